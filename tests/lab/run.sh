#!/bin/bash
# tests/lab/run.sh — boot the riov lab VM once under QEMU (TCG), collect the in-guest test results.
#
# Security model: the guest is a throw-away VM with no network to the host (user-mode networking,
# restrict=on); its console output is only matched against fixed patterns and printed.
#
# Needs tests/lab/build.sh to have run (reads $RIOV_LAB_CACHE/lab.env). Prints each
#   LAB-RESULT <name> PASS|FAIL|SKIP <detail>
# line, then "N passed, N failed, N skipped". Exit status: 0 all passed (or skipped), 1 a test
# failed, 2 the guest hung (hard time-out), 3 the guest died (panic) or QEMU failed before the end
# of the test list. On 2 and 3 the last console lines are printed.
#
# Environment:
#   RIOV_LAB_CACHE     cache directory (default /var/cache/riov-lab)
#   RIOV_LAB_TIMEOUT   hard limit for the whole VM run, seconds (default 240)
#   RIOV_LAB_ONLY      run only these tests (comma-separated names without the NN- prefix)
#   RIOV_LAB_BIOS      qboot (default when /usr/share/qemu/qboot.rom exists) or seabios
#   RIOV_LAB_KERNEL    auto (default: vmlinux if extracted), bzimage, or vmlinux (PVH boot, uncompressed)
#   RIOV_LAB_APPEND    extra kernel command line
#   RIOV_LAB_VERBOSE   1: copy the whole console to stdout while the VM runs
#   RIOV_LAB_QEMU_ARGS extra QEMU arguments (word-split)
#   RIOV_LAB_PAIR      1: the same as --pair
#   RIOV_LAB_BACKPORTS 1: the same as --backports
#
# tests/lab/run.sh --pair (or RIOV_LAB_PAIR=1): the two-VM mode. VM A and VM B boot the pair image
# (build.sh's initramfs-pair.cpio.gz: the lab image plus dpdk-testpmd and tests/lab/guest/pair/) at
# once, each with one virtio-net NIC (A 52:54:00:12:36:0a, B 52:54:00:12:36:0b) on a wire to the
# other's (a pair of unix datagram sockets, pair-a.sock and pair-b.sock in the cache: nothing else
# on it) and riov.lab.role=a|b on its kernel command line (/init then runs /lab/pair/* with ROLE
# set). Their consoles go to console-pair-a.log and console-pair-b.log; each result line is printed
# as "LAB-RESULT pair-<role>-<test> ...", the summary counts both VMs' lines, and the exit status is
# the worst of the two (as above). RIOV_LAB_TIMEOUT (default 900 here) bounds each VM; the per-test
# limit is lab.timeout=400 (the tests wait for the other VM over the wire).
#
# tests/lab/run.sh --backports (or RIOV_LAB_BACKPORTS=1): the backports lab (tests/lab/backports.sh;
# build it with RIOV_LAB_BACKPORTS=1 tests/lab/build.sh): QEMU 10 and the lab image for Linux 6.12
# from $RIOV_LAB_CACHE/backports (lab.env, qemu.env; the console log is there too), and the single
# VM gets one more device: an igb NIC (Intel 82576, SR-IOV with 7 VFs; QEMU 7.2 has no igb) on
# user-mode networking with restrict=on. With --pair: the two VMs on QEMU 10 and 6.12.
set -uo pipefail

CACHE=${RIOV_LAB_CACHE:-/var/cache/riov-lab}
TIMEOUT=${RIOV_LAB_TIMEOUT:-240}
QEMU=${QEMU:-qemu-system-x86_64}

die() { echo "lab-run: ERROR: $*" >&2; exit 3; }

pair=${RIOV_LAB_PAIR:-0}
backports=${RIOV_LAB_BACKPORTS:-0}
for a in "$@"; do
	case $a in
	--pair) pair=1 ;;
	--backports) backports=1 ;;
	*) die "usage: $0 [--pair] [--backports]" ;;
	esac
done

# one lab VM at a time, whichever QEMU it runs on: the lock stays in the main cache
LOCK=$CACHE/run.lock
qboot=/usr/share/qemu/qboot.rom
qemu_l=() igb=()
if [ "$backports" = 1 ]; then
	CACHE=$CACHE/backports
	[ -f "$CACHE/qemu.env" ] && [ -f "$CACHE/lab.env" ] ||
		die "no backports lab in $CACHE: run RIOV_LAB_BACKPORTS=1 tests/lab/build.sh first"
	# QEMU=, QEMU_DATADIRS=, QEMU_MODULE_DIR=, QEMU_QBOOT= (tests/lab/backports.sh)
	# shellcheck disable=SC1091
	. "$CACHE/qemu.env"
	export QEMU_MODULE_DIR
	for d in $QEMU_DATADIRS; do qemu_l+=(-L "$d"); done
	qboot=$QEMU_QBOOT
	igb=(-device igb,netdev=ni,mac=52:54:00:12:34:05 -netdev user,id=ni,restrict=on)
