#!/bin/bash
# pprof_heap_accounting: oracle tests for what the heap profile counts. A byte in the
# profile is a byte bdwgc handed out (GC_size), so after a collection the profile's
# inuse_space adds up to the growth of bdwgc's HeapInuse and its alloc_space to
# TotalAlloc's; the profiler's own bookkeeping is reported and lives outside the GC
# heap; every sample names the route of the request that allocated it; stacks end in
# memdemo's own outermost frame. go tool pprof (Go 1.19, and Go 1.23 where installed)
# reads every figure, from a directory without the binary.
source "$(dirname "$0")/../lib.sh"
mkdir -p "$T/pp"
export PPROF_TMPDIR=$T/pp HOME=$T GOCACHE=$T/gocache GOFLAGS=-mod=mod
GO123=/usr/lib/go-1.23/bin/go

# totals GO URL: "ALLOC_SPACE INUSE_SPACE", summed over the samples of `pprof -raw`.
totals() {
    (cd "$T/pp" && "$1" tool pprof -raw "$2" 2>"$T/pp.err") | awk '
        /^Samples:/ { s = 1; next }
        /^Locations/ { s = 0 }
        s && $4 ~ /:$/ { a += $2; i += $4 + 0 }
        END { printf "%d %d\n", a, i }'
}
# objects GO ARGS...: alloc_objects total of `pprof -raw ARGS` (e.g. a -tagfocus).
objects() {
    local g=$1; shift
    (cd "$T/pp" && "$g" tool pprof -raw "$@" 2>"$T/pp.err") | awk '
        /^Samples:/ { s = 1; next }
        /^Locations/ { s = 0 }
        s && $4 ~ /:$/ { n += $1 }
        END { printf "%d\n", n }'
}
# allocs GO ARGS...: "ALLOC_OBJECTS ALLOC_SPACE", summed over the samples of `pprof -raw ARGS`.
allocs() {
    local g=$1; shift
    (cd "$T/pp" && "$g" tool pprof -raw "$@" 2>"$T/pp.err") | awk '
        /^Samples:/ { s = 1; next }
        /^Locations/ { s = 0 }
        s && $4 ~ /:$/ { n += $1; b += $2 }
        END { printf "%d %d\n", n, b }'
}
# within NAME GOT WANT PCT: PASS if |GOT - WANT| <= PCT% of WANT; prints the ratio.
within() {
    local name=$1 got=$2 want=$3 pct=$4
    echo "# $name: $got vs $want, ratio $(awk -v g="$got" -v w="$want" 'BEGIN { printf "%.4f", w ? g / w : 0 }')"
    if [ -n "$got" ] && [ -n "$want" ] && [ "$want" -gt 0 ] &&
       [ $(( (got > want ? got - want : want - got) * 100 )) -le $(( want * pct )) ]; then pass "$name"
    else fail "$name" "$got vs $want: not within $pct%"; fi
}
# start_ui GO FILE: `go tool pprof -http` on FILE at a random loopback port (retried if
# taken); sets UI_PID and UI_URL. Returns 1 if it does not come up within 10 s.
start_ui() {
    local try i
    for try in 1 2 3 4 5; do
        local port=$((20000 + RANDOM % 30000))
        (cd "$T/pp" && exec "$1" tool pprof -no_browser -http="127.0.0.1:$port" "$2" 2>"$T/ui.err" >/dev/null) &
        UI_PID=$!
        for i in $(seq 1 100); do
            # pprof says "Serving" before it binds: only its own answer (its root redirects
            # to /ui) proves the port is its (a server of another test may hold that port;
            # pprof then exits).
            if grep -q "Serving web UI on" "$T/ui.err" 2>/dev/null &&
                [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "http://127.0.0.1:$port/")" = 307 ]; then
                UI_URL=http://127.0.0.1:$port; return 0
            fi
            kill -0 "$UI_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$UI_PID" 2>/dev/null; wait "$UI_PID" 2>/dev/null
    done
    return 1
}
# collector: HeapInuse, TotalAlloc and the profiler's bookkeeping from one /debug/vars.
collector() {
    vars_num HeapInuse >/dev/null
    echo "$(json_num HeapInuse "$T/vars.json") $(json_num TotalAlloc "$T/vars.json") $(json_num bookkeeping_bytes "$T/vars.json")"
}

