#!/bin/bash
# Integration tests for the /debug surface served alone (src/debug_surface.h) by a
# program that is not memdemo: tests/tools/debug_alone.c, linked without memdemo's
# handlers, routes, app wiring and GC policy (the Makefile's DEBUG_ALONE_OBJS), on
# bdwgc's own policy. It allocates a known heap before serving; Go 1.19's go tool
# pprof must read the heap profile and find exactly that in it.
source "$(dirname "$0")/../lib.sh"
mkdir -p "$T/pp"
export PPROF_TMPDIR=$T/pp HOME=$T GOCACHE=$T/gocache
BIN=$ROOT/$MEMDEMO_BUILD/tools/debug_alone
if [ ! -x "$BIN" ]; then fail debug_alone_built "$BIN missing (make unit-tests builds it)"; exit 1; fi
pass debug_alone_links_without_memdemos_handlers_routes_and_gc_policy

# The link is the proof; the symbol table says the same to anyone who reads it.
nm "$BIN" >"$T/nm"
for sym in handle_leaker handle_noleaker routes_router app_start gcpacer_stats gcheap_init handlers_leaker_totals; do
    check "binary_has_no_${sym}" bash -c "! grep -q ' [TtDdRrBb] $sym\$' '$T/nm'"
done
check binary_has_the_surface grep -q ' [DdRr] debug_surface_router$' "$T/nm"

# --- serve: stdin from a fifo this script holds; closing it stops the program ---------
mkfifo "$T/in"
exec 7<>"$T/in"
"$BIN" 127.0.0.1:0 <"$T/in" >"$T/out" 2>"$T/err" 7>&- &
PID=$!
SERVER_PIDS+=("$PID")
for i in $(seq 1 100); do BASE=$(sed -n 's/^listening on //p' "$T/out"); [ -n "$BASE" ] && break; sleep 0.1; done
if [ -z "$BASE" ]; then fail debug_alone_starts "$(cat "$T/err")"; exit 1; fi
pass debug_alone_starts

code=$(curl -s -o "$T/heap.pb.gz" -w '%{http_code}' --max-time 60 "$BASE/debug/pprof/heap?gc=1")
expect_eq heap_profile_is_200 "$code" 200
if (cd "$T/pp" && /usr/bin/go tool pprof -raw "$T/heap.pb.gz" >"$T/raw" 2>"$T/pp.err"); then pass go_1_19_pprof_raw_reads_it
else fail go_1_19_pprof_raw_reads_it "$(tail -1 "$T/pp.err")"; fi
check raw_has_heap_sample_types grep -q 'alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes' "$T/raw"
check raw_names_the_allocating_function grep -q 'alone_allocate' "$T/raw"
# Exact mode: the counts are the program's, not estimates.
flat() { # SAMPLE_INDEX: alone_allocate's flat count in a -top listing
    (cd "$T/pp" && /usr/bin/go tool pprof -top -nodefraction=0 -sample_index="$1" "$T/heap.pb.gz" 2>>"$T/pp.err") |
        awk '$6 == "alone_allocate" { print $1 }'
}
expect_eq inuse_objects_are_the_kept_ones "$(flat inuse_objects)" 1000
expect_eq alloc_objects_count_the_garbage_too "$(flat alloc_objects)" 2000

# --- the rest of the surface answers; memdemo's pages do not exist -------------------------
for p in /debug/vars /metrics /debug/gc /debug/gc/feed /debug/pprof/ /debug/pprof/goroutine /debug/pprof/cmdline /debug/memprofilerate; do
    expect_eq "serves_${p//[^a-z]/_}" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$BASE$p")" 200
done
for p in / /leaker /noleaker; do
    expect_eq "no_memdemo_page_${p//[^a-z]/_}" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$BASE$p")" 404
done
curl -s "$BASE/debug/vars" >"$T/vars"
check vars_has_memstats_and_profiler grep -q '"profiler": {"memprofilerate": 1,' "$T/vars"
check_absent vars_has_no_pacer_section '"pacer"' "$T/vars"
check_absent vars_has_no_leaker_section '"leaker"' "$T/vars"
curl -s "$BASE/debug/gc/feed" >"$T/feed"
check dashboard_charts_no_gauge_or_requests_the_host_did_not_give grep -q '"charts":\["heap","alloc","pauses","gc","rss"\]' "$T/feed"
expect_eq vars_next_gc_is_0_without_a_policy "$(json_num NextGC "$T/vars")" 0
curl -s "$BASE/metrics" >"$T/metrics"
check metrics_has_the_collectors_families grep -q '^go_memstats_heap_inuse_bytes ' "$T/metrics"
check_absent metrics_has_no_leaker '^memdemo_leaker' "$T/metrics"
# A header the server cannot keep is dropped and counted, not lost silently.
expect_eq vars_headers_dropped_starts_at_0 "$(json_num headers_dropped "$T/vars")" 0
curl -s -D "$T/many.h" -o /dev/null "$BASE/alone/headers"
expect_eq answer_keeps_http_max_headers "$(grep -ci '^X-Alone-' "$T/many.h")" 8
curl -s "$BASE/debug/vars" >"$T/vars2"
expect_eq vars_counts_the_dropped_header "$(json_num headers_dropped "$T/vars2")" 1
# The other losses are shown too, by any program that serves the surface (0 here).
expect_eq vars_shows_answers_dropped "$(json_num answers_dropped "$T/vars2")" 0
expect_eq vars_shows_log_lines_dropped "$(json_num log_lines_dropped "$T/vars2")" 0
expect_eq vars_shows_thread_creations_lost "$(json_num creations_lost "$T/vars2")" 0
code=$(curl -s -o "$T/rate" -w '%{http_code}' -X POST "$BASE/debug/memprofilerate?rate=4096")
expect_eq rate_switch_works "$code $(cat "$T/rate")" "200 memprofilerate 4096 (was 1)"

# --- stop: end of input stops the server; the program exits 0 --------------------------------
exec 7>&-
for i in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
wait "$PID"; rc=$?
expect_eq stops_cleanly_at_end_of_input "$rc" 0
