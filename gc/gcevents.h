/* gcevents: fan-out of the collector's progress events to listeners in other modules,
 * accounting of each collection (its kind, partial or full; its stop-the-world pause;
 * the time it kept allocation blocked), and what the last collection left behind (when
 * it ended, the heap it left in use).
 *
 * Owns: the single GC_set_on_collection_event / GC_set_on_thread_event hook and bdwgc's
 * start callback (called at the start of every full collection). bdwgc has one slot
 * for each; this module multiplexes them. (In libgcprof the three slots are installed by
 * gc/gcinterpose.c, which chains them with the foreign program's own callbacks and calls
 * gcevents__collection_event / gcevents__thread_event / gcevents__full_start.) Leaves to
 * others: what a listener does with an event (heap profiler: publish in-use figures;
 * tracer: record GC slices).
 *
 * Every collection reaches listeners as GCEV_START ... GCEV_END. bdwgc raises
 * GC_EVENT_START/END only around the collections GC_gcollect runs (always full); the
 * collections of generational mode (GC_start_incremental_collection, finished by
 * GC_collect_a_little or by bdwgc's own allocation path) raise neither, only the stop,
 * mark and RECLAIM events. For those this module raises GCEV_START just before the
 * first GCEV_PRE_STOP_WORLD and GCEV_END just after GCEV_RECLAIM_END, so that the pacer
 * recomputes its goal, the profiler publishes, the tracer draws a GC slice, and the
 * collection is counted, after every collection. A partial collection marks only what
 * is new or was written since the last one (see gcgen.h); a full one marks the whole
 * live heap.
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

/* Adds a listener. Returns 0, or -1 with errno = ENOSPC when GCEVENTS_MAX_LISTENERS
 * are registered. Call from main() at start-up, before serving (registration is not
 * synchronised with running collections beyond the publication of the count). */
int gcevents_add_listener(gcevent_fn fn, void *ctx);

/* Installs the bdwgc hooks and the start callback (which takes the lock). Called once
 * by gcheap_init_with(), just after GC_INIT (so the collection bdwgc runs inside
 * GC_INIT is not seen, nor counted). */
void gcevents__install(void);

/* What the two hooks do, for a front end that installs bdwgc's hooks itself: libgcprof
 * (gc/gcinterpose.c) chains them with a foreign program's own callbacks. e is bdwgc's
 * GC_EventType; thread_id what bdwgc passes with a thread event. Context: bdwgc's hook
 * (allocation lock held or world stopped): the listener rules above. */
void gcevents__collection_event(int e);
void gcevents__thread_event(int e, void *thread_id);

/* What the start callback does, for the same front end: a full collection starts (the
 * next collection counted is full; listeners get GCEV_FULL_START). Context: bdwgc's
 * start callback, allocation lock held, before the collection's first world stop: the
 * listener rules above, and no bdwgc call that takes its lock. */
void gcevents__full_start(void);

/* Collection accounting, readable any time (relaxed atomics). A collection is counted
 * when it ends, with its kind, its pause and its blocked time, so the counts agree:
 * every collection counted has its pause (bdwgc's own collection at GC_INIT, before
 * these hooks exist, is not counted: a fresh process says 0, as Go).
 * - pause: the time the world was stopped, summed over every stop of the collection
 *   (one for a stop-the-world collection, several for a full one marked in slices),
 *   Go's PauseNs;
 * - blocked: the time the collection held bdwgc's allocation lock, from its first
 *   event (GCEV_START, just after taking the lock, or its first world stop) to its end
 *   (GCEV_END, just before releasing it), minus the stretches between its world stops
 *   where bdwgc let go of the lock (an incremental collection's marking slices then
 *   run under the lock without an event; the pacer reports those it runs itself as
 *   assist time, gcpacer.h). That is the pause plus the work before the stop (clearing
 *   mark bits) and after the restart (starting the sweep), during which every thread
 *   that allocates waits too. Go has no such figure (its collector lets allocation go
 *   on outside its stops). */
uint64_t gcevents_pause_total_ns(void);
uint64_t gcevents_pause_max_ns(void);
uint64_t gcevents_pause_last_ns(void);
uint64_t gcevents_pause_count(void);      /* collections counted (NumGC = NumPause) */
uint64_t gcevents_blocked_total_ns(void);
uint64_t gcevents_blocked_max_ns(void);
uint64_t gcevents_blocked_last_ns(void);

