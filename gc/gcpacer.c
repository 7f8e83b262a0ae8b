/* gcpacer: Go-style pacing, the soft memory limit and the fail-soft heap cap on top of
 * bdwgc. See gcpacer.h for the rules.
 *
 * State: the settings are written once by gcpacer__start() before any other thread
 * exists. The trigger (budget), the goal and the kept-heap accounting are relaxed
 * atomics written by the end-of-collection listener (allocation lock held: no lock, no
 * allocation, no system call) and read on allocation slow paths. The measurement of
 * memory outside the GC heap (a read of /proc/self/statm) runs on the thread that
 * collected for the pacer, after the collection, outside every lock.
 *
 * Why bdwgc's automatic collection is off rather than retuned: its trigger can only be
 * moved through the free-space divisor (an integer dividing a weighted scan size, so
 * no divisor gives "100% of a heap of pointer-free strings") or through its minimum
 * bytes between collections, and either way it collects only when the heap has no free
 * block left. The poll on each thread's countdown is exact to GCPACER_POLL_GAP bytes per
 * thread (bytes handed out: an object's granules, a carved string's own bytes).
 */
#include "gc/gcpacer.h"

#include <gc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gc/clock.h"
#include "gc/gcevents.h"
#include "gc/procfs.h"
#include "gc/gcgen.h"

/* Least step between collections when a limit binds: with a limit the goal never comes
 * closer to the live heap than live/8 + 1 MB (as if GOGC were 12.5), so a live heap
 * at the limit costs a bounded share of the time instead of a collection per poll. */
#define LIMIT_LEAST_STEP ((uint64_t)1 << 20)
/* Near the hard cap the goal keeps at least this much room above the live heap. */
#define CAP_LEAST_STEP ((uint64_t)256 << 10)
/* With automatic collection off, bdwgc's free-space divisor only sizes the steps by
 * which it grows the heap (heap/divisor, at most 16 MB at a time): 1/16 instead of its
 * default 1/3 keeps the mapped heap nearer the goal (at 8 MB leaked: HeapSys 17.4 MB
 * instead of 18.0 MB for a 16.9 MB goal). */
#define HEAP_GROWTH_DIVISOR 16
/* How far above the cap an infallible allocation may raise bdwgc's maximum heap, in
 * steps of cap/16 (at least 4 MB). */
#define CAP_RAISE_MIN ((uint64_t)4 << 20)

static struct gcpacer_settings cfg = {GCPACER_DEFAULT_GOGC, 0, 0, 0};   /* set at start */
static uint64_t kept_limit;                 /* bounded allocations stop here; 0: no cap */

static _Atomic uint64_t budget = GCPACER_HEAP_MINIMUM;   /* bytes allocated that trigger */
static _Atomic uint64_t next_gc = GCPACER_HEAP_MINIMUM;
static _Atomic uint64_t live;               /* in use after the last collection */
static _Atomic uint64_t kept_since;         /* granted to bounded allocation since then */
static _Atomic uint64_t other_memory;       /* resident bytes outside the GC heap */
static _Atomic uint64_t outside;            /* bookkeeping counted against the cap */
static _Atomic uint64_t epoch;              /* collections ended */
static _Atomic uint64_t heap_cap;           /* bdwgc's maximum heap size; 0: none */
static _Atomic uint64_t raised;             /* added to it by overruns, until the heap fits */
static _Atomic int unmap_next;              /* over the memory limit: return free pages */
static atomic_flag pacing = ATOMIC_FLAG_INIT;   /* a thread is collecting for the pacer */
static _Atomic uint64_t n_paced, n_unmaps, n_refused, n_overruns, n_limit_overruns, n_oom;
static _Atomic uint64_t n_assists, assist_ns;

static GC_warn_proc bdwgc_warn;             /* bdwgc's own warning printer */

/* ---- the formula ------------------------------------------------------------------ */

static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* x * p / 100 without overflow for any x (saturating). */
static uint64_t percent(uint64_t x, uint64_t p)
{
    uint64_t hi;
    if (__builtin_mul_overflow(x / 100, p, &hi)) return UINT64_MAX;
    return add_sat(hi, x % 100 * p / 100);
}

/* The heap bdwgc may map under a memory limit: what the other memory leaves, less
 * 1/16 for the heap's own resident growth between two looks (its structures grow with
 * it, and new blocks fill before the next measurement). */
static uint64_t limit_room(uint64_t memlimit, uint64_t other)
{
    uint64_t room = memlimit > other ? memlimit - other : 0;
    return room - room / 16;
}

