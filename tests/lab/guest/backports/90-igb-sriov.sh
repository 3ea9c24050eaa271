#!/bin/sh
# SR-IOV on a NIC (backports lab only: QEMU >= 8.0 has igb): QEMU's igb (Intel 82576, 8086:10c9,
# 7 VFs) bound to Linux's igb driver; `sriov_numvfs=2` through the PF's netdev creates two VFs
# (8086:10ca) which igbvf binds (autoprobe on); VF 1 then moves to vfio-pci: alone in its IOMMU
# group, /dev/vfio/<group>, vfio_smoke (type1: MAP_DMA, reset, BAR0 mmap, MSI-X eventfd). Then
# iommufd: /dev/iommu and the VF's /dev/vfio/devices/vfioN when the kernel has IOMMUFD and
# VFIO_DEVICE_CDEV (reported either way, not a failure). At the end the VFs are removed again.
pf=""
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x8086 ] && [ "$(cat "$d/device")" = 0x10c9 ]; then
		pf=$d; break
	fi
done
[ -n "$pf" ] || { echo "SKIP: no igb PF (82576, 8086:10c9): tests/lab/run.sh --backports adds one"; exit 77; }
pbdf=$(basename "$pf")
drv=$(basename "$(readlink "$pf/driver" 2>/dev/null)")
[ "$drv" = igb ] || { echo "PF $pbdf bound to '${drv:-nothing}', not igb"; exit 1; }
ifc=$(ls "$pf/net" 2>/dev/null | head -n1)
[ -n "$ifc" ] || { echo "PF $pbdf on igb has no netdev"; exit 1; }
total=$(cat "$pf/sriov_totalvfs")
echo "PF $pbdf: driver igb, netdev $ifc, sriov_totalvfs $total"
# the VFs' mailbox needs the PF out of reset (igbvf: "PF still in reset state. Is the PF interface up?")
ip link set "$ifc" up
echo 2 > "/sys/class/net/$ifc/device/sriov_numvfs" || { echo "echo 2 > /sys/class/net/$ifc/device/sriov_numvfs failed"; exit 1; }
n=$(ls -d "$pf"/virtfn* 2>/dev/null | wc -l)
[ "$n" = 2 ] || { echo "$n VFs appeared, expected 2"; exit 1; }
vfs=""
for i in 0 1; do
	vf=$(readlink -f "$pf/virtfn$i")
	vbdf=$(basename "$vf")
	w=0
	while [ "$(basename "$(readlink "$vf/driver" 2>/dev/null)")" != igbvf ] && [ $w -lt 20 ]; do
		sleep 0.5; w=$((w + 1))
	done
	vdrv=$(basename "$(readlink "$vf/driver" 2>/dev/null)")
	vnet=$(ls "$vf/net" 2>/dev/null | head -n1)
	echo "VF $i: $vbdf $(cat "$vf/vendor"):$(cat "$vf/device") driver ${vdrv:-none} netdev ${vnet:-none}"
	[ "$vdrv" = igbvf ] || { echo "VF $vbdf bound to '${vdrv:-nothing}', not igbvf"; exit 1; }
	vfs="$vfs $vbdf ($vnet)"
done
dmesg | grep -E ' igbv?f? ' | tail -n 8 | sed 's/^/dmesg: /'

# VF 1 to vfio-pci
vf=$(readlink -f "$pf/virtfn1")
vbdf=$(basename "$vf")
echo "$vbdf" > /sys/bus/pci/drivers/igbvf/unbind
echo vfio-pci > "$vf/driver_override"
echo "$vbdf" > /sys/bus/pci/drivers_probe
drv=$(basename "$(readlink "$vf/driver" 2>/dev/null)")
[ "$drv" = vfio-pci ] || { echo "VF $vbdf bound to '${drv:-nothing}', not vfio-pci"; exit 1; }
grp=$(basename "$(readlink "$vf/iommu_group")")
members=$(ls "/sys/kernel/iommu_groups/$grp/devices" | wc -l)
[ "$members" = 1 ] || { echo "VF group $grp has $members devices"; exit 1; }
[ -c "/dev/vfio/$grp" ] || { echo "/dev/vfio/$grp missing"; exit 1; }
/lab/bin/vfio_smoke "$grp" "$vbdf" || { echo "VFIO type1 on VF $vbdf failed"; exit 1; }

# iommufd and the VFIO device cdev
if [ -c /dev/iommu ]; then
	cdev=$(ls "$vf/vfio-dev" 2>/dev/null | head -n1)
	if [ -n "$cdev" ] && [ -c "/dev/vfio/devices/$cdev" ]; then
		iommufd="/dev/iommu and /dev/vfio/devices/$cdev present"
	else
		iommufd="/dev/iommu present, no /dev/vfio/devices/ node for $vbdf (no VFIO_DEVICE_CDEV)"
	fi
elif grep -q iommufd "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null || [ -d /sys/module/iommufd ]; then
	echo "iommufd is in the kernel but /dev/iommu is missing"; exit 1
else
	iommufd="not in this kernel (no /dev/iommu: CONFIG_IOMMUFD is not set)"
fi
echo "iommufd: $iommufd"
ls /dev/vfio/ | sed 's/^/dev-vfio: /'

echo "" > "$vf/driver_override"
echo 0 > "$pf/sriov_numvfs" || { echo "removing the VFs (sriov_numvfs=0) failed"; exit 1; }
echo "igb PF $pbdf ($ifc): 2 of $total VFs on igbvf:$vfs; VF $vbdf on vfio-pci, alone in IOMMU group $grp, VFIO type1 works on it; iommufd: $iommufd"
