/* server: libmicrohttpd behind src/http.h. See server.h.
 *
 * Threading: one acceptor thread accepts connections and hands each to the least
 * loaded of `threads` worker daemons (libmicrohttpd, each one thread with its own epoll
 * set), which then serves all of that connection's requests. Each worker runs the
 * thread_enter hook before its first handler (memdemo registers it with the
 * collector there). Per-request state is malloc'd and holds no GC pointers; response
 * bodies are malloc'd buffers that libmicrohttpd frees.
 *
 * Dispatch asks the router for the request's route, answers 404/405 from its match,
 * and runs the handler between the before and after hooks; the answered hook sees
 * every dispatched request once, when its answer is queued.
 *
 * Deferred requests (http_defer) suspend their connection; the deferral thread polls
 * every DEFER_TICK_MS for deadlines and for clients that hung up, runs their prepare
 * step (heavy work such as writing a trace, kept off the workers), and resumes them;
 * libmicrohttpd then calls the access handler again on the worker, which runs the
 * resume callback. If libmicrohttpd completes a deferred request without that call
 * (the client vanished), the completion hook runs the callback with client_gone = 1,
 * so deferred state is always released.
 *
 * Connection-level defences (tests/integration/server_*.sh), in the order a request
 * meets them:
 * - the acceptor admits each connection through src/conns (total and per-address
 *   limits: a 503 instead of a wait) and conns' watchdog holds every phase of it to a
 *   deadline;
 * - the URI log callback sees the raw request line before libmicrohttpd decodes it (an
 *   encoded NUL in the path would otherwise cut the path short) and creates the
 *   request, so its object exists for the whole request;
 * - the first access-handler call, when the headers are complete and before any body
 *   is read (and before libmicrohttpd sends 100 Continue), answers the request gate's
 *   refusal of the head (src/reqgate.c) if there is one, checks the framing (one valid
 *   Content-Length, not with Transfer-Encoding, Host for HTTP/1.1) and refuses from the
 *   headers alone what would be refused anyway: a body over MAX_BODY, a body for an
 *   unknown path or a method the route does not allow. An answer queued on this call
 *   makes libmicrohttpd skip the body and close the connection;
 * - libmicrohttpd 0.9.75 answers an unparsable Content-Length itself, before any
 *   callback, with its response headers written twice; its error log is the only
 *   hook there, so on_mhd_log answers first, straight on the socket, and shuts the
 *   socket for writing so that libmicrohttpd's answer goes nowhere.
 * The framing checks and on_mhd_log's answer are the gate's rules again, for a host
 * where the gate does not see the bytes: it works by defining recv(2), and in a
 * program that defines and exports recv itself, libmicrohttpd's calls bind to the
 * program's (libgcprof's -http server there; tests/integration/server_ungated.sh).
 * Where the gate sees them (memdemo), it refuses those heads first and they never get
 * here.
 */
#include "src/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gc/clock.h"
#include "src/conns.h"
#include "src/http.h"
#include "src/lograte.h"
#include "src/reqgate.h"

#define MAX_BODY (1u << 20)
/* libmicrohttpd's per-connection pool (its default is 32 KiB). Above 32 KiB it maps
 * the pool with mmap() instead of taking it from malloc, so a closed connection's pool
 * goes back to the system at once instead of staying in glibc's arenas. */
#define CONNECTION_MEMORY (64u << 10)
#define DEFER_TICK_MS 50
/* A client whose FIN followed its request's last byte this closely shut down writing
 * after sending it (printf ... | nc -N) and waits for the answer; one whose FIN came
 * later hung up mid-window and is treated as gone. */
#define HALF_CLOSE_GRACE_MS 100

struct http_request {
    struct MHD_Connection *conn;
    const char *method, *path;
    struct buf body;
    int presented;                  /* the access handler has seen it (in flight) */
    int nul_in_path;                /* the raw path holds %00 */
    struct http_request *pending_next, **pending_prev;   /* on worker->pending until presented */
    int answered, status;
    int completed;                  /* libmicrohttpd is done with it: answers are dropped */
    struct { char *name, *value; } headers[HTTP_MAX_HEADERS];
    int nheaders;
    /* deferral */
    int deferred;
    http_prepare_fn prepare;
    http_resume_fn resume;
    void *resume_state;
    uint64_t deadline_ns;
    int fd;
    int client_gone;
    struct http_request *defer_next;
    /* dispatch */
    const void *route;              /* the router's match; NULL until dispatch, or no route */
    uint64_t started_ns;
    int counted;                    /* the answered hook has seen it */
};


