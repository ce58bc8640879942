#!/usr/bin/env bash
# The shared files that kernels.cu #includes must stay device code, even
# where no nvcc checks them (test/gpu-build.sh skips there). For each:
#   - it compiles as C++ (g++ -x c++ -std=c++17), inside extern "C" as
#     kernels.cu has it, down the __CUDACC__ and __CUDA_ARCH__ paths
#     (test/device-prelude.h stands in for CUDA's built-ins);
#   - its object, built the same way as C, needs nothing from outside the
#     shared files but memset and memcpy (nm -u): no libc, no allocation.
# Then all of them in one translation unit, as kernels.cu compiles them.
# Ends with `N passed, N failed`.
cd "$(dirname "$0")/.."
SHARED="introspect.c metrics.c detect.c recover.c loop.c blake2b.c pagehash.c devbox.c"
ALLOWED="memcpy memset"
DEV="-D__CUDACC__ -D__CUDA_ARCH__=900 -include test/device-prelude.h -I."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

ok()   { echo "ok    $1"; passed=$((passed + 1)); }
fail() { echo "FAIL  $1"; sed 's/^/      /' "$tmp/log" | head -20; failed=$((failed + 1)); }

as_cxx() { # the includes of one .cu file, compiled for syntax as C++
	printf 'extern "C" {\n' >"$tmp/unit.cu"
	for f; do printf '#include "%s"\n' "$f" >>"$tmp/unit.cu"; done
	printf '}\n' >>"$tmp/unit.cu"
	g++ -x c++ -std=c++17 -fsyntax-only -w $DEV "$tmp/unit.cu" >"$tmp/log" 2>&1
}

for f in $SHARED; do
	gcc -std=c11 -O2 -w -c $DEV -o "$tmp/${f%.c}.o" "$f" 2>"$tmp/log" ||
		{ fail "$f does not compile as C for the device"; continue; }
	nm --defined-only "$tmp/${f%.c}.o" | awk '$2 ~ /[TDBR]/ {print $3}' >>"$tmp/defined"
done
sort -u -o "$tmp/defined" "$tmp/defined" 2>/dev/null
for f in $SHARED; do
	[ -f "$tmp/${f%.c}.o" ] || continue
	if ! as_cxx "$f"; then
		fail "$f does not compile as C++ device code"
		continue
	fi
	nm -u "$tmp/${f%.c}.o" | awk '{print $2}' | sort -u |
		comm -23 - "$tmp/defined" | grep -vxF -f <(tr ' ' '\n' <<<"$ALLOWED") >"$tmp/log"
	if [ -s "$tmp/log" ]; then
		fail "$f needs from outside the shared files:"
	else
		ok "$f: C++ device code, needs nothing but $ALLOWED"
	fi
done
if as_cxx $SHARED; then
	ok "all of them in one unit, as kernels.cu includes them"
else
	fail "together, as kernels.cu includes them, they do not compile"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
