#!/bin/bash
# fuzz_bounded: each libFuzzer harness of tests/fuzz/ fuzzes for FUZZ_TEST_SECONDS
# (default 20) with clang's libFuzzer, ASan and UBSan (tests/fuzz/run, which prints a
# PASS line per target with how many inputs it ran, or the crash and how to replay it).
# About two minutes, so it runs in CI (.ci/run sets MEMDEMO_SLOW=1) and not in a plain
# `make test`. SKIP without clang, and in a sanitizer suite, whose build is not
# libFuzzer's (fuzz_corpus.sh replays the seeds there). New inputs go to a temporary
# directory; `make fuzz` runs longer and keeps them.
source "$(dirname "$0")/../lib.sh"
slow_file fuzz_bounded_runs "fuzzing every target for ${FUZZ_TEST_SECONDS:-20} s"
targets=()
for f in "$ROOT"/tests/fuzz/fuzz_*.c; do t=${f##*/fuzz_}; targets+=("${t%.c}"); done

if [ -n "$MEMDEMO_SANITIZER" ]; then
    skip fuzz_bounded_runs "the $MEMDEMO_SANITIZER suite replays the corpus (fuzz_corpus.sh); the plain suite fuzzes (its fuzzers carry ASan and UBSan)"
elif ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
    skip fuzz_bounded_runs "no clang (Debian's clang and libclang-rt-14-dev, listed in .ci/deps)"
else
    "$ROOT/tests/fuzz/run" -t "${FUZZ_TEST_SECONDS:-20}" -w "$T/work" "${targets[@]}"
fi