/* One libmicrohttpd daemon and its thread. Everything here is touched only on that
 * thread (libmicrohttpd calls every callback of a connection on its worker). */
struct worker {
    struct MHD_Daemon *daemon;
    pthread_t thread;
    int thread_known;
    struct http_request *pending;   /* request line seen, headers not yet presented */
    int answered_bad_length;        /* on_mhd_log answered: drop libmicrohttpd's lines about it */
    int entered;                    /* the thread_enter hook accepted this thread */
};

static struct worker workers[SERVER_MAX_THREADS];
static int nworkers;
static int listen_fd = -1;
static pthread_t acceptor;
static int acceptor_started;
static _Atomic long in_flight;
static _Atomic int stopping;   /* answers close their connection: keep-alive ends */
static struct server_config config;   /* written by server_start before any worker exists */

/* Who the start-up messages name. */
static const char *who(void) { return config.who ? config.who : "memdemo"; }
static _Atomic uint64_t headers_dropped;
static _Atomic uint64_t answers_dropped;

static pthread_mutex_t defer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t defer_cond;
static struct http_request *defer_list;
static int defer_shutdown, defer_thread_started;
static pthread_t defer_thread;

/* ---- the request interface ------------------------------------------------------ */

const char *http_method(const struct http_request *r) { return r->method; }
const char *http_path(const struct http_request *r) { return r->path; }
const void *http_route(const struct http_request *r) { return r->route; }

const char *http_body(const struct http_request *r, size_t *len)
{
    *len = r->body.len;
    return r->body.len ? r->body.data : NULL;
}

struct query_lookup { const char *key, *value; int found; };

static enum MHD_Result find_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct query_lookup *q = cls;
    if (strcmp(key, q->key) != 0) return MHD_YES;
    q->value = value ? value : "";
    q->found = 1;
    return MHD_NO;
}

const char *http_query(const struct http_request *r, const char *key)
{
    struct query_lookup q = {key, NULL, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, find_arg, &q);
    return q.found ? q.value : NULL;
}

static enum MHD_Result first_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind; (void)value;
    *(const char **)cls = key;
    return MHD_NO;
}

const char *http_header(const struct http_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query_first_key(const struct http_request *r)
{
    const char *key = NULL;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, first_arg, &key);
    return key;
}

static void drop_header(void) { atomic_fetch_add_explicit(&headers_dropped, 1, memory_order_relaxed); }
static void drop_answer(void) { atomic_fetch_add_explicit(&answers_dropped, 1, memory_order_relaxed); }

/* Adds a header to resp, counting one libmicrohttpd refuses. */
static void add_header(struct MHD_Response *resp, const char *name, const char *value)
{
    if (MHD_add_response_header(resp, name, value) != MHD_YES) drop_header();
}

void http_add_header(struct http_request *r, const char *name, const char *value)
{
    if (r->nheaders == HTTP_MAX_HEADERS) { drop_header(); return; }
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) { free(n); free(v); drop_header(); return; }
    r->headers[r->nheaders].name = n;
    r->headers[r->nheaders].value = v;
    r->nheaders++;
}

void server_stats(struct server_stats *out)
{
    out->headers_dropped = atomic_load_explicit(&headers_dropped, memory_order_relaxed);
    out->log_lines_dropped = lograte_dropped_total();
    out->answers_dropped = atomic_load_explicit(&answers_dropped, memory_order_relaxed);
}

static void drop_headers(struct http_request *r)
{
    for (int i = 0; i < r->nheaders; i++) { free(r->headers[i].name); free(r->headers[i].value); }
    r->nheaders = 0;
}

/* Queues data (malloc'd, taken) as the answer. An answer that cannot be queued (no
 * memory for the response, or libmicrohttpd refuses it: the connection then closes
 * without one) is counted in answers_dropped. */
static void queue_answer(struct http_request *r, int status, const char *ctype, char *data, size_t len)
{
    r->answered = 1;
    r->status = status;
    if (r->completed) { free(data); drop_headers(r); return; }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) { free(data); drop_headers(r); drop_answer(); return; }
    add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    for (int i = 0; i < r->nheaders; i++) add_header(resp, r->headers[i].name, r->headers[i].value);
    if (atomic_load_explicit(&stopping, memory_order_relaxed)) add_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    drop_headers(r);
    if (MHD_queue_response(r->conn, (unsigned)status, resp) != MHD_YES) drop_answer();
    MHD_destroy_response(resp);
}

