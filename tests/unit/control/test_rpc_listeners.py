#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
#
# The RPC layer alone (rpc_test_server: the real control/rpc_server.c and rpc_tls.c, not full
# riovd) against hostile TCP peers, issue 12 finding 3:
# - idle TCP connections on the TLS port (more than the Unix socket's limit) do not lock the
#   local admin out of the Unix socket: each listener has its own connection limit;
# - TLS connections beyond tls_max_conns are refused and counted;
# - a peer that trickles handshake bytes is closed at the handshake deadline (1 s here), which
#   its traffic does not extend (the idle timeout is 60 s here). No timed assertion beyond "closed
#   within a generous bound".
# Certificates are made with the openssl command.
#
# usage: test_rpc_listeners.py RPC_TEST_SERVER RIOVCTL
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SERVER, RIOVCTL = sys.argv[1], sys.argv[2]
T = tempfile.mkdtemp(prefix="riov-listeners-")
passed = failed = 0


def ok(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what)


def ossl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def certs():
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", f"{T}/ca.key", "-out", f"{T}/ca.pem", "-days", "30",
         "-subj", "/CN=riov test CA")
    with open(f"{T}/server.ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    ossl("req", "-new", *ec, "-keyout", f"{T}/server.key", "-out", f"{T}/server.csr", "-subj",
         "/CN=localhost")
    ossl("x509", "-req", "-in", f"{T}/server.csr", "-CA", f"{T}/ca.pem", "-CAkey",
         f"{T}/ca.key", "-CAcreateserial", "-days", "30", "-extfile", f"{T}/server.ext", "-out",
         f"{T}/server.pem")


def start():
    args = [SERVER, "--unix", f"{T}/s.sock", "--max-conns", "4", "--tls", "127.0.0.1:0",
            "--cert", f"{T}/server.pem", "--key", f"{T}/server.key", "--ca", f"{T}/ca.pem",
            "--tls-max-conns", "8", "--handshake-ms", "1000", "--idle-ms", "60000",
            "--state-dir", f"{T}/state", "--metrics", "127.0.0.1:0"]
    log = open(f"{T}/server.log", "w")
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
    line = p.stdout.readline().split()
    if not line or line[0] != "ready":
        print("server did not start:\n" + open(f"{T}/server.log").read())
        p.kill()
        sys.exit(1)
    return p, int(line[1]), int(line[2])


def unix_call():
    r = subprocess.run([RIOVCTL, "--connect", f"unix:{T}/s.sock", "--timeout", "5", "node",
                        "info"], capture_output=True, text=True)
    return r.returncode == 0, (r.stdout + r.stderr).strip()[:200]


def closed_within(s, seconds, trickle=b""):
    """Wait until the server closes s (EOF or reset); send trickle one byte at a time meanwhile."""
    end = time.monotonic() + seconds
    s.settimeout(0.2)
    i = 0
    while time.monotonic() < end:
        if i < len(trickle):
            try:
                s.send(trickle[i:i + 1])
            except OSError:
                return True
            i += 1
        try:
            if s.recv(4096) == b"":
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def main():
    certs()
    p, tls_port, mport = start()
    try:
        # 1. More idle TCP peers on the TLS port than the Unix socket's limit (4).
        idle = [socket.create_connection(("127.0.0.1", tls_port)) for _ in range(12)]
        time.sleep(0.2)
        good, out = unix_call()
        ok(good, f"unix admin served with 12 idle TCP connections open ({out})")
        # 2. The TLS listener's own limit (8): the rest were refused at accept.
        closed = sum(1 for s in idle[8:] if closed_within(s, 5))
        ok(closed == 4, f"TCP connections beyond tls_max_conns closed at accept ({closed}/4)")
        # 3. The idle ones that were accepted are closed at the handshake deadline (1 s) although
        #    the idle timeout is 60 s.
        closed = sum(1 for s in idle[:8] if closed_within(s, 15))
        ok(closed == 8, f"silent TLS peers closed at the handshake deadline ({closed}/8)")
        for s in idle:
            s.close()
        # 4. A peer that trickles a ClientHello (a TLS record header announcing 16 KiB, then a
        #    byte every 200 ms) is closed at the deadline all the same.
        s = socket.create_connection(("127.0.0.1", tls_port))
        ok(closed_within(s, 15, b"\x16\x03\x01\x40\x00" + b"\x01" * 200),
           "trickling TLS peer closed at the handshake deadline")
        s.close()
        m = metrics(mport)
        hs = re.search(r'riov_rpc_closed_total\{reason="handshake_timeout"\} (\d+)', m)
        ok(hs and int(hs.group(1)) >= 9, "handshake timeouts counted (%s)" %
           (hs.group(1) if hs else "missing"))
        ref = re.search(r"riov_rpc_connections_refused_total (\d+)", m)
        ok(ref and int(ref.group(1)) >= 4, "refused TLS connections counted")
        good, out = unix_call()
        ok(good, "unix socket still served at the end")
    finally:
        p.terminate()
        rc = p.wait(timeout=20)
    ok(rc == 0, f"server exits cleanly (status {rc})")
    print(f"{passed} passed, {failed} failed")
    if failed:
        print(open(f"{T}/server.log").read()[-3000:])
    shutil.rmtree(T, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
