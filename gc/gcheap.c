/* gcheap: the allocation front end of programs built on gcheap (memdemo): bdwgc
 * initialisation (the policy itself is gcpolicy.c's or the caller's), the allocation
 * API with the per-thread countdown, bounded allocation, explicit and shared forced
 * collections. The observer functions of gcheap.h (sizes, hidden pointers, marks, the
 * allocation lock, statistics) are in gcview.c, which libgcprof shares. See gcheap.h
 * for the contracts.
 *
 * Per-thread accounts: gcaccount.c's (the countdown, the bytes credited, the next
 * sample, resets); a thread is armed on its first slow path once gcthreads knows it
 * (an unregistered thread stays unarmed, and every allocation of it takes the slow
 * path). A thread's bounded-scope and carving state is its own (thread-local here).
 * Small strings are carved from blocks the thread owns, in both modes (see "carved
 * strings" below).
 *
 * One countdown serves two clients: it expires at the next heap-profile sample or
 * after GCHEAP_POLL_GAP bytes, whichever is nearer, and the slow path then samples
 * (if the sample is due) and polls the collection policy (gcheap_policy: the pacer in
 * memdemo), which decides whether to collect. Sampling is
 * unchanged by the extra stops: the sample is still taken by the allocation during
 * which the thread's bytes cross the drawn interval. The slow path lives in the
 * allocator text section so stack capture can cut it off.
 *
 * Sizes: the countdown and the sampler count what bdwgc handed out (GC_size), which is
 * what its TotalAlloc adds, so the profile's bytes and bdwgc's agree. For small
 * requests that size is computed here instead of asked (see count_handed_out()).
 * Carved strings count the bytes they were carved (string_object() has the rule).
 */
#include "gc/gcheap.h"

#include <gc.h>
#include <gc/gc_mark.h>
#include <gc/gc_tiny_fl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc/errors.h"
#include "gc/clock.h"
#include "gc/gcaccount.h"
#include "gc/gcevents.h"
#include "gc/gcgen.h"
#include "gc/gcthreads.h"

/* Bytes to the next "sample" when no sampler is installed: finite so that a lost reset
 * heals (the countdown itself is at most GCHEAP_POLL_GAP either way). */
#define GCHEAP_UNSAMPLED_COUNTDOWN ((intptr_t)256 << 10)

/* Bytes of kept heap a bounded scope asks the policy for at a time. */
#define BOUNDED_GRANT ((size_t)64 << 10)

/* ---- no policy: bdwgc's own trigger (see gcheap.h) ---------------------------------- */

static void no_poll(void) {}
static int collect_once(int raise) { (void)raise; GC_gcollect(); return 0; }
static size_t grant_all(size_t want, size_t need, uint64_t *epoch) { (void)need; *epoch = 0; return want; }
static void no_refusal_count(void) {}
static uint64_t no_epoch(void) { return 0; }
static uint64_t no_goal(void) { return 0; }
static void no_outside(uint64_t bytes) { (void)bytes; }

static const struct gcheap_policy no_policy = {no_poll, collect_once, grant_all, no_refusal_count,
                                               no_epoch, no_goal, no_outside};
static const struct gcheap_policy *policy = &no_policy;   /* set once at init */

/* The calling thread's allocation state beside its account: only it reads or writes. */
struct scope {
    int bounded;                   /* inside gcheap_bounded_begin/end */
    int refused;                   /* a bounded allocation of this scope was refused */
    size_t grant;                  /* kept-heap bytes granted and not yet allocated */
    uint64_t grant_epoch;          /* policy->epoch() the grant belongs to */
    char *carve_next, *carve_end;  /* the rest of the block being carved */
};

static enum gcheap_mode mode = GCHEAP_STW;
static __thread struct scope my;

/* Gives the calling thread its account. Returns 0, or -1 for a thread that is not
 * registered (it stays unarmed). */
static int arm_current_thread(void) { return gcaccount_arm(gcthreads_self()); }

/* Called when the countdown went negative, for the object `obj` of `n` bytes just
 * allocated: credits the bytes, samples the object if the sample is due (the sampler
 * is told what bdwgc really gave: the rule below is exact for nearly every small
 * allocation, not for all of them), polls the policy (which may collect: obj is on
 * this stack, so it survives) and re-arms. */
GCHEAP_ALLOC_TEXT static void slow_path(void *obj, size_t n)
{
    if (!gcaccount_armed() && arm_current_thread() < 0) return;
    if (gcaccount_settle(n)) gcaccount_sample(obj);
    policy->poll();
    gcaccount_rearm(GCHEAP_POLL_GAP);
}

