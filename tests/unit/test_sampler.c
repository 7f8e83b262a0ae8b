/* Unit tests for profile/sampler, driven through the real allocator (gc/gcheap):
 * rate 1 records every allocation, with exact counts, one record per (stack, size);
 * rate 0 records nothing; in-use counts are the objects the last completed collection
 * found reachable; a snapshot delta subtracts the earlier snapshot; sampler_set_rate rejects
 * a negative rate; the stats count samples, stacks, records and tracked objects, and
 * every sample the profiler could not record as lost; and at a sampling rate, objects of size s are sampled with probability 1 - exp(-s/rate).
 *
 * A record is (stack, size, label), and a stack includes the test function's frame, so
 * every call line below is its own stack; each test allocates sizes no other test
 * uses, so its records are the snapshot records of those sizes. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gc/gcheap.h"
#include "profile/sampler.h"
#include "tests/unit/unit.h"

/* Records carry the size bdwgc handed out: request + 1 rounded up to a 16-byte granule,
 * or now and then one granule more (a free list refilled from a larger class). The
 * requests are one byte short of a granule and 32 bytes apart, so each test's objects
 * have sizes no other test's can have. */
enum {
    SIZE_A = 15, SIZE_B = 47, SIZE_C = 79, SIZE_KEPT = 111, SIZE_GARBAGE = 143,
    SIZE_OFF = 175, SIZE_DELTA = 207, SIZE_STATS = 239, SIZE_STATS2 = 271,
    SIZE_FRESH = 303, SIZE_LOST = 335, SIZE_FLIP = 367, SIZE_SAMPLED = 511,
};

/* Totals of the records of one size in a snapshot. */
struct site { uint64_t allocs, inuse; int records; const uintptr_t *pcs; int npcs; };

/* What bdwgc hands out for a request of `size` bytes. */
static size_t handed_out(size_t size) { return (size + 1 + 15) / 16 * 16; }

static struct site site_of(const struct sampler_snapshot *s, size_t size)
{
    struct site r = {0};
    for (size_t i = 0; i < s->n; i++) {
        const struct heapsample *h = &s->records[i];
        if (h->size < handed_out(size) || h->size > handed_out(size) + 16 || (h->alloc_count == 0 && h->inuse_count == 0)) continue;
        r.allocs += h->alloc_count;
        r.inuse += h->inuse_count;
        r.records += h->size == handed_out(size);   /* records of the usual size */
        r.pcs = h->pcs;
        r.npcs = h->npcs;
    }
    return r;
}

static __attribute__((noinline, noclone, no_icf)) void allocate_at_a(int n, size_t size)
{
    for (int i = 0; i < n; i++) gcheap_alloc_data(size);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline, noclone, no_icf)) void allocate_at_b(int n, size_t size)
{
    for (int i = 0; i < n; i++) gcheap_alloc_data(size);
    __asm__ volatile("" ::: "memory");
}

TEST(rate_one_records_every_allocation_exactly_per_site_and_size)
{
    CHECK_EQ_INT(sampler_set_rate(1), 0);
    CHECK_EQ_INT(sampler_rate(), 1);
    allocate_at_a(1000, SIZE_A);
    allocate_at_b(700, SIZE_B);
    allocate_at_a(301, SIZE_C);
    struct sampler_snapshot s;
    CHECK_EQ_INT(sampler_snapshot(&s, 0), 0);
    CHECK_EQ_INT(s.rate, 1);
    struct site a = site_of(&s, SIZE_A), b = site_of(&s, SIZE_B), c = site_of(&s, SIZE_C);
    sampler_snapshot_free(&s);
    CHECK_EQ_U64(a.allocs, 1000);
    CHECK_EQ_U64(b.allocs, 700);
    CHECK_EQ_U64(c.allocs, 301);
    CHECK_EQ_INT(a.records, 1);         /* one stack, one size: one record */
    CHECK_EQ_INT(b.records, 1);
    CHECK_EQ_INT(c.records, 1);
    CHECK_GE(a.npcs, 1);
    CHECK_GE(b.npcs, 1);
    CHECK_NE_INT(a.pcs[0], b.pcs[0]);    /* different call sites, different leaf frames */
}

