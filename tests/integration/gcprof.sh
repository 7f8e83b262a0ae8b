#!/bin/bash
# Oracle tests for gcprof (issue 17) on programs nobody on this project wrote: Debian's
# w3m rendering a large generated page with -dump, guile-3.0 running a script that
# leaks into a hash table while it makes garbage, and ecl (Embeddable Common Lisp) doing
# the same on threads of its own (all three installed by .ci/deps), plus a small C
# program on libgc.so.1 (tests/gcprof/probe.c) for what those never do, and one whose
# own malloc is GC_malloc (tests/gcprof/ownmalloc.c, and tests/gcprof/partgc.c over a
# libgc that lacks entry points).
# The truth is bdwgc's own: GC_get_total_bytes() growth and the bytes
# GC_enumerate_reachable_objects_inner counts after the final collection, which the
# library writes beside its profiles (PREFIX.vars.json "final").
source "$(dirname "$0")/../lib.sh"
export HOME=$T GOCACHE=$T/gocache

gcprof_test gcprof w3m guile ecl gcc

# total FILE SAMPLE_INDEX: the profile's total of that sample type, in bytes.
total() { go tool pprof -unit=B -sample_index="$2" -top "$1" 2>/dev/null | sed -n 's/.* of \([0-9.]*\)B total.*/\1/p' | head -1; }
# flat FILE SAMPLE_INDEX FUNCTION: that function's flat bytes (0 when absent).
flat() {
    go tool pprof -unit=B -sample_index="$2" -top -nodecount=1000 -nodefraction=0 "$1" 2>/dev/null |
        awk -v f="$3" '$6 == f { sub(/B$/, "", $1); print $1; found = 1 } END { if (!found) print 0 }'
}
# var FILE PATH: a number from a vars.json (PATH like final.reachable_bytes).
var() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(int(v))' "$1" "$2"; }
# within NAME GOT WANT TOLERANCE: PASS when |GOT/WANT - 1| <= TOLERANCE (a fraction).
within() {
    local r
    r=$(python3 -c 'import sys; g,w=float(sys.argv[1] or "nan"),float(sys.argv[2] or "nan"); print("%.4f" % (g/w) if w else "nan")' "$2" "$3" 2>/dev/null)
    echo "# $1: $2 / $3 = $r"
    if python3 -c 'import sys; r=float(sys.argv[1]); sys.exit(0 if abs(r-1) <= float(sys.argv[2]) else 1)' "$r" "$4" 2>/dev/null
    then pass "$1"; else fail "$1" "ratio $r, want within $4 of 1 ($2 against $3)"; fi
}

# profile NAME RATE CMD...: runs CMD under gcprof at RATE, output in $T/NAME.out/.err,
# status in $T/NAME.status, files $T/NAME.*. With PROFILE_TIMEOUT=S, stopped after S
# seconds (status 124). With PROFILE_HTTP set, gcprof is asked for -http too.
profile() {
    local name=$1 rate=$2; shift 2
    ${PROFILE_TIMEOUT:+timeout -k 5 "$PROFILE_TIMEOUT"} \
        "$GCPROF" -o "$T/$name" -rate "$rate" ${PROFILE_HTTP:+-http 127.0.0.1:0} -- "$@" <"$T/stdin" >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.status"
}
plain() {
    local name=$1; shift
    "$@" <"$T/stdin" >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.status"
}
: >"$T/stdin"

# accuracy NAME TOLERANCE_ALLOC [TOLERANCE_INUSE]: alloc_space against the growth of
# GC_get_total_bytes(); inuse_space after the final collection against the reachable bytes.
accuracy() {
    local v=$T/$1.vars.json
    within "$1_alloc_space_matches_total_bytes" "$(total "$T/$1.allocs.pb.gz" alloc_space)" \
        $(( $(var "$v" final.total_bytes_at_exit) - $(var "$v" final.total_bytes_at_start) )) "$2"
    [ -n "${3:-}" ] && within "$1_inuse_space_matches_reachable" "$(total "$T/$1.heap.pb.gz" inuse_space)" \
        "$(var "$v" final.reachable_bytes)" "$3"
    expect_eq "$1_final_collection_ran" "$(var "$v" final.collected)" 1
}

