/* trace: the trace windows, per-thread record buffers and the collection listener. See
 * trace.h for the contract and the hand-over protocol; tracewire.c writes the bytes.
 *
 * State: one slot per gcthreads id (static, never freed) holding the busy flag, the
 * thread's current request, whether it is one of the program's threads (thread mode
 * draws only those), and per window (WIN_LIVE: /debug/pprof/trace; WIN_RUN: a host's
 * whole-run recording) the thread's buffer in it. A record goes into every window open
 * when its writer claimed the slot (one bit per window in `active`), with one
 * timestamp. The buffers are malloc'd at a window's start (live threads) or at a
 * thread's first record in it, and freed at its stop/cancel. Control calls
 * (start/stop/cancel of either window) are serialised by ctl_lock, which neither
 * listeners nor the hot path ever take.
 */
#include "profile/trace.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "gc/clock.h"
#include "gc/gcheap.h"
#include "gc/gcthreads.h"
#include "profile/tracewire.h"

#define REC_SIZE sizeof(struct tracewire_rec)

enum { WIN_LIVE, WIN_RUN, NWIN };
#define BIT(w) (1u << (w))

struct wslot {                      /* one thread's buffer in one window */
    struct tracewire_rec *recs;     /* NULL: no buffer in this window */
    uint32_t n, cap;                /* records written / room */
    uint64_t dropped;
};

struct slot {
    _Alignas(64) atomic_int busy;   /* the owning thread is inside a record */
    uint64_t cur_g;                 /* request begun on this thread, 0 = none */
    unsigned cur_epoch;             /* live window cur_g belongs to */
    atomic_int program;             /* trace_thread_start ran: a thread of the program
                                       (thread mode draws no other, e.g. the profiler's) */
    struct wslot w[NWIN];
};

/* One slot per gcthreads id, plus NO_ID_SLOT: collections that run on a thread with no
 * id (bdwgc collects inside a new thread's own registration, before the thread's first
 * allocation reaches the profiler, or after its exit hook). Collections are serialised
 * by the allocation lock, so that slot has one writer at a time. Each of its records
 * keeps the kernel thread id that wrote it (no_id_tids), and at the stop the records of
 * a thread that has an id too join that thread's stream (rehome_no_id_records): the
 * collection is drawn on the thread that ran it. */
#define NO_ID_SLOT GCTHREADS_MAX
#define NSLOTS (GCTHREADS_MAX + 1)
static struct slot slots[NSLOTS];

struct window {
    int running;                          /* under ctl_lock */
    uint32_t cap;                         /* records per buffer in this window */
    struct tracewire_window win;          /* under ctl_lock */
    pid_t *no_id_tids;                    /* per record of NO_ID_SLOT */
    atomic_uint_fast64_t lost;            /* events of unregistered threads */
};
static struct window wins[NWIN];

static atomic_uint active;                /* BIT(w): recording into window w allowed */
static atomic_uint epoch;                 /* bumped by every live window's start */
static atomic_uint_fast64_t next_g;       /* request goroutine/task ids of the live window */
static atomic_uint_fast64_t dropped_total;  /* events dropped in every window closed */
static atomic_uint_fast64_t dropped_last;   /* in the last window closed */
static atomic_uint_fast64_t heap_hint;    /* heap in use as of the last collection */
static atomic_uint_fast64_t allocated_at_hint;   /* gcheap_allocated_total() then */
static atomic_size_t cap_bytes = TRACE_DEFAULT_BUFFER_CAP;
static atomic_int thread_mode;            /* trace_draw_threads() was called */

static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;

/* Listener-only state: collections are serialised by the allocation lock. */
static uint64_t gc_in_use_at_start;


/* ---- hand-over ------------------------------------------------------------------- */

/* Sets s busy; returns the windows open now (the writer records into exactly these),
 * or 0 with busy cleared again. Pair a non-zero answer with leave(). */
static unsigned claim(struct slot *s)
{
    atomic_store(&s->busy, 1);                /* seq_cst: store, then load active */
    unsigned on = atomic_load(&active);
    if (!on) atomic_store_explicit(&s->busy, 0, memory_order_release);
    return on;
}