/* ---- handed-out sizes -------------------------------------------------------------
 * bdwgc (interior pointers recognised, its default, which memdemo keeps) gives every
 * object one extra byte, so that a pointer just past its end still points into it,
 * and rounds up to whole granules (GC_GRANULE_BYTES, 16 on x86-64). A request whose
 * rounded size is below GC_TINY_FREELISTS granules (up to 383 bytes) is served from
 * the free list of exactly that many granules, thread-local or global alike; above,
 * size classes (GC_size_map) are chosen lazily, in the order sizes are first asked
 * for, so there we ask GC_size. Even below, once the heap has been churned, a thread's
 * free list is sometimes refilled with objects a granule larger (seen for about one
 * request size in a hundred, now and then), so the rule feeds only the countdown and
 * the allocated-bytes credit, where such a granule is noise; a sampled object's size is
 * GC_size's (slow_path; a carved string's is its own: string_object()). gcheap_init()
 * checks the rule against GC_size, and tests/unit/test_gc.c checks what the sampler is
 * told for every request up to 8 KiB. */
#define EXTRA_BYTES 1
#define SMALL_RULE_MAX ((size_t)(GC_TINY_FREELISTS - 1) * GC_GRANULE_BYTES - EXTRA_BYTES)

static inline size_t small_size(size_t n)
{
    return (n + EXTRA_BYTES + GC_GRANULE_BYTES - 1) & ~(size_t)(GC_GRANULE_BYTES - 1);
}

/* Aborts if this bdwgc build does not round small requests as small_size() says (a
 * build without the extra byte, or with other granules). Main thread, at init. */
static void check_small_rule(void)
{
    static const size_t probes[] = {0, 1, GC_GRANULE_BYTES - EXTRA_BYTES, GC_GRANULE_BYTES, SMALL_RULE_MAX};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        void *p = GC_MALLOC_ATOMIC(probes[i]);
        if (p && GC_size(p) == small_size(probes[i])) continue;
        fprintf(stderr, "memdemo: bdwgc gives %zu bytes for a %zu-byte request, expected %zu\n",
                p ? GC_size(p) : 0, probes[i], small_size(probes[i]));
        abort();
    }
}

static inline void count_allocation(void *obj, size_t n)
{
    if (gcaccount_spend((intptr_t)n)) slow_path(obj, n);
}

/* Requests above the small rule: bdwgc says how much it gave. Out of line, so that the
 * fast path keeps its registers (and its shape) for the common small request. */
GCHEAP_ALLOC_TEXT static void count_larger(void *obj) { count_allocation(obj, GC_size(obj)); }

/* Counts the allocation of obj for a request of n bytes, at the size bdwgc handed out. */
static inline void count_handed_out(void *obj, size_t n)
{
    if (__builtin_expect(n <= SMALL_RULE_MAX, 1)) count_allocation(obj, small_size(n));
    else count_larger(obj);
}

static void *bdwgc_alloc(size_t n, int pointer_free)
{
    return pointer_free ? GC_MALLOC_ATOMIC(n) : GC_MALLOC(n);
}

/* An infallible allocation got NULL: bdwgc is at the cap (its automatic collection is
 * off, so it grows instead of collecting and fails at the cap). Collect and retry; if
 * the live heap itself fills the cap (bounded allocations keep a reserve below it, so
 * only a heap that grew for other reasons gets here), raise the cap a step and retry.
 * Only a system that refuses memory below the raised cap ends the process. */
GCHEAP_ALLOC_TEXT static void *alloc_failed(size_t n, int pointer_free)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        if (!policy->make_room(attempt > 0) && attempt > 0) break;
        void *p = bdwgc_alloc(n, pointer_free);
        if (p) return p;
    }
    fprintf(stderr, "memdemo: out of memory allocating %zu bytes (the system refused more)\n", n);
    abort();
}

/* Bytes an object of n requested bytes takes in bdwgc's heap: small requests by the
 * rule above; up to 2 KiB their size class, from bdwgc's size map once that size has
 * been allocated (a word read without the lock: a stale 0 only means the granule
 * estimate); larger ones in whole 4 KiB blocks. tests/unit checks it against GC_size. */
size_t gcheap_footprint(size_t n)
{
    if (n <= SMALL_RULE_MAX) return small_size(n);
    size_t with_byte = n + EXTRA_BYTES;
    if (with_byte > 2048) return (with_byte + 4095) & ~(size_t)4095;
    size_t mapped = GC_get_size_map_at((int)n);
    if (mapped && mapped != (size_t)-1 && mapped >= with_byte) return mapped;
    return small_size(n);
}

