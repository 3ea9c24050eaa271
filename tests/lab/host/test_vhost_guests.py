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

Nothing is faked: riovd is the built daemon, the guests are Debian's kernel under QEMU. Needs
tests/lab/build.sh (kernel, busybox) and tests/lab/host/build-guest.sh (the guest initramfs).
Prints one "LAB-RESULT host-<test> PASS|FAIL <detail>" line per test. Only one QEMU at a time runs
on this machine's lab lock ($RIOV_LAB_CACHE/run.lock).

Usage: test_vhost_guests.py [test ...]     (RIOV_BUILD: the build directory, default build/)
"""
import fcntl
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
from riovtest import Riovd, Riovctl, TestFailure, log, wait_for  # noqa: E402

CACHE = os.environ.get("RIOV_LAB_CACHE", "/var/cache/riov-lab")
QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
TMPDIRS = []   # per test: removed when it passed, kept for a look when it failed
# riovd shares the two CPUs with two TCG guests: its worker naps when idle
IDLE_SLEEP_US = "200"


def lab_env():
    env = {}
    with open(os.path.join(CACHE, "lab.env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            env[k] = v
    return env


class VM:
    """One QEMU guest; its serial console is this object's pipe (a command loop, see guest-init)."""

    def __init__(self, name, tmp, sock, mac, ip, qemu_server, viommu, initrd, kernel):
        self.name, self.tmp, self.sock, self.mac, self.ip = name, tmp, sock, mac, ip
        self.qemu_server, self.viommu = qemu_server, viommu
        self.initrd, self.kernel = initrd, kernel
        self.mon = os.path.join(tmp, name + ".mon")
        self.logf = os.path.join(tmp, name + ".console")
        self.lines = []
        self.lock = threading.Lock()
        self.proc = None
        self.seq = 0

    def start(self):
        machine = "q35,kernel-irqchip=split" if self.viommu else "q35"
        append = "console=ttyS0 loglevel=1 panic=-1 riov.ip=%s/24" % self.ip
        nic = "virtio-net-pci,netdev=n0,mac=%s,vectors=0" % self.mac   # vectors=0: MACHINE-NOTES
        chardev = "socket,id=c0,path=%s" % self.sock
        chardev += ",server=on,wait=off" if self.qemu_server else ",reconnect=1"
        args = [QEMU, "-machine", machine, "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "256",
                "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
                "-nographic", "-nodefaults",
                "-serial", "stdio", "-monitor", "unix:%s,server=on,wait=off" % self.mon,
                "-kernel", self.kernel, "-initrd", self.initrd, "-append", append,
                "-chardev", chardev, "-netdev", "vhost-user,id=n0,chardev=c0"]
        if os.path.exists("/usr/share/qemu/qboot.rom"):
            args += ["-bios", "/usr/share/qemu/qboot.rom"]
        if self.viommu:
            args += ["-device", "intel-iommu,intremap=on,caching-mode=on,device-iotlb=on"]
            nic += ",iommu_platform=on,ats=on,disable-legacy=on"
            args[args.index("-append") + 1] += " intel_iommu=on"
        args += ["-device", nic]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        riovtest._procs.append(self.proc)
        threading.Thread(target=self._reader, daemon=True).start()
        return self

    def _reader(self):
        with open(self.logf, "a", errors="replace") as out:
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace").rstrip("\r\n")
                out.write(line + "\n")
                out.flush()
                with self.lock:
                    self.lines.append(line)

    def mark(self):
        with self.lock:
            return len(self.lines)

    def find(self, pattern, since=0):
        rx = re.compile(pattern)
        with self.lock:
            return [m for m in (rx.search(l) for l in self.lines[since:]) if m]

    def wait_line(self, pattern, since, timeout, what):
        def seen():
            if self.proc.poll() is not None:
                raise TestFailure("%s: QEMU exited (%d); console:\n%s" % (self.name, self.proc.returncode,
                                                                          self.tail()))
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
        self.proc.stdin.write(("echo %s-B; %s; echo %s-E $?\n" % (tag, cmd, tag)).encode())
        self.proc.stdin.flush()
        m = self.wait_line(r"^%s-E (\d+)" % re.escape(tag), since, timeout, "command '%s'" % cmd)
        with self.lock:
            out = self.lines[since:]
        start = next((i for i, l in enumerate(out) if l == tag + "-B"), -1)
        end = next((i for i, l in enumerate(out) if l.startswith(tag + "-E")), len(out))
        return int(m.group(1)), out[start + 1:end]

    def send(self, cmd):
        """Start a command line in the background of the guest's command loop."""
        self.proc.stdin.write((cmd + "\n").encode())
        self.proc.stdin.flush()

    def monitor(self, cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.mon)
        s.recv(4096)           # banner and prompt
        s.sendall((cmd + "\n").encode())
        time.sleep(0.2)
        s.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Setup:
    """riovd with two vhost ports on one network and two Linux guests on them."""

    def __init__(self, name, viommu=False):
        env = lab_env()
        initrd = subprocess.run([os.path.join(HERE, "build-guest.sh")], check=True, capture_output=True,
                                text=True).stdout.strip()
        self.tmp = riovtest.tmpdir("host-" + name)
        TMPDIRS.append(self.tmp)
        cfg = ('networks = ( { name = "lab"; } );\n'
               'ports = (\n'
               '  { name = "vm1"; type = "vhost"; net = "lab"; socket = "vm1.sock"; client = true; },\n'
               '  { name = "vm2"; type = "vhost"; net = "lab"; socket = "vm2.sock"; client = false; }\n'
               ');\n')
        self.riovd = Riovd(self.tmp, cfg, extra_args=["--idle-sleep-us", IDLE_SLEEP_US])
        self.ctl = Riovctl(os.path.join(self.tmp, "riovd.sock"))
        self.vm1 = VM("vm1", self.tmp, self.riovd.socket("vm1"), "52:54:00:00:01:01", "10.91.0.1", True,
                      viommu, initrd, env["KERNEL"])
        self.vm2 = VM("vm2", self.tmp, self.riovd.socket("vm2"), "52:54:00:00:01:02", "10.91.0.2", False,
                      viommu, initrd, env["KERNEL"])

    def start(self, boot_timeout=120):
        self.riovd.start()
        self.vm1.start()
        self.vm2.start()
        for vm in (self.vm1, self.vm2):
            vm.wait_line(r"^GUEST-READY", 0, boot_timeout, "boot")
        log("  both guests up")
        return self

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
    """ping from vm; returns (sent, received)."""
    rc, out = vm.run("ping -c %d -W 2 %s" % (count, ip), timeout)
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


