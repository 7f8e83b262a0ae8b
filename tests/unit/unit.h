/* unit.h: the smallest test harness that prints both values when an assertion fails.
 *
 * A unit test file defines test functions with TEST(name) and lists them in main()
 * with RUN(name); each prints "PASS name", "FAIL name: file:line: what" or
 * "SKIP name: why", and tests/run counts those lines. UNIT_EXIT() returns 1 if any test
 * failed; a skipped test is not a failure (a machine without an optional tool such as
 * Go 1.23 must still pass). A failed CHECK ends its test, not the file (so CHECKs
 * belong in functions returning void).
 *
 * Every CHECK prints what it saw: CHECK(cond) prints the expression; the typed forms
 * print the expression, the value it had and the value it was compared with. Prefer a
 * typed form whenever the condition compares two values, so that a failure says by how
 * much. Each argument is evaluated exactly once.
 *
 *   CHECK(cond)                         expression
 *   CHECK_EQ_INT / _NE_INT (got, want)  signed integers (long long)
 *   CHECK_LT / _LE / _GT / _GE (a, b)   signed integers (long long)
 *   CHECK_EQ_U64, CHECK_LT_U64 / _LE_U64 / _GT_U64 / _GE_U64
 *                                       unsigned integers (uint64_t), e.g. byte counts
 *   CHECK_NEAR(got, want, tolerance)    doubles: |got - want| <= tolerance
 *   CHECK_EQ_STR(got, want)             strings (got may be NULL)
 *   CHECK_CONTAINS / _NOT_CONTAINS      substring in a NUL-terminated text (shows where)
 *   CHECK_PREFIX(text, prefix)          text starts with prefix (shows how it starts)
 *   CHECK_EQ_MEM(got, want, n)          bytes: the first differing offset and both bytes
 *   CHECK_EQ_PTR / _NULL / _NOT_NULL    pointers
 */
#ifndef MEMDEMO_UNIT_H
#define MEMDEMO_UNIT_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int unit__failed_now;
static int unit__skipped_now;
static int unit__failures;

#define TEST(name) static void name(void)

