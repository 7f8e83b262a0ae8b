/* test_reqgate: the request gate on a socket pair, without libmicrohttpd: the peer
 * writes what a client would, and recv() (the gate's) returns what libmicrohttpd would
 * read. Valid heads pass unchanged, however they are split; a refused head becomes the
 * placeholder request and reqgate_verdict names it; bodies pass through and the next
 * head is found after them; the end of the stream is reported once the bytes are read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "src/reqgate.h"
#include "tests/unit/unit.h"

struct pair { int ours, peer; };

static struct pair gated(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    if (reqgate_open(sv[0]) < 0) abort();
    return (struct pair){sv[0], sv[1]};
}

static void done(struct pair p)
{
    reqgate_close(p.ours);
    close(p.ours);
    close(p.peer);
}

static void send_text(struct pair p, const char *s)
{
    size_t n = strlen(s);
    if (write(p.peer, s, n) != (ssize_t)n) abort();
}

/* Everything recv hands over now, as a string ("" for none; "<eof>" appended at the
 * end of the stream, "<reset>" for a reset). */
static const char *read_all(struct pair p, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (;;) {
        ssize_t r = recv(p.ours, out + len, n - 1 - len, 0);
        if (r > 0) { len += (size_t)r; out[len] = '\0'; continue; }
        if (r == 0) strcat(out, "<eof>");
        else if (errno == ECONNRESET) strcat(out, "<reset>");
        return out;
    }
}

#define GET "GET /noleaker HTTP/1.1\r\nHost: localhost\r\n\r\n"
#define PLACEHOLDER_PREFIX "GET /%00 HTTP/1.1\r\n"

TEST(valid_head_passes_unchanged)
{
    struct pair p = gated();
    char buf[4096];
    send_text(p, GET);
    CHECK_EQ_STR(read_all(p, buf, sizeof buf), GET);
    const char *why;
    CHECK_EQ_INT(reqgate_verdict(p.ours, &why), 0);
    done(p);
}

TEST(split_head_is_held_until_complete)
{
    struct pair p = gated();
    char buf[4096];
    send_text(p, "GET /noleaker HT");
    CHECK_EQ_STR(read_all(p, buf, sizeof buf), "");
    send_text(p, "TP/1.1\r\nHost: local");
    CHECK_EQ_STR(read_all(p, buf, sizeof buf), "");
    send_text(p, "host\r\n\r");
    CHECK_EQ_STR(read_all(p, buf, sizeof buf), "");
    send_text(p, "\n");
    CHECK_EQ_STR(read_all(p, buf, sizeof buf), GET);
    done(p);
}

TEST(refused_head_becomes_the_placeholder_in_order)
{
    struct pair p = gated();
    char buf[4096];
    send_text(p, GET "POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length : 5\r\n\r\nGET /leaker HTTP/1.1\r\n\r\n");
    const char *got = read_all(p, buf, sizeof buf);
    CHECK_PREFIX(got, GET PLACEHOLDER_PREFIX);
    CHECK_NOT_CONTAINS(got, "/leaker");
    const char *why = NULL;
    CHECK_EQ_INT(reqgate_verdict(p.ours, &why), 0);      /* the first request is the client's */
    CHECK_EQ_INT(reqgate_verdict(p.ours, &why), 400);    /* the second is the placeholder */
    CHECK_EQ_STR(why, "whitespace before the colon of a header line");
    done(p);
}

