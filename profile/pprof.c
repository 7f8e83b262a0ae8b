/* pprof: every memdemo profile as gzipped profile.proto, and Go's legacy debug=1 texts.
 *
 * Owns the one profile builder, shaped like Go's runtime/pprof: a string table that
 * starts with "" and never repeats a string, locations deduplicated by address and
 * functions by name+file (ids are 1-based positions), mappings from
 * profile/symbols. The builder first collects plain records, then lays out the
 * protobuf-c messages in exactly-sized arrays, packs, and gzips into the caller's buf.
 * Profiles differ only in their pprof_desc (sample and period types) and in the values
 * and labels of their samples; heap records are turned into such samples here. Why the values are truncated rather than rounded: pprof unsamples legacy text
 * itself with int64() truncation (and Go's protobuf writer does the same), so
 * truncating here is what makes both formats agree. See pprof.h for contracts.
 */
#include "profile/pprof.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gc/clock.h"
#include "gc/errors.h"
#include "profile/buf.h"
#include "profile/hashidx.h"
#include "profile/profile.pb-c.h"
#include "profile/symbols.h"

/* Makes room for one more element in *v (len in use of *cap). Returns 0 or -1. */
static int grow(void *v, size_t *cap, size_t len, size_t elem)
{
    return buf_grow_array(v, cap, len + 1, elem);
}

/* ---- the builder ------------------------------------------------------------------ */

struct loc {
    uint64_t address;
    uint64_t mapping_id;
    size_t first_line, nlines;      /* into builder.lines */
};

struct line { uint64_t function_id; int64_t line; };

struct func { int64_t name, file, start_line; };

struct mapstat { size_t locs, with_func, with_file, with_line; };

struct builder {
    const char **strs;              /* the string table; strs[0] == "" */
    size_t nstrs, capstrs;
    struct hashidx str_index;       /* text -> index in strs */
    struct hashidx loc_index;       /* return address -> index in locs (its id - 1) */
    struct hashidx func_index;      /* (name, file) -> index in funcs (its id - 1) */
    struct loc *locs;
    size_t nlocs, caplocs;
    struct line *lines;
    size_t nlines, caplines;
    struct func *funcs;
    size_t nfuncs, capfuncs;
    const struct symbols_mapping *maps;
    size_t nmaps;
    struct mapstat *mapstats;       /* nmaps entries */
    int oom;                        /* latched: the first allocation failure */
};

static int str_matches(const void *ctx, uint32_t id, const void *key)
{
    return strcmp(((const struct builder *)ctx)->strs[id], key) == 0;
}

static uint64_t str_hash(const void *ctx, uint32_t id)
{
    return hash_str(((const struct builder *)ctx)->strs[id]);
}

/* Index of s in the string table, adding it if new; NULL counts as "". The string
 * must outlive the builder (literals, opts, symbols' interned strings). */
static int64_t str_index(struct builder *b, const char *s)
{
    if (!s) s = "";
    uint64_t h = hash_str(s);
    int64_t found = hashidx_find(&b->str_index, h, str_matches, b, s);
    if (found >= 0) return found;
    if (grow(&b->strs, &b->capstrs, b->nstrs, sizeof *b->strs) < 0) { b->oom = 1; return 0; }
    b->strs[b->nstrs] = s;
    if (hashidx_add(&b->str_index, h, (uint32_t)b->nstrs, str_hash, b) < 0) { b->oom = 1; return 0; }
    return (int64_t)b->nstrs++;
}

static int builder_init(struct builder *b)
{
    memset(b, 0, sizeof *b);
    str_index(b, "");
    b->nmaps = symbols_mappings(&b->maps);
    if (b->nmaps && !(b->mapstats = calloc(b->nmaps, sizeof *b->mapstats))) b->oom = 1;
    return b->oom ? -1 : 0;
}

static void builder_free(struct builder *b)
{
    free(b->strs);
    hashidx_free(&b->str_index);
    hashidx_free(&b->loc_index);
    hashidx_free(&b->func_index);
    free(b->locs);
    free(b->lines);
    free(b->funcs);
    free(b->mapstats);
}

static uint64_t func_key(int64_t name, int64_t file) { return (uint64_t)name << 32 | (uint64_t)file; }