# 1. exact mode: the profile and the collector count the same bytes ----------------------
# One worker thread; only /leaker traffic between two collections (?gc=1). The profile's
# totals are differences too, so anything allocated before the first one cancels out.
# Sections 1 and 2 run in both collector modes (-gcmode): both carve small strings from
# blocks when they are not sampled; generational mode sees frees at the end of partial
# collections' marks too; the ?gc=1 collections are full in both.
n=300
for mode in stw generational; do
sfx=$([ $mode = stw ] || echo _$mode)
start_server -repetitions 1000 -threads 1 -memprofilerate 1 -gcmode $mode || exit 1
read -r a0 i0 < <(totals go "$BASE/debug/pprof/heap?gc=1")
read -r h0 t0 b0 < <(collector)
read -r o0 s0 < <(allocs go -focus=numstr_itoa "$BASE/debug/pprof/heap")
requests $n /leaker >/dev/null
read -r a1 i1 < <(totals go "$BASE/debug/pprof/heap?gc=1")
read -r h1 t1 b1 < <(collector)
read -r o1 s1 < <(allocs go -focus=numstr_itoa "$BASE/debug/pprof/heap")
expect_eq exact_counts_every_string$sfx $((o1 - o0)) $((n * 1000))
strings_space=$((s1 - s0))
# The profiler's bookkeeping is malloc'd, none of it in the GC heap: the collector's
# growth is compared with nothing subtracted, while the bookkeeping grew by megabytes.
within exact_inuse_space_within_2pct_of_heapinuse_growth$sfx $((i1 - i0)) $((h1 - h0)) 2
within exact_alloc_space_within_2pct_of_totalalloc_growth$sfx $((a1 - a0)) $((t1 - t0)) 2
tracked=$((n * 1001))
echo "# exact: $tracked objects tracked, bookkeeping grew $((b1 - b0)) B, HeapInuse grew $((h1 - h0)) B"
expect_ge exact_bookkeeping_reported_at_least_16B_per_tracked_object$sfx $((b1 - b0)) $((tracked * 16))
http "/debug/pprof/heap?debug=1" >"$T/text"
b_text=$(sed -n 's/^# bookkeeping_bytes = \([0-9]*\)$/\1/p' "$T/text")
expect_ge debug1_trailer_reports_bookkeeping_bytes$sfx "${b_text:-0}" "$b1"
stop_server
# The same traffic with the profiler off: what exact mode adds to HeapInuse. Exact mode
# samples every allocation, and a sampled string is an object of its own (so that its
# death is seen), recorded at its object size (GC_size: 16 B in stop-the-world mode, 32
# in generational mode, where bdwgc adds the extra byte twice); with the profiler off
# strings are carved from blocks (gcheap.c: their own bytes). So exact mode adds the
# difference for each kept string, "0" to "999" per request, and nothing else: its
# bookkeeping is not in the GC heap.
exact_growth=$((h1 - h0))
start_server -repetitions 1000 -threads 1 -memprofilerate 0 -gcmode $mode || exit 1
http "/debug/pprof/heap?gc=1" >/dev/null
read -r h0 t0 b0 < <(collector)
requests $n /leaker >/dev/null
http "/debug/pprof/heap?gc=1" >/dev/null
read -r h1 t1 b1 < <(collector)
echo "# exact mode: a string is an object of $(awk -v s=$strings_space -v n=$n 'BEGIN { printf "%.2f", s / (n * 1000) }') B"
expect_ge exact_string_objects_are_at_least_16B$sfx "$strings_space" $((n * 1000 * 16))
uncarved=$(awk -v n=$n -v s="$strings_space" 'BEGIN { for (i = 0; i < 1000; i++) c += length(i "") + 1
                                                       print s - n * c }')
