/* gcprof_vars: libgcprof's part of the /debug/vars document. See gcprof_lib.h.
 *
 * The document itself is the surface's (src/debug_vars.c writes it, live and at exit):
 * this file adds what only a watched program has, as sections of it: "gcprof" (the
 * interposer's counts) from the start, and "final" (the exit's truth, reachable_bytes
 * among it) once the exit writer has it. It also gives the surface the command line it
 * shows, read from /proc/self/cmdline since the program's argv is not ours to keep.
 */
#include <stdio.h>
#include <string.h>

#include "gc/gcinterpose.h"
#include "profile/unwind.h"
#include "src/debug_surface.h"
#include "src/debug_vars.h"
#include "src/gcprof_lib.h"

/* What the exit writer learnt; NULL while the program runs. */
static const struct gcprof_exit *finding;

/* The arguments from /proc/self/cmdline, read once (the surface keeps the pointers). */
static void remember_cmdline(void)
{
    static char args[8192];
    static char *argv[256];
    FILE *f = fopen("/proc/self/cmdline", "r");
    size_t n = f ? fread(args, 1, sizeof args - 1, f) : 0;
    int argc = 0;
    if (f) fclose(f);
    args[n] = '\0';
    for (size_t i = 0; i < n && argc < 255; i += strlen(args + i) + 1) argv[argc++] = args + i;
    argv[argc] = NULL;
    debug_surface_init(argc, argv);
}

/* "gcprof": the interposer's counts (trace_dropped: 0 while running). */
static void write_interposer(struct buf *b)
{
    struct gcinterpose_counts c;
    gcinterpose_counts(&c);
    struct debug_vars_object o = debug_vars_open(b);
    DEBUG_VARS_MEMBER(&o, "rate", gcprof_rate());
    DEBUG_VARS_MEMBER(&o, "batches", c.batches);
    DEBUG_VARS_MEMBER(&o, "batch_objects", c.batch_objects);
    DEBUG_VARS_MEMBER(&o, "frees", c.frees);
    DEBUG_VARS_MEMBER(&o, "frees_tracked", c.forgotten);
    DEBUG_VARS_MEMBER(&o, "program_collections", c.program_collections);
    DEBUG_VARS_MEMBER(&o, "requested_collections", c.requested_collections);
    DEBUG_VARS_MEMBER(&o, "trace_dropped", finding ? finding->trace_dropped : 0);
    DEBUG_VARS_MEMBER(&o, "unwind_fallbacks", unwind_fallbacks());
    debug_vars_close(&o);
}

/* "final": bdwgc's own figures at exit, to check the profile against. */
static void write_final(struct buf *b)
{
    const struct gcinterpose_truth *t = &finding->truth;
    struct debug_vars_object o = debug_vars_open(b);
    DEBUG_VARS_MEMBER(&o, "collected", finding->collected);
    DEBUG_VARS_MEMBER(&o, "reachable_bytes", t->reachable_bytes);
    DEBUG_VARS_MEMBER(&o, "reachable_objects", t->reachable_objects);
    DEBUG_VARS_MEMBER(&o, "total_bytes_at_start", t->total_bytes_at_start);
    DEBUG_VARS_MEMBER(&o, "total_bytes_at_exit", t->total_bytes_now);
    DEBUG_VARS_MEMBER(&o, "collections_at_start", t->collections_at_start);
    DEBUG_VARS_MEMBER(&o, "collections_at_exit", t->collections_now);
    debug_vars_close(&o);
}

int gcprof_vars_init(void)
{
    remember_cmdline();
    return debug_vars_add_section("gcprof", write_interposer);
}

void gcprof_write_vars(struct buf *b, const struct gcprof_exit *e)
{
    if (!finding && debug_vars_add_section("final", write_final) == 0) finding = e;
    debug_vars_write(b);
}