#define RUN(name)                                                        \
    do {                                                                 \
        unit__failed_now = unit__skipped_now = 0;                        \
        name();                                                          \
        if (unit__failed_now) unit__failures++;                          \
        else if (!unit__skipped_now) printf("PASS %s\n", #name);        \
        fflush(stdout);                                                  \
    } while (0)

#define UNIT__FAIL(fmt, ...)                                                      \
    do {                                                                          \
        printf("FAIL %s: %s:%d: " fmt "\n", __func__, __FILE__, __LINE__, __VA_ARGS__); \
        fflush(stdout);                                                           \
        unit__failed_now = 1;                                                     \
        return;                                                                   \
    } while (0)

/* Ends the test with "SKIP name: why" (something it needs is not installed). */
#define SKIP(fmt, ...)                                                            \
    do {                                                                          \
        printf("SKIP %s: " fmt "\n", __func__, __VA_ARGS__);                      \
        unit__skipped_now = 1;                                                    \
        return;                                                                   \
    } while (0)

#define CHECK(cond) \
    do { if (!(cond)) UNIT__FAIL("CHECK(%s) is false", #cond); } while (0)

/* a OP b on signed integers; the failure shows both sides. */
#define UNIT__CMP_INT(a, op, b)                                                        \
    do {                                                                               \
        long long a_ = (long long)(a), b_ = (long long)(b);                            \
        if (!(a_ op b_)) UNIT__FAIL("%s " #op " %s: got %lld, want " #op " %lld",      \
                                    #a, #b, a_, b_);                                   \
    } while (0)

#define UNIT__CMP_U64(a, op, b)                                                        \
    do {                                                                               \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                               \
        if (!(a_ op b_)) UNIT__FAIL("%s " #op " %s: got %" PRIu64 ", want " #op " %" PRIu64, \
                                    #a, #b, a_, b_);                                   \
    } while (0)

#define CHECK_EQ_INT(got, want)                                                   \
    do {                                                                          \
        long long g_ = (long long)(got), w_ = (long long)(want);                  \
        if (g_ != w_) UNIT__FAIL("%s == %lld, want %lld", #got, g_, w_);          \
    } while (0)

#define CHECK_NE_INT(a, b) UNIT__CMP_INT(a, !=, b)
#define CHECK_LT(a, b) UNIT__CMP_INT(a, <, b)
#define CHECK_LE(a, b) UNIT__CMP_INT(a, <=, b)
#define CHECK_GT(a, b) UNIT__CMP_INT(a, >, b)
#define CHECK_GE(a, b) UNIT__CMP_INT(a, >=, b)

#define CHECK_EQ_U64(got, want)                                                   \
    do {                                                                          \
        uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                     \
        if (g_ != w_) UNIT__FAIL("%s == %" PRIu64 ", want %" PRIu64, #got, g_, w_); \
    } while (0)

#define CHECK_LT_U64(a, b) UNIT__CMP_U64(a, <, b)
#define CHECK_LE_U64(a, b) UNIT__CMP_U64(a, <=, b)
#define CHECK_GT_U64(a, b) UNIT__CMP_U64(a, >, b)
#define CHECK_GE_U64(a, b) UNIT__CMP_U64(a, >=, b)

#define CHECK_NEAR(got, want, tolerance)                                          \
    do {                                                                          \
        double g_ = (double)(got), w_ = (double)(want), t_ = (double)(tolerance); \
        if (!(fabs(g_ - w_) <= t_))                                               \
            UNIT__FAIL("%s == %.17g, want %.17g +- %g (off by %g)", #got, g_, w_, t_, g_ - w_); \
    } while (0)

#define CHECK_EQ_STR(got, want)                                                   \
    do {                                                                          \
        const char *g_ = (got), *w_ = (want);                                     \
        if (!g_ || strcmp(g_, w_) != 0)                                           \
            UNIT__FAIL("%s == \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)", w_); \
    } while (0)

/* Up to 160 bytes of text around offset `at`, for failure messages. */
#define UNIT__EXCERPT 160

#define CHECK_CONTAINS(text, needle)                                              \
    do {                                                                          \
        const char *t_ = (text), *n_ = (needle);                                  \
        if (!t_ || !strstr(t_, n_))                                               \
            UNIT__FAIL("%s lacks \"%s\"; it begins \"%.*s\"%s", #text, n_,         \
                       UNIT__EXCERPT, t_ ? t_ : "(null)",                         \
                       t_ && strlen(t_) > UNIT__EXCERPT ? "..." : "");            \
    } while (0)

#define CHECK_NOT_CONTAINS(text, needle)                                          \
    do {                                                                          \
        const char *t_ = (text), *n_ = (needle), *at_ = t_ ? strstr(t_, n_) : NULL; \
        if (!t_) UNIT__FAIL("%s is NULL", #text);                                 \
        if (at_) {                                                                \
            const char *from_ = at_ - t_ > 40 ? at_ - 40 : t_;                    \
            UNIT__FAIL("%s has \"%s\" at offset %td: \"...%.*s\"", #text, n_,      \
                       at_ - t_, UNIT__EXCERPT, from_);                           \
        }                                                                         \
    } while (0)

#define CHECK_PREFIX(text, prefix)                                                \
    do {                                                                          \
        const char *t_ = (text), *p_ = (prefix);                                  \
        if (!t_ || strncmp(t_, p_, strlen(p_)) != 0)                              \
            UNIT__FAIL("%s does not start with \"%s\"; it begins \"%.*s\"", #text, \
                       p_, UNIT__EXCERPT, t_ ? t_ : "(null)");                    \
    } while (0)

#define CHECK_EQ_MEM(got, want, n)                                                \
    do {                                                                          \
        const unsigned char *g_ = (const void *)(got), *w_ = (const void *)(want); \
        size_t n_ = (size_t)(n), i_ = 0;                                          \
        while (i_ < n_ && g_[i_] == w_[i_]) i_++;                                 \
        if (i_ < n_)                                                              \
            UNIT__FAIL("%s differs from %s at byte %zu of %zu: 0x%02x, want 0x%02x", \
                       #got, #want, i_, n_, g_[i_], w_[i_]);                      \
    } while (0)

#define CHECK_EQ_PTR(got, want)                                                   \
    do {                                                                          \
        const void *g_ = (const void *)(got), *w_ = (const void *)(want);         \
        if (g_ != w_) UNIT__FAIL("%s == %p, want %p", #got, g_, w_);              \
    } while (0)

#define CHECK_NULL(p)                                                             \
    do {                                                                          \
        const void *p_ = (const void *)(p);                                       \
        if (p_) UNIT__FAIL("%s == %p, want NULL", #p, p_);                        \
    } while (0)

#define CHECK_NOT_NULL(p)                                                         \
    do {                                                                          \
        const void *p_ = (const void *)(p);                                       \
        if (!p_) UNIT__FAIL("%s is NULL", #p);                                    \
    } while (0)

#define UNIT_EXIT() return unit__failures ? 1 : 0

#endif
