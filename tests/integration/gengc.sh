#!/bin/bash
# -gcmode generational end to end (issue: a generational mode with memdemo's own write
# barrier): both routes under load through hundreds of partial collections with the
# barrier's debug check on (MEMDEMO_GCCHECK=1 aborts the server at the first marked
# object pointing at one its collection frees, i.e. a store that skipped gcgen_store),
# the leaker's count exact, partial and full collections apart in /debug/vars and
# /metrics, forced collections full; stw stays the default; a bad mode is refused.
source "$(dirname "$0")/../lib.sh"

# 1. the default is stop-the-world, and every collection there is full
start_server -repetitions 100 || exit 1
requests 20 /noleaker >/dev/null
http '/debug/vars?gc=1' >"$T/vars.json"
expect_eq default_mode_is_stw "$(grep -o '"gc": {"mode": "[a-z]*"' "$T/vars.json" | sed 's/.*"\([a-z]*\)"$/\1/')" stw
partial=$(grep -o '"partial": {"collections": [0-9]*' "$T/vars.json" | grep -o '[0-9]*$')
full=$(grep -o '"full": {"collections": [0-9]*' "$T/vars.json" | grep -o '[0-9]*$')
expect_eq stw_has_no_partial_collections "$partial" 0
expect_ge stw_counts_its_collections_as_full "$full" 1
stop_server

# 2. generational: both routes under load, the check on, GOGC 10 for many collections
reps=200
export MEMDEMO_GCCHECK=1
start_server -repetitions $reps -gcmode generational -gogc 10 -threads 2 || exit 1
curl -s --max-time 30 -o "$T/gen.trace" "$BASE/debug/pprof/trace?seconds=2" &
TRACE=$!
load 6 4 /leaker /noleaker /noleaker /noleaker
wait "$TRACE"
unset MEMDEMO_GCCHECK
check server_survived_the_load_with_the_barrier_check_on kill -0 "$SERVER_PID"
grep -q MEMDEMO_GCCHECK "$SERVER_LOG" && fail barrier_check_found_nothing "$(grep MEMDEMO_GCCHECK "$SERVER_LOG")"
ok=$(awk '/^LEAKER_OK/ { print $2 }' "$T/wrk.out")
leaker() { grep -o '"leaker": {"requests": [0-9]*, "strings": [0-9]*' "$1" | grep -o "[0-9]*$"; }
http '/debug/vars' >"$T/vars.json"
strings=$(leaker "$T/vars.json")
# wrk may stop reading while a /leaker request it sent is being served: up to one per
# connection is kept but not counted by wrk.
expect_ge leaker_requests_made_it "${ok:-0}" 50
expect_ge leaker_keeps_every_counted_request "${strings:-0}" $((ok * reps))
expect_le leaker_keeps_at_most_the_requests_in_flight "${strings:-0}" $(((ok + 4) * reps))
expect_eq leaker_strings_are_whole_requests $((${strings:-1} % reps)) 0
expect_eq vars_reports_generational_mode \
    "$(grep -o '"gc": {"mode": "[a-z]*"' "$T/vars.json" | sed 's/.*"\([a-z]*\)"$/\1/')" generational
partial=$(grep -o '"partial": {"collections": [0-9]*' "$T/vars.json" | grep -o '[0-9]*$')
full=$(grep -o '"full": {"collections": [0-9]*' "$T/vars.json" | grep -o '[0-9]*$')
numgc=$(json_num NumGC "$T/vars.json")
echo "# $partial partial, $full full collections; NumGC $numgc; $ok /leaker requests kept"
expect_ge hundreds_of_partial_collections "$partial" 100
expect_ge some_full_collections "$full" 1
# NumGC counts the collections memdemo saw end (not bdwgc's own at GC_INIT), each
# partial or full
expect_eq partial_plus_full_is_numgc "$((partial + full))" "$numgc"
checked=$(grep -o '"check": {"collections": [0-9]*' "$T/vars.json" | grep -o '[0-9]*$')
violations=$(grep -o '"violations": [0-9]*' "$T/vars.json" | grep -o '[0-9]*$')
echo "# barrier check ran at $checked mark ends"
# NumGC may count the collection bdwgc runs when incremental mode comes on, before the
# check starts; every later one is checked
expect_ge barrier_check_ran_at_every_mark_end "${checked:-0}" $((numgc - 1))
expect_eq barrier_check_saw_no_violation "$violations" 0
lock_max=$(grep -o '"partial": {[^}]*' "$T/vars.json" | grep -o '"lock_max_ns": [0-9]*' | grep -o '[0-9]*$')
pause_max=$(grep -o '"partial": {[^}]*' "$T/vars.json" | grep -o '"pause_max_ns": [0-9]*' | grep -o '[0-9]*$')
expect_ge partial_lock_time_covers_its_pauses "${lock_max:-0}" "${pause_max:-1}"
# a forced collection is full; sequential requests are all kept, exactly
http '/debug/vars?gc=1' >"$T/vars2.json"
full2=$(grep -o '"full": {"collections": [0-9]*' "$T/vars2.json" | grep -o '[0-9]*$')
expect_ge forced_collection_is_full "$full2" $((full + 1))
s0=$(leaker "$T/vars2.json")
n=$(requests 30 /leaker)
http '/debug/vars?gc=1' >"$T/vars3.json"
expect_eq sequential_leaker_requests_keep_exactly_n_x_repetitions "$(( $(leaker "$T/vars3.json") - s0 ))" $((n * reps))
http /metrics >"$T/metrics"
check metrics_gc_info_names_the_mode grep -q '^memdemo_gc_info{collector="bdwgc",version="[0-9.]*",mode="generational"} 1$' "$T/metrics"
mp=$(sed -n 's/^memdemo_gc_collections_total{kind="partial"} \([0-9]*\)$/\1/p' "$T/metrics")
expect_ge metrics_counts_partial_collections "${mp:-0}" "$partial"
check metrics_has_full_collections grep -q '^memdemo_gc_collections_total{kind="full"} [1-9]' "$T/metrics"
check metrics_has_lock_time_by_kind grep -q '^memdemo_gc_lock_seconds_total{kind="partial"} ' "$T/metrics"
stop_server

# the trace: partial collections are GC slices of their own goroutine label and stack
# (strings of the trace's string table), and Debian's go tool trace reads it
check trace_labels_partial_collections grep -qa 'GC (partial)' "$T/gen.trace"
check trace_names_partial_collections_stack grep -qa 'GC_collect_a_little' "$T/gen.trace"
(cd "$T" && go tool trace -http=127.0.0.1:0 -d "$T/gen.trace" >"$T/gen.trace.d" 2>"$T/gen.trace.err")
expect_eq go_tool_trace_reads_the_generational_trace "$?" 0
check go_tool_trace_sees_gc_starts grep -q 'GCStart' "$T/gen.trace.d"

# 3. a mode that is none is refused before the server starts
"$MEMDEMO" -gcmode incremental >"$T/out" 2>"$T/err"
expect_eq bad_gcmode_exits_2 "$?" 2
check bad_gcmode_says_why grep -q 'invalid value "incremental" for flag -gcmode: must be stw or generational' "$T/err"
