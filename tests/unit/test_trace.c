/* Unit tests for the tracer (profile/trace) and its Go trace writer (profile/tracewire).
 *
 * The writer is fed synthetic record streams (normal, cut short, empty); the recorder
 * is driven by real pthreads doing synthetic requests and by real collections. Every
 * trace is checked with the real `go tool trace`: `-d` must parse it, and one trace is
 * served with `-http=127.0.0.1:PORT` (the tool binary is run directly so its PID is
 * the server's; killed by that PID) and its pages fetched with curl. Go 1.23's v1
 * converter is tried when /usr/lib/go-1.23/bin/go exists, otherwise a SKIP line.
 * The trace files are removed unless a test fails or TEST_TRACE_KEEP is set.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GC_NO_THREAD_REDIRECTS   /* pthread_create stays libc's: each test registers its threads */
#include <gc.h>

#include "gc/gcheap.h"
#include "gc/gcthreads.h"
#include "profile/buf.h"
#include "profile/trace.h"
#include "profile/tracewire.h"
#include "tests/unit/unit.h"

#define GO123 "/usr/lib/go-1.23/bin/go"
#define LEAKER "GET /leaker"
#define NOLEAKER "GET /noleaker"

static char tmpdir[200];
static char main_trace[256];       /* the recorder trace served over HTTP */

/* ---- helpers --------------------------------------------------------------------- */

static int write_file(const char *path, const struct buf *b)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = fwrite(b->data, 1, b->len, f);
    return fclose(f) == 0 && n == b->len ? 0 : -1;
}

/* Runs cmd through the shell, collects stdout+stderr into out; returns the exit code. */
static int run(const char *cmd, struct buf *out)
{
    char full[1024];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) buf_append(out, chunk, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* `go tool trace -d FILE` into out; returns its exit code. */
static int dump(const char *file, struct buf *out)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "go tool trace -http=127.0.0.1:0 -d '%s'", file);
    return run(cmd, out);
}

/* Saves b as NAME in the test's directory (its path into path) and dumps it with go
 * tool trace into d; returns the dump's exit code. */
static int save_and_dump(const struct buf *b, const char *name, char *path, size_t size, struct buf *d)
{
    snprintf(path, size, "%s/%s", tmpdir, name);
    if (write_file(path, b) < 0) { perror(path); exit(2); }
    return dump(path, d);
}

/* ---- the writer alone ------------------------------------------------------------ */

#define MS 1000000ull
#define T0 (7000ull * 1000 * MS)

static struct tracewire_rec R(uint64_t ms, uint32_t kind, uint64_t a, uint64_t b, int32_t c)
{
    return (struct tracewire_rec){T0 + ms * MS, a, b, kind, c};
}

