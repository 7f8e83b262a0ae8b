/* Unit tests for the router (src/router) and the tables it is given: memdemo's
 * (src/routes) and the /debug surface's (src/debug_surface): lookup across chained
 * tables, methods and the Allow header, what router_match tells the server, rows of
 * wider structs found back by index, and the tables' own consistency (what the home
 * page, the tracer and the request counters rely on). */
#include <stdio.h>
#include <string.h>

#include "src/debug_http.h"
#include "src/debug_surface.h"
#include "src/handlers.h"
#include "src/router.h"
#include "src/routes.h"
#include "tests/unit/unit.h"

static const struct router_route *find(const char *path) { return router_find(&routes_router, path); }

TEST(exact_path_wins_over_the_pprof_prefix)
{
    const struct router_route *r = find("/debug/pprof/heap");
    CHECK(r != NULL);
    CHECK_EQ_STR(r->path, "/debug/pprof/heap");
    CHECK_EQ_INT(r->prefix, 0);
}

TEST(unknown_profile_falls_to_the_pprof_index_route)
{
    const struct router_route *r = find("/debug/pprof/nosuchprofile");
    CHECK(r != NULL);
    CHECK_EQ_STR(r->path, "/debug/pprof/");
    CHECK_EQ_INT(r->prefix, 1);
    CHECK(r->refuse == debug_http_refuse);   /* its refusals are go tool pprof's style */
}

TEST(unknown_paths_and_near_misses_find_nothing)
{
    CHECK(find("/nope") == NULL);
    CHECK(find("/leakerx") == NULL);
    CHECK(find("/debug/pprofx") == NULL);
    CHECK(find("") == NULL);
    const struct router_route *r = find("/debug/pprof");
    CHECK(r != NULL && r->prefix == 0);
    CHECK_EQ_STR(r->path, "/debug/pprof");
}

TEST(get_implies_head_and_post_is_only_where_listed)
{
    const struct router_route *leaker = find("/leaker"), *symbol = find("/debug/pprof/symbol");
    const struct router_route *rate = find("/debug/memprofilerate");
    CHECK(leaker != NULL && symbol != NULL && rate != NULL);
    CHECK_EQ_INT(router_allows(leaker, "GET"), 1);
    CHECK_EQ_INT(router_allows(leaker, "HEAD"), 1);
    CHECK_EQ_INT(router_allows(leaker, "POST"), 0);
    CHECK_EQ_INT(router_allows(leaker, "DELETE"), 0);
    CHECK_EQ_INT(router_allows(symbol, "POST"), 1);
    CHECK_EQ_INT(router_allows(rate, "POST"), 1);   /* a switch changes state on POST only */
    CHECK_EQ_INT(router_method_bit("PUT"), 0);
}

TEST(allow_header_lists_the_route_methods)
{
    char allow[64];
    router_allow_header(find("/leaker"), allow, sizeof allow);
    CHECK_EQ_STR(allow, "GET, HEAD");
    router_allow_header(find("/debug/pprof/symbol"), allow, sizeof allow);
    CHECK_EQ_STR(allow, "GET, HEAD, POST");
}

TEST(match_tells_the_server_404_405_or_the_handler)
{
    struct http_match m = {0};
    router_match(&routes_router, "GET", "/nope", &m);
    CHECK(m.route == NULL && m.handler == NULL);
    memset(&m, 0, sizeof m);
    router_match(&routes_router, "POST", "/leaker", &m);
    CHECK(m.route == find("/leaker") && m.handler == NULL && m.refuse == NULL);
    CHECK_EQ_STR(m.allow, "GET, HEAD");
    memset(&m, 0, sizeof m);
    router_match(&routes_router, "DELETE", "/debug/pprof/heap", &m);
    CHECK(m.handler == NULL && m.refuse == debug_http_refuse);
    memset(&m, 0, sizeof m);
    router_match(&routes_router, "HEAD", "/noleaker", &m);
    CHECK(m.handler == handle_noleaker && m.allow[0] == '\0');
}

