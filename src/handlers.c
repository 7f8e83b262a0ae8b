/* handlers: /noleaker, /leaker and the leaker's figures. See handlers.h.
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

#include "gc/gcheap.h"
#include "gc/gcpacer.h"
#include "profile/lockprof.h"
#include "src/debug_vars.h"
#include "src/strlist.h"

static long repetitions = HANDLERS_DEFAULT_REPETITIONS;

/* The leaker's root: static memory is scanned by the collector. */
static struct strlist leaked = STRLIST_INIT;
static size_t leaked_requests;   /* /leaker requests whose strings are in `leaked` */
static _Atomic uint64_t leaked_refused;   /* /leaker requests refused at the heap cap */
/* Profiled (profile/lockprof): two clients hammering /leaker contend for it, which
 * the mutex and block profiles show. */
static struct lockprof_mutex leaked_lock = LOCKPROF_MUTEX_INIT;

void handlers_init(long reps) { repetitions = reps; }

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

void handlers_write_vars(struct buf *out)
{
    size_t requests, strings, bytes;
    handlers_leaker_totals(&requests, &strings, &bytes);
    struct debug_vars_object o = debug_vars_open(out);
    DEBUG_VARS_MEMBER(&o, "requests", requests);
    DEBUG_VARS_MEMBER(&o, "strings", strings);
    DEBUG_VARS_MEMBER(&o, "bytes", bytes);
    DEBUG_VARS_MEMBER(&o, "refused", atomic_load_explicit(&leaked_refused, memory_order_relaxed));
    debug_vars_close(&o);
}

void handlers_write_metrics(struct promfmt *w)
{
    size_t requests, strings, bytes;
    handlers_leaker_totals(&requests, &strings, &bytes);
    promfmt_family(w, "memdemo_leaker_requests", PROMFMT_COUNTER, "/leaker requests whose strings are kept.");
    promfmt_u64(w, "", NULL, requests);
    promfmt_family(w, "memdemo_leaker_strings", PROMFMT_GAUGE, "Strings the leaker keeps in its global list.");
    promfmt_u64(w, "", NULL, strings);
    promfmt_family(w, "memdemo_leaker_bytes", PROMFMT_GAUGE, "Bytes of the strings the leaker keeps.");
    promfmt_u64(w, "", NULL, bytes);
}
