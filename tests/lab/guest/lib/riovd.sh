# /lab/lib/riovd.sh — sourced by the lab tests that run riovd in the VM (busybox sh).
#
# Security model: runs as root in the throw-away lab VM; riovd's control socket is a private path
# under /run in the VM.
#
#   riovd_start CONF   start riovd -c CONF in the background (log: $RIOVD_LOG); returns once its log
#                      says "ready", fails when riovd exits first or is not ready in $RIOVD_WAIT s
#   riovd_stop         SIGTERM and wait for it to exit (its final counters go to the log)
#   rctl ARGS          riovctl on riovd's socket
#   riovd_conf FILE NETS PORTS [EAL_ARGS [RIOVD_KEYS]]   write a small configuration (NETS/PORTS:
#                      libconfig list bodies; RIOVD_KEYS: more lines of the riovd group) with the
#                      lab's settings: no hugepages, 128 MB, one worker that naps when idle (the VM
#                      has one CPU)
RIOVD=/lab/bin/riovd
RIOVCTL=/lab/bin/riovctl
RIOVD_SOCK=/run/riov/riovd.sock
RIOVD_LOG=${RIOVD_LOG:-/tmp/riovd.log}
RIOVD_WAIT=${RIOVD_WAIT:-40}
RIOVD_STATE=${RIOVD_STATE:-/tmp/riovd-state}
RIOVD_PID=""

riovd_have() {
	[ -x "$RIOVD" ] && [ -x "$RIOVCTL" ]
}

rctl() {
	"$RIOVCTL" --connect "unix:$RIOVD_SOCK" --timeout 20 "$@"
}

riovd_conf() {
	cat > "$1" <<CONF
riovd = {
  workers = "auto";
  memory_mb = 128;
  mbufs = 4095;
  idle_sleep_us = 2000;
  state_dir = "$RIOVD_STATE";
  rpc_socket = "$RIOVD_SOCK";
  socket_dir = "/run/riov";
  eal_args = "${4:-}";
${5:-}
};
networks = ( $2 );
ports = ( $3 );
CONF
}

riovd_start() {
	local n=0
	: > "$RIOVD_LOG.cur"
	"$RIOVD" -c "$1" > "$RIOVD_LOG.cur" 2>&1 &
	RIOVD_PID=$!
	while ! grep -q ' ready: ' "$RIOVD_LOG.cur"; do
		if ! kill -0 "$RIOVD_PID" 2>/dev/null; then
			cat "$RIOVD_LOG.cur" >> "$RIOVD_LOG"
			sed 's/^/riovd: /' "$RIOVD_LOG.cur" | tail -n 20
			wait "$RIOVD_PID"
			RIOVD_FAIL="riovd exited (status $?) before it was ready"
			echo "$RIOVD_FAIL"
			RIOVD_PID=""
			return 1
		fi
		n=$((n + 1))
		if [ $n -gt $((RIOVD_WAIT * 10)) ]; then
			sed 's/^/riovd: /' "$RIOVD_LOG.cur" | tail -n 20
			RIOVD_FAIL="riovd not ready after ${RIOVD_WAIT}s"
			echo "$RIOVD_FAIL"
			riovd_stop
			return 1
		fi
		sleep 0.1
	done
	return 0
}

