/* server: libmicrohttpd behind src/http.h. See server.h.
 *
 * Threading: one acceptor thread accepts connections and hands each to the least
 * loaded of `threads` worker daemons (libmicrohttpd, each one thread with its own epoll
 * set), which then serves all of that connection's requests. Workers register
 * with the collector on their first request (gcthreads_enter). Per-request state is
 * malloc'd and holds no GC pointers; response bodies are malloc'd buffers that
 * libmicrohttpd frees.
 *
 * Deferred requests (http_defer) suspend their connection; the deferral thread polls
 * every DEFER_TICK_MS for deadlines and for clients that hung up, runs their prepare
 * step (heavy work such as writing a trace, kept off the workers), and resumes them;
 * libmicrohttpd then calls the access handler again on the worker, which runs the
 * resume callback. If libmicrohttpd completes a deferred request without that call
 * (the client vanished), the completion hook runs the callback with client_gone = 1,
 * so deferred state is always released.
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
#include "gc/gcthreads.h"
#include "profile/sampler.h"
#include "profile/trace.h"
#include "src/http.h"
#include "src/reqstats.h"
#include "src/routes.h"

#define MAX_BODY (1u << 20)
#define MAX_EXTRA_HEADERS 8
#define DEFER_TICK_MS 50

struct http_request {
    struct MHD_Connection *conn;
    const char *method, *path;
    struct buf body;
    int body_too_large;
    int answered, status;
    int completed;                  /* libmicrohttpd is done with it: answers are dropped */
    struct { char *name, *value; } headers[MAX_EXTRA_HEADERS];
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
    /* request statistics (reqstats) */
    const struct route *route;
    uint64_t started_ns;
    int counted;
};

#define SERVER_MAX_CONNECTIONS 10000   /* per worker; libmicrohttpd's default is ~1000 */

static struct MHD_Daemon *workers[SERVER_MAX_THREADS];
static int nworkers;
static int listen_fd = -1;
static pthread_t acceptor;
static int acceptor_started;
static _Atomic long in_flight;
static _Atomic int stopping;   /* answers close their connection: keep-alive ends */

static pthread_mutex_t defer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t defer_cond;
static struct http_request *defer_list;
static int defer_shutdown, defer_thread_started;
static pthread_t defer_thread;

/* ---- the request interface ------------------------------------------------------ */

const char *http_method(const struct http_request *r) { return r->method; }
const char *http_path(const struct http_request *r) { return r->path; }

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

int http_add_header(struct http_request *r, const char *name, const char *value)
{
    if (r->nheaders == MAX_EXTRA_HEADERS) return -1;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) { free(n); free(v); return -1; }
    r->headers[r->nheaders].name = n;
    r->headers[r->nheaders].value = v;
    r->nheaders++;
    return 0;
}

static void drop_headers(struct http_request *r)
{
    for (int i = 0; i < r->nheaders; i++) { free(r->headers[i].name); free(r->headers[i].value); }
    r->nheaders = 0;
}

