/* gcgen: the write barrier's slow path, the epoch, and the debug check. See gcgen.h.
 *
 * The epoch and the open bit live in one word (gcgen__state) that only collection
 * listeners write: +1 epoch and open at every GCEV_POST_STOP_WORLD (world stopped),
 * open cleared at GCEV_RECLAIM_END (a collection's mark is complete and its sweep has
 * started: from then on new objects are not marked by it). Readers are mutators, with
 * relaxed loads (the world stop orders them, gcgen.h).
 *
 * Dirtying a page is an atomic OR in bdwgc's table; the leaker appends a thousand
 * pointers per request into the same chunk, so each thread remembers the last page it
 * dirtied and the state it dirtied it in: while the state has not changed no world stop
 * came in between (every stop changes it), so bdwgc has not read and cleared the bit,
 * and the same page needs no second OR.
 *
 * The debug check keeps the objects gcgen_alloc made in a malloc'd table of hidden
 * pointers (the collector does not scan it, so the table keeps nothing alive), filled
 * with an atomic counter: a thread stopped between taking a slot and filling it leaves
 * the slot 0, which the check skips (the object is on that thread's stack anyway).
 */
#include "gc/gcgen.h"

#include <gc.h>
#include <gc/gc_mark.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gc/gcevents.h"
#include "gc/gcheap.h"

/* bdwgc's dirty bits are per heap block (HBLKSIZE, 4 KiB on x86-64 Linux). */
#define DIRTY_PAGE_SHIFT 12

_Atomic uint64_t gcgen__state;

static _Atomic uint64_t dirtied;
static __thread uintptr_t memo_page;
static __thread uint64_t memo_state = UINT64_MAX;

static _Atomic int check_mode;
static _Atomic uintptr_t *tracked;
static _Atomic size_t tracked_n;
static _Atomic uint64_t check_collections, check_objects, check_violations;
static _Atomic uintptr_t check_first_slot;

void gcgen__dirty(void **slot, void *value)
{
    uint64_t s = atomic_load_explicit(&gcgen__state, memory_order_relaxed);
    uintptr_t page = (uintptr_t)slot >> DIRTY_PAGE_SHIFT;
    if (page == memo_page && s == memo_state) return;
    GC_end_stubborn_change(slot);
    GC_reachable_here(value);
    memo_page = page;
    memo_state = s;
    atomic_fetch_add_explicit(&dirtied, 1, memory_order_relaxed);
}

uint64_t gcgen_dirtied_stores(void) { return atomic_load_explicit(&dirtied, memory_order_relaxed); }

/* ---- the check --------------------------------------------------------------------- */

static void track(void *obj)
{
    size_t i = atomic_fetch_add_explicit(&tracked_n, 1, memory_order_relaxed);
    if (i < GCGEN_CHECK_MAX_OBJECTS)
        atomic_store_explicit(&tracked[i], gcheap_hide(obj), memory_order_release);
}

/* Allocator text (GCHEAP_ALLOC_TEXT): a profile names the code that asked for the
 * object (strlist_push), not this wrapper. */
GCHEAP_ALLOC_TEXT void *gcgen_alloc(size_t n, gcgen_birth *born)
{
    *born = gcgen_born();
    void *p = gcheap_alloc(n);
    if (p && atomic_load_explicit(&check_mode, memory_order_relaxed) != GCGEN_CHECK_OFF) track(p);
    return p;
}

/* One violation: counted; in abort mode, one line (write(2): no stdio here) and abort. */
static void violation(void **slot)
{
    uintptr_t zero = 0;
    atomic_compare_exchange_strong(&check_first_slot, &zero, (uintptr_t)slot);
    atomic_fetch_add_explicit(&check_violations, 1, memory_order_relaxed);
    if (atomic_load_explicit(&check_mode, memory_order_relaxed) == GCGEN_CHECK_ABORT) {
        static const char msg[] = "memdemo: " GCGEN_CHECK_ENV ": a marked object points at an object this "
                                  "collection will free: a GC pointer was stored without gcgen_store\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
}

/* Reads the words of marked object obj. World stopped, lock held, mark complete. */
static void check_object(void *obj)
{
    void **w = obj;
    size_t words = GC_size(obj) / sizeof *w;
    for (size_t i = 0; i < words; i++) {
        void *base = w[i] ? GC_base(w[i]) : NULL;
        if (base && !GC_is_marked(base)) violation(&w[i]);
    }
}

/* At GCEV_MARK_END. No allocation, no locks. An unmarked tracked object is dying: its
 * slot is cleared (its memory may be reused, and the table must not name it again). */
static void check_all(void)
{
    size_t n = atomic_load_explicit(&tracked_n, memory_order_relaxed);
    if (n > GCGEN_CHECK_MAX_OBJECTS) n = GCGEN_CHECK_MAX_OBJECTS;
    uint64_t objects = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t h = atomic_load_explicit(&tracked[i], memory_order_acquire);
        if (!h) continue;
        void *obj = (void *)GC_REVEAL_POINTER(h);
        if (!GC_is_marked(obj)) {
            atomic_store_explicit(&tracked[i], 0, memory_order_relaxed);
            continue;
        }
        check_object(obj);
        objects++;
    }
    atomic_fetch_add_explicit(&check_objects, objects, memory_order_relaxed);
    atomic_fetch_add_explicit(&check_collections, 1, memory_order_relaxed);
}

void gcgen_check_stats(struct gcgen_check_stats *st)
{
    *st = (struct gcgen_check_stats){
        .collections = atomic_load_explicit(&check_collections, memory_order_relaxed),
        .objects = atomic_load_explicit(&check_objects, memory_order_relaxed),
        .violations = atomic_load_explicit(&check_violations, memory_order_relaxed),
        .first_slot = atomic_load_explicit(&check_first_slot, memory_order_relaxed),
    };
}

/* ---- the listener -------------------------------------------------------------------- */

static int generational;

/* World stopped (POST_STOP_WORLD, MARK_END) or lock held (RECLAIM_END). */
static void on_event(enum gcevent ev, int thread, void *ctx)
{
    (void)thread; (void)ctx;
    uint64_t s = atomic_load_explicit(&gcgen__state, memory_order_relaxed);
    if (ev == GCEV_POST_STOP_WORLD && generational)
        atomic_store_explicit(&gcgen__state, (((s >> 1) + 1) << 1) | 1, memory_order_relaxed);
    else if (ev == GCEV_RECLAIM_END && generational)
        atomic_store_explicit(&gcgen__state, s & ~(uint64_t)1, memory_order_relaxed);
    else if (ev == GCEV_MARK_END && atomic_load_explicit(&check_mode, memory_order_relaxed) != GCGEN_CHECK_OFF)
        check_all();
}

static void listen_once(void)
{
    static int listening;
    if (listening) return;
    if (gcevents_add_listener(on_event, NULL) < 0) {
        fprintf(stderr, "memdemo: gcgen: no room for a collection listener\n");
        abort();
    }
    listening = 1;
}

void gcgen__start(void)
{
    generational = 1;
    listen_once();
}

int gcgen_check_start(enum gcgen_check_mode mode)
{
    if (mode == GCGEN_CHECK_OFF) return 0;
    if (!tracked) {
        tracked = calloc(GCGEN_CHECK_MAX_OBJECTS, sizeof *tracked);
        if (!tracked) return -1;
    }
    listen_once();
    atomic_store(&check_mode, mode);
    return 0;
}
