/* gcpacer: when memdemo collects, and how far its heap may grow.
 *
 * Owns: the collection trigger, with Go's meaning instead of bdwgc's. bdwgc's own rule
 * (collect after allocating about (2 x pointer data + pointer-free data / 4) / divisor
 * bytes, and only when the heap has no free block left) collects a heap of kept strings
 * far more often than Go would; so bdwgc's automatic collection is switched off and this
 * module decides:
 *   - GOGC: the next collection starts when the bytes allocated since the last one
 *     reach gogc% of the bytes that collection left in use, with Go's floor: the goal
 *     (in use + allocated) is at least GCPACER_HEAP_MINIMUM x gogc/100. Off: never, but
 *     for an explicit collection or the limits below.
 *   - a soft memory limit (GOMEMLIMIT's meaning): the goal is lowered so that the GC
 *     heap's mapped bytes plus the process's other resident memory stay under it, and
 *     collections near it return free pages to the OS (bdwgc's unmapping);
 *   - a hard cap on the GC heap (bdwgc's maximum heap size), which fails soft: work that
 *     keeps what it allocates (the leaker) runs in a bounded scope (gcheap.h) whose
 *     allocations are admitted here against the cap minus a reserve, and refused (the
 *     caller drops the work) once the kept heap, plus the bookkeeping that grows with it
 *     (gcpacer_set_outside), would not fit; everything else uses the reserve, so it goes
 *     on working at the cap.
 * Generational mode (gcheap.h): the same trigger starts a collection with
 * GC_start_incremental_collection (partial, or full every GCHEAP_FULL_FREQ-th time;
 * bdwgc's GC_gcollect would always be full), which runs its first slice at once; while
 * a collection is open every poll also runs a slice of it (GC_collect_a_little): the
 * threads that allocate pay for the marking, as Go's assists do. Collections at the
 * limits (make room at the cap, return pages near the memory limit) are full ones.
 * Leaves to others: the allocation paths (gcheap, which polls this module every
 * GCPACER_POLL_GAP bytes per thread and asks it for bounded grants), and pause
 * accounting (gcevents).
 *
 * "In use" is bdwgc's heap size minus its free bytes at the end of a collection: the
 * blocks that hold at least one live object (bdwgc frees wholly dead blocks at once and
 * sweeps the rest lazily), i.e. the live heap rounded up to blocks. "Allocated" is
 * bdwgc's own count of bytes handed out since the last collection (object sizes as the
 * heap stores them, rounded to 16-byte granules; a block that small strings are carved
 * from, gcheap.c, counts whole when the thread takes it).
 *
 * Why the goal stays Go's although stop-the-world mode pays for every collection with a
 * pause (measured on 2 cores, 8 MB leaked, /noleaker under wrk, before that mode carved
 * small strings too): between two collections memdemo allocates 0.94 bytes per byte in
 * use, Go 1.09-1.17 (Go's marked heap also holds what it allocated during its
 * concurrent mark, and memdemo's trigger comes GCPACER_TRIGGER_LEAD early), so memdemo
 * collects 15-25% more often per live byte but half as often per request (it allocated
 * 24 KB a request, Go about 56; carving the strings made that 12 KB and halved the
 * collections per request again). Each collection costs ~2.3 ms of CPU: 80% marking
 * the leaked list's pointers (~5 ns each), 10% clearing mark bits, 6% starting the
 * sweep, under 0.1% in memdemo's own collection listeners (bench/gc-cpu-profiles
 * GCPROF_MODE=stw GCPROF_MB=8). A goal of 2 x in use + 4 MiB halved the collections but
 * cut the CPU per request by only 5% (the larger heap misses the caches more) and
 * raised RSS from 24 to 28 MiB; a second marker thread (GC_MARKERS=2) made each
 * collection hold the lock longer (3.8 ms against 2.9).
 *
 * Threads: everything here is lock-free except where it says it collects (which takes
 * bdwgc's allocation lock). Nothing here may be called from a collection listener.
 */
