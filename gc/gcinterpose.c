/* gcinterpose: bdwgc's entry points as libgcprof defines them, the per-thread
 * countdown behind them, and the hooks and collections libgcprof needs from bdwgc.
 * See gcinterpose.h for the model. The hooks (collection events, thread events, the
 * start callback of full collections) are installed once and chained to the program's
 * own, whose setters and getters are interposed too.
 *
 * Outermost calls: a thread-local flag `depth` is set around each forwarded call, and
 * a call that finds it set (libgc calling itself through its PLT) is forwarded
 * without counting. A program callback that bdwgc runs inside an allocation (a
 * finalizer, an out-of-memory handler) allocates uncounted for the same reason, and
 * so does the profiler's own work on a program thread (the slow path, a forget, the
 * constructor and exit writer: gcinterpose_own_begin), whose mallocs come back here
 * when the program's malloc is built on GC_malloc.
 *
 * Per-thread accounts: gcaccount.c's, as gcheap.c uses them but without a pacer to
 * poll (the countdown runs to the next sample). A thread's first counted call takes
 * the slow path, which gives the thread an id (gcthreads_note: no registration with
 * bdwgc) and its account; a thread past GCTHREADS_MAX gets a thread-local account that
 * resets cannot reach. A collection request is a reset: it sends every thread to its
 * slow path, where a program thread serves it.
 *
 * Sizes: what bdwgc handed out (GC_size), the unit of GC_get_total_bytes. For requests
 * up to 383 bytes the size is computed: the request plus bdwgc's extra byte when
 * interior pointers are recognised (GC_get_all_interior_pointers(), read once bdwgc
 * is initialised), rounded up to 16-byte granules; a sampled object's size is always
 * GC_size's. Debug allocations return a pointer past bdwgc's debug header: they are
 * tracked by their base (GC_base).
 *
 * Everything here runs on the program's threads inside its calls, except
 * gcinterpose_collect() and gcinterpose_counts(), which profiler threads call and
 * which never call bdwgc from them.
 */
#include "gc/gcinterpose.h"

#include <dlfcn.h>
#include <errno.h>
#include <gc.h>
#include <link.h>
#include <gc/gc_disclaim.h>
#include <gc/gc_gcj.h>
#include <gc/gc_inline.h>
#include <gc/gc_mark.h>
#include <gc/gc_typed.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gc/gcaccount.h"
#include "gc/gcevents.h"
#include "gc/gcheap.h"
#include "gc/gcthreads.h"

/* Entry points are exported and, like everything on the sampling path, in the
 * allocator's text section, which the static variant's stacks are cut by. */
#define EXPORT __attribute__((visibility("default"), section("memdemo_alloc_text")))
#define TLS __thread __attribute__((tls_model("initial-exec")))

/* libc declares its functions leaf (never calling back into this file, the compiler
 * is told: a store around one may be dropped or moved), but a malloc or dlsym can
 * come back here when the program's malloc is built on GC_malloc. A flag that such a
 * call must see is written with this barrier after it. */
#define SEEN_BY_CALLBACKS() __asm__ volatile("" ::: "memory")

#define GRANULE 16
#define UNSAMPLED_COUNTDOWN ((intptr_t)1 << 40)   /* no sampler: effectively never */

/* ---- the real entry points ---------------------------------------------------------
 * X(name): every bdwgc function this file defines. Preloaded, each forwards to the next
 * definition (libgc.so's), found with dlsym(RTLD_NEXT). Linked statically instead
 * (GCINTERPOSE_WRAP: the program is linked with -Wl,--wrap=NAME for each, see
 * gcinterpose.h), this file defines __wrap_NAME and forwards to __real_NAME. The other
 * bdwgc functions used here only read (GC_size, GC_base...) and are called by name. */
#define ENTRY_POINTS(X)                                                                     \
    X(GC_malloc) X(GC_malloc_atomic) X(GC_malloc_uncollectable) X(GC_malloc_atomic_uncollectable) \
    X(GC_malloc_ignore_off_page) X(GC_malloc_atomic_ignore_off_page) X(GC_malloc_stubborn)  \
    X(GC_malloc_kind) X(GC_malloc_kind_global) X(GC_generic_malloc)                          \
    X(GC_generic_malloc_ignore_off_page) X(GC_generic_malloc_uncollectable)                 \
    X(GC_generic_or_special_malloc) X(GC_malloc_explicitly_typed)                           \
    X(GC_malloc_explicitly_typed_ignore_off_page) X(GC_calloc_explicitly_typed)            \
    X(GC_gcj_malloc) X(GC_gcj_malloc_ignore_off_page) X(GC_finalized_malloc)                \
    X(GC_strdup) X(GC_strndup) X(GC_memalign) X(GC_posix_memalign) X(GC_realloc) X(GC_free) \
    X(GC_malloc_many) X(GC_generic_malloc_many)                                              \
    X(GC_debug_malloc) X(GC_debug_malloc_atomic) X(GC_debug_malloc_uncollectable)           \
    X(GC_debug_malloc_atomic_uncollectable) X(GC_debug_malloc_ignore_off_page)              \
    X(GC_debug_malloc_atomic_ignore_off_page) X(GC_debug_malloc_stubborn) X(GC_debug_strdup) \
    X(GC_debug_strndup) X(GC_debug_gcj_malloc) X(GC_debug_generic_or_special_malloc)        \
    X(GC_debug_malloc_replacement) X(GC_debug_realloc) X(GC_debug_realloc_replacement)      \
    X(GC_debug_free)                                                                         \
    X(GC_init) X(GC_gcollect) X(GC_gcollect_and_unmap) X(GC_try_to_collect)                 \
    X(GC_set_on_collection_event) X(GC_get_on_collection_event)                              \
    X(GC_set_on_thread_event) X(GC_get_on_thread_event)                                      \
    X(GC_set_start_callback) X(GC_get_start_callback)

