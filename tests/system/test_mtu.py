#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Jumbo frames (issue 22): networks and ports with an MTU up to 9000.

Real guests (dpdk-testpmd, virtio-user, mergeable RX buffers) send 8,000-byte frames through riovd;
a port with a smaller MTU on the same network gets none of them, each counted as mtu_exceeded
(never fragmented). An eth port takes what its device allows (net_af_packet: 1500 in DPDK 22.11): the
Linux kernel in a namespace pings a guest on a 9000-MTU network through one, and what is over the
eth port's MTU is dropped there and counted.
"""
import time

import test_eth
from riovtest import Guest, Riovctl, Riovd, check, log, main, tmpdir

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"
MAC_C = "02:00:00:00:00:0c"
FRAME = 8000
# testpmd: mbufs that hold a whole jumbo frame, and an MTU that lets it send and receive them
JUMBO = ["--mbuf-size=10240", "--total-num-mbufs=8192", "--max-pkt-len=9018"]


def test_jumbo_guests_and_small_port():
    """vm1 and vm2 take the network's MTU of 9000, vm3 has 1500: A's 8,000-byte frames to a MAC
    nobody announced are flooded; B gets every one whole, C none (counted on vm3)."""
    tmp = tmpdir("mtu")
    d = Riovd(tmp, 'networks = ( { name = "big"; mtu = 9000; } );\n'
                   'ports = (\n'
                   '  { name = "vm1"; type = "vhost"; net = "big"; socket = "vm1.sock"; },\n'
                   '  { name = "vm2"; type = "vhost"; net = "big"; socket = "vm2.sock"; },\n'
                   '  { name = "vm3"; type = "vhost"; net = "big"; socket = "vm3.sock"; mtu = 1500; }\n'
                   ');\n').start()
    ctl = Riovctl(d.tmp + "/riovd.sock")
    nets = ctl.json("net", "list")
    log("  net list: %s" % nets)
    check(any(n["spec"]["name"] == "big" and n["spec"]["mtu"] == 9000 for n in nets["networks"]),
          "the network keeps its MTU of 9000")
    r = ctl.run("net", "add", "huge", "--mtu", "9001")
    check(r.returncode != 0 and "MTU 9001 is outside 68-9000" in r.stderr,
          "an MTU over 9000 is refused with the range (%s)" % r.stderr.strip())
    b = Guest("B", d.socket("vm2"), "rxonly", mac=MAC_B, extra=JUMBO).start(tmp)
    c = Guest("C", d.socket("vm3"), "rxonly", mac=MAC_C, extra=JUMBO).start(tmp)
    # --txpkts after --mbuf-size (testpmd checks the length against the mbuf size it has seen)
    a = Guest("A", d.socket("vm1"), "txonly", mac=MAC_A, peer="02:00:00:00:00:99",
              extra=JUMBO + ["--txpkts=%d" % FRAME]).start(tmp)
    time.sleep(2)
    sa = a.stop()
    time.sleep(1)
    sb = b.stop()
    sc = c.stop()
    k = d.stop()
    log("  guest A %s, B %s, C %s" % (sa, sb, sc))
    for n in ("vm1", "vm2", "vm3"):
        log("  riovd %s %s" % (n, k[n]))
    check(k["vm1"]["rx_packets"] > 0 and k["vm1"]["rx_bytes"] == k["vm1"]["rx_packets"] * FRAME,
          "riovd took %d-byte frames from A (%d)" % (FRAME, k["vm1"]["rx_packets"]))
    check(sb["rx"] > 0 and k["vm2"]["tx_packets"] == sb["rx"], "B received every frame riovd delivered")
    check(k["vm2"]["tx_bytes"] == k["vm2"]["tx_packets"] * FRAME, "B's frames arrived whole (%d bytes)" % FRAME)
    check(k["vm2"].get("drop_mtu_exceeded", 0) == 0, "nothing on the 9000-MTU port was over its MTU")
    check(sc["rx"] == 0 and k["vm3"]["tx_packets"] == 0, "C, behind a 1500-MTU port, received nothing")
    check(k["vm3"].get("drop_mtu_exceeded", 0) == k["vm1"]["rx_packets"] - k["vm1"]["drops"],
          "vm3 counted every flooded frame as over its MTU (mtu_exceeded %d)" %
          k["vm3"].get("drop_mtu_exceeded", 0))
    # A flooded frame in a chain of mbufs is referenced once per port on every segment: with the
    # head's count only, the first port to free it returned the other segments to the pool under
    # the second (the pool then ran dry: 99.9 % of A's frames dropped as no_mbuf).
    check(k["vm1"].get("drop_no_mbuf", 0) == 0, "the mbuf pool never ran dry (no_mbuf %d)" %
          k["vm1"].get("drop_no_mbuf", 0))


def test_eth_port_mtu():
    """An eth port's MTU is its device's to allow: net_af_packet in DPDK 22.11 takes at most 1500,
    so an af_packet port on a 9000-MTU network is refused with the range, and one given mtu 1500
    joins it. The Linux peer (veth MTU 9000) pings the guest: 1,472-byte echoes come back, 1,900-byte
    ones reach the guest but its replies are over the eth port's MTU, dropped and counted there."""
    test_eth.setup_net()
    try:
        test_eth.sh("ip", "link", "set", test_eth.HOST_IF, "mtu", "9000")
        test_eth.sh("ip", "netns", "exec", test_eth.NS, "ip", "link", "set", test_eth.PEER_IF, "mtu", "9000")
        tmp = tmpdir("mtu-eth")
        d = Riovd(tmp, 'networks = ( { name = "big"; mtu = 9000; } );\n'
                       'ports = ( { name = "vm1"; type = "vhost"; net = "big"; socket = "vm1.sock"; } );\n'
                  ).start()
        ctl = Riovctl(d.tmp + "/riovd.sock")
        devargs = "net_af_packet0,iface=%s" % test_eth.HOST_IF
        r = ctl.run("port", "add", "eth", "up0", "--net", "big", "--devargs", devargs)
        check(r.returncode != 0 and "net_af_packet0 takes an MTU of 46-1500, not 9000" in r.stderr,
              "an af_packet port at the network's 9000 is refused with the device's range (%s)" %
              r.stderr.strip())
        ctl.ok("port", "add", "eth", "up0", "--net", "big", "--devargs", devargs, "--mtu", "1500")
        g = Guest("G", d.socket("vm1"), "icmpecho", mac="02:00:00:00:00:0c", extra=JUMBO).start(tmp)
        time.sleep(0.5)
        def ping(size):
            r = test_eth.sh("ip", "netns", "exec", test_eth.NS, "ping", "-c", "5", "-i", "0.2", "-W", "1",
                            "-M", "do", "-s", str(size), test_eth.GUEST_IP, check_rc=False)
            log("  ping -s %d: %s" % (size, r.stdout.strip().splitlines()[-2] if r.stdout else r.stderr))
            return r
        small = ping(1472)
        big = ping(1900)
        sg = g.stop()
        k = d.stop()
        log("  guest %s" % sg)
        log("  riovd vm1 %s" % k["vm1"])
        log("  riovd up0 %s" % k["up0"])
        check(small.returncode == 0 and " 0% packet loss" in small.stdout, "1,500-byte IP packets cross both ways")
        check(big.returncode != 0, "1,928-byte replies do not leave through the 1500-MTU eth port")
        check(k["up0"].get("drop_mtu_exceeded", 0) == 5,
              "up0 counted the 5 replies over its MTU (mtu_exceeded %d)" % k["up0"].get("drop_mtu_exceeded", 0))
        check(k["vm1"]["tx_packets"] >= 11, "the guest got the ARP request and all 10 echo requests")
    finally:
        test_eth.teardown_net()


if __name__ == "__main__":
    main([test_jumbo_guests_and_small_port, test_eth_port_mtu])
