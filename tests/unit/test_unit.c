/* Unit tests for the harness itself (tests/unit/unit.h): every CHECK form fails when its
 * condition is false, passes when it is true, and its FAIL line names the expression
 * and shows the values, so that a failing test says what it saw. Each form runs in a
 * small function whose stdout is captured into a temporary file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/unit.h"

static char captured[1024];

/* Runs fn with stdout going to a temporary file; leaves what it printed in captured[]
 * and returns whether fn failed (unit__failed_now). Restores the test's own state. */
static int run_captured(void (*fn)(void))
{
    fflush(stdout);
    int saved = dup(1);
    FILE *tmp = tmpfile();
    if (saved < 0 || !tmp) { perror("run_captured"); exit(2); }
    dup2(fileno(tmp), 1);
    int was_failed = unit__failed_now;
    unit__failed_now = 0;
    fn();
    fflush(stdout);
    int failed = unit__failed_now;
    unit__failed_now = was_failed;
    dup2(saved, 1);
    close(saved);
    rewind(tmp);
    size_t n = fread(captured, 1, sizeof captured - 1, tmp);
    captured[n] = 0;
    fclose(tmp);
    return failed;
}

static int three(void) { return 3; }

static void f_check(void) { CHECK(three() == 4); }
static void f_eq_int(void) { CHECK_EQ_INT(three(), -7); }
static void f_ne_int(void) { CHECK_NE_INT(three(), 3); }
static void f_lt(void) { CHECK_LT(three(), 3); }
static void f_le(void) { CHECK_LE(three(), 2); }
static void f_gt(void) { CHECK_GT(three(), 3); }
static void f_ge(void) { CHECK_GE(three(), 4); }
static void f_eq_u64(void) { CHECK_EQ_U64((uint64_t)three() << 62, 1); }
static void f_lt_u64(void) { CHECK_LT_U64(UINT64_MAX, 5); }
static void f_le_u64(void) { CHECK_LE_U64(UINT64_MAX, 5); }
static void f_gt_u64(void) { CHECK_GT_U64(5, UINT64_MAX); }
static void f_ge_u64(void) { CHECK_GE_U64(5, UINT64_MAX); }
static void f_near(void) { CHECK_NEAR(three() / 2.0, 1.0, 0.25); }
static void f_eq_str(void) { CHECK_EQ_STR("abc", "abd"); }
static void f_eq_str_null(void) { CHECK_EQ_STR(NULL, "abd"); }
static void f_contains(void) { CHECK_CONTAINS("the quick fox", "slow"); }
static void f_not_contains(void) { CHECK_NOT_CONTAINS("the quick fox", "quick"); }
static void f_prefix(void) { CHECK_PREFIX("the quick fox", "a quick"); }
static void f_eq_mem(void) { CHECK_EQ_MEM("abcdef", "abcxef", 6); }
static void f_eq_ptr(void) { CHECK_EQ_PTR(captured, captured + 1); }
static void f_null(void) { CHECK_NULL(captured); }
static void f_not_null(void) { CHECK_NOT_NULL((char *)NULL); }

static void f_all_true(void)
{
    CHECK(three() == 3);
    CHECK_EQ_INT(three(), 3);
    CHECK_NE_INT(three(), 4);
    CHECK_LT(three(), 4);
    CHECK_LE(three(), 3);
    CHECK_GT(three(), 2);
    CHECK_GE(three(), 3);
    CHECK_EQ_U64(UINT64_MAX, UINT64_MAX);
    CHECK_LT_U64(5, UINT64_MAX);
    CHECK_LE_U64(5, 5);
    CHECK_GT_U64(UINT64_MAX, 5);
    CHECK_GE_U64(5, 5);
    CHECK_NEAR(three() / 2.0, 1.5, 0);
    CHECK_EQ_STR("abc", "abc");
    CHECK_CONTAINS("the quick fox", "quick");
    CHECK_NOT_CONTAINS("the quick fox", "slow");
    CHECK_PREFIX("the quick fox", "the q");
    CHECK_EQ_MEM("abcdef", "abcdef", 6);
    CHECK_EQ_PTR(captured, captured);
    CHECK_NULL((char *)NULL);
    CHECK_NOT_NULL(captured);
}

static int evaluations;
static int count_evaluation(void) { return ++evaluations; }
static void f_evaluates_once(void)
{
    CHECK_EQ_INT(count_evaluation(), 100);
    evaluations = 1000;   /* not reached: the failed CHECK returned */
}