#ifdef GCINTERPOSE_PRINT_WRAP_OPTIONS
/* `cc -E -P -DGCINTERPOSE_PRINT_WRAP_OPTIONS` prints the linker options of the
 * static variant (the Makefile writes them to gcprof-wrap.opts). */
#define WRAP_OPTION(f) --wrap=f
ENTRY_POINTS(WRAP_OPTION)
#else

/* GC_malloc_stubborn and GC_debug_malloc_stubborn are deprecated, not gone: programs
 * still call them. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#ifdef GCINTERPOSE_WRAP
#define ENTRY(f) __wrap_##f
#define DECLARE_REAL(f) extern __typeof__(f) __real_##f;
ENTRY_POINTS(DECLARE_REAL)
#undef DECLARE_REAL
#define REAL(f) __real_##f
#else
#define ENTRY(f) f
#define DECLARE_REAL(f) static __typeof__(&f) real_##f;
ENTRY_POINTS(DECLARE_REAL)
#undef DECLARE_REAL

/* Every real entry point is looked up at once, by the first call that needs one (it
 * may arrive before gcinterpose_start(): another library's constructor), so that a
 * nested call, which always follows an outermost one on its thread, finds them all
 * set (NESTED_CALL tests only the pointer it loads anyway).
 *
 * No lookup may fail: a failed dlsym allocates its error message (and the next one
 * frees it), and where the program's malloc is built on GC_malloc that malloc comes
 * back into an entry point on this thread, inside the pthread_once that is resolving
 * it: a deadlock, or a crash on its still-NULL pointer (tests/gcprof/partgc.c). So a
 * name is given to dlsym only once a later object's symbol table is seen to define
 * it (later_defines), and an entry point no later object defines stays NULL without
 * asking. */
static _Atomic int all_resolved;
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;
static TLS volatile int resolving;   /* this thread is inside resolve_each (volatile:
                                        SEEN_BY_CALLBACKS, dlsym being declared leaf) */

/* The GNU hash of a symbol name (the ELF gABI extension's function). */
static uint32_t gnu_hash(const char *name)
{
    uint32_t h = 5381;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) h = h * 33 + *c;
    return h;
}

/* An address from a loaded object's dynamic section: glibc relocates most in place,
 * a read-only section keeps them relative to the load base. */
static uintptr_t dyn_addr(uintptr_t base, ElfW(Addr) p) { return p < base ? base + p : p; }

/* Whether the object's dynamic symbol table defines `name`, by its GNU hash table. An
 * object without one answers yes: dlsym then decides, as before. No allocation. */
static int object_defines(const struct dl_phdr_info *o, const char *name)
{
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < o->dlpi_phnum; i++)
        if (o->dlpi_phdr[i].p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)(o->dlpi_addr + o->dlpi_phdr[i].p_vaddr);
    if (!dyn || !o->dlpi_addr) return 0;   /* the executable comes before us: not "next" */
    const ElfW(Sym) *sym = NULL;
    const char *str = NULL;
    const uint32_t *gnu = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_SYMTAB) sym = (const ElfW(Sym) *)dyn_addr(o->dlpi_addr, dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_STRTAB) str = (const char *)dyn_addr(o->dlpi_addr, dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_GNU_HASH) gnu = (const uint32_t *)dyn_addr(o->dlpi_addr, dyn->d_un.d_ptr);
    }
    if (!sym || !str || !gnu) return 1;
    uint32_t nbuckets = gnu[0], symoffset = gnu[1], bloom_words = gnu[2];
    const uint32_t *buckets = gnu + 4 + bloom_words * (sizeof(ElfW(Addr)) / 4);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t h = gnu_hash(name), i = nbuckets ? buckets[h % nbuckets] : 0;
    if (i < symoffset) return 0;
    for (;; i++) {
        uint32_t h2 = chain[i - symoffset];
        if ((h | 1) == (h2 | 1) && sym[i].st_shndx != SHN_UNDEF && strcmp(str + sym[i].st_name, name) == 0) return 1;
        if (h2 & 1) return 0;
    }
}

struct later_lookup { const char *name; uintptr_t self; int past_self, found; };

static int visit_object(struct dl_phdr_info *o, size_t size, void *data)
{
    (void)size;
    struct later_lookup *l = data;
    if (l->past_self && object_defines(o, l->name)) return l->found = 1;
    for (int i = 0; i < o->dlpi_phnum && !l->past_self; i++) {
        const ElfW(Phdr) *ph = &o->dlpi_phdr[i];
        uintptr_t lo = o->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && l->self >= lo && l->self < lo + ph->p_memsz) l->past_self = 1;
    }
    return 0;
}

/* dlsym(RTLD_NEXT, name), asked only when an object loaded after this library defines
 * name; NULL otherwise. */
static void *next_definition(const char *name)
{
    struct later_lookup l = {name, (uintptr_t)&next_definition, 0, 0};
    dl_iterate_phdr(visit_object, &l);
    return l.found ? dlsym(RTLD_NEXT, name) : NULL;
}

/* GC_malloc and GC_malloc_atomic may skip libgc's own (KIND_CALL) only where its call
 * of GC_malloc_kind would come to this library's: a program that defines GC_malloc_kind
 * itself sees every GC_malloc come through it, as without the library. */
static int kind_direct;

/* Whether the process's GC_malloc_kind (the one libgc's PLT binds) is this library's.
 * Asked only when some object defines it (so dlsym finds one: nothing allocated). */
static int malloc_kind_is_ours(void)
{
    Dl_info theirs, ours;
    void *f = dlsym(RTLD_DEFAULT, "GC_malloc_kind");
    return f && dladdr(f, &theirs) && dladdr((void *)&next_definition, &ours) &&
           theirs.dli_fbase == ours.dli_fbase;
}

