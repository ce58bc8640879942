#!/usr/bin/env bash
# Packs what test/gpu-test.sh needs on the GPU machine, which has no QEMU
# and no package registry: Debian's QEMU with its libraries (the shared
# make-qemu-kit.sh), the test guests' kernels and initramfs, the agent
# suite's module archives, the in-OS helper's, and this tree's build. Writes .kit/ (git-ignored; carried with `carry: [".kit"]`).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${GPUFAS_SHARED:-../shared}

make -s gpufas test/bench test/nic test/bench_pagehash
mkdir -p .kit/guest .kit/bin
[ -f .kit/qemu-kit.tar.gz ] || "$shared/tools/make-qemu-kit.sh" "$PWD/.kit/qemu-kit.tar.gz"
for kver in 6.1 6.12; do
	test/build-guest.sh "$kver" "${GPUFAS_CACHE:-$HOME/.cache/gpufas}/guest" >/dev/null
done
cp "${GPUFAS_CACHE:-$HOME/.cache/gpufas}"/guest/{vmlinuz-6.1,vmlinuz-6.12,initramfs.cpio.gz} .kit/guest/
cp gpufas test/bench test/nic test/bench_pagehash .kit/bin/
python3 test/test_agent.py --pack .kit/agent # the fault and zram modules, built here
python3 test/test_helper.py --pack .kit/helper # the in-OS helper, likewise
du -sh .kit
