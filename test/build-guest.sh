#!/usr/bin/env bash
# Builds what a gpufas test guest boots: a Debian cloud kernel and a busybox initramfs holding
# the guest programs of test/guest/.
#
# Usage: test/build-guest.sh KVER OUTDIR
#   KVER: 5.10 (bullseye) | 6.1 (bookworm) | 6.12 (bookworm's 6.12) | 6.12+deb13 (trixie) |
#         7.2 (sid)
#   -> OUTDIR/vmlinuz-KVER, OUTDIR/initramfs.cpio.gz (kernel-independent, shared by every KVER)
# Kernel .debs are cached in ${GPUFAS_CACHE:-$HOME/.cache/gpufas}; suites other than the
# machine's own are reached with a private apt configuration (test/debian-apt.sh). Missing
# packages are installed with apt-get (needs root). A second run only checks timestamps:
# everything is rebuilt only when missing or older than its sources.
# The guest's /init mounts /proc /sys /dev /tmp and keeps a root shell on ttyS0 with PS1 'gpufas# '.
set -euo pipefail

die() { echo "build-guest.sh: $*" >&2; exit 1; }

kvers='5.10, 6.1, 6.12, 6.12+deb13 or 7.2'
[ $# -eq 2 ] || die "usage: build-guest.sh KVER OUTDIR (KVER: $kvers)"
kver=$1
out=$2
# The kernels the tests are written against, the suite serving each (empty: this machine's own
# sources), the image's path in its package, and the pattern of their successors: a suite may
# keep only the newest build of each series. Up to trixie the image is /boot/vmlinuz-RELEASE of
# linux-image-RELEASE-unsigned; sid packages it as vmlinuz.unsigned in linux-binary-unsigned-*.
suite=
image=./boot
case $kver in
5.10) suite=bullseye pkg=linux-image-5.10.0-32-cloud-amd64-unsigned
	series='^linux-image-5\.10\.0-[0-9]+-cloud-amd64-unsigned$' ;;
6.1) pkg=linux-image-6.1.0-56-cloud-amd64-unsigned
	series='^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$' ;;
6.12) pkg=linux-image-6.12.117+deb12-cloud-amd64-unsigned
	series='^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64-unsigned$' ;;
6.12+deb13) suite=trixie pkg=linux-image-6.12.117+deb13-cloud-amd64-unsigned
	series='^linux-image-6\.12\.[0-9]+\+deb13-cloud-amd64-unsigned$' ;;
7.2) suite=sid pkg=linux-binary-unsigned-7.2.13+deb14-cloud-amd64 image=./usr/lib/modules
	series='^linux-binary-unsigned-7\.2\.[0-9]+\+deb14-cloud-amd64$' ;;
*) die "unknown KVER '$kver' (expected $kvers)" ;;
esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${GPUFAS_CACHE:-$HOME/.cache/gpufas}

# The exact package name, never a glob: a pattern would fetch every matching version.
download() { (cd "$cache" && "${APT[@]}" download "$pkg" >&2); }

# When the exact build has left the archive, its series' newest build will do: the tests
# compare with the guest's own /proc, not with fixed values.
newest_of_series() {
	local newest
	newest=$("${APT_CACHE[@]}" pkgnames "${pkg%%-[0-9]*}-" | grep -E "$series" | sort -V | tail -1)
	[ -n "$newest" ] && [ "$newest" != "$pkg" ] || return 1
	echo "build-guest.sh: $pkg is gone from the archive, using $newest" >&2
	pkg=$newest
	download
}

# Prints the path of the cached .deb of $pkg, downloading it first if needed.
kernel_deb() {
	local debs
	mkdir -p "$cache"
	debs=("$cache/${pkg}"_*.deb)
	if [ ! -e "${debs[0]}" ]; then
		# apt-get download needs the package lists: a fresh system may have none yet
		suite_apt "$suite" || die "no apt configuration for suite $suite"
		download || { suite_update && download; } || newest_of_series ||
			die "cannot download $pkg nor a newer kernel of its series"
		debs=("$cache/${pkg}"_*.deb)
	fi
	echo "${debs[-1]}"
}

# OUTDIR/vmlinuz-KVER from the package (its System.map is a stub: not extracted). The one image
# under $image: /boot/vmlinuz-RELEASE, or /usr/lib/modules/RELEASE/vmlinuz.unsigned.
build_kernel() {
	local deb tmp found
	deb=$(kernel_deb)
	[ "$out/vmlinuz-$kver" -nt "$deb" ] && return
	tmp=$(mktemp -d)
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "$image" || die "cannot unpack $deb"
	found=$(find "$tmp" -type f -name 'vmlinuz*')
	[ -n "$found" ] && [ "$(wc -l <<<"$found")" -eq 1 ] || die "$deb: no single vmlinuz in $image"
	mv "$found" "$out/vmlinuz-$kver"
	touch "$out/vmlinuz-$kver" # tar kept the package's date, older than the .deb
	rm -rf "$tmp"
}

write_init() {
	cat >"$1" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root PS1='gpufas# '
cd /root
echo "gpufas guest: Linux $(uname -r)"
# The shell is not pid 1, so its exit is no kernel panic: a new one starts. cttyhack opens the
# real console (ttyS0) as the controlling tty, so ^C and job control work.
while :; do
	setsid cttyhack sh
	echo "gpufas guest: shell exited, starting a new one"
done
EOF
	chmod 755 "$1"
}

build_initramfs() {
	local img=$out/initramfs.cpio.gz root src a
	if [ -e "$img" ] &&
		[ -z "$(find "$here/guest" "${BASH_SOURCE[0]}" -newer "$img" -print -quit)" ]; then
		return
	fi
	root=$(mktemp -d)
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root}
	cp /bin/busybox "$root/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
	done
	for src in "$here"/guest/*.c; do
		gcc -static -O2 -Wall -Wextra -pthread -o "$root/bin/$(basename "$src" .c)" "$src" ||
			die "cannot compile $src"
	done
	write_init "$root/init"
	# a private temporary name, then an atomic rename: concurrent builds cannot mix
	(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$img.$$"
	mv "$img.$$" "$img"
	rm -rf "$root"
}

. "$here/debian-apt.sh"
"$here/install-deps.sh" qemu-system-x86 busybox-static cpio gzip gcc libc6-dev
mkdir -p "$out"
build_kernel
build_initramfs
echo "$out/vmlinuz-$kver $out/initramfs.cpio.gz"
