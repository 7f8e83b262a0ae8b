/* debug_http: /debug parameters and answers. See debug_http.h.
 *
 * Every 400 about a parameter comes from the message table below, so the same bad
 * value gets the same answer from every endpoint (heap, mutex, block and the CPU
 * profile once each said something else about ?seconds).
 */
#include "src/debug_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "src/numparse.h"

enum message { BAD_INT, BAD_SECONDS, LONG_SECONDS, SECONDS_WITH_DEBUG, NO_SECONDS };

static const char *const messages[] = {
    [BAD_INT] = "invalid value for \"%s\": must be a decimal integer from %lld to %lld",
    [BAD_SECONDS] = "invalid value for \"seconds\": must be a positive integer",
    [LONG_SECONDS] = "invalid value for \"seconds\": at most %d (the longest window the server keeps open)",
    [SECONDS_WITH_DEBUG] = "seconds and debug params are incompatible",
    [NO_SECONDS] = "\"seconds\" parameter is not supported for this profile type",
};

/* Writes messages[m] with its arguments into why; returns -1 for the caller to pass on. */
static int say(char *why, size_t n, enum message m, ...)
{
    va_list ap;
    va_start(ap, m);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(why, n, messages[m], ap);
#pragma GCC diagnostic pop
    va_end(ap);
    return -1;
}

int debug_http_int(const char *key, const char *v, long long dflt, long long lo, long long hi, long long *out,
                   char *why, size_t n)
{
    int64_t x;
    *out = dflt;
    if (!v) return 0;
    if (numparse_decimal(v, strlen(v), lo, hi, &x) != NUMPARSE_OK) return say(why, n, BAD_INT, key, lo, hi);
    *out = x;
    return 0;
}

/* ?seconds= by `rule` into *out (dflt when absent). */
static int parse_seconds(enum debug_seconds_rule rule, const char *v, double dflt, double *out, char *why, size_t n)
{
    *out = dflt;
    if (!v) return 0;
    if (rule == DEBUG_SECONDS_NONE) return say(why, n, NO_SECONDS);
    if (rule == DEBUG_SECONDS_FLOAT) {   /* Go's trace: what ParseFloat cannot read, or <= 0, means the default */
        double x;
        if (numparse_go_float(v, strlen(v), &x) == NUMPARSE_OK && x > 0) *out = x;
        if (*out > DEBUG_HTTP_MAX_SECONDS) return say(why, n, LONG_SECONDS, DEBUG_HTTP_MAX_SECONDS);
        return 0;
    }
    int64_t x;
    int rc = numparse_decimal(v, strlen(v), 0, INT64_MAX, &x);
    if (rc == NUMPARSE_SYNTAX || (rc == NUMPARSE_OK && x == 0)) return say(why, n, BAD_SECONDS);
    if (rc != NUMPARSE_OK || x > DEBUG_HTTP_MAX_SECONDS) return say(why, n, LONG_SECONDS, DEBUG_HTTP_MAX_SECONDS);
    *out = (double)x;
    return 0;
}

int debug_http_parse(const struct debug_param_rules *rules, const char *gc, const char *debug,
                     const char *seconds, struct debug_params *out, char *why, size_t n)
{
    memset(out, 0, sizeof *out);
    if (rules->gc && debug_http_int("gc", gc, 0, 0, DEBUG_HTTP_MAX_LEVEL, &out->gc, why, n) < 0) return -1;
    if (rules->debug && debug_http_int("debug", debug, 0, 0, DEBUG_HTTP_MAX_LEVEL, &out->debug, why, n) < 0)
        return -1;
    if (rules->debug && out->debug && seconds && rules->seconds != DEBUG_SECONDS_NONE)
        return say(why, n, SECONDS_WITH_DEBUG);
    return parse_seconds(rules->seconds, seconds, rules->default_seconds, &out->seconds, why, n);
}

int debug_http_params(struct http_request *req, const struct debug_param_rules *rules,
                      struct debug_params *out, char *why, size_t n)
{
    return debug_http_parse(rules, http_query(req, "gc"), http_query(req, "debug"), http_query(req, "seconds"),
                            out, why, n);
}

/* ---- the command line ----------------------------------------------------------------- */

static char **cmd_argv;
static int cmd_argc;

void debug_http_set_cmdline(int argc, char **argv) { cmd_argc = argc; cmd_argv = argv; }

char **debug_http_cmdline(int *argc)
{
    *argc = cmd_argc;
    return cmd_argv;
}

/* ---- answers ------------------------------------------------------------------------ */

void debug_http_error(struct http_request *req, int status, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    buf_putc(&b, '\n');
    http_add_header(req, "X-Go-Pprof", "1");
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_respond(req, status, "text/plain; charset=utf-8", &b);
}

void debug_http_refuse(struct http_request *req, int status, const char *line)
{
    debug_http_error(req, status, "%s", line);
}

void debug_http_attachment(struct http_request *req, const char *filename)
{
    char v[128];
    snprintf(v, sizeof v, "attachment; filename=\"%s\"", filename);
    http_add_header(req, "Content-Disposition", v);
    http_add_header(req, "X-Content-Type-Options", "nosniff");
}

void debug_http_text(struct http_request *req, struct buf *b)
{
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_respond(req, 200, "text/plain; charset=utf-8", b);
}
