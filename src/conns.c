/* conns: admission, deadlines, closes and the watchdog. See conns.h.
 *
 * Each descriptor's slot holds one atomic word: the phase in the top 4 bits and the
 * deadline (milliseconds on CLOCK_MONOTONIC, 0 = none) below, so that the watchdog
 * always reads a phase together with its own deadline, and workers change phases
 * without a lock. The request's start needs no word of its own: a HEADER deadline is
 * start + header_ms(), so BODY recovers the start from it. `lock` guards what
 * connects a slot to the outside: admission (the counts), forgetting, reclaiming, and
 * the watchdog's cuts. A cut is a compare-and-swap to CUT followed by shutdown() while
 * holding `lock`; conns_forget takes `lock` before the owner closes the descriptor, so
 * a cut can only reach the connection it was meant for.
 *
 * The watchdog sleeps in epoll_wait on one set holding every admitted connection
 * (EPOLLRDHUP, edge-triggered: the client's FIN) and every lingering one (EPOLLIN: its
 * bytes to drain), so both are handled when they happen, and deadlines on a TICK_MS
 * tick. Why the FIN needs watching: libmicrohttpd 0.9.75 reads a socket once per
 * readiness edge, so when the end of a partial request and the FIN arrive in one
 * segment it never reads the end-of-file and holds the connection until a deadline.
 * Shutting our side for reading raises a fresh edge; libmicrohttpd then reads the rest
 * and the end, and closes as it does on any end-of-file. An event carries the slot's
 * generation, so one that was queued before its descriptor was reused is ignored.
 *
 * Per-address counts live in an open-addressing table (linear probing, backward-shift
 * deletion) sized to twice the connection limit, so it never fills. Addresses are
 * IPv6-sized; IPv4 ones are stored v4-mapped, so both spellings count as one client.
 */
#include "src/conns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>   /* SIOCINQ */
#include <linux/tcp.h>   /* struct tcp_info with tcpi_bytes_received (glibc's lacks it) */
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gc/clock.h"

#define TICK_MS 100             /* watchdog period: deadlines are kept to about this */
#define LINGER_MAX 512          /* refused connections being closed at once; more are closed at once */
#define LINGER_MS 5000          /* how long a refused client may take to read its answer */
#define LINGER_QUIET_MS 1000    /* ... or this long without sending anything */
#define LINGER_BYTES (16u << 20)   /* ... or until it has sent this much more */
#define FD_HEADROOM 256         /* descriptors besides connections: listener, epoll, files */
#define EVENTS_MAX 64           /* epoll events the watchdog takes at once */
#define TRIM_MIN_PEAK 64        /* a "storm": at least this many connections, then a quarter */
#define TRIM_DELAY_MS 500       /* libmicrohttpd frees a connection a little after closing it */
#define CLOSING_WAIT_MS (CONNS_RETRY_AFTER_SECONDS * 1000)   /* see make_room */
#define CLOSING_STEP_MS 10      /* its re-checks while it waits */

#define PHASE_SHIFT 60
#define DEADLINE_MASK ((UINT64_C(1) << PHASE_SHIFT) - 1)
#define PACK(phase, deadline) (((uint64_t)(phase) << PHASE_SHIFT) | ((deadline) & DEADLINE_MASK))
#define PHASE_OF(word) ((enum conns_phase)((word) >> PHASE_SHIFT))
#define DEADLINE_OF(word) ((word) & DEADLINE_MASK)

/* Epoll event data: a connection is its descriptor and its slot's generation; a
 * lingering one is tagged; the wake-up is its own value. */
#define EV_LINGER (UINT64_C(1) << 62)
#define EV_WAKE (UINT64_C(1) << 63)
#define GEN_MASK ((UINT32_C(1) << 30) - 1)
#define EV_CONN(fd, gen) (((uint64_t)((gen) & GEN_MASK) << 32) | (uint32_t)(fd))

enum {
    SLOT_PEER_CLOSED = 1,   /* the client's FIN was seen (and our side shut for reading) */
    SLOT_RECLAIMED = 2,     /* cut to admit another: its counts are already given back */
    SLOT_LINGER = 4,        /* close it with a lingering close (conns_linger_close) */
};

