#!/usr/bin/env python3
"""rawhttp.py: raw-socket HTTP clients for tests/integration/server_limits.sh and bench/soak.

curl cannot send a malformed request, trickle one a byte at a time or open hundreds of
idle connections; these can. Every mode talks to 127.0.0.1 only, is bounded in bytes
and seconds, and prints one line of key=value facts for the shell test to assert on
(counts and what arrived, never how long it took):

  exchange PORT REQ [--wait S]          send REQ, read answers until EOF or S seconds of
                                        silence: statuses=400,... eof=0|1
  trickle PORT REQ --gap S [--first R] [--head H]
                                        send REQ one byte per S seconds until the server
                                        closes (after R, whole and answered, or H, whole,
                                        if given): sent=N of=M closed=0|1
  body PORT HEAD --chunk N --cap BYTES [--chunked]
                                        send HEAD, then body bytes in chunks of N (as
                                        HTTP chunks with --chunked),
                                        looking for an answer between chunks, stopping
                                        at an answer, a closed socket or CAP bytes:
                                        statuses=... sent=N closed=0|1
  reset PORT REQ [--count N] [--after B]
                                        N times: send REQ, read B bytes of the answer,
                                        abort with a TCP reset: resets=N answer_bytes=M
  storm PORT --count N [--src IP] [--head BYTES] [--hold S] [--ready FILE]
        [--release FILE]                open N connections from IP (the whole 127/8 is
                                        loopback), each sending BYTES of an unfinished
                                        request; after 2 s sort them: open=A refused=B
                                        (a 503 read) retry_after=C reset=D; write that
                                        line to FILE, hold them S more seconds (or, with
                                        --release, until that file exists, S at most:
                                        a loaded machine cannot cut the hold short of
                                        the checks that need it), close.

exchange, trickle and body also print statuses= (the responses, in order, found by
their Content-Length) and status_lines= (every line that looks like a status line);
--dump FILE keeps the bytes. REQ and HEAD are Python string literals' escapes
(\\r\\n, \\x00) in one argument.
"""
import argparse
import os
import re
import resource
import select
import socket
import sys
import time


def unescape(s):
    return s.encode("latin-1").decode("unicode_escape").encode("latin-1")


