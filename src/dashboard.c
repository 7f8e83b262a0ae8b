/* dashboard: /debug/gc, its files and its feed. See dashboard.h.
 *
 * The ring holds raw counters (bytes allocated, collections, pause time, requests per
 * route) and gauges; rates are computed when a feed is written, from each sample and
 * the one before it, and are null for the oldest sample kept or after a gap of more
 * than GAP_INTERVALS (nobody was watching). Sample n sits at ring[(n - 1) %
 * DASHBOARD_HISTORY]; numbers start at 1 and never repeat while the process lives.
 *
 * The feed's head lists the charts the page draws ("charts"), from what the host gave
 * (dashboard_init); a sample carries a host figure only when its chart is listed, and
 * next_gc is null when no policy sets a goal (NextGC 0).
 *
 * Locking: one mutex around the ring. Taking a sample under it takes bdwgc's
 * allocation lock (gcheap_stats, where the thread may) and whatever the host's gauge
 * takes (memdemo: the leaker mutex), both briefly; neither is held while waiting for
 * this one.
 */
#include "src/dashboard.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gc/clock.h"
#include "gc/gcevents.h"
#include "gc/gcheap.h"
#include "gc/gcthreads.h"
#include "gc/procfs.h"
#include "src/assets.h"
#include "src/debug_vars.h"
#include "src/reqstats.h"

#define INTERVAL_NS ((uint64_t)DASHBOARD_INTERVAL_MS * 1000000u)
#define GAP_INTERVALS 3            /* a predecessor older than this: no rates */
#define EARLY_NS 1000000u          /* a deferral ending this close to the due time counts */

