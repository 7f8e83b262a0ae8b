/* flags: the command line, Go-style. See flags.h. */
#include "src/flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/conns.h"

/* X(name, field, kind, minimum, maximum, help). kind: INT, STR or DUR (a Go duration
 * such as "10s", "1m30s" or "500ms", kept in nanoseconds). The default comes from
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
    X("tracebuf", tracebuf, INT, 4096, INT64_C(1) << 32,                                     \
      "bytes of trace events each thread may buffer during /debug/pprof/trace; past that\n"  \
      "\tthe thread's further events are dropped and counted")                               \
    X("gcdivisor", gcdivisor, INT, 1, 1000,                                                  \
      "bdwgc free-space divisor: a larger value collects more often and keeps the heap smaller") \
    X("gcinitheap", gcinitheap, INT, 0, INT64_C(1) << 36,                                    \
      "bytes of GC heap to reserve at start (0: bdwgc's default)")                           \
    X("max-conns", max_conns, INT, 1, 1000000,                                               \
      "connections open at once; past it new ones get 503 with Retry-After")                 \
    X("max-conns-per-ip", max_conns_per_ip, INT, 0, 1000000,                                 \
      "connections open at once from one client address (0: no limit); past it 503")         \
    X("read-header-timeout", read_header_timeout, DUR, 0, DAY_NS,                            \
      "time to read a request's line and headers, from its start (Go's\n"                    \
      "\tReadHeaderTimeout; not extended by each byte; 0: none)")                             \
    X("read-timeout", read_timeout, DUR, 0, DAY_NS,                                          \
      "time to read a whole request, body included, from its start (Go's ReadTimeout; 0: none)") \
    X("write-timeout", write_timeout, DUR, 0, DAY_NS,                                        \
      "time to answer a request once it is read (Go's WriteTimeout); a trace or delta\n"     \
      "\twindow's own seconds do not count: its clock starts when the window ends (0: none)") \
    X("idle-timeout", idle_timeout, DUR, 0, DAY_NS,                                          \
      "time a keep-alive connection may wait for its next request (Go's IdleTimeout; 0: none)")

#define DAY_NS (INT64_C(86400) * CONNS_SECOND)

static void flags_defaults(struct flags *f)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    *f = (struct flags){
        .repetitions = 1000,
        .addr = "localhost:8080",
        .threads = cpus > 0 ? (cpus > 200 ? 200 : cpus) : 1,
        .memprofilerate = 512 * 1024,
        .tracebuf = 64 << 20,
        .gcdivisor = 3,
        .gcinitheap = 4 << 20,
        .max_conns = CONNS_DEFAULT_MAX,
        .max_conns_per_ip = CONNS_DEFAULT_MAX_PER_ADDR,
        .read_header_timeout = CONNS_DEFAULT_HEADER_NS,
        .read_timeout = CONNS_DEFAULT_READ_NS,
        .write_timeout = CONNS_DEFAULT_WRITE_NS,
        .idle_timeout = CONNS_DEFAULT_IDLE_NS,
    };
}

/* Appends v / unit as a decimal with no trailing zeros ("1.5"). */
static int put_fraction(char *out, size_t n, uint64_t v, uint64_t unit)
{
    int len = snprintf(out, n, "%llu", (unsigned long long)(v / unit));
    uint64_t rest = v % unit;
    if (rest && len > 0 && (size_t)len < n) {
        out[len++] = '.';
        for (uint64_t u = unit / 10; rest && u && (size_t)len + 1 < n; u /= 10) {
            out[len++] = (char)('0' + rest / u);
            rest %= u;
        }
        out[len] = '\0';
    }
    return len;
}

