/* flags: the command line, Go-style. See flags.h. */
#include "src/flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile/lockprof.h"

/* X(name, field, kind, minimum, maximum, help). kind: INT or STR. The default comes from
 * flags_defaults() since some depend on the machine. */
#define FLAG_TABLE(X)                                                                        \
    X("repetitions", repetitions, INT, 0, 10000000,                                          \
      "strings each /leaker and /noleaker request makes")                                    \
    X("addr", addr, STR, 0, 0,                                                               \
      "HOST:PORT to listen on; \":8080\" listens on all interfaces, port 0 picks a free port") \
    X("threads", threads, INT, 1, 200, "request worker threads (default: number of CPUs)")  \
    X("memprofilerate", memprofilerate, INT, 0, INT64_C(1) << 40,                            \
      "heap profile: on average one sample per N bytes allocated (Go's\n"                    \
      "\truntime.MemProfileRate); 1 records every allocation, 0 turns the profiler off;\n"    \
      "\tchange it at run time with /debug/memprofilerate?rate=N")                               \
    X("mutexprofilefraction", mutexprofilefraction, INT, 0, INT64_C(1) << 40,               \
      "mutex profile: record on average one in N contentions on memdemo's locks (Go's\n"       \
      "\truntime.SetMutexProfileFraction); 1 records all, 0 is off; change it at run time\n"  \
      "\twith /debug/mutexprofilefraction?rate=N")                                            \
    X("blockprofilerate", blockprofilerate, INT, 0, INT64_C(1) << 40,                       \
      "block profile: record on average one wait for a lock per N ns waited (Go's\n"          \
      "\truntime.SetBlockProfileRate); 1 records every wait, 0 is off; change it at run\n"   \
      "\ttime with /debug/blockprofilerate?rate=N")                                           \
    X("tracebuf", tracebuf, INT, 4096, INT64_C(1) << 32,                                     \
      "bytes of trace events each thread may buffer during /debug/pprof/trace; past that\n"  \
      "\tthe thread's further events are dropped and counted")                               \
    X("gcdivisor", gcdivisor, INT, 1, 1000,                                                  \
      "bdwgc free-space divisor: a larger value collects more often and keeps the heap smaller") \
    X("gcinitheap", gcinitheap, INT, 0, INT64_C(1) << 36,                                    \
      "bytes of GC heap to reserve at start (0: bdwgc's default)")

static void flags_defaults(struct flags *f)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    *f = (struct flags){
        .repetitions = 1000,
        .addr = "localhost:8080",
        .threads = cpus > 0 ? (cpus > 200 ? 200 : cpus) : 1,
        .memprofilerate = 512 * 1024,
        .mutexprofilefraction = LOCKPROF_DEFAULT_MUTEX_FRACTION,
        .blockprofilerate = LOCKPROF_DEFAULT_BLOCK_RATE,
        .tracebuf = 64 << 20,
        .gcdivisor = 3,
        .gcinitheap = 4 << 20,
    };
}

static void usage(FILE *out)
{
    struct flags d;
    flags_defaults(&d);
    fprintf(out, "Usage of memdemo:\n"
                 "memdemo serves /leaker (keeps what it allocates) and /noleaker (makes garbage)\n"
                 "on the Boehm GC, with Go-compatible /debug/pprof profiles (heap, allocs, CPU,\n"
                 "goroutine, threadcreate, mutex, block) and /debug/pprof/trace.\n");
#define INT_USAGE(field) fprintf(out, "  -%s int\n\t%s (default %lld)\n", name, help, (long long)d.field)
#define STR_USAGE(field) fprintf(out, "  -%s string\n\t%s (default \"%s\")\n", name, help, d.field)
#define X(n, field, kind, lo, hi, h) { const char *name = n, *help = h; kind##_USAGE(field); }
    FLAG_TABLE(X)
#undef X
    fprintf(out, "  -h, -help\n\tprint this help and exit\n");
}

static void die_usage(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    usage(stderr);
    exit(2);
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Sets flag `name` from `value`; returns 0, -1 for an unknown name, -2 for a bad value. */
static int set_flag(struct flags *f, const char *name, const char *value, char *why, size_t why_n)
{
#define INT_SET(field, lo, hi)                                                   \
    if (parse_int(value, lo, hi, &f->field) < 0) {                               \
        snprintf(why, why_n, "must be an integer from %lld to %lld", (long long)(lo), (long long)(hi)); \
        return -2;                                                               \
    }
#define STR_SET(field, lo, hi) f->field = value;
#define X(n, field, kind, lo, hi, h) if (strcmp(name, n) == 0) { kind##_SET(field, lo, hi) return 0; }
    FLAG_TABLE(X)
#undef X
    return -1;
}

void flags_parse(struct flags *f, int argc, char **argv)
{
    flags_defaults(f);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0')
            die_usage("unexpected argument %s%s (memdemo takes only flags)", arg, "");
        if (strcmp(arg, "--") == 0) {
            if (i + 1 < argc) die_usage("unexpected argument %s%s", argv[i + 1], "");
            break;
        }
        const char *name = arg + (arg[1] == '-' ? 2 : 1);
        char namebuf[64];
        const char *eq = strchr(name, '='), *value = NULL;
        if (eq) {
            snprintf(namebuf, sizeof namebuf, "%.*s", (int)(eq - name), name);
            name = namebuf;
            value = eq + 1;
        }
        if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) { usage(stdout); exit(0); }
        if (!value) {
            if (i + 1 >= argc) die_usage("flag needs an argument: -%s%s", name, "");
            value = argv[++i];
        }
        char why[128] = "";
        int rc = set_flag(f, name, value, why, sizeof why);
        if (rc == -1) die_usage("flag provided but not defined: -%s%s", name, "");
        if (rc == -2) {
            fprintf(stderr, "invalid value \"%s\" for flag -%s: %s\n", value, name, why);
            usage(stderr);
            exit(2);
        }
    }
}

void flags_describe(const struct flags *f, char *out, int n)
{
    snprintf(out, (size_t)n, "repetitions=%lld threads=%lld memprofilerate=%lld "
             "mutexprofilefraction=%lld blockprofilerate=%lld tracebuf=%lld gcdivisor=%lld",
             (long long)f->repetitions, (long long)f->threads, (long long)f->memprofilerate,
             (long long)f->mutexprofilefraction, (long long)f->blockprofilerate,
             (long long)f->tracebuf, (long long)f->gcdivisor);
}