void http_respond(struct http_request *r, int status, const char *ctype, struct buf *body)
{
    if (r->answered) { buf_free(body); return; }
    if (body->failed) {
        buf_free(body);
        http_respond_text(r, 500, "out of memory building the response");
        return;
    }
    size_t len;
    char *data = buf_take(body, &len);
    queue_answer(r, status, ctype, data, len);
}

/* Error lines may echo what the client sent (a path, a value): browsers must not read
 * them as anything but text. */
static void add_nosniff(struct http_request *r)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, "X-Content-Type-Options") == 0) return;
    http_add_header(r, "X-Content-Type-Options", "nosniff");
}

static void respond_line(struct http_request *r, int status, const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT;
    if (status >= 400) add_nosniff(r);
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

int http_defer(struct http_request *r, double seconds, http_prepare_fn prepare,
               http_resume_fn resume, void *state)
{
    const union MHD_ConnectionInfo *ci = NULL;
    if (!r->answered && !r->deferred && defer_thread_started)
        ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) { errno = EINVAL; return -1; }
    if (seconds < 0) seconds = 0;
    r->fd = ci->connect_fd;
    r->prepare = prepare;
    r->resume = resume;
    r->resume_state = state;
    r->deadline_ns = clock_mono_in(seconds);
    r->client_gone = 0;
    pthread_mutex_lock(&defer_lock);
    if (defer_shutdown) {   /* the deferral thread is finishing: nobody would resume us */
        pthread_mutex_unlock(&defer_lock);
        r->resume = NULL;
        r->resume_state = NULL;
        errno = EINVAL;
        return -1;
    }
    r->deferred = 1;
    conns_enter(r->fd, CONNS_DEFERRED);   /* no deadline while the window is open */
    MHD_suspend_connection(r->conn);
    r->defer_next = defer_list;
    defer_list = r;
    pthread_cond_signal(&defer_cond);
    pthread_mutex_unlock(&defer_lock);
    return 0;
}

/* ---- deferral thread -------------------------------------------------------------- */

/* What the client of a deferred request (on fd) has done to its connection: 0 nothing;
 * 1 shut down writing with its request (see HALF_CLOSE_GRACE_MS: it still reads the
 * answer, so the window ends early and the answer is written, as Go's server does when
 * a request's context ends); 2 gone (reset, a failed socket, or a FIN mid-window): no
 * answer, and the window's work is cancelled. A FIN alone cannot tell a half-closed
 * client from one that closed for good; when it came can. */
static int client_state(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return 2;
    if (!(p.revents & POLLRDHUP)) return 0;
    int64_t after = conns_fin_after_data_ms(fd);
    return after >= 0 && after <= HALF_CLOSE_GRACE_MS ? 1 : 2;
}

/* Unlinks every deferred request that is due (deadline, hang-up, or shutdown) and
 * returns them as a list. Called with defer_lock held. */
static struct http_request *take_due(void)
{
    uint64_t now = clock_mono_ns();
    struct http_request **pp = &defer_list, *due = NULL;
    while (*pp) {
        struct http_request *r = *pp;
        int state = client_state(r->fd);
        if (state || defer_shutdown || now >= r->deadline_ns) {   /* shutdown: answer early */
            *pp = r->defer_next;
            r->client_gone = state == 2;
            r->defer_next = due;
            due = r;
        } else {
            pp = &r->defer_next;
        }
    }
    return due;
}

/* Runs each due request's prepare step here, off the workers, then hands it back to
 * its worker. The connections stay suspended until resumed, so libmicrohttpd does not
 * touch them meanwhile. Called without defer_lock. */
static void prepare_and_resume(struct http_request *due)
{
    while (due) {
        struct http_request *r = due;
        due = r->defer_next;
        if (r->prepare) r->prepare(r->client_gone, r->resume_state);
        MHD_resume_connection(r->conn);
    }
}

