/* gcevents: multiplexes bdwgc's single collection-event and thread-event hooks to the
 * listeners of other modules, accounts stop-the-world pauses, and notes when each
 * collection ended and the heap it left in use.
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
#include "gc/gcthreads.h"

struct listener { gcevent_fn fn; void *ctx; };

static struct listener listeners[GCEVENTS_MAX_LISTENERS];
static _Atomic int listener_count;

static uint64_t stw_started_ns;               /* written under the allocation lock */
static _Atomic uint64_t pause_total, pause_max, pause_last, pause_count;
static _Atomic uint64_t pause_history[GCEVENTS_PAUSE_HISTORY];   /* by pause number */
static _Atomic uint64_t pause_end_history[GCEVENTS_PAUSE_HISTORY];
static _Atomic uint64_t last_gc_unix_ns, in_use_after_gc;

int gcevents_add_listener(gcevent_fn fn, void *ctx)
{
    int n = atomic_load(&listener_count);
    if (n >= GCEVENTS_MAX_LISTENERS) return -1;
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

/* World stopped or allocation lock held: plain arithmetic and relaxed atomics only.
 * A pause's duration and end time are stored before its number is published
 * (release), so a reader that sees the count sees both. */
static void account_pause(enum gcevent ev)
{
    if (ev == GCEV_PRE_STOP_WORLD) {
        stw_started_ns = clock_mono_ns();
    } else if (ev == GCEV_POST_START_WORLD && stw_started_ns) {
        uint64_t end = clock_mono_ns(), d = end - stw_started_ns;
        stw_started_ns = 0;
        atomic_fetch_add_explicit(&pause_total, d, memory_order_relaxed);
        uint64_t k = atomic_load_explicit(&pause_count, memory_order_relaxed);
        atomic_store_explicit(&pause_history[k % GCEVENTS_PAUSE_HISTORY], d, memory_order_relaxed);
        atomic_store_explicit(&pause_end_history[k % GCEVENTS_PAUSE_HISTORY], end, memory_order_relaxed);
        atomic_store_explicit(&pause_count, k + 1, memory_order_release);
        atomic_store_explicit(&pause_last, d, memory_order_relaxed);
        if (d > atomic_load_explicit(&pause_max, memory_order_relaxed))
            atomic_store_explicit(&pause_max, d, memory_order_relaxed);
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
    account_pause(ev);
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

int gcevents_recent_pauses(uint64_t *out, int max)
{
    uint64_t k = atomic_load_explicit(&pause_count, memory_order_acquire);
    int n = 0;
    while (n < max && n < GCEVENTS_PAUSE_HISTORY && (uint64_t)n < k) {
        out[n] = atomic_load_explicit(&pause_history[(k - 1 - (uint64_t)n) % GCEVENTS_PAUSE_HISTORY],
                                      memory_order_relaxed);
        n++;
    }
    return n;
}

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