static int func_matches(const void *ctx, uint32_t id, const void *key)
{
    const struct func *f = &((const struct builder *)ctx)->funcs[id];
    return func_key(f->name, f->file) == *(const uint64_t *)key;
}

static uint64_t func_hash(const void *ctx, uint32_t id)
{
    const struct func *f = &((const struct builder *)ctx)->funcs[id];
    return hash_mix(func_key(f->name, f->file));
}

/* Id of the Function for frame f, adding it if new; 0 on out of memory. */
static uint64_t function_id(struct builder *b, const struct symbols_frame *f)
{
    int64_t name = str_index(b, f->function), file = str_index(b, f->file);
    uint64_t key = func_key(name, file);
    int64_t found = hashidx_find(&b->func_index, hash_mix(key), func_matches, b, &key);
    if (found >= 0 || b->oom) return found >= 0 ? (uint64_t)found + 1 : 0;
    if (grow(&b->funcs, &b->capfuncs, b->nfuncs, sizeof *b->funcs) < 0) { b->oom = 1; return 0; }
    b->funcs[b->nfuncs] = (struct func){name, file, f->start_line};
    if (hashidx_add(&b->func_index, hash_mix(key), (uint32_t)b->nfuncs, func_hash, b) < 0) { b->oom = 1; return 0; }
    return ++b->nfuncs;
}

/* Appends the inline chain of loc (leaf first) and counts what symbols found. */
static void location_lines(struct builder *b, struct loc *loc, struct mapstat *ms)
{
    struct symbols_frame fr[SYMBOLS_MAX_FRAMES];
    int n = symbols_lookup((uintptr_t)loc->address, fr, SYMBOLS_MAX_FRAMES);
    loc->first_line = b->nlines;
    for (int i = 0; i < n && !b->oom; i++) {
        uint64_t fid = function_id(b, &fr[i]);
        if (grow(&b->lines, &b->caplines, b->nlines, sizeof *b->lines) < 0) b->oom = 1;
        if (b->oom) return;
        b->lines[b->nlines++] = (struct line){fid, fr[i].line};
        loc->nlines++;
    }
    if (!ms) return;
    ms->locs++;
    ms->with_func += n > 0;
    ms->with_file += n > 0 && fr[n - 1].file != NULL;
    ms->with_line += n > 0 && fr[n - 1].line > 0;
}

static int loc_matches(const void *ctx, uint32_t id, const void *key)
{
    return ((const struct builder *)ctx)->locs[id].address + 1 == *(const uint64_t *)key;
}

static uint64_t loc_hash(const void *ctx, uint32_t id)
{
    return hash_mix(((const struct builder *)ctx)->locs[id].address + 1);
}

/* Id of the Location of return address pc (stored at pc - 1); 0 on out of memory. */
static uint64_t location_id(struct builder *b, uintptr_t pc)
{
    uint64_t addr = (uint64_t)pc - 1, key = (uint64_t)pc;
    int64_t found = hashidx_find(&b->loc_index, hash_mix(key), loc_matches, b, &key);
    if (found >= 0 || b->oom) return found >= 0 ? (uint64_t)found + 1 : 0;
    if (grow(&b->locs, &b->caplocs, b->nlocs, sizeof *b->locs) < 0) { b->oom = 1; return 0; }
    int mi = symbols_mapping_index((uintptr_t)addr);
    struct loc *loc = &b->locs[b->nlocs];
    *loc = (struct loc){addr, mi < 0 ? 0 : (uint64_t)mi + 1, 0, 0};
    location_lines(b, loc, mi < 0 ? NULL : &b->mapstats[mi]);
    /* A location memdemo symbolized names no mapping, so pprof takes its functions, files
     * and lines from the profile. Given a mapping whose file exists on disk, pprof's
     * source view (weblist, /ui/source) re-reads the binary instead: Go 1.19's object
     * reader then disassembles a PIE at run-time addresses and finds nothing (a blank
     * page), and both versions take gcc's DWARF 5 file names, which are relative to the
     * build directory ("???" outside it). The mapping still carries the build id. */
    if (loc->nlines) loc->mapping_id = 0;
    if (b->oom || hashidx_add(&b->loc_index, hash_mix(key), (uint32_t)b->nlocs, loc_hash, b) < 0) {
        b->oom = 1;
        return 0;
    }
    return ++b->nlocs;
}

