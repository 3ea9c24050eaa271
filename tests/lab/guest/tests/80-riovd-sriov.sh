#!/bin/sh
# SR-IOV through riovd's own code: riovd creates the NVMe PF's VFs (sriov_numvfs through sysfs,
# VF autoprobe off), assigns each VF (Device.Assign --pf --vf): binds it to vfio-pci, gives it its
# own DMA domain in riov's VT-d model (source-id = the VF's BDF) pushed to its own VFIO container,
# and routes its MSI-X vectors through riov IRTEs to eventfds. riovctl's view must match the
# kernel's (sriov_numvfs, virtfn links, drivers, IOMMU groups, vfio-msix lines per VF); the state
# survives a restart; VFs in use cannot be removed; releasing them and setting 0 VFs cleans up.
. /lab/lib/riovd.sh
riovd_have || { echo "SKIP: riovd/riovctl not in the initramfs (see build-riovd.log in the lab cache)"; exit 77; }
pf=""
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1b36 ] && [ "$(cat "$d/device")" = 0x0010 ] && [ -e "$d/sriov_totalvfs" ]; then
		pf=$(basename "$d"); break
	fi
done
[ -n "$pf" ] || { echo "SKIP: no SR-IOV capable NVMe controller (run.sh adds one)"; exit 77; }
P=/sys/bus/pci/devices/$pf
[ "$(cat $P/sriov_numvfs)" = 0 ] || { fail "$pf has $(cat $P/sriov_numvfs) VFs before the test (50-sriov-nvme left them?)"; }
riovd_traps
rm -rf "$RIOVD_STATE"
riovd_conf /tmp/riovd-80.conf '' ''
riovd_start /tmp/riovd-80.conf || exit 1

rctl device vfs $pf 2 || { fail "riovctl device vfs $pf 2 failed"; }
[ "$(cat $P/sriov_numvfs)" = 2 ] || { fail "kernel: sriov_numvfs is $(cat $P/sriov_numvfs), not 2"; }
[ "$(cat $P/sriov_drivers_autoprobe)" = 0 ] || { fail "VF autoprobe is still on"; }
rctl device assign vf0 --pf $pf --vf 0 > /dev/null || { fail "riovctl device assign vf0 failed"; }
rctl device assign vf1 --pf $pf --vf 1 > /dev/null || { fail "riovctl device assign vf1 failed"; }
rctl device pfs
rctl device list | tee /tmp/devs.80

# hostile or wrong requests: refused with a reason, riovd keeps serving
refused() { # STATUS ARGS...: the call must fail with riovd's STATUS
	local want=$1; shift
	rctl "$@" 2> /tmp/err.80 > /dev/null && fail "riovctl $* was accepted"
	grep -q "$want" /tmp/err.80 || { cat /tmp/err.80; fail "riovctl $*: not $want"; }
	sed 's/^/refused as expected: /' /tmp/err.80
}
refused INVALID_ARGUMENT device assign bad --pci 0000:zz:01.0
refused NOT_FOUND device assign ghost --pci 0000:00:1e.7
refused NOT_FOUND device assign vf9 --pf $pf --vf 9
refused FAILED_PRECONDITION device assign again --pf $pf --vf 0
refused ALREADY_EXISTS device assign vf0 --pf $pf --vf 1
refused INVALID_ARGUMENT device vfs $pf 99
refused UNIMPLEMENTED device vfs 0000:00:02.0 1
refused INVALID_ARGUMENT device assign 'bad name' --pf $pf --vf 1
rctl node info | grep -q 'health *ok' || { fail "riovd unhealthy after refused calls"; }

