/* fuzz_trace: the Go execution trace writer (profile/tracewire) fed random record
 * streams, its output read back by a checker of the v1 format written here from
 * ../shared/go-trace-v1/README.md (beside the repository) and Go's
 * internal/trace/parser.go.
 *
 * The input decodes into a window and up to 6 threads' streams of up to 96 records each,
 * within tracewire.h's contract (streams ordered by thread id; records in time order
 * inside the window; request ids unique and below first_free_g; routes are strings
 * that outlive the call) but otherwise anything: any kinds in any order, ends without
 * beginnings, collections cut short, suspensions of unknown threads, odd kinds, thread
 * names of any bytes, in memdemo's request mode or libgcprof's thread mode.
 *
 * The checker decodes every record (16-byte header, type byte with its argument count,
 * uvarints, length-prefixed records that end exactly at their length, strings, stacks,
 * frequency; no tick delta that is a negative one wrapped around) and then replays the events in time order (ties: whichever P's next event
 * is legal, as Go's parser orders them) against the rules Go 1.19's parser and both
 * viewers enforce (and, for the collector's global events on different Ps, strictly
 * increasing times: Go does not reorder those by legality): each event has the
 * argument count Go expects; batches of one P in
 * time order; string ids unique, non-empty, and every reference resolved; stacks with
 * unique ids, at most 1000 frames and 2048 bytes, referenced ids existing; exactly one
 * positive frequency; Gomaxprocs first and twice, every P below it; goroutines created
 * once, started only when runnable with the right sequence number on an idle P, ended
 * or preempted only while running; no ProcStop or end of trace while a goroutine runs;
 * GC cycles numbered 0, 1, ... without nesting and none open at the end; STW of kind 0
 * or 1 without nesting; sweeps matched per P; mark assists only on a running
 * goroutine; task ids unique; one task without a parent (the window's), never ended
 * (Go 1.23 turns such an end into a nameless "Task 0"), every other task's parent
 * known, no log on task 0; regions only on a running goroutine with a stack, each
 * end matching its innermost open region.
 * With FUZZ_OUTPUT_DIR set the trace is saved for go tool trace (fuzz_corpus.sh).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile/tracewire.h"
#include "tests/fuzz/fuzz.h"

enum { MAX_STREAMS = 6, MAX_RECS = 96 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* ---- the input -------------------------------------------------------------------- */

static const char long_route[] =
    "GET /a/route/name/long/enough/to/need/a/two/byte/length/varint/in/the/string/table/"
    "0123456789012345678901234567890123456789012345678901234567890123456789";
static const char *const routes[] = {"GET /leaker", "GET /noleaker", "GET /debug/vars", "", NULL, long_route};

struct input {
    struct tracewire_window win;
    struct tracewire_stream streams[MAX_STREAMS];
    struct tracewire_rec recs[MAX_STREAMS][MAX_RECS];
    int nstreams;
};

static void decode_rec(struct fuzz_in *in, struct tracewire_rec *r, uint64_t *next_id, uint64_t *open_id)
{
    unsigned k = fuzz_pick(in, 18);
    r->kind = k <= 12 ? k : k == 13 ? (uint32_t)fuzz_bits(in, 4)
            : k >= 16 ? TRACEWIRE_THREAD_SEEN + (k & 1) : TRACEWIRE_REQ_BEGIN + (k & 1);
    r->a = fuzz_bits(in, 3);
    r->b = fuzz_bits(in, 3);
    r->c = (int32_t)fuzz_bits(in, 4);
    switch (r->kind) {
    case TRACEWIRE_REQ_BEGIN:
        *next_id += 1 + fuzz_pick(in, 3);
        r->a = *open_id = *next_id;
        r->b = (uint64_t)(uintptr_t)routes[fuzz_pick(in, sizeof routes / sizeof routes[0])];
        break;
    case TRACEWIRE_REQ_END:
        if (fuzz_pick(in, 4)) r->a = *open_id;          /* usually the one this thread runs */
        break;
    case TRACEWIRE_THREAD_SUSPENDED:
    case TRACEWIRE_THREAD_UNSUSPENDED:
        r->c = (int32_t)fuzz_pick(in, 12) - 1;          /* -1 .. 10: some unknown */
        break;
    default:
        break;
    }
}

