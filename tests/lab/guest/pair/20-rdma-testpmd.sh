#!/bin/sh
# Two riov nodes over RDMA (issue 15; tests/lab/run.sh --pair; the set-up is /lab/lib/pair.sh's):
# riovd with rdma_device = "rxe0", and Soft-RoCE on riovd's uplink TAP up0 (`rdma link add rxe0
# type rxe netdev up0`: the VTEP address is there, so rdma_cm binds the link to rxe0, and RoCE
# goes out through riovd's exception path like BGP does; docs/rdma.md "Where the device is").
# Networks blue (VNI 100, MTU 1500: the RDMA link carries whole 1518-byte frames, which VXLAN
# over this 1500-byte underlay could not) and red (VNI 200, no ports: a frame there would be on
# the wrong VNI), both with the other VM as static VTEP.
#   1. the link comes up (A, the lower address, connects); `rdma res show qp` and ibv_devinfo;
#   2. txonly -> rxonly at 64 and 1518 bytes: the chain of counts of pair_round (drops allowed
#      only where counted: A's VTEP port when the link's queue is full, B's guest's full ring),
#      every frame by RDMA (A's link sent = A's VTEP tx, nothing by VXLAN, B's link received =
#      B's VTEP rx); then 50 TSO frames (testpmd's csum engine with `tso set 1448`) that cross
#      whole (A's VTEP offload_frames_out = B's offload_frames_in = the frames A's guest sent) and
#      are segmented by riovd B for its guest, 5 segments each (issue 22);
#   3. B's riovd killed with SIGKILL: A reports the link down (the keepalive's retries run out),
#      B starts again on its saved state (and its rxe device again, on the new TAP): A reports
#      it up; 64 bytes again: the chain holds (no frame twice), red received nothing;
#   4. the RDMA devices removed (`rdma link delete rxe0`) on both: riovd lets the device go (the
#      deletion finishes), the links are gone and 64-byte frames go by VXLAN, the same chain. Last
#      in the VM: Debian 12's kernel (6.1) then keeps a reference on up0, so that no TAP of that
#      name can be made again in this boot ("unregister_netdevice: waiting for up0 to become free").
. /lab/lib/riovd.sh
riovd_have || { echo "SKIP: riovd/riovctl not in the initramfs (see build-riovd.log in the lab cache)"; exit 77; }
command -v dpdk-testpmd > /dev/null || { echo "SKIP: no dpdk-testpmd in the pair image"; exit 77; }
RDMA=$(command -v rdma) || { echo "SKIP: iproute2's rdma tool not in the image"; exit 77; }
[ -d /sys/module/rdma_rxe ] || modprobe rdma_rxe 2>/dev/null || { echo "SKIP: no rdma_rxe module"; exit 77; }
. /lab/lib/pair.sh

