#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""EVPN at scale (issue 14): N remote MACs installed in the kernel the way zebra installs them
reach riovd's switch; the time from the netlink message to the switch entry, median and p99.

No FRR runs: zebra's remote MACs are FDB netlink messages (RTM_NEWNEIGH, AF_BRIDGE, NDA_DST,
NTF_EXT_LEARNED on rvx<vni>), and `bridge fdb add MAC dev rvx100 dst 10.0.0.2 self extern_learn`
makes the kernel send riovd the same message (docs/evpn.md: zebra's self-only form).

Set-up: riovd in a network namespace of its own with an uplink up0 (net_af_packet on one end of a
veth, 10.0.0.1/24, the kernel kept off it as in tests/system/test_evpn.py) and network blue in
EVPN mode, VNI 100. Then N MACs 02:aa:xx:xx:xx:xx behind VTEP 10.0.0.2 are written with
`bridge -batch`, --batch lines a call, back to back (zebra installing a full table after its
session comes up); the time each call returned is its batch's write time (the kernel has sent
the netlink events by then: they are sent as each request is done).

Measuring: a thread runs `riovctl --json net list` every --poll-ms (the network's `macs`, a count
of the switch's MAC table; listing 10,000 entries a poll would be slower than the poll) and
records when the count first reached each value. riovd handles the events in the order the kernel
sent them (one event socket, one thread), so the k-th entry to appear is the k-th MAC in write
order that the switch took; which MACs it took is read once at the end (`net mac list`). A MAC's
latency = the first poll that saw its entry - its batch's write time: the resolution is the poll
interval plus one riovctl call (both printed). MACs the switch never took are counted apart.
riovd's riov_evpn_* metrics (its metrics endpoint, in the namespace) are printed at the end, as
the change over the writes (the set-up's own messages come before).

usage: bench_evpn.py [--macs N] [--batch B] [--poll-ms MS]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))
sys.dont_write_bytecode = True
import riovtest  # noqa: E402
from riovtest import Riovctl, Riovd, TestFailure, tmpdir, wait_for  # noqa: E402

NS = "rvbev%d" % (os.getpid() % 100000)
UPLINK_IF, PEER_IF, TAP = "u0", "u0p", "up0"
NODE_IP, VTEP = "10.0.0.1", "10.0.0.2"
VNI, NET = 100, "blue"
METRICS = "127.0.0.1:9464"       # riovd's metrics endpoint, inside the namespace
SETTLE = 30.0                    # seconds to wait, after the last batch, for the count to stop growing


