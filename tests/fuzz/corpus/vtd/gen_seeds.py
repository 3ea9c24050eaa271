#!/usr/bin/env python3
# Writes the seed inputs for fuzz_vtd (tests/fuzz/fuzz_vtd.c documents the byte format). Run in this folder.
import struct

def u16(x): return struct.pack('<H', x)
def u24(x): return struct.pack('<I', x)[:3]
def u64(x): return struct.pack('<Q', x)

HDR = bytes([0x01 | 0x40 | (3 << 3)])   # 48-bit, CM=0, log 4, 64 IRTEs
CUR = bytes([3, 3, 4, 6])               # cursor sids: 0x0100, 0x0100, 0x0101, 0xff07
def dom(did, lvl): return bytes([0, did, lvl])
def mp(did, isel, ix, hsel, hx, lenb, lsel, perm): return bytes([2, did, isel]) + u16(ix) + bytes([hsel]) + u16(hx) + bytes([lenb, lsel, perm])
def unmap(did, isel, ix, lenx, lsel): return bytes([3, did, isel]) + u16(ix) + u16(lenx) + bytes([lsel])
def ctx(sidsel, did, x): return bytes([4, sidsel, did, x])
def nested(sidsel, s1, s2): return bytes([5, sidsel, s1, s2, 0])
def xl(cur, isel, ix, ln, acc): return bytes([14, cur, isel]) + u16(ix) + u24(ln) + bytes([acc])
def inv(kind, *rest): return bytes([7, kind] + list(rest))
def irte(x, sidsel, idx): return bytes([12]) + u64(x) + bytes([sidsel, idx])
def raise_(sidsel, flags, handle, sub): return bytes([13, sidsel, flags | 1]) + u16(handle) + bytes([sub])
def pte(did, isel, ix, lvl, x): return bytes([8, did, isel]) + u16(ix) + bytes([lvl]) + u64(x)

seeds = {
    'map_translate': HDR + CUR + dom(1, 1) + ctx(3, 1, 0) + mp(1, 0, 0x10, 0, 0x99, 3, 0, 3)
        + mp(1, 1, 2, 1, 7, 0, 1, 1) + mp(1, 2, 1, 2, 3, 0, 2, 3)
        + xl(0, 0, 0x11, 100, 1) + xl(1, 1, 2, 0x300000, 2) + xl(0, 2, 1, 64, 3)
        + unmap(1, 0, 0x11, 0, 0) + inv(4, 1, 0, 0, 0x11, 0, 0) + xl(0, 0, 0x11, 1, 1) + bytes([15, 1, 1]),
    'nested': HDR + CUR + dom(1, 1) + dom(2, 1) + nested(3, 1, 2) + mp(2, 2, 0, 2, 5, 0, 2, 3)
        + mp(1, 0, 0x40, 0, 0x10, 0, 0, 3) + xl(0, 0, 0x40, 4096, 3) + inv(3, 2) + xl(0, 0, 0x40, 1, 1),
    'faults': bytes([0x01 | (0 << 3)]) + CUR + dom(1, 1) + ctx(3, 1, 4) + ctx(4, 1, 3)
        + xl(0, 0, 1, 1, 1) + xl(2, 0, 1, 1, 2) + xl(3, 0, 1, 1, 1) + xl(0, 3, 0, 1, 1)
        + bytes([10, 3]) + u64(1 << 5) + u64(0) + xl(0, 0, 1, 1, 1) + bytes([15, 1, 0]),
    'raw_pte': HDR + CUR + dom(1, 1) + ctx(3, 1, 0) + mp(1, 1, 1, 1, 1, 0, 1, 3) + mp(1, 0, 0x900, 0, 1, 0, 0, 3)
        + pte(1, 1, 1, 2, 1 << 2) + xl(0, 1, 1, 1, 1) + pte(1, 0, 0x900, 1, 1 << 50) + inv(2) + xl(0, 0, 0x900, 1, 1)
        + pte(1, 0, 0x900, 4, 1 << 7) + xl(0, 0, 0x900, 1, 1) + unmap(1, 2, 0, 0xffff, 2),
    'irq': HDR + CUR + irte(1 | (0x30 << 9) | (1 << 62), 0, 5) + raise_(2, 0, 5, 0)
        + irte(1 | (1 << 49) | (1 << 62), 3, 6) + raise_(3, 0, 6, 0) + raise_(4, 0, 6, 0)
        + irte(1 | (2 << 57) | (1 << 62), 0, 8) + raise_(0, 2, 7, 1) + raise_(0, 2, 7, 1)
        + bytes([13, 0, 0]) + u24(0x10) + u64(0) + bytes([15, 0, 0]),
    'posted': HDR + CUR + irte(1 | 4 | (0x91 << 9) | (1 << 54) | (1 << 62), 0, 9) + raise_(1, 0, 9, 0)
        + raise_(1, 0, 9, 0) + bytes([11, 9]) + u64(1 << 40) + u64(0) + raise_(1, 0, 9, 0),
}
for name, data in seeds.items():
    with open(name, 'wb') as f:
        f.write(data)