# rdma_diag — what the device and riovd say (on a failure)
rdma_diag() {
	timeout 5 $RDMA res show qp
	for f in /sys/class/infiniband/rxe0/ports/1/hw_counters/*; do
		[ "$(cat "$f")" = 0 ] || echo "rxe0 $(basename "$f") $(cat "$f")"
	done
	rctl --json net vtep list blue | grep rdma_
	grep -iE 'rdma|link to' "$RIOVD_LOG.cur" | tail -n 20 | sed 's/^/riovd: /'
}

# the rounds' extra counts: how the frames went (RDMA or VXLAN)
EXPECT=rdma
pair_extra_start() {
	rtx0=$(vtn blue rdma_tx_frames); rrx0=$(vtn blue rdma_rx_frames); fb0=$(vtn blue rdma_fallback)
	redrx0=$(vtn red rx_packets)
	olo0=$(num "$VT" offload_frames_out); oli0=$(num "$VT" offload_frames_in); seg0=$(num vm1 sw_segmented)
}
pair_extra_a() {
	printf 'A_RDMA_TX=%s\nA_FALLBACK=%s\n' $(($(vtn blue rdma_tx_frames) - rtx0)) $(($(vtn blue rdma_fallback) - fb0))
	printf 'A_OL_OUT=%s\n' $(($(num "$VT" offload_frames_out) - olo0))
}
pair_extra_b() {
	local rrx=$(($(vtn blue rdma_rx_frames) - rrx0)) red=$(($(vtn red rx_packets) - redrx0))
	local how="A's link sent ${A_RDMA_TX:-?} (by VXLAN, the link down: ${A_FALLBACK:-?}), B's received $rrx, red received $red"
	[ "$red" = 0 ] || { echo "frames on the wrong VNI: $how"; return 1; }
	if [ "$EXPECT" = rdma ]; then
		[ "${A_RDMA_TX:-x}" = "$A_VTEP_TX" ] && [ "$rrx" = "$b_vrx" ] && [ "${A_FALLBACK:-x}" = 0 ] ||
			{ echo "not every frame went by RDMA: $how"; return 1; }
	else
		# no device, no link (rdma_fallback counts only frames of a link that is not up)
		[ "${A_RDMA_TX:-x}" = 0 ] && [ "$rrx" = 0 ] || { echo "frames went by RDMA with the devices gone: $how"; return 1; }
	fi
	if [ -n "${TSO:-}" ]; then
		# each TSO frame crossed whole (one frame on the link) and riovd B cut it for its guest
		local oli=$(($(num "$VT" offload_frames_in) - oli0)) seg=$(($(num vm1 sw_segmented) - seg0))
		how="$how; TSO frames: A's VTEP passed ${A_OL_OUT:-?} of them whole, B's VTEP took $oli with their metadata, riovd B segmented $seg for its guest (which takes no TSO)"
		[ "${A_OL_OUT:-x}" = "$A_SENT" ] && [ "$oli" = "$A_SENT" ] && [ "$seg" = "$b_vrx" ] ||
			{ echo "TSO frames did not cross whole: $how"; return 1; }
	fi
	echo "$how"
}

# A's guest for the TSO round: testpmd's csum engine forwards /lab/data/tso.pcap's 50 TCP frames (7,000
# payload bytes each, made at the image's build) from a net_pcap port to its virtio port with
# `tso set 1448`: its virtio PMD hands each to riovd whole, with a virtio-net header (GSO_TCPV4)
tso_guest() {
	GUEST_EAL="--vdev net_pcap0,rx_pcap=/lab/data/tso.pcap,tx_pcap=/tmp/tso-out.pcap"
	GUEST_PRE="port stop 0;csum set ip sw 0;csum set tcp hw 0;tso set 1448 0;port start 0"
	guest_start csum --eth-peer=0,$PEER_GMAC --no-flush-rx
	GUEST_EAL="" GUEST_PRE=""
}

pair_wire
pair_start 1500 "$RDMA_KEYS" add_rxe
rctl net add red --vni 200 --mtu 1500 || fail "net add red refused"
rctl net vtep add red "$PEER" || fail "vtep add red refused"

# 1. the link
secs_until 60 rdma_is up || { rctl net vtep list blue; sed 's/^/riovd: /' "$RIOVD_LOG.cur" | grep -i rdma | tail -n 20; fail "the RDMA link to $PEER is not up after 60 s (state $(vt blue rdma_state))"; }
echo "RDMA link to $PEER up after $T s"
rctl net vtep list blue
$RDMA link show
$RDMA res show qp | tee /tmp/qp.txt
QPS=$(grep -c 'type RC' /tmp/qp.txt)
[ "$QPS" -ge 1 ] || fail "rdma res show qp lists no RC queue pair"
ibv_devinfo -d rxe0 2>&1 | grep -E 'hca_id|state|active_mtu' | sed 's/^[[:space:]]*//' | tr '\n' ' '; echo

# 2. the sizes
port=7000
for len in 60 1514; do
	pair_round "$len" $port
	port=$((port + 2))
done

# 2b. TSO frames of 7,054 bytes cross the link whole with their metadata (the record's offload
# block) and are cut into 5 segments each only by riovd B, for its guest
[ -f /lab/data/tso.pcap ] || fail "no /lab/data/tso.pcap in the pair image"
pair_a_guest() { tso_guest; }
TSO=1 SEGS=5
pair_round 7054 7020
TSO="" SEGS=1
unset -f pair_a_guest

# 3. B's riovd killed with SIGKILL, and started again
KILLED=""
if [ "$ROLE" = b ]; then
	meet_b 7100 "kill"
	kill -KILL "$RIOVD_PID"; wait "$RIOVD_PID" 2>/dev/null
	cat "$RIOVD_LOG.cur" >> "$RIOVD_LOG"; RIOVD_PID=""
	# no TAP, so no way to talk to A: give it the time to notice (the keepalive's retries)
	sleep "${PAIR_KILL_SECS:-8}"
	pair_riovd "$RDMA_KEYS" add_rxe
	[ -S /run/riov/vm1.sock ] || fail "vm1's socket not restored"
	secs_until 60 rdma_is up || { rdma_diag; fail "the link is not up again after 60 s (state $(vt blue rdma_state))"; }
	KILLED="riovd killed and restarted: link up again $T s after B's start"
	meet_b 7102 "B's link up"
else
	est0=$(vtn blue rdma_established)
	meet_a 7100 "kill"
	if ! secs_until 30 rdma_not_up; then
		rdma_diag
		fail "A still reports the link up 30 s after B's riovd was killed"
	fi
	down=$T
	echo "A reports the link $(vt blue rdma_state) $down s after the kill"
	secs_until 90 rdma_is up || fail "the link is not up again 90 s later (state $(vt blue rdma_state))"
	[ "$(vtn blue rdma_established)" -gt "$est0" ] || fail "the link is up but was not made again"
	KILLED="B's riovd killed: A reported the link down after $down s, up again $T s later (a new connection)"
	meet_a 7102 "B's link up"
fi
echo "$KILLED"
pair_round 60 7104

# 4. fallback: the RDMA devices gone
if [ "$ROLE" = b ]; then meet_b 7110 "fallback"; else meet_a 7110 "fallback"; fi
rxe_delete
del=$T
S=$(vt blue rdma_state)
secs_until 30 rdma_not_up || fail "the link still up 30 s after rxe0 was deleted"
echo "rxe0 deleted in $del s: RDMA link ${S:-none}, transport $(vt blue transport)"
EXPECT=vxlan
pair_round 60 7112

pair_finish "RDMA (rxe0 on riovd's uplink TAP) A -> B, txonly -> rxonly for ${SECS} s per size; every frame counted once: sent = taken = link sent (+ dropped, counted) = link received = given (+ dropped, counted) = received, nothing on red (VNI 200); $QPS RC QP(s) in rdma res; $KILLED; then by VXLAN without the devices" \
	"A, ${SECS} s txonly per size (B checks the chain); $KILLED"
