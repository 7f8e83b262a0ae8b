/* debug_pprof: /debug/pprof/... from one table. See debug_pprof.h.
 *
 * Answers mirror Go 1.19's net/http/pprof: the same parameters, status codes and
 * messages (500 "Could not enable CPU profiling: cpu profiling already in use" for a
 * second CPU profile), X-Content-Type-Options: nosniff, and Content-Disposition:
 * attachment; filename="NAME" on binary profiles ("NAME-delta" for a delta). Where Go
 * silently reads a malformed seconds or debug as a default, this answers 400 and says
 * what it takes (src/debug_http.c's messages).
 *
 * A row is one of three kinds, told apart by which functions it has:
 *   instant  snapshot (or none: write reads live data) then write;
 *   delta    the same, and with ?seconds=N two snapshots N seconds apart, the second
 *            minus the first (heap, allocs, mutex, block);
 *   window   start now, stop when the window ends, on the deferral thread (CPU
 *            profile, trace: stopping and writing takes milliseconds to hundreds of
 *            milliseconds that no worker should spend).
 * Snapshots are malloc'd behind a void pointer; the small adapters below give each
 * profile/ module that shape.
 */
#include "src/debug_pprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc/gcheap.h"
#include "gc/procfs.h"
#include "profile/cpuprof.h"
#include "profile/lockprof.h"
#include "profile/pprof.h"
#include "profile/sampler.h"
#include "profile/symbols.h"
#include "profile/threadhook.h"
#include "profile/threads.h"
#include "profile/trace.h"
#include "src/debug_http.h"
#include "src/debug_window.h"
#include "src/numparse.h"

struct debug_profile {
    struct router_route route;          /* first: the table is a router table */
    unsigned needs;                     /* enum debug_pprof_needs bits: what the host must allow */
    const char *about;                  /* the index's description */
    uint64_t (*count)(void);            /* the index's Count column; NULL: blank */
    struct debug_param_rules params;
    /* instant and delta rows */
    int (*snapshot)(void **out, const struct debug_params *p);   /* 0, or -1 with errno */
    void (*delta)(void *end, const void *start);
    int (*write)(struct buf *out, void *snap, int debug, int64_t duration_ns);   /* 0 or -1 */
    void (*release)(void *snap);
    /* window rows */
    int (*start)(void);                 /* 0, or -1 with errno (EBUSY: one at a time) */
    int (*stop)(struct buf *out, char *note, size_t n);   /* deferral thread; -1 with errno */
    int (*cancel)(void);
    const char *note_header;            /* the response header stop's note goes in */
    const char *doing, *busy, *result;  /* Go's words in its errors */
};

static const char *profile_name(const struct debug_profile *p) { return p->route.path + strlen(DEBUG_PPROF_PREFIX); }

/* ---- what the host allows ----------------------------------------------------------- */

static unsigned withheld;   /* enum debug_pprof_needs bits; written before serving */

/* Why a row needing that is not served, by bit number. */
static const char *const withheld_because[] = {
    "it signals every thread of the process, the watched program's included",
    "it records contention on locks built with memdemo's lock profiler, and this host's locks are not",
    "the profilers' switches would change how this host is watched while it runs",
};

void debug_pprof_withhold(unsigned needs) { withheld = needs; }
int debug_pprof_allows(unsigned needs) { return !(needs & withheld); }

const char *debug_pprof_withheld(unsigned needs)
{
    unsigned off = needs & withheld;
    for (unsigned i = 0; off && i < sizeof withheld_because / sizeof withheld_because[0]; i++)
        if (off & (1u << i)) return withheld_because[i];
    return NULL;
}

/* ---- heap and allocs (profile/sampler) ---------------------------------------------- */

/* A forced collection (collect) is a shared one (gcheap_collect_shared), so a client
 * looping on gc=1 cannot keep the world stopped. */
static int heap_snapshot_of(void **out, int collect)
{
    if (collect) gcheap_collect_shared();
    struct sampler_snapshot *s = malloc(sizeof *s);
    if (!s || sampler_snapshot(s, 0) < 0) { free(s); errno = ENOMEM; return -1; }
    *out = s;
    return 0;
}

