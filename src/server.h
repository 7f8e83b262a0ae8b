/* server: the HTTP server over libmicrohttpd (an acceptor and one epoll worker
 * daemon per thread), implementing src/http.h for the handlers.
 *
 * Owns: the listening socket, the acceptor, libmicrohttpd's worker daemons,
 * per-request state, dispatch through the router it is started with (404 and 405
 * answered from the router's match), the request hooks, deferred requests (suspended
 * connections resumed by a timer thread or on disconnect), strict request framing
 * (see server.c), and graceful shutdown. Leaves connection limits and deadlines to
 * src/conns.c; knows no endpoint, no profiler and no collector: whatever a program
 * needs around a request (thread registration, labels, counters) comes as a hook.
 * The HTTP core is this file, src/conns, src/http.h and src/router; it includes
 * nothing else from src/.
 */
#ifndef MEMDEMO_SERVER_H
#define MEMDEMO_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "src/conns.h"
#include "src/http.h"

/* Where memdemo listens unless -addr says otherwise: loopback only, as a demo should. */
#define SERVER_DEFAULT_ADDR "localhost:8080"
/* Most worker threads server_start() runs (-threads' maximum). */
#define SERVER_MAX_THREADS 200

/* What the server serves: every request is routed by route(router, ...); the hooks
 * (each optional) run around it. Both are read on worker threads until server_stop,
 * so they must outlive the server. */
struct server_config {
    http_router_fn route;
    const void *router;
    struct http_hooks hooks;
    const char *who;     /* names the host in start-up messages (NULL: "memdemo") */
};

/* Binds `addr` (HOST:PORT; empty host = all interfaces; port 0 = any) and starts
 * `threads` workers serving *cfg (copied), holding connections to *limits
 * (conns_start may lower limits->max to fit the descriptor limit). On success returns
 * 0 and writes "http://IP:PORT" into url. On failure prints one line saying why to
 * stderr and returns -1. Main thread. */
int server_start(const char *addr, int threads, struct conns_limits *limits, const struct server_config *cfg,
                 char *url, size_t url_n);

struct server_stats {
    uint64_t headers_dropped;   /* http_add_header calls whose header could not be kept */
    uint64_t log_lines_dropped; /* lines clients caused that the log's rate limit dropped */
    uint64_t answers_dropped;   /* answers the server could not queue (no memory for the
                                   response, or libmicrohttpd refused it) */
};

/* A snapshot of the counters. Any thread; no lock. */
void server_stats(struct server_stats *out);

/* Stops accepting, answers deferred requests at once, waits until in-flight requests
 * finish or `grace_seconds` pass, then stops the workers. Main thread. */
void server_stop(double grace_seconds);

#endif
