/* heapstacks: how long memdemo takes to serve /debug/pprof/heap when the profile holds
 * many distinct stacks (issue "Benchmarks: time to serve /debug/pprof/heap with 10,000
 * distinct stacks"). memdemo's own handlers make only a handful of stacks, so the
 * server cannot be driven there over HTTP: this program links the library objects
 * (gc/, profile/, src/ without main.c), makes the stacks itself, then runs the real
 * server in-process and fetches the profile over loopback, as go tool pprof would.
 *
 * Owns: making N distinct real call stacks in exact mode (sampler rate 1: every
 * allocation is a sample), timing GET /debug/pprof/heap, ?debug=1 and ?gc=1 with curl
 * (child processes, 127.0.0.1 only), and one `go tool pprof -raw` parse of the profile.
 * Leaves serving, sampling and encoding to the code under test: nothing here reaches
 * into it beyond the public start-up calls (the server runs the /debug surface alone,
 * src/debug_surface.h, on memdemo's collector policy).
 *
 * Stacks: descend_a and descend_b call one another (or themselves) once per level,
 * choosing by one bit of the stack's number, so each of the 2^depth paths leaves a
 * different sequence of return addresses; depth is at least 14 (16,384 paths). Every
 * path allocates one object, kept alive so inuse_space holds them too.
 *
 * Environment: HEAPSTACKS_N [10000] distinct stacks (1..1000000), HEAPSTACKS_FETCHES
 * [9] timed fetches per variant (1..100), fetches of the variants interleaved; a
 * variant stops early once its fetches took 8 s in all (the line says how many ran),
 * which keeps a slow variant from making the whole run slow.
 * Output (stdout), one line per variant and one for the parse check:
 *   heap profile with N stacks: median X ms, max Y ms, Z bytes (GET /debug/pprof/heap, F fetches)
 *   go tool pprof -raw: ok (S samples)      or      go tool pprof -raw: fail (why)
 * Exit status: 0 when every figure was measured and pprof read the profile; 1 when
 * something failed (its line says what); 2 for a bad environment value.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gc/gcheap.h"
#include "profile/sampler.h"
#include "profile/symbols.h"
#include "profile/trace.h"
#include "gc/gcthreads.h"
#include "src/debug_surface.h"
#include "src/server.h"

extern char **environ;

#define MIN_DEPTH 14          /* levels of descent: 2^14 = 16,384 paths */
#define OBJECT_SIZE 48        /* one size, so records = stacks */
#define MAX_FETCHES 100
#define SERVER_THREADS 2
#define GRACE_SECONDS 5.0
#define VARIANT_BUDGET_MS 8000.0   /* a variant this slow gets fewer fetches */

/* ---- distinct stacks ------------------------------------------------------------- */

static void **kept;           /* a static root: every object stays in use */

/* noipa: never inlined, cloned or merged (the two bodies are identical), so each
 * call site is a distinct return address. The barrier after each call rules out tail
 * calls, which would drop the frame. */
__attribute__((noipa)) static void descend_b(unsigned long path, int level, size_t slot);

__attribute__((noipa)) static void descend_a(unsigned long path, int level, size_t slot)
{
    if (level == 0) kept[slot] = gcheap_alloc_data(OBJECT_SIZE);
    else if (path & 1) descend_b(path >> 1, level - 1, slot);
    else descend_a(path >> 1, level - 1, slot);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noipa)) static void descend_b(unsigned long path, int level, size_t slot)
{
    if (level == 0) kept[slot] = gcheap_alloc_data(OBJECT_SIZE);
    else if (path & 1) descend_b(path >> 1, level - 1, slot);
    else descend_a(path >> 1, level - 1, slot);
    __asm__ volatile("" ::: "memory");
}

/* Allocates from n distinct stacks; returns how many new stacks the sampler saw. */
static unsigned long make_stacks(size_t n, int *depth)
{
    struct sampler_stats before, after;
    *depth = MIN_DEPTH;
    while ((1ul << *depth) < n) (*depth)++;
    kept = gcheap_alloc(n * sizeof *kept);
    sampler_stats(&before);
    for (size_t i = 0; i < n; i++) descend_a(i, *depth, i);
    sampler_stats(&after);
    return (unsigned long)(after.stacks - before.stacks);
}

/* ---- child processes ------------------------------------------------------------- */

static char tmpdir[256];

static void tmp_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

