/* fuzz.h: what every libFuzzer harness under tests/fuzz/ shares.
 *
 * A harness (fuzz_NAME.c) defines LLVMFuzzerInitialize and LLVMFuzzerTestOneInput.
 * It is linked two ways (see the Makefile): with clang's libFuzzer, ASan and UBSan into
 * build-fuzz/fuzz_NAME for fuzzing (`make fuzz`, tests/fuzz/run), and with gcc and
 * tests/fuzz/replay.c into build/fuzz/replay_NAME, which runs the seed corpus
 * tests/fuzz/corpus/NAME/ (every reproducer of a fixed bug included) as a regression
 * test under any build, sanitizers or not.
 *
 * A harness checks PROPERTIES of what the code under test returns, not just that it
 * does not crash: FUZZ_CHECK aborts with the failed condition, so libFuzzer saves the
 * input as a crash. Structured inputs are decoded with struct fuzz_in, which reads the
 * input as a stream of choices and yields zeros past its end, so every input is valid.
 * When FUZZ_OUTPUT_DIR is set, harnesses of writers save what they wrote there
 * (fuzz_save), for the separate check with the Go tools (tests/integration/fuzz_corpus.sh).
 * Harnesses that need code addresses with real symbols take them from this
 * executable's text (fuzz_text_init).
 */
#ifndef MEMDEMO_FUZZ_H
#define MEMDEMO_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/symbols.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn)) static inline void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "fuzz property failed: %s:%d: %s\n", file, line, what);
    abort();
}

#define FUZZ_CHECK(cond) do { if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond); } while (0)

struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

/* The next `bytes` bytes (1..8) as a little-endian integer; 0 past the end. */
static inline uint64_t fuzz_bits(struct fuzz_in *in, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        uint64_t b = 0;
        if (in->n) { b = *in->p++; in->n--; }
        v |= b << (8 * i);
    }
    return v;
}

static inline unsigned fuzz_u8(struct fuzz_in *in) { return (unsigned)fuzz_bits(in, 1); }

/* A choice in [0, n) (n >= 1). */
static inline unsigned fuzz_pick(struct fuzz_in *in, unsigned n) { return fuzz_u8(in) % n; }

/* This executable's code, where the symbolizer finds real functions: harnesses fold
 * fuzzed addresses into it. Both 0 when libdw cannot report the process. */
struct fuzz_text { uintptr_t start, len; };

/* Fills *t; call from LLVMFuzzerInitialize (it opens the libdw session, once). */
static inline void fuzz_text_init(struct fuzz_text *t)
{
    const struct symbols_mapping *m;
    *t = (struct fuzz_text){0, 0};
    if (symbols_init() == 0 && symbols_mappings(&m) > 0)
        *t = (struct fuzz_text){m[0].start, m[0].limit - m[0].start};
}

/* Writes data to $FUZZ_OUTPUT_DIR/<name>-<k> when that is set; k counts per process. */
static inline void fuzz_save(const char *name, const void *data, size_t len)
{
    static unsigned k;
    const char *dir = getenv("FUZZ_OUTPUT_DIR");
    if (!dir || !*dir) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%05u", dir, name, k++);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, len, f);
    fclose(f);
}

#endif
