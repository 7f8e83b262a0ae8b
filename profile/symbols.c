/* symbols: function, file and line for code addresses of this process, via libdw.
 *
 * Owns the process's one Dwfl session, a per-pc cache of inline chains, an intern
 * table for the strings they hold, a sorted address table of each module's ELF symbols
 * (built on the first lookup in that module), and the executable mappings read from
 * /proc/self/maps. Why here and not in pprof: a profile that carries its own symbols
 * is readable anywhere, and both the pprof writer and /debug/pprof/symbol need them.
 * Separate debug files are looked for on this machine only (find_local_debuginfo).
 * All memory is malloc'd and kept until exit (never the GC heap); one mutex
 * serializes libdw, which is not thread-safe. See symbols.h for the contracts.
 */
#include "profile/symbols.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "gc/errors.h"
#include "profile/buf.h"
#include "profile/hashidx.h"

/* ---- state ---------------------------------------------------------------------- */

struct cached {                 /* one resolved pc */
    uintptr_t pc;
    int n;
    struct symbols_frame *frames;
};

static pthread_once_t symbols__once = PTHREAD_ONCE_INIT;
static pthread_mutex_t symbols__lock = PTHREAD_MUTEX_INITIALIZER;
static int symbols__init_rc = -1;
static Dwfl *symbols__dwfl;

static struct cached *symbols__cache;       /* by id; symbols__cache_index: pc -> id */
static size_t symbols__cache_len, symbols__cache_cap;
static struct hashidx symbols__cache_index;
static char **symbols__strings;             /* interned, by id; index: text -> id */
static size_t symbols__strings_len, symbols__strings_cap;
static struct hashidx symbols__strings_index;
static struct symbols_mapping *symbols__maps;
static size_t symbols__nmaps, symbols__maps_cap;

/* ---- intern table: strings that live until exit --------------------------------- */

static int string_matches(const void *ctx, uint32_t id, const void *key)
{
    (void)ctx;
    return strcmp(symbols__strings[id], key) == 0;
}

static uint64_t string_hash(const void *ctx, uint32_t id)
{
    (void)ctx;
    return hash_str(symbols__strings[id]);
}

/* Returns the canonical copy of s, or NULL (s NULL or out of memory). Lock held. */
static const char *intern(const char *s)
{
    if (!s) return NULL;
    uint64_t h = hash_str(s);
    int64_t id = hashidx_find(&symbols__strings_index, h, string_matches, NULL, s);
    if (id >= 0) return symbols__strings[id];
    if (buf_grow_array(&symbols__strings, &symbols__strings_cap, symbols__strings_len + 1,
                       sizeof *symbols__strings) < 0)
        return NULL;
    char *copy = strdup(s);
    if (!copy) return NULL;
    symbols__strings[symbols__strings_len] = copy;
    if (hashidx_add(&symbols__strings_index, h, (uint32_t)symbols__strings_len, string_hash, NULL) < 0) {
        free(copy);
        return NULL;
    }
    symbols__strings_len++;
    return copy;
}

/* ---- per-pc cache ----------------------------------------------------------------- */

static int cached_matches(const void *ctx, uint32_t id, const void *key)
{
    (void)ctx;
    return symbols__cache[id].pc == *(const uintptr_t *)key;
}

static uint64_t cached_hash(const void *ctx, uint32_t id)
{
    (void)ctx;
    return hash_mix(symbols__cache[id].pc);
}

/* The cache entry of pc, or NULL. The pointer is valid until the next cache_put. */
static struct cached *cache_find(uintptr_t pc)
{
    int64_t id = hashidx_find(&symbols__cache_index, hash_mix(pc), cached_matches, NULL, &pc);
    return id < 0 ? NULL : &symbols__cache[id];
}

