/* ticker: a program with bdwgc linked in statically, for the static variant of gcprof
 * (gcprof-wrap.o and @gcprof-wrap.opts, README: Profile your own bdwgc program):
 * tests/integration/gcprof_surface.sh serves its -http pages (GCPROF_HTTP) and checks
 * that the request gate (src/reqgate.c) sees their bytes, as in a preloaded program.
 *
 * Usage: ticker SECONDS: allocates a little every 10 ms for that long, then exits 0.
 * Build: cc -o ticker ticker.c gcprof-wrap.o @gcprof-wrap.opts -Wl,-Bstatic -lgc
 *        -Wl,-Bdynamic $(pkg-config --libs libprotobuf-c zlib libdw) -lpthread -ldl -lm
 */
#include <gc.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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
