/* tests/gcprof/early_start.c: a shared library that sets bdwgc's start callback from its
 * constructor, as a library of a real program may. ld.so runs the constructors of a
 * program's libraries before that of a preloaded library that does not depend on them
 * (libgcprof.so links no libgc), so this one's callback is set before libgcprof installs
 * its own, which must keep it. tests/integration/gcprof_incremental.sh links
 * tests/gcprof/incremental.c with it; that program chains this callback (it finds it
 * set) and prints early_starts, how many times it ran.
 */
#include <gc.h>
#include <gc/gc_mark.h>

unsigned long early_starts;   /* written under bdwgc's allocation lock */

/* bdwgc's start callback: allocation lock held, so no allocation, no locks, no bdwgc. */
static void GC_CALLBACK early_start(void)
{
    early_starts++;
}

__attribute__((constructor)) static void set_early_start(void)
{
    GC_set_start_callback(early_start);
}
