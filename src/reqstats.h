/* reqstats: request counters and latency histograms per route, kept for /metrics and
 * the /debug/gc dashboard.
 *
 * Owns: one slot per row of the router it is given plus one for requests no row
 * matched; in each, the answers counted by HTTP status code and a histogram of
 * durations (from the dispatch of a request to its answer; for a deferred request, to
 * the answer its resume gave). Leaves the timing points to src/server.c (whose
 * answered hook a program points at reqstats_record) and the exposition to
 * src/metrics.c.
 *
 * Cost: a request pays a few relaxed atomic adds (one code counter, one bucket, the
 * duration sum) and a scan of at most REQSTATS_CODES small slots: no lock, no
 * allocation. Readers see each counter whole but not all of them at one instant.
 */
#ifndef MEMDEMO_REQSTATS_H
#define MEMDEMO_REQSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "src/router.h"

/* Histogram bucket upper bounds in nanoseconds, smallest first (the last bucket, +Inf,
 * is implied). Finer than Prometheus's default (5 ms .. 10 s): a /noleaker request takes
 * about 0.1 ms, a trace window seconds. */
#define REQSTATS_BOUNDS_NS(X)                                                        \
    X(50000) X(100000) X(250000) X(500000) X(1000000) X(2500000) X(5000000)          \
    X(10000000) X(25000000) X(50000000) X(100000000) X(250000000) X(500000000)      \
    X(1000000000) X(2500000000) X(5000000000) X(10000000000)
#define REQSTATS__ONE(ns) +1
#define REQSTATS_BUCKETS (0 REQSTATS_BOUNDS_NS(REQSTATS__ONE))   /* finite bounds */

extern const uint64_t reqstats_bounds_ns[REQSTATS_BUCKETS];

/* Distinct status codes counted per route; a further code is counted as code 0
 * ("other"). memdemo's handlers answer fewer than eight distinct codes per route. */
#define REQSTATS_CODES 12

/* Slots: 0 .. n-1 are the router's rows (router_at), n is "unmatched". */
#define REQSTATS_MAX_ROUTES 64

/* Counts requests by the rows of *rt (which must outlive the process; rows past
 * REQSTATS_MAX_ROUTES - 1 count as unmatched). Main thread, before serving. Until it
 * is called there is only the unmatched slot. */
void reqstats_init(const struct router *rt);

size_t reqstats_slots(void);   /* rows + 1, at most REQSTATS_MAX_ROUTES */

/* The slot of row `route` (NULL or not the router's: unmatched). */
size_t reqstats_slot_of(const void *route);

/* The label the slot goes by: the row's path, or "unmatched". */
const char *reqstats_slot_name(size_t slot);

/* Counts one answered request: row `route` (NULL if no row matched), HTTP status, and
 * how long it took. Any thread; lock-free; safe on the request path. Has the shape of
 * struct http_hooks' answered. */
void reqstats_record(const void *route, int status, uint64_t duration_ns);

/* One slot's histogram, read counter by counter. buckets[i] counts durations <=
 * reqstats_bounds_ns[i] and above the previous bound (not cumulative);
 * buckets[REQSTATS_BUCKETS] those above the last bound. count is their sum. */
struct reqstats_histogram {
    uint64_t buckets[REQSTATS_BUCKETS + 1];
    uint64_t count;
    uint64_t sum_ns;
};
void reqstats_histogram(size_t slot, struct reqstats_histogram *out);

/* Requests the slot has answered (the sum of its histogram). Any thread. */
uint64_t reqstats_total(size_t slot);

/* The slot's status codes with their counts: fills codes[]/counts[] (room for
 * REQSTATS_CODES + 1 entries; code 0 = codes past the table) and returns how many.
 * Any thread. */
int reqstats_codes(size_t slot, int *codes, uint64_t *counts);

#endif
