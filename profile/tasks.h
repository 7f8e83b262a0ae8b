/* tasks: the process's threads as the kernel lists them, for the profilers that need
 * every thread, not only those memdemo started (bdwgc's markers, libmicrohttpd's
 * workers): the CPU profiler arms a timer on each, the thread list describes each.
 *
 * Owns: walking /proc/self/task and reading a thread's files there (comm, stat,
 * wchan, syscall). Leaves what the figures mean to its callers (profile/threads,
 * profile/cpuprof) and the file reading itself to gc/procfs.
 *
 * Any thread; no locks, no GC memory, no allocation beyond the directory stream; not
 * inside a collection listener or a signal handler (system calls that may block).
 */
#ifndef MEMDEMO_TASKS_H
#define MEMDEMO_TASKS_H

#include <stddef.h>
#include <sys/types.h>

#define TASKS_COMM_LEN 16      /* a thread name with its NUL, as the kernel keeps it */

/* Lists the thread ids of the process, in /proc/self/task order, writing at most max
 * of them to tids (tids may be NULL when max is 0). Returns how many threads there
 * are (possibly more than max), or -1 with errno set. */
int tasks_list(pid_t *tids, int max);

/* The first line of /proc/self/task/TID/FILE, without its newline, into out (size n;
 * "" when unreadable). Returns its length, or -1 with errno set (ENOENT: the thread
 * has exited). */
int tasks_read(pid_t tid, const char *file, char *out, size_t n);

/* The thread's name (its comm file) into name; "" and -1 (errno set) when unreadable. */
int tasks_comm(pid_t tid, char name[TASKS_COMM_LEN]);

#endif
