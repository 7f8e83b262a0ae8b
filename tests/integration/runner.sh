#!/bin/bash
# runner: tests/run itself, on a tree of small fake test files (a copy of tests/run and
# tests/lib.sh beside them): it counts PASS/FAIL/SKIP lines; a file whose tests all
# SKIP passes; a file that exits non-zero without a FAIL line, prints nothing, or
# outlives the timeout fails (and the timeout kills the processes it started); files run
# side by side (two files that wait for each other both pass); each file's output stays
# in one piece under its header; a failed check shows what it compared and keeps its
# temporary files, a passing file's are removed; a sanitizer report fails the file whose
# process wrote it and no other. No timing is asserted: the timeout is 3 s and the
# waits it cuts short are 60 s.
source "$(dirname "$0")/../lib.sh"
tree=$T/tree
mkdir -p "$tree/tests/integration" "$tree/tests/unit" "$tree/build"
cp "$ROOT/tests/run" "$ROOT/tests/lib.sh" "$tree/tests/"
fake() { # NAME BODY: a test file sourcing the copied lib.sh
    printf '#!/bin/bash\nsource "$(dirname "$0")/../lib.sh"\n%s\n' "$2" >"$tree/tests/integration/$1.sh"
    chmod +x "$tree/tests/integration/$1.sh"
}
fake a_pass 'pass a_passes'
fake b_skip 'skip b_skips "nothing to run it with"'
fake c_fail 'echo seen-data >"$T/data"; echo "$T" >"'"$tree"'/c_dir"; check c_compares grep -q wanted-data "$T/data"'
fake d_exit 'pass d_passes; exit 3'
fake e_hang 'pass e_starts; sleep 60 & echo $! >"'"$tree"'/e_child"; wait'
fake f_silent 'exit 0'
fake g_meet 'touch "'"$tree"'/g"; for i in $(seq 1 200); do [ -e "'"$tree"'/h" ] && break; sleep 0.1; done; check g_met_h test -e "'"$tree"'/h"'
fake h_meet 'touch "'"$tree"'/h"; for i in $(seq 1 200); do [ -e "'"$tree"'/g" ] && break; sleep 0.1; done; check h_met_g test -e "'"$tree"'/g"'
# i_report leaves a sanitizer report where its options say; j_clean does not.
fake i_report 'p=${UBSAN_OPTIONS##*log_path=}; echo "runtime error: fake" >"${p%%:*}.$$"; pass i_runs'
fake j_clean 'pass j_runs'

mkdir "$T/rt"
TMPDIR=$T/rt MEMDEMO_BUILD=$tree/build MEMDEMO_SANITIZER=undefined "$tree/tests/run" -j 4 -t 3 >"$T/out" 2>&1; rc=$?
expect_eq runner_exits_1_on_failure "$rc" 1
expect_eq summary_is_the_last_line "$(tail -1 "$T/out")" "7 passed, 5 failed, 1 skipped"
# Every file's lines follow its own header: the line after "== X (N s)" is X's.
for f in a_pass:a_passes b_skip:b_skips d_exit:d_passes e_hang:e_starts i_report:i_runs j_clean:j_runs; do
    got=$(grep -A1 "^== tests/integration/${f%%:*}.sh ([0-9.]* s)$" "$T/out" | sed -n 2p | sed 's/:.*//' | cut -d' ' -f1-2)
    expect_eq "output_of_${f%%:*}_follows_its_header_with_its_time" "$got" "$(grep -q "^SKIP ${f#*:}" "$T/out" && echo SKIP || echo PASS) ${f#*:}"
done
check skip_only_file_does_not_fail bash -c "! grep -q '^FAIL tests/integration/b_skip' '$T/out'"
check exit_without_fail_line_fails grep -q '^FAIL tests/integration/d_exit.sh: exited 3 without a FAIL line' "$T/out"
check silent_file_fails grep -q '^FAIL tests/integration/f_silent.sh: printed no PASS, FAIL or SKIP line' "$T/out"
check hanging_file_times_out grep -q '^FAIL tests/integration/e_hang.sh: timed out after 3 s' "$T/out"
child=$(cat "$tree/e_child" 2>/dev/null)   # (signalled, it may take a moment to be gone)
for i in $(seq 1 50); do [ -n "$child" ] && kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
if [ -n "$child" ] && ! kill -0 "$child" 2>/dev/null; then pass timeout_kills_what_the_file_started
else fail timeout_kills_what_the_file_started "pid '${child:-none}' still runs"; kill "$child" 2>/dev/null; fi
check files_run_side_by_side grep -q '^PASS g_met_h' "$T/out"
check failed_check_shows_what_it_compared grep -q "^FAIL c_compares: grep -q wanted-data .*data (exit 1); data (10 bytes) begins: 'seen-data '" "$T/out"
c_dir=$(cat "$tree/c_dir" 2>/dev/null)
check failed_file_keeps_its_temporary_files test -s "$c_dir/data"
check failed_file_says_where_it_kept_them grep -q "^# kept tests/integration/c_fail.sh's output and temporary files in " "$T/out"
# what the run left: the failed files' directories only
expect_eq only_failed_files_leave_their_directory \
    "$(ls "$T"/rt/memdemo-run.* 2>/dev/null | sed 's/^[0-9]*-//' | sort | tr '\n' ' ')" \
    "c_fail.sh d_exit.sh e_hang.sh f_silent.sh i_report.sh "
check sanitizer_report_fails_its_own_file grep -q '^FAIL tests/integration/i_report.sh: undefined sanitizer report' "$T/out"
check sanitizer_report_fails_no_other_file bash -c "[ \$(grep -c 'sanitizer report' '$T/out') = 1 ]"

# A run whose only file skips passes; a filter that matches nothing fails.
MEMDEMO_BUILD=$tree/build "$tree/tests/run" b_skip >"$T/skip.out" 2>&1; rc=$?
expect_eq run_of_skips_only_passes "$rc $(tail -1 "$T/skip.out")" "0 0 passed, 0 failed, 1 skipped"
MEMDEMO_BUILD=$tree/build "$tree/tests/run" no_such_file >"$T/none.out" 2>&1; rc=$?
expect_eq filter_matching_nothing_fails "$rc $(tail -1 "$T/none.out")" "1 0 passed, 1 failed, 0 skipped"
