/* gcheap: the allocation front end of programs built on gcheap (memdemo): bdwgc
 * initialisation (the policy itself is gcpolicy.c's or the caller's), the allocation
 * API with the per-thread countdown, bounded allocation, explicit and shared forced
 * collections. The observer functions of gcheap.h (sizes, hidden pointers, marks, the
 * allocation lock, statistics) are in gcview.c, which libgcprof shares. See gcheap.h
 * for the contracts.
 *
 * Per-thread accounts: each registered thread owns one cache line in `accounts`
 * (indexed by its gcthreads id, malloc'd so the collector does not scan it) holding
 * its countdown, the bytes until its next heap-profile sample, the bytes it has been
 * credited with, and its bounded-scope state. The line is found through a
 * thread-local pointer that starts at `unarmed`, whose countdown is always negative,
 * so a thread's first allocation takes the slow path, which arms the thread. Lines
 * are never freed or reused, so gcheap_reset_sample_countdowns() may write a line
 * whose thread has exited. The countdown is a relaxed atomic because the reset writes
 * it from another thread; on x86-64 its loads and stores are plain moves.
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
#include "gc/gcevents.h"
#include "gc/gcthreads.h"

/* Bytes to the next "sample" when no sampler is installed: finite so that a lost reset
 * heals (the countdown itself is at most GCHEAP_POLL_GAP either way). */
#define GCHEAP_UNSAMPLED_COUNTDOWN ((intptr_t)256 << 10)

static _Atomic(gcheap_sample_fn) sample_hook;
static _Atomic(gcheap_interval_fn) interval_hook;

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

struct account {
    _Alignas(64) _Atomic intptr_t countdown;   /* bytes until the next slow path */
    intptr_t armed;                /* the countdown's value when last set */
    intptr_t sample_left;          /* bytes until the next sample, as of `armed` */
    _Atomic uint64_t allocated;    /* bytes credited on the slow path */
    unsigned seen_generation;      /* reset_generation when last armed */
    int fresh;                     /* armed, no allocation counted yet */
    int bounded;                   /* inside gcheap_bounded_begin/end */
    int refused;                   /* a bounded allocation of this scope was refused */
    size_t grant;                  /* kept-heap bytes granted and not yet allocated */
    uint64_t grant_epoch;          /* policy->epoch() the grant belongs to */
};

static struct account *accounts;                  /* GCTHREADS_MAX lines */
static struct account unarmed;                    /* shared; its countdown stays < 0 */
static __thread struct account *me = &unarmed;

/* Bumped by every reset. A thread whose copy differs starts a fresh interval at its
 * next allocation instead of sampling it: a forced sample would be weighted as if a
 * whole interval had been allocated (about `rate` bytes of phantom allocation per
 * thread per rate change). */
static _Atomic unsigned reset_generation;

static intptr_t draw_interval(void)
{
    gcheap_interval_fn interval = atomic_load_explicit(&interval_hook, memory_order_acquire);
    return interval ? interval() : GCHEAP_UNSAMPLED_COUNTDOWN;
}

static void set_countdown(intptr_t v)
{
    me->armed = v;
    atomic_store_explicit(&me->countdown, v, memory_order_relaxed);
}

/* Slow path: credits this thread with the bytes its countdown consumed. */
static void credit_allocated(intptr_t consumed)
{
    if (consumed > 0)
        atomic_store_explicit(&me->allocated,
                              atomic_load_explicit(&me->allocated, memory_order_relaxed) + (uint64_t)consumed,
                              memory_order_relaxed);
}

/* Points `me` at the calling thread's line. Returns 0, or -1 for a thread that is not
 * registered (it stays unarmed and every allocation of it takes the slow path). */
static int arm_current_thread(void)
{
    int id = gcthreads_self();
    if (!accounts || id < 0 || id >= GCTHREADS_MAX) return -1;
    me = &accounts[id];
    me->seen_generation = atomic_load_explicit(&reset_generation, memory_order_acquire);
    me->fresh = 1;
    return 0;
}

/* Called when the countdown went negative, for the object `obj` of `n` bytes just
 * allocated: credits the bytes, samples the object if the sample is due, polls the
 * policy (which may collect: obj is on this stack, so it survives) and re-arms. */
