# /lab/lib/pair.sh — sourced by the two-VM tests (tests/lab/run.sh --pair, /lab/pair/*; busybox sh)
# after /lab/lib/riovd.sh. VM A (ROLE=a, 10.0.0.1) and VM B (ROLE=b, 10.0.0.2) each run riovd with
# its uplink up0 on the wire NIC (net_af_packet, the kernel kept off the NIC: no address, no IPv6,
# no ARP answers, rp_filter; the node's address is on riovd's TAP up0), network blue (VNI 100)
# whose static VTEP is the other VM, and a vhost port vm1 with a dpdk-testpmd guest (virtio-user,
# --no-huge: memfd memory riovd can map; 1024-entry rings).
#
# The VMs share nothing but the wire, so they coordinate over it, through both riovds' TAPs: B
# listens on a TCP port, A connects (meet_b PORT / meet_a PORT), and A sends B its counts.
#
#   pair_wire                  find the wire NIC ($IF) and keep the kernel off it
#   pair_start MTU [KEYS [HOOK]]  riovd (KEYS: more lines of its riovd group), uplink up0, blue with
#                              MTU, the VTEP, vm1; HOOK runs after the uplink is made; then both
#                              VMs' riovds answer pings through their TAPs and the VTEP resolves
#   pair_finish B_LINE A_LINE  riovd stopped, the verdict and the result line
#   pair_round LEN PORT        one round: A's guest sends LEN-byte frames (without the CRC) to B's
#                              guest (txonly -> rxonly, $SECS s; pair_a_guest, when defined,
#                              starts A's guest instead); B checks the chain of counts
#                              (PORT: B's meeting port, PORT+1 A's counts): A's guest sent = riovd
#                              A took = A's VTEP tx + what it dropped there (counted: the VTEP's
#                              queue was full), A's VTEP tx = B's VTEP rx = riovd B gave + dropped
#                              because B's guest's ring was full (the guest is slower than riovd
#                              under TCG; SEGS frames each when riovd B segments them: TSO),
#                              and B's guest received what riovd B gave; appends to RESULT, sets
#                              BAD when the counts differ. pair_extra_a (A: prints more A_X=n
#                              lines) and pair_extra_b (B: checks them, returns 1 when they are
#                              wrong, prints why) are called when the test defines them.
# The RDMA pair tests' part (riovd with rdma_device = "rxe0", Soft-RoCE on its uplink TAP):
#   RDMA_KEYS, add_rxe         riovd's settings and pair_start's hook
#   vt NET FIELD, vtn          a field of NET's VTEP in `net vtep list` (vtn: a number, 0 if not)
#   rdma_is STATE, rdma_not_up blue's link state
#   secs_until SECS CMD...     run CMD every 0.2 s until it succeeds; T is how long it took
case "${ROLE:-}" in
a) ME=10.0.0.1 PEER=10.0.0.2 GMAC=02:00:00:00:0a:01 ;;
b) ME=10.0.0.2 PEER=10.0.0.1 GMAC=02:00:00:00:0b:01 ;;
*) echo "ROLE must be a or b (riov.lab.role)"; exit 1 ;;
esac
PEER_GMAC=02:00:00:00:0b:01
SECS=${PAIR_TX_SECS:-5}
WAIT=120        # seconds to wait for the other VM at each meeting point
GLOG=/tmp/testpmd.log
STDBUF=""; command -v stdbuf > /dev/null && STDBUF="stdbuf -oL"
GPID=""
VT=blue@$PEER
RESULT="" BAD=""

guest_cleanup() {
	if [ -n "$GPID" ]; then
		kill -TERM "$GPID" 2>/dev/null
		wait "$GPID" 2>/dev/null
		GPID=""
		tail -n 20 "$GLOG" | sed 's/^/testpmd: /'
	fi
	exec 7>&- 2>/dev/null
}
riovd_traps
trap 'guest_cleanup; riovd_cleanup' EXIT

