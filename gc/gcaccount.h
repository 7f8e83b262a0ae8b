/* gcaccount: the per-thread allocation accounts every allocation front end keeps
 * (gcheap.c in memdemo, gcinterpose.c in libgcprof).
 *
 * Owns: one account (a cache line) per gcthreads id, malloc'd so that bdwgc does not
 * scan it, never freed or reused; the thread-local pointer to the calling thread's
 * account, which starts at a shared unarmed account whose countdown stays negative,
 * so that a thread's first counted allocation takes its front end's slow path, which
 * arms the thread; the countdown's bookkeeping on that slow path (bytes credited, the
 * next sample drawn or taken); resets (a new sampling rate, a collection request);
 * the installed sampler; and the sums other threads read: gcheap_allocated_total()
 * and the front end's own per-thread tallies. It defines the gcheap.h functions
 * gcheap_set_sampler(), gcheap_reset_sample_countdowns() and gcheap_allocated_total().
 * Leaves to the front ends: what an allocation counts (sizes), the fast path's shape,
 * when to arm (which threads have an id), what else the slow path does (the pacer's
 * poll, a collection on the profiler's behalf), and what each tally means.
 *
 * Why one module: both front ends kept the same table, the same arming, resets and
 * sums; a figure read from two copies drifts apart.
 *
 * The countdown is a relaxed atomic because a reset writes it from another thread; on
 * x86-64 its loads and stores are plain moves. Every other field but the sums is the
 * owning thread's alone. A reset bumps a generation and zeroes every account's
 * countdown: a thread whose slow path sees a new generation starts a fresh interval
 * with that allocation instead of sampling it (a forced sample would be weighted as if
 * a whole interval had been allocated; the intervals are exponential, so starting
 * afresh leaves sampling unbiased). A reset may be lost in a race with the owner's own
 * store, which then picks up the change at its next slow path.
 *
 * Threads: gcaccount_init once, on the main thread, before other threads allocate;
 * the functions on "the calling thread" run on an allocating thread in its front end's
 * slow path (they may call the sampler, which locks; never in a GC callback); the sums
 * and resets on any thread, lock-free, no allocation (safe in collection listeners).
 */
#ifndef MEMDEMO_GCACCOUNT_H
#define MEMDEMO_GCACCOUNT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Per-thread counters a front end may keep beside the bytes credited (gcinterpose:
 * batches, frees...); which is which is the front end's. */
#define GCACCOUNT_TALLIES 5

struct gcaccount {
    _Alignas(64) _Atomic intptr_t countdown;   /* bytes until the next slow path */
    intptr_t armed;                /* the countdown's value when last set */
    intptr_t sample_left;          /* bytes until the next sample, as of `armed` */
    _Atomic uint64_t allocated;    /* bytes credited on the slow path */
    _Atomic uint64_t tally[GCACCOUNT_TALLIES];   /* owner-only counters, summed by others */
    unsigned seen_generation;      /* the reset generation when last armed or settled */
    int fresh;                     /* armed, no allocation counted yet */
    int id;                        /* gcthreads id of the owner; -1: no table line */
};

/* The calling thread's account, and the shared unarmed one it starts at. Cross-file
 * internal: read them through the inline functions below. The fast path reads the
 * pointer as cheaply as a thread-local of its own file: local-exec in an executable,
 * initial-exec in libgcprof.so (loaded at start, so no __tls_get_addr). */
#if defined(__PIE__) || !defined(__PIC__)
#define GCACCOUNT_TLS_MODEL "local-exec"
#else
#define GCACCOUNT_TLS_MODEL "initial-exec"
#endif
extern __thread struct gcaccount *gcaccount__me __attribute__((tls_model(GCACCOUNT_TLS_MODEL)));
extern struct gcaccount gcaccount__unarmed;

