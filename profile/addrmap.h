/* addrmap: a map from a word (a hidden object address) to a 32-bit value (a tracking
 * slot), with deletion: how the heap profiler finds the sample of an object that the
 * program frees itself (GC_free, realloc), which memdemo never does but a foreign
 * program may.
 *
 * Owns only its slots: open addressing with linear probing, at most half full,
 * deletion by backward shift (no tombstones), so a lookup ends at the first empty slot.
 * Key 0 is reserved (empty). Entries may go stale (the caller's slot was reused or
 * freed by a collection): the caller checks what a lookup returns, and
 * addrmap_retain() drops stale entries before the map grows.
 *
 * Memory: malloc only (never the GC heap: keys are hidden addresses anyway). Not
 * synchronised: the caller holds its lock. Not for collection listeners (put may
 * allocate).
 */
#ifndef MEMDEMO_ADDRMAP_H
#define MEMDEMO_ADDRMAP_H

#include <stddef.h>
#include <stdint.h>

struct addrmap_entry { uintptr_t key; uint32_t value; };

struct addrmap {
    struct addrmap_entry *slots;   /* cap entries, cap a power of two (or 0) */
    size_t cap;
    size_t len;
};

#define ADDRMAP_INIT {0, 0, 0}

/* Sets key -> value (replacing the value a key already had). key != 0. keep(ctx, key,
 * value) says whether an entry is still valid: when the map would pass half full,
 * entries it rejects are dropped first, and it grows only if that is not enough.
 * Returns 0, or -1 when out of memory (the map is unchanged). */
int addrmap_put(struct addrmap *m, uintptr_t key, uint32_t value,
                int (*keep)(void *ctx, uintptr_t key, uint32_t value), void *ctx);

/* Removes key and stores its value in *value. Returns 1, or 0 when key is absent. */
int addrmap_take(struct addrmap *m, uintptr_t key, uint32_t *value);

/* Drops every entry keep() rejects. */
void addrmap_retain(struct addrmap *m, int (*keep)(void *ctx, uintptr_t key, uint32_t value), void *ctx);

void addrmap_free(struct addrmap *m);

/* Bytes the slots take. Pure. */
static inline size_t addrmap_bytes(const struct addrmap *m) { return m->cap * sizeof *m->slots; }

#endif
