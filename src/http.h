/* http: the request/response interface every handler is written against, and what a
 * program hands the server (src/server.h) to serve: a router and request hooks.
 * Implemented over libmicrohttpd by src/server.c.
 *
 * Owns: what a handler may ask of a request (method, path, query, body, the route
 * that matched) and the ways it may answer (a buffer, a one-line text error, or
 * later, after a deferral); the router's contract (a method and path in, a handler or
 * a 404/405 with its Allow list out) and the hooks around each request. Knows no
 * endpoint: the table router is src/router.c, the tables belong to their layers
 * (src/debug_surface.c, src/routes.c), error styles other than plain text to them.
 *
 * Threading: a handler runs on a server worker thread. The worker may allocate GC
 * memory only if the program's thread_enter hook registered it with the collector
 * (memdemo's does: gcthreads_enter); no GC pointer may be stored in the request or in
 * any response body (bodies are malloc'd copies).
 * Every handler call must answer exactly once: respond, or defer (then the resume
 * callback answers). A handler that does neither gets a 500 from the server.
 */
#ifndef MEMDEMO_HTTP_H
#define MEMDEMO_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "profile/buf.h"

struct http_request;

typedef void (*http_handler_fn)(struct http_request *req);

const char *http_method(const struct http_request *req);  /* "GET", "HEAD", "POST"... */
const char *http_path(const struct http_request *req);
/* The value of query parameter `key` (URL-decoded), "" if present without a value,
 * NULL if absent. */
const char *http_query(const struct http_request *req, const char *key);
/* The value of request header `name` (case-insensitive), NULL if absent. Valid until
 * the request is answered. */
const char *http_header(const struct http_request *req, const char *name);
/* The first query parameter's name (URL-decoded: '+' reads as a space), or NULL when
 * the URL has no query. For queries that are a bare list, like
 * /debug/pprof/symbol?0x1+0x2. */
const char *http_query_first_key(const struct http_request *req);

/* The request body (POST), NUL-terminated; NULL and *len = 0 when there is none.
 * Bodies over 1 MiB are refused by the server with 413 before the handler runs. */
const char *http_body(const struct http_request *req, size_t *len);

/* The router's entry that matched this request (struct http_match.route). A handler
 * that serves several rows of one table (a profile per row) reads its row here. */
const void *http_route(const struct http_request *req);

/* Headers an answer may carry besides Content-Type (and Connection at shutdown). */
#define HTTP_MAX_HEADERS 8

/* Adds a response header; call before answering. Cannot fail at the call site: a
 * header the server cannot keep (past HTTP_MAX_HEADERS, or no memory for a copy) is
 * dropped and counted (server_stats: /debug/vars shows http.headers_dropped). */
void http_add_header(struct http_request *req, const char *name, const char *value);

/* Answers with `status`, `content_type` and the bytes of *body, which this takes
 * (body is left empty). For HEAD the body is not sent but Content-Length is right.
 * If body->failed, answers 500 "out of memory" instead. */
void http_respond(struct http_request *req, int status, const char *content_type,
                  struct buf *body);

/* Answers text/plain with one line (a newline is added). For errors and small replies. */
void http_respond_text(struct http_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Deferral: the handler needs to wait (a trace window, a delta profile) without
 * blocking the worker thread, which goes on serving other connections.
 * After `seconds`, earlier when the server shuts down (the window is cut short:
 * client_gone = 0), or when the client disconnects (client_gone = 1),
 * `resume(req, client_gone, state)` is called on a worker thread and must answer (or,
 * if client_gone, may just free its state; the server then closes the connection).
 * Returns 0, or -1 if deferral is impossible, e.g. during shutdown (the handler must
 * then answer itself and keep ownership of state). */
typedef void (*http_resume_fn)(struct http_request *req, int client_gone, void *state);
/* Optional heavy work for when the window ends, run before resume on the server's
 * deferral thread, not on a worker, so it delays no other client. That thread is not
 * registered with the collector: prepare must not touch GC memory nor call gc/
 * functions that allocate or lock it. */
typedef void (*http_prepare_fn)(int client_gone, void *state);
int http_defer(struct http_request *req, double seconds, http_prepare_fn prepare,
               http_resume_fn resume, void *state);

/* ---- routing: what server_start is given ---------------------------------------- */

/* Answers a refusal in a route's own style (status and one line of text); e.g. the
 * /debug layer answers as net/http/pprof does, which go tool pprof shows. */
typedef void (*http_error_fn)(struct http_request *req, int status, const char *line);

/* What a router says about a request. The server answers 404 when route is NULL, 405
 * (with Allow) when route is set but handler is NULL, and runs handler otherwise. */
struct http_match {
    const void *route;         /* the router's entry for the path (hooks, http_route) */
    http_handler_fn handler;   /* NULL: the method is not allowed on route */
    http_error_fn refuse;      /* how this route's 404/405 is answered; NULL: text/plain */
    char allow[32];            /* for 405: the Allow header, e.g. "GET, HEAD, POST" */
};

/* Fills *m (zeroed by the caller) for `method` and `path`. Called on worker threads,
 * before the body is read and again at dispatch: pure, no lock, no allocation. */
typedef void (*http_router_fn)(const void *router, const char *method, const char *path,
                               struct http_match *m);

/* Hooks around each request, all optional (NULL), each called on the request's
 * worker thread. They are how a program adds what the server does not know of:
 * registering workers with the collector, naming a request in profiles and traces,
 * counting it. */
struct http_hooks {
    /* On each worker before the first callback that may run a handler. Returns 0, or
     * -1 when the thread cannot serve (the connection is then dropped, and the hook
     * asked again next time). A program whose handlers allocate GC memory passes
     * gcthreads_enter. */
    int (*thread_enter)(void);
    /* Right before the handler runs, and right after it returns (status: its answer,
     * or 0 when it deferred). Not called for requests the router refused. */
    void (*before)(struct http_request *req, const void *route);
    void (*after)(struct http_request *req, const void *route, int status);
    /* Once per request that reached dispatch, when its answer is queued (a deferred
     * one when its resume answers); router refusals included (route NULL for a 404).
     * duration_ns runs from dispatch to the answer. */
    void (*answered)(const void *route, int status, uint64_t duration_ns);
};

#endif