static void *defer_loop(void *unused)
{
    (void)unused;
    pthread_setname_np(pthread_self(), "memdemo-defer");   /* as profiles name threads */
    pthread_mutex_lock(&defer_lock);
    for (;;) {
        struct http_request *due = take_due();
        if (due) {
            pthread_mutex_unlock(&defer_lock);
            prepare_and_resume(due);
            pthread_mutex_lock(&defer_lock);
            continue;
        }
        if (defer_shutdown && !defer_list) break;
        struct timespec ts = clock_mono_deadline((uint64_t)DEFER_TICK_MS * 1000000u);
        if (defer_list) pthread_cond_timedwait(&defer_cond, &defer_lock, &ts);
        else if (!defer_shutdown) pthread_cond_wait(&defer_cond, &defer_lock);
    }
    pthread_mutex_unlock(&defer_lock);
    return NULL;
}

static int start_defer_thread(void)
{
    if (clock_cond_init(&defer_cond) != 0) return -1;
    if (pthread_create(&defer_thread, NULL, defer_loop, NULL) != 0) return -1;
    defer_thread_started = 1;
    return 0;
}

/* ---- dispatch --------------------------------------------------------------------- */

static int shutting_down(void)
{
    pthread_mutex_lock(&defer_lock);
    int v = defer_shutdown;
    pthread_mutex_unlock(&defer_lock);
    return v;
}

static void run_resume(struct http_request *r)
{
    r->deferred = 0;
    conns_enter(r->fd, CONNS_WRITE);   /* the write deadline starts when the window ends */
    r->resume(r, r->client_gone, r->resume_state);
    if (!r->answered && !r->deferred) http_respond_text(r, 503, "request abandoned: %s",
                                        shutting_down() ? "server shutting down" : "client went away");
}

/* Asks the router about r. */
static void route_request(struct http_request *r, struct http_match *m)
{
    memset(m, 0, sizeof *m);
    config.route(config.router, r->method, r->path, m);
}

/* Answers the 404 or 405 the router's match m says, in the route's error style. */
static void refuse_route(struct http_request *r, const struct http_match *m)
{
    int status = m->route ? 405 : 404;
    struct buf line = BUF_INIT;
    if (m->route) {
        http_add_header(r, "Allow", m->allow);
        buf_printf(&line, "Method Not Allowed: %s %s (allowed: %s)", r->method, r->path, m->allow);
    } else {
        buf_printf(&line, "404 page not found: %s", r->path);
    }
    if (line.failed) http_respond_text(r, 500, "out of memory building the response");
    else if (m->refuse) m->refuse(r, status, line.data);
    else http_respond_text(r, status, "%s", line.data);
    buf_free(&line);
}

/* A refusal answered before any request object existed (the acceptor's 503, the
 * request gate's 400s): counted through the answered hook as a request no route matched. */
static void count_refusal(int status)
{
    if (config.hooks.answered) config.hooks.answered(NULL, status, 0);
}

/* Tells the answered hook, once, that the request has its answer (a deferred one when
 * its resume answers). */
static void count_answer(struct http_request *r)
{
    if (!r->answered || r->counted || !r->started_ns) return;
    r->counted = 1;
    if (config.hooks.answered) config.hooks.answered(r->route, r->status, clock_mono_ns() - r->started_ns);
}

static void dispatch(struct http_request *r)
{
    struct http_match m;
    route_request(r, &m);
    r->route = m.route;
    r->started_ns = clock_mono_ns();
    if (!m.handler) { refuse_route(r, &m); return; }
    if (r->body.failed) {   /* a handler must never see a body cut short */
        http_respond_text(r, 500, "out of memory reading the request body");
        return;
    }
    if (config.hooks.before) config.hooks.before(r, m.route);
    m.handler(r);
    /* Here, not at completion: by then this thread may have begun another request. */
    if (config.hooks.after) config.hooks.after(r, m.route, r->answered ? r->status : 0);
    if (!r->answered && !r->deferred) http_respond_text(r, 500, "handler for %s gave no answer", r->path);
}

/* What the headers say about the body, gathered over every header line (duplicates
 * included: libmicrohttpd itself only looks at the first). */
struct framing {
    int lengths, bad_length, conflict;   /* Content-Length lines; one unparsable; values differ */
    int64_t length;
    int encodings, chunked;              /* Transfer-Encoding lines; the one is "chunked" */
    int hosts;
};

/* A Content-Length value as Go reads it: decimal digits only, at most 2^63-1.
 * Returns -1 for anything else (signs, spaces inside, hex, overflow). */
