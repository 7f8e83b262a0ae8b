/* debug_switches: the profilers' run-time switches, one table row each:
 * /debug/memprofilerate (the heap profile's sampling rate), /debug/mutexprofilefraction
 * and /debug/blockprofilerate.
 *
 * Owns the rule for changing state over HTTP: GET (or HEAD) shows the value; a change
 * needs POST with ?rate=N. A GET that carries ?rate= is refused with 400 and a line
 * saying to POST, rather than 405: GET is allowed on these paths (it reads), it just
 * cannot write. So a page on another site (which can make a browser send GETs, and
 * simple-form POSTs only to what it names) cannot flip a profiler by an <img> tag, and
 * a crawler or a prefetching proxy never does. Leaves the switches themselves to
 * profile/sampler and profile/lockprof, the parameter's grammar to src/debug_http.
 */
#ifndef MEMDEMO_DEBUG_SWITCHES_H
#define MEMDEMO_DEBUG_SWITCHES_H

#include "src/router.h"

/* Largest ?rate= a switch takes (2^40: a byte rate of a TiB, a nanosecond rate of 18 min). */
#define DEBUG_SWITCHES_MAX_RATE (INT64_C(1) << 40)

/* The rows; each starts with a struct router_route. */
extern const struct router_table debug_switches;

#endif