/* As in Go, gc=1 collects first for heap only (allocs does not depend on it). */
static int heap_snapshot(void **out, const struct debug_params *p) { return heap_snapshot_of(out, p->gc > 0); }
static int allocs_snapshot(void **out, const struct debug_params *p) { (void)p; return heap_snapshot_of(out, 0); }
static void heap_delta(void *end, const void *start) { sampler_snapshot_delta(end, start); }
static void heap_release(void *s) { sampler_snapshot_free(s); free(s); }

/* The "# ..." lines debug=1 ends with: bdwgc's figures, the profiler's (its
 * bookkeeping is malloc'd, outside HeapInuse), RSS (left out if unreadable). */
static void text_trailer(struct buf *b)
{
    struct gcheap_stats st;
    struct sampler_stats ps;
    gcheap_stats(&st);
    sampler_stats(&ps);
    buf_puts(b, "\n# bdwgc\n");
#define TEXT_FIELD(name, field, ...) buf_printf(b, "# %s = %llu\n", name, (unsigned long long)st.field);
    GCHEAP_STATS_FIELDS(TEXT_FIELD)
#undef TEXT_FIELD
    buf_puts(b, "# profiler\n");
#define TEXT_FIELD(name, field, ...) buf_printf(b, "# %s = %llu\n", name, (unsigned long long)ps.field);
    SAMPLER_STATS_FIELDS(TEXT_FIELD)
#undef TEXT_FIELD
    int64_t rss = procfs_rss_bytes();
    if (rss >= 0) buf_printf(b, "# RSS = %lld kB\n", (long long)(rss / 1024));
}

static int write_sampled(struct buf *out, struct sampler_snapshot *s, const char *default_type, int debug,
                         int64_t duration_ns)
{
    struct pprof_heap_opts o = {s->rate, default_type, s->time_ns, duration_ns};
    if (!debug) return pprof_write_heap(out, s->records, s->n, &o);
    struct buf trailer = BUF_INIT;
    text_trailer(&trailer);
    int rc = trailer.failed ? -1 : pprof_write_heap_text(out, s->records, s->n, &o, trailer.data);
    buf_free(&trailer);
    return rc;
}

static int heap_write(struct buf *out, void *s, int debug, int64_t d) { return write_sampled(out, s, NULL, debug, d); }
static int allocs_write(struct buf *out, void *s, int debug, int64_t d)
{
    return write_sampled(out, s, "alloc_space", debug, d);
}

static uint64_t heap_count(void)
{
    struct sampler_stats ps;
    sampler_stats(&ps);
    return ps.stacks;
}

/* ---- mutex and block (profile/lockprof) ---------------------------------------------- */

static int lock_snapshot_of(void **out, enum lockprof_kind kind)
{
    struct lockprof_snapshot *s = malloc(sizeof *s);
    if (!s || lockprof_snapshot(kind, s) < 0) { free(s); errno = ENOMEM; return -1; }
    *out = s;
    return 0;
}

static int mutex_snapshot(void **out, const struct debug_params *p)
{
    (void)p;
    return lock_snapshot_of(out, LOCKPROF_MUTEX);
}

static int block_snapshot(void **out, const struct debug_params *p)
{
    (void)p;
    return lock_snapshot_of(out, LOCKPROF_BLOCK);
}
static void lock_delta(void *end, const void *start) { lockprof_snapshot_delta(end, start); }
static int lock_write(struct buf *out, void *s, int debug, int64_t d) { return lockprof_write(out, s, debug, d); }
static void lock_release(void *s) { lockprof_snapshot_free(s); free(s); }
static uint64_t mutex_count(void) { return lockprof_count(LOCKPROF_MUTEX); }
static uint64_t block_count(void) { return lockprof_count(LOCKPROF_BLOCK); }

/* ---- goroutine and threadcreate (profile/threads) -------------------------------------- */

static int goroutine_snapshot(void **out, const struct debug_params *p)
{
    (void)p;
    struct threads_snapshot *s = malloc(sizeof *s);
    if (!s) return -1;
    if (threads_capture(s) < 0) { int err = errno; free(s); errno = err; return -1; }
    *out = s;
    return 0;
}

static int goroutine_write(struct buf *out, void *s, int debug, int64_t d)
{
    (void)d;
    return threads_write_goroutine(out, s, debug > 2 ? 2 : debug);
}