TEST(wire_request_gc_assist_and_preempt_parse)
{
    /* thread 1: request 1 triggers a collection (assist); thread 3 runs request 2 and
     * is suspended for the pause (it records once between suspend and resume);
     * thread 4: a dedicated collection with no request. */
    struct tracewire_rec t1[] = {
        R(1, TRACEWIRE_REQ_BEGIN, 1, (uintptr_t)LEAKER, 0),
        R(2, TRACEWIRE_GC_START, 5 << 20, 0, 1),
        R(2, TRACEWIRE_GC_STW_START, 0, 0, 1),
        R(2, TRACEWIRE_THREAD_SUSPENDED, 0, 0, 3),
        R(3, TRACEWIRE_GC_MARK_START, 0, 0, 1),
        R(5, TRACEWIRE_GC_MARK_END, 0, 0, 1),
        R(5, TRACEWIRE_THREAD_UNSUSPENDED, 0, 0, 3),
        R(6, TRACEWIRE_GC_STW_DONE, 0, 0, 1),
        R(6, TRACEWIRE_GC_SWEEP_START, 0, 0, 1),
        R(7, TRACEWIRE_GC_SWEEP_DONE, 1 << 20, 5 << 20, 1),
        R(7, TRACEWIRE_GC_END, 4 << 20, 6 << 20, 1),
        R(8, TRACEWIRE_REQ_END, 1, 4 << 20, 200),
    };
    struct tracewire_rec t3[] = {
        R(1, TRACEWIRE_REQ_BEGIN, 2, (uintptr_t)NOLEAKER, 0),
        R(2, TRACEWIRE_REQ_END, 2, 0, 404),               /* landed after the suspend */
        R(3, TRACEWIRE_REQ_BEGIN, 3, (uintptr_t)NOLEAKER, 0),  /* runs into the pause */
        R(9, TRACEWIRE_REQ_END, 3, 0, 200),
    };
    struct tracewire_rec t4[] = {
        R(10, TRACEWIRE_GC_START, 4 << 20, 0, 4),
        R(10, TRACEWIRE_GC_STW_START, 0, 0, 4),
        R(10, TRACEWIRE_GC_MARK_START, 0, 0, 4),
        R(11, TRACEWIRE_GC_MARK_END, 0, 0, 4),
        R(11, TRACEWIRE_GC_STW_DONE, 0, 0, 4),
        R(12, TRACEWIRE_GC_END, 3 << 20, 5 << 20, 4),
    };
    struct tracewire_stream s[] = {
        {0, 100, NULL, 0, {0}}, {1, 101, t1, 12, {0}}, {3, 103, t3, 4, {0}}, {4, 104, t4, 6, {0}},
    };
    struct tracewire_window win = {T0, T0 + 20 * MS, 4 << 20, 6 << 20, 10, 0, 0};
    struct buf out = BUF_INIT, d = BUF_INIT;
    char path[256];
    CHECK_EQ_INT(tracewire_write(&out, &win, s, 4), 0);
    CHECK_EQ_INT(save_and_dump(&out, "wire.trace", path, sizeof path, &d), 0);
    CHECK_EQ_INT(count(d.data, " GCStart "), 2);
    CHECK_EQ_INT(count(d.data, " GCDone "), 2);
    CHECK_EQ_INT(count(d.data, " GCSTWStart "), 2);
    CHECK_EQ_INT(count(d.data, " GCMarkAssistStart "), 1);    /* not for the dedicated one */
    CHECK_EQ_INT(count(d.data, "label=GC (dedicated)"), 1);
    CHECK_EQ_INT(count(d.data, " GoPreempt "), 1);
    CHECK_EQ_INT(count(d.data, " UserTaskCreate "), 3 + 1);    /* and the window's */
    CHECK_EQ_INT(count(d.data, "message=404"), 1);
    /* The window's task (id 10, the first free one) is every request's parent and
     * sums up the pauses: 2..6 ms and 10..11 ms of a 20 ms window. */
    CHECK_EQ_INT(count(d.data, "taskid=10 pid=0 "), 1);
    CHECK_EQ_INT(count(d.data, " pid=10 "), 3);
    CHECK_EQ_INT(count(d.data, "name=trace window: 2 collections, 5.000 ms stop-the-world in 0.020 s"), 1);
    CHECK_EQ_INT(count(d.data, " id=10 keyid="), 3);        /* two collections and the total */
    CHECK_EQ_INT(count(d.data, "category=GC message=GC 1: 4.000 ms stop-the-world, 4.2 MB in use after"), 1);
    CHECK_EQ_INT(count(d.data, "category=GC message=GC 2: 1.000 ms stop-the-world, 3.1 MB in use after"), 1);
    CHECK_EQ_INT(count(d.data, "category=GC total message=2 collections, 5.000 ms stop-the-world "
                               "(25.00% of 0.020 s), longest 4.000 ms"), 1);
    CHECK_EQ_INT(count(d.data, " UserTaskEnd p=0 g=10 "), 0); /* it never ends (see tracewire.c) */
    CHECK_EQ_INT(count(d.data, " ProcStop "), 3);               /* dense Ps 0..2 */
    CHECK_EQ_INT(count(d.data, " Gomaxprocs p=0 g=0 "), 2);
    CHECK_EQ_INT(count(d.data, " procs=3\n"), 2);
    buf_free(&out);
    buf_free(&d);
}

TEST(wire_streams_cut_short_are_closed_at_stop)
{
    /* thread 0 filled up mid-collection and mid-request; thread 2's later collection
     * must still start cleanly; thread 2's second request is open at stop; an end
     * without a begin (request from before the window) is ignored. */
    struct tracewire_rec t0[] = {
        R(1, TRACEWIRE_REQ_BEGIN, 1, (uintptr_t)LEAKER, 0),
        R(2, TRACEWIRE_GC_START, 0, 0, 0),
        R(2, TRACEWIRE_GC_STW_START, 0, 0, 0),
        R(3, TRACEWIRE_GC_MARK_START, 0, 0, 0),
    };
    struct tracewire_rec t2[] = {
        R(1, TRACEWIRE_REQ_END, 77, 0, 200),
        R(4, TRACEWIRE_REQ_BEGIN, 2, (uintptr_t)NOLEAKER, 0),
        R(5, TRACEWIRE_GC_START, 0, 0, 2),
        R(5, TRACEWIRE_GC_SWEEP_START, 0, 0, 2),
        R(6, TRACEWIRE_GC_SWEEP_DONE, 1, 2, 2),
        R(6, TRACEWIRE_GC_END, 1, 2, 2),
        R(7, TRACEWIRE_REQ_END, 2, 0, 200),
        R(8, TRACEWIRE_REQ_BEGIN, 3, (uintptr_t)LEAKER, 0),
    };
    struct tracewire_stream s[] = {{0, 100, t0, 4, {0}}, {2, 102, t2, 8, {0}}};
    struct tracewire_window win = {T0, T0 + 9 * MS, 1, 2, 4, 12345, 0};
    struct buf out = BUF_INIT, d = BUF_INIT;
    char path[256];
    CHECK_EQ_INT(tracewire_write(&out, &win, s, 2), 0);
    CHECK_EQ_INT(save_and_dump(&out, "wire-cut.trace", path, sizeof path, &d), 0);
    CHECK_EQ_INT(count(d.data, " GCStart "), 2);
    CHECK_EQ_INT(count(d.data, " GCDone "), 2);
    CHECK_EQ_INT(count(d.data, " UserTaskEnd "), 1);           /* only request 2's */
    CHECK_EQ_INT(count(d.data, "message=12345"), 1);           /* the drop report */
    buf_free(&out);
    buf_free(&d);
}

