#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""riovd under systemd: the shipped unit verifies, and riovd's readiness notification (sd_notify
READY=1 on $NOTIFY_SOCKET, as systemd's Type=notify expects) comes only once its control socket
accepts calls. No systemd runs as PID 1 here: the notification socket is the test's own."""
import os
import shutil
import socket
import subprocess
import time

from riovtest import RIOVD, Riovctl, Riovd, Skip, check, log, main, tmpdir

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = os.path.join(HERE, "..", "..", "deploy", "riovd.service")


def test_unit_verifies():
    if not shutil.which("systemd-analyze"):
        raise Skip("systemd-analyze is not installed")
    tmp = tmpdir("unit")
    unit = os.path.join(tmp, "riovd.service")
    with open(UNIT) as f:
        text = f.read()
    check("Type=notify" in text, "the unit waits for riovd's readiness (Type=notify)")
    with open(unit, "w") as f:  # point ExecStart at the built binary; the rest as shipped
        f.write(text.replace("/usr/sbin/riovd", RIOVD))
    r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True)
    log(r.stdout + r.stderr)
    check(r.returncode == 0 and "riovd.service" not in r.stderr, "systemd-analyze verify accepts deploy/riovd.service")


def test_ready_notification():
    tmp = tmpdir("notify")
    path = os.path.join(tmp, "notify.sock")
    sk = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sk.bind(path)
    sk.settimeout(60)
    os.environ["NOTIFY_SOCKET"] = path
    try:
        d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n'
                       'ports = ( { name = "vm1"; type = "vhost"; net = "blue"; socket = "vm1.sock"; } );\n')
        d.start()
    finally:
        del os.environ["NOTIFY_SOCKET"]
    msg = sk.recv(4096).decode()
    log("  notification: %r" % msg)
    check("READY=1" in msg, "riovd sent READY=1 on $NOTIFY_SOCKET")
    # READY=1 was sent after the state was restored and the socket listens: a call answers at once
    ctl = Riovctl(os.path.join(tmp, "riovd.sock"))
    t0 = time.time()
    r = ctl.run("port", "list")
    check(r.returncode == 0 and "vm1" in r.stdout, "right after READY=1 the control socket answers (%.0f ms)"
          % ((time.time() - t0) * 1000))
    d.stop()
    sk.settimeout(10)
    msg = sk.recv(4096).decode()
    check("STOPPING=1" in msg, "riovd said STOPPING=1 on SIGTERM")
    sk.close()


if __name__ == "__main__":
    main([test_unit_verifies, test_ready_notification])