static void goroutine_release(void *s) { threads_snapshot_free(s); free(s); }

static int threadcreate_write(struct buf *out, void *s, int debug, int64_t d)
{
    (void)s; (void)d;
    return threads_write_threadcreate(out, debug);
}

static uint64_t goroutine_count(void) { return (uint64_t)threads_count(); }
static uint64_t threadcreate_count(void) { return threadhook_created(); }

/* ---- windows: CPU profile and trace ----------------------------------------------------- */

static int cpu_stop(struct buf *out, char *note, size_t n) { (void)note; (void)n; return cpuprof_stop(out); }

static int trace_stop_noting(struct buf *out, char *note, size_t n)
{
    uint64_t dropped = 0;
    int rc = trace_stop(out, &dropped);
    snprintf(note, n, "%llu", (unsigned long long)dropped);
    return rc;
}

/* ---- serving a row -------------------------------------------------------------------- */

/* Writes snapshot snap (NULL for live rows) and answers: text for debug, else the
 * binary profile as an attachment named after the row. */
static void answer_profile(struct http_request *req, const struct debug_profile *p, void *snap, int debug,
                           int64_t duration_ns)
{
    struct buf b = BUF_INIT;
    if (p->write(&b, snap, debug, duration_ns) < 0) {
        buf_free(&b);
        debug_http_error(req, 500, "could not write the %s profile", profile_name(p));
        return;
    }
    if (debug) { debug_http_text(req, &b); return; }
    char file[64];
    snprintf(file, sizeof file, "%s%s", profile_name(p), duration_ns ? "-delta" : "");
    debug_http_attachment(req, file);
    http_respond(req, 200, "application/octet-stream", &b);
}

static void snapshot_failed(struct http_request *req, const struct debug_profile *p)
{
    debug_http_error(req, 500, "could not take the %s profile: %s", profile_name(p), strerror(errno));
}

/* A delta window: the first snapshot is taken now, the second when the window ends. */
struct delta { const struct debug_profile *p; void *start; };

static void delta_answer(struct http_request *req, void *state, int64_t duration_ns)
{
    struct delta *d = state;
    struct debug_params none = {0};
    void *end;
    if (d->p->snapshot(&end, &none) < 0) { snapshot_failed(req, d->p); return; }
    d->p->delta(end, d->start);
    answer_profile(req, d->p, end, 0, duration_ns);
    d->p->release(end);
}

static void delta_release(void *state)
{
    struct delta *d = state;
    d->p->release(d->start);
    free(d);
}

static const struct debug_window_ops delta_ops = {NULL, delta_answer, delta_release};

static void serve_delta(struct http_request *req, const struct debug_profile *p, double seconds)
{
    struct debug_params none = {0};
    struct delta *d = malloc(sizeof *d);
    if (!d) { debug_http_error(req, 500, "could not take the %s profile: out of memory", profile_name(p)); return; }
    d->p = p;
    if (p->snapshot(&d->start, &none) < 0) { free(d); snapshot_failed(req, p); return; }
    if (debug_window_open(req, seconds, &delta_ops, d) < 0) {
        delta_release(d);
        debug_http_error(req, 500, "could not wait for the profile window");
    }
}

/* A recording window (CPU profile, trace). */
struct recording { const struct debug_profile *p; struct buf out; int rc, err; char note[32]; };

static void recording_end(void *state, int client_gone)
{
    struct recording *r = state;
    if (client_gone) { r->p->cancel(); return; }
    r->rc = r->p->stop(&r->out, r->note, sizeof r->note);
    r->err = errno;
}

static void recording_answer(struct http_request *req, void *state, int64_t duration_ns)
{
    (void)duration_ns;
    struct recording *r = state;
    if (r->rc < 0) { debug_http_error(req, 500, "Could not write %s: %s", r->p->result, strerror(r->err)); return; }
    if (r->p->note_header) http_add_header(req, r->p->note_header, r->note);
    debug_http_attachment(req, profile_name(r->p));
    http_respond(req, 200, "application/octet-stream", &r->out);
}

static void recording_release(void *state)
{
    struct recording *r = state;
    buf_free(&r->out);
    free(r);
}