uint64_t gcpacer_goal(const struct gcpacer_settings *s, uint64_t in_use, uint64_t other, uint64_t cap)
{
    uint64_t goal = UINT64_MAX;
    if (s->gogc >= 0) {
        goal = add_sat(in_use, percent(in_use, (uint64_t)s->gogc));
        uint64_t floor = percent(GCPACER_HEAP_MINIMUM, (uint64_t)s->gogc);
        if (goal < floor) goal = floor;
    }
    if (s->memlimit) {
        uint64_t room = limit_room(s->memlimit, other);
        room -= room / 16;   /* the mapped heap runs ahead of the heap in use */
        uint64_t least = add_sat(in_use, in_use / 8 + LIMIT_LEAST_STEP);
        if (room < least) room = least;
        if (goal > room) goal = room;
    }
    if (cap) {
        uint64_t room = cap - cap / 16;
        uint64_t least = add_sat(in_use, CAP_LEAST_STEP);
        if (room < least) room = least;
        if (goal > room) goal = room;
    }
    return goal;
}

/* ---- limits ----------------------------------------------------------------------- */

/* The number a one-line file starts with (a cgroup memory limit: bytes, or "max" for
 * none); 0 if there is no such file or number. */
static uint64_t read_u64_file(const char *path)
{
    char buf[64];
    unsigned long long v;
    if (procfs_read(path, buf, sizeof buf) < 0 || sscanf(buf, "%llu", &v) != 1) return 0;
    return v;
}

uint64_t gcpacer_default_maxheap(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t mem = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    const char *cgroup_limits[] = {"/sys/fs/cgroup/memory.max",                     /* v2 */
                                   "/sys/fs/cgroup/memory/memory.limit_in_bytes"};  /* v1 */
    for (size_t i = 0; i < sizeof cgroup_limits / sizeof cgroup_limits[0]; i++) {
        uint64_t cg = read_u64_file(cgroup_limits[i]);
        if (cg && (!mem || cg < mem)) mem = cg;
    }
    return mem / 2;
}

const char *gcpacer_check_maxheap(uint64_t maxheap, uint64_t initial_heap)
{
    if (maxheap == 0) return NULL;
    if (maxheap < initial_heap) return "below the start heap (-gcinitheap)";
    if (maxheap < GCPACER_MIN_MAXHEAP) return "below the least cap, 8 MiB (8388608)";
    return NULL;
}

/* ---- bdwgc's hooks ------------------------------------------------------------------ */

/* bdwgc calls this when an allocation fails (no lock held). The caller handles NULL. */
static void *GC_CALLBACK on_out_of_memory(size_t bytes)
{
    (void)bytes;
    atomic_fetch_add_explicit(&n_oom, 1, memory_order_relaxed);
    return NULL;
}

/* bdwgc's warnings, possibly with its lock held. "Out of Memory! ... Returning NULL!"
 * is the cap doing its job, counted by on_out_of_memory; the rest go to bdwgc's printer. */
static void GC_CALLBACK on_warning(char *msg, GC_word arg)
{
    if (strstr(msg, "Out of Memory")) return;
    bdwgc_warn(msg, arg);
}

/* The most bdwgc may grow the heap to: the hard cap, and under a memory limit the room
 * it leaves beside the other resident memory (the heap may not grow into that, but
 * need not shrink to it either); plus what overruns added. 0: unbounded. */
static uint64_t heap_limit(uint64_t other)
{
    uint64_t lim = cfg.maxheap;
    if (cfg.memlimit) {
        uint64_t room = limit_room(cfg.memlimit, other);
        if (room < GCPACER_MIN_MAXHEAP) room = GCPACER_MIN_MAXHEAP;
        if (!lim || room < lim) lim = room;
    }
    return lim ? add_sat(lim, atomic_load_explicit(&raised, memory_order_relaxed)) : 0;
}

/* Sets bdwgc's maximum heap size: a word that bdwgc reads under its lock, written
 * without it (GC_set_max_heap_size does not synchronise): a grow racing with the
 * store sees the old or the new limit, both of which are legal. */
static void set_bdwgc_max_heap(uint64_t bytes)
{
    atomic_store_explicit(&heap_cap, bytes, memory_order_relaxed);
    GC_set_max_heap_size((GC_word)bytes);
}

/* Bytes to allocate after a collection that left in_use until the next one starts. */
static uint64_t budget_for(uint64_t goal, uint64_t in_use)
{
    uint64_t b = goal > in_use ? goal - in_use : 0;
    uint64_t lead = b / 4 < GCPACER_TRIGGER_LEAD ? b / 4 : GCPACER_TRIGGER_LEAD;
    return b - lead;
}

/* The listener: allocation lock held, world running or stopped. No allocation, no
 * locks, no system calls: bdwgc's figures (unsynchronized read, legal here) and atomics. */