/* The calling thread's slot claimed, with the open windows in *on; NULL (the event is
 * lost, counted in every open window) when the thread is not registered. */
static struct slot *enter(unsigned *on)
{
    int id = gcthreads_self();
    if (id < 0 || id >= GCTHREADS_MAX) {
        unsigned open = atomic_load_explicit(&active, memory_order_relaxed);
        for (int w = 0; w < NWIN; w++)
            if (open & BIT(w)) atomic_fetch_add_explicit(&wins[w].lost, 1, memory_order_relaxed);
        return NULL;
    }
    *on = claim(&slots[id]);
    return *on ? &slots[id] : NULL;
}

/* enter() for a collection event: a thread without an id records into NO_ID_SLOT. */
static struct slot *enter_collection(unsigned *on)
{
    if (gcthreads_self() >= 0) return enter(on);
    *on = claim(&slots[NO_ID_SLOT]);
    return *on ? &slots[NO_ID_SLOT] : NULL;
}

static void leave(struct slot *s)
{
    atomic_store_explicit(&s->busy, 0, memory_order_release);
}

/* Appends one record at ts to s's buffer in window w, or counts it lost when the
 * buffer is missing or full. */
static void put_one(struct slot *s, int w, uint64_t ts, pid_t tid, const struct tracewire_rec *rec)
{
    struct wslot *b = &s->w[w];
    if (!b->recs || b->n >= b->cap) {
        b->dropped++;
        return;
    }
    if (s == &slots[NO_ID_SLOT]) wins[w].no_id_tids[b->n] = tid;
    b->recs[b->n] = *rec;
    b->recs[b->n++].ts = ts;
}

/* Appends one record to every window in `on`, with one timestamp. */
static void put(struct slot *s, unsigned on, uint32_t kind, uint64_t a, uint64_t b, int32_t c)
{
    if (!on) return;
    struct tracewire_rec rec = {.a = a, .b = b, .kind = kind, .c = c};
    uint64_t ts = clock_mono_ns();
    pid_t tid = s == &slots[NO_ID_SLOT] ? gettid() : 0;
    for (int w = 0; w < NWIN; w++)
        if (on & BIT(w)) put_one(s, w, ts, tid, &rec);
}

/* A thread record (SEEN, EXIT) into the windows in `on`, carrying the calling thread's
 * name (prctl: its comm). */
static void put_thread(struct slot *s, unsigned on, uint32_t kind)
{
    char name[16] = {0};
    uint64_t a, b;
    if (!on) return;
    prctl(PR_GET_NAME, name);
    name[15] = '\0';
    memcpy(&a, name, 8);
    memcpy(&b, name + 8, 8);
    put(s, on, kind, a, b, 0);
}

/* ---- hot path -------------------------------------------------------------------- */

/* A buffer for a thread that has none in window w. Inside enter()/leave(). */
static void give_buffer(struct slot *s, int w)
{
    struct wslot *b = &s->w[w];
    if (b->recs || !wins[w].cap) return;
    b->recs = malloc((size_t)wins[w].cap * REC_SIZE);
    b->cap = b->recs ? wins[w].cap : 0;
}

void trace_thread_start(void)
{
    int id = gcthreads_self();
    if (id >= 0 && id < GCTHREADS_MAX) atomic_store(&slots[id].program, 1);
    if (!atomic_load_explicit(&active, memory_order_relaxed)) return;
    unsigned on, first = 0;
    struct slot *s = enter(&on);
    if (!s) return;
    for (int w = 0; w < NWIN; w++) {
        if (!(on & BIT(w))) continue;
        give_buffer(s, w);
        if (s->w[w].n == 0) first |= BIT(w);
    }
    if (atomic_load_explicit(&thread_mode, memory_order_relaxed)) put_thread(s, first, TRACEWIRE_THREAD_SEEN);
    leave(s);
}

/* gcthreads' exit hook, on the exiting thread (thread mode): its goroutine ends in
 * every window that has a buffer for it. */
