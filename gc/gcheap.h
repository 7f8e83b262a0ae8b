/* gcheap: memdemo's garbage-collected heap, the only allocation API the rest of the
 * program uses.
 *
 * Owns: bdwgc initialisation and tuning, the two allocation kinds (objects that hold
 * pointers, pointer-free data), bounded allocation (work that keeps what it allocates
 * fails soft at the heap cap), the per-thread countdown that feeds the heap profiler
 * and polls the pacer, explicit collections, and the heap statistics /debug/vars
 * publishes. Leaves to others: when to collect and the heap's limits (gcpacer.h),
 * thread registration (gcthreads.h), collection events and pause accounting
 * (gcevents.h), what a sampled allocation records (profile/sampler).
 *
 * Errors (gc/errors.h; allocation is its rule 5): outside a bounded scope allocation
 * never returns NULL: at the cap it collects and retries, then overruns the cap by a
 * step (counted), and only when the system itself refuses memory does it print one
 * line and abort. Inside a bounded scope it returns NULL instead of growing the kept
 * heap past the cap. Every function is safe to call from any thread registered with
 * gcthreads_enter() unless it says otherwise.
 *
 * Two halves: the FRONT END (initialisation, allocation, the sampling countdown,
 * collections: gcheap.c in memdemo, gcinterpose.c in libgcprof, which watches a
 * foreign program's own calls) and the observer functions every front end shares
 * (gcview.c: sizes, hidden pointers, marks, the allocation lock, statistics).
 * Functions marked [front end] below are defined by whichever front end is linked;
 * those marked [accounts] by gcaccount.c, the per-thread accounts both front ends keep.
 */
#ifndef MEMDEMO_GCHEAP_H
#define MEMDEMO_GCHEAP_H

#include <stddef.h>
#include <stdint.h>

/* GC heap reserved at start, -gcinitheap's default: the heap /noleaker traffic settles
 * at, so start-up does not grow it step by step. */
#define GCHEAP_DEFAULT_INITIAL_HEAP ((size_t)4 << 20)

/* Marker threads per collection in memdemo's policy (gcheap_init). One, not bdwgc's
 * one per CPU: the leaker's heap is a
 * chain of chunks, which one thread has to follow link by link, so a second marker
 * mostly waits for work. Measured on 2 cores (11 M kept strings, 266 MB heap): a
 * collection took 66-75 ms of CPU with one marker and 130 ms with two, and no less
 * time stopped (best of 20: 124 ms against 156 ms); /noleaker spent 36 us of CPU per
 * request against 41 us at 256 MB leaked, the same on an empty heap. bdwgc's
 * GC_MARKERS environment variable overrides it. */
#define GCHEAP_MARKERS 1

/* How bdwgc collects (-gcmode):
 *   - stop-the-world: every collection marks the whole live heap with the world
 *     stopped (bdwgc's default; a pause grows with the live heap);
 *   - generational: bdwgc's incremental mode with memdemo's own write barrier
 *     (gcgen.h) feeding its manual dirty bits. Most collections are partial: they mark
 *     only what was allocated or written since the last one, so their pauses depend on
 *     the young heap and the written pages, not on the live heap; every
 *     GCHEAP_FULL_FREQ-th collection, and every explicit or limit collection, is full.
 *     A full collection the pacer starts marks incrementally, in slices of about
 *     GCHEAP_TIME_LIMIT_MS with the world stopped, between which the threads that
 *     allocate help (gcpacer.h); an explicit one (?gc=1) stops the world for all of it. */
enum gcheap_mode { GCHEAP_STW, GCHEAP_GENERATIONAL, GCHEAP_MODES };

/* -gcmode's default. */
#define GCHEAP_DEFAULT_MODE GCHEAP_STW

/* The mode's name for -gcmode, /debug/vars and /metrics ("stw", "generational"). */
const char *gcheap_mode_name(enum gcheap_mode mode);

/* The mode named `name`; -1 for a name that is none. Pure. */
int gcheap_mode_parse(const char *name);

/* The mode gcheap_init_with() set (GCHEAP_STW before it). Any thread. */
enum gcheap_mode gcheap_mode(void);

