/* allocpaths: what each allocation path of bdwgc's public API costs for the strings
 * /noleaker makes, with stop-the-world collection and with generational collection on
 * manual dirty bits (issue "Large heaps: a generational mode"), in this process with
 * Debian's libgc as memdemo links it.
 *
 * Under manual dirty bits bdwgc 8.2.2 refills a thread's free list one object at a time
 * (GC_generic_malloc_many's single-object path), so the usual thread-local allocation
 * takes the allocation lock for every string. The candidates, each making /noleaker's
 * strings (the decimals of 0..999 with their NUL, 2 to 4 bytes, written, and kept in a
 * request-local array until the request's 1000 are made), on THREADS threads:
 *   atomic   GC_MALLOC_ATOMIC: thread-local free lists (memdemo's stop-the-world path
 *            before that mode carved small strings too)
 *   many     GC_malloc_many(16): a list of 16-byte objects per call, kept in a
 *            thread's array of 256 (on its stack) and handed out from there
 *   ptrfree  GC_generic_malloc_many(16, PTRFREE): the same for pointer-free objects
 *            (whose list links the collector does not trace: hence the array)
 *   global   GC_malloc_kind_global(n, PTRFREE): the global free list under the lock,
 *            refilled a whole block at a time
 *   kind     a kind of memdemo's own (GC_new_free_list + GC_new_kind, pointer-free):
 *            GC_malloc_kind for it goes to its global free list the same way
 *   carve    gcheap_alloc_data: memdemo's path in both modes, strings carved from
 *            4 KiB pointer-free blocks (gc/gcheap.c)
 * Every candidate collects the same way: when bdwgc's bytes allocated since the last
 * collection reach 4 MiB, one thread runs gcheap_collect_paced() (a partial collection
 * in generational mode).
 *
 * Usage: allocpaths stw|generational CANDIDATE... (default: all). Environment:
 * ALLOCPATHS_SECONDS [2] per candidate, ALLOCPATHS_THREADS [2]. Output, one line each:
 *   MODE CANDIDATE: N strings/s, X ns CPU per string, Y bytes of heap per string, Z collections
 * Exit status 0, or 2 for bad arguments.
 */
#define GC_NO_THREAD_REDIRECTS 1   /* threads register through gcthreads_enter() */
#include <gc.h>
#include <gc/gc_mark.h>
#include <gc/gc_inline.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gc/gcheap.h"
#include "gc/gcthreads.h"

#define REPS 1000
#define COLLECT_EVERY ((size_t)4 << 20)
#define MAX_THREADS 8

enum { ATOMIC, MANY, PTRFREE_MANY, GLOBAL, KIND, CARVE, CANDIDATES };
static const char *const names[CANDIDATES] = {"atomic", "many", "ptrfree", "global", "kind", "carve"};

static int candidate, my_kind, whole_lists;
static _Atomic int stop;
static atomic_flag collecting = ATOMIC_FLAG_INIT;
static _Atomic long strings_made;

/* A thread's cache for the two "many" candidates, on its stack (a root): the objects a
 * refill returns are moved into an array right away, because the links of a list of
 * pointer-free objects are not traced (the rest of the list would be freed). */
#define CACHE 256
struct cache { void *obj[CACHE]; int n; };

static void *pop(struct cache *c, size_t lb, int kind)
{
    if (!c->n) {
        /* A pointer-free list longer than one object (stop-the-world mode) must not meet
         * a collection before it is in the array: collections wait meanwhile. */
        int hold = kind >= 0 && whole_lists;
        if (hold) GC_disable();
        void *list = kind < 0 ? GC_malloc_many(lb) : NULL;
        if (kind >= 0) GC_generic_malloc_many(lb, kind, &list);
        for (void *p = list; p && c->n < CACHE; p = list) {
            list = GC_NEXT(p);
            GC_NEXT(p) = NULL;
            c->obj[c->n++] = p;
        }
        if (hold) GC_enable();
        if (!c->n) abort();
    }
    return c->obj[--c->n];
}

static char *make(size_t n, struct cache *c)
{
    switch (candidate) {
    case ATOMIC: return GC_MALLOC_ATOMIC(n);
    case MANY: return pop(c, 16, -1);
    case PTRFREE_MANY: return pop(c, 16, GC_I_PTRFREE);
    case GLOBAL: return GC_malloc_kind_global(n, GC_I_PTRFREE);
    case KIND: return GC_malloc_kind(n, my_kind);
    default: return gcheap_alloc_data(n);
    }
}