static void trace_thread_exit(void)
{
    if (!atomic_load_explicit(&active, memory_order_relaxed)) return;
    unsigned on, with = 0;
    struct slot *s = enter(&on);
    if (!s) return;
    for (int w = 0; w < NWIN; w++)
        if ((on & BIT(w)) && s->w[w].recs) with |= BIT(w);
    if (atomic_load_explicit(&s->program, memory_order_relaxed)) put_thread(s, with, TRACEWIRE_THREAD_EXIT);
    leave(s);
}

void trace_draw_threads(void)
{
    atomic_store(&thread_mode, 1);
    gcthreads_set_exit_hook(trace_thread_exit);
}

/* Requests are recorded in the live window only (the whole-run recording is thread
 * mode's, which draws no requests); a thread's first request gives it a buffer in
 * every open window, so that the collections it runs are recorded. */
void trace_request_begin(const char *route)
{
    if (!atomic_load_explicit(&active, memory_order_relaxed)) return;
    if (atomic_load_explicit(&thread_mode, memory_order_relaxed)) return;   /* not drawn */
    unsigned on;
    struct slot *s = enter(&on);
    if (!s) return;
    for (int w = 0; w < NWIN; w++)
        if (on & BIT(w)) give_buffer(s, w);
    if (on & BIT(WIN_LIVE)) {
        uint64_t g = atomic_fetch_add_explicit(&next_g, 1, memory_order_relaxed);
        s->cur_g = g;
        s->cur_epoch = atomic_load_explicit(&epoch, memory_order_relaxed);
        put(s, BIT(WIN_LIVE), TRACEWIRE_REQ_BEGIN, g, (uint64_t)(uintptr_t)route, 0);
    }
    leave(s);
}

void trace_request_end(int status)
{
    if (!(atomic_load_explicit(&active, memory_order_relaxed) & BIT(WIN_LIVE))) return;
    unsigned on;
    struct slot *s = enter(&on);
    if (!s) return;
    if ((on & BIT(WIN_LIVE)) && s->cur_g && s->cur_epoch == atomic_load_explicit(&epoch, memory_order_relaxed)) {
        /* In use at the last collection plus what was handed out since: the Heap
         * curve climbs between collections instead of stepping only at them. */
        uint64_t heap = atomic_load_explicit(&heap_hint, memory_order_relaxed) +
                        (gcheap_allocated_total() - atomic_load_explicit(&allocated_at_hint, memory_order_relaxed));
        put(s, BIT(WIN_LIVE), TRACEWIRE_REQ_END, s->cur_g, heap, status);
    }
    s->cur_g = 0;
    leave(s);
}

/* ---- collections ----------------------------------------------------------------- */

static const uint8_t kind_of_event[] = {
    [GCEV_START] = TRACEWIRE_GC_START,
    [GCEV_MARK_START] = TRACEWIRE_GC_MARK_START,
    [GCEV_MARK_END] = TRACEWIRE_GC_MARK_END,
    [GCEV_RECLAIM_START] = TRACEWIRE_GC_SWEEP_START,
    [GCEV_RECLAIM_END] = TRACEWIRE_GC_SWEEP_DONE,
    [GCEV_END] = TRACEWIRE_GC_END,
    [GCEV_PRE_STOP_WORLD] = TRACEWIRE_GC_STW_START,
    [GCEV_POST_STOP_WORLD] = 0,
    [GCEV_PRE_START_WORLD] = 0,
    [GCEV_POST_START_WORLD] = TRACEWIRE_GC_STW_DONE,
    [GCEV_THREAD_SUSPENDED] = TRACEWIRE_THREAD_SUSPENDED,
    [GCEV_THREAD_UNSUSPENDED] = TRACEWIRE_THREAD_UNSUSPENDED,
};

/* The gcevents listener trace_init() registers. Runs inside bdwgc's collection and
 * thread-suspension callbacks, with the allocation lock held or the world stopped: no
 * allocation, no locks, no stdio. Records into the calling (collecting) thread's buffers
 * only (one per open window); a thread without a buffer counts the event as dropped. Heap figures come from
 * gcheap_stats_unlocked(), which is legal exactly here. */