/* A thread record (SEEN, EXIT) carrying a thread name, as the recorder writes it. */
static struct tracewire_rec named(uint64_t ms, uint32_t kind, const char *name)
{
    char n[16] = {0};
    uint64_t a, b;
    strncpy(n, name, sizeof n - 1);
    memcpy(&a, n, 8);
    memcpy(&b, n + 8, 8);
    return R(ms, kind, a, b, 0);
}

/* How often needle occurs in the trace bytes (strings are written as they are). */
static int count_bytes(const struct buf *b, const char *needle)
{
    int n = 0;
    size_t len = strlen(needle);
    for (size_t i = 0; i + len <= b->len; i++) n += memcmp(b->data + i, needle, len) == 0;
    return n;
}

TEST(wire_thread_mode_one_goroutine_per_thread)
{
    /* libgcprof: thread 0 collects and stops thread 1 meanwhile; its request records
     * (the wrapped memdemo variant) are not drawn. Thread 1 collects, exits, and
     * collects once more in its exit path. Thread 2 was seen at the window's start
     * without a name; the stop knows it. */
    struct tracewire_rec t0[] = {
        named(1, TRACEWIRE_THREAD_SEEN, "main"),
        R(2, TRACEWIRE_GC_START, 5 << 20, 0, 0),
        R(2, TRACEWIRE_GC_STW_START, 0, 0, 0),
        R(2, TRACEWIRE_THREAD_SUSPENDED, 0, 0, 1),
        R(3, TRACEWIRE_GC_MARK_START, 0, 0, 0),
        R(4, TRACEWIRE_GC_MARK_END, 0, 0, 0),
        R(4, TRACEWIRE_THREAD_UNSUSPENDED, 0, 0, 1),
        R(5, TRACEWIRE_GC_STW_DONE, 0, 0, 0),
        R(6, TRACEWIRE_GC_END, 4 << 20, 6 << 20, 0),
        R(7, TRACEWIRE_REQ_BEGIN, 1, (uintptr_t)LEAKER, 0),
    };
    struct tracewire_rec t1[] = {
        named(1, TRACEWIRE_THREAD_SEEN, "worker-1"),
        R(8, TRACEWIRE_GC_START, 5 << 20, 0, 1),
        R(8, TRACEWIRE_GC_STW_START, 0, 0, 1),
        R(8, TRACEWIRE_GC_MARK_START, 0, 0, 1),
        R(9, TRACEWIRE_GC_MARK_END, 0, 0, 1),
        R(9, TRACEWIRE_GC_STW_DONE, 0, 0, 1),
        R(9, TRACEWIRE_GC_END, 4 << 20, 6 << 20, 1),
        named(10, TRACEWIRE_THREAD_EXIT, "worker-1"),
        R(11, TRACEWIRE_GC_START, 5 << 20, 0, 1),
        R(11, TRACEWIRE_GC_MARK_START, 0, 0, 1),
        R(12, TRACEWIRE_GC_END, 4 << 20, 6 << 20, 1),
    };
    struct tracewire_rec t2[] = {named(0, TRACEWIRE_THREAD_SEEN, "")};
    struct tracewire_stream s[] = {
        {0, 100, t0, 10, {0}}, {1, 101, t1, 11, {0}}, {2, 102, t2, 1, "late"},
    };
    struct tracewire_window win = {T0, T0 + 20 * MS, 1 << 20, 2 << 20, 10, 0, 1};
    struct buf out = BUF_INIT, d = BUF_INIT;
    char path[256];
    CHECK_EQ_INT(tracewire_write(&out, &win, s, 3), 0);
    CHECK_EQ_INT(count_bytes(&out, "thread 100 (main)"), 1);
    CHECK_EQ_INT(count_bytes(&out, "thread 101 (worker-1)"), 1);
    CHECK_EQ_INT(count_bytes(&out, "thread 102 (late)"), 1);
    CHECK_EQ_INT(save_and_dump(&out, "wire-threads.trace", path, sizeof path, &d), 0);
    CHECK_EQ_INT(count(d.data, " GCStart "), 3);
    CHECK_EQ_INT(count(d.data, " GCDone "), 3);
    CHECK_EQ_INT(count(d.data, " GoCreate "), 3 + 1);         /* and the post-exit wrapper */
    CHECK_EQ_INT(count(d.data, "label=GC (dedicated)"), 1);
    CHECK_EQ_INT(count(d.data, " GCMarkAssistStart "), 2);     /* on the threads' goroutines */
    CHECK_EQ_INT(count(d.data, " GoPreempt "), 1 + 2);         /* the pause; 0 and 2 at stop */
    CHECK_EQ_INT(count(d.data, " GoEnd "), 2);                 /* thread 1's exit, the wrapper */
    CHECK_EQ_INT(count(d.data, " UserTaskCreate "), 1);        /* the window's, no request's */
    CHECK_EQ_INT(count(d.data, "category=GC total message=3 collections"), 1);
    CHECK_EQ_INT(count(d.data, " procs=3\n"), 2);
    if (access(GO123, X_OK) == 0) {
        char cmd[512];
        struct buf d123 = BUF_INIT;
        snprintf(cmd, sizeof cmd, "GOTOOLCHAIN=local " GO123 " tool trace -d=1 '%s'", path);
        CHECK_EQ_INT(run(cmd, &d123), 0);
        /* each collection's range begins once (its end carries attributes) */
        CHECK_EQ_INT(count(d123.data, "Name=\"GC concurrent mark phase\" Scope=None\n"), 3);
        buf_free(&d123);
    }
    buf_free(&out);
    buf_free(&d);
}

