/* unwind: stack capture by the unwind tables. See unwind.h.
 *
 * Fast path: for each return address, the rule that gives its frame's caller, read
 * once from the FDE that libgcc finds for it (_Unwind_Find_FDE) by running the CIE and
 * FDE call-frame instructions up to that address, and cached per thread: the canonical
 * frame address (CFA) is rsp or rbp plus an offset, the return address is saved at
 * CFA + ra_off, rbp is kept or saved at CFA + rbp_off. That covers the code compilers
 * emit; a frame whose rule is anything else (an expression, a signal frame, another
 * CFA register) sends the whole capture to libgcc's general unwinder
 * (_Unwind_Backtrace), which is exact and about ten times slower. A pc with no FDE (JIT
 * code) ends the stack for both.
 *
 * Every stack read is checked against the thread's stack bounds (pthread_getattr_np,
 * learnt once per thread) and the frames must climb, so a wrong rule ends the walk
 * instead of faulting.
 */
#include "profile/unwind.h"

#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unwind.h>

#include "gc/gcheap.h"

/* libgcc's FDE lookup (exported by libgcc_s, not declared by unwind.h). */
struct dwarf_eh_bases { void *tbase, *dbase, *func; };
extern const void *_Unwind_Find_FDE(void *pc, struct dwarf_eh_bases *bases);

enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };
enum rule_kind { RULE_EMPTY, RULE_STEP, RULE_END, RULE_OTHER };

struct rule {
    uintptr_t pc;                /* the call site (return address - 1) it was read for */
    int32_t cfa_off;
    int16_t ra_off, rbp_off;     /* rbp_off 0: rbp unchanged */
    uint8_t cfa_reg;             /* REG_RSP or REG_RBP */
    uint8_t kind;                /* enum rule_kind */
};

#define CACHE_SLOTS 4096         /* per thread, direct-mapped */

static __thread struct rule *cache;
static __thread uintptr_t stack_lo, stack_hi;
static __thread int thread_ready;   /* 1: ready, -1: no bounds (use libgcc) */
static pthread_key_t cache_key;
static _Atomic uint64_t fallbacks;    /* captures libgcc's unwinder had to make */
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

static void make_cache_key(void) { pthread_key_create(&cache_key, free); }

/* ---- reading .eh_frame ------------------------------------------------------------ */

static uint64_t uleb(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
    }
    return v;
}

static int64_t sleb(const uint8_t **p, const uint8_t *end)
{
    int64_t v = 0;
    int shift = 0;
    uint8_t b = 0x80;
    while (*p < end && shift < 64 && (b & 0x80)) {
        b = *(*p)++;
        v |= (int64_t)(b & 0x7f) << shift;
        shift += 7;
    }
    if (shift < 64 && (b & 0x40)) v |= -((int64_t)1 << shift);
    return v;
}

/* Bytes an encoded pointer takes (DW_EH_PE_* low nibble); -1 for leb128 forms. */
static int encoded_size(uint8_t enc)
{
    switch (enc & 0x0f) {
    case 0x00: return 8;                        /* absptr */
    case 0x02: case 0x0a: return 2;
    case 0x03: case 0x0b: return 4;
    case 0x04: case 0x0c: return 8;
    default: return -1;
    }
}

static void skip_encoded(const uint8_t **p, const uint8_t *end, uint8_t enc)
{
    int n = encoded_size(enc);
    if (n < 0) uleb(p, end);
    else *p += n;
}

struct cie_info {
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_enc;
    int signal_frame;
    const uint8_t *insns, *insns_end;
};

/* The CIE an FDE points to. Returns 0 or -1 (a form this reader does not know). */
static int read_cie(const uint8_t *cie, struct cie_info *ci)
{
    uint32_t len;
    memcpy(&len, cie, 4);
    if (len == 0xffffffff) return -1;
    const uint8_t *p = cie + 8, *end = cie + 4 + len;
    uint8_t version = *p++;
    const char *aug = (const char *)p;
    p += strlen(aug) + 1;
    ci->code_align = uleb(&p, end);
    ci->data_align = sleb(&p, end);
    if (version == 1) p++; else uleb(&p, end);      /* return address register */
    ci->fde_enc = 0;
    ci->signal_frame = 0;
    if (aug[0] == 'z') {
        uint64_t n = uleb(&p, end);
        const uint8_t *data = p;
        for (const char *a = aug + 1; *a; a++) {
            if (*a == 'R') ci->fde_enc = *data++;
            else if (*a == 'L') data++;
            else if (*a == 'P') { uint8_t e = *data++; skip_encoded(&data, end, e); }
            else if (*a == 'S') ci->signal_frame = 1;
            else return -1;
        }
        p += n;
    } else if (aug[0]) {
        return -1;
    }
    ci->insns = p;
    ci->insns_end = end;
    return 0;
}

struct cfa_state {
    uint8_t cfa_reg;
    int32_t cfa_off;
    int16_t ra_off, rbp_off;
    int ra_undefined, other;
};

