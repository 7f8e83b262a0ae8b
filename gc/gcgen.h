/* gcgen: generational mode's write barrier: every store of a GC pointer into a GC
 * object goes through gcgen_store().
 *
 * Owns: the barrier, the birth stamps that let it skip objects no collection has seen,
 * bdwgc's manual dirty bits behind it, and a debug check that the barrier was used.
 * Leaves to others: switching the mode on at start (gcheap_init_with, its setup's
 * mode), when collections run (gcpacer), and which objects hold pointers (the callers;
 * in memdemo only the string list's chunks, src/strlist.c).
 *
 * Why a missed barrier loses live objects. In generational mode (-gcmode generational)
 * most collections are partial: bdwgc keeps the mark bits of the previous collections,
 * so an object they marked (an old one) is not traced again: the collection trusts it
 * to point only at objects that are marked too, and rescans only the pages marked
 * dirty since. A pointer to a new object stored into an old object is invisible to
 * the next partial collection unless that store dirtied the old object's page: the new
 * object is never marked, so it is freed while the old object still points at it, and
 * its memory is handed out again (a leaked string would read as another request's
 * string, or as garbage). tests/unit/test_gen.c stores past the barrier on purpose and
 * watches the object die. Stores into the stack and static memory (roots, scanned at
 * every collection) and of non-pointers need no barrier.
 *
 * The skip. A page is dirtied through bdwgc's manual dirty bits (GC_end_stubborn_change
 * then GC_reachable_here), an atomic OR into a table of 2^18 page bits that every
 * partial collection reads with the world stopped; past 1 GiB of heap pages share bits
 * (any dirty bit makes its aliases rescanned too), so fewer dirty bits are worth
 * having. An object that no collection has seen since it was allocated is not marked,
 * and a collection that finds it traces all of it, so stores into it need no dirty bit;
 * nearly every store memdemo makes goes into such an object (a request's own list, the
 * leaker's newest chunk). "No collection has seen it": its birth stamp (the epoch,
 * bumped at every world stop, read BEFORE allocating it) is still the epoch now, and no
 * collection is open (an incremental collection may mark a new object while the world
 * runs; an object allocated while one is open is stamped old). The store is made
 * first and the epoch read after it: the world stops by signalling each thread, so a
 * thread stopped between the two has made its store before the collector looks, and
 * one that reads the old epoch made its store before the stop; a compiler barrier
 * keeps the order (the signal makes it hold for the CPU).
 * In stop-the-world mode the epoch never moves, so every store takes the skip.
 *
 * Thread context: gcgen_store() and gcgen_born() from any registered thread; the check's
 * getters anywhere.
 */
#ifndef MEMDEMO_GCGEN_H
#define MEMDEMO_GCGEN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* An object's birth stamp: the epoch before it was allocated. */
typedef uint64_t gcgen_birth;

/* (epoch << 1) | a collection is open. For the inline functions below only. */
extern _Atomic uint64_t gcgen__state;

/* The stamp of an object allocated while a collection is open: it may be marked
 * before that collection ends (it may come from a free list the collection marked), so
 * it never takes the skip. */
#define GCGEN_BORN_OLD UINT64_MAX

/* The stamp for an object about to be allocated: call it BEFORE the allocation (a
 * collection the allocation itself runs must make the object old). Lock-free. */
static inline gcgen_birth gcgen_born(void)
{
    uint64_t s = atomic_load_explicit(&gcgen__state, memory_order_relaxed);
    return s & 1 ? GCGEN_BORN_OLD : s >> 1;
}

/* Dirties the page of slot and keeps value reachable until then (bdwgc's manual dirty
 * bits). For gcgen_store only. */
void gcgen__dirty(void **slot, void *value);

/* Stores value (a GC pointer, or NULL) into *slot, a field of the GC object stamped
 * `born`, and dirties the object's page unless no collection has seen the object. The
 * only way memdemo writes a GC pointer into a GC object. Registered thread. */
static inline void gcgen_store(gcgen_birth born, void *slot, void *value)
{
    *(void **)slot = value;
    atomic_signal_fence(memory_order_seq_cst);   /* the store, then the epoch: see above */
    if (__builtin_expect(atomic_load_explicit(&gcgen__state, memory_order_relaxed) != born << 1, 0))
        gcgen__dirty((void **)slot, value);
}

/* Allocates an object of n zeroed bytes that may hold pointers written after its
 * allocation (gcheap_alloc), and stamps it: *born is the stamp to pass to
 * gcgen_store(). Registers it with the debug check when that is on. NULL only as
 * gcheap_alloc() returns NULL (a refusal in a bounded scope). Registered thread. */
void *gcgen_alloc(size_t n, gcgen_birth *born);

/* --- for gcheap ------------------------------------------------------------------- */

/* Generational mode on: installs the listener that moves the epoch (at every world
 * stop) and closes collections (at RECLAIM_END). Main thread, from gcheap_init_with,
 * after GC_INIT. */
void gcgen__start(void);

/* 1 while a collection is open (between its first world stop and the start of its
 * sweep), as far as this thread can tell. Lock-free. */
static inline int gcgen_collection_open(void)
{
    return (int)(atomic_load_explicit(&gcgen__state, memory_order_relaxed) & 1);
}

/* Stores that dirtied a page (did not take the skip), since start. Relaxed. */
uint64_t gcgen_dirtied_stores(void);

/* --- the debug check -----------------------------------------------------------------
 * At the end of every collection's mark (world stopped), each object gcgen_alloc made
 * that the collection marked is read word by word: a word that points into the GC
 * heap at an object the mark did not reach means the collector is about to free an
 * object a marked one still points at, which in a correct program happens only when a
 * store skipped the barrier. Such a word is a violation. The check reads every such
 * object at every collection: for tests and debugging, not for serving large heaps.
 * On in any mode; meaningful in generational mode. */

enum gcgen_check_mode {
    GCGEN_CHECK_OFF,
    GCGEN_CHECK_COUNT,   /* count violations (tests read them) */
    GCGEN_CHECK_ABORT,   /* print one line and abort at the first */
};

/* The environment variable that switches the check on in the server:
 * MEMDEMO_GCCHECK=1 aborts at the first violation, =count only counts. */
#define GCGEN_CHECK_ENV "MEMDEMO_GCCHECK"

/* Switches the check on for the objects allocated from now on (up to
 * GCGEN_CHECK_MAX_OBJECTS of them; more are not checked). Returns 0, or -1 if its table
 * cannot be allocated. Main thread, before other threads allocate. */
#define GCGEN_CHECK_MAX_OBJECTS (1u << 20)
int gcgen_check_start(enum gcgen_check_mode mode);

struct gcgen_check_stats {
    uint64_t collections;     /* mark ends the check ran at */
    uint64_t objects;         /* marked objects it read, in all */
    uint64_t violations;      /* words pointing at objects about to be freed */
    uintptr_t first_slot;     /* address of the first such word (0: none) */
};
void gcgen_check_stats(struct gcgen_check_stats *st);

#endif
