# tests/lib.sh: shared helpers for integration and oracle tests (sourced, bash).
#
# A test script prints "PASS name" / "FAIL name: reason" lines (tests/run counts them),
# starts servers with start_server (a free loopback port, stopped by PID on exit), and
# never sends traffic anywhere but 127.0.0.1. Everything it leaves goes under $T, which
# is removed at exit unless a check failed or the script was stopped by a signal; then
# it is kept and its path printed, to inspect.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The binary under test: ./memdemo, or the one `make test SANITIZER=...` built.
MEMDEMO=${MEMDEMO:-$ROOT/memdemo}
MEMDEMO_BUILD=${MEMDEMO_BUILD:-build}
MEMDEMO_SANITIZER=${MEMDEMO_SANITIZER:-}
T=$(mktemp -d "${TMPDIR:-/tmp}/memdemo-test.XXXXXX")
SERVER_PIDS=()
KEEP_T=0   # set by fail and by a terminating signal: $T is kept

cleanup_servers() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    if [ "$KEEP_T" = 1 ]; then echo "# kept temporary files in $T"; else rm -rf "$T"; fi
}
trap cleanup_servers EXIT
trap 'KEEP_T=1; exit 143' TERM
trap 'KEEP_T=1; exit 130' INT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; KEEP_T=1; }
skip() { echo "SKIP $1: $2"; }

# slow_file NAME WHAT: a file that takes minutes runs only with MEMDEMO_SLOW=1 (.ci/run
# sets it); otherwise it prints one SKIP line saying how to run it and exits 0.
slow_file() {
    [ "${MEMDEMO_SLOW:-0}" = 1 ] && return 0
    skip "$1" "$2 runs in CI only: MEMDEMO_SLOW=1 make test (or .ci/run) runs it"
    exit 0
}

# check NAME CONDITION-COMMAND...: PASS if the command succeeds. A failure prints the
# command with its arguments expanded (a `test A = B` shows both values), its exit
# status, and how each regular file among its arguments begins (what a grep searched).
check() {
    local name=$1; shift
    "$@" && { pass "$name"; return; }
    local rc=$? a what="" shown=0
    for a in "$@"; do
        [ -f "$a" ] && [ "$shown" -lt 2 ] || continue
        shown=$((shown + 1))
        what="$what; ${a#"$T"/} ($(wc -c <"$a") bytes) begins: '$(head -c 160 "$a" | tr '\n\t' '  ')'"
    done
    fail "$name" "$* (exit $rc)$what"
}