TEST(wire_empty_window_parses)
{
    struct tracewire_window win = {T0, T0 + MS, 1, 2, 1, 0, 0};
    struct buf out = BUF_INIT, d = BUF_INIT;
    char path[256];
    CHECK_EQ_INT(tracewire_write(&out, &win, NULL, 0), 0);
    CHECK_EQ_MEM(out.data, "go 1.19 trace\0\0\0", 16);
    CHECK_EQ_INT(save_and_dump(&out, "wire-empty.trace", path, sizeof path, &d), 0);
    CHECK_EQ_INT(count(d.data, " ProcStart "), 1);
    buf_free(&out);
    buf_free(&d);
}

/* ---- the recorder ---------------------------------------------------------------- */

#define WORKERS 4
#define REQUESTS 30            /* per worker */
#define ASSIST_EVERY 10        /* worker 0 collects inside every 10th request */
#define DEDICATED 3            /* collections by the main thread outside requests */

static pthread_barrier_t barrier;
static atomic_int worker_gcs;

static void sleep_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

static void *worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    if (gcthreads_enter() < 0) return NULL;
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < REQUESTS; i++) {
        trace_request_begin((i + w) % 2 ? LEAKER : NOLEAKER);
        for (int k = 0; k < 16; k++) ((volatile char *)gcheap_alloc_data(512))[0] = (char)k;
        if (w == 0 && i % ASSIST_EVERY == 0) {
            gcheap_collect();
            atomic_fetch_add(&worker_gcs, 1);
        }
        sleep_us(300);
        trace_request_end(i % 7 ? 200 : 500);
    }
    return NULL;
}

/* Runs the workers while the main thread collects DEDICATED times; returns the number
 * of collections that completed meanwhile (explicit and automatic). */
static uint64_t workload(void)
{
    struct gcheap_stats before, after;
    pthread_t t[WORKERS];
    gcheap_stats(&before);
    atomic_store(&worker_gcs, 0);
    pthread_barrier_init(&barrier, NULL, WORKERS + 1);
    for (int i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < DEDICATED; i++) {
        sleep_us(2000);
        gcheap_collect();
    }
    for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    gcheap_stats(&after);
    return after.collections - before.collections;
}

TEST(trace_start_twice_is_ebusy)
{
    CHECK_EQ_INT(trace_start(), 0);
    errno = 0;
    int rc = trace_start();
    int err = errno;
    CHECK_EQ_INT(trace_cancel(), 0);
    CHECK_EQ_INT(rc, -1);
    CHECK_EQ_INT(err, EBUSY);
}

TEST(trace_stop_or_cancel_without_start_is_einval)
{
    struct buf out = BUF_INIT;
    errno = 0;
    CHECK_EQ_INT(trace_stop(&out, NULL), -1);
    CHECK_EQ_INT(errno, EINVAL);
    errno = 0;
    CHECK_EQ_INT(trace_cancel(), -1);
    CHECK_EQ_INT(errno, EINVAL);
    CHECK_EQ_INT(out.len, 0);
}