struct slot {
    _Atomic uint64_t state;   /* PACK(phase, deadline) */
    _Atomic uint64_t since;   /* ms: when its last request or idle period began (reclaim order) */
    uint64_t idle_word, idle_rx;   /* watchdog only: the IDLE state it sampled, bytes received then */
    uint32_t gen;             /* lock: admissions of this descriptor so far */
    _Atomic unsigned flags;   /* SLOT_* */
    unsigned char addr[16];
};

struct lingering {
    int fd;
    uint64_t until_ms, quiet_ms;   /* hard end; end unless the client sends more */
    uint64_t drained;              /* bytes read and dropped */
};

struct addr_count {
    unsigned char addr[16];
    uint32_t count;           /* 0: empty */
};

static struct conns_limits lim;
static struct slot *slots;
static int nslots, high_fd;   /* slots in the table; 1 + the highest admitted descriptor */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t forgotten;   /* with lock: conns_forget gave a place back */
static int forgotten_ready;
static uint64_t open_count, peak_since_trim, trim_due_ms;
static struct addr_count *addrs;
static size_t addr_mask;
static struct lingering linger[LINGER_MAX];
static int nlinger, linger_cap;   /* linger_cap: what the descriptor budget allows */
static int epfd = -1, wake_fd = -1;

static _Atomic uint64_t n_accepted, n_refused_total, n_refused_addr, n_trims;
static _Atomic uint64_t n_cut[CONNS_NPHASES];
static _Atomic uint64_t n_peer_closed, n_reclaimed, n_lingered;

static pthread_t watchdog;
static int watchdog_started, watchdog_stop;

static uint64_t now_ms(void) { return clock_mono_ns() / 1000000u; }

static uint64_t ns_to_ms(int64_t ns) { return ns <= 0 ? 0 : (uint64_t)((ns + 999999) / 1000000); }

/* ---- per-address counts (called with lock held) ------------------------------------ */

static void addr_key(const struct sockaddr *sa, socklen_t sl, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET && sl >= sizeof(struct sockaddr_in)) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6 && sl >= sizeof(struct sockaddr_in6)) {
        memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    }   /* anything else (no address): all such clients share the zero key */
}

static size_t addr_hash(const unsigned char key[16])
{
    uint64_t h = 1469598103934665603u;   /* FNV-1a */
    for (int i = 0; i < 16; i++) h = (h ^ key[i]) * 1099511628211u;
    return (size_t)h & addr_mask;
}

static size_t addr_find(const unsigned char key[16])
{
    size_t i = addr_hash(key);
    while (addrs[i].count && memcmp(addrs[i].addr, key, 16) != 0) i = (i + 1) & addr_mask;
    return i;
}

/* Empties slot i and shifts later entries of its probe run back into the hole. */
static void addr_delete(size_t i)
{
    addrs[i].count = 0;
    for (size_t j = (i + 1) & addr_mask; addrs[j].count; j = (j + 1) & addr_mask) {
        size_t home = addr_hash(addrs[j].addr);
        int movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            addrs[i] = addrs[j];
            addrs[j].count = 0;
            i = j;
        }
    }
}

static void addr_release(const unsigned char key[16])
{
    size_t i = addr_find(key);
    if (addrs[i].count && --addrs[i].count == 0) addr_delete(i);
}

/* ---- writing refusals and lingering closes ------------------------------------------- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 421: return "Misdirected Request";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

void conns_send_error(int fd, int status, const char *line, int retry_after)
{
    char retry[48] = "", msg[768];
    if (retry_after > 0) snprintf(retry, sizeof retry, "Retry-After: %d\r\n", retry_after);
    int body = (int)strlen(line) + 1;
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "X-Content-Type-Options: nosniff\r\n%s"
                     "Connection: close\r\nContent-Length: %d\r\n\r\n%s\n",
                     status, reason_phrase(status), retry, body, line);
    if (n > 0 && n < (int)sizeof msg) (void)!send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
}

/* Reads and drops what the client sent, adding it to *drained, until nothing is left
 * or *drained reaches LINGER_BYTES. Returns 1 once the client has closed its side or
 * the socket failed, 0 otherwise. */
static int drain(int fd, uint64_t *drained)
{
    char sink[16384];
    while (*drained < LINGER_BYTES) {
        ssize_t r = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (r == 0) return 1;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return !(errno == EAGAIN || errno == EWOULDBLOCK);
        *drained += (uint64_t)r;
    }
    return 0;
}

