#!/bin/sh
# The RDMA transport's rate beside ib_send_bw (perftest) on the same rxe device, in the same run
# (issue 15; tests/lab/run.sh --pair, `make lab-pair`; docs/benchmarks.md). The set-up is
# rdma-testpmd's (/lab/lib/pair.sh: riovd with rdma_device = "rxe0", Soft-RoCE on riovd's uplink
# TAP). For 64 and 1518-byte frames:
#   - ib_send_bw from A to B (its own TCP exchange over riovd's TAP, the RoCE v2 GID of the
#     node's IPv4 address, the ACK timeout of riov's link), messages of the frame's size, for
#     $SECS s: its message rate (B, the receiver, reports it);
#   - riov: A's testpmd guest txonly to B's guest for $SECS s; the frames B's VTEP port received
#     over the link, per second.
# B prints both and the ratio riov / ib_send_bw. Nothing is asserted but that both ran and got
# messages through (TCG rates are not a machine's: the lab has no KVM here); a round whose chain
# of counts differs says so in its line. After each step both print how the RoCE packets went
# (path_diag: rxe0's counters, the TAP's and the wire NIC's, softnet). At the end riovd stops
# with rxe0 still on its TAP, and both must go (riovd's stop used to hang there).
. /lab/lib/riovd.sh
riovd_have || { echo "SKIP: riovd/riovctl not in the initramfs (see build-riovd.log in the lab cache)"; exit 77; }
command -v dpdk-testpmd > /dev/null || { echo "SKIP: no dpdk-testpmd in the pair image"; exit 77; }
command -v rdma > /dev/null || { echo "SKIP: iproute2's rdma tool not in the image"; exit 77; }
IBBW=$(command -v ib_send_bw) || { echo "SKIP: no ib_send_bw in the image (perftest on the build host)"; exit 77; }
. /lab/lib/pair.sh

