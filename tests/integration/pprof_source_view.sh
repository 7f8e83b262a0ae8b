#!/bin/bash
# pprof_source_view: oracle test for the heap profile's View -> Source:
# `go tool pprof -http` of every Go toolchain present serves /ui/source for handle_leaker
# with memdemo's C lines and their byte figures, with the memdemo binary at its build path
# (where pprof finds and re-reads it), run from the project directory and from another.
# The pprof tool binary is started directly, so the PID this test stops is pprof's own.
source "$(dirname "$0")/../lib.sh"
mkdir -p "$T/pp" "$T/elsewhere"
export PPROF_TMPDIR=$T/pp HOME=$T

start_server -repetitions 1000 -memprofilerate 16384 || exit 1
requests 200 /leaker >/dev/null
requests 100 /noleaker >/dev/null
curl -s --max-time 30 -o "$T/heap.pb.gz" "$BASE/debug/pprof/heap"
stop_server
LINE='strlist_fill_numbers(&amp;mine, repetitions);'   # src/handlers.c, as HTML escapes it

# ui_source TOOL DIR OUT: runs TOOL -http from DIR on the saved profile, fetches the
# source page the UI's View -> Source opens for the selected handle_leaker node.
ui_source() {
    local tool=$1 dir=$2 out=$3 pid port="" i
    (cd "$dir" && exec "$tool" -http=127.0.0.1:0 -no_browser "$T/heap.pb.gz" >"$out.log" 2>&1) &
    pid=$!
    SERVER_PIDS+=("$pid")
    for i in $(seq 1 150); do   # it prints port 0: ask the kernel which port the PID holds
        port=$(ss -ltnpH 2>/dev/null | grep "pid=$pid," | grep -o '127\.0\.0\.1:[0-9]*' | cut -d: -f2 | head -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    : >"$out"
    [ -n "$port" ] && curl -s --max-time 30 -o "$out" \
        "http://127.0.0.1:$port/ui/source?f=%5Ehandle_leaker%24&si=alloc_space"
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
}

# check_source NAME FILE: the page shows the leaker's call line with a byte figure, and
# no line whose text pprof could not find.
check_source() {
    local name=$1 f=$2 row
    row=$(sed 's/<[^>]*>//g' "$f" | grep -F -m1 "$LINE")
    if [ -z "$row" ]; then fail "${name}_shows_handlers_c_line" "no '$LINE' in the page ($(wc -c <"$f") bytes: $(sed 's/<[^>]*>//g' "$f" | tr -s ' \n' ' ' | head -c 160))"
    elif ! grep -qE '[0-9.]+[kMG]?B' <<<"$row"; then fail "${name}_shows_handlers_c_line" "no byte figure: $row"
    else pass "${name}_shows_handlers_c_line"; fi
    if [ -s "$f" ] && ! sed 's/<[^>]*>//g' "$f" | grep -q '???'; then pass "${name}_has_no_unknown_lines"
    else fail "${name}_has_no_unknown_lines" "$(sed 's/<[^>]*>//g' "$f" | grep -c '???') lines show ???"; fi
}

for v in 1.19 1.23; do
    tool=/usr/lib/go-$v/pkg/tool/linux_amd64/pprof
    if [ ! -x "$tool" ]; then
        echo "SKIP source_view_go${v/./_}: $tool not installed"
        continue
    fi
    ui_source "$tool" "$ROOT" "$T/src-$v-project.html"
    check_source "source_view_go${v/./_}_from_project" "$T/src-$v-project.html"
    ui_source "$tool" "$T/elsewhere" "$T/src-$v-elsewhere.html"
    check_source "source_view_go${v/./_}_from_elsewhere" "$T/src-$v-elsewhere.html"
done
