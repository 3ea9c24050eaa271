#!/usr/bin/env bash
# make bench: every benchmark, one at a time (they busy-poll; parallel runs make numbers meaningless).
# Prints "name: value unit" lines and ratios against the reference measured in the same run.
# BENCH_PAIRS (default 5) and BENCH_SECONDS (default 4) size the switch comparison; BENCH_TCP_ROUNDS
# (default 3) and BENCH_TCP_SECONDS (default 10) the guest-to-guest TCP one (about 8 minutes a round: guests, then the uplink topology);
# BENCH_MATRIX_ROUNDS (default 3), BENCH_MATRIX_SECONDS (default 2) and BENCH_MATRIX_TRIALS (default 10) the
# matrix of riov-perf against riovd, dpdk-testpmd and OVS-DPDK (about 4 minutes a round; table and plots in build/bench/);
# BENCH_VXLAN_PAIRS (default 5) and BENCH_VXLAN_SECONDS (default 4) the VXLAN one (about 4 minutes: 40 runs of about 6 s).
set -uo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
export RIOV_BUILD=$(cd "$BUILD" && pwd)
rc=0
for b in "$BUILD"/tests/bench/bench_*; do
	[ -x "$b" ] && [ -f "$b" ] || continue
	echo "== $(basename "$b")"
	taskset -c "$(($(nproc) - 1))" "$b" || rc=1
done
echo "== bench_switch (riovd vs dpdk-testpmd net_vhost, one testpmd virtio-user guest with two ports, on hugepages reserved for the run; split and packed rings)"
python3 "$HERE/bench_switch.py" --pairs "${BENCH_PAIRS:-5}" --seconds "${BENCH_SECONDS:-4}" --rings both || rc=1
echo "== bench_matrix (riov-perf's NDR/PDR, latency and the switch's cycles per packet: riovd, dpdk-testpmd net_vhost io, Open vSwitch with DPDK; VM to VM, 64/256/1518/IMIX)"
python3 "$HERE/bench_matrix.py" --rounds "${BENCH_MATRIX_ROUNDS:-3}" --seconds "${BENCH_MATRIX_SECONDS:-2}" \
	--trials "${BENCH_MATRIX_TRIALS:-10}" --out "$RIOV_BUILD/bench" || rc=1
echo "== bench_vxlan (VXLAN decapsulation and encapsulation against plain L2 on the same DPDK device: net_pcap replaying a capture into an rxonly guest, a txonly guest into net_null)"
python3 "$HERE/bench_vxlan.py" --pairs "${BENCH_VXLAN_PAIRS:-5}" --seconds "${BENCH_VXLAN_SECONDS:-4}" || rc=1
echo "== bench_tcp (guest-to-guest TCP: iperf3 between two QEMU Linux guests through riovd, Open vSwitch with DPDK and a Linux bridge)"
python3 "$HERE/bench_tcp.py" --rounds "${BENCH_TCP_ROUNDS:-3}" --seconds "${BENCH_TCP_SECONDS:-10}" || rc=1
echo "== bench_evpn (EVPN: remote MACs written to the kernel as zebra writes them, to riovd's switch; median and p99 latency)"
python3 "$HERE/bench_evpn.py" --macs "${BENCH_EVPN_MACS:-10000}" || rc=1
echo "== bench_metrics (riovd with 1000 vhost ports, Metrics.Snapshot through riovctl)"; python3 "$HERE/bench_metrics.py" || rc=1
echo "== rdma-bench (the lab's two VMs: riov's RDMA transport beside ib_send_bw on the same Soft-RoCE device, 64 and 1518 bytes; TCG here, see docs/benchmarks.md)"
{ "$HERE/../lab/build.sh" && RIOV_LAB_ONLY=rdma-bench "$HERE/../lab/run.sh" --pair; } || rc=1
exit $rc