/* Rows of a wider struct: the router steps by the stride and an index maps back. */
struct wide { struct router_route http; char pad[40]; int tag; };
static void no_handler(struct http_request *req) { (void)req; }
static const struct wide wide_rows[] = {
    {{"/a", 0, ROUTER_GET, no_handler, NULL, NULL}, "", 1},
    {{"/b/", 1, ROUTER_POST, no_handler, NULL, NULL}, "", 2},
    {{"/b/c", 0, ROUTER_GET, no_handler, NULL, NULL}, "", 3},
};
static const struct router_table wide_table = ROUTER_TABLE(wide_rows);

TEST(rows_of_a_wider_struct_are_found_and_indexed)
{
    const struct router_table *const tables[] = {&wide_table, &debug_surface_pages};
    const struct router rt = {tables, 2};
    CHECK_EQ_INT(router_count(&rt), 3 + debug_surface_pages.n);
    const struct router_route *r = router_find(&rt, "/b/x");
    CHECK(r != NULL && ((const struct wide *)r)->tag == 2);
    r = router_find(&rt, "/b/c");
    CHECK(r != NULL && ((const struct wide *)r)->tag == 3);
    CHECK_EQ_INT(router_index(&rt, r), 2);
    CHECK(router_at(&rt, 2) == r);
    CHECK_EQ_INT(router_index(&rt, router_find(&rt, "/metrics")), 4);
    CHECK_EQ_INT(router_index(&rt, (const struct router_route *)(const void *)&wide_rows[0].tag), -1);
    CHECK(router_at(&rt, router_count(&rt)) == NULL);
}

TEST(every_path_is_in_the_router_once)
{
    size_t n = router_count(&routes_router);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(router_at(&routes_router, i)->path, router_at(&routes_router, j)->path) == 0)
                UNIT__FAIL("path %s is listed twice", router_at(&routes_router, i)->path);
}

TEST(every_route_is_found_by_its_own_path_and_index)
{
    for (size_t i = 0, n = router_count(&routes_router); i < n; i++) {
        const struct router_route *r = router_at(&routes_router, i);
        if (find(r->path) != r) UNIT__FAIL("router_find(\"%s\") does not return its own row", r->path);
        if (router_index(&routes_router, r) != (long)i) UNIT__FAIL("%s is not row %zu", r->path, i);
        if (!r->handler) UNIT__FAIL("%s has no handler", r->path);
    }
}

TEST(the_debug_surface_alone_serves_no_memdemo_row)
{
    CHECK(router_find(&debug_surface_router, "/leaker") == NULL);
    CHECK(router_find(&debug_surface_router, "/") == NULL);
    CHECK(router_find(&debug_surface_router, "/debug/gc") != NULL);   /* the dashboard is the surface's */
    CHECK(router_find(&debug_surface_router, "/debug/pprof/heap") != NULL);
    CHECK(router_find(&debug_surface_router, "/debug/vars") != NULL);
    CHECK_EQ_INT(router_count(&routes_router), routes_own.n + router_count(&debug_surface_router));
}

TEST(traced_routes_are_named_after_method_and_path)
{
    int traced = 0;
    for (size_t i = 0, n = router_count(&routes_router); i < n; i++) {
        const struct router_route *r = router_at(&routes_router, i);
        const char *name = routes_trace_name(r);
        if (!name) continue;
        traced++;
        char want[128];
        snprintf(want, sizeof want, "GET %s", r->path);
        CHECK_EQ_STR(name, want);
    }
    CHECK_EQ_INT(traced, 2);   /* the two string handlers */
    CHECK(routes_trace_name(NULL) == NULL);
}

int main(void)
{
    RUN(exact_path_wins_over_the_pprof_prefix);
    RUN(unknown_profile_falls_to_the_pprof_index_route);
    RUN(unknown_paths_and_near_misses_find_nothing);
    RUN(get_implies_head_and_post_is_only_where_listed);
    RUN(allow_header_lists_the_route_methods);
    RUN(match_tells_the_server_404_405_or_the_handler);
    RUN(rows_of_a_wider_struct_are_found_and_indexed);
    RUN(every_path_is_in_the_router_once);
    RUN(every_route_is_found_by_its_own_path_and_index);
    RUN(the_debug_surface_alone_serves_no_memdemo_row);
    RUN(traced_routes_are_named_after_method_and_path);
    UNIT_EXIT();
}
