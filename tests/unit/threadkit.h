/* threadkit.h: the threads and CPU work the profiler's tests and bench/cpusample share:
 * CPU clocks, a spin loop the compiler cannot remove, a burner that uses a given
 * amount of the calling thread's CPU, and a thread started the way bdwgc starts its
 * marker threads (every signal blocked), which the profilers must still reach.
 *
 * Header-only (static functions), included by tests/unit/test_cpuprof.c,
 * tests/unit/test_threads.c and bench/cpusample.c. No GC memory.
 */
#ifndef MEMDEMO_THREADKIT_H
#define MEMDEMO_THREADKIT_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

static volatile uint64_t threadkit_sink;

static inline uint64_t threadkit__ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread / of the whole process, ns. */
static inline uint64_t threadkit_thread_cpu_ns(void) { return threadkit__ns(CLOCK_THREAD_CPUTIME_ID); }
static inline uint64_t threadkit_process_cpu_ns(void) { return threadkit__ns(CLOCK_PROCESS_CPUTIME_ID); }

/* iters rounds of integer work on a volatile, which the compiler must keep. Inlined
 * into its caller: a CPU profile shows it as an inlined function of that caller (its
 * own frame is the caller's), so the caller's cumulative share is what it burnt. */
__attribute__((always_inline)) static inline void threadkit_spin(uint64_t iters)
{
    for (uint64_t i = 0; i < iters; i++) threadkit_sink += i ^ (threadkit_sink >> 3);
}

/* Spins until the calling thread has used ns more nanoseconds of CPU. Inlined, as
 * threadkit_spin. */
__attribute__((always_inline)) static inline void threadkit_burn(uint64_t ns)
{
    uint64_t until = threadkit_thread_cpu_ns() + ns;
    while (threadkit_thread_cpu_ns() < until) threadkit_spin(10000);
}

/* pthread_create with every signal blocked in the new thread (it inherits the mask),
 * as bdwgc starts its markers; the caller's mask is restored. Returns pthread_create's
 * result. */
static inline int threadkit_start_blocked(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

#endif
