/* test_cpuprof: the CPU profiler counts every thread's CPU time, names its threads,
 * follows stacks through code without frame pointers, refuses a second window, and
 * writes what go tool pprof reads as Go's CPU profile.
 *
 * The threads burn CPU in noinline functions of this file (tests/unit/threadkit.h's
 * burner inlined into each), so their names must come back from the profile (pprof runs without this binary at hand). CPU time is measured
 * with the process's CPU clock around the window: the profile must account for it
 * within 10% (the only loss by design is each thread's last partial 10 ms period).
 */
#include "profile/cpuprof.h"
#include "profile/stacks.h"
#include "tests/unit/pproftool.h"
#include "tests/unit/threadkit.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <ucontext.h>

/* ---- CPU burners ----------------------------------------------------------------- */

/* Two functions that burn CPU alike but are told apart in the profile (no_icf). */
__attribute__((noinline, no_icf)) static void burn_left(uint64_t ns) { threadkit_burn(ns); }
__attribute__((noinline, no_icf)) static void burn_right(uint64_t ns) { threadkit_burn(ns); }

enum { BURN_NS = 400 * 1000000 };

static void *left_main(void *unused)
{
    (void)unused;
    pthread_setname_np(pthread_self(), "t-left");
    burn_left(BURN_NS);
    return NULL;
}

static void *right_main(void *unused)
{
    (void)unused;
    pthread_setname_np(pthread_self(), "t-right");
    burn_right(BURN_NS);
    return NULL;
}

/* Spins with rbp holding garbage, like collector code built without frame pointers:
 * the frame-pointer walk ends at this leaf, only the unwind tables find its caller. */
__attribute__((noinline, no_icf, optimize("omit-frame-pointer"))) static void spin_without_fp(uint64_t iters)
{
    uint64_t saved;
    __asm__ volatile("mov %%rbp, %0\n\t"
                     "mov $0x10, %%rbp\n"
                     "1:\n\t"
                     "dec %1\n\t"
                     "jnz 1b\n\t"
                     "mov %0, %%rbp"
                     : "=&r"(saved), "+r"(iters)
                     :
                     : "memory", "cc");
}

__attribute__((noinline, no_icf)) static void calls_spin_without_fp(uint64_t ns)
{
    uint64_t until = threadkit_thread_cpu_ns() + ns;
    while (threadkit_thread_cpu_ns() < until) spin_without_fp(1000000);
    __asm__ volatile("" ::: "memory");
}

/* ---- helpers ------------------------------------------------------------------------ */

/* Stops the window into FILE. Returns 0 or -1. */
static int stop_into(const char *file)
{
    struct buf b = BUF_INIT;
    int rc = cpuprof_stop(&b);
    if (rc == 0) rc = pproftool_write(file, &b);
    buf_free(&b);
    return rc;
}

/* Cumulative percentage pprof -top gives function fn (-1 if absent): the burners' own
 * frames hold little, their inlined spin loop the rest. Lines read "flat flat% sum%
 * cum cum% name" (a flat of 0 has no unit). */
static double cum_pct(const char *top, const char *fn)
{
    const char *p = top;
    size_t len = strlen(fn);
    while ((p = strstr(p, fn)) != NULL) {
        if (p[len] == '\n' && p[-1] == ' ') {
            const char *line = p;
            while (line > top && line[-1] != '\n') line--;
            double pct;
            if (sscanf(line, "%*s %*s %*s %*s %lf%%", &pct) == 1) return pct;
        }
        p += len;
    }
    return -1;
}

/* ---- tests -------------------------------------------------------------------------- */

TEST(second_window_is_ebusy_and_stop_without_window_is_einval)
{
    struct buf b = BUF_INIT;
    errno = 0;
    CHECK_EQ_INT(cpuprof_stop(&b), -1);
    CHECK_EQ_INT(errno, EINVAL);
    CHECK_EQ_INT(cpuprof_cancel(), -1);
    CHECK_EQ_INT(cpuprof_start(), 0);
    CHECK_EQ_INT(cpuprof_running(), 1);
    errno = 0;
    CHECK_EQ_INT(cpuprof_start(), -1);
    CHECK_EQ_INT(errno, EBUSY);
    CHECK_EQ_INT(cpuprof_cancel(), 0);
    CHECK_EQ_INT(cpuprof_running(), 0);
    CHECK_EQ_INT(cpuprof_start(), 0);            /* a cancelled window leaves nothing behind */
    CHECK_EQ_INT(cpuprof_stop(&b), 0);
    CHECK(b.len > 18);
    buf_free(&b);
}

