/* numparse: strict number grammars for flags, query parameters and symbol addresses.
 * See numparse.h for the grammars and the contract.
 *
 * Go's grammars are re-expressed here from the Go specification's literal syntax and
 * strconv's documented behaviour, then checked against Go itself by
 * tests/integration/numparse_go.sh. The float parser first VALIDATES the text and
 * rewrites it into a plain form, "[-]DIGITSe<exp>" or "[-]0xHEXDIGITSp<exp>" (no
 * '_', no '.', no locale-dependent point). glibc's strtod converts the decimal form
 * (correctly rounded); the hex form is converted here, because glibc 2.36's strtod
 * rounds some long hex mantissas wrongly when the result is subnormal
 * ("0x264AD9D2C2AFCBp-1076" lies 3/4 of the way between two subnormals and must round
 * up, as Go does; strtod rounds it down).
 */
#include "src/numparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex_letter(char c) { return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* c | 0x20 lowercases an ASCII letter; it is compared only against letters here, and
 * only the letter's two cases map onto a lowercase letter. */
static int is_letter(char c, char lower) { return (char)(c | 0x20) == lower; }

/* Value of c as a digit in bases up to 36, or 36 when it is no digit at all. */
static unsigned digit36(char c)
{
    if (is_digit(c)) return (unsigned)(c - '0');
    char l = (char)(c | 0x20);
    if (l >= 'a' && l <= 'z') return (unsigned)(l - 'a') + 10;
    return 36;
}

int numparse_decimal(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    uint64_t v = 0;
    int over = 0;
    if (n == 0) return NUMPARSE_SYNTAX;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) return NUMPARSE_SYNTAX;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) over = 1;
        else if (!over) v = v * 10 + d;
    }
    if (over || v < (uint64_t)lo || v > (uint64_t)hi) return NUMPARSE_RANGE;
    *out = (int64_t)v;
    return NUMPARSE_OK;
}

/* Go's rule for '_' in a literal s[0..n) (optional sign, optional base prefix):
 * each '_' must follow a digit or the base prefix and be followed by a digit. */
static int underscores_ok(const char *s, size_t n)
{
    size_t i = 0;
    char saw = '^';       /* last class seen: '^' start, '0' digit/prefix, '_', '!' other */
    int hex = 0;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) i = 1;
    if (n - i >= 2 && s[i] == '0' &&
        (is_letter(s[i + 1], 'b') || is_letter(s[i + 1], 'o') || is_letter(s[i + 1], 'x'))) {
        hex = is_letter(s[i + 1], 'x');
        saw = '0';
        i += 2;
    }
    for (; i < n; i++) {
        if (is_digit(s[i]) || (hex && is_hex_letter(s[i]))) {
            saw = '0';
        } else if (s[i] == '_') {
            if (saw != '0') return 0;
            saw = '_';
        } else {
            if (saw == '_') return 0;
            saw = '!';
        }
    }
    return saw != '_';
}

int numparse_go_uint(const char *s, size_t n, uint64_t *out)
{
    unsigned base = 10;
    size_t i = 0;
    int underscores = 0;
    uint64_t v = 0;
    if (n == 0) return NUMPARSE_SYNTAX;
    if (s[0] == '0') {            /* a prefix needs a digit after it; "0x" alone is octal junk */
        int b = n >= 3 && is_letter(s[1], 'b'), o = n >= 3 && is_letter(s[1], 'o'),
            x = n >= 3 && is_letter(s[1], 'x');
        base = b ? 2 : x ? 16 : 8;
        i = (b || o || x) ? 2 : 1;
    }
    for (; i < n; i++) {
        if (s[i] == '_') { underscores = 1; continue; }
        unsigned d = digit36(s[i]);
        if (d >= base) return NUMPARSE_SYNTAX;
        if (v > (UINT64_MAX - d) / base) return NUMPARSE_RANGE;   /* Go stops here too */
        v = v * base + d;
    }
    if (underscores && !underscores_ok(s, n)) return NUMPARSE_SYNTAX;
    *out = v;
    return NUMPARSE_OK;
}

int numparse_go_int_range(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    uint64_t v;
    int rc = numparse_go_uint(s, n, &v);
    if (rc != NUMPARSE_OK) return rc;
    if (v < (uint64_t)lo || v > (uint64_t)hi) return NUMPARSE_RANGE;
    *out = (int64_t)v;
    return NUMPARSE_OK;
}

/* ---- floats ----------------------------------------------------------------------- */

/* s[0..n) equals the lowercase word w, ignoring the case of ASCII letters. */
static int equals_word(const char *s, size_t n, const char *w)
{
    size_t i = 0;
    for (; i < n && w[i]; i++) {
        char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + ('a' - 'A')) : s[i];
        if (c != w[i]) return 0;
    }
    return i == n && !w[i];
}

/* inf / infinity with an optional sign, nan without one: the whole input or nothing. */
static int special_float(const char *s, size_t n, double *out)
{
    size_t i = n > 0 && (s[0] == '+' || s[0] == '-');
    if (equals_word(s + i, n - i, "inf") || equals_word(s + i, n - i, "infinity")) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return 1;
    }
    if (equals_word(s, n, "nan")) { *out = NAN; return 1; }
    return 0;
}

