#!/bin/bash
# fuzz_corpus: the seed corpus of the libFuzzer harnesses of tests/fuzz/ (query values,
# flags, symbol request bodies, the router; the pprof and trace writers, whose output
# each harness reads back with the project's own reader), in every suite:
#  1. every seed input, reproducers of fixed bugs included, goes through the harness built
#     with this suite's compiler and sanitizer ($MEMDEMO_BUILD/fuzz/replay_NAME);
#  2. the Go tools read everything the writers made of the corpus: go tool pprof -raw
#     every profile and legacy text, go tool trace (Go 1.19 -d; Go 1.23 -d=1 when
#     installed) every trace (about 30 s: each run takes tens of ms; FUZZ_GO_CHECKS=N
#     checks only the N largest of each kind).
# The bounded fuzzing runs themselves are fuzz_bounded.sh (CI only); `make fuzz` runs
# longer.
source "$(dirname "$0")/../lib.sh"
GO123=/usr/lib/go-1.23/bin/go
FEW=${FUZZ_GO_CHECKS:-0}
targets=()
for f in "$ROOT"/tests/fuzz/fuzz_*.c; do t=${f##*/fuzz_}; targets+=("${t%.c}"); done

mkdir -p "$T/out"
for t in "${targets[@]}"; do
    bin=$ROOT/$MEMDEMO_BUILD/fuzz/replay_$t corpus=$ROOT/tests/fuzz/corpus/$t
    if [ ! -x "$bin" ]; then fail "fuzz_${t}_corpus_replays" "$bin not built"; continue; fi
    n=$(find "$corpus" -type f | wc -l)
    if FUZZ_OUTPUT_DIR=$T/out "$bin" "$corpus" >"$T/replay.log" 2>&1; then
        expect_ge "fuzz_${t}_corpus_replays" "$n" 1
        echo "# $t: $n seed inputs replayed"
    else
        fail "fuzz_${t}_corpus_replays" "$(grep -m1 -E 'property|ERROR|runtime error' "$T/replay.log" || tail -1 "$T/replay.log")"
    fi
done

# The Go tools, on every output (or the FEW largest) of each kind.
largest() {
    if [ "$FEW" -gt 0 ]; then ls -S "$T/out" 2>/dev/null | grep "^$1-" | head -n "$FEW"
    else ls "$T/out" 2>/dev/null | grep "^$1-"; fi
}
gocheck() { # NAME KIND COMMAND...: runs COMMAND FILE on the outputs of KIND
    local name=$1 kind=$2; shift 2
    local files n=0 bad=""
    files=$(largest "$kind")
    if [ -z "$files" ]; then fail "$name" "no $kind outputs were saved"; return; fi
    for f in $files; do
        if "$@" "$T/out/$f" >"$T/go.log" 2>&1; then n=$((n + 1)); else bad="$f: $(grep -m1 -iE 'error|fail|panic|invalid' "$T/go.log")"; fi
    done
    if [ -z "$bad" ]; then pass "$name"; echo "# $name: $n files"; else fail "$name" "$bad"; fi
}
# The tools are the binaries `go tool NAME` runs, called directly: the same programs,
# without the go command's own start-up (about 0.1 s each, a thousand times).
export HOME=$T GOCACHE=$T/gocache PPROF_TMPDIR=$T GOTOOLCHAIN=local
if ! command -v go >/dev/null; then
    skip fuzz_outputs_read_by_go_tools "no go toolchain"
else
    tools=$(go env GOTOOLDIR)
    gocheck fuzz_pprof_outputs_read_by_go_tool_pprof pprof "$tools/pprof" -raw
    gocheck fuzz_legacy_text_outputs_read_by_go_tool_pprof text "$tools/pprof" -raw
    # go tool trace listens even with -d: on 127.0.0.1, since its default, localhost,
    # need not resolve (a minimal Debian has no /etc/hosts)
    gocheck fuzz_trace_outputs_parse_in_go_1_19 trace "$tools/trace" -http=127.0.0.1:0 -d
    if [ -x "$GO123" ]; then gocheck fuzz_trace_outputs_parse_in_go_1_23 trace "$("$GO123" env GOTOOLDIR)/trace" -http=127.0.0.1:0 -d=1
    else skip fuzz_trace_outputs_parse_in_go_1_23 "$GO123 not installed (Debian's golang-1.23-go, bookworm-backports)"; fi
fi
