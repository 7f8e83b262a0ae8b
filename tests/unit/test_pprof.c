/* test_pprof: the heap profiles profile/pprof writes are read by the real
 * `go tool pprof` (run from a temp directory, without this binary), with the
 * sample types in Go's order, our function names and source lines, unsampled totals
 * that match the formula, and legacy text that yields the same totals.
 *
 * The stacks are real: return addresses captured inside the noinline functions
 * below, so symbols resolves them against this test's own DWARF.
 */
#include "profile/pprof.h"
#include "tests/unit/pproftool.h"
#include "tests/unit/unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- real stacks ------------------------------------------------------------------ */

enum { DEPTH = 3 };
static uintptr_t small_stack[DEPTH], big_stack[DEPTH];

/* Stands in for the allocator: its return address is the allocation site. */
__attribute__((noinline, no_icf)) static uintptr_t fake_allocator(void)
{
    uintptr_t ret = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
    return ret;
}

__attribute__((noinline, no_icf)) static void make_small_objects(uintptr_t *pcs)
{
    pcs[0] = fake_allocator(); /* SMALL_ALLOCATION_SITE */
    pcs[1] = (uintptr_t)__builtin_return_address(0);
}

__attribute__((noinline, no_icf)) static void make_big_objects(uintptr_t *pcs)
{
    pcs[0] = fake_allocator(); /* BIG_ALLOCATION_SITE */
    pcs[1] = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, no_icf)) static void handle_request(uintptr_t *small, uintptr_t *big)
{
    make_small_objects(small);
    make_big_objects(big);
    small[2] = big[2] = (uintptr_t)__builtin_return_address(0);
}

__attribute__((noinline, no_icf)) static void capture_stacks(void)
{
    handle_request(small_stack, big_stack);
    __asm__ volatile("" ::: "memory");
}

/* ---- files and go tool pprof ------------------------------------------------------ */

/* Sums the four value columns of `pprof -raw` sample lines. */
static int raw_totals(const char *raw, long long tot[4]) { return pproftool_raw_totals(raw, 4, tot); }

/* Runs `go tool pprof -raw FILE` and sums its samples into tot. Returns the number of
 * samples, or -1 if pprof failed. */
static int raw_totals_of(const char *file, long long tot[4])
{
    char args[256];
    int st;
    snprintf(args, sizeof args, "-raw %s", file);
    char *out = pproftool_run(args, &st);
    int n = st == 0 ? raw_totals(out, tot) : -1;
    free(out);
    return n;
}

/* ---- the input -------------------------------------------------------------------- */

enum { RATE = 524288 };

/* 1000 sampled 16-byte objects (600 still live) and 3000 sampled 1 MiB ones (1 live):
 * the small ones lead in objects and in use, the big ones in allocated space. */
static void make_records(struct heapsample rec[2])
{
    capture_stacks();
    rec[0] = (struct heapsample){small_stack, DEPTH, 16, 1000, 600, NULL, NULL};
    rec[1] = (struct heapsample){big_stack, DEPTH, 1 << 20, 3000, 1, NULL, NULL};
}

/* What pprof should show for count sampled objects of size bytes: Go truncates. */
static double scale_of(double size, double rate)
{
    return rate <= 1 ? 1 : 1 / (1 - exp(-size / rate));
}

static long long unsampled(uint64_t count, double size, double rate)
{
    return (long long)((double)count * scale_of(size, rate));
}

static long long unsampled_bytes(uint64_t count, double size, double rate)
{
    return (long long)((double)count * size * scale_of(size, rate));
}

static const struct pprof_heap_opts heap_opts = {RATE, NULL, 1700000000000000000, 0};
static const struct pprof_heap_opts allocs_opts = {RATE, "alloc_space", 1700000000000000000,
                                                   30000000000};

static int write_profile(const char *name, const struct heapsample *r, size_t n,
                         const struct pprof_heap_opts *o)
{
    struct buf b = BUF_INIT;
    int rc = pprof_write_heap(&b, r, n, o);
    if (rc == 0) rc = pproftool_write(name, &b);
    buf_free(&b);
    return rc;
}

/* ---- tests ------------------------------------------------------------------------ */

