#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""BGP EVPN (issue 14): every node in its own network namespace, each with its own zebra and bgpd
(frr.py), all on one underlay; MACs and flood lists come from BGP alone.

    rve-ul: bridge ul ─┬─ p<x> ═══ veth ═══ l0 10.0.0.x  (a Linux node: rve-<x>)
                       │                      vxlan100 (nolearning, local 10.0.0.x) ─ br100 ─ e100 ═══ eth0
                       │                      zebra + bgpd                               (rve-ep<x>, 192.168.100.x)
                       └─ p<y> ═══ veth ═══ u0         (a riov node: rve-<y>)
                                              riovd: uplink up0 (TAP, 10.0.0.y/24), net blue --vni 100 --evpn,
                                              shadow devices rvbr100, rvx100, rvs<id>; zebra + bgpd
                                              vm1 (icmpecho), vm2 (txonly) guests on vhost-user sockets

The underlay is a Linux bridge in a namespace of its own with one veth per node, so it takes any
number of nodes. Every node is an iBGP peer of every other (AS 65000, full mesh, address family
l2vpn evpn only, advertise-all-vni). Nobody types a VTEP or a MAC: the vxlan devices have no
flood entries and learn nothing from the data plane (nolearning, and learning off on the bridge
port); zebra writes the remote MACs (type-2 routes) and flood entries (type-3 routes) into them.
The endpoints' and guests' MACs are learned by their own node (a Linux bridge, or riovd) and
advertised by it.