# expect_eq NAME GOT WANT: PASS if GOT equals WANT. Empty GOT or WANT is a failure: an
# empty value means a command printed nothing, and two empty values must not look equal.
expect_eq() {
    if [ -z "$2" ] || [ -z "$3" ]; then fail "$1" "got '$2', want '$3' (empty: nothing to compare)"
    elif [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

# expect_ge NAME GOT MIN (integers; an empty or non-numeric GOT fails)
expect_ge() {
    if [ -n "$2" ] && [ "$2" -ge "$3" ] 2>/dev/null; then pass "$1"; else fail "$1" "got '$2', want >= $3"; fi
}

# expect_le NAME GOT MAX (integers; an empty or non-numeric GOT fails)
expect_le() {
    if [ -n "$2" ] && [ "$2" -le "$3" ] 2>/dev/null; then pass "$1"; else fail "$1" "got '$2', want <= $3"; fi
}

# start_server [memdemo flags...]: starts ./memdemo on 127.0.0.1 with a port the kernel
# picks, waits for its "listening on" line. Sets SERVER_PID, PORT, BASE, SERVER_LOG.
# Returns 1 (and prints the log) if it does not come up within 10 s.
start_server() {
    SERVER_LOG=$T/server.$$.$RANDOM.log
    : >"$SERVER_LOG"   # exists before the first look, however late the shell opens it below
    "$MEMDEMO" -addr 127.0.0.1:0 "$@" 2>"$SERVER_LOG" >/dev/null &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    local i
    for i in $(seq 1 100); do
        PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$SERVER_LOG" | head -1)
        if [ -n "$PORT" ]; then BASE=http://127.0.0.1:$PORT; return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "server did not start:" >&2; cat "$SERVER_LOG" >&2
    return 1
}

# stop_server [PID]: SIGTERM, wait up to 10 s, then SIGKILL. Sets STOP_STATUS.
stop_server() {
    local pid=${1:-$SERVER_PID} i
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null; STOP_STATUS=$?
}

# http PATH [curl args...]: body to stdout; status code in $T/status.
http() {
    local path=$1; shift
    curl -s -o "$T/body" -w '%{http_code}' --max-time 60 "$@" "$BASE$path" >"$T/status"
    cat "$T/body"
}
status() { cat "$T/status"; }

# send_raw FD FORMAT: printf FORMAT (escapes allowed) to descriptor FD, e.g. a
# /dev/tcp socket, with SIGPIPE ignored. bash's printf writes line by line; a server
# that closes after a bad first line turns the next write into SIGPIPE, which would
# kill the whole test script (exit 141, seen under CPU contention).
send_raw() { ( trap '' PIPE; printf "$2" >&"$1" ) 2>/dev/null; }

# json_num KEY FILE: the first number following "KEY": in a JSON text.
json_num() { grep -o "\"$1\": *[0-9]*" "$2" | head -1 | grep -o '[0-9]*$'; }

# pprof_refusal NAME STATUS TEXT PATH [CURL-ARGS...]: PATH answers STATUS in the /debug
# layer's error style (net/http/pprof's serveError: text/plain, X-Go-Pprof: 1) with a
# body holding TEXT. Leaves the body in $T/refusal, its headers in $T/refusal.h.
pprof_refusal() {
    local name=$1 want=$2 text=$3 path=$4; shift 4
    local got; got=$(curl -s --max-time 60 -D "$T/refusal.h" -o "$T/refusal" -w '%{http_code}' "$@" "$BASE$path")
    if [ "$got" = "$want" ] && grep -q -- "$text" "$T/refusal" && grep -qi '^X-Go-Pprof: 1' "$T/refusal.h" \
       && grep -qi '^Content-Type: text/plain' "$T/refusal.h"; then pass "$name"
    else fail "$name" "status $got (want $want), body $(head -c 200 "$T/refusal") (want $text)"; fi
}

# load SECONDS CONNECTIONS PATH...: wrk against each path in turn, round robin via a
# Lua script; output in $T/wrk.out. Bounded by SECONDS (+ wrk's timeout).
load() {
    local secs=$1 conns=$2; shift 2
    local paths="" p
    for p in "$@"; do paths="$paths\"$p\","; done
    cat >"$T/rr.lua" <<LUA
-- round robin over the paths; counts 200 answers from /leaker by their body
local paths = {${paths}}
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) i = 0; leaker_ok = 0 end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
response = function(status, headers, body)
  if status == 200 and string.sub(body, 1, 7) == "leaker:" then leaker_ok = leaker_ok + 1 end
end
done = function(summary, latency, requests)
  local ok = 0
  for _, t in ipairs(threads) do ok = ok + t:get("leaker_ok") end
  io.write(string.format("REQUESTS %d\nERRORS %d %d %d %d %d\nLEAKER_OK %d\n", summary.requests,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, ok))
end
LUA
    wrk -t 2 -c "$conns" -d "${secs}s" --timeout 10s -s "$T/rr.lua" "$BASE" >"$T/wrk.out" 2>&1
}

# requests N PATH: N sequential GETs of PATH over one keep-alive connection (curl).
# Prints how many answered 200.
requests() {
    local n=$1 path=$2 i
    {
        for ((i = 0; i < n; i++)); do
            printf 'url = "%s%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$BASE" "$path"
        done
    } >"$T/curl.cfg"
    curl -s --max-time 300 -K "$T/curl.cfg" | grep -c '^200$'
}

# vars_num KEY: a number from /debug/vars (first occurrence of "KEY": N).
vars_num() { curl -s --max-time 10 "$BASE/debug/vars" >"$T/vars.json"; json_num "$1" "$T/vars.json"; }

# Raw HTTP: tests/rawhttp.py sends what curl will not (malformed, trickled, oversized
# requests, connection storms) and prints one key=value line per exchange.
RAW="python3 $ROOT/tests/rawhttp.py"
# fact KEY LINE: the value of KEY=... in a rawhttp line.
fact() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
# expect_facts NAME LINE KEY=VALUE...: PASS if every KEY has that VALUE.
expect_facts() {
    local name=$1 line=$2 kv; shift 2
    for kv in "$@"; do
        if [ "$(fact "${kv%%=*}" "$line")" != "${kv#*=}" ]; then fail "$name" "want $kv, got: $line"; return; fi
    done
    pass "$name"
}
# conn_num KEY: a connections.* figure from /debug/vars (0 when absent).
conn_num() { local v; v=$(vars_num "$1"); echo "${v:-0}"; }

# check_absent NAME PATTERN FILE: PASS if FILE has lines and none matches PATTERN. A
# missing or empty FILE is a failure: the command that should have filled it failed, and
# "nothing matches" would then be true for the wrong reason.
check_absent() {
    if [ ! -s "$3" ]; then fail "$1" "$(basename "$3") is missing or empty: nothing to inspect"
    elif grep -q -- "$2" "$3"; then fail "$1" "found '$2' in $(basename "$3"): $(grep -m1 -- "$2" "$3")"
    else pass "$1"; fi
}

# gcprof_test NAME PROGRAM...: the start of a test file of gcprof: sets GCPROF and HERE
# (tests/gcprof). Under a sanitizer the file says SKIP and exits 0: libgcprof.so is
# preloaded into programs not built with that sanitizer, and the plain suite tests it.
# Without ./gcprof and ./libgcprof.so, or without one of the PROGRAMs, it fails and exits.
gcprof_test() {
    local name=$1 prog; shift
    GCPROF=$ROOT/gcprof
    HERE=$ROOT/tests/gcprof
    if [ -n "$MEMDEMO_SANITIZER" ]; then
        skip "$name" "libgcprof.so is preloaded into programs not built with the $MEMDEMO_SANITIZER sanitizer; the plain suite tests it"
        exit 0
    fi
    if [ ! -x "$GCPROF" ] || [ ! -f "$ROOT/libgcprof.so" ]; then fail gcprof_built "no ./gcprof or ./libgcprof.so: run make"; exit 1; fi
    for prog in "$@"; do
        command -v "$prog" >/dev/null || { fail "${name}_needs_$prog" "$prog is not installed: run .ci/deps"; exit 1; }
    done
}

# gcprof_live NAME GCPROF-ARGS... -- PROGRAM ARGS...: $GCPROF -http on a free loopback
# port, stdout in $T/NAME.out and stderr in $T/NAME.err; sets LIVE_PID and LIVE, the base
# URL gcprof prints on stderr. Returns 1 when none came within 10 s (LIVE is then empty).
gcprof_live() {
    local name=$1; shift
    live_start "$name" "$GCPROF" -http 127.0.0.1:0 "$@"
}
# linked_live NAME PROGRAM ARGS...: the same for a program linked with gcprof's static
# variant (gcprof-wrap.o), which reads its settings from the environment.
linked_live() {
    local name=$1; shift
    live_start "$name" env GCPROF_HTTP=127.0.0.1:0 "$@"
}
live_start() {
    local name=$1 i; shift
    : >"$T/$name.err"   # exists before the first look below
    "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null &
    LIVE_PID=$!
    SERVER_PIDS+=("$LIVE_PID")
    LIVE=
    for i in $(seq 1 100); do
        LIVE=$(sed -n 's|^gcprof: serving \(http://127.0.0.1:[0-9]*\)/debug/pprof/$|\1|p' "$T/$name.err")
        [ -n "$LIVE" ] && return 0
        sleep 0.1
    done
    return 1
}
