#!/usr/bin/env bash
# Builds the disk-backed test guest of the recovery benchmark (test/bench_recovery.py): the
# guest's programs live on an ext4 root on a virtio disk, so that under memory pressure the
# kernel evicts their pages and they stall on refaults, as on a real machine (pages of an
# initramfs can never be evicted, and nothing thrashes there).
#
# Usage: test/build-disk-guest.sh KVER OUTDIR        KVER: 6.1 | 6.12
#   -> OUTDIR/root.ext4            the root file system (kernel-independent), 64 MiB:
#        busybox and every program of test/guest/ (taken from the initramfs build-guest.sh
#        builds, the same binaries), earlyoom (Debian bookworm's, with the libraries it
#        needs), /bin/pkill-loop, and /sbin/init: mounts /proc /sys /dev /tmp, makes
#        /dev/vdb a swap device and swaps on it, keeps a root shell on ttyS0 ('gpufas# ').
#      OUTDIR/stage1-KVER.cpio.gz  a first-stage archive to add to the usual initramfs
#        (Guest(extra_initrd=...)): the virtio block modules of that kernel
#        (guest-modules.sh) and an /init that loads them, mounts /dev/vda read-only and
#        switch_roots to it.
# Boot it with the disks as virtio drives, root first:
#   -drive file=OUTDIR/root.ext4,format=raw,if=virtio,cache=none,readonly=on,throttling.bps-total=N
#   -drive file=SWAP,format=raw,if=virtio,cache=none,throttling.bps-total=N   (any size)
# No root privileges needed: the image is made with mkfs.ext4 -d. Rebuilt only when missing
# or older than its sources. The kernel and the initramfs come from build-guest.sh, in
# ${GPUFAS_CACHE:-$HOME/.cache/gpufas}/guest.
set -euo pipefail

die() { echo "build-disk-guest.sh: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: build-disk-guest.sh KVER OUTDIR (KVER: 6.1 or 6.12)"
kver=$1
out=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${GPUFAS_CACHE:-$HOME/.cache/gpufas}
guestdir=$cache/guest
tmps=()
trap 'rm -rf "${tmps[@]}"' EXIT

"$here/install-deps.sh" e2fsprogs cpio gzip binutils xz-utils zstd
"$here/build-guest.sh" "$kver" "$guestdir" >/dev/null
mkdir -p "$out"

# Debian bookworm's earlyoom .deb, by exact name (never a glob), cached.
earlyoom_deb() {
	local debs
	debs=("$cache"/earlyoom_*.deb)
	if [ ! -e "${debs[0]}" ]; then
		(cd "$cache" && { apt-get download -q -o APT::Sandbox::User=root earlyoom >&2 ||
			{ apt-get update -qq && apt-get download -q -o APT::Sandbox::User=root earlyoom >&2; }; }) ||
			die "cannot download earlyoom"
		debs=("$cache"/earlyoom_*.deb)
	fi
	echo "${debs[-1]}"
}

write_init() {
	cat >"$1" <<'EOF'
#!/bin/sh
# gpufas disk guest, second stage: the root is /dev/vda (ext4, read-only), swap is /dev/vdb.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root PS1='gpufas# '
if [ -b /dev/vdb ]; then
	mkswap /dev/vdb >/dev/null && swapon /dev/vdb || echo "gpufas guest: no swap on /dev/vdb"
fi
cd /root
echo "gpufas guest: Linux $(uname -r), root on /dev/vda"
while :; do
	setsid cttyhack sh
	echo "gpufas guest: shell exited, starting a new one"
done
EOF
	chmod 755 "$1"
}

write_pkill_loop() {
	cat >"$1" <<'EOF'
#!/bin/sh
# pkill-loop [PCT [NAME]]: the in-OS baseline of the recovery benchmark. Every 100 ms, SIGKILLs
# the processes named NAME (default hog) when MemAvailable is below PCT % (default 10) of
# MemTotal. /proc/meminfo is read with the shell's own builtins; the kill is busybox's killall
# (Debian's busybox has no pkill applet; killall matches the name exactly, as pkill -x does),
# and it and sleep are the same binary as this shell.
pct=${1:-10}
name=${2:-hog}
echo "pkill-loop ready pid=$$"
while :; do
	total=0 avail=0
	while read -r key value unit; do
		case $key in
		MemTotal:) total=$value ;;
		MemAvailable:) avail=$value; break ;;
		esac
	done </proc/meminfo
	if [ $((avail * 100)) -lt $((total * pct)) ]; then
		killall -q -KILL "$name" && echo "pkill-loop: killed $name, MemAvailable $avail kB"
	fi
	sleep 0.1
