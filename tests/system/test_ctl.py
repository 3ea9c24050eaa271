#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""riovd's control API driven through the real riovctl binary (build/tools/riovctl --connect unix:).

Every implemented object and verb, each error path (a clear message, a non-zero exit and the state
unchanged, checked with `net list` / `port list` --json afterwards), a port added at run time that
passes real guest traffic, domains created over the API (map, unmap, attach, probe) and their
interrupt settings, persistence across a clean restart and across kill -9 in the middle of a
stream of changes, a corrupt state file, and a real Prometheus scraping riovd's metrics endpoint.
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

from riovtest import (RIOVCTL, Guest, Riovctl, Riovd, Skip, TestFailure, _procs, check, log, main, make_certs,
                      restart, tls_listen_args, tls_port, tmpdir, wait_for)

# A vhost-user front-end in Python (Conn) and the hostile soak's cases, reused as they are
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
import hostile_vhost  # noqa: E402

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"
EXIT_RPC = 1


def ctl_for(d):
    return Riovctl(os.path.join(d.tmp, "riovd.sock"))


def nets(ctl):
    return sorted(n["spec"]["name"] for n in ctl.json("net", "list")["networks"])


def ports(ctl):
    return [(p["spec"]["name"], p["spec"]["net"], p["spec"]["type"]) for p in ctl.json("port", "list")["ports"]]


def refused(ctl, args, status, text, what):
    """riovctl ARGS must exit 1 with STATUS and TEXT on stderr and change nothing."""
    before = (nets(ctl), ports(ctl))
    r = ctl.run(*args)
    log("    riovctl %s -> %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    check(r.returncode == EXIT_RPC and status in r.stderr and text in r.stderr,
          "%s: exit 1, %s, '%s'" % (what, status, text))
    check((nets(ctl), ports(ctl)) == before, "%s: networks and ports unchanged" % what)


def test_networks():
    tmp = tmpdir("ctl")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n').start()
    ctl = ctl_for(d)
    info = ctl.json("node", "info")
    check(info["workers"] == 1 and info["health"] == "ok" and info["role"] == "admin",
          "node info: 1 worker, health ok, admin over the Unix socket")
    check(nets(ctl) == ["blue"], "the config file's network exists at first start")
    r = ctl.json("net", "add", "red")
    check(r["network"]["spec"]["name"] == "red" and r["network"]["spec"]["mtu"] == 1500,
          "net add answers with the new network (default MTU 1500)")
    check(nets(ctl) == ["blue", "red"], "net list shows it")
    check("red" in ctl.ok("net", "list"), "net list prints a table for people")
    refused(ctl, ["net", "add", "red"], "ALREADY_EXISTS", "network red already exists", "duplicate network")
    refused(ctl, ["net", "add", "bad/name"], "INVALID_ARGUMENT", "bad network name 'bad/name'", "bad name")
    refused(ctl, ["net", "add", "x" * 70], "INVALID_ARGUMENT", "bad network name", "name too long")
    refused(ctl, ["net", "add", "jumbo", "--mtu", "9001"], "INVALID_ARGUMENT", "MTU 9001 is outside 68-9000",
            "an MTU above 9000")
    refused(ctl, ["net", "add", "ov", "--vni", "16777216"], "INVALID_ARGUMENT", "VNI 16777216 is outside 1-16777215",
            "a VNI above 2^24-1")
    ctl.ok("net", "add", "ov", "--vni", "42", "--mtu", "1450")
    check(any(n["spec"]["name"] == "ov" and n["spec"].get("vni") == 42 for n in ctl.json("net", "list")["networks"]),
          "net add --vni: an overlay network")
    refused(ctl, ["net", "add", "ov2", "--vni", "42"], "ALREADY_EXISTS", "VNI 42 is network ov's",
            "a second network of VNI 42")
    refused(ctl, ["net", "vtep", "add", "red", "10.0.0.2"], "INVALID_ARGUMENT", "network red has no VNI",
            "a remote VTEP for a network without a VNI")
    ctl.ok("net", "delete", "ov")
    refused(ctl, ["net", "delete", "green"], "NOT_FOUND", "network green does not exist", "delete unknown")
    ctl.ok("port", "add", "vhost", "p1", "--net", "red", "--socket", "p1.sock")
    ctl.ok("port", "add", "vhost", "p2", "--net", "red", "--socket", "p2.sock")
    refused(ctl, ["net", "delete", "red"], "FAILED_PRECONDITION", "network red still has 2 ports (p1, p2)",
            "delete a network with ports")
    ctl.ok("port", "delete", "p1")
    ctl.ok("port", "delete", "p2")
    ctl.ok("net", "delete", "red")
    check(nets(ctl) == ["blue"], "net delete removes it")
    d.stop()


def test_ports():
    tmp = tmpdir("ctl")
    d = Riovd(tmp, 'networks = ( { name = "blue"; }, { name = "wire"; } );\n').start()
    ctl = ctl_for(d)
    r = ctl.json("port", "add", "vhost", "vm1", "--net", "blue", "--socket", "vm1.sock", "--queues", "2",
                 "--features-off", "mrg_rxbuf,in_order,packed", "--offloads", "off")
    p = r["port"]
    check(p["spec"]["socket_path"] == os.path.join(tmp, "vm1.sock"),
          "a relative socket path is served under socket_dir (%s)" % p["spec"]["socket_path"])
    check(os.path.exists(os.path.join(tmp, "vm1.sock")), "riovd listens on the vhost-user socket")
    check(p["spec"]["queues"] == 2 and
          p["spec"]["features_off"] == ["mrg_rxbuf", "in_order", "packed", "offloads"],
          "queues and withheld features (--offloads off: offloads) are kept")
    check(p["state"] == "waiting for guest" and p["domain_id"] >= 1, "state and domain id reported")
    check(p["feature_names"] == [] and p["queue_pairs"] == 0 and p["features"] == 0,
          "no guest yet: no negotiated features, no queue pairs")
    abs_sock = os.path.join(tmp, "abs-vm2.sock")
    ctl.ok("port", "add", "vhost", "vm2", "--net", "blue", "--socket", abs_sock)
    check(os.path.exists(abs_sock), "an absolute socket path is used as given")
    r = ctl.run("port", "add", "eth", "up0", "--net", "wire", "--devargs", "net_null0,no-rx=1")
    if r.returncode == 0:
        check(ports(ctl)[-1] == ("up0", "wire", "PORT_TYPE_ETH"), "an eth port (net_null) was added")
        check([x["spec"]["name"] for x in ctl.json("port", "list", "--net", "wire")["ports"]] == ["up0"],
              "port list --net filters by network")
        refused(ctl, ["domain", "show", "up0"], "INVALID_ARGUMENT", "up0 is an eth port",
                "domain of an eth port")
        ctl.ok("port", "delete", "up0")
    else:
        log("    (net_null PMD not usable here: %s)" % r.stderr.strip())
    refused(ctl, ["port", "add", "eth", "up1", "--net", "wire", "--devargs", "net_nosuchdriver0"],
            "INVALID_ARGUMENT", "driver 'net_nosuchdriver' is not allowed", "eth port with an unknown driver")
    pcap_out = os.path.join(tmp, "pcap-out")
    refused(ctl, ["port", "add", "eth", "up1", "--net", "wire", "--devargs", "net_pcap0,tx_pcap=" + pcap_out],
            "INVALID_ARGUMENT", "driver 'net_pcap' is not allowed", "eth port on a driver that writes files")
    check(not os.path.exists(pcap_out), "no file written through refused devargs")
    refused(ctl, ["port", "add", "eth", "up1", "--net", "wire", "--devargs", "net_af_packet0,iface=riovnosuch0"],
            "riovctl:", "cannot probe 'net_af_packet0,iface=riovnosuch0'", "eth port with unusable devargs")
    refused(ctl, ["port", "add", "vhost", "vm3", "--net", "blue", "--socket", "../escape.sock"],
            "INVALID_ARGUMENT", "socket path '../escape.sock' refused: '..' is not allowed", "socket path with ..")
    outside = "/tmp/riov-escape-%d.sock" % os.getpid()
    refused(ctl, ["port", "add", "vhost", "vm3", "--net", "blue", "--socket", outside, "--client"],
            "INVALID_ARGUMENT", "must be inside socket_dir", "absolute socket path outside socket_dir")
    check(not os.path.exists(os.path.join(os.path.dirname(tmp), "escape.sock")) and not os.path.exists(outside),
          "no socket created outside socket_dir")
    check(ports(ctl) == [("vm1", "blue", "PORT_TYPE_VHOST"), ("vm2", "blue", "PORT_TYPE_VHOST")],
          "port list shows both vhost ports in creation order")
    refused(ctl, ["port", "add", "vhost", "vm1", "--net", "blue", "--socket", "x.sock"], "ALREADY_EXISTS",
            "port vm1 already exists", "duplicate port")
    refused(ctl, ["port", "add", "vhost", "vm3", "--net", "nosuch", "--socket", "vm3.sock"], "NOT_FOUND",
            "network nosuch does not exist", "port on an unknown network")
    refused(ctl, ["port", "add", "vhost", "vm3", "--net", "blue", "--socket", "vm3.sock", "--features-off",
                  "bogus"], "INVALID_ARGUMENT", "unknown virtio feature 'bogus' (features_off takes mrg_rxbuf, "
            "in_order, event_idx, indirect, packed, offloads)", "unknown feature")
    refused(ctl, ["port", "add", "vhost", "vm3", "--net", "blue", "--socket", "vm1.sock"], "riovctl:",
            "vm1.sock", "socket path already served by another port")
    refused(ctl, ["port", "add", "vhost", "vm3", "--net", "blue", "--socket", "vm3.sock", "--queues", "99"],
            "INVALID_ARGUMENT", "at most 16 queue pairs", "too many queues")
    refused(ctl, ["port", "add", "vxlan", "vx0", "--net", "blue"], "UNIMPLEMENTED", "vxlan is not implemented",
            "vxlan port")
    refused(ctl, ["port", "add", "vhost", "bad name", "--net", "blue", "--socket", "b.sock"], "INVALID_ARGUMENT",
            "bad port name", "bad port name")
    refused(ctl, ["port", "delete", "vm9"], "NOT_FOUND", "port vm9 does not exist", "delete unknown port")
    refused(ctl, ["port", "list", "--net", "nosuch"], "NOT_FOUND", "network nosuch does not exist",
            "list ports of an unknown network")
    refused(ctl, ["port", "stats", "vm9"], "NOT_FOUND", "port vm9 does not exist", "stats of an unknown port")
    st = ctl.json("port", "stats", "vm1")["ports"]
    check(len(st) == 1 and st[0]["port"] == "vm1" and st[0]["net"] == "blue" and st[0]["rx_packets"] == 0,
          "port stats NAME gives that port's counters")
    check([(q["queue"], q["rx_running"], q["tx_running"], q["rx_packets"]) for q in st[0]["queues"]] ==
          [(0, False, False, 0), (1, False, False, 0)] and st[0]["drops"] == [],
          "port stats NAME: both queue pairs of a --queues 2 port, not running without a guest, no drops")
    check(len(ctl.json("port", "stats")["ports"]) == 2, "port stats without a name gives every port")
    ctl.ok("port", "delete", "vm2")
    check(not os.path.exists(abs_sock), "port delete closes the vhost-user socket")
    check(ports(ctl) == [("vm1", "blue", "PORT_TYPE_VHOST")], "port delete removes it")
    d.stop()