/* Stores a copy of frames[0..n) for pc. Failure only costs a later re-resolution. */
static void cache_put(uintptr_t pc, const struct symbols_frame *frames, int n)
{
    if (buf_grow_array(&symbols__cache, &symbols__cache_cap, symbols__cache_len + 1, sizeof *symbols__cache) < 0)
        return;
    struct symbols_frame *copy = NULL;
    if (n > 0) {
        copy = malloc((size_t)n * sizeof *copy);
        if (!copy) return;
        memcpy(copy, frames, (size_t)n * sizeof *copy);
    }
    symbols__cache[symbols__cache_len] = (struct cached){pc, n, copy};
    if (hashidx_add(&symbols__cache_index, hash_mix(pc), (uint32_t)symbols__cache_len, cached_hash, NULL) < 0) {
        free(copy);
        return;
    }
    symbols__cache_len++;
}

/* ---- ELF symbol index ----------------------------------------------------------------
 * libdw's dwfl_module_addrinfo scans the whole symbol table for every address (about
 * 30 us per address in memdemo's own text): a client posting 70,000 addresses held a
 * worker for seconds. Each module's symbols are instead copied once, the first time an
 * address falls in it, into a table sorted by start address, and a lookup is a binary
 * search. What "the symbol containing pc" means here: a symbol whose [start, start +
 * size) holds pc (of symbols at the same start, a global one before a weak before a
 * local one, as libdw prefers); a symbol without a size (hand-written assembly) spans
 * to the next symbol's start. Nested symbols are rare in code: the search looks back a
 * few entries for a symbol that contains pc when the nearest one below it does not. */

struct symentry {
    uintptr_t start, end;       /* [start, end), load addresses */
    const char *name;           /* in the module's ELF string table (lives with the Dwfl) */
};

struct symindex {
    struct symentry *e;
    size_t n;
};

struct module_symbols {
    Dwfl_Module *mod;
    struct symindex ix;
};
static struct module_symbols *symbols__indexes;
static size_t symbols__nindexes, symbols__indexes_cap;

#define NESTED_LOOKBACK 8

/* Sort key: start, then sized before sizeless, then global, weak, local. */
static int symrank(const GElf_Sym *sym)
{
    int bind = GELF_ST_BIND(sym->st_info);
    int r = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
    return sym->st_size ? r : 3 + r;
}

struct symcand { struct symentry e; int rank; };

static int symcand_order(const void *x, const void *y)
{
    const struct symcand *a = x, *b = y;
    if (a->e.start != b->e.start) return a->e.start < b->e.start ? -1 : 1;
    return a->rank - b->rank;
}

/* A symbol that names code or data at an address (not a section, file or TLS offset). */
static int indexable(const GElf_Sym *sym, GElf_Word shndx, GElf_Addr addr)
{
    int type = GELF_ST_TYPE(sym->st_info);
    if (shndx == SHN_UNDEF || shndx == SHN_ABS || addr == 0) return 0;
    return type == STT_FUNC || type == STT_GNU_IFUNC || type == STT_OBJECT || type == STT_NOTYPE;
}

/* The end (load address) of the section a sizeless symbol lies in: it spans no
 * further (libdw's rule too), so _init does not name the PLT after it, nor a
 * linker's end marker the next section. 0 if unknown. */
static uintptr_t section_end(Elf *elf, GElf_Word shndx, Dwarf_Addr bias)
{
    GElf_Shdr shdr;
    Elf_Scn *scn = elf ? elf_getscn(elf, shndx) : NULL;
    if (!scn || !gelf_getshdr(scn, &shdr)) return 0;
    return (uintptr_t)(shdr.sh_addr + shdr.sh_size + bias);
}

/* The module's symbols as candidates (unsorted, possibly several per start; a
 * sizeless symbol's end is its section's end); NULL and *n = 0 if it has none or out
 * of memory. Lock held. */
static struct symcand *read_symtab(Dwfl_Module *mod, size_t *n)
{
    int count = dwfl_module_getsymtab(mod);
    struct symcand *c = count > 0 ? malloc((size_t)count * sizeof *c) : NULL;
    *n = 0;
    for (int i = 1; c && i < count; i++) {      /* entry 0 is the null symbol */
        GElf_Sym sym;
        GElf_Addr addr;
        GElf_Word shndx;
        Elf *elf;
        Dwarf_Addr bias;
        const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, &elf, &bias);
        if (!name || !name[0] || !indexable(&sym, shndx, addr)) continue;
        uintptr_t end = sym.st_size ? (uintptr_t)(addr + sym.st_size) : section_end(elf, shndx, bias);
        if (end > addr) c[(*n)++] = (struct symcand){{(uintptr_t)addr, end, name}, symrank(&sym)};
    }
    return c;
}

