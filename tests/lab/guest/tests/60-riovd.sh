#!/bin/sh
# riovd itself in the VM: the tree's riovd and riovctl (with their shared libraries and DPDK's PMDs,
# packed by build.sh) start with DPDK's EAL (--no-huge), serve the control API, add a DPDK eth port
# (net_null vdev) and restore it from the state file after a restart.
. /lab/lib/riovd.sh
riovd_have || { echo "SKIP: riovd/riovctl not in the initramfs (see build-riovd.log in the lab cache)"; exit 77; }
riovd_traps
rm -rf "$RIOVD_STATE"
riovd_conf /tmp/riovd-60.conf '{ name = "lab"; }' ''
t0=$(cut -d' ' -f1 /proc/uptime)
riovd_start /tmp/riovd-60.conf || exit 1
t1=$(cut -d' ' -f1 /proc/uptime)
grep -E 'EAL|ready' "$RIOVD_LOG.cur"
rctl node info || { fail "riovctl node info failed"; }
ver=$(rctl --json node info | sed -n 's/.*"version": "\(.*\)".*/\1/p')
workers=$(rctl --json node info | sed -n 's/.*"workers": \([0-9]*\).*/\1/p')
rctl port add eth null0 --net lab --devargs net_null0 || { fail "Port.Add of a net_null port failed"; }
rctl port list
riovd_stop || { fail "riovd did not stop cleanly"; }
riovd_start /tmp/riovd-60.conf || exit 1
rctl port list > /tmp/ports.60 || fail "riovctl port list failed after a restart"
cat /tmp/ports.60
grep -q '^null0 .* up ' /tmp/ports.60 || { fail "port null0 not restored (up) after a restart"; }
riovd_stop || { fail "riovd did not stop cleanly"; }
echo "riovd $ver in the VM: DPDK EAL (no hugepages), $workers worker(s), ready $(awk "BEGIN { print $t1 - $t0 }") s after start; eth port net_null0 added over riovctl and restored from the state file after a restart"
