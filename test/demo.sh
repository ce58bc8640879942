#!/usr/bin/env bash
# make demo: boots the bundled test guest (Debian 6.12, a few busy and idle
# programs) and opens gpufas's live view on its RAM. q quits both.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
python3 test/guest.py demo --kver "${KVER:-6.12}" >"$log" 2>&1 &
guest=$!
trap 'kill "$guest" 2>/dev/null; wait "$guest" 2>/dev/null; rm -f "$log"' EXIT

echo "booting the test guest (QEMU, TCG: about 10 s)..."
for _ in $(seq 600); do
	ram=$(sed -n 's/^RAM=//p' "$log")
	[ -n "$ram" ] && break
	kill -0 "$guest" 2>/dev/null || { cat "$log" >&2; exit 1; }
	sleep 0.2
done
[ -n "$ram" ] || { echo "demo: the guest did not come up" >&2; cat "$log" >&2; exit 1; }
./gpufas --target "vm:$ram"
