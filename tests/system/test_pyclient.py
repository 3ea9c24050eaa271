#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The Python client (python/riov, docs/api.md "Python client") against a real riovd: over the Unix
socket (calls, a refusal, a metrics stream, the frame-size limit, the example script) and over
TLS 1.3 with certificates made by openssl (roles from the certificate, refused handshakes).

The package is imported from the build directory (<build>/python/riov: the module sources copied
beside the riov_pb2.py protoc generated); meson puts that directory on PYTHONPATH and runs this
file with an interpreter that has python3-protobuf.
"""
import os
import subprocess
import sys

from riovtest import (BUILD, Riovd, Skip, TestFailure, check, log, main, make_certs, tls_listen_args, tls_port,
                      tmpdir, wait_for)

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "examples", "riov-watch.py")


def import_riov():
    """The riov package of the build directory, or Skip saying what is missing."""
    try:
        import riov
    except ImportError as e:
        raise Skip("the Python client is not importable (%s): meson builds it when protoc and python3-protobuf "
                   "are installed (deploy/install-deps.sh)" % e)
    where = os.path.realpath(riov.__file__)
    if not where.startswith(os.path.realpath(BUILD) + os.sep):
        raise TestFailure("riov was imported from %s, not from the build directory %s" % (where, BUILD))
    return riov


def refused(riov, fn, status, text, what):
    """fn() must raise riov.RpcError with status and text in its message."""
    try:
        fn()
    except riov.RpcError as e:
        log("    %s -> %s" % (what, e))
        check(e.status == status and text in e.message and str(e).startswith(e.method + ": " + status),
              "%s: RpcError %s, '%s'" % (what, status, text))
        return
    raise TestFailure("%s: no RpcError" % what)


def transport_fails(riov, fn, text, what):
    """fn() must raise riov.TransportError whose message contains text."""
    try:
        fn()
    except riov.TransportError as e:
        log("    %s -> %s" % (what, e))
        check(text in str(e), "%s: TransportError, '%s'" % (what, text))
        return
    raise TestFailure("%s: no TransportError" % what)


def example(*args):
    """Run python/examples/riov-watch.py with this interpreter and PYTHONPATH."""
    r = subprocess.run([sys.executable, EXAMPLE] + list(args), capture_output=True, text=True, timeout=60)
    log("    riov-watch.py %s -> %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def net_names(c):
    return [n.spec.name for n in c.call("Network.List").networks]


def test_unix_socket():
    riov = import_riov()
    tmp = tmpdir("pyclient")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n').start()
    sock = os.path.join(tmp, "riovd.sock")
    with riov.Client.unix(sock) as c:
        info = c.call("Node.Info")
        check(info.role == "admin" and info.api_version == 1 and info.workers == 1 and info.health == "ok",
              "Node.Info: admin over the Unix socket, api_version 1, 1 worker, health ok")
        r = c.call("Network.Add", network={"name": "red"})
        check(r.network.spec.name == "red" and r.network.spec.mtu == 1500,
              "Network.Add answers with the new network (default MTU 1500)")
        req = riov.request("Port.Add", port={"name": "vm1", "type": "PORT_TYPE_VHOST", "net": "red",
                                             "socket_path": "vm1.sock"})
        p = c.call("Port.Add", req).port
        check(p.state == "waiting for guest" and p.spec.socket_path == os.path.join(tmp, "vm1.sock")
              and os.path.exists(p.spec.socket_path), "Port.Add: a vhost port waiting for its guest on its socket")
        ports = c.call("Port.List").ports
        vhost = riov.riov_pb2.PORT_TYPE_VHOST
        check([(x.spec.name, x.spec.net, x.spec.type) for x in ports] == [("vm1", "red", vhost)],
              "Port.List shows it")
        refused(riov, lambda: c.call("Network.Add", network={"name": "red"}), "ALREADY_EXISTS",
                "network red already exists", "Network.Add of an existing name")
        check(net_names(c) == ["blue", "red"],
              "the refusal changed nothing, and the connection serves the next call")
        for bad, exc in (("Network.Ad", ValueError), ("Metrics.Watch", TypeError)):
            try:
                c.call(bad)
                raise TestFailure("call(%s) was sent" % bad)
            except exc as e:
                check(True, "call(%s) refused before sending: %s" % (bad, e))
        try:
            c.call("Network.Add", riov.request("Port.List"))
            raise TestFailure("a request of the wrong type was sent")
        except TypeError as e:
            check("riov.v1.NetworkAddRequest" in str(e), "a request of the wrong type is refused: %s" % e)

        snaps = [a.snapshot for a in c.stream("Metrics.Watch", interval_ms=100, count=3)]
        check(len(snaps) == 3 and all(s.timestamp_ns > 0 for s in snaps)
              and snaps[0].timestamp_ns < snaps[-1].timestamp_ns and [p.port for p in snaps[-1].ports] == ["vm1"],
              "Metrics.Watch count 3: three snapshots, later ones later, with the port's counters")
        n = 0
        for _ in c.stream("Metrics.Watch", interval_ms=100):  # endless: left after two updates
            n += 1
            if n == 2:
                break
        check(n == 2 and c.call("Node.Info").role == "admin",
              "an endless stream left after 2 updates; the next call connects again")
    small = riov.Client.unix(sock, max_frame=16)
    transport_fails(riov, lambda: small.call("Node.Info"), "above this client's limit of 16 bytes",
                    "an answer larger than max_frame")
    small.close()
    transport_fails(riov, lambda: riov.Client.unix(os.path.join(tmp, "nosuch.sock")), "is riovd running?",
                    "a socket nobody listens on")

    r = example("--connect", "unix:" + sock, "--net", "green", "--port", "vm2", "--count", "2", "--interval", "100")
    check(r.returncode == 0 and "added network green" in r.stdout and "added vhost port vm2" in r.stdout
          and "update 2:" in r.stdout and "port vm2" in r.stdout, "the example adds, lists and watches")
    r = example("--connect", sock, "--net", "green", "--port", "vm2", "--count", "1", "--interval", "100")
    check(r.returncode == 0 and "network green already exists" in r.stdout, "run again it uses what is there")
    r = example("--connect", "unix:" + sock, "--net", "bad/name", "--count", "1")
    check(r.returncode == 1 and "Network.Add: INVALID_ARGUMENT: bad network name" in r.stderr,
          "the example exits 1 with riovd's status and message")
    r = example("--connect", "unix:" + os.path.join(tmp, "nosuch.sock"))
    check(r.returncode == 3 and "is riovd running?" in r.stderr, "the example exits 3 when riovd is not there")
    with riov.Client.unix(sock) as c:
        check([p.spec.name for p in c.call("Port.List", net="green").ports] == ["vm2"],
              "the example's port is in riovd")
    d.stop()


def test_tls_roles():
    riov = import_riov()
    tmp = tmpdir("pyclient")
    c = make_certs(tmp)
    other = make_certs(tmp, prefix="other-")
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n', extra_args=tls_listen_args(c)).start()
    port = tls_port(d)

    def tls(cert, key, ca=c("ca.pem")):
        return riov.Client.tls("127.0.0.1", port, cert, key, ca)
    with tls(c("admin.pem"), c("admin.key")) as admin:
        check(admin.call("Node.Info").role == "admin", "TLS, certificate OU=admin: role admin")
        admin.call("Network.Add", network={"name": "red"})
        check(net_names(admin) == ["blue", "red"], "TLS admin: Network.Add works")
        with tls(c("readonly.pem"), c("readonly.key")) as ro:
            check(ro.call("Node.Info").role == "readonly", "TLS, certificate OU=readonly: role readonly")
            check(net_names(ro) == ["blue", "red"], "TLS readonly: Network.List works")
            refused(riov, lambda: ro.call("Network.Add", network={"name": "green"}), "PERMISSION_DENIED",
                    "Network.Add needs the admin role", "TLS readonly: Network.Add")
        check(net_names(admin) == ["blue", "red"], "the refused call changed nothing")

        # TLS 1.3: the client's handshake is done before riovd checks its certificate, so the
        # refusal (an alert, or the connection closed) may come at connect or at the first call
        for what, cert, key in (("a client without a certificate", None, None),
                                ("a certificate from another CA", other("admin.pem"), other("admin.key"))):
            transport_fails(riov, lambda: tls(cert, key).call("Node.Info"),
                            "riovd refuses a client without a certificate", what + " is refused")
        why = "client certificate /CN=ops/OU=admin refused: unable to get local issuer"
        wait_for(lambda: why in d.log_text(), 5, "riovd's log line on the other CA's certificate")
        check(True, "riovd logged why it refused the other CA's certificate")
        transport_fails(riov, lambda: tls(c("admin.pem"), c("admin.key"), ca=other("ca.pem")),
                        "riovd's certificate", "riovd's certificate checked against another CA")
        check(admin.call("Node.Info").role == "admin", "riovd serves its clients after the refusals")

    tls_args = ["--connect", "tls://127.0.0.1:%d" % port, "--ca", c("ca.pem"), "--count", "2", "--interval", "100"]
    r = example(*tls_args, "--cert", c("admin.pem"), "--key", c("admin.key"))
    check(r.returncode == 0 and "role admin" in r.stdout and "update 2:" in r.stdout, "the example over TLS as admin")
    r = example(*tls_args, "--cert", c("readonly.pem"), "--key", c("readonly.key"), "--net", "green")
    check(r.returncode == 1 and "PERMISSION_DENIED" in r.stderr, "the example over TLS as readonly: exit 1")
    r = example("--connect", "tls://127.0.0.1:%d" % port, "--ca", c("ca.pem"))
    check(r.returncode == 2 and "needs --cert, --key and --ca" in r.stderr, "the example without a certificate: usage")
    d.stop()


if __name__ == "__main__":
    main([test_unix_socket, test_tls_roles])
