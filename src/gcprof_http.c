/* gcprof_http: src/http.h over libmicrohttpd for libgcprof's live pages, and their
 * routes. See gcprof_http.h.
 *
 * Each connection has its own thread (MHD_USE_THREAD_PER_CONNECTION): a handler that
 * defers (a trace window, a delta profile) sleeps on that thread for the window and
 * then resumes, so no deferral machinery is needed. A request's headers are collected
 * until it is answered; an upload (POST /debug/pprof/symbol) is buffered first.
 */
#include "src/gcprof_http.h"

#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gc/gcinterpose.h"
#include "profile/buf.h"
#include "src/debug_pprof.h"
#include "src/gcprof_lib.h"
#include "src/gcprof_settings.h"
#include "src/http.h"

#define MAX_HEADERS 8
#define MAX_BODY ((size_t)1 << 20)

struct http_request {
    struct MHD_Connection *conn;
    const char *method, *path;
    struct buf body;
    const char *header_names[MAX_HEADERS], *header_values[MAX_HEADERS];
    char *header_copies[2 * MAX_HEADERS];
    int nheaders;
    int answered;
};

static struct MHD_Daemon *daemon_;

/* libmicrohttpd is loaded only when the pages are asked for: linked in, it and the
 * TLS libraries it needs (about fifteen objects) would be loaded into every profiled
 * program, and bdwgc scans every loaded object's data at every collection. */
#define MHD_FUNCTIONS(X)                                                                    \
    X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_get_daemon_info) X(MHD_lookup_connection_value) \
    X(MHD_get_connection_values) X(MHD_create_response_from_buffer) X(MHD_add_response_header) \
    X(MHD_queue_response) X(MHD_destroy_response)
#define MHD_POINTER(f) __typeof__(&f) f;
static struct { MHD_FUNCTIONS(MHD_POINTER) } mhd;
#undef MHD_POINTER

/* Returns 0, or -1 after saying why. */
static int load_libmicrohttpd(void)
{
    void *h = dlopen(GCPROF_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "gcprof: cannot serve pages: %s\n", dlerror());
        return -1;
    }
#define MHD_RESOLVE(f)                                                              \
    if (!(mhd.f = (__typeof__(mhd.f))dlsym(h, #f))) {                               \
        fprintf(stderr, "gcprof: cannot serve pages: %s has no %s\n", GCPROF_MHD_SONAME, #f); \
        return -1;                                                                  \
    }
    MHD_FUNCTIONS(MHD_RESOLVE)
#undef MHD_RESOLVE
    return 0;
}

/* ---- src/http.h ------------------------------------------------------------------------ */

const char *http_method(const struct http_request *r) { return r->method; }
const char *http_path(const struct http_request *r) { return r->path; }

const char *http_query(const struct http_request *r, const char *key)
{
    return mhd.MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_header(const struct http_request *r, const char *name)
{
    return mhd.MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result first_key(void *out, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind; (void)value;
    *(const char **)out = key;
    return MHD_NO;   /* stop at the first */
}

const char *http_query_first_key(const struct http_request *r)
{
    const char *key = NULL;
    mhd.MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, first_key, &key);
    return key;
}

const char *http_body(const struct http_request *r, size_t *len)
{
    *len = r->body.len;
    return r->body.len ? r->body.data : NULL;
}

int http_add_header(struct http_request *r, const char *name, const char *value)
{
    if (r->nheaders >= MAX_HEADERS) return -1;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) { free(n); free(v); return -1; }
    r->header_copies[2 * r->nheaders] = n;
    r->header_copies[2 * r->nheaders + 1] = v;
    r->header_names[r->nheaders] = n;
    r->header_values[r->nheaders++] = v;
    return 0;
}

void http_respond(struct http_request *r, int status, const char *ctype, struct buf *body)
{
    if (r->answered || body->failed) {
        int failed = body->failed;
        buf_free(body);
        if (failed && !r->answered) http_respond_text(r, 500, "out of memory building the response");
        return;
    }
    size_t len;
    char *data = buf_take(body, &len);
    struct MHD_Response *resp = mhd.MHD_create_response_from_buffer(len, data ? data : (char *)"", MHD_RESPMEM_MUST_FREE);
    if (!resp) { free(data); return; }
    mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    for (int i = 0; i < r->nheaders; i++) mhd.MHD_add_response_header(resp, r->header_names[i], r->header_values[i]);
    mhd.MHD_queue_response(r->conn, (unsigned)status, resp);
    mhd.MHD_destroy_response(resp);
    r->answered = 1;
}

static void respond_line(struct http_request *r, int status, const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT;
    buf_vprintf(&b, fmt, ap);
    buf_putc(&b, '\n');
    http_respond(r, status, "text/plain; charset=utf-8", &b);
}

void http_respond_text(struct http_request *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    respond_line(r, status, fmt, ap);
    va_end(ap);
}

void http_respond_pprof_error(struct http_request *r, int status, const char *fmt, ...)
{
    http_add_header(r, "X-Go-Pprof", "1");
    http_add_header(r, "X-Content-Type-Options", "nosniff");
    va_list ap;
    va_start(ap, fmt);
    respond_line(r, status, fmt, ap);
    va_end(ap);
}

/* This connection's own thread waits out the window (EINTR: sleep the rest). */
int http_defer(struct http_request *r, double seconds, http_prepare_fn prepare, http_resume_fn resume,
               void *state)
{
    if (r->answered) return -1;
    struct timespec left = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&left, &left) < 0 && errno == EINTR) {}
    if (prepare) prepare(0, state);
    resume(r, 0, state);
    return 0;
}

/* ---- routes ------------------------------------------------------------------------------ */