TEST(each_malformed_head_is_refused_with_its_status)
{
    static const struct { const char *req; int status; } cases[] = {
        {"GET / HTTP/1.1\r\nHost: localhost\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: localhost\r\n: empty\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: localhost\r\nX: a\rb\r\n\r\n", 400},
        {"G@T / HTTP/1.1\r\nHost: localhost\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\r\n", 400},
        {"GET /?rate=1%00x HTTP/1.1\r\nHost: localhost\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: +1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"GET / HTTP/3.0\r\nHost: localhost\r\n\r\n", 505},
        {"GET / HTTP/1.1\r\nHost: rebind.example\r\n\r\n", 421},
        {"GET http://rebind.example/ HTTP/1.1\r\nHost: localhost\r\n\r\n", 421},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pair p = gated();
        char buf[4096];
        send_text(p, cases[i].req);
        CHECK_PREFIX(read_all(p, buf, sizeof buf), PLACEHOLDER_PREFIX);
        const char *why = NULL;
        CHECK_EQ_INT(reqgate_verdict(p.ours, &why), cases[i].status);
        done(p);
    }
}

TEST(bodies_pass_and_the_next_head_is_found_after_them)
{
    struct pair p = gated();
    char buf[4096];
    const char *reqs = "POST /s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 12\r\n\r\nHost : x\r\n\r\n"
                       "POST /s HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "4;e=1\r\n : \r\n0\r\nX-T: 1\r\n\r\n" GET;
    send_text(p, reqs);
    CHECK_EQ_STR(read_all(p, buf, sizeof buf), reqs);   /* header-like bytes in bodies are data */
    done(p);
}

TEST(broken_chunked_body_is_answered_and_reset)
{
    struct pair p = gated();
    char buf[4096];
    send_text(p, "POST /s HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    CHECK_CONTAINS(read_all(p, buf, sizeof buf), "<reset>");
    ssize_t n = read(p.peer, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    CHECK_PREFIX(buf, "HTTP/1.1 400 Bad Request\r\n");
    done(p);
}

TEST(end_of_stream_follows_the_last_bytes)
{
    struct pair p = gated();
    char buf[4096];
    send_text(p, GET "GET /partial HTTP/1.1\r\n");
    shutdown(p.peer, SHUT_WR);
    CHECK_EQ_STR(read_all(p, buf, sizeof buf), GET "<eof>");   /* the cut head is dropped */
    done(p);
}

TEST(head_limits_give_414_and_431)
{
    static char req[REQGATE_MAX_HEAD + 4096];
    struct pair p = gated();
    char buf[4096];
    memset(req, 'a', REQGATE_MAX_LINE + 10);
    memcpy(req, "GET /", 5);
    req[REQGATE_MAX_LINE + 10] = '\0';
    send_text(p, req);
    CHECK_PREFIX(read_all(p, buf, sizeof buf), PLACEHOLDER_PREFIX);
    const char *why;
    CHECK_EQ_INT(reqgate_verdict(p.ours, &why), 414);
    done(p);
    p = gated();
    size_t n = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: localhost\r\n");
    for (int i = 0; i <= REQGATE_MAX_FIELDS; i++) n += (size_t)sprintf(req + n, "X-%d: v\r\n", i);
    strcpy(req + n, "\r\n");
    send_text(p, req);
    CHECK_PREFIX(read_all(p, buf, sizeof buf), PLACEHOLDER_PREFIX);
    CHECK_EQ_INT(reqgate_verdict(p.ours, &why), 431);
    done(p);
}

TEST(allowhost_admits_its_names)
{
    char err[160];
    CHECK_EQ_INT(reqgate_allow_hosts("rebind.example,[2001:db8::1]", err, sizeof err), 0);
    struct pair p = gated();
    char buf[4096];
    send_text(p, "GET / HTTP/1.1\r\nHost: REBIND.example.:8080\r\n\r\nGET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n");
    CHECK_NOT_CONTAINS(read_all(p, buf, sizeof buf), "%00");
    done(p);
    CHECK_EQ_INT(reqgate_allow_hosts("good.example,bad host", err, sizeof err), -1);
    CHECK_CONTAINS(err, "bad host");
    CHECK_EQ_INT(reqgate_allow_hosts("", err, sizeof err), 0);
}

int main(void)
{
    if (reqgate_start(1024) < 0) return 1;
    RUN(valid_head_passes_unchanged);
    RUN(split_head_is_held_until_complete);
    RUN(refused_head_becomes_the_placeholder_in_order);
    RUN(each_malformed_head_is_refused_with_its_status);
    RUN(bodies_pass_and_the_next_head_is_found_after_them);
    RUN(broken_chunked_body_is_answered_and_reset);
    RUN(end_of_stream_follows_the_last_bytes);
    RUN(head_limits_give_414_and_431);
    RUN(allowhost_admits_its_names);
    reqgate_stop();
    UNIT_EXIT();
}
