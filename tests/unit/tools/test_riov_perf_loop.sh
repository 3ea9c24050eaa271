#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# riov-perf itself, briefly, against DPDK's loopback vdevs (no hugepages, one lcore pinned to one CPU):
#   - bad options exit 2 before or after EAL (--dst-mac with as many MACs as neither 1 nor the
#     streams: before EAL with --pairs, after it without) with one line of message, --help and
#     --version (also alone, without EAL) exit 0;
#   - net_ring0 (its TX comes back on its RX): sent == received, nothing lost, twice or stale, at 64 B
#     and IMIX with 16 flows; two ring ports as two streams, each with its own --dst-mac; an NDR
#     search that passes at its max;
#   - what limits a trial short of its rate: at 500 Mpps with bursts of 32 (riov-perf's receive side
#     takes up to 64 a round off the ring, more than is put on) the port takes every frame and the
#     trial is labelled "generator"; with bursts of 256 the ring fills faster than riov-perf's own
#     receive side empties it, the port refuses frames and the trial is "backpressure" (a fixed
#     trial, and a search whose first trial fails there instead of passing as the generator's rate);
#   - net_pcap (TX written to a pcap file): every frame of stream s carries --dst-mac's entry s;
#   - --drop-every 1000 (the receiver discards every 1000th frame, a lossy switch's double): exactly
#     sent/1000 lost;
#   - net_null0 (RX hands out frames that are not riov-perf's): all foreign, no crash;
#   - the pacing error at 1 Mpps against net_null and net_ring, printed as a measurement, not judged.
# usage: test_riov_perf_loop.sh RIOV_PERF VERSION
set -u
perf=$1
version=${2:-}
fails=0
n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# one CPU of this process's affinity (the first)
cpu=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')

eal() { # eal NAME VDEV... : EAL options for one run
	local name=$1
	shift
	printf '%s\n' --no-huge -m 128 --no-pci --no-shconf --log-level=3 --lcores "0@$cpu" \
		"--file-prefix=rpl$$_$name"
	for v in "$@"; do
		printf '%s\n' --vdev "$v"
	done
}

ok() {
	n=$((n + 1))
	echo "ok $n $1"
}

fail() {
	n=$((n + 1))
	fails=$((fails + 1))
	echo "not ok $n $1"
}

# expect_rc RC NAME ARGS...: riov-perf ARGS exits with RC
expect_rc() {
	local want=$1 name=$2
	shift 2
	"$perf" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$name (exit $rc)"
	else
		fail "$name: exit $rc, wanted $want"
		tail -5 "$tmp/err"
	fi
}

# expect_in FILE TEXT NAME: the last expect_rc's stdout or stderr (out, err) holds TEXT
expect_in() {
	if grep -qF -- "$2" "$tmp/$1"; then
		ok "$3"
	else
		fail "$3: no '$2' in its std$1"
		head -5 "$tmp/$1"
	fi
}

# run NAME CHECK-PY VDEVS -- OPTIONS: riov-perf --json; CHECK-PY (python, r = the JSON object) must hold
run() {
	local name=$1 check=$2
	shift 2
	local vdevs=()
	while [ "$1" != "--" ]; do
		vdevs+=("$1")
		shift
	done
	shift
	mapfile -t ealargs < <(eal "$name" "${vdevs[@]}")
	if ! "$perf" "${ealargs[@]}" -- --json --quiet "$@" >"$tmp/$name.json" 2>"$tmp/$name.err"; then
		fail "$name: riov-perf failed"
		tail -5 "$tmp/$name.err"
		return
	fi
	if python3 - "$tmp/$name.json" "$check" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2], {"r": r, "all": all, "abs": abs})
if not ok:
    print(json.dumps(r, indent=1)[:3000], file=sys.stderr)
sys.exit(0 if ok else 1)
PY
	then
		ok "$name"
	else
		fail "$name: $check"
	fi
}

