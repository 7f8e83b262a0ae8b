/* flags: the command line, Go-style. See flags.h.
 *
 * FLAG_TABLE is the one list of flags: -h, parsing and the start-up line are all
 * generated from it, and each default is the owning module's constant, so the value
 * -h prints is the value the server uses (tests/integration/server.sh also holds
 * README's flag table against -h).
 */
#include "src/flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gc/gcheap.h"
#include "gc/gcpacer.h"
#include "profile/lockprof.h"
#include "profile/sampler.h"
#include "profile/trace.h"
#include "src/handlers.h"
#include "src/conns.h"
#include "src/numparse.h"
#include "src/reqgate.h"
#include "src/server.h"

/* One worker per CPU, within the server's limit. */
static int64_t cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > SERVER_MAX_THREADS ? SERVER_MAX_THREADS : n;
}

#define DAY_NS (INT64_C(86400) * CONNS_SECOND)

/* X(name, field, kind, default, minimum, maximum, help). kind: INT, STR (ignores the
 * range), DUR (a Go duration such as "10s", "1m30s" or "500ms", kept in ns), BYTES (an
 * integer with an optional B, KiB, MiB, GiB or TiB suffix, as Go's GOMEMLIMIT), GOGC
 * (an integer or "off", as Go's GOGC; off is GCPACER_GOGC_OFF) or GCMODE (a name of
 * gcheap_mode_name, kept as the enum; ignores the range). */
