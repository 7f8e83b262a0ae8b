/* debug_profiles: /debug/pprof/{profile,goroutine,threadcreate,mutex,block} and the
 * mutex and block switches. See debug_profiles.h.
 *
 * Answers follow Go 1.19's net/http/pprof: the same parameters, status codes and
 * messages (500 "Could not enable CPU profiling: cpu profiling already in use" for a
 * second CPU profile), X-Content-Type-Options: nosniff, and Content-Disposition:
 * attachment; filename="NAME" on binary profiles. Where Go silently reads a malformed
 * seconds or debug as a default, memdemo answers 400 and says what it takes, as its
 * heap endpoint does.
 */
#include "src/debug_profiles.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc/clock.h"
#include "profile/cpuprof.h"
#include "profile/lockprof.h"
#include "profile/threads.h"
#include "src/debug_pprof.h"

/* ---- parameters ------------------------------------------------------------------ */

/* ?seconds=N for a window: absent -> dflt (0: no window); otherwise a positive integer
 * that fits the server's longest window. Returns 0, or -1 after answering 400. */
static int seconds_param(struct http_request *req, long long dflt, long long *out)
{
    const char *v = http_query(req, "seconds");
    *out = dflt;
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || (errno && errno != ERANGE) || x <= 0) {
        http_respond_pprof_error(req, 400, "invalid value for \"seconds\": must be a positive integer");
        return -1;
    }
    if (errno == ERANGE || x > DEBUG_PPROF_MAX_SECONDS) {
        http_respond_pprof_error(req, 400, "profile duration exceeds server's WriteTimeout "
                                 "(memdemo's longest window is %d s)", DEBUG_PPROF_MAX_SECONDS);
        return -1;
    }
    *out = x;
    return 0;
}

static void answer_binary(struct http_request *req, const char *filename, struct buf *b)
{
    debug_pprof_attachment(req, filename);
    http_respond(req, 200, "application/octet-stream", b);
}

static void answer_text(struct http_request *req, struct buf *b)
{
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_respond(req, 200, "text/plain; charset=utf-8", b);
}

/* ---- CPU profile ------------------------------------------------------------------- */

struct cpu_window { struct buf out; int rc, err; };

/* On the deferral thread (cpuprof touches no GC memory): stopping and symbolizing a
 * window takes milliseconds that no worker should spend. */
static void stop_cpu(int client_gone, void *state)
{
    struct cpu_window *w = state;
    if (client_gone) { cpuprof_cancel(); return; }
    w->rc = cpuprof_stop(&w->out);
    w->err = errno;
}

static void finish_cpu(struct http_request *req, int client_gone, void *state)
{
    struct cpu_window *w = state;
    if (client_gone || w->rc < 0) {
        buf_free(&w->out);
        if (!client_gone) http_respond_pprof_error(req, 500, "Could not write the CPU profile: %s", strerror(w->err));
    } else {
        answer_binary(req, "profile", &w->out);
    }
    free(w);
}

void debug_profiles_cpu(struct http_request *req)
{
    long long seconds;
    if (seconds_param(req, DEBUG_PROFILES_CPU_DEFAULT_SECONDS, &seconds) < 0) return;
    struct cpu_window *w = calloc(1, sizeof *w);
    if (!w) { http_respond_pprof_error(req, 500, "Could not enable CPU profiling: out of memory"); return; }
    if (cpuprof_start() < 0) {
        int err = errno;
        free(w);
        if (err == EBUSY) http_respond_pprof_error(req, 500, "Could not enable CPU profiling: cpu profiling already in use");
        else http_respond_pprof_error(req, 500, "Could not enable CPU profiling: %s", strerror(err));
        return;
    }
    if (http_defer(req, (double)seconds, stop_cpu, finish_cpu, w) < 0) {
        cpuprof_cancel();
        free(w);
        http_respond_pprof_error(req, 500, "Could not enable CPU profiling: cannot wait for the window");
    }
}

/* ---- goroutine and threadcreate ---------------------------------------------------- */

static int no_seconds(struct http_request *req)
{
    if (!http_query(req, "seconds")) return 0;
    http_respond_pprof_error(req, 400, "\"seconds\" parameter is not supported for this profile type");
    return -1;
}

void debug_profiles_goroutine(struct http_request *req)
{
    long long debug;
    if (debug_pprof_int_param(req, "debug", 0, 0, 1000000, &debug) < 0 || no_seconds(req) < 0) return;
    struct threads_snapshot s;
    if (threads_capture(&s) < 0) {
        http_respond_pprof_error(req, 500, "could not list the threads: %s", strerror(errno));
        return;
    }
    struct buf b = BUF_INIT;
    int rc = threads_write_goroutine(&b, &s, (int)(debug > 2 ? 2 : debug));
    threads_snapshot_free(&s);
    if (rc < 0) { buf_free(&b); http_respond_pprof_error(req, 500, "could not write the goroutine profile"); return; }
    if (debug) answer_text(req, &b);
    else answer_binary(req, "goroutine", &b);
}