/* Roots (static data is scanned), so what they point to stays reachable; volatile so
 * that the compiler keeps stores nobody reads back. */
static void *volatile kept[2000];

static __attribute__((noinline, noclone, no_icf)) void keep_some(int first, int n, size_t size)
{
    for (int i = 0; i < n; i++) kept[first + i] = gcheap_alloc_data(size);
}

static void drop_kept(void) { for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) kept[i] = NULL; }

TEST(in_use_after_a_collection_counts_the_reachable_objects)
{
    CHECK_EQ_INT(sampler_set_rate(1), 0);
    keep_some(0, 2000, SIZE_KEPT);
    allocate_at_b(2000, SIZE_GARBAGE);
    struct sampler_snapshot s;
    CHECK_EQ_INT(sampler_snapshot(&s, 1), 0);
    struct site k = site_of(&s, SIZE_KEPT), g = site_of(&s, SIZE_GARBAGE);
    sampler_snapshot_free(&s);
    CHECK_EQ_U64(k.allocs, 2000);
    CHECK_EQ_U64(k.inuse, 2000);
    CHECK_EQ_U64(g.allocs, 2000);
    CHECK_LE_U64(g.inuse, 10);           /* a conservative collector may keep a stray few */
    drop_kept();
}

TEST(in_use_is_as_of_the_last_completed_collection)
{
    CHECK_EQ_INT(sampler_set_rate(1), 0);
    gcheap_collect();
    keep_some(0, 10, SIZE_FRESH);        /* 43 KB: far from triggering a collection */
    struct sampler_snapshot s;
    CHECK_EQ_INT(sampler_snapshot(&s, 0), 0);
    struct site before_gc = site_of(&s, SIZE_FRESH);
    sampler_snapshot_free(&s);
    CHECK_EQ_INT(sampler_snapshot(&s, 1), 0);
    struct site after_gc = site_of(&s, SIZE_FRESH);
    sampler_snapshot_free(&s);
    drop_kept();
    CHECK_EQ_U64(before_gc.allocs, 10);
    CHECK_EQ_U64(before_gc.inuse, 0);    /* allocated after the last collection: not yet */
    CHECK_EQ_U64(after_gc.inuse, 10);    /* the collection found them reachable */
}

TEST(rate_zero_records_nothing)
{
    CHECK_EQ_INT(sampler_set_rate(1), 0);
    struct sampler_stats before, after;
    sampler_stats(&before);
    CHECK_EQ_INT(sampler_set_rate(0), 0);
    CHECK_EQ_INT(sampler_rate(), 0);
    allocate_at_a(5000, SIZE_OFF);
    sampler_stats(&after);
    CHECK_EQ_INT(after.rate, 0);
    CHECK_EQ_U64(after.samples, before.samples);
    CHECK_EQ_U64(after.records, before.records);
    struct sampler_snapshot s;
    CHECK_EQ_INT(sampler_snapshot(&s, 0), 0);
    struct site off = site_of(&s, SIZE_OFF);
    sampler_snapshot_free(&s);
    CHECK_EQ_U64(off.allocs, 0);
    CHECK_EQ_INT(sampler_set_rate(1), 0);          /* and back on */
    allocate_at_a(10, SIZE_OFF);
    CHECK_EQ_INT(sampler_snapshot(&s, 0), 0);
    off = site_of(&s, SIZE_OFF);
    sampler_snapshot_free(&s);
    CHECK_EQ_U64(off.allocs, 10);
}

TEST(negative_rate_is_refused_and_changes_nothing)
{
    CHECK_EQ_INT(sampler_set_rate(4096), 0);
    errno = 0;
    CHECK_EQ_INT(sampler_set_rate(-1), -1);
    CHECK_EQ_INT(errno, EINVAL);
    CHECK_EQ_INT(sampler_rate(), 4096);
    CHECK_EQ_INT(sampler_set_rate(INT64_MIN), -1);
    CHECK_EQ_INT(sampler_rate(), 4096);
    CHECK_EQ_INT(sampler_set_rate(1), 0);
}