static const struct debug_window_ops recording_ops = {recording_end, recording_answer, recording_release};

static void serve_recording(struct http_request *req, const struct debug_profile *p, double seconds)
{
    struct recording *r = calloc(1, sizeof *r);
    if (!r) { debug_http_error(req, 500, "Could not enable %s: out of memory", p->doing); return; }
    r->p = p;
    if (p->start() < 0) {
        int err = errno;
        free(r);
        if (err == EBUSY) debug_http_error(req, 500, "Could not enable %s: %s", p->doing, p->busy);
        else debug_http_error(req, 500, "Could not enable %s: %s", p->doing, strerror(err));
        return;
    }
    if (debug_window_open(req, seconds, &recording_ops, r) < 0) {
        p->cancel();
        free(r);
        debug_http_error(req, 500, "Could not enable %s: cannot wait for the window", p->doing);
    }
}

/* The handler of every profile row: its row is the route that matched. */
static void serve_profile(struct http_request *req)
{
    const struct debug_profile *p = (const struct debug_profile *)http_route(req);
    struct debug_params prm;
    char why[DEBUG_HTTP_WHY];
    const char *off = debug_pprof_withheld(p->needs);
    if (off) {
        debug_http_error(req, 404, "%s is not served here: %s", profile_name(p), off);
        return;
    }
    if (debug_http_params(req, &p->params, &prm, why, sizeof why) < 0) {
        debug_http_error(req, 400, "%s", why);
        return;
    }
    if (p->start) { serve_recording(req, p, prm.seconds); return; }
    if (prm.seconds > 0) { serve_delta(req, p, prm.seconds); return; }
    void *snap = NULL;
    if (p->snapshot && p->snapshot(&snap, &prm) < 0) { snapshot_failed(req, p); return; }
    answer_profile(req, p, snap, prm.debug > 0 ? (int)prm.debug : 0, 0);
    if (snap) p->release(snap);
}

/* ---- cmdline, symbol ---------------------------------------------------------------- */

static void serve_cmdline(struct http_request *req)
{
    int argc;
    char **argv = debug_http_cmdline(&argc);
    struct buf b = BUF_INIT;
    for (int i = 0; i < argc; i++) {   /* as Go: NUL between arguments, no newline */
        if (i) buf_putc(&b, '\0');
        buf_puts(&b, argv[i]);
    }
    debug_http_text(req, &b);
}

/* '+' is Go's separator; white space is what URL decoding makes of a '+' in a GET query,
 * and what a hand-typed POST body ends with. */