/* Sorts the candidates, keeps the preferred one per start, and ends each sizeless
 * symbol at the next start if that comes before its section's end. Returns the count
 * kept. */
static size_t settle_symtab(struct symcand *c, size_t n)
{
    qsort(c, n, sizeof *c, symcand_order);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || c[kept - 1].e.start != c[i].e.start) c[kept++] = c[i];
    for (size_t i = 0; i + 1 < kept; i++)
        if (c[i].rank >= 3 && c[i + 1].e.start < c[i].e.end) c[i].e.end = c[i + 1].e.start;
    return kept;
}

/* Whether text is a symbol version's name (GLIBC_2.34, TESTV1): letters, digits, '_',
 * '.', '-'. Crystal puts an '@' in its method names before the type the method comes
 * from ("*Box@Reference#hash:UInt64") and in a proc's before its file and line: what
 * follows that '@' always holds a '#', ':' or '/'. */
static int is_version(const char *text)
{
    if (!*text) return 0;
    for (const char *c = text; *c; c++)
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9') &&
            *c != '_' && *c != '.' && *c != '-')
            return 0;
    return 1;
}

/* name without the version a symbol table may spell into it ("__libc_start_main@@GLIBC_2.34"
 * in libc's debug file: glibc defines its versions with .symver): the name a caller
 * writes, as pprof shows Go's. The cut copy is interned; name itself when there is no
 * version or no memory. Lock held. */
static const char *unversioned(const char *name)
{
    const char *at = strrchr(name, '@');
    if (!at || !is_version(at + 1)) return name;
    if (at > name && at[-1] == '@') at--;   /* "@@": the default version */
    if (at == name) return name;
    char *cut = strndup(name, (size_t)(at - name));
    const char *kept = cut ? intern(cut) : NULL;
    free(cut);
    return kept ? kept : name;
}

/* The index of mod, built on first use and kept (an empty one for a module without
 * symbols); NULL only when out of memory. A process maps a few dozen modules, so the
 * list is searched in order. Lock held. */
static struct symindex *module_index(Dwfl_Module *mod)
{
    for (size_t i = 0; i < symbols__nindexes; i++)
        if (symbols__indexes[i].mod == mod) return &symbols__indexes[i].ix;
    if (buf_grow_array(&symbols__indexes, &symbols__indexes_cap, symbols__nindexes + 1,
                       sizeof *symbols__indexes) < 0)
        return NULL;
    struct symindex ix = {NULL, 0};
    size_t n;
    struct symcand *c = read_symtab(mod, &n);
    n = c ? settle_symtab(c, n) : 0;
    ix.e = n ? malloc(n * sizeof *ix.e) : NULL;
    for (size_t i = 0; ix.e && i < n; i++) {
        ix.e[i] = c[i].e;
        ix.e[i].name = unversioned(ix.e[i].name);
    }
    ix.n = ix.e ? n : 0;
    free(c);
    symbols__indexes[symbols__nindexes] = (struct module_symbols){mod, ix};
    return &symbols__indexes[symbols__nindexes++].ix;
}

/* The entry of ix containing pc, or NULL: a binary search for the last start <= pc. */
static const struct symentry *index_find(const struct symindex *ix, uintptr_t pc)
{
    size_t lo = 0, hi = ix->n;             /* entries [0, lo) start <= pc */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->e[mid].start <= pc) lo = mid + 1;
        else hi = mid;
    }
    for (size_t i = lo, back = 0; i > 0 && back < NESTED_LOOKBACK; i--, back++)
        if (pc < ix->e[i - 1].end) return &ix->e[i - 1];
    return NULL;
}

/* The ELF symbol containing pc and pc's offset in it; NULL if none. Lock held. */
static const char *index_name(uintptr_t pc, uintptr_t *off)
{
    Dwfl_Module *mod = symbols__dwfl ? dwfl_addrmodule(symbols__dwfl, pc) : NULL;
    const struct symindex *ix = mod ? module_index(mod) : NULL;
    const struct symentry *e = ix ? index_find(ix, pc) : NULL;
    if (!e) return NULL;
    *off = pc - e->start;
    return e->name;
}

