/* trace: the trace window, per-thread record buffers and the collection listener. See
 * trace.h for the contract and the hand-over protocol; tracewire.c writes the bytes.
 *
 * State: one slot per gcthreads id (static, never freed, one cache line each) holding
 * the busy flag, the thread's buffer, its current request and whether it is one of
 * the program's threads (thread mode draws only those); the buffers themselves
 * are malloc'd at trace_start (live threads) or at a thread's first request, and freed
 * at stop/cancel. Control calls (start/stop/cancel) are serialised by ctl_lock, which
 * neither listeners nor the hot path ever take.
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

struct slot {
    _Alignas(64) atomic_int busy;   /* the owning thread is inside a record */
    struct tracewire_rec *recs;     /* NULL: no buffer in this window */
    uint32_t n, cap;                /* records written / room */
    uint64_t dropped;
    uint64_t cur_g;                 /* request begun on this thread, 0 = none */
    unsigned cur_epoch;             /* window cur_g belongs to */
    atomic_int program;             /* trace_thread_start ran: a thread of the program
                                       (thread mode draws no other, e.g. the profiler's) */
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
static pid_t *no_id_tids;                 /* per record of NO_ID_SLOT, this window */
static atomic_int active;                 /* recording allowed */
static atomic_uint epoch;                 /* bumped by every trace_start */
static atomic_uint_fast64_t next_g;       /* request goroutine/task ids of this window */
static atomic_uint_fast64_t lost;         /* events of unregistered threads */
static atomic_uint_fast64_t dropped_total;  /* events dropped in every window closed */
static atomic_uint_fast64_t dropped_last;   /* in the last window closed */
static atomic_uint_fast64_t heap_hint;    /* heap in use as of the last collection */
static atomic_uint_fast64_t allocated_at_hint;   /* gcheap_allocated_total() then */
static atomic_size_t cap_bytes = TRACE_DEFAULT_BUFFER_CAP;
static atomic_int thread_mode;            /* trace_draw_threads() was called */

static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static int running;                       /* under ctl_lock */
static uint32_t win_cap;                  /* records per buffer in this window */
static struct tracewire_window win;       /* under ctl_lock */

/* Listener-only state: collections are serialised by the allocation lock. */
static uint64_t gc_in_use_at_start;


/* ---- hand-over ------------------------------------------------------------------- */

/* The calling thread's slot with its busy flag set, or NULL (no window, or the thread
 * is not registered: then the event is lost). Pair with leave(). */
/* Sets s busy; returns s while a window is open, else NULL (busy cleared again). */
static struct slot *claim(struct slot *s)
{
    atomic_store(&s->busy, 1);                /* seq_cst: store, then load active */
    if (!atomic_load(&active)) {
        atomic_store_explicit(&s->busy, 0, memory_order_release);
        return NULL;
    }
    return s;
}

static struct slot *enter(void)
{
    int id = gcthreads_self();
    if (id < 0 || id >= GCTHREADS_MAX) {
        atomic_fetch_add_explicit(&lost, 1, memory_order_relaxed);
        return NULL;
    }
    return claim(&slots[id]);
}

/* enter() for a collection event: a thread without an id records into NO_ID_SLOT. */
static struct slot *enter_collection(void)
{
    return gcthreads_self() >= 0 ? enter() : claim(&slots[NO_ID_SLOT]);
}

static void leave(struct slot *s)
{
    atomic_store_explicit(&s->busy, 0, memory_order_release);
}

/* Appends one record, or counts it lost when the buffer is missing or full. */
static void put(struct slot *s, uint32_t kind, uint64_t a, uint64_t b, int32_t c)
{
    if (!s->recs || s->n >= s->cap) {
        s->dropped++;
        return;
    }
    if (s == &slots[NO_ID_SLOT]) no_id_tids[s->n] = gettid();
    struct tracewire_rec *r = &s->recs[s->n++];
    r->ts = clock_mono_ns();
    r->a = a;
    r->b = b;
    r->kind = kind;
    r->c = c;
}