/* Generational mode: after GCHEAP_FULL_FREQ partial collections the next is full
 * (bdwgc's GC_set_full_freq; bdwgc also makes one full when the heap in use grew by
 * more than it would allocate between two collections). Measured with 256 MB leaked,
 * /noleaker for 3 x 8 s per setting, rotated, load average 16 on 2 cores: 4 gave 6
 * full of 32 collections, a median 23.3k req/s and 574 MB of RSS; 16 gave 1 of 31,
 * 27.2k, 566 MB; 64 gave 0 of 32, 26.0k, 565 MB. Full collections there reclaim little
 * (the old garbage is the in-flight requests' lists a partial collection promoted), so
 * fewer cost nothing measurable in RSS, and past 16 nothing in throughput either.
 * A full collection the pacer starts stops the world for about GCHEAP_TIME_LIMIT_MS at
 * a time (GC_set_time_limit, set when bdwgc announces a full collection and lifted
 * when it ends), then marks on in slices. A partial one runs in one stop: every stop of
 * a collection walks every block header (about 25 ms at 1 GB, under load) before it
 * looks at the dirty pages, so slicing a partial collection multiplies that walk
 * (measured at 1 GB: a median 26 ms per partial collection, up to 517 ms, with 5 ms
 * slices). */
#define GCHEAP_FULL_FREQ 16
#define GCHEAP_TIME_LIMIT_MS 5

/* Each thread's allocation slow path runs at least every this many bytes it is handed
 * (an object's whole granules, a carved string's own bytes): that is when the
 * collection policy is polled. */
#define GCHEAP_POLL_GAP ((intptr_t)16 << 10)

/* --- collection policy -----------------------------------------------------------
 * What gcheap asks when allocation meets the collector: memdemo's is gcpacer (Go's
 * GOGC, GOMEMLIMIT and a hard cap); a host program that keeps bdwgc's own trigger
 * passes none. Every hook is called on an allocating registered thread, never inside
 * a collection listener. Without a policy: bdwgc's automatic collection stays on,
 * poll does nothing, a failed allocation collects once and then aborts, a bounded
 * scope is granted whatever it asks, and NextGC reads 0 (no goal is known). */
struct gcheap_policy {
    void (*poll)(void);                    /* every GCHEAP_POLL_GAP bytes per thread */
    int (*make_room)(int raise);           /* an infallible allocation got NULL; 1: raised the cap */
    size_t (*grant)(size_t want, size_t need, uint64_t *epoch);   /* bounded scopes (0: refused) */
    void (*refused)(void);                 /* bdwgc refused a granted bounded allocation */
    uint64_t (*epoch)(void);               /* grants lapse when this changes */
    uint64_t (*next_gc)(void);             /* goal of the next collection (NextGC) */
    void (*outside)(uint64_t bytes);       /* memory outside the GC heap to count against
                                              the cap (gcheap_report_outside) */
};

struct gcheap_setup {
    int markers;                           /* marker threads; 0: bdwgc's default */
    /* Whether a loaded object's data segments are GC roots (dso_name "" is the main
     * program); NULL: all of them. Called with the world stopped: no allocation, no
     * locks. */
    int (*is_root)(const char *dso_name);
    const struct gcheap_policy *policy;    /* NULL: none (see above); must outlive the process */
    enum gcheap_mode mode;                 /* how bdwgc collects; GCHEAP_STW (0) is its default */
};

/* Initialises bdwgc with setup s (NULL: bdwgc's defaults throughout). Call once, from
 * main(), before any other gc/ function and before any other thread exists. Also
 * allows later threads to register themselves. For a program that does not want
 * memdemo's policy; it links neither gc/gcpolicy.c nor gc/gcpacer.c. */
void gcheap_init_with(const struct gcheap_setup *s);

/* Tells the policy how many bytes of malloc'd bookkeeping outside the GC heap grow
 * with it (the heap profiler's tables, which in exact mode track every live object),
 * so that a heap cap can count them; without a policy it does nothing. Any thread; no
 * GC allocation, no lock of gc/'s. */
/* [front end] */
void gcheap_report_outside(uint64_t bytes);

/* Initialises bdwgc with memdemo's policy: GCHEAP_MARKERS markers, only the main
 * program's data as roots, and the pacer at its defaults, in stop-the-world mode
 * (gcheap_init_mode(GCHEAP_STW)). Same rules as gcheap_init_with(). Defined in
 * gc/gcpolicy.c, which brings in gc/gcpacer.c. */
void gcheap_init(void);

/* The same in `mode` (-gcmode), the pacer driving generational mode's collections
 * (gcpacer.h). In generational mode, the environment variable GCGEN_CHECK_ENV switches
 * on the write barrier's debug check (gcgen.h). Defined in gc/gcpolicy.c. */
void gcheap_init_mode(enum gcheap_mode mode);

