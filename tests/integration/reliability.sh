#!/bin/bash
# Integration tests for what a hostile, unlucky or merely fast client can do to memdemo's
# connections (issue: reliability): a close is noticed at once whatever state its request
# is in; a refusal sent while the client is still sending arrives (lingering close);
# request heads are checked from their raw bytes, so malformed header lines cannot hide
# framing; a Host that is not this server's gets 421 (DNS rebinding); a half-closed
# client still gets its answer; every error body is one line of text with nosniff, and
# every refusal is counted. Raw requests go through tests/rawhttp.py; loopback only.
source "$(dirname "$0")/../lib.sh"
RAW="python3 $ROOT/tests/rawhttp.py"
H='Host: 127.0.0.1'
conn_num() { local v; v=$(vars_num "$1"); echo "${v:-0}"; }
# wait_open N: until /debug/vars says at most N connections are open (10 s at most).
wait_open() { local i; for i in $(seq 1 100); do [ "$(conn_num open)" -le "$1" ] && return; sleep 0.1; done; }
metric() { # ROUTE CODE: memdemo_http_requests_total for that route and code (0 if absent)
    local v; v=$(curl -s "$BASE/metrics" | sed -n "s|^memdemo_http_requests_total{route=\"$1\",code=\"$2\"} ||p")
    echo "${v:-0}"
}

# --- a closed connection frees its slot when the close arrives -------------------------
start_server -repetitions 10 -max-conns 64 -max-conns-per-ip 0 -read-header-timeout 30s -read-timeout 60s || exit 1
line=$($RAW finflood "$PORT" "GET /noleaker HTTP/1.1\\r\\n$H\\r\\nX-Partial: " --count 300)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/noleaker")
echo "# $(fact sent "$line") partial requests each sent with its FIN, 64 slots: the next client got $code"
expect_eq client_served_after_partial_requests_closed_with_their_fin "$code" 200
line=$($RAW finflood "$PORT" "POST /debug/pprof/symbol HTTP/1.1\\r\\n$H\\r\\nContent-Length: 100\\r\\n\\r\\n0x1" --count 300)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/noleaker")
expect_eq client_served_after_partial_bodies_closed_with_their_fin "$code" 200
wait_open 1
expect_eq closed_connections_hold_no_slot "$(conn_num open)" 1
expect_le clients_that_left_are_not_logged "$(grep -vc 'listening on' "$SERVER_LOG")" 0
expect_ge vars_count_closes_by_clients "$(conn_num closed_by_client)" 1   # (libmicrohttpd sees some first)
stop_server

# --- refusals sent before the body is read arrive: lingering close ---------------------
start_server -repetitions 10 || exit 1
big="Content-Length: 100000000"
line=$($RAW blast "$PORT" "POST /debug/pprof/symbol HTTP/1.1\\r\\n$H\\r\\n$big\\r\\n\\r\\n" --bytes 8000000)
echo "# 413 while the client sends 8 MB more: $line"
expect_facts client_still_sending_reads_its_413 "$line" statuses=413 send_error=none eof=1 reset=0
line=$($RAW blast "$PORT" "POST /leaker HTTP/1.1\\r\\n$H\\r\\n$big\\r\\n\\r\\n" --bytes 8000000)
expect_facts client_still_sending_reads_its_405 "$line" statuses=405 send_error=none eof=1 reset=0
line=$($RAW blast "$PORT" "POST /debug/pprof/symbol HTTP/1.1\\r\\nHost : x\\r\\n$big\\r\\n\\r\\n" --bytes 8000000)
expect_facts client_still_sending_reads_its_400 "$line" statuses=400 send_error=none eof=1 reset=0
expect_ge vars_count_lingering_closes "$(conn_num lingered)" 3
stop_server

