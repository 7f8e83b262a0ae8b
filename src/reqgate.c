/* reqgate: the request-head gate in front of libmicrohttpd. See reqgate.h.
 *
 * Each gated descriptor has a buffer: buf[start, ready) holds checked bytes waiting
 * for libmicrohttpd, buf[ready, len) bytes read but not yet checked (the part of a
 * head that has come so far). recv hands over checked bytes first and reads from the
 * kernel only to fill the caller's request: body bytes, when nothing is held, straight
 * into the caller's buffer; everything else through the buffer, BUF_INITIAL bytes at
 * a time, so that it grows only for a long head. The buffer is mapped, not malloc'd,
 * so that a storm's buffers go back to the system the moment their connections close
 * (libmicrohttpd maps its per-connection pools for the same reason). It returns fewer bytes than asked only
 * when the kernel had no more (or at the end of the stream): libmicrohttpd treats a
 * short read as "socket drained" and waits for the next readiness edge, so a short
 * read while bytes wait here would stall the connection.
 *
 * The end of the stream: libmicrohttpd reads once per edge, so an end-of-file that
 * arrived with the last bytes is never read (the connection would keep its slot until
 * a deadline). When conns has seen the client's FIN (conns_peer_closed), recv reads on
 * to the end-of-file itself; having handed over the last bytes, it shuts the socket
 * for reading, which raises the edge on which libmicrohttpd reads the 0. (Shutting a
 * socket whose client has closed its side for reading loses nothing.)
 */
#undef _FORTIFY_SOURCE   /* its inline recv() wrapper would clash with the definition here */
#include "src/reqgate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "src/conns.h"

#define BUF_INITIAL 4096
#define BUF_MAX (REQGATE_MAX_HEAD + 16384)
#define CHUNK_LINE_MAX 1024         /* a chunk-size line with its extensions */
#define MAX_ALLOWED 64              /* -allowhost entries */
#define HOST_MAX 256

/* The placeholder a refused head becomes (see reqgate.h). */
static const char placeholder[] = "GET /%00 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

enum stage { IN_HEAD, IN_BODY, IN_CHUNK_LINE, IN_CHUNK_DATA, IN_CHUNK_END, IN_TRAILER, REFUSED };

struct gate {
    char *buf;
    size_t cap, start, ready, len;
    size_t scanned;           /* IN_HEAD: bytes past `ready` known to hold no empty line */
    enum stage stage;
    uint64_t left;            /* IN_BODY, IN_CHUNK_DATA: bytes still to pass */
    int eof, reset;           /* the kernel's end-of-file; a refusal answered here */
    unsigned heads, seen;     /* heads handed over; requests the server has asked about */
    unsigned refused_head;    /* the placeholder's number among the heads (0: none) */
    int status;
    char why[REQGATE_WHY_MAX];
};

void (*reqgate_on_refusal)(int status);

/* The gates by descriptor. Published once (release) and never freed while the process
 * lives: in libgcprof every thread of the watched program reads it in recv, and one of
 * them may be there while the server stops at exit. */
struct gate_table { int n; _Atomic(struct gate *) slot[]; };
static _Atomic(struct gate_table *) gates;
static char allowed[MAX_ALLOWED][HOST_MAX];
static int nallowed, allow_any;
static const char *allow_setting = "-allowhost";   /* what a 421 tells the user to set */

void reqgate_name_allow_setting(const char *name) { allow_setting = name; }

static ssize_t sys_recv(int fd, void *buf, size_t len, int flags)
{
    return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}

static _Atomic(struct gate *) *slot_of(int fd)
{
    struct gate_table *t = atomic_load_explicit(&gates, memory_order_acquire);
    return t && fd >= 0 && fd < t->n ? &t->slot[fd] : NULL;
}

static struct gate *gate_of(int fd)
{
    _Atomic(struct gate *) *s = slot_of(fd);
    return s ? atomic_load_explicit(s, memory_order_acquire) : NULL;
}

