#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""riovd's eth port on a real Linux peer.

The Linux kernel in a network namespace (a veth pair: one end in the namespace with an address, the
other end given to riovd's eth port through DPDK's net_af_packet) pings a guest (dpdk-testpmd,
virtio-user, icmpecho forwarding, which answers ARP and ICMP echo) through riovd's switch.
Addresses are from a documentation range not configured on this host (checked), inside the test's
own namespace only. The host end of the veth must stay silent: the host kernel would otherwise answer
ARP for its own addresses and send IPv6 router solicitations through it.
"""
import os
import subprocess
import time

from riovtest import Guest, Riovd, check, log, main, tmpdir

NS = "riovt-peer%d" % os.getpid()
HOST_IF = "rvt%dh" % (os.getpid() % 100000)
PEER_IF = "rvt%dp" % (os.getpid() % 100000)


def sh(*args, check_rc=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check_rc and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def pick_subnet():
    used = sh("ip", "-4", "addr").stdout
    for net in ("198.51.100", "203.0.113", "192.0.2"):
        if " %s." % net not in used:
            return net
    raise RuntimeError("every documentation subnet is configured on this host")


SUBNET = pick_subnet()
PEER_IP = SUBNET + ".1"
GUEST_IP = SUBNET + ".2"


def setup_net():
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", PEER_IF)
    sh("ip", "link", "set", PEER_IF, "netns", NS)
    # riovd owns the host end: no IPv6 chatter, no ARP answers from the host kernel
    sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % HOST_IF)
    sh("sysctl", "-qw", "net.ipv4.conf.%s.arp_ignore=8" % HOST_IF)
    sh("ip", "link", "set", HOST_IF, "up")
    sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
    sh("ip", "netns", "exec", NS, "ip", "link", "set", PEER_IF, "up")
    sh("ip", "netns", "exec", NS, "ip", "addr", "add", PEER_IP + "/24", "dev", PEER_IF)


def teardown_net():
    sh("ip", "link", "del", HOST_IF, check_rc=False)
    sh("ip", "netns", "del", NS, check_rc=False)


def test_linux_peer_pings_guest():
    setup_net()
    try:
        tmp = tmpdir("eth")
        d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n'
                       'ports = ( { name = "vm1"; type = "vhost"; net = "blue"; socket = "vm1.sock"; },\n'
                       '  { name = "up0"; type = "eth"; net = "blue"; devargs = "net_af_packet0,iface=%s"; } );\n'
                  % HOST_IF).start()
        g = Guest("G", d.socket("vm1"), "icmpecho", mac="02:00:00:00:00:0c").start(tmp)
        time.sleep(0.5)
        r = sh("ip", "netns", "exec", NS, "ping", "-c", "5", "-i", "0.2", "-W", "2", GUEST_IP,
               check_rc=False)
        log(r.stdout.strip().splitlines()[-2] if r.stdout else r.stderr)
        sg = g.stop()
        c = d.stop()
        log("  guest %s" % sg)
        log("  riovd vm1 %s" % c["vm1"])
        log("  riovd up0 %s" % c["up0"])
        check(r.returncode == 0 and " 0% packet loss" in r.stdout, "Linux pinged the guest through riovd, no loss")
        check(c["up0"]["rx_packets"] >= 6, "riovd's eth port received the ARP request and the echo requests")
        # The kernel peer may still send (ARP probe, IPv6 ND) after the guest stopped polling: such a
        # frame stays in the guest's ring, so riovd may have delivered a few more than it read.
        late = c["vm1"]["tx_packets"] - sg["rx"]
        check(0 <= late <= 1024, "the guest received what riovd delivered but for what arrived after it "
              "stopped polling (delivered %d, received %d)" % (c["vm1"]["tx_packets"], sg["rx"]))
        check(sg["rx"] >= 6, "the guest received the ARP request and the 5 echo requests")
        check(c["vm1"]["rx_packets"] == sg["tx"], "riovd received every reply the guest sent")
        check(c["up0"]["tx_packets"] >= 6, "riovd sent the replies out of its eth port")
    finally:
        teardown_net()


def test_networks_are_isolated():
    """A guest on another network sees nothing of the ping."""
    setup_net()
    try:
        tmp = tmpdir("iso")
        d = Riovd(tmp, 'networks = ( { name = "blue"; }, { name = "red"; } );\n'
                       'ports = ( { name = "vm1"; type = "vhost"; net = "red"; socket = "vm1.sock"; },\n'
                       '  { name = "up0"; type = "eth"; net = "blue"; devargs = "net_af_packet0,iface=%s"; } );\n'
                  % HOST_IF).start()
        g = Guest("G", d.socket("vm1"), "icmpecho", mac="02:00:00:00:00:0c").start(tmp)
        r = sh("ip", "netns", "exec", NS, "ping", "-c", "3", "-i", "0.2", "-W", "1", GUEST_IP,
               check_rc=False)
        sg = g.stop()
        c = d.stop()
        check(r.returncode != 0, "ping across networks fails")
        check(sg["rx"] == 0 and c["vm1"]["tx_packets"] == 0, "the guest on network red received nothing")
        check(c["up0"]["rx_packets"] >= 1, "riovd did receive the peer's packets on network blue")
    finally:
        teardown_net()


if __name__ == "__main__":
    main([test_linux_peer_pings_guest, test_networks_are_isolated])
