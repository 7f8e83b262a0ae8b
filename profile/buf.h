/* buf: a growable byte buffer in malloc'd memory, the sink every writer in memdemo
 * writes to (pprof, legacy text, trace, HTML, JSON).
 *
 * Owns: growth and the first-error latch. A writer appends without checking each
 * call; the first allocation failure sets `failed`, later appends do nothing, and the
 * caller checks `failed` once at the end (jemalloc's dump writers do the same).
 * Every function that can fail returns 0 or -1 with errno = ENOMEM (gc/errors.h).
 * Never holds GC pointers; safe on any thread; not inside collection listeners.
 */
#ifndef MEMDEMO_BUF_H
#define MEMDEMO_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data;     /* malloc'd; NUL-terminated when len < cap */
    size_t len;
    size_t cap;
    int failed;     /* latched: an append ran out of memory */
};

#define BUF_INIT {0, 0, 0, 0}

/* Appends n bytes. Returns 0, or -1 (and latches failed) on allocation failure. */
int buf_append(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
/* printf-style append. Returns 0 or -1. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Unsigned LEB128 varint (protobuf, Go trace). */
int buf_uvarint(struct buf *b, uint64_t v);
/* Ensures room for n more bytes. Returns 0 or -1. */
int buf_reserve(struct buf *b, size_t n);
/* Makes room for at least `need` elements of `elem` bytes in the malloc'd array *arr
 * of capacity *cap (doubling, from 64), for the growable arrays every module keeps.
 * Returns 0, or -1 when out of memory or on overflow (*arr and *cap unchanged). */
int buf_grow_array(void *arr, size_t *cap, size_t need, size_t elem);
/* Takes the data out of b (caller frees it with free()), leaving b empty. */
char *buf_take(struct buf *b, size_t *len);
void buf_reset(struct buf *b);   /* len = 0, keeps memory, clears failed */
void buf_free(struct buf *b);

#endif