/* Takes fd, whose answer is written and whose writing side is shut, for a lingering
 * close: the watchdog drains what the client still sends, so that closing never meets
 * unread bytes (the kernel would answer them with a reset, which can destroy the
 * answer before the client reads it). Past the descriptor budget, closes it at once.
 * Called with lock held. */
static void linger_add(int fd, uint64_t now)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = EV_LINGER | (uint32_t)fd};
    if (nlinger >= linger_cap || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        return;
    }
    linger[nlinger++] = (struct lingering){fd, now + LINGER_MS, now + LINGER_QUIET_MS, 0};
    atomic_fetch_add(&n_lingered, 1);
}

/* Closing removes the descriptor from the epoll set: no other descriptor shares it. */
static void linger_close(int i)
{
    close(linger[i].fd);
    linger[i] = linger[--nlinger];
}

/* The client of lingering fd sent something or closed. Called with lock held. */
static void linger_event(int fd, uint64_t now)
{
    for (int i = 0; i < nlinger; i++) {
        if (linger[i].fd != fd) continue;
        if (drain(fd, &linger[i].drained) || linger[i].drained >= LINGER_BYTES) linger_close(i);
        else linger[i].quiet_ms = now + LINGER_QUIET_MS;
        return;
    }
}

/* Closes lingering connections whose time is up. Called with lock held. */
static void reap_lingering(uint64_t now)
{
    for (int i = 0; i < nlinger;) {
        if (now >= linger[i].until_ms || now >= linger[i].quiet_ms) linger_close(i);
        else i++;
    }
}

/* A refused connection: the 503, then a lingering close. */
static void refuse(int fd, const char *why)
{
    uint64_t drained = 0;
    drain(fd, &drained);
    conns_send_error(fd, 503, why, CONNS_RETRY_AFTER_SECONDS);
    pthread_mutex_lock(&lock);
    linger_add(fd, now_ms());
    pthread_mutex_unlock(&lock);
}

/* ---- admission, reclaiming and phases ------------------------------------------------ */

/* The time a request may take to its last header: Go's rule, ReadHeaderTimeout, or
 * ReadTimeout when that is shorter or the other is 0. 0: no deadline. */
static uint64_t header_ms(void)
{
    uint64_t d = ns_to_ms(lim.header_ns), r = ns_to_ms(lim.read_ns);
    return !d || (r && r < d) ? r : d;
}

/* The state of a request whose start is `start`, reading its headers. */
static uint64_t header_word(uint64_t start)
{
    uint64_t d = header_ms();
    return PACK(CONNS_HEADER, d ? start + d : 0);
}

static uint64_t bytes_received(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) return 0;
    return len >= offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received
               ? ti.tcpi_bytes_received : 0;
}

/* Whether the connection on fd (state word) has no request in progress: between
 * requests with nothing new since, or never sent a byte. Called with lock held. */
static int is_idle(struct slot *s, int fd, uint64_t word)
{
    int unread = 0;
    if (ioctl(fd, SIOCINQ, &unread) < 0 || unread > 0) return 0;
    if (PHASE_OF(word) == CONNS_IDLE) return s->idle_word != word || bytes_received(fd) == s->idle_rx;
    return PHASE_OF(word) == CONNS_HEADER && bytes_received(fd) == 0;
}

/* Cuts the connection idle longest (from address key, or any when key is NULL) and
 * gives its place back at once, so that a new connection is admitted in its stead, as
 * nginx reuses keep-alive connections. Returns 1 if there was one. Called with lock
 * held. */
static int reclaim_idle(const unsigned char *key)
{
    int victim = -1;
    uint64_t oldest = UINT64_MAX, victim_word = 0;
    for (int fd = 0; fd < high_fd; fd++) {
        struct slot *s = &slots[fd];
        uint64_t word = atomic_load(&s->state), since = atomic_load(&s->since);
        if (PHASE_OF(word) != CONNS_IDLE && PHASE_OF(word) != CONNS_HEADER) continue;
        if (since >= oldest || (key && memcmp(s->addr, key, 16) != 0) || !is_idle(s, fd, word)) continue;
        victim = fd;
        oldest = since;
        victim_word = word;
    }
    if (victim < 0) return 0;
    struct slot *s = &slots[victim];
    if (!atomic_compare_exchange_strong(&s->state, &victim_word, PACK(CONNS_CUT, 0))) return 0;
    shutdown(victim, SHUT_RDWR);   /* its owner sees the end and closes it */
    atomic_fetch_or(&s->flags, SLOT_RECLAIMED);
    addr_release(s->addr);
    open_count--;
    atomic_fetch_add(&n_reclaimed, 1);
    return 1;
}