TEST(scale_matches_go_formula_and_rate_one_is_exact)
{
    int64_t o, b;
    pprof_scale(1000, 16, RATE, &o, &b);
    CHECK_EQ_INT(o, unsampled(1000, 16, RATE));
    CHECK_EQ_INT(o, 32768500);                  /* 1000 / (1 - exp(-16/524288)) */
    CHECK_EQ_INT(b, unsampled_bytes(1000, 16, RATE));
    CHECK_EQ_INT(b, 524296000);                 /* 16 * 32768500.0025 */
    pprof_scale(7, 100, 1, &o, &b);
    CHECK_EQ_INT(o, 7);
    CHECK_EQ_INT(b, 700);
    pprof_scale(0, 100, RATE, &o, &b);
    CHECK_EQ_INT(o + b, 0);
}

TEST(output_is_gzip_and_empty_profile_parses)
{
    struct buf b = BUF_INIT;
    CHECK_EQ_INT(pprof_write_heap(&b, NULL, 0, &heap_opts), 0);
    CHECK_GT(b.len, 18);
    CHECK_EQ_INT((unsigned char)b.data[0], 0x1f);
    CHECK_EQ_INT((unsigned char)b.data[1], 0x8b);
    CHECK_EQ_INT(pproftool_write("empty.pb.gz", &b), 0);
    buf_free(&b);
    int st;
    char *out = pproftool_run("-raw empty.pb.gz", &st);
    if (st != 0) UNIT__FAIL("pprof exited %d: %s", st, out);
    CHECK_CONTAINS(out, "alloc_objects/count alloc_space/bytes inuse_objects/count "
                        "inuse_space/bytes");
    free(out);
}

TEST(heap_profile_parses_with_go_sample_types_names_and_mapping)
{
    struct heapsample rec[2];
    make_records(rec);
    CHECK_EQ_INT(write_profile("heap.pb.gz", rec, 2, &heap_opts), 0);
    int st;
    char *out = pproftool_run("-raw heap.pb.gz", &st);
    if (st != 0) UNIT__FAIL("pprof exited %d: %s", st, out);
    CHECK_CONTAINS(out, "PeriodType: space bytes\nPeriod: 524288\n");
    CHECK_CONTAINS(out, "\nalloc_objects/count alloc_space/bytes inuse_objects/count "
                        "inuse_space/bytes\n");
    CHECK_NOT_CONTAINS(out, "[dflt]");
    CHECK_CONTAINS(out, "bytes:[16]");
    CHECK_CONTAINS(out, "bytes:[1048576]");
    const char *fns[] = {"make_small_objects", "make_big_objects", "handle_request",
                         "capture_stacks"};
    for (int i = 0; i < 4; i++)
        if (!strstr(out, fns[i])) UNIT__FAIL("%s missing from:\n%s", fns[i], out);
    CHECK_CONTAINS(out, "test_pprof.c:");
    CHECK_CONTAINS(out, "[FN][FL][LN][IN]");     /* mapping 1 needs no symbolizer */
    CHECK_NOT_CONTAINS(out, "Main binary filename not available");
    free(out);
}

TEST(unsampled_totals_match_formula)
{
    struct heapsample rec[2];
    make_records(rec);
    CHECK_EQ_INT(write_profile("heap.pb.gz", rec, 2, &heap_opts), 0);
    long long tot[4];
    CHECK_EQ_INT(raw_totals_of("heap.pb.gz", tot), 2);
    double big = 1 << 20;
    CHECK_EQ_INT(tot[0], unsampled(1000, 16, RATE) + unsampled(3000, big, RATE));
    CHECK_EQ_INT(tot[1], unsampled_bytes(1000, 16, RATE) + unsampled_bytes(3000, big, RATE));
    CHECK_EQ_INT(tot[2], unsampled(600, 16, RATE) + unsampled(1, big, RATE));
    CHECK_EQ_INT(tot[3], unsampled_bytes(600, 16, RATE) + unsampled_bytes(1, big, RATE));
}

TEST(rate_one_gives_exact_counts)
{
    struct heapsample rec[2];
    struct pprof_heap_opts o = heap_opts;
    o.rate = 1;
    make_records(rec);
    CHECK_EQ_INT(write_profile("exact.pb.gz", rec, 2, &o), 0);
    long long tot[4];
    CHECK_EQ_INT(raw_totals_of("exact.pb.gz", tot), 2);
    CHECK_EQ_INT(tot[0], 4000);
    CHECK_EQ_INT(tot[1], 16000 + 3000LL * (1 << 20));
    CHECK_EQ_INT(tot[2], 601);
    CHECK_EQ_INT(tot[3], 600 * 16 + (1 << 20));
}

