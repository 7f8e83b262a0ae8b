#!/bin/bash
# pprof_trace: oracle tests for the GC timeline (/debug/pprof/trace): traces from a real
# server under load must parse with Debian's go tool trace, agree with /debug/vars,
# and render in its web UI; bad and concurrent requests get Go's answers.
source "$(dirname "$0")/../lib.sh"
export HOME=$T GOCACHE=$T/gocache BROWSER=true

# trace_fetch SECONDS OUT [curl args]: fetches a trace; headers in OUT.h
trace_fetch() { curl -s --max-time 120 -D "$2.h" -o "$2" "${@:3}" "$BASE/debug/pprof/trace?seconds=$1"; }
# go tool trace listens even with -d; its default address needs "localhost" resolvable.
dump() { (cd "$T" && go tool trace -http=127.0.0.1:0 -d "$1" >"$1.d" 2>"$1.err"); }
count_ev() { awk -v e="$1" '$2 == e' "$2" | wc -l; }

start_server -repetitions 1000 -threads 2 || exit 1

# 1 + 2. a trace during mixed load parses and agrees with /debug/vars ------------------------
gc0=$(vars_num NumGC)
# The window opens first (the load waits until /metrics says a trace is running), then
# the load, then a last collection once wrk has really finished (under CPU contention
# wrk may run past its 2 s) and its last requests are served, all inside the 5 s window.
trace_fetch 5 "$T/a.trace" &
TRACE=$!
for i in $(seq 1 100); do
    curl -s --max-time 5 "$BASE/metrics" | grep -q '^memdemo_trace_running 1' && break
    sleep 0.05
done
gc0=$(vars_num NumGC)
load 2 8 /leaker /noleaker
sleep 0.5   # requests wrk left in flight when it stopped finish, and allocate, first
curl -s -o /dev/null "$BASE/debug/pprof/heap?gc=1"
wait "$TRACE"
gc1=$(vars_num NumGC); inuse=$(vars_num HeapInuse)
check trace_is_octet_stream grep -qi '^Content-Type: application/octet-stream' "$T/a.trace.h"
check trace_is_attachment grep -qi '^Content-Disposition: attachment; filename="trace"' "$T/a.trace.h"
check trace_has_go119_header test "$(head -c 13 "$T/a.trace")" = "go 1.19 trace"
if dump "$T/a.trace"; then pass trace_under_load_parses; else fail trace_under_load_parses "$(tail -1 "$T/a.trace.err")"; fi
gcs=$(count_ev GCStart "$T/a.trace.d")
echo "# trace: $(wc -c <"$T/a.trace") bytes, $gcs GCs; /debug/vars counted $((gc1 - gc0))"
if [ "$gcs" -ge $((gc1 - gc0 - 2)) ] && [ "$gcs" -le $((gc1 - gc0 + 2)) ] && [ "$gcs" -ge 2 ]; then
    pass trace_gc_count_matches_debug_vars
else fail trace_gc_count_matches_debug_vars "trace $gcs, /debug/vars $((gc1 - gc0))"; fi
expect_eq every_gc_ends "$(count_ev GCDone "$T/a.trace.d")" "$gcs"
expect_eq every_gc_has_a_pause "$(count_ev GCSTWStart "$T/a.trace.d")" "$gcs"
# The heap the last collection left: the HeapAlloc it wrote before its GCDone (a request
# wrk left in flight may end after it, and its HeapAlloc adds what it allocated since).
last_heap=$(awk '$2 == "HeapAlloc" { h = $0 } $2 == "GCDone" { at_gc = h } END { print at_gc }' "$T/a.trace.d" |
    grep -o 'mem=[0-9]*' | cut -d= -f2)
expect_eq heap_counter_matches_bdwgc_after_last_gc "$last_heap" "$inuse"
reqs=$(count_ev UserTaskCreate "$T/a.trace.d")
expect_ge trace_has_requests "$reqs" 100
echo "# $reqs requests traced: $(( $(wc -c <"$T/a.trace") / reqs )) bytes per request"
check trace_reports_no_drops grep -qi '^X-Trace-Dropped-Events: 0' "$T/a.trace.h"

# 3. the web UI serves every page we rely on ------------------------------------------------
(cd "$T" && exec go tool trace -http=127.0.0.1:0 "$T/a.trace" >"$T/ui.log" 2>&1) &
UI=$!
SERVER_PIDS+=("$UI")
for i in $(seq 1 100); do
    UIADDR=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/ui.log" | head -1); [ -n "$UIADDR" ] && break; sleep 0.2
done
ui() { curl -s --max-time 60 -o "$T/ui.$2" -w '%{http_code}' "$UIADDR$1"; }
expect_eq ui_jsontrace_200 "$(ui /jsontrace json)" 200
check ui_has_gc_slices grep -q '"name":"GC"' "$T/ui.json"
check ui_has_stw_slices grep -q '"name":"STW (mark termination)"' "$T/ui.json"
check ui_has_heap_counter grep -q '"name":"Heap","ph":"C"' "$T/ui.json"
check ui_has_leaker_slices grep -q '"name":"G[0-9]* GET /leaker"' "$T/ui.json"
check ui_has_noleaker_slices grep -q '"name":"G[0-9]* GET /noleaker"' "$T/ui.json"
rows=$(grep -o '"name":"G[0-9]* GET /[a-z]*"[^}]*"tid":[0-9]*' "$T/ui.json" | grep -o '"tid":[0-9]*$' | sort -u | wc -l)
expect_ge ui_requests_on_at_least_2_thread_rows "$rows" 2
expect_eq ui_goroutines_200 "$(ui /goroutines g)" 200
check ui_goroutines_groups_leaker grep -q '>GET /leaker</a> N=' "$T/ui.g"
check ui_goroutines_groups_noleaker grep -q '>GET /noleaker</a> N=' "$T/ui.g"
expect_eq ui_usertasks_200 "$(ui /usertasks t)" 200
check ui_usertasks_lists_leaker grep -q 'GET /leaker' "$T/ui.t"
check ui_usertasks_lists_noleaker grep -q 'GET /noleaker' "$T/ui.t"
expect_eq ui_mmu_200 "$(ui /mmu m)" 200
expect_eq ui_mmuplot_200 "$(ui '/mmuPlot?flags=mut|stw|background|assist|sweep' mp)" 200
kill "$UI" 2>/dev/null; wait "$UI" 2>/dev/null

