#!/bin/bash
# gc_pacer: collection pacing and the heap's limits (gc/gcpacer), through the real
# server: -gogc sets how often the collector runs in the ratio Go's definition
# predicts, -gogc off collects only on request or at the cap, -maxheap fails soft (the
# leaker answers 503 and keeps nothing, everything else goes on), -memlimit keeps RSS
# under it, and bad values are refused as Go's flag package refuses them. Counts only:
# no assertion depends on how fast the machine is.
source "$(dirname "$0")/../lib.sh"

# --- helpers ---------------------------------------------------------------------------
# codes N PATH: N sequential GETs over one keep-alive connection; prints "N200 N503 NOTHER".
codes() {
    local n=$1 path=$2 i
    for ((i = 0; i < n; i++)); do
        printf 'url = "%s%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$BASE" "$path"
    done >"$T/codes.cfg"
    curl -s --max-time 60 -K "$T/codes.cfg" | awk '$1 == 200 { a++ } $1 == 503 { b++ } $1 != 200 && $1 != 503 { c++ }
        END { printf "%d %d %d\n", a, b, c }'
}
# count_ok N PATH: as lib.sh's requests (N sequential GETs, prints the 200s), with the
# client's config in a file of its own ($TAG), so that two can run at once.
count_ok() {
    local n=$1 path=$2 i cfg=$T/count.${TAG:-x}.cfg
    for ((i = 0; i < n; i++)); do
        printf 'url = "%s%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$BASE" "$path"
    done >"$cfg"
    curl -s --max-time 300 -K "$cfg" | grep -c '^200$'
}
# obj_num OBJECT KEY FILE: the number KEY holds inside the JSON object "OBJECT": {...}.
obj_num() { tr -d '\n' <"$3" | grep -o "\"$1\": {[^}]*" | grep -o "\"$2\": [0-9-]*" | head -1 | grep -o '[0-9-]*$'; }
snap() { curl -s --max-time 10 "$BASE/debug/vars" >"$T/$1.json"; }   # snap NAME
# rss_max PID SECONDS: samples VmRSS (kB) every 0.1 s for SECONDS; prints the largest.
rss_max() {
    local pid=$1 n=$(( $2 * 10 )) i m=0 v
    for ((i = 0; i < n; i++)); do
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
        [ -n "$v" ] && [ "$v" -gt "$m" ] && m=$v
        sleep 0.1
    done
    echo "$m"
}

# --- bad values exit 2 with Go's message and the usage ----------------------------------
bad_flag() { # NAME EXPECTED-TEXT ARGS...
    local name=$1 text=$2; shift 2
    "$MEMDEMO" -addr 127.0.0.1:0 "$@" >"$T/out" 2>"$T/err" </dev/null & local pid=$!
    SERVER_PIDS+=("$pid")
    local i; for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null; wait "$pid"; local rc=$?
    if [ "$rc" = 2 ] && grep -qF -- "$text" "$T/err" && grep -q "Usage of memdemo" "$T/err"; then pass "$name"
    else fail "$name" "exit $rc, stderr: $(head -1 "$T/err")"; fi
}
bad_flag negative_gogc_exits_2 'invalid value "-5" for flag -gogc: must be off or an integer' -gogc -5
bad_flag word_gogc_exits_2 'invalid value "never" for flag -gogc' -gogc never
bad_flag bad_maxheap_suffix_exits_2 'invalid value "1x" for flag -maxheap: must be a byte count' -maxheap 1x
bad_flag bad_memlimit_exits_2 'invalid value "5QiB" for flag -memlimit' -memlimit 5QiB
bad_flag maxheap_below_start_heap_exits_2 'invalid value "2MiB" for flag -maxheap: below the start heap' -maxheap 2MiB
bad_flag maxheap_below_least_cap_exits_2 'invalid value "6291456" for flag -maxheap: below the least cap' \
    -maxheap 6291456 -gcinitheap 0