/* bdwgc's allocation for an object the caller counts itself: an infallible one at the
 * cap goes through alloc_failed; in a bounded scope the cap refuses instead, after one
 * collection (the scope fails: every later allocation of it returns NULL). */
GCHEAP_ALLOC_TEXT static void *alloc_or_refuse(size_t n, int pointer_free)
{
    void *p = bdwgc_alloc(n, pointer_free);
    if (__builtin_expect(p != NULL, 1)) return p;
    if (!my.bounded) return alloc_failed(n, pointer_free);
    policy->make_room(0);
    p = bdwgc_alloc(n, pointer_free);
    if (!p) { policy->refused(); my.refused = 1; }
    return p;
}

/* ---- carved strings (both modes) ------------------------------------------------------
 * Small pointer-free requests (memdemo's number strings) are carved from a block of
 * CARVE_BLOCK bytes of pointer-free GC memory that the thread owns, as Go's tiny
 * allocator packs small pointer-free objects into 16-byte blocks: a bump of a pointer
 * per string, one bdwgc allocation (one lock) per block, no granule rounding and no
 * extra byte per string (a 4-byte string takes 4 bytes, not 16). So a collection has
 * about a quarter of the bytes and one object per block, not one per string, to mark
 * and sweep, and collections come less often per request (measured in stop-the-world
 * mode at 8 MB leaked: CPU per request down 13-18%, half the collections). In
 * generational mode it is needed besides: under manual dirty bits Debian's bdwgc 8.2.2
 * refills a thread's free list one object at a time (GC_generic_malloc_many: a lock and
 * bdwgc's whole generic path per string) and adds the extra byte twice (16-byte strings
 * take 32); no public allocation call batches pointer-free objects then
 * (bench/allocpaths.c measures each). A string is a pointer into its block (bdwgc
 * recognises interior pointers), so it keeps the whole block alive, and the block is
 * freed once none of its strings is reachable; the block being carved is kept alive by
 * carve_blocks[], a static root, until its thread moves on to a new one. The countdown
 * counts the bytes carved. An allocation that meets the thread's countdown (a sample is
 * due, or the pacer's poll) is not carved but made an object of its own, so the heap
 * profiler watches that very string die at mark end (with -memprofilerate 1 every
 * allocation meets it: exact mode carves nothing). */
#define CARVE_BLOCK ((size_t)4096 - EXTRA_BYTES)   /* one heap block with the extra byte */
#define CARVE_MAX ((size_t)64)                     /* larger requests are objects */

/* Static data: a root, so each thread's block lives. volatile: nothing here reads the
 * array, and the compiler would otherwise drop the stores (it did: blocks were freed
 * while still being carved; tests/unit/test_gen.c checks). */
static void *volatile carve_blocks[GCTHREADS_MAX];

/* A new block for this (armed) thread. NULL only in a bounded scope at the cap. */
GCHEAP_ALLOC_TEXT static void *carve_refill(void)
{
    char *b = alloc_or_refuse(CARVE_BLOCK, 1);
    if (!b) return NULL;
    carve_blocks[gcaccount_mine()->id] = b;
    my.carve_next = b;
    my.carve_end = b + CARVE_BLOCK;
    return b;
}

/* The rule for what a small string spends on the countdown and is recorded at if it is
 * sampled (one rule, so that the countdown and the sample's unsampling weight, which
 * the sampler computes from the size it is told, use the same unit): a sample is
 * recorded at the bytes its allocation spent, and a string spends what it costs the
 * heap. With a sampled rate, strings are carved and cost their own bytes (n): the one
 * the countdown meets is made an object only so that the profiler can watch it die,
 * and it stands for carved strings, so it spends and is recorded at n (recorded at its
 * object size, 16 or 32 bytes, each sample would stand for 4-8 times too few strings;
 * Go likewise records a tiny object at its own size). In exact mode (-memprofilerate 1)
 * nothing is carved: every string is an object and spends and is recorded at its
 * object size, as every other allocation is. The countdown is due, or the thread is
 * unarmed (it is armed on this slow path, and counts what bdwgc handed out). */
GCHEAP_ALLOC_TEXT static void *string_object(size_t n)
{
    void *p = alloc_or_refuse(n, 1);
    if (!p) return NULL;
    if (!gcaccount_armed() || gcaccount_exact()) { count_handed_out(p, n); return p; }
    if (gcaccount_spend((intptr_t)n)) {
        if (gcaccount_settle(n)) gcaccount_sample_sized(p, n);
        policy->poll();
        gcaccount_rearm(GCHEAP_POLL_GAP);
    }
    return p;
}

