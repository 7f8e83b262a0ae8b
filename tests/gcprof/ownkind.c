/* tests/gcprof/ownkind.c: a program that defines GC_malloc_kind itself (counting the
 * calls, then forwarding to the next definition), for tests/integration/gcprof.sh.
 * libgc's GC_malloc calls GC_malloc_kind through its PLT, so the program's own sees
 * every GC_malloc; under libgcprof it must still see them all (libgcprof sends
 * GC_malloc straight to libgc's GC_malloc_kind only where that call would reach
 * libgcprof's anyway). Prints "own GC_malloc_kind saw N of 100". Link with -rdynamic.
 */
#include <dlfcn.h>
#include <gc.h>
#include <stdio.h>

static int seen;

void *GC_malloc_kind(size_t n, int kind)
{
    static void *(*next)(size_t, int);
    if (!next) {
        void *f = dlsym(RTLD_NEXT, "GC_malloc_kind");
        if (!f) return NULL;
        *(void **)&next = f;
    }
    seen++;
    return next(n, kind);
}

int main(void)
{
    GC_INIT();
    for (int i = 0; i < 100; i++)
        if (!GC_malloc(16)) return 1;
    printf("own GC_malloc_kind saw %d of 100\n", seen);
    return 0;
}
