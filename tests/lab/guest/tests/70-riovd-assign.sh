#!/bin/sh
# riov's VT-d hardware backend driven by riovd: eth port "nic" on the e1000e with assign. riovd
# (not the test) binds the function to vfio-pci, gives it DMA domain D in riov's VT-d model
# (source-id = its BDF 00:01.0) holding riovd's packet memory, pushes D to the function's VFIO
# container (DPDK's PMD then probes it in that container and maps nothing itself), and routes
# every MSI-X vector through a riov IRTE to an eventfd. Then:
#  1. traffic: pings rtap0 <-> the wire's Linux end cross the e1000e's DMA, which the real
#     (emulated) IOMMU allows only inside D; counters agree with Linux's;
#  2. the kernel's view agrees with riovctl's: vfio-msix lines in /proc/interrupts, one per
#     routed vector; the IOMMU group and driver in sysfs;
#  3. a DMAR fault outside the domain: `riovctl domain unmap` of all of D; the next packet makes
#     the device fault; riovd reads the fault from the kernel log and it shows in `riovctl faults`
#     (device nic, source-id 0x8) and the fault counters;
#  4. `riovctl domain map` puts the memory back and traffic flows again;
#  5. after a restart the port comes back with the same domain and passes traffic.
. /lab/lib/riovd.sh
riovd_have || { echo "SKIP: riovd/riovctl not in the initramfs (see build-riovd.log in the lab cache)"; exit 77; }
bdf=0000:00:01.0
[ -e /sys/bus/pci/devices/$bdf ] || { fail "no e1000e at $bdf"; }
riovd_traps
N=10
rm -rf "$RIOVD_STATE"
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
wire_peer_up 10.77.0.2/24 || { fail "cannot set up the wire's Linux end"; }
riovd_conf /tmp/riovd-70.conf '{ name = "wire"; }' \
	"{ name = \"nic\"; type = \"eth\"; net = \"wire\"; devargs = \"$bdf\"; assign = true; },
	 { name = \"tap\"; type = \"eth\"; net = \"wire\"; devargs = \"net_tap0,iface=rtap0\"; }" \
	"-a 0000:00:00.0 --iova-mode=va"
riovd_start /tmp/riovd-70.conf || exit 1
grep -E 'assign|port (nic|tap)' "$RIOVD_LOG.cur"

# setup_ip: rtap0 10.77.0.1 and static neighbours on both ends
# pings N [WAIT]: N pings to the peer; prints ping's summary, returns its status
setup_ip() {
	$IP addr add 10.77.0.1/24 dev rtap0 && $IP link set rtap0 up &&
	$IP neigh replace 10.77.0.2 lladdr 52:54:00:12:34:03 nud permanent dev rtap0 &&
	$IP netns exec peer $IP neigh replace 10.77.0.1 lladdr "$(cat /sys/class/net/rtap0/address)" \
		nud permanent dev "$WIRE_PEER"
}
pings() {
	ping -c "$1" -i 0.2 -W "${2:-5}" 10.77.0.2 > /tmp/ping.70 2>&1
	local rc=$?
	grep -E 'transmitted|loss' /tmp/ping.70
	return $rc
}
setup_ip || { fail "cannot configure rtap0 / the peer"; }

# --- riovctl's view and the kernel's
rctl port list
rctl device list
rctl --json device list nic > /tmp/dev.70 || { fail "riovctl device list nic failed"; }
did=$(jval domain_id /tmp/dev.70); sid=$(jval source_id /tmp/dev.70); grp=$(jval iommu_group /tmp/dev.70)
drv=$(jval driver /tmp/dev.70); nvec=$(jval msix_vectors /tmp/dev.70); mapped=$(jval mapped_bytes /tmp/dev.70)
echo "riovctl: domain $did source-id $sid group $grp driver $drv msix $nvec mapped $mapped"
kgrp=$(basename "$(readlink /sys/bus/pci/devices/$bdf/iommu_group)")
kdrv=$(basename "$(readlink /sys/bus/pci/devices/$bdf/driver)")
kvec=$(grep -c "vfio-msix\[[0-9]*\]($bdf)" /proc/interrupts)
grep "($bdf)" /proc/interrupts
echo "kernel: group $kgrp driver $kdrv vfio-msix lines $kvec"
[ "$sid" = 8 ] || { fail "source-id $sid, expected 8 (00:01.0)"; }
[ "$grp" = "$kgrp" ] && [ "$drv" = "$kdrv" ] && [ "$drv" = vfio-pci ] ||
	{ fail "riovctl says group $grp driver $drv, sysfs says group $kgrp driver $kdrv"; }
[ -n "$nvec" ] && [ "$nvec" -gt 0 ] && [ "$nvec" = "$kvec" ] ||
	{ fail "riovctl routes $nvec MSI-X vectors, /proc/interrupts has $kvec vfio-msix lines for $bdf"; }
[ -n "$mapped" ] && [ "$mapped" -gt 0 ] || { fail "the VFIO container holds nothing"; }
rctl domain show nic > /tmp/dom.70 || { fail "riovctl domain show nic failed"; }
cat /tmp/dom.70
rctl --json domain show nic > /tmp/domj.70
m_iova=$(jval iova /tmp/domj.70); m_size=$(jval size /tmp/domj.70); m_target=$(jval target /tmp/domj.70)
[ -n "$m_iova" ] && [ -n "$m_size" ] && [ -n "$m_target" ] || { fail "domain $did shows no mapping"; }

# --- 1. traffic inside the domain
pings $N || { rctl port stats; fail "no traffic through the assigned e1000e"; }
rstat_snap || { fail "riovctl port stats failed"; }
n_tx=$(rstat nic tx_packets); n_rx=$(rstat nic rx_packets)
[ "$n_tx" = "$N" ] && [ "$n_rx" = "$N" ] || { rctl port stats; fail "e1000e counted tx $n_tx rx $n_rx, expected $N each"; }

# --- 3. a fault outside it
rctl faults clear > /dev/null
f0=$(rctl --json stats | sed -n 's/^ *"faults": \([0-9]*\).*/\1/p' | tail -n1)
rctl domain unmap nic --iova 0 --size 0x1000000000000 || { fail "riovctl domain unmap failed"; }
rctl --json device list nic | grep -E '"(mapped_bytes|container_ranges)"'
pings 3 1 && { fail "pings passed with domain $did unmapped"; }
n=0
until rctl --json faults read nic > /tmp/faults.70 && grep -q '"source_id": 8,' /tmp/faults.70; do
	n=$((n + 1))
	[ $n -le 100 ] || { dmesg | grep DMAR | tail -n 5; fail "no fault of nic in riovd's fault log"; }
	sleep 0.2
done
rctl faults read nic
kfault=$(dmesg | grep -m1 'DMAR: \[DMA .*Request device \[00:01.0\] fault addr')
echo "kernel: $kfault"
[ -n "$kfault" ] || { fail "the kernel logged no DMAR fault for 00:01.0"; }
faddr=$(printf '0x%x' "$(jval address /tmp/faults.70)")
f1=$(rctl --json stats | sed -n 's/^ *"faults": \([0-9]*\).*/\1/p' | tail -n1)
[ "$f1" -gt "$f0" ] || { fail "fault counter did not move ($f0 -> $f1)"; }

# --- 4. map it back
rctl domain map nic --iova "$m_iova" --size "$m_size" --target "$m_target" ||
	{ fail "riovctl domain map (back) failed"; }
n=0
until pings 1 1 > /dev/null; do   # frames the device dropped while faulting: it resyncs
	n=$((n + 1))
	[ $n -le 10 ] || { fail "no traffic after mapping the memory back"; }
done
pings $N || { fail "no traffic after mapping the memory back"; }

# --- 5. restart
riovd_stop || { fail "riovd did not stop cleanly"; }
riovd_start /tmp/riovd-70.conf || exit 1
setup_ip > /dev/null 2>&1
did2=$(rctl --json device list nic | sed -n 's/^ *"domain_id": \([0-9]*\).*/\1/p' | head -n1)
[ "$did2" = "$did" ] || { fail "after a restart nic has domain $did2, not $did"; }
pings $N || { fail "no traffic after a restart"; }
riovd_stop || { fail "riovd did not stop cleanly"; }
echo "e1000e $bdf assigned by riovd: domain $did (source-id 0x8, group $grp) pushed to VFIO, $nvec MSI-X vectors routed via riov IRTEs (= kernel's vfio-msix lines); $N pings inside the domain; after unmap the IOMMU faulted (riovctl faults: nic at $faddr); mapped back and after a restart traffic flows"
