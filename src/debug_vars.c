/* debug_vars: /debug/vars. See debug_vars.h. */
#include "src/debug_vars.h"

#include "gc/errors.h"
#include "gc/gcevents.h"
#include "gc/gcheap.h"
#include "gc/gcthreads.h"
#include "profile/cpuprof.h"
#include "profile/lockprof.h"
#include "profile/sampler.h"
#include "profile/threadhook.h"
#include "profile/trace.h"
#include "src/conns.h"
#include "src/debug_http.h"
#include "src/server.h"

/* ---- JSON helpers ------------------------------------------------------------------- */

struct debug_vars_object debug_vars_open(struct buf *out)
{
    buf_putc(out, '{');
    return (struct debug_vars_object){out, 0};
}

void debug_vars_key(struct debug_vars_object *o, const char *name)
{
    buf_printf(o->out, "%s\"%s\": ", o->members++ ? ", " : "", name);
}

void debug_vars_close(struct debug_vars_object *o) { buf_putc(o->out, '}'); }
void debug_vars__i64(struct buf *out, int64_t v) { buf_printf(out, "%lld", (long long)v); }
void debug_vars__u64(struct buf *out, uint64_t v) { buf_printf(out, "%llu", (unsigned long long)v); }

void debug_vars_string(struct buf *out, const char *s)
{
    buf_putc(out, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') buf_printf(out, "\\%c", c);
        else if (c < 0x20) buf_printf(out, "\\u%04x", c);
        else buf_putc(out, (char)c);
    }
    buf_putc(out, '"');
}

/* ---- the surface's own sections ----------------------------------------------------------- */

static void write_cmdline(struct buf *b)
{
    int argc;
    char **argv = debug_http_cmdline(&argc);
    buf_putc(b, '[');
    for (int i = 0; i < argc; i++) {
        if (i) buf_puts(b, ", ");
        debug_vars_string(b, argv[i]);
    }
    buf_putc(b, ']');
}

/* NAME: [...] in Go's PauseNs layout, a 256-entry ring in which the figure of
 * collection k sits at (k + 255) % 256, so the newest is at (NumGC + 255) % 256. For
 * "PauseNs" and, beside it, "AllocBlockedNs". */
static void write_ring(struct debug_vars_object *o, const char *name, int (*recent_fn)(uint64_t *, int),
                       uint64_t collections)
{
    uint64_t recent[GCEVENTS_PAUSE_HISTORY], ring[GCEVENTS_PAUSE_HISTORY] = {0};
    int n = recent_fn(recent, GCEVENTS_PAUSE_HISTORY);
    for (int j = 0; j < n; j++)
        ring[(collections + GCEVENTS_PAUSE_HISTORY - 1 - (uint64_t)j) % GCEVENTS_PAUSE_HISTORY] = recent[j];
    debug_vars_key(o, name);
    buf_putc(o->out, '[');
    for (int i = 0; i < GCEVENTS_PAUSE_HISTORY; i++)
        buf_printf(o->out, "%s%llu", i ? "," : "", (unsigned long long)ring[i]);
    buf_putc(o->out, ']');
}

#define MEMBER(name, field, ...) DEBUG_VARS_MEMBER(&o, name, from.field);

static void write_memstats(struct buf *b)
{
    struct gcheap_stats from;
    gcheap_stats(&from);
    struct debug_vars_object o = debug_vars_open(b);
    GCHEAP_STATS_FIELDS(MEMBER)
    DEBUG_VARS_MEMBER(&o, "NumPause", gcevents_pause_count());
    write_ring(&o, "PauseNs", gcevents_recent_pauses, from.collections);
    write_ring(&o, "AllocBlockedNs", gcevents_recent_blocked, from.collections);
    debug_vars_close(&o);
}

/* One kind's figures (GCEVENTS_KIND_STATS_FIELDS), as a member of object *gc. */
static void write_kind(struct debug_vars_object *gc, enum gcevents_kind kind)
{
    struct gcevents_kind_stats from;
    gcevents_kind_stats(kind, &from);
    debug_vars_key(gc, gcevents_kind_name(kind));
    struct debug_vars_object o = debug_vars_open(gc->out);
    GCEVENTS_KIND_STATS_FIELDS(MEMBER)
    debug_vars_close(&o);
}

