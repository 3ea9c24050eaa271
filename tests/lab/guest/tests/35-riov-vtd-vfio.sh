#!/bin/sh
# riov's VT-d model pushes a domain and an IRTE route to the real VFIO container and device
# (tests/lab/guest/riov/vtd_vfio_lab.c linked with riov's iommu/ sources).
[ -x /lab/bin/vtd_vfio_lab ] || { echo "SKIP: vtd_vfio_lab was not built (see build-vtd_vfio_lab.log in the lab cache)"; exit 77; }
[ -f /tmp/vfio-group ] || { echo "no device bound to vfio-pci (vfio-e1000e failed?)"; exit 1; }
exec /lab/bin/vtd_vfio_lab "$(cat /tmp/vfio-group)" "$(cat /tmp/vfio-bdf)"
