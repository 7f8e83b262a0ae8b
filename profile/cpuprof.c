/* cpuprof: per-thread CPU timers, the SIGPROF handler and its ring, the drain thread,
 * and the CPU profile. See cpuprof.h.
 *
 * The ring is a bounded multi-producer queue (each cell carries a sequence number, as
 * in D. Vyukov's bounded MPMC queue): a handler claims a cell with a compare-and-swap
 * on the head, fills it, and publishes it by storing the cell's sequence; the one
 * consumer, the drain thread, takes published cells in order. Producers never wait:
 * when the ring is full the sample is counted lost. Only lock-free atomics are used in
 * the handler, so it may interrupt any code, including malloc, libdw or the collector.
 *
 * Window hand-over: stop clears `active` (sequentially consistent) and then waits until
 * `in_handler` is 0; a handler increments in_handler before it reads `active`, so
 * either it sees the window closed or stop sees it inside. Each timer's signal carries
 * the window's generation, so a signal still pending from an earlier window is ignored.
 */
#include "profile/cpuprof.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gc/clock.h"
#include "gc/errors.h"
#include "profile/buf.h"
#include "profile/hashidx.h"
#include "profile/pprof.h"
#include "profile/signals.h"
#include "profile/stacks.h"
#include "profile/symbols.h"
#include "profile/tasks.h"
#include "profile/threadhook.h"

#define RING_CELLS 1024                      /* power of two */
#define DRAIN_TICK_NS (50 * 1000000L)
#define RESCAN_TICKS 4                       /* look for new threads every 200 ms */
#define PERIOD_NS (1000000000L / CPUPROF_HZ)
#define MAX_WEIGHT 1000                      /* overruns counted per signal, at most */
#define DEEP_CELLS 32
#define DEEP_BYTES (16 << 10)

struct cell {
    _Atomic uint64_t seq;
    uint32_t tag;                            /* generation << 16 | thread index */
    uint16_t weight;
    uint16_t n;
    int deep;                                /* 1 + index of this sample's stack copy, or 0 */
    uintptr_t pcs[CPUPROF_MAX_DEPTH];        /* the frame-pointer walk */
};

/* A copy of a sample's registers and stack, for the drain thread to unwind by the
 * unwind tables: the collector (libgc.a) and libc keep no frame pointers, so the walk
 * alone stops at their leaf. Few of them: a sample that finds none free keeps its
 * frame-pointer stack. */
struct deep {
    _Atomic int busy;
    size_t len;
    struct stacks_regs regs;
    unsigned char stack[DEEP_BYTES];
};

struct timed {
    pid_t tid;
    timer_t timer;
    int name;                                /* index into names; -1 until its first sample */
};

struct rec { int stack, name; int64_t periods; };

/* ---- state shared with the handler (atomics only) ------------------------------- */

static _Atomic int active;
static _Atomic int in_handler;
static _Atomic unsigned generation;
static struct cell *ring;
static struct deep *deeps;                   /* DEEP_CELLS */
static _Atomic unsigned deep_next;
static _Atomic uint64_t ring_head;
static _Atomic uint64_t lost_samples;       /* this window's */

/* ---- window state (control lock, or the drain thread while it runs) ------------- */

static pthread_mutex_t control = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;   /* timed[] */
static int handler_installed;
static uint64_t ring_tail;                   /* the consumer's position */
static struct timed timed[CPUPROF_MAX_THREADS];
static int ntimed;
static char (*names)[16];                    /* CPUPROF_MAX_THREADS entries */
static int nnames;
static struct stacks_table *stacks;
static struct rec *recs;
static size_t nrecs, caprecs;
static struct hashidx rec_index;             /* (stack, name) -> index into recs */
static int drain_oom;
static _Atomic uint64_t samples, periods;   /* written by the drain thread, read by stats */
static _Atomic uint64_t untimed;            /* threads the last scan could not time */
static _Atomic uint64_t windows;            /* windows opened */
static _Atomic uint64_t lost_before;        /* lost samples of the windows before this one */
static pthread_t drainer;
static _Atomic int drain_stop;
static int64_t start_wall_ns;
static uint64_t start_mono_ns;

/* ---- the signal handler --------------------------------------------------------- */

