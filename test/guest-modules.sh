#!/usr/bin/env bash
# Packs kernel modules, with everything they depend on, for a test guest's initramfs.
#
# Usage: test/guest-modules.sh VMLINUZ OUT.cpio.gz MODULE...
#   -> OUT.cpio.gz, a gzipped newc cpio holding /modules/NAME.ko for every MODULE named and all
#      of its dependencies, uncompressed (busybox insmod takes plain .ko only), and
#      /modules/load-order: one NAME a line, dependencies before what needs them, the MODULEs
#      in the order given. The guest loads them with
#          for m in $(cat /modules/load-order); do insmod /modules/$m.ko; done
#      (pass it to Guest(extra_initrd=...), alone or in a list with other archives).
# NAMEs are module names with '_' for '-' (crc32-pclmul.ko is /modules/crc32_pclmul.ko).
# Hard dependencies (`depends=`) and soft ones (`softdep=pre:/post:`, where the package has
# them) are followed. What the kernel asks for only at run time is declared nowhere: name it as
# a MODULE too (rdma_rxe needs crc32_generic; zram on 6.1 its default compressor lzo_rle).
# A MODULE built into the kernel is skipped with a note.
#
# The modules come from the Debian package of exactly the kernel in VMLINUZ: its release and
# Debian version are read from the image's version string (as build-kmod.sh does), and
# linux-image-RELEASE-unsigned=VERSION (else linux-image-RELEASE=VERSION) is taken from
# ${GPUFAS_CACHE:-$HOME/.cache/gpufas}, where build-guest.sh keeps it, or downloaded there.
# Its lib/modules/RELEASE is unpacked once into modules/RELEASE of that cache.
# The package ships no modules.dep (depmod makes it at install time): the dependencies are the
# `depends=` of each module's own .modinfo, which is what depmod would compute from it.
set -euo pipefail

die() { echo "guest-modules.sh: $*" >&2; exit 1; }

[ $# -ge 3 ] && [ -f "$1" ] || die "usage: guest-modules.sh VMLINUZ OUT.cpio.gz MODULE..."
vmlinuz=$1
out=$2
shift 2
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

download() { (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$@" >&2); }

# Prints the cached .deb of the kernel, downloading it (exact name=version, never a glob) if
# needed. A .deb's file name holds the version with its epoch's ':' as %3a.
kernel_deb() {
	local p f
	mkdir -p "$cache"
	for p in "linux-image-$release-unsigned" "linux-image-$release"; do
		f=$cache/${p}_${debver//:/%3a}_amd64.deb
		[ -e "$f" ] && { echo "$f"; return; }
	done
	for p in "linux-image-$release-unsigned" "linux-image-$release"; do
		f=$cache/${p}_${debver//:/%3a}_amd64.deb
		if download "$p=$debver" 2>/dev/null ||
			{ apt-get update -qq && download "$p=$debver" 2>/dev/null; }; then
			[ -e "$f" ] && { echo "$f"; return; }
		fi
	done
	die "no linux-image-$release(-unsigned)=$debver in the cache nor in the package lists"
}

# modules/RELEASE in the cache: the package's lib/modules/RELEASE, as shipped (maybe .ko.xz).
unpack_modules() {
	local root=$cache/modules/$release deb tmp
	[ -e "$root/.complete" ] && { echo "$root"; return; }
	deb=$(kernel_deb)
	mkdir -p "$cache/modules"
	tmp=$(mktemp -d "$cache/modules/.unpack.XXXXXX")
	tmps+=("$tmp")
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "./lib/modules/$release" ||
		die "cannot unpack lib/modules/$release from $deb"
	mv "$tmp/lib/modules/$release" "$tmp/tree"
	# NAME PATH for every module file, NAME with '_' for '-'
	(cd "$tmp/tree" && find kernel -name '*.ko*' | sed -E 's|^(.*/)?([^/]+)\.ko(\.[a-z]+)?$|\2 &|' |
		awk '{ gsub("-", "_", $1); print }' | sort) >"$tmp/tree/.index"
	touch "$tmp/tree/.complete"
	rm -rf "$root"
	mv "$tmp/tree" "$root" # atomic: a concurrent run sees all of it or nothing
	echo "$root"
}

root=$(unpack_modules)
stage=$(mktemp -d)
tmps+=("$stage")
mkdir "$stage/modules"
order=() # NAMEs, dependencies first
declare -A state=() # NAME -> visiting | done

# Writes $stage/modules/NAME.ko (decompressed) and its .modinfo strings, one a line, to
# $stage/NAME.modinfo.
extract() {
	local name=$1 path ko=$stage/modules/$1.ko
	path=$(awk -v n="$name" '$1 == n { print $2; exit }' "$root/.index")
	[ -n "$path" ] || return 1
	case $path in
	*.ko) cp "$root/$path" "$ko" ;;
	*.ko.xz) xz -dc "$root/$path" >"$ko" ;;
	*.ko.zst) zstd -qdc "$root/$path" >"$ko" ;;
	*.ko.gz) gzip -dc "$root/$path" >"$ko" ;;
	*) die "$path: unknown compression" ;;
	esac || die "cannot decompress $path"
	objcopy -O binary --only-section=.modinfo "$ko" "$stage/$name.raw" ||
		die "$path: no .modinfo section"
	tr '\0' '\n' <"$stage/$name.raw" >"$stage/$name.modinfo"
	rm "$stage/$name.raw"
}

# The modules of a "softdep=pre: a b post: c" line that come before (pre) or after (post).
softdeps() {
	sed -n 's/^softdep=//p' "$stage/$1.modinfo" |
		awk -v want="$2:" '{ for (i = 1; i <= NF; i++) { if ($i ~ /:$/) on = ($i == want); else if (on) print $i } }'
}

# Appends NAME to `order` after its dependencies. optional: a soft dependency, which may be
# missing or built in.
visit() {
	local name=${1//-/_} optional=${2:-} d
	case ${state[$name]:-} in
	done) return ;;
	visiting) die "dependency cycle through $name" ;;
	esac
	state[$name]=visiting
	if ! extract "$name"; then
		state[$name]=done
		if grep -qE "/${name//_/[-_]}\.ko\$" "$root/modules.builtin" 2>/dev/null; then
			[ -n "$optional" ] || echo "guest-modules.sh: $name is built into $release: skipped" >&2
			return
		fi
		[ -n "$optional" ] && return
		die "no module $name in linux-image $release ($debver)"
	fi
	for d in $(softdeps "$name" pre); do
		visit "$d" optional
	done
	for d in $(sed -n 's/^depends=//p' "$stage/$name.modinfo" | sed -n 1p | tr , ' '); do
		visit "$d"
	done
	state[$name]=done
	order+=("$name")
	for d in $(softdeps "$name" post); do
		visit "$d" optional
	done
}

for m in "$@"; do
	visit "$m"
done
printf '%s\n' "${order[@]}" >"$stage/modules/load-order"
mkdir -p "$(dirname "$out")"
(cd "$stage" && find modules | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1 >"$out.$$"
mv "$out.$$" "$out"
echo "guest-modules.sh: $out: ${order[*]}" >&2
