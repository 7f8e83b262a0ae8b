#!/bin/bash
# Integration tests for /metrics: both exposition formats pass Prometheus's own parsers
# (promtool check metrics for the text format; promtool's OpenMetrics parser through
# `tsdb create-blocks-from openmetrics`), Accept negotiation and odd headers, counts
# that match the requests sent, scrapes that force no collection, and a real
# Prometheus (Debian's) scraping the memdemo this test started, queried through its
# HTTP API. Everything listens on 127.0.0.1; both servers are stopped by PID.
source "$(dirname "$0")/../lib.sh"

PROM_ACCEPT='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
TEXT_TYPE='text/plain; version=0.0.4; charset=utf-8'
OM_TYPE='application/openmetrics-text; version=1.0.0; charset=utf-8'

# scrape NAME [curl args]: /metrics into $T/NAME, headers into $T/NAME.h.
scrape() {
    local name=$1; shift
    curl -s --max-time 10 -D "$T/$name.h" -o "$T/$name" "$@" "$BASE/metrics"
}
content_type() { tr -d '\r' <"$1" | sed -n 's/^[Cc]ontent-[Tt]ype: //p' | head -1; }
# metric FILE NAME{LABELS}: the value of that exact sample line.
metric() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

if ! command -v promtool >/dev/null; then
    echo "SKIP metrics: promtool not installed (Debian package prometheus, listed in .ci/deps)"
    exit 0
fi

start_server -repetitions 100 || exit 1
requests 30 /noleaker >/dev/null
requests 7 /leaker >/dev/null
http /no-such-path >/dev/null

