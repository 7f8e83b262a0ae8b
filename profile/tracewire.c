/* tracewire: recorded events -> Go 1.19 execution trace bytes. See tracewire.h for the
 * mapping; the state rules and wire format are those Go's src/internal/trace/parser.go enforces
 * (the project's shared notes, go-trace-v1/README.md beside the repository, sum them up).
 *
 * Shape: a writer (struct wr) holds one output stream per P plus the string, frame and
 * stack tables. Records from all threads are merged by time and each is applied to a
 * small state machine (per P: the goroutine it runs, open assist/sweep; global: the
 * open GC cycle and STW) that emits only transitions the parser accepts.
 */
#include "profile/tracewire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc/errors.h"

/* Go's v1 event types (runtime/trace.go, internal/trace/parser.go). */
enum {
    EV_BATCH = 1, EV_FREQUENCY = 2, EV_STACK = 3, EV_GOMAXPROCS = 4, EV_PROC_START = 5,
    EV_PROC_STOP = 6, EV_GC_START = 7, EV_GC_DONE = 8, EV_GC_STW_START = 9,
    EV_GC_STW_DONE = 10, EV_GC_SWEEP_START = 11, EV_GC_SWEEP_DONE = 12,
    EV_GO_CREATE = 13, EV_GO_START = 14, EV_GO_END = 15, EV_GO_PREEMPT = 18,
    EV_HEAP_ALLOC = 33, EV_HEAP_GOAL = 34, EV_STRING = 37, EV_GO_START_LABEL = 41,
    EV_GC_MARK_ASSIST_START = 43, EV_GC_MARK_ASSIST_DONE = 44, EV_USER_TASK_CREATE = 45,
    EV_USER_TASK_END = 46, EV_USER_REGION = 47, EV_USER_LOG = 48
};

#define STW_MARK_TERMINATION 0   /* the only STW kind drawn for a full Boehm collection */
#define TICKS_PER_SECOND 1000000000ull
#define PC_BASE 0x400000u        /* synthetic PCs: one per distinct frame */
#define PC_STEP 0x40u
#define MAX_FRAMES 2
#define HEAP_UNKNOWN UINT64_MAX  /* a collection closed without its end record */

enum gkind { G_NONE, G_REQ, G_GCWRAP, G_THREAD };

struct pstate {                  /* one P of the output */
    struct buf ev;               /* encoded events (after the batch header) */
    uint64_t first_ts, last_ts;
    int has_ev;
    int thread;
    pid_t tid;
    uint64_t g;                  /* goroutine on this P (running or preempted), 0 = none */
    uint64_t seq;                /* g's sequence number for its next GoStart */
    enum gkind kind;
    int preempted;               /* g runnable: its thread is stopped by a collection */
    int route;                   /* index into wr.routes, for G_REQ */
    int assist, sweep;           /* open mark assist / sweep on this P */
    int had_thread_g;            /* thread mode: its thread's goroutine was started */
    uint32_t stk_thread;         /* thread mode: that goroutine's one-frame stack */
    char gname[64];              /* and the frame's text (interned: lives as long) */
};

struct str { const char *s; size_t len; };
struct frame { uint32_t fn, file, line; };
struct stack { int n; uint32_t frame[MAX_FRAMES]; };
struct route { const char *ptr; uint32_t sid, stk_create, stk_req; };

struct wr {
    struct pstate *ps;
    int np;
    int *p_of_thread;            /* gcthreads id -> P, or -1 */
    int nthreads;
    struct str *strs; uint32_t nstr; size_t capstr;
    struct frame *frames; uint32_t nframe; size_t capframe;
    struct stack *stacks; uint32_t nstack; size_t capstack;
    struct route *routes; int nroute; size_t caproute;
    int oom;
    int threads;                 /* thread mode (tracewire.h) */
    /* global state */
    int gc_open, gc_p, stw;
    uint64_t gc_seq, next_g;
    uint64_t stw_ts, last_pause;             /* open pause's start; the last one's length */
    uint64_t stw_total, stw_max;             /* the window's pauses: sum and longest */
    uint64_t wtask;                          /* the window's task: every request's parent */
    int gc_done_p;               /* P and time of the last GCDone, or -1 */
    uint64_t gc_done_ts;
    /* interned names and stacks */
    uint32_t s_status, s_handler, s_dedicated, s_partial, s_dropped_key, s_window, s_gc_key, s_total_key;
    uint32_t stk_window, stk_trace, stk_accept, stk_gc, stk_gc_partial, stk_gc_site, stk_gcwrap, stk_assist,
             stk_sweep, stk_preempt, stk_stop, stk_thread_site;
    char dropped_name[96];
    char window_name[128];                   /* s_window's text, written at stop */
};

/* ---- tables ------------------------------------------------------------------ */