static void on_gc_event(enum gcevent ev, int thread, void *ctx)
{
    (void)ctx;
    if (!atomic_load_explicit(&active, memory_order_relaxed)) return;
    if ((unsigned)ev >= sizeof kind_of_event || !kind_of_event[ev]) return;
    unsigned on;
    struct slot *s = enter_collection(&on);
    if (!s) return;
    struct gcheap_stats st;
    uint64_t a = 0, b = 0;
    switch (ev) {
    case GCEV_START:
        gcheap_stats_unlocked(&st);
        a = gc_in_use_at_start = st.in_use_bytes;
        b = gcevents_current_kind() == GCEVENTS_PARTIAL;
        break;
    case GCEV_RECLAIM_END:
        gcheap_stats_unlocked(&st);
        a = st.reclaimed_last_gc;
        b = gc_in_use_at_start;               /* what the sweep went over, roughly */
        break;
    case GCEV_END:
        gcheap_stats_unlocked(&st);
        a = st.in_use_bytes;
        b = st.next_gc;   /* the pacer's goal; its listener ran first */
        atomic_store_explicit(&allocated_at_hint, gcheap_allocated_total(), memory_order_relaxed);
        atomic_store_explicit(&heap_hint, a, memory_order_relaxed);
        break;
    default:
        break;
    }
    put(s, on, kind_of_event[ev], a, b, thread);
    leave(s);
}

int trace_init(void)
{
    return gcevents_add_listener(on_gc_event, NULL);
}

/* ---- control --------------------------------------------------------------------- */

void trace_set_buffer_cap(size_t bytes)
{
    atomic_store(&cap_bytes, bytes ? bytes : TRACE_DEFAULT_BUFFER_CAP);
}

int trace_running(void)
{
    return (atomic_load_explicit(&active, memory_order_relaxed) & BIT(WIN_LIVE)) != 0;
}

int trace_run_recording(void)
{
    return (atomic_load_explicit(&active, memory_order_relaxed) & BIT(WIN_RUN)) != 0;
}

uint64_t trace_windows(void)
{
    return atomic_load_explicit(&epoch, memory_order_relaxed);
}

void trace_stats(struct trace_stats *st)
{
    st->windows = trace_windows();
    st->dropped_total = atomic_load(&dropped_total);
    st->dropped_last = atomic_load(&dropped_last);
}

/* Window w's buffers for every live registered thread, so a collection on a thread
 * that has not served a request in this window is still recorded. Under ctl_lock, w
 * inactive (its buffers are not yet visible to writers). */
static void alloc_buffers(int w)
{
    uint32_t cap = wins[w].cap;
    int n = gcthreads_count();
    for (int id = 0; id < n && id < GCTHREADS_MAX; id++) {
        if (!gcthreads_alive(id)) continue;
        struct wslot *b = &slots[id].w[w];
        b->recs = malloc((size_t)cap * REC_SIZE);
        b->cap = b->recs ? cap : 0;
    }
    wins[w].no_id_tids = malloc((size_t)cap * sizeof *wins[w].no_id_tids);
    struct wslot *o = &slots[NO_ID_SLOT].w[w];
    o->recs = wins[w].no_id_tids ? malloc((size_t)cap * REC_SIZE) : NULL;
    o->cap = o->recs ? cap : 0;
}

/* Thread mode: every program thread with a buffer is seen at window w's start (its
 * name is read at the stop). Under ctl_lock, w inactive: no owner writes its buffers. */
static void mark_threads_seen(int w, uint64_t t_start)
{
    if (!atomic_load(&thread_mode)) return;
    for (int id = 0; id < GCTHREADS_MAX; id++) {
        struct wslot *b = &slots[id].w[w];
        if (!b->recs || b->n >= b->cap || !atomic_load(&slots[id].program)) continue;
        b->recs[b->n++] = (struct tracewire_rec){.ts = t_start, .kind = TRACEWIRE_THREAD_SEEN};
    }
}