bad_flag maxheap_below_given_start_heap_exits_2 'invalid value "8MiB" for flag -maxheap: below the start heap' \
    -maxheap 8MiB -gcinitheap 16777216

"$MEMDEMO" -h >"$T/help" 2>&1
for f in '-gogc N|off' '-memlimit bytes' '-maxheap bytes'; do
    check "help_lists_${f%% *}" grep -qF -- "  $f" "$T/help"
done
check_absent help_has_no_gcdivisor 'gcdivisor' "$T/help"

start_server -gogc off -memlimit 1GiB -maxheap 64MiB || exit 1
check startup_line_shows_pacing grep -q 'gogc=off memlimit=1073741824 maxheap=67108864' "$SERVER_LOG"
snap s
expect_eq vars_show_the_cap "$(obj_num pacer maxheap "$T/s.json")" 67108864
expect_eq vars_show_gogc_off "$(obj_num pacer gogc "$T/s.json")" -1
stop_server

# --- -gogc: collections per MB allocated fall as N rises, as the definition predicts -----
# Two servers with the same live heap (~8 MB of leaked strings: a /leaker request keeps
# about 12 KB, 3890 B of strings carved at their own bytes and its share of the list's
# 8 KiB chunks), -gogc 50 and 200, then the same garbage through /noleaker (24000
# requests, about 280 MB, so that -gogc 200 still collects about 20 times). Go's rule:
# after a collection that left L bytes in use, the next starts once gogc% of L has been
# allocated (the goal L + gogc% of L is at least 4 MiB x gogc/100), less the pacer's
# lead of min(quarter, 512 KiB: GCPACER_TRIGGER_LEAD). So collections per MB are
# 1/budget: their ratio is budget(200)/budget(50), about 4.
declare -A GB GP
for g in 50 200; do
    start_server -gogc "$g" -repetitions 1000 || exit 1
    GB[$g]=$BASE; GP[$g]=$SERVER_PID
    BASE=${GB[$g]} requests 660 /leaker >/dev/null
done
for g in 50 200; do BASE=${GB[$g]}; curl -s -o /dev/null "$BASE/debug/pprof/heap?gc=1"; snap "g$g.0"; done
pids=()   # both servers at once, each with its own client and config file
for g in 50 200; do BASE=${GB[$g]} TAG=g$g count_ok 24000 /noleaker >"$T/g$g.ok" & pids+=("$!"); done
wait "${pids[@]}"
for g in 50 200; do BASE=${GB[$g]}; snap "g$g.1"; done
predict() { # predict GOGC LIVE: the budget in bytes
    awk -v g="$1" -v l="$2" 'BEGIN { goal = l + l * g / 100; fl = 4194304 * g / 100; if (goal < fl) goal = fl
        b = goal - l; lead = b / 4; if (lead > 524288) lead = 524288; printf "%.0f\n", b - lead }'
}
declare -A PER PRED
for g in 50 200; do
    n0=$(json_num NumGC "$T/g$g.0.json"); n1=$(json_num NumGC "$T/g$g.1.json")
    a0=$(json_num TotalAlloc "$T/g$g.0.json"); a1=$(json_num TotalAlloc "$T/g$g.1.json")
    live=$(obj_num pacer live "$T/g$g.1.json")
    PER[$g]=$(awk -v n=$((n1 - n0)) -v a=$((a1 - a0)) 'BEGIN { printf "%.4f\n", n / (a / 1048576) }')
    PRED[$g]=$(awk -v b="$(predict "$g" "$live")" 'BEGIN { printf "%.4f\n", 1048576 / b }')
    echo "# -gogc $g: $((n1 - n0)) collections over $(( (a1 - a0) >> 20 )) MB, live $((live >> 10)) KiB: ${PER[$g]} per MB, predicted ${PRED[$g]}"
    expect_eq "gogc_${g}_noleaker_all_200" "$(cat "$T/g$g.ok")" 24000
    within() { awk -v x="$1" -v y="$2" -v t="$3" 'BEGIN { exit !(y > 0 && x / y >= 1 - t && x / y <= 1 + t) }'; }
    if within "${PER[$g]}" "${PRED[$g]}" 0.25; then pass "gogc_${g}_collections_per_mb_as_predicted"
    else fail "gogc_${g}_collections_per_mb_as_predicted" "${PER[$g]} per MB, predicted ${PRED[$g]}"; fi
