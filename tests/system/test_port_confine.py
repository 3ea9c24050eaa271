#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Port.Add's host-facing inputs confined, on a real riovd through the real riovctl (issue 12,
findings 5 and 6).

- vhost socket paths stay inside socket_dir whoever names them (the API, the state file replayed at
  start): "..", an absolute path outside, a symbolic link on the way or at the name are refused
  with INVALID_ARGUMENT naming the path and the rule, and nothing is created outside; Port.Delete
  removes only the socket riovd itself bound, not a file put at its name afterwards, and reaches it
  through the directory it checked even when that directory was renamed and a link put in its place;
  a client port never connects through a link put at its name.
- eth port devargs pass only the drivers and keys of the configuration file's eth_devargs_allow
  (no API can change it) or, without it, the default list: a pcap driver that would write a file
  as root, keys with path values, a driver or key not listed are refused with a message naming the
  driver or key; the state file's ports are held to the list of the configuration riovd starts
  with.

Unit tests (tests/unit/control/test_svc_port.c) cover the rules one by one; this file shows that a
real riovd serves, refuses and removes what they say, on a real file system. The configuration
file's own allow list and ports are tested in test_ctl.py (test_devargs_allow_list) and
test_cli.py (test_bad_port_fails_start).
"""
import os
import socket
import stat

from riovtest import Riovctl, Riovd, check, log, main, tmpdir

EXIT_RPC = 1


def ctl_for(d):
    return Riovctl(os.path.join(d.tmp, "riovd.sock"))


def port_names(ctl):
    return [p["spec"]["name"] for p in ctl.json("port", "list")["ports"]]


def refused(ctl, args, text, what):
    """riovctl ARGS must exit 1 with INVALID_ARGUMENT and TEXT on stderr, adding no port."""
    before = port_names(ctl)
    r = ctl.run(*args)
    log("    riovctl %s -> %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    check(r.returncode == EXIT_RPC and "INVALID_ARGUMENT" in r.stderr and text in r.stderr,
          "%s: exit 1, INVALID_ARGUMENT, '%s'" % (what, text))
    check(port_names(ctl) == before, "%s: no port added" % what)


def is_socket(path):
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def with_riovd_keys(d, keys):
    """Add KEYS (libconfig settings) to the riovd block of d's configuration file."""
    with open(d.cfg) as f:
        text = f.read()
    with open(d.cfg, "w") as f:
        f.write(text.replace("memory_mb = 256;", "memory_mb = 256; " + keys, 1))


