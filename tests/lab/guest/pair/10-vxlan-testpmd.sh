#!/bin/sh
# Two riov nodes over VXLAN (tests/lab/run.sh --pair; the set-up is /lab/lib/pair.sh's): network
# blue (VNI 100, MTU 1450). For 64-byte and then 1468-byte frames (blue's MTU + 14 + CRC), A's
# guest sends to B's guest's MAC (txonly) for a few seconds (PAIR_TX_SECS, 5); B's guest counts them
# (rxonly). B then compares: A's guest sent = riovd A took from vm1 = A's VTEP port blue@10.0.0.2
# tx = B's VTEP port blue@10.0.0.1 rx = riovd B gave vm1 = B's guest received; A's result line
# has A's counts, B's the whole chain (B's is the pair's verdict). No rates are asserted (TCG).
. /lab/lib/riovd.sh
riovd_have || { echo "SKIP: riovd/riovctl not in the initramfs (see build-riovd.log in the lab cache)"; exit 77; }
command -v dpdk-testpmd > /dev/null || { echo "SKIP: no dpdk-testpmd in the pair image"; exit 77; }
. /lab/lib/pair.sh

pair_wire
pair_start 1450
# per frame size (testpmd's --txpkts, without the CRC): 60 (64-byte frames) and 1464 (1468-byte
# frames, the largest blue carries: DPDK 22.11's net_af_packet takes no MTU above 1500, so the
# underlay's 1500 less 50 bytes of outer headers is blue's MTU, 1450)
port=7000
for len in ${PAIR_SIZES:-60 1464}; do
	pair_round "$len" $port
	port=$((port + 2))
done
pair_finish "VXLAN VNI 100 A -> B, txonly -> rxonly for ${SECS} s per size: A's guest sent = riovd A took = A's VTEP tx = B's VTEP rx = riovd B gave = B's guest received" \
	"A, ${SECS} s txonly per size (B checks the chain)"