/* ---- DWARF ------------------------------------------------------------------------ */

/* Interns path made absolute against the CU's comp_dir, with "//" and "/./" folded. */
static const char *abs_path(const char *path, Dwarf_Die *cu)
{
    if (!path) return NULL;
    char joined[4096];
    Dwarf_Attribute a;
    const char *dir = path[0] == '/' ? NULL : dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &a));
    if (dir) snprintf(joined, sizeof joined, "%s/%s", dir, path);
    else snprintf(joined, sizeof joined, "%s", path);
    char *w = joined;
    for (const char *r = joined; *r; ) {
        if (r[0] == '/' && r[1] == '/') { r++; continue; }
        if (r[0] == '/' && r[1] == '.' && r[2] == '/') { r += 2; continue; }
        *w++ = *r++;
    }
    *w = 0;
    return intern(joined);
}

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
    if (!name) name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
    return intern(name ? name : "??");
}

static int die_udata(Dwarf_Die *die, unsigned attr)
{
    Dwarf_Attribute a;
    Dwarf_Word v;
    if (dwarf_formudata(dwarf_attr(die, attr, &a), &v) != 0) return 0;
    return (int)v;
}

/* The frame of function DIE fn whose current line is line (in file lfile). */
static struct symbols_frame dwarf_frame(Dwarf_Die *fn, Dwarf_Die *cu, int line,
                                        const char *lfile)
{
    struct symbols_frame f = {die_name(fn), NULL, line, 0};
    const char *decl = dwarf_decl_file(fn);
    f.file = abs_path(decl ? decl : lfile, cu);
    if (dwarf_decl_line(fn, &f.start_line) != 0) f.start_line = 0;
    return f;
}

/* The lexical scopes around pc, innermost first, each inlined_subroutine followed by
 * the scopes of its CALLER. (dwarf_getscopes alone continues from an inlined
 * instance into its abstract origin; walking up from the innermost DIE with
 * dwarf_getscopes_die gives the physical nesting, as eu-addr2line -i does.) */
static int scopes_at(Dwarf_Die *cu, Dwarf_Addr addr, Dwarf_Die **scopes)
{
    Dwarf_Die *first = NULL;
    int n = dwarf_getscopes(cu, addr, &first);
    *scopes = NULL;
    if (n > 0) n = dwarf_getscopes_die(&first[0], scopes);
    free(first);
    return n > 0 ? n : 0;
}

/* Fills out (leaf first) from the DWARF scopes at pc; returns the count, 0 if none. */
static int resolve_dwarf(Dwfl_Module *mod, uintptr_t pc, struct symbols_frame *out, int max)
{
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, &bias);
    Dwarf_Die *scopes = NULL;
    int nscopes = cu ? scopes_at(cu, pc - bias, &scopes) : 0;
    int line = 0, n = 0;
    const char *lfile = NULL;
    Dwfl_Line *l = dwfl_module_getsrc(mod, pc);
    if (l) lfile = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
    for (int i = 0; i < nscopes && n < max; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
        out[n++] = dwarf_frame(&scopes[i], cu, line, lfile);
        if (tag == DW_TAG_subprogram) break;
        line = die_udata(&scopes[i], DW_AT_call_line);     /* the caller's line */
        lfile = NULL;
    }
    free(scopes);
    return n;
}

/* ---- PLT stubs: code the symbol tables do not name ------------------------------- */

/* The section called name, its header in *sh; NULL if there is none. */
static Elf_Scn *section_named(Elf *elf, size_t strndx, const char *name, GElf_Shdr *sh)
{
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
        const char *n = gelf_getshdr(scn, sh) ? elf_strptr(elf, strndx, sh->sh_name) : NULL;
        if (n && strcmp(n, name) == 0) return scn;
    }
    return NULL;
}

