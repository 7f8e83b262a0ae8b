/* gcview: the observer half of gcheap.h: what any bdwgc process lets a profiler ask
 * without steering its collector: the size bdwgc handed out for an object, hidden
 * pointers and mark bits, the allocation lock, heap statistics, the version, and the
 * bounds of the allocator's own text.
 *
 * Why a file of its own: memdemo links it with its allocation front end (gcheap.c:
 * initialisation, the countdown, forced collections, and the policy behind struct
 * gcheap_policy); libgcprof links it with a foreign program's front end
 * (gcinterpose.c: interposed entry points), and nothing here may apply memdemo's
 * policy to a program it only watches: what only a front end knows (the next
 * collection's goal, the forced-collection counts) it asks through gcheap__next_gc and
 * gcheap__forced_counts. Leaves events to gcevents, thread ids to gcthreads.
 *
 * Threads: in a foreign program the profiler's threads never call bdwgc
 * (gcthreads_may_call_collector()); for them gcheap_stats() answers from the figures
 * the last collection left (cached at its end) and gcheap_with_alloc_lock() runs its
 * function without the lock, which the callers' walks tolerate (see gcheap.h).
 */
#include "gc/gcheap.h"

#include <gc.h>
#include <gc/gc_mark.h>
#include <stdatomic.h>
#include <stdio.h>

#include "gc/gcevents.h"
#include "gc/gcthreads.h"

extern const char __start_memdemo_alloc_text[];
extern const char __stop_memdemo_alloc_text[];

int gcheap_pc_is_alloc_text(uintptr_t pc)
{
    return pc >= (uintptr_t)__start_memdemo_alloc_text && pc < (uintptr_t)__stop_memdemo_alloc_text;
}

void gcheap__alloc_text_range(uintptr_t *lo, uintptr_t *hi)
{
    *lo = (uintptr_t)__start_memdemo_alloc_text;
    *hi = (uintptr_t)__stop_memdemo_alloc_text;
}

/* The figures that move between collections without bdwgc's help. */
static void fill_moving(struct gcheap_stats *st)
{
    st->pause_total_ns = gcevents_pause_total_ns();
    st->pause_max_ns = gcevents_pause_max_ns();
    st->pause_last_ns = gcevents_pause_last_ns();
    st->blocked_total_ns = gcevents_blocked_total_ns();
    st->blocked_max_ns = gcevents_blocked_max_ns();
    st->blocked_last_ns = gcevents_blocked_last_ns();
}

static void fill_stats(struct gcheap_stats *st, const struct GC_prof_stats_s *ps)
{
    st->collections = gcevents_pause_count();   /* not gc_no: that counts GC_INIT's, pauseless here */
    st->heap_size = ps->heapsize_full;
    st->free_bytes = ps->free_bytes_full;
    st->unmapped_bytes = ps->unmapped_bytes;
    st->in_use_bytes = ps->heapsize_full - ps->free_bytes_full;   /* free_bytes_full counts unmapped */
    st->total_allocated = ps->allocd_bytes_before_gc + ps->bytes_allocd_since_gc;
    st->allocated_since_gc = ps->bytes_allocd_since_gc;
    st->reclaimed_last_gc = ps->bytes_reclaimed_since_gc;
    st->next_gc = gcheap__next_gc();
    st->in_use_after_gc = gcevents_in_use_after_gc();
    st->last_gc_unix_ns = gcevents_last_gc_unix_ns();
    st->obtained_from_os = ps->obtained_from_os_bytes;
    gcheap__forced_counts(&st->forced_collections, &st->forced_shared);
    fill_moving(st);
}

void gcheap_version(char *out, size_t n)
{
    unsigned v = GC_get_version();   /* (major << 16) | (minor << 8) | micro */
    snprintf(out, n, "%u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
}

/* ---- the figures of the last collection, for threads that may not call bdwgc ------
 * A sequence lock: the listener (one collection at a time, under the allocation
 * lock) makes the count odd, copies, makes it even; a reader retries while the count
 * is odd or moved. The copy is word by word through relaxed atomics. */
#define STATS_WORDS (sizeof(struct gcheap_stats) / sizeof(uint64_t))
static _Atomic uint64_t cached_words[STATS_WORDS];
static _Atomic unsigned cached_seq;

static void cache_stats(const struct gcheap_stats *st)
{
    const uint64_t *w = (const uint64_t *)st;
    atomic_fetch_add_explicit(&cached_seq, 1, memory_order_acq_rel);
    for (size_t i = 0; i < STATS_WORDS; i++) atomic_store_explicit(&cached_words[i], w[i], memory_order_relaxed);
    atomic_fetch_add_explicit(&cached_seq, 1, memory_order_release);
}

static void cached_stats(struct gcheap_stats *st)
{
    uint64_t *w = (uint64_t *)st;
    unsigned before, after;
    do {
        before = atomic_load_explicit(&cached_seq, memory_order_acquire);
        for (size_t i = 0; i < STATS_WORDS; i++) w[i] = atomic_load_explicit(&cached_words[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        after = atomic_load_explicit(&cached_seq, memory_order_relaxed);
    } while ((before & 1) || before != after);
    fill_moving(st);
}

/* Listener (allocation lock held): bdwgc's unsynchronised getter is exact here. */
static void on_end(enum gcevent ev, int thread, void *ctx)
{
    (void)thread; (void)ctx;
    if (ev != GCEV_END) return;
    struct gcheap_stats st;
    gcheap_stats_unlocked(&st);
    cache_stats(&st);
}

int gcheap__cache_stats_at_collections(void) { return gcevents_add_listener(on_end, NULL); }

void gcheap_stats(struct gcheap_stats *st)
{
    if (!gcthreads_may_call_collector()) {
        cached_stats(st);
        return;
    }
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
    if (!gcthreads_may_call_collector()) return fn(arg);
    return GC_call_with_alloc_lock(fn, arg);
}

void *gcheap_blocking(void *(*fn)(void *), void *arg)
{
    return GC_do_blocking(fn, arg);
}

size_t gcheap_size(const void *obj) { return GC_size(obj); }

uintptr_t gcheap_hide(const void *obj) { return (uintptr_t)GC_HIDE_POINTER(obj); }

static int explicit_frees;   /* set once at start, before any collection is watched */

void gcheap__explicit_frees(void) { explicit_frees = 1; }

/* A program that frees objects itself may have freed a tracked object's whole block
 * (large objects go back to the heap at once, and its header with them), where a
 * mark bit means nothing: GC_base answers NULL there, without touching the block. */
int gcheap_survives_unlocked(uintptr_t hidden)
{
    void *obj = GC_REVEAL_POINTER(hidden);
    if (explicit_frees && GC_base(obj) != obj) return 0;
    return GC_is_marked(obj);
}

static const char *const mode_names[GCHEAP_MODES] = {"stw", "generational"};

const char *gcheap_mode_name(enum gcheap_mode m)
{
    return (unsigned)m < GCHEAP_MODES ? mode_names[m] : "?";
}