/* Interns s (not copied: it must outlive the writer). Returns its id (>= 1), 0 on OOM. */
static uint32_t intern(struct wr *w, const char *s)
{
    size_t len = strlen(s);
    if (len == 0) { s = "?"; len = 1; }          /* the parser rejects empty strings */
    for (uint32_t i = 0; i < w->nstr; i++)
        if (w->strs[i].len == len && memcmp(w->strs[i].s, s, len) == 0) return i + 1;
    if (buf_grow_array(&w->strs, &w->capstr, (size_t)w->nstr + 1, sizeof *w->strs)) { w->oom = 1; return 0; }
    w->strs[w->nstr++] = (struct str){s, len};
    return w->nstr;
}

/* A string id whose text is set later (str_set): the window task's name, which sums up
 * the collections, is known only after the merge, but its id goes out at the start. */
static uint32_t reserve(struct wr *w)
{
    if (buf_grow_array(&w->strs, &w->capstr, (size_t)w->nstr + 1, sizeof *w->strs)) { w->oom = 1; return 0; }
    w->strs[w->nstr++] = (struct str){"?", 1};
    return w->nstr;
}

static void str_set(struct wr *w, uint32_t id, const char *s)
{
    if (id && s[0]) w->strs[id - 1] = (struct str){s, strlen(s)};
}

static uint32_t frame_of(struct wr *w, const char *fn, const char *file, uint32_t line)
{
    struct frame f = {intern(w, fn), intern(w, file), line};
    for (uint32_t i = 0; i < w->nframe; i++)
        if (memcmp(&w->frames[i], &f, sizeof f) == 0) return i;
    if (buf_grow_array(&w->frames, &w->capframe, (size_t)w->nframe + 1, sizeof f)) { w->oom = 1; return 0; }
    w->frames[w->nframe] = f;
    return w->nframe++;
}

/* A stack of n frames (innermost first) given as fn/file/line triples. Returns its id
 * (>= 1; 0 means "no stack" to the parser, so it is only returned on OOM). */
static uint32_t stack_of(struct wr *w, int n, const char *fn0, uint32_t line0,
                         const char *fn1, uint32_t line1, const char *file)
{
    struct stack s = {n, {frame_of(w, fn0, file, line0), 0}};
    if (n > 1) s.frame[1] = frame_of(w, fn1, file, line1);
    for (uint32_t i = 0; i < w->nstack; i++)
        if (memcmp(&w->stacks[i], &s, sizeof s) == 0) return i + 1;
    if (buf_grow_array(&w->stacks, &w->capstack, (size_t)w->nstack + 1, sizeof s)) { w->oom = 1; return 0; }
    w->stacks[w->nstack++] = s;
    return w->nstack;
}

/* A request's route: its name, the one-frame stack naming its goroutine, and the stack
 * its task, region and log events carry (a different frame of the same function). */
static int route_of(struct wr *w, const char *name)
{
    for (int i = 0; i < w->nroute; i++)
        if (w->routes[i].ptr == name) return i;
    if (buf_grow_array(&w->routes, &w->caproute, (size_t)w->nroute + 1, sizeof *w->routes)) {
        w->oom = 1;
        return -1;
    }
    const char *shown = name ? name : "(unnamed request)";
    struct route *r = &w->routes[w->nroute];
    r->ptr = name;
    r->sid = intern(w, shown);
    r->stk_create = stack_of(w, 1, shown, 1, NULL, 0, "memdemo/request");
    r->stk_req = stack_of(w, 1, shown, 2, NULL, 0, "memdemo/request");
    return w->nroute++;
}

static void intern_fixed(struct wr *w)
{
    w->s_status = intern(w, "status");
    w->s_handler = intern(w, "handler");
    w->s_dedicated = intern(w, "GC (dedicated)");
    w->s_partial = intern(w, "GC (partial)");
    w->s_dropped_key = intern(w, "dropped events");
    w->s_window = reserve(w);
    w->s_gc_key = intern(w, "GC");
    w->s_total_key = intern(w, "GC total");
    w->stk_window = stack_of(w, 1, "memdemo trace window", 1, NULL, 0, "profile/trace.c");
    w->stk_trace = stack_of(w, 1, "trace_start", 1, NULL, 0, "profile/trace.c");
    w->stk_accept = stack_of(w, 1, "http accept", 1, NULL, 0, "src/server.c");
    w->stk_gc = stack_of(w, 1, "GC_collect", 1, NULL, 0, "bdwgc/alloc.c");
    /* generational mode's partial collections: another stack and goroutine label */
    w->stk_gc_partial = stack_of(w, 1, "GC_collect_a_little", 1, NULL, 0, "bdwgc/alloc.c");
    w->stk_gc_site = stack_of(w, 1, "GC_collect", 2, NULL, 0, "bdwgc/alloc.c");
    w->stk_gcwrap = stack_of(w, 1, "GC (dedicated)", 1, NULL, 0, "bdwgc/alloc.c");
    w->stk_assist = stack_of(w, 2, "GC_stopped_mark", 1, "GC_collect", 1, "bdwgc/alloc.c");
    w->stk_sweep = stack_of(w, 2, "GC_finish_collection", 1, "GC_collect", 1, "bdwgc/alloc.c");
    w->stk_preempt = stack_of(w, 1, "GC_suspend_handler", 1, NULL, 0, "bdwgc/pthread_stop_world.c");
    w->stk_stop = stack_of(w, 1, "trace_stop", 1, NULL, 0, "profile/trace.c");
    if (w->threads)
        w->stk_thread_site = stack_of(w, 1, "first GC allocation", 1, NULL, 0, "gc/gcinterpose.c");
}

