#!/bin/sh
# VF settings through riovd (backports lab only: QEMU's igb, an 82576 with 7 VFs, on Linux's igb
# driver): riovd makes 2 VFs (Device.SetVfs), sets VF 0's MAC, VLAN+QoS and spoof check and VF 1's
# trust and link state (Device.SetVf: rtnetlink RTM_SETLINK on the PF's netdev, libmnl, no `ip`).
# The kernel's view (iproute2's `ip link show <pf>`, the PF driver's vf lines) and riovctl's (`device pfs`,
# read back with RTM_GETLINK) must agree with what was asked; bad values are refused with nothing
# changed, a value the driver refuses comes back with the kernel's error; after a riovd restart the
# settings are still there, and after the VFs were removed behind riovd's back (sriov_numvfs=0)
# the next start makes them again and gives them their settings again.
. /lab/lib/riovd.sh
riovd_have || { echo "SKIP: riovd/riovctl not in the initramfs (see build-riovd.log in the lab cache)"; exit 77; }
[ -x "$IP" ] || { echo "SKIP: no iproute2 ip in the initramfs (busybox's shows no VFs)"; exit 77; }
pf=""
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x8086 ] && [ "$(cat "$d/device")" = 0x10c9 ]; then
		pf=$(basename "$d"); break
	fi
done
[ -n "$pf" ] || { echo "SKIP: no igb PF (82576, 8086:10c9): tests/lab/run.sh --backports adds one"; exit 77; }
P=/sys/bus/pci/devices/$pf
ifc=$(ls "$P/net" 2>/dev/null | head -n1)
[ -n "$ifc" ] || { echo "PF $pf has no netdev (igb not bound?)"; exit 1; }
[ "$(cat $P/sriov_numvfs)" = 0 ] || { fail "$pf has $(cat $P/sriov_numvfs) VFs before the test"; }
# igb takes VF settings with the PF down too, but its VFs' mailbox wants the PF up
$IP link set "$ifc" up
riovd_traps
rm -rf "$RIOVD_STATE"
riovd_conf /tmp/riovd-91.conf '' ''
riovd_start /tmp/riovd-91.conf || exit 1
t0=$(cut -d' ' -f1 /proc/uptime)

MAC0=02:00:00:19:00:10
rctl device vfs $pf 2 > /dev/null || { fail "riovctl device vfs $pf 2 failed"; }
[ "$(cat $P/sriov_numvfs)" = 2 ] || { fail "kernel: sriov_numvfs is $(cat $P/sriov_numvfs), not 2"; }
rctl device vf $pf 0 --mac $MAC0 --vlan 100:3 --spoofchk off || { fail "riovctl device vf $pf 0 failed"; }
link="disable"
if ! rctl device vf $pf 1 --trust on --link disable 2> /tmp/err.91; then
	cat /tmp/err.91
	# a driver without ndo_set_vf_link_state: the kernel's refusal, passed on
	grep -q 'UNIMPLEMENTED: .*the kernel refused the VF settings' /tmp/err.91 || { fail "VF 1 --trust on --link disable refused: $(cat /tmp/err.91)"; }
	link="auto"
	rctl device vf $pf 1 --trust on || { fail "riovctl device vf $pf 1 --trust on failed"; }
fi

# check WHEN: the kernel's vf lines and riovctl's read-back agree with what was asked
check() {
	$IP link show "$ifc" > /tmp/ip.91
	sed "s/^/ip ($1): /" /tmp/ip.91 | grep 'vf [01] '
	grep -q "vf 0 .*link/ether $MAC0 .*vlan 100, qos 3.*spoof checking off" /tmp/ip.91 || { fail "$1: ip link show $ifc: VF 0 is not $MAC0 vlan 100 qos 3 spoof checking off"; }
	grep -q "vf 1 .*spoof checking on, link-state $link, trust on" /tmp/ip.91 || { fail "$1: ip link show $ifc: VF 1 is not trust on, link-state $link"; }
	rctl device pfs | sed "s/^/riovctl ($1): /"
	rctl --json device pfs | tr -d ' \n' > /tmp/pfs.91
	grep -q "\"netdev\":\"$ifc\"" /tmp/pfs.91 || { fail "$1: riovctl device pfs: netdev is not $ifc"; }
	grep -q "{\"vf\":0,\"mac\":\"$MAC0\",\"vlan\":100,\"qos\":3,\"spoofchk\":\"off\"" /tmp/pfs.91 || { fail "$1: riovctl device pfs: VF 0 is not $MAC0 vlan 100 qos 3 spoofchk off"; }
	grep -q "{\"vf\":1,\"mac\":\"[0-9a-f:]*\",\"vlan\":0,\"qos\":0,\"spoofchk\":\"on\",\"trust\":\"on\",\"link_state\":\"$link\"" /tmp/pfs.91 || { fail "$1: riovctl device pfs: VF 1 is not trust on, link $link"; }
}
check "set"

