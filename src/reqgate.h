/* reqgate: every request head memdemo receives is checked, from its raw bytes, before
 * libmicrohttpd parses it; and every client's end-of-file reaches libmicrohttpd.
 *
 * Why: libmicrohttpd 0.9.75 parses some malformed header lines in ways that hide a
 * request's framing (it keeps whitespace before a colon in the name, glues an
 * obs-fold line onto the previous name, ends the header block at a line with an empty
 * name, and passes NUL, bare CR and control bytes through), so a request smuggled in
 * a body could be executed; and it exposes no raw header bytes to check afterwards.
 * It reads its sockets only through recv(2), so memdemo defines recv itself (the
 * executable's definition wins over libc's for every library; libgcprof.so, preloaded,
 * exports one for the same reason) and, for the
 * connections the acceptor opened here, reads the bytes first: a head is passed on
 * only once it is complete and valid (bodies pass straight through, tracked by their
 * Content-Length or chunked framing so that the next head is found where
 * libmicrohttpd will look for it). Other descriptors and flags go straight to the
 * kernel.
 *
 * What a head must be (RFC 9110/9112, as Go's server reads them; anything else gets
 * one 400 and the connection closes): a request line METHOD SP TARGET SP HTTP/1.x with
 * a token method and a target without control bytes, spaces or an encoded NUL (%00);
 * header lines NAME ":" VALUE with a token name (no whitespace before the colon, no
 * empty name, no line starting with whitespace: obs-fold) and a value without control
 * bytes (NUL and bare CR included); lines end in CRLF or LF. One valid Content-Length
 * (duplicates equal) or Transfer-Encoding: chunked, not both (another coding: 501);
 * Host once for HTTP/1.1, a valid uri-host[:port]. A version other than 1.0/1.1: 505.
 * A request line over REQGATE_MAX_LINE bytes: 414; a head over REQGATE_MAX_HEAD bytes or
 * REQGATE_MAX_FIELDS lines: 431. A Host (or an absolute-form target's authority) that
 * is not a loopback name, the connection's own address or one allowed with -allowhost:
 * 421 (DNS rebinding: a web page must not reach memdemo through a name it controls).
 *
 * How a refusal is answered: the refused head is replaced, in the stream libmicrohttpd
 * reads, by a placeholder request (GET /%00, which nothing else can send: the gate
 * refuses an encoded NUL), and the server answers that request with the refusal
 * (reqgate_verdict), in order after any earlier pipelined request, and closes. A
 * broken chunked body is answered on the socket straight away (libmicrohttpd is
 * reading, not writing) and libmicrohttpd is told the connection was reset.
 *
 * Owns: the per-descriptor gate state, the grammar above, the -allowhost list.
 * Leaves to src/server.c the answer to a refused head and to src/conns.c deadlines
 * and lingering closes.
 *
 * Threads: reqgate_open on the acceptor before the connection is handed over;
 * recv, reqgate_verdict and reqgate_close on the connection's worker thread.
 */
#ifndef MEMDEMO_REQGATE_H
#define MEMDEMO_REQGATE_H

#include <stddef.h>
#include <sys/types.h>

#define REQGATE_MAX_LINE 8192         /* request line, bytes (Go: within 1 MiB; nginx: 8 KiB) */
#define REQGATE_MAX_HEAD 16384        /* request line and header lines, bytes */
#define REQGATE_MAX_FIELDS 100        /* header lines in one head (Apache's default) */
#define REQGATE_DEFAULT_ALLOWHOST ""  /* -allowhost: no names beyond loopback and the server's own address */
#define REQGATE_WHY_MAX 160

/* Sets the names and addresses a Host may carry besides loopback names and the
 * connection's own address: a comma-separated list of host names or IP addresses
 * (IPv6 in brackets or not), compared without case and port; "*" allows any. Returns
 * 0, or -1 with a line in err (size errn) for an entry that is not a host. Main
 * thread, before server_start; the list is copied. */
int reqgate_allow_hosts(const char *list, char *err, size_t errn);

/* The name of the host's setting that calls reqgate_allow_hosts, which a 421 names
 * ("-allowhost" unless set; NULL: the host has none). Main thread, before serving. */
void reqgate_name_allow_setting(const char *name);

/* Sizes the gate table for descriptors below max_fd (keeping the table of an earlier
 * server when it is large enough). Returns 0 or -1 (out of memory). Main thread,
 * before any reqgate_open. */
int reqgate_start(int max_fd);

/* Closes every gate. The table stays (recv may be running on any thread of the
 * process) and serves the next start. Main thread, after the workers stop. */
void reqgate_stop(void);

/* Starts checking what fd receives (a fresh connection, before libmicrohttpd reads
 * it). Returns 0, or -1 when fd is out of the table's range or memory is short (the
 * caller must not serve fd then). Acceptor thread. */
int reqgate_open(int fd);

/* Stops checking fd and frees its state. Idempotent; before close(fd). Worker. */
void reqgate_close(int fd);

/* Called once per request libmicrohttpd presents on fd, in order: 0 when the request
 * is the client's own, else the status the gate refused its head with (the request is
 * the placeholder) and *why its one-line reason (valid until reqgate_close). Worker. */
int reqgate_verdict(int fd, const char **why);

/* Called for a refusal the gate answered itself (a broken chunked body), so that the
 * server can count it: status. Set once by the server before reqgate_open; may be
 * NULL. Runs on the worker. */
extern void (*reqgate_on_refusal)(int status);

/* The recv(2) every library in the process calls (memdemo's executable defines it;
 * libgcprof.so exports it). Same contract as libc's; on a descriptor no gate holds it
 * is libc's call (src/reqgate.c says how). */
ssize_t recv(int fd, void *buf, size_t len, int flags);

#endif
