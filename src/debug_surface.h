/* debug_surface: the /debug pages as one unit a program can serve: /debug/vars,
 * /debug/gc (the dashboard), /debug/pprof/ and its profiles, the profilers' switches,
 * /metrics.
 *
 * Owns the list of the surface's routing tables and its one public start-up step.
 * Serving it needs the HTTP core (src/server.h), the profiler (profile/) and gcheap
 * with any policy: not memdemo's handlers, routes or GC pacer. A program serves the
 * surface alone with
 *     server_start(addr, threads, &limits,
 *                  &(struct server_config){router_match, &debug_surface_router,
 *                                          {.thread_enter = gcthreads_enter}}, url, n);
 * (tests/tools/debug_alone.c does), or chains DEBUG_SURFACE_TABLES after its own
 * tables in a struct router of its own (src/routes.c does).
 */
#ifndef MEMDEMO_DEBUG_SURFACE_H
#define MEMDEMO_DEBUG_SURFACE_H

#include "src/dashboard.h"
#include "src/debug_pprof.h"
#include "src/debug_switches.h"
#include "src/router.h"

/* /debug/vars and /metrics. */
extern const struct router_table debug_surface_pages;

/* The surface's tables, for a struct router's table list. */
#define DEBUG_SURFACE_TABLES \
    &debug_surface_pages, &dashboard_pages, &debug_pprof_pages, &debug_pprof_profiles, &debug_switches

/* A router over the surface alone (for router_match). */
extern const struct router debug_surface_router;

/* Remembers the command line /debug/vars and /debug/pprof/cmdline show. Main thread,
 * before serving; argv must outlive the server. */
void debug_surface_init(int argc, char **argv);

#endif