done
EOF
	chmod 755 "$1"
}

build_root() {
	local img=$out/root.ext4 deb root lib
	deb=$(earlyoom_deb)
	if [ -e "$img" ] && [ "$img" -nt "$guestdir/initramfs.cpio.gz" ] && [ "$img" -nt "$deb" ] &&
		[ "$img" -nt "${BASH_SOURCE[0]}" ]; then
		return
	fi
	root=$(mktemp -d)
	tmps+=("$root")
	# busybox, its links and the guest programs: the initramfs's own files
	(cd "$root" && gzip -dc "$guestdir/initramfs.cpio.gz" | cpio -id --quiet) ||
		die "cannot unpack $guestdir/initramfs.cpio.gz"
	# The unpacked links point at absolute paths (/bin/busybox): never write through one, or
	# it is this machine's file that gets written. Remove what is replaced first.
	rm -f "$root/init" "$root/sbin/init" "$root/bin/pkill-loop" "$root/usr/bin/earlyoom"
	mkdir -p "$root"/{sbin,etc,lib64,lib/x86_64-linux-gnu}
	write_init "$root/sbin/init"
	write_pkill_loop "$root/bin/pkill-loop"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" ./usr/bin/earlyoom ||
		die "cannot unpack earlyoom from $deb"
	# the libraries it links (bookworm's, as this machine's), through their real names
	for lib in $(ldd "$root/usr/bin/earlyoom" | grep -oE '/[^ ]+\.so[^ ]*'); do
		case $lib in
		*/ld-linux-x86-64.so.2) cp -L "$lib" "$root/lib64/ld-linux-x86-64.so.2" ;;
		*) cp -L "$lib" "$root/lib/x86_64-linux-gnu/" ;;
		esac
	done
	touch "$root/etc/passwd" "$root/etc/group"
	mkfs.ext4 -q -F -L gpufas-root -E root_owner=0:0 -d "$root" "$img.$$" 64M >/dev/null ||
		die "mkfs.ext4 failed"
	mv "$img.$$" "$img"
}

write_stage1_init() {
	cat >"$1" <<'EOF'
#!/bin/sh
# gpufas disk guest, first stage: load the virtio block driver, then switch to /dev/vda.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules/load-order); do
	insmod /modules/$m.ko || echo "stage 1: insmod $m failed"
done
n=0
while [ ! -b /dev/vda ]; do
	n=$((n + 1))
	[ $n -le 100 ] || { echo "stage 1: no /dev/vda"; exec sh; }
	sleep 0.1
done
mkdir -p /newroot
mount -t ext4 -o ro /dev/vda /newroot || { echo "stage 1: cannot mount /dev/vda"; exec sh; }
umount /proc /sys /dev
exec switch_root /newroot /sbin/init
EOF
	chmod 755 "$1"
}

build_stage1() {
	local img=$out/stage1-$kver.cpio.gz dir
	if [ -e "$img" ] && [ "$img" -nt "$guestdir/vmlinuz-$kver" ] &&
		[ "$img" -nt "${BASH_SOURCE[0]}" ] && [ "$img" -nt "$here/guest-modules.sh" ]; then
		return
	fi
	dir=$(mktemp -d)
	tmps+=("$dir")
	"$here/guest-modules.sh" "$guestdir/vmlinuz-$kver" "$dir/modules.cpio.gz" \
		virtio_pci virtio_blk 2>/dev/null
	mkdir "$dir/root"
	write_stage1_init "$dir/root/init"
	(cd "$dir/root" && echo init | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$dir/init.cpio.gz"
	# the kernel unpacks concatenated archives one after the other
	cat "$dir/modules.cpio.gz" "$dir/init.cpio.gz" >"$img.$$"
	mv "$img.$$" "$img"
}

build_root
build_stage1
echo "$out/root.ext4 $out/stage1-$kver.cpio.gz"
