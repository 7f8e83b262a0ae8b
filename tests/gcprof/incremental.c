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
 * included. With the argument "sliced", bdwgc marks in the smallest time slices and
 * every SLICED_EXPLICIT_EVERY rounds the program starts a collection
 * (GC_start_incremental_collection) and calls GC_gcollect while it is still open,
 * which GC_gcollect then finishes first, inside its own GC_EVENT_START.
 *
 * It prints one line "incremental=I starts=N collections=M explicit=E nested=S
 * previous=P own_start_callback_back=B early_starts=X": I whether bdwgc runs
 * incrementally, N how many times its own start callback ran, M GC_get_gc_no() at
 * exit, E how many GC_gcollect calls it made, S how many of those found a collection
 * open (its own collection-event hook says), P whether it found a start callback set
 * before its own, B whether the getter returns its own, X how many times the start
 * callback of tests/gcprof/early_start.c ran when the program is linked with it (-1
 * if not).
 */
#include <gc.h>
#include <gc/gc_mark.h>   /* the start callback */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE 20000
#define ROUNDS 3000000L
#define FULL_FREQ 4
#define EXPLICIT_EVERY 1000000L
#define SLICED_EXPLICIT_EVERY 100000L   /* "sliced": more GC_gcollect calls, each on an open collection */
#define SLICE_MS 0   /* the smallest slices: stop at the first look at the clock */

static void *live[LIVE];        /* a root: the data segment */
/* Written under bdwgc's allocation lock (or with the world stopped). */
static unsigned long starts, nested;
static int real_open, other_open;
static GC_start_callback_proc previous;
/* Linked with tests/gcprof/early_start.c: its count; NULL otherwise. */
extern unsigned long early_starts __attribute__((weak));

/* bdwgc's start callback: allocation lock held, so no allocation, no locks, no bdwgc.
 * It chains the one set before it, as ECL does. */
static void GC_CALLBACK on_full_start(void)
{
    starts++;
    if (previous) previous();
}

/* bdwgc's collection events (same rules): counts the GC_gcollect calls whose START came
 * while a collection bdwgc had started on its own was still open. */
static void GC_CALLBACK on_event(GC_EventType e)
{
    if (e == GC_EVENT_START) {
        nested += other_open;
        real_open = 1;
    } else if (e == GC_EVENT_END) {
        real_open = 0;
    } else if (e == GC_EVENT_PRE_STOP_WORLD && !real_open) {
        other_open = 1;
    } else if (e == GC_EVENT_RECLAIM_END) {
        other_open = 0;
    }
}

/* A small object that points to the one it replaces, so marking has some depth. */
static void *fresh(void *next, unsigned long i)
{
    void **p = GC_MALLOC(sizeof(void *) * (2 + i % 6));
    if (!p) abort();
    p[0] = next;
    return p;
}

/* Sliced: bdwgc marks in slices of SLICE_MS, and each GC_gcollect comes just after
 * a collection was started, which it then finishes first. */
static void collect(int sliced)
{
    if (sliced) GC_start_incremental_collection();
    GC_gcollect();
}

int main(int argc, char **argv)
{
    int sliced = argc > 1 && strcmp(argv[1], "sliced") == 0;
    long every = sliced ? SLICED_EXPLICIT_EVERY : EXPLICIT_EVERY;
    previous = GC_get_start_callback();
    GC_set_start_callback(on_full_start);
    GC_set_on_collection_event(on_event);
    GC_INIT();
    GC_enable_incremental();
    GC_set_full_freq(FULL_FREQ);
    if (sliced) GC_set_time_limit(SLICE_MS);
    unsigned long explicit_calls = 0, seed = 12345;
    for (long i = 0; i < ROUNDS; i++) {
        seed = seed * 6364136223846793005ul + 1442695040888963407ul;
        unsigned long slot = (seed >> 33) % LIVE;
        /* Half of the replacements drop the chain, so the live set stays bounded. */
        live[slot] = fresh((seed >> 20) & 1 ? NULL : live[slot], (unsigned long)i);
        if ((i + 1) % every == 0) {
            collect(sliced);
            explicit_calls++;
        }
    }
    printf("incremental=%d starts=%lu collections=%lu explicit=%lu nested=%lu previous=%d "
           "own_start_callback_back=%d early_starts=%ld\n", GC_is_incremental_mode(), starts,
           (unsigned long)GC_get_gc_no(), explicit_calls, nested, previous != NULL,
           GC_get_start_callback() == on_full_start, &early_starts ? (long)early_starts : -1L);
    return 0;
}
