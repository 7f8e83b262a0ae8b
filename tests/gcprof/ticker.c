/* ticker: a program that allocates a little every 10 ms for a while, to serve gcprof's
 * -http pages from, in two builds:
 *   - linked with bdwgc statically and the static variant of gcprof (gcprof-wrap.o and
 *     @gcprof-wrap.opts, README: Profile your own bdwgc program):
 *     tests/integration/gcprof_surface.sh checks that the request gate (src/reqgate.c)
 *     sees its server's bytes, as in a preloaded program;
 *   - with -DOWN_RECV, on libgc.so.1 and defining (and exporting, -rdynamic) recv(2)
 *     itself, as a program that wraps its own socket reads may: the dynamic linker then
 *     binds every library's recv to this one, libmicrohttpd's in libgcprof's -http
 *     server included, so the gate never sees that server's bytes:
 *     tests/integration/server_ungated.sh checks that the HTTP core's own framing
 *     checks (src/server.c) still refuse what the gate would have.
 *
 * Usage: ticker SECONDS: allocates for that long, then exits 0.
 * Build: cc -o ticker ticker.c gcprof-wrap.o @gcprof-wrap.opts -Wl,-Bstatic -lgc
 *        -Wl,-Bdynamic $(pkg-config --libs libprotobuf-c zlib libdw) -lpthread -ldl -lm
 *    or: gcc -rdynamic -DOWN_RECV -o ownrecv ticker.c -lgc
 */
#define _GNU_SOURCE
#include <gc.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef OWN_RECV
#include <sys/socket.h>
#include <sys/syscall.h>

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}
#endif

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