/* Writes ns the way Go's time.Duration prints: "0s", "500ms", "10s", "1m15s", "2m0s". */
static void format_duration(int64_t ns, char *out, size_t n)
{
    uint64_t v = (uint64_t)ns, s = UINT64_C(1000000000);
    if (v == 0) { snprintf(out, n, "0s"); return; }
    const char *unit = "ns";
    uint64_t scale = 1;
    if (v >= s) {
        uint64_t h = v / (3600 * s), m = v / (60 * s) % 60;
        int len = 0;
        if (h) len += snprintf(out + len, n - (size_t)len, "%lluh", (unsigned long long)h);
        if (h || m) len += snprintf(out + len, n - (size_t)len, "%llum", (unsigned long long)m);
        len += put_fraction(out + len, n - (size_t)len, v % (60 * s), s);
        snprintf(out + len, n - (size_t)len, "s");
        return;
    }
    if (v >= 1000000) { unit = "ms"; scale = 1000000; }
    else if (v >= 1000) { unit = "\xc2\xb5s"; scale = 1000; }
    int len = put_fraction(out, n, v, scale);
    snprintf(out + len, n - (size_t)len, "%s", unit);
}

static void usage(FILE *out)
{
    struct flags d;
    flags_defaults(&d);
    fprintf(out, "Usage of memdemo:\n"
                 "memdemo serves /leaker (keeps what it allocates) and /noleaker (makes garbage)\n"
                 "on the Boehm GC, with Go-compatible /debug/pprof/heap and /debug/pprof/trace.\n");
#define INT_USAGE(field) fprintf(out, "  -%s int\n\t%s (default %lld)\n", name, help, (long long)d.field)
#define STR_USAGE(field) fprintf(out, "  -%s string\n\t%s (default \"%s\")\n", name, help, d.field)
#define DUR_USAGE(field) { char dur[32]; format_duration(d.field, dur, sizeof dur); \
                           fprintf(out, "  -%s duration\n\t%s (default %s)\n", name, help, dur); }
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

/* A Go duration: "0", or one or more <decimal><unit> with unit ns, us, \xc2\xb5s, ms, s,
 * m or h ("1m30s", "1.5s", "250ms"). No sign, no spaces. Returns 0 or -1. */
static int parse_duration(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    static const struct { const char *name; int64_t ns; } units[] = {
        {"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"ms", 1000000}, {"s", INT64_C(1000000000)},
        {"m", INT64_C(60000000000)}, {"h", INT64_C(3600000000000)},
    };
    if (strcmp(s, "0") == 0) { *out = 0; return lo <= 0 ? 0 : -1; }
    long double total = 0;
    if (!*s) return -1;
    while (*s) {
        const char *start = s;
        long double v = 0, scale = 1;
        while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
        int digits = s > start;
        if (*s == '.') {
            s++;
            while (*s >= '0' && *s <= '9') { scale /= 10; v += scale * (*s++ - '0'); digits = 1; }
        }
        if (!digits) return -1;
        size_t best = 0, u = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t len = strlen(units[i].name);
            if (strncmp(s, units[i].name, len) == 0 && len > best) { best = len; u = i; }
        }
        if (!best) return -1;
        s += best;
        total += v * (long double)units[u].ns;
        if (total > (long double)hi) return -1;
    }
    if (total < (long double)lo) return -1;
    *out = (int64_t)(total + 0.5L);
    return 0;
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
#define DUR_SET(field, lo, hi)                                                   \
    if (parse_duration(value, lo, hi, &f->field) < 0) {                          \
        snprintf(why, why_n, "must be a duration such as 10s, 1m30s or 500ms, at most 24h"); \
        return -2;                                                               \
    }
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
    char hdr[32], rd[32], wr[32], idle[32];
    format_duration(f->read_header_timeout, hdr, sizeof hdr);
    format_duration(f->read_timeout, rd, sizeof rd);
    format_duration(f->write_timeout, wr, sizeof wr);
    format_duration(f->idle_timeout, idle, sizeof idle);
    snprintf(out, (size_t)n, "repetitions=%lld threads=%lld memprofilerate=%lld tracebuf=%lld gcdivisor=%lld "
             "max-conns=%lld max-conns-per-ip=%lld read-header-timeout=%s read-timeout=%s "
             "write-timeout=%s idle-timeout=%s",
             (long long)f->repetitions, (long long)f->threads, (long long)f->memprofilerate,
             (long long)f->tracebuf, (long long)f->gcdivisor, (long long)f->max_conns,
             (long long)f->max_conns_per_ip, hdr, rd, wr, idle);
}
