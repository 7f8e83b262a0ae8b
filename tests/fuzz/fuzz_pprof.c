/* fuzz_pprof: the heap profile writers (profile/pprof) fed random heapsample sets, their
 * output read back with the project's own reader: zlib to gunzip, protobuf-c's
 * generated perftools__profiles__profile__unpack to decode.
 *
 * The input decodes into a rate (what the sampler can hold: 0 .. 2^40), up to 48
 * records of up to 12 return addresses (zero, tiny, wild, or inside this executable's
 * code, where the symbolizer finds real functions), sizes and counts.
 * Checked for the protobuf (pprof-notes.md's "Validity" and pprof.h's promises):
 *   - it is one complete gzip stream and unpacks;
 *   - string_table[0] is "" and no string repeats; every string index is in range;
 *   - sample types alloc_objects/count, alloc_space/bytes, inuse_objects/count,
 *     inuse_space/bytes; period type space/bytes, period = rate; times as given;
 *   - Mapping, Location and Function ids are nonzero and unique, and every id referenced
 *     (sample -> location -> mapping, line -> function) exists;
 *   - one sample per record with a nonzero count, in order, 4 values each, equal to
 *     pprof_scale of the record's counts, one location per nonzero pc at pc - 1, and a
 *     "bytes" label with the size when the size is nonzero.
 * And for the legacy text: the header with the raw totals and heap/<2*rate>, then each
 * counted record, largest in-use bytes first, with its counts, its nonzero pcs and a
 * "#\t0x" comment for each, then exactly the trailer; every figure saturated at
 * INT64_MAX, the most pprof's parser reads.
 * With FUZZ_OUTPUT_DIR set both outputs are saved for go tool pprof (fuzz_corpus.sh).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile/pprof.h"
#include "profile/profile.pb-c.h"
#include "profile/symbols.h"
#include "tests/fuzz/fuzz.h"

enum { MAX_RECS = 48, MAX_PCS = 12 };

static struct fuzz_text text;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_text_init(&text);
    return 0;
}

/* ---- the input ---------------------------------------------------------------------- */

struct input {
    struct heapsample recs[MAX_RECS];
    uintptr_t pcs[MAX_RECS][MAX_PCS];
    size_t n;
    struct pprof_heap_opts opts;
    char trailer[256];
};

/* Return addresses. symbols_lookup caches every pc it is given (a profile's pcs come
 * from real stacks), so the wild ones come from a fixed set and the ones in code from a
 * grid: a long run's cache stays bounded. */
static uintptr_t pick_pc(struct fuzz_in *in)
{
    static const uintptr_t wild[] = {1, 2, 0x10, 0xfff, 0x1000, 0x400000, 0x7fffffffffffull,
                                     0x800000000000ull, 0xffffffffff600000ull, UINTPTR_MAX - 1, UINTPTR_MAX};
    switch (fuzz_pick(in, 6)) {
    case 0: return 0;
    case 1: return (uintptr_t)fuzz_bits(in, 1);
    case 2: return wild[fuzz_pick(in, sizeof wild / sizeof wild[0])];
    default:
        return text.len ? text.start + ((uintptr_t)fuzz_bits(in, 2) * 8) % text.len : wild[0];
    }
}

static uint64_t pick_count(struct fuzz_in *in)
{
    switch (fuzz_pick(in, 4)) {
    case 0: return 0;
    case 1: return fuzz_bits(in, 1);
    case 2: return fuzz_bits(in, 4);
    default: return fuzz_bits(in, 5);         /* up to 2^40: billions of exact-mode objects */
    }
}

static void decode(struct fuzz_in *in, struct input *x)
{
    static const int64_t rates[] = {0, 1, 2, 512, 4096, 524288, INT64_C(1) << 40};
    unsigned r = fuzz_pick(in, 9);
    x->opts.rate = r < 7 ? rates[r] : (int64_t)(fuzz_bits(in, 5) % ((INT64_C(1) << 40) + 1));
    x->opts.default_sample_type = fuzz_pick(in, 2) ? "alloc_space" : NULL;
    x->opts.time_nanos = (int64_t)(fuzz_bits(in, 7) + 1);
    x->opts.duration_nanos = (int64_t)fuzz_bits(in, 4);
    x->n = fuzz_pick(in, MAX_RECS + 1);
    for (size_t i = 0; i < x->n; i++) {
        struct heapsample *s = &x->recs[i];
        s->npcs = (int)fuzz_pick(in, MAX_PCS + 1);
        for (int k = 0; k < s->npcs; k++) x->pcs[i][k] = pick_pc(in);
        s->pcs = x->pcs[i];
        unsigned sz = fuzz_pick(in, 4);
        s->size = sz == 0 ? 0 : sz == 1 ? (size_t)fuzz_bits(in, 1) : sz == 2 ? (size_t)fuzz_bits(in, 2) : (size_t)fuzz_bits(in, 4);
        s->alloc_count = pick_count(in);
        s->inuse_count = pick_count(in);
    }
    size_t k = 0;
    for (unsigned lines = fuzz_pick(in, 4); lines > 0; lines--)
        k += (size_t)snprintf(x->trailer + k, sizeof x->trailer - k, "# key%u = %" PRIu64 "%s", lines,
                              fuzz_bits(in, 4), lines > 1 || fuzz_pick(in, 2) ? "\n" : "");
}

