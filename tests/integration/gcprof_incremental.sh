#!/bin/bash
# gcprof on a program that runs bdwgc in incremental (generational) mode and sets its own
# start callback (issue 17; tests/gcprof/incremental.c): libgcprof tells its partial
# collections from its full ones by a start callback of its own, chained with the
# program's, never replacing it. Checked: the program's callback still runs as often
# (per collection) as without gcprof and gets itself back from the getter; the full
# collections PREFIX.vars.json counts are the program's own count of them (plus the
# final collection the library makes at exit), the partial ones the rest, and there are
# both; the trace draws each collection with its kind's stack. (A stop-the-world
# program's collections are all full: tests/integration/gcprof_surface.sh.)
source "$(dirname "$0")/../lib.sh"
export HOME=$T GOCACHE=$T/gocache GOTOOLCHAIN=local
GCPROF=$ROOT/gcprof
HERE=$ROOT/tests/gcprof

if [ -n "$MEMDEMO_SANITIZER" ]; then
    skip gcprof_incremental "libgcprof.so is preloaded into a program not built with the $MEMDEMO_SANITIZER sanitizer; the plain suite tests it"
    exit 0
fi
if [ ! -x "$GCPROF" ] || [ ! -f "$ROOT/libgcprof.so" ]; then fail gcprof_built "no ./gcprof or ./libgcprof.so: run make"; exit 1; fi
command -v gcc >/dev/null || { fail gcprof_incremental_needs_gcc "gcc is not installed: run .ci/deps"; exit 1; }
if ! gcc -O1 -g -o "$T/incremental" "$HERE/incremental.c" -lgc 2>"$T/incremental.cc"; then
    fail incremental_program_builds "$(head -3 "$T/incremental.cc")"
    exit 1
fi

# var PATH: a number from the profiled run's vars.json (PATH like gc.full.collections).
var() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(int(v))' "$T/run.vars.json" "$1"; }
# said NAME KEY: the number KEY=N in run NAME's line (plain or run).
said() { sed -n "s/.*\b$2=\([0-9]*\).*/\1/p" "$T/$1.out"; }

"$T/incremental" >"$T/plain.out" 2>"$T/plain.err" </dev/null
expect_eq plain_run_exits_0 "$?" 0
"$GCPROF" -o "$T/run" -- "$T/incremental" >"$T/run.out" 2>"$T/run.err" </dev/null
expect_eq profiled_run_exits_0 "$?" 0
echo "# plain: $(cat "$T/plain.out")"
echo "# gcprof: $(cat "$T/run.out")"
for run in plain run; do
    expect_eq "${run}_bdwgc_runs_incrementally" "$(said $run incremental)" 1
    expect_eq "${run}_no_start_callback_before_the_programs" "$(said $run previous)" 0
    expect_eq "${run}_program_gets_its_own_start_callback_back" "$(said $run own_start_callback_back)" 1
done

# Chained: the program's callback runs under gcprof, for about the same share of its
# collections as without (runs differ a little: compare ratios, not counts).
check programs_start_callback_still_runs test "$(said run starts)" -gt 0
ratio() { python3 -c 'import sys; print("%.3f" % (int(sys.argv[1]) / int(sys.argv[2])))' "$(said "$1" starts)" "$(said "$1" collections)"; }
rp=$(ratio plain); rg=$(ratio run)
echo "# full collections per collection the program's callback saw: plain $rp, under gcprof $rg"
check programs_start_callback_share_unchanged python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) / float(sys.argv[2]) - 1) <= 0.5 else 1)' "$rg" "$rp"

# By kind, in the same run: every full collection the program saw, plus the final one the
# library makes after the program printed (bdwgc's own start callback comes for it too).
full=$(var gc.full.collections)
partial=$(var gc.partial.collections)
total=$(( $(var final.collections_at_exit) - $(var final.collections_at_start) ))
echo "# vars.json: $partial partial, $full full, $total collections; final collection: $(var final.collected)"
expect_eq final_collection_ran "$(var final.collected)" 1
expect_eq full_collections_are_the_programs_count "$full" $(( $(said run starts) + 1 ))
expect_eq partial_collections_are_the_rest "$partial" $(( total - full ))
expect_ge has_partial_collections "$partial" 1
# Full ones bdwgc chose (GC_set_full_freq), besides the program's GC_gcollect calls,
# the one inside GC_INIT and the final one.
expect_ge has_full_collections_bdwgc_chose "$full" $(( $(said run explicit) + 3 ))

# The trace: each collection a GC slice whose stack says its kind (Go 1.19's viewer's
# JSON: GC_collect for a full one, GC_collect_a_little for a partial one).
: >"$T/ui.log"   # exists before the first look below
(cd "$T" && exec "$(go env GOTOOLDIR)/trace" -http=127.0.0.1:0 "$T/run.trace" >"$T/ui.log" 2>&1) &
UI_PID=$!
SERVER_PIDS+=("$UI_PID")
UIADDR=
for _ in $(seq 1 150); do
    UIADDR=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/ui.log" | head -1); [ -n "$UIADDR" ] && break; sleep 0.2
done
if [ -n "$UIADDR" ]; then
    code=$(curl -s --max-time 120 -o "$T/json" -w '%{http_code}' "$UIADDR/jsontrace")
    expect_eq trace_viewer_serves_the_timeline "$code" 200
    read -r tfull tpartial < <(python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); sf = d["stackFrames"]
names = [sf[str(e["sf"])]["name"].split(":")[0] for e in d["traceEvents"] if e.get("name") == "GC" and e.get("ph") == "X"]
print(names.count("GC_collect"), names.count("GC_collect_a_little"))' "$T/json")
    expect_eq trace_full_collections_agree "$tfull" "$full"
    expect_eq trace_partial_collections_agree "$tpartial" "$partial"
    kill "$UI_PID" 2>/dev/null; wait "$UI_PID" 2>/dev/null || :   # its status is not this file's
else
    fail trace_viewer_starts "$(cat "$T/ui.log")"
fi
