/* Unit tests for generational mode (-gcmode generational): the write barrier
 * (gc/gcgen), partial collections as gcevents reports them, and the two routes'
 * string lists (src/strlist) kept intact through thousands of partial collections.
 *
 * Why a store must go through gcgen_store (gcgen.h): a partial collection does not
 * trace objects an earlier collection marked; only pages dirtied since are rescanned.
 * missed_barrier_* store a pointer to a new object into an old chunk behind the
 * barrier's back and watch the next partial collection free the object the chunk still
 * points at; the same store through gcgen_store keeps it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define GC_NO_THREAD_REDIRECTS 1   /* threads register through gcthreads_enter() */
#include <gc.h>

#include "gc/clock.h"
#include "gc/gcevents.h"
#include "gc/gcgen.h"
#include "gc/gcheap.h"
#include "gc/gcthreads.h"
#include "src/strlist.h"
#include "tests/unit/unit.h"

static uint64_t kind_count(enum gcevents_kind k)
{
    struct gcevents_kind_stats ks;
    gcevents_kind_stats(k, &ks);
    return ks.collections;
}

static uint64_t violations(void)
{
    struct gcgen_check_stats cs;
    gcgen_check_stats(&cs);
    return cs.violations;
}

/* ---- events: every collection is START..END, partial ones told apart ---------------- */

static int starts, ends, open_now, nested, last_kind_at_end = -1;
static void bracket(enum gcevent ev, int thread, void *ctx)
{
    (void)thread; (void)ctx;
    if (ev == GCEV_START) { nested += open_now; open_now = 1; starts++; }
    if (ev == GCEV_END) { open_now = 0; ends++; last_kind_at_end = (int)gcevents_current_kind(); }
}

TEST(partial_collections_reach_listeners_as_start_and_end)
{
    uint64_t partial0 = kind_count(GCEVENTS_PARTIAL), full0 = kind_count(GCEVENTS_FULL);
    int starts0 = starts, ends0 = ends;
    for (int i = 0; i < 40; i++) gcheap_collect_paced();
    uint64_t partial = kind_count(GCEVENTS_PARTIAL) - partial0, full = kind_count(GCEVENTS_FULL) - full0;
    CHECK_EQ_INT(starts - starts0, 40);
    CHECK_EQ_INT(ends - ends0, 40);
    CHECK_EQ_INT(nested, 0);
    CHECK_EQ_U64(partial + full, 40);
    /* one in GCHEAP_FULL_FREQ + 1 is full, more if the heap grew */
    CHECK_GE_U64(partial, 40 / (GCHEAP_FULL_FREQ + 1));
    CHECK_GE_U64(full, 1);
    gcheap_collect();
    CHECK_EQ_INT(last_kind_at_end, GCEVENTS_FULL);   /* ?gc=1 and the limits: always full */
    struct gcevents_kind_stats ks;
    gcevents_kind_stats(GCEVENTS_PARTIAL, &ks);
    CHECK_GE_U64(ks.stops, ks.collections);
    CHECK_GE_U64(ks.lock_ns, ks.pause_ns);               /* the lock is held across the pause */
    CHECK_GT_U64(ks.lock_max_ns, 0);
}

/* The per-collection figures (NumGC, PauseNs, the blocked times) and the per-kind ones
 * count the same collections: the kinds add up to the totals, and every collection in
 * the history has a pause, a blocked time covering it, and the kind it was counted
 * under. */