/* How the collector collects (-gcmode, or in a foreign program whether bdwgc runs
 * incrementally) and its collections by kind (partial, full). memdemo's write barrier
 * reports in a section of its own (src/app.c). */
static void write_gc(struct buf *b)
{
    struct debug_vars_object o = debug_vars_open(b);
    debug_vars_key(&o, "mode");
    debug_vars_string(b, gcheap_mode_name(gcheap_mode()));
    for (int k = 0; k < GCEVENTS_KINDS; k++) write_kind(&o, (enum gcevents_kind)k);
    debug_vars_close(&o);
}

DEBUG_VARS_STATS_SECTION(write_profiler, sampler_stats, SAMPLER_STATS_FIELDS)
DEBUG_VARS_STATS_SECTION(write_cpuprofile, cpuprof_stats, CPUPROF_STATS_FIELDS)
DEBUG_VARS_STATS_SECTION(write_trace, trace_stats, TRACE_STATS_FIELDS)
DEBUG_VARS_STATS_SECTION(write_lockprofiles, lockprof_stats, LOCKPROF_STATS_FIELDS)

/* Threads known to the profiler, and those its table had no room for. */
static void write_threads(struct buf *b)
{
    struct debug_vars_object o = debug_vars_open(b);
    DEBUG_VARS_MEMBER(&o, "registered", (int64_t)gcthreads_count());
    DEBUG_VARS_MEMBER(&o, "refused", gcthreads_refused());
    DEBUG_VARS_MEMBER(&o, "created", threadhook_created());
    DEBUG_VARS_MEMBER(&o, "creations_lost", threadhook_creations_lost());
    debug_vars_close(&o);
}

DEBUG_VARS_STATS_SECTION(write_connections, conns_stats, CONNS_STATS_FIELDS)

static void write_http(struct buf *b)
{
    struct server_stats from;
    server_stats(&from);
    struct debug_vars_object o = debug_vars_open(b);
    DEBUG_VARS_MEMBER(&o, "headers_dropped", from.headers_dropped);
    DEBUG_VARS_MEMBER(&o, "log_lines_dropped", from.log_lines_dropped);
    DEBUG_VARS_MEMBER(&o, "answers_dropped", from.answers_dropped);
    debug_vars_close(&o);
}

/* ---- the document ----------------------------------------------------------------------- */

struct section { const char *name; void (*write)(struct buf *out); };

static const struct section own[] = {
    {"cmdline", write_cmdline}, {"memstats", write_memstats}, {"gc", write_gc}, {"profiler", write_profiler},
    {"cpuprofile", write_cpuprofile}, {"trace", write_trace}, {"lockprofiles", write_lockprofiles},
    {"threads", write_threads},
    {"connections", write_connections}, {"http", write_http},
};
static struct section added[DEBUG_VARS_MAX_SECTIONS];
static int nadded;

int debug_vars_add_section(const char *name, void (*write)(struct buf *out))
{
    if (nadded == DEBUG_VARS_MAX_SECTIONS) return errors_fail(ENOSPC);
    added[nadded++] = (struct section){name, write};
    return 0;
}

static void write_section(struct buf *b, const struct section *s, int first)
{
    buf_printf(b, "%s\"%s\": ", first ? "" : ",\n", s->name);
    s->write(b);
}

void debug_vars_handle(struct http_request *req)
{
    long long gc;
    char why[DEBUG_HTTP_WHY];
    if (debug_http_int("gc", http_query(req, "gc"), 0, 0, DEBUG_HTTP_MAX_LEVEL, &gc, why, sizeof why) < 0) {
        http_respond_text(req, 400, "%s", why);
        return;
    }
    /* ?gc=1 collects first, as /debug/pprof/heap?gc=1 does, and like it shares the
     * collection (gcheap_collect_shared), so a client looping on it cannot keep the
     * world stopped. */
    if (gc > 0) gcheap_collect_shared();
    struct buf b = BUF_INIT;
    debug_vars_write(&b);
    http_respond(req, 200, "application/json; charset=utf-8", &b);
}

void debug_vars_write(struct buf *out)
{
    buf_puts(out, "{\n");
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) write_section(out, &own[i], i == 0);
    for (int i = 0; i < nadded; i++) write_section(out, &added[i], 0);
    buf_puts(out, "\n}\n");
}