static void decode(struct fuzz_in *in, struct input *x)
{
    uint64_t next_id = fuzz_bits(in, 1), ts_max = 0;
    x->win.t_start = 1000000000ull + fuzz_bits(in, 4);
    x->win.heap_alloc = fuzz_bits(in, 4);
    x->win.heap_goal = fuzz_bits(in, 4);
    x->win.dropped = fuzz_pick(in, 4) ? 0 : fuzz_bits(in, 3);
    x->nstreams = (int)fuzz_pick(in, MAX_STREAMS + 1);
    int thread = (int)fuzz_pick(in, 3);
    for (int i = 0; i < x->nstreams; i++) {
        struct tracewire_stream *s = &x->streams[i];
        s->thread = thread;
        thread += 1 + (int)fuzz_pick(in, 2);
        s->tid = (pid_t)fuzz_bits(in, 2);
        s->n = fuzz_pick(in, MAX_RECS + 1);
        s->recs = x->recs[i];
        uint64_t ts = x->win.t_start, open_id = 0;
        for (size_t j = 0; j < s->n; j++) {
            ts += fuzz_pick(in, 3) ? fuzz_bits(in, 1) : fuzz_bits(in, 3);
            x->recs[i][j].ts = ts;
            decode_rec(in, &x->recs[i][j], &next_id, &open_id);
        }
        if (ts > ts_max) ts_max = ts;
    }
    if (ts_max < x->win.t_start) ts_max = x->win.t_start;
    x->win.t_stop = ts_max + fuzz_bits(in, 2);
    x->win.first_free_g = next_id + 1 + fuzz_pick(in, 4);
    x->win.threads = (int)fuzz_pick(in, 2);             /* libgcprof's thread mode */
}

/* ---- reading the trace --------------------------------------------------------------- */

enum {
    EV_BATCH = 1, EV_FREQUENCY = 2, EV_STACK = 3, EV_GOMAXPROCS = 4, EV_PROC_START = 5, EV_PROC_STOP = 6,
    EV_GC_START = 7, EV_GC_DONE = 8, EV_STW_START = 9, EV_STW_DONE = 10, EV_SWEEP_START = 11,
    EV_SWEEP_DONE = 12, EV_GO_CREATE = 13, EV_GO_START = 14, EV_GO_END = 15, EV_GO_SCHED = 17,
    EV_GO_PREEMPT = 18, EV_GO_UNBLOCK = 21, EV_GO_BLOCK_NET = 27, EV_GO_WAITING = 31,
    EV_HEAP_ALLOC = 33, EV_HEAP_GOAL = 34, EV_STRING = 37, EV_GO_START_LABEL = 41, EV_ASSIST_START = 43,
    EV_ASSIST_DONE = 44, EV_TASK_CREATE = 45, EV_TASK_END = 46, EV_REGION = 47, EV_USER_LOG = 48
};

/* Arguments after the tick delta, stack id included, of each event the writer may use
 * (Go's EventDescriptions), and of the few more a hand-written trace of this kind uses
 * (an acceptor goroutine: GoWaiting, GoUnblock, GoBlockNet, GoSched), so the checker
 * can be tried on ../shared/go-trace-v1/gen.py's traces; -1: not one of these. */
static int event_args(int type)
{
    switch (type) {
    case EV_PROC_STOP: case EV_GC_DONE: case EV_STW_DONE: case EV_GO_END: case EV_ASSIST_DONE: return 0;
    case EV_PROC_START: case EV_STW_START: case EV_SWEEP_START: case EV_GO_PREEMPT: case EV_HEAP_ALLOC:
    case EV_HEAP_GOAL: case EV_ASSIST_START: case EV_GO_SCHED: case EV_GO_BLOCK_NET: case EV_GO_WAITING: return 1;
    case EV_GOMAXPROCS: case EV_GC_START: case EV_SWEEP_DONE: case EV_GO_START: case EV_TASK_END: return 2;
    case EV_GO_CREATE: case EV_GO_START_LABEL: case EV_USER_LOG: case EV_GO_UNBLOCK: return 3;
    case EV_TASK_CREATE: case EV_REGION: return 4;
    default: return -1;
    }
}

