/* fuzz_http: request bytes, sent over loopback to memdemo's whole HTTP server running
 * in this process (the acceptor, conns, the request gate, libmicrohttpd, the routes and
 * handlers), by a client that then shuts down writing and reads until the end.
 *
 * Properties: the server closes the connection within a few seconds of the client's
 * FIN (whatever state the request was in); what it sent is a sequence of whole HTTP/1.x
 * responses (status line, header lines, a body framed by Content-Length or chunked, or
 * by the close for the last one; a HEAD's answer has no body), at most one per request
 * the input could hold; every error (4xx, 5xx) is one line of text/plain with
 * X-Content-Type-Options: nosniff, never libmicrohttpd's HTML page (a memdemo error
 * line may quote the path, "<html" included, but never starts with it); and afterwards the
 * server still answers a plain request with 200.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gc/gcheap.h"
#include "profile/sampler.h"
#include "profile/trace.h"
#include "src/app.h"
#include "src/debug_surface.h"
#include "src/handlers.h"
#include "tests/fuzz/fuzz.h"

#define READ_LIMIT_MS 5000            /* the server must have closed by then */
#define ANSWER_MAX (8u << 20)

static int port;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    gcheap_init();
    gcheap_configure(&(struct gcheap_config){.gogc = 100, .maxheap = 256u << 20});
    handlers_init(1);
    debug_surface_init(*argc, *argv);
    if (sampler_init(SAMPLER_DEFAULT_RATE) < 0 || trace_init() < 0) abort();
    struct conns_limits lim = {.max = 64, .max_per_addr = 0, .header_ns = 2 * CONNS_SECOND,
                               .read_ns = 2 * CONNS_SECOND, .write_ns = 5 * CONNS_SECOND,
                               .idle_ns = 2 * CONNS_SECOND};
    char url[128];
    if (app_start("127.0.0.1:0", 2, &lim, url, sizeof url) < 0) abort();
    const char *colon = strrchr(url, ':');
    port = colon ? atoi(colon + 1) : 0;
    FUZZ_CHECK(port > 0);
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FUZZ_CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    return fd;
}

/* Sends data (what the server lets through), shuts down writing, and reads until the
 * end; returns the answer's length (malloc'd into *out), or -1 if the server kept the
 * connection open past READ_LIMIT_MS. */
static long exchange(const uint8_t *data, size_t size, char **out)
{
    int fd = dial();
    for (size_t sent = 0; sent < size;) {
        ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0) break;   /* the server answered and closed early: fine */
        sent += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    char *buf = malloc(ANSWER_MAX);
    size_t len = 0;
    uint64_t until = now_ms() + READ_LIMIT_MS;
    long result = -1;
    while (buf && now_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(until - now_ms())) <= 0) continue;
        ssize_t n = recv(fd, buf + len, ANSWER_MAX - len, 0);
        if (n > 0 && len + (size_t)n < ANSWER_MAX) { len += (size_t)n; continue; }
        if (n > 0) break;      /* more than we keep: not a finding of this harness */
        result = (long)len;    /* end of stream (or a reset after the answer) */
        break;
    }
    close(fd);
    *out = buf;
    return result;
}

/* The value of header `name` in the head [h, end), or NULL; *vl its length. */
static const char *header(const char *h, const char *end, const char *name, size_t *vl)
{
    size_t nl = strlen(name);
    for (const char *l = h; l < end;) {
        const char *e = memchr(l, '\r', (size_t)(end - l));
        if (!e) e = end;
        if ((size_t)(e - l) > nl && strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (v < e && *v == ' ') v++;
            *vl = (size_t)(e - v);
            return v;
        }
        l = e + 2;
    }
    return NULL;
}

static int has_value(const char *h, const char *end, const char *name, const char *prefix)
{
    size_t vl;
    const char *v = header(h, end, name, &vl);
    return v && vl >= strlen(prefix) && strncasecmp(v, prefix, strlen(prefix)) == 0;
}

/* The length of a chunked body at p (through its last chunk and empty trailer), or -1. */
static long chunked_length(const char *p, size_t n)
{
    size_t i = 0;
    for (;;) {
        char *end;
        const char *crlf = memmem(p + i, n - i, "\r\n", 2);
        if (!crlf) return -1;
        unsigned long size = strtoul(p + i, &end, 16);
        if (end == p + i) return -1;
        i = (size_t)(crlf - p) + 2;
        if (size == 0) return n - i >= 2 && memcmp(p + i, "\r\n", 2) == 0 ? (long)(i + 2) : -1;
        if (n - i < size + 2 || memcmp(p + i + size, "\r\n", 2) != 0) return -1;
        i += size + 2;
    }
}

/* Checks one response at p; returns its length. */
static size_t check_response(const char *p, size_t n)
{
    FUZZ_CHECK(n >= 13 && (memcmp(p, "HTTP/1.1 ", 9) == 0 || memcmp(p, "HTTP/1.0 ", 9) == 0));
    int status = atoi(p + 9);
    FUZZ_CHECK(status >= 100 && status <= 599);
    const char *head_end = memmem(p, n, "\r\n\r\n", 4);
    FUZZ_CHECK(head_end != NULL);
    const char *body = head_end + 4, *hdrs = (const char *)memchr(p, '\n', n) + 1;
    size_t rest = n - (size_t)(body - p), vl;
    size_t blen = rest;   /* close-delimited unless framed */
    const char *cl = header(hdrs, head_end, "Content-Length", &vl);
    if (status < 200) blen = 0;
    else if (cl) {
        blen = strtoul(cl, NULL, 10);
        if (rest == 0 || (rest >= 5 && memcmp(body, "HTTP/", 5) == 0)) blen = 0;   /* a HEAD's answer */
        FUZZ_CHECK(blen <= rest);
    } else if (has_value(hdrs, head_end, "Transfer-Encoding", "chunked")) {
        long c = chunked_length(body, rest);
        FUZZ_CHECK(c >= 0);
        blen = (size_t)c;
    }
    if (status >= 400) {
        FUZZ_CHECK(has_value(hdrs, head_end, "Content-Type", "text/plain"));
        FUZZ_CHECK(has_value(hdrs, head_end, "X-Content-Type-Options", "nosniff"));
        if (blen) FUZZ_CHECK(memchr(body, '\n', blen) == body + blen - 1);   /* one line */
        FUZZ_CHECK(blen == 0 || body[0] != '<');   /* libmicrohttpd's own bodies are HTML pages */
    }
    return (size_t)(body - p) + blen;
}

/* Requests the input could hold at most: its lines that look like a request line. */
static size_t request_lines(const uint8_t *d, size_t n)
{
    size_t k = 1;
    for (size_t i = 0; i + 1 < n; i++) k += d[i] == '\n';
    return k;
}

static void check_alive(void)
{
    static const char req[] = "GET /noleaker HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    char *answer;
    long n = exchange((const uint8_t *)req, sizeof req - 1, &answer);
    FUZZ_CHECK(n >= 12 && memcmp(answer, "HTTP/1.1 200", 12) == 0);
    free(answer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *answer;
    long n = exchange(data, size, &answer);
    FUZZ_CHECK(n >= 0);   /* closed after the client's FIN, whatever state it was in */
    size_t responses = 0;
    for (size_t at = 0; at < (size_t)n; responses++) at += check_response(answer + at, (size_t)n - at);
    FUZZ_CHECK(responses <= request_lines(data, size) + 1);   /* (+1: a refusal of the connection) */
    free(answer);
    check_alive();
    return 0;
}
