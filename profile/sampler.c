/* sampler: sampled allocations, their stacks, frees seen at collection, snapshots.
 * See sampler.h for the model and the locking rules.
 *
 * Interval maths (as in Go's mcache nextSample and jemalloc's prof_sample): for a
 * Poisson process over allocated bytes with mean gap `rate`, the gaps are exponential:
 * gap = -ln(U) * rate with U uniform on (0, 1]. An object of size s then contains at
 * least one sample point with probability p = 1 - exp(-s/rate), so each sampled object
 * stands for 1/p objects (the formula is heapsample_weight(); profile/pprof unsamples).
 */
#include "profile/sampler.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gc/clock.h"
#include "gc/errors.h"
#include "gc/gcevents.h"
#include "gc/gcheap.h"
#include "gc/gcthreads.h"
#include "profile/addrmap.h"
#include "profile/buf.h"
#include "profile/hashidx.h"
#include "profile/stacks.h"

#define TRACK_CHUNK 4096          /* tracked objects per chunk (chunks never move) */
#define MAX_TRACK_CHUNKS 65536    /* up to 268 M tracked objects */
#define MAX_TRACKED ((size_t)TRACK_CHUNK * MAX_TRACK_CHUNKS)
#define NO_RECORD UINT32_MAX

struct record {                   /* one (stack, size, label) group, as Go keys its buckets */
    int stack;
    size_t size;
    const char *label_key, *label_value;   /* NULL: no label */
    double allocs;                 /* objects ever allocated, estimated: each sample adds the
                                      weight it had at its rate; in-use comes from the slots */
};

struct tracked {                  /* one sampled object not yet seen freed */
    _Atomic uintptr_t link;       /* hidden pointer; 0 once a collection freed it */
    uint32_t record;              /* NO_RECORD: slot free */
    uint32_t cycle;               /* completed collections when it was allocated */
};

/* Slots come in chunks that never move; each slot's weight (the objects it stands for,
 * heapsample_weight at the rate it was sampled at) sits in a parallel array, so the
 * mark-end walk reads only the slots. */