/* ---- the grammar ----------------------------------------------------------------------- */

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A byte a field value may hold: HTAB, SP, VCHAR, obs-text. */
static int is_value_byte(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

struct head {
    int http10, lengths, encodings, chunked, hosts;
    uint64_t length;
    const char *host, *authority;   /* the Host value; an absolute-form target's authority */
    size_t host_len, authority_len;
};

/* Formats the reason into `why` and returns status. */
static int say(char *why, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(char *why, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, REQGATE_WHY_MAX, fmt, ap);
    va_end(ap);
    return status;
}

/* The next line of [*p, end): its start and length without CRLF or LF; -1 when no line
 * end is left. */
static long next_line(const char **p, const char *end, const char **line)
{
    const char *lf = memchr(*p, '\n', (size_t)(end - *p));
    if (!lf) return -1;
    *line = *p;
    *p = lf + 1;
    return (lf > *line && lf[-1] == '\r' ? lf - 1 : lf) - *line;
}

/* The authority of an absolute-form target ("http://host:port/x"), if it is one. */
static void target_authority(const char *t, size_t n, struct head *h)
{
    size_t skip = n >= 7 && strncasecmp(t, "http://", 7) == 0 ? 7 : n >= 8 && strncasecmp(t, "https://", 8) == 0 ? 8 : 0;
    if (!skip) return;
    h->authority = t + skip;
    h->authority_len = 0;
    while (skip + h->authority_len < n && !strchr("/?#", t[skip + h->authority_len])) h->authority_len++;
}

static int check_target(const char *t, size_t n, struct head *h, char *why)
{
    if (n == 0) return say(why, 400, "invalid request line: empty target");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c == 0x7f) return say(why, 400, "invalid request target: control character or space");
        if (c == '%' && i + 2 < n && t[i + 1] == '0' && t[i + 2] == '0')
            return say(why, 400, "invalid request target: encoded NUL (%%00)");
    }
    target_authority(t, n, h);
    return 0;
}

static int check_version(const char *v, size_t n, struct head *h, char *why)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
        return say(why, 400, "invalid request line: want METHOD SP TARGET SP HTTP/1.1");
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return say(why, 505, "HTTP version not supported: only HTTP/1.0 and HTTP/1.1");
    h->http10 = v[7] == '0';
    return 0;
}

static int check_request_line(const char *l, size_t n, struct head *h, char *why)
{
    if (n > REQGATE_MAX_LINE) return say(why, 414, "request line over %d bytes", REQGATE_MAX_LINE);
    size_t m = 0;
    while (m < n && is_tchar((unsigned char)l[m])) m++;
    if (m == 0 || m == n || l[m] != ' ') return say(why, 400, "invalid method: want a token (RFC 9110 tchar)");
    const char *t = l + m + 1, *sp = memchr(t, ' ', n - m - 1);
    if (!sp) return say(why, 400, "invalid request line: want METHOD SP TARGET SP HTTP/1.1");
    int st = check_target(t, (size_t)(sp - t), h, why);
    return st ? st : check_version(sp + 1, (size_t)(l + n - sp - 1), h, why);
}

/* A Content-Length value as Go reads it: decimal digits only, at most 2^63-1. */
static int parse_length(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX) return -1;
    *out = v;
    return 0;
}

/* Notes what a header line says about framing and the host. */
static int note_field(const char *name, size_t nl, const char *v, size_t vl, struct head *h, char *why)
{
    if (nl == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
        uint64_t len;
        if (parse_length(v, vl, &len) < 0) return say(why, 400, "invalid Content-Length header");
        if (h->lengths++ && len != h->length) return say(why, 400, "conflicting Content-Length headers");
        h->length = len;
    } else if (nl == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0) {
        h->encodings++;
        h->chunked = vl == 7 && strncasecmp(v, "chunked", 7) == 0;
    } else if (nl == 4 && strncasecmp(name, "Host", 4) == 0) {
        h->hosts++;
        h->host = v;
        h->host_len = vl;
    }
    return 0;
}

/* One header (or trailer) line: NAME ":" OWS VALUE OWS. */
static int check_field(const char *l, size_t n, struct head *h, char *why)
{
    if (l[0] == ' ' || l[0] == '\t') return say(why, 400, "header line starting with whitespace (obs-fold) is not accepted");
    size_t m = 0;
    while (m < n && is_tchar((unsigned char)l[m])) m++;
    if (m == n) return say(why, 400, "header line without a colon");
    if (l[m] != ':') {
        if (l[m] == ' ' || l[m] == '\t') return say(why, 400, "whitespace before the colon of a header line");
        return say(why, 400, "invalid character in a header name");
    }
    if (m == 0) return say(why, 400, "header line with an empty name");
    size_t vs = m + 1, ve = n;
    while (vs < ve && (l[vs] == ' ' || l[vs] == '\t')) vs++;
    while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t')) ve--;
    for (size_t i = m + 1; i < n; i++)
        if (!is_value_byte((unsigned char)l[i])) return say(why, 400, "control character in a header value");
    return h ? note_field(l, m, l + vs, ve - vs, h, why) : 0;
}

