/* tests/gcprof/forkbusy.c: a program on libgc.so.1 whose threads allocate while its main
 * thread forks children without exec, each of which allocates and leaves by _exit, for
 * tests/integration/gcprof.sh. A lock of the profiler that a busy thread held at a fork
 * stays held in that child (only the forking thread is copied): a child that went on
 * counting hung at its first sample. A child still alive after 10 s is killed by its
 * alarm and counted as hung. Prints "forks=N hung=H".
 *
 * Usage: forkbusy [FORKS]   (default 30)
 */
#define GC_THREADS
#include <gc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 2

static volatile int stop;

static void *churn(void *unused)
{
    (void)unused;
    while (!stop)
        if (!GC_MALLOC(48)) exit(1);
    return NULL;
}

/* Forks a child that allocates and leaves; 1 if it had to be killed. */
static int fork_one(void)
{
    pid_t c = fork();
    if (c < 0) exit(1);
    if (c == 0) {
        alarm(10);
        for (int j = 0; j < 20000; j++)
            if (!GC_MALLOC(48)) _exit(1);
        _exit(0);
    }
    int st;
    if (waitpid(c, &st, 0) < 0) exit(1);
    return WIFSIGNALED(st);
}

int main(int argc, char **argv)
{
    int forks = argc > 1 ? atoi(argv[1]) : 30, hung = 0;
    GC_INIT();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (GC_pthread_create(&t[i], NULL, churn, NULL) != 0) return 1;
    for (int i = 0; i < forks; i++) hung += fork_one();
    stop = 1;
    for (int i = 0; i < THREADS; i++) GC_pthread_join(t[i], NULL);
    printf("forks=%d hung=%d\n", forks, hung);
    return 0;
}
