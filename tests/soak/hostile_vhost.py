#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Hostile front-end soak (issue 12): 50 concurrent vhost-user connections, one per riovd port,
send the malformed messages of the vhost-user CVE catalogue and riov's own hard cases for
SECONDS (default 60; HOSTILE_SECONDS) while two honest dpdk-testpmd guests pass traffic through
riovd. Must hold: riovd stays up; the honest guests' traffic moves in every 5 s window; after the
attackers are gone riovd's file descriptors and RSS are back where they were (printed).

The cases (each on a fresh connection, most after an honest start: features, a memory table):
  CVE-2020-10722  SET_LOG_BASE whose size + offset overflows, or lies beyond its file
  CVE-2020-10723  vring indices beyond the device's (SET_VRING_NUM/ADDR/BASE/KICK/ENABLE)
  CVE-2020-10725  SET_INFLIGHT_FD with num_queues and queue_size far beyond its mapping
  CVE-2021-3839   GET_INFLIGHT_FD with num_queues and queue_size at their maxima
  CVE-2019-14818  file descriptors on messages that take none, and too many (fd leaks)
  memory tables   too many regions, overlapping, wrapping, an offset beyond the file, 70
                  ADD_MEM_REG, REM_MEM_REG of what is not there
  ring set-up     ring sizes 0, 3 and 65536, ring addresses outside guest memory or misaligned
  framing         payload sizes that lie (larger than sent, beyond the maximum), a truncated
                  header, unknown requests, bad version flags, random bytes
  IOTLB           an IOTLB update of 1 TiB at 4 KiB granularity (vIOMMU feature)
  memory shrink   a started vring in a memfd the front-end then truncates (riovd seals memfds),
                  and in a /dev/shm file that cannot be sealed (riovd survives the SIGBUS)
  config          GET/SET_CONFIG beyond the config space, SEND_RARP of a multicast address,
                  NET_SET_MTU 0 and 70000

Real parts only: the built riovd, Debian's dpdk-testpmd guests; the attackers are this script
speaking the vhost-user protocol over the ports' Unix sockets. Usage: hostile_vhost.py [SECONDS]
"""
import os
import random
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))
from riovtest import (Guest, Riovctl, Riovd, TestFailure, check, log, proc_fds, proc_rss_kb,  # noqa: E402
                      soak_main, tmpdir, wait_for)

ATTACKERS = 50
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
FD_SLACK = 4
RSS_SLACK_KB = 32 * 1024

R = dict(GET_FEATURES=1, SET_FEATURES=2, SET_OWNER=3, RESET_OWNER=4, SET_MEM_TABLE=5, SET_LOG_BASE=6,
         SET_LOG_FD=7, SET_VRING_NUM=8, SET_VRING_ADDR=9, SET_VRING_BASE=10, GET_VRING_BASE=11,
         SET_VRING_KICK=12, SET_VRING_CALL=13, SET_VRING_ERR=14, GET_PROTOCOL_FEATURES=15,
         SET_PROTOCOL_FEATURES=16, GET_QUEUE_NUM=17, SET_VRING_ENABLE=18, SEND_RARP=19, NET_SET_MTU=20,
         SET_BACKEND_REQ_FD=21, IOTLB_MSG=22, GET_CONFIG=24, SET_CONFIG=25, GET_INFLIGHT_FD=31,
         SET_INFLIGHT_FD=32, RESET_DEVICE=34, GET_MAX_MEM_SLOTS=36, ADD_MEM_REG=37, REM_MEM_REG=38,
         SET_STATUS=39, GET_STATUS=40)
V1 = 1
F_VERSION_1, F_PROTOCOL, F_LOG_ALL, F_IOMMU = 1 << 32, 1 << 30, 1 << 26, 1 << 33
# MQ, LOG_SHMFD, RARP, REPLY_ACK, MTU, BACKEND_REQ, CONFIG, INFLIGHT, RESET, MEM_SLOTS, STATUS
PROTO = sum(1 << b for b in (0, 1, 2, 3, 4, 5, 9, 12, 13, 15, 16))
UADDR = 0x7f0000000000
MEM = 2 << 20


def hdr(req, size, flags=V1):
    return struct.pack("<III", req, flags, size)


class Conn:
    """One front-end connection; replies (and any fds in them) are read and thrown away."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(2)
        self.s.connect(path)
        self.fds = []

    def send(self, req, payload=b"", fds=(), flags=V1, size=None, raw=None):
        data = raw if raw is not None else hdr(req, len(payload) if size is None else size, flags) + payload
        try:
            if fds:
                socket.send_fds(self.s, [data], list(fds))
            else:
                self.s.sendall(data)
        except OSError:
            pass   # riovd closed the session: that is an answer too
        self.drain()

    def drain(self):
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(self.s, 4096, 8, socket.MSG_DONTWAIT)
            except (BlockingIOError, socket.timeout, OSError):
                return
            for fd in fds:
                os.close(fd)
            if not msg:
                return

    def close(self):
        self.drain()
        self.s.close()
        for fd in self.fds:
            os.close(fd)