# usage errors: before EAL (no EAL options needed), and a port that does not exist (after EAL)
expect_rc 0 help -- --help
expect_in out "Usage: riov-perf [EAL options] -- [OPTIONS]" help-usage-line
expect_rc 0 help-alone --help
expect_in out "  --dst-mac MAC[,MAC...]" help-alone-is-ours
expect_in out "  (bp) backpressure " help-explains-backpressure
expect_in out "  (gen) generator " help-explains-generator
expect_rc 0 version --version
expect_in out "riov-perf $version" version-line
[ "$(wc -l <"$tmp/out")" = 1 ] && ok version-one-line || fail "version-one-line: $(cat "$tmp/out")"
expect_rc 0 version-after-dashes -- --version
expect_in out "riov-perf $version" version-after-dashes-line
expect_rc 2 bad-size -- --sizes 63
expect_in err "riov-perf: bad --sizes (64..1518 or imix) '63' (try --help)" bad-size-message
[ "$(wc -l <"$tmp/err")" = 1 ] && ok bad-size-message-alone || fail "bad-size-message-alone: $(cat "$tmp/err")"
expect_rc 2 bad-size-word -- --sizes 64,big
expect_rc 2 bad-rate -- --rate 1x
expect_rc 2 bad-rate-pct -- --rate 120%
expect_rc 2 bad-mode -- --mode fast
expect_rc 2 bad-flows -- --flows 0
expect_rc 2 bad-pairs -- --pairs 0:
expect_rc 2 bad-mac -- --dst-mac 02:00:00:00:00
expect_rc 2 bad-mac-list -- --dst-mac 02:00:00:00:00:01,
expect_rc 2 bad-mac-list-entry -- --dst-mac 02:00:00:00:00:01,02:00:00:00:00:02:03
expect_rc 2 macs-over-streams -- --pairs 0:0,1:1 --dst-mac 02:00:00:00:00:01,02:00:00:00:00:02,02:00:00:00:00:03
expect_in err "riov-perf: --dst-mac: 3 MACs for 2 streams" macs-over-streams-message
expect_rc 2 macs-under-streams -- --pairs 0,1,2 --dst-mac 02:00:00:00:00:01,02:00:00:00:00:02
expect_in err "riov-perf: --dst-mac: 2 MACs for 3 streams" macs-under-streams-message
expect_rc 2 macs-65 -- --dst-mac "$(python3 -c 'print(",".join("02:00:00:00:00:%02x" % i for i in range(65)))')"
expect_rc 2 unknown-option -- --frobnicate
expect_rc 2 missing-argument -- --duration
expect_rc 2 stray-argument -- 64
mapfile -t e < <(eal nopport net_ring0)
expect_rc 2 no-such-port "${e[@]}" -- --pairs 0:3 --duration 0.1
# without --pairs the streams are known after EAL: every port to itself, here one
mapfile -t e < <(eal macsports net_ring0)
expect_rc 2 macs-over-ports "${e[@]}" -- --dst-mac 02:00:00:00:00:01,02:00:00:00:00:02 --duration 0.1
expect_in err "riov-perf: --dst-mac: 2 MACs for 1 stream " macs-over-ports-message
mapfile -t e < <(eal toomany net_ring0)
expect_rc 2 too-many-frames "${e[@]}" -- --rate 1000 --duration 3600

# exact counts over the loopback: every frame back once, in order
# (--drain 20: a trial waits for its frames until all are back, so a long drain costs nothing when
# they come, and a test process that a loaded machine leaves off its CPU for a while still gets
# them; with 0.5 s the asan suite once counted frames still in the ring as lost. The lossy runs
# wait their whole drain: 1 s.)
exact='(all(s["sent"] == s["received"] and s["lost"] == 0 and s["duplicates"] == 0 and s["reordered"] == 0
           and s["sent"] > 0 and s["latency_us"]["count"] == s["received"]
           for x in r["results"] for s in x["trial"]["streams"])
       and all(x["trial"]["foreign"] == 0 and x["trial"]["stale"] == 0 and x["trial"]["limit"] == "none"
               and x["trial"]["tx_refused_frames"] == 0 for x in r["results"]))'
run ring-64-imix "$exact and [x['trial']['sent'] for x in r['results']] == [60000, 60000]" \
	net_ring0 -- --rate 0.2 --duration 0.3 --sizes 64,imix --flows 16 --drain 20
run ring-1518 "$exact and r['results'][0]['trial']['sent'] == 30000" \
	net_ring0 -- --rate 0.1 --duration 0.3 --sizes 1518 --flows 1000 --dst-mac 02:00:00:00:00:01 --drain 20
run ring-two-streams "$exact and (len(r['results'][0]['trial']['streams']) == 2 and r['results'][0]['trial']['sent'] == 60000
          and [s['dst_mac'] for s in r['results'][0]['trial']['streams']] == ['ff:ff:ff:ff:ff:ff'] * 2)" \
	net_ring0 net_ring1 -- --rate 0.1 --duration 0.3 --pairs 0:0,1:1 --drain 20
