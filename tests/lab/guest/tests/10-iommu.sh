#!/bin/sh
# The guest kernel drives QEMU's emulated VT-d: DMA remapping and interrupt remapping are on.
# Prints the matching kernel lines; exit 0 when both are present.
msg=$(dmesg)
dmar=$(echo "$msg" | grep -m1 'DMAR: IOMMU enabled')
ir=$(echo "$msg" | grep -m1 -E 'DMAR-IR: Enabled IRQ remapping in (xapic|x2apic) mode')
echo "$dmar"; echo "$ir"
[ -n "$dmar" ] || { echo "no 'DMAR: IOMMU enabled' in dmesg"; exit 1; }
[ -n "$ir" ] || { echo "no 'DMAR-IR: Enabled IRQ remapping' in dmesg"; exit 1; }
ngroups=$(ls /sys/kernel/iommu_groups | wc -l)
[ "$ngroups" -gt 0 ] || { echo "no IOMMU groups"; exit 1; }
mode=${ir##* in }
echo "DMAR enabled, IRQ remapping in $mode, $ngroups IOMMU groups"
