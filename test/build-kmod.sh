#!/usr/bin/env bash
# Builds kernel modules for the kernel of a test guest, against Debian's headers of exactly that
# kernel build.
#
# Usage: test/build-kmod.sh VMLINUZ              -> prints the path of kmod/gpufas_pmem.ko
#        test/build-kmod.sh --dir DIR VMLINUZ    -> builds every module of DIR's kbuild Makefile,
#                                                   prints the directory holding the .ko files
# The release and the Debian version come from the kernel image's own version string, so the
# module matches the kernel the guest boots even where build-guest.sh fell back on a newer build
# of its series. Three packages, by exact name and version (never a glob): linux-headers-RELEASE
# and the -common and linux-kbuild packages it depends on, from this machine's suites or another
# one the tests use (test/debian-apt.sh); cached as .debs in
# ${GPUFAS_CACHE:-$HOME/.cache/gpufas}, unpacked into headers/RELEASE there. The modules of DIR
# (default: kmod/) are built in a copy and kept in NAME/RELEASE there (NAME: DIR's last
# component), again only when a source of DIR (*.c, *.h, Makefile, Kbuild) is newer than the
# last build.
set -euo pipefail

die() { echo "build-kmod.sh: $*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$here/../kmod
pmem=1 # print the path of gpufas_pmem.ko, not the directory
if [ $# -eq 3 ] && [ "$1" = --dir ]; then
	src=$2
	pmem=
	shift 2
fi
[ $# -eq 1 ] && [ -f "$1" ] && [ -f "$src/Makefile" ] ||
	die "usage: build-kmod.sh [--dir DIR] VMLINUZ (DIR: a kbuild module directory)"
vmlinuz=$1
src=$(cd "$src" && pwd)
cache=${GPUFAS_CACHE:-$HOME/.cache/gpufas}
tmps=() # removed on exit, whatever happens
trap 'rm -rf "${tmps[@]}"' EXIT

# The x86 boot header: "HdrS" at 0x202, the offset of the version string (less 0x200) at 0x20e.
# The string reads "6.1.0-56-cloud-amd64 (debian-kernel@...) #1 SMP ... Debian 6.1.192-2 (...)".
[ "$(dd if="$vmlinuz" bs=1 skip=$((0x202)) count=4 status=none)" = HdrS ] ||
	die "$vmlinuz: not an x86 kernel image"
off=$(od -An -tu2 -j $((0x20e)) -N2 "$vmlinuz" | tr -d ' ')
version=$(dd if="$vmlinuz" bs=1 skip=$((off + 0x200)) count=256 status=none | tr '\0' '\n' | sed -n 1p)
release=${version%% *}
debver=$(grep -oE 'Debian [^ ]+' <<<"$version" | cut -d' ' -f2) ||
	die "$vmlinuz: not a Debian kernel ($version)"

# apt-get download of exact name=version pairs, from the suite suite_of chose.
download() { (cd "$cache" && "${APT[@]}" download "$@" >&2); }

# headers/RELEASE: the three packages unpacked. The arch package's Makefile includes the common
# one by its absolute path under /usr/src: pointed at the unpacked copy instead.
unpack_headers() {
	local root=$cache/headers/$release hdr deps common kbuild kbuild_deb tmp d deb
	[ -e "$root/.complete" ] && { echo "$root"; return; }
	hdr=linux-headers-$release
	# the whole record first: grep -m1 on the pipe would make apt-cache die of SIGPIPE
	suite_of "$hdr=$debver" && deps=$("${APT_CACHE[@]}" show "$hdr=$debver") ||
		die "no $hdr=$debver in the package lists"
	deps=$(grep -m1 '^Depends:' <<<"$deps")
	common=$(grep -oE 'linux-headers-[^ ,]+-common' <<<"$deps" | sed -n 1p)
	kbuild=$(grep -oE 'linux-kbuild-[^ ,]+' <<<"$deps" | sed -n 1p)
	[ -n "$common" ] && [ -n "$kbuild" ] || die "$hdr: unexpected Depends: $deps"
	mkdir -p "$cache/headers"
	for d in "$hdr" "$common"; do
		ls "$cache/${d}_${debver}"_*.deb >/dev/null 2>&1 || download "$d=$debver" ||
			die "cannot download $d=$debver"
	done
	# kbuild is wanted at ">= debver": the archive may already carry only a later build
	kbuild_deb=$(ls "$cache/${kbuild}_"*.deb 2>/dev/null | sed -n 1p) || true
	if [ -z "$kbuild_deb" ]; then
		download "$kbuild=$debver" 2>/dev/null || download "$kbuild" ||
			die "cannot download $kbuild"
		kbuild_deb=$(ls "$cache/${kbuild}_"*.deb | sed -n 1p)
	fi
	tmp=$(mktemp -d "$cache/headers/.unpack.XXXXXX")
	tmps+=("$tmp")
	for deb in "$cache/${hdr}_${debver}"_*.deb "$cache/${common}_${debver}"_*.deb "$kbuild_deb"; do
		dpkg-deb -x "$deb" "$tmp" || die "cannot unpack $deb"
	done
	sed -i "s|^include /usr/src/|include $root/usr/src/|" "$tmp/usr/src/$hdr/Makefile"
	touch "$tmp/.complete"
	rm -rf "$root"
	mv "$tmp" "$root" # atomic: a concurrent run sees all of it or nothing
	echo "$root"
}

# The compiler the kernel was built with (its headers' .kernelvariables), or this machine's
# gcc-12 in place of an older one (bullseye's gcc-10): a module built with another gcc loads
# all the same (vermagic does not name the compiler). A newer one (trixie's gcc-14, sid's gcc-16)
# cannot be replaced: their configs hold what only it knows (-fmin-function-alignment).
compiler() {
	local cc
	cc=$(grep -oE 'gcc-[0-9]+$' "$1/.kernelvariables" 2>/dev/null) || cc=gcc-12
	if ! command -v "$cc" >/dev/null; then
		[ "${cc#gcc-}" -lt 12 ] ||
			die "$release was built with $cc, which this machine does not have"
		echo "build-kmod.sh: $cc (the kernel's compiler) is not installed: using gcc-12" >&2
		cc=gcc-12
	fi
	echo "$cc"
}

# Builds the modules of $src into $out ($cache/NAME/RELEASE) unless none of its sources is newer
# than the stamp of the last build there.
build_modules() {
	local root=$1 tmp ko kdir cc
	if [ -e "$out/.built" ] && [ -z "$(find "$src" -maxdepth 1 \( -name '*.[ch]' -o \
		-name Makefile -o -name Kbuild \) -newer "$out/.built" -print -quit)" ]; then
		return
	fi
	mkdir -p "$out"
	tmp=$(mktemp -d "$out/.build.XXXXXX")
	tmps+=("$tmp")
	touch "$tmp/.built" # before the copy: a source edited during the build is newer
	find "$src" -maxdepth 1 -type f \( -name '*.[ch]' -o -name Makefile -o -name Kbuild \) \
		-exec cp {} "$tmp/" \;
	# kbuild's chatter to stderr: stdout carries only the path of the result. No BTF for the
	# modules: it needs the kernel's vmlinux and pahole (6.12 insists), and nothing reads it.
	kdir=$root/usr/src/linux-headers-$release
	cc=$(compiler "$kdir") || exit 1
	make -s -C "$tmp" KDIR="$kdir" CC="$cc" \
		CONFIG_DEBUG_INFO_BTF_MODULES= >&2 || die "cannot build $src against $release"
	for ko in "$tmp"/*.ko; do
		[ -e "$ko" ] || die "$src: the build made no .ko"
		mv "$ko" "$out/" # one rename each: a reader sees an old module or a new one, whole
	done
	mv "$tmp/.built" "$out/.built"
}

. "$here/debian-apt.sh"
"$here/install-deps.sh" make gcc-12 libc6-dev
mkdir -p "$cache"
out=$cache/$(basename "$src")/$release
root=$(unpack_headers)
build_modules "$root"
if [ -n "$pmem" ]; then
	echo "$out/gpufas_pmem.ko"
else
	echo "$out"
fi