static int is_pc_separator(char c) { return c == '+' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int debug_pprof_next_pc(const char **p, const char *end, uint64_t *pc)
{
    const char *s = *p;
    while (s < end && is_pc_separator(*s)) s++;
    if (s >= end) { *p = s; return 0; }
    const char *w = s;
    while (s < end && !is_pc_separator(*s)) s++;
    if (numparse_go_uint(w, (size_t)(s - w), pc) != NUMPARSE_OK) *pc = 0;
    *p = s;
    return 1;
}

/* The number of words in [p, end), counting no further than limit + 1. */
static size_t count_pcs(const char *p, const char *end, size_t limit)
{
    size_t n = 0;
    uint64_t pc;
    while (n <= limit && p && debug_pprof_next_pc(&p, end, &pc)) n++;
    return n;
}

/* Go's symbol protocol: GET answers "num_symbols: 1"; POST (or a GET query) of
 * "0xADDR+0xADDR..." answers one "0xADDR name" line per address it knows. The work is
 * bounded: at most DEBUG_PPROF_MAX_SYMBOLS addresses (counted first, so a longer list
 * costs one pass over its bytes), each a binary search (profile/symbols). */
static void serve_symbol(struct http_request *req)
{
    size_t len = 0;
    const char *in = http_body(req, &len);
    if (!in && (in = http_query_first_key(req))) len = strlen(in);   /* GET ?0xADDR+0xADDR */
    if (count_pcs(in, in ? in + len : NULL, DEBUG_PPROF_MAX_SYMBOLS) > DEBUG_PPROF_MAX_SYMBOLS) {
        debug_http_error(req, 400, "too many addresses: at most %d per request", DEBUG_PPROF_MAX_SYMBOLS);
        return;
    }
    struct buf b = BUF_INIT;
    buf_puts(&b, "num_symbols: 1\n");
    uint64_t pc;
    for (const char *p = in, *end = in ? in + len : NULL; in && debug_pprof_next_pc(&p, end, &pc);) {
        const char *name = pc ? symbols_name((uintptr_t)pc, NULL) : NULL;
        if (name) buf_printf(&b, "%#llx %s\n", (unsigned long long)pc, name);
    }
    debug_http_text(req, &b);
}

/* ---- the table ---------------------------------------------------------------------------- */

#define ROW(name, methods, handler) {DEBUG_PPROF_PREFIX name, 0, methods, handler, debug_http_refuse, NULL}
#define GET ROUTER_GET_HEAD
/* Instant and delta profiles read debug and a delta's seconds (and gc where it collects). */
#define DELTA_PARAMS(gc) {gc, 1, DEBUG_SECONDS_INT, 0}

static const struct debug_profile profiles[] = {
    {.route = ROW("allocs", GET, serve_profile),
     .about = "A sampling of all past memory allocations (alloc_space by default)",
     .count = heap_count, .params = DELTA_PARAMS(1),
     .snapshot = allocs_snapshot, .delta = heap_delta, .write = allocs_write, .release = heap_release},
    {.route = ROW("block", GET, serve_profile), .needs = DEBUG_PPROF_OWN_LOCKS,
     .about = "Stack traces that led to blocking on synchronization primitives (the server's locks; off "
              "until -blockprofilerate or /debug/blockprofilerate sets a rate)",
     .count = block_count, .params = DELTA_PARAMS(0),
     .snapshot = block_snapshot, .delta = lock_delta, .write = lock_write, .release = lock_release},
    {.route = ROW("cmdline", GET, serve_cmdline), .about = "The command line invocation of the current program"},
    {.route = ROW("goroutine", GET, serve_profile), .needs = DEBUG_PPROF_SIGNALS,
     .about = "Stack traces of all current goroutines: here, every thread of the process (workers, "
              "acceptor, deferral thread, the collector's markers)",
     .count = goroutine_count, .params = {0, 1, DEBUG_SECONDS_NONE, 0},
     .snapshot = goroutine_snapshot, .write = goroutine_write, .release = goroutine_release},
    {.route = ROW("heap", GET, serve_profile),
     .about = "A sampling of memory allocations of live objects, as of the last collection. "
              "Add ?gc=1 to collect first, ?debug=1 for text, ?seconds=N for a delta",
     .count = heap_count, .params = DELTA_PARAMS(1),
     .snapshot = heap_snapshot, .delta = heap_delta, .write = heap_write, .release = heap_release},
    {.route = ROW("mutex", GET, serve_profile), .needs = DEBUG_PPROF_OWN_LOCKS,
     .about = "Stack traces of holders of contended mutexes (the server's locks; off until "
              "-mutexprofilefraction or /debug/mutexprofilefraction sets a fraction)",
     .count = mutex_count, .params = DELTA_PARAMS(0),
     .snapshot = mutex_snapshot, .delta = lock_delta, .write = lock_write, .release = lock_release},
    {.route = ROW("profile", GET, serve_profile), .needs = DEBUG_PPROF_SIGNALS,
     .about = "CPU profile of every thread; ?seconds=N sets the window (default 30). Open it with go tool pprof",
     .params = {0, 0, DEBUG_SECONDS_INT, DEBUG_PPROF_CPU_DEFAULT_SECONDS},
     .start = cpuprof_start, .stop = cpu_stop, .cancel = cpuprof_cancel,
     .doing = "CPU profiling", .busy = "cpu profiling already in use", .result = "the CPU profile"},
    {.route = ROW("symbol", GET | ROUTER_POST, serve_symbol),
     .about = "Looks up program counters posted to it (used by go tool pprof)"},
    {.route = ROW("threadcreate", GET, serve_profile), .needs = DEBUG_PPROF_SIGNALS,
     .about = "Stack traces that led to the creation of new OS threads",
     .count = threadcreate_count, .params = {0, 1, DEBUG_SECONDS_NONE, 0}, .write = threadcreate_write},
    {.route = ROW("trace", GET, serve_profile),
     .about = "A trace of execution of the current program (GC cycles, pauses, requests); "
              "?seconds=N sets the window (default 1). Open it with go tool trace",
     .params = {0, 0, DEBUG_SECONDS_FLOAT, DEBUG_PPROF_TRACE_DEFAULT_SECONDS},
     .start = trace_start, .stop = trace_stop_noting, .cancel = trace_cancel,
     .note_header = "X-Trace-Dropped-Events",
     .doing = "tracing", .busy = "tracing is already enabled", .result = "the trace"},
};
const struct router_table debug_pprof_profiles = ROUTER_TABLE(profiles);

/* ---- the index ------------------------------------------------------------------------------ */

/* A row per profile served (with its live count and a ?debug=1 link when it has
 * one), or with `descriptions`, a description each. */
static void index_rows(struct buf *b, int descriptions)
{
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        const struct debug_profile *p = &profiles[i];
        const char *name = profile_name(p);
        if (debug_pprof_withheld(p->needs)) continue;
        if (descriptions) {
            buf_printf(b, "<li><div class=profile-name>%s:</div> %s</li>\n", name, p->about);
            continue;
        }
        char count[32] = "";
        if (p->count) snprintf(count, sizeof count, "%llu", (unsigned long long)p->count());
        buf_printf(b, "<tr><td>%s</td><td><a href=\"%s%s\">%s</a></td></tr>\n", count, name,
                   p->count ? "?debug=1" : "", name);
    }
}

