/* Unit tests for the /metrics pieces: Accept negotiation and the two exposition formats
 * (src/promfmt), request counting (src/reqstats), /proc parsing (src/procstat), the
 * pause history and next-collection estimate they read (gc/), and the whole exposition
 * (src/metrics) against bdwgc's own counters. promtool and a real Prometheus check
 * the output in tests/integration/metrics.sh. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "gc/clock.h"
#include "gc/gcevents.h"
#include "gc/gcheap.h"
#include "gc/gcpacer.h"
#include "gc/procfs.h"
#include "src/metrics.h"
#include "src/procstat.h"
#include "src/promfmt.h"
#include "src/reqstats.h"
#include "profile/cpuprof.h"
#include "profile/lockprof.h"
#include "profile/sampler.h"
#include "profile/trace.h"
#include "src/routes.h"
#include "tests/unit/unit.h"

/* ---- negotiation ------------------------------------------------------------------ */

#define OM PROMFMT_OPENMETRICS
#define TEXT PROMFMT_TEXT

TEST(accept_prometheus_default_header_gets_openmetrics)
{
    CHECK_EQ_INT(promfmt_negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                                   "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"), OM);
    CHECK_EQ_INT(promfmt_negotiate("application/openmetrics-text"), OM);
    CHECK_EQ_INT(promfmt_negotiate("APPLICATION/OpenMetrics-Text; Version=\"1.0.0\""), OM);
    CHECK_EQ_INT(promfmt_negotiate("text/html, application/openmetrics-text; version=0.0.1"), OM);
}

