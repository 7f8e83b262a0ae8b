/* tests/gcprof/ownmalloc.c: a program on Debian's libgc.so.1 whose malloc, calloc,
 * realloc, free and posix_memalign are its own, built on GC_malloc, GC_realloc and
 * GC_free, as some bdwgc programs do (bdwgc documents the like as a REDIRECT_MALLOC
 * build). Every allocation in the process then enters bdwgc through the program's
 * functions: libc's (strdup, fopen, qsort, printf), the dynamic loader's, and
 * libgcprof's own when it is preloaded, including those made while it looks up the
 * real entry points and in its constructor. tests/integration/gcprof_ownmalloc.sh runs
 * it with and without gcprof.
 *
 * Usage: ownmalloc ROUNDS [SECONDS]: ROUNDS rounds of a workload of libc calls that
 * allocate, then (when SECONDS is given) the same rounds again until that many seconds
 * have passed; prints one line "checksum=C rounds=R" on stdout (C depends only on
 * ROUNDS) and exits with status 3, which the runner must pass through.
 * Build: gcc -O1 -o ownmalloc ownmalloc.c -lgc
 */
#define _GNU_SOURCE
#include <errno.h>
#include <gc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the program's allocator: bdwgc underneath ------------------------------------ */

/* bdwgc's initialisation allocates with malloc itself (pthread_getattr_np reads
 * /proc/self/maps with fopen), so the first malloc initialises bdwgc, and a malloc made
 * meanwhile is served from a small arena that is never freed. Uncollectable objects:
 * libc keeps pointers where bdwgc does not look (thread descriptors, the loader's
 * tables). */
static _Alignas(16) char arena[1 << 16];
static size_t arena_used;
static int gc_state;   /* 0 not yet, 1 initialising, 2 ready (start-up is single-threaded) */

static void *arena_alloc(size_t n)
{
    size_t at = arena_used, size = (n + 31) & ~(size_t)15;
    if (size > sizeof arena - at) abort();
    arena_used += size;
    *(size_t *)(arena + at) = n;
    return arena + at + 16;
}

static int in_arena(const void *p) { return (const char *)p >= arena && (const char *)p < arena + sizeof arena; }

static int gc_ready(void)
{
    if (gc_state == 0) {
        gc_state = 1;
        GC_INIT();
        gc_state = 2;
    }
    return gc_state == 2;
}

void *malloc(size_t n)
{
    if (!gc_ready()) return arena_alloc(n);
    return GC_MALLOC_UNCOLLECTABLE(n ? n : 1);
}

void *calloc(size_t k, size_t n)
{
    if (n && k > SIZE_MAX / n) { errno = ENOMEM; return NULL; }
    return malloc(k * n);   /* bdwgc and the arena hand out cleared memory */
}

void free(void *p)
{
    if (p && !in_arena(p)) GC_FREE(p);
}

void *realloc(void *p, size_t n)
{
    if (!p) return malloc(n);
    if (!n) { free(p); return NULL; }
    if (!in_arena(p)) return GC_REALLOC(p, n);
    size_t had = *(size_t *)((char *)p - 16);
    void *q = malloc(n);
    if (q) memcpy(q, p, had < n ? had : n);
    return q;
}

void *memalign(size_t align, size_t n)
{
    if (!gc_ready()) abort();   /* nothing asks for aligned memory while bdwgc starts */
    return GC_memalign(align, n ? n : 1);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }

/* ---- the workload: libc calls that allocate through the functions above ----------- */

static int by_text(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* One round: strings made by asprintf and strdup, sorted, hashed, written to and read
 * back from a memory stream, then freed. Returns the round's hash. */
static uint64_t round_of(int r)
{
    enum { N = 200 };
    char **s = calloc(N, sizeof *s);
    for (int i = 0; i < N; i++) {
        char *t;
        if (asprintf(&t, "r%d-item-%d-%x", r, (i * 7919) % N, (unsigned)(i * 2654435761u)) < 0) abort();
        s[i] = strdup(t);
        free(t);
    }
    qsort(s, N, sizeof *s, by_text);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    for (int i = 0; i < N; i++) fprintf(f, "%s\n", s[i]);
    fclose(f);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    for (int i = 0; i < N; i++) free(s[i]);
    free(s);
    free(text);
    return h;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    time_t end = time(NULL) + (argc > 2 ? atoi(argv[2]) : 0);
    uint64_t sum = 0;
    for (int r = 0; r < rounds; r++) sum += round_of(r);
    int done = 1;
    for (; time(NULL) < end; done++)
        for (int r = 0; r < rounds; r++) (void)round_of(r);
    printf("checksum=%016llx rounds=%d\n", (unsigned long long)sum, done);
    return 3;
}
