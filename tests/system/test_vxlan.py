#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The fabric (issue 13): riovd's uplink, its TAP exception path, and VXLAN to a Linux host.

Three kinds of network namespace, joined by veth pairs, with the kernel's own vxlan and bridge on
the Linux side:

    rv-node                        rv-linux                                   rv-ep100, rv-ep200
    riovd, u0 ═════ veth ═════ l0 10.0.0.2 ┬ vxlan100 ─ br100 ─ e100 ═══ eth0 192.168.100.2
    up0: TAP 10.0.0.1/24                   └ vxlan200 ─ br200 ─ e200 ═══ eth0 192.168.200.2
    vm1, vm2: dpdk-testpmd guests on riovd's vhost-user sockets

riovd runs in rv-node, where its end of the underlay veth (u0, given to the uplink through DPDK's
net_af_packet) lives and where it makes the uplink's TAP (up0) with the node's address: ARP, ICMP
and TCP for 10.0.0.1 reach rv-node's kernel through riovd (the exception path), VXLAN for 10.0.0.1
is riovd's. The kernel must stay off u0 itself: it has no address, IPv6 is off, it answers no ARP
(arp_ignore 8) and takes no IPv4 (with rp_filter on, the kernel drops what arrives on an interface
without an address that its routes do not send back there: they send to up0), or rv-node's kernel
would answer a second time what riovd passes it through up0.
IPv6 is off in every namespace and the Linux bridges do no multicast snooping: no router
solicitation, DAD, MLD or IGMP frame crosses the overlay, so the tests can count every frame a
guest gets. The guests (icmpecho answers any ARP request and
ICMP echo request, whatever the address; rxonly counts) run outside the namespaces: a vhost-user
socket is a file.

Addresses are private to the test's namespaces (none is in the host's namespace); the namespaces'
names carry this process's id.
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

from riovtest import TESTPMD, Guest, Riovctl, Riovd, Skip, TestFailure, check, log, main, tmpdir

TAG = os.getpid() % 100000
NODE = "rv-node%d" % TAG
LINUX = "rv-linux%d" % TAG
UPLINK_IF = "u0"           # riovd's end of the underlay veth, in NODE
LINUX_IF = "l0"            # the Linux node's end, in LINUX
TAP = "up0"                # the uplink's name, and its TAP's in NODE
NODE_IP, LINUX_IP = "10.0.0.1", "10.0.0.2"
VXLAN_PORT = 4789
NET_MTU = 1450             # the underlay's 1500 less the 50 bytes of outer headers
MAC_G1 = "02:00:00:00:00:0c"
MAC_G2 = "02:00:00:00:00:0d"
TCP_PORT = 7777
TCP_BYTES = 256 * 1024


