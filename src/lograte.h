/* lograte: a token bucket for the lines clients can make memdemo print.
 *
 * Owns: the rate at which such lines reach stderr, and the count of those it held
 * back. libmicrohttpd logs every malformed request (a 37-byte request wrote 196 bytes,
 * so a client could fill a disk at line rate); those lines go through here. A burst of
 * LOGRATE_BURST lines passes, then LOGRATE_PER_SECOND a second; a line over the rate is
 * dropped and counted, and the next line that passes is preceded by one saying how many
 * were dropped. Leaves what is logged to the callers (src/server.c). A leaf: it needs
 * only the clock.
 *
 * Threads: any thread (one mutex around the bucket); not from signal handlers or
 * collection listeners (it locks and writes).
 */
#ifndef MEMDEMO_LOGRATE_H
#define MEMDEMO_LOGRATE_H

#include <stdarg.h>
#include <stdint.h>

#define LOGRATE_BURST 20
#define LOGRATE_PER_SECOND 1

/* The bucket, in nanoseconds of credit: a line costs 1 s / LOGRATE_PER_SECOND, and the
 * credit refills at one ns per ns up to LOGRATE_BURST lines' worth. */
struct lograte_bucket {
    uint64_t credit_ns;
    uint64_t last_ns;        /* when credit_ns was last brought up to date */
    uint64_t dropped;        /* lines dropped since the last one that passed */
    int started;
};

/* Takes one line's cost at time now_ns (a monotonic clock). Returns 1 if the line may
 * be printed, and sets *dropped_before to the lines dropped since the previous one that
 * passed (then reset); returns 0 if it must be dropped (counted). Pure, no lock: the
 * caller serializes. Exposed for tests. */
int lograte_take(struct lograte_bucket *b, uint64_t now_ns, uint64_t *dropped_before);

/* Prints fmt (a whole line with its newline, as libmicrohttpd's log gives) to stderr
 * if the process-wide bucket allows, else counts it. Thread-safe. */
void lograte_vprintf(const char *fmt, va_list ap);

/* Lines dropped since start, process-wide (for /metrics). Lock-free read. */
uint64_t lograte_dropped_total(void);

#endif
