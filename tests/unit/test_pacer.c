/* Unit tests for gc/gcpacer and gcheap's bounded allocation: the goal formula (Go's
 * GOGC rule, its floor, the memory limit and the cap), what a bounded allocation is
 * charged against bdwgc's real object sizes, and that a bounded scope without a cap
 * admits everything while pacing collects by the definition; and that a bdwgc warning,
 * after the pacer was started twice (as memdemo's start-up does), is printed once
 * instead of recursing into the pacer's own hook; and that forced collections
 * (?gc=1's) are shared back to back but run again after a quiet gap. */
#include <gc.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gc/gcheap.h"
#include "gc/gcpacer.h"
#include "tests/unit/unit.h"

#define MiB ((uint64_t)1 << 20)

static uint64_t goal(int gogc, uint64_t live, uint64_t memlimit, uint64_t other, uint64_t cap)
{
    struct gcpacer_settings s = {gogc, memlimit, cap, 0};
    return gcpacer_goal(&s, live, other, cap);
}

TEST(goal_is_live_plus_gogc_percent)
{
    CHECK_EQ_INT(goal(100, 100 * MiB, 0, 0, 0), 200 * MiB);
    CHECK_EQ_INT(goal(50, 100 * MiB, 0, 0, 0), 150 * MiB);
    CHECK_EQ_INT(goal(200, 100 * MiB, 0, 0, 0), 300 * MiB);
    CHECK_EQ_INT(goal(0, 100 * MiB, 0, 0, 0), 100 * MiB);
}

TEST(goal_has_gos_4mb_floor_scaled_by_gogc)
{
    CHECK_EQ_INT(goal(100, 0, 0, 0, 0), 4 * MiB);
    CHECK_EQ_INT(goal(100, 1 * MiB, 0, 0, 0), 4 * MiB);
    CHECK_EQ_INT(goal(50, 1 * MiB, 0, 0, 0), 2 * MiB);
    CHECK_EQ_INT(goal(400, 1 * MiB, 0, 0, 0), 16 * MiB);
}

TEST(gogc_off_has_no_goal_but_the_limits)
{
    CHECK(goal(GCPACER_GOGC_OFF, 100 * MiB, 0, 0, 0) == UINT64_MAX);
    CHECK(goal(GCPACER_GOGC_OFF, 10 * MiB, 0, 0, 64 * MiB) == 60 * MiB);   /* cap - cap/16 */
}

TEST(memory_limit_lowers_the_goal_to_what_the_rest_leaves)
{
    /* room = (limit - other) less 1/16 twice (cap room, then goal margin) */
    uint64_t room = 64 * MiB - 8 * MiB;
    room -= room / 16;
    room -= room / 16;
    CHECK_EQ_INT(goal(400, 10 * MiB, 64 * MiB, 8 * MiB, 0), room);
    CHECK_EQ_INT(goal(100, 10 * MiB, 1024 * MiB, 8 * MiB, 0), 20 * MiB);   /* not binding */
}

TEST(memory_limit_keeps_a_least_step_when_the_live_heap_does_not_fit)
{
    /* live 60 MB under a 64 MB limit: at least live + live/8 + 1 MB */
    CHECK_EQ_INT(goal(100, 60 * MiB, 64 * MiB, 8 * MiB, 0), 60 * MiB + 60 * MiB / 8 + 1 * MiB);
}

TEST(goal_saturates_instead_of_overflowing)
{
    CHECK(goal(GCPACER_MAX_GOGC, UINT64_MAX / 2, 0, 0, 0) == UINT64_MAX);
}

TEST(footprint_matches_bdwgc_object_sizes)
{
    /* Small objects: their size class once that size has been allocated (here: just
     * before); large ones: the whole 4 KiB blocks they take. */
    for (size_t n = 1; n <= 20000; n += n < 64 ? 1 : 97) {
        size_t real = GC_size(GC_MALLOC_ATOMIC(n)), got = gcheap_footprint(n);
        size_t want = n + 1 > 2048 ? (real + 4095) / 4096 * 4096 : real;
        if (got != want) UNIT__FAIL("footprint(%zu) = %zu, bdwgc takes %zu", n, got, want);
    }
    CHECK_EQ_INT(gcheap_footprint(8176), 8192);
}

TEST(bounded_scope_without_a_cap_admits_everything)
{
    gcheap_bounded_begin();
    for (int i = 0; i < 100000; i++) CHECK(gcheap_alloc_data(16) != NULL);
    for (int i = 0; i < 100; i++) CHECK(gcheap_alloc(8000) != NULL);
    CHECK_EQ_INT(gcheap_bounded_end(), 0);
}