# --- request heads checked from their raw bytes: one 400, one line, and the close ------
start_server -repetitions 10 || exit 1
smuggled="GET /leaker HTTP/1.1\\r\\n$H\\r\\n\\r\\n"
n=0
one_refusal() { # NAME STATUS REQUEST: exactly one answer, STATUS, one text line, closed
    local name=$1 want=$2 line; n=$((n + 1))
    line=$($RAW exchange "$PORT" "$3" --dump "$T/r$n.out")
    if [ "$(fact statuses "$line")/$(fact status_lines "$line")/$(fact eof "$line")" != "$want/1/1" ]; then
        fail "$name" "want one $want and the close, got: $line"; return
    fi
    local body; body=$(sed '1,/^\r$/d' "$T/r$n.out")
    if ! grep -qi '^Content-Type: text/plain' "$T/r$n.out" || ! grep -qi '^X-Content-Type-Options: nosniff' "$T/r$n.out"; then
        fail "$name" "not text/plain with nosniff: $(head -c 300 "$T/r$n.out")"
    elif [ "$(printf '%s\n' "$body" | wc -l)" != 1 ] || grep -qi '<html' "$T/r$n.out"; then
        fail "$name" "body is not one line of text: $body"
    else pass "$name"; fi
}
one_refusal space_before_colon_gets_400 400 \
    "POST /debug/pprof/symbol HTTP/1.1\\r\\n$H\\r\\nContent-Length : 44\\r\\n\\r\\n$smuggled"
one_refusal obs_fold_gets_400 400 \
    "POST /debug/pprof/symbol HTTP/1.1\\r\\n$H\\r\\nX-A: b\\r\\n Content-Length: 44\\r\\n\\r\\n$smuggled"
one_refusal empty_header_name_gets_400 400 \
    "GET /noleaker HTTP/1.1\\r\\n$H\\r\\n: x\\r\\nContent-Length: 44\\r\\n\\r\\n$smuggled"
expect_eq no_smuggled_request_was_served "$(vars_num requests)" 0
one_refusal nul_in_header_value_gets_400 400 "GET /noleaker HTTP/1.1\\r\\n$H\\r\\nX-A: a\\x00b\\r\\n\\r\\n"
one_refusal bare_cr_in_header_value_gets_400 400 "GET /noleaker HTTP/1.1\\r\\n$H\\r\\nX-A: a\\rb\\r\\n\\r\\n"
one_refusal control_byte_in_header_name_gets_400 400 "GET /noleaker HTTP/1.1\\r\\n$H\\r\\nX\\x01A: b\\r\\n\\r\\n"
one_refusal nul_in_request_line_gets_400 400 "GET /noleaker\\x00 HTTP/1.1\\r\\n$H\\r\\n\\r\\n"
one_refusal invalid_method_token_gets_400 400 "G@T /noleaker HTTP/1.1\\r\\n$H\\r\\n\\r\\n"
one_refusal invalid_host_value_gets_400 400 "GET /noleaker HTTP/1.1\\r\\nHost: a b/c\\r\\n\\r\\n"
one_refusal two_hosts_get_400 400 "GET /noleaker HTTP/1.1\\r\\n$H\\r\\n$H\\r\\n\\r\\n"
one_refusal encoded_nul_in_query_number_gets_400 400 "GET /debug/memprofilerate?rate=1%00x HTTP/1.1\\r\\n$H\\r\\n\\r\\n"
check rate_unchanged_by_a_truncated_number grep -q '^memprofilerate 524288\b' <(curl -s "$BASE/debug/memprofilerate")
one_refusal http2_version_gets_505 505 "GET /noleaker HTTP/2.0\\r\\n$H\\r\\n\\r\\n"
one_refusal garbled_version_gets_400 400 "GET /noleaker HTTP/x\\r\\n$H\\r\\n\\r\\n"
long=$(head -c 9000 /dev/zero | tr '\0' a)
one_refusal long_request_line_gets_414 414 "GET /$long HTTP/1.1\\r\\n$H\\r\\n\\r\\n"
many=$(for i in $(seq 1 120); do printf 'X-%d: v\\r\\n' "$i"; done)
one_refusal too_many_header_lines_get_431 431 "GET /noleaker HTTP/1.1\\r\\n$H\\r\\n$many\\r\\n"
one_refusal broken_chunk_size_gets_400 400 \
    "POST /debug/pprof/symbol HTTP/1.1\\r\\n$H\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nzz\\r\\n0x1\\r\\n0\\r\\n\\r\\n"