/* Runs argv (PATH search) with stdout and stderr into files under tmpdir and waits.
 * Returns its exit status, 128 + signal if killed, or -1 if it could not start. */
static int run_child(char *const argv[], const char *out_name, const char *err_name)
{
    char out[320], err[320];
    tmp_path(out, sizeof out, out_name);
    tmp_path(err, sizeof err, err_name);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;    /* a collection's signals may interrupt */
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The first line of tmpdir/name, without its newline, into out ("" if none). */
static void first_line(const char *name, char *out, size_t n)
{
    char path[320];
    tmp_path(path, sizeof path, name);
    FILE *f = fopen(path, "r");
    out[0] = 0;
    if (f && fgets(out, (int)n, f)) out[strcspn(out, "\n")] = 0;
    if (f) fclose(f);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void remove_tmpdir(void)
{
    if (tmpdir[0]) nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- timed fetches --------------------------------------------------------------- */

struct variant {
    const char *path;
    const char *body;             /* file under tmpdir the last fetch's body went to */
    double ms[MAX_FETCHES];
    int n;
    double spent_ms;              /* sum of ms[] */
    long long bytes;
    char failed[160];             /* why a fetch failed; "" if none did */
};

/* One GET of base+v->path with curl; adds its time_total to v. Returns 0 or -1. */
static int fetch(const char *base, struct variant *v)
{
    char url[256], body[320], wline[128];
    snprintf(url, sizeof url, "%s%s", base, v->path);
    tmp_path(body, sizeof body, v->body);
    char *argv[] = {"curl", "-sS", "-o", body, "-w", "%{http_code} %{time_total} %{size_download}",
                    "--max-time", "60", url, NULL};
    int rc = run_child(argv, "curl.out", "curl.err");
    first_line("curl.out", wline, sizeof wline);
    int code = 0;
    double secs = 0;
    long long size = 0;
    if (rc != 0 || sscanf(wline, "%d %lf %lld", &code, &secs, &size) != 3 || code != 200) {
        char err[120];
        first_line("curl.err", err, sizeof err);
        snprintf(v->failed, sizeof v->failed, "curl exited %d, status %d %s", rc, code, err);
        return -1;
    }
    v->ms[v->n++] = secs * 1000;
    v->spent_ms += secs * 1000;
    v->bytes = size;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Prints v's line; returns 0 if all its fetches succeeded. */
static int report(const struct variant *v, size_t stacks)
{
    if (v->failed[0] || v->n == 0) {
        printf("heap profile with %zu stacks: fail (GET %s: %s)\n", stacks, v->path, v->failed);
        return -1;
    }
    double s[MAX_FETCHES];
    memcpy(s, v->ms, (size_t)v->n * sizeof *s);
    qsort(s, (size_t)v->n, sizeof *s, cmp_double);
    double median = v->n % 2 ? s[v->n / 2] : (s[v->n / 2 - 1] + s[v->n / 2]) / 2;
    printf("heap profile with %zu stacks: median %.2f ms, max %.2f ms, %lld bytes (GET %s, %d fetches)\n",
           stacks, median, s[v->n - 1], v->bytes, v->path, v->n);
    return 0;
}

/* ---- go tool pprof --------------------------------------------------------------- */

/* Sample lines of `go tool pprof -raw`: "  V1 V2 V3 V4: LOC..." between "Samples:"
 * and "Locations". Returns their count, or -1 if the file cannot be read. */
static long raw_samples(const char *name)
{
    char path[320], line[4096];
    tmp_path(path, sizeof path, name);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long n = 0;
    int in = 0;
    long long a, b, c, d;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Samples:", 8) == 0) in = 1;
        else if (strncmp(line, "Locations", 9) == 0) in = 0;
        else if (in && sscanf(line, " %lld %lld %lld %lld:", &a, &b, &c, &d) == 4) n++;
    }
    fclose(f);
    return n;
}

/* Parses the body of `v` with go tool pprof -raw; prints ok or fail. Returns 0 if ok. */
static int check_pprof(const struct variant *v, size_t stacks)
{
    char body[320], err[200];
    tmp_path(body, sizeof body, v->body);
    char *argv[] = {"go", "tool", "pprof", "-raw", body, NULL};
    int rc = run_child(argv, "raw.out", "raw.err");
    long n = rc == 0 ? raw_samples("raw.out") : -1;
    if (rc == 0 && n >= (long)stacks) {
        printf("go tool pprof -raw: ok (%ld samples)\n", n);
        return 0;
    }
    first_line("raw.err", err, sizeof err);
    if (rc == 0) printf("go tool pprof -raw: fail (%ld samples, want >= %zu)\n", n, stacks);
    else printf("go tool pprof -raw: fail (exited %d: %s)\n", rc, err);
    return -1;
}

/* ---- the run --------------------------------------------------------------------- */

/* The integer in environment variable `name` (default if unset), or -1 if it is not
 * an integer in [lo, hi]. */
static long env_int(const char *name, long def, long lo, long hi)
{
    const char *s = getenv(name);
    if (!s || !*s) return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "heapstacks: %s must be an integer in %ld..%ld, got '%s'\n", name, lo, hi, s);
        return -1;
    }
    return v;
}

static int make_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/memdemo-heapstacks.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) { perror("heapstacks: mkdtemp"); tmpdir[0] = 0; return -1; }
    setenv("PPROF_TMPDIR", tmpdir, 1);   /* before any other thread exists */
    return 0;
}