/* A thread record (SEEN, EXIT) carrying the calling thread's name (prctl: its comm). */
static void put_thread(struct slot *s, uint32_t kind)
{
    char name[16] = {0};
    uint64_t a, b;
    prctl(PR_GET_NAME, name);
    name[15] = '\0';
    memcpy(&a, name, 8);
    memcpy(&b, name + 8, 8);
    put(s, kind, a, b, 0);
}

/* ---- hot path -------------------------------------------------------------------- */

/* A buffer for a thread that has none in this window. Inside enter()/leave(). */
static void give_buffer(struct slot *s)
{
    if (s->recs || !win_cap) return;
    s->recs = malloc((size_t)win_cap * REC_SIZE);
    s->cap = s->recs ? win_cap : 0;
}

void trace_thread_start(void)
{
    int id = gcthreads_self();
    if (id >= 0 && id < GCTHREADS_MAX) atomic_store(&slots[id].program, 1);
    if (!atomic_load_explicit(&active, memory_order_relaxed)) return;
    struct slot *s = enter();
    if (!s) return;
    give_buffer(s);
    if (atomic_load_explicit(&thread_mode, memory_order_relaxed) && s->n == 0)
        put_thread(s, TRACEWIRE_THREAD_SEEN);
    leave(s);
}

/* gcthreads' exit hook, on the exiting thread (thread mode): its goroutine ends. */
static void trace_thread_exit(void)
{
    if (!atomic_load_explicit(&active, memory_order_relaxed)) return;
    struct slot *s = enter();
    if (!s) return;
    if (s->recs && atomic_load_explicit(&s->program, memory_order_relaxed)) put_thread(s, TRACEWIRE_THREAD_EXIT);
    leave(s);
}

void trace_draw_threads(void)
{
    atomic_store(&thread_mode, 1);
    gcthreads_set_exit_hook(trace_thread_exit);
}

void trace_request_begin(const char *route)
{
    if (!atomic_load_explicit(&active, memory_order_relaxed)) return;
    if (atomic_load_explicit(&thread_mode, memory_order_relaxed)) return;   /* not drawn */
    struct slot *s = enter();
    if (!s) return;
    give_buffer(s);                           /* first request of a new thread */
    uint64_t g = atomic_fetch_add_explicit(&next_g, 1, memory_order_relaxed);
    s->cur_g = g;
    s->cur_epoch = atomic_load_explicit(&epoch, memory_order_relaxed);
    put(s, TRACEWIRE_REQ_BEGIN, g, (uint64_t)(uintptr_t)route, 0);
    leave(s);
}

