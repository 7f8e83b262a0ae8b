/* Unit tests for profile/stacks: the table interns each distinct stack once, under a
 * dense, stable id, and gives its frames back unchanged, also after growing to tens
 * of thousands of stacks; stacks_capture, called from allocator text, starts at the
 * allocator's caller, on the main thread and on others, and cuts deep stacks at
 * STACKS_MAX_DEPTH keeping the leaf end. Frames are named with profile/symbols. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gc/gcheap.h"
#include "gc/gcthreads.h"
#include "profile/stacks.h"
#include "profile/symbols.h"
#include "tests/unit/unit.h"

/* Fills pcs[0..n) with code-like addresses (every bit varies, as return addresses'
 * low bits do) that differ from every other seed's: frame i of seed s is a fixed
 * bijective mix of (s, i), so two seeds share no frame at the same position. */
static void fake_stack(uintptr_t *pcs, int n, uint32_t seed)
{
    for (int i = 0; i < n; i++) {
        uint64_t x = ((uint64_t)seed << 8 | (uint64_t)i) * 0x9E3779B97F4A7C15ull;
        x ^= x >> 31;
        pcs[i] = (uintptr_t)(0x400000 + (x & 0xffffffffffull));
    }
}

TEST(same_frames_intern_to_the_same_id)
{
    struct stacks_table *t = stacks_table_new();
    CHECK_NOT_NULL(t);
    uintptr_t a[5], copy[5];
    fake_stack(a, 5, 1);
    memcpy(copy, a, sizeof a);
    int id = stacks_intern(t, a, 5);
    CHECK_EQ_INT(id, 0);
    CHECK_EQ_INT(stacks_intern(t, a, 5), id);
    CHECK_EQ_INT(stacks_intern(t, copy, 5), id);       /* by content, not by address */
    CHECK_EQ_INT(stacks_count(t), 1);
}

TEST(different_stacks_get_dense_ids_in_order)
{
    struct stacks_table *t = stacks_table_new();
    CHECK_NOT_NULL(t);
    uintptr_t s[8][4];
    for (int i = 0; i < 4; i++) fake_stack(s[i], 4, 10 + (uint32_t)i);
    memcpy(s[4], s[0], sizeof s[0]);                    /* s[0] reordered */
    s[4][0] = s[0][1];
    s[4][1] = s[0][0];
    int lens[8] = {4, 4, 4, 4, 4, 3, 1, 0};            /* s[5..7]: prefixes of s[0] */
    memcpy(s[5], s[0], sizeof s[0]);
    memcpy(s[6], s[0], sizeof s[0]);
    memcpy(s[7], s[0], sizeof s[0]);
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(stacks_intern(t, s[i], lens[i]), i);
    CHECK_EQ_INT(stacks_count(t), 8);
    for (int i = 7; i >= 0; i--) CHECK_EQ_INT(stacks_intern(t, s[i], lens[i]), i);
    CHECK_EQ_INT(stacks_count(t), 8);
}

TEST(get_returns_the_interned_frames)
{
    struct stacks_table *t = stacks_table_new();
    CHECK_NOT_NULL(t);
    uintptr_t a[STACKS_MAX_DEPTH], b[1] = {0x1234};
    fake_stack(a, STACKS_MAX_DEPTH, 7);
    int ia = stacks_intern(t, a, STACKS_MAX_DEPTH), ib = stacks_intern(t, b, 1);
    int n = -1;
    const uintptr_t *p = stacks_get(t, ia, &n);
    CHECK_EQ_INT(n, STACKS_MAX_DEPTH);
    CHECK_EQ_MEM(p, a, sizeof a);
    CHECK(p != a);                                      /* a copy: the caller's buffer is reused */
    p = stacks_get(t, ib, &n);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_U64(p[0], 0x1234);
    int ie = stacks_intern(t, b, 0);                    /* unwinding failed: an empty stack */
    CHECK_EQ_INT(ie, 2);
    stacks_get(t, ie, &n);
    CHECK_EQ_INT(n, 0);
}

enum { MANY = 50000 };

TEST(fifty_thousand_stacks_stay_distinct_and_retrievable_after_growth)
{
    struct stacks_table *t = stacks_table_new();
    CHECK_NOT_NULL(t);
    uintptr_t pcs[24];
    fake_stack(pcs, 3, 0);
    CHECK_EQ_INT(stacks_intern(t, pcs, 3), 0);
    int n0;
    const uintptr_t *first = stacks_get(t, 0, &n0);
    for (uint32_t i = 1; i < MANY; i++) {
        int n = 1 + (int)(i % 24);
        fake_stack(pcs, n, i);
        int id = stacks_intern(t, pcs, n);
        if (id != (int)i) UNIT__FAIL("stack %u got id %d", i, id);
    }
    CHECK_EQ_INT(stacks_count(t), MANY);
    int n;
    CHECK_EQ_PTR(stacks_get(t, 0, &n), first);          /* stacks never move */
    CHECK_EQ_INT(n, 3);
    for (uint32_t i = 0; i < MANY; i++) {
        int want_n = i ? 1 + (int)(i % 24) : 3;
        fake_stack(pcs, want_n, i);
        const uintptr_t *p = stacks_get(t, (int)i, &n);
        if (n != want_n || memcmp(p, pcs, (size_t)n * sizeof *pcs) != 0)
            UNIT__FAIL("stack %u: %d frames, want %d, or different frames", i, n, want_n);
        int id = stacks_intern(t, pcs, want_n);
        if (id != (int)i) UNIT__FAIL("stack %u interned again got id %d", i, id);
    }
    CHECK_EQ_INT(stacks_count(t), MANY);
}

