/* ownrecv: a program on libgc.so.1 that defines (and exports) recv(2) itself, as a
 * program that wraps its own socket reads may. The dynamic linker then binds every
 * library's recv to this one, libmicrohttpd's in libgcprof's -http server included,
 * so the request gate (src/reqgate.c, whose recv libgcprof exports) never sees that
 * server's bytes: tests/integration/server_ungated.sh checks that the HTTP core's own
 * framing checks (src/server.c) still refuse what the gate would have.
 *
 * Usage: ownrecv SECONDS: allocates a little every 10 ms for that long, then exits 0.
 * Build: gcc -rdynamic -o ownrecv ownrecv.c -lgc (-rdynamic exports recv).
 */
#define _GNU_SOURCE
#include <gc.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}

int main(int argc, char **argv)
{
    GC_INIT();
    time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 10);
    void *volatile keep = NULL;
    while (time(NULL) < end) {
        for (int i = 0; i < 100; i++) keep = GC_MALLOC(64);
        usleep(10000);
    }
    (void)keep;
    return 0;
}
