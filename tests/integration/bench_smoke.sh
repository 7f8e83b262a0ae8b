#!/bin/bash
# bench_smoke: bench/run works end to end in its tiny mode (1 round of 1 s per series, a
# few /leaker requests) against the real ./memdemo and the Go peer: it exits 0, prints
# the table header and a numeric memdemo/Go ratio for /noleaker, and leaves
# bench/RESULTS.md alone (tiny mode writes its table to a temp file). About 30 s, most
# of it the Go peer's build and fixed-length series, so it runs in CI (.ci/run sets
# MEMDEMO_SLOW=1) and not in a plain `make test`.
source "$(dirname "$0")/../lib.sh"
name=bench_script_runs_tiny
slow_file "$name" "bench/run's tiny mode (about 30 s)"

results=$ROOT/bench/RESULTS.md
before=$( [ -e "$results" ] && cksum <"$results" || echo none)

# The binaries under test (a sanitizer suite's own build, too).
MEMDEMO_BIN=$MEMDEMO HEAPSTACKS_BIN=$ROOT/$MEMDEMO_BUILD/bench/heapstacks BENCH_TINY=1 BENCH_RESULTS=$T/tiny.md \
    timeout -k 10 300 "$ROOT/bench/run" >"$T/bench.out" 2>"$T/bench.err"
rc=$?
after=$( [ -e "$results" ] && cksum <"$results" || echo none)

reason=""
if [ "$rc" != 0 ]; then
    reason="bench/run exited $rc: $(tail -n 3 "$T/bench.err" | tr '\n' ' ')"
elif ! grep -q '^| metric | memdemo | Go | memdemo/Go |$' "$T/bench.out"; then
    reason="no table header in its output"
elif ! grep -Eq '^\| /noleaker requests/s \| [0-9]+ \| [0-9]+ \| [0-9]+\.[0-9]+ \|$' "$T/bench.out"; then
    reason="no numeric ratio line for /noleaker requests/s: $(grep '/noleaker requests/s' "$T/bench.out" | head -1)"
elif [ ! -s "$T/tiny.md" ]; then
    reason="it did not write its table to BENCH_RESULTS"
elif [ "$before" != "$after" ]; then
    reason="tiny mode modified bench/RESULTS.md"
fi
if [ -z "$reason" ]; then pass "$name"; else fail "$name" "$reason"; cat "$T/bench.err" >&2; fi