/* Claims a ring cell, or NULL when the ring is full. Lock-free. */
static struct cell *claim(uint64_t *pos_out)
{
    uint64_t pos = atomic_load_explicit(&ring_head, memory_order_relaxed);
    for (;;) {
        struct cell *c = &ring[pos & (RING_CELLS - 1)];
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (seq == pos) {
            if (atomic_compare_exchange_weak_explicit(&ring_head, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                *pos_out = pos;
                return c;
            }
        } else if (seq < pos) {
            return NULL;                     /* the consumer has not freed it yet: full */
        } else {
            pos = atomic_load_explicit(&ring_head, memory_order_relaxed);
        }
    }
}

/* Copies the context into a free stack copy; returns 1 + its index, or 0 if none is
 * free. Lock-free. */
static int copy_deep(const void *uc)
{
    for (int k = 0; k < DEEP_CELLS; k++) {
        unsigned i = atomic_fetch_add_explicit(&deep_next, 1, memory_order_relaxed) % DEEP_CELLS;
        int idle = 0;
        if (!atomic_compare_exchange_strong(&deeps[i].busy, &idle, 1)) continue;
        deeps[i].len = stacks_copy_context(uc, &deeps[i].regs, deeps[i].stack, DEEP_BYTES);
        return (int)i + 1;
    }
    return 0;
}

static void record(const void *uc, uint32_t tag, int weight)
{
    uint64_t pos;
    struct cell *c = claim(&pos);
    if (!c) { atomic_fetch_add_explicit(&lost_samples, 1, memory_order_relaxed); return; }
    c->tag = tag;
    c->weight = (uint16_t)weight;
    c->n = (uint16_t)stacks_walk_context(uc, c->pcs, CPUPROF_MAX_DEPTH);
    c->deep = copy_deep(uc);
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
}

static void on_sigprof(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    int saved = errno;
    if (si->si_code == SI_TIMER) {
        atomic_fetch_add(&in_handler, 1);
        uint32_t tag = (uint32_t)si->si_value.sival_int;
        if (atomic_load(&active) && (tag >> 16) == (atomic_load(&generation) & 0xffff)) {
            int weight = 1 + (si->si_overrun > 0 ? si->si_overrun : 0);
            record(uc, tag, weight > MAX_WEIGHT ? MAX_WEIGHT : weight);
        }
        atomic_fetch_sub(&in_handler, 1);
    }
    errno = saved;
}

int cpuprof__record_for_bench(const void *ucontext)
{
    if (!atomic_load(&active)) return -1;
    record(ucontext, (atomic_load(&generation) & 0xffff) << 16, 1);
    return 0;
}

/* ---- timers ----------------------------------------------------------------------- */

/* The kernel's clock id for thread tid's CPU time (what pthread_getcpuclockid
 * computes for a pthread_t; we only know the threads libraries made by their tid):
 * CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED in the low bits, ~tid above them. */
static clockid_t thread_cpu_clock(pid_t tid)
{
    return (clockid_t)((~(unsigned)tid << 3) | 4 | 2);
}

static int name_index(pid_t tid)
{
    char name[TASKS_COMM_LEN];
    if (tasks_comm(tid, name) < 0) snprintf(name, sizeof name, "?");
    for (int i = 0; i < nnames; i++)
        if (strcmp(names[i], name) == 0) return i;
    if (nnames == CPUPROF_MAX_THREADS) return 0;
    snprintf(names[nnames], sizeof names[nnames], "%s", name);
    return nnames++;
}

/* Arms a timer on thread tid. table_lock held. Returns 0 or -1 (errno set). */
static int arm(pid_t tid, unsigned gen)
{
    if (ntimed == CPUPROF_MAX_THREADS) { errno = ENOSPC; return -1; }
    struct timed *t = &timed[ntimed];
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev._sigev_un._tid = tid;        /* glibc 2.36 has no sigev_notify_thread_id macro */
    sev.sigev_signo = SIGPROF;
    sev.sigev_value.sival_int = (int)((gen & 0xffff) << 16 | (unsigned)ntimed);
    if (timer_create(thread_cpu_clock(tid), &sev, &t->timer) < 0) return -1;
    /* A random first expiry, as Go does, so that threads started together do not
     * sample in step with each other or with a periodic workload. */
    static _Atomic unsigned seed = 0x9e3779b9u;
    unsigned r = atomic_fetch_add(&seed, 0x6d2b79f5u) * 2654435761u;
    struct itimerspec its = {{0, PERIOD_NS}, {0, 1 + (long)(r % PERIOD_NS)}};
    if (timer_settime(t->timer, 0, &its, NULL) < 0) {
        int e = errno;
        timer_delete(t->timer);
        errno = e;
        return -1;
    }
    t->tid = tid;
    t->name = -1;                    /* read at its first sample: a new thread names itself */
    ntimed++;
    return 0;
}

static int is_timed(pid_t tid)
{
    for (int i = 0; i < ntimed; i++)
        if (timed[i].tid == tid) return 1;
    return 0;
}

/* Arms a timer on every thread of the process that has none; a thread that exits
 * between the listing and timer_create is skipped. Sets `untimed` to the threads left
 * without a timer for another reason (the table is full, timer_create failed): their
 * CPU time is missing from the window. Returns -1 if /proc/self/task cannot be read. */
static int arm_new_threads(unsigned gen)
{
    pid_t tids[CPUPROF_MAX_THREADS];
    int n = tasks_list(tids, CPUPROF_MAX_THREADS);
    if (n < 0) return -1;
    int failed = n > CPUPROF_MAX_THREADS ? n - CPUPROF_MAX_THREADS : 0;
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < n && i < CPUPROF_MAX_THREADS; i++)
        if (!is_timed(tids[i]) && arm(tids[i], gen) < 0 && errno != EINVAL && errno != ESRCH) failed++;
    pthread_mutex_unlock(&table_lock);
    atomic_store(&untimed, (uint64_t)failed);
    return 0;
}

