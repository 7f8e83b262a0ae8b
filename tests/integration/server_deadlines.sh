#!/bin/bash
# server_deadlines: the HTTP server's request framing and deadlines: each malformed
# request (two Content-Lengths, Transfer-Encoding with Content-Length, a bad length, an
# encoded NUL, HTTP/1.1 without Host) gets exactly one 400 and the connection closes;
# header, body and idle deadlines are absolute, so a trickle does not extend them,
# while windows longer than the write timeout still finish. Raw requests go through
# tests/rawhttp.py (one key=value line per exchange); every server gets short
# deadlines through its flags so that nothing here waits long. Loopback only. The
# connection limits are server_limits.sh.
source "$(dirname "$0")/../lib.sh"

# --- framing: each malformed request gets exactly one 400 and the connection closes ----
start_server -repetitions 10 || exit 1
check startup_line_names_the_limits grep -q 'max-conns=1024 max-conns-per-ip=256 read-header-timeout=10s' "$SERVER_LOG"
one_400() { # NAME REQUEST
    local line; line=$($RAW exchange "$PORT" "$2" --dump "$T/$1.out")
    expect_facts "$1" "$line" statuses=400 status_lines=1 eof=1
}
one_400 smuggling_two_content_lengths_get_one_400 \
    'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 44\r\n\r\n0x123GET /leaker HTTP/1.1\r\nHost: x\r\n\r\n'
expect_eq smuggled_request_is_not_served "$(vars_num requests)" 0
one_400 transfer_encoding_with_content_length_gets_one_400 \
    'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n'
for cl in -1 12a +5 0x10 18446744073709551616 9223372036854775808; do
    one_400 "content_length_${cl}_gets_one_400" \
        "POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: $cl\r\n\r\n"
done
check invalid_length_answer_is_one_text_line grep -q '^invalid Content-Length header$' "$T/content_length_-1_gets_one_400.out"
one_400 encoded_nul_in_path_gets_400 'GET /debug/pprof/heap%00x HTTP/1.1\r\nHost: x\r\n\r\n'
one_400 http11_without_host_gets_400 'GET /noleaker HTTP/1.1\r\n\r\n'
line=$($RAW exchange "$PORT" 'GET /noleaker HTTP/1.0\r\n\r\n')
expect_facts http10_without_host_is_served "$line" statuses=200
line=$($RAW exchange "$PORT" 'GET http://example.com/noleaker HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n' --dump "$T/abs.out")
expect_facts absolute_form_uri_is_served_as_its_path "$line" statuses=200
check absolute_form_reaches_the_handler grep -q '^noleaker: made 10 strings' "$T/abs.out"
line=$($RAW exchange "$PORT" 'GET http://example.com/debug/pprof/heap?debug=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n' --dump "$T/absq.out")
expect_facts absolute_form_keeps_its_query "$line" statuses=200
check absolute_form_query_reaches_the_handler grep -q '^heap profile:' "$T/absq.out"

# --- bodies are decided from the headers, before any body byte and any 100 Continue ----
line=$($RAW exchange "$PORT" 'POST /leaker HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n' --wait 5)
expect_facts method_not_allowed_is_405_before_the_body "$line" statuses=405 eof=1
line=$($RAW exchange "$PORT" 'POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n' --wait 5)
expect_facts unknown_path_is_404_before_the_body "$line" statuses=404 eof=1
line=$($RAW exchange "$PORT" 'POST /leaker HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n' --wait 5)
expect_facts no_100_continue_for_a_refused_request "$line" statuses=405 eof=1
line=$($RAW exchange "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\nExpect: 100-continue\r\n\r\n' --wait 5)
expect_facts no_100_continue_for_an_oversized_body "$line" statuses=413 eof=1
line=$($RAW body "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n')
echo "# declared 99999999999 bytes: answer after $(fact sent "$line") body bytes sent"
expect_facts declared_oversized_body_gets_413_and_close "$line" statuses=413 closed=1
expect_le oversized_body_answered_while_client_still_sends "$(fact sent "$line")" $((64 << 20))
line=$($RAW body "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' --chunked)
echo "# chunked body: 413 after $(fact sent "$line") bytes sent"
expect_facts chunked_body_over_limit_gets_413_and_close "$line" statuses=413 closed=1
expect_le chunked_body_answered_while_client_still_sends "$(fact sent "$line")" $((64 << 20))
line=$($RAW exchange "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n0x123' --wait 3)
expect_eq body_within_limit_is_still_served "$(fact statuses "$line" | sed 's/^100,//')" 200
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/noleaker"); expect_eq serves_after_malformed_requests "$code" 200
stop_server
expect_eq exits_cleanly_after_malformed_requests "$STOP_STATUS" 0

# --- deadlines: absolute, so a trickle does not extend them ------------------------------
# (idle 3s: libmicrohttpd's own inactivity timeout, a second beyond it, must not act first)
start_server -repetitions 10 -read-header-timeout 1s -read-timeout 2s -idle-timeout 3s -write-timeout 1s || exit 1
$RAW trickle "$PORT" 'GET /noleaker HTTP/1.1\r\nHost: trickle\r\n\r\n' --gap 0.25 >"$T/trickle" &
TRICKLE=$!
ok=$(requests 20 /noleaker)
wait "$TRICKLE"; line=$(cat "$T/trickle")
echo "# trickle at 4 bytes/s with a 1 s header deadline: cut after $(fact sent "$line") of $(fact of "$line") bytes"
expect_facts trickling_client_is_cut_at_header_deadline "$line" closed=1 statuses=none
if [ "$(fact sent "$line")" -lt "$(fact of "$line")" ]; then pass trickle_cut_before_its_headers_were_complete
else fail trickle_cut_before_its_headers_were_complete "$line"; fi
expect_eq normal_client_served_during_trickle "$ok" 20
line=$($RAW exchange "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n' --wait 15)
expect_facts declared_body_never_sent_is_cut_at_body_deadline "$line" statuses=none eof=1
line=$($RAW trickle "$PORT" '0x1+0x2+0x3+0x4+0x5+0x6+0x7+0x8+0x9+0xa' --gap 0.25 \
       --head 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 39\r\n\r\n')
echo "# body trickled at 4 bytes/s with a 2 s read deadline: cut after $(fact sent "$line") of $(fact of "$line") bytes"
expect_facts trickled_body_is_cut_at_read_deadline "$line" closed=1 statuses=none
expect_le trickled_body_cut_before_it_was_complete "$(fact sent "$line")" 38
line=$($RAW exchange "$PORT" 'GET /noleaker HTTP/1.1\r\nHost: x\r\n\r\n' --wait 15)
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
line=$($RAW trickle "$PORT" 'GET /noleaker HTTP/1.1\r\nHost: trickle\r\n\r\n' --gap 0.25 \
       --first 'GET /noleaker HTTP/1.1\r\nHost: x\r\n\r\n')
echo "# second request trickled on a keep-alive connection: cut after $(fact sent "$line") bytes"
expect_facts keepalive_trickle_is_cut_at_header_deadline "$line" closed=1 statuses=none
expect_le keepalive_trickle_cut_within_its_request_line "$(fact sent "$line")" 23
stop_server