/* Queues data (malloc'd, taken) as the answer. */
static void queue_answer(struct http_request *r, int status, const char *ctype, char *data, size_t len)
{
    r->answered = 1;
    r->status = status;
    if (r->completed) { free(data); drop_headers(r); return; }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) { free(data); drop_headers(r); return; }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    for (int i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    if (atomic_load_explicit(&stopping, memory_order_relaxed))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    drop_headers(r);
    MHD_queue_response(r->conn, (unsigned)status, resp);
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

int http_defer(struct http_request *r, double seconds, http_prepare_fn prepare,
               http_resume_fn resume, void *state)
{
    if (r->answered || r->deferred || !defer_thread_started) return -1;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return -1;
    if (seconds < 0) seconds = 0;
    r->fd = ci->connect_fd;
    r->prepare = prepare;
    r->resume = resume;
    r->resume_state = state;
    r->deadline_ns = clock_mono_ns() + (uint64_t)(seconds * 1e9);
    r->client_gone = 0;
    pthread_mutex_lock(&defer_lock);
    if (defer_shutdown) {   /* the deferral thread is finishing: nobody would resume us */
        pthread_mutex_unlock(&defer_lock);
        r->resume = NULL;
        r->resume_state = NULL;
        return -1;
    }
    r->deferred = 1;
    MHD_suspend_connection(r->conn);
    r->defer_next = defer_list;
    defer_list = r;
    pthread_cond_signal(&defer_cond);
    pthread_mutex_unlock(&defer_lock);
    return 0;
}

/* ---- deferral thread -------------------------------------------------------------- */

static int client_hung_up(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Resumes every deferred request that is due (deadline, hang-up, or shutdown).
 * Called with defer_lock held. */
/* Unlinks every deferred request that is due (deadline, hang-up, or shutdown) and
 * returns them as a list. Called with defer_lock held. */
static struct http_request *take_due(void)
{
    uint64_t now = clock_mono_ns();
    struct http_request **pp = &defer_list, *due = NULL;
    while (*pp) {
        struct http_request *r = *pp;
        int gone = client_hung_up(r->fd);
        if (gone || defer_shutdown || now >= r->deadline_ns) {   /* shutdown: answer early */
            *pp = r->defer_next;
            r->client_gone = gone;
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
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += DEFER_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        if (defer_list) pthread_cond_timedwait(&defer_cond, &defer_lock, &ts);
        else if (!defer_shutdown) pthread_cond_wait(&defer_cond, &defer_lock);
    }
    pthread_mutex_unlock(&defer_lock);
    return NULL;
}

static int start_defer_thread(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&defer_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&defer_thread, NULL, defer_loop, NULL) != 0) return -1;
    defer_thread_started = 1;
    return 0;
}

/* ---- dispatch --------------------------------------------------------------------- */

static void run_resume(struct http_request *r)
{
    r->deferred = 0;
    r->resume(r, r->client_gone, r->resume_state);
    if (!r->answered && !r->deferred) http_respond_text(r, 503, "request abandoned: %s",
                                        defer_shutdown ? "server shutting down" : "client went away");
}

/* Answers 405 for a method route rt does not serve, in its error style. */
static void refuse_method(struct http_request *r, const struct route *rt)
{
    char allow[64];
    routes_allow_header(rt, allow, sizeof allow);
    http_add_header(r, "Allow", allow);
    if (rt->pprof_errors)
        http_respond_pprof_error(r, 405, "Method Not Allowed: %s %s (allowed: %s)", r->method, r->path, allow);
    else
        http_respond_text(r, 405, "Method Not Allowed: %s %s (allowed: %s)", r->method, r->path, allow);
}

/* Counts the request once it has its answer (a deferred one when its resume answers). */
static void count_answer(struct http_request *r)
{
    if (!r->answered || r->counted) return;
    r->counted = 1;
    reqstats_record(r->route, r->status, clock_mono_ns() - r->started_ns);
}

static void dispatch(struct http_request *r)
{
    const struct route *rt = routes_find(r->path);
    r->route = rt;
    r->started_ns = clock_mono_ns();
    if (!rt) { http_respond_text(r, 404, "404 page not found: %s", r->path); return; }
    if (!routes_allows(rt, r->method)) { refuse_method(r, rt); return; }
    if (r->body_too_large) { http_respond_text(r, 413, "request body over %u bytes", MAX_BODY); return; }
    if (rt->trace_name) trace_request_begin(rt->trace_name);
    sampler_set_label("route", rt->path);   /* heap samples name the route (pprof -tagfocus) */
    rt->handler(r);
    sampler_set_label(NULL, NULL);
    /* Here, not at completion: by then this thread may have begun another request. */
    if (rt->trace_name) trace_request_end(r->answered ? r->status : 0);
    if (!r->answered && !r->deferred) http_respond_text(r, 500, "handler for %s gave no answer", r->path);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)cls; (void)version;
    if (gcthreads_enter() < 0) return MHD_NO;
    struct http_request *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->conn = conn;
        r->method = method;
        r->path = url;
        r->fd = -1;
        *con_cls = r;
        atomic_fetch_add(&in_flight, 1);
        /* Answer on a later call: libmicrohttpd 0.9.75 closes the connection after a
         * response queued on the first call, which would defeat keep-alive. */
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->answered && !r->body_too_large) {
            if (r->body.len + *upload_size > MAX_BODY) r->body_too_large = 1;
            else buf_append(&r->body, upload, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->resume && !r->answered) run_resume(r);
    else if (!r->answered) dispatch(r);
    count_answer(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)conn; (void)toe;
    struct http_request *r = *con_cls;
    if (!r) return;
    r->completed = 1;
    if (r->deferred) {   /* closed while suspended or before the resume ran */
        r->client_gone = 1;
        run_resume(r);
        count_answer(r);
    }
    drop_headers(r);
    buf_free(&r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&in_flight, 1);
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
        fprintf(stderr, "memdemo: cannot parse -addr \"%s\": want HOST:PORT, e.g. localhost:8080 or :8080\n", addr);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res, *ai;
    /* "localhost" is loopback by definition (RFC 6761); do not depend on /etc/hosts,
     * which minimal systems and containers may lack. IPv4, as Go listens there. */
    if (strcasecmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc) { fprintf(stderr, "memdemo: cannot resolve -addr \"%s\": %s\n", addr, gai_strerror(rc)); return -1; }
    ai = res;
    for (struct addrinfo *a = res; a; a = a->ai_next) if (a->ai_family == AF_INET) { ai = a; break; }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        fprintf(stderr, "memdemo: cannot listen on %s: %s\n", addr, strerror(errno));
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

/* The acceptor: one thread blocks in accept() and hands connections to the worker
 * daemons in turn. libmicrohttpd's own thread pool lets whichever worker wakes first
 * accept every pending connection, which can leave one core idle under a load tool's
 * burst of connections. (Round robin rather than fewest-connections: libmicrohttpd
 * counts an added connection only once its worker has picked it up, so during a burst
 * every worker looks empty.) */
static void *accept_loop(void *unused)
{
    (void)unused;
    int next_worker = 0;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (atomic_load(&stopping)) break;   /* listen socket shut down: server_stop() */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                struct timespec ts = {0, 10 * 1000000L};   /* out of descriptors: back off */
                nanosleep(&ts, NULL);
            }
            continue;   /* EINTR, ECONNABORTED, EPROTO, ...: the next connection may be fine */
        }
        struct MHD_Daemon *worker = workers[next_worker];
        next_worker = (next_worker + 1) % nworkers;
        MHD_add_connection(worker, fd, (struct sockaddr *)&ss, sl);   /* closes fd itself on failure */
    }
    return NULL;
}