/* ---- encoding ---------------------------------------------------------------- */

static size_t uvarint_to(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) { p[n++] = (uint8_t)(v | 0x80); v >>= 7; }
    p[n++] = (uint8_t)v;
    return n;
}

/* Appends one event to P p at ts: the type byte, the tick delta, args[0..n-1], and for
 * UserLog the inline value string. 1..3 arguments (delta included) are inline; more
 * are length-prefixed. ts never goes backwards within a P. */
static void emit_v(struct wr *w, int p, uint64_t ts, int type, const uint64_t *args, int n,
                   const char *value)
{
    struct pstate *ps = &w->ps[p];
    if (!ps->has_ev) { ps->first_ts = ps->last_ts = ts; ps->has_ev = 1; }
    if (ts < ps->last_ts) ts = ps->last_ts;
    uint8_t body[10 * 8];
    size_t len = uvarint_to(body, ts - ps->last_ts);
    for (int i = 0; i < n; i++) len += uvarint_to(body + len, args[i]);
    ps->last_ts = ts;
    if (n + 1 <= 3) {
        buf_putc(&ps->ev, (char)(type | n << 6));
    } else {
        buf_putc(&ps->ev, (char)(type | 3 << 6));
        buf_uvarint(&ps->ev, len);
    }
    buf_append(&ps->ev, body, len);
    if (value) {
        buf_uvarint(&ps->ev, strlen(value));
        buf_puts(&ps->ev, value);
    }
}

#define ARGS(...) (const uint64_t[]){__VA_ARGS__}, (int)(sizeof((uint64_t[]){__VA_ARGS__}) / 8)
#define EMIT(w, p, ts, type, ...) emit_v(w, p, ts, type, ARGS(__VA_ARGS__), NULL)
#define EMIT0(w, p, ts, type) emit_v(w, p, ts, type, NULL, 0, NULL)

/* ---- state machine ----------------------------------------------------------- */

/* The thread of P p ran again while its goroutine was marked preempted (a suspend
 * event is recorded slightly before the thread stops, and it may record events
 * before the collector records the resume): put the goroutine back first. */
static void unpreempt(struct wr *w, int p, uint64_t ts)
{
    struct pstate *ps = &w->ps[p];
    if (!ps->preempted) return;
    EMIT(w, p, ts, EV_GO_START, ps->g, ps->seq);
    ps->seq++;
    ps->preempted = 0;
}

/* Ends the open pause on P p at ts and adds it to the window's pause figures. */
static void stw_done(struct wr *w, int p, uint64_t ts)
{
    EMIT0(w, p, ts, EV_GC_STW_DONE);
    uint64_t d = w->ps[p].last_ts - w->stw_ts;    /* the times the events got */
    w->last_pause = d;
    w->stw_total += d;
    if (d > w->stw_max) w->stw_max = d;
    w->stw = 0;
}

/* Formats ns as milliseconds with three decimals into s. */
static void fmt_ms(char *s, size_t size, uint64_t ns)
{
    snprintf(s, size, "%" PRIu64 ".%03" PRIu64 " ms", ns / 1000000, ns / 1000 % 1000);
}

/* A log "GC" on the window's task, from the collecting goroutine, saying what the
 * collection just closed on P p cost: its pause (the one just added) and the heap it
 * left (HEAP_UNKNOWN: its end was not recorded; a heap may well be empty after the
 * first collections of a program). Skipped when no goroutine runs on p. */
static void gc_log(struct wr *w, int p, uint64_t ts, uint64_t heap)
{
    const struct pstate *ps = &w->ps[p];
    if (ps->kind == G_NONE || ps->preempted || !w->wtask) return;
    char pause[32], value[96];
    fmt_ms(pause, sizeof pause, w->last_pause);
    if (heap != HEAP_UNKNOWN)
        snprintf(value, sizeof value, "GC %" PRIu64 ": %s stop-the-world, %.1f MB in use after",
                 w->gc_seq, pause, heap / 1e6);
    else
        snprintf(value, sizeof value, "GC %" PRIu64 ": %s stop-the-world, end not recorded",
                 w->gc_seq, pause);
    uint32_t stk = ps->kind == G_REQ ? w->routes[ps->route].stk_req
                 : ps->kind == G_THREAD ? ps->stk_thread : w->stk_gcwrap;
    emit_v(w, p, ts, EV_USER_LOG, ARGS(w->wtask, w->s_gc_key, stk), value);
}

