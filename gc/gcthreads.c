/* gcthreads: registers threads memdemo did not create (libmicrohttpd's workers) with
 * bdwgc, gives them dense ids, and unregisters them when they exit.
 *
 * Why a thread-exit hook: libmicrohttpd offers no thread-start/stop callbacks, so a
 * thread registers itself on its first request (gcthreads_enter) and a pthread key
 * destructor, which runs on the exiting thread, unregisters it. A registered thread
 * that exited without unregistering would be signalled by the next collection.
 *
 * The slot table is written under table_lock and read lock-free through atomics (the
 * readers include collection listeners, which must not lock). This file is the bottom
 * of gc/: it calls no other memdemo module (gc/errors.h is a header), and modules that keep per-thread state
 * (gcheap's sampling countdowns, the tracer's buffers) index it by these ids.
 *
 * Ids and registration are separate: gcthreads_note() gives an id only, for libgcprof,
 * which watches a program whose own code decides which threads bdwgc knows.
 */
#include "gc/gcthreads.h"

#include <gc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "gc/errors.h"

struct thread_slot {
    _Atomic int alive;
    _Atomic pid_t tid;
    _Atomic uintptr_t pthread;
};

static struct thread_slot slots[GCTHREADS_MAX];
static _Atomic int slots_used;
static _Atomic uint64_t refused;            /* gcthreads_enter() calls the full table refused */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static __thread int self_id = -1;
static __thread int self_registered;        /* gcthreads_enter registered it with bdwgc */
/* Set by gcthreads_enter: a process that never registers threads (libgcprof) does not
 * even reference bdwgc's registration functions. */
static void (*unregister_thread)(void);
static __thread int self_in_program_call;   /* foreign mode: inside the program's own call */
static int foreign;                         /* set once at load, before other threads */
static void (*exit_hook)(void);             /* gcthreads_set_exit_hook */

static void on_thread_exit(void *unused)
{
    (void)unused;
    int id = self_id;
    if (id < 0) return;
    if (exit_hook) exit_hook();
    pthread_mutex_lock(&table_lock);
    atomic_store(&slots[id].alive, 0);
    pthread_mutex_unlock(&table_lock);
    self_id = -1;
    if (self_registered && unregister_thread) unregister_thread();
    self_registered = 0;
}

static void make_exit_key(void) { pthread_key_create(&exit_key, on_thread_exit); }

/* Claims the next slot for the calling thread. Returns the id or -1 when full. */
static int claim_slot(void)
{
    pthread_mutex_lock(&table_lock);
    int id = atomic_load(&slots_used);
    if (id < GCTHREADS_MAX) {
        struct thread_slot *s = &slots[id];
        atomic_store(&s->tid, gettid());
        atomic_store(&s->pthread, (uintptr_t)pthread_self());
        atomic_store(&s->alive, 1);
        atomic_store(&slots_used, id + 1);
    } else {
        id = -1;
    }
    pthread_mutex_unlock(&table_lock);
    return id;
}

void gcthreads__register_main(void)
{
    pthread_once(&exit_key_once, make_exit_key);
    self_id = claim_slot();
}

/* An id for the calling thread, which has none yet; the exit hook will free it.
 * Returns -1 with errno = ENOSPC when the table is full (counted in gcthreads_refused). */
static int new_id(void)
{
    pthread_once(&exit_key_once, make_exit_key);
    int id = claim_slot();
    if (id < 0) {
        atomic_fetch_add_explicit(&refused, 1, memory_order_relaxed);
        return errors_fail(ENOSPC);
    }
    self_id = id;
    pthread_setspecific(exit_key, (void *)1);
    return id;
}

static void unregister_with_bdwgc(void) { GC_unregister_my_thread(); }

int gcthreads_enter(void)
{
    if (__builtin_expect(self_id >= 0, 1)) return self_id;
    unregister_thread = unregister_with_bdwgc;
    if (new_id() < 0) return -1;
    struct GC_stack_base sb;
    GC_get_stack_base(&sb);
    GC_register_my_thread(&sb);
    self_registered = 1;
    return self_id;
}

int gcthreads_note(void)
{
    if (__builtin_expect(self_id >= 0, 1)) return self_id;
    return new_id();
}

void gcthreads__set_foreign(void) { foreign = 1; }
void gcthreads_set_exit_hook(void (*fn)(void)) { exit_hook = fn; }

void gcthreads__program_call(int inside) { self_in_program_call = inside; }

int gcthreads_may_call_collector(void) { return !foreign || self_in_program_call; }

int gcthreads_self(void) { return self_id; }
int gcthreads_count(void) { return atomic_load(&slots_used); }
uint64_t gcthreads_refused(void) { return atomic_load_explicit(&refused, memory_order_relaxed); }

static int valid(int id) { return id >= 0 && id < atomic_load(&slots_used); }

pid_t gcthreads_tid(int id) { return valid(id) ? atomic_load(&slots[id].tid) : 0; }
int gcthreads_alive(int id) { return valid(id) && atomic_load(&slots[id].alive); }

int gcthreads_find(uintptr_t pthread)
{
    int n = atomic_load(&slots_used);
    for (int id = 0; id < n; id++)
        if (atomic_load(&slots[id].pthread) == pthread && atomic_load(&slots[id].alive)) return id;
    return -1;
}
