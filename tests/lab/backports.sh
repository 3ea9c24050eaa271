#!/bin/bash
# tests/lab/backports.sh — QEMU 10 and Linux 6.12 from Debian's bookworm-backports for the lab
# (issue 19: an igb NIC, Intel 82576 with SR-IOV, next to the lab's e1000e, NVMe and virtio NICs).
#
# Security model: runs as root on the build host; reads only Debian packages that apt fetched and
# checked against /usr/share/keyrings/debian-archive-keyring.gpg, and this source tree.
#
# The system's apt configuration and its QEMU (Debian 12's 7.2, which the host's guest tests use)
# are left alone: apt runs with a private sources list (bookworm-backports only), a private list
# and cache directory under $RIOV_LAB_CACHE/backports/apt/, and `apt-get download` of pinned
# versions; the packages are unpacked with `dpkg-deb -x` under $RIOV_LAB_CACHE/backports/.
#
# Run alone: fetch and unpack the pinned QEMU packages and fetch the pinned kernel package, write
# $RIOV_LAB_CACHE/backports/qemu.env (QEMU=, QEMU_DATADIRS=, QEMU_MODULE_DIR=, QEMU_QBOOT=) and
# print the QEMU version and whether it has the igb device. --policy prints what bookworm-backports
# has now next to the pins (to move a pin).
# Sourced by tests/lab/build.sh when RIOV_LAB_BACKPORTS=1: the same, then build.sh goes on with
# CACHE=$RIOV_LAB_CACHE/backports, the pinned 6.12 kernel, MODULES plus igb and igbvf and the tests
# of tests/lab/guest/backports/ (so the lab image for 6.12 is built there, lab.env included).
#
# Environment (the pins; each default is what bookworm-backports had when it was pinned):
#   RIOV_LAB_BP_QEMU_VERSION     Debian version of the QEMU packages (default 1:10.0.2+ds-2+deb13u1~bpo12+1)
#   RIOV_LAB_BP_SEABIOS_VERSION  seabios (default 1.16.3-2~bpo12+1; QEMU 10 wants >> 1.16.3-1~)
#   RIOV_LAB_BP_KERNEL_PKG       kernel package (default linux-image-6.12.95+deb12-amd64-unsigned)
#   RIOV_LAB_BP_KERNEL_VERSION   its version (default 6.12.95-1~bpo12+1)

BP_QEMU_VERSION=${RIOV_LAB_BP_QEMU_VERSION:-1:10.0.2+ds-2+deb13u1~bpo12+1}
BP_SEABIOS_VERSION=${RIOV_LAB_BP_SEABIOS_VERSION:-1.16.3-2~bpo12+1}
BP_KERNEL_PKG=${RIOV_LAB_BP_KERNEL_PKG:-linux-image-6.12.95+deb12-amd64-unsigned}
BP_KERNEL_VERSION=${RIOV_LAB_BP_KERNEL_VERSION:-6.12.95-1~bpo12+1}
# qemu-system-x86 with what it needs at versions bookworm does not have (qemu-system-x86's Depends:
# qemu-system-common and qemu-system-data of the same version, seabios >> 1.16.3-1~; every shared
# library it links is in bookworm, at a version Debian 12's QEMU 7.2 already installs), plus the
# GL and SPICE module packages: QEMU looks for its modules in its compiled-in directory too, which
# holds 7.2's (a module of another build aborts QEMU when it is loaded, e.g. by `-device help`), so
# every module 10.0 knows that 7.2 installs must be in QEMU_MODULE_DIR. ipxe-qemu (no version
# asked) comes from bookworm with the host's QEMU.
BP_QEMU_PKGS=(qemu-system-x86 qemu-system-common qemu-system-data qemu-system-modules-opengl qemu-system-modules-spice)

BP_CACHE=${RIOV_LAB_CACHE:-/var/cache/riov-lab}/backports
BP_APT_DIR=$BP_CACHE/apt
BP_DEBS=$BP_CACHE/debs
BP_SOURCE='deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main'
BP_APT=(-o "Dir::Etc::SourceList=$BP_APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$BP_APT_DIR/lists" -o "Dir::Cache=$BP_APT_DIR/cache"
	-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null)