static void serve_index(struct http_request *r);
static void serve_vars(struct http_request *r);
static void serve_heap(struct http_request *r);

/* X(path, handler, line on the index page) */
#define GCPROF_ROUTES(X)                                                                     \
    X("/debug/pprof/", serve_index, "this page")                                              \
    X("/debug/pprof/heap", serve_heap, "live objects as of the last collection (?gc=1 collects first)") \
    X("/debug/pprof/allocs", debug_pprof_allocs, "every allocation sampled since the start")  \
    X("/debug/pprof/trace", debug_pprof_trace, "the GC timeline of the next ?seconds=N")      \
    X("/debug/pprof/symbol", debug_pprof_symbol, "symbol lookup for go tool pprof")           \
    X("/debug/pprof/cmdline", debug_pprof_cmdline, "the program's command line")              \
    X("/debug/vars", serve_vars, "bdwgc's and the profiler's figures (JSON)")

static void serve_index(struct http_request *r)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "<html><head><title>gcprof</title></head><body><h1>gcprof</h1><ul>\n");
#define LINE(path, handler, about) buf_printf(&b, "<li><a href=\"%s\">%s</a>: %s</li>\n", path, path, about);
    GCPROF_ROUTES(LINE)
#undef LINE
    buf_puts(&b, "</ul></body></html>\n");
    http_respond(r, 200, "text/html; charset=utf-8", &b);
}

static void serve_vars(struct http_request *r)
{
    struct buf b = BUF_INIT;
    gcprof_write_vars(&b, NULL);
    http_respond(r, 200, "application/json; charset=utf-8", &b);
}

/* ?gc=1: the collection runs on a program thread; none within the timeout: refused. */
static void serve_heap(struct http_request *r)
{
    const char *gc = http_query(r, "gc");
    if (gc && strcmp(gc, "0") != 0 && !http_query(r, "seconds") &&
        gcinterpose_collect_for_next_snapshot(GCPROF_HTTP_GC_TIMEOUT_MS) < 0) {
        http_respond_pprof_error(r, 503, "gc=1: no thread of the program allocated within %d ms to run the "
                                 "collection (gcprof never collects from its own threads); ask without gc=1 "
                                 "for the heap as of the last collection", GCPROF_HTTP_GC_TIMEOUT_MS);
        return;
    }
    debug_pprof_heap(r);
}

static http_handler_fn find_route(const char *path)
{
#define MATCH(p, handler, about) if (strcmp(path, p) == 0) return handler;
    GCPROF_ROUTES(MATCH)
#undef MATCH
    return NULL;
}

/* ---- libmicrohttpd ---------------------------------------------------------------------- */

static void dispatch(struct http_request *r)
{
    http_handler_fn h = find_route(r->path);
    int post_ok = strcmp(r->path, "/debug/pprof/symbol") == 0;
    if (!h) http_respond_text(r, 404, "404 page not found: %s", r->path);
    else if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD") && !(post_ok && !strcmp(r->method, "POST")))
        http_respond_text(r, 405, "method %s not allowed on %s", r->method, r->path);
    else h(r);
    if (!r->answered) http_respond_text(r, 500, "no answer from the handler for %s", r->path);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)cls; (void)version;
    struct http_request *r = *state;
    if (!r) {                                  /* headers are in: set up, answer later */
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        r->conn = c;
        r->method = method;
        r->path = url;
        *state = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > MAX_BODY || buf_append(&r->body, upload, *upload_size) < 0) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->answered) dispatch(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode code)
{
    (void)cls; (void)c; (void)code;
    struct http_request *r = *state;
    if (!r) return;
    for (int i = 0; i < 2 * r->nheaders; i++) free(r->header_copies[i]);
    buf_free(&r->body);
    free(r);
    *state = NULL;
}

static int resolve(const char *addr, struct sockaddr_storage *sa, char *host, size_t host_n)
{
    int port;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    char port_s[8];
    if (gcprof_settings_http_addr(addr, host, host_n, &port) < 0) return -1;
    snprintf(port_s, sizeof port_s, "%d", port);
    if (getaddrinfo(host, port_s, &hints, &ai) != 0) return -1;
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

/* /debug/pprof/cmdline answers the arguments of /proc/self/cmdline, read once. */
static void remember_cmdline(void)
{
    static char args[8192];
    static char *argv[256];
    FILE *f = fopen("/proc/self/cmdline", "r");
    size_t n = f ? fread(args, 1, sizeof args - 1, f) : 0;
    int argc = 0;
    if (f) fclose(f);
    args[n] = '\0';
    for (size_t i = 0; i < n && argc < 255; i += strlen(args + i) + 1) argv[argc++] = args + i;
    debug_pprof_set_cmdline(argc, argv);
}

int gcprof_http_start(const char *addr)
{
    struct sockaddr_storage sa;
    if (load_libmicrohttpd() < 0) return -1;
    remember_cmdline();
    char host[GCPROF_MAX_HTTP + 1];
    if (resolve(addr, &sa, host, sizeof host) < 0) {
        fprintf(stderr, "gcprof: cannot resolve %s\n", addr);
        return -1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    daemon_ = mhd.MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                               MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!daemon_) {
        fprintf(stderr, "gcprof: cannot serve on %s: %s\n", addr, strerror(errno));
        return -1;
    }
    const union MHD_DaemonInfo *info = mhd.MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    int bracket = strchr(host, ':') != NULL;
    fprintf(stderr, "gcprof: serving http://%s%s%s:%u/debug/pprof/\n", bracket ? "[" : "", host, bracket ? "]" : "",
            info ? (unsigned)info->port : 0u);
    return 0;
}

void gcprof_http_stop(void)
{
    if (daemon_) mhd.MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