GCHEAP_ALLOC_TEXT static void slow_path(void *obj, size_t n)
{
    if (me == &unarmed && arm_current_thread() < 0) return;
    struct account *a = me;
    unsigned gen = atomic_load_explicit(&reset_generation, memory_order_acquire);
    intptr_t consumed;
    if (a->fresh || gen != a->seen_generation) {
        /* The thread's first allocation, or the first after a reset: this allocation
         * starts a new interval (a forced sample would be weighted as if a whole
         * interval had been allocated); what a reset cut short is not known. */
        a->fresh = 0;
        a->seen_generation = gen;
        a->sample_left = draw_interval();
        consumed = (intptr_t)n;
    } else {
        consumed = a->armed - atomic_load_explicit(&a->countdown, memory_order_relaxed);
    }
    credit_allocated(consumed);
    a->sample_left -= consumed;
    if (a->sample_left < 0) {
        gcheap_sample_fn sample = atomic_load_explicit(&sample_hook, memory_order_acquire);
        /* The sampler is told what bdwgc really gave (the rule below is exact for nearly
         * every small allocation, not for all of them). */
        a->sample_left = sample ? sample(obj, GC_size(obj)) : GCHEAP_UNSAMPLED_COUNTDOWN;
    }
    policy->poll();
    set_countdown(a->sample_left < GCHEAP_POLL_GAP ? a->sample_left : GCHEAP_POLL_GAP);
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
 * always GC_size's (sample_slow). gcheap_init() checks the rule against GC_size, and
 * tests/unit/test_gc.c checks what the sampler is told for every request up to 8 KiB. */
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
    struct account *a = me;
    intptr_t left = atomic_load_explicit(&a->countdown, memory_order_relaxed) - (intptr_t)n;
    atomic_store_explicit(&a->countdown, left, memory_order_relaxed);
    if (__builtin_expect(left < 0, 0)) slow_path(obj, n);
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

/* An allocation inside a bounded scope: admitted against the kept-heap limit first
 * (through grants of BOUNDED_GRANT bytes, so the policy's atomic is touched once per
 * 64 KiB), and never past bdwgc's cap: a refusal makes the scope fail and every later
 * allocation of it return NULL at once. */
GCHEAP_ALLOC_TEXT static void *bounded_alloc(size_t n, int pointer_free)
{
    struct account *a = me;
    if (a->refused) return NULL;
    size_t need = gcheap_footprint(n);
    if (a->grant_epoch != policy->epoch()) a->grant = 0;   /* lapsed at a collection */
    if (a->grant < need) {
        size_t g = policy->grant(need > BOUNDED_GRANT ? need : BOUNDED_GRANT, need, &a->grant_epoch);
        if (!g) { a->refused = 1; return NULL; }
        a->grant = g;
    }
    a->grant -= need;
    void *p = bdwgc_alloc(n, pointer_free);
    if (!p) {
        policy->make_room(0);
        p = bdwgc_alloc(n, pointer_free);
        if (!p) { policy->refused(); a->refused = 1; return NULL; }
    }
    count_handed_out(p, n);
    return p;
}

GCHEAP_ALLOC_TEXT void *gcheap_alloc(size_t n)
{
    if (__builtin_expect(me->bounded, 0)) return bounded_alloc(n, 0);
    void *p = GC_MALLOC(n);
    if (__builtin_expect(!p, 0)) p = alloc_failed(n, 0);
    count_handed_out(p, n);
    return p;
}

GCHEAP_ALLOC_TEXT void *gcheap_alloc_data(size_t n)
{
    if (__builtin_expect(me->bounded, 0)) return bounded_alloc(n, 1);
    void *p = GC_MALLOC_ATOMIC(n);
    if (__builtin_expect(!p, 0)) p = alloc_failed(n, 1);
    count_handed_out(p, n);
    return p;
}

void gcheap_bounded_begin(void)
{
    if (me == &unarmed && arm_current_thread() < 0) return;   /* unregistered: no scope */
    me->bounded = 1;
    me->refused = 0;
}

int gcheap_bounded_end(void)
{
    if (me == &unarmed) return 0;
    int refused = me->refused;
    me->bounded = 0;
    me->refused = 0;
    return refused ? errors_fail(ENOMEM) : 0;
}

uint64_t gcheap_allocated_total(void)
{
    uint64_t sum = 0;
    int n = gcthreads_count();
    for (int id = 0; accounts && id < n && id < GCTHREADS_MAX; id++)
        sum += atomic_load_explicit(&accounts[id].allocated, memory_order_relaxed);
    return sum;
}

void gcheap_set_sampler(gcheap_sample_fn sample, gcheap_interval_fn interval)
{
    atomic_store_explicit(&interval_hook, interval, memory_order_release);
    atomic_store_explicit(&sample_hook, sample, memory_order_release);
    gcheap_reset_sample_countdowns();
}

void gcheap_reset_sample_countdowns(void)
{
    /* Zero sends each thread's next allocation to the slow path, which sees the new
     * generation and starts a fresh interval with that allocation. */
    atomic_fetch_add_explicit(&reset_generation, 1, memory_order_release);
    int n = gcthreads_count();
    for (int id = 0; accounts && id < n && id < GCTHREADS_MAX; id++)
        atomic_store_explicit(&accounts[id].countdown, 0, memory_order_relaxed);
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

void gcheap_init_with(const struct gcheap_setup *s)
{
    if (s && s->is_root) {
        is_root_fn = s->is_root;
        GC_register_has_static_roots_callback(is_root_segment);
    }
    if (s && s->markers > 0) GC_set_markers_count((unsigned)s->markers);   /* GC_MARKERS still overrides */
    if (s && s->policy) policy = s->policy;
    GC_INIT();
    GC_allow_register_threads();
    check_small_rule();
    accounts = aligned_alloc(_Alignof(struct account), GCTHREADS_MAX * sizeof *accounts);
    if (accounts) memset(accounts, 0, GCTHREADS_MAX * sizeof *accounts);
    gcevents__install();
    gcthreads__register_main();
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

void gcheap__forced_counts(uint64_t *runs, uint64_t *shared)
{
    *runs = atomic_load_explicit(&forced_runs, memory_order_relaxed);
    *shared = atomic_load_explicit(&forced_shares, memory_order_relaxed);
}

uint64_t gcheap__next_gc(void) { return policy->next_gc(); }
