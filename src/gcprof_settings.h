/* gcprof_settings: the settings of libgcprof and the gcprof command, read from the
 * environment (GCPROF_OUT, GCPROF_RATE, GCPROF_HTTP, GCPROF_CHILDREN, GCPROF_VERBOSE),
 * which is how the command hands them to the library it preloads and how people who
 * preload it by hand set them.
 *
 * Owns: the one table of settings (variable, command-line flag, meaning), their
 * grammar and error messages, and the expansion of %p in the output prefix. The command
 * (src/gcprof.c) turns its flags into these variables and checks them with the same
 * parser, so both refuse the same input with the same message. Leaves what the values
 * do to src/gcprof_lib.c. Pure (no allocation, no global state; only
 * gcprof_settings_check_directory asks the file system); any thread;
 * tests/fuzz/fuzz_gcprof_settings.c feeds it arbitrary bytes.
 */
#ifndef MEMDEMO_GCPROF_SETTINGS_H
#define MEMDEMO_GCPROF_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#define GCPROF_DEFAULT_RATE (512 * 1024)     /* Go's runtime.MemProfileRate default */
#define GCPROF_MAX_RATE (INT64_C(1) << 40)
#define GCPROF_MAX_PREFIX 1024               /* bytes of GCPROF_OUT, and after %p */
#define GCPROF_MAX_HTTP 256
#define GCPROF_MAX_PID 4194304               /* Linux's pid_max limit: the longest %p */
/* Internal: the pid of the process that took the settings first (src/gcprof_lib.c's
 * claim_root); the command clears it, since the program it starts is a new root. */
#define GCPROF_ROOT_VAR "GCPROF_ROOT_PID"

/* X(field, variable, flag, argument, meaning): every setting, in the order -h lists them.
 * argument "" marks a switch (value 0 or 1). */
#define GCPROF_SETTINGS(X)                                                                   \
    X(out, "GCPROF_OUT", "-o", "PREFIX",                                                     \
      "at exit write PREFIX.heap.pb.gz, PREFIX.allocs.pb.gz, PREFIX.trace and PREFIX.vars.json " \
      "(%p in PREFIX is the process id, %% a percent sign)")                                 \
    X(rate, "GCPROF_RATE", "-rate", "N",                                                     \
      "sample one allocation per N bytes on average, as Go's MemProfileRate "               \
      "(1: every allocation, 0: none; default 524288)")                                     \
    X(http, "GCPROF_HTTP", "-http", "ADDR",                                                  \
      "while the program runs, serve /debug/pprof/, /debug/vars, /metrics and the "         \
      "/debug/gc dashboard on ADDR, a loopback HOST:PORT (127.0.0.1:6060, localhost:0, "   \
      "[::1]:6060)")                                                                         \
    X(children, "GCPROF_CHILDREN", "-children", "",                                          \
      "profile the programs it starts too (put %p in PREFIX); by default they run unprofiled") \
    X(verbose, "GCPROF_VERBOSE", "-v", "", "say on stderr what the library does")

struct gcprof_settings {
    char out[GCPROF_MAX_PREFIX + 1];    /* "" : write no files */
    int64_t rate;
    char http[GCPROF_MAX_HTTP + 1];     /* "" : no server */
    int children;
    int verbose;
};

/* Looks a variable up (getenv, or a test's table): its value or NULL when unset. */
typedef const char *(*gcprof_getenv_fn)(void *ctx, const char *name);

/* Fills *s from the variables get() returns; unset ones take their defaults. Returns
 * 0, or -1 with a one-line reason in err (size errn), naming the variable, e.g.
 * "GCPROF_RATE: must be a decimal integer from 0 to 1099511627776, got \"x\"". */
int gcprof_settings_parse(struct gcprof_settings *s, gcprof_getenv_fn get, void *ctx, char *err,
                          size_t errn);

/* Writes prefix with %p replaced by pid and %% by % into out (size n). Returns 0, or
 * -1 when the result does not fit or prefix holds another %-sequence. */
int gcprof_settings_expand(const char *prefix, long pid, char *out, size_t n);

/* Writes prefix made absolute against the directory cwd into out (size n): prefix as
 * it is when it starts with '/', else cwd, '/', prefix, with each % of cwd doubled so
 * that the result is still a prefix for gcprof_settings_expand. Returns 0, or -1 when
 * it does not fit. (The files are written at exit, after the program may have changed
 * its directory.) */
int gcprof_settings_absolute(const char *prefix, const char *cwd, char *out, size_t n);

/* Whether the directory a prefix names exists and takes new files (stat, access): the
 * files are written at exit, so both the command and the library check at start.
 * Returns 0 (also when the directory holds a %-sequence, known only later), or -1
 * with "cannot write files into DIR: REASON" in err (size errn). */
int gcprof_settings_check_directory(const char *prefix, char *err, size_t errn);

/* Splits a valid GCPROF_HTTP value into host (without brackets) and port. Returns 0 or
 * -1 (not HOST:PORT, or a host that is not loopback). */
int gcprof_settings_http_addr(const char *addr, char *host, size_t host_n, int *port);

#endif