/* Ends the open collection (on its P): assist, sweep, STW, then the heap figures if
 * known, GCDone, and the dedicated wrapper goroutine. */
static void gc_close(struct wr *w, uint64_t ts, uint64_t heap, uint64_t goal)
{
    if (!w->gc_open) return;
    int p = w->gc_p;
    struct pstate *ps = &w->ps[p];
    if (ps->assist) { EMIT0(w, p, ts, EV_GC_MARK_ASSIST_DONE); ps->assist = 0; }
    if (ps->sweep) { EMIT(w, p, ts, EV_GC_SWEEP_DONE, 0, 0); ps->sweep = 0; }
    if (w->stw) stw_done(w, p, ts);
    gc_log(w, p, ts, heap);
    if (heap != HEAP_UNKNOWN) {
        EMIT(w, p, ts, EV_HEAP_ALLOC, heap);
        EMIT(w, p, ts, EV_HEAP_GOAL, goal);
    }
    EMIT0(w, p, ts, EV_GC_DONE);
    w->gc_done_p = p;
    w->gc_done_ts = ps->last_ts;              /* the time it got (emit_v never goes back) */
    if (ps->kind == G_GCWRAP) {
        EMIT0(w, p, ts, EV_GO_END);
        ps->kind = G_NONE;
        ps->g = 0;
    }
    w->gc_open = 0;
}

/* Makes P p idle before a new request starts on it (only after lost records). */
static void p_clear(struct wr *w, int p, uint64_t ts)
{
    struct pstate *ps = &w->ps[p];
    if (w->gc_open && w->gc_p == p) gc_close(w, ts, HEAP_UNKNOWN, 0);
    if (ps->kind == G_REQ) {
        EMIT0(w, p, ts, EV_GO_END);
        ps->kind = G_NONE;
        ps->g = 0;
    }
}

static void on_req_begin(struct wr *w, int p, const struct tracewire_rec *r)
{
    struct pstate *ps = &w->ps[p];
    int rt = route_of(w, (const char *)(uintptr_t)r->b);
    if (rt < 0 || r->a == 0) return;
    p_clear(w, p, r->ts);
    const struct route *ro = &w->routes[rt];
    EMIT(w, p, r->ts, EV_GO_CREATE, r->a, ro->stk_create, w->stk_accept);
    EMIT(w, p, r->ts, EV_GO_START, r->a, 1);
    EMIT(w, p, r->ts, EV_USER_TASK_CREATE, r->a, w->wtask, ro->sid, ro->stk_req);
    EMIT(w, p, r->ts, EV_USER_REGION, r->a, 0, w->s_handler, ro->stk_req);
    ps->g = r->a;
    ps->seq = 2;
    ps->kind = G_REQ;
    ps->route = rt;
}

static void on_req_end(struct wr *w, int p, const struct tracewire_rec *r)
{
    struct pstate *ps = &w->ps[p];
    if (ps->kind != G_REQ || ps->g != r->a) return;   /* began before the window */
    uint32_t stk = w->routes[ps->route].stk_req;
    char status[16];
    snprintf(status, sizeof status, "%d", (int)r->c);
    if (ps->assist) { EMIT0(w, p, r->ts, EV_GC_MARK_ASSIST_DONE); ps->assist = 0; }
    emit_v(w, p, r->ts, EV_USER_LOG, ARGS(r->a, w->s_status, stk), status);
    EMIT(w, p, r->ts, EV_USER_REGION, r->a, 1, w->s_handler, stk);
    EMIT(w, p, r->ts, EV_USER_TASK_END, r->a, stk);
    if (r->b) EMIT(w, p, r->ts, EV_HEAP_ALLOC, r->b);
    EMIT0(w, p, r->ts, EV_GO_END);
    ps->kind = G_NONE;
    ps->g = 0;
}

static void on_gc_start(struct wr *w, int p, const struct tracewire_rec *r)
{
    struct pstate *ps = &w->ps[p];
    uint64_t ts = r->ts;
    if (w->gc_open) {
        /* The previous cycle lost its end (its thread's buffer filled up): close it at
         * that thread's last event. */
        gc_close(w, w->gc_p == p ? r->ts : w->ps[w->gc_p].last_ts, HEAP_UNKNOWN, 0);
    }
    /* Go's parser orders the GC events of different Ps by time alone, so a cycle that
     * ended on another P at this tick or later (clamped records, the close above) must
     * be seen to end first: this one starts one tick after it. */
    if (w->gc_done_p >= 0 && w->gc_done_p != p && ts <= w->gc_done_ts) ts = w->gc_done_ts + 1;
    if (ps->kind == G_NONE) {
        uint64_t g = w->next_g++;
        EMIT(w, p, ts, EV_GO_CREATE, g, w->stk_gcwrap, w->stk_gc_site);
        EMIT(w, p, ts, EV_GO_START_LABEL, g, 1, r->b ? w->s_partial : w->s_dedicated);
        ps->g = g;
        ps->seq = 2;
        ps->kind = G_GCWRAP;
    }
    EMIT(w, p, ts, EV_GC_START, w->gc_seq, r->b ? w->stk_gc_partial : w->stk_gc);
    w->gc_seq++;
    w->last_pause = 0;
    w->gc_open = 1;
    w->gc_p = p;
}