/* Index of the trailing stack argument, or -1. */
static int stack_arg(int type)
{
    switch (type) {
    case EV_GOMAXPROCS: case EV_GC_START: return 1;
    case EV_SWEEP_START: case EV_GO_PREEMPT: case EV_ASSIST_START: case EV_GO_SCHED: case EV_GO_BLOCK_NET: return 0;
    case EV_GO_CREATE: case EV_USER_LOG: case EV_GO_UNBLOCK: return 2;
    case EV_TASK_END: return 1;
    case EV_TASK_CREATE: case EV_REGION: return 3;
    default: return -1;
    }
}

struct ev {
    uint64_t ts;
    uint64_t args[4];
    int type, p;
};

struct idlist { uint64_t *v; size_t n, cap; };

struct tr {
    const uint8_t *d;
    size_t len, at;
    struct ev *evs;
    size_t nev, capev;
    struct idlist strs, stacks;                 /* every id defined */
    struct idlist str_refs, stack_refs;         /* every id referenced (0 = none) */
    int nfreq, nbatch;
    uint64_t p_last_ts[64];
    int p_seen[64];
};

static uint64_t uvarint(struct tr *t, size_t limit)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        FUZZ_CHECK(t->at < limit);
        uint8_t b = t->d[t->at++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    FUZZ_CHECK(!"uvarint longer than 10 bytes");
    return 0;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need) c *= 2;
    void *q = realloc(p, c * elem);
    FUZZ_CHECK(q != NULL);
    *cap = c;
    return q;
}