/* The countdown is due (or the thread is not armed yet), or the block is used up. */
GCHEAP_ALLOC_TEXT static void *carve_slow(size_t n)
{
    struct gcaccount *a = gcaccount_mine();
    if (!gcaccount_armed() || atomic_load_explicit(&a->countdown, memory_order_relaxed) < (intptr_t)n)
        return string_object(n);
    if (!carve_refill()) return NULL;
    char *p = my.carve_next;
    my.carve_next = p + n;
    (void)gcaccount_spend((intptr_t)n);   /* the countdown was checked above: no slow path */
    return p;
}

static inline void *carve(size_t n)
{
    struct gcaccount *a = gcaccount_mine();
    intptr_t left = atomic_load_explicit(&a->countdown, memory_order_relaxed) - (intptr_t)n;
    char *p = my.carve_next;
    if (__builtin_expect(left < 0 || (size_t)(my.carve_end - p) < n, 0)) return carve_slow(n);
    my.carve_next = p + n;
    atomic_store_explicit(&a->countdown, left, memory_order_relaxed);
    return p;
}

static inline int carved(size_t n, int pointer_free) { return pointer_free && n <= CARVE_MAX; }

/* An allocation inside a bounded scope: admitted against the kept-heap limit first
 * (through grants of BOUNDED_GRANT bytes, so the policy's atomic is touched once per
 * 64 KiB), and never past bdwgc's cap: a refusal makes the scope fail and every later
 * allocation of it return NULL at once. A carved string is charged its own bytes. */
GCHEAP_ALLOC_TEXT static void *bounded_alloc(size_t n, int pointer_free)
{
    if (my.refused) return NULL;
    size_t need = carved(n, pointer_free) ? n : gcheap_footprint(n);
    if (my.grant_epoch != policy->epoch()) my.grant = 0;   /* lapsed at a collection */
    if (my.grant < need) {
        size_t g = policy->grant(need > BOUNDED_GRANT ? need : BOUNDED_GRANT, need, &my.grant_epoch);
        if (!g) { my.refused = 1; return NULL; }
        my.grant = g;
    }
    my.grant -= need;
    if (carved(n, pointer_free)) return carve(n);
    void *p = alloc_or_refuse(n, pointer_free);
    if (p) count_handed_out(p, n);
    return p;
}

GCHEAP_ALLOC_TEXT void *gcheap_alloc(size_t n)
{
    if (__builtin_expect(my.bounded, 0)) return bounded_alloc(n, 0);
    void *p = GC_MALLOC(n);
    if (__builtin_expect(!p, 0)) p = alloc_failed(n, 0);
    count_handed_out(p, n);
    return p;
}

GCHEAP_ALLOC_TEXT void *gcheap_alloc_data(size_t n)
{
    if (__builtin_expect(my.bounded, 0)) return bounded_alloc(n, 1);
    if (carved(n, 1)) return carve(n);
    void *p = GC_MALLOC_ATOMIC(n);
    if (__builtin_expect(!p, 0)) p = alloc_failed(n, 1);
    count_handed_out(p, n);
    return p;
}

void gcheap_bounded_begin(void)
{
    if (!gcaccount_armed() && arm_current_thread() < 0) return;   /* unregistered: no scope */
    my.bounded = 1;
    my.refused = 0;
}

int gcheap_bounded_end(void)
{
    if (!gcaccount_armed()) return 0;
    int refused = my.refused;
    my.bounded = 0;
    my.refused = 0;
    return refused ? errors_fail(ENOMEM) : 0;
}

static int (*is_root_fn)(const char *dso_name);

/* bdwgc's form of setup->is_root. World stopped: no allocation, no locks. */
static int GC_CALLBACK is_root_segment(const char *dso_name, void *start, size_t size)
{
    (void)start; (void)size;
    return is_root_fn(dso_name ? dso_name : "");
}

void gcheap_report_outside(uint64_t bytes) { policy->outside(bytes); }

int gcheap_env_conflicts(struct gcheap_env_conflict *out, int max)
{
    static const struct gcheap_env_conflict table[] = {
#define ENV_ROW(var, effect, fatal) {var, NULL, effect, fatal},
        GCHEAP_ENV_CONFLICTS(ENV_ROW)
#undef ENV_ROW
    };
    int n = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0] && n < max; i++) {
        const char *v = getenv(table[i].name);
        if (!v) continue;
        out[n] = table[i];
        out[n++].value = v;
    }
    return n;
}

int gcheap_mode_parse(const char *name)
{
    for (int m = 0; m < GCHEAP_MODES; m++)
        if (strcmp(name, gcheap_mode_name((enum gcheap_mode)m)) == 0) return m;
    return -1;
}