TEST(pacing_collects_every_floor_of_allocation_on_an_empty_heap)
{
    /* Live ~0: the goal is the 4 MiB floor, the trigger GCPACER_TRIGGER_LEAD before
     * it. 64 MiB of garbage is then 64 / 3.5 = ~18 collections (a tolerance for the
     * live heap and the poll gap). */
    struct gcheap_stats a, b;
    gcheap_collect();
    gcheap_stats(&a);
    for (int i = 0; i < 64 * 65536; i++) gcheap_alloc_data(15);   /* 16 B each */
    gcheap_stats(&b);
    uint64_t n = b.collections - a.collections;
    double want = 64.0 * (1 << 20) / (double)(GCPACER_HEAP_MINIMUM - GCPACER_TRIGGER_LEAD);
    if (n < want * 0.85 || n > want * 1.1)
        UNIT__FAIL("%llu collections for 64 MiB, want about %.1f", (unsigned long long)n, want);
}


TEST(forced_collections_are_shared_back_to_back_and_run_again_after_a_quiet_gap)
{
    struct gcheap_stats a, b;
    gcheap_collect_shared();
    gcheap_stats(&a);
    int ran = 0;
    for (int i = 0; i < 200; i++) ran += gcheap_collect_shared();   /* within microseconds */
    gcheap_stats(&b);
    CHECK_LE(ran, 2);
    CHECK_EQ_U64(b.forced_collections - a.forced_collections, (uint64_t)ran);
    CHECK_EQ_U64(b.forced_shared - a.forced_shared, (uint64_t)(200 - ran));
    CHECK_EQ_U64(b.collections - a.collections, (uint64_t)ran);
    int again = 0;   /* 20 ms apart, a later call must collect again (fresh figures) */
    for (int i = 0; i < 200 && !again; i++) {
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
        again = gcheap_collect_shared();
    }
    CHECK(again);
}

/* In a child: the pacer started a second and a third time (gcheap_init, then
 * gcheap_configure twice), then a real bdwgc warning: growing the heap by 64 TiB, which
 * the system refuses ("Failed to expand heap", raised with bdwgc's lock held). The
 * child's stderr goes to a file; returns the child's wait status, or -1 if it was
 * still running after 30 s (then killed: the hook called itself in a loop). */
static int warn_in_child(const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stderr)) _exit(3);
#ifndef __SANITIZE_ADDRESS__
        struct rlimit as = {(rlim_t)64 << 30, (rlim_t)64 << 30};   /* so the mmap fails */
        setrlimit(RLIMIT_AS, &as);
#endif
        struct gcheap_config c = {0, GCPACER_DEFAULT_GOGC, 0, 0};
        gcheap_configure(&c);
        c.initial_heap = (size_t)1 << 46;
        gcheap_configure(&c);
        fflush(stderr);
        _exit(0);
    }
    int status = 0;
    for (int i = 0; i < 3000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) return status;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

TEST(a_bdwgc_warning_after_two_starts_is_printed_once_not_looped)
{
    char log[] = "/tmp/memdemo-test-warn.XXXXXX";
    int fd = mkstemp(log);
    CHECK(fd >= 0);
    close(fd);
    int status = warn_in_child(log);
    char text[4096] = "";
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = 0;
    if (f) fclose(f);
    unlink(log);
    if (status == -1) UNIT__FAIL("the warning hook still ran after 30 s (it calls itself): %s", text);
    if (WIFSIGNALED(status)) UNIT__FAIL("the warning killed the process with signal %d", WTERMSIG(status));
    CHECK_EQ_INT(WEXITSTATUS(status), 0);
    int printed = 0;
    for (const char *p = text; (p = strstr(p, "Failed to expand heap")); p++) printed++;
    if (printed != 1) UNIT__FAIL("the warning was printed %d times, want once: %s", printed, text);
}

int main(void)
{
    gcheap_init();
    RUN(goal_is_live_plus_gogc_percent);
    RUN(goal_has_gos_4mb_floor_scaled_by_gogc);
    RUN(gogc_off_has_no_goal_but_the_limits);
    RUN(memory_limit_lowers_the_goal_to_what_the_rest_leaves);
    RUN(memory_limit_keeps_a_least_step_when_the_live_heap_does_not_fit);
    RUN(goal_saturates_instead_of_overflowing);
    RUN(footprint_matches_bdwgc_object_sizes);
    RUN(bounded_scope_without_a_cap_admits_everything);
    RUN(pacing_collects_every_floor_of_allocation_on_an_empty_heap);
    RUN(a_bdwgc_warning_after_two_starts_is_printed_once_not_looped);
    RUN(forced_collections_are_shared_back_to_back_and_run_again_after_a_quiet_gap);
    UNIT_EXIT();
}
