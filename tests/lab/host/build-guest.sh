#!/bin/bash
# tests/lab/host/build-guest.sh — the initramfs of the Linux guests riovd serves over vhost-user
# (tests/lab/host/test_vhost_guests.py): busybox, the virtio-net modules, guest-init, and the host's
# iperf3 and ethtool with the shared objects ldd lists for them (the same Debian generation as the
# guest: deploy/install-deps.sh installs both).
#
# Memory hot-plug needs no module: Debian's 6.1 kernel has CONFIG_MEMORY_HOTPLUG, _HOTREMOVE,
# ACPI_HOTPLUG_MEMORY and ACPI_CONTAINER built in (not MEMORY_HOTPLUG_DEFAULT_ONLINE: the test
# boots hot-plug guests with memhp_default_state=online_movable so that their DIMMs can go again).
#
# Security model: runs as root on the build host and reads only what tests/lab/build.sh unpacked
# from Debian packages into the lab cache, and files from this source tree.
#
# Needs tests/lab/build.sh to have run (the kernel and busybox in $RIOV_LAB_CACHE). Writes
# $RIOV_LAB_CACHE/vhost-guest.cpio.gz (rebuilt only when its inputs change) and prints its path.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${RIOV_LAB_CACHE:-/var/cache/riov-lab}
die() { echo "vhost-guest-build: ERROR: $*" >&2; exit 1; }
# shellcheck source=tests/lab/modules.sh
. "$HERE/../modules.sh"

[ -f "$CACHE/lab.env" ] || die "$CACHE/lab.env missing: run tests/lab/build.sh first"
# shellcheck disable=SC1091
. "$CACHE/lab.env"
KROOT=$(dirname "$(dirname "$KERNEL_BZIMAGE")")
BUSYBOX=$CACHE/busybox/bin/busybox
[ -x "$BUSYBOX" ] || die "no busybox in $CACHE/busybox: run tests/lab/build.sh first"
[ -d "$KROOT/lib/modules/$KVER" ] || die "no modules for $KVER under $KROOT"

MODULES=(virtio_pci virtio_net)
# host programs copied into the guest, with their shared objects
HOST_TOOLS=()
for t in iperf3 ethtool; do
	p=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t") ||
		die "no $t on this host: run deploy/install-deps.sh (apt-get install iperf3 ethtool)"
	HOST_TOOLS+=("$(readlink -f "$p")")
done
# ldd's list for each tool: FILE -> the library paths (as ldd names them) and ld.so
host_libs() {
	ldd "$1" | awk '/=>/ && $3 ~ /^\// {print $3} /^[ \t]*\// {print $1}'
}
OUT=$CACHE/vhost-guest.cpio.gz
KEY=$( {
	echo "$KVER ${MODULES[*]}"
	sha256sum "$BUSYBOX" "$HERE/guest-init" "$HERE/build-guest.sh" "$HERE/../modules.sh"
	for f in "${HOST_TOOLS[@]}"; do
		sha256sum "$f"
		host_libs "$f" | while read -r lib; do sha256sum "$(readlink -f "$lib")"; done
	done
} | sha256sum | cut -d' ' -f1)
if [ "$(cat "$OUT.key" 2>/dev/null || true)" = "$KEY" ] && [ -f "$OUT" ]; then
	echo "$OUT"
	exit 0
fi

STAGE=$CACHE/vhost-guest.d
rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,sbin,dev,proc,sys,tmp,etc,lib/modules/"$KVER"}
cp "$BUSYBOX" "$STAGE/bin/busybox"
ln -s busybox "$STAGE/bin/sh"
install -m 0755 "$HERE/guest-init" "$STAGE/init"
stage_modules "$KROOT" "$KVER" "$STAGE" "$STAGE/modules.list" "${MODULES[@]}" || die "cannot stage the modules"

# copy_path PATH — PATH into the stage at the same path; a symbolic link (of the file or of a
# directory on the way, e.g. Debian's /lib -> usr/lib) becomes the same link, then its target is
# copied in turn (as tests/lab/build.sh does for the lab VM).
copy_path() {
	local p=$1 dir rdir t
	while :; do
		{ [ -e "$STAGE$p" ] || [ -L "$STAGE$p" ]; } && return 0
		dir=$(dirname "$p")
		rdir=$(readlink -f "$dir")
		mkdir -p "$STAGE$dir"
		if [ "$rdir" != "$dir" ]; then
			ln -s "$rdir/$(basename "$p")" "$STAGE$p"
			p=$rdir/$(basename "$p")
		elif [ -L "$p" ]; then
			t=$(readlink "$p")
			ln -s "$t" "$STAGE$p"
			case $t in /*) p=$t ;; *) p=$dir/$t ;; esac
		else
			cp "$p" "$STAGE$p"
			return 0
		fi
	done
}
for f in "${HOST_TOOLS[@]}"; do
	copy_path "$f"
	host_libs "$f" | while read -r lib; do copy_path "$lib"; done
done
copy_path /lib64/ld-linux-x86-64.so.2   # the interpreter named in the programs
(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet -R 0:0 | gzip -1 > "$OUT.tmp")
mv "$OUT.tmp" "$OUT"
echo "$KEY" > "$OUT.key"
echo "$OUT"