#define FLAG_TABLE(X)                                                                          \
    X("repetitions", repetitions, INT, HANDLERS_DEFAULT_REPETITIONS, 0, HANDLERS_MAX_REPETITIONS, \
      "strings each /leaker and /noleaker request makes")                                      \
    X("addr", addr, STR, SERVER_DEFAULT_ADDR, 0, 0,                                            \
      "HOST:PORT to listen on; \":8080\" listens on all interfaces, port 0 picks a free port")   \
    X("allowhost", allowhost, STR, REQGATE_DEFAULT_ALLOWHOST, 0, 0,                              \
      "host names (or addresses) a request's Host may carry besides loopback names and the\n" \
      "\taddress the client connected to, comma-separated; \"*\" allows any; others get 421\n" \
      "\t(a defence against DNS rebinding)")                                                    \
    X("threads", threads, INT, cpus(), 1, SERVER_MAX_THREADS,                                  \
      "request worker threads, one per CPU unless set")                            \
    X("memprofilerate", memprofilerate, INT, SAMPLER_DEFAULT_RATE, 0, INT64_C(1) << 40,         \
      "heap profile: on average one sample per N bytes allocated (Go's\n"                      \
      "\truntime.MemProfileRate); 1 records every allocation, 0 turns the profiler off;\n"      \
      "\tchange it at run time with /debug/memprofilerate?rate=N")                             \
    X("mutexprofilefraction", mutexprofilefraction, INT, LOCKPROF_DEFAULT_MUTEX_FRACTION, 0,    \
      INT64_C(1) << 40,                                                                       \
      "mutex profile: on average 1 in N contention events of memdemo's locks is recorded\n"    \
      "\t(Go's runtime.SetMutexProfileFraction); 0 turns it off; change it at run time\n"      \
      "\twith /debug/mutexprofilefraction?rate=N")                                            \
    X("blockprofilerate", blockprofilerate, INT, LOCKPROF_DEFAULT_BLOCK_RATE, 0, INT64_C(1) << 40, \
      "block profile: on average one blocking event per N nanoseconds blocked is recorded\n"   \
      "\t(Go's runtime.SetBlockProfileRate); 0 turns it off; 1 records every one; change it\n" \
      "\tat run time with /debug/blockprofilerate?rate=N")                                    \
    X("tracebuf", tracebuf, INT, TRACE_DEFAULT_BUFFER_CAP, 4096, INT64_C(1) << 32,              \
      "bytes of trace events each thread may buffer during /debug/pprof/trace; past that\n"    \
      "\tthe thread's further events are dropped and counted")                                 \
    X("gogc", gogc, GOGC, GCPACER_DEFAULT_GOGC, 0, GCPACER_MAX_GOGC,                            \
      "Go's GOGC: the next collection starts when the bytes allocated since the last one\n"   \
      "\treach N% of what it left in use (the heap goal is at least 4 MiB x N/100); off:\n"    \
      "\tcollect only on request (?gc=1) or at the limits below")                              \
    X("memlimit", memlimit, BYTES, GCPACER_DEFAULT_MEMLIMIT, 0, INT64_C(1) << 50,               \
      "Go's GOMEMLIMIT, a soft limit: near it collections come sooner and return free\n"      \
      "\tpages, so the GC heap plus the rest of the process's memory stays under it while\n"  \
      "\tthe live heap fits; 0: none")                                                        \
    X("maxheap", maxheap, BYTES, (int64_t)gcpacer_default_maxheap(), 0, INT64_C(1) << 50,       \
      "hard cap on the GC heap, failing soft: a /leaker request that would keep the heap\n"   \
      "\tpast 7/8 of it gets 503 and keeps nothing; the rest is reserve for everything\n"     \
      "\telse; 0: none; unset, half of the machine's (or the cgroup's) memory")                 \
    X("gcinitheap", gcinitheap, INT, GCHEAP_DEFAULT_INITIAL_HEAP, 0, INT64_C(1) << 36,         \
      "bytes of GC heap to reserve at start (0: bdwgc's default)")                            \
    X("gcmode", gcmode, GCMODE, GCHEAP_DEFAULT_MODE, 0, 0,                                     \
      "how the collector works: stw marks the whole live heap with the world stopped at\n"   \
      "\tevery collection; generational marks only what is new or was written since the\n"  \
      "\tlast one (partial collections, behind memdemo's write barrier) and the whole heap\n" \
      "\tnow and then, in short slices")                                                     \
    X("max-conns", max_conns, INT, CONNS_DEFAULT_MAX, 1, 1000000,                             \
      "connections open at once; past it new ones get 503 with Retry-After")                  \
    X("max-conns-per-ip", max_conns_per_ip, INT, CONNS_DEFAULT_MAX_PER_ADDR, 0, 1000000,      \
      "connections open at once from one client address (0: no limit); past it 503")          \
    X("read-header-timeout", read_header_timeout, DUR, CONNS_DEFAULT_HEADER_NS, 0, DAY_NS,    \
      "time to read a request's line and headers, from its start (Go's\n"                     \
      "\tReadHeaderTimeout; not extended by each byte; 0: none)")                              \
    X("read-timeout", read_timeout, DUR, CONNS_DEFAULT_READ_NS, 0, DAY_NS,                    \
      "time to read a whole request, body included, from its start (Go's ReadTimeout; 0: none)") \
    X("write-timeout", write_timeout, DUR, CONNS_DEFAULT_WRITE_NS, 0, DAY_NS,                 \
      "time to answer a request once it is read (Go's WriteTimeout); a trace or delta\n"      \
      "\twindow's own seconds do not count: its clock starts when the window ends (0: none)")  \
    X("idle-timeout", idle_timeout, DUR, CONNS_DEFAULT_IDLE_NS, 0, DAY_NS,                    \
      "time a keep-alive connection may wait for its next request (Go's IdleTimeout; 0: none)")

static void flags_defaults(struct flags *f)
{
#define X(n, field, kind, dflt, lo, hi, h) f->field = dflt;
    FLAG_TABLE(X)
#undef X
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
                 "on the Boehm GC, with Go-compatible /debug/pprof profiles (heap, allocs, CPU,\n"
                 "goroutine, threadcreate, mutex, block) and /debug/pprof/trace.\n");
