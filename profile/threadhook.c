/* threadhook: the pthread_create interposer, creation stacks and start hooks. See
 * threadhook.h.
 *
 * Hooks are published like gcevents' listeners: an entry is written, then the count
 * is stored with release; a starting thread loads the count with acquire and reads
 * that many entries, without a lock. Creation stacks and the live map are under
 * create_lock, which nothing else is taken inside.
 */
#include "profile/threadhook.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gc/errors.h"
#include "gc/gcheap.h"
#include "profile/buf.h"
#include "profile/signals.h"
#include "profile/stacks.h"

#define CREATE_DEPTH 32
#define MAX_LIVE 512                        /* live threads whose creation stack is kept */

/* The entry point, where the main thread began. Weak: a program does not export it to
 * a preloaded library (libgcprof), where the main thread's entry is then unknown (0). */
extern void _start(void) __attribute__((weak));

/* ---- start hooks ----------------------------------------------------------------- */

struct hook { void (*fn)(void); int sig; };

static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hook hooks[THREADHOOK_MAX_HOOKS];
static _Atomic int nhooks;

int threadhook_on_start(void (*fn)(void), int sig)
{
    pthread_mutex_lock(&hooks_lock);
    int n = atomic_load_explicit(&nhooks, memory_order_relaxed);
    if (n < THREADHOOK_MAX_HOOKS) {
        hooks[n] = (struct hook){fn, sig};
        atomic_store_explicit(&nhooks, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&hooks_lock);
    return n < THREADHOOK_MAX_HOOKS ? 0 : errors_fail(ENOSPC);
}

/* Unblocks every registered signal (bdwgc starts its marker threads with every signal
 * blocked, so that its stop-the-world signals cannot reach them, which would hide
 * their marking from the CPU profile and their stacks from the goroutine profile;
 * no profiler handler touches anything the collector owns), then runs the hooks. */
static void run_hooks(void)
{
    int n = atomic_load_explicit(&nhooks, memory_order_acquire);
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < n; i++)
        if (hooks[i].sig) sigaddset(&set, hooks[i].sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    for (int i = 0; i < n; i++)
        if (hooks[i].fn) hooks[i].fn();
}

/* ---- creation stacks --------------------------------------------------------------- */

struct live { pid_t tid; int creation; };

static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stacks_table *creations;     /* creation stack id -> frames */
static uint64_t *creation_counts;           /* by stack id */
static size_t creation_cap;
static struct live lives[MAX_LIVE];         /* TID -> creation stack, for live threads */
static int nlives;
static _Atomic uint64_t created_total = 1;  /* the main thread */
static _Atomic uint64_t creations_lost;     /* threads whose creation stack is not kept */

static void lose_creation(void) { atomic_fetch_add_explicit(&creations_lost, 1, memory_order_relaxed); }

/* Interns the stack of pthread_create's caller; returns its id or -1. create_lock held. */
static int intern_creation(const uintptr_t *pcs, int n)
{
    if (!creations && !(creations = stacks_table_new())) return -1;
    int id = stacks_intern(creations, pcs, n);
    if (id < 0) return -1;
    size_t had = creation_cap;
    if (buf_grow_array(&creation_counts, &creation_cap, (size_t)id + 1, sizeof *creation_counts) < 0) return -1;
    memset(creation_counts + had, 0, (creation_cap - had) * sizeof *creation_counts);
    creation_counts[id]++;
    return id;
}

/* The stack of pthread_create's caller, by glibc's backtrace(): this runs in normal
 * context, so the unwind tables can take it through libmicrohttpd and libgc, which
 * keep no frame pointers. This function and pthread_create sit in the profiler's
 * text section, so their own frames (and backtrace's, before them) are cut off. */
GCHEAP_ALLOC_TEXT static int record_creation(void)
{
    void *raw[CREATE_DEPTH + 8];
    int n = backtrace(raw, (int)(sizeof raw / sizeof raw[0])), i = 0, kept = 0;
    while (i < n && !gcheap_pc_is_alloc_text((uintptr_t)raw[i])) i++;
    while (i < n && gcheap_pc_is_alloc_text((uintptr_t)raw[i])) i++;
    uintptr_t pcs[CREATE_DEPTH];
    for (; i < n && kept < CREATE_DEPTH; i++) pcs[kept++] = (uintptr_t)raw[i];
    pthread_mutex_lock(&create_lock);
    int id = intern_creation(pcs, kept);
    pthread_mutex_unlock(&create_lock);
    return id;
}

static int thread_alive(pid_t tid) { return signals_to_thread(tid, 0) == 0 || errno != ESRCH; }

/* Notes that the calling thread was created from stack `creation`, in the slot of an
 * exited thread if there is one. */
static void note_live(int creation)
{
    pid_t tid = gettid();
    pthread_mutex_lock(&create_lock);
    int at = nlives;
    for (int i = 0; i < nlives && at == nlives; i++)
        if (lives[i].tid == tid || !thread_alive(lives[i].tid)) at = i;
    if (at < MAX_LIVE) {
        lives[at] = (struct live){tid, creation};
        if (at == nlives) nlives++;
    } else {
        lose_creation();   /* the live map is full: this thread's stack stays unknown */
    }
    pthread_mutex_unlock(&create_lock);
}

/* ---- the interposer ------------------------------------------------------------------- */

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

struct start { void *(*fn)(void *); void *arg; int creation; };

/* Every new thread starts here. */
static void *start_thread_here(void *p)
{
    struct start s = *(struct start *)p;
    free(p);
    if (s.creation >= 0) note_live(s.creation);
    run_hooks();
    return s.fn(s.arg);
}

static create_fn real_create(void)
{
    static _Atomic(create_fn) real;
    create_fn r = atomic_load(&real);
    if (!r) {
        void *sym = dlsym(RTLD_NEXT, "pthread_create");
        memcpy(&r, &sym, sizeof r);
        atomic_store(&real, r);
    }
    return r;
}

/* The executable's pthread_create: every thread of the process starts here. */
GCHEAP_ALLOC_TEXT int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    create_fn create = real_create();
    if (!create) return EAGAIN;
    struct start *s = malloc(sizeof *s);
    if (!s) {
        int rc = create(thread, attr, fn, arg);
        if (rc == 0) { atomic_fetch_add(&created_total, 1); lose_creation(); }
        return rc;
    }
    /* Once created, the thread owns s and may have freed it: only the copy is read. */
    int creation = record_creation();
    *s = (struct start){fn, arg, creation};
    int rc = create(thread, attr, start_thread_here, s);
    if (rc != 0) {
        if (creation >= 0) {
            pthread_mutex_lock(&create_lock);
            creation_counts[creation]--;
            pthread_mutex_unlock(&create_lock);
        }
        free(s);
    } else {
        atomic_fetch_add(&created_total, 1);
        if (creation < 0) lose_creation();
    }
    return rc;
}

