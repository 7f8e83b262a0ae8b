#!/bin/bash
# misuse: what an operator's environment or a client's requests must not be able to do
# to the server's own bounds (counts and bytes, never times):
#   - bdwgc variables that defeat a flag are reported at start, one line each, and
#     GC_DONT_GC / GC_FIND_LEAK (nothing would ever be freed) refuse to start.
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