static void serve_index(struct http_request *req)
{
    const char *name = http_path(req) + strlen(DEBUG_PPROF_PREFIX);
    if (*name) {   /* as Go's pprof.Index: a name no row serves is an unknown profile */
        debug_http_error(req, 404, "Unknown profile: %s", name);
        return;
    }
    struct sampler_stats ps;
    sampler_stats(&ps);
    struct buf b = BUF_INIT;
    buf_puts(&b, "<!DOCTYPE html>\n<html><head><title>/debug/pprof/</title></head><body>\n"
                 "/debug/pprof/<br>\n<br>\nTypes of profiles available:\n<table>\n"
                 "<thead><td>Count</td><td>Profile</td></thead>\n");
    index_rows(&b, 0);
    buf_puts(&b, "</table>\n");
    if (debug_pprof_allows(DEBUG_PPROF_SIGNALS))
        buf_puts(&b, "<a href=\"goroutine?debug=2\">full goroutine stack dump</a>\n<br>\n");
    buf_printf(&b, "<p>memprofilerate %lld", (long long)ps.rate);
    if (debug_pprof_allows(DEBUG_PPROF_SWITCHES))
        buf_puts(&b, " (<a href=\"/debug/memprofilerate\">how to change it</a>)");
    buf_printf(&b, ", %llu samples, %llu stacks, %llu sampled objects tracked",
               (unsigned long long)ps.samples, (unsigned long long)ps.stacks, (unsigned long long)ps.tracked);
    if (debug_pprof_allows(DEBUG_PPROF_OWN_LOCKS))
        buf_printf(&b, "; mutexprofilefraction %lld, blockprofilerate %lld", (long long)lockprof_mutex_fraction(),
                   (long long)lockprof_block_rate());
    buf_puts(&b, ".</p>\n<ul>\n");
    index_rows(&b, 1);
    buf_puts(&b, "</ul>\n</body></html>\n");
    http_respond(req, 200, "text/html; charset=utf-8", &b);
}

static void serve_redirect(struct http_request *req)
{
    http_add_header(req, "Location", DEBUG_PPROF_PREFIX);
    http_respond_text(req, 301, "moved to %s", DEBUG_PPROF_PREFIX);
}

static const struct router_route pages[] = {
    {"/debug/pprof", 0, GET, serve_redirect, debug_http_refuse, NULL},
    {DEBUG_PPROF_PREFIX, 1, GET, serve_index, debug_http_refuse,
     "profiles for go tool pprof (heap, allocs, profile, goroutine, threadcreate, mutex, block) "
     "and go tool trace (trace?seconds=N)"},
};
const struct router_table debug_pprof_pages = ROUTER_TABLE(pages);