# same_run NAME: the profiled run printed and exited exactly as the plain one.
same_run() {
    check "$1_same_stdout" cmp -s "$T/$1.plain.out" "$T/$1.out"
    check "$1_same_stderr" cmp -s "$T/$1.plain.err" "$T/$1.err"
    expect_eq "$1_same_status" "$(cat "$T/$1.status")" "$(cat "$T/$1.plain.status")"
}

# formats NAME: go tool pprof reads both profiles with Go's four sample types; go tool
# trace reads the timeline, which holds every collection since the library started.
formats() {
    local f types gcs v=$T/$1.vars.json
    for f in heap allocs; do
        types=$(go tool pprof -raw "$T/$1.$f.pb.gz" 2>/dev/null | sed -n '5{s/\[dflt\]//;p}' | tr -s ' ')
        expect_eq "$1_${f}_has_go_sample_types" "$types" "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes"
    done
    if (cd "$T" && go tool trace -http=127.0.0.1:0 -d "$T/$1.trace" >"$T/$1.trace.d" 2>"$T/$1.trace.err"); then
        pass "$1_trace_parses"
    else
        fail "$1_trace_parses" "$(tail -1 "$T/$1.trace.err")"
    fi
    gcs=$(awk '$2 == "GCStart"' "$T/$1.trace.d" | wc -l)
    expect_eq "$1_trace_has_every_collection" "$gcs" \
        $(( $(var "$v" final.collections_at_exit) - $(var "$v" final.collections_at_start) ))
    echo "# $1: $gcs collections in the trace, the final one included"
}

# ---- w3m -dump of a generated page ------------------------------------------------------
python3 "$HERE/page.py" 20000 >"$T/big.html"     # ~6 MB: w3m allocates ~500 MB
python3 "$HERE/page.py" 6000 >"$T/small.html"     # for -rate 1: a stack per allocation
plain w3m.plain w3m -dump "$T/big.html"
profile w3m 524288 w3m -dump "$T/big.html"
same_run w3m
accuracy w3m 0.10
formats w3m
top=$(go tool pprof -sample_index=inuse_space -top "$T/w3m.heap.pb.gz" 2>/dev/null | awk '/flat%/ { getline; print $6 }')
expect_eq w3m_top_inuse_frame_is_w3m_itself "$top" "[w3m]"   # stripped: its frames are named by mapping
profile w3m4096 4096 w3m -dump "$T/big.html"
accuracy w3m4096 0.05 0.10
profile w3m1 1 w3m -dump "$T/small.html"
accuracy w3m1 0.01 0.10

# ---- guile: a leak into a hash table among garbage --------------------------------------
plain guile.plain guile --no-auto-compile "$HERE/leak.scm" 20000
profile guile 524288 guile --no-auto-compile "$HERE/leak.scm" 20000
same_run guile
accuracy guile 0.10
formats guile
profile guile4096 4096 guile --no-auto-compile "$HERE/leak.scm" 20000
accuracy guile4096 0.05 0.10
top5=$(go tool pprof -sample_index=inuse_space -top "$T/guile4096.heap.pb.gz" 2>/dev/null | awk '/flat%/ { for (i = 0; i < 5 && getline; i++) print $6 }')
echo "# guile top in-use frames: $(echo $top5)"
case $(echo "$top5" | head -1) in
scm_*) pass guile_top_inuse_frame_is_a_guile_primitive ;;
*) fail guile_top_inuse_frame_is_a_guile_primitive "top frames: $(echo $top5)" ;;
esac
check guile_hash_table_internals_in_top5 grep -q '^scm_hash_fn' <<<"$top5"
check guile_batches_counted test "$(var "$T/guile4096.vars.json" gcprof.batch_objects)" -gt 0
profile guile1 1 guile --no-auto-compile "$HERE/leak.scm" 5000
accuracy guile1 0.01 0.10

