/* hashidx: the one hash table of profile/: an open-addressing index from a 64-bit hash
 * to dense ids (0, 1, 2, ...), with the hash functions its users need.
 *
 * Owns only the slots. The caller keeps its entries in its own array, indexed by id,
 * and says how a key matches an entry (`match`) and how to re-hash an entry when the
 * index grows (`rehash`), so one implementation serves stacks, sample records,
 * symbol caches, string tables and profile builders alike. Slots hold id + 1 (0 is
 * empty); the index stays at most half full, so a probe ends quickly.
 *
 * Memory: malloc only (never the GC heap). Not synchronised: callers hold their own
 * lock. Not for collection listeners or signal handlers (hashidx_add may allocate).
 */
#ifndef MEMDEMO_HASHIDX_H
#define MEMDEMO_HASHIDX_H

#include <stddef.h>
#include <stdint.h>

struct hashidx {
    uint32_t *slots;   /* id + 1, 0 = empty; cap slots, cap a power of two */
    size_t cap;
    size_t len;        /* ids added */
};

#define HASHIDX_INIT {0, 0, 0}

/* 1 if entry `id` of the caller's array equals `key`. */
typedef int (*hashidx_match_fn)(const void *ctx, uint32_t id, const void *key);
/* The hash entry `id` was added with. */
typedef uint64_t (*hashidx_hash_fn)(const void *ctx, uint32_t id);

/* The first slot to probe for `hash`: the hash is mixed first, so callers may pass any
 * 64-bit hash (FNV-1a, for one, leaves its low bits blind to the input's high bits). */
static inline size_t hashidx__slot(uint64_t hash, size_t cap)
{
    hash *= 0x9e3779b97f4a7c15ull;
    return (size_t)(hash ^ (hash >> 32)) & (cap - 1);
}

/* The id of the entry with this hash that matches key, or -1. Inline so that a static
 * match function is inlined into the probe loop (stacks and records are looked up on
 * every sampled allocation). */
static inline int64_t hashidx_find(const struct hashidx *h, uint64_t hash, hashidx_match_fn match,
                                   const void *ctx, const void *key)
{
    if (!h->cap) return -1;
    size_t mask = h->cap - 1;
    for (size_t j = hashidx__slot(hash, h->cap); h->slots[j]; j = (j + 1) & mask)
        if (match(ctx, h->slots[j] - 1, key)) return (int64_t)h->slots[j] - 1;
    return -1;
}

/* Adds `id` (not yet present) under `hash`, growing the index first when it would pass
 * half full (every entry is re-placed with rehash(ctx, id)). Returns 0, or -1 when out
 * of memory (the index is unchanged). */
int hashidx_add(struct hashidx *h, uint64_t hash, uint32_t id, hashidx_hash_fn rehash, const void *ctx);

/* Frees the slots; the index is empty and reusable afterwards. */
void hashidx_free(struct hashidx *h);

/* Bytes the slots take (malloc'd). Pure. */
static inline size_t hashidx_bytes(const struct hashidx *h) { return h->cap * sizeof *h->slots; }

/* Hash functions. Pure; any thread, any context (signal handlers included). */
uint64_t hash_mix(uint64_t x);                     /* one word: a multiply-xorshift mix */
uint64_t hash_bytes(const void *p, size_t n);      /* FNV-1a */
uint64_t hash_str(const char *s);                  /* FNV-1a of a NUL-terminated string */

#endif
