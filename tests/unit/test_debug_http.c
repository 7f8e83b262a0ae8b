/* Unit tests for the /debug surface's one parameter parser (src/debug_http): each
 * rule's grammar and defaults, and one message for one mistake whichever endpoint's
 * rules read it. */
#include <math.h>
#include <string.h>

#include "src/debug_http.h"
#include "tests/unit/unit.h"

static const struct debug_param_rules delta = {1, 1, DEBUG_SECONDS_INT, 0};       /* heap */
static const struct debug_param_rules lock = {0, 1, DEBUG_SECONDS_INT, 0};        /* mutex, block */
static const struct debug_param_rules cpu = {0, 0, DEBUG_SECONDS_INT, 30};        /* profile */
static const struct debug_param_rules trace = {0, 0, DEBUG_SECONDS_FLOAT, 1};     /* trace */
static const struct debug_param_rules instant = {0, 1, DEBUG_SECONDS_NONE, 0};    /* goroutine */

/* The reason rules give for ?seconds=v, or "" when they accept it. */
static const char *seconds_reason(const struct debug_param_rules *r, const char *v, char *why)
{
    struct debug_params p;
    why[0] = '\0';
    if (debug_http_parse(r, NULL, NULL, v, &p, why, DEBUG_HTTP_WHY) == 0) why[0] = '\0';
    return why;
}

TEST(one_mistake_gets_one_message_from_every_windowed_rule)
{
    const char *bad[] = {"abc", "0", "-1", "1e3", " 5", "601", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char a[DEBUG_HTTP_WHY], b[DEBUG_HTTP_WHY], c[DEBUG_HTTP_WHY];
        seconds_reason(&delta, bad[i], a);
        seconds_reason(&lock, bad[i], b);
        seconds_reason(&cpu, bad[i], c);
        if (!a[0]) UNIT__FAIL("seconds=%s accepted", bad[i]);
        CHECK_EQ_STR(b, a);
        CHECK_EQ_STR(c, a);
    }
    char why[DEBUG_HTTP_WHY];
    CHECK_EQ_STR(seconds_reason(&delta, "abc", why), "invalid value for \"seconds\": must be a positive integer");
    CHECK(strstr(seconds_reason(&cpu, "601", why), "at most 600") != NULL);
    CHECK_EQ_STR(seconds_reason(&trace, "601", why), seconds_reason(&delta, "700", (char[DEBUG_HTTP_WHY]){0}));
}

TEST(absent_values_take_the_rules_defaults)
{
    struct debug_params p;
    char why[DEBUG_HTTP_WHY];
    CHECK_EQ_INT(debug_http_parse(&cpu, NULL, NULL, NULL, &p, why, sizeof why), 0);
    CHECK(p.seconds == 30 && p.gc == 0 && p.debug == 0);
    CHECK_EQ_INT(debug_http_parse(&delta, "1", "2", NULL, &p, why, sizeof why), 0);
    CHECK(p.seconds == 0 && p.gc == 1 && p.debug == 2);
    CHECK_EQ_INT(debug_http_parse(&cpu, "x", "y", "5", &p, why, sizeof why), 0);   /* not read there */
    CHECK(p.seconds == 5 && p.gc == 0 && p.debug == 0);
}

TEST(trace_reads_seconds_as_go_does)
{
    struct debug_params p;
    char why[DEBUG_HTTP_WHY];
    const struct { const char *v; double want; } cases[] = {
        {"0.25", 0.25}, {"0x1p-2", 0.25}, {"+2", 2}, {"abc", 1}, {"0x10", 1}, {"-3", 1}, {"nan", 1}, {"0", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_EQ_INT(debug_http_parse(&trace, NULL, NULL, cases[i].v, &p, why, sizeof why), 0);
        if (fabs(p.seconds - cases[i].want) > 1e-12) UNIT__FAIL("seconds=%s read as %g", cases[i].v, p.seconds);
    }
    CHECK_EQ_INT(debug_http_parse(&trace, NULL, NULL, "inf", &p, why, sizeof why), -1);
}

TEST(seconds_where_no_window_exists_and_with_debug_are_refused)
{
    char why[DEBUG_HTTP_WHY];
    CHECK_EQ_STR(seconds_reason(&instant, "1", why), "\"seconds\" parameter is not supported for this profile type");
    struct debug_params p;
    CHECK_EQ_INT(debug_http_parse(&lock, NULL, "1", "1", &p, why, sizeof why), -1);
    CHECK_EQ_STR(why, "seconds and debug params are incompatible");
    CHECK_EQ_INT(debug_http_parse(&lock, NULL, "0", "1", &p, why, sizeof why), 0);
}

TEST(integers_are_decimal_in_range_and_the_message_names_both)
{
    long long v;
    char why[DEBUG_HTTP_WHY];
    CHECK_EQ_INT(debug_http_int("rate", "0016384", 7, 0, 1 << 20, &v, why, sizeof why), 0);
    CHECK_EQ_INT(v, 16384);
    CHECK_EQ_INT(debug_http_int("rate", NULL, 7, 0, 1 << 20, &v, why, sizeof why), 0);
    CHECK_EQ_INT(v, 7);
    const char *bad[] = {"", "-1", "0x10", "1_0", "1e3", "2000000", " 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (debug_http_int("rate", bad[i], 7, 0, 1 << 20, &v, why, sizeof why) == 0) UNIT__FAIL("rate=\"%s\" accepted", bad[i]);
        CHECK_EQ_STR(why, "invalid value for \"rate\": must be a decimal integer from 0 to 1048576");
    }
}

int main(void)
{
    RUN(one_mistake_gets_one_message_from_every_windowed_rule);
    RUN(absent_values_take_the_rules_defaults);
    RUN(trace_reads_seconds_as_go_does);
    RUN(seconds_where_no_window_exists_and_with_debug_are_refused);
    RUN(integers_are_decimal_in_range_and_the_message_names_both);
    UNIT_EXIT();
}