bp_log() { echo "lab-backports: $*" >&2; }
bp_die() { echo "lab-backports: ERROR: $*" >&2; exit 1; }

# bp_apt_update — the private package lists of bookworm-backports (apt checks their signatures).
bp_apt_update() {
	mkdir -p "$BP_APT_DIR/lists/partial" "$BP_APT_DIR/cache/archives/partial"
	echo "$BP_SOURCE" > "$BP_APT_DIR/sources.list"
	bp_log "apt-get update (bookworm-backports, private lists in $BP_APT_DIR)"
	apt-get "${BP_APT[@]}" update -q >&2 || bp_die "apt-get update of bookworm-backports failed"
	: > "$BP_APT_DIR/.updated"
}

# bp_fetch PKG VERSION — the .deb in $BP_DEBS (downloaded once); its path on stdout. A pinned version
# that bookworm-backports no longer has is said so, with what it has now.
bp_fetch() {
	local pkg=$1 ver=$2 f now
	f=$(ls "$BP_DEBS/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$f" ]; then
		mkdir -p "$BP_DEBS"
		[ -f "$BP_APT_DIR/.updated" ] || bp_apt_update
		bp_log "downloading $pkg=$ver"
		if ! (cd "$BP_DEBS" && apt-get "${BP_APT[@]}" download -q "$pkg=$ver" 2>&1 |
			grep -v '^W: Download is performed unsandboxed' >&2; exit "${PIPESTATUS[0]}"); then
			bp_apt_update
			(cd "$BP_DEBS" && apt-get "${BP_APT[@]}" download -q "$pkg=$ver" 2>&1 |
				grep -v '^W: Download is performed unsandboxed' >&2; exit "${PIPESTATUS[0]}") || {
				now=$(apt-cache "${BP_APT[@]}" madison "$pkg" 2>/dev/null | awk -F' [|] ' '{print $2}' | xargs)
				bp_die "the pinned $pkg=$ver is not in bookworm-backports (any more); it has: ${now:-no $pkg at all}. Move the pin in tests/lab/backports.sh (tests/lab/backports.sh --policy lists the current versions)"
			}
		fi
		f=$(ls "$BP_DEBS/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
		[ -n "$f" ] || bp_die "download of $pkg=$ver produced no file"
	fi
	echo "$f"
}

# bp_policy — what bookworm-backports has now, next to the pins.
bp_policy() {
	bp_apt_update
	local p
	for p in "${BP_QEMU_PKGS[@]}" seabios "$BP_KERNEL_PKG" linux-image-amd64; do
		echo "$p: candidate $(apt-cache "${BP_APT[@]}" policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
	done
	echo "pins: QEMU $BP_QEMU_VERSION, seabios $BP_SEABIOS_VERSION, kernel $BP_KERNEL_PKG $BP_KERNEL_VERSION"
	echo "(linux-image-amd64 names the current kernel package: pin its linux-image-<abi>-amd64-unsigned)"
}

# bp_qemu — QEMU unpacked into $BP_CACHE/qemu-<version>/ (redone when the set of .debs changes),
# qemu.env written.
bp_qemu() {
	local debs=() p key qroot missing
	for p in "${BP_QEMU_PKGS[@]}"; do
		debs+=("$(bp_fetch "$p" "$BP_QEMU_VERSION")")
	done
	debs+=("$(bp_fetch seabios "$BP_SEABIOS_VERSION")")
	qroot=$BP_CACHE/qemu-${BP_QEMU_VERSION//[:~+]/_}
	key=$(for p in "${debs[@]}"; do basename "$p"; done)
	if [ "$(cat "$qroot/.key" 2>/dev/null || true)" != "$key" ]; then
		bp_log "unpacking QEMU $BP_QEMU_VERSION into $qroot"
		rm -rf "$qroot"; mkdir -p "$qroot"
		for p in "${debs[@]}"; do
			dpkg-deb -x "$p" "$qroot"
		done
		echo "$key" > "$qroot/.key"
	fi
	[ -x "$qroot/usr/bin/qemu-system-x86_64" ] || bp_die "no qemu-system-x86_64 in $qroot"
	# Every library it links must be on the host (they are all bookworm's; Debian 12's QEMU 7.2
	# brings them): no LD_LIBRARY_PATH. A missing one is named.
	missing=$(ldd "$qroot/usr/bin/qemu-system-x86_64" | awk '/not found/ {print $1}' | xargs)
	[ -z "$missing" ] || bp_die "QEMU $BP_QEMU_VERSION needs $missing (apt-get install -y qemu-system-x86 brings bookworm's)"
	# -L: QEMU 10's data (qboot, pvh.bin, linuxboot_dma.bin, ...) and seabios come first; its
	# compiled-in firmware path (the host's /usr/share/qemu, /usr/share/seabios, /usr/lib/ipxe/qemu)
	# follows, for the ipxe option ROMs.
	cat > "$BP_CACHE/qemu.env.tmp" <<EOF
QEMU_VERSION=$BP_QEMU_VERSION
QEMU=$qroot/usr/bin/qemu-system-x86_64
QEMU_DATADIRS="$qroot/usr/share/qemu $qroot/usr/share/seabios"
QEMU_MODULE_DIR=$qroot/usr/lib/x86_64-linux-gnu/qemu
QEMU_QBOOT=$qroot/usr/share/qemu/qboot.rom
EOF
	mv "$BP_CACHE/qemu.env.tmp" "$BP_CACHE/qemu.env"
}

# bp_check — the unpacked QEMU runs and has igb.
bp_check() {
	# shellcheck disable=SC1091
	. "$BP_CACHE/qemu.env"
	local l=() d
	for d in $QEMU_DATADIRS; do l+=(-L "$d"); done
	QEMU_MODULE_DIR=$QEMU_MODULE_DIR "$QEMU" --version | head -n1
	if QEMU_MODULE_DIR=$QEMU_MODULE_DIR "$QEMU" "${l[@]}" -device help 2>/dev/null | grep -q '^name "igb"'; then
		echo "igb: $(QEMU_MODULE_DIR=$QEMU_MODULE_DIR "$QEMU" "${l[@]}" -device help 2>/dev/null | grep '^name "igb"')"
	else
		bp_die "$QEMU has no igb device"
	fi
}

bp_prepare() {
	command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || bp_die "needs apt-get and dpkg-deb"
	[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] ||
		bp_die "no /usr/share/keyrings/debian-archive-keyring.gpg (apt-get install -y debian-archive-keyring)"
	mkdir -p "$BP_CACHE"
	bp_qemu
	bp_fetch "$BP_KERNEL_PKG" "$BP_KERNEL_VERSION" > /dev/null
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
	# sourced by build.sh: the lab image for the backports kernel, built under $BP_CACHE
	bp_prepare
	CACHE=$BP_CACHE
	KPKG=$BP_KERNEL_PKG
	KPKG_VER=$BP_KERNEL_VERSION
	# busybox-static from bookworm, as for the 6.1 lab (the same .deb when the main cache has it)
	mkdir -p "$CACHE/debs"
	for f in "${CACHE%/backports}"/debs/busybox-static_*.deb; do
		[ -e "$f" ] && [ ! -e "$CACHE/debs/$(basename "$f")" ] && cp "$f" "$CACHE/debs/"
	done
	# the igb PF and its VFs' driver (QEMU 7.2 has no igb: the 6.1 lab does not load them)
	MODULES+=(igb igbvf)
	LAB_TEST_DIRS+=("$HERE/guest/backports")
else
	set -euo pipefail
	case "${1:-}" in
	--policy) bp_policy; exit 0 ;;
	"") ;;
	*) bp_die "usage: $0 [--policy]" ;;
	esac
	bp_prepare
	bp_check
	echo "kernel: $(ls "$BP_DEBS/${BP_KERNEL_PKG}_${BP_KERNEL_VERSION//:/%3a}_"*.deb)"
	echo "next: RIOV_LAB_BACKPORTS=1 tests/lab/build.sh && tests/lab/run.sh --backports"
fi
