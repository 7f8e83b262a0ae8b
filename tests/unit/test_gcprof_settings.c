/* Unit tests for src/gcprof_settings (libgcprof's GCPROF_* variables) and
 * profile/addrmap (the sampler's index of objects a program frees itself): what each
 * accepts, the one-line refusals, %p expansion, loopback-only addresses, and the map's
 * deletion against a plain array holding the same entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile/addrmap.h"
#include "src/gcprof_settings.h"
#include "tests/unit/unit.h"

/* "NAME=VALUE" pairs, NULL-terminated. */
static const char *table_lookup(void *ctx, const char *name)
{
    for (const char *const *p = ctx; *p; p++) {
        size_t n = strlen(name);
        if (strncmp(*p, name, n) == 0 && (*p)[n] == '=') return *p + n + 1;
    }
    return NULL;
}

static int parse(struct gcprof_settings *s, char *err, const char *const *vars)
{
    return gcprof_settings_parse(s, table_lookup, (void *)vars, err, 256);
}

TEST(defaults_when_nothing_is_set)
{
    struct gcprof_settings s;
    char err[256];
    const char *vars[] = {NULL};
    CHECK_EQ_INT(parse(&s, err, vars), 0);
    CHECK_EQ_INT(s.rate, GCPROF_DEFAULT_RATE);
    CHECK_EQ_STR(s.out, "");
    CHECK_EQ_STR(s.http, "");
    CHECK_EQ_INT(s.children, 0);
    CHECK_EQ_INT(s.verbose, 0);
}

TEST(every_setting_is_read)
{
    struct gcprof_settings s;
    char err[256];
    const char *vars[] = {"GCPROF_OUT=/tmp/p.%p", "GCPROF_RATE=1", "GCPROF_HTTP=[::1]:6060",
                          "GCPROF_CHILDREN=1", "GCPROF_VERBOSE=1", NULL};
    CHECK_EQ_INT(parse(&s, err, vars), 0);
    CHECK_EQ_STR(s.out, "/tmp/p.%p");
    CHECK_EQ_INT(s.rate, 1);
    CHECK_EQ_STR(s.http, "[::1]:6060");
    CHECK_EQ_INT(s.children, 1);
    CHECK_EQ_INT(s.verbose, 1);
}