# one destination MAC per stream (--pairs order): each stream's shows in the JSON, the counts exact
run ring-two-macs "$exact and (lambda ss: [s['dst_mac'] for s in ss] == ['02:00:00:00:00:0a', '02:00:00:00:00:0b']
          and [(s['tx_port'], s['sent']) for s in ss] == [(1, 20000), (0, 20000)])(r['results'][0]['trial']['streams'])" \
	net_ring0 net_ring1 -- --rate 0.1 --duration 0.2 --pairs 1:1,0:0 --dst-mac 02:00:00:00:00:0a,02:00:00:00:00:0B --drain 20
# ... and on the wire: two streams out of one net_pcap port into a pcap file (received nowhere: all
# lost), every frame's destination MAC the one of the stream in its payload header (offset 45)
mapfile -t e < <(eal pcap-macs "net_pcap0,tx_pcap=$tmp/macs.pcap" net_null0,no-rx=1)
if "$perf" "${e[@]}" -- --json --quiet --pairs 0:1,0:1 --dst-mac 02:00:00:00:00:0a,02:00:00:00:00:0b \
	--flows 4 --rate 0.01 --duration 0.1 --drain 0 --warmup 0 >"$tmp/pcap-macs.json" 2>"$tmp/pcap-macs.err"; then
	if python3 - "$tmp/macs.pcap" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
want = {0: bytes.fromhex("02000000000a"), 1: bytes.fromhex("02000000000b")}
off, seen = 24, {0: 0, 1: 0}
while off < len(data):
    incl = struct.unpack_from("<I", data, off + 8)[0]
    f = data[off + 16:off + 16 + incl]
    off += 16 + incl
    stream = f[45]
    if f[:6] != want.get(stream):
        print("stream %d frame to %s" % (stream, f[:6].hex(":")), file=sys.stderr)
        sys.exit(1)
    seen[stream] += 1
print("# pcap: %s frames per stream" % seen)
sys.exit(0 if seen == {0: 1000, 1: 1000} else 1)
PY
	then
		ok pcap-macs
	else
		fail "pcap-macs: frames without their stream's destination MAC"
	fi
else
	fail "pcap-macs: riov-perf failed"
	tail -5 "$tmp/pcap-macs.err"
fi
# a lossy double: exactly every 1000th frame lost, nothing else
run ring-drop-every-1000 "(lambda t: t['sent'] == 100000 and t['lost'] == 100 and t['test_dropped'] == 100
          and t['received'] == 99900 and t['duplicates'] == 0 and t['foreign'] == 0)(r['results'][0]['trial'])" \
	net_ring0 -- --rate 0.2 --duration 0.5 --drop-every 1000 --drain 1
# NDR search whose first trial at its max passes; then latency at 50 % of it, also exact
run ring-ndr "(lambda x: x['search']['ndr']['found'] and x['search']['ndr']['mpps'] == 0.2
          and x['search']['pdr']['mpps'] == 0.2 and len(x['search']['trials']) == 1
          and x['latency_trial']['sent'] == x['latency_trial']['received'] == 20000
          and x['latency_trial']['offered_mpps'] == 0.1)(r['results'][0])" \
	net_ring0 -- --mode ndr --rate 0.2 --duration 0.2 --drain 20
# NDR search from a rate one core cannot send (500 Mpps): the first trial is generator limited and
# loss-free, so NDR and PDR are what was achieved, flagged, after one trial; --latency-load 0: no
# latency trial
run ring-ndr-generator-limited "(lambda x: x['search']['ndr']['found'] and x['search']['ndr']['generator_limited']
          and x['search']['pdr']['generator_limited'] and len(x['search']['trials']) == 1
          and x['search']['ndr']['limit'] == x['search']['pdr']['limit'] == 'generator'
          and x['search']['trials'][0]['limit'] == 'generator'
          and x['search']['trials'][0]['tx_refused_frames'] == 0
          and 0 < x['search']['ndr']['mpps'] == x['search']['trials'][0]['achieved_mpps'] < 500 * 0.99
          and 'latency_trial' not in x)(r['results'][0])" \
	net_ring0 -- --mode ndr --rate 500 --duration 0.02 --drain 1 --latency-load 0 --warmup 0