def test_ping():
    s = Setup("ping").start()
    try:
        both_ways(s)
        r1, t1 = port_counts(s, "vm1")
        r2, t2 = port_counts(s, "vm2")
        riovtest.check(r1 >= 12 and r2 >= 12 and t1 >= 12 and t2 >= 12,
                       "riovd counted the traffic: vm1 rx %d tx %d, vm2 rx %d tx %d" % (r1, t1, r2, t2))
        return "vm1 <-> vm2 5/5 each way through riovd (vm1 rx %d tx %d packets)" % (r1, t1)
    finally:
        s.stop()


def test_ping_viommu():
    s = Setup("viommu", viommu=True).start(boot_timeout=180)
    try:
        rc, out = s.vm1.run("dmesg | grep -c 'DMAR: IOMMU enabled'")
        riovtest.check(rc == 0 and out and out[-1].strip() != "0", "vm1's kernel runs the vIOMMU")
        both_ways(s)
        st = s.port("vm1")
        hits, misses = int(st.get("iotlb_hits", 0)), int(st.get("iotlb_misses", 0))
        riovtest.check(misses > 0, "riovd translated through the guest's IOTLB (hits %d, misses %d)"
                       % (hits, misses))
        return "vm1 <-> vm2 5/5 each way with a vIOMMU in each guest (riov IOTLB hits %d misses %d)" % (
            hits, misses)
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


TESTS = [("ping", test_ping), ("ping-viommu", test_ping_viommu), ("reboot-restart", test_reboot_restart),
         ("reboot-restart-viommu", test_reboot_restart_viommu)]


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
