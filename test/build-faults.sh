#!/usr/bin/env bash
# Builds the fault-injection modules of test/faults/ (one per SHFH fault class, see
# test/faults/README.md) for the kernel of a test guest, against Debian's headers of exactly that
# kernel build (test/build-kmod.sh does the work and the caching).
#
# Usage: test/build-faults.sh VMLINUZ   -> prints the directory holding f1_*.ko ... f6_*.ko
#   e.g. test/build-faults.sh ~/.cache/gpufas/guest/vmlinuz-6.12
#   -> ~/.cache/gpufas/faults/6.12.117+deb12-cloud-amd64
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: build-faults.sh VMLINUZ" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/build-kmod.sh" --dir "$here/faults" "$1"