/* STW, assist and sweep events count only inside a cycle opened on the same P. */
static void on_gc_phase(struct wr *w, int p, const struct tracewire_rec *r)
{
    struct pstate *ps = &w->ps[p];
    if (!w->gc_open || w->gc_p != p) return;
    switch (r->kind) {
    case TRACEWIRE_GC_STW_START:
        if (!w->stw) {
            EMIT(w, p, r->ts, EV_GC_STW_START, STW_MARK_TERMINATION);
            w->stw = 1;
            w->stw_ts = ps->last_ts;
        }
        break;
    case TRACEWIRE_GC_STW_DONE:
        if (w->stw) stw_done(w, p, r->ts);
        break;
    case TRACEWIRE_GC_MARK_START:             /* an assist only for a request's or thread's g */
        if ((ps->kind == G_REQ || ps->kind == G_THREAD) && !ps->assist) {
            EMIT(w, p, r->ts, EV_GC_MARK_ASSIST_START, w->stk_assist);
            ps->assist = 1;
        }
        break;
    case TRACEWIRE_GC_MARK_END:
        if (ps->assist) { EMIT0(w, p, r->ts, EV_GC_MARK_ASSIST_DONE); ps->assist = 0; }
        break;
    case TRACEWIRE_GC_SWEEP_START:
        if (!ps->sweep) { EMIT(w, p, r->ts, EV_GC_SWEEP_START, w->stk_sweep); ps->sweep = 1; }
        break;
    case TRACEWIRE_GC_SWEEP_DONE:
        if (ps->sweep) { EMIT(w, p, r->ts, EV_GC_SWEEP_DONE, r->b, r->a); ps->sweep = 0; }
        break;
    case TRACEWIRE_GC_END:
        gc_close(w, r->ts, r->a, r->b);
        break;
    default:
        break;
    }
}

/* The collector on P p stopped (or restarted) thread r->c: its request, if any, is
 * drawn as preempted for the pause. Written into that thread's P at the collector's
 * time, which the merge keeps in order. */
static void on_suspend(struct wr *w, int p, const struct tracewire_rec *r)
{
    int t = r->c;
    if (t < 0 || t >= w->nthreads) return;
    int q = w->p_of_thread[t];
    if (q < 0 || q == p) return;
    struct pstate *qs = &w->ps[q];
    if (r->kind == TRACEWIRE_THREAD_UNSUSPENDED) { unpreempt(w, q, r->ts); return; }
    if ((qs->kind != G_REQ && qs->kind != G_THREAD) || qs->preempted) return;
    if (qs->assist) { EMIT0(w, q, r->ts, EV_GC_MARK_ASSIST_DONE); qs->assist = 0; }
    EMIT(w, q, r->ts, EV_GO_PREEMPT, w->stk_preempt);
    qs->preempted = 1;
}

/* ---- thread mode ------------------------------------------------------------- */

/* The window's task, created at ts on P p by its running goroutine (whose stack is stk). */
static void window_task(struct wr *w, int p, uint64_t ts, uint32_t stk)
{
    w->wtask = w->next_g++;
    EMIT(w, p, ts, EV_USER_TASK_CREATE, w->wtask, 0, w->s_window, stk);
}

/* Starts the goroutine of P p's thread at ts, unless it has had one (it ran, or runs). */
static void thread_g_start(struct wr *w, int p, uint64_t ts)
{
    struct pstate *ps = &w->ps[p];
    if (ps->had_thread_g || ps->kind != G_NONE) return;
    uint64_t g = w->next_g++;
    EMIT(w, p, ts, EV_GO_CREATE, g, ps->stk_thread, w->stk_thread_site);
    EMIT(w, p, ts, EV_GO_START, g, 1);
    ps->g = g;
    ps->seq = 2;
    ps->kind = G_THREAD;
    ps->had_thread_g = 1;
    if (!w->wtask) window_task(w, p, ts, ps->stk_thread);
}

/* The thread of P p exits: its goroutine ends (after a collection it had open). */
static void thread_g_end(struct wr *w, int p, uint64_t ts)
{
    struct pstate *ps = &w->ps[p];
    if (w->gc_open && w->gc_p == p) gc_close(w, ts, HEAP_UNKNOWN, 0);
    if (ps->kind != G_THREAD) return;
    EMIT0(w, p, ts, EV_GO_END);
    ps->kind = G_NONE;
    ps->g = 0;
}

/* A record of P p's own thread, in thread mode: requests are not drawn. */
static void apply_thread(struct wr *w, int p, const struct tracewire_rec *r)
{
    if (r->kind == TRACEWIRE_REQ_BEGIN || r->kind == TRACEWIRE_REQ_END) return;
    thread_g_start(w, p, r->ts);
    switch (r->kind) {
    case TRACEWIRE_THREAD_SEEN: break;
    case TRACEWIRE_THREAD_EXIT: thread_g_end(w, p, r->ts); break;
    case TRACEWIRE_GC_START: on_gc_start(w, p, r); break;
    default: on_gc_phase(w, p, r); break;
    }
}

