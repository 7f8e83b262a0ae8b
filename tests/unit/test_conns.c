/* test_conns: src/conns without a server. Socket pairs stand in for accepted
 * connections (conns only sees descriptors and the address it is told), so a refusal's
 * 503 and a deadline's shutdown can be read from the other end. A connection whose
 * peer has written a byte nobody read has a request in progress; one with nothing
 * unread is idle (reclaimable).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "src/conns.h"
#include "tests/unit/unit.h"

#define MAX 64
#define PER_ADDR 2
#define HEADER_MS 500

struct pair { int ours, peer; };

static struct pair new_pair(void)
{
    int sv[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    return (struct pair){sv[0], sv[1]};
}

static struct sockaddr_in addr_of(int n)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(1000)};
    sa.sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)n);   /* 10.0.0.n */
    return sa;
}

static int admit_idle_from(int n, struct pair *p)
{
    *p = new_pair();
    struct sockaddr_in sa = addr_of(n);
    return conns_admit(p->ours, (struct sockaddr *)&sa, sizeof sa);
}

/* Admits a connection whose client has begun a request (a byte is waiting). */
static int admit_from(int n, struct pair *p)
{
    *p = new_pair();
    if (write(p->peer, "G", 1) != 1) abort();
    struct sockaddr_in sa = addr_of(n);
    return conns_admit(p->ours, (struct sockaddr *)&sa, sizeof sa);
}

static uint64_t stat_of(size_t offset)
{
    struct conns_stats st;
    conns_stats(&st);
    return *(const uint64_t *)((const char *)&st + offset);
}
#define STAT(field) stat_of(offsetof(struct conns_stats, field))

/* What the peer end reads within ms milliseconds: "" on EOF, NULL if nothing came. */
static const char *peer_reads(int peer, int ms, char *buf, size_t n)
{
    struct pollfd pf = {.fd = peer, .events = POLLIN};
    if (poll(&pf, 1, ms) <= 0) return NULL;
    ssize_t r = read(peer, buf, n - 1);
    buf[r > 0 ? r : 0] = '\0';
    return buf;
}

static void forget(struct pair *p)
{
    conns_forget(p->ours);
    close(p->ours);
    close(p->peer);
}

TEST(per_address_limit_refuses_with_503_and_retry_after)
{
    struct pair a[PER_ADDR + 1];
    for (int i = 0; i < PER_ADDR; i++) CHECK_EQ_INT(admit_from(1, &a[i]), 0);
    CHECK_EQ_INT(admit_from(1, &a[PER_ADDR]), -1);
    char buf[1024];
    const char *got = peer_reads(a[PER_ADDR].peer, 1000, buf, sizeof buf);
    CHECK(got && strncmp(got, "HTTP/1.1 503 ", 13) == 0);
    CHECK(strstr(got, "\r\nRetry-After: 1\r\n") != NULL);
    CHECK(strstr(got, "-max-conns-per-ip") != NULL);
    close(a[PER_ADDR].peer);
    struct pair other;
    CHECK_EQ_INT(admit_from(2, &other), 0);   /* another address is not affected */
    forget(&other);
    forget(&a[0]);
    CHECK_EQ_INT(admit_from(1, &a[0]), 0);    /* a slot freed is a slot again */
    forget(&a[0]);
    forget(&a[1]);
}

TEST(total_limit_refuses_past_max)
{
    struct pair p[MAX + 1];
    for (int i = 0; i < MAX; i++) CHECK_EQ_INT(admit_from(100 + i, &p[i]), 0);
    struct conns_stats st;
    conns_stats(&st);
    CHECK_EQ_INT(st.open, MAX);
    CHECK_EQ_INT(admit_from(999, &p[MAX]), -1);
    char buf[1024];
    const char *got = peer_reads(p[MAX].peer, 1000, buf, sizeof buf);
    CHECK(got && strstr(got, "connection limit") != NULL);
    close(p[MAX].peer);
    for (int i = 0; i < MAX; i++) forget(&p[i]);
    conns_stats(&st);
    CHECK_EQ_INT(st.open, 0);
}

/* The owner of a connection whose client left closes it LATE_MS later (a worker that
 * has not run yet). */
#define LATE_MS 50
static void *forget_late(void *arg)
{
    struct timespec ts = {0, LATE_MS * 1000000L};
    nanosleep(&ts, NULL);
    forget(arg);
    return NULL;
}

