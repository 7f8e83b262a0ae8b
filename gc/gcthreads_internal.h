/* gcthreads_internal: what gcheap.c needs from gcthreads.c and vice versa (the
 * sampling countdown lives in gcheap.c, the thread table in gcthreads.c). Not for
 * use outside gc/. */
#ifndef MEMDEMO_GCTHREADS_INTERNAL_H
#define MEMDEMO_GCTHREADS_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

/* Records the main thread (already registered by GC_INIT) as id 0. */
void gcthreads__register_main(void);
/* Stores `value` into the sampling countdown of every live registered thread. */
void gcthreads__for_each_countdown(intptr_t value);

/* In gcheap.c: the calling thread's countdown, and drawing its first interval. */
_Atomic intptr_t *gcheap__countdown_of_current_thread(void);
void gcheap__arm_current_thread(void);

#endif