static void push(struct idlist *l, uint64_t id)
{
    l->v = grow(l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = id;
}

static void read_string(struct tr *t)
{
    uint64_t id = uvarint(t, t->len), n = uvarint(t, t->len);
    FUZZ_CHECK(id >= 1 && n >= 1 && n <= 1000000 && n <= t->len - t->at);
    t->at += (size_t)n;
    push(&t->strs, id);
}

static void read_stack(struct tr *t, size_t end)
{
    uint64_t id = uvarint(t, end), nframes = uvarint(t, end);
    FUZZ_CHECK(id >= 1 && nframes <= 1000);
    for (uint64_t k = 0; k < nframes; k++) {
        uvarint(t, end);                                 /* pc */
        push(&t->str_refs, uvarint(t, end));             /* function */
        push(&t->str_refs, uvarint(t, end));             /* file */
        uvarint(t, end);                                 /* line */
    }
    FUZZ_CHECK(t->at == end);
    push(&t->stacks, id);
}

/* One event of a batch (type and the argument block already located). */
static void read_event(struct tr *t, int type, int cur_p, size_t end, int inline_args)
{
    int want = event_args(type);
    FUZZ_CHECK(want >= 0 && cur_p >= 0);
    uint64_t a[8];
    int n = 0;
    while (inline_args ? n < inline_args : t->at < end) {
        FUZZ_CHECK(n < 8);
        a[n++] = uvarint(t, end);
    }
    FUZZ_CHECK(n == want + 1);                           /* the tick delta, then the arguments */
    FUZZ_CHECK(a[0] < UINT64_C(1) << 63);                /* a step back in time, wrapped around */
    if (type == EV_USER_LOG) {                           /* its value string follows the block */
        uint64_t len = uvarint(t, t->len);
        FUZZ_CHECK(len <= t->len - t->at);
        t->at += (size_t)len;
    }
    t->evs = grow(t->evs, &t->capev, t->nev + 1, sizeof *t->evs);
    struct ev *e = &t->evs[t->nev++];
    e->type = type;
    e->p = cur_p;
    t->p_last_ts[cur_p] += a[0];
    e->ts = t->p_last_ts[cur_p];
    memset(e->args, 0, sizeof e->args);
    memcpy(e->args, a + 1, (size_t)want * sizeof *a);
    int sa = stack_arg(type);
    if (sa >= 0) push(&t->stack_refs, e->args[sa]);
    if (type == EV_GO_CREATE) { FUZZ_CHECK(e->args[1] != 0); push(&t->stack_refs, e->args[1]); }
    if (type == EV_GO_START_LABEL) { FUZZ_CHECK(e->args[2] != 0); push(&t->str_refs, e->args[2]); }
    if (type == EV_TASK_CREATE || type == EV_REGION) { FUZZ_CHECK(e->args[2] != 0); push(&t->str_refs, e->args[2]); }
    if (type == EV_USER_LOG) { FUZZ_CHECK(e->args[1] != 0); push(&t->str_refs, e->args[1]); }
}

static void read_batch(struct tr *t, int *cur_p)
{
    uint64_t p = uvarint(t, t->len), ts = uvarint(t, t->len);
    FUZZ_CHECK(p < 64);
    FUZZ_CHECK(!t->p_seen[p] || ts >= t->p_last_ts[p]);  /* one P's batches in time order */
    t->p_seen[p] = 1;
    t->p_last_ts[p] = ts;
    *cur_p = (int)p;
    t->nbatch++;
}

static void read_all(struct tr *t)
{
    FUZZ_CHECK(t->len >= 16 && memcmp(t->d, "go 1.19 trace\0\0\0", 16) == 0);
    t->at = 16;
    int cur_p = -1;
    while (t->at < t->len) {
        uint8_t b = t->d[t->at++];
        int type = b & 0x3f, narg = (b >> 6) + 1;
        if (type == EV_STRING) { read_string(t); continue; }
        size_t end = t->len;
        if (narg == 4) {                                 /* length-prefixed */
            uint64_t len = uvarint(t, t->len);
            FUZZ_CHECK(len <= t->len - t->at);
            end = t->at + (size_t)len;
            FUZZ_CHECK(len <= 2048);                     /* Go 1.22+ rejects longer records */
        }
        if (type == EV_BATCH) { FUZZ_CHECK(narg == 2); read_batch(t, &cur_p); }
        else if (type == EV_FREQUENCY) { FUZZ_CHECK(narg == 1 && uvarint(t, t->len) > 0); t->nfreq++; }
        else if (type == EV_STACK) { FUZZ_CHECK(narg == 4); read_stack(t, end); }
        else read_event(t, type, cur_p, end, narg == 4 ? 0 : narg);
    }
    FUZZ_CHECK(t->nfreq == 1 && t->nbatch >= 1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Defined ids are distinct; every nonzero reference is defined. */
static void check_ids(struct idlist *ids, const struct idlist *refs)
{
    if (ids->n) qsort(ids->v, ids->n, sizeof *ids->v, cmp_u64);
    for (size_t i = 1; i < ids->n; i++) FUZZ_CHECK(ids->v[i] != ids->v[i - 1]);
    for (size_t i = 0; i < refs->n; i++)
        FUZZ_CHECK(refs->v[i] == 0 || (ids->n && bsearch(&refs->v[i], ids->v, ids->n, sizeof *ids->v, cmp_u64)));
}

/* ---- replaying the events ------------------------------------------------------------ */

enum gstate { G_RUNNABLE = 1, G_RUNNING, G_WAITING, G_DEAD };

struct gor { uint64_t id, seq; int state, assist; };

struct region { uint64_t g, task, name; };

struct sim {
    struct gor *gs;                 /* open addressing on id */
    size_t gcap;
    uint64_t running[64];           /* g on each P, 0 = none */
    int proc_on[64], sweeping[64];
    int gc_open, stw, maxprocs_seen;
    uint64_t gc_seq, procs;
    uint64_t *tasks;
    size_t ntasks, captasks;
    uint64_t root_task;             /* the task created with parent 0, 0 = none yet */
    struct region *regions;
    size_t nregions, capregions;
};

static struct gor *g_slot(struct sim *s, uint64_t id)
{
    size_t j = (size_t)(id * 0x9e3779b97f4a7c15ull) & (s->gcap - 1);
    while (s->gs[j].id && s->gs[j].id != id) j = (j + 1) & (s->gcap - 1);
    return &s->gs[j];
}

static int task_known(const struct sim *s, uint64_t id)
{
    for (size_t i = 0; i < s->ntasks; i++)
        if (s->tasks[i] == id) return 1;
    return 0;
}

/* Whether e is legal now; applies it when `apply`. */
static int step(struct sim *s, const struct ev *e, int apply)
{
    int p = e->p;
    uint64_t g = s->running[p];
    const uint64_t *a = e->args;
    /* Gomaxprocs comes first; only goroutines blocked at the start may precede it */
    FUZZ_CHECK(s->maxprocs_seen || e->type == EV_GOMAXPROCS || e->type == EV_GO_CREATE || e->type == EV_GO_WAITING);
    switch (e->type) {
    case EV_GOMAXPROCS:
        FUZZ_CHECK(a[0] >= 1 && (!s->procs || a[0] == s->procs));
        if (apply) { s->procs = a[0]; s->maxprocs_seen++; }
        return 1;
    case EV_PROC_START:
        if (s->proc_on[p]) return 0;
        if (apply) s->proc_on[p] = 1;
        return 1;
    case EV_PROC_STOP:
        if (g) return 0;
        if (apply) s->proc_on[p] = 0;
        return 1;
    case EV_GO_CREATE: {
        FUZZ_CHECK(a[0] != 0);
        struct gor *x = g_slot(s, a[0]);
        if (x->id) return 0;
        if (apply) *x = (struct gor){a[0], 1, G_RUNNABLE, 0};
        return 1;
    }
    case EV_GO_START:
    case EV_GO_START_LABEL: {
        struct gor *x = g_slot(s, a[0]);
        if (g || !x->id || x->state != G_RUNNABLE || x->seq != a[1]) return 0;
        if (apply) { x->state = G_RUNNING; x->seq++; s->running[p] = a[0]; }
        return 1;
    }
    case EV_GO_END:
    case EV_GO_PREEMPT:
    case EV_GO_SCHED:
    case EV_GO_BLOCK_NET:
        if (!g) return 0;
        if (apply) {
            g_slot(s, g)->state = e->type == EV_GO_END ? G_DEAD : e->type == EV_GO_BLOCK_NET ? G_WAITING : G_RUNNABLE;
            s->running[p] = 0;
        }
        return 1;
    case EV_GO_WAITING: {                              /* blocked since before the trace */
        struct gor *x = g_slot(s, a[0]);
        if (!x->id || x->state != G_RUNNABLE) return 0;
        if (apply) { x->state = G_WAITING; x->seq++; }
        return 1;
    }
    case EV_GO_UNBLOCK: {
        struct gor *x = g_slot(s, a[0]);
        if (!x->id || x->state != G_WAITING || x->seq != a[1]) return 0;
        if (apply) { x->state = G_RUNNABLE; x->seq++; }
        return 1;
    }
    case EV_GC_START:
        if (s->gc_open || a[0] != s->gc_seq) return 0;
        if (apply) { s->gc_open = 1; s->gc_seq++; }
        return 1;
    case EV_GC_DONE:
        if (!s->gc_open) return 0;
        if (apply) s->gc_open = 0;
        return 1;
    case EV_STW_START:
        FUZZ_CHECK(a[0] <= 1);
        if (s->stw) return 0;
        if (apply) s->stw = 1;
        return 1;
    case EV_STW_DONE:
        if (!s->stw) return 0;
        if (apply) s->stw = 0;
        return 1;
    case EV_SWEEP_START:
    case EV_SWEEP_DONE:
        if (s->sweeping[p] != (e->type == EV_SWEEP_DONE)) return 0;
        if (apply) s->sweeping[p] = e->type == EV_SWEEP_START;
        return 1;
    case EV_ASSIST_START:
    case EV_ASSIST_DONE:
        if (!g) return 0;
        if (apply) g_slot(s, g)->assist = e->type == EV_ASSIST_START;
        return 1;
    case EV_TASK_CREATE:
        FUZZ_CHECK(a[0] != 0 && !task_known(s, a[0]));
        FUZZ_CHECK(a[1] == 0 ? s->root_task == 0 : task_known(s, a[1]));
        if (apply && a[1] == 0) s->root_task = a[0];
        if (apply) {
            s->tasks = grow(s->tasks, &s->captasks, s->ntasks + 1, sizeof *s->tasks);
            s->tasks[s->ntasks++] = a[0];
        }
        return 1;
    case EV_REGION: {
        if (!g) return 0;
        FUZZ_CHECK(a[1] <= 1 && a[3] != 0);
        if (!apply) return 1;
        if (a[1] == 0) {
            s->regions = grow(s->regions, &s->capregions, s->nregions + 1, sizeof *s->regions);
            s->regions[s->nregions++] = (struct region){g, a[0], a[2]};
            return 1;
        }
        for (size_t i = s->nregions; i-- > 0;) {
            if (s->regions[i].g != g) continue;
            FUZZ_CHECK(s->regions[i].task == a[0] && s->regions[i].name == a[2]);
            memmove(&s->regions[i], &s->regions[i + 1], (s->nregions - i - 1) * sizeof *s->regions);
            s->nregions--;
            break;
        }
        return 1;
    }
    case EV_TASK_END:
        FUZZ_CHECK(a[0] != s->root_task);
        return 1;
    case EV_USER_LOG:
        FUZZ_CHECK(a[0] != 0);
        return 1;
    default:                                             /* heap figures */
        return 1;
    }
}

/* Events of the one global GC state: cycles and stop-the-world. */
static int global_gc_event(int type)
{
    return type == EV_GC_START || type == EV_GC_DONE || type == EV_STW_START || type == EV_STW_DONE;
}

static void replay(struct tr *t)
{
    struct sim s;
    memset(&s, 0, sizeof s);
    for (s.gcap = 64; s.gcap < 2 * t->nev + 2; s.gcap *= 2) {}
    s.gs = calloc(s.gcap, sizeof *s.gs);
    size_t *next = calloc(64, sizeof *next);             /* per P: index of its next event */
    size_t **idx = calloc(64, sizeof *idx), cnt[64] = {0};
    FUZZ_CHECK(s.gs && next && idx);
    for (size_t i = 0; i < t->nev; i++) cnt[t->evs[i].p]++;
    for (int p = 0; p < 64; p++) { idx[p] = malloc((cnt[p] ? cnt[p] : 1) * sizeof **idx); FUZZ_CHECK(idx[p]); cnt[p] = 0; }
    for (size_t i = 0; i < t->nev; i++) idx[t->evs[i].p][cnt[t->evs[i].p]++] = i;
    int have_global = 0, global_p = 0;
    uint64_t global_ts = 0;
    for (size_t done = 0; done < t->nev; done++) {
        uint64_t tmin = UINT64_MAX;
        for (int p = 0; p < 64; p++)
            if (next[p] < cnt[p] && t->evs[idx[p][next[p]]].ts < tmin) tmin = t->evs[idx[p][next[p]]].ts;
        int chosen = -1;
        for (int p = 0; p < 64 && chosen < 0; p++)
            if (next[p] < cnt[p] && t->evs[idx[p][next[p]]].ts == tmin && step(&s, &t->evs[idx[p][next[p]]], 0)) chosen = p;
        FUZZ_CHECK(chosen >= 0);                         /* no consistent ordering of events */
        const struct ev *e = &t->evs[idx[chosen][next[chosen]++]];
        if (global_gc_event(e->type)) {
            /* Go orders such events of different Ps by time alone: at one tick, its
             * order need not be the legal one found above. */
            FUZZ_CHECK(!have_global || e->p == global_p || e->ts > global_ts);
            have_global = 1, global_p = e->p, global_ts = e->ts;
        }
        step(&s, e, 1);
        FUZZ_CHECK(!s.maxprocs_seen || (uint64_t)e->p < s.procs);
    }
    FUZZ_CHECK(s.maxprocs_seen >= 2 && !s.gc_open && !s.stw);
    for (int p = 0; p < 64; p++) FUZZ_CHECK(s.running[p] == 0);   /* Go 1.19's viewer dies otherwise */
    for (int p = 0; p < 64; p++) free(idx[p]);
    free(idx);
    free(next);
    free(s.gs);
    free(s.tasks);
    free(s.regions);
}

static void check_trace(const struct buf *b)
{
    struct tr t;
    memset(&t, 0, sizeof t);
    t.d = (const uint8_t *)b->data;
    t.len = b->len;
    read_all(&t);
    check_ids(&t.strs, &t.str_refs);
    check_ids(&t.stacks, &t.stack_refs);
    replay(&t);
    free(t.evs);
    free(t.strs.v);
    free(t.stacks.v);
    free(t.str_refs.v);
    free(t.stack_refs.v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    struct input *x = calloc(1, sizeof *x);
    if (!x) return 0;
    decode(&in, x);
    struct buf b = BUF_INIT;
    if (tracewire_write(&b, &x->win, x->streams, x->nstreams) == 0) {
        fuzz_save("trace", b.data, b.len);
        check_trace(&b);
    }
    buf_free(&b);
    free(x);
    return 0;
}
