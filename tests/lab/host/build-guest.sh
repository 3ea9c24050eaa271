#!/bin/bash
# tests/lab/host/build-guest.sh — the initramfs of the Linux guests riovd serves over vhost-user
# (tests/lab/host/test_vhost_guests.py): busybox, the virtio-net modules and guest-init.
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
OUT=$CACHE/vhost-guest.cpio.gz
KEY=$( { echo "$KVER ${MODULES[*]}"; sha256sum "$BUSYBOX" "$HERE/guest-init" "$HERE/build-guest.sh" "$HERE/../modules.sh"; } |
	sha256sum | cut -d' ' -f1)
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
(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet -R 0:0 | gzip -1 > "$OUT.tmp")
mv "$OUT.tmp" "$OUT"
echo "$KEY" > "$OUT.key"
echo "$OUT"