# check: riovctl's view of device $1 (VF $2) against the kernel's; prints "pci:domain:vectors"
check_vf() {
	local vf k_pci r_pci sid grp drv did nvec kgrp kdrv kvec
	rctl --json device list "$1" > /tmp/dev.80 || { echo "riovctl device list $1 failed"; return 1; }
	k_pci=$(basename "$(readlink $P/virtfn$2)")
	r_pci=$(sed -n 's/^ *"pci": "\([0-9a-f][^"]*\)".*/\1/p' /tmp/dev.80 | tail -n1); sid=$(jval source_id /tmp/dev.80); grp=$(jval iommu_group /tmp/dev.80)
	drv=$(jval driver /tmp/dev.80); did=$(jval domain_id /tmp/dev.80); nvec=$(jval msix_vectors /tmp/dev.80)
	kgrp=$(basename "$(readlink /sys/bus/pci/devices/$k_pci/iommu_group)")
	kdrv=$(basename "$(readlink /sys/bus/pci/devices/$k_pci/driver)")
	kvec=$(grep -c "vfio-msix\[[0-9]*\]($k_pci)" /proc/interrupts)
	bus=$(echo "$k_pci" | cut -d: -f2); devfn=$(echo "$k_pci" | cut -d: -f3)
	ksid=$(( (0x$bus << 8) | (0x${devfn%.*} << 3) | ${devfn#*.} ))
	echo "$1: riovctl $r_pci sid $sid group $grp driver $drv domain $did msix $nvec | kernel virtfn$2 $k_pci sid $ksid group $kgrp driver $kdrv vfio-msix $kvec" >&2
	[ "$r_pci" = "$k_pci" ] && [ "$sid" = "$ksid" ] && [ "$grp" = "$kgrp" ] && [ "$drv" = "$kdrv" ] &&
		[ "$drv" = vfio-pci ] && [ -n "$nvec" ] && [ "$nvec" -gt 0 ] && [ "$nvec" = "$kvec" ] ||
		{ echo "$1: riovctl and the kernel disagree" >&2; return 1; }
	echo "$r_pci:$did:$nvec"
}
a0=$(check_vf vf0 0) || fail "vf0: riovctl and the kernel disagree (above)"
a1=$(check_vf vf1 1) || fail "vf1: riovctl and the kernel disagree (above)"
d0=$(echo "$a0" | cut -d: -f4); d1=$(echo "$a1" | cut -d: -f4)
[ "$d0" != "$d1" ] || { fail "both VFs in domain $d0"; }
for d in "$d0" "$d1"; do
	rctl domain show --id "$d" | grep -E 'domain_id|DEVICE|vf[01]' || { fail "riovctl domain show --id $d failed"; }
done

# the state survives a restart (VF count unchanged, both VFs assigned again, same domains)
riovd_stop || { fail "riovd did not stop cleanly"; }
grep -q "vfio-msix.*($(echo "$a0" | cut -d: -f1-3))" /proc/interrupts && { fail "MSI-X still on after riovd stopped"; }
riovd_start /tmp/riovd-80.conf || exit 1
b0=$(check_vf vf0 0) || fail "after a restart, vf0: riovctl and the kernel disagree (above)"
b1=$(check_vf vf1 1) || fail "after a restart, vf1: riovctl and the kernel disagree (above)"
[ "$a0" = "$b0" ] && [ "$a1" = "$b1" ] || { fail "after a restart: $b0 $b1, before: $a0 $a1"; }

# VFs in use cannot go away; released, they can
rctl device vfs $pf 0 2> /tmp/err.80 && { fail "VFs removed while assigned"; }
cat /tmp/err.80
rctl device release vf1 && rctl device release vf0 || { fail "riovctl device release failed"; }
rctl device vfs $pf 0 > /dev/null || { fail "riovctl device vfs $pf 0 failed"; }
[ "$(cat $P/sriov_numvfs)" = 0 ] || { fail "kernel: sriov_numvfs is $(cat $P/sriov_numvfs) after setting 0"; }
riovd_stop || { fail "riovd did not stop cleanly"; }
echo "riovd created 2 VFs on $pf and assigned them: $(echo "$a0" | cut -d: -f1-3) domain $d0, $(echo "$a1" | cut -d: -f1-3) domain $d1, MSI-X $(echo "$a0" | cut -d: -f5)+$(echo "$a1" | cut -d: -f5) vectors via riov IRTEs (= kernel's vfio-msix lines); same after a restart; in-use VFs kept, released and removed"
