/* numparse_echo: src/numparse's side of tests/integration/numparse_go.sh, which holds
 * memdemo's number grammars against Go's strconv (tests/tools/numparse_echo.go is the
 * Go side; both print the same line format, so the script only compares lines).
 *
 *   numparse_echo gen N SEED      N test inputs, one per line, hex-encoded (any bytes)
 *   numparse_echo float|uint|decimal < inputs
 *        one line per input: "ok VALUE", "syntax" or "range"; VALUE is the double's
 *        bits in hex ("nan" for any NaN), the unsigned value in decimal, or for
 *        decimal (no Go twin with the same range: Go reads it as ParseUint(s, 10, 64))
 *        the value, with every failure printed as "err".
 * The inputs mix random bytes from a number-ish alphabet with well-formed decimal,
 * hexadecimal and integer literals near the edges (long mantissas, exponents around
 * the double range and Go's 10000 exponent cap, underscores, prefixes).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/numparse.h"

static uint64_t rng;
static uint64_t next(void)      /* xorshift64*: the same inputs for the same seed */
{
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static unsigned pick(unsigned n) { return (unsigned)(next() % n); }

static void put_digits(char *s, size_t *k, unsigned n, const char *set, int underscores)
{
    size_t len = strlen(set);
    for (unsigned i = 0; i < n; i++) {
        if (underscores && i && pick(4) == 0) s[(*k)++] = '_';
        s[(*k)++] = set[pick((unsigned)len)];
    }
}

/* One input into s (room for 2048 bytes); returns its length. */
static size_t gen_one(char *s)
{
    static const char soup[] = "0123456789012345._eEpPxXoObB+-iInNaAfFtTyY \t";
    size_t k = 0;
    unsigned kind = pick(10), us = pick(5) == 0;
    if (kind < 4) {                                   /* alphabet soup, with rare odd bytes */
        unsigned n = pick(14);
        for (unsigned i = 0; i < n; i++) s[k++] = pick(40) ? soup[pick(sizeof soup - 1)] : (char)pick(256);
        return k;
    }
    if (pick(3) == 0) s[k++] = "+-"[pick(2)];
    if (kind < 7) {                                   /* decimal float */
        if (pick(4)) put_digits(s, &k, 1 + pick(pick(5) ? 20 : 400), "0123456789", us);
        if (pick(2)) { s[k++] = '.'; put_digits(s, &k, pick(pick(5) ? 20 : 400), "0123456789", us); }
        if (pick(3)) {
            static const char *const exps[] = {"308", "309", "307", "324", "323", "325", "22", "23", "0", "9999", "10000", "99999", "100000"};
            s[k++] = "eE"[pick(2)];
            if (pick(2)) s[k++] = "+-"[pick(2)];
            if (pick(2)) { const char *e = exps[pick(sizeof exps / sizeof exps[0])]; memcpy(s + k, e, strlen(e)); k += strlen(e); }
            else put_digits(s, &k, 1 + pick(4), "0123456789", us);
        }
    } else if (kind < 9) {                            /* hex float */
        s[k++] = '0'; s[k++] = "xX"[pick(2)];
        if (us && pick(2)) s[k++] = '_';
        put_digits(s, &k, pick(pick(4) ? 16 : 60), "0123456789abcdefABCDEF", us);
        if (pick(2)) { s[k++] = '.'; put_digits(s, &k, pick(20), "0123456789abcdef", us); }
        if (pick(8)) {
            static const char *const exps[] = {"1023", "1024", "-1074", "-1075", "-1022", "-1076", "0", "4"};
            s[k++] = "pP"[pick(2)];
            const char *e = exps[pick(sizeof exps / sizeof exps[0])];
            if (pick(2)) { memcpy(s + k, e, strlen(e)); k += strlen(e); }
            else put_digits(s, &k, 1 + pick(4), "0123456789", us);
        }
    } else {                                          /* integer literal */
        static const char *const pre[] = {"", "", "0", "0x", "0X", "0o", "0b", "0B"};
        static const char *const set[] = {"0123456789", "0123456789", "01234567", "0123456789abcdefABCDEF",
                                          "0123456789abcdef", "01234567", "01", "01"};
        unsigned p = pick(8);
        memcpy(s + k, pre[p], strlen(pre[p]));
        k += strlen(pre[p]);
        if (us && p > 2 && pick(2)) s[k++] = '_';
        put_digits(s, &k, pick(pick(4) ? 21 : 70), set[p], us);
    }
    return k;
}

static void gen(long n, uint64_t seed)
{
    char s[2048];
    rng = seed * 0x9e3779b97f4a7c15ull + 1;
    for (long i = 0; i < n; i++) {
        size_t len = gen_one(s);
        for (size_t j = 0; j < len; j++) printf("%02x", (unsigned char)s[j]);
        putchar('\n');
    }
}

static const char *err_word(int rc) { return rc == NUMPARSE_RANGE ? "range" : "syntax"; }

static void echo(const char *mode, const char *s, size_t n)
{
    if (strcmp(mode, "float") == 0) {
        double v;
        int rc = numparse_go_float(s, n, &v);
        uint64_t bits;
        memcpy(&bits, &v, sizeof bits);
        if (rc != NUMPARSE_OK) puts(err_word(rc));
        else if (isnan(v)) puts("ok nan");
        else printf("ok %016llx\n", (unsigned long long)bits);
    } else if (strcmp(mode, "uint") == 0) {
        uint64_t v;
        int rc = numparse_go_uint(s, n, &v);
        if (rc != NUMPARSE_OK) puts(err_word(rc));
        else printf("ok %llu\n", (unsigned long long)v);
    } else {
        int64_t v;
        if (numparse_decimal(s, n, 0, INT64_MAX, &v) != NUMPARSE_OK) puts("err");
        else printf("ok %lld\n", (long long)v);
    }
}

static int unhex(const char *line, char *out, size_t *n)
{
    size_t len = strcspn(line, "\r\n");
    if (len % 2) return -1;
    for (size_t i = 0; i < len; i += 2) {
        unsigned b;
        if (sscanf(line + i, "%2x", &b) != 1) return -1;
        out[i / 2] = (char)b;
    }
    *n = len / 2;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "gen") == 0) { gen(atol(argv[2]), strtoull(argv[3], NULL, 10)); return 0; }
    if (argc != 2) { fprintf(stderr, "usage: numparse_echo gen N SEED | float|uint|decimal <hexlines\n"); return 2; }
    static char line[1 << 20], s[1 << 19];
    size_t n;
    while (fgets(line, sizeof line, stdin)) {
        if (unhex(line, s, &n) < 0) { fprintf(stderr, "numparse_echo: bad input line\n"); return 2; }
        echo(argv[1], s, n);
    }
    return 0;
}