#ifndef MEMDEMO_GCPACER_H
#define MEMDEMO_GCPACER_H

#include <stddef.h>
#include <stdint.h>

#include "gc/gcheap.h"

/* -gogc's default: Go's GOGC default. */
#define GCPACER_DEFAULT_GOGC 100
#define GCPACER_GOGC_OFF (-1)        /* -gogc off */
#define GCPACER_MAX_GOGC 1000000
/* Go's heapMinimum: at GOGC=100 no goal is below 4 MB (scaled by gogc/100). */
#define GCPACER_HEAP_MINIMUM ((uint64_t)4 << 20)
/* -memlimit's default: none (Go's default, math.MaxInt64, is none in practice). */
#define GCPACER_DEFAULT_MEMLIMIT 0
/* Each thread looks at the trigger at least every this many bytes it is handed (gcheap
 * polls its policy that often): the collection starts at most that much per thread
 * after the trigger. */
#define GCPACER_POLL_GAP GCHEAP_POLL_GAP
/* The trigger comes this much before the goal (at most a quarter of the way), because
 * the goal is the peak the heap in use should reach, not the point where collecting
 * starts (Go triggers early too): each thread's poll lags by up to GCPACER_POLL_GAP
 * bytes (a carved string counts its own bytes, an object its granules), and the thread
 * that decided to collect may wait for the allocation lock, or for a CPU, while the others
 * go on allocating; with less lead an empty heap's 4 MiB sometimes grew by a step. */
#define GCPACER_TRIGGER_LEAD ((uint64_t)512 << 10)
/* The hard cap may not be below this (room for the reserve and the server itself). */
#define GCPACER_MIN_MAXHEAP ((uint64_t)8 << 20)

struct gcpacer_settings {
    int gogc;            /* percent, or GCPACER_GOGC_OFF */
    uint64_t memlimit;   /* soft limit on memory, bytes; 0: none */
    uint64_t maxheap;    /* hard cap on the GC heap, bytes; 0: none */
    int generational;    /* gcheap's generational mode (see "Generational mode" above) */
};

/* -maxheap's default: half of the memory this process may use (the physical memory,
 * or the cgroup's memory.max if lower): the leaker is the only unbounded consumer, and
 * this leaves the machine the other half. 0 if neither can be read. Any thread. */
uint64_t gcpacer_default_maxheap(void);

/* Checks a cap against the initial heap: NULL if it is acceptable, else a static
 * one-line reason (for the flag error message). */
const char *gcpacer_check_maxheap(uint64_t maxheap, uint64_t initial_heap);

/* The goal (heap in use at which the next collection starts, Go's NextGC) for a
 * collection that left `live` bytes in use, under settings s, with `other` bytes of
 * resident memory outside the GC heap (counted against the memory limit) and a hard
 * cap of `cap` bytes (0: none). The one formula: the pacer and the tests use it. Pure. */
uint64_t gcpacer_goal(const struct gcpacer_settings *s, uint64_t live, uint64_t other, uint64_t cap);

/* For gc/gcpolicy.c: switches bdwgc's automatic collection off, installs the settings (the
 * cap becomes bdwgc's maximum heap size), and, on the first call only, the
 * end-of-collection listener and bdwgc's out-of-memory and warning hooks (the warning
 * hook passes every warning but the cap's "Out of Memory" to the printer installed
 * before it). gcheap_init() starts it with the defaults and gcheap_configure() again
 * with the command line's; any number of calls is fine. Main thread, after GC_INIT,
 * before any other thread allocates. */
void gcpacer__start(const struct gcpacer_settings *s);

/* For gcheap's allocation slow path: starts a collection if bytes allocated since the
 * last one have reached the budget. Only one thread collects for the pacer at a time;
 * the others go on. Registered thread, no lock held. */
void gcpacer__poll(void);