# --- the text format ---------------------------------------------------------------
scrape text
expect_eq text_format_content_type "$(content_type "$T/text.h")" "$TEXT_TYPE"
if promtool check metrics <"$T/text" >"$T/lint" 2>&1; then pass text_format_passes_promtool_check_metrics
else fail text_format_passes_promtool_check_metrics "$(head -3 "$T/lint")"; fi
check_absent text_format_has_no_eof_marker '^# EOF' "$T/text"
# every sample belongs to a family announced by HELP and TYPE before it
awk '/^# HELP /{help[$3]=1; next} /^# TYPE /{type[$3]=$4; next} /^#/{next}
     { n=$1; sub(/\{.*/, "", n); f=n
       if (!(f in type)) { sub(/_(bucket|sum|count)$/, "", f) }
       if (!(f in type) || !(f in help)) { print "no HELP/TYPE for " n; bad=1 } }
     END { exit bad }' "$T/text" >"$T/orphans"
check every_sample_has_help_and_type test ! -s "$T/orphans"

expect_eq requests_counted_by_route_and_code \
    "$(metric "$T/text" 'memdemo_http_requests_total{route="/noleaker",code="200"}')/$(metric "$T/text" 'memdemo_http_requests_total{route="/leaker",code="200"}')" "30/7"
expect_eq unmatched_paths_counted_as_one_route "$(metric "$T/text" 'memdemo_http_requests_total{route="unmatched",code="404"}')" 1
expect_eq histogram_count_is_the_routes_requests \
    "$(metric "$T/text" 'memdemo_http_request_duration_seconds_count{route="/noleaker"}')/$(metric "$T/text" 'memdemo_http_request_duration_seconds_bucket{route="/noleaker",le="+Inf"}')" "30/30"
expect_eq leaker_strings_match_requests_x_repetitions "$(metric "$T/text" memdemo_leaker_strings)" 700
for name in go_gc_duration_seconds_count go_memstats_heap_inuse_bytes go_memstats_heap_sys_bytes \
            go_memstats_heap_idle_bytes go_memstats_heap_released_bytes go_memstats_alloc_bytes_total \
            go_memstats_next_gc_bytes go_memstats_last_gc_time_seconds go_threads process_cpu_seconds_total \
            process_resident_memory_bytes process_virtual_memory_bytes process_start_time_seconds \
            process_open_fds process_max_fds memdemo_profiler_samples_total memdemo_profiler_memory_bytes \
            memdemo_trace_windows_total memdemo_trace_dropped_events_total memdemo_trace_last_window_dropped_events \
            memdemo_cpuprofile_lost_samples_total memdemo_cpuprofile_window_lost_samples \
            memdemo_lockprofile_lost_events_total; do
    [ -n "$(metric "$T/text" "$name")" ] || missing="${missing:-} $name"
done
if [ -z "${missing:-}" ]; then pass client_golang_and_memdemo_families_present
else fail client_golang_and_memdemo_families_present "no sample for:$missing"; fi
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
rss=$(metric "$T/text" process_resident_memory_bytes)
if [ "$rss" -gt $((rss_kb * 1024 / 2)) ] && [ "$rss" -lt $((rss_kb * 1024 * 2)) ]; then pass rss_matches_proc_status
else fail rss_matches_proc_status "metrics $rss, VmRSS $rss_kb kB"; fi

# --- OpenMetrics ----------------------------------------------------------------------
scrape om -H "Accept: $PROM_ACCEPT"
expect_eq prometheus_accept_header_gets_openmetrics "$(content_type "$T/om.h")" "$OM_TYPE"
expect_eq openmetrics_ends_with_eof "$(tail -n 1 "$T/om")" "# EOF"
# promtool's OpenMetrics parser (the one Prometheus scrapes with) wants timestamps here.
awk -v ts="$(date +%s)" '/^#/ { print; next } { print $0, ts }' "$T/om" >"$T/om.ts"
if promtool tsdb create-blocks-from openmetrics "$T/om.ts" "$T/blocks" >"$T/om.lint" 2>&1; then
    pass openmetrics_passes_promtools_openmetrics_parser
else fail openmetrics_passes_promtools_openmetrics_parser "$(tail -2 "$T/om.lint")"; fi
# a counter's TYPE names the family without _total; its samples carry _total
awk '/^# TYPE / { fam=$3; typ=$4; if (typ == "counter" && fam ~ /_total$/) { print "TYPE " fam; bad=1 }; next }
     /^#/ { next }
     typ == "counter" { n=$1; sub(/\{.*/, "", n); if (n != fam "_total") { print "sample " n " of " fam; bad=1 } }
     END { exit bad }' "$T/om" >"$T/om.counters"
check openmetrics_counters_named_without_total_samples_with test ! -s "$T/om.counters"
check openmetrics_has_counters grep -q '^# TYPE memdemo_http_requests counter$' "$T/om"

# --- odd Accept headers get the text format -----------------------------------------
long=$(head -c 7000 /dev/zero | tr '\0' 'a')
i=0
for accept in 'application/json' '*/*' ',,,;;;===' 'application/openmetrics-text;version=2.0.0' \
              'application/openmetrics-text;q=0' 'application/openmetrics-text;q=banana' "text/$long" \
              'text/plain;version=0.0.4;q=0.9, application/openmetrics-text;q=0.5'; do
    i=$((i + 1))
    scrape "odd$i" -H "Accept: $accept"
    if [ "$(content_type "$T/odd$i.h")" = "$TEXT_TYPE" ] && promtool check metrics <"$T/odd$i" >/dev/null 2>&1; then :
    else fail odd_accept_headers_get_text "Accept: ${accept:0:60} -> $(content_type "$T/odd$i.h")"; i=-1000; fi
done
[ "$i" -gt 0 ] && pass odd_accept_headers_get_text
size=$(curl -s -I -D "$T/head.h" -o /dev/null -w '%{size_download}' "$BASE/metrics")
check head_metrics_has_content_length grep -qi '^Content-Length: [1-9]' "$T/head.h"
expect_eq head_metrics_has_no_body "$size" 0

# --- scraping forces no collection ---------------------------------------------------
gc0=$(vars_num NumGC)
for i in $(seq 1 20); do scrape idle; done
expect_eq twenty_scrapes_force_no_collection "$(vars_num NumGC)" "$gc0"

# --- what the profilers lost: /metrics shows /debug/vars' figures -----------------------
# One trace window first, so that the trace's counters have moved; then each family must
# read what the same row of /debug/vars reads (both come from one field table).
curl -s -o /dev/null --max-time 30 "$BASE/debug/pprof/trace?seconds=1"
scrape losses
http /debug/vars >"$T/losses.vars"
python3 - "$T/losses" "$T/losses.vars" >"$T/losses.diff" <<'PY'
import json, sys
samples = dict(l.split()[:2] for l in open(sys.argv[1]) if l.strip() and not l.startswith("#"))
v = json.load(open(sys.argv[2]))
rows = {"memdemo_cpuprofile_window_lost_samples": ("cpuprofile", "lost_samples"),
        "memdemo_cpuprofile_lost_samples_total": ("cpuprofile", "lost_samples_total"),
        "memdemo_trace_windows_total": ("trace", "windows"),
        "memdemo_trace_dropped_events_total": ("trace", "dropped_events_total"),
        "memdemo_trace_last_window_dropped_events": ("trace", "dropped_events_last"),
        "memdemo_lockprofile_lost_events_total": ("lockprofiles", "lost_events")}
for metric, (section, key) in rows.items():
    if float(samples.get(metric, "nan")) != float(v[section][key]):
        print(f"{metric} {samples.get(metric)} != {section}.{key} {v[section][key]}")
PY
check loss_families_read_the_debug_vars_rows test ! -s "$T/losses.diff"
[ -s "$T/losses.diff" ] && cat "$T/losses.diff"
expect_eq trace_window_counted_in_metrics "$(metric "$T/losses" memdemo_trace_windows_total)" 1
stop_server

# --- a real Prometheus ------------------------------------------------------------------
if ! command -v prometheus >/dev/null; then
    echo "SKIP prometheus_scrapes_memdemo: prometheus not installed (listed in .ci/deps)"
    exit 0
fi

# A loopback port nothing answers on (Prometheus binds it; a lost race fails its start).
free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}

start_server -repetitions 100 || exit 1
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: memdemo
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
# start_prometheus: on a free port; 0 once ready. A port free_port found can be taken by
# another test's server before Prometheus binds it: then Prometheus exits at once, and
# the caller tries another port.
start_prometheus() {
    PROM_PORT=$(free_port)
    PROM=http://127.0.0.1:$PROM_PORT
    prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prometheus-data" \
        --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$T/prometheus.log" 2>&1 &
    PROM_PID=$!
    SERVER_PIDS+=("$PROM_PID")
    for _ in $(seq 1 150); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PROM/-/ready")" = 200 ] && return 0
        kill -0 "$PROM_PID" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}