done
ratio=$(awk -v a="${PER[50]}" -v b="${PER[200]}" 'BEGIN { printf "%.3f\n", (b > 0 ? a / b : 0) }')
want=$(awk -v a="${PRED[50]}" -v b="${PRED[200]}" 'BEGIN { printf "%.3f\n", a / b }')
echo "# collections per MB, -gogc 50 / -gogc 200: $ratio (predicted $want)"
if within "$ratio" "$want" 0.2 && awk -v r="$ratio" 'BEGIN { exit !(r > 2.5) }'; then
    pass gogc_50_vs_200_collection_ratio_as_predicted
else fail gogc_50_vs_200_collection_ratio_as_predicted "ratio $ratio, predicted $want"; fi
for g in 50 200; do stop_server "${GP[$g]}"; done

# --- -gogc off: no collection but on request, or at the cap -----------------------------
# A /noleaker request leaves about 12 KB of garbage (carved strings and a chunk): 5000
# make 60 MB, which a heap that never collects must hold.
start_server -gogc off -repetitions 1000 || exit 1
snap off0
requests 5000 /noleaker >/dev/null
snap off1
expect_eq gogc_off_never_collects_on_its_own "$(json_num NumGC "$T/off1.json")" "$(json_num NumGC "$T/off0.json")"
expect_ge gogc_off_heap_holds_the_garbage "$(json_num HeapSys "$T/off1.json")" $((48 << 20))
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/debug/pprof/heap?gc=1"); snap off2
expect_eq gogc_off_gc1_answers "$code" 200
expect_eq gogc_off_gc1_collects_once "$(json_num NumGC "$T/off2.json")" $(( $(json_num NumGC "$T/off1.json") + 1 ))
stop_server

start_server -gogc off -maxheap 32MiB -repetitions 1000 || exit 1
snap cap0
expect_eq gogc_off_at_cap_noleaker_all_200 "$(requests 8000 /noleaker)" 8000   # 96 MB of garbage
snap cap1
expect_ge gogc_off_collects_at_the_cap "$(( $(json_num NumGC "$T/cap1.json") - $(json_num NumGC "$T/cap0.json") ))" 2
expect_le gogc_off_heap_stays_within_the_cap "$(json_num HeapSys "$T/cap1.json")" $((32 << 20))
stop_server

