/* Unit tests for src/numparse: each grammar accepts exactly what numparse.h says, over
 * the whole input, and rejects signs, white space, foreign prefixes and overflow. The
 * expected Go results were read off Go 1.19's strconv; tests/integration/numparse_go.sh
 * compares thousands more inputs with Go itself. Also the two callers' cores that have
 * no HTTP: flags_parse_args and debug_pprof_next_pc.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "src/debug_pprof.h"
#include "src/flags.h"
#include "src/numparse.h"
#include "tests/unit/unit.h"

static int dec(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
    return numparse_decimal(s, strlen(s), lo, hi, v);
}

static int gou(const char *s, uint64_t *v) { return numparse_go_uint(s, strlen(s), v); }

static int gof(const char *s, double *v) { return numparse_go_float(s, strlen(s), v); }

TEST(decimal_accepts_only_ascii_digits)
{
    int64_t v = -1;
    CHECK_EQ_INT(dec("0", 0, 100, &v), NUMPARSE_OK);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(dec("007", 0, 100, &v), NUMPARSE_OK);
    CHECK_EQ_INT(v, 7);
    CHECK_EQ_INT(dec("9223372036854775807", 0, INT64_MAX, &v), NUMPARSE_OK);
    CHECK_EQ_INT(v, INT64_MAX);
    static const char *const bad[] = {"", " 1", "1 ", "+1", "-1", "0x10", "1_000", "1.0", "1e3",
                                      "\t1", "1\n", "one", "1,000", "\xd9\xa1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        if (dec(bad[i], 0, INT64_MAX, &v) != NUMPARSE_SYNTAX) UNIT__FAIL("\"%s\" was not a syntax error", bad[i]);
        CHECK_EQ_INT(v, 42);                             /* *out untouched on failure */
    }
    CHECK_EQ_INT(numparse_decimal("1\0", 2, 0, 9, &v), NUMPARSE_SYNTAX);   /* a NUL is a byte */
    CHECK_EQ_INT(numparse_decimal("12", 1, 0, 9, &v), NUMPARSE_OK);        /* only s[0..n) */
    CHECK_EQ_INT(v, 1);
}

TEST(decimal_rejects_overflow_and_values_outside_the_range)
{
    int64_t v = 42;
    CHECK_EQ_INT(dec("9223372036854775808", 0, INT64_MAX, &v), NUMPARSE_RANGE);
    CHECK_EQ_INT(dec("18446744073709551616", 0, INT64_MAX, &v), NUMPARSE_RANGE);
    CHECK_EQ_INT(dec("99999999999999999999999999", 0, INT64_MAX, &v), NUMPARSE_RANGE);
    CHECK_EQ_INT(dec("101", 0, 100, &v), NUMPARSE_RANGE);
    CHECK_EQ_INT(dec("0", 1, 100, &v), NUMPARSE_RANGE);
    CHECK_EQ_INT(v, 42);
    CHECK_EQ_INT(dec("99999999999999999999x", 0, INT64_MAX, &v), NUMPARSE_SYNTAX);
}

TEST(go_uint_reads_go_integer_literals_like_parseuint_base_0)
{
    static const struct { const char *s; uint64_t v; } ok[] = {
        {"0", 0}, {"00", 0}, {"10", 10}, {"0x10", 16}, {"0X1f", 31}, {"010", 8}, {"0o17", 15},
        {"0O17", 15}, {"0b101", 5}, {"0B11", 3}, {"1_000", 1000}, {"0_7", 7}, {"0x_1f", 31},
        {"18446744073709551615", UINT64_MAX}, {"0xffffffffffffffff", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 0;
        if (gou(ok[i].s, &v) != NUMPARSE_OK || v != ok[i].v)
            UNIT__FAIL("\"%s\" gave %llu, want %llu", ok[i].s, (unsigned long long)v, (unsigned long long)ok[i].v);
    }
    static const char *const bad[] = {"", "+1", "-1", " 1", "1 ", "08", "0x", "0b", "0o", "0b2",
                                      "0_", "_1", "1__0", "1_", "0x1_", "0_x1", "1e3", "0x1p4", "1.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        if (gou(bad[i], &v) != NUMPARSE_SYNTAX) UNIT__FAIL("\"%s\" was not a syntax error", bad[i]);
    }
    uint64_t v;
    CHECK_EQ_INT(gou("18446744073709551616", &v), NUMPARSE_RANGE);
    CHECK_EQ_INT(gou("0x10000000000000000", &v), NUMPARSE_RANGE);
}

