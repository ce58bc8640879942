#!/usr/bin/env bash
# make fuzz, and make test's smoke run: runs each fuzz target named (with
# none, every one built) for FUZZ_SECONDS (default 3) on its corpus, one
# line each (executions, coverage, crashes), then `N passed, N failed`. A
# target fails only on a finding: what crashes, hangs (-timeout) or runs
# out of memory is saved in test/fuzz/regress/<target>/, which make test
# replays. New coverage goes to FUZZ_FOUND/<target>/ (default
# build/fuzz/corpus, kept between runs, not committed: test/fuzz/corpus/
# stays the seeds).
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-3}
found_dir=${FUZZ_FOUND:-build/fuzz/corpus}
passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

[ $# -gt 0 ] || set -- $(cd test/fuzz/bin && ls fuzz_*)
for t in "$@"; do
	regress=test/fuzz/regress/$t found=$found_dir/$t
	mkdir -p "$regress" "$found"
	before=$(ls "$regress" | wc -l)
	test/fuzz/bin/"$t" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$regress/" \
		"$found" test/fuzz/corpus/"$t" >"$log" 2>&1
	rc=$?
	execs=$(grep -oE 'number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$')
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
	ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
	crashes=$(( $(ls "$regress" | wc -l) - before ))
	line="$t: ${execs:-0} executions, ${cov:-0} edges, ${ft:-0} features, $crashes crashes"
	if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
		echo "ok   $line"
		passed=$((passed + 1))
	else
		echo "FAIL $line (exit $rc)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*FUZZ_CHECK|.*runtime error|a write at)' "$log" | head -5
		[ "$crashes" -eq 0 ] || ls -t "$regress" | head -"$crashes" |
			sed "s|^|    again: test/fuzz/bin/$t $regress/|"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