/* NULL for an entry point no later object defines (a libgc built without it): REAL
 * aborts if the program calls it anyway. */
static void resolve_each(void)
{
    resolving = 1;
#define RESOLVE(f) real_##f = (__typeof__(real_##f))next_definition(#f);
    ENTRY_POINTS(RESOLVE)
#undef RESOLVE
    kind_direct = real_GC_malloc_kind && malloc_kind_is_ours();
    resolving = 0;
    atomic_store_explicit(&all_resolved, 1, memory_order_release);
}

__attribute__((noinline, cold)) static void resolve_all(void)
{
    if (!resolving) pthread_once(&resolve_once, resolve_each);
}

/* The real `name` for a call that found its pointer NULL: a nested call before any
 * lookup (in the profiler's own stretch, gcinterpose_own_begin) has them all looked up
 * first. One that arrives while this thread looks them up (it allocates nothing, so
 * only if a later object's constructor... does: defensively) looks up its own alone
 * rather than wait for the pthread_once it is inside of. Aborts when libgc has no
 * such function. */
__attribute__((noinline, cold)) static void *late_real(const char *name)
{
    if (!atomic_load_explicit(&all_resolved, memory_order_acquire)) resolve_all();
    void *f = next_definition(name);
    if (!f) abort();
    return f;
}
#define LATE(f) ((__typeof__(real_##f))late_real(#f))

#define REAL(f) (*({                                                                   \
    if (__builtin_expect(!atomic_load_explicit(&all_resolved, memory_order_acquire), 0)) \
        resolve_all();                                                                 \
    __builtin_expect(real_##f != NULL, 1) ? real_##f : LATE(f); }))
/* A nested call: the pointer it loads anyway is tested, and an unset one goes to the
 * entry point's cold late_NAME (which the COUNTED entry points define), so that the
 * nested path stays a jump, with no frame. */
#define NESTED_CALL(f, args) (__builtin_expect(real_##f != NULL, 1) ? real_##f args : late_##f args)
/* GC_malloc_kind(n, kind), or the calling entry point's own function f(n) in a libgc
 * without it (bdwgc before 7.6) or where the program defines its own (kind_direct). */
#define KIND_CALL(f, n, kind)                                                          \
    ((void)(__builtin_expect(atomic_load_explicit(&all_resolved, memory_order_acquire), 1) || \
            (resolve_all(), 0)),                                                       \
     __builtin_expect(kind_direct, 1) ? real_GC_malloc_kind(n, kind) : REAL(f)(n))
#endif
#ifndef NESTED_CALL
#define NESTED_CALL(f, args) (REAL(f) args)
#define KIND_CALL(f, n, kind) (REAL(GC_malloc_kind)(n, kind))
#endif

/* ---- accounts ------------------------------------------------------------------------ */

/* The tallies this front end keeps in each thread's account (gcinterpose_counts). */
enum { T_BATCHES, T_BATCH_OBJECTS, T_FREES, T_FORGOTTEN, T_COLLECTIONS, T_COUNT };
_Static_assert(T_COUNT <= GCACCOUNT_TALLIES, "gcaccount has a tally for each of ours");

static TLS int depth;

static _Atomic int counting;                      /* gcinterpose_start() succeeded */
static int (*forget_hook)(const void *);
static size_t extra_byte = 1;                     /* bdwgc's EXTRA_BYTES once known */
static size_t small_max = 0;                      /* largest request the rule covers; 0 until known */
static _Atomic uint64_t total_at_start, gc_no_at_start;

/* Objects a sample may track, by a hash of their address: set when sampled, never
 * cleared (a stale bit costs one forget call), malloc'd so bdwgc does not scan it. */
/* 64 Kbit (8 KiB: it stays in the cache of a program that frees often). At the default
 * rate a few thousand objects are tracked, so a free finds its bit clear but for a few
 * per cent of them; in exact mode nearly every bit is set anyway. */
#define MAYBE_BITS ((size_t)1 << 16)
static _Atomic uint64_t *maybe_tracked;

static size_t maybe_bit(const void *obj)
{
    uint64_t h = (uint64_t)(uintptr_t)obj * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 48) & (MAYBE_BITS - 1);
}

static void note_tracked(const void *obj)
{
    size_t b = maybe_bit(obj);
    atomic_fetch_or_explicit(&maybe_tracked[b / 64], (uint64_t)1 << (b % 64), memory_order_relaxed);
}

static int may_be_tracked(const void *obj)
{
    size_t b = maybe_bit(obj);
    return maybe_tracked &&
           (atomic_load_explicit(&maybe_tracked[b / 64], memory_order_relaxed) >> (b % 64) & 1);
}

static void (*thread_start_hook)(void);

/* ---- the profiler's own work ----------------------------------------------------------
 * A program may build its malloc on GC_malloc (bdwgc documents a REDIRECT_MALLOC
 * build, and some programs define malloc themselves): every malloc of the profiler
 * (the sampler's tables, a stack's unwinding, libc's fopen) then comes back into the
 * entry points here. Done with the depth flag set, it is forwarded like libgc's own
 * nested calls: not counted, and never back into the sampler, whose lock the thread
 * may hold. In such a program the bytes an outermost stretch took from bdwgc (the
 * growth of GC_get_total_bytes across it, which takes bdwgc's lock: only there) are
 * summed, and left out of the total the profile is checked against. */
static int own_bytes_counted;             /* set once at start */
static _Atomic uint64_t own_bytes;
static TLS uint64_t own_total_at_begin;

int gcinterpose_own_begin(void)
{
    int was = depth;
    if (!was && own_bytes_counted) own_total_at_begin = (uint64_t)GC_get_total_bytes();
    depth = 1;
    SEEN_BY_CALLBACKS();
    return was;
}

