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


def notify_socket(tmp):
    """A datagram socket in tmp for riovd's sd_notify messages (as systemd's $NOTIFY_SOCKET)."""
    path = os.path.join(tmp, "notify.sock")
    sk = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sk.bind(path)
    return sk, path


def start_notifying(tmp, env):
    """riovd in tmp with a network and a port, started with the environment variables env (and
    removed from this process's again once it is ready)."""
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n'
                   'ports = ( { name = "vm1"; type = "vhost"; net = "blue"; socket = "vm1.sock"; } );\n')
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        d.start()
    finally:
        for k, v in old.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v
    return d


def messages(sk, seconds):
    """[(time, message)] riovd sent within seconds."""
    out, end = [], time.time() + seconds
    while True:
        left = end - time.time()
        if left <= 0:
            return out
        sk.settimeout(left)
        try:
            out.append((time.time(), sk.recv(4096).decode()))
        except socket.timeout:
            return out


WATCHDOG_USEC = 800000   # systemd's WatchdogSec=0.8: riovd pings every 200 ms


def test_watchdog_pings():
    """With systemd's WATCHDOG_USEC riovd pings (WATCHDOG=1) about four times an interval while
    its control loop and workers run; without it, never (the ready-notification test)."""
    tmp = tmpdir("watchdog")
    sk, path = notify_socket(tmp)
    d = start_notifying(tmp, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC)})
    got = messages(sk, 3.0)
    pings = [t for t, m in got if "WATCHDOG=1" in m.split("\n")]
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    log("  %d pings in 3 s, longest gap %.0f ms" % (len(pings), max(gaps or [0]) * 1000))
    check(len(pings) >= 8, "riovd pinged systemd's watchdog %d times in 3 s (interval 0.8 s)" % len(pings))
    check(all(g < WATCHDOG_USEC / 1e6 for g in gaps), "no gap between pings reached the interval")
    check("watchdog: systemd's interval 800 ms" in d.log_text(), "riovd logged the watchdog's interval")
    d.stop()
    sk.close()


def test_watchdog_stuck_worker():
    """A worker that stops making progress (the test-only fault RIOV_FAULT_HANG_WORKER_MS: worker 0
    spins without polling from that many ms after ready) stops the pings, so that systemd kills
    and restarts riovd at its WatchdogSec; riovd says which worker in its log and its STATUS=."""
    tmp = tmpdir("watchdog-stuck")
    sk, path = notify_socket(tmp)
    d = start_notifying(tmp, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC),
                              "RIOV_FAULT_HANG_WORKER_MS": "1500"})
    if "fault injection is not built in" in d.log_text():
        d.stop()
        raise Skip("riovd was built without fault injection (meson -Dfault_injection=false)")
    got = messages(sk, 5.0)
    pings = [t for t, m in got if "WATCHDOG=1" in m.split("\n")]
    status = [m for t, m in got if m.startswith("STATUS=worker 0")]
    hang = next((t for t, m in got if "STATUS=worker 0" in m), None)
    log("  %d pings; status %r" % (len(pings), status[:1]))
    check(len(pings) >= 4, "riovd pinged the watchdog before the fault (%d pings)" % len(pings))
    check(hang is not None, "riovd told systemd that worker 0 is stuck (STATUS=)")
    after = [t for t in pings if hang is not None and t > hang]
    check(hang is not None and not after, "no ping after the worker got stuck (%d after)" % len(after))
    last = max(pings) if pings else 0
    check(hang is not None and time.time() - last > WATCHDOG_USEC / 1e6,
          "the pings have stopped for longer than the interval: systemd would restart riovd now")
    check("has made no progress" in d.log_text(), "riovd's log names the stuck worker")
    d.proc.kill()    # what systemd does (SIGABRT then SIGKILL); the stuck worker cannot stop cleanly
    d.proc.wait()
    d.proc = None
    sk.close()


if __name__ == "__main__":
    main([test_unit_verifies, test_ready_notification, test_watchdog_pings, test_watchdog_stuck_worker])
