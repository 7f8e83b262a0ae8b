/* gcprof_lib: the top of libgcprof.so, memdemo's heap profiler and GC timeline for any
 * program that loads libgc.so.1: what runs when the library is loaded into a program
 * (LD_PRELOAD) and when that program exits.
 *
 * Owns: reading the settings (src/gcprof_settings) once, taking the library out of
 * the environment the program's children inherit (unless GCPROF_CHILDREN=1; a process
 * without libgc keeps it for a program exec'd in its place, and its children leave by
 * themselves: claim_root; a child forked without exec writes no files unless
 * GCPROF_CHILDREN=1: forked_child), starting
 * the pieces in order (interposer, sampler, tracer, the live pages), and the exit
 * writer: after a final collection when bdwgc knows the exiting thread,
 * PREFIX.heap.pb.gz, PREFIX.allocs.pb.gz, PREFIX.trace and PREFIX.vars.json.
 * Leaves the entry points and collections to gc/gcinterpose, samples to
 * profile/sampler, the timeline to profile/trace, the encodings to profile/pprof and
 * profile/tracewire, the pages to src/gcprof_http.
 *
 * Observe, never steer: nothing here sets a bdwgc parameter. Errors never stop the
 * program: a bad setting, a process without libgc, or a file that cannot be written is
 * one line on stderr (the first two only with GCPROF_VERBOSE=1, except a statically
 * linked bdwgc, which is always reported) and the program runs as without the library.
 * In a program whose malloc hands out bdwgc's memory, -http is refused (with a line
 * saying why): the server's threads would allocate there unknown to bdwgc.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gc/clock.h"
#include "gc/gcevents.h"
#include "gc/gcheap.h"
#include "gc/gcinterpose.h"
#include "gc/gcthreads.h"
#include "profile/buf.h"
#include "profile/pprof.h"
#include "profile/sampler.h"
#include "profile/stacks.h"
#include "profile/trace.h"
#include "profile/unwind.h"
#include "src/gcprof_http.h"
#include "src/gcprof_lib.h"
#include "src/gcprof_settings.h"

static struct gcprof_settings settings;

static int active;            /* the library watches this process */
static char program[256];     /* argv[0] as /proc/self/cmdline says, for messages */