TEST(accept_odd_or_absent_headers_get_text)
{
    const char *odd[] = {NULL, "", "*/*", "text/plain", "application/json", ",,,;;;===", ";q=1",
                         "application/openmetrics-text;version=2.0.0", "application/openmetrics-text;q=0",
                         "application/openmetrics-text;q=1.5", "application/openmetrics-text;q=abc",
                         "application/openmetrics-textx", "text/plain;version=0.0.4, application/openmetrics-text",
                         "text/plain;q=0.9, application/openmetrics-text;q=0.5",
                         "application/openmetrics-text;version=1.0.0000000000000000000000000000"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        if (promfmt_negotiate(odd[i]) != TEXT) UNIT__FAIL("\"%s\" negotiated OpenMetrics", odd[i] ? odd[i] : "(null)");
}

TEST(accept_higher_q_wins_over_order)
{
    CHECK_EQ_INT(promfmt_negotiate("text/plain;q=0.5, application/openmetrics-text"), OM);
    CHECK_EQ_INT(promfmt_negotiate("application/openmetrics-text;q=0.2, text/plain;version=0.0.4;q=0.3"), TEXT);
    CHECK_EQ_INT(promfmt_negotiate("text/plain;version=1.2.3, application/openmetrics-text;q=0.1"), OM);
}

/* ---- writing ---------------------------------------------------------------------- */

static const char *text_of(struct buf *b)
{
    buf_putc(b, '\0');
    return b->failed ? "(out of memory)" : b->data;
}

TEST(counter_family_is_named_without_total_only_in_openmetrics)
{
    for (int om = 0; om <= 1; om++) {
        struct buf b = BUF_INIT;
        struct promfmt w = promfmt_start(&b, om ? OM : TEXT);
        promfmt_family(&w, "x_requests", PROMFMT_COUNTER, "Requests \"served\"\\here.");
        const char *labels[] = {"route", "/a\"b\\c\nd", NULL};
        promfmt_u64(&w, "", labels, 18446744073709551615ull);
        promfmt_finish(&w);
        const char *want = om ? "# HELP x_requests Requests \\\"served\\\"\\\\here.\n# TYPE x_requests counter\n"
                                "x_requests_total{route=\"/a\\\"b\\\\c\\nd\"} 18446744073709551615\n# EOF\n"
                              : "# HELP x_requests_total Requests \"served\"\\\\here.\n# TYPE x_requests_total counter\n"
                                "x_requests_total{route=\"/a\\\"b\\\\c\\nd\"} 18446744073709551615\n";
        CHECK_EQ_STR(text_of(&b), want);
        buf_free(&b);
    }
}

TEST(histogram_and_summary_samples_carry_their_suffixes)
{
    struct buf b = BUF_INIT;
    struct promfmt w = promfmt_start(&b, OM);
    promfmt_family(&w, "h_seconds", PROMFMT_HISTOGRAM, "H.");
    const char *le[] = {"le", "+Inf", NULL};
    promfmt_u64(&w, "_bucket", le, 3);
    promfmt_f64(&w, "_sum", NULL, 0.25);
    promfmt_u64(&w, "_count", NULL, 3);
    promfmt_family(&w, "s_seconds", PROMFMT_SUMMARY, "S.");
    const char *q[] = {"quantile", "0.5", NULL};
    promfmt_f64(&w, "", q, NAN);
    CHECK_EQ_STR(text_of(&b), "# HELP h_seconds H.\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"+Inf\"} 3\n"
                              "h_seconds_sum 0.25\nh_seconds_count 3\n# HELP s_seconds S.\n# TYPE s_seconds summary\n"
                              "s_seconds{quantile=\"0.5\"} NaN\n");
    buf_free(&b);
}

TEST(floats_are_shortest_round_trip_and_integers_plain)
{
    struct { double v; const char *want; } cases[] = {
        {0.005, "0.005"}, {5e-05, "5e-05"}, {10, "10"}, {20000, "20000"}, {0.1, "0.1"}, {-2.5, "-2.5"},
        {1796117496.0743096, "1796117496.0743096"}, {18446744073709551615.0, "1.8446744073709552e+19"},
        {NAN, "NaN"}, {INFINITY, "+Inf"}, {-INFINITY, "-Inf"}, {0, "0"}, {49012 / 1e9, "4.9012e-05"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char s[PROMFMT_FLOAT_MAX];
        promfmt_format_float(cases[i].v, s);
        CHECK_EQ_STR(s, cases[i].want);
    }
}

/* ---- request counting ------------------------------------------------------------- */

TEST(durations_land_in_the_bucket_whose_bound_is_the_first_not_below)
{
    const struct router_route *r = router_find(&routes_router, "/noleaker");
    size_t slot = reqstats_slot_of(r);
    struct reqstats_histogram before, after;
    reqstats_histogram(slot, &before);
    reqstats_record(r, 200, reqstats_bounds_ns[0]);         /* on the bound: bucket 0 */
    reqstats_record(r, 200, reqstats_bounds_ns[0] + 1);     /* just above: bucket 1 */
    reqstats_record(r, 200, UINT64_C(1) << 62);             /* beyond every bound: +Inf */
    reqstats_histogram(slot, &after);
    CHECK_EQ_INT(after.buckets[0] - before.buckets[0], 1);
    CHECK_EQ_INT(after.buckets[1] - before.buckets[1], 1);
    CHECK_EQ_INT(after.buckets[REQSTATS_BUCKETS] - before.buckets[REQSTATS_BUCKETS], 1);
    CHECK_EQ_INT(after.count - before.count, 3);
    CHECK_EQ_INT(after.sum_ns - before.sum_ns, 2 * reqstats_bounds_ns[0] + 1 + (UINT64_C(1) << 62));
    CHECK_EQ_STR(reqstats_slot_name(slot), "/noleaker");
}

static uint64_t code_count(size_t slot, int code)
{
    int codes[REQSTATS_CODES + 1];
    uint64_t counts[REQSTATS_CODES + 1];
    int n = reqstats_codes(slot, codes, counts);
    for (int i = 0; i < n; i++) if (codes[i] == code) return counts[i];
    return 0;
}

TEST(codes_are_counted_per_route_and_unmatched_has_its_own_slot)
{
    const struct router_route *r = router_find(&routes_router, "/leaker");
    size_t leaker = reqstats_slot_of(r), unmatched = reqstats_slot_of(NULL);
    CHECK(unmatched == reqstats_slots() - 1 && unmatched != leaker);
    CHECK_EQ_STR(reqstats_slot_name(unmatched), "unmatched");
    for (int i = 0; i < 5; i++) reqstats_record(r, 200, 1000);
    reqstats_record(r, 405, 1000);
    reqstats_record(NULL, 404, 1000);
    CHECK_EQ_INT(code_count(leaker, 200), 5);
    CHECK_EQ_INT(code_count(leaker, 405), 1);
    CHECK_EQ_INT(code_count(leaker, 404), 0);
    CHECK_EQ_INT(code_count(unmatched, 404), 1);
    CHECK_EQ_INT(reqstats_total(leaker), 6);
}

TEST(codes_past_the_table_are_counted_as_other)
{
    const struct router_route *r = router_find(&routes_router, "/debug/vars");
    size_t slot = reqstats_slot_of(r);
    for (int c = 0; c < REQSTATS_CODES + 3; c++) reqstats_record(r, 200 + c, 1);
    CHECK_EQ_INT(code_count(slot, 200), 1);
    CHECK_EQ_INT(code_count(slot, 200 + REQSTATS_CODES - 1), 1);
    CHECK_EQ_INT(code_count(slot, 0), 3);   /* "other" */
    CHECK_EQ_INT(reqstats_total(slot), REQSTATS_CODES + 3);
}

/* ---- /proc ---------------------------------------------------------------------- */

TEST(stat_line_with_spaces_and_parens_in_the_name_parses)
{
    /* fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime cutime cstime priority nice threads itreal starttime vsize rss */
    const char *line = "4242 (a) (b c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 1000 "
                       "123456789 300 18446744073709551615 1 1 0 0 0 0 0 0\n";
    struct procstat p;
    CHECK_EQ_INT(procstat_parse_stat(line, 1000000.0, 100, &p), 0);
    CHECK(fabs(p.cpu_seconds - 3.0) < 1e-9);
    CHECK_EQ_INT(p.threads, 7);
    CHECK(fabs(p.start_time_unix - 1000010.0) < 1e-6);
    CHECK_EQ_INT(p.vsize_bytes, 123456789);
    CHECK_EQ_INT(procstat_parse_stat("4242 (cut short) S 1 2 3", 0, 100, &p), -1);
    CHECK_EQ_INT(procstat_parse_stat("no parenthesis at all", 0, 100, &p), -1);
}

TEST(own_process_figures_are_plausible)
{
    struct procstat p;
    CHECK_EQ_INT(procstat_read(&p), 0);
    CHECK(p.rss_bytes > (1 << 20) && p.vsize_bytes >= p.rss_bytes);
    CHECK(p.threads >= 1 && p.open_fds >= 3 && p.max_fds >= (double)p.open_fds);
    CHECK(p.start_time_unix > 1.5e9 && p.cpu_seconds >= 0);
}

TEST(rss_stays_readable_with_every_descriptor_taken)
{
    CHECK_GT(procfs_rss_bytes(), 0);               /* the start-up call main makes */
    struct rlimit was;
    CHECK_EQ_INT(getrlimit(RLIMIT_NOFILE, &was), 0);
    struct rlimit low = {256, was.rlim_max};
    CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fds[256], n = 0;
    while (n < 256 && (fds[n] = dup(0)) >= 0) n++;    /* until EMFILE */
    int64_t rss = procfs_rss_bytes();
    int exhausted = n < 256 && errno == EMFILE;
    while (n > 0) close(fds[--n]);
    setrlimit(RLIMIT_NOFILE, &was);
    CHECK(exhausted);
    CHECK_GT(rss, 1 << 20);
}

/* ---- gc/ figures -------------------------------------------------------------- */

/* Run first: bdwgc collects once inside GC_INIT, before the event hooks exist; that
 * collection has no pause on record, so it is not counted (Go's fresh process: 0). */
TEST(a_fresh_heap_has_counted_no_collection)
{
    struct gcheap_stats st;
    gcheap_stats(&st);
    CHECK_EQ_U64(st.collections, 0);
    CHECK_EQ_U64(gcevents_pause_count(), 0);
    CHECK_EQ_U64(st.pause_total_ns, 0);
    CHECK_EQ_U64(st.blocked_total_ns, 0);
}

TEST(each_collection_has_a_pause_and_a_blocked_time_covering_it)
{
    uint64_t first = gcevents_pause_count();
    for (int i = 0; i < 3; i++) gcheap_collect();
    struct gcheap_stats st;
    gcheap_stats(&st);
    CHECK_EQ_U64(st.collections, gcevents_pause_count());
    CHECK_EQ_U64(st.collections, first + 3);
    struct gcevents_pause p[GCEVENTS_PAUSE_HISTORY];
    int n = gcevents_pauses_since(first, p, GCEVENTS_PAUSE_HISTORY);
    CHECK_EQ_INT(n, 3);
    for (int i = 0; i < n; i++) {
        CHECK_GT_U64(p[i].duration_ns, 0);
        CHECK_GE_U64(p[i].blocked_ns, p[i].duration_ns);
    }
    CHECK_GE_U64(st.blocked_total_ns, st.pause_total_ns);
    CHECK_EQ_U64(st.blocked_last_ns, p[n - 1].blocked_ns);
    uint64_t recent[1];
    CHECK_EQ_INT(gcevents_recent_blocked(recent, 1), 1);
    CHECK_EQ_U64(recent[0], p[n - 1].blocked_ns);
}

TEST(pauses_since_returns_each_new_pause_once_in_order)
{
    uint64_t first = gcevents_pause_count();
    uint64_t t0 = clock_mono_ns();
    for (int i = 0; i < 3; i++) gcheap_collect();
    struct gcevents_pause p[GCEVENTS_PAUSE_HISTORY];
    int n = gcevents_pauses_since(first, p, GCEVENTS_PAUSE_HISTORY);
    CHECK(n >= 3);
    CHECK_EQ_INT(n, gcevents_pause_count() - first);
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(p[i].number, first + (uint64_t)i);
        CHECK(p[i].duration_ns > 0 && p[i].end_ns > t0 && p[i].end_ns <= clock_mono_ns());
        if (i) CHECK(p[i].end_ns >= p[i - 1].end_ns);
    }
    CHECK_EQ_INT(gcevents_pauses_since(first + (uint64_t)n, p, GCEVENTS_PAUSE_HISTORY), 0);
    /* more than the history holds: only the last GCEVENTS_PAUSE_HISTORY come back */
    CHECK_EQ_INT(gcevents_pauses_since(0, p, GCEVENTS_PAUSE_HISTORY),
                 gcevents_pause_count() < GCEVENTS_PAUSE_HISTORY ? gcevents_pause_count() : GCEVENTS_PAUSE_HISTORY);
}

void *test_metrics_kept;   /* a root (global, so the store stays): what the collection must leave in use */

TEST(last_collection_time_and_heap_left_are_recorded)
{
    test_metrics_kept = gcheap_alloc(256 << 10);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t before = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    gcheap_collect();
    struct gcheap_stats st;
    gcheap_stats(&st);
    CHECK(st.last_gc_unix_ns >= before && st.last_gc_unix_ns <= before + 10000000000ull);
    CHECK(st.in_use_after_gc >= (256 << 10) && st.in_use_after_gc <= st.heap_size);
    /* NextGC is the pacer's goal: GOGC 100 of what the collection left, 4 MiB at least */
    CHECK_EQ_INT(st.next_gc, gcpacer_next_gc());
    CHECK(st.next_gc >= GCPACER_HEAP_MINIMUM && st.next_gc >= 2 * (256 << 10));
}

/* ---- the whole exposition ---------------------------------------------------------- */

/* The value of the first sample line that starts with `prefix` (name and labels). */
static double sample_value(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (strncmp(line, prefix, n) == 0 && line[n] == ' ') return strtod(line + n + 1, NULL);
    return -1;
}

TEST(exposition_reports_bdwgc_counters_in_both_formats)
{
    for (int i = 0; i < 3; i++) gcheap_collect();
    for (int om = 0; om <= 1; om++) {
        struct gcheap_stats before, after;
        gcheap_stats(&before);
        struct buf b = BUF_INIT;
        metrics_write(&b, om);
        gcheap_stats(&after);
        const char *t = text_of(&b);
        double count = sample_value(t, "go_gc_duration_seconds_count");
        CHECK(count >= (double)before.collections && count <= (double)after.collections);
        CHECK(sample_value(t, "go_gc_duration_seconds{quantile=\"1\"}") > 0);
        CHECK(sample_value(t, "go_memstats_heap_sys_bytes") > 0);
        CHECK(sample_value(t, "go_memstats_alloc_bytes_total") >= (double)before.total_allocated);
        CHECK(sample_value(t, "process_resident_memory_bytes") > 0);
        CHECK(strstr(t, om ? "# TYPE go_memstats_alloc_bytes counter\n" : "# TYPE go_memstats_alloc_bytes_total counter\n"));
        size_t len = strlen(t);
        CHECK(om ? len > 6 && strcmp(t + len - 6, "# EOF\n") == 0 : strstr(t, "# EOF") == NULL);
        buf_free(&b);
    }
}

static void want_family(const char *t, const char *vars_name, const char *metric, int counter, const char *help,
                        int *families)
{
    if (!metric) return;
    char line[200];
    snprintf(line, sizeof line, "# HELP %s%s %s\n", metric, counter ? "_total" : "", help);
    if (!strstr(t, line)) UNIT__FAIL("no family for %s (%s)", vars_name, line);
    (*families)++;
}

/* Every field-table row with a kind other than none is a family, written from the
 * same table /debug/vars prints. */
TEST(every_exported_field_table_row_is_a_family)
{
    struct buf b = BUF_INIT;
    metrics_write(&b, 0);
    CHECK(!b.failed);
    const char *t = b.data;
    int families = 0;
#define WANT_FAMILY(vars_name, field, kind, metric, help) \
    want_family(t, vars_name, metric, strcmp(#kind, "counter") == 0, help, &families);
    GCHEAP_STATS_FIELDS(WANT_FAMILY)
    SAMPLER_STATS_FIELDS(WANT_FAMILY)
    CPUPROF_STATS_FIELDS(WANT_FAMILY)
    TRACE_STATS_FIELDS(WANT_FAMILY)
    LOCKPROF_STATS_FIELDS(WANT_FAMILY)
#undef WANT_FAMILY
    CHECK(families >= 20);
    buf_free(&b);
}

int main(void)
{
    gcheap_init();
    reqstats_init(&routes_router);
    RUN(a_fresh_heap_has_counted_no_collection);
    RUN(accept_prometheus_default_header_gets_openmetrics);
    RUN(accept_odd_or_absent_headers_get_text);
    RUN(accept_higher_q_wins_over_order);
    RUN(counter_family_is_named_without_total_only_in_openmetrics);
    RUN(histogram_and_summary_samples_carry_their_suffixes);
    RUN(floats_are_shortest_round_trip_and_integers_plain);
    RUN(durations_land_in_the_bucket_whose_bound_is_the_first_not_below);
    RUN(codes_are_counted_per_route_and_unmatched_has_its_own_slot);
    RUN(codes_past_the_table_are_counted_as_other);
    RUN(stat_line_with_spaces_and_parens_in_the_name_parses);
    RUN(own_process_figures_are_plausible);
    RUN(rss_stays_readable_with_every_descriptor_taken);
    RUN(pauses_since_returns_each_new_pause_once_in_order);
    RUN(each_collection_has_a_pause_and_a_blocked_time_covering_it);
    RUN(last_collection_time_and_heap_left_are_recorded);
    RUN(exposition_reports_bdwgc_counters_in_both_formats);
    RUN(every_exported_field_table_row_is_a_family);
    UNIT_EXIT();
}
