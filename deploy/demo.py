#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The demo behind `make demo` (see deploy/demo.sh)."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "system"))
import riovtest  # noqa: E402
from riovtest import Guest, parse_counters, wait_for  # noqa: E402

seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
tmp = tempfile.mkdtemp(prefix="riov-demo-")
logf = os.path.join(tmp, "riovd.log")
print("riov demo: riovd on its embedded defaults; sockets, state and logs in %s" % tmp, flush=True)
print("$ riovd --socket-dir %s --rpc-socket %s/riovd.sock --state-dir %s/state --stats-interval 2"
      % (tmp, tmp, tmp), flush=True)
d = subprocess.Popen([riovtest.RIOVD, "--socket-dir", tmp, "--rpc-socket", tmp + "/riovd.sock",
                      "--state-dir", tmp + "/state", "--stats-interval", "2",
                      "--workers", str(riovtest.WORKER_CPU), "--control-cpu", str(riovtest.GUEST_CPU)],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
riovtest._procs.append(d)
lines = []


def pump(until=None, timeout=0.0):
    """Echo riovd's output; return once a line containing `until` was seen."""
    import select
    end = time.time() + timeout
    while True:
        left = end - time.time()
        if left <= 0 and until is None:
            return True
        r, _, _ = select.select([d.stdout], [], [], max(0.0, min(left, 0.2)) if until is None else 0.2)
        if r:
            line = d.stdout.readline()
            if not line:
                return False
            lines.append(line)
            sys.stdout.write("  riovd| " + line)
            if until and until in line:
                return True
        elif until and time.time() > end:
            return False


if not pump("ready:", 60):
    sys.exit("riovd did not start")
b = Guest("vm2", tmp + "/vm2.sock", "rxonly", mac="02:00:00:00:00:02").start(tmp)
print("guest vm2 (dpdk-testpmd, virtio-user, rxonly) started", flush=True)
a = Guest("vm1", tmp + "/vm1.sock", "txonly", mac="02:00:00:00:00:01", peer="02:00:00:00:00:02").start(tmp)
print("guest vm1 (dpdk-testpmd, virtio-user, txonly 64 B) started; traffic for %d s" % seconds, flush=True)
pump(None, seconds)
sa = a.stop()
pump(None, 1)
sb = b.stop()
d.terminate()
for line in d.stdout:  # riovd prints its final counters, then exits
    lines.append(line)
    sys.stdout.write("  riovd| " + line)
d.wait(timeout=30)
text = "".join(lines)
c = parse_counters(text[text.rfind("final counters:"):])
print()
print("summary:")
print("  guest vm1 sent      %12d packets" % sa["tx"])
print("  riovd vm1 received  %12d packets" % c["vm1"]["rx_packets"])
print("  riovd vm2 delivered %12d packets (%d dropped: vm2's ring was full; vm2 shares its CPU with vm1)" % (
    c["vm2"]["tx_packets"], riovtest.drops(c["vm2"])))
print("  guest vm2 received  %12d packets" % sb["rx"])
print("  descriptors translated through VT-d: %d IOTLB hits, %d misses, %d faults" % (
    c["vm1"]["iotlb_hits"] + c["vm2"]["iotlb_hits"], c["vm1"]["iotlb_misses"] + c["vm2"]["iotlb_misses"],
    c["vm1"]["dma_faults"] + c["vm2"]["dma_faults"]))
ok = sa["tx"] == c["vm1"]["rx_packets"] and sb["rx"] == c["vm2"]["tx_packets"] and sb["rx"] > 0
print("demo %s" % ("OK: every packet accounted for" if ok else "FAILED: counters disagree"))
sys.exit(0 if ok else 1)