struct sample {
    uint64_t seq, mono_ns;
    double unix_s;
    uint64_t heap_sys, heap_inuse, next_gc;
    uint64_t total_alloc, collections, pause_total_ns, pause_count, blocked_total_ns;
    uint64_t last_gc_unix_ns;      /* when the last collection ended */
    int as_of_gc;                  /* bdwgc's figures are those it left (as_of_collection) */
    uint64_t gauge;
    int64_t rss;
    uint64_t requests[REQSTATS_MAX_ROUTES];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sample ring[DASHBOARD_HISTORY];
static uint64_t newest;            /* number of the newest sample; 0 = none yet */
static struct dashboard_host host;

void dashboard_init(const struct dashboard_host *h) { host = *h; }

/* bdwgc's figures on this thread are those the last collection left (src/dashboard.h). */
static int as_of_collection(void) { return !gcthreads_may_call_collector(); }

static struct sample *at(uint64_t seq) { return &ring[(seq - 1) % DASHBOARD_HISTORY]; }
static uint64_t oldest(void) { return newest > DASHBOARD_HISTORY ? newest - DASHBOARD_HISTORY + 1 : 1; }

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends a sample of now. Locked. */
static void take_sample(void)
{
    struct gcheap_stats st;
    gcheap_stats(&st);
    struct sample *s = at(newest + 1);
    s->seq = newest + 1;
    s->mono_ns = clock_mono_ns();
    s->unix_s = unix_now();
    s->heap_sys = st.heap_size;
    s->heap_inuse = st.in_use_bytes;
    s->next_gc = st.next_gc;
    s->total_alloc = st.total_allocated;
    s->collections = st.collections;
    s->pause_total_ns = gcevents_pause_total_ns();
    s->pause_count = gcevents_pause_count();
    s->blocked_total_ns = st.blocked_total_ns;
    s->last_gc_unix_ns = st.last_gc_unix_ns;
    s->as_of_gc = as_of_collection();
    s->gauge = host.gauge_title && host.gauge ? host.gauge() : 0;
    s->rss = procfs_rss_bytes();
    for (size_t i = 0; i < reqstats_slots(); i++) s->requests[i] = reqstats_total(i);
    newest = s->seq;
}

/* ---- the feed's JSON ------------------------------------------------------------ */

static void put_rate(struct buf *b, const char *key, uint64_t now, uint64_t before, double dt)
{
    buf_printf(b, ",\"%s\":%.6g", key, now >= before ? (double)(now - before) / dt : 0.0);
}

/* The bytes allocated per second before sample s (p: the one before it). Figures
 * that the last collection left change only at collections: their rate is taken
 * between the two collections' ends, and is null when none came between. */
static void put_alloc_rate(struct buf *b, const struct sample *s, const struct sample *p, double dt)
{
    if (!s->as_of_gc || !p->as_of_gc) { put_rate(b, "alloc_rate", s->total_alloc, p->total_alloc, dt); return; }
    if (s->last_gc_unix_ns <= p->last_gc_unix_ns || !p->last_gc_unix_ns) {
        buf_puts(b, ",\"alloc_rate\":null");
        return;
    }
    put_rate(b, "alloc_rate", s->total_alloc, p->total_alloc, (double)(s->last_gc_unix_ns - p->last_gc_unix_ns) / 1e9);
}

static void put_requests(struct buf *b, const struct sample *s, const struct sample *p, double dt)
{
    buf_puts(b, ",\"requests\":[");
    for (size_t i = 0; i < reqstats_slots(); i++)
        buf_printf(b, "%s%.6g", i ? "," : "",
                   s->requests[i] >= p->requests[i] ? (double)(s->requests[i] - p->requests[i]) / dt : 0.0);
    buf_puts(b, "]");
}

static void write_sample(struct buf *b, const struct sample *s)
{
    buf_printf(b, "{\"seq\":%llu,\"t\":%.3f,\"heap_sys\":%llu,\"heap_inuse\":%llu,\"collections\":%llu,"
                  "\"rss\":%lld",
               (unsigned long long)s->seq, s->unix_s, (unsigned long long)s->heap_sys,
               (unsigned long long)s->heap_inuse, (unsigned long long)s->collections, (long long)s->rss);
    if (s->next_gc) buf_printf(b, ",\"next_gc\":%llu", (unsigned long long)s->next_gc);
    else buf_puts(b, ",\"next_gc\":null");   /* no goal known */
    if (host.gauge_title) buf_printf(b, ",\"gauge\":%llu", (unsigned long long)s->gauge);
    const struct sample *p = s->seq > oldest() ? at(s->seq - 1) : NULL;
    if (!p || s->mono_ns - p->mono_ns > GAP_INTERVALS * INTERVAL_NS) {
        buf_printf(b, ",\"alloc_rate\":null,\"gc_rate\":null,\"gc_fraction\":null,\"blocked_fraction\":null%s}",
                   host.requests ? ",\"requests\":null" : "");
        return;
    }
    double dt = (double)(s->mono_ns - p->mono_ns) / 1e9;
    put_alloc_rate(b, s, p, dt);
    put_rate(b, "gc_rate", s->collections, p->collections, dt);
    put_rate(b, "gc_fraction", s->pause_total_ns, p->pause_total_ns, dt * 1e9);
    put_rate(b, "blocked_fraction", s->blocked_total_ns, p->blocked_total_ns, dt * 1e9);
    if (host.requests) put_requests(b, s, p, dt);
    buf_puts(b, "}");
}

/* The pauses from sample `from`'s count up to the newest sample's: each page gets
 * every pause once (if it polls before GCEVENTS_PAUSE_HISTORY more happen), as
 * [when the world restarted, pause, time allocation was blocked (seconds), 1 if the
 * collection was partial else 0]. */
static void write_pauses(struct buf *b, uint64_t from_count)
{
    static struct gcevents_pause p[GCEVENTS_PAUSE_HISTORY];   /* under lock: not on the stack */
    int n = gcevents_pauses_since(from_count, p, GCEVENTS_PAUSE_HISTORY);
    double offset = unix_now() - (double)clock_mono_ns() / 1e9;   /* monotonic -> wall */
    uint64_t upto = at(newest)->pause_count;
    buf_puts(b, "\"pauses\":[");
    for (int i = 0, first = 1; i < n && p[i].number < upto; i++, first = 0)
        buf_printf(b, "%s[%.3f,%.6g,%.6g,%d]", first ? "" : ",", (double)p[i].end_ns / 1e9 + offset,
                   (double)p[i].duration_ns / 1e9, (double)p[i].blocked_ns / 1e9, p[i].kind == GCEVENTS_PARTIAL);
    buf_puts(b, "]");
}

/* The charts the page draws, in its order. */
static void write_charts(struct buf *b)
{
    buf_printf(b, "\"charts\":[\"heap\",\"alloc\",\"pauses\",\"gc\"%s%s,\"rss\"]",
               host.gauge_title ? ",\"gauge\"" : "", host.requests ? ",\"requests\"" : "");
}

/* The feed's head: what it is about and how its figures were taken. */
static void write_head(struct buf *b)
{
    buf_printf(b, "{\"newest\":%llu,\"interval_ms\":%d,\"program\":", (unsigned long long)newest,
               DASHBOARD_INTERVAL_MS);
    debug_vars_string(b, host.name ? host.name : "this program");
    buf_printf(b, ",\"heap_as_of_collection\":%s,", at(newest)->as_of_gc ? "true" : "false");
    write_charts(b);
    if (host.gauge_title) {
        buf_puts(b, ",\"gauge\":{\"title\":");
        debug_vars_string(b, host.gauge_title);
        buf_puts(b, ",\"unit\":");
        debug_vars_string(b, host.gauge_unit ? host.gauge_unit : "");
        buf_putc(b, '}');
    }
    buf_puts(b, ",\"routes\":[");
    for (size_t i = 0; host.requests && i < reqstats_slots(); i++)
        buf_printf(b, "%s\"%s\"", i ? "," : "", reqstats_slot_name(i));
    buf_puts(b, "]");
}

/* The feed for a page that has every sample up to `since`. Locked; newest >= 1. */
static void write_feed(struct buf *b, uint64_t since)
{
    uint64_t first = since + 1 > oldest() ? since + 1 : oldest();
    write_head(b);
    buf_puts(b, ",\n\"samples\":[");
    for (uint64_t s = first; s <= newest; s++) {
        if (s > first) buf_puts(b, ",\n");
        write_sample(b, at(s));
    }
    buf_puts(b, "],\n");
    write_pauses(b, since >= oldest() ? at(since)->pause_count : at(first)->pause_count);
    buf_puts(b, "}\n");
}

/* ---- handlers ------------------------------------------------------------------- */

static void answer(struct http_request *req, uint64_t since)
{
    struct buf b = BUF_INIT;
    write_feed(&b, since);
    pthread_mutex_unlock(&lock);
    http_add_header(req, "Cache-Control", "no-store");
    http_respond(req, 200, "application/json; charset=utf-8", &b);
}

/* The deferral ended: the next sample is due (or the server is stopping). */
static void resume_feed(struct http_request *req, int client_gone, void *state)
{
    if (client_gone) return;
    uint64_t since = (uint64_t)(uintptr_t)state;
    pthread_mutex_lock(&lock);
    if (newest == since && clock_mono_ns() + EARLY_NS >= at(newest)->mono_ns + INTERVAL_NS) take_sample();
    answer(req, since < newest ? since : newest);   /* unlocks */
}

/* Reads ?since= (absent: 0). Returns 0, or -1 if it is not a decimal integer. */
static int parse_since(struct http_request *req, uint64_t *since)
{
    const char *v = http_query(req, "since");
    *since = 0;
    if (!v) return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-' || v[0] == '+' || v[0] == ' ') return -1;
    *since = x;
    return 0;
}

static void dashboard_feed(struct http_request *req)
{
    uint64_t since;
    if (parse_since(req, &since) < 0) {
        http_respond_text(req, 400, "since must be a sample number: an integer from 0 to the newest");
        return;
    }
    pthread_mutex_lock(&lock);
    if (since > newest) {
        uint64_t n = newest;
        pthread_mutex_unlock(&lock);
        http_respond_text(req, 400, "since=%llu is beyond the newest sample (%llu)", (unsigned long long)since,
                          (unsigned long long)n);
        return;
    }
    uint64_t now = clock_mono_ns();
    uint64_t due = newest ? at(newest)->mono_ns + INTERVAL_NS : 0;
    if (since == newest && now + EARLY_NS >= due) take_sample();
    if (since < newest) { answer(req, since); return; }   /* unlocks */
    pthread_mutex_unlock(&lock);
    if (http_defer(req, (double)(due - now) / 1e9, NULL, resume_feed, (void *)(uintptr_t)since) < 0)
        http_respond_text(req, 503, "server stopping");
}

static void dashboard_file(struct http_request *req)
{
    struct asset a;
    if (assets_find(http_path(req), &a) < 0) {
        http_respond_text(req, 404, "404 page not found: %s", http_path(req));
        return;
    }
    struct buf b = BUF_INIT;
    buf_append(&b, a.data, a.len);
    http_add_header(req, "Cache-Control", "no-cache");
    http_respond(req, 200, a.content_type, &b);
}

/* ---- the table ------------------------------------------------------------------ */

#define GET ROUTER_GET_HEAD
static const struct router_route pages[] = {
    {"/debug/gc", 0, GET, dashboard_file, NULL,
     "live charts of the heap, allocation, collections and pauses, RSS, and the program's own figures"},
    {"/debug/gc/feed", 0, GET, dashboard_feed, NULL, NULL},
    {"/debug/gc/dashboard.js", 0, GET, dashboard_file, NULL, NULL},
    {"/debug/gc/uPlot.iife.min.js", 0, GET, dashboard_file, NULL, NULL},
    {"/debug/gc/uPlot.min.css", 0, GET, dashboard_file, NULL, NULL},
    {"/debug/gc/uPlot.LICENSE", 0, GET, dashboard_file, NULL, NULL},
};
const struct router_table dashboard_pages = ROUTER_TABLE(pages);
