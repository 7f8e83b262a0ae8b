#!/bin/bash
# numparse_http: every number memdemo reads from a person or a client follows the grammar it
# documents (src/numparse.h), through the real server: query integers (gc, debug, rate,
# heap seconds) are plain decimal digits, so a space, a sign, 0x, '_' or an exponent
# gets 400; trace?seconds follows Go's ParseFloat rule, so "0x10" (no p exponent: not a
# float) falls back to 1 s instead of running 16 s; flags take Go integer literals
# (0x10 is 16) but no sign or space; symbol lookups read addresses as Go does.
source "$(dirname "$0")/../lib.sh"

# --- flags ------------------------------------------------------------------------------
for v in " 1" "+1" "1 " "1e3" "0x"; do
    "$MEMDEMO" -repetitions "$v" >/dev/null 2>"$T/err"; rc=$?
    if [ "$rc" = 2 ] && grep -q "invalid value \"$v\" for flag -repetitions" "$T/err"; then
        pass "flag_value_'$v'_exits_2"
    else fail "flag_value_'$v'_exits_2" "exit $rc: $(head -1 "$T/err")"; fi
done
"$MEMDEMO" -h >"$T/help" 2>&1
check help_says_integers_are_go_literals grep -q 'Integers are Go integer literals' "$T/help"

start_server -repetitions 0x10 -memprofilerate=0b1 -gogc 0o144 || exit 1
check hex_binary_octal_flags_are_go_literals grep -q 'repetitions=16 .*memprofilerate=1 .*gogc=100' "$SERVER_LOG"
http /leaker >/dev/null
expect_eq hex_repetitions_make_16_strings "$(vars_num strings)" 16

# --- symbol addresses: Go's ParseUint(word, 0, 64) ---------------------------------------
addr=$(curl -s "$BASE/debug/pprof/heap?debug=1&gc=1" | grep -m1 'handle_leaker+' | awk '{print $2}')
octal=0o$(printf '%o' "$addr")
curl -s -X POST --data "$octal+-1+ 0x+$addr" "$BASE/debug/pprof/symbol" >"$T/sym"
check symbol_reads_go_octal_literals grep -q "^$addr handle_leaker$" "$T/sym"
expect_eq symbol_skips_signed_and_empty_words "$(grep -vc '^num_symbols' "$T/sym")" 2

# --- query integers: decimal digits only --------------------------------------------------
bad_param() { # NAME PATH TEXT [curl args]
    local name=$1 path=$2 text=$3; shift 3
    curl -s -D "$T/h" -o "$T/b" "$@" "$BASE$path"
    local got; got=$(awk 'NR==1{print $2}' "$T/h")
    if [ "$got" = 400 ] && grep -q -- "$text" "$T/b"; then pass "$name"
    else fail "$name" "status $got, body $(head -c 200 "$T/b")"; fi
}
for enc in "%201:space" "%2B1:plus" "1%20:trailing_space" "0x1:hex" "1_0:underscore" "1e0:exponent" "%EF%BC%91:fullwidth_digit"; do
    v=${enc%%:*}; what=${enc#*:}
    bad_param "gc_with_${what}_is_400" "/debug/pprof/heap?gc=$v" 'invalid value for "gc": must be a decimal integer'
    bad_param "debug_with_${what}_is_400" "/debug/pprof/heap?debug=$v" 'invalid value for "debug": must be a decimal integer'
    bad_param "rate_with_${what}_is_400" "/debug/memprofilerate?rate=$v" 'invalid value for "rate": must be a decimal integer' -X POST
    bad_param "heap_seconds_with_${what}_is_400" "/debug/pprof/heap?seconds=$v" 'invalid value for "seconds": must be a positive integer'
done
bad_param rate_overflow_is_400 "/debug/memprofilerate?rate=18446744073709551617" 'must be a decimal integer from 0 to' -X POST
http "/debug/memprofilerate?rate=0016384" -X POST >/dev/null
expect_eq rate_with_leading_zeros_is_decimal "$(cat "$T/body")" "memprofilerate 16384 (was 1)"

# --- trace seconds: Go's ParseFloat rule --------------------------------------------------
trace_time() { # SECONDS-VALUE: prints curl's total time; the status goes to $T/tstatus
    curl -s -o "$T/t.out" -w '%{http_code} %{time_total}' --max-time 60 "$BASE/debug/pprof/trace?seconds=$1" >"$T/tstatus"
    awk '{print $2}' "$T/tstatus"
}
one=$(trace_time 1); hex=$(trace_time 0x10)
expect_eq trace_seconds_0x10_answers_200 "$(awk '{print $1}' "$T/tstatus")" 200
echo "# seconds=1 took ${one}s, seconds=0x10 took ${hex}s (Go: not a float, so 1 s)"
# a ratio, not a time: read as 16 s it would be about 16
check trace_seconds_0x10_falls_back_to_1s awk -v a="$hex" -v b="$one" 'BEGIN { exit !(a < 4 * b) }'
trace_time 0x1p-2 >/dev/null
expect_eq trace_seconds_hex_float_with_exponent_is_valid "$(awk '{print $1}' "$T/tstatus")" 200
trace_time %2B0.25 >/dev/null
expect_eq trace_seconds_signed_float_is_valid_as_in_go "$(awk '{print $1}' "$T/tstatus")" 200
bad_param trace_seconds_inf_is_over_the_limit "/debug/pprof/trace?seconds=inf" 'at most 600'

stop_server