TEST(allocs_profile_defaults_to_alloc_space_and_carries_duration)
{
    struct heapsample rec[2];
    make_records(rec);
    CHECK_EQ_INT(write_profile("allocs.pb.gz", rec, 2, &allocs_opts), 0);
    int st;
    char *out = pproftool_run("-raw allocs.pb.gz", &st);
    CHECK_EQ_INT(st, 0);
    CHECK_CONTAINS(out, "alloc_space/bytes[dflt]");
    CHECK_CONTAINS(out, "Duration: 30s");
    free(out);
    out = pproftool_run("-top -nodecount=20 allocs.pb.gz", &st);
    CHECK_EQ_INT(st, 0);
    CHECK_CONTAINS(out, "Type: alloc_space");
    CHECK_CONTAINS(out, "make_big_objects");
    free(out);
}

TEST(top_by_sample_index_ranks_our_functions)
{
    struct heapsample rec[2];
    make_records(rec);
    CHECK_EQ_INT(write_profile("heap.pb.gz", rec, 2, &heap_opts), 0);
    int st;
    char *out = pproftool_run("-top -nodefraction=0 heap.pb.gz", &st);
    CHECK_EQ_INT(st, 0);
    CHECK_CONTAINS(out, "Type: inuse_space");     /* heap: no default, the last type */
    free(out);
    /* objects: 32.8M small vs 3.4K big; space: 0.5 GB small vs 3.6 GB big */
    const char *order[][3] = {{"alloc_objects", "make_small_objects", "make_big_objects"},
                              {"alloc_space", "make_big_objects", "make_small_objects"}};
    for (int i = 0; i < 2; i++) {
        char args[128], type[64];
        snprintf(args, sizeof args, "-sample_index=%s -top -nodefraction=0 heap.pb.gz", order[i][0]);
        snprintf(type, sizeof type, "Type: %s", order[i][0]);
        out = pproftool_run(args, &st);
        const char *lead = strstr(out, order[i][1]), *next = strstr(out, order[i][2]);
        if (st != 0 || !strstr(out, type) || !lead || !next || lead > next)
            UNIT__FAIL("%s should lead %s:\n%s", order[i][1], order[i][0], out);
        free(out);
    }
}

TEST(list_shows_the_source_line_from_any_directory)
{
    struct heapsample rec[2];
    make_records(rec);
    CHECK_EQ_INT(write_profile("heap.pb.gz", rec, 2, &heap_opts), 0);
    int st;
    char *out = pproftool_run("-sample_index=alloc_space -list 'make_small_objects' heap.pb.gz", &st);
    if (st != 0 || !strstr(out, "SMALL_ALLOCATION_SITE"))
        UNIT__FAIL("status %d, no source line in:\n%s", st, out);
    CHECK_CONTAINS(out, "ROUTINE ======================== make_small_objects");
    free(out);
}

TEST(legacy_text_gives_the_same_totals_as_the_protobuf)
{
    struct heapsample rec[2];
    make_records(rec);
    struct buf b = BUF_INIT;
    CHECK_EQ_INT(pprof_write_heap_text(&b, rec, 2, &heap_opts, "# bdwgc heap_size 123\n"), 0);
    const char *header = "heap profile: 601: 1058176 [4000: 3145744000] @ heap/1048576\n";
    CHECK_PREFIX(b.data, header);
    const char *first = "1: 1048576 [3000: 3145728000] @ 0x";  /* most raw bytes in use first */
    CHECK_PREFIX(b.data + strlen(header), first);
    CHECK_CONTAINS(b.data, "\tmake_small_objects+0x");
    CHECK_CONTAINS(b.data, "# bdwgc heap_size 123\n");
    CHECK_EQ_INT(pproftool_write("heap.txt", &b), 0);
    buf_free(&b);
    CHECK_EQ_INT(write_profile("heap.pb.gz", rec, 2, &heap_opts), 0);
    int st1, st2;
    long long legacy[4], proto[4];
    char *out1 = pproftool_run("-raw heap.txt", &st1), *out2 = pproftool_run("-raw heap.pb.gz", &st2);
    int n1 = raw_totals(out1, legacy), n2 = raw_totals(out2, proto);
    if (st1 != 0 || n1 != 2) UNIT__FAIL("legacy: status %d, %d samples:\n%s", st1, n1, out1);
    free(out1);
    free(out2);
    CHECK_EQ_INT(st2, 0);
    CHECK_EQ_INT(n2, 2);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(legacy[i], proto[i]);
}