#define INT_USAGE(name, help, v) fprintf(out, "  -%s int\n\t%s (default %lld)\n", name, help, (long long)(v))
#define BYTES_USAGE(name, help, v) fprintf(out, "  -%s bytes\n\t%s (default %lld)\n", name, help, (long long)(v))
#define STR_USAGE(name, help, v) fprintf(out, "  -%s string\n\t%s (default \"%s\")\n", name, help, v)
#define GOGC_USAGE(name, help, v)                                                  \
    if ((v) == GCPACER_GOGC_OFF) fprintf(out, "  -%s N|off\n\t%s (default off)\n", name, help); \
    else fprintf(out, "  -%s N|off\n\t%s (default %lld)\n", name, help, (long long)(v));
#define DUR_USAGE(name, help, v) { char dur[32]; format_duration(v, dur, sizeof dur); \
                                   fprintf(out, "  -%s duration\n\t%s (default %s)\n", name, help, dur); }
#define GCMODE_USAGE(name, help, v) \
    fprintf(out, "  -%s stw|generational\n\t%s (default %s)\n", name, help, gcheap_mode_name((enum gcheap_mode)(v)));
#define X(n, field, kind, dflt, lo, hi, h) kind##_USAGE(n, h, d.field);
    FLAG_TABLE(X)
#undef X
#undef INT_USAGE
#undef BYTES_USAGE
#undef STR_USAGE
#undef GOGC_USAGE
#undef DUR_USAGE
#undef GCMODE_USAGE
    fprintf(out, "  -h, -help\n\tprint this help and exit\n"
                 "Integers are Go integer literals without a sign, as Go's flag package reads them:\n"
                 "1000, 1_000, 0x3e8 (hex), 0o1750 or 01750 (octal), 0b1111101000 (binary).\n");
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

/* Integer flags are Go integer literals, as Go's flag package reads them, without the
 * sign none of memdemo's flags needs (src/numparse.h). */
static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    return numparse_go_int_range(s, strlen(s), lo, hi, out) == NUMPARSE_OK ? 0 : -1;
}

/* A byte count as Go's GOMEMLIMIT writes it: digits, then nothing, B, KiB, MiB, GiB or
 * TiB. Returns 0, or -1 if s is not one or is outside lo..hi. */
static int parse_bytes(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    static const struct { const char *suffix; int shift; } units[] = {
        {"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40},
    };
    if (*s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) != 0) continue;
        if (v > (unsigned long long)hi >> units[i].shift) return -1;
        int64_t b = (int64_t)(v << units[i].shift);
        if (b < lo) return -1;
        *out = b;
        return 0;
    }
    return -1;
}

/* 1 if the table defines the flag named name[0..n). */
static int is_defined(const char *name, size_t n)
{
#define X(nm, field, kind, dflt, lo, hi, h) if (strlen(nm) == n && memcmp(name, nm, n) == 0) return 1;
    FLAG_TABLE(X)
#undef X
    return 0;
}

