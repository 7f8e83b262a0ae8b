/* pprof: the one profile builder every memdemo profile goes through (heap, allocs,
 * CPU, goroutine, threadcreate, mutex, block), writing what go tool pprof reads:
 * gzipped profile.proto, and Go's legacy debug=1 texts (heap, count profiles such as
 * goroutine and threadcreate, contention profiles such as mutex and block).
 *
 * Owns: unsampling of heap records (the maths pprof itself uses), the profile builder
 * (string table, deduplicated functions and locations, mappings), and the encodings.
 * What differs between profiles (sample types, period type and period, values and
 * labels per sample) is a parameter: struct pprof_desc and struct pprof_sample.
 * Leaves to others: taking the data (sampler, cpuprof, threads, lockprof),
 * symbolization (profile/symbols), HTTP.
 * Errors: every writer returns 0, or -1 with errno = ENOMEM when memory ran out (or
 * protobuf/zlib failed; EINVAL for a description without sample types); on -1 the
 * sink may hold a partial profile and should be discarded.
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

/* ---- the generic writer ------------------------------------------------------------ */

struct pprof_value_type { const char *type, *unit; };   /* e.g. {"cpu", "nanoseconds"} */

/* A sample label: a string label when str is not NULL, else numeric (num, num_unit
 * optional). Strings must outlive the write call. */
struct pprof_label {
    const char *key;
    const char *str;
    int64_t num;
    const char *num_unit;
};

/* One sample. pcs are RETURN ADDRESSES, leaf first; each becomes a location at pc - 1 so
 * that its line is the call's (a leaf that is an interrupted instruction, as in a CPU
 * profile, is stored by its producer as pc + 1). values has one entry per sample type. */
struct pprof_sample {
    const uintptr_t *pcs;
    int npcs;
    const int64_t *values;
    const struct pprof_label *labels;
    int nlabels;
};

/* What one profile is: its sample types (at least one), period type and period, the
 * type clients show by default (NULL: the last), wall-clock time (0 = now) and, for a
 * window, its length. Strings must outlive the write call. */
struct pprof_desc {
    const struct pprof_value_type *sample_types;
    int nsample_types;
    struct pprof_value_type period_type;
    int64_t period;
    const char *default_sample_type;
    int64_t time_nanos;
    int64_t duration_nanos;
};

/* Appends to out a gzipped profile.proto of samples s[0..n) described by d: locations
 * with their inline chains from profile/symbols, mappings of this process (mapping 1 =
 * this executable) with has_functions etc. set when every location in them resolved.
 * s may be NULL when n is 0 (a valid, empty profile). Returns 0 or -1. */
int pprof_write(struct buf *out, const struct pprof_desc *d, const struct pprof_sample *s,
                size_t n);

/* Go's legacy text for count profiles (goroutine, threadcreate at debug=1):
 * "NAME profile: total T", then per sample "COUNT @ 0xpc...", "# labels: {...}" when it
 * has labels, and one "#\t0xpc\tfunc+0xoff\tfile:line" line per frame. values[0] is the
 * count; samples are written in the order given (Go sorts by count, largest first).
 * Returns 0 or -1. */
int pprof_write_count_text(struct buf *out, const char *name, const struct pprof_sample *s,
                           size_t n);

/* Go's legacy text for contention profiles (mutex, block at debug=1): "--- NAME:",
 * "cycles/second=1000000000" (delays are nanoseconds, so a cycle is a nanosecond),
 * "sampling period=P" when period > 0 (pprof multiplies the values by it), an optional
 * "# comment" line, then per sample "DELAY COUNT @ 0xpc..." and its frames. values[0]
 * is the count, values[1] the delay in ns. Returns 0 or -1. */
int pprof_write_contention_text(struct buf *out, const char *name, int64_t period,
                                const struct pprof_sample *s, size_t n, const char *comment);

/* " @ 0xpc 0xpc...\n" helpers the other text formats share: the address list of a stack
 * ("@ 0x.. 0x..\n") and its frame comments followed by a blank line. */
void pprof_text_addresses(struct buf *out, const uintptr_t *pcs, int n);
void pprof_text_stack(struct buf *out, const uintptr_t *pcs, int n);

/* ---- heap profiles ----------------------------------------------------------------- */

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
 * Results past INT64_MAX are INT64_MAX. Pure; any thread. */
void pprof_scale(uint64_t count, size_t size, int64_t rate, int64_t *objects, int64_t *bytes);

/* Appends to out a gzipped profile.proto heap profile of s[0..n): sample types
 * alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes;
 * period_type space/bytes, period = rate; values unsampled with pprof_scale; labels
 * bytes = object size (numeric) and, for a record that has one, label_key =
 * label_value (a string); written by pprof_write. Records whose alloc and inuse counts
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
 * pprof_write_heap. Every figure (counts, bytes, sums) saturates at INT64_MAX, the most
 * pprof reads. Returns 0 or -1. */
int pprof_write_heap_text(struct buf *out, const struct heapsample *s, size_t n,
                          const struct pprof_heap_opts *opts, const char *trailer);

#endif