/* ---- hosts ------------------------------------------------------------------------------ */

/* Splits "host[:port]" / "[v6][:port]" into its host (brackets dropped). Returns 0 if
 * it is a valid uri-host with an optional port (RFC 3986), -1 otherwise. */
static int split_host(const char *s, size_t n, const char **host, size_t *hl)
{
    size_t end = n;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) return -1;
        for (const char *p = s + 1; p < close; p++) if (!strchr("0123456789abcdefABCDEF:.", *p)) return -1;
        *host = s + 1;
        *hl = (size_t)(close - s - 1);
        end = (size_t)(close - s + 1);
    } else {
        const char *colon = memchr(s, ':', n);
        end = colon ? (size_t)(colon - s) : n;
        for (size_t i = 0; i < end; i++)
            if (!isalnum((unsigned char)s[i]) && !strchr("-._~%!$&'()*+,;=", s[i])) return -1;
        *host = s;
        *hl = end;
    }
    if (end < n && s[end] != ':') return -1;
    for (size_t i = end + 1; i < n; i++) if (s[i] < '0' || s[i] > '9') return -1;
    return 0;
}

static int same_name(const char *a, size_t al, const char *b)
{
    size_t bl = strlen(b);
    if (al && a[al - 1] == '.') al--;   /* "localhost." is "localhost" */
    return al == bl && strncasecmp(a, b, al) == 0;
}