static int64_t parse_length(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    return v;
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (!value) value = "";
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        int64_t v = parse_length(value);
        if (v < 0) f->bad_length = 1;
        else if (f->lengths && v != f->length) f->conflict = 1;
        f->length = v;
        f->lengths++;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->encodings++;
        f->chunked = strcasecmp(value, "chunked") == 0;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
        f->hosts++;
    }
    return MHD_YES;
}

/* Checks what the headers alone decide: the framing (reached only where the request
 * gate does not see the bytes, see the top of this file) and the body's route and
 * size. Returns 0 to go on, or answers (on this first call, so libmicrohttpd skips any
 * body and closes) and returns the status. */
static int refuse_from_headers(struct http_request *r, const char *version)
{
    struct framing f = {0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_header, &f);
    int http11 = strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
    const char *why = NULL;
    int status = 400;
    if (f.bad_length) why = "invalid Content-Length header";
    else if (f.conflict) why = "conflicting Content-Length headers";
    else if (f.encodings && f.lengths) why = "Transfer-Encoding together with Content-Length";
    else if (f.encodings && (f.encodings > 1 || !f.chunked)) { status = 501; why = "unsupported Transfer-Encoding (only chunked)"; }
    else if (http11 && f.hosts == 0) why = "missing required Host header";
    else if (f.hosts > 1) why = "too many Host headers";
    else if (r->nul_in_path) why = "invalid path: encoded NUL (%00)";
    if (why) { http_respond_text(r, status, "%s", why); return status; }
    if (!f.chunked && f.length <= 0) return 0;   /* no body: decided on the next call */
    struct http_match m;
    route_request(r, &m);
    r->route = m.route;   /* the refusals below are counted under it */
    if (!m.handler) { refuse_route(r, &m); return m.route ? 405 : 404; }
    if (f.length > (int64_t)MAX_BODY) {
        http_respond_text(r, 413, "request body over %u bytes (Content-Length: %lld)", MAX_BODY, (long long)f.length);
        return 413;
    }
    return 0;
}

/* The path of an absolute-form request target ("http://host/x" -> "/x"), which RFC
 * 9112 says a server must accept; any other target as it is. */
static const char *origin_path(const char *url)
{
    const char *p = NULL;
    if (strncasecmp(url, "http://", 7) == 0) p = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0) p = url + 8;
    if (!p) return url;
    p = strchr(p, '/');
    return p ? p : "/";
}

static void pending_remove(struct http_request *r)
{
    if (!r->pending_prev) return;
    *r->pending_prev = r->pending_next;
    if (r->pending_next) r->pending_next->pending_prev = r->pending_prev;
    r->pending_prev = NULL;
    r->pending_next = NULL;
}

static struct http_request *new_request(struct MHD_Connection *conn)
{
    struct http_request *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->conn = conn;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->fd = ci ? ci->connect_fd : -1;
    return r;
}

/* libmicrohttpd's URI log callback: the request line is parsed, the headers are not.
 * `uri` is still raw (undecoded). The return value becomes the request's *con_cls. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct worker *w = cls;
    if (!w->thread_known) { w->thread = pthread_self(); w->thread_known = 1; }
    struct http_request *r = new_request(conn);
    if (!r) return NULL;   /* the first handler call tries again */
    size_t path_len = strcspn(uri, "?");   /* a %00 in the query is the handlers' to refuse */
    for (size_t i = 0; i + 2 < path_len; i++)
        if (uri[i] == '%' && uri[i + 1] == '0' && uri[i + 2] == '0') r->nul_in_path = 1;
    r->pending_next = w->pending;
    if (w->pending) w->pending->pending_prev = &r->pending_next;
    r->pending_prev = &w->pending;
    w->pending = r;
    conns_enter(r->fd, CONNS_HEADER);
    return r;
}

