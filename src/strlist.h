/* strlist: an append-only list of GC strings, in GC memory, used by both handlers.
 *
 * The list is a chain of chunks (each a GC object holding up to STRLIST_CHUNK string
 * pointers), so appending a string never copies the list.
 * A struct strlist must itself live where the collector scans it: on a registered
 * thread's stack (a request-local list) or in static memory (the leaker's root).
 * Not synchronised: the caller serialises access (the leaker holds a mutex).
 */
#ifndef MEMDEMO_STRLIST_H
#define MEMDEMO_STRLIST_H

#include <stddef.h>

#include "gc/gcgen.h"

#define STRLIST_CHUNK 1020   /* header + items + the byte bdwgc may add stay within 8 KiB */

/* Its pointer fields (next, items) are written only through gcgen_store (the write
 * barrier of generational mode, gcgen.h), with `born` as the chunk's stamp. */
struct strlist_chunk {
    struct strlist_chunk *next;
    size_t used;
    gcgen_birth born;
    char *items[STRLIST_CHUNK];
};

struct strlist {
    struct strlist_chunk *head, *tail;
    size_t count;     /* strings in the list */
    size_t bytes;     /* sum of their lengths plus NULs */
};

#define STRLIST_INIT {0, 0, 0, 0}

/* Appends s (a GC string of len bytes plus its NUL; the list keeps it alive).
 * Allocates a chunk when the tail is full. Returns 0, or -1 (nothing appended) when
 * that allocation is refused in a bounded scope (gcheap.h). Registered thread. */
int strlist_push(struct strlist *l, char *s, size_t len);

/* Appends the strings of `from` to `to`, one by one, in order, with strlist_push (O(n);
 * to's chunks are allocated as they fill); `from` is left as it was. Registered thread. */
void strlist_append_all(struct strlist *to, const struct strlist *from);

/* Fills l with the decimal strings of 0 .. n-1 made by numstr_itoa. Returns 0, or -1
 * if an allocation was refused in a bounded scope (l then holds a prefix, garbage for
 * the caller to drop). Registered thread. */
int strlist_fill_numbers(struct strlist *l, long n);

/* Returns the i-th string (0-based), or NULL past the end. O(i / STRLIST_CHUNK). */
const char *strlist_at(const struct strlist *l, size_t i);

#endif
