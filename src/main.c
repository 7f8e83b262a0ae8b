/* main: memdemo's start-up and shutdown.
 *
 * Order matters: the collector first (it registers this thread), then the modules
 * that listen to collections, then the server (src/app.c wires memdemo's routes and
 * hooks into it).
 *
 * SIGINT/SIGTERM get a handler that writes to a pipe, and main() reads the pipe.
 * Blocking them and calling sigwait() is not enough: while bdwgc holds a thread
 * suspended for a collection it unblocks SIGINT and SIGTERM in that thread (so a stuck
 * process can still be killed), and the default action would then end the process.
 * A second signal, while the first one's grace period runs, ends the process at once
 * from the handler itself (write and _exit are async-signal-safe): the way to stop a
 * server that waits on requests which will not finish soon.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gc/gcheap.h"
#include "profile/lockprof.h"
#include "profile/sampler.h"
#include "profile/signals.h"
#include "profile/trace.h"
#include "src/app.h"
#include "src/debug_surface.h"
#include "src/flags.h"
#include "src/handlers.h"
#include "gc/procfs.h"
#include "src/procstat.h"
#include "src/reqgate.h"
#include "src/server.h"

#define SHUTDOWN_GRACE_SECONDS 5.0
#define FORCED_EXIT_STATUS 1

static int stop_pipe[2] = {-1, -1};
static atomic_int stop_signals;   /* lock-free, hence usable in a handler */

static void on_stop_signal(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    if (atomic_fetch_add(&stop_signals, 1) > 0) {
        static const char msg_int[] = "memdemo: second SIGINT: exiting now, in-flight requests are dropped\n";
        static const char msg_term[] = "memdemo: second SIGTERM: exiting now, in-flight requests are dropped\n";
        if (sig == SIGINT) (void)!write(2, msg_int, sizeof msg_int - 1);
        else (void)!write(2, msg_term, sizeof msg_term - 1);
        _exit(FORCED_EXIT_STATUS);
    }
    unsigned char b = (unsigned char)sig;
    int saved = errno;
    (void)!write(stop_pipe[1], &b, 1);   /* async-signal-safe; a full pipe is fine */
    errno = saved;
}

static int install_stop_handlers(void)
{
    if (pipe(stop_pipe) < 0) return -1;
    signal(SIGPIPE, SIG_IGN);
    return signals_install(SIGINT, on_stop_signal, NULL) < 0 ||
           signals_install(SIGTERM, on_stop_signal, NULL) < 0 ? -1 : 0;
}

/* Runs outside the collector's reach (gcheap_blocking): it touches no GC memory. */
static void *read_stop_pipe(void *out)
{
    while (read(stop_pipe[0], out, 1) != 1) { /* EINTR: read again */ }
    return NULL;
}

static void wait_for_stop_signal(void)
{
    unsigned char sig = 0;
    gcheap_blocking(read_stop_pipe, &sig);
    fprintf(stderr, "memdemo: %s: stopping (in-flight requests get %.0f s; signal again to exit now)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", SHUTDOWN_GRACE_SECONDS);
}

/* One line per bdwgc variable that defeats a flag (gcheap.h); exits 2 after them if one
 * of them would leave the heap unbounded. */
static void check_gc_environment(void)
{
    struct gcheap_env_conflict c[16];
    int n = gcheap_env_conflicts(c, 16), fatal = 0;
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "memdemo: %s=%s in the environment %s%s\n", c[i].name, c[i].value, c[i].effect,
                c[i].fatal ? "; unset it" : "");
        fatal |= c[i].fatal;
    }
    if (fatal) exit(2);
}

int main(int argc, char **argv)
{
    struct flags f;
    flags_parse(&f, argc, argv);
    check_gc_environment();

    if (install_stop_handlers() < 0) { perror("memdemo: signal set-up"); return 1; }

    gcheap_init_mode((enum gcheap_mode)f.gcmode);
    gcheap_configure(&(struct gcheap_config){
        .initial_heap = (size_t)f.gcinitheap,
        .gogc = (int)f.gogc,
        .memlimit = (uint64_t)f.memlimit,
        .maxheap = (uint64_t)f.maxheap,
    });
    handlers_init((long)f.repetitions);
    debug_surface_init(argc, argv);
    /* The symbolizer (libdw) starts on the first profile request, not here: reading
     * the ELF and DWARF of every library costs 2 MB of RSS nobody needs until then. */
    if (sampler_init(f.memprofilerate) < 0 || trace_init() < 0) {
        fprintf(stderr, "memdemo: cannot start the profiler: out of memory\n");
        return 1;
    }
    trace_set_buffer_cap((size_t)f.tracebuf);
    procfs_rss_bytes();   /* opens /proc/self/statm while descriptors are plenty */
    lockprof_set_mutex_fraction(f.mutexprofilefraction);
    lockprof_set_block_rate(f.blockprofilerate);

    char url[128], settings[512], err[160];
    if (reqgate_allow_hosts(f.allowhost, err, sizeof err) < 0) {
        fprintf(stderr, "memdemo: %s\n", err);
        return 2;
    }
    struct conns_limits limits = {
        .max = f.max_conns, .max_per_addr = f.max_conns_per_ip,
        .header_ns = f.read_header_timeout, .read_ns = f.read_timeout,
        .write_ns = f.write_timeout, .idle_ns = f.idle_timeout,
    };
    if (app_start(f.addr, (int)f.threads, &limits, url, sizeof url) < 0) return 1;
    f.max_conns = limits.max;   /* as lowered to fit the descriptor limit, if it was */
    flags_describe(&f, settings, sizeof settings);
    fprintf(stderr, "memdemo: listening on %s (%s)\n", url, settings);

    wait_for_stop_signal();
    server_stop(SHUTDOWN_GRACE_SECONDS);
    return 0;
}