/* The last thread name in a stream's records (SEEN, EXIT) into name[16], or "". */
static void recorded_name(const struct tracewire_stream *st, char name[16])
{
    name[0] = '\0';
    for (size_t i = st->n; i-- > 0; ) {
        const struct tracewire_rec *r = &st->recs[i];
        if (r->kind != TRACEWIRE_THREAD_SEEN && r->kind != TRACEWIRE_THREAD_EXIT) continue;
        memcpy(name, &r->a, 8);
        memcpy(name + 8, &r->b, 8);
        name[15] = '\0';
        if (name[0]) return;
    }
}

/* Each P's goroutine name and one-frame stack: "thread TID (NAME)", the name as of
 * the stop when the thread still lives, else the last one its records carried. */
static void thread_names(struct wr *w, const struct tracewire_stream *const *src)
{
    for (int p = 0; p < w->np; p++) {
        struct pstate *ps = &w->ps[p];
        char name[16];
        memcpy(name, src[p]->name, sizeof name);
        name[15] = '\0';
        if (!name[0]) recorded_name(src[p], name);
        if (name[0]) snprintf(ps->gname, sizeof ps->gname, "thread %d (%s)", (int)ps->tid, name);
        else snprintf(ps->gname, sizeof ps->gname, "thread %d", (int)ps->tid);
        ps->stk_thread = stack_of(w, 1, ps->gname, 1, NULL, 0, "libgcprof: a program thread");
    }
}

static void apply(struct wr *w, int p, const struct tracewire_rec *r)
{
    if (r->kind == TRACEWIRE_THREAD_SUSPENDED || r->kind == TRACEWIRE_THREAD_UNSUSPENDED) {
        on_suspend(w, p, r);
        return;
    }
    unpreempt(w, p, r->ts);                   /* this thread is evidently running */
    if (w->threads) {
        apply_thread(w, p, r);
        return;
    }
    switch (r->kind) {
    case TRACEWIRE_REQ_BEGIN: on_req_begin(w, p, r); break;
    case TRACEWIRE_REQ_END: on_req_end(w, p, r); break;
    case TRACEWIRE_GC_START: on_gc_start(w, p, r); break;
    default: on_gc_phase(w, p, r); break;
    }
}

/* ---- window ------------------------------------------------------------------ */

/* Starts a goroutine on P0 at t, named by the one-frame stack stk and created at
 * site, for events that belong to no request; end it with EV_GO_END. P0 must be idle. */
static uint64_t p0_goroutine(struct wr *w, uint64_t t, uint32_t stk, uint32_t site)
{
    uint64_t g = w->next_g++;
    EMIT(w, 0, t, EV_GO_CREATE, g, stk, site);
    EMIT(w, 0, t, EV_GO_START, g, 1);
    return g;
}

/* Gomaxprocs twice (Go 1.23 takes the first as the end of the initial state), then a
 * ProcStart per P and the initial heap figures, one tick later; then, from a goroutine
 * of its own, the window's task, which is every request's parent and carries the
 * collections' logs. It never ends: Go 1.23 turns the end of a task whose parent is 0
 * into a nameless "Task 0" spanning the whole trace (and a parent of 0 is what both
 * versions read as "no parent"), so both viewers list it as incomplete instead. */
static void emit_start(struct wr *w, const struct tracewire_window *win)
{
    uint64_t t0 = win->t_start - 2;
    EMIT(w, 0, t0, EV_GOMAXPROCS, (uint64_t)w->np, w->stk_trace);
    EMIT(w, 0, t0, EV_GOMAXPROCS, (uint64_t)w->np, w->stk_trace);
    for (int p = 0; p < w->np; p++) EMIT(w, p, t0 + 1, EV_PROC_START, (uint64_t)w->ps[p].tid);
    EMIT(w, 0, t0 + 1, EV_HEAP_ALLOC, win->heap_alloc);
    EMIT(w, 0, t0 + 1, EV_HEAP_GOAL, win->heap_goal);
    if (w->threads) return;                   /* the first thread goroutine makes the task */
    w->wtask = p0_goroutine(w, t0 + 1, w->stk_window, w->stk_trace);
    EMIT(w, 0, t0 + 1, EV_USER_TASK_CREATE, w->wtask, 0, w->s_window, w->stk_window);
    EMIT0(w, 0, t0 + 1, EV_GO_END);
}

/* A goroutine on P0 that says how many events were lost, visible in the goroutine
 * list (its name) and as a log instant on the window's task. */
