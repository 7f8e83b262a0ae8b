/* procfs: small reads of the kernel's files (/proc, /sys), and the resident set.
 *
 * Owns: reading one small kernel file whole (a /proc figure, a cgroup limit), and the
 * one RSS reader of the program (/proc/self/statm: resident pages x page size), which
 * the pacer's memory limit needs here in gc/ and src/ (metrics, dashboard, the heap
 * profile's trailer) reads too. A leaf at the bottom of the tree, beside clock. Leaves
 * the parsing of other files to their users: profile/tasks (the per-thread files),
 * src/procstat (/proc/self/stat).
 *
 * No GC memory, no locks, no allocation: any thread, but not inside a collection
 * listener or a signal handler (these are system calls that may block).
 */
#ifndef MEMDEMO_PROCFS_H
#define MEMDEMO_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads the file at path into buf (at most n - 1 bytes, NUL-terminated; n >= 1).
 * Returns the bytes read, or -1 with errno set (buf is then ""). */
ssize_t procfs_read(const char *path, char *buf, size_t n);

/* The process's resident set in bytes, or -1 with errno set when /proc/self/statm
 * cannot be read or parsed. The first call opens the file and keeps the descriptor,
 * so later calls need none: make one at start-up (main does) and the figure stays
 * readable when descriptors run out. */
int64_t procfs_rss_bytes(void);

#endif
