#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A guest's virtio-net headers are untrusted (issue 22): a front-end that negotiated the checksum
and TSO offloads puts frames with bad headers in its TX ring; riovd drops each and counts it on the
port as bad_offload, returns every chain, logs the reason, and takes the one good header's frame.

The front-end is this script speaking vhost-user over the port's socket (tests/soak/hostile_vhost.py's
connection code) with its guest memory in a memfd it writes the ring and buffers into: no real
guest's driver would send these headers, which is the point.
"""
import mmap
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "soak"))
import hostile_vhost as hv  # noqa: E402
from riovtest import Riovctl, Riovd, check, log, main, tmpdir, wait_for  # noqa: E402

F_CSUM, F_HOST_TSO4, F_HOST_TSO6 = 1 << 0, 1 << 11, 1 << 12   # no HOST_ECN: the ECN bit is refused
NEEDS_CSUM = 1
GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_ECN = 1, 3, 4, 0x80
DESC, AVAIL, USED, BUFS = 0x4000, 0x5000, 0x6000, 0x10000   # vring 1's parts and buffers (gpa = offset)


def eth(ethertype):
    return b"\xff" * 6 + bytes.fromhex("020000000001") + struct.pack("!H", ethertype)


def ipv4_tcp(payload=100, frag=0):
    tcp = struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, 5 << 4, 0x18, 65535, 0, 0) + b"x" * payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, frag, 64, 6, 0, bytes([10, 0, 0, 1]),
                     bytes([10, 0, 0, 2]))
    return eth(0x0800) + ip + tcp


def ipv6_tcp(payload=100):
    tcp = struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, 5 << 4, 0x18, 65535, 0, 0) + b"x" * payload
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, b"\xfe\x80" + b"\0" * 13 + b"\1",
                     b"\xfe\x80" + b"\0" * 13 + b"\2")
    return eth(0x86dd) + ip + tcp


def vhdr(flags=0, gso=0, hdr_len=0, gso_size=0, start=0, off=0):
    return struct.pack("<BBHHHHH", flags, gso, hdr_len, gso_size, start, off, 0)


# (what, header, frame): each must be refused
BAD = [
    ("TCPV4 on an IPv6 frame", vhdr(NEEDS_CSUM, GSO_TCPV4, 74, 1000, 54, 16), ipv6_tcp(3000)),
    ("TCPV6 on an IPv4 frame", vhdr(NEEDS_CSUM, GSO_TCPV6, 54, 1000, 34, 16), ipv4_tcp(3000)),
    ("UDP GSO (no UFO offered)", vhdr(NEEDS_CSUM, GSO_UDP, 42, 1000, 34, 6), ipv4_tcp(3000)),
    ("gso_size 0", vhdr(NEEDS_CSUM, GSO_TCPV4, 54, 0, 34, 16), ipv4_tcp(3000)),
    ("GSO without NEEDS_CSUM", vhdr(0, GSO_TCPV4, 54, 1000, 0, 0), ipv4_tcp(3000)),
    ("TSO of a fragment", vhdr(NEEDS_CSUM, GSO_TCPV4, 54, 1000, 34, 16), ipv4_tcp(3000, frag=0x2000)),
    ("checksum offset not the TCP field", vhdr(NEEDS_CSUM, 0, 0, 0, 34, 4), ipv4_tcp()),
    ("csum_start beyond the frame", vhdr(NEEDS_CSUM, 0, 0, 0, 4000, 16), ipv4_tcp()),
    ("unknown flag bit", vhdr(0x80, 0, 0, 0, 0, 0), ipv4_tcp()),
    ("ECN without HOST_ECN", vhdr(NEEDS_CSUM, GSO_TCPV4 | GSO_ECN, 54, 1000, 34, 16), ipv4_tcp(3000)),
]
GOOD = ("a partial TCP checksum", vhdr(NEEDS_CSUM, 0, 0, 0, 34, 16), ipv4_tcp())


def test_bad_offload_headers_counted():
    tmp = tmpdir("olhdr")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n'
                   'ports = ( { name = "vm1"; type = "vhost"; net = "blue"; socket = "vm1.sock"; },\n'
                   '  { name = "vm2"; type = "vhost"; net = "blue"; socket = "vm2.sock"; } );\n').start()
    ctl = Riovctl(os.path.join(tmp, "riovd.sock"))
    c = hv.Conn(d.socket("vm1"))
    fd = hv.honest_start(c, features=hv.F_VERSION_1 | hv.F_PROTOCOL | F_CSUM | F_HOST_TSO4 | F_HOST_TSO6)
    mem = mmap.mmap(fd, hv.MEM)
    frames = BAD + [GOOD]
    for i, (what, h, f) in enumerate(frames):
        gpa = BUFS + i * 0x2000
        mem[gpa:gpa + len(h) + len(f)] = h + f
        mem[DESC + 16 * i:DESC + 16 * i + 16] = struct.pack("<QIHH", gpa, len(h) + len(f), 0, 0)
        mem[AVAIL + 4 + 2 * i:AVAIL + 6 + 2 * i] = struct.pack("<H", i)
    mem[AVAIL:AVAIL + 4] = struct.pack("<HH", 0, len(frames))   # flags, idx: all published at once
    hv.start_vring(c, 1)
    wait_for(lambda: struct.unpack("<H", mem[USED + 2:USED + 4])[0] == len(frames), 20,
             "riovd returning every chain of vm1's TX ring")
    used = struct.unpack("<H", mem[USED + 2:USED + 4])[0]
    st = ctl.json("port", "stats", "vm1")["ports"][0]
    drops = {x["cause"]: int(x["packets"]) for x in st.get("drops", [])}
    log("  vm1: %s" % st)
    check(used == len(frames), "riovd returned all %d chains to the front-end (used %d)" % (len(frames), used))
    check(drops.get("bad_offload", 0) == len(BAD),
          "each of the %d bad headers was dropped as bad_offload (%d)" % (len(BAD), drops.get("bad_offload", 0)))
    check(int(st.get("offload_frames_in", 0)) == 1, "the good header's frame went on with its offload")
    check(int(st.get("rx_packets", 0)) == len(frames), "every chain counted as received from the port")
    text = d.log_text()
    check("virtio-net header is refused" in text, "riovd logged why")
    c.close()
    mem.close()
    k = d.stop()
    check(d.rc == 0, "riovd stopped cleanly (%s)" % d.rc)
    log("  riovd vm1 %s" % k["vm1"])


if __name__ == "__main__":
    main([test_bad_offload_headers_counted])
