/* signals: installing the profiler's signal handlers and directing a signal at one
 * thread, written once for every module that needs them (the CPU profiler's SIGPROF,
 * the thread list's capture signal, main()'s SIGINT and SIGTERM, bench/).
 *
 * Owns only the system calls and their flags. What a handler does is its module's
 * business; a handler must be async-signal-safe and keep errno as it found it.
 */
#ifndef MEMDEMO_SIGNALS_H
#define MEMDEMO_SIGNALS_H

#include <signal.h>
#include <sys/types.h>

typedef void (*signals_fn)(int sig, siginfo_t *si, void *ucontext);

/* Installs fn for sig (SA_SIGINFO | SA_RESTART, nothing else blocked while it runs);
 * the previous action goes to *old unless old is NULL. Returns 0, or -1 with errno set
 * (EINVAL: sig cannot be caught). Any thread. */
int signals_install(int sig, signals_fn fn, struct sigaction *old);

/* Sends sig to thread tid of this process (tgkill); sig 0 only asks whether the thread
 * still exists. Returns 0, or -1 with errno set (ESRCH: it has exited).
 * Async-signal-safe. */
int signals_to_thread(pid_t tid, int sig);

#endif