def test_other_verbs():
    tmp = tmpdir("ctl")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n'
                   'ports = ( { name = "vm1"; type = "vhost"; net = "blue"; socket = "vm1.sock"; } );\n').start()
    ctl = ctl_for(d)
    snap = ctl.json("metrics", "snapshot")["snapshot"]
    check(snap["timestamp_ns"] > 0 and [p["port"] for p in snap["ports"]] == ["vm1"],
          "metrics snapshot has a timestamp and the port's counters")
    check(len(snap["workers"]) == 1 and snap["workers"][0]["polls"] > 0 and
          snap["workers"][0]["busy_cycles"] + snap["workers"][0]["idle_cycles"] > 0,
          "metrics snapshot has the worker's loops and busy/idle cycles")
    check("RX_PACKETS" in ctl.ok("stats"), "riovctl stats prints the snapshot for people")
    r = ctl.run("stats", "--watch", "--interval", "200", "--count", "3")
    check(r.returncode == 0 and r.stdout.count("---") == 3, "stats --watch --count 3 prints three snapshots")
    r = ctl.run("--json", "metrics", "watch", "--interval", "100", "--count", "2")
    check(r.returncode == 0 and r.stdout.count('"snapshot"') == 2, "metrics watch streams snapshots (json)")
    f = ctl.json("faults")
    check(f["faults"] == [] and f["overflow"] is False, "faults: the log is empty")
    check(ctl.json("faults", "clear")["cleared"] == 0, "faults clear on an empty log clears nothing")
    refused(ctl, ["faults", "clear", "vm1"], "UNIMPLEMENTED", "cleared as a whole", "clear one device's faults")
    refused(ctl, ["faults", "nosuch"], "NOT_FOUND", "port nosuch does not exist", "faults of an unknown port")
    refused(ctl, ["domain", "show", "vm1"], "NOT_FOUND", "port vm1 has no DMA domain yet",
            "domain of a port without a guest")
    refused(ctl, ["domain", "probe", "vm1", "--iova", "0x1000"], "NOT_FOUND", "no DMA domain yet",
            "probe a port without a guest")
    refused(ctl, ["domain", "show", "nosuch"], "NOT_FOUND", "port nosuch does not exist", "domain of unknown port")
    refused(ctl, ["domain", "show", "--id", "999"], "NOT_FOUND", "domain 999 does not exist", "unknown domain id")
    refused(ctl, ["domain", "map", "vm1", "--iova", "0", "--size", "4K", "--target", "0"], "FAILED_PRECONDITION",
            "port vm1's DMA domain is built by riovd", "Domain.Map on a port's own domain")
    check(ctl.json("interrupt", "list").get("interrupts", []) == [], "interrupt list: no settings yet")
    check(ctl.json("faults")["faults"] == [], "refused probes left no fault record")
    saved = ctl.json("config", "save")
    check(saved["path"] == os.path.join(tmp, "state", "state.pb") and saved["bytes"] > 0,
          "config save writes the state file")
    show = ctl.json("config", "show")
    on_disk = ctl.json("config", "show", "--saved")
    check(show["state"]["generation"] == saved["generation"] == on_disk["state"]["generation"],
          "config show and config show --saved agree on the generation")
    check([p["socket_path"] for p in on_disk["state"]["ports"]] == ["vm1.sock"] and
          [n["name"] for n in on_disk["state"]["networks"]] == ["blue"],
          "the state file holds the desired spec as given (relative socket path)")
    d.stop()


def test_tls_roles():
    """riovd's TLS listener (--rpc-listen): client certificates decide the role."""
    tmp = tmpdir("ctl")
    c = make_certs(tmp)
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n', extra_args=tls_listen_args(c)).start()
    port = tls_port(d)
    ctl = ctl_for(d)

    def tls(who, *args):
        return subprocess.run([RIOVCTL, "--connect", "tls://127.0.0.1:%d" % port, "--ca", c("ca.pem"),
                               "--cert", c(who + ".pem"), "--key", c(who + ".key"), "--json"] + list(args),
                              capture_output=True, text=True, timeout=30)
    r = tls("admin", "node", "info")
    check(r.returncode == 0 and json.loads(r.stdout)["role"] == "admin", "TLS admin certificate: role admin")
    r = tls("admin", "net", "add", "red")
    check(r.returncode == 0 and nets(ctl) == ["blue", "red"], "TLS admin certificate: net add works")
    r = tls("readonly", "net", "list")
    check(r.returncode == 0 and len(json.loads(r.stdout)["networks"]) == 2, "TLS readonly certificate: net list works")
    before = nets(ctl)
    r = tls("readonly", "net", "delete", "red")
    check(r.returncode == EXIT_RPC and "PERMISSION_DENIED" in r.stderr and nets(ctl) == before,
          "TLS readonly certificate: net delete is PERMISSION_DENIED, nothing changed (%s)" % r.stderr.strip())
    check("legacy rule" in d.log_text(), "without tls_roles riovd says it applies the legacy OU=admin rule")
    d.stop()
    # tls_roles and tls_crl of the configuration file (issue 12 #10): the mapping replaces the OU
    # rule (mon, OU=readonly, made admin), and the CRL revokes ops (OU=admin, else read-only by CN=*)
    with open(c("ca.cnf"), "w") as f:
        f.write("[ ca ]\ndefault_ca = t\n[ t ]\ndatabase = %s\ncertificate = %s\nprivate_key = %s\n"
                "crlnumber = %s\ndefault_md = sha256\ndefault_crl_days = 2\n"
                % (c("index.txt"), c("ca.pem"), c("ca.key"), c("crlnumber")))
    open(c("index.txt"), "w").close()
    with open(c("crlnumber"), "w") as f:
        f.write("01\n")
    for args in (["-revoke", c("admin.pem")], ["-gencrl", "-out", c("crl.pem")]):
        subprocess.run(["openssl", "ca", "-config", c("ca.cnf")] + args, check=True, capture_output=True)
    with open(d.cfg) as f:
        text = f.read()
    with open(d.cfg, "w") as f:
        f.write(text.replace("memory_mb = 256;", 'memory_mb = 256; tls_roles = "CN=mon:admin; CN=*:readonly"; '
                             'tls_crl = "%s";' % c("crl.pem"), 1))
    d.start()
    port = tls_port(d)
    r = tls("readonly", "net", "add", "green")
    check(r.returncode == 0 and "green" in nets(ctl), "tls_roles: CN=mon:admin makes the OU=readonly certificate admin")
    r = tls("admin", "node", "info")
    check(r.returncode == 3 and "certificate revoked" in d.log_text(),
          "tls_crl: the revoked OU=admin certificate is refused (%s)" % r.stderr.strip()[:120])
    d.stop()


