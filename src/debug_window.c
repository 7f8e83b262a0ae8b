/* debug_window: deferred windows. See debug_window.h. */
#include "src/debug_window.h"

#include <stdlib.h>

#include "gc/clock.h"

struct window {
    const struct debug_window_ops *ops;
    void *state;
    uint64_t started_ns;            /* monotonic */
};

static void window_end(int client_gone, void *arg)
{
    struct window *w = arg;
    if (w->ops->end) w->ops->end(w->state, client_gone);
}

static void window_resume(struct http_request *req, int client_gone, void *arg)
{
    struct window *w = arg;
    if (!client_gone) w->ops->answer(req, w->state, (int64_t)(clock_mono_ns() - w->started_ns));
    w->ops->release(w->state);
    free(w);
}

int debug_window_open(struct http_request *req, double seconds, const struct debug_window_ops *ops, void *state)
{
    struct window *w = malloc(sizeof *w);
    if (!w) return -1;
    *w = (struct window){ops, state, clock_mono_ns()};
    if (http_defer(req, seconds, window_end, window_resume, w) < 0) {
        free(w);
        return -1;
    }
    return 0;
}
