/* test_threads: every thread of the process is listed with its name and current stack
 * (also one that was started with every signal blocked, as bdwgc starts its markers),
 * a thread that cannot answer is listed without holding the capture up, creation
 * stacks name the function that called pthread_create, the goroutine and
 * threadcreate profiles are what go tool pprof reads, with the right totals, and
 * start hooks registered with profile/threadhook run in every new thread with their
 * signal unblocked.
 */
#include "profile/stacks.h"
#include "profile/symbols.h"
#include "profile/threadhook.h"
#include "profile/threads.h"
#include "tests/unit/pproftool.h"
#include "tests/unit/threadkit.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

static int park_pipe[2];

/* Blocks in read() until the test ends: its stack must show this function. */
__attribute__((noinline, no_icf)) static void park_here(void)
{
    char c;
    while (read(park_pipe[0], &c, 1) < 0) { /* EINTR from the capture signal: again */ }
    __asm__ volatile("" ::: "memory");
}

static void *parked_main(void *name)
{
    pthread_setname_np(pthread_self(), name);
    park_here();
    return NULL;
}

/* Blocks the capture signal itself, then parks: it cannot answer a capture. */
static void *deaf_main(void *unused)
{
    (void)unused;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, THREADS_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_setname_np(pthread_self(), "t-deaf");
    park_here();
    return NULL;
}

static pthread_t parked, blocked, deaf;

__attribute__((noinline, no_icf)) static int spawn_threads(void)
{
    int rc = pthread_create(&parked, NULL, parked_main, "t-parked");
    rc |= threadkit_start_blocked(&blocked, parked_main, "t-blocked");
    rc |= pthread_create(&deaf, NULL, deaf_main, NULL);
    __asm__ volatile("" ::: "memory");
    return rc;
}

/* ---- helpers ------------------------------------------------------------------------ */