def u64(v):
    return struct.pack("<Q", v & (2**64 - 1))


def state(index, num):
    return struct.pack("<II", index & 0xffffffff, num & 0xffffffff)


def memfd(size, name="hostile"):
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, size)
    return fd


def region(gpa, size, uaddr, off):
    return struct.pack("<QQQQ", gpa, size, uaddr, off)


def honest_start(c, features=F_VERSION_1 | F_PROTOCOL, mem=True):
    """GET_FEATURES, SET_FEATURES, SET_PROTOCOL_FEATURES, SET_OWNER and, with mem, a memory table
    of one 2 MiB memfd at gpa 0 (kept in c.fds; returns its fd)."""
    c.send(R["GET_FEATURES"])
    c.send(R["SET_FEATURES"], u64(features))
    c.send(R["GET_PROTOCOL_FEATURES"])
    c.send(R["SET_PROTOCOL_FEATURES"], u64(PROTO))
    c.send(R["SET_OWNER"])
    if not mem:
        return -1
    fd = memfd(MEM)
    c.fds.append(fd)
    c.send(R["SET_MEM_TABLE"], struct.pack("<II", 1, 0) + region(0, MEM, UADDR, 0), fds=[fd])
    return fd


def start_vring(c, q=0):
    """Vring q of size 256 in guest memory (at 0x4000 * q), started (kick and call eventfds). The
    guest's TX vring (1) is the one riovd's worker polls all the time."""
    base = UADDR + 0x4000 * q
    c.send(R["SET_VRING_NUM"], state(q, 256))
    c.send(R["SET_VRING_ADDR"], struct.pack("<IIQQQQ", q, 0, base, base + 0x2000, base + 0x1000, 0))
    c.send(R["SET_VRING_BASE"], state(q, 0))
    for req in ("SET_VRING_KICK", "SET_VRING_CALL"):
        efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        c.send(R[req], u64(q), fds=[efd])
        os.close(efd)
    c.send(R["SET_VRING_ENABLE"], state(q, 1))


# ---- the cases: each gets a fresh connection -------------------------------------------------

def cve_2020_10722(c):
    honest_start(c)
    fd = memfd(4096)
    c.send(R["SET_LOG_BASE"], u64(0xffffffffffff0000) + u64(0x20000), fds=[fd])
    c.send(R["SET_LOG_BASE"], u64(1 << 30) + u64(0), fds=[fd])
    c.send(R["SET_LOG_BASE"], u64(4096) + u64(0xfffffffffffff000), fds=[fd])
    os.close(fd)


