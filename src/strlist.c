/* strlist: chunked list of GC strings. See strlist.h.
 *
 * The chunks are GC objects that hold pointers and are written after they are made:
 * the one place in memdemo where a GC pointer is stored into a GC object, so every such
 * store here goes through gcgen_store (gcgen.h says why a missed one loses strings in
 * generational mode). The struct strlist itself lives on a stack or in static memory,
 * which every collection scans: stores into it need no barrier. */
#include "src/strlist.h"

#include <string.h>

#include "gc/gcheap.h"
#include "src/numstr.h"

int strlist_push(struct strlist *l, char *s, size_t len)
{
    struct strlist_chunk *t = l->tail;
    if (!t || t->used == STRLIST_CHUNK) {
        gcgen_birth born;
        struct strlist_chunk *c = gcgen_alloc(sizeof *c, &born);   /* zeroed */
        if (!c) return -1;   /* refused in a bounded scope */
        c->born = born;
        if (t) gcgen_store(t->born, &t->next, c); else l->head = c;
        l->tail = t = c;
    }
    gcgen_store(t->born, &t->items[t->used++], s);
    l->count++;
    l->bytes += len + 1;
    return 0;
}

void strlist_append_all(struct strlist *to, const struct strlist *from)
{
    for (const struct strlist_chunk *c = from->head; c; c = c->next)
        for (size_t i = 0; i < c->used; i++) strlist_push(to, c->items[i], strlen(c->items[i]));
}

int strlist_fill_numbers(struct strlist *l, long n)
{
    size_t len;
    for (long i = 0; i < n; i++) {
        char *s = numstr_itoa(i, &len);
        if (!s || strlist_push(l, s, len) < 0) return -1;
    }
    return 0;
}

const char *strlist_at(const struct strlist *l, size_t i)
{
    if (i >= l->count) return NULL;
    for (const struct strlist_chunk *c = l->head; c; c = c->next) {
        if (i < c->used) return c->items[i];
        i -= c->used;
    }
    return NULL;
}
