#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Guest-to-guest TCP (issue 22): iperf3 between two QEMU Linux guests through three switches, same
guests, same CPUs, alternating within each round in random order:

  riov    riovd, its worker and control thread on CPU 0; two vhost-user ports (riovd the client,
          QEMU the server); the guests negotiate the checksum and segmentation offloads
  ovs     Open vSwitch 3.1 with DPDK (Debian's ovs-vswitchd-dpdk, started by this script with its own
          ovsdb-server in a temporary directory, no systemd), userspace-tso-enable=true, a netdev
          bridge with two dpdkvhostuserclient ports, its PMD thread and everything else on CPU 0
  bridge  a Linux bridge with two tap devices; QEMU's own virtio-net moves the packets (no vhost-net
          on this machine), the bridge forwards them in the host's kernel

The guests are the lab's (tests/lab/host: Debian's 6.1 kernel, busybox, iperf3), QEMU under TCG, both
pinned to CPU 1 with their memory in memfds. Each run boots the two guests on the switch, runs
`iperf3 -P 4 -t SECONDS` from vm1 to vm2 and back (-R), and stops everything. Rows at MTU 1500 and at
MTU 9000 (QEMU host_mtu=9000: the guests' interfaces come up at 9000; riovd's network, OVS's ports
and the bridge and taps are set to it).

The guest's CPU is the limit under TCG, so besides the rate each run prints what the switch costs the
guests: TCP segments the sender retransmitted (its RetransSegs), virtio interrupts both guests took
per megabyte delivered (/proc/interrupts), and the bytes per frame the receiving guest got (frames
kept whole by the offloads are up to 64 KB; MTU-sized ones 1,514 or 9,014). Each run also prints the
CPU time the hypervisor stole meanwhile. Per row: the median rate of each switch over the rounds, and
the median and range of riov's per-round ratio to each.

Then the uplink topology (--uplink): one guest on the switch and a Linux peer in a network namespace
on a veth pair whose host end is the switch's uplink (riovd and OVS: DPDK's net_af_packet on it; the
bridge: the veth itself as a bridge port). The peer sends MTU-sized segments with full checksums, as
a NIC delivers them (checksumming, TSO and GSO off on its veth), and runs iperf3 into the guest and
back: riov with and without its receive coalescing (riov-nogro: the eth port's offloads off), OVS
(without userspace TSO here: OVS 3.1 drops TSO frames for a port that cannot take them, and
af_packet cannot), the bridge. The peer's iperf3 runs on the guests' CPU.

Needs root (taps, bridge, hugepages, namespaces), the lab's kernel and guest initramfs (tests/lab/build.sh and
tests/lab/host/build-guest.sh, run here when missing), openvswitch-switch-dpdk (deploy/install-deps.sh)
and 2 MiB hugepages for the vhost-user switches (reserved for the run and given back; OVS cannot run
without them, riovd then runs on 4 KiB pages and OVS is reported as not measured).

usage: bench_tcp.py [--rounds N] [--seconds S] [--switches riov,ovs,bridge] [--mtus 1500,9000]
                    [--uplink riov,riov-nogro,ovs,bridge] [--guest-cpus 1|any]
