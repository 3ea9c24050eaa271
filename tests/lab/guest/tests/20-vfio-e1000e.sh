#!/bin/sh
# The emulated e1000e (8086:10d3) binds to vfio-pci through driver_override, sits alone in its
# IOMMU group, and /dev/vfio/<group> appears. Leaves the device bound to vfio-pci for later tests.
dev=""
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x8086 ] && [ "$(cat "$d/device")" = 0x10d3 ]; then dev=$d; break; fi
done
[ -n "$dev" ] || { echo "no e1000e (8086:10d3) on the PCI bus (is -device e1000e given?)"; exit 1; }
bdf=$(basename "$dev")
[ -e /dev/vfio/vfio ] || { echo "/dev/vfio/vfio missing (vfio module not loaded?)"; exit 1; }
[ -d /sys/bus/pci/drivers/vfio-pci ] || { echo "vfio-pci driver not registered"; exit 1; }

echo vfio-pci > "$dev/driver_override"
if [ -e "$dev/driver" ]; then
	echo "$bdf was bound to $(basename "$(readlink "$dev/driver")")"
	echo "$bdf" > "$dev/driver/unbind"
fi
echo "$bdf" > /sys/bus/pci/drivers_probe
drv=$(basename "$(readlink "$dev/driver" 2>/dev/null)")
[ "$drv" = vfio-pci ] || { echo "$bdf bound to '${drv:-nothing}', not vfio-pci"; exit 1; }

[ -e "$dev/iommu_group" ] || { echo "$bdf has no IOMMU group"; exit 1; }
grp=$(basename "$(readlink "$dev/iommu_group")")
members=$(ls "/sys/kernel/iommu_groups/$grp/devices")
n=$(echo "$members" | wc -w)
[ "$n" = 1 ] || { echo "group $grp is shared: $members"; exit 1; }
[ -c "/dev/vfio/$grp" ] || { echo "/dev/vfio/$grp missing"; exit 1; }
echo "$bdf" > /tmp/vfio-bdf
echo "$grp" > /tmp/vfio-group
echo "$bdf on vfio-pci, alone in IOMMU group $grp, /dev/vfio/$grp present"