def sh(*args, check_rc=True, inp=None):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=120, input=inp)
    if check_rc and r.returncode != 0:
        raise TestFailure("%s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()[-300:]))
    return r


def netns_add():
    sh("ip", "netns", "add", NS)
    for k in ("all", "default"):
        sh("ip", "netns", "exec", NS, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % k)
    sh("ip", "-n", NS, "link", "set", "lo", "up")
    sh("ip", "-n", NS, "link", "add", UPLINK_IF, "type", "veth", "peer", "name", PEER_IF)
    sh("ip", "netns", "exec", NS, "sysctl", "-qw", "net.ipv4.conf.%s.arp_ignore=8" % UPLINK_IF)
    sh("ip", "netns", "exec", NS, "sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=1" % UPLINK_IF)
    for d in (UPLINK_IF, PEER_IF):
        sh("ip", "-n", NS, "link", "set", d, "up")


def netns_del():
    sh("ip", "netns", "del", NS, check_rc=False)


def mac_of(i):
    return "02:aa:%02x:%02x:%02x:%02x" % ((i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255)


def net_macs(ctl):
    for n in ctl.json("net", "list").get("networks", []):
        if (n.get("spec") or {}).get("name", n.get("name")) == NET:
            return int(n.get("macs", 0))
    raise TestFailure("network %s not in net list" % NET)


def metrics_evpn():
    r = sh("ip", "netns", "exec", NS, "python3", "-c",
           "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://%s/metrics', timeout=10)"
           ".read().decode())" % METRICS, check_rc=False)
    return [l for l in r.stdout.splitlines() if l.startswith("riov_evpn_")]


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def run(args):
    tmp = tmpdir("bench-evpn")
    d = Riovd(tmp, "", netns=NS)
    with open(d.cfg) as f:
        text = f.read()
    with open(d.cfg, "w") as f:
        f.write(text.replace("memory_mb = 256;", 'memory_mb = 256; metrics_listen = "%s";' % METRICS, 1))
    d.start()
    ctl = Riovctl(os.path.join(tmp, "riovd.sock"))
    try:
        ctl.ok("port", "add", "uplink", TAP, "--devargs", "net_af_packet0,iface=%s" % UPLINK_IF,
               "--address", NODE_IP + "/24")
        ctl.ok("net", "add", NET, "--vni", str(VNI), "--mtu", "1450", "--evpn")
        wait_for(lambda: sh("ip", "-n", NS, "link", "show", "rvx%d" % VNI, check_rc=False).returncode == 0,
                 15, "riovd's rvx%d" % VNI)
        base = net_macs(ctl)
        m0 = metrics_evpn()

        # the poller: (time, count) whenever the count grows
        seen, stop, calls = [], threading.Event(), []

        def poll():
            last = base
            while not stop.is_set():
                t0 = time.monotonic()
                c = net_macs(ctl)
                t1 = time.monotonic()
                calls.append(t1 - t0)
                if c > last:
                    seen.append((t1, c - base))
                    last = c
                stop.wait(max(0.0, args.poll_ms / 1000.0 - (t1 - t0)))
        th = threading.Thread(target=poll, daemon=True)
        th.start()

        writes = []   # (write time, first index, last index + 1)
        t_start = time.monotonic()
        for lo in range(0, args.macs, args.batch):
            hi = min(args.macs, lo + args.batch)
            lines = "".join("fdb add %s dev rvx%d dst %s self extern_learn\n" % (mac_of(i), VNI, VTEP)
                            for i in range(lo, hi))
            sh("bridge", "-n", NS, "-batch", "-", inp=lines)
            writes.append((time.monotonic(), lo, hi))
        t_written = time.monotonic()
        # wait until the count reaches N or stops growing for 2 s (SETTLE at most)
        deadline = t_written + SETTLE
        while time.monotonic() < deadline:
            n = seen[-1][1] if seen else 0
            if n >= args.macs:
                break
            time.sleep(0.2)
            if seen and time.monotonic() - seen[-1][0] > 2.0 and time.monotonic() - t_written > 2.0:
                break
        stop.set()
        th.join()

        kernel = sum(1 for l in sh("bridge", "-n", NS, "fdb", "show", "dev", "rvx%d" % VNI).stdout.splitlines()
                     if "02:aa:" in l and "extern_learn" in l)
        listed = ctl.json("net", "mac", "list", NET)
        entries = listed if isinstance(listed, list) else next(
            (v for v in listed.values() if isinstance(v, list)), [])
        got = {str(e.get("mac", "")).lower() for e in entries}
        order = [i for i in range(args.macs) if mac_of(i) in got]     # the switch's entries, write order
        wtime = {}
        for t, lo, hi in writes:
            for i in range(lo, hi):
                wtime[i] = t
        lat, k = [], 0
        for t, c in seen:
            while k < min(c, len(order)):
                lat.append(t - wtime[order[k]])
                k += 1
        installed = len(order)
        print("method: no FRR; zebra's remote-MAC netlink messages made by the kernel from `bridge -batch` "
              "(fdb add MAC dev rvx%d dst %s self extern_learn), %d per call, back to back; switch entries seen by "
              "polling `riovctl --json net list` (MAC count) every %d ms, attributed in write order"
              % (VNI, VTEP, args.batch, args.poll_ms))
        print("poll: %d riovctl calls, median %.1f ms each (latency resolution about %.1f ms)"
              % (len(calls), statistics.median(calls) * 1e3 if calls else 0,
                 args.poll_ms + (statistics.median(calls) * 1e3 if calls else 0)))
        print("written: %d MACs in %.3f s (%.0f MACs/s into the kernel); in the kernel FDB: %d"
              % (args.macs, t_written - t_start, args.macs / (t_written - t_start), kernel))
        last = seen[-1][0] if seen else t_start
        print("evpn remote MACs in the switch: %d of %d (%d never taken)" % (installed, args.macs, args.macs - installed))
        if lat:
            print("evpn install time, all taken: %.3f s from the first write (%.0f MACs/s)"
                  % (last - t_start, installed / (last - t_start)))
            print("evpn netlink-to-switch latency: median %.1f ms, p99 %.1f ms, max %.1f ms (%d MACs)"
                  % (statistics.median(lat) * 1e3, pct(lat, 99) * 1e3, max(lat) * 1e3, len(lat)))
        before = dict(l.rsplit(" ", 1) for l in m0)
        ign = []
        print("riov_evpn_* during the writes (after - before; the set-up's own messages, the devices riovd made, "
              "are before; zero deltas left out):")
        for l in metrics_evpn():
            k, v = l.rsplit(" ", 1)
            dv = float(v) - float(before.get(k, 0))
            if dv:
                print("  %s +%d" % (k, dv))
                if k.startswith("riov_evpn_ignored_total") or k.startswith("riov_evpn_errors_total"):
                    ign.append(k)
        print("ignored or errors during the writes: %s" % (", ".join(ign) if ign else "none"))
        return 0 if installed == args.macs and not ign else 1
    finally:
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--macs", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--poll-ms", type=int, default=20)
    args = ap.parse_args()
    if os.geteuid() != 0 or shutil.which("bridge") is None:
        print("bench_evpn: needs root and iproute2 (riovd's EVPN devices live in a network namespace)",
              file=sys.stderr)
        return 1
    try:
        netns_add()
        return run(args)
    finally:
        riovtest._cleanup()
        netns_del()


if __name__ == "__main__":
    sys.exit(main())
