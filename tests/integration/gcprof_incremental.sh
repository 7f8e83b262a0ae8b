#!/bin/bash
# gcprof on a program that runs bdwgc in incremental (generational) mode and sets its own
# start callback (issue 17; tests/gcprof/incremental.c): libgcprof tells its partial
# collections from its full ones by a start callback of its own, chained with the
# program's, never replacing it. Checked: the program's callback still runs as often
# (per collection) as without gcprof and gets itself back from the getter; the full
# collections PREFIX.vars.json counts are the program's own count of them (plus the
# final collection the library makes at exit), the partial ones the rest, and there are
# both; the trace draws each collection with its kind's stack. Twice: with bdwgc's
# default marking (each collection in one stop) and with marking in time slices, where
# GC_gcollect finds a partial collection open and finishes it first. And a start
# callback a library's constructor set before libgcprof's (tests/gcprof/early_start.c)
# is kept: the program gets it back and chains it. (A stop-the-world program's
# collections are all full: tests/integration/gcprof_surface.sh.)
source "$(dirname "$0")/../lib.sh"
export HOME=$T GOCACHE=$T/gocache GOTOOLCHAIN=local

gcprof_test gcprof_incremental gcc
if ! gcc -O1 -g -o "$T/incremental" "$HERE/incremental.c" -lgc 2>"$T/incremental.cc"; then
    fail incremental_program_builds "$(head -3 "$T/incremental.cc")"
    exit 1
fi

# var NAME PATH: a number from run NAME's vars.json (PATH like gc.full.collections).
var() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(int(v))' "$T/$1.vars.json" "$2"; }
# said NAME KEY: the number KEY=N in run NAME's line.
said() { sed -n "s/.*\b$2=\([0-9]*\).*/\1/p" "$T/$1.out"; }

# run NAME HOW PROGRAM [ARG]: PROGRAM with ARG, plain (HOW=plain) or under gcprof -o
# $T/NAME (HOW=gcprof); its line in $T/NAME.out.
run() {
    local name=$1 how=$2 prog=$3; shift 3
    if [ "$how" = gcprof ]; then "$GCPROF" -o "$T/$name" -- "$prog" "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
    else "$prog" "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null; fi
    expect_eq "${name}_exits_0" "$?" 0
    echo "# $name: $(cat "$T/$name.out")"
    expect_eq "${name}_bdwgc_runs_incrementally" "$(said "$name" incremental)" 1
    expect_eq "${name}_program_gets_its_own_start_callback_back" "$(said "$name" own_start_callback_back)" 1
}

# by_kind NAME: in run NAME (under gcprof), vars.json counts as full every collection
# the program saw start, plus the final one the library makes after the program printed
# (bdwgc's start callback comes for it too), and the rest as partial; there are both,
# and full ones bdwgc chose (GC_set_full_freq) besides the program's GC_gcollect calls,
# the one inside GC_INIT and the final one. Sets FULL and PARTIAL.
by_kind() {
    local name=$1 total
    FULL=$(var "$name" gc.full.collections)
    PARTIAL=$(var "$name" gc.partial.collections)
    total=$(( $(var "$name" final.collections_at_exit) - $(var "$name" final.collections_at_start) ))
    echo "# $name vars.json: $PARTIAL partial, $FULL full, $total collections; final collection: $(var "$name" final.collected)"
    expect_eq "${name}_final_collection_ran" "$(var "$name" final.collected)" 1
    expect_eq "${name}_full_collections_are_the_programs_count" "$FULL" $(( $(said "$name" starts) + 1 ))
    expect_eq "${name}_partial_collections_are_the_rest" "$PARTIAL" $(( total - FULL ))
    expect_ge "${name}_has_partial_collections" "$PARTIAL" 1
    expect_ge "${name}_has_full_collections_bdwgc_chose" "$FULL" $(( $(said "$name" explicit) + 3 ))
}

