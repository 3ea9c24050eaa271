#!/bin/sh
# RDMA traffic on Soft-RoCE: rdma-core's ibv_rc_pingpong, server and client in the guest on rxe0
# (created by 40-soft-roce), exchange 100 messages over a reliable-connected queue pair.
command -v ibv_rc_pingpong >/dev/null || { echo "SKIP: ibv_rc_pingpong (ibverbs-utils) not in the initramfs"; exit 77; }
[ -d /sys/class/infiniband/rxe0 ] || { echo "no rxe0 (soft-roce failed?)"; exit 1; }
ibv_devinfo -d rxe0 | grep -E 'hca_id|transport|state|active_mtu' || { echo "ibv_devinfo cannot open rxe0 (verbs provider missing?)"; exit 1; }
ibv_rc_pingpong -d rxe0 -g 0 -n 100 -s 4096 > /tmp/pp-server.out 2>&1 &
srv=$!
sleep 1
ibv_rc_pingpong -d rxe0 -g 0 -n 100 -s 4096 127.0.0.1 > /tmp/pp-client.out 2>&1
crc=$?
wait $srv
src=$?
sed 's/^/server: /' /tmp/pp-server.out
sed 's/^/client: /' /tmp/pp-client.out
[ $crc = 0 ] && [ $src = 0 ] || { echo "ibv_rc_pingpong failed (client $crc, server $src)"; exit 1; }
res=$(grep -m1 'iters in' /tmp/pp-client.out)
echo "RC queue pair over rxe0: ${res:-100 iterations}"
