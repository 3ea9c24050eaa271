#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""riovd against dpdk-testpmd's own net_vhost io forwarding, same guests, same CPUs, same run.

The loop (PVP style): one guest process (dpdk-testpmd) has two virtio-user ports, vm1 and vm2, each a
vhost-user device of the switch under test, and forwards port 0 <-> port 1 (mac mode: each port
sends to the other's address) on one lcore. It starts with bursts of packets (--tx-first) that then
circulate guest -> switch -> guest for the measured time:
  riov:    riovd, one worker on the last CPU, every descriptor translated through its VT-d domain
  testpmd: dpdk-testpmd with two net_vhost ports, io forwarding, one forwarding lcore on that CPU
The guest runs on the other CPU. Two busy-polling guest processes on one CPU would measure the
kernel's scheduler, not the switch; a single guest with two ports keeps the guests off the switch's
CPU. Runs come in pairs (one riov, one testpmd, in random order within the pair, so that a drift of
the machine's speed favours neither) because throughput on these machines varies from run to run
(see MACHINE-NOTES.md); the median of the per-pair ratios is reported with its range. The rate is
the packets the switch delivered to the guest per second, from the guest's own counters. Each run
also prints the CPU time the hypervisor stole from this VM meanwhile (/proc/stat): runs with much
steal are noisy, whichever switch they measured.

Also printed: the ratio of the two medians and of the two maxima (on a bimodal machine a pair can
mix modes; the maxima compare both switches in their high mode).

Sizes are frames on the wire with their FCS, as in RFC 2544: the guest's buffers are 4 bytes
shorter (60 and 1514 bytes; runs before 2026-12-06's jumbo MTU work used 64 and 1518-byte buffers).

Memory and rings as in production: the guest's memory, the switch's and riovd's are 2 MiB hugepages
(reserved for the run and given back after it; --no-huge, 4 KiB pages, when none can be had), and
the guest's rings have 256 entries (the default of QEMU's virtio-net and of virtio-user). With 4 KiB
pages DPDK puts every mbuf in a page of its own, so the guest's mbuf headers all compete for the
same few cache sets, and with 1024-entry rings the guest's buffers no longer fit its L2: either way
the guest's own cache misses set the rate, whichever switch serves it (docs/benchmarks.md).

Ring kinds (issue 18): with --rings both (make bench) every round runs the guest on split rings
and on packed ones (virtio-user packed_vq=1) against both switches, four runs in random order, and
prints per size the packed/split ratio of each switch beside riov/testpmd for each kind.

usage: bench_switch.py [--pairs N] [--seconds S] [--sizes 64,1518] [--hugepages auto|on|off]
                       [--ring 256|512|1024] [--rings split|packed|both]
"""
import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
import riovtest  # noqa: E402
from riovtest import Guest, Riovd, tmpdir, wait_for  # noqa: E402

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"
RING = 256      # entries per guest ring (--ring)
HUGE_DIR = None  # a private hugetlbfs mount when the run uses hugepages (see Hugepages)


def mem_args(mb, shared):
    """EAL memory arguments: 2 MiB pages from HUGE_DIR, or 4 KiB pages (--no-huge)."""
    if HUGE_DIR is None:
        return ["--no-huge", "-m", str(mb)]
    # virtio-user shares its memory with the switch: one file per segment list, not per page
    return ["-m", str(mb), "--huge-dir", HUGE_DIR] + (["--single-file-segments"] if shared else ["--in-memory"])


class TestpmdSwitch:
    def __init__(self, tmp):
        self.tmp = tmp
        self.proc = None

    def socket(self, name):
        return os.path.join(self.tmp, name + ".sock")

    def start(self):
        args = ["stdbuf", "-oL", riovtest.TESTPMD] + mem_args(512, False) + ["--lcores",
                "0@%d,1@%d" % (riovtest.GUEST_CPU, riovtest.WORKER_CPU),
                "--file-prefix", "riovbench%d" % os.getpid(), "--no-pci",
                "--vdev", "net_vhost0,iface=%s,queues=1" % self.socket("vm1"),
                "--vdev", "net_vhost1,iface=%s,queues=1" % self.socket("vm2"),
                "--", "--forward-mode=io", "--nb-cores=1", "--total-num-mbufs=16384"]
        self.logf = os.path.join(self.tmp, "testpmd-switch.log")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=open(self.logf, "w"),
                                     stderr=subprocess.STDOUT)
        riovtest._procs.append(self.proc)
        wait_for(lambda: os.path.exists(self.socket("vm2")) and "Press enter" in open(self.logf).read(),
                 60, "testpmd switch")
        return self

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)


def bursts_in_flight():
    """Bursts of 32 injected per port: enough packets in flight that the loop measures throughput,
    not round-trip latency, up to one burst below the ring size (224 of 256, 992 of 1024)."""
    return RING // 32 - 1


def remove_huge_files(prefix):
    """The files of HUGE_DIR named prefix*: a process's memory that --single-file-segments (or OVS,
    or a killed process) leaves behind; nothing without hugepages."""
    if HUGE_DIR is None:
        return
    for name in os.listdir(HUGE_DIR):
        if name.startswith(prefix):
            os.unlink(os.path.join(HUGE_DIR, name))


def quit_testpmd(proc):
    """An interactive dpdk-testpmd's `quit`, then its exit (killed after 60 s)."""
    proc.stdin.write(b"quit\n")
    proc.stdin.flush()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


class LoopGuest:
    """dpdk-testpmd with two virtio-user ports forwarding to each other (mac mode)."""

    def __init__(self, sock1, sock2, size, bursts=None, packed=False):
        self.socks = (sock1, sock2)
        self.size = size
        self.packed = packed
        self.bursts = bursts if bursts is not None else bursts_in_flight()

    def start(self, tmp):
        mrg = 1 if self.size > 1500 - 14 else 0
        self.logf = os.path.join(tmp, "loop-guest.log")
        args = ["stdbuf", "-oL", riovtest.TESTPMD] + mem_args(1024, True) + [
                "--lcores", "0@%d,1@%d" % (riovtest.GUEST_CPU, riovtest.GUEST_CPU),
                "--file-prefix", "riovbg%d" % os.getpid(), "--no-pci"]
        for i, sk in enumerate(self.socks):
            args += ["--vdev", "net_virtio_user%d,path=%s,queues=1,mrg_rxbuf=%d,queue_size=%d,mac=%s%s"
                     % (i, sk, mrg, RING, (MAC_A, MAC_B)[i], ",packed_vq=1" if self.packed else "")]
        # a size is the frame on the wire with its FCS (RFC 2544): 4 bytes more than the buffer, so
        # 1518 is the largest frame an MTU of 1500 carries (riovd drops larger ones: mtu_exceeded)
        args += ["--", "-i", "--forward-mode=mac", "--nb-cores=1", "--txpkts=%d" % (self.size - 4),
                 "--eth-peer=0,%s" % MAC_B, "--eth-peer=1,%s" % MAC_A, "--burst=32",
                 "--rxd=%d" % RING, "--txd=%d" % RING, "--total-num-mbufs=32768"]
        args += ["--record-burst-stats"] if os.environ.get("BURST_STATS") else []
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=open(self.logf, "w"),
                                     stderr=subprocess.STDOUT)
        riovtest._procs.append(self.proc)
        wait_for(lambda: "testpmd>" in open(self.logf).read(), 60, "loop guest")
        self.proc.stdin.write(b"start tx_first %d\n" % self.bursts)
        self.proc.stdin.flush()
        wait_for(lambda: "packet forwarding" in open(self.logf).read(), 30, "loop guest forwarding")
        return self

    def stop(self):
        self.proc.stdin.write(b"stop\n")
        self.proc.stdin.flush()
        wait_for(lambda: "Accumulated forward statistics" in open(self.logf).read(), 30, "guest stats")
        quit_testpmd(self.proc)
        remove_huge_files("riovbg%d" % os.getpid())
        text = open(self.logf).read()
        import re
        rx = [int(x) for x in re.findall(r"Forward statistics for port \d.*?RX-packets:\s+(\d+)", text, re.S)]
        return sum(rx)


