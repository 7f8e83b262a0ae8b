#!/bin/bash
# pprof_heap: oracle tests for the heap profiler: Debian's go tool pprof
# fetches /debug/pprof/heap and /allocs from a real server and must find the right
# numbers in them. pprof runs in a directory without the memdemo binary, so every
# symbol has to come from the profile itself.
source "$(dirname "$0")/../lib.sh"
mkdir -p "$T/pp"
export PPROF_TMPDIR=$T/pp HOME=$T GOCACHE=$T/gocache GOFLAGS=-mod=mod

pp() { (cd "$T/pp" && go tool pprof "$@" 2>"$T/pp.err"); }
# top_field COLUMN FUNC < top-output: FUNC's value in a `pprof -top` listing: COLUMN 1 is
# flat, 4 cum (with -unit=B "123B" -> 123), 5 cum% (rounded to an integer).
# A function missing from a complete listing has nothing, so the value is 0: complete
# means pprof printed its "Showing nodes accounting for" line and the column titles and
# did not cut the list ("Showing top K nodes out of M", "Dropped N nodes"). A focus that
# matches no samples is such a listing, with no rows. Anything else (no output, an error,
# a cut list without FUNC) prints nothing, plus a note on stderr, so that the expect_*
# check consuming the value fails instead of reading an absent value as 0.
top_field() {
    awk -v col="$1" -v f="$2" '
        /^Showing nodes accounting for / { header = 1 }
        /^Showing top [0-9]+ nodes out of / || /^Dropped [0-9]+ nodes/ { cut = 1 }
        /^ *flat +flat% +sum% +cum +cum%$/ { columns = 1; next }
        columns && !found && $6 == f { found = 1; v = $col }
        END {
            if (found) {
                if (col == 5) { sub(/%$/, "", v); v = int(v + 0.5) } else sub(/B$/, "", v)
                print v
            } else if (header && columns && !cut) print 0
            else if (header && columns) print "# " f " not in a listing pprof cut short" >"/dev/stderr"
            else print "# no pprof -top listing to read " f " from (see pp.err)" >"/dev/stderr"
        }'
}
cum_of() { top_field 4 "$1"; }
cum_pct_of() { top_field 5 "$1"; }
flat_of() { top_field 1 "$1"; }

# 1. everything parses straight from the URL -------------------------------------------
start_server -repetitions 1000 -memprofilerate 16384 || exit 1
requests 300 /leaker >/dev/null
requests 300 /noleaker >/dev/null
for u in /debug/pprof/heap /debug/pprof/allocs "/debug/pprof/heap?debug=1"; do
    if pp -raw "$BASE$u" >"$T/raw" && grep -q '^Samples:' "$T/raw"; then pass "raw_parses_${u//[^a-z0-9]/_}"
    else fail "raw_parses_${u//[^a-z0-9]/_}" "$(tail -2 "$T/pp.err")"; fi
done
pp -raw "$BASE/debug/pprof/heap" >"$T/raw"
check sample_types_in_go_order grep -q '^alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes' "$T/raw"
check period_is_the_rate grep -q '^Period: 16384' "$T/raw"
pp -top "$BASE/debug/pprof/allocs" >"$T/allocs.top"
check allocs_defaults_to_alloc_space grep -q '^Type: alloc_space' "$T/allocs.top"
pp -top "$BASE/debug/pprof/heap" >"$T/heap.top"
check heap_defaults_to_inuse_space grep -q '^Type: inuse_space' "$T/heap.top"
check profile_carries_build_id grep -q '^Build ID: [0-9a-f]\{40\}' "$T/heap.top"

# 2. alloc_space shows both handlers over numstr_itoa; inuse_space only the leaker ------
pp -top -cum -nodefraction=0 -nodecount=200 -sample_index=alloc_space "$BASE/debug/pprof/heap" >"$T/a.top"
expect_ge alloc_space_leaker_at_least_30pct "$(cum_pct_of handle_leaker <"$T/a.top")" 30
expect_ge alloc_space_noleaker_at_least_30pct "$(cum_pct_of handle_noleaker <"$T/a.top")" 30
for h in handle_leaker handle_noleaker; do
    pp -top -nodefraction=0 -sample_index=alloc_objects -focus="^$h\$" "$BASE/debug/pprof/heap" >"$T/f.top"
    top=$(awk '$1 ~ /^[0-9]/ && $6 != "" { print $6; exit }' "$T/f.top")
    expect_eq "numstr_itoa_is_top_allocation_site_under_$h" "$top" numstr_itoa