TEST(legacy_text_with_nothing_freed_still_reads_as_four_columns)
{
    struct heapsample rec[2];
    make_records(rec);
    rec[0].inuse_count = rec[0].alloc_count;
    rec[1].inuse_count = rec[1].alloc_count;
    struct buf b = BUF_INIT;
    CHECK_EQ_INT(pprof_write_heap_text(&b, rec, 2, &heap_opts, NULL), 0);
    CHECK_EQ_INT(pproftool_write("live.txt", &b), 0);
    buf_free(&b);
    int st;
    long long tot[4];
    char *out = pproftool_run("-raw live.txt", &st);
    CHECK_EQ_INT(st, 0);
    CHECK_CONTAINS(out, "alloc_objects/count alloc_space/bytes inuse_objects/count");
    CHECK_EQ_INT(raw_totals(out, tot), 2);
    free(out);
    CHECK_EQ_INT(tot[0], tot[2]);
    CHECK_EQ_INT(tot[1], tot[3]);
}

TEST(records_with_no_allocations_are_left_out)
{
    struct heapsample rec[3];
    make_records(rec);
    rec[2] = (struct heapsample){small_stack, DEPTH, 32, 0, 0, NULL, NULL};
    CHECK_EQ_INT(write_profile("skip.pb.gz", rec, 3, &heap_opts), 0);
    int st;
    long long tot[4];
    char *out = pproftool_run("-raw skip.pb.gz", &st);
    CHECK_EQ_INT(st, 0);
    CHECK_EQ_INT(raw_totals(out, tot), 2);
    CHECK_NOT_CONTAINS(out, "bytes:[32]");
    free(out);
}

/* Two records of one stack and size that differ in their route label, and one without:
 * -tags lists both values, -tagfocus keeps one route's bytes only. */
TEST(string_labels_reach_tags_and_tagfocus)
{
    struct heapsample rec[3];
    struct pprof_heap_opts o = heap_opts;
    o.rate = 1;
    make_records(rec);
    rec[0].label_key = rec[1].label_key = "route";
    rec[0].label_value = "/small";
    rec[1].label_value = "/big";
    rec[2] = (struct heapsample){small_stack, DEPTH, 16, 7, 7, NULL, NULL};
    CHECK_EQ_INT(write_profile("labels.pb.gz", rec, 3, &o), 0);
    int st;
    char *out = pproftool_run("-tags labels.pb.gz", &st);
    if (st != 0 || !strstr(out, "route:") || !strstr(out, "/small") || !strstr(out, "/big"))
        UNIT__FAIL("status %d, no route tags in:\n%s", st, out);
    free(out);
    long long tot[4];
    CHECK_EQ_INT(raw_totals_of("-tagfocus=route=/small labels.pb.gz", tot), 1);
    CHECK_EQ_INT(tot[3], 600 * 16);
    CHECK_EQ_INT(raw_totals_of("-tagfocus=route=/big labels.pb.gz", tot), 1);
    CHECK_EQ_INT(tot[3], 1 << 20);
    CHECK_EQ_INT(raw_totals_of("labels.pb.gz", tot), 3);
    CHECK_EQ_INT(tot[3], 607 * 16 + (1 << 20));
}

int main(void)
{
    if (pproftool_init("test_pprof") < 0) { perror("mkdtemp"); return 1; }
    RUN(scale_matches_go_formula_and_rate_one_is_exact);
    RUN(output_is_gzip_and_empty_profile_parses);
    RUN(heap_profile_parses_with_go_sample_types_names_and_mapping);
    RUN(unsampled_totals_match_formula);
    RUN(rate_one_gives_exact_counts);
    RUN(allocs_profile_defaults_to_alloc_space_and_carries_duration);
    RUN(top_by_sample_index_ranks_our_functions);
    RUN(list_shows_the_source_line_from_any_directory);
    RUN(legacy_text_gives_the_same_totals_as_the_protobuf);
    RUN(legacy_text_with_nothing_freed_still_reads_as_four_columns);
    RUN(records_with_no_allocations_are_left_out);
    RUN(string_labels_reach_tags_and_tagfocus);
    pproftool_done(unit__failures);
    UNIT_EXIT();
}
