/* tests/gcprof/versioned.c: a shared library whose allocating function carries a symbol
 * version in its symbol table ("versioned_alloc@@TESTV1"), as glibc's functions do in
 * its debug file, for tests/integration/symbols_local.sh: profiles must name it
 * versioned_alloc. Built with -shared and a version script naming TESTV1; with
 * -DVERSIONED_MAIN it is instead the program that calls it (VERSIONED_ROUNDS times,
 * printing how many bytes it asked for).
 */
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef VERSIONED_MAIN
void *versioned_alloc_impl(size_t n);
void *versioned_alloc_impl(size_t n) { return GC_MALLOC(n); }
__asm__(".symver versioned_alloc_impl, versioned_alloc@@TESTV1");
#else
void *versioned_alloc(size_t n);

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 20000;
    unsigned long asked = 0;
    GC_INIT();
    for (long i = 0; i < rounds; i++) {
        size_t n = 32 + (size_t)(i % 7) * 16;
        if (!versioned_alloc(n)) return 1;
        asked += n;
    }
    printf("asked=%lu\n", asked);
    return 0;
}
#endif
