/* routes: the one table of memdemo's endpoints: path, methods, handler, the name a
 * traced request carries, and the line the index page shows. The index page, the 404
 * and 405 answers and the tracer all read it, so they cannot disagree.
 */
#ifndef MEMDEMO_ROUTES_H
#define MEMDEMO_ROUTES_H

#include <stddef.h>

#include "src/http.h"

enum route_method { ROUTE_GET = 1, ROUTE_HEAD = 2, ROUTE_POST = 4 };

struct route {
    const char *path;          /* exact path, or a prefix when `prefix` is set */
    int prefix;
    unsigned methods;          /* ROUTE_* bits; HEAD is implied by GET */
    http_handler_fn handler;
    const char *trace_name;    /* "GET /leaker": the request's name in traces; NULL = not traced */
    const char *about;         /* one line for the index page; NULL = not listed */
};

extern const struct route routes_table[];
extern const size_t routes_count;

/* The route for `path` (exact match first, then the longest prefix), or NULL. */
const struct route *routes_find(const char *path);

/* "GET, HEAD" etc. for an Allow header, into out (size n). */
void routes_allow_header(const struct route *r, char *out, size_t n);

/* 1 if `method` is allowed on r. */
int routes_allows(const struct route *r, const char *method);

#endif
