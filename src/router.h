/* router: a table router for the server (an http_router_fn): exact paths and path
 * prefixes, the methods each row allows, and the Allow header of a 405.
 *
 * Owns the matching rule (an exact row whose path equals the request's wins; else the
 * row with the longest prefix the path starts with; else none), the method bits, and
 * how a router spans several tables. Leaves the rows to their owners: the /debug
 * surface (src/debug_surface.h) and memdemo's own (src/routes.c) each define tables,
 * and a program chains the ones it serves in a struct router.
 *
 * A table's rows may carry more than routing: an owner whose rows need more (an index
 * line, a profile's functions) makes struct router_route the FIRST member of its own
 * row struct and gives the table its stride, so a router_route pointer (what hooks and
 * http_route() see) converts back to the owner's row.
 *
 * Everything here is pure and allocation-free: any thread.
 */
#ifndef MEMDEMO_ROUTER_H
#define MEMDEMO_ROUTER_H

#include <stddef.h>

#include "src/http.h"

enum router_method { ROUTER_GET = 1, ROUTER_HEAD = 2, ROUTER_POST = 4 };
#define ROUTER_GET_HEAD (ROUTER_GET | ROUTER_HEAD)

struct router_route {
    const char *path;          /* exact path, or a prefix when `prefix` is set */
    int prefix;
    unsigned methods;          /* ROUTER_* bits; HEAD is implied by GET */
    http_handler_fn handler;
    http_error_fn refuse;      /* answers this row's 405; NULL: one line of text/plain */
    const char *about;         /* its line on an index of routes (memdemo's / page); NULL: unlisted */
};

struct router_table {
    const void *rows;          /* the first row: a struct router_route, or a struct starting with one */
    size_t n;                  /* rows */
    size_t stride;             /* bytes from one row to the next */
};
/* A table over a static array of rows (of any row type). */
#define ROUTER_TABLE(array) {(array), sizeof(array) / sizeof((array)[0]), sizeof((array)[0])}

/* Tables searched as one: row i of the router counts through the tables in order. */
struct router {
    const struct router_table *const *tables;
    size_t ntables;
};

/* The router's number of rows, row i of them (NULL past the end), and the number of
 * row r (-1 if r is not one of the router's rows). */
size_t router_count(const struct router *rt);
const struct router_route *router_at(const struct router *rt, size_t i);
long router_index(const struct router *rt, const struct router_route *r);

/* The row for `path` by the matching rule above, or NULL. */
const struct router_route *router_find(const struct router *rt, const char *path);

/* The method's ROUTER_* bit, or 0 for a method no row can allow. */
unsigned router_method_bit(const char *method);

/* 1 if `method` is allowed on r. */
int router_allows(const struct router_route *r, const char *method);

/* "GET, HEAD" etc. for an Allow header, into out (size n; truncated to fit, always
 * terminated when n > 0). */
void router_allow_header(const struct router_route *r, char *out, size_t n);

/* The http_router_fn of a struct router (router: const struct router *). */
void router_match(const void *router, const char *method, const char *path, struct http_match *m);

#endif