/* Sets defined flag `name` from `value`; returns 0, or -1 for a bad value (why says why). */
static int set_flag(struct flags *f, const char *name, size_t n, const char *value, char *why, size_t why_n)
{
#define INT_SET(field, lo, hi)                                                   \
    if (parse_int(value, lo, hi, &f->field) < 0) {                               \
        snprintf(why, why_n, "must be an integer from %lld to %lld", (long long)(lo), (long long)(hi)); \
        return -1;                                                               \
    }
#define BYTES_SET(field, lo, hi)                                                 \
    if (parse_bytes(value, lo, hi, &f->field) < 0) {                             \
        snprintf(why, why_n, "must be a byte count from %lld to %lld, optionally with a " \
                 "B, KiB, MiB, GiB or TiB suffix", (long long)(lo), (long long)(hi)); \
        return -1;                                                               \
    }
#define GOGC_SET(field, lo, hi)                                                  \
    if (strcmp(value, "off") == 0) f->field = GCPACER_GOGC_OFF;                  \
    else if (parse_int(value, lo, hi, &f->field) < 0) {                          \
        snprintf(why, why_n, "must be off or an integer from %lld to %lld", (long long)(lo), (long long)(hi)); \
        return -1;                                                               \
    }
#define STR_SET(field, lo, hi) f->field = value;
#define GCMODE_SET(field, lo, hi)                                                \
    if ((f->field = gcheap_mode_parse(value)) < 0) {                             \
        snprintf(why, why_n, "must be stw or generational");                     \
        return -1;                                                               \
    }
#define DUR_SET(field, lo, hi)                                                   \
    if (parse_duration(value, lo, hi, &f->field) < 0) {                          \
        snprintf(why, why_n, "must be a duration such as 10s, 1m30s or 500ms, at most 24h"); \
        return -1;                                                               \
    }
#define X(nm, field, kind, dflt, lo, hi, h)                                      \
    if (strlen(nm) == n && memcmp(name, nm, n) == 0) { kind##_SET(field, lo, hi) return 0; }
    FLAG_TABLE(X)
#undef X
#undef INT_SET
#undef BYTES_SET
#undef GOGC_SET
#undef STR_SET
#undef DUR_SET
#undef GCMODE_SET
    return 0;
}

/* s[0..n) (n may be SIZE_MAX for "to its NUL") as it goes into a message: at most 200
 * bytes, with '"', '\\' and control bytes escaped as Go's %q escapes them, so that every
 * message stays one line. Returns out (size 1024: room for 200 bytes escaped). */
static const char *escaped(const char *s, size_t n, char out[1024])
{
    size_t k = 0;
    for (size_t i = 0; i < n && s[i] && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') k += (size_t)sprintf(out + k, "\\%c", c);
        else if (c == '\n') k += (size_t)sprintf(out + k, "\\n");
        else if (c == '\t') k += (size_t)sprintf(out + k, "\\t");
        else if (c == '\r') k += (size_t)sprintf(out + k, "\\r");
        else if (c < 0x20 || c == 0x7f) k += (size_t)sprintf(out + k, "\\x%02x", c);
        else out[k++] = (char)c;
    }
    out[k] = '\0';
    return out;
}

/* Reads argv[*i] (and its value, advancing *i past it); see flags_parse_args. */
static int parse_one(struct flags *f, int argc, char **argv, int *i, char *err, size_t errn)
{
    const char *arg = argv[*i];
    char e1[1024], e2[1024];
    if (arg[0] != '-' || arg[1] == '\0') {
        snprintf(err, errn, "unexpected argument %s (memdemo takes only flags)", escaped(arg, SIZE_MAX, e1));
        return FLAGS_ERROR;
    }
    const char *name = arg + (arg[1] == '-' ? 2 : 1), *eq = strchr(name, '=');
    const char *value = eq ? eq + 1 : NULL;
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    if ((n == 1 && name[0] == 'h') || (n == 4 && memcmp(name, "help", 4) == 0)) return FLAGS_HELP;
    /* As Go's flag package: an unknown name is reported before a missing value. */
    if (!is_defined(name, n)) {
        snprintf(err, errn, "flag provided but not defined: -%s", escaped(name, n, e1));
        return FLAGS_ERROR;
    }
    if (!value) {
        if (*i + 1 >= argc) {
            snprintf(err, errn, "flag needs an argument: -%s", escaped(name, n, e1));
            return FLAGS_ERROR;
        }
        value = argv[++*i];
    }
    char why[128] = "";
    if (set_flag(f, name, n, value, why, sizeof why) < 0) {
        snprintf(err, errn, "invalid value \"%s\" for flag -%s: %s", escaped(value, SIZE_MAX, e1),
                 escaped(name, n, e2), why);
        return FLAGS_ERROR;
    }
    return FLAGS_OK;
}

int flags_parse_args(struct flags *f, int argc, char **argv, char *err, size_t errn)
{
    const char *maxheap_arg = NULL, *initheap_arg = NULL;
    flags_defaults(f);
    if (errn) err[0] = '\0';
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            if (i + 1 < argc) {
                char e[1024];
                snprintf(err, errn, "unexpected argument %s", escaped(argv[i + 1], SIZE_MAX, e));
                return FLAGS_ERROR;
            }
            break;
        }
        const char *arg = argv[i];
        int rc = parse_one(f, argc, argv, &i, err, errn);
        if (rc != FLAGS_OK) return rc;
        const char *name = arg + (arg[1] == '-' ? 2 : 1), *value = strchr(name, '=');
        value = value ? value + 1 : argv[i];
        if (strncmp(name, "maxheap", 7) == 0 && (name[7] == '=' || !name[7])) maxheap_arg = value;
        if (strncmp(name, "gcinitheap", 10) == 0 && (name[10] == '=' || !name[10])) initheap_arg = value;
    }
    /* The cap against the start heap: blame the flag the user gave (-maxheap if both). */
    const char *why = gcpacer_check_maxheap((uint64_t)f->maxheap, (uint64_t)f->gcinitheap);
    if (why) {
        char e1[1024], dflt[32];
        int cap_named = maxheap_arg || !initheap_arg;
        snprintf(dflt, sizeof dflt, "%lld", (long long)f->maxheap);
        snprintf(err, errn, "invalid value \"%s\" for flag -%s: %s",
                 escaped(cap_named ? (maxheap_arg ? maxheap_arg : dflt) : initheap_arg, SIZE_MAX, e1),
                 cap_named ? "maxheap" : "gcinitheap", cap_named ? why : "above the heap cap (-maxheap)");
        return FLAGS_ERROR;
    }
    return FLAGS_OK;
}