IPv6 is off in every namespace and the bridges do no multicast snooping (see test_vxlan.py). The
Linux nodes' underlay ends send what a NIC would (no partial checksums), because a riov node's
af_packet uplink may be on the same wire. Names carry this process's id.
"""
import json
import os
import shutil
import sys
import time

import frr
from frr import FrrNode
from riovtest import Guest, Riovctl, Riovd, Skip, TestFailure, check, log, main, tmpdir
from test_vxlan import all_replied, need, ns, ping, poll, port_stats, sh, stop_riovd, vteps

TAG = os.getpid() % 100000
ASN = 65000
VNI = 100
NET = "blue"
NET_MTU = 1450
UPLINK_IF = "u0"           # a riov node's end of its underlay veth (riovd's af_packet uplink)
LINUX_IF = "l0"            # a Linux node's end
TAP = "up0"                # the riov uplink's name and its TAP's
UPLINK_FRAMES = 8192       # see test_vxlan.py's test_two_riov_nodes
CONVERGE = 60              # seconds for BGP to come up and routes to arrive (FRR takes 1-3 here)

# one gratuitous ARP from an endpoint (the kernel's own `arping -U`): its bridge learns its MAC
ANNOUNCE = r'''
import socket, struct, sys
ifname, ip = sys.argv[1], socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
mac = s.getsockname()[4]
f = b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\x00" * 6 + ip
s.send(f + b"\x00" * (60 - len(f)))
'''


class Node:
    def __init__(self, name, netns, ip, riov):
        self.name, self.netns, self.ip, self.riov = name, netns, ip, riov
        self.ep = self.ep_ip = None   # a Linux node's endpoint namespace and address
        self.frr = None
        self.riovd = self.ctl = None


class Underlay:
    """The namespaces of one test: the underlay's (a bridge, one veth per node), the nodes' and
    the endpoints'. stop() deletes them all (FRR and riovd must have stopped: a namespace lives
    on while a process is in it)."""

    def __init__(self):
        self.ns = "rve-ul%d" % TAG
        self.namespaces = []
        self.nodes = []

    def _add_ns(self, name):
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        ns(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        ns(name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def start(self):
        self._add_ns(self.ns)
        sh("ip", "-n", self.ns, "link", "add", "ul", "type", "bridge", "mcast_snooping", "0")
        sh("ip", "-n", self.ns, "link", "set", "ul", "up")
        return self

    def add_node(self, name, ip, riov=False):
        """A node namespace rve-<name> on the underlay with address ip/24: on l0 for a Linux node;
        for a riov node, u0 has no address and the kernel keeps off it (riovd's uplink TAP will
        carry the address; see test_vxlan.py)."""
        node = Node(name, "rve-%s%d" % (name, TAG), ip, riov)
        self._add_ns(node.netns)
        dev, port = (UPLINK_IF if riov else LINUX_IF), "p" + name
        sh("ip", "-n", self.ns, "link", "add", port, "type", "veth", "peer", "name", dev, "netns", node.netns)
        sh("ip", "-n", self.ns, "link", "set", port, "master", "ul")
        sh("ip", "-n", self.ns, "link", "set", port, "up")
        if riov:
            ns(node.netns, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev)
            ns(node.netns, "sysctl", "-qw", "net.ipv4.conf.%s.arp_ignore=8" % dev)
            ns(node.netns, "sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=1" % dev)
            sh("ip", "-n", node.netns, "link", "set", dev, "up")
        else:
            sh("ip", "-n", node.netns, "link", "set", dev, "up")
            sh("ip", "-n", node.netns, "addr", "add", ip + "/24", "dev", dev)
            ns(node.netns, "ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off")
        self.nodes.append(node)
        return node

    def add_vni(self, node, vni, ep_ip):
        """On Linux node: vxlan<vni> (nolearning, no flood entry, local the node's address,
        dstport 4789) as a port of br<vni> with learning off, and an endpoint namespace
        rve-ep<name> with ep_ip/24 (MTU 1450) on the bridge."""
        ep = "rve-ep%s%d" % (node.name, TAG)
        vx, br, port = "vxlan%d" % vni, "br%d" % vni, "e%d" % vni
        self._add_ns(ep)
        n = node.netns
        sh("ip", "-n", n, "link", "add", vx, "type", "vxlan", "id", str(vni), "local", node.ip, "dstport", "4789",
           "nolearning", "dev", LINUX_IF)
        sh("ip", "-n", n, "link", "add", br, "type", "bridge", "mcast_snooping", "0")
        sh("ip", "-n", n, "link", "set", vx, "master", br)
        sh("bridge", "-n", n, "link", "set", "dev", vx, "learning", "off")
        sh("ip", "-n", n, "link", "add", port, "mtu", str(NET_MTU), "type", "veth", "peer", "name", "eth0",
           "netns", ep)
        sh("ip", "-n", n, "link", "set", port, "master", br)
        for dev in (vx, br, port):
            sh("ip", "-n", n, "link", "set", dev, "up")
        sh("ip", "-n", ep, "link", "set", "eth0", "mtu", str(NET_MTU), "up")
        sh("ip", "-n", ep, "addr", "add", ep_ip + "/24", "dev", "eth0")
        node.ep, node.ep_ip = ep, ep_ip
        return ep

    def start_frr(self, node):
        """zebra and bgpd in node's namespace, every other node a neighbor."""
        node.frr = FrrNode(node.netns, node.ip, ASN, [m.ip for m in self.nodes if m is not node])
        node.frr.start()
        return node.frr

    def stop(self):
        for node in self.nodes:
            stop_riovd(node.riovd)
            if node.frr is not None:
                node.frr.stop()
        for name in reversed(self.namespaces):
            sh("ip", "netns", "del", name, check_rc=False)
        self.namespaces = []

    def diagnostics(self):
        for node in self.nodes:
            if node.frr is not None:
                log(node.frr.diagnostics())
            r = sh("bridge", "-n", node.netns, "fdb", "show", check_rc=False)
            log("=== %s: bridge fdb show\n%s" % (node.netns, r.stdout.rstrip()))


def link_mac(netns, ifname):
    return json.loads(sh("ip", "-n", netns, "-j", "link", "show", "dev", ifname).stdout)[0]["address"].lower()


def fdb(node, dev):
    """The kernel's FDB entries of dev in node's namespace (bridge -j fdb show)."""
    r = sh("bridge", "-n", node.netns, "-j", "fdb", "show", "dev", dev, check_rc=False)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else []