void gcinterpose_own_end(int was)
{
    SEEN_BY_CALLBACKS();
    if (!was && own_bytes_counted)
        atomic_fetch_add_explicit(&own_bytes, (uint64_t)GC_get_total_bytes() - own_total_at_begin, memory_order_relaxed);
    depth = was;
}

int gcinterpose_malloc_is_bdwgcs(void)
{
    int was = gcinterpose_own_begin();
    void *p = malloc(64);
    int ours = p && GC_base(p) != NULL;
    free(p);
    gcinterpose_own_end(was);
    if (ours) {
        own_total_at_begin = atomic_load(&total_at_start);   /* the caller's stretch: since the start */
        own_bytes_counted = 1;
    }
    return ours;
}

/* Gives the calling thread its account: its first counted call. */
static void arm_current_thread(void)
{
    int was = gcinterpose_own_begin();
    gcaccount_arm_any(gcthreads_note());
    if (thread_start_hook) thread_start_hook();
    gcinterpose_own_end(was);
}

/* A thread's first call: it gets its id BEFORE the call is forwarded, so that a
 * collection inside that call (bdwgc collects once while it initialises) is
 * recorded on a known thread. */
__attribute__((noinline)) static void note_thread(void)
{
    if (atomic_load_explicit(&counting, memory_order_acquire)) arm_current_thread();
}

/* Once bdwgc is initialised (after the first forwarded allocation): its extra byte. */
static void learn_size_rule(void)
{
    if (small_max) return;
    extra_byte = GC_get_all_interior_pointers() ? 1 : 0;
    small_max = (size_t)(GC_TINY_FREELISTS - 1) * GRANULE - extra_byte;
}

/* ---- collections on the profiler's behalf ------------------------------------------- */

static pthread_mutex_t collect_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t collect_done_cond;
static _Atomic uint64_t collect_wanted, collect_done;

/* On a program thread in its slow path: runs a requested collection if bdwgc knows
 * this thread (another thread serves it otherwise). */
static void serve_collect_request(void)
{
    uint64_t want = atomic_load_explicit(&collect_wanted, memory_order_acquire);
    if (want <= atomic_load_explicit(&collect_done, memory_order_acquire)) return;
    if (!GC_thread_is_registered()) return;
    REAL(GC_gcollect)();
    pthread_mutex_lock(&collect_lock);
    if (want > atomic_load(&collect_done)) atomic_store(&collect_done, want);
    pthread_cond_broadcast(&collect_done_cond);
    pthread_mutex_unlock(&collect_lock);
}

/* ---- the slow path ------------------------------------------------------------------- */

/* What the slow path needs to know about the object. */
enum { INTERIOR = 1,   /* obj points past a debug header: track GC_base(obj) */
       IN_BATCH = 2 }; /* obj is one of a *_malloc_many list, whose links bdwgc may not
                          see (pointer-free kinds): no collection until the list is handed over */

/* The countdown of the calling thread went negative on the object obj of `bytes`
 * bytes: credits the bytes, samples obj if its sample is due, serves a collection
 * request, re-arms. Runs on the program's behalf, so it may call bdwgc. */
GCHEAP_ALLOC_TEXT static void slow_path(void *obj, size_t bytes, int how)
{
    if (!atomic_load_explicit(&counting, memory_order_acquire)) return;   /* stays unarmed */
    int was = gcinterpose_own_begin();
    if (!gcaccount_armed()) arm_current_thread();
    learn_size_rule();
    gcthreads__program_call(1);
    if (gcaccount_settle(bytes)) {
        void *base = (how & INTERIOR) ? GC_base(obj) : obj;
        if (gcaccount_sample(base) && maybe_tracked) note_tracked(base);
    }
    if (!(how & IN_BATCH)) serve_collect_request();
    gcaccount_rearm(INTPTR_MAX);
    gcthreads__program_call(0);
    gcinterpose_own_end(was);
}

static inline void count(void *obj, size_t bytes, int how)
{
    if (gcaccount_spend((intptr_t)bytes)) slow_path(obj, bytes, how);
}

/* An object whose size bdwgc must say (large requests, typed, strings, debug). */
GCHEAP_ALLOC_TEXT static void count_sized(void *obj, int how)
{
    count(obj, GC_size(obj), how);
}

/* An object of a plain request of n bytes. */
static inline void count_request(void *obj, size_t n)
{
    if (__builtin_expect(obj == NULL, 0)) return;
    if (__builtin_expect(n <= small_max, 1)) count(obj, (n + extra_byte + GRANULE - 1) & ~(size_t)(GRANULE - 1), 0);
    else count_sized(obj, 0);
}

/* An object the program frees itself (or the old object of a moving realloc): the
 * sampler stops tracking it before bdwgc frees it. */
static void count_free(void *obj)
{
    if (!obj || !atomic_load_explicit(&counting, memory_order_relaxed)) return;
    if (!gcaccount_armed()) arm_current_thread();
    gcaccount_tally(T_FREES, 1);
    if (!forget_hook || !may_be_tracked(obj)) return;
    int was = gcinterpose_own_begin();
    gcthreads__program_call(1);
    if (forget_hook(obj)) gcaccount_tally(T_FORGOTTEN, 1);
    gcthreads__program_call(0);
    gcinterpose_own_end(was);
}

/* A batch of *_malloc_many: a list linked through each object's first word, all of
 * one size, sampled object by object (each with the refill's stack) when a sample
 * falls inside it. */