done
pp -top -cum -nodefraction=0 -nodecount=200 -sample_index=inuse_space "$BASE/debug/pprof/heap?gc=1" >"$T/i.top"
expect_ge inuse_space_leaker_at_least_90pct "$(cum_pct_of handle_leaker <"$T/i.top")" 90
# handle_noleaker may be absent from the list (nothing of it in use): cum_pct_of says 0
# then, and nothing at all when pprof printed no listing.
expect_le inuse_space_noleaker_at_most_1pct "$(cum_pct_of handle_noleaker <"$T/i.top")" 1

# 5. source and focus ---------------------------------------------------------------------
pp -list='^handle_leaker$' "$BASE/debug/pprof/heap" >"$T/list"
check list_shows_leaker_source_lines grep -q 'strlist_fill_numbers(&mine, repetitions);' "$T/list"
check list_names_the_source_file grep -q 'ROUTINE.*handle_leaker in /.*src/handlers.c' "$T/list"
pp -top -nodefraction=0 -nodecount=200 -cum -sample_index=alloc_space -focus='^handle_leaker$' "$BASE/debug/pprof/heap" >"$T/focus"
check focus_keeps_leaker grep -q ' handle_leaker$' "$T/focus"
check_absent focus_drops_noleaker ' handle_noleaker$' "$T/focus"
stop_server

# 3. exact mode --------------------------------------------------------------------------
start_server -repetitions 1000 -memprofilerate 1 || exit 1
requests 40 /leaker >/dev/null
requests 40 /noleaker >/dev/null
pp -top -nodefraction=0 -sample_index=alloc_objects -focus='^handle_leaker$' "$BASE/debug/pprof/heap" >"$T/e.top"
expect_eq exact_leaker_alloc_objects_is_requests_x_repetitions "$(flat_of numstr_itoa <"$T/e.top")" 40000
pp -top -nodefraction=0 -sample_index=inuse_objects -focus='^handle_leaker$' "$BASE/debug/pprof/heap?gc=1" >"$T/e.top"
expect_eq exact_leaker_inuse_objects_after_gc "$(flat_of numstr_itoa <"$T/e.top")" 40000
pp -top -nodefraction=0 -sample_index=inuse_objects -focus='^handle_noleaker$' "$BASE/debug/pprof/heap?gc=1" >"$T/e.top"
expect_le exact_noleaker_inuse_at_most_one_request "$(flat_of numstr_itoa <"$T/e.top")" 1000
# run-time rate change: back to sampling, then exact again, without a restart
http "/debug/memprofilerate?rate=524288" -X POST >/dev/null; expect_eq rate_change_answers_200 "$(status)" 200
check rate_change_is_reported grep -q 'memprofilerate 524288 (was 1)' "$T/body"
# A change needs POST: a GET that carries ?rate= is refused, says to POST, changes nothing.
http "/debug/memprofilerate?rate=4096" >/dev/null; expect_eq rate_change_by_get_is_400 "$(status)" 400
check rate_change_by_get_says_to_post grep -q 'POST /debug/memprofilerate?rate=N' "$T/body"
expect_eq rate_change_by_get_is_one_line "$(wc -l <"$T/body")" 1
http "/debug/memprofilerate" >/dev/null; expect_eq rate_get_shows_the_unchanged_rate "$(cat "$T/body")" "memprofilerate 524288"
http "/debug/memprofilerate" -X POST >/dev/null; expect_eq rate_post_without_rate_is_400 "$(status)" 400
http "/debug/memprofilerate?rate=1" -X POST >/dev/null
requests 10 /leaker >/dev/null
pp -top -nodefraction=0 -sample_index=alloc_objects -focus='^handle_leaker$' "$BASE/debug/pprof/heap" >"$T/e.top"
expect_eq exact_again_after_rate_change "$(flat_of numstr_itoa <"$T/e.top")" 50000
stop_server

