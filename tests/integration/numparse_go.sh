#!/bin/bash
# numparse_go: memdemo's number grammars (src/numparse.h) read every input exactly as Go's
# strconv does: trace?seconds as strconv.ParseFloat(s, 64) (the same double, bit for bit,
# or the same kind of error), flags and symbol addresses as strconv.ParseUint(s, 0, 64),
# query integers as ParseUint(s, 10, 64) within int64. The inputs: the edge cases below,
# the numparse fuzzer's seed corpus, and 30,000 generated ones (a fixed seed, so a
# mismatch reproduces); both sides are small programs in tests/tools/.
source "$(dirname "$0")/../lib.sh"
ECHO=$ROOT/$MEMDEMO_BUILD/tools/numparse_echo
GO=${GO:-go}
if ! command -v "$GO" >/dev/null; then skip numparse_matches_go "no go toolchain"; exit 0; fi
if [ ! -x "$ECHO" ]; then fail numparse_matches_go "$ECHO not built (make unit-tests)"; exit 0; fi

export GOCACHE=$T/gocache GOPATH=$T/gopath GOTOOLCHAIN=local GO111MODULE=off
if ! "$GO" build -o "$T/goecho" "$ROOT/tests/tools/numparse_echo.go" 2>"$T/gobuild.err"; then
    fail numparse_matches_go "could not build the Go side: $(head -3 "$T/gobuild.err")"; exit 0
fi

hexline() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; echo; }
{
    for s in 0 1 +5 -1 " 1" "1 " 0x10 0x1p4 0X1P-2 1_000 1_000.5 0_1 _1 1__0 1e1_0 0x_1p0 0x1_p0 \
             inf +inf -Infinity infin +nan NaN nan 1e400 1e-400 .5 5. . 0x.8p1 0x1.p1 0x 0x1 1e 0b1 \
             0o17 010 08 0B11 1e+5 0x1P-1074 0x1p-1075 0x1p1024 0x1.fffffffffffff8p1023 \
             1.7976931348623157e308 1.7976931348623158e308 1.7976931348623159e308 4.9e-324 2.4e-324 \
             2.5e-324 18446744073709551615 18446744073709551616 9223372036854775807 9223372036854775808 \
             0xffffffffffffffff 0x10000000000000000 0x_1f 0_ 0_7 "" 600 600.0000001 6e2 1e9; do
        hexline "$s"
    done
    # Go stops reading an exponent once it reaches 10000: 0.(20000 zeros)1e20010 is 1e9 and
    # so, to Go, is ...1e200100. (Not compared: over 800 digits BEFORE the point, where
    # Go's slow path misplaces the point, e.g. "1" + 1000 zeros + "e-1000" is 1e-201 to
    # Go 1.19 and 1.23; memdemo reads such input as its exact value. See numparse.h.)
    z=$(printf '%020000d' 0)
    hexline "0.${z}1e20010"; hexline "0.${z}1e200100"; hexline "0.${z}1e-400"
    for f in "$ROOT"/tests/fuzz/corpus/numparse/*; do
        [ -f "$f" ] && od -An -v -tx1 "$f" | tr -d ' \n' && echo
    done
    "$ECHO" gen 30000 13
} >"$T/inputs"
n=$(wc -l <"$T/inputs")

for mode in float uint decimal; do
    "$ECHO" "$mode" <"$T/inputs" >"$T/c.$mode" 2>"$T/c.err"
    "$T/goecho" "$mode" <"$T/inputs" >"$T/go.$mode" 2>"$T/go.err"
    diffs=$(paste -d'|' "$T/inputs" "$T/c.$mode" "$T/go.$mode" | awk -F'|' '$2 != $3' | head -5)
    c_lines=$(wc -l <"$T/c.$mode"); go_lines=$(wc -l <"$T/go.$mode")
    name=numparse_${mode}_matches_go_on_${n}_inputs
    if [ "$c_lines" != "$n" ] || [ "$go_lines" != "$n" ]; then
        fail "$name" "answered $c_lines (C) and $go_lines (Go) of $n lines: $(head -2 "$T/c.err" "$T/go.err")"
    elif [ -n "$diffs" ]; then
        fail "$name" "hex input | memdemo | Go: $(echo "$diffs" | cut -c1-300 | tr '\n' ';')"
    else
        pass "$name"
    fi
done
oks=$(grep -c '^ok' "$T/go.float"); echo "# $oks of $n inputs are valid floats to Go"
expect_ge numparse_inputs_include_valid_floats "$oks" 5000
