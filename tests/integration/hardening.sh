#!/bin/bash
# Integration tests for connection-level hardening (issue: hardening): limits with 503,
# deadlines that a trickle does not extend, bodies refused from their headers, strict
# framing, memory given back after a storm, and a second stop signal. Raw requests go
# through tests/rawhttp.py (one key=value line per exchange); every server gets short
# deadlines through its flags so that nothing here waits long. Loopback only: storms
# come from other 127/8 addresses so that the per-address limit can tell them apart.
source "$(dirname "$0")/../lib.sh"
RAW="python3 $ROOT/tests/rawhttp.py"

conn_num() { local v; v=$(vars_num "$1"); echo "${v:-0}"; }   # connections.* from /debug/vars
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# --- flags -----------------------------------------------------------------------------
"$MEMDEMO" -h >"$T/help" 2>&1
for f in max-conns max-conns-per-ip read-header-timeout read-timeout write-timeout idle-timeout; do
    # README's flag table states the same default as -h (both come from src/conns.h)
    want=$(awk -v f="-$f" '$1 == f {on = 1; next} /^  -/ {on = 0}
        on && match($0, /\(default [^)]*\)$/) {print substr($0, RSTART + 9, RLENGTH - 10)}' "$T/help")
    got=$(grep -o "^| \`-$f [A-Z]*\` | [^|]* |" "$ROOT/README.md" | awk -F'|' '{gsub(/ /, "", $3); print $3}')
    if [ -n "$want" ] && [ "$want" = "$got" ]; then pass "readme_and_help_agree_on_-$f"
    else fail "readme_and_help_agree_on_-$f" "help says '$want', README '$got'"; fi
done
for bad in 10 ' 1s' -1s 1x 25h; do
    "$MEMDEMO" -read-timeout "$bad" >/dev/null 2>"$T/err"; rc=$?
    if [ "$rc" = 2 ] && grep -q 'invalid value' "$T/err"; then pass "duration_'$bad'_is_refused"
    else fail "duration_'$bad'_is_refused" "exit $rc: $(head -1 "$T/err")"; fi
done

# --- framing: each malformed request gets exactly one 400 and the connection closes ----
start_server -repetitions 10 || exit 1
check startup_line_names_the_limits grep -q 'max-conns=1024 max-conns-per-ip=256 read-header-timeout=10s' "$SERVER_LOG"
one_400() { # NAME REQUEST
    local line; line=$($RAW exchange "$PORT" "$2" --dump "$T/$1.out")
    expect_facts "$1" "$line" statuses=400 status_lines=1 eof=1
}
one_400 smuggling_two_content_lengths_get_one_400 \
    'POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 44\r\n\r\n0x123GET /leaker HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
expect_eq smuggled_request_is_not_served "$(vars_num requests)" 0
one_400 transfer_encoding_with_content_length_gets_one_400 \
    'POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n'
for cl in -1 12a +5 0x10 18446744073709551616 9223372036854775808; do
    one_400 "content_length_${cl}_gets_one_400" \
        "POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: $cl\r\n\r\n"
done
check invalid_length_answer_is_one_text_line grep -q '^invalid Content-Length header$' "$T/content_length_-1_gets_one_400.out"
one_400 encoded_nul_in_path_gets_400 'GET /debug/pprof/heap%00x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
one_400 http11_without_host_gets_400 'GET /noleaker HTTP/1.1\r\n\r\n'
line=$($RAW exchange "$PORT" 'GET /noleaker HTTP/1.0\r\n\r\n')
expect_facts http10_without_host_is_served "$line" statuses=200
line=$($RAW exchange "$PORT" 'GET http://localhost/noleaker HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' --dump "$T/abs.out")
expect_facts absolute_form_uri_is_served_as_its_path "$line" statuses=200
check absolute_form_reaches_the_handler grep -q '^noleaker: made 10 strings' "$T/abs.out"
line=$($RAW exchange "$PORT" 'GET http://127.0.0.1/debug/pprof/heap?debug=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' --dump "$T/absq.out")
expect_facts absolute_form_keeps_its_query "$line" statuses=200
check absolute_form_query_reaches_the_handler grep -q '^heap profile:' "$T/absq.out"

