/* debug_vars: GET /debug/vars, expvar-style JSON of what the process is doing: its
 * command line, the collector's figures (memstats, Go's names, with Go's PauseNs
 * ring; gc, its mode and its collections by kind), the profiler's, the server's
 * connections and HTTP counters, then the sections a program adds (memdemo: its pacer
 * and its leaker).
 *
 * Owns the document's shape and the JSON writing helpers sections use. The figures
 * come from their modules' X-macro field tables: GCHEAP_STATS_FIELDS,
 * GCEVENTS_KIND_STATS_FIELDS (which /metrics prints too), SAMPLER_STATS_FIELDS
 * (which /metrics and the debug=1 trailer print too),
 * CPUPROF_, TRACE_, LOCKPROF_ and CONNS_STATS_FIELDS; the threads and http sections
 * are short lists of their own (src/debug_vars.c). ?gc=N (src/debug_http's rule)
 * collects first when N > 0, as /debug/pprof/heap?gc=1 does, so the figures are those
 * of the live heap without building a profile.
 */
#ifndef MEMDEMO_DEBUG_VARS_H
#define MEMDEMO_DEBUG_VARS_H

#include <stdint.h>

#include "src/http.h"

/* The handler of GET /debug/vars (a row of src/debug_surface.c's table). Worker
 * thread; a 400 for a bad ?gc=, a 500 when out of memory for the document. */
void debug_vars_handle(struct http_request *req);

/* Appends the whole document the handler serves (every section, the program's
 * included, and a final newline). The one writer of it: libgcprof writes it to
 * PREFIX.vars.json at exit. Any thread that may read the figures (gcheap_stats' rule);
 * out of memory latches out->failed. */
void debug_vars_write(struct buf *out);

/* A program's own section: "name": whatever write appends (one JSON value). Sections
 * follow the surface's own in the order added. At most DEBUG_VARS_MAX_SECTIONS. Main
 * thread, while no request is served (before serving, or after the server stopped).
 * Returns 0, or -1 with errno = ENOSPC when full. */
#define DEBUG_VARS_MAX_SECTIONS 4
int debug_vars_add_section(const char *name, void (*write)(struct buf *out));

/* Helpers for sections: an object is written as debug_vars_open, then a key and a
 * number per member, then debug_vars_close. DEBUG_VARS_NUM prints a signed or an
 * unsigned integer by its C type. They return nothing: an append that runs out of
 * memory latches out->failed (profile/buf's rule), which the handler answers with a
 * 500. Any thread; they allocate only out's malloc'd bytes. */
struct debug_vars_object { struct buf *out; int members; };
struct debug_vars_object debug_vars_open(struct buf *out);
void debug_vars_key(struct debug_vars_object *o, const char *name);
void debug_vars_close(struct debug_vars_object *o);
void debug_vars__i64(struct buf *out, int64_t v);
void debug_vars__u64(struct buf *out, uint64_t v);
#define DEBUG_VARS_NUM(out, v) \
    _Generic((v), int: debug_vars__i64, long: debug_vars__i64, long long: debug_vars__i64, default: debug_vars__u64)(out, v)
/* One member of object *o: key `name`, the number `value`. Sections expand it once per
 * row of a module's X-macro field table (GCHEAP_STATS_FIELDS and the others). */
#define DEBUG_VARS_MEMBER(o, name, value) (debug_vars_key(o, name), DEBUG_VARS_NUM((o)->out, value))

/* Defines `static void fn(struct buf *out)`, a section writer for debug_vars_add_section,
 * that prints one module's stats struct (struct KIND, filled by KIND(&from)) as an
 * object, a member per row of its X-macro field list FIELDS (X(name, field, ...)). */
#define DEBUG_VARS__STATS_MEMBER(name, field, ...) DEBUG_VARS_MEMBER(&o_, name, from_.field);
#define DEBUG_VARS_STATS_SECTION(fn, kind, FIELDS)                                         \
    static void fn(struct buf *out)                                                       \
    {                                                                                     \
        struct kind from_;                                                                \
        kind(&from_);                                                                     \
        struct debug_vars_object o_ = debug_vars_open(out);                               \
        FIELDS(DEBUG_VARS__STATS_MEMBER)                                                  \
        debug_vars_close(&o_);                                                            \
    }

/* s as a JSON string (quotes and escapes added). */
void debug_vars_string(struct buf *out, const char *s);

#endif
