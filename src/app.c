/* app: memdemo's hooks and report sections. See app.h. */
#include "src/app.h"

#include <stdio.h>

#include "gc/gcgen.h"
#include "gc/gcpacer.h"
#include "gc/gcthreads.h"
#include "profile/sampler.h"
#include "profile/trace.h"
#include "src/dashboard.h"
#include "src/debug_vars.h"
#include "src/handlers.h"
#include "src/metrics.h"
#include "src/promfmt.h"
#include "src/reqstats.h"
#include "src/routes.h"
#include "src/server.h"

/* Around each handler: the route names the heap samples its thread takes (pprof
 * -tagfocus) and, for traced routes, a request in the trace. The label is cleared and
 * the trace request ended right after the handler, not at completion: by then this
 * thread may have begun another request. */
static void before_handler(struct http_request *req, const void *route)
{
    (void)req;
    const char *trace_name = routes_trace_name(route);
    if (trace_name) trace_request_begin(trace_name);
    sampler_set_label("route", ((const struct router_route *)route)->path);
}

static void after_handler(struct http_request *req, const void *route, int status)
{
    (void)req;
    sampler_set_label(NULL, NULL);
    if (routes_trace_name(route)) trace_request_end(status);
}

DEBUG_VARS_STATS_SECTION(write_pacer, gcpacer_stats, GCPACER_STATS_FIELDS)

/* The pacer's figures /metrics has (its others are in /debug/vars only). */
static void write_pacer_metrics(struct promfmt *w)
{
    struct gcpacer_stats from;
    gcpacer_stats(&from);
    promfmt_family(w, "memdemo_gc_assist_seconds", PROMFMT_COUNTER,
                   "Generational mode: time allocating threads spent running slices of an open collection.");
    promfmt_f64(w, "", NULL, (double)from.assist_ns / 1e9);
}

/* memdemo's write barrier (generational mode, gc/gcgen): its dirtying stores, and the
 * barrier check's figures when it is on (MEMDEMO_GCCHECK). */
static void write_barrier(struct buf *out)
{
    struct debug_vars_object o = debug_vars_open(out);
    DEBUG_VARS_MEMBER(&o, "dirtied_stores", gcgen_dirtied_stores());
    struct gcgen_check_stats cs;
    gcgen_check_stats(&cs);
    if (cs.collections) {
        debug_vars_key(&o, "check");
        struct debug_vars_object c = debug_vars_open(out);
        DEBUG_VARS_MEMBER(&c, "collections", cs.collections);
        DEBUG_VARS_MEMBER(&c, "objects", cs.objects);
        DEBUG_VARS_MEMBER(&c, "violations", cs.violations);
        debug_vars_close(&c);
    }
    debug_vars_close(&o);
}

static void write_barrier_metrics(struct promfmt *w)
{
    promfmt_family(w, "memdemo_gc_barrier_dirty_stores", PROMFMT_COUNTER,
                   "Generational mode: pointer stores that dirtied a page for the next partial collection.");
    promfmt_u64(w, "", NULL, gcgen_dirtied_stores());
}

/* The dashboard's own chart: the strings the leaker keeps. */
static uint64_t leaker_strings(void)
{
    size_t requests, strings, bytes;
    handlers_leaker_totals(&requests, &strings, &bytes);
    return strings;
}

int app_start(const char *addr, int threads, struct conns_limits *limits, char *url, size_t url_n)
{
    reqstats_init(&routes_router);
    dashboard_init(&(struct dashboard_host){"memdemo", "Leaker", "strings kept", leaker_strings, 1});
    if (debug_vars_add_section("pacer", write_pacer) < 0 || debug_vars_add_section("barrier", write_barrier) < 0 ||
        debug_vars_add_section("leaker", handlers_write_vars) < 0 || metrics_add_section(write_pacer_metrics) < 0 ||
        metrics_add_section(write_barrier_metrics) < 0 || metrics_add_section(handlers_write_metrics) < 0) {
        fprintf(stderr, "memdemo: no room for memdemo's report sections\n");
        return -1;
    }
    struct server_config cfg = {
        router_match, &routes_router,
        {.thread_enter = gcthreads_enter, .before = before_handler, .after = after_handler,
         .answered = reqstats_record},
        "memdemo",
    };
    return server_start(addr, threads, limits, &cfg, url, url_n);
}
