/* routes: the endpoint table. See routes.h. */
#include "src/routes.h"

#include <stdio.h>
#include <string.h>

#include "src/dashboard.h"
#include "src/debug_pprof.h"
#include "src/debug_profiles.h"
#include "src/handlers.h"
#include "src/metrics.h"

#define GET_HEAD (ROUTE_GET | ROUTE_HEAD)
#define HOME ROUTE_ON_HOME
#define PPROF ROUTE_ON_PPROF_INDEX

const struct route routes_table[] = {
    {"/", 0, GET_HEAD, handle_index, NULL, ROUTE_UNLISTED, "this page", 0, NULL},
    {"/noleaker", 0, GET_HEAD, handle_noleaker, "GET /noleaker", HOME,
     "makes -repetitions strings that become garbage when the request ends: the collector reclaims them", 0, NULL},
    {"/leaker", 0, GET_HEAD, handle_leaker, "GET /leaker", HOME,
     "makes -repetitions strings and keeps them in a global list: the heap grows", 0, NULL},
    {"/debug/vars", 0, GET_HEAD, handle_vars, NULL, HOME,
     "expvar-style JSON: command line, bdwgc's heap and pause figures, the leaker's totals", 0, NULL},
    {"/debug/pprof", 0, GET_HEAD, debug_pprof_redirect, NULL, ROUTE_UNLISTED, NULL, 1, NULL},
    {"/debug/pprof/", 1, GET_HEAD, debug_pprof_index, NULL, HOME,
     "profiles for go tool pprof (heap, allocs, profile, goroutine, threadcreate, mutex, block) "
     "and go tool trace (trace?seconds=N)", 1, NULL},
    /* The /debug/pprof/ index lists these rows in this order: Go's, by name. */
    {"/debug/pprof/allocs", 0, GET_HEAD, debug_pprof_allocs, NULL, PPROF,
     "A sampling of all past memory allocations (alloc_space by default)", 1, debug_pprof_heap_count},
    {"/debug/pprof/block", 0, GET_HEAD, debug_profiles_block, NULL, PPROF,
     "Stack traces that led to blocking on synchronization primitives (memdemo's locks; off "
     "until -blockprofilerate or /debug/blockprofilerate sets a rate)", 1, debug_pprof_block_count},
    {"/debug/pprof/cmdline", 0, GET_HEAD, debug_pprof_cmdline, NULL, PPROF,
     "The command line invocation of the current program", 1, NULL},
    {"/debug/pprof/goroutine", 0, GET_HEAD, debug_profiles_goroutine, NULL, PPROF,
     "Stack traces of all current goroutines: in memdemo, every thread of the process (workers, "
     "acceptor, deferral thread, the collector's markers)", 1, debug_pprof_goroutine_count},
    {"/debug/pprof/heap", 0, GET_HEAD, debug_pprof_heap, NULL, PPROF,
     "A sampling of memory allocations of live objects, as of the last collection. "
     "Add ?gc=1 to collect first, ?debug=1 for text, ?seconds=N for a delta", 1, debug_pprof_heap_count},
    {"/debug/pprof/mutex", 0, GET_HEAD, debug_profiles_mutex, NULL, PPROF,
     "Stack traces of holders of contended mutexes (memdemo's locks; off until "
     "-mutexprofilefraction or /debug/mutexprofilefraction sets a fraction)", 1, debug_pprof_mutex_count},
    {"/debug/pprof/profile", 0, GET_HEAD, debug_profiles_cpu, NULL, PPROF,
     "CPU profile of every thread; ?seconds=N sets the window (default 30). "
     "Open it with go tool pprof", 1, NULL},
    {"/debug/pprof/symbol", 0, GET_HEAD | ROUTE_POST, debug_pprof_symbol, NULL, PPROF,
     "Looks up program counters posted to it (used by go tool pprof)", 1, NULL},
    {"/debug/pprof/threadcreate", 0, GET_HEAD, debug_profiles_threadcreate, NULL, PPROF,
     "Stack traces that led to the creation of new OS threads", 1, debug_pprof_threadcreate_count},
    {"/debug/pprof/trace", 0, GET_HEAD, debug_pprof_trace, NULL, PPROF,
     "A trace of execution of the current program (GC cycles, pauses, requests); "
     "?seconds=N sets the window (default 1). Open it with go tool trace", 1, NULL},
    {"/debug/memprofilerate", 0, GET_HEAD, debug_memprofilerate, NULL, HOME,
     "the heap profiler's sampling rate; ?rate=N changes it (1: every allocation, 0: off)", 0, NULL},
    {"/debug/mutexprofilefraction", 0, GET_HEAD, debug_profiles_mutexprofilefraction, NULL, HOME,
     "the mutex profile's fraction; ?rate=N records one contention in N (1: all, 0: off)", 0, NULL},
    {"/debug/blockprofilerate", 0, GET_HEAD, debug_profiles_blockprofilerate, NULL, HOME,
     "the block profile's rate; ?rate=N records one wait per N ns waited (1: all, 0: off)", 0, NULL},
    {"/metrics", 0, GET_HEAD, metrics_handle, NULL, HOME,
     "Prometheus metrics (text format 0.0.4, or OpenMetrics 1.0 when Accept asks for it)", 0, NULL},
    {"/debug/gc", 0, GET_HEAD, dashboard_file, NULL, HOME,
     "live charts of the heap, allocation, collections and pauses, requests and RSS", 0, NULL},
    {"/debug/gc/feed", 0, GET_HEAD, dashboard_feed, NULL, ROUTE_UNLISTED, NULL, 0, NULL},
    {"/debug/gc/dashboard.js", 0, GET_HEAD, dashboard_file, NULL, ROUTE_UNLISTED, NULL, 0, NULL},
    {"/debug/gc/uPlot.iife.min.js", 0, GET_HEAD, dashboard_file, NULL, ROUTE_UNLISTED, NULL, 0, NULL},
    {"/debug/gc/uPlot.min.css", 0, GET_HEAD, dashboard_file, NULL, ROUTE_UNLISTED, NULL, 0, NULL},
    {"/debug/gc/uPlot.LICENSE", 0, GET_HEAD, dashboard_file, NULL, ROUTE_UNLISTED, NULL, 0, NULL},
};
const size_t routes_count = sizeof routes_table / sizeof routes_table[0];

const struct route *routes_find(const char *path)
{
    const struct route *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *r = &routes_table[i];
        size_t n = strlen(r->path);
        if (!r->prefix) {
            if (strcmp(path, r->path) == 0) return r;
        } else if (strncmp(path, r->path, n) == 0 && n > best_len) {
            best = r;
            best_len = n;
        }
    }
    return best;
}

unsigned routes_method_bit(const char *method)
{
    return strcmp(method, "GET") == 0    ? ROUTE_GET
           : strcmp(method, "HEAD") == 0 ? ROUTE_HEAD
           : strcmp(method, "POST") == 0 ? ROUTE_POST : 0;
}

int routes_allows(const struct route *r, const char *method)
{
    unsigned allowed = r->methods | ((r->methods & ROUTE_GET) ? ROUTE_HEAD : 0);
    return (routes_method_bit(method) & allowed) != 0;
}

void routes_allow_header(const struct route *r, char *out, size_t n)
{
    snprintf(out, n, "%s%s%s", (r->methods & ROUTE_GET) ? "GET, HEAD" : "",
             ((r->methods & ROUTE_GET) && (r->methods & ROUTE_POST)) ? ", " : "",
             (r->methods & ROUTE_POST) ? "POST" : "");
}