/* The start hook (profile/threadhook): a thread created while a window is open is
 * timed at once rather than at the next scan of /proc/self/task. Cheap when no window
 * is open. */
static void on_thread_start(void)
{
    if (!atomic_load(&active)) return;
    pid_t tid = gettid();
    pthread_mutex_lock(&table_lock);
    if (atomic_load(&active) && !is_timed(tid)) arm(tid, atomic_load(&generation));
    pthread_mutex_unlock(&table_lock);
}

/* Before main() (and so before bdwgc starts its marker threads with every signal
 * blocked): every thread created from now on unblocks SIGPROF and runs the hook. */
__attribute__((constructor)) static void hook_thread_starts(void)
{
    threadhook_on_start(on_thread_start, SIGPROF);
}

/* Deletes every timer of the window; the table stays (the last cells still name their
 * threads by index) until the next window starts. */
static void disarm_all(void)
{
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < ntimed; i++) timer_delete(timed[i].timer);
    pthread_mutex_unlock(&table_lock);
}

/* ---- aggregation (drain thread, or stop after it has been joined) ----------------- */

static uint64_t rec_hash(int stack, int name)
{
    return hash_mix((uint64_t)(uint32_t)stack << 32 | (uint32_t)name);
}

static int rec_matches(const void *ctx, uint32_t id, const void *key)
{
    (void)ctx;
    const struct rec *k = key;
    return recs[id].stack == k->stack && recs[id].name == k->name;
}

static uint64_t rec_rehash(const void *ctx, uint32_t id)
{
    (void)ctx;
    return rec_hash(recs[id].stack, recs[id].name);
}

/* Adds w periods to the record of (stack, name), created if new; out of memory
 * spoils the window (drain_oom). */
static void add_periods(int stack, int name, int64_t w)
{
    struct rec k = {stack, name, w};
    uint64_t h = rec_hash(stack, name);
    int64_t id = hashidx_find(&rec_index, h, rec_matches, NULL, &k);
    if (id >= 0) { recs[id].periods += w; return; }
    if (buf_grow_array(&recs, &caprecs, nrecs + 1, sizeof *recs) < 0 ||
        hashidx_add(&rec_index, h, (uint32_t)nrecs, rec_rehash, NULL) < 0) {
        drain_oom = 1;
        return;
    }
    recs[nrecs++] = k;
}

