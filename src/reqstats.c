/* reqstats: per-route request counters and duration histograms. See reqstats.h.
 *
 * Storage is static (no initialisation step): REQSTATS_MAX_ROUTES slots, each with a
 * small table of (code, count) pairs whose code is claimed once by compare-and-swap,
 * and non-cumulative histogram buckets (a request touches one bucket; readers add
 * them up). Every counter is a relaxed atomic: each is exact, the set of them is not
 * one instant's (a scrape may see a request in its code counter and not yet in its
 * histogram).
 */
#include "src/reqstats.h"

#include <stdatomic.h>

#define REQSTATS__BOUND(ns) UINT64_C(ns),
const uint64_t reqstats_bounds_ns[REQSTATS_BUCKETS] = {REQSTATS_BOUNDS_NS(REQSTATS__BOUND)};

struct code_slot {
    _Atomic int code;                     /* 0 = unclaimed */
    _Atomic uint64_t count;
};

struct route_slot {
    struct code_slot codes[REQSTATS_CODES];
    _Atomic uint64_t other_codes;         /* codes that found the table full */
    _Atomic uint64_t buckets[REQSTATS_BUCKETS + 1];
    _Atomic uint64_t sum_ns;
};

static struct route_slot slots[REQSTATS_MAX_ROUTES];

static const struct router *router;

void reqstats_init(const struct router *rt) { router = rt; }

size_t reqstats_slots(void)
{
    size_t n = router ? router_count(router) + 1 : 1;
    return n < REQSTATS_MAX_ROUTES ? n : REQSTATS_MAX_ROUTES;
}

size_t reqstats_slot_of(const void *route)
{
    size_t unmatched = reqstats_slots() - 1;
    long i = router && route ? router_index(router, route) : -1;
    return i >= 0 && (size_t)i < unmatched ? (size_t)i : unmatched;
}

const char *reqstats_slot_name(size_t slot)
{
    return slot + 1 < reqstats_slots() ? router_at(router, slot)->path : "unmatched";
}

static void count_code(struct route_slot *s, int status)
{
    for (int i = 0; i < REQSTATS_CODES; i++) {
        struct code_slot *c = &s->codes[i];
        int seen = atomic_load_explicit(&c->code, memory_order_relaxed);
        if (seen == 0) {   /* unclaimed: claim it, unless another thread just did */
            int expected = 0;
            seen = atomic_compare_exchange_strong(&c->code, &expected, status) ? status : expected;
        }
        if (seen == status) {
            atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&s->other_codes, 1, memory_order_relaxed);
}

static int bucket_of(uint64_t ns)
{
    int i = 0;
    while (i < REQSTATS_BUCKETS && ns > reqstats_bounds_ns[i]) i++;
    return i;
}

void reqstats_record(const void *route, int status, uint64_t duration_ns)
{
    struct route_slot *s = &slots[reqstats_slot_of(route)];
    if (status > 0) count_code(s, status);
    else atomic_fetch_add_explicit(&s->other_codes, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->buckets[bucket_of(duration_ns)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_ns, duration_ns, memory_order_relaxed);
}

void reqstats_histogram(size_t slot, struct reqstats_histogram *out)
{
    const struct route_slot *s = &slots[slot < REQSTATS_MAX_ROUTES ? slot : 0];
    out->count = 0;
    for (int i = 0; i <= REQSTATS_BUCKETS; i++) {
        out->buckets[i] = atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        out->count += out->buckets[i];
    }
    out->sum_ns = atomic_load_explicit(&s->sum_ns, memory_order_relaxed);
}

uint64_t reqstats_total(size_t slot)
{
    struct reqstats_histogram h;
    reqstats_histogram(slot, &h);
    return h.count;
}

int reqstats_codes(size_t slot, int *codes, uint64_t *counts)
{
    const struct route_slot *s = &slots[slot < REQSTATS_MAX_ROUTES ? slot : 0];
    int n = 0;
    for (int i = 0; i < REQSTATS_CODES; i++) {
        int code = atomic_load_explicit(&s->codes[i].code, memory_order_relaxed);
        if (code == 0) continue;
        codes[n] = code;
        counts[n++] = atomic_load_explicit(&s->codes[i].count, memory_order_relaxed);
    }
    uint64_t other = atomic_load_explicit(&s->other_codes, memory_order_relaxed);
    if (other) { codes[n] = 0; counts[n++] = other; }
    return n;
}
