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

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Monotonic time in ns since an arbitrary start (CLOCK_MONOTONIC). */
uint64_t clock_mono_ns(void);

/* Wall-clock time in ns since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_ns(void);

/* Deadlines for threads that sleep on a condition variable: the one place the
 * arithmetic (monotonic now plus a delay, nanoseconds carried into seconds) is
 * written. clock_cond_init() makes *c time out on CLOCK_MONOTONIC, so a wall-clock
 * step cannot shorten or stretch a wait; it returns 0 or an errno value.
 * clock_mono_deadline() is the absolute time `after_ns` from now on that clock, as
 * pthread_cond_timedwait() wants it. Any thread. */
int clock_cond_init(pthread_cond_t *c);
struct timespec clock_mono_deadline(uint64_t after_ns);

#endif
