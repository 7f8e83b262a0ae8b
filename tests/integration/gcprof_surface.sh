#!/bin/bash
# gcprof -http serves memdemo's /debug surface for a program nobody on this project
# wrote (Debian's guile-3.0 running a script that allocates for a few seconds):
#   - /debug/gc, the dashboard: its feed lists only the charts the program has figures
#     for (no requests, no leaker gauge, no heap goal: none is drawn as zeros), and in
#     headless Chromium every chart it lists draws, the heap figure moves, nothing goes
#     to the console;
#   - the /debug/pprof/ index lists a profile of the surface's table if and only if
#     gcprof serves it (the others answer 404 with one line saying why);
#   - the request gate checks the raw heads gcprof's server receives: the malformed
#     heads tests/integration/reliability.sh sends to memdemo get the same one-line
#     refusal from both, also from a program linked with the static variant
#     (tests/gcprof/ticker.c with gcprof-wrap.o, whose recv its link exports), while the
#     program's own recv calls behave as libc's (errno included);
#   - PREFIX.vars.json, written at exit, is the live /debug/vars document (every
#     section) plus "final".
# Traffic goes to 127.0.0.1 only; gcprof, memdemo and Chromium are stopped by PID.
source "$(dirname "$0")/../lib.sh"
export HOME=$T
RAW="python3 $ROOT/tests/rawhttp.py"

gcprof_test gcprof_surface guile

