#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""VXLAN decapsulation and encapsulation against plain L2 forwarding: riovd, same device driver,
same guest, same CPUs, same run (issue 13's `make bench` requirement: VXLAN >= 0.9x plain L2 at 64 B).

Four set-ups, each a fresh riovd (one worker on the last CPU, in a network namespace of its own:
an uplink's TAP lives there) with one dpdk-testpmd virtio-user guest on the other CPU:

  decap, vxlan:  uplink up0 (10.0.0.1/24) on DPDK's net_pcap replaying (infinite_rx=1) a capture of
                 VXLAN frames from remote VTEP 10.0.0.2 to the uplink's address and MAC, VNI 100 of
                 network vx; the guest on vx in rxonly. riovd parses, decapsulates, switches.
  decap, plain:  the same driver as an eth port of a network without VNI, replaying the inner frames
                 alone into the same kind of guest: L2 forwarding from the wire, nothing else.
  encap, vxlan:  the guest in txonly on vx, whose VTEP 10.0.0.2 has its next hop (a permanent
                 neighbour entry on the TAP in riovd's namespace); the uplink is net_null (no-rx=1):
                 riovd switches and encapsulates, the device frees what it is given.
  encap, plain:  the same guest on a network without VNI with an eth port on net_null.

"Plain L2 on the same uplink": an uplink sends every frame that is not VXLAN for this node to the
kernel (its TAP), so plain L2 cannot go through an uplink port itself; the reference is the same
DPDK device (same driver, same devargs but the capture) as an eth port, the port type for plain L2.

The rate: decap, the frames riovd delivered to the guest per second; encap, the frames riovd sent
on the device per second; both from riovd's port counters (Metrics.Snapshot through riovctl) over
the measured window, after a second of warm-up. Each run also prints the share of CPU time the
hypervisor stole meanwhile (/proc/stat) and the worker's busy TSC cycles per packet it took from
its source (decap: from the device, encap: from the guest): on a machine whose guest is the
bottleneck the rate ratio says little, the cycles say what the switch spends.

Decap frames are unicast to the guest's MAC, which riovd has not learned (an rxonly guest sends
nothing), and encap frames go to a MAC nobody has: riovd floods both, to its one other port, in
the vxlan and the plain set-up alike.

Sizes are frames on the wire with their FCS, as in bench_switch.py (inner frames of 60 and 1464
bytes). VXLAN adds 50 bytes on the underlay: the uplink has an MTU of 1550 and both networks 1500,
so 1518 B is the largest size (see UPLINK_MTU).
Runs come in pairs (vxlan and plain, in random order within the pair); the median of the per-pair
ratios is printed with its range. Memory as in bench_switch.py: 2 MiB hugepages reserved for the run and
given back (its Hugepages), 4 KiB pages when none can be had.

usage: bench_vxlan.py [--pairs N] [--seconds S] [--sizes 64,1468] [--modes decap,encap]
                      [--hugepages auto|on|off] [--plain-offloads off|on]

The plain eth port runs without receive coalescing (--plain-offloads off, riovctl's --offloads
off): the uplink never coalesces what it decapsulates, so the reference is the same path without
VXLAN. With --plain-offloads on it is an eth port as riovd makes it by default, whose look for TCP
segments to coalesce costs the plain path about 20 cycles per (non-TCP) frame at 64 B.

Each run prints how much of its CPU riovd's worker and the guest's forwarding lcore got while it
was measured (/proc/PID/task): on a shared machine a build or test of someone else's takes its
share, and such a run (marked "contended", under CONTENDED %) measures the scheduler. The summary
gives the median over every pair and over the pairs where neither run was contended.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # no __pycache__ in the checkout from importing bench_switch
import bench_switch as bs  # noqa: E402  (also puts tests/system on the path)
import riovtest  # noqa: E402
from riovtest import Riovctl, Riovd, TestFailure, tmpdir, wait_for  # noqa: E402

NS = "rvbvx%d" % (os.getpid() % 100000)   # riovd's network namespace (the uplink's TAP)
UPLINK = "up0"
NODE_IP, PEER_IP = "10.0.0.1", "10.0.0.2"
PEER_MAC = "02:00:00:00:00:02"             # the remote VTEP (its next hop, static)
PCAP_MAC = "02:70:63:61:70:00"             # DPDK 22.11 net_pcap's MAC ("\x02pcap" + 0) for the first device
GUEST_MAC = "02:00:00:00:00:0a"
INNER_SRC = "02:00:00:00:77:01"            # behind the remote VTEP (decap) or on the wire (plain)
NOBODY = "02:00:00:00:00:99"               # encap: the guest's frames go to an unknown MAC
VNI = 100
VXLAN_PORT = 4789
# The networks (both) have the default MTU, 1500, and the uplink 50 bytes more, as docs/fabric.md
# advises (its exception TAP takes what net_tap can, 1504: the kernel's own traffic over it), so the
# largest frame is 1500 + 14 bytes, 1518 B on the wire.
UPLINK_MTU, NET_MTU = 1550, 1500
MAX_SIZE = NET_MTU + 14 + 4
CONTENDED = 90.0                           # percent of a CPU: below, a run shared its CPU with someone
FLOWS = 32                                 # frames in a capture (outer UDP source ports differ)
DEVARGS_ALLOW = "net_pcap:rx_pcap,infinite_rx; net_null:size,copy,no-rx"


# ---- the captures (libpcap format, Ethernet link type)

def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def _mac(m):
    return bytes.fromhex(m.replace(":", ""))


def _ipv4(src, dst, payload, proto=17):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", _csum(h)) + h[12:] + payload


def inner_frame(size):
    """A UDP/IPv4 frame of size bytes on the wire (size - 4 without the FCS), to the guest, as
    testpmd's txonly makes them."""
    pay = bytes(size - 4 - 14 - 20 - 8)
    udp = struct.pack("!HHHH", 9, 9, 8 + len(pay), 0) + pay
    return _mac(GUEST_MAC) + _mac(INNER_SRC) + b"\x08\x00" + _ipv4("198.18.0.1", "198.18.0.2", udp)


def vxlan_frame(inner, sport, dst_mac=PCAP_MAC):
    """inner in VXLAN (VNI, I flag) in UDP (checksum 0, as VTEPs send) from PEER_IP to NODE_IP."""
    vx = struct.pack("!B3xI", 0x08, VNI << 8) + inner
    udp = struct.pack("!HHHH", sport, VXLAN_PORT, 8 + len(vx), 0) + vx
    return _mac(dst_mac) + _mac(PEER_MAC) + b"\x08\x00" + _ipv4(PEER_IP, NODE_IP, udp)


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)


def captures(tmp, size):
    """(vxlan, plain) capture file names in tmp (riovd's working directory: the devargs allow no
    path), FLOWS frames each."""
    inner = inner_frame(size)
    vx, plain = "vxlan%d.pcap" % size, "plain%d.pcap" % size
    write_pcap(os.path.join(tmp, vx), [vxlan_frame(inner, 49152 + i) for i in range(FLOWS)])
    write_pcap(os.path.join(tmp, plain), [inner] * FLOWS)
    return vx, plain


# ---- riovd's namespace

def sh(*args, check_rc=True):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check_rc and r.returncode != 0:
        raise TestFailure("%s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()[-300:]))
    return r


def netns_add():
    sh("ip", "netns", "add", NS)
    sh("ip", "netns", "exec", NS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
    sh("ip", "netns", "exec", NS, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
    sh("ip", "-n", NS, "link", "set", "lo", "up")


def netns_del():
    sh("ip", "netns", "del", NS, check_rc=False)


# ---- the guest

class BenchGuest:
    """dpdk-testpmd with one virtio-user port on the switch's socket, rxonly or txonly, on the
    guest CPU; memory and rings as in bench_switch.py."""

    def __init__(self, sock, mode, size):
        self.sock, self.mode, self.size = sock, mode, size
        self.prefix = "riovbvg%d" % os.getpid()

    def start(self, tmp):
        mrg = 1 if self.size > 1500 - 14 else 0
        self.logf = os.path.join(tmp, "guest.log")
        args = ["stdbuf", "-oL", riovtest.TESTPMD] + bs.mem_args(1024, True) + [
            "--lcores", "0@%d,1@%d" % (riovtest.GUEST_CPU, riovtest.GUEST_CPU),
            "--file-prefix", self.prefix, "--no-pci",
            "--vdev", "net_virtio_user0,path=%s,queues=1,mrg_rxbuf=%d,queue_size=%d,mac=%s"
            % (self.sock, mrg, bs.RING, GUEST_MAC),
            "--", "--forward-mode=" + self.mode, "--nb-cores=1", "--txpkts=%d" % (self.size - 4),
            "--eth-peer=0,%s" % NOBODY, "--burst=32", "--rxd=%d" % bs.RING, "--txd=%d" % bs.RING,
            "--total-num-mbufs=32768"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=open(self.logf, "w"),
                                     stderr=subprocess.STDOUT)
        riovtest._procs.append(self.proc)

        def up():
            if self.proc.poll() is not None:
                raise TestFailure("guest exited with %d:\n%s" % (self.proc.returncode, self.log()[-2000:]))
            return "Press enter to exit" in self.log()
        wait_for(up, 60, "guest forwarding")
        return self

    def log(self):
        with open(self.logf, errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGINT; returns the guest's (rx, tx) packets."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        bs.remove_huge_files(self.prefix)  # --single-file-segments leaves the guest's memory file behind
        m = re.search(r"Forward statistics for port 0.*?RX-packets:\s+(\d+).*?TX-packets:\s+(\d+)", self.log(), re.S)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


# ---- one run

def riovd_for(tmp):
    d = Riovd(tmp, "", netns=NS)
    with open(d.cfg) as f:
        text = f.read()
    mem = "memory_mb = 256;"
    if bs.HUGE_DIR is not None:
        mem = 'hugepages = true; eal_args = "--huge-dir %s";' % bs.HUGE_DIR
    with open(d.cfg, "w") as f:
        f.write(text.replace("memory_mb = 256;", '%s eth_devargs_allow = "%s";' % (mem, DEVARGS_ALLOW), 1))
    cwd = os.getcwd()
    os.chdir(tmp)   # the captures are named relative to riovd's working directory
    try:
        d.start()
    finally:
        os.chdir(cwd)
    return d


def thread_ticks(pid):
    """{thread name: CPU ticks (user + system)} of process pid's threads, summed per name."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        f = st[st.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + int(f[11]) + int(f[12])
    return out


def cpu_shares(t0, t1, seconds):
    """Per thread name, the share of one CPU it used between two thread_ticks() (percent)."""
    hz = os.sysconf("SC_CLK_TCK")
    return {k: 100.0 * (v - t0.get(k, 0)) / hz / seconds for k, v in t1.items()}


def snapshot(ctl):
    return ctl.json("metrics", "snapshot")["snapshot"]


def port_of(snap, name):
    return next(p for p in snap["ports"] if p["port"] == name)


def drops_of(p):
    return {x["cause"]: int(x["packets"]) for x in p.get("drops", [])}


def vtep_resolved(ctl):
    """Whether network vx's VTEP PEER_IP has its next hop (`net vtep list` answers a list of
    NetworkInfo, one NetworkInfo or the VtepInfo entries: see tests/system/test_vxlan.py)."""
    ans = ctl.json("net", "vtep", "list", "vx")
    vts = list(ans.get("vteps") or [])
    for n in list(ans.get("networks") or []) + ([ans["network"]] if ans.get("network") else []):
        vts += n.get("vteps") or []
    return any(v.get("address") == PEER_IP and v.get("resolved") is True for v in vts)


def one_run(mode, kind, size, seconds, plain_offloads):
    """Returns a dict: rate (packets/s), cycles (worker busy cycles per packet from the source),
    taken (packets from the source in the window), steal (%), drops ("port:cause" -> packets in
    the window, on the measured path), guest (its rx, tx), cpu (percent of a CPU: riovd's worker,
    the guest's forwarding lcore, riovd's other threads)."""
    tmp = tmpdir("bench-vxlan-%s-%s" % (mode, kind))
    d = g = None
    try:
        if mode == "decap":
            cap_vx, cap_plain = captures(tmp, size)
        d = riovd_for(tmp)
        ctl = Riovctl(os.path.join(tmp, "riovd.sock"))
        net = "vx" if kind == "vxlan" else "plain"
        if kind == "vxlan":
            ctl.ok("net", "add", "vx", "--vni", str(VNI), "--mtu", str(NET_MTU))
            ctl.ok("net", "vtep", "add", "vx", PEER_IP)
        else:
            ctl.ok("net", "add", "plain", "--mtu", str(NET_MTU))
        ctl.ok("port", "add", "vhost", "vm1", "--net", net, "--socket", "vm1.sock")
        off = [] if plain_offloads else ["--offloads", "off"]
        if mode == "decap":
            # the guest first: the device's frames start flowing as soon as its port is there
            g = BenchGuest(d.socket("vm1"), "rxonly", size).start(tmp)
            if kind == "vxlan":
                ctl.ok("port", "add", "uplink", UPLINK, "--devargs", "net_pcap0,rx_pcap=%s,infinite_rx=1" % cap_vx,
                       "--address", NODE_IP + "/24", "--mtu", str(UPLINK_MTU))
                mac = json.loads(sh("ip", "-n", NS, "-j", "link", "show", "dev", UPLINK).stdout)[0]["address"]
                if mac.lower() != PCAP_MAC:
                    print("  note: the uplink's MAC is %s, the capture's frames go to %s (riovd's uplink is "
                          "promiscuous and takes VXLAN by IP address: the rate is the same)" % (mac, PCAP_MAC))
                src, out = UPLINK, "vm1"
            else:
                ctl.ok("port", "add", "eth", "e0", "--net", "plain", "--devargs",
                       "net_pcap0,rx_pcap=%s,infinite_rx=1" % cap_plain, *off)
                src, out = "e0", "vm1"
        else:
            if kind == "vxlan":
                ctl.ok("port", "add", "uplink", UPLINK, "--devargs", "net_null0,no-rx=1",
                       "--address", NODE_IP + "/24", "--mtu", str(UPLINK_MTU))
                # the remote VTEP's next hop, as the kernel would have it after ARP
                sh("ip", "-n", NS, "neigh", "replace", PEER_IP, "lladdr", PEER_MAC, "dev", UPLINK, "nud", "permanent")
                wait_for(lambda: vtep_resolved(ctl), 15, "VTEP %s of vx resolved" % PEER_IP)
                out = UPLINK
            else:
                ctl.ok("port", "add", "eth", "e0", "--net", "plain", "--devargs", "net_null0,no-rx=1", *off)
                out = "e0"
            src = "vm1"
            g = BenchGuest(d.socket("vm1"), "txonly", size).start(tmp)
        time.sleep(1)  # warm-up
        s0 = bs.cpu_times()
        r0, g0, w0 = thread_ticks(d.proc.pid), thread_ticks(g.proc.pid), time.time()
        a = snapshot(ctl)
        time.sleep(seconds)
        b = snapshot(ctl)
        r1, g1, w1 = thread_ticks(d.proc.pid), thread_ticks(g.proc.pid), time.time()
        s1 = bs.cpu_times()
        dt = (b["timestamp_ns"] - a["timestamp_ns"]) / 1e9
        # what riovd's worker and the guest's forwarding lcore got of their CPUs: under CONTENDED
        # something else ran there (on a shared machine: other people's builds and tests)
        rs, gs = cpu_shares(r0, r1, w1 - w0), cpu_shares(g0, g1, w1 - w0)
        worker = max((v for k, v in rs.items() if k.startswith(("rte-worker", "lcore-worker"))), default=0.0)
        control = sum(v for k, v in rs.items() if not k.startswith(("rte-worker", "lcore-worker")))
        gfwd = max((v for k, v in gs.items() if k.startswith(("rte-worker", "lcore-worker"))), default=0.0)
        pa, pb = port_of(a, out), port_of(b, out)
        sa, sb = port_of(a, src), port_of(b, src)
        sent = pb["tx_packets"] - pa["tx_packets"]
        taken = sb["rx_packets"] - sa["rx_packets"]
        busy = b["workers"][0]["busy_cycles"] - a["workers"][0]["busy_cycles"]
        drops = {}
        for pa_, pb_ in ((sa, sb), (pa, pb)):
            da, db = drops_of(pa_), drops_of(pb_)
            for k, v in db.items():
                if v - da.get(k, 0):
                    drops["%s:%s" % (pb_["port"], k)] = v - da.get(k, 0)
        guest = g.stop()
        g = None
        d.stop()
        d = None
        return {"rate": sent / dt, "cycles": busy / taken if taken else float("nan"), "taken": taken,
                "steal": 100.0 * (s1[0] - s0[0]) / max(1, s1[1] - s0[1]), "drops": drops, "guest": guest,
                "cpu": (worker, gfwd, control)}
    finally:
        if g is not None:
            g.stop()
        if d is not None and d.proc is not None:
            try:
                d.stop()
            except TestFailure:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


def fmt_drops(dr, taken):
    """Drops in the window by port:cause, as a share of the packets the worker took."""
    if not dr:
        return "no drops"
    return ", ".join("%s %.1f %%" % (k, 100.0 * v / taken) if taken else "%s %d" % (k, v)
                     for k, v in sorted(dr.items()))


def contended(r):
    return r["cpu"][0] < CONTENDED or r["cpu"][1] < CONTENDED


def run_notes(r):
    return ("%.0f cycles/pkt; CPU: worker %.0f %%, guest %.0f %%, riovd's other threads %.0f %%; steal %.0f %%; %s%s"
            % (r["cycles"], r["cpu"][0], r["cpu"][1], r["cpu"][2], r["steal"], fmt_drops(r["drops"], r["taken"]),
               "; contended" if contended(r) else ""))


def run(args):
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = [m for m in args.modes.split(",") if m]
    summary = []
    for mode in modes:
        for size in sizes:
            ratios, cratios, rv, rp, clean = [], [], [], [], []
            for i in range(args.pairs):
                order = ["vxlan", "plain"]
                random.shuffle(order)
                got = {k: one_run(mode, k, size, args.seconds, args.plain_offloads == "on") for k in order}
                v, p = got["vxlan"], got["plain"]
                ratios.append(v["rate"] / p["rate"] if p["rate"] else float("nan"))
                cratios.append(p["cycles"] / v["cycles"] if v["cycles"] else float("nan"))
                rv.append(v["rate"])
                rp.append(p["rate"])
                if not contended(v) and not contended(p):
                    clean.append(ratios[-1])
                print("  %s %4d B pair %d (%s first): vxlan %.2f Mpps (%s), plain %.2f Mpps (%s), ratio %.2f"
                      % (mode, size, i + 1, order[0], v["rate"] / 1e6, run_notes(v), p["rate"] / 1e6,
                         run_notes(p), ratios[-1]), flush=True)
            med = statistics.median(ratios)
            line = ("vxlan %s / plain L2 at %d B: %.2fx (median of %d pairs, range %.2f-%.2f; vxlan %.2f Mpps, "
                    "plain %.2f Mpps; worker cycles per packet plain/vxlan %.2f; %s)"
                    % (mode, size, med, len(ratios), min(ratios), max(ratios), statistics.median(rv) / 1e6,
                       statistics.median(rp) / 1e6, statistics.median(cratios),
                       "uncontended pairs %d, median %.2fx" % (len(clean), statistics.median(clean)) if clean
                       else "every pair contended"))
            if size == 64:
                line += "; target >= 0.90x: %s" % ("met" if med >= 0.9 else "MISSED")
            print(line, flush=True)
            summary.append(line)
    if len(summary) > 1:
        print("summary:")
        for line in summary:
            print("  " + line)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--sizes", default="64,%d" % MAX_SIZE)
    ap.add_argument("--modes", default="decap,encap", help="decap, encap or both (decap,encap)")
    ap.add_argument("--hugepages", choices=("auto", "on", "off"), default="auto",
                    help="2 MiB pages for the guest and riovd (auto: when they can be had)")
    ap.add_argument("--plain-offloads", choices=("on", "off"), default="off",
                    help="the plain eth port's receive coalescing (off: like the uplink, which coalesces "
                         "nothing it decapsulates; on: riovd's default for eth ports)")
    args = ap.parse_args()
    for m in args.modes.split(","):
        if m not in ("decap", "encap"):
            ap.error("--modes takes decap and encap")
    for sz in args.sizes.split(","):
        if not sz.isdigit() or not 64 <= int(sz) <= MAX_SIZE:
            ap.error("sizes are 64-%d B on the wire: a network on an uplink of MTU %d has an MTU of %d"
                     % (MAX_SIZE, UPLINK_MTU, NET_MTU))
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("bench_vxlan: needs root and iproute2 (riovd's uplink makes a TAP in a network namespace)",
              file=sys.stderr)
        return 1
    huge = bs.Hugepages()
    if args.hugepages != "off":
        try:
            huge.reserve()
        except OSError as e:
            if args.hugepages == "on":
                print("bench_vxlan: %s" % e, file=sys.stderr)
                return 1
            print("bench_vxlan: %s; running on 4 KiB pages (--no-huge)" % e, flush=True)
    print("memory: %s; guest rings of %d entries; riovd's worker on CPU %d, the guest on CPU %d"
          % ("2 MiB hugepages" if bs.HUGE_DIR else "4 KiB pages (--no-huge)", bs.RING, riovtest.WORKER_CPU,
             riovtest.GUEST_CPU), flush=True)
    try:
        netns_add()
        return run(args)
    finally:
        riovtest._cleanup()
        netns_del()
        huge.release()


if __name__ == "__main__":
    sys.exit(main())
