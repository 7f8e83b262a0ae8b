/* gcprof: runs a program that uses bdwgc with libgcprof.so preloaded, so that its heap
 * profiles and GC timeline can be opened with go tool pprof and go tool trace:
 *
 *     gcprof -o PREFIX [-rate N] [-http ADDR] [-children] [-v] -- PROGRAM ARGS...
 *
 * Owns: the command line, finding libgcprof.so (beside this executable, or in
 * ../lib/gcprof/ when installed), the environment the program starts with (LD_PRELOAD
 * and the GCPROF_* settings, checked by the library's own parser first), and passing
 * the program's stdin, stdout, stderr and exit status through: its status becomes
 * gcprof's, and a program killed by a signal kills gcprof with the same signal.
 * Terminal signals (SIGINT, SIGQUIT) reach the program through its process group and
 * are ignored here while it runs; SIGTERM and SIGHUP sent to gcprof are passed on.
 * Leaves everything that happens inside the program to the library (src/gcprof_lib.c).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/gcprof_settings.h"

#define USAGE_STATUS 2

static void usage_line(FILE *f, const char *flag, const char *arg, const char *meaning, const char *var)
{
    char both[32];
    snprintf(both, sizeof both, "%s%s%s", flag, arg[0] ? " " : "", arg);
    fprintf(f, "  %-12s %s\n  %-12s (environment: %s)\n", both, meaning, "", var);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: gcprof -o PREFIX [-rate N] [-http ADDR] [-children] [-v] -- PROGRAM [ARGS...]\n"
               "Runs PROGRAM with libgcprof.so preloaded: heap profiles and a GC timeline of a\n"
               "program that uses bdwgc (libgc.so.1), for go tool pprof and go tool trace.\n");
    /* One aligned column of flags; the variable that sets the same thing under it. */
#define LINE(field, var, flag, arg, meaning) usage_line(f, flag, arg, meaning, var);
    GCPROF_SETTINGS(LINE)
#undef LINE
}

static const char *env_lookup(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

/* Sets the variable of the flag argv[*i] names; returns 0, 1 (not a flag), or -1. */
static int take_flag(int argc, char **argv, int *i)
{
    const char *a = argv[*i];
#define MATCH(field, var, flag, arg, meaning)                                          \
    if (strcmp(a, flag) == 0 || (a[0] == '-' && a[1] == '-' && strcmp(a + 1, flag) == 0)) { \
        if (!(arg)[0]) return setenv(var, "1", 1);                                     \
        if (*i + 1 >= argc) { fprintf(stderr, "gcprof: %s needs %s\n", flag, arg); return -1; } \
        return setenv(var, argv[++*i], 1);                                             \
    }
    GCPROF_SETTINGS(MATCH)
#undef MATCH
    return 1;
}

/* Parses the flags into the environment; returns the index of PROGRAM. */
static int parse_command_line(int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { i++; break; }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "-help") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        int rc = take_flag(argc, argv, &i);
        if (rc < 0) exit(USAGE_STATUS);
        if (rc > 0) {
            if (argv[i][0] != '-') break;
            fprintf(stderr, "gcprof: unknown flag %s\n", argv[i]);
            usage(stderr);
            exit(USAGE_STATUS);
        }
    }
    if (i >= argc) { usage(stderr); exit(USAGE_STATUS); }
    return i;
}

/* libgcprof.so beside this executable, or in ../lib/gcprof/ (make install). */
static int find_library(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return -1;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = '\0';
    static const char *const places[] = {"libgcprof.so", "../lib/gcprof/libgcprof.so"};
    for (size_t k = 0; k < sizeof places / sizeof places[0]; k++) {
        if ((size_t)snprintf(out, n, "%s/%s", exe, places[k]) >= n) return -1;
        if (access(out, R_OK) == 0) return 0;
    }
    return -1;
}

