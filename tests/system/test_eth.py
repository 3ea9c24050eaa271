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
import json
import os
import subprocess
import time

from riovtest import Guest, Riovctl, Riovd, check, log, main, tmpdir, wait_for

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


def setup_net(peer_ipv6=True):
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", PEER_IF)
    sh("ip", "link", "set", PEER_IF, "netns", NS)
    # riovd owns the host end: no IPv6 chatter, no ARP answers from the host kernel
    sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % HOST_IF)
    sh("sysctl", "-qw", "net.ipv4.conf.%s.arp_ignore=8" % HOST_IF)
    sh("ip", "link", "set", HOST_IF, "up")
    if not peer_ipv6:   # no router solicitations or MLD reports from the peer's own MAC
        sh("ip", "netns", "exec", NS, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % PEER_IF)
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


# The peer sends a frame from each of n addresses 02:01:00:00:hh:ll (raw socket, broadcast, a local
# experimental ethertype), paced so that the af_packet ring in front of riovd keeps up.
SEND_MACS = r"""
import socket, sys, time
n, ifname = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
for i in range(n):
    s.send(b"\xff" * 6 + bytes([2, 1, 0, 0, i >> 8, i & 255]) + b"\x88\xb5" + bytes(46))
    if i % 256 == 255:
        time.sleep(0.002)
"""


def test_big_mac_table_listed():
    """20,000 MACs learned from a Linux peer: `riovctl net mac list` shows them all (one answer of
    the whole table was RESOURCE_EXHAUSTED past about 15,000 entries; Network.ListMacs has pages)."""
    n = 20000
    # a port name as long as names are (63): an entry takes about 90 bytes of an answer, 20,000
    # of them more than the 1 MiB frame
    port = "eth-port-to-the-linux-peer-with-a-name-as-long-as-a-name-may-be"
    # the peer's kernel silent: its IPv6 chatter, learned between two listings, made them differ
    # (CI: 20,001 entries, the listings one apart)
    setup_net(peer_ipv6=False)
    try:
        tmp = tmpdir("bigmac")
        d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n'
                       'ports = ( { name = "%s"; type = "eth"; net = "blue"; devargs = "net_af_packet0,iface=%s"; } );\n'
                  % (port, HOST_IF)).start()
        ctl = Riovctl(os.path.join(tmp, "riovd.sock"))

        def table_size():
            return next(x["macs"] for x in ctl.json("net", "list")["networks"] if x["spec"]["name"] == "blue")
        for _ in range(2):  # twice: what a full ring dropped the first time comes the second
            sh("ip", "netns", "exec", NS, "python3", "-c", SEND_MACS, str(n), PEER_IF)
        # learning evicts the oldest learned entry of a full probe window: a few may be missing
        wait_for(lambda: table_size() >= n * 9 // 10, 30, "riovd learned 18,000 of the 20,000 MACs")
        before = table_size()
        macs = ctl.json("net", "mac", "list", "blue")
        after = table_size()
        log("  MAC table: %d entries; listed %d" % (after, len(macs.get("macs", []))))
        keys = [(e["mac"], e["port"]) for e in macs["macs"]]
        sent = {"02:01:00:00:%02x:%02x" % (i >> 8, i & 255) for i in range(n)}
        check(list(macs) == ["macs"], "one JSON answer {\"macs\": [...]} from every page")
        check(keys == sorted(set(keys)), "in order, each entry once")
        check(sum(m in sent for m, _ in keys) >= n * 9 // 10, "the MACs the peer sent are listed")
        check(all(p == port for m, p in keys if m in sent), "learned on the eth port")
        check(before != after or len(keys) == after, "as many as the table holds (%d)" % after)
        check(len(keys) > 15000, "more entries than one answer could hold")
        r = ctl.run("--json", "net", "mac", "list", "blue", "--page-size", "5000")
        check(r.returncode == 0 and [(e["mac"], e["port"]) for e in json.loads(r.stdout)["macs"]] == keys,
              "pages of 5000: the same listing")
        out = ctl.ok("net", "mac", "list", "blue", "--limit", "3")
        check(out.splitlines()[1].startswith(keys[0][0] + " ") and len(out.splitlines()) == 5 and
              "(the first 3 entries of" in out, "--limit 3: the first three and a note")
        d.stop()
    finally:
        teardown_net()


if __name__ == "__main__":
    main([test_linux_peer_pings_guest, test_networks_are_isolated, test_big_mac_table_listed])
