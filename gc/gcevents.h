/* gcevents: fan-out of the collector's progress events to listeners in other modules,
 * stop-the-world pause accounting, the kind of each collection (partial or full) and
 * how long it held the allocation lock, and what the last collection left behind (when
 * it ended, the heap it left in use).
 *
 * Owns: the single GC_set_on_collection_event / GC_set_on_thread_event hook and bdwgc's
 * start callback (called at the start of every full collection). bdwgc has one slot
 * for each; this module multiplexes them. Leaves to others: what a listener does with
 * an event (heap profiler: publish in-use figures; tracer: record GC slices).
 *
 * Every collection reaches listeners as GCEV_START ... GCEV_END. bdwgc raises
 * GC_EVENT_START/END only around the collections GC_gcollect runs (always full); the
 * collections of generational mode (GC_start_incremental_collection, finished by
 * GC_collect_a_little or by bdwgc's own allocation path) raise neither, only the stop,
 * mark and RECLAIM events. For those this module raises GCEV_START just before the
 * first GCEV_PRE_STOP_WORLD and GCEV_END just after GCEV_RECLAIM_END, so that the pacer
 * recomputes its goal, the profiler publishes, and the tracer draws a GC slice after
 * every collection. A partial collection marks only what is new or was written since
 * the last one (see gcgen.h); a full one marks the whole live heap.
 *
 * LISTENERS RUN WITH THE ALLOCATION LOCK HELD OR THE WORLD STOPPED: no allocation (GC
 * or malloc), no locks, no system calls that may block, no printf. Plain writes to
 * memory the listener owns, atomics, and clock_gettime() only. They run on the thread
 * that collects (for START..END), which is the allocating request's thread.
 */
#ifndef MEMDEMO_GCEVENTS_H
#define MEMDEMO_GCEVENTS_H

#include <stdint.h>

/* Mirrors bdwgc's GC_EventType, in the order bdwgc raises them in one collection. */
enum gcevent {
    GCEV_START,             /* a collection begins (collecting thread) */
    GCEV_MARK_START,
    GCEV_MARK_END,
    GCEV_RECLAIM_START,
    GCEV_RECLAIM_END,
    GCEV_END,               /* a collection is complete; stats are final */
    GCEV_PRE_STOP_WORLD,
    GCEV_POST_STOP_WORLD,   /* world stopped */
    GCEV_PRE_START_WORLD,
    GCEV_POST_START_WORLD,  /* world running again */
    GCEV_THREAD_SUSPENDED,  /* `thread` says which (gcthreads id, or -1) */
    GCEV_THREAD_UNSUSPENDED,
    GCEV_FULL_START         /* not bdwgc's: the next collection is a full one (bdwgc's
                               start callback, before its first world stop) */
};

/* A listener: ev, the gcthreads id the event is about (the collecting thread for
 * collection events, the suspended one for thread events; -1 if unregistered), and
 * the ctx given at registration. See the rules above. */
typedef void (*gcevent_fn)(enum gcevent ev, int thread, void *ctx);

#define GCEVENTS_MAX_LISTENERS 8

/* Adds a listener. Returns 0, or -1 when GCEVENTS_MAX_LISTENERS are registered.
 * Call from main() at start-up, before serving (registration is not synchronised with
 * running collections beyond the publication of the count). */
int gcevents_add_listener(gcevent_fn fn, void *ctx);

/* Installs the bdwgc hooks. Called once by gcheap_init(), before GC_INIT. */
void gcevents__install(void);

/* Installs bdwgc's start callback (which takes the lock, hence after GC_INIT). Called
 * once by gcheap_init(). */
void gcevents__install_start_callback(void);

/* Kinds of collection, in the order figures are reported. */
enum gcevents_kind { GCEVENTS_PARTIAL, GCEVENTS_FULL, GCEVENTS_KINDS };

/* "partial" or "full". */
const char *gcevents_kind_name(enum gcevents_kind kind);

/* What the collections of one kind cost, since start. Lock time: from the collection's
 * first event (GCEV_START, or its first world stop) to its end, minus the stretches
 * between its world stops where bdwgc let go of the lock (an incremental collection's
 * marking slices then run under the lock without an event; the pacer reports those it
 * runs itself as assist time, gcpacer.h). Pauses are included in the lock time. */
struct gcevents_kind_stats {
    uint64_t collections;    /* ended */
    uint64_t pauses;         /* world stops */
    uint64_t pause_ns;       /* world stopped, in all */
    uint64_t pause_max_ns;
    uint64_t lock_ns;        /* allocation lock held, in all */
    uint64_t lock_max_ns;    /* by one collection */
    uint64_t lock_last_ns;
};

/* One snapshot (relaxed atomics, fields not mutually consistent). Any thread. */
void gcevents_kind_stats(enum gcevents_kind kind, struct gcevents_kind_stats *out);

/* The kind of the collection in progress (listeners) or of the last one (anyone);
 * GCEVENTS_FULL before the first. Relaxed atomic load. */
enum gcevents_kind gcevents_current_kind(void);

/* Pause accounting, readable any time (relaxed atomics). */
uint64_t gcevents_pause_total_ns(void);
uint64_t gcevents_pause_max_ns(void);
uint64_t gcevents_pause_last_ns(void);
uint64_t gcevents_pause_count(void);

#define GCEVENTS_PAUSE_HISTORY 256

/* One recorded pause: its number (0 = the first pause since start), when the world
 * started again (clock_mono_ns() clock), how long it was stopped, and the kind of the
 * collection it belonged to. */
struct gcevents_pause {
    uint64_t number;
    uint64_t end_ns;
    uint64_t duration_ns;
    enum gcevents_kind kind;
};

/* Copies the pauses numbered `first` and later that the history still holds (the last
 * GCEVENTS_PAUSE_HISTORY), oldest first, into out (at most max) and returns how many.
 * Entries overwritten while being copied are left out, so each one returned is whole.
 * Lock-free, no allocation; any thread. */
int gcevents_pauses_since(uint64_t first, struct gcevents_pause *out, int max);

/* Wall clock (ns since the Unix epoch) when the last collection ended; 0 before the
 * first. Relaxed atomic load; any thread, also listeners. */
uint64_t gcevents_last_gc_unix_ns(void);

/* Bytes of heap in use (heap size minus free blocks) as the last collection ended,
 * i.e. what the collector could not reclaim; 0 before the first. Same rules. */
uint64_t gcevents_in_use_after_gc(void);

/* Copies the most recent pauses (ns), newest first, into out (at most max, at most
 * GCEVENTS_PAUSE_HISTORY) and returns how many. A pause being recorded concurrently
 * may be missed or seen twice; the figures are for display. Any thread. */
int gcevents_recent_pauses(uint64_t *out, int max);

/* The same per collection: each the sum of one collection's world stops (Go's
 * memstats.PauseNs meaning; a generational collection may stop the world two or three
 * times, stop-the-world mode once), newest first, collections memdemo saw end. */
int gcevents_recent_collection_pauses(uint64_t *out, int max);

#endif