/* The sample's stack: unwound from its copy when that finds at least as many frames
 * as the frame-pointer walk, else the walk; callers outside every mapping cut. */
static int sample_stack(struct cell *c, uintptr_t *pcs)
{
    int n = symbols_known_prefix(c->pcs, c->n);   /* a walk that left the frame chain */
    memcpy(pcs, c->pcs, (size_t)n * sizeof *pcs);
    if (!c->deep) return n;
    struct deep *d = &deeps[c->deep - 1];
    uintptr_t unwound[CPUPROF_MAX_DEPTH];
    int m = symbols_known_prefix(unwound, symbols_unwind(&d->regs, d->stack, d->len, unwound,
                                                         CPUPROF_MAX_DEPTH));
    atomic_store(&d->busy, 0);
    if (m < n) return n;
    memcpy(pcs, unwound, (size_t)m * sizeof *pcs);
    return m;
}

static void take_cell(struct cell *c)
{
    uintptr_t pcs[CPUPROF_MAX_DEPTH];
    int n = sample_stack(c, pcs);
    int stack = stacks_intern(stacks, pcs, n);
    unsigned idx = c->tag & 0xffff;
    int name = 0;
    pthread_mutex_lock(&table_lock);
    if (idx < (unsigned)ntimed) {
        if (timed[idx].name < 0) timed[idx].name = name_index(timed[idx].tid);
        name = timed[idx].name;
    }
    pthread_mutex_unlock(&table_lock);
    if (stack < 0) drain_oom = 1;
    else add_periods(stack, name, c->weight);
    atomic_fetch_add_explicit(&samples, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&periods, c->weight, memory_order_relaxed);
}

/* Empties the ring: every published cell is added to the table and freed. */
static void drain(void)
{
    for (;;) {
        struct cell *c = &ring[ring_tail & (RING_CELLS - 1)];
        if (atomic_load_explicit(&c->seq, memory_order_acquire) != ring_tail + 1) return;
        take_cell(c);
        atomic_store_explicit(&c->seq, ring_tail + RING_CELLS, memory_order_release);
        ring_tail++;
    }
}

static void *drain_loop(void *arg)
{
    unsigned gen = (unsigned)(uintptr_t)arg;
    pthread_setname_np(pthread_self(), "memdemo-cpuprof");
    for (unsigned tick = 1; !atomic_load(&drain_stop); tick++) {
        struct timespec ts = {0, DRAIN_TICK_NS};
        nanosleep(&ts, NULL);            /* EINTR (a signal) only makes a tick shorter */
        drain();
        if (tick % RESCAN_TICKS == 0 && atomic_load(&active)) arm_new_threads(gen);
    }
    return NULL;
}

/* ---- windows ---------------------------------------------------------------------- */

static int install_handler(void)
{
    if (handler_installed) return 0;
    if (signals_install(SIGPROF, on_sigprof, NULL) < 0) return -1;
    handler_installed = 1;
    return 0;
}

static void free_window(void)
{
    free(recs);
    recs = NULL;
    nrecs = caprecs = 0;
    hashidx_free(&rec_index);
    stacks_table_free(stacks);
    stacks = NULL;
}

/* Allocates what a window needs; the ring once for the process. control held. */
static int alloc_window(void)
{
    if (!ring) {
        ring = aligned_alloc(64, RING_CELLS * sizeof *ring);
        if (!ring) return -1;
        deeps = calloc(DEEP_CELLS, sizeof *deeps);
        if (!deeps) { free(ring); ring = NULL; return -1; }
        for (uint64_t i = 0; i < RING_CELLS; i++) atomic_init(&ring[i].seq, i);
        ring_tail = 0;
        atomic_store(&ring_head, 0);
    }
    if (!names && !(names = calloc(CPUPROF_MAX_THREADS, sizeof *names))) return -1;
    stacks = stacks_table_new();
    return stacks ? 0 : -1;
}