# ---- ecl: Lisp interpreted by libecl, on threads made by GC_pthread_create --------------
# ECL allocates through GC_malloc, _atomic, _ignore_off_page and GC_free, and starts its
# threads with bdwgc's GC_pthread_create: each thread is one goroutine in the trace.
# At the default rate the alloc estimate's relative deviation is sqrt(rate / bytes):
# 20000 rounds allocate ~470 MB, 3.3%, so 10% is 3 deviations (10000 rounds: 2.1).
ECL_RUN=(ecl --norc --shell "$HERE/leak.lisp")
plain ecl.plain "${ECL_RUN[@]}" 20000 3
profile ecl 524288 "${ECL_RUN[@]}" 20000 3
same_run ecl
accuracy ecl 0.10
formats ecl
check ecl_threads_are_goroutines test "$(awk '$2 == "GoCreate"' "$T/ecl.trace.d" | wc -l)" -ge 4
profile ecl4096 4096 "${ECL_RUN[@]}" 10000 3
accuracy ecl4096 0.05 0.10
top=$(go tool pprof -sample_index=inuse_space -top "$T/ecl4096.heap.pb.gz" 2>/dev/null | awk '/flat%/ { getline; print $6 }')
case $top in
ecl_*) pass ecl_top_inuse_frame_is_an_ecl_allocator ;;
*) fail ecl_top_inuse_frame_is_an_ecl_allocator "top frame '$top'" ;;
esac
profile ecl1 1 "${ECL_RUN[@]}" 2000 0
accuracy ecl1 0.01 0.10

# ---- a C program: own callbacks, explicit frees, realloc, batches, debug allocations ----
if gcc -O1 -g -o "$T/probe" "$HERE/probe.c" -lgc 2>"$T/probe.cc"; then
    plain probe.plain "$T/probe"
    profile probe 1 "$T/probe"
    out=$(cat "$T/probe.out")
    expect_eq probe_status "$(cat "$T/probe.status")" 0
    check probe_own_callback_sees_every_collection python3 -c 'import re,sys
m=dict(re.findall(r"(\w+)=(\d+)", sys.argv[1])); sys.exit(0 if m["starts"] == m["collections"] != "0" else 1)' "$out"
    check probe_gets_its_own_callback_back grep -q ' own_callback_back=1' <<<"$out"
    check probe_gets_its_own_thread_callback_back grep -q 'own_thread_callback_back=1' <<<"$out"
    accuracy probe 0.01 0.10
    p=$T/probe.heap.pb.gz
    expect_eq probe_freed_object_not_in_use "$(flat "$p" inuse_space free_at_once)" 0
    expect_eq probe_freed_object_was_allocated "$(flat "$p" alloc_space free_at_once)" $((1000 * 3008))
    expect_eq probe_in_place_realloc_counts_no_new_bytes "$(flat "$p" alloc_space grow_in_place)" $((500 * 48))
    expect_eq probe_moved_realloc_old_object_freed "$(flat "$p" inuse_space grow_moving)" $((500 * 5008))
    expect_eq probe_frees_tracked "$(var "$T/probe.vars.json" gcprof.frees_tracked)" 1500
    check probe_batch_objects_counted test "$(var "$T/probe.vars.json" gcprof.batch_objects)" -gt 0
    check probe_debug_allocations_in_use test "$(flat "$p" inuse_space debug_allocations)" -ge $((500 * 200))
else
    fail probe_builds "$(head -3 "$T/probe.cc")"
fi

# ---- a program whose malloc is GC_malloc (tests/gcprof/ownmalloc.c) ----------------------
# Every malloc of the profiler, of libc inside it and of the loader comes back through the
# entry points there (the first sample once deadlocked on the sampler's lock). Bounded by
# timeout: a hang fails here instead of hanging the suite. The profiler's own bytes are
# left out of the total (gcinterpose_malloc_is_bdwgcs); its uncollectable tables are
# still reachable at exit, so in-use is not checked against reachable_bytes here.
if gcc -O1 -g -o "$T/ownmalloc" "$HERE/ownmalloc.c" -lgc 2>"$T/ownmalloc.cc"; then
    for rate in 4096 1; do
        plain "ownmalloc$rate.plain" timeout -k 5 60 "$T/ownmalloc" 300
        PROFILE_TIMEOUT=120 profile "ownmalloc$rate" "$rate" "$T/ownmalloc" 300
        same_run "ownmalloc$rate"
    done
    expect_eq ownmalloc_exit_status_passed "$(cat "$T/ownmalloc1.status")" 3
    accuracy ownmalloc4096 0.05
    accuracy ownmalloc1 0.01
    # -http: its threads, unknown to bdwgc, would allocate there: refused, with why.
    PROFILE_TIMEOUT=120 PROFILE_HTTP=1 profile ownmalloc_http 4096 "$T/ownmalloc" 300 1
    expect_eq ownmalloc_http_status_passed "$(cat "$T/ownmalloc_http.status")" 3
    check ownmalloc_http_same_checksum test "$(cut -d' ' -f1 "$T/ownmalloc_http.out")" = "$(cut -d' ' -f1 "$T/ownmalloc1.plain.out")"
    check ownmalloc_http_refused_with_why grep -q '^gcprof: -http is off: the malloc of .* allocates from bdwgc' "$T/ownmalloc_http.err"
    check ownmalloc_http_profiles_written test -s "$T/ownmalloc_http.heap.pb.gz"