/* bdwgc's environment variables that would defeat one of memdemo's settings, read by
 * bdwgc at GC_INIT: X(variable, what it does here, fatal). A fatal one makes the heap
 * unbounded whatever the flags say (nothing would ever be freed), so memdemo refuses
 * to start rather than run a cap that cannot hold; the others are overridden by a flag
 * or change what a flag means, and are reported. bdwgc acts on GC_DONT_GC and
 * GC_FIND_LEAK when they are set at all, whatever their value ("0" included). */
#define GCHEAP_ENV_CONFLICTS(X)                                                           \
    X("GC_DONT_GC", "turns every collection off: -gogc, -memlimit, -maxheap and ?gc=1 "   \
      "could not work and the heap would grow until the system refused memory", 1)        \
    X("GC_FIND_LEAK", "makes bdwgc report unreachable objects instead of freeing them: "  \
      "the heap would only grow, whatever -maxheap says", 1)                              \
    X("GC_MAXIMUM_HEAP_SIZE", "is ignored: -maxheap sets bdwgc's maximum heap", 0)       \
    X("GC_FREE_SPACE_DIVISOR", "is ignored: memdemo's pacer (-gogc) decides when to "     \
      "collect and sets the divisor itself", 0)                                           \
    X("GC_INITIAL_HEAP_SIZE", "makes the start heap larger than -gcinitheap says (bdwgc " \
      "grows to it first)", 0)

struct gcheap_env_conflict {
    const char *name;      /* "GC_DONT_GC" */
    const char *value;     /* as set in the environment */
    const char *effect;    /* one clause, from GCHEAP_ENV_CONFLICTS */
    int fatal;             /* 1: memdemo must not start */
};

/* The variables of GCHEAP_ENV_CONFLICTS set in this process's environment, in the
 * table's order, into out (at most max); returns how many. getenv only: call from
 * main() before any thread exists (before gcheap_init, which they would act on). */
int gcheap_env_conflicts(struct gcheap_env_conflict *out, int max);

struct gcheap_config {
    size_t initial_heap;   /* bytes to grow the heap to now; 0: bdwgc's default */
    int gogc;              /* pacing, percent (gcpacer.h); GCPACER_GOGC_OFF: off */
    uint64_t memlimit;     /* soft memory limit, bytes; 0: none */
    uint64_t maxheap;      /* hard cap on the GC heap, bytes; 0: none */
};

/* Applies c: grows the heap, hands pacing and limits to gcpacer (bdwgc's automatic
 * collection goes off). Main thread, after gcheap_init(), before serving; the limits
 * are checked by the caller (gcpacer_check_maxheap). Defined in gc/gcpolicy.c. */
void gcheap_configure(const struct gcheap_config *c);

/* Allocates n zeroed bytes that may hold pointers to other GC objects (they are
 * scanned). Never NULL outside a bounded scope. May run a collection, and so
 * collection listeners, on the calling thread. Caller: a registered thread. */
void *gcheap_alloc(size_t n);

/* Allocates n bytes of pointer-free data (never scanned; e.g. string bytes). Contents
 * are NOT zeroed. Never NULL outside a bounded scope. Same threading rules as
 * gcheap_alloc(). In both modes a request of up to 64 bytes is usually carved from a
 * block it shares with the thread's other small data (gcheap.c): the result is then a
 * pointer into that block, not the start of a GC object (gcheap_size() and
 * gcheap_hide() do not apply to it), unaligned, and it keeps the whole block alive. */
void *gcheap_alloc_data(size_t n);

/* --- bounded allocation ----------------------------------------------------------
 * For work that keeps what it allocates (the leaker): between gcheap_bounded_begin()
 * and gcheap_bounded_end() on one thread, each allocation is admitted against the
 * kept-heap limit (the cap minus its reserve, gcpacer.h); the first that does not fit
 * returns NULL, and so does every later allocation of the scope, so the caller may
 * just stop, drop what it made (garbage then) and report the refusal at the end.
 * Without a cap every allocation is admitted. Scopes do not nest. */
void gcheap_bounded_begin(void);

/* Ends the scope. Returns 0, or -1 with errno = ENOMEM if an allocation in it was
 * refused. */
int gcheap_bounded_end(void);

/* Bytes an allocation of n bytes takes in the heap (bdwgc's granules and blocks,
 * approximately): what bounded allocations are charged. Pure. */
size_t gcheap_footprint(size_t n);

/* [front end] Runs a full, stop-the-world collection now (in generational mode too)
 * and returns when it has finished. Caller: a registered thread. (libgcprof: see
 * gcinterpose.h.) */