# 8. ten times the traffic does not grow the stack table -----------------------------------
start_server -repetitions 100 -memprofilerate 1 || exit 1
requests 20 /leaker >/dev/null; requests 20 /noleaker >/dev/null
s1=$(curl -s "$BASE/debug/vars" | grep -o '"stacks": [0-9]*' | grep -o '[0-9]*$')
requests 200 /leaker >/dev/null; requests 200 /noleaker >/dev/null
s2=$(curl -s "$BASE/debug/vars" | grep -o '"stacks": [0-9]*' | grep -o '[0-9]*$')
expect_ge stacks_recorded "$s1" 4
expect_eq stacks_do_not_grow_with_10x_traffic "$s2" "$s1"
stop_server

# 6. a delta profile reports only the traffic inside its window ---------------------------
start_server -repetitions 1000 -memprofilerate 16384 || exit 1
requests 200 /noleaker >/dev/null
(cd "$T/pp" && go tool pprof -top -cum -nodefraction=0 -nodecount=200 -sample_index=alloc_space \
    "$BASE/debug/pprof/allocs?seconds=2" >"$T/delta.top" 2>"$T/delta.err") &
DELTA=$!
# /leaker traffic for as long as the window may be open (a loaded machine may start
# pprof late): some of it falls inside the window whenever that opens.
for i in $(seq 1 60); do
    requests 20 /leaker >/dev/null
    kill -0 "$DELTA" 2>/dev/null || break
done
wait "$DELTA"
check delta_reports_window_traffic grep -q ' handle_leaker$' "$T/delta.top"
check_absent delta_excludes_earlier_traffic ' handle_noleaker$' "$T/delta.top"
check delta_has_duration grep -q 'Duration: 2\(\.[0-9]*\)\?s' "$T/delta.top"

# 7. bad input gets Go's answers; the server keeps serving -----------------------------------
pprof_refusal seconds_zero_is_400 400 'invalid value for "seconds"' '/debug/pprof/heap?seconds=0'
pprof_refusal seconds_negative_is_400 400 'invalid value for "seconds"' '/debug/pprof/heap?seconds=-3'
pprof_refusal seconds_not_integer_is_400 400 'invalid value for "seconds"' '/debug/pprof/heap?seconds=abc'
pprof_refusal seconds_with_debug_is_400 400 'seconds and debug params are incompatible' '/debug/pprof/heap?seconds=1&debug=1'
pprof_refusal seconds_too_large_is_400 400 'at most' '/debug/pprof/allocs?seconds=99999999999999999999'
pprof_refusal gc_not_integer_is_400 400 'invalid value for "gc"' '/debug/pprof/heap?gc=yes'
pprof_refusal unknown_profile_is_404 404 'Unknown profile' '/debug/pprof/nonesuch'
pprof_refusal post_heap_is_405 405 'Method Not Allowed' '/debug/pprof/heap' -X POST
pprof_refusal trace_too_long_is_400 400 'at most' '/debug/pprof/trace?seconds=1e9'
http "/debug/memprofilerate?rate=-1" -X POST >/dev/null; expect_eq negative_rate_is_400 "$(status)" 400
# One parser, one set of messages: the same bad ?seconds= gets the same line from
# every profile that takes a window.
same_answer() { # NAME VALUE PATH...: every PATH?seconds=VALUE answers 400 with one body
    local name=$1 v=$2 first="" p; shift 2
    for p in "$@"; do
        curl -s -o "$T/same" -w '%{http_code}' "$BASE$p?seconds=$v" >"$T/same.code"
        if [ "$(cat "$T/same.code")" != 400 ]; then fail "$name" "$p?seconds=$v: status $(cat "$T/same.code")"; return; fi
        [ -n "$first" ] || first=$(cat "$T/same")
        if [ "$(cat "$T/same")" != "$first" ]; then fail "$name" "$p says '$(cat "$T/same")', the first said '$first'"; return; fi
    done
    pass "$name"
}
same_answer bad_seconds_same_message_everywhere abc /debug/pprof/heap /debug/pprof/allocs /debug/pprof/mutex /debug/pprof/block /debug/pprof/profile
same_answer zero_seconds_same_message_everywhere 0 /debug/pprof/heap /debug/pprof/mutex /debug/pprof/profile
same_answer long_seconds_same_message_everywhere 601 /debug/pprof/heap /debug/pprof/block /debug/pprof/profile /debug/pprof/trace
http "/debug/pprof/cmdline" >"$T/cmd"; check cmdline_answers_argv grep -q 'memprofilerate' "$T/cmd"
expect_eq cmdline_is_argv_joined_by_nul "$(tr '\0' ' ' <"$T/cmd")" "$MEMDEMO -addr 127.0.0.1:0 -repetitions 1000 -memprofilerate 16384"
last=$(tail -c 1 "$T/cmd" | od -An -tx1 | tr -d ' ')
if [ -n "$last" ] && [ "$last" != 0a ]; then pass cmdline_has_no_trailing_newline
else fail cmdline_has_no_trailing_newline "last byte '${last}' (empty: no body)"; fi
http "/debug/pprof/symbol" >/dev/null; check symbol_get_says_num_symbols grep -q '^num_symbols: 1' "$T/body"
addr=$(curl -s "$BASE/debug/pprof/heap?debug=1" | grep -m1 'handle_leaker+' | awk '{print $2}')
curl -s -X POST --data "$addr+0x1" "$BASE/debug/pprof/symbol" >"$T/sym"
check symbol_post_names_address grep -q "^$addr handle_leaker$" "$T/sym"
curl -s "$BASE/debug/pprof/symbol?$addr+0x1" >"$T/sym"
check symbol_get_query_names_address grep -q "^$addr handle_leaker$" "$T/sym"
http /debug/pprof/ >"$T/index"
for p in heap allocs trace cmdline symbol; do check "pprof_index_lists_$p" grep -q "href=\"$p" "$T/index"; done
curl -s -o /dev/null -D "$T/h" "$BASE/debug/pprof"
check pprof_without_slash_redirects grep -qi '^Location: /debug/pprof/' "$T/h"
http /noleaker >/dev/null; expect_eq server_still_serves_after_bad_input "$(status)" 200
stop_server