# the same rate with bursts of 256: riov-perf's receive side takes at most 64 frames a round off the
# ring while its sender puts up to 256 on, so the ring fills and the port refuses frames (retried,
# none lost): backpressure, in a fixed trial and as the search's first trial, which fails at the
# offered rate (what the ring did not take counts as lost) instead of passing as the generator's
run ring-generator "(lambda t: t['limit'] == 'generator' and t['tx_refused_frames'] == t['tx_refused'] == 0
          and 0 < t['achieved_mpps'] < 500 * 0.99 and t['lost'] == 0)(r['results'][0]['trial'])" \
	net_ring0 -- --rate 500 --duration 0.02 --drain 1 --warmup 0
run ring-backpressure "(lambda t: t['limit'] == 'backpressure' and t['tx_refused_frames'] > t['sent'] / 100
          and t['tx_refused'] >= t['tx_refused_frames'] and 0 < t['achieved_mpps'] < 500 * 0.99
          and t['lost'] == 0 and t['sent'] == t['received'])(r['results'][0]['trial'])" \
	net_ring0 -- --rate 500 --duration 0.02 --drain 20 --warmup 0 --burst 256
run ring-ndr-backpressure "(lambda s: not s['ndr']['found'] and not s['pdr']['found']
          and len(s['trials']) == 1
          and s['trials'][0]['limit'] == 'backpressure' and s['trials'][0]['loss_pct'] == 0
          and s['ndr']['limit'] == s['pdr']['limit'] == 'backpressure' and not s['ndr']['generator_limited']
          and s['ndr']['upper_mpps'] == 500)(r['results'][0]['search'])" \
	net_ring0 -- --mode ndr --rate 500 --duration 0.02 --drain 20 --warmup 0 --burst 256 --trials 1
# NDR search with every 1000th frame dropped: no NDR, PDR at the max rate (0.1 % <= 0.5 %)
run ring-ndr-lossy "(lambda s: not s['ndr']['found'] and s['pdr']['found'] and s['pdr']['mpps'] == 0.2
          and s['pdr']['sent'] - s['pdr']['received'] == 20 and len(s['trials']) == 2)(r['results'][0]['search'])" \
	net_ring0 -- --mode ndr --rate 0.2 --duration 0.1 --drop-every 1000 --drain 1 --trials 2
# frames that are not ours: net_null's RX with copy=1 hands out 64 zero bytes, with size=30 a pool
# buffer as it is (often one of ours) cut to 30 bytes: all foreign, all ours lost, no crash
nullfor="(lambda t: t['received'] == 0 and t['lost'] == t['sent'] == 10000 and t['foreign'] > 0)(r['results'][0]['trial'])"
run null-zeros "$nullfor" net_null0,copy=1 -- --rate 0.1 --duration 0.1 --drain 0
run null-truncated "$nullfor" net_null0,size=30 -- --rate 0.1 --duration 0.1 --drain 0
# net_null's RX without copy replays pool buffers whole: frames of ours seen again, never counted
# twice as received (duplicates), never more received than sent
run null-replay "(lambda t: t['received'] <= t['sent'] == 10000)(r['results'][0]['trial'])" \
	net_null0 -- --rate 0.1 --duration 0.1 --drain 0

# pacing at 1 Mpps, a measurement
for v in "net_null0,no-rx=1" net_ring0; do
	name=pace-${v%%,*}
	mapfile -t e < <(eal "$name" "$v")
	if "$perf" "${e[@]}" -- --json --quiet --rate 1 --duration 0.3 --drain 0.05 >"$tmp/$name.json" 2>"$tmp/$name.err"; then
		python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["results"][0]["trial"]
print("# pacing at 1 Mpps against %s: achieved %.4f Mpps, pacing error %+.3f %%, at most %.1f us behind schedule (tx refused %d, lost %d)"
      % (sys.argv[2], t["achieved_mpps"], t["pacing_error_pct"], t["pacing_max_lag_us"], t["tx_refused"], t["lost"]))' "$tmp/$name.json" "$v"
	else
		echo "# pacing against $v: riov-perf failed"
		tail -3 "$tmp/$name.err"
	fi
done

# every run removed its DPDK runtime directory (/var/run/dpdk/<file-prefix> for root: EAL leaves it)
if [ "$(id -u)" = 0 ]; then
	left=$(ls -d /var/run/dpdk/rpl$$_* 2>/dev/null | wc -l)
	if [ "$left" = 0 ]; then ok "runtime-dirs-removed"; else fail "runtime-dirs-removed: $left left in /var/run/dpdk"; fi
fi

echo "# $n checks, $fails failed"
[ "$fails" = 0 ]
