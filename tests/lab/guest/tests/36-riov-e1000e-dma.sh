#!/bin/sh
# A real device DMA (the assigned e1000e's TX descriptor fetch, frame read and status write-back)
# through the VT-d domain riov pushed to VFIO, and the device's MSI-X write-back interrupt on the
# eventfd of the IRTE riov routed it to; after riov unmaps the ring the device's next fetch must be
# blocked by the IOMMU (a DMAR fault at the expected address in dmesg).
B=/lab/bin/e1000e_dma_lab
[ -x $B ] || { echo "SKIP: e1000e_dma_lab was not built (see build-e1000e_dma_lab.log in the lab cache)"; exit 77; }
[ -f /tmp/vfio-group ] || { echo "no device bound to vfio-pci (vfio-e1000e failed?)"; exit 1; }
$B "$(cat /tmp/vfio-group)" "$(cat /tmp/vfio-bdf)" > /tmp/dma.out 2>&1
rc=$?
cat /tmp/dma.out
[ $rc = 0 ] || exit 1
addr=$(sed -n 's/^expect-fault //p' /tmp/dma.out)
sleep 1
f=$(dmesg | grep -m1 -i "fault addr $addr")
[ -n "$f" ] || { dmesg | grep -i dmar | tail -n 5; echo "no DMAR fault at $addr in dmesg"; exit 1; }
echo "$f"
echo "e1000e DMA + MSI-X through riov's domain/IRTE OK; after riov's unmap the IOMMU faulted at $addr"
