#!/bin/bash
# tests/lab/build.sh — build the riov lab VM (kernel + initramfs) from Debian packages only.
#
# Security model: runs as root on the build host and only reads Debian packages fetched with apt
# (signature-checked by apt) and files from this source tree. Nothing from a guest is read here.
#
# Output (in $RIOV_LAB_CACHE, default /var/cache/riov-lab, never in the source tree):
#   debs/                the downloaded .deb files (pinned kernel, busybox-static)
#   kernel/<ver>/        the kernel package unpacked with dpkg -x, modules.dep made by depmod -b
#   vmlinux-<ver>        the uncompressed (ELF, PVH-bootable) kernel, when it can be extracted
#   initramfs.cpio.gz    busybox, /init, the modules, host tools (rdma, ip, ibv_*), riovd + riovctl
#                        of the tree's build with their libraries and DPDK PMDs, the tests
#   initramfs-pair.cpio.gz  the same plus an appended archive: dpdk-testpmd (libraries, net_virtio)
#                        and the pair tests (tests/lab/guest/pair/), for tests/lab/run.sh --pair
#   lab.env              KERNEL=, INITRD=, KVER= for tests/lab/run.sh
# Each step is skipped when its inputs have not changed (a key file next to the artifact).
#
# Environment:
#   RIOV_LAB_CACHE            cache directory (default /var/cache/riov-lab)
#   RIOV_LAB_KERNEL_PKG       kernel package (default linux-image-6.1.0-47-amd64-unsigned)
#   RIOV_LAB_KERNEL_VERSION   its Debian version (default 6.1.170-3); both together are the pin
#   RIOV_LAB_EXTRA            optional directory copied into the guest as /lab/extra (e.g. riov binaries)
#   RIOV_LAB_BUILD            meson build directory of riovd/riovctl (default <tree>/build)
#   RIOV_LAB_BACKPORTS        1: the backports lab (tests/lab/backports.sh, sourced): QEMU 10 and Linux
#                             6.12 from bookworm-backports, this whole build under $RIOV_LAB_CACHE/backports
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${RIOV_LAB_CACHE:-/var/cache/riov-lab}
KPKG=${RIOV_LAB_KERNEL_PKG:-linux-image-6.1.0-47-amd64-unsigned}
KPKG_VER=${RIOV_LAB_KERNEL_VERSION:-6.1.170-3}
BBPKG=busybox-static
EXTRA=${RIOV_LAB_EXTRA:-}

# Modules the guest loads at boot, in this order; their dependencies are added by modprobe.
MODULES=(e1000e virtio_pci virtio_net nvme vfio vfio_iommu_type1 vfio-pci crc32_generic ib_core ib_uverbs rdma_rxe rdma_ucm tun)
# (rdma_rxe asks the crypto API for "crc32"; nobody can modprobe it on demand in the guest;
# rdma_ucm is librdmacm's /dev/infiniband/rdma_cm)

# shellcheck source=tests/lab/modules.sh
. "$HERE/modules.sh"

log() { echo "lab-build: $*" >&2; }
die() { echo "lab-build: ERROR: $*" >&2; exit 1; }

# Test directories whose scripts go to the guest's /lab/tests besides tests/lab/guest/tests/.
LAB_TEST_DIRS=()
if [ "${RIOV_LAB_BACKPORTS:-0}" = 1 ]; then
	# sets CACHE, KPKG, KPKG_VER, adds to MODULES and LAB_TEST_DIRS
	# shellcheck source=tests/lab/backports.sh
	. "$HERE/backports.sh"
fi

for tool in apt-get dpkg-deb cpio depmod modprobe gzip xz sha256sum ldd; do
	command -v "$tool" >/dev/null || die "missing '$tool' (apt-get install -y cpio kmod xz-utils)"
done

mkdir -p "$CACHE/debs" "$CACHE/kernel"

# A machine whose packages were all installed may have no package lists: fetch them once.
APT_UPDATED=0
apt_update_once() {
	[ "$APT_UPDATED" = 1 ] && return 0
	APT_UPDATED=1
	log "apt-get update (package lists for apt-get download)"
	apt-get update -q >&2
}

