/* procstat: process figures from /proc and getrlimit. See procstat.h.
 *
 * /proc/self/stat (proc(5)): "pid (comm) state ppid ...": comm may contain spaces and
 * ')' so fields are counted from the LAST ')'. After it, field 3 is the state; the
 * ones used here are 14 utime, 15 stime (clock ticks), 20 num_threads, 22 starttime
 * (ticks after boot), 23 vsize (bytes), 24 rss (pages).
 */
#include "src/procstat.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gc/procfs.h"

int procstat_parse_stat(const char *text, double boot_time_unix, long ticks_per_second,
                        long page_size, struct procstat *p)
{
    const char *paren = strrchr(text, ')');
    if (!paren || ticks_per_second <= 0) return -1;
    unsigned long long v[25] = {0};   /* v[k] = field k (1-based); 3 is the state letter */
    const char *s = paren + 1;
    int field = 2;
    while (field < 24) {
        while (*s == ' ') s++;
        if (!*s || *s == '\n') return -1;
        field++;
        char *end;
        if (field == 3) { while (*s && *s != ' ') s++; continue; }   /* state */
        v[field] = strtoull(s, &end, 10);   /* priority and nice may be negative: unused */
        if (end == s) return -1;
        s = end;
    }
    p->cpu_seconds = (double)(v[14] + v[15]) / (double)ticks_per_second;
    p->threads = (int64_t)v[20];
    p->start_time_unix = boot_time_unix + (double)v[22] / (double)ticks_per_second;
    p->vsize_bytes = (int64_t)v[23];
    p->rss_bytes = (int64_t)v[24] * page_size;
    return 0;
}

/* "btime N" from /proc/stat; it never changes, so it is read once. */
static double boot_time(void)
{
    static _Atomic double cached = -1;   /* racing first calls store the same value */
    if (cached >= 0) return cached;
    FILE *f = fopen("/proc/stat", "re");
    char line[256];
    double bt = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "btime ", 6) == 0) { bt = strtod(line + 6, NULL); break; }
    if (f) fclose(f);
    cached = bt;
    return bt;
}

static int64_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1;   /* the directory's own descriptor */
}

static double soft_limit(int resource)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) < 0) return -1;
    return rl.rlim_cur == RLIM_INFINITY ? 18446744073709551615.0 : (double)rl.rlim_cur;
}

int procstat_read(struct procstat *p)
{
    char buf[1024];
    int rc = 0;
    p->cpu_seconds = p->start_time_unix = -1;
    p->rss_bytes = p->vsize_bytes = p->threads = -1;
    if (procfs_read("/proc/self/stat", buf, sizeof buf) < 0 ||
        procstat_parse_stat(buf, boot_time(), sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), p) < 0)
        rc = -1;
    if (boot_time() < 0) p->start_time_unix = -1;
    p->open_fds = count_fds();
    p->max_fds = soft_limit(RLIMIT_NOFILE);
    p->max_vsize_bytes = soft_limit(RLIMIT_AS);
    return rc;
}