void gcheap_collect(void);

/* [front end] A forced collection asked for by a client (?gc=1): one that others may share, so that
 * clients cannot keep the world stopped. A call that finds one running waits for it and
 * shares it; a call within GCHEAP_FORCED_GAP_FACTOR times the last forced collection's
 * length after its end reuses it too; otherwise it collects (gcheap_collect). Either
 * way, on return the figures are those of a forced collection that ended at most that
 * gap ago, and forced collections stop the world at most 1/(1 + factor) of the time,
 * however many clients ask. Returns 1 if this call collected, 0 if it shared.
 * Registered thread, no lock held. */
int gcheap_collect_shared(void);

/* A forced collection is reused for this many times its own length after it ends: at
 * most a tenth of the time goes to forced collections. */
#define GCHEAP_FORCED_GAP_FACTOR 9

/* Runs the collection the pacer would start now and returns when it has ended: in
 * generational mode a partial one (a full one when bdwgc's turn for one has come), in
 * stop-the-world mode a full one. For tests and tools. Caller: a registered thread. */
void gcheap_collect_paced(void);

/* [front end] Forced collections so far: run by gcheap_collect_shared, and shared
 * instead of run. Lock-free. */
void gcheap__forced_counts(uint64_t *runs, uint64_t *shared);

/* [front end] The heap in use at which the next collection is expected (the pacer's
 * goal; 0 when the front end cannot tell). Lock-free; safe in listeners. */
uint64_t gcheap__next_gc(void);

/* --- sampling hook -------------------------------------------------------------
 * Each thread keeps a countdown of bytes; every allocation subtracts the size bdwgc
 * handed out for it (see gcheap_size()). When the countdown goes below zero the
 * allocation is handed to the sampler, which returns the next countdown. Unsampled
 * allocations pay one thread-local subtract and compare (and, for requests of 384
 * bytes and more, one GC_size call): no lock, no system call. */

/* Called for a sampled allocation, on the allocating thread, after the object exists;
 * `size` is what bdwgc handed out (gcheap_size(obj)), not what was asked for, except
 * for a small string sampled in place of carved ones: the bytes carved strings cost
 * (gcheap.c's string_object()).
 * Not inside a GC callback: it may lock and call gc/ (not allocate GC memory with the
 * profiler's own lock held). Returns the number of bytes until the next sample. */
typedef intptr_t (*gcheap_sample_fn)(void *obj, size_t size);

/* Returns a fresh countdown (bytes until the next sample) for a thread that has none
 * yet or whose countdown was reset: 0 when, and only when, every allocation is to be
 * sampled (exact mode, in which small strings are not carved: see gcheap.c). Lock-free. */
typedef intptr_t (*gcheap_interval_fn)(void);

/* [accounts] Installs the sampler (both NULL removes it). Then resets every thread's countdown
 * so the next allocation of each thread draws a new interval: call it again after
 * changing the sampling rate. Any thread. */
void gcheap_set_sampler(gcheap_sample_fn sample, gcheap_interval_fn interval);

/* [accounts] Forces every registered thread to draw a new interval at its next allocation (used
 * when the rate changes at run time); that allocation is sampled only if the new
 * interval says so. Any thread; a reset may be lost in a race with a thread's own
 * allocation, which then picks up the change at its next sample. */
void gcheap_reset_sample_countdowns(void);

/* Marks the text of functions that belong to the allocator or the profiler, so that
 * stack capture can cut them off and the caller of gcheap_alloc*() is the top frame.
 * The linker provides __start_/__stop_memdemo_alloc_text around that text. */
#define GCHEAP_ALLOC_TEXT __attribute__((section("memdemo_alloc_text"), noinline))
int gcheap_pc_is_alloc_text(uintptr_t pc);
/* The same text as a range [*lo, *hi) (for an unwinder that cuts by range). */
void gcheap__alloc_text_range(uintptr_t *lo, uintptr_t *hi);

/* [accounts] Bytes handed out by gcheap_alloc*() since start by all threads (gcheap_size() of
 * each object, the unit of bdwgc's own TotalAlloc), as credited on the slow path: each
 * thread's share lags by at most GCHEAP_POLL_GAP (16 KiB) in memdemo, by up to a sample
 * interval in libgcprof (no policy to poll). Unlike bdwgc's own figures
 * it moves between collections. Lock-free, no allocation: safe in collection listeners
 * and on hot paths. */
uint64_t gcheap_allocated_total(void);

