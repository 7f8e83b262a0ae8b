/* conns: admission, deadlines and the watchdog. See conns.h.
 *
 * Each descriptor's slot holds one atomic word: the phase in the top 4 bits and the
 * deadline (milliseconds on CLOCK_MONOTONIC, 0 = none) below, so that the watchdog
 * always reads a phase together with its own deadline, and workers change phases
 * without a lock. The request's start needs no word of its own: a HEADER deadline is
 * start + header_ms(), so BODY recovers the start from it. `lock` guards what connects a slot to the outside: admission (the
 * counts), forgetting, and the watchdog's cuts. A cut is a compare-and-swap to CUT
 * followed by shutdown() while holding `lock`; conns_forget takes `lock` before the
 * owner closes the descriptor, so a cut can only reach the connection it was meant for.
 *
 * Per-address counts live in an open-addressing table (linear probing, backward-shift
 * deletion) sized to twice the connection limit, so it never fills. Addresses are
 * IPv6-sized; IPv4 ones are stored v4-mapped, so both spellings count as one client.
 */
#include "src/conns.h"

#include <errno.h>
#include <linux/tcp.h>   /* struct tcp_info with tcpi_bytes_received (glibc's lacks it) */
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gc/clock.h"

#define TICK_MS 100             /* watchdog period: deadlines are kept to about this */
#define LINGER_MAX 512          /* refused connections being closed at once; more are closed at once */
#define LINGER_MS 2000          /* how long a refused client may take to read its 503 */
#define FD_HEADROOM 256         /* descriptors besides connections: listener, epoll, files */
#define TRIM_MIN_PEAK 64        /* a "storm": at least this many connections, then a quarter */
#define TRIM_DELAY_MS 500       /* libmicrohttpd frees a connection a little after closing it */

#define PHASE_SHIFT 60
#define DEADLINE_MASK ((UINT64_C(1) << PHASE_SHIFT) - 1)
#define PACK(phase, deadline) (((uint64_t)(phase) << PHASE_SHIFT) | ((deadline) & DEADLINE_MASK))
#define PHASE_OF(word) ((enum conns_phase)((word) >> PHASE_SHIFT))
#define DEADLINE_OF(word) ((word) & DEADLINE_MASK)

struct slot {
    _Atomic uint64_t state;   /* PACK(phase, deadline) */
    uint64_t idle_word, idle_rx;   /* watchdog only: the IDLE state it sampled, bytes received then */
    unsigned char addr[16];
};

struct addr_count {
    unsigned char addr[16];
    uint32_t count;           /* 0: empty */
};

static struct conns_limits lim;
static struct slot *slots;
static int nslots, high_fd;   /* slots in the table; 1 + the highest admitted descriptor */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t open_count, peak_since_trim, trim_due_ms;
static struct addr_count *addrs;
static size_t addr_mask;
static struct { int fd; uint64_t until_ms; } linger[LINGER_MAX];
static int nlinger;

static _Atomic uint64_t n_accepted, n_refused_total, n_refused_addr, n_trims;
static _Atomic uint64_t n_cut[CONNS_NPHASES];

static pthread_t watchdog;
static pthread_cond_t watchdog_cond;
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

/* ---- writing refusals --------------------------------------------------------------- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

void conns_send_error(int fd, int status, const char *line, int retry_after)
{
    char retry[48] = "", msg[512];
    if (retry_after > 0) snprintf(retry, sizeof retry, "Retry-After: %d\r\n", retry_after);
    int body = (int)strlen(line) + 1;
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n%s"
                     "Connection: close\r\nContent-Length: %d\r\n\r\n%s\n",
                     status, reason_phrase(status), retry, body, line);
    if (n > 0 && n < (int)sizeof msg) (void)!send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
}

/* Reads and drops what the client sent; returns 1 once it has closed its side or
 * the socket failed. */
static int drain(int fd)
{
    char sink[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t r = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (r == 0) return 1;
        if (r < 0) return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    }
    return 0;
}

/* A refused connection: the 503, then a lingering close. Closing a socket whose
 * receive queue holds the client's request makes the kernel send a reset, which can
 * destroy the 503 before the client reads it; so the watchdog drains it for up to
 * LINGER_MS or until the client closes. */
static void refuse(int fd, const char *why)
{
    drain(fd);
    conns_send_error(fd, 503, why, CONNS_RETRY_AFTER_SECONDS);
    pthread_mutex_lock(&lock);
    if (nlinger < LINGER_MAX) {
        linger[nlinger].fd = fd;
        linger[nlinger].until_ms = now_ms() + LINGER_MS;
        nlinger++;
        fd = -1;
    }
    pthread_mutex_unlock(&lock);
    if (fd >= 0) close(fd);
}

/* ---- admission and phases ------------------------------------------------------------ */

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

