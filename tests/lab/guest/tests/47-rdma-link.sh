#!/bin/sh
# riov's own RDMA peer link (dataplane/rdma_link.c, issue 15) on rxe0 (created by 40-soft-roce):
# rdma_link_smoke (tests/lab/guest/dpdk/, DPDK + libibverbs + librdmacm) runs two nodes in one
# process on the rxe netdev's two addresses (10.0.2.15, and 10.0.2.16 added here): A (lower)
# connects and is refused until B listens, both exchange HELLOs, frames of 64 and 1514 bytes with
# assorted VNIs go both ways (all once, in order, bytes checked), B's connection is reset and
# later B's whole context destroyed: A goes down and reconnects each time, and traffic flows again;
# then frames one way only, so that the receiver must send CREDIT messages.
B=/lab/bin/rdma_link_smoke
[ -x "$B" ] || { echo "SKIP: rdma_link_smoke not in the initramfs (build without rdma-core, or its build failed)"; exit 77; }
[ -d /sys/class/infiniband/rxe0 ] || { echo "SKIP: no rxe0 (soft-roce failed or skipped)"; exit 77; }
[ -e /dev/infiniband/rdma_cm ] || { echo "no /dev/infiniband/rdma_cm (rdma_ucm not loaded?)"; exit 1; }
ifc=$(rdma link show rxe0/1 2>/dev/null | sed -n 's/.* netdev \([^ ]*\).*/\1/p')
[ -n "$ifc" ] || { echo "cannot tell rxe0's netdev"; exit 1; }
ip addr add 10.0.2.16/24 dev "$ifc" 2>/dev/null
ip addr show dev "$ifc" | grep -q 'inet 10.0.2.15/' || ip addr add 10.0.2.15/24 dev "$ifc" 2>/dev/null
hw=/sys/class/infiniband/rxe0/ports/1/hw_counters
rnr0=$(cat "$hw/rcvd_rnr_err" 2>/dev/null || echo 0)
"$B" 10.0.2.15 10.0.2.16 "${RDMA_LINK_FRAMES:-1000}" > /tmp/rdma-link.out 2>&1
rc=$?
grep -v '^EAL: \|^TELEMETRY' /tmp/rdma-link.out | tail -n 40
rnr1=$(cat "$hw/rcvd_rnr_err" 2>/dev/null || echo 0)
echo "rxe0 RNR NAKs received during the run: $((rnr1 - rnr0))"
res=$(tail -n 1 /tmp/rdma-link.out)
[ $rc = 0 ] || { echo "rdma_link_smoke exit $rc: $res"; exit 1; }
echo "$res"
