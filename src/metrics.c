/* metrics: the families /metrics exposes and where each figure comes from. See
 * metrics.h; the names and why some of client_golang's are missing are in README.md.
 *
 * Figures are read once per scrape, each from its owner: bdwgc's statistics
 * (gcheap_stats: one call under the allocation lock), pause history (gcevents,
 * lock-free), /proc (procstat), the profilers' stats (heap, CPU, trace, lock: what
 * /debug/vars prints from the same field tables), the request counters (reqstats,
 * lock-free) and the added sections. A field table row's
 * kind picks its family type (metric_gauge, metric_counter, metric_seconds) or none;
 * the rows of GCEVENTS_KIND_STATS_FIELDS are families with one sample per kind of
 * collection (kind_counter, kind_counter_seconds, kind_seconds).
 */
#include "src/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gc/errors.h"
#include "gc/gcevents.h"
#include "gc/gcheap.h"
#include "profile/cpuprof.h"
#include "profile/lockprof.h"
#include "profile/sampler.h"
#include "profile/trace.h"
#include "src/lograte.h"
#include "src/procstat.h"
#include "src/promfmt.h"
#include "src/reqstats.h"

#define NS_PER_S 1e9   /* divide (not multiply by 1e-9): 49012 ns reads 4.9012e-05 */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A summary as client_golang's go_gc_duration_seconds: quantiles 0, 0.25, 0.5, 0.75
 * and 1 of the recent collections' figures (the last GCEVENTS_PAUSE_HISTORY; NaN
 * before the first), _sum their total since start, _count the collections. */
static void write_gc_summary(struct promfmt *w, const char *name, const char *help,
                             int (*recent_fn)(uint64_t *, int), uint64_t total_ns, uint64_t count)
{
    static const char *const qs[] = {"0", "0.25", "0.5", "0.75", "1"};
    uint64_t p[GCEVENTS_PAUSE_HISTORY];
    int n = recent_fn(p, GCEVENTS_PAUSE_HISTORY);
    qsort(p, (size_t)n, sizeof *p, cmp_u64);
    promfmt_family(w, name, PROMFMT_SUMMARY, help);
    for (int i = 0; i < 5; i++) {
        const char *labels[] = {"quantile", qs[i], NULL};
        promfmt_f64(w, "", labels, n ? (double)p[(n - 1) * i / 4] / NS_PER_S : NAN);
    }
    promfmt_f64(w, "_sum", NULL, (double)total_ns / NS_PER_S);
    promfmt_u64(w, "_count", NULL, count);
}

/* go_gc_duration_seconds: the stop-the-world pauses, as client_golang's Go collector. */
static void write_gc_duration(struct promfmt *w, const struct gcheap_stats *st)
{
    write_gc_summary(w, "go_gc_duration_seconds",
                     "Stop-the-world pauses of recent collections (quantiles), their total and the number of collections.",
                     gcevents_recent_pauses, st->pause_total_ns, st->collections);
}

static void gauge_u64(struct promfmt *w, const char *name, const char *help, uint64_t v)
{
    promfmt_family(w, name, PROMFMT_GAUGE, help);
    promfmt_u64(w, "", NULL, v);
}

static void gauge_f64(struct promfmt *w, const char *name, const char *help, double v)
{
    promfmt_family(w, name, PROMFMT_GAUGE, help);
    promfmt_f64(w, "", NULL, v);
}

static void counter_u64(struct promfmt *w, const char *name, const char *help, uint64_t v)
{
    promfmt_family(w, name, PROMFMT_COUNTER, help);
    promfmt_u64(w, "", NULL, v);
}

/* The field tables' kinds (gcheap.h, sampler.h, cpuprof.h, trace.h, lockprof.h). */
static void metric_gauge(struct promfmt *w, const char *name, const char *help, uint64_t v)
{
    gauge_u64(w, name, help, v);
}

static void metric_counter(struct promfmt *w, const char *name, const char *help, uint64_t v)
{
    counter_u64(w, name, help, v);
}

static void metric_seconds(struct promfmt *w, const char *name, const char *help, uint64_t ns)
{
    gauge_f64(w, name, help, (double)ns / NS_PER_S);
}

static void metric_none(struct promfmt *w, const char *name, const char *help, uint64_t v)
{
    (void)w; (void)name; (void)help; (void)v;
}

#define METRIC_FIELD(vars_name, field, kind, name, help) metric_##kind(w, name, help, from->field);

/* client_golang's Go-collector names, where bdwgc's figure means the same, and the
 * collector's figures Go has no name for. */