def flood_vteps(node, dev):
    """The VTEPs of dev's flood list in the kernel: its all-zero entries' destinations."""
    return sorted(e["dst"] for e in fdb(node, dev) if e.get("mac") == "00:00:00:00:00:00" and e.get("dst"))


def remote_macs(node, dev):
    """{mac: dst} of dev's remote MAC entries that zebra installed (extern_learn)."""
    return {e["mac"].lower(): e["dst"] for e in fdb(node, dev)
            if e.get("dst") and e.get("mac") != "00:00:00:00:00:00" and "extern_learn" in e.get("flags", [])}


def hand_typed(node, dev):
    """dev's entries with a destination that zebra did not write: neither a remote MAC
    (extern_learn) nor a flood entry."""
    return [e for e in fdb(node, dev) if e.get("dst") and not (
        "extern_learn" in e.get("flags", []) or e.get("mac") == "00:00:00:00:00:00")]


def announce(node):
    """The endpoint behind Linux node sends one gratuitous ARP: its node's bridge learns the MAC."""
    ns(node.ep, sys.executable, "-c", ANNOUNCE, "eth0", node.ep_ip)


class Clock:
    """Seconds since a start, for the log's convergence times."""

    def __init__(self):
        self.t0 = time.time()

    def __call__(self):
        return time.time() - self.t0


def wait_sessions(nodes, clock):
    for node in nodes:
        poll(node.frr.peers, lambda p, node=node: all(p.get(n) == "Established" for n in node.frr.neighbors),
             CONVERGE, "%s's EVPN sessions Established" % node.netns, interval=0.2)
    t = clock()
    for node in nodes:
        check(node.frr.sessions_established(), "%s: iBGP l2vpn evpn sessions Established with %s" %
              (node.netns, ", ".join(node.frr.neighbors)))
    log("  BGP: every session Established %.1f s after the first zebra started" % t)
    return t


def wait_type3(nodes, clock, dev_of):
    """Every node has a type-3 route from each other node and zebra's flood entries for them."""
    for node in nodes:
        others = sorted(m.ip for m in nodes if m is not node)
        poll(lambda: node.frr.type3_vteps(VNI), lambda v: v == others, CONVERGE,
             "%s's type-3 routes from %s" % (node.netns, others))
    t3 = clock()
    for node in nodes:
        others = sorted(m.ip for m in nodes if m is not node)
        got = poll(lambda: flood_vteps(node, dev_of(node)), lambda v: v == others, CONVERGE,
                   "%s's flood entries on %s" % (node.netns, dev_of(node)))
        check(got == others, "%s: type-3 routes from %s, and zebra's flood entries on %s (00:00:00:00:00:00 dst %s)"
              % (node.netns, ", ".join(others), dev_of(node), ", ".join(got)))
        vni = node.frr.evpn_vni(VNI) or {}
        check(vni.get("vtepIp") == node.ip and sorted(vni.get("numRemoteVteps") or []) == others,
              "%s: zebra has VNI %d on %s, VTEP %s, remote VTEPs %s" %
              (node.netns, VNI, vni.get("vxlanInterface"), vni.get("vtepIp"), vni.get("numRemoteVteps")))
    log("  BGP: type-3 routes everywhere %.1f s, flood entries in every kernel %.1f s after the first zebra "
        "started" % (t3, clock()))
    return t3