TEST(snapshot_delta_subtracts_the_earlier_snapshot)
{
    CHECK_EQ_INT(sampler_set_rate(1), 0);
    allocate_at_a(400, SIZE_DELTA);
    allocate_at_b(50, SIZE_B);
    struct sampler_snapshot start, end;
    CHECK_EQ_INT(sampler_snapshot(&start, 0), 0);
    allocate_at_a(250, SIZE_DELTA);
    CHECK_EQ_INT(sampler_snapshot(&end, 0), 0);
    CHECK_EQ_U64(site_of(&end, SIZE_DELTA).allocs, 650);
    uint64_t b_total = site_of(&end, SIZE_B).allocs;
    sampler_snapshot_delta(&end, &start);
    struct site d = site_of(&end, SIZE_DELTA), b = site_of(&end, SIZE_B);
    sampler_snapshot_free(&start);
    sampler_snapshot_free(&end);
    CHECK_GE_U64(b_total, 750);                    /* 700 + 50 from this site, ever */
    CHECK_EQ_U64(d.allocs, 250);
    CHECK_EQ_U64(b.allocs, 0);                     /* nothing at B inside the window */
}

/* n objects at one stack, alternating between two sizes, kept from kept[first]. */
static __attribute__((noinline, noclone, no_icf)) void keep_two_sizes(int first, int n, size_t s1, size_t s2)
{
    for (int i = 0; i < n; i++) kept[first + i] = gcheap_alloc_data(i % 2 ? s2 : s1);
}

TEST(stats_count_samples_stacks_records_and_tracked_objects)
{
    CHECK_EQ_INT(sampler_set_rate(1), 0);
    struct sampler_snapshot s;
    CHECK_EQ_INT(sampler_snapshot(&s, 1), 0);      /* reap earlier garbage first */
    sampler_snapshot_free(&s);
    struct sampler_stats before, after;
    sampler_stats(&before);
    keep_two_sizes(0, 30, SIZE_STATS, SIZE_STATS2);    /* one stack, two records */
    keep_some(30, 20, SIZE_STATS);                      /* same size, another stack */
    sampler_stats(&after);
    CHECK_EQ_INT(after.rate, 1);
    CHECK_EQ_U64(after.samples - before.samples, 50);
    CHECK_EQ_U64(after.stacks - before.stacks, 2);
    CHECK_EQ_U64(after.records - before.records, 3);
    CHECK_EQ_U64(after.tracked - before.tracked, 50);   /* all reachable */
    drop_kept();
    CHECK_EQ_INT(sampler_snapshot(&s, 1), 0);      /* the collection frees all 50 */
    sampler_snapshot_free(&s);
    sampler_stats(&after);
    CHECK_LE_U64(after.tracked, before.tracked + 5);
}

/* With no room to track objects (the limit a test may set; in production, out of
 * memory), every sampled allocation is lost, and counted so. */
TEST(samples_that_cannot_be_recorded_are_counted_lost)
{
    CHECK_EQ_INT(sampler_set_rate(1), 0);
    struct sampler_stats before, during, after;
    sampler_stats(&before);
    sampler__set_track_limit(0);
    allocate_at_a(300, SIZE_LOST);
    sampler_stats(&during);
    sampler__set_track_limit(SIZE_MAX);
    allocate_at_a(10, SIZE_LOST);
    sampler_stats(&after);
    struct sampler_snapshot s;
    CHECK_EQ_INT(sampler_snapshot(&s, 0), 0);
    struct site lost = site_of(&s, SIZE_LOST);
    sampler_snapshot_free(&s);
    CHECK_EQ_U64(during.samples - before.samples, 300);
    CHECK_EQ_U64(during.lost - before.lost, 300);
    CHECK_LE_U64(during.tracked, before.tracked);
    CHECK_EQ_U64(after.lost, during.lost);             /* room again: nothing lost */
    CHECK_EQ_U64(lost.allocs, 10);                     /* only what could be recorded */
}

