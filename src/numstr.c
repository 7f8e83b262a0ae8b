/* numstr: decimal strings in the GC heap. See numstr.h. */
#include "src/numstr.h"

#include "gc/gcheap.h"

/* Writes the digits straight into the GC allocation: count them first, then fill
 * from the end. */
__attribute__((noinline)) char *numstr_itoa(long v, size_t *len)
{
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    size_t n = v < 0 ? 2 : 1;
    for (unsigned long t = u; t >= 10; t /= 10) n++;
    char *s = gcheap_alloc_data(n + 1);
    char *p = s + n;
    *p = '\0';
    do { *--p = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) *--p = '-';
    if (len) *len = n;
    return s;
}
