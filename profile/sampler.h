/* sampler: memdemo's heap profiler core: which allocations are sampled, what is
 * recorded for them, how their frees are noticed, and the snapshots the writers use.
 *
 * Sampling follows Go's runtime.MemProfileRate: on average one sample per `rate`
 * bytes, at exponentially distributed byte intervals drawn per thread (a Poisson
 * process over allocated bytes), so an object of size s is sampled with probability
 * 1 - exp(-s/rate), which the writers undo (profile/pprof). rate 1 samples every
 * allocation; rate 0 turns the profiler off. Sizes are what bdwgc handed out
 * (gcheap_size), the unit of its TotalAlloc and HeapInuse.
 *
 * Records are grouped by (stack, size, label), as Go groups its buckets by (stack,
 * size): memory grows with distinct stacks, sizes and labels, not with traffic nor with
 * changes of the rate. A record counts objects as an estimate (each sample adds the
 * number of objects it stood for at the rate it was taken at, heapsample_weight), so
 * samples taken at different rates add up, and snapshots express the sum at one rate. A sampled object is remembered by a hidden
 * pointer (bdwgc 8.2 has no free hook): at the end of each collection's mark, with
 * the world stopped, every tracked object the mark did not reach has its pointer
 * cleared, and the next reap counts it freed. Nothing of this is in the GC heap:
 * exact mode adds nothing to HeapInuse. In-use figures are "as of the last completed
 * collection", like Go: an object allocated after it is not yet in use.
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
 * serving. Returns 0, or -1 with errno = ENOMEM, ENOSPC (no collection listener slot
 * left) or EINVAL (a negative rate). */
int sampler_init(int64_t rate);

/* Changes the rate at run time (0: off, 1: exact). Threads pick it up at their next
 * allocation. Samples taken at the old rate stay correct (each keeps the weight of the
 * rate it was taken at). Any thread. Returns 0, or -1 with errno = EINVAL for a negative rate. */
int sampler_set_rate(int64_t rate);
int64_t sampler_rate(void);

/* For a program that frees objects itself (bdwgc's GC_free, realloc): keeps an index
 * of tracked objects by address (about 32 bytes per tracked object) so that
 * sampler_forget() can find them. Once, at start-up, before the first sample. */
void sampler_track_explicit_frees(void);

/* The program frees obj (the start of a GC object) itself: if a sample tracks it, the
 * profile counts it freed from now on. Returns 1 if it was tracked, else 0 (also when
 * sampler_track_explicit_frees() was not called). Takes the profiler lock; the thread
 * that frees obj, before the memory can be reused; not in a collection listener. */
int sampler_forget(const void *obj);

/* Sets the label that this thread's sampled allocations carry from now on, e.g.
 * ("route", "/leaker") while it serves a request; key NULL: none. Both strings must
 * live as long as the process (literals, a static table): records keep the pointers
 * and compare them by address. Thread-local, lock-free, two stores; any thread. */
void sampler_set_label(const char *key, const char *value);

/* A consistent view of the profile: records[] with raw counts expressed at `rate`
 * (the estimated objects divided by what one sample at `rate` stands for; samples
 * taken at other rates are so converted), in malloc'd memory. */
struct sampler_snapshot {
    struct heapsample *records;
    size_t n;
    int64_t rate;                 /* the rate the counts are expressed at (>= 1) */
    uint64_t collections;         /* completed collections the in-use figures reflect */
    int64_t time_ns;              /* wall clock of the snapshot (ns since the epoch) */
};

/* Takes a snapshot; with collect_first, runs a full collection first so in-use
 * figures are exact as of now. Registered thread; takes the profiler lock and the
 * allocation lock. Returns 0, or -1 with errno = ENOMEM (*s is then empty). */
int sampler_snapshot(struct sampler_snapshot *s, int collect_first);

/* Turns `end` into end - start, record by record (alloc and in-use counts; an in-use
 * count that shrank reports 0). Both must come from sampler_snapshot, start first. */
void sampler_snapshot_delta(struct sampler_snapshot *end, const struct sampler_snapshot *start);

void sampler_snapshot_free(struct sampler_snapshot *s);

/* Profiler bookkeeping for /debug/vars and debug=1. All of it is malloc'd memory,
 * outside the GC heap (none of it is in HeapInuse); tracking costs 24 bytes per
 * tracked object (its slot, its weight, its place on the free list) plus a 512 KiB
 * chunk table. Takes the profiler lock. */
struct sampler_stats {
    uint64_t rate;
    uint64_t samples;            /* sampled allocations so far */
    uint64_t lost;               /* of which not recorded: out of memory, or the
                                    tracked-object table full */
    uint64_t stacks;             /* distinct stacks */
    uint64_t records;            /* distinct (stack, size, label) records */
    uint64_t tracked;            /* sampled objects not yet seen freed */
    uint64_t records_bytes;      /* records and their index */
    uint64_t stacks_bytes;       /* interned stacks and their index */
    uint64_t tracked_bytes;      /* tracked-object table and its free list */
    uint64_t bookkeeping_bytes;  /* the three above */
};
void sampler_stats(struct sampler_stats *st);

/* X(name, field, kind, metric, help): the figures every report prints (/debug/vars
 * "profiler", the debug=1 profile's trailer, /metrics); kind gauge, counter or none
 * (no /metrics family). */
#define SAMPLER_STATS_FIELDS(X)                                                                       \
    X("memprofilerate", rate, gauge, "memdemo_profiler_rate_bytes",                                    \
      "Heap profiler: bytes allocated per sample on average (0: off).")                                \
    X("samples", samples, counter, "memdemo_profiler_samples", "Heap profiler: allocations sampled.") \
    X("lost_samples", lost, counter, "memdemo_profiler_lost_samples",                                  \
      "Heap profiler: sampled allocations not recorded (out of memory or tracking table full).")       \
    X("stacks", stacks, gauge, "memdemo_profiler_stacks", "Heap profiler: distinct stacks recorded.")  \
    X("records", records, none, NULL, NULL)                                                             \
    X("tracked", tracked, gauge, "memdemo_profiler_tracked_objects",                                   \
      "Heap profiler: sampled objects not yet seen freed.")                                            \
    X("records_bytes", records_bytes, none, NULL, NULL)                                                 \
    X("stacks_bytes", stacks_bytes, none, NULL, NULL)                                                   \
    X("tracked_bytes", tracked_bytes, none, NULL, NULL)                                                 \
    X("bookkeeping_bytes", bookkeeping_bytes, gauge, "memdemo_profiler_memory_bytes",                  \
      "Heap profiler: bytes of its own tables, outside the GC heap.")

/* For tests: tracks at most max sampled objects at once (at most the table's own
 * limit, 268 M, which is also the default), so that a test can make samples be lost.
 * A sample that finds the table full is counted in `lost`. Takes the profiler lock. */
void sampler__set_track_limit(size_t max);

#endif
