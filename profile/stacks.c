/* stacks: capture and interning of allocation stacks. See stacks.h. */
#include "profile/stacks.h"

#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <ucontext.h>
#include <stdlib.h>
#include <string.h>

#include "gc/gcheap.h"
#include "profile/buf.h"
#include "profile/hashidx.h"
#include "profile/unwind.h"

/* Frames of our own that may sit above the first allocator frame (this function and
 * backtrace's) plus the allocator and profiler frames themselves. */
#define STACKS_OWN_FRAMES 16

/* Weak: the linker defines both in an executable; in libgcprof.so, which unwinds by
 * tables (stacks_capture_by_unwind_tables) and never asks, they may stay undefined. */
extern const char __executable_start[] __attribute__((weak)), etext[] __attribute__((weak));

static __thread uintptr_t stack_lo, stack_hi;   /* this thread's stack; 0: unknown yet */
static __thread int stack_bounds_failed;

static int in_executable(uintptr_t pc)
{
    return pc >= (uintptr_t)__executable_start && pc < (uintptr_t)etext;
}

/* Learns the calling thread's stack range once (pthread_getattr_np may allocate). */
static int know_stack_bounds(void)
{
    if (stack_hi) return 1;
    if (stack_bounds_failed) return 0;
    pthread_attr_t a;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a) != 0) { stack_bounds_failed = 1; return 0; }
    int rc = pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
    if (rc != 0) { stack_bounds_failed = 1; return 0; }
    stack_lo = (uintptr_t)addr;
    stack_hi = (uintptr_t)addr + size;
    return 1;
}

/* Walks the frame-pointer chain (memdemo is built with -fno-omit-frame-pointer). Each
 * frame pointer is checked to lie inside this thread's stack and to grow, so a
 * corrupt chain ends the walk instead of faulting. The walk ends at memdemo's
 * outermost frame: the first return address outside the executable is not kept
 * (libmicrohttpd keeps no frame pointers, so its frames cannot be followed, and a
 * bare library address would be every graph's root), so a request's stack ends in
 * the server's request callback and the main thread's in main. Skips the leading
 * allocator/profiler frames. Returns the number of pcs written. */
GCHEAP_ALLOC_TEXT static int walk_frame_pointers(uintptr_t *pcs, int max)
{
    const uintptr_t *fp = __builtin_frame_address(0);
    int kept = 0, leading = 1;
    while (kept < max && ((uintptr_t)fp & 7) == 0 && (uintptr_t)fp >= stack_lo &&
           (uintptr_t)fp + 2 * sizeof(uintptr_t) <= stack_hi) {
        uintptr_t ret = fp[1];
        if (!ret || !in_executable(ret)) break;
        if (!(leading && gcheap_pc_is_alloc_text(ret))) {
            leading = 0;
            pcs[kept++] = ret;
        }
        const uintptr_t *next = (const uintptr_t *)fp[0];
        if (next <= fp) break;
        fp = next;
    }
    return kept;
}

/* glibc's backtrace() (libgcc's DWARF unwinder): complete through libraries, but about
 * 3 us a call, which made exact mode (a stack per allocation) 80x slower. The fallback
 * when the stack bounds are unknown. Ends, like the walk, at memdemo's outermost
 * frame. */
GCHEAP_ALLOC_TEXT static int unwind_with_backtrace(uintptr_t *pcs, int max)
{
    void *raw[STACKS_MAX_DEPTH + STACKS_OWN_FRAMES];
    int n = backtrace(raw, (int)(sizeof raw / sizeof raw[0]));
    int i = 0;
    while (i < n && !gcheap_pc_is_alloc_text((uintptr_t)raw[i])) i++;   /* libc's frames */
    while (i < n && gcheap_pc_is_alloc_text((uintptr_t)raw[i])) i++;    /* ours */
    int kept = 0;
    for (; i < n && kept < max && in_executable((uintptr_t)raw[i]); i++) pcs[kept++] = (uintptr_t)raw[i];
    return kept;
}

/* stacks_capture_by_unwind_tables(): set once at load, before any sample. */
static int by_unwind_tables;
static uintptr_t own_lo, own_hi;

void stacks_capture_by_unwind_tables(uintptr_t lo, uintptr_t hi)
{
    own_lo = lo;
    own_hi = hi;
    by_unwind_tables = 1;
}

GCHEAP_ALLOC_TEXT int stacks_capture(uintptr_t *pcs, int max)
{
    if (max > STACKS_MAX_DEPTH) max = STACKS_MAX_DEPTH;
    if (by_unwind_tables) return unwind_capture(pcs, max, own_lo, own_hi);
    if (know_stack_bounds()) return walk_frame_pointers(pcs, max);
    return unwind_with_backtrace(pcs, max);
}

void stacks_init(void)
{
    void *raw[4];
    backtrace(raw, 4);
    know_stack_bounds();
}

/* Reads only thread-local variables of the executable (local-exec TLS) and the
 * thread pointer: async-signal-safe. */
uintptr_t stacks_signal_stack_top(uintptr_t sp)
{
    if (stack_hi && sp >= stack_lo && sp < stack_hi) return stack_hi;
    uintptr_t tp = (uintptr_t)__builtin_thread_pointer();   /* == pthread_self() */
    if (tp > sp && tp - sp < ((uintptr_t)256 << 20)) return tp;
    return 0;
}

/* Not instrumented by SANITIZER=address: the interrupted code may be one that uses rbp
 * as a plain register pointing at a local, whose neighbours are poisoned redzones. */