static void on_gc_event(enum gcevent ev, int thread, void *ctx)
{
    (void)thread; (void)ctx;
    if (ev != GCEV_END) return;
    struct GC_prof_stats_s ps;
    GC_get_prof_stats_unsafe(&ps, sizeof ps);
    uint64_t in_use = ps.heapsize_full - ps.free_bytes_full;
    /* Against the memory limit: the other resident memory, and bdwgc's own structures
     * (headers, mark bits: what it got from the OS beyond the heap), which grow with it. */
    uint64_t internal = ps.obtained_from_os_bytes > ps.heapsize_full
                            ? ps.obtained_from_os_bytes - ps.heapsize_full : 0;
    uint64_t other = add_sat(atomic_load_explicit(&other_memory, memory_order_relaxed), internal);
    uint64_t goal = gcpacer_goal(&cfg, in_use, other, cfg.maxheap);
    atomic_store_explicit(&live, in_use, memory_order_relaxed);
    atomic_store_explicit(&kept_since, 0, memory_order_relaxed);
    atomic_store_explicit(&next_gc, goal, memory_order_relaxed);
    atomic_store_explicit(&budget, budget_for(goal, in_use), memory_order_relaxed);
    if (cfg.memlimit) {
        uint64_t mapped = ps.heapsize_full - ps.unmapped_bytes;
        atomic_store_explicit(&unmap_next, mapped + other > cfg.memlimit - cfg.memlimit / 16,
                              memory_order_relaxed);
    }
    if (cfg.memlimit || cfg.maxheap) {
        /* The memory limit's room moves with the other memory; an overrun lapses once
         * the heap in use is more than 1/8 below the limit again. */
        uint64_t cap = atomic_load_explicit(&heap_cap, memory_order_relaxed);
        atomic_store_explicit(&raised, 0, memory_order_relaxed);
        uint64_t lim = heap_limit(other);
        if (cap > lim && add_sat(in_use, in_use / 8) > lim) {
            atomic_store_explicit(&raised, cap - lim, memory_order_relaxed);
            lim = cap;
        }
        set_bdwgc_max_heap(lim);
    }
    atomic_fetch_add_explicit(&epoch, 1, memory_order_release);
}

/* The process's resident set, bytes; 0 if unreadable. A system call. */
static uint64_t read_rss(void)
{
    int64_t rss = procfs_rss_bytes();
    return rss > 0 ? (uint64_t)rss : 0;
}

/* Resident bytes outside bdwgc's memory: RSS minus what bdwgc has mapped (heap and its
 * own structures), a lower bound (mapped heap pages need not be resident), kept at its
 * largest value seen; the first measurement, at start before the heap fills, is RSS
 * itself. Takes the allocation lock; system calls: no lock held by the caller. */
static void measure_other_memory(void)
{
    struct GC_prof_stats_s ps;
    GC_get_prof_stats(&ps, sizeof ps);
    uint64_t rss = read_rss(), mapped = ps.obtained_from_os_bytes - ps.unmapped_bytes;
    uint64_t other = rss > mapped ? rss - mapped : 0;
    if (other > atomic_load_explicit(&other_memory, memory_order_relaxed))
        atomic_store_explicit(&other_memory, other, memory_order_relaxed);
}

/* bdwgc's hooks and the listener, once: gcpacer__start runs at init and again with the
 * command line's settings, and a second GC_get_warn_proc would return on_warning
 * itself, which would then call itself forever on the first warning (with bdwgc's lock
 * held). The printer that was installed before is kept and chained to. */
static void install_hooks_once(void)
{
    static int installed;
    if (installed) return;
    installed = 1;
    GC_set_oom_fn(on_out_of_memory);
    bdwgc_warn = GC_get_warn_proc();
    GC_set_warn_proc(on_warning);
    if (gcevents_add_listener(on_gc_event, NULL) < 0) {
        fprintf(stderr, "memdemo: gcpacer: no room for a collection listener\n");
        abort();
    }
}

void gcpacer__start(const struct gcpacer_settings *s)
{
    cfg = *s;
    kept_limit = cfg.maxheap ? cfg.maxheap - cfg.maxheap / 8 : 0;
    GC_set_disable_automatic_collection(1);
    GC_set_free_space_divisor(HEAP_GROWTH_DIVISOR);
    install_hooks_once();
    if (cfg.memlimit) atomic_store(&other_memory, read_rss());
    set_bdwgc_max_heap(heap_limit(atomic_load(&other_memory)));
    uint64_t in_use = GC_get_memory_use();
    uint64_t goal = gcpacer_goal(&cfg, in_use, atomic_load(&other_memory), cfg.maxheap);
    atomic_store(&live, in_use);
    atomic_store(&next_gc, goal);
    atomic_store(&budget, budget_for(goal, in_use));
}

/* ---- triggering --------------------------------------------------------------------- */