TEST(window_accounts_for_every_threads_cpu_time)
{
    uint64_t cpu0 = threadkit_process_cpu_ns();
    CHECK_EQ_INT(cpuprof_start(), 0);
    pthread_t left, right;
    CHECK_EQ_INT(pthread_create(&left, NULL, left_main, NULL), 0);
    CHECK_EQ_INT(threadkit_start_blocked(&right, right_main, NULL), 0);
    pthread_join(left, NULL);
    pthread_join(right, NULL);
    uint64_t cpu = threadkit_process_cpu_ns() - cpu0;        /* the window's: writing it comes after */
    CHECK_EQ_INT(stop_into("cpu.pb.gz"), 0);
    struct cpuprof_stats st;
    cpuprof_stats(&st);
    double profiled = (double)st.periods * (1e9 / CPUPROF_HZ);
    if (profiled < 0.9 * (double)cpu || profiled > 1.1 * (double)cpu)
        UNIT__FAIL("profile %.0f ms vs CPU %.0f ms", profiled / 1e6, (double)cpu / 1e6);
    CHECK_EQ_INT(st.lost, 0);
    int status;
    char *top = pproftool_run("-top -nodefraction=0 cpu.pb.gz", &status);
    double l = cum_pct(top, "burn_left"), r = cum_pct(top, "burn_right");
    if (status != 0 || l < 35 || l > 65 || r < 35 || r > 65)
        UNIT__FAIL("burn_left %.1f%%, burn_right %.1f%% (want ~50%% each):\n%s", l, r, top);
    free(top);
    char *tags = pproftool_run("-tags cpu.pb.gz", &status);
    if (!strstr(tags, "t-left") || !strstr(tags, "t-right"))
        UNIT__FAIL("thread labels missing:\n%s", tags);
    free(tags);
}

TEST(profile_has_gos_cpu_sample_types_period_and_duration)
{
    CHECK_EQ_INT(cpuprof_start(), 0);
    burn_left(50 * 1000000);
    CHECK_EQ_INT(stop_into("types.pb.gz"), 0);
    int status;
    char *raw = pproftool_run("-raw types.pb.gz", &status);
    CHECK_EQ_INT(status, 0);
    if (!strstr(raw, "PeriodType: cpu nanoseconds\nPeriod: 10000000\n") ||
        !strstr(raw, "\nsamples/count cpu/nanoseconds\n") || !strstr(raw, "\nDuration: "))
        UNIT__FAIL("header:\n%.600s", raw);
    CHECK(strstr(raw, "[FN]") != NULL);          /* symbolized in process: has_functions */
    free(raw);
}

TEST(stack_is_followed_through_code_without_frame_pointers)
{
    CHECK_EQ_INT(cpuprof_start(), 0);
    calls_spin_without_fp(200 * 1000000);
    CHECK_EQ_INT(stop_into("nofp.pb.gz"), 0);
    int status;
    char *peek = pproftool_run("-peek '^spin_without_fp$' nofp.pb.gz", &status);
    /* -peek lists the callers above the function's line: the caller must be there. */
    const char *fn = strstr(peek, "| spin_without_fp\n");
    const char *caller = strstr(peek, "calls_spin_without_fp\n");
    if (status != 0 || !fn || !caller || caller > fn) UNIT__FAIL("no caller found:\n%s", peek);
    free(peek);
}

/* The handler's recording path run far faster than the drain thread empties the ring
 * (it wakes every 50 ms): samples that find the ring full are counted lost, in the
 * window's figure and in the total since start. */
TEST(samples_that_find_the_ring_full_are_counted_lost)
{
    enum { MAX_CALLS = 1 << 18 };
    static ucontext_t uc;
    getcontext(&uc);
    struct cpuprof_stats before, st;
    cpuprof_stats(&before);
    CHECK_EQ_INT(cpuprof_start(), 0);
    int calls = 0, rc = 0;
    for (st.lost = 0; calls < MAX_CALLS && st.lost == 0; calls++) {
        rc |= cpuprof__record_for_bench(&uc);
        if (calls % 256 == 255) cpuprof_stats(&st);
    }
    CHECK_EQ_INT(cpuprof_cancel(), 0);             /* drains the ring: every call is counted */
    cpuprof_stats(&st);
    CHECK_EQ_INT(rc, 0);
    CHECK_GT_U64(st.lost, 0);
    CHECK_EQ_U64(st.lost_total - before.lost_total, st.lost);
    CHECK_EQ_U64(st.windows - before.windows, 1);
    CHECK_LE_U64(calls, st.samples + st.lost);     /* and the timer's own samples */
}

TEST(go_1_23_reads_the_cpu_profile)
{
    if (!pproftool_have_go123()) SKIP("%s not installed", PPROFTOOL_GO123);
    CHECK_EQ_INT(cpuprof_start(), 0);
    burn_right(50 * 1000000);
    CHECK_EQ_INT(stop_into("go123.pb.gz"), 0);
    int status;
    char *top = pproftool_run_with(PPROFTOOL_GO123, "-top go123.pb.gz", &status);
    if (status != 0 || !strstr(top, "burn_right") || !strstr(top, "Type: cpu"))
        UNIT__FAIL("go 1.23 pprof, status %d:\n%s", status, top);
    free(top);
}

int main(void)
{
    if (pproftool_init("test_cpuprof") < 0) { perror("mkdtemp"); return 1; }
    stacks_init();
    RUN(second_window_is_ebusy_and_stop_without_window_is_einval);
    RUN(window_accounts_for_every_threads_cpu_time);
    RUN(profile_has_gos_cpu_sample_types_period_and_duration);
    RUN(stack_is_followed_through_code_without_frame_pointers);
    RUN(samples_that_find_the_ring_full_are_counted_lost);
    RUN(go_1_23_reads_the_cpu_profile);
    pproftool_done(unit__failures);
    UNIT_EXIT();
}
