#!/usr/bin/env bash
# Runs every test suite and prints one closing line "N passed, N failed".
#
# Each suite speaks TAP ("ok N - name" / "not ok N - name"): the cmocka unit tests (release
# and the ASan+UBSan build), the integration scripts in tests/integration/, and a short
# run of every libFuzzer target. A suite that exits non-zero without reporting a failed
# case counts as one failure, so a crash is never a pass.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
log_dir=build/test-logs
mkdir -p "$log_dir"

# run_suite NAME COMMAND...: runs it, echoes its TAP lines, adds up ok / not ok.
run_suite() {
	local name=$1; shift
	local log="$log_dir/${name//\//_}.log"
	local start=$SECONDS rc ok notok
	"$@" >"$log" 2>&1
	rc=$?
	ok=$(grep -cE '^ok [0-9]+' "$log")
	notok=$(grep -cE '^not ok [0-9]+' "$log")
	if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
		notok=1
		echo "not ok - $name exited with $rc" >>"$log"
	fi
	passed=$((passed + ok))
	failed=$((failed + notok))
	printf '%-48s %4d passed %4d failed  (%ds)\n' "$name" "$ok" "$notok" $((SECONDS - start))
	if [ "$notok" -ne 0 ]; then
		failures+=("$name")
		grep -E '^not ok|^# |ERROR|error|Assert|FAIL' "$log" | head -20 | sed 's/^/    /'
	fi
}

run_suite "format/clang-format" bash -c \
	'make -s --no-print-directory format-check >/dev/null && echo "ok 1 - every C file is clang-formatted" ||
	 { clang-format --dry-run $(git ls-files "*.c" "*.h") 2>&1 | head -5; echo "not ok 1 - clang-format"; }'

export CMOCKA_MESSAGE_OUTPUT=TAP
for variant in release asan; do
	for t in build/$variant/tests/unit/test_*; do
		[ -x "$t" ] || continue
		run_suite "unit/$variant/$(basename "$t")" "$t"
	done
done

for t in tests/integration/*.sh; do
	[ -x "$t" ] || continue
	run_suite "integration/$(basename "$t" .sh)" "$t"
done

# libFuzzer smoke: each target a short while from its seed corpus; a crash fails it.
for t in build/fuzz/tests/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	corpus=tests/fuzz/corpus/${name#fuzz_}
	work=$(mktemp -d)
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
	run_suite "fuzz/$name" bash -c "'$t' -max_total_time=${FUZZ_SECONDS:-20} -rss_limit_mb=2048 \
		'$work' >/dev/null 2>'$work.log' && echo 'ok 1 - $name: no crash' || \
		{ tail -30 '$work.log'; echo 'not ok 1 - $name crashed'; }"
	rm -rf "$work" "$work.log"
done

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed suites: %s\n' "${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
