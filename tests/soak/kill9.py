#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""make soak: riovd killed with SIGKILL and restarted CYCLES times (default 100) while two
dpdk-testpmd guests pass traffic through it and a client keeps changing networks and ports.

After every restart: every change riovd acknowledged is in its restored state (the one in flight
at the kill may or may not be), the guests were never restarted (the same testpmd processes; they
are the vhost-user servers, riovd reconnects to them) and traffic flows again. At the end: riovd's
file descriptors and RSS after the first start and after the last restart with the client's
networks and ports deleted again, printed and compared (flat: nothing accumulates across restarts).

Real parts only: the built riovd, Debian's dpdk-testpmd (virtio-user, server mode), riovctl.
Not in `make test` (about 5 minutes). Usage: kill9.py [CYCLES]   (RIOV_BUILD: build directory)
"""
import os
import random
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))
from riovtest import (Guest, Riovctl, Riovd, TestFailure, check, log, proc_fds, proc_rss_kb,  # noqa: E402
                      soak_main, tmpdir, wait_for)

MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
# fds may differ by a few (a connection being accepted, a reconnect timer); RSS by allocator noise
FD_SLACK = 4
RSS_SLACK_KB = 8 * 1024


class Changer:
    """A client that adds and deletes networks (s0, s1, ...) and vhost ports on them, recording
    what riovd acknowledged; stop() returns the acknowledged networks and ports and the change
    that was in flight (None if none)."""

    def __init__(self, ctl):
        self.ctl = ctl
        self.nets, self.ports = set(), set()
        self.inflight = None
        self.seq = 0
        self.stop_flag = threading.Event()
        self.thread = None
        self.changes = 0

    def _one(self):
        r = random.random()
        if self.ports and r < 0.25:
            name = sorted(self.ports)[0][0]
            op = ("port-del", name)
            args = ("port", "delete", name)
        elif self.nets and r < 0.5:
            free = sorted(n for n in self.nets if not any(p[1] == n for p in self.ports))
            if not free:
                return
            op = ("net-del", free[0])
            args = ("net", "delete", free[0])
        elif self.nets and r < 0.75:
            self.seq += 1
            net = sorted(self.nets)[-1]
            name = "p%d" % self.seq
            op = ("port-add", (name, net))
            args = ("port", "add", "vhost", name, "--net", net, "--socket", name + ".sock")
        else:
            self.seq += 1
            name = "s%d" % self.seq
            op = ("net-add", name)
            args = ("net", "add", name)
        self.inflight = op
        res = self.ctl.run(*args, timeout=10)
        if res.returncode != 0:
            return False     # riovd died under it (or refused): the change is not acknowledged
        kind, what = op
        if kind == "net-add":
            self.nets.add(what)
        elif kind == "net-del":
            self.nets.discard(what)
        elif kind == "port-add":
            self.ports.add(what)
        else:
            self.ports = {p for p in self.ports if p[0] != what}
        self.inflight = None
        self.changes += 1
        return True

    def _run(self):
        while not self.stop_flag.is_set():
            if self._one() is False:
                return

    def start(self):
        self.stop_flag.clear()
        self.inflight = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=30)
        return set(self.nets), set(self.ports), self.inflight


def state(ctl):
    nets = {n["spec"]["name"] for n in ctl.json("net", "list")["networks"]}
    ports = {(p["spec"]["name"], p["spec"]["net"]) for p in ctl.json("port", "list")["ports"]}
    return nets, ports


def check_restored(ctl, acked_nets, acked_ports, inflight, cycle):
    nets, ports = state(ctl)
    nets.discard("blue")
    ports = {p for p in ports if p[0] not in ("vm1", "vm2")}
    ok_nets = {frozenset(acked_nets)}
    ok_ports = {frozenset(acked_ports)}
    if inflight:   # the change in flight may have been saved before the kill
        kind, what = inflight
        if kind == "net-add":
            ok_nets.add(frozenset(acked_nets | {what}))
        elif kind == "net-del":
            ok_nets.add(frozenset(acked_nets - {what}))
        elif kind == "port-add":
            ok_ports.add(frozenset(acked_ports | {what}))
        else:
            ok_ports.add(frozenset(p for p in acked_ports if p[0] != what))
    if frozenset(nets) not in ok_nets or frozenset(ports) not in ok_ports:
        raise TestFailure("cycle %d: restored networks %s ports %s; acknowledged %s %s, in flight %s"
                          % (cycle, sorted(nets), sorted(ports), sorted(acked_nets), sorted(acked_ports),
                             inflight))
    return nets, ports


def main():
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    tmp = tmpdir("soak")
    cfg = ('networks = ( { name = "blue"; } );\n'
           'ports = ( { name = "vm1"; type = "vhost"; net = "blue"; socket = "vm1.sock"; client = true; },\n'
           '          { name = "vm2"; type = "vhost"; net = "blue"; socket = "vm2.sock"; client = true; } );\n')
    d = Riovd(tmp, cfg).start()
    # testpmd's virtio-user server waits for riovd to connect before it starts forwarding
    b = Guest("B", d.socket("vm2"), "rxonly", mac=MAC_B, server=True).start(tmp)
    a = Guest("A", d.socket("vm1"), "txonly", mac=MAC_A, peer=MAC_B, server=True).start(tmp)
    ctl = Riovctl(os.path.join(tmp, "riovd.sock"))
    guests = (a.proc.pid, b.proc.pid)
    samples = []
    t0 = time.time()
    changes = 0
    for cycle in range(1, cycles + 1):
        wait_for(lambda: int(next(p for p in ctl.json("port", "stats")["ports"]
                                  if p["port"] == "vm2").get("tx_packets", 0)) > 0,
                 60, "cycle %d: traffic from guest A to guest B through riovd" % cycle)
        samples.append((cycle, proc_fds(d.proc.pid), proc_rss_kb(d.proc.pid)))
        ch = Changer(ctl)
        acked_nets, acked_ports = state(ctl)
        acked_nets.discard("blue")
        ch.nets = set(acked_nets)
        ch.ports = {p for p in acked_ports if p[0] not in ("vm1", "vm2")}
        ch.seq = cycle * 1000
        ch.start()
        time.sleep(random.uniform(0.2, 1.0))
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(timeout=30)
        d.proc = None
        acked_nets, acked_ports, inflight = ch.stop()
        changes += ch.changes
        d.start()
        check_restored(ctl, acked_nets, acked_ports, inflight, cycle)
        if a.proc.poll() is not None or b.proc.poll() is not None or (a.proc.pid, b.proc.pid) != guests:
            raise TestFailure("cycle %d: a guest exited" % cycle)
        if cycle % 10 == 0:
            log("  cycle %d: %d acknowledged changes so far, fds %d, RSS %d kB"
                % (cycle, changes, samples[-1][1], samples[-1][2]))
    wait_for(lambda: int(next(p for p in ctl.json("port", "stats")["ports"]
                              if p["port"] == "vm2").get("tx_packets", 0)) > 0,
             60, "traffic after the last restart")
    # back to the first start's networks and ports, so that fds and RSS compare like with like
    nets, ports = state(ctl)
    for name, _ in sorted(ports):
        if name not in ("vm1", "vm2"):
            ctl.ok("port", "delete", name)
    for name in sorted(nets - {"blue"}):
        ctl.ok("net", "delete", name)
    time.sleep(1)
    samples.append((cycles + 1, proc_fds(d.proc.pid), proc_rss_kb(d.proc.pid)))
    first, last = samples[0], samples[-1]
    log("riovd after the first start: %d fds, RSS %d kB; after restart %d and the same networks "
        "and ports again: %d fds, RSS %d kB"
        % (first[1], first[2], cycles, last[1], last[2]))
    log("%d SIGKILL cycles in %.0f s, %d acknowledged changes, none lost; guests never restarted"
        % (cycles, time.time() - t0, changes))
    check(abs(last[1] - first[1]) <= FD_SLACK, "riovd's file descriptors flat (%d -> %d)" % (first[1], last[1]))
    check(last[2] - first[2] <= RSS_SLACK_KB, "riovd's RSS flat (%d -> %d kB)" % (first[2], last[2]))
    sa, sb = a.stop(), b.stop()
    d.stop()
    log("guest A sent %d, guest B received %d (what was sent while riovd was down is lost)"
        % (sa["tx"], sb["rx"]))
    check(sb["rx"] > 0, "guest B received traffic")


if __name__ == "__main__":
    soak_main(main, "SOAK")
