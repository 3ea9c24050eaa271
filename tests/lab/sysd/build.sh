#!/bin/bash
# tests/lab/sysd/build.sh DEB — build the lab's second VM image: Debian 12 with systemd as init,
# made from Debian packages by mmdebstrap, where riov's package is installed and run as operators
# run it (tests/lab/sysd/run.sh boots it; docs/lab.md, "The systemd VM").
#
# Security model: runs as root on the build host; reads only Debian packages (apt checks their
# signatures), the host's own dpdk-testpmd binary and files from this tree. Nothing from a guest.
#
# DEB is the riov .deb the VM will install: its Depends and Recommends are installed into the image
# beforehand (the VM has no network, and `apt install ./riov_*.deb` must find them), so a new
# dependency rebuilds the image by itself.
#
# Output, in $RIOV_LAB_CACHE/sysd (default /var/cache/riov-lab/sysd), each rebuilt only when its
# inputs change (a key file next to it):
#   rootfs.ext4      the root file system (ext4, about 1.5 GB sparse; QEMU opens it with snapshot=on,
#                    so every boot starts from the same image)
#   initrd.cpio.gz   busybox, the block/ext4/9p/tun modules and tests/lab/sysd/init, which mounts
#                    the root and the run's shared directory and hands over to systemd
#   sysd.env         KERNEL= (the lab kernel of tests/lab/build.sh), INITRD=, ROOTFS=
# Needs tests/lab/build.sh to have run (its kernel and busybox).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${RIOV_LAB_CACHE:-/var/cache/riov-lab}
OUT=$CACHE/sysd
SUITE=bookworm
DEB=${1:?usage: build.sh RIOV_DEB}

log() { echo "sysd-build: $*" >&2; }
die() { echo "sysd-build: ERROR: $*" >&2; exit 1; }

for tool in mmdebstrap mkfs.ext4 dpkg-deb dpkg-query ldd cpio gzip; do
	command -v "$tool" >/dev/null || die "missing '$tool' (make deps installs mmdebstrap and e2fsprogs)"
done
[ -f "$DEB" ] || die "no package $DEB"
[ -f "$CACHE/lab.env" ] || die "$CACHE/lab.env missing: run tests/lab/build.sh first"
# shellcheck disable=SC1091
. "$CACHE/lab.env"
KROOT=$(dirname "$(dirname "$(dirname "$(ls -d "$CACHE"/kernel/*/lib/modules/"$KVER")")")")
[ -d "$KROOT/lib/modules/$KVER" ] || die "no unpacked kernel $KVER in $CACHE/kernel"
BUSYBOX=$CACHE/busybox/bin/busybox
[ -x "$BUSYBOX" ] || die "no busybox in $CACHE/busybox (tests/lab/build.sh)"
# shellcheck source=tests/lab/modules.sh
. "$HERE/../modules.sh"

# Where apt gets Debian from on this host: the same sources for the image.
SOURCES=""
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
	[ -s "$f" ] && { SOURCES=$f; break; }
done
[ -n "$SOURCES" ] || die "no Debian apt source on this host (/etc/apt/sources.list.d/debian.sources)"

# The packages: systemd as init, the tools the tests use, riov's dependencies, and the libraries of
# the host's dpdk-testpmd (the guest on riovd's vhost port; Debian ships it in dpdk-dev, whose
# headers and Python the image does not need, so the binary comes from the host and its libraries
# from their packages).
deb_deps() {
	dpkg-deb -f "$1" Depends Recommends | sed 's/^[A-Za-z]*: //' | tr ',' '\n' |
		sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep -v '^$'
}
TESTPMD=$(command -v dpdk-testpmd || true)
[ -n "$TESTPMD" ] || die "no dpdk-testpmd on this host (apt-get install dpdk-dev)"
testpmd_pkgs() {
	ldd "$TESTPMD" | awk '/=>/ {print $3}' | while read -r lib; do
		[ -f "$lib" ] || continue
		dpkg-query -S "$(readlink -f "$lib")" 2>/dev/null || dpkg-query -S "$lib" 2>/dev/null || true
	done | cut -d: -f1 | tr ',' '\n' | sed 's/[[:space:]]//g' | grep -v '^$'
}
PKGS=$( { printf '%s\n' systemd systemd-sysv dbus iproute2 iputils-ping procps kmod passwd util-linux \
	librte-net-virtio23; deb_deps "$DEB"; testpmd_pkgs; } | sort -u | tr '\n' ',' | sed 's/,$//')

# Modules: the initramfs loads these before systemd starts (riovd's unit forbids module loading:
# ProtectKernelModules=yes; net_tap needs tun); the root file system gets the same files.
MODULES=(virtio_pci virtio_blk ext4 9pnet_virtio 9p tun veth)

key_inputs() {
	echo "suite $SUITE packages $PKGS"
	echo "kernel $KVER"
	sha256sum "$HERE/build.sh" "$HERE/init" "$HERE/riov-lab.service" "$BUSYBOX" "$TESTPMD" "$SOURCES"
}
KEY=$(key_inputs | sha256sum | cut -d' ' -f1)
mkdir -p "$OUT"

