/* cpuprof: memdemo's CPU profiler, the C counterpart of Go's runtime/pprof CPU profile
 * (what /debug/pprof/profile?seconds=N serves).
 *
 * Owns: one CPU-time timer per thread of the process, the SIGPROF handler, the
 * lock-free ring the handler writes into, the drain thread that empties it into a
 * table of (stack, thread name) counts, and the profile written at the end of a
 * window. Leaves the encoding to profile/pprof, the frame walk to profile/stacks, the
 * thread list to profile/tasks, the window's timing and HTTP to src/.
 *
 * How it samples, as Go does on Linux: every thread of the process (found in
 * /proc/self/task at start and every 200 ms after, so bdwgc's marker threads and
 * libmicrohttpd's workers are included; a thread created during a window is armed as
 * it starts, by a start hook registered with profile/threadhook, which also unblocks
 * SIGPROF in every new thread) gets a timer_create(2) timer on its own CPU
 * clock that sends SIGPROF to that thread (SIGEV_THREAD_ID) every 1/CPUPROF_HZ s of
 * CPU it consumes. A process-wide setitimer would deliver the signal to whichever
 * thread happens to run, unevenly between busy threads (golang/go#14434, #35057).
 * The handler walks frame pointers from the interrupted context (stacks_walk_context)
 * into a preallocated ring slot and, when one of a few preallocated stack copies is
 * free, copies the registers and the live stack too (stacks_copy_context): no
 * allocation, no locks, no stdio. The drain thread unwinds the copy by the unwind
 * tables (symbols_unwind), which follows code without frame pointers (bdwgc, a static
 * libgc.a built without them, and libc); it keeps whichever of the two stacks is
 * longer, so such code is attributed at least by its leaf pc. A sample whose timer
 * overran counts 1 + overruns periods.
 *
 * Errors: gc/errors.h (-1 with errno); losses are counted in cpuprof_stats.
 * Threads: start/stop/cancel from any thread, serialized by an internal lock; not
 * inside a collection listener. Nothing here touches GC memory (the deferral thread
 * may stop a window). Memory: the ring and the stack copies (~1 MiB) are malloc'd at
 * the first window and kept; the tables of a window are freed when it ends.
 */
#ifndef MEMDEMO_CPUPROF_H
#define MEMDEMO_CPUPROF_H

#include <stdint.h>

#include "profile/buf.h"

#define CPUPROF_HZ 100            /* samples per second of CPU per thread, as Go */
#define CPUPROF_MAX_DEPTH 64      /* frames kept per sample */
#define CPUPROF_MAX_THREADS 512   /* threads a window can time */

/* Opens a window: arms a timer on every thread now in the process. Returns 0, or -1
 * with errno = EBUSY if a window is open (Go's "cpu profiling already in use"),
 * ENOMEM, or the errno of timer_create / pthread_create. */
int cpuprof_start(void);

/* 1 while a window is open. Any thread, lock-free. */
int cpuprof_running(void);

/* Closes the window at now: disarms every timer, waits until no handler is inside the
 * ring, and appends the gzipped profile.proto to *out: sample types samples/count and
 * cpu/nanoseconds, period_type cpu/nanoseconds, period 1e9/CPUPROF_HZ, time_nanos =
 * the window's start, duration_nanos = its length, a string label "thread" (the
 * thread's name, /proc/self/task/TID/comm) on each sample. Returns 0; -1 with errno =
 * EINVAL if no window is open or ENOMEM (the window is closed either way). */
int cpuprof_stop(struct buf *out);

/* Closes the window without writing it (the client went away). Returns 0, or -1 with
 * errno = EINVAL if no window is open. */
int cpuprof_cancel(void);

/* Figures of the profiler: the current window's (or the last one's) and totals since
 * start. Any thread. */
struct cpuprof_stats {
    uint64_t windows;    /* windows opened since start */
    uint64_t samples;    /* signals recorded (a sample may weigh several periods) */
    uint64_t periods;    /* periods of CPU those samples stand for */
    uint64_t lost;       /* samples dropped because the ring was full */
    uint64_t lost_total; /* the same over every window since start */
    uint64_t untimed;    /* threads the last scan of the process could not time (the
                            table was full or timer_create failed): their CPU is missing */
    int threads;         /* threads that had a timer */
};
void cpuprof_stats(struct cpuprof_stats *st);

/* X(name, field, kind, metric, help): the figures /debug/vars prints ("cpuprofile")
 * and the /metrics families of some (kind gauge or counter; none: no family). */
#define CPUPROF_STATS_FIELDS(X)                                                                    \
    X("windows", windows, none, NULL, NULL) X("samples", samples, none, NULL, NULL)               \
    X("periods", periods, none, NULL, NULL)                                                        \
    X("lost_samples", lost, gauge, "memdemo_cpuprofile_window_lost_samples",                       \
      "CPU profiler: samples dropped in the open (or last) window because the ring was full.")    \
    X("lost_samples_total", lost_total, counter, "memdemo_cpuprofile_lost_samples",                \
      "CPU profiler: samples dropped because the ring was full, in every window since start.")    \
    X("threads", threads, none, NULL, NULL) X("untimed_threads", untimed, none, NULL, NULL)

/* For bench/: runs the signal handler's recording path (walk + ring slot) once for
 * ucontext as if a timer of this window had fired on the calling thread. Returns 0,
 * or -1 when no window is open. */
int cpuprof__record_for_bench(const void *ucontext);

#endif