/* ---- capture ---------------------------------------------------------------------- */

/* Plays the allocator: in the alloc text section, like gcheap_alloc's slow path. */
GCHEAP_ALLOC_TEXT static int allocator_captures(uintptr_t *pcs, int max)
{
    int n = stacks_capture(pcs, max);
    __asm__ volatile("" ::: "memory");
    return n;
}

__attribute__((noinline, noclone, no_icf)) static int allocation_site(uintptr_t *pcs, int max)
{
    int n = allocator_captures(pcs, max);
    __asm__ volatile("" ::: "memory");
    return n;
}

__attribute__((noinline, noclone, no_icf)) static int site_caller(uintptr_t *pcs, int max)
{
    int n = allocation_site(pcs, max);
    __asm__ volatile("" ::: "memory");
    return n;
}

/* The function containing return address pc ("?" when unknown). */
static const char *frame_name(uintptr_t pc)
{
    const char *s = symbols_name(pc - 1, NULL);
    return s ? s : "?";
}

struct capture_result { int n; uintptr_t pcs[STACKS_MAX_DEPTH]; };

static void *capture_in_thread(void *out)
{
    struct capture_result *r = out;
    gcthreads_enter();
    r->n = site_caller(r->pcs, STACKS_MAX_DEPTH);
    return NULL;
}

TEST(capture_starts_at_the_allocators_caller)
{
    uintptr_t pcs[STACKS_MAX_DEPTH];
    int n = site_caller(pcs, STACKS_MAX_DEPTH);
    CHECK_GE(n, 3);
    CHECK_EQ_STR(frame_name(pcs[0]), "allocation_site");
    CHECK_EQ_STR(frame_name(pcs[1]), "site_caller");
    CHECK_EQ_STR(frame_name(pcs[2]), "capture_starts_at_the_allocators_caller");
    for (int i = 0; i < n; i++)
        if (gcheap_pc_is_alloc_text(pcs[i])) UNIT__FAIL("frame %d (%s) is allocator text", i, frame_name(pcs[i]));
    uintptr_t two[2];
    CHECK_EQ_INT(site_caller(two, 2), 2);               /* max is respected */
    CHECK_EQ_STR(frame_name(two[0]), "allocation_site");
    CHECK_EQ_STR(frame_name(two[1]), "site_caller");
}

TEST(capture_works_on_another_thread)
{
    struct capture_result r = {0};
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, capture_in_thread, &r), 0);
    pthread_join(th, NULL);
    CHECK_GE(r.n, 3);
    CHECK_EQ_STR(frame_name(r.pcs[0]), "allocation_site");
    CHECK_EQ_STR(frame_name(r.pcs[1]), "site_caller");
    CHECK_EQ_STR(frame_name(r.pcs[2]), "capture_in_thread");
}

__attribute__((noinline, noclone, no_icf)) static int recurse_then_capture(int depth, uintptr_t *pcs, int max)
{
    int n = depth ? recurse_then_capture(depth - 1, pcs, max) : allocation_site(pcs, max);
    __asm__ volatile("" ::: "memory");
    return n;
}

TEST(deep_stacks_are_cut_at_max_depth_keeping_the_leaf_end)
{
    uintptr_t pcs[STACKS_MAX_DEPTH + 64];
    int n = recurse_then_capture(2 * STACKS_MAX_DEPTH, pcs, STACKS_MAX_DEPTH + 64);
    CHECK_EQ_INT(n, STACKS_MAX_DEPTH);
    CHECK_EQ_STR(frame_name(pcs[0]), "allocation_site");
    CHECK_EQ_STR(frame_name(pcs[n - 1]), "recurse_then_capture");
}

int main(void)
{
    gcheap_init();
    stacks_init();
    if (symbols_init() != 0) {
        printf("FAIL test_stacks: symbols_init failed, frames cannot be named\n");
        return 1;
    }
    RUN(same_frames_intern_to_the_same_id);
    RUN(different_stacks_get_dense_ids_in_order);
    RUN(get_returns_the_interned_frames);
    RUN(fifty_thousand_stacks_stay_distinct_and_retrievable_after_growth);
    RUN(capture_starts_at_the_allocators_caller);
    RUN(capture_works_on_another_thread);
    RUN(deep_stacks_are_cut_at_max_depth_keeping_the_leaf_end);
    UNIT_EXIT();
}
