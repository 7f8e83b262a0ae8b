/* symbols: turns code addresses of THIS process into function, file and line, and
 * lists the process's executable mappings, so that the profiles memdemo serves are
 * self-sufficient (go tool pprof symbolizes nothing and needs no binary at hand).
 *
 * Owns: one libdw Dwfl session for the live process (dwfl_linux_proc_report), a
 * per-pc cache of resolved inline chains, interned strings, and the mapping list read
 * from /proc/self/maps at init. Leaves to others: capturing stacks (the sampler) and
 * encoding (profile/pprof). Everything lives in malloc'd memory, never in the GC
 * heap, and is kept until exit: the profiler never holds GC pointers.
 *
 * Errors: symbols_init follows gc/errors.h (-1 with errno); lookups that find nothing
 * (0 frames, a NULL name, index -1) are not failures and leave errno alone. Threads: every public function may be called from any thread (one
 * internal mutex serializes libdw, which is not thread-safe), but not from inside a
 * collection listener or with the world stopped (they lock and allocate).
 */
#ifndef MEMDEMO_SYMBOLS_H
#define MEMDEMO_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "profile/stacks.h"

/* One frame of an inline chain. Strings are interned and live until exit. */
struct symbols_frame {
    const char *function;   /* never NULL when returned (may be "??" only if unnamed) */
    const char *file;       /* absolute path of the function's source file, or NULL */
    int line;               /* line of the pc (leaf) or of the call (callers); 0 unknown */
    int start_line;         /* line of the function's declaration; 0 unknown */
};

/* One file-backed executable mapping of the process, as in /proc/self/maps. */
struct symbols_mapping {
    uintptr_t start;        /* first address of the executable segment */
    uintptr_t limit;        /* one past its last address */
    uint64_t offset;        /* file offset of start */
    const char *path;       /* absolute path */
    const char *build_id;   /* GNU build id, lowercase hex; "" when the file has none */
};

/* Most frames symbols_lookup reports for one pc (deeper inline chains are cut at
 * the leaf end: the physical function is always kept). */
#define SYMBOLS_MAX_FRAMES 16

/* Opens the libdw session for this process and reads /proc/self/maps, once: every
 * other function here calls it on first use, so nothing needs to call it at start-up
 * (memdemo does not: reading the ELF and DWARF of every library costs about 2 MB of RSS,
 * paid by the first profile request). Later calls return the first result at no cost.
 * Libraries dlopen'ed later are not known. Any thread. Returns 0, or -1 with errno =
 * EIO if libdw cannot report the process (lookups then find nothing). */
int symbols_init(void);

/* Resolves pc, which must already be the CALL SITE (return address - 1), into its
 * inline chain, leaf first: out[0] is the innermost inlined callee, out[count-1] the
 * physical function. Writes at most max frames (max >= 1; if the chain is longer the
 * innermost callees are dropped). Returns the number written, 0 if pc is in no known
 * module or has no symbol at all. Results are cached per pc; strings live until exit.
 * Thread-safe; may allocate (malloc) on a cache miss. */
int symbols_lookup(uintptr_t pc, struct symbols_frame *out, int max);

/* The ELF symbol containing pc (for /debug/pprof/symbol and legacy text comments),
 * with *offset = pc - symbol start when offset is not NULL. Returns NULL if unknown.
 * The string lives until exit. A binary search in a per-module table of the module's
 * symbols, built (malloc) at the first lookup in that module: then about a microsecond
 * per address, and nothing is kept per address, so asking about arbitrary addresses
 * costs no memory. Thread-safe. */
const char *symbols_name(uintptr_t pc, uintptr_t *offset);

/* The process's file-backed executable mappings as read at init: the main
 * executable first, then the others in address order. Sets *out to an array that
 * lives until exit and returns its length (0 if init failed). Thread-safe. */
size_t symbols_mappings(const struct symbols_mapping **out);

/* Index into symbols_mappings' array of the mapping containing pc, or -1. */
int symbols_mapping_index(uintptr_t pc);

/* Of pcs[0..n) (a captured stack, leaf first), how many to keep: the leaf always,
 * then callers up to the first that lies in no executable mapping (what a walk that
 * followed a register which was not a frame pointer produces). Thread-safe. */
int symbols_known_prefix(const uintptr_t *pcs, int n);

/* Unwinds a stack from a COPY of it (stacks_copy_context) by the unwind tables (.eh_frame / DWARF CFI) of
 * every module, as a debugger does: `stack` holds len bytes copied from address
 * regs->r[7] (rsp) upward; memory outside the copy reads as unavailable and ends the
 * walk. Writes pcs[0] = rip + 1 and then return addresses (the convention of
 * stacks_walk_context), at most max. Returns the count, 0 if libdw cannot unwind.
 * Thread-safe (serialized with the other lookups); may allocate; not for signal
 * handlers. */
int symbols_unwind(const struct stacks_regs *regs, const void *stack, size_t len,
                   uintptr_t *pcs, int max);

#endif
