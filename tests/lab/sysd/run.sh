#!/bin/bash
# tests/lab/sysd/run.sh — riov's Debian package under a real systemd: boot the lab's systemd VM
# (tests/lab/sysd/build.sh) once and collect its results (tests/lab/sysd/tests.sh). Part of
# `make test`'s lab suite; docs/lab.md, "The systemd VM".
#
# RIOV_SYSD_RUNNER=nspawn boots the same root file system natively instead, as a systemd-nspawn
# container with systemd as init (read-only loop mount, a throwaway overlay on top, its own network
# namespace): the same tests, at the host's speed, on the host's kernel (nothing there needs the
# lab kernel). Its results are named nspawn-<test>.
#
# Security model: the VM has no network; its console output is only matched against fixed patterns
# and printed; the shared directory holds only what this script puts there.
#
# Steps: `make deb` (the tree's package, in dist/); the "previous" package: the same files
# repacked with a lower version (there is no earlier release to take), so that the upgrade runs the
# maintainer scripts of an upgrade (prerm upgrade, postinst configure <old>, the restart) while a
# guest is connected; the image; one boot. Prints each "LAB-RESULT <name> ..." line, then
# "N passed, N failed, N skipped". Exit status: 0 all passed or skipped, 1 a test failed, 2 the VM
# hung (time-out), 3 it died or never ran the tests.
#
# Environment: RIOV_LAB_CACHE (default /var/cache/riov-lab), RIOV_BUILD (meson build directory
# whose riovd, built with fault injection, the watchdog test runs; default build),
# RIOV_SYSD_TIMEOUT (seconds for the whole VM run, default 600), RIOV_LAB_VERBOSE=1 (the whole
# console on stdout), RIOV_SYSD_SKIP_DEB=1 (use the packages already in dist/), RIOV_SYSD_RUNNER
# (vm, the default, or nspawn), RIOV_LAB_BIOS (as tests/lab/run.sh: a QEMU -bios file; default
# qboot where it is installed, SeaBIOS otherwise).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TREE=$(cd "$HERE/../../.." && pwd)
CACHE=${RIOV_LAB_CACHE:-/var/cache/riov-lab}
BUILD=${RIOV_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TREE/$BUILD ;; esac
TIMEOUT=${RIOV_SYSD_TIMEOUT:-600}
RUNNER=${RIOV_SYSD_RUNNER:-vm}
QEMU=${QEMU:-qemu-system-x86_64}
OUT=$CACHE/sysd

die() { echo "sysd-run: ERROR: $*" >&2; exit 3; }
case $RUNNER in
vm) WHO="the systemd VM" ;;
nspawn)
	WHO="the systemd container"
	command -v systemd-nspawn > /dev/null || die "systemd-nspawn missing (make deps installs systemd-container)" ;;
*) die "RIOV_SYSD_RUNNER=$RUNNER: vm or nspawn" ;;
esac

# 1. the package of this tree
if [ "${RIOV_SYSD_SKIP_DEB:-0}" != 1 ]; then
	t=$SECONDS
	make -s -C "$TREE" deb > "$CACHE/sysd-deb.log" 2>&1 || { tail -n 30 "$CACHE/sysd-deb.log"; die "make deb failed (log: $CACHE/sysd-deb.log)"; }
	echo "sysd-run: make deb took $((SECONDS - t)) s" >&2
fi
CUR=$(ls -t "$TREE"/dist/riov_*_amd64.deb 2>/dev/null | head -n1)
[ -n "$CUR" ] || die "no riov_*_amd64.deb in $TREE/dist"
VER=$(dpkg-deb -f "$CUR" Version)

# 2. the share: the tests, both packages, the tree's riovd
SHARE=$OUT/share
rm -rf "$SHARE"; mkdir -p "$SHARE/debs/prev" "$SHARE/debs/cur" "$SHARE/bin"
install -m 0755 "$HERE/tests.sh" "$SHARE/tests.sh"
cp "$CUR" "$SHARE/debs/cur/"
PREV_VER=${VER%-*}-0~lab1
[ "$(dpkg --compare-versions "$PREV_VER" lt "$VER" && echo y)" = y ] || die "cannot make a version below $VER"
tmp=$(mktemp -d)
dpkg-deb -R "$CUR" "$tmp/p" || die "dpkg-deb -R $CUR failed"
sed -i "s/^Version: .*/Version: $PREV_VER/" "$tmp/p/DEBIAN/control"
dpkg-deb -Zgzip -z1 -b "$tmp/p" "$SHARE/debs/prev/riov_${PREV_VER}_amd64.deb" > /dev/null || die "dpkg-deb -b failed"
rm -rf "$tmp"
if [ -x "$BUILD/control/riovd" ]; then
	if ninja -C "$BUILD" control/riovd > "$CACHE/sysd-riovd.log" 2>&1; then
		install -m 0755 "$BUILD/control/riovd" "$SHARE/bin/riovd"
	else
		echo "sysd-run: WARNING: ninja -C $BUILD control/riovd failed (see $CACHE/sysd-riovd.log): the watchdog test will SKIP" >&2
	fi