TEST(refusals_name_the_variable_in_one_line)
{
    static const struct { const char *var, *want; } cases[] = {
        {"GCPROF_RATE=-1", "GCPROF_RATE: must be a decimal integer from 0 to 1099511627776, got \"-1\""},
        {"GCPROF_RATE=1099511627777", "GCPROF_RATE: must be a decimal integer"},
        {"GCPROF_OUT=", "GCPROF_OUT: must be a file name prefix"},
        {"GCPROF_OUT=a%d", "GCPROF_OUT: only %p (the process id) and %% may follow a %"},
        {"GCPROF_HTTP=0.0.0.0:6060", "GCPROF_HTTP: must be a loopback HOST:PORT"},
        {"GCPROF_HTTP=example.org:80", "GCPROF_HTTP: must be a loopback HOST:PORT"},
        {"GCPROF_HTTP=127.0.0.1", "GCPROF_HTTP: must be a loopback HOST:PORT"},
        {"GCPROF_HTTP=127.0.0.1:65536", "GCPROF_HTTP: must be a loopback HOST:PORT"},
        {"GCPROF_CHILDREN=yes", "GCPROF_CHILDREN: must be 0 or 1, got \"yes\""},
        {"GCPROF_VERBOSE=2", "GCPROF_VERBOSE: must be 0 or 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gcprof_settings s;
        char err[256] = "";
        const char *vars[] = {cases[i].var, NULL};
        CHECK_EQ_INT(parse(&s, err, vars), -1);
        CHECK_PREFIX(err, cases[i].want);
        CHECK(strchr(err, '\n') == NULL);
    }
}

TEST(loopback_addresses_split_into_host_and_port)
{
    char host[64];
    int port = -1;
    CHECK_EQ_INT(gcprof_settings_http_addr("127.0.0.1:0", host, sizeof host, &port), 0);
    CHECK_EQ_STR(host, "127.0.0.1");
    CHECK_EQ_INT(port, 0);
    CHECK_EQ_INT(gcprof_settings_http_addr("127.1.2.3:80", host, sizeof host, &port), 0);
    CHECK_EQ_INT(gcprof_settings_http_addr("localhost:6060", host, sizeof host, &port), 0);
    CHECK_EQ_STR(host, "localhost");
    CHECK_EQ_INT(gcprof_settings_http_addr("[::1]:6060", host, sizeof host, &port), 0);
    CHECK_EQ_STR(host, "::1");
    CHECK_EQ_INT(port, 6060);
    CHECK_EQ_INT(gcprof_settings_http_addr("[::2]:6060", host, sizeof host, &port), -1);
    CHECK_EQ_INT(gcprof_settings_http_addr(":6060", host, sizeof host, &port), -1);
    CHECK_EQ_INT(gcprof_settings_http_addr("[]:6060", host, sizeof host, &port), -1);
}

TEST(percent_p_expands_to_the_pid)
{
    char out[32];
    CHECK_EQ_INT(gcprof_settings_expand("/tmp/w3m.%p", 1234, out, sizeof out), 0);
    CHECK_EQ_STR(out, "/tmp/w3m.1234");
    CHECK_EQ_INT(gcprof_settings_expand("100%%.%p.%p", 7, out, sizeof out), 0);
    CHECK_EQ_STR(out, "100%.7.7");
    CHECK_EQ_INT(gcprof_settings_expand("a%", 7, out, sizeof out), -1);
    CHECK_EQ_INT(gcprof_settings_expand("%x", 7, out, sizeof out), -1);
    CHECK_EQ_INT(gcprof_settings_expand("0123456789012345678901234567%p", 1234, out, sizeof out), -1);
}

TEST(relative_prefix_made_absolute_against_the_start_directory)
{
    char out[32], exp[32];
    CHECK_EQ_INT(gcprof_settings_absolute("/tmp/w3m.%p", "/home/x", out, sizeof out), 0);
    CHECK_EQ_STR(out, "/tmp/w3m.%p");
    CHECK_EQ_INT(gcprof_settings_absolute("out/w3m.%p", "/home/x", out, sizeof out), 0);
    CHECK_EQ_STR(out, "/home/x/out/w3m.%p");
    CHECK_EQ_INT(gcprof_settings_absolute("w3m", "/", out, sizeof out), 0);
    CHECK_EQ_STR(out, "/w3m");
    /* A % in the directory stays a literal % after expansion. */
    CHECK_EQ_INT(gcprof_settings_absolute("p.%p", "/100%p", out, sizeof out), 0);
    CHECK_EQ_STR(out, "/100%%p/p.%p");
    CHECK_EQ_INT(gcprof_settings_expand(out, 7, exp, sizeof exp), 0);
    CHECK_EQ_STR(exp, "/100%p/p.7");
    CHECK_EQ_INT(gcprof_settings_absolute("0123456789", "/0123456789012345678901", out, sizeof out), -1);
    CHECK_EQ_INT(gcprof_settings_absolute("/01234567890123456789012345678901", "/", out, sizeof out), -1);
}

TEST(prefix_directory_must_take_files)
{
    char err[256];
    CHECK_EQ_INT(gcprof_settings_check_directory("/tmp/w3m.%p", err, sizeof err), 0);
    CHECK_EQ_INT(gcprof_settings_check_directory("w3m", err, sizeof err), 0);          /* "." */
    CHECK_EQ_INT(gcprof_settings_check_directory("/%p/w3m", err, sizeof err), 0);      /* known later */
    CHECK_EQ_INT(gcprof_settings_check_directory("/nonexistent-dir/w3m", err, sizeof err), -1);
    CHECK_EQ_STR(err, "cannot write files into /nonexistent-dir: No such file or directory");
    CHECK_EQ_INT(gcprof_settings_check_directory("/dev/null/w3m", err, sizeof err), -1);
    CHECK_EQ_STR(err, "cannot write files into /dev/null: not a directory");
    /* %% is a literal % (a start directory's, doubled by gcprof_settings_absolute): the
     * directory is known, and checked. */
    CHECK_EQ_INT(gcprof_settings_check_directory("/nonexistent%%dir/w3m.%p", err, sizeof err), -1);
    CHECK_EQ_STR(err, "cannot write files into /nonexistent%dir: No such file or directory");
    CHECK_EQ_INT(gcprof_settings_check_directory("/tmp/%%p%p/w3m", err, sizeof err), 0);   /* %p: later */
}

static int keep_even(void *ctx, uintptr_t key, uint32_t value)
{
    (void)ctx; (void)key;
    return value % 2 == 0;
}

/* A map and a plain array given the same puts, takes and retains agree on every key. */
TEST(addrmap_agrees_with_a_plain_array)
{
    enum { KEYS = 3000 };
    static uint32_t truth[KEYS];   /* value + 1, 0 = absent */
    struct addrmap m = ADDRMAP_INIT;
    uint64_t x = 12345;
    memset(truth, 0, sizeof truth);
    for (int step = 0; step < 200000; step++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t k = (uint32_t)(x >> 33) % KEYS, v = (uint32_t)(x >> 20) & 0xffff, got = 0;
        uintptr_t key = ((uintptr_t)k + 1) * 16;   /* addresses: granule-aligned, never 0 */
        if ((x >> 62) == 0) {
            int had = addrmap_take(&m, key, &got);
            if (had != (truth[k] != 0)) UNIT__FAIL("take of key %u: map %d, array %d", k, had, truth[k] != 0);
            if (had && got != truth[k] - 1) UNIT__FAIL("key %u: map %u, array %u", k, got, truth[k] - 1);
            truth[k] = 0;
        } else if (step % 50000 == 49999) {
            addrmap_retain(&m, keep_even, NULL);
            for (int i = 0; i < KEYS; i++) if (truth[i] && (truth[i] - 1) % 2) truth[i] = 0;
        } else {
            CHECK_EQ_INT(addrmap_put(&m, key, v, NULL, NULL), 0);
            truth[k] = v + 1;
        }
    }
    size_t live = 0;
    for (int k = 0; k < KEYS; k++) {
        uint32_t got;
        live += truth[k] != 0;
        int had = addrmap_take(&m, ((uintptr_t)k + 1) * 16, &got);
        if (had != (truth[k] != 0)) UNIT__FAIL("final take of key %d: map %d, array %d", k, had, truth[k] != 0);
    }
    CHECK_GT(live, 100);
    CHECK_EQ_U64(m.len, 0);
    addrmap_free(&m);
}

int main(void)
{
    RUN(defaults_when_nothing_is_set);
    RUN(every_setting_is_read);
    RUN(refusals_name_the_variable_in_one_line);
    RUN(loopback_addresses_split_into_host_and_port);
    RUN(percent_p_expands_to_the_pid);
    RUN(relative_prefix_made_absolute_against_the_start_directory);
    RUN(prefix_directory_must_take_files);
    RUN(addrmap_agrees_with_a_plain_array);
    UNIT_EXIT();
}
