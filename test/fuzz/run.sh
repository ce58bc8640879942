#!/usr/bin/env bash
# make fuzz: runs each fuzz target named for FUZZ_SECONDS (default 5) on
# its corpus, one line each (executions, coverage, crashes), then
# `N passed, N failed`. What a target finds that crashes, hangs (-timeout)
# or runs out of memory is saved in test/fuzz/regress/<target>/, which
# make test replays; new coverage goes to build/fuzz/corpus/<target>/
# (kept between runs, not committed: test/fuzz/corpus/ stays the seeds).
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-5}
passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$@"; do
	regress=test/fuzz/regress/$t found=build/fuzz/corpus/$t
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
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*FUZZ_CHECK|.*runtime error)' "$log" | head -5
		ls -t "$regress" | head -"$((crashes > 0 ? crashes : 1))" | sed "s|^|    $regress/|"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