def cve_2020_10723(c):
    honest_start(c)
    for idx in (0xffffffff, 0x8000, 256, 32, 0xff):
        c.send(R["SET_VRING_NUM"], state(idx, 256))
        c.send(R["SET_VRING_ADDR"], struct.pack("<IIQQQQ", idx, 0, UADDR, UADDR + 0x2000, UADDR + 0x1000, 0))
        c.send(R["SET_VRING_BASE"], state(idx, 0))
        c.send(R["GET_VRING_BASE"], state(idx, 0))
        c.send(R["SET_VRING_ENABLE"], state(idx, 1))
        c.send(R["SET_VRING_KICK"], u64(idx | (1 << 8)))


def cve_2020_10725(c):
    honest_start(c)
    fd = memfd(4096)
    for nq, qs in ((0xffff, 0xffff), (2, 0x8000), (0, 0), (1, 3)):
        c.send(R["SET_INFLIGHT_FD"], u64(4096) + u64(0) + struct.pack("<HH", nq, qs), fds=[fd])
    c.send(R["SET_INFLIGHT_FD"], u64(0xffffffffffff0000) + u64(0x20000) + struct.pack("<HH", 1, 256), fds=[fd])
    os.close(fd)


def cve_2021_3839(c):
    honest_start(c)
    for nq, qs in ((0xffff, 0xffff), (0xffff, 0x8000), (0, 256), (2, 0)):
        c.send(R["GET_INFLIGHT_FD"], u64(0) + u64(0) + struct.pack("<HH", nq, qs))


def cve_2019_14818(c):
    efds = [os.eventfd(0, os.EFD_CLOEXEC) for _ in range(12)]
    c.send(R["GET_FEATURES"], fds=efds[:8])
    c.send(R["SET_FEATURES"], u64(F_VERSION_1 | F_PROTOCOL), fds=efds[:3])
    c.send(R["SET_VRING_NUM"], state(0, 256), fds=efds[:8])
    c.send(R["SET_MEM_TABLE"], struct.pack("<II", 1, 0) + region(0, MEM, UADDR, 0), fds=efds)
    c.send(R["SET_VRING_KICK"], u64(0 | (1 << 8)), fds=efds[:2])
    for fd in efds:
        os.close(fd)