def sh(*args, check_rc=True, timeout=60, input=None):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, input=input)
    if check_rc and r.returncode != 0:
        raise TestFailure("%s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()[-300:]))
    return r


def ns(netns, *args, **kw):
    """Run a command in network namespace netns."""
    return sh("ip", "netns", "exec", netns, *args, **kw)


def need(testpmd=False, tools=("ip", "sysctl", "ethtool")):
    """Skip (exit 77) when a tool the test cannot do without is not installed."""
    missing = [t for t in tools if shutil.which(t) is None]
    if testpmd and not os.access(TESTPMD, os.X_OK):
        missing.append("dpdk-testpmd")
    if missing:
        raise Skip("not installed: " + ", ".join(missing))


def poll(get, pred, timeout, what, interval=0.2, must=True):
    """get() until pred(value) holds (the value is returned) or timeout seconds have passed: then a
    failure showing the last value, or with must=False that value (the caller's checks say what
    is missing)."""
    end = time.time() + timeout
    while True:
        v = get()
        if pred(v):
            return v
        if time.time() > end:
            if not must:
                return v
            raise TestFailure("timed out after %d s waiting for %s (last: %s)" % (timeout, what, v))
        time.sleep(interval)


class Fabric:
    """The namespaces of one test: NODE and LINUX joined by the underlay veth, and for each VNI
    the Linux host gets (add_vni) a vxlan device and a bridge in LINUX with an endpoint namespace
    behind it. stop() deletes them all (riovd must have exited: a namespace lives on while a
    process is in it)."""

    def __init__(self):
        self.namespaces = []

    def _add_ns(self, name):
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        ns(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        ns(name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def start(self):
        self._add_ns(NODE)
        self._add_ns(LINUX)
        sh("ip", "-n", NODE, "link", "add", UPLINK_IF, "type", "veth", "peer", "name", LINUX_IF, "netns", LINUX)
        # riovd's end: the kernel keeps off it (see the top of this file)
        ns(NODE, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % UPLINK_IF)
        ns(NODE, "sysctl", "-qw", "net.ipv4.conf.%s.arp_ignore=8" % UPLINK_IF)
        ns(NODE, "sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=1" % UPLINK_IF)
        sh("ip", "-n", NODE, "link", "set", UPLINK_IF, "up")
        sh("ip", "-n", LINUX, "link", "set", LINUX_IF, "up")
        sh("ip", "-n", LINUX, "addr", "add", LINUX_IP + "/24", "dev", LINUX_IF)
        # what a NIC would deliver: full checksums, no segments larger than the MTU (a veth
        # otherwise passes the kernel's partial checksums on, which af_packet does not complete)
        ns(LINUX, "ethtool", "-K", LINUX_IF, "tx", "off", "tso", "off", "gso", "off")
        return self

    def add_vni(self, vni, ep_ip):
        """vxlan<vni> (learning, flood list: the riov node) and br<vni> in LINUX, and an endpoint
        namespace with ep_ip/24 (MTU 1450) on the bridge. Returns the endpoint's namespace."""
        ep = "rv-ep%d-%d" % (vni, TAG)
        vx, br, port = "vxlan%d" % vni, "br%d" % vni, "e%d" % vni
        self._add_ns(ep)
        sh("ip", "-n", LINUX, "link", "add", vx, "type", "vxlan", "id", str(vni), "local", LINUX_IP,
           "dstport", str(VXLAN_PORT), "dev", LINUX_IF)
        ns(LINUX, "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", vx, "dst", NODE_IP)
        # no multicast snooping: a snooping bridge joins 224.0.0.106 and floods its IGMP reports
        # across the overlay (a guest would count them)
        sh("ip", "-n", LINUX, "link", "add", br, "type", "bridge", "mcast_snooping", "0")
        sh("ip", "-n", LINUX, "link", "set", vx, "master", br)
        sh("ip", "-n", LINUX, "link", "add", port, "mtu", str(NET_MTU), "type", "veth", "peer", "name", "eth0",
           "netns", ep)
        sh("ip", "-n", LINUX, "link", "set", port, "master", br)
        for dev in (vx, br, port):
            sh("ip", "-n", LINUX, "link", "set", dev, "up")
        sh("ip", "-n", ep, "link", "set", "eth0", "mtu", str(NET_MTU), "up")
        sh("ip", "-n", ep, "addr", "add", ep_ip + "/24", "dev", "eth0")
        return ep

    def stop(self):
        for name in reversed(self.namespaces):
            sh("ip", "netns", "del", name, check_rc=False)
        self.namespaces = []


def link_mac(netns, ifname):
    return json.loads(sh("ip", "-n", netns, "-j", "link", "show", "dev", ifname).stdout)[0]["address"].lower()


def link_rx_packets(netns, ifname):
    j = json.loads(sh("ip", "-n", netns, "-s", "-j", "link", "show", "dev", ifname).stdout)[0]
    return int(j["stats64"]["rx"]["packets"])


def tap_ready():
    """The uplink's TAP in NODE is up with the node's address (None while it is not)."""
    r = sh("ip", "-n", NODE, "-j", "-4", "addr", "show", "dev", TAP, check_rc=False)
    if r.returncode != 0 or not r.stdout.strip():
        return None
    j = json.loads(r.stdout)
    if not j or "UP" not in j[0].get("flags", []):
        return None
    return any(a.get("local") == NODE_IP and a.get("prefixlen") == 24 for a in j[0].get("addr_info", []))


def ping(netns, ip, count=5, extra=()):
    r = ns(netns, "ping", "-c", str(count), "-i", "0.2", "-W", "2", *extra, ip, check_rc=False, timeout=60)
    lines = r.stdout.strip().splitlines()
    log("  ping %s from %s: %s" % (ip, netns, lines[-2] if len(lines) >= 2 else r.stderr.strip()))
    return r


def all_replied(r):
    """Every echo request answered, once."""
    return r.returncode == 0 and " 0% packet loss" in r.stdout and "duplicates" not in r.stdout


def stop_riovd(d):
    """SIGTERM to riovd, if it runs; its exit status. (Riovd.stop() parses the final counters as
    well: these tests read riovd's counters over the API instead.)"""
    if d is None or d.proc is None:
        return None
    d.proc.send_signal(signal.SIGTERM)
    try:
        rc = d.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        d.proc.kill()
        d.proc.wait()
        rc = None
    d.proc = None
    return rc


def port_stats(ctl, name):
    return ctl.json("port", "stats", name)["ports"][0]


def drops_of(st):
    return {x["cause"]: int(x["packets"]) for x in st.get("drops", [])}


def fabric_drops(st):
    """The causes of frames from the underlay that riovd would not decapsulate."""
    return {k: v for k, v in drops_of(st).items() if k.startswith("vxlan_") or k == "unknown_vtep"}


def net_info(ctl, name):
    return next(n for n in ctl.json("net", "list")["networks"] if n["spec"]["name"] == name)


def vteps(ctl, net):
    """`riovctl net vtep list NET --json`: the VtepInfo entries, from a list of NetworkInfo
    (networks), one NetworkInfo (network) or the entries themselves (vteps)."""
    ans = ctl.json("net", "vtep", "list", net)
    infos = list(ans.get("networks") or [])
    if ans.get("network"):
        infos.append(ans["network"])
    out = list(ans.get("vteps") or [])
    for n in infos:
        if (n.get("spec") or {}).get("name", net) == net:
            out += n.get("vteps") or []
    return out


def vtep(ctl, net, ip):
    return next((v for v in vteps(ctl, net) if v.get("address") == ip), None)


def node_fabric(d, nets):
    """Give riovd d (running in NODE) uplink up0 (10.0.0.1/24 on u0) and, for each (name, vni) of
    nets, a network of MTU 1450 with the Linux node as its remote VTEP. Returns a riovctl."""
    ctl = Riovctl(os.path.join(d.tmp, "riovd.sock"))
    ctl.ok("port", "add", "uplink", TAP, "--devargs", "net_af_packet0,iface=%s" % UPLINK_IF,
           "--address", NODE_IP + "/24")
    poll(tap_ready, bool, 10, "the uplink's TAP %s up with %s/24 in %s" % (TAP, NODE_IP, NODE))
    for name, vni in nets:
        ctl.ok("net", "add", name, "--vni", str(vni), "--mtu", str(NET_MTU))
        ctl.ok("net", "vtep", "add", name, LINUX_IP)
    return ctl


def underlay_up(ctl, nets):
    """rv-node's kernel pings the Linux node through the TAP (ARP and ICMP both ways through
    riovd); then each network's VTEP 10.0.0.2 has its next hop from the kernel: out of up0, to
    the Linux veth's MAC."""
    r = ping(NODE, LINUX_IP)
    check(all_replied(r), "rv-node's kernel pinged %s through the TAP %s, every echo answered once" % (LINUX_IP, TAP))
    mac = link_mac(LINUX, LINUX_IF)
    for name in nets:
        v = poll(lambda: vtep(ctl, name, LINUX_IP), lambda v: v is not None and v.get("resolved") is True, 15,
                 "VTEP %s of %s resolved" % (LINUX_IP, name))
        log("  vtep: %s" % v)
        check(v.get("uplink") == TAP and str(v.get("next_hop_mac", "")).lower() == mac and
              v.get("port") == "%s@%s" % (name, LINUX_IP),
              "%s's VTEP %s (port %s@%s) resolved out of %s to the Linux veth's MAC %s" %
              (name, LINUX_IP, name, LINUX_IP, TAP, mac))


def test_linux_vxlan_pings_guest():
    """A Linux endpoint behind the kernel's vxlan100 pings a guest on riov network blue (VNI 100):
    ARP floods across the overlay both ways, each side learns the other's MAC."""
    need(testpmd=True, tools=("ip", "sysctl", "ethtool", "bridge", "ping"))
    fab = Fabric()
    d = None
    try:
        fab.start()
        ep = fab.add_vni(100, "192.168.100.2")
        tmp = tmpdir("vxlan")
        d = Riovd(tmp, "", netns=NODE)   # named before it starts: finally stops it whatever happens
        d.start()
        ctl = node_fabric(d, [("blue", 100)])
        ctl.ok("port", "add", "vhost", "vm1", "--net", "blue", "--socket", "vm1.sock")
        g = Guest("G", d.socket("vm1"), "icmpecho", mac=MAC_G1).start(tmp)
        underlay_up(ctl, ["blue"])

        r = ping(ep, "192.168.100.1")
        check(all_replied(r), "the Linux endpoint pinged the guest across VXLAN, every echo answered once")
        vp = port_stats(ctl, "blue@" + LINUX_IP)
        up = port_stats(ctl, TAP)
        log("  riovd blue@%s: %s" % (LINUX_IP, {k: vp.get(k) for k in ("rx_packets", "tx_packets", "drops")}))
        log("  riovd %s: %s" % (TAP, {k: up.get(k) for k in ("rx_packets", "tx_packets", "drops")}))
        check(int(vp["tx_packets"]) > 0 and int(vp["rx_packets"]) > 0,
              "VTEP port blue@%s encapsulated (%s) and decapsulated (%s) frames" %
              (LINUX_IP, vp["tx_packets"], vp["rx_packets"]))
        check(fabric_drops(up) == {}, "the uplink dropped no VXLAN frame (%s)" % fabric_drops(up))
        fdb = ns(LINUX, "bridge", "fdb", "show", "dev", "vxlan100").stdout
        log("  Linux vxlan100 fdb:\n    " + "\n    ".join(fdb.strip().splitlines()))
        check(any(l.lower().startswith(MAC_G1) and ("dst %s " % NODE_IP) in l + " " for l in fdb.splitlines()),
              "the Linux vxlan100 learned the guest's MAC %s behind %s" % (MAC_G1, NODE_IP))
        info = net_info(ctl, "blue")
        check(int(info.get("macs", 0)) >= 2, "riovd learned the guest's and the endpoint's MACs on blue (%s)" %
              info.get("macs"))
        sg = g.stop()
        log("  guest %s" % sg)
        check(sg["rx"] >= 6, "the guest received the ARP request and the 5 echo requests (%d)" % sg["rx"])
        check(stop_riovd(d) == 0, "riovd stopped cleanly")
    finally:
        stop_riovd(d)
        fab.stop()


# A TCP echo server on the node's address (run in NODE) and its client (run in LINUX)
ECHO_SERVER = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(60)
print("listening", flush=True)
c, peer = s.accept()
c.settimeout(30)
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    c.sendall(b)
    n += len(b)
c.close()
print("echoed %d bytes to %s" % (n, peer[0]), flush=True)
'''

ECHO_CLIENT = r'''
import socket, sys
host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = bytes((i * 7 + 3) % 251 for i in range(total))
c = socket.create_connection((host, port), timeout=30)
got = bytearray()
for off in range(0, total, 16384):
    chunk = data[off:off + 16384]
    c.sendall(chunk)
    while len(got) < off + len(chunk):
        b = c.recv(65536)
        if not b:
            sys.exit("the connection closed after %d bytes" % len(got))
        got += b
c.shutdown(socket.SHUT_WR)
eof = c.recv(1) == b""
print("sent %d, received %d, same %s, end %s" % (total, len(got), bytes(got) == data, eof), flush=True)
sys.exit(0 if bytes(got) == data and eof else 1)
'''


def test_uplink_tap_tcp():
    """The node answers TCP on its address: a connection from the Linux node reaches a server in
    rv-node through the uplink and the TAP, and 256 KiB echo back."""
    need()
    fab = Fabric()
    d = server = None
    try:
        fab.start()
        tmp = tmpdir("vxlan-tcp")
        d = Riovd(tmp, "", netns=NODE)   # named before it starts: finally stops it whatever happens
        d.start()
        ctl = node_fabric(d, [])
        server = subprocess.Popen(["ip", "netns", "exec", NODE, sys.executable, "-c", ECHO_SERVER, NODE_IP,
                                   str(TCP_PORT)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        first = server.stdout.readline().strip()
        check(first == "listening", "a TCP server listens on %s:%d in rv-node (%s)" % (NODE_IP, TCP_PORT, first))
        r = ns(LINUX, sys.executable, "-c", ECHO_CLIENT, NODE_IP, str(TCP_PORT), str(TCP_BYTES), check_rc=False,
               timeout=120)
        log("  client: %s" % (r.stdout.strip() or r.stderr.strip()[-300:]))
        if r.returncode != 0:
            server.kill()
        out = server.communicate(timeout=60)[0].strip()
        log("  server: %s" % out)
        check(r.returncode == 0, "the Linux node's %d bytes came back whole over TCP" % TCP_BYTES)
        check(out == "echoed %d bytes to %s" % (TCP_BYTES, LINUX_IP),
              "the server echoed them to %s" % LINUX_IP)
        up = port_stats(ctl, TAP)
        log("  riovd %s: %s" % (TAP, {k: up.get(k) for k in ("rx_packets", "tx_packets", "drops")}))
        check(int(up["rx_packets"]) > TCP_BYTES // 1500 and int(up["tx_packets"]) > TCP_BYTES // 1500,
              "the segments crossed the uplink both ways (rx %s, tx %s)" % (up["rx_packets"], up["tx_packets"]))
        check(fabric_drops(up) == {}, "nothing was taken for VXLAN (%s)" % fabric_drops(up))
        check(stop_riovd(d) == 0, "riovd stopped cleanly")
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        stop_riovd(d)
        fab.stop()


# 10 UDP datagrams to a subnet's broadcast address (dst MAC ff:ff:ff:ff:ff:ff, no ARP; icmpecho
# answers none: nothing comes back to muddle the counts)
UDP_BROADCAST = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
for i in range(int(sys.argv[2])):
    s.sendto(b"riov VNI isolation %d" % i, (sys.argv[1], 9))
'''


def test_vnis_isolated():
    """Networks blue (VNI 100) and red (VNI 200) on riov, vxlan100 and vxlan200 in separate
    bridges on Linux: what VNI 100's endpoint sends (unicast pings, ARP and broadcast datagrams) reaches
    blue's guest only, and VNI 200's traffic red's only."""
    need(testpmd=True, tools=("ip", "sysctl", "ethtool", "bridge", "ping"))
    fab = Fabric()
    d = None
    try:
        fab.start()
        ep1 = fab.add_vni(100, "192.168.100.2")
        ep2 = fab.add_vni(200, "192.168.200.2")
        tmp = tmpdir("vxlan-iso")
        d = Riovd(tmp, "", netns=NODE)   # named before it starts: finally stops it whatever happens
        d.start()
        ctl = node_fabric(d, [("blue", 100), ("red", 200)])
        ctl.ok("port", "add", "vhost", "vm1", "--net", "blue", "--socket", "vm1.sock")
        ctl.ok("port", "add", "vhost", "vm2", "--net", "red", "--socket", "vm2.sock")
        g1 = Guest("G1", d.socket("vm1"), "icmpecho", mac=MAC_G1).start(tmp)
        g2 = Guest("G2", d.socket("vm2"), "icmpecho", mac=MAC_G2).start(tmp)
        underlay_up(ctl, ["blue", "red"])

        r = ping(ep1, "192.168.100.1")
        check(all_replied(r), "VNI 100's endpoint pinged blue's guest")
        ns(ep1, sys.executable, "-c", UDP_BROADCAST, "192.168.100.255", "10")   # flooded; no answer
        time.sleep(1)   # anything still under way lands
        c1 = port_stats(ctl, "vm1")
        c2 = port_stats(ctl, "vm2")
        red_vtep = port_stats(ctl, "red@" + LINUX_IP)
        log("  riovd vm1 tx %s, vm2 tx %s, red@%s rx %s tx %s" % (c1["tx_packets"], c2["tx_packets"], LINUX_IP,
                                                               red_vtep["rx_packets"], red_vtep["tx_packets"]))
        check(int(c1["tx_packets"]) >= 16, "blue's guest got the ARP request, 5 echo requests and 10 broadcast "
              "datagrams (%s)" % c1["tx_packets"])
        check(int(c2["tx_packets"]) == 0 and int(c2["rx_packets"]) == 0, "red's guest got nothing and sent nothing")
        check(int(red_vtep["rx_packets"]) == 0 and int(red_vtep["tx_packets"]) == 0,
              "nothing was decapsulated into red or encapsulated with VNI 200")
        check(link_rx_packets(ep2, "eth0") == 0, "VNI 200's endpoint received nothing")

        # and the other way: VNI 200 works, blue sees none of it
        blue_before = int(c1["tx_packets"])
        ep1_before = link_rx_packets(ep1, "eth0")
        r = ping(ep2, "192.168.200.1")
        check(all_replied(r), "VNI 200's endpoint pinged red's guest")
        time.sleep(1)
        c1 = port_stats(ctl, "vm1")
        c2 = port_stats(ctl, "vm2")
        check(int(c2["tx_packets"]) >= 6, "red's guest got the ARP request and 5 echo requests (%s)" %
              c2["tx_packets"])
        check(int(c1["tx_packets"]) == blue_before, "blue's guest got none of it (%s, %d before)" %
              (c1["tx_packets"], blue_before))
        check(link_rx_packets(ep1, "eth0") == ep1_before, "VNI 100's endpoint received none of it")
        up = port_stats(ctl, TAP)
        check(fabric_drops(up) == {}, "the uplink dropped no VXLAN frame (%s)" % fabric_drops(up))
        s1, s2 = g1.stop(), g2.stop()
        log("  guest G1 %s, G2 %s" % (s1, s2))
        check(stop_riovd(d) == 0, "riovd stopped cleanly")
    finally:
        stop_riovd(d)
        fab.stop()


# ---- test_malformed_vxlan_counted: frames made here, sent on the underlay from LINUX

RAW_SENDER = r'''
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
n = 0
for line in sys.stdin:
    if line.strip():
        s.send(bytes.fromhex(line.strip()))
        n += 1
print("sent %d" % n, flush=True)
'''


def send_raw(frames):
    """Send each frame as it is out of the Linux node's underlay veth (an AF_PACKET socket)."""
    r = ns(LINUX, sys.executable, "-c", RAW_SENDER, LINUX_IF, input="".join(f.hex() + "\n" for f in frames))
    check(r.stdout.strip() == "sent %d" % len(frames), "%d frames sent on %s" % (len(frames), LINUX_IF))


def inet_csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def eth_hdr(dst, src, ethertype=0x0800):
    return bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) + struct.pack("!H", ethertype)


def ipv4(src, dst, payload, frag=0x4000, options=b"", good_csum=True):
    """An IPv4 header (UDP, TTL 64, DF unless frag says otherwise) with its checksum, and payload."""
    ihl = 5 + len(options) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(payload), 0, frag, 64, 17, 0,
                    socket.inet_aton(src), socket.inet_aton(dst)) + options
    c = inet_csum(h)
    if not good_csum:
        c ^= 0x5a5a
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def udp(payload, length=None):
    return struct.pack("!HHHH", 49300, VXLAN_PORT, 8 + len(payload) if length is None else length, 0) + payload


def vxlan_hdr(vni, flags=0x08, last=0):
    """flags: the first byte (0x08: the I flag alone); last: the reserved byte after the VNI."""
    return struct.pack("!B3xI", flags, vni << 8 | last)


def inner_frame(src_mac):
    """A broadcast frame of 60 bytes (local experimental EtherType): flooded to every guest."""
    return eth_hdr("ff:ff:ff:ff:ff:ff", src_mac, 0x88b5) + b"riov malformed-vxlan test".ljust(46, b"\0")


def test_malformed_vxlan_counted():
    """VXLAN-like frames riovd must not decapsulate, sent to the uplink's MAC from the Linux node
    (which has no vxlan device here: nothing else crosses the overlay): each dropped and counted on
    up0 under its cause, none delivered to blue's guest; then one good frame is."""
    need(testpmd=True)
    fab = Fabric()
    d = None
    try:
        fab.start()
        tmp = tmpdir("vxlan-bad")
        d = Riovd(tmp, "", netns=NODE)   # named before it starts: finally stops it whatever happens
        d.start()
        ctl = node_fabric(d, [("blue", 100)])
        ctl.ok("port", "add", "vhost", "vm1", "--net", "blue", "--socket", "vm1.sock")
        g = Guest("G", d.socket("vm1"), "rxonly", mac=MAC_G1).start(tmp)
        up_mac, src_mac = link_mac(NODE, TAP), link_mac(LINUX, LINUX_IF)   # the TAP has the uplink's MAC
        inner = inner_frame("02:00:00:00:77:01")

        def frame(src=LINUX_IP, dst=NODE_IP, vni=100, flags=0x08, last=0, frag=0x4000, options=b"",
                  good_csum=True, udp_len=None):
            vx = vxlan_hdr(vni, flags, last) + inner
            return eth_hdr(up_mac, src_mac) + ipv4(src, dst, udp(vx, udp_len), frag, options, good_csum)

        bad = [
            ("the I flag clear", frame(flags=0x00), "vxlan_flags"),
            ("another flag bit set", frame(flags=0x0c), "vxlan_reserved"),
            ("the reserved byte after the VNI set", frame(last=0x01), "vxlan_reserved"),
            ("VNI 999, no network's", frame(vni=999), "vxlan_unknown_vni"),
            ("ending inside its UDP header",
             eth_hdr(up_mac, src_mac) + ipv4(LINUX_IP, NODE_IP, struct.pack("!HHH", 49300, VXLAN_PORT, 8)),
             "vxlan_truncated"),
            # IPv4 and UDP lengths agree with the frame: the packet is too short for VXLAN
            ("its VXLAN header cut short",
             eth_hdr(up_mac, src_mac) + ipv4(LINUX_IP, NODE_IP, udp(vxlan_hdr(100)[:4])), "vxlan_ip_length"),
            # DPDK's net_af_packet joins its socket to a fanout group with PACKET_FANOUT_FLAG_DEFRAG:
            # the kernel holds a lone fragment for reassembly and riovd never sees it (a NIC delivers
            # it, and tests/unit/dataplane/test_vxlan.c counts it as "fragment"); None: not counted
            ("an IPv4 fragment (MF), held by the kernel", frame(frag=0x2000), None),
            ("IPv4 options (IHL 6)", frame(options=b"\x01\x01\x01\x01"), "vxlan_ip_options"),
            ("to 10.0.0.9 with the uplink's MAC", frame(dst="10.0.0.9"), "vxlan_not_local"),
            ("a wrong IPv4 header checksum", frame(good_csum=False), "vxlan_ip_checksum"),
            ("a UDP length longer than the packet", frame(udp_len=8 + 8 + len(inner) + 2), "vxlan_udp_length"),
            ("VNI 100 from 10.0.0.77, not a VTEP of blue", frame(src="10.0.0.77"), "unknown_vtep"),
        ]
        want = {}
        for _, _, cause in bad:
            if cause:
                want[cause] = want.get(cause, 0) + 1
        for what, f, cause in bad:
            log("  %-45s %3d bytes -> %s" % (what, len(f), cause))
        send_raw([f for _, f, _ in bad])
        up = poll(lambda: port_stats(ctl, TAP), lambda st: sum(fabric_drops(st).values()) >= sum(want.values()), 15,
                  "up0 counting every malformed frame", must=False)
        log("  riovd %s drops: %s" % (TAP, drops_of(up)))
        got = fabric_drops(up)
        for what, _, cause in bad:
            if cause is None:
                continue
            check(got.get(cause, 0) == want[cause], "%s: counted as %s (%d of %d)" %
                  (what, cause, got.get(cause, 0), want[cause]))
        check(set(got) == set(want), "no other cause counted (%s)" % got)
        vm = port_stats(ctl, "vm1")
        vt = port_stats(ctl, "blue@" + LINUX_IP)
        check(int(vm["tx_packets"]) == 0 and int(vm["rx_packets"]) == 0, "nothing reached blue's guest")
        check(int(vt["rx_packets"]) == 0, "nothing was decapsulated through VTEP blue@%s" % LINUX_IP)

        # the same frame made right is taken: the bad ones were refused for what was wrong in them
        send_raw([frame()])
        vm = poll(lambda: port_stats(ctl, "vm1"), lambda st: int(st["tx_packets"]) >= 1, 15,
                  "the good frame delivered to blue's guest")
        time.sleep(0.5)
        vm = port_stats(ctl, "vm1")
        vt = port_stats(ctl, "blue@" + LINUX_IP)
        check(int(vm["tx_packets"]) == 1 and int(vt["rx_packets"]) == 1,
              "a well-formed frame from VTEP %s was decapsulated (%s) and delivered to the guest (%s)" %
              (LINUX_IP, vt["rx_packets"], vm["tx_packets"]))
        check(fabric_drops(port_stats(ctl, TAP)) == got, "the uplink counted no more drops")
        sg = g.stop()
        log("  guest %s" % sg)
        check(sg["rx"] == 1, "the guest received the good frame alone (%d)" % sg["rx"])
        check(stop_riovd(d) == 0, "riovd stopped cleanly")
    finally:
        stop_riovd(d)
        fab.stop()


# ---- test_two_riov_nodes: riovd to riovd, both ends DPDK guests

NODE_A = "rv-a%d" % TAG
NODE_B = "rv-b%d" % TAG
A_IP, B_IP = "10.0.0.1", "10.0.0.2"
MAC_A1, MAC_B1, MAC_B2 = "02:00:00:00:0a:01", "02:00:00:00:0b:01", "02:00:00:00:0b:02"
# the af_packet ring of each uplink: room for a few milliseconds of frames while the other riovd,
# busy-polling on the same CPU, has it
UPLINK_FRAMES = 8192


def two_nodes():
    """NODE_A and NODE_B joined by veth u0 <-> u0, the kernel kept off both ends."""
    for n in (NODE_A, NODE_B):
        sh("ip", "netns", "add", n)
        ns(n, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        ns(n, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        sh("ip", "-n", n, "link", "set", "lo", "up")
    sh("ip", "-n", NODE_A, "link", "add", UPLINK_IF, "type", "veth", "peer", "name", UPLINK_IF, "netns", NODE_B)
    for n in (NODE_A, NODE_B):
        ns(n, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % UPLINK_IF)
        ns(n, "sysctl", "-qw", "net.ipv4.conf.%s.arp_ignore=8" % UPLINK_IF)
        ns(n, "sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=1" % UPLINK_IF)
        sh("ip", "-n", n, "link", "set", UPLINK_IF, "up")


def riov_node(d, my_ip, peer_ip, nets):
    """Uplink up0 (my_ip/24 on u0) on riovd d and, for each (name, vni), a network of MTU 1450
    whose remote VTEP is peer_ip. Returns a riovctl."""
    ctl = Riovctl(os.path.join(d.tmp, "riovd.sock"))
    ctl.ok("port", "add", "uplink", TAP, "--devargs",
           "net_af_packet0,iface=%s,framecnt=%d" % (UPLINK_IF, UPLINK_FRAMES), "--address", my_ip + "/24")
    for name, vni in nets:
        ctl.ok("net", "add", name, "--vni", str(vni), "--mtu", str(NET_MTU))
        ctl.ok("net", "vtep", "add", name, peer_ip)
    return ctl


def socket_drops(netns):
    """Frames the kernel dropped at the packet sockets in netns (their rings were full): ss's
    skmem d field. None when ss cannot tell."""
    r = ns(netns, "ss", "-0", "-a", "-m", "-n", check_rc=False)
    total, seen = 0, False
    for m in re.finditer(r"skmem:\(([^)]*)\)", r.stdout):
        for f in m.group(1).split(","):
            if f.startswith("d") and f[1:].isdigit():
                total += int(f[1:])
                seen = True
    return total if seen else None


def quiet(ctl, port, key):
    """Wait until port's counter key stops moving (nothing left under way); its value."""
    last = [None]

    def get():
        v = int(port_stats(ctl, port)[key])
        same = v == last[0]
        last[0] = v
        return same
    poll(get, bool, 30, "%s's %s to settle" % (port, key), interval=0.5)
    return last[0]


def test_two_riov_nodes():
    """Two riov nodes, each riovd in its own namespace with its uplink on one end of a veth: the
    nodes' kernels ping each other through both TAPs, then a txonly guest on node A's blue (VNI
    100) sends 60-byte and 1464-byte frames (the largest a 1500-byte underlay carries inside) to
    node B's blue, where an rxonly guest counts them. The guest's, both riovds' (encapsulated on
    A, decapsulated on B) and the receiving guest's counts agree frame for frame, less what each
    counted as dropped and what the kernel dropped at B's af_packet ring (ss's socket drops); red
    (VNI 200) on B gets none of it."""
    need(testpmd=True, tools=("ip", "sysctl", "ss", "ping"))
    ds = []
    try:
        two_nodes()
        tmp = tmpdir("vxlan-2")
        ta, tb = os.path.join(tmp, "a"), os.path.join(tmp, "b")
        os.makedirs(ta)
        os.makedirs(tb)
        da = Riovd(ta, "", netns=NODE_A)
        ds.append(da)
        da.start()
        db = Riovd(tb, "", netns=NODE_B)
        ds.append(db)
        db.start()
        nets = [("blue", 100), ("red", 200)]
        ca = riov_node(da, A_IP, B_IP, nets)
        cb = riov_node(db, B_IP, A_IP, nets)
        ca.ok("port", "add", "vhost", "vm1", "--net", "blue", "--socket", "vm1.sock")
        cb.ok("port", "add", "vhost", "vm1", "--net", "blue", "--socket", "vm1.sock")
        cb.ok("port", "add", "vhost", "vm2", "--net", "red", "--socket", "vm2.sock")

        # the underlay: each node's kernel reaches the other's through riovd's TAPs and uplinks
        r = ns(NODE_A, "ping", "-c", "3", "-i", "0.2", "-W", "2", B_IP, check_rc=False, timeout=60)
        log("  ping %s from node A: %s" % (B_IP, r.stdout.strip().splitlines()[-2:]))
        check(all_replied(r), "node A's kernel pinged node B's (%s) through both riovds' TAPs" % B_IP)
        for c, name, peer in ((ca, "A", B_IP), (cb, "B", A_IP)):
            for net, _ in nets:
                poll(lambda: vtep(c, net, peer), lambda v: v is not None and v.get("resolved") is True, 15,
                     "node %s's VTEP %s of %s resolved" % (name, peer, net))
        log("  every VTEP resolved on both nodes")

        vt_a, vt_b, red_b = "blue@" + B_IP, "blue@" + A_IP, "red@" + A_IP
        for pktlen in (60, NET_MTU + 14):
            before = {("A", p): port_stats(ca, p) for p in ("vm1", vt_a, TAP)}
            before.update({("B", p): port_stats(cb, p) for p in ("vm1", "vm2", vt_b, red_b, TAP)})
            drops_b0 = socket_drops(NODE_B)
            gb = Guest("B1", db.socket("vm1"), "rxonly", mac=MAC_B1).start(tb)
            gr = Guest("B2", db.socket("vm2"), "rxonly", mac=MAC_B2).start(tb)
            ga = Guest("A1", da.socket("vm1"), "txonly", mac=MAC_A1, peer=MAC_B1, pktlen=pktlen).start(ta)
            time.sleep(3)
            sa = ga.stop()
            quiet(ca, vt_a, "tx_packets")
            quiet(cb, "vm1", "tx_packets")
            drops_b1 = socket_drops(NODE_B)
            sb, sr = gb.stop(), gr.stop()
            after = {("A", p): port_stats(ca, p) for p in ("vm1", vt_a, TAP)}
            after.update({("B", p): port_stats(cb, p) for p in ("vm1", "vm2", vt_b, red_b, TAP)})

            def delta(node, port, key):
                return int(after[(node, port)][key]) - int(before[(node, port)][key])

            def ddrops(node, port):
                a, b = drops_of(after[(node, port)]), drops_of(before[(node, port)])
                return {k: v - b.get(k, 0) for k, v in a.items() if v - b.get(k, 0)}

            a_rx, a_enc = delta("A", "vm1", "rx_packets"), delta("A", vt_a, "tx_packets")
            b_dec, b_out = delta("B", vt_b, "rx_packets"), delta("B", "vm1", "tx_packets")
            a_drops, b_drops = ddrops("A", vt_a), ddrops("B", "vm1")
            lost = None if drops_b0 is None or drops_b1 is None else drops_b1 - drops_b0
            log("  %d B: guest A1 sent %d; riovd A took %d, encapsulated %d (dropped %s); kernel dropped %s at "
                "B's ring; riovd B decapsulated %d, delivered %d (dropped %s); guest B1 received %d; "
                "uplink drops A %s B %s" % (pktlen + 4, sa["tx"], a_rx, a_enc, a_drops, lost, b_dec, b_out,
                                            b_drops, sb["rx"], ddrops("A", TAP), ddrops("B", TAP)))
            check(sa["tx"] > 0 and 0 <= sa["tx"] - a_rx <= 1024,
                  "riovd A took what guest A1 sent but for what it left in its ring at close (%d of %d)" %
                  (a_rx, sa["tx"]))
            check(a_rx == a_enc + sum(a_drops.values()),
                  "every frame riovd A took was encapsulated to %s or counted as a drop" % B_IP)
            check(delta("A", vt_a, "tx_bytes") == a_enc * (pktlen + 50),
                  "riovd A's VTEP port counted %d-byte frames (the guest's and 50 of outer headers)" %
                  (pktlen + 50))
            check(lost is not None, "ss shows the drops of B's packet sockets")
            check(a_enc == b_dec + lost, "every frame riovd A encapsulated was decapsulated by riovd B "
                  "or dropped by the kernel at B's af_packet ring (%d = %d + %d)" % (a_enc, b_dec, lost))
            check(b_dec > 0, "riovd B decapsulated frames (%d)" % b_dec)
            check(b_dec == b_out + sum(b_drops.values()),
                  "every frame riovd B decapsulated was delivered to B1 or counted as a drop")
            check(sb["rx"] == b_out, "guest B1 received every frame riovd B delivered (%d)" % sb["rx"])
            check(fabric_drops(after[("A", TAP)]) == {} and fabric_drops(after[("B", TAP)]) == {},
                  "neither uplink dropped a VXLAN frame")
            check(sr["rx"] == 0 and delta("B", "vm2", "tx_packets") == 0 and
                  delta("B", red_b, "rx_packets") == 0,
                  "red (VNI 200) on node B got none of blue's frames (guest B2 received %d)" % sr["rx"])
        # a network whose MTU does not fit inside the underlay's: riovd says so when its VTEP resolves
        ca.ok("net", "add", "green", "--vni", "300", "--mtu", "1500")
        ca.ok("net", "vtep", "add", "green", B_IP)
        want = "network green: MTU 1500, but uplink %s carries 1450 bytes" % TAP
        poll(lambda: want in da.log_text(), bool, 15, "riovd A's warning about green's MTU")
        log("  riovd A: " + next(l for l in da.log_text().splitlines() if want in l).strip())
        for d in ds:
            check(stop_riovd(d) == 0, "riovd %s stopped cleanly" % d.netns)
    finally:
        for d in ds:
            stop_riovd(d)
        for n in (NODE_A, NODE_B):
            sh("ip", "netns", "del", n, check_rc=False)


def test_uplink_mtu_above_the_taps():
    """An uplink of MTU 1600 (net_null, which takes it) whose exception TAP cannot go that high
    (DPDK 22.11's net_tap stops at 1504): the uplink is made, its TAP gets the most it can take,
    and a network of MTU 1550 fits inside (1600 less 50): no MTU warning when its VTEP resolves."""
    need(tools=("ip", "sysctl"))
    d = None
    try:
        sh("ip", "netns", "add", NODE)
        sh("ip", "-n", NODE, "link", "set", "lo", "up")
        tmp = tmpdir("vxlan-mtu")
        d = Riovd(tmp, "", netns=NODE)
        d.start()
        ctl = Riovctl(os.path.join(d.tmp, "riovd.sock"))
        ctl.ok("port", "add", "uplink", TAP, "--devargs", "net_null0", "--mtu", "1600", "--address", NODE_IP + "/24")
        up = next(p for p in ctl.json("port", "list")["ports"] if p["spec"]["name"] == TAP)
        check(int(up["spec"].get("mtu", 0)) == 1600, "uplink %s has MTU 1600 (%s)" % (TAP, up["spec"].get("mtu")))
        tap_mtu = json.loads(sh("ip", "-n", NODE, "-j", "link", "show", "dev", TAP).stdout)[0]["mtu"]
        check(tap_mtu <= 1600, "its TAP took MTU %d (at most the uplink's)" % tap_mtu)
        m = re.search(r"its exception interface %s takes (\d+) at most" % TAP, d.log_text())
        check(m is not None and tap_mtu <= int(m.group(1)) < 1600,
              "riovd said in its log that the TAP takes %s at most" % (m.group(1) if m else "?"))
        ctl.ok("net", "add", "blue", "--vni", "100", "--mtu", "1550")
        ctl.ok("net", "vtep", "add", "blue", LINUX_IP)
        sh("ip", "-n", NODE, "neigh", "replace", LINUX_IP, "lladdr", "02:00:00:00:00:02", "dev", TAP, "nud", "permanent")
        poll(lambda: vtep(ctl, "blue", LINUX_IP), lambda v: v is not None and v.get("resolved") is True, 15,
             "VTEP %s of blue resolved" % LINUX_IP)
        check("network blue: MTU" not in d.log_text(), "no MTU warning for blue (1550 fits inside 1600)")
        check(stop_riovd(d) == 0, "riovd stopped cleanly")
    finally:
        stop_riovd(d)
        sh("ip", "netns", "del", NODE, check_rc=False)


if __name__ == "__main__":
    main([test_linux_vxlan_pings_guest, test_uplink_tap_tcp, test_vnis_isolated, test_malformed_vxlan_counted,
          test_two_riov_nodes, test_uplink_mtu_above_the_taps])