/* Allocates the table (GCTHREADS_MAX accounts). `unsampled` is the countdown a thread
 * draws while no sampler is installed (a front end that polls a policy wants it
 * finite, so that a lost reset heals). Returns 0, or -1 when malloc failed (every
 * thread then stays unarmed: its front end counts nothing). Main thread, once, before
 * any other thread allocates. */
int gcaccount_init(intptr_t unsampled);

/* The calling thread's account (the unarmed one until it is armed). */
static inline struct gcaccount *gcaccount_mine(void) { return gcaccount__me; }

/* 1 if the calling thread has an account of its own. */
static inline int gcaccount_armed(void) { return gcaccount__me != &gcaccount__unarmed; }

/* The fast path: takes `bytes` off the calling thread's countdown. Returns 1 when it
 * went negative: the front end's slow path is due. */
static inline int gcaccount_spend(intptr_t bytes)
{
    struct gcaccount *a = gcaccount__me;
    intptr_t left = atomic_load_explicit(&a->countdown, memory_order_relaxed) - bytes;
    atomic_store_explicit(&a->countdown, left, memory_order_relaxed);
    return __builtin_expect(left < 0, 0);
}

/* Takes `bytes` (many objects' worth) off the calling thread's countdown if it stays
 * non-negative and returns 1; else spends nothing and returns 0 (spend object by
 * object, so that the sample falls on the right one). */
static inline int gcaccount_spend_within(intptr_t bytes)
{
    struct gcaccount *a = gcaccount__me;
    intptr_t left = atomic_load_explicit(&a->countdown, memory_order_relaxed) - bytes;
    if (__builtin_expect(left < 0, 0)) return 0;
    atomic_store_explicit(&a->countdown, left, memory_order_relaxed);
    return 1;
}

/* Gives the calling thread the table's account of its gcthreads id `id`, which starts
 * a fresh interval. Returns 0, or -1 (the thread stays unarmed) for an id outside the
 * table or no table. */
int gcaccount_arm(int id);

/* The same, but a thread without a table account (id out of range, no table) gets one
 * of its own, thread-local, which resets do not reach and sums do not count. */
void gcaccount_arm_any(int id);

/* The calling (armed) thread's slow path, its countdown having gone negative on an
 * object of `bytes` bytes: credits the bytes the countdown consumed since it was set
 * (or `bytes`, when this allocation starts a fresh interval) and counts them off the
 * sample interval. Returns 1 when the sample is due (call gcaccount_sample), else 0. */
int gcaccount_settle(size_t bytes);

/* The sample is due: tells the sampler about the object at base (its size is
 * GC_size's) and draws the next interval from its answer. base NULL (not a GC object)
 * or no sampler: only a new interval. Returns 1 if the sampler was told. In the
 * allocator's text, so that the sampler's stack capture cuts it off. */
int gcaccount_sample(void *base);

/* The same, told `size` bytes instead of GC_size's: for a small string that stands for
 * carved ones (gcheap.c), its carved size, the unit its countdown counted. */
int gcaccount_sample_sized(void *base, size_t size);

/* 1 when a sampler is installed whose intervals are 0 (it samples every allocation:
 * exact mode), else 0. Draws an interval to ask (gcheap.h: only exact mode draws 0),
 * so it is for slow paths. Any thread. */
int gcaccount_exact(void);

/* Re-arms the calling thread: its countdown becomes the bytes to its next sample, or
 * `cap` if that is nearer (INTPTR_MAX: no cap). */
void gcaccount_rearm(intptr_t cap);

/* Adds `by` to the calling (armed) thread's tally `which` (< GCACCOUNT_TALLIES). */
void gcaccount_tally(int which, uint64_t by);

/* Every table account's tally `which`, summed. Any thread, lock-free. */
uint64_t gcaccount_tally_sum(int which);

/* gcheap.h's gcheap_allocated_total(), gcheap_set_sampler() and
 * gcheap_reset_sample_countdowns() are defined in gcaccount.c. */

#endif