def test_runtime_port_traffic():
    """Ports added through riovctl carry guest traffic; riovctl's counters match the guests'."""
    tmp = tmpdir("ctl")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n').start()
    ctl = ctl_for(d)
    ctl.ok("port", "add", "vhost", "vm1", "--net", "blue", "--socket", "vm1.sock")
    ctl.ok("port", "add", "vhost", "vm2", "--net", "blue", "--socket", "vm2.sock")
    b = Guest("B", d.socket("vm2"), "rxonly", mac=MAC_B).start(tmp)
    a = Guest("A", d.socket("vm1"), "txonly", mac=MAC_A, peer=MAC_B).start(tmp)
    wait_for(lambda: all(p["state"] == "up" for p in ctl.json("port", "list")["ports"]), 10, "both ports up")
    time.sleep(2)
    # port list: what each guest negotiated, by name (testpmd virtio-user: mrg_rxbuf=1, in_order=1)
    pl = {p["spec"]["name"]: p for p in ctl.json("port", "list")["ports"]}
    log("  vm1 negotiated %s, %d queue pair(s)" % (",".join(pl["vm1"]["feature_names"]), pl["vm1"]["queue_pairs"]))
    for n in ("vm1", "vm2"):
        names = pl[n]["feature_names"]
        check({"version_1", "mrg_rxbuf", "in_order"} <= set(names) and pl[n]["queue_pairs"] == 1 and
              all(pl[n]["features"] >> b & 1 for b in (15, 32, 35)),
              "port list --json: %s's negotiated features by name and its one queue pair" % n)
    text = ctl.ok("port", "list")
    check("FEATURES" in text and "QUEUE_PAIRS" in text and ",".join(pl["vm1"]["feature_names"]) in text,
          "port list prints the feature names for people")
    # the guest is connected: its domain exists and has its memory mapped
    dom = ctl.json("domain", "show", "vm1")
    spec = dom["domain"]
    check(spec["name"] == "vm1" and spec["devices"][0]["device"] == "vm1" and spec["devices"][0]["source_id"] >= 0x100
          and len(spec["mappings"]) > 0, "domain show: vm1's domain, its device and %d mapping(s)" % len(spec["mappings"]))
    check(dom["iotlb_hits"] + dom["iotlb_misses"] > 0, "domain show: translations counted")
    check(ctl.json("domain", "show", "--id", str(spec["domain_id"]))["domain"]["name"] == "vm1",
          "domain show --id finds the same domain")
    m = spec["mappings"][0]
    pr = ctl.json("domain", "probe", "vm1", "--iova", str(m["iova"] + 64), "--length", "16")
    check(pr["ok"] and pr["target"] == m["target"] + 64 and 1 <= pr["mapped_length"] <= 16,
          "probe of a mapped address gives its host address")
    hole = max(x["iova"] + x["size"] for x in spec["mappings"]) + (1 << 30)
    hole -= hole % 4096
    pr = ctl.json("domain", "probe", "vm1", "--iova", str(hole))
    check(not pr["ok"] and pr["fault_reason"] in (4, 6) and pr["fault"], "probe of a hole reports a fault (%s)"
          % pr["fault"])
    fl = ctl.json("faults", "vm1")["faults"]
    check(any(f["address"] == hole and f["device"] == "vm1" for f in fl),
          "the failed probe is in the fault log (documented), with the port's name")
    check(ctl.json("faults", "clear")["cleared"] >= 1 and ctl.json("faults")["faults"] == [], "faults clear empties it")
    sa = a.stop()
    time.sleep(1)
    sb = b.stop()
    st = {p["port"]: p for p in ctl.json("port", "stats")["ports"]}
    log("  guest A %s, guest B %s" % (sa, sb))
    log("  riovctl vm1 %s" % st["vm1"])
    log("  riovctl vm2 %s" % st["vm2"])
    check(sa["tx"] > 0 and sb["rx"] > 0, "traffic flowed (A sent %d, B received %d)" % (sa["tx"], sb["rx"]))
    # testpmd counts a packet as sent when it is in its TX ring; what is still there when the guest
    # stops (a burst or so, on a loaded machine) riovd never takes (seen: 32 under a fuzzer's load)
    check(0 <= sa["tx"] - st["vm1"]["rx_packets"] <= 256, "riovctl: vm1 rx_packets is what guest A sent, "
          "but for what was still in its TX ring when it stopped (sent %d, taken %d)" % (sa["tx"], st["vm1"]["rx_packets"]))
    check(st["vm2"]["tx_packets"] == sb["rx"], "riovctl: vm2 tx_packets equals what guest B received")
    check(st["vm1"]["rx_packets"] == st["vm2"]["tx_packets"] + st["vm2"]["tx_dropped"] + st["vm2"]["rx_errors"],
          "every packet from A was delivered to B or counted as dropped")
    check(st["vm1"]["iotlb_hits"] + st["vm1"]["iotlb_misses"] > 0, "IOTLB counters are reported")
    c = d.stop()
    check(c["vm1"]["rx_packets"] == st["vm1"]["rx_packets"], "riovd's final counters agree with riovctl")


def test_restart_persistence():
    tmp = tmpdir("ctl")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n'
                   'ports = ( { name = "cfg1"; type = "vhost"; net = "blue"; socket = "cfg1.sock"; } );\n').start()
    ctl = ctl_for(d)
    ctl.ok("net", "add", "red")
    ctl.ok("net", "add", "green")
    ctl.ok("port", "add", "vhost", "r1", "--net", "red", "--socket", "r1.sock", "--queues", "2")
    ctl.ok("port", "add", "vhost", "g1", "--net", "green", "--socket", os.path.join(tmp, "g1.sock"), "--client")
    ctl.ok("port", "delete", "cfg1")
    ctl.ok("net", "add", "tmp")
    ctl.ok("net", "delete", "tmp")
    want_nets, want_ports = nets(ctl), ctl.json("port", "list")["ports"]
    d.stop()
    restart(d)
    check(nets(ctl) == want_nets == ["blue", "green", "red"], "networks restored after SIGTERM and restart")
    got = ctl.json("port", "list")["ports"]
    check([p["spec"] for p in got] == [p["spec"] for p in want_ports], "ports restored with the same specs")
    check("cfg1" not in [p["spec"]["name"] for p in got],
          "the state file wins: a config-file port deleted at run time stays deleted")
    check("restored state from" in d.log_text(), "riovd logs where the state came from")
    d.stop()


def test_corrupt_state_file():
    tmp = tmpdir("ctl")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n').start()
    ctl = ctl_for(d)
    ctl.ok("net", "add", "red")
    d.stop()
    path = os.path.join(tmp, "state", "state.pb")
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) - 3)
        f.write(b"\xff\xff\xff")
    restart(d)
    check(nets(ctl) == ["blue"], "a corrupt state file: riovd starts from the config file")
    check(len(glob.glob(path + ".corrupt-*")) == 1, "the corrupt file was moved aside, not deleted")
    check("state file was corrupt" in d.log_text() and "corrupt" in d.log_text(), "riovd says so in its log")
    check(ctl.json("config", "show", "--saved")["state"]["networks"][0]["name"] == "blue",
          "a fresh state file was written from the config file")
    d.stop()