# bad values: refused by riovd with nothing changed; a value igb refuses: the kernel's error
refused() { # STATUS WORDS ARGS...: the call must fail with riovd's STATUS and WORDS in its message
	local want=$1 words=$2; shift 2
	rctl "$@" 2> /tmp/err.91 > /dev/null && fail "riovctl $* was accepted"
	grep -q "$want: .*$words" /tmp/err.91 || { cat /tmp/err.91; fail "riovctl $*: not $want ... $words"; }
	sed 's/^/refused as expected: /' /tmp/err.91
}
$IP link show "$ifc" > /tmp/ip-before.91
refused INVALID_ARGUMENT "there is no VF 2" device vf $pf 2 --mac 02:00:00:19:00:12
refused INVALID_ARGUMENT "multicast" device vf $pf 0 --mac 01:00:5e:00:00:01
refused INVALID_ARGUMENT "zero" device vf $pf 0 --mac 00:00:00:00:00:00
refused INVALID_ARGUMENT "VLAN 4096 is out of range" device vf $pf 0 --vlan 4096
refused INVALID_ARGUMENT "QoS 8 is out of range" device vf $pf 0 --vlan 5:8
refused INVALID_ARGUMENT "too large" device vf $pf 1 --rate 400001
refused INVALID_ARGUMENT "at most 7 VFs" device vfs $pf 8
refused UNIMPLEMENTED "is not an SR-IOV physical function" device vf 0000:00:01.0 0 --trust on
refused NOT_FOUND "riovd made no VFs on 0000:00:03.0" device vf 0000:00:03.0 0 --trust on
# igb caps a VF's rate at its link's speed (and wants the link up): EINVAL from the driver
refused INVALID_ARGUMENT "the kernel refused the VF settings" device vf $pf 1 --rate 200000
$IP link show "$ifc" > /tmp/ip-after.91
cmp -s /tmp/ip-before.91 /tmp/ip-after.91 || { diff /tmp/ip-before.91 /tmp/ip-after.91; fail "a refused request changed the PF's VFs"; }
rctl node info | grep -q 'health *ok' || { fail "riovd unhealthy after refused calls"; }

# a restart: the VFs and their settings stay
riovd_stop || { fail "riovd did not stop cleanly"; }
riovd_start /tmp/riovd-91.conf || exit 1
[ "$(cat $P/sriov_numvfs)" = 2 ] || { fail "after a restart: sriov_numvfs is $(cat $P/sriov_numvfs)"; }
check "restart"

# the VFs removed behind riovd's back: the next start makes them and gives them their settings
riovd_stop || { fail "riovd did not stop cleanly"; }
echo 0 > $P/sriov_numvfs || { fail "echo 0 > sriov_numvfs failed"; }
$IP link show "$ifc" | grep -q 'vf 0 ' && { fail "VFs still listed after sriov_numvfs=0"; }
riovd_start /tmp/riovd-91.conf || exit 1
[ "$(cat $P/sriov_numvfs)" = 2 ] || { fail "after sriov_numvfs=0 and a start: sriov_numvfs is $(cat $P/sriov_numvfs)"; }
check "re-made"

rctl device vfs $pf 0 > /dev/null || { fail "riovctl device vfs $pf 0 failed"; }
[ "$(cat $P/sriov_numvfs)" = 0 ] || { fail "kernel: sriov_numvfs is $(cat $P/sriov_numvfs) after setting 0"; }
riovd_stop || { fail "riovd did not stop cleanly"; }
t1=$(cut -d' ' -f1 /proc/uptime)
echo "riovd on igb PF $pf ($ifc): 2 VFs; VF 0 mac $MAC0 vlan 100 qos 3 spoof checking off, VF 1 trust on link-state $link (kernel = riovctl read-back); bad values refused unchanged, igb's own refusal passed on; kept after a restart and given again to VFs re-made after sriov_numvfs=0 ($(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}') s)"
