/* trace: memdemo's execution tracer. Records requests and collections while a trace
 * window is open and hands the window to profile/tracewire for the Go 1.19 trace
 * format that `go tool trace` opens.
 *
 * Two windows, independent of each other: the live one (trace_start/stop/cancel:
 * /debug/pprof/trace, one at a time) and the whole-run recording (trace_run_start/
 * stop: libgcprof's PREFIX.trace, from start to exit). While both are open a record
 * goes into both, so a live window can be served while the whole run is recorded, and
 * each window's trace is what a window opened alone would hold.
 *
 * Owns: the on/off switches, one fixed-size record buffer per server thread and open
 * window (malloc'd, capped), the collection listener, the hand-over of buffers at
 * stop, and drop accounting. Leaves the format to tracewire, the HTTP endpoint
 * (seconds, headers, deferral) to src/, and thread ids to gc/gcthreads.
 *
 * Errors: gc/errors.h (-1 with errno); dropped events are counted (trace_stats).
 *
 * Cost: with no window open, every recording entry point is one relaxed atomic load
 * and a return. While a window runs, a record costs a thread-id lookup, two atomic
 * stores and a load (the hand-over protocol below), one clock_gettime (vDSO) and a
 * 32-byte store into the thread's own buffer per open window: no lock, no allocation
 * (except a thread's first record in a window when it had no buffer there yet, outside
 * collection listeners), no system call.
 *
 * Hand-over: a writer marks its slot busy, then reads which windows are open and
 * records into exactly those; a stop clears its window's bit, then waits until no slot
 * is busy (sequentially consistent atomics on both sides, so either the writer sees the
 * window closed or the stop sees it busy). Only then are that window's buffers read
 * and freed. A full buffer stops that thread's recording in that window for the rest
 * of it (its stream stays a prefix) and counts each lost event.
 */
#ifndef MEMDEMO_TRACE_H
#define MEMDEMO_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "gc/gcevents.h"
#include "profile/buf.h"

/* Bytes of events each thread may buffer per window (about 2 M records: a 10 s window
 * of one busy worker at ~50k requests/s); -tracebuf's default. */
#define TRACE_DEFAULT_BUFFER_CAP ((size_t)64 << 20)

/* Registers the collection listener with gcevents. Call once from main() after
 * gcheap_init() and before serving. Returns 0, or -1 with errno = ENOSPC when gcevents
 * has no free listener slot. */
int trace_init(void);

/* Sets the per-thread buffer cap in bytes (rounded down to whole 32-byte records; 0
 * restores the default) for windows started afterwards. Any thread, any time. */
void trace_set_buffer_cap(size_t bytes);

/* Opens the live trace window now. Pre-allocates a buffer for every registered live thread
 * (threads registered later get one at their first request; a thread whose buffer
 * cannot be allocated loses its events, counted as dropped). Returns 0, or -1 with
 * errno = EBUSY if the live window is open. Takes the
 * allocation lock once (heap figures): a registered thread, not inside a collection
 * listener nor gcheap_with_alloc_lock(). */
int trace_start(void);

/* 1 while the live window is open. Any thread. */
int trace_running(void);

/* Live windows opened since start (each trace_start() that succeeded; the whole-run
 * recording is not counted). Any thread. */
uint64_t trace_windows(void);

/* What the tracer lost: every event a recorder could not store (its thread's buffer
 * was full or missing, or the thread was not registered) is counted when its window
 * closes, by trace_stop or trace_cancel. Any thread. */
struct trace_stats {
    uint64_t windows;            /* windows opened (trace_windows()) */
    uint64_t dropped_total;      /* events dropped in every window closed since start */
    uint64_t dropped_last;       /* in the last window closed */
};
void trace_stats(struct trace_stats *st);

/* X(name, field, kind, metric, help): the figures /debug/vars prints ("trace") and
 * their /metrics families (kind gauge or counter). */
