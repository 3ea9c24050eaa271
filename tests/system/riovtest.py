# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for riov's system tests: a real riovd, real guests (DPDK's virtio-user driver inside
dpdk-testpmd), each in its own process, talking over real vhost-user sockets.

Nothing here is a fake: riovd is the built daemon, guests are Debian's dpdk-testpmd. Every process
is pinned (taskset-like, through DPDK's --lcores) and given a unique file prefix, and everything
started is stopped when the test ends, even on failure.
"""
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("RIOV_BUILD", os.path.join(HERE, "..", "..", "build"))
RIOVD = os.path.join(BUILD, "control", "riovd")
RIOVCTL = os.path.join(BUILD, "tools", "riovctl")
TESTPMD = shutil.which("dpdk-testpmd") or "/usr/bin/dpdk-testpmd"
NCPU = os.cpu_count() or 1
# riovd's worker polls the last CPU; guests and riovd's control thread share the others.
WORKER_CPU = NCPU - 1
GUEST_CPU = 0

_procs = []


EAL_RUN_DIR = "/run/dpdk"


def _remove_eal_dirs(pids):
    """DPDK's runtime directories (EAL_RUN_DIR/<file-prefix>) of programs that are gone: this
    process's DPDK programs are named riov...<our pid>[_...] (testpmd, the bench generators), a
    riovd riovd<its pid>, which riovd removes itself unless it was killed. Left behind they pile up
    by the hundred over `make test` runs."""
    pat = re.compile(r"^riov[a-z]*(%s)(_.*)?$" % "|".join(str(p) for p in pids))
    try:
        names = os.listdir(EAL_RUN_DIR)
    except OSError:
        return
    for n in names:
        if pat.match(n):
            shutil.rmtree(os.path.join(EAL_RUN_DIR, n), ignore_errors=True)


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
    _remove_eal_dirs([os.getpid()] + [p.pid for p in _procs if p.poll() is not None])


atexit.register(_cleanup)


def log(*a):
    print(*a, flush=True)


class TestFailure(Exception):
    pass


class Skip(Exception):
    """The test cannot run on this machine; the message says why. main() reports it as a skip
    (exit 77, which meson counts as SKIP), never as a pass."""


def check(cond, what):
    if not cond:
        raise TestFailure(what)
    log("  ok: " + what)


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise TestFailure("timed out waiting for " + what)


class Riovd:
    """One riovd with a configuration written to a temporary directory. With netns, riovd runs in
    that network namespace (`ip netns exec` replaces itself with riovd: proc is riovd's process);
    its Unix sockets are in the file system, reachable from every namespace."""

    def __init__(self, tmp, config_body, workers=None, extra_args=(), netns=None):
        self.tmp = tmp
        self.netns = netns
        self.cfg = os.path.join(tmp, "riovd.conf")
        self.logf = os.path.join(tmp, "riovd.log")
        self.workers = str(WORKER_CPU if workers is None else workers)
        with open(self.cfg, "w") as f:
            f.write('riovd = { socket_dir = "%s"; state_dir = "%s/state"; rpc_socket = "%s/riovd.sock"; '
                    'memory_mb = 256; };\n' % (tmp, tmp, tmp))
            f.write(config_body)
        self.extra = list(extra_args)
        self.proc = None
        self.counters = None

    def start(self, timeout=60, env=None):
        """Start riovd (again, after stop(): same configuration and state directory; the log is
        appended to) and wait for its new "ready:" line. env: variables added to this start's
        environment (a test fault)."""
        before = count_ready(self)
        args = [RIOVD, "--config", self.cfg, "--workers", self.workers, "--control-cpu", str(GUEST_CPU)]
        args += self.extra
        if self.netns:
            args = ["ip", "netns", "exec", self.netns] + args
        self.proc = subprocess.Popen(args, stdout=open(self.logf, "a"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     env=dict(os.environ, **env) if env else None)
        _procs.append(self.proc)
        def ready():
            if self.proc.poll() is not None:
                raise TestFailure("riovd exited with %d:\n%s" % (self.proc.returncode, self.log_text()[-3000:]))
            return count_ready(self) > before
        wait_for(ready, timeout, "riovd ready")
        return self

    def log_text(self):
        try:
            with open(self.logf, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def socket(self, name):
        return os.path.join(self.tmp, name + ".sock")

    def stop(self, timeout=60):
        """SIGTERM, then parse the final counters riovd prints."""
        if self.proc is None:
            return self.counters
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise TestFailure("riovd did not stop within %d s" % timeout)
        # DPDK's runtime directory of the stopped riovd: riovd removes it (it held nothing)
        rundir = "/var/run/dpdk/riovd%d" % self.proc.pid
        if os.getuid() == 0 and os.path.exists(rundir):
            raise TestFailure("riovd left its DPDK runtime directory %s behind" % rundir)
        text = self.log_text()
        idx = text.rfind("final counters:")
        if idx < 0:
            raise TestFailure("riovd printed no final counters:\n" + text[-3000:])
        self.counters = parse_counters(text[idx:])
        self.rc = self.proc.returncode
        self.proc = None
        return self.counters


class Riovctl:
    """The real riovctl binary, talking to one riovd's Unix socket."""

    def __init__(self, sock):
        self.sock = sock

    def run(self, *args, timeout=30):
        """Returns the CompletedProcess (returncode, stdout, stderr as text)."""
        return subprocess.run([RIOVCTL, "--connect", "unix:" + self.sock] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def ok(self, *args):
        """Run and require exit 0; returns stdout."""
        r = self.run(*args)
        if r.returncode != 0:
            raise TestFailure("riovctl %s exited %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
        return r.stdout

    def json(self, *args):
        """Run with --json and require exit 0; returns the decoded answer."""
        import json
        return json.loads(self.ok("--json", *args))


def count_ready(riovd):
    """Number of "ready:" lines riovd logged so far (a restarted Riovd appends to its log)."""
    return riovd.log_text().count("ready:")


def restart(riovd, timeout=60):
    """Start a stopped Riovd again with the same configuration and state directory."""
    return riovd.start(timeout)


def proc_fds(pid):
    """How many file descriptors process pid has open."""
    return len(os.listdir("/proc/%d/fd" % pid))


def proc_rss_kb(pid):
    """Process pid's resident set (VmRSS), in kB."""
    with open("/proc/%d/status" % pid) as f:
        return next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)


def soak_main(main, name):
    """Run a soak's main(): print "<NAME> PASS" or "<NAME> FAIL: why" and exit 0 or 1."""
    try:
        main()
    except TestFailure as e:
        print("%s FAIL: %s" % (name, e))
        sys.exit(1)
    print("%s PASS" % name)


def parse_counters(text):
    """'port NAME net N TYPE LINK key value key value ...' lines -> {NAME: {key: int}}."""
    ports = {}
    for line in text.splitlines():
        if not line.startswith("port "):
            continue
        tok = line.split()
        d = {"net": tok[3], "type": tok[4], "link": tok[5]}
        rest = tok[6:]
        for k, v in zip(rest[0::2], rest[1::2]):
            try:
                d[k] = int(v)
            except ValueError:
                d[k] = v
        ports[tok[1]] = d
    return ports


_prefix_seq = [0]


class Guest:
    """A DPDK application guest: dpdk-testpmd with a virtio-user port on a vhost-user socket."""

    def __init__(self, name, sock, mode, cpu=GUEST_CPU, queues=1, mrg_rxbuf=True, in_order=True,
                 tx_first=False, pktlen=64, mac=None, peer=None, server=False, extra=(), eal=(),
                 packed=False):
        self.name = name
        self.sock = sock
        self.mode = mode
        self.cpu = cpu
        self.queues = queues
        self.mrg_rxbuf = mrg_rxbuf
        self.in_order = in_order
        self.packed = packed   # packed virtqueues (virtio-user's packed_vq=1)
        self.tx_first = tx_first
        self.pktlen = pktlen
        self.mac = mac
        self.peer = peer
        self.server = server
        self.extra = list(extra)
        self.eal = list(eal)   # more EAL arguments (another --vdev: the guest's port 1 and on)
        self.proc = None
        self.logf = None
        self.stats = None

    def start(self, tmp, timeout=60):
        _prefix_seq[0] += 1
        prefix = "riovt%d_%s_%d" % (os.getpid(), self.name, _prefix_seq[0])
        self.logf = os.path.join(tmp, "%s-%d.log" % (self.name, _prefix_seq[0]))
        vdev = "net_virtio_user0,path=%s,queues=%d,mrg_rxbuf=%d,in_order=%d" % (
            self.sock, self.queues, int(self.mrg_rxbuf), int(self.in_order))
        if self.mac:
            vdev += ",mac=" + self.mac
        if self.server:
            vdev += ",server=1"
        if self.packed:
            vdev += ",packed_vq=1"
        args = ["stdbuf", "-oL", TESTPMD, "--no-huge", "-m", "1024", "--lcores", "0@%d,1@%d" % (self.cpu, self.cpu),
                "--file-prefix", prefix, "--no-pci", "--vdev", vdev] + self.eal + ["--",
                "--forward-mode=" + self.mode, "--nb-cores=1", "--rxq=%d" % self.queues,
                "--txq=%d" % self.queues, "--txpkts=%d" % self.pktlen]
        if self.peer:
            args.append("--eth-peer=0,%s" % self.peer)
        if self.tx_first:
            args.append("--tx-first")
        args += self.extra
        self.proc = subprocess.Popen(args, stdout=open(self.logf, "w"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.PIPE)
        _procs.append(self.proc)
        def up():
            if self.proc.poll() is not None:
                raise TestFailure("guest %s exited with %d:\n%s" % (self.name, self.proc.returncode,
                                                                    self.log_text()[-3000:]))
            return "Press enter to exit" in self.log_text()
        wait_for(up, timeout, "guest %s forwarding" % self.name)
        return self

    def log_text(self):
        with open(self.logf, errors="replace") as f:
            return f.read()

    def stop(self, timeout=60):
        """SIGINT: testpmd stops forwarding and prints per-port statistics."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise TestFailure("guest %s did not stop" % self.name)
        text = self.log_text()
        m = re.search(r"Forward statistics for port 0.*?RX-packets:\s+(\d+)\s+RX-dropped:\s+(\d+).*?"
                      r"TX-packets:\s+(\d+)\s+TX-dropped:\s+(\d+)", text, re.S)
        if not m:
            raise TestFailure("guest %s printed no statistics:\n%s" % (self.name, text[-3000:]))
        self.stats = {"rx": int(m.group(1)), "rx_dropped": int(m.group(2)), "tx": int(m.group(3)),
                      "tx_dropped": int(m.group(4))}
        self.proc = None
        return self.stats


class VethPeer:
    """A Linux peer in a network namespace of its own on a veth pair: the peer end has peer_ip/24,
    the host end (host_if) is for riovd's eth port (or another switch's uplink) and stays silent
    (no IPv6, no ARP answers from the host kernel). With nic_like, the peer's veth sends what a NIC
    would deliver: MTU-sized segments with full checksums (checksumming, TSO and GSO off; a veth
    otherwise passes the kernel's partial checksums on, which af_packet does not complete)."""

    def __init__(self, tag, peer_ip, nic_like=True):
        n = os.getpid() % 100000
        self.ns, self.host_if, self.peer_if = "riov%s%d" % (tag, n), "r%s%dh" % (tag, n), "r%s%dp" % (tag, n)
        self.peer_ip, self.nic_like = peer_ip, nic_like

    def _sh(self, *args, check_rc=True):
        r = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
        if check_rc and r.returncode != 0:
            raise TestFailure("%s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()[-300:]))
        return r

    def ns_run(self, *args, check_rc=True):
        return self._sh("ip", "netns", "exec", self.ns, *args, check_rc=check_rc)

    def start(self):
        self._sh("ip", "netns", "add", self.ns)
        self._sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if)
        self._sh("ip", "link", "set", self.peer_if, "netns", self.ns)
        self._sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % self.host_if)
        self._sh("sysctl", "-qw", "net.ipv4.conf.%s.arp_ignore=8" % self.host_if)
        self._sh("ip", "link", "set", self.host_if, "up")
        self.ns_run("ip", "link", "set", "lo", "up")
        self.ns_run("ip", "link", "set", self.peer_if, "up")
        self.ns_run("ip", "addr", "add", self.peer_ip + "/24", "dev", self.peer_if)
        if self.nic_like:
            self.ns_run("ethtool", "-K", self.peer_if, "tx", "off", "tso", "off", "gso", "off")
        return self

    def pings(self, ip):
        return self.ns_run("ping", "-c", "1", "-W", "1", ip, check_rc=False).returncode == 0

    def stop(self):
        self._sh("ip", "link", "del", self.host_if, check_rc=False)
        self._sh("ip", "netns", "del", self.ns, check_rc=False)


def make_certs(tmp, prefix=""):
    """TLS files in tmp, each name starting with prefix (a second CA's set beside the first): a CA
    (ca.pem, ca.key), a server certificate for 127.0.0.1 (server) and two client certificates,
    admin (CN=ops, OU=admin) and readonly (CN=mon, OU=readonly), each NAME.pem with NAME.key.
    Returns c: c("admin.pem") is the path of tmp/<prefix>admin.pem. Raises Skip without openssl."""
    if shutil.which("openssl") is None:
        raise Skip("the openssl command is not installed")

    def ossl(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    c = lambda n: os.path.join(tmp, prefix + n)
    ossl("req", "-x509", *key, "-keyout", c("ca.key"), "-out", c("ca.pem"), "-days", "2", "-subj",
         "/CN=riov test CA" + (" " + prefix.rstrip("-") if prefix else ""))
    with open(c("server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    with open(c("client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name, subj, ext in (("server", "/CN=localhost", "server.ext"), ("admin", "/CN=ops/OU=admin", "client.ext"),
                            ("readonly", "/CN=mon/OU=readonly", "client.ext")):
        ossl("req", "-new", *key, "-keyout", c(name + ".key"), "-out", c(name + ".csr"), "-subj", subj)
        ossl("x509", "-req", "-in", c(name + ".csr"), "-CA", c("ca.pem"), "-CAkey", c("ca.key"), "-CAcreateserial",
             "-days", "2", "-extfile", c(ext), "-out", c(name + ".pem"))
    return c


def tls_listen_args(c):
    """riovd's arguments for a TLS listener on 127.0.0.1 (a free port) with make_certs' files c."""
    return ["--rpc-listen", "127.0.0.1:0", "--tls-cert", c("server.pem"), "--tls-key", c("server.key"),
            "--tls-ca", c("ca.pem")]


def tls_port(riovd):
    """The port riovd's TLS listener (tls_listen_args) got at its latest start."""
    found = re.findall(r"control API on tls://127.0.0.1:0 \(port (\d+)\)", riovd.log_text())
    if not found:
        raise TestFailure("riovd logged no TLS listener:\n" + riovd.log_text()[-3000:])
    return int(found[-1])


def tmpdir(name):
    d = tempfile.mkdtemp(prefix="riov-%s-" % name)
    return d


def drops(c):
    return sum(v for k, v in c.items() if k.startswith("drop_"))


def main(tests):
    """Run test functions (all, or those named on the command line); print a line each. Exit 1 if
    any failed, 2 if a name matches no test, 77 if every test that ran was skipped, else 0."""
    failed = skipped = passed = 0
    only = sys.argv[1:]
    names = [fn.__name__ for fn in tests]
    unknown = [o for o in only if o not in names]
    if unknown:
        log("no test named %s; the tests are: %s" % (", ".join(unknown), " ".join(names)))
        sys.exit(2)
    for fn in tests:
        if only and fn.__name__ not in only:
            continue
        log("== " + fn.__name__)
        t0 = time.time()
        try:
            fn()
            passed += 1
            log("PASS %s (%.1f s)" % (fn.__name__, time.time() - t0))
        except Skip as e:
            skipped += 1
            log("SKIP %s: %s" % (fn.__name__, e))
        except Exception as e:  # report and go on with the next test
            failed += 1
            log("FAIL %s: %s" % (fn.__name__, e))
        _cleanup()
        del _procs[:]
    if failed:
        sys.exit(1)
    sys.exit(77 if skipped and not passed else 0)
