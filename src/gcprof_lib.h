/* gcprof_lib: what the parts of libgcprof.so share: the exit writer's findings and
 * libgcprof's part of the /debug/vars document, which is served live and written at
 * exit (PREFIX.vars.json) by the surface's one writer (src/debug_vars.c).
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

/* Gives the /debug surface the program's command line and adds the "gcprof" section
 * (the interposer's counts) to /debug/vars. Returns 0, or -1 with errno (no room for
 * the section). Once, from the library's constructor, before serving. */
int gcprof_vars_init(void);

/* Appends the /debug/vars document, the same one the live page serves (every section
 * of src/debug_vars.c's, and "gcprof"), with, from the first call on, a "final"
 * section: the exit's figures in *e (reachable_bytes among them), which must then stay
 * valid for every later call. Exit writer only: the server must have stopped (a
 * section is added). Statistics as gcheap_stats gives them to the calling thread. */
void gcprof_write_vars(struct buf *b, const struct gcprof_exit *e);

#endif