/* The index of the PLT stub at file address a in its relocation table (.rela.plt):
 * .plt has a 16-byte resolver stub, then one 16-byte stub per entry; .plt.sec (built
 * with CET) one 16-byte stub per entry. -1 for the resolver stub, -2 outside both. */
static long plt_index(Elf *elf, size_t strndx, GElf_Addr a)
{
    GElf_Shdr sh;
    if (section_named(elf, strndx, ".plt.sec", &sh) && a - sh.sh_addr < sh.sh_size)
        return (long)((a - sh.sh_addr) / 16);
    if (section_named(elf, strndx, ".plt", &sh) && a - sh.sh_addr < sh.sh_size)
        return (long)((a - sh.sh_addr) / 16) - 1;
    return -2;
}

/* A name for a PLT stub, which no symbol covers: "target@plt" (a CPU sample lands in
 * one now and then: bdwgc calls pthread_mutex_trylock through one on every allocation
 * slow path), "[plt]" for the resolver stub. NULL when pc is in no stub. Lock held. */
static const char *plt_name(Dwfl_Module *mod, uintptr_t pc)
{
    GElf_Addr bias;
    GElf_Shdr rela, syms;
    GElf_Rela r;
    GElf_Sym sym;
    size_t strndx;
    Elf *elf = dwfl_module_getelf(mod, &bias);
    if (!elf || elf_getshdrstrndx(elf, &strndx) != 0) return NULL;
    long k = plt_index(elf, strndx, pc - bias);
    Elf_Scn *rs = k >= 0 ? section_named(elf, strndx, ".rela.plt", &rela) : NULL;
    Elf_Scn *ss = rs ? elf_getscn(elf, rela.sh_link) : NULL;
    if (!ss || !gelf_getshdr(ss, &syms) || !gelf_getrela(elf_getdata(rs, NULL), (int)k, &r) ||
        !gelf_getsym(elf_getdata(ss, NULL), (int)GELF_R_SYM(r.r_info), &sym))
        return k == -1 || k >= 0 ? intern("[plt]") : NULL;
    const char *target = elf_strptr(elf, syms.sh_link, sym.st_name);
    char name[256];
    snprintf(name, sizeof name, "%s@plt", target ? target : "?");
    return intern(name);
}

/* Symbol-table fallback for code without DWARF: a name (a PLT stub's made up), no
 * file or line. */
static int resolve_elf(uintptr_t pc, struct symbols_frame *out)
{
    uintptr_t off;
    const char *name = index_name(pc, &off);
    if (!name) {
        Dwfl_Module *mod = dwfl_addrmodule(symbols__dwfl, pc);
        if (mod) name = plt_name(mod, pc);
    }
    if (!name || !(out->function = intern(name))) return 0;
    out->file = NULL;
    out->line = out->start_line = 0;
    return 1;
}

/* 1 if mod is the main executable (memdemo and the libgc.a linked into it), whose
 * DWARF is read for files, lines and inlined calls. Libraries get names only: the CPU
 * and goroutine profiles reach into libc, and where its separate debug info is
 * installed, reading its DWARF scopes for one pc cost 16 MB of RSS. Lock held. */
static int is_main_module(Dwfl_Module *mod)
{
    Dwarf_Addr low, high;
    if (!symbols__nmaps || !dwfl_module_info(mod, NULL, &low, &high, NULL, NULL, NULL, NULL)) return 0;
    return symbols__maps[0].start >= low && symbols__maps[0].start < high;
}

/* Resolves pc into frames (leaf first, at most SYMBOLS_MAX_FRAMES). Lock held. */
static int resolve(uintptr_t pc, struct symbols_frame *out)
{
    enum { DEEP = 64 };
    struct symbols_frame chain[DEEP];
    Dwfl_Module *mod = symbols__dwfl ? dwfl_addrmodule(symbols__dwfl, pc) : NULL;
    if (!mod) return 0;
    if (!is_main_module(mod)) return resolve_elf(pc, out);
    int n = resolve_dwarf(mod, pc, chain, DEEP);
    if (n == 0) return resolve_elf(pc, out);
    int skip = n > SYMBOLS_MAX_FRAMES ? n - SYMBOLS_MAX_FRAMES : 0;   /* keep the outer end */
    memcpy(out, chain + skip, (size_t)(n - skip) * sizeof *out);
    return n - skip;
}

