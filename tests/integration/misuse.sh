#!/bin/bash
# misuse: what an operator's environment or a client's requests must not be able to do
# to the server's own bounds (counts and bytes, never times):
#   - bdwgc variables that defeat a flag are reported at start, one line each, and
#     GC_DONT_GC / GC_FIND_LEAK (nothing would ever be freed) refuse to start;
#   - exact mode's bookkeeping counts against -maxheap;
#   - clients looping on ?gc=1 share forced collections instead of each running one;
#   - a flood of malformed requests that libmicrohttpd logs writes at most a burst of
#     log lines, and counts the rest.
source "$(dirname "$0")/../lib.sh"

# ---- bdwgc's environment ------------------------------------------------------------

for v in 1 0; do   # bdwgc acts on GC_DONT_GC whatever its value
    GC_DONT_GC=$v timeout 10 "$MEMDEMO" -addr 127.0.0.1:0 -maxheap 64MiB >/dev/null 2>"$T/dontgc.err"
    expect_eq "gc_dont_gc_${v}_refuses_to_start" "$?" 2
    expect_eq "gc_dont_gc_${v}_says_why_in_one_line" "$(grep -c "^memdemo: GC_DONT_GC=$v in the environment turns every collection off.*unset it$" "$T/dontgc.err")" 1
    check "gc_dont_gc_${v}_never_listens" test "$(grep -c 'listening on' "$T/dontgc.err")" -eq 0
done
GC_FIND_LEAK=1 timeout 10 "$MEMDEMO" -addr 127.0.0.1:0 >/dev/null 2>"$T/findleak.err"
expect_eq gc_find_leak_refuses_to_start "$?" 2

GC_MAXIMUM_HEAP_SIZE=1G GC_FREE_SPACE_DIVISOR=3 start_server -maxheap 64MiB || exit 1
expect_eq overridden_variables_reported_one_line_each "$(grep -c '^memdemo: GC_[A-Z_]*=.* in the environment is ignored' "$SERVER_LOG")" 2
http /debug/vars >"$T/vars"
expect_eq maxheap_flag_still_sets_the_cap "$(json_num heapcap "$T/vars")" 67108864
stop_server
start_server || exit 1
expect_eq clean_environment_reports_nothing "$(grep -c 'in the environment' "$SERVER_LOG")" 0
stop_server

# ---- exact mode's bookkeeping counts against -maxheap ---------------------------------
# At -memprofilerate 1 every live object has a tracking slot (malloc'd, 24 bytes: more
# than a 16-byte string). The leaker is refused once the heap in use plus that
# bookkeeping would pass the kept limit, so both together stay under the cap (before,
# the bookkeeping came on top: about 1.5x the heap).
start_server -maxheap 16MiB -memprofilerate 1 -repetitions 5000 || exit 1
for i in $(seq 1 400); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/leaker")
    [ "$code" = 503 ] && break
done
expect_eq exact_mode_leaker_is_refused_at_the_cap "$code" 503
http "/debug/vars?gc=1" >"$T/vars"
inuse=$(json_num HeapInuse "$T/vars"); book=$(json_num bookkeeping_bytes "$T/vars")
echo "# exact mode at the cap: HeapInuse $inuse + bookkeeping $book = $((inuse + book)) of 16777216"
expect_le exact_mode_heap_plus_bookkeeping_within_the_cap "$((inuse + book))" 16777216
expect_ge pacer_counts_the_profilers_bookkeeping "$(json_num bookkeeping "$T/vars")" $((book * 9 / 10))
stop_server

