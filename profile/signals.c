/* signals: handler installation and thread-directed signals. See signals.h. */
#include "profile/signals.h"

#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int signals_install(int sig, signals_fn fn, struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, old);
}

int signals_to_thread(pid_t tid, int sig)
{
    return (int)syscall(SYS_tgkill, getpid(), tid, sig);
}
