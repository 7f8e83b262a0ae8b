#!/bin/bash
# server: integration tests for the server as a whole: flags, routes, garbage
# collection, the leaker's exact growth, concurrency and graceful shutdown. Starts the
# real ./memdemo on free loopback ports.
source "$(dirname "$0")/../lib.sh"

# --- flags ---------------------------------------------------------------------------
"$MEMDEMO" -h >"$T/help" 2>&1; rc=$?
expect_eq help_exits_0 "$rc" 0
# every flag in -h and README, with its default: tests/integration/flags.sh
check help_mentions_memprofilerate grep -q -- '-memprofilerate' "$T/help"

bad_flag() { # NAME EXPECTED-TEXT ARGS...
    local name=$1 text=$2; shift 2
    "$MEMDEMO" "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" = 2 ] && grep -q -- "$text" "$T/err" && grep -q "Usage of memdemo" "$T/err"; then pass "$name"
    else fail "$name" "exit $rc, stderr: $(head -1 "$T/err")"; fi
}
bad_flag bad_repetitions_value_exits_2 'invalid value "abc" for flag -repetitions' -repetitions abc
bad_flag negative_repetitions_exit_2 'invalid value "-1" for flag -repetitions' -repetitions=-1
bad_flag too_many_repetitions_exit_2 'for flag -repetitions' -repetitions 10000001
bad_flag zero_threads_exit_2 'for flag -threads' --threads 0
bad_flag unknown_flag_exits_2 'flag provided but not defined: -nope' -nope 1
bad_flag missing_value_exits_2 'flag needs an argument: -addr' -addr
bad_flag stray_argument_exits_2 'unexpected argument' extra

start_server -repetitions 10 || exit 1
"$MEMDEMO" -addr "127.0.0.1:$PORT" >/dev/null 2>"$T/err"; rc=$?
if [ "$rc" = 1 ] && grep -q "Address already in use" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ]; then
    pass address_in_use_exits_1_with_one_line
else fail address_in_use_exits_1_with_one_line "exit $rc: $(cat "$T/err")"; fi
"$MEMDEMO" -addr "no-port-here" >/dev/null 2>"$T/err"; rc=$?
if [ "$rc" = 1 ] && grep -q "cannot parse -addr" "$T/err"; then pass unparsable_addr_exits_1
else fail unparsable_addr_exits_1 "exit $rc: $(cat "$T/err")"; fi
check startup_line_names_settings grep -q 'repetitions=10 threads=' "$SERVER_LOG"
"$MEMDEMO" -addr localhost:0 >/dev/null 2>"$T/lh" &
LH=$!; SERVER_PIDS+=("$LH")
for i in $(seq 1 50); do grep -q listening "$T/lh" && break; sleep 0.1; done
check localhost_listens_on_ipv4_loopback grep -q 'listening on http://127.0.0.1:[0-9]' "$T/lh"
stop_server "$LH"

# --- routes --------------------------------------------------------------------------
http /nope >/dev/null; expect_eq unknown_path_is_404 "$(status)" 404
check not_found_is_one_text_line test "$(wc -l <"$T/body")" = 1
curl -s -D "$T/h" -o "$T/b" -X POST "$BASE/leaker"
check post_is_405_with_allow_header grep -qi '^Allow: GET, HEAD' "$T/h"
check post_405_status grep -q '^HTTP/1.1 405' "$T/h"
check post_did_not_leak test "$(vars_num strings)" = 0
size=$(curl -s -D "$T/h" -o /dev/null -w '%{size_download}' -I "$BASE/noleaker")
check head_has_content_length grep -qi '^Content-Length: [1-9]' "$T/h"
expect_eq head_has_no_body "$size" 0
http / >"$T/index"
for p in /noleaker /leaker /debug/vars; do
    check "index_links_${p//\//_}" grep -q "href=\"$p\"" "$T/index"
done
curl -sv "$BASE/noleaker" "$BASE/noleaker" >/dev/null 2>"$T/v"
check keep_alive_reuses_connection grep -q 'Re-using existing connection' "$T/v"
check_absent no_connection_close '^< Connection: close' "$T/v"