TEST(kinds_split_the_per_collection_figures)
{
    for (int i = 0; i < 20; i++) gcheap_collect_paced();
    gcheap_collect();
    struct gcevents_kind_stats p, f;
    gcevents_kind_stats(GCEVENTS_PARTIAL, &p);
    gcevents_kind_stats(GCEVENTS_FULL, &f);
    CHECK_GT_U64(p.collections, 0);
    CHECK_EQ_U64(p.collections + f.collections, gcevents_pause_count());
    CHECK_EQ_U64(p.pause_ns + f.pause_ns, gcevents_pause_total_ns());
    CHECK_EQ_U64(p.lock_ns + f.lock_ns, gcevents_blocked_total_ns());
    CHECK_EQ_U64(f.lock_last_ns, gcevents_blocked_last_ns());   /* the last one was full */
    static struct gcevents_pause h[GCEVENTS_PAUSE_HISTORY];
    int n = gcevents_pauses_since(0, h, GCEVENTS_PAUSE_HISTORY), partial = 0;
    CHECK_GE(n, 21);
    for (int i = 0; i < n; i++) {
        CHECK_GT_U64(h[i].duration_ns, 0);
        CHECK_GE_U64(h[i].blocked_ns, h[i].duration_ns);
        partial += h[i].kind == GCEVENTS_PARTIAL;
    }
    CHECK_GT(partial, 0);
    CHECK_EQ_INT(h[n - 1].kind, GCEVENTS_FULL);
}

/* ---- the barrier ------------------------------------------------------------------ */

static struct strlist old_list = STRLIST_INIT;   /* static: a root, like the leaker's */
static uintptr_t victim_hidden;                   /* the stored object, hidden */
static int victim_survived = -1;

/* A GCEV_MARK_END listener: did the mark reach the object the chunk points at? */
static void watch_victim(enum gcevent ev, int thread, void *ctx)
{
    (void)thread; (void)ctx;
    if (ev == GCEV_MARK_END && victim_hidden) victim_survived = gcheap_survives_unlocked(victim_hidden);
}

/* Allocates a new object (a pointer-holding one: strings may be carved from blocks the
 * allocator itself keeps alive) and stores it into slot 1 of the list's old chunk,
 * through the barrier or not. noinline: no copy of the pointer stays in the caller. */
static __attribute__((noinline)) void store_new_object(int through_barrier)
{
    char *s = gcheap_alloc(48);
    strcpy(s, "kept only by an old chunk");
    struct strlist_chunk *c = old_list.head;
    if (through_barrier) gcgen_store(c->born, &c->items[1], s);
    else c->items[1] = s;   /* what gcgen_store exists to prevent */
    victim_hidden = gcheap_hide(s);
}

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char scrub[8192];
    memset((char *)scrub, 0, sizeof scrub);
}

/* Makes the list's chunk old (a full collection marks it), stores a new object into it,
 * then runs paced collections until one of them is partial. Returns whether that
 * partial collection's mark reached the object (-1: no partial collection came). */
static int store_then_collect_partial(int through_barrier)
{
    if (!old_list.head) strlist_push(&old_list, "first", 5);
    old_list.head->items[1] = NULL;
    gcheap_collect();
    store_new_object(through_barrier);
    scrub_stack();
    victim_survived = -1;
    for (int i = 0; i < 4 * (GCHEAP_FULL_FREQ + 2); i++) {
        uint64_t partial0 = kind_count(GCEVENTS_PARTIAL);
        gcheap_collect_paced();
        if (kind_count(GCEVENTS_PARTIAL) > partial0) break;
        victim_survived = -1;   /* a full collection found it through the chunk: again */
        old_list.head->items[1] = NULL;
        victim_hidden = 0;
        gcheap_collect();
        store_new_object(through_barrier);
        scrub_stack();
    }
    int survived = victim_survived;
    victim_hidden = 0;   /* a dead object must not be asked about again */
    old_list.head->items[1] = NULL;
    return survived;
}

TEST(missed_barrier_lets_a_partial_collection_free_an_object_an_old_chunk_points_at)
{
    uint64_t v0 = violations();
    int survived = 1;
    for (int attempt = 0; attempt < 5 && survived != 0; attempt++)   /* a stale stack copy */
        survived = store_then_collect_partial(0);                      /* may keep it once */
    CHECK_EQ_INT(survived, 0);
    CHECK_GT_U64(violations(), v0);   /* and the debug check saw the dangling pointer */
}