/* Fetches every variant `fetches` times, interleaved, except that a variant whose
 * fetches took VARIANT_BUDGET_MS in all stops early. Returns 0 if all succeeded. */
static int time_variants(const char *base, struct variant *v, int nv, int fetches)
{
    int rc = 0;
    for (int i = 0; i < fetches; i++)
        for (int j = 0; j < nv; j++) {
            if (v[j].failed[0] || v[j].spent_ms >= VARIANT_BUDGET_MS) continue;
            if (fetch(base, &v[j]) < 0) rc = -1;
        }
    return rc;
}

static int serve_and_measure(size_t stacks, int fetches)
{
    char url[128];
    struct conns_limits limits = {   /* the server's defaults (src/conns.h) */
        .max = CONNS_DEFAULT_MAX, .max_per_addr = CONNS_DEFAULT_MAX_PER_ADDR,
        .header_ns = CONNS_DEFAULT_HEADER_NS, .read_ns = CONNS_DEFAULT_READ_NS,
        .write_ns = CONNS_DEFAULT_WRITE_NS, .idle_ns = CONNS_DEFAULT_IDLE_NS,
    };
    struct server_config cfg = {router_match, &debug_surface_router, {.thread_enter = gcthreads_enter}};
    if (server_start("127.0.0.1:0", SERVER_THREADS, &limits, &cfg, url, sizeof url) < 0) return -1;
    struct variant v[] = {
        {.path = "/debug/pprof/heap", .body = "heap.pb.gz"},
        {.path = "/debug/pprof/heap?debug=1", .body = "heap.txt"},
        {.path = "/debug/pprof/heap?gc=1", .body = "heap.gc.pb.gz"},
    };
    int nv = (int)(sizeof v / sizeof v[0]), rc = time_variants(url, v, nv, fetches);
    server_stop(GRACE_SECONDS);
    for (int j = 0; j < nv; j++) rc |= report(&v[j], stacks);
    if (!v[0].failed[0]) rc |= check_pprof(&v[0], stacks);
    return rc;
}

int main(int argc, char **argv)
{
    long n = env_int("HEAPSTACKS_N", 10000, 1, 1000000);
    long fetches = env_int("HEAPSTACKS_FETCHES", 9, 1, MAX_FETCHES);
    if (n < 0 || fetches < 0) return 2;
    signal(SIGPIPE, SIG_IGN);
    if (make_tmpdir() < 0) return 1;

    gcheap_init();
    debug_surface_init(argc, argv);
    if (symbols_init() < 0) fprintf(stderr, "heapstacks: warning: no symbols; profiles will show addresses\n");
    if (sampler_init(1) < 0 || trace_init() < 0) { fprintf(stderr, "heapstacks: out of memory\n"); return 1; }

    int depth;
    unsigned long made = make_stacks((size_t)n, &depth);
    printf("heapstacks: %lu new distinct stacks from %ld paths %d calls deep (exact mode), %ld fetches per variant\n",
           made, n, depth, fetches);
    int rc = 0;
    if (made < (unsigned long)n) {
        printf("heapstacks: fail (the sampler saw %lu distinct stacks, want >= %ld)\n", made, n);
        rc = -1;
    }
    fflush(stdout);
    rc |= serve_and_measure(made, (int)fetches);
    remove_tmpdir();
    return rc ? 1 : 0;
}
