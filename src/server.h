/* server: memdemo's HTTP server over libmicrohttpd (an acceptor and one epoll worker
 * daemon per thread), implementing src/http.h for the handlers.
 *
 * Owns: the listening socket, the acceptor, libmicrohttpd's worker daemons (each
 * registered with the collector on its first request), per-request state, deferred
 * requests (suspended connections resumed by a timer thread or on disconnect), strict
 * request framing (see server.c), and graceful shutdown. Leaves connection limits and
 * deadlines to src/conns.c, what each path does to src/routes.c and the handlers.
 */
#ifndef MEMDEMO_SERVER_H
#define MEMDEMO_SERVER_H

#include <stddef.h>

#include "src/conns.h"

/* Where memdemo listens unless -addr says otherwise: loopback only, as a demo should. */
#define SERVER_DEFAULT_ADDR "localhost:8080"
/* Most worker threads server_start() runs (-threads' maximum). */
#define SERVER_MAX_THREADS 200

/* Binds `addr` (HOST:PORT; empty host = all interfaces; port 0 = any) and starts
 * `threads` workers, holding connections to *limits (conns_start may lower
 * limits->max to fit the descriptor limit). On success returns 0 and writes
 * "http://IP:PORT" into url. On failure prints one line saying why to stderr and
 * returns -1. Main thread. */
int server_start(const char *addr, int threads, struct conns_limits *limits, char *url, size_t url_n);

/* Stops accepting, answers deferred requests at once, waits until in-flight requests
 * finish or `grace_seconds` pass, then stops the workers. Main thread. */
void server_stop(double grace_seconds);

#endif