static void write_go(struct promfmt *w, const struct gcheap_stats *from, const struct procstat *ps)
{
    write_gc_duration(w, from);
    write_gc_summary(w, "memdemo_gc_allocation_blocked_seconds",
                     "Time each recent collection held the allocation lock (quantiles: its pause plus the work "
                     "before the stop and after the restart, when every allocating thread waits too), their total "
                     "and the number of collections.",
                     gcevents_recent_blocked, from->blocked_total_ns, from->collections);
    if (ps->threads >= 0) gauge_u64(w, "go_threads", "Threads the process has now (/proc/self/stat).", (uint64_t)ps->threads);
    GCHEAP_STATS_FIELDS(METRIC_FIELD)
}

/* client_golang's process collector. A figure /proc could not give is left out. */
static void write_process(struct promfmt *w, const struct procstat *ps)
{
    if (ps->cpu_seconds >= 0) {
        promfmt_family(w, "process_cpu_seconds", PROMFMT_COUNTER, "CPU time the process has used, user and system, in seconds.");
        promfmt_f64(w, "", NULL, ps->cpu_seconds);
    }
    if (ps->open_fds >= 0) gauge_u64(w, "process_open_fds", "File descriptors the process has open.", (uint64_t)ps->open_fds);
    if (ps->max_fds >= 0) gauge_f64(w, "process_max_fds", "Soft limit on open file descriptors (RLIMIT_NOFILE).", ps->max_fds);
    if (ps->vsize_bytes >= 0)
        gauge_u64(w, "process_virtual_memory_bytes", "Size of the address space the process has mapped, in bytes.", (uint64_t)ps->vsize_bytes);
    if (ps->max_vsize_bytes >= 0)
        gauge_f64(w, "process_virtual_memory_max_bytes", "Soft limit on the address space (RLIMIT_AS), in bytes.",
                  ps->max_vsize_bytes);
    if (ps->rss_bytes >= 0)
        gauge_u64(w, "process_resident_memory_bytes", "Bytes of the process in physical memory (RSS).", (uint64_t)ps->rss_bytes);
    if (ps->start_time_unix >= 0)
        gauge_f64(w, "process_start_time_seconds", "When the process started, in seconds since the Unix epoch.",
                  ps->start_time_unix);
}

/* memdemo_http_requests_total{route,code} and memdemo_http_request_duration_seconds
 * {route}, for the routes that have answered at least one request. */
static void write_requests(struct promfmt *w)
{
    size_t n = reqstats_slots();
    promfmt_family(w, "memdemo_http_requests", PROMFMT_COUNTER,
                   "Requests answered, by route (the route table's path, or unmatched) and HTTP status code.");
    for (size_t s = 0; s < n; s++) {
        int codes[REQSTATS_CODES + 1];
        uint64_t counts[REQSTATS_CODES + 1];
        int k = reqstats_codes(s, codes, counts);
        for (int i = 0; i < k; i++) {
            char code[16];
            snprintf(code, sizeof code, "%d", codes[i]);
            const char *labels[] = {"route", reqstats_slot_name(s), "code", codes[i] ? code : "other", NULL};
            promfmt_u64(w, "", labels, counts[i]);
        }
    }
    promfmt_family(w, "memdemo_http_request_duration_seconds", PROMFMT_HISTOGRAM,
                   "Time from dispatching a request to its answer (for deferred requests: to the resumed answer).");
    for (size_t s = 0; s < n; s++) {
        struct reqstats_histogram h;
        reqstats_histogram(s, &h);
        if (!h.count) continue;
        const char *route = reqstats_slot_name(s);
        uint64_t cumulative = 0;
        for (int i = 0; i <= REQSTATS_BUCKETS; i++) {
            char le[PROMFMT_FLOAT_MAX];
            promfmt_format_float(i < REQSTATS_BUCKETS ? (double)reqstats_bounds_ns[i] / NS_PER_S : INFINITY, le);
            cumulative += h.buckets[i];
            const char *labels[] = {"route", route, "le", le, NULL};
            promfmt_u64(w, "_bucket", labels, cumulative);
        }
        const char *labels[] = {"route", route, NULL};
        promfmt_f64(w, "_sum", labels, (double)h.sum_ns / NS_PER_S);
        promfmt_u64(w, "_count", labels, h.count);
    }
}

static void (*sections[METRICS_MAX_SECTIONS])(struct promfmt *w);
static int nsections;

int metrics_add_section(void (*write)(struct promfmt *w))
{
    if (nsections == METRICS_MAX_SECTIONS) return errors_fail(ENOSPC);
    sections[nsections++] = write;
    return 0;
}

