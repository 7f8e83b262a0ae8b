/* tracewire: turns the tracer's recorded events into a Go 1.19 execution trace (the v1
 * format, header "go 1.19 trace") that `go tool trace` of Go 1.19 and 1.23 opens.
 *
 * Owns: the record layout the recorder (profile/trace.c) writes, the mapping of those
 * records onto Go's trace events (threads -> dense Ps, requests -> goroutines + user
 * tasks, collections -> GC/STW/assist/sweep slices), the state rules go tool trace
 * enforces (see ../shared/go-trace-v1/README.md (beside the repository)), and the byte encoding. Leaves
 * recording, buffers and the trace window's life cycle to profile/trace.c.
 *
 * Mapping (the README's "recommended mapping", without an acceptor goroutine):
 *   - every thread with records is a P; Ps are numbered 0..N-1 in gcthreads-id order
 *     and N is written as Gomaxprocs (twice, first), then ProcStart(kernel tid) per P;
 *   - a request is a goroutine created from G0 and started on its thread at once; its
 *     creation stack is one synthetic frame named after the route (so goroutine
 *     analysis groups by route), and it carries a user task named after the route, a
 *     region "handler", and a UserLog "status";
 *   - the window is a user task of its own, created at the start and never ended,
 *     the parent of every request's task; its name sums up the window's collections
 *     ("trace window: 3 collections, 1.234 ms stop-the-world in 5.000 s"), and it
 *     carries a UserLog "GC" per collection (its pause and the heap it left) and one
 *     "GC total" at the stop, so both viewers' task pages answer how much GC there was;
 *   - a collection goes into the collecting thread's P; when that P runs no request
 *     it is wrapped in a goroutine started with label "GC (dedicated)"; mark assist is
 *     drawn only when the P runs a request (the one that triggered the collection);
 *   - threads suspended by a collection get GoPreempt .. GoStart around the pause;
 *   - at t_stop everything still open is closed (assist, sweep, STW, GC, running
 *     requests are preempted) and every P gets ProcStop.
 * Thread mode (tracewire_window.threads: libgcprof, whose program has no requests)
 * draws each thread instead as ONE goroutine for its life in the window:
 *   - created and started on its P at the thread's first record (THREAD_SEEN, or any
 *     other), ended by THREAD_EXIT; its creation stack is one frame named after the
 *     thread ("thread 4242 (guile)"), so each thread is its own goroutine group;
 *   - it runs between collections and is preempted while another thread's collection
 *     stops it; the collections it runs are its own: GC row, STW and sweep on its P,
 *     marking drawn as its mark assist, so per-goroutine GC time is per thread;
 *   - requests are ignored; the window task is created by the first thread goroutine
 *     and its "GC total" log comes from a thread goroutine still running at t_stop
 *     (a goroutine of its own on P0 only when none is);
 *   - a collection on a thread whose goroutine already ended gets the wrapper above.
 * Records are processed in global time order (a merge of the per-thread streams), so
 * GC sequence numbers follow the collections actually recorded and a stream that was
 * cut short (buffer full) cannot leave a later cycle in an impossible state.
 *
 * Not thread-safe; call from one thread. Allocates with malloc only (never inside a
 * collection listener).
 */
#ifndef MEMDEMO_TRACEWIRE_H
#define MEMDEMO_TRACEWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profile/buf.h"

/* What a record says; a, b, c as listed. */
enum tracewire_kind {
    TRACEWIRE_REQ_BEGIN = 1,   /* a = goroutine/task id (>0, unique), b = route (const char *) */
    TRACEWIRE_REQ_END,         /* a = id, c = HTTP status, b = heap in use (bytes) or 0 */
    TRACEWIRE_GC_START,        /* a = heap in use at start, b = 1 for a partial collection */
    TRACEWIRE_GC_STW_START,    /* world about to stop */
    TRACEWIRE_GC_STW_DONE,     /* world running again */
    TRACEWIRE_GC_MARK_START,
    TRACEWIRE_GC_MARK_END,
    TRACEWIRE_GC_SWEEP_START,
    TRACEWIRE_GC_SWEEP_DONE,   /* a = bytes reclaimed, b = bytes swept (estimate) */
    TRACEWIRE_GC_END,          /* a = heap in use, b = estimated next goal */
    TRACEWIRE_THREAD_SUSPENDED,   /* c = gcthreads id of the thread the collector stopped */
    TRACEWIRE_THREAD_UNSUSPENDED, /* c = the same */
    TRACEWIRE_THREAD_SEEN,     /* thread mode: the thread is known; a, b = its name (the
                                  16 bytes of a NUL-padded comm name, may be empty) */
    TRACEWIRE_THREAD_EXIT      /* thread mode: the thread exits; a, b = its name */
};

/* One fixed-size record (32 bytes). ts is CLOCK_MONOTONIC nanoseconds. */
struct tracewire_rec {
    uint64_t ts;
    uint64_t a;
    uint64_t b;
    uint32_t kind;             /* enum tracewire_kind */
    int32_t c;
};

/* One thread's records, in the order the thread wrote them (time order). */
struct tracewire_stream {
    int thread;                /* gcthreads id */
    pid_t tid;                 /* kernel thread id, shown by ProcStart */
    const struct tracewire_rec *recs;
    size_t n;
    char name[16];             /* its name at the stop (comm), "" if unknown: thread
                                  mode then takes the last name a record carried */
};

/* The trace window and what is known at its start. */
struct tracewire_window {
    uint64_t t_start, t_stop;  /* CLOCK_MONOTONIC ns; every record lies in between */
    uint64_t heap_alloc;       /* heap in use at t_start */
    uint64_t heap_goal;        /* estimated next collection trigger at t_start */
    uint64_t first_free_g;     /* goroutine ids >= this are free for synthetic ones */
    uint64_t dropped;          /* events lost (full or missing buffers); reported in
                                  the trace as a goroutine with a UserLog when > 0 */
    int threads;               /* 1: thread mode (above); 0: memdemo's requests */
};

/* Appends a complete trace (header, one batch per P, strings, stacks, frequency 1e9)
 * to out. streams are ordered by thread id; streams with n == 0 get no P (when all
 * are empty, the first stream, or a tid-0 P, stands alone). Returns 0, or -1 with errno
 * = ENOMEM (out->failed is then set). Any thread; not in a collection listener. */
int tracewire_write(struct buf *out, const struct tracewire_window *win,
                    const struct tracewire_stream *streams, int nstreams);

#endif
