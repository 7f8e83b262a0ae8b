#!/bin/bash
# gc_cpu_profiles: bench/gc-cpu-profiles works end to end on a small leaked heap in
# stop-the-world mode (about 15 s): it exits 0, cuts the recording into collections the
# server reported (dozens at 4 MiB live), and its tables name bdwgc's mark among the
# collector's functions and the pacer as what started the collections. Skipped where
# perf is missing or may not record (perf_event_paranoid, containers).
source "$(dirname "$0")/../lib.sh"
name=gc_cpu_profiles_script_profiles_collections
if ! command -v perf >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
    skip "$name" "needs perf and python3"; exit 0
fi
if ! perf record -q -o "$T/probe.data" -- true >/dev/null 2>&1; then
    skip "$name" "perf may not record here"; exit 0
fi

MEMDEMO=$MEMDEMO GCPROF_MODE=stw GCPROF_MB=4 GCPROF_MAX_SECONDS=5 GCPROF_FREQ=1000 \
    timeout -k 10 180 "$ROOT/bench/gc-cpu-profiles" >"$T/out.md" 2>"$T/err"
rc=$?
seen=$(sed -n 's/^## full collections: \([0-9]*\) seen.*/\1/p' "$T/out.md")
reason=""
if [ "$rc" != 0 ]; then
    reason="it exited $rc: $(tail -n 3 "$T/err" | tr '\n' ' ')"
elif [ -z "$seen" ] || [ "$seen" -lt 10 ]; then
    reason="want at least 10 full collections inside the recording, got '${seen}'"
elif ! grep -Eq '^\|.*`GC_mark_(from|some)`' "$T/out.md"; then
    reason="no bdwgc mark function in its tables"
elif ! grep -q 'entered from collect_for_pacer' "$T/out.md"; then
    reason="the collections were not entered from the pacer"
fi
if [ -z "$reason" ]; then pass "$name"; else fail "$name" "$reason"; cat "$T/out.md" "$T/err" >&2; fi
