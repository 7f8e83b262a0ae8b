/* routes: memdemo's router: its own rows (the home page, the two string handlers, the
 * /debug/gc dashboard and its files) chained before the /debug surface's tables
 * (src/debug_surface.h), and the home page that lists every row with a line.
 *
 * Owns: memdemo's table (adding an endpoint is one row here, or in the table of the
 * layer it belongs to), which requests are traced and the name they carry. The 404
 * and 405 answers with their Allow header come from the same rows through
 * src/router.c, so the pages, the router and the tracer cannot disagree.
 */
#ifndef MEMDEMO_ROUTES_H
#define MEMDEMO_ROUTES_H

#include "src/router.h"

/* memdemo's own rows. */
struct route {
    struct router_route http;  /* first: the table is a router table */
    const char *trace_name;    /* "GET /leaker": the request's name in traces; NULL = not traced */
};

extern const struct router_table routes_own;

/* Every row memdemo serves: routes_own, then the /debug surface's. */
extern const struct router routes_router;

/* The trace name of row `route` (a struct router_route of routes_router), or NULL
 * when its requests are not traced. Pure. */
const char *routes_trace_name(const void *route);

#endif