def test_socket_paths_confined():
    tmp = tmpdir("confine")
    out = tmpdir("confine-outside")         # a directory riovd must never create anything in
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n').start()
    try:
        ctl = ctl_for(d)
        add = ["port", "add", "vhost", "x", "--net", "blue", "--socket"]
        refused(ctl, add + ["../escape.sock"], "socket path '../escape.sock' refused: '..' is not allowed",
                "a relative path climbing out of socket_dir")
        check(not os.path.exists(os.path.join(os.path.dirname(tmp), "escape.sock")),
              "nothing was bound beside socket_dir")
        os.mkdir(os.path.join(tmp, "a"))
        refused(ctl, add + ["a/../../escape.sock"], "'..' is not allowed", "'..' in the middle")
        refused(ctl, add + [os.path.join(out, "x.sock")], "must be inside socket_dir",
                "an absolute path outside socket_dir")
        refused(ctl, add + [os.path.join(out, "x.sock"), "--client"], "must be inside socket_dir",
                "a client port's absolute path outside socket_dir")
        os.symlink(out, os.path.join(tmp, "link"))
        refused(ctl, add + ["link/x.sock"], "'link' is a symbolic link", "a symbolic link on the way")
        os.symlink(os.path.join(out, "peer.sock"), os.path.join(tmp, "c.sock"))
        refused(ctl, add + ["c.sock", "--client"], "'c.sock' is a symbolic link",
                "a client port whose socket name is a symbolic link")
        with open(os.path.join(tmp, "file.sock"), "w") as f:
            f.write("keep")
        refused(ctl, add + ["file.sock"], "exists and is not a socket", "a regular file at the path")
        check(open(os.path.join(tmp, "file.sock")).read() == "keep", "the regular file is left as it was")
        check(os.listdir(out) == [], "nothing was created outside socket_dir")

        # accepted: relative in a subdirectory, absolute inside; Port.List names the real path
        os.mkdir(os.path.join(tmp, "vms"))
        ctl.ok("port", "add", "vhost", "vm1", "--net", "blue", "--socket", "vms/vm1.sock")
        ctl.ok("port", "add", "vhost", "vm2", "--net", "blue", "--socket", os.path.join(tmp, "vm2.sock"))
        check(is_socket(os.path.join(tmp, "vms", "vm1.sock")) and is_socket(os.path.join(tmp, "vm2.sock")),
              "riovd listens at both paths inside socket_dir")
        paths = {p["spec"]["name"]: p["spec"]["socket_path"] for p in ctl.json("port", "list")["ports"]}
        check(paths == {"vm1": os.path.join(tmp, "vms", "vm1.sock"), "vm2": os.path.join(tmp, "vm2.sock")},
              "port list shows the paths served (%s)" % paths)

        # a file someone put at the name of riovd's socket is not riovd's to remove
        os.unlink(os.path.join(tmp, "vm2.sock"))
        with open(os.path.join(tmp, "vm2.sock"), "w") as f:
            f.write("not riovd's")
        ctl.ok("port", "delete", "vm2")
        check(open(os.path.join(tmp, "vm2.sock")).read() == "not riovd's",
              "port delete left the file riovd did not create")

        # the directory renamed and a link to the outside put in its place: the socket riovd
        # bound is removed where it now is, nothing is touched through the link
        os.rename(os.path.join(tmp, "vms"), os.path.join(tmp, "vms-moved"))
        os.symlink(out, os.path.join(tmp, "vms"))
        with open(os.path.join(out, "vm1.sock"), "w") as f:
            f.write("victim")
        ctl.ok("port", "delete", "vm1")
        check(open(os.path.join(out, "vm1.sock")).read() == "victim",
              "port delete did not follow the link put in place of the socket's directory")
        check(not os.path.exists(os.path.join(tmp, "vms-moved", "vm1.sock")),
              "port delete removed the socket riovd bound, in its renamed directory")
        check(port_names(ctl) == [], "both ports deleted")
    finally:
        d.stop()


