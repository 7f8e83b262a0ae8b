/* metrics: the families /metrics exposes and where each figure comes from. See
 * metrics.h; the names and why some of client_golang's are missing are in README.md.
 *
 * Figures are read once per scrape, each from its owner: bdwgc's statistics
 * (gcheap_stats: one call under the allocation lock), pause history (gcevents,
 * lock-free), /proc (procstat), the leaker's totals, the profiler's stats, the
 * tracer's window count and the request counters (reqstats, lock-free).
 */
#include "src/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gc/gcevents.h"
#include "gc/gcgen.h"
#include "gc/gcheap.h"
#include "gc/gcpacer.h"
#include "profile/sampler.h"
#include "profile/trace.h"
#include "src/handlers.h"
#include "src/procstat.h"
#include "src/promfmt.h"
#include "src/reqstats.h"

#define NS_PER_S 1e9   /* divide (not multiply by 1e-9): 49012 ns reads 4.9012e-05 */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* go_gc_duration_seconds as client_golang's Go collector: quantiles 0, 0.25, 0.5,
 * 0.75 and 1 of the recent collections' pauses (each the sum of its world stops, as
 * Go's; the last GCEVENTS_PAUSE_HISTORY; NaN before the first), _sum the total pause,
 * _count the collections. */
static void write_gc_duration(struct promfmt *w, const struct gcheap_stats *st)
{
    static const char *const qs[] = {"0", "0.25", "0.5", "0.75", "1"};
    uint64_t p[GCEVENTS_PAUSE_HISTORY];
    int n = gcevents_recent_collection_pauses(p, GCEVENTS_PAUSE_HISTORY);
    qsort(p, (size_t)n, sizeof *p, cmp_u64);
    promfmt_family(w, "go_gc_duration_seconds", PROMFMT_SUMMARY,
                   "Stop-the-world pauses of recent collections (quantiles), their total and the number of collections.");
    for (int i = 0; i < 5; i++) {
        const char *labels[] = {"quantile", qs[i], NULL};
        promfmt_f64(w, "", labels, n ? (double)p[(n - 1) * i / 4] / NS_PER_S : NAN);
    }
    promfmt_f64(w, "_sum", NULL, (double)st->pause_total_ns / NS_PER_S);
    promfmt_u64(w, "_count", NULL, st->collections);
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

/* client_golang's Go-collector names, where bdwgc's figure means the same. */
static void write_go(struct promfmt *w, const struct gcheap_stats *st, const struct procstat *ps)
{
    write_gc_duration(w, st);
    if (ps->threads >= 0) gauge_u64(w, "go_threads", "Threads the process has now (/proc/self/stat).", (uint64_t)ps->threads);
    counter_u64(w, "go_memstats_alloc_bytes", "Bytes allocated on the GC heap since start, whether still live or not.",
                st->total_allocated);
    gauge_u64(w, "go_memstats_sys_bytes", "Bytes the collector has taken from the OS for its heap and its own tables.", st->obtained_from_os);
    gauge_u64(w, "go_memstats_heap_sys_bytes", "Bytes the GC heap spans, unmapped parts included.", st->heap_size);
    gauge_u64(w, "go_memstats_heap_idle_bytes", "Heap bytes in free blocks, unmapped ones included.", st->free_bytes);
    gauge_u64(w, "go_memstats_heap_inuse_bytes", "Heap bytes in blocks that hold objects (heap size minus free blocks).", st->in_use_bytes);
    gauge_u64(w, "go_memstats_heap_released_bytes", "Free heap bytes returned to the OS (unmapped).",
              st->unmapped_bytes);
    gauge_u64(w, "go_memstats_next_gc_bytes",
              "Estimated heap bytes in use at which the next collection starts.",
              st->next_gc);
    gauge_f64(w, "go_memstats_last_gc_time_seconds",
              "When the last collection ended, in seconds since the Unix epoch (0: none yet).",
              (double)st->last_gc_unix_ns / NS_PER_S);
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

/* One family with a sample per kind of collection (partial, full): field `f` of
 * gcevents_kind_stats, in nanoseconds when `seconds`. */
#define KIND_FAMILY(w, name, type, help, f, seconds)                                          \
    do {                                                                                      \
        promfmt_family(w, name, type, help);                                                  \
        for (int k_ = 0; k_ < GCEVENTS_KINDS; k_++) {                                         \
            struct gcevents_kind_stats ks_;                                                   \
            gcevents_kind_stats((enum gcevents_kind)k_, &ks_);                                 \
            const char *labels_[] = {"kind", gcevents_kind_name((enum gcevents_kind)k_), NULL}; \
            if (seconds) promfmt_f64(w, "", labels_, (double)ks_.f / NS_PER_S);              \
            else promfmt_u64(w, "", labels_, ks_.f);                                          \
        }                                                                                     \
    } while (0)

/* Partial and full collections apart (generational mode; in stop-the-world mode every
 * collection is full), the write barrier's dirtying stores and the pacer's assists. */
static void write_gc_kinds(struct promfmt *w)
{
    KIND_FAMILY(w, "memdemo_gc_collections", PROMFMT_COUNTER,
                "Collections completed, by kind: partial (marks what is new or was written since the last) or full.",
                collections, 0);
    KIND_FAMILY(w, "memdemo_gc_pause_seconds", PROMFMT_COUNTER,
                "Time the world was stopped, by kind of collection.", pause_ns, 1);
    KIND_FAMILY(w, "memdemo_gc_pause_max_seconds", PROMFMT_GAUGE,
                "Longest stop-the-world pause since start, by kind of collection.", pause_max_ns, 1);
    KIND_FAMILY(w, "memdemo_gc_lock_seconds", PROMFMT_COUNTER,
                "Time collections held the allocation lock (pauses included), by kind.", lock_ns, 1);
    KIND_FAMILY(w, "memdemo_gc_lock_max_seconds", PROMFMT_GAUGE,
                "Longest time one collection held the allocation lock, by kind.", lock_max_ns, 1);
    struct gcpacer_stats gp;
    gcpacer_stats(&gp);
    promfmt_family(w, "memdemo_gc_assist_seconds", PROMFMT_COUNTER,
                   "Generational mode: time allocating threads spent running slices of an open collection.");
    promfmt_f64(w, "", NULL, (double)gp.assist_ns / NS_PER_S);
    counter_u64(w, "memdemo_gc_barrier_dirty_stores",
                "Generational mode: pointer stores that dirtied a page for the next partial collection.",
                gcgen_dirtied_stores());
}

static void write_memdemo(struct promfmt *w, const struct gcheap_stats *st)
{
    char version[32];
    gcheap_version(version, sizeof version);
    promfmt_family(w, "memdemo_gc_info", PROMFMT_GAUGE,
                   "The garbage collector: bdwgc, its version and how it collects (-gcmode).");
    const char *labels[] = {"collector", "bdwgc", "version", version, "mode", gcheap_mode_name(gcheap_mode()), NULL};
    promfmt_u64(w, "", labels, 1);
    write_gc_kinds(w);
    gauge_u64(w, "memdemo_gc_heap_inuse_after_gc_bytes",
              "Heap bytes in use as the last collection ended: what it could not reclaim.", st->in_use_after_gc);
    gauge_u64(w, "memdemo_gc_allocated_since_gc_bytes", "Bytes allocated since the last collection.",
              st->allocated_since_gc);
    size_t requests, strings, bytes;
    handlers_leaker_totals(&requests, &strings, &bytes);
    counter_u64(w, "memdemo_leaker_requests", "/leaker requests whose strings are kept.", requests);
    gauge_u64(w, "memdemo_leaker_strings", "Strings the leaker keeps in its global list.", strings);
    gauge_u64(w, "memdemo_leaker_bytes", "Bytes of the strings the leaker keeps.", bytes);
    write_requests(w);
    struct sampler_stats ps;
    sampler_stats(&ps);
    gauge_u64(w, "memdemo_profiler_rate_bytes", "Heap profiler: bytes allocated per sample on average (0: off).",
              (uint64_t)ps.rate);
    counter_u64(w, "memdemo_profiler_samples", "Heap profiler: allocations sampled.", ps.samples);
    gauge_u64(w, "memdemo_profiler_stacks", "Heap profiler: distinct stacks recorded.", ps.stacks);
    gauge_u64(w, "memdemo_profiler_tracked_objects", "Heap profiler: sampled objects not yet seen freed.",
              ps.tracked);
    gauge_u64(w, "memdemo_profiler_memory_bytes", "Heap profiler: bytes of its own tables, outside the GC heap.",
              ps.bookkeeping_bytes);
    counter_u64(w, "memdemo_trace_windows", "Execution trace windows opened (/debug/pprof/trace).",
                trace_windows());
    gauge_u64(w, "memdemo_trace_running", "1 while an execution trace window is open.", (uint64_t)trace_running());
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
    write_memdemo(&w, &st);
    promfmt_finish(&w);
}

void metrics_handle(struct http_request *req)
{
    enum promfmt_kind kind = promfmt_negotiate(http_header(req, "Accept"));
    struct buf b = BUF_INIT;
    metrics_write(&b, kind == PROMFMT_OPENMETRICS);
    http_respond(req, 200, promfmt_content_type(kind), &b);
}
