#!/bin/bash
# pprof_cpu_threads_locks: oracle tests for the rest of Go's /debug/pprof (the CPU,
# goroutine, threadcreate, mutex and block profiles): go tool pprof (Go 1.19, and Go
# 1.23 where installed) reads every profile a real server serves; the CPU profile
# accounts for the CPU the process used in its window; every thread is listed;
# contention on the leaker's lock shows up once switched on; a continuous profiler's
# default scrape set all answers; bad input and concurrent windows get Go's answers.
# Loads go to 127.0.0.1 only and are bounded.
source "$(dirname "$0")/../lib.sh"
mkdir -p "$T/pp"
export PPROF_TMPDIR=$T/pp HOME=$T GOCACHE=$T/gocache GOTOOLCHAIN=local
GO123=/usr/lib/go-1.23/bin/go

pp() { (cd "$T/pp" && go tool pprof "$@" 2>"$T/pp.err"); }
pp123() { (cd "$T/pp" && "$GO123" tool pprof "$@" 2>"$T/pp.err"); }
# fetch PATH OUT [curl args]: body in OUT, headers in OUT.h; prints the status code.
fetch() { local p=$1 o=$2; shift 2; curl -s --max-time 60 -D "$o.h" -o "$o" -w '%{http_code}' "$@" "$BASE$p"; }
header() { grep -i "^$1:" "$2" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
# sample_types FILE: the sample-type line of pprof -raw ("a/b c/d ..."), empty on failure.
sample_types() { pp -raw "$1" | awk '/^Samples:/ { getline; sub(/\[dflt\]/, ""); print; exit }'; }
# raw_total FILE [COLUMN]: sum of a value column of pprof -raw's samples.
raw_total() {
    pp -raw "$1" | awk -v c="${2:-1}" '/^Samples:/ { s = 1; getline; next } /^Locations/ { s = 0 }
        s && $0 ~ /^ *[0-9]+( +[0-9]+)*:/ { sub(/:.*/, ""); split($0, v, " "); t += v[c] } END { print t + 0 }'
}
tasks() { ls "/proc/$SERVER_PID/task" | wc -l; }

# --- 1. threads: goroutine and threadcreate on a fresh server ---------------------------
# memdemo marks with one thread (GCHEAP_MARKERS); two give these profiles bdwgc's
# marker threads to name.
GC_MARKERS=2 start_server -repetitions 1000 || exit 1
n=$(tasks)
fetch "/debug/pprof/goroutine?debug=1" "$T/g1" >/dev/null
check goroutine_debug1_counts_every_thread grep -qx "goroutine profile: total $n" "$T/g1"
fetch "/debug/pprof/goroutine?debug=2" "$T/g2" >/dev/null
missing=""
for t in /proc/$SERVER_PID/task/*; do
    tid=$(basename "$t"); name=$(cat "$t/comm")
    grep -q "^goroutine $tid \[.*thread \"$name\"" "$T/g2" || missing="$missing $tid($name)"
done
if [ -n "$(ls /proc/$SERVER_PID/task)" ] && [ -s "$T/g2" ] && [ -z "$missing" ]; then
    pass goroutine_debug2_lists_each_thread_by_tid_and_name
else fail goroutine_debug2_lists_each_thread_by_tid_and_name "not listed:${missing:- (empty dump)}"; fi
# A worker's stack: waiting in libmicrohttpd's epoll loop, or serving this very request.
awk '/^goroutine .*thread "MHD-/ { w = 1; s = "" } w { s = s $0 "\n" } /^$/ { if (w) print s; w = 0 }' "$T/g2" >"$T/workers"
check worker_stack_shows_the_epoll_wait_or_a_handler grep -q 'epoll_wait\|on_request' "$T/workers"
check worker_stack_reaches_libmicrohttpd grep -q 'libmicrohttpd' "$T/workers"
check marker_thread_stack_is_the_collectors grep -A3 'thread "GC-marker' "$T/g2" | grep -q 'GC_'
check main_thread_waits_for_a_signal grep -A12 "^goroutine $SERVER_PID \[" "$T/g2" | grep -q 'wait_for_stop_signal'
check acceptor_was_created_by_server_start grep -A30 'thread "memdemo-accept"' "$T/g2" | grep -q 'created by server_start'
code=$(fetch /debug/pprof/goroutine "$T/g0.pb.gz")
expect_eq goroutine_is_200 "$code" 200
expect_eq goroutine_is_octet_stream "$(header Content-Type "$T/g0.pb.gz.h")" application/octet-stream
expect_eq goroutine_is_an_attachment "$(header Content-Disposition "$T/g0.pb.gz.h")" 'attachment; filename="goroutine"'
expect_eq goroutine_sample_type "$(sample_types "$T/g0.pb.gz")" "goroutine/count"
expect_eq goroutine_proto_counts_every_thread "$(raw_total "$T/g0.pb.gz")" "$n"
fetch /debug/pprof/threadcreate "$T/tc.pb.gz" >/dev/null
expect_eq threadcreate_sample_type "$(sample_types "$T/tc.pb.gz")" "threadcreate/count"
expect_eq threadcreate_counts_the_threads "$(raw_total "$T/tc.pb.gz")" "$n"
fetch "/debug/pprof/threadcreate?debug=1" "$T/tc1" >/dev/null
check threadcreate_debug1_header grep -qx "threadcreate profile: total $n" "$T/tc1"
check threadcreate_names_mhd_start_daemon grep -q 'MHD_start_daemon' "$T/tc1"
check threadcreate_names_the_collectors_markers grep -q 'GC_start_mark_threads' "$T/tc1"
expect_eq goroutine_seconds_is_400 "$(fetch '/debug/pprof/goroutine?seconds=1' "$T/x")" 400
fetch /debug/pprof/ "$T/index" >/dev/null
for p in allocs block goroutine heap mutex profile threadcreate; do
    check "index_lists_$p" grep -q "href=\"$p" "$T/index"
done
check index_counts_goroutines grep -q "<td>$n</td><td><a href=\"goroutine?debug=1\">" "$T/index"
check index_links_the_full_dump grep -q 'href="goroutine?debug=2"' "$T/index"

# --- 2. CPU profile under /noleaker load ------------------------------------------------
# The test's own clock of the process's CPU: utime+stime from /proc/PID/stat every 20 ms
# (bounded; shell builtins only, so that a loaded machine thins the polls as little as
# it can). The polls around the profile's start and end bound the CPU the process used
# in its window: at least what it used between the first poll inside and the last poll
# inside (cpu_lo), at most between the last poll before and the first poll after
# (cpu_hi); cpu_s interpolates between them. A window in which the server got 0.5 s of
# CPU or less (a machine busy with other work) is too few samples (50 or fewer) for the
# 15% comparison below to mean anything: it is taken again, twice as long, up to 3
# windows (2, 4, 8 s), and the checks read the last one.
cpu_window() { # SECONDS
    local secs=$1 st
    ( for i in $(seq 1 $(( (secs + 3) * 50 ))); do
          read -r -a st <"/proc/$SERVER_PID/stat" 2>/dev/null || break
          echo "${EPOCHREALTIME/./}000 $((st[13] + st[14]))"; sleep 0.02
      done >"$T/poll" ) &
    POLL=$!; SERVER_PIDS+=("$POLL")
    load $((secs + 2)) 4 /noleaker &
    LOAD=$!
    sleep 0.7
    code=$(fetch "/debug/pprof/profile?seconds=$secs" "$T/cpu.pb.gz")
    sleep 0.3
    kill "$POLL" 2>/dev/null; wait "$LOAD"
    pp -raw "$T/cpu.pb.gz" >"$T/cpu.raw"
    t0=$(date -d "$(sed -n 's/^Time: \(.*\) UTC$/\1/p' "$T/cpu.raw")" +%s%N 2>/dev/null)
    dur=$(sed -n 's/^Duration: \([0-9.]*\).*/\1/p' "$T/cpu.raw")
    read -r cpu_lo cpu_s cpu_hi < <(awk -v t0="${t0:-0}" -v dur="${dur:-0}" '
        function at(t,   i) { for (i = 2; i <= n; i++) if (T[i] >= t) return C[i-1] + (C[i] - C[i-1]) * (t - T[i-1]) / (T[i] - T[i-1]); return C[n] }
        function before(t,   i) { for (i = n; i >= 1; i--) if (T[i] <= t) return C[i]; return -1 }
        function after(t,   i) { for (i = 1; i <= n; i++) if (T[i] >= t) return C[i]; return -1 }
        NF == 2 { n++; T[n] = $1; C[n] = $2 }
        END { t1 = t0 + dur * 1e9
              if (n < 2 || t0 < T[1] || t1 > T[n]) { print "n/a n/a n/a"; exit }
              printf "%.3f %.3f %.3f\n", (before(t1) - after(t0)) / 100, (at(t1) - at(t0)) / 100,
                     (after(t1) - before(t0)) / 100 }' "$T/poll")
}
windows=0
# marked: the window's profile caught the collector marking (a 2 s window on a busy
# machine can hold no collection's mark at all: then a longer one is taken).
marked() { [ "${MEMDEMO_SANITIZER:-}" = address ] || pp -top -nodecount=2000 "$T/cpu.pb.gz" 2>/dev/null | grep -q ' GC_[a-z_]*mark[a-z_]*$'; }
for secs in 2 4 8; do
    windows=$((windows + 1))
    cpu_window "$secs"
    awk -v c="$cpu_s" 'BEGIN { exit !(c != "n/a" && c > 0.5) }' && marked && break
    echo "# CPU profile window $windows: the server got ${cpu_s}s of CPU in ${dur:-?}s (busy machine, or no marking caught); again"
done
expect_eq cpu_profile_is_200 "$code" 200
expect_eq cpu_profile_is_octet_stream "$(header Content-Type "$T/cpu.pb.gz.h")" application/octet-stream
expect_eq cpu_profile_is_an_attachment "$(header Content-Disposition "$T/cpu.pb.gz.h")" 'attachment; filename="profile"'
expect_eq cpu_profile_sample_types "$(sample_types "$T/cpu.pb.gz")" "samples/count cpu/nanoseconds"
check cpu_profile_period_is_10ms grep -qx 'Period: 10000000' "$T/cpu.raw"
check cpu_profile_period_type grep -qx 'PeriodType: cpu nanoseconds' "$T/cpu.raw"
if [ -n "${MEMDEMO_SANITIZER:-}" ]; then   # the sanitizer runtime linked into the binary has code libdw cannot name
    echo "SKIP cpu_profile_is_symbolized_in_process: the $MEMDEMO_SANITIZER sanitizer's runtime in the executable is not all named"
else check cpu_profile_is_symbolized_in_process grep -q '^1: .*memdemo .*\[FN\]' "$T/cpu.raw"; fi
pp -top -nodecount=2000 "$T/cpu.pb.gz" >"$T/cpu.top"
check cpu_top_has_numstr_itoa grep -q ' numstr_itoa$' "$T/cpu.top"
check cpu_top_has_strlist_fill_numbers grep -q ' strlist_fill_numbers$' "$T/cpu.top"
if [ "${MEMDEMO_SANITIZER:-}" = address ]; then   # ASan's checks dwarf the mark in the profile
    echo "SKIP cpu_top_has_the_collectors_marking: under AddressSanitizer the instrumented handlers' CPU crowds out the mark"
else check cpu_top_has_the_collectors_marking grep -q ' GC_[a-z_]*mark[a-z_]*$' "$T/cpu.top"; fi
check cpu_top_has_the_handler grep -q ' handle_noleaker$' "$T/cpu.top"
prof_s=$(awk '/^Samples:/ { s = 1; getline; next } /^Locations/ { s = 0 }
              s && $0 ~ /^ *[0-9]+ +[0-9]+:/ { sub(/:.*/, ""); split($0, v, " "); t += v[2] } END { printf "%.3f", t / 1e9 }' "$T/cpu.raw")
echo "# CPU profile: ${prof_s}s of samples in a ${dur}s window; /proc/PID/stat: ${cpu_s}s (between ${cpu_lo}s and ${cpu_hi}s)"
if awk -v p="$prof_s" -v c="$cpu_s" -v lo="$cpu_lo" -v hi="$cpu_hi" \
       'BEGIN { exit !(c != "n/a" && c > 0.5 && p >= 0.85 * lo && p <= 1.15 * hi) }'; then
    pass cpu_samples_times_period_within_15pct_of_process_cpu_time
else fail cpu_samples_times_period_within_15pct_of_process_cpu_time "profile ${prof_s}s vs process ${cpu_s}s (between ${cpu_lo}s and ${cpu_hi}s)"; fi
if [ -x "$GO123" ]; then
    if pp123 -top "$T/cpu.pb.gz" | grep -q '^Type: cpu'; then pass cpu_profile_opens_in_go_1_23
    else fail cpu_profile_opens_in_go_1_23 "$(tail -1 "$T/pp.err")"; fi
else echo "SKIP cpu_profile_opens_in_go_1_23: $GO123 not installed"; fi
# (one drain thread per CPU profile window taken above)
expect_eq threadcreate_counts_the_profilers_exited_thread "$(fetch /debug/pprof/threadcreate "$T/tc2.pb.gz" >/dev/null; raw_total "$T/tc2.pb.gz")" $((n + windows))

# --- 3. bad input and concurrent windows -------------------------------------------------
pprof_refusal cpu_seconds_abc_is_400 400 'invalid value for "seconds"' '/debug/pprof/profile?seconds=abc'
pprof_refusal cpu_seconds_negative_is_400 400 'invalid value for "seconds"' '/debug/pprof/profile?seconds=-1'
pprof_refusal cpu_seconds_1e9_is_400 400 'invalid value for "seconds"' '/debug/pprof/profile?seconds=1e9'
pprof_refusal cpu_seconds_beyond_the_longest_window_is_400 400 'at most 600' '/debug/pprof/profile?seconds=100000'
pprof_refusal cpu_debug_param_is_ignored_but_bad_seconds_still_400 400 'invalid value' '/debug/pprof/profile?seconds=0'
# profiler_running: the CPU profiler's drain thread exists (a window is open).
profiler_running() { grep -q memdemo-cpuprof /proc/$SERVER_PID/task/*/comm 2>/dev/null; }
fetch "/debug/pprof/profile?seconds=2" "$T/first.pb.gz" >"$T/first.code" &
FIRST=$!
for i in $(seq 1 100); do profiler_running && break; sleep 0.02; done
pprof_refusal second_cpu_profile_is_500 500 'Could not enable CPU profiling: cpu profiling already in use' '/debug/pprof/profile?seconds=1'
wait "$FIRST"
expect_eq first_cpu_profile_still_answers "$(cat "$T/first.code")" 200
# A client that goes away mid-window: the profiler stops (its thread exits) and the
# next profile works.
curl -s --max-time 0.5 -o /dev/null "$BASE/debug/pprof/profile?seconds=10"
stopped=no
for i in $(seq 1 40); do profiler_running || { stopped=yes; break; }; sleep 0.05; done
expect_eq profiler_stops_when_the_client_disconnects "$stopped" yes
expect_eq next_cpu_profile_after_a_disconnect_works "$(fetch '/debug/pprof/profile?seconds=1' "$T/after.pb.gz")" 200
expect_eq next_cpu_profile_parses "$(sample_types "$T/after.pb.gz")" "samples/count cpu/nanoseconds"
# CPU profile, trace and a delta heap profile at once, under load.
load 2 4 /noleaker /leaker &
LOAD=$!
fetch "/debug/pprof/profile?seconds=1" "$T/c.pb.gz" >"$T/c.code" &
C=$!
fetch "/debug/pprof/trace?seconds=1" "$T/c.trace" >"$T/t.code" &
TR=$!
fetch "/debug/pprof/heap?seconds=1" "$T/h.pb.gz" >"$T/h.code" &
H=$!
wait "$C" "$TR" "$H" "$LOAD"
expect_eq concurrent_cpu_profile_200 "$(cat "$T/c.code")" 200
expect_eq concurrent_trace_200 "$(cat "$T/t.code")" 200
expect_eq concurrent_heap_delta_200 "$(cat "$T/h.code")" 200
expect_eq concurrent_cpu_profile_parses "$(sample_types "$T/c.pb.gz")" "samples/count cpu/nanoseconds"
check concurrent_heap_delta_parses grep -q 'alloc_objects/count' <(pp -raw "$T/h.pb.gz")
if (cd "$T" && go tool trace -http=127.0.0.1:0 -d "$T/c.trace" >/dev/null 2>"$T/tr.err"); then pass concurrent_trace_parses
else fail concurrent_trace_parses "$(tail -1 "$T/tr.err")"; fi

# --- 4. mutex and block: off by default, switched on at run time ------------------------
for p in mutex block; do
    code=$(fetch "/debug/pprof/$p" "$T/$p.off.pb.gz")
    expect_eq "${p}_off_is_200" "$code" 200
    expect_eq "${p}_off_sample_types" "$(sample_types "$T/$p.off.pb.gz")" "contentions/count delay/nanoseconds"
    expect_eq "${p}_off_is_empty" "$(raw_total "$T/$p.off.pb.gz")" 0
done
http "/debug/mutexprofilefraction?rate=1" >/dev/null
expect_eq mutex_fraction_get_with_rate_is_400 "$(status)" 400
http "/debug/mutexprofilefraction?rate=1" -X POST >/dev/null
check mutex_fraction_set_at_run_time grep -q 'mutexprofilefraction 1 (was 0)' "$T/body"
http "/debug/blockprofilerate?rate=1" -X POST >/dev/null
check block_rate_set_at_run_time grep -q 'blockprofilerate 1 (was 0)' "$T/body"
http "/debug/blockprofilerate" >/dev/null
expect_eq block_rate_get_shows_it "$(cat "$T/body")" "blockprofilerate 1"
expect_eq mutex_fraction_rejects_negative "$(fetch '/debug/mutexprofilefraction?rate=-1' "$T/x" -X POST)" 400
stop_server

# Two clients hammering /leaker with the switches on from the command line: 2 s rounds
# (at most 3) until the mutex profile holds a contention; a few a second is usual.
start_server -repetitions 1000 -mutexprofilefraction 1 -blockprofilerate 1 || exit 1
for round in 1 2 3; do
    load 2 2 /leaker
    sleep 0.3              # requests wrk left in flight finish: the profile holds still
    fetch /debug/pprof/mutex "$T/mutex.pb.gz" >/dev/null
    [ "$(raw_total "$T/mutex.pb.gz" 1)" -ge 1 ] 2>/dev/null && break
done
for p in mutex block; do
    fetch "/debug/pprof/$p" "$T/$p.pb.gz" >/dev/null
    contentions=$(raw_total "$T/$p.pb.gz" 1); delay=$(raw_total "$T/$p.pb.gz" 2)
    echo "# $p profile after $round round(s) of two clients on /leaker: $contentions contentions, $delay ns"
    expect_ge "${p}_shows_contentions_on_the_leaker_lock" "$contentions" 1
    expect_ge "${p}_shows_delay_on_the_leaker_lock" "$delay" 1
    check "${p}_stack_is_the_leakers" grep -q ' handle_leaker$' <(pp -top -nodefraction=0 "$T/$p.pb.gz")
    fetch "/debug/pprof/$p?debug=1" "$T/$p.txt" >/dev/null
    text=$(raw_total "$T/$p.txt" 1)
    if [ "$text" != "$contentions" ]; then   # a request still in flight was recorded between: again
        fetch "/debug/pprof/$p" "$T/$p.pb.gz" >/dev/null; contentions=$(raw_total "$T/$p.pb.gz" 1)
    fi
    expect_eq "${p}_text_gives_the_protobufs_contentions" "$text" "$contentions"
done
check mutex_text_header grep -qx -- '--- mutex:' <(head -1 "$T/mutex.txt")
check block_text_header grep -qx -- '--- contention:' <(head -1 "$T/block.txt")
code=$(fetch "/debug/pprof/mutex?seconds=1" "$T/md.pb.gz")
expect_eq mutex_delta_is_200 "$code" 200
expect_eq mutex_delta_is_an_attachment "$(header Content-Disposition "$T/md.pb.gz.h")" 'attachment; filename="mutex-delta"'
check mutex_delta_has_duration grep -q '^Duration: 1' <(pp -raw "$T/md.pb.gz")
expect_eq mutex_delta_without_traffic_is_empty "$(raw_total "$T/md.pb.gz")" 0

# --- 5. a continuous profiler's default scrape set (Grafana Alloy, Parca) ---------------
# allocs, block, goroutine, mutex and profile?seconds=14 (shortened to 1), all at once.
load 2 2 /leaker /noleaker &
LOAD=$!
declare -A want=([allocs]="alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes"
                 [block]="contentions/count delay/nanoseconds" [goroutine]="goroutine/count"
                 [mutex]="contentions/count delay/nanoseconds" [profile]="samples/count cpu/nanoseconds")
SCRAPES=()
for p in allocs block goroutine mutex profile; do
    q=""; [ "$p" = profile ] && q="?seconds=1"
    fetch "/debug/pprof/$p$q" "$T/scrape.$p" >"$T/scrape.$p.code" &
    SCRAPES+=($!)
done
wait "${SCRAPES[@]}" "$LOAD"
for p in allocs block goroutine mutex profile; do
    f=$T/scrape.$p
    expect_eq "scrape_${p}_is_200" "$(cat "$f.code")" 200
    check "scrape_${p}_is_not_empty" test -s "$f"
    check "scrape_${p}_content_type_is_octet_stream" grep -qi '^Content-Type: application/octet-stream' "$f.h"
    expect_eq "scrape_${p}_has_gos_sample_types" "$(sample_types "$f")" "${want[$p]}"
    if [ -x "$GO123" ]; then
        if pp123 -raw "$f" >/dev/null; then pass "scrape_${p}_parses_in_go_1_23"
        else fail "scrape_${p}_parses_in_go_1_23" "$(tail -1 "$T/pp.err")"; fi
    else echo "SKIP scrape_${p}_parses_in_go_1_23: $GO123 not installed"; fi
done
http /noleaker >/dev/null; expect_eq server_still_serves "$(status)" 200
stop_server
expect_eq exits_cleanly_after_profiling "$STOP_STATUS" 0

"$MEMDEMO" -mutexprofilefraction abc >/dev/null 2>"$T/err"; rc=$?
expect_eq bad_mutexprofilefraction_flag_exits_2 "$rc" 2
"$MEMDEMO" -blockprofilerate -1 >/dev/null 2>"$T/err"; rc=$?
expect_eq negative_blockprofilerate_flag_exits_2 "$rc" 2