/* Validates s[0..n) as a Go float literal (with optional sign) and writes its plain
 * form into canon (room for n + 32 bytes). Returns NUMPARSE_OK or NUMPARSE_SYNTAX. */
static int canonical_float(const char *s, size_t n, char *canon)
{
    size_t i = 0, k = 0;
    int hex = 0, dot = 0, digits = 0, underscores = 0, esign = 1;
    long long frac = 0, e = 0;      /* mantissa digits after the point; exponent digits */
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        if (s[0] == '-') canon[k++] = '-';
        i = 1;
    }
    if (i + 2 < n && s[i] == '0' && is_letter(s[i + 1], 'x')) {   /* "0x" and at least one more */
        hex = 1;
        canon[k++] = '0';
        canon[k++] = 'x';
        i += 2;
    }
    for (; i < n; i++) {
        if (s[i] == '_') { underscores = 1; continue; }
        if (s[i] == '.') { if (dot) break; dot = 1; continue; }
        if (!is_digit(s[i]) && !(hex && is_hex_letter(s[i]))) break;
        canon[k++] = s[i];
        digits = 1;
        frac += dot;
    }
    if (!digits) return NUMPARSE_SYNTAX;
    if (i < n && is_letter(s[i], hex ? 'p' : 'e')) {
        if (++i < n && (s[i] == '+' || s[i] == '-')) esign = s[i++] == '-' ? -1 : 1;
        if (i >= n || !is_digit(s[i])) return NUMPARSE_SYNTAX;
        for (; i < n && (is_digit(s[i]) || s[i] == '_'); i++) {
            if (s[i] == '_') { underscores = 1; continue; }
            /* Go stops accumulating once the exponent reaches 10000, and so must we:
             * it decides the value of inputs like 0.(20000 zeros)1e20001. */
            if (e < 10000) e = e * 10 + (s[i] - '0');
        }
    } else if (hex) {
        return NUMPARSE_SYNTAX;                  /* a hex mantissa needs its p exponent */
    }
    if (i != n || (underscores && !underscores_ok(s, n))) return NUMPARSE_SYNTAX;
    snprintf(canon + k, 32, "%c%lld", hex ? 'p' : 'e', esign * e - (hex ? 4 : 1) * frac);
    return NUMPARSE_OK;
}

static unsigned hex_value(char c) { return is_digit(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a') + 10; }

/* The plain hex form "[-]0xHEXDIGITSp<exp>" as the nearest double, ties to even. The
 * first 16 significant digits are kept exactly, the rest only as a sticky bit (64 bits
 * hold far more than the 53 + 2 that rounding needs). */
static int hex_to_double(const char *c, double *out)
{
    int neg = *c == '-', sig = 0, sticky = 0;
    uint64_t m = 0;
    long long e2 = 0;                           /* value = m * 2^e2 (before rounding) */
    for (c += neg + 2; *c != 'p'; c++) {
        unsigned d = hex_value(*c);
        if (m == 0 && d == 0) continue;          /* leading zeros */
        if (sig < 16) { m = m * 16 + d; sig++; }
        else { e2 += 4; sticky |= d != 0; }
    }
    e2 += strtoll(c + 1, NULL, 10);
    if (m == 0) { *out = neg ? -0.0 : 0.0; return NUMPARSE_OK; }
    int lz = __builtin_clzll(m);
    m <<= lz;                                   /* now m in [2^63, 2^64) */
    e2 -= lz;
    long long top = e2 + 63;                     /* the value is in [2^top, 2^(top+1)) */
    if (top > 1023) return NUMPARSE_RANGE;
    if (top < -1075) { *out = neg ? -0.0 : 0.0; return NUMPARSE_OK; }   /* under half the least subnormal */
    int keep = top >= -1022 ? 53 : (int)(top + 1075);        /* subnormals keep fewer bits */
    int drop = 64 - keep;                                    /* 11..64 */
    uint64_t kept = drop == 64 ? 0 : m >> drop;
    uint64_t rest = drop == 64 ? m : m & ((UINT64_C(1) << drop) - 1), half = UINT64_C(1) << (drop - 1);
    kept += rest > half || (rest == half && (sticky || (kept & 1)));
    double v = ldexp((double)kept, (int)(e2 + drop));     /* exact, or inf past the top */
    if (isinf(v)) return NUMPARSE_RANGE;
    *out = neg ? -v : v;
    return NUMPARSE_OK;
}

int numparse_go_float(const char *s, size_t n, double *out)
{
    if (special_float(s, n, out)) return NUMPARSE_OK;
    if (n > SIZE_MAX - 32) return NUMPARSE_NOMEM;
    char *canon = malloc(n + 32);
    if (!canon) return NUMPARSE_NOMEM;
    int rc = canonical_float(s, n, canon);
    if (rc == NUMPARSE_OK && canon[canon[0] == '-'] == '0' && canon[1 + (canon[0] == '-')] == 'x') {
        rc = hex_to_double(canon, out);
    } else if (rc == NUMPARSE_OK) {
        double v = strtod(canon, NULL);
        if (isinf(v)) rc = NUMPARSE_RANGE;       /* overflow; underflow is not an error */
        else *out = v;
    }
    free(canon);
    return rc;
}