/* Whether the client of the connection on fd has closed its side (its FIN or a reset
 * is in, whether or not the watchdog has seen it yet). */
static int client_left(struct slot *s, int fd)
{
    if (atomic_load(&s->flags) & SLOT_PEER_CLOSED) return 1;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Whether a connection (from address key, or any when key is NULL) that still counts
 * will give its place back as soon as its owner runs: one that was cut, or one whose
 * client closed while its request was coming in or between requests (the owner reads
 * the end and closes it; a request that was whole by then moves on to its answer, also
 * at once). Called with lock held. */
static int close_under_way(const unsigned char *key)
{
    for (int fd = 0; fd < high_fd; fd++) {
        struct slot *s = &slots[fd];
        enum conns_phase p = PHASE_OF(atomic_load(&s->state));
        if (p == CONNS_FREE || (key && memcmp(s->addr, key, 16) != 0)) continue;
        if (p == CONNS_CUT && !(atomic_load(&s->flags) & SLOT_RECLAIMED)) return 1;
        if ((p == CONNS_HEADER || p == CONNS_BODY || p == CONNS_IDLE) && client_left(s, fd)) return 1;
    }
    return 0;
}

/* Whether the limit (address key's, or the total when key is NULL) is reached. Called
 * with lock held. */
static int at_limit(const unsigned char *key)
{
    if (!key) return open_count >= (uint64_t)lim.max;
    return lim.max_per_addr > 0 && addrs[addr_find(key)].count >= (uint64_t)lim.max_per_addr;
}

/* Makes room under the limit of address key (or the total, key NULL) for one more
 * connection: reclaims an idle one, or waits (lock released meanwhile) while closes are
 * under way, up to CLOSING_WAIT_MS, the Retry-After a refusal would carry. Without the
 * wait, clients that connected, sent part of a request and closed fill the limit while
 * they wait in the listen backlog (the kernel queues their data and FIN before the
 * accept) and the acceptor admits them faster than the workers read their ends: a
 * live client behind them was refused for slots already given up. Returns 1 when
 * there is room. Called with lock held. */
static int make_room(const unsigned char *key)
{
    uint64_t until = now_ms() + CLOSING_WAIT_MS;
    while (at_limit(key)) {
        if (reclaim_idle(key)) return 1;
        if (now_ms() >= until || !close_under_way(key)) return 0;
        struct timespec ts = clock_mono_deadline((uint64_t)CLOSING_STEP_MS * 1000000u);
        pthread_cond_timedwait(&forgotten, &lock, &ts);
    }
    return 1;
}

/* Why fd from address key cannot be admitted (NULL: it can), once room has been made
 * where it can be (make_room). Called with lock held; may wait. */
static const char *refusal(int fd, const unsigned char key[16])
{
    if (fd >= nslots || !make_room(NULL)) {
        atomic_fetch_add(&n_refused_total, 1);
        return "server busy: at its connection limit (-max-conns); retry shortly";
    }
    if (!make_room(key)) {
        atomic_fetch_add(&n_refused_addr, 1);
        return "too many connections from your address (-max-conns-per-ip); retry shortly";
    }
    return NULL;
}

/* Starts tracking fd from address key. Called with lock held. */
static void install(int fd, const unsigned char key[16], uint64_t now)
{
    size_t ai = addr_find(key);
    if (!addrs[ai].count) memcpy(addrs[ai].addr, key, 16);
    addrs[ai].count++;
    struct slot *s = &slots[fd];
    memcpy(s->addr, key, 16);
    s->gen = (s->gen + 1) & GEN_MASK;
    atomic_store(&s->flags, 0);
    atomic_store(&s->since, now);
    atomic_store(&s->state, header_word(now));
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLET, .data.u64 = EV_CONN(fd, s->gen)};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);   /* if it fails, deadlines still end it */
    if (fd + 1 > high_fd) high_fd = fd + 1;
    if (++open_count > peak_since_trim) peak_since_trim = open_count;
    atomic_fetch_add(&n_accepted, 1);
}

int conns_admit(int fd, const struct sockaddr *sa, socklen_t sl)
{
    unsigned char key[16];
    addr_key(sa, sl, key);
    pthread_mutex_lock(&lock);
    const char *why = refusal(fd, key);
    if (!why) install(fd, key, now_ms());
    pthread_mutex_unlock(&lock);
    if (!why) return 0;
    refuse(fd, why);
    return -1;
}

