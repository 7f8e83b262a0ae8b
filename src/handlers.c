/* handlers: /noleaker, /leaker, the index page and /debug/vars. See handlers.h.
 *
 * Both string handlers make their strings in a request-local list, with no lock held:
 * a libmicrohttpd worker that blocks stalls every connection it serves, so nothing
 * long happens under a lock. The leaker then appends them, one by one, to the global
 * list under its mutex, as the Go peer appends to its global slice: two clients on
 * /leaker queue for that mutex, which the mutex and block profiles show. (Splicing the
 * local chunks on in O(1) made it a few-nanosecond section that two clients never
 * collided on in 70,000 requests.) The mutex keeps the total exact under concurrency:
 * strings == requests x repetitions. The leaker makes its strings in a bounded
 * allocation scope (gcheap.h): at the heap cap it drops them and answers 503 before it
 * takes the mutex, so a refused request adds nothing.
 */
#include "src/handlers.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gc/gcevents.h"
#include "gc/gcgen.h"
#include "gc/gcheap.h"
#include "gc/gcpacer.h"
#include "profile/lockprof.h"
#include "profile/sampler.h"
#include "src/conns.h"
#include "src/routes.h"
#include "src/strlist.h"

static long repetitions = HANDLERS_DEFAULT_REPETITIONS;
static int cmd_argc;
static char **cmd_argv;

/* The leaker's root: static memory is scanned by the collector. */
static struct strlist leaked = STRLIST_INIT;
static size_t leaked_requests;   /* /leaker requests whose strings are in `leaked` */
static _Atomic uint64_t leaked_refused;   /* /leaker requests refused at the heap cap */
/* Profiled (profile/lockprof): two clients hammering /leaker contend for it, which
 * the mutex and block profiles show. */
static struct lockprof_mutex leaked_lock = LOCKPROF_MUTEX_INIT;

void handlers_init(long reps, int argc, char **argv)
{
    repetitions = reps;
    cmd_argc = argc;
    cmd_argv = argv;
}

void handlers_leaker_totals(size_t *requests, size_t *strings, size_t *bytes)
{
    lockprof_lock(&leaked_lock);
    *requests = leaked_requests;
    *strings = leaked.count;
    *bytes = leaked.bytes;
    lockprof_unlock(&leaked_lock);
}

/* Kept out of line so that profiles show the handler's own frame under numstr_itoa. */
__attribute__((noinline)) void handle_noleaker(struct http_request *req)
{
    struct strlist mine = STRLIST_INIT;
    strlist_fill_numbers(&mine, repetitions);
    http_respond_text(req, 200, "noleaker: made %zu strings; they are garbage now", mine.count);
}

/* The strings are made in a bounded allocation scope: past the heap cap's kept limit
 * an allocation is refused, the request drops what it made (garbage from then on) and
 * answers 503, so the leaker's totals count accepted requests only. */
__attribute__((noinline)) void handle_leaker(struct http_request *req)
{
    struct strlist mine = STRLIST_INIT;
    gcheap_bounded_begin();
    strlist_fill_numbers(&mine, repetitions);
    if (gcheap_bounded_end() < 0) {
        mine = (struct strlist)STRLIST_INIT;   /* no pointer to the prefix stays behind */
        atomic_fetch_add_explicit(&leaked_refused, 1, memory_order_relaxed);
        struct gcpacer_stats ps;
        gcpacer_stats(&ps);
        http_respond_text(req, 503, "leaker: refused: keeping %ld more strings would grow the heap "
                          "past -maxheap %llu (kept heap limit %llu bytes reached); nothing was kept",
                          repetitions, (unsigned long long)ps.maxheap, (unsigned long long)ps.kept_limit);
        return;
    }
    size_t made = mine.count;
    lockprof_lock(&leaked_lock);
    strlist_append_all(&leaked, &mine);
    leaked_requests++;
    size_t total = leaked.count;
    lockprof_unlock(&leaked_lock);
    http_respond_text(req, 200, "leaker: kept %zu strings; %zu in total", made, total);
}