static void collect_for_pacer(void)
{
    int unmap = cfg.memlimit && atomic_load_explicit(&unmap_next, memory_order_relaxed);
    if (unmap) {
        GC_gcollect_and_unmap();
        atomic_fetch_add_explicit(&n_unmaps, 1, memory_order_relaxed);
    } else if (cfg.generational) {
        GC_start_incremental_collection();
    } else {
        GC_gcollect();
    }
    atomic_fetch_add_explicit(&n_paced, 1, memory_order_relaxed);
    if (cfg.memlimit) measure_other_memory();
}

/* Generational mode, a collection open: one slice of it (GC_collect_a_little takes the
 * allocation lock; the slice that completes the mark also stops the world and sweeps). */
static void assist(void)
{
    uint64_t t0 = clock_mono_ns();
    GC_collect_a_little();
    atomic_fetch_add_explicit(&assist_ns, clock_mono_ns() - t0, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_assists, 1, memory_order_relaxed);
}

void gcpacer__poll(void)
{
    if (cfg.generational && gcgen_collection_open()) assist();
    if (GC_get_bytes_since_gc() < atomic_load_explicit(&budget, memory_order_relaxed)) return;
    if (atomic_flag_test_and_set_explicit(&pacing, memory_order_acquire)) return;
    /* Another thread may have collected between the test and the flag. */
    if (GC_get_bytes_since_gc() >= atomic_load_explicit(&budget, memory_order_relaxed))
        collect_for_pacer();
    atomic_flag_clear_explicit(&pacing, memory_order_release);
}

int gcpacer__make_room(int raise)
{
    GC_gcollect();
    uint64_t cap = atomic_load_explicit(&heap_cap, memory_order_relaxed);
    if (!raise || !cap) return 0;
    uint64_t step = cap / 16 > CAP_RAISE_MIN ? cap / 16 : CAP_RAISE_MIN;
    atomic_fetch_add_explicit(&raised, step, memory_order_relaxed);
    uint64_t now = add_sat(cap, step);
    if (cfg.maxheap && now > cfg.maxheap) atomic_fetch_add_explicit(&n_overruns, 1, memory_order_relaxed);
    else atomic_fetch_add_explicit(&n_limit_overruns, 1, memory_order_relaxed);
    set_bdwgc_max_heap(now);
    return 1;
}

size_t gcpacer__grant(size_t want, size_t need, uint64_t *ep)
{
    *ep = atomic_load_explicit(&epoch, memory_order_acquire);
    if (!kept_limit) return want;
    uint64_t used = atomic_load_explicit(&kept_since, memory_order_relaxed);
    for (;;) {
        uint64_t base = atomic_load_explicit(&live, memory_order_relaxed) + used +
                        atomic_load_explicit(&outside, memory_order_relaxed);
        size_t g = base + want <= kept_limit ? want : base + need <= kept_limit ? need : 0;
        if (!g) {
            atomic_fetch_add_explicit(&n_refused, 1, memory_order_relaxed);
            return 0;
        }
        if (atomic_compare_exchange_weak_explicit(&kept_since, &used, used + g,
                                                  memory_order_relaxed, memory_order_relaxed))
            return g;
    }
}

void gcpacer__refused(void) { atomic_fetch_add_explicit(&n_refused, 1, memory_order_relaxed); }

void gcpacer_set_outside(uint64_t bytes) { atomic_store_explicit(&outside, bytes, memory_order_relaxed); }

uint64_t gcpacer_epoch(void) { return atomic_load_explicit(&epoch, memory_order_acquire); }
uint64_t gcpacer_next_gc(void) { return atomic_load_explicit(&next_gc, memory_order_relaxed); }

void gcpacer_stats(struct gcpacer_stats *st)
{
    *st = (struct gcpacer_stats){
        .gogc = cfg.gogc,
        .memlimit = cfg.memlimit,
        .maxheap = cfg.maxheap,
        .kept_limit = kept_limit,
        .heap_cap = atomic_load_explicit(&heap_cap, memory_order_relaxed),
        .live = atomic_load_explicit(&live, memory_order_relaxed),
        .next_gc = atomic_load_explicit(&next_gc, memory_order_relaxed),
        .other_memory = atomic_load_explicit(&other_memory, memory_order_relaxed),
        .outside = atomic_load_explicit(&outside, memory_order_relaxed),
        .paced = atomic_load_explicit(&n_paced, memory_order_relaxed),
        .limit_unmaps = atomic_load_explicit(&n_unmaps, memory_order_relaxed),
        .refused = atomic_load_explicit(&n_refused, memory_order_relaxed),
        .cap_overruns = atomic_load_explicit(&n_overruns, memory_order_relaxed),
        .limit_overruns = atomic_load_explicit(&n_limit_overruns, memory_order_relaxed),
        .bdwgc_out_of_memory = atomic_load_explicit(&n_oom, memory_order_relaxed),
        .assists = atomic_load_explicit(&n_assists, memory_order_relaxed),
        .assist_ns = atomic_load_explicit(&assist_ns, memory_order_relaxed),
    };
}
