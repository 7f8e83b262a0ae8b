/* fuzz_flags: the command-line parser (src/flags.c's flags_parse_args, the core that
 * neither prints nor exits) on argument vectors made of the input's NUL-separated
 * pieces, argv[0] = "memdemo".
 *
 * Properties: the answer is OK, HELP or ERROR; an error is one non-empty line that
 * starts with one of Go's flag messages, and fits any buffer given (truncated and
 * terminated); OK leaves no message; parsing is deterministic; and every accepted
 * state is accepted again when written back as flags (flags_describe's
 * "name=value ..." turned into -name=value arguments gives the same values), so no
 * value outside a flag's range gets in.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/flags.h"
#include "tests/fuzz/fuzz.h"

enum { MAX_ARGS = 64 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int known_message(const char *err)
{
    static const char *const prefixes[] = {"flag provided but not defined: -", "flag needs an argument: -",
                                           "invalid value \"", "unexpected argument "};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(err, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

static int same_numbers(const struct flags *a, const struct flags *b)
{
    return a->repetitions == b->repetitions && a->threads == b->threads &&
           a->memprofilerate == b->memprofilerate && a->tracebuf == b->tracebuf &&
           a->gogc == b->gogc && a->memlimit == b->memlimit && a->maxheap == b->maxheap &&
           a->gcinitheap == b->gcinitheap;
}

/* flags_describe's line as arguments again; returns argc. */
static int described_args(const struct flags *f, char *line, size_t n, char **argv)
{
    flags_describe(f, line, (int)n);
    FUZZ_CHECK(strlen(line) < n);
    int argc = 0;
    argv[argc++] = "memdemo";
    for (char *save = NULL, *w = strtok_r(line, " ", &save); w && argc < MAX_ARGS; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    return argc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = "memdemo";
    for (size_t i = 0; i < size && argc < MAX_ARGS; i += strlen(copy + i) + 1) argv[argc++] = copy + i;
    argv[argc] = NULL;

    struct flags f, g;
    char err[512], err2[512];
    int rc = flags_parse_args(&f, argc, argv, err, sizeof err);
    FUZZ_CHECK(rc == FLAGS_OK || rc == FLAGS_HELP || rc == FLAGS_ERROR);
    if (rc == FLAGS_ERROR) FUZZ_CHECK(err[0] && !strchr(err, '\n') && known_message(err));
    if (rc == FLAGS_OK) FUZZ_CHECK(err[0] == '\0');

    FUZZ_CHECK(flags_parse_args(&g, argc, argv, err2, sizeof err2) == rc && strcmp(err, err2) == 0);
    size_t tiny = 1 + (size ? data[0] % 16 : 0);
    FUZZ_CHECK(flags_parse_args(&g, argc, argv, err2, tiny) == rc && strlen(err2) < tiny);

    if (rc == FLAGS_OK) {
        FUZZ_CHECK(same_numbers(&f, &g));
        char line[1024], *again[MAX_ARGS + 1];
        int n = described_args(&f, line, sizeof line, again);
        for (int i = 1; i < n; i++) {                      /* "name=value" -> "-name=value" */
            size_t len = strlen(again[i]);
            char *flag = malloc(len + 2);
            if (!flag) { while (--i >= 1) free(again[i]); free(copy); return 0; }
            flag[0] = '-';
            memcpy(flag + 1, again[i], len + 1);
            again[i] = flag;
        }
        FUZZ_CHECK(flags_parse_args(&g, n, again, err2, sizeof err2) == FLAGS_OK && same_numbers(&f, &g));
        for (int i = 1; i < n; i++) free(again[i]);
    }
    free(copy);
    return 0;
}