/* ---- unsampling ------------------------------------------------------------------- */

/* v (>= 0) as an int64, saturated at INT64_MAX: converting a double out of int64's range
 * is undefined behaviour (2^40 sampled objects of 4 GiB each reach it). */
static int64_t saturated(double v) { return v >= 0x1p63 ? INT64_MAX : (int64_t)v; }

void pprof_scale(uint64_t count, size_t size, int64_t rate, int64_t *objects, int64_t *bytes)
{
    double total = (double)count * (double)size;
    if (count == 0 || size == 0) { *objects = *bytes = 0; return; }
    if (rate <= 1) { *objects = count > INT64_MAX ? INT64_MAX : (int64_t)count; *bytes = saturated(total); return; }
    /* heapsample_weight() of the average size, computed as pprof does (total/count) so
     * the doubles agree bit for bit with pprof's own unsampling of legacy text. */
    double avg = total / (double)count;
    double scale = heapsample_weight(avg, rate);
    *objects = saturated((double)count * scale);
    *bytes = saturated(total * scale);
}

/* ---- protobuf layout -------------------------------------------------------------- */

/* Everything the packed Profile points to, freed together after packing. */
struct layout {
    Perftools__Profiles__ValueType *vt, **vtp;      /* sample types, then the period type */
    Perftools__Profiles__Sample *samples, **samplep;
    Perftools__Profiles__Label *labels, **labelp;
    uint64_t *loc_ids;
    Perftools__Profiles__Location *locs, **locp;
    Perftools__Profiles__Line *lines, **linep;
    Perftools__Profiles__Function *funcs, **funcp;
    Perftools__Profiles__Mapping *maps, **mapp;
};