def test_kill9_during_changes():
    """kill -9 in a stream of `net add nX`: the restored state holds every acknowledged add and at
    most the one in flight."""
    tmp = tmpdir("ctl")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n').start()
    ctl = ctl_for(d)
    ctl.ok("port", "add", "vhost", "vm1", "--net", "blue", "--socket", "vm1.sock")
    proc = d.proc
    # The kill lands in the middle of the stream: after a short delay, or at the latest once the
    # stream is over (a fast machine may finish 250 adds before the timer).
    killer = threading.Timer(0.3, lambda: proc.send_signal(signal.SIGKILL))
    last_ok, tried = -1, -1
    killer.start()
    try:
        for i in range(250):  # the dataplane holds at most 256 networks
            tried = i
            r = ctl.run("net", "add", "n%d" % i, timeout=10)
            if r.returncode != 0:
                break
            last_ok = i
    finally:
        killer.cancel()
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    d.proc = None
    log("  last acknowledged add: n%d; the next one tried: n%d; riovd exit %s" % (last_ok, tried, proc.returncode))
    check(proc.returncode == -signal.SIGKILL, "riovd was killed with SIGKILL during the stream of changes")
    check(last_ok >= 1, "some adds were acknowledged before the kill")
    restart(d)
    got = nets(ctl)
    acked = ["n%d" % i for i in range(last_ok + 1)]
    check(all(n in got for n in acked), "every acknowledged network (n0..n%d) is restored" % last_ok)
    extra = sorted(set(got) - set(acked) - {"blue"})
    check(extra in ([], ["n%d" % (last_ok + 1)]), "nothing beyond the add in flight is restored (%s)" % extra)
    check(ports(ctl) == [("vm1", "blue", "PORT_TYPE_VHOST")],
          "the vhost port is restored (its stale socket and the stale RPC socket were replaced)")
    d.stop()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def prom_query(port, q):
    url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (port, urllib.parse.quote(q))
    with urllib.request.urlopen(url, timeout=5) as f:
        return json.load(f)


def check_worker_counters(ctl, rx):
    """After traffic that has stopped, with one worker: riovctl's worker counters agree with the port
    counters rx ({port: rx_packets}) and with themselves. Returns the worker's counters."""
    snap = ctl.json("metrics", "snapshot")["snapshot"]
    check(len(snap["workers"]) == 1 and snap["tsc_hz"] > 0, "metrics snapshot: one worker and the TSC's rate")
    w = snap["workers"][0]
    log("  worker 0: packets %d, busy_polls %d of %d, busy_cycles %d, idle_cycles %d, bursts %d, latency "
        "sum %d ns, max %d ns, %d buckets" % (w["packets"], w["busy_polls"], w["polls"], w["busy_cycles"],
                                               w["idle_cycles"], w["bursts"], w["latency_sum_ns"],
                                               w["latency_max_ns"], len(w["latency_buckets"])))
    # every frame came from a guest's TX vring: the worker took what the ports received (no bad
    # descriptors in this traffic, and the RARPs riovd makes are taken from no input)
    check(w["packets"] == sum(rx.values()) and w["packets"] > 0,
          "the worker's packets (%d) are the ports' rx_packets together (%s)" % (w["packets"], rx))
    check(w["busy_cycles"] > 0 and 0 < w["busy_polls"] <= w["polls"],
          "busy cycles counted, busy loops among the loops")
    buckets = w["latency_buckets"]
    les = [b["le_ns"] for b in buckets]
    check(w["bursts"] == sum(b["count"] for b in buckets) and all(b["count"] > 0 for b in buckets),
          "latency histogram: its buckets (non-empty ones only) add up to the bursts recorded")
    check(0 < w["bursts"] <= w["packets"] and w["busy_polls"] <= w["bursts"],
          "a burst per busy loop at least, a frame per burst at least")
    check(les == sorted(set(les)), "latency buckets come by rising bound")
    below = les[-2] if len(les) > 1 else 0
    check(below < w["latency_max_ns"] <= les[-1], "the longest burst lies in the highest bucket that counted")
    check(w["latency_max_ns"] <= w["latency_sum_ns"] <= w["latency_max_ns"] * w["bursts"],
          "latency sum between the longest burst and bursts times it")
    text = ctl.ok("stats")
    log("  riovctl stats (workers):\n" + text[text.find("workers:"):])
    check("CYCLES/PKT" in text and "LAT_P99.9" in text and "LAT_MAX" in text,
          "riovctl stats prints cycles per packet and latency percentiles")
    return w


def check_worker_metrics(text, w):
    """The metrics endpoint's text has the worker counters w as riovctl had them, and a well-formed
    latency histogram: cumulative buckets that never fall, +Inf and _count the bursts."""
    def sample(name):
        m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
        return float(m.group(1)) if m else None
    for metric, field in (("riov_worker_packets_total", "packets"), ("riov_worker_busy_cycles_total", "busy_cycles")):
        got = sample('%s{worker="0"}' % metric)
        check(got == w[field], "metrics: %s %s equals riovctl's %s %d" % (metric, got, field, w[field]))
    check(sample('riov_worker_idle_cycles_total{worker="0"}') is not None, "metrics: idle cycles per worker")
    cum = [(le, float(v)) for le, v in
           re.findall(r'^riov_worker_loop_latency_seconds_bucket\{worker="0",le="([^"]+)"\} (\S+)$', text, re.M)]
    check(len(cum) == 26 and cum[-1][0] == "+Inf", "metrics: 26 latency buckets (64 ns .. 2^30 ns, +Inf)")
    check(all(a[1] <= b[1] for a, b in zip(cum, cum[1:])), "metrics: latency buckets are cumulative")
    check(cum[-1][1] == w["bursts"] == sample('riov_worker_loop_latency_seconds_count{worker="0"}'),
          "metrics: +Inf bucket and _count equal riovctl's bursts (%d)" % w["bursts"])
    exact = [sum(b["count"] for b in w["latency_buckets"] if b["le_ns"] <= round(float(le) * 1e9))
             for le, _ in cum[:-1]]
    check([v for _, v in cum[:-1]] == exact, "metrics: each bucket's count is what riovctl's buckets give up "
          "to its bound (%s)" % ", ".join("%s: %d" % (le, v) for le, v in cum if v))
    total = sample('riov_worker_loop_latency_seconds_sum{worker="0"}')
    check(total is not None and abs(total - w["latency_sum_ns"] * 1e-9) <= 1e-9 * w["latency_sum_ns"] * 1e-6 + 1e-12,
          "metrics: _sum is riovctl's latency sum in seconds")


def test_prometheus():
    prom = shutil.which("prometheus")
    if prom is None:
        raise Skip("the prometheus binary is not installed (apt-get install prometheus)")
    tmp = tmpdir("ctl")
    mport = free_port()
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n'
                   'ports = ( { name = "vm1"; type = "vhost"; net = "blue"; socket = "vm1.sock"; },\n'
                   '          { name = "vm2"; type = "vhost"; net = "blue"; socket = "vm2.sock"; } );\n',
              extra_args=["--metrics-listen", "127.0.0.1:%d" % mport]).start()
    ctl = ctl_for(d)
    b = Guest("B", d.socket("vm2"), "rxonly", mac=MAC_B).start(tmp)
    a = Guest("A", d.socket("vm1"), "txonly", mac=MAC_A, peer=MAC_B).start(tmp)
    time.sleep(2)
    a.stop()
    time.sleep(1)
    b.stop()
    want = {p["port"]: p["rx_packets"] for p in ctl.json("port", "stats")["ports"]}
    check(want["vm1"] > 0, "guest traffic was counted (vm1 rx %d)" % want["vm1"])
    wk = check_worker_counters(ctl, want)
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5).read().decode()
    for name in ("riov_port_rx_packets_total", "riov_port_tx_packets_total", "riov_port_rx_bytes_total",
                 "riov_port_tx_bytes_total", "riov_port_drops_total", "riov_iommu_faults_total",
                 "riov_iotlb_hits_total", "riov_iotlb_misses_total", "riov_interrupts_total",
                 "riov_worker_busy_ratio", "riov_rpc_requests_total", "riov_port_queue_packets_total",
                 "riov_port_queue_bytes_total", "riov_port_queue_running", "riov_worker_busy_cycles_total",
                 "riov_worker_idle_cycles_total", "riov_worker_packets_total", "riov_worker_loop_latency_seconds"):
        check("# TYPE %s " % name in text, "the endpoint exports %s" % name)
    check('riov_port_queue_packets_total{port="vm1",net="blue",queue="0",direction="rx"} %d' % want["vm1"] in text,
          "riov_port_queue_packets_total: vm1's queue pair 0 received what the port did")
    check_worker_metrics(text, wk)
    pport = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "scrape_configs:\n  - job_name: riov\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % mport)
    plog = os.path.join(tmp, "prometheus.log")
    p = subprocess.Popen([prom, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "prom"),
                          "--web.listen-address=127.0.0.1:%d" % pport],
                         stdout=open(plog, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    _procs.append(p)
    got = {}

    def scraped():
        if p.poll() is not None:
            raise TestFailure("prometheus exited: " + open(plog).read()[-2000:])
        try:
            r = prom_query(pport, "riov_port_rx_packets_total")
        except OSError:
            return False
        for s in r.get("data", {}).get("result", []):
            got[s["metric"]["port"]] = int(float(s["value"][1]))
        return len(got) == 2
    wait_for(scraped, 30, "Prometheus to scrape riovd")
    log("  Prometheus: riov_port_rx_packets_total %s, riovctl %s" % (got, want))
    check(got == want, "Prometheus's riov_port_rx_packets_total equals riovctl's rx_packets per port")
    r = prom_query(pport, 'sum by (port) (riov_port_queue_packets_total{direction="rx"})')["data"]["result"]
    byq = {s["metric"]["port"]: int(float(s["value"][1])) for s in r}
    check(byq == want, "Prometheus: riov_port_queue_packets_total summed over queues equals rx_packets (%s)" % byq)
    up = prom_query(pport, 'up{job="riov"}')["data"]["result"]
    check(up and up[0]["value"][1] == "1", "Prometheus sees the riovd target up")
    r = prom_query(pport, 'riov_worker_loop_latency_seconds_count')["data"]["result"]
    check([int(float(s["value"][1])) for s in r] == [wk["bursts"]],
          "Prometheus reads the latency histogram: its _count is riovctl's bursts")
    r = prom_query(pport, 'histogram_quantile(0.99, riov_worker_loop_latency_seconds_bucket)')["data"]["result"]
    check(len(r) == 1 and r[0]["metric"].get("worker") == "0" and r[0]["value"][1] != "NaN",
          "Prometheus computes a p99 from riov_worker_loop_latency_seconds (%s)" % (r[0]["value"][1] if r else r))
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=20)
    d.stop()


