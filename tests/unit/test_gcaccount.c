/* Unit tests for gc/gcaccount: the per-thread accounts both allocation front ends
 * keep. Sums see every table account and no thread-local one; a reset makes the next
 * slow path start a fresh interval (credits only that allocation); the countdown is
 * re-armed to the nearer of the next sample and the cap; a due sample reaches the
 * installed sampler with the object's size. */
#include <pthread.h>
#include <stdint.h>

#include "gc/gcaccount.h"
#include "gc/gcheap.h"
#include "gc/gcthreads.h"
#include "tests/unit/unit.h"

enum { TALLY = GCACCOUNT_TALLIES - 1 };

static void *tally_in_table_account(void *by)
{
    gcthreads_enter();
    gcheap_alloc(16);   /* the first slow path arms the thread */
    gcaccount_tally(TALLY, (uint64_t)(uintptr_t)by);
    return NULL;
}

static void *tally_in_own_account(void *by)
{
    gcaccount_arm_any(-1);   /* no id: a thread-local account */
    gcaccount_tally(TALLY, (uint64_t)(uintptr_t)by);
    return NULL;
}

static void run_thread(void *(*fn)(void *), uintptr_t arg)
{
    pthread_t t;
    pthread_create(&t, NULL, fn, (void *)arg);
    pthread_join(t, NULL);
}

TEST(tally_sum_counts_table_accounts_not_thread_local_ones)
{
    uint64_t before = gcaccount_tally_sum(TALLY);
    run_thread(tally_in_table_account, 5);
    run_thread(tally_in_table_account, 7);
    run_thread(tally_in_own_account, 1000);
    CHECK_EQ_U64(gcaccount_tally_sum(TALLY) - before, 12);
}

static intptr_t far_interval(void) { return (intptr_t)1 << 30; }
static intptr_t never_sample(void *obj, size_t size) { (void)obj; (void)size; return (intptr_t)1 << 30; }

TEST(reset_makes_the_next_slow_path_credit_only_its_own_allocation)
{
    gcheap_alloc(16);                                    /* armed */
    CHECK(gcaccount_armed());
    gcheap_set_sampler(never_sample, far_interval);      /* a reset */
    uint64_t before = gcheap_allocated_total();
    gcaccount_rearm(4096);
    CHECK(!gcaccount_spend(1000));                       /* 1000 of 4096 consumed */
    gcheap_reset_sample_countdowns();                    /* another thread's reset */
    CHECK(gcaccount_spend(100));                         /* zeroed: the slow path is due */
    CHECK_EQ_INT(gcaccount_settle(100), 0);              /* fresh interval: no sample */
    CHECK_EQ_U64(gcheap_allocated_total() - before, 100);   /* not the 1000 before */
    gcheap_set_sampler(NULL, NULL);
}

TEST(settle_credits_what_the_countdown_consumed_and_rearm_takes_the_nearer_stop)
{
    gcheap_alloc(16);                                    /* armed */
    gcheap_set_sampler(never_sample, far_interval);      /* a reset: the countdown is 0 */
    CHECK(gcaccount_spend(16));
    CHECK_EQ_INT(gcaccount_settle(16), 0);               /* starts the interval */
    gcaccount_rearm(4096);                               /* the cap is nearer */
    CHECK_EQ_U64((uint64_t)atomic_load(&gcaccount_mine()->countdown), 4096);
    uint64_t before = gcheap_allocated_total();
    CHECK(!gcaccount_spend(3000));
    CHECK(gcaccount_spend(2000));
    CHECK_EQ_INT(gcaccount_settle(2000), 0);
    CHECK_EQ_U64(gcheap_allocated_total() - before, 5000);
    gcaccount_rearm(INTPTR_MAX);                         /* the sample is nearer */
    CHECK_EQ_U64((uint64_t)atomic_load(&gcaccount_mine()->countdown), ((uint64_t)1 << 30) - 16 - 5000);
    gcheap_set_sampler(NULL, NULL);
}

static void *told_obj;
static size_t told_size;
static intptr_t note_sample(void *obj, size_t size)
{
    told_obj = obj;
    told_size = size;
    return 1 << 20;
}
static intptr_t sample_next(void) { return 64; }

/* Through gcheap's slow path, which settles and samples through the accounts. */
TEST(a_due_sample_reaches_the_sampler_with_gc_size)
{
    gcheap_set_sampler(note_sample, sample_next);
    gcheap_alloc(16);                                    /* fresh: 64 bytes to the sample */
    told_obj = NULL;
    void *obj = gcheap_alloc_data(100);                  /* 112 bytes: crosses it */
    CHECK(told_obj == obj);
    CHECK_EQ_U64(told_size, gcheap_size(obj));
    CHECK_EQ_INT(gcaccount_sample(NULL), 0);             /* not a GC object: only an interval */
    gcheap_set_sampler(NULL, NULL);
}

int main(void)
{
    gcheap_init();
    RUN(tally_sum_counts_table_accounts_not_thread_local_ones);
    RUN(reset_makes_the_next_slow_path_credit_only_its_own_allocation);
    RUN(settle_credits_what_the_countdown_consumed_and_rearm_takes_the_nearer_stop);
    RUN(a_due_sample_reaches_the_sampler_with_gc_size);
    UNIT_EXIT();
}