# guest_start MODE ARGS... — testpmd (interactive) on vm1's socket; returns when it forwards. Its
# stdin is a FIFO held open here (fd 7): GUEST_PRE's commands (';'-separated) and "start", later
# "stop" (its statistics; the ports stay up, so riovd takes what is left in the ring) and "quit"
# (guest_quit). GUEST_EAL: more EAL arguments (a second port).
guest_start() {
	local mode=$1 n=0 c
	shift
	rm -f /tmp/g.in; mkfifo /tmp/g.in
	$STDBUF dpdk-testpmd --no-huge -m 256 --no-pci --lcores 0@0,1@0 --file-prefix "g$ROLE" \
		--vdev "net_virtio_user0,path=/run/riov/vm1.sock,queues=1,queue_size=1024,mac=$GMAC" ${GUEST_EAL:-} -- -i \
		--forward-mode="$mode" --nb-cores=1 --rxq=1 --txq=1 --rxd=1024 --txd=1024 --total-num-mbufs=8192 "$@" \
		< /tmp/g.in > "$GLOG" 2>&1 &
	GPID=$!
	exec 7> /tmp/g.in
	echo "${GUEST_PRE:-}" | tr ';' '\n' | while read -r c; do [ -z "$c" ] || echo "$c"; done >&7
	echo start >&7
	while ! grep -q 'packet forwarding - ports=' "$GLOG"; do
		kill -0 "$GPID" 2>/dev/null || { cat "$GLOG"; GPID=""; fail "testpmd ($mode) exited before it forwarded"; }
		n=$((n + 1)); [ $n -lt 600 ] || { cat "$GLOG"; fail "testpmd ($mode) not forwarding after 60 s"; }
		sleep 0.1
	done
}
# guest_stop — "stop": testpmd prints its forward statistics; G_RX/G_TX/G_TXD are port 0's
guest_stop() {
	local n=0
	echo stop >&7
	while ! grep -q 'Accumulated forward statistics' "$GLOG"; do
		n=$((n + 1)); [ $n -lt 300 ] || { tail -n 30 "$GLOG"; fail "testpmd printed no statistics after stop"; }
		sleep 0.1
	done
	sleep 0.2
	G_RX=$(awk '/Forward statistics for port 0/ {f=1} f && /RX-packets:/ {print $2; exit}' "$GLOG")
	G_TX=$(awk '/Forward statistics for port 0/ {f=1} f && /TX-packets:/ {print $2; exit}' "$GLOG")
	G_TXD=$(awk '/Forward statistics for port 0/ {f=1} f && /TX-dropped:/ {print $4; exit}' "$GLOG")
	sed -n '/Forward statistics for port 0/,/^ *-*$/p' "$GLOG" | head -n 4
	[ -n "$G_RX" ] && [ -n "$G_TX" ] || { tail -n 30 "$GLOG"; fail "testpmd printed no statistics"; }
}
# guest_quit — testpmd closes its port and exits
guest_quit() {
	echo quit >&7
	exec 7>&-
	wait "$GPID"; GPID=""
}
# quiet PORT FIELD — wait until riovd's counter stops moving; Q is its value (snapshot in $RSTAT)
quiet() {
	local last=x n=0
	while :; do
		rstat_snap || fail "riovctl port stats failed"
		Q=$(rstat "$1" "$2")
		[ "$Q" = "$last" ] && return 0
		last=$Q; n=$((n + 1))
		[ $n -lt 60 ] || fail "$1's $2 still moving after 60 s"
		sleep 1
	done
}
# num PORT FIELD — rstat, 0 when it is not a number
num() {
	local v
	v=$(rstat "$1" "$2")
	case "$v" in ''|*[!0-9]*) echo 0 ;; *) echo "$v" ;; esac
}
# until_ok SECS WHAT CMD... — run CMD every second until it succeeds
uptime_s() { cut -d. -f1 /proc/uptime; }
until_ok() {
	local t=$1 what=$2 t0
	shift 2
	t0=$(uptime_s)
	while ! "$@" > /dev/null 2>&1; do
		[ $(($(uptime_s) - t0)) -lt "$t" ] || fail "$what: not after $t s"
		sleep 1
	done
	echo "$what after $(($(uptime_s) - t0)) s"
}
# meet_b PORT WHAT — B waits for A to connect to TCP PORT; meet_a PORT WHAT — A connects to it
meet_b() { timeout $WAIT nc -l -p "$1" < /dev/null > /dev/null || fail "A did not come to TCP $1 ($2)"; }
meet_a() { until_ok $WAIT "B at TCP $1 ($2)" nc -w 2 "$PEER" "$1"; }