static int start_locked(void)
{
    if (atomic_load(&active)) { errno = EBUSY; return -1; }
    symbols_init();                  /* the drain thread checks pcs against mappings */
    if (install_handler() < 0) return -1;
    if (alloc_window() < 0) { free_window(); errno = ENOMEM; return -1; }
    drain();                         /* nothing should be left, but start clean */
    atomic_store(&samples, 0);
    atomic_store(&periods, 0);
    nnames = 0;
    ntimed = 0;
    drain_oom = 0;
    atomic_fetch_add(&lost_before, atomic_exchange(&lost_samples, 0));
    atomic_store(&untimed, 0);
    unsigned gen = atomic_fetch_add(&generation, 1) + 1;
    start_wall_ns = clock_wall_ns();
    start_mono_ns = clock_mono_ns();
    atomic_store(&drain_stop, 0);
    atomic_store(&active, 1);
    int rc = pthread_create(&drainer, NULL, drain_loop, (void *)(uintptr_t)gen);
    if (rc == 0 && arm_new_threads(gen) >= 0) {
        atomic_fetch_add(&windows, 1);
        return 0;
    }
    atomic_store(&active, 0);
    if (rc == 0) { atomic_store(&drain_stop, 1); pthread_join(drainer, NULL); }
    disarm_all();
    free_window();
    errno = rc ? rc : EIO;
    return -1;
}

int cpuprof_start(void)
{
    pthread_mutex_lock(&control);
    int rc = start_locked();
    int e = errno;
    pthread_mutex_unlock(&control);
    errno = e;
    return rc;
}

int cpuprof_running(void) { return atomic_load(&active); }

/* Ends the window's sampling: after this no handler records and the ring is empty. */
static void close_window(void)
{
    atomic_store(&active, 0);
    atomic_store(&drain_stop, 1);
    pthread_join(drainer, NULL);
    disarm_all();
    while (atomic_load(&in_handler) > 0) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    drain();
}

static const struct pprof_value_type cpu_types[2] = {{"samples", "count"}, {"cpu", "nanoseconds"}};

static int write_profile(struct buf *out, int64_t duration_ns)
{
    struct pprof_sample *ps = calloc(nrecs ? nrecs : 1, sizeof *ps);
    int64_t *values = calloc(2 * (nrecs ? nrecs : 1), sizeof *values);
    struct pprof_label *labels = calloc(nrecs ? nrecs : 1, sizeof *labels);
    int rc = -1;
    if (ps && values && labels && !drain_oom) {
        for (size_t i = 0; i < nrecs; i++) {
            int n;
            const uintptr_t *pcs = stacks_get(stacks, recs[i].stack, &n);
            values[2 * i] = recs[i].periods;
            values[2 * i + 1] = recs[i].periods * PERIOD_NS;
            labels[i] = (struct pprof_label){"thread", names[recs[i].name], 0, NULL};
            ps[i] = (struct pprof_sample){pcs, n, &values[2 * i], &labels[i], 1};
        }
        struct pprof_desc d = {cpu_types, 2, {"cpu", "nanoseconds"}, PERIOD_NS, NULL,
                               start_wall_ns, duration_ns};
        rc = pprof_write(out, &d, ps, nrecs);
    }
    free(ps);
    free(values);
    free(labels);
    return rc;
}

int cpuprof_stop(struct buf *out)
{
    pthread_mutex_lock(&control);
    if (!atomic_load(&active)) { pthread_mutex_unlock(&control); errno = EINVAL; return -1; }
    close_window();
    int rc = write_profile(out, (int64_t)(clock_mono_ns() - start_mono_ns));
    free_window();
    pthread_mutex_unlock(&control);
    if (rc < 0) errno = ENOMEM;
    return rc;
}

int cpuprof_cancel(void)
{
    pthread_mutex_lock(&control);
    if (!atomic_load(&active)) { pthread_mutex_unlock(&control); errno = EINVAL; return -1; }
    close_window();
    free_window();
    pthread_mutex_unlock(&control);
    return 0;
}

void cpuprof_stats(struct cpuprof_stats *st)
{
    pthread_mutex_lock(&table_lock);
    st->threads = ntimed;
    pthread_mutex_unlock(&table_lock);
    st->windows = atomic_load(&windows);
    st->samples = atomic_load(&samples);
    st->periods = atomic_load(&periods);
    st->lost = atomic_load(&lost_samples);
    st->lost_total = atomic_load(&lost_before) + st->lost;
    st->untimed = atomic_load(&untimed);
}
