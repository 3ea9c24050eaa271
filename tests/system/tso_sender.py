# SPDX-License-Identifier: BSD-3-Clause
"""A dpdk-testpmd guest that sends TSO frames (issue 22): a virtio-user port on a vhost-user socket
(port 0) and a net_pcap port (port 1) reading TCP frames from a file; testpmd's csum engine forwards
them from port 1 to port 0 with `csum set tcp hw` and `tso set 1448`, so that its virtio PMD hands
each to the switch whole with a virtio-net header (GSO_TCPV4, NEEDS_CSUM). Used by the lab's
host-tso-sender and the system suite's eth offload test."""
import os
import re
import subprocess
import time

import riovtest
from riovtest import TestFailure, wait_for


SRC_MAC = "02:00:00:00:00:77"
SRC_IP = "10.91.0.77"


def tcp_pcap(path, dst_mac, dst_ip, frames, payload):
    """A pcap file of `frames` IPv4/TCP frames (ACK|PSH, `payload` bytes each) to dst_ip, one flow
    (source port) per frame so that the receiver's GRO keeps them apart; checksums left 0 (the
    sending testpmd fills them in: csum engine)."""
    import struct
    def mac(m):
        return bytes(int(x, 16) for x in m.split(":"))
    def ip(a):
        return bytes(int(x) for x in a.split("."))
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for k in range(frames):
            tcp = struct.pack("!HHIIBBHHH", 20000 + k, 5555, 1000 + k, 0, 5 << 4, 0x18, 65535, 0, 0)
            ipv4 = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + payload, k, 0x4000, 64, 6, 0,
                               ip(SRC_IP), ip(dst_ip))
            frame = mac(dst_mac) + mac(SRC_MAC) + b"\x08\x00" + ipv4 + tcp + bytes((k + i) & 0xff
                                                                                   for i in range(payload))
            f.write(struct.pack("<IIII", 1, k, len(frame), len(frame)) + frame)




class TsoSender:
    """The testpmd guest (see the module's comment); run() sends the file once and returns how many
    frames testpmd sent on port 0."""

    def __init__(self, tmp, sock, pcap, peer_mac, n):
        self.tmp, self.sock, self.pcap, self.peer, self.n = tmp, sock, pcap, peer_mac, n
        self.logf = os.path.join(tmp, "tso-sender-%d.log" % n)

    def run(self):
        args = ["stdbuf", "-oL", riovtest.TESTPMD, "--no-huge", "-m", "512", "--no-pci",
                "--file-prefix", "riovtso%d_%d" % (os.getpid(), self.n),
                "--vdev", "net_virtio_user0,path=%s,queues=1,mac=%s" % (self.sock, SRC_MAC),
                "--vdev", "net_pcap0,rx_pcap=%s,tx_pcap=%s" % (self.pcap, os.path.join(self.tmp, "tso-out-%d.pcap"
                                                                                       % self.n)),
                "--", "-i", "--eth-peer=0,%s" % self.peer, "--total-num-mbufs=8192",
                "--no-flush-rx"]   # else testpmd drains the file before it forwards
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=open(self.logf, "w"), stderr=subprocess.STDOUT)
        riovtest._procs.append(proc)
        text = lambda: open(self.logf, errors="replace").read()  # noqa: E731
        try:
            wait_for(lambda: proc.poll() is None and "testpmd>" in text() or proc.poll() is not None, 60,
                     "testpmd prompt")
            if proc.poll() is not None:
                raise TestFailure("testpmd exited (%d):\n%s" % (proc.returncode, text()[-2000:]))
            for cmd in ("port stop 0", "csum set ip sw 0", "csum set tcp hw 0", "tso set 1448 0", "port start 0",
                        "set fwd csum", "start"):
                proc.stdin.write((cmd + "\n").encode())
                proc.stdin.flush()
                time.sleep(0.5)
            time.sleep(5)   # the file's frames go in the first poll; the guest answers meanwhile
            proc.stdin.write(b"stop\n")
            proc.stdin.flush()
            wait_for(lambda: "Accumulated forward statistics" in text(), 30, "testpmd forward statistics")
            proc.stdin.write(b"quit\n")
            proc.stdin.flush()
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        out = text()
        riovtest.check("TSO segment size for non-tunneled packets is 1448" in out,
                       "testpmd: TSO on its virtio-user port (riovd offered HOST_TSO4)%s" % (
                           "" if "TSO segment size" in out else ":\n" + out[-1500:]))
        m = re.search(r"Forward statistics for port 0.*?TX-packets:\s+(\d+)", out, re.S)
        return int(m.group(1)) if m else 0