int conns_admit(int fd, const struct sockaddr *sa, socklen_t sl)
{
    unsigned char key[16];
    addr_key(sa, sl, key);
    const char *why = NULL;
    pthread_mutex_lock(&lock);
    size_t ai = addr_find(key);
    if (fd >= nslots || open_count >= (uint64_t)lim.max) {
        why = "server busy: at its connection limit (-max-conns); retry shortly";
        atomic_fetch_add(&n_refused_total, 1);
    } else if (lim.max_per_addr > 0 && addrs[ai].count >= (uint64_t)lim.max_per_addr) {
        why = "too many connections from your address (-max-conns-per-ip); retry shortly";
        atomic_fetch_add(&n_refused_addr, 1);
    } else {
        if (!addrs[ai].count) memcpy(addrs[ai].addr, key, 16);
        addrs[ai].count++;
        struct slot *s = &slots[fd];
        memcpy(s->addr, key, 16);
        atomic_store(&s->state, header_word(now_ms()));
        if (fd + 1 > high_fd) high_fd = fd + 1;
        if (++open_count > peak_since_trim) peak_since_trim = open_count;
        atomic_fetch_add(&n_accepted, 1);
    }
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
        if (atomic_compare_exchange_weak(&s->state, &old, next_word(old, phase, now))) return;
    }
}

void conns_forget(int fd)
{
    if (fd < 0 || fd >= nslots) return;
    pthread_mutex_lock(&lock);
    struct slot *s = &slots[fd];
    if (PHASE_OF(atomic_load(&s->state)) != CONNS_FREE) {
        atomic_store(&s->state, PACK(CONNS_FREE, 0));
        addr_release(s->addr);
        open_count--;
    }
    pthread_mutex_unlock(&lock);
}

void conns_stats(struct conns_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&lock);
    out->open = open_count;
    pthread_mutex_unlock(&lock);
    out->accepted = atomic_load(&n_accepted);
    out->refused_total = atomic_load(&n_refused_total);
    out->refused_addr = atomic_load(&n_refused_addr);
    out->trims = atomic_load(&n_trims);
    for (int p = 0; p < CONNS_NPHASES; p++) out->cut[p] = atomic_load(&n_cut[p]);
}

/* ---- the watchdog -------------------------------------------------------------------- */

static uint64_t bytes_received(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) return 0;
    return len >= offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received
               ? ti.tcpi_bytes_received : 0;
}

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

/* Shuts down every connection past its deadline. Called with lock held. */
static void cut_overdue(uint64_t now)
{
    for (int fd = 0; fd < high_fd; fd++) {
        struct slot *s = &slots[fd];
        uint64_t word = atomic_load(&s->state);
        if (PHASE_OF(word) == CONNS_IDLE) word = watch_idle(s, fd, word, now);
        enum conns_phase p = PHASE_OF(word);
        uint64_t d = DEADLINE_OF(word);
        if (p == CONNS_FREE || p == CONNS_CUT || p == CONNS_DEFERRED || !d || now < d) continue;
        if (!atomic_compare_exchange_strong(&s->state, &word, PACK(CONNS_CUT, 0))) continue;
        shutdown(fd, SHUT_RDWR);
        atomic_fetch_add(&n_cut[p], 1);
    }
}

/* Closes refused connections whose client has finished or whose time is up. Called
 * with lock held. */
static void reap_lingering(uint64_t now)
{
    for (int i = 0; i < nlinger;) {
        if (drain(linger[i].fd) || now >= linger[i].until_ms) {
            close(linger[i].fd);
            linger[i] = linger[--nlinger];
        } else {
            i++;
        }
    }
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

static void *watchdog_loop(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&lock);
    while (!watchdog_stop) {
        struct timespec ts = clock_mono_deadline((uint64_t)TICK_MS * 1000000u);
        pthread_cond_timedwait(&watchdog_cond, &lock, &ts);
        uint64_t now = now_ms();
        cut_overdue(now);
        reap_lingering(now);
        if (storm_over(now)) {
            pthread_mutex_unlock(&lock);
            malloc_trim(0);
            atomic_fetch_add(&n_trims, 1);
            pthread_mutex_lock(&lock);
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

int conns_start(struct conns_limits *l)
{
    long room = fd_room((long)l->max + LINGER_MAX + FD_HEADROOM);
    if ((long)l->max + LINGER_MAX + FD_HEADROOM > room) {
        long fit = room - LINGER_MAX - FD_HEADROOM;
        if (fit < 1) fit = room / 2 > 1 ? room / 2 : 1;
        fprintf(stderr, "memdemo: -max-conns lowered from %lld to %ld: the descriptor limit is %ld\n",
                (long long)l->max, fit, room);
        l->max = fit;
    }
    lim = *l;
    nslots = (int)(lim.max + LINGER_MAX + FD_HEADROOM);
    size_t cap = 64;
    while (cap < 2 * (size_t)lim.max) cap *= 2;
    slots = calloc((size_t)nslots, sizeof *slots);
    addrs = calloc(cap, sizeof *addrs);
    if (!slots || !addrs) { fprintf(stderr, "memdemo: out of memory for the connection table\n"); return -1; }
    addr_mask = cap - 1;
    if (clock_cond_init(&watchdog_cond) != 0 || pthread_create(&watchdog, NULL, watchdog_loop, NULL) != 0) {
        fprintf(stderr, "memdemo: cannot start the connection watchdog\n");
        return -1;
    }
    watchdog_started = 1;
    return 0;
}

void conns_stop(void)
{
    if (!watchdog_started) return;
    pthread_mutex_lock(&lock);
    watchdog_stop = 1;
    pthread_cond_signal(&watchdog_cond);
    pthread_mutex_unlock(&lock);
    pthread_join(watchdog, NULL);
    watchdog_started = 0;
    for (int i = 0; i < nlinger; i++) close(linger[i].fd);
    nlinger = 0;
}
