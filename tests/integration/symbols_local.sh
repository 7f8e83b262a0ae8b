#!/bin/bash
# symbols_local: names come from files on this machine, never from the network, and
# read as their callers write them.
#
# libdw's standard way to find a module's separate debug file ends by asking the
# debuginfod servers DEBUGINFOD_URLS names (Debian sets it in login shells), which made
# a profiled program's exit, or a /debug/pprof request to memdemo, wait on downloads
# (and load libdw's HTTP client, some thirty libraries, to try). The symbolizer looks
# up debug files locally instead: by build ID under /usr/lib/debug, else by the
# module's .gnu_debuglink beside it. Checked here:
#   - with DEBUGINFOD_URLS naming a listener on 127.0.0.1, neither gcprof (w3m) nor
#     memdemo (its symbolized heap profile) connects to it;
#   - a stripped program whose DWARF sits in a separate file named by .gnu_debuglink
#     still gets file and line names, whether the link is matched by build ID or, for a
#     binary built without one, by the link's CRC; a debug file of another build under
#     the linked name is not used;
#   - a name whose symbol table spells a version into it (glibc's debug file does) is
#     shown without it.
source "$(dirname "$0")/../lib.sh"
export HOME=$T GOCACHE=$T/gocache
GCPROF=$ROOT/gcprof
HERE=$ROOT/tests/gcprof

# ---- a debuginfod that must never be asked ----------------------------------------------
# A listener on a loopback port the kernel picks (written to $T/port) that counts the
# connections it accepts into $T/asked (bounded: it exits when stopped by PID, or after the
# runner's 300 s per file; were it gone before the checks, a connection would be refused
# and not counted, and "never asked" could not fail).
python3 - "$T/port" "$T/asked" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0)); s.listen(64); s.settimeout(0.2)
n, end = 0, time.monotonic() + 300
open(sys.argv[2], "w").write("0")
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while time.monotonic() < end:
    try:
        c, _ = s.accept(); c.close(); n += 1
        open(sys.argv[2], "w").write(str(n))
    except socket.timeout:
        pass
PY
LISTENER=$!
SERVER_PIDS+=("$LISTENER")
for _ in $(seq 1 50); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(cat "$T/port")
export DEBUGINFOD_URLS=http://127.0.0.1:$port DEBUGINFOD_TIMEOUT=2

if [ -z "$MEMDEMO_SANITIZER" ] && [ -x "$GCPROF" ] && command -v w3m >/dev/null; then
    python3 "$HERE/page.py" 50 >"$T/page.html"
    "$GCPROF" -o "$T/w3m" -rate 4096 -- w3m -dump "$T/page.html" >/dev/null 2>"$T/w3m.err"
    check gcprof_w3m_profile_names_libc bash -c 'go tool pprof -top "$1" 2>/dev/null | grep -q __libc_start_main' _ "$T/w3m.allocs.pb.gz"
    expect_eq gcprof_never_asks_debuginfod "$(cat "$T/asked")" 0
fi

start_server -repetitions 100 -memprofilerate 1 || exit 1
curl -s --max-time 10 "$BASE/leaker" >/dev/null
code=$(curl -s -o "$T/heap.txt" -w '%{http_code}' --max-time 30 "$BASE/debug/pprof/heap?debug=1")
expect_eq memdemo_heap_debug_1_answered "$code" 200
check memdemo_heap_has_its_own_names grep -q 'handle_leaker' "$T/heap.txt"
expect_eq memdemo_never_asks_debuginfod "$(cat "$T/asked")" 0
unset DEBUGINFOD_URLS
kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null

# ---- separate debug files by .gnu_debuglink ---------------------------------------------
if [ -n "$MEMDEMO_SANITIZER" ]; then
    skip symbols_debuglink "gcprof is preloaded into programs not built with the $MEMDEMO_SANITIZER sanitizer; the plain suite tests it"
    exit 0
fi

