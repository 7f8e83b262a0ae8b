/* http: the request/response interface every handler in memdemo is written against,
 * implemented over libmicrohttpd by src/server.c.
 *
 * Owns: what a handler may ask of a request (method, path, query, body) and the ways
 * it may answer (a buffer, a one-line text error, a pprof-style error, or later, after
 * a deferral). Leaves routing to src/routes.c and libmicrohttpd specifics to server.c.
 *
 * Threading: a handler runs on a libmicrohttpd worker thread that is registered with
 * the collector (gcthreads); it may allocate GC memory, but no GC pointer may be stored
 * in the request or in any response body (bodies are malloc'd copies).
 * Every handler call must answer exactly once: respond, or defer (then the resume
 * callback answers). A handler that does neither gets a 500 from the server.
 */
#ifndef MEMDEMO_HTTP_H
#define MEMDEMO_HTTP_H

#include <stddef.h>

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

/* Adds a response header; call before answering. Returns 0 or -1. */
int http_add_header(struct http_request *req, const char *name, const char *value);

/* Answers with `status`, `content_type` and the bytes of *body, which this takes
 * (body is left empty). For HEAD the body is not sent but Content-Length is right.
 * If body->failed, answers 500 "out of memory" instead. */
void http_respond(struct http_request *req, int status, const char *content_type,
                  struct buf *body);

/* Answers text/plain with one line (a newline is added). For errors and small replies. */
void http_respond_text(struct http_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answers like Go's net/http/pprof serveError: text/plain, X-Go-Pprof: 1,
 * X-Content-Type-Options: nosniff, one line. go tool pprof shows that line. */
void http_respond_pprof_error(struct http_request *req, int status, const char *fmt, ...)
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

#endif