/* The state for moving from `old` to `phase` now. */
static uint64_t next_word(uint64_t old, enum conns_phase phase, uint64_t now)
{
    uint64_t d = 0;
    switch (phase) {
    case CONNS_HEADER: return header_word(now);
    case CONNS_BODY:
        if (lim.read_ns) {   /* header_ms() > 0 here, since it is read's when header's is 0 */
            uint64_t start = PHASE_OF(old) == CONNS_HEADER && DEADLINE_OF(old) ? DEADLINE_OF(old) - header_ms() : now;
            d = start + ns_to_ms(lim.read_ns);
        }
        break;
    case CONNS_WRITE: d = lim.write_ns ? now + ns_to_ms(lim.write_ns) : 0; break;
    case CONNS_IDLE: d = lim.idle_ns ? now + ns_to_ms(lim.idle_ns) : 0; break;
    default: break;
    }
    return PACK(phase, d);
}

void conns_enter(int fd, enum conns_phase phase)
{
    if (fd < 0 || fd >= nslots) return;
    struct slot *s = &slots[fd];
    uint64_t old = atomic_load(&s->state), now = now_ms();
    for (;;) {
        enum conns_phase p = PHASE_OF(old);
        if (p == CONNS_FREE || p == CONNS_CUT) return;
        if (phase == CONNS_HEADER && p == CONNS_HEADER) return;
        if (atomic_compare_exchange_weak(&s->state, &old, next_word(old, phase, now))) break;
    }
    atomic_store_explicit(&s->since, now, memory_order_relaxed);
}

int conns_peer_closed(int fd)
{
    return fd >= 0 && fd < nslots && (atomic_load_explicit(&slots[fd].flags, memory_order_relaxed) & SLOT_PEER_CLOSED);
}

int conns_table_size(void) { return nslots; }

int64_t conns_fin_after_data_ms(int fd)
{
    /* Nothing is sent to a client while it waits, so its last segment, which the
     * kernel dates as the last ACK received, is the FIN. */
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
        len < offsetof(struct tcp_info, tcpi_last_ack_recv) + sizeof ti.tcpi_last_ack_recv)
        return -1;
    return (int64_t)ti.tcpi_last_data_recv - (int64_t)ti.tcpi_last_ack_recv;
}

void conns_linger_close(int fd)
{
    if (fd >= 0 && fd < nslots) atomic_fetch_or(&slots[fd].flags, SLOT_LINGER);
}

void conns_forget(int fd)
{
    if (fd < 0 || fd >= nslots) return;
    pthread_mutex_lock(&lock);
    struct slot *s = &slots[fd];
    uint64_t word = atomic_load(&s->state);
    if (PHASE_OF(word) != CONNS_FREE) {
        unsigned flags = atomic_exchange(&s->flags, 0);
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        if (!(flags & SLOT_RECLAIMED)) {
            addr_release(s->addr);
            open_count--;
        }
        atomic_store(&s->state, PACK(CONNS_FREE, 0));
        pthread_cond_broadcast(&forgotten);
        /* The owner closes fd after this; a duplicate keeps the socket open for the
         * lingering close (a cut connection has nothing left to say). */
        int dup_fd = (flags & SLOT_LINGER) && PHASE_OF(word) != CONNS_CUT ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
        if (dup_fd >= 0) {
            shutdown(dup_fd, SHUT_WR);
            linger_add(dup_fd, now_ms());
        }
    }
    pthread_mutex_unlock(&lock);
}

void conns_stats(struct conns_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&lock);
    out->open = open_count;
    out->lingering = (uint64_t)nlinger;
    pthread_mutex_unlock(&lock);
    out->accepted = atomic_load(&n_accepted);
    out->refused_total = atomic_load(&n_refused_total);
    out->refused_addr = atomic_load(&n_refused_addr);
    out->trims = atomic_load(&n_trims);
    out->peer_closed = atomic_load(&n_peer_closed);
    out->reclaimed = atomic_load(&n_reclaimed);
    out->lingered = atomic_load(&n_lingered);
    for (int p = 0; p < CONNS_NPHASES; p++) out->cut[p] = atomic_load(&n_cut[p]);
}

/* ---- the watchdog -------------------------------------------------------------------- */