/* The first access-handler call: headers complete, body unread, no 100 Continue sent. */
static enum MHD_Result first_call(struct http_request *r, const char *url, const char *method,
                                  const char *version)
{
    pending_remove(r);
    r->presented = 1;
    r->method = method;
    r->path = origin_path(url);
    atomic_fetch_add(&in_flight, 1);
    conns_enter(r->fd, CONNS_BODY);
    r->started_ns = clock_mono_ns();
    const char *why;
    int refused = reqgate_verdict(r->fd, &why);
    if (refused) http_respond_text(r, refused, "%s", why);
    if (refused || refuse_from_headers(r, version)) {
        count_answer(r);
        conns_enter(r->fd, CONNS_WRITE);
        conns_linger_close(r->fd);   /* the client may still be sending the body */
        return MHD_YES;
    }
    /* Answer on a later call: libmicrohttpd 0.9.75 closes the connection after a
     * response queued on the first call, which would defeat keep-alive. (Refusals
     * above want exactly that: it is how the body goes unread.) */
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct worker *w = cls;
    if (!w->entered) {
        if (config.hooks.thread_enter && config.hooks.thread_enter() < 0) return MHD_NO;
        w->entered = 1;
    }
    struct http_request *r = *con_cls;
    if (!r) {
        r = new_request(conn);
        if (!r) return MHD_NO;
        *con_cls = r;
    }
    if (!r->presented) return first_call(r, url, method, version);
    if (*upload_size) {
        if (r->answered) { *upload_size = 0; return MHD_YES; }
        if (r->body.len + *upload_size > MAX_BODY) {
            /* A chunked body over the limit (a declared one was refused from its
             * headers). libmicrohttpd cannot queue an answer mid-body, and it is not
             * writing on the socket now: answer there, and have it close. */
            char line[64];
            snprintf(line, sizeof line, "request body over %u bytes", MAX_BODY);
            conns_send_error(r->fd, 413, line, 0);
            conns_linger_close(r->fd);
            r->answered = 1;
            r->status = 413;
            count_answer(r);
            return MHD_NO;
        }
        buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->resume && !r->answered) run_resume(r);
    else if (!r->answered) { conns_enter(r->fd, CONNS_WRITE); dispatch(r); }
    count_answer(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)conn; (void)toe;
    struct http_request *r = *con_cls;
    if (!r) return;
    pending_remove(r);
    r->completed = 1;
    if (r->deferred) {   /* closed while suspended or before the resume ran */
        r->client_gone = 1;
        run_resume(r);
        count_answer(r);
    }
    conns_enter(r->fd, CONNS_IDLE);   /* if the connection stays open: until the next request */
    int presented = r->presented;
    drop_headers(r);
    buf_free(&r->body);
    free(r);
    *con_cls = NULL;
    if (presented) atomic_fetch_sub(&in_flight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls; (void)socket_context;
    if (code != MHD_CONNECTION_NOTIFY_CLOSED) return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return;
    reqgate_close(ci->connect_fd);
    conns_forget(ci->connect_fd);   /* libmicrohttpd closes the descriptor after this */
}

/* The request on this worker whose headers libmicrohttpd is parsing right now: the
 * pending one whose header block is complete (for the others it is not yet). */
static struct http_request *request_being_parsed(struct worker *w)
{
    for (struct http_request *r = w->pending; r; r = r->pending_next) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        if (ci && ci->header_size > 0) return r;
    }
    return NULL;
}

/* What libmicrohttpd says when a client closes or resets mid-request: a client's own
 * affair (Go logs nothing either), and one line per connection would let a flood of
 * such connections fill the log. */
static int about_a_client_that_left(const char *fmt)
{
    static const char *const prefixes[] = {
        "Connection was closed by remote side",
        "Connection socket is closed when reading request",
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(fmt, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

/* libmicrohttpd's error log. It is called, on the worker, just before libmicrohttpd
 * answers a Content-Length it cannot parse (only where the request gate does not see
 * the bytes; see the top of this file): answer first. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct worker *w = cls;
    if (about_a_client_that_left(fmt)) return;
    int on_worker = w->thread_known && pthread_equal(w->thread, pthread_self());
    if (on_worker && strstr(fmt, "Content-Length")) {
        struct http_request *r = request_being_parsed(w);
        if (r && !r->answered) {
            conns_send_error(r->fd, 400, "invalid Content-Length header", 0);
            r->answered = 1;
            w->answered_bad_length = 1;
            return;
        }
    }
    if (on_worker && w->answered_bad_length) {   /* its own answer, which went nowhere */
        if (strncmp(fmt, "Error processing request", 24) == 0) return;
        if (strncmp(fmt, "Failed to send the response headers", 35) == 0) { w->answered_bad_length = 0; return; }
    }
    lograte_vprintf(fmt, ap);   /* a client can cause these: rate-limited */
}

/* ---- start and stop ------------------------------------------------------------- */

/* Splits "host:port" / "[v6]:port" / ":port". Returns 0 or -1. */
static int split_addr(const char *addr, char *host, size_t host_n, char *port, size_t port_n)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || !colon[1]) return -1;
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { h++; hl -= 2; }
    if (hl >= host_n || strlen(colon + 1) >= port_n) return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    strcpy(port, colon + 1);
    for (const char *p = port; *p; p++) if (*p < '0' || *p > '9') return -1;
    return atoi(port) <= 65535 ? 0 : -1;
}

