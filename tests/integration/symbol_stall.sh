#!/bin/bash
# symbol_stall: a /debug/pprof/symbol body cannot hold a worker long enough to stall
# the other connections it serves. A handler runs on a shared worker thread; the lookup
# used to scan a module's symbol table per address (about 30 us each), so one 1 MiB
# body of addresses held its worker for seconds and two such bodies left /noleaker
# without an answer for 10 s. Now a body may name at most a fixed number of addresses
# (more: 400 with the limit in its one line), and each costs a binary search.
#
# The proof is a ratio, not a time: /noleaker's mean latency while two clients post
# hostile bodies back to back, against its median on the quiet server, must stay within
# a generous factor (the bug made it thousands). The hostile bodies are 1 MiB each: one
# of 69,000 addresses (refused by count) and one of the most addresses a body may name,
# every one a distinct address in memdemo's text, padded with separators to 1 MiB.
source "$(dirname "$0")/../lib.sh"
start_server -repetitions 100 || exit 1

# memdemo's text mapping (the first executable mapping of its own file).
exe=$(readlink "/proc/$SERVER_PID/exe")
read -r lo hi < <(awk -v exe="$exe" '$2 ~ /x/ && $6 == exe { split($1, a, "-"); print a[1], a[2]; exit }' \
    "/proc/$SERVER_PID/maps")
check text_mapping_found test -n "${hi:-}"

# addrs N STEP: N addresses in the text, STEP bytes apart (wrapping around), '+'-joined.
addrs() { python3 -c "
import sys
lo, hi, n, step = int('$lo', 16), int('$hi', 16), $1, $2
sys.stdout.write('+'.join('%#x' % (lo + (i * step) % (hi - lo)) for i in range(n)))"; }

addrs 69000 7 >"$T/huge"
check huge_body_is_about_1MiB test "$(wc -c <"$T/huge")" -gt 1000000
code=$(curl -s -o "$T/huge.out" -w '%{http_code}' --max-time 60 -X POST --data-binary @"$T/huge" "$BASE/debug/pprof/symbol")
expect_eq too_many_addresses_is_400 "$code" 400
check too_many_addresses_says_the_limit grep -q '^too many addresses: at most [0-9]* per request$' "$T/huge.out"
limit=$(sed -n 's/.*at most \([0-9]*\) per request/\1/p' "$T/huge.out")
limit=${limit:-10000}

# The most a body may name, each address distinct, padded to 1 MiB with spaces.
addrs "$limit" 13 >"$T/max"
python3 -c "import sys; sys.stdout.write(' ' * (1048576 - $(wc -c <"$T/max")))" >>"$T/max"
code=$(curl -s -o "$T/max.out" -w '%{http_code}' --max-time 60 -X POST --data-binary @"$T/max" "$BASE/debug/pprof/symbol")
expect_eq limit_addresses_are_answered "$code" 200
expect_ge limit_addresses_are_named "$(grep -c '^0x' "$T/max.out")" $((limit / 2))
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "0x1+0x2" "$BASE/debug/pprof/symbol")
expect_eq short_body_still_answered "$code" 200

# latency N: N sequential /noleaker requests, each on a new connection (so they land on
# every worker); prints the median and the mean latency in ms and how many were answered.
# The mean is what a stall shows in (one stuck request among many); the median of the
# quiet run is the unit.
latency() { python3 - "$PORT" "$1" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
lat, ok = [], 0
for _ in range(n):
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /noleaker HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        ok += data.startswith(b"HTTP/1.1 200")
    except OSError:
        pass
    lat.append(time.monotonic() - t0)
print("%.3f %.3f %d" % (1000 * sorted(lat)[len(lat) // 2], 1000 * sum(lat) / len(lat), ok))
PY
}

latency 10 >/dev/null   # warm up
read -r quiet_median quiet_mean quiet_ok < <(latency 60)

# Two hostile clients, each posting the two bodies back to back (bounded: 200 posts or
# until told to stop).
hostile() {
    local i
    for i in $(seq 1 100); do
        [ -e "$T/stop" ] && break
        curl -s -o /dev/null --max-time 30 -X POST --data-binary @"$T/huge" "$BASE/debug/pprof/symbol"
        curl -s -o /dev/null --max-time 30 -X POST --data-binary @"$T/max" "$BASE/debug/pprof/symbol"
    done
}
hostile & h1=$!
hostile & h2=$!
sleep 0.5
read -r busy_median busy_mean busy_ok < <(latency 60)
touch "$T/stop"
wait "$h1" "$h2"

echo "# /noleaker quiet: median ${quiet_median} ms, mean ${quiet_mean} ms; beside two hostile symbol clients: median ${busy_median} ms, mean ${busy_mean} ms (limit $limit addresses)"
expect_eq quiet_noleaker_all_answered "$quiet_ok" 60
expect_eq noleaker_all_answered_beside_hostile_bodies "$busy_ok" 60
ratio=$(awk -v a="$busy_mean" -v b="$quiet_median" 'BEGIN { printf "%d", (b > 0 ? a / b : 1e9) }')
echo "# mean beside hostile bodies / quiet median = ${ratio}x (at most 100x; the scan made it thousands)"
expect_le hostile_bodies_stall_noleaker_at_most_100x "$ratio" 100
http /noleaker >/dev/null; expect_eq server_alive_after "$(status)" 200
stop_server