static int set_preload(void)
{
    char lib[PATH_MAX], value[2 * PATH_MAX];
    if (find_library(lib, sizeof lib) < 0) {
        fprintf(stderr, "gcprof: cannot find libgcprof.so beside gcprof or in ../lib/gcprof/\n");
        return -1;
    }
    const char *old = getenv("LD_PRELOAD");
    snprintf(value, sizeof value, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
    return setenv("LD_PRELOAD", value, 1);
}

static pid_t child;

static void pass_on(int sig)
{
    if (child > 0) kill(child, sig);
}

static void handle_signals_while_waiting(void)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = pass_on};
    sigemptyset(&ign.sa_mask);
    sigemptyset(&fwd.sa_mask);
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGQUIT, &ign, NULL);
    sigaction(SIGTERM, &fwd, NULL);
    sigaction(SIGHUP, &fwd, NULL);
}

/* Ends gcprof as the program ended: its exit status, or death by its signal. */
static void exit_like(int status)
{
    if (WIFEXITED(status)) exit(WEXITSTATUS(status));
    int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
    exit(128 + sig);
}

/* 1 if PREFIX names a file per process (it holds %p). */
static int per_process(const char *prefix)
{
    char a[GCPROF_MAX_PREFIX + 1], b[GCPROF_MAX_PREFIX + 1];
    return gcprof_settings_expand(prefix, 1, a, sizeof a) == 0 &&
           gcprof_settings_expand(prefix, 2, b, sizeof b) == 0 && strcmp(a, b) != 0;
}

/* A program that wrote no profile most likely does not use libgc.so (a shell or a
 * launcher whose children do, when not -children): say so, and where to look. */
static void check_output(pid_t pid, const struct gcprof_settings *s)
{
    char prefix[GCPROF_MAX_PREFIX + 1], path[GCPROF_MAX_PREFIX + 32];
    struct stat st;
    if (!s->out[0] || gcprof_settings_expand(s->out, (long)pid, prefix, sizeof prefix) < 0) return;
    if (s->children && per_process(s->out)) return;   /* the profiles may be its children's */
    snprintf(path, sizeof path, "%s.heap.pb.gz", prefix);
    if (stat(path, &st) == 0) return;
    fprintf(stderr, "gcprof: no profile at %s: the program did not load libgc.so%s, exited without "
                    "running exit handlers, or was killed%s\n", path,
            s->children ? "" : " (the programs it starts run unprofiled without -children)",
            s->verbose ? "" : " (-v says more)");
}

/* Every process that loads libgc.so writes PREFIX.*: with -children and no %p, the
 * last one to exit overwrites the others' files. Says so (the run goes on). */
static void warn_shared_prefix(const struct gcprof_settings *s)
{
    if (!s->children || !s->out[0] || per_process(s->out)) return;
    fprintf(stderr, "gcprof: -children with -o %s (no %%p): each profiled process writes the same "
                    "files, and the last to exit overwrites the others'; put %%p in PREFIX\n", s->out);
}

int main(int argc, char **argv)
{
    int prog = parse_command_line(argc, argv);
    struct gcprof_settings s;
    char err[GCPROF_MAX_PREFIX + 128];   /* a reason may quote a whole prefix */
    if (gcprof_settings_parse(&s, env_lookup, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "gcprof: %s\n", err);
        return USAGE_STATUS;
    }
    if (!s.out[0] && !s.http[0]) {
        fprintf(stderr, "gcprof: -o PREFIX (or -http ADDR) is required\n");
        usage(stderr);
        return USAGE_STATUS;
    }
    if (s.out[0] && gcprof_settings_check_directory(s.out, err, sizeof err) < 0) {
        /* Refused before the program runs rather than after a long run. */
        fprintf(stderr, "gcprof: -o %s: %s\n", s.out, err);
        return USAGE_STATUS;
    }
    warn_shared_prefix(&s);
    /* The program is the root of its own run, whatever this environment inherited
     * (a profiled launcher's mark, or one set by hand): kept, it would take the
     * program for another's child and leave it unprofiled. */
    unsetenv(GCPROF_ROOT_VAR);
    if (set_preload() < 0) return 1;
    child = fork();
    if (child < 0) { perror("gcprof: fork"); return 1; }
    if (child == 0) {
        execvp(argv[prog], argv + prog);
        fprintf(stderr, "gcprof: cannot run %s: %s\n", argv[prog], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    handle_signals_while_waiting();
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR) { perror("gcprof: waitpid"); return 1; }
    if (WIFEXITED(status) && WEXITSTATUS(status) < 126) check_output(child, &s);
    exit_like(status);
}