/* At the limit, a place whose client has already closed (mid-request: it sent part of
 * one) but whose owner has not yet closed it is waited for: the next client is admitted
 * in it, not refused. This is the FIN flood of tests/integration/reliability.sh with the
 * workers behind the acceptor, made deterministic. Without a close under way the
 * refusal still comes (after the wait when the owner never closes). */
TEST(a_place_whose_client_left_is_waited_for_not_refused)
{
    struct pair p[MAX + 2];
    for (int i = 0; i < MAX; i++) CHECK_EQ_INT(admit_from(300 + i, &p[i]), 0);
    uint64_t refused = STAT(refused_total);
    close(p[0].peer);   /* the client leaves; its owner has not read the end yet */
    p[0].peer = open("/dev/null", O_RDONLY);
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, forget_late, &p[0]), 0);
    CHECK_EQ_INT(admit_from(999, &p[MAX]), 0);
    pthread_join(t, NULL);
    CHECK_EQ_U64(STAT(refused_total), refused);
    close(p[1].peer);   /* this time the owner never closes it */
    CHECK_EQ_INT(admit_from(998, &p[MAX + 1]), -1);
    CHECK_EQ_U64(STAT(refused_total), refused + 1);
    close(p[MAX + 1].peer);
    p[1].peer = open("/dev/null", O_RDONLY);
    for (int i = 1; i <= MAX; i++) forget(&p[i]);
    CHECK_EQ_U64(STAT(open), 0);
}

/* Admits and forgets many addresses in a scrambled order: the per-address table's
 * deletions must keep every remaining address findable (a lost entry would let a
 * second connection in past PER_ADDR = 1 or refuse a fresh address). */
TEST(address_counts_survive_scrambled_forgetting)
{
    enum { N = MAX };
    struct pair p[N], extra;
    int live[N];
    for (int i = 0; i < N; i++) { live[i] = admit_from(500 + i, &p[i]) == 0; CHECK(live[i]); }
    unsigned seed = 7;
    for (int round = 0; round < 200; round++) {
        int i = (int)(rand_r(&seed) % N);
        if (live[i]) { forget(&p[i]); live[i] = 0; }
        else { CHECK_EQ_INT(admit_from(500 + i, &p[i]), 0); live[i] = 1; }
    }
    for (int i = 0; i < N; i++) {
        if (!live[i]) continue;
        /* PER_ADDR is 2: a second is allowed, a third must not be */
        CHECK_EQ_INT(admit_from(500 + i, &extra), 0);
        struct pair third;
        CHECK_EQ_INT(admit_from(500 + i, &third), -1);
        close(third.peer);
        forget(&extra);
    }
    for (int i = 0; i < N; i++) if (live[i]) forget(&p[i]);
}

TEST(header_deadline_shuts_the_connection_down)
{
    struct pair p;
    CHECK_EQ_INT(admit_from(3, &p), 0);
    char buf[64];
    CHECK(peer_reads(p.peer, HEADER_MS / 3, buf, sizeof buf) == NULL);   /* not yet */
    const char *got = peer_reads(p.peer, HEADER_MS * 10, buf, sizeof buf);
    CHECK(got && got[0] == '\0');   /* EOF: cut, nothing written */
    struct conns_stats st;
    conns_stats(&st);
    CHECK(st.cut[CONNS_HEADER] >= 1);
    forget(&p);
}

TEST(deferred_connection_has_no_deadline)
{
    struct pair p;
    CHECK_EQ_INT(admit_from(4, &p), 0);
    conns_enter(p.ours, CONNS_DEFERRED);
    char buf[64];
    CHECK(peer_reads(p.peer, HEADER_MS * 3, buf, sizeof buf) == NULL);
    conns_enter(p.ours, CONNS_WRITE);   /* write timeout is 0 here: still none */
    CHECK(peer_reads(p.peer, HEADER_MS * 2, buf, sizeof buf) == NULL);
    forget(&p);
}