/* --- statistics ------------------------------------------------------------------ */
struct gcheap_stats {
    uint64_t collections;          /* collections counted since start (gcevents: each has
                                      its pause; bdwgc's own at GC_INIT is not one), Go's NumGC */
    uint64_t heap_size;            /* bytes the GC heap spans, unmapped parts included */
    uint64_t free_bytes;           /* of which free, unmapped parts included */
    uint64_t unmapped_bytes;       /* of which returned to the OS */
    uint64_t in_use_bytes;         /* heap_size - free (free includes unmapped) */
    uint64_t total_allocated;      /* bytes allocated since start (approx., bdwgc's) */
    uint64_t allocated_since_gc;   /* bytes allocated since the last collection */
    uint64_t reclaimed_last_gc;    /* bytes the last collection reclaimed (approx.) */
    uint64_t pause_total_ns;       /* sum of stop-the-world pauses */
    uint64_t pause_max_ns;         /* longest stop-the-world pause */
    uint64_t pause_last_ns;        /* the last one */
    uint64_t blocked_total_ns;     /* sum of the times collections held the allocation lock
                                      (pause plus the work around it: gcevents.h) */
    uint64_t blocked_max_ns;       /* longest of them */
    uint64_t blocked_last_ns;      /* the last one */
    uint64_t in_use_after_gc;      /* in_use_bytes as the last collection ended */
    uint64_t next_gc;              /* heap in use at which the next collection starts: the
                                      policy's goal (gcpacer_next_gc); 0 without one */
    uint64_t last_gc_unix_ns;      /* wall clock when the last collection ended, 0 = none */
    uint64_t obtained_from_os;     /* bytes bdwgc got from the OS (heap and its own
                                      structures), unmapped parts included; never falls */
    uint64_t forced_collections;   /* collections gcheap_collect_shared ran (Go's NumForcedGC) */
    uint64_t forced_shared;        /* gcheap_collect_shared calls that shared one instead */
};

/* X(name, field, kind, metric, help): the figures every report prints (/debug/vars
 * memstats, the debug=1 profile's trailer, /metrics), named as in Go's
 * runtime.MemStats where the meaning matches (HeapIdle = free bytes, HeapReleased =
 * unmapped bytes), and in /metrics as client_golang's Go collector names them where
 * bdwgc's figure means the same. kind: gauge, counter, seconds (a gauge of ns shown in
 * seconds), or none (no family of its own: NumGC and PauseTotalNs are
 * go_gc_duration_seconds' _count and _sum, the others have no Go name). */
#define GCHEAP_STATS_FIELDS(X)                                                                          \
    X("NumGC", collections, none, NULL, NULL)                                                            \
    X("HeapSys", heap_size, gauge, "go_memstats_heap_sys_bytes",                                         \
      "Bytes the GC heap spans, unmapped parts included.")                                               \
    X("HeapIdle", free_bytes, gauge, "go_memstats_heap_idle_bytes",                                      \
      "Heap bytes in free blocks, unmapped ones included.")                                              \
    X("HeapReleased", unmapped_bytes, gauge, "go_memstats_heap_released_bytes",                          \
      "Free heap bytes returned to the OS (unmapped).")                                                  \
    X("HeapInuse", in_use_bytes, gauge, "go_memstats_heap_inuse_bytes",                                  \
      "Heap bytes in blocks that hold objects (heap size minus free blocks).")                           \
    X("TotalAlloc", total_allocated, counter, "go_memstats_alloc_bytes",                                 \
      "Bytes allocated on the GC heap since start, whether still live or not.")                          \
    X("AllocSinceGC", allocated_since_gc, gauge, "memdemo_gc_allocated_since_gc_bytes",                 \
      "Bytes allocated since the last collection.")                                                      \
    X("PauseTotalNs", pause_total_ns, none, NULL, NULL)                                                  \
    X("MaxPauseNs", pause_max_ns, none, NULL, NULL)                                                      \
    X("LastPauseNs", pause_last_ns, none, NULL, NULL)                                                    \
    X("AllocBlockedTotalNs", blocked_total_ns, none, NULL, NULL)                                         \
    X("MaxAllocBlockedNs", blocked_max_ns, none, NULL, NULL)                                             \
    X("LastAllocBlockedNs", blocked_last_ns, none, NULL, NULL)                                           \
    X("NextGC", next_gc, gauge, "go_memstats_next_gc_bytes",                                             \
      "Estimated heap bytes in use at which the next collection starts.")                                \
    X("LastGC", last_gc_unix_ns, seconds, "go_memstats_last_gc_time_seconds",                            \
      "When the last collection ended, in seconds since the Unix epoch (0: none yet).")                  \
    X("Sys", obtained_from_os, gauge, "go_memstats_sys_bytes",                                           \
      "Bytes the collector has taken from the OS for its heap and its own tables.")                      \
    X("HeapInuseAfterGC", in_use_after_gc, gauge, "memdemo_gc_heap_inuse_after_gc_bytes",               \
      "Heap bytes in use as the last collection ended: what it could not reclaim.")                      \
    X("NumForcedGC", forced_collections, counter, "memdemo_gc_forced_collections",                      \
      "Collections run on request (?gc=1), each shared by the requests that came while it ran.")         \
    X("ForcedGCShared", forced_shared, counter, "memdemo_gc_forced_collection_shares",                   \
      "Requests for a collection (?gc=1) answered by sharing one that ran or had just run.")