# trace_kinds NAME: run NAME's trace draws each collection as a GC slice whose stack
# says its kind (Go 1.19's viewer's JSON: GC_collect for a full one, GC_collect_a_little
# for a partial one), as many of each as vars.json counted (FULL, PARTIAL).
trace_kinds() {
    local name=$1 ui_pid addr="" code tfull tpartial
    : >"$T/$name.ui.log"   # exists before the first look below
    (cd "$T" && exec "$(go env GOTOOLDIR)/trace" -http=127.0.0.1:0 "$T/$name.trace" >"$T/$name.ui.log" 2>&1) &
    ui_pid=$!
    SERVER_PIDS+=("$ui_pid")
    for _ in $(seq 1 150); do
        addr=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/$name.ui.log" | head -1); [ -n "$addr" ] && break; sleep 0.2
    done
    if [ -z "$addr" ]; then fail "${name}_trace_viewer_starts" "$(cat "$T/$name.ui.log")"; return; fi
    code=$(curl -s --max-time 120 -o "$T/$name.json" -w '%{http_code}' "$addr/jsontrace")
    kill "$ui_pid" 2>/dev/null; wait "$ui_pid" 2>/dev/null
    expect_eq "${name}_trace_viewer_serves_the_timeline" "$code" 200
    read -r tfull tpartial < <(python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); sf = d["stackFrames"]
names = [sf[str(e["sf"])]["name"].split(":")[0] for e in d["traceEvents"] if e.get("name") == "GC" and e.get("ph") == "X"]
print(names.count("GC_collect"), names.count("GC_collect_a_little"))' "$T/$name.json")
    expect_eq "${name}_trace_full_collections_agree" "$tfull" "$FULL"
    expect_eq "${name}_trace_partial_collections_agree" "$tpartial" "$PARTIAL"
}

# ---- bdwgc's default pacing: partial collections, every FULL_FREQ-th full -------------
run plain plain "$T/incremental"
run profiled gcprof "$T/incremental"
for name in plain profiled; do
    expect_eq "${name}_no_start_callback_before_the_programs" "$(said "$name" previous)" 0
done
# Chained: the program's callback runs under gcprof, for about the same share of its
# collections as without (runs differ a little: compare ratios, not counts).
check programs_start_callback_still_runs test "$(said profiled starts)" -gt 0
ratio() { python3 -c 'import sys; print("%.3f" % (int(sys.argv[1]) / int(sys.argv[2])))' "$(said "$1" starts)" "$(said "$1" collections)"; }
rp=$(ratio plain); rg=$(ratio profiled)
echo "# full collections per collection the program's callback saw: plain $rp, under gcprof $rg"
check programs_start_callback_share_unchanged python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) / float(sys.argv[2]) - 1) <= 0.5 else 1)' "$rg" "$rp"
by_kind profiled
trace_kinds profiled

# ---- marking in slices: GC_gcollect finishes an open collection first ------------------
# That one is partial, and the GC_gcollect's own collection full, though its
# GC_EVENT_START came while the partial was open.
run sliced gcprof "$T/incremental" sliced
expect_ge sliced_gcollect_found_a_collection_open "$(said sliced nested)" 1
by_kind sliced
trace_kinds sliced

# ---- a start callback set before libgcprof's, by a library's constructor -------------
# libgcprof keeps it as the program's: the program finds it set (its getter) and chains
# it, so it runs at every full collection, as without gcprof.
if gcc -shared -fPIC -o "$T/libearly_start.so" "$HERE/early_start.c" -lgc 2>"$T/early.cc" &&
   gcc -O1 -g -o "$T/incremental-early" "$HERE/incremental.c" -Wl,--no-as-needed -L"$T" -learly_start \
       -Wl,-rpath,"$T" -lgc 2>>"$T/early.cc"; then
    run early_plain plain "$T/incremental-early"
    run early gcprof "$T/incremental-early"
    for name in early_plain early; do
        expect_eq "${name}_program_finds_the_constructors_start_callback" "$(said "$name" previous)" 1
        expect_eq "${name}_constructors_start_callback_runs_at_each_full_collection" \
            "$(said "$name" early_starts)" "$(said "$name" starts)"
    done
    by_kind early
else
    fail early_start_library_builds "$(head -3 "$T/early.cc")"
fi
