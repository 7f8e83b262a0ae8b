/* pproftool.h: running the real `go tool pprof` on profiles a unit test wrote, the
 * oracle of every profile test (test_pprof, test_cpuprof, test_threads, test_lockprof).
 *
 * pproftool_init() makes a temporary directory; profiles are written there and pprof
 * runs inside it with HOME and its caches there too, without the test binary at
 * hand, so every symbol must come from the profile itself. pproftool_done() removes it,
 * unless a test failed or TEST_PPROF_KEEP is set: then it is kept, to inspect. Go 1.19 is `go`; Go 1.23, when
 * installed, is PPROFTOOL_GO123 (tests that use it print SKIP when it is missing).
 */
#ifndef MEMDEMO_PPROFTOOL_H
#define MEMDEMO_PPROFTOOL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profile/buf.h"

#define PPROFTOOL_GO123 "/usr/lib/go-1.23/bin/go"

static char pproftool_dir[512];

/* Makes the temporary directory ($TMPDIR/NAME.XXXXXX, /tmp without TMPDIR). Returns 0,
 * or -1 (errno set) when it cannot. */
static inline int pproftool_init(const char *name)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(pproftool_dir, sizeof pproftool_dir, "%s/%s.XXXXXX",
                     tmp && *tmp ? tmp : "/tmp", name);
    if (n < 0 || (size_t)n >= sizeof pproftool_dir) return -1;
    return mkdtemp(pproftool_dir) ? 0 : -1;
}

/* Removes the directory; keeps it (and prints where) when failures > 0 or
 * TEST_PPROF_KEEP is set. */
static inline void pproftool_done(int failures)
{
    char cmd[sizeof pproftool_dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pproftool_dir);
    if (failures || getenv("TEST_PPROF_KEEP")) printf("# profiles kept in %s\n", pproftool_dir);
    else if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", pproftool_dir);
}

/* Writes b to NAME in the directory. Returns 0 or -1. */
static inline int pproftool_write(const char *name, const struct buf *b)
{
    char path[sizeof pproftool_dir + 64];
    snprintf(path, sizeof path, "%s/%s", pproftool_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(b->data, 1, b->len, f);
    return fclose(f) == 0 && w == b->len ? 0 : -1;
}

/* 1 if Go 1.23 is installed. */
static inline int pproftool_have_go123(void) { return access(PPROFTOOL_GO123, X_OK) == 0; }

/* Runs `GO tool pprof ARGS` inside the directory (GO: "go" or PPROFTOOL_GO123);
 * returns its output (malloc'd, stdout+stderr) and sets *status to its exit status. */
static inline char *pproftool_run_with(const char *go, const char *args, int *status)
{
    char cmd[4 * sizeof pproftool_dir + 1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && HOME='%s' GOCACHE='%s/gocache' PPROF_TMPDIR='%s' GOTOOLCHAIN=local "
             "%s tool pprof %s 2>&1", pproftool_dir, pproftool_dir, pproftool_dir, pproftool_dir,
             go, args);
    FILE *p = popen(cmd, "r");
    struct buf out = BUF_INIT;
    char chunk[4096];
    size_t n;
    if (!p) { *status = -1; return strdup(""); }
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) buf_append(&out, chunk, n);
    int rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    buf_putc(&out, '\0');
    return buf_take(&out, NULL);
}

static inline char *pproftool_run(const char *args, int *status) { return pproftool_run_with("go", args, status); }

/* Sums the first `ncols` value columns of `pprof -raw` sample lines ("  v v ...: ids")
 * into tot. Returns the number of samples, or -1 when the output has no samples part. */
static inline int pproftool_raw_totals(const char *raw, int ncols, long long *tot)
{
    const char *p = strstr(raw, "Samples:");
    const char *end = strstr(raw, "\nLocations");
    int samples = 0;
    for (int i = 0; i < ncols; i++) tot[i] = 0;
    if (!p || !end) return -1;
    for (p = strchr(p, '\n') + 1; p && p < end; p = strchr(p, '\n'), p = p ? p + 1 : p) {
        long long v[8];
        int k = 0, used = 0;
        const char *q = p;
        while (k < ncols && sscanf(q, "%lld%n", &v[k], &used) == 1) { q += used; k++; }
        if (k == ncols && *q == ':') {
            for (int i = 0; i < ncols; i++) tot[i] += v[i];
            samples++;
        }
    }
    return samples;
}

#endif