else
    fail ownmalloc_builds "$(head -3 "$T/ownmalloc.cc")"
fi
# The same malloc over a libgc without its optional entry points (tests/gcprof/partgc.c):
# libgcprof's first look-up must not allocate (a failed dlsym's message came back into
# the entry point being resolved, inside its pthread_once: a hang). The library stays
# passive there; the program runs as without it.
if gcc -O1 -shared -fPIC -o "$T/libpartgc.so" "$HERE/partgc.c" 2>"$T/partgc.cc"; then
    LD_PRELOAD=$T/libpartgc.so sort "$HERE/ownmalloc.c" >"$T/partgc.plain.out" 2>&1
    timeout -k 5 60 env GCPROF_OUT="$T/partgc" LD_PRELOAD="$ROOT/libgcprof.so $T/libpartgc.so" \
        sort "$HERE/ownmalloc.c" >"$T/partgc.out" 2>&1
    expect_eq partial_libgc_program_exits_normally "$?" 0
    check partial_libgc_program_output_unchanged cmp -s "$T/partgc.plain.out" "$T/partgc.out"
    # GC_malloc and GC_malloc_atomic forward to GC_malloc_kind, which this libgc lacks
    # (bdwgc before 7.6): they go to its own functions instead of aborting the program.
    if gcc -O1 -o "$T/kindless" "$HERE/kindless.c" -L"$T" -lpartgc -Wl,-rpath,"$T" 2>"$T/kindless.cc"; then
        timeout -k 5 60 env GCPROF_OUT="$T/kindless" LD_PRELOAD="$ROOT/libgcprof.so" "$T/kindless" >"$T/kindless.out" 2>&1
        expect_eq libgc_without_malloc_kind_program_exits_normally "$?" 0
        expect_eq libgc_without_malloc_kind_program_output "$(cat "$T/kindless.out")" "2000 objects"
    else
        fail kindless_builds "$(head -3 "$T/kindless.cc")"
    fi
else
    fail partgc_builds "$(head -3 "$T/partgc.cc")"
fi