void handle_index(struct http_request *req)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "<!DOCTYPE html>\n<html><head><title>memdemo</title></head><body>\n"
                 "<h1>memdemo</h1>\n<p>A C server on the Boehm garbage collector. Attack /leaker and "
                 "/noleaker, then look with <code>go tool pprof</code> and <code>go tool trace</code>.</p>\n<ul>\n");
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *r = &routes_table[i];
        if (r->page == ROUTE_ON_HOME) buf_printf(&b, "<li><a href=\"%s\">%s</a>: %s</li>\n", r->path, r->path, r->about);
    }
    buf_puts(&b, "</ul>\n</body></html>\n");
    http_respond(req, 200, "text/html; charset=utf-8", &b);
}

static void json_string(struct buf *b, const char *s)
{
    buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') buf_printf(b, "\\%c", c);
        else if (c < 0x20) buf_printf(b, "\\u%04x", c);
        else buf_putc(b, (char)c);
    }
    buf_putc(b, '"');
}

/* "PauseNs": Go's layout, a 256-entry ring in which the pause of collection k (the sum
 * of its world stops, as Go's: a generational collection may stop the world more than
 * once) sits at (k + 255) % 256, so the newest is at (NumGC + 255) % 256. Ends the
 * memstats object. */
static void write_pause_ring(struct buf *b, uint64_t collections)
{
    uint64_t recent[GCEVENTS_PAUSE_HISTORY], ring[GCEVENTS_PAUSE_HISTORY] = {0};
    int n = gcevents_recent_collection_pauses(recent, GCEVENTS_PAUSE_HISTORY);
    for (int j = 0; j < n; j++)
        ring[(collections + GCEVENTS_PAUSE_HISTORY - 1 - (uint64_t)j) % GCEVENTS_PAUSE_HISTORY] = recent[j];
    buf_puts(b, ", \"PauseNs\": [");
    for (int i = 0; i < GCEVENTS_PAUSE_HISTORY; i++)
        buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)ring[i]);
    buf_puts(b, "]},\n");
}

/* "gc": the collector's mode and, per kind of collection (partial, full), how many
 * there were, their world stops and the allocation lock they held (gcevents.h); the
 * write barrier's dirtying stores, the pacer's assists, and the barrier check's
 * figures when it is on. */
static void write_gc_kinds(struct buf *b)
{
    struct gcpacer_stats gp;
    gcpacer_stats(&gp);
    buf_printf(b, "\"gc\": {\"mode\": \"%s\"", gcheap_mode_name(gcheap_mode()));
    for (int k = 0; k < GCEVENTS_KINDS; k++) {
        struct gcevents_kind_stats ks;
        gcevents_kind_stats((enum gcevents_kind)k, &ks);
        buf_printf(b, ", \"%s\": {\"collections\": %llu, \"pauses\": %llu, \"pause_ns\": %llu, "
                      "\"pause_max_ns\": %llu, \"lock_ns\": %llu, \"lock_max_ns\": %llu, \"lock_last_ns\": %llu}",
                   gcevents_kind_name((enum gcevents_kind)k), (unsigned long long)ks.collections,
                   (unsigned long long)ks.pauses, (unsigned long long)ks.pause_ns,
                   (unsigned long long)ks.pause_max_ns, (unsigned long long)ks.lock_ns,
                   (unsigned long long)ks.lock_max_ns, (unsigned long long)ks.lock_last_ns);
    }
    buf_printf(b, ", \"dirtied_stores\": %llu, \"assists\": %llu, \"assist_ns\": %llu",
               (unsigned long long)gcgen_dirtied_stores(), (unsigned long long)gp.assists,
               (unsigned long long)gp.assist_ns);
    struct gcgen_check_stats cs;
    gcgen_check_stats(&cs);
    if (cs.collections)
        buf_printf(b, ", \"check\": {\"collections\": %llu, \"objects\": %llu, \"violations\": %llu}",
                   (unsigned long long)cs.collections, (unsigned long long)cs.objects,
                   (unsigned long long)cs.violations);
    buf_puts(b, "},\n");
}

/* ?gc=1 collects first, as /debug/pprof/heap?gc=1 does, so that the figures are those
 * of the live heap, without building (and symbolizing) a profile. */
