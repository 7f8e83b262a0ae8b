/* heapsample: the snapshot of the heap profiler that the profile writers consume.
 *
 * The sampler (profile/sampler) produces an array of these under its own lock and
 * hands it to a writer (pprof protobuf, legacy text). Counts are RAW sampled counts:
 * writers unsample them with the rate (an object of size s at rate r stands for
 * 1/(1-exp(-s/r)) objects; rate 1 means every allocation was sampled, no scaling).
 */
#ifndef MEMDEMO_HEAPSAMPLE_H
#define MEMDEMO_HEAPSAMPLE_H

#include <stddef.h>
#include <stdint.h>

struct heapsample {
    const uintptr_t *pcs;    /* return addresses, caller of the allocator first (leaf first) */
    int npcs;
    size_t size;             /* bytes requested per object in this record */
    uint64_t alloc_count;    /* sampled objects allocated (ever, or in the delta window) */
    uint64_t inuse_count;    /* sampled objects live as of the last completed collection */
};

#endif