def listener(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    return s


def connects(srv, seconds):
    """Whether riovd connects to the listening socket srv within seconds."""
    srv.settimeout(seconds)
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        return False
    conn.close()
    return True


def test_client_ports_confined():
    """riovd as the vhost-user client connects to a socket in socket_dir, never through a
    symbolic link put at the port's name after Port.Add (it reconnects every 2 s at most)."""
    tmp = tmpdir("confine")
    out = tmpdir("confine-outside")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n').start()
    servers = []
    try:
        ctl = ctl_for(d)
        servers.append(listener(os.path.join(tmp, "peer.sock")))
        ctl.ok("port", "add", "vhost", "c1", "--net", "blue", "--socket", "peer.sock", "--client")
        check(connects(servers[-1], 10), "a client port connects to the front-end's socket in socket_dir")
        ctl.ok("port", "add", "vhost", "c2", "--net", "blue", "--socket", "late.sock", "--client")
        outside = listener(os.path.join(out, "real.sock"))
        servers.append(outside)
        os.symlink(os.path.join(out, "real.sock"), os.path.join(tmp, "late.sock"))
        check(not connects(outside, 6), "a link put at the port's name later is not followed (6 s)")
        check("is not a socket" in d.log_text(), "the log says why riovd does not connect")
        os.unlink(os.path.join(tmp, "late.sock"))
        servers.append(listener(os.path.join(tmp, "late.sock")))
        check(connects(servers[-1], 10), "the front-end's own socket at that name is connected to")
    finally:
        for s in servers:
            s.close()
        d.stop()


def test_state_replay_confined():
    """A port of the state file whose directory became a link meanwhile is not restored (reported
    like any object that cannot be restored); the others are."""
    tmp = tmpdir("confine")
    out = tmpdir("confine-outside")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n').start()
    ctl = ctl_for(d)
    os.mkdir(os.path.join(tmp, "sub"))
    ctl.ok("port", "add", "vhost", "vm1", "--net", "blue", "--socket", "sub/vm1.sock")
    ctl.ok("port", "add", "vhost", "vm2", "--net", "blue", "--socket", "vm2.sock")
    d.stop()
    os.rename(os.path.join(tmp, "sub"), os.path.join(tmp, "sub-old"))
    os.symlink(out, os.path.join(tmp, "sub"))
    d.start()
    try:
        check(port_names(ctl) == ["vm2"], "the port still inside socket_dir is restored, the other not")
        health = ctl.json("node", "info")["health"]
        check(health.startswith("degraded: 1 object"), "node info reports it: %s" % health)
        check("port not restored" in d.log_text() and "symbolic link" in d.log_text(),
              "the log says which port and why")
        check(os.listdir(out) == [], "nothing was bound through the link")
    finally:
        d.stop()


def test_devargs_values_and_state():
    """Without eth_devargs_allow: the default drivers and keys, values without paths; a state-file
    port is held to the list of the configuration riovd starts with."""
    tmp = tmpdir("devargs")
    d = Riovd(tmp, 'networks = ( { name = "wire"; } );\n').start()
    try:
        ctl = ctl_for(d)
        add = ["port", "add", "eth", "up1", "--net", "wire", "--devargs"]
        pcap = os.path.join(tmp, "shadow.pcap")
        refused(ctl, add + ["net_pcap0,tx_pcap=" + pcap], "driver 'net_pcap' is not allowed",
                "net_pcap0,tx_pcap=FILE")
        refused(ctl, add + ["net_pcap0,rx_pcap=/etc/shadow"], "driver 'net_pcap' is not allowed",
                "net_pcap0,rx_pcap=/etc/shadow")
        check(not os.path.exists(pcap), "no file was written")
        refused(ctl, add + ["net_null0,size=/etc/shadow"], "no paths", "a path as a value")
        refused(ctl, add + ["net_af_packet0,iface=lo,path=/tmp/x"], "key 'path'", "a key not listed")
        refused(ctl, add + ["net_null0,size=64,size=128"], "given twice", "a key given twice")
        refused(ctl, add + ["net_vhost0,iface=/tmp/x.sock"], "driver 'net_vhost' is not allowed",
                "DPDK's own vhost PMD (a socket anywhere)")
        ctl.ok("port", "add", "eth", "up0", "--net", "wire", "--devargs", "net_null0,no-rx=1")
        check(port_names(ctl) == ["up0"], "net_null0,no-rx=1 is allowed by default")
    finally:
        d.stop()
    # the state file's port is held to the list of the configuration riovd starts with
    with_riovd_keys(d, 'eth_devargs_allow = "net_null: size";')
    d.start()
    try:
        ctl = ctl_for(d)
        check(port_names(ctl) == [], "a state-file port the new allow list refuses is not restored")
        health = ctl.json("node", "info")["health"]
        check(health.startswith("degraded: 1 object"), "node info reports it: %s" % health)
        check("port not restored" in d.log_text() and "key 'no-rx'" in d.log_text(),
              "the log names the port's refused key")
    finally:
        d.stop()


if __name__ == "__main__":
    main([test_socket_paths_confined, test_client_ports_confined, test_state_replay_confined,
          test_devargs_values_and_state])
