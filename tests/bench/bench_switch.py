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

usage: bench_switch.py [--pairs N] [--seconds S] [--sizes 64,1518]
"""
import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
import riovtest  # noqa: E402
from riovtest import Guest, Riovd, tmpdir, wait_for  # noqa: E402

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"


class TestpmdSwitch:
    def __init__(self, tmp):
        self.tmp = tmp
        self.proc = None

    def socket(self, name):
        return os.path.join(self.tmp, name + ".sock")

    def start(self):
        args = ["stdbuf", "-oL", riovtest.TESTPMD, "--no-huge", "-m", "512", "--lcores",
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


class LoopGuest:
    """dpdk-testpmd with two virtio-user ports forwarding to each other (mac mode)."""

    def __init__(self, sock1, sock2, size, bursts=int(os.environ.get("LOOP_BURSTS", "30"))):
        self.socks = (sock1, sock2)
        self.size = size
        self.bursts = bursts

    def start(self, tmp):
        mrg = 1 if self.size > 1500 - 14 else 0
        self.logf = os.path.join(tmp, "loop-guest.log")
        args = ["stdbuf", "-oL", riovtest.TESTPMD, "--no-huge", "-m", "1024",
                "--lcores", "0@%d,1@%d" % (riovtest.GUEST_CPU, riovtest.GUEST_CPU),
                "--file-prefix", "riovbg%d" % os.getpid(), "--no-pci"]
        for i, sk in enumerate(self.socks):
            args += ["--vdev", "net_virtio_user%d,path=%s,queues=1,mrg_rxbuf=%d,queue_size=1024,mac=%s"
                     % (i, sk, mrg, (MAC_A, MAC_B)[i])]
        args += ["--", "-i", "--forward-mode=mac", "--nb-cores=1", "--txpkts=%d" % self.size,
                 "--eth-peer=0,%s" % MAC_B, "--eth-peer=1,%s" % MAC_A, "--burst=32",
                 "--rxd=1024", "--txd=1024", "--total-num-mbufs=32768"]
        args += ["--record-burst-stats"] if os.environ.get("BURST_STATS") else []
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=open(self.logf, "w"),
                                     stderr=subprocess.STDOUT)
        riovtest._procs.append(self.proc)
        wait_for(lambda: "testpmd>" in open(self.logf).read(), 60, "loop guest")
        # Enough packets in flight that the loop measures throughput, not round-trip latency:
        # `bursts` bursts of 32 per port (960), just below the 1024-entry rings.
        self.proc.stdin.write(b"start tx_first %d\n" % self.bursts)
        self.proc.stdin.flush()
        wait_for(lambda: "packet forwarding" in open(self.logf).read(), 30, "loop guest forwarding")
        return self

    def stop(self):
        self.proc.stdin.write(b"stop\n")
        self.proc.stdin.flush()
        wait_for(lambda: "Accumulated forward statistics" in open(self.logf).read(), 30, "guest stats")
        self.proc.stdin.write(b"quit\n")
        self.proc.stdin.flush()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        text = open(self.logf).read()
        import re
        rx = [int(x) for x in re.findall(r"Forward statistics for port \d.*?RX-packets:\s+(\d+)", text, re.S)]
        return sum(rx)


def cpu_times():
    """(steal, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[7], sum(v)


def one_run(kind, size, seconds):
    """Returns (packets per second, percent of CPU time stolen during the run)."""
    s0, t0 = cpu_times()
    rate = _one_run(kind, size, seconds)
    s1, t1 = cpu_times()
    return rate, 100.0 * (s1 - s0) / max(1, t1 - t0)


def _one_run(kind, size, seconds):
    tmp = tmpdir("bench-" + kind)
    if kind == "riov":
        sw = Riovd(tmp, 'networks = ( { name = "b"; } );\n'
                        'ports = ( { name = "vm1"; type = "vhost"; net = "b"; socket = "vm1.sock"; },\n'
                        '          { name = "vm2"; type = "vhost"; net = "b"; socket = "vm2.sock"; } );\n')
        sw.start()
    else:
        sw = TestpmdSwitch(tmp).start()
    g = LoopGuest(sw.socket("vm1"), sw.socket("vm2"), size).start(tmp)
    time.sleep(1)  # warm-up
    t0 = time.time()
    time.sleep(seconds)
    rx = g.stop()
    t1 = time.time()
    sw.stop()
    # the guest's counters cover warm-up + measured time + the stop; both switches alike
    return rx / (t1 - t0 + 1.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--sizes", default="64,1518")
    args = ap.parse_args()
    results = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        ratios, rr, tt = [], [], []
        for i in range(args.pairs):
            order = ["riov", "testpmd"]
            random.shuffle(order)
            got = {k: one_run(k, size, args.seconds) for k in order}
            (r_rx, r_st), (t_rx, t_st) = got["riov"], got["testpmd"]
            rr.append(r_rx)
            tt.append(t_rx)
            ratios.append(r_rx / t_rx if t_rx else float("nan"))
            print("  %4d B pair %d (%s first): riov %.2f Mpps (steal %.0f %%), testpmd %.2f Mpps "
                  "(steal %.0f %%), ratio %.2f" % (size, i + 1, order[0], r_rx / 1e6, r_st, t_rx / 1e6,
                                                  t_st, ratios[-1]), flush=True)
        med = statistics.median(ratios)
        rm, tm = statistics.median(rr), statistics.median(tt)
        gbit = lambda pps: pps * (size + 20) * 8 / 1e9  # noqa: E731 (wire size incl. preamble+IFG)
        print("switch %d B: riov %.2f Mpps %.2f Gbit/s, testpmd %.2f Mpps %.2f Gbit/s, ratio riov/testpmd "
              "median %.2f (range %.2f-%.2f, %d pairs); ratio of medians %.2f, of maxima %.2f"
              % (size, rm / 1e6, gbit(rm), tm / 1e6, gbit(tm), med, min(ratios), max(ratios), len(ratios),
                 rm / tm if tm else float("nan"), max(rr) / max(tt) if max(tt) else float("nan")), flush=True)
        results[size] = med
    return 0


if __name__ == "__main__":
    sys.exit(main())