TEST(body_deadline_counts_from_the_request_start)
{
    struct pair p;
    CHECK_EQ_INT(admit_from(5, &p), 0);
    conns_enter(p.ours, CONNS_HEADER);   /* a no-op: the clock still runs from admission */
    conns_enter(p.ours, CONNS_BODY);     /* read timeout is 2 x HEADER_MS from the start */
    char buf[64];
    CHECK(peer_reads(p.peer, HEADER_MS, buf, sizeof buf) == NULL);
    const char *got = peer_reads(p.peer, HEADER_MS * 10, buf, sizeof buf);
    CHECK(got && got[0] == '\0');
    struct conns_stats st;
    conns_stats(&st);
    CHECK(st.cut[CONNS_BODY] >= 1);
    forget(&p);
}

/* Busy connections are kept; the idle one longest idle gives its place to a new one. */
TEST(idle_connections_are_reclaimed_oldest_first)
{
    struct pair old, young, fresh, busy;
    uint64_t before = STAT(reclaimed);
    CHECK_EQ_INT(admit_idle_from(7, &old), 0);
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    CHECK_EQ_INT(admit_idle_from(7, &young), 0);
    CHECK_EQ_INT(admit_idle_from(7, &fresh), 0);   /* PER_ADDR is 2: one had to go */
    char buf[64];
    const char *got = peer_reads(old.peer, 1000, buf, sizeof buf);
    CHECK(got && got[0] == '\0');                   /* the oldest: shut down, nothing written */
    CHECK(peer_reads(young.peer, 100, buf, sizeof buf) == NULL);
    CHECK_EQ_U64(STAT(reclaimed), before + 1);
    CHECK_EQ_INT(admit_from(7, &busy), 0);          /* in `young`'s place */
    got = peer_reads(young.peer, 1000, buf, sizeof buf);
    CHECK(got && got[0] == '\0');
    struct pair busy2, refused;
    CHECK_EQ_INT(admit_from(7, &busy2), 0);         /* in `fresh`'s place */
    CHECK_EQ_INT(admit_from(7, &refused), -1);      /* both busy now: 503 */
    close(refused.peer);
    CHECK_EQ_U64(STAT(reclaimed), before + 3);
    forget(&old);
    forget(&young);
    forget(&fresh);
    forget(&busy);
    forget(&busy2);
}

TEST(a_client_close_is_noticed_at_once)
{
    struct pair p;
    CHECK_EQ_INT(admit_from(8, &p), 0);
    CHECK_EQ_INT(conns_peer_closed(p.ours), 0);
    close(p.peer);
    for (int i = 0; i < 100 && !conns_peer_closed(p.ours); i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ_INT(conns_peer_closed(p.ours), 1);
    conns_forget(p.ours);
    close(p.ours);
}

/* A refused connection's socket outlives its owner's close until its client is done. */
TEST(refused_connection_lingers_until_its_client_closes)
{
    struct pair p;
    uint64_t before = STAT(lingered);
    CHECK_EQ_INT(admit_from(9, &p), 0);
    conns_linger_close(p.ours);
    conns_forget(p.ours);
    close(p.ours);
    CHECK_EQ_U64(STAT(lingered), before + 1);
    CHECK_EQ_U64(STAT(lingering), 1);
    char more[4096] = {0};
    CHECK_EQ_INT(write(p.peer, more, sizeof more), (long long)sizeof more);   /* still open: drained */
    char buf[8];
    const char *got = peer_reads(p.peer, 1000, buf, sizeof buf);
    CHECK(got && got[0] == '\0');                   /* our side: shut for writing */
    close(p.peer);
    for (int i = 0; i < 100 && STAT(lingering); i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ_U64(STAT(lingering), 0);
}

int main(void)
{
    struct conns_limits l = {
        .max = MAX, .max_per_addr = PER_ADDR,
        .header_ns = HEADER_MS * INT64_C(1000000), .read_ns = 2 * HEADER_MS * INT64_C(1000000),
        .write_ns = 0, .idle_ns = 0,
    };
    if (conns_start(&l) < 0) return 1;
    RUN(per_address_limit_refuses_with_503_and_retry_after);
    RUN(total_limit_refuses_past_max);
    RUN(address_counts_survive_scrambled_forgetting);
    RUN(header_deadline_shuts_the_connection_down);
    RUN(deferred_connection_has_no_deadline);
    RUN(body_deadline_counts_from_the_request_start);
    RUN(idle_connections_are_reclaimed_oldest_first);
    RUN(a_place_whose_client_left_is_waited_for_not_refused);
    RUN(a_client_close_is_noticed_at_once);
    RUN(refused_connection_lingers_until_its_client_closes);
    conns_stop();
    UNIT_EXIT();
}
