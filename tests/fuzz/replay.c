/* replay: a main() for a libFuzzer harness without libFuzzer, so the seed corpus and
 * every saved reproducer run as a regression test with the ordinary compiler and any
 * SANITIZER= build (tests/integration/fuzz_corpus.sh), and where clang is missing.
 *
 *   replay_NAME FILE-OR-DIR...   runs each file (a directory: each file in it, in name
 *                                order) through LLVMFuzzerTestOneInput once
 * Prints "replayed N inputs" and exits 0; a harness that finds a failed property aborts,
 * as under libFuzzer. An unreadable file is an error (exit 2): a reproducer that cannot
 * be read has not been replayed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return -1; }
    size_t cap = 4096, len = 0, n;
    uint8_t *data = malloc(cap);
    while (data && (n = fread(data + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *more = realloc(data, cap *= 2);
            if (!more) { free(data); data = NULL; }
            else data = more;
        }
    }
    fclose(f);
    if (!data) { fprintf(stderr, "%s: out of memory\n", path); return -1; }
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* Replays path (a file, or each regular file of a directory); returns how many, or -1. */
static long replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) { perror(path); return -1; }
    if (!S_ISDIR(st.st_mode)) return replay_file(path) < 0 ? -1 : 1;
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, by_name);
    if (n < 0) { perror(path); return -1; }
    long done = 0;
    for (int i = 0; i < n; i++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, ents[i]->d_name);
        if (ents[i]->d_name[0] != '.' && stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            if (done >= 0 && replay_file(file) < 0) done = -1;
            else if (done >= 0) done++;
        }
        free(ents[i]);
    }
    free(ents);
    return done;
}

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    long total = 0;
    for (int i = 1; i < argc; i++) {
        long n = replay_path(argv[i]);
        if (n < 0) return 2;
        total += n;
    }
    printf("replayed %ld inputs\n", total);
    return 0;
}
