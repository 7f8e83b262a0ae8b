/* lockprof: profiled mutexes and the mutex and block profiles. See lockprof.h.
 *
 * Charging waiters to holders: every waiter has a charge base, the time from which its
 * wait has not been charged to anyone yet: its arrival, or the last charging unlock if
 * that came later. An unlock that sees waiters charges
 *     waiters x now - sum of bases
 * (all their uncharged waiting) to its own stack and moves every base to now
 * (base_sum = waiters x now, last_charge = now); a waiter that gets the lock removes
 * max(arrival, last_charge), its current base, from the sum. So each nanosecond a
 * thread spends waiting is charged at most once, to the holder that released the lock
 * after it.
 *
 * Records live in a stacks table (interned stacks) with per-stack sums, under one
 * internal mutex that is never itself profiled. Everything is malloc'd.
 */
#include "profile/lockprof.h"

#include <stdlib.h>
#include <string.h>

#include "gc/clock.h"
#include "gc/errors.h"
#include "gc/gcheap.h"
#include "profile/buf.h"
#include "profile/pprof.h"
#include "profile/stacks.h"

struct sums { double count; int64_t delay_ns; };

struct table {
    struct stacks_table *stacks;
    struct sums *sums;              /* by stack id */
    size_t cap;
};

static _Atomic int64_t mutex_fraction = LOCKPROF_DEFAULT_MUTEX_FRACTION;
static _Atomic int64_t block_rate = LOCKPROF_DEFAULT_BLOCK_RATE;
static _Atomic uint64_t lost_events;   /* sampled events with no room to record them */
static pthread_mutex_t records_lock = PTHREAD_MUTEX_INITIALIZER;
static struct table tables[2];      /* by enum lockprof_kind */
static __thread uint64_t rng;

/* ---- switches ------------------------------------------------------------------ */

int lockprof_set_mutex_fraction(int64_t f)
{
    if (f < 0) return errors_fail(EINVAL);
    atomic_store(&mutex_fraction, f);
    return 0;
}

int64_t lockprof_mutex_fraction(void) { return atomic_load(&mutex_fraction); }

int lockprof_set_block_rate(int64_t r)
{
    if (r < 0) return errors_fail(EINVAL);
    atomic_store(&block_rate, r);
    return 0;
}

int64_t lockprof_block_rate(void) { return atomic_load(&block_rate); }