if [ "$(cat "$OUT/rootfs.ext4.key" 2>/dev/null || true)" = "$KEY" ] && [ -f "$OUT/rootfs.ext4" ]; then
	log "image up to date ($OUT/rootfs.ext4)"
else
	log "building the systemd image (mmdebstrap $SUITE, $(echo "$PKGS" | tr ',' '\n' | wc -l) packages asked for)"
	ROOT=$OUT/rootfs.d
	rm -rf "$ROOT" "$OUT/rootfs.ext4" "$OUT/rootfs.ext4.key"
	# --variant=apt: Essential packages and apt (the tests install riov with apt). Recommends are
	# off: only what is asked for and its dependencies.
	mmdebstrap --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
		--aptopt='APT::Install-Recommends "false"' --include="$PKGS" \
		"$SUITE" "$ROOT" "$SOURCES" > "$OUT/mmdebstrap.log" 2>&1 ||
		{ tail -30 "$OUT/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $OUT/mmdebstrap.log)"; }
	install -m 0755 "$TESTPMD" "$ROOT/usr/bin/dpdk-testpmd"
	stage_modules "$KROOT" "$KVER" "$ROOT" "$ROOT/etc/riov-lab-modules.list" "${MODULES[@]}" ||
		die "a module is missing from the lab kernel"
	cp "$KROOT/lib/modules/$KVER"/modules.{order,builtin} "$ROOT/lib/modules/$KVER/" 2>/dev/null || true
	depmod -b "$ROOT" "$KVER"
	echo riovlab > "$ROOT/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\triovlab\n' > "$ROOT/etc/hosts"
	: > "$ROOT/etc/fstab"
	mkdir -p "$ROOT/lab"
	# The test run: tests/lab/sysd/tests.sh from the shared directory, once the system is up.
	install -m 0644 "$HERE/riov-lab.service" "$ROOT/etc/systemd/system/riov-lab.service"
	ln -sf /etc/systemd/system/riov-lab.service "$ROOT/etc/systemd/system/multi-user.target.wants/riov-lab.service"
	# Nothing that the tests do not need runs at boot: timers (apt, dpkg, fstrim), consoles (the
	# serial console carries the results), and the root file system's resize and checks.
	for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer fstrim.timer e2scrub_all.timer \
		systemd-tmpfiles-clean.timer getty@tty1.service serial-getty@ttyS0.service \
		console-getty.service systemd-firstboot.service; do
		ln -sf /dev/null "$ROOT/etc/systemd/system/$u"
	done
	rm -rf "$ROOT/var/cache/apt/archives/"*.deb "$ROOT/var/lib/apt/lists/"*_Packages 2>/dev/null || true
	mkfs.ext4 -q -F -L riovlab -E root_owner=0:0 -d "$ROOT" "$OUT/rootfs.ext4.tmp" 1536M ||
		die "mkfs.ext4 -d failed"
	mv "$OUT/rootfs.ext4.tmp" "$OUT/rootfs.ext4"
	rm -rf "$ROOT"
	echo "$KEY" > "$OUT/rootfs.ext4.key"
	log "image $(du -h "$OUT/rootfs.ext4" | cut -f1) used of $(du -h --apparent-size "$OUT/rootfs.ext4" | cut -f1)"
fi

IKEY=$( { echo "$KEY"; echo "${MODULES[*]}"; sha256sum "$HERE/init"; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$OUT/initrd.cpio.gz.key" 2>/dev/null || true)" = "$IKEY" ] && [ -f "$OUT/initrd.cpio.gz" ]; then
	log "initramfs up to date ($OUT/initrd.cpio.gz)"
else
	STAGE=$OUT/initrd.d
	rm -rf "$STAGE"
	mkdir -p "$STAGE"/{bin,dev,proc,sys,newroot}
	cp "$BUSYBOX" "$STAGE/bin/busybox"
	ln -s busybox "$STAGE/bin/sh"
	install -m 0755 "$HERE/init" "$STAGE/init"
	stage_modules "$KROOT" "$KVER" "$STAGE" "$STAGE/modules.list" "${MODULES[@]}" ||
		die "a module is missing from the lab kernel"
	(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --quiet -R 0:0 | gzip -1 > "$OUT/initrd.cpio.gz.tmp")
	mv "$OUT/initrd.cpio.gz.tmp" "$OUT/initrd.cpio.gz"
	rm -rf "$STAGE"
	echo "$IKEY" > "$OUT/initrd.cpio.gz.key"
fi

cat > "$OUT/sysd.env.tmp" <<EOF
KERNEL=$KERNEL
INITRD=$OUT/initrd.cpio.gz
ROOTFS=$OUT/rootfs.ext4
EOF
mv "$OUT/sysd.env.tmp" "$OUT/sysd.env"
log "ready: $OUT/sysd.env"