TEST(sampled_rate_picks_objects_with_probability_one_minus_exp_minus_size_over_rate)
{
    enum { RATE = 4096, N = 40000 };
    CHECK_EQ_INT(sampler_set_rate(RATE), 0);
    struct sampler_stats before, after;
    sampler_stats(&before);
    allocate_at_a(N, SIZE_SAMPLED);
    sampler_stats(&after);
    CHECK_EQ_INT(sampler_set_rate(1), 0);
    double p = 1.0 - exp(-(double)handed_out(SIZE_SAMPLED) / RATE);   /* 0.1175: 4700 expected */
    double want = N * p, sd = sqrt(N * p * (1 - p));      /* sd 64 */
    CHECK_NEAR((double)(after.samples - before.samples), want, 6 * sd);
}

TEST(changing_the_rate_two_thousand_times_keeps_one_record_per_stack_and_size)
{
    /* Rates 2..2001, ten 336-byte objects at each (sampled with probability 1 down to
     * 0.15), then exact: one record, whose estimate is the 20,000 objects allocated
     * (each sample weighed at its own rate: the sd of the sum is about 200). */
    struct sampler_stats before, after;
    sampler_stats(&before);
    for (int i = 0; i < 2000; i++) {
        CHECK_EQ_INT(sampler_set_rate(2 + i), 0);
        allocate_at_a(10, SIZE_FLIP);
    }
    CHECK_EQ_INT(sampler_set_rate(1), 0);
    sampler_stats(&after);
    struct sampler_snapshot s;
    CHECK_EQ_INT(sampler_snapshot(&s, 0), 0);
    struct site f = site_of(&s, SIZE_FLIP);
    sampler_snapshot_free(&s);
    CHECK_EQ_INT(f.records, 1);
    CHECK_LE_U64(after.records - before.records, 2);   /* now and then a granule more */
    CHECK_NEAR((double)f.allocs, 20000.0, 1000.0);
}

int main(void)
{
    gcheap_init();
    /* The test's size arithmetic must be bdwgc's (allocated before the profiler starts;
     * objects: unsampled small strings would be carved, and the rule is the same). */
    const size_t sizes[] = {SIZE_A, SIZE_B, SIZE_C, SIZE_KEPT, SIZE_GARBAGE, SIZE_OFF,
                            SIZE_DELTA, SIZE_STATS, SIZE_STATS2, SIZE_FRESH, SIZE_LOST, SIZE_FLIP,
                            SIZE_SAMPLED};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (gcheap_size(gcheap_alloc(sizes[i])) != handed_out(sizes[i])) {
            printf("FAIL test_sampler: bdwgc hands out %zu bytes for %zu, not %zu\n",
                   gcheap_size(gcheap_alloc(sizes[i])), sizes[i], handed_out(sizes[i]));
            return 1;
        }
    if (sampler_init(1) != 0) {
        printf("FAIL test_sampler: sampler_init failed\n");
        return 1;
    }
    RUN(rate_one_records_every_allocation_exactly_per_site_and_size);
    RUN(in_use_after_a_collection_counts_the_reachable_objects);
    RUN(in_use_is_as_of_the_last_completed_collection);
    RUN(rate_zero_records_nothing);
    RUN(negative_rate_is_refused_and_changes_nothing);
    RUN(snapshot_delta_subtracts_the_earlier_snapshot);
    RUN(stats_count_samples_stacks_records_and_tracked_objects);
    RUN(samples_that_cannot_be_recorded_are_counted_lost);
    RUN(sampled_rate_picks_objects_with_probability_one_minus_exp_minus_size_over_rate);
    RUN(changing_the_rate_two_thousand_times_keeps_one_record_per_stack_and_size);
    UNIT_EXIT();
}
