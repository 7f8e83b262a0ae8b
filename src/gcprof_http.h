/* gcprof_http: libgcprof's live pages (GCPROF_HTTP / gcprof -http): /debug/pprof/heap,
 * allocs, symbol, cmdline and trace (memdemo's own handlers, src/debug_pprof.c), the
 * /debug/pprof/ index and /debug/vars, on a loopback address while the program runs.
 *
 * Owns: a small implementation of src/http.h over libmicrohttpd (one thread per
 * connection, so a deferred answer just waits on its own thread), the route table of
 * these pages, and ?gc=1, which is carried out by a program thread at its next
 * allocation (gcinterpose_collect) or refused with 503 and a reason when none comes
 * within GCPROF_HTTP_GC_TIMEOUT_MS. This is the smallest glue that serves memdemo's
 * handlers in a foreign program until memdemo's HTTP core can be started on its own
 * (router and hooks without memdemo's handlers and GC policy); /metrics and the
 * /debug/gc dashboard need that core and are not served here.
 *
 * Threads: libmicrohttpd's, unknown to bdwgc: nothing here calls bdwgc
 * (gcthreads_may_call_collector() is 0 on them; see gc/gcview.c).
 */
#ifndef MEMDEMO_GCPROF_HTTP_H
#define MEMDEMO_GCPROF_HTTP_H

/* How long ?gc=1 waits for a program thread to allocate and run the collection. */
#define GCPROF_HTTP_GC_TIMEOUT_MS 5000

/* Starts serving on addr (a loopback HOST:PORT that gcprof_settings accepted) and
 * prints "gcprof: serving http://HOST:PORT/debug/pprof/" on stderr (the port the
 * kernel picked when PORT is 0). Returns 0, or -1 after printing why. Once, from the
 * library's constructor. */
int gcprof_http_start(const char *addr);

/* Stops serving; waits for requests in progress. From the library's destructor. */
void gcprof_http_stop(void);

#endif
