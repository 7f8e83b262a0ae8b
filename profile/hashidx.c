/* hashidx: open-addressing hash index and hash functions. See hashidx.h. */
#include "profile/hashidx.h"

#include <stdlib.h>

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull
#define HASHIDX_MIN_CAP 256

static void place(uint32_t *slots, size_t cap, uint64_t hash, uint32_t id)
{
    size_t j = hashidx__slot(hash, cap);
    while (slots[j]) j = (j + 1) & (cap - 1);
    slots[j] = id + 1;
}

static int grow(struct hashidx *h, hashidx_hash_fn rehash, const void *ctx)
{
    size_t cap = h->cap ? 2 * h->cap : HASHIDX_MIN_CAP;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < h->cap; i++)
        if (h->slots[i]) place(slots, cap, rehash(ctx, h->slots[i] - 1), h->slots[i] - 1);
    free(h->slots);
    h->slots = slots;
    h->cap = cap;
    return 0;
}

int hashidx_add(struct hashidx *h, uint64_t hash, uint32_t id, hashidx_hash_fn rehash, const void *ctx)
{
    if (2 * (h->len + 1) > h->cap && grow(h, rehash, ctx) < 0) return -1;
    place(h->slots, h->cap, hash, id);
    h->len++;
    return 0;
}

void hashidx_free(struct hashidx *h)
{
    free(h->slots);
    *h = (struct hashidx)HASHIDX_INIT;
}

uint64_t hash_mix(uint64_t x)
{
    x *= 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * FNV_PRIME;
    return h;
}

uint64_t hash_str(const char *s)
{
    uint64_t h = FNV_OFFSET;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * FNV_PRIME;
    return h;
}
