/* heapsample: the snapshot of the heap profiler that the profile writers consume.
 *
 * The sampler (profile/sampler) produces an array of these under its own lock and
 * hands it to a writer (pprof protobuf, legacy text). Counts are RAW sampled counts:
 * writers unsample them with the rate (an object of size s at rate r stands for
 * 1/(1-exp(-s/r)) objects; rate 1 means every allocation was sampled, no scaling).
 */
#ifndef MEMDEMO_HEAPSAMPLE_H
#define MEMDEMO_HEAPSAMPLE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

struct heapsample {
    const uintptr_t *pcs;    /* return addresses, caller of the allocator first (leaf first) */
    int npcs;
    size_t size;             /* bytes bdwgc handed out per object in this record */
    uint64_t alloc_count;    /* sampled objects allocated (ever, or in the delta window) */
    uint64_t inuse_count;    /* sampled objects live as of the last completed collection */
    const char *label_key;   /* a string label every sample carries ("route"), or NULL */
    const char *label_value; /* its value ("/leaker") */
};

/* The one unsampling formula: how many objects a sampled object of `size` bytes stands
 * for at `rate`. Sampling points form a Poisson process over allocated bytes with mean
 * gap `rate`, so such an object holds at least one point with probability
 * p = 1 - exp(-size/rate) and stands for 1/p objects. rate <= 1 (every allocation
 * sampled) or size <= 0: 1. The pprof writer applies it to a record's average size;
 * the sampler uses it to re-express counts taken at another rate. Pure. */
static inline double heapsample_weight(double size, int64_t rate)
{
    if (rate <= 1 || size <= 0) return 1.0;
    return 1 / (1 - exp(-size / (double)rate));
}

#endif