/* ---- mappings --------------------------------------------------------------------- */

static void build_id_hex(uintptr_t start, char *hex, size_t cap)
{
    Dwfl_Module *mod = symbols__dwfl ? dwfl_addrmodule(symbols__dwfl, start) : NULL;
    const unsigned char *bits;
    GElf_Addr vaddr, bias;
    int len = 0;
    hex[0] = 0;
    if (mod && dwfl_module_getelf(mod, &bias)) len = dwfl_module_build_id(mod, &bits, &vaddr);
    for (int i = 0; i < len && (size_t)(2 * i + 2) < cap; i++)
        snprintf(hex + 2 * i, 3, "%02x", bits[i]);
}

static int maps_add(uintptr_t start, uintptr_t limit, uint64_t offset, const char *path)
{
    if (buf_grow_array(&symbols__maps, &symbols__maps_cap, symbols__nmaps + 1, sizeof *symbols__maps) < 0)
        return -1;
    char hex[2 * 64 + 1];
    build_id_hex(start, hex, sizeof hex);
    struct symbols_mapping m = {start, limit, offset, intern(path), intern(hex)};
    if (!m.path || !m.build_id) return -1;
    symbols__maps[symbols__nmaps++] = m;
    return 0;
}

/* Moves the first mapping of the main executable to the front. */
static void maps_main_first(void)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return;
    exe[len] = 0;
    for (size_t i = 0; i < symbols__nmaps; i++) {
        if (strcmp(symbols__maps[i].path, exe) != 0) continue;
        struct symbols_mapping m = symbols__maps[i];
        memmove(symbols__maps + 1, symbols__maps, i * sizeof m);
        symbols__maps[0] = m;
        return;
    }
}

/* Reads the file-backed executable mappings of /proc/self/maps. */
static int maps_read(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[4352], perms[8], path[4096];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        unsigned long start, limit, offset;
        path[0] = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095[^\n]", &start, &limit, perms,
                   &offset, path) < 4)
            continue;
        if (strchr(perms, 'x') && path[0] == '/')
            rc = maps_add(start, limit, offset, path);
    }
    fclose(f);
    maps_main_first();
    return rc;
}

/* ---- separate debug files: on this machine only ------------------------------------ */

/* Whether the open file fd is the debug file of mod: the same build ID when mod has
 * one, else the CRC-32 its .gnu_debuglink names. */
static int debug_file_matches(Dwfl_Module *mod, int fd, GElf_Word crc)
{
    const unsigned char *want;
    GElf_Addr vaddr;
    int want_len = dwfl_module_build_id(mod, &want, &vaddr);
    if (want_len > 0) {
        Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
        const void *have;
        ssize_t have_len = elf ? dwelf_elf_gnu_build_id(elf, &have) : -1;
        int same = have_len == want_len && memcmp(have, want, (size_t)want_len) == 0;
        if (elf) elf_end(elf);
        return same;
    }
    unsigned char chunk[65536];
    uLong sum = crc32(0, Z_NULL, 0);
    off_t at = 0;
    ssize_t got;
    while ((got = pread(fd, chunk, sizeof chunk, at)) > 0) {
        sum = crc32(sum, chunk, (uInt)got);
        at += got;
    }
    return got == 0 && sum == crc;
}

/* A regular file opened for reading, else -1: the name comes from the module, and a
 * FIFO there would block the open (O_NONBLOCK) and a device such as /dev/zero would feed
 * the CRC for good, with the symbols lock held and the program's exit waiting. */
