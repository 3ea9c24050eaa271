#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_metrics: the time of one Metrics.Snapshot against a real riovd with 1,000 vhost ports.

riovd (tests/system/riovtest.py Riovd, the built daemon) starts with 1,000 vhost-user ports
declared in its configuration file (server mode, sockets in a temporary directory, no guests).
The real riovctl then calls `metrics snapshot` N times over the Unix socket; riovctl's own
process start and connection cost is measured with as many `node info` calls and reported next
to it, so the difference is the snapshot itself (collecting, packing and printing 1,000 ports).
Prints "name: value unit" lines. Bounded to about 20 s (start-up included).
"""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from riovtest import Riovctl, Riovd, tmpdir  # noqa: E402

PORTS = 1000
CALLS = int(os.environ.get("BENCH_METRICS_CALLS", "50"))


def timed(ctl, args, n):
    best, total = None, 0.0
    for _ in range(n):
        t0 = time.perf_counter()
        ctl.ok(*args)
        dt = time.perf_counter() - t0
        total += dt
        best = dt if best is None else min(best, dt)
    return total / n * 1e3, best * 1e3


def main():
    tmp = tmpdir("bench-metrics")
    body = ['networks = ( { name = "blue"; } );', "ports = ("]
    body.append(",\n".join('  { name = "p%d"; type = "vhost"; net = "blue"; socket = "p%d.sock"; }' % (i, i)
                           for i in range(PORTS)))
    body.append(");\n")
    t0 = time.perf_counter()
    d = Riovd(tmp, "\n".join(body)).start(timeout=60)
    start_s = time.perf_counter() - t0
    ctl = Riovctl(os.path.join(tmp, "riovd.sock"))
    try:
        snap = ctl.json("metrics", "snapshot")["snapshot"]
        if len(snap["ports"]) != PORTS:
            print("bench_metrics: expected %d ports in the snapshot, got %d" % (PORTS, len(snap["ports"])))
            return 1
        print("riovd start with %d vhost ports: %.2f s" % (PORTS, start_s))
        base, base_best = timed(ctl, ["node", "info"], CALLS)
        snap_ms, snap_best = timed(ctl, ["metrics", "snapshot"], CALLS)
        json_ms, json_best = timed(ctl, ["--json", "stats"], CALLS)
        print("riovctl node info (process + connect baseline): %.2f ms" % base)
        print("riovctl metrics snapshot, %d ports (table): %.2f ms (best %.2f)" % (PORTS, snap_ms, snap_best))
        print("riovctl stats --json, %d ports: %.2f ms (best %.2f)" % (PORTS, json_ms, json_best))
        print("metrics snapshot, %d ports: %.2f ms" % (PORTS, max(snap_best - base_best, 0.0)))
    finally:
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
