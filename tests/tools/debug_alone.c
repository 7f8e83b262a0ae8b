/* debug_alone: the /debug surface served alone, over the profiler, by a program that is
 * not memdemo: no handlers, no routes, and none of memdemo's GC policy (no pacer, no
 * root filter, bdwgc's own marker count), as a host program embedding the profiler
 * would serve it. tests/integration/debug_surface.sh drives it.
 *
 * The Makefile links it from the objects the surface may use and no others (no
 * src/handlers, routes, app; no gc/gcpacer or gc/gcpolicy), so building it
 * is itself the check that no layer of the surface reaches for memdemo's own.
 *
 *   debug_alone ADDR      serves ADDR (e.g. 127.0.0.1:0), prints "listening on URL" on
 *                         stdout, and stops the server and exits 0 when stdin closes.
 *
 * Besides the surface it serves one row of its own, chained before the surface's
 * tables as a host program would chain its pages: /alone/headers answers with one
 * header more than an answer may carry (HTTP_MAX_HEADERS), so the test can see the
 * server drop and count it (http.headers_dropped in /debug/vars).
 *
 * Before serving it allocates, in exact mode (every allocation sampled), KEPT objects
 * of OBJECT_SIZE bytes from alone_allocate() and keeps them, and as many again that
 * become garbage, so the heap profile has a known answer: inuse_objects of
 * alone_allocate == KEPT after a collection, alloc_objects == 2 * KEPT.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gc/gcheap.h"
#include "gc/gcthreads.h"
#include "profile/sampler.h"
#include "profile/trace.h"
#include "src/debug_surface.h"
#include "src/server.h"

#define KEPT 1000
#define OBJECT_SIZE 40

/* A root (static storage): these stay in use. Not static, so the compiler cannot drop the
 * stores to an array nothing in this file reads. */
void *alone_kept[KEPT];

/* Kept out of line so that the profile shows this frame as the allocation site. */
__attribute__((noinline)) static void alone_allocate(void)
{
    for (int i = 0; i < KEPT; i++) {
        alone_kept[i] = gcheap_alloc_data(OBJECT_SIZE);
        void *garbage = gcheap_alloc_data(OBJECT_SIZE);
        __asm__ volatile("" : : "r"(garbage) : "memory");
    }
}

static void many_headers(struct http_request *req)
{
    for (int i = 0; i <= HTTP_MAX_HEADERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "X-Alone-%d", i);
        http_add_header(req, name, "1");
    }
    http_respond_text(req, 200, "%d headers asked for", HTTP_MAX_HEADERS + 1);
}

static const struct router_route own[] = {
    {"/alone/headers", 0, ROUTER_GET_HEAD, many_headers, NULL, NULL},
};
static const struct router_table own_table = ROUTER_TABLE(own);
static const struct router_table *const tables[] = {&own_table, DEBUG_SURFACE_TABLES};
static const struct router router = {tables, sizeof tables / sizeof tables[0]};

/* Outside the collector's reach (gcheap_blocking): touches no GC memory. */
static void *wait_for_eof(void *unused)
{
    (void)unused;
    char c;
    while (read(0, &c, 1) > 0) { /* input is ignored; EOF stops */ }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: debug_alone ADDR\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    gcheap_init_with(NULL);   /* bdwgc's own policy: what a host program has */
    debug_surface_init(argc, argv);
    if (sampler_init(1) < 0 || trace_init() < 0) { fprintf(stderr, "debug_alone: out of memory\n"); return 1; }
    alone_allocate();
    struct conns_limits limits = {
        .max = CONNS_DEFAULT_MAX, .max_per_addr = CONNS_DEFAULT_MAX_PER_ADDR,
        .header_ns = CONNS_DEFAULT_HEADER_NS, .read_ns = CONNS_DEFAULT_READ_NS,
        .write_ns = CONNS_DEFAULT_WRITE_NS, .idle_ns = CONNS_DEFAULT_IDLE_NS,
    };
    struct server_config cfg = {router_match, &router, {.thread_enter = gcthreads_enter}, NULL};
    char url[128];
    if (server_start(argv[1], 2, &limits, &cfg, url, sizeof url) < 0) return 1;
    printf("listening on %s\n", url);
    fflush(stdout);
    gcheap_blocking(wait_for_eof, NULL);
    server_stop(5.0);
    return 0;
}
