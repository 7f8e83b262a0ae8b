/* gcprof_lib: what the parts of libgcprof.so share: the exit writer's findings and the
 * /debug/vars document, written at exit (PREFIX.vars.json) and served live.
 *
 * Owns nothing but these declarations; src/gcprof_lib.c (start, exit) and
 * src/gcprof_vars.c (the document) implement them.
 */
#ifndef MEMDEMO_GCPROF_LIB_H
#define MEMDEMO_GCPROF_LIB_H

#include <stdint.h>

#include "gc/gcinterpose.h"
#include "profile/buf.h"

/* What the exit writer learnt. */
struct gcprof_exit {
    int collected;                    /* the final collection ran */
    struct gcinterpose_truth truth;   /* bdwgc's own figures */
    uint64_t trace_dropped;           /* timeline events lost to full buffers */
};

/* The sampling rate the library was started with. Any thread. */
int64_t gcprof_rate(void);

/* Appends the /debug/vars JSON document: "cmdline", "memstats" (memdemo's names),
 * "profiler", "gcprof" (the interposer's counts) and, when e is not NULL, "final"
 * (the exit's figures, reachable_bytes among them). Any thread (statistics as
 * gcheap_stats gives them to that thread); not in a collection listener. */
void gcprof_write_vars(struct buf *b, const struct gcprof_exit *e);

/* The "gcprof" object of that document (the interposer's counts; trace_dropped: the
 * trace events lost, 0 while running), also a section of the live /debug/vars. Any
 * thread; calls no bdwgc function. */
void gcprof_write_interposer(struct buf *b, uint64_t trace_dropped);

#endif
