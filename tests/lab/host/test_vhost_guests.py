#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Linux guests of riovd: QEMU VMs on this host (TCG) whose Linux virtio-net driver is served by
riovd over vhost-user, with guest memory in memfds (memory-backend-memfd,share=on).

  ping            two guests ping each other through riovd (guest 1: riovd is the vhost-user
                  client, QEMU the server; guest 2: riovd the server, QEMU reconnects)
  ping-viommu     the same with a vIOMMU in each guest (intel-iommu, iommu_platform=on, ats=on):
                  riovd serves QEMU's IOTLB messages and translates through nested domains
  reboot-restart  a ping stream from guest 1 survives guest 2's reboot and a riovd restart
  reboot-restart-viommu  the same with the vIOMMU
  mq              two guests with 2 vCPUs and a 2-queue-pair NIC (queues=2, mq=on): ping both
                  ways, iperf3 -P 4 each way, both queue pairs of each port carry traffic, and a
                  guest switching `ethtool -L eth0 combined 1` and back to 2 mid-stream keeps its
                  iperf3 run going (issue 23)
  hotplug         40 memfd DIMMs (128 MiB each) hot-added to a running guest under a 10/s ping
                  from the other: 0 lost; then offlined in the guest and hot-removed, 0 lost;
                  riovd's mapped guest memory and RSS back where they were
  hotplug-mq      the same with multiqueue guests
  mq-restart      multiqueue guests across riovd's SIGKILL and SIGTERM restarts: the ping stream
                  resumes and both queue pairs carry traffic again
  libvirt         a multiqueue guest started by libvirtd (Debian's, started by the test without
                  systemd) on a riovd port, riovd as the vhost-user server and as the client,
                  pings the other (plain QEMU) guest; the domain XML is docs/libvirt.md's
  kill-restart    restart under traffic (issue 12): the guests ping each other 5 times a second
                  while riovd is killed with SIGKILL and restarted 3 times: at most 5 pings lost
                  per kill in each direction, neither guest restarted; vm1 on packed rings goes
                  on from riovd's ring records (issue 18)
  tso-sender      a dpdk-testpmd guest (csum engine, tso set 1448) sends TSO frames through riovd to
                  a guest that takes them whole and to one riovd segments them for (issue 22)
  uplink-gro      TCP from a Linux peer on an uplink (veth, net_af_packet) to a guest that takes TSO:
                  riovd coalesces the peer's segments into TSO frames (issue 22); and without
  migrate         live migration (issue 12): guest 2 moves from riovd port vm2 to port vm2b (QEMU
                  `migrate` to a second QEMU on this host started with -incoming) while guest 1
                  pings it 5 times a second: the migration completes with riovd writing the dirty
                  log, at most 1 s of pings is lost, and guest 2 is reached through vm2b (the
                  destination QEMU's SEND_RARP: riovd announces the guest from its new port)
  overlay-ping    two riov nodes (riovds in network namespaces, uplinks on the ends of one veth,
                  network blue with VNI 100 and each other as remote VTEP), a guest on each: ARP
                  and pings (also 1,400 bytes and the MTU, 1,450) cross the VXLAN overlay both ways,
                  iperf3 too; the VTEP ports' counters agree, no fabric drops (issue 13)
  evpn-ping       the same two nodes with nothing configured but EVPN (network blue `--evpn`, FRR's
                  zebra + bgpd in each namespace): flood lists from type-3 routes, the guests' MACs
                  type-2 routes at the other node and EVPN entries of its switch; pings both ways
                  (issue 14)

Nothing is faked: riovd is the built daemon, the guests are Debian's kernel under QEMU. Needs
tests/lab/build.sh (kernel, busybox) and tests/lab/host/build-guest.sh (the guest initramfs).
Prints one "LAB-RESULT host-<test> PASS|FAIL <detail>" line per test. Only one QEMU at a time runs
on this machine's lab lock ($RIOV_LAB_CACHE/run.lock).

Usage: test_vhost_guests.py [test ...]     (RIOV_BUILD: the build directory, default build/)
"""
import fcntl
import json
import signal
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "system"))
import riovtest  # noqa: E402
import frr  # noqa: E402
import tso_sender  # noqa: E402
from riovtest import Riovd, Riovctl, TestFailure, log, wait_for  # noqa: E402

CACHE = os.environ.get("RIOV_LAB_CACHE", "/var/cache/riov-lab")
QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
TMPDIRS = []   # per test: removed when it passed, kept for a look when it failed
# riovd shares the two CPUs with two TCG guests: its worker naps when idle
IDLE_SLEEP_US = "200"
# memory hot-plug guests: -m 256,slots=HP_SLOTS,maxmem=...; DIMMs of HP_DIMM_MB
HP_SLOTS = 64
HP_DIMM_MB = 128
HP_DIMMS = 40
# riovd's RSS after the DIMMs went may exceed its RSS before them by this much
RSS_SLACK_KB = 32 * 1024
# iperf3's length (s) in the mq test's run across four ethtool -L switches (paced by its reports)
ETHTOOL_RUN_S = 40
# what riovd logs when it refuses QEMU's per-queue-pair ADD_MEM_REG duplicates (issue 23)
ADD_MEM_REG_FAILED = "ADD_MEM_REG failed"


class Skip(Exception):
    """The test cannot run on this machine (reported as LAB-RESULT ... SKIP)."""


def lab_env():
    env = {}
    with open(os.path.join(CACHE, "lab.env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            env[k] = v
    return env


class QMP:
    """A QMP connection to one QEMU (-qmp unix:PATH,server=on,wait=off): commands with their
    answers, and the asynchronous events QEMU sends between them (DEVICE_DELETED...)."""

    def __init__(self, path, who, timeout=60):
        self.who = who
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.f = self.s.makefile("rb")
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise TestFailure("%s: QMP greeting %r" % (who, greeting))
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise TestFailure("%s: QMP connection closed (QEMU gone?)" % self.who)
        return json.loads(line)

    def cmd(self, execute, **arguments):
        """Run a QMP command; returns its "return" value, raises TestFailure with QEMU's error."""
        msg = {"execute": execute}
        if arguments:
            msg["arguments"] = arguments
        self.s.sendall((json.dumps(msg) + "\n").encode())
        while True:
            r = self._read()
            if "event" in r:
                self.events.append(r)
            elif "error" in r:
                raise TestFailure("%s: QMP %s %s: %s" % (self.who, execute, json.dumps(arguments),
                                                         r["error"].get("desc", r["error"])))
            elif "return" in r:
                return r["return"]

    def wait_event(self, name, timeout, what, **data):
        """Wait for event NAME whose data has the items DATA (consumed); returns it."""
        end = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name and all(e.get("data", {}).get(k) == v for k, v in data.items()):
                    return self.events.pop(i)
            left = end - time.time()
            if left <= 0:
                raise TestFailure("%s: timed out waiting for %s (QMP event %s %r)" % (self.who, what, name,
                                                                                      data))
            self.s.settimeout(max(left, 0.1))
            try:
                r = self._read()
            except socket.timeout:
                continue
            finally:
                self.s.settimeout(60)
            if "event" in r:
                self.events.append(r)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class VM:
    """One QEMU guest; its serial console is this object's pipe (a command loop, see guest-init).

    smp: vCPUs; queues: the NIC's queue pairs (> 1: vhost-user queues=N, virtio-net mq=on);
    hotplug: memory slots for DIMMs (-m 256,slots=HP_SLOTS,maxmem=...), hot-added memory onlined
    movable so that it can be offlined and removed again."""

    def __init__(self, name, tmp, sock, mac, ip, qemu_server, viommu, initrd, kernel, smp=1, queues=1,
                 hotplug=False, incoming=None):
        self.name, self.tmp, self.sock, self.mac, self.ip = name, tmp, sock, mac, ip
        self.nic_extra = ""   # more virtio-net-pci properties (",guest_tso4=off", ...)
        self.qemu_server, self.viommu = qemu_server, viommu
        self.initrd, self.kernel = initrd, kernel
        self.smp, self.queues, self.hotplug = smp, queues, hotplug
        self.incoming = incoming   # a migration destination: QEMU's -incoming URI
        self.tap = None            # a tap device's name: QEMU's own virtio-net on it instead of vhost-user
        self.cpus = None           # a CPU list to pin QEMU to (taskset -c)
        self.mon = os.path.join(tmp, name + ".mon")
        self.qmp_path = os.path.join(tmp, name + ".qmp")
        self.logf = os.path.join(tmp, name + ".console")
        self.lines = []
        self.lock = threading.Lock()
        self.proc = None
        self.seq = 0
        self._qmp = None

    def start(self):
        machine = "q35,kernel-irqchip=split" if self.viommu else "q35"
        append = "console=ttyS0 loglevel=1 panic=-1 riov.ip=%s/24" % self.ip
        nic = "virtio-net-pci,netdev=n0,mac=%s,vectors=0" % self.mac   # vectors=0: MACHINE-NOTES
        netdev = "vhost-user,id=n0,chardev=c0"
        if self.queues > 1:
            netdev += ",queues=%d" % self.queues
            nic += ",mq=on"
        chardev = "socket,id=c0,path=%s" % self.sock
        chardev += ",server=on,wait=off" if self.qemu_server else ",reconnect=1"
        net = ["-chardev", chardev, "-netdev", netdev]
        if self.tap:   # no vhost-net on this machine: QEMU moves the packets itself
            net = ["-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no,vhost=off" % self.tap]
        mem = "256"
        if self.hotplug:
            mem += ",slots=%d,maxmem=%dM" % (HP_SLOTS, 256 + HP_SLOTS * HP_DIMM_MB)
            append += " memhp_default_state=online_movable"
        args = [QEMU, "-machine", machine, "-accel", "tcg", "-cpu", "max", "-smp", str(self.smp), "-m", mem,
                "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
                "-nographic", "-nodefaults",
                "-serial", "stdio", "-monitor", "unix:%s,server=on,wait=off" % self.mon,
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
                "-kernel", self.kernel, "-initrd", self.initrd, "-append", append] + net
        if self.cpus is not None:
            args = ["taskset", "-c", self.cpus] + args
        if os.path.exists("/usr/share/qemu/qboot.rom"):
            args += ["-bios", "/usr/share/qemu/qboot.rom"]
        if self.viommu:
            args += ["-device", "intel-iommu,intremap=on,caching-mode=on,device-iotlb=on"]
            nic += ",iommu_platform=on,ats=on,disable-legacy=on"
            args[args.index("-append") + 1] += " intel_iommu=on"
        args += ["-device", nic + self.nic_extra]
        if self.incoming:
            args += ["-incoming", self.incoming]
        with open(self.logf, "a") as f:
            f.write("# " + " ".join(args) + "\n")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        riovtest._procs.append(self.proc)
        threading.Thread(target=self._reader, args=(self.proc.stdout,), daemon=True).start()
        return self

    def _reader(self, stream):
        with open(self.logf, "a", errors="replace") as out:
            for raw in stream:
                line = raw.decode(errors="replace").rstrip("\r\n")
                out.write(line + "\n")
                out.flush()
                with self.lock:
                    self.lines.append(line)

    def exited(self):
        """None while the VM runs, else a description of how it ended."""
        if self.proc.poll() is None:
            return None
        return "QEMU exited (%d)" % self.proc.returncode

    def _write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def qmp(self):
        if self._qmp is None:
            self._qmp = QMP(self.qmp_path, self.name)
        return self._qmp

    def mark(self):
        with self.lock:
            return len(self.lines)

    def find(self, pattern, since=0):
        rx = re.compile(pattern)
        with self.lock:
            return [m for m in (rx.search(l) for l in self.lines[since:]) if m]

    def wait_line(self, pattern, since, timeout, what):
        def seen():
            gone = self.exited()
            if gone:
                raise TestFailure("%s: %s; console:\n%s" % (self.name, gone, self.tail()))
            return self.find(pattern, since)
        try:
            wait_for(seen, timeout, "%s: %s" % (self.name, what))
        except TestFailure as e:
            raise TestFailure("%s; last console lines:\n%s" % (e, self.tail()))
        return self.find(pattern, since)[0]

    def tail(self, n=15):
        with self.lock:
            return "\n".join(self.lines[-n:])

    def run(self, cmd, timeout=60):
        """Run a shell command line in the guest; returns (exit status, output lines)."""
        self.seq += 1
        tag = "@@%s-%d" % (self.name, self.seq)
        since = self.mark()
        self._write(("echo %s-B; %s; echo %s-E $?\n" % (tag, cmd, tag)).encode())
        m = self.wait_line(r"^%s-E (\d+)" % re.escape(tag), since, timeout, "command '%s'" % cmd)
        with self.lock:
            out = self.lines[since:]
        start = next((i for i, l in enumerate(out) if l == tag + "-B"), -1)
        end = next((i for i, l in enumerate(out) if l.startswith(tag + "-E")), len(out))
        return int(m.group(1)), out[start + 1:end]

    def send(self, cmd):
        """Start a command line in the background of the guest's command loop."""
        self._write((cmd + "\n").encode())

    def monitor(self, cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.mon)
        s.recv(4096)           # banner and prompt
        s.sendall((cmd + "\n").encode())
        time.sleep(0.2)
        s.close()

    def stop(self):
        if self._qmp is not None:
            self._qmp.close()
            self._qmp = None
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def guest_initrd():
    r = subprocess.run([os.path.join(HERE, "build-guest.sh")], capture_output=True, text=True)
    if r.returncode != 0:
        raise TestFailure("build-guest.sh failed: %s" % (r.stderr.strip().splitlines() or ["?"])[-1])
    return r.stdout.strip()


def port_cfg(name, client, queues=1):
    q = " queues = %d;" % queues if queues > 1 else ""
    return ('  { name = "%s"; type = "vhost"; net = "lab"; socket = "%s.sock"; client = %s;%s }'
            % (name, name, "true" if client else "false", q))


class Setup:
    """riovd with two vhost ports on one network and two Linux guests on them (smp vCPUs each,
    queues queue pairs on each NIC and riovd port, memory slots for DIMMs with hotplug)."""

    def __init__(self, name, viommu=False, smp=1, queues=1, hotplug=False, extra_ports=(), mtu=0):
        env = lab_env()
        initrd = guest_initrd()
        self.env, self.initrd = env, initrd
        self.tmp = riovtest.tmpdir("host-" + name)
        TMPDIRS.append(self.tmp)
        ports = [port_cfg("vm1", True, queues), port_cfg("vm2", False, queues)]
        ports += [port_cfg(p, False, queues) for p in extra_ports]
        cfg = ('networks = ( { name = "lab";%s } );\n'
               'ports = (\n%s\n);\n' % (" mtu = %d;" % mtu if mtu else "", ",\n".join(ports)))
        self.riovd = Riovd(self.tmp, cfg, extra_args=["--idle-sleep-us", IDLE_SLEEP_US])
        self.ctl = Riovctl(os.path.join(self.tmp, "riovd.sock"))
        self.vm1 = VM("vm1", self.tmp, self.riovd.socket("vm1"), "52:54:00:00:01:01", "10.91.0.1", True,
                      viommu, initrd, env["KERNEL"], smp=smp, queues=queues, hotplug=hotplug)
        self.vm2 = VM("vm2", self.tmp, self.riovd.socket("vm2"), "52:54:00:00:01:02", "10.91.0.2", False,
                      viommu, initrd, env["KERNEL"], smp=smp, queues=queues, hotplug=hotplug)

    def start(self, boot_timeout=120):
        self.riovd.start()
        self.vm1.start()
        self.vm2.start()
        for vm in (self.vm1, self.vm2):
            vm.wait_line(r"^GUEST-READY", 0, boot_timeout, "boot")
        log("  both guests up")
        return self

    def vms(self):
        return (self.vm1, self.vm2)

    def port(self, name):
        """riovctl port stats NAME (JSON; proto3 leaves zero counters out)."""
        st = self.ctl.json("port", "stats", name)["ports"]
        if len(st) != 1:
            raise TestFailure("riovctl port stats %s: %r" % (name, st))
        return st[0]

    def stop(self):
        for vm in (self.vm1, self.vm2):
            vm.stop()
        if self.riovd.proc is not None:
            self.riovd.stop()


def ping(vm, ip, count, timeout=90):
    """ping from vm; returns (sent, received). Counted runs (more than 3) send 5 a second; a
    warm-up (ARP, the link coming up) keeps ping's own second between requests."""
    rc, out = vm.run("ping -c %d%s -W 2 %s" % (count, " -i 0.2" if count > 3 else "", ip), timeout)
    text = "\n".join(out)
    m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
    if not m:
        raise TestFailure("%s: no ping summary:\n%s" % (vm.name, text))
    return int(m.group(1)), int(m.group(2))


def both_ways(s, count=5):
    # the first packets may wait for ARP and for the link: warm up, then count
    ping(s.vm1, s.vm2.ip, 2)
    a = ping(s.vm1, s.vm2.ip, count)
    b = ping(s.vm2, s.vm1.ip, count)
    riovtest.check(a[1] == count, "vm1 -> vm2: %d/%d echo replies" % (a[1], a[0]))
    riovtest.check(b[1] == count, "vm2 -> vm1: %d/%d echo replies" % (b[1], b[0]))
    return a, b


def port_counts(s, name):
    st = s.port(name)
    return int(st.get("rx_packets", 0)), int(st.get("tx_packets", 0))


def packed_vm1(s):
    """vm1's NIC on packed virtqueues (virtio-net-pci packed=on, issue 18), vm2's on split ones:
    riovd copies between the two kinds both ways. Call before s.start()."""
    s.vm1.nic_extra = ",packed=on"
    return s


def check_packed_vm1(s):
    pl = {p["spec"]["name"]: p for p in s.ctl.json("port", "list")["ports"]}
    names = {n: pl[n].get("feature_names", []) for n in ("vm1", "vm2")}
    riovtest.check("packed" in names["vm1"] and "packed" not in names["vm2"],
                   "vm1 negotiated packed rings, vm2 split ones (vm1: %s)" % ",".join(names["vm1"]))


def test_ping():
    s = packed_vm1(Setup("ping")).start()
    try:
        check_packed_vm1(s)
        both_ways(s)
        r1, t1 = port_counts(s, "vm1")
        r2, t2 = port_counts(s, "vm2")
        riovtest.check(r1 >= 12 and r2 >= 12 and t1 >= 12 and t2 >= 12,
                       "riovd counted the traffic: vm1 rx %d tx %d, vm2 rx %d tx %d" % (r1, t1, r2, t2))
        return "vm1 (packed rings) <-> vm2 (split) 5/5 each way through riovd (vm1 rx %d tx %d packets)" % (
            r1, t1)
    finally:
        s.stop()


def test_ping_viommu():
    s = packed_vm1(Setup("viommu", viommu=True)).start(boot_timeout=180)
    try:
        check_packed_vm1(s)
        rc, out = s.vm1.run("dmesg | grep -c 'DMAR: IOMMU enabled'")
        riovtest.check(rc == 0 and out and out[-1].strip() != "0", "vm1's kernel runs the vIOMMU")
        both_ways(s)
        st = s.port("vm1")
        hits, misses = int(st.get("iotlb_hits", 0)), int(st.get("iotlb_misses", 0))
        riovtest.check(misses > 0, "riovd translated through the guest's IOTLB (hits %d, misses %d)"
                       % (hits, misses))
        return "vm1 (packed rings) <-> vm2 (split) 5/5 each way with a vIOMMU in each guest (riov IOTLB " \
            "hits %d misses %d)" % (hits, misses)
    finally:
        s.stop()


def seqs(vm, since):
    return [int(m.group(1)) for m in vm.find(r"seq=(\d+) ttl", since)]


def test_reboot_restart(viommu=False):
    s = Setup("reboot", viommu=viommu).start(boot_timeout=180 if viommu else 120)
    try:
        ping(s.vm1, s.vm2.ip, 2)
        since = s.vm1.mark()
        s.vm1.send("ping -i 0.2 %s &" % s.vm2.ip)
        wait_for(lambda: len(seqs(s.vm1, since)) >= 5, 60, "5 replies of the ping stream")

        # guest 2 reboots (a reset, as a power cycle) while guest 1 keeps pinging
        last = max(seqs(s.vm1, since))
        m2 = s.vm2.mark()
        s.vm2.monitor("system_reset")
        s.vm2.wait_line(r"^GUEST-READY", m2, 120, "boot after the reset")
        wait_for(lambda: any(q > last + 1 for q in seqs(s.vm1, since)) and
                 len([q for q in seqs(s.vm1, since) if q > last]) >= 5, 60,
                 "the ping stream to continue after vm2's reboot")
        after_reboot = max(seqs(s.vm1, since))
        log("  ping stream continues after vm2's reboot (seq %d -> %d)" % (last, after_reboot))

        # riovd restarts: guest 1 is QEMU-server (riovd reconnects), guest 2 QEMU-client
        s.riovd.stop()
        mark_restart = max(seqs(s.vm1, since))
        s.riovd.start()
        wait_for(lambda: len([q for q in seqs(s.vm1, since) if q > mark_restart]) >= 5, 60,
                 "the ping stream to continue after the riovd restart")
        s.vm1.run("kill %1 2>/dev/null; killall ping 2>/dev/null; true")
        got = seqs(s.vm1, since)
        sent = max(got) + 1
        lost = sent - len(set(got))
        riovtest.check(max(got) > mark_restart + 4, "replies after the restart (seq %d -> %d)"
                       % (mark_restart, max(got)))
        return ("ping stream vm1 -> vm2 across vm2's reboot and a riovd restart: %d of %d replies "
                "(%d lost in the two gaps)" % (len(set(got)), sent, lost))
    finally:
        s.stop()


def test_reboot_restart_viommu():
    return test_reboot_restart(viommu=True) + " (vIOMMU)"


# ---------------------------------------------------------------- issue 23: multiqueue, hot-plug

def first_line_plus(e, extra):
    """TestFailure e with extra appended to its first line (the LAB-RESULT line shows only that)."""
    head, sep, rest = str(e).partition("\n")
    return TestFailure(head + extra + sep + rest)


def symptom_hint(s):
    """'' or a note naming issue 23's symptom as riovd and QEMU logged it, for a failure's first line."""
    text = s.riovd.log_text()
    n = text.count(ADD_MEM_REG_FAILED)
    notes = []
    if n:
        first = next(l for l in text.splitlines() if ADD_MEM_REG_FAILED in l)
        notes.append("riovd logged '%s' %d times (issue 23), first: %s" % (ADD_MEM_REG_FAILED, n, first.strip()))
    for vm in s.vms():
        k = len(vm.find(r"vhost_set_mem_table failed|unable to start vhost net|vhost-user.*failed"))
        if k:
            notes.append("%s's QEMU logged %d vhost failures (%s)" % (
                vm.name, k, vm.find(r"vhost_set_mem_table failed|unable to start vhost net|vhost-user.*failed")[0]
                .group(0)))
    return " [%s]" % "; ".join(notes) if notes else ""


class hinted:
    """with hinted(s): a TestFailure inside gets symptom_hint(s) on its first line."""

    def __init__(self, s):
        self.s = s

    def __enter__(self):
        return self

    def __exit__(self, et, e, tb):
        if et is not None and issubclass(et, TestFailure):
            h = symptom_hint(self.s)
            if h and h not in str(e):
                raise first_line_plus(e, h) from None
        return False


def check_no_add_mem_reg_failed(s):
    n = s.riovd.log_text().count(ADD_MEM_REG_FAILED)
    riovtest.check(n == 0, "riovd's log has no '%s' (%d)" % (ADD_MEM_REG_FAILED, n))


def guest_channels(vm):
    """The NIC's (maximum, current) combined channels in the guest (ethtool -l eth0)."""
    rc, out = vm.run("ethtool -l eth0")
    vals = [int(m.group(1)) for m in (re.match(r"^Combined:\s+(\d+)", l) for l in out) if m]
    if rc != 0 or len(vals) != 2:
        raise TestFailure("%s: ethtool -l eth0 (rc %d): %s" % (vm.name, rc, " | ".join(out)))
    return vals[0], vals[1]


def set_channels(vm, n):
    rc, out = vm.run("ethtool -L eth0 combined %d" % n, timeout=120)
    riovtest.check(rc == 0, "%s: ethtool -L eth0 combined %d (rc %d %s)" % (vm.name, n, rc, " ".join(out)))
    cur = guest_channels(vm)[1]
    riovtest.check(cur == n, "%s: %d combined channel(s) in use" % (vm.name, cur))


# ---- per-queue counters (riovctl port stats NAME --json)

def _num(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def queue_stats(st):
    """Per-queue-pair counters of one port from its `riovctl port stats NAME --json` entry
    (PortCounters.queues, proto/riov.proto: from the port's side, rx = from the guest, tx = to
    it): {queue pair: {"rx": packets, "tx": packets, "running": (rx_running, tx_running)}}, or
    None when riovd reports no per-queue counters (a riovd from before them). proto3 JSON leaves
    zero fields out: queue 0 has no "queue", an idle pair no packets."""
    qs = st.get("queues")
    if not isinstance(qs, list) or not qs:
        return None
    pairs = {}
    for q in qs:
        pairs[_num(q.get("queue"))] = {"rx": _num(q.get("rx_packets")), "tx": _num(q.get("tx_packets")),
                                       "running": (q.get("rx_running") is True, q.get("tx_running") is True)}
    return pairs


def drops_by_cause(st):
    """{cause: packets} of a port's PortCounters.drops (a riovd without causes: none), with its
    rx_dropped and tx_dropped totals."""
    d = {c.get("cause", "?"): _num(c.get("packets")) for c in st.get("drops", []) or []}
    d["rx_dropped"] = _num(st.get("rx_dropped"))
    d["tx_dropped"] = _num(st.get("tx_dropped"))
    return d


def vring_starts(s, port):
    """How many times riovd's log says one of the port's vrings (re)started ("PORT: vring N running")."""
    return len(re.findall(r"\b%s: vring \d+ running" % re.escape(port), s.riovd.log_text()))


def queue_snapshot(s, names):
    """What check_queue_pairs() compares with: the ports' counters now."""
    snap = {}
    for name in names:
        st = s.port(name)
        snap[name] = {"q": queue_stats(st), "rx": _num(st.get("rx_packets")), "tx": _num(st.get("tx_packets"))}
    return snap


def check_queue_pairs(s, names, nq, before=None, min_totals=10):
    """Both (all nq) queue pairs of each port carried traffic both ways (since `before`, what an
    earlier call returned). Falls back to the ports' totals when riovd has no per-queue counters.
    Returns (snapshot, description)."""
    desc = []
    snap = queue_snapshot(s, names)
    per_queue = all(snap[name]["q"] is not None for name in names)
    for name in names:
        cur, old = snap[name], (before or {}).get(name)
        if per_queue:
            parts = []
            for i in range(nq):
                c = cur["q"].get(i, {"rx": 0, "tx": 0})
                o = ((old or {}).get("q") or {}).get(i, {"rx": 0, "tx": 0})
                rx, tx = c["rx"] - o["rx"], c["tx"] - o["tx"]
                riovtest.check(rx > 0 and tx > 0, "port %s queue pair %d carried traffic: rx %d tx %d packets"
                               % (name, i, rx, tx))
                parts.append("q%d rx %d tx %d" % (i, rx, tx))
            desc.append("%s %s" % (name, ", ".join(parts)))
        else:
            rx = cur["rx"] - (old or {}).get("rx", 0)
            tx = cur["tx"] - (old or {}).get("tx", 0)
            riovtest.check(rx >= min_totals and tx >= min_totals,
                           "port %s carried traffic (totals: rx %d tx %d packets)" % (name, rx, tx))
            desc.append("%s rx %d tx %d" % (name, rx, tx))
    if per_queue:
        return snap, "per queue pair: " + "; ".join(desc)
    return snap, ("totals only (per-queue counters not available in riovctl port stats --json): "
                  + "; ".join(desc))


# ---- traffic

UNIT = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
BUNIT = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
IPERF_LINE = re.compile(r"^\[\s*(SUM|\d+)\]\s+([\d.]+)-\s*([\d.]+)\s+sec\s+([\d.]+)\s+([KMGT]?)Bytes\s+"
                        r"([\d.]+)\s+([KMGT]?)bits/sec(.*)$")


def parse_iperf(vm, lines, what, streams=4):
    """iperf3 client output -> {sender, receiver (bits/s), intervals [(start, end, bytes)] of [SUM],
    per-stream receiver bytes}; raises TestFailure on an error or a missing summary."""
    text = "\n".join(lines)
    err = [l for l in lines if "iperf3: error" in l or "iperf3: interrupt" in l]
    if err:
        raise TestFailure("%s: %s: %s" % (vm.name, what, err[0].strip()))
    r = {"sender": None, "receiver": None, "intervals": [], "streams": {}}
    for l in lines:
        m = IPERF_LINE.match(l.strip())
        if not m:
            continue
        who, t0, t1 = m.group(1), float(m.group(2)), float(m.group(3))
        nbytes = float(m.group(4)) * BUNIT[m.group(5)]
        bps = float(m.group(6)) * UNIT[m.group(7)]
        tail = m.group(8)
        role = "sender" if "sender" in tail else "receiver" if "receiver" in tail else None
        if who == "SUM":
            if role:
                r[role] = bps
            else:
                r["intervals"].append((t0, t1, nbytes))
        elif role == "receiver":
            r["streams"][int(who)] = nbytes
    if r["sender"] is None or r["receiver"] is None:
        raise TestFailure("%s: %s: no iperf3 summary; output:\n%s" % (vm.name, what, text[-3000:]))
    riovtest.check(r["sender"] > 0 and r["receiver"] > 0,
                   "%s: %s: sender %.0f Mbit/s, receiver %.0f Mbit/s" % (vm.name, what, r["sender"] / 1e6,
                                                                       r["receiver"] / 1e6))
    riovtest.check(len(r["streams"]) == streams and all(v > 0 for v in r["streams"].values()),
                   "%s: %s: each of the %d streams delivered data (%s)" % (
                       vm.name, what, streams, ", ".join("%.1f MB" % (v / 1e6) for v in r["streams"].values())))
    return r


def iperf_server(vm):
    rc, out = vm.run("iperf3 -s > /tmp/iperf-s.log 2>&1 & echo $! > /tmp/iperf-s.pid")
    riovtest.check(rc == 0, "%s: iperf3 -s started" % vm.name)
    time.sleep(1)   # let it listen (its first client would else be refused: pacing, not a check)


def iperf(vm, server_ip, args, seconds, what):
    rc, out = vm.run("iperf3 -c %s -P 4 -t %d %s" % (server_ip, seconds, args), timeout=seconds * 6 + 120)
    r = parse_iperf(vm, out, what)
    riovtest.check(rc == 0, "%s: %s: iperf3 exited %d" % (vm.name, what, rc))
    return r


def pinned_pings(s):
    """Pings from each vCPU of each guest (the guest's XPS maps vCPU i to its TX queue i)."""
    for vm, peer in ((s.vm1, s.vm2), (s.vm2, s.vm1)):
        # wait for these pings only (an iperf3 -s may run in the background too)
        cmd = " ".join("taskset -c %d ping -c 5 -i 0.2 -W 2 %s > /dev/null & p%d=$!;" % (c, peer.ip, c)
                       for c in range(vm.smp))
        vm.run(cmd + " wait " + " ".join("$p%d" % c for c in range(vm.smp)), timeout=120)


def spread(s):
    """pinned_pings() and a short four-flow TCP run each way (flows riovd can spread over the
    guests' RX queues); needs iperf_server(s.vm2)."""
    pinned_pings(s)
    iperf(s.vm1, s.vm2.ip, "", 3, "short iperf3 -P 4 vm1 -> vm2")
    iperf(s.vm1, s.vm2.ip, "-R", 3, "short iperf3 -P 4 -R vm2 -> vm1")


def test_mq():
    s = Setup("mq", smp=2, queues=2).start(boot_timeout=180)
    try:
        with hinted(s):
            for vm in s.vms():
                mx, cur = guest_channels(vm)
                riovtest.check(mx == 2 and cur == 2, "%s: eth0 has %d of %d combined channels in use"
                               % (vm.name, cur, mx))
            both_ways(s)
            iperf_server(s.vm2)
            fwd = iperf(s.vm1, s.vm2.ip, "", 10, "iperf3 -P 4 vm1 -> vm2")
            rev = iperf(s.vm1, s.vm2.ip, "-R", 10, "iperf3 -P 4 -R vm2 -> vm1")
            pinned_pings(s)
            _, qdesc = check_queue_pairs(s, ("vm1", "vm2"), 2)

            # ethtool -L mid-stream: the receiving guest, then the sending one, to 1 queue pair and back
            # --forceflush: one report a second in the file, to pace the switches by
            s.vm1.run("iperf3 -c %s -P 4 -t %d --forceflush > /tmp/ie.log 2>&1 & echo $! > /tmp/ie.pid"
                      % (s.vm2.ip, ETHTOOL_RUN_S))

            def reports():
                rc, out = s.vm1.run("grep -c '^\\[SUM\\]' /tmp/ie.log; grep -c -e 'iperf Done' -e 'error' /tmp/ie.log")
                nums = [int(x) for x in out if x.strip().isdigit()]
                return (nums + [0, 0])[:2]
            def pace(n, what):
                """wait for n more one-second reports of the running iperf3 (or its end)"""
                k = reports()[0]
                wait_for(lambda: (lambda r: r[0] >= k + n or r[1] > 0)(reports()), 180, what)
            pace(3, "iperf3's first reports")
            switches = []
            for vm, n in ((s.vm2, 1), (s.vm1, 1), (s.vm2, 2), (s.vm1, 2)):
                set_channels(vm, n)
                switches.append("%s->%d" % (vm.name, n))
                pace(2, "iperf3 reports after %s's switch to %d" % (vm.name, n))
            last_switch_report, ended = reports()
            riovtest.check(not ended, "iperf3 still ran after the last switch (else raise ETHTOOL_RUN_S, now %d)"
                           % ETHTOOL_RUN_S)
            rc, out = s.vm1.run("wait $(cat /tmp/ie.pid); echo IPERF-RC $?", timeout=240)
            m = [re.match(r"IPERF-RC (\d+)", l) for l in out]
            code = next((int(x.group(1)) for x in m if x), -1)
            rc, log_lines = s.vm1.run("cat /tmp/ie.log", timeout=120)
            r = parse_iperf(s.vm1, log_lines, "iperf3 -P 4 -t %d across ethtool -L combined 1 and 2" % ETHTOOL_RUN_S)
            riovtest.check(code == 0, "iperf3 across the channel switches exited %d" % code)
            after = r["intervals"][last_switch_report:]
            moved = sum(b for _, _, b in after)
            riovtest.check(moved > 0, "traffic after both guests went back to 2 queue pairs: %.1f MB in %d reports"
                           % (moved / 1e6, len(after)))
            # both pairs in use again once the guests enabled them again
            base = queue_snapshot(s, ("vm1", "vm2"))
            spread(s)
            _, qdesc2 = check_queue_pairs(s, ("vm1", "vm2"), 2, before=base)
            check_no_add_mem_reg_failed(s)
            return ("iperf3 -P 4 vm1->vm2 %.0f Mbit/s, vm2->vm1 %.0f Mbit/s; %s; ethtool -L %s mid-stream: "
                    "iperf3 completed, %.0f Mbit/s; afterwards %s" % (
                        fwd["receiver"] / 1e6, rev["receiver"] / 1e6, qdesc, " ".join(switches), r["receiver"] / 1e6,
                        qdesc2))
    finally:
        s.stop()


# ---- memory hot-plug

def riovd_rss_kb(s):
    with open("/proc/%d/status" % s.riovd.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TestFailure("no VmRSS for riovd")


def riovd_mapped(s, port):
    """(bytes, ranges) of guest memory in the port's DMA domain (riovctl domain show PORT): what
    riovd has mapped of the guest's memory regions."""
    d = s.ctl.json("domain", "show", port).get("domain", {})
    maps = d.get("mappings", [])
    return sum(_num(m.get("size")) for m in maps), len(maps)


def guest_memory(vm):
    """(memory block size, online block numbers, MemTotal kB) in the guest."""
    rc, out = vm.run("cat /sys/devices/system/memory/block_size_bytes; "
                     "grep -l online /sys/devices/system/memory/memory*/state; grep MemTotal /proc/meminfo")
    if rc != 0 or not out:
        raise TestFailure("%s: cannot read its memory blocks: %s" % (vm.name, " | ".join(out)))
    bs = int(out[0].strip(), 16)
    online = sorted(int(m.group(1)) for m in (re.search(r"/memory(\d+)/state", l) for l in out) if m)
    total = next((int(l.split()[1]) for l in out if l.startswith("MemTotal:")), 0)
    return bs, online, total


PING_AWK = ("awk '/seq=/ { match($0, /seq=[0-9]+/); q = substr($0, RSTART + 4, RLENGTH - 4) + 0; "
            "if (q in s) d++; else { s[q] = 1; n++ }; if (q > m) m = q } "
            "END { k = 0; miss = \"\"; "
            "for (i = 0; i <= m; i++) if (!(i in s)) { k++; if (k <= 30) miss = miss \" \" i }; "
            "print \"PINGSTAT\", n + 0, m + 0, d + 0, k, miss }'")


def seq_list(missing):
    return " (seq%s)" % "".join(" %d" % x for x in missing)


class PingStream:
    """ping -i INTERVAL (default 0.1) from vm to ip in the guest's background, its output in a
    file; stop() counts the replies and the sequence numbers missing among them."""

    def __init__(self, vm, ip, tag, interval="0.1"):
        self.vm, self.ip, self.tag, self.interval = vm, ip, tag, interval
        self.log = "/tmp/%s.ping" % tag

    def replies(self):
        rc, out = self.vm.run("grep -c seq= %s" % self.log)
        return int(out[-1]) if out and out[-1].strip().isdigit() else 0

    def start(self):
        self.vm.run("ping -i %s %s > %s 2>&1 & echo $! > %s.pid" % (self.interval, self.ip, self.log, self.log))
        wait_for(lambda: self.replies() >= 10, 120, "%s: 10 replies of the ping stream" % self.vm.name)
        return self

    def stop(self):
        """-> (replies, highest seq, duplicates, lost, first missing seqs)"""
        self.vm.run("sleep 2; kill -INT $(cat %s.pid); sleep 1" % self.log, timeout=60)
        rc, out = self.vm.run("%s %s" % (PING_AWK, self.log))
        m = next((l.split() for l in out if l.startswith("PINGSTAT")), None)
        if not m:
            raise TestFailure("%s: no ping statistics: %s" % (self.vm.name, " | ".join(out)))
        return int(m[1]), int(m[2]), int(m[3]), int(m[4]), [int(x) for x in m[5:]]


def hotplug(s, target, pinger, problems):
    """HP_DIMMS DIMMs into target and out again under pinger's 10/s ping; failed checks go to problems."""
    q = target.qmp()
    bs, online0, total0 = guest_memory(target)
    mapped0, ranges0 = riovd_mapped(s, target.name)
    rss0 = riovd_rss_kb(s)
    drops0 = drops_by_cause(s.port(target.name))
    log("  before: guest %d blocks of %d MiB online, MemTotal %d kB; riovd maps %d MiB in %d ranges, RSS %d kB"
        % (len(online0), bs >> 20, total0, mapped0 >> 20, ranges0, rss0))
    dimm = HP_DIMM_MB << 20
    per = max(dimm // bs, 1)

    def soft(cond, what):
        if cond:
            log("  ok: " + what)
        else:
            log("  FAILED: " + what)
            problems.append("check failed: " + what)

    # -- hot-add under the ping
    ps = PingStream(pinger, target.ip, "hp-add").start()
    starts0 = vring_starts(s, target.name)
    for i in range(HP_DIMMS):
        q.cmd("object-add", **{"qom-type": "memory-backend-memfd", "id": "hpm%d" % i, "size": dimm, "share": True})
        q.cmd("device_add", driver="pc-dimm", id="hpd%d" % i, memdev="hpm%d" % i)
        time.sleep(0.2)   # spread the DIMMs over the ping stream (pacing, not a check)
    devs = {d["data"]["id"]: d["data"] for d in q.cmd("query-memory-devices") if d.get("type") == "dimm"}
    riovtest.check(len(devs) == HP_DIMMS, "QEMU has %d DIMMs" % len(devs))
    blocks = sorted(b for d in devs.values() for b in range(d["addr"] // bs, (d["addr"] + d["size"]) // bs))
    want = set(online0) | set(blocks)
    wait_for(lambda: set(guest_memory(target)[1]) >= want, 300,
             "%s to online its %d new memory blocks" % (target.name, len(blocks)))
    rc, out = target.run("cat /sys/devices/system/memory/memory%d/valid_zones" % blocks[-1])
    riovtest.check(any("Movable" in l for l in out), "%s onlined the DIMMs movable (%s)" % (target.name, " ".join(out)))
    _, _, total1 = guest_memory(target)
    mapped1, ranges1 = riovd_mapped(s, target.name)
    rss1 = riovd_rss_kb(s)
    n, top, dups, lost, missing = ps.stop()
    drops1 = drops_by_cause(s.port(target.name))
    starts1 = vring_starts(s, target.name)
    # issue 23: adding a region changes no translation, so it stops nothing (riovd before the fix
    # stopped and restarted every vring of the guest on each ADD_MEM_REG)
    soft(starts1 == starts0, "riovd restarted no vring of %s during the hot-add (%d 'vring N running' log lines)"
         % (target.name, starts1 - starts0))
    soft(lost == 0, "ping %s -> %s during the hot-add of %d DIMMs: %d replies up to seq %d, %d lost%s" % (
        pinger.name, target.name, HP_DIMMS, n, top, lost, seq_list(missing) if lost else ""))
    add_lost, add_sent = lost, top + 1
    soft(total1 - total0 >= HP_DIMMS * dimm // 1024 * 9 // 10,
         "%s's MemTotal grew by %d MiB (%d DIMMs of %d MiB)" % (target.name, (total1 - total0) >> 10, HP_DIMMS,
                                                              HP_DIMM_MB))
    soft(mapped1 - mapped0 == HP_DIMMS * dimm, "riovd maps %d MiB more of %s's memory (%d ranges, were %d)" % (
        (mapped1 - mapped0) >> 20, target.name, ranges1, ranges0))
    log("  after the hot-add: riovd RSS %d kB" % rss1)

    # -- hot-remove under the ping: offline in the guest, device_del, object-del
    ps = PingStream(pinger, target.ip, "hp-rem").start()
    rc, out = target.run("for b in %s; do echo offline > /sys/devices/system/memory/memory$b/state || "
                         "echo OFFLINE-FAILED $b; done" % " ".join(str(b) for b in blocks), timeout=600)
    failed = [l for l in out if "OFFLINE-FAILED" in l]
    riovtest.check(not failed, "%s offlined the %d blocks of the DIMMs (%s)" % (
        target.name, len(blocks), " ".join(failed[:5]) or "all"))
    for i in range(HP_DIMMS):
        q.cmd("device_del", id="hpd%d" % i)
        q.wait_event("DEVICE_DELETED", 120, "%s to eject DIMM hpd%d" % (target.name, i), device="hpd%d" % i)
        q.cmd("object-del", id="hpm%d" % i)
        time.sleep(0.2)   # pacing, as for the adds
    devs = [d for d in q.cmd("query-memory-devices") if d.get("type") == "dimm"]
    riovtest.check(not devs, "QEMU has no DIMM left (%d)" % len(devs))
    wait_for(lambda: not (set(guest_memory(target)[1]) & set(blocks)), 120,
             "%s to drop the removed memory blocks" % target.name)
    n, top, dups, lost, missing = ps.stop()
    soft(lost == 0, "ping %s -> %s during the hot-remove of %d DIMMs: %d replies up to seq %d, %d lost%s" % (
        pinger.name, target.name, HP_DIMMS, n, top, lost, seq_list(missing) if lost else ""))
    _, _, total2 = guest_memory(target)
    soft(total2 == total0, "%s's MemTotal back to %d kB (%d)" % (target.name, total0, total2))
    mapped2, ranges2 = riovd_mapped(s, target.name)
    rss2 = riovd_rss_kb(s)
    drops2 = drops_by_cause(s.port(target.name))
    starts2 = vring_starts(s, target.name)
    # removing a region waits for the workers instead; it stops only vrings whose rings live in it
    soft(starts2 == starts1, "riovd restarted no vring of %s during the hot-remove (%d 'vring N running' log "
         "lines)" % (target.name, starts2 - starts1))

    def delta(a, b):
        d = {k: v - a.get(k, 0) for k, v in b.items() if v - a.get(k, 0)}
        return ", ".join("%s %d" % kv for kv in sorted(d.items())) or "none"
    soft(mapped2 == mapped0, "riovd's mapping of %s back to %d MiB in %d ranges (%d MiB in %d)" % (
        target.name, mapped0 >> 20, ranges0, mapped2 >> 20, ranges2))
    soft(rss2 <= rss0 + RSS_SLACK_KB, "riovd's RSS back within %d MiB of %d kB: %d kB (%d kB after the adds)" % (
        RSS_SLACK_KB >> 10, rss0, rss2, rss1))
    return ("%d DIMMs of %d MiB added (%d of %d pings lost; port %s drops: %s) and removed (%d of %d lost; drops: "
            "%s); riovd mapped %d -> %d -> %d MiB, RSS %d -> %d -> %d kB"
            % (HP_DIMMS, HP_DIMM_MB, add_lost, add_sent, target.name, delta(drops0, drops1), lost, top + 1,
               delta(drops1, drops2), mapped0 >> 20, mapped1 >> 20, mapped2 >> 20, rss0, rss1, rss2))


def test_hotplug(queues=1):
    smp = 2 if queues > 1 else 1
    s = Setup("hotplug" if queues == 1 else "hotplug-mq", smp=smp, queues=queues, hotplug=True)
    s.start(boot_timeout=180)
    try:
        with hinted(s):
            both_ways(s)
            problems = []
            detail = hotplug(s, s.vm1, s.vm2, problems)
            both_ways(s)
            if queues > 1:
                iperf_server(s.vm2)
                spread(s)
                _, qdesc = check_queue_pairs(s, ("vm1", "vm2"), queues)
                detail += "; " + qdesc
            n = s.riovd.log_text().count(ADD_MEM_REG_FAILED)
            if n:
                problems.append("riovd logged '%s' %d times" % (ADD_MEM_REG_FAILED, n))
            if problems:
                raise TestFailure("; ".join(problems) + " -- " + detail)
            return detail
    finally:
        s.stop()


def test_hotplug_mq():
    return test_hotplug(queues=2) + " (2 queue pairs)"


def test_mq_restart():
    s = Setup("mq-restart", smp=2, queues=2).start(boot_timeout=180)
    try:
        with hinted(s):
            for vm in s.vms():
                riovtest.check(guest_channels(vm) == (2, 2), "%s uses 2 queue pairs" % vm.name)
            both_ways(s)
            iperf_server(s.vm2)
            spread(s)
            _, d0 = check_queue_pairs(s, ("vm1", "vm2"), 2)
            since = s.vm1.mark()
            s.vm1.send("ping -i 0.2 %s &" % s.vm2.ip)
            wait_for(lambda: len(seqs(s.vm1, since)) >= 5, 60, "5 replies of the ping stream")
            details = ["before: " + d0]
            for how in ("SIGKILL", "SIGTERM"):
                mark = max(seqs(s.vm1, since))
                if how == "SIGKILL":
                    s.riovd.proc.kill()
                    s.riovd.proc.wait(timeout=30)
                    s.riovd.proc = None
                else:
                    s.riovd.stop()
                s.riovd.start()
                wait_for(lambda: len([q for q in seqs(s.vm1, since) if q > mark]) >= 5, 180,
                         "the ping stream to continue after riovd's %s restart" % how)
                log("  ping stream continues after the %s restart (seq %d -> %d)"
                    % (how, mark, max(seqs(s.vm1, since))))
                # counted from here (whether or not the new riovd starts its counters from 0)
                base = queue_snapshot(s, ("vm1", "vm2"))
                spread(s)
                _, d = check_queue_pairs(s, ("vm1", "vm2"), 2, before=base)
                details.append("after %s: %s" % (how, d))
            s.vm1.run("kill %1 2>/dev/null; killall ping 2>/dev/null; true")
            got = seqs(s.vm1, since)
            check_no_add_mem_reg_failed(s)
            return ("ping stream vm1 -> vm2 across riovd SIGKILL and SIGTERM restarts: %d of %d replies; %s"
                    % (len(set(got)), max(got) + 1, "; ".join(details)))
    finally:
        s.stop()


# ---------------------------------------------------------------- libvirt

# The domain of docs/libvirt.md (keep the two in step): TCG, direct kernel boot, guest memory in a
# shared memfd, a 2-queue-pair vhost-user NIC on a riovd port with vectors=0 (QEMU 7.2 under TCG),
# QEMU as root without relabelling (riovd's sockets are root's), the console on a Unix socket.
LIBVIRT_DOMAIN = """<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 loglevel=1 panic=-1 riov.ip={ip}/24</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <memoryBacking>
    <source type='memfd'/>
    <access mode='shared'/>
  </memoryBacking>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{qemu}</emulator>
    <interface type='vhostuser'>
      <mac address='{mac}'/>
      <source type='unix' path='{sock}' mode='{mode}'>{reconnect}</source>
      <model type='virtio'/>
      <driver queues='2'/>
      <alias name='ua-net0'/>
    </interface>
    <serial type='unix'>
      <source mode='bind' path='{serial}'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
  <seclabel type='static' model='dac' relabel='no'>
    <label>+0:+0</label>
  </seclabel>
  <qemu:override>
    <qemu:device alias='ua-net0'>
      <qemu:frontend>
        <qemu:property name='vectors' type='unsigned' value='0'/>
      </qemu:frontend>
    </qemu:device>
  </qemu:override>
</domain>
"""
LIBVIRT_URI = "qemu:///system"


def sbin(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


class Libvirtd:
    """virtlogd and libvirtd (Debian's, no systemd) started in the background as root, stopped
    again by stop(); a libvirtd that already runs is used as it is and left running."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.own = False
        self.virsh_bin = sbin("virsh")

    def virsh(self, *args, timeout=120, check=True):
        r = subprocess.run([self.virsh_bin, "-c", LIBVIRT_URI] + list(args), capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise TestFailure("virsh %s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
        return r

    def answers(self):
        try:
            return self.virsh("version", timeout=20, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start(self):
        if os.geteuid() != 0:
            raise Skip("libvirtd must run as root")
        bins = {b: sbin(b) for b in ("libvirtd", "virtlogd", "virsh")}
        missing = [b for b, path in bins.items() if not path]
        if missing or not os.path.exists("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"):
            raise Skip("libvirt is not installed (%s): deploy/install-deps.sh installs libvirt-daemon, "
                       "libvirt-daemon-driver-qemu and libvirt-clients" % (", ".join(missing) or "qemu driver"))
        if os.path.exists("/run/libvirt/libvirt-sock") and self.answers():
            log("  using the libvirtd that runs already")
            return self
        # what Debian's libvirt-daemon-system would have set up: the kvm group and the libvirt-qemu
        # user (libvirtd refuses to start without the user its qemu.conf names), the run and log dirs
        # user and group (Debian's qemu.conf default: libvirt-qemu:libvirt-qemu)
        for g in ("kvm", "libvirt-qemu"):
            if subprocess.run(["getent", "group", g], capture_output=True).returncode != 0:
                subprocess.run(["groupadd", "--system", g], check=True)
        if subprocess.run(["getent", "passwd", "libvirt-qemu"], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--system", "--gid", "libvirt-qemu", "--groups", "kvm", "--home-dir",
                            "/var/lib/libvirt", "--no-create-home", "--shell", "/usr/sbin/nologin", "libvirt-qemu"],
                           check=True)
        for d in ("/var/log/libvirt/qemu", "/run/libvirt", "/var/lib/libvirt/qemu", "/var/cache/libvirt/qemu"):
            os.makedirs(d, exist_ok=True)
        self.own = True
        for b in ("virtlogd", "libvirtd"):
            p = subprocess.Popen([bins[b]], stdout=open(os.path.join(self.tmp, b + ".log"), "a"),
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self.procs.append(p)
            riovtest._procs.append(p)
            if b == "virtlogd":
                wait_for(lambda: os.path.exists("/run/libvirt/virtlogd-sock") or p.poll() is not None, 30,
                         "virtlogd's socket")
                if p.poll() is not None:
                    raise TestFailure("virtlogd exited %d: %s" % (p.returncode, self.log_tail("virtlogd")))

        def up():
            if self.procs[-1].poll() is not None:
                raise TestFailure("libvirtd exited %d: %s" % (self.procs[-1].returncode, self.log_tail("libvirtd")))
            return self.answers()
        wait_for(up, 90, "libvirtd to answer virsh")
        log("  libvirtd up: %s" % self.version())
        return self

    def log_tail(self, b, n=5):
        try:
            with open(os.path.join(self.tmp, b + ".log"), errors="replace") as f:
                return " | ".join(l.strip() for l in f.read().splitlines()[-n:])
        except FileNotFoundError:
            return ""

    def version(self):
        """"libvirt X, QEMU Y" from virsh version."""
        out = self.virsh("version", check=False).stdout
        lib = re.search(r"Using library: (libvirt [\d.]+)", out)
        hv = re.search(r"Running hypervisor: (QEMU [\d.]+)", out)
        return ", ".join(m.group(1) for m in (lib, hv) if m) or out.strip()

    def stop(self):
        for p in reversed(self.procs):      # libvirtd, then virtlogd
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)
        self.procs = []


class LibvirtVM(VM):
    """A guest libvirtd starts from LIBVIRT_DOMAIN; its console is a Unix socket QEMU listens on."""

    def __init__(self, lv, name, tmp, sock, mac, ip, mode, initrd, kernel):
        super().__init__(name, tmp, sock, mac, ip, False, False, initrd, kernel, smp=2, queues=2)
        self.lv, self.mode = lv, mode
        self.domain = "riov-lab-%s-%d" % (name, os.getpid())
        self.serial = os.path.join(tmp, name + ".serial")
        self.conn = None
        self.eof = False

    def xml(self):
        return LIBVIRT_DOMAIN.format(
            name=self.domain, kernel=self.kernel, initrd=self.initrd, ip=self.ip, qemu=shutil.which(QEMU) or QEMU,
            mac=self.mac, sock=self.sock, mode=self.mode, serial=self.serial,
            reconnect="\n        <reconnect enabled='yes' timeout='1'/>\n      " if self.mode == "client" else "")

    def start(self):
        path = os.path.join(self.tmp, self.name + ".xml")
        with open(path, "w") as f:
            f.write(self.xml())
        self.lv.virsh("create", path)
        self.started = True
        wait_for(lambda: os.path.exists(self.serial), 60, "%s's console socket" % self.name)
        self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.conn.connect(self.serial)
        threading.Thread(target=self._reader, args=(self._stream(),), daemon=True).start()
        return self

    def _stream(self):
        f = self.conn.makefile("rb")
        for raw in f:
            yield raw
        self.eof = True

    def exited(self):
        if self.eof:
            return "its console closed (domain %s gone?); QEMU log: %s" % (self.domain, self.qemu_log())
        return None

    def _write(self, data):
        self.conn.sendall(data)

    def qemu_log(self, n=8):
        try:
            with open("/var/log/libvirt/qemu/%s.log" % self.domain, errors="replace") as f:
                return " | ".join(l.strip() for l in f.read().splitlines()[-n:])
        except OSError:
            return "(none)"

    def wait_ready(self, timeout):
        """The command loop answers (the console may have missed GUEST-READY: QEMU drops what
        nobody reads)."""
        end = time.time() + timeout
        while True:
            try:
                self.run("true", timeout=5)
                return
            except TestFailure:
                if self.exited() or time.time() > end:
                    raise TestFailure("%s: no answer on its console within %d s; console:\n%s\nQEMU log: %s"
                                      % (self.name, timeout, self.tail(), self.qemu_log()))

    def stop(self):
        if getattr(self, "started", False):
            self.lv.virsh("destroy", self.domain, check=False)
            self.started = False
            # libvirt's log of the domain (its QEMU command line, QEMU's messages) to the test's directory
            qlog = "/var/log/libvirt/qemu/%s.log" % self.domain
            if os.path.exists(qlog):
                shutil.copy(qlog, os.path.join(self.tmp, self.name + ".qemu.log"))
                os.unlink(qlog)
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def test_libvirt():
    """A multiqueue libvirt guest pings a plain QEMU guest through riovd: riovd as the vhost-user
    server (interface mode='client'), then as the client (mode='server')."""
    env = lab_env()
    initrd = guest_initrd()
    tmp = riovtest.tmpdir("host-libvirt")
    TMPDIRS.append(tmp)
    lv = Libvirtd(tmp)
    lv.start()
    cfg = ('networks = ( { name = "lab"; } );\n'
           'ports = (\n%s,\n%s,\n%s\n);\n' % (port_cfg("lvc", False, 2), port_cfg("lvs", True, 2),
                                             port_cfg("vm2", False)))
    riovd = Riovd(tmp, cfg, extra_args=["--idle-sleep-us", IDLE_SLEEP_US])
    s = Setup.__new__(Setup)    # for port(), symptom_hint()
    s.tmp, s.riovd, s.ctl = tmp, riovd, Riovctl(os.path.join(tmp, "riovd.sock"))
    vm2 = VM("vm2", tmp, riovd.socket("vm2"), "52:54:00:00:01:02", "10.91.0.2", False, False, initrd, env["KERNEL"])
    s.vm1, s.vm2 = None, vm2
    s.vms = lambda: [v for v in (s.vm1, s.vm2) if v is not None]
    details = []
    try:
        riovd.start()
        vm2.start()
        vm2.wait_line(r"^GUEST-READY", 0, 120, "boot")
        for port, mode, mac, ip in (("lvc", "client", "52:54:00:00:02:01", "10.91.0.3"),
                                    ("lvs", "server", "52:54:00:00:02:02", "10.91.0.4")):
            vm = LibvirtVM(lv, port, tmp, riovd.socket(port), mac, ip, mode, initrd, env["KERNEL"])
            s.vm1 = vm
            try:
                with hinted(s):
                    vm.start()
                    vm.wait_ready(240)
                    mx, cur = guest_channels(vm)
                    riovtest.check(mx == 2 and cur == 2, "%s: eth0 has %d of %d combined channels in use" % (
                        vm.name, cur, mx))
                    ping(vm, vm2.ip, 2)
                    a = ping(vm, vm2.ip, 20)
                    b = ping(vm2, vm.ip, 20)
                    riovtest.check(a[1] == 20 and b[1] == 20, "libvirt guest (riovd %s, interface mode='%s') <-> vm2: "
                                   "%d/%d and %d/%d echo replies" % ("server" if mode == "client" else "client", mode,
                                                                     a[1], a[0], b[1], b[0]))
                    details.append("mode='%s' %d/20 and %d/20" % (mode, a[1], b[1]))
            finally:
                vm.stop()
            s.vm1 = None
        check_no_add_mem_reg_failed(s)
        return ("libvirt guests (2 vCPUs, <driver queues='2'/>) ping vm2 through riovd: %s (%s)"
                % ("; ".join(details), lv.version()))
    finally:
        vm2.stop()
        if riovd.proc is not None:
            riovd.stop()
        lv.stop()


# ---------------------------------------------------------------- issue 12: restart under traffic

KILLS = 3
KILL_MAX_LOST = 5     # pings (at 5 a second) lost per kill, each direction


def gaps(missing):
    """Runs of consecutive missing sequence numbers -> their lengths."""
    out = []
    for q in sorted(missing):
        if out and q == prev + 1:
            out[-1] += 1
        else:
            out.append(1)
        prev = q
    return out


def test_kill_restart():
    """riovd killed with SIGKILL and restarted 3 times under a 5/s ping each way; vm1 on packed
    rings (whose position QEMU does not restore: riovd's own record of it does), vm2 on split."""
    s = packed_vm1(Setup("kill-restart")).start()
    try:
        check_packed_vm1(s)
        both_ways(s)
        boots = [len(vm.find(r"^GUEST-READY")) for vm in s.vms()]
        streams = [PingStream(s.vm1, s.vm2.ip, "k12", interval="0.2").start(),
                   PingStream(s.vm2, s.vm1.ip, "k21", interval="0.2").start()]
        for k in range(KILLS):
            n = [st.replies() for st in streams]
            s.riovd.proc.kill()
            s.riovd.proc.wait(timeout=30)
            s.riovd.proc = None
            s.riovd.start()
            for st, n0 in zip(streams, n):
                wait_for(lambda: st.replies() >= n0 + 10, 120,
                         "%s's ping stream to go on after kill %d" % (st.vm.name, k + 1))
            log("  kill %d: both ping streams go on" % (k + 1))
        details = []
        for st in streams:
            replies, top, dups, lost, missing = st.stop()
            g = gaps(missing)
            log("  %s -> %s: %d of %d replies, %d lost%s, gaps %s, %d duplicates"
                % (st.vm.name, st.ip, replies, top + 1, lost, seq_list(missing) if lost else "", g, dups))
            riovtest.check(lost < 30 and all(x <= KILL_MAX_LOST for x in g) and len(g) <= KILLS,
                           "%s -> %s: at most %d pings lost per kill (gaps %s)"
                           % (st.vm.name, st.ip, KILL_MAX_LOST, g))
            details.append("%s->%s %d of %d (gaps %s)" % (st.vm.name, st.ip, replies, top + 1, g))
        riovtest.check([len(vm.find(r"^GUEST-READY")) for vm in s.vms()] == boots and
                       not any(vm.exited() for vm in s.vms()), "neither guest restarted")
        resumed = len(re.findall(r"vm1: vring \d+: packed base .* confirmed by the ring", s.riovd.log_text()))
        riovtest.check(resumed >= KILLS, "vm1's packed vrings went on from riovd's ring records "
                       "after each kill (%d resumed)" % resumed)
        return "%d SIGKILLs of riovd under a 5/s ping each way: %s" % (KILLS, "; ".join(details))
    finally:
        s.stop()


# ---------------------------------------------------------------- issue 12: live migration

# pings lost across the migration, at 5 a second: at most 1 s
MIGRATE_MAX_LOST = 5
# how long the paused source QEMU stays connected after the migration
MIGRATE_SOURCE_LINGER_S = 3


def test_migrate():
    """Guest 2 migrates from port vm2 to port vm2b under guest 1's ping stream."""
    s = Setup("migrate", extra_ports=("vm2b",)).start()
    dst = None
    try:
        ping(s.vm1, s.vm2.ip, 2)
        uri = "unix:" + os.path.join(s.tmp, "migrate.sock")
        dst = VM("vm2b", s.tmp, s.riovd.socket("vm2b"), s.vm2.mac, s.vm2.ip, False, False, s.initrd,
                 s.env["KERNEL"], incoming=uri).start()
        wait_for(lambda: "vm2b: guest connected" in s.riovd.log_text(), 60,
                 "the destination QEMU on port vm2b")
        stream = PingStream(s.vm1, s.vm2.ip, "migrate", interval="0.2").start()
        src_q = s.vm2.qmp()
        t0 = time.time()
        src_q.cmd("migrate", uri=uri)
        wait_for(lambda: src_q.cmd("query-migrate").get("status") in ("completed", "failed", "cancelled"),
                 300, "the migration to end")
        info = src_q.cmd("query-migrate")
        took = time.time() - t0
        if info.get("status") != "completed":
            raise TestFailure("migration %s: %s" % (info.get("status"), info.get("error-desc", info)))
        log("  migration completed in %.1f s (downtime %s ms, %s MiB transferred)"
            % (took, info.get("downtime"), (info.get("ram") or {}).get("transferred", 0) >> 20))
        wait_for(lambda: dst.qmp().cmd("query-status").get("status") == "running", 60,
                 "the destination guest running")
        # the source QEMU stays, paused and connected to port vm2, for a while (a management layer
        # cleans up after it has seen the destination run): the guest must be reached through
        # vm2b meanwhile, not through the port the switch learned it on before
        time.sleep(MIGRATE_SOURCE_LINGER_S)
        s.vm2.stop()
        # the guest answers from its new port; its console is the destination QEMU's now
        rc, out = dst.run("echo migrated-$((6*7))")
        riovtest.check(rc == 0 and "migrated-42" in out, "guest 2 answers on the destination's console")
        time.sleep(3)    # pings after the move
        replies, top, dups, lost, missing = stream.stop()
        st_dst = s.port("vm2b")
        log("  ping stream: %d replies, %d lost%s, %d duplicates; vm2b rx %s tx %s"
            % (replies, lost, seq_list(missing) if lost else "", dups, st_dst.get("rx_packets"),
               st_dst.get("tx_packets")))
        riovtest.check(lost <= MIGRATE_MAX_LOST, "at most %d pings (1 s) lost across the migration: %d"
                       % (MIGRATE_MAX_LOST, lost))
        riovtest.check(int(st_dst.get("rx_packets", 0)) > 0 and int(st_dst.get("tx_packets", 0)) > 0,
                       "traffic to and from guest 2 through port vm2b")
        text = s.riovd.log_text()
        riovtest.check("vm2b: front-end announces %s (SEND_RARP)" % s.vm2.mac in text,
                       "the destination QEMU announced the guest (SEND_RARP) and riovd logged it")
        ping(s.vm1, s.vm2.ip, 3)
        dst.stop()
        s.vm1.stop()
        c = s.riovd.stop()
        riovtest.check(c["vm2"].get("dirty_log_writes", 0) > 0,
                       "riovd wrote the dirty log of port vm2 during the migration (%s writes)"
                       % c["vm2"].get("dirty_log_writes"))
        riovtest.check(c["vm2b"].get("announces", 0) >= 1,
                       "riovd sent the guest's RARP from port vm2b (%s)" % c["vm2b"].get("announces"))
        return ("migration in %.1f s (downtime %s ms) under a 5/s ping: %d of %d lost, %d dirty-log writes "
                "on vm2, %d announces on vm2b" % (took, info.get("downtime"), lost, top + 1,
                                                  c["vm2"]["dirty_log_writes"], c["vm2b"]["announces"]))
    finally:
        if dst is not None:
            dst.stop()
        s.stop()


# virtio-net feature bits (the guest's /sys/class/net/eth0/device/features: a '0'/'1' string, bit 0 first)
OFFLOAD_BITS = {"CSUM": 0, "GUEST_CSUM": 1, "GUEST_TSO4": 7, "GUEST_TSO6": 8, "HOST_TSO4": 11, "HOST_TSO6": 12}


def guest_features(vm):
    rc, out = vm.run("cat /sys/class/net/eth0/device/features")
    bits = next((l.strip() for l in out if set(l.strip()) <= {"0", "1"} and len(l.strip()) >= 32), "")
    if not bits:
        raise TestFailure("%s: no virtio features in sysfs: %r" % (vm.name, out))
    return {name: bits[b] == "1" for name, b in OFFLOAD_BITS.items()}


def snmp(vm, proto, field):
    """A counter of the guest's /proc/net/snmp (proto "Ip", "Tcp", ...)."""
    rc, out = vm.run("grep '^%s:' /proc/net/snmp" % proto)
    rows = [l.split() for l in out if l.startswith(proto + ":")]
    if len(rows) < 2 or field not in rows[0]:
        raise TestFailure("%s: no %s counter %s: %r" % (vm.name, proto, field, out))
    return int(rows[1][rows[0].index(field)])


def tcp_csum_errors(vm):
    """InCsumErrors of the guest's TCP (/proc/net/snmp)."""
    return snmp(vm, "Tcp", "InCsumErrors")


def link_local(vm):
    """The guest's IPv6 link-local address on eth0."""
    rc, out = vm.run("ip -6 -o addr show dev eth0 scope link")
    m = re.search(r"inet6 (fe80::[0-9a-f:]+)/64", "\n".join(out))
    if not m:
        raise TestFailure("%s: no IPv6 link-local address on eth0: %r" % (vm.name, out))
    return m.group(1)


def frame_sizes(s, name):
    """Average bytes per frame riovd took from (rx) and gave to (tx) port name."""
    st = s.port(name)
    rx, tx = int(st.get("rx_packets", 0)), int(st.get("tx_packets", 0))
    return (int(st.get("rx_bytes", 0)) / rx if rx else 0, int(st.get("tx_bytes", 0)) / tx if tx else 0)


def test_offloads():
    """Both guests negotiate the checksum and segmentation offloads: TCP crosses riovd in frames up
    to 64 KB, whole, both ways, with no checksum error. Then vm2 comes back with a NIC that takes no
    receive offloads (guest_csum, guest_tso4, guest_tso6 off): riovd cuts vm1's TSO frames to
    MTU-sized segments with checksums filled in for it, and vm2 sees no checksum error either."""
    s = Setup("offloads").start()
    try:
        for vm in s.vms():
            f = guest_features(vm)
            riovtest.check(all(f.values()), "%s negotiated %s" % (vm.name, ", ".join(k for k, v in f.items() if v)))
        iperf_server(s.vm2)
        a = iperf(s.vm1, s.vm2.ip, "", 10, "iperf3 -P 4 vm1 -> vm2 (offloads)")
        b = iperf(s.vm1, s.vm2.ip, "-R", 10, "iperf3 -P 4 -R vm2 -> vm1 (offloads)")
        rx1, tx1 = frame_sizes(s, "vm1")
        riovtest.check(rx1 > 1514 and tx1 > 1514, "frames crossed whole: riovd took %.0f bytes per frame "
                       "from vm1 and gave it %.0f" % (rx1, tx1))
        st1, st2 = s.port("vm1"), s.port("vm2")
        riovtest.check(int(st1.get("offload_frames_in", 0)) > 0 and int(st2.get("offload_frames_out", 0)) > 0
                       and int(st2.get("sw_segments", 0)) == 0,
                       "riovd counted offload frames taken from vm1 (%s) and passed whole to vm2 (%s), none "
                       "segmented" % (st1.get("offload_frames_in", 0), st2.get("offload_frames_out", 0)))
        ll = link_local(s.vm2)
        v6 = iperf(s.vm1, ll + "%eth0", "-6", 10, "iperf3 -P 4 -6 vm1 -> vm2 (TSO6)")
        for vm in s.vms():
            riovtest.check(tcp_csum_errors(vm) == 0, "%s: no TCP checksum errors" % vm.name)
        whole = "vm1->vm2 %.0f Mbit/s, vm2->vm1 %.0f Mbit/s, %.0f/%.0f bytes per frame; IPv6 %.0f Mbit/s" % (
            a["receiver"] / 1e6, b["receiver"] / 1e6, rx1, tx1, v6["receiver"] / 1e6)
        s.vm2.stop()
        s.vm2.nic_extra = ",guest_csum=off,guest_tso4=off,guest_tso6=off"
        with s.vm2.lock:
            s.vm2.lines = []
        s.vm2.start()
        s.vm2.wait_line(r"^GUEST-READY", 0, 120, "boot")
        f = guest_features(s.vm2)
        riovtest.check(not f["GUEST_CSUM"] and not f["GUEST_TSO4"] and f["HOST_TSO4"],
                       "vm2 now takes no receive offloads (%s)" % f)
        before = s.port("vm2")
        iperf_server(s.vm2)
        c = iperf(s.vm1, s.vm2.ip, "", 10, "iperf3 -P 4 vm1 -> vm2 (vm2 without receive offloads)")
        after = s.port("vm2")
        pk = int(after.get("tx_packets", 0)) - int(before.get("tx_packets", 0))
        by = int(after.get("tx_bytes", 0)) - int(before.get("tx_bytes", 0))
        rx1b, _ = frame_sizes(s, "vm1")
        riovtest.check(pk > 0 and by / pk <= 1514, "vm2 got MTU-sized frames only (%.0f bytes per frame, "
                       "%d frames)" % (by / pk if pk else 0, pk))
        riovtest.check(rx1b > 1514, "vm1 still sent TSO frames (%.0f bytes per frame)" % rx1b)
        segs = int(after.get("sw_segments", 0)) - int(before.get("sw_segments", 0))
        cut = int(after.get("sw_segmented", 0)) - int(before.get("sw_segmented", 0))
        riovtest.check(cut > 0 and segs > cut, "riovd counted %d TSO frames cut into %d segments for vm2" % (cut, segs))
        riovtest.check(tcp_csum_errors(s.vm2) == 0, "vm2: no TCP checksum errors on riovd's segments")
        drops = s.port("vm1").get("drops", [])
        riovtest.check(not any(d.get("cause") == "bad_offload" for d in drops), "no frame refused as bad_offload")
        return "%s; to a guest without receive offloads (riovd segments): %.0f Mbit/s, %.0f bytes per frame" % (
            whole, c["receiver"] / 1e6, by / pk)
    finally:
        s.stop()


def test_jumbo():
    """A network with MTU 9000 and guests started with host_mtu=9000: QEMU tells riovd the MTU
    (NET_SET_MTU, within the port's), the guests' interfaces come up at 9000 (VIRTIO_NET_F_MTU),
    8,972-byte pings cross unfragmented and TCP runs at MTU 9000 with the offloads."""
    s = Setup("jumbo", mtu=9000)
    for vm in s.vms():
        vm.nic_extra = ",host_mtu=9000"
    s.start()
    try:
        for vm in s.vms():
            rc, out = vm.run("cat /sys/class/net/eth0/mtu")
            mtu = next((l.strip() for l in out if l.strip().isdigit()), "?")
            riovtest.check(mtu == "9000", "%s: eth0 came up with MTU %s" % (vm.name, mtu))
        ping(s.vm1, s.vm2.ip, 2)
        before = s.port("vm2")
        rc, out = s.vm1.run("ping -c 5 -W 2 -s 8972 %s" % s.vm2.ip, 90)   # busybox: no -M do
        after = s.port("vm2")
        text = "\n".join(out)
        m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
        riovtest.check(m is not None and m.group(2) == "5", "vm1 -> vm2: 5 of 5 9,000-byte pings (%s)" % (
            m.group(0) if m else text[-200:]))
        pk = int(after.get("tx_packets", 0)) - int(before.get("tx_packets", 0))
        by = int(after.get("tx_bytes", 0)) - int(before.get("tx_bytes", 0))
        frags = snmp(s.vm1, "Ip", "FragCreates")
        riovtest.check(frags == 0 and by >= 5 * 9014,
                       "the echo requests crossed riovd whole: vm1 made no IP fragments, riovd gave vm2 %d "
                       "bytes in %d frames" % (by, pk))
        iperf_server(s.vm2)
        a = iperf(s.vm1, s.vm2.ip, "", 10, "iperf3 -P 4 vm1 -> vm2 at MTU 9000")
        drops = s.port("vm2").get("drops", [])
        riovtest.check(not any(d.get("cause") == "mtu_exceeded" for d in drops), "nothing over the MTU")
        return "eth0 MTU 9000 in both guests, 9,000-byte pings unfragmented, iperf3 vm1->vm2 %.0f Mbit/s" % (
            a["receiver"] / 1e6)
    finally:
        s.stop()


TSO_FRAMES = 50
TSO_PAYLOAD = 7000          # about five 1,448-byte segments each


def test_tso_sender():
    """A dpdk-testpmd guest (csum engine, `tso set 1448`) sends 7,000-byte TCP frames as TSO through
    riovd: to vm1, which takes them whole (GUEST_TSO4), and to vm2, whose NIC takes no receive
    offloads, so riovd cuts them into MTU-sized segments with checksums of its own. Both guests'
    TCP takes every frame (each to a closed port: one RST back per frame) and counts no checksum
    error."""
    s = Setup("tso-sender", extra_ports=("tp",))
    s.vm2.nic_extra = ",guest_csum=off,guest_tso4=off,guest_tso6=off"
    s.start()
    try:
        results = []
        for n, vm in enumerate(s.vms()):
            pcap = os.path.join(s.tmp, "tso-%s.pcap" % vm.name)
            tso_sender.tcp_pcap(pcap, vm.mac, vm.ip, TSO_FRAMES, TSO_PAYLOAD)
            before_tp, before_vm = s.port("tp"), s.port(vm.name)
            rst0, err0 = snmp(vm, "Tcp", "OutRsts"), tcp_csum_errors(vm)
            rxp0 = int(vm.run("cat /sys/class/net/eth0/statistics/rx_packets")[1][0])
            sent = tso_sender.TsoSender(s.tmp, s.riovd.socket("tp"), pcap, vm.mac, n).run()
            riovtest.check(sent == TSO_FRAMES, "testpmd sent %d of %d TSO frames to %s" % (sent, TSO_FRAMES, vm.name))
            d = lambda a, b, k: int(a.get(k, 0)) - int(b.get(k, 0))  # noqa: E731
            # every frame riovd delivered is in the guest's rx_packets, or counted by riovd as a drop
            # toward it (a TCG guest may not refill its ring in time: no_buffer); wait until all are
            # one or the other, then check what arrived
            deadline = time.time() + 30
            while True:
                tp, st = s.port("tp"), s.port(vm.name)
                want = d(st, before_vm, "sw_segments") if vm is s.vm2 else d(st, before_vm, "offload_frames_out")
                lost = d(st, before_vm, "tx_dropped")
                rxp = int(vm.run("cat /sys/class/net/eth0/statistics/rx_packets")[1][0]) - rxp0
                rsts = snmp(vm, "Tcp", "OutRsts") - rst0
                if (want > 0 and rxp + lost >= want and rsts >= min(TSO_FRAMES, rxp)) or time.time() > deadline:
                    break
                time.sleep(1)
            errs = tcp_csum_errors(vm) - err0
            causes = {k: v for k, v in drops_by_cause(st).items() if v and k not in ("rx_dropped", "tx_dropped")}
            riovtest.check(d(tp, before_tp, "offload_frames_in") >= TSO_FRAMES,
                           "riovd took %d TSO frames from testpmd" % d(tp, before_tp, "offload_frames_in"))
            riovtest.check(rxp > 0 and rxp + lost >= want,
                           "%s: each of riovd's %d frames arrived (%d) or was counted as a drop (%d: %s)" % (
                               vm.name, want, rxp, lost, causes or "none"))
            riovtest.check(rsts >= min(TSO_FRAMES, rxp) and errs == 0,
                           "%s's TCP took what arrived (%d RSTs back for %d frames), %d checksum errors" % (
                               vm.name, rsts, rxp, errs))
            if vm is s.vm1:
                riovtest.check(want >= TSO_FRAMES,
                               "vm1 got them whole: %d offload frames out, %d frames received" % (want, rxp))
                results.append("vm1 whole (%d frames, %d dropped)" % (rxp, lost))
            else:
                riovtest.check(want >= TSO_FRAMES * 5,
                               "vm2 got MTU-sized segments: riovd made %d, vm2 received %d frames" % (want, rxp))
                results.append("vm2 in %d segments made by riovd (%d received, %d dropped)" % (want, rxp, lost))
        return "testpmd TSO frames: %s; 0 checksum errors" % ", ".join(results)
    finally:
        s.stop()


class _Named:
    def __init__(self, name):
        self.name = name


def eth0_rx(vm):
    rc, out = vm.run("cat /sys/class/net/eth0/statistics/rx_bytes /sys/class/net/eth0/statistics/rx_packets")
    v = [int(l) for l in out if l.strip().isdigit()]
    if len(v) != 2:
        raise TestFailure("%s: eth0 counters not read: %r" % (vm.name, out))
    return v[0], v[1]


UPLINK_PEER_IP = "10.91.0.50"


def test_uplink_gro():
    """TCP from a Linux peer on an uplink (a veth into a namespace, riovd's eth port on the host end
    through net_af_packet; checksumming, TSO and GSO off on the peer's veth, so that it sends
    MTU-sized segments with their checksums as a NIC delivers them: a veth otherwise passes the
    kernel's partial checksums on, which af_packet does not complete) to a guest that takes TSO: riovd coalesces the segments into TSO frames
    (the eth port's offload_frames_in), the guest receives frames far larger than 1,514 bytes and
    counts no checksum error. With the port's offloads off (no coalescing) the guest gets the
    segments as they came. iperf3 both ways, with and without, rates printed."""
    s = Setup("uplink-gro")
    peer = riovtest.VethPeer("gro", UPLINK_PEER_IP)
    s.start()
    try:
        peer.start()
        iperf_server(s.vm2)
        results = {}
        for mode in ("on", "off"):
            args = ["port", "add", "eth", "up0", "--net", "lab", "--devargs", "net_af_packet0,iface=%s" % peer.host_if]
            if mode == "off":
                s.ctl.ok("port", "delete", "up0")
                args += ["--offloads", "off"]
            s.ctl.ok(*args)
            wait_for(lambda: peer.pings(s.vm2.ip), 60, "the peer pings vm2 over the uplink")
            err0 = tcp_csum_errors(s.vm2)
            b0, p0 = eth0_rx(s.vm2)
            st0 = s.port("up0")
            r = peer.ns_run("iperf3", "-c", s.vm2.ip, "-P", "4", "-t", "10")
            fwd = parse_iperf(_Named("peer"), r.stdout.splitlines(), "iperf3 -P 4 peer -> vm2 (coalescing %s)" % mode)
            b1, p1 = eth0_rx(s.vm2)
            st1 = s.port("up0")
            r = peer.ns_run("iperf3", "-c", s.vm2.ip, "-P", "4", "-t", "10", "-R")
            rev = parse_iperf(_Named("peer"), r.stdout.splitlines(), "iperf3 -P 4 -R vm2 -> peer (coalescing %s)" % mode)
            frame = (b1 - b0) / max(1, p1 - p0)
            merged = int(st1.get("offload_frames_in", 0)) - int(st0.get("offload_frames_in", 0))
            riovtest.check(tcp_csum_errors(s.vm2) == err0, "vm2: no TCP checksum errors (coalescing %s)" % mode)
            if mode == "on":
                riovtest.check(merged > 0 and frame > 3000, "coalescing on: riovd made %d TSO frames from the "
                               "uplink's segments, vm2 got %.0f bytes per frame" % (merged, frame))
            else:
                riovtest.check(merged == 0 and frame <= 1514, "coalescing off: no TSO frames made (%d), vm2 got "
                               "%.0f bytes per frame" % (merged, frame))
            results[mode] = (fwd["receiver"] / 1e6, rev["receiver"] / 1e6, frame)
        return "peer->vm2 / vm2->peer Mbit/s: coalescing on %.0f / %.0f (%.0f B/frame to vm2), off %.0f / %.0f " \
               "(%.0f B/frame)" % (results["on"] + results["off"])
    finally:
        peer.stop()
        s.stop()


# ---- issue 13: guests on two riov nodes across the VXLAN overlay

OVL_NET, OVL_VNI, OVL_MTU = "blue", 100, 1450   # the underlay's 1,500 less 50 bytes of outer headers
OVL_UPLINK_IF = "u0"      # each node's end of the underlay veth (both ends are named u0, one per namespace)
OVL_TAP = "up0"           # the uplink's name, and its TAP's in the node's namespace
# ICMP data sizes of the large pings: a 1,428-byte IP packet, and one of the network's MTU (1,450:
# a 1,464-byte inner frame, 1,500 bytes of outer IPv4 on the underlay)
OVL_PING_SIZES = (1400, 1422)
OVL_IPERF_S = 3
# seconds for the BGP session and the EVPN routes (FRR takes 1-5 here; the TCG guests are not up yet)
OVL_EVPN_CONVERGE = 60


def _sh(*args, check_rc=True, timeout=60):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check_rc and r.returncode != 0:
        raise TestFailure("%s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()[-300:]))
    return r


class OverlayNode:
    """One riov node of host-overlay-ping: a network namespace with riovd in it, its end of the
    underlay veth (u0, the uplink's net_af_packet), the uplink's TAP up0 with the node's VTEP
    address, network blue (VNI 100, MTU 1450) whose flood list is the other node, and vhost port
    vmN (riovd the server) for the node's guest. riovd's sockets are files: QEMU and riovctl reach
    them from the host's namespace."""

    def __init__(self, letter, tmp, ip, peer_ip, vm_name, evpn=False):
        self.name = "node " + letter
        self.ns = "rv-ov%s%d" % (letter.lower(), os.getpid() % 100000)
        self.evpn = evpn
        self.frr = None
        self.ip, self.peer_ip, self.vm_name = ip, peer_ip, vm_name
        self.tmp = os.path.join(tmp, "node-" + letter.lower())
        os.makedirs(self.tmp)
        self.riovd = Riovd(self.tmp, "", netns=self.ns, extra_args=["--idle-sleep-us", IDLE_SLEEP_US])
        self.ctl = Riovctl(os.path.join(self.tmp, "riovd.sock"))
        self.vtep_port = "%s@%s" % (OVL_NET, peer_ip)
        self.rc = None

    def ns_run(self, *args, **kw):
        return _sh("ip", "netns", "exec", self.ns, *args, **kw)

    def add_ns(self):
        _sh("ip", "netns", "add", self.ns)
        # no IPv6 in the namespace: the underlay carries nothing but the test's ARP, ICMP and VXLAN
        self.ns_run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        self.ns_run("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        _sh("ip", "-n", self.ns, "link", "set", "lo", "up")

    def underlay_if_up(self):
        # the kernel keeps off the af_packet uplink's interface (docs/fabric.md): no address, no
        # IPv6, no ARP answers, no IPv4 taken (the node's address is on the TAP)
        self.ns_run("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % OVL_UPLINK_IF)
        self.ns_run("sysctl", "-qw", "net.ipv4.conf.%s.arp_ignore=8" % OVL_UPLINK_IF)
        self.ns_run("sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=1" % OVL_UPLINK_IF)
        _sh("ip", "-n", self.ns, "link", "set", OVL_UPLINK_IF, "up")

    def tap_ready(self):
        r = _sh("ip", "-n", self.ns, "-j", "-4", "addr", "show", "dev", OVL_TAP, check_rc=False)
        if r.returncode != 0 or not r.stdout.strip():
            return False
        j = json.loads(r.stdout)
        return bool(j) and "UP" in j[0].get("flags", []) and any(
            a.get("local") == self.ip and a.get("prefixlen") == 24 for a in j[0].get("addr_info", []))

    def tap_mac(self):
        return json.loads(_sh("ip", "-n", self.ns, "-j", "link", "show", "dev", OVL_TAP).stdout)[0]["address"].lower()

    def configure(self):
        """riovd's uplink, network blue with the other node as its remote VTEP (in EVPN mode:
        no VTEP, the network's shadow devices for zebra instead), the guest's port."""
        self.riovd.start()
        self.ctl.ok("port", "add", "uplink", OVL_TAP, "--devargs", "net_af_packet0,iface=%s" % OVL_UPLINK_IF,
                    "--address", self.ip + "/24")
        wait_for(self.tap_ready, 10, "%s: the uplink's TAP %s up with %s/24" % (self.name, OVL_TAP, self.ip))
        if self.evpn:
            self.ctl.ok("net", "add", OVL_NET, "--vni", str(OVL_VNI), "--mtu", str(OVL_MTU), "--evpn")
        else:
            self.ctl.ok("net", "add", OVL_NET, "--vni", str(OVL_VNI), "--mtu", str(OVL_MTU))
            self.ctl.ok("net", "vtep", "add", OVL_NET, self.peer_ip)
        self.ctl.ok("port", "add", "vhost", self.vm_name, "--net", OVL_NET, "--socket", self.vm_name + ".sock")

    def port(self, name):
        st = self.ctl.json("port", "stats", name)["ports"]
        if len(st) != 1:
            raise TestFailure("%s: riovctl port stats %s: %r" % (self.name, name, st))
        return st[0]

    def net(self):
        return next(n for n in self.ctl.json("net", "list")["networks"] if n["spec"]["name"] == OVL_NET)

    def vtep(self):
        """The VtepInfo of the other node in network blue (None while riovd lists none)."""
        return next((v for v in self.net().get("vteps", []) if v.get("address") == self.peer_ip), None)

    def start_frr(self):
        """zebra and bgpd in the node's namespace (tests/system/frr.py), the other node their iBGP
        neighbor with address family l2vpn evpn and advertise-all-vni."""
        self.frr = frr.FrrNode(self.ns, self.ip, 65000, [self.peer_ip])
        self.frr.start()

    def stop_frr(self):
        if self.frr is not None:
            self.frr.stop()

    def stop_riovd(self):
        """SIGTERM; riovd's exit status (None when it had to be killed, or did not run)."""
        p = self.riovd.proc
        if p is None:
            return self.rc
        self.riovd.proc = None
        p.send_signal(signal.SIGTERM)
        try:
            self.rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.rc = None
        return self.rc

    def delete_ns(self):
        _sh("ip", "netns", "del", self.ns, check_rc=False)


def _drop_causes(st):
    return {d.get("cause", "?"): _num(d.get("packets")) for d in st.get("drops", []) or []}


def _fabric_drops(st):
    """Drops of an uplink that are the fabric's: VXLAN it would not decapsulate (docs/fabric.md)."""
    return {k: v for k, v in _drop_causes(st).items() if k.startswith("vxlan_") or k == "unknown_vtep"}


def _guest_arp(vm, ip):
    """The MAC of ip in the guest's ARP table (complete entries only), or None."""
    rc, out = vm.run("cat /proc/net/arp")
    for l in out:
        f = l.split()
        if len(f) >= 6 and f[0] == ip and f[2] == "0x2":
            return f[3].lower()
    return None


def _guest_ping(vm, ip, count=5, size=None):
    rc, out = vm.run("ping -c %d -i 0.2 -W 3 %s%s" % (count, "-s %d " % size if size else "", ip), 120)
    text = "\n".join(out)
    m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
    if not m:
        raise TestFailure("%s: no ping summary:\n%s" % (vm.name, text))
    return int(m.group(1)), int(m.group(2)), "DUP!" in text


def _first_pings(vm1, vm2):
    """5 pings each way between the overlay's guests (vm1 on node A, vm2 on B), the first ones
    they send: each guest's ARP table ends with the other's MAC, resolved across the overlay."""
    for vm, peer, what in ((vm1, vm2, "vm1 (node A) -> vm2 (node B)"), (vm2, vm1, "vm2 (node B) -> vm1 (node A)")):
        s, r, dup = _guest_ping(vm, peer.ip)
        riovtest.check(r == s == 5 and not dup, "%s: %d/%d echo replies%s" % (
            what, r, s, ", duplicates" if dup else ""))
    m12, m21 = _guest_arp(vm1, vm2.ip), _guest_arp(vm2, vm1.ip)
    riovtest.check(m12 == vm2.mac and m21 == vm1.mac, "ARP resolved across the overlay: vm1 has %s at %s, "
                   "vm2 has %s at %s" % (vm2.ip, m12, vm1.ip, m21))


class Overlay:
    """Two riov nodes (namespaces rv-ova<pid>, rv-ovb<pid>) joined by one veth, each with a Linux
    guest (QEMU in the host's namespace) on its vhost port."""

    def __init__(self, evpn=False):
        env = lab_env()
        initrd = guest_initrd()
        self.evpn = evpn
        self.tmp = riovtest.tmpdir("host-evpn-ping" if evpn else "host-overlay-ping")
        TMPDIRS.append(self.tmp)
        self.a = OverlayNode("A", self.tmp, "10.0.0.1", "10.0.0.2", "vm1", evpn)
        self.b = OverlayNode("B", self.tmp, "10.0.0.2", "10.0.0.1", "vm2", evpn)
        self.vm1 = VM("vm1", self.a.tmp, self.a.riovd.socket("vm1"), "52:54:00:00:0d:01", "192.168.100.1", False,
                      False, initrd, env["KERNEL"])
        self.vm2 = VM("vm2", self.b.tmp, self.b.riovd.socket("vm2"), "52:54:00:00:0d:02", "192.168.100.2", False,
                      False, initrd, env["KERNEL"])
        for vm in self.vms():
            vm.nic_extra = ",host_mtu=%d" % OVL_MTU   # VIRTIO_NET_F_MTU: eth0 comes up at 1450
        self.namespaces = False

    def nodes(self):
        return (self.a, self.b)

    def vms(self):
        return (self.vm1, self.vm2)

    def start(self):
        self.namespaces = True
        for n in self.nodes():
            n.add_ns()
        _sh("ip", "-n", self.a.ns, "link", "add", OVL_UPLINK_IF, "type", "veth", "peer", "name", OVL_UPLINK_IF,
            "netns", self.b.ns)
        for n in self.nodes():
            n.underlay_if_up()
        for n in self.nodes():
            n.configure()
        if self.evpn:
            self.start_evpn()
        # the underlay first: each node's kernel pings the other through both riovds' uplinks and
        # TAPs, and each riovd takes its VTEP's next hop from its kernel (the other TAP's MAC)
        for n, peer in ((self.a, self.b), (self.b, self.a)):
            r = n.ns_run("ping", "-c", "3", "-i", "0.2", "-W", "2", n.peer_ip, check_rc=False)
            riovtest.check(r.returncode == 0 and " 0% packet loss" in r.stdout and "DUP" not in r.stdout,
                           "%s's kernel pinged %s through the TAPs, each echo answered once" % (n.name, n.peer_ip))
            mac = peer.tap_mac()
            wait_for(lambda: (lambda v: v is not None and v.get("resolved") is True)(n.vtep()),
                     OVL_EVPN_CONVERGE if self.evpn else 15, "%s: VTEP %s resolved" % (n.name, n.peer_ip))
            v = n.vtep()
            riovtest.check(v.get("uplink") == OVL_TAP and str(v.get("next_hop_mac", "")).lower() == mac and
                           v.get("port") == n.vtep_port,
                           "%s: VTEP %s (port %s) resolved out of %s to %s's MAC %s" % (
                               n.name, n.peer_ip, n.vtep_port, OVL_TAP, peer.name, mac))
        for vm in self.vms():
            vm.start()
        for vm in self.vms():
            vm.wait_line(r"^GUEST-READY", 0, 180, "boot")
        log("  both guests up")
        return self

    def start_evpn(self):
        """FRR in both namespaces; the BGP session up (it runs over the uplinks' TAPs: riovd
        punts it to each kernel), and each node's bgpd holds the other's type-3 route of VNI 100."""
        for n in self.nodes():
            n.start_frr()
        t0 = time.time()
        try:
            for n in self.nodes():
                wait_for(n.frr.sessions_established, OVL_EVPN_CONVERGE,
                         "%s: the iBGP EVPN session to %s established" % (n.name, n.peer_ip))
            for n in self.nodes():
                wait_for(lambda: n.frr.type3_vteps(OVL_VNI) == [n.peer_ip], OVL_EVPN_CONVERGE,
                         "%s: the type-3 route of %s in VNI %d" % (n.name, n.peer_ip, OVL_VNI))
        except TestFailure:
            for n in self.nodes():
                log(n.frr.diagnostics())
            raise
        log("  EVPN: sessions up, type-3 routes exchanged in %.1f s" % (time.time() - t0))

    def stop(self):
        """Everything this test started goes, whatever happened: the QEMUs, both riovds (SIGTERM,
        then SIGKILL), FRR, the namespaces (with the veth and the TAPs in them)."""
        for vm in self.vms():
            try:
                vm.stop()
            except Exception as e:  # go on: the rest must go too
                log("  %s: stop: %s" % (vm.name, e))
        for n in self.nodes():
            try:
                n.stop_riovd()
            except Exception as e:
                log("  %s: riovd stop: %s" % (n.name, e))
        for n in self.nodes():
            try:
                n.stop_frr()
            except Exception as e:
                log("  %s: FRR stop: %s" % (n.name, e))
        if self.namespaces:
            for n in self.nodes():
                n.delete_ns()
            self.namespaces = False


def test_overlay_ping():
    """Issue 13's "must show": QEMU Linux guests on two riov nodes ping each other across the VXLAN
    overlay. Nodes A and B are riovds in network namespaces of their own, their uplinks on the two
    ends of one veth (10.0.0.1/24 and 10.0.0.2/24); network blue (VNI 100, MTU 1450) on each lists
    the other node as its remote VTEP; guest vm1 (192.168.100.1) is on A, vm2 (.2) on B. ARP
    crosses the overlay (head-end replication of the broadcast, learning of the answer), pings
    pass both ways, also of 1,400 bytes and of the network's MTU, and iperf3 moves TCP both ways
    (riovd cuts the guests' TSO frames for the VTEP); the VTEP ports' counters on the two nodes
    agree, and nothing is dropped for a fabric cause."""
    if shutil.which("ip") is None or shutil.which("sysctl") is None:
        raise Skip("not installed: ip (iproute2) or sysctl (procps)")
    ov = Overlay()

    def _term(signum, frame):
        raise SystemExit("host-overlay-ping: signal %d" % signum)
    old_term = signal.signal(signal.SIGTERM, _term)   # `finally` cleans up on SIGTERM too
    try:
        ov.start()
        a, b, vm1, vm2 = ov.a, ov.b, ov.vm1, ov.vm2
        for vm in ov.vms():
            rc, out = vm.run("cat /sys/class/net/eth0/mtu")
            mtu = next((l.strip() for l in out if l.strip().isdigit()), "?")
            riovtest.check(mtu == str(OVL_MTU), "%s: eth0 came up with MTU %s (host_mtu)" % (vm.name, mtu))
        riovtest.check(_guest_arp(vm1, vm2.ip) is None and _guest_arp(vm2, vm1.ip) is None,
                       "neither guest knows the other's MAC yet")

        # vm1 -> vm2: vm1's ARP request is flooded by A to VTEP 10.0.0.2, B delivers it to vm2 and
        # learns vm1's MAC behind 10.0.0.1; the answer and the pings go back unicast
        _first_pings(vm1, vm2)
        for n in ov.nodes():
            macs = _num(n.net().get("macs"))
            riovtest.check(macs >= 2, "%s learned %d MACs on %s (its guest's and the remote one's)" % (
                n.name, macs, OVL_NET))

        frag0 = snmp(vm1, "Ip", "FragCreates")
        for size in OVL_PING_SIZES:
            for vm, peer in ((vm1, vm2), (vm2, vm1)):
                s, r, dup = _guest_ping(vm, peer.ip, size=size)
                riovtest.check(r == s == 5 and not dup, "%s -> %s: %d/%d echo replies of %d bytes of data" % (
                    vm.name, peer.name, r, s, size))
        riovtest.check(snmp(vm1, "Ip", "FragCreates") == frag0, "vm1 fragmented none of them")

        # the two nodes' VTEP ports agree (A's encapsulated = B's decapsulated, both ways): poll,
        # a guest's own IPv6 chatter (router solicitations, MLD) may be under way between two reads
        def vtep_counts():
            va, vb = a.port(a.vtep_port), b.port(b.vtep_port)
            return tuple(_num(x) for x in (va.get("tx_packets"), vb.get("rx_packets"), vb.get("tx_packets"),
                                           va.get("rx_packets")))
        try:
            wait_for(lambda: (lambda c: c[0] == c[1] and c[2] == c[3])(vtep_counts()), 10,
                     "the VTEP ports' counters to agree")
        except TestFailure:
            # the check below shows them; every counter of both nodes' ports, to tell a frame
            # that went another way from a counter that lags
            for n in ov.nodes():
                for name in (OVL_TAP, n.vtep_port, n.vm_name):
                    log("  %s: port %s: %s" % (n.name, name, n.port(name)))
        atx, brx, btx, arx = vtep_counts()
        riovtest.check(atx == brx and btx == arx and min(atx, btx) >= 21,
                       "A's %s encapsulated %d and B's %s decapsulated %d; B's encapsulated %d and A's "
                       "decapsulated %d" % (a.vtep_port, atx, b.vtep_port, brx, btx, arx))
        pings_counts = (atx, arx, btx, brx)

        # TCP: a few seconds of iperf3 each way (the guests' TSO frames are segmented by riovd
        # before they are encapsulated)
        iperf_server(vm2)
        fwd = iperf(vm1, vm2.ip, "", OVL_IPERF_S, "iperf3 -P 4 vm1 -> vm2 across the overlay")
        rev = iperf(vm1, vm2.ip, "-R", OVL_IPERF_S, "iperf3 -P 4 -R vm2 -> vm1 across the overlay")
        moved = (sum(fwd["streams"].values()) / 1e6, sum(rev["streams"].values()) / 1e6)
        riovtest.check(min(moved) >= 2, "iperf3 moved %.1f MB vm1 -> vm2 and %.1f MB back" % moved)
        for vm in ov.vms():
            riovtest.check(tcp_csum_errors(vm) == 0, "%s: no TCP checksum errors" % vm.name)

        drops, segs, vts = [], [], []
        for n in ov.nodes():
            up, vt = n.port(OVL_TAP), n.port(n.vtep_port)
            log("  %s: %s rx %s tx %s drops %s; %s rx %s tx %s drops %s sw_segmented %s sw_segments %s" % (
                n.name, OVL_TAP, up.get("rx_packets", 0), up.get("tx_packets", 0), _drop_causes(up), n.vtep_port,
                vt.get("rx_packets", 0), vt.get("tx_packets", 0), _drop_causes(vt), vt.get("sw_segmented", 0),
                vt.get("sw_segments", 0)))
            riovtest.check(_fabric_drops(up) == {}, "%s: uplink %s dropped no VXLAN frame (%s)" % (
                n.name, OVL_TAP, _fabric_drops(up)))
            riovtest.check(_drop_causes(vt) == {} and _num(vt.get("tx_dropped")) == 0,
                           "%s: VTEP port %s dropped nothing (%s)" % (n.name, n.vtep_port, _drop_causes(vt)))
            drops.append(sum(_drop_causes(up).values()))
            segs.append(_num(vt.get("sw_segments")))
            vts.append((_num(vt.get("tx_packets")), _num(vt.get("rx_packets"))))
        for n in ov.nodes():
            riovtest.check(n.stop_riovd() == 0, "%s: riovd stopped cleanly" % n.name)
        # informational (TCP recovers what a full af_packet ring would lose, and riovd cannot count that)
        log("  all frames: A encapsulated %d, B decapsulated %d; B encapsulated %d, A decapsulated %d" % (
            vts[0][0], vts[1][1], vts[1][0], vts[0][1]))
        return ("vm1 (node A) <-> vm2 (node B) 5/5 each way over VXLAN VNI %d, ARP resolved across the overlay; "
                "%s-byte pings 5/5 each way (MTU %d, 1,500-byte outer packets); after the pings A->B %d frames "
                "encapsulated = %d decapsulated, B->A %d = %d; iperf3 -P 4 %.0f Mbit/s vm1->vm2, %.0f Mbit/s back "
                "(%.0f + %.0f MB; riovd cut TSO into %d + %d segments for the VTEPs); in all A->B %d/%d, B->A %d/%d "
                "frames encapsulated/decapsulated; 0 fabric drops (uplink drops of any cause: A %d, B %d)" % (
                    OVL_VNI, " and ".join("{:,}".format(s) for s in OVL_PING_SIZES), OVL_MTU, pings_counts[0],
                    pings_counts[3], pings_counts[2], pings_counts[1], fwd["receiver"] / 1e6, rev["receiver"] / 1e6,
                    moved[0], moved[1], segs[0], segs[1], vts[0][0], vts[1][1], vts[1][0], vts[0][1], drops[0],
                    drops[1]))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)   # no second signal in the middle of the cleanup
        try:
            ov.stop()
        finally:
            signal.signal(signal.SIGTERM, old_term)


def test_evpn_ping():
    """Issue 14's "must show": two QEMU Linux guests on two riov nodes ping each other with
    nothing configured but EVPN. The nodes are host-overlay-ping's (riovds in namespaces of their
    own, uplinks on the two ends of one veth), but network blue is in EVPN mode on each (`net add
    blue --vni 100 --evpn`, no `net vtep add`), and each namespace runs FRR's zebra and bgpd
    (iBGP, l2vpn evpn, advertise-all-vni). The flood lists come from the type-3 routes; each
    guest's MAC, learned by its riovd, reaches the other node as a type-2 route and riovd's
    switch from zebra's FDB entry; ARP and pings cross both ways; every VTEP riovd lists is
    EVPN's."""
    if shutil.which("ip") is None or shutil.which("sysctl") is None:
        raise Skip("not installed: ip (iproute2) or sysctl (procps)")
    try:
        frr.need_frr()
    except riovtest.Skip as e:
        raise Skip(str(e))
    ov = Overlay(evpn=True)

    def _term(signum, frame):
        raise SystemExit("host-evpn-ping: signal %d" % signum)
    old_term = signal.signal(signal.SIGTERM, _term)   # `finally` cleans up on SIGTERM too
    try:
        ov.start()
        a, b, vm1, vm2 = ov.a, ov.b, ov.vm1, ov.vm2
        for n in ov.nodes():
            vs = n.net().get("vteps", []) or []
            riovtest.check([(v.get("address"), v.get("origin")) for v in vs] == [(n.peer_ip, "evpn")],
                           "%s: blue's only VTEP is %s, from EVPN (%s)" % (
                               n.name, n.peer_ip, [(v.get("address"), v.get("origin")) for v in vs]))
        riovtest.check(_guest_arp(vm1, vm2.ip) is None and _guest_arp(vm2, vm1.ip) is None,
                       "neither guest knows the other's MAC yet")
        t0 = time.time()
        _first_pings(vm1, vm2)
        # each guest's MAC is a type-2 route at the other node, pointing at its node's VTEP, and an
        # EVPN entry of the other riovd's switch (riovd's sweep writes the learned MAC to the
        # shadow TAP's FDB every 500 ms; zebra and bgpd take it from there)
        for n, peer, vm in ((a, b, vm2), (b, a, vm1)):
            wait_for(lambda: n.frr.type2_macs(OVL_VNI).get(vm.mac) == peer.ip, OVL_EVPN_CONVERGE,
                     "%s: the type-2 route of %s (%s) via %s" % (n.name, vm.name, vm.mac, peer.ip))

            def entry():
                return next((e for e in n.ctl.json("net", "mac", "list", OVL_NET).get("macs") or []
                             if e.get("mac", "").lower() == vm.mac), None)
            wait_for(lambda: (entry() or {}).get("evpn") is True, OVL_EVPN_CONVERGE,
                     "%s: riovd's switch has %s from EVPN" % (n.name, vm.mac))
            e = entry()
            riovtest.check(e.get("port") == n.vtep_port and not e.get("local"),
                           "%s: riovd sends %s's MAC %s to %s (EVPN entry: %s)" % (
                               n.name, vm.name, vm.mac, n.vtep_port, e))
        converged = time.time() - t0
        for vm, peer in ((vm1, vm2), (vm2, vm1)):
            s, r, dup = _guest_ping(vm, peer.ip, size=OVL_PING_SIZES[-1])
            riovtest.check(r == s == 5 and not dup, "%s -> %s: %d/%d echo replies of %d bytes of data" % (
                vm.name, peer.name, r, s, OVL_PING_SIZES[-1]))
        for n in ov.nodes():
            up, vt = n.port(OVL_TAP), n.port(n.vtep_port)
            riovtest.check(_fabric_drops(up) == {}, "%s: uplink %s dropped no VXLAN frame (%s)" % (
                n.name, OVL_TAP, _fabric_drops(up)))
            riovtest.check(_drop_causes(vt) == {} and _num(vt.get("tx_dropped")) == 0,
                           "%s: VTEP port %s dropped nothing (%s)" % (n.name, n.vtep_port, _drop_causes(vt)))
        for n in ov.nodes():
            riovtest.check(n.stop_riovd() == 0, "%s: riovd stopped cleanly" % n.name)
        return ("vm1 (node A) <-> vm2 (node B) 5/5 each way over VNI %d with nothing configured but EVPN "
                "(FRR zebra + bgpd per node): flood lists from type-3 routes, each guest's MAC a type-2 route "
                "at the other node and an EVPN entry of its switch %.1f s after the first ping; %d-byte pings 5/5 "
                "each way; 0 fabric drops" % (OVL_VNI, converged, OVL_PING_SIZES[-1]))
    except TestFailure:
        for n in ov.nodes():
            if n.frr is not None and n.frr.running():
                log(n.frr.diagnostics())
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)   # no second signal in the middle of the cleanup
        try:
            ov.stop()
        finally:
            signal.signal(signal.SIGTERM, old_term)


TESTS = [("ping", test_ping), ("ping-viommu", test_ping_viommu), ("reboot-restart", test_reboot_restart),
         ("reboot-restart-viommu", test_reboot_restart_viommu), ("mq", test_mq), ("hotplug", test_hotplug),
         ("hotplug-mq", test_hotplug_mq), ("mq-restart", test_mq_restart), ("libvirt", test_libvirt),
         ("kill-restart", test_kill_restart), ("migrate", test_migrate), ("offloads", test_offloads),
         ("jumbo", test_jumbo), ("tso-sender", test_tso_sender),
         ("uplink-gro", test_uplink_gro), ("overlay-ping", test_overlay_ping),
         ("evpn-ping", test_evpn_ping)]


def main():
    only = sys.argv[1:]
    unknown = [o for o in only if o not in dict(TESTS)]
    if unknown:
        sys.exit("unknown test(s) %s; the tests are: %s" % (", ".join(unknown), " ".join(n for n, _ in TESTS)))
    os.makedirs(CACHE, exist_ok=True)
    lockf = open(os.path.join(CACHE, "run.lock"), "w")
    fcntl.flock(lockf, fcntl.LOCK_EX)   # one QEMU workload at a time (tests/lab/run.sh takes it too)
    failed = 0
    for name, fn in TESTS:
        if only and name not in only:
            continue
        log("== host-" + name)
        t0 = time.time()
        failed_now = True
        try:
            detail = fn()
            failed_now = False
            print("LAB-RESULT host-%s PASS %s (%.0f s)" % (name, detail, time.time() - t0), flush=True)
        except Skip as e:
            failed_now = False
            print("LAB-RESULT host-%s SKIP %s" % (name, e), flush=True)
        except Exception as e:
            failed += 1
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            log(str(e))
            print("LAB-RESULT host-%s FAIL %s" % (name, first), flush=True)
        riovtest._cleanup()
        del riovtest._procs[:]
        for d in TMPDIRS:
            if failed_now:
                log("  kept " + d)
            else:
                shutil.rmtree(d, ignore_errors=True)
        del TMPDIRS[:]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