/* The request of a keep-alive connection starts with its first byte, as in Go and
 * nginx, but libmicrohttpd only tells (the URI callback) once the whole request line
 * is in. So the watchdog notes the bytes received when it first sees a connection
 * idle; once more have arrived, the connection enters HEADER with its clock starting
 * now (to a tick). A line that arrives between two looks enters HEADER at the URI
 * callback instead. Returns the connection's state word. Called with lock held. */
static uint64_t watch_idle(struct slot *s, int fd, uint64_t word, uint64_t now)
{
    uint64_t rx = bytes_received(fd);
    if (s->idle_word != word) {   /* first look at this idle period */
        s->idle_word = word;
        s->idle_rx = rx;
        return word;
    }
    if (rx <= s->idle_rx) return word;
    uint64_t header = header_word(now);
    return atomic_compare_exchange_strong(&s->state, &word, header) ? header : word;
}

/* A connection whose client has closed, still open a tick later while its request is
 * incomplete (or it is between requests): its owner missed the end-of-file, so raise
 * the readiness edge again. (Measured under load: libmicrohttpd 0.9.75 sometimes did
 * not read after the first one.) Called with lock held. */
static void repoke(struct slot *s, int fd, uint64_t word)
{
    enum conns_phase p = PHASE_OF(word);
    if ((atomic_load(&s->flags) & SLOT_PEER_CLOSED) && (p == CONNS_HEADER || p == CONNS_BODY || p == CONNS_IDLE))
        shutdown(fd, SHUT_RD);
}

/* Shuts down every connection past its deadline. Called with lock held. */
static void cut_overdue(uint64_t now)
{
    for (int fd = 0; fd < high_fd; fd++) {
        struct slot *s = &slots[fd];
        uint64_t word = atomic_load(&s->state);
        repoke(s, fd, word);
        if (PHASE_OF(word) == CONNS_IDLE) word = watch_idle(s, fd, word, now);
        enum conns_phase p = PHASE_OF(word);
        uint64_t d = DEADLINE_OF(word);
        if (p == CONNS_FREE || p == CONNS_CUT || p == CONNS_DEFERRED || !d || now < d) continue;
        if (!atomic_compare_exchange_strong(&s->state, &word, PACK(CONNS_CUT, 0))) continue;
        shutdown(fd, SHUT_RDWR);
        atomic_fetch_add(&n_cut[p], 1);
    }
}

/* The client of an admitted connection closed its side (or reset it): shut ours for
 * reading, which wakes the owner to read the rest and the end of it (see the top of
 * this file). What it does then is its own affair: a whole request is still answered.
 * Called with lock held. */
static void peer_closed(int fd, uint32_t gen)
{
    if (fd < 0 || fd >= nslots) return;
    struct slot *s = &slots[fd];
    enum conns_phase p = PHASE_OF(atomic_load(&s->state));
    if (s->gen != gen || p == CONNS_FREE || p == CONNS_CUT) return;
    if (atomic_fetch_or(&s->flags, SLOT_PEER_CLOSED) & SLOT_PEER_CLOSED) return;
    shutdown(fd, SHUT_RD);
    atomic_fetch_add(&n_peer_closed, 1);
}

static void handle_event(uint64_t data, uint64_t now)
{
    if (data & EV_WAKE) return;
    if (data & EV_LINGER) linger_event((int)(uint32_t)data, now);
    else peer_closed((int)(uint32_t)data, (uint32_t)(data >> 32));
}

/* After a storm (the count fell to a quarter of a peak of at least TRIM_MIN_PEAK),
 * glibc keeps the freed per-connection structures in its arenas; malloc_trim returns
 * their pages. It runs TRIM_DELAY_MS after the fall, once libmicrohttpd has freed what
 * it closed. Called with lock held; returns 1 when the caller should trim now. */
static int storm_over(uint64_t now)
{
    if (trim_due_ms) {
        if (now < trim_due_ms) return 0;
        trim_due_ms = 0;
        peak_since_trim = open_count;
        return 1;
    }
    if (peak_since_trim >= TRIM_MIN_PEAK && open_count <= peak_since_trim / 4) trim_due_ms = now + TRIM_DELAY_MS;
    return 0;
}

/* The deadlines, lingering closes and trimming, once per tick. Called with lock held;
 * returns 1 when the caller should trim now. */
static int tick(uint64_t now)
{
    cut_overdue(now);
    reap_lingering(now);
    return storm_over(now);
}

