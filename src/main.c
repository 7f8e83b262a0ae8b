/* main: memdemo's start-up and shutdown.
 *
 * Order matters: the collector first (it registers this thread), then the modules
 * that listen to collections, then the server; SIGINT/SIGTERM are blocked before any
 * thread starts so that only this thread receives them (sigwait), and the collector's
 * own suspend/restart signals stay unblocked everywhere.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "gc/gcheap.h"
#include "src/flags.h"
#include "src/handlers.h"
#include "src/server.h"

#define SHUTDOWN_GRACE_SECONDS 5.0

static void wait_for_stop_signal(const sigset_t *set)
{
    int sig = 0;
    while (sigwait(set, &sig) != 0) { /* interrupted: wait again */ }
    fprintf(stderr, "memdemo: %s: stopping (in-flight requests get %.0f s)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", SHUTDOWN_GRACE_SECONDS);
}

int main(int argc, char **argv)
{
    struct flags f;
    flags_parse(&f, argc, argv);

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    gcheap_init();
    gcheap_configure((unsigned long)f.gcdivisor, (size_t)f.gcinitheap);
    handlers_init((long)f.repetitions, argc, argv);

    char url[128], settings[256];
    if (server_start(f.addr, (int)f.threads, url, sizeof url) < 0) return 1;
    flags_describe(&f, settings, sizeof settings);
    fprintf(stderr, "memdemo: listening on %s (%s)\n", url, settings);

    wait_for_stop_signal(&stop);
    server_stop(SHUTDOWN_GRACE_SECONDS);
    return 0;
}