static int open_regular(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Opens dir+subdir+name if it is mod's debug file (debug_file_matches): the descriptor,
 * with its path malloc'd in *path_out; -1 if not. */
static int open_candidate(Dwfl_Module *mod, GElf_Word crc, const char *dir, const char *subdir,
                          const char *name, char **path_out)
{
    char *path = NULL;
    if (asprintf(&path, "%s%s%s", dir, subdir, name) < 0) return -1;
    int fd = open_regular(path);
    if (fd >= 0 && debug_file_matches(mod, fd, crc)) {
        *path_out = path;
        return fd;
    }
    if (fd >= 0) close(fd);
    free(path);
    return -1;
}

/* mod's .gnu_debuglink target `link`: beside its file, in the .debug directory there,
 * or under /usr/lib/debug followed by the file's directory (where gdb looks too). */
static int open_debuglink(Dwfl_Module *mod, GElf_Word crc, const char *file, const char *link,
                          char **path_out)
{
    const char *slash = strrchr(file, '/');
    if (!slash || strchr(link, '/')) return -1;
    char dir[4096];
    int len = snprintf(dir, sizeof dir, "%.*s", (int)(slash - file + 1), file);
    if (len <= 0 || (size_t)len >= sizeof dir) return -1;
    int fd = strcmp(slash + 1, link) != 0 ? open_candidate(mod, crc, dir, "", link, path_out) : -1;
    if (fd < 0) fd = open_candidate(mod, crc, dir, ".debug/", link, path_out);
    if (fd < 0) fd = open_candidate(mod, crc, "/usr/lib/debug", dir, link, path_out);
    return fd;
}

/* libdw's find_debuginfo callback: a module's separate debug file by its build ID under
 * libdw's debug directories (where Debian's -dbgsym packages put them), else by its
 * .gnu_debuglink. Never through debuginfod, as libdw's standard callback would when
 * DEBUGINFOD_URLS is set (Debian sets it in login shells): the first symbolization (a
 * profiled program's exit, a /debug/pprof request) would then wait on downloads, and
 * libdw loads its HTTP client (some thirty libraries) just to try. Lock held. */
static int find_local_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                                Dwarf_Addr base, const char *file, const char *debuglink,
                                GElf_Word crc, char **debuginfo_file_name)
{
    int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file, debuglink, crc,
                                          debuginfo_file_name);
    if (fd >= 0 || !file || !debuglink) return fd;
    return open_debuglink(mod, crc, file, debuglink, debuginfo_file_name);
}

/* ---- public ----------------------------------------------------------------------- */

static void symbols__init_once(void)
{
    static const Dwfl_Callbacks callbacks = {
        .find_elf = dwfl_linux_proc_find_elf,
        .find_debuginfo = find_local_debuginfo,
    };
    pthread_mutex_lock(&symbols__lock);
    symbols__dwfl = dwfl_begin(&callbacks);
    if (symbols__dwfl && dwfl_linux_proc_report(symbols__dwfl, getpid()) == 0 &&
        dwfl_report_end(symbols__dwfl, NULL, NULL) == 0)
        symbols__init_rc = 0;
    else if (symbols__dwfl) {
        dwfl_end(symbols__dwfl);
        symbols__dwfl = NULL;
    }
    if (symbols__init_rc == 0 && maps_read() < 0) symbols__init_rc = -1;
    pthread_mutex_unlock(&symbols__lock);
}

/* 0 once the session is open, -1 if it could not be; errno untouched (lookups that find
 * nothing are not failures). */
static int ready(void)
{
    pthread_once(&symbols__once, symbols__init_once);
    return symbols__init_rc;
}

int symbols_init(void)
{
    return ready() < 0 ? errors_fail(EIO) : 0;
}

int symbols_lookup(uintptr_t pc, struct symbols_frame *out, int max)
{
    if (pc == 0 || max < 1 || ready() < 0) return 0;
    pthread_mutex_lock(&symbols__lock);
    struct symbols_frame frames[SYMBOLS_MAX_FRAMES];
    const struct symbols_frame *src = frames;
    int n;
    struct cached *c = cache_find(pc);
    if (c) {
        src = c->frames;
        n = c->n;
    } else {
        n = resolve(pc, frames);
        cache_put(pc, frames, n);
    }
    int skip = n > max ? n - max : 0;            /* drop innermost callees first */
    if (n > 0) memcpy(out, src + skip, (size_t)(n - skip) * sizeof *out);
    pthread_mutex_unlock(&symbols__lock);
    return n - skip;
}

/* A binary search in the module's symbol index: nothing is remembered per pc, so the
 * addresses a client posts to /debug/pprof/symbol cost no memory (caching those let
 * every request add entries that lived until exit). */
