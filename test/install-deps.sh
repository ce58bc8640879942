#!/usr/bin/env bash
# Installs what building, testing and the demo need on a Debian 12 machine,
# asking apt only for what is missing. Run as root (or with everything in).
set -euo pipefail

packages=(
	gcc make pkg-config                                    # build
	libbpf-dev libelf-dev zlib1g-dev libinih-dev libncurses-dev  # linked statically
	qemu-system-x86 busybox-static cpio python3            # test guests
	tmux                                                    # terminal tests, demo
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: missing ${missing[*]}: run as root" >&2
	exit 1
fi
echo "install-deps.sh: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