TEST(trace_records_requests_and_collections_from_threads)
{
    struct buf out = BUF_INIT, d = BUF_INIT;
    uint64_t dropped = 99;
    trace_set_buffer_cap(0);
    CHECK_EQ_INT(trace_start(), 0);
    uint64_t gcs = workload();
    CHECK_EQ_INT(trace_stop(&out, &dropped), 0);
    CHECK_EQ_INT(dropped, 0);
    CHECK_EQ_INT(save_and_dump(&out, "recorder.trace", main_trace, sizeof main_trace, &d), 0);
    CHECK_GE_U64(gcs, DEDICATED + REQUESTS / ASSIST_EVERY);
    CHECK_EQ_INT(count(d.data, " GCStart "), gcs);
    CHECK_EQ_INT(count(d.data, " GCDone "), gcs);
    CHECK_EQ_INT(count(d.data, " GCSTWStart "), gcs);
    CHECK_EQ_INT(count(d.data, " GCSTWDone "), gcs);
    CHECK_GE(count(d.data, " GCMarkAssistStart "), REQUESTS / ASSIST_EVERY);
    CHECK_GE(count(d.data, "label=GC (dedicated)"), DEDICATED);
    CHECK_EQ_INT(count(d.data, " UserTaskCreate "), WORKERS * REQUESTS + 1);
    CHECK_EQ_INT(count(d.data, " UserTaskEnd "), WORKERS * REQUESTS);
    CHECK_EQ_INT(count(d.data, "category=GC message=GC "), gcs);
    CHECK_EQ_INT(count(d.data, "name=" LEAKER), WORKERS * REQUESTS / 2);
    CHECK_EQ_INT(count(d.data, "name=" NOLEAKER), WORKERS * REQUESTS / 2);
    CHECK_GT(count(d.data, "message=500"), 0);
    CHECK_GE(count(d.data, " HeapGoal "), 1 + (int)gcs);
    buf_free(&out);
    buf_free(&d);
}

/* A thread bdwgc knows but the profiler does not yet (bdwgc collects inside a new
 * thread's registration, before its first allocation gives it an id): its collection
 * is recorded, and joins the thread's own stream once the thread has an id. */
static void *collect_then_get_an_id(void *arg)
{
    struct GC_stack_base sb;
    GC_get_stack_base(&sb);
    GC_register_my_thread(&sb);
    *(pid_t *)arg = gettid();
    gcheap_collect();                          /* no gcthreads id yet */
    if (gcthreads_note() >= 0) {               /* an id, as libgcprof gives one */
        trace_request_begin(LEAKER);
        gcheap_collect();
        trace_request_end(200);
    }
    GC_unregister_my_thread();
    return NULL;
}

static void *collect_without_an_id(void *arg)
{
    (void)arg;
    struct GC_stack_base sb;
    GC_get_stack_base(&sb);
    GC_register_my_thread(&sb);
    gcheap_collect();
    GC_unregister_my_thread();
    return NULL;
}

TEST(trace_collection_on_a_thread_without_an_id_is_kept_on_that_thread)
{
    struct buf out = BUF_INIT, d = BUF_INIT;
    struct gcheap_stats before, after;
    uint64_t dropped = 99;
    pid_t tid = 0;
    pthread_t t;
    char path[256], want[64];
    trace_set_buffer_cap(0);
    gcheap_stats(&before);
    CHECK_EQ_INT(trace_start(), 0);
    pthread_create(&t, NULL, collect_then_get_an_id, &tid);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, collect_without_an_id, NULL);
    pthread_join(t, NULL);
    CHECK_EQ_INT(trace_stop(&out, &dropped), 0);
    gcheap_stats(&after);
    CHECK_EQ_U64(dropped, 0);
    CHECK_EQ_INT(save_and_dump(&out, "noid.trace", path, sizeof path, &d), 0);
    CHECK_GE_U64(after.collections - before.collections, 3);
    CHECK_EQ_INT(count(d.data, " GCStart "), after.collections - before.collections);
    snprintf(want, sizeof want, " thread=%d\n", (int)tid);
    CHECK_EQ_INT(count(d.data, want), 1);      /* one P: both its collections on it */
    CHECK_GE(count(d.data, " thread=0\n"), 1);  /* the one that never had an id */
    buf_free(&out);
    buf_free(&d);
}

TEST(trace_tiny_buffer_drops_events_counts_them_and_still_parses)
{
    struct buf out = BUF_INIT, d = BUF_INIT;
    uint64_t dropped = 0;
    struct trace_stats before, after;
    trace_stats(&before);
    trace_set_buffer_cap(12 * sizeof(struct tracewire_rec));
    CHECK_EQ_INT(trace_start(), 0);
    workload();
    CHECK_EQ_INT(trace_stop(&out, &dropped), 0);
    trace_set_buffer_cap(0);
    trace_stats(&after);
    CHECK_EQ_U64(after.windows - before.windows, 1);
    CHECK_EQ_U64(after.dropped_total - before.dropped_total, dropped);
    CHECK_EQ_U64(after.dropped_last, dropped);
    char path[256];
    CHECK_EQ_INT(save_and_dump(&out, "tiny.trace", path, sizeof path, &d), 0);
    CHECK_GT_U64(dropped, 0);
    char msg[64];
    snprintf(msg, sizeof msg, "category=dropped events message=%llu", (unsigned long long)dropped);
    CHECK_EQ_INT(count(d.data, msg), 1);
    CHECK_LT(count(d.data, " UserTaskCreate "), WORKERS * REQUESTS + 1);
    buf_free(&out);
    buf_free(&d);
}