# fetch_deb PKG [VERSION] — print the path of the .deb in the cache, downloading it once.
fetch_deb() {
	local pkg=$1 ver=${2:-} spec f
	spec=$pkg${ver:+=$ver}
	if [ -z "$ver" ]; then
		ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')
		if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
			apt_update_once
			ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')
		fi
		[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "package $pkg not known to apt"
	fi
	# .deb names encode the epoch colon as %3a
	f=$(ls "$CACHE/debs/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$f" ]; then
		log "downloading $spec"
		(cd "$CACHE/debs" && apt-get download -q "$spec" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
			{ apt_update_once &&
			  (cd "$CACHE/debs" && apt-get download -q "$spec" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2); } ||
			die "apt-get download $spec failed; pin another kernel with RIOV_LAB_KERNEL_PKG/RIOV_LAB_KERNEL_VERSION (apt-cache madison 'linux-image-6.1.0-*-amd64-unsigned')"
		f=$(ls "$CACHE/debs/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
		[ -n "$f" ] || die "download of $spec produced no file"
	fi
	echo "$f"
}

# --- 1. kernel ------------------------------------------------------------------------------------
KDEB=$(fetch_deb "$KPKG" "$KPKG_VER")
KROOT=$CACHE/kernel/${KPKG}_${KPKG_VER}
if [ ! -f "$KROOT/.done" ]; then
	log "unpacking $(basename "$KDEB")"
	rm -rf "$KROOT"; mkdir -p "$KROOT"
	dpkg-deb -x "$KDEB" "$KROOT"
	KVER=$(ls "$KROOT/lib/modules")
	# The .deb ships no modules.dep (the postinst makes it); make it here.
	depmod -b "$KROOT" "$KVER"
	echo "$KVER" > "$KROOT/.done"
fi
KVER=$(cat "$KROOT/.done")
VMLINUZ=$KROOT/boot/vmlinuz-$KVER
[ -f "$VMLINUZ" ] || die "no $VMLINUZ in $KDEB"

# Uncompressed kernel: the bzImage carries an xz stream; the ELF inside boots through PVH
# (CONFIG_PVH=y), which skips the in-guest decompression (slow under TCG).
VMLINUX=$CACHE/vmlinux-$KVER
if [ ! -f "$VMLINUX" ] && [ ! -f "$VMLINUX.none" ]; then
	off=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$VMLINUZ" 2>/dev/null | head -n1 | cut -d: -f1 || true)
	# (tail may die of SIGPIPE once xz has its one stream: judge by the result, not the pipe status)
	[ -n "$off" ] && { tail -c +$((off + 1)) "$VMLINUZ" | xz -dc --single-stream > "$VMLINUX.tmp" 2>/dev/null || true; }
	if [ -z "$off" ] && command -v zstd >/dev/null; then
		# a zstd kernel (Debian's 6.12): the payload as the boot header places it (setup_sects at
		# 0x1f1, payload_offset and payload_length at 0x248), less its 4-byte size trailer
		s=$(od -An -tu1 -j $((0x1f1)) -N1 "$VMLINUZ" | tr -d ' '); [ "$s" = 0 ] && s=4
		po=$(od -An -tu4 -j $((0x248)) -N4 "$VMLINUZ" | tr -d ' ')
		pl=$(od -An -tu4 -j $((0x24c)) -N4 "$VMLINUZ" | tr -d ' ')
		off=$(( (s + 1) * 512 + po ))
		{ tail -c +$((off + 1)) "$VMLINUZ" | head -c $((pl - 4)) | zstd -dcq > "$VMLINUX.tmp" 2>/dev/null || true; }
	fi
	if [ -n "$off" ] && [ "$(head -c 4 "$VMLINUX.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
		mv "$VMLINUX.tmp" "$VMLINUX"
	else
		log "could not extract an ELF vmlinux; the VM will boot the compressed bzImage"
		rm -f "$VMLINUX.tmp"; : > "$VMLINUX.none"
	fi
fi

# --- 2. busybox -----------------------------------------------------------------------------------
BBDEB=$(fetch_deb "$BBPKG")
BBROOT=$CACHE/busybox
BBKEY=$(basename "$BBDEB")
if [ "$(cat "$BBROOT/.key" 2>/dev/null || true)" != "$BBKEY" ]; then
	rm -rf "$BBROOT"; mkdir -p "$BBROOT"
	dpkg-deb -x "$BBDEB" "$BBROOT"
	echo "$BBKEY" > "$BBROOT/.key"
fi
BUSYBOX=$BBROOT/bin/busybox
[ -x "$BUSYBOX" ] || die "no busybox in $BBDEB"

# --- 3. initramfs ---------------------------------------------------------------------------------
# Host tools copied into the guest with their shared libraries; each is optional (its test SKIPs).
# rdma, ip (network namespaces for the riovd tests' Linux peer): iproute2; ibv_devinfo,
# ibv_rc_pingpong: ibverbs-utils; ib_send_bw (the pair RDMA benchmark's reference): perftest; the
# rxe provider: ibverbs-providers.
RDMA=$(command -v rdma || true)
HOST_TOOLS=()
for t in rdma ip ibv_devinfo ibv_rc_pingpong ib_send_bw; do
	p=$(command -v "$t" || true)
	[ -n "$p" ] && HOST_TOOLS+=("$p")
done
RXE_PROVIDER=$(ls /usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav*.so 2>/dev/null | head -n1 || true)
[ -f /etc/libibverbs.d/rxe.driver ] || RXE_PROVIDER=""

# copy_path PATH STAGE — PATH at the same place in STAGE. A symlink stays a symlink and its target
# is copied too (also a symlinked directory on the way, e.g. /lib -> usr/lib), so a library reached
# under two names is one file in the guest: the dynamic loader and DPDK's PMD loader (which loads
# every name in its directory) then load it once.
copy_path() {
	local p=$1 stage=$2 dir rdir t
	while :; do
		{ [ -e "$stage$p" ] || [ -L "$stage$p" ]; } && return 0
		dir=$(dirname "$p")
		rdir=$(readlink -f "$dir")
		mkdir -p "$stage$dir"
		if [ "$rdir" != "$dir" ]; then
			ln -s "$rdir/$(basename "$p")" "$stage$p"
			p=$rdir/$(basename "$p")
		elif [ -L "$p" ]; then
			t=$(readlink "$p")
			ln -s "$t" "$stage$p"
			case $t in /*) p=$t ;; *) p=$dir/$t ;; esac
		else
			cp "$p" "$stage$p"
			return 0
		fi
	done
}

# copy_libs_of FILE STAGE — every shared library ldd lists for FILE, at the same paths.
copy_libs_of() {
	local f=$1 stage=$2 lib
	ldd "$f" | awk '/=>/ {print $3} /^[ \t]*\// {print $1}' | while read -r lib; do
		[ -f "$lib" ] || continue
		copy_path "$lib" "$stage"
	done
	# ld.so is looked up through /lib64 on x86-64
	copy_path /lib64/ld-linux-x86-64.so.2 "$stage"
}

# copy_with_libs FILE STAGE — FILE and its shared libraries, at the same paths.
copy_with_libs() {
	copy_path "$1" "$2"
	copy_libs_of "$1" "$2"
}

# riov sources linked into the guest programs of tests/lab/guest/riov/ (no DPDK, no libevent).
RIOV_SRC=$(cd "$HERE/../.." && pwd)
RIOV_LIB_SOURCES=("$RIOV_SRC"/iommu/*.c "$RIOV_SRC"/common/*.c)

# riovd and riovctl of the build directory (RIOV_LAB_BUILD, default <tree>/build), brought up to
# date with ninja first, plus the DPDK PMDs riovd loads from DPDK's PMD directory (EAL dlopens every
# .so there; the guest gets only these). A build that fails leaves riovd out: its tests SKIP.
RIOV_BUILD=${RIOV_LAB_BUILD:-$RIOV_SRC/build}
RIOVD_BINS=()
if [ -f "$RIOV_BUILD/build.ninja" ] && command -v ninja >/dev/null; then
	if ninja -C "$RIOV_BUILD" control/riovd tools/riovctl > "$CACHE/build-riovd.log" 2>&1; then
		RIOVD_BINS=("$RIOV_BUILD/control/riovd" "$RIOV_BUILD/tools/riovctl")
	else
		log "WARNING: ninja -C $RIOV_BUILD riovd riovctl failed (see $CACHE/build-riovd.log); riovd tests will SKIP"
	fi
else
	log "no meson build directory at $RIOV_BUILD (meson setup build && ninja -C build): riovd tests will SKIP"
fi
# DPDK programs of the lab built with the tree (tests/lab/guest/dpdk/, meson targets; only those the
# build directory has: rdma_link_smoke needs rdma-core). A failed build leaves one out: its test SKIPs.
LAB_DPDK_BINS=()
if [ -f "$RIOV_BUILD/build.ninja" ] && command -v ninja >/dev/null; then
	# (the list whole first: grep -q leaving early would SIGPIPE ninja, and pipefail then said "no")
	targets=$(ninja -C "$RIOV_BUILD" -t targets all 2>/dev/null || true)
	for t in rdma_link_smoke; do
		tgt=tests/lab/guest/dpdk/$t
		grep -q "^$tgt:" <<< "$targets" || continue
		if ninja -C "$RIOV_BUILD" "$tgt" > "$CACHE/build-$t.log" 2>&1; then
			LAB_DPDK_BINS+=("$RIOV_BUILD/$tgt")
		else
			log "WARNING: ninja -C $RIOV_BUILD $tgt failed (see $CACHE/build-$t.log); its test will SKIP"
		fi
	done
fi
DPDK_PMD_DIR=$(sed -n 's/^#define RTE_EAL_PMD_PATH "\(.*\)"$/\1/p' \
	/usr/include/*/dpdk/rte_build_config.h /usr/include/dpdk/rte_build_config.h 2>/dev/null | head -n1 || true)
[ -n "$DPDK_PMD_DIR" ] || DPDK_PMD_DIR=$(ls -d /usr/lib/x86_64-linux-gnu/dpdk/pmds-* 2>/dev/null | head -n1 || true)
# PCI bus (-a), vdev bus, the mempool driver (ring), the e1000/e1000e PMD (net_e1000_em), and the
# vdevs the tests use as the Linux-facing end (tap, af_packet) or sinks (null, ring).
DPDK_PMDS=(bus_pci bus_vdev mempool_ring net_e1000 net_tap net_af_packet net_null net_ring)
DPDK_FILES=()
if [ ${#RIOVD_BINS[@]} -gt 0 ] || [ ${#LAB_DPDK_BINS[@]} -gt 0 ]; then
	for m in "${DPDK_PMDS[@]}"; do
		for f in "$DPDK_PMD_DIR"/librte_"$m".so*; do
			[ -e "$f" ] && DPDK_FILES+=("$f")
		done
	done
	[ ${#DPDK_FILES[@]} -gt 0 ] || log "WARNING: no DPDK PMDs in '$DPDK_PMD_DIR': riovd will find no devices"
fi

# The key covers everything that goes into the image.
key_inputs() {
	echo "kernel $KPKG $KPKG_VER $KVER"
	echo "busybox $BBKEY"
	echo "modules ${MODULES[*]}"
	sha256sum "$HERE/build.sh" "$HERE/modules.sh" "$HERE"/guest/init "$HERE"/guest/tests/* "$HERE"/guest/lib/* 2>/dev/null
	for d in "${LAB_TEST_DIRS[@]}"; do
		echo "tests $d"
		sha256sum "$d"/* "$HERE/backports.sh"
	done
	for f in "${HOST_TOOLS[@]}" $RXE_PROVIDER; do
		echo "host $f $(dpkg-query -S "$f" 2>/dev/null | cut -d: -f1)"
		sha256sum "$f"
	done
	[ -d "$HERE/guest/src" ] && find "$HERE/guest/src" -type f -exec sha256sum {} + | sort
	[ -d "$HERE/guest/riov" ] && find "$HERE/guest/riov" -type f -exec sha256sum {} + | sort
	sha256sum "$RIOV_SRC"/iommu/*.[ch] "$RIOV_SRC"/common/*.[ch] 2>/dev/null
	# riovd, riovctl, the PMDs and every shared library they load
	for f in "${RIOVD_BINS[@]}" "${LAB_DPDK_BINS[@]}" "${DPDK_FILES[@]}"; do
		echo "riovd $f"
		sha256sum "$f"
		ldd "$f" 2>/dev/null | awk '/=>/ {print $3}' | while read -r lib; do
			[ -f "$lib" ] && sha256sum "$lib"
		done
	done
	if [ -n "$EXTRA" ]; then
		[ -d "$EXTRA" ] || die "RIOV_LAB_EXTRA=$EXTRA is not a directory"
		(cd "$EXTRA" && find . -type f -exec sha256sum {} + | sort)
	fi
	return 0
}
KEY=$(key_inputs | sha256sum | cut -d' ' -f1)
INITRD=$CACHE/initramfs.cpio.gz
STAGE_BASE=$CACHE/initramfs.d

if [ "$(cat "$INITRD.key" 2>/dev/null || true)" = "$KEY" ] && [ -f "$INITRD" ]; then
	log "initramfs up to date ($INITRD)"
else
	log "building initramfs"
	STAGE=$CACHE/initramfs.d
	rm -rf "$STAGE"
	mkdir -p "$STAGE"/{bin,sbin,dev,proc,sys,tmp,run,etc,lab/tests,usr/bin,usr/sbin,lib/modules/"$KVER"}
	cp "$BUSYBOX" "$STAGE/bin/busybox"
	ln -s busybox "$STAGE/bin/sh"
	install -m 0755 "$HERE/guest/init" "$STAGE/init"
	for t in "$HERE"/guest/tests/*; do
		[ -f "$t" ] && install -m 0755 "$t" "$STAGE/lab/tests/"
	done
	for d in "${LAB_TEST_DIRS[@]}"; do
		for t in "$d"/*; do
			[ -f "$t" ] && install -m 0755 "$t" "$STAGE/lab/tests/"
		done
	done
	# shell functions the tests source (/lab/lib/*.sh)
	mkdir -p "$STAGE/lab/lib"
	for t in "$HERE"/guest/lib/*; do
		[ -f "$t" ] && install -m 0644 "$t" "$STAGE/lab/lib/"
	done

	# Modules: the dependency closure in load order, as modprobe computes it from modules.dep.
	stage_modules "$KROOT" "$KVER" "$STAGE" "$STAGE/lab/modules.list" "${MODULES[@]}" ||
		die "a module is missing from $KPKG"
	cp "$KROOT/lib/modules/$KVER"/modules.{order,builtin} "$STAGE/lib/modules/$KVER/" 2>/dev/null || true

	# Host tools from Debian packages, with the shared libraries they link against, at their host
	# paths: iproute2's rdma; rdma-core's ibv_* tools and the rxe verbs provider (optional).
	for f in "${HOST_TOOLS[@]}"; do
		copy_with_libs "$f" "$STAGE"
	done
	if [ -f "$RXE_PROVIDER" ]; then
		copy_with_libs "$RXE_PROVIDER" "$STAGE"
		mkdir -p "$STAGE/etc/libibverbs.d"
		cp /etc/libibverbs.d/rxe.driver "$STAGE/etc/libibverbs.d/"
	fi
	[ -n "$RDMA" ] || log "rdma (iproute2) not found: the Soft-RoCE test will be skipped"

	# Static helper programs written for the lab (tests/lab/guest/src/*.c), one binary each.
	if [ -d "$HERE/guest/src" ]; then
		mkdir -p "$STAGE/lab/bin"
		for c in "$HERE"/guest/src/*.c; do
			[ -f "$c" ] || continue
			b=$(basename "$c" .c)
			gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -o "$STAGE/lab/bin/$b" "$c" ||
				die "cannot build $c (needs gcc and libc6-dev)"
		done
	fi

	# riov's own code in the guest: programs in tests/lab/guest/riov/*.c linked (statically) with the
	# tree's iommu/ and common/ sources. A compile error (e.g. another folder half-written) skips
	# the program with a warning; the test that needs it then reports SKIP.
	mkdir -p "$STAGE/lab/bin"
	for c in "$HERE"/guest/riov/*.c; do
		[ -f "$c" ] || continue
		b=$(basename "$c" .c)
		if ! gcc -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter \
			-Wno-missing-field-initializers -static -I"$RIOV_SRC" -o "$STAGE/lab/bin/$b" "$c" \
			"${RIOV_LIB_SOURCES[@]}" -lpthread > "$CACHE/build-$b.log" 2>&1; then
			log "WARNING: cannot build $b against riov's sources (see $CACHE/build-$b.log); its test will SKIP"
			rm -f "$STAGE/lab/bin/$b"
		fi
	done

	# riovd, riovctl and DPDK: the binaries at /lab/bin, their libraries and the PMDs at the host's
	# paths (the PMD directory is compiled into librte_eal).
	if [ ${#RIOVD_BINS[@]} -gt 0 ]; then
		for f in "${RIOVD_BINS[@]}"; do
			install -m 0755 "$f" "$STAGE/lab/bin/"
			copy_libs_of "$f" "$STAGE"
		done
	fi
	for f in "${LAB_DPDK_BINS[@]}"; do
		install -m 0755 "$f" "$STAGE/lab/bin/"
		copy_libs_of "$f" "$STAGE"
	done
	for f in "${DPDK_FILES[@]}"; do
		copy_with_libs "$f" "$STAGE"
	done

	if [ -n "$EXTRA" ]; then
		mkdir -p "$STAGE/lab/extra"
		cp -a "$EXTRA"/. "$STAGE/lab/extra/"
	fi

	echo "$KVER" > "$STAGE/lab/kver"
	(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --quiet -R 0:0 | gzip -1 > "$INITRD.tmp")
	mv "$INITRD.tmp" "$INITRD"
	echo "$KEY" > "$INITRD.key"
	log "initramfs $(du -h "$INITRD" | cut -f1)"
fi

# --- 4. the pair image (tests/lab/run.sh --pair) ------------------------------------------------
# The image above plus a second cpio archive appended to it (the kernel unpacks concatenated
# archives in order): the pair tests at /lab/pair, Debian's dpdk-testpmd at its host path with the
# shared libraries ldd lists (these include the PMDs testpmd links directly: bnxt, i40e, mlx5, ...,
# which live in DPDK's PMD directory) and net_virtio (virtio-user, testpmd's port on riovd's vhost
# socket). The single-VM image stays as it was: its riovd loads no virtio or vendor PMD, and it boots
# no bigger.
# Also: coreutils' stdbuf (testpmd's stdout to a file, line-buffered: its "Press enter to exit"
# says it forwards) and libgcc_s (glibc loads it for pthread_cancel, which testpmd calls on exit).
# net_pcap and /lab/data/tso.pcap (50 TCP frames of 7,000 payload bytes, made by the system tests'
# tso_sender.tcp_pcap): a guest that sends TSO frames (testpmd's csum engine, `tso set`).
TESTPMD=$(command -v dpdk-testpmd || true)
PAIR_PMDS=(net_virtio net_pcap)
TSO_PCAP_ARGS=(02:00:00:00:0b:01 10.91.0.2 50 7000)
PAIR_FILES=()
if [ -n "$TESTPMD" ]; then
	for m in "${PAIR_PMDS[@]}"; do
		for f in "$DPDK_PMD_DIR"/librte_"$m".so*; do
			[ -e "$f" ] && PAIR_FILES+=("$f")
		done
	done
	for f in /usr/bin/stdbuf /usr/libexec/coreutils/libstdbuf.so /lib/x86_64-linux-gnu/libgcc_s.so.1; do
		[ -e "$f" ] && PAIR_FILES+=("$f")
	done
else
	log "no dpdk-testpmd (apt-get install dpdk): the pair tests will SKIP"
fi
pair_key_inputs() {
	echo "base $KEY"
	sha256sum "$HERE"/guest/pair/* "$HERE"/../system/tso_sender.py 2>/dev/null
	echo "tso.pcap ${TSO_PCAP_ARGS[*]}"
	for f in $TESTPMD "${PAIR_FILES[@]}"; do
		echo "testpmd $f"
		sha256sum "$f"
		ldd "$f" 2>/dev/null | awk '/=>/ {print $3}' | while read -r lib; do
			[ -f "$lib" ] && sha256sum "$lib"
		done
	done
	return 0
}
PAIR_KEY=$(pair_key_inputs | sha256sum | cut -d' ' -f1)
INITRD_PAIR=$CACHE/initramfs-pair.cpio.gz
if [ "$(cat "$INITRD_PAIR.key" 2>/dev/null || true)" = "$PAIR_KEY" ] && [ -f "$INITRD_PAIR" ]; then
	log "pair initramfs up to date ($INITRD_PAIR)"
else
	log "building the pair initramfs"
	PSTAGE=$CACHE/initramfs-pair.d
	rm -rf "$PSTAGE"
	mkdir -p "$PSTAGE/lab/pair"
	for t in "$HERE"/guest/pair/*; do
		[ -f "$t" ] && install -m 0755 "$t" "$PSTAGE/lab/pair/"
	done
	for f in $TESTPMD "${PAIR_FILES[@]}"; do
		copy_with_libs "$f" "$PSTAGE"
	done
	mkdir -p "$PSTAGE/lab/data"
	PYTHONPATH="$HERE/../system" python3 -c 'import sys, tso_sender
tso_sender.tcp_pcap(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))' \
		"$PSTAGE/lab/data/tso.pcap" "${TSO_PCAP_ARGS[@]}" || die "cannot write the pair image's tso.pcap"
	# testpmd finds the PMDs it links through its RUNPATH (DPDK's PMD directory); the EAL loads them
	# again from there, and their own dependencies (net_mlx5 -> common_mlx5) are found by name in
	# the library directory, where the host has a symlink to each: the guest gets those too.
	if [ -d "$PSTAGE$DPDK_PMD_DIR" ]; then
		for f in "$PSTAGE$DPDK_PMD_DIR"/*; do
			l=$(dirname "$(dirname "$DPDK_PMD_DIR")")/$(basename "$f")
			if [ -L "$l" ] || [ -e "$l" ]; then copy_path "$l" "$PSTAGE"; fi
		done
	fi
	# what the base image has already (the same host files) is left out of the overlay
	(cd "$PSTAGE" && find . ! -type d -print) | while read -r f; do
		if [ -e "$STAGE_BASE/$f" ] || [ -L "$STAGE_BASE/$f" ]; then rm -f "$PSTAGE/$f"; fi
	done
	(cd "$PSTAGE" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --quiet -R 0:0 | gzip -1 > "$INITRD_PAIR.overlay")
	cat "$INITRD" "$INITRD_PAIR.overlay" > "$INITRD_PAIR.tmp"
	rm -f "$INITRD_PAIR.overlay"
	mv "$INITRD_PAIR.tmp" "$INITRD_PAIR"
	echo "$PAIR_KEY" > "$INITRD_PAIR.key"
	log "pair initramfs $(du -h "$INITRD_PAIR" | cut -f1)"
fi

KERNEL=$VMLINUZ
[ -f "$VMLINUX" ] && KERNEL=$VMLINUX
cat > "$CACHE/lab.env.tmp" <<EOF
KVER=$KVER
KERNEL=$KERNEL
KERNEL_BZIMAGE=$VMLINUZ
INITRD=$INITRD
INITRD_PAIR=$INITRD_PAIR
EOF
mv "$CACHE/lab.env.tmp" "$CACHE/lab.env"
log "ready: kernel $KVER ($KPKG $KPKG_VER), $CACHE/lab.env"