static const struct {
    void (*fn)(void);
    const char *name, *want;   /* want: the part of the FAIL line that shows the values */
} failing[] = {
    {f_check, "CHECK", "CHECK(three() == 4) is false"},
    {f_eq_int, "CHECK_EQ_INT", "three() == 3, want -7"},
    {f_ne_int, "CHECK_NE_INT", "three() != 3: got 3, want != 3"},
    {f_lt, "CHECK_LT", "three() < 3: got 3, want < 3"},
    {f_le, "CHECK_LE", "three() <= 2: got 3, want <= 2"},
    {f_gt, "CHECK_GT", "three() > 3: got 3, want > 3"},
    {f_ge, "CHECK_GE", "three() >= 4: got 3, want >= 4"},
    {f_eq_u64, "CHECK_EQ_U64", "== 13835058055282163712, want 1"},
    {f_lt_u64, "CHECK_LT_U64", "got 18446744073709551615, want < 5"},
    {f_le_u64, "CHECK_LE_U64", "got 18446744073709551615, want <= 5"},
    {f_gt_u64, "CHECK_GT_U64", "got 5, want > 18446744073709551615"},
    {f_ge_u64, "CHECK_GE_U64", "got 5, want >= 18446744073709551615"},
    {f_near, "CHECK_NEAR", "three() / 2.0 == 1.5, want 1 +- 0.25 (off by 0.5)"},
    {f_eq_str, "CHECK_EQ_STR", "\"abc\" == \"abc\", want \"abd\""},
    {f_eq_str_null, "CHECK_EQ_STR(NULL)", "== \"(null)\", want \"abd\""},
    {f_contains, "CHECK_CONTAINS", "lacks \"slow\"; it begins \"the quick fox\""},
    {f_not_contains, "CHECK_NOT_CONTAINS", "has \"quick\" at offset 4: \"...the quick fox\""},
    {f_prefix, "CHECK_PREFIX", "does not start with \"a quick\"; it begins \"the quick fox\""},
    {f_eq_mem, "CHECK_EQ_MEM", "at byte 3 of 6: 0x64, want 0x78"},
    {f_eq_ptr, "CHECK_EQ_PTR", "captured == 0x"},
    {f_null, "CHECK_NULL", "captured == 0x"},
    {f_not_null, "CHECK_NOT_NULL", "(char *)NULL is NULL"},
};

TEST(every_check_form_fails_and_prints_what_it_saw)
{
    for (size_t i = 0; i < sizeof failing / sizeof failing[0]; i++) {
        int failed = run_captured(failing[i].fn);
        if (!failed) UNIT__FAIL("%s did not fail; it printed \"%s\"", failing[i].name, captured);
        if (strncmp(captured, "FAIL f_", 7) != 0 || !strstr(captured, "test_unit.c:"))
            UNIT__FAIL("%s printed \"%s\", not a FAIL line with file and line", failing[i].name, captured);
        if (!strstr(captured, failing[i].want))
            UNIT__FAIL("%s printed \"%s\", want it to contain \"%s\"", failing[i].name, captured,
                       failing[i].want);
    }
}

TEST(true_checks_pass_silently)
{
    int failed = run_captured(f_all_true);
    if (failed || captured[0]) UNIT__FAIL("failed=%d, printed \"%s\"", failed, captured);
}

TEST(a_failed_check_ends_its_test_and_evaluates_arguments_once)
{
    evaluations = 0;
    CHECK_EQ_INT(run_captured(f_evaluates_once), 1);
    CHECK_EQ_INT(evaluations, 1);
    CHECK_CONTAINS(captured, "count_evaluation() == 1, want 100");
}

static void f_skips(void) { SKIP("%s", "not installed"); }
static void f_fails(void) { CHECK(three() == 4); }
static void run_skipping(void) { RUN(f_skips); }
static void run_failing(void) { RUN(f_fails); }

/* Runs fn (which RUNs one test) captured; returns how much it added to unit__failures,
 * the count UNIT_EXIT() turns into the file's exit status. */
static int failures_added_by(void (*fn)(void))
{
    int before = unit__failures, saved_skip = unit__skipped_now;
    run_captured(fn);
    int added = unit__failures - before;
    unit__failures = before;
    unit__skipped_now = saved_skip;
    return added;
}

TEST(a_skip_does_not_fail_the_file_and_a_failure_does)
{
    CHECK_EQ_INT(failures_added_by(run_skipping), 0);
    CHECK_PREFIX(captured, "SKIP f_skips: not installed");
    CHECK_EQ_INT(failures_added_by(run_failing), 1);
    CHECK_PREFIX(captured, "FAIL f_fails: ");
}

int main(void)
{
    RUN(every_check_form_fails_and_prints_what_it_saw);
    RUN(true_checks_pass_silently);
    RUN(a_failed_check_ends_its_test_and_evaluates_arguments_once);
    RUN(a_skip_does_not_fail_the_file_and_a_failure_does);
    UNIT_EXIT();
}
