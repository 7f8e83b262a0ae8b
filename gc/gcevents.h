/* gcevents: fan-out of the collector's progress events to listeners in other modules,
 * accounting of each collection (its stop-the-world pause and the time it kept
 * allocation blocked), and what the last collection left behind (when it ended, the
 * heap it left in use).
 *
 * Owns: the single GC_set_on_collection_event / GC_set_on_thread_event hook. bdwgc has
 * one slot for each; this module multiplexes it. (In libgcprof the slot is installed
 * by gc/gcinterpose.c, which chains it with the foreign program's own callback and
 * calls gcevents__collection_event / gcevents__thread_event.) Leaves to others: what a listener does
 * with an event (heap profiler: publish in-use figures; tracer: record GC slices).
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
    GCEV_THREAD_UNSUSPENDED
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

/* Installs the bdwgc hooks. Called once by gcheap_init(), just after GC_INIT (so the
 * collection bdwgc runs inside GC_INIT is not seen, nor counted). */
void gcevents__install(void);

/* What the two hooks do, for a front end that installs bdwgc's hooks itself: libgcprof
 * (gc/gcinterpose.c) chains them with a foreign program's own callbacks. e is bdwgc's
 * GC_EventType; thread_id what bdwgc passes with a thread event. Context: bdwgc's hook
 * (allocation lock held or world stopped): the listener rules above. */
void gcevents__collection_event(int e);
void gcevents__thread_event(int e, void *thread_id);

/* Collection accounting, readable any time (relaxed atomics). A collection is counted
 * when it ends, with its pause and its blocked time, so the counts agree: every
 * collection counted has one pause (bdwgc's own collection at GC_INIT, before these
 * hooks exist, is not counted: a fresh process says 0, as Go).
 * - pause: the time the world was stopped (every stop between the collection's start
 *   and end; one for bdwgc's full collections), Go's PauseNs;
 * - blocked: the time the collection held bdwgc's allocation lock, from GCEV_START
 *   (just after taking it) to GCEV_END (just before releasing it): the pause plus the
 *   work before the stop (clearing mark bits) and after the restart (starting the
 *   sweep), during which every thread that allocates waits too. Go has no such figure
 *   (its collector lets allocation go on outside its stops). */
uint64_t gcevents_pause_total_ns(void);
uint64_t gcevents_pause_max_ns(void);
uint64_t gcevents_pause_last_ns(void);
uint64_t gcevents_pause_count(void);      /* collections counted (NumGC = NumPause) */
uint64_t gcevents_blocked_total_ns(void);
uint64_t gcevents_blocked_max_ns(void);
uint64_t gcevents_blocked_last_ns(void);

#define GCEVENTS_PAUSE_HISTORY 256

/* One recorded collection's pause: its number (0 = the first collection counted),
 * when the world started again (clock_mono_ns() clock), how long it was stopped and
 * how long the collection kept allocation blocked (>= the pause). */
struct gcevents_pause {
    uint64_t number;
    uint64_t end_ns;
    uint64_t duration_ns;
    uint64_t blocked_ns;
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
/* The same for the blocked times of the most recent collections. */
int gcevents_recent_blocked(uint64_t *out, int max);

#endif
