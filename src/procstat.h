/* procstat: the process's own figures from the kernel, as Prometheus's process
 * collector reports them (client_golang reads the same files): CPU time, resident and
 * virtual memory, start time, threads and file descriptors.
 *
 * Owns: parsing /proc/self/stat and /proc/stat (boot time) and counting /proc/self/fd;
 * the limits come from getrlimit. Leaves the quick RSS read to gc/procfs (whose small
 * file reader this uses) and naming and exposition to src/metrics.c. Linux only, like the rest of memdemo.
 *
 * Error convention: a figure that could not be read is -1 (the caller leaves it out).
 * No GC memory, no locks: any thread.
 */
#ifndef MEMDEMO_PROCSTAT_H
#define MEMDEMO_PROCSTAT_H

#include <stdint.h>

struct procstat {
    double cpu_seconds;          /* user + system CPU time */
    double start_time_unix;      /* seconds since the Unix epoch */
    int64_t rss_bytes;
    int64_t vsize_bytes;
    int64_t threads;
    int64_t open_fds;            /* descriptors open, not counting the one used to count */
    double max_fds;              /* soft RLIMIT_NOFILE; 2^64 - 1 when unlimited, as client_golang */
    double max_vsize_bytes;      /* soft RLIMIT_AS; likewise */
};

/* Reads everything. Returns 0, or -1 when /proc/self/stat could not be read (then its
 * figures are -1; the others are still filled). */
int procstat_read(struct procstat *p);

/* Parses the text of a /proc/PID/stat line into p's cpu_seconds, start_time_unix
 * (given the boot time and clock ticks per second), rss_bytes (given the page size),
 * vsize_bytes and threads. Returns 0, or -1 if the text is malformed. Exposed for
 * tests: the command name may hold spaces and parentheses. */
int procstat_parse_stat(const char *text, double boot_time_unix, long ticks_per_second,
                        long page_size, struct procstat *p);

#endif
