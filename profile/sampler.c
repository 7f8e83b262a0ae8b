/* sampler: sampled allocations, their stacks, frees seen at collection, snapshots.
 * See sampler.h for the model and the locking rules.
 *
 * Interval maths (as in Go's mcache nextSample and jemalloc's prof_sample): for a
 * Poisson process over allocated bytes with mean gap `rate`, the gaps are exponential:
 * gap = -ln(U) * rate with U uniform on (0, 1]. An object of size s then contains at
 * least one sample point with probability p = 1 - exp(-s/rate), so each sampled object
 * stands for 1/p objects (profile/pprof unsamples).
 */
#include "profile/sampler.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gc/gcevents.h"
#include "gc/gcheap.h"
#include "gc/gcthreads.h"
#include "profile/stacks.h"

#define TRACK_CHUNK 4096          /* tracked objects per chunk (chunks never move) */
#define MAX_TRACK_CHUNKS 65536    /* up to 268 M tracked objects */
#define NO_RECORD UINT32_MAX

struct record {                   /* one (stack, size, rate) group */
    int stack;
    size_t size;
    int64_t rate;
    uint64_t allocs, frees;
};

struct tracked {                  /* one sampled object not yet seen freed */
    uintptr_t link;               /* hidden pointer; the collector zeroes it */
    uint32_t record;              /* NO_RECORD: slot free */
    uint32_t cycle;               /* completed collections when it was allocated */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int64_t rate;
static _Atomic uint32_t completed_collections;   /* written by the listener */
static _Atomic uint64_t samples_taken;
static _Atomic int64_t last_rate = SAMPLER_DEFAULT_RATE;   /* last non-zero rate */

static struct stacks_table *stacks;
static struct record *records;
static size_t nrecords, records_cap;
static int32_t *record_slots;                    /* hash (stack,size,rate) -> id + 1 */
static size_t nrecord_slots;

static struct tracked **track_chunks;            /* malloc'd: kept out of the GC's roots */
static size_t track_used;                        /* high-water mark of slots */
static size_t track_live;
static uint32_t *track_free;                     /* stack of free slot indexes */
static size_t track_free_n, track_free_cap;
static uint32_t reaped_at_cycle;

static __thread uint64_t rng_state;

/* ---- intervals ------------------------------------------------------------------- */

static uint64_t next_random(void)
{
    if (!rng_state) rng_state = (uint64_t)gcevents_now_ns() * 0x9E3779B97F4A7C15ull | 1;
    rng_state ^= rng_state >> 12;      /* xorshift64* */
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static intptr_t draw_interval(void)
{
    int64_t r = atomic_load_explicit(&rate, memory_order_relaxed);
    if (r <= 1) return 0;   /* exact: every allocation overdraws the countdown */
    double u = ((double)(next_random() >> 11) + 1.0) / 9007199254740993.0;   /* (0, 1] */
    double gap = -log(u) * (double)r;
    return gap > (double)INTPTR_MAX / 2 ? INTPTR_MAX / 2 : (intptr_t)gap;
}

/* ---- records ------------------------------------------------------------------------ */

static uint64_t record_hash(int stack, size_t size, int64_t r)
{
    uint64_t h = (uint64_t)stack * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)size * 0xC2B2AE3D27D4EB4Full;
    h ^= (uint64_t)r * 0x165667B19E3779F9ull;
    return h ^ (h >> 29);
}

static int grow_record_slots(void)
{
    size_t n = nrecord_slots ? nrecord_slots * 2 : 1024;
    int32_t *s = calloc(n, sizeof *s);
    if (!s) return -1;
    for (size_t id = 0; id < nrecords; id++) {
        const struct record *r = &records[id];
        size_t j = record_hash(r->stack, r->size, r->rate) & (n - 1);
        while (s[j]) j = (j + 1) & (n - 1);
        s[j] = (int32_t)id + 1;
    }
    free(record_slots);
    record_slots = s;
    nrecord_slots = n;
    return 0;
}

/* The record id for (stack, size, r), created if new; -1 when out of memory. Locked. */
static int find_record(int stack, size_t size, int64_t r)
{
    if ((nrecords + 1) * 2 > nrecord_slots && grow_record_slots() < 0) return -1;
    size_t mask = nrecord_slots - 1, j = record_hash(stack, size, r) & mask;
    for (; record_slots[j]; j = (j + 1) & mask) {
        const struct record *rec = &records[record_slots[j] - 1];
        if (rec->stack == stack && rec->size == size && rec->rate == r) return record_slots[j] - 1;
    }
    if (nrecords == records_cap) {
        size_t cap = records_cap ? records_cap * 2 : 256;
        struct record *p = realloc(records, cap * sizeof *p);
        if (!p) return -1;
        records = p;
        records_cap = cap;
    }
    records[nrecords] = (struct record){stack, size, r, 0, 0};
    record_slots[j] = (int32_t)nrecords + 1;
    return (int)nrecords++;
}

/* ---- tracked objects ---------------------------------------------------------------- */

static struct tracked *slot_at(size_t i) { return &track_chunks[i / TRACK_CHUNK][i % TRACK_CHUNK]; }

/* The index of a free tracking slot, or -1 when out of memory. Locked. */
static long new_tracked(void)
{
    if (track_free_n) return (long)track_free[--track_free_n];
    if (track_used % TRACK_CHUNK == 0) {
        size_t c = track_used / TRACK_CHUNK;
        if (c >= MAX_TRACK_CHUNKS) return -1;
        if (!track_chunks && !(track_chunks = calloc(MAX_TRACK_CHUNKS, sizeof *track_chunks))) return -1;
        if (!track_chunks[c] && !(track_chunks[c] = malloc(TRACK_CHUNK * sizeof(struct tracked)))) return -1;
    }
    return (long)track_used++;
}

static void release_tracked(size_t i)
{
    slot_at(i)->record = NO_RECORD;
    track_live--;
    if (track_free_n == track_free_cap) {
        size_t cap = track_free_cap ? track_free_cap * 2 : 4096;
        uint32_t *p = realloc(track_free, cap * sizeof *p);
        if (!p) return;   /* the slot is lost to reuse, not to correctness */
        track_free = p;
        track_free_cap = cap;
    }
    track_free[track_free_n++] = (uint32_t)i;
}

/* With the allocation lock held (no collection can clear links meanwhile): counts
 * every object whose link the collector cleared as freed. */
static void *reap_locked(void *unused)
{
    (void)unused;
    for (size_t i = 0; i < track_used; i++) {
        struct tracked *t = slot_at(i);
        if (t->record == NO_RECORD || t->link) continue;
        records[t->record].frees++;
        release_tracked(i);
    }
    return NULL;
}

/* Reaps if a collection completed since the last reap. Profiler lock held. */
static void reap_if_collected(void)
{
    uint32_t done = atomic_load(&completed_collections);
    if (done == reaped_at_cycle) return;
    reaped_at_cycle = done;
    gcheap_with_alloc_lock(reap_locked, NULL);
}

/* ---- the sampling hook --------------------------------------------------------------- */

/* Records obj under the profiler lock. Returns 0 or -1 (out of memory: sample lost). */
static int record_sample(void *obj, size_t size, const uintptr_t *pcs, int n, uint32_t cycle)
{
    int64_t r = atomic_load(&rate);
    int stack = stacks_intern(stacks, pcs, n);
    if (stack < 0) return -1;
    int rec = find_record(stack, size, r <= 1 ? 1 : r);
    if (rec < 0) return -1;
    long i = new_tracked();
    if (i < 0) return -1;
    struct tracked *t = slot_at((size_t)i);
    records[rec].allocs++;
    t->link = gcheap_hide(obj);
    t->record = (uint32_t)rec;
    t->cycle = cycle;
    track_live++;
    if (gcheap_watch_free(&t->link, obj) < 0) {   /* untracked: count it freed at once */
        records[rec].frees++;
        release_tracked((size_t)i);
    }
    return 0;
}

GCHEAP_ALLOC_TEXT static intptr_t on_sampled_allocation(void *obj, size_t size)
{
    if (atomic_load_explicit(&rate, memory_order_relaxed) == 0) return draw_interval();
    /* Read first: a collection that completes while we capture and record must not
     * make the object look allocated after it (it would miss one in-use snapshot). */
    uint32_t cycle = atomic_load(&completed_collections);
    uintptr_t pcs[STACKS_MAX_DEPTH];
    int n = stacks_capture(pcs, STACKS_MAX_DEPTH);
    pthread_mutex_lock(&lock);
    reap_if_collected();
    record_sample(obj, size, pcs, n, cycle);
    pthread_mutex_unlock(&lock);
    atomic_fetch_add_explicit(&samples_taken, 1, memory_order_relaxed);
    return draw_interval();
}

/* Collection listener: allocation lock held or world stopped; one atomic add. */
static void on_collection(enum gcevent ev, int thread, void *ctx)
{
    (void)thread; (void)ctx;
    if (ev == GCEV_END) atomic_fetch_add_explicit(&completed_collections, 1, memory_order_release);
}

int sampler_init(int64_t r)
{
    stacks_init();
    stacks = stacks_table_new();
    if (!stacks || gcevents_add_listener(on_collection, NULL) < 0) return -1;
    return sampler_set_rate(r);
}

int sampler_set_rate(int64_t r)
{
    if (r < 0) return -1;
    atomic_store(&rate, r);
    if (r > 0) atomic_store(&last_rate, r);
    if (r == 0) gcheap_set_sampler(NULL, NULL);
    else gcheap_set_sampler(on_sampled_allocation, draw_interval);
    return 0;
}

int64_t sampler_rate(void) { return atomic_load(&rate); }

/* ---- snapshots ----------------------------------------------------------------------- */

/* Objects a sampled object of `size` stands for at rate r (see the top comment). */
static double unsample_factor(size_t size, int64_t r)
{
    if (r <= 1 || size == 0) return 1.0;
    return 1.0 / (1.0 - exp(-(double)size / (double)r));
}

/* count samples taken at rate `from`, expressed as samples at rate `to`. */
static uint64_t convert_count(uint64_t count, size_t size, int64_t from, int64_t to)
{
    if (from == to || count == 0) return count;
    return (uint64_t)llround((double)count * unsample_factor(size, from) / unsample_factor(size, to));
}

struct inuse_walk { uint64_t *inuse; uint32_t collections; };

/* Allocation lock held: reaps cleared links and counts, per record, the objects live
 * as of the last completed collection. */
static void *reap_and_count_locked(void *arg)
{
    struct inuse_walk *w = arg;
    reap_locked(NULL);
    w->collections = atomic_load(&completed_collections);
    for (size_t i = 0; i < track_used; i++) {
        const struct tracked *t = slot_at(i);
        if (t->record != NO_RECORD && t->cycle < w->collections) w->inuse[t->record]++;
    }
    return NULL;
}

static int64_t wall_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int sampler_snapshot(struct sampler_snapshot *s, int collect_first)
{
    memset(s, 0, sizeof *s);
    if (collect_first) gcheap_collect();
    pthread_mutex_lock(&lock);
    int64_t to = atomic_load(&last_rate);
    struct inuse_walk w = {calloc(nrecords ? nrecords : 1, sizeof(uint64_t)), 0};
    s->records = calloc(nrecords ? nrecords : 1, sizeof *s->records);
    if (!w.inuse || !s->records) {
        pthread_mutex_unlock(&lock);
        free(w.inuse);
        free(s->records);
        s->records = NULL;
        return -1;
    }
    gcheap_with_alloc_lock(reap_and_count_locked, &w);
    reaped_at_cycle = w.collections;
    for (size_t id = 0; id < nrecords; id++) {
        const struct record *r = &records[id];
        struct heapsample *h = &s->records[id];
        h->pcs = stacks_get(stacks, r->stack, &h->npcs);
        h->size = r->size;
        h->alloc_count = convert_count(r->allocs, r->size, r->rate, to);
        h->inuse_count = convert_count(w.inuse[id], r->size, r->rate, to);
    }
    s->n = nrecords;
    pthread_mutex_unlock(&lock);
    free(w.inuse);
    s->rate = to;
    s->collections = w.collections;
    s->time_ns = wall_clock_ns();
    return 0;
}

void sampler_snapshot_delta(struct sampler_snapshot *end, const struct sampler_snapshot *start)
{
    size_t n = start->n < end->n ? start->n : end->n;   /* records are never removed */
    for (size_t i = 0; i < n; i++) {
        struct heapsample *e = &end->records[i];
        const struct heapsample *b = &start->records[i];
        uint64_t alloc0 = convert_count(b->alloc_count, b->size, start->rate, end->rate);
        uint64_t inuse0 = convert_count(b->inuse_count, b->size, start->rate, end->rate);
        e->alloc_count = e->alloc_count > alloc0 ? e->alloc_count - alloc0 : 0;
        e->inuse_count = e->inuse_count > inuse0 ? e->inuse_count - inuse0 : 0;
    }
}

void sampler_snapshot_free(struct sampler_snapshot *s)
{
    free(s->records);
    memset(s, 0, sizeof *s);
}

/* Bytes of every table this module has malloc'd. Locked. */
static size_t own_bytes(void)
{
    size_t chunks = (track_used + TRACK_CHUNK - 1) / TRACK_CHUNK;
    return (stacks ? stacks_table_bytes(stacks) : 0) + records_cap * sizeof *records +
           nrecord_slots * sizeof *record_slots + (track_chunks ? MAX_TRACK_CHUNKS * sizeof *track_chunks : 0) +
           chunks * TRACK_CHUNK * sizeof(struct tracked) + track_free_cap * sizeof *track_free;
}

void sampler_stats(struct sampler_stats *st)
{
    pthread_mutex_lock(&lock);
    st->rate = atomic_load(&rate);
    st->samples = atomic_load(&samples_taken);
    st->stacks = stacks ? stacks_count(stacks) : 0;
    st->records = nrecords;
    st->tracked = track_live;
    st->bytes = own_bytes();
    pthread_mutex_unlock(&lock);
}