# ---- the command: status, stdin, children, settings -------------------------------------
echo hello >"$T/stdin"
profile stdin 524288 guile -c '(use-modules (ice-9 rdelim)) (display (read-line))'
expect_eq command_passes_stdin_and_stdout "$(cat "$T/stdin.out")" hello
: >"$T/stdin"
profile status 524288 guile -c '(exit 3)'
expect_eq command_passes_exit_status "$(cat "$T/status.status")" 3
profile killed 524288 guile -c '(kill (getpid) SIGTERM)'
expect_eq command_passes_death_by_signal "$(cat "$T/killed.status")" 143
profile env 524288 guile -c '(display (or (getenv "LD_PRELOAD") "none"))'
expect_eq children_do_not_inherit_the_library "$(cat "$T/env.out")" none
"$GCPROF" -o "$T/ch%p" -children -- guile -c '(display (getenv "LD_PRELOAD"))' >"$T/ch.out" 2>&1
check children_inherit_it_with_the_flag grep -q 'libgcprof.so' "$T/ch.out"
check percent_p_names_the_pid bash -c 'ls "$1"/ch[0-9]*.heap.pb.gz >/dev/null' _ "$T"
# The files are written at exit: a PREFIX in a directory that cannot take them is
# refused before the program runs, not after it.
"$GCPROF" -o "$T/nodir/x" -- sh -c 'echo ran' >"$T/nodir.out" 2>"$T/nodir.err"
expect_eq unwritable_prefix_refused_with_usage_status $? 2
check unwritable_prefix_refused_before_the_program_runs test ! -s "$T/nodir.out"
check unwritable_prefix_message_names_the_directory grep -q "cannot write files into $T/nodir: No such file" "$T/nodir.err"
# Preloaded by hand: the library says so at start, once, and the program runs as usual.
GCPROF_OUT=$T/nodir/x LD_PRELOAD=$ROOT/libgcprof.so guile -c '(display 1)' >"$T/nodir.hand.out" 2>"$T/nodir.hand.err"
expect_eq unwritable_prefix_by_hand_program_runs "$(cat "$T/nodir.hand.out")" 1
check unwritable_prefix_by_hand_said_at_start grep -qx "gcprof: GCPROF_OUT=$T/nodir/x: cannot write files into $T/nodir: No such file or directory; no files will be written" "$T/nodir.hand.err"
expect_eq unwritable_prefix_by_hand_said_once "$(wc -l <"$T/nodir.hand.err")" 1
"$GCPROF" -o "$T/shared" -children -- true 2>"$T/shared.err"
check children_without_percent_p_warned grep -q -- '-children with -o .* (no %p): .* overwrites' "$T/shared.err"
"$GCPROF" -o "$T/shared%p" -children -- true 2>"$T/shared.err"
check children_with_percent_p_says_nothing test ! -s "$T/shared.err"
# A child forked without exec that outlives the program writes nothing (its files would
# replace the program's); with -children it writes its own.
wait_gone() { local i; for i in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
if gcc -O1 -o "$T/forkchild" "$HERE/forkchild.c" -lgc 2>"$T/forkchild.cc"; then
    for how in plain children; do
        mkdir -p "$T/fork_$how"
        flag=; [ "$how" = children ] && flag=-children
        "$GCPROF" -o "$T/fork_$how/f.%p" $flag -- "$T/forkchild" >"$T/fork_$how.out" 2>"$T/fork_$how.err"
        parent=$(sed -n 's/^parent=\([0-9]*\) .*/\1/p' "$T/fork_$how.out")
        child=$(sed -n 's/.* child=\([0-9]*\)$/\1/p' "$T/fork_$how.out")
        check "forked_child_${how}_ends" wait_gone "${child:-0}"
        check "forked_child_${how}_program_files_written" test -s "$T/fork_$how/f.$parent.vars.json"
    done
    expect_eq forked_child_writes_no_files "$(ls "$T/fork_plain" | grep -c vars.json)" 1
    expect_eq forked_child_with_children_writes_its_own "$(ls "$T/fork_children" | grep -c vars.json)" 2
else
    fail forkchild_builds "$(head -3 "$T/forkchild.cc")"
fi
# A program that defines GC_malloc_kind sees every GC_malloc come through it (libgc
# calls it through its PLT), with the library as without: GC_malloc goes straight to
# libgc's GC_malloc_kind only where that call would come back to libgcprof's.
if gcc -O1 -rdynamic -o "$T/ownkind" "$HERE/ownkind.c" -lgc -ldl 2>"$T/ownkind.cc"; then
    "$GCPROF" -o "$T/ownkind" -rate 1 -- "$T/ownkind" >"$T/ownkind.out" 2>"$T/ownkind.err"
    expect_eq programs_own_malloc_kind_sees_every_gc_malloc "$(cat "$T/ownkind.out")" "own GC_malloc_kind saw 100 of 100"
    check programs_own_malloc_kind_objects_counted_once bash -c \
        'go tool pprof -sample_index=alloc_objects -top "$1" 2>/dev/null | grep -q "accounting for 100, 100% of 100 total"' _ "$T/ownkind.allocs.pb.gz"
else
    fail ownkind_builds "$(head -3 "$T/ownkind.cc")"
fi
# Children forked without exec while the program's other threads allocate at -rate 1:
# a profiler lock one of them held at a fork stayed held in the child, which hung at
# its first sample. Unprofiled (no -children), a child counts nothing and takes no lock.
if gcc -O1 -o "$T/forkbusy" "$HERE/forkbusy.c" -lgc -lpthread 2>"$T/forkbusy.cc"; then
    timeout -k 5 240 "$GCPROF" -o "$T/forkbusy" -rate 1 -- "$T/forkbusy" 30 >"$T/forkbusy.out" 2>"$T/forkbusy.err"
    expect_eq busy_program_forked_children_never_hang "$(cat "$T/forkbusy.out")" "forks=30 hung=0"
else
    fail forkbusy_builds "$(head -3 "$T/forkbusy.cc")"
fi
# A relative PREFIX names the directory the program started in, even when the program
# changes directory before it exits (the files are written then).
mkdir -p "$T/start/elsewhere"
(cd "$T/start" && "$GCPROF" -o rel -- guile -c '(chdir "elsewhere")') 2>"$T/rel.err"
check relative_prefix_written_where_the_program_started test -s "$T/start/rel.heap.pb.gz"
check relative_prefix_found_by_gcprof_said_nothing test ! -s "$T/rel.err"
# A program that disabled collection: the final collection does not run, and the files
# do not say it did (the reachable count reads mark bits, which only a collection sets).
GC_DONT_GC=1 "$GCPROF" -o "$T/nogc" -v -- guile -c '(display (length (iota 100000)))' >/dev/null 2>"$T/nogc.err"
expect_eq final_collection_not_claimed_when_collection_disabled "$(var "$T/nogc.vars.json" final.collected)" 0
check final_collection_absence_said_under_v grep -q 'no final collection ran' "$T/nogc.err"
# A wrapper script that execs the program in its place (same process): profiled, even
# after a cd. Its other children still run without the library.
(cd "$T/start" && "$GCPROF" -o wrapped -- sh -c 'cd elsewhere && exec guile -c "(display 1)"') >"$T/wrapped.out" 2>"$T/wrapped.err"
check exec_in_place_is_profiled test -s "$T/start/wrapped.heap.pb.gz"
"$GCPROF" -o "$T/wchild" -- sh -c 'guile -c "(display (or (getenv \"LD_PRELOAD\") \"none\"))"' >"$T/wchild.out" 2>/dev/null
expect_eq launchers_children_do_not_inherit_the_library "$(cat "$T/wchild.out")" none
check launchers_child_not_profiled test ! -e "$T/wchild.heap.pb.gz"
# The command starts a new run: a root mark the environment inherited (from a profiled
# launcher, or set by hand) must not make the program look like another's child.
GCPROF_ROOT_PID=1 "$GCPROF" -o "$T/stale" -- guile -c '(display 1)' >/dev/null 2>"$T/stale.err"
check inherited_root_mark_does_not_skip_the_program test -s "$T/stale.heap.pb.gz"
# A launcher that does not load libgc.so, whose child does: the message points to -children.
"$GCPROF" -o "$T/launcher" -- sh -c 'guile -c 1' 2>"$T/launcher.err"
check launcher_without_profile_points_to_children grep -q 'no profile at .*unprofiled without -children' "$T/launcher.err"
"$GCPROF" -o "$T/none" -v -- true 2>"$T/none.err"
expect_eq program_without_libgc_runs_as_usual $? 0
check program_without_libgc_is_reported grep -q 'does not load libgc.so' "$T/none.err"
"$GCPROF" -o "$T/bad" -rate x -- true 2>"$T/bad.err"
expect_eq bad_rate_refused_with_usage_status $? 2
check bad_rate_message_names_the_variable grep -q 'GCPROF_RATE: must be a decimal integer' "$T/bad.err"
"$GCPROF" -o "$T/bad" -http 0.0.0.0:6060 -- true 2>"$T/bad.err"
check non_loopback_http_refused grep -q 'GCPROF_HTTP: must be a loopback' "$T/bad.err"
GCPROF_OUT=$T/hand GCPROF_RATE=nope LD_PRELOAD=$ROOT/libgcprof.so guile -c '(display 1)' >"$T/hand.out" 2>"$T/hand.err"
check bad_setting_by_hand_leaves_the_program_alone grep -qx 1 "$T/hand.out"
check bad_setting_by_hand_is_reported grep -q 'GCPROF_RATE' "$T/hand.err"

# ---- observe, never steer: what libgcprof.so links from bdwgc ---------------------------
# The entry points it forwards to are looked up at run time (dlsym); what it links are
# bdwgc's read-only observer functions. No tuning, registration or collection function.
linked=$(nm -D --undefined-only "$ROOT/libgcprof.so" | awk '$2 ~ /^GC_/ { print $2 }' | sort | tr '\n' ' ')
expect_eq library_links_only_bdwgc_observers "$linked" \
    "GC_base GC_call_with_alloc_lock GC_enumerate_reachable_objects_inner GC_get_all_interior_pointers GC_get_free_bytes GC_get_gc_no GC_get_heap_size GC_get_prof_stats GC_get_prof_stats_unsafe GC_get_total_bytes GC_get_version GC_is_incremental_mode GC_is_init_called GC_is_marked GC_size GC_thread_is_registered "

# What it defines for the program: bdwgc's entry points, and recv() (src/reqgate.c: the
# request gate under the libmicrohttpd it loads late), which passes the program's own
# calls to libc's (tests/integration/gcprof_surface.sh checks the gate).
exported=$(nm -D --defined-only "$ROOT/libgcprof.so" | awk '$3 !~ /^GC_/ && $3 !~ /^(__start_|__stop_)memdemo_alloc_text$/ &&
    $3 != "etext" { print $3 }' | tr '\n' ' ')
expect_eq library_exports_only_bdwgc_entry_points_and_recv "${exported:-none}" "recv "
RECV_SCM='(use-modules (rnrs bytevectors)) (let* ((p (socketpair PF_UNIX SOCK_STREAM 0)) (b (make-bytevector 5)))
  (send (car p) (string->utf8 "hello")) (recv! (cdr p) b) (display (utf8->string b)))'
"$GCPROF" -http 127.0.0.1:0 -- guile -c "$RECV_SCM" >"$T/recv.out" 2>"$T/recv.err"
expect_eq programs_own_recv_unchanged_under_http "$(cat "$T/recv.out")" hello

# ---- -http: the live pages while the program runs ---------------------------------------
# start_live NAME ARGS...: gcprof -http running ARGS (tests/lib.sh gcprof_live).
start_live() { local name=$1; shift; gcprof_live "$name" -- "$@"; }
if start_live live guile --no-auto-compile "$HERE/leak.scm" 150000; then
    code=$(curl -s -o "$T/live.heap" -w '%{http_code}' --max-time 30 "$LIVE/debug/pprof/heap?gc=1")
    expect_eq live_heap_gc1_answers_200 "$code" 200
    types=$(go tool pprof -raw "$T/live.heap" 2>/dev/null | sed -n '5p' | tr -s ' ')
    expect_eq live_heap_is_a_heap_profile "$types" "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes"
    curl -s --max-time 30 "$LIVE/debug/vars" >"$T/live.vars"
    check live_gc1_ran_on_a_program_thread test "$(var "$T/live.vars" gcprof.requested_collections)" -ge 1
    check live_vars_has_memstats test "$(var "$T/live.vars" memstats.NumGC)" -ge 1
    curl -s --max-time 30 -o "$T/live.trace" "$LIVE/debug/pprof/trace?seconds=1"
    expect_eq live_trace_is_a_go_trace "$(head -c 13 "$T/live.trace")" "go 1.19 trace"
    # A location the profile names (JIT code has none) must get the same name back. A
    # program slowed by a loaded machine may not have reached its first sample yet: the
    # heap is fetched again (at most 10 s) until a location has a name.
    pc=
    for _ in $(seq 1 20); do
        read -r pc fn < <(go tool pprof -raw "$T/live.heap" 2>/dev/null |
            awk '/^Locations/ { on = 1; next } /^Mappings/ { on = 0 } on && NF >= 3 && $3 !~ /^M=/ { print $2, $3; exit }')
        [ -n "$pc" ] && break
        sleep 0.5
        curl -s -o "$T/live.heap" --max-time 30 "$LIVE/debug/pprof/heap"
    done
    check live_symbol_resolves_a_pc bash -c 'curl -s --max-time 30 -d "$1" "$2/debug/pprof/symbol" | grep -qx "$1 $3"' _ "$pc" "$LIVE" "$fn"
    expect_eq live_unknown_path_404 "$(curl -s -o /dev/null -w '%{http_code}' "$LIVE/debug/nothing")" 404
    curl -s --max-time 30 "$LIVE/metrics" >"$T/live.metrics"
    check live_metrics_served grep -q '^go_gc_duration_seconds_count ' "$T/live.metrics"
    check live_vars_has_the_surface_sections test -n "$(var "$T/live.vars" http.headers_dropped)"
    code=$(curl -s -o "$T/live.cpu" -w '%{http_code}' --max-time 30 "$LIVE/debug/pprof/profile?seconds=1")
    expect_eq live_cpu_profile_not_served_404 "$code" 404
    check live_cpu_profile_refusal_says_why grep -q 'not served here: it signals every thread' "$T/live.cpu"
    stop_server "$LIVE_PID"
    expect_eq live_program_stopped_by_its_signal "$STOP_STATUS" 143
else
    fail live_pages_start "$(cat "$T/live.err")"
fi
# A program that does not allocate cannot run ?gc=1 for the profiler: refused, with why.
# Asked once guile has started and says so: a collection of its start-up that came after
# the request would rightly serve it (a loaded machine starts guile slowly).
if start_live idle guile -c '(begin (display "idle") (newline) (force-output) (sleep 30))'; then
    for _ in $(seq 1 300); do grep -q '^idle$' "$T/idle.out" && break; sleep 0.1; done
    check idle_program_started grep -q '^idle$' "$T/idle.out"
    code=$(curl -s -D "$T/idle.h" -o "$T/idle.body" -w '%{http_code}' --max-time 30 "$LIVE/debug/pprof/heap?gc=1")
    expect_eq idle_gc1_refused_503 "$code" 503
    check idle_gc1_refusal_shown_by_pprof grep -qi '^X-Go-Pprof: 1' "$T/idle.h"
    check idle_gc1_refusal_says_why grep -q 'no thread of the program allocated' "$T/idle.body"
    expect_eq idle_heap_without_gc1_answers "$(curl -s -o /dev/null -w '%{http_code}' "$LIVE/debug/pprof/heap")" 200
    # Its port is taken: another program asking for it runs without pages, and the
    # message names gcprof (not the HTTP core's own host, memdemo).
    "$GCPROF" -http "${LIVE#http://}" -- guile -c '(display 1)' >"$T/taken.out" 2>"$T/taken.err"
    expect_eq port_taken_program_still_runs "$(cat "$T/taken.out")" 1
    check port_taken_message_names_gcprof grep -q '^gcprof: cannot listen on .*Address already in use' "$T/taken.err"
    stop_server "$LIVE_PID"
else
    fail idle_pages_start "$(cat "$T/idle.err")"
fi

# A child the program forks (no exec) and that exits: it dies of nothing, and the parent
# still serves (the child once stopped the server it shares: it crashed, and the parent's
# acceptor spun on the socket the child had shut down).
FORK_SCM='(let ((pid (primitive-fork))) (if (= pid 0) (primitive-exit 0)
  (begin (display (cdr (waitpid pid))) (newline) (force-output) (sleep 30))))'
