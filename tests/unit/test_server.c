/* test_server: src/server's start and stop, in process: a start that fails part way
 * (libmicrohttpd cannot get descriptors for some worker) gives back its listener, its
 * threads and every descriptor, and the server can start again afterwards; an acceptor
 * whose listening socket is shut down elsewhere leaves instead of spinning.
 */
#include <dirent.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "src/server.h"
#include "tests/unit/unit.h"

#define LIMIT 800   /* descriptors: above what conns asks for one connection (so it keeps it) */
#define SPARE 40    /* left free: enough for a few workers (two each), not for all */

/* Entries of a /proc directory; the descriptor opendir holds is not counted. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return strcmp(dir, "/proc/self/fd") == 0 ? n - 1 : n;
}

/* A router with no routes: every request is a 404 (this test serves none). */
static void no_routes(const void *router, const char *method, const char *path, struct http_match *m)
{
    (void)router; (void)method; (void)path; (void)m;
}
static const struct server_config no_pages = {no_routes, NULL, {0}, NULL};

static struct conns_limits small_limits(void)
{
    return (struct conns_limits){.max = 1, .max_per_addr = 0, .header_ns = CONNS_DEFAULT_HEADER_NS,
                                 .read_ns = CONNS_DEFAULT_READ_NS, .write_ns = CONNS_DEFAULT_WRITE_NS,
                                 .idle_ns = CONNS_DEFAULT_IDLE_NS};
}

TEST(failed_start_gives_back_listener_threads_and_descriptors)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct rlimit want = {LIMIT, rl.rlim_max};
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < LIMIT) SKIP("descriptor hard limit %ld is below %d", (long)rl.rlim_max, LIMIT);
    CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &want), 0);
    int fds0 = count_entries("/proc/self/fd"), tasks0 = count_entries("/proc/self/task");
    int filler[LIMIT], nfill = 0;
    while (count_entries("/proc/self/fd") < LIMIT - SPARE && nfill < LIMIT) filler[nfill++] = open("/dev/null", O_RDONLY);
    struct conns_limits lim = small_limits();
    char url[128];
    CHECK_EQ_INT(server_start("127.0.0.1:0", SERVER_MAX_THREADS, &lim, &no_pages, url, sizeof url), -1);
    for (int i = 0; i < nfill; i++) close(filler[i]);
    CHECK_EQ_INT(count_entries("/proc/self/fd"), fds0);
    CHECK_EQ_INT(count_entries("/proc/self/task"), tasks0);
    lim = small_limits();
    CHECK_EQ_INT(server_start("127.0.0.1:0", 2, &lim, &no_pages, url, sizeof url), 0);   /* and it starts again */
    server_stop(0);
    CHECK_EQ_INT(count_entries("/proc/self/fd"), fds0);
    CHECK_EQ_INT(count_entries("/proc/self/task"), tasks0);
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* The descriptor of this process's listening TCP socket on 127.0.0.1:port; -1 if none. */
static int listener_fd(int port)
{
    for (int fd = 0; fd < 1024; fd++) {
        struct sockaddr_in sa;
        socklen_t sl = sizeof sa;
        int listening = 0;
        socklen_t ll = sizeof listening;
        if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 && sa.sin_family == AF_INET &&
            ntohs(sa.sin_port) == port && getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) == 0 &&
            listening)
            return fd;
    }
    return -1;
}

/* How many of this process's threads are named name. */
static int threads_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char path[300], comm[64] = "";
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f && fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0;
        if (f) fclose(f);
        n += strcmp(comm, name) == 0;
    }
    closedir(d);
    return n;
}

/* Whether the count of threads named name reaches want within 5 s (a thread names
 * itself once it runs; one that leaves does so at once). */
static int named_threads_become(const char *name, int want)
{
    for (int i = 0; i < 500; i++) {
        if (threads_named(name) == want) return 1;
        usleep(10000);
    }
    return 0;
}

/* A listening socket shut down behind the server's back (a forked child's cleanup did
 * this) makes every accept() fail at once: the acceptor must leave, not spin on a core,
 * and server_stop() must still stop the rest. */
TEST(acceptor_leaves_when_its_listener_is_shut_down_elsewhere)
{
    struct conns_limits lim = small_limits();
    char url[128];
    CHECK_EQ_INT(server_start("127.0.0.1:0", 2, &lim, &no_pages, url, sizeof url), 0);
    int port = atoi(strrchr(url, ':') + 1);
    int fd = listener_fd(port);
    CHECK(fd >= 0);
    CHECK(named_threads_become("memdemo-accept", 1));   /* the acceptor names itself */
    CHECK_EQ_INT(shutdown(fd, SHUT_RDWR), 0);
    CHECK(named_threads_become("memdemo-accept", 0));
    server_stop(0);
}

int main(void)
{
    RUN(failed_start_gives_back_listener_threads_and_descriptors);
    RUN(acceptor_leaves_when_its_listener_is_shut_down_elsewhere);
    UNIT_EXIT();
}
