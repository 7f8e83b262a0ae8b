#!/bin/bash
# fuzz: the libFuzzer harnesses of tests/fuzz/ (query values, flags, symbol request
# bodies, the router; the pprof and trace writers, whose output each harness reads back
# with the project's own reader) inside make test:
#  1. every seed input, reproducers of fixed bugs included, goes through the harness built
#     with this suite's compiler and sanitizer ($MEMDEMO_BUILD/fuzz/replay_NAME);
#  2. in the plain suite each target fuzzes for FUZZ_TEST_SECONDS (default 20) with
#     clang's libFuzzer, ASan and UBSan (tests/fuzz/run), and says how many inputs it ran.
#     SKIP without clang, and in a sanitizer suite, whose build is not libFuzzer's;
#  3. the Go tools read everything the writers made of the corpus: go tool pprof -raw
#     every profile and legacy text, go tool trace (Go 1.19 -d; Go 1.23 -d=1 when
#     installed) every trace (about 30 s: each run takes tens of ms; FUZZ_GO_CHECKS=N
#     checks only the N largest of each kind).
# New inputs from the bounded runs go to a temporary directory; `make fuzz` runs longer.
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

if [ -n "$MEMDEMO_SANITIZER" ]; then
    skip fuzz_bounded_runs "the $MEMDEMO_SANITIZER suite replays the corpus above; the plain suite fuzzes (its fuzzers carry ASan and UBSan)"
elif ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
    skip fuzz_bounded_runs "no clang (Debian's clang and libclang-rt-14-dev, listed in .ci/deps)"
else
    "$ROOT/tests/fuzz/run" -t "${FUZZ_TEST_SECONDS:-20}" -w "$T/work" "${targets[@]}"
fi

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
export HOME=$T GOCACHE=$T/gocache PPROF_TMPDIR=$T GOTOOLCHAIN=local
if ! command -v go >/dev/null; then
    skip fuzz_outputs_read_by_go_tools "no go toolchain"
else
    gocheck fuzz_pprof_outputs_read_by_go_tool_pprof pprof go tool pprof -raw
    gocheck fuzz_legacy_text_outputs_read_by_go_tool_pprof text go tool pprof -raw
    # go tool trace listens even with -d: on 127.0.0.1, since its default, localhost,
    # need not resolve (a minimal Debian has no /etc/hosts)
    gocheck fuzz_trace_outputs_parse_in_go_1_19 trace go tool trace -http=127.0.0.1:0 -d
    if [ -x "$GO123" ]; then gocheck fuzz_trace_outputs_parse_in_go_1_23 trace "$GO123" tool trace -http=127.0.0.1:0 -d=1
    else skip fuzz_trace_outputs_parse_in_go_1_23 "$GO123 not installed (Debian's golang-1.23-go, bookworm-backports)"; fi
fi