TEST(barrier_keeps_the_object_through_partial_collections)
{
    uint64_t v0 = violations();
    for (int attempt = 0; attempt < 5; attempt++) CHECK_EQ_INT(store_then_collect_partial(1), 1);
    CHECK_EQ_U64(violations(), v0);
}

/* ---- carved strings: the block being carved lives while its thread carves it -------- */

static uintptr_t block_hidden;
static int block_survived = -1;

static void watch_block(enum gcevent ev, int thread, void *ctx)
{
    (void)thread; (void)ctx;
    if (ev == GCEV_MARK_END && block_hidden) block_survived = gcheap_survives_unlocked(block_hidden);
}

/* Carves one string (the countdown may make one an object of its own: then again),
 * notes its block and drops the string. */
static __attribute__((noinline)) void carve_and_drop_a_string(void)
{
    for (;;) {
        char *s = gcheap_alloc_data(4);
        void *block = GC_base(s);
        if (GC_size(block) < 4096) continue;
        memcpy(s, "abc", 4);
        block_hidden = gcheap_hide(block);
        return;
    }
}

/* A server thread's part: carves, drops the string, and waits (registered, so its
 * block is its own) while the main thread collects. */
static pthread_mutex_t block_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cond = PTHREAD_COND_INITIALIZER;
static int block_stage;

static void block_step(int wait_for, int then)
{
    pthread_mutex_lock(&block_lock);
    while (block_stage < wait_for) pthread_cond_wait(&block_cond, &block_lock);
    block_stage = then;
    pthread_cond_broadcast(&block_cond);
    pthread_mutex_unlock(&block_lock);
}

static void *carver(void *unused)
{
    (void)unused;
    gcthreads_enter();
    for (int i = 0; i < 1000; i++) gcheap_alloc_data(8);   /* arms the thread, starts a block */
    carve_and_drop_a_string();
    scrub_stack();
    block_step(0, 1);
    block_step(2, 2);   /* until the main thread has collected */
    return NULL;
}

TEST(the_block_being_carved_survives_collections_that_find_none_of_its_strings)
{
    pthread_t t;
    block_stage = 0;
    pthread_create(&t, NULL, carver, NULL);
    block_step(1, 1);
    block_survived = -1;
    gcheap_collect();
    int after_full = block_survived;
    if (after_full == 1) gcheap_collect_paced();
    int after_paced = block_survived;
    block_hidden = 0;
    block_step(1, 2);
    pthread_join(t, NULL);
    CHECK_EQ_INT(after_full, 1);
    CHECK_EQ_INT(after_paced, 1);
}

/* ---- both routes through thousands of partial collections --------------------------- */

#define LEAKER_THREADS 2
#define NOLEAKER_THREADS 2
#define LEAK_REPS 97          /* strings per leaker request (not a chunk multiple) */
#define NOLEAK_REPS 1000      /* per noleaker request, as the server's default */
#define LEAK_REQUESTS 400     /* per leaker thread */
#define MIN_PARTIAL 2000      /* partial collections the run must see */
#define RUN_LIMIT_NS (UINT64_C(120) * 1000000000)

static struct strlist leaked = STRLIST_INIT;   /* the leaker's global list: a root */
static pthread_mutex_t leaked_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic long leak_requests, noleak_requests;
static _Atomic int stop_noleakers;

/* The leaker's route: a request-local list, then appended one by one under the lock. */
static void *leaker(void *unused)
{
    (void)unused;
    gcthreads_enter();
    for (int r = 0; r < LEAK_REQUESTS; r++) {
        struct strlist mine = STRLIST_INIT;
        strlist_fill_numbers(&mine, LEAK_REPS);
        pthread_mutex_lock(&leaked_lock);
        strlist_append_all(&leaked, &mine);
        pthread_mutex_unlock(&leaked_lock);
        atomic_fetch_add(&leak_requests, 1);
    }
    return NULL;
}

