/* unit.h: the smallest test harness that prints both values when an assertion fails.
 *
 * A unit test file defines test functions with TEST(name) and lists them in main()
 * with RUN(name); each prints "PASS name", "FAIL name: file:line: what" or
 * "SKIP name: why", and tests/run counts those lines. A failed CHECK ends its test, not the file.
 */
#ifndef MEMDEMO_UNIT_H
#define MEMDEMO_UNIT_H

#include <inttypes.h>
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
        if (!unit__failed_now && !unit__skipped_now) printf("PASS %s\n", #name); \
        else unit__failures++;                                           \
        fflush(stdout);                                                  \
    } while (0)

#define UNIT__FAIL(fmt, ...)                                                      \
    do {                                                                          \
        printf("FAIL %s: %s:%d: " fmt "\n", __func__, __FILE__, __LINE__, __VA_ARGS__); \
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
    do { if (!(cond)) UNIT__FAIL("%s", #cond); } while (0)

#define CHECK_EQ_INT(got, want)                                                   \
    do {                                                                          \
        long long g_ = (long long)(got), w_ = (long long)(want);                  \
        if (g_ != w_) UNIT__FAIL("%s == %lld, want %lld", #got, g_, w_);          \
    } while (0)

#define CHECK_EQ_STR(got, want)                                                   \
    do {                                                                          \
        const char *g_ = (got), *w_ = (want);                                     \
        if (!g_ || strcmp(g_, w_) != 0)                                           \
            UNIT__FAIL("%s == \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)", w_); \
    } while (0)

#define UNIT_EXIT() return unit__failures ? 1 : 0

#endif