pair_wire() {
	# the wire NIC (run.sh --pair: 52:54:00:12:36:0a in A, :0b in B): the kernel keeps off it
	IF=""
	for n in /sys/class/net/*; do
		case "$(cat "$n/address")" in 52:54:00:12:36:*) IF=$(basename "$n") ;; esac
	done
	[ -n "$IF" ] || fail "no wire NIC (MAC 52:54:00:12:36:0x): not run by run.sh --pair?"
	for k in all default "$IF"; do echo 1 > "/proc/sys/net/ipv6/conf/$k/disable_ipv6"; done
	echo 8 > "/proc/sys/net/ipv4/conf/$IF/arp_ignore"
	echo 1 > "/proc/sys/net/ipv4/conf/$IF/rp_filter"
	$IP link set "$IF" up || fail "cannot bring $IF up"
}

# pair_riovd KEYS [HOOK] — riovd started on the state in $RIOVD_STATE (HOOK runs once it is ready)
pair_riovd() {
	riovd_conf /tmp/riovd-pair.conf '' '' '--no-pci' "$1"
	riovd_start /tmp/riovd-pair.conf || exit 1
	[ -z "${2:-}" ] || $2
}

pair_start() {
	local mtu=$1 keys=${2:-} hook=${3:-}
	mkdir -p /var/run        # DPDK's runtime directory (testpmd's; riovd sets its own)
	rm -rf "$RIOVD_STATE"
	pair_riovd "$keys"
	# framecnt: room in the af_packet rings for the frames that arrive while testpmd, busy-polling
	# on the VM's one CPU, has it (the default 512 overflowed under TCG)
	rctl port add uplink up0 --devargs "net_af_packet0,iface=$IF,framecnt=8192" --address "$ME/24" || fail "uplink up0 on $IF refused"
	[ -z "$hook" ] || $hook
	rctl net add blue --vni 100 --mtu "$mtu" || fail "net add blue refused"
	rctl net vtep add blue "$PEER" || fail "vtep add refused"
	rctl port add vhost vm1 --net blue --socket vm1.sock || fail "vhost port vm1 refused"
	[ -S /run/riov/vm1.sock ] || fail "no /run/riov/vm1.sock"
	# meeting point 1: both riovds up, the underlay works both ways through both TAPs
	until_ok $WAIT "ping $PEER (the other VM's riovd TAP)" ping -c 1 -W 1 "$PEER"
	until_ok 30 "VTEP $PEER of blue resolved" sh -c "$RIOVCTL --connect unix:$RIOVD_SOCK --json net vtep list blue | grep -q '\"resolved\": true'"
}

pair_round() {
	local len=$1 port=$2 fr=$(($1 + 4))
	rstat_snap || fail "riovctl port stats failed"
	vrx0=$(rstat "$VT" rx_packets); vtx0=$(rstat "$VT" tx_packets); vdr0=$(num "$VT" tx_dropped)
	in0=$(rstat vm1 rx_packets); out0=$(rstat vm1 tx_packets); dr0=$(num vm1 tx_dropped)
	nic_tx0=$(cat /sys/class/net/$IF/statistics/tx_packets); nic_rx0=$(cat /sys/class/net/$IF/statistics/rx_packets)
	! command -v pair_extra_start > /dev/null || pair_extra_start
	if [ "$ROLE" = b ]; then
		guest_start rxonly
		# A connects when B's guest is up, then sends
		meet_b "$port" "$fr B"
		echo "A connected: B's guest is receiving $fr-byte frames"
		# A's counts, once A's guest has stopped and A's riovd has sent everything
		timeout $WAIT nc -l -p $((port + 1)) < /dev/null > /tmp/a.counts || fail "no counts from A on TCP $((port + 1)) ($fr B)"
		cat /tmp/a.counts
		A_SENT="" A_VTEP_TX="" A_VTEP_DROP="" A_VM1_RX="" A_TXD="" A_NIC_TX=""
		eval "$(grep -E '^A_[A-Z0-9_]+=[0-9]+$' /tmp/a.counts)"
		[ -n "$A_SENT" ] && [ -n "$A_VTEP_TX" ] && [ -n "$A_VTEP_DROP" ] && [ -n "$A_VM1_RX" ] || fail "A's counts unreadable: $(cat /tmp/a.counts)"
		quiet vm1 tx_packets
		guest_stop
		guest_quit
		rctl port stats
		rstat_snap || fail "riovctl port stats failed"
		b_vrx=$(($(rstat "$VT" rx_packets) - vrx0)); b_out=$(($(rstat vm1 tx_packets) - out0))
		b_dr=$(($(num vm1 tx_dropped) - dr0))
		b_nic=$(($(cat /sys/class/net/$IF/statistics/rx_packets) - nic_rx0))
		chain="$fr B: A's guest sent $A_SENT, riovd A took $A_VM1_RX, A's blue@$ME tx $A_VTEP_TX (and dropped $A_VTEP_DROP: full); B's $VT rx $b_vrx, riovd B gave vm1 $b_out (and dropped $b_dr: its ring was full), B's guest received $G_RX"
		echo "$chain"
		echo "(the wire's NICs, all frames: A's $IF sent ${A_NIC_TX:-?}, B's received $b_nic)"
		extra=""
		if command -v pair_extra_b > /dev/null && ! extra=$(pair_extra_b); then
			echo "$extra"
			RESULT="$RESULT; $fr B: $extra"
			BAD=1
		elif [ "$A_SENT" -gt 0 ] && [ "$A_SENT" = "$A_VM1_RX" ] && [ "$A_VM1_RX" = $((A_VTEP_TX + A_VTEP_DROP)) ] &&
			[ "$A_VTEP_TX" = "$b_vrx" ] && [ $((b_vrx * ${SEGS:-1})) = $((b_out + b_dr)) ] && [ "$b_out" = "$G_RX" ]; then
			drop=""
			[ "$A_VTEP_DROP" = 0 ] || drop=" ($A_VTEP_DROP dropped by riovd A: its VTEP port's queue was full)"
			[ "$b_dr" = 0 ] || drop="$drop ($b_dr dropped by riovd B: its guest's ring was full)"
			RESULT="$RESULT; $fr B: $A_SENT sent, $G_RX received$drop${extra:+ ($extra)}"
		else
			RESULT="$RESULT; $fr B: DIFFER ($chain; NICs A tx ${A_NIC_TX:-?} B rx $b_nic)"
			BAD=1
		fi
	else
		meet_a "$port" "B's guest up"
		if command -v pair_a_guest > /dev/null; then pair_a_guest; else guest_start txonly --txpkts=$len --eth-peer=0,$PEER_GMAC; fi
		sleep "$SECS"
		guest_stop
		quiet "$VT" tx_packets     # riovd A takes what the guest left in its ring
		guest_quit
		rctl port stats
		a_in=$(($(rstat vm1 rx_packets) - in0)); a_enc=$((Q - vtx0)); a_dr=$(($(num "$VT" tx_dropped) - vdr0))
		a_nic=$(($(cat /sys/class/net/$IF/statistics/tx_packets) - nic_tx0))
		printf 'A_SENT=%s\nA_TXD=%s\nA_VM1_RX=%s\nA_VTEP_TX=%s\nA_VTEP_DROP=%s\nA_NIC_TX=%s\n' "$G_TX" "$G_TXD" "$a_in" "$a_enc" "$a_dr" "$a_nic" > /tmp/a.counts
		! command -v pair_extra_a > /dev/null || pair_extra_a >> /tmp/a.counts
		until_ok 60 "counts sent to B (TCP $((port + 1)))" sh -c "nc -w 2 $PEER $((port + 1)) < /tmp/a.counts"
		[ "$G_TX" -gt 0 ] && [ "$G_TX" = "$a_in" ] && [ "$a_in" = $((a_enc + a_dr)) ] || BAD=1
		RESULT="$RESULT; $fr B: guest sent $G_TX (ring full $G_TXD), riovd A took $a_in, $VT tx $a_enc, dropped $a_dr"
	fi
}

# pair_finish B_LINE A_LINE — riovd stopped; the test fails when a round's counts differed, else
# its result line is B_LINE (B: the pair's verdict) or A_LINE, each followed by the rounds'
pair_finish() {
	riovd_stop || fail "riovd did not stop cleanly"
	[ -z "$BAD" ] || fail "counts differ${RESULT}"
	if [ "$ROLE" = b ]; then echo "$1${RESULT}"; else echo "$2${RESULT}"; fi
}

# --- RDMA (the pair tests with rdma_device) ----------------------------------------------------
# 256 send buffers of 68 KiB: the link's queue while Soft-RoCE over the TAP (under TCG) is slower
# than the guest's burst
RDMA_KEYS='  rdma_device = "rxe0"; rdma_send_bufs = 256;'
RDMA=$(command -v rdma)
add_rxe() {
	$RDMA link add rxe0 type rxe netdev up0 || fail "rdma link add rxe0 on up0 failed"
}
VTJ=/tmp/vt.json
# vt NET FIELD — one field of NET's VTEP (its only one) from `net vtep list`
vt() {
	rctl --json net vtep list "$1" > "$VTJ" || fail "riovctl net vtep list $1 failed"
	jval "$2" "$VTJ"
}
vtn() { local v; v=$(vt "$1" "$2"); case "$v" in ''|*[!0-9]*) echo 0 ;; *) echo "$v" ;; esac; }
rdma_is() { [ "$(vt blue rdma_state)" = "$1" ]; }
# rxe_delete — `rdma link delete rxe0`, and wait until it finished (T: seconds). The kernel
# finishes removing an rxe device only once every user has closed it, and librdmacm closes its own
# context of a device that left only while another RDMA device is listed (riov_rdma_devices_sync(),
# docs/rdma.md): a second Soft-RoCE device, on a TAP of its own, first. (riovd may also stop with
# rxe0 still on up0: it closes librdmacm's contexts first, and rxe0 goes with the TAP; before it
# did, its stop hung in the TAP's close. rdma-bench stops it that way.)
rxe_delete() {
	local del
	$IP tuntap add dev rtap1 mode tap && $IP link set rtap1 up && $RDMA link add rxe1 type rxe netdev rtap1 ||
		fail "cannot make rxe1 on a TAP of its own"
	$RDMA link delete rxe0 &
	del=$!
	secs_until 60 eval "! kill -0 $del 2>/dev/null" || {
		! command -v rdma_diag > /dev/null || rdma_diag
		fail "rdma link delete rxe0 still waiting after 60 s (riovd did not let the device go)"
	}
	wait "$del" || fail "rdma link delete rxe0 failed"
}
rdma_not_up() { [ "$(vt blue rdma_state)" != up ]; }
# secs_until SECS CMD... — T is the time it took (s, 1 decimal); fails after SECS
secs_until() {
	local t=$1 a b
	shift
	a=$(cut -d' ' -f1 /proc/uptime)
	while ! "$@" > /dev/null 2>&1; do
		b=$(cut -d' ' -f1 /proc/uptime)
		[ "$(awk -v a="$a" -v b="$b" -v t="$t" 'BEGIN { print (b - a < t) }')" = 1 ] || return 1
		sleep 0.2
	done
	T=$(awk -v a="$a" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }')
}
