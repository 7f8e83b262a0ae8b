/* gcthreads: registration of threads with the collector, and the dense thread ids the
 * profiler and tracer index their per-thread state by.
 *
 * Owns: GC_register_my_thread / GC_unregister_my_thread for threads memdemo does not
 * create itself (libmicrohttpd's workers) and the id table. A thread must call
 * gcthreads_enter() before its first GC allocation and before it holds any GC pointer;
 * it is unregistered automatically when it exits (a thread-exit hook).
 * Leaves to others: what per-thread state each module keeps (indexed by these ids).
 */
#ifndef MEMDEMO_GCTHREADS_H
#define MEMDEMO_GCTHREADS_H

#include <stdint.h>
#include <sys/types.h>

#define GCTHREADS_MAX 256   /* registered threads alive or dead over the process life */

/* Registers the calling thread if it is not yet registered, and returns its id
 * (0 .. GCTHREADS_MAX-1, dense, never reused). Cheap when already registered (one
 * thread-local test). Returns -1 with errno = ENOSPC if the table is full (the thread
 * then must not allocate; counted by gcthreads_refused()). The main thread is
 * registered by gcheap_init() and has id 0. */
int gcthreads_enter(void);

/* Gives the calling thread an id (as gcthreads_enter() does) WITHOUT registering it
 * with bdwgc: for libgcprof, where registering threads is the program's business.
 * Cheap when the thread has an id. Returns the id, or -1 if the table is full (the
 * thread then has no per-thread state: its trace events are lost). */
int gcthreads_note(void);

/* Whether the calling thread may call into bdwgc. Always 1 in memdemo, whose threads
 * reach gc/ only once registered. In a foreign program (after gcthreads__set_foreign(),
 * called once by libgcprof at load) only while the thread is inside the program's own
 * call into bdwgc, as gcthreads__program_call() says: the profiler's threads are
 * unknown to bdwgc, which does not take its lock in a single-threaded program and
 * kills a process when an unknown thread collects. Lock-free; thread-local. */
int gcthreads_may_call_collector(void);
void gcthreads__set_foreign(void);
/* Foreign mode: the calling thread enters (1) or leaves (0) a stretch in which it runs
 * on the program's behalf (an interposed allocation's slow path, the exit writer). */
void gcthreads__program_call(int inside);

/* The calling thread's id, or -1 if it is not registered. Lock-free; safe inside
 * collection listeners. */
int gcthreads_self(void);

/* Number of ids handed out so far (threads alive or exited). Lock-free. */
int gcthreads_count(void);

/* gcthreads_enter() calls refused because the table was full, since start. Lock-free. */
uint64_t gcthreads_refused(void);

/* The kernel thread id of thread `id`, or 0. Lock-free. */
pid_t gcthreads_tid(int id);

/* 1 while thread `id` is registered and has not exited. Lock-free. */
int gcthreads_alive(int id);

/* The id of the registered thread whose pthread_t is `pthread`, or -1. Lock-free, no
 * allocation: safe in collection listeners (used to map suspend events to ids). */
int gcthreads_find(uintptr_t pthread);

/* Sets fn to run on every thread with an id as it exits (a pthread key destructor),
 * while gcthreads_self() still answers; NULL: none. Once, at start. The tracer ends
 * the thread's goroutine with it. */
void gcthreads_set_exit_hook(void (*fn)(void));

/* Records the calling thread, which GC_INIT registered with bdwgc, as id 0. For
 * gcheap_init() only, once, right after GC_INIT. */
void gcthreads__register_main(void);

#endif
