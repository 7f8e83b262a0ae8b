/* threadhook: the process's pthread_create, so that memdemo sees every thread start:
 * the stack that created it (Go's threadcreate profile), how many were created, and
 * a list of start hooks other modules register to run in each new thread.
 *
 * Owns: the interposer, the creation-stack table, the TID -> creation stack map of
 * live threads, and the hook list. Leaves to others what a new thread needs: the CPU
 * profiler registers a hook that times the thread at once, and each module that sends
 * a thread a signal registers that signal to be unblocked. This module includes none
 * of them, so they may use it without a circle.
 *
 * How: this module defines pthread_create, which the executable exports (-rdynamic),
 * so libmicrohttpd's calls (dynamic linking looks in the executable first) and
 * bdwgc's (libgc.a is linked into it) come here as well as memdemo's own. It records
 * the caller's stack (glibc's backtrace(), which unwinds through libraries by their
 * unwind tables), then calls the C library's pthread_create (dlsym RTLD_NEXT) with a
 * small start routine that unblocks the registered signals, notes the new thread's
 * TID and runs the hooks before the real start routine. The main thread was created
 * by exec: its creation stack is the entry point.
 *
 * Threads: any thread, not inside a collection listener. Memory: malloc'd only, kept
 * until exit (creation stacks are few: one per distinct call site).
 */
#ifndef MEMDEMO_THREADHOOK_H
#define MEMDEMO_THREADHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define THREADHOOK_MAX_HOOKS 8

/* Registers a start hook: every thread created from now on unblocks sig (0: none)
 * and then calls fn (NULL: none) before its start routine. Threads that exist already
 * are not affected, so a module registers from a constructor, before main() and so
 * before bdwgc starts its marker threads (which start with every signal blocked). fn
 * runs on the new thread: it must not allocate GC memory (the thread is not registered
 * with the collector). Returns 0, or -1 with errno = ENOSPC when THREADHOOK_MAX_HOOKS
 * are registered. Any thread. */
int threadhook_on_start(void (*fn)(void), int sig);

/* Threads created since start, the main thread included (Go's threadcreate count).
 * Lock-free. */
uint64_t threadhook_created(void);

/* One creation stack: return addresses of the caller of pthread_create first, and how
 * many threads were created from it. */
struct threadhook_creation {
    const uintptr_t *pcs;        /* valid until exit */
    int npcs;
    uint64_t count;
};

/* A malloc'd copy of the creation table: entry 0 is the main thread (one frame,
 * _start), then one entry per distinct creation stack. *n gets its length. Returns
 * NULL (and *n = 0) with errno = ENOMEM when out of memory. */
struct threadhook_creation *threadhook_creations(size_t *n);

/* The index into threadhook_creations() of the stack that created live thread tid: 0
 * for the main thread, -1 when unknown (created before this module saw it, or more
 * than the live map holds). */
int threadhook_creation_of(pid_t tid);

#endif