# --- bodies are decided from the headers, before any body byte and any 100 Continue ----
line=$($RAW exchange "$PORT" 'POST /leaker HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n' --wait 5)
expect_facts method_not_allowed_is_405_before_the_body "$line" statuses=405 eof=1
line=$($RAW exchange "$PORT" 'POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n' --wait 5)
expect_facts unknown_path_is_404_before_the_body "$line" statuses=404 eof=1
line=$($RAW exchange "$PORT" 'POST /leaker HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n' --wait 5)
expect_facts no_100_continue_for_a_refused_request "$line" statuses=405 eof=1
line=$($RAW exchange "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\nExpect: 100-continue\r\n\r\n' --wait 5)
expect_facts no_100_continue_for_an_oversized_body "$line" statuses=413 eof=1
line=$($RAW body "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\n\r\n')
echo "# declared 99999999999 bytes: answer after $(fact sent "$line") body bytes sent"
expect_facts declared_oversized_body_gets_413_and_close "$line" statuses=413 closed=1
expect_le oversized_body_answered_while_client_still_sends "$(fact sent "$line")" $((64 << 20))
line=$($RAW body "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n' --chunked)
echo "# chunked body: 413 after $(fact sent "$line") bytes sent"
expect_facts chunked_body_over_limit_gets_413_and_close "$line" statuses=413 closed=1
expect_le chunked_body_answered_while_client_still_sends "$(fact sent "$line")" $((64 << 20))
line=$($RAW exchange "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n0x123' --wait 3)
expect_eq body_within_limit_is_still_served "$(fact statuses "$line" | sed 's/^100,//')" 200
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/noleaker"); expect_eq serves_after_malformed_requests "$code" 200
stop_server
expect_eq exits_cleanly_after_malformed_requests "$STOP_STATUS" 0

# --- deadlines: absolute, so a trickle does not extend them ------------------------------
# (idle 3s: libmicrohttpd's own inactivity timeout, a second beyond it, must not act first)
start_server -repetitions 10 -read-header-timeout 1s -read-timeout 2s -idle-timeout 3s -write-timeout 1s || exit 1
$RAW trickle "$PORT" 'GET /noleaker HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' --gap 0.25 >"$T/trickle" &
TRICKLE=$!
ok=$(requests 20 /noleaker)
wait "$TRICKLE"; line=$(cat "$T/trickle")
echo "# trickle at 4 bytes/s with a 1 s header deadline: cut after $(fact sent "$line") of $(fact of "$line") bytes"
expect_facts trickling_client_is_cut_at_header_deadline "$line" closed=1 statuses=none
if [ "$(fact sent "$line")" -lt "$(fact of "$line")" ]; then pass trickle_cut_before_its_headers_were_complete
else fail trickle_cut_before_its_headers_were_complete "$line"; fi
expect_eq normal_client_served_during_trickle "$ok" 20
line=$($RAW exchange "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n' --wait 15)
expect_facts declared_body_never_sent_is_cut_at_body_deadline "$line" statuses=none eof=1
line=$($RAW trickle "$PORT" '0x1+0x2+0x3+0x4+0x5+0x6+0x7+0x8+0x9+0xa' --gap 0.25 \
       --head 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 39\r\n\r\n')
echo "# body trickled at 4 bytes/s with a 2 s read deadline: cut after $(fact sent "$line") of $(fact of "$line") bytes"
expect_facts trickled_body_is_cut_at_read_deadline "$line" closed=1 statuses=none
expect_le trickled_body_cut_before_it_was_complete "$(fact sent "$line")" 38
line=$($RAW exchange "$PORT" 'GET /noleaker HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' --wait 15)
expect_facts idle_keepalive_connection_is_closed "$line" statuses=200 eof=1
trace_code=$(curl -s -o "$T/trace" -w '%{http_code}' --max-time 30 "$BASE/debug/pprof/trace?seconds=2")
expect_eq trace_window_longer_than_write_timeout_finishes "$trace_code" 200
check trace_longer_than_write_timeout_is_complete test "$(head -c 13 "$T/trace")" = "go 1.19 trace"
delta_code=$(curl -s -o "$T/delta" -w '%{http_code}' --max-time 30 "$BASE/debug/pprof/heap?seconds=2")
expect_eq delta_window_longer_than_write_timeout_finishes "$delta_code" 200
check delta_profile_is_gzip test "$(head -c 2 "$T/delta" | od -An -tx1 | tr -d ' ')" = 1f8b
expect_ge vars_count_header_cuts "$(conn_num cut_header)" 1
expect_ge vars_count_body_cuts "$(conn_num cut_body)" 1
expect_ge vars_count_idle_cuts "$(conn_num cut_idle)" 1
stop_server

# a keep-alive connection's next request: its header clock starts at its first byte
start_server -repetitions 10 -read-header-timeout 1s -idle-timeout 30s || exit 1
line=$($RAW trickle "$PORT" 'GET /noleaker HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' --gap 0.25 \
       --first 'GET /noleaker HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
echo "# second request trickled on a keep-alive connection: cut after $(fact sent "$line") bytes"
expect_facts keepalive_trickle_is_cut_at_header_deadline "$line" closed=1 statuses=none
expect_le keepalive_trickle_cut_within_its_request_line "$(fact sent "$line")" 23
stop_server

# --- connection limits: 503 with Retry-After, never a wait -------------------------------
# (the storms send a partial request: connections with a request in progress are never
# reclaimed, idle ones are, below)
start_server -repetitions 10 -max-conns 40 -max-conns-per-ip 10 -read-header-timeout 30s || exit 1
$RAW storm "$PORT" --count 30 --src 127.0.0.2 --head 100 --hold 4 --ready "$T/storm1" >/dev/null &
S1=$!
for i in $(seq 1 100); do [ -s "$T/storm1" ] && break; sleep 0.1; done
line=$(cat "$T/storm1" 2>/dev/null)
expect_facts per_address_limit_admits_exactly_its_limit "$line" open=10
expect_facts per_address_limit_refuses_the_rest_with_503 "$line" refused=20 retry_after=20 reset=0 closed=0
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/noleaker")
expect_eq normal_client_served_during_address_storm "$code" 200
wait "$S1"
pids=()
for src in 3 4 5 6; do
    rm -f "$T/storm$src"
    $RAW storm "$PORT" --count 10 --src "127.0.0.$src" --head 100 --hold 4 --ready "$T/storm$src" >/dev/null &
    pids+=($!)
done
for i in $(seq 1 100); do
    n=0; for src in 3 4 5 6; do [ -s "$T/storm$src" ] && n=$((n + 1)); done
    [ "$n" = 4 ] && break; sleep 0.1
done
line=$($RAW storm "$PORT" --count 10 --src 127.0.0.7)
expect_facts total_limit_refuses_with_503 "$line" open=0 refused=10 retry_after=10
curl -s -D "$T/busy.h" -o "$T/busy" --max-time 10 "$BASE/noleaker"
check total_limit_answers_503_at_once grep -q '^HTTP/1.1 503' "$T/busy.h"
check total_limit_503_has_retry_after grep -qi '^Retry-After: 1' "$T/busy.h"
check total_limit_503_says_why grep -q 'connection limit' "$T/busy"
wait "${pids[@]}"
for i in $(seq 1 50); do [ "$(conn_num open)" = 1 ] && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/noleaker")
expect_eq normal_client_served_after_storm "$code" 200
refusals=$(( $(conn_num refused_total) + $(conn_num refused_addr) ))
expect_ge vars_count_refusals "$refusals" 30
curl -s "$BASE/metrics" >"$T/metrics"
expect_ge metrics_count_503_refusals "$(sed -n 's/^memdemo_http_requests_total{route="unmatched",code="503"} //p' "$T/metrics")" 30
stop_server

# --- idle connections are reclaimed, oldest first, before anyone is refused ---------------
# (nginx does the same; a load tool that opens its connections before sending got 503s)
start_server -repetitions 10 -max-conns 40 -max-conns-per-ip 10 -read-header-timeout 30s || exit 1
$RAW storm "$PORT" --count 30 --src 127.0.0.2 --hold 4 --ready "$T/idle1" >/dev/null &
S1=$!
for i in $(seq 1 100); do [ -s "$T/idle1" ] && break; sleep 0.1; done
line=$(cat "$T/idle1" 2>/dev/null)
echo "# 30 idle connections from one address, limit 10: $line"
expect_facts idle_flood_from_one_address_keeps_its_limit "$line" open=10 refused=0 reset=0 closed=20
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --interface 127.0.0.2 "$BASE/noleaker")
expect_eq new_client_from_idle_flooding_address_is_served "$code" 200
wait "$S1"
pids=()
for src in 3 4 5 6; do
    rm -f "$T/idle$src"
    $RAW storm "$PORT" --count 10 --src "127.0.0.$src" --hold 8 --ready "$T/idle$src" >/dev/null &
    pids+=($!)
done
for i in $(seq 1 100); do
    n=0; for src in 3 4 5 6; do [ -s "$T/idle$src" ] && n=$((n + 1)); done
    [ "$n" = 4 ] && break; sleep 0.1
done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/noleaker")
expect_eq new_client_served_with_total_limit_full_of_idle_connections "$code" 200
before=$(conn_num reclaimed_idle)
line=$($RAW storm "$PORT" --count 5 --src 127.0.0.7 --head 100)
expect_facts reclaiming_refuses_nobody_while_idle_connections_remain "$line" open=5 refused=0
expect_ge idle_connections_made_room_for_busy_ones "$(( $(conn_num reclaimed_idle) - before ))" 4
wait "${pids[@]}"
expect_eq vars_count_no_refusals_while_reclaiming "$(( $(conn_num refused_total) + $(conn_num refused_addr) ))" 0
stop_server

# --- memory for connections is given back -------------------------------------------------
start_server -repetitions 10 -max-conns 5000 -max-conns-per-ip 0 -read-header-timeout 30s || exit 1
requests 200 /noleaker >/dev/null
base_kb=$(rss_kb "$SERVER_PID")
$RAW storm "$PORT" --count 4000 --src 127.0.0.8 --head 2000 --hold 1 --ready "$T/big" >/dev/null &
BIG=$!
for i in $(seq 1 300); do [ -s "$T/big" ] && break; sleep 0.1; done
peak_kb=$(rss_kb "$SERVER_PID")
wait "$BIG"
expect_facts storm_connections_all_admitted "$(cat "$T/big")" open=4000
for i in $(seq 1 100); do [ "$(conn_num open)" = 1 ] && break; sleep 0.1; done
for i in $(seq 1 40); do
    after_kb=$(rss_kb "$SERVER_PID"); [ "$after_kb" -le $((2 * base_kb)) ] && break; sleep 0.25
done
echo "# RSS: ${base_kb} kB before, ${peak_kb} kB with 4000 connections open, ${after_kb} kB once they had closed"
expect_le rss_returns_within_2x_baseline_after_storm "$after_kb" $((2 * base_kb))
stop_server

# --- a second stop signal ends the grace period ------------------------------------------
start_server -repetitions 10 || exit 1
$RAW exchange "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n' --wait 20 >/dev/null &
STALL=$!
for i in $(seq 1 50); do [ "$(conn_num open)" -ge 2 ] 2>/dev/null && break; sleep 0.1; done
kill -TERM "$SERVER_PID"
for i in $(seq 1 50); do grep -q 'stopping' "$SERVER_LOG" && break; sleep 0.1; done
kill -TERM "$SERVER_PID" 2>/dev/null
for i in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SERVER_PID" 2>/dev/null; rc=$?
if [ "$rc" != 0 ] && [ "$rc" -lt 128 ]; then pass second_sigterm_exits_at_once_nonzero
else fail second_sigterm_exits_at_once_nonzero "exit status $rc"; fi
check second_sigterm_says_so grep -q 'second SIGTERM: exiting now' "$SERVER_LOG"
kill "$STALL" 2>/dev/null; wait "$STALL" 2>/dev/null || true   # (killed: status 143)
