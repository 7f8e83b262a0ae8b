/* gcpolicy: memdemo's collection policy, applied through gcheap_init() and
 * gcheap_configure() (declared in gcheap.h, whose contracts they follow).
 *
 * Owns the three choices memdemo makes that a host program embedding the profiler
 * may not want: one marker thread (GCHEAP_MARKERS), only the main program's data
 * segments as roots, and gcpacer as the policy gcheap polls (which, in generational
 * mode, -gcmode, also starts the partial collections and assists them). It is a file
 * of its own so that gcheap.c does not reference the pacer: a program that calls
 * gcheap_init_with() instead links neither this file nor gc/gcpacer.c (tests/tools/
 * debug_alone.c is built that way, which proves it).
 */
#include <gc.h>

#include "gc/gcheap.h"
#include "gc/gcpacer.h"

/* Only memdemo's own executable keeps GC pointers in static memory (the leaker's
 * list); the shared libraries (libc, libmicrohttpd, gnutls, libdw...) never do, and
 * scanning their data and bss in every stop-the-world pause was most of a pause's
 * work. The main program is the entry with an empty name. World stopped: no
 * allocation, no locks. */
static int main_program_only(const char *dso_name) { return dso_name[0] == '\0'; }

static const struct gcheap_policy pacer = {
    gcpacer__poll, gcpacer__make_room, gcpacer__grant, gcpacer__refused, gcpacer_epoch, gcpacer_next_gc,
    gcpacer_set_outside,
};

void gcheap_init(void) { gcheap_init_mode(GCHEAP_STW); }

void gcheap_init_mode(enum gcheap_mode mode)
{
    gcheap_init_with(&(struct gcheap_setup){GCHEAP_MARKERS, main_program_only, &pacer, mode});
    gcpacer__start(&(struct gcpacer_settings){GCPACER_DEFAULT_GOGC, 0, 0, mode == GCHEAP_GENERATIONAL});
}

void gcheap_configure(const struct gcheap_config *c)
{
    if (c->initial_heap) GC_expand_hp(c->initial_heap);
    struct gcpacer_settings ps = {c->gogc, c->memlimit, c->maxheap, gcheap_mode() == GCHEAP_GENERATIONAL};
    gcpacer__start(&ps);
}
