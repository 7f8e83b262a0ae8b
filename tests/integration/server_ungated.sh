#!/bin/bash
# The HTTP core's own framing checks (src/server.c: refuse_from_headers, and on_mhd_log's
# answer to a Content-Length libmicrohttpd cannot parse) where the request gate
# (src/reqgate.c) does not see the bytes. In memdemo the gate refuses all of these heads
# first; but the gate works by defining recv(2), and a program that defines and exports
# recv itself (tests/gcprof/ticker.c built with -DOWN_RECV) wins the binding of
# libmicrohttpd's recv, so libgcprof's -http server in that program is served ungated. There each malformed
# head must still get one 400 (501 for another coding) with a one-line reason, and
# only one answer.
source "$(dirname "$0")/../lib.sh"

gcprof_test server_ungated gcc
if ! gcc -rdynamic -O1 -DOWN_RECV -o "$T/ownrecv" "$ROOT/tests/gcprof/ticker.c" -lgc 2>"$T/ownrecv.cc"; then
    fail ownrecv_builds "$(head -3 "$T/ownrecv.cc")"; exit 1
fi

gcprof_live live -- "$T/ownrecv" 30
PORT=${LIVE##*:}
if [ -z "$LIVE" ]; then fail gcprof_http_serves "no address on stderr: $(head -3 "$T/live.err")"; exit 1; fi

# ask NAME REQUEST: sends the raw request (printf escapes) and keeps the whole answer.
ask() {
    python3 - "$PORT" "$2" >"$T/$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
answer = b""
try:
    while chunk := s.recv(4096):
        answer += chunk
except OSError:
    pass
sys.stdout.write(answer.decode("latin-1"))
PY
}
status_of() { head -1 "$T/$1" | tr -d '\r' | cut -d' ' -f2; }
body_of() { python3 -c 'import sys; print(open(sys.argv[1], encoding="latin-1", newline="").read().split("\r\n\r\n", 1)[-1].strip())' "$T/$1"; }
answers_in() { grep -c '^HTTP/1\.[01] ' "$T/$1"; }

# The gate is bypassed here: whitespace before a colon, which it refuses, passes.
ask control 'GET /debug/vars HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A : b\r\nConnection: close\r\n\r\n'
if [ "$(status_of control)" != 200 ]; then
    skip ungated_host "the gate saw this program's requests ($(status_of control)): the fallback is not reached here"
    exit 0
fi
pass gate_bypassed_in_a_program_that_defines_recv

H='Host: 127.0.0.1\r\n'
refused() { # NAME STATUS REASON REQUEST
    ask "$1" "$4"
    expect_eq "${1}_refused_$2" "$(status_of "$1")" "$2"
    expect_eq "${1}_says_why" "$(body_of "$1")" "$3"
    expect_eq "${1}_answered_once" "$(answers_in "$1")" 1
}
refused te_and_cl 400 "Transfer-Encoding together with Content-Length" \
    "POST /debug/vars HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc"
refused bad_cl 400 "invalid Content-Length header" "POST /debug/vars HTTP/1.1\r\n${H}Content-Length: 3x\r\n\r\nabc"
refused second_cl_bad 400 "invalid Content-Length header" \
    "POST /debug/vars HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: -3\r\n\r\nabc"
refused conflicting_cl 400 "conflicting Content-Length headers" \
    "POST /debug/vars HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
refused gzip_coding 501 "unsupported Transfer-Encoding (only chunked)" \
    "POST /debug/vars HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n"
refused no_host 400 "missing required Host header" "GET /debug/vars HTTP/1.1\r\n\r\n"
refused two_hosts 400 "too many Host headers" "GET /debug/vars HTTP/1.1\r\n${H}${H}\r\n"
refused nul_path 400 "invalid path: encoded NUL (%00)" "GET /debug/%00vars HTTP/1.1\r\n${H}\r\n"

ask after 'GET /debug/vars HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
expect_eq serves_after_the_refusals "$(status_of after)" 200
stop_server "$LIVE_PID"
