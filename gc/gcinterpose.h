/* gcinterpose: libgcprof's front end in a foreign program: it defines bdwgc's
 * allocation entry points (GC_malloc, GC_realloc, GC_free, GC_malloc_many, the debug
 * variants... about 40), so that when libgcprof.so is preloaded the program's calls
 * come here first, and forwards each to the real one in libgc.so.1 (dlsym RTLD_NEXT).
 *
 * Owns: the entry points and their forwarding, counting only the OUTERMOST call on a
 * thread (libgc calls itself through its PLT: GC_malloc -> GC_malloc_kind), what the
 * per-thread sampling countdown counts (gcaccount keeps the accounts), the batches
 * of *_malloc_many sampled object by object, explicit frees (GC_free, a moving
 * GC_realloc) reported to a forget hook, bdwgc's two event hooks and its start callback
 * (installed here and CHAINED to whatever the program sets: its
 * GC_set_on_collection_event / GC_set_on_thread_event / GC_set_start_callback calls and
 * their getters are interposed too), collections run on a program
 * thread on the profiler's behalf, and the figures that check the profile against
 * bdwgc's own (GC_get_total_bytes at start and exit, reachable bytes), and the
 * stretches in which a thread works for the profiler (gcinterpose_own_begin: nothing
 * counted, for programs whose malloc is built on GC_malloc).
 * Leaves to others: what a sample records (profile/sampler), when to start and what to
 * write (src/gcprof_lib.c), events' fan-out (gcevents).
 *
 * Observe, never steer: nothing here initialises, tunes, registers threads with or
 * collects in bdwgc on its own; a collection runs only on a program thread that bdwgc
 * knows (GC_thread_is_registered), inside a call the program made.
 *
 * Two builds of one source: preloaded (libgcprof.so: GC_malloc here is THE GC_malloc,
 * forwarding to libgc.so's through dlsym) and linked in, for programs with bdwgc
 * linked statically (GCINTERPOSE_WRAP: __wrap_GC_malloc forwards to __real_GC_malloc,
 * and the program is linked with -Wl,--wrap=GC_malloc and the others).
 *
 * Cost: an unsampled outermost call pays a thread-local depth flag, the forwarding
 * call and a thread-local subtract and compare (plus GC_size for requests above 383
 * bytes and for the entry points whose size is not the request's); no lock, no atomic
 * read-modify-write, no system call.
 */
#ifndef MEMDEMO_GCINTERPOSE_H
#define MEMDEMO_GCINTERPOSE_H

#include <stddef.h>
#include <stdint.h>

/* How the process holds bdwgc. */
enum gcinterpose_libgc {
    GCINTERPOSE_DYNAMIC,   /* libgc.so loaded: its entry points come here */
    GCINTERPOSE_NONE,      /* no bdwgc in the process */
    GCINTERPOSE_STATIC,    /* the executable defines GC_malloc itself: calls never come here */
    GCINTERPOSE_LINKED     /* the static variant: linked into the program with -Wl,--wrap
                              for each entry point (gcprof-wrap.o, gcprof-wrap.opts) */
};

/* Resolves the real entry points, installs the chained event hooks and start callback
 * (keeping any a constructor that ran before this one set), notes
 * GC_get_total_bytes() and starts counting (calls before this are forwarded and not
 * counted). Once, from libgcprof's constructor, on the thread that loads the program.
 * Returns how the process holds bdwgc; anything but GCINTERPOSE_DYNAMIC (preloaded) or
 * GCINTERPOSE_LINKED (the static variant) leaves the library passive (every entry
 * point only forwards). */
enum gcinterpose_libgc gcinterpose_start(void);

/* Called, on the allocating thread, for an object the program freed explicitly
 * (GC_free, GC_debug_free, the old object of a moving realloc) that a sample may be
 * tracking: the hook stops tracking it (profile/sampler's sampler_forget). obj is the
 * object's base address; the hook runs before bdwgc frees it (just after, for a moving
 * realloc, which is recognised by its result). Returns 1 if obj was tracked. Runs on
 * the program's thread, outside bdwgc's lock. NULL: none. Set once at start. */
void gcinterpose_set_forget(int (*forget)(const void *obj));

/* Stops counting for good: every entry point then only forwards, and no lock of the
 * profiler is taken (the slow path, forgets and collection requests are never reached).
 * For a child forked without exec that is not profiled: a lock another thread of the
 * parent held at the fork stays held in the child, and its first sample would wait on
 * it forever. Async-signal-safe (one atomic store); any thread. */
