#!/bin/sh
# A DPDK eth port on real (emulated) hardware: riovd's port "nic" is the e1000e on vfio-pci (from
# 20-vfio-e1000e), driven by DPDK's e1000 PMD (net_e1000_em) with IOVA as VA in DPDK's own VFIO
# container; port "tap" (net_tap, Linux interface rtap0) is on the same riov network. Linux pings
# from rtap0 (10.77.0.1) to the NIC wired to the e1000e (10.77.0.2, namespace "peer"): every
# packet crosses riovd's switch and the e1000e's DMA both ways. Then riovd's counters must agree
# with Linux's on both interfaces: N packets each way on each port (static neighbours, no ARP),
# bytes too (the e1000e's receive side counts frames padded to 60 bytes; pings are longer).
. /lab/lib/riovd.sh
riovd_have || { echo "SKIP: riovd/riovctl not in the initramfs (see build-riovd.log in the lab cache)"; exit 77; }
[ -f /tmp/vfio-bdf ] || { fail "no device bound to vfio-pci (vfio-e1000e failed?)"; }
bdf=$(cat /tmp/vfio-bdf)
riovd_traps
N=20
rm -rf "$RIOVD_STATE"
# no IPv6 chatter on rtap0 (created by riovd) either: only the test's packets cross the wire
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
# -a 0000:00:00.0 (the host bridge, no DPDK driver): PCI scanning on, nothing probed at start;
# the e1000e is probed when its port is added
riovd_conf /tmp/riovd-65.conf '{ name = "wire"; }' \
	"{ name = \"nic\"; type = \"eth\"; net = \"wire\"; devargs = \"$bdf\"; },
	 { name = \"tap\"; type = \"eth\"; net = \"wire\"; devargs = \"net_tap0,iface=rtap0\"; }" \
	"-a 0000:00:00.0 --iova-mode=va"
# The peer goes up first: a frame an earlier test left on the wire is taken in now, and the
# peer's counters from here on are riovd's traffic only.
wire_peer_up 10.77.0.2/24 || { fail "cannot set up the wire's Linux end"; }
p_rx0=$(wire_peer_stat rx_packets); p_tx0=$(wire_peer_stat tx_packets)
p_rxb0=$(wire_peer_stat rx_bytes); p_txb0=$(wire_peer_stat tx_bytes)
riovd_start /tmp/riovd-65.conf || exit 1
grep -E 'port (nic|tap)|IOVA' "$RIOVD_LOG.cur"
rctl port list
$IP addr add 10.77.0.1/24 dev rtap0 && $IP link set rtap0 up || { fail "rtap0 (riovd's tap port) missing"; }
# static neighbours: no ARP, so the wire carries exactly the N requests and N replies and is quiet
# once ping has its last reply (the counters are read then)
$IP neigh replace 10.77.0.2 lladdr 52:54:00:12:34:03 nud permanent dev rtap0 &&
	$IP netns exec peer $IP neigh replace 10.77.0.1 lladdr "$(cat /sys/class/net/rtap0/address)" \
		nud permanent dev "$WIRE_PEER" || { fail "cannot set static neighbours"; }
ping -c $N -i 0.2 -W 5 10.77.0.2 > /tmp/ping.65 2>&1
prc=$?
cat /tmp/ping.65
[ $prc = 0 ] || { rctl port stats; fail "ping through riovd (tap -> switch -> e1000e -> wire) failed"; }
got=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping.65)
rctl port stats
rstat_snap || { fail "riovctl port stats failed"; }
n_rx=$(rstat nic rx_packets); n_tx=$(rstat nic tx_packets); n_txb=$(rstat nic tx_bytes)
t_rx=$(rstat tap rx_packets); t_tx=$(rstat tap tx_packets); t_rxb=$(rstat tap rx_bytes); t_txb=$(rstat tap tx_bytes)
p_rx=$(($(wire_peer_stat rx_packets) - p_rx0)); p_tx=$(($(wire_peer_stat tx_packets) - p_tx0))
p_rxb=$(($(wire_peer_stat rx_bytes) - p_rxb0)); p_txb=$(($(wire_peer_stat tx_bytes) - p_txb0))
l_rx=$(cat /sys/class/net/rtap0/statistics/rx_packets); l_tx=$(cat /sys/class/net/rtap0/statistics/tx_packets)
l_rxb=$(cat /sys/class/net/rtap0/statistics/rx_bytes); l_txb=$(cat /sys/class/net/rtap0/statistics/tx_bytes)
echo "riovd nic rx $n_rx tx $n_tx ($n_txb B) | $WIRE_PEER tx $p_tx rx $p_rx ($p_rxb B)"
echo "riovd tap rx $t_rx ($t_rxb B) tx $t_tx ($t_txb B) | rtap0 tx $l_tx ($l_txb B) rx $l_rx ($l_rxb B)"
bad=""
[ "$n_tx" = "$p_rx" ] && [ "$n_txb" = "$p_rxb" ] || bad="$bad e1000e-tx/peer-rx"
[ "$n_rx" = "$p_tx" ] && [ "$(rstat nic rx_bytes)" = "$p_txb" ] || bad="$bad e1000e-rx/peer-tx"
[ "$t_rx" = "$l_tx" ] && [ "$t_rxb" = "$l_txb" ] || bad="$bad tap-rx/rtap0-tx"
[ "$t_tx" = "$l_rx" ] && [ "$t_txb" = "$l_rxb" ] || bad="$bad tap-tx/rtap0-rx"
[ "$n_tx" = "$N" ] && [ "$n_rx" = "$N" ] || bad="$bad not-$N-each-way"
[ -z "$bad" ] || { fail "counters disagree:$bad"; }
riovd_stop || { fail "riovd did not stop cleanly"; }
echo "eth port on the e1000e ($bdf, net_e1000_em, IOVA as VA): $got/$N pings rtap0 <-> $WIRE_PEER through riovd; counters agree (e1000e tx $n_tx = peer rx, e1000e rx $n_rx = peer tx, tap = rtap0)"
