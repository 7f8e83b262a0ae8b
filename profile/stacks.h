/* stacks: call-stack capture for sampled allocations, and the table that interns
 * them so that profiler memory grows with distinct stacks, not with samples.
 *
 * Owns: unwinding (memdemo's frame-pointer chain, checked against the thread's stack
 * bounds, up to memdemo's outermost frame: library frames below it are not kept;
 * glibc's backtrace() when the bounds are unknown), cutting off the
 * allocator's and the profiler's own frames (everything in the memdemo_alloc_text
 * section, see gcheap.h) so the top frame is the function that asked for memory, and
 * a hash table of unique stacks in malloc'd memory (never the GC heap).
 */
#ifndef MEMDEMO_STACKS_H
#define MEMDEMO_STACKS_H

#include <stddef.h>
#include <stdint.h>

#define STACKS_MAX_DEPTH 128   /* frames kept per stack (deeper stacks are cut at the root end) */

/* Captures the caller's stack as return addresses, caller of the allocator first.
 * Writes at most `max` (<= STACKS_MAX_DEPTH) into pcs and returns the count (0 if
 * unwinding failed). Lock-free; may allocate once per thread (its stack bounds); not
 * for GC listeners. Must be called from code in the alloc text section. */
int stacks_capture(uintptr_t *pcs, int max);

/* Unwinds once so that glibc loads its unwinder before any sampled allocation (the
 * first backtrace() call allocates). Main thread, at start-up. */
void stacks_init(void);

struct stacks_table;

/* A new empty table, or NULL when out of memory. */
struct stacks_table *stacks_table_new(void);

/* The id (0-based, dense, stable) of the stack pcs[0..n), adding it if new.
 * Returns -1 when out of memory. Not synchronised: the caller holds its lock. */
int stacks_intern(struct stacks_table *t, const uintptr_t *pcs, int n);

/* The frames of stack `id`; *n gets their count. The pointer stays valid for the
 * table's life (stacks are never moved). */
const uintptr_t *stacks_get(const struct stacks_table *t, int id, int *n);

/* Number of distinct stacks interned. */
size_t stacks_count(const struct stacks_table *t);

/* Bytes the table has malloc'd (entries, index, frames). Not synchronised. */
size_t stacks_bytes(const struct stacks_table *t);

#endif
