/* Unit tests for src/lograte, the token bucket for client-caused log lines, on a clock
 * the test moves: a burst passes, the rest are dropped and counted, the credit refills
 * at the sustained rate up to one burst, and the next line that passes learns how many
 * were dropped before it. */
#include <stdint.h>

#include "src/lograte.h"
#include "tests/unit/unit.h"

#define SEC UINT64_C(1000000000)

TEST(a_burst_passes_then_lines_are_dropped_and_counted)
{
    struct lograte_bucket b = {0};
    uint64_t before = 99;
    int passed = 0;
    for (int i = 0; i < 1000; i++) passed += lograte_take(&b, 5 * SEC, &before);
    CHECK_EQ_INT(passed, LOGRATE_BURST);
    CHECK_EQ_U64(b.dropped, 1000 - LOGRATE_BURST);
}

TEST(the_next_line_that_passes_says_how_many_were_dropped)
{
    struct lograte_bucket b = {0};
    uint64_t before = 99;
    for (int i = 0; i < LOGRATE_BURST + 37; i++) lograte_take(&b, 0, &before);
    CHECK_EQ_INT(lograte_take(&b, SEC / LOGRATE_PER_SECOND, &before), 1);
    CHECK_EQ_U64(before, 37);
    CHECK_EQ_INT(lograte_take(&b, SEC / LOGRATE_PER_SECOND, &before), 0);   /* credit spent again */
}

TEST(credit_refills_at_the_sustained_rate_up_to_one_burst)
{
    struct lograte_bucket b = {0};
    uint64_t before;
    for (int i = 0; i < LOGRATE_BURST; i++) CHECK_EQ_INT(lograte_take(&b, 0, &before), 1);
    int passed = 0;   /* ten seconds, a line every millisecond */
    for (uint64_t t = 0; t <= 10 * SEC; t += SEC / 1000) passed += lograte_take(&b, t, &before);
    CHECK_EQ_INT(passed, 10 * LOGRATE_PER_SECOND);
    passed = 0;       /* an hour of quiet refills one burst, not more */
    for (int i = 0; i < 1000; i++) passed += lograte_take(&b, 3610 * SEC, &before);
    CHECK_EQ_INT(passed, LOGRATE_BURST);
}

TEST(a_clock_that_goes_back_gives_no_credit)
{
    struct lograte_bucket b = {0};
    uint64_t before;
    for (int i = 0; i < LOGRATE_BURST; i++) lograte_take(&b, 100 * SEC, &before);
    CHECK_EQ_INT(lograte_take(&b, 1 * SEC, &before), 0);
    CHECK_EQ_INT(lograte_take(&b, 100 * SEC + SEC / LOGRATE_PER_SECOND, &before), 1);
}

int main(void)
{
    RUN(a_burst_passes_then_lines_are_dropped_and_counted);
    RUN(the_next_line_that_passes_says_how_many_were_dropped);
    RUN(credit_refills_at_the_sustained_rate_up_to_one_burst);
    RUN(a_clock_that_goes_back_gives_no_credit);
    UNIT_EXIT();
}
