#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Two real guests (dpdk-testpmd with DPDK's virtio-user driver) through riovd.

Packet counts the guests print must agree with riovd's own counters: every packet a guest
transmitted was received by riovd, and every packet riovd delivered was received by the other
guest or counted as a drop with its cause.
"""
import os
import signal
import struct
import subprocess
import time

from riovtest import BUILD, Guest, Riovctl, Riovd, check, drops, log, main, tmpdir, wait_for

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"


def config(queues=1, vm1_extra=""):
    return ('networks = ( { name = "blue"; } );\n'
            'ports = (\n'
            '  { name = "vm1"; type = "vhost"; net = "blue"; socket = "vm1.sock"; queues = %d;%s },\n'
            '  { name = "vm2"; type = "vhost"; net = "blue"; socket = "vm2.sock"; queues = %d; }\n'
            ');\n' % (queues, vm1_extra, queues))


def check_packed(d, vm1, vm2, what=""):
    """vm1's and vm2's ports negotiated packed rings or not, as given (riovctl port list)."""
    ctl = Riovctl(os.path.join(d.tmp, "riovd.sock"))
    wait_for(lambda: all(p["state"] == "up" for p in ctl.json("port", "list")["ports"]), 10, "both ports up")
    pl = {p["spec"]["name"]: p for p in ctl.json("port", "list")["ports"]}
    got = ["packed" in pl[n]["feature_names"] for n in ("vm1", "vm2")]
    kind = lambda p: "packed" if p else "split"  # noqa: E731
    check(got == [vm1, vm2], "%sA's rings %s, B's %s (port list: vm1 %s)" % (
        what, kind(vm1), kind(vm2), ",".join(pl["vm1"]["feature_names"])))


def txonly_rxonly(mrg_rxbuf, in_order, queues=1, seconds=2, pktlen=64, packed=False, vm1_packed_off=False):
    tmp = tmpdir("guests")
    d = Riovd(tmp, config(queues, " packed = false;" if vm1_packed_off else "")).start()
    b = Guest("B", d.socket("vm2"), "rxonly", queues=queues, mrg_rxbuf=mrg_rxbuf, in_order=in_order,
              mac=MAC_B, packed=packed).start(tmp)
    a = Guest("A", d.socket("vm1"), "txonly", queues=queues, mrg_rxbuf=mrg_rxbuf, in_order=in_order,
              mac=MAC_A, peer=MAC_B, pktlen=pktlen, packed=packed).start(tmp)
    if packed:
        check_packed(d, not vm1_packed_off, True)
    time.sleep(seconds)
    sa = a.stop()
    time.sleep(1)  # let riovd deliver what is still in flight to B
    sb = b.stop()
    c = d.stop()
    log("  guest A %s, guest B %s" % (sa, sb))
    log("  riovd vm1 %s" % c["vm1"])
    log("  riovd vm2 %s" % c["vm2"])
    check(sa["tx"] > 0, "guest A transmitted packets (%d)" % sa["tx"])
    # testpmd counts a packet as sent once it is in the TX ring, and closes the device right after it
    # stops: what riovd had not taken by then stays in the ring (the protocol leaves it to the
    # front-end; after a migration the next back-end takes it). A's ring is full at that moment
    # (riovd is the bottleneck), so up to a ring per queue pair may remain when riovd is descheduled.
    left = sa["tx"] - c["vm1"]["rx_packets"]
    check(0 <= left <= 1024 * queues,
          "riovd received what guest A sent but for what A left in its ring at close "
          "(sent %d, received %d, left %d)" % (sa["tx"], c["vm1"]["rx_packets"], left))
    check(c["vm2"]["tx_packets"] == sb["rx"], "guest B received every packet riovd delivered")
    check(sb["rx"] > 0, "guest B received packets (%d)" % sb["rx"])
    check(c["vm1"]["rx_packets"] == c["vm2"]["tx_packets"] + drops(c["vm2"]),
          "every packet riovd took from A was delivered to B or counted as a drop")
    check(c["vm1"]["rx_bytes"] == c["vm1"]["rx_packets"] * pktlen, "byte counters match the packet size")
    check(c["vm1"]["dma_faults"] == 0 and c["vm2"]["dma_faults"] == 0, "no DMA faults")
    check(c["vm1"]["iotlb_hits"] + c["vm1"]["iotlb_misses"] > 0, "descriptors were translated through VT-d")


def test_txonly_rxonly_mrg_inorder():
    txonly_rxonly(True, True)


def test_txonly_rxonly_mrg_noinorder():
    txonly_rxonly(True, False)


def test_txonly_rxonly_nomrg_inorder():
    txonly_rxonly(False, True)


def test_txonly_rxonly_nomrg_noinorder():
    txonly_rxonly(False, False)


def test_txonly_rxonly_2queues():
    txonly_rxonly(True, False, queues=2)


def test_txonly_rxonly_1518_nomrg():
    # 1518 bytes on the wire with the FCS: the largest frame of MTU 1500, in non-mergeable buffers
    txonly_rxonly(False, False, pktlen=1514)


def forwarding(mode, mrg_rxbuf=True, in_order=False, queues=1, seconds=2, packed=False):
    """Both guests forward what they receive back (io or mac); guest A starts with a first burst."""
    tmp = tmpdir("fwd")
    d = Riovd(tmp, config(queues)).start()
    b = Guest("B", d.socket("vm2"), mode, queues=queues, mrg_rxbuf=mrg_rxbuf, in_order=in_order,
              mac=MAC_B, peer=MAC_A, packed=packed).start(tmp)
    a = Guest("A", d.socket("vm1"), mode, queues=queues, mrg_rxbuf=mrg_rxbuf, in_order=in_order,
              mac=MAC_A, peer=MAC_B, tx_first=True, packed=packed).start(tmp)
    if packed:
        check_packed(d, True, True)
    time.sleep(seconds)
    sa = a.stop()
    sb = b.stop()
    c = d.stop()
    log("  guest A %s, guest B %s" % (sa, sb))
    log("  riovd vm1 %s" % c["vm1"])
    log("  riovd vm2 %s" % c["vm2"])
    check(sa["rx"] > 0 and sb["rx"] > 0, "both guests received forwarded packets")
    check(c["vm1"]["rx_packets"] == sa["tx"], "riovd received every packet guest A sent")
    check(c["vm2"]["rx_packets"] == sb["tx"], "riovd received every packet guest B sent")
    # A guest that stopped polling leaves what riovd delivered last in its ring: at most a ring.
    for name, s in (("vm1", sa), ("vm2", sb)):
        inflight = c[name]["tx_packets"] - s["rx"]
        check(0 <= inflight <= 1024 * queues,
              "%s: riovd delivered %d, guest received %d (%d left in its ring)" % (
                  name, c[name]["tx_packets"], s["rx"], inflight))
    check(c["vm1"]["rx_packets"] + c["vm2"]["rx_packets"] ==
          c["vm1"]["tx_packets"] + c["vm2"]["tx_packets"] + drops(c["vm1"]) + drops(c["vm2"]),
          "every packet riovd received was delivered or counted as a drop")
    # A guest's first burst can reach the other guest before that guest's RX vring runs: those
    # packets are dropped and counted (drop_not_ready), which the accounting above includes.


def test_io_forwarding():
    forwarding("io")


def test_mac_forwarding():
    forwarding("mac")


def test_io_forwarding_nomrg_inorder_2queues():
    forwarding("io", mrg_rxbuf=False, in_order=True, queues=2)


# Packed virtqueues (issue 18): testpmd's virtio-user with packed_vq=1
def test_packed_txonly_rxonly_mrg_inorder():
    txonly_rxonly(True, True, packed=True)


def test_packed_txonly_rxonly_2queues():
    txonly_rxonly(True, False, queues=2, packed=True)


def test_packed_txonly_rxonly_1518_nomrg():
    txonly_rxonly(False, False, pktlen=1514, packed=True)


def test_packed_io_forwarding_nomrg_inorder_2queues():
    forwarding("io", mrg_rxbuf=False, in_order=True, queues=2, packed=True)


def test_packed_withheld():
    """vm1 withholds packed rings (packed = false; in the configuration file, features_off
    "packed"): guest A asks for them (packed_vq=1) and gets split ones, guest B gets packed ones,
    and A's frames reach B."""
    txonly_rxonly(True, True, packed=True, vm1_packed_off=True)


