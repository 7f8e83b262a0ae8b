/* gcevents: multiplexes bdwgc's single collection-event and thread-event hooks to the
 * listeners of other modules, accounts each collection's stop-the-world pause and the
 * time it held the allocation lock, and notes when each collection ended and the heap
 * it left in use.
 *
 * Everything below the public getters runs inside bdwgc's callbacks, with the
 * allocation lock held (START..PRE_STOP_WORLD, POST_START_WORLD..END) or the world
 * stopped (between them, and the per-thread events): no allocation, no locks, no
 * blocking calls, no stdio. The listener table is filled at start-up
 * and published through an atomic count.
 */
#include "gc/gcevents.h"

#include <gc.h>
#include <stdatomic.h>
#include <string.h>

#include "gc/clock.h"
#include "gc/errors.h"
#include "gc/gcthreads.h"

struct listener { gcevent_fn fn; void *ctx; };

static struct listener listeners[GCEVENTS_MAX_LISTENERS];
static _Atomic int listener_count;

/* The collection in progress, written under the allocation lock (or with the world
 * stopped): when it took the lock (GCEV_START), its stops so far, and when the world
 * last started again. */
static uint64_t coll_started_ns, coll_pause_ns, stw_started_ns, restarted_ns;
static _Atomic uint64_t pause_total, pause_max, pause_last, pause_count;
static _Atomic uint64_t blocked_total, blocked_max, blocked_last;
/* By collection number (pause_count counts collections, each with its pause). */
static _Atomic uint64_t pause_history[GCEVENTS_PAUSE_HISTORY];
static _Atomic uint64_t pause_end_history[GCEVENTS_PAUSE_HISTORY];
static _Atomic uint64_t blocked_history[GCEVENTS_PAUSE_HISTORY];
static _Atomic uint64_t last_gc_unix_ns, in_use_after_gc;

int gcevents_add_listener(gcevent_fn fn, void *ctx)
{
    int n = atomic_load(&listener_count);
    if (n >= GCEVENTS_MAX_LISTENERS) return errors_fail(ENOSPC);
    listeners[n].fn = fn;
    listeners[n].ctx = ctx;
    atomic_store_explicit(&listener_count, n + 1, memory_order_release);
    return 0;
}

static void fan_out(enum gcevent ev, int thread)
{
    int n = atomic_load_explicit(&listener_count, memory_order_acquire);
    for (int i = 0; i < n; i++) listeners[i].fn(ev, thread, listeners[i].ctx);
}

static void store_max(_Atomic uint64_t *m, uint64_t v)
{
    if (v > atomic_load_explicit(m, memory_order_relaxed)) atomic_store_explicit(m, v, memory_order_relaxed);
}

/* Publishes collection k: its pause (every stop between its start and end), when the
 * world last started again, and how long it held the allocation lock. The count is
 * stored last (release), so a reader that sees it sees the figures. */
static void record_collection(uint64_t pause, uint64_t end, uint64_t blocked)
{
    uint64_t k = atomic_load_explicit(&pause_count, memory_order_relaxed);
    atomic_store_explicit(&pause_history[k % GCEVENTS_PAUSE_HISTORY], pause, memory_order_relaxed);
    atomic_store_explicit(&pause_end_history[k % GCEVENTS_PAUSE_HISTORY], end, memory_order_relaxed);
    atomic_store_explicit(&blocked_history[k % GCEVENTS_PAUSE_HISTORY], blocked, memory_order_relaxed);
    atomic_fetch_add_explicit(&pause_total, pause, memory_order_relaxed);
    atomic_fetch_add_explicit(&blocked_total, blocked, memory_order_relaxed);
    atomic_store_explicit(&pause_last, pause, memory_order_relaxed);
    atomic_store_explicit(&blocked_last, blocked, memory_order_relaxed);
    store_max(&pause_max, pause);
    store_max(&blocked_max, blocked);
    atomic_store_explicit(&pause_count, k + 1, memory_order_release);
}

/* World stopped or allocation lock held: plain arithmetic and relaxed atomics only.
 * bdwgc raises GCEV_START just after taking the allocation lock for a collection and
 * GCEV_END just before releasing it, so END - START is the time the collection kept
 * every allocating thread waiting: the stop, plus the work before it (clearing mark
 * bits) and after it (starting the sweep). A collection is counted at its end only: one
 * that is aborted (bdwgc's stop functions; memdemo uses none) is not counted. */
static void account_collection(enum gcevent ev)
{
    switch (ev) {
    case GCEV_START:
        coll_started_ns = clock_mono_ns();
        coll_pause_ns = 0;
        break;
    case GCEV_PRE_STOP_WORLD:
        stw_started_ns = clock_mono_ns();
        break;
    case GCEV_POST_START_WORLD:
        restarted_ns = clock_mono_ns();
        if (stw_started_ns) coll_pause_ns += restarted_ns - stw_started_ns;
        stw_started_ns = 0;
        break;
    case GCEV_END:
        if (coll_started_ns) record_collection(coll_pause_ns, restarted_ns, clock_mono_ns() - coll_started_ns);
        coll_started_ns = 0;
        break;
    default:
        break;
    }
}

