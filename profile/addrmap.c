/* addrmap: word -> slot map with backward-shift deletion. See addrmap.h. */
#include "profile/addrmap.h"

#include <stdlib.h>

#include "profile/hashidx.h"

static size_t home(const struct addrmap *m, uintptr_t key) { return hashidx__slot(key, m->cap); }

/* The index of key's slot, or of the empty slot where it would go. cap > 0. */
static size_t probe(const struct addrmap *m, uintptr_t key)
{
    size_t mask = m->cap - 1, j = home(m, key);
    while (m->slots[j].key && m->slots[j].key != key) j = (j + 1) & mask;
    return j;
}

/* Empties slot j and moves later entries of its run back into the hole, so that every
 * entry stays reachable from its home slot without tombstones. */
static void remove_at(struct addrmap *m, size_t j)
{
    size_t mask = m->cap - 1, hole = j;
    for (size_t k = (j + 1) & mask; m->slots[k].key; k = (k + 1) & mask) {
        size_t h = home(m, m->slots[k].key);
        /* Movable into the hole when its home is not in (hole, k] (cyclically). */
        int home_between = hole <= k ? (h > hole && h <= k) : (h > hole || h <= k);
        if (home_between) continue;
        m->slots[hole] = m->slots[k];
        hole = k;
    }
    m->slots[hole].key = 0;
    m->len--;
}

static int rehash_into(struct addrmap *m, size_t cap)
{
    struct addrmap_entry *old = m->slots;
    size_t old_cap = m->cap;
    struct addrmap_entry *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    m->slots = slots;
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key) m->slots[probe(m, old[i].key)] = old[i];
    free(old);
    return 0;
}

void addrmap_retain(struct addrmap *m, int (*keep)(void *ctx, uintptr_t key, uint32_t value), void *ctx)
{
    for (size_t j = 0; j < m->cap; ) {
        /* remove_at may move a later entry into j: look at j again then. */
        if (m->slots[j].key && !keep(ctx, m->slots[j].key, m->slots[j].value)) remove_at(m, j);
        else j++;
    }
}

int addrmap_put(struct addrmap *m, uintptr_t key, uint32_t value,
                int (*keep)(void *ctx, uintptr_t key, uint32_t value), void *ctx)
{
    if ((m->len + 1) * 2 > m->cap) {
        if (m->cap && keep) addrmap_retain(m, keep, ctx);
        if ((m->len + 1) * 4 > m->cap && rehash_into(m, m->cap ? m->cap * 2 : 1024) < 0) return -1;
    }
    size_t j = probe(m, key);
    if (!m->slots[j].key) m->len++;
    m->slots[j] = (struct addrmap_entry){key, value};
    return 0;
}

int addrmap_take(struct addrmap *m, uintptr_t key, uint32_t *value)
{
    if (!m->cap || !key) return 0;
    size_t j = probe(m, key);
    if (!m->slots[j].key) return 0;
    *value = m->slots[j].value;
    remove_at(m, j);
    return 1;
}

void addrmap_free(struct addrmap *m)
{
    free(m->slots);
    *m = (struct addrmap)ADDRMAP_INIT;
}