static void emit_dropped(struct wr *w, const struct tracewire_window *win)
{
    char value[24];
    snprintf(w->dropped_name, sizeof w->dropped_name,
             "memdemo trace: %" PRIu64 " events dropped", win->dropped);
    snprintf(value, sizeof value, "%" PRIu64, win->dropped);
    uint32_t stk = stack_of(w, 1, w->dropped_name, 1, NULL, 0, "profile/trace.c");
    p0_goroutine(w, win->t_stop, stk, w->stk_stop);
    emit_v(w, 0, win->t_stop, EV_USER_LOG, ARGS(w->wtask, w->s_dropped_key, stk), value);
    EMIT0(w, 0, win->t_stop, EV_GO_END);
}

/* The window's figures: sets its task's name and formats the "GC total" log's value. */
static void gc_total_text(struct wr *w, const struct tracewire_window *win, char *value, size_t size)
{
    uint64_t span = win->t_stop > win->t_start ? win->t_stop - win->t_start : 1;
    char total[32], longest[32];
    fmt_ms(total, sizeof total, w->stw_total);
    fmt_ms(longest, sizeof longest, w->stw_max);
    snprintf(w->window_name, sizeof w->window_name,
             "trace window: %" PRIu64 " collection%s, %s stop-the-world in %.3f s",
             w->gc_seq, w->gc_seq == 1 ? "" : "s", total, span / 1e9);
    str_set(w, w->s_window, w->window_name);
    snprintf(value, size,
             "%" PRIu64 " collection%s, %s stop-the-world (%.2f%% of %.3f s), longest %s",
             w->gc_seq, w->gc_seq == 1 ? "" : "s", total, 100.0 * (double)w->stw_total / (double)span, span / 1e9, longest);
}

/* The window's task name and its "GC total" log, from a goroutine on P0 at t_stop, so
 * both viewers' task pages show how much GC the window held. */
static void emit_gc_total(struct wr *w, const struct tracewire_window *win)
{
    char value[160];
    gc_total_text(w, win, value, sizeof value);
    p0_goroutine(w, win->t_stop, w->stk_window, w->stk_stop);
    emit_v(w, 0, win->t_stop, EV_USER_LOG, ARGS(w->wtask, w->s_total_key, w->stk_window), value);
    EMIT0(w, 0, win->t_stop, EV_GO_END);
}

/* Thread mode's summary at t_stop: the "dropped events" and "GC total" logs on the
 * window's task, from a thread goroutine still running, else from a goroutine of its
 * own on P0 (then idle: no thread goroutine runs), which also makes the task when no
 * thread goroutine ever started. */
static void thread_summary(struct wr *w, const struct tracewire_window *win)
{
    uint64_t t = win->t_stop;
    int host = -1;
    for (int p = 0; p < w->np && host < 0; p++)
        if (w->ps[p].kind == G_THREAD && !w->ps[p].preempted) host = p;
    int p = host >= 0 ? host : 0;
    uint32_t stk = host >= 0 ? w->ps[host].stk_thread : w->stk_window;
    if (host < 0) p0_goroutine(w, t, w->stk_window, w->stk_stop);
    if (!w->wtask) window_task(w, p, t, stk);
    char value[160];
    if (win->dropped) {
        snprintf(value, sizeof value, "%" PRIu64 " events dropped", win->dropped);
        emit_v(w, p, t, EV_USER_LOG, ARGS(w->wtask, w->s_dropped_key, stk), value);
    }
    gc_total_text(w, win, value, sizeof value);
    emit_v(w, p, t, EV_USER_LOG, ARGS(w->wtask, w->s_total_key, stk), value);
    if (host < 0) EMIT0(w, 0, t, EV_GO_END);
}

/* Closes everything still open at t_stop, in the order the parser needs. */
static void emit_stop(struct wr *w, const struct tracewire_window *win)
{
    uint64_t t = win->t_stop;
    gc_close(w, t, HEAP_UNKNOWN, 0);
    if (w->threads) thread_summary(w, win);
    for (int p = 0; p < w->np; p++) {
        struct pstate *ps = &w->ps[p];
        if ((ps->kind == G_REQ || ps->kind == G_THREAD) && !ps->preempted)
            EMIT(w, p, t, EV_GO_PREEMPT, w->stk_stop);
    }
    if (!w->threads) {
        if (win->dropped) emit_dropped(w, win);
        emit_gc_total(w, win);
    }
    for (int p = 0; p < w->np; p++) EMIT0(w, p, t, EV_PROC_STOP);
}

/* Applies every record in global time order (ties: lower P first). */
static void merge(struct wr *w, const struct tracewire_stream *const *src,
                  const struct tracewire_window *win)
{
    size_t *at = calloc((size_t)w->np, sizeof *at);
    if (!at) { w->oom = 1; return; }
    for (;;) {
        int best = -1;
        uint64_t bts = 0;
        for (int p = 0; p < w->np; p++) {
            if (at[p] >= src[p]->n) continue;
            uint64_t ts = src[p]->recs[at[p]].ts;
            if (best < 0 || ts < bts) { best = p; bts = ts; }
        }
        if (best < 0) break;
        struct tracewire_rec r = src[best]->recs[at[best]++];
        if (r.ts < win->t_start) r.ts = win->t_start;
        if (r.ts > win->t_stop) r.ts = win->t_stop;
        apply(w, best, &r);
    }
    free(at);
}