"""
import argparse
import fcntl
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
sys.path.insert(0, os.path.join(HERE, "..", "lab", "host"))
import riovtest  # noqa: E402
from riovtest import Riovd, TestFailure, log, wait_for  # noqa: E402
import test_vhost_guests as lab  # noqa: E402
import bench_switch  # noqa: E402

SWITCH_CPU = "0"
GUEST_CPUS = "1"
OVS_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
MACS = ("52:54:00:00:01:01", "52:54:00:00:01:02")
IPS = ("10.91.0.1", "10.91.0.2")


def sh(*args, check=True, env=None):
    r = subprocess.run(list(args), capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise TestFailure("%s: exit %d: %s" % (" ".join(args), r.returncode, (r.stderr or r.stdout).strip()[-400:]))
    return r.stdout


class RiovSwitch:
    name = "riov"

    def __init__(self, tmp, mtu, uplink=None, gro=True):
        self.tmp, self.mtu = tmp, mtu
        ports = ",\n".join('  { name = "vm%d"; type = "vhost"; net = "lab"; socket = "vm%d.sock"; client = true; }'
                           % (i, i) for i in (1, 2))
        if uplink:   # the uplink topology: an eth port on the host end of the peer's veth
            ports += (',\n  { name = "up0"; type = "eth"; net = "lab"; devargs = "net_af_packet0,iface=%s";%s }'
                      % (uplink, "" if gro else " offloads = false;"))
        self.riovd = Riovd(tmp, 'networks = ( { name = "lab"; mtu = %d; } );\nports = (\n%s\n);\n' % (mtu, ports),
                           workers=SWITCH_CPU)
        if bench_switch.HUGE_DIR is not None:
            with open(self.riovd.cfg) as f:
                text = f.read()
            with open(self.riovd.cfg, "w") as f:
                f.write(text.replace("memory_mb = 256;", 'hugepages = true; eal_args = "--huge-dir %s";'
                                     % bench_switch.HUGE_DIR, 1))

    def prepare(self, vm, i):
        vm.sock, vm.qemu_server = os.path.join(self.tmp, "vm%d.sock" % i), True

    def start(self):
        pass

    def attach(self, vms):
        """After the guests' QEMUs listen: riovd connects to them."""
        self.riovd.start()
        self.ctl = riovtest.Riovctl(os.path.join(self.tmp, "riovd.sock"))

    def drops(self):
        """riovd's drops on both ports, by cause."""
        out = {}
        for st in self.ctl.json("port", "stats")["ports"]:
            for d in st.get("drops", []):
                out[d["cause"]] = out.get(d["cause"], 0) + int(d.get("packets", 0))
        return out

    def stop(self):
        if self.riovd.proc is not None:
            self.riovd.stop()


class OvsSwitch:
    """ovsdb-server and ovs-vswitchd-dpdk of their own, in tmp (MACHINE-NOTES.md has the recipe)."""
    name = "ovs"

    def __init__(self, tmp, mtu, uplink=None, gro=True):
        self.tmp, self.mtu, self.uplink = tmp, mtu, uplink
        self.db = "unix:%s/db.sock" % tmp
        self.env = dict(os.environ, OVS_RUNDIR=tmp, OVS_LOGDIR=tmp, OVS_DBDIR=tmp, OVS_SYSCONFDIR=tmp)
        self.started = []

    def vsctl(self, *args):
        return sh("ovs-vsctl", "--db=" + self.db, "--timeout=30", *args, env=self.env)

    def prepare(self, vm, i):
        vm.sock, vm.qemu_server = os.path.join(self.tmp, "vm%d.sock" % i), True

    def start(self):
        if not os.path.exists(OVS_VSWITCHD):
            raise TestFailure("%s missing: install openvswitch-switch-dpdk (deploy/install-deps.sh)" % OVS_VSWITCHD)
        if bench_switch.HUGE_DIR is None:
            raise TestFailure("OVS with DPDK needs hugepages and none could be reserved")
        conf = os.path.join(self.tmp, "conf.db")
        sh("ovsdb-tool", "create", conf, OVS_SCHEMA)
        sh("taskset", "-c", SWITCH_CPU, "ovsdb-server", conf, "--remote=punix:%s/db.sock" % self.tmp,
           "--pidfile=%s/ovsdb-server.pid" % self.tmp, "--unixctl=%s/ovsdb-server.ctl" % self.tmp,
           "--log-file=%s/ovsdb-server.log" % self.tmp, "--detach", env=self.env)
        self.started.append("ovsdb-server")
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true",
                   "other_config:pmd-cpu-mask=0x%x" % (1 << int(SWITCH_CPU)),
                   "other_config:dpdk-socket-mem=1024",
                   # OVS 3.1 drops a TSO frame for a port without TSO (it has no software
                   # segmentation): with an af_packet uplink it must run without
                   "other_config:userspace-tso-enable=%s" % ("false" if self.uplink else "true"),
                   'other_config:dpdk-extra="--huge-dir %s --no-pci --file-prefix riovbenchovs%d"'
                   % (bench_switch.HUGE_DIR, os.getpid()))
        sh("taskset", "-c", SWITCH_CPU, OVS_VSWITCHD, self.db, "--pidfile=%s/ovs-vswitchd.pid" % self.tmp,
           "--unixctl=%s/ovs-vswitchd.ctl" % self.tmp, "--log-file=%s/ovs-vswitchd.log" % self.tmp,
           "--detach", env=self.env)
        self.started.append("ovs-vswitchd")
        self.vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev")

    def attach(self, vms):
        for vm in vms:
            n = vm.name
            self.vsctl("add-port", "br0", n, "--", "set", "Interface", n,
                       "type=dpdkvhostuserclient", "options:vhost-server-path=%s" % vm.sock,
                       "mtu_request=%d" % self.mtu)
        if self.uplink:
            self.vsctl("add-port", "br0", "up0", "--", "set", "Interface", "up0", "type=dpdk",
                       "options:dpdk-devargs=net_af_packet0,iface=%s" % self.uplink)

    def drops(self):
        """OVS's drop counters of both ports (Interface statistics: tx_dropped is a full guest ring
        after OVS's own retries, tx_retries those retries)."""
        out = {}
        for i in [i for i in (1, 2) if "vm%d" % i in self.vsctl("list-ports", "br0").split()]:
            text = self.vsctl("get", "Interface", "vm%d" % i, "statistics")
            for k, v in re.findall(r'"?(\w+)"?=(\d+)', text):
                if "drop" in k or "retries" in k or "error" in k:
                    out[k] = out.get(k, 0) + int(v)
        return out

    def stop(self):
        for d in reversed(self.started):
            pidf = os.path.join(self.tmp, d + ".pid")
            try:
                pid = int(open(pidf).read())
                os.kill(pid, 15)
                wait_for(lambda: not os.path.exists("/proc/%d" % pid), 30, d + " exit")
            except (OSError, ValueError):
                pass
        self.started = []
        bench_switch.remove_huge_files("riovbenchovs%d" % os.getpid())


