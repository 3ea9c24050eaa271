#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
#
# TLS roles and revocation of the RPC layer alone (rpc_test_server: the real control/rpc_server.c
# and rpc_tls.c, not full riovd), driven by the real riovctl; issue 12 finding 10:
# - without tls_roles the legacy rule (OU=admin is admin) applies and the server says so;
# - with tls_roles, the first matching rule decides (CN=name, SHA256=fingerprint, CN=*), OU=admin
#   means nothing, a certificate no rule admits or a rule with role none is refused in the
#   handshake, a certificate with two CNs matches no CN rule;
# - a bad tls_roles or tls_crl stops the server with a message naming the rule or file;
# - with tls_crl, a revoked certificate is refused, the others are not.
# Certificates and the CRL are made with the openssl command (openssl ca, a real CRL).
#
# usage: test_rpc_tls_roles.py RPC_TEST_SERVER RIOVCTL
import json
import os
import shutil
import subprocess
import sys
import tempfile

SERVER, RIOVCTL = sys.argv[1], sys.argv[2]
T = tempfile.mkdtemp(prefix="riov-tls-roles-")
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
    r = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if r.returncode != 0:
        print("openssl %s failed: %s" % (args[0], r.stderr[-500:]))
        sys.exit(1)
    return r.stdout


EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def certs():
    ossl("req", "-x509", *EC, "-keyout", f"{T}/ca.key", "-out", f"{T}/ca.pem", "-days", "30",
         "-subj", "/CN=riov test CA")
    os.mkdir(f"{T}/newcerts")
    open(f"{T}/index.txt", "w").close()
    with open(f"{T}/serial", "w") as f:
        f.write("1000\n")
    with open(f"{T}/ca.cnf", "w") as f:
        f.write(f"""[ ca ]
default_ca = test_ca
[ test_ca ]
database = {T}/index.txt
new_certs_dir = {T}/newcerts
certificate = {T}/ca.pem
private_key = {T}/ca.key
serial = {T}/serial
crlnumber = {T}/crlnumber
default_md = sha256
default_days = 30
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
organizationalUnitName = optional
[ server_ext ]
subjectAltName = IP:127.0.0.1
extendedKeyUsage = serverAuth
[ client_ext ]
extendedKeyUsage = clientAuth
""")
    with open(f"{T}/crlnumber", "w") as f:
        f.write("01\n")

    def mk(name, subj, ext="client_ext"):
        ossl("req", "-new", *EC, "-keyout", f"{T}/{name}.key", "-out", f"{T}/{name}.csr",
             "-subj", subj)
        ossl("ca", "-batch", "-config", f"{T}/ca.cnf", "-extensions", ext, "-in",
             f"{T}/{name}.csr", "-out", f"{T}/{name}.pem", "-notext")

    mk("server", "/CN=localhost", "server_ext")
    mk("alice", "/CN=alice")
    mk("bob", "/CN=bob/OU=readonly")
    mk("carol", "/CN=carol")
    mk("mallory", "/CN=mallory/OU=admin")
    mk("eve", "/CN=eve/OU=admin")
    # two CN attributes: CN rules must not match it (which CN would be meant?)
    ossl("req", "-new", *EC, "-keyout", f"{T}/twocn.key", "-out", f"{T}/twocn.csr", "-subj",
         "/CN=alice/CN=zed")
    ossl("x509", "-req", "-in", f"{T}/twocn.csr", "-CA", f"{T}/ca.pem", "-CAkey",
         f"{T}/ca.key", "-set_serial", "4242", "-days", "30", "-out", f"{T}/twocn.pem")
    # bob revoked: a CRL of the CA that lists him
    ossl("ca", "-config", f"{T}/ca.cnf", "-revoke", f"{T}/bob.pem")
    ossl("ca", "-config", f"{T}/ca.cnf", "-gencrl", "-out", f"{T}/crl.pem")
    fp = ossl("x509", "-noout", "-fingerprint", "-sha256", "-in", f"{T}/carol.pem")
    return fp.strip().split("=", 1)[1]


def start(name, *extra):
    """Start a server; returns (process, port) or (None, its stderr) when it refused to start."""
    log = f"{T}/{name}.log"
    args = [SERVER, "--tls", "127.0.0.1:0", "--cert", f"{T}/server.pem", "--key",
            f"{T}/server.key", "--ca", f"{T}/ca.pem", "--unix", f"{T}/{name}.sock", *extra]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
    line = p.stdout.readline().split()
    if not line or line[0] != "ready":
        p.wait(timeout=20)
        return None, open(log).read()
    return p, int(line[1])


def stop(p):
    p.terminate()
    return p.wait(timeout=20)