/* Opens window w: its buffers, and what is known at its start (heap figures st). */
static int start_window(int w)
{
    struct gcheap_stats st;
    gcheap_stats(&st);                        /* outside ctl_lock: takes the GC lock */
    pthread_mutex_lock(&ctl_lock);
    struct window *v = &wins[w];
    if (v->running) {
        pthread_mutex_unlock(&ctl_lock);
        errno = EBUSY;
        return -1;
    }
    size_t cap = atomic_load(&cap_bytes) / REC_SIZE;
    v->cap = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
    alloc_buffers(w);
    memset(&v->win, 0, sizeof v->win);
    v->win.heap_alloc = st.in_use_bytes;
    v->win.heap_goal = st.next_gc;
    atomic_store(&allocated_at_hint, gcheap_allocated_total());
    atomic_store(&heap_hint, st.in_use_bytes);
    atomic_store(&v->lost, 0);
    if (w == WIN_LIVE) {
        atomic_store(&next_g, 1);
        atomic_fetch_add(&epoch, 1);
    }
    v->running = 1;
    v->win.t_start = clock_mono_ns();
    v->win.threads = atomic_load(&thread_mode);
    mark_threads_seen(w, v->win.t_start);
    atomic_fetch_or(&active, BIT(w));         /* seq_cst: publishes all of the above */
    pthread_mutex_unlock(&ctl_lock);
    return 0;
}

int trace_start(void) { return start_window(WIN_LIVE); }
int trace_run_start(void) { return start_window(WIN_RUN); }

/* Closes window w to writers and waits until no writer is inside a record (one that
 * claimed before may still write into w); afterwards nobody touches w's buffers until
 * its next start. Under ctl_lock. */
static void quiesce(int w)
{
    atomic_fetch_and(&active, ~BIT(w));
    for (int id = 0; id < NSLOTS; id++)
        while (atomic_load_explicit(&slots[id].busy, memory_order_acquire)) sched_yield();
}

/* Frees window w's buffers and counts its dropped events; returns them. */
static uint64_t free_buffers(int w)
{
    struct window *v = &wins[w];
    uint64_t dropped = atomic_load(&v->lost);
    free(v->no_id_tids);
    v->no_id_tids = NULL;
    for (int id = 0; id < NSLOTS; id++) {
        struct wslot *b = &slots[id].w[w];
        dropped += b->dropped;
        free(b->recs);
        *b = (struct wslot){0};
    }
    v->running = 0;
    atomic_fetch_add(&dropped_total, dropped);
    atomic_store(&dropped_last, dropped);
    return dropped;
}

/* Thread mode: a live thread's name now, from /proc (its comm), into name[16]. */
static void read_thread_name(int threads, int id, char name[16])
{
    char path[64];
    pid_t tid = gcthreads_tid(id);
    name[0] = '\0';
    if (!threads || !tid || !gcthreads_alive(id)) return;
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(name, 16, f)) name[0] = '\0';
    fclose(f);
    name[strcspn(name, "\n")] = '\0';
}

/* Window w's records of slot id merged in time order with the NO_ID_SLOT records its
 * thread (tid) wrote; those are marked taken (tid 0). A malloc'd array of *n records, or
 * NULL when there are none to merge or no memory (the slot's own records are used then). */
static struct tracewire_rec *rehome_no_id_records(int w, int id, pid_t tid, size_t *n)
{
    const struct wslot *o = &slots[NO_ID_SLOT].w[w], *s = &slots[id].w[w];
    pid_t *tids = wins[w].no_id_tids;
    size_t mine = 0;
    for (uint32_t k = 0; tid && k < o->n; k++) mine += tids[k] == tid;
    if (!mine) return NULL;
    struct tracewire_rec *v = malloc((s->n + mine) * REC_SIZE);
    if (!v) return NULL;
    size_t i = 0, k = 0, m = 0;
    while (i < s->n || k < o->n) {
        if (k < o->n && tids[k] != tid) { k++; continue; }
        if (k < o->n && (i >= s->n || o->recs[k].ts <= s->recs[i].ts)) {
            v[m++] = o->recs[k];
            tids[k++] = 0;
        } else {
            v[m++] = s->recs[i++];
        }
    }
    *n = m;
    return v;
}