#define TRACE_STATS_FIELDS(X)                                                                      \
    X("windows", windows, counter, "memdemo_trace_windows",                                        \
      "Execution trace windows opened (/debug/pprof/trace).")                                      \
    X("dropped_events_total", dropped_total, counter, "memdemo_trace_dropped_events",             \
      "Execution tracer: events dropped (a thread's buffer full or missing) in every window closed.") \
    X("dropped_events_last", dropped_last, gauge, "memdemo_trace_last_window_dropped_events",     \
      "Execution tracer: events dropped in the last window closed.")

/* Closes the live window at now, appends the whole trace to *out, frees the buffers, and
 * stores the number of events lost to full or missing buffers in *dropped_events (if
 * not NULL). Returns 0; -1 with errno = EINVAL if the live window is not open, or ENOMEM if out
 * ran out of memory (the window is closed and freed either way). Same thread rules as
 * trace_start(); it may spin briefly until writers inside a record leave. */
int trace_stop(struct buf *out, uint64_t *dropped_events);

/* Closes the live window and frees its buffers without serialising (the client went away).
 * Returns 0, or -1 with errno = EINVAL if the live window is not open. Same rules as trace_stop(). */
int trace_cancel(void);

/* The whole-run recording: a window of its own, beside the live one (each may open
 * and close while the other runs). trace_run_start opens it, with the rules and
 * answers of trace_start (EBUSY: already open); trace_run_stop closes it with those of
 * trace_stop (EINVAL: not open); trace_run_recording is 1 while it is open (any
 * thread). It records what the live window would (requests excepted: it is thread
 * mode's, see trace_draw_threads). */
int trace_run_start(void);
int trace_run_stop(struct buf *out, uint64_t *dropped_events);
int trace_run_recording(void);

/* Gives the calling thread (one with a gcthreads id) a buffer in every open window
 * where it has none yet, so that collections it runs are recorded although it serves no
 * requests: for threads that appear while a window is open (libgcprof notes a
 * program's thread at its first allocation; the thread is then one of the program's,
 * which thread mode draws). Only that mark when no window is open. Not inside a
 * collection listener (it may malloc). */
void trace_thread_start(void);

/* Draws every program thread (one that called trace_thread_start()) as one goroutine
 * for its life in a window, running between collections, instead of one goroutine per
 * request (tracewire.h: thread mode): for libgcprof, whose program has threads but no
 * requests; requests are then not recorded. Installs gcthreads' exit hook (an exiting
 * thread's goroutine ends) and makes trace_thread_start() record the thread with its
 * name. Once, at start, before the first trace_start(). */
void trace_draw_threads(void);

/* --- hot path: the server's worker threads ------------------------------------ */

/* Requests are recorded in the live window only.
 *
 * A request's handler starts on this thread. route names it ("GET /leaker"): a string
 * that lives as long as the process (its address is kept until the window is
 * serialised). Starts a goroutine, a user task named route and a region "handler".
 * Caller: a gcthreads-registered thread, not inside a collection listener. No-op when
 * the live window is not open; then the matching trace_request_end() is a no-op too. */
void trace_request_begin(const char *route);

/* The request begun last on this thread finished with HTTP `status` (0 = answered
 * later through a deferral). Ends its region, task and goroutine, logs "status", and
 * samples HeapAlloc: the last collection's figure plus the bytes allocated since
 * (gcheap_allocated_total(), lock-free; bdwgc's live figure would take the lock).
 * begin/end bracket the HANDLER CALL: call this on the same thread right after the
 * handler returns, before the thread serves anything else. Not from a completion
 * callback: by then the thread may have begun another request, which this would end
 * (a second begin on a thread ends the first request's goroutine). A no-op unless that begin
 * was recorded in the current window: requests in flight when the window opened, and
 * a trace endpoint's own request (its begin runs before trace_start), are not traced. */
void trace_request_end(int status);

#endif