def ctl(port, who, *args):
    r = subprocess.run([RIOVCTL, "--connect", f"tls://127.0.0.1:{port}", "--ca", f"{T}/ca.pem",
                        "--cert", f"{T}/{who}.pem", "--key", f"{T}/{who}.key", "--timeout", "5",
                        *args], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr.strip()[:200]


def role(port, who):
    rc, out, err = ctl(port, who, "--json", "node", "info")
    if rc != 0:
        return "refused (exit %d: %s)" % (rc, err)
    return json.loads(out)["role"]


def log(name):
    return open(f"{T}/{name}.log").read()


def legacy():
    p, port = start("legacy")
    ok(p is not None, "server without tls_roles starts")
    if not p:
        return
    ok(role(port, "mallory") == "admin", "legacy rule: OU=admin is admin")
    ok(role(port, "alice") == "readonly", "legacy rule: no OU is read-only")
    ok(role(port, "bob") == "readonly", "no tls_crl: a revoked certificate is not checked")
    ok(stop(p) == 0, "legacy server exits cleanly")
    ok("legacy rule" in log("legacy"), "the server says it applies the legacy rule")


def mapping(carol_fp):
    rules = f"CN=alice:admin; CN=bob:readonly;\nSHA256={carol_fp}:admin ; CN=mallory:none"
    p, port = start("roles", "--roles", rules)
    ok(p is not None, "server with tls_roles starts")
    if not p:
        return
    ok(role(port, "alice") == "admin", "CN=alice:admin gives admin")
    rc, _, _ = ctl(port, "alice", "net", "add", "blue")
    ok(rc == 0, "alice may change state")
    ok(role(port, "bob") == "readonly", "CN=bob:readonly gives read-only")
    rc, _, err = ctl(port, "bob", "net", "add", "red")
    ok(rc == 1 and "PERMISSION_DENIED" in err, f"bob may not change state ({err})")
    ok(role(port, "carol") == "admin", "carol is admin by her SHA-256 fingerprint")
    r = role(port, "mallory")
    ok(r.startswith("refused (exit 3"), f"CN=mallory:none refuses mallory (OU=admin): {r}")
    r = role(port, "eve")
    ok(r.startswith("refused (exit 3"), f"no rule for eve: refused although OU=admin ({r})")
    r = role(port, "twocn")
    ok(r.startswith("refused (exit 3"), f"a certificate with two CNs matches no CN rule ({r})")
    ok(role(port, "alice") == "admin", "alice still served after the refusals")
    ok(stop(p) == 0, "roles server exits cleanly")
    text = log("roles")
    ok("CN=mallory" in text and "refuses it" in text, "the log names mallory's refusing rule")
    ok("CN=eve" in text and "no tls_roles rule matches it" in text,
       "the log says no rule matches eve")
    ok("legacy rule" not in text, "no legacy notice with tls_roles")


def bad_config():
    for rules, want in (("CN=alice:root", "role 'root' is not admin, readonly or none"),
                        ("SHA256=abcd:admin", "SHA-256 fingerprint is 64 hex digits"),
                        ("OU=admin:admin", "identity must be CN=name"),
                        ("CN=alice", "want IDENTITY:ROLE"),
                        (" ;\n ; ", "tls_roles holds no rule"),
                        (";".join("CN=u%d:readonly" % i for i in range(65)), "more than 64 rules")):
        p, msg = start("bad", "--roles", rules)
        if p:
            stop(p)
            msg = "(started)"
        last = msg.strip().splitlines()[-1] if msg.strip() else ""
        ok(p is None and want in msg, f"tls_roles {rules[:40]!r} refused at start: {last[:160]}")
    p, msg = start("badcrl", "--crl", f"{T}/ca.pem")
    if p:
        stop(p)
        msg = "(started)"
    last = msg.strip().splitlines()[-1] if msg.strip() else ""
    ok(p is None and "tls_crl" in msg and "ca.pem" in msg,
       f"a tls_crl file without a CRL refused at start: {last[:200]}")


def formats(carol_fp):
    """Blank items and spaces are ignored; a fingerprint may be lower case without colons."""
    fp = carol_fp.replace(":", "").lower()
    p, port = start("formats", "--roles", f" ;\n  SHA256={fp}:admin ;; cn=alice:readonly;")
    ok(p is not None, "rules with blank items, lower-case cn= and a bare fingerprint accepted")
    if not p:
        return
    ok(role(port, "carol") == "admin", "carol admin by her bare lower-case fingerprint")
    ok(role(port, "alice") == "readonly", "cn=alice:readonly matches alice")
    ok(stop(p) == 0, "formats server exits cleanly")


def revocation():
    p, port = start("crl", "--crl", f"{T}/crl.pem", "--roles", "CN=*:readonly")
    ok(p is not None, "server with tls_crl starts")
    if not p:
        return
    ok(role(port, "alice") == "readonly", "CN=*:readonly admits alice (not revoked)")
    r = role(port, "bob")
    ok(r.startswith("refused (exit 3"), f"bob's revoked certificate is refused ({r})")
    ok(role(port, "carol") == "readonly", "carol still served")
    ok(stop(p) == 0, "CRL server exits cleanly")
    ok("certificate revoked" in log("crl"), "the log says bob's certificate is revoked")


def main():
    carol_fp = certs()
    legacy()
    mapping(carol_fp)
    bad_config()
    formats(carol_fp)
    revocation()
    print(f"{passed} passed, {failed} failed")
    if failed:
        for n in ("legacy", "roles", "crl"):
            if os.path.exists(f"{T}/{n}.log"):
                print(f"--- {n}.log\n" + log(n)[-2000:])
    shutil.rmtree(T, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
