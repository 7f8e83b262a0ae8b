/* cpusample: what one CPU-profile sample costs (issue "Benchmarks: signal handler cost
 * per sample"), measured two ways in this process with the real profiler
 * (profile/cpuprof, linked like a unit test):
 *
 * 1. The handler's own work: the recording path the SIGPROF handler runs (frame-pointer
 *    walk, ring slot, stack copy for the drain thread's unwinding), called directly on
 *    a context taken by getcontext() 24 frames deep, in batches of 16 (fewer than the
 *    stack copies there are) with a pause after each so the drain thread empties the
 *    ring: ns per call, median of the batches.
 * 2. The kernel's part: a signal raised to this thread and delivered to an empty
 *    SA_SIGINFO handler (entry, frame set-up, sigreturn), ns per signal over 100,000.
 * 3. End to end, the drain thread's unwinding included: a fixed amount of CPU work 24
 *    frames deep, timed by the process's CPU clock with the profiler off and on,
 *    alternated (on, off, off, on, ...) ROUNDS times each: (on - off) / off. At 100
 *    samples per CPU-second a sample costing a few microseconds is a few hundredths of a
 *    percent, below this measure's noise; it bounds what the profiler costs a busy
 *    thread rather than resolving it.
 *
 * Environment: CPUSAMPLE_ROUNDS [3] (1..20), CPUSAMPLE_WORK_MS [800] (100..10000, CPU
 * per round and side). Output (stdout):
 *   cpu profile sample, handler path: median X ns (N batches of 16)
 *   cpu profile sample, signal delivery: X ns (raise() to an empty handler)
 *   cpu profile, end to end: X% more CPU with the profiler on (N samples; Y ms off, Z ms on)
 * Exit status 0, or 1 when the profiler could not start.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "gc/clock.h"
#include "profile/cpuprof.h"
#include "profile/signals.h"
#include "profile/stacks.h"
#include "tests/unit/threadkit.h"

#define DEPTH 24
#define BATCH 16
#define BATCHES 40

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static long env_long(const char *name, long dflt, long lo, long hi)
{
    const char *v = getenv(name);
    if (!v) return dflt;
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "cpusample: %s must be an integer from %ld to %ld\n", name, lo, hi);
        exit(2);
    }
    return x;
}

/* ---- 1. the handler path ------------------------------------------------------------ */

static ucontext_t deep_context;

__attribute__((noinline, no_icf)) static void descend_for_context(int level)
{
    if (level > 0) descend_for_context(level - 1);
    else getcontext(&deep_context);
    __asm__ volatile("" ::: "memory");
}

static uint64_t handler_path_ns(void)
{
    uint64_t per_call[BATCHES];
    descend_for_context(DEPTH);
    for (int b = 0; b < BATCHES; b++) {
        uint64_t t0 = clock_mono_ns();
        for (int i = 0; i < BATCH; i++) cpuprof__record_for_bench(&deep_context);
        per_call[b] = (clock_mono_ns() - t0) / BATCH;
        struct timespec pause = {0, 60 * 1000000L};   /* > one drain tick */
        nanosleep(&pause, NULL);
    }
    qsort(per_call, BATCHES, sizeof per_call[0], cmp_u64);
    return per_call[BATCHES / 2];
}

/* ---- 2. signal delivery ---------------------------------------------------------- */

static void empty_handler(int sig, siginfo_t *si, void *uc) { (void)sig; (void)si; (void)uc; }

static double signal_delivery_ns(void)
{
    struct sigaction old;
    if (signals_install(SIGUSR1, empty_handler, &old) < 0) return -1;
    enum { N = 100000 };
    uint64_t t0 = threadkit_process_cpu_ns();
    for (int i = 0; i < N; i++) raise(SIGUSR1);
    uint64_t dt = threadkit_process_cpu_ns() - t0;
    sigaction(SIGUSR1, &old, NULL);
    return (double)dt / N;
}

/* ---- 3. end to end -------------------------------------------------------------------- */

__attribute__((noinline, no_icf)) static void work(int level, uint64_t iters)
{
    if (level > 0) { work(level - 1, iters); __asm__ volatile("" ::: "memory"); return; }
    threadkit_spin(iters);
}

/* Iterations that take about ms of CPU with the profiler off. */
static uint64_t calibrate(long ms)
{
    uint64_t iters = 1000000, t0 = threadkit_process_cpu_ns();
    work(DEPTH, iters);
    uint64_t dt = threadkit_process_cpu_ns() - t0;
    return dt ? iters * (uint64_t)ms * 1000000u / dt : iters;
}

int main(void)
{
    long rounds = env_long("CPUSAMPLE_ROUNDS", 3, 1, 20);
    long work_ms = env_long("CPUSAMPLE_WORK_MS", 800, 100, 10000);
    stacks_init();
    if (cpuprof_start() < 0) { fprintf(stderr, "cpusample: cpuprof_start: %s\n", strerror(errno)); return 1; }
    uint64_t handler = handler_path_ns();
    cpuprof_cancel();
    printf("cpu profile sample, handler path: median %llu ns (%d batches of %d)\n",
           (unsigned long long)handler, BATCHES, BATCH);
    printf("cpu profile sample, signal delivery: %.0f ns (raise() to an empty handler)\n",
           signal_delivery_ns());

    uint64_t iters = calibrate(work_ms), off = 0, on = 0, samples = 0;
    for (long r = 0; r < 2 * rounds; r++) {
        int profiling = (r % 2) == (r / 2 % 2);      /* on, off, off, on, on, off, ... */
        struct buf b = BUF_INIT;
        if (profiling && cpuprof_start() < 0) return 1;
        uint64_t t0 = threadkit_process_cpu_ns();
        work(DEPTH, iters);
        uint64_t dt = threadkit_process_cpu_ns() - t0;
        if (profiling) {
            struct cpuprof_stats st;
            cpuprof_stop(&b);
            cpuprof_stats(&st);
            samples += st.periods;
            on += dt;
        } else {
            off += dt;
        }
        buf_free(&b);
    }
    printf("cpu profile, end to end: %+.2f%% CPU with the profiler on (%llu samples; %.0f ms off, %.0f ms on)\n",
           off ? 100.0 * ((double)on - (double)off) / (double)off : 0.0, (unsigned long long)samples,
           (double)off / 1e6, (double)on / 1e6);
    return 0;
}
