/* gcheap: bdwgc initialisation, the allocation API with the sampling countdown, explicit
 * collections and heap statistics. The only file besides gcthreads.c and gcevents.c that
 * includes <gc.h>. See gcheap.h for the contracts.
 *
 * Sampling fast path: one thread-local countdown per thread (relaxed atomic so that
 * gcheap_reset_sample_countdowns() may write it from another thread without a data
 * race; on x86-64 the loads and stores are plain moves). The slow path lives in the
 * allocator text section so stack capture can cut it off.
 */
#include "gc/gcheap.h"

#include <gc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "gc/gcevents.h"
#include "gc/gcthreads.h"
#include "gc/gcthreads_internal.h"

/* Countdown when no sampler is installed: finite so that a lost reset heals, and small
 * enough that the slow path keeps gcheap_allocated_total() within 256 KiB per thread. */
#define GCHEAP_UNSAMPLED_COUNTDOWN ((intptr_t)256 << 10)

static _Atomic(gcheap_sample_fn) sample_hook;
static _Atomic(gcheap_interval_fn) interval_hook;

static __thread _Atomic intptr_t sample_countdown;

/* Bytes allocated per thread, one cache line per gcthreads id so that threads never
 * write the same line. malloc'd, so the collector does not scan it as a root. Each
 * counter is written only by its thread, and only on the slow path: there the thread
 * adds what its countdown consumed since it was last set (countdown_armed), so the
 * fast path pays nothing for it. gcheap_allocated_total() sums them. */
#define COUNTER_STRIDE 8   /* uint64_t per 64-byte line */
static _Atomic uint64_t *allocated_by_thread;
static __thread _Atomic uint64_t *allocated_by_me;
static __thread intptr_t countdown_armed;   /* the countdown's value when last set */

static void set_countdown(intptr_t v)
{
    countdown_armed = v;
    atomic_store_explicit(&sample_countdown, v, memory_order_relaxed);
}

/* Slow path: credits this thread with the bytes its countdown consumed. */
static void credit_allocated(intptr_t consumed)
{
    if (allocated_by_me && consumed > 0)
        atomic_store_explicit(allocated_by_me,
                              atomic_load_explicit(allocated_by_me, memory_order_relaxed) + (uint64_t)consumed,
                              memory_order_relaxed);
}

/* Bumped by every reset. A thread whose copy differs starts a fresh interval at its
 * next allocation instead of sampling it: a forced sample would be weighted as if a
 * whole interval had been allocated (about `rate` bytes of phantom allocation per
 * thread per rate change). */
static _Atomic unsigned reset_generation;
static __thread unsigned seen_generation;

extern const char __start_memdemo_alloc_text[];
extern const char __stop_memdemo_alloc_text[];

static intptr_t draw_interval(void)
{
    gcheap_interval_fn interval = atomic_load_explicit(&interval_hook, memory_order_acquire);
    return interval ? interval() : GCHEAP_UNSAMPLED_COUNTDOWN;
}

_Atomic intptr_t *gcheap__countdown_of_current_thread(void)
{
    return &sample_countdown;
}

void gcheap__arm_current_thread(void)
{
    int id = gcthreads_self();
    if (allocated_by_thread && id >= 0) allocated_by_me = &allocated_by_thread[(size_t)id * COUNTER_STRIDE];
    seen_generation = atomic_load_explicit(&reset_generation, memory_order_acquire);
    set_countdown(draw_interval());
}

static void out_of_memory(size_t n)
{
    fprintf(stderr, "memdemo: out of memory allocating %zu bytes\n", n);
    abort();
}

/* Called when the countdown went negative: the object `obj` of `n` bytes is sampled
 * (if a sampler is installed) and a new countdown drawn. */
GCHEAP_ALLOC_TEXT static void sample_slow(void *obj, size_t n)
{
    unsigned gen = atomic_load_explicit(&reset_generation, memory_order_acquire);
    if (gen != seen_generation) {   /* reset: this allocation starts a new interval */
        seen_generation = gen;
        credit_allocated((intptr_t)n);   /* what the reset cut short is not known */
        intptr_t fresh = draw_interval();
        set_countdown(fresh - (intptr_t)n);   /* n is credited already */
        if (fresh - (intptr_t)n >= 0) return;
    }
    credit_allocated(countdown_armed - atomic_load_explicit(&sample_countdown, memory_order_relaxed));
    gcheap_sample_fn sample = atomic_load_explicit(&sample_hook, memory_order_acquire);
    set_countdown(sample ? sample(obj, n) : GCHEAP_UNSAMPLED_COUNTDOWN);
}

static inline void count_allocation(void *obj, size_t n)
{
    intptr_t left = atomic_load_explicit(&sample_countdown, memory_order_relaxed) - (intptr_t)n;
    atomic_store_explicit(&sample_countdown, left, memory_order_relaxed);
    if (__builtin_expect(left < 0, 0)) sample_slow(obj, n);
}

