/* pprof: writes heap-profile snapshots (struct heapsample) in the two formats
 * go tool pprof reads: gzipped profile.proto, like Go's /debug/pprof/heap and
 * /debug/pprof/allocs, and the legacy text format Go serves for ?debug=1.
 *
 * Owns: unsampling (the maths pprof itself uses), the profile builder (string table,
 * deduplicated functions and locations, mappings) and both encodings. Leaves to
 * others: taking the snapshot (the sampler), symbolization (profile/symbols), HTTP.
 * Errors: every writer returns 0, or -1 when memory ran out (or protobuf/zlib
 * failed); on -1 the sink may hold a partial profile and should be discarded.
 * Threads: any thread, concurrently with other writers on other sinks; not inside a
 * collection listener or with the world stopped (they lock symbols and malloc).
 * Nothing here allocates from, or keeps pointers into, the GC heap.
 */
#ifndef MEMDEMO_PPROF_H
#define MEMDEMO_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "profile/buf.h"
#include "profile/heapsample.h"

struct pprof_heap_opts {
    int64_t rate;                       /* sampling rate in bytes; <= 1: counts are exact */
    const char *default_sample_type;    /* NULL for heap (pprof shows inuse_space);
                                           "alloc_space" for allocs */
    int64_t time_nanos;                 /* collection time, ns since the epoch; 0 = now */
    int64_t duration_nanos;             /* delta profiles: window length; 0 = not a delta */
};

/* Unsamples a record of `count` sampled objects of `size` bytes taken at `rate`: an
 * object of size s stands for 1/(1-exp(-s/r)) objects. Truncates toward zero exactly
 * as Go's runtime/pprof and pprof's legacy parser do, so the protobuf and the legacy
 * text give pprof identical totals. rate <= 1, count 0 or size 0: no scaling.
 * Pure; any thread. */
void pprof_scale(uint64_t count, size_t size, int64_t rate, int64_t *objects, int64_t *bytes);

/* Appends to out a gzipped profile.proto heap profile of s[0..n): sample types
 * alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes;
 * period_type space/bytes, period = rate; values unsampled with pprof_scale; labels
 * bytes = object size (numeric) and, for a record that has one, label_key =
 * label_value (a string); locations at pc - 1 with their inline chains from
 * profile/symbols; mapping 1 = this executable. Records whose alloc and inuse counts
 * are both 0 are left out (as Go does). s may be NULL when n is 0: the result is
 * still a valid, empty profile. opts must not be NULL. Returns 0 or -1. */
int pprof_write_heap(struct buf *out, const struct heapsample *s, size_t n,
                     const struct pprof_heap_opts *opts);

/* Appends the legacy text heap profile (Go's ?debug=1) of s[0..n): the header
 * "heap profile: IN: IB [AN: AB] @ heap/<2*rate>", one "IN: IB [AN: AB] @ 0xpc..."
 * line per record (largest in-use bytes first) with "#\t0xpc\tfunc+0xoff\tfile:line"
 * comments, then trailer (NULL or lines starting with "# ", newline added if
 * missing). The format has no labels: records that differ only in their label give
 * lines with the same stack, which pprof adds up. Counts are RAW sampled counts: pprof
 * unsamples them itself with the header's rate, yielding the same totals as
 * pprof_write_heap. Returns 0 or -1. */
int pprof_write_heap_text(struct buf *out, const struct heapsample *s, size_t n,
                          const struct pprof_heap_opts *opts, const char *trailer);

#endif
