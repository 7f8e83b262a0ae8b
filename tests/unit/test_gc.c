/* Unit tests for gc/: allocation kinds, handed-out sizes, collection of garbage,
 * survival at mark end, the sampling countdown, thread registration (and its refusal
 * past the table) and collection-event fan-out. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "gc/gcevents.h"
#include "gc/gcheap.h"
#include "gc/gcthreads.h"
#include "tests/unit/unit.h"

TEST(alloc_returns_zeroed_pointer_memory)
{
    unsigned char *p = gcheap_alloc(4096);
    for (int i = 0; i < 4096; i++) CHECK_EQ_INT(p[i], 0);
}

static void *allocate_in_thread(void *unused)
{
    (void)unused;
    gcthreads_enter();
    for (int i = 0; i < 1000; i++) gcheap_alloc_data(1000);
    return NULL;
}

TEST(allocated_total_counts_every_threads_bytes_within_an_interval)
{
    gcheap_set_sampler(NULL, NULL);           /* 256 KiB intervals */
    uint64_t before = gcheap_allocated_total();
    for (int i = 0; i < 4000; i++) gcheap_alloc(500);     /* 4000 x 512 B here */
    pthread_t t;
    pthread_create(&t, NULL, allocate_in_thread, NULL);   /* 1000 x 1024 B there */
    pthread_join(t, NULL);
    uint64_t got = gcheap_allocated_total() - before;
    uint64_t want = 4000 * gcheap_size(gcheap_alloc(500)) + 1000 * gcheap_size(gcheap_alloc_data(1000));
    CHECK_LE_U64(got, want);
    CHECK_GE_U64(got + 2 * (256 << 10), want);   /* each thread lags by < one interval */
}

/* ---- handed-out sizes: what the sampler is told is what bdwgc gave -------------------- */

static size_t told_size, real_size;
static long size_mismatches;
static intptr_t sample_all(void) { return 0; }
static intptr_t note_size(void *obj, size_t size)
{
    told_size = size;
    real_size = gcheap_size(obj);
    if (told_size != real_size) size_mismatches++;
    return 0;   /* exact: every allocation is sampled */
}

TEST(sampled_size_is_gc_size_for_every_request_up_to_8k)
{
    size_mismatches = 0;
    gcheap_set_sampler(note_size, sample_all);
    for (size_t n = 0; n <= 8192; n++) {
        gcheap_alloc(n);
        if (told_size != real_size) break;
        gcheap_alloc_data(n);
        if (told_size != real_size) break;
    }
    size_t sizes[] = {10000, 65536, 100000, 1 << 20, 3000001};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && !size_mismatches; i++) gcheap_alloc_data(sizes[i]);
    gcheap_set_sampler(NULL, NULL);
    if (size_mismatches) UNIT__FAIL("told %zu, GC_size %zu", told_size, real_size);
}

/* Objects (gcheap_alloc: small pointer-free requests are carved, see below). */
TEST(small_sizes_are_whole_granules_with_the_extra_byte)
{
    CHECK_EQ_INT(gcheap_size(gcheap_alloc(0)), 16);
    CHECK_EQ_INT(gcheap_size(gcheap_alloc(4)), 16);
    CHECK_EQ_INT(gcheap_size(gcheap_alloc(15)), 16);
    CHECK_EQ_INT(gcheap_size(gcheap_alloc(16)), 32);    /* 16 + the extra byte */
    CHECK_EQ_INT(gcheap_size(gcheap_alloc_data(65)), 80);   /* past the carved sizes */
    CHECK_EQ_INT(gcheap_size(gcheap_alloc(8176)), 8192);     /* a strlist chunk */
}

/* Stop-the-world mode (this test's) carves small strings too: unsampled ones follow
 * each other in the thread's block, with no granule rounding and no extra byte. */
TEST(small_strings_are_carved_back_to_back_in_stop_the_world_mode)
{
    int adjacent = 0;
    char *prev = gcheap_alloc_data(4);   /* "999" */
    for (int i = 0; i < 100; i++) {
        char *s = gcheap_alloc_data(4);
        adjacent += s == prev + 4;
        prev = s;
    }
    CHECK_GE_U64((uint64_t)adjacent, 90);   /* a new block or a poll now and then */
}

/* A sampled rate: the string a sample falls on stands for carved strings, so it is told
 * their size (4), and the samples, one per 4096 bytes counted, count the strings at
 * 4 bytes each (told its object size, 16, each would stand for a quarter as many).
 * Exact mode, where every string is an object told its GC_size, is the test above. */
static long strings_sampled, told_other_sizes;
static intptr_t every_4k(void) { return 4096; }
static intptr_t note_string(void *obj, size_t size)
{
    (void)obj;
    strings_sampled++;
    told_other_sizes += size != 4;
    return 4096;
}

