#!/bin/bash
# gcprof's GC timeline and files in both Go toolchains (issue 17): the trace shows one
# goroutine per OS thread of the program that allocated (no request tasks), each
# collection on the GC row and on the thread that ran it, as many collections as
# bdwgc made; Go 1.19's and Go 1.23's go tool trace open it (pages served by each
# viewer), and Go 1.23's go tool pprof opens the heap profiles with Go's four sample
# types (a SKIP when /usr/lib/go-1.23/bin/go is missing). Programs: a C program with 3
# named worker pthreads on libgc.so.1 (tests/gcprof/threads.c), Guile running 3
# threads of its own (tests/gcprof/threads.scm), and Guile keeping ~530 MB
# (tests/gcprof/bigleak.scm): in use after the final collection at the DEFAULT rate
# within 10% of the bytes bdwgc reaches (about 1000 samples: 10% is ~3 standard
# deviations of the estimate). With -o and -http together, a live window holds just its
# own collections while PREFIX.trace still gets every collection of the run, and a
# second live request while one is open gets memdemo's refusal.
source "$(dirname "$0")/../lib.sh"
export HOME=$T GOCACHE=$T/gocache GOTOOLCHAIN=local
GO123=/usr/lib/go-1.23/bin/go

gcprof_test gcprof_trace guile gcc
HAVE123=0
[ -x "$GO123" ] && HAVE123=1

# var FILE PATH: a number from a vars.json (PATH like final.reachable_bytes).
var() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(int(v))' "$1" "$2"; }
# collections NAME: the collections bdwgc made while the library watched.
collections() { echo $(( $(var "$T/$1.vars.json" final.collections_at_exit) - $(var "$T/$1.vars.json" final.collections_at_start) )); }
count_ev() { awk -v e="$1" '$2 == e' "$2" | wc -l; }

# profile NAME CMD...: runs CMD under gcprof at the default rate; files $T/NAME.*.
profile() {
    local name=$1; shift
    "$GCPROF" -o "$T/$name" -- "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
    echo $? >"$T/$name.status"
}

# serve_ui TOOL TRACE: the trace viewer TOOL (the trace binary of a toolchain, run
# directly so its PID is the server's) on a free loopback port; sets UI_PID, UIADDR.
serve_ui() {
    local i
    (cd "$T" && exec "$1" -http=127.0.0.1:0 "$2" >"$T/ui.log" 2>&1) &
    UI_PID=$!
    SERVER_PIDS+=("$UI_PID")
    UIADDR=
    for i in $(seq 1 150); do
        UIADDR=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/ui.log" | head -1); [ -n "$UIADDR" ] && return 0; sleep 0.2
    done
    return 1
}
stop_ui() { kill "$UI_PID" 2>/dev/null; wait "$UI_PID" 2>/dev/null; }
ui() { curl -s --max-time 120 -o "$T/ui.$2" -w '%{http_code}' "$UIADDR$1"; }
# thread_groups FILE: the goroutine groups of a /goroutines page named after threads.
thread_groups() { grep -o '>thread [0-9]* ([^<]*)<' "$1" | tr -d '<>' | sort -u; }
# cthreads_goroutine_page VER TAG: the serving viewer's /goroutines page (saved as ui.TAG)
# lists the 3-worker program's four threads, workers named.
cthreads_goroutine_page() {
    local ver=$1 tag=$2 w
    expect_eq "cthreads_${ver}_goroutines_200" "$(ui /goroutines "$tag")" 200
    thread_groups "$T/ui.$tag" >"$T/groups.$tag"
    echo "# $ver goroutine groups: $(tr '\n' ';' <"$T/groups.$tag")"
    expect_eq "cthreads_${ver}_lists_4_thread_goroutines" "$(wc -l <"$T/groups.$tag")" 4
    for w in 1 2 3; do check "cthreads_${ver}_names_worker_$w" grep -q "(worker-$w)" "$T/groups.$tag"; done
}

# timeline_go119 NAME THREADS: the trace of run NAME, with THREADS allocating threads
# ("+" after it: at least that many), as Go 1.19 reads it.
timeline_go119() {
    local name=$1 want=$2 d=$T/$1.trace.d ps gs
    if (cd "$T" && go tool trace -http=127.0.0.1:0 -d "$T/$name.trace" >"$d" 2>"$d.err"); then
        pass "${name}_trace_parses_go119"
    else fail "${name}_trace_parses_go119" "$(tail -1 "$d.err")"; return; fi
    ps=$(count_ev ProcStart "$d")
    gs=$(count_ev GoCreate "$d")
    echo "# $name: $gs goroutines on $ps threads, $(count_ev GCStart "$d") collections"
    expect_eq "${name}_one_goroutine_per_thread" "$gs" "$ps"
    case $want in
    *+) expect_ge "${name}_every_allocating_thread_is_a_goroutine" "$gs" "${want%+}" ;;
    *) expect_eq "${name}_every_allocating_thread_is_a_goroutine" "$gs" "$want" ;;
    esac
    expect_eq "${name}_trace_has_every_collection" "$(count_ev GCStart "$d")" "$(collections "$name")"
    expect_eq "${name}_no_request_tasks" "$(count_ev UserTaskCreate "$d")" 1      # the window's only
    check_absent "${name}_no_per_collection_goroutines" 'label=GC' "$d"
    check_absent "${name}_every_collections_end_recorded" 'end not recorded' "$d"
    expect_eq "${name}_every_collection_marks_on_its_thread" "$(count_ev GCMarkAssistStart "$d")" "$(collections "$name")"
}

