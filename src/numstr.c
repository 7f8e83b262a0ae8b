/* numstr: decimal strings in the GC heap. See numstr.h. */
#include "src/numstr.h"

#include "gc/gcheap.h"

/* "00" "01" ... "99": two digits per division, as most integer formatters do. */
static const char two_digits[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static size_t decimal_length(unsigned long u)
{
    size_t n = 1;
    for (; u >= 100; u /= 100) n += 2;
    return n + (u >= 10);
}

/* Counts the digits first, then writes them straight into the GC allocation from the
 * end, two at a time. */
__attribute__((noinline)) char *numstr_itoa(long v, size_t *len)
{
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    size_t n = decimal_length(u) + (v < 0);
    char *s = gcheap_alloc_data(n + 1);
    if (!s) return NULL;   /* refused in a bounded scope */
    char *p = s + n;
    *p = '\0';
    for (; u >= 100; u /= 100) {
        p -= 2;
        p[0] = two_digits[2 * (u % 100)];
        p[1] = two_digits[2 * (u % 100) + 1];
    }
    if (u >= 10) {
        p -= 2;
        p[0] = two_digits[2 * u];
        p[1] = two_digits[2 * u + 1];
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0) *--p = '-';
    if (len) *len = n;
    return s;
}