void debug_profiles_threadcreate(struct http_request *req)
{
    long long debug;
    if (debug_pprof_int_param(req, "debug", 0, 0, 1000000, &debug) < 0 || no_seconds(req) < 0) return;
    struct buf b = BUF_INIT;
    if (threads_write_threadcreate(&b, (int)debug) < 0) {
        buf_free(&b);
        http_respond_pprof_error(req, 500, "could not write the threadcreate profile");
        return;
    }
    if (debug) answer_text(req, &b);
    else answer_binary(req, "threadcreate", &b);
}

/* ---- mutex and block ----------------------------------------------------------------- */

static const char *const kind_name[] = {[LOCKPROF_MUTEX] = "mutex", [LOCKPROF_BLOCK] = "block"};

/* Writes snapshot s (taken) and answers. */
static void answer_lock_profile(struct http_request *req, struct lockprof_snapshot *s, int debug,
                                int64_t duration_ns)
{
    struct buf b = BUF_INIT;
    int rc = lockprof_write(&b, s, debug, duration_ns);
    const char *name = kind_name[s->kind];
    lockprof_snapshot_free(s);
    if (rc < 0) { buf_free(&b); http_respond_pprof_error(req, 500, "could not write the %s profile", name); return; }
    if (debug) { answer_text(req, &b); return; }
    char file[32];
    snprintf(file, sizeof file, "%s%s", name, duration_ns ? "-delta" : "");
    answer_binary(req, file, &b);
}

struct lock_window { struct lockprof_snapshot start; uint64_t started_ns; };

static void finish_lock_delta(struct http_request *req, int client_gone, void *state)
{
    struct lock_window *w = state;
    if (!client_gone) {
        struct lockprof_snapshot end;
        if (lockprof_snapshot(w->start.kind, &end) < 0) {
            http_respond_pprof_error(req, 500, "out of memory taking the profile");
        } else {
            lockprof_snapshot_delta(&end, &w->start);
            answer_lock_profile(req, &end, 0, (int64_t)(clock_mono_ns() - w->started_ns));
        }
    }
    lockprof_snapshot_free(&w->start);
    free(w);
}

static void serve_lock_delta(struct http_request *req, enum lockprof_kind kind, long long seconds)
{
    struct lock_window *w = calloc(1, sizeof *w);
    if (!w || lockprof_snapshot(kind, &w->start) < 0) {
        free(w);
        http_respond_pprof_error(req, 500, "out of memory taking the profile");
        return;
    }
    w->started_ns = clock_mono_ns();
    if (http_defer(req, (double)seconds, NULL, finish_lock_delta, w) < 0) {
        lockprof_snapshot_free(&w->start);
        free(w);
        http_respond_pprof_error(req, 500, "could not wait for the profile window");
    }
}

static void serve_lock_profile(struct http_request *req, enum lockprof_kind kind)
{
    long long debug, seconds;
    if (debug_pprof_int_param(req, "debug", 0, 0, 1000000, &debug) < 0 || seconds_param(req, 0, &seconds) < 0) return;
    if (seconds && debug) { http_respond_pprof_error(req, 400, "seconds and debug params are incompatible"); return; }
    if (seconds) { serve_lock_delta(req, kind, seconds); return; }
    struct lockprof_snapshot s;
    if (lockprof_snapshot(kind, &s) < 0) { http_respond_pprof_error(req, 500, "out of memory taking the profile"); return; }
    answer_lock_profile(req, &s, debug > 0, 0);
}

void debug_profiles_mutex(struct http_request *req) { serve_lock_profile(req, LOCKPROF_MUTEX); }
void debug_profiles_block(struct http_request *req) { serve_lock_profile(req, LOCKPROF_BLOCK); }

/* ---- the switches --------------------------------------------------------------------- */

void debug_profiles_mutexprofilefraction(struct http_request *req)
{
    long long r;
    int64_t was = lockprof_mutex_fraction();
    if (debug_pprof_int_param(req, "rate", was, 0, INT64_C(1) << 40, &r) < 0) return;
    lockprof_set_mutex_fraction(r);
    http_respond_text(req, 200, "mutexprofilefraction %lld (was %lld)", r, (long long)was);
}

void debug_profiles_blockprofilerate(struct http_request *req)
{
    long long r;
    int64_t was = lockprof_block_rate();
    if (debug_pprof_int_param(req, "rate", was, 0, INT64_C(1) << 40, &r) < 0) return;
    lockprof_set_block_rate(r);
    http_respond_text(req, 200, "blockprofilerate %lld (was %lld)", r, (long long)was);
}
