/* numstr: decimal strings in the GC heap. See numstr.h. */
#include "src/numstr.h"

#include <string.h>

#include "gc/gcheap.h"

__attribute__((noinline)) char *numstr_itoa(long v)
{
    char tmp[24];
    char *end = tmp + sizeof tmp, *p = end;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do { *--p = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) *--p = '-';
    size_t len = (size_t)(end - p);
    char *s = gcheap_alloc_data(len + 1);
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}