/* ---- the protobuf --------------------------------------------------------------------- */

/* Gunzips data into a malloc'd buffer; NULL unless it is exactly one gzip stream. */
static uint8_t *gunzip(const uint8_t *data, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return NULL;
    size_t cap = 4096 + 4 * len, n = 0;
    uint8_t *out = malloc(cap);
    int rc = Z_OK;
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    while (out && rc == Z_OK) {
        if (n == cap) {
            uint8_t *more = realloc(out, cap *= 2);
            if (!more) { free(out); out = NULL; break; }
            out = more;
        }
        z.next_out = out + n;
        z.avail_out = (uInt)(cap - n);
        rc = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
    }
    int whole = rc == Z_STREAM_END && z.avail_in == 0;
    inflateEnd(&z);
    if (!whole) { free(out); return NULL; }
    *out_len = n;
    return out;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ids[0..n) sorted in place; all nonzero and distinct. */
static int ids_ok(uint64_t *ids, size_t n)
{
    qsort(ids, n, sizeof *ids, cmp_u64);
    for (size_t i = 0; i < n; i++)
        if (ids[i] == 0 || (i && ids[i] == ids[i - 1])) return 0;
    return 1;
}

static int has_id(const uint64_t *sorted, size_t n, uint64_t id)
{
    return id && bsearch(&id, sorted, n, sizeof *sorted, cmp_u64) != NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void check_strings(const Perftools__Profiles__Profile *p)
{
    FUZZ_CHECK(p->n_string_table >= 1 && strcmp(p->string_table[0], "") == 0);
    char **sorted = malloc(p->n_string_table * sizeof *sorted);
    if (!sorted) return;
    memcpy(sorted, p->string_table, p->n_string_table * sizeof *sorted);
    qsort(sorted, p->n_string_table, sizeof *sorted, cmp_str);
    for (size_t i = 1; i < p->n_string_table; i++) FUZZ_CHECK(strcmp(sorted[i - 1], sorted[i]) != 0);
    free(sorted);
}

#define STR_OK(p, i) ((i) >= 0 && (size_t)(i) < (p)->n_string_table)

static const char *str(const Perftools__Profiles__Profile *p, int64_t i)
{
    FUZZ_CHECK(STR_OK(p, i));
    return p->string_table[i];
}

static void check_header(const Perftools__Profiles__Profile *p, const struct input *x)
{
    static const char *const types[4][2] = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                                            {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    FUZZ_CHECK(p->n_sample_type == 4);
    for (int i = 0; i < 4; i++) {
        FUZZ_CHECK(strcmp(str(p, p->sample_type[i]->type), types[i][0]) == 0);
        FUZZ_CHECK(strcmp(str(p, p->sample_type[i]->unit), types[i][1]) == 0);
    }
    FUZZ_CHECK(p->period_type && strcmp(str(p, p->period_type->type), "space") == 0 &&
               strcmp(str(p, p->period_type->unit), "bytes") == 0);
    FUZZ_CHECK(p->period == x->opts.rate);
    FUZZ_CHECK(strcmp(str(p, p->default_sample_type), x->opts.default_sample_type ? x->opts.default_sample_type : "") == 0);
    FUZZ_CHECK(p->time_nanos == x->opts.time_nanos && p->duration_nanos == x->opts.duration_nanos);
}

/* The table's ids, checked and sorted into *out (malloc'd; free it). */
static uint64_t *table_ids(size_t n, uint64_t (*id_of)(const Perftools__Profiles__Profile *, size_t),
                           const Perftools__Profiles__Profile *p)
{
    uint64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    FUZZ_CHECK(ids != NULL);
    for (size_t i = 0; i < n; i++) ids[i] = id_of(p, i);
    FUZZ_CHECK(ids_ok(ids, n));
    return ids;
}

static uint64_t mapping_id(const Perftools__Profiles__Profile *p, size_t i) { return p->mapping[i]->id; }
static uint64_t function_id(const Perftools__Profiles__Profile *p, size_t i) { return p->function[i]->id; }
static uint64_t location_id(const Perftools__Profiles__Profile *p, size_t i) { return p->location[i]->id; }

static const Perftools__Profiles__Location *location(const Perftools__Profiles__Profile *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_location; i++)
        if (p->location[i]->id == id) return p->location[i];
    return NULL;
}

static void check_tables(const Perftools__Profiles__Profile *p, uint64_t **mids, uint64_t **fids, uint64_t **lids)
{
    *mids = table_ids(p->n_mapping, mapping_id, p);
    *fids = table_ids(p->n_function, function_id, p);
    *lids = table_ids(p->n_location, location_id, p);
    for (size_t i = 0; i < p->n_mapping; i++)
        FUZZ_CHECK(STR_OK(p, p->mapping[i]->filename) && STR_OK(p, p->mapping[i]->build_id));
    for (size_t i = 0; i < p->n_function; i++) {
        const Perftools__Profiles__Function *f = p->function[i];
        FUZZ_CHECK(STR_OK(p, f->name) && STR_OK(p, f->system_name) && STR_OK(p, f->filename));
    }
    for (size_t i = 0; i < p->n_location; i++) {
        const Perftools__Profiles__Location *l = p->location[i];
        FUZZ_CHECK(l->mapping_id == 0 || has_id(*mids, p->n_mapping, l->mapping_id));
        for (size_t k = 0; k < l->n_line; k++) FUZZ_CHECK(has_id(*fids, p->n_function, l->line[k]->function_id));
    }
}

static void check_samples(const Perftools__Profiles__Profile *p, const struct input *x, const uint64_t *lids)
{
    size_t ns = 0;
    for (size_t i = 0; i < x->n; i++) {
        const struct heapsample *r = &x->recs[i];
        if (!r->alloc_count && !r->inuse_count) continue;
        FUZZ_CHECK(ns < p->n_sample);
        const Perftools__Profiles__Sample *sm = p->sample[ns++];
        int64_t v[4];
        pprof_scale(r->alloc_count, r->size, x->opts.rate, &v[0], &v[1]);
        pprof_scale(r->inuse_count, r->size, x->opts.rate, &v[2], &v[3]);
        FUZZ_CHECK(sm->n_value == 4 && memcmp(sm->value, v, sizeof v) == 0);
        size_t k = 0;
        for (int j = 0; j < r->npcs; j++) {
            if (!r->pcs[j]) continue;
            FUZZ_CHECK(k < sm->n_location_id && has_id(lids, p->n_location, sm->location_id[k]));
            FUZZ_CHECK(location(p, sm->location_id[k++])->address == (uint64_t)r->pcs[j] - 1);
        }
        FUZZ_CHECK(k == sm->n_location_id);
        if (r->size) {
            FUZZ_CHECK(sm->n_label == 1 && strcmp(str(p, sm->label[0]->key), "bytes") == 0 &&
                       sm->label[0]->num == (int64_t)r->size);
        } else {
            FUZZ_CHECK(sm->n_label == 0);
        }
    }
    FUZZ_CHECK(ns == p->n_sample);
}

static void check_proto(const struct input *x)
{
    struct buf b = BUF_INIT;
    if (pprof_write_heap(&b, x->recs, x->n, &x->opts) < 0) { buf_free(&b); return; }   /* out of memory */
    fuzz_save("pprof", b.data, b.len);
    size_t len = 0;
    uint8_t *raw = gunzip((const uint8_t *)b.data, b.len, &len);
    FUZZ_CHECK(raw != NULL);
    Perftools__Profiles__Profile *p = perftools__profiles__profile__unpack(NULL, len, raw);
    FUZZ_CHECK(p != NULL);
    uint64_t *mids, *fids, *lids;
    check_strings(p);
    check_header(p, x);
    check_tables(p, &mids, &fids, &lids);
    check_samples(p, x, lids);
    free(mids);
    free(fids);
    free(lids);
    perftools__profiles__profile__free_unpacked(p, NULL);
    free(raw);
    buf_free(&b);
}

/* ---- the legacy text ------------------------------------------------------------------ */

/* Reads one line starting at *at; returns it NUL-terminated in line (truncated to n). */
static int next_line(const char *text, size_t len, size_t *at, char *line, size_t n)
{
    if (*at >= len) return 0;
    const char *nl = memchr(text + *at, '\n', len - *at);
    FUZZ_CHECK(nl != NULL);                                /* every line ends */
    size_t l = (size_t)(nl - (text + *at));
    snprintf(line, n, "%.*s", (int)l, text + *at);
    *at += l + 1;
    return 1;
}

/* The text's figures saturate at INT64_MAX (pprof.h). */
static uint64_t sat(uint64_t a) { return a > INT64_MAX ? INT64_MAX : a; }
static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    unsigned __int128 p = (unsigned __int128)a * b;
    return p > INT64_MAX ? INT64_MAX : (uint64_t)p;
}
static uint64_t sat_add(uint64_t a, uint64_t b) { return sat(sat(a) + sat(b)); }

static size_t text_order(const struct input *x, size_t *order)
{
    size_t m = 0;
    for (size_t i = 0; i < x->n; i++)
        if (x->recs[i].alloc_count || x->recs[i].inuse_count) order[m++] = i;
    for (size_t i = 1; i < m; i++)                          /* stable insertion sort, bytes desc */
        for (size_t j = i; j > 0; j--) {
            const struct heapsample *a = &x->recs[order[j - 1]], *b = &x->recs[order[j]];
            if (sat_mul(a->inuse_count, a->size) >= sat_mul(b->inuse_count, b->size)) break;
            size_t t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    return m;
}

static void check_text_header(const char *line, const struct input *x)
{
    uint64_t io = 0, ib = 0, ao = 0, ab = 0;
    for (size_t i = 0; i < x->n; i++) {
        io = sat_add(io, x->recs[i].inuse_count);
        ib = sat_add(ib, sat_mul(x->recs[i].inuse_count, x->recs[i].size));
        ao = sat_add(ao, x->recs[i].alloc_count);
        ab = sat_add(ab, sat_mul(x->recs[i].alloc_count, x->recs[i].size));
    }
    unsigned long long h[4];
    long long rate2;
    FUZZ_CHECK(sscanf(line, "heap profile: %llu: %llu [%llu: %llu] @ heap/%lld", &h[0], &h[1], &h[2], &h[3], &rate2) == 5);
    FUZZ_CHECK(h[0] == io && h[1] == ib && h[2] == ao && rate2 == 2 * x->opts.rate);
    FUZZ_CHECK(h[3] == ab || h[3] != h[1]);                      /* bumped to stay 4 columns */
    for (int i = 0; i < 4; i++) FUZZ_CHECK(h[i] <= INT64_MAX);
}

static void check_text_record(const char *text, size_t len, size_t *at, const struct heapsample *r)
{
    char line[1024];
    FUZZ_CHECK(next_line(text, len, at, line, sizeof line));
    char want[1024];
    int k = snprintf(want, sizeof want, "%" PRIu64 ": %" PRIu64 " [%" PRIu64 ": %" PRIu64 "] @", sat(r->inuse_count),
                     sat_mul(r->inuse_count, r->size), sat(r->alloc_count), sat_mul(r->alloc_count, r->size));
    int pcs = 0;
    for (int j = 0; j < r->npcs; j++)
        if (r->pcs[j]) { k += snprintf(want + k, sizeof want - (size_t)k, " %#" PRIxPTR, r->pcs[j]); pcs++; }
    FUZZ_CHECK(strcmp(line, want) == 0);
    int comments = 0;
    while (next_line(text, len, at, line, sizeof line) && line[0]) {
        FUZZ_CHECK(strncmp(line, "#\t0x", 4) == 0);
        comments++;
    }
    FUZZ_CHECK(comments >= pcs);
}

static void check_text(const struct input *x)
{
    struct buf b = BUF_INIT;
    const char *trailer = x->trailer[0] ? x->trailer : NULL;
    if (pprof_write_heap_text(&b, x->recs, x->n, &x->opts, trailer) < 0) { buf_free(&b); return; }
    fuzz_save("text", b.data, b.len);
    size_t at = 0, order[MAX_RECS];
    char line[1024];
    FUZZ_CHECK(memchr(b.data, '\0', b.len) == NULL);
    FUZZ_CHECK(next_line(b.data, b.len, &at, line, sizeof line));
    check_text_header(line, x);
    size_t m = text_order(x, order);
    for (size_t i = 0; i < m; i++) check_text_record(b.data, b.len, &at, &x->recs[order[i]]);
    size_t tl = strlen(x->trailer);
    FUZZ_CHECK(b.len - at == tl + (tl && x->trailer[tl - 1] != '\n'));
    FUZZ_CHECK(memcmp(b.data + at, x->trailer, tl) == 0);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    struct input *x = calloc(1, sizeof *x);
    if (!x) return 0;
    decode(&in, x);
    check_proto(x);
    check_text(x);
    free(x);
    return 0;
}