def wait_type2(nodes, mac, owner, clock, since, dev_of, what):
    """mac is a type-2 route from owner's VTEP at every other node, and zebra installed it there."""
    for node in nodes:
        if node is owner:
            continue
        poll(lambda: node.frr.type2_macs(VNI).get(mac), lambda v: v == owner.ip, CONVERGE,
             "%s's type-2 route for %s (%s)" % (node.netns, mac, what))
        poll(lambda: remote_macs(node, dev_of(node)).get(mac), lambda v: v == owner.ip, CONVERGE,
             "zebra's entry for %s on %s in %s" % (mac, dev_of(node), node.netns))
        zm = node.frr.evpn_macs(VNI).get(mac) or {}
        check(zm.get("type") == "remote" and zm.get("remoteVtep") == owner.ip,
              "%s: %s's MAC %s is a type-2 route from %s, remote in zebra, and on %s with dst %s" %
              (node.netns, what, mac, owner.ip, dev_of(node), owner.ip))
        if node.ctl is not None:
            poll(lambda: riov_evpn_macs(node).get(mac), lambda v: v == owner.ip, CONVERGE,
                 "riovd %s's EVPN MAC %s" % (node.name, mac))
            log("  ok: riovd %s has %s behind VTEP %s (an evpn entry of %s's MAC table)" %
                (node.name, mac, owner.ip, NET))
    t = clock() - since
    log("  BGP: %s's MAC %s at every other node %.1f s after it was learned" % (what, mac, t))
    return t


def riov_evpn_macs(node):
    """{mac: VTEP} of riovd's remote MACs from EVPN on network blue (`riovctl net mac list`)."""
    return {e["mac"].lower(): e.get("vtep") for e in node.ctl.json("net", "mac", "list", NET).get("macs") or []
            if e.get("evpn")}


def linux_dev(node):
    return "vxlan%d" % VNI


def test_linux_nodes_evpn():
    """Three Linux nodes, each with a kernel vxlan device, a bridge and an endpoint behind it, and
    zebra + bgpd: the iBGP EVPN sessions come up; each node gets the others' type-3 routes and
    zebra writes them as flood entries; each endpoint's MAC, once its bridge learns it, is a
    type-2 route at the others, which zebra installs on their vxlan devices; the endpoints ping
    each other in every direction. No VTEP or MAC is typed anywhere."""
    need(tools=("ip", "sysctl", "ethtool", "bridge", "ping"))
    frr.need_frr()
    ul = Underlay()
    try:
        ul.start()
        nodes = [ul.add_node(x, "10.0.0.%d" % i) for i, x in ((1, "l1"), (2, "l2"), (3, "l3"))]
        for i, node in enumerate(nodes, 1):
            ul.add_vni(node, VNI, "192.168.100.%d" % i)
        check(all(flood_vteps(n, linux_dev(n)) == [] and remote_macs(n, linux_dev(n)) == {} for n in nodes),
              "no vxlan device has a flood entry or a remote MAC before FRR starts")
        clock = Clock()
        for node in nodes:
            ul.start_frr(node)
        wait_sessions(nodes, clock)
        wait_type3(nodes, clock, linux_dev)

        # each endpoint makes itself known; its MAC travels as a type-2 route
        for node in nodes:
            mac = link_mac(node.ep, "eth0")
            since = clock()
            announce(node)
            wait_type2(nodes, mac, node, clock, since, linux_dev, "endpoint " + node.ep)

        for src in nodes:
            for dst in nodes:
                if src is not dst:
                    r = ping(src.ep, dst.ep_ip)
                    check(all_replied(r), "endpoint %s pinged %s (%s) across VXLAN, every echo answered once" %
                          (src.ep, dst.ep_ip, dst.name))
        for node in nodes:
            log("  %s vxlan100 fdb: %s" % (node.netns, "; ".join(
                "%s dst %s %s" % (e["mac"], e["dst"], ",".join(e.get("flags", []))) for e in fdb(node, "vxlan100")
                if e.get("dst"))))
            check(hand_typed(node, linux_dev(node)) == [],
                  "%s: every entry with a destination on vxlan100 is zebra's (extern_learn or a flood entry)" %
                  node.netns)
            check(node.frr.running(), "zebra and bgpd still run in %s" % node.netns)
    except Skip:
        raise
    except Exception:
        ul.diagnostics()
        raise
    finally:
        ul.stop()


# ---- the riov case: two riov nodes and a Linux node

A_IP, B_IP, L_IP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
EP_IP = "192.168.100.3"
MAC_A1, MAC_A2 = "02:00:00:00:0a:01", "02:00:00:00:0a:02"
MAC_B1, MAC_B2 = "02:00:00:00:0b:01", "02:00:00:00:0b:02"