struct track_chunk {
    struct tracked slot[TRACK_CHUNK];
    float weight[TRACK_CHUNK];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int64_t rate;
static _Atomic uint32_t completed_collections;   /* written by the listener */
static _Atomic uint64_t samples_taken;
static _Atomic uint64_t samples_lost;            /* sampled but not recorded */
static _Atomic int64_t last_rate = SAMPLER_DEFAULT_RATE;   /* last non-zero rate */

static struct stacks_table *stacks;
static struct record *records;
static size_t nrecords, records_cap;
static struct hashidx record_index;              /* (stack, size, label) -> record id */

static struct track_chunk **track_chunks;        /* malloc'd: kept out of the GC's roots */
static size_t track_nchunks;                     /* chunks allocated so far */
/* High-water mark of slots, published (release) only after the slot is initialised:
 * the mark-end walk reads it with the world stopped, maybe while the thread that
 * was adding a slot is stopped half-way. */
static _Atomic size_t track_used;
static size_t track_live;
static size_t track_limit = MAX_TRACKED;        /* sampler__set_track_limit() */
static uint32_t *track_free;                     /* stack of free slot indexes */
static size_t track_free_n, track_free_cap;
static uint32_t reaped_at_cycle;
/* Tracked objects by hidden address, kept only for programs that free objects
 * themselves (sampler_track_explicit_frees); entries go stale when a slot is reaped
 * or reused, and are checked against the slot. Under the profiler lock. */
static int index_addresses;
static struct addrmap addresses;

static __thread uint64_t rng_state;
static __thread const char *label_key, *label_value;   /* sampler_set_label() */

/* ---- intervals ------------------------------------------------------------------- */

static uint64_t next_random(void)
{
    if (!rng_state) rng_state = (uint64_t)clock_mono_ns() * 0x9E3779B97F4A7C15ull | 1;
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
    if (gap < 1) return 1;   /* 0 means exact mode (gcheap.h): a gap under a byte is one */
    return gap > (double)INTPTR_MAX / 2 ? INTPTR_MAX / 2 : (intptr_t)gap;
}

/* ---- records ------------------------------------------------------------------------ */

/* Labels are compared by address: they live for the process (sampler_set_label). The
 * rate is not part of the key: a record keyed by rate made every change of the rate
 * start a new set of records (cycling /debug/memprofilerate grew them without bound). */
struct record_key { int stack; size_t size; const char *label_key, *label_value; };

static uint64_t record_hash(const struct record_key *k)
{
    uint64_t label = hash_mix((uintptr_t)k->label_key ^ hash_mix((uintptr_t)k->label_value));
    return hash_mix((uint64_t)k->stack ^ hash_mix((uint64_t)k->size ^ label));
}

static int record_matches(const void *ctx, uint32_t id, const void *key)
{
    (void)ctx;
    const struct record *rec = &records[id];
    const struct record_key *k = key;
    return rec->stack == k->stack && rec->size == k->size &&
           rec->label_key == k->label_key && rec->label_value == k->label_value;
}

static uint64_t record_rehash(const void *ctx, uint32_t id)
{
    (void)ctx;
    const struct record *r = &records[id];
    struct record_key k = {r->stack, r->size, r->label_key, r->label_value};
    return record_hash(&k);
}

/* The record id for key k, created if new; -1 when out of memory. Locked. */
static int find_record(const struct record_key *k)
{
    uint64_t h = record_hash(k);
    int64_t found = hashidx_find(&record_index, h, record_matches, NULL, k);
    if (found >= 0) return (int)found;
    if (buf_grow_array(&records, &records_cap, nrecords + 1, sizeof *records) < 0) return -1;
    records[nrecords] = (struct record){k->stack, k->size, k->label_key, k->label_value, 0};
    if (hashidx_add(&record_index, h, (uint32_t)nrecords, record_rehash, NULL) < 0) return -1;
    return (int)nrecords++;
}

/* ---- tracked objects ---------------------------------------------------------------- */

static struct tracked *slot_at(size_t i) { return &track_chunks[i / TRACK_CHUNK]->slot[i % TRACK_CHUNK]; }
static float *weight_at(size_t i) { return &track_chunks[i / TRACK_CHUNK]->weight[i % TRACK_CHUNK]; }

/* Slots in use or on the free list. Profiler lock held (or world stopped). */
static size_t used_slots(void) { return atomic_load_explicit(&track_used, memory_order_acquire); }

/* The index of a free tracking slot (link 0, record NO_RECORD), or -1 when out of
 * memory or at the tracking limit. Locked. */
static long new_tracked(void)
{
    if (track_live >= track_limit) return -1;
    if (track_free_n) return (long)track_free[--track_free_n];
    size_t used = used_slots();
    if (used % TRACK_CHUNK == 0) {
        size_t c = used / TRACK_CHUNK;
        if (c >= MAX_TRACK_CHUNKS) return -1;
        if (!track_chunks && !(track_chunks = calloc(MAX_TRACK_CHUNKS, sizeof *track_chunks))) return -1;
        if (!track_chunks[c]) {
            if (!(track_chunks[c] = malloc(sizeof **track_chunks))) return -1;
            track_nchunks++;
        }
    }
    struct tracked *t = slot_at(used);
    atomic_store_explicit(&t->link, 0, memory_order_relaxed);
    t->record = NO_RECORD;
    atomic_store_explicit(&track_used, used + 1, memory_order_release);
    return (long)used;
}

/* Frees a slot whose link is 0. */
static void release_tracked(size_t i)
{
    slot_at(i)->record = NO_RECORD;
    track_live--;
    if (track_free_n < track_free_cap) track_free[track_free_n++] = (uint32_t)i;
    /* else: the slot is lost to reuse, not to correctness (only when out of memory) */
}

/* Bytes malloc'd for tracking: the chunk table, the chunks, the free list, the
 * address index (libgcprof only). Locked. */
static uint64_t tracked_bytes(void)
{
    return (track_chunks ? MAX_TRACK_CHUNKS * sizeof *track_chunks : 0) +
           track_nchunks * sizeof **track_chunks + track_free_cap * sizeof *track_free +
           addrmap_bytes(&addresses);
}

static uint64_t records_bytes(void) { return records_cap * sizeof *records + hashidx_bytes(&record_index); }

/* All the profiler's bookkeeping (sampler_stats' bookkeeping_bytes). Locked. */
static uint64_t bookkeeping_bytes(void)
{
    return records_bytes() + (stacks ? stacks_bytes(stacks) : 0) + tracked_bytes();
}

/* Tells the collection policy what the bookkeeping takes now: it grows with the objects tracked,
 * which in exact mode is every live object, so it counts against -maxheap. Locked. */
static void publish_bookkeeping(void) { gcheap_report_outside(bookkeeping_bytes()); }

/* Makes room in track_free for every tracked slot, so that the reap, which runs with
 * bdwgc's allocation lock held, never calls realloc there. Profiler lock held.
 * Returns 0 or -1 (out of memory: the caller skips the reap, counts stay as they are). */
static int reserve_free_list(void)
{
    size_t used = used_slots();
    int rc = buf_grow_array(&track_free, &track_free_cap, used ? used : 1, sizeof *track_free);
    publish_bookkeeping();
    return rc;
}

/* With the allocation lock held (no collection can clear links meanwhile; bdwgc's
 * lock, taken by gcheap_with_alloc_lock): counts every object whose link a collection
 * cleared as freed. No allocation here: reserve_free_list() made room first. Walks
 * every tracked slot: in exact mode with millions of objects this is the longest time
 * the profiler holds the allocation lock. */
static void *reap_locked(void *unused)
{
    (void)unused;
    size_t used = used_slots();
    for (size_t i = 0; i < used; i++) {
        struct tracked *t = slot_at(i);
        if (t->record == NO_RECORD || atomic_load_explicit(&t->link, memory_order_relaxed)) continue;
        release_tracked(i);
    }
    return NULL;
}

/* Reaps if a collection completed since the last reap. Profiler lock held. */
static void reap_if_collected(void)
{
    uint32_t done = atomic_load(&completed_collections);
    if (done == reaped_at_cycle) return;
    if (reserve_free_list() < 0) return;
    reaped_at_cycle = done;
    gcheap_with_alloc_lock(reap_locked, NULL);
}

/* ---- the sampling hook --------------------------------------------------------------- */

/* Whether an address-index entry still names its slot's object. Locked. */
static int address_current(void *ctx, uintptr_t hidden, uint32_t slot)
{
    (void)ctx;
    const struct tracked *t = slot_at(slot);
    return t->record != NO_RECORD && atomic_load_explicit(&t->link, memory_order_relaxed) == hidden;
}

/* Records obj under the profiler lock. Returns 0, or -1 when out of memory or at the
 * tracking limit (the caller counts the sample lost).
 * The link is stored last: from then on the mark-end walk watches the object. */
static int record_sample(void *obj, size_t size, const uintptr_t *pcs, int n, uint32_t cycle)
{
    double weight = heapsample_weight((double)size, atomic_load(&rate));
    struct record_key k = {stacks_intern(stacks, pcs, n), size, label_key, label_value};
    if (k.stack < 0) return -1;
    int rec = find_record(&k);
    if (rec < 0) return -1;
    long i = new_tracked();
    if (i < 0) return -1;
    struct tracked *t = slot_at((size_t)i);
    *weight_at((size_t)i) = (float)weight;
    records[rec].allocs += weight;
    t->record = (uint32_t)rec;
    t->cycle = cycle;
    track_live++;
    atomic_store_explicit(&t->link, gcheap_hide(obj), memory_order_relaxed);
    publish_bookkeeping();
    if (index_addresses) addrmap_put(&addresses, gcheap_hide(obj), (uint32_t)i, address_current, NULL);
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
    if (record_sample(obj, size, pcs, n, cycle) < 0)
        atomic_fetch_add_explicit(&samples_lost, 1, memory_order_relaxed);
    pthread_mutex_unlock(&lock);
    atomic_fetch_add_explicit(&samples_taken, 1, memory_order_relaxed);
    return draw_interval();
}

/* At the end of a collection's mark (world stopped, allocation lock held): clears the
 * link of every tracked object the mark did not reach, as a disappearing link would,
 * but with no bookkeeping in the collector's heap. A thread stopped while adding a
 * slot is harmless: slots are published initialised (link 0), and an object whose
 * link is already set is held by that thread, so marked. No allocation, no locks. In
 * exact mode this walk of every tracked object is part of the pause. */
static void clear_dead_links(void)
{
    size_t used = used_slots();
    for (size_t c = 0; c * TRACK_CHUNK < used; c++) {
        struct tracked *chunk = track_chunks[c]->slot;
        size_t n = used - c * TRACK_CHUNK < TRACK_CHUNK ? used - c * TRACK_CHUNK : TRACK_CHUNK;
        for (size_t j = 0; j < n; j++) {
            uintptr_t h = atomic_load_explicit(&chunk[j].link, memory_order_relaxed);
            if (h && !gcheap_survives_unlocked(h))
                atomic_store_explicit(&chunk[j].link, 0, memory_order_relaxed);
        }
    }
}

/* Collection listener: allocation lock held or world stopped. */
static void on_collection(enum gcevent ev, int thread, void *ctx)
{
    (void)thread; (void)ctx;
    if (ev == GCEV_MARK_END) clear_dead_links();
    if (ev == GCEV_END) atomic_fetch_add_explicit(&completed_collections, 1, memory_order_release);
}

int sampler_init(int64_t r)
{
    stacks_init();
    stacks = stacks_table_new();
    if (!stacks) return errors_fail(ENOMEM);
    if (gcevents_add_listener(on_collection, NULL) < 0) return -1;
    return sampler_set_rate(r);
}

int sampler_set_rate(int64_t r)
{
    if (r < 0) return errors_fail(EINVAL);
    atomic_store(&rate, r);
    if (r > 0) atomic_store(&last_rate, r);
    if (r == 0) gcheap_set_sampler(NULL, NULL);
    else gcheap_set_sampler(on_sampled_allocation, draw_interval);
    return 0;
}

int64_t sampler_rate(void) { return atomic_load(&rate); }

void sampler_track_explicit_frees(void) { index_addresses = 1; }

/* Clears the link as a collection would: the next reap counts the object freed. The
 * caller is the thread that frees obj, so no collection can find it dead meanwhile
 * and reuse its memory. */
int sampler_forget(const void *obj)
{
    uintptr_t hidden = gcheap_hide(obj);
    uint32_t slot;
    int forgotten = 0;
    pthread_mutex_lock(&lock);
    if (addrmap_take(&addresses, hidden, &slot) && address_current(NULL, hidden, slot)) {
        atomic_store_explicit(&slot_at(slot)->link, 0, memory_order_relaxed);
        forgotten = 1;
    }
    pthread_mutex_unlock(&lock);
    return forgotten;
}

void sampler_set_label(const char *key, const char *value)
{
    label_key = key;
    label_value = key ? value : NULL;
}

/* ---- snapshots ----------------------------------------------------------------------- */

/* count samples taken at rate `from`, expressed as samples at rate `to`. */
static uint64_t convert_count(uint64_t count, size_t size, int64_t from, int64_t to)
{
    if (from == to || count == 0) return count;
    return (uint64_t)llround((double)count * heapsample_weight((double)size, from) /
                             heapsample_weight((double)size, to));
}

/* An estimate of objects (a sum of weights) as raw samples at rate `to`. */
static uint64_t samples_at(double objects, size_t size, int64_t to)
{
    return (uint64_t)llround(objects / heapsample_weight((double)size, to));
}

struct inuse_walk { double *inuse; uint32_t collections; };

/* Allocation lock held: reaps cleared links and sums, per record, the weights of the
 * objects live as of the last completed collection. */
static void *reap_and_count_locked(void *arg)
{
    struct inuse_walk *w = arg;
    reap_locked(NULL);
    w->collections = atomic_load(&completed_collections);
    size_t used = used_slots();
    for (size_t i = 0; i < used; i++) {
        const struct tracked *t = slot_at(i);
        if (t->record != NO_RECORD && t->cycle < w->collections) w->inuse[t->record] += *weight_at(i);
    }
    return NULL;
}

int sampler_snapshot(struct sampler_snapshot *s, int collect_first)
{
    memset(s, 0, sizeof *s);
    if (collect_first) gcheap_collect();
    pthread_mutex_lock(&lock);
    int64_t to = atomic_load(&last_rate);
    struct inuse_walk w = {calloc(nrecords ? nrecords : 1, sizeof(double)), 0};
    s->records = calloc(nrecords ? nrecords : 1, sizeof *s->records);
    if (!w.inuse || !s->records || reserve_free_list() < 0) {
        pthread_mutex_unlock(&lock);
        free(w.inuse);
        free(s->records);
        s->records = NULL;
        return errors_fail(ENOMEM);
    }
    gcheap_with_alloc_lock(reap_and_count_locked, &w);
    reaped_at_cycle = w.collections;
    for (size_t id = 0; id < nrecords; id++) {
        const struct record *r = &records[id];
        struct heapsample *h = &s->records[id];
        h->pcs = stacks_get(stacks, r->stack, &h->npcs);
        h->size = r->size;
        h->label_key = r->label_key;
        h->label_value = r->label_value;
        h->alloc_count = samples_at(r->allocs, r->size, to);
        h->inuse_count = samples_at(w.inuse[id], r->size, to);
    }
    s->n = nrecords;
    pthread_mutex_unlock(&lock);
    free(w.inuse);
    s->rate = to;
    s->collections = w.collections;
    s->time_ns = clock_wall_ns();
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

void sampler__set_track_limit(size_t max)
{
    pthread_mutex_lock(&lock);
    track_limit = max < MAX_TRACKED ? max : MAX_TRACKED;
    pthread_mutex_unlock(&lock);
}

void sampler_stats(struct sampler_stats *st)
{
    pthread_mutex_lock(&lock);
    st->rate = (uint64_t)atomic_load(&rate);
    st->samples = atomic_load(&samples_taken);
    st->lost = atomic_load(&samples_lost);
    st->stacks = stacks ? stacks_count(stacks) : 0;
    st->records = nrecords;
    st->tracked = track_live;
    st->records_bytes = records_bytes();
    st->stacks_bytes = stacks ? stacks_bytes(stacks) : 0;
    st->tracked_bytes = tracked_bytes();
    st->bookkeeping_bytes = bookkeeping_bytes();
    pthread_mutex_unlock(&lock);
}
