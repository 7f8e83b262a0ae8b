/* tests/gcprof/probe.c: a small program on Debian's libgc.so.1 that does what real
 * bdwgc programs do and w3m and guile do not: it sets its own collection-event and
 * thread-event callbacks, frees objects itself (GC_free), reallocates in place and
 * moving, takes batches (GC_malloc_many) and debug allocations. tests/integration/
 * gcprof.sh builds it with `gcc probe.c -lgc` and runs it under gcprof.
 *
 * It prints one line "starts=N collections=M own_callback_back=B
 * own_thread_callback_back=B kept=K" on stdout: N is how many GC_EVENT_START its own
 * callback saw, M the collections bdwgc made meanwhile, B whether the getters return
 * its own callbacks, K the objects it keeps reachable on purpose.
 */
#define GC_THREADS   /* declares the thread-event hooks */
#include <gc.h>
#include <stdio.h>

#define KEPT 4000

static unsigned long starts;
static void **kept;     /* uncollectable: everything kept hangs off it */
static int nkept;

static void GC_CALLBACK on_event(GC_EventType e)
{
    if (e == GC_EVENT_START) starts++;
}

static void GC_CALLBACK on_thread_event(GC_EventType e, void *thread)
{
    (void)e; (void)thread;
}

static void keep(void *p)
{
    if (nkept < KEPT) kept[nkept++] = p;
}

/* Each step is its own function, so that the profile shows what each allocated. */
__attribute__((noinline)) static void keep_small(void)
{
    for (int i = 0; i < 1000; i++) keep(GC_MALLOC(100));
}

__attribute__((noinline)) static void free_at_once(void)
{
    for (int i = 0; i < 1000; i++) GC_FREE(GC_MALLOC(3000));
}

/* 40 and 44 bytes take the same three granules: realloc returns the same object. */
__attribute__((noinline)) static void grow_in_place(void)
{
    for (int i = 0; i < 500; i++) {
        char *p = GC_MALLOC_ATOMIC(40);
        char *q = GC_REALLOC(p, 44);
        if (q != p) printf("grow_in_place moved\n");
        keep(q);
    }
}

__attribute__((noinline)) static void grow_moving(void)
{
    for (int i = 0; i < 500; i++) keep(GC_REALLOC(GC_MALLOC_ATOMIC(40), 5000));
}

__attribute__((noinline)) static void take_batch(void)
{
    void *batch = GC_malloc_many(32);
    for (void *q = batch; q; q = GC_NEXT(q)) keep(q);
}

__attribute__((noinline)) static void debug_allocations(void)
{
    for (int i = 0; i < 500; i++) keep(GC_debug_malloc(200, __FILE__, __LINE__));
}

__attribute__((noinline)) static void churn(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        char *g = GC_MALLOC_ATOMIC(64 + i % 200);   /* garbage */
        g[0] = 1;
    }
}

int main(void)
{
    GC_set_on_collection_event(on_event);
    GC_set_on_thread_event(on_thread_event);
    GC_INIT();
    kept = GC_MALLOC_UNCOLLECTABLE(KEPT * sizeof *kept);
    keep_small();
    free_at_once();
    grow_in_place();
    grow_moving();
    take_batch();
    debug_allocations();
    churn(2000000);
    GC_gcollect();
    printf("starts=%lu collections=%lu own_callback_back=%d own_thread_callback_back=%d kept=%d\n", starts,
           (unsigned long)GC_get_gc_no(), GC_get_on_collection_event() == on_event,
           GC_get_on_thread_event() == on_thread_event, nkept);
    return 0;
}