echo "# exact mode adds $(( (exact_growth - (h1 - h0)) / tracked )) B of HeapInuse per tracked object"
within exact_mode_adds_only_the_strings_it_does_not_carve$sfx $((exact_growth - (h1 - h0))) "$uncarved" 2
stop_server

# 2. sampled: the estimate of in-use bytes tracks the collector's -------------------------
# The estimate's relative standard deviation is at most sqrt(rate / bytes): at rate 4096
# over the 14.5 MB below that is 1.7%, so 10% is 5.9 standard deviations (3.5 needs
# bytes >= 1225 x rate, which the expect_ge checks). The strings that are not sampled
# are carved (2-5 bytes each instead of 16 as objects): the requests make little heap,
# so the rate is 1024.
rate=1024
start_server -repetitions 10000 -memprofilerate $rate -gcmode $mode || exit 1
read -r a0 i0 < <(totals go "$BASE/debug/pprof/heap?gc=1")
read -r h0 t0 b0 < <(collector)
requests 60 /leaker >/dev/null
read -r a1 i1 < <(totals go "$BASE/debug/pprof/heap?gc=1")
read -r h1 t1 b1 < <(collector)
expect_ge sampled_inuse_growth_is_enough_for_3_5_sd$sfx $((h1 - h0)) $((1225 * rate))
within sampled_inuse_space_within_10pct_of_heapinuse_growth$sfx $((i1 - i0)) $((h1 - h0)) 10
within sampled_alloc_space_within_10pct_of_totalalloc_growth$sfx $((a1 - a0)) $((t1 - t0)) 10
stop_server
# The count of carved strings: /noleaker makes 1000 per request ("0" to "999", 2-4
# bytes each, 3890 B), all by numstr_itoa. A sampled one stands for the carved strings
# whose bytes the countdown counted, so alloc_objects estimates how many were made:
# 3000 requests at rate 4096 are about 2850 samples of them, a relative standard
# deviation under 2%, so 15% fails only on a unit error (a string recorded at its
# object size, 16 or 32 B, reads 4-8 times too few).
start_server -repetitions 1000 -memprofilerate 4096 -gcmode $mode || exit 1
s0=$(objects go -focus=numstr_itoa "$BASE/debug/pprof/heap")
requests 3000 /noleaker >/dev/null
s1=$(objects go -focus=numstr_itoa "$BASE/debug/pprof/heap")
within sampled_alloc_objects_of_carved_strings_within_15pct$sfx $((s1 - s0)) $((3000 * 1000)) 15
stop_server
done

# 3. route labels: -tagfocus keeps one route's stacks, -tags lists the routes -------------
start_server -repetitions 1000 -memprofilerate 1 || exit 1
requests 20 /leaker >/dev/null
requests 20 /noleaker >/dev/null
TOOLS=(go)
if [ -x "$GO123" ]; then TOOLS+=("$GO123"); else echo "SKIP route_labels_go123: $GO123 not installed"; fi
for g in "${TOOLS[@]}"; do
    v=$("$g" env GOVERSION 2>/dev/null | sed 's/^go\([0-9]*\)\.\([0-9]*\).*/go\1\2/'); v=${v:-go}
    for r in leaker noleaker; do
        other=$([ $r = leaker ] && echo noleaker || echo leaker)
        (cd "$T/pp" && "$g" tool pprof -top -cum -nodefraction=0 -nodecount=200 -sample_index=alloc_space \
            -tagfocus="route=/$r" "$BASE/debug/pprof/heap" >"$T/tag.top" 2>"$T/pp.err")
        check "tagfocus_route_${r}_keeps_handle_${r}_$v" grep -q " handle_$r\$" "$T/tag.top"
        check_absent "tagfocus_route_${r}_drops_handle_${other}_$v" " handle_$other\$" "$T/tag.top"
    done
    (cd "$T/pp" && "$g" tool pprof -tags -sample_index=alloc_space "$BASE/debug/pprof/heap" >"$T/tags" 2>"$T/pp.err")
    check "tags_lists_route_leaker_$v" grep -q '): /leaker$' "$T/tags"
    check "tags_lists_route_noleaker_$v" grep -q '): /noleaker$' "$T/tags"