pair_wire
pair_start 1500 "$RDMA_KEYS" add_rxe
secs_until 60 rdma_is up || fail "the RDMA link to $PEER is not up after 60 s (state $(vt blue rdma_state))"
# ib_msgs FILE — ib_send_bw's message rate (per second) from its result line
ib_msgs() {
	awk 'NF == 5 && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ { r = $5 } END { if (r != "") printf "%.0f", r * 1000000 }' "$1"
}
# gid_idx — rxe0's GID table index of the node's IPv4 address (IPv4-mapped, RoCE v2)
gid_idx() {
	local g
	for g in /sys/class/infiniband/rxe0/ports/1/gids/*; do
		case "$(cat "$g" 2>/dev/null)" in
		0000:0000:0000:0000:0000:ffff:*)
			[ "$(cat "/sys/class/infiniband/rxe0/ports/1/gid_attrs/types/$(basename "$g")" 2>/dev/null)" = "RoCE v2" ] &&
				{ basename "$g"; return 0; } ;;
		esac
	done
	return 1
}
GID=$(gid_idx) || fail "no RoCE v2 GID of an IPv4 address on rxe0"
# path_diag WHEN — how the RoCE packets went (cumulative): rxe0's counters that are not 0, the
# kernel's counters of riovd's TAP up0 and of the wire NIC, softnet drops, riovd's link
rxe_counters() {
	local f
	for f in /sys/class/infiniband/rxe0/ports/1/hw_counters/*; do
		[ "$(cat "$f")" = 0 ] || printf ' %s=%s' "$(basename "$f")" "$(cat "$f")"
	done
}
path_diag() {
	local f
	echo "after $1: rxe0$(rxe_counters)"
	for f in up0 "$IF"; do
		echo "after $1: $f rx $(cat /sys/class/net/$f/statistics/rx_packets) (dropped $(cat /sys/class/net/$f/statistics/rx_dropped)) tx $(cat /sys/class/net/$f/statistics/tx_packets) (dropped $(cat /sys/class/net/$f/statistics/tx_dropped))"
	done
	echo "after $1: softnet $(awk '{ printf "%s", "cpu" NR-1 " processed 0x" $1 " dropped 0x" $2 " squeezed 0x" $3 " " }' /proc/net/softnet_stat)"
	echo "after $1: riovd's link $(rctl --json net vtep list blue | grep -E '"rdma_(state|tx_frames|rx_frames|fallback|dropped|established)"' | tr -d ' \n')"
}
echo "ib_send_bw uses GID index $GID ($(cat /sys/class/infiniband/rxe0/ports/1/gids/$GID))"
# ib_send_bw's QPs get the local ACK timeout of riov's link (RL_ACK_TIMEOUT in
# dataplane/rdma_link.c: 4.096 us * 2^16 = 268 ms) instead of perftest's 14 (67 ms): under TCG a
# RoCE round trip through both riovds often takes longer, and at 67 ms rxe's requester resent
# windows that had arrived (the receiver's duplicate_request in the thousands, the sender's
# completer_retry_err, nothing dropped anywhere): a few messages a second, none at all in some
# runs when the host's cores were busy elsewhere. Both transports now wait as long for an ACK.
IBTO=16
port=7000
OUT=""
for len in 60 1514; do
	fr=$((len + 4))
	if [ "$ROLE" = b ]; then
		timeout $((SECS + 60)) $IBBW -d rxe0 -x "$GID" -F -u $IBTO -s "$fr" -D "$SECS" > /tmp/ib.$fr 2>&1 &
		ib=$!
		meet_b $port "ib_send_bw $fr"
		wait $ib || { cat /tmp/ib.$fr; fail "ib_send_bw (server, $fr bytes) failed"; }
	else
		meet_a $port "ib_send_bw $fr"
		sleep 1
		timeout $((SECS + 60)) $IBBW -d rxe0 -x "$GID" -F -u $IBTO -s "$fr" -D "$SECS" "$PEER" > /tmp/ib.$fr 2>&1 || { cat /tmp/ib.$fr; fail "ib_send_bw (client, $fr bytes) failed"; }
	fi
	cat /tmp/ib.$fr
	path_diag "ib_send_bw $fr"
	pair_round "$len" $((port + 2))
	path_diag "riov $fr"
	if [ "$ROLE" = b ]; then
		ibr=$(ib_msgs /tmp/ib.$fr)
		[ -n "$ibr" ] || fail "no message rate in ib_send_bw's output ($fr bytes)"
		# a rate of 0: ib_send_bw ran, but its messages did not get through in $SECS s (rxe0's
		# counters tell: retransmissions, errors)
		[ "$ibr" -gt 0 ] || fail "ib_send_bw ($fr bytes) got no message through in $SECS s; rxe0:$(rxe_counters)"
		line=$(awk -v n="$b_vrx" -v s="$SECS" -v ib="$ibr" -v fr="$fr" 'BEGIN {
			r = n / s
			printf "%d B: riov %.0f frames/s (%.1f Mbit/s), ib_send_bw %d msgs/s (%.1f Mbit/s): %.2fx",
			       fr, r, r * fr * 8 / 1e6, ib, ib * fr * 8 / 1e6, r / ib }')
		# the chain of counts (pair_round) is reported, not judged: a benchmark (frames the link
		# lost with a connection that went down show here)
		case "$RESULT" in *DIFFER*) line="$line (counts differ: ${RESULT#; })" ;; esac
		RESULT=""
		echo "$line"
		OUT="$OUT; $line"
	fi
	port=$((port + 4))
done
# riovd stops with rxe0 still on its TAP (rdma-testpmd deletes it first): riovd closes librdmacm's
# context of rxe0 before its uplink goes (riov_rdma_devices_release), so the TAP's close does not
# wait for it, and rxe0 goes with up0
riovd_stop || fail "riovd did not stop cleanly with rxe0 on its uplink TAP"
grep -E "librdmacm's context|RDMA on .* stopped" "$RIOVD_LOG.cur" | sed 's/^/riovd: /'
secs_until 30 eval '[ ! -e /sys/class/infiniband/rxe0 ] && [ ! -e /sys/class/net/up0 ]' ||
	fail "rxe0 or up0 still there 30 s after riovd stopped ($(ls /sys/class/infiniband 2>/dev/null | tr '\n' ' '))"
echo "riovd stopped with rxe0 on up0; both gone $T s later"
if [ "$ROLE" = b ]; then
	echo "RDMA transport vs ib_send_bw on rxe0 (Soft-RoCE on riovd's uplink TAP, TCG, ${SECS} s each)$OUT"
else
	echo "A sent (B measures)${RESULT}"
fi