# 6. the same trace opens in Go 1.23 where Debian's golang-1.23-go is installed -------------
GO123=/usr/lib/go-1.23/bin/go
if [ -x "$GO123" ]; then
    if (cd "$T" && GOTOOLCHAIN=local "$GO123" tool trace -http=127.0.0.1:0 -d=1 "$T/a.trace" >/dev/null 2>"$T/g123.err"); then
        pass trace_opens_in_go_1_23
    else fail trace_opens_in_go_1_23 "$(tail -1 "$T/g123.err")"; fi
else
    echo "SKIP trace_opens_in_go_1_23: $GO123 not installed (Debian's golang-1.23-go, bookworm-backports)"
fi

# 4. concurrency, bad seconds, disconnects --------------------------------------------------
trace_fetch 2 "$T/first.trace" &
FIRST=$!
sleep 0.5
trace_fetch 1 "$T/second.trace"
check second_trace_is_500 grep -q '^HTTP/1.1 500' "$T/second.trace.h"
check second_trace_says_already_enabled grep -q 'Could not enable tracing: tracing is already enabled' "$T/second.trace"
check second_trace_is_pprof_error grep -qi '^X-Go-Pprof: 1' "$T/second.trace.h"
wait "$FIRST"
dump "$T/first.trace" && pass first_trace_still_completes || fail first_trace_still_completes "$(tail -1 "$T/first.trace.err")"

requests 1 /noleaker >/dev/null
SECONDS=0
trace_fetch abc "$T/abc.trace"
took=$SECONDS
if dump "$T/abc.trace"; then pass invalid_seconds_gives_a_trace; else fail invalid_seconds_gives_a_trace "$(tail -1 "$T/abc.trace.err")"; fi
echo "# seconds=abc took ${took}s (Go's rule: 1 s)"
trace_fetch -5 "$T/neg.trace"
check negative_seconds_gives_a_trace grep -q '^HTTP/1.1 200' "$T/neg.trace.h"

curl -s --max-time 1 -o /dev/null "$BASE/debug/pprof/trace?seconds=30"   # hangs up after 1 s
ok=$(requests 20 /noleaker)
expect_eq serves_after_client_hangs_up "$ok" 20
# The hung-up window closes once the deferral thread sees the FIN (a tick) and has
# finished with the window (a loaded machine may take a while): wait for that, 10 s at
# most, far short of the 30 s the window asked for.
for i in $(seq 1 100); do
    curl -s --max-time 5 "$BASE/metrics" | grep -q '^memdemo_trace_running 0$' && break
    sleep 0.1
done
trace_fetch 1 "$T/after.trace"
check next_trace_works_after_hang_up grep -q '^HTTP/1.1 200' "$T/after.trace.h"
dump "$T/after.trace" && pass trace_after_hang_up_parses || fail trace_after_hang_up_parses "$(tail -1 "$T/after.trace.err")"
check index_lists_trace grep -q 'href="trace' <(curl -s "$BASE/debug/pprof/")
# SIGTERM during a 30 s window: the window ends early and the client gets the trace so far
trace_fetch 30 "$T/cut.trace" &
CUT=$!
sleep 0.5
requests 20 /leaker >/dev/null
stop_server
wait "$CUT"
expect_eq server_exits_cleanly_during_a_trace "$STOP_STATUS" 0
check trace_cut_by_shutdown_is_answered grep -q '^HTTP/1.1 200' "$T/cut.trace.h"
dump "$T/cut.trace" && pass trace_cut_by_shutdown_parses || fail trace_cut_by_shutdown_parses "$(tail -1 "$T/cut.trace.err")"
expect_eq trace_cut_by_shutdown_has_the_requests "$(grep -c " UserTaskCreate .* name=GET /leaker$" "$T/cut.trace.d")" 20

# 5. a tiny buffer cap under load: still parses, and says how much it dropped --------------
start_server -repetitions 1000 -threads 2 -tracebuf 4096 || exit 1
load 2 8 /leaker /noleaker &
LOAD=$!
trace_fetch 1.5 "$T/tiny.trace"
wait "$LOAD"
dump "$T/tiny.trace" && pass tiny_buffer_trace_parses || fail tiny_buffer_trace_parses "$(tail -1 "$T/tiny.trace.err")"
dropped=$(grep -i '^X-Trace-Dropped-Events:' "$T/tiny.trace.h" | tr -dc 0-9)
expect_ge tiny_buffer_reports_dropped_events "${dropped:-0}" 1
check tiny_buffer_trace_names_the_drop grep -q 'events dropped' <(strings "$T/tiny.trace")
total=$(vars_num dropped_events_total)
expect_ge debug_vars_counts_the_dropped_events "${total:-0}" "${dropped:-1}"
ok=$(requests 10 /noleaker)
expect_eq serves_after_overflow "$ok" 10
stop_server