/* At GCEV_END, allocation lock held: bdwgc's unsynchronised getters are exact here. */
static void account_end(enum gcevent ev)
{
    if (ev != GCEV_END) return;
    atomic_store_explicit(&last_gc_unix_ns, (uint64_t)clock_wall_ns(), memory_order_relaxed);
    atomic_store_explicit(&in_use_after_gc, (uint64_t)(GC_get_heap_size() - GC_get_free_bytes()),
                          memory_order_relaxed);
}

void gcevents__collection_event(int e)
{
    enum gcevent ev = (enum gcevent)e;   /* same order, checked below */
    account_collection(ev);
    account_end(ev);
    fan_out(ev, gcthreads_self());
}

void gcevents__thread_event(int e, void *thread_id)
{
    fan_out((enum gcevent)e, gcthreads_find((uintptr_t)thread_id));
}

static void GC_CALLBACK on_collection_event(GC_EventType e) { gcevents__collection_event((int)e); }

static void GC_CALLBACK on_thread_event(GC_EventType e, void *thread_id)
{
    gcevents__thread_event((int)e, thread_id);
}

_Static_assert((int)GCEV_START == (int)GC_EVENT_START, "gcevent order");
_Static_assert((int)GCEV_END == (int)GC_EVENT_END, "gcevent order");
_Static_assert((int)GCEV_PRE_STOP_WORLD == (int)GC_EVENT_PRE_STOP_WORLD, "gcevent order");
_Static_assert((int)GCEV_POST_START_WORLD == (int)GC_EVENT_POST_START_WORLD, "gcevent order");
_Static_assert((int)GCEV_THREAD_UNSUSPENDED == (int)GC_EVENT_THREAD_UNSUSPENDED, "gcevent order");

void gcevents__install(void)
{
    GC_set_on_collection_event(on_collection_event);
    GC_set_on_thread_event(on_thread_event);
}

uint64_t gcevents_pause_total_ns(void) { return atomic_load_explicit(&pause_total, memory_order_relaxed); }
uint64_t gcevents_pause_max_ns(void) { return atomic_load_explicit(&pause_max, memory_order_relaxed); }
uint64_t gcevents_pause_last_ns(void) { return atomic_load_explicit(&pause_last, memory_order_relaxed); }
uint64_t gcevents_pause_count(void) { return atomic_load_explicit(&pause_count, memory_order_relaxed); }

uint64_t gcevents_blocked_total_ns(void) { return atomic_load_explicit(&blocked_total, memory_order_relaxed); }
uint64_t gcevents_blocked_max_ns(void) { return atomic_load_explicit(&blocked_max, memory_order_relaxed); }
uint64_t gcevents_blocked_last_ns(void) { return atomic_load_explicit(&blocked_last, memory_order_relaxed); }

/* The newest entries of a history ring, newest first. */
static int recent_of(const _Atomic uint64_t *history, uint64_t *out, int max)
{
    uint64_t k = atomic_load_explicit(&pause_count, memory_order_acquire);
    int n = 0;
    while (n < max && n < GCEVENTS_PAUSE_HISTORY && (uint64_t)n < k) {
        out[n] = atomic_load_explicit(&history[(k - 1 - (uint64_t)n) % GCEVENTS_PAUSE_HISTORY],
                                      memory_order_relaxed);
        n++;
    }
    return n;
}

int gcevents_recent_pauses(uint64_t *out, int max) { return recent_of(pause_history, out, max); }
int gcevents_recent_blocked(uint64_t *out, int max) { return recent_of(blocked_history, out, max); }

int gcevents_pauses_since(uint64_t first, struct gcevents_pause *out, int max)
{
    uint64_t k = atomic_load_explicit(&pause_count, memory_order_acquire);
    uint64_t from = k > GCEVENTS_PAUSE_HISTORY ? k - GCEVENTS_PAUSE_HISTORY : 0;
    if (first > from) from = first;
    int n = 0;
    for (uint64_t i = from; i < k && n < max; i++, n++) {
        out[n].number = i;
        out[n].duration_ns = atomic_load_explicit(&pause_history[i % GCEVENTS_PAUSE_HISTORY], memory_order_relaxed);
        out[n].end_ns = atomic_load_explicit(&pause_end_history[i % GCEVENTS_PAUSE_HISTORY], memory_order_relaxed);
        out[n].blocked_ns = atomic_load_explicit(&blocked_history[i % GCEVENTS_PAUSE_HISTORY], memory_order_relaxed);
    }
    /* Pauses recorded meanwhile may have overwritten the oldest slots read: drop those. */
    atomic_thread_fence(memory_order_acquire);
    uint64_t k2 = atomic_load_explicit(&pause_count, memory_order_relaxed);
    int skip = 0;
    while (skip < n && out[skip].number + GCEVENTS_PAUSE_HISTORY < k2 + 1) skip++;
    if (skip) memmove(out, out + skip, (size_t)(n - skip) * sizeof *out);
    return n - skip;
}

uint64_t gcevents_last_gc_unix_ns(void) { return atomic_load_explicit(&last_gc_unix_ns, memory_order_relaxed); }
uint64_t gcevents_in_use_after_gc(void) { return atomic_load_explicit(&in_use_after_gc, memory_order_relaxed); }
