/* sampler: memdemo's heap profiler core: which allocations are sampled, what is
 * recorded for them, how their frees are noticed, and the snapshots the writers use.
 *
 * Sampling follows Go's runtime.MemProfileRate: on average one sample per `rate`
 * bytes, at exponentially distributed byte intervals drawn per thread (a Poisson
 * process over allocated bytes), so an object of size s is sampled with probability
 * 1 - exp(-s/rate), which the writers undo (profile/pprof). rate 1 samples every
 * allocation; rate 0 turns the profiler off.
 *
 * Records are grouped by (stack, size, rate): memory grows with distinct stacks.
 * A sampled object is remembered by a hidden pointer registered as a disappearing
 * link (bdwgc 8.2 has no free hook): the collection that finds it unreachable clears
 * the link, and the next reap counts it freed. In-use figures are "as of the last
 * completed collection", like Go: an object allocated after it is not yet in use.
 *
 * Locking: one mutex (the profiler lock), taken only on sampled allocations and by
 * snapshots; lock order profiler lock -> bdwgc allocation lock. The collection
 * listener takes no lock (it only counts completed collections).
 */
#ifndef MEMDEMO_SAMPLER_H
#define MEMDEMO_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "profile/heapsample.h"

#define SAMPLER_DEFAULT_RATE (512 * 1024)

/* Installs the profiler at `rate` (0: off). Main thread, after gcheap_init(), before
 * serving. Returns 0 or -1 (out of memory). */
int sampler_init(int64_t rate);

/* Changes the rate at run time (0: off, 1: exact). Threads pick it up at their next
 * allocation. Records taken at the old rate stay correct (the rate is part of each
 * record). Any thread. Returns 0, or -1 for a negative rate. */
int sampler_set_rate(int64_t rate);
int64_t sampler_rate(void);

/* A consistent view of the profile: records[] with raw counts expressed at `rate`
 * (records sampled at another rate are converted), in malloc'd memory. */
struct sampler_snapshot {
    struct heapsample *records;
    size_t n;
    int64_t rate;                 /* the rate the counts are expressed at (>= 1) */
    uint64_t collections;         /* completed collections the in-use figures reflect */
    int64_t time_ns;              /* wall clock of the snapshot (ns since the epoch) */
};

/* Takes a snapshot; with collect_first, runs a full collection first so in-use
 * figures are exact as of now. Registered thread; takes the profiler lock and the
 * allocation lock. Returns 0 or -1 (out of memory; *s is then empty). */
int sampler_snapshot(struct sampler_snapshot *s, int collect_first);

/* Turns `end` into end - start, record by record (alloc and in-use counts; an in-use
 * count that shrank reports 0). Both must come from sampler_snapshot, start first. */
void sampler_snapshot_delta(struct sampler_snapshot *end, const struct sampler_snapshot *start);

void sampler_snapshot_free(struct sampler_snapshot *s);

/* Profiler bookkeeping for /debug/vars and tests. Takes the profiler lock. */
struct sampler_stats {
    int64_t rate;
    uint64_t samples;       /* sampled allocations so far */
    uint64_t stacks;        /* distinct stacks */
    uint64_t records;       /* distinct (stack, size, rate) records */
    uint64_t tracked;       /* sampled objects not yet seen freed */
    uint64_t bytes;         /* the profiler's own tables (malloc'd, outside the GC heap) */
};
void sampler_stats(struct sampler_stats *st);

#endif