GCHEAP_ALLOC_TEXT void *gcheap_alloc(size_t n)
{
    void *p = GC_MALLOC(n);
    if (!p) out_of_memory(n);
    count_allocation(p, n);
    return p;
}

GCHEAP_ALLOC_TEXT void *gcheap_alloc_data(size_t n)
{
    void *p = GC_MALLOC_ATOMIC(n);
    if (!p) out_of_memory(n);
    count_allocation(p, n);
    return p;
}

uint64_t gcheap_allocated_total(void)
{
    uint64_t sum = 0;
    int n = gcthreads_count();
    for (int id = 0; allocated_by_thread && id < n && id < GCTHREADS_MAX; id++)
        sum += atomic_load_explicit(&allocated_by_thread[(size_t)id * COUNTER_STRIDE], memory_order_relaxed);
    return sum;
}

int gcheap_pc_is_alloc_text(uintptr_t pc)
{
    return pc >= (uintptr_t)__start_memdemo_alloc_text && pc < (uintptr_t)__stop_memdemo_alloc_text;
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
    gcthreads__for_each_countdown(0);
}

/* Which data segments are roots. Only memdemo's own executable keeps GC pointers in
 * static memory (the leaker's list); the shared libraries (libc, libmicrohttpd, gnutls,
 * libdw...) never do, and scanning their data and bss in every stop-the-world pause
 * was most of a pause's work. The main program is the entry with an empty name. */
static int GC_CALLBACK is_root_segment(const char *dso_name, void *start, size_t size)
{
    (void)start; (void)size;
    return dso_name == NULL || dso_name[0] == '\0';
}

void gcheap_init(void)
{
    GC_register_has_static_roots_callback(is_root_segment);
    GC_INIT();
    GC_allow_register_threads();
    allocated_by_thread = calloc((size_t)GCTHREADS_MAX * COUNTER_STRIDE, sizeof *allocated_by_thread);
    gcevents__install();
    gcthreads__register_main();
}

void gcheap_configure(unsigned long free_space_divisor, size_t initial_heap)
{
    if (free_space_divisor) GC_set_free_space_divisor(free_space_divisor);
    if (initial_heap) GC_expand_hp(initial_heap);
}

void gcheap_collect(void) { GC_gcollect(); }

static void fill_stats(struct gcheap_stats *st, const struct GC_prof_stats_s *ps)
{
    st->collections = ps->gc_no;
    st->heap_size = ps->heapsize_full;
    st->free_bytes = ps->free_bytes_full;
    st->unmapped_bytes = ps->unmapped_bytes;
    st->in_use_bytes = ps->heapsize_full - ps->free_bytes_full;   /* free_bytes_full counts unmapped */
    st->total_allocated = ps->allocd_bytes_before_gc + ps->bytes_allocd_since_gc;
    st->allocated_since_gc = ps->bytes_allocd_since_gc;
    st->reclaimed_last_gc = ps->bytes_reclaimed_since_gc;
    st->pause_total_ns = gcevents_pause_total_ns();
    st->pause_max_ns = gcevents_pause_max_ns();
    st->pause_last_ns = gcevents_pause_last_ns();
    st->in_use_after_gc = gcevents_in_use_after_gc();
    st->next_gc = gcheap_next_gc_estimate(st->in_use_after_gc, st->heap_size);
    st->last_gc_unix_ns = gcevents_last_gc_unix_ns();
    st->obtained_from_os = ps->obtained_from_os_bytes;
}

uint64_t gcheap_next_gc_estimate(uint64_t in_use_after_gc, uint64_t heap_size)
{
    GC_word divisor = GC_get_free_space_divisor();
    uint64_t step = in_use_after_gc / (divisor ? divisor : 1);
    uint64_t goal = in_use_after_gc + (step < GCHEAP_MIN_GC_STEP ? GCHEAP_MIN_GC_STEP : step);
    return goal > heap_size ? goal : heap_size;
}

void gcheap_version(char *out, size_t n)
{
    unsigned v = GC_get_version();   /* (major << 16) | (minor << 8) | micro */
    snprintf(out, n, "%u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
}

void gcheap_stats(struct gcheap_stats *st)
{
    struct GC_prof_stats_s ps;
    GC_get_prof_stats(&ps, sizeof ps);
    fill_stats(st, &ps);
}

void gcheap_stats_unlocked(struct gcheap_stats *st)
{
    struct GC_prof_stats_s ps;
    GC_get_prof_stats_unsafe(&ps, sizeof ps);
    fill_stats(st, &ps);
}

void *gcheap_with_alloc_lock(void *(*fn)(void *), void *arg)
{
    return GC_call_with_alloc_lock(fn, arg);
}

void *gcheap_blocking(void *(*fn)(void *), void *arg)
{
    return GC_do_blocking(fn, arg);
}

uintptr_t gcheap_hide(const void *obj) { return (uintptr_t)GC_HIDE_POINTER(obj); }

int gcheap_watch_free(uintptr_t *link, const void *obj)
{
    int rc = GC_general_register_disappearing_link((void **)link, obj);
    return rc == GC_NO_MEMORY ? -1 : 0;
}