ready=0
for _ in 1 2 3; do
    start_prometheus && { ready=1; break; }
    grep -q 'address already in use' "$T/prometheus.log" || break
    kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null
done
if [ "$ready" != 1 ]; then
    fail prometheus_started "not ready on $PROM: $(tail -3 "$T/prometheus.log")"
    exit 1
fi
pass prometheus_started

# promql EXPR [TIME]: the API's JSON answer for an instant query.
promql() {
    curl -s --max-time 10 "$PROM/api/v1/query" --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"}
}
instant_value() { grep -o '"value":\[[^]]*\]' | head -1 | sed 's/.*,"\(.*\)"\]/\1/'; }

# /debug/vars NumGC polled around the scrapes: "start_ms end_ms NumGC" per line.
poll_vars() {
    local until=$(( $(date +%s) + $1 )) a b n
    while [ "$(date +%s)" -lt "$until" ]; do
        a=$(date +%s%3N)
        n=$(curl -s --max-time 5 "$BASE/debug/vars" | grep -o '"NumGC": *[0-9]*' | grep -o '[0-9]*$')
        b=$(date +%s%3N)
        [ -n "$n" ] && echo "$a $b $n"
        sleep 0.15
    done >"$T/polls"
}
# Prometheus hands targets to its scrapers some seconds after start: wait for a scrape.
for _ in $(seq 1 100); do
    [ "$(promql 'up{job="memdemo"}' | instant_value)" = 1 ] && break
    sleep 0.3
done
sleep 1
poll_vars 12 &
POLL_PID=$!
load_start=$(date +%s)
load 8 4 /leaker /noleaker
load_end=$(date +%s)
wait "$POLL_PID"
sleep 2                        # the last scrapes of the load

expect_eq prometheus_sees_target_up "$(promql 'up{job="memdemo"}' | instant_value)" 1
mid=$(( (load_start + load_end) / 2 ))
for route in /noleaker /leaker; do
    r=$(promql "rate(memdemo_http_requests_total{job=\"memdemo\",route=\"$route\",code=\"200\"}[4s])" "$mid" | instant_value)
    if awk -v r="$r" 'BEGIN { exit !(r + 0 > 0) }'; then pass "prometheus_rate_of_requests_positive_${route//\//}"
    else fail "prometheus_rate_of_requests_positive_${route//\//}" "rate at $mid = '$r'"; fi
done

# Each scraped go_gc_duration_seconds_count lies between the NumGC /debug/vars gave just
# before the scrape began and just after it must have ended (scrape_timeout 1 s).
curl -s --max-time 10 "$PROM/api/v1/query" --data-urlencode 'query=go_gc_duration_seconds_count{job="memdemo"}[30s]' \
    --data-urlencode "time=$(date +%s)" | grep -o '\[[0-9.]*,"[0-9.e+]*"\]' | tr -d '[]"' | tr ',' ' ' >"$T/scraped"
awk 'NR == FNR { s[NR] = $1; e[NR] = $2; g[NR] = $3; np = NR; next }
     { ts = $1 * 1000; v = $2 + 0; lo = -1; hi = -1
       for (i = 1; i <= np; i++) {
         if (e[i] < ts && g[i] + 0 > lo) lo = g[i] + 0
         if (s[i] > ts + 1000 && (hi < 0 || g[i] + 0 < hi)) hi = g[i] + 0 }
       if (lo < 0 || hi < 0) next
       checked++; if (v != first && checked > 1) moved = 1; if (checked == 1) first = v
       if (v < lo || v > hi) { printf "scrape at %d: %d outside [%d, %d]\n", ts, v, lo, hi; bad++ } }
     END { printf "CHECKED %d MOVED %d BAD %d\n", checked, moved, bad }' "$T/polls" "$T/scraped" >"$T/gccheck"
read -r _ checked _ moved _ bad <<<"$(tail -n 1 "$T/gccheck")"
if [ "${checked:-0}" -ge 3 ] && [ "${bad:-1}" = 0 ] && [ "${moved:-0}" = 1 ]; then
    pass prometheus_gc_count_within_debug_vars_around_each_scrape
else
    fail prometheus_gc_count_within_debug_vars_around_each_scrape "$(tr '\n' ' ' <"$T/gccheck")"
fi
echo "# $checked scrapes of go_gc_duration_seconds_count checked against $(wc -l <"$T/polls") /debug/vars polls"

stop_server "$PROM_PID"
expect_eq prometheus_stopped_by_pid "$(kill -0 "$PROM_PID" 2>/dev/null && echo running || echo stopped)" stopped
stop_server