def mem_tables(c):
    honest_start(c, mem=False)
    fd = memfd(MEM)
    c.fds.append(fd)
    n = 9
    body = struct.pack("<II", n, 0) + b"".join(region(i * MEM, MEM, UADDR + i * MEM, 0) for i in range(n))
    c.send(R["SET_MEM_TABLE"], body, fds=[fd] * 8)
    c.send(R["SET_MEM_TABLE"], struct.pack("<II", 0x100, 0), fds=[fd])
    c.send(R["SET_MEM_TABLE"], struct.pack("<II", 2, 0) + region(0, MEM, UADDR, 0) + region(MEM // 2, MEM, UADDR + MEM, 0),
           fds=[fd, fd])
    c.send(R["SET_MEM_TABLE"], struct.pack("<II", 1, 0) + region(0xfffffffffffff000, 0x2000, UADDR, 0), fds=[fd])
    c.send(R["SET_MEM_TABLE"], struct.pack("<II", 1, 0) + region(0, MEM, 0xfffffffffffff000, 0), fds=[fd])
    c.send(R["SET_MEM_TABLE"], struct.pack("<II", 1, 0) + region(0, MEM, UADDR, 1 << 40), fds=[fd])
    c.send(R["SET_MEM_TABLE"], struct.pack("<II", 1, 0) + region(0, 1 << 40, UADDR, 0), fds=[fd])
    c.send(R["GET_MAX_MEM_SLOTS"])
    for i in range(70):
        c.send(R["ADD_MEM_REG"], u64(0) + region(i * 4096, 4096, UADDR + i * 4096, 0), fds=[fd])
    c.send(R["REM_MEM_REG"], u64(0) + region(1 << 40, 4096, UADDR, 0), fds=[fd])


def rings(c):
    honest_start(c)
    for num in (0, 3, 65536, 0x7fffffff):
        c.send(R["SET_VRING_NUM"], state(0, num))
    c.send(R["SET_VRING_NUM"], state(0, 256))
    for desc, used, avail in ((1 << 50, 1 << 50, 1 << 50), (UADDR + 1, UADDR + 0x2001, UADDR + 0x1001),
                              (UADDR + MEM - 16, UADDR + MEM - 4, UADDR + MEM - 2), (0, 0, 0)):
        c.send(R["SET_VRING_ADDR"], struct.pack("<IIQQQQ", 0, 0, desc, used, avail, 0))
    c.send(R["SET_VRING_ADDR"], struct.pack("<IIQQQQ", 0, 0xff, UADDR, UADDR + 0x2000, UADDR + 0x1000, 0))
    start_vring(c)
    c.send(R["SET_VRING_BASE"], state(0, 1 << 20))


def framing(c):
    k = random.randrange(7)
    if k == 0:
        c.send(0, raw=hdr(R["SET_MEM_TABLE"], 4096) + b"\0" * 10)
    elif k == 1:
        c.send(0, raw=hdr(R["SET_MEM_TABLE"], 0x100000))
    elif k == 2:
        c.send(0, raw=hdr(R["GET_FEATURES"], 0)[:7])
    elif k == 3:
        for req in (0, 99, 0xffff, 0xffffffff):
            c.send(req)
    elif k == 4:
        for flags in (0, 2, 0xffffffff, V1 | (1 << 2)):
            c.send(R["GET_FEATURES"], flags=flags)
    elif k == 5:
        c.send(0, raw=os.urandom(random.randrange(1, 8192)))
    else:
        c.send(R["SET_FEATURES"], u64(1), size=4)
        c.send(R["SET_VRING_NUM"], b"\1\2\3")


def iotlb(c):
    honest_start(c, features=F_VERSION_1 | F_PROTOCOL | F_IOMMU)
    for iova, size in ((0, 1 << 40), (4096, (1 << 40) - 4096), (0, 2**64 - 1), (1 << 47, 1 << 30)):
        c.send(R["IOTLB_MSG"], u64(iova) + u64(size) + u64(UADDR) + bytes([3, 2]) + b"\0" * 6)
    c.send(R["IOTLB_MSG"], u64(0) + u64(1 << 40) + u64(0) + bytes([3, 3]) + b"\0" * 6)


def shrink_memfd(c):
    fd = honest_start(c)
    start_vring(c, 0)
    start_vring(c, 1)
    try:
        os.ftruncate(fd, 0)   # riovd sealed it: EPERM
    except OSError:
        pass
    time.sleep(0.05)
    c.send(R["GET_FEATURES"])


def shrink_shm(c):
    honest_start(c, mem=False)
    path = "/dev/shm/riov-hostile-%d-%d" % (os.getpid(), threading.get_ident())
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.unlink(path)
    os.ftruncate(fd, MEM)
    c.fds.append(fd)
    c.send(R["SET_MEM_TABLE"], struct.pack("<II", 1, 0) + region(0, MEM, UADDR, 0), fds=[fd])
    start_vring(c, 0)
    start_vring(c, 1)
    os.ftruncate(fd, 0)       # a file that cannot be sealed: the next read by riovd faults
    time.sleep(0.05)
    c.send(R["GET_FEATURES"])


def config(c):
    honest_start(c)
    for off, size in ((0xfffffff0, 0x20), (0, 0x1000), (250, 12), (0, 0)):
        c.send(R["GET_CONFIG"], struct.pack("<III", off, size, 0) + b"\0" * min(size, 256))
        c.send(R["SET_CONFIG"], struct.pack("<III", off, size, 0) + b"\0" * min(size, 256))
    c.send(R["SEND_RARP"], u64(0x0000112233445501))
    c.send(R["NET_SET_MTU"], u64(0))
    c.send(R["NET_SET_MTU"], u64(70000))
    c.send(R["SET_STATUS"], u64(1 << 40))
    c.send(R["RESET_DEVICE"])
    c.send(R["RESET_OWNER"])


CASES = [cve_2020_10722, cve_2020_10723, cve_2020_10725, cve_2021_3839, cve_2019_14818, mem_tables, rings,
         framing, iotlb, shrink_memfd, shrink_shm, config]


def attacker(path, deadline, counts, errors):
    while time.time() < deadline:
        case = random.choice(CASES)
        try:
            c = Conn(path)
        except OSError:
            time.sleep(0.05)   # the previous session is still being torn down
            continue
        try:
            case(c)
            counts[case.__name__] = counts.get(case.__name__, 0) + 1
        except Exception as e:   # a bug of this script, not of riovd
            errors.append("%s: %r" % (case.__name__, e))
        finally:
            c.close()


def delivered(ctl):
    return int(next(p for p in ctl.json("port", "stats")["ports"] if p["port"] == "vm2").get("tx_packets", 0))


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("HOSTILE_SECONDS", "60"))
    tmp = tmpdir("hostile")
    ports = ['{ name = "vm1"; type = "vhost"; net = "blue"; socket = "vm1.sock"; }',
             '{ name = "vm2"; type = "vhost"; net = "blue"; socket = "vm2.sock"; }']
    ports += ['{ name = "h%d"; type = "vhost"; net = "bad"; socket = "h%d.sock"; }' % (i, i) for i in range(ATTACKERS)]
    cfg = ('networks = ( { name = "blue"; }, { name = "bad"; } );\nports = (\n  %s\n);\n' % ",\n  ".join(ports))
    d = Riovd(tmp, cfg).start()
    ctl = Riovctl(os.path.join(tmp, "riovd.sock"))
    b = Guest("B", d.socket("vm2"), "rxonly", mac=MAC_B).start(tmp)
    a = Guest("A", d.socket("vm1"), "txonly", mac=MAC_A, peer=MAC_B).start(tmp)
    wait_for(lambda: delivered(ctl) > 0, 30, "honest traffic from guest A to guest B")
    time.sleep(1)
    fds0, rss0 = proc_fds(d.proc.pid), proc_rss_kb(d.proc.pid)
    counts, errors = {}, []
    deadline = time.time() + seconds
    threads = [threading.Thread(target=attacker, args=(d.socket("h%d" % i), deadline, counts, errors), daemon=True)
               for i in range(ATTACKERS)]
    for t in threads:
        t.start()
    windows, last = 0, delivered(ctl)
    while time.time() < deadline:
        time.sleep(5)
        if d.proc.poll() is not None:
            raise TestFailure("riovd died under the attack (exit %s):\n%s" % (d.proc.returncode, d.log_text()[-3000:]))
        now = delivered(ctl)
        if now <= last:
            raise TestFailure("honest traffic stalled in a 5 s window (%d -> %d packets to guest B)" % (last, now))
        windows += 1
        last = now
    for t in threads:
        t.join(timeout=30)
    log("  %d attacks in %d s from %d connections: %s" % (sum(counts.values()), seconds, ATTACKERS,
        ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    if errors:
        log("  script errors (not riovd's): %s" % "; ".join(errors[:5]))
    check(d.proc.poll() is None, "riovd is alive after %d s of hostile front-ends" % seconds)
    check(windows >= max(1, seconds // 5 - 1), "honest traffic moved in each of %d 5-second windows" % windows)
    check(len(counts) == len(CASES), "every case ran (%d of %d kinds)" % (len(counts), len(CASES)))
    time.sleep(2)
    fds1, rss1 = proc_fds(d.proc.pid), proc_rss_kb(d.proc.pid)
    log("  riovd before: %d fds, RSS %d kB; after: %d fds, RSS %d kB" % (fds0, rss0, fds1, rss1))
    check(abs(fds1 - fds0) <= FD_SLACK, "riovd's file descriptors back (%d -> %d)" % (fds0, fds1))
    check(rss1 - rss0 <= RSS_SLACK_KB, "riovd's RSS flat (%d -> %d kB)" % (rss0, rss1))
    a.stop()
    b.stop()
    d.stop()


if __name__ == "__main__":
    soak_main(main, "HOSTILE")