# split NAME CC-OPTIONS...: builds threads.c as $T/NAME/threads, its DWARF moved to
# $T/NAME/threads.debug and named by a debug link; the binary stripped.
split() {
    local d=$T/$1; shift
    mkdir -p "$d"
    gcc -O1 -g "$@" -o "$d/threads" "$HERE/threads.c" -lgc -lpthread &&
        objcopy --only-keep-debug "$d/threads" "$d/threads.debug" &&
        strip --strip-all "$d/threads" &&
        objcopy --add-gnu-debuglink="$d/threads.debug" "$d/threads"
}

# lines NAME: how many of the allocs profile's locations name threads.c with a line.
lines() {
    "$GCPROF" -o "$T/$1/p" -rate 4096 -- "$T/$1/threads" 2000 >/dev/null 2>"$T/$1/err"
    go tool pprof -lines -top -nodecount=1000 -nodefraction=0 "$T/$1/p.allocs.pb.gz" 2>/dev/null |
        grep -c 'threads\.c:[0-9]'
}

if split buildid -Wl,--build-id && split nobuildid -Wl,--build-id=none && split stale -Wl,--build-id=none; then
    check buildid_binary_is_stripped bash -c '! readelf -S "$1" | grep -q debug_info' _ "$T/buildid/threads"
    check nobuildid_binary_has_no_build_id bash -c '! readelf -n "$1" | grep -q "Build ID"' _ "$T/nobuildid/threads"
    expect_ge debuglink_found_by_build_id "$(lines buildid)" 1
    expect_ge debuglink_found_by_crc "$(lines nobuildid)" 1
    # Another build's debug file under the linked name: its CRC differs, so it is refused.
    gcc -O0 -g -DSTALE_BUILD -o "$T/other" "$HERE/threads.c" -lgc -lpthread &&
        objcopy --only-keep-debug "$T/other" "$T/stale/threads.debug"
    expect_eq stale_debug_file_not_used "$(lines stale)" 0
    # The linked name is the module's to choose: a FIFO there blocked the open, and a
    # link to /dev/zero fed the CRC for good (symbols lock held, the program's exit
    # waiting on both). Neither is a file to read: the program exits, unnamed lines.
    if split fifo -Wl,--build-id=none && split devzero -Wl,--build-id=none; then
        rm -f "$T/fifo/threads.debug" "$T/devzero/threads.debug"
        mkfifo "$T/fifo/threads.debug" && ln -s /dev/zero "$T/devzero/threads.debug"
        for k in fifo devzero; do
            timeout -k 5 60 "$GCPROF" -o "$T/$k/p" -rate 4096 -- "$T/$k/threads" 200 >/dev/null 2>&1
            expect_eq "debuglink_${k}_not_read_program_exits" $? 0
            check "debuglink_${k}_profile_written" test -s "$T/$k/p.allocs.pb.gz"
        done
    else
        fail symbols_debuglink_odd_files_build "gcc, objcopy or strip failed"
    fi
else
    fail symbols_debuglink_programs_build "gcc, objcopy or strip failed"
fi

# ---- versioned symbol names ---------------------------------------------------------------
# A library whose symbol table spells a version into a name (glibc's debug file does:
# __libc_start_main@@GLIBC_2.34): profiles name the function as its callers write it.
d=$T/versioned
mkdir -p "$d"
printf 'TESTV1 { global: versioned_alloc; local: *; };\n' >"$d/v.map"
if gcc -O1 -g -shared -fPIC -Wl,--version-script="$d/v.map" -o "$d/libversioned.so" "$HERE/versioned.c" -lgc &&
    gcc -O1 -g -DVERSIONED_MAIN -o "$d/versioned" "$HERE/versioned.c" -L"$d" -Wl,-rpath,"$d" -lversioned -lgc; then
    check versioned_library_has_a_versioned_name bash -c 'readelf -sW "$1" | grep -q "versioned_alloc@@TESTV1"' _ "$d/libversioned.so"
    "$GCPROF" -o "$d/p" -rate 1 -- "$d/versioned" 20000 >"$d/out" 2>"$d/err"
    go tool pprof -top -nodecount=1000 -nodefraction=0 "$d/p.allocs.pb.gz" >"$d/top" 2>&1
    check versioned_function_named_without_its_version grep -q ' versioned_alloc$' "$d/top"
    check_absent no_profile_name_carries_a_version '@@' "$d/top"
else
    fail versioned_programs_build "gcc failed"
fi