class BridgeSwitch:
    name = "bridge"

    def __init__(self, tmp, mtu, uplink=None, gro=True):
        self.tmp, self.mtu, self.uplink = tmp, mtu, uplink
        self.br = "rbbr%d" % (os.getpid() % 10000)
        self.taps = ["%st%d" % (self.br, i) for i in (1, 2)]

    def prepare(self, vm, i):
        vm.tap = self.taps[i - 1]

    def start(self):
        sh("ip", "link", "add", self.br, "type", "bridge", "stp_state", "0")
        sh("ip", "link", "set", self.br, "mtu", str(self.mtu), "up")

    def attach(self, vms):
        for vm in vms:
            t = vm.tap
            wait_for(lambda: os.path.exists("/sys/class/net/" + t), 30, "tap " + t)
            sh("ip", "link", "set", t, "mtu", str(self.mtu), "master", self.br, "up")
        if self.uplink:
            sh("ip", "link", "set", self.uplink, "master", self.br, "up")

    def drops(self):
        """The taps' drop counters (tx_dropped: the tap's queue toward QEMU overflowed)."""
        out = {}
        for t in [t for t in self.taps if os.path.exists("/sys/class/net/" + t)]:
            for k in ("tx_dropped", "rx_dropped"):
                with open("/sys/class/net/%s/statistics/%s" % (t, k)) as f:
                    out[k] = out.get(k, 0) + int(f.read())
        return out

    def stop(self):
        for dev in self.taps + [self.br]:
            sh("ip", "link", "del", dev, check=False)


SWITCHES = {"riov": RiovSwitch, "ovs": OvsSwitch, "bridge": BridgeSwitch}
# the uplink topology also measures riov without receive coalescing
UPLINK_KINDS = {"riov": (RiovSwitch, True), "riov-nogro": (RiovSwitch, False), "ovs": (OvsSwitch, True),
                "bridge": (BridgeSwitch, True)}


def guest_counters(vm):
    """The guest's eth0 byte and frame counters, TCP retransmissions and virtio interrupts."""
    rc, out = vm.run("cat /sys/class/net/eth0/statistics/rx_bytes /sys/class/net/eth0/statistics/rx_packets "
                     "/sys/class/net/eth0/statistics/tx_bytes /sys/class/net/eth0/statistics/tx_packets; "
                     "grep '^Tcp:' /proc/net/snmp; grep virtio /proc/interrupts")
    nums = [int(l) for l in out if l.strip().isdigit()]
    tcp = [l.split() for l in out if l.startswith("Tcp:")]
    irq = 0
    for l in out:
        if "virtio" in l and ":" in l:
            irq += sum(int(x) for x in l.split(":", 1)[1].split() if x.isdigit())
    if len(nums) < 4 or len(tcp) < 2:
        raise TestFailure("%s: counters not read: %r" % (vm.name, out))
    return {"rx_bytes": nums[0], "rx_packets": nums[1], "tx_bytes": nums[2], "tx_packets": nums[3],
            "retrans": int(tcp[1][tcp[0].index("RetransSegs")]), "irq": irq}


