#!/bin/bash
# server_limits: the HTTP server's connection limits: the limit flags (-h and README
# agree on their defaults, bad durations are refused), 503 with Retry-After at the
# per-address and total limits (never a wait), memory given back after a storm of 4000
# connections, and a second stop signal ending the grace period. Raw requests go
# through tests/rawhttp.py (one key=value line per exchange). Loopback only: storms
# come from other 127/8 addresses so that the per-address limit can tell them apart.
# Framing and deadlines are server_deadlines.sh.
source "$(dirname "$0")/../lib.sh"
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# --- flags -----------------------------------------------------------------------------
"$MEMDEMO" -h >"$T/help" 2>&1
for f in max-conns max-conns-per-ip read-header-timeout read-timeout write-timeout idle-timeout; do
    # README's flag table states the same default as -h (both come from src/conns.h)
    want=$(awk -v f="-$f" '$1 == f {on = 1; next} /^  -/ {on = 0}
        on && match($0, /\(default [^)]*\)$/) {print substr($0, RSTART + 9, RLENGTH - 10)}' "$T/help")
    got=$(grep -o "^| \`-$f [A-Z]*\` | [^|]* |" "$ROOT/README.md" | awk -F'|' '{gsub(/ /, "", $3); print $3}')
    if [ -n "$want" ] && [ "$want" = "$got" ]; then pass "readme_and_help_agree_on_-$f"
    else fail "readme_and_help_agree_on_-$f" "help says '$want', README '$got'"; fi
done
for bad in 10 ' 1s' -1s 1x 25h; do
    "$MEMDEMO" -read-timeout "$bad" >/dev/null 2>"$T/err"; rc=$?
    if [ "$rc" = 2 ] && grep -q 'invalid value' "$T/err"; then pass "duration_'$bad'_is_refused"
    else fail "duration_'$bad'_is_refused" "exit $rc: $(head -1 "$T/err")"; fi
done

# --- connection limits: 503 with Retry-After, never a wait -------------------------------
start_server -repetitions 10 -max-conns 40 -max-conns-per-ip 10 -read-header-timeout 30s || exit 1
# The storms hold their connections until released (60 s at most), however long a
# loaded machine takes to start the others and run the checks.
$RAW storm "$PORT" --count 30 --src 127.0.0.2 --hold 60 --ready "$T/storm1" --release "$T/release1" >/dev/null &
S1=$!
for i in $(seq 1 300); do [ -s "$T/storm1" ] && break; sleep 0.1; done
line=$(cat "$T/storm1" 2>/dev/null)
expect_facts per_address_limit_admits_exactly_its_limit "$line" open=10
expect_facts per_address_limit_refuses_the_rest_with_503 "$line" refused=20 retry_after=20 reset=0
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/noleaker")
expect_eq normal_client_served_during_address_storm "$code" 200
touch "$T/release1"; wait "$S1"
pids=()
for src in 3 4 5 6; do
    rm -f "$T/storm$src"
    $RAW storm "$PORT" --count 10 --src "127.0.0.$src" --hold 60 --ready "$T/storm$src" --release "$T/release" >/dev/null &
    pids+=($!)
done
for i in $(seq 1 300); do
    n=0; for src in 3 4 5 6; do [ -s "$T/storm$src" ] && n=$((n + 1)); done
    [ "$n" = 4 ] && break; sleep 0.1
done
line=$($RAW storm "$PORT" --count 10 --src 127.0.0.7)
expect_facts total_limit_refuses_with_503 "$line" open=0 refused=10 retry_after=10
curl -s -D "$T/busy.h" -o "$T/busy" --max-time 10 "$BASE/noleaker"
check total_limit_answers_503_at_once grep -q '^HTTP/1.1 503' "$T/busy.h"
check total_limit_503_has_retry_after grep -qi '^Retry-After: 1' "$T/busy.h"
check total_limit_503_says_why grep -q 'connection limit' "$T/busy"
touch "$T/release"; wait "${pids[@]}"
for i in $(seq 1 50); do [ "$(conn_num open)" = 1 ] && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/noleaker")
expect_eq normal_client_served_after_storm "$code" 200
refusals=$(( $(conn_num refused_total) + $(conn_num refused_addr) ))
expect_ge vars_count_refusals "$refusals" 30
stop_server

# --- memory for connections is given back -------------------------------------------------
start_server -repetitions 10 -max-conns 5000 -max-conns-per-ip 0 -read-header-timeout 30s || exit 1
requests 200 /noleaker >/dev/null
base_kb=$(rss_kb "$SERVER_PID")
$RAW storm "$PORT" --count 4000 --src 127.0.0.8 --head 2000 --hold 1 --ready "$T/big" >/dev/null &
BIG=$!
for i in $(seq 1 300); do [ -s "$T/big" ] && break; sleep 0.1; done
peak_kb=$(rss_kb "$SERVER_PID")
wait "$BIG"
expect_facts storm_connections_all_admitted "$(cat "$T/big")" open=4000
for i in $(seq 1 100); do [ "$(conn_num open)" = 1 ] && break; sleep 0.1; done
for i in $(seq 1 40); do
    after_kb=$(rss_kb "$SERVER_PID"); [ "$after_kb" -le $((2 * base_kb)) ] && break; sleep 0.25
done
echo "# RSS: ${base_kb} kB before, ${peak_kb} kB with 4000 connections open, ${after_kb} kB once they had closed"
expect_le rss_returns_within_2x_baseline_after_storm "$after_kb" $((2 * base_kb))
stop_server

# --- a second stop signal ends the grace period ------------------------------------------
start_server -repetitions 10 || exit 1
$RAW exchange "$PORT" 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n' --wait 20 >/dev/null &
STALL=$!
for i in $(seq 1 50); do [ "$(conn_num open)" -ge 2 ] 2>/dev/null && break; sleep 0.1; done
kill -TERM "$SERVER_PID"
for i in $(seq 1 50); do grep -q 'stopping' "$SERVER_LOG" && break; sleep 0.1; done
kill -TERM "$SERVER_PID" 2>/dev/null
for i in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SERVER_PID" 2>/dev/null; rc=$?
if [ "$rc" != 0 ] && [ "$rc" -lt 128 ]; then pass second_sigterm_exits_at_once_nonzero
else fail second_sigterm_exits_at_once_nonzero "exit status $rc"; fi
check second_sigterm_says_so grep -q 'second SIGTERM: exiting now' "$SERVER_LOG"
kill "$STALL" 2>/dev/null; wait "$STALL" 2>/dev/null || true   # (killed: status 143)