void flags_parse(struct flags *f, int argc, char **argv)
{
    char err[512];
    int rc = flags_parse_args(f, argc, argv, err, sizeof err);
    if (rc == FLAGS_HELP) { usage(stdout); exit(0); }
    if (rc == FLAGS_ERROR) {
        fprintf(stderr, "%s\n", err);
        usage(stderr);
        exit(2);
    }
}

void flags_describe(const struct flags *f, char *out, int n)
{
    size_t len = 0, cap = (size_t)n;
    char dur[32];
    out[0] = '\0';
#define INT_DESCRIBE(name, v) snprintf(out + len, cap - len, "%s%s=%lld", len ? " " : "", name, (long long)(v))
#define BYTES_DESCRIBE INT_DESCRIBE
#define GOGC_DESCRIBE(name, v)                                                   \
    ((v) == GCPACER_GOGC_OFF ? snprintf(out + len, cap - len, "%s%s=off", len ? " " : "", name) \
                             : INT_DESCRIBE(name, v))
#define STR_DESCRIBE(name, v) 0   /* the address is on the line already, as the URL */
#define DUR_DESCRIBE(name, v) \
    (format_duration(v, dur, sizeof dur), snprintf(out + len, cap - len, "%s%s=%s", len ? " " : "", name, dur))
#define GCMODE_DESCRIBE(name, v) \
    snprintf(out + len, cap - len, "%s%s=%s", len ? " " : "", name, gcheap_mode_name((enum gcheap_mode)(v)))
#define X(nm, field, kind, dflt, lo, hi, h)                                     \
    if (len < cap) {                                                            \
        int w = kind##_DESCRIBE(nm, f->field);                                  \
        len = w < 0 ? cap : len + (size_t)w > cap ? cap : len + (size_t)w;      \
    }
    FLAG_TABLE(X)
#undef X
#undef INT_DESCRIBE
#undef BYTES_DESCRIBE
#undef GOGC_DESCRIBE
#undef STR_DESCRIBE
#undef DUR_DESCRIBE
#undef GCMODE_DESCRIBE
}