GCHEAP_ALLOC_TEXT static void count_batch(void *list)
{
    if (!list || !atomic_load_explicit(&counting, memory_order_relaxed)) return;
    size_t bytes = GC_size(list);
    uint64_t n = 0;
    for (void *p = list; p; p = GC_NEXT(p)) n++;
    /* Most batches end before the next sample: one spend for all. */
    if (!gcaccount_spend_within((intptr_t)(n * bytes)))
        for (void *p = list; p; p = GC_NEXT(p)) count(p, bytes, IN_BATCH);
    if (!gcaccount_armed()) arm_current_thread();
    gcaccount_tally(T_BATCHES, 1);
    gcaccount_tally(T_BATCH_OBJECTS, n);
}

/* ---- the entry points -----------------------------------------------------------------
 * OUTER(call): evaluates `call` (the forwarded call) with the depth flag set when this
 * is the thread's outermost call, leaving the result in p; nested calls return at once.
 *
 * The allocation entry points most programs call (BY_REQUEST, BY_SIZE) are split in
 * two: the exported entry only tests the flag and jumps, either to libgc's function
 * (a nested call: libgc calling itself through its PLT, which costs it no frame of
 * ours) or to the counting body (counted_NAME, in the allocator's text like
 * everything on the sampling path). */
#define OUTER(ret, call)                                            \
    if (__builtin_expect(depth, 0)) return call;                    \
    if (__builtin_expect(!gcaccount_armed(), 0)) note_thread();     \
    depth = 1;                                                      \
    ret p = call;                                                   \
    depth = 0

/* The counting body of an outermost call, run with the flag clear: `forward` is the
 * call it makes (usually REAL(name) args). */
#define COUNTED_VIA(ret, name, params, args, forward, count_it)     \
    GCHEAP_ALLOC_TEXT static ret counted_##name params              \
    {                                                               \
        if (__builtin_expect(!gcaccount_armed(), 0)) note_thread(); \
        depth = 1;                                                  \
        ret p = forward;                                            \
        depth = 0;                                                  \
        count_it;                                                   \
        return p;                                                   \
    }                                                               \
    __attribute__((noinline, cold, unused)) static ret late_##name params \
    {                                                               \
        return REAL(name) args;                                     \
    }                                                               \
    EXPORT ret GC_CALL ENTRY(name) params                           \
    {                                                               \
        if (__builtin_expect(depth, 0)) return NESTED_CALL(name, args); \
        return counted_##name args;                                 \
    }

#define COUNTED(ret, name, params, args, count_it)                  \
    COUNTED_VIA(ret, name, params, args, REAL(name) args, count_it)

/* Plain requests of n bytes: the size rule applies. */
#define BY_REQUEST(name, params, args, n)                           \
    COUNTED(void *, name, params, args, count_request(p, n))
/* GC_malloc and GC_malloc_atomic are GC_malloc_kind of the normal and the pointer-free
 * kind (gc_inline.h says so), and libgc's own calls that through its PLT, which comes
 * back here as a nested call: an outermost one goes to GC_malloc_kind directly, which
 * saves a second hop through this library on the two calls programs make most (to
 * their own function where libgc has no GC_malloc_kind: KIND_CALL). */
#define BY_KIND(name, kind)                                         \
    COUNTED_VIA(void *, name, (size_t n), (n), KIND_CALL(name, n, kind), count_request(p, n))
/* Objects whose size only bdwgc knows; interior: the result points past a header. */
#define BY_SIZE(ret, name, params, args, interior)                  \
    COUNTED(ret, name, params, args,                                \
            if (p) count_sized((void *)p, (interior) ? INTERIOR : 0))

BY_KIND(GC_malloc, GC_I_NORMAL)
BY_KIND(GC_malloc_atomic, GC_I_PTRFREE)
BY_REQUEST(GC_malloc_ignore_off_page, (size_t n), (n), n)
BY_REQUEST(GC_malloc_atomic_ignore_off_page, (size_t n), (n), n)
BY_REQUEST(GC_malloc_stubborn, (size_t n), (n), n)
BY_REQUEST(GC_malloc_kind, (size_t n, int k), (n, k), n)
BY_REQUEST(GC_malloc_kind_global, (size_t n, int k), (n, k), n)
BY_REQUEST(GC_generic_malloc, (size_t n, int k), (n, k), n)
BY_REQUEST(GC_generic_malloc_ignore_off_page, (size_t n, int k), (n, k), n)

BY_SIZE(void *, GC_malloc_uncollectable, (size_t n), (n), 0)
BY_SIZE(void *, GC_malloc_atomic_uncollectable, (size_t n), (n), 0)
BY_SIZE(void *, GC_generic_malloc_uncollectable, (size_t n, int k), (n, k), 0)
BY_SIZE(void *, GC_generic_or_special_malloc, (size_t n, int k), (n, k), 0)
BY_SIZE(void *, GC_malloc_explicitly_typed, (size_t n, GC_descr d), (n, d), 0)
BY_SIZE(void *, GC_malloc_explicitly_typed_ignore_off_page, (size_t n, GC_descr d), (n, d), 0)
BY_SIZE(void *, GC_calloc_explicitly_typed, (size_t k, size_t n, GC_descr d), (k, n, d), 0)
BY_SIZE(void *, GC_gcj_malloc, (size_t n, void *vtable), (n, vtable), 0)
BY_SIZE(void *, GC_gcj_malloc_ignore_off_page, (size_t n, void *vtable), (n, vtable), 0)
BY_SIZE(void *, GC_finalized_malloc, (size_t n, const struct GC_finalizer_closure *fc), (n, fc), 0)
BY_SIZE(char *, GC_strdup, (const char *s), (s), 0)
BY_SIZE(char *, GC_strndup, (const char *s, size_t n), (s, n), 0)
BY_SIZE(void *, GC_memalign, (size_t align, size_t n), (align, n), 1)