static const char *env_lookup(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static void read_program_name(void)
{
    FILE *f = fopen("/proc/self/cmdline", "r");
    size_t n = f ? fread(program, 1, sizeof program - 1, f) : 0;
    if (f) fclose(f);
    program[n] = '\0';
    if (!program[0]) snprintf(program, sizeof program, "pid %ld", (long)getpid());
}

/* ---- the environment the program's children inherit ------------------------------- */

/* Whether an LD_PRELOAD entry names this library. */
static int is_this_library(const char *entry, size_t n, const char *self)
{
    const char *base = strrchr(self, '/');
    base = base ? base + 1 : self;
    if (strlen(self) == n && memcmp(entry, self, n) == 0) return 1;
    size_t bn = strlen(base);
    return n >= bn && memcmp(entry + n - bn, base, bn) == 0 && (n == bn || entry[n - bn - 1] == '/');
}

/* LD_PRELOAD without this library (entries are separated by ':' or spaces), so the
 * program's children run without it; GCPROF_* go too. The loader has read them. */
static void leave_children_alone(void)
{
    Dl_info self;
    const char *pre = getenv("LD_PRELOAD");
    if (pre && dladdr((void *)&leave_children_alone, &self) && self.dli_fname) {
        char kept[4096];
        size_t w = 0;
        for (const char *p = pre; *p; ) {
            size_t n = strcspn(p, ": ");
            if (n && !is_this_library(p, n, self.dli_fname) && w + n + 1 < sizeof kept) {
                if (w) kept[w++] = ':';
                memcpy(kept + w, p, n);
                w += n;
            }
            p += n + (p[n] != '\0');
        }
        kept[w] = '\0';
        if (w) setenv("LD_PRELOAD", kept, 1);
        else unsetenv("LD_PRELOAD");
    }
#define UNSET(field, var, flag, arg, meaning) unsetenv(var);
    GCPROF_SETTINGS(UNSET)
#undef UNSET
    unsetenv(GCPROF_ROOT_VAR);
}

/* Whether this process is the program gcprof (or the user) started, or one exec'd in
 * its place: the first process to load the library notes its pid in GCPROF_ROOT_VAR,
 * and a later load in the same pid is an exec. A launcher that does not load libgc
 * (sh -c 'exec guile ...') keeps the library in the environment for that exec; the
 * programs it starts find another pid and, without GCPROF_CHILDREN, leave. */
static int claim_root(void)
{
    char me[24];
    snprintf(me, sizeof me, "%ld", (long)getpid());
    const char *root = getenv(GCPROF_ROOT_VAR);
    if (root) return strcmp(root, me) == 0;
    setenv(GCPROF_ROOT_VAR, me, 1);
    return 1;
}

/* ---- start ---------------------------------------------------------------------------- */

/* The files are written at exit, when the program may have changed its directory: a
 * relative GCPROF_OUT is made absolute against the directory it started in (and
 * handed so to a program exec'd in its place or profiled children, which may start
 * elsewhere). Left as it is when the directory is unknown or the result too long. */
static void anchor_prefix(void)
{
    char cwd[GCPROF_MAX_PREFIX + 1], abs[GCPROF_MAX_PREFIX + 1], probe[GCPROF_MAX_PREFIX + 1];
    if (settings.out[0] == '\0' || settings.out[0] == '/' || !getcwd(cwd, sizeof cwd) ||
        gcprof_settings_absolute(settings.out, cwd, abs, sizeof abs) < 0 ||
        gcprof_settings_expand(abs, GCPROF_MAX_PID, probe, sizeof probe) < 0)
        return;
    memcpy(settings.out, abs, strlen(abs) + 1);
    setenv("GCPROF_OUT", settings.out, 1);   /* for an exec in place, or profiled children */
}

static void say(const char *fmt, const char *a, const char *b)
{
    if (settings.verbose) fprintf(stderr, fmt, a, b);
}

/* The sampler cuts the profiler's frames off every stack: preloaded, all of this
 * library's text; linked in (the static variant), the allocator text section, which
 * holds the entry points and the sampling path. */
static int start_profiler(enum gcinterpose_libgc how)
{
    uintptr_t lo, hi;
    if (how == GCINTERPOSE_LINKED) gcheap__alloc_text_range(&lo, &hi);
    else if (unwind_object_text((const void *)&start_profiler, &lo, &hi) < 0) return -1;
    stacks_capture_by_unwind_tables(lo, hi);
    sampler_track_explicit_frees();
    if (sampler_init(settings.rate) < 0 || trace_init() < 0 || gcheap__cache_stats_at_collections() < 0)
        return -1;
    gcinterpose_set_forget(sampler_forget);
    gcinterpose_set_thread_start(trace_thread_start);
    trace_draw_threads();                     /* the timeline: one goroutine per thread */
    return settings.out[0] ? trace_run_start() : 0;   /* beside it, -http's live windows */
}

/* Starts the interposer; returns how the process holds bdwgc, or -1 when there is
 * nothing to watch (after saying why). */
static int libgc_present(void)
{
    enum gcinterpose_libgc how = gcinterpose_start();
    switch (how) {
    case GCINTERPOSE_DYNAMIC:
    case GCINTERPOSE_LINKED:
        return (int)how;
    case GCINTERPOSE_STATIC:
        fprintf(stderr, "gcprof: %s has bdwgc linked in statically, so its calls cannot be "
                        "interposed: link it with gcprof-wrap.o and @gcprof-wrap.opts instead "
                        "(README: Profile your own bdwgc program)\n", program);
        return -1;
    default:
        say("gcprof: %s does not load libgc.so: nothing to profile%s\n", program, "");
        return -1;
    }
}

/* pthread_atfork's child handler: a process forked without exec is a copy of the
 * program, not a program it started. Without -children it writes nothing at its exit,
 * which would otherwise replace the program's files (or add a second set under %p),
 * and counts nothing: a profiler lock that another thread held at the fork stays held
 * in the child, which would hang at its first sample. With -children it is profiled
 * like any child. */
static void forked_child(void)
{
    if (settings.children) return;
    active = 0;
    gcinterpose_stop_counting();
}

static void load(void)
{
    char err[GCPROF_MAX_PREFIX + 128];   /* a reason may quote a whole prefix */
    read_program_name();
    if (gcprof_settings_parse(&settings, env_lookup, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "gcprof: %s; profiling off\n", err);
        return;
    }
    if (!claim_root() && !settings.children) {   /* a program the watched one started */
        leave_children_alone();
        return;
    }
    anchor_prefix();
    if (settings.out[0] && gcprof_settings_check_directory(settings.out, err, sizeof err) < 0) {
        fprintf(stderr, "gcprof: GCPROF_OUT=%s: %s; no files will be written\n", settings.out, err);
        settings.out[0] = '\0';
    }
    if (!settings.out[0] && !settings.http[0]) {
        say("gcprof: %s: neither GCPROF_OUT nor GCPROF_HTTP is set: nothing to do%s\n", program, "");
        return;
    }
    int how = libgc_present();
    if (how < 0) return;                      /* the environment stays, for an exec in place */
    if (!settings.children) leave_children_alone();
    if (start_profiler((enum gcinterpose_libgc)how) < 0) {
        fprintf(stderr, "gcprof: cannot start the profiler in %s: out of memory\n", program);
        return;
    }
    active = 1;
    pthread_atfork(NULL, NULL, forked_child);
    if (gcprof_vars_init() < 0) fprintf(stderr, "gcprof: /debug/vars has no room for the gcprof section\n");
    int gc_malloc = gcinterpose_malloc_is_bdwgcs();
    if (settings.http[0] && gc_malloc)
        fprintf(stderr, "gcprof: -http is off: the malloc of %s allocates from bdwgc, and the server's "
                        "threads, which bdwgc does not know, would collect there and stop the program\n", program);
    else if (settings.http[0] && gcprof_http_start(settings.http, program) < 0) return;
    say("gcprof: watching %s%s\n", program, settings.out[0] ? " until it exits" : "");
}

/* What the library allocates is its own, even where the program's malloc is GC_malloc
 * (gcinterpose_own_begin). */
__attribute__((constructor)) static void gcprof_load(void)
{
    int was = gcinterpose_own_begin();
    load();
    gcinterpose_own_end(was);
}

/* ---- exit ----------------------------------------------------------------------------- */

static void write_file(const char *prefix, const char *suffix, struct buf *b)
{
    char path[GCPROF_MAX_PREFIX + 64];
    snprintf(path, sizeof path, "%s%s", prefix, suffix);
    FILE *f = b->failed ? NULL : fopen(path, "wb");
    int ok = f && fwrite(b->data, 1, b->len, f) == b->len;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "gcprof: cannot write %s: %s\n", path, b->failed ? "out of memory" : strerror(errno));
    buf_free(b);
}