done
# the web UI's tag filter (tf= in its URLs, as -tagfocus) on a saved profile
curl -s -o "$T/labels.pb.gz" "$BASE/debug/pprof/heap"
for g in "${TOOLS[@]}"; do
    v=$("$g" env GOVERSION 2>/dev/null | sed 's/^go\([0-9]*\)\.\([0-9]*\).*/go\1\2/'); v=${v:-go}
    if ! start_ui "$g" "$T/labels.pb.gz"; then fail "web_ui_starts_$v" "$(tail -2 "$T/ui.err")"; continue; fi
    # The UI builds its first page on demand; on a loaded machine that can take long:
    # ask again (bounded) rather than judge an empty page.
    for try in 1 2 3; do
        curl -s --max-time 60 "$UI_URL/ui/top?si=alloc_space&tf=route%3D%2Fleaker" >"$T/ui.top"
        [ -s "$T/ui.top" ] && break
    done
    check "web_ui_tag_filter_keeps_handle_leaker_$v" grep -q 'handle_leaker' "$T/ui.top"
    check_absent "web_ui_tag_filter_drops_handle_noleaker_$v" 'handle_noleaker' "$T/ui.top"
    kill "$UI_PID" 2>/dev/null; wait "$UI_PID" 2>/dev/null
done
all=$(objects go -sample_index=alloc_objects "$BASE/debug/pprof/heap")
leak=$(objects go -tagfocus=route=/leaker "$BASE/debug/pprof/heap")
noleak=$(objects go -tagfocus=route=/noleaker "$BASE/debug/pprof/heap")
# Each /leaker request: 1000 strings and its local list's chunk; and the global list's
# chunks (one per 1020 strings kept, appended one by one) as it grows.
global_chunks() { echo $(( ($1 + 1019) / 1020 )); }
expect_eq route_leaker_counts_every_leaker_allocation "$leak" $((20 * 1001 + $(global_chunks 20000)))
expect_eq every_sample_has_exactly_one_route "$((leak + noleak))" "$all"

# 4. a delta profile (?seconds=N) subtracts labelled records one by one -------------------
curl -s --max-time 30 -o "$T/delta.pb.gz" "$BASE/debug/pprof/allocs?seconds=2" &
DELTA=$!
sleep 0.5
requests 7 /leaker >/dev/null
wait "$DELTA"
expect_eq delta_route_leaker_counts_only_the_window "$(objects go -tagfocus=route=/leaker "$T/delta.pb.gz")" \
    $((7 * 1001 + $(global_chunks 27000) - $(global_chunks 20000)))
expect_eq delta_route_noleaker_is_empty "$(objects go -tagfocus=route=/noleaker "$T/delta.pb.gz")" 0

# 5. stacks end in memdemo's own outermost frame, not in a bare library address ----------
(cd "$T/pp" && go tool pprof -traces -sample_index=alloc_space "$BASE/debug/pprof/heap" >"$T/traces" 2>"$T/pp.err")
check_absent no_libmicrohttpd_frame_in_any_stack 'libmicrohttpd' "$T/traces"
roots=$(awk '/^-----------\+/ { if (seen && last != "") print last; seen = 1; last = ""; next }
             seen && NF { last = $NF } END { if (last != "") print last }' "$T/traces" | sort | uniq -c)
echo "# stack roots: $(echo $roots)"
expect_eq every_request_stack_ends_in_on_request "$(echo "$roots" | awk '{ print $2 }' | sort -u | tr '\n' ' ')" "on_request "
stop_server
