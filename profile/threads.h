/* threads: memdemo's threads as Go's goroutine and threadcreate profiles see goroutines
 * and OS threads: every thread of the process with its name, state and current stack,
 * captured on demand, and the profiles of the stacks that created them.
 *
 * Owns: the thread list (TID, comm, state, wchan, through profile/tasks), on-demand
 * stack capture (each thread is sent THREADS_SIGNAL, whose handler walks its own stack
 * from the interrupted context into a preallocated slot), and the goroutine and
 * threadcreate writers (profile.proto through profile/pprof, Go's debug=1 and debug=2
 * texts). Leaves creation stacks and the count of threads created to
 * profile/threadhook (the pthread_create interposer), HTTP to src/.
 *
 * Threads: every function may be called from any thread except inside a collection
 * listener; captures are serialized by an internal lock. Memory: malloc'd only.
 */
#ifndef MEMDEMO_THREADS_H
#define MEMDEMO_THREADS_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "profile/buf.h"
#include "profile/tasks.h"

#define THREADS_SIGNAL (SIGRTMIN + 4)   /* the capture signal (glibc keeps the two below
                                           SIGRTMIN; bdwgc uses SIGPWR and SIGXCPU) */
#define THREADS_MAX 512          /* threads one capture lists */
#define THREADS_MAX_DEPTH 64     /* frames per stack */
#define THREADS_ANSWER_MS 200    /* how long a capture waits for threads to answer */

struct threads_entry {
    pid_t tid;
    char name[TASKS_COMM_LEN];   /* /proc/self/task/TID/comm */
    char state[72];              /* "running", "sleeping in do_epoll_wait", ... */
    int captured;                /* 1: pcs hold the thread's stack at capture time; 0: the
                                    thread did not answer and pcs[0] is the pc it entered
                                    its system call at, or threads_stack_not_captured */
    int npcs;
    uintptr_t pcs[THREADS_MAX_DEPTH];   /* pcs[0] = interrupted pc + 1, then returns */
    int creation;                /* index into threadhook_creations(), -1 unknown */
};

struct threads_snapshot {
    struct threads_entry *t;     /* malloc'd, n entries, in /proc/self/task order */
    int n;
    pid_t self;                  /* the capturing thread */
};

/* Lists every thread and captures its stack. A thread that does not answer within
 * THREADS_ANSWER_MS (one stopped by a collection answers when it resumes) is listed
 * with captured = 0. Returns 0, or -1 with errno set (ENOMEM, or /proc unreadable). */
int threads_capture(struct threads_snapshot *s);
void threads_snapshot_free(struct threads_snapshot *s);

/* Threads now in the process (entries of /proc/self/task), or -1 with errno set. */
int threads_count(void);

/* Stands in for a stack that could not be taken (never runs). */
void threads_stack_not_captured(void);

/* The goroutine profile of s: debug 0 = gzipped profile.proto (sample type
 * goroutine/count, one sample per distinct (stack, thread name) with a "thread"
 * label), 1 = Go's legacy count text, 2 = one stack per thread in Go's dump style
 * ("goroutine TID [state]:", frames, "created by ..."). Returns 0, or -1 with errno =
 * ENOMEM. */
int threads_write_goroutine(struct buf *out, const struct threads_snapshot *s, int debug);

/* The threadcreate profile (profile/threadhook's creation stacks): debug 0 = gzipped
 * profile.proto (threadcreate/count), otherwise Go's legacy count text. Returns 0, or
 * -1 with errno = ENOMEM. */
int threads_write_threadcreate(struct buf *out, int debug);

#endif