line=$($RAW exchange "$PORT" "GET /noleaker HTTP/1.1\\r\\n$H\\r\\n\\r\\nGET /noleaker HTTP/1.1\\r\\nHost : x\\r\\n\\r\\n")
expect_facts pipelined_request_before_a_bad_one_is_answered_first "$line" statuses=200,400 eof=1
# what is valid still works: bare LF line ends, an empty line before the request, a
# chunked body with an extension and a trailer, pipelining across a body
line=$($RAW exchange "$PORT" "GET /noleaker HTTP/1.1\\n$H\\n\\n" --wait 1)
expect_facts bare_lf_line_ends_are_served "$line" statuses=200
line=$($RAW exchange "$PORT" "\\r\\nGET /noleaker HTTP/1.1\\r\\n$H\\r\\n\\r\\n" --wait 1)
expect_facts leading_empty_line_is_skipped "$line" statuses=200
line=$($RAW exchange "$PORT" "POST /debug/pprof/symbol HTTP/1.1\\r\\n$H\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n3;x=y\\r\\n0x1\\r\\n0\\r\\nX-T: 1\\r\\n\\r\\nGET /noleaker HTTP/1.1\\r\\n$H\\r\\n\\r\\n" --wait 1)
expect_facts chunked_body_with_extension_and_trailer_then_pipelined "$line" statuses=200,200
line=$($RAW exchange "$PORT" "POST /debug/pprof/symbol HTTP/1.1\\r\\n$H\\r\\nContent-Length: 3\\r\\n\\r\\n0x1GET /noleaker HTTP/1.1\\r\\n$H\\r\\n\\r\\n" --wait 1)
expect_facts pipelined_after_a_sized_body "$line" statuses=200,200
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/noleaker"); expect_eq serves_after_refused_heads "$code" 200
# every refusal above is counted by status, and 404/405 bodies that echo the path are nosniff
expect_ge metrics_count_refused_heads_as_400 "$(metric unmatched 400)" 14
expect_ge metrics_count_505 "$(metric unmatched 505)" 1
curl -s -D "$T/404.h" -o /dev/null "$BASE/nope<b>"
check not_found_is_nosniff grep -qi '^X-Content-Type-Options: nosniff' "$T/404.h"
curl -s -D "$T/405.h" -o /dev/null -X POST "$BASE/leaker"
check method_not_allowed_is_nosniff grep -qi '^X-Content-Type-Options: nosniff' "$T/405.h"
$RAW exchange "$PORT" "POST /leaker HTTP/1.1\\r\\n$H\\r\\nContent-Length: 100\\r\\n\\r\\n" --wait 2 >/dev/null
expect_ge metrics_count_405_decided_from_headers "$(metric /leaker 405)" 2
stop_server

# --- Host: only this server's names (DNS rebinding) --------------------------------------
start_server -repetitions 10 || exit 1
one_refusal foreign_host_gets_421 421 "GET /debug/vars HTTP/1.1\\r\\nHost: rebind.example:$PORT\\r\\n\\r\\n"
check foreign_host_answer_names_the_flag grep -q -- '-allowhost' "$T/r$n.out"
one_refusal foreign_absolute_form_authority_gets_421 421 \
    "GET http://rebind.example/debug/vars HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n"
ok=0 bad=""
for host in "localhost:$PORT" "127.0.0.1:$PORT" "[::1]:$PORT" LOCALHOST localhost. app.localhost 127.0.0.2; do
    line=$($RAW exchange "$PORT" "GET /noleaker HTTP/1.1\\r\\nHost: $host\\r\\n\\r\\n" --wait 1)
    if [ "$(fact statuses "$line")" = 200 ]; then ok=$((ok + 1)); else bad+=" $host"; fi