def riov_dev(node):
    return ("rvx%d" % VNI) if node.riov else ("vxlan%d" % VNI)


def tap_ready(node):
    r = sh("ip", "-n", node.netns, "-j", "-4", "addr", "show", "dev", TAP, check_rc=False)
    if r.returncode != 0 or not r.stdout.strip():
        return False
    j = json.loads(r.stdout)
    return bool(j) and "UP" in j[0].get("flags", []) and any(
        a.get("local") == node.ip for a in j[0].get("addr_info", []))


def link_json(node, dev, details=False):
    args = ["ip", "-n", node.netns, "-j"] + (["-d"] if details else []) + ["link", "show", "dev", dev]
    r = sh(*args, check_rc=False)
    return json.loads(r.stdout)[0] if r.returncode == 0 and r.stdout.strip() else None


def shadow_tap(node, port):
    """The name of riovd's shadow TAP for port (alias riov:blue/<port>) in node's namespace."""
    r = sh("ip", "-n", node.netns, "-j", "link", "show", check_rc=False)
    for link in json.loads(r.stdout or "[]"):
        if link.get("ifalias") == "riov:%s/%s" % (NET, port):
            return link["ifname"]
    return None


def start_riov_node(node, tmp):
    """riovd in node's namespace with uplink up0 (af_packet on u0, node.ip/24), network blue in
    EVPN mode (VNI 100) and vhost ports vm1 and vm2. Skips when riovctl has no --evpn yet."""
    d = os.path.join(tmp, node.name)
    os.makedirs(d)
    node.riovd = Riovd(d, "", netns=node.netns)   # named before it starts: stop() stops it
    node.riovd.start()
    node.ctl = ctl = Riovctl(os.path.join(d, "riovd.sock"))
    ctl.ok("port", "add", "uplink", TAP, "--devargs",
           "net_af_packet0,iface=%s,framecnt=%d" % (UPLINK_IF, UPLINK_FRAMES), "--address", node.ip + "/24")
    poll(lambda: tap_ready(node), bool, 10, "the uplink's TAP %s up with %s in %s" % (TAP, node.ip, node.netns))
    r = ctl.run("net", "add", NET, "--vni", str(VNI), "--mtu", str(NET_MTU), "--evpn")
    if r.returncode != 0:
        err = (r.stderr or r.stdout).strip()
        if "--evpn" in err and any(w in err for w in ("no option", "unknown", "unrecognized", "invalid option")):
            raise Skip("riovd has no EVPN mode yet: `riovctl net add %s --vni %d --evpn` says: %s" % (NET, VNI, err))
        raise TestFailure("riovctl net add %s --vni %d --evpn exited %d: %s" % (NET, VNI, r.returncode, err))
    for port in ("vm1", "vm2"):
        ctl.ok("port", "add", "vhost", port, "--net", NET, "--socket", port + ".sock")
    # the shadow devices zebra reads (docs/evpn.md)
    vx = poll(lambda: link_json(node, "rvx%d" % VNI, details=True), lambda j: j is not None, 15,
              "riovd's rvx%d in %s" % (VNI, node.netns))
    info = (vx.get("linkinfo") or {}).get("info_data") or {}
    check(info.get("id") == VNI and info.get("local") == node.ip and info.get("port") == 4789 and
          vx.get("master") == "rvbr%d" % VNI and "UP" in vx.get("flags", []),
          "%s: riovd made rvx%d (VNI %s, local %s, port %s) in rvbr%d, up" %
          (node.netns, VNI, info.get("id"), info.get("local"), info.get("port"), VNI))
    for port in ("vm1", "vm2"):
        tap = poll(lambda: shadow_tap(node, port), lambda t: t is not None, 15,
                   "the shadow TAP of %s in %s" % (port, node.netns))
        check((link_json(node, tap) or {}).get("master") == "rvbr%d" % VNI,
              "%s: shadow TAP %s (alias riov:%s/%s) in rvbr%d" % (node.netns, tap, NET, port, VNI))


