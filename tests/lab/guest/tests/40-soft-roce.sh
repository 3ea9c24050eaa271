#!/bin/sh
# Soft-RoCE: `rdma link add rxe0 type rxe netdev <virtio-net if>` creates an RDMA device that shows
# in /sys/class/infiniband (with its uverbs char device when ib_uverbs is loaded).
RDMA=$(command -v rdma)
[ -n "$RDMA" ] || { echo "SKIP: iproute2 rdma not in the initramfs"; exit 77; }
[ -d /sys/module/rdma_rxe ] || { echo "rdma_rxe module not loaded"; exit 1; }
# run.sh's virtio-net NIC for Soft-RoCE has MAC 52:54:00:12:34:02 (the other one is the e1000e's wire)
ifc=""
for n in /sys/class/net/*; do
	drv=$(basename "$(readlink "$n/device/driver" 2>/dev/null)")
	[ "$drv" = virtio_net ] && [ "$(cat "$n/address")" = 52:54:00:12:34:02 ] && { ifc=$(basename "$n"); break; }
done
[ -n "$ifc" ] || { echo "no virtio-net interface with MAC 52:54:00:12:34:02 (is run.sh's -device virtio-net-pci given?)"; exit 1; }
ip link set lo up
ip link set "$ifc" up || { echo "cannot bring $ifc up"; exit 1; }
ip addr add 10.0.2.15/24 dev "$ifc" 2>/dev/null
$RDMA link add rxe0 type rxe netdev "$ifc" || { echo "rdma link add rxe0 on $ifc failed"; exit 1; }
$RDMA link show
[ -d /sys/class/infiniband/rxe0 ] || { echo "rxe0 not in /sys/class/infiniband"; exit 1; }
state=$($RDMA link show rxe0/1 | sed -n 's/.* state \([A-Z_]*\).*/\1/p')
uv=$(ls /sys/class/infiniband_verbs 2>/dev/null | grep -v abi_version | tr '\n' ' ')
echo "rxe0 on $ifc, port state ${state:-?}, uverbs: ${uv:-none}"
