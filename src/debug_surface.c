/* debug_surface: the /debug tables as one router. See debug_surface.h. */
#include "src/debug_surface.h"

#include "src/debug_http.h"
#include "src/debug_vars.h"
#include "src/metrics.h"

static const struct router_route pages[] = {
    {"/debug/vars", 0, ROUTER_GET_HEAD, debug_vars_handle, NULL,
     "expvar-style JSON: command line, bdwgc's heap and pause figures, the profiler's, connections"},
    {"/metrics", 0, ROUTER_GET_HEAD, metrics_handle, NULL,
     "Prometheus metrics (text format 0.0.4, or OpenMetrics 1.0 when Accept asks for it)"},
};
const struct router_table debug_surface_pages = ROUTER_TABLE(pages);

static const struct router_table *const tables[] = {DEBUG_SURFACE_TABLES};
const struct router debug_surface_router = {tables, sizeof tables / sizeof tables[0]};

void debug_surface_init(int argc, char **argv) { debug_http_set_cmdline(argc, argv); }
