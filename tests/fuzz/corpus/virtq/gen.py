#!/usr/bin/env python3
# Seed inputs for fuzz_virtq (run from this folder). Layout per riov_virtq_fuzz_one: 8 config bytes
# (ring size shift, features, last_avail, last_used, packet sizes), then guest memory from GPA
# 0x40000000: page 0 descriptors, page 1 avail ring, page 2 used ring, pages 3.. buffers,
# page 12 read-only, page 14 unmapped.
import struct
GPA = 0x40000000
P = 4096
MRG, V1, IND, EVT, INO, BATCH, LOG = 1, 2, 4, 8, 16, 32, 64
NEXT, WRITE, INDIRECT = 1, 2, 4

def seed(name, shift, feat, descs, heads, pages=6, la=0, lu=0, sz=(5, 40), extra=()):
    mem = bytearray(P * pages)
    for i, (addr, ln, fl, nx) in enumerate(descs):
        struct.pack_into('<QIHH', mem, 16 * i, addr, ln, fl, nx)
    struct.pack_into('<HH', mem, P, 0, (la + len(heads)) & 0xffff)
    size = 1 << shift
    for k, h in enumerate(heads):
        struct.pack_into('<H', mem, P + 4 + 2 * ((la + k) % size), h)
    for off, data in extra:
        mem[off:off + len(data)] = data
    hdr = bytes([shift, feat, la & 0xff, la >> 8, lu & 0xff, lu >> 8, sz[0], sz[1]])
    open(name, 'wb').write(hdr + bytes(mem))

b = lambda page, off=0: GPA + page * P + off
# TX: header + payload chain, and a one-descriptor packet
seed('tx_chain', 4, V1, [(b(3), 12, NEXT, 1), (b(3, 64), 200, 0, 0), (b(4), 300, 0, 0)], [0, 2])
# TX indirect table at page 5 (3 entries)
tbl = struct.pack('<QIHHQIHHQIHH', b(3), 12, NEXT, 1, b(3, 100), 60, NEXT, 2, b(4), 500, 0, 0)
seed('tx_indirect', 3, V1 | IND | EVT, [(b(5), 48, INDIRECT, 0)], [0], extra=[(5 * P, tbl)])
# RX: write buffers, mergeable, some in-order batching and the dirty log
seed('rx_mrg', 4, V1 | MRG | INO | BATCH | LOG,
     [(b(3), 256, WRITE, 0), (b(3, 256), 256, WRITE, 0), (b(4), 2048, WRITE, 0),
      (b(5), 12, WRITE | NEXT, 4), (b(5, 12), 1000, WRITE, 0)], [0, 1, 2, 3], sz=(200, 60))
# RX legacy header, a buffer in the read-only page and one in the hole
seed('rx_fault', 2, 0, [(b(12), 512, WRITE, 0), (b(14), 512, WRITE, 0), (b(3), 1600, WRITE, 0)],
     [0, 1, 2], pages=4, sz=(10, 30))
# a loop, an out-of-range head and an index near the wrap
seed('loop', 3, V1 | IND, [(b(3), 12, NEXT, 1), (b(3, 12), 30, NEXT, 0)], [0, 9, 0], pages=4,
     la=0xfffe, lu=0xfffe)

# Packed rings (byte 0 bit 6; sizes 1..16 from its low bits): page 0 the descriptor ring
# (addr, len, id, flags), page 1 the driver's event suppression area, page 2 the device's.
PACKED, AVAIL, USED = 64, 1 << 7, 1 << 15

def seed_packed(name, size, feat, descs, la=0x8000, sz=(5, 40), drv_event=(0, 0), extra=(), pages=6):
    mem = bytearray(P * pages)
    for i, (addr, ln, ident, fl) in enumerate(descs):
        struct.pack_into('<QIHH', mem, 16 * i, addr, ln, ident, fl)
    struct.pack_into('<HH', mem, P, drv_event[0], drv_event[1])
    for off, data in extra:
        mem[off:off + len(data)] = data
    hdr = bytes([PACKED | (size - 1), feat, la & 0xff, la >> 8, la & 0xff, la >> 8, sz[0], sz[1]])
    open(name, 'wb').write(hdr + bytes(mem))

# TX: a two-descriptor chain, a one-descriptor packet, and a chain crossing the ring's end
seed_packed('packed_tx', 5, V1 | EVT, [(b(3), 12, 0, AVAIL | NEXT), (b(3, 64), 200, 0, AVAIL),
                                       (b(4), 300, 1, AVAIL), (b(4, 512), 12, 2, USED | NEXT),
                                       (b(4, 1024), 100, 2, AVAIL | NEXT)],
            drv_event=(0x8001, 2))
# TX indirect table at page 5, in-order batching
ptbl = struct.pack('<QIHHQIHHQIHH', b(3), 12, 0, 0, b(3, 100), 60, 0, 0, b(4), 500, 0, 0)
seed_packed('packed_tx_indirect', 4, V1 | IND | INO | BATCH, [(b(5), 48, 3, AVAIL | INDIRECT)],
            extra=[(5 * P, ptbl)])
# RX: mergeable buffers, one in the read-only page, the dirty log
seed_packed('packed_rx_mrg', 7, V1 | MRG | LOG,
            [(b(3), 256, 0, AVAIL | WRITE), (b(3, 256), 256, 1, AVAIL | WRITE),
             (b(4), 12, 2, AVAIL | WRITE | NEXT), (b(4, 12), 1000, 2, AVAIL | WRITE),
             (b(12), 512, 3, AVAIL | WRITE), (b(4, 2048), 2000, 4, AVAIL | WRITE)], sz=(200, 60))
