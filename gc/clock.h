/* clock: the two clocks every layer of memdemo reads, in nanoseconds.
 *
 * Owns nothing but the choice of clock: CLOCK_MONOTONIC for durations, deadlines and
 * trace timestamps (it never jumps), CLOCK_REALTIME for the wall-clock stamps profiles
 * carry. A leaf at the bottom of the tree (gc/ uses it for pause accounting), so
 * profile/ and src/ may use it too without any dependency pointing upward.
 *
 * Both are async-signal-safe and safe inside collection listeners (clock_gettime through
 * the vDSO: no lock, no allocation, no system call on Linux x86-64).
 */
#ifndef MEMDEMO_CLOCK_H
#define MEMDEMO_CLOCK_H

#include <stdint.h>

/* Monotonic time in ns since an arbitrary start (CLOCK_MONOTONIC). */
uint64_t clock_mono_ns(void);

/* Wall-clock time in ns since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_ns(void);

#endif