/* xorshift64*, per thread, seeded from the clock and the thread's stack address. */
static uint64_t next_random(void)
{
    if (!rng) rng = clock_mono_ns() ^ (uint64_t)(uintptr_t)&rng ^ 0x9e3779b97f4a7c15ull;
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

/* ---- records ------------------------------------------------------------------- */

/* Adds (count, delay) to the record of the caller's stack. Runs in the profiler's text
 * so that the capture starts at the caller of lockprof_lock/unlock. */
GCHEAP_ALLOC_TEXT static void add_record(enum lockprof_kind kind, double count, int64_t delay)
{
    uintptr_t pcs[STACKS_MAX_DEPTH];
    int n = stacks_capture(pcs, STACKS_MAX_DEPTH);
    struct table *t = &tables[kind];
    pthread_mutex_lock(&records_lock);
    if (!t->stacks) t->stacks = stacks_table_new();
    int id = t->stacks ? stacks_intern(t->stacks, pcs, n) : -1;
    size_t had = t->cap;
    if (id >= 0 && buf_grow_array(&t->sums, &t->cap, (size_t)id + 1, sizeof *t->sums) == 0) {
        memset(t->sums + had, 0, (t->cap - had) * sizeof *t->sums);
        t->sums[id].count += count;
        t->sums[id].delay_ns += delay;
    } else {
        atomic_fetch_add_explicit(&lost_events, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&records_lock);
}

/* Go's blockevent: waits of at least rate always, shorter ones with chance wait/rate,
 * unbiased by counting rate/wait events of rate ns. */
GCHEAP_ALLOC_TEXT static void block_event(int64_t wait)
{
    int64_t rate = atomic_load_explicit(&block_rate, memory_order_relaxed);
    if (wait <= 0) wait = 1;
    if (rate <= 0 || (rate > wait && (int64_t)(next_random() % (uint64_t)rate) > wait)) return;
    if (wait < rate) add_record(LOCKPROF_BLOCK, (double)rate / (double)wait, rate);
    else add_record(LOCKPROF_BLOCK, 1, wait);
}

/* Go's mutexevent: one event in `fraction`, standing for `fraction` events. */
GCHEAP_ALLOC_TEXT static void mutex_event(int64_t delay)
{
    int64_t f = atomic_load_explicit(&mutex_fraction, memory_order_relaxed);
    if (f <= 0 || next_random() % (uint64_t)f != 0) return;
    add_record(LOCKPROF_MUTEX, (double)f, delay * f);
}

/* ---- the profiled mutex -------------------------------------------------------- */

static int profiling(void)
{
    return atomic_load_explicit(&mutex_fraction, memory_order_relaxed) > 0 ||
           atomic_load_explicit(&block_rate, memory_order_relaxed) > 0;
}

GCHEAP_ALLOC_TEXT void lockprof_lock(struct lockprof_mutex *m)
{
    if (!profiling()) { pthread_mutex_lock(&m->mu); return; }
    if (pthread_mutex_trylock(&m->mu) == 0) return;
    int64_t arrived = (int64_t)clock_mono_ns();
    pthread_mutex_lock(&m->meta);
    atomic_fetch_add(&m->waiters, 1);
    m->base_sum += arrived;
    pthread_mutex_unlock(&m->meta);
    pthread_mutex_lock(&m->mu);
    int64_t got = (int64_t)clock_mono_ns();
    /* The unlock that let us in stored its time before unlocking (we were counted
     * among its waiters); an older one (before we arrived) means no such unlock: the
     * lock was free when we got to it. */
    int64_t released = atomic_load_explicit(&m->released, memory_order_relaxed);
    pthread_mutex_lock(&m->meta);
    m->base_sum -= arrived > m->last_charge ? arrived : m->last_charge;
    atomic_fetch_sub(&m->waiters, 1);
    pthread_mutex_unlock(&m->meta);
    block_event((released >= arrived && released <= got ? released : got) - arrived);
}

GCHEAP_ALLOC_TEXT void lockprof_unlock(struct lockprof_mutex *m)
{
    if (atomic_load_explicit(&m->waiters, memory_order_relaxed) == 0 || !profiling()) {
        pthread_mutex_unlock(&m->mu);
        return;
    }
    int64_t now = (int64_t)clock_mono_ns();
    atomic_store_explicit(&m->released, now, memory_order_relaxed);   /* ordered by the unlock */
    if (atomic_load_explicit(&mutex_fraction, memory_order_relaxed) <= 0) {
        pthread_mutex_unlock(&m->mu);
        return;
    }
    pthread_mutex_lock(&m->meta);
    int64_t w = atomic_load(&m->waiters);
    int64_t delay = w * now - m->base_sum;
    m->base_sum = w * now;
    m->last_charge = now;
    pthread_mutex_unlock(&m->meta);
    pthread_mutex_unlock(&m->mu);
    if (delay > 0) mutex_event(delay);
}

/* ---- snapshots and writers ----------------------------------------------------- */

void lockprof_stats(struct lockprof_stats *st)
{
    st->mutex_records = lockprof_count(LOCKPROF_MUTEX);
    st->block_records = lockprof_count(LOCKPROF_BLOCK);
    st->lost = atomic_load_explicit(&lost_events, memory_order_relaxed);
}

size_t lockprof_count(enum lockprof_kind kind)
{
    pthread_mutex_lock(&records_lock);
    size_t n = tables[kind].stacks ? stacks_count(tables[kind].stacks) : 0;
    pthread_mutex_unlock(&records_lock);
    return n;
}

int lockprof_snapshot(enum lockprof_kind kind, struct lockprof_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->time_ns = clock_wall_ns();
    pthread_mutex_lock(&records_lock);
    const struct table *t = &tables[kind];
    size_t n = t->stacks ? stacks_count(t->stacks) : 0;
    if (n > t->cap) n = t->cap;                  /* a stack whose sums could not grow */
    s->records = calloc(n ? n : 1, sizeof *s->records);
    if (s->records) {
        for (size_t i = 0; i < n; i++) {
            struct lockprof_record *r = &s->records[i];
            r->pcs = stacks_get(t->stacks, (int)i, &r->npcs);
            r->stack = (int)i;
            r->count = t->sums[i].count;
            r->delay_ns = t->sums[i].delay_ns;
        }
        s->n = n;
    }
    pthread_mutex_unlock(&records_lock);
    return s->records ? 0 : errors_fail(ENOMEM);
}

void lockprof_snapshot_delta(struct lockprof_snapshot *end, const struct lockprof_snapshot *start)
{
    for (size_t i = 0; i < start->n; i++) {
        int id = start->records[i].stack;           /* ids are dense: record id sits at id */
        if ((size_t)id >= end->n) continue;
        end->records[id].count -= start->records[i].count;
        end->records[id].delay_ns -= start->records[i].delay_ns;
    }
}

void lockprof_snapshot_free(struct lockprof_snapshot *s)
{
    free(s->records);
    s->records = NULL;
    s->n = 0;
}

static int by_delay_desc(const void *x, const void *y)
{
    const struct pprof_sample *a = x, *b = y;
    if (a->values[1] != b->values[1]) return a->values[1] < b->values[1] ? 1 : -1;
    return 0;
}

static const struct pprof_value_type contention_types[2] = {
    {"contentions", "count"}, {"delay", "nanoseconds"},
};

int lockprof_write(struct buf *out, const struct lockprof_snapshot *s, int debug,
                   int64_t duration_ns)
{
    size_t n = s->n ? s->n : 1, m = 0;
    struct pprof_sample *ps = calloc(n, sizeof *ps);
    int64_t *values = calloc(2 * n, sizeof *values);
    int rc = -1;
    if (ps && values) {
        for (size_t i = 0; i < s->n; i++) {
            const struct lockprof_record *r = &s->records[i];
            if ((int64_t)r->count <= 0 && r->delay_ns <= 0) continue;   /* empty in a delta */
            values[2 * m] = (int64_t)r->count;                 /* truncated, as Go */
            values[2 * m + 1] = r->delay_ns;
            ps[m] = (struct pprof_sample){r->pcs, r->npcs, &values[2 * m], NULL, 0};
            m++;
        }
        qsort(ps, m, sizeof *ps, by_delay_desc);
        struct pprof_desc d = {contention_types, 2, contention_types[0], 1, NULL, s->time_ns,
                               duration_ns};
        if (!debug) rc = pprof_write(out, &d, ps, m);
        else if (s->kind == LOCKPROF_MUTEX)
            rc = pprof_write_contention_text(out, "mutex", 1, ps, m,
                     "counts and delays are already multiplied by the mutexprofilefraction in force when each was recorded");
        else
            rc = pprof_write_contention_text(out, "contention", 0, ps, m, NULL);
    }
    free(ps);
    free(values);
    return rc;
}