fi

[ -f "$CACHE/lab.env" ] || die "$CACHE/lab.env missing: run tests/lab/build.sh first"
# shellcheck disable=SC1091
. "$CACHE/lab.env"
command -v "$QEMU" >/dev/null || die "$QEMU not found (apt-get install -y qemu-system-x86)"
[ -f "$INITRD" ] || die "no initramfs $INITRD"

# lab.env's KERNEL is the uncompressed vmlinux when build.sh could extract it (boots ~2x faster).
case "${RIOV_LAB_KERNEL:-auto}" in
auto) kernel=$KERNEL ;;
bzimage) kernel=$KERNEL_BZIMAGE ;;
vmlinux) [ "$KERNEL" != "$KERNEL_BZIMAGE" ] || die "no uncompressed vmlinux was extracted by build.sh"
	kernel=$KERNEL ;;
*) die "RIOV_LAB_KERNEL must be auto, bzimage or vmlinux" ;;
esac
bios=()
case "${RIOV_LAB_BIOS:-qboot}" in
qboot) [ -f "$qboot" ] && bios=(-bios "$qboot") ;;
seabios) ;;
*) die "RIOV_LAB_BIOS must be qboot or seabios" ;;
esac

append="console=ttyS0 intel_iommu=on panic=-1 loglevel=4 lab.timeout=60"
[ -n "${RIOV_LAB_ONLY:-}" ] && append+=" lab.only=$RIOV_LAB_ONLY"
[ -n "${RIOV_LAB_APPEND:-}" ] && append+=" $RIOV_LAB_APPEND"

# One VM at a time on this machine: TCG takes a whole core.
exec 9> "$LOCK"
if ! flock -n 9; then
	echo "lab-run: another lab VM is running; waiting for it" >&2
	flock 9
fi

# vm_verdict: how a VM's run ended (tests/lab/verdict.sh)
# shellcheck source=tests/lab/verdict.sh
. "$(dirname "${BASH_SOURCE[0]}")/verdict.sh"

if [ "$pair" = 1 ]; then
	[ -n "${INITRD_PAIR:-}" ] && [ -f "$INITRD_PAIR" ] || die "no pair initramfs in $CACHE/lab.env: run tests/lab/build.sh"
	TIMEOUT=${RIOV_LAB_TIMEOUT:-900}
	append="console=ttyS0 panic=-1 loglevel=4 lab.timeout=400"
	[ -n "${RIOV_LAB_ONLY:-}" ] && append+=" lab.only=$RIOV_LAB_ONLY"
	[ -n "${RIOV_LAB_APPEND:-}" ] && append+=" $RIOV_LAB_APPEND"
	start=$(date +%s.%N)
	rm -f "$CACHE/pair-a.sock" "$CACHE/pair-b.sock"
	# Each VM: one CPU, 1 GiB (riovd's 128 MB and testpmd's 256 MB without hugepages come out of
	# it), no IOMMU, one NIC on the wire. TCG takes a core per VM: the machine's two.
	for r in a b; do
		o=b; [ $r = b ] && o=a
		: > "$CACHE/console-pair-$r.log"
		(
			timeout -k 5 "$TIMEOUT" "$QEMU" \
				-machine q35 -accel tcg -cpu max -smp 1 -m 1024 \
				-nographic -no-reboot -nodefaults -serial stdio -monitor none \
				"${qemu_l[@]}" "${bios[@]}" \
				-kernel "$kernel" -initrd "$INITRD_PAIR" -append "$append riov.lab.role=$r" \
				-device virtio-net-pci,netdev=w,mac=52:54:00:12:36:0$r \
				-netdev dgram,id=w,local.type=unix,local.path="$CACHE/pair-$r.sock",remote.type=unix,remote.path="$CACHE/pair-$o.sock" \
				${RIOV_LAB_QEMU_ARGS:-} \
				< /dev/null 2>&1 | tr -d '\r' | tee "$CACHE/console-pair-$r.log" | {
				if [ "${RIOV_LAB_VERBOSE:-0}" = 1 ]; then sed -u "s/^/[$r] /"; else
				grep --line-buffered -E '^LAB-(RESULT|BOOT|DONE)' |
					sed -u "s/^LAB-RESULT /LAB-RESULT pair-$r-/; s/^LAB-\(BOOT\|DONE\) /LAB-\1 [$r] /"; fi
			}
			echo "${PIPESTATUS[0]}" > "$CACHE/pair-$r.rc"
		) &
	done
	wait
	rm -f "$CACHE/pair-a.sock" "$CACHE/pair-b.sock"
	secs=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo "?")
	pass=0 fail=0 skip=0 status=0
	for r in a b; do
		log=$CACHE/console-pair-$r.log
		rc=$(cat "$CACHE/pair-$r.rc" 2>/dev/null || echo "?")
		pass=$((pass + $(grep -c '^LAB-RESULT [^ ]* PASS' "$log")))
		fail=$((fail + $(grep -c '^LAB-RESULT [^ ]* FAIL' "$log")))
		skip=$((skip + $(grep -c '^LAB-RESULT [^ ]* SKIP' "$log")))
		vm_verdict "$log" "$rc" "VM $r"
		st=$?
		[ "$st" -gt "$status" ] && status=$st
		rm -f "$CACHE/pair-$r.rc"
	done
	[ "$pass$fail$skip" = 000 ] && [ "$status" = 0 ] && { echo "lab-run: FAIL: the VMs ran no test" >&2; status=1; }
	echo "$pass passed, $fail failed, $skip skipped (pair run ${secs}s, consoles in $CACHE/console-pair-{a,b}.log)"
	exit $status
