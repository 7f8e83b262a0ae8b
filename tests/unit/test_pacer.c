/* Unit tests for gc/gcpacer and gcheap's bounded allocation: the goal formula (Go's
 * GOGC rule, its floor, the memory limit and the cap), what a bounded allocation is
 * charged against bdwgc's real object sizes, and that a bounded scope without a cap
 * admits everything while pacing collects by the definition. */
#include <gc.h>
#include <stdint.h>

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
    UNIT_EXIT();
}