static void *watchdog_loop(void *unused)
{
    (void)unused;
    pthread_setname_np(pthread_self(), "memdemo-conns");
    uint64_t next_tick = now_ms() + TICK_MS;
    for (;;) {
        struct epoll_event ev[EVENTS_MAX];
        uint64_t now = now_ms();
        int n = epoll_wait(epfd, ev, EVENTS_MAX, next_tick > now ? (int)(next_tick - now) : 0);
        pthread_mutex_lock(&lock);
        if (watchdog_stop) break;
        now = now_ms();
        for (int i = 0; i < n; i++) handle_event(ev[i].data.u64, now);
        int trim = 0;
        if (now >= next_tick) {
            trim = tick(now);
            next_tick = now + TICK_MS;
        }
        pthread_mutex_unlock(&lock);
        if (trim) {
            malloc_trim(0);
            atomic_fetch_add(&n_trims, 1);
        }
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------ */

/* Makes room for `want` descriptors; returns how many there may be. */
static long fd_room(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return want;
    if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < want) {
        rlim_t goal = rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max > want ? (rlim_t)want : rl.rlim_max;
        struct rlimit raised = {goal, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl.rlim_cur = goal;
    }
    return rl.rlim_cur == RLIM_INFINITY ? want : (long)rl.rlim_cur;
}

/* Splits the descriptors between connections, lingering closes and everything else
 * (lowering l->max when they do not fit, and saying so), so that a refusal always has
 * a descriptor to be accepted on and answered. */
static const char *who(const struct conns_limits *l) { return l->who ? l->who : "memdemo"; }

static void budget_descriptors(struct conns_limits *l)
{
    long want = (long)l->max + LINGER_MAX + FD_HEADROOM, room = fd_room(want);
    long headroom = FD_HEADROOM, lingers = LINGER_MAX;
    if (room < want) {
        headroom = room / 4 < FD_HEADROOM ? room / 4 : FD_HEADROOM;
        lingers = room / 8 < LINGER_MAX ? room / 8 : LINGER_MAX;
        long fit = room - headroom - lingers;
        if (fit < 1) fit = 1;
        if (fit < l->max) {
            fprintf(stderr, "%s: at most %ld connections at once, not %lld: the descriptor limit is %ld\n",
                    who(l), fit, (long long)l->max, room);
            l->max = fit;
        }
    }
    linger_cap = (int)lingers;
    nslots = (int)(l->max + lingers + headroom);
}

static int start_watchdog(void)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_WAKE};
    if (epfd < 0 || wake_fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &ev) < 0 ||
        pthread_create(&watchdog, NULL, watchdog_loop, NULL) != 0) {
        fprintf(stderr, "%s: cannot start the connection watchdog\n", who(&lim));
        return -1;
    }
    watchdog_started = 1;
    return 0;
}

int conns_start(struct conns_limits *l)
{
    budget_descriptors(l);
    lim = *l;
    size_t cap = 64;
    while (cap < 2 * (size_t)lim.max) cap *= 2;
    slots = calloc((size_t)nslots, sizeof *slots);
    addrs = calloc(cap, sizeof *addrs);
    if (!slots || !addrs) { fprintf(stderr, "%s: out of memory for the connection table\n", who(&lim)); return -1; }
    addr_mask = cap - 1;
    if (!forgotten_ready && clock_cond_init(&forgotten) != 0) { fprintf(stderr, "%s: cannot set up the connection table\n", who(&lim)); return -1; }
    forgotten_ready = 1;
    return start_watchdog();
}

void conns_stop(void)
{
    if (watchdog_started) {
        pthread_mutex_lock(&lock);
        watchdog_stop = 1;
        pthread_mutex_unlock(&lock);
        uint64_t one = 1;
        (void)!write(wake_fd, &one, sizeof one);
        pthread_join(watchdog, NULL);
        watchdog_started = 0;
    }
    for (int i = 0; i < nlinger; i++) close(linger[i].fd);
    nlinger = 0;
    if (epfd >= 0) close(epfd);
    if (wake_fd >= 0) close(wake_fd);
    epfd = wake_fd = -1;
    free(slots);
    free(addrs);
    slots = NULL;
    addrs = NULL;
    nslots = high_fd = 0;
    open_count = peak_since_trim = trim_due_ms = 0;
    watchdog_stop = 0;
}
