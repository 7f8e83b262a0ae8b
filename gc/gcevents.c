/* gcevents: multiplexes bdwgc's single collection-event and thread-event hooks to the
 * listeners of other modules, accounts each collection (its kind, its stop-the-world
 * pause, the time it held the allocation lock), and notes when each collection ended
 * and the heap it left in use.
 *
 * The collection in progress: `real_open` between bdwgc's own START and END (a
 * GC_gcollect), `synth_open` between the GCEV_START this module raises at a world
 * stop outside them and the GCEV_END it raises after that collection's RECLAIM_END.
 * GC_gcollect called while a partial collection is open first finishes that one
 * inside its own START: then the partial's synthesized END comes between the real
 * START and END, and the full collection's accounting, and the START listeners get
 * for it, come just after that END. bdwgc's start callback runs at the start of every
 * full collection, before its first world stop, which is how a collection's kind is
 * known (bdwgc's full_freq collections, in generational mode, come without START/END
 * too); in libgcprof gc/gcinterpose.c chains it with the program's own, as it does the
 * two hooks. A collection is counted at its (real or synthesized) END, and only there:
 * one that bdwgc aborts is not counted.
 *
 * Everything below the public getters runs inside bdwgc's callbacks, with the
 * allocation lock held (START..PRE_STOP_WORLD, POST_START_WORLD..END) or the world
 * stopped (between them, and the per-thread events): no allocation, no locks, no
 * blocking calls, no stdio. The listener table is filled at start-up
 * and published through an atomic count.
 */
#include "gc/gcevents.h"

#include <gc.h>
#include <gc/gc_mark.h>
#include <stdatomic.h>
#include <string.h>

#include "gc/clock.h"
#include "gc/errors.h"
#include "gc/gcthreads.h"

struct listener { gcevent_fn fn; void *ctx; };

static struct listener listeners[GCEVENTS_MAX_LISTENERS];
static _Atomic int listener_count;

/* The collection in progress; written under the allocation lock (see the top). */
static int real_open, synth_open, full_pending, resumed;
static uint64_t held_since, held_ns;          /* lock time of the collection so far */
static uint64_t stopped_ns, stops;            /* its world stops so far */
static uint64_t stw_started_ns, restarted_ns; /* the current stop; the last restart */

/* Totals over every collection counted (pause_count counts them). */
static _Atomic uint64_t pause_total, pause_max, pause_last, pause_count;
static _Atomic uint64_t blocked_total, blocked_max, blocked_last;
/* By collection number. */
static _Atomic uint64_t pause_history[GCEVENTS_PAUSE_HISTORY];
static _Atomic uint64_t pause_end_history[GCEVENTS_PAUSE_HISTORY];
static _Atomic uint64_t blocked_history[GCEVENTS_PAUSE_HISTORY];
static _Atomic unsigned char kind_history[GCEVENTS_PAUSE_HISTORY];
static _Atomic uint64_t last_gc_unix_ns, in_use_after_gc;
static _Atomic int current_kind = GCEVENTS_FULL;

struct kind_counters {
    _Atomic uint64_t collections, stops, pause_ns, pause_max_ns, lock_ns, lock_max_ns, lock_last_ns;
};
static struct kind_counters by_kind[GCEVENTS_KINDS];

static const char *const kind_names[GCEVENTS_KINDS] = {"partial", "full"};

const char *gcevents_kind_name(enum gcevents_kind kind)
{
    return (unsigned)kind < GCEVENTS_KINDS ? kind_names[kind] : "?";
}

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

/* Single writer (the allocation lock): a plain read-modify-write of relaxed atomics. */
static void add_relaxed(_Atomic uint64_t *a, uint64_t v)
{
    atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + v, memory_order_relaxed);
}

static void max_relaxed(_Atomic uint64_t *a, uint64_t v)
{
    if (v > atomic_load_explicit(a, memory_order_relaxed)) atomic_store_explicit(a, v, memory_order_relaxed);
}

/* ---- the collection in progress (allocation lock held or world stopped) ----------- */

static void begin_collection(uint64_t now)
{
    held_since = now;
    held_ns = 0;
    stopped_ns = 0;
    stops = 0;
    resumed = 0;
}

/* World stops: summed into the collection's pause. */
static void account_stop(enum gcevent ev, uint64_t now)
{
    if (ev == GCEV_PRE_STOP_WORLD) {
        stw_started_ns = now;
    } else if (ev == GCEV_POST_START_WORLD && stw_started_ns) {
        stopped_ns += now - stw_started_ns;
        stops++;
        restarted_ns = now;
        stw_started_ns = 0;
    }
}