def test_guest_restart():
    """Guest A quits and comes back; guest B is served throughout. B's rings are packed, A's
    split in its first and third life and packed in its second (issue 18)."""
    tmp = tmpdir("restart")
    d = Riovd(tmp, config()).start()
    b = Guest("B", d.socket("vm2"), "rxonly", mac=MAC_B, packed=True).start(tmp)
    total_tx = 0
    for round_ in range(3):
        packed = round_ == 1
        a = Guest("A", d.socket("vm1"), "txonly", mac=MAC_A, peer=MAC_B, packed=packed).start(tmp)
        check_packed(d, packed, True, "life %d: " % (round_ + 1))
        time.sleep(2)
        sa = a.stop()
        log("  round %d: guest A sent %d" % (round_, sa["tx"]))
        check(sa["tx"] > 0, "guest A passes traffic in life %d" % (round_ + 1))
        total_tx += sa["tx"]
        time.sleep(0.5)
    sb = b.stop()
    c = d.stop()
    log("  riovd vm1 %s" % c["vm1"])
    log("  riovd vm2 %s" % c["vm2"])
    # What A's ring still held when A stopped it (GET_VRING_BASE) stays there, as the vhost-user
    # spec has it: riovd takes what it has not yet taken at that moment no more. Usually nothing
    # (riovd's worker empties the ring faster than testpmd closes its port); on a loaded machine a
    # few bursts (128 frames once). At most a ring per life (virtio-user: 256), never more than sent.
    left = total_tx - c["vm1"]["rx_packets"]
    log("  frames left in guest A's ring at its stops: %d" % left)
    check(0 <= left <= 3 * 256, "riovd received every packet of all three lives but what A's ring "
          "held when A stopped it (at most a ring per life)")
    check(c["vm2"]["tx_packets"] == sb["rx"], "guest B received every packet riovd delivered")
    check(c["vm1"]["rx_packets"] == c["vm2"]["tx_packets"] + drops(c["vm2"]),
          "all packets delivered or counted")


