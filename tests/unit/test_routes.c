/* Unit tests for the route table (src/routes): lookup, methods and the Allow header,
 * and the table's own consistency (what both index pages and the tracer rely on). */
#include <stdio.h>
#include <string.h>

#include "src/debug_pprof.h"
#include "src/handlers.h"
#include "src/routes.h"
#include "tests/unit/unit.h"

TEST(exact_path_wins_over_the_pprof_prefix)
{
    const struct route *r = routes_find("/debug/pprof/heap");
    CHECK(r != NULL);
    CHECK_EQ_STR(r->path, "/debug/pprof/heap");
    CHECK(r->handler == debug_pprof_heap);
}

TEST(unknown_profile_falls_to_the_pprof_index_route)
{
    const struct route *r = routes_find("/debug/pprof/nosuchprofile");
    CHECK(r != NULL);
    CHECK_EQ_STR(r->path, "/debug/pprof/");
    CHECK(r->handler == debug_pprof_index);
    CHECK_EQ_INT(r->pprof_errors, 1);
}

TEST(unknown_paths_and_near_misses_find_nothing)
{
    CHECK(routes_find("/nope") == NULL);
    CHECK(routes_find("/leakerx") == NULL);
    CHECK(routes_find("/debug/pprofx") == NULL);
    CHECK(routes_find("") == NULL);
    const struct route *r = routes_find("/debug/pprof");
    CHECK(r != NULL);
    CHECK(r->handler == debug_pprof_redirect);
}

TEST(get_implies_head_and_post_is_only_where_listed)
{
    const struct route *leaker = routes_find("/leaker"), *symbol = routes_find("/debug/pprof/symbol");
    CHECK(leaker != NULL && symbol != NULL);
    CHECK_EQ_INT(routes_allows(leaker, "GET"), 1);
    CHECK_EQ_INT(routes_allows(leaker, "HEAD"), 1);
    CHECK_EQ_INT(routes_allows(leaker, "POST"), 0);
    CHECK_EQ_INT(routes_allows(leaker, "DELETE"), 0);
    CHECK_EQ_INT(routes_allows(symbol, "POST"), 1);
    CHECK_EQ_INT(routes_method_bit("PUT"), 0);
}

TEST(allow_header_lists_the_route_methods)
{
    char allow[64];
    routes_allow_header(routes_find("/leaker"), allow, sizeof allow);
    CHECK_EQ_STR(allow, "GET, HEAD");
    routes_allow_header(routes_find("/debug/pprof/symbol"), allow, sizeof allow);
    CHECK_EQ_STR(allow, "GET, HEAD, POST");
}

TEST(every_path_is_in_the_table_once)
{
    for (size_t i = 0; i < routes_count; i++)
        for (size_t j = i + 1; j < routes_count; j++)
            if (strcmp(routes_table[i].path, routes_table[j].path) == 0)
                UNIT__FAIL("path %s is listed twice", routes_table[i].path);
}

TEST(every_route_is_found_by_its_own_path)
{
    for (size_t i = 0; i < routes_count; i++)
        if (routes_find(routes_table[i].path) != &routes_table[i])
            UNIT__FAIL("routes_find(\"%s\") does not return its own route", routes_table[i].path);
}

TEST(listed_routes_have_a_line_and_pprof_rows_live_under_debug_pprof)
{
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *r = &routes_table[i];
        if (r->page != ROUTE_UNLISTED && (!r->about || !*r->about))
            UNIT__FAIL("%s is listed without a line", r->path);
        if (r->page == ROUTE_ON_PPROF_INDEX && strncmp(r->path, "/debug/pprof/", 13) != 0)
            UNIT__FAIL("%s is on the pprof index but not under /debug/pprof/", r->path);
        if (r->count && r->page != ROUTE_ON_PPROF_INDEX)
            UNIT__FAIL("%s has a count but no pprof index row to show it", r->path);
    }
}

TEST(traced_routes_are_named_after_method_and_path)
{
    int traced = 0;
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *r = &routes_table[i];
        if (!r->trace_name) continue;
        traced++;
        char want[128];
        snprintf(want, sizeof want, "GET %s", r->path);
        CHECK_EQ_STR(r->trace_name, want);
    }
    CHECK_EQ_INT(traced >= 2, 1);   /* at least the two string handlers */
}

int main(void)
{
    RUN(exact_path_wins_over_the_pprof_prefix);
    RUN(unknown_profile_falls_to_the_pprof_index_route);
    RUN(unknown_paths_and_near_misses_find_nothing);
    RUN(get_implies_head_and_post_is_only_where_listed);
    RUN(allow_header_lists_the_route_methods);
    RUN(every_path_is_in_the_table_once);
    RUN(every_route_is_found_by_its_own_path);
    RUN(listed_routes_have_a_line_and_pprof_rows_live_under_debug_pprof);
    RUN(traced_routes_are_named_after_method_and_path);
    UNIT_EXIT();
}