/* ---- output ------------------------------------------------------------------ */

static void write_tables(struct buf *out, const struct wr *w)
{
    for (uint32_t i = 0; i < w->nstr; i++) {
        buf_putc(out, EV_STRING);
        buf_uvarint(out, i + 1);
        buf_uvarint(out, w->strs[i].len);
        buf_append(out, w->strs[i].s, w->strs[i].len);
    }
    for (uint32_t i = 0; i < w->nstack; i++) {
        const struct stack *s = &w->stacks[i];
        uint8_t body[2 * 10 + MAX_FRAMES * 4 * 10];
        size_t len = uvarint_to(body, i + 1);
        len += uvarint_to(body + len, (uint64_t)s->n);
        for (int k = 0; k < s->n; k++) {
            const struct frame *f = &w->frames[s->frame[k]];
            len += uvarint_to(body + len, PC_BASE + PC_STEP * (s->frame[k] + 1));
            len += uvarint_to(body + len, f->fn);
            len += uvarint_to(body + len, f->file);
            len += uvarint_to(body + len, f->line);
        }
        buf_putc(out, (char)(EV_STACK | 3 << 6));
        buf_uvarint(out, len);
        buf_append(out, body, len);
    }
    buf_putc(out, EV_FREQUENCY);
    buf_uvarint(out, TICKS_PER_SECOND);
}

static void write_out(struct buf *out, const struct wr *w)
{
    buf_append(out, "go 1.19 trace\0\0\0", 16);
    for (int p = 0; p < w->np; p++) {
        const struct pstate *ps = &w->ps[p];
        if (!ps->has_ev) continue;
        buf_putc(out, (char)(EV_BATCH | 1 << 6));
        buf_uvarint(out, (uint64_t)p);
        buf_uvarint(out, ps->first_ts);
        buf_append(out, ps->ev.data, ps->ev.len);
        if (ps->ev.failed) out->failed = 1;
    }
    write_tables(out, w);
}

/* Picks the Ps: every stream with records, in order; if none, one P. */
static int setup(struct wr *w, const struct tracewire_stream *streams, int nstreams,
                 const struct tracewire_stream ***srcp)
{
    static const struct tracewire_stream none = {0, 0, NULL, 0, {0}};
    int np = 0, maxthread = 0;
    for (int i = 0; i < nstreams; i++) {
        if (streams[i].n) np++;
        if (streams[i].thread + 1 > maxthread) maxthread = streams[i].thread + 1;
    }
    int alone = np == 0;
    if (alone) np = 1;
    const struct tracewire_stream **src = calloc((size_t)np, sizeof *src);
    w->ps = calloc((size_t)np, sizeof *w->ps);
    w->p_of_thread = malloc((size_t)(maxthread + 1) * sizeof(int));
    if (!src || !w->ps || !w->p_of_thread) { free(src); return -1; }
    w->np = np;
    w->nthreads = maxthread;
    for (int t = 0; t <= maxthread; t++) w->p_of_thread[t] = -1;
    int p = 0;
    for (int i = 0; i < nstreams && !alone; i++) {
        if (!streams[i].n) continue;
        if (streams[i].thread >= 0) w->p_of_thread[streams[i].thread] = p;
        src[p++] = &streams[i];
    }
    if (alone) src[0] = nstreams ? &streams[0] : &none;
    for (p = 0; p < np; p++) {
        w->ps[p].thread = src[p]->thread;
        w->ps[p].tid = src[p]->tid;
    }
    *srcp = src;
    return 0;
}

static void wr_free(struct wr *w)
{
    for (int p = 0; p < w->np && w->ps; p++) buf_free(&w->ps[p].ev);
    free(w->ps);
    free(w->p_of_thread);
    free(w->strs);
    free(w->frames);
    free(w->stacks);
    free(w->routes);
}

int tracewire_write(struct buf *out, const struct tracewire_window *win,
                    const struct tracewire_stream *streams, int nstreams)
{
    struct wr w;
    memset(&w, 0, sizeof w);
    w.next_g = win->first_free_g ? win->first_free_g : 1;
    w.gc_done_p = -1;
    w.threads = win->threads;
    const struct tracewire_stream **src = NULL;
    if (setup(&w, streams, nstreams, &src) < 0) {
        wr_free(&w);
        out->failed = 1;
        return errors_fail(ENOMEM);
    }
    intern_fixed(&w);
    if (w.threads) thread_names(&w, src);
    emit_start(&w, win);
    if (src[0]->n) merge(&w, src, win);
    emit_stop(&w, win);
    if (!w.oom) write_out(out, &w);
    else out->failed = 1;
    free(src);
    wr_free(&w);
    return out->failed ? errors_fail(ENOMEM) : 0;
}
