/* threads: thread list, on-demand stack capture, and the goroutine and threadcreate
 * writers. See threads.h.
 *
 * Capture protocol: each listed thread gets a slot (tid, state). The capturer sets a
 * slot REQUESTED and sends THREADS_SIGNAL to that thread with tgkill; the handler, on
 * the target thread, finds the slot for its own TID, moves it REQUESTED -> WRITING with a
 * compare-and-swap, walks its stack into the slot and marks it DONE. At the deadline
 * the capturer moves every slot still REQUESTED to ABANDONED (a late handler then finds
 * nothing to fill) and waits for the few in WRITING. The handler uses atomics, the
 * gettid system call and stacks_walk_context only: it is async-signal-safe.
 *
 * Every thread created later starts with THREADS_SIGNAL unblocked: a constructor
 * registers it with profile/threadhook before main() runs, so bdwgc's marker threads,
 * which start with every signal blocked, answer a capture too.
 */
#include "profile/threads.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "gc/clock.h"
#include "gc/errors.h"
#include "profile/pprof.h"
#include "profile/signals.h"
#include "profile/stacks.h"
#include "profile/symbols.h"
#include "profile/tasks.h"
#include "profile/threadhook.h"

#define THREADS_STACK_COPY (32 << 10)       /* bytes of each stack copied for unwinding */

enum { SLOT_IDLE, SLOT_REQUESTED, SLOT_WRITING, SLOT_DONE, SLOT_ABANDONED };

struct slot {
    _Atomic int state;
    _Atomic pid_t tid;
    int npcs;
    uintptr_t pcs[THREADS_MAX_DEPTH];       /* the frame-pointer walk */
    struct stacks_regs regs;                /* the interrupted registers */
    size_t stack_len;                       /* bytes of stack copied from regs rsp up */
};

static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots;                  /* THREADS_MAX, malloc'd at the first capture */
static unsigned char *stack_copies;         /* THREADS_MAX x THREADS_STACK_COPY, likewise:
                                               only the pages a capture writes get memory */
static _Atomic int nslots;
static int handler_installed;

/* ---- placeholders ---------------------------------------------------------------- */

/* Like Go's runtime._ExternalCode, a real function that never runs, whose address
 * stands in a profile for a stack that could not be taken, so that pprof counts and
 * names the thread (it drops samples without locations, and its legacy parser rejects
 * a stack without addresses). */
__attribute__((noinline, used)) void threads_stack_not_captured(void) { __asm__ volatile(""); }

__attribute__((constructor)) static void unblock_capture_signal_in_new_threads(void)
{
    threadhook_on_start(NULL, THREADS_SIGNAL);
}

/* ---- the thread list ----------------------------------------------------------- */

static const char *state_word(char c)
{
    switch (c) {
    case 'R': return "running";
    case 'S': return "sleeping";
    case 'D': return "uninterruptible wait";
    case 'T': return "stopped";
    case 't': return "traced";
    case 'Z': return "zombie";
    case 'I': return "idle";
    default: return "unknown";
    }
}

/* Name and state of thread e->tid; state "sleeping in do_epoll_wait" when the kernel
 * says where the thread waits. */
static void describe(struct threads_entry *e)
{
    char line[512], wchan[64];
    tasks_comm(e->tid, e->name);
    tasks_read(e->tid, "stat", line, sizeof line);
    const char *close_paren = strrchr(line, ')');   /* comm may hold spaces */
    char st = close_paren && close_paren[1] ? close_paren[2] : '?';
    tasks_read(e->tid, "wchan", wchan, sizeof wchan);
    if (st != 'R' && wchan[0] && strcmp(wchan, "0") != 0)
        snprintf(e->state, sizeof e->state, "%s in %.40s", state_word(st), wchan);
    else
        snprintf(e->state, sizeof e->state, "%s", state_word(st));
}

/* Fills s->t with every thread of the process (the first THREADS_MAX), named and
 * described. */
static int list_threads(struct threads_snapshot *s)
{
    pid_t tids[THREADS_MAX];
    int n = tasks_list(tids, THREADS_MAX);
    if (n < 0) return -1;
    s->n = 0;
    s->t = calloc(THREADS_MAX, sizeof *s->t);
    if (!s->t) return errors_fail(ENOMEM);
    for (int i = 0; i < n && i < THREADS_MAX; i++) {
        struct threads_entry *e = &s->t[s->n++];
        e->tid = tids[i];
        describe(e);
        e->creation = threadhook_creation_of(tids[i]);
    }
    return 0;
}

