/* fuzz_symbol: the /debug/pprof/symbol request body, read as the handler reads it
 * (src/debug_pprof.c's debug_pprof_next_pc), and the symbolizer (profile/symbols) asked
 * about every address in it.
 *
 * Properties of the reader: each call moves forward and stays inside the body; the word
 * it read is the bytes between separators ('+' and white space), none of them a
 * separator; its value is numparse_go_uint's reading of the word, or 0 when that fails;
 * it reports the end only when nothing but separators was left. Properties of the
 * symbolizer: any address, known or not, gets a name or none without crashing (and, as
 * symbols.h promises, without being cached); names are non-empty; offsets stay inside
 * the symbol; a pc's mapping contains it. Each address is also folded into this
 * executable's text on a 16-byte grid (so symbols_lookup's per-pc cache stays bounded),
 * where lookups mostly succeed: inline chains of 1..SYMBOLS_MAX_FRAMES frames, each
 * with a function, and a one-frame buffer still gets the physical function.
 */
#include <stdint.h>
#include <string.h>

#include "profile/symbols.h"
#include "src/debug_pprof.h"
#include "src/numparse.h"
#include "tests/fuzz/fuzz.h"

static struct fuzz_text text;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_text_init(&text);
    return 0;
}

static int separator(char c) { return c == '+' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* What /debug/pprof/symbol asks: any address at all (it must leave nothing cached). */
static void check_name(uintptr_t pc)
{
    uintptr_t off = ~(uintptr_t)0;
    const char *name = symbols_name(pc, &off);
    if (name) FUZZ_CHECK(name[0] && off <= pc);
    int mi = symbols_mapping_index(pc);
    const struct symbols_mapping *maps;
    size_t nmaps = symbols_mappings(&maps);
    FUZZ_CHECK(mi >= -1 && mi < (int)nmaps);
    if (mi >= 0) FUZZ_CHECK(pc >= maps[mi].start && pc < maps[mi].limit);
}

/* What a profile asks, for an address of code (symbols_lookup caches every pc it is
 * given, as a profile's pcs come from real stacks: hence the grid). */
static void check_symbolizer(uintptr_t pc)
{
    check_name(pc);
    struct symbols_frame fr[SYMBOLS_MAX_FRAMES];
    int n = symbols_lookup(pc, fr, SYMBOLS_MAX_FRAMES);
    FUZZ_CHECK(n >= 0 && n <= SYMBOLS_MAX_FRAMES);
    for (int i = 0; i < n; i++) FUZZ_CHECK(fr[i].function && fr[i].function[0] && fr[i].line >= 0);
    int one = symbols_lookup(pc, fr, 1);                   /* a short buffer keeps the physical function */
    FUZZ_CHECK(one == (n > 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    uint64_t pc;
    for (;;) {
        const char *was = p, *w = p;
        while (w < end && separator(*w)) w++;
        int more = debug_pprof_next_pc(&p, end, &pc);
        FUZZ_CHECK(p >= was && p <= end);
        if (!more) { FUZZ_CHECK(w == end && p == end); break; }
        FUZZ_CHECK(p > w);
        for (const char *c = w; c < p; c++) FUZZ_CHECK(!separator(*c));
        FUZZ_CHECK(p == end || separator(*p));
        uint64_t want = 0;
        if (numparse_go_uint(w, (size_t)(p - w), &want) != NUMPARSE_OK) want = 0;
        FUZZ_CHECK(pc == want);
        if (pc) check_name((uintptr_t)pc);
        if (text.len) check_symbolizer(text.start + ((uintptr_t)pc % text.len & ~(uintptr_t)15));
    }
    return 0;
}