/* One family of GCEVENTS_KIND_STATS_FIELDS: a sample per kind of collection, labelled
 * kind="partial"|"full"; v[k] is kind k's figure, in ns when `seconds`. */
static void kind_family(struct promfmt *w, const char *name, enum promfmt_type type, const char *help,
                        const uint64_t v[GCEVENTS_KINDS], int seconds)
{
    promfmt_family(w, name, type, help);
    for (int k = 0; k < GCEVENTS_KINDS; k++) {
        const char *labels[] = {"kind", gcevents_kind_name((enum gcevents_kind)k), NULL};
        if (seconds) promfmt_f64(w, "", labels, (double)v[k] / NS_PER_S);
        else promfmt_u64(w, "", labels, v[k]);
    }
}

#define KIND_VALUES(field) {ks[GCEVENTS_PARTIAL].field, ks[GCEVENTS_FULL].field}
#define kind_counter(name, help, v) kind_family(w, name, PROMFMT_COUNTER, help, v, 0)
#define kind_counter_seconds(name, help, v) kind_family(w, name, PROMFMT_COUNTER, help, v, 1)
#define kind_seconds(name, help, v) kind_family(w, name, PROMFMT_GAUGE, help, v, 1)
#define kind_none(name, help, v) ((void)(v))
#define KIND_METRIC(vars_name, field, kind, name, help)  \
    {                                                    \
        const uint64_t v_[GCEVENTS_KINDS] = KIND_VALUES(field); \
        kind_##kind(name, help, v_);                     \
    }

/* Partial and full collections apart (generational mode; in stop-the-world mode every
 * collection is full). */
static void write_gc_kinds(struct promfmt *w)
{
    struct gcevents_kind_stats ks[GCEVENTS_KINDS];
    for (int k = 0; k < GCEVENTS_KINDS; k++) gcevents_kind_stats((enum gcevents_kind)k, &ks[k]);
    GCEVENTS_KIND_STATS_FIELDS(KIND_METRIC)
}

/* The families of one module's stats struct (struct KIND, filled by KIND(&s)): a row
 * of its field table FIELDS each, as /debug/vars prints the same rows. */
#define METRIC_STATS(kind, FIELDS)       \
    {                                    \
        struct kind s_, *from = &s_;     \
        kind(&s_);                       \
        FIELDS(METRIC_FIELD)             \
    }

/* The profilers' figures: the heap profiler's, and what the CPU profiler, the tracer
 * and the lock profiles lost. */
static void write_profilers(struct promfmt *w)
{
    METRIC_STATS(sampler_stats, SAMPLER_STATS_FIELDS)
    METRIC_STATS(cpuprof_stats, CPUPROF_STATS_FIELDS)
    METRIC_STATS(trace_stats, TRACE_STATS_FIELDS)
    METRIC_STATS(lockprof_stats, LOCKPROF_STATS_FIELDS)
}

static void write_memdemo(struct promfmt *w)
{
    char version[32];
    gcheap_version(version, sizeof version);
    promfmt_family(w, "memdemo_gc_info", PROMFMT_GAUGE,
                   "The garbage collector: bdwgc, its version and how it collects (-gcmode).");
    const char *labels[] = {"collector", "bdwgc", "version", version, "mode", gcheap_mode_name(gcheap_mode()), NULL};
    promfmt_u64(w, "", labels, 1);
    write_gc_kinds(w);
    for (int i = 0; i < nsections; i++) sections[i](w);
    write_requests(w);
    write_profilers(w);
    gauge_u64(w, "memdemo_trace_running", "1 while a live execution trace window (/debug/pprof/trace) is open.", (uint64_t)trace_running());
    counter_u64(w, "memdemo_log_lines_dropped", "Log lines clients caused (malformed requests) that were over the "
                "rate limit and not printed.", lograte_dropped_total());
}

void metrics_write(struct buf *out, int openmetrics)
{
    struct gcheap_stats st;
    struct procstat ps;
    gcheap_stats(&st);
    procstat_read(&ps);
    struct promfmt w = promfmt_start(out, openmetrics ? PROMFMT_OPENMETRICS : PROMFMT_TEXT);
    write_go(&w, &st, &ps);
    write_process(&w, &ps);
    write_memdemo(&w);
    promfmt_finish(&w);
}

void metrics_handle(struct http_request *req)
{
    enum promfmt_kind kind = promfmt_negotiate(http_header(req, "Accept"));
    struct buf b = BUF_INIT;
    metrics_write(&b, kind == PROMFMT_OPENMETRICS);
    http_respond(req, 200, promfmt_content_type(kind), &b);
}
