#!/bin/bash
# flags.sh: -h and README's command-line table describe the same flags with the same
# defaults. Both are derived here, from the program's own -h output and from the table
# rows "| `-name ARG` | default | meaning |", so that adding, renaming or re-defaulting a
# flag in one place without the other fails. (The defaults themselves come from the
# owning modules' constants; this compares what users read.)
source "$(dirname "$0")/../lib.sh"

"$MEMDEMO" -h >"$T/help" 2>&1 || { fail help_lists_every_flag_with_defaults "-h exited $?"; exit 1; }

# The flags, from -h and from README's command-line table, one "name|kind|defaults|default"
# line each: kind "value" or "bool", defaults the number of "(default ...)" in its help,
# default the last one's text.
help_flags() { # < -h output (Go's layout: "  -name type" then tab-indented help lines)
    awk '
        function flush(   t, n, d, s, i, j) {
            if (name == "") return
            n = 0; d = ""; t = text
            while ((i = index(t, "(default")) > 0) {
                n++; s = substr(t, i + 8); j = index(s, ")")
                if (j == 0) j = length(s) + 1
                d = substr(s, 1, j - 1); t = substr(s, j + 1)
            }
            sub(/^[: ]+/, "", d)
            nn = split(name, names, ", ")
            for (k = 1; k <= nn; k++) { sub(/^-/, "", names[k]); print names[k] "|" kind "|" n "|" d }
            name = ""
        }
        /^  -/ {
            flush(); h = substr($0, 3); text = ""
            if (h ~ /, -/) { name = h; kind = "bool" }
            else { nf = split(h, a, " "); name = a[1]; kind = nf > 1 ? "value" : "bool" }
            next
        }
        /^\t/ { text = text " " substr($0, 2) }
        END { flush() }'
}
readme_flags() { # < README.md: rows "| `-name ARG` | default | meaning |" of its Command line section
    sed -n '/^#* Command line$/,/^#* [^C]/p' |
        sed -nE 's/^\| `-([a-z0-9-]+)( [^`]*)?` \| *([^|]*[^| ]) *\|.*$/\1|\2|1|\3/p' |
        awk -F'|' '{ print $1 "|" ($2 == "" ? "bool" : "value") "|" $3 "|" $4 }'
}
# norm_default TEXT: a default in one spelling: quotes dropped, "64 MiB" -> 67108864,
# "1,000" -> 1000, "CPUs" / "number of CPUs" -> this machine's CPU count, "half the
# RAM" -> half of its memory (or of its cgroup's limit).
norm_default() {
    local v=$1 n unit
    v=${v#\"}; v=${v%\"}
    case "${v,,}" in cpus|"number of cpus") getconf _NPROCESSORS_ONLN; return;; esac
    if [ "${v,,}" = "half the ram" ]; then   # -maxheap: half of RAM or of the cgroup's limit
        local mem cg f; mem=$(( $(getconf _PHYS_PAGES) * $(getconf PAGESIZE) ))
        for f in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do
            cg=$(cat "$f" 2>/dev/null); [[ $cg =~ ^[0-9]+$ ]] && [ "$cg" -lt "$mem" ] && mem=$cg
        done
        echo $((mem / 2)); return
    fi
    if [[ $v =~ ^([0-9][0-9,]*)\ *(B|KiB|MiB|GiB)?$ ]]; then
        n=${BASH_REMATCH[1]//,/}; unit=${BASH_REMATCH[2]}
        case "$unit" in KiB) n=$((n << 10));; MiB) n=$((n << 20));; GiB) n=$((n << 30));; esac
        echo "$n"; return
    fi
    echo "$v"
}
help_flags <"$T/help" | grep -v '^help|\|^h|' >"$T/help.flags"
readme_flags <"$ROOT/README.md" >"$T/readme.flags"
flag_problems=""
flag_problem() { flag_problems+="${flag_problems:+; }$*"; }
nh=$(grep -c '^  -' "$T/help"); nhp=$(grep -c . "$T/help.flags")
[ "$nhp" -ge 1 ] && [ $((nhp + 1)) = "$nh" ] ||
    flag_problem "parsed $nhp flags (besides -h) from $nh flag lines of -h"
[ -s "$T/readme.flags" ] || flag_problem "no flag rows in README's command-line table"
grep -q '`-h`' "$ROOT/README.md" || flag_problem "README does not mention -h"
while IFS='|' read -r name kind _ _; do
    r=$(grep "^$name|" "$T/readme.flags")
    if [ -z "$r" ]; then flag_problem "-$name is in -h but not in README's table"
    elif [ "$(cut -d'|' -f2 <<<"$r")" != "$kind" ]; then
        flag_problem "-$name takes a value in one of -h and README but not in the other"
    fi
done <"$T/help.flags"
while IFS='|' read -r name _ _ _; do
    grep -q "^$name|" "$T/help.flags" || flag_problem "-$name is in README's table but not in -h"
done <"$T/readme.flags"
while IFS='|' read -r name kind ndef _; do
    [ "$kind" = value ] && [ "$ndef" = 0 ] && flag_problem "-h shows no (default ...) for -$name"
done <"$T/help.flags"
if [ -z "$flag_problems" ]; then pass help_lists_every_flag_with_defaults
else fail help_lists_every_flag_with_defaults "$flag_problems"; fi

twice=$(awk -F'|' '$3 > 1 { printf " -%s (%d times)", $1, $3 }' "$T/help.flags")
if [ -s "$T/help.flags" ] && [ -z "$twice" ]; then pass help_states_each_default_once
else fail help_states_each_default_once "more than one (default ...) for${twice:- (no flags parsed)}"; fi

# The default -h prints (what the server uses) is the one README's table states.
mismatch=""
while IFS='|' read -r name kind _ hdef; do
    [ "$kind" = value ] || continue
    rdef=$(grep "^$name|" "$T/readme.flags" | cut -d'|' -f4)
    [ -n "$rdef" ] || continue            # a missing row is reported above
    h=$(norm_default "$hdef"); r=$(norm_default "$rdef")
    [ "$h" = "$r" ] || mismatch+="${mismatch:+; }-$name: -h says '$hdef' ($h), README '$rdef' ($r)"
done <"$T/help.flags"
if [ -s "$T/help.flags" ] && [ -z "$mismatch" ]; then pass help_defaults_match_readme
else fail help_defaults_match_readme "${mismatch:-no flags parsed}"; fi