fi

LOG=$CACHE/console.log
: > "$LOG"
start=$(date +%s.%N)

# Devices: the emulated VT-d with interrupt remapping (kernel-irqchip=split is required for intremap),
# an e1000e for VFIO tests, a virtio-net NIC (user-mode network, no host access) for Soft-RoCE, an
# SR-IOV capable NVMe controller (2 VFs, no namespace: nothing to store) for SR-IOV tests, and a
# second virtio-net NIC wired to the e1000e (a pair of unix datagram sockets in the cache, nothing
# else on that wire): what riovd sends on the e1000e reaches a Linux interface in the same VM, and
# back. (A QEMU hub without a host network would do the same, but qboot then never boots.)
WIRE_A=$CACHE/wire-a.sock WIRE_B=$CACHE/wire-b.sock
rm -f "$WIRE_A" "$WIRE_B"
# -nographic puts the serial console and the monitor on stdio; stdin is /dev/null.
timeout -k 5 "$TIMEOUT" "$QEMU" \
	-machine q35,kernel-irqchip=split -accel tcg \
	-device intel-iommu,intremap=on,caching-mode=on \
	-cpu max -smp 1 -m 1024 \
	-nographic -no-reboot -nodefaults -serial stdio -monitor none \
	"${qemu_l[@]}" "${bios[@]}" \
	-kernel "$kernel" -initrd "$INITRD" -append "$append" \
	-device e1000e,netdev=wa,mac=52:54:00:12:34:01 \
	-netdev dgram,id=wa,local.type=unix,local.path="$WIRE_A",remote.type=unix,remote.path="$WIRE_B" \
	-device virtio-net-pci,netdev=nr,mac=52:54:00:12:34:02 -netdev user,id=nr,restrict=on \
	-device nvme-subsys,id=nvs0 \
	-device nvme,serial=riovlab0,subsys=nvs0,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,max_ioqpairs=8,msix_qsize=4 \
	-device virtio-net-pci,netdev=wb,mac=52:54:00:12:34:03 \
	-netdev dgram,id=wb,local.type=unix,local.path="$WIRE_B",remote.type=unix,remote.path="$WIRE_A" \
	"${igb[@]}" \
	${RIOV_LAB_QEMU_ARGS:-} \
	< /dev/null 2>&1 | tr -d '\r' | tee "$LOG" | {
	if [ "${RIOV_LAB_VERBOSE:-0}" = 1 ]; then cat; else grep --line-buffered -E '^LAB-(RESULT|BOOT|DONE)'; fi
}
rc=${PIPESTATUS[0]}
rm -f "$WIRE_A" "$WIRE_B"
secs=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo "?")

pass=$(grep -c '^LAB-RESULT [^ ]* PASS' "$LOG")
fail=$(grep -c '^LAB-RESULT [^ ]* FAIL' "$LOG")
skip=$(grep -c '^LAB-RESULT [^ ]* SKIP' "$LOG")

vm_verdict "$LOG" "$rc" "the guest"
status=$?
[ "$pass$fail$skip" = 000 ] && [ "$status" = 0 ] && { echo "lab-run: FAIL: the guest ran no test" >&2; status=1; }

echo "$pass passed, $fail failed, $skip skipped (VM run ${secs}s, console in $LOG)"
exit $status