/* Resolves and binds; prefers IPv4 for names like "localhost", as Go does. */
static int bind_listener(const char *addr, char *url, size_t url_n)
{
    char host[256], port[16];
    if (split_addr(addr, host, sizeof host, port, sizeof port) < 0) {
        fprintf(stderr, "%s: cannot parse -addr \"%s\": want HOST:PORT, e.g. localhost:8080 or :8080\n", who(), addr);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res, *ai;
    /* "localhost" is loopback by definition (RFC 6761); do not depend on /etc/hosts,
     * which minimal systems and containers may lack. IPv4, as Go listens there. */
    if (strcasecmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc) { fprintf(stderr, "%s: cannot resolve -addr \"%s\": %s\n", who(), addr, gai_strerror(rc)); return -1; }
    ai = res;
    for (struct addrinfo *a = res; a; a = a->ai_next) if (a->ai_family == AF_INET) { ai = a; break; }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        fprintf(stderr, "%s: cannot listen on %s: %s\n", who(), addr, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    int v6 = ss.ss_family == AF_INET6;
    const void *a = v6 ? (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr : (void *)&((struct sockaddr_in *)&ss)->sin_addr;
    int p = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    inet_ntop(ss.ss_family, a, ip, sizeof ip);
    snprintf(url, url_n, v6 ? "http://[%s]:%d" : "http://%s:%d", ip, p);
    return fd;
}

/* Whether accept()'s error err is about the listening socket itself, which no longer
 * listens (shut down or closed by something other than server_stop: a forked child's
 * cleanup, a library gone wrong): every later accept() would fail at once the same way.
 * Said once on stderr; connections already served go on, and server_stop() still stops
 * them. A socket that still listens is not gone, whatever err says (accept(2) may pass
 * on a new connection's error, EOPNOTSUPP among them). */
static int about_the_socket(int err) { return err == EINVAL || err == EBADF || err == ENOTSOCK || err == EOPNOTSUPP; }

static int listener_is_gone(int err)
{
    if (!about_the_socket(err)) return 0;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) return 0;
    fprintf(stderr, "%s: the listening socket failed (%s): no new connections are accepted\n", who(),
            strerror(err));
    return 1;
}

/* Whether accept()'s error err may come again at once (out of descriptors or memory, or
 * one of listener_is_gone's on a socket that still listens): the acceptor backs off
 * rather than spin a core on it. */
static int error_lasts(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM || about_the_socket(err);
}

/* The acceptor: one thread blocks in accept(), admits each connection through
 * src/conns (which answers 503 past the limits) and hands it to the worker daemons in
 * turn. libmicrohttpd's own thread pool lets whichever worker wakes first
 * accept every pending connection, which can leave one core idle under a load tool's
 * burst of connections. (Round robin rather than fewest-connections: libmicrohttpd
 * counts an added connection only once its worker has picked it up, so during a burst
 * every worker looks empty.) */
static void *accept_loop(void *unused)
{
    (void)unused;
    pthread_setname_np(pthread_self(), "memdemo-accept");
    int next_worker = 0;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            int err = errno;
            if (atomic_load(&stopping)) break;   /* listen socket shut down: server_stop() */
            if (listener_is_gone(err)) break;
            if (error_lasts(err)) {
                struct timespec ts = {0, 10 * 1000000L};
                nanosleep(&ts, NULL);
            }
            continue;   /* EINTR, ECONNABORTED, EPROTO, ...: the next connection may be fine */
        }
        if (conns_admit(fd, (struct sockaddr *)&ss, sl) < 0) {   /* refused, fd gone */
            count_refusal(503);
            continue;
        }
        if (reqgate_open(fd) < 0) { conns_forget(fd); close(fd); continue; }
        struct MHD_Daemon *worker = workers[next_worker].daemon;
        next_worker = (next_worker + 1) % nworkers;
        /* On failure libmicrohttpd has closed fd; nothing else can have it yet (only
         * this thread admits), so forgetting it now is still in time. */
        if (MHD_add_connection(worker, fd, (struct sockaddr *)&ss, sl) != MHD_YES) {
            reqgate_close(fd);
            conns_forget(fd);
        }
    }
    return NULL;
}