# ---- forced collections are shared ------------------------------------------------------
# Three clients loop on ?gc=1 (two on the heap profile, one on /debug/vars), 200 requests
# each on keep-alive connections. Each used to run a full collection (a looping client
# kept the world stopped most of the time); now concurrent ones share a collection and
# one within 9x the last forced collection's length after it reuses it. Counted, not timed.
start_server -repetitions 2000 || exit 1
for i in $(seq 1 20); do curl -s -o /dev/null "$BASE/leaker"; done   # a heap worth marking
http "/debug/vars" >"$T/v0"
gc_loop() { python3 - "$PORT" "$1" 200 <<'PY'
import http.client, sys
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
ok = 0
for _ in range(n):
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    ok += r.status == 200
print(ok)
PY
}
gc_loop "/debug/pprof/heap?gc=1" >"$T/ok1" & l1=$!
gc_loop "/debug/pprof/heap?gc=1" >"$T/ok2" & l2=$!
gc_loop "/debug/vars?gc=1" >"$T/ok3" & l3=$!
wait "$l1" "$l2" "$l3"
http "/debug/vars" >"$T/v1"
answered=$(( $(cat "$T/ok1") + $(cat "$T/ok2") + $(cat "$T/ok3") ))
grew() { local a b; a=$(json_num "$1" "$T/v0"); b=$(json_num "$1" "$T/v1"); echo $(( ${b:-0} - ${a:-0} )); }
gcs=$(grew NumGC); forced=$(grew NumForcedGC); shared=$(grew ForcedGCShared); paused=$(grew PauseTotalNs)
echo "# $answered gc=1 requests: $gcs collections ($forced forced, $shared shared one), ${paused} ns stopped"
expect_eq gc_loop_requests_all_answered "$answered" 600
expect_le forced_collections_are_a_quarter_of_the_requests_at_most "$gcs" 150
expect_eq every_request_collected_or_shared "$((forced + shared))" 600
stop_server

# ---- log lines a client causes are rate-limited -------------------------------------------
# A malformed head never reaches libmicrohttpd's log (src/reqgate.c refuses it first), so
# the flood is 300 broken chunked bodies, each sent once libmicrohttpd has read its head
# (it answered Expect: 100-continue): the gate answers 400 and resets the connection
# under libmicrohttpd, which logs one line per request. At most a burst of those lines
# (20) reaches stderr, and every one held back is counted (/metrics, /debug/vars). Each
# second the flood lasts (a sanitizer build is slow) lets one more line pass, after a
# line saying how many were dropped.
MHD_LINE='Socket has been disconnected when reading request'
start_server || exit 1
before=$(wc -l <"$SERVER_LOG")
flood_start=$SECONDS
python3 - "$PORT" >"$T/flood" <<'PY'
import socket, sys
continued = refused = 0
for _ in range(300):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.sendall(b"POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    if s.recv(4096).startswith(b"HTTP/1.1 100 "):
        continued += 1
        s.sendall(b"zz\r\n")   # not a chunk size
    answer = b""
    try:
        while chunk := s.recv(4096):
            answer += chunk
    except OSError:
        pass
    refused += answer.startswith(b"HTTP/1.1 400 ") and b"invalid chunked body" in answer
    s.close()
print(continued, refused)
PY
expect_eq broken_bodies_sent_after_100_continue_and_refused "$(cat "$T/flood")" "300 300"
http /noleaker >/dev/null; expect_eq serves_after_the_broken_body_flood "$(status)" 200
flood_seconds=$(( SECONDS - flood_start + 1 ))
tail -n +$((before + 1)) "$SERVER_LOG" >"$T/flood.log"
lines=$(wc -l <"$T/flood.log") printed=$(grep -c "$MHD_LINE" "$T/flood.log")
echo "# 300 broken bodies: libmicrohttpd's line printed $printed times, $lines lines in ${flood_seconds} s at most"
expect_le broken_body_flood_writes_at_most_a_burst_of_lines "$lines" $(( 21 + 2 * flood_seconds ))
expect_ge the_burst_is_printed "$printed" 20
http /metrics >"$T/metrics"
dropped=$(awk '$1 == "memdemo_log_lines_dropped_total" { print $2 }' "$T/metrics")
expect_eq every_line_is_printed_or_counted_dropped "$(( printed + ${dropped:-0} ))" 300
http /debug/vars >"$T/vars"
expect_eq vars_shows_the_dropped_log_lines "$(json_num log_lines_dropped "$T/vars")" "$dropped"
stop_server
