/* fuzz_numparse: src/numparse's three grammars on arbitrary bytes (the query values,
 * flag values and symbol words clients control).
 *
 * Properties, each against an independent reading of the same bytes:
 *   - decimal: accepted exactly when every byte is a digit and the value fits; the
 *     value prints back as the input without its leading zeros; a range is honoured.
 *   - Go unsigned literal: an accepted input, with its '_' removed and its prefix
 *     mapped to a base, is what strtoull reads in that base; no accepted input holds
 *     a sign or white space; a plain run of up to 19 digits is always accepted.
 *   - Go float: an accepted input holds no white space; the value is what strtod reads
 *     from it without '_' (where glibc is right: not for hex subnormals, nor where Go's
 *     exponent cap applies); only "inf" words give an infinity; every finite result
 *     read back from "%.17g" and from "%a" (a hex float) is the same double.
 * The exact agreement with Go's strconv is tests/integration/numparse_go.sh's job.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/numparse.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return n > 0;
}

static void check_decimal(const char *s, size_t n)
{
    int64_t v = -7;
    int rc = numparse_decimal(s, n, 0, INT64_MAX, &v);
    if (!all_digits(s, n)) { FUZZ_CHECK(rc == NUMPARSE_SYNTAX && v == -7); return; }
    size_t z = 0;
    while (z + 1 < n && s[z] == '0') z++;                  /* strip leading zeros, keep one digit */
    size_t m = n - z;
    int fits = m < 19 || (m == 19 && memcmp(s + z, "9223372036854775807", 19) <= 0);
    FUZZ_CHECK((rc == NUMPARSE_OK) == fits);
    if (!fits) { FUZZ_CHECK(rc == NUMPARSE_RANGE); return; }
    char back[32];
    snprintf(back, sizeof back, "%lld", (long long)v);
    FUZZ_CHECK(strlen(back) == m && memcmp(back, s + z, m) == 0);
    int64_t w;
    int in_range = v >= 10 && v <= 1000;
    FUZZ_CHECK((numparse_decimal(s, n, 10, 1000, &w) == NUMPARSE_OK) == in_range);
    if (in_range) FUZZ_CHECK(w == v);
}

/* s[0..n) without '_' into out (room for n + 1), NUL-terminated; returns its length. */
static size_t without_underscores(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_') out[k++] = s[i];
    out[k] = '\0';
    return k;
}

static void check_go_uint(const char *s, size_t n, char *clean)
{
    uint64_t v = 0;
    int rc = numparse_go_uint(s, n, &v);
    if (all_digits(s, n) && n <= 19 && s[0] != '0') FUZZ_CHECK(rc == NUMPARSE_OK);
    if (rc != NUMPARSE_OK) return;
    size_t k = without_underscores(s, n, clean);
    FUZZ_CHECK(k == strlen(clean));                        /* no NUL inside */
    for (size_t i = 0; i < k; i++) FUZZ_CHECK(!isspace((unsigned char)clean[i]) && clean[i] != '+' && clean[i] != '-');
    int base = 10;
    const char *digits = clean;
    if (k >= 2 && clean[0] == '0') {
        char c = (char)(clean[1] | 0x20);
        base = c == 'x' ? 16 : c == 'b' ? 2 : 8;
        digits = clean + (c == 'x' || c == 'b' || c == 'o' ? 2 : 1);
    }
    char *end;
    errno = 0;
    unsigned long long want = strtoull(digits, &end, base);
    FUZZ_CHECK(*digits && *end == '\0' && errno == 0 && want == v);
    int64_t r;
    FUZZ_CHECK((numparse_go_int_range(s, n, 0, 1000, &r) == NUMPARSE_OK) == (v <= 1000));
}

static int same_double(double a, double b)
{
    uint64_t x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    return (isnan(a) && isnan(b)) || x == y;
}

/* The double text t (NUL-terminated) reads back as d. */
static void check_reads_back(const char *t, double d)
{
    double back = 0;
    FUZZ_CHECK(numparse_go_float(t, strlen(t), &back) == NUMPARSE_OK);
    FUZZ_CHECK(same_double(back, d));
}

static void check_go_float(const char *s, size_t n, char *clean)
{
    double d = 0;
    int rc = numparse_go_float(s, n, &d);
    if (rc != NUMPARSE_OK) return;
    size_t k = without_underscores(s, n, clean);
    FUZZ_CHECK(k == strlen(clean));
    for (size_t i = 0; i < k; i++) FUZZ_CHECK(!isspace((unsigned char)clean[i]));
    const char *body = clean + (clean[0] == '+' || clean[0] == '-');
    int word = isalpha((unsigned char)body[0]) != 0;       /* inf, infinity, nan */
    FUZZ_CHECK(!isinf(d) || word);
    const char *e = strpbrk(clean, "eEpP");
    int hex = body[0] == '0' && (body[1] | 0x20) == 'x';
    int long_exponent = e && strlen(e) > 5;                /* Go's exponent cap may apply */
    if (!word && !long_exponent && !(hex && fpclassify(d) == FP_SUBNORMAL)) {
        char *end;
        double want = strtod(clean, &end);
        FUZZ_CHECK(*end == '\0' && same_double(want, d));
    }
    if (!isfinite(d)) return;
    char t[64];
    snprintf(t, sizeof t, "%.17g", d);
    check_reads_back(t, d);
    snprintf(t, sizeof t, "%a", d);
    check_reads_back(t, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *clean = malloc(size + 1);
    if (!clean) return 0;
    check_decimal(s, size);
    check_go_uint(s, size, clean);
    check_go_float(s, size, clean);
    free(clean);
    return 0;
}