static void *begin_then_signal(void *arg)
{
    gcthreads_enter();
    trace_request_begin(LEAKER);            /* before the window: not traced */
    pthread_barrier_wait(&barrier);         /* main starts the trace */
    pthread_barrier_wait(&barrier);
    trace_request_end(200);
    trace_request_begin(NOLEAKER);
    trace_request_end(201);
    (void)arg;
    return NULL;
}

TEST(trace_request_begun_before_start_is_not_traced)
{
    pthread_t t;
    struct buf out = BUF_INIT, d = BUF_INIT;
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_create(&t, NULL, begin_then_signal, NULL);
    pthread_barrier_wait(&barrier);
    CHECK_EQ_INT(trace_start(), 0);
    pthread_barrier_wait(&barrier);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&barrier);
    CHECK_EQ_INT(trace_stop(&out, NULL), 0);
    char path[256];
    CHECK_EQ_INT(save_and_dump(&out, "pre.trace", path, sizeof path, &d), 0);
    CHECK_EQ_INT(count(d.data, " UserTaskCreate "), 1 + 1);   /* and the window's */
    CHECK_EQ_INT(count(d.data, "name=" NOLEAKER), 1);
    CHECK_EQ_INT(count(d.data, "message=201"), 1);
    CHECK_EQ_INT(count(d.data, "message=200"), 0);
    buf_free(&out);
    buf_free(&d);
}

TEST(trace_cancel_frees_and_a_new_trace_works)
{
    struct buf out = BUF_INIT, d = BUF_INIT;
    CHECK_EQ_INT(trace_start(), 0);
    trace_request_begin(LEAKER);
    trace_request_end(200);
    CHECK_EQ_INT(trace_cancel(), 0);
    CHECK(!trace_running());
    trace_request_begin(LEAKER);            /* no window: nothing recorded */
    trace_request_end(200);
    CHECK_EQ_INT(trace_start(), 0);
    trace_request_begin(NOLEAKER);
    gcheap_collect();
    trace_request_end(202);
    CHECK_EQ_INT(trace_stop(&out, NULL), 0);
    char path[256];
    CHECK_EQ_INT(save_and_dump(&out, "after-cancel.trace", path, sizeof path, &d), 0);
    CHECK_EQ_INT(count(d.data, " UserTaskCreate "), 1 + 1);   /* and the window's */
    CHECK_EQ_INT(count(d.data, "message=202"), 1);
    CHECK_EQ_INT(count(d.data, " GCStart "), 1);
    CHECK_EQ_INT(count(d.data, " GCMarkAssistStart "), 1);
    buf_free(&out);
    buf_free(&d);
}

static atomic_int churn_stop;

static void *churn_worker(void *arg)
{
    (void)arg;
    gcthreads_enter();
    for (unsigned i = 0; !atomic_load(&churn_stop); i++) {
        trace_request_begin(i % 2 ? LEAKER : NOLEAKER);
        for (int k = 0; k < 8; k++) ((volatile char *)gcheap_alloc_data(256))[0] = (char)k;
        if (i % 50 == 0) gcheap_collect();
        trace_request_end(200);
    }
    return NULL;
}

/* Windows opened and closed (or cancelled) while threads record and collect: every
 * closed window, cut through requests and collections, must parse. */
TEST(trace_windows_cut_through_busy_threads_parse)
{
    pthread_t t[WORKERS];
    atomic_store(&churn_stop, 0);
    for (int i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, churn_worker, NULL);
    int bad = -1, parsed = 0;
    for (int win = 0; win < 12 && bad < 0; win++) {
        trace_set_buffer_cap(win % 3 == 2 ? 40 * sizeof(struct tracewire_rec) : 0);
        if (trace_start() < 0) { bad = win; break; }
        sleep_us(1000 + 500 * win);
        if (win % 4 == 1) gcheap_collect();
        if (win % 4 == 3) { if (trace_cancel() < 0) bad = win; continue; }
        struct buf out = BUF_INIT, d = BUF_INIT;
        char path[256], name[32];
        if (trace_stop(&out, NULL) < 0) bad = win;
        snprintf(name, sizeof name, "churn%d.trace", win);
        if (save_and_dump(&out, name, path, sizeof path, &d) == 0) {
            parsed++;
        } else {
            bad = win;
            fputs(d.data ? d.data : "", stdout);
        }
        buf_free(&out);
        buf_free(&d);
    }
    atomic_store(&churn_stop, 1);
    for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
    trace_set_buffer_cap(0);
    CHECK_EQ_INT(bad, -1);
    CHECK_EQ_INT(parsed, 9);
}

/* ---- go tool trace's web UI ------------------------------------------------------ */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts the trace tool binary itself (not `go tool`, whose child would outlive a kill
 * of its PID) on 127.0.0.1:port. BROWSER=true keeps it from launching a browser. */