# flowgen's frames: from 00:01:02:03:04:00 to 00:01:02:03:04:01 (testpmd's fixed addresses), UDP to
# 10.253.0.0 + k for the k-th frame its TX ring accepted (seq_check.c reads k back)
FLOWGEN_DST = "00:01:02:03:04:01"
KILLS = 3
SEQ_CHECK = os.path.join(BUILD, "tests", "system", "seq_check")


def seq_state(path):
    """The checker's last progress line and its resume lines: ({key: int}, [{seq, gap, ...}])."""
    last, resumes = {}, []
    with open(path) as f:
        for line in f:
            tok = line.split()
            if not tok or tok[0] not in ("seq", "resume"):
                continue
            d = {k: int(v) for k, v in (t.split("=") for t in tok[1:])}
            if tok[0] == "seq":
                last = d
            else:
                resumes.append(d)
    return last, resumes


def test_sigkill_full_rate(packed=False):
    """Issue 12's drill: a testpmd pair at full rate while riovd is killed with SIGKILL and
    restarted 3 times (the first time by its test fault, at the one moment of a burst where a
    frame could be delivered twice). Guest A (flowgen) numbers every frame its ring accepts; guest B forwards
    what it receives to a pcap FIFO that seq_check reads. No frame is delivered twice or out of
    order, no ring stalls (no descriptor lost: both streams go on after every restart), and after
    the last restart the guests' counters and riovd's agree."""
    tmp = tmpdir("sigkill")
    fifo, empty = os.path.join(tmp, "b.pcap"), os.path.join(tmp, "empty.pcap")
    os.mkfifo(fifo)
    with open(empty, "wb") as f:   # a pcap with no packets: guest B's port 1 receives nothing
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    cfg = ('networks = ( { name = "blue"; macs = [ "%s@vm2" ]; } );\n'
           'ports = (\n'
           '  { name = "vm1"; type = "vhost"; net = "blue"; socket = "vm1.sock"; client = true; },\n'
           '  { name = "vm2"; type = "vhost"; net = "blue"; socket = "vm2.sock"; client = true; }\n'
           ');\n' % FLOWGEN_DST)
    # the first kill is riovd's test fault, in the middle of a guest-to-guest burst: after A's
    # chains went back, before B's used index moved (the other order delivers that burst twice)
    d = Riovd(tmp, cfg).start(env={"RIOV_FAULT_KILL_DIRECT_FRAMES": "20000"})
    seqf = os.path.join(tmp, "seq.log")
    checker = subprocess.Popen([SEQ_CHECK, fifo], stdout=open(seqf, "w"), stderr=subprocess.STDOUT)
    try:
        # the guests are the vhost-user servers (riovd connects to them, and again after a
        # restart); DPDK's virtio-user server waits in its probe until riovd has connected
        b = Guest("B", d.socket("vm2"), "io", server=True, packed=packed,
                  eal=["--vdev", "net_pcap0,rx_pcap=%s,tx_pcap=%s" % (empty, fifo)]).start(tmp)
        a = Guest("A", d.socket("vm1"), "flowgen", server=True, packed=packed,
                  extra=["--flowgen-flows=2147483647"]).start(tmp)

        firsts = []   # the checker's frame count of the first frame after each restart

        def frames():
            return seq_state(seqf)[0].get("frames", 0)
        wait_for(lambda: frames() > 10000 or d.proc.poll() is not None, 60, "B's frames reaching seq_check")
        check(frames() > 0, "frames went from A to B before the first kill (%d)" % frames())
        for k in range(KILLS):
            if k == 0:
                wait_for(lambda: d.proc.poll() is not None, 60, "riovd's test fault to kill it")
                check(d.proc.returncode == -signal.SIGKILL and "test fault RIOV_FAULT_KILL_DIRECT_FRAMES"
                      in d.log_text(), "kill 1: riovd's test fault killed it in a guest-to-guest burst")
            else:
                d.proc.kill()
                d.proc.wait()
            time.sleep(0.5)          # B forwards what it still holds
            before = frames()
            t0 = time.time()
            d.start()
            wait_for(lambda: frames() > before + 1000, 60,
                     "the stream to go on after kill %d" % (k + 1))
            log("  kill %d: the stream goes on %.2f s after the restart began" % (k + 1, time.time() - t0))
            firsts.append(before + 1)
            check(a.proc.poll() is None and b.proc.poll() is None, "neither guest stopped (kill %d)" % (k + 1))
            time.sleep(2)
        before_last = before
        time.sleep(1)
        sa = a.stop()
        time.sleep(1)                # riovd delivers what A left in flight
        sb = b.stop()                # closes the pcap: seq_check sees the end of the stream
        checker.wait(timeout=60)
        c = d.stop()
    finally:
        if checker.poll() is None:
            checker.kill()
    last, resumes = seq_state(seqf)
    log("  guest A %s, guest B %s" % (sa, sb))
    log("  seq_check %s" % last)
    log("  resumes %s" % resumes)
    log("  riovd (after the last restart) vm1 %s" % c["vm1"])
    log("  riovd (after the last restart) vm2 %s" % c["vm2"])
    check(checker.returncode == 0, "seq_check read a well-formed stream")
    check(last["dup"] == 0, "no frame delivered twice (%d frames, highest sequence %d)"
          % (last["frames"], last["max"]))
    check(last["reorder"] == 0, "no frame out of order")
    check(last["other"] == 0, "every frame B received was one of A's")
    check(last["frames"] == sb["rx"], "seq_check read every frame B received (%d)" % sb["rx"])
    after = [next((r for r in resumes if r["frames"] == f), None) for f in firsts]
    check(None not in after, "the checker saw the pause of every kill")
    log("  frames lost across each kill (in riovd when it was killed, or dropped just before): %s"
        % [r["gap"] for r in after])
    # after the last restart: what riovd delivered is what B got, what it took and did not deliver
    # it counted as a drop, and what A sent since the first frame riovd served went to riovd or
    # was left in A's ring at its close
    r = after[-1]
    got_last = last["frames"] - before_last
    check(got_last == c["vm2"]["tx_packets"],
          "B received what riovd delivered after the last restart (%d)" % got_last)
    check(c["vm1"]["rx_packets"] == c["vm2"]["tx_packets"] + drops(c["vm2"]),
          "every frame riovd took from A after the last restart was delivered or counted as a drop")
    missing_last = last["missing"] - r["missing"]
    check(missing_last <= drops(c["vm2"]),
          "the frames missing since the last restart (%d) are riovd's counted drops (%d)"
          % (missing_last, drops(c["vm2"])))
    # riovd took A's frames first..last after the restart (vm1 rx_packets of them). Its counted
    # drops that seq_check did not see missing are the frames before B's first one (B's ring full
    # at the restart) and after B's last one (dropped at the end of the stream: no later frame
    # shows them missing); the split between the two is not known. Whatever it is, A's frames
    # from the first one riovd served went to riovd but for what A left in its ring at its close.
    unseen = drops(c["vm2"]) - missing_last
    left_least = sa["tx"] - r["seq"] - c["vm1"]["rx_packets"]   # none dropped before B's first
    left_most = sa["tx"] - 1 - last["max"]                       # none dropped after B's last
    check(unseen >= 0 and left_most == left_least + unseen,
          "riovd's drops seq_check did not see (%d) are frames before B's first or after its last "
          "after the last restart" % unseen)
    check(left_least <= 1024 and left_most >= 0,
          "A's frames from the first one riovd served after the last restart went to riovd but for "
          "what A left in its ring at its close (between %d and %d)" % (max(left_least, 0), left_most))


def test_packed_sigkill_full_rate():
    test_sigkill_full_rate(packed=True)


if __name__ == "__main__":
    main([test_txonly_rxonly_mrg_inorder, test_txonly_rxonly_mrg_noinorder,
          test_txonly_rxonly_nomrg_inorder, test_txonly_rxonly_nomrg_noinorder,
          test_txonly_rxonly_2queues, test_txonly_rxonly_1518_nomrg,
          test_io_forwarding, test_mac_forwarding, test_io_forwarding_nomrg_inorder_2queues,
          test_guest_restart, test_sigkill_full_rate,
          test_packed_txonly_rxonly_mrg_inorder,
          test_packed_txonly_rxonly_2queues, test_packed_txonly_rxonly_1518_nomrg,
          test_packed_io_forwarding_nomrg_inorder_2queues, test_packed_sigkill_full_rate,
          test_packed_withheld])