def one_direction(sw, vms, reverse, seconds):
    sender, receiver = (vms[1], vms[0]) if reverse else (vms[0], vms[1])
    b = [guest_counters(v) for v in vms]
    db = sw.drops()
    r = lab.iperf(vms[0], vms[1].ip, "-R" if reverse else "", seconds,
                  "iperf3 -P 4 %s" % ("vm2 -> vm1" if reverse else "vm1 -> vm2"))
    a = [guest_counters(v) for v in vms]
    da = sw.drops()
    drops = {k: da[k] - db.get(k, 0) for k in da if da[k] - db.get(k, 0)}
    d = [{k: a[i][k] - b[i][k] for k in a[i]} for i in range(2)]
    rcv, snd = d[vms.index(receiver)], d[vms.index(sender)]
    mb = rcv["rx_bytes"] / 1e6
    return {"mbit": r["receiver"] / 1e6, "retrans": snd["retrans"],
            "irq_per_mb": (d[0]["irq"] + d[1]["irq"]) / mb if mb else float("nan"),
            "frame": rcv["rx_bytes"] / rcv["rx_packets"] if rcv["rx_packets"] else 0,
            "drops": drops}


def one_run(kind, mtu, seconds, env, initrd):
    tmp = riovtest.tmpdir("bench-tcp-%s-%d" % (kind, mtu))
    sw = SWITCHES[kind](tmp, mtu)
    vms = [lab.VM("vm%d" % i, tmp, None, MACS[i - 1], IPS[i - 1], True, False, initrd, env["KERNEL"])
           for i in (1, 2)]
    s0, t0 = bench_switch.cpu_times()
    try:
        for i, vm in enumerate(vms, 1):
            sw.prepare(vm, i)
            vm.cpus = GUEST_CPUS if GUEST_CPUS != "any" else None
            if mtu != 1500:
                vm.nic_extra = ",host_mtu=%d" % mtu
        sw.start()
        for vm in vms:
            vm.start()
        sw.attach(vms)
        for vm in vms:
            vm.wait_line(r"^GUEST-READY", 0, 180, "boot")
        wait_for(lambda: lab.ping(vms[0], vms[1].ip, 2)[1] > 0, 120, "vm1 pings vm2")   # ARP, links up
        lab.iperf_server(vms[1])
        out = {"fwd": one_direction(sw, vms, False, seconds), "rev": one_direction(sw, vms, True, seconds)}
    finally:
        for vm in vms:
            vm.stop()
        sw.stop()
    s1, t1 = bench_switch.cpu_times()
    out["steal"] = 100.0 * (s1 - s0) / max(1, t1 - t0)
    shutil.rmtree(tmp, ignore_errors=True)
    return out


UPLINK_PEER_IP = "10.91.0.50"


def peer_iperf(peer, ip, seconds, reverse):
    """iperf3 -P 4 from the peer's namespace, on the guests' CPU."""
    args = ["ip", "netns", "exec", peer.ns, "taskset", "-c", GUEST_CPUS if GUEST_CPUS != "any" else "0-1",
            "iperf3", "-c", ip, "-P", "4", "-t", str(seconds)] + (["-R"] if reverse else [])
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=seconds * 6 + 60)
    except subprocess.TimeoutExpired:
        raise TestFailure("peer iperf3%s did not finish" % (" -R" if reverse else ""))
    if r.returncode != 0:
        raise TestFailure("peer iperf3: %s" % (r.stderr or r.stdout).strip()[-300:])
    return lab.parse_iperf(lab._Named("peer"), r.stdout.splitlines(), "peer iperf3%s" % (" -R" if reverse else ""))