def desired(ctl):
    """The running desired state without its generation (for 'nothing changed' checks)."""
    st = ctl.json("config", "show")["state"]
    st.pop("generation", None)
    return st


def refused_state(ctl, args, status, text, what):
    """riovctl ARGS must exit 1 with STATUS and TEXT on stderr and leave the desired state as it was."""
    before = desired(ctl)
    r = ctl.run(*args)
    log("    riovctl %s -> %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    check(r.returncode == EXIT_RPC and status in r.stderr and text in r.stderr,
          "%s: exit 1, %s, '%s'" % (what, status, text))
    check(desired(ctl) == before, "%s: desired state unchanged" % what)


DOM_CFG = ('networks = ( { name = "blue"; } );\n'
           'ports = ( { name = "vm1"; type = "vhost"; net = "blue"; socket = "vm1.sock"; } );\n')


def make_domain(ctl):
    """A domain (allocated id) with a 2 MiB mapping at 1 MiB and device nic0 (source-id 0x810)."""
    did = ctl.json("domain", "create", "--name", "dev-a")["domain_id"]
    ctl.ok("domain", "map", "--id", str(did), "--iova", "0x100000", "--size", "2M", "--target", "0x40000000")
    ctl.ok("domain", "attach", "nic0", "--id", str(did), "--source-id", "0x810")
    return did


def test_domain_map_probe():
    """Domain.Create/Map/Show/TranslateProbe/Unmap/Attach on a domain that is not a port's."""
    tmp = tmpdir("ctl")
    d = Riovd(tmp, DOM_CFG).start()
    ctl = ctl_for(d)
    did = ctl.json("domain", "create", "--name", "dev-a")["domain_id"]
    check(0x1000 <= did <= 0x7fff, "domain create without --id allocates one in 0x1000-0x7fff (%#x)" % did)
    check(ctl.json("domain", "create", "--id", "2000")["domain_id"] == 2000, "domain create --id 2000")
    ctl.ok("domain", "map", "--id", str(did), "--iova", "0x100000", "--size", "2M", "--target", "0x40000000")
    ctl.ok("domain", "map", "--id", str(did), "--iova", "0x400000", "--size", "8K", "--target", "0x50000000",
           "--read-only")
    sh = ctl.json("domain", "show", "--id", str(did))["domain"]
    log("    show: %s" % sh)
    maps = [(m["iova"], m["size"], m["target"], m.get("read", False), m.get("write", False)) for m in sh["mappings"]]
    check(sh["name"] == "dev-a" and sh["address_width"] == 48, "domain show: name and 48-bit address width")
    check(maps == [(0x100000, 0x200000, 0x40000000, True, True), (0x400000, 0x2000, 0x50000000, True, False)],
          "domain show: both mappings with targets and permissions")
    st = ctl.json("config", "show", "--saved")["state"]
    check([x["domain_id"] for x in st["domains"]] == [did, 2000] and len(st["domains"][0]["mappings"]) == 2,
          "the state file holds the domains and their mappings")
    refused_state(ctl, ["domain", "probe", "--id", str(did), "--iova", "0x100000"], "FAILED_PRECONDITION",
                  "has no device attached", "probe a domain without a device")
    ctl.ok("domain", "attach", "nic0", "--id", str(did), "--source-id", "0x810")
    sh = ctl.json("domain", "show", "nic0")["domain"]
    check(sh["domain_id"] == did and sh["devices"] == [{"device": "nic0", "source_id": 0x810}],
          "domain attach: domain show by the device name lists it with its source-id")
    pr = ctl.json("domain", "probe", "--id", str(did), "--iova", "0x100040", "--length", "16")
    check(pr["ok"] and pr["target"] == 0x40000040 and pr["mapped_length"] == 16,
          "probe of a mapped address: hit, target 0x40000040, 16 bytes")
    pr = ctl.json("domain", "probe", "nic0", "--iova", "0x400000", "--write")
    check(not pr["ok"] and pr["fault_reason"] == 5, "probe for write of a read-only mapping: write fault (%s)"
          % pr.get("fault"))
    pr = ctl.json("domain", "probe", "nic0", "--iova", "0x900000")
    check(not pr["ok"] and pr["fault_reason"] == 6 and pr["fault"], "probe of a hole: fault (%s)" % pr["fault"])
    fl = ctl.json("faults", "nic0")["faults"]
    check(any(f["address"] == 0x900000 and f["device"] == "nic0" and f["source_id"] == 0x810 and
              f["domain_id"] == did for f in fl), "the failed probe is in the fault log under nic0")
    ctl.json("faults", "clear")
    r = ctl.json("domain", "unmap", "--id", str(did), "--iova", "0x100000", "--size", "4K")
    check(r["unmapped"] == 4096, "domain unmap of one page: 4096 bytes unmapped")
    pr = ctl.json("domain", "probe", "nic0", "--iova", "0x100000")
    check(not pr["ok"], "the unmapped page faults now")
    pr = ctl.json("domain", "probe", "nic0", "--iova", "0x101000")
    check(pr["ok"] and pr["target"] == 0x40001000, "the rest of the mapping still translates")
    maps = [(m["iova"], m["size"], m["target"]) for m in ctl.json("config", "show")["state"]["domains"][0]["mappings"]]
    check(maps == [(0x101000, 0x1ff000, 0x40001000), (0x400000, 0x2000, 0x50000000)],
          "the desired state holds the split mapping")
    r = ctl.json("domain", "unmap", "--id", str(did), "--iova", "0x10000000", "--size", "4K")
    check(r.get("unmapped", 0) == 0, "unmapping a hole is not an error (0 bytes)")
    ctl.json("faults", "clear")
    d.stop()


