/* tests/gcprof/forkchild.c: a program on libgc.so.1 that forks a child without exec,
 * for tests/integration/gcprof.sh: the child (a copy of the profiled program, not a
 * program it started) outlives its parent, allocates and exits through exit(), so
 * that anything it writes at exit would come last. Prints "parent=PID child=PID".
 */
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void churn(int n)
{
    for (int i = 0; i < n; i++)
        if (!GC_MALLOC(64 + (size_t)(i % 8) * 16)) exit(1);
}

int main(void)
{
    GC_INIT();
    churn(100000);
    pid_t parent = getpid();
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
        for (int i = 0; i < 1000 && getppid() == parent; i++) usleep(10000);   /* until the parent is gone */
        churn(100000);
        return 0;
    }
    printf("parent=%ld child=%ld\n", (long)parent, (long)child);
    return 0;
}
