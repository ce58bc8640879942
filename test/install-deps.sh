#!/usr/bin/env bash
# Installs Debian packages, asking apt only for those missing. With no
# arguments: everything building, testing and the demo need. Run as root
# (or with everything in). Usage: test/install-deps.sh [PACKAGE...]
set -euo pipefail

if [ $# -eq 0 ]; then
	set -- gcc make pkg-config clang libclang-rt-dev \
		libbpf-dev libelf-dev zlib1g-dev libinih-dev libncurses-dev \
		libsodium-dev libjson-c-dev libxxhash-dev libibverbs-dev librdmacm-dev \
		ibverbs-providers iproute2 perftest \
		qemu-system-x86 qemu-utils busybox-static cpio python3 \
		tmux python3-pil fonts-dejavu-core prometheus \
		libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
fi

missing=()
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: missing ${missing[*]}: run as root or install them" >&2
	exit 1
fi
echo "install-deps.sh: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	"${missing[@]}" >/dev/null
