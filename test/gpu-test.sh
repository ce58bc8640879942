#!/usr/bin/env bash
# The GPU engine's tests and benchmark, on a machine with an NVIDIA GPU.
# There, with .kit/ from test/make-gpu-kit.sh carried along:
#   test/gpu-test.sh [test|agent|helper|bench|pagehash|monitor [bench_monitor.py options]|all]
# Every guest check of test_guest.py runs with --engine gpu, plus the
# CPU-vs-GPU comparison on a frozen dump; `agent` runs the agent suite
# (real faults) with the GPU engine, among them the agent stopped while the
# GPU alone detects and kills, and test/nic, playing the NIC, is answered
# by the GPU's mailbox meanwhile; `helper` the in-OS helper's suite, the
# GPU's watch loop posting to the guest's mailbox; `bench` runs test/bench.py --gpu, `monitor`
# test/bench_monitor.py (the GPU loop against the CPU one); `pagehash`
# test/bench_pagehash (a restore's compare of 4 and 16 GiB on the CPU's
# threads and on the GPU, each checked against the pages changed, and the
# GPU's page hashes against the CPU's).
# Without a GPU it says so and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
	echo "skip: no NVIDIA GPU here (run this on the GPU machine)"
	exit 0
fi
[ -f .kit/qemu-kit.tar.gz ] || { echo "gpu-test.sh: no .kit/ (test/make-gpu-kit.sh)" >&2; exit 1; }
tar -xzf .kit/qemu-kit.tar.gz -C /tmp
cp .kit/bin/gpufas gpufas
cp .kit/bin/bench test/bench
cp .kit/bin/nic test/nic # plays the NIC for the GPU mailbox (test_agent.py)
cp .kit/bin/bench_pagehash test/bench_pagehash
export GPUFAS_QEMU=/tmp/qkit/run-qemu GPUFAS_CACHE=$PWD/.kit
touch .kit/guest/* # newer than the sources: guest.py must not try to rebuild them
# the kernels the kit carries (not all that test_guest.py knows: the kit would outgrow a carry)
GPUFAS_KVERS=$(cd .kit/guest && ls vmlinuz-* | sed 's/^vmlinuz-//' | tr '\n' ' ')
export GPUFAS_KVERS
nvidia-smi -L

rc=0
case ${1:-all} in
test|all) GPUFAS_ENGINE=gpu python3 test/test_guest.py || rc=1 ;;&
agent|all) GPUFAS_ENGINE=gpu GPUFAS_AGENT_KIT=.kit/agent python3 test/test_agent.py || rc=1 ;;&
helper|all) GPUFAS_ENGINE=gpu GPUFAS_HELPER_KIT=.kit/helper python3 test/test_helper.py || rc=1 ;;&
bench|all) python3 test/bench.py --gpu || rc=1 ;;&
pagehash|all) for gib in 4 16; do test/bench_pagehash --gib $gib || rc=1; done ;;&
monitor|all) GPUFAS_AGENT_KIT=.kit/agent python3 test/bench_monitor.py "${@:2}" || rc=1 ;;
esac
exit $rc