def uplink_run(kind, seconds, env, initrd):
    """One guest (vm2) on the switch, the peer on its uplink: iperf3 from the peer into the guest
    (the direction coalescing serves) and back."""
    tmp = riovtest.tmpdir("bench-tcp-uplink-%s" % kind)
    peer = riovtest.VethPeer("bup", UPLINK_PEER_IP)
    cls, gro = UPLINK_KINDS[kind]
    sw = cls(tmp, 1500, uplink=peer.host_if, gro=gro)
    vm = lab.VM("vm2", tmp, None, MACS[1], IPS[1], True, False, initrd, env["KERNEL"])
    s0, t0 = bench_switch.cpu_times()
    try:
        peer.start()
        sw.prepare(vm, 2)
        vm.cpus = GUEST_CPUS if GUEST_CPUS != "any" else None
        sw.start()
        vm.start()
        sw.attach([vm])
        vm.wait_line(r"^GUEST-READY", 0, 180, "boot")
        wait_for(lambda: peer.pings(vm.ip), 120, "the peer pings vm2")
        lab.iperf_server(vm)
        out = {}
        for d, rev in (("in", False), ("out", True)):
            b = guest_counters(vm)
            r = peer_iperf(peer, vm.ip, seconds, rev)
            a = guest_counters(vm)
            rx = a["rx_bytes"] - b["rx_bytes"]
            out[d] = {"mbit": r["receiver"] / 1e6, "frame": rx / max(1, a["rx_packets"] - b["rx_packets"]),
                      "irq_per_mb": (a["irq"] - b["irq"]) / max(1e-9, rx / 1e6)}
    finally:
        vm.stop()
        sw.stop()
        peer.stop()
    s1, t1 = bench_switch.cpu_times()
    out["steal"] = 100.0 * (s1 - s0) / max(1, t1 - t0)
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def run_uplink(args, env, initrd):
    kinds = [k for k in args.uplink.split(",") if k]
    bad = [k for k in kinds if k not in UPLINK_KINDS]
    if bad:
        sys.exit("bench_tcp: unknown uplink switch(es) %s (%s)" % (", ".join(bad), ", ".join(UPLINK_KINDS)))
    res, failed = {}, set()
    for rnd in range(1, args.rounds + 1):
        order = [k for k in kinds if k not in failed]
        random.shuffle(order)
        for kind in order:
            try:
                r = uplink_run(kind, args.seconds, env, initrd)
            except TestFailure as e:
                print("  uplink round %d %-10s: not measured: %s" % (rnd, kind, str(e).splitlines()[0]), flush=True)
                failed.add(kind)
                continue
            for d in ("in", "out"):
                res.setdefault((kind, d), []).append(r[d])
                print("  uplink round %d %-10s %s: %6.0f Mbit/s, %5.1f irq/MB, %6.0f B/frame to the guest "
                      "(steal %.0f %%)" % (rnd, kind, "peer->vm2" if d == "in" else "vm2->peer", r[d]["mbit"],
                                           r[d]["irq_per_mb"], r[d]["frame"], r["steal"]), flush=True)
    for d in ("in", "out"):
        parts = []
        for kind in kinds:
            runs = res.get((kind, d))
            parts.append("%s %.0f Mbit/s (%.0f B/frame)" % (kind, statistics.median(x["mbit"] for x in runs),
                                                           statistics.median(x["frame"] for x in runs))
                         if runs else "%s not measured" % kind)
        print("tcp uplink %s: %s" % ("peer->vm2" if d == "in" else "vm2->peer", "; ".join(parts)), flush=True)
        print_ratios("tcp uplink %s" % ("peer->vm2" if d == "in" else "vm2->peer"), {k: res.get((k, d)) for k in kinds})
    return 1 if failed else 0


