/* flags: memdemo's command line, parsed with Go's flag conventions because users of
 * the Go original type it the same way: -name value, -name=value, --name, --name=value;
 * -h / -help / --help print the usage with defaults and exit 0; an unknown flag, a
 * missing or bad value, or a stray argument print the problem and the usage to stderr
 * and exit 2.
 *
 * Owns: the table of flags (one X-macro) with their ranges and help text. Defaults
 * belong to the modules that use them (SAMPLER_DEFAULT_RATE, TRACE_DEFAULT_BUFFER_CAP,
 * ...): the table only names them.
 */
#ifndef MEMDEMO_FLAGS_H
#define MEMDEMO_FLAGS_H

#include <stddef.h>
#include <stdint.h>

struct flags {
    int64_t repetitions;      /* strings made per request */
    const char *addr;         /* HOST:PORT */
    const char *allowhost;    /* Host names served besides loopback and the server's address */
    int64_t threads;          /* request worker threads */
    int64_t memprofilerate;   /* bytes per heap-profile sample; 1 exact; 0 off */
    int64_t mutexprofilefraction;   /* one in N lock contentions recorded; 0 off */
    int64_t blockprofilerate;       /* one lock wait per N ns waited recorded; 0 off */
    int64_t tracebuf;         /* trace buffer cap per thread, bytes */
    int64_t gogc;             /* pacing percent, GCPACER_GOGC_OFF for off */
    int64_t memlimit;         /* soft memory limit, bytes; 0 none */
    int64_t maxheap;          /* hard GC heap cap, bytes; 0 none */
    int64_t gcinitheap;       /* initial GC heap, bytes */
    int64_t gcmode;           /* enum gcheap_mode */
    int64_t max_conns;        /* connections at once */
    int64_t max_conns_per_ip; /* from one address; 0 no limit */
    int64_t read_header_timeout, read_timeout, write_timeout, idle_timeout;   /* ns; 0 none */
};

enum flags_result { FLAGS_OK = 0, FLAGS_HELP = 1, FLAGS_ERROR = -1 };

/* The parser itself, which neither prints nor exits (flags_parse wraps it; the fuzzer
 * calls it directly): fills *f from argv[1..argc) after setting every default. Returns
 * FLAGS_OK; FLAGS_HELP when -h/-help/--help was given (parsing stops there); or
 * FLAGS_ERROR with one line saying why in err (size errn, truncated to fit). String
 * fields point into argv. Integers are Go integer literals without a sign (see
 * src/numparse.h): 1000, 1_000, 0x3e8, 0o1750, 01750, 0b1111101000. Thread-safe. */
int flags_parse_args(struct flags *f, int argc, char **argv, char *err, size_t errn);

/* Parses argv into *f (defaults first). On -h prints usage to stdout and exits 0; on
 * any error prints it and the usage to stderr and exits 2. Returns only on success. */
void flags_parse(struct flags *f, int argc, char **argv);

/* Writes "name=value ..." of every numeric flag, for the start-up line, into out
 * (size n >= 1; truncated to fit). */
void flags_describe(const struct flags *f, char *out, int n);

#endif
