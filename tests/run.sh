#!/usr/bin/env bash
# Runs test programs that print TAP ("ok N - ...", "not ok N - ...",
# "ok N - ... # SKIP why") and ends with one line: "N passed, N failed".
# A program that exits non-zero after reporting no failure counts as one failure.
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for test in "$@"; do
	echo "# $test"
	case $test in
	*.py) cmd=("${PYTHON:-python3}" "$test") ;;
	*) cmd=("$test") ;;
	esac
	# streamed as it runs, so a slow or stuck test shows where it is
	"${cmd[@]}" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	out=$(<"$log")
	p=$(grep -cE '^ok [0-9]+' <<<"$out" | tr -d ' ')
	s=$(grep -cE '^ok [0-9]+.*# SKIP' <<<"$out" | tr -d ' ')
	f=$(grep -cE '^not ok [0-9]+' <<<"$out" | tr -d ' ')
	if ((status != 0 && f == 0)); then
		echo "not ok - $test exited with status $status"
		f=1
	fi
	passed=$((passed + p - s)) skipped=$((skipped + s)) failed=$((failed + f))
done

((skipped)) && echo "# $skipped skipped"
echo "$passed passed, $failed failed"
((failed == 0))