static void layout_free(struct layout *l)
{
    void *all[] = {l->vt, l->vtp, l->samples, l->samplep, l->labels, l->labelp, l->loc_ids,
                   l->locs, l->locp, l->lines, l->linep, l->funcs, l->funcp, l->maps, l->mapp};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

/* calloc of n elements that never returns NULL for n == 0 (NULL means failure). */
static void *xcalloc(size_t n, size_t size) { return calloc(n ? n : 1, size); }

static int layout_alloc_samples(struct layout *l, const struct pprof_sample *s, size_t n)
{
    size_t npcs = 0, nlabels = 0;
    for (size_t i = 0; i < n; i++) {
        npcs += s[i].npcs > 0 ? (size_t)s[i].npcs : 0;
        nlabels += s[i].nlabels > 0 ? (size_t)s[i].nlabels : 0;
    }
    l->samples = xcalloc(n, sizeof *l->samples);
    l->samplep = xcalloc(n, sizeof *l->samplep);
    l->labels = xcalloc(nlabels, sizeof *l->labels);
    l->labelp = xcalloc(nlabels, sizeof *l->labelp);
    l->loc_ids = xcalloc(npcs, sizeof *l->loc_ids);
    return l->samples && l->samplep && l->labels && l->labelp && l->loc_ids ? 0 : -1;
}

/* Lays out sample r in slot i, its locations into loc_ids and its labels from slot
 * first_label; the locations go into the builder. */
static void layout_sample(struct builder *b, struct layout *l, size_t i, uint64_t *loc_ids,
                          size_t first_label, const struct pprof_sample *r, size_t nvalues)
{
    Perftools__Profiles__Sample *sm = &l->samples[i];
    perftools__profiles__sample__init(sm);
    sm->n_value = nvalues;
    sm->value = (int64_t *)r->values;          /* protobuf-c only reads it */
    sm->location_id = loc_ids;
    for (int k = 0; k < r->npcs; k++)
        if (r->pcs[k]) loc_ids[sm->n_location_id++] = location_id(b, r->pcs[k]);
    for (int k = 0; k < r->nlabels; k++) {
        Perftools__Profiles__Label *lb = &l->labels[first_label + (size_t)k];
        const struct pprof_label *src = &r->labels[k];
        perftools__profiles__label__init(lb);
        lb->key = str_index(b, src->key);
        if (src->str) {
            lb->str = str_index(b, src->str);
        } else {
            lb->num = src->num;
            if (src->num_unit) lb->num_unit = str_index(b, src->num_unit);
        }
        l->labelp[first_label + (size_t)k] = lb;
    }
    sm->n_label = r->nlabels > 0 ? (size_t)r->nlabels : 0;
    sm->label = &l->labelp[first_label];
    l->samplep[i] = sm;
}

static void layout_samples(struct builder *b, struct layout *l, const struct pprof_sample *s,
                           size_t n, size_t nvalues)
{
    uint64_t *loc_ids = l->loc_ids;
    size_t label = 0;
    for (size_t i = 0; i < n && !b->oom; i++) {
        layout_sample(b, l, i, loc_ids, label, &s[i], nvalues);
        loc_ids += l->samples[i].n_location_id;
        label += l->samples[i].n_label;
    }
}

static int layout_locations(struct builder *b, struct layout *l)
{
    l->locs = xcalloc(b->nlocs, sizeof *l->locs);
    l->locp = xcalloc(b->nlocs, sizeof *l->locp);
    l->lines = xcalloc(b->nlines, sizeof *l->lines);
    l->linep = xcalloc(b->nlines, sizeof *l->linep);
    if (!l->locs || !l->locp || !l->lines || !l->linep) return -1;
    for (size_t i = 0; i < b->nlines; i++) {
        perftools__profiles__line__init(&l->lines[i]);
        l->lines[i].function_id = b->lines[i].function_id;
        l->lines[i].line = b->lines[i].line;
        l->linep[i] = &l->lines[i];
    }
    for (size_t i = 0; i < b->nlocs; i++) {
        Perftools__Profiles__Location *pl = &l->locs[i];
        perftools__profiles__location__init(pl);
        pl->id = i + 1;
        pl->mapping_id = b->locs[i].mapping_id;
        pl->address = b->locs[i].address;
        pl->n_line = b->locs[i].nlines;
        pl->line = &l->linep[b->locs[i].first_line];
        l->locp[i] = pl;
    }
    return 0;
}

static int layout_functions(struct builder *b, struct layout *l)
{
    l->funcs = xcalloc(b->nfuncs, sizeof *l->funcs);
    l->funcp = xcalloc(b->nfuncs, sizeof *l->funcp);
    if (!l->funcs || !l->funcp) return -1;
    for (size_t i = 0; i < b->nfuncs; i++) {
        Perftools__Profiles__Function *f = &l->funcs[i];
        perftools__profiles__function__init(f);
        f->id = i + 1;
        f->name = f->system_name = b->funcs[i].name;
        f->filename = b->funcs[i].file;
        f->start_line = b->funcs[i].start_line;
        l->funcp[i] = f;
    }
    return 0;
}

/* Mappings with has_* set only when every location in their address range resolved
 * that far (as Go does), so pprof symbolizes nothing itself unless something is really
 * missing. */
static int layout_mappings(struct builder *b, struct layout *l)
{
    l->maps = xcalloc(b->nmaps, sizeof *l->maps);
    l->mapp = xcalloc(b->nmaps, sizeof *l->mapp);
    if (!l->maps || !l->mapp) return -1;
    for (size_t i = 0; i < b->nmaps; i++) {
        Perftools__Profiles__Mapping *m = &l->maps[i];
        const struct mapstat *st = &b->mapstats[i];
        perftools__profiles__mapping__init(m);
        m->id = i + 1;
        m->memory_start = b->maps[i].start;
        m->memory_limit = b->maps[i].limit;
        m->file_offset = b->maps[i].offset;
        m->filename = str_index(b, b->maps[i].path);
        m->build_id = str_index(b, b->maps[i].build_id);
        m->has_functions = st->locs && st->with_func == st->locs;
        m->has_filenames = st->locs && st->with_file == st->locs;
        m->has_line_numbers = st->locs && st->with_line == st->locs;
        m->has_inline_frames = m->has_line_numbers;   /* DWARF scopes were consulted */
        l->mapp[i] = m;
    }
    return 0;
}

static Perftools__Profiles__ValueType *value_type(struct builder *b, struct layout *l, int i,
                                                  const struct pprof_value_type *t)
{
    perftools__profiles__value_type__init(&l->vt[i]);
    l->vt[i].type = str_index(b, t->type);
    l->vt[i].unit = str_index(b, t->unit);
    return &l->vt[i];
}

static int layout_header(struct builder *b, struct layout *l, Perftools__Profiles__Profile *p,
                         const struct pprof_desc *d)
{
    int nt = d->nsample_types;
    l->vt = xcalloc((size_t)nt + 1, sizeof *l->vt);
    l->vtp = xcalloc((size_t)nt + 1, sizeof *l->vtp);
    if (!l->vt || !l->vtp) return -1;
    for (int i = 0; i < nt; i++) l->vtp[i] = value_type(b, l, i, &d->sample_types[i]);
    p->n_sample_type = (size_t)nt;
    p->sample_type = l->vtp;
    p->period_type = value_type(b, l, nt, &d->period_type);
    p->period = d->period;
    if (d->default_sample_type) p->default_sample_type = str_index(b, d->default_sample_type);
    p->time_nanos = d->time_nanos;
    if (!p->time_nanos) p->time_nanos = clock_wall_ns();
    p->duration_nanos = d->duration_nanos;
    return 0;
}

/* ---- gzip and the protobuf writer ------------------------------------------------- */

/* Appends data gzipped (deflate with a gzip wrapper, fastest level like Go). */
static int gzip_append(struct buf *out, const uint8_t *data, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t bound = deflateBound(&z, (uLong)len);
    int rc = Z_STREAM_ERROR;
    if (bound <= UINT32_MAX && buf_reserve(out, bound) == 0) {
        z.next_in = (Bytef *)data;
        z.avail_in = (uInt)len;
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = (uInt)bound;
        rc = deflate(&z, Z_FINISH);
        out->len += bound - z.avail_out;
        out->data[out->len] = '\0';
    }
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

static int pack_gzip(struct buf *out, const Perftools__Profiles__Profile *p)
{
    size_t len = perftools__profiles__profile__get_packed_size(p);
    uint8_t *packed = malloc(len ? len : 1);
    if (!packed) return -1;
    int rc = perftools__profiles__profile__pack(p, packed) == len ? 0 : -1;
    if (rc == 0) rc = gzip_append(out, packed, len);
    free(packed);
    return rc;
}

/* Fills p from the samples; every pointer in p lands in l, b, d or s. */
static int layout_profile(struct builder *b, struct layout *l, Perftools__Profiles__Profile *p,
                          const struct pprof_desc *d, const struct pprof_sample *s, size_t n)
{
    if (layout_header(b, l, p, d) < 0 || layout_alloc_samples(l, s, n) < 0) return -1;
    layout_samples(b, l, s, n, (size_t)d->nsample_types);
    p->n_sample = n;
    p->sample = l->samplep;
    if (b->oom || layout_locations(b, l) < 0 || layout_functions(b, l) < 0 ||
        layout_mappings(b, l) < 0 || b->oom)
        return -1;
    p->n_location = b->nlocs;
    p->location = l->locp;
    p->n_function = b->nfuncs;
    p->function = l->funcp;
    p->n_mapping = b->nmaps;
    p->mapping = l->mapp;
    p->n_string_table = b->nstrs;
    p->string_table = (char **)b->strs;        /* protobuf-c only reads them */
    return 0;
}

int pprof_write(struct buf *out, const struct pprof_desc *d, const struct pprof_sample *s,
                size_t n)
{
    struct builder b;
    struct layout l;
    Perftools__Profiles__Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
    memset(&l, 0, sizeof l);
    int rc = d->nsample_types > 0 ? builder_init(&b) : -1;
    if (rc == 0) rc = layout_profile(&b, &l, &p, d, s, n);
    if (rc == 0) rc = pack_gzip(out, &p);
    layout_free(&l);
    if (d->nsample_types > 0) builder_free(&b);
    if (rc == 0 && !out->failed) return 0;
    return errors_fail(d->nsample_types > 0 ? ENOMEM : EINVAL);
}

/* ---- heap profiles ---------------------------------------------------------------- */

static const struct pprof_value_type heap_types[4] = {
    {"alloc_objects", "count"}, {"alloc_space", "bytes"},
    {"inuse_objects", "count"}, {"inuse_space", "bytes"},
};

int pprof_write_heap(struct buf *out, const struct heapsample *s, size_t n,
                     const struct pprof_heap_opts *opts)
{
    struct pprof_sample *ps = xcalloc(n, sizeof *ps);
    struct pprof_label *labels = xcalloc(2 * n, sizeof *labels);   /* bytes, and the route */
    int64_t *values = xcalloc(4 * n, sizeof *values);
    size_t m = 0;
    int rc = -1;
    if (ps && labels && values) {
        for (size_t i = 0; i < n; i++) {
            if (s[i].alloc_count == 0 && s[i].inuse_count == 0) continue;   /* as Go */
            int64_t *v = &values[4 * m];
            pprof_scale(s[i].alloc_count, s[i].size, opts->rate, &v[0], &v[1]);
            pprof_scale(s[i].inuse_count, s[i].size, opts->rate, &v[2], &v[3]);
            struct pprof_label *lb = &labels[2 * m];
            int nl = 0;
            if (s[i].size) lb[nl++] = (struct pprof_label){"bytes", NULL, (int64_t)s[i].size, NULL};
            if (s[i].label_key)   /* a string label: -tagfocus=key=value, -tags */
                lb[nl++] = (struct pprof_label){s[i].label_key, s[i].label_value, 0, NULL};
            ps[m] = (struct pprof_sample){s[i].pcs, s[i].npcs, v, lb, nl};
            m++;
        }
        struct pprof_desc d = {heap_types, 4, {"space", "bytes"}, opts->rate,
                               opts->default_sample_type, opts->time_nanos, opts->duration_nanos};
        rc = pprof_write(out, &d, ps, m);
    }
    free(ps);
    free(labels);
    free(values);
    return rc < 0 ? errors_fail(ENOMEM) : 0;
}

/* ---- legacy text (debug=1) -------------------------------------------------------- */

struct order { uint64_t inuse_bytes; size_t index; };

static int by_inuse_bytes_desc(const void *x, const void *y)
{
    const struct order *a = x, *b = y;
    if (a->inuse_bytes != b->inuse_bytes) return a->inuse_bytes < b->inuse_bytes ? 1 : -1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* pprof reads every figure of the text as an int64: counts, products and sums are
 * written saturated at INT64_MAX rather than wrapped or past its range (which pprof
 * rejects: "malformed sample"). */
static uint64_t sat(uint64_t a) { return a > INT64_MAX ? INT64_MAX : a; }
static uint64_t sat_mul(uint64_t a, uint64_t b) { return b && a > INT64_MAX / b ? INT64_MAX : a * b; }
static uint64_t sat_add(uint64_t a, uint64_t b) { return sat(sat(a) + sat(b)); }

/* The header. Raw totals, like Go; pprof reads 4 columns only when the alloc
 * totals differ from the inuse ones (and are nonzero), so when nothing was freed
 * the header's alloc bytes are bumped by one. The header totals feed nothing else. */
static void text_header(struct buf *out, const struct heapsample *s, size_t n, int64_t rate)
{
    uint64_t io = 0, ib = 0, ao = 0, ab = 0;
    for (size_t i = 0; i < n; i++) {
        io = sat_add(io, s[i].inuse_count);
        ib = sat_add(ib, sat_mul(s[i].inuse_count, s[i].size));
        ao = sat_add(ao, s[i].alloc_count);
        ab = sat_add(ab, sat_mul(s[i].alloc_count, s[i].size));
    }
    int four_columns = (ao != io && ao != 0) || (ab != ib && ab != 0);
    if (!four_columns) ab = (ab > ib ? ab : ib) < INT64_MAX ? (ab > ib ? ab : ib) + 1 : INT64_MAX - 1;
    buf_printf(out, "heap profile: %llu: %llu [%llu: %llu] @ heap/%lld\n",
               (unsigned long long)io, (unsigned long long)ib, (unsigned long long)ao,
               (unsigned long long)ab, (long long)(2 * rate));
}

/* "#\t0xpc\tfunc+0xoff\tfile:line" for each frame of the call at return address pc. */
static void text_frames(struct buf *out, uintptr_t pc)
{
    struct symbols_frame fr[SYMBOLS_MAX_FRAMES];
    uintptr_t off = 0;
    int n = symbols_lookup(pc - 1, fr, SYMBOLS_MAX_FRAMES);
    const char *sym = symbols_name(pc - 1, &off);
    /* "0x%lx", not "%#lx": C writes 0 as "0" where Go's %#x (and pprof) write "0x0". */
    if (n == 0) buf_printf(out, "#\t0x%lx\n", (unsigned long)(pc - 1));
    for (int i = 0; i < n; i++)
        buf_printf(out, "#\t0x%lx\t%s+0x%lx\t%s:%d\n", (unsigned long)(pc - 1), fr[i].function,
                   (unsigned long)(sym ? off : 0), fr[i].file ? fr[i].file : "??", fr[i].line);
}

void pprof_text_addresses(struct buf *out, const uintptr_t *pcs, int n)
{
    buf_putc(out, '@');
    for (int k = 0; k < n; k++)
        if (pcs[k]) buf_printf(out, " 0x%lx", (unsigned long)pcs[k]);
    buf_putc(out, '\n');
}

void pprof_text_stack(struct buf *out, const uintptr_t *pcs, int n)
{
    for (int k = 0; k < n; k++)
        if (pcs[k]) text_frames(out, pcs[k]);
    buf_putc(out, '\n');
}

static void text_record(struct buf *out, const struct heapsample *r)
{
    buf_printf(out, "%llu: %llu [%llu: %llu] ", (unsigned long long)sat(r->inuse_count),
               (unsigned long long)sat_mul(r->inuse_count, r->size), (unsigned long long)sat(r->alloc_count),
               (unsigned long long)sat_mul(r->alloc_count, r->size));
    pprof_text_addresses(out, r->pcs, r->npcs);
    pprof_text_stack(out, r->pcs, r->npcs);
}

/* Go's labelMap.String(): {"key":"value", ...} in the order given (callers sort). */
static void text_labels(struct buf *out, const struct pprof_label *l, int n)
{
    buf_puts(out, "# labels: {");
    for (int i = 0; i < n; i++) {
        buf_printf(out, "%s\"%s\":", i ? ", " : "", l[i].key);
        if (l[i].str) buf_printf(out, "\"%s\"", l[i].str);
        else buf_printf(out, "%lld", (long long)l[i].num);
    }
    buf_puts(out, "}\n");
}

int pprof_write_count_text(struct buf *out, const char *name, const struct pprof_sample *s,
                           size_t n)
{
    long long total = 0;
    for (size_t i = 0; i < n; i++) total += s[i].values[0];
    buf_printf(out, "%s profile: total %lld\n", name, total);
    for (size_t i = 0; i < n; i++) {
        buf_printf(out, "%lld ", (long long)s[i].values[0]);
        pprof_text_addresses(out, s[i].pcs, s[i].npcs);
        if (s[i].nlabels > 0) text_labels(out, s[i].labels, s[i].nlabels);
        pprof_text_stack(out, s[i].pcs, s[i].npcs);
    }
    return out->failed ? errors_fail(ENOMEM) : 0;
}

int pprof_write_contention_text(struct buf *out, const char *name, int64_t period,
                                const struct pprof_sample *s, size_t n, const char *comment)
{
    buf_printf(out, "--- %s:\ncycles/second=1000000000\n", name);
    if (period > 0) buf_printf(out, "sampling period=%lld\n", (long long)period);
    if (comment && *comment) buf_printf(out, "# %s\n", comment);
    for (size_t i = 0; i < n; i++) {
        buf_printf(out, "%lld %lld ", (long long)s[i].values[1], (long long)s[i].values[0]);
        pprof_text_addresses(out, s[i].pcs, s[i].npcs);
        pprof_text_stack(out, s[i].pcs, s[i].npcs);
    }
    return out->failed ? errors_fail(ENOMEM) : 0;
}

int pprof_write_heap_text(struct buf *out, const struct heapsample *s, size_t n,
                          const struct pprof_heap_opts *opts, const char *trailer)
{
    struct order *ord = xcalloc(n, sizeof *ord);
    size_t m = 0;
    if (!ord) return errors_fail(ENOMEM);
    for (size_t i = 0; i < n; i++)
        if (s[i].alloc_count || s[i].inuse_count)
            ord[m++] = (struct order){sat_mul(s[i].inuse_count, s[i].size), i};
    qsort(ord, m, sizeof *ord, by_inuse_bytes_desc);
    text_header(out, s, n, opts->rate);
    for (size_t i = 0; i < m; i++) text_record(out, &s[ord[i].index]);
    free(ord);
    if (trailer && *trailer) {
        buf_puts(out, trailer);
        if (trailer[strlen(trailer) - 1] != '\n') buf_putc(out, '\n');
    }
    return out->failed ? errors_fail(ENOMEM) : 0;
}