TEST(go_int_range_checks_the_range_after_the_literal)
{
    int64_t v = 0;
    CHECK_EQ_INT(numparse_go_int_range("0x10", 4, 0, 100, &v), NUMPARSE_OK);
    CHECK_EQ_INT(v, 16);
    CHECK_EQ_INT(numparse_go_int_range("0x65", 4, 0, 100, &v), NUMPARSE_RANGE);
    CHECK_EQ_INT(numparse_go_int_range("9223372036854775808", 19, 0, INT64_MAX, &v), NUMPARSE_RANGE);
    CHECK_EQ_INT(numparse_go_int_range("-1", 2, 0, 100, &v), NUMPARSE_SYNTAX);
}

static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || (a == b && signbit(a) == signbit(b));
}

TEST(go_float_reads_what_parsefloat_reads)
{
    static const struct { const char *s; double v; } ok[] = {
        {"1", 1}, {"+5", 5}, {"-2.5", -2.5}, {".5", 0.5}, {"5.", 5}, {"1e3", 1000}, {"1E+3", 1000},
        {"1e-3", 0.001}, {"1_000", 1000}, {"1_000.5", 1000.5}, {"1e1_0", 1e10}, {"0_1", 1},
        {"0x1p4", 16}, {"0X1P-2", 0.25}, {"0x.8p1", 1}, {"0x1.p1", 2}, {"0x_1p0", 1},
        {"0x1.8p1", 3}, {"inf", INFINITY}, {"+Inf", INFINITY}, {"-Infinity", -INFINITY},
        {"NaN", NAN}, {"-0", -0.0}, {"1e-400", 0}, {"0x1P-1074", 4.9406564584124654e-324},
        {"0x1p-1075", 0}, {"0.1", 0.1}, {"2.2250738585072011e-308", 2.2250738585072011e-308},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = 12345;
        if (gof(ok[i].s, &v) != NUMPARSE_OK || !same_double(v, ok[i].v))
            UNIT__FAIL("\"%s\" gave %a, want %a", ok[i].s, v, ok[i].v);
    }
}

TEST(go_float_rejects_hex_without_exponent_spaces_and_bad_underscores)
{
    static const char *const bad[] = {"0x10", "0x1", "0x", " 1", "1 ", "", ".", "e3", "1e", "1e+",
                                      "infin", "+nan", "-nan", "nan(1)", "1__0", "_1", "1_", "0x1_p0",
                                      "1_.5", "1._5", "0b1", "0o7", "1.2.3", "1e_1", "0x1p", "1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 12345;
        if (gof(bad[i], &v) != NUMPARSE_SYNTAX || v != 12345) UNIT__FAIL("\"%s\" was not a syntax error", bad[i]);
    }
    double v = 12345;
    CHECK_EQ_INT(gof("1e400", &v), NUMPARSE_RANGE);
    CHECK_EQ_INT(gof("-1e99999999999", &v), NUMPARSE_RANGE);
    CHECK_EQ_INT(gof("0x1p1024", &v), NUMPARSE_RANGE);
    CHECK(v == 12345);
    CHECK_EQ_INT(numparse_go_float("1\0", 2, &v), NUMPARSE_SYNTAX);
}

TEST(go_float_caps_long_exponents_as_go_does)
{
    /* 20000 zeros after the point, then 1e20010: Go stops reading the exponent once it
     * reaches 10000 (so it reads 20010 as 20010: 2, 20, 200, 2001, 20010), but reads
     * 200100 as 20010 too. */
    static char s[20100];
    size_t k = 0;
    s[k++] = '0';
    s[k++] = '.';
    for (int i = 0; i < 20000; i++) s[k++] = '0';
    s[k++] = '1';
    memcpy(s + k, "e20010", 7);
    double v = 0;
    CHECK_EQ_INT(gof(s, &v), NUMPARSE_OK);
    CHECK(fabs(v - 1e9) < 1);
    memcpy(s + k, "e200100", 8);
    CHECK_EQ_INT(gof(s, &v), NUMPARSE_OK);
    CHECK(fabs(v - 1e9) < 1);
}

/* ---- callers' cores --------------------------------------------------------------- */

static int parse(struct flags *f, char *err, size_t errn, int argc, const char *const *argv)
{
    return flags_parse_args(f, argc, (char **)argv, err, errn);
}

TEST(flags_take_go_literals_but_no_sign_or_space)
{
    struct flags f;
    char err[256];
    const char *hex[] = {"memdemo", "-repetitions", "0x10", "--threads=0b11"};
    CHECK_EQ_INT(parse(&f, err, sizeof err, 4, hex), FLAGS_OK);
    CHECK_EQ_INT(f.repetitions, 16);
    CHECK_EQ_INT(f.threads, 3);
    const char *octal[] = {"memdemo", "-repetitions=010", "-tracebuf", "8_192"};
    CHECK_EQ_INT(parse(&f, err, sizeof err, 4, octal), FLAGS_OK);
    CHECK_EQ_INT(f.repetitions, 8);
    CHECK_EQ_INT(f.tracebuf, 8192);
    static const char *const bad[] = {"+1", " 1", "1 ", "-1", "1e3", "", "0x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[] = {"memdemo", "-repetitions", bad[i]};
        if (parse(&f, err, sizeof err, 3, argv) != FLAGS_ERROR || !strstr(err, "invalid value"))
            UNIT__FAIL("-repetitions \"%s\" was accepted (err \"%s\")", bad[i], err);
    }
}