/* ---- readers ------------------------------------------------------------------------ */

uint64_t threadhook_created(void) { return atomic_load(&created_total); }
uint64_t threadhook_creations_lost(void) { return atomic_load(&creations_lost); }

struct threadhook_creation *threadhook_creations(size_t *n)
{
    pthread_mutex_lock(&create_lock);
    size_t m = creations ? stacks_count(creations) : 0;
    struct threadhook_creation *c = calloc(m + 1, sizeof *c);
    static uintptr_t entry[1];
    entry[0] = (uintptr_t)_start + 1;              /* return-address convention: pc - 1 */
    if (c) {
        c[0] = (struct threadhook_creation){entry, 1, 1};        /* the main thread */
        for (size_t i = 0; i < m; i++) {
            c[i + 1].pcs = stacks_get(creations, (int)i, &c[i + 1].npcs);
            c[i + 1].count = creation_counts[i];
        }
    }
    pthread_mutex_unlock(&create_lock);
    *n = c ? m + 1 : 0;
    if (!c) errno = ENOMEM;
    return c;
}

int threadhook_creation_of(pid_t tid)
{
    int id = -1;
    pthread_mutex_lock(&create_lock);
    for (int i = 0; i < nlives; i++)
        if (lives[i].tid == tid) id = lives[i].creation + 1;   /* +1: entry 0 is main */
    pthread_mutex_unlock(&create_lock);
    if (id < 0 && tid == getpid()) id = 0;
    return id;
}