int server_start(const char *addr, int threads, char *url, size_t url_n)
{
    listen_fd = bind_listener(addr, url, url_n);
    if (listen_fd < 0) return -1;
    if (start_defer_thread() < 0) { fprintf(stderr, "memdemo: cannot start the deferral thread\n"); return -1; }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (threads > SERVER_MAX_THREADS) threads = SERVER_MAX_THREADS;
    for (nworkers = 0; nworkers < threads; nworkers++) {
        workers[nworkers] = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
                                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVER_MAX_CONNECTIONS,
                                             MHD_OPTION_END);
        if (!workers[nworkers]) {
            fprintf(stderr, "memdemo: libmicrohttpd could not start worker %d\n", nworkers);
            return -1;
        }
    }
    if (pthread_create(&acceptor, NULL, accept_loop, NULL) != 0) {
        fprintf(stderr, "memdemo: cannot start the acceptor thread\n");
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
    close(listen_fd);
    acceptor_started = 0;
    pthread_mutex_lock(&defer_lock);
    defer_shutdown = 1;
    pthread_cond_signal(&defer_cond);
    pthread_mutex_unlock(&defer_lock);
    uint64_t until = clock_mono_ns() + (uint64_t)(grace_seconds * 1e9);
    while (atomic_load(&in_flight) > 0 && clock_mono_ns() < until) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);   /* EINTR from collections only shortens a 10 ms step */
    }
    pthread_join(defer_thread, NULL);
    for (int i = 0; i < nworkers; i++) MHD_stop_daemon(workers[i]);
    nworkers = 0;
}
