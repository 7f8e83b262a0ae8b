/* routes: the endpoint table. See routes.h. Adding an endpoint is one line here. */
#include "src/routes.h"

#include <stdio.h>
#include <string.h>

#include "profile/endpoints.h"
#include "src/debug_profiles.h"
#include "src/handlers.h"

#define GET_HEAD (ROUTE_GET | ROUTE_HEAD)

const struct route routes_table[] = {
    {"/", 0, GET_HEAD, handle_index, NULL, "this page"},
    {"/noleaker", 0, GET_HEAD, handle_noleaker, "GET /noleaker",
     "makes -repetitions strings that become garbage when the request ends: the collector reclaims them"},
    {"/leaker", 0, GET_HEAD, handle_leaker, "GET /leaker",
     "makes -repetitions strings and keeps them in a global list: the heap grows"},
    {"/debug/vars", 0, GET_HEAD, handle_vars, NULL,
     "expvar-style JSON: command line, bdwgc's heap and pause figures, the leaker's totals"},
    {"/debug/pprof", 0, GET_HEAD, endpoints_pprof_redirect, NULL, NULL},
    {"/debug/pprof/", 1, GET_HEAD | ROUTE_POST, endpoints_pprof, NULL,
     "profiles for go tool pprof (heap, allocs, profile, goroutine, threadcreate, mutex, block) "
     "and go tool trace (trace?seconds=N)"},
    {"/debug/pprof/profile", 0, GET_HEAD, debug_profiles_cpu, NULL, NULL},
    {"/debug/pprof/goroutine", 0, GET_HEAD, debug_profiles_goroutine, NULL, NULL},
    {"/debug/pprof/threadcreate", 0, GET_HEAD, debug_profiles_threadcreate, NULL, NULL},
    {"/debug/pprof/mutex", 0, GET_HEAD, debug_profiles_mutex, NULL, NULL},
    {"/debug/pprof/block", 0, GET_HEAD, debug_profiles_block, NULL, NULL},
    {"/debug/memprofilerate", 0, GET_HEAD, endpoints_memprofilerate, NULL,
     "the heap profiler's sampling rate; ?rate=N changes it (1: every allocation, 0: off)"},
    {"/debug/mutexprofilefraction", 0, GET_HEAD, debug_profiles_mutexprofilefraction, NULL,
     "the mutex profile's fraction; ?rate=N records one contention in N (1: all, 0: off)"},
    {"/debug/blockprofilerate", 0, GET_HEAD, debug_profiles_blockprofilerate, NULL,
     "the block profile's rate; ?rate=N records one wait per N ns waited (1: all, 0: off)"},
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

int routes_allows(const struct route *r, const char *method)
{
    unsigned m = strcmp(method, "GET") == 0    ? ROUTE_GET
                 : strcmp(method, "HEAD") == 0 ? ROUTE_HEAD
                 : strcmp(method, "POST") == 0 ? ROUTE_POST : 0;
    unsigned allowed = r->methods | ((r->methods & ROUTE_GET) ? ROUTE_HEAD : 0);
    return (m & allowed) != 0;
}

void routes_allow_header(const struct route *r, char *out, size_t n)
{
    snprintf(out, n, "%s%s%s", (r->methods & ROUTE_GET) ? "GET, HEAD" : "",
             ((r->methods & ROUTE_GET) && (r->methods & ROUTE_POST)) ? ", " : "",
             (r->methods & ROUTE_POST) ? "POST" : "");
}