def test_domain_errors():
    """Each refusal of Domain.*: a clear message, exit 1, the desired state unchanged."""
    tmp = tmpdir("ctl")
    d = Riovd(tmp, DOM_CFG).start()
    ctl = ctl_for(d)
    did = make_domain(ctl)
    sid = str(did)
    refused_state(ctl, ["domain", "map", "--id", "0x3000", "--iova", "0", "--size", "4K", "--target", "0"],
                  "NOT_FOUND", "domain 12288 does not exist", "map into an unknown domain")
    refused_state(ctl, ["domain", "unmap", "--id", "0x3000", "--iova", "0", "--size", "4K"],
                  "NOT_FOUND", "domain 12288 does not exist", "unmap in an unknown domain")
    refused_state(ctl, ["domain", "map", "nosuch", "--iova", "0", "--size", "4K", "--target", "0"],
                  "NOT_FOUND", "device nosuch does not exist", "map by an unknown device")
    refused_state(ctl, ["domain", "map", "--id", sid, "--iova", "0x200000", "--size", "4K", "--target", "0"],
                  "ALREADY_EXISTS", "overlaps the mapping [0x100000, 0x300000)", "overlapping mapping")
    refused_state(ctl, ["domain", "map", "--id", sid, "--iova", "0x1000001", "--size", "4K", "--target", "0"],
                  "INVALID_ARGUMENT", "must be 4 KiB aligned", "unaligned iova")
    refused_state(ctl, ["domain", "map", "--id", sid, "--iova", "0x1000000", "--size", "100", "--target", "0"],
                  "INVALID_ARGUMENT", "a non-zero multiple of 4 KiB", "unaligned size")
    refused_state(ctl, ["domain", "unmap", "--id", sid, "--iova", "0x100800", "--size", "4K"],
                  "INVALID_ARGUMENT", "4 KiB aligned", "unaligned unmap")
    refused_state(ctl, ["domain", "map", "--id", sid, "--iova", "0xfffffffff000", "--size", "8K", "--target", "0"],
                  "INVALID_ARGUMENT", "beyond its 48-bit address width", "mapping beyond the address width")
    refused_state(ctl, ["domain", "map", "vm1", "--iova", "0", "--size", "4K", "--target", "0"],
                  "FAILED_PRECONDITION", "port vm1's DMA domain is built by riovd", "map into a port's domain")
    refused_state(ctl, ["domain", "map", "--id", "1", "--iova", "0", "--size", "4K", "--target", "0"],
                  "FAILED_PRECONDITION", "domain 1 is a vhost port's DMA domain", "map into domain 1 by id")
    refused_state(ctl, ["domain", "unmap", "--id", "0x8000", "--iova", "0", "--size", "4K"],
                  "FAILED_PRECONDITION", "is a vhost port's DMA domain", "unmap in a first-stage port domain")
    refused_state(ctl, ["domain", "create", "--id", "5"], "FAILED_PRECONDITION",
                  "belong to vhost ports' DMA domains", "create a domain in the ports' id range")
    refused_state(ctl, ["domain", "create", "--id", sid], "ALREADY_EXISTS", "domain %d already exists" % did,
                  "create an existing domain")
    refused_state(ctl, ["domain", "create", "--address-width", "57"], "INVALID_ARGUMENT", "address width 57",
                  "unsupported address width")
    refused_state(ctl, ["domain", "create", "--nested"], "UNIMPLEMENTED", "nested domains are built by riovd",
                  "nested domain")
    refused_state(ctl, ["domain", "attach", "vm1", "--id", sid, "--source-id", "0x900"], "FAILED_PRECONDITION",
                  "port vm1 is attached to its own domain", "attach a port")
    refused_state(ctl, ["domain", "attach", "x1", "--id", sid, "--source-id", "0xfc05"], "FAILED_PRECONDITION",
                  "belong to vhost ports' devices", "attach with a port's source-id")
    refused_state(ctl, ["domain", "attach", "x1", "--id", sid, "--source-id", "0x810"], "FAILED_PRECONDITION",
                  "source-id 0x810 is device nic0's", "attach a source-id in use")
    refused_state(ctl, ["domain", "attach", "nic0", "--id", sid, "--source-id", "0x811"], "ALREADY_EXISTS",
                  "device nic0 is attached to domain", "attach a device twice")
    refused_state(ctl, ["domain", "attach", "x1", "--id", "0x3000", "--source-id", "0x900"], "NOT_FOUND",
                  "domain 12288 does not exist", "attach to an unknown domain")
    refused_state(ctl, ["port", "add", "vhost", "nic0", "--net", "blue", "--socket", "n.sock"], "ALREADY_EXISTS",
                  "nic0 is the name of a device attached to domain", "a port named like an attached device")
    check(ctl.json("faults")["faults"] == [], "no refusal left a fault record")
    d.stop()


def test_interrupts():
    """Interrupt.Set/List/Mask/Coalesce for a device attached to a created domain, and refusals."""
    tmp = tmpdir("ctl")
    d = Riovd(tmp, DOM_CFG).start()
    ctl = ctl_for(d)
    make_domain(ctl)
    s = ctl.json("interrupt", "set", "nic0", "0", "--guest-vector", "0x30", "--dest", "1")["setting"]
    check(s["device"] == "nic0" and s["guest_vector"] == 0x30 and s["irte_index"] >= 32768,
          "interrupt set: an IRTE outside the ports' range is allocated (%d)" % s["irte_index"])
    ctl.ok("interrupt", "set", "nic0", "1", "--guest-vector", "0x31", "--irte", "40000", "--coalesce-usecs", "20")
    lst = ctl.json("interrupt", "list")["interrupts"]
    check([(x["vector"], x["irte_index"], x["guest_vector"]) for x in lst] ==
          [(0, s["irte_index"], 0x30), (1, 40000, 0x31)], "interrupt list shows both vectors")
    check("nic0" in ctl.ok("interrupt", "list", "nic0"), "interrupt list DEVICE prints a table")
    ctl.ok("interrupt", "mask", "nic0", "1")
    lst = {x["vector"]: x for x in ctl.json("interrupt", "list", "nic0")["interrupts"]}
    check(lst[1].get("masked") is True and not lst[0].get("masked"), "interrupt mask: vector 1 masked only")
    ctl.ok("interrupt", "mask", "nic0", "--all", "--unmask")
    ctl.ok("interrupt", "coalesce", "nic0", "--all", "--usecs", "50", "--frames", "4")
    lst = ctl.json("interrupt", "list")["interrupts"]
    check(all(not x.get("masked") and x["coalesce_usecs"] == 50 and x["coalesce_frames"] == 4 for x in lst),
          "unmask --all and coalesce --all changed every vector")
    st = ctl.json("config", "show", "--saved")["state"]
    check(len(st["interrupts"]) == 2, "the state file holds the interrupt settings")
    refused_state(ctl, ["interrupt", "set", "vm1", "0", "--guest-vector", "48"], "FAILED_PRECONDITION",
                  "port vm1's interrupt-remapping entries are programmed by riovd", "interrupt of a port")
    refused_state(ctl, ["interrupt", "set", "nosuch", "0", "--guest-vector", "48"], "NOT_FOUND",
                  "device nosuch is not attached to any domain", "interrupt of an unknown device")
    refused_state(ctl, ["interrupt", "set", "nic0", "2", "--guest-vector", "48", "--irte", "5"],
                  "FAILED_PRECONDITION", "belong to vhost ports' vrings", "IRTE in the ports' range")
    refused_state(ctl, ["interrupt", "set", "nic0", "2", "--guest-vector", "48", "--irte", "40000"],
                  "FAILED_PRECONDITION", "entry 40000 is used by device nic0 vector 1", "IRTE in use")
    refused_state(ctl, ["interrupt", "set", "nic0", "2"], "INVALID_ARGUMENT", "give --guest-vector 16-255",
                  "no guest vector")
    refused_state(ctl, ["interrupt", "set", "nic0", "2", "--guest-vector", "48", "--posted"], "UNIMPLEMENTED",
                  "posted interrupts", "posted interrupt")
    refused_state(ctl, ["interrupt", "mask", "nic0", "7"], "NOT_FOUND", "no setting for vector 7",
                  "mask an unset vector")
    refused_state(ctl, ["interrupt", "list", "vm1"], "FAILED_PRECONDITION", "programmed by riovd",
                  "interrupt list of a port")
    d.stop()


def test_domain_restart_persistence():
    """Created domains, their mappings, devices and interrupt settings survive a restart."""
    tmp = tmpdir("ctl")
    d = Riovd(tmp, DOM_CFG).start()
    ctl = ctl_for(d)
    did = make_domain(ctl)
    ctl.ok("domain", "unmap", "--id", str(did), "--iova", "0x200000", "--size", "4K")
    ctl.ok("interrupt", "set", "nic0", "3", "--guest-vector", "0x40", "--masked")
    want_dom = ctl.json("domain", "show", "--id", str(did))["domain"]
    want_irq = ctl.json("interrupt", "list")["interrupts"]
    want_state = desired(ctl)
    d.stop()
    restart(d)
    check(ctl.json("domain", "show", "--id", str(did))["domain"] == want_dom,
          "domain restored with the same name, mappings and device")
    check(ctl.json("interrupt", "list")["interrupts"] == want_irq, "interrupt settings restored")
    check(desired(ctl) == want_state, "the whole desired state is the same after the restart")
    pr = ctl.json("domain", "probe", "nic0", "--iova", "0x100000")
    check(pr["ok"] and pr["target"] == 0x40000000, "the restored domain translates for its device")
    pr = ctl.json("domain", "probe", "nic0", "--iova", "0x200000")
    check(not pr["ok"], "the page unmapped before the restart stays unmapped")
    check("1 domain(s), 1 interrupt setting(s)" in d.log_text(), "riovd logs what it restored")
    check(ctl.json("node", "info")["health"] == "ok", "health ok: everything was restored")
    d.stop()


