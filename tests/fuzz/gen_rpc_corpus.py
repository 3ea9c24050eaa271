#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Writes the seed inputs of fuzz_frame (corpus/frame/) and fuzz_rpc_requests (corpus/rpc_requests/)
# with a hand-rolled protobuf encoder (no protobuf module needed). Re-run after changing riov.proto.
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def key(num, wt):
    return varint(num << 3 | wt)


def u(num, v):
    return key(num, 0) + varint(v)


def s(num, data):
    if isinstance(data, str):
        data = data.encode()
    return key(num, 2) + varint(len(data)) + data


def frame(method, payload=b"", rid=1):
    body = u(1, rid) + s(2, method) + (s(3, payload) if payload else b"")
    return struct.pack(">I", len(body)) + body


net_spec = s(1, "blue") + u(2, 9000) + u(3, 42)
port_spec = (s(1, "vm1-eth0") + u(2, 1) + s(3, "blue") + s(4, "/run/riov/vm1.sock") + u(5, 1) +
             u(6, 2) + s(8, "mrg_rxbuf") + s(8, "indirect_desc"))
eth_spec = s(1, "up0") + u(2, 2) + s(3, "blue") + s(7, "net_af_packet0,iface=veth0")
mapping = u(1, 0x100000) + u(2, 0x200000) + u(3, 0x40000000) + u(4, 1) + u(5, 1)
irq = s(1, "vm1-eth0") + u(2, 1) + u(4, 50) + u(5, 32) + u(6, 7) + u(7, 1) + u(8, 0x41)

requests = {
    "Node.Info": b"",
    "Network.Add": s(1, net_spec),
    "Network.Delete": s(1, "blue"),
    "Network.List": b"",
    "Port.Add": s(1, port_spec),
    "Port.Delete": s(1, "vm1-eth0"),
    "Port.List": s(1, "blue"),
    "Port.Stats": s(1, "vm1-eth0"),
    "Domain.Show": s(1, "vm1-eth0") + u(2, 3),
    "Domain.Map": s(1, "vm1-eth0") + s(3, mapping),
    "Domain.Unmap": s(1, "vm1-eth0") + u(3, 0x100000) + u(4, 0x1000),
    "Domain.TranslateProbe": s(1, "vm1-eth0") + u(3, 0x100800) + u(4, 64) + u(5, 1),
    "Domain.Create": s(1, u(1, 5) + s(2, "d5") + u(3, 48) + s(5, mapping)),
    "Domain.Attach": u(1, 5) + s(2, s(1, "vf0") + u(2, 0x0310)),
    "Interrupt.Set": s(1, irq),
    "Interrupt.Mask": s(1, "vm1-eth0") + u(2, 1) + u(4, 1),
    "Interrupt.Coalesce": s(1, "vm1-eth0") + u(3, 1) + u(4, 100) + u(5, 64),
    "Interrupt.List": b"",
    "Faults.Read": s(1, "vm1-eth0") + u(2, 10),
    "Faults.Clear": b"",
    "Metrics.Snapshot": b"",
    "Metrics.Watch": u(1, 500) + u(2, 3),
    "Config.Save": b"",
    "Config.Show": u(1, 1),
}
# catalog order of proto/frame.c: data[0] of fuzz_rpc_requests picks the method by index
order = list(requests)


def write(dirname, name, data):
    d = os.path.join(HERE, "corpus", dirname)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


for i, (m, p) in enumerate(requests.items()):
    name = m.replace(".", "_").lower()
    write("frame", name, frame(m, p, rid=i + 1))
    write("rpc_requests", name, bytes([i]) + p)
    write("rpc_requests", name + "_readonly", bytes([i | 0x80]) + p)
# a few stream shapes: pipelined frames, an answer frame, a partial frame, an oversized header
write("frame", "pipelined", frame("Node.Info", rid=1) + frame("Port.List", s(1, "blue"), rid=2))
write("frame", "answer", struct.pack(">I", 0) + b"")
ans = u(1, 9) + s(2, "Port.Add") + u(4, 3) + s(5, "port vm1-eth0 already exists") + u(6, 1)
write("frame", "answer", struct.pack(">I", len(ans)) + ans)
write("frame", "partial", frame("Port.Add", s(1, port_spec))[:20])
write("frame", "oversized", struct.pack(">I", 0x7FFFFFFF) + b"\x0a\x01")
