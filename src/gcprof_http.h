/* gcprof_http: libgcprof's live pages (GCPROF_HTTP / gcprof -http) on a loopback
 * address while the program runs: the /debug surface of memdemo (src/debug_surface.h)
 * served by memdemo's HTTP core (src/server.h), limited to what watching a foreign
 * program allows: /debug/pprof/ (the index), heap, allocs, trace (a live window, also
 * while the whole run is recorded for PREFIX.trace: profile/trace.h), symbol and cmdline,
 * /debug/vars (with a "gcprof" section: the interposer's counts), /metrics and the
 * /debug/gc dashboard (bdwgc's figures, pauses and RSS: the program has no requests or
 * gauge of memdemo's to chart). Every request head is checked by the HTTP core's
 * gate before libmicrohttpd parses it, as in memdemo (src/reqgate.c exports recv so
 * that the libmicrohttpd loaded here reads through it).
 *
 * Owns: the router over those tables, what the host withholds from them
 * (GCPROF_HTTP_WITHHELD), the worker threads' hook (an id from gcthreads_note: never
 * registered with bdwgc), loading libmicrohttpd (src/gcprof_mhd.h), and ?gc=1, which
 * is carried out by a program thread at its next allocation (gcinterpose_collect) or
 * refused with 503 and a reason when none comes within GCPROF_HTTP_GC_TIMEOUT_MS.
 *
 * Threads: the server's, unknown to bdwgc: nothing here calls bdwgc
 * (gcthreads_may_call_collector() is 0 on them; see gc/gcview.c).
 */
#ifndef MEMDEMO_GCPROF_HTTP_H
#define MEMDEMO_GCPROF_HTTP_H

#include "src/debug_pprof.h"

/* Withheld from the surface (src/debug_pprof.h; they answer 404 with the reason and
 * the index does not list them): the CPU profile, goroutine and threadcreate signal
 * every thread of the process, the program's included; the block and mutex profiles
 * watch locks built with memdemo's lock profiler, which a foreign program's are not;
 * the profilers' switches would change how the program is watched while it runs. */
#define GCPROF_HTTP_WITHHELD (DEBUG_PPROF_SIGNALS | DEBUG_PPROF_OWN_LOCKS | DEBUG_PPROF_SWITCHES)

/* How long ?gc=1 waits for a program thread to allocate and run the collection. */
#define GCPROF_HTTP_GC_TIMEOUT_MS 5000

/* Server worker threads: a page waiting for ?gc=1 holds one. */
#define GCPROF_HTTP_THREADS 2

/* Starts serving on addr (a loopback HOST:PORT that gcprof_settings accepted) and
 * prints "gcprof: serving http://HOST:PORT/debug/pprof/" on stderr (the port the
 * kernel picked when PORT is 0). program (its path; must outlive the server) names
 * the dashboard. Returns 0, or -1 after printing why. Once, from the
 * library's constructor. */
int gcprof_http_start(const char *addr, const char *program);

/* Stops serving; waits for requests in progress. From the library's destructor. In a
 * child the program forked (without exec) it does nothing: the server is the parent's. */
void gcprof_http_stop(void);

#endif