def drops_by_cause(c):
    """A PortCounters' or QueueCounters' drops as {cause: packets}."""
    return {x["cause"]: x["packets"] for x in c["drops"]}


def metric_sample(mport, name, port, net="blue"):
    """The value of NAME{port=PORT,net=NET} on riovd's metrics endpoint, or None."""
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5).read().decode()
    m = re.search(r'^%s\{port="%s",net="%s"\} (\d+)$' % (re.escape(name), re.escape(port), re.escape(net)),
                  text, re.M)
    return int(m.group(1)) if m else None


def check_vhost_session(ctl, d, mport):
    """vm1's vhost-user sessions after guest A's: then a front-end (the hostile soak's IOTLB case)
    sends IOTLB updates riovd refuses. riovctl --json, its table and the metrics endpoint agree."""
    def vm1():
        return ctl.json("port", "stats", "vm1")["ports"][0]
    wait_for(lambda: vm1()["vhost_disconnects"] == 1, 10, "guest A's session on vm1 to end")
    st = vm1()
    check(st["vhost_connects"] == 1 and st["vhost_messages"] > 0 and st["iotlb_refused"] == 0,
          "vm1: guest A's one session and its %d vhost-user messages counted" % st["vhost_messages"])
    c = hostile_vhost.Conn(d.socket("vm1"))
    hostile_vhost.iotlb(c)
    c.close()
    wait_for(lambda: vm1()["vhost_disconnects"] == 2, 10, "the IOTLB front-end's session on vm1 to end")
    st2 = vm1()
    log("  vm1 after the IOTLB front-end: %s" % {k: v for k, v in st2.items() if k.startswith("vhost_") or
                                                 k.startswith("iotlb_") or k == "vring_base_resyncs"})
    check(st2["vhost_connects"] == 2 and st2["vhost_messages"] > st["vhost_messages"],
          "vm1: the second session and its messages counted")
    check(st2["iotlb_refused"] > 0, "vm1: the IOTLB updates beyond guest memory counted as refused (%d)"
          % st2["iotlb_refused"])
    check(st2["iotlb_updates"] == 0 and st2["iotlb_invalidations"] == 1,
          "vm1: no IOTLB update taken, its one invalidation counted (%d, %d)"
          % (st2["iotlb_updates"], st2["iotlb_invalidations"]))
    text = ctl.ok("port", "stats", "vm1")
    check("vhost session:" in text and "vhost_connects 2," in text and
          "iotlb_refused %d," % st2["iotlb_refused"] in text,
          "port stats NAME prints the vhost session block for people")
    for field in ("vhost_connects", "vhost_disconnects", "vhost_messages", "vhost_bad_messages", "vhost_refused",
                  "iotlb_refused", "iotlb_evictions", "iotlb_updates", "iotlb_invalidations",
                  "iotlb_miss_requests", "memory_faults", "vring_base_resyncs"):
        metric = "riov_port_%s_total" % field
        got = metric_sample(mport, metric, "vm1")
        check(got == st2[field], "metrics: %s{port=\"vm1\"} %s equals riovctl's %s %d"
              % (metric, got, field, st2[field]))


def test_port_stats_queues_and_causes():
    """`port stats NAME` breaks a multiqueue port down by queue pair and its drops by cause: two
    --queues 2 ports, guest A (testpmd txonly, 2 queues, many flows) sends to guest B (rxonly, 2
    queues) and starts first, so that vm2 drops A's first packets as not_ready. Then the vhost
    sessions of vm1 (check_vhost_session), through riovctl and the metrics endpoint."""
    tmp = tmpdir("ctl")
    mport = free_port()
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n',
              extra_args=["--metrics-listen", "127.0.0.1:%d" % mport]).start()
    ctl = ctl_for(d)
    for name in ("vm1", "vm2"):
        ctl.ok("port", "add", "vhost", name, "--net", "blue", "--socket", name + ".sock", "--queues", "2")
    a = Guest("A", d.socket("vm1"), "txonly", queues=2, mac=MAC_A, peer=MAC_B,
              extra=["--txonly-multi-flow"]).start(tmp)
    wait_for(lambda: ctl.json("port", "stats", "vm2")["ports"][0]["tx_dropped"] > 0, 10,
             "vm2 to drop packets while no guest is connected")
    b = Guest("B", d.socket("vm2"), "rxonly", queues=2, mac=MAC_B).start(tmp)
    wait_for(lambda: all(p["state"] == "up" for p in ctl.json("port", "list")["ports"]), 10, "both ports up")
    time.sleep(2)
    pl = {p["spec"]["name"]: p for p in ctl.json("port", "list")["ports"]}
    check(all(pl[n]["queue_pairs"] == 2 and "mq" in pl[n]["feature_names"] for n in ("vm1", "vm2")),
          "port list: both guests set up 2 queue pairs and negotiated mq")
    live = {n: ctl.json("port", "stats", n)["ports"][0] for n in ("vm1", "vm2")}
    for n in ("vm1", "vm2"):
        check([(q["queue"], q["rx_running"], q["tx_running"]) for q in live[n]["queues"]] ==
              [(0, True, True), (1, True, True)], "%s: both queue pairs' vrings run while the guest is up" % n)
    text = ctl.ok("port", "stats", "vm2")
    log("  riovctl port stats vm2:\n" + text)
    check(re.search(r"^drops by cause: .*\bnot_ready \d+", text, re.M) and "queue pairs" in text and
          "RX_RUNNING" in text,
          "port stats NAME prints the drops by cause and the queue pairs for people")
    check("vhost session:" in text and "vhost_connects 1," in text,
          "port stats NAME prints a vhost port's session counters for people")
    check(len(ctl.ok("port", "stats").strip().splitlines()) == 3,
          "port stats without a name stays one line per port (and the header)")
    sa = a.stop()
    time.sleep(1)
    sb = b.stop()
    st = {n: ctl.json("port", "stats", n)["ports"][0] for n in ("vm1", "vm2")}
    log("  guest A %s, guest B %s" % (sa, sb))
    for n in ("vm1", "vm2"):
        log("  %s drops %s queues %s" % (n, st[n]["drops"], st[n]["queues"]))
        qs = st[n]["queues"]
        check(len(qs) == 2, "%s: two queue pairs" % n)
        for k in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes"):
            check(sum(q[k] for q in qs) == st[n][k], "%s: the queue pairs' %s add up to the port's (%d)"
                  % (n, k, st[n][k]))
        for cause, v in drops_by_cause(st[n]).items():
            check(sum(drops_by_cause(q).get(cause, 0) for q in qs) <= v,
                  "%s: the queue pairs' %s drops are a part of the port's" % (n, cause))
    # what guest A left in its two TX rings when it stopped riovd never takes (seen: 96 while helpers
    # compiled beside the test; testpmd counts a packet sent once it is in the ring)
    left = sa["tx"] - st["vm1"]["rx_packets"]
    check(0 <= left <= 2 * 256, "vm1 received every packet guest A sent but for what A left in its rings "
          "(sent %d, received %d)" % (sa["tx"], st["vm1"]["rx_packets"]))
    check(all(q["rx_packets"] > 0 for q in st["vm1"]["queues"]),
          "vm1: guest A's traffic is counted on both queue pairs (%s)" % [q["rx_packets"] for q in st["vm1"]["queues"]])
    # testpmd discards what reaches its rings before it starts forwarding (A was sending already):
    # up to two ring fills (256) per queue that B never counts; and what riovd put in B's rings
    # after B stopped polling stays there uncounted: one more ring fill per queue
    check(0 < sb["rx"] <= st["vm2"]["tx_packets"] <= sb["rx"] + 3 * 2 * 256,
          "vm2 delivered what guest B received (%d), and what it flushed before forwarding or left "
          "in its rings at the end (%d)"
          % (sb["rx"], st["vm2"]["tx_packets"] - sb["rx"]))
    check(all(q["tx_packets"] > 0 for q in st["vm2"]["queues"]),
          "vm2: A's flows are delivered on both of B's queue pairs (%s)" % [q["tx_packets"] for q in st["vm2"]["queues"]])
    dr = drops_by_cause(st["vm2"])
    check(dr.get("not_ready", 0) > 0, "vm2's drops by cause name not_ready (%s)" % dr)
    check(st["vm2"]["tx_dropped"] == dr.get("no_buffer", 0) + dr.get("ring_full", 0) + dr.get("not_ready", 0) +
          dr.get("hold_full", 0) + dr.get("mtu_exceeded", 0),
          "tx_dropped is the sum of its causes")
    check(all(v > 0 for v in dr.values()), "only causes that counted something are listed")
    check(st["vm1"]["rx_packets"] == st["vm2"]["tx_packets"] + sum(dr.values()),
          "every packet from A was delivered to B or dropped with a cause")
    every = {p["port"]: p for p in ctl.json("port", "stats")["ports"]}
    check(all(p["queues"] == [] for p in every.values()) and every["vm2"]["drops"] == st["vm2"]["drops"],
          "port stats without a name: drops by cause, no queue pairs")
    check_vhost_session(ctl, d, mport)
    d.stop()