/* Kinds of collection, in the order figures are reported. */
enum gcevents_kind { GCEVENTS_PARTIAL, GCEVENTS_FULL, GCEVENTS_KINDS };

/* "partial" or "full". */
const char *gcevents_kind_name(enum gcevents_kind kind);

/* What the collections of one kind cost, since start: the figures above split by kind
 * (the two kinds' collections, pause and lock totals add up to the totals above). */
struct gcevents_kind_stats {
    uint64_t collections;    /* ended */
    uint64_t stops;          /* world stops */
    uint64_t pause_ns;       /* world stopped, in all */
    uint64_t pause_max_ns;   /* by one collection (the sum of its stops) */
    uint64_t lock_ns;        /* allocation lock held (blocked), in all */
    uint64_t lock_max_ns;    /* by one collection */
    uint64_t lock_last_ns;
};

/* X(name, field, kind, metric, help): the figures of struct gcevents_kind_stats that
 * /debug/vars shows per kind under "gc" and /metrics as one family labelled by kind;
 * kind is counter, counter_seconds, seconds (a gauge) or none (not in /metrics). */
#define GCEVENTS_KIND_STATS_FIELDS(X)                                                             \
    X("collections", collections, counter, "memdemo_gc_collections",                              \
      "Collections completed, by kind: partial (marks what is new or was written since the "      \
      "last) or full.")                                                                           \
    X("stops", stops, counter, "memdemo_gc_world_stops", "World stops, by kind of collection.")   \
    X("pause_ns", pause_ns, counter_seconds, "memdemo_gc_pause_seconds",                          \
      "Time the world was stopped, by kind of collection.")                                       \
    X("pause_max_ns", pause_max_ns, seconds, "memdemo_gc_pause_max_seconds",                      \
      "Longest pause of one collection (the sum of its world stops) since start, by kind.")       \
    X("lock_ns", lock_ns, counter_seconds, "memdemo_gc_lock_seconds",                             \
      "Time collections held the allocation lock (pauses included), by kind.")                    \
    X("lock_max_ns", lock_max_ns, seconds, "memdemo_gc_lock_max_seconds",                         \
      "Longest time one collection held the allocation lock, by kind.")                           \
    X("lock_last_ns", lock_last_ns, none, NULL, NULL)

/* One snapshot (relaxed atomics, fields not mutually consistent). Any thread. */
void gcevents_kind_stats(enum gcevents_kind kind, struct gcevents_kind_stats *out);

/* The kind of the collection in progress (listeners) or of the last one (anyone);
 * GCEVENTS_FULL before the first. Relaxed atomic load. */
enum gcevents_kind gcevents_current_kind(void);

#define GCEVENTS_PAUSE_HISTORY 256

/* One recorded collection: its number (0 = the first collection counted), when the
 * world last started again (clock_mono_ns() clock), how long it was stopped, how long
 * it kept allocation blocked (>= the pause), and its kind. */
struct gcevents_pause {
    uint64_t number;
    uint64_t end_ns;
    uint64_t duration_ns;
    uint64_t blocked_ns;
    enum gcevents_kind kind;
};

/* Copies the collections numbered `first` and later that the history still holds (the
 * last GCEVENTS_PAUSE_HISTORY), oldest first, into out (at most max) and returns how
 * many. Entries overwritten while being copied are left out, so each one returned is
 * whole. Lock-free, no allocation; any thread. */
int gcevents_pauses_since(uint64_t first, struct gcevents_pause *out, int max);

/* Wall clock (ns since the Unix epoch) when the last collection ended; 0 before the
 * first. Relaxed atomic load; any thread, also listeners. */
uint64_t gcevents_last_gc_unix_ns(void);

/* Bytes of heap in use (heap size minus free blocks) as the last collection ended,
 * i.e. what the collector could not reclaim; 0 before the first. Same rules. */
uint64_t gcevents_in_use_after_gc(void);

/* Copies the pauses (ns) of the most recent collections, newest first, into out (at
 * most max, at most GCEVENTS_PAUSE_HISTORY) and returns how many. A collection being
 * recorded concurrently may be missed or seen twice; the figures are for display. Any
 * thread. */
int gcevents_recent_pauses(uint64_t *out, int max);
/* The same for the blocked times of the most recent collections. */
int gcevents_recent_blocked(uint64_t *out, int max);

#endif