static void write_heap_profiles(const char *prefix)
{
    struct sampler_snapshot s;
    if (sampler_snapshot(&s, 0) < 0) {
        fprintf(stderr, "gcprof: out of memory taking the heap profile\n");
        return;
    }
    struct pprof_heap_opts heap = {s.rate, NULL, s.time_ns, 0}, allocs = {s.rate, "alloc_space", s.time_ns, 0};
    struct buf b = BUF_INIT;
    if (pprof_write_heap(&b, s.records, s.n, &heap) < 0) b.failed = 1;
    write_file(prefix, ".heap.pb.gz", &b);
    if (pprof_write_heap(&b, s.records, s.n, &allocs) < 0) b.failed = 1;
    write_file(prefix, ".allocs.pb.gz", &b);
    sampler_snapshot_free(&s);
}

static void write_trace(const char *prefix, uint64_t *dropped)
{
    struct buf b = BUF_INIT;
    *dropped = 0;
    if (!trace_run_recording()) return;
    if (trace_run_stop(&b, dropped) < 0) b.failed = 1;
    write_file(prefix, ".trace", &b);
}

/* Returns 1 if the final collection ran, else 0. */
static int write_exit_files(void)
{
    char prefix[GCPROF_MAX_PREFIX + 1];
    if (gcprof_settings_expand(settings.out, (long)getpid(), prefix, sizeof prefix) < 0) return 0;
    static struct gcprof_exit e;   /* the "final" section reads it (src/gcprof_vars.c) */
    int final = gcinterpose_final_collection();
    e.collected = final > 0;
    gcinterpose_truth(&e.truth, e.collected);   /* mark bits count only after a collection */
    /* The exiting thread is the program's; when bdwgc knows it, it may take the lock. */
    gcthreads__program_call(final >= 0);
    write_heap_profiles(prefix);
    write_trace(prefix, &e.trace_dropped);
    struct buf b = BUF_INIT;
    gcprof_write_vars(&b, &e);
    write_file(prefix, ".vars.json", &b);
    gcthreads__program_call(0);
    return e.collected;
}

__attribute__((destructor)) static void gcprof_unload(void)
{
    if (!active) return;
    (void)gcinterpose_own_begin();   /* the thread is exiting the program: for good */
    gcprof_http_stop();
    if (settings.out[0]) {
        uint64_t t0 = clock_mono_ns();
        int collected = write_exit_files();
        if (settings.verbose)
            fprintf(stderr, "gcprof: wrote %s.* in %.1f ms (%s)\n", settings.out,
                    (double)(clock_mono_ns() - t0) / 1e6,
                    collected ? "final collection included"
                              : "no final collection ran: in use as of the last collection");
    }
    active = 0;
}

int64_t gcprof_rate(void) { return settings.rate; }
