#!/usr/bin/env bash
# make test: feeds every fuzz target's corpus and regression inputs to it
# (test/fuzz/bin/replay-<target>, ASan + UBSan, no libFuzzer); one line
# per target, then `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/../.."

passed=0 failed=0
for bin in test/fuzz/bin/replay-*; do
	t=${bin#test/fuzz/bin/replay-}
	if out=$("$bin" test/fuzz/corpus/"$t" test/fuzz/regress/"$t" 2>&1); then
		echo "ok   $t (${out##*$'\n'})"
		passed=$((passed + 1))
	else
		echo "$out" | tail -20
		echo "FAIL $t"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
