/* lograte: the token bucket for client-caused log lines. See lograte.h.
 *
 * Integer arithmetic on nanoseconds: the credit is time owed to the log, capped at a
 * burst's worth; a line spends LINE_NS of it. The first line starts with a full bucket.
 */
#include "src/lograte.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "gc/clock.h"

#define LINE_NS (UINT64_C(1000000000) / LOGRATE_PER_SECOND)
#define BURST_NS (LOGRATE_BURST * LINE_NS)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct lograte_bucket bucket;
static _Atomic uint64_t dropped_total;

int lograte_take(struct lograte_bucket *b, uint64_t now_ns, uint64_t *dropped_before)
{
    if (!b->started) {
        b->started = 1;
        b->credit_ns = BURST_NS;
        b->last_ns = now_ns;
    }
    uint64_t gained = now_ns > b->last_ns ? now_ns - b->last_ns : 0;
    b->last_ns = now_ns > b->last_ns ? now_ns : b->last_ns;
    b->credit_ns = gained >= BURST_NS - b->credit_ns ? BURST_NS : b->credit_ns + gained;
    if (b->credit_ns < LINE_NS) {
        b->dropped++;
        return 0;
    }
    b->credit_ns -= LINE_NS;
    *dropped_before = b->dropped;
    b->dropped = 0;
    return 1;
}

void lograte_vprintf(const char *fmt, va_list ap)
{
    uint64_t before = 0;
    pthread_mutex_lock(&lock);
    int pass = lograte_take(&bucket, clock_mono_ns(), &before);
    if (pass) {
        if (before)
            fprintf(stderr, "memdemo: %llu log lines dropped (more than %d a second)\n",
                    (unsigned long long)before, LOGRATE_PER_SECOND);
        vfprintf(stderr, fmt, ap);
    }
    pthread_mutex_unlock(&lock);
    if (!pass) atomic_fetch_add_explicit(&dropped_total, 1, memory_order_relaxed);
}

uint64_t lograte_dropped_total(void) { return atomic_load_explicit(&dropped_total, memory_order_relaxed); }