# A program that allocates (garbage, and a slow leak into a hash table) until the file
# STOP exists or 120 s have passed, then exits normally (so that the library writes
# its files).
cat >"$T/busy.scm" <<'SCM'
(define stop (cadr (command-line)))
(define deadline (+ (current-time) 120))
(define table (make-hash-table))
(define junk #f)
(let loop ((i 0))
  (unless (and (zero? (modulo i 1000)) (or (file-exists? stop) (> (current-time) deadline)))
    (when (zero? (modulo i 50)) (hash-set! table i (make-vector 16 i)))
    (let g ((k 0)) (when (< k 100) (set! junk (make-vector 8 k)) (g (+ k 1))))
    (loop (+ i 1))))
(display (hash-count (const #t) table))
(newline)
SCM

# start_live NAME: gcprof -o $T/NAME -http on a free loopback port running busy.scm
# until $T/NAME.stop exists; sets LIVE_PID and LIVE (the base URL gcprof prints).
start_live() {
    gcprof_live "$1" -o "$T/$1" -- guile --no-auto-compile "$T/busy.scm" "$T/$1.stop" && return 0
    fail "${1}_starts" "$(cat "$T/$1.err")"
    return 1
}
start_live live || exit 1

# --- /debug/vars now, to compare with the file written at exit -----------------------------
curl -s --max-time 30 "$LIVE/debug/vars" >"$T/live.vars"
keys() { python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1])).keys()))' "$1"; }
live_keys=$(keys "$T/live.vars")
# guile runs bdwgc stop-the-world: every collection is a full one (the dashboard's pause
# chart and /debug/vars' gc section say which kind each was).
gcv() { python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["gc"]; print(eval(sys.argv[2]))' "$T/live.vars" "$1"; }
expect_eq program_runs_stop_the_world "$(gcv 'g["mode"]')" stw
expect_eq its_collections_are_counted_full "$(gcv 'g["partial"]["collections"] == 0 and g["full"]["collections"] > 0')" True

# --- the dashboard's feed ---------------------------------------------------------------------
code=$(curl -s -o "$T/page" -w '%{http_code}' --max-time 30 "$LIVE/debug/gc")
expect_eq dashboard_page_served "$code" 200
curl -s --max-time 30 "$LIVE/debug/gc/feed" >"$T/feed"
feed() { python3 -c 'import json,sys; f=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/feed" "$1"; }
expect_eq feed_lists_only_charts_with_figures "$(feed '",".join(f["charts"])')" "heap,alloc,pauses,gc,rss"
expect_eq feed_names_the_program "$(feed 'f["program"]')" guile
expect_eq feed_says_heap_is_as_of_the_last_collection "$(feed 'f["heap_as_of_collection"]')" True
expect_eq samples_carry_no_request_or_gauge_figures \
    "$(feed 'sum(1 for s in f["samples"] if "requests" in s or "gauge" in s)')" 0
expect_eq no_heap_goal_without_a_policy "$(feed 'sum(1 for s in f["samples"] if s["next_gc"] is not None)')" 0

# --- the page in a real browser ---------------------------------------------------------------
CHROMIUM=$(command -v chromium || true)
if [ -z "$CHROMIUM" ]; then
    echo "SKIP gcprof_dashboard_in_chromium: chromium not installed (listed in .ci/deps)"
else
    # Virtual time runs while no request is pending: about ten one-second samples.
    timeout -k 5 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$T/chromium" \
        --window-size=1366,768 --virtual-time-budget=2500 --enable-logging=stderr --v=0 \
        --dump-dom "$LIVE/debug/gc" >"$T/dom.html" 2>"$T/chromium.log"
    expect_eq chromium_ran "$?" 0
    drawn=""
    for chart in $(feed '" ".join(f["charts"])'); do
        pts=$(grep -o "id=\"$chart\" data-points=\"[0-9]*\"" "$T/dom.html" | grep -o '[0-9]*"$' | tr -d '"')
        expect_ge "gcprof_chart_${chart}_drew_more_than_one_point" "${pts:-0}" 2
        drawn="$drawn $chart=${pts:-0}"
    done
    echo "# points drawn:$drawn"
    for chart in gauge requests; do
        check_absent "gcprof_page_has_no_${chart}_chart" "id=\"$chart\"" "$T/dom.html"
    done
    check_absent gcprof_page_has_no_heap_goal_series 'next collection' "$T/dom.html"
    # stop-the-world: every pause is a full collection's, so no empty partial series
    check_absent gcprof_stw_pauses_have_no_partial_series 'pause (partial)' "$T/dom.html"
    expect_ge gcprof_pause_chart_names_full_collections "$(grep -c 'pause (full collection)' "$T/dom.html")" 1
    changes=$(grep -o 'data-heap-changes="[0-9]*"' "$T/dom.html" | grep -o '[0-9]*')
    expect_ge gcprof_heap_figure_changed "${changes:-0}" 1
    expect_eq gcprof_page_counted_no_errors "$(grep -o 'data-errors="[0-9]*"' "$T/dom.html" | grep -o '[0-9]*')" 0
    check_absent gcprof_page_no_console_messages 'CONSOLE' "$T/chromium.log"
    check gcprof_page_is_titled_by_the_program grep -q '<title>guile: GC dashboard</title>' "$T/dom.html"
    check gcprof_page_shows_live_status grep -q 'id="status" class="">live: ' "$T/dom.html"
fi

# --- the /debug/pprof/ index: listed if and only if served ------------------------------------
curl -s --max-time 30 "$LIVE/debug/pprof/" >"$T/index.html"
bad=""
listed=0
for name in $(grep -o 'ROW("[a-z]*"' "$ROOT/src/debug_pprof.c" | cut -d'"' -f2); do
    code=$(curl -s -o "$T/p.$name" -w '%{http_code}' --max-time 30 "$LIVE/debug/pprof/$name?seconds=1")
    [ "$name" = heap ] || [ "$name" = allocs ] && code=$(curl -s -o "$T/p.$name" -w '%{http_code}' --max-time 30 "$LIVE/debug/pprof/$name")
    if grep -q "<a href=\"$name[?\"]" "$T/index.html"; then
        listed=$((listed + 1))
        [ "$code" = 404 ] && bad="$bad $name(listed,404)"
    elif [ "$code" != 404 ] || [ "$(wc -l <"$T/p.$name")" != 1 ] || ! grep -q 'is not served here: ' "$T/p.$name"; then
        bad="$bad $name(unlisted,$code)"
    fi
done
expect_eq index_lists_a_profile_iff_gcprof_serves_it "${bad:-none}" none
expect_ge index_lists_the_heap_profiles "$listed" 2
check_absent index_links_no_goroutine_dump 'goroutine?debug=2' "$T/index.html"
check_absent index_links_no_switch 'href="/debug/memprofilerate"' "$T/index.html"
# This run writes PREFIX.trace (-o) and still serves live traces beside it: the index
# lists trace and the loop above fetched one (gcprof_trace.sh checks what they hold).
check index_lists_the_live_trace_under_o grep -q '<a href="trace"' "$T/index.html"

# --- the request gate: the same refusal as memdemo's ------------------------------------------
# ... from guile's (preloaded) server and from the static variant's in a program with
# bdwgc linked in.
guile_live=$LIVE guile_pid=$LIVE_PID
if ! gcc -O1 -o "$T/ticker" "$ROOT/tests/gcprof/ticker.c" "$ROOT/gcprof-wrap.o" @"$ROOT/gcprof-wrap.opts" \
        -Wl,-Bstatic -lgc -Wl,-Bdynamic $(pkg-config --libs libprotobuf-c zlib libdw) -lpthread -ldl -lm 2>"$T/ticker.cc"; then
    fail static_variant_links "$(head -3 "$T/ticker.cc")"; exit 1
fi
linked_live linked "$T/ticker" 120 || { fail static_variant_serves "$(cat "$T/linked.err")"; exit 1; }
linked_port=${LIVE##*:} linked_pid=$LIVE_PID
LIVE=$guile_live LIVE_PID=$guile_pid
start_server -repetitions 10 || exit 1
H='Host: 127.0.0.1'
long=$(head -c 9000 /dev/zero | tr '\0' a)
many=$(for i in $(seq 1 120); do printf 'X-%d: v\\r\\n' "$i"; done)
smuggled="GET /debug/vars HTTP/1.1\\r\\n$H\\r\\n\\r\\n"
heads=(
    "POST /debug/pprof/symbol HTTP/1.1\\r\\n$H\\r\\nContent-Length : 43\\r\\n\\r\\n$smuggled"
    "POST /debug/pprof/symbol HTTP/1.1\\r\\n$H\\r\\nX-A: b\\r\\n Content-Length: 43\\r\\n\\r\\n$smuggled"
    "GET /debug/vars HTTP/1.1\\r\\n$H\\r\\n: x\\r\\nContent-Length: 43\\r\\n\\r\\n$smuggled"
    "GET /debug/vars HTTP/1.1\\r\\n$H\\r\\nX-A: a\\x00b\\r\\n\\r\\n"
    "GET /debug/vars HTTP/1.1\\r\\n$H\\r\\nX-A: a\\rb\\r\\n\\r\\n"
    "GET /debug/vars HTTP/1.1\\r\\n$H\\r\\nX\\x01A: b\\r\\n\\r\\n"
    "G@T /debug/vars HTTP/1.1\\r\\n$H\\r\\n\\r\\n"
    "GET /debug/vars HTTP/1.1\\r\\n$H\\r\\n$H\\r\\n\\r\\n"
    "GET /debug/vars HTTP/2.0\\r\\n$H\\r\\n\\r\\n"
    "GET /$long HTTP/1.1\\r\\n$H\\r\\n\\r\\n"
    "GET /debug/vars HTTP/1.1\\r\\n$H\\r\\n$many\\r\\n"
    "POST /debug/pprof/symbol HTTP/1.1\\r\\n$H\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nzz\\r\\n0x1\\r\\n0\\r\\n\\r\\n"
)
# answer PORT HEAD: "STATUS|BODY" of the one answer and the close, else what came.
answer() {
    local line
    line=$($RAW exchange "$1" "$2" --dump "$T/raw.out")
    if [ "$(fact statuses "$line")" = "" ] || [ "$(fact status_lines "$line")/$(fact eof "$line")" != 1/1 ]; then
        echo "not one answer and the close: $line"; return
    fi
    echo "$(fact statuses "$line")|$(sed '1,/^\r$/d' "$T/raw.out" | tr '\n' '~')"
}
live_port=${LIVE##*:}
bad="" bad_linked=""
refused=0
for h in "${heads[@]}"; do
    mine=$(answer "$PORT" "$h")
    theirs=$(answer "$live_port" "$h")
    linked=$(answer "$linked_port" "$h")
    case $mine in 4[0-9][0-9]\|*|505\|*) refused=$((refused + 1)) ;; esac
    [ "$mine" = "$theirs" ] || bad="$bad [${h:0:40}: memdemo '$mine', gcprof '$theirs']"
    [ "$mine" = "$linked" ] || bad_linked="$bad_linked [${h:0:40}: memdemo '$mine', static variant '$linked']"
done
stop_server
stop_server "$linked_pid"
expect_eq malformed_heads_refused_by_memdemo "$refused" "${#heads[@]}"
expect_eq gcprof_refuses_malformed_heads_as_memdemo "${bad:-same}" same
expect_eq static_variant_refuses_malformed_heads_as_memdemo "${bad_linked:-same}" same
# A Host that is not this machine's (DNS rebinding): the same 421, minus memdemo's flag.
rebind=$(answer "$live_port" "GET /debug/vars HTTP/1.1\r\nHost: rebind.example\r\n\r\n")
expect_eq gcprof_refuses_a_foreign_host "$rebind" \
    "421|host rebind.example is not served here: only loopback names and the server's address (DNS rebinding defence)~"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$LIVE/debug/vars")
expect_eq gcprof_serves_after_refused_heads "$code" 200

# The program's own recv calls: libc's results and errno, the server running.
cat >"$T/recv.scm" <<'SCM'
(use-modules (rnrs bytevectors))
(let* ((p (socketpair PF_UNIX SOCK_STREAM 0)) (s (cdr p)) (b (make-bytevector 4)))
  (fcntl s F_SETFL (logior O_NONBLOCK (fcntl s F_GETFL)))
  (catch 'system-error (lambda () (display (recv! s b)))
    (lambda args (display (strerror (system-error-errno args)))))
  (send (car p) (string->utf8 "abcd"))
  (display (list (recv! s b) (utf8->string b)))
  (close-port (car p))
  (display (recv! s b)))
SCM
guile --no-auto-compile "$T/recv.scm" >"$T/recv.plain" 2>&1
"$GCPROF" -http 127.0.0.1:0 -- guile --no-auto-compile "$T/recv.scm" >"$T/recv.gcprof" 2>/dev/null
expect_eq programs_recv_results_and_errno_unchanged "$(cat "$T/recv.gcprof")" "$(cat "$T/recv.plain")"

# --- PREFIX.vars.json: the live document plus "final" -------------------------------------------
touch "$T/live.stop"
for i in $(seq 1 600); do kill -0 "$LIVE_PID" 2>/dev/null || break; sleep 0.1; done
wait "$LIVE_PID"
expect_eq program_exits_normally "$?" 0
if [ -f "$T/live.vars.json" ]; then
    expect_eq vars_file_is_the_live_document_plus_final "$(keys "$T/live.vars.json")" "$live_keys final"
    reach=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["final"]["reachable_bytes"])' "$T/live.vars.json")
    expect_ge vars_file_final_reachable_bytes "$reach" 1
    pauses=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["memstats"]["PauseNs"]))' "$T/live.vars.json")
    expect_eq vars_file_memstats_has_the_pause_ring "$pauses" 256
else
    fail vars_file_written "no $T/live.vars.json: $(cat "$T/live.err")"
fi
