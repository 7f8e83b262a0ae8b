/* debug_window: the one way a /debug endpoint answers after a window of time (a heap,
 * mutex or block delta, a CPU profile, an execution trace) without holding a worker.
 *
 * Owns the window's life: the request is deferred (src/http.h's http_defer) for the
 * window; when it ends the owner's `end` step runs on the server's deferral thread
 * (heavy, GC-free work: stopping a CPU profile or a trace), then its `answer` step on
 * a worker (GC allocation allowed: a second heap snapshot), unless the client has
 * gone; `release` always runs, exactly once. Leaves what is measured and written to
 * the owner (src/debug_pprof.c's rows).
 */
#ifndef MEMDEMO_DEBUG_WINDOW_H
#define MEMDEMO_DEBUG_WINDOW_H

#include <stdint.h>

#include "src/http.h"

struct debug_window_ops {
    /* Optional. On the deferral thread, not registered with the collector: no GC
     * memory, no gc/ call that allocates or locks. client_gone: nobody will read it
     * (cancel rather than finish). */
    void (*end)(void *state, int client_gone);
    /* On a worker, unless the client has gone: answer req. duration_ns is how long the
     * window really was (a shutdown cuts it short). */
    void (*answer)(struct http_request *req, void *state, int64_t duration_ns);
    /* Frees state. */
    void (*release)(void *state);
};

/* Opens a window of `seconds` on req with *ops (which must outlive it) over state.
 * Returns 0 (state now belongs to the window), or -1 when the server cannot defer
 * (shutting down, out of memory): nothing has run and the caller still owns state and
 * must answer. Worker thread, inside the handler. */
int debug_window_open(struct http_request *req, double seconds, const struct debug_window_ops *ops, void *state);

#endif