int threads_count(void) { return tasks_list(NULL, 0); }

/* ---- capture ------------------------------------------------------------------- */

static void on_capture_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    int saved = errno;
    if (si->si_code == SI_TKILL && si->si_pid == getpid()) {
        pid_t me = gettid();
        int n = atomic_load(&nslots);
        for (int i = 0; i < n; i++) {
            struct slot *sl = &slots[i];
            int want = SLOT_REQUESTED;
            if (atomic_load(&sl->tid) != me ||
                !atomic_compare_exchange_strong(&sl->state, &want, SLOT_WRITING))
                continue;
            sl->npcs = stacks_walk_context(uc, sl->pcs, THREADS_MAX_DEPTH);
            sl->stack_len = stacks_copy_context(uc, &sl->regs, &stack_copies[(size_t)i * THREADS_STACK_COPY],
                                                THREADS_STACK_COPY);
            atomic_store(&sl->state, SLOT_DONE);
            break;
        }
    }
    errno = saved;
}

static int prepare_capture(void)
{
    if (!slots && !(slots = calloc(THREADS_MAX, sizeof *slots))) return errors_fail(ENOMEM);
    if (!stack_copies) {
        /* mmap, not calloc: a calloc this size may come from the heap and be cleared,
         * which makes all 16 MiB resident; fresh anonymous pages cost nothing until a
         * capture writes them. */
        void *p = mmap(NULL, (size_t)THREADS_MAX * THREADS_STACK_COPY, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return errors_fail(ENOMEM);
        stack_copies = p;
    }
    if (handler_installed) return 0;
    if (signals_install(THREADS_SIGNAL, on_capture_signal, NULL) < 0) return -1;
    handler_installed = 1;
    return 0;
}

/* Waits until every requested slot is answered or the deadline passes, then
 * abandons the rest. */
static void collect_answers(int n)
{
    uint64_t deadline = clock_mono_ns() + (uint64_t)THREADS_ANSWER_MS * 1000000u;
    for (;;) {
        int pending = 0;
        for (int i = 0; i < n; i++) pending += atomic_load(&slots[i].state) < SLOT_DONE;
        if (!pending) return;
        if (clock_mono_ns() >= deadline) break;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < n; i++) {
        int want = SLOT_REQUESTED;
        if (atomic_compare_exchange_strong(&slots[i].state, &want, SLOT_ABANDONED)) continue;
        while (atomic_load(&slots[i].state) == SLOT_WRITING) sched_yield();   /* a few us */
    }
}

/* The thread's stack: unwound from the copy by the unwind tables, which follow
 * libmicrohttpd's, libc's and the collector's frames too; the frame-pointer walk when
 * that finds more (or unwinding is unavailable). Callers outside every mapping cut. */
static void take_stack(struct threads_entry *e, const struct slot *sl, const unsigned char *copy)
{
    uintptr_t pcs[THREADS_MAX_DEPTH];
    int n = symbols_unwind(&sl->regs, copy, sl->stack_len, pcs, THREADS_MAX_DEPTH);
    n = symbols_known_prefix(pcs, n);
    int fp = symbols_known_prefix(sl->pcs, sl->npcs);
    if (n >= fp) {
        memcpy(e->pcs, pcs, (size_t)n * sizeof pcs[0]);
        e->npcs = n;
    } else {
        memcpy(e->pcs, sl->pcs, (size_t)fp * sizeof pcs[0]);
        e->npcs = fp;
    }
}

/* A thread that did not answer: its user pc as the kernel saw it entering the system
 * call it waits in (/proc/self/task/TID/syscall, last field), else the placeholder. */
static void leaf_from_kernel(struct threads_entry *e)
{
    char line[256];
    tasks_read(e->tid, "syscall", line, sizeof line);
    const char *last = strrchr(line, ' ');
    unsigned long long pc = last ? strtoull(last + 1, NULL, 16) : 0;
    e->pcs[0] = pc ? (uintptr_t)pc + 1 : (uintptr_t)threads_stack_not_captured + 1;
    e->npcs = 1;
}

static void capture_stacks(struct threads_snapshot *s)
{
    atomic_store(&nslots, 0);
    for (int i = 0; i < s->n; i++) {
        atomic_store(&slots[i].tid, s->t[i].tid);
        atomic_store(&slots[i].state, SLOT_REQUESTED);
    }
    atomic_store(&nslots, s->n);
    for (int i = 0; i < s->n; i++)
        if (signals_to_thread(s->t[i].tid, THREADS_SIGNAL) < 0)
            atomic_store(&slots[i].state, SLOT_ABANDONED);       /* it has exited */
    collect_answers(s->n);
    for (int i = 0; i < s->n; i++) {
        struct threads_entry *e = &s->t[i];
        e->captured = atomic_load(&slots[i].state) == SLOT_DONE;
        if (e->captured) take_stack(e, &slots[i], &stack_copies[(size_t)i * THREADS_STACK_COPY]);
        else leaf_from_kernel(e);
    }
}

int threads_capture(struct threads_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->self = gettid();
    pthread_mutex_lock(&capture_lock);
    int rc = prepare_capture();
    if (rc == 0) rc = list_threads(s);
    if (rc == 0) capture_stacks(s);
    int e = errno;
    pthread_mutex_unlock(&capture_lock);
    if (rc < 0) { threads_snapshot_free(s); errno = e; }
    return rc;
}

void threads_snapshot_free(struct threads_snapshot *s)
{
    free(s->t);
    s->t = NULL;
    s->n = 0;
}

/* ---- goroutine and threadcreate writers ---------------------------------------- */

/* Groups of threads with the same stack and name, as Go groups goroutines with the
 * same stack and labels; `first` is the index of one member. */
struct group { int first; int64_t count; };

static int same_group(const struct threads_entry *a, const struct threads_entry *b)
{
    return a->npcs == b->npcs && strcmp(a->name, b->name) == 0 &&
           memcmp(a->pcs, b->pcs, (size_t)a->npcs * sizeof a->pcs[0]) == 0;
}

static int by_count_desc(const void *x, const void *y)
{
    const struct group *a = x, *b = y;
    if (a->count != b->count) return a->count < b->count ? 1 : -1;
    return a->first - b->first;
}

static int group_threads(const struct threads_snapshot *s, struct group *g)
{
    int ng = 0;
    for (int i = 0; i < s->n; i++) {
        int k = 0;
        while (k < ng && !same_group(&s->t[g[k].first], &s->t[i])) k++;
        if (k == ng) g[ng++] = (struct group){i, 0};
        g[k].count++;
    }
    qsort(g, (size_t)ng, sizeof *g, by_count_desc);
    return ng;
}

static const struct pprof_value_type goroutine_type = {"goroutine", "count"};

static int write_grouped(struct buf *out, const struct threads_snapshot *s, int debug)
{
    int n = s->n ? s->n : 1;
    struct group *g = calloc((size_t)n, sizeof *g);
    struct pprof_sample *ps = calloc((size_t)n, sizeof *ps);
    struct pprof_label *labels = calloc((size_t)n, sizeof *labels);
    int rc = -1;
    if (g && ps && labels) {
        int ng = group_threads(s, g);
        for (int k = 0; k < ng; k++) {
            const struct threads_entry *e = &s->t[g[k].first];
            labels[k] = (struct pprof_label){"thread", e->name, 0, NULL};
            ps[k] = (struct pprof_sample){e->pcs, e->npcs, &g[k].count, &labels[k], 1};
        }
        struct pprof_desc d = {&goroutine_type, 1, goroutine_type, 1, NULL, 0, 0};
        rc = debug ? pprof_write_count_text(out, "goroutine", ps, (size_t)ng)
                   : pprof_write(out, &d, ps, (size_t)ng);
    }
    free(g);
    free(ps);
    free(labels);
    return rc;
}

/* One frame in Go's dump style: "func(...)\n\tfile:line +0xoff\n", inlined calls
 * first (only the innermost with `prefix` when prefix is set, as Go's "created by"
 * names one function); code without a symbol shows as its module and offset. */
static void dump_frame(struct buf *out, uintptr_t pc, const char *prefix)
{
    struct symbols_frame fr[SYMBOLS_MAX_FRAMES];
    uintptr_t off = 0;
    int n = symbols_lookup(pc - 1, fr, SYMBOLS_MAX_FRAMES);
    const char *sym = symbols_name(pc - 1, &off);
    if (n > 1 && *prefix) n = 1;
    for (int i = 0; i < n; i++) {
        buf_printf(out, "%s%s(...)\n", prefix, fr[i].function);
        if (fr[i].file) buf_printf(out, "\t%s:%d +%#lx\n", fr[i].file, fr[i].line, (unsigned long)(sym ? off : 0));
        else buf_printf(out, "\t?:0 +%#lx\n", (unsigned long)(sym ? off : 0));
    }
    if (n > 0) return;
    const struct symbols_mapping *m;
    size_t nm = symbols_mappings(&m);
    int mi = symbols_mapping_index(pc - 1);
    if (mi >= 0 && (size_t)mi < nm)
        buf_printf(out, "%s?(...)\n\t%s +%#lx\n", prefix, m[mi].path,
                   (unsigned long)(pc - 1 - m[mi].start + m[mi].offset));
    else
        buf_printf(out, "%s?(...)\n\t? +%#lx\n", prefix, (unsigned long)(pc - 1));
}

/* "created by": the first frame of the creation stack that has a name (the caller of
 * pthread_create may be an unnamed static function of a stripped library). */
static void dump_creator(struct buf *out, const struct threadhook_creation *c)
{
    for (int k = 0; k < c->npcs; k++) {
        struct symbols_frame fr;
        if (symbols_lookup(c->pcs[k] - 1, &fr, 1) > 0) { dump_frame(out, c->pcs[k], "created by "); return; }
    }
    if (c->npcs > 0) dump_frame(out, c->pcs[0], "created by ");
}

static void dump_thread(struct buf *out, const struct threads_entry *e, pid_t self,
                        const struct threadhook_creation *c, size_t nc)
{
    buf_printf(out, "goroutine %d [%s, thread \"%s\"%s]:\n", (int)e->tid,
               e->tid == self ? "running" : e->state, e->name, e->tid == self ? ", serving this request" : "");
    if (!e->captured) buf_puts(out, "(stack not captured: the thread did not answer; its leaf is where the kernel saw it)\n");
    for (int k = 0; k < e->npcs; k++) dump_frame(out, e->pcs[k], "");
    if (e->creation > 0 && (size_t)e->creation < nc && c[e->creation].npcs > 0)
        dump_creator(out, &c[e->creation]);
    else if (e->creation == 0)
        buf_puts(out, "created by exec (the main thread: it began at _start)\n");
    else
        buf_puts(out, "created by ? (before memdemo could see it)\n");
    buf_putc(out, '\n');
}

int threads_write_goroutine(struct buf *out, const struct threads_snapshot *s, int debug)
{
    if (debug < 2) return write_grouped(out, s, debug);
    size_t nc;
    struct threadhook_creation *c = threadhook_creations(&nc);
    for (int i = 0; i < s->n; i++) dump_thread(out, &s->t[i], s->self, c, nc);
    free(c);
    return out->failed ? errors_fail(ENOMEM) : 0;
}

static int by_creations_desc(const void *x, const void *y)
{
    const struct threadhook_creation *a = x, *b = y;
    return a->count != b->count ? (a->count < b->count ? 1 : -1) : 0;
}

static const struct pprof_value_type threadcreate_type = {"threadcreate", "count"};

int threads_write_threadcreate(struct buf *out, int debug)
{
    size_t n;
    struct threadhook_creation *c = threadhook_creations(&n);
    struct pprof_sample *ps = calloc(n ? n : 1, sizeof *ps);
    int64_t *counts = calloc(n ? n : 1, sizeof *counts);
    int rc = -1;
    if (c && ps && counts) {
        size_t m = 0;
        qsort(c, n, sizeof *c, by_creations_desc);
        for (size_t i = 0; i < n; i++) {
            if (!c[i].count) continue;
            counts[m] = (int64_t)c[i].count;
            ps[m] = (struct pprof_sample){c[i].pcs, c[i].npcs, &counts[m], NULL, 0};
            m++;
        }
        struct pprof_desc d = {&threadcreate_type, 1, threadcreate_type, 1, NULL, 0, 0};
        rc = debug ? pprof_write_count_text(out, "threadcreate", ps, m) : pprof_write(out, &d, ps, m);
    }
    free(c);
    free(ps);
    free(counts);
    return rc;
}