static pid_t start_viewer(const char *file, int port)
{
    struct buf tool = BUF_INIT;
    if (run("go tool -n trace", &tool) != 0 || tool.len < 2) return -1;
    while (tool.len && (tool.data[tool.len - 1] == '\n' || tool.data[tool.len - 1] == ' '))
        tool.data[--tool.len] = '\0';
    char addr[64];
    snprintf(addr, sizeof addr, "-http=127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        setenv("BROWSER", "true", 1);
        execl(tool.data, "trace", addr, file, (char *)NULL);
        _exit(127);
    }
    buf_free(&tool);
    return pid;
}

/* GETs path into body; returns the HTTP status (0: no answer). */
static int http_get(int port, const char *path, struct buf *body)
{
    char file[256], cmd[512];
    struct buf code = BUF_INIT;
    snprintf(file, sizeof file, "%s/page", tmpdir);
    snprintf(cmd, sizeof cmd, "curl -s -g -o '%s' -w '%%{http_code}' 'http://127.0.0.1:%d%s'",
             file, port, path);
    run(cmd, &code);
    int status = code.data ? atoi(code.data) : 0;
    buf_free(&code);
    buf_reset(body);
    FILE *f = fopen(file, "rb");
    if (f) {
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(body, chunk, n);
        fclose(f);
    }
    return status;
}

/* The whole-run recording and a live window open at once: each holds what a window
 * opened alone would (the live one only its own collections and the requests, the
 * run every collection and no request), and each answers for itself. */
TEST(trace_live_window_inside_the_whole_run_recording)
{
    struct buf live = BUF_INIT, whole = BUF_INIT, d = BUF_INIT, e = BUF_INIT;
    char path[256];
    CHECK_EQ_INT(trace_run_start(), 0);
    errno = 0;
    CHECK_EQ_INT(trace_run_start(), -1);
    CHECK_EQ_INT(errno, EBUSY);
    CHECK(trace_run_recording());
    CHECK(!trace_running());
    gcheap_collect();
    gcheap_collect();
    CHECK_EQ_INT(trace_start(), 0);
    trace_request_begin(LEAKER);
    for (int i = 0; i < 3; i++) gcheap_collect();
    trace_request_end(203);
    CHECK_EQ_INT(trace_stop(&live, NULL), 0);
    CHECK(trace_run_recording());
    gcheap_collect();
    CHECK_EQ_INT(trace_run_stop(&whole, NULL), 0);
    errno = 0;
    CHECK_EQ_INT(trace_run_stop(&whole, NULL), -1);
    CHECK_EQ_INT(errno, EINVAL);
    CHECK_EQ_INT(save_and_dump(&live, "live-in-run.trace", path, sizeof path, &d), 0);
    CHECK_EQ_INT(save_and_dump(&whole, "run.trace", path, sizeof path, &e), 0);
    CHECK_EQ_INT(count(d.data, " GCStart "), 3);
    CHECK_EQ_INT(count(d.data, "message=203"), 1);
    CHECK_EQ_INT(count(e.data, " GCStart "), 6);
    CHECK_EQ_INT(count(e.data, " GCDone "), 6);
    CHECK_EQ_INT(count(e.data, " UserTaskCreate "), 1);         /* the window's: no request */
    buf_free(&live);
    buf_free(&whole);
    buf_free(&d);
    buf_free(&e);
}

/* Live windows opened and closed while busy threads record into the whole-run
 * recording too: every window parses, and the run holds every collection made while
 * it was open. */
TEST(trace_live_windows_cut_through_the_whole_run_recording_parse)
{
    pthread_t t[WORKERS];
    struct gcheap_stats before, opened, after;   /* around the run's start, after its stop */
    struct buf whole = BUF_INIT, e = BUF_INIT;
    char path[256], name[32];
    int bad = -1, parsed = 0;
    atomic_store(&churn_stop, 0);
    for (int i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, churn_worker, NULL);
    gcheap_stats(&before);
    CHECK_EQ_INT(trace_run_start(), 0);
    gcheap_stats(&opened);
    for (int win = 0; win < 6 && bad < 0; win++) {
        if (trace_start() < 0) { bad = win; break; }
        sleep_us(1000 + 500 * win);
        if (win % 3 == 2) { if (trace_cancel() < 0) bad = win; continue; }
        struct buf out = BUF_INIT, d = BUF_INIT;
        if (trace_stop(&out, NULL) < 0) bad = win;
        snprintf(name, sizeof name, "inrun%d.trace", win);
        if (save_and_dump(&out, name, path, sizeof path, &d) == 0) parsed++;
        else { bad = win; fputs(d.data ? d.data : "", stdout); }
        buf_free(&out);
        buf_free(&d);
    }
    atomic_store(&churn_stop, 1);
    for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
    CHECK_EQ_INT(trace_run_stop(&whole, NULL), 0);
    gcheap_stats(&after);
    CHECK_EQ_INT(bad, -1);
    CHECK_EQ_INT(parsed, 4);
    CHECK_EQ_INT(save_and_dump(&whole, "churn-run.trace", path, sizeof path, &e), 0);
    /* Every collection begun while it was open; one running at its start may be cut. */
    uint64_t gcs = (uint64_t)count(e.data, " GCStart ");
    CHECK_LE_U64(gcs, after.collections - before.collections);
    CHECK_GE_U64(gcs + 1, after.collections - opened.collections);
    CHECK_GT(gcs, 0);
    buf_free(&whole);
    buf_free(&e);
}

