#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The benchmark matrix of issue 17: riovd, dpdk-testpmd's net_vhost (io forwarding) and Open vSwitch
with DPDK, measured by riov-perf in the same run, with the same guest on the same CPUs.

Topology (VM to VM): riov-perf is both guests. It has two virtio-user ports, vm1 and vm2, each a
vhost-user device of the switch under test, and sends two streams, vm1 -> vm2 and vm2 -> vm1, each
to the other stream's source MAC (so riovd's and OVS's MAC learning forward them as unicast; testpmd's
io mode forwards port to port whatever the address). riov-perf runs on CPU 0, the switch's one
forwarding core (riovd's worker, testpmd's forwarding lcore, OVS's PMD thread) on the last CPU.
The PVP topology (a guest that loops frames back between two generator ports) needs a third busy
core and is not measured on this two-CPU machine.

  riov     riovd, one worker, every descriptor translated through its VT-d domain; vhost ports
  testpmd  dpdk-testpmd, two net_vhost ports, io forwarding, --record-core-cycles
  ovs      Open vSwitch 3.1 with DPDK (Debian's ovs-vswitchd-dpdk with an ovsdb-server of its own in
           a temporary directory, no systemd), a netdev bridge with the NORMAL action, two
           dpdkvhostuser ports

Per switch and frame size (64, 256, 1518 bytes with FCS, IMIX 7:4:1), per round:
  - NDR and PDR (0.5 % loss), riov-perf's binary search (--mode ndr), trials of --seconds; a bound
    the generator could not go beyond (riov-perf's one core sends no faster) is flagged ">= ... (gen)",
    one whose lowest failing rate failed because the switch refused frames (backpressure: its
    virtio ring was full) "(bp)": riov-perf's "limit" of the bound (docs/riov-perf.md);
  - one trial at the switch's own NDR: its cycles per packet from its own counters over that trial
    (riovd: the worker's busy cycles / packets, `riovctl stats`; testpmd: busy cycles / packets of
    --record-core-cycles; OVS: processing cycles / packets received of dpif-netdev/pmd-stats-show);
  - one trial at 50 % of riov's NDR at that size (riov goes first in every round, the other two in
    random order): latency percentiles, and cycles per packet again, at the same load for all three
    (a switch's cycles per packet fall as its load rises and its bursts grow: at its own NDR each
    switch is measured at another load, and where riov-perf limits the rate, not at the switch's).
Rounds (--rounds) repeat it; the table has the medians, and the ratios riov/testpmd and riov/OVS
(for cycles and latency, lower is better). The matrix is also written as JSON and as SVG plots
(gnuplot) into --out.

Memory: 2 MiB hugepages for every process (OVS cannot run without them), reserved for the run and
given back (bench_switch.Hugepages); guest rings of 256 entries.

usage: bench_matrix.py [--rounds N] [--seconds S] [--trials N] [--sizes 64,256,1518,imix]
                       [--switches riov,testpmd,ovs] [--out DIR]
"""
import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))
sys.path.insert(0, HERE)
import riovtest  # noqa: E402
from riovtest import TestFailure, tmpdir, wait_for  # noqa: E402
import bench_switch  # noqa: E402
import bench_tcp  # noqa: E402

RIOV_PERF = os.path.join(riovtest.BUILD, "tools", "riov-perf")
SIZES = ["64", "256", "1518", "imix"]
IMIX_BYTES = (7 * 64 + 4 * 594 + 1518) / 12.0
# riov-perf's stream s, flow 0 sends from 02:72:70:<s>:00:00 (docs/riov-perf.md, "Frames")
SRC_MAC = ["02:72:70:00:00:00", "02:72:70:01:00:00"]
SWITCHES = ("riov", "testpmd", "ovs")


def frame_bytes(size):
    return IMIX_BYTES if size == "imix" else float(size)


def line_mpps(size, gbps=100.0):
    """The search's first rate: 100 Gbit/s, more than one generator core sends, so that where a switch
    goes faster than riov-perf the bound is flagged generator limited"""
    return gbps * 1e3 / ((frame_bytes(size) + 20) * 8)


def gbps(size, mpps):
    """Layer 1 (frame + preamble + inter-frame gap), as riov-perf reports it."""
    return mpps * (frame_bytes(size) + 20) * 8 / 1e3


class RiovSw:
    name = "riov"

    def __init__(self, tmp):
        self.tmp = tmp
        self.riovd = bench_switch.riov_switch(tmp)

    def start(self):
        self.riovd.start()
        self.ctl = riovtest.Riovctl(os.path.join(self.tmp, "riovd.sock"))
        return self

    def socket(self, name):
        return self.riovd.socket(name)

    def counters(self):
        """(busy cycles, packets) over the workers."""
        ws = self.ctl.json("metrics", "snapshot")["snapshot"]["workers"]
        return (sum(int(w.get("busy_cycles", 0)) for w in ws), sum(int(w.get("packets", 0)) for w in ws))

    def stop(self):
        self.riovd.stop()


class TestpmdSw:
    name = "testpmd"

    def __init__(self, tmp):
        self.tmp = tmp

    def socket(self, name):
        return os.path.join(self.tmp, name + ".sock")

    def start(self):
        args = [riovtest.TESTPMD] + bench_switch.mem_args(512, False) + [
            "--lcores", "0@%d,1@%d" % (riovtest.GUEST_CPU, riovtest.WORKER_CPU),
            "--file-prefix", "riovmxt%d" % os.getpid(), "--no-pci",
            "--vdev", "net_vhost0,iface=%s,queues=1" % self.socket("vm1"),
            "--vdev", "net_vhost1,iface=%s,queues=1" % self.socket("vm2"),
            "--", "-i", "--forward-mode=io", "--nb-cores=1", "--total-num-mbufs=16384",
            "--record-core-cycles"]
        self.logf = os.path.join(self.tmp, "testpmd-switch.log")
        self.proc = subprocess.Popen(["stdbuf", "-oL"] + args, stdin=subprocess.PIPE,
                                     stdout=open(self.logf, "w"), stderr=subprocess.STDOUT)
        riovtest._procs.append(self.proc)
        wait_for(lambda: "testpmd>" in self.log(), 60, "testpmd switch")
        self.cmd("start", "packet forwarding")
        return self

    def log(self):
        with open(self.logf, errors="replace") as f:
            return f.read()

    def cmd(self, line, expect):
        n = self.log().count(expect)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        wait_for(lambda: self.log().count(expect) > n, 30, "testpmd: " + line)

    def counters(self):
        """(busy cycles, packets) of --record-core-cycles, from `show fwd stats all`."""
        self.cmd("show fwd stats all", "MHz Clock")
        # DPDK 22.11 words it "total cycles": the cycles of bursts that received something
        m = re.findall(r"CPU cycles/packet=[\d.]+ \((?:busy|total) cycles=(\d+) / total \w+ packets=(\d+)\)",
                       self.log())
        if not m:
            raise TestFailure("testpmd printed no cycles (--record-core-cycles)")
        return int(m[-1][0]), int(m[-1][1])

    def stop(self):
        bench_switch.quit_testpmd(self.proc)


class OvsSw(bench_tcp.OvsSwitch):
    """bench_tcp's OVS (its own ovsdb-server and ovs-vswitchd-dpdk), with dpdkvhostuser ports: OVS
    is the vhost-user server, as riovd and testpmd are here."""
    name = "ovs"

    def __init__(self, tmp):
        super().__init__(tmp, 1500)

    def socket(self, name):
        return os.path.join(self.tmp, name)

    def start(self):
        bench_tcp.SWITCH_CPU = str(riovtest.WORKER_CPU)
        super().start()
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:vhost-sock-dir=%s" % self.tmp)
        for n in ("vm1", "vm2"):
            self.vsctl("add-port", "br0", n, "--", "set", "Interface", n, "type=dpdkvhostuser")
        wait_for(lambda: all(os.path.exists(self.socket(n)) for n in ("vm1", "vm2")), 30, "OVS vhost sockets")
        return self

    def counters(self):
        """(processing cycles, packets received) of the PMD thread, dpif-netdev/pmd-stats-show."""
        out = bench_tcp.sh("ovs-appctl", "-t", os.path.join(self.tmp, "ovs-vswitchd.ctl"),
                           "dpif-netdev/pmd-stats-show", env=self.env)
        cyc = sum(int(x) for x in re.findall(r"processing cycles:\s+(\d+)", out))
        pkts = sum(int(x) for x in re.findall(r"packets received:\s+(\d+)", out))
        return cyc, pkts


SWITCH_CLASSES = {"riov": RiovSw, "testpmd": TestpmdSw, "ovs": OvsSw}


def riov_perf(tmp, sw, args, seconds):
    """One riov-perf run on the switch's two sockets; returns its JSON."""
    vdevs = []
    for i, n in enumerate(("vm1", "vm2")):
        vdevs += ["--vdev", "net_virtio_user%d,path=%s,queues=1,queue_size=%d"
                  % (i, sw.socket(n), bench_switch.RING)]
    prefix = "riovmxp%d" % os.getpid()
    cmd = ["taskset", "-c", str(riovtest.GUEST_CPU), RIOV_PERF] + bench_switch.mem_args(512, True) + [
        "--lcores", "0@%d" % riovtest.GUEST_CPU, "--file-prefix", prefix, "--no-pci", "--log-level", "lib.*:error"]
    cmd += vdevs + ["--", "--pairs", "0:1,1:0", "--dst-mac", "%s,%s" % (SRC_MAC[1], SRC_MAC[0]),
                    "--duration", str(seconds), "--json", "--quiet"] + args
    errf = os.path.join(tmp, "riov-perf.err")
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=open(errf, "w"), text=True, timeout=1800)
    finally:
        bench_switch.remove_huge_files(prefix)
    try:
        res = json.loads(r.stdout)
    except ValueError:
        res = None
    if r.returncode != 0 or not res or res.get("status") != "ok":
        raise TestFailure("riov-perf %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                         open(errf).read().strip()[-600:]))
    return res["results"][0]


def bound(search, key):
    """(Mpps per stream, generator limited, limit) of the search's ndr or pdr. A bound is its passing
    trial's achieved rate when the generator fell behind. limit is riov-perf's: "generator", or
    "backpressure" (the lowest failing rate failed because the switch refused frames, also when
    nothing passed), or "none"; None from a riov-perf before it had "limit" (then generator_limited
    also covered backpressure)."""
    b = search[key]
    limit = b.get("limit")
    if not b.get("found"):
        return 0.0, False, limit
    return float(b["mpps"]), bool(b.get("generator_limited")), limit


def limit_mark(limited, limit):
    """The table's mark after a bound: (gen) or (bp); nothing for a bound of no limit, or of unknown
    limit (a summary from before riov-perf told them apart: its ">=" alone)"""
    if limit == "generator" and limited:
        return " (gen)"
    if limit == "backpressure":
        return " (bp)"
    return ""


def measure(sw, tmp, size, args, riov_ndr):
    """One switch, one size: the search, the cycles trial at its NDR, the latency trial."""
    out = {}
    # from 100 Gbit/s (riov-perf keeps a bit per frame: at most 2^32 frames a stream and trial), to
    # within 0.5 % of 10 Gbit/s
    first = min(line_mpps(size), 4000.0 / args.seconds)
    res = riov_perf(tmp, sw, ["--mode", "ndr", "--sizes", size, "--rate", "%.4f" % first,
                              "--trials", str(args.trials), "--latency-load", "0",
                              "--search-precision", "%.4f" % (line_mpps(size, 10.0) * 0.005)], args.seconds)
    s = res["search"]
    out["ndr"], out["ndr_limited"], out["ndr_limit"] = bound(s, "ndr")
    out["pdr"], out["pdr_limited"], out["pdr_limit"] = bound(s, "pdr")
    out["trials"] = len(s.get("trials", []))
    out["backpressure_trials"] = sum(1 for t in s.get("trials", []) if t.get("limit") == "backpressure")
    out["cycles_per_packet"] = None
    if out["ndr"] > 0:
        c0 = sw.counters()
        riov_perf(tmp, sw, ["--mode", "fixed", "--sizes", size, "--rate", "%.4f" % out["ndr"]], args.seconds)
        c1 = sw.counters()
        if c1[1] > c0[1]:
            out["cycles_per_packet"] = (c1[0] - c0[0]) / (c1[1] - c0[1])
    load = (riov_ndr if riov_ndr is not None else out["ndr"]) * 0.5
    out["latency_rate"] = load
    out["latency"] = None
    out["cycles_per_packet_common"] = None
    if load > 0:
        c0 = sw.counters()
        t = riov_perf(tmp, sw, ["--mode", "fixed", "--sizes", size, "--rate", "%.4f" % load], args.seconds)["trial"]
        c1 = sw.counters()
        out["latency"] = dict(t["latency_us"], loss_pct=t["loss_pct"])
        if c1[1] > c0[1]:
            out["cycles_per_packet_common"] = (c1[0] - c0[0]) / (c1[1] - c0[1])
    return out


def run_round(args, rnd, results):
    others = [s for s in args.switches if s != "riov"]
    random.shuffle(others)
    order = (["riov"] if "riov" in args.switches else []) + others
    for name in order:
        tmp = tmpdir("matrix-%s" % name)
        sw = SWITCH_CLASSES[name](tmp)
        t0 = time.time()
        sw.start()
        try:
            for size in args.sizes:
                riov_ndr = None
                if name != "riov" and "riov" in args.switches:
                    riov_ndr = results["riov"][size][rnd]["ndr"]
                r = measure(sw, tmp, size, args, riov_ndr)
                results[name][size].append(r)
                lat = r["latency"] or {}
                print("  round %d %-7s %4s B: NDR %s%.3f Mpps%s, PDR %s%.3f Mpps%s (%d trials, %d with "
                      "backpressure), %s cycles/packet at NDR, latency at %.3f Mpps p50 %s p99 %s us" % (
                          rnd + 1, name, size, ">=" if r["ndr_limited"] else "", r["ndr"],
                          limit_mark(r["ndr_limited"], r["ndr_limit"]),
                          ">=" if r["pdr_limited"] else "", r["pdr"],
                          limit_mark(r["pdr_limited"], r["pdr_limit"]), r["trials"], r["backpressure_trials"],
                          "%.0f" % r["cycles_per_packet"] if r["cycles_per_packet"] else "-",
                          r["latency_rate"], lat.get("p50", "-"), lat.get("p99", "-")), flush=True)
        finally:
            sw.stop()
        print("  round %d %s took %.0f s" % (rnd + 1, name, time.time() - t0), flush=True)


def med(rows, key, sub=None):
    vals = [(r[key] or {}).get(sub) if sub else r[key] for r in rows]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def summary_limit(rows, key):
    """A bound's limit over the rounds: generator when any round's was (as its ">=": the median may
    be one), else backpressure when any round's was, else none; None when no round says (rounds
    of a riov-perf before it had "limit")."""
    limits = [r.get(key) for r in rows]
    for want in ("generator", "backpressure", "none"):
        if want in limits:
            return want
    return None


def summarize(args, results):
    """The matrix: per size and switch the medians over the rounds, then the ratios."""
    summary = {}
    for size in args.sizes:
        for name in args.switches:
            rows = results[name][size]
            summary.setdefault(size, {})[name] = {
                "ndr_mpps": med(rows, "ndr"), "pdr_mpps": med(rows, "pdr"),
                "ndr_limited": any(r["ndr_limited"] for r in rows),
                "pdr_limited": any(r["pdr_limited"] for r in rows),
                "ndr_limit": summary_limit(rows, "ndr_limit"),
                "pdr_limit": summary_limit(rows, "pdr_limit"),
                "backpressure_trials": sum(r.get("backpressure_trials", 0) for r in rows),
                "cycles_per_packet": med(rows, "cycles_per_packet"),
                "cycles_per_packet_common": med(rows, "cycles_per_packet_common"),
                "latency_mpps": med(rows, "latency_rate"),
                "p50_us": med(rows, "latency", "p50"), "p99_us": med(rows, "latency", "p99"),
                "p99_9_us": med(rows, "latency", "p99_9"), "max_us": med(rows, "latency", "max"),
                "min_us": med(rows, "latency", "min"),
                "rounds": len(rows)}
    return summary


def fmt(v, spec="%.3f", limited=False, mark=""):
    return "-" if v is None else (">=" if limited else "") + spec % v + mark


def ratio(a, b):
    return "-" if not a or not b else "%.2f" % (a / b)


def print_table(args, summary):
    lines = ["matrix: %d round(s), trials of %g s, NDR/PDR per stream (two streams), Gbit/s per stream "
             "(layer 1); latency at 50 %% of riov's NDR; cycles per packet at each switch's own NDR; "
             ">=: riov-perf sent no faster, the switch goes at least that fast ((gen): held back by "
             "riov-perf's own core); (bp): the switch refused frames (backpressure) at the lowest "
             "failing rate" % (args.rounds, args.seconds),
             "| size | switch | NDR Mpps | NDR Gbit/s | PDR Mpps | PDR Gbit/s | cycles/packet at NDR | "
             "latency load Mpps | cycles/packet at it | p50 us | p99 us | p99.9 us | max us |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for size in args.sizes:
        for name in args.switches:
            m = summary[size][name]
            # a summary from before riov-perf told generator and backpressure apart has no *_limit
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                size, name, fmt(m["ndr_mpps"], limited=m["ndr_limited"],
                                mark=limit_mark(m["ndr_limited"], m.get("ndr_limit"))),
                fmt(m["ndr_mpps"] and gbps(size, m["ndr_mpps"]), "%.2f", m["ndr_limited"]),
                fmt(m["pdr_mpps"], limited=m["pdr_limited"],
                    mark=limit_mark(m["pdr_limited"], m.get("pdr_limit"))),
                fmt(m["pdr_mpps"] and gbps(size, m["pdr_mpps"]), "%.2f", m["pdr_limited"]),
                fmt(m["cycles_per_packet"], "%.0f"), fmt(m["latency_mpps"]),
                fmt(m["cycles_per_packet_common"], "%.0f"), fmt(m["p50_us"], "%.2f"),
                fmt(m["p99_us"], "%.2f"), fmt(m["p99_9_us"], "%.2f"), fmt(m["max_us"], "%.2f")))
    if "riov" in args.switches:
        lines += ["", "| size | vs | NDR ratio | PDR ratio | cycles/packet ratio at NDR | at the latency load | "
                  "p99 ratio |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for size in args.sizes:
            r = summary[size]["riov"]
            for name in [s for s in args.switches if s != "riov"]:
                o = summary[size][name]
                lim = " (generator limited)" if r["ndr_limited"] or o["ndr_limited"] else ""
                lines.append("| %s | riov/%s | %s%s | %s | %s | %s | %s |" % (
                    size, name, ratio(r["ndr_mpps"], o["ndr_mpps"]), lim, ratio(r["pdr_mpps"], o["pdr_mpps"]),
                    ratio(r["cycles_per_packet"], o["cycles_per_packet"]),
                    ratio(r["cycles_per_packet_common"], o["cycles_per_packet_common"]),
                    ratio(r["p99_us"], o["p99_us"])))
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def plot(args, summary):
    """SVG charts with gnuplot: NDR per size per switch, and the latency percentiles per size."""
    if not shutil.which("gnuplot"):
        print("matrix: gnuplot missing (deploy/install-deps.sh installs gnuplot-nox): no plots", flush=True)
        return []
    dat = os.path.join(args.out, "matrix-ndr.dat")
    with open(dat, "w") as f:
        f.write("size " + " ".join(args.switches) + "\n")
        for size in args.sizes:
            f.write(size + " " + " ".join("%.4f" % (summary[size][n]["ndr_mpps"] or 0) for n in args.switches) + "\n")
    lat = os.path.join(args.out, "matrix-latency.dat")
    ndr_svg = os.path.join(args.out, "matrix-ndr.svg")
    lat_svg = os.path.join(args.out, "matrix-latency.svg")
    ncol = len(args.switches)
    cols = 2 if len(args.sizes) > 1 else 1
    rows = (len(args.sizes) + cols - 1) // cols
    script = """set terminal svg size 800,450 dynamic font 'sans,11'
set output '%s'
set title 'NDR per stream (Mpps), riov-perf VM-to-VM, two streams (the table marks limited bounds: gen, bp)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key autotitle columnhead top right
set ylabel 'Mpps'
set yrange [0:*]
set grid ytics
plot for [i=2:%d] '%s' using i:xtic(1)
set terminal svg size 900,700 dynamic font 'sans,11'
set output '%s'
unset style
set multiplot layout %d,%d title 'Latency at 50 %% of riov''s NDR: percentiles (us, log scale)'
set logscale x
set xlabel 'latency (us)'
set ylabel 'percentile'
set yrange [0:3.3]
set ytics ('min' 0, '50' 0.301, '90' 1, '99' 2, '99.9' 3)
set key top left
unset xtics
set xtics
""" % (ndr_svg, ncol + 1, dat, lat_svg, rows, cols)
    # one panel per size, the switches in the same colours in every panel
    for i, size in enumerate(args.sizes):
        script += "set title '%s'\nplot for [b=%d:%d] '%s' index b using 1:2 with linespoints lc (b - %d + 1) " \
                  "title columnheader(1)\n" % ("IMIX" if size == "imix" else size + " B", i * ncol, i * ncol + ncol - 1, lat, i * ncol)
    script += "unset multiplot\n"
    # one block per switch and size, its first line the title (columnheader(1))
    with open(lat, "w") as f:
        for size in args.sizes:
            for n in args.switches:
                m = summary[size][n]
                f.write('"%s"\n' % n)
                # y: the percentile p as nines, -log10(1 - p), so 99 and 99.9 get room
                for y, key in ((0, "min_us"), (0.30103, "p50_us"), (2, "p99_us"), (3, "p99_9_us")):
                    f.write("%g %g\n" % (m[key] if m[key] is not None else float("nan"), y))
                f.write("\n\n")
    gp = os.path.join(args.out, "matrix.gp")
    with open(gp, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        print("matrix: gnuplot failed: %s" % r.stderr.strip()[-400:], flush=True)
        return []
    return [ndr_svg, lat_svg]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--trials", type=int, default=10, help="at most N search trials per switch and size")
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--switches", default=",".join(SWITCHES))
    ap.add_argument("--out", default=os.path.join(riovtest.BUILD, "bench"))
    ap.add_argument("--replot", action="store_true", help="only print the table and plots of --out's matrix.json")
    args = ap.parse_args()
    args.sizes = args.sizes.split(",")
    args.switches = args.switches.split(",")
    for s in args.sizes:
        if s != "imix" and not (s.isdigit() and 64 <= int(s) <= 1518):
            ap.error("--sizes: %s is not 64..1518 or imix" % s)
    for s in args.switches:
        if s not in SWITCH_CLASSES:
            ap.error("--switches: %s is not one of %s" % (s, ", ".join(SWITCHES)))
    if args.rounds < 1 or args.seconds <= 0 or args.trials < 1:
        ap.error("--rounds, --seconds and --trials must be positive")
    if args.replot:
        with open(os.path.join(args.out, "matrix.json")) as f:
            saved = json.load(f)
        args.sizes = list(saved["summary"].keys())
        args.switches = list(saved["summary"][args.sizes[0]].keys())
        args.rounds, args.seconds = saved["rounds"], saved["seconds"]
        print_table(args, saved["summary"])
        print("matrix: %s" % ", ".join(plot(args, saved["summary"])))
        return 0
    if not os.access(RIOV_PERF, os.X_OK):
        print("bench_matrix: %s missing: build first (make build)" % RIOV_PERF, file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    huge = bench_switch.Hugepages()
    try:
        huge.reserve()
    except OSError as e:
        print("bench_matrix: %s (OVS with DPDK needs 2 MiB pages; so does a fair comparison)" % e, file=sys.stderr)
        return 1
    results = {n: {s: [] for s in args.sizes} for n in args.switches}
    rc = 0
    t0 = time.time()
    try:
        for rnd in range(args.rounds):
            run_round(args, rnd, results)
    except (TestFailure, subprocess.SubprocessError, OSError) as e:
        print("bench_matrix: %s" % e, flush=True)
        rc = 1
    finally:
        huge.release()
        riovtest._cleanup()
    if rc:
        return rc
    summary = summarize(args, results)
    text = print_table(args, summary)
    commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    with open(os.path.join(args.out, "matrix.md"), "w") as f:
        f.write("commit %s, %s, %d CPUs\n\n%s\n" % (commit, time.strftime("%Y-%m-%d"), riovtest.NCPU, text))
    with open(os.path.join(args.out, "matrix.json"), "w") as f:
        json.dump({"commit": commit, "rounds": args.rounds, "seconds": args.seconds, "summary": summary,
                   "runs": results}, f, indent=1)
    svgs = plot(args, summary)
    print("matrix: %s/matrix.{md,json}%s; took %.0f s" % (
        args.out, "".join(", " + os.path.basename(s) for s in svgs), time.time() - t0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
