/* gcaccount: the per-thread allocation accounts both front ends share. See gcaccount.h
 * for the model and the contracts.
 *
 * The table's accounts are never freed or reused, so a reset may write an account
 * whose thread has exited, and a sum may read one. The unarmed account is shared by
 * every thread that has none yet: its countdown only goes down (each of them stores
 * its own subtraction), so it stays negative; nothing else of it is written.
 */
#include "gc/gcaccount.h"

#include <gc.h>
#include <stdlib.h>
#include <string.h>

#include "gc/gcheap.h"
#include "gc/gcthreads.h"

struct gcaccount gcaccount__unarmed = {.countdown = -1, .id = -1};
__thread struct gcaccount *gcaccount__me = &gcaccount__unarmed;
static __thread struct gcaccount overflow;   /* a thread without a table account */

static struct gcaccount *accounts;          /* GCTHREADS_MAX accounts, or NULL */
static intptr_t unsampled_countdown = INTPTR_MAX;
static _Atomic unsigned generation;          /* bumped by every reset */
static _Atomic(gcheap_sample_fn) sample_hook;
static _Atomic(gcheap_interval_fn) interval_hook;

int gcaccount_init(intptr_t unsampled)
{
    unsampled_countdown = unsampled;
    accounts = aligned_alloc(_Alignof(struct gcaccount), GCTHREADS_MAX * sizeof *accounts);
    if (!accounts) return -1;
    memset(accounts, 0, GCTHREADS_MAX * sizeof *accounts);
    return 0;
}

/* Owner-only counters: a relaxed load and store, no read-modify-write. */
static void bump(_Atomic uint64_t *c, uint64_t by)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by, memory_order_relaxed);
}

static void arm(struct gcaccount *a, int id)
{
    a->id = id;
    a->seen_generation = atomic_load_explicit(&generation, memory_order_acquire);
    a->fresh = 1;
    gcaccount__me = a;
}

int gcaccount_arm(int id)
{
    if (!accounts || id < 0 || id >= GCTHREADS_MAX) return -1;
    arm(&accounts[id], id);
    return 0;
}

void gcaccount_arm_any(int id)
{
    if (gcaccount_arm(id) < 0) arm(&overflow, -1);
}

static intptr_t draw_interval(void)
{
    gcheap_interval_fn interval = atomic_load_explicit(&interval_hook, memory_order_acquire);
    return interval ? interval() : unsampled_countdown;
}

int gcaccount_exact(void)
{
    return atomic_load_explicit(&sample_hook, memory_order_acquire) && draw_interval() == 0;
}

GCHEAP_ALLOC_TEXT int gcaccount_settle(size_t bytes)
{
    struct gcaccount *a = gcaccount__me;
    unsigned gen = atomic_load_explicit(&generation, memory_order_acquire);
    intptr_t consumed = (intptr_t)bytes;
    if (a->fresh || gen != a->seen_generation) {
        /* The thread's first allocation, or the first after a reset: it starts a new
         * interval; what a reset cut short is not known. */
        a->fresh = 0;
        a->seen_generation = gen;
        a->sample_left = draw_interval();
    } else {
        consumed = a->armed - atomic_load_explicit(&a->countdown, memory_order_relaxed);
    }
    if (consumed > 0) bump(&a->allocated, (uint64_t)consumed);
    a->sample_left -= consumed;
    return a->sample_left < 0;
}

GCHEAP_ALLOC_TEXT int gcaccount_sample_sized(void *base, size_t size)
{
    gcheap_sample_fn sample = atomic_load_explicit(&sample_hook, memory_order_acquire);
    int told = sample && base;
    gcaccount__me->sample_left = told ? sample(base, size) : draw_interval();
    return told;
}

GCHEAP_ALLOC_TEXT int gcaccount_sample(void *base)
{
    return gcaccount_sample_sized(base, base ? GC_size(base) : 0);
}

void gcaccount_rearm(intptr_t cap)
{
    struct gcaccount *a = gcaccount__me;
    a->armed = a->sample_left < cap ? a->sample_left : cap;
    atomic_store_explicit(&a->countdown, a->armed, memory_order_relaxed);
}

void gcaccount_tally(int which, uint64_t by) { bump(&gcaccount__me->tally[which], by); }

/* The table's accounts that a thread may own: ids handed out so far. */
static int accounts_in_use(void)
{
    int n = gcthreads_count();
    return !accounts ? 0 : n < GCTHREADS_MAX ? n : GCTHREADS_MAX;
}

uint64_t gcaccount_tally_sum(int which)
{
    uint64_t sum = 0;
    for (int id = 0, n = accounts_in_use(); id < n; id++)
        sum += atomic_load_explicit(&accounts[id].tally[which], memory_order_relaxed);
    return sum;
}

/* ---- gcheap.h's functions of the accounts -------------------------------------------- */

uint64_t gcheap_allocated_total(void)
{
    uint64_t sum = 0;
    for (int id = 0, n = accounts_in_use(); id < n; id++)
        sum += atomic_load_explicit(&accounts[id].allocated, memory_order_relaxed);
    return sum;
}

void gcheap_set_sampler(gcheap_sample_fn sample, gcheap_interval_fn interval)
{
    atomic_store_explicit(&interval_hook, interval, memory_order_release);
    atomic_store_explicit(&sample_hook, sample, memory_order_release);
    gcheap_reset_sample_countdowns();
}

void gcheap_reset_sample_countdowns(void)
{
    /* Zero sends each thread's next allocation to its slow path, which sees the new
     * generation and starts a fresh interval with that allocation. */
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    for (int id = 0, n = accounts_in_use(); id < n; id++)
        atomic_store_explicit(&accounts[id].countdown, 0, memory_order_relaxed);
}
