/* tests/gcprof/incremental.c: a program on Debian's libgc.so.1 that runs bdwgc in
 * incremental (generational) mode, as some real bdwgc programs do, and sets its own
 * start callback, as Guile, Crystal and ECL do, to count the full collections.
 * tests/integration/gcprof_incremental.sh builds it with `gcc incremental.c -lgc`
 * and runs it plain and under gcprof.
 *
 * It keeps a live set of LIVE small objects (a table in its data segment, a root) and
 * replaces them at random, ROUNDS times, with fresh objects; bdwgc collects as the
 * allocation goes, partially, and fully every FULL_FREQ-th time (GC_set_full_freq);
 * every EXPLICIT_EVERY rounds it asks for a collection itself (GC_gcollect, always
 * full). Its start callback is set first thing, and chains the one it finds there (as
 * ECL does), so it sees every full collection bdwgc makes, the one inside GC_INIT
 * included.
 *
 * It prints one line "incremental=I starts=N collections=M explicit=E previous=P
 * own_start_callback_back=B": I whether bdwgc runs incrementally, N how many times its
 * own start callback ran, M GC_get_gc_no() at exit, E how many GC_gcollect calls it
 * made, P whether it found a start callback set before its own, B whether the getter
 * returns its own.
 */
#include <gc.h>
#include <gc/gc_mark.h>   /* the start callback */
#include <stdio.h>
#include <stdlib.h>

#define LIVE 20000
#define ROUNDS 3000000L
#define FULL_FREQ 4
#define EXPLICIT_EVERY 1000000L

static void *live[LIVE];        /* a root: the data segment */
static unsigned long starts;    /* written under bdwgc's allocation lock */
static GC_start_callback_proc previous;

/* bdwgc's start callback: allocation lock held, so no allocation, no locks, no bdwgc.
 * It chains the one set before it, as ECL does. */
static void GC_CALLBACK on_full_start(void)
{
    starts++;
    if (previous) previous();
}

/* A small object that points to the one it replaces, so marking has some depth. */
static void *fresh(void *next, unsigned long i)
{
    void **p = GC_MALLOC(sizeof(void *) * (2 + i % 6));
    if (!p) abort();
    p[0] = next;
    return p;
}

int main(void)
{
    previous = GC_get_start_callback();
    GC_set_start_callback(on_full_start);
    GC_INIT();
    GC_enable_incremental();
    GC_set_full_freq(FULL_FREQ);
    unsigned long explicit_calls = 0, seed = 12345;
    for (long i = 0; i < ROUNDS; i++) {
        seed = seed * 6364136223846793005ul + 1442695040888963407ul;
        unsigned long slot = (seed >> 33) % LIVE;
        /* Half of the replacements drop the chain, so the live set stays bounded. */
        live[slot] = fresh((seed >> 20) & 1 ? NULL : live[slot], (unsigned long)i);
        if ((i + 1) % EXPLICIT_EVERY == 0) {
            GC_gcollect();
            explicit_calls++;
        }
    }
    printf("incremental=%d starts=%lu collections=%lu explicit=%lu previous=%d own_start_callback_back=%d\n",
           GC_is_incremental_mode(), starts, (unsigned long)GC_get_gc_no(), explicit_calls, previous != NULL,
           GC_get_start_callback() == on_full_start);
    return 0;
}
