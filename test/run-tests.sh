#!/usr/bin/env bash
# Runs every test suite and ends with one line, `N passed, N failed,
# N skipped`, summed over the suites. Called by `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
log=$(mktemp)
found=$(mktemp -d) # the fuzz smoke run's new coverage, dropped after
trap 'rm -rf "$log" "$found"' EXIT

# Each suite ends its output with `N passed, N failed[, N skipped]`.
suite() {
	echo "== $1"
	shift
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]} last
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -z "$last" ]; then
		echo "suite ended without a summary (exit $rc)"
		failed=$((failed + 1))
		return
	fi
	set -- $(echo "$last" | grep -oE '[0-9]+')
	passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + ${3:-0}))
	[ "$rc" -eq 0 ] || [ "$2" -gt 0 ] || failed=$((failed + 1))
}

suite "unit tests" test/unit
suite "unit tests (ASan+UBSan)" test/unit-asan
suite "fuzz corpora and regressions replayed (ASan+UBSan)" test/fuzz/replay.sh
suite "fuzz targets, 3 s each from their seeds (libFuzzer, ASan+UBSan)" \
	env FUZZ_SECONDS=3 FUZZ_FOUND="$found" test/fuzz/run.sh
suite "GPU kernels compile" test/gpu-build.sh
suite "shared files stay device code (g++, nm -u; no nvcc needed)" test/device-safe.sh
suite "guests (QEMU, Debian 6.1 and 6.12 kernels)" python3 test/test_guest.py
suite "headless agent: real faults in guests (F1-F6, overload, memory, panic)" python3 test/test_agent.py
suite "--target host inside guests (kmod/gpufas_pmem.ko)" python3 test/test_host.py
suite "the in-OS recovery helper in guests (kmod/gpufas_helper.ko)" python3 test/test_helper.py
suite "the dashboard (tmux, QEMU 6.12)" python3 test/test_tui.py
suite "remote over TCP (agent --listen, --view)" python3 test/test_remote.py
suite "remote over RDMA (Soft-RoCE in a guest)" python3 test/test_rdma.py
suite "Prometheus: endpoint, textfile, a real server" python3 test/test_prom.py
suite "systemd: notify protocol, watchdog, journal prefixes" python3 test/test_systemd.py
suite "libvirt: domains as targets, a real libvirtd" python3 test/test_libvirt.py
suite "snapshot and restore: a real panic undone, bad snapshots, the disk rule" python3 test/test_restore.py

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
