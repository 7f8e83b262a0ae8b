/* Unit tests for profile/unwind: the cached frame rules give the same stacks as
 * libgcc's general unwinder (_Unwind_Backtrace, what glibc's backtrace() uses) on
 * frames built without frame pointers, as a foreign program's are, without falling back
 * to it; the leading frames in the range to skip are cut; a thread's stacks work too.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unwind.h>

#include "profile/unwind.h"
#include "tests/unit/unit.h"

#define DEPTH_MAX 64

struct capture {
    uintptr_t fast[DEPTH_MAX], slow[DEPTH_MAX];
    int nfast, nslow;
};

struct slow_walk { uintptr_t pcs[DEPTH_MAX + 1]; int n; };

static _Unwind_Reason_Code slow_step(struct _Unwind_Context *ctx, void *arg)
{
    struct slow_walk *w = arg;
    uintptr_t pc = (uintptr_t)_Unwind_GetIP(ctx);
    if (!pc || w->n > DEPTH_MAX) return _URC_END_OF_STACK;
    w->pcs[w->n++] = pc;
    return _URC_NO_REASON;
}

/* The innermost frame: both unwinders, from the same call site. (libgcc's directly:
 * glibc's backtrace() is intercepted, and its frames changed, by AddressSanitizer.) */
__attribute__((noinline)) static void capture_here(struct capture *c)
{
    struct slow_walk w = {.n = 0};
    c->nfast = unwind_capture(c->fast, DEPTH_MAX, 0, 0);
    _Unwind_Backtrace(slow_step, &w);
    /* Both from this function's caller on: unwind_capture lists its own frame and then
     * this one's call site, libgcc this one's (other) call site. */
    c->nslow = w.n - 1;
    memcpy(c->slow, w.pcs + 1, (size_t)c->nslow * sizeof *c->slow);
    c->nfast -= 2;
    memmove(c->fast, c->fast + 2, (size_t)c->nfast * sizeof *c->fast);
}

/* Frames of three shapes (different locals, callee-saved registers), compiled without
 * frame pointers, calling each other through a table so that none is inlined, turned
 * into a loop or tail-called. */
typedef int (*step_fn)(struct capture *c, int depth);
static step_fn volatile steps[3];

#define STEP(name, size)                                                            \
    __attribute__((noinline, optimize("omit-frame-pointer"))) static int name(struct capture *c, int depth) \
    {                                                                               \
        volatile char local[size];                                                  \
        local[0] = (char)depth;                                                     \
        if (depth == 0) {                                                           \
            capture_here(c);                                                        \
            return local[0];                                                        \
        }                                                                           \
        int r = steps[depth % 3](c, depth - 1);                                     \
        return r + local[0] + local[size - 1];                                      \
    }
STEP(step_small, 8)
STEP(step_medium, 200)
STEP(step_large, 5000)

static int descend(struct capture *c, int depth)
{
    steps[0] = step_small;
    steps[1] = step_medium;
    steps[2] = step_large;
    return steps[0](c, depth);
}

static void check_same(const struct capture *c)
{
    CHECK_GE(c->nfast, 12);
    CHECK_EQ_INT(c->nfast, c->nslow);
    for (int i = 0; i < c->nfast; i++)
        if (c->fast[i] != c->slow[i]) UNIT__FAIL("frame %d: rules %#lx, libgcc %#lx", i, (unsigned long)c->fast[i],
                                                 (unsigned long)c->slow[i]);
}

TEST(rules_match_libgcc_without_frame_pointers)
{
    struct capture c;
    uint64_t before = unwind_fallbacks();
    descend(&c, 12);
    descend(&c, 12);   /* the second time from the cache */
    check_same(&c);
    CHECK_EQ_U64(unwind_fallbacks(), before);
}

static void *in_thread(void *arg)
{
    descend(arg, 20);
    return NULL;
}

TEST(rules_match_libgcc_on_another_thread)
{
    struct capture c;
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, in_thread, &c), 0);
    pthread_join(t, NULL);
    check_same(&c);
}

/* Skipping a range cuts the leading frames in it, and only those. */
__attribute__((noinline)) static int capture_skipping(uintptr_t *pcs, uintptr_t lo, uintptr_t hi)
{
    return unwind_capture(pcs, DEPTH_MAX, lo, hi);
}

TEST(leading_frames_in_the_skip_range_are_cut)
{
    uintptr_t all[DEPTH_MAX], cut[DEPTH_MAX];
    int n = capture_skipping(all, 0, 0);
    CHECK_GE(n, 3);
    /* all[0] is in unwind_capture's caller chain: skip a range around the first two. */
    uintptr_t lo = all[0] < all[1] ? all[0] : all[1], hi = (all[0] < all[1] ? all[1] : all[0]) + 1;
    int m = capture_skipping(cut, lo, hi);
    CHECK_EQ_INT(m, n - 2);
    CHECK(cut[0] == all[2]);
}

TEST(object_text_contains_its_function)
{
    uintptr_t lo = 0, hi = 0;
    CHECK_EQ_INT(unwind_object_text((const void *)&capture_here, &lo, &hi), 0);
    CHECK((uintptr_t)&capture_here >= lo && (uintptr_t)&capture_here < hi);
    CHECK_EQ_INT(unwind_object_text((const void *)8, &lo, &hi), -1);
}

int main(void)
{
    RUN(rules_match_libgcc_without_frame_pointers);
    RUN(rules_match_libgcc_on_another_thread);
    RUN(leading_frames_in_the_skip_range_are_cut);
    RUN(object_text_contains_its_function);
    UNIT_EXIT();
}