__attribute__((no_sanitize_address)) int stacks_walk_context(const void *ucontext, uintptr_t *pcs, int max)
{
    const ucontext_t *uc = ucontext;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    const uintptr_t *fp = (const uintptr_t *)uc->uc_mcontext.gregs[REG_RBP];
    if (max < 1) return 0;
    if (max > STACKS_MAX_DEPTH) max = STACKS_MAX_DEPTH;
    int kept = 0;
    pcs[kept++] = pc + 1;
    uintptr_t top = stacks_signal_stack_top(sp);
    while (kept < max && ((uintptr_t)fp & 7) == 0 && (uintptr_t)fp >= sp &&
           (uintptr_t)fp + 2 * sizeof(uintptr_t) <= top) {
        uintptr_t ret = fp[1];
        if (!ret) break;
        pcs[kept++] = ret;
        if (!in_executable(ret)) break;
        const uintptr_t *next = (const uintptr_t *)fp[0];
        if (next <= fp) break;
        fp = next;
    }
    return kept;
}

#define ARENA_CHUNK_PCS 8192

struct stack_entry {
    uint64_t hash;
    const uintptr_t *pcs;
    int n;
};

struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    uintptr_t pcs[ARENA_CHUNK_PCS];
};

struct stacks_table {
    struct stack_entry *entries;   /* by id */
    size_t count, cap;
    struct hashidx index;          /* hash of the frames -> id */
    struct arena_chunk *arena;     /* the frames themselves; chunks never move */
    size_t arena_chunks;
};

struct stacks_table *stacks_table_new(void)
{
    return calloc(1, sizeof(struct stacks_table));
}

void stacks_table_free(struct stacks_table *t)
{
    if (!t) return;
    for (struct arena_chunk *c = t->arena, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(t->entries);
    hashidx_free(&t->index);
    free(t);
}

struct stack_key { const uintptr_t *pcs; int n; uint64_t hash; };

static int entry_matches(const void *ctx, uint32_t id, const void *key)
{
    const struct stack_entry *e = &((const struct stacks_table *)ctx)->entries[id];
    const struct stack_key *k = key;
    return e->hash == k->hash && e->n == k->n && memcmp(e->pcs, k->pcs, (size_t)k->n * sizeof *k->pcs) == 0;
}

static uint64_t entry_hash(const void *ctx, uint32_t id)
{
    return ((const struct stacks_table *)ctx)->entries[id].hash;
}

static const uintptr_t *arena_copy(struct stacks_table *t, const uintptr_t *pcs, int n)
{
    struct arena_chunk *c = t->arena;
    if (!c || c->used + (size_t)n > ARENA_CHUNK_PCS) {
        c = malloc(sizeof *c);
        if (!c) return NULL;
        c->next = t->arena;
        c->used = 0;
        t->arena = c;
        t->arena_chunks++;
    }
    uintptr_t *dst = c->pcs + c->used;
    memcpy(dst, pcs, (size_t)n * sizeof *pcs);
    c->used += (size_t)n;
    return dst;
}

int stacks_intern(struct stacks_table *t, const uintptr_t *pcs, int n)
{
    if (n > ARENA_CHUNK_PCS) n = ARENA_CHUNK_PCS;
    struct stack_key k = {pcs, n, hash_bytes(pcs, (size_t)n * sizeof *pcs) ^ (uint64_t)n};
    int64_t found = hashidx_find(&t->index, k.hash, entry_matches, t, &k);
    if (found >= 0) return (int)found;
    if (buf_grow_array(&t->entries, &t->cap, t->count + 1, sizeof *t->entries) < 0) return -1;
    const uintptr_t *copy = arena_copy(t, pcs, n);
    if (!copy) return -1;
    uint32_t id = (uint32_t)t->count;
    t->entries[id] = (struct stack_entry){k.hash, copy, n};
    if (hashidx_add(&t->index, k.hash, id, entry_hash, t) < 0) return -1;   /* frames stay in the arena */
    t->count++;
    return (int)id;
}

const uintptr_t *stacks_get(const struct stacks_table *t, int id, int *n)
{
    *n = t->entries[id].n;
    return t->entries[id].pcs;
}

size_t stacks_count(const struct stacks_table *t) { return t->count; }

size_t stacks_bytes(const struct stacks_table *t)
{
    return sizeof *t + t->cap * sizeof *t->entries + hashidx_bytes(&t->index) +
           t->arena_chunks * sizeof(struct arena_chunk);
}

static const int dwarf_to_greg[STACKS_NREGS] = {
    REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
    REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP,
};

/* Word by word, not by memcpy (nor a loop the compiler turns into one): the copy
 * crosses other frames' slots, which a SANITIZER=address build poisons around locals
 * and whose memcpy would check them. */
__attribute__((no_sanitize_address, optimize("no-tree-loop-distribute-patterns")))
size_t stacks_copy_context(const void *ucontext, struct stacks_regs *regs, void *dst, size_t cap)
{
    const ucontext_t *uc = ucontext;
    for (int r = 0; r < STACKS_NREGS; r++)
        regs->r[r] = (uint64_t)uc->uc_mcontext.gregs[dwarf_to_greg[r]];
    uintptr_t sp = (uintptr_t)regs->r[7], top = stacks_signal_stack_top(sp);
    if (sp & 7) return 0;             /* never at a signal in compiled code */
    size_t words = (top > sp ? top - sp : 0) / sizeof(uint64_t);
    if (words > cap / sizeof(uint64_t)) words = cap / sizeof(uint64_t);
    const uint64_t *src = (const uint64_t *)sp;
    uint64_t *out = dst;
    for (size_t i = 0; i < words; i++) out[i] = src[i];
    return words * sizeof(uint64_t);
}
