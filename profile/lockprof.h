/* lockprof: Go's mutex and block profiles for memdemo's own locks.
 *
 * Owns: the profiled mutex (struct lockprof_mutex, a pthread mutex plus contention
 * bookkeeping), the sampling switches (Go's runtime.SetMutexProfileFraction and
 * runtime.SetBlockProfileRate, both off by default), the records, and the two
 * profiles. Leaves the encoding to profile/pprof, HTTP and flags to src/.
 *
 * Semantics, as Go's:
 * - mutex: when a holder unlocks a mutex others are waiting for, the time those waiters
 *   have waited since they arrived (or since the previous such unlock) is the delay
 *   this holder caused, recorded with the HOLDER's stack at the unlock. On average one
 *   such event in `fraction` is recorded, and a recorded event stands for `fraction`
 *   events: its count and delay are multiplied by the fraction in force when it was
 *   recorded (Go multiplies by the fraction in force when the profile is written; the
 *   two agree while the fraction stays put, and ours stays right when it is changed at
 *   run time). fraction 0: off.
 * - block: a thread that had to wait for a lock records the WAITER's stack and how long
 *   it waited: from its arrival to the unlock that let it in (Go's release time), not
 *   to when it ran again, so the wake-up's latency is not counted and the two profiles
 *   agree for the same waits. Waits of at least `rate` ns are always recorded; shorter
 *   ones with probability wait/rate, each then counting rate/wait events of rate ns
 *   (Go's unbiasing). rate 1: every wait; 0: off.
 * Stacks start at the caller of lockprof_lock / lockprof_unlock (this module's frames
 * are in the profiler's text section, which stack capture cuts off).
 *
 * Cost: with both switches off, lock and unlock are a plain pthread lock and unlock
 * plus one relaxed load each. With either on, an uncontended lock adds a trylock; only
 * contended paths read the clock, take the bookkeeping lock or capture a stack.
 * Threads: any thread; lockprof_lock/unlock may be called by threads the collector
 * does not know (they allocate no GC memory), not inside collection listeners.
 */
#ifndef MEMDEMO_LOCKPROF_H
#define MEMDEMO_LOCKPROF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "profile/buf.h"

#define LOCKPROF_DEFAULT_MUTEX_FRACTION 0   /* Go's default: off */
#define LOCKPROF_DEFAULT_BLOCK_RATE 0       /* Go's default: off */

struct lockprof_mutex {
    pthread_mutex_t mu;             /* the lock itself */
    pthread_mutex_t meta;           /* guards the fields below; taken only on contention */
    _Atomic int waiters;            /* threads blocked in lockprof_lock */
    int64_t base_sum;               /* sum of the waiters' charge bases (ns) */
    int64_t last_charge;            /* when an unlock last charged the waiters (ns) */
    _Atomic int64_t released;       /* when an unlock last found waiters (ns), written
                                       before it unlocks: read by the waiter it lets in */
};
#define LOCKPROF_MUTEX_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0}

/* Locks / unlocks m (pthread semantics: the unlocker must hold it), recording mutex and
 * block events as the switches say. Never fail. */
void lockprof_lock(struct lockprof_mutex *m);
void lockprof_unlock(struct lockprof_mutex *m);

/* The switches. Setters return 0, or -1 with errno = EINVAL for a negative value. Any
 * thread. */
int lockprof_set_mutex_fraction(int64_t fraction);
int64_t lockprof_mutex_fraction(void);
int lockprof_set_block_rate(int64_t rate_ns);
int64_t lockprof_block_rate(void);

enum lockprof_kind { LOCKPROF_MUTEX, LOCKPROF_BLOCK };

/* A copy of one profile's records, malloc'd. Counts are unbiased estimates. */
struct lockprof_record {
    const uintptr_t *pcs;           /* valid until exit */
    int npcs;
    int stack;                      /* id, to match records of two snapshots */
    double count;
    int64_t delay_ns;
};
struct lockprof_snapshot {
    enum lockprof_kind kind;
    struct lockprof_record *records;
    size_t n;
    int64_t time_ns;                /* wall clock when it was taken */
};

/* Returns 0, or -1 with errno = ENOMEM (*s is then empty). */
int lockprof_snapshot(enum lockprof_kind kind, struct lockprof_snapshot *s);
/* end -= start, record by record (both of the same kind, start taken first). */
void lockprof_snapshot_delta(struct lockprof_snapshot *end, const struct lockprof_snapshot *start);
void lockprof_snapshot_free(struct lockprof_snapshot *s);

/* Records in the profile of `kind` (the index page's count). */
size_t lockprof_count(enum lockprof_kind kind);

/* The profiles' sizes and what they lost: a sampled event for which no record could
 * be made (out of memory) is counted, not dropped silently. Any thread. */
struct lockprof_stats {
    uint64_t mutex_records;
    uint64_t block_records;
    uint64_t lost;                  /* sampled events not recorded */
};
void lockprof_stats(struct lockprof_stats *st);

/* X(name, field, kind, metric, help): the figures /debug/vars prints ("lockprofiles")
 * and the /metrics families of some (kind gauge or counter; none: no family). */
#define LOCKPROF_STATS_FIELDS(X)                                                                   \
    X("mutex_records", mutex_records, none, NULL, NULL)                                            \
    X("block_records", block_records, none, NULL, NULL)                                            \
    X("lost_events", lost, counter, "memdemo_lockprofile_lost_events",                             \
      "Mutex and block profiles: sampled events not recorded (out of memory).")

/* Writes s: debug 0 = gzipped profile.proto (sample types contentions/count and
 * delay/nanoseconds, period_type contentions/count, period 1, as Go; duration_ns for a
 * delta window, else 0); otherwise Go's legacy text ("--- mutex:" / "--- contention:")
 * with the same totals. Records sorted by delay, largest first. Returns 0, or -1 with
 * errno = ENOMEM. */
int lockprof_write(struct buf *out, const struct lockprof_snapshot *s, int debug,
                   int64_t duration_ns);

#endif