TEST(flags_report_errors_and_help_without_exiting)
{
    struct flags f;
    char err[256];
    const char *unknown[] = {"memdemo", "-nope=1"};
    CHECK_EQ_INT(parse(&f, err, sizeof err, 2, unknown), FLAGS_ERROR);
    CHECK_EQ_STR(err, "flag provided but not defined: -nope");
    const char *missing[] = {"memdemo", "-threads"};
    CHECK_EQ_INT(parse(&f, err, sizeof err, 2, missing), FLAGS_ERROR);
    CHECK_EQ_STR(err, "flag needs an argument: -threads");
    const char *stray[] = {"memdemo", "serve"};
    CHECK_EQ_INT(parse(&f, err, sizeof err, 2, stray), FLAGS_ERROR);
    CHECK(strstr(err, "unexpected argument serve") != NULL);
    const char *range[] = {"memdemo", "-threads", "0"};
    CHECK_EQ_INT(parse(&f, err, sizeof err, 3, range), FLAGS_ERROR);
    CHECK(strstr(err, "must be an integer from 1 to") != NULL);
    const char *help[] = {"memdemo", "-threads", "2", "--help"};
    CHECK_EQ_INT(parse(&f, err, sizeof err, 4, help), FLAGS_HELP);
    const char *prefix[] = {"memdemo", "-threadsx=2"};       /* a longer name is another name */
    CHECK_EQ_INT(parse(&f, err, sizeof err, 2, prefix), FLAGS_ERROR);
    const char *newline[] = {"memdemo", "-repetitions", "1\n2"};   /* found by fuzz_flags */
    CHECK_EQ_INT(parse(&f, err, sizeof err, 3, newline), FLAGS_ERROR);
    CHECK_EQ_STR(err, "invalid value \"1\\n2\" for flag -repetitions: must be an integer from 0 to 10000000");
    char tiny[8];
    CHECK_EQ_INT(parse(&f, tiny, sizeof tiny, 2, unknown), FLAGS_ERROR);
    CHECK_EQ_INT(strlen(tiny), sizeof tiny - 1);            /* truncated, terminated */
}

/* All pcs of a symbol request body, 0 for words that are no number. */
static size_t pcs_of(const char *body, uint64_t *out, size_t max)
{
    const char *p = body, *end = body + strlen(body);
    size_t n = 0;
    uint64_t pc;
    while (n < max && debug_pprof_next_pc(&p, end, &pc)) out[n++] = pc;
    return n;
}

TEST(symbol_request_words_are_go_literals_split_on_plus_and_space)
{
    uint64_t pc[8];
    CHECK_EQ_INT(pcs_of("0x401000+0x402000", pc, 8), 2);
    CHECK_EQ_INT(pc[0], 0x401000);
    CHECK_EQ_INT(pc[1], 0x402000);
    CHECK_EQ_INT(pcs_of("++0x10 0o20\r\n", pc, 8), 2);
    CHECK_EQ_INT(pc[0], 16);
    CHECK_EQ_INT(pc[1], 16);
    CHECK_EQ_INT(pcs_of("-1+ 0x10+nope+0x+18446744073709551616", pc, 8), 5);
    CHECK_EQ_INT(pc[0], 0);                                  /* strtoull read -1 as 2^64-1 */
    CHECK_EQ_INT(pc[1], 16);
    CHECK_EQ_INT(pc[2] | pc[3] | pc[4], 0);
    CHECK_EQ_INT(pcs_of("", pc, 8), 0);
    CHECK_EQ_INT(pcs_of("+ +\n", pc, 8), 0);
}

int main(void)
{
    RUN(decimal_accepts_only_ascii_digits);
    RUN(decimal_rejects_overflow_and_values_outside_the_range);
    RUN(go_uint_reads_go_integer_literals_like_parseuint_base_0);
    RUN(go_int_range_checks_the_range_after_the_literal);
    RUN(go_float_reads_what_parsefloat_reads);
    RUN(go_float_rejects_hex_without_exponent_spaces_and_bad_underscores);
    RUN(go_float_caps_long_exponents_as_go_does);
    RUN(flags_take_go_literals_but_no_sign_or_space);
    RUN(flags_report_errors_and_help_without_exiting);
    RUN(symbol_request_words_are_go_literals_split_on_plus_and_space);
    UNIT_EXIT();
}
