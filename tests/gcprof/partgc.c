/* partgc: a stand-in for a libgc.so.1 built without its optional entry points (as a
 * bdwgc built without gcj, typed or disclaim support lacks GC_gcj_malloc,
 * GC_malloc_explicitly_typed or GC_finalized_malloc; this one has only the core:
 * GC_malloc, GC_malloc_atomic, GC_malloc_uncollectable, GC_realloc, GC_free, GC_size,
 * GC_init), which also provides the process's malloc on top of its own
 * GC_malloc_uncollectable, called through the PLT as a program's malloc calls bdwgc.
 * Preloaded after libgcprof.so, its malloc is every library's, and libgcprof's entry
 * points come first: the first malloc makes libgcprof look up the real entry points,
 * and a lookup of a missing one must not allocate (a failed dlsym allocates its error
 * message, and the next frees it, through this malloc and free: back into the entry
 * points being resolved, inside the pthread_once resolving them). tests/integration/
 * gcprof.sh checks that a program runs as without the library, which stays passive
 * (not every entry point is there to watch).
 *
 * Build: gcc -shared -fPIC -o libpartgc.so partgc.c
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <string.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

#include <malloc.h>

/* The entry points this "libgc" has; the objects are libc's. */
void *GC_malloc_uncollectable(size_t n)
{
    void *p = __libc_malloc(n ? n : 1);
    if (p) memset(p, 0, n);
    return p;
}

void *GC_malloc(size_t n) { return GC_malloc_uncollectable(n); }

void *GC_malloc_atomic(size_t n) { return __libc_malloc(n ? n : 1); }

void *GC_realloc(void *p, size_t n) { return __libc_realloc(p, n); }

void GC_free(void *p) { __libc_free(p); }

size_t GC_size(const void *p) { return malloc_usable_size((void *)p); }

void GC_init(void) {}

/* The process's allocator, through the entry points above (exported, so interposed). */
void *malloc(size_t n) { return GC_malloc_uncollectable(n); }

void *calloc(size_t k, size_t n)
{
    if (n && k > (size_t)-1 / n) return NULL;
    return GC_malloc_uncollectable(k * n);
}

void *realloc(void *p, size_t n) { return GC_realloc(p, n); }

void free(void *p) { GC_free(p); }