TEST(trace_opens_in_go_tool_trace_web_ui)
{
    CHECK(main_trace[0]);
    int port = free_port();
    CHECK_GT(port, 0);
    pid_t pid = start_viewer(main_trace, port);
    CHECK_GT(pid, 0);
    struct buf b = BUF_INIT;
    int up = 0;
    for (int i = 0; i < 150 && !up; i++) {
        up = http_get(port, "/", &b) == 200;
        if (!up) sleep_us(100000);
    }
    int js = http_get(port, "/jsontrace", &b);
    int gc_slices = count(b.data, "\"name\":\"GC\""), leaker_js = count(b.data, LEAKER);
    int noleaker_js = count(b.data, NOLEAKER);
    int gr = http_get(port, "/goroutines", &b);
    int gr_routes = count(b.data, ">" LEAKER "<") + count(b.data, ">" NOLEAKER "<");
    int ut = http_get(port, "/usertasks", &b);
    int ut_routes = !!strstr(b.data ? b.data : "", LEAKER) + !!strstr(b.data ? b.data : "", NOLEAKER);
    int mmu = http_get(port, "/mmuPlot?flags=mut|stw|background|assist|sweep", &b);
    int alive = waitpid(pid, NULL, WNOHANG) == 0;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    buf_free(&b);
    CHECK(up);
    CHECK(alive);
    CHECK_EQ_INT(js, 200);
    CHECK_GE(gc_slices, DEDICATED + REQUESTS / ASSIST_EVERY);
    CHECK_GT(leaker_js, 0);
    CHECK_GT(noleaker_js, 0);
    CHECK_EQ_INT(gr, 200);
    CHECK_EQ_INT(gr_routes, 2);
    CHECK_EQ_INT(ut, 200);
    CHECK_EQ_INT(ut_routes, 2);
    CHECK_EQ_INT(mmu, 200);
}

TEST(trace_parses_in_go123)
{
    struct buf d = BUF_INIT;
    char cmd[512];
    CHECK(main_trace[0]);
    snprintf(cmd, sizeof cmd, "GOTOOLCHAIN=local " GO123 " tool trace -http=127.0.0.1:0 -d=1 '%s'", main_trace);
    CHECK_EQ_INT(run(cmd, &d), 0);
    /* No task 0: Go 1.23 makes one, nameless and spanning the trace, out of any event
     * naming task 0 or a task end whose parent reads 0. */
    CHECK_GT(count(d.data, " TaskBegin "), WORKERS * REQUESTS);
    CHECK_EQ_INT(count(d.data, " Parent=0 "), 0);
    CHECK_EQ_INT(count(d.data, " Task=0 "), 0);
    CHECK_EQ_INT(count(d.data, " ID=0 "), 0);
    buf_free(&d);
}

int main(void)
{
    gcheap_init();
    if (trace_init() < 0) { puts("FAIL trace_init"); return 1; }
    snprintf(tmpdir, sizeof tmpdir, "%s/memdemo-trace.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    RUN(wire_request_gc_assist_and_preempt_parse);
    RUN(wire_streams_cut_short_are_closed_at_stop);
    RUN(wire_empty_window_parses);
    RUN(wire_thread_mode_one_goroutine_per_thread);
    RUN(trace_start_twice_is_ebusy);
    RUN(trace_stop_or_cancel_without_start_is_einval);
    RUN(trace_records_requests_and_collections_from_threads);
    RUN(trace_collection_on_a_thread_without_an_id_is_kept_on_that_thread);
    RUN(trace_tiny_buffer_drops_events_counts_them_and_still_parses);
    RUN(trace_request_begun_before_start_is_not_traced);
    RUN(trace_cancel_frees_and_a_new_trace_works);
    RUN(trace_windows_cut_through_busy_threads_parse);
    RUN(trace_live_window_inside_the_whole_run_recording);
    RUN(trace_live_windows_cut_through_the_whole_run_recording_parse);
    RUN(trace_opens_in_go_tool_trace_web_ui);
    if (access(GO123, X_OK) == 0) RUN(trace_parses_in_go123);
    else printf("SKIP trace_parses_in_go123: %s not installed\n", GO123);
    if (!unit__failures && !getenv("TEST_TRACE_KEEP")) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) perror("rm");
    } else {
        printf("(trace files kept in %s)\n", tmpdir);
    }
    UNIT_EXIT();
}
