/* numstr: decimal strings in the GC heap, memdemo's strconv.Itoa.
 *
 * numstr_itoa is deliberately one small, separately compiled function: it is the
 * allocation site that heap profiles attribute the handlers' strings to, as Go's
 * profiles show strconv.Itoa.
 */
#ifndef MEMDEMO_NUMSTR_H
#define MEMDEMO_NUMSTR_H

#include <stddef.h>

/* Returns the decimal form of v as a NUL-terminated string in pointer-free GC memory,
 * and its length without the NUL in *len unless len is NULL. NULL only inside a
 * bounded allocation scope (gcheap_bounded_begin) when the heap cap refuses the
 * string. Caller: a gcthreads-registered thread. */
char *numstr_itoa(long v, size_t *len);

#endif
