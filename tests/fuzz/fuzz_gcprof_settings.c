/* fuzz_gcprof_settings: libgcprof's settings parser (src/gcprof_settings.c) on
 * environments made of the input: lines "NAME=VALUE" (the first '=' splits; a later
 * line for the same name wins, as setenv would), looked up by the parser's getter.
 *
 * Properties: parsing is deterministic; a refusal is one non-empty line naming the
 * variable it refuses (it starts with "GCPROF_", has no newline, fits its buffer);
 * accepted settings are in range (rate within [0, GCPROF_MAX_RATE], switches 0 or 1,
 * the output prefix expands for any pid without a '%' sequence left, and made absolute
 * against a directory it expands below that directory; the address is a loopback
 * HOST:PORT), and written back as variables they are accepted again with the same
 * values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/gcprof_settings.h"
#include "tests/fuzz/fuzz.h"

enum { MAX_VARS = 16 };

struct env {
    const char *names[MAX_VARS], *values[MAX_VARS];
    int n;
};

static const char *lookup(void *ctx, const char *name)
{
    const struct env *e = ctx;
    const char *found = NULL;
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->names[i], name) == 0) found = e->values[i];
    return found;
}

/* Splits text (modified in place) into NAME=VALUE lines. */
static void read_env(char *text, struct env *e)
{
    e->n = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && e->n < MAX_VARS;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        e->names[e->n] = line;
        e->values[e->n++] = eq + 1;
    }
}

/* Made absolute against a directory with a '%' in it, the prefix expands to that
 * directory, then what it expanded to alone (expanded: with pid 1). */
static void check_anchored(const char *out, const char *expanded)
{
    static const char cwd[] = "/c%p";
    char abs[GCPROF_MAX_PREFIX + 16], again[GCPROF_MAX_PREFIX + 16], want[GCPROF_MAX_PREFIX + 16];
    if (gcprof_settings_absolute(out, cwd, abs, sizeof abs) < 0) return;
    FUZZ_CHECK(abs[0] == '/');
    FUZZ_CHECK(gcprof_settings_expand(abs, 1, again, sizeof again) == 0);
    snprintf(want, sizeof want, "%s%s", out[0] == '/' ? "" : "/c%p/", expanded);
    FUZZ_CHECK(strcmp(again, want) == 0);
}

static void check_accepted(const struct gcprof_settings *s)
{
    char expanded[GCPROF_MAX_PREFIX + 1], host[GCPROF_MAX_HTTP + 1];
    int port;
    FUZZ_CHECK(s->rate >= 0 && s->rate <= GCPROF_MAX_RATE);
    FUZZ_CHECK(s->children == 0 || s->children == 1);
    FUZZ_CHECK(s->verbose == 0 || s->verbose == 1);
    if (s->out[0]) {
        FUZZ_CHECK(gcprof_settings_expand(s->out, GCPROF_MAX_PID, expanded, sizeof expanded) == 0);
        FUZZ_CHECK(gcprof_settings_expand(s->out, 1, expanded, sizeof expanded) == 0);
        FUZZ_CHECK(strlen(expanded) <= GCPROF_MAX_PREFIX);
        check_anchored(s->out, expanded);
    }
    if (s->http[0]) {
        FUZZ_CHECK(gcprof_settings_http_addr(s->http, host, sizeof host, &port) == 0);
        FUZZ_CHECK(port >= 0 && port <= 65535);
    }
}

/* The settings as variables again must give the same settings. */
static void check_round_trip(const struct gcprof_settings *s)
{
    char rate[32], children[2] = {(char)('0' + s->children), 0}, verbose[2] = {(char)('0' + s->verbose), 0};
    snprintf(rate, sizeof rate, "%lld", (long long)s->rate);
    struct env e = {{"GCPROF_RATE", "GCPROF_CHILDREN", "GCPROF_VERBOSE"}, {rate, children, verbose}, 3};
    if (s->out[0]) { e.names[e.n] = "GCPROF_OUT"; e.values[e.n++] = s->out; }
    if (s->http[0]) { e.names[e.n] = "GCPROF_HTTP"; e.values[e.n++] = s->http; }
    struct gcprof_settings again;
    char err[256];
    FUZZ_CHECK(gcprof_settings_parse(&again, lookup, &e, err, sizeof err) == 0);
    FUZZ_CHECK(memcmp(&again, s, sizeof again) == 0);
}

static void check_refusal(const char *err)
{
    FUZZ_CHECK(strncmp(err, "GCPROF_", 7) == 0);
    FUZZ_CHECK(strchr(err, ':') != NULL);
    FUZZ_CHECK(strchr(err, '\n') == NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct env e;
    read_env(text, &e);
    struct gcprof_settings a, b;
    char err_a[160], err_b[160];
    int rc = gcprof_settings_parse(&a, lookup, &e, err_a, sizeof err_a);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(gcprof_settings_parse(&b, lookup, &e, err_b, sizeof err_b) == rc);
    if (rc == 0) {
        FUZZ_CHECK(memcmp(&a, &b, sizeof a) == 0);
        check_accepted(&a);
        check_round_trip(&a);
    } else {
        FUZZ_CHECK(strcmp(err_a, err_b) == 0);
        check_refusal(err_a);
    }
    free(text);
    return 0;
}