/* For gcheap's out-of-memory path (an infallible allocation got NULL from bdwgc at the
 * cap): collects now. Then, if `raise`, lifts bdwgc's maximum heap by a step above the
 * cap (counted: the cap was overrun) so that the allocation can succeed. Returns 1 if
 * it raised the cap. Registered thread, no lock held. */
int gcpacer__make_room(int raise);

/* For gcheap's bounded allocations: admits up to `want` (at least `need`) bytes that
 * will be kept, if the heap in use at the last collection plus every byte admitted
 * since stays within the kept limit (the cap minus its reserve). Returns the bytes
 * granted, 0 if even `need` does not fit (counted as a refusal). *epoch = the
 * collection count the grant belongs to: grants lapse at the next collection, which
 * counts what they allocated as in use. Lock-free. */
size_t gcpacer__grant(size_t want, size_t need, uint64_t *epoch);

/* For gcheap's bounded allocations: counts a refusal that came from bdwgc itself (the
 * cap reached although the grant fitted, e.g. a heap grown by garbage). Lock-free. */
void gcpacer__refused(void);

/* Bytes of malloc'd memory that grow with the kept heap, counted against the hard cap
 * beside it: the heap profiler's bookkeeping, which in exact mode is about as large as
 * the small objects it tracks (24 bytes per object). Its owner sets the current total
 * whenever it changes; bounded allocations are then admitted only while the heap in use
 * plus these bytes stay within the kept limit, so the cap bounds both. Lock-free; any
 * thread. */
void gcpacer_set_outside(uint64_t bytes);

/* Collections completed since start, as this module counts them (lock-free). */
uint64_t gcpacer_epoch(void);

/* Goal of the next collection (Go's NextGC), bytes of heap in use. Lock-free; also safe
 * in collection listeners that run after the pacer's (it recomputes it at GCEV_END). */
uint64_t gcpacer_next_gc(void);

struct gcpacer_stats {
    int gogc;                   /* GCPACER_GOGC_OFF when off */
    uint64_t memlimit;          /* 0: none */
    uint64_t maxheap;           /* the cap given; 0: none */
    uint64_t kept_limit;        /* bounded allocations stop here (0: no cap) */
    uint64_t heap_cap;          /* bdwgc's maximum heap now (above maxheap if overrun) */
    uint64_t live;              /* in use after the last collection */
    uint64_t next_gc;           /* goal of the next collection */
    uint64_t other_memory;      /* resident memory outside the GC heap, last measured */
    uint64_t outside;           /* bookkeeping counted against the cap (gcpacer_set_outside) */
    uint64_t paced;             /* collections the pacer started */
    uint64_t limit_unmaps;      /* of which ran near the memory limit, returning pages */
    uint64_t refused;           /* bounded allocations refused at the cap */
    uint64_t cap_overruns;      /* times an infallible allocation needed the cap raised */
    uint64_t limit_overruns;    /* ... or the heap let past the memory limit's room */
    uint64_t bdwgc_out_of_memory;   /* bdwgc allocation failures (its oom hook) */
    uint64_t assists;           /* generational: slices run by polls while one was open */
    uint64_t assist_ns;         /* time in them (allocation lock held, world running
                                   but for a world stop that ends a collection) */
};

/* X(name, field): the figures /debug/vars shows under "pacer". */
#define GCPACER_STATS_FIELDS(X)                                                               \
    X("gogc", gogc) X("memlimit", memlimit) X("maxheap", maxheap) X("keptlimit", kept_limit)  \
    X("heapcap", heap_cap) X("live", live) X("nextgc", next_gc) X("othermemory", other_memory) \
    X("bookkeeping", outside)                                                                 \
    X("paced", paced) X("limitunmaps", limit_unmaps) X("refused", refused)                    \
    X("capoverruns", cap_overruns) X("limitoverruns", limit_overruns)                         \
    X("outofmemory", bdwgc_out_of_memory)                                                     \
    X("assists", assists) X("assistns", assist_ns)

/* One snapshot of the figures above (relaxed atomics). Any thread; no lock. */
void gcpacer_stats(struct gcpacer_stats *st);

#endif
