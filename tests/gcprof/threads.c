/* tests/gcprof/threads.c: a small program on Debian's libgc.so.1 with THREADS worker
 * pthreads (created through bdwgc, so it knows them) that allocate and collect
 * alongside the main thread, for tests/integration/gcprof_trace.sh: the GC timeline
 * must show one goroutine per allocating thread. Each worker names itself "worker-N"
 * and exits before the main thread does; the main thread allocates before, while and
 * after they run. Usage: threads [ROUNDS [STOP]]: with STOP, each worker repeats its
 * ROUNDS until the file STOP exists (or 120 s have passed), for a run that a test ends
 * when it is done watching. Prints "threads=N collections=M" on stdout.
 */
#define _GNU_SOURCE  /* pthread_setname_np */
#define GC_THREADS
#include <gc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define THREADS 3

static long rounds = 20000;
static const char *stop;   /* the file that ends the workers' repeats, or NULL */

/* Allocates garbage and keeps a little of it, so collections happen on every thread. */
static void churn(long n)
{
    void **keep = GC_MALLOC(64 * sizeof *keep);
    for (long i = 0; i < n; i++) {
        void **p = GC_MALLOC(256);
        if (i % 97 == 0) keep[i % 64] = p;
    }
}

static void *worker(void *arg)
{
    char name[16];
    snprintf(name, sizeof name, "worker-%d", (int)(long)arg);
    pthread_setname_np(pthread_self(), name);
    time_t deadline = time(NULL) + 120;
    do churn(rounds);
    while (stop && access(stop, F_OK) != 0 && time(NULL) < deadline);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) rounds = atol(argv[1]);
    if (argc > 2) stop = argv[2];
    GC_INIT();
    churn(rounds / 10);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(i + 1)) != 0) return 1;
    churn(rounds / 10);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    churn(rounds / 10);
    printf("threads=%d collections=%lu\n", THREADS, (unsigned long)GC_get_gc_no());
    return 0;
}