/* Sets register reg's rule to "saved at CFA + off". */
static void saved_at(struct cfa_state *s, uint64_t reg, int64_t off)
{
    if (reg == REG_RBP) s->rbp_off = (int16_t)off;
    else if (reg == REG_RA) s->ra_off = (int16_t)off;
}

/* Runs call-frame instructions [p, end) from location `loc` up to and including the
 * rows that cover `target`. Returns 0, or -1 for an instruction this reader leaves to
 * libgcc. remembered[] is remember_state's stack. */
static int run_insns(const uint8_t *p, const uint8_t *end, uintptr_t loc, uintptr_t target,
                     const struct cie_info *ci, struct cfa_state *s, const struct cfa_state *initial)
{
    struct cfa_state remembered[8];
    int depth = 0;
    while (p < end && loc <= target) {
        uint8_t op = *p++, low = op & 0x3f;
        switch (op >> 6) {
        case 1: loc += low * ci->code_align; continue;                       /* advance_loc */
        case 2: saved_at(s, low, (int64_t)uleb(&p, end) * ci->data_align); continue;  /* offset */
        case 3: if (low == REG_RBP) s->rbp_off = initial->rbp_off; continue;  /* restore */
        }
        switch (op) {
        case 0x00: break;                                                     /* nop */
        case 0x02: loc += *p++ * ci->code_align; break;
        case 0x03: { uint16_t d; memcpy(&d, p, 2); p += 2; loc += d * ci->code_align; break; }
        case 0x04: { uint32_t d; memcpy(&d, p, 4); p += 4; loc += d * ci->code_align; break; }
        case 0x05: { uint64_t r = uleb(&p, end); saved_at(s, r, (int64_t)uleb(&p, end) * ci->data_align); break; }
        case 0x11: { uint64_t r = uleb(&p, end); saved_at(s, r, sleb(&p, end) * ci->data_align); break; }
        case 0x06: case 0x08: { uint64_t r = uleb(&p, end); if (r == REG_RBP) s->rbp_off = 0; break; }
        case 0x07: if (uleb(&p, end) == REG_RA) s->ra_undefined = 1; break;  /* undefined */
        case 0x0a: if (depth == 8) return -1; remembered[depth++] = *s; break;
        case 0x0b: if (depth == 0) return -1; *s = remembered[--depth]; break;
        case 0x0c: s->cfa_reg = (uint8_t)uleb(&p, end); s->cfa_off = (int32_t)uleb(&p, end); break;
        case 0x0d: s->cfa_reg = (uint8_t)uleb(&p, end); break;
        case 0x0e: s->cfa_off = (int32_t)uleb(&p, end); break;
        case 0x12: s->cfa_reg = (uint8_t)uleb(&p, end); s->cfa_off = (int32_t)(sleb(&p, end) * ci->data_align); break;
        case 0x13: s->cfa_off = (int32_t)(sleb(&p, end) * ci->data_align); break;
        case 0x2e: uleb(&p, end); break;                                      /* GNU_args_size */
        default: return -1;            /* expressions, register-in-register, val_offset... */
        }
    }
    return 0;
}

/* The rule for the call site pc, from its FDE. */
static struct rule read_rule(uintptr_t pc)
{
    struct rule r = {pc, 0, 0, 0, 0, RULE_OTHER};
    struct dwarf_eh_bases bases;
    const uint8_t *fde = _Unwind_Find_FDE((void *)pc, &bases);
    if (!fde) { r.kind = RULE_END; return r; }            /* no unwind tables: JIT code */
    uint32_t len, cie_delta;
    memcpy(&len, fde, 4);
    memcpy(&cie_delta, fde + 4, 4);
    struct cie_info ci;
    if (len == 0xffffffff || read_cie(fde + 4 - cie_delta, &ci) < 0 || ci.signal_frame) return r;
    int n = encoded_size(ci.fde_enc);
    if (n < 0) return r;
    const uint8_t *p = fde + 8 + 2 * n, *end = fde + 4 + len;
    p += uleb(&p, end);                                   /* augmentation data ('z') */
    struct cfa_state s = {REG_RSP, 8, -8, 0, 0, 0}, initial;
    uintptr_t start = (uintptr_t)bases.func;
    if (run_insns(ci.insns, ci.insns_end, start, (uintptr_t)-1, &ci, &s, &s) < 0) return r;
    initial = s;
    if (run_insns(p, end, start, pc, &ci, &s, &initial) < 0) return r;
    if (s.ra_undefined) { r.kind = RULE_END; return r; }  /* the outermost frame */
    if ((s.cfa_reg != REG_RSP && s.cfa_reg != REG_RBP) || s.ra_off == 0) return r;
    r.cfa_reg = s.cfa_reg;
    r.cfa_off = s.cfa_off;
    r.ra_off = s.ra_off;
    r.rbp_off = s.rbp_off;
    r.kind = RULE_STEP;
    return r;
}

