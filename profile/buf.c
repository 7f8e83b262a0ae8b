/* buf: growable malloc'd byte buffer with a first-error latch. See buf.h. */
#include "profile/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc/errors.h"

int buf_reserve(struct buf *b, size_t n)
{
    if (b->failed) return -1;
    if (b->cap - b->len > n) return 0;   /* strictly greater: room for a NUL */
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n) {
        if (cap > SIZE_MAX / 2) { b->failed = 1; return errors_fail(ENOMEM); }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) { b->failed = 1; return -1; }
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_grow_array(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 2) return errors_fail(ENOMEM);
        n *= 2;
    }
    if (elem && n > SIZE_MAX / elem) return errors_fail(ENOMEM);
    void *p = realloc(*(void **)arr, n * elem);
    if (!p) return -1;
    *(void **)arr = p;
    *cap = n;
    return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
    if (buf_reserve(b, n) < 0) return -1;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_puts(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }
int buf_putc(struct buf *b, char c) { return buf_append(b, &c, 1); }

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) { va_end(again); b->failed = 1; return -1; }
    if ((size_t)n < sizeof small) { va_end(again); return buf_append(b, small, (size_t)n); }
    if (buf_reserve(b, (size_t)n) < 0) { va_end(again); return -1; }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    va_end(again);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int buf_uvarint(struct buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) { tmp[n++] = (uint8_t)(v | 0x80); v >>= 7; }
    tmp[n++] = (uint8_t)v;
    return buf_append(b, tmp, n);
}

char *buf_take(struct buf *b, size_t *len)
{
    char *d = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
    return d;
}

void buf_reset(struct buf *b) { b->len = 0; b->failed = 0; if (b->data) b->data[0] = '\0'; }

void buf_free(struct buf *b) { free(b->data); b->data = NULL; b->len = b->cap = 0; b->failed = 0; }
