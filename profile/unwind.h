/* unwind: call stacks of code built without frame pointers (a foreign program's, its
 * libraries'), by the unwind tables every x86-64 object carries (.eh_frame), through
 * libgcc's _Unwind_Backtrace: the way libgcprof captures a sampled allocation's stack.
 *
 * Owns: the walk (each frame's rule read once from its FDE and cached per thread;
 * libgcc's general unwinder, _Unwind_Backtrace, for the frames those rules cannot
 * step), the cutting of the profiler's own frames by address, and finding the text of
 * an object. Leaves interning to stacks.c, names to symbols.c. Frames without unwind
 * tables (JIT code) end the walk.
 *
 * Cost: measured on w3m's 1.8 million samples of -rate 1, the cached rules made exact
 * mode five times faster than libgcc's unwinder alone (which costs about 3 us per
 * 20-frame stack), with the same stacks; one capture per sample, so at the default
 * rate a program pays it every 512 KiB allocated. Not async-signal-safe (libgcc may
 * lock and, on first use, allocate; a thread's first capture allocates its cache):
 * only from the allocating thread.
 */
#ifndef MEMDEMO_UNWIND_H
#define MEMDEMO_UNWIND_H

#include <stdint.h>

/* Captures the caller's stack as return addresses, innermost first, leaving out the
 * leading frames whose pc lies in [skip_lo, skip_hi) (the profiler's own). Writes at
 * most max, returns the count (0 when nothing could be unwound). */
int unwind_capture(uintptr_t *pcs, int max, uintptr_t skip_lo, uintptr_t skip_hi);

/* Captures that needed libgcc's unwinder (a frame rule the cache cannot step: a
 * signal frame, a CFA expression). Relaxed; any thread. */
uint64_t unwind_fallbacks(void);

/* The executable segment of the loaded object that contains `addr` (a function of
 * the caller's object): [*lo, *hi). Returns 0, or -1 if no object contains it. */
int unwind_object_text(const void *addr, uintptr_t *lo, uintptr_t *hi);

#endif