const char *symbols_name(uintptr_t pc, uintptr_t *offset)
{
    if (ready() < 0) return NULL;
    uintptr_t off = 0;
    pthread_mutex_lock(&symbols__lock);
    const char *name = index_name(pc, &off);
    pthread_mutex_unlock(&symbols__lock);
    if (name && offset) *offset = off;
    return name;
}

int symbols_known_prefix(const uintptr_t *pcs, int n)
{
    for (int i = 1; i < n; i++)
        if (symbols_mapping_index(pcs[i] - 1) < 0) return i;
    return n;
}

/* ---- unwinding a copied stack ------------------------------------------------------ */

/* What the callbacks read: the copy being unwound (symbols__lock held). */
static struct {
    const struct stacks_regs *regs;
    const unsigned char *stack;
    size_t len;
    uintptr_t *pcs;
    int max, n;
} unwinding;
static int unwind_attached;           /* dwfl_attach_state done (or failed: -1) */

static pid_t unwind_next_thread(Dwfl *dwfl, void *arg, void **thread_arg)
{
    (void)dwfl; (void)arg; (void)thread_arg;
    return 0;                         /* no threads to iterate: frames are asked by tid */
}

static bool unwind_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_arg)
{
    (void)dwfl; (void)tid; (void)arg;
    *thread_arg = NULL;
    return true;
}

static bool unwind_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
    (void)dwfl; (void)arg;
    uint64_t base = unwinding.regs->r[7];
    if (addr < base || addr - base + sizeof *result > unwinding.len) return false;
    memcpy(result, unwinding.stack + (addr - base), sizeof *result);
    return true;
}

static bool unwind_initial_registers(Dwfl_Thread *thread, void *arg)
{
    (void)arg;
    Dwarf_Word r[STACKS_NREGS];
    for (int i = 0; i < STACKS_NREGS; i++) r[i] = unwinding.regs->r[i];
    return dwfl_thread_state_registers(thread, 0, STACKS_NREGS, r);
}

static int unwind_frame(Dwfl_Frame *frame, void *arg)
{
    (void)arg;
    Dwarf_Addr pc;
    bool activation;
    if (!dwfl_frame_pc(frame, &pc, &activation) || pc == 0) return DWARF_CB_ABORT;
    unwinding.pcs[unwinding.n++] = activation ? (uintptr_t)pc + 1 : (uintptr_t)pc;
    return unwinding.n < unwinding.max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static const Dwfl_Thread_Callbacks unwind_callbacks = {
    .next_thread = unwind_next_thread,
    .get_thread = unwind_get_thread,
    .memory_read = unwind_memory_read,
    .set_initial_registers = unwind_initial_registers,
};

int symbols_unwind(const struct stacks_regs *regs, const void *stack, size_t len,
                   uintptr_t *pcs, int max)
{
    if (max < 1 || ready() < 0) return 0;
    pthread_mutex_lock(&symbols__lock);
    if (!unwind_attached)
        unwind_attached = dwfl_attach_state(symbols__dwfl, NULL, getpid(), &unwind_callbacks, NULL) ? 1 : -1;
    int n = 0;
    if (unwind_attached > 0) {
        unwinding.regs = regs;
        unwinding.stack = stack;
        unwinding.len = len;
        unwinding.pcs = pcs;
        unwinding.max = max;
        unwinding.n = 0;
        dwfl_getthread_frames(symbols__dwfl, getpid(), unwind_frame, NULL);   /* any tid */
        n = unwinding.n;
    }
    pthread_mutex_unlock(&symbols__lock);
    return n;
}

size_t symbols_mappings(const struct symbols_mapping **out)
{
    ready();
    *out = symbols__maps;          /* written once under pthread_once, then read-only */
    return symbols__nmaps;
}

int symbols_mapping_index(uintptr_t pc)
{
    const struct symbols_mapping *m;
    size_t n = symbols_mappings(&m);
    for (size_t i = 0; i < n; i++)
        if (m[i].start <= pc && pc < m[i].limit) return (int)i;
    return -1;
}