void gcinterpose_stop_counting(void);

/* Called on a program thread at its first counted call, once it has a gcthreads id
 * (profile/trace's trace_thread_start gives it a trace buffer). Outside bdwgc's lock.
 * NULL: none. Set once at start. */
void gcinterpose_set_thread_start(void (*fn)(void));

/* The calling thread works for the profiler, not the program, until
 * gcinterpose_own_end(the value returned): its calls to the entry points are forwarded
 * uncounted, as libgc's nested calls are. They come here when the program's malloc is
 * built on GC_malloc, and every malloc of the profiler (and of the libraries it calls)
 * is then one: counted, they would be charged to the program, and one made while the
 * sampler's lock is held would deadlock. Nests; thread-local; no lock, no allocation.
 * libgcprof's constructor, exit writer and HTTP workers (for good: never ended) use it. */
int gcinterpose_own_begin(void);
void gcinterpose_own_end(int was);

/* 1 when the process's malloc hands out bdwgc's memory (the program built its malloc
 * on GC_malloc), 0 otherwise: then a thread bdwgc does not know must not call malloc,
 * since a collection it triggers stops the process ("Collecting from unknown
 * thread"). Asks by one malloc and free, as the profiler's own; when 1, from then on
 * the bytes the profiler's own stretches take from bdwgc are summed and left out of
 * gcinterpose_truth's total (with other threads allocating meanwhile, theirs too: an
 * approximation), the caller's own stretch since gcinterpose_start() included.
 * Program thread, once, inside gcinterpose_own_begin(), after gcinterpose_start(). */
int gcinterpose_malloc_is_bdwgcs(void);

/* Runs a full collection on the profiler's behalf. On a thread that may call bdwgc
 * and that bdwgc knows, at once; otherwise (a profiler thread) it asks the program's
 * threads to run it at their next allocation and waits up to timeout_ms. Returns 0
 * when a collection completed; -1 when none could run: no program thread known to
 * bdwgc allocated within the timeout (the program is idle or blocked), or the library
 * is passive. Never collects from a thread bdwgc does not know. Any thread; not in a
 * collection listener. */
int gcinterpose_collect(int timeout_ms);

/* gcinterpose_collect(), and when it succeeds the next gcheap_collect() on this thread
 * (the one a profile snapshot asks for first) does nothing: the pages refuse ?gc=1
 * when no collection can run, and collect once when one can. Same rules. */
int gcinterpose_collect_for_next_snapshot(int timeout_ms);

/* For the thread running the exit writer (a program thread, in a destructor): runs the
 * final collection if bdwgc is initialised and knows this thread. Returns 1 if it
 * collected; 0 if bdwgc knows the thread but did not collect (the program disabled
 * collection: GC_DONT_GC, GC_disable); -1 if the thread may not call bdwgc. Unless 1,
 * in-use figures are as of the last collection. */
int gcinterpose_final_collection(void);

/* What bdwgc says, for the truth libgcprof writes beside its profiles. Program
 * thread only (they call bdwgc): the exit writer. */
struct gcinterpose_truth {
    uint64_t total_bytes_at_start;   /* GC_get_total_bytes() when counting began */
    uint64_t total_bytes_now;        /* and now, less the profiler's own bytes where the
                                        program's malloc is bdwgc's (gcinterpose_malloc_is_bdwgcs) */
    uint64_t collections_at_start;   /* GC_get_gc_no() then */
    uint64_t collections_now;
    uint64_t reachable_bytes;        /* marked objects' bytes (GC_enumerate_reachable_objects_inner
                                        under the allocation lock); valid after a collection */
    uint64_t reachable_objects;
};
void gcinterpose_truth(struct gcinterpose_truth *t, int enumerate_reachable);

/* Outermost calls counted since start, and how many of them were batches
 * (*_malloc_many) and explicit frees. Relaxed sums over threads; any thread. */
struct gcinterpose_counts {
    uint64_t batches;
    uint64_t batch_objects;
    uint64_t frees;
    uint64_t forgotten;    /* frees of objects a sample tracked */
    uint64_t program_collections;   /* GC_gcollect & co. called by the program */
    uint64_t requested_collections; /* run on the profiler's behalf */
};
void gcinterpose_counts(struct gcinterpose_counts *c);

#endif