/* bdwgc's version as "major.minor.micro" into out (size n). Any thread. */
void gcheap_version(char *out, size_t n);

/* Fills *st with one consistent snapshot. Takes the allocation lock; never call from
 * a collection listener (use gcheap_stats_unlocked() there). Any registered thread.
 * On a thread that may not call bdwgc (gcthreads_may_call_collector() is 0: a
 * profiler thread in a foreign program) the figures are those cached at the end of
 * the last collection (zero before the first; see gcheap__cache_stats_at_collections),
 * with the pause figures current. */
void gcheap_stats(struct gcheap_stats *st);

/* Makes the end of every collection cache its figures for gcheap_stats() on threads
 * that may not call bdwgc. Once, at start-up (libgcprof). Returns 0, or -1 when
 * gcevents has no free listener slot. */
int gcheap__cache_stats_at_collections(void);

/* The same without taking the lock: only from a collection listener (lock held or
 * world stopped). No allocation, no locks. */
void gcheap_stats_unlocked(struct gcheap_stats *st);

/* Runs fn(arg) with the allocation lock held: no collection can run meanwhile. fn
 * must not allocate GC memory nor take a lock that an allocating thread may hold
 * while it allocates. Returns fn's result. On a thread that may not call bdwgc
 * (gcthreads_may_call_collector() is 0) fn runs WITHOUT the lock, concurrently with
 * collections: only for walks that tolerate a collection clearing links meanwhile
 * (such a walk sees the state before or after it, object by object). */
void *gcheap_with_alloc_lock(void *(*fn)(void *), void *arg);

/* Runs fn(arg) with the calling thread in bdwgc's "blocking" state: collections do
 * not stop it (one thread fewer to signal in every pause), so fn must neither touch
 * GC memory nor hold the only reference to a GC object. For a thread that waits a
 * long time (main() waiting for a signal). Returns fn's result. Registered thread. */
void *gcheap_blocking(void *(*fn)(void *), void *arg);

/* The bytes bdwgc handed out for obj (bdwgc's GC_size): the request plus the one byte
 * bdwgc adds so that a pointer just past the end still points into the object,
 * rounded up to its 16-byte granules, or up to a size class for requests of 384 to
 * 2047 bytes. This is what bdwgc's allocated-bytes counter (TotalAlloc) adds for it,
 * and what the sampling countdown and the heap profile count. obj must be the start
 * of a GC object. Any thread. */
size_t gcheap_size(const void *obj);

/* Hides an object address so that a table the GC may scan does not keep the object
 * alive (bdwgc's GC_HIDE_POINTER). */
uintptr_t gcheap_hide(const void *obj);

/* Whether the object named by `hidden` (gcheap_hide(obj)) survives the collection in
 * progress: 1 if its mark reached it, 0 if the collection will free it. ONLY from a
 * GCEV_MARK_END listener (world stopped, allocation lock held, marking complete).
 * `hidden` must name an object that was live at the previous collection or allocated
 * since (never one this function already reported dead: its memory may be reused).
 * Exact for memdemo, which registers no finalizers (bdwgc may keep an object that
 * only a finalizable object reaches after this point). No allocation, no locks. */
int gcheap_survives_unlocked(uintptr_t hidden);

/* Says that the program may free objects itself (GC_free, realloc), which memdemo
 * never does: gcheap_survives_unlocked() then first checks that the object is still
 * allocated, which costs a header lookup per tracked object per collection. Once, at
 * start-up, before the first collection (libgcprof). */
void gcheap__explicit_frees(void);

#endif