enum gcheap_mode gcheap_mode(void) { return mode; }

/* Generational mode's listener (allocation lock held): full collections mark in slices
 * of GCHEAP_TIME_LIMIT_MS, partial ones in one stop (gcheap.h says why). bdwgc reads
 * the limit, an unsynchronised word, under its lock, after the start callback. No
 * allocation, no locks. */
static void time_limit_by_kind(enum gcevent ev, int thread, void *ctx)
{
    (void)thread; (void)ctx;
    if (ev == GCEV_FULL_START) GC_set_time_limit(GCHEAP_TIME_LIMIT_MS);
    else if (ev == GCEV_END && gcevents_current_kind() == GCEVENTS_FULL) GC_set_time_limit(GC_TIME_UNLIMITED);
}

/* Generational mode, after GC_INIT (manual dirty bits were allowed before it): bdwgc's
 * incremental mode, which with manual dirty bits allowed uses them rather than
 * mprotect. Aborts if bdwgc does not turn it on. The debug check from the environment. */
static void start_generational(void)
{
    GC_enable_incremental();
    if (!GC_is_incremental_mode() || !GC_get_manual_vdb_allowed()) {
        fprintf(stderr, "memdemo: -gcmode generational: this bdwgc cannot collect incrementally "
                        "with manual dirty bits\n");
        abort();
    }
    GC_set_full_freq(GCHEAP_FULL_FREQ);
    GC_set_time_limit(GC_TIME_UNLIMITED);
    if (gcevents_add_listener(time_limit_by_kind, NULL) < 0) abort();   /* the first listener */
    gcgen__start();
    const char *check = getenv(GCGEN_CHECK_ENV);
    if (check && *check && strcmp(check, "0") != 0 &&
        gcgen_check_start(strcmp(check, "count") == 0 ? GCGEN_CHECK_COUNT : GCGEN_CHECK_ABORT) < 0) {
        fprintf(stderr, "memdemo: %s: out of memory for the check's table\n", GCGEN_CHECK_ENV);
        abort();
    }
}

void gcheap_init_with(const struct gcheap_setup *s)
{
    if (s && s->is_root) {
        is_root_fn = s->is_root;
        GC_register_has_static_roots_callback(is_root_segment);
    }
    if (s && s->markers > 0) GC_set_markers_count((unsigned)s->markers);   /* GC_MARKERS still overrides */
    if (s && s->policy) policy = s->policy;
    mode = s ? s->mode : GCHEAP_STW;
    if (mode == GCHEAP_GENERATIONAL) GC_set_manual_vdb_allowed(1);
    GC_INIT();
    GC_allow_register_threads();
    check_small_rule();
    (void)gcaccount_init(GCHEAP_UNSAMPLED_COUNTDOWN);   /* failed: every thread allocates unarmed */
    gcevents__install();
    gcthreads__register_main();
    if (mode == GCHEAP_GENERATIONAL) start_generational();
}

void gcheap_collect(void) { GC_gcollect(); }

/* Forced collections: one at a time under forced_lock, which also orders the figures
 * of the last one (its end and length, on the monotonic clock). */
static pthread_mutex_t forced_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t forced_end_ns, forced_len_ns;
static _Atomic uint64_t forced_runs, forced_shares;

int gcheap_collect_shared(void)
{
    uint64_t arrived = clock_mono_ns();
    pthread_mutex_lock(&forced_lock);
    /* One that ended after we arrived ran while we waited: share it. */
    int run = forced_end_ns == 0 || arrived >= forced_end_ns + GCHEAP_FORCED_GAP_FACTOR * forced_len_ns;
    if (run) {
        uint64_t start = clock_mono_ns();
        GC_gcollect();
        forced_end_ns = clock_mono_ns();
        forced_len_ns = forced_end_ns - start;
    }
    pthread_mutex_unlock(&forced_lock);
    atomic_fetch_add_explicit(run ? &forced_runs : &forced_shares, 1, memory_order_relaxed);
    return run;
}

void gcheap_collect_paced(void)
{
    if (mode != GCHEAP_GENERATIONAL) {
        GC_gcollect();
        return;
    }
    GC_start_incremental_collection();
    while (GC_collect_a_little()) { /* until the collection it opened has ended */ }
}

void gcheap__forced_counts(uint64_t *runs, uint64_t *shared)
{
    *runs = atomic_load_explicit(&forced_runs, memory_order_relaxed);
    *shared = atomic_load_explicit(&forced_shares, memory_order_relaxed);
}

uint64_t gcheap__next_gc(void) { return policy->next_gc(); }