# ---- a C program: 3 named worker pthreads and the main thread, all allocating ----------
if gcc -O1 -g -o "$T/threads" "$HERE/threads.c" -lgc -lpthread 2>"$T/threads.cc"; then
    profile cthreads "$T/threads" 100000
    expect_eq cthreads_status "$(cat "$T/cthreads.status")" 0
    timeline_go119 cthreads 4
    expect_eq cthreads_exited_workers_goroutines_end "$(count_ev GoEnd "$T/cthreads.trace.d")" 3
    if serve_ui "$(go env GOTOOLDIR)/trace" "$T/cthreads.trace"; then
        cthreads_goroutine_page go119 g19
        expect_eq cthreads_go119_jsontrace_200 "$(ui /jsontrace j19)" 200
        # Collections on the GC row; their STW on the Proc row of the thread that ran them.
        read -r gcrow stwrows < <(python3 -c 'import json,sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
gc = sum(1 for e in ev if e.get("name") == "GC" and e.get("ph") == "X")
rows = {e["tid"] for e in ev if e.get("name") == "STW (mark termination)"}
print(gc, len(rows))' "$T/ui.j19")
        expect_eq cthreads_go119_gc_row_has_every_collection "$gcrow" "$(collections cthreads)"
        expect_ge cthreads_go119_collections_on_several_threads "$stwrows" 2
        stop_ui
    else
        fail cthreads_go119_ui_starts "$(cat "$T/ui.log")"
    fi
else
    fail threads_program_builds "$(head -3 "$T/threads.cc")"
fi

# ---- Guile running three threads of its own ----------------------------------------------
profile gthreads guile --no-auto-compile "$HERE/threads.scm" 300000
expect_eq gthreads_status "$(cat "$T/gthreads.status")" 0
timeline_go119 gthreads 4+
# Guile's join-thread returns once a thread's procedure has returned, before the thread
# itself has exited (where its goroutine ends): the program may write its files while
# one is still exiting. So 1 to 3 ends, never more (the C program above, whose
# pthread_join waits for the exit, must have exactly 3).
ends=$(count_ev GoEnd "$T/gthreads.trace.d")
expect_ge gthreads_exited_threads_goroutines_end "$ends" 1
expect_le gthreads_no_more_ends_than_exited_threads "$ends" 3

# ---- -http: a live window holds the program's threads, not the profiler's -----------------
gcprof_live live -- guile --no-auto-compile "$HERE/threads.scm" 100000000
sleep 1                                   # the three threads have started allocating
if [ -n "$LIVE" ] && curl -s --max-time 60 -o "$T/live.trace" "$LIVE/debug/pprof/trace?seconds=1" &&
    (cd "$T" && go tool trace -http=127.0.0.1:0 -d "$T/live.trace" >"$T/live.d" 2>"$T/live.d.err"); then
    pass live_trace_parses
    echo "# live window: $(count_ev GoCreate "$T/live.d") goroutines on $(count_ev ProcStart "$T/live.d") threads"
    expect_eq live_one_goroutine_per_thread "$(count_ev GoCreate "$T/live.d")" "$(count_ev ProcStart "$T/live.d")"
    expect_ge live_program_threads_are_goroutines "$(count_ev GoCreate "$T/live.d")" 4
    expect_eq live_profilers_http_thread_not_drawn "$(grep -ac '(MHD' "$T/live.trace")" 0
else
    fail live_trace_parses "$(tail -1 "$T/live.err") $(tail -1 "$T/live.d.err" 2>/dev/null)"
fi
kill "$LIVE_PID" 2>/dev/null; wait "$LIVE_PID" 2>/dev/null

# ---- -o and -http together: live windows while the whole run is recorded ------------------
# The live window holds just its own collections (at least one, no more than
# /debug/vars counted from just before the request to just after the answer), a second
# request while one is open gets memdemo's answer, and PREFIX.trace at exit still holds
# every collection of the run.
gcs_now() { curl -s --max-time 30 "$LIVE/debug/vars" |
    python3 -c 'import json,sys; g=json.load(sys.stdin)["gc"]; print(g["full"]["collections"] + g["partial"]["collections"])'; }
# live_window NAME VER: does toolchain VER's go tool trace (go119, go123) parse $T/NAME?
live_window() {
    local cmd=(go tool trace -http=127.0.0.1:0 -d); [ "$2" = go123 ] && cmd=("$GO123" tool trace -d=1)
    if (cd "$T" && "${cmd[@]}" "$T/$1" >"$T/$1.$2" 2>&1); then pass "${1%.trace}_parses_$2"
    else fail "${1%.trace}_parses_$2" "$(tail -1 "$T/$1.$2")"; fi
}
if [ -x "$T/threads" ] && gcprof_live both -o "$T/both" -- "$T/threads" 20000 "$T/both.stop"; then
    sleep 0.5                             # the workers are collecting
    before=$(gcs_now)
    code=$(curl -s -o "$T/inrun.trace" -w '%{http_code}' --max-time 60 "$LIVE/debug/pprof/trace?seconds=1")
    after=$(gcs_now)
    expect_eq inrun_live_trace_200 "$code" 200
    live_window inrun.trace go119
    [ "$HAVE123" = 1 ] && live_window inrun.trace go123
    n=$(count_ev GCStart "$T/inrun.trace.go119")
    echo "# live window under -o: $n collections; /debug/vars counted $((after - before)) around it"
    expect_ge inrun_live_trace_has_a_collection "$n" 1
    expect_le inrun_live_trace_has_only_its_windows_collections "$n" "$((after - before))"
    # Overlapping requests: the second, sent once the first's window is open, is refused.
    curl -s -o "$T/first.trace" -w '%{http_code}' --max-time 60 "$LIVE/debug/pprof/trace?seconds=2" >"$T/first.code" &
    first=$!
    for i in $(seq 1 100); do
        curl -s --max-time 5 "$LIVE/metrics" | grep -q '^memdemo_trace_running 1' && break; sleep 0.05
    done
    code=$(curl -s -o "$T/second.trace" -w '%{http_code}' --max-time 60 "$LIVE/debug/pprof/trace?seconds=1")
    expect_eq overlapping_live_trace_is_500 "$code" 500
    check overlapping_live_trace_says_already_enabled \
        grep -q 'Could not enable tracing: tracing is already enabled' "$T/second.trace"
    wait "$first"
    expect_eq overlapped_live_trace_200 "$(cat "$T/first.code")" 200
    live_window first.trace go119
    touch "$T/both.stop"
    for i in $(seq 1 600); do kill -0 "$LIVE_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$LIVE_PID"
    expect_eq both_status "$?" 0
    timeline_go119 both 4                 # PREFIX.trace: every collection of the run
else
    fail both_starts "$(cat "$T/both.err" 2>/dev/null)"
fi

# ---- Go 1.23: the same files ----------------------------------------------------------------
if [ "$HAVE123" = 1 ]; then
    for f in cthreads.heap cthreads.allocs gthreads.heap; do
        types=$("$GO123" tool pprof -raw "$T/$f.pb.gz" 2>/dev/null | sed -n '5{s/\[dflt\]//;p}' | tr -s ' ')
        expect_eq "${f/./_}_go123_pprof_has_go_sample_types" "$types" \
            "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes"
    done
    for name in cthreads gthreads both; do
        if (cd "$T" && "$GO123" tool trace -d=1 "$T/$name.trace" >"$T/$name.d123" 2>&1); then
            pass "${name}_trace_parses_go123"
        else fail "${name}_trace_parses_go123" "$(tail -1 "$T/$name.d123")"; fi
        gcs=$(grep -c 'RangeBegin .*Name="GC concurrent mark phase"' "$T/$name.d123")
        expect_eq "${name}_go123_trace_has_every_collection" "$gcs" "$(collections "$name")"
    done
    if serve_ui "$("$GO123" env GOTOOLDIR)/trace" "$T/cthreads.trace"; then
        cthreads_goroutine_page go123 g23
        expect_eq cthreads_go123_thread_view_200 "$(ui '/jsontrace?view=thread' j23)" 200
        stop_ui
    else
        fail cthreads_go123_ui_starts "$(cat "$T/ui.log")"
    fi
else
    skip gcprof_files_open_in_go_1_23 "$GO123 not installed (Debian's golang-1.23-go, bookworm-backports)"
fi

# ---- in use at the default rate, on a heap big enough to estimate ----------------------------
profile bigleak guile --no-auto-compile "$HERE/bigleak.scm" 8192
expect_eq bigleak_status "$(cat "$T/bigleak.status")" 0
expect_eq bigleak_final_collection_ran "$(var "$T/bigleak.vars.json" final.collected)" 1
inuse=$(go tool pprof -unit=B -sample_index=inuse_space -top "$T/bigleak.heap.pb.gz" 2>/dev/null |
    sed -n 's/.* of \([0-9.]*\)B total.*/\1/p' | head -1)
reach=$(var "$T/bigleak.vars.json" final.reachable_bytes)
ratio=$(python3 -c 'import sys; print("%.4f" % (float(sys.argv[1] or "nan") / float(sys.argv[2])))' "$inuse" "$reach")
echo "# bigleak: inuse_space $inuse B at the default rate / reachable $reach B = $ratio"
if python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 1) <= 0.10 else 1)' "$ratio" 2>/dev/null; then
    pass bigleak_inuse_at_default_rate_matches_reachable
else
    fail bigleak_inuse_at_default_rate_matches_reachable "ratio $ratio, want within 0.10 of 1"
fi
