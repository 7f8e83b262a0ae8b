/* test_server: src/server's start and stop, in process: a start that fails part way
 * (libmicrohttpd cannot get descriptors for some worker) gives back its listener, its
 * threads and every descriptor, and the server can start again afterwards; an acceptor
 * whose listening socket is shut down elsewhere leaves instead of spinning, and one whose
 * accept() fails while the socket still listens stays.
 */
#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
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

/* accept4 as src/server calls it in this binary: the kernel's, after the failures a
 * test asks for (fake_failures of them, with errno fake_errno). */
static _Atomic int fake_failures, fake_errno;
int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (atomic_load(&fake_failures) > 0) {
        atomic_fetch_sub(&fake_failures, 1);
        errno = atomic_load(&fake_errno);
        return -1;
    }
    return (int)syscall(SYS_accept4, fd, addr, len, flags);
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

/* Whether a request to 127.0.0.1:port gets an HTTP answer within 10 s. */
static int answers(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    char got[16] = "";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
             connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
             send(fd, "GET /x HTTP/1.0\r\n\r\n", 19, 0) == 19 && recv(fd, got, sizeof got - 1, MSG_WAITALL) > 0 &&
             strncmp(got, "HTTP/1.", 7) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

/* accept(2) may pass on a new connection's error (EOPNOTSUPP among those its manual
 * lists) while the socket still listens: the acceptor must stay and serve the next. */
TEST(acceptor_stays_when_accept_fails_on_a_listening_socket)
{
    struct conns_limits lim = small_limits();
    char url[128];
    atomic_store(&fake_errno, EOPNOTSUPP);
    atomic_store(&fake_failures, 3);
    CHECK_EQ_INT(server_start("127.0.0.1:0", 2, &lim, &no_pages, url, sizeof url), 0);
    for (int i = 0; i < 500 && atomic_load(&fake_failures) > 0; i++) usleep(10000);
    CHECK_EQ_INT(atomic_load(&fake_failures), 0);   /* the acceptor went on calling accept */
    CHECK(answers(atoi(strrchr(url, ':') + 1)));
    server_stop(0);
}

int main(void)
{
    RUN(failed_start_gives_back_listener_threads_and_descriptors);
    RUN(acceptor_leaves_when_its_listener_is_shut_down_elsewhere);
    RUN(acceptor_stays_when_accept_fails_on_a_listening_socket);
    UNIT_EXIT();
}
