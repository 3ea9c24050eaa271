#!/bin/sh
# VFIO type1 on the e1000e that 20-vfio-e1000e bound to vfio-pci: container, group, MAP_DMA,
# device reset, BAR0 mmap, MSI/MSI-X eventfd (tests/lab/guest/src/vfio_smoke.c).
[ -f /tmp/vfio-group ] || { echo "no device bound to vfio-pci (vfio-e1000e failed?)"; exit 1; }
exec /lab/bin/vfio_smoke "$(cat /tmp/vfio-group)" "$(cat /tmp/vfio-bdf)"