/* Window w's NO_ID_SLOT records no thread took, compacted in place; returns how many. */
static uint32_t leftover_no_id_records(int w)
{
    struct wslot *o = &slots[NO_ID_SLOT].w[w];
    uint32_t m = 0;
    for (uint32_t k = 0; k < o->n; k++)
        if (wins[w].no_id_tids[k]) o->recs[m++] = o->recs[k];
    return m;
}

/* Window w's non-empty slots as tracewire streams (malloc'd array, *n entries); a
 * stream whose records were merged owns them (merged[i], freed by free_streams). */
static struct tracewire_stream *collect_streams(int w, int *n, struct tracewire_rec ***merged)
{
    struct tracewire_stream *v = calloc(NSLOTS, sizeof *v);
    *merged = calloc(NSLOTS, sizeof **merged);
    *n = 0;
    if (!v || !*merged) {
        free(v);
        free(*merged);
        return NULL;
    }
    for (int id = 0; id < GCTHREADS_MAX; id++) {
        const struct wslot *s = &slots[id].w[w];
        size_t nrec = s->n;
        struct tracewire_rec *own = s->n ? rehome_no_id_records(w, id, gcthreads_tid(id), &nrec) : NULL;
        if (!s->n) continue;
        (*merged)[*n] = own;
        v[*n] = (struct tracewire_stream){id, gcthreads_tid(id), own ? own : s->recs, nrec, {0}};
        read_thread_name(wins[w].win.threads, id, v[*n].name);
        ++*n;
    }
    uint32_t left = slots[NO_ID_SLOT].w[w].n ? leftover_no_id_records(w) : 0;
    if (left) v[(*n)++] = (struct tracewire_stream){NO_ID_SLOT, 0, slots[NO_ID_SLOT].w[w].recs, left, {0}};
    return v;
}

static void free_streams(struct tracewire_stream *v, struct tracewire_rec **merged)
{
    for (int i = 0; merged && i < NSLOTS; i++) free(merged[i]);
    free(merged);
    free(v);
}

/* Takes ctl_lock and closes window w to writers; -1 (EINVAL, lock not held) when it
 * is not open. */
static int close_window(int w)
{
    pthread_mutex_lock(&ctl_lock);
    if (!wins[w].running) {
        pthread_mutex_unlock(&ctl_lock);
        errno = EINVAL;
        return -1;
    }
    quiesce(w);
    return 0;
}

static int stop_window(int w, struct buf *out, uint64_t *dropped_events)
{
    if (close_window(w) < 0) return -1;
    struct tracewire_window *win = &wins[w].win;
    win->t_stop = clock_mono_ns();
    win->first_free_g = atomic_load(&next_g);
    win->dropped = atomic_load(&wins[w].lost);
    for (int id = 0; id < NSLOTS; id++) win->dropped += slots[id].w[w].dropped;
    int n;
    struct tracewire_rec **merged;
    struct tracewire_stream *streams = collect_streams(w, &n, &merged);
    int rc = streams ? tracewire_write(out, win, streams, n) : -1;
    free_streams(streams, merged);
    uint64_t dropped = free_buffers(w);
    pthread_mutex_unlock(&ctl_lock);
    if (dropped_events) *dropped_events = dropped;
    if (rc < 0) {
        out->failed = 1;
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int trace_stop(struct buf *out, uint64_t *dropped_events) { return stop_window(WIN_LIVE, out, dropped_events); }
int trace_run_stop(struct buf *out, uint64_t *dropped_events) { return stop_window(WIN_RUN, out, dropped_events); }

int trace_cancel(void)
{
    if (close_window(WIN_LIVE) < 0) return -1;
    free_buffers(WIN_LIVE);
    pthread_mutex_unlock(&ctl_lock);
    return 0;
}
