/* stacks: call-stack capture for sampled allocations, and the table that interns
 * them so that profiler memory grows with distinct stacks, not with samples.
 *
 * Owns: unwinding (memdemo's frame-pointer chain, checked against the thread's stack
 * bounds, up to memdemo's outermost frame: library frames below it are not kept;
 * glibc's backtrace() when the bounds are unknown), cutting off the
 * allocator's and the profiler's own frames (everything in the memdemo_alloc_text
 * section, see gcheap.h) so the top frame is the function that asked for memory, and
 * a hash table of unique stacks in malloc'd memory (never the GC heap). In libgcprof,
 * whose program has no frame pointers, capture goes through profile/unwind instead
 * (stacks_capture_by_unwind_tables).
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

/* Makes stacks_capture() unwind by the unwind tables (profile/unwind) and keep every
 * frame, leaving out the leading ones whose pc lies in [own_lo, own_hi): for a
 * foreign program built without frame pointers, watched by libgcprof, whose own text
 * that range is. Once, at load, before the first sample. */
void stacks_capture_by_unwind_tables(uintptr_t own_lo, uintptr_t own_hi);

/* Unwinds once so that glibc loads its unwinder before any sampled allocation (the
 * first backtrace() call allocates), and learns the main thread's stack bounds so
 * that signal handlers can walk it too. Main thread, at start-up. */
void stacks_init(void);

/* Walks the stack of a thread interrupted by a signal, from the ucontext_t the
 * SA_SIGINFO handler received: pcs[0] is the interrupted pc + 1 (so that writers,
 * which store every pc at pc - 1, land on the interrupted instruction), then the
 * return addresses of the frame-pointer chain starting at the interrupted rbp. Every
 * frame must lie between the interrupted rsp and the top of the thread's stack (the
 * bounds stacks_capture learnt for this thread, else the thread pointer: glibc puts
 * a thread's descriptor and static TLS at the top of the block it maps for the stack,
 * so everything from rsp up to it is mapped), be 8-aligned and grow; the walk stops
 * after the first return address outside the executable (libraries keep no frame
 * pointers) and after `max` (<= STACKS_MAX_DEPTH) entries. Code without frame
 * pointers (bdwgc's, libc's) therefore shows at least as its leaf pc.
 * Returns the count (>= 1 unless max < 1). ASYNC-SIGNAL-SAFE: no allocation, no
 * locks, reads nothing outside the thread's own stack. */
int stacks_walk_context(const void *ucontext, uintptr_t *pcs, int max);

/* The highest address a signal handler may read above sp on the calling thread's
 * stack (the bound stacks_walk_context uses), or 0 when it cannot tell.
 * ASYNC-SIGNAL-SAFE. */
uintptr_t stacks_signal_stack_top(uintptr_t sp);

/* The registers of an interrupted thread in DWARF numbering for x86-64: 0 rax, 1 rdx,
 * 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8..15 r8..r15, 16 rip. */
#define STACKS_NREGS 17
struct stacks_regs { uint64_t r[STACKS_NREGS]; };

/* Copies the registers of the context a signal interrupted and the live part of its
 * stack, from rsp up to the top stacks_signal_stack_top allows, at most cap bytes, so
 * that normal code can later unwind it by the unwind tables (symbols_unwind).
 * Returns the bytes copied. ASYNC-SIGNAL-SAFE. */
size_t stacks_copy_context(const void *ucontext, struct stacks_regs *regs, void *dst, size_t cap);

struct stacks_table;

/* A new empty table, or NULL when out of memory. */
struct stacks_table *stacks_table_new(void);

/* Frees t and every stack in it (NULL: nothing). */
void stacks_table_free(struct stacks_table *t);

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