# 4. unbiased at the default rate: the leaker's estimated bytes vs the truth ------------------
# The truth is in the bytes the profile counts: every string ("0" to "9999" and its NUL)
# is carved from a block at its own bytes (gcheap.c; a sampled one is recorded at them
# too), every 8176-byte chunk takes 8192 bytes. The estimate's relative standard
# deviation is sqrt(rate / bytes): at 512 KiB over 1.0 GB that is 2.3%, so 10% is 4.3
# standard deviations.
start_server -repetitions 10000 || exit 1
n=4800
requests $n /leaker >/dev/null
strings=$(vars_num strings)
# Carved bytes: 48890 per 10000 strings ("0" to "9999"); 8192 per chunk of each
# request's local list, and of the global list's (the leaker appends its strings to it
# one by one: one chunk per 1020 strings kept).
string_bytes=$(awk -v s="$strings" 'BEGIN { for (i = 0; i < 10000; i++) c += length(i "") + 1
                                            printf "%d\n", s / 10000 * c }')
chunks_per_request=$(( (10000 + 1019) / 1020 ))
global_chunks=$(( (n * 10000 + 1019) / 1020 ))
chunk_size=8192
truth=$(( string_bytes + (n * chunks_per_request + global_chunks) * chunk_size ))
pp -top -cum -nodefraction=0 -unit=B -sample_index=alloc_space "$BASE/debug/pprof/heap" >"$T/u.top"
est=$(cum_of handle_leaker <"$T/u.top")
echo "# leaker truth ${truth}B, estimate ${est}B"
expect_ge unbiased_truth_is_at_least_64MB "$truth" $((64 << 20))
if [ -n "$est" ] && [ $(( est * 100 )) -ge $(( truth * 90 )) ] && [ $(( est * 100 )) -le $(( truth * 110 )) ]; then
    pass unbiased_estimate_within_10pct_of_truth
else fail unbiased_estimate_within_10pct_of_truth "estimate $est vs truth $truth"; fi
stop_server