def test_changes_keep_traffic():
    """Configuration changes reach the workers without stopping them: while guest A sends to guest
    B, networks and ports come and go through riovctl; A's and B's counters still match riovd's
    and nothing is lost or refused on the ports the changes do not touch."""
    tmp = tmpdir("ctl")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n').start()
    ctl = ctl_for(d)
    ctl.ok("port", "add", "vhost", "vm1", "--net", "blue", "--socket", "vm1.sock")
    ctl.ok("port", "add", "vhost", "vm2", "--net", "blue", "--socket", "vm2.sock")
    b = Guest("B", d.socket("vm2"), "rxonly", mac=MAC_B).start(tmp)
    a = Guest("A", d.socket("vm1"), "txonly", mac=MAC_A, peer=MAC_B).start(tmp)
    wait_for(lambda: all(p["state"] == "up" for p in ctl.json("port", "list")["ports"]), 10, "both ports up")
    before = {p["port"]: p for p in ctl.json("port", "stats")["ports"]}
    changes = 0
    for i in range(10):
        ctl.ok("net", "add", "red%d" % i)
        ctl.ok("port", "add", "vhost", "x%d" % i, "--net", "red%d" % i, "--socket", "x%d.sock" % i)
        ctl.ok("port", "add", "vhost", "y%d" % i, "--net", "blue", "--socket", "y%d.sock" % i)
        changes += 3
    for i in range(10):
        ctl.ok("port", "delete", "x%d" % i)
        ctl.ok("port", "delete", "y%d" % i)
        ctl.ok("net", "delete", "red%d" % i)
        changes += 3
    mid = {p["port"]: p for p in ctl.json("port", "stats")["ports"]}
    check(mid["vm1"]["rx_packets"] > before["vm1"]["rx_packets"],
          "traffic went on during %d changes (%d packets from A meanwhile)"
          % (changes, mid["vm1"]["rx_packets"] - before["vm1"]["rx_packets"]))
    sa = a.stop()
    time.sleep(1)
    sb = b.stop()
    c = d.stop()
    log("  guest A %s, guest B %s" % (sa, sb))
    log("  riovd vm1 %s" % c["vm1"])
    log("  riovd vm2 %s" % c["vm2"])
    check(c["vm1"]["rx_packets"] == sa["tx"], "riovd received every packet guest A sent")
    check(c["vm2"]["tx_packets"] == sb["rx"], "guest B received every packet riovd delivered")
    check(c["vm1"]["rx_packets"] == c["vm2"]["tx_packets"] + c["vm2"].get("drop_no_buffer", 0),
          "no packet lost: each was delivered to B or dropped because B's ring was full")
    check(c["vm2"].get("drop_not_ready", 0) == 0 and c["vm1"].get("drops", 0) == 0,
          "no packet dropped because of the changes (queue not ready, ring full, ...)")


def log_lines(d, text):
    return d.log_text().count(text)


def test_log_levels():
    """Per-component log levels: set at start (--log-level), read and changed over the API (Log.*),
    a bad setting refused with no level changed, and the levels decide what riovd prints."""
    tmp = tmpdir("ctl")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n', extra_args=["--log-level", "info,rpc=debug"]).start()
    ctl = ctl_for(d)
    lv = {c["name"]: c for c in ctl.json("log", "levels")["components"]}
    log("  components: " + ", ".join("%s=%s" % (n, c["level"]) for n, c in sorted(lv.items())))
    check(lv["rpc"]["level"] == "debug" and lv["rpc"]["default_level"] == "info",
          "--log-level info,rpc=debug: rpc at debug (its default is info)")
    check(all(lv[n]["default_level"] == "warning" for n in ("virtq", "vtd")) and
          all(lv[n]["default_level"] == "info" for n in ("riovd", "rpc", "vhost", "dataplane")),
          "the data path (virtq, vtd) defaults to warning, the control path to info")
    check(lv["virtq"]["level"] == "info", "the leading 'info' set every component")
    check("COMPONENT" in ctl.ok("log") and "vhost" in ctl.ok("log"), "riovctl log prints the table")
    check(log_lines(d, "rpc: connection from") > 0, "rpc at debug: riovd logs each connection")
    ctl.ok("log", "set", "rpc=info,vhost*=debug")
    lv = {c["name"]: c["level"] for c in ctl.json("log", "levels")["components"]}
    check(lv["rpc"] == "info" and lv["vhost"] == "debug" and lv["virtq"] == "info", "log set rpc=info,vhost*=debug")
    n = log_lines(d, "rpc: connection from")
    for _ in range(3):
        ctl.ok("node", "info")
    check(log_lines(d, "rpc: connection from") == n, "rpc at info: no more connection lines")
    check("log levels \"rpc=info,vhost*=debug\" set by" in d.log_text(), "the change is logged with who made it")
    before = ctl.json("log", "levels")
    for bad, status, text in (("vhost=loud", "INVALID_ARGUMENT", "'loud': not a log level"),
                              ("debug,nosuch=info", "INVALID_ARGUMENT", "'nosuch': no such log component"),
                              ("", "INVALID_ARGUMENT", "no levels given")):
        refused(ctl, ["log", "set", bad], status, text, "log set '%s'" % bad)
        check(ctl.json("log", "levels") == before, "log set '%s' changed no level" % bad)
    ctl.ok("log", "set", "rpc=debug")
    wait_for(lambda: ctl.ok("node", "info") and log_lines(d, "rpc: connection from") > n, 15,
             "rpc at debug again: connection lines are back")
    d.stop()


def test_devargs_allow_list():
    """The configuration file's eth_devargs_allow decides which eth drivers and keys riovd takes,
    from its own ports and from the API alike; the API cannot change it."""
    tmp = tmpdir("ctl")
    d = Riovd(tmp, 'networks = ( { name = "wire"; } );\n'
                   'ports = ( { name = "up0"; type = "eth"; net = "wire"; devargs = "net_null0,size=64"; } );\n')
    with open(d.cfg) as f:
        text = f.read()
    with open(d.cfg, "w") as f:
        f.write(text.replace("memory_mb = 256;", 'memory_mb = 256; eth_devargs_allow = "net_null:size";', 1))
    d.start()
    ctl = Riovctl(os.path.join(tmp, "riovd.sock"))
    check([p[0] for p in ports(ctl)] == ["up0"], "the configuration's port on an allowed driver and key is up")
    refused(ctl, ["port", "add", "eth", "up1", "--net", "wire", "--devargs", "net_null1,no-rx=1"],
            "INVALID_ARGUMENT", "key 'no-rx' of net_null is not allowed (allowed: size)",
            "a key the default allows, not in the configured list")
    refused(ctl, ["port", "add", "eth", "up1", "--net", "wire", "--devargs", "net_af_packet0,iface=lo"],
            "INVALID_ARGUMENT", "driver 'net_af_packet' is not allowed by eth_devargs_allow (net_null:size)",
            "a driver the default allows, not in the configured list")
    refused(ctl, ["port", "add", "eth", "up1", "--net", "wire", "--devargs", "0000:00:01.0"],
            "INVALID_ARGUMENT", "PCI addresses are not allowed", "PCI addresses not in the configured list")
    ctl.ok("port", "add", "eth", "up1", "--net", "wire", "--devargs", "net_null1,size=128")
    d.stop()


if __name__ == "__main__":
    main([test_networks, test_ports, test_other_verbs, test_tls_roles, test_runtime_port_traffic, test_restart_persistence,
          test_corrupt_state_file, test_kill9_during_changes, test_prometheus, test_domain_map_probe,
          test_domain_errors, test_interrupts, test_domain_restart_persistence, test_changes_keep_traffic,
          test_port_stats_queues_and_causes, test_log_levels, test_devargs_allow_list])
