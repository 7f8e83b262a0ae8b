/* unwind: stack capture by the unwind tables. See unwind.h. */
#include "profile/unwind.h"

#include <link.h>
#include <unwind.h>

#include "gc/gcheap.h"

struct walk {
    uintptr_t *pcs;
    int max, n;
    uintptr_t skip_lo, skip_hi;
    int leading;                  /* still in the profiler's own frames */
};

GCHEAP_ALLOC_TEXT static _Unwind_Reason_Code step(struct _Unwind_Context *ctx, void *arg)
{
    struct walk *w = arg;
    uintptr_t pc = (uintptr_t)_Unwind_GetIP(ctx);
    if (!pc) return _URC_END_OF_STACK;
    if (w->leading && pc >= w->skip_lo && pc < w->skip_hi) return _URC_NO_REASON;
    w->leading = 0;
    w->pcs[w->n++] = pc;
    return w->n >= w->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

GCHEAP_ALLOC_TEXT int unwind_capture(uintptr_t *pcs, int max, uintptr_t skip_lo, uintptr_t skip_hi)
{
    if (max < 1) return 0;
    struct walk w = {pcs, max, 0, skip_lo, skip_hi, 1};
    _Unwind_Backtrace(step, &w);
    return w.n;
}

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
