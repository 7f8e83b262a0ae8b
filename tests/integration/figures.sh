#!/bin/bash
# figures: the collection figures agree with each other wherever they are shown.
#   - NumGC counts the collections whose pauses are recorded: a fresh server says
#     NumGC 0, NumPause 0 (as Go) and go_gc_duration_seconds_count 0; bdwgc's own
#     collection inside GC_INIT, which has no pause, is not counted.
#   - beside each pause, the time that collection kept allocation blocked (bdwgc's
#     allocation lock, from GCEV_START to GCEV_END): /debug/vars AllocBlockedNs (a ring
#     as PauseNs) and AllocBlockedTotalNs, /metrics
#     memdemo_gc_allocation_blocked_seconds (a summary as go_gc_duration_seconds), and
#     the dashboard feed's pauses ([end, pause, blocked]). Each is at least its pause.
source "$(dirname "$0")/../lib.sh"
start_server -repetitions 1000 || exit 1

http /debug/vars >"$T/fresh"
expect_eq fresh_server_numgc_is_0 "$(json_num NumGC "$T/fresh")" 0
expect_eq fresh_server_numpause_is_0 "$(json_num NumPause "$T/fresh")" 0
http /metrics >"$T/fresh.metrics"
expect_eq fresh_server_gc_duration_count_is_0 "$(awk '$1 == "go_gc_duration_seconds_count" { print $2 }' "$T/fresh.metrics")" 0

http "/debug/vars?gc=1" >"$T/one"
expect_eq one_forced_collection_numgc_1 "$(json_num NumGC "$T/one")" 1
expect_eq one_forced_collection_numpause_1 "$(json_num NumPause "$T/one")" 1

http "/debug/gc/feed?since=0" >/dev/null   # the dashboard's first sample: pauses count from here
# Paced collections: 1500 /noleaker requests of 1000 strings (about 18 MB of garbage:
# 3890 B of carved strings and an 8 KiB chunk each).
python3 - "$PORT" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
for _ in range(1500):
    c.request("GET", "/noleaker")
    c.getresponse().read()
PY
http /debug/vars >"$T/vars"
http /metrics >"$T/metrics"
n=$(json_num NumGC "$T/vars")
expect_ge paced_collections_happened "$n" 3
expect_eq numgc_equals_numpause "$n" "$(json_num NumPause "$T/vars")"
pauses=$(grep -o '"PauseNs": \[[0-9,]*\]' "$T/vars" | grep -o '[0-9,]*\]' | tr -d ']')
blocked=$(grep -o '"AllocBlockedNs": \[[0-9,]*\]' "$T/vars" | grep -o '[0-9,]*\]' | tr -d ']')
python3 - "$pauses" "$blocked" "$n" >"$T/rings" <<'PY'
import sys
p = [int(x) for x in sys.argv[1].split(",")]
b = [int(x) for x in sys.argv[2].split(",")]
n = int(sys.argv[3])
filled = [k for k in range(256) if p[k] or b[k]]
print("filled", len(filled))
print("covered", sum(1 for k in filled if b[k] >= p[k] > 0))
print("total_pause", sum(p), "total_blocked", sum(b))
PY
cat "$T/rings" | sed 's/^/# /'
expect_eq ring_entries_one_per_collection "$(awk '$1 == "filled" { print $2 }' "$T/rings")" "$n"
expect_eq every_blocked_time_covers_its_pause "$(awk '$1 == "covered" { print $2 }' "$T/rings")" "$n"
tp=$(json_num PauseTotalNs "$T/vars"); tb=$(json_num AllocBlockedTotalNs "$T/vars")
echo "# $n collections: paused ${tp} ns, allocation blocked ${tb} ns"
expect_ge blocked_total_covers_the_pauses "$tb" "$tp"

msum() { awk -v m="$1" '$1 == m { print $2 }' "$T/metrics"; }
expect_eq metrics_blocked_count_is_numgc "$(msum memdemo_gc_allocation_blocked_seconds_count)" "$(msum go_gc_duration_seconds_count)"
check metrics_blocked_sum_covers_the_pause_sum awk -v b="$(msum memdemo_gc_allocation_blocked_seconds_sum)" \
    -v p="$(msum go_gc_duration_seconds_sum)" 'BEGIN { exit !(b != "" && p != "" && b + 0 >= p + 0 && p + 0 > 0) }'
check metrics_blocked_has_quantiles grep -q '^memdemo_gc_allocation_blocked_seconds{quantile="0.5"} ' "$T/metrics"
if command -v promtool >/dev/null; then
    if promtool check metrics <"$T/metrics" >"$T/lint" 2>&1; then pass metrics_pass_promtool
    else fail metrics_pass_promtool "$(head -3 "$T/lint")"; fi
else
    skip metrics_pass_promtool "promtool not installed"
fi

http "/debug/gc/feed?since=1" >"$T/feed"   # waits for the next sample: after the collections
python3 - "$T/feed" >"$T/feedcheck" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
ps = f["pauses"]
print("pauses", len(ps))
# [when, pause, blocked, 1 if partial else 0]
print("entries", sum(1 for p in ps if len(p) == 4 and p[2] >= p[1] > 0 and p[3] in (0, 1)))
print("fraction", sum(1 for s in f["samples"] if "blocked_fraction" in s))
PY
sed 's/^/# feed /' "$T/feedcheck"
np=$(awk '$1 == "pauses" { print $2 }' "$T/feedcheck")
expect_ge feed_has_pauses "${np:-0}" 1
expect_eq feed_pauses_carry_blocked_times_covering_them "$(awk '$1 == "entries" { print $2 }' "$T/feedcheck")" "$np"
expect_ge feed_samples_carry_the_blocked_fraction "$(awk '$1 == "fraction" { print $2 }' "$T/feedcheck")" 1
stop_server