TEST(a_sampled_string_is_told_its_carved_size)
{
    strings_sampled = told_other_sizes = 0;
    gcheap_set_sampler(note_string, every_4k);
    for (int i = 0; i < 100000; i++) gcheap_alloc_data(4);   /* 400,000 bytes carved */
    gcheap_set_sampler(NULL, NULL);
    CHECK_EQ_INT(told_other_sizes, 0);
    CHECK_GE(strings_sampled, 96);    /* 400,000 / 4096 = 97.7 */
    CHECK_LE(strings_sampled, 98);
}

static uint64_t bdwgc_total_allocated(void)
{
    struct gcheap_stats st;
    gcheap_stats(&st);
    return st.total_allocated;
}

TEST(exact_credit_matches_bdwgc_total_alloc)
{
    gcheap_set_sampler(note_size, sample_all);   /* every allocation credited at once */
    uint64_t mine0 = gcheap_allocated_total(), theirs0 = bdwgc_total_allocated();
    for (int i = 0; i < 100000; i++) gcheap_alloc_data((size_t)(i % 300));   /* 16..304 B */
    for (int i = 0; i < 1000; i++) gcheap_alloc((size_t)(400 + i * 7));     /* size classes */
    uint64_t mine = gcheap_allocated_total() - mine0, theirs = bdwgc_total_allocated() - theirs0;
    gcheap_set_sampler(NULL, NULL);
    CHECK_GT_U64(mine, 16000000);
    /* bdwgc counts a free list's objects when a thread takes the list: a few KiB ahead */
    CHECK_GE_U64(theirs, mine);
    CHECK_LT_U64(theirs - mine, mine / 100);
}

TEST(garbage_is_collected_and_heap_stays_small)
{
    struct gcheap_stats before, after;
    gcheap_stats(&before);
    for (int i = 0; i < 200000; i++) {          /* 200000 x 1000 B = 200 MB of garbage */
        char *s = gcheap_alloc_data(1000);
        s[0] = (char)i;
    }
    gcheap_stats(&after);
    CHECK_GE_U64(after.collections - before.collections, 10);
    CHECK_LT_U64(after.heap_size, 64u << 20);
    CHECK_GE_U64(after.total_allocated - before.total_allocated, 200000ull * 1000);
}

/* ---- survival at mark end: how the profiler notices frees ------------------------------ */

static uintptr_t dropped_hidden, kept_hidden;   /* static, but hold only hidden pointers */
static void *volatile kept_root;                 /* a visible root (volatile: the store stays) */
static int dropped_survived = -1, kept_survived = -1;

/* A GCEV_MARK_END listener (world stopped): asks about both objects. */
static void at_mark_end(enum gcevent ev, int thread, void *ctx)
{
    (void)thread; (void)ctx;
    if (ev != GCEV_MARK_END || !kept_hidden) return;
    kept_survived = gcheap_survives_unlocked(kept_hidden);
    dropped_survived = dropped_hidden ? gcheap_survives_unlocked(dropped_hidden) : -1;
}

static __attribute__((noinline)) void make_two_objects(void)
{
    kept_root = gcheap_alloc(64);
    kept_hidden = gcheap_hide(kept_root);
    dropped_hidden = gcheap_hide(gcheap_alloc_data(100));   /* an object: not carved */
}

TEST(mark_end_sees_the_dropped_object_die_and_the_kept_one_survive)
{
    make_two_objects();
    /* Scrub the stack area the helper used, so no stale copy keeps the object. */
    volatile char scrub[4096];
    memset((char *)scrub, 0, sizeof scrub);
    int kept_always = 1;
    for (int i = 0; i < 5 && dropped_survived != 0; i++) {
        gcheap_collect();
        kept_always &= kept_survived == 1;
    }
    int dropped = dropped_survived;
    dropped_hidden = kept_hidden = 0;   /* a dead object must not be asked about again */
    CHECK(kept_always);
    CHECK_EQ_INT(dropped, 0);
}

static _Atomic long samples;
static intptr_t every_kib(void) { return 1024; }
static intptr_t count_sample(void *obj, size_t size)
{
    (void)obj; (void)size;
    atomic_fetch_add(&samples, 1);
    return 1024;
}

TEST(sampler_fires_once_per_interval_of_bytes)
{
    atomic_store(&samples, 0);
    gcheap_set_sampler(count_sample, every_kib);
    for (int i = 0; i < 10000; i++) gcheap_alloc_data(128);   /* 10000 x 144 B handed out */
    gcheap_set_sampler(NULL, NULL);
    long n = atomic_load(&samples);
    /* 1,440,000 / (1024 + up to 143 overshoot) is between 1233 and 1406 */
    CHECK_EQ_INT(gcheap_size(gcheap_alloc_data(128)), 144);
    CHECK_GE(n, 1220);
    CHECK_LE(n, 1408);
    for (int i = 0; i < 10000; i++) gcheap_alloc_data(128);
    CHECK_EQ_INT(atomic_load(&samples), n);
}