class Hugepages:
    """2 MiB pages for the run, as a production host gives its VMs and its switch: reserves the pages
    that are missing (root), mounts a private hugetlbfs, and gives both back at the end. Without
    them (--hugepages off, or none to be had) every process runs with --no-huge (4 KiB pages)."""

    PAGES = 1024  # guest 1024 MiB + switch 512 MiB + riovd's pool, one switch at a time
    NR = "/proc/sys/vm/nr_hugepages"
    FREE = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

    def __init__(self):
        self.old = None
        self.dir = None

    def reserve(self):
        """Reserve and mount, or raise OSError (nothing left reserved or mounted)."""
        global HUGE_DIR
        try:
            self.old = int(open(self.NR).read())
            free = int(open(self.FREE).read())
            if free < self.PAGES:
                with open(self.NR, "w") as f:
                    f.write(str(self.old + self.PAGES - free))
            free = int(open(self.FREE).read())
            if free < self.PAGES:
                raise OSError("only %d free 2 MiB pages of %d" % (free, self.PAGES))
            self.dir = tempfile.mkdtemp(prefix="riov-huge-")
            subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", self.dir], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except (OSError, subprocess.CalledProcessError) as e:
            self.release()
            raise OSError("no hugepages: %s" % (e.stderr.decode().strip() if hasattr(e, "stderr") else e))
        HUGE_DIR = self.dir

    def release(self):
        global HUGE_DIR
        HUGE_DIR = None
        if self.dir is not None:
            subprocess.run(["umount", "-l", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            os.rmdir(self.dir)
            self.dir = None
        if self.old is not None:
            try:
                with open(self.NR, "w") as f:
                    f.write(str(self.old))
            except OSError:
                pass
            self.old = None


def riov_switch(tmp):
    """riovd with the two vhost-user ports on one network (not started)."""
    sw = Riovd(tmp, 'networks = ( { name = "b"; } );\n'
                    'ports = ( { name = "vm1"; type = "vhost"; net = "b"; socket = "vm1.sock"; },\n'
                    '          { name = "vm2"; type = "vhost"; net = "b"; socket = "vm2.sock"; } );\n')
    if HUGE_DIR is not None:
        with open(sw.cfg) as f:
            text = f.read()
        with open(sw.cfg, "w") as f:
            f.write(text.replace("memory_mb = 256;", 'hugepages = true; eal_args = "--huge-dir %s";' % HUGE_DIR, 1))
    return sw


def cpu_times():
    """(steal, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[7], sum(v)


def one_run(kind, size, seconds, packed=False):
    """Returns (packets per second, percent of CPU time stolen during the run)."""
    s0, t0 = cpu_times()
    rate = _one_run(kind, size, seconds, packed)
    s1, t1 = cpu_times()
    return rate, 100.0 * (s1 - s0) / max(1, t1 - t0)


def _one_run(kind, size, seconds, packed):
    tmp = tmpdir("bench-" + kind)
    if kind == "riov":
        sw = riov_switch(tmp).start()
    else:
        sw = TestpmdSwitch(tmp).start()
    g = LoopGuest(sw.socket("vm1"), sw.socket("vm2"), size, packed=packed).start(tmp)
    time.sleep(1)  # warm-up
    t0 = time.time()
    time.sleep(seconds)
    rx = g.stop()
    t1 = time.time()
    sw.stop()
    # the guest's counters cover warm-up + measured time + the stop; both switches alike
    return rx / (t1 - t0 + 1.0)


def main():
    global RING
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--sizes", default="64,1518")
    ap.add_argument("--hugepages", choices=("auto", "on", "off"), default="auto",
                    help="2 MiB pages for guest and switches (auto: when they can be had)")
    ap.add_argument("--ring", type=int, default=RING, choices=(256, 512, 1024),
                    help="entries per guest ring (256: the default of QEMU's virtio-net and of virtio-user)")
    ap.add_argument("--rings", choices=("split", "packed", "both"), default="split",
                    help="the guest's virtqueues: split, packed (packed_vq=1), or both in every round")
    args = ap.parse_args()
    RING = args.ring
    huge = Hugepages()
    if args.hugepages != "off":
        try:
            huge.reserve()
        except OSError as e:
            if args.hugepages == "on":
                print("bench_switch: %s" % e, file=sys.stderr)
                return 1
            print("bench_switch: %s; running on 4 KiB pages (--no-huge)" % e, flush=True)
    print("memory: %s; guest rings of %d entries, %d packets in flight per direction"
          % ("2 MiB hugepages" if HUGE_DIR else "4 KiB pages (--no-huge)", RING, 32 * bursts_in_flight()),
          flush=True)
    try:
        return run(args)
    finally:
        huge.release()


def ratio(a, b):
    return a / b if b else float("nan")


def run(args):
    kinds = {"split": [False], "packed": [True], "both": [False, True]}[args.rings]
    for size in [int(s) for s in args.sizes.split(",")]:
        # per ring kind: riov/testpmd ratios of each round, riov's and testpmd's rates
        ratios = {p: [] for p in kinds}
        rr = {p: [] for p in kinds}
        tt = {p: [] for p in kinds}
        for i in range(args.pairs):
            order = [(k, p) for p in kinds for k in ("riov", "testpmd")]
            random.shuffle(order)
            got = {kp: one_run(kp[0], size, args.seconds, kp[1]) for kp in order}
            for p in kinds:
                (r_rx, r_st), (t_rx, t_st) = got[("riov", p)], got[("testpmd", p)]
                rr[p].append(r_rx)
                tt[p].append(t_rx)
                ratios[p].append(ratio(r_rx, t_rx))
                print("  %4d B pair %d%s (%s first): riov %.2f Mpps (steal %.0f %%), testpmd %.2f Mpps "
                      "(steal %.0f %%), ratio %.2f" % (size, i + 1, ", packed rings" if p else "",
                                                      "%s%s" % (order[0][0], " packed" if order[0][1] else ""),
                                                      r_rx / 1e6, r_st, t_rx / 1e6, t_st, ratios[p][-1]),
                      flush=True)
        gbit = lambda pps: pps * (size + 20) * 8 / 1e9  # noqa: E731 (wire size incl. preamble+IFG)
        for p in kinds:
            med = statistics.median(ratios[p])
            rm, tm = statistics.median(rr[p]), statistics.median(tt[p])
            print("switch %d B%s: riov %.2f Mpps %.2f Gbit/s, testpmd %.2f Mpps %.2f Gbit/s, ratio riov/testpmd "
                  "median %.2f (range %.2f-%.2f, %d pairs); ratio of medians %.2f, of maxima %.2f"
                  % (size, ", packed rings" if p else "", rm / 1e6, gbit(rm), tm / 1e6, gbit(tm), med,
                     min(ratios[p]), max(ratios[p]), len(ratios[p]), ratio(rm, tm), ratio(max(rr[p]), max(tt[p]))),
                  flush=True)
        if len(kinds) == 2:
            # packed against split for each switch: per round, then the median
            rp = [ratio(a, b) for a, b in zip(rr[True], rr[False])]
            tp = [ratio(a, b) for a, b in zip(tt[True], tt[False])]
            print("rings %d B: packed/split riov median %.2f (range %.2f-%.2f), testpmd median %.2f "
                  "(range %.2f-%.2f), %d rounds" % (size, statistics.median(rp), min(rp), max(rp),
                                                    statistics.median(tp), min(tp), max(tp), len(rp)),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
