/* conns: which connections memdemo holds and for how long. Admission against a total
 * and a per-client-address limit (refused connections get a 503 written here, never a
 * silent wait in the kernel's backlog; before refusing, the connection idle longest is
 * reclaimed, as nginx does), one deadline per connection for the phase it is in (Go's
 * http.Server meanings, enforced by a watchdog thread), noticing a client's close at
 * once whatever its request's state, lingering closes for connections refused before
 * their body was read (so the client reads the refusal instead of a reset), and giving
 * connection memory back to the system after a storm.
 *
 * Owns: a table indexed by descriptor, the per-address counts, the watchdog, the
 * refused connections being closed gracefully, the descriptor budget (connections,
 * lingering closes, everything else), the counters /debug/vars shows.
 * Leaves HTTP to src/server.c: it knows descriptors and phases, not requests, and
 * never includes libmicrohttpd.
 *
 * Deadlines are absolute, like Go's (a byte that arrives does not extend them):
 *   header  from the request's start (the accept, or the first byte of a keep-alive
 *           connection's next request, seen within a tick) until its headers are
 *           complete: min(read-header, read) timeout;
 *   body    from the same start until the body is complete: read timeout;
 *   write   from the end of the request (or the end of a deferred window: suspended
 *           connections have no deadline) until the response is sent: write timeout;
 *   idle    from the end of a response until the next request line: idle timeout.
 * A connection past its deadline is shut down (shutdown(2), both directions); its owner
 * (libmicrohttpd) then sees the socket fail and closes it as usual. Nothing is written:
 * Go also closes without an answer when a read deadline passes.
 *
 * Threads: conns_admit on the acceptor; conns_enter from any thread (lock-free, one
 * atomic word per connection); conns_forget from the thread that closes the descriptor,
 * BEFORE it closes it (so a cut never reaches a reused descriptor number).
 */
#ifndef MEMDEMO_CONNS_H
#define MEMDEMO_CONNS_H

#include <stdint.h>
#include <sys/socket.h>

/* Defaults for the flags (src/flags.c reads these; README's table states them).
 * Why these values, in README's "Command line" section: in short, nginx's
 * worker_connections (512 per worker) on two cores, a quarter of it per address so one
 * client cannot fill the server, header and body deadlines long enough for a slow link
 * (a request head from curl, wrk, a browser or go tool pprof is one packet; a 1 MiB body
 * in 30 s needs 35 KB/s), a write deadline that lets two threads' full default trace
 * buffers (128 MiB) go out at 1.1 MB/s, and nginx's keepalive_timeout. */
#define CONNS_DEFAULT_MAX 1024
#define CONNS_DEFAULT_MAX_PER_ADDR 256
#define CONNS_SECOND INT64_C(1000000000)
#define CONNS_DEFAULT_HEADER_NS (10 * CONNS_SECOND)
#define CONNS_DEFAULT_READ_NS (30 * CONNS_SECOND)
#define CONNS_DEFAULT_WRITE_NS (120 * CONNS_SECOND)
#define CONNS_DEFAULT_IDLE_NS (75 * CONNS_SECOND)
#define CONNS_RETRY_AFTER_SECONDS 1   /* in every 503 the acceptor writes */

struct conns_limits {
    int64_t max;            /* connections open at once (>= 1) */
    int64_t max_per_addr;   /* from one client address (0: no limit) */
    int64_t header_ns, read_ns, write_ns, idle_ns;   /* 0: no deadline */
    const char *who;        /* names the host in start-up messages (NULL: "memdemo") */
};

enum conns_phase {
    CONNS_FREE,       /* no connection on this descriptor */
    CONNS_HEADER,     /* reading a request's line and headers */
    CONNS_BODY,       /* reading its body */
    CONNS_WRITE,      /* handling it and sending the response */
    CONNS_DEFERRED,   /* suspended until a window ends: no deadline */
    CONNS_IDLE,       /* keep-alive, between requests */
    CONNS_CUT,        /* shut down by the watchdog, not yet closed by its owner */
    CONNS_NPHASES
};

struct conns_stats {
    uint64_t open, accepted;
    uint64_t refused_total, refused_addr;   /* 503 at the total / the per-address limit */
    uint64_t cut[CONNS_NPHASES];            /* deadline cuts, by the phase they cut */
    uint64_t trims;                         /* malloc_trim calls after a storm */
    uint64_t peer_closed;                   /* clients' closes noticed (their FIN) */
    uint64_t reclaimed;                     /* idle connections closed to admit new ones */
    uint64_t lingered, lingering;           /* lingering closes begun; in progress now */
};

