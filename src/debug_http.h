/* debug_http: what every /debug endpoint shares: the one parser of its query
 * parameters (gc, debug, seconds, and a switch's rate) with the one set of messages a
 * bad value gets, and Go's way of answering (net/http/pprof's error style, profile
 * downloads as attachments).
 *
 * Owns: the grammar and range of each parameter, the text of every 400 about one, the
 * command line the endpoints show, and the headers go tool pprof looks at (an error body is shown only when it is
 * text/plain with X-Go-Pprof: 1). Leaves the endpoints to src/debug_pprof.c,
 * src/debug_switches.c and src/debug_vars.c.
 *
 * The parsers are pure (strings in, a value or a one-line reason out: tests call them
 * without a server); the request forms read http_query. Handlers' rules: src/http.h.
 */
#ifndef MEMDEMO_DEBUG_HTTP_H
#define MEMDEMO_DEBUG_HTTP_H

#include <stddef.h>

#include "src/http.h"

/* Longest window ?seconds=N opens (every windowed profile and the trace). */
#define DEBUG_HTTP_MAX_SECONDS 600
/* Largest ?gc= and ?debug= (Go reads any int; these are plenty). */
#define DEBUG_HTTP_MAX_LEVEL 1000000
/* Room for a parser's reason (a message with a parameter name and two numbers). */
#define DEBUG_HTTP_WHY 160

/* How an endpoint reads ?seconds=. */
enum debug_seconds_rule {
    DEBUG_SECONDS_NONE,    /* refused: "not supported for this profile type" */
    DEBUG_SECONDS_INT,     /* a positive decimal integer, at most DEBUG_HTTP_MAX_SECONDS */
    DEBUG_SECONDS_FLOAT    /* Go's trace rule: strconv.ParseFloat; unreadable or <= 0 means
                              the default; above DEBUG_HTTP_MAX_SECONDS refused */
};

struct debug_param_rules {
    int gc;                        /* ?gc= is read (0..DEBUG_HTTP_MAX_LEVEL) */
    int debug;                     /* ?debug= is read (same); with seconds: refused */
    enum debug_seconds_rule seconds;
    double default_seconds;        /* when absent (0: no window) */
};

struct debug_params {
    long long gc, debug;           /* 0 when not read or absent */
    double seconds;                /* 0: no window */
};

/* Parses the three values (NULL: absent) by `rules` into *out. Returns 0, or -1 with
 * a one-line reason in why (size n). Pure. */
int debug_http_parse(const struct debug_param_rules *rules, const char *gc, const char *debug,
                     const char *seconds, struct debug_params *out, char *why, size_t n);

/* The same, reading the request's query. */
int debug_http_params(struct http_request *req, const struct debug_param_rules *rules,
                      struct debug_params *out, char *why, size_t n);

/* Integer parameter `key` with value v (NULL: absent -> dflt): plain decimal digits
 * in [lo, hi]. Returns 0, or -1 with the reason in why (size n). Pure. */
int debug_http_int(const char *key, const char *v, long long dflt, long long lo, long long hi, long long *out,
                   char *why, size_t n);

/* The command line /debug/pprof/cmdline and /debug/vars show. set: main thread, at
 * start; argv must outlive the server. get: any thread; *argc = 0 until set. */
void debug_http_set_cmdline(int argc, char **argv);
char **debug_http_cmdline(int *argc);

/* Answers as Go's net/http/pprof serveError: text/plain, X-Go-Pprof: 1,
 * X-Content-Type-Options: nosniff, one line. go tool pprof shows that line. */
void debug_http_error(struct http_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* debug_http_error as an http_error_fn: the refusal style of the /debug rows. */
void debug_http_refuse(struct http_request *req, int status, const char *line);

/* Adds Go's headers of a profile download: Content-Disposition attachment with this
 * file name, X-Content-Type-Options: nosniff. */
void debug_http_attachment(struct http_request *req, const char *filename);

/* Answers 200 with *b (taken) as text/plain with X-Content-Type-Options: nosniff. */
void debug_http_text(struct http_request *req, struct buf *b);

#endif