static const struct threads_entry *find(const struct threads_snapshot *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

/* 1 if one of pcs (return-address convention) symbolizes to function fn. */
static int stack_has(const uintptr_t *pcs, int n, const char *fn)
{
    for (int k = 0; k < n; k++) {
        struct symbols_frame fr[SYMBOLS_MAX_FRAMES];
        int m = symbols_lookup(pcs[k] - 1, fr, SYMBOLS_MAX_FRAMES);
        for (int j = 0; j < m; j++)
            if (strcmp(fr[j].function, fn) == 0) return 1;
    }
    return 0;
}

/* Waits (bounded) until the named threads exist and have named themselves. */
static int wait_for_names(void)
{
    for (int tries = 0; tries < 200; tries++) {
        struct threads_snapshot s;
        if (threads_capture(&s) < 0) return -1;
        int ok = find(&s, "t-parked") && find(&s, "t-blocked") && find(&s, "t-deaf");
        threads_snapshot_free(&s);
        if (ok) return 0;
        usleep(10000);
    }
    return -1;
}

/* Profile NAME, written as NAME.pb.gz and NAME.txt, parses in both encodings with
 * sample type NAME/count and a total of want. */
static void check_both_encodings(const char *name, long long want)
{
    char type[64];
    snprintf(type, sizeof type, "%s/count", name);
    for (int f = 0; f < 2; f++) {
        int status;
        long long total = -1;
        char args[64];
        snprintf(args, sizeof args, "-raw %s.%s", name, f ? "txt" : "pb.gz");
        char *raw = pproftool_run(args, &status);
        int samples = pproftool_raw_totals(raw, 1, &total);
        if (status != 0 || samples < 1 || total != want || !strstr(raw, type))
            UNIT__FAIL("%s: status %d, %d samples, total %lld, want %lld:\n%s", args, status, samples,
                       total, want, raw);
        free(raw);
    }
}

/* ---- tests -------------------------------------------------------------------------- */

TEST(capture_lists_every_thread_with_its_name_and_stack)
{
    struct threads_snapshot s;
    CHECK_EQ_INT(threads_capture(&s), 0);
    CHECK_EQ_INT(s.n, threads_count());
    const struct threads_entry *p = find(&s, "t-parked"), *b = find(&s, "t-blocked");
    const struct threads_entry *self = NULL;
    for (int i = 0; i < s.n; i++) if (s.t[i].tid == s.self) self = &s.t[i];
    if (!p || !b || !self) { threads_snapshot_free(&s); UNIT__FAIL("%s", "a thread is missing"); }
    CHECK(p->captured && b->captured && self->captured);
    CHECK(stack_has(p->pcs, p->npcs, "park_here"));
    CHECK(stack_has(p->pcs, p->npcs, "parked_main"));   /* unwound through libc's read */
    CHECK(stack_has(b->pcs, b->npcs, "park_here"));     /* signals were unblocked at start */
    CHECK(stack_has(self->pcs, self->npcs, "capture_lists_every_thread_with_its_name_and_stack"));
    CHECK(strstr(p->state, "sleeping") != NULL);
    threads_snapshot_free(&s);
}

TEST(thread_that_cannot_answer_is_listed_without_a_stack)
{
    struct threads_snapshot s;
    CHECK_EQ_INT(threads_capture(&s), 0);
    const struct threads_entry *d = find(&s, "t-deaf");
    CHECK(d != NULL);
    CHECK_EQ_INT(d->captured, 0);
    CHECK_EQ_INT(d->npcs, 1);                          /* the pc it entered read() at */
    CHECK(d->pcs[0] != (uintptr_t)threads_stack_not_captured + 1);
    threads_snapshot_free(&s);
}

TEST(creation_stacks_name_the_creator_and_count_every_thread)
{
    size_t n;
    struct threadhook_creation *c = threadhook_creations(&n);
    CHECK(c != NULL);
    uint64_t total = 0, from_spawn = 0;
    for (size_t i = 0; i < n; i++) {
        total += c[i].count;
        if (stack_has(c[i].pcs, c[i].npcs, "spawn_threads")) from_spawn += c[i].count;
    }
    CHECK(stack_has(c[0].pcs, c[0].npcs, "_start"));   /* the main thread: created by exec */
    free(c);
    CHECK_EQ_INT(from_spawn, 3);
    CHECK_EQ_INT(total, threadhook_created());
    CHECK_EQ_INT(threadhook_created(), 4);            /* main + the three spawned */
}

TEST(goroutine_profiles_parse_with_one_entry_per_thread)
{
    struct threads_snapshot s;
    CHECK_EQ_INT(threads_capture(&s), 0);
    struct buf pb = BUF_INIT, text = BUF_INIT, dump = BUF_INIT;
    CHECK_EQ_INT(threads_write_goroutine(&pb, &s, 0), 0);
    CHECK_EQ_INT(threads_write_goroutine(&text, &s, 1), 0);
    CHECK_EQ_INT(threads_write_goroutine(&dump, &s, 2), 0);
    CHECK_EQ_INT(pproftool_write("goroutine.pb.gz", &pb), 0);
    CHECK_EQ_INT(pproftool_write("goroutine.txt", &text), 0);
    char head[64];
    snprintf(head, sizeof head, "goroutine profile: total %d\n", s.n);
    CHECK(strncmp(text.data, head, strlen(head)) == 0);
    CHECK(strstr(text.data, "# labels: {\"thread\":\"t-parked\"}") != NULL);
    for (int i = 0; i < s.n; i++) {
        char line[64];
        snprintf(line, sizeof line, "goroutine %d [", (int)s.t[i].tid);
        if (!strstr(dump.data, line)) UNIT__FAIL("%s missing from the dump", line);
    }
    CHECK(strstr(dump.data, "park_here(...)\n\t/") != NULL);
    CHECK(strstr(dump.data, "created by spawn_threads(...)") != NULL);
    CHECK(strstr(dump.data, "created by exec (the main thread") != NULL);
    buf_free(&pb);
    buf_free(&text);
    buf_free(&dump);
    int n = s.n;
    threads_snapshot_free(&s);
    check_both_encodings("goroutine", n);
}

TEST(threadcreate_profiles_parse_and_total_the_threads_created)
{
    struct buf pb = BUF_INIT, text = BUF_INIT;
    CHECK_EQ_INT(threads_write_threadcreate(&pb, 0), 0);
    CHECK_EQ_INT(threads_write_threadcreate(&text, 1), 0);
    CHECK_EQ_INT(pproftool_write("threadcreate.pb.gz", &pb), 0);
    CHECK_EQ_INT(pproftool_write("threadcreate.txt", &text), 0);
    buf_free(&pb);
    buf_free(&text);
    check_both_encodings("threadcreate", (long long)threadhook_created());
}

/* ---- start hooks (profile/threadhook) ------------------------------------------------- */

static _Atomic int hook_runs;
static __thread int hook_ran_here;

static void count_hook_run(void)
{
    atomic_fetch_add(&hook_runs, 1);
    hook_ran_here = 1;
}

/* Reports whether the hook ran on this thread before it, and whether SIGUSR2 is
 * unblocked here although the thread started with every signal blocked. */
static void *report_start(void *out)
{
    int *r = out;
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    r[0] = hook_ran_here;
    r[1] = !sigismember(&now, SIGUSR2);
    r[2] = sigismember(&now, SIGUSR1);               /* not registered: still blocked */
    return NULL;
}

/* Runs last: it fills the hook table. */
TEST(start_hooks_run_in_each_new_thread_with_their_signal_unblocked)
{
    CHECK_EQ_INT(threadhook_on_start(count_hook_run, SIGUSR2), 0);
    int r[3] = {0, 0, 0};
    pthread_t t;
    CHECK_EQ_INT(threadkit_start_blocked(&t, report_start, r), 0);
    pthread_join(t, NULL);
    CHECK_EQ_INT(r[0], 1);
    CHECK_EQ_INT(r[1], 1);
    CHECK_EQ_INT(r[2], 1);
    CHECK_EQ_INT(atomic_load(&hook_runs), 1);
    CHECK_EQ_INT(hook_ran_here, 0);                  /* not on the registering thread */
    int added = 0;
    errno = 0;
    while (added <= THREADHOOK_MAX_HOOKS && threadhook_on_start(NULL, 0) == 0) added++;
    CHECK_EQ_INT(added, THREADHOOK_MAX_HOOKS - 3);   /* cpuprof's, threads' and this test's */
    CHECK_EQ_INT(errno, ENOSPC);
}

int main(void)
{
    if (pproftool_init("test_threads") < 0 || pipe(park_pipe) < 0) { perror("setup"); return 1; }
    stacks_init();
    if (spawn_threads() != 0 || wait_for_names() < 0) { puts("FAIL setup: threads did not start"); return 1; }
    RUN(capture_lists_every_thread_with_its_name_and_stack);
    RUN(thread_that_cannot_answer_is_listed_without_a_stack);
    RUN(creation_stacks_name_the_creator_and_count_every_thread);
    RUN(goroutine_profiles_parse_with_one_entry_per_thread);
    RUN(threadcreate_profiles_parse_and_total_the_threads_created);
    RUN(start_hooks_run_in_each_new_thread_with_their_signal_unblocked);
    close(park_pipe[1]);                               /* the parked threads return */
    pthread_join(parked, NULL);
    pthread_join(blocked, NULL);
    pthread_join(deaf, NULL);
    pproftool_done(unit__failures);
    UNIT_EXIT();
}
