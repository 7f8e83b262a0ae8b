/* errors: memdemo's one error convention, written down here once, and the helper that
 * applies it. Every layer follows it (src -> profile -> gc); this header sits at the
 * bottom so that any file may include it.
 *
 * 1. A function that can fail returns -1 (int) or NULL (pointer) and sets errno to say
 *    why: ENOMEM (out of memory), EINVAL (a bad argument or state: no window open),
 *    EBUSY (already running), ENOSPC (a fixed-size table is full), or the errno of the
 *    system call that failed. Success is 0, or a count or an id (>= 0) where the
 *    function's contract says so. Nothing else signals failure: no enums of error
 *    codes, no messages.
 * 2. A lookup that finds nothing is not a failure: it says so in its value (0 frames,
 *    a NULL name, id -1) as its contract states, and leaves errno alone.
 * 3. A loss that does not fail the call (a sample the heap profiler could not record, a
 *    trace event with no room in its buffer, a CPU sample the ring had no cell for, a
 *    thread the CPU profiler could not time) is counted in the owning module's stats
 *    struct, whose X-macro field list the reports print (/debug/vars). Nothing is
 *    dropped without a counter moving.
 * 4. gc/ and profile/ never print. src/ prints only at start-up (main, flag parsing,
 *    the server failing to start); a running server answers with HTTP status codes
 *    (4xx with a one-line reason for bad input) and counters instead.
 * 5. abort() only for a broken invariant (a bdwgc build that breaks an assumption the
 *    code is built on, a fixed table the program itself sized too small) and for an
 *    allocation documented as infallible that the system refuses (gcheap_alloc, as Go's
 *    runtime throws "out of memory"), each after one line on stderr that names it.
 * Code that runs in a signal handler or a collection listener cannot fail this way: it
 * returns nothing, counts what it could not do, and leaves errno as it found it.
 */
#ifndef MEMDEMO_ERRORS_H
#define MEMDEMO_ERRORS_H

#include <errno.h>
#include <stddef.h>

/* Sets errno to e and returns -1: `return errors_fail(EINVAL);`. */
static inline int errors_fail(int e)
{
    errno = e;
    return -1;
}

#endif