static void maybe_collect(void)
{
    if (GC_get_bytes_since_gc() < COLLECT_EVERY || atomic_flag_test_and_set(&collecting)) return;
    if (GC_get_bytes_since_gc() >= COLLECT_EVERY) gcheap_collect_paced();
    atomic_flag_clear(&collecting);
}

/* The decimal of i (0 <= i < 1000) into out; returns its length. */
static size_t decimal(int i, char *out)
{
    size_t n = i >= 100 ? 3 : i >= 10 ? 2 : 1;
    for (size_t k = n; k-- > 0; i /= 10) out[k] = (char)('0' + i % 10);
    out[n] = '\0';
    return n;
}

/* One "request": REPS strings kept in a local array until all are made. */
static void request(struct cache *c)
{
    char *kept[REPS];
    for (int i = 0; i < REPS; i++) {
        char digits[8];
        size_t len = decimal(i, digits);
        char *s = make(len + 1, c);
        memcpy(s, digits, len + 1);
        kept[i] = s;
    }
    GC_reachable_here(kept[REPS - 1]);
    maybe_collect();
}

static void *worker(void *unused)
{
    (void)unused;
    gcthreads_enter();
    struct cache c = {.n = 0};
    long n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        request(&c);
        n += REPS;
    }
    atomic_fetch_add(&strings_made, n);
    return NULL;
}

static double seconds_of(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps until `until` (CLOCK_MONOTONIC seconds): the collector's signals cut sleeps short. */
static void sleep_until(double until)
{
    for (double now; (now = seconds_of(CLOCK_MONOTONIC)) < until;) {
        double left = until - now;
        struct timespec d = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        nanosleep(&d, NULL);
    }
}

static void run(const char *mode, int c, int threads, double seconds)
{
    candidate = c;
    atomic_store(&stop, 0);
    atomic_store(&strings_made, 0);
    gcheap_collect();
    struct gcheap_stats s0, s1;
    gcheap_stats(&s0);
    double cpu0 = seconds_of(CLOCK_PROCESS_CPUTIME_ID), wall0 = seconds_of(CLOCK_MONOTONIC);
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, NULL);
    sleep_until(wall0 + seconds);
    atomic_store(&stop, 1);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double cpu = seconds_of(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    seconds = seconds_of(CLOCK_MONOTONIC) - wall0;
    gcheap_stats(&s1);
    long n = atomic_load(&strings_made);
    printf("%s %s: %.0f strings/s, %.1f ns CPU per string, %.1f bytes of heap per string, %llu collections\n",
           mode, names[c], (double)n / seconds, cpu * 1e9 / (double)n,
           (double)(s1.total_allocated - s0.total_allocated) / (double)n,
           (unsigned long long)(s1.collections - s0.collections));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "stw") != 0 && strcmp(argv[1], "generational") != 0)) {
        fprintf(stderr, "usage: allocpaths stw|generational [%s|%s|%s|%s|%s|%s]...\n", names[0], names[1],
                names[2], names[3], names[4], names[5]);
        return 2;
    }
    const char *e = getenv("ALLOCPATHS_SECONDS"), *th = getenv("ALLOCPATHS_THREADS");
    double seconds = e ? atof(e) : 2.0;
    int threads = th ? atoi(th) : 2;
    if (seconds <= 0 || seconds > 600 || threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "allocpaths: ALLOCPATHS_SECONDS must be in (0, 600], ALLOCPATHS_THREADS in 1..%d\n",
                MAX_THREADS);
        return 2;
    }
    whole_lists = strcmp(argv[1], "stw") == 0;   /* with manual dirty bits a "list" is one object */
    gcheap_init_mode(whole_lists ? GCHEAP_STW : GCHEAP_GENERATIONAL);
    my_kind = (int)GC_new_kind(GC_new_free_list(), GC_DS_LENGTH, 0, 0);
    for (int c = 0; c < CANDIDATES; c++) {
        int wanted = argc == 2;
        for (int i = 2; i < argc; i++) wanted |= strcmp(argv[i], names[c]) == 0;
        if (wanted) run(argv[1], c, threads, seconds);
    }
    return 0;
}