done
expect_eq loopback_hosts_are_served "$ok${bad:+ (refused:$bad)}" 7
line=$($RAW exchange "$PORT" "GET http://localhost:$PORT/noleaker HTTP/1.1\\r\\nHost: localhost:$PORT\\r\\n\\r\\n" --wait 1)
expect_facts loopback_absolute_form_is_served "$line" statuses=200
code=$(curl -s -o /dev/null -w '%{http_code}' "http://localhost:$PORT/noleaker"); expect_eq curl_to_localhost_is_served "$code" 200
expect_ge metrics_count_421 "$(metric unmatched 421)" 2
export HOME=$T GOCACHE=$T/gocache PPROF_TMPDIR=$T GOTOOLCHAIN=local
# Go's resolver knows localhost only from the hosts file (curl names it itself): a
# machine without an entry for it (a bare chroot) cannot test this.
if ! command -v go >/dev/null; then skip go_tool_pprof_via_localhost_works "no go toolchain"
elif ! getent hosts localhost >/dev/null; then skip go_tool_pprof_via_localhost_works "localhost has no address in /etc/hosts here"
else
    if go tool pprof -raw "http://localhost:$PORT/debug/pprof/heap" >"$T/pprof.out" 2>&1; then pass go_tool_pprof_via_localhost_works
    else fail go_tool_pprof_via_localhost_works "$(tail -2 "$T/pprof.out")"; fi
fi
stop_server
start_server -repetitions 10 -allowhost 'rebind.example,other.example' || exit 1
line=$($RAW exchange "$PORT" "GET /noleaker HTTP/1.1\\r\\nHost: REBIND.example:$PORT\\r\\n\\r\\n" --wait 1)
expect_facts allowhost_admits_its_names "$line" statuses=200
line=$($RAW exchange "$PORT" "GET /noleaker HTTP/1.1\\r\\nHost: third.example\\r\\n\\r\\n" --wait 1)
expect_facts allowhost_admits_only_its_names "$line" statuses=421
stop_server
start_server -repetitions 10 -allowhost '*' || exit 1
line=$($RAW exchange "$PORT" "GET /noleaker HTTP/1.1\\r\\nHost: anything.example\\r\\n\\r\\n" --wait 1)
expect_facts allowhost_star_admits_any_host "$line" statuses=200
stop_server
"$MEMDEMO" -addr 127.0.0.1:0 -allowhost 'a b' >/dev/null 2>"$T/err"; rc=$?
if [ "$rc" = 2 ] && grep -q 'invalid -allowhost entry' "$T/err"; then pass bad_allowhost_exits_2
else fail bad_allowhost_exits_2 "exit $rc: $(head -1 "$T/err")"; fi

# --- a half-closed client still gets its answer ----------------------------------------
start_server -repetitions 10 || exit 1
line=$($RAW exchange "$PORT" "GET /debug/pprof/heap?seconds=2 HTTP/1.1\\r\\n$H\\r\\n\\r\\n" --shut --wait 10 --dump "$T/half.out")
echo "# delta profile for a client that shut down writing: $line"
expect_facts half_closed_client_gets_the_delta_profile "$line" statuses=200 eof=1
line=$($RAW exchange "$PORT" "GET /debug/pprof/trace?seconds=2 HTTP/1.1\\r\\n$H\\r\\n\\r\\n" --shut --wait 10)
expect_facts half_closed_client_gets_the_trace "$line" statuses=200 eof=1
line=$($RAW exchange "$PORT" "GET /noleaker HTTP/1.1\\r\\n$H\\r\\n\\r\\nGET /debug/vars HTTP/1.1\\r\\n$H\\r\\n\\r\\n" --shut --wait 5)
expect_facts half_closed_pipelined_requests_all_answered_then_closed "$line" statuses=200,200 eof=1
stop_server

# --- under a small descriptor limit, refusals are answered, not left in the backlog -------
printf '#!/bin/sh\nexec prlimit --nofile=100:100 "%s" "$@"\n' "$MEMDEMO" >"$T/limited"
chmod +x "$T/limited"
REAL=$MEMDEMO MEMDEMO=$T/limited
start_server -repetitions 10 -max-conns-per-ip 0 -read-header-timeout 30s || exit 1
MEMDEMO=$REAL
max=$(sed -n 's/.* max-conns=\([0-9]*\) .*/\1/p' "$SERVER_LOG")
line=$($RAW storm "$PORT" --count 150 --src 127.0.0.9 --head 100)
echo "# descriptor limit 100: max-conns lowered to $max; 150 connections: $line"
expect_facts small_fd_limit_refusals_are_answered "$line" open="$max" refused=$((150 - max)) reset=0 closed=0
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/noleaker")
expect_eq small_fd_limit_serves_after_the_storm "$code" 200
stop_server