fi

# 3. the image
"$HERE/build.sh" "$CUR" || die "tests/lab/sysd/build.sh failed"
# shellcheck disable=SC1091
. "$OUT/sysd.env"

# 4. one boot; one VM or container at a time on this machine (the lab's lock)
exec 9> "$CACHE/run.lock"
flock 9
show() { if [ "${RIOV_LAB_VERBOSE:-0}" = 1 ]; then cat; else grep --line-buffered -E '^LAB-(RESULT|BOOT|DONE)'; fi; }
start=$SECONDS
if [ "$RUNNER" = vm ]; then
	bios=()
	if [ -n "${RIOV_LAB_BIOS:-}" ]; then
		bios=(-bios "$RIOV_LAB_BIOS")
	elif [ -f /usr/share/qemu/qboot.rom ]; then
		bios=(-bios /usr/share/qemu/qboot.rom)
	fi
	LOG=$CACHE/console-sysd.log
	: > "$LOG"
	# Two vCPUs: riovd's worker busy-polls the last one (the packaged configuration), systemd, apt
	# and the guest share the first. 2 GiB: riovd's 512 MB and testpmd's 256 MB without hugepages.
	timeout -k 5 "$TIMEOUT" "$QEMU" \
		-machine q35 -accel tcg -cpu max -smp 2 -m 2048 \
		-nographic -no-reboot -nodefaults -serial stdio -monitor none \
		"${bios[@]}" \
		-kernel "$KERNEL" -initrd "$INITRD" \
		-append "console=ttyS0 panic=-1 loglevel=4 systemd.show_status=0 rd.systemd.show_status=0" \
		-drive file="$ROOTFS",if=virtio,format=raw,snapshot=on \
		-virtfs local,path="$SHARE",mount_tag=lab,security_model=none,id=lab \
		< /dev/null 2>&1 | tr -d '\r' | tee "$LOG" | show
	rc=${PIPESTATUS[0]}
else
	LOG=$CACHE/console-sysd-nspawn.log
	: > "$LOG"
	root=$(mktemp -d /tmp/riov-sysd-root.XXXXXX)
	# systemd-nspawn without a host systemd (this machine's PID 1 is not one) puts the container's
	# cgroups (payload, supervisor) under the root cgroup, and its propagation directory in /run
	ns_cleanup() {
		mountpoint -q "$root" && umount "$root"
		rmdir "$root" 2> /dev/null
		for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
			for d in "$h/payload" "$h/supervisor"; do
				[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2> /dev/null
			done
		done
		rm -rf /run/systemd/nspawn
	}
	trap ns_cleanup EXIT
	mount -o loop,ro "$ROOTFS" "$root" || die "cannot loop-mount $ROOTFS"
	# the tests' unit writes to the serial console of the VM; here to the container's console,
	# which nspawn prints (--console=read-only)
	printf '[Service]\nTTYPath=/dev/console\n' > "$SHARE/nspawn-console.conf"
	# --register=no --keep-unit: no host systemd to ask for a scope; --bind-ro=/sys/module: with
	# a private network nspawn mounts only part of /sys, and DPDK's EAL looks for the vfio module
	# there (riovd: "Cannot init VFIO"); --volatile=overlay: every boot starts from the image
	SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout -k 5 "$TIMEOUT" systemd-nspawn -q -b -D "$root" \
		--register=no --keep-unit --console=read-only --private-network --volatile=overlay \
		--bind="$SHARE:/lab" --bind-ro=/sys/module \
		--bind-ro="$SHARE/nspawn-console.conf:/etc/systemd/system/riov-lab.service.d/nspawn.conf" \
		< /dev/null 2>&1 | tr -d '\r' | sed -u 's/^LAB-RESULT /LAB-RESULT nspawn-/' | tee "$LOG" | show
	rc=${PIPESTATUS[0]}
fi
secs=$((SECONDS - start))

pass=$(grep -c '^LAB-RESULT [^ ]* PASS' "$LOG")
fail=$(grep -c '^LAB-RESULT [^ ]* FAIL' "$LOG")
skip=$(grep -c '^LAB-RESULT [^ ]* SKIP' "$LOG")
# shellcheck source=tests/lab/verdict.sh
. "$HERE/../verdict.sh"
TIMEOUT_VAR=RIOV_SYSD_TIMEOUT vm_verdict "$LOG" "$rc" "$WHO"
status=$?
[ "$pass$fail$skip" = 000 ] && [ "$status" = 0 ] && { echo "sysd-run: FAIL: $WHO ran no test" >&2; status=1; }
[ "$fail" -gt 0 ] && grep '^LAB-LOG' "$LOG" | tail -n 40 >&2
echo "$pass passed, $fail failed, $skip skipped ($WHO: ${secs}s, riov $VER over $PREV_VER, console in $LOG)"
exit $status