/* The noleaker's route: the same list, dropped. Until told to stop. */
static void *noleaker(void *unused)
{
    (void)unused;
    gcthreads_enter();
    while (!atomic_load(&stop_noleakers)) {
        struct strlist mine = STRLIST_INIT;
        strlist_fill_numbers(&mine, NOLEAK_REPS);
        atomic_fetch_add(&noleak_requests, 1);
    }
    return NULL;
}

/* Every string of the list, in order: request after request of "0".."LEAK_REPS-1".
 * Returns the index of the first wrong one, or -1. */
static long first_bad_string(const struct strlist *l, size_t *count)
{
    char want[32];
    size_t i = 0;
    for (const struct strlist_chunk *c = l->head; c; c = c->next)
        for (size_t j = 0; j < c->used; j++, i++) {
            snprintf(want, sizeof want, "%zu", i % LEAK_REPS);
            if (!c->items[j] || strcmp(c->items[j], want) != 0) return (long)i;
        }
    *count = i;
    return -1;
}

TEST(both_routes_keep_every_string_through_thousands_of_partial_collections)
{
    uint64_t partial0 = kind_count(GCEVENTS_PARTIAL), v0 = violations();
    pthread_t t[LEAKER_THREADS + NOLEAKER_THREADS];
    for (int i = 0; i < NOLEAKER_THREADS; i++) pthread_create(&t[i], NULL, noleaker, NULL);
    for (int i = 0; i < LEAKER_THREADS; i++) pthread_create(&t[NOLEAKER_THREADS + i], NULL, leaker, NULL);
    for (int i = 0; i < LEAKER_THREADS; i++) pthread_join(t[NOLEAKER_THREADS + i], NULL);
    uint64_t t0 = clock_mono_ns();
    while (kind_count(GCEVENTS_PARTIAL) - partial0 < MIN_PARTIAL && clock_mono_ns() - t0 < RUN_LIMIT_NS) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop_noleakers, 1);
    for (int i = 0; i < NOLEAKER_THREADS; i++) pthread_join(t[i], NULL);
    uint64_t partial = kind_count(GCEVENTS_PARTIAL) - partial0;
    printf("# %llu partial and %llu full collections so far; %ld noleaker requests; %llu dirtying stores\n",
           (unsigned long long)partial, (unsigned long long)kind_count(GCEVENTS_FULL),
           atomic_load(&noleak_requests), (unsigned long long)gcgen_dirtied_stores());
    CHECK_GE_U64(partial, MIN_PARTIAL);
    for (int i = 0; i < 3; i++) gcheap_collect_paced();   /* and a few more after the last store */
    size_t count = 0;
    long bad = first_bad_string(&leaked, &count);
    CHECK_EQ_INT(bad, -1);
    CHECK_EQ_U64(count, (uint64_t)LEAKER_THREADS * LEAK_REQUESTS * LEAK_REPS);
    CHECK_EQ_U64(leaked.count, count);
    CHECK_EQ_U64(violations(), v0);
}

int main(void)
{
    gcheap_init_mode(GCHEAP_GENERATIONAL);
    /* GOGC 5: a collection for every 5% of the live heap allocated (at least 200 KB) */
    gcheap_configure(&(struct gcheap_config){.initial_heap = 0, .gogc = 5, .memlimit = 0, .maxheap = 0});
    if (gcgen_check_start(GCGEN_CHECK_COUNT) < 0) {
        printf("FAIL main: cannot start the barrier check\n");
        return 1;
    }
    gcevents_add_listener(bracket, NULL);
    gcevents_add_listener(watch_victim, NULL);
    gcevents_add_listener(watch_block, NULL);
    RUN(partial_collections_reach_listeners_as_start_and_end);
    RUN(kinds_split_the_per_collection_figures);
    RUN(missed_barrier_lets_a_partial_collection_free_an_object_an_old_chunk_points_at);
    RUN(barrier_keeps_the_object_through_partial_collections);
    RUN(the_block_being_carved_survives_collections_that_find_none_of_its_strings);
    RUN(both_routes_keep_every_string_through_thousands_of_partial_collections);
    UNIT_EXIT();
}