/* X(name, field): the counters /debug/vars shows under "connections". */
#define CONNS_STATS_FIELDS(X)                                                                 \
    X("open", open) X("accepted", accepted) X("refused_total", refused_total)                 \
    X("refused_addr", refused_addr) X("cut_header", cut[CONNS_HEADER])                        \
    X("cut_body", cut[CONNS_BODY]) X("cut_write", cut[CONNS_WRITE]) X("cut_idle", cut[CONNS_IDLE]) \
    X("trims", trims) X("closed_by_client", peer_closed) X("reclaimed_idle", reclaimed)       \
    X("lingered", lingered) X("lingering", lingering)

/* Sizes the table for `l` (raising RLIMIT_NOFILE's soft limit toward the hard one if
 * needed; if even the hard limit is too low, splits it between connections, lingering
 * closes and other descriptors, lowers *l->max and says so on stderr) and starts the
 * watchdog. Returns 0, or -1 with a line on stderr. Main thread, once. */
int conns_start(struct conns_limits *l);

/* Stops the watchdog, closes refused connections still lingering and frees the table
 * (conns_start may run again). Call after the owner of the admitted connections (the
 * server's workers) has closed them all; also after a failed conns_start. */
void conns_stop(void);

/* Admits the freshly accepted `fd` from address `sa` (phase HEADER, its clock starting
 * now) and returns 0; or refuses it: writes a 503 with Retry-After, closes it (after a
 * short drain, so the client reads the 503 rather than a reset) and returns -1, after
 * which fd is no longer the caller's. At a limit, the connection idle longest (no
 * request in progress: between requests, or nothing sent since its accept) from
 * anywhere (total) or from that address (per-address) is shut down in its stead, and
 * its place counts as free at once; failing that, while some connection there is
 * already closing (its client closed mid-request or between requests, or it was cut)
 * and its owner has not yet closed it, waits for that, up to the Retry-After a 503
 * would carry, rather than refuse. Acceptor thread. */
int conns_admit(int fd, const struct sockaddr *sa, socklen_t sl);

/* Moves fd's connection to `phase` with that phase's deadline. HEADER on a connection
 * already in HEADER keeps the earlier start (the first request's clock runs from the
 * accept); nothing happens to a connection that is FREE or CUT. Any thread; no lock. */
void conns_enter(int fd, enum conns_phase phase);

/* 1 once the client of the connection on fd has closed its side (its FIN was seen),
 * else 0. The watchdog also shuts fd for reading then, which wakes its owner to read
 * the end-of-file. Any thread; no lock. */
int conns_peer_closed(int fd);

/* For a client that has closed its side while waiting for an answer (nothing sent to
 * it meanwhile): how long after its last data byte its FIN came, in ms (to the
 * kernel's clock tick); -1 if that cannot be told (not TCP). Any thread. */
int64_t conns_fin_after_data_ms(int fd);

/* Descriptors below this number may be admitted (the table's size; after
 * conns_start). */
int conns_table_size(void);

/* The connection on fd will be closed after an answer that refuses its request before
 * its body was read: conns_forget then keeps the socket (a duplicate descriptor) for a
 * lingering close: writing shut down, what the client still sends drained for up to
 * LINGER_MS, LINGER_QUIET_MS of silence or LINGER_BYTES (conns.c), then closed. Any
 * thread; no lock. */
void conns_linger_close(int fd);

/* The connection on fd is closing: stops tracking it. Idempotent. Must run before
 * close(fd), after the last answer was written. Any thread. */
void conns_forget(int fd);

/* Writes a whole one-line text/plain error response (with X-Content-Type-Options:
 * nosniff and Connection: close) straight to fd (non-blocking, best effort), then
 * shuts fd down for writing so that nothing written after it reaches the client.
 * retry_after > 0 adds Retry-After. For answers that must go out while libmicrohttpd is
 * not writing on fd. Any thread. */
void conns_send_error(int fd, int status, const char *line, int retry_after);

/* A snapshot of the counters. Any thread. */
void conns_stats(struct conns_stats *out);

#endif
