#!/bin/bash
# pprof_symbol: /debug/pprof/symbol answers any addresses a client posts without
# keeping anything for them. The symbolizer's per-pc cache used to take every posted
# address, for good: a client could grow the server's memory without bound, one 1 MiB
# body (69,000 addresses) at a time. Bodies now name at most 4096 addresses
# (DEBUG_PPROF_MAX_SYMBOLS); here 100 bodies of 4,000 distinct addresses each must
# leave the server's RSS within 2x of what it was after the first few (a count of pages,
# not a time; the bug made it about 10x).
source "$(dirname "$0")/../lib.sh"
start_server -repetitions 10 || exit 1
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }
body() { # N: the Nth body: 4,000 distinct addresses nothing is mapped at, 0x1NNN000000xx
    # (in two halves: awk's %x stops at 32 bits)
    awk -v n="$1" 'BEGIN { for (i = 0; i < 4000; i++) printf "0x%x%08x+", 4096 + n, i * 16 }'
}
body 0 >"$T/b0"
check symbol_body_is_4000_addresses test "$(tr '+' '\n' <"$T/b0" | grep -c .)" -eq 4000
for i in 1 2 3; do   # warm up: every worker thread's buffers and malloc arena
    curl -s -o /dev/null -o /dev/null -X POST --data-binary @"$T/b0" "$BASE/debug/pprof/symbol" "$BASE/debug/pprof/symbol"
done
before=$(rss)
for i in $(seq 1 100); do
    body "$i" >"$T/b"
    curl -s -o "$T/sym" -w '%{http_code}\n' -X POST --data-binary @"$T/b" "$BASE/debug/pprof/symbol" >>"$T/codes"
done
after=$(rss)
echo "# RSS ${before} kB after the warm-up, ${after} kB after 100 more bodies (400,000 distinct addresses)"
expect_eq symbol_lookups_all_answered "$(grep -c '^200$' "$T/codes")" 100
expect_eq unmapped_addresses_have_no_names "$(grep -vc '^num_symbols' "$T/sym")" 0
if [ "$MEMDEMO_SANITIZER" = address ]; then
    # ASan holds freed blocks in its quarantine (256 MB by default) before reusing them,
    # so RSS here measures ASan's allocator, not memdemo's.
    skip symbol_lookups_leave_no_memory_behind "RSS is not memdemo's under ASan (its quarantine keeps freed memory)"
else
    expect_le symbol_lookups_leave_no_memory_behind "$after" $((2 * before))
fi
stop_server
