/* gcprof_http: the /debug surface in libgcprof. See gcprof_http.h.
 *
 * The router is the surface's (router_match over DEBUG_SURFACE_TABLES), which serves
 * only what the host allows (debug_pprof_withhold: the rows themselves refuse and the
 * index leaves them out), with one change made on the match: the pages that honour
 * ?gc=1 (heap, /debug/vars) get a handler that first has a program thread collect
 * (gcinterpose_collect_for_next_snapshot: the surface's own gcheap_collect_shared on
 * this worker then uses that collection) and then runs the row's own handler.
 */
#include "src/gcprof_http.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "gc/gcinterpose.h"
#include "gc/gcthreads.h"
#include "src/conns.h"
#include "src/dashboard.h"
#include "src/debug_http.h"
#include "src/debug_surface.h"
#include "src/gcprof_lib.h"
#include "src/gcprof_mhd.h"
#include "src/reqgate.h"
#include "src/server.h"

struct gcprof_mhd gcprof_mhd;

/* Returns 0, or -1 after saying why. */
static int load_libmicrohttpd(void)
{
    void *h = dlopen(GCPROF_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "gcprof: cannot serve pages: %s\n", dlerror());
        return -1;
    }
#define MHD_RESOLVE(f)                                                                         \
    if (!(gcprof_mhd.f = (__typeof__(gcprof_mhd.f))dlsym(h, #f))) {                            \
        fprintf(stderr, "gcprof: cannot serve pages: %s has no %s\n", GCPROF_MHD_SONAME, #f); \
        return -1;                                                                             \
    }
    GCPROF_MHD_FUNCTIONS(MHD_RESOLVE)
#undef MHD_RESOLVE
    return 0;
}

/* The pages that honour ?gc=1. */
static const char *const collecting[] = {"/debug/pprof/heap", "/debug/vars"};

static int listed(const char *path, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(path, list[i]) == 0) return 1;
    return 0;
}

/* ?gc=N (N not 0), without ?seconds: the collection runs on a program thread first. */
static void collect_then_serve(struct http_request *r)
{
    const char *gc = http_query(r, "gc");
    const struct router_route *row = http_route(r);
    if (gc && strcmp(gc, "0") != 0 && !http_query(r, "seconds") &&
        gcinterpose_collect_for_next_snapshot(GCPROF_HTTP_GC_TIMEOUT_MS) < 0) {
        debug_http_error(r, 503, "gc=1: no thread of the program allocated within %d ms to run the "
                         "collection (gcprof never collects from its own threads); ask without gc=1 "
                         "for the heap as of the last collection", GCPROF_HTTP_GC_TIMEOUT_MS);
        return;
    }
    row->handler(r);
}

static void route(const void *router, const char *method, const char *path, struct http_match *m)
{
    router_match(router, method, path, m);
    if (m->route && m->handler && listed(path, collecting, sizeof collecting / sizeof collecting[0]))
        m->handler = collect_then_serve;
}

/* Worker threads get an id (for the trace and the profiler's per-thread state), never
 * a registration with bdwgc, and what they allocate is the profiler's
 * (gcinterpose_own_begin: for good, they never run the program's code). */
static int note_thread(void)
{
    (void)gcinterpose_own_begin();
    return gcthreads_note() < 0 ? -1 : 0;
}

static int started;

/* A child the program forks without exec has none of the server's threads, but shares
 * its listening socket: stopping "its" server at exit would join threads that are not
 * there and shut the socket down under the parent's acceptor. The child forgets it. */
static void forget_server_in_child(void) { started = 0; }

int gcprof_http_start(const char *addr, const char *program)
{
    if (load_libmicrohttpd() < 0) return -1;
    debug_pprof_withhold(GCPROF_HTTP_WITHHELD);
    reqgate_name_allow_setting(NULL);   /* the pages are for this machine's loopback only */
    const char *base = strrchr(program, '/');
    dashboard_init(&(struct dashboard_host){.name = base ? base + 1 : program});   /* bdwgc's figures only */
    struct conns_limits limits = {
        .max = CONNS_DEFAULT_MAX, .max_per_addr = CONNS_DEFAULT_MAX_PER_ADDR,
        .header_ns = CONNS_DEFAULT_HEADER_NS, .read_ns = CONNS_DEFAULT_READ_NS,
        .write_ns = CONNS_DEFAULT_WRITE_NS, .idle_ns = CONNS_DEFAULT_IDLE_NS, .who = "gcprof",
    };
    struct server_config cfg = {route, &debug_surface_router, {.thread_enter = note_thread}, "gcprof"};
    char url[128];
    if (server_start(addr, GCPROF_HTTP_THREADS, &limits, &cfg, url, sizeof url) < 0) return -1;
    started = 1;
    pthread_atfork(NULL, NULL, forget_server_in_child);
    fprintf(stderr, "gcprof: serving %s/debug/pprof/\n", url);
    return 0;
}

void gcprof_http_stop(void)
{
    if (started) server_stop(1.0);
    started = 0;
}
