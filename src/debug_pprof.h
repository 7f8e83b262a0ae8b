/* debug_pprof: the /debug/pprof endpoints, one table row per profile, following Go's
 * net/http/pprof contract so that go tool pprof and go tool trace fetch from this
 * server as from a Go one.
 *
 * Owns: the profile table (for each: its path and methods, the index page's line and
 * live count, the parameters it reads, its snapshot, delta and writer functions, or
 * the start/stop pair of a profile that records for a window), the one handler that
 * serves every row from it, the /debug/pprof/ index page built from the same rows,
 * /debug/pprof/cmdline and /debug/pprof/symbol. Leaves the data to profile/ (sampler,
 * lockprof, threads, cpuprof, trace), the encodings to profile/pprof and its kin, the
 * parameters and Go's answers to src/debug_http, the windows to src/debug_window.
 *
 * Every handler runs on a server worker thread (src/http.h's rules).
 */
#ifndef MEMDEMO_DEBUG_PPROF_H
#define MEMDEMO_DEBUG_PPROF_H

#include <stdint.h>

#include "src/router.h"

#define DEBUG_PPROF_PREFIX "/debug/pprof/"
/* Go's windows when ?seconds is absent: the CPU profile's and the trace's. */
#define DEBUG_PPROF_CPU_DEFAULT_SECONDS 30
#define DEBUG_PPROF_TRACE_DEFAULT_SECONDS 1

/* What a profile needs of its host beyond a heap to watch. memdemo gives all; a host
 * that cannot (libgcprof in a foreign program) withholds some, and the rows needing
 * them are then neither listed on the index nor served (a 404 that says why): the
 * table stays the one list of what is served. */
enum debug_pprof_needs {
    DEBUG_PPROF_SIGNALS = 1,     /* signals every thread of the process: profile, goroutine, threadcreate */
    DEBUG_PPROF_OWN_LOCKS = 2,   /* the host's locks are built with profile/lockprof: mutex, block */
    DEBUG_PPROF_SWITCHES = 4,    /* the profilers' switches (src/debug_switches), which the index links */
};

/* Withholds every row needing any of `needs` (0: serve all, the default). Main
 * thread, before serving. */
void debug_pprof_withhold(unsigned needs);

/* 1 if nothing in `needs` is withheld. Any thread. */
int debug_pprof_allows(unsigned needs);

/* Why something needing `needs` is not served (one clause, for "X is not served here:
 * ..."), or NULL when it is. Any thread; the text is static. */
const char *debug_pprof_withheld(unsigned needs);

/* /debug/pprof (a redirect to the index, as Go's mux answers) and /debug/pprof/ (the
 * index; any other name under it that no row serves gets Go's 404 "Unknown
 * profile"). Rows are struct router_route. */
extern const struct router_table debug_pprof_pages;

/* Most addresses one /debug/pprof/symbol request may ask about (more: 400). go tool
 * pprof asks, in one request, for every location of a mapping that its profile left
 * without a name; memdemo's own profiles name them all. At about a microsecond per
 * address (and the formatting of its line) this bounds a request's work on its worker
 * to about a millisecond (a 10,000-address body took 3-5 ms). */
#define DEBUG_PPROF_MAX_SYMBOLS 4096

/* /debug/pprof/NAME, a row per profile (and cmdline, symbol), in the order the index
 * lists them: Go's, by name. Rows start with a struct router_route. */
extern const struct router_table debug_pprof_profiles;

/* The address list of a symbol request, one word at a time: skips separators ('+', as
 * Go splits, and white space) from *p, reads the word up to the next separator or end,
 * and sets *pc to its value as Go reads it (strconv.ParseUint(word, 0, 64), see
 * src/numparse.h), or to 0 when it is not a number (Go skips those, and pc 0). Advances
 * *p past the word and returns 1; returns 0 when only separators were left. Pure; the
 * handler and tests/fuzz call it. */
int debug_pprof_next_pc(const char **p, const char *end, uint64_t *pc);

#endif