/* Lock time: counted from the collection's start or from a world stop, through the
 * restart, to the end of the sweep start that follows it under the same lock hold;
 * not across a restart after which a world stop comes first (bdwgc may have let go of
 * the lock in between: an incremental collection's marking slices). For a collection
 * bdwgc brackets with START and END that is END - START. */
static void account_lock(enum gcevent ev, uint64_t now)
{
    if (ev == GCEV_PRE_STOP_WORLD && resumed) held_since = now;
    if (ev == GCEV_POST_START_WORLD || ev == GCEV_RECLAIM_END || ev == GCEV_END) {
        held_ns += now - held_since;
        held_since = now;
    }
    if (ev == GCEV_POST_START_WORLD) resumed = 1;
    if (ev == GCEV_RECLAIM_START) resumed = 0;
}

/* Publishes collection k (its figures, then the count with release, so a reader that
 * sees the count sees them) and adds it to its kind's. */
static void record_collection(int kind)
{
    uint64_t k = atomic_load_explicit(&pause_count, memory_order_relaxed), slot = k % GCEVENTS_PAUSE_HISTORY;
    atomic_store_explicit(&pause_history[slot], stopped_ns, memory_order_relaxed);
    atomic_store_explicit(&pause_end_history[slot], restarted_ns, memory_order_relaxed);
    atomic_store_explicit(&blocked_history[slot], held_ns, memory_order_relaxed);
    atomic_store_explicit(&kind_history[slot], (unsigned char)kind, memory_order_relaxed);
    add_relaxed(&pause_total, stopped_ns);
    add_relaxed(&blocked_total, held_ns);
    atomic_store_explicit(&pause_last, stopped_ns, memory_order_relaxed);
    atomic_store_explicit(&blocked_last, held_ns, memory_order_relaxed);
    max_relaxed(&pause_max, stopped_ns);
    max_relaxed(&blocked_max, held_ns);
    atomic_store_explicit(&pause_count, k + 1, memory_order_release);
    struct kind_counters *c = &by_kind[kind];
    add_relaxed(&c->collections, 1);
    add_relaxed(&c->stops, stops);
    add_relaxed(&c->pause_ns, stopped_ns);
    max_relaxed(&c->pause_max_ns, stopped_ns);
    add_relaxed(&c->lock_ns, held_ns);
    max_relaxed(&c->lock_max_ns, held_ns);
    atomic_store_explicit(&c->lock_last_ns, held_ns, memory_order_relaxed);
}

/* The kind of the collection in progress: full once the start callback said so since
 * the last collection ended. Without incremental mode every collection is full, which
 * this says without the start callback's word (bdwgc gives it for those too). */
static enum gcevents_kind kind_now(void)
{
    return full_pending || !GC_is_incremental_mode() ? GCEVENTS_FULL : GCEVENTS_PARTIAL;
}

/* At a collection's end, allocation lock held: bdwgc's unsynchronised getters are
 * exact here. */
static void end_collection(void)
{
    int kind = kind_now();
    full_pending = 0;
    record_collection(kind);
    atomic_store_explicit(&current_kind, kind, memory_order_relaxed);
    atomic_store_explicit(&last_gc_unix_ns, (uint64_t)clock_wall_ns(), memory_order_relaxed);
    atomic_store_explicit(&in_use_after_gc, (uint64_t)(GC_get_heap_size() - GC_get_free_bytes()),
                          memory_order_relaxed);
}

/* A full collection starts: from bdwgc's start callback (or, in libgcprof, from the
 * interposer's, which chains the program's own). Allocation lock held. */
void gcevents__full_start(void)
{
    full_pending = 1;
    atomic_store_explicit(&current_kind, GCEVENTS_FULL, memory_order_relaxed);
    fan_out(GCEV_FULL_START, gcthreads_self());
}

/* A collection bdwgc brackets with START and END (a GC_gcollect) starts being
 * accounted, and listeners get its START. It is full, but bdwgc gives the start
 * callback's word just AFTER its START (measured: START, start callback, first world
 * stop), so the kind listeners read at START is set here. */
static void open_real(int self, uint64_t now)
{
    begin_collection(now);
    atomic_store_explicit(&current_kind, GCEVENTS_FULL, memory_order_relaxed);
    fan_out(GCEV_START, self);
}

/* Before fan-out: opens the collection a world stop outside START..END belongs to, or
 * one bdwgc's START opens. Returns 0 for an event listeners get later or not at all: a
 * START while a partial collection is open (GC_gcollect finishes that one first) is
 * raised once that one has ended (after()), so listeners never see two STARTs in a
 * row. */
