/* kindless: a program that calls GC_malloc and GC_malloc_atomic, linked against
 * tests/gcprof/partgc.c's libpartgc.so, a libgc without GC_malloc_kind (as bdwgc before
 * 7.6 was). libgcprof forwards those two to GC_malloc_kind where libgc has it; here
 * they must reach the library's own functions, not abort. tests/integration/gcprof.sh
 * checks that it prints what it prints without the library.
 *
 * Build: gcc -o kindless kindless.c -L DIR -lpartgc -Wl,-rpath,DIR
 */
#include <stddef.h>
#include <stdio.h>

void *GC_malloc(size_t n);
void *GC_malloc_atomic(size_t n);

int main(void)
{
    size_t got = 0;
    for (int i = 0; i < 1000; i++) got += (GC_malloc(32) != NULL) + (GC_malloc_atomic(48) != NULL);
    printf("%zu objects\n", got);
    return 0;
}
