#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""An eth port's own TX offloads (issue 22).

A dpdk-testpmd guest sends TSO frames (tso_sender.py: 50 TCP frames of 7,000 bytes, GSO_TCPV4)
through riovd to an eth port whose device offers TCP/UDP checksums and TSO: DPDK's virtio-user
(probed by EAL at riovd's start from the configuration file's eal_args, the way an operator gives
riovd a device whose devargs hold a path), attached to a second dpdk-testpmd acting as the
vhost-user back-end (net_vhost with tso=1, rxonly). With the port's offloads on, riovd hands the
frames whole to the device (offload_frames_out, no sw_segmented) and the back-end receives frames
of 7,054 bytes; with them off (`offloads = false;`) riovd cuts them itself into 250 segments and the
back-end receives frames of at most 1,514 bytes. What riovd sent out of the port plus what a full TX
ring made it drop (counted) is every frame, and the back-end received what riovd sent. (net_tap offers both offloads too, but riovd does
not use them: see eth_tx_offloads() in dataplane/dp.c.)
"""
import os
import re
import signal
import subprocess

import riovtest
import tso_sender
from riovtest import Riovctl, Riovd, check, log, main, tmpdir, wait_for

FRAMES = 50
PAYLOAD = 7000
FRAME_BYTES = 14 + 20 + 20 + PAYLOAD


class Backend:
    """dpdk-testpmd with a net_vhost port (tso=1) that counts what it receives."""

    def __init__(self, tmp, sock):
        self.sock = sock
        self.logf = os.path.join(tmp, "backend.log")

    def start(self):
        args = ["stdbuf", "-oL", riovtest.TESTPMD, "--no-huge", "-m", "512", "--no-pci",
                "--file-prefix", "riovbe%d" % os.getpid(), "--vdev", "net_vhost0,iface=%s,tso=1" % self.sock,
                "--", "-i", "--forward-mode=rxonly", "--total-num-mbufs=8192"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=open(self.logf, "w"),
                                     stderr=subprocess.STDOUT)
        riovtest._procs.append(self.proc)
        wait_for(lambda: "testpmd>" in open(self.logf).read() and os.path.exists(self.sock), 60, "back-end")
        self.cmd("start")
        return self

    def cmd(self, c):
        self.proc.stdin.write((c + "\n").encode())
        self.proc.stdin.flush()

    def stop(self):
        """(packets, bytes) received."""
        self.cmd("stop")
        wait_for(lambda: "Accumulated forward statistics" in open(self.logf).read(), 30, "back-end statistics")
        self.cmd("show port stats 0")
        wait_for(lambda: "RX-bytes:" in open(self.logf).read(), 30, "back-end port statistics")
        self.cmd("quit")
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
        text = open(self.logf).read()
        m = re.search(r"RX-packets:\s+(\d+)\s+RX-missed:\s+\d+\s+RX-bytes:\s+(\d+)", text)
        return (int(m.group(1)), int(m.group(2))) if m else (-1, -1)


def run(offloads):
    tmp = tmpdir("eth-ol")
    be_sock = os.path.join(tmp, "backend.sock")
    be = Backend(tmp, be_sock).start()
    d = Riovd(tmp, 'networks = ( { name = "blue"; } );\n'
                   'ports = ( { name = "tp"; type = "vhost"; net = "blue"; socket = "tp.sock"; },\n'
                   '  { name = "up0"; type = "eth"; net = "blue"; devargs = "net_virtio_user0";%s } );\n'
              % ("" if offloads else " offloads = false;"))
    with open(d.cfg) as f:
        text = f.read()
    with open(d.cfg, "w") as f:
        f.write(text.replace("memory_mb = 256;", 'memory_mb = 256; eal_args = "--vdev=net_virtio_user0,path=%s,'
                             'queues=1"; eth_devargs_allow = "net_virtio_user";' % be_sock, 1))
    d.start()
    try:
        pcap = os.path.join(tmp, "tso.pcap")
        tso_sender.tcp_pcap(pcap, "02:00:00:00:00:99", "10.93.0.1", FRAMES, PAYLOAD)
        sent = tso_sender.TsoSender(tmp, d.socket("tp"), pcap, "02:00:00:00:00:99", 0).run()
        check(sent == FRAMES, "testpmd sent %d of %d TSO frames" % (sent, FRAMES))
        ctl = Riovctl(os.path.join(tmp, "riovd.sock"))
        want = FRAMES if offloads else 5 * FRAMES
        # what a full TX ring refused is counted (ring_full): the back-end polls on a shared CPU
        wait_for(lambda: sum(int(ctl.json("port", "stats", "up0")["ports"][0].get(k, 0))
                             for k in ("tx_packets", "tx_dropped")) >= want, 30, "riovd sent the frames out of up0")
        st = ctl.json("port", "stats", "up0")["ports"][0]
        pkts, nbytes = be.stop()
        log("  offloads %s: back-end received %d frames, %d bytes; riovd up0 %s" % (
            "on" if offloads else "off", pkts, nbytes,
            {k: v for k, v in st.items() if k.startswith(("offload", "sw_", "tx_"))}))
        out, cut = int(st.get("offload_frames_out", 0)), int(st.get("sw_segmented", 0))
        sent_out, dropped = int(st.get("tx_packets", 0)), int(st.get("tx_dropped", 0))
        check(sent_out + dropped == want and pkts == sent_out and pkts > 0,
              "riovd sent %d frames out of up0 (%d) or counted them as dropped (%d), the back-end received "
              "what it sent (%d)" % (want, sent_out, dropped, pkts))
        if offloads:
            check(out == FRAMES and cut == 0, "riovd passed the TSO frames whole to the device (%d) and cut "
                  "none itself (%d)" % (out, cut))
            check(nbytes == pkts * FRAME_BYTES, "the back-end received whole %d-byte frames (%d bytes in %d)"
                  % (FRAME_BYTES, nbytes, pkts))
        else:
            check(out == 0 and cut == FRAMES and int(st.get("sw_segments", 0)) == 5 * FRAMES,
                  "offloads off: riovd cut the %d frames into %s segments itself (%d), passed none whole (%d)"
                  % (FRAMES, st.get("sw_segments", 0), cut, out))
            check(nbytes <= pkts * 1514, "the back-end received frames of at most 1,514 bytes (%d bytes in %d)"
                  % (nbytes, pkts))
    finally:
        d.stop()
        if be.proc.poll() is None:
            be.proc.kill()


def test_tso_to_device():
    run(True)


def test_tso_to_device_offloads_off():
    run(False)


if __name__ == "__main__":
    main([test_tso_to_device, test_tso_to_device_offloads_off])