static intptr_t every_mib(void) { return 1 << 20; }
static intptr_t count_sample_mib(void *obj, size_t size)
{
    (void)obj; (void)size;
    atomic_fetch_add(&samples, 1);
    return 1 << 20;
}

TEST(rate_resets_do_not_force_samples)
{
    atomic_store(&samples, 0);
    gcheap_set_sampler(count_sample_mib, every_mib);
    for (int i = 0; i < 100; i++) {          /* 100 resets, 6.4 KB allocated in all */
        gcheap_reset_sample_countdowns();
        gcheap_alloc_data(64);
    }
    gcheap_set_sampler(NULL, NULL);
    CHECK_EQ_INT(atomic_load(&samples), 0);
}

static void *register_and_report(void *out)
{
    int *ids = out;
    ids[0] = gcthreads_enter();
    ids[1] = gcthreads_enter();   /* must be idempotent */
    gcheap_alloc(100);
    return NULL;
}

static void thread_checks(void)
{
    int a[2] = {-1, -1}, b[2] = {-1, -1};
    pthread_t t;
    pthread_create(&t, NULL, register_and_report, a);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, register_and_report, b);
    pthread_join(t, NULL);
    int id1 = a[0];
    CHECK_EQ_INT(a[1], a[0]);
    CHECK_GT(id1, 0);
    CHECK_GT(b[0], id1);
    CHECK(!gcthreads_alive(id1));          /* unregistered at exit */
    CHECK_NE_INT(gcthreads_tid(id1), 0);
    CHECK_EQ_INT(gcthreads_self(), 0);     /* main */
    gcheap_collect();                      /* would crash if a dead thread stayed registered */
}
TEST(threads_register_once_get_dense_ids_and_unregister_at_exit) { thread_checks(); }

static int seen[16], seen_n;
static void record_event(enum gcevent ev, int thread, void *ctx)
{
    (void)ctx; (void)thread;
    if (ev <= GCEV_POST_START_WORLD && seen_n < 16) seen[seen_n++] = ev;
}

TEST(collection_events_reach_listeners_in_order_and_pauses_count)
{
    uint64_t pauses = gcevents_pause_count();
    seen_n = 0;
    gcheap_collect();
    CHECK_GE(seen_n, 6);
    CHECK_EQ_INT(seen[0], GCEV_START);
    CHECK_EQ_INT(seen[seen_n - 1], GCEV_END);
    int stop = -1, start = -1;
    for (int i = 0; i < seen_n; i++) {
        if (seen[i] == GCEV_PRE_STOP_WORLD) stop = i;
        if (seen[i] == GCEV_POST_START_WORLD) start = i;
    }
    CHECK_GT(stop, 0);
    CHECK_GT(start, stop);
    CHECK_GT_U64(gcevents_pause_count(), pauses);
    CHECK_GT_U64(gcevents_pause_max_ns(), 0);
}

/* Registers in a thread of its own (ids are never reused) and reports the result. */
static void *enter_once(void *out)
{
    int *r = out;
    errno = 0;
    r[0] = gcthreads_enter();
    r[1] = errno;
    return NULL;
}

/* Runs last: it uses up every id. */
TEST(threads_past_the_table_are_refused_with_enospc_and_counted)
{
    uint64_t refused = gcthreads_refused();
    int r[2] = {0, 0};
    for (int i = gcthreads_count(); i <= GCTHREADS_MAX && r[0] >= 0; i++) {
        pthread_t t;
        CHECK_EQ_INT(pthread_create(&t, NULL, enter_once, r), 0);
        pthread_join(t, NULL);
    }
    CHECK_EQ_INT(r[0], -1);
    CHECK_EQ_INT(r[1], ENOSPC);
    CHECK_EQ_INT(gcthreads_count(), GCTHREADS_MAX);
    CHECK_EQ_U64(gcthreads_refused() - refused, 1);
}

int main(void)
{
    gcheap_init();
    gcevents_add_listener(record_event, NULL);
    gcevents_add_listener(at_mark_end, NULL);
    RUN(alloc_returns_zeroed_pointer_memory);
    RUN(allocated_total_counts_every_threads_bytes_within_an_interval);
    RUN(garbage_is_collected_and_heap_stays_small);
    RUN(mark_end_sees_the_dropped_object_die_and_the_kept_one_survive);
    RUN(sampled_size_is_gc_size_for_every_request_up_to_8k);
    RUN(small_sizes_are_whole_granules_with_the_extra_byte);
    RUN(small_strings_are_carved_back_to_back_in_stop_the_world_mode);
    RUN(a_sampled_string_is_told_its_carved_size);
    RUN(exact_credit_matches_bdwgc_total_alloc);
    RUN(sampler_fires_once_per_interval_of_bytes);
    RUN(rate_resets_do_not_force_samples);
    RUN(threads_register_once_get_dense_ids_and_unregister_at_exit);
    RUN(collection_events_reach_listeners_in_order_and_pauses_count);
    RUN(threads_past_the_table_are_refused_with_enospc_and_counted);
    UNIT_EXIT();
}