static int before(enum gcevent ev, int self, uint64_t now)
{
    int raise = 1;
    if (ev == GCEV_START) {
        if (!synth_open) open_real(self, now);
        real_open = 1;
        raise = 0;
    } else if (ev == GCEV_PRE_STOP_WORLD && !real_open && !synth_open) {
        synth_open = 1;
        begin_collection(now);
        atomic_store_explicit(&current_kind, kind_now(), memory_order_relaxed);
        fan_out(GCEV_START, self);
    }
    account_lock(ev, now);
    account_stop(ev, now);
    if (ev == GCEV_END && real_open) {
        real_open = 0;
        end_collection();   /* counted before listeners see END: they read its figures */
    }
    return raise;
}

/* After fan-out: ends a synthesized collection after its RECLAIM_END. */
static void after(enum gcevent ev, int self, uint64_t now)
{
    if (ev != GCEV_RECLAIM_END || !synth_open) return;
    synth_open = 0;
    account_lock(GCEV_END, now);
    end_collection();
    fan_out(GCEV_END, self);
    if (real_open) open_real(self, now);   /* the GC_gcollect that finished it goes on */
}

/* Every collection event, from bdwgc's hook (or, in libgcprof, from the interposer's,
 * which chains the program's own): the collection and kind bookkeeping around the
 * fan-out. Lock held or world stopped. */
void gcevents__collection_event(int e)
{
    enum gcevent ev = (enum gcevent)e;   /* same order, checked below */
    int self = gcthreads_self();
    uint64_t now = clock_mono_ns();
    if (before(ev, self, now)) fan_out(ev, self);
    after(ev, self, now);
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

static void GC_CALLBACK on_full_start(void) { gcevents__full_start(); }

_Static_assert((int)GCEV_START == (int)GC_EVENT_START, "gcevent order");
_Static_assert((int)GCEV_END == (int)GC_EVENT_END, "gcevent order");
_Static_assert((int)GCEV_PRE_STOP_WORLD == (int)GC_EVENT_PRE_STOP_WORLD, "gcevent order");
_Static_assert((int)GCEV_POST_START_WORLD == (int)GC_EVENT_POST_START_WORLD, "gcevent order");
_Static_assert((int)GCEV_THREAD_UNSUSPENDED == (int)GC_EVENT_THREAD_UNSUSPENDED, "gcevent order");

void gcevents__install(void)
{
    GC_set_on_collection_event(on_collection_event);
    GC_set_on_thread_event(on_thread_event);
    GC_set_start_callback(on_full_start);
}

void gcevents_kind_stats(enum gcevents_kind kind, struct gcevents_kind_stats *out)
{
    const struct kind_counters *k = &by_kind[(unsigned)kind < GCEVENTS_KINDS ? kind : GCEVENTS_FULL];
    *out = (struct gcevents_kind_stats){
        .collections = atomic_load_explicit(&k->collections, memory_order_relaxed),
        .stops = atomic_load_explicit(&k->stops, memory_order_relaxed),
        .pause_ns = atomic_load_explicit(&k->pause_ns, memory_order_relaxed),
        .pause_max_ns = atomic_load_explicit(&k->pause_max_ns, memory_order_relaxed),
        .lock_ns = atomic_load_explicit(&k->lock_ns, memory_order_relaxed),
        .lock_max_ns = atomic_load_explicit(&k->lock_max_ns, memory_order_relaxed),
        .lock_last_ns = atomic_load_explicit(&k->lock_last_ns, memory_order_relaxed),
    };
}

enum gcevents_kind gcevents_current_kind(void)
{
    return (enum gcevents_kind)atomic_load_explicit(&current_kind, memory_order_relaxed);
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
        uint64_t slot = i % GCEVENTS_PAUSE_HISTORY;
        out[n].number = i;
        out[n].duration_ns = atomic_load_explicit(&pause_history[slot], memory_order_relaxed);
        out[n].end_ns = atomic_load_explicit(&pause_end_history[slot], memory_order_relaxed);
        out[n].blocked_ns = atomic_load_explicit(&blocked_history[slot], memory_order_relaxed);
        out[n].kind = (enum gcevents_kind)atomic_load_explicit(&kind_history[slot], memory_order_relaxed);
    }
    /* Collections recorded meanwhile may have overwritten the oldest slots read: drop those. */
    atomic_thread_fence(memory_order_acquire);
    uint64_t k2 = atomic_load_explicit(&pause_count, memory_order_relaxed);
    int skip = 0;
    while (skip < n && out[skip].number + GCEVENTS_PAUSE_HISTORY < k2 + 1) skip++;
    if (skip) memmove(out, out + skip, (size_t)(n - skip) * sizeof *out);
    return n - skip;
}

uint64_t gcevents_last_gc_unix_ns(void) { return atomic_load_explicit(&last_gc_unix_ns, memory_order_relaxed); }
uint64_t gcevents_in_use_after_gc(void) { return atomic_load_explicit(&in_use_after_gc, memory_order_relaxed); }