# --- -maxheap: the leaker fails soft -----------------------------------------------------
# A /leaker request keeps about 12 KB: 3200 would keep 38 MB, past the cap.
start_server -maxheap 32MiB -repetitions 1000 || exit 1
read -r ok refused other <<<"$(codes 3200 /leaker)"
echo "# 3200 /leaker with -maxheap 32MiB: $ok accepted, $refused refused, $other other"
expect_ge maxheap_accepts_until_the_cap "$ok" 1800
expect_ge maxheap_refuses_past_the_cap "$refused" 100
expect_eq maxheap_answers_only_200_or_503 "$other" 0
curl -s -D "$T/h503" -o "$T/b503" "$BASE/leaker"
check maxheap_refusal_is_503 grep -q '^HTTP/1.1 503' "$T/h503"
check maxheap_refusal_is_one_line test "$(wc -l <"$T/b503")" = 1
check maxheap_refusal_says_why grep -q 'refused: .*-maxheap 33554432.*nothing was kept' "$T/b503"
refused=$((refused + 1))
snap m1
expect_eq maxheap_leaker_requests_are_the_accepted "$(obj_num leaker requests "$T/m1.json")" "$ok"
expect_eq maxheap_leaker_strings_exact "$(obj_num leaker strings "$T/m1.json")" $((ok * 1000))
expect_eq maxheap_vars_count_the_refused "$(obj_num leaker refused "$T/m1.json")" "$refused"
expect_ge maxheap_vars_count_refused_allocations "$(obj_num pacer refused "$T/m1.json")" "$refused"
expect_eq maxheap_vars_show_the_cap "$(obj_num pacer maxheap "$T/m1.json")" $((32 << 20))
expect_le maxheap_heap_within_the_cap "$(json_num HeapSys "$T/m1.json")" $((32 << 20))
expect_eq maxheap_everything_else_fits_in_the_reserve "$(obj_num pacer capoverruns "$T/m1.json")" 0
expect_eq maxheap_noleaker_still_200 "$(requests 300 /noleaker)" 300
for p in / /debug/vars /debug/pprof/ /debug/pprof/heap '/debug/pprof/heap?gc=1' '/debug/pprof/heap?debug=1' \
         /debug/pprof/allocs /debug/pprof/cmdline /debug/memprofilerate; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$BASE$p")
    expect_eq "maxheap_still_serves_${p//[^a-z0-9]/_}" "$code" 200
done
# Concurrent /leaker and /noleaker at the cap: the totals stay exact.
load 3 4 /leaker /noleaker
read -r _ econn eread ewrite estatus etimeout <<<"$(grep '^ERRORS' "$T/wrk.out")"
expect_eq maxheap_concurrent_no_socket_errors "$econn/$eread/$ewrite/$etimeout" "0/0/0/0"
snap m2
r=$(obj_num leaker requests "$T/m2.json"); s=$(obj_num leaker strings "$T/m2.json")
expect_eq maxheap_concurrent_strings_are_requests_x_repetitions "$s" $((r * 1000))
expect_le maxheap_concurrent_heap_within_the_cap "$(json_num HeapSys "$T/m2.json")" $((32 << 20))
check maxheap_process_alive kill -0 "$SERVER_PID"
stop_server
expect_eq maxheap_sigterm_exits_0 "$STOP_STATUS" 0

# --- -memlimit: RSS stays under it while the live heap fits -----------------------------
# -gogc 400 with ~12 MB live would let the heap grow to ~60 MB; the control server
# without a limit shows it does, the limited one must stay under 64 MiB of RSS.
for lim in none 64MiB; do
    if [ "$lim" = none ]; then start_server -gogc 400 -repetitions 1000 || exit 1
    else start_server -gogc 400 -memlimit "$lim" -repetitions 1000 || exit 1; fi
    requests 1000 /leaker >/dev/null   # about 12 KB kept each
    load 4 8 /noleaker &
    lp=$!
    m=$(rss_max "$SERVER_PID" 4)
    wait "$lp"
    snap "lim.$lim"
    echo "# -gogc 400, -memlimit $lim, ~12 MB live: largest RSS $((m >> 10)) MiB; NumGC $(json_num NumGC "$T/lim.$lim.json"), HeapSys $(json_num HeapSys "$T/lim.$lim.json")"
    if [ "$lim" = none ]; then
        expect_ge memlimit_control_without_limit_grows_past_64MiB "$m" $((64 << 10))
    else
        if [ "${MEMDEMO_SANITIZER:-}" = address ]; then   # shadow memory and quarantine are RSS too
            echo "SKIP memlimit_keeps_rss_under_the_limit: AddressSanitizer's shadow and quarantine inflate RSS"
        else expect_le memlimit_keeps_rss_under_the_limit "$m" $((64 << 10)); fi
        expect_eq memlimit_noleaker_no_errors "$(grep -c 'ERRORS 0 0 0 0 0' "$T/wrk.out")" 1
    fi
    stop_server
done
