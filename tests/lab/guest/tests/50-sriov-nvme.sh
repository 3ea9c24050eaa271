#!/bin/sh
# SR-IOV: QEMU's emulated NVMe controller (1b36:0010, sriov_max_vfs=2) bound to the nvme driver
# creates its VFs through sriov_numvfs; VF 0 binds to vfio-pci, gets its own IOMMU group and
# /dev/vfio/<group>. VF autoprobe is off so the host nvme driver never touches the VFs.
pf=""
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1b36 ] && [ "$(cat "$d/device")" = 0x0010 ] && [ -e "$d/sriov_totalvfs" ]; then
		pf=$d; break
	fi
done
[ -n "$pf" ] || { echo "SKIP: no SR-IOV capable NVMe controller (run.sh adds one)"; exit 77; }
total=$(cat "$pf/sriov_totalvfs")
drv=$(basename "$(readlink "$pf/driver" 2>/dev/null)")
echo "PF $(basename "$pf"): driver ${drv:-none}, sriov_totalvfs $total"
[ "$drv" = nvme ] || { echo "PF not bound to nvme (needed for sriov_configure)"; exit 1; }
echo 0 > "$pf/sriov_drivers_autoprobe"
echo "$total" > "$pf/sriov_numvfs" || { echo "writing sriov_numvfs=$total failed"; exit 1; }
n=$(ls -d "$pf"/virtfn* 2>/dev/null | wc -l)
[ "$n" = "$total" ] || { echo "$n VFs appeared, expected $total"; exit 1; }
vf=$(readlink -f "$pf/virtfn0")
bdf=$(basename "$vf")
echo "VF 0 is $bdf ($(cat "$vf/vendor"):$(cat "$vf/device"))"
echo vfio-pci > "$vf/driver_override"
echo "$bdf" > /sys/bus/pci/drivers_probe
drv=$(basename "$(readlink "$vf/driver" 2>/dev/null)")
[ "$drv" = vfio-pci ] || { echo "VF $bdf bound to '${drv:-nothing}', not vfio-pci"; exit 1; }
grp=$(basename "$(readlink "$vf/iommu_group")")
members=$(ls "/sys/kernel/iommu_groups/$grp/devices" | wc -l)
[ "$members" = 1 ] || { echo "VF group $grp has $members devices"; exit 1; }
[ -c "/dev/vfio/$grp" ] || { echo "/dev/vfio/$grp missing"; exit 1; }
/lab/bin/vfio_smoke "$grp" "$bdf" || { echo "VFIO type1 on VF $bdf failed"; exit 1; }
# leave the PF as it was: the riovd SR-IOV test creates the VFs through riovd
echo 0 > "$pf/sriov_numvfs" || { echo "removing the VFs (sriov_numvfs=0) failed"; exit 1; }
echo "$n VFs on $(basename "$pf"); VF $bdf on vfio-pci, alone in IOMMU group $grp, VFIO type1 works on it"