static int is_loopback_name(const char *h, size_t n)
{
    if (same_name(h, n, "localhost")) return 1;
    if (n > 10 && same_name(h + n - 10, 10, ".localhost")) return 1;   /* RFC 6761 */
    char ip[64];
    unsigned char a[16];
    if (n >= sizeof ip) return 0;
    memcpy(ip, h, n);
    ip[n] = '\0';
    if (inet_pton(AF_INET, ip, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, ip, a) != 1) return 0;
    static const unsigned char one[16] = {[15] = 1}, mapped[12] = {[10] = 0xff, [11] = 0xff};
    return memcmp(a, one, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
}

/* Whether h is the address the client connected to (an IP literal naming this server). */
static int is_own_address(int fd, const char *h, size_t n)
{
    char ip[64];
    unsigned char want[16], have[16];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (n >= sizeof ip || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) return 0;
    memcpy(ip, h, n);
    ip[n] = '\0';
    memset(want, 0, 16);
    memset(have, 0, 16);
    if (inet_pton(AF_INET, ip, want + 12) == 1) want[10] = want[11] = 0xff;
    else if (inet_pton(AF_INET6, ip, want) != 1) return 0;
    if (ss.ss_family == AF_INET) {
        have[10] = have[11] = 0xff;
        memcpy(have + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        memcpy(have, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    }
    return memcmp(want, have, 16) == 0;
}

static int host_allowed(int fd, const char *h, size_t n)
{
    if (allow_any || n == 0 || is_loopback_name(h, n) || is_own_address(fd, h, n)) return 1;
    for (int i = 0; i < nallowed; i++) if (same_name(h, n, allowed[i])) return 1;
    return 0;
}

/* The Host rules: syntax, then whose name it is (the absolute-form authority wins). */
static int check_host(int fd, struct head *h, char *why)
{
    const char *host;
    size_t hl;
    if (!h->http10 && h->hosts == 0) return say(why, 400, "missing required Host header");
    if (h->hosts > 1) return say(why, 400, "too many Host headers");
    if (h->hosts && split_host(h->host, h->host_len, &host, &hl) < 0) return say(why, 400, "invalid Host header");
    if (h->authority && split_host(h->authority, h->authority_len, &host, &hl) < 0)
        return say(why, 400, "invalid authority in the request target");
    if ((h->hosts || h->authority) && !host_allowed(fd, host, hl))
        return say(why, 421, "host %.*s is not served here: only loopback names%s%s (DNS rebinding defence)",
                   (int)(hl < 64 ? hl : 64), host, allow_setting ? ", the server's address and " : " and the server's address",
                   allow_setting ? allow_setting : "");
    return 0;
}

/* One -allowhost entry: a host name or IPv4 address, or an IPv6 address with or
 * without brackets; no port. Returns 0 and copies the host into out, or -1. */
static int allow_entry(const char *p, size_t n, char out[HOST_MAX])
{
    const char *host;
    size_t hl;
    char v6[HOST_MAX];
    unsigned char a[16];
    if (n == 0 || n >= HOST_MAX) return -1;
    memcpy(v6, p, n);
    v6[n] = '\0';
    if (inet_pton(AF_INET6, v6, a) == 1) { memcpy(out, v6, n + 1); return 0; }
    if (split_host(p, n, &host, &hl) < 0 || hl + (p[0] == '[' ? 2 : 0) != n) return -1;
    memcpy(out, host, hl);
    out[hl] = '\0';
    return 0;
}

int reqgate_allow_hosts(const char *list, char *err, size_t errn)
{
    nallowed = allow_any = 0;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 1 && *p == '*') allow_any = 1;
        else if (nallowed == MAX_ALLOWED || allow_entry(p, n, allowed[nallowed]) < 0) {
            snprintf(err, errn, "invalid -allowhost entry \"%.*s\": want host names or addresses separated by commas",
                     (int)(n < 64 ? n : 64), p);
            return -1;
        } else {
            nallowed++;
        }
        p += n + (p[n] == ',');
    }
    return 0;
}

/* ---- the stream ------------------------------------------------------------------------- */

/* Makes room for at least `want` more bytes (within BUF_MAX). Returns the room. */
static size_t room(struct gate *g, size_t want)
{
    if (g->start) {
        memmove(g->buf, g->buf + g->start, g->len - g->start);
        g->len -= g->start;
        g->ready -= g->start;
        g->start = 0;
    }
    size_t cap = g->cap;
    while (cap - g->len < want && cap < BUF_MAX) cap *= 2;
    if (cap > BUF_MAX) cap = BUF_MAX;
    char *b = cap != g->cap ? mremap(g->buf, g->cap, cap, MREMAP_MAYMOVE) : g->buf;
    if (b != MAP_FAILED) { g->buf = b; g->cap = cap; }
    return g->cap - g->len;
}

/* Checks a whole head; returns 0 and sets the stage for its body, or a status. */
static int check_head(struct gate *g, int fd, const char *p, size_t n)
{
    struct head h = {0};
    const char *end = p + n, *line;
    long len = next_line(&p, end, &line);
    int st = check_request_line(line, (size_t)len, &h, g->why), fields = 0;
    while (!st && (len = next_line(&p, end, &line)) > 0)
        st = ++fields > REQGATE_MAX_FIELDS ? say(g->why, 431, "more than %d header lines", REQGATE_MAX_FIELDS)
                                           : check_field(line, (size_t)len, &h, g->why);
    if (st) return st;
    if (h.encodings && h.lengths) return say(g->why, 400, "Transfer-Encoding together with Content-Length");
    if (h.encodings && (h.encodings > 1 || !h.chunked))
        return say(g->why, 501, "unsupported Transfer-Encoding (only chunked)");
    if ((st = check_host(fd, &h, g->why))) return st;
    g->stage = h.chunked ? IN_CHUNK_LINE : h.length ? IN_BODY : IN_HEAD;
    g->left = h.length;
    return 0;
}

/* Replaces the unchecked bytes (from the refused head on) with the placeholder. */
static void refuse_head(struct gate *g, int status)
{
    g->status = status;
    g->stage = REFUSED;
    g->len = g->ready;
    if (room(g, sizeof placeholder) < sizeof placeholder) {   /* cannot grow: a reset instead */
        g->reset = 1;
        return;
    }
    memcpy(g->buf + g->ready, placeholder, sizeof placeholder - 1);
    g->len = g->ready += sizeof placeholder - 1;
    g->refused_head = ++g->heads;
}

/* A broken chunked body: answered here (libmicrohttpd is reading the body, so nothing
 * else writes on fd), and the connection is reset for libmicrohttpd. */
static void refuse_body(struct gate *g, int fd, const char *why)
{
    conns_send_error(fd, 400, why, 0);
    conns_linger_close(fd);
    g->reset = 1;
    g->stage = REFUSED;
    if (reqgate_on_refusal) reqgate_on_refusal(400);
}

/* Moves `ready` over a head once it is all there: leading empty lines are dropped
 * (RFC 9112 2.2), the head checked. Returns 1 to go on, 0 when more bytes are needed. */
static int pass_head(struct gate *g, int fd)
{
    char *p = g->buf + g->ready;
    size_t avail = g->len - g->ready, i = g->scanned, skip = 0;
    while (i == 0 && skip < avail && (p[skip] == '\n' || (p[skip] == '\r' && skip + 1 < avail && p[skip + 1] == '\n')))
        skip += p[skip] == '\n' ? 1 : 2;
    if (skip) {
        memmove(p, p + skip, avail - skip);
        g->len -= skip;
        return 1;
    }
    for (const char *lf; i < avail && (lf = memchr(p + i, '\n', avail - i)); i = (size_t)(lf - p) + 1) {
        size_t at = (size_t)(lf - p);
        if (i > 0 && (at == i || (at == i + 1 && p[i] == '\r'))) {   /* the empty line */
            int st = check_head(g, fd, p, at + 1);
            g->scanned = 0;
            if (st) { refuse_head(g, st); return 0; }
            g->ready += at + 1;
            g->heads++;
            return 1;
        }
    }
    g->scanned = i;
    if (avail > REQGATE_MAX_HEAD || (i == 0 && avail > REQGATE_MAX_LINE)) {
        int st = i == 0 ? say(g->why, 414, "request line over %d bytes", REQGATE_MAX_LINE)
                        : say(g->why, 431, "request head over %d bytes", REQGATE_MAX_HEAD);
        refuse_head(g, st);
    }
    return 0;
}

/* A chunk-size line: HEXDIG{1,16} [";" extensions without control bytes] CRLF. */
static int pass_chunk_line(struct gate *g, int fd)
{
    char *p = g->buf + g->ready;
    size_t avail = g->len - g->ready;
    const char *lf = memchr(p, '\n', avail), *line = p;
    if (!lf) {
        if (avail > CHUNK_LINE_MAX) refuse_body(g, fd, "invalid chunked body: chunk size line too long");
        return 0;
    }
    size_t n = (size_t)(lf - p), m = 0;
    if (n && line[n - 1] == '\r') n--;
    uint64_t size = 0;
    while (m < n && m < 16 && isxdigit((unsigned char)line[m])) {
        int c = (unsigned char)line[m++];
        size = size * 16 + (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    int bad = m == 0 || size > (uint64_t)INT64_MAX || (m < n && line[m] != ';');
    for (size_t i = m; !bad && i < n; i++) bad = !is_value_byte((unsigned char)line[i]);
    if (bad) { refuse_body(g, fd, "invalid chunked body: bad chunk size line"); return 0; }
    g->ready += (size_t)(lf - p) + 1;
    g->left = size;
    g->stage = size ? IN_CHUNK_DATA : IN_TRAILER;
    return 1;
}

/* The CRLF after a chunk's data, or a trailer line (the empty one ends the body). */
static int pass_line_end_or_trailer(struct gate *g, int fd)
{
    char *p = g->buf + g->ready;
    size_t avail = g->len - g->ready;
    const char *lf = memchr(p, '\n', avail);
    if (!lf) {
        if (avail > REQGATE_MAX_HEAD) refuse_body(g, fd, "invalid chunked body: trailer line too long");
        return 0;
    }
    size_t n = (size_t)(lf - p) - (lf > p && lf[-1] == '\r');
    if (g->stage == IN_CHUNK_END && n) { refuse_body(g, fd, "invalid chunked body: data longer than its chunk size"); return 0; }
    if (g->stage == IN_TRAILER && n && check_field(p, n, NULL, g->why)) { refuse_body(g, fd, g->why); return 0; }
    g->ready += (size_t)(lf - p) + 1;
    g->stage = g->stage == IN_CHUNK_END ? IN_CHUNK_LINE : n ? IN_TRAILER : IN_HEAD;
    return 1;
}

static int pass_data(struct gate *g)
{
    size_t n = g->len - g->ready < g->left ? g->len - g->ready : (size_t)g->left;
    g->ready += n;
    g->left -= n;
    if (!g->left) g->stage = g->stage == IN_BODY ? IN_HEAD : IN_CHUNK_END;
    return 1;
}

/* Checks as much of buf[ready, len) as can be checked now. */
static void check(struct gate *g, int fd)
{
    int more = 1;
    while (more && g->ready < g->len) {
        switch (g->stage) {
        case IN_HEAD: more = pass_head(g, fd); break;
        case IN_BODY: case IN_CHUNK_DATA: more = pass_data(g); break;
        case IN_CHUNK_LINE: more = pass_chunk_line(g, fd); break;
        case IN_CHUNK_END: case IN_TRAILER: more = pass_line_end_or_trailer(g, fd); break;
        case REFUSED: more = 0; break;
        }
    }
}

/* Copies checked bytes out; returns how many. */
static size_t take(struct gate *g, char *out, size_t n)
{
    size_t k = g->ready - g->start < n ? g->ready - g->start : n;
    memcpy(out, g->buf + g->start, k);
    g->start += k;
    if (g->start == g->len) g->start = g->ready = g->len = 0;
    return k;
}

/* One read from the kernel into the buffer (at least `want` bytes of room: a head
 * grows it, up to BUF_MAX). Returns what recv returned; *drained when the kernel has
 * nothing more now (a short read, unless the client has closed: then the end-of-file
 * is still to be read). */
static ssize_t fill(struct gate *g, int fd, size_t want, int *drained)
{
    size_t space = room(g, want);
    ssize_t r;
    if (!space) { *drained = 1; return 0; }   /* (cannot happen: a head over the limit is refused first) */
    do r = sys_recv(fd, g->buf + g->len, space, 0); while (r < 0 && errno == EINTR);
    if (r > 0) g->len += (size_t)r;
    if (r == 0) g->eof = 1;
    *drained = r < 0 || ((size_t)r < space && !conns_peer_closed(fd));
    return r;
}

/* Body bytes while nothing is held: straight from the kernel into out, at most what
 * the body (or chunk) has left. Returns what recv returned. */
static ssize_t pass_direct(struct gate *g, int fd, char *out, size_t n, int *drained)
{
    if (n > g->left) n = (size_t)g->left;
    ssize_t r;
    do r = sys_recv(fd, out, n, 0); while (r < 0 && errno == EINTR);
    if (r > 0) {
        g->left -= (uint64_t)r;
        if (!g->left) g->stage = g->stage == IN_BODY ? IN_HEAD : IN_CHUNK_END;
    }
    if (r == 0) g->eof = 1;
    *drained = r < 0 || ((size_t)r < n && !conns_peer_closed(fd));
    return r;
}

static ssize_t gate_recv(struct gate *g, int fd, char *out, size_t len)
{
    size_t got = take(g, out, len);
    int drained = 0;
    while (got < len && !drained && !g->eof && g->stage != REFUSED) {
        int direct = g->start == g->len && (g->stage == IN_BODY || g->stage == IN_CHUNK_DATA);
        ssize_t r = direct ? pass_direct(g, fd, out + got, len - got, &drained) : fill(g, fd, BUF_INITIAL, &drained);
        if (r < 0 && !got) return -1;   /* errno as the kernel set it (EAGAIN, a reset...) */
        if (direct) { got += r > 0 ? (size_t)r : 0; continue; }
        check(g, fd);
        if (g->reset) { errno = ECONNRESET; return -1; }
        got += take(g, out + got, len - got);
    }
    if (g->stage == REFUSED && !got) { errno = g->reset ? ECONNRESET : EAGAIN; return -1; }
    if (g->eof && g->ready == g->start) {
        g->start = g->ready = g->len = 0;   /* a head cut short by the end can never complete */
        if (got) shutdown(fd, SHUT_RD);     /* the edge on which libmicrohttpd reads the 0 */
        return (ssize_t)got;
    }
    if (!got) { errno = EAGAIN; return -1; }
    return (ssize_t)got;
}

/* ---- the process's recv -----------------------------------------------------------------
 *
 * This definition is every library's recv: memdemo's executable defines it, and
 * libgcprof.so exports it, so that the libmicrohttpd it dlopens late binds to it (a
 * hidden one would leave that libmicrohttpd on libc's, and the gate off). Preloaded,
 * it is then also the watched program's recv, so a call on a descriptor the gate does
 * not hold must be libc's call exactly: it goes, unchanged, to the next recv in the
 * lookup order (libc's, or a sanitizer's interceptor), found by dlsym(RTLD_NEXT) once,
 * which keeps errno, blocking, signal and cancellation behaviour as they are. What
 * such a call pays is a bounds check, two atomic loads and an indirect call
 * (bench/recvpass measures it against libc's recv). The static variant
 * (gcprof-wrap.o, built with GCINTERPOSE_WRAP) defines it weak, so that it links
 * into a program that defines one (memdemo's own objects: the program's wins, and
 * the gate then never sees -http's bytes, as in a preloaded program that exports its
 * own), and the link options export it (gcprof-wrap.opts: an executable exports only
 * what a library it links against asks for, and the libmicrohttpd -http dlopens is
 * not one). */
#ifdef GCINTERPOSE_WRAP
#define REQGATE_RECV_VISIBILITY __attribute__((visibility("default"), weak))
#else
#define REQGATE_RECV_VISIBILITY __attribute__((visibility("default")))
#endif

typedef ssize_t recv_fn(int fd, void *buf, size_t len, int flags);
static _Atomic(recv_fn *) next_recv;

/* The next recv (the raw system call if the loader has none). Any thread: racing
 * first callers store the same value. */
static recv_fn *find_next_recv(void)
{
    recv_fn *f = atomic_load_explicit(&next_recv, memory_order_relaxed);
    if (f) return f;
    f = (recv_fn *)dlsym(RTLD_NEXT, "recv");
    if (!f) f = sys_recv;
    atomic_store_explicit(&next_recv, f, memory_order_relaxed);
    return f;
}

/* Looked up at load, so that a program's first recv pays no dlsym (a call before this
 * constructor, from an earlier one, looks it up itself). */
__attribute__((constructor)) static void reqgate_load(void) { find_next_recv(); }

REQGATE_RECV_VISIBILITY ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    struct gate *g = flags == 0 && len ? gate_of(fd) : NULL;
    return g ? gate_recv(g, fd, buf, len) : find_next_recv()(fd, buf, len, flags);
}

/* ---- per connection ---------------------------------------------------------------- */

int reqgate_start(int max_fd)
{
    struct gate_table *t = atomic_load_explicit(&gates, memory_order_acquire);
    if (t && t->n >= max_fd) return 0;   /* a server started before left it (see struct gate_table) */
    struct gate_table *bigger = calloc(1, sizeof *bigger + (size_t)max_fd * sizeof bigger->slot[0]);
    if (!bigger) return -1;
    bigger->n = max_fd;
    atomic_store_explicit(&gates, bigger, memory_order_release);
    free(t);   /* only between servers, before any connection (reqgate.h) */
    return 0;
}

void reqgate_stop(void)
{
    struct gate_table *t = atomic_load_explicit(&gates, memory_order_acquire);
    for (int fd = 0; t && fd < t->n; fd++) reqgate_close(fd);
}

int reqgate_open(int fd)
{
    _Atomic(struct gate *) *slot = slot_of(fd);
    if (!slot) return -1;
    struct gate *g = calloc(1, sizeof *g);
    char *b = mmap(NULL, BUF_INITIAL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!g || b == MAP_FAILED) {
        free(g);
        if (b != MAP_FAILED) munmap(b, BUF_INITIAL);
        return -1;
    }
    g->buf = b;
    g->cap = BUF_INITIAL;
    atomic_store_explicit(slot, g, memory_order_release);
    return 0;
}

void reqgate_close(int fd)
{
    _Atomic(struct gate *) *slot = slot_of(fd);
    if (!slot) return;
    struct gate *g = atomic_exchange(slot, NULL);
    if (!g) return;
    munmap(g->buf, g->cap);
    free(g);
}

int reqgate_verdict(int fd, const char **why)
{
    struct gate *g = gate_of(fd);
    if (!g || ++g->seen != g->refused_head) return 0;
    *why = g->why;
    return g->status;
}