BY_SIZE(void *, GC_debug_malloc, (size_t n, GC_EXTRA_PARAMS), (n, s, i), 1)
BY_SIZE(void *, GC_debug_malloc_atomic, (size_t n, GC_EXTRA_PARAMS), (n, s, i), 1)
BY_SIZE(void *, GC_debug_malloc_uncollectable, (size_t n, GC_EXTRA_PARAMS), (n, s, i), 1)
BY_SIZE(void *, GC_debug_malloc_atomic_uncollectable, (size_t n, GC_EXTRA_PARAMS), (n, s, i), 1)
BY_SIZE(void *, GC_debug_malloc_ignore_off_page, (size_t n, GC_EXTRA_PARAMS), (n, s, i), 1)
BY_SIZE(void *, GC_debug_malloc_atomic_ignore_off_page, (size_t n, GC_EXTRA_PARAMS), (n, s, i), 1)
BY_SIZE(void *, GC_debug_malloc_stubborn, (size_t n, GC_EXTRA_PARAMS), (n, s, i), 1)
BY_SIZE(char *, GC_debug_strdup, (const char *str, GC_EXTRA_PARAMS), (str, s, i), 1)
BY_SIZE(char *, GC_debug_strndup, (const char *str, size_t n, GC_EXTRA_PARAMS), (str, n, s, i), 1)
BY_SIZE(void *, GC_debug_gcj_malloc, (size_t n, void *vtable, GC_EXTRA_PARAMS), (n, vtable, s, i), 1)
BY_SIZE(void *, GC_debug_generic_or_special_malloc, (size_t n, int k, GC_EXTRA_PARAMS), (n, k, s, i), 1)
BY_SIZE(void *, GC_debug_malloc_replacement, (size_t n), (n), 1)

EXPORT int GC_CALL ENTRY(GC_posix_memalign)(void **out, size_t align, size_t n)
{
    OUTER(int, REAL(GC_posix_memalign)(out, align, n));
    if (p == 0 && *out) count_sized(*out, INTERIOR);
    return p;
}

/* realloc: a moving one allocates a new object (counted) and frees the old one (no
 * longer tracked); one that stays in place counts no new bytes. realloc(NULL, n)
 * allocates; realloc(obj, 0) frees. */
GCHEAP_ALLOC_TEXT static void count_realloc(void *old, void *p, int interior)
{
    if (p == old) return;
    if (old) {
        void *base = interior ? GC_base(old) : old;
        count_free(base);
    }
    if (p) count_sized(p, interior ? INTERIOR : 0);
}

EXPORT void *GC_CALL ENTRY(GC_realloc)(void *old, size_t n)
{
    /* Whether it moves is known only from the result, so the old object is forgotten
     * just after bdwgc freed it; a collection meanwhile (another thread) sees it dead:
     * gcheap_survives_unlocked checks that a tracked object is still allocated. */
    OUTER(void *, REAL(GC_realloc)(old, n));
    count_realloc(old, p, 0);
    return p;
}

EXPORT void *GC_CALL ENTRY(GC_debug_realloc)(void *old, size_t n, GC_EXTRA_PARAMS)
{
    OUTER(void *, REAL(GC_debug_realloc)(old, n, s, i));
    count_realloc(old, p, 1);
    return p;
}

EXPORT void *GC_CALL ENTRY(GC_debug_realloc_replacement)(void *old, size_t n)
{
    OUTER(void *, REAL(GC_debug_realloc_replacement)(old, n));
    count_realloc(old, p, 1);
    return p;
}

EXPORT void GC_CALL ENTRY(GC_free)(void *obj)
{
    if (__builtin_expect(depth, 0)) { REAL(GC_free)(obj); return; }
    count_free(obj);
    depth = 1;
    REAL(GC_free)(obj);
    depth = 0;
}

EXPORT void GC_CALL ENTRY(GC_debug_free)(void *obj)
{
    if (__builtin_expect(depth, 0)) { REAL(GC_debug_free)(obj); return; }
    if (obj && atomic_load_explicit(&counting, memory_order_relaxed)) count_free(GC_base(obj));
    depth = 1;
    REAL(GC_debug_free)(obj);
    depth = 0;
}

EXPORT void *GC_CALL ENTRY(GC_malloc_many)(size_t n)
{
    OUTER(void *, REAL(GC_malloc_many)(n));
    count_batch(p);
    return p;
}

EXPORT void GC_CALL ENTRY(GC_generic_malloc_many)(size_t n, int k, void **result)
{
    if (__builtin_expect(depth, 0)) { REAL(GC_generic_malloc_many)(n, k, result); return; }
    if (__builtin_expect(!gcaccount_armed(), 0)) note_thread();
    depth = 1;
    REAL(GC_generic_malloc_many)(n, k, result);
    depth = 0;
    count_batch(*result);
}

/* ---- initialisation and collections the program asks for: noted so that their
 * events have a thread ---------------------------------------------------------------- */

EXPORT void GC_CALL ENTRY(GC_init)(void)
{
    if (!depth && !gcaccount_armed()) note_thread();
    REAL(GC_init)();
}


static void note_program_collection(void)
{
    if (!atomic_load_explicit(&counting, memory_order_relaxed)) return;
    if (!gcaccount_armed()) arm_current_thread();
    gcaccount_tally(T_COLLECTIONS, 1);
}

EXPORT void GC_CALL ENTRY(GC_gcollect)(void)
{
    if (__builtin_expect(depth, 0)) { REAL(GC_gcollect)(); return; }
    note_program_collection();
    depth = 1;
    REAL(GC_gcollect)();
    depth = 0;
}

EXPORT void GC_CALL ENTRY(GC_gcollect_and_unmap)(void)
{
    if (__builtin_expect(depth, 0)) { REAL(GC_gcollect_and_unmap)(); return; }
    note_program_collection();
    depth = 1;
    REAL(GC_gcollect_and_unmap)();
    depth = 0;
}