static const struct rule *rule_for(uintptr_t pc)
{
    struct rule *slot = &cache[(pc ^ (pc >> 12)) % CACHE_SLOTS];
    if (slot->kind == RULE_EMPTY || slot->pc != pc) *slot = read_rule(pc);
    return slot;
}

/* ---- the walks ------------------------------------------------------------------------ */

/* The calling thread's stack bounds and rule cache, once. Returns 0 or -1. */
static int ready_thread(void)
{
    if (thread_ready) return thread_ready > 0 ? 0 : -1;
    pthread_attr_t a;
    void *addr;
    size_t size;
    thread_ready = -1;
    if (pthread_getattr_np(pthread_self(), &a) != 0) return -1;
    int rc = pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
    pthread_once(&cache_key_once, make_cache_key);
    if (rc != 0 || !(cache = calloc(CACHE_SLOTS, sizeof *cache))) return -1;
    pthread_setspecific(cache_key, cache);
    stack_lo = (uintptr_t)addr;
    stack_hi = (uintptr_t)addr + size;
    thread_ready = 1;
    return 0;
}

struct walk {
    uintptr_t *pcs;
    int max, n;
    uintptr_t skip_lo, skip_hi;
    int leading;                  /* still in the profiler's own frames */
};

/* Keeps pc unless it is one of the leading own frames. Returns 1 when full. */
static int keep(struct walk *w, uintptr_t pc)
{
    if (w->leading && pc >= w->skip_lo && pc < w->skip_hi) return 0;
    w->leading = 0;
    w->pcs[w->n++] = pc;
    return w->n >= w->max;
}

/* Not instrumented by SANITIZER=address: the words read belong to other frames,
 * between whose slots that build poisons redzones. */
__attribute__((no_sanitize_address)) static int stack_word(uintptr_t addr, uintptr_t *out)
{
    if ((addr & 7) || addr < stack_lo || addr + 8 > stack_hi) return -1;
    *out = *(const uintptr_t *)addr;
    return 0;
}

/* From this function's caller (whose frame this function's frame pointer gives: the
 * library is built with frame pointers) by the cached rules. Returns 1 when the stack
 * ended, 0 when a frame needs libgcc (w->n is then meaningless). */
GCHEAP_ALLOC_TEXT __attribute__((no_sanitize_address)) static int walk_by_rules(struct walk *w)
{
    const uintptr_t *fp = __builtin_frame_address(0);
    uintptr_t rip = fp[1], rsp = (uintptr_t)(fp + 2), rbp = fp[0];
    while (rip && !keep(w, rip)) {
        const struct rule *r = rule_for(rip - 1);
        if (r->kind == RULE_END) return 1;
        if (r->kind != RULE_STEP) return 0;
        uintptr_t cfa = (r->cfa_reg == REG_RSP ? rsp : rbp) + (uintptr_t)(intptr_t)r->cfa_off, ra;
        if (cfa <= rsp || stack_word(cfa + (uintptr_t)(intptr_t)r->ra_off, &ra) < 0) return 1;
        if (r->rbp_off && stack_word(cfa + (uintptr_t)(intptr_t)r->rbp_off, &rbp) < 0) return 1;
        rsp = cfa;
        rip = ra;
    }
    return 1;
}

GCHEAP_ALLOC_TEXT static _Unwind_Reason_Code step(struct _Unwind_Context *ctx, void *arg)
{
    struct walk *w = arg;
    uintptr_t pc = (uintptr_t)_Unwind_GetIP(ctx);
    if (!pc) return _URC_END_OF_STACK;
    return keep(w, pc) ? _URC_END_OF_STACK : _URC_NO_REASON;
}

GCHEAP_ALLOC_TEXT int unwind_capture(uintptr_t *pcs, int max, uintptr_t skip_lo, uintptr_t skip_hi)
{
    if (max < 1) return 0;
    struct walk w = {pcs, max, 0, skip_lo, skip_hi, 1};
    if (ready_thread() == 0 && walk_by_rules(&w)) return w.n;
    atomic_fetch_add_explicit(&fallbacks, 1, memory_order_relaxed);
    w = (struct walk){pcs, max, 0, skip_lo, skip_hi, 1};
    _Unwind_Backtrace(step, &w);
    return w.n;
}

uint64_t unwind_fallbacks(void) { return atomic_load_explicit(&fallbacks, memory_order_relaxed); }

/* ---- the profiler's own text ---------------------------------------------------------- */

struct text_search { uintptr_t addr, lo, hi; int found; };

static int find_text(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct text_search *s = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (s->addr >= lo && s->addr < hi) {
            s->lo = lo;
            s->hi = hi;
            s->found = 1;
            return 1;
        }
    }
    return 0;
}

int unwind_object_text(const void *addr, uintptr_t *lo, uintptr_t *hi)
{
    struct text_search s = {(uintptr_t)addr, 0, 0, 0};
    dl_iterate_phdr(find_text, &s);
    if (!s.found) return -1;
    *lo = s.lo;
    *hi = s.hi;
    return 0;
}
