/* numparse: the one place memdemo turns text from people and clients into numbers
 * (flags, query parameters, /debug/pprof/symbol addresses), with each grammar written
 * down once, because strtoll/strtod accept more than anyone documents (leading white
 * space, signs, "0x" where only decimal was meant, "inf", locale quirks).
 *
 * Three grammars, each matched over the WHOLE input (s, n): nothing may precede or
 * follow the number, not even white space, and a NUL byte inside is just a bad byte.
 *   - numparse_decimal: plain decimal, ASCII digits only (query parameters).
 *   - numparse_go_uint: Go's strconv.ParseUint(s, 0, 64), i.e. a Go integer literal
 *     without a sign: decimal, 0x/0X hex, 0o/0O or leading-0 octal, 0b/0B binary,
 *     '_' only between digits or after the prefix (flags, symbol addresses; Go's flag
 *     package reads int flags the same way, plus a sign memdemo's flags never need).
 *   - numparse_go_float: Go's strconv.ParseFloat(s, 64), which net/http/pprof uses for
 *     trace?seconds: optional sign, decimal with optional exponent, hex mantissa with a
 *     MANDATORY p exponent ("0x10" is invalid, "0x1p4" is 16), '_' as Go allows it,
 *     and case-insensitive inf/infinity (signed) and nan (unsigned).
 *     tests/integration/numparse_go.sh holds this against Go's own strconv. One known
 *     difference: a mantissa with more than 800 digits before the point, which Go's
 *     slow path misreads (to Go 1.19-1.23, "1" + 1000 zeros + "e-1000" is 1e-201);
 *     memdemo reads its exact value.
 *
 * Errors: every function returns NUMPARSE_OK (0) and sets *out, or a negative
 * NUMPARSE_* code and leaves *out alone. Pure and thread-safe; only numparse_go_float
 * allocates (a scratch copy, malloc'd and freed before it returns).
 */
#ifndef MEMDEMO_NUMPARSE_H
#define MEMDEMO_NUMPARSE_H

#include <stddef.h>
#include <stdint.h>

enum numparse_result {
    NUMPARSE_OK = 0,
    NUMPARSE_SYNTAX = -1,     /* not in the grammar (or empty) */
    NUMPARSE_RANGE = -2,      /* well-formed, but outside [lo, hi] / too large */
    NUMPARSE_NOMEM = -3       /* numparse_go_float only: no memory for its scratch copy */
};

/* s[0..n) as a plain decimal integer in [lo, hi] (0 <= lo <= hi): one or more ASCII
 * digits, leading zeros allowed ("007" is 7), nothing else. */
int numparse_decimal(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out);

/* s[0..n) as strconv.ParseUint(s, 0, 64) reads it (see above). NUMPARSE_RANGE when the
 * literal is well-formed up to a value over 2^64-1 (as Go, which stops there). */
int numparse_go_uint(const char *s, size_t n, uint64_t *out);

/* numparse_go_uint, then the value must lie in [lo, hi] (0 <= lo <= hi). */
int numparse_go_int_range(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out);

/* s[0..n) as strconv.ParseFloat(s, 64) reads it: the nearest double (ties to even).
 * A well-formed value beyond the largest double is NUMPARSE_RANGE (Go returns +-Inf
 * with ErrRange); one too small is 0 or a subnormal, not an error (as Go). NaN is
 * returned as NaN. */
int numparse_go_float(const char *s, size_t n, double *out);

#endif
