/* debug_pprof: /debug/pprof/... and /debug/memprofilerate. See debug_pprof.h.
 *
 * Answers mirror Go 1.19's net/http/pprof: the same parameters, status codes and
 * messages, and its headers (Content-Disposition, X-Content-Type-Options), because
 * go tool pprof shows an error body only when it is text/plain with X-Go-Pprof: 1.
 */
#include "src/debug_pprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc/clock.h"
#include "gc/gcevents.h"
#include "gc/gcheap.h"
#include "profile/lockprof.h"
#include "profile/pprof.h"
#include "profile/sampler.h"
#include "profile/symbols.h"
#include "profile/threads.h"
#include "profile/trace.h"
#include "src/numparse.h"
#include "src/procstat.h"
#include "src/routes.h"

/* ---- parameters ------------------------------------------------------------------- */

int debug_pprof_int_param(struct http_request *req, const char *key, long long dflt, long long lo,
                          long long hi, long long *out)
{
    const char *v = http_query(req, key);
    int64_t x;
    *out = dflt;
    if (!v) return 0;
    if (numparse_decimal(v, strlen(v), lo, hi, &x) != NUMPARSE_OK) {
        http_respond_pprof_error(req, 400, "invalid value for \"%s\": must be a decimal integer from %lld to %lld",
                                 key, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

void debug_pprof_attachment(struct http_request *req, const char *filename)
{
    char v[128];
    snprintf(v, sizeof v, "attachment; filename=\"%s\"", filename);
    http_add_header(req, "Content-Disposition", v);
    http_add_header(req, "X-Content-Type-Options", "nosniff");
}

/* ---- heap and allocs ---------------------------------------------------------------- */

/* The "# ..." lines debug=1 ends with: bdwgc's figures, the profiler's (its
 * bookkeeping is malloc'd, outside HeapInuse), RSS (left out if unreadable). */
static void text_trailer(struct buf *b)
{
    struct gcheap_stats st;
    struct sampler_stats ps;
    gcheap_stats(&st);
    sampler_stats(&ps);
    buf_puts(b, "\n# bdwgc\n");
#define TEXT_FIELD(name, field) buf_printf(b, "# %s = %llu\n", name, (unsigned long long)st.field);
    GCHEAP_STATS_FIELDS(TEXT_FIELD)
#undef TEXT_FIELD
    buf_puts(b, "# profiler\n");
#define TEXT_FIELD(name, field) buf_printf(b, "# %s = %llu\n", name, (unsigned long long)ps.field);
    SAMPLER_STATS_FIELDS(TEXT_FIELD)
#undef TEXT_FIELD
    int64_t rss = procstat_rss_bytes();
    if (rss >= 0) buf_printf(b, "# RSS = %lld kB\n", (long long)(rss / 1024));
}

/* Writes snapshot s as the profile `name` asked for and answers. Takes s. */
static void answer_profile(struct http_request *req, const char *name, struct sampler_snapshot *s,
                           int debug, int64_t duration_ns)
{
    struct pprof_heap_opts o = {s->rate, strcmp(name, "allocs") == 0 ? "alloc_space" : NULL,
                                s->time_ns, duration_ns};
    struct buf b = BUF_INIT;
    int rc;
    if (debug) {
        struct buf trailer = BUF_INIT;
        text_trailer(&trailer);
        rc = pprof_write_heap_text(&b, s->records, s->n, &o, trailer.data);
        buf_free(&trailer);
    } else {
        rc = pprof_write_heap(&b, s->records, s->n, &o);
    }
    sampler_snapshot_free(s);
    if (rc < 0) { buf_free(&b); http_respond_pprof_error(req, 500, "could not write the %s profile", name); return; }
    if (debug) { http_respond(req, 200, "text/plain; charset=utf-8", &b); return; }
    char file[64];
    snprintf(file, sizeof file, "%s%s", name, duration_ns ? "-delta" : "");
    debug_pprof_attachment(req, file);
    http_respond(req, 200, "application/octet-stream", &b);
}

struct delta_window {
    const char *name;
    struct sampler_snapshot start;
    uint64_t started_ns;          /* monotonic; a shutdown may end the window early */
};

static void finish_delta(struct http_request *req, int client_gone, void *state)
{
    struct delta_window *w = state;
    if (!client_gone) {
        struct sampler_snapshot end;
        if (sampler_snapshot(&end, 0) < 0) {
            http_respond_pprof_error(req, 500, "out of memory taking the profile");
        } else {
            sampler_snapshot_delta(&end, &w->start);
            answer_profile(req, w->name, &end, 0, (int64_t)(clock_mono_ns() - w->started_ns));
        }
    }
    sampler_snapshot_free(&w->start);
    free(w);
}

static void serve_heap(struct http_request *req, const char *name)
{
    long long gc, debug, seconds;
    if (debug_pprof_int_param(req, "gc", 0, 0, 1000000, &gc) < 0 || debug_pprof_int_param(req, "debug", 0, 0, 1000000, &debug) < 0) return;
    if (http_query(req, "seconds")) {
        if (debug) { http_respond_pprof_error(req, 400, "seconds and debug params are incompatible"); return; }
        const char *v = http_query(req, "seconds");
        int64_t sec = 0;
        int rc = numparse_decimal(v, strlen(v), 0, INT64_MAX, &sec);
        if (rc == NUMPARSE_SYNTAX || (rc == NUMPARSE_OK && sec == 0)) {
            http_respond_pprof_error(req, 400, "invalid value for \"seconds\": must be a positive integer");
            return;
        }
        if (rc != NUMPARSE_OK || sec > DEBUG_PPROF_MAX_SECONDS) {
            http_respond_pprof_error(req, 400, "invalid value for \"seconds\": at most %d", DEBUG_PPROF_MAX_SECONDS);
            return;
        }
        seconds = sec;
        struct delta_window *w = calloc(1, sizeof *w);
        if (!w || sampler_snapshot(&w->start, 0) < 0) {
            free(w);
            http_respond_pprof_error(req, 500, "out of memory taking the profile");
            return;
        }
        w->name = name;
        w->started_ns = clock_mono_ns();
        if (http_defer(req, (double)seconds, NULL, finish_delta, w) < 0) {
            sampler_snapshot_free(&w->start);
            free(w);
            http_respond_pprof_error(req, 500, "could not wait for the profile window");
        }
        return;
    }
    struct sampler_snapshot s;
    /* As in Go, gc=1 collects first for heap only (allocs does not depend on it); the
     * collection is shared (gcheap_collect_shared), so looping on gc=1 cannot keep the
     * world stopped. */
    if (gc > 0 && strcmp(name, "heap") == 0) gcheap_collect_shared();
    if (sampler_snapshot(&s, 0) < 0) { http_respond_pprof_error(req, 500, "out of memory taking the profile"); return; }
    answer_profile(req, name, &s, debug > 0, 0);
}

void debug_pprof_heap(struct http_request *req) { serve_heap(req, "heap"); }
void debug_pprof_allocs(struct http_request *req) { serve_heap(req, "allocs"); }

/* ---- cmdline, symbol ------------------------------------------------------------ */

static char **cmd_argv;
static int cmd_argc;

void debug_pprof_set_cmdline(int argc, char **argv) { cmd_argc = argc; cmd_argv = argv; }

void debug_pprof_cmdline(struct http_request *req)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < cmd_argc; i++) {   /* as Go: NUL between arguments, no newline */
        if (i) buf_putc(&b, '\0');
        buf_puts(&b, cmd_argv[i]);
    }
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_respond(req, 200, "text/plain; charset=utf-8", &b);
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
void debug_pprof_symbol(struct http_request *req)
{
    size_t len = 0;
    const char *in = http_body(req, &len);
    if (!in && (in = http_query_first_key(req))) len = strlen(in);   /* GET ?0xADDR+0xADDR */
    if (count_pcs(in, in ? in + len : NULL, DEBUG_PPROF_MAX_SYMBOLS) > DEBUG_PPROF_MAX_SYMBOLS) {
        http_respond_text(req, 400, "too many addresses: at most %d per request", DEBUG_PPROF_MAX_SYMBOLS);
        return;
    }
    struct buf b = BUF_INIT;
    buf_puts(&b, "num_symbols: 1\n");
    uint64_t pc;
    for (const char *p = in, *end = in ? in + len : NULL; in && debug_pprof_next_pc(&p, end, &pc);) {
        const char *name = pc ? symbols_name((uintptr_t)pc, NULL) : NULL;
        if (name) buf_printf(&b, "%#llx %s\n", (unsigned long long)pc, name);
    }
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_respond(req, 200, "text/plain; charset=utf-8", &b);
}

/* ---- trace ------------------------------------------------------------------------------ */

/* The end of a trace window, on the server's deferral thread: stopping and writing a
 * window of a few hundred thousand requests takes a few hundred ms, which on a worker
 * would stall every connection it serves. trace_stop touches no GC memory. */
struct trace_result {
    struct buf out;
    uint64_t dropped;
    int rc, err;
};

static void write_trace(int client_gone, void *state)
{
    struct trace_result *t = state;
    if (client_gone) { trace_cancel(); return; }
    t->rc = trace_stop(&t->out, &t->dropped);
    t->err = errno;
}

static void finish_trace(struct http_request *req, int client_gone, void *state)
{
    struct trace_result *t = state;
    if (client_gone) {
        buf_free(&t->out);
    } else if (t->rc < 0) {
        buf_free(&t->out);
        http_respond_pprof_error(req, 500, "Could not write the trace: %s", strerror(t->err));
    } else {
        char n[32];
        snprintf(n, sizeof n, "%llu", (unsigned long long)t->dropped);
        http_add_header(req, "X-Trace-Dropped-Events", n);
        debug_pprof_attachment(req, "trace");
        http_respond(req, 200, "application/octet-stream", &t->out);
    }
    free(t);
}

/* Go's rule: seconds is what strconv.ParseFloat reads (numparse_go_float); missing,
 * not a float, out of range or not > 0 (NaN included) means 1. "0x10" is not a float
 * to ParseFloat (a hex float needs its p exponent), so it means 1 s, not 16. */
void debug_pprof_trace(struct http_request *req)
{
    const char *v = http_query(req, "seconds");
    double seconds = 1.0;
    if (!v || numparse_go_float(v, strlen(v), &seconds) != NUMPARSE_OK || !(seconds > 0)) seconds = 1.0;
    if (seconds > DEBUG_PPROF_MAX_SECONDS) {
        http_respond_pprof_error(req, 400, "invalid value for \"seconds\": at most %d", DEBUG_PPROF_MAX_SECONDS);
        return;
    }
    struct trace_result *t = calloc(1, sizeof *t);
    if (!t) { http_respond_pprof_error(req, 500, "Could not enable tracing: out of memory"); return; }
    if (trace_start() < 0) {
        int err = errno;
        free(t);
        errno = err;
        if (errno == EBUSY) http_respond_pprof_error(req, 500, "Could not enable tracing: tracing is already enabled");
        else http_respond_pprof_error(req, 500, "Could not enable tracing: %s", strerror(errno));
        return;
    }
    if (http_defer(req, seconds, write_trace, finish_trace, t) < 0) {
        trace_cancel();
        free(t);
        http_respond_pprof_error(req, 500, "Could not enable tracing: cannot wait for the window");
    }
}

/* ---- index ------------------------------------------------------------------------------ */

/* The index's Count column: live figures, as Go's (blank where Go shows none). */
uint64_t debug_pprof_heap_count(void)
{
    struct sampler_stats ps;
    sampler_stats(&ps);
    return ps.stacks;
}

uint64_t debug_pprof_goroutine_count(void) { return (uint64_t)threads_count(); }
uint64_t debug_pprof_threadcreate_count(void) { return threads_created(); }
uint64_t debug_pprof_mutex_count(void) { return lockprof_count(LOCKPROF_MUTEX); }
uint64_t debug_pprof_block_count(void) { return lockprof_count(LOCKPROF_BLOCK); }

#define PPROF_PREFIX "/debug/pprof/"

/* The profiles of routes_table that are listed on this page: a row each (with its
 * live count and a ?debug=1 link when it has one), then the descriptions. */
static void index_rows(struct buf *b, int descriptions)
{
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *r = &routes_table[i];
        if (r->page != ROUTE_ON_PPROF_INDEX) continue;
        const char *name = r->path + strlen(PPROF_PREFIX);
        if (descriptions) {
            buf_printf(b, "<li><div class=profile-name>%s:</div> %s</li>\n", name, r->about);
        } else {
            char count[32] = "";
            if (r->count) snprintf(count, sizeof count, "%llu", (unsigned long long)r->count());
            buf_printf(b, "<tr><td>%s</td><td><a href=\"%s%s\">%s</a></td></tr>\n", count, name,
                       r->count ? "?debug=1" : "", name);
        }
    }
}

void debug_pprof_index(struct http_request *req)
{
    const char *name = http_path(req) + strlen(PPROF_PREFIX);
    if (*name) {   /* as Go's pprof.Index: a name no route serves is an unknown profile */
        http_respond_pprof_error(req, 404, "Unknown profile: %s", name);
        return;
    }
    struct sampler_stats ps;
    sampler_stats(&ps);
    struct buf b = BUF_INIT;
    buf_puts(&b, "<!DOCTYPE html>\n<html><head><title>/debug/pprof/</title></head><body>\n"
                 "/debug/pprof/<br>\n<br>\nTypes of profiles available:\n<table>\n"
                 "<thead><td>Count</td><td>Profile</td></thead>\n");
    index_rows(&b, 0);
    buf_printf(&b, "</table>\n<a href=\"goroutine?debug=2\">full goroutine stack dump</a>\n<br>\n"
                   "<p>memprofilerate %lld (<a href=\"/debug/memprofilerate\">change</a>), "
                   "%llu samples, %llu stacks, %llu sampled objects tracked; "
                   "mutexprofilefraction %lld, blockprofilerate %lld.</p>\n<ul>\n",
               (long long)ps.rate, (unsigned long long)ps.samples, (unsigned long long)ps.stacks,
               (unsigned long long)ps.tracked, (long long)lockprof_mutex_fraction(),
               (long long)lockprof_block_rate());
    index_rows(&b, 1);
    buf_puts(&b, "</ul>\n</body></html>\n");
    http_respond(req, 200, "text/html; charset=utf-8", &b);
}

void debug_pprof_redirect(struct http_request *req)
{
    http_add_header(req, "Location", "/debug/pprof/");
    http_respond_text(req, 301, "moved to /debug/pprof/");
}

void debug_memprofilerate(struct http_request *req)
{
    long long r;
    int64_t was = sampler_rate();
    if (debug_pprof_int_param(req, "rate", was, 0, INT64_C(1) << 40, &r) < 0) return;
    if (r != was) sampler_set_rate(r);
    http_respond_text(req, 200, "memprofilerate %lld (was %lld)", r, (long long)was);
}