void trace_request_end(int status)
{
    if (!atomic_load_explicit(&active, memory_order_relaxed)) return;
    struct slot *s = enter();
    if (!s) return;
    if (s->cur_g && s->cur_epoch == atomic_load_explicit(&epoch, memory_order_relaxed)) {
        /* In use at the last collection plus what was handed out since: the Heap
         * curve climbs between collections instead of stepping only at them. */
        uint64_t heap = atomic_load_explicit(&heap_hint, memory_order_relaxed) +
                        (gcheap_allocated_total() - atomic_load_explicit(&allocated_at_hint, memory_order_relaxed));
        put(s, TRACEWIRE_REQ_END, s->cur_g, heap, status);
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
 * allocation, no locks, no stdio. Records into the calling (collecting) thread's buffer
 * only; a thread without a buffer counts the event as dropped. Heap figures come from
 * gcheap_stats_unlocked(), which is legal exactly here. */
static void on_gc_event(enum gcevent ev, int thread, void *ctx)
{
    (void)ctx;
    if (!atomic_load_explicit(&active, memory_order_relaxed)) return;
    if ((unsigned)ev >= sizeof kind_of_event || !kind_of_event[ev]) return;
    struct slot *s = enter_collection();
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
    put(s, kind_of_event[ev], a, b, thread);
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
    return atomic_load_explicit(&active, memory_order_relaxed);
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

/* Buffers for every live registered thread, so a collection on a thread that has
 * not served a request in this window is still recorded. Under ctl_lock, inactive. */
static void alloc_buffers(void)
{
    int n = gcthreads_count();
    for (int id = 0; id < n && id < GCTHREADS_MAX; id++) {
        if (!gcthreads_alive(id)) continue;
        slots[id].recs = malloc((size_t)win_cap * REC_SIZE);
        slots[id].cap = slots[id].recs ? win_cap : 0;
    }
    no_id_tids = malloc((size_t)win_cap * sizeof *no_id_tids);
    slots[NO_ID_SLOT].recs = no_id_tids ? malloc((size_t)win_cap * REC_SIZE) : NULL;
    slots[NO_ID_SLOT].cap = slots[NO_ID_SLOT].recs ? win_cap : 0;
}

/* Thread mode: every program thread with a buffer is seen at the window's start (its
 * name is read at the stop). Under ctl_lock, inactive: no owner writes its slot meanwhile. */
static void mark_threads_seen(uint64_t t_start)
{
    if (!atomic_load(&thread_mode)) return;
    for (int id = 0; id < GCTHREADS_MAX; id++) {
        struct slot *s = &slots[id];
        if (!s->recs || s->n >= s->cap || !atomic_load(&s->program)) continue;
        s->recs[s->n++] = (struct tracewire_rec){.ts = t_start, .kind = TRACEWIRE_THREAD_SEEN};
    }
}

int trace_start(void)
{
    struct gcheap_stats st;
    gcheap_stats(&st);                        /* outside ctl_lock: takes the GC lock */
    pthread_mutex_lock(&ctl_lock);
    if (running) {
        pthread_mutex_unlock(&ctl_lock);
        errno = EBUSY;
        return -1;
    }
    size_t cap = atomic_load(&cap_bytes) / REC_SIZE;
    win_cap = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
    alloc_buffers();
    memset(&win, 0, sizeof win);
    win.heap_alloc = st.in_use_bytes;
    win.heap_goal = st.next_gc;
    atomic_store(&allocated_at_hint, gcheap_allocated_total());
    atomic_store(&heap_hint, st.in_use_bytes);
    atomic_store(&next_g, 1);
    atomic_store(&lost, 0);
    atomic_fetch_add(&epoch, 1);
    running = 1;
    win.t_start = clock_mono_ns();
    win.threads = atomic_load(&thread_mode);
    mark_threads_seen(win.t_start);
    atomic_store(&active, 1);                 /* seq_cst: publishes all of the above */
    pthread_mutex_unlock(&ctl_lock);
    return 0;
}

/* Clears active and waits until no writer is inside a record; afterwards nobody
 * touches a slot until the next trace_start. Under ctl_lock. */
static void quiesce(void)
{
    atomic_store(&active, 0);
    for (int id = 0; id < NSLOTS; id++)
        while (atomic_load_explicit(&slots[id].busy, memory_order_acquire)) sched_yield();
}

/* Frees the window's buffers and counts its dropped events; returns them. */
static uint64_t free_buffers(void)
{
    uint64_t dropped = atomic_load(&lost);
    free(no_id_tids);
    no_id_tids = NULL;
    for (int id = 0; id < NSLOTS; id++) {
        struct slot *s = &slots[id];
        dropped += s->dropped;
        free(s->recs);
        s->recs = NULL;
        s->n = s->cap = 0;
        s->dropped = 0;
    }
    running = 0;
    atomic_fetch_add(&dropped_total, dropped);
    atomic_store(&dropped_last, dropped);
    return dropped;
}

/* Thread mode: a live thread's name now, from /proc (its comm), into name[16]. */
static void read_thread_name(int id, char name[16])
{
    char path[64];
    pid_t tid = gcthreads_tid(id);
    name[0] = '\0';
    if (!win.threads || !tid || !gcthreads_alive(id)) return;
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(name, 16, f)) name[0] = '\0';
    fclose(f);
    name[strcspn(name, "\n")] = '\0';
}

/* The records of slot id merged in time order with the NO_ID_SLOT records its thread
 * (tid) wrote; those are marked taken (tid 0). A malloc'd array of *n records, or NULL
 * when there are none to merge or no memory (the slot's own records are used then). */
static struct tracewire_rec *rehome_no_id_records(int id, pid_t tid, size_t *n)
{
    const struct slot *o = &slots[NO_ID_SLOT], *s = &slots[id];
    size_t mine = 0;
    for (uint32_t k = 0; tid && k < o->n; k++) mine += no_id_tids[k] == tid;
    if (!mine) return NULL;
    struct tracewire_rec *v = malloc((s->n + mine) * REC_SIZE);
    if (!v) return NULL;
    size_t i = 0, k = 0, m = 0;
    while (i < s->n || k < o->n) {
        if (k < o->n && no_id_tids[k] != tid) { k++; continue; }
        if (k < o->n && (i >= s->n || o->recs[k].ts <= s->recs[i].ts)) {
            v[m++] = o->recs[k];
            no_id_tids[k++] = 0;
        } else {
            v[m++] = s->recs[i++];
        }
    }
    *n = m;
    return v;
}

/* The NO_ID_SLOT records no thread took, compacted in place; returns how many. */
static uint32_t leftover_no_id_records(void)
{
    struct slot *o = &slots[NO_ID_SLOT];
    uint32_t m = 0;
    for (uint32_t k = 0; k < o->n; k++)
        if (no_id_tids[k]) o->recs[m++] = o->recs[k];
    return m;
}

/* The non-empty slots as tracewire streams (malloc'd array, *n entries); a stream whose
 * records were merged owns them (merged[i], freed by free_streams). */
static struct tracewire_stream *collect_streams(int *n, struct tracewire_rec ***merged)
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
        const struct slot *s = &slots[id];
        size_t nrec = s->n;
        struct tracewire_rec *own = s->n ? rehome_no_id_records(id, gcthreads_tid(id), &nrec) : NULL;
        if (!s->n) continue;
        (*merged)[*n] = own;
        v[*n] = (struct tracewire_stream){id, gcthreads_tid(id), own ? own : s->recs, nrec, {0}};
        read_thread_name(id, v[*n].name);
        ++*n;
    }
    uint32_t left = slots[NO_ID_SLOT].n ? leftover_no_id_records() : 0;
    if (left) v[(*n)++] = (struct tracewire_stream){NO_ID_SLOT, 0, slots[NO_ID_SLOT].recs, left, {0}};
    return v;
}