EXPORT int GC_CALL ENTRY(GC_try_to_collect)(GC_stop_func stop)
{
    if (__builtin_expect(depth, 0)) return REAL(GC_try_to_collect)(stop);
    note_program_collection();
    depth = 1;
    int r = REAL(GC_try_to_collect)(stop);
    depth = 0;
    return r;
}

/* ---- event hooks and the start callback: libgcprof's first, then the program's -------
 * bdwgc has one slot for each. Ours stays installed; what the program sets or reads
 * through bdwgc's setters and getters is its own callback, kept here and called after
 * ours (a program that chains the previous callback, as ECL does, gets its own
 * predecessor back, never ours: no loop). */

static _Atomic(GC_on_collection_event_proc) program_collection_hook;
static _Atomic(GC_on_thread_event_proc) program_thread_hook;
static _Atomic(GC_start_callback_proc) program_start_callback;
static _Atomic int hooks_installed;

/* bdwgc's hooks (allocation lock held or world stopped): gcevents' listener rules. */
static void GC_CALLBACK chained_collection_event(GC_EventType e)
{
    gcevents__collection_event((int)e);
    GC_on_collection_event_proc next = atomic_load_explicit(&program_collection_hook, memory_order_acquire);
    if (next) next(e);
}

static void GC_CALLBACK chained_thread_event(GC_EventType e, void *thread)
{
    gcevents__thread_event((int)e, thread);
    GC_on_thread_event_proc next = atomic_load_explicit(&program_thread_hook, memory_order_acquire);
    if (next) next(e, thread);
}

/* bdwgc's start callback: a full collection starts. bdwgc's contract (gc_mark.h): it
 * runs with the allocation lock held, before the collection's first world stop; it must
 * not allocate, take locks, block or call bdwgc, directly or indirectly. gcevents'
 * part keeps to that (its listener rules), and the program's callback was written to
 * the same contract. It is how gcevents tells a full collection from a partial one
 * when the program runs bdwgc in incremental mode. */
static void GC_CALLBACK chained_start_callback(void)
{
    gcevents__full_start();
    GC_start_callback_proc next = atomic_load_explicit(&program_start_callback, memory_order_acquire);
    if (next) next();
}

/* The program's setter and getter of a hook libgcprof chains: once ours is installed
 * they set and read the program's own (slot), which ours calls after its own work;
 * before that, bdwgc's. bdwgc's take its lock; these do not (an atomic word). */
#define CHAINED_HOOK(type, set, get, slot)                              \
    EXPORT void GC_CALL ENTRY(set)(type fn)                             \
    {                                                                   \
        if (atomic_load(&hooks_installed)) atomic_store(&slot, fn);     \
        else REAL(set)(fn);                                             \
    }                                                                   \
    EXPORT type GC_CALL ENTRY(get)(void)                                \
    {                                                                   \
        if (atomic_load(&hooks_installed)) return atomic_load(&slot);   \
        return REAL(get)();                                             \
    }

CHAINED_HOOK(GC_on_collection_event_proc, GC_set_on_collection_event, GC_get_on_collection_event,
             program_collection_hook)
CHAINED_HOOK(GC_on_thread_event_proc, GC_set_on_thread_event, GC_get_on_thread_event, program_thread_hook)
CHAINED_HOOK(GC_start_callback_proc, GC_set_start_callback, GC_get_start_callback, program_start_callback)

/* Keeps whatever a constructor that ran before ours set, then installs ours. */
static void install_hooks(void)
{
    atomic_store(&program_collection_hook, REAL(GC_get_on_collection_event)());
    atomic_store(&program_thread_hook, REAL(GC_get_on_thread_event)());
    atomic_store(&program_start_callback, REAL(GC_get_start_callback)());
    REAL(GC_set_on_collection_event)(chained_collection_event);
    REAL(GC_set_on_thread_event)(chained_thread_event);
    REAL(GC_set_start_callback)(chained_start_callback);
    atomic_store(&hooks_installed, 1);
}

/* ---- start ---------------------------------------------------------------------------- */

static void init_collect_cond(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&collect_done_cond, &ca);
    pthread_condattr_destroy(&ca);
}

#ifdef GCINTERPOSE_WRAP
/* Linked in: the entry points are ours by construction. */
static enum gcinterpose_libgc find_libgc(void) { return GCINTERPOSE_LINKED; }
#else
/* Preloaded: the entry points come here only if no object before this library (the
 * executable) defines them, and forward only if one after it (libgc.so) does. */
static enum gcinterpose_libgc find_libgc(void)
{
    /* Whose GC_malloc the program calls: &GC_malloc here would say the same (it
     * resolves globally), so compare the objects that hold it and this function. */
    Dl_info first, self;
    void *p = dlsym(RTLD_DEFAULT, "GC_malloc");
    if (p && dladdr(p, &first) && dladdr((void *)&find_libgc, &self) && first.dli_fbase != self.dli_fbase)
        return GCINTERPOSE_STATIC;
#define RESOLVE(f) if (!(real_##f = (__typeof__(real_##f))next_definition(#f))) return GCINTERPOSE_NONE;
    ENTRY_POINTS(RESOLVE)
#undef RESOLVE
    return GCINTERPOSE_DYNAMIC;
}
#endif

enum gcinterpose_libgc gcinterpose_start(void)
{
    enum gcinterpose_libgc how = find_libgc();
    if (how != GCINTERPOSE_DYNAMIC && how != GCINTERPOSE_LINKED) return how;
    maybe_tracked = calloc(MAYBE_BITS / 64, sizeof *maybe_tracked);
    if (gcaccount_init(UNSAMPLED_COUNTDOWN) < 0 || !maybe_tracked) return GCINTERPOSE_NONE;
    init_collect_cond();
    gcthreads__set_foreign();
    gcheap__explicit_frees();
    install_hooks();
    atomic_store(&total_at_start, (uint64_t)GC_get_total_bytes());
    atomic_store(&gc_no_at_start, (uint64_t)GC_get_gc_no());
    atomic_store_explicit(&counting, 1, memory_order_release);
    return how;
}

