/* routes: memdemo's table and router. See routes.h. */
#include "src/routes.h"

#include <string.h>

#include "src/debug_surface.h"
#include "src/handlers.h"

/* The home page: a line for each row of the router that has one. */
static void serve_home(struct http_request *req)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "<!DOCTYPE html>\n<html><head><title>memdemo</title></head><body>\n"
                 "<h1>memdemo</h1>\n<p>A C server on the Boehm garbage collector. Attack /leaker and "
                 "/noleaker, then look with <code>go tool pprof</code> and <code>go tool trace</code>.</p>\n<ul>\n");
    for (size_t i = 0, n = router_count(&routes_router); i < n; i++) {
        const struct router_route *r = router_at(&routes_router, i);
        if (r->about) buf_printf(&b, "<li><a href=\"%s\">%s</a>: %s</li>\n", r->path, r->path, r->about);
    }
    buf_puts(&b, "</ul>\n</body></html>\n");
    http_respond(req, 200, "text/html; charset=utf-8", &b);
}

#define GET ROUTER_GET_HEAD

static const struct route own[] = {
    {{"/", 0, GET, serve_home, NULL, NULL}, NULL},
    {{"/noleaker", 0, GET, handle_noleaker, NULL,
      "makes -repetitions strings that become garbage when the request ends: the collector reclaims them"},
     "GET /noleaker"},
    {{"/leaker", 0, GET, handle_leaker, NULL,
      "makes -repetitions strings and keeps them in a global list: the heap grows"},
     "GET /leaker"},
};
const struct router_table routes_own = ROUTER_TABLE(own);

static const struct router_table *const tables[] = {&routes_own, DEBUG_SURFACE_TABLES};
const struct router routes_router = {tables, sizeof tables / sizeof tables[0]};

const char *routes_trace_name(const void *route)
{
    static const struct router_table *const mine[] = {&routes_own};
    long i = router_index(&(const struct router){mine, 1}, route);
    return i < 0 ? NULL : own[i].trace_name;
}