static void free_streams(struct tracewire_stream *v, struct tracewire_rec **merged)
{
    for (int i = 0; merged && i < NSLOTS; i++) free(merged[i]);
    free(merged);
    free(v);
}

/* Takes ctl_lock and closes the open window to writers; -1 (EINVAL, lock not held)
 * when no window is open. */
static int close_window(void)
{
    pthread_mutex_lock(&ctl_lock);
    if (!running) {
        pthread_mutex_unlock(&ctl_lock);
        errno = EINVAL;
        return -1;
    }
    quiesce();
    return 0;
}

int trace_stop(struct buf *out, uint64_t *dropped_events)
{
    if (close_window() < 0) return -1;
    win.t_stop = clock_mono_ns();
    win.first_free_g = atomic_load(&next_g);
    win.dropped = atomic_load(&lost);
    for (int id = 0; id < NSLOTS; id++) win.dropped += slots[id].dropped;
    int n;
    struct tracewire_rec **merged;
    struct tracewire_stream *streams = collect_streams(&n, &merged);
    int rc = streams ? tracewire_write(out, &win, streams, n) : -1;
    free_streams(streams, merged);
    uint64_t dropped = free_buffers();
    pthread_mutex_unlock(&ctl_lock);
    if (dropped_events) *dropped_events = dropped;
    if (rc < 0) {
        out->failed = 1;
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int trace_cancel(void)
{
    if (close_window() < 0) return -1;
    free_buffers();
    pthread_mutex_unlock(&ctl_lock);
    return 0;
}