if start_live forked guile -c "$FORK_SCM"; then
    for _ in $(seq 1 300); do [ -s "$T/forked.out" ] && break; sleep 0.1; done
    expect_eq forked_child_exits_normally "$(cat "$T/forked.out")" 0
    expect_eq parent_serves_after_forked_child_exits \
        "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$LIVE/debug/vars")" 200
    stop_server "$LIVE_PID"
else
    fail forked_pages_start "$(cat "$T/forked.err")"
fi

# ---- bdwgc linked statically: said at start; the --wrap variant on memdemo's objects ----
GCPROF_OUT=$T/static LD_PRELOAD=$ROOT/libgcprof.so "$MEMDEMO" -help >/dev/null 2>"$T/static.err"
check static_bdwgc_is_reported grep -q 'has bdwgc linked in statically.*gcprof-wrap.o' "$T/static.err"
WRAPPED=$ROOT/$MEMDEMO_BUILD/tools/memdemo-gcwrap
if [ -x "$WRAPPED" ]; then
    GCPROF_OUT=$T/wrap GCPROF_RATE=4096 MEMDEMO=$WRAPPED start_server -repetitions 1000 || exit 1
    for i in $(seq 1 150); do http /leaker >/dev/null; http /noleaker >/dev/null; done
    http /debug/vars >"$T/wrap.own.vars"
    check wrap_programs_own_listeners_still_run test "$(json_num NumPause "$T/wrap.own.vars")" -ge 1
    stop_server
    expect_eq wrap_program_exits_normally "$STOP_STATUS" 0
    accuracy wrap 0.05 0.10
    top=$(go tool pprof -sample_index=inuse_space -top "$T/wrap.heap.pb.gz" 2>/dev/null | awk '/flat%/ { getline; print $6 }')
    case $top in
    numstr_itoa|strlist_push) pass wrap_top_inuse_frame_is_memdemos_allocation_site ;;
    *) fail wrap_top_inuse_frame_is_memdemos_allocation_site "top frame '$top'" ;;
    esac
    check wrap_leaker_in_alloc_stacks bash -c 'go tool pprof -sample_index=alloc_space -top "$1" 2>/dev/null | grep -q handle_leaker' _ "$T/wrap.allocs.pb.gz"
else
    fail wrap_variant_built "$WRAPPED missing: run make unit-tests"
fi
