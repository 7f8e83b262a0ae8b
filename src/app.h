/* app: memdemo's wiring of its layers around a request and into its reports: what the
 * HTTP core and the /debug surface do not know of memdemo.
 *
 * Owns the request hooks memdemo gives the server: each worker registers with the
 * collector (gcthreads_enter) before its first handler, a handler's sampled
 * allocations carry a "route" label (go tool pprof -tagfocus=route=/leaker), the
 * traced routes open and close a request in the execution trace, and every answer is
 * counted per route (src/reqstats); and the sections memdemo adds to /debug/vars (its
 * pacer, its leaker) and /metrics (its leaker). Leaves the server to src/server.c, the
 * rows to src/routes.c, the figures to their owners.
 */
#ifndef MEMDEMO_APP_H
#define MEMDEMO_APP_H

#include <stddef.h>

#include "src/conns.h"

/* Registers memdemo's report sections, then starts the server on `addr` with
 * `threads` workers, routes_router and the hooks above (server_start's contract:
 * returns 0 with the URL in url, or -1 after a line on stderr). Main thread, after
 * gcheap, the profiler and handlers_init are set up; once. */
int app_start(const char *addr, int threads, struct conns_limits *limits, char *url, size_t url_n);

#endif