void handle_vars(struct http_request *req)
{
    const char *gc = http_query(req, "gc");
    if (gc && strcmp(gc, "0") != 0 && strcmp(gc, "1") != 0) {
        http_respond_text(req, 400, "gc must be 0 or 1, got \"%s\"", gc);
        return;
    }
    if (gc && gc[0] == '1') gcheap_collect();
    struct gcheap_stats st;
    gcheap_stats(&st);
    size_t requests, strings, bytes;
    handlers_leaker_totals(&requests, &strings, &bytes);
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\n\"cmdline\": [");
    for (int i = 0; i < cmd_argc; i++) {
        if (i) buf_puts(&b, ", ");
        json_string(&b, cmd_argv[i]);
    }
    buf_puts(&b, "],\n\"memstats\": {");
#define JSON_FIELD(name, field) buf_printf(&b, "\"%s\": %llu, ", name, (unsigned long long)st.field);
    GCHEAP_STATS_FIELDS(JSON_FIELD)
#undef JSON_FIELD
    buf_printf(&b, "\"NumPause\": %llu", (unsigned long long)gcevents_pause_count());
    write_pause_ring(&b, st.collections);
    struct sampler_stats ps;
    sampler_stats(&ps);
    const char *sep = "";
    buf_puts(&b, "\"profiler\": {");
#define JSON_PROFILER_FIELD(name, field) \
    buf_printf(&b, "%s\"%s\": %llu", sep, name, (unsigned long long)ps.field), sep = ", ";
    SAMPLER_STATS_FIELDS(JSON_PROFILER_FIELD)
#undef JSON_PROFILER_FIELD
    buf_puts(&b, "},\n");
    write_gc_kinds(&b);
    struct conns_stats cs;
    conns_stats(&cs);
    buf_printf(&b, "\"connections\": {\"open\": %llu, \"accepted\": %llu, \"refused_total\": %llu, "
                   "\"refused_addr\": %llu, \"cut_header\": %llu, \"cut_body\": %llu, \"cut_write\": %llu, "
                   "\"cut_idle\": %llu, \"trims\": %llu},\n",
               (unsigned long long)cs.open, (unsigned long long)cs.accepted,
               (unsigned long long)cs.refused_total, (unsigned long long)cs.refused_addr,
               (unsigned long long)cs.cut[CONNS_HEADER], (unsigned long long)cs.cut[CONNS_BODY],
               (unsigned long long)cs.cut[CONNS_WRITE], (unsigned long long)cs.cut[CONNS_IDLE],
               (unsigned long long)cs.trims);
    struct gcpacer_stats gp;
    gcpacer_stats(&gp);
    buf_printf(&b, "\"pacer\": {\"gogc\": %d, \"memlimit\": %llu, \"maxheap\": %llu, \"keptlimit\": %llu, "
                   "\"heapcap\": %llu, \"live\": %llu, \"nextgc\": %llu, \"othermemory\": %llu, "
                   "\"paced\": %llu, \"limitunmaps\": %llu, \"refused\": %llu, \"capoverruns\": %llu, "
                   "\"limitoverruns\": %llu, \"outofmemory\": %llu},\n",
               gp.gogc, (unsigned long long)gp.memlimit, (unsigned long long)gp.maxheap,
               (unsigned long long)gp.kept_limit, (unsigned long long)gp.heap_cap,
               (unsigned long long)gp.live, (unsigned long long)gp.next_gc,
               (unsigned long long)gp.other_memory, (unsigned long long)gp.paced,
               (unsigned long long)gp.limit_unmaps, (unsigned long long)gp.refused,
               (unsigned long long)gp.cap_overruns, (unsigned long long)gp.limit_overruns,
               (unsigned long long)gp.bdwgc_out_of_memory);
    buf_printf(&b, "\"leaker\": {\"requests\": %zu, \"strings\": %zu, \"bytes\": %zu, \"refused\": %llu}\n}\n",
               requests, strings, bytes,
               (unsigned long long)atomic_load_explicit(&leaked_refused, memory_order_relaxed));
    http_respond(req, 200, "application/json; charset=utf-8", &b);
}