void gcinterpose_set_forget(int (*forget)(const void *obj)) { forget_hook = forget; }

void gcinterpose_stop_counting(void) { atomic_store_explicit(&counting, 0, memory_order_release); }

void gcinterpose_set_thread_start(void (*fn)(void)) { thread_start_hook = fn; }

/* ---- the [front end] functions of gcheap.h ------------------------------------------- */

/* gcheap_set_sampler, gcheap_reset_sample_countdowns and gcheap_allocated_total are
 * gcaccount.c's. */

/* No policy to tell: the program's heap limits are its own. */
void gcheap_report_outside(uint64_t bytes) { (void)bytes; }

/* bdwgc's own trigger is not a figure it publishes. */
uint64_t gcheap__next_gc(void) { return 0; }

/* The program's, as bdwgc runs it: incremental (bdwgc's generational collections) or
 * stop-the-world. A read of bdwgc's flag; no lock. */
enum gcheap_mode gcheap_mode(void) { return GC_is_incremental_mode() ? GCHEAP_GENERATIONAL : GCHEAP_STW; }

/* The default a profiler's snapshot uses when it wants a collection first. */
#define COLLECT_TIMEOUT_MS 5000

/* Set by gcinterpose_collect_for_next_snapshot on a thread that just had its
 * collection, consumed by the next gcheap_collect() there. */
static TLS int fresh_collection;

void gcheap_collect(void)
{
    if (fresh_collection) {
        fresh_collection = 0;
        return;
    }
    (void)gcinterpose_collect(COLLECT_TIMEOUT_MS);
}

/* Forced collections (?gc=1) are not shared here: each already waits for a program
 * thread's next allocation (gcinterpose_collect), which bounds how often they run. */
static _Atomic uint64_t forced_runs;

int gcheap_collect_shared(void)
{
    int ran = fresh_collection || gcinterpose_collect(COLLECT_TIMEOUT_MS) == 0;
    fresh_collection = 0;
    if (ran) atomic_fetch_add_explicit(&forced_runs, 1, memory_order_relaxed);
    return ran;
}

void gcheap__forced_counts(uint64_t *runs, uint64_t *shared)
{
    *runs = atomic_load_explicit(&forced_runs, memory_order_relaxed);
    *shared = 0;
}

int gcinterpose_collect_for_next_snapshot(int timeout_ms)
{
    int rc = gcinterpose_collect(timeout_ms);
    fresh_collection = rc == 0;
    return rc;
}

/* ---- collections ------------------------------------------------------------------------ */

static int wait_for_collection(uint64_t ticket, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
    int rc = 0;
    while (atomic_load(&collect_done) < ticket && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&collect_done_cond, &collect_lock, &until);
    return atomic_load(&collect_done) >= ticket ? 0 : -1;
}

int gcinterpose_collect(int timeout_ms)
{
    if (!atomic_load(&counting)) return -1;
    if (gcthreads_may_call_collector() && GC_thread_is_registered()) {
        REAL(GC_gcollect)();
        return 0;
    }
    pthread_mutex_lock(&collect_lock);
    uint64_t ticket = atomic_fetch_add(&collect_wanted, 1) + 1;
    gcheap_reset_sample_countdowns();   /* every thread to its slow path */
    int rc = wait_for_collection(ticket, timeout_ms);
    pthread_mutex_unlock(&collect_lock);
    return rc;
}

int gcinterpose_final_collection(void)
{
    if (!atomic_load(&counting) || !GC_is_init_called() || !GC_thread_is_registered()) return -1;
    GC_word before = GC_get_gc_no();
    gcthreads__program_call(1);
    REAL(GC_gcollect)();          /* does nothing while collection is disabled (GC_DONT_GC) */
    gcthreads__program_call(0);
    return GC_get_gc_no() != before;
}

/* ---- truth ---------------------------------------------------------------------------- */

static void GC_CALLBACK add_reachable(void *obj, size_t bytes, void *data)
{
    (void)obj;
    struct gcinterpose_truth *t = data;
    t->reachable_bytes += bytes;
    t->reachable_objects++;
}

static void *enumerate_locked(void *data)
{
    GC_enumerate_reachable_objects_inner(add_reachable, data);
    return NULL;
}

void gcinterpose_truth(struct gcinterpose_truth *t, int enumerate_reachable)
{
    memset(t, 0, sizeof *t);
    t->total_bytes_at_start = atomic_load(&total_at_start);
    t->collections_at_start = atomic_load(&gc_no_at_start);
    if (!atomic_load(&counting)) return;
    t->total_bytes_now = GC_get_total_bytes() - atomic_load(&own_bytes);
    t->collections_now = GC_get_gc_no();
    if (enumerate_reachable && GC_is_init_called()) GC_call_with_alloc_lock(enumerate_locked, t);
}

void gcinterpose_counts(struct gcinterpose_counts *c)
{
    memset(c, 0, sizeof *c);
    c->batches = gcaccount_tally_sum(T_BATCHES);
    c->batch_objects = gcaccount_tally_sum(T_BATCH_OBJECTS);
    c->frees = gcaccount_tally_sum(T_FREES);
    c->forgotten = gcaccount_tally_sum(T_FORGOTTEN);
    c->program_collections = gcaccount_tally_sum(T_COLLECTIONS);
    c->requested_collections = atomic_load(&collect_done);
}

#endif /* GCINTERPOSE_PRINT_WRAP_OPTIONS */