static struct MHD_Daemon *start_worker(struct worker *w, const struct conns_limits *lim)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    /* libmicrohttpd's own inactivity timeout (any byte resets it; suspended connections
     * are exempt) is a backstop a second beyond the idle timeout, so that conns'
     * absolute deadlines act first and a phase whose deadline is off (0) still ends
     * after that much silence. */
    unsigned idle_s = lim->idle_ns ? (unsigned)((lim->idle_ns + CONNS_SECOND - 1) / CONNS_SECOND) + 1 : 0;
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, w,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, w,
                            MHD_OPTION_URI_LOG_CALLBACK, on_request_line, w,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, w,
                            MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
                            /* conns enforces the limit; libmicrohttpd must never refuse silently */
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)lim->max + 16,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                            MHD_OPTION_END);
}

/* Stops the deferral thread if it runs; what it still holds is answered first. */
static void stop_defer_thread(void)
{
    if (!defer_thread_started) return;
    pthread_mutex_lock(&defer_lock);
    defer_shutdown = 1;
    pthread_cond_signal(&defer_cond);
    pthread_mutex_unlock(&defer_lock);
    pthread_join(defer_thread, NULL);
    pthread_cond_destroy(&defer_cond);
    defer_thread_started = 0;
}

/* Undoes whatever of server_start has happened, acceptor excepted. */
static void release_all(void)
{
    stop_defer_thread();   /* first: it resumes connections on the workers */
    for (int i = 0; i < nworkers; i++) MHD_stop_daemon(workers[i].daemon);
    nworkers = 0;
    conns_stop();
    reqgate_stop();
    if (listen_fd >= 0) close(listen_fd);
    listen_fd = -1;
}

/* Starts everything but the acceptor; -1 (said on stderr) if any part fails. */
static int start_parts(const char *addr, int threads, struct conns_limits *lim, const struct server_config *cfg,
                       char *url, size_t url_n)
{
    config = *cfg;
    listen_fd = bind_listener(addr, url, url_n);
    if (listen_fd < 0 || conns_start(lim) < 0) return -1;
    if (reqgate_start(conns_table_size()) < 0) { fprintf(stderr, "%s: out of memory for the request gate\n", who()); return -1; }
    reqgate_on_refusal = count_refusal;
    if (start_defer_thread() < 0) { fprintf(stderr, "%s: cannot start the deferral thread\n", who()); return -1; }
    if (threads > SERVER_MAX_THREADS) threads = SERVER_MAX_THREADS;
    for (nworkers = 0; nworkers < threads; nworkers++) {
        workers[nworkers].daemon = start_worker(&workers[nworkers], lim);
        if (!workers[nworkers].daemon) {
            fprintf(stderr, "%s: libmicrohttpd could not start worker %d\n", who(), nworkers);
            return -1;
        }
    }
    return 0;
}

int server_start(const char *addr, int threads, struct conns_limits *lim, const struct server_config *cfg,
                 char *url, size_t url_n)
{
    atomic_store(&stopping, 0);
    defer_shutdown = 0;
    if (start_parts(addr, threads, lim, cfg, url, url_n) < 0) {
        release_all();
        return -1;
    }
    if (pthread_create(&acceptor, NULL, accept_loop, NULL) != 0) {
        fprintf(stderr, "%s: cannot start the acceptor thread\n", who());
        release_all();
        return -1;
    }
    acceptor_started = 1;
    return 0;
}

void server_stop(double grace_seconds)
{
    if (!acceptor_started) return;
    atomic_store(&stopping, 1);
    shutdown(listen_fd, SHUT_RDWR);   /* wakes the acceptor, which then exits */
    pthread_join(acceptor, NULL);
    acceptor_started = 0;
    pthread_mutex_lock(&defer_lock);
    defer_shutdown = 1;               /* deferred requests are answered now */
    pthread_cond_signal(&defer_cond);
    pthread_mutex_unlock(&defer_lock);
    uint64_t until = clock_mono_in(grace_seconds);
    while (atomic_load(&in_flight) > 0 && clock_mono_ns() < until) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);   /* EINTR from collections only shortens a 10 ms step */
    }
    release_all();
}
