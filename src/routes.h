/* routes: the one table of memdemo's endpoints, every path included (the
 * /debug/pprof/<name> profiles too): path, methods, handler, the name a traced request
 * carries, the index page that lists it and its line there. The two index pages, the
 * 404 and 405 answers (with their Allow header) and the tracer all read it, so they
 * cannot disagree. Adding an endpoint is one line in routes.c.
 */
#ifndef MEMDEMO_ROUTES_H
#define MEMDEMO_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "src/http.h"

enum route_method { ROUTE_GET = 1, ROUTE_HEAD = 2, ROUTE_POST = 4 };

/* Which index page lists a route. */
enum route_page {
    ROUTE_UNLISTED,
    ROUTE_ON_HOME,          /* memdemo's / page */
    ROUTE_ON_PPROF_INDEX    /* /debug/pprof/ (path must start with /debug/pprof/) */
};

struct route {
    const char *path;          /* exact path, or a prefix when `prefix` is set */
    int prefix;
    unsigned methods;          /* ROUTE_* bits; HEAD is implied by GET */
    http_handler_fn handler;
    const char *trace_name;    /* "GET /leaker": the request's name in traces; NULL = not traced */
    enum route_page page;
    const char *about;         /* the line its index page shows */
    int pprof_errors;          /* refusals (405) answered as net/http/pprof does (X-Go-Pprof) */
    uint64_t (*count)(void);   /* a live count for the /debug/pprof/ index, or NULL */
};

extern const struct route routes_table[];
extern const size_t routes_count;

/* The route for `path` (exact match first, then the longest prefix), or NULL. Pure. */
const struct route *routes_find(const char *path);

/* The method's ROUTE_* bit, or 0 for a method memdemo serves nowhere. */
unsigned routes_method_bit(const char *method);

/* "GET, HEAD" etc. for an Allow header, into out (size n). */
void routes_allow_header(const struct route *r, char *out, size_t n);

/* 1 if `method` is allowed on r. */
int routes_allows(const struct route *r, const char *method);

#endif
