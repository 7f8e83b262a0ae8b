/* debug_pprof: the /debug/pprof HTTP endpoints, following Go's net/http/pprof contract
 * so that go tool pprof and go tool trace fetch from memdemo as from a Go server, plus
 * /debug/memprofilerate, which changes the sampling rate at run time.
 *
 * Owns: parameter parsing and validation (gc, debug, seconds, rate), Go's error answers
 * (text/plain with X-Go-Pprof: 1), delta profiles and trace windows over deferred
 * requests, and the /debug/pprof/ index page (generated from src/routes.c's table).
 * Leaves the data to profile/sampler and profile/trace, the encodings to profile/pprof
 * and profile/tracewire, and routing (paths, methods, 404, 405) to src/routes.c.
 *
 * Every handler runs on a server worker thread (src/http.h's rules).
 */
#ifndef MEMDEMO_DEBUG_PPROF_H
#define MEMDEMO_DEBUG_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "src/http.h"

/* Longest window /debug/pprof/heap?seconds=N and /debug/pprof/trace?seconds=N accept. */
#define DEBUG_PPROF_MAX_SECONDS 600

/* Most addresses one /debug/pprof/symbol request may ask about (more: 400). go tool
 * pprof asks, in one request, for every location of a mapping that its profile left
 * without a name; memdemo's own profiles name them all. At about a microsecond per
 * address (and the formatting of its line) this bounds a request's work on its worker
 * to about a millisecond (a 10,000-address body took 3-5 ms). */
#define DEBUG_PPROF_MAX_SYMBOLS 4096

/* Reads integer query parameter `key` into *out (dflt when absent). Returns 0, or -1
 * after answering 400 when it is not plain decimal digits in [lo, hi]. For every
 * /debug endpoint's parameters. */
int debug_pprof_int_param(struct http_request *req, const char *key, long long dflt, long long lo,
                          long long hi, long long *out);
/* Adds Go's headers of a profile download: Content-Disposition attachment with this
 * file name, X-Content-Type-Options: nosniff. */
void debug_pprof_attachment(struct http_request *req, const char *filename);

/* Remembers the command line /debug/pprof/cmdline answers. Main thread, at start;
 * argv must outlive the server. */
void debug_pprof_set_cmdline(int argc, char **argv);

/* /debug/pprof/: the index of profiles; any other name under /debug/pprof/ that no
 * route serves gets Go's 404 "Unknown profile". */
void debug_pprof_index(struct http_request *req);
/* /debug/pprof without the slash: a redirect to /debug/pprof/, as Go's mux answers. */
void debug_pprof_redirect(struct http_request *req);
/* /debug/pprof/heap and /debug/pprof/allocs (?gc=1, ?debug=1, ?seconds=N). */
void debug_pprof_heap(struct http_request *req);
void debug_pprof_allocs(struct http_request *req);
/* /debug/pprof/cmdline: the arguments, NUL-separated. */
void debug_pprof_cmdline(struct http_request *req);
/* /debug/pprof/symbol: Go's symbol lookup protocol (GET, or POST of addresses). */
void debug_pprof_symbol(struct http_request *req);
/* The address list of a symbol request, one word at a time: skips separators ('+', as
 * Go splits, and white space) from *p, reads the word up to the next separator or end,
 * and sets *pc to its value as Go reads it (strconv.ParseUint(word, 0, 64), see
 * src/numparse.h), or to 0 when it is not a number (Go skips those, and pc 0). Advances
 * *p past the word and returns 1; returns 0 when only separators were left. Pure; the
 * handler and tests/fuzz call it. */
int debug_pprof_next_pc(const char **p, const char *end, uint64_t *pc);
/* /debug/pprof/trace?seconds=N: an execution trace of the next N seconds. */
void debug_pprof_trace(struct http_request *req);
/* /debug/memprofilerate: GET shows the rate; ?rate=N sets it (0 off, 1 exact). */
void debug_memprofilerate(struct http_request *req);

/* Live counts the /debug/pprof/ index shows beside the heap profiles: distinct
 * allocation stacks. Takes the profiler lock; any thread. */
uint64_t debug_pprof_heap_count(void);
/* Server threads, threads created, and distinct stacks of the mutex and block profiles. */
uint64_t debug_pprof_goroutine_count(void);
uint64_t debug_pprof_threadcreate_count(void);
uint64_t debug_pprof_mutex_count(void);
uint64_t debug_pprof_block_count(void);

#endif