def stats(node, port):
    return port_stats(node.ctl, port)


def delivered(node, port="vm1"):
    """Frames riovd delivered to the guest on port."""
    return int(stats(node, port)["tx_packets"])


def sent(node, port="vm1"):
    """Frames riovd took from the guest on port."""
    return int(stats(node, port)["rx_packets"])


def ep_rx(node):
    j = json.loads(sh("ip", "-n", node.ep, "-s", "-j", "link", "show", "dev", "eth0").stdout)[0]
    return int(j["stats64"]["rx"]["packets"])


def burst(src, peer_mac, mac, tmp, seconds=1.0):
    """A txonly guest on src's vm2 (MAC mac) sends to peer_mac for a moment; its statistics."""
    g = Guest(src.name + "2", src.riovd.socket("vm2"), "txonly", mac=mac, peer=peer_mac).start(tmp)
    time.sleep(seconds)
    return g.stop()


def test_riov_and_linux_evpn():
    """Two riov nodes (riovd with an af_packet uplink, network blue in EVPN mode, an icmpecho
    guest on vm1) and a Linux node (kernel vxlan + bridge, an endpoint behind it), zebra + bgpd
    in each: the sessions come up; flood lists come from type-3 routes (zebra's entries in each
    kernel, riovd's VTEPs of blue); the endpoint's ARP reaches both guests; each guest's MAC is a
    type-2 route at the other nodes; the endpoint pings each guest, and each riov node's guests
    reach the other's, unicast to the MAC BGP gave and broadcast. No VTEP or MAC typed anywhere.

    icmpecho answers ARP for any address, so the endpoint's ARP cannot tell the two guests apart:
    after the ARP round, the endpoint pings each guest at an address whose neighbor entry is the
    MAC that BGP advertised for it (read from the Linux node's type-2 routes)."""
    need(testpmd=True, tools=("ip", "sysctl", "ethtool", "bridge", "ping"))
    frr.need_frr()
    ul = Underlay()
    tmp = None
    try:
        ul.start()
        a = ul.add_node("a", A_IP, riov=True)
        b = ul.add_node("b", B_IP, riov=True)
        lx = ul.add_node("l", L_IP)
        ul.add_vni(lx, VNI, EP_IP)
        tmp = tmpdir("evpn")
        for node in (a, b):
            start_riov_node(node, tmp)       # skips here while riovd has no EVPN mode
        nodes = [a, b, lx]
        clock = Clock()
        for node in nodes:
            ul.start_frr(node)
        wait_sessions(nodes, clock)
        wait_type3(nodes, clock, riov_dev)
        for node in (a, b):
            others = sorted(m.ip for m in nodes if m is not node)
            got = poll(lambda: sorted(v.get("address") for v in vteps(node.ctl, NET)
                                      if v.get("origin") == "evpn" and v.get("flood")),
                       lambda v: v == others, CONVERGE, "riovd %s's flood list of %s from zebra" % (node.name, NET))
            check(got == others and all(v.get("origin") == "evpn" for v in vteps(node.ctl, NET)),
                  "riovd %s: blue's VTEPs are %s, all evpn and in the flood list (type-3 routes)" %
                  (node.name, ", ".join(got)))

        ga = Guest("A1", a.riovd.socket("vm1"), "icmpecho", mac=MAC_A1).start(tmp)
        gb = Guest("B1", b.riovd.socket("vm1"), "icmpecho", mac=MAC_B1).start(tmp)

        # the endpoint's MAC: learned by the Linux bridge, a type-2 route at both riov nodes
        ep_mac = link_mac(lx.ep, "eth0")
        since = clock()
        announce(lx)
        wait_type2(nodes, ep_mac, lx, clock, since, riov_dev, "endpoint " + lx.ep)

        # ARP from the endpoint floods to both riov nodes (the Linux node's flood list), each
        # riovd floods it to its guest, both answer; riovd learns the guests' MACs and BGP
        # carries them
        da0, db0 = delivered(a), delivered(b)
        since = clock()
        r = ping(lx.ep, "192.168.100.1")
        check(all_replied(r), "the endpoint pinged 192.168.100.1 (ARP answered by a guest), every echo answered once")
        check(delivered(a) > da0 and delivered(b) > db0,
              "the endpoint's ARP request reached both guests (riovd a delivered %d, b %d)" %
              (delivered(a) - da0, delivered(b) - db0))
        wait_type2(nodes, MAC_A1, a, clock, since, riov_dev, "guest A1")
        wait_type2(nodes, MAC_B1, b, clock, since, riov_dev, "guest B1")

        # the endpoint pings each guest at the MAC BGP advertised for it
        for node, ip, mac in ((a, "192.168.100.1", MAC_A1), (b, "192.168.100.2", MAC_B1)):
            bgp_mac = next((m for m, v in lx.frr.type2_macs(VNI).items() if v == node.ip and m == mac), None)
            check(bgp_mac == mac, "the Linux node has a type-2 route for %s from %s" % (mac, node.ip))
            ns(lx.ep, "ip", "neigh", "replace", ip, "lladdr", bgp_mac, "dev", "eth0", "nud", "reachable")
            other = b if node is a else a
            s0, o0 = sent(node), delivered(other)
            r = ping(lx.ep, ip)
            check(all_replied(r), "the endpoint pinged guest %s (%s at %s) through riov node %s, every echo "
                  "answered once" % (mac, ip, node.ip, node.name))
            check(sent(node) - s0 >= 5 and delivered(other) == o0,
                  "the echoes came from node %s's guest (%d frames), node %s's got nothing" %
                  (node.name, sent(node) - s0, other.name))

        # guest to guest across the riov nodes, unicast to the MAC from BGP, both ways
        for src, dst, peer, mac in ((a, b, MAC_B1, MAC_A2), (b, a, MAC_A1, MAC_B2)):
            d0, l0 = delivered(dst), ep_rx(lx)
            st = burst(src, peer, mac, tmp)
            got = poll(lambda: delivered(dst) - d0, lambda v: v > 0, 10, "frames at node %s's guest" % dst.name)
            log("  %s -> %s: the txonly guest sent %d, riovd %s delivered %d to its guest, the endpoint got %d" %
                (src.name, dst.name, st["tx"], dst.name, got, ep_rx(lx) - l0))
            check(st["tx"] > 0 and got > 0, "node %s's guest reached node %s's guest %s (%d frames)" %
                  (src.name, dst.name, peer, got))
        # broadcast from a guest: riovd a floods it to both other VTEPs (its flood list)
        d0, l0 = delivered(b), ep_rx(lx)
        st = burst(a, "ff:ff:ff:ff:ff:ff", MAC_A2, tmp)
        got_b = poll(lambda: delivered(b) - d0, lambda v: v > 0, 10, "broadcast frames at node b's guest")
        got_l = poll(lambda: ep_rx(lx) - l0, lambda v: v > 0, 10, "broadcast frames at the Linux endpoint")
        check(st["tx"] > 0 and got_b > 0 and got_l > 0,
              "a broadcast burst from node a's guest (%d) was flooded to node b's guest (%d) and to the Linux "
              "endpoint (%d)" % (st["tx"], got_b, got_l))

        for node in nodes:
            check(hand_typed(node, riov_dev(node)) == [],
                  "%s: every entry with a destination on %s is zebra's" % (node.netns, riov_dev(node)))
            check(node.frr.running(), "zebra and bgpd still run in %s" % node.netns)
        ga.stop()
        gb.stop()
        for node in (a, b):
            check(stop_riovd(node.riovd) == 0, "riovd %s stopped cleanly" % node.name)
    except Skip:
        ul.stop()
        shutil.rmtree(tmp, ignore_errors=True)   # nothing to look at
        raise
    except Exception:
        ul.diagnostics()
        log("  riovd's and the guests' logs are in %s" % tmp)
        raise
    finally:
        ul.stop()


if __name__ == "__main__":
    main([test_linux_nodes_evpn, test_riov_and_linux_evpn])