def lab_inputs():
    if not os.path.exists(os.path.join(lab.CACHE, "lab.env")):
        log("bench_tcp: building the lab's kernel and busybox (tests/lab/build.sh)")
        subprocess.run([os.path.join(HERE, "..", "lab", "build.sh")], check=True)
    return lab.lab_env(), lab.guest_initrd()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--switches", default="riov,ovs,bridge")
    ap.add_argument("--mtus", default="1500,9000")
    ap.add_argument("--uplink", default="riov,riov-nogro,ovs,bridge",
                    help="switches for the uplink topology (a Linux peer on a veth into one guest; empty: skip)")
    ap.add_argument("--guest-cpus", default=GUEST_CPUS,
                    help="CPU list the guests' QEMUs are pinned to (default %s; any: not pinned, they then "
                         "share CPU %s with the switch)" % (GUEST_CPUS, SWITCH_CPU))
    args = ap.parse_args()
    globals()["GUEST_CPUS"] = args.guest_cpus
    kinds = [k for k in args.switches.split(",") if k]
    bad = [k for k in kinds if k not in SWITCHES]
    if bad:
        sys.exit("bench_tcp: unknown switch(es) %s (riov, ovs, bridge)" % ", ".join(bad))
    mtus = [int(m) for m in args.mtus.split(",")]
    env, initrd = lab_inputs()
    os.makedirs(lab.CACHE, exist_ok=True)
    lockf = open(os.path.join(lab.CACHE, "run.lock"), "w")
    fcntl.flock(lockf, fcntl.LOCK_EX)   # one QEMU workload at a time
    huge = bench_switch.Hugepages()
    try:
        huge.reserve()
    except OSError as e:
        print("bench_tcp: %s; riovd on 4 KiB pages, OVS not measured" % e, flush=True)
    try:
        rc = run(args, kinds, mtus, env, initrd) if kinds else 0
        if args.uplink:
            rc |= run_uplink(args, env, initrd)
        return rc
    finally:
        huge.release()
        riovtest._cleanup()


def print_ratios(label, runs):
    """riov's per-round rate against each other switch's: median and range (runs: kind -> results)."""
    mine = runs.get("riov")
    for other, theirs in runs.items():
        if other == "riov" or not mine or not theirs:
            continue
        n = min(len(mine), len(theirs))
        ratios = [mine[i]["mbit"] / theirs[i]["mbit"] for i in range(n) if theirs[i]["mbit"]]
        if ratios:
            print("%s: ratio riov/%s median %.2f (range %.2f-%.2f, %d rounds)" % (
                label, other, statistics.median(ratios), min(ratios), max(ratios), len(ratios)), flush=True)


def run(args, kinds, mtus, env, initrd):
    res = {}   # (kind, mtu, dir) -> [run results]
    failed = set()
    for rnd in range(1, args.rounds + 1):
        for mtu in mtus:
            order = [k for k in kinds if (k, mtu) not in failed]
            random.shuffle(order)
            for kind in order:
                try:
                    r = one_run(kind, mtu, args.seconds, env, initrd)
                except TestFailure as e:
                    first = str(e).splitlines()[0]
                    print("  round %d MTU %d %-6s: not measured: %s" % (rnd, mtu, kind, first), flush=True)
                    log(str(e))
                    failed.add((kind, mtu))
                    continue
                for d in ("fwd", "rev"):
                    x = r[d]
                    res.setdefault((kind, mtu, d), []).append(x)
                    print("  round %d MTU %d %-6s %s: %6.0f Mbit/s, %5d retransmitted, %5.1f irq/MB, %6.0f B/frame, "
                          "switch drops: %s (steal %.0f %%)" % (
                              rnd, mtu, kind, "vm1->vm2" if d == "fwd" else "vm2->vm1", x["mbit"], x["retrans"],
                              x["irq_per_mb"], x["frame"],
                              ", ".join("%s %d" % kv for kv in sorted(x["drops"].items())) or "none", r["steal"]),
                          flush=True)
    for mtu in mtus:
        for d in ("fwd", "rev"):
            way = "vm1->vm2" if d == "fwd" else "vm2->vm1"
            parts = []
            for kind in kinds:
                runs = res.get((kind, mtu, d))
                if not runs:
                    parts.append("%s not measured" % kind)
                    continue
                med = lambda key: statistics.median(x[key] for x in runs)  # noqa: E731
                parts.append("%s %.0f Mbit/s (%d retransmitted, %.1f irq/MB, %.0f B/frame)" % (
                    kind, med("mbit"), med("retrans"), med("irq_per_mb"), med("frame")))
            print("tcp MTU %d %s: %s" % (mtu, way, "; ".join(parts)), flush=True)
            print_ratios("tcp MTU %d %s" % (mtu, way), {k: res.get((k, mtu, d)) for k in kinds})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