# riovd_term — SIGTERM, and wait up to $RIOVD_STOP_WAIT s; a riovd that does not exit by then has
# its threads' kernel stacks and its log's end printed and is killed (status 137). One that does
# not go 10 s after SIGKILL either (a thread stuck uninterruptibly in the kernel: SIGKILL cannot
# end it, and `wait` would block until the per-test time-out) is left behind: status 137, and
# RIOVD_STUCK says so (fail and the exit trap add it to the result line).
RIOVD_STOP_WAIT=${RIOVD_STOP_WAIT:-30}
RIOVD_STUCK=""
# riovd_gone SECS — whether riovd exited (or is a zombie: `wait` returns at once) within SECS
riovd_gone() {
	local n=0
	while kill -0 "$RIOVD_PID" 2>/dev/null && [ -d "/proc/$RIOVD_PID/task" ]; do
		[ "$(cut -d' ' -f3 "/proc/$RIOVD_PID/stat" 2>/dev/null)" != Z ] || return 0
		n=$((n + 1))
		[ $n -le $(($1 * 10)) ] || return 1
		sleep 0.1
	done
	return 0
}
riovd_term() {
	local t
	kill -TERM "$RIOVD_PID" 2>/dev/null
	if ! riovd_gone "$RIOVD_STOP_WAIT"; then
		echo "riovd did not exit ${RIOVD_STOP_WAIT} s after SIGTERM; its threads:"
		for t in /proc/$RIOVD_PID/task/*; do
			echo "thread $(cat "$t/comm" 2>/dev/null) ($(basename "$t")): $(cat "$t/wchan" 2>/dev/null)"
			sed 's/^/  /' "$t/stack" 2>/dev/null | head -n 12
		done
		tail -n 15 "$RIOVD_LOG.cur" | sed 's/^/riovd: /'
		kill -KILL "$RIOVD_PID" 2>/dev/null
		if ! riovd_gone 10; then
			RIOVD_STUCK="riovd hung in its stop: still there 10 s after SIGKILL (in $(cat "/proc/$RIOVD_PID/wchan" 2>/dev/null), state $(cut -d' ' -f3 "/proc/$RIOVD_PID/stat" 2>/dev/null)), left behind"
			echo "$RIOVD_STUCK"
			return 137
		fi
	fi
	wait "$RIOVD_PID"
}

riovd_stop() {
	[ -n "$RIOVD_PID" ] || return 0
	riovd_term
	local rc=$?
	RIOVD_PID=""
	cat "$RIOVD_LOG.cur" >> "$RIOVD_LOG"
	return $rc
}

# fail MESSAGE — the test fails; MESSAGE is its result line (printed again after riovd's log)
RIOVD_FAIL=""
fail() {
	RIOVD_FAIL="$*${RIOVD_STUCK:+: $RIOVD_STUCK}"
	echo "$*"
	exit 1
}

# The exit trap of a riovd test: riovd never outlives the test that started it (its log's end is
# printed when it had to be stopped here), the wire's peer goes back, and a failure's reason stays
# the test's last line. riovd_traps installs it, and makes the per-test time-out (SIGTERM from
# /init's timeout) end the test through it with status 143 (reported as a time-out).
riovd_cleanup() {
	if [ -n "$RIOVD_PID" ]; then
		riovd_term 2>/dev/null
		RIOVD_PID=""
		sed 's/^/riovd: /' "$RIOVD_LOG.cur" | tail -n 30
		[ -z "$RIOVD_STUCK" ] || RIOVD_FAIL="${RIOVD_FAIL:+$RIOVD_FAIL; then }$RIOVD_STUCK"
	fi
	wire_peer_down
	[ -z "$RIOVD_FAIL" ] || echo "$RIOVD_FAIL"
}
riovd_traps() {
	trap riovd_cleanup EXIT
	trap 'RIOVD_FAIL="killed by the per-test time-out (lab.timeout)"; exit 143' TERM
}

# jval KEY FILE — the first scalar "KEY": value in riovctl --json output (quotes removed)
jval() {
	sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$2" | head -n1
}

# rstat PORT FIELD — one counter of riovd's Port.Stats answer (rx_packets, tx_bytes, ...), from
# the snapshot rstat_snap took (one call for every port: riovctl costs ~0.2 s under TCG)
RSTAT=/tmp/rstat.json
rstat_snap() {
	rctl --json port stats > "$RSTAT"
}
rstat() {
	awk -v p="$1" -v f="$2" '
		/"port": / { gsub(/[",]/, "", $2); cur = $2 }
		cur == p && $1 == "\"" f "\":" { gsub(/,/, "", $2); print $2; exit }' "$RSTAT"
}

# The Linux end of the lab's wire: the virtio-net NIC (MAC 52:54:00:12:34:03) that run.sh wires to
# the e1000e. wire_peer_up ADDR/LEN moves it into network namespace "peer" (IPv6 off there, so it
# sends nothing unasked), gives it ADDR and brings it up; WIRE_PEER is its name. wire_peer_down
# deletes the namespace (the NIC returns to the first namespace). Uses iproute2's ip (busybox's
# has no netns).
IP=/usr/bin/ip
WIRE_PEER=""
wire_peer_up() {
	local n
	[ -x "$IP" ] || { echo "iproute2's ip is not in the initramfs"; return 1; }
	for n in /sys/class/net/*; do
		[ "$(cat "$n/address")" = 52:54:00:12:34:03 ] && WIRE_PEER=$(basename "$n")
	done
	[ -n "$WIRE_PEER" ] || { echo "no NIC with MAC 52:54:00:12:34:03 (run.sh's wire to the e1000e)"; return 1; }
	$IP netns add peer || return 1
	$IP netns exec peer sh -c 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6;
		echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6' || return 1
	$IP link set "$WIRE_PEER" netns peer || return 1
	$IP netns exec peer $IP addr add "$1" dev "$WIRE_PEER" || return 1
	$IP netns exec peer $IP link set "$WIRE_PEER" up || return 1
}
wire_peer_down() {
	[ -z "$WIRE_PEER" ] || $IP netns del peer 2>/dev/null
	WIRE_PEER=""
}
# wire_peer_stat FIELD — a counter of the peer NIC (rx_packets, tx_bytes, ...)
wire_peer_stat() {
	$IP netns exec peer cat "/sys/class/net/$WIRE_PEER/statistics/$1"
}
