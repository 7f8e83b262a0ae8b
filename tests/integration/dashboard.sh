#!/bin/bash
# Integration tests for the /debug/gc dashboard: its feed (long poll, one sample a
# second, nothing sampled while nobody polls, 400 for parameters out of range), its
# embedded files, and a real browser: Debian's headless Chromium opens the page during
# load and, a few seconds later, every chart has drawn more than one point, the heap
# figure has changed, and nothing went to the console. The page reports what it drew
# in data- attributes, which --dump-dom shows. Load goes to 127.0.0.1 only, bounded in
# time; the server, wrk and Chromium are stopped by PID.
source "$(dirname "$0")/../lib.sh"

feed() { http "/debug/gc/feed$1"; }
newest() { grep -o '"newest":[0-9]*' | grep -o '[0-9]*$'; }

start_server -repetitions 100 || exit 1

# --- the feed -----------------------------------------------------------------------
first=$(feed "" | newest)
expect_eq feed_without_since_answers_200 "$(status)" 200
check feed_is_json_with_samples grep -q '"samples":\[{"seq":' "$T/body"
for bad in '?since=-1' '?since=abc' '?since=' '?since=1e3' '?since=+1' '?since=99999999999999999999999' \
           "?since=$((first + 1))" '?since=%20' ; do
    code=$(curl -s -o "$T/bad" -w '%{http_code}' --max-time 10 "$BASE/debug/gc/feed$bad")
    if [ "$code" != 400 ] || [ "$(wc -l <"$T/bad")" != 1 ]; then
        fail feed_parameters_out_of_range_get_400 "since '$bad' answered $code: $(head -c 100 "$T/bad")"
        bad_seen=1
    fi
done
[ -z "${bad_seen:-}" ] && pass feed_parameters_out_of_range_get_400
check feed_400_says_why grep -q 'beyond the newest sample' <(curl -s "$BASE/debug/gc/feed?since=$((first + 1))")

# A poll for the newest sample waits for the next one: three polls, three new samples.
n=$first
for i in 1 2 3; do
    got=$(feed "?since=$n" | newest)
    [ "$got" = $((n + 1)) ] || { fail long_poll_gives_exactly_the_next_sample "since=$n gave newest=$got"; n=-1; break; }
    n=$got
done
[ "$n" -gt 0 ] && pass long_poll_gives_exactly_the_next_sample
check later_samples_carry_rates grep -q '"alloc_rate":[0-9]' "$T/body"

# Nobody polling: nothing is sampled (no background thread does it).
before=$(feed "?since=0" | newest)
sleep 2.5
expect_eq nothing_sampled_while_nobody_polls "$(feed "?since=0" | newest)" "$before"

# --- the page and its files -------------------------------------------------------------
http /debug/gc >"$T/page"
expect_eq page_answers_200 "$(status)" 200
for f in /debug/gc/uPlot.iife.min.js /debug/gc/uPlot.min.css /debug/gc/dashboard.js; do
    check "page_loads_${f##*/}" grep -q "\"$f\"" "$T/page"
done
curl -s "$BASE/debug/gc/uPlot.iife.min.js" -o "$T/uplot.js"
check embedded_uplot_is_the_vendored_file cmp -s "$T/uplot.js" "$ROOT/src/dashboard/vendor/uplot/uPlot.iife.min.js"
curl -s "$BASE/debug/gc/uPlot.LICENSE" -o "$T/license"
check uplot_licence_is_served grep -q 'MIT License' "$T/license"
http / >"$T/index"
check index_links_the_dashboard grep -q 'href="/debug/gc"' "$T/index"
check index_links_metrics grep -q 'href="/metrics"' "$T/index"
stop_server

# --- a real browser -----------------------------------------------------------------------
CHROMIUM=$(command -v chromium || true)
if [ -z "$CHROMIUM" ]; then
    echo "SKIP dashboard_in_chromium: chromium not installed (listed in .ci/deps)"
    exit 0
fi
start_server -repetitions 100 || exit 1
cat >"$T/mix.lua" <<'LUA'
-- one /leaker request in eight: the heap grows while /noleaker makes collections
local paths = {"/leaker", "/noleaker", "/noleaker", "/noleaker", "/noleaker", "/noleaker", "/noleaker", "/noleaker"}
init = function(args) i = 0 end
request = function() i = i % #paths + 1; return wrk.format("GET", paths[i]) end
LUA
wrk -t1 -c2 -d30s --timeout 10s -s "$T/mix.lua" "$BASE" >/dev/null 2>&1 &
LOAD_PID=$!
SERVER_PIDS+=("$LOAD_PID")
sleep 1
# Virtual time runs only while no request is pending: each long poll (about 1 s of real
# time) costs the page's 250 ms pause, so 2500 ms of budget is about ten samples.
timeout -k 5 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$T/chromium" \
    --window-size=1366,768 --virtual-time-budget=2500 --enable-logging=stderr --v=0 \
    --dump-dom "$BASE/debug/gc" >"$T/dom.html" 2>"$T/chromium.log"
rc=$?
kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null
expect_eq chromium_ran "$rc" 0
drawn=""
for chart in heap alloc pauses gc gauge requests rss; do
    pts=$(grep -o "id=\"$chart\" data-points=\"[0-9]*\"" "$T/dom.html" | grep -o '[0-9]*"$' | tr -d '"')
    expect_ge "chart_${chart}_drew_more_than_one_point" "${pts:-0}" 2
    drawn="$drawn $chart=${pts:-0}"
done
echo "# points drawn:$drawn"
changes=$(grep -o 'data-heap-changes="[0-9]*"' "$T/dom.html" | grep -o '[0-9]*')
expect_ge heap_figure_changed_during_load "${changes:-0}" 1
expect_eq page_counted_no_errors "$(grep -o 'data-errors="[0-9]*"' "$T/dom.html" | grep -o '[0-9]*')" 0
check_absent no_console_messages 'CONSOLE' "$T/chromium.log"
check page_shows_live_status grep -q 'id="status" class="">live: ' "$T/dom.html"
stop_server
expect_eq server_exits_cleanly_after_the_page "$STOP_STATUS" 0