def connect(port, src=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def parse_statuses(data, complete_only=False):
    """Status codes of the responses in data, in order (interim 100s included),
    following Content-Length to find where each response ends; with complete_only,
    only those whose body is all there."""
    out = []
    while data.startswith(b"HTTP/"):
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        head = data[:end].decode("latin-1").split("\r\n")
        parts = head[0].split(" ")
        if len(parts) < 2 or not parts[1].isdigit():
            break
        code = int(parts[1])
        out.append(code)
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit():
                length = int(value.strip())
        if code == 100:
            length = 0
        if complete_only and len(data) < end + 4 + length:
            break
        data = data[end + 4 + length:]
    return out


def read_until_quiet(s, wait, buf=b""):
    """Reads until EOF, an error, or `wait` seconds without data. Returns (data, eof)."""
    s.settimeout(wait)
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return buf, False
        except OSError:
            return buf, True
        if not chunk:
            return buf, True
        buf += chunk


def fmt_statuses(data):
    return ",".join(str(c) for c in parse_statuses(data)) or "none"


def status_lines(data):
    """Every line that looks like a status line, wherever it is: catches a second
    response hidden in the first one's body (libmicrohttpd 0.9.75 wrote its error
    response's headers twice)."""
    return len(re.findall(rb"(?:^|\n)HTTP/1\.[01] \d\d\d ", data))


def report(a, data, **facts):
    if getattr(a, "dump", None):
        with open(a.dump, "wb") as f:
            f.write(data)
    facts = " ".join("%s=%s" % kv for kv in facts.items())
    print("statuses=%s status_lines=%d %s" % (fmt_statuses(data), status_lines(data), facts))


def cmd_exchange(a):
    s = connect(a.port)
    s.sendall(unescape(a.request))
    data, eof = read_until_quiet(s, a.wait)
    report(a, data, eof=int(eof))


def cmd_trickle(a):
    req = unescape(a.request)
    s = connect(a.port)
    sent, closed, data = 0, False, b""
    if a.head:    # sent whole, not awaited: the trickle is then this request's body
        s.sendall(unescape(a.head))
    if a.first:   # a whole request first: the trickled one is the connection's second
        s.sendall(unescape(a.first))
        while not parse_statuses(data, complete_only=True):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        data = b""
    for i in range(len(req)):
        try:
            s.send(req[i:i + 1])
            sent += 1
        except OSError:
            closed = True
            break
        r, _, _ = select.select([s], [], [], a.gap)
        if r:
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                closed = True
                break
            data += chunk
    if not closed:
        data, closed = read_until_quiet(s, a.gap * 4 + 1, data)
    report(a, data, sent=sent, of=len(req), closed=int(closed))


def cmd_body(a):
    s = connect(a.port)
    s.sendall(unescape(a.head))
    s.setblocking(False)
    chunk = b"x" * a.chunk
    if a.chunked:
        chunk = b"%x\r\n" % a.chunk + chunk + b"\r\n"
    sent, data, closed = 0, b"", False
    while sent < a.cap and not closed:
        r, w, _ = select.select([s], [s], [], 5)
        if r:
            try:
                got = s.recv(65536)
            except OSError:
                got = b""
            if not got:
                closed = True
                break
            data += got
            if b"\r\n\r\n" in data and parse_statuses(data) and parse_statuses(data)[-1] != 100:
                break
        if w:
            try:
                sent += s.send(chunk)
            except BlockingIOError:
                pass
            except OSError:
                closed = True
        if not r and not w:
            break   # neither readable nor writable for 5 s: the server holds us
    if not closed:
        s.setblocking(True)
        data, closed = read_until_quiet(s, 3, data)
    report(a, data, sent=sent, closed=int(closed))


def cmd_reset(a):
    """Connects `count` times, sends REQ, reads up to `after` bytes of the answer and
    aborts with a reset (SO_LINGER 0): a client that vanishes mid-request or mid-answer."""
    import struct
    got = 0
    for _ in range(a.count):
        try:
            s = connect(a.port)
            s.sendall(unescape(a.request))
            if a.after:
                s.settimeout(5)
                got += len(s.recv(a.after))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        except OSError:
            pass
    print("resets=%d answer_bytes=%d" % (a.count, got))


def cmd_storm(a):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < a.count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, a.count + 64), hard))
    head = b"GET /noleaker HTTP/1.1\r\nHost: storm\r\nX-Pad: "
    head += b"a" * max(0, a.head - len(head))
    socks = []
    for _ in range(a.count):
        try:
            s = connect(a.port, a.src)
            if a.head:
                s.sendall(head)
            socks.append(s)
        except OSError:
            socks.append(None)   # refused at connect or reset while sending
    deadline = time.time() + 2
    answers = {}
    poller, by_fd = select.poll(), {}
    for s in socks:
        if s is not None:
            s.setblocking(False)
            poller.register(s, select.POLLIN)
            by_fd[s.fileno()] = s
    while by_fd and time.time() < deadline:
        for fd, _ in poller.poll(200):
            s = by_fd.pop(fd)
            poller.unregister(fd)
            try:
                answers[s] = s.recv(65536) or b"<eof>"
            except OSError:
                answers[s] = b"<reset>"
    refused = retry = reset = opened = 0
    for s in socks:
        got = answers.get(s) if s is not None else b"<reset>"
        if got is None:
            opened += 1
        elif got.startswith(b"HTTP/1.1 503"):
            refused += 1
            retry += b"\r\nRetry-After:" in got
        else:
            reset += 1
    line = "open=%d refused=%d retry_after=%d reset=%d" % (opened, refused, retry, reset)
    print(line, flush=True)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write(line + "\n")
    end = time.time() + a.hold
    while time.time() < end and not (a.release and os.path.exists(a.release)):
        time.sleep(min(0.05, max(0, end - time.time())))
    for s in socks:
        if s is not None:
            s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    e = sub.add_parser("exchange")
    e.add_argument("port", type=int)
    e.add_argument("--dump", help="write what the server sent to this file")
    e.add_argument("request")
    e.add_argument("--wait", type=float, default=3)
    t = sub.add_parser("trickle")
    t.add_argument("port", type=int)
    t.add_argument("--dump", help="write what the server sent to this file")
    t.add_argument("request")
    t.add_argument("--gap", type=float, default=0.25)
    t.add_argument("--first", help="a whole request to send (and have answered) first")
    t.add_argument("--head", help="bytes to send at once before the trickle (a request head)")
    b = sub.add_parser("body")
    b.add_argument("port", type=int)
    b.add_argument("--dump", help="write what the server sent to this file")
    b.add_argument("head")
    b.add_argument("--chunk", type=int, default=65536)
    b.add_argument("--cap", type=int, default=256 << 20)
    b.add_argument("--chunked", action="store_true", help="frame the body as HTTP chunks")
    r = sub.add_parser("reset")
    r.add_argument("port", type=int)
    r.add_argument("request")
    r.add_argument("--count", type=int, default=1)
    r.add_argument("--after", type=int, default=0, help="bytes of the answer to read before the reset")
    s = sub.add_parser("storm")
    s.add_argument("port", type=int)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--src", default="127.0.0.1")
    s.add_argument("--head", type=int, default=0)
    s.add_argument("--hold", type=float, default=0)
    s.add_argument("--ready")
    s.add_argument("--release", help="hold until this file exists (--hold: the most)")
    a = p.parse_args()
    {"exchange": cmd_exchange, "trickle": cmd_trickle, "body": cmd_body, "reset": cmd_reset,
     "storm": cmd_storm}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
