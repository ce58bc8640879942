#!/usr/bin/env bash
# The shared introspection (introspect.c) must keep compiling for the GPU:
# builds kernels.fatbin with nvcc where a CUDA toolkit is installed.
cd "$(dirname "$0")/.."
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
if [ ! -x "$nvcc" ]; then
	echo "skip: no CUDA toolkit (nvcc) here: GPU kernels not compiled"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
if make -s NVCC="$nvcc" kernels.fatbin; then
	echo "ok    kernels.cu compiles for sm_75..sm_90 + PTX"
	echo "1 passed, 0 failed"
else
	echo "FAIL  kernels.cu does not compile"
	echo "0 passed, 1 failed"
	exit 1
fi