# --- hostile input: the server answers or closes, and keeps serving -------------------
long=$(head -c 100000 /dev/zero | tr '\0' a)   # under one argument's 128 KiB limit
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/$long"); expect_eq huge_url_is_414 "$code" 414
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/debug/pprof/heap?gc=%00%ff&debug=%zz&seconds"); expect_eq garbled_query_is_400 "$code" 400
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @<(head -c 2000000 /dev/zero) "$BASE/debug/pprof/symbol"); expect_eq huge_body_is_413 "$code" 413
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$BASE/debug/pprof/heap"); expect_eq delete_is_405 "$code" 405
code=$(curl -s -o /dev/null -w '%{http_code}' --http1.0 "$BASE/noleaker"); expect_eq http10_is_served "$code" 200
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
send_raw 3 'GET /noleaker HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /leaker HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
pipelined=$(timeout 5 cat <&3 | grep -c '^HTTP/1.1 200')
exec 3>&-
expect_eq pipelined_requests_both_answered "$pipelined" 2
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
send_raw 3 'GARBAGE\r\n\r\n\x00\xff\r\n\r\n'
timeout 5 cat <&3 >/dev/null
exec 3>&-
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/noleaker"); expect_eq serves_after_hostile_input "$code" 200
stop_server
expect_eq exits_cleanly_after_hostile_input "$STOP_STATUS" 0

# --- garbage is collected ------------------------------------------------------------
start_server -repetitions 1000 || exit 1
ok=$(requests 20000 /noleaker)
expect_eq noleaker_20000_requests_all_200 "$ok" 20000
gcs=$(vars_num NumGC); heap=$(vars_num HeapSys)
expect_ge noleaker_traffic_causes_collections "$gcs" 10
expect_le noleaker_heap_stays_under_64MB "$heap" $((64 << 20))
echo "# after 20000 /noleaker: NumGC=$gcs HeapSys=$heap RSS=$(grep VmRSS /proc/$SERVER_PID/status)"
# A /noleaker request allocates about 12 KB: its strings carved at their own bytes (3890
# for "0" to "999") and its list's 8 KiB chunk. So the 64 MB heap above held 240 MB.
total=$(vars_num TotalAlloc)
expect_ge noleaker_allocated_over_200MB "$total" $((200 << 20))
stop_server

# --- the leaker grows, exactly ---------------------------------------------------------
start_server -repetitions 1000 || exit 1
ok=$(requests 2000 /leaker)
expect_eq leaker_2000_requests_all_200 "$ok" 2000
expect_eq leaker_keeps_exactly_2000000_strings "$(vars_num strings)" 2000000
# What it keeps: 3890 B of strings a request, and the global list's chunks (8192 B per
# 1020 strings); the heap taken from the system holds at least that (23.8 MB).
kept=$(( 2000 * 3890 + (2000000 + 1019) / 1020 * 8192 ))
expect_ge leaker_heap_holds_what_it_keeps "$(vars_num HeapSys)" "$kept"
gc_before=$(vars_num NumGC)
requests 3000 /noleaker >/dev/null
expect_ge noleaker_after_leaker_collects "$(( $(vars_num NumGC) - gc_before ))" 1
expect_eq leaker_count_unchanged_after_collections "$(vars_num strings)" 2000000
stop_server

# --- concurrency -----------------------------------------------------------------------
start_server -repetitions 100 || exit 1
load 10 8 /leaker /noleaker
read -r _ reqs <<<"$(grep '^REQUESTS' "$T/wrk.out")"
read -r _ econn eread ewrite estatus etimeout <<<"$(grep '^ERRORS' "$T/wrk.out")"
leak_ok=$(grep '^LEAKER_OK' "$T/wrk.out" | awk '{print $2}')
expect_ge concurrent_load_made_requests "${reqs:-0}" 1000
expect_eq concurrent_no_socket_errors "$econn/$eread/$ewrite/$etimeout" "0/0/0/0"
expect_eq concurrent_no_non_2xx "$estatus" 0
# wrk stops with up to one request in flight per connection: the server may have
# served (and counted) those without wrk counting their answers.
served=$(vars_num requests)          # one snapshot of /debug/vars for both figures
strings_kept=$(json_num strings "$T/vars.json")
if [ -n "$served" ] && [ "$served" -ge "$leak_ok" ] && [ "$served" -le $((leak_ok + 8)) ]; then
    pass concurrent_server_served_what_wrk_saw
else fail concurrent_server_served_what_wrk_saw "server $served, wrk $leak_ok"; fi
expect_eq concurrent_leaker_total_is_requests_x_repetitions "$strings_kept" "$((served * 100))"
# Every answer of that load was queued: none counted as dropped (http.answers_dropped).
curl -s "$BASE/debug/vars" >"$T/vars"
expect_eq load_drops_no_answer "$(json_num answers_dropped "$T/vars")" 0
stop_server

# --- graceful shutdown under load ------------------------------------------------------
start_server -repetitions 1000 || exit 1
load 6 8 /noleaker &
LOADPID=$!
sleep 2
SECONDS=0
stop_server
expect_eq sigterm_under_load_exits_0 "$STOP_STATUS" 0
echo "# exited ${SECONDS}s after SIGTERM"
wait "$LOADPID"
