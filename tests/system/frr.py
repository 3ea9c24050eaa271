# SPDX-License-Identifier: BSD-3-Clause
"""FRRouting's zebra and bgpd in a network namespace, for the EVPN system tests (issue 14).

One FrrNode is one node's control plane: zebra (which reads the namespace's kernel devices and
FDB, and writes remote MACs and flood entries there) and bgpd (iBGP, address family l2vpn evpn
only, advertise-all-vni), both started the way docs/evpn.md found to work with Debian's FRR 8.4:
a directory of their own owned by frr, `ip netns exec NS /usr/lib/frr/zebra -N NS -f ... -i ...
-z DIR/zserv.api --vty_socket DIR`, the daemons running as frr. vtysh reaches them through
`--vty_socket DIR` from any namespace.

No IPv4 unicast session is needed: `no bgp default ipv4-unicast` and only l2vpn evpn is
activated. The EVPN routes' next hops (the VTEP addresses) resolve through the underlay's
connected route, which zebra knows from the kernel.

The daemons run in the foreground as this process's children (their pids are known at once);
stop() kills them whatever state they are in (also by their pid files, should one have forked),
removes the directory and what `-N` left under /var/run/frr.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import riovtest
from riovtest import Skip, TestFailure, log

FRR_DIR = "/usr/lib/frr"
ZEBRA = os.path.join(FRR_DIR, "zebra")
BGPD = os.path.join(FRR_DIR, "bgpd")
VTYSH = shutil.which("vtysh") or "/usr/bin/vtysh"


def need_frr():
    """Skip (exit 77) when FRR is not installed."""
    missing = [p for p in (ZEBRA, BGPD, VTYSH) if not os.access(p, os.X_OK)]
    if missing:
        raise Skip("FRRouting is not installed (missing %s): apt-get install frr" % ", ".join(missing))
    try:
        import pwd
        pwd.getpwnam("frr")
    except KeyError:
        raise Skip("FRRouting's user frr does not exist: apt-get install frr")


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class FrrNode:
    """zebra + bgpd in network namespace netns: iBGP (AS asn) to each address of neighbors, with
    address family l2vpn evpn and advertise-all-vni. tmpdir is where the node's directory is made
    (the system's temporary directory by default; user frr must be able to enter it)."""

    # BGP timers short enough for a test: keepalive 3 s, hold 9 s; a failed connect is retried
    # after 2 s (FRR's default is 120 s: a peer whose bgpd started later would wait that long
    # for its own retry if the other side's connect came too early)
    KEEPALIVE, HOLD, CONNECT_RETRY = 3, 9, 2

    def __init__(self, netns, router_id, asn, neighbors, tmpdir=None):
        need_frr()
        self.netns = netns
        self.router_id = router_id
        self.asn = int(asn)
        self.neighbors = list(neighbors)
        self.parent = tmpdir
        self.dir = None
        self.procs = {}
        self.started_at = None

    # ---- start and stop

    def _write_config(self):
        d = self.dir
        with open(os.path.join(d, "zebra.conf"), "w") as f:
            f.write("hostname %s\nlog file %s/zebra.log\n" % (self.netns, d))
        lines = ["hostname %s" % self.netns,
                 "log file %s/bgpd.log" % d,
                 "router bgp %d" % self.asn,
                 " bgp router-id %s" % self.router_id,
                 " no bgp default ipv4-unicast",
                 " timers bgp %d %d" % (self.KEEPALIVE, self.HOLD)]
        for n in self.neighbors:
            lines += [" neighbor %s remote-as %d" % (n, self.asn),
                      " neighbor %s timers connect %d" % (n, self.CONNECT_RETRY)]
        lines.append(" address-family l2vpn evpn")
        lines += ["  neighbor %s activate" % n for n in self.neighbors]
        lines += ["  advertise-all-vni", " exit-address-family"]
        with open(os.path.join(d, "bgpd.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def _spawn(self, name, binary):
        d = self.dir
        args = ["ip", "netns", "exec", self.netns, binary, "-N", self.netns,
                "-f", os.path.join(d, name + ".conf"), "-i", os.path.join(d, name + ".pid"),
                "-z", os.path.join(d, "zserv.api"), "--vty_socket", d, "-P", "0"]
        # `ip netns exec` replaces itself with the daemon: p.pid is the daemon's
        p = subprocess.Popen(args, stdout=open(os.path.join(d, name + ".out"), "w"),
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs[name] = p
        riovtest._procs.append(p)   # killed at exit even if stop() is never reached
        return p

    def start(self, timeout=30):
        """Write the configuration, start zebra then bgpd, and wait until both answer vtysh."""
        self.dir = tempfile.mkdtemp(prefix="riov-frr-%s-" % self.netns, dir=self.parent)
        self._write_config()
        shutil.chown(self.dir, "frr", "frr")
        for f in os.listdir(self.dir):
            shutil.chown(os.path.join(self.dir, f), "frr", "frr")
        self.started_at = time.time()
        self._spawn("zebra", ZEBRA)
        self._wait_vty("zebra", timeout)
        self._spawn("bgpd", BGPD)
        self._wait_vty("bgpd", timeout)
        end = time.time() + timeout
        while True:
            j = self._try_json("show bgp l2vpn evpn summary json")
            if j is not None:
                break
            if time.time() > end:
                raise TestFailure("bgpd in %s does not answer vtysh:\n%s" % (self.netns, self.report()))
            time.sleep(0.2)
        log("  FRR in %s: zebra pid %d, bgpd pid %d, router-id %s, neighbors %s (%s)" % (
            self.netns, self.procs["zebra"].pid, self.procs["bgpd"].pid, self.router_id,
            " ".join(self.neighbors), self.dir))
        return self

    def _wait_vty(self, name, timeout):
        sock = os.path.join(self.dir, name + ".vty")
        end = time.time() + timeout
        while not os.path.exists(sock):
            p = self.procs[name]
            if p.poll() is not None:
                raise TestFailure("%s in %s exited with %d:\n%s" % (name, self.netns, p.returncode, self.report()))
            if time.time() > end:
                raise TestFailure("%s in %s made no vty socket within %d s:\n%s" % (name, self.netns, timeout,
                                                                                   self.report()))
            time.sleep(0.1)

    def running(self):
        """Both daemons are still running."""
        return all(self.procs.get(n) is not None and self.procs[n].poll() is None for n in ("zebra", "bgpd"))

    def stop(self):
        """Stop bgpd then zebra (SIGTERM, then SIGKILL after 10 s), whatever state they are in,
        remove the directory and what -N left under /var/run/frr. Safe to call twice."""
        pids = []
        for name in ("bgpd", "zebra"):
            p = self.procs.get(name)
            if p is not None:
                pids.append((name, p.pid, p))
            if self.dir:
                try:
                    with open(os.path.join(self.dir, name + ".pid")) as f:
                        pid = int(f.read().split()[0])
                except (OSError, ValueError, IndexError):
                    pid = None
                if pid and (p is None or pid != p.pid) and self._ours(pid):
                    pids.append((name, pid, None))
        for name, pid, p in pids:
            self._kill(pid, p)
        self.procs = {}
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        for d in ("/var/run/frr/%s" % self.netns, "/etc/frr/%s" % self.netns):
            try:
                os.rmdir(d)     # only if empty: never another FRR's files
            except OSError:
                pass

    def _ours(self, pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return self.dir.encode() in f.read()
        except OSError:
            return False

    @staticmethod
    def _kill(pid, p):
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            end = time.time() + wait
            gone = False
            while time.time() < end:
                if p is not None:
                    if p.poll() is not None:
                        gone = True
                        break
                elif not _alive(pid):
                    gone = True
                    break
                time.sleep(0.05)
            if gone:
                break

    def report(self, lines=40):
        """The last lines of each daemon's log and output (for a failure)."""
        out = []
        for f in ("zebra.out", "zebra.log", "bgpd.out", "bgpd.log"):
            try:
                with open(os.path.join(self.dir or "/nonexistent", f), errors="replace") as fh:
                    tail = fh.read().splitlines()[-lines:]
            except OSError:
                continue
            if tail:
                out.append("--- %s %s\n%s" % (self.netns, f, "\n".join(tail)))
        return "\n".join(out)

    def diagnostics(self):
        """What the node's daemons say (text), and their logs' last lines: for a failure."""
        out = ["=== FRR in %s" % self.netns]
        if self.dir and self.running():
            for c in ("show bgp l2vpn evpn summary", "show evpn vni", "show evpn mac vni all",
                      "show bgp l2vpn evpn route"):
                try:
                    out.append("--- " + c + "\n" + self.vtysh(c, timeout=10).rstrip())
                except Exception as e:  # the diagnostics of a failure must not fail themselves
                    out.append("--- %s: %s" % (c, e))
        else:
            out.append("(not running: %s)" % {n: p.poll() for n, p in self.procs.items()})
        out.append(self.report())
        return "\n".join(out)

    # ---- vtysh

    def vtysh(self, *cmds, timeout=30):
        """Run vtysh commands against this node's daemons; their output (raises on an error)."""
        args = [VTYSH, "--vty_socket", self.dir]
        for c in cmds:
            args += ["-c", c]
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise TestFailure("vtysh %s in %s exited %d: %s" % (" / ".join(cmds), self.netns, r.returncode,
                                                              (r.stderr or r.stdout).strip()[-500:]))
        return r.stdout

    def vtysh_json(self, cmd):
        """One `... json` command's answer, decoded."""
        out = self.vtysh(cmd)
        try:
            return json.loads(out) if out.strip() else {}
        except ValueError as e:
            raise TestFailure("vtysh '%s' in %s: no JSON (%s): %s" % (cmd, self.netns, e, out[:500]))

    def _try_json(self, cmd):
        try:
            return self.vtysh_json(cmd)
        except (TestFailure, subprocess.TimeoutExpired):
            return None

    # ---- what BGP and zebra know

    def peers(self):
        """{neighbor address: BGP state} of the l2vpn evpn sessions."""
        j = self.vtysh_json("show bgp l2vpn evpn summary json")
        # FRR 8.4 answers {"routerId": ..., "peers": {...}}; some versions nest it under the AFI
        if "peers" not in j:
            j = next((v for v in j.values() if isinstance(v, dict) and "peers" in v), {})
        return {a: p.get("state", "?") for a, p in (j.get("peers") or {}).items()}

    def sessions_established(self):
        """Every configured neighbor's l2vpn evpn session is Established."""
        p = self.peers()
        return all(p.get(n) == "Established" for n in self.neighbors)

    def evpn_routes(self, vni=None, rtype=None):
        """The EVPN routes bgpd holds, as a list of dicts: type (2 or 3), mac (type 2, lower
        case), ip (the type-2 route's IP, if any; the type-3 route's originator), nexthop (the
        VTEP the route points to: the next hop of its best path), local (originated here) and
        seq (type 2: the best path's MAC mobility sequence number, 0 without the MM community).
        With vni, the routes imported into that VNI (`show bgp l2vpn evpn route vni N`), else the
        global table (`show bgp l2vpn evpn route`)."""
        cmd = "show bgp l2vpn evpn route"
        if vni is not None:
            cmd += " vni %d" % vni
        if rtype is not None:
            cmd += " type " + {2: "macip", 3: "multicast"}[rtype]
        j = self.vtysh_json(cmd + " json")
        out = []

        def take(prefix, entry):
            m = re.match(r"\[(\d)\]:\[(\d+)\]:\[(\d+)\]:\[([^\]]*)\](?::\[(\d+)\]:\[([^\]]*)\])?", prefix)
            if not m or not isinstance(entry, dict):
                return
            t = int(m.group(1))
            paths = entry.get("paths") or []
            flat = []
            for p in paths:   # the global table: a list of lists of paths; per VNI: a list of paths
                flat += p if isinstance(p, list) else [p]
            def is_best(p):
                b = p.get("bestpath")     # FRR 8.4: true; later versions: {"overall": true, ...}
                return b is True or (isinstance(b, dict) and b.get("overall") is True)
            best = next((p for p in flat if is_best(p)), flat[0] if flat else {})
            nh = (best.get("nexthops") or [{}])[0].get("ip")
            # the MAC mobility sequence number: the MM extended community, absent when it is 0
            ec = (best.get("extendedCommunity") or {}).get("string") or ""
            mm = re.search(r"\bMM:(\d+)", ec)
            # a route this node originated has no peer ("peerId": "(unspec)", weight 32768)
            local = best.get("peerId") in (None, "(unspec)") or best.get("local") is True
            r = {"type": t, "prefix": prefix, "nexthop": nh, "local": local, "paths": len(flat),
                 "seq": int(mm.group(1)) if mm else 0}
            if t == 2:
                r["mac"] = m.group(4).lower()
                r["ip"] = m.group(6) or None
            elif t == 3:
                r["ip"] = m.group(4)
            out.append(r)

        for k, v in j.items():
            if k.startswith("["):             # per-VNI table: prefixes at the top
                take(k, v)
            elif isinstance(v, dict):         # global table: {rd: {prefix: ...}}
                for k2, v2 in v.items():
                    if k2.startswith("["):
                        take(k2, v2)
        return out

    def type2_macs(self, vni):
        """{mac: VTEP address} of the type-2 (MAC/IP) routes in VNI vni that came from other
        nodes."""
        return {r["mac"]: r["nexthop"] for r in self.evpn_routes(vni, 2) if not r["local"]}

    def type3_vteps(self, vni):
        """The originators of the type-3 (inclusive multicast) routes in VNI vni that came from
        other nodes: the remote VTEPs of its flood list."""
        return sorted(r["ip"] for r in self.evpn_routes(vni, 3) if not r["local"])

    def type2_routes(self, vni, mac):
        """The type-2 routes of VNI vni for mac (lower case): a list of route dicts (see
        evpn_routes; "seq" is the best path's MAC mobility sequence number), one per MAC/IP
        prefix."""
        return [r for r in self.evpn_routes(vni, 2) if r["mac"] == mac.lower()]

    def evpn_mac(self, vni, mac):
        """zebra's detail of one MAC of VNI vni (`show evpn mac vni N mac M json`), with its
        MAC mobility sequence numbers (localSequence, remoteSequence), or {} when zebra does not
        have it."""
        try:
            j = self.vtysh_json("show evpn mac vni %d mac %s json" % (vni, mac))
        except TestFailure:
            return {}
        return j.get(mac.lower()) or j.get(mac.upper()) or (j if "type" in j else {})

    def evpn_vni(self, vni):
        """zebra's view of VNI vni (`show evpn vni N json`), or None."""
        j = self.vtysh_json("show evpn vni %d json" % vni)
        return j or None

    def evpn_macs(self, vni):
        """zebra's MACs of VNI vni: {mac: {"type": "local"|"remote", "remoteVtep"|"intf": ...}}."""
        j = self.vtysh_json("show evpn mac vni %d json" % vni)
        return {k.lower(): v for k, v in (j.get("macs") or {}).items()}
