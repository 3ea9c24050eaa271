#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Example of the riov Python client: add a network and a vhost-user port to riovd, list them,
then print riovd's metrics as they stream (Metrics.Watch).

    PYTHONPATH=build/python python3 python/examples/riov-watch.py --net blue --port vm1 --count 3
    ... --connect tls://riov1.example:7443 --cert ops.pem --key ops.key --ca ca.pem

What it sends is what `riovctl net add NET` and `riovctl port add vhost PORT --net NET --socket
SOCKET` send. A network or port that already exists is used as it is. Exit status as riovctl's:
0 done, 1 riovd refused a call, 2 usage error, 3 riovd could not be reached.
"""
import argparse
import sys

try:
    import riov
except ImportError as e:
    sys.exit("riov-watch: cannot import the riov package: %s\n(run it with PYTHONPATH=<build dir>/python, "
             "or install riov with meson install)" % e)

EXIT_RPC, EXIT_USAGE, EXIT_CONNECT = 1, 2, 3


class UsageError(Exception):
    pass


def connect(args):
    """A riov.Client for --connect: unix:PATH, PATH or tls://HOST:PORT (with --cert, --key, --ca)."""
    target = args.connect or ""
    if not target.startswith("tls://"):
        return riov.Client.unix(target[5:] if target.startswith("unix:") else target or None, timeout=args.timeout)
    host, sep, port = target[6:].rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1]:7443
    if not sep or not host or not port.isdigit():
        raise UsageError("bad address %r (want unix:PATH or tls://HOST:PORT)" % target)
    if not (args.cert and args.key and args.ca):
        raise UsageError("tls:// needs --cert, --key and --ca")
    return riov.Client.tls(host, int(port), args.cert, args.key, args.ca, timeout=args.timeout)


def add(client, method, what, **fields):
    """Call an Add method; a name already there is used as it is."""
    try:
        client.call(method, **fields)
        print("added %s" % what)
    except riov.RpcError as e:
        if e.status != "ALREADY_EXISTS":
            raise
        print("%s already exists: using it (%s)" % (what, e.message))


def show_metrics(n, snap):
    print("--- update %d: uptime %d s, %d workers, %d faults" % (n, snap.uptime_s, len(snap.workers), snap.faults))
    for p in snap.ports:
        print("  %-16s %-10s rx %d pkts %d bytes, tx %d pkts %d bytes, dropped %d/%d"
              % (p.port, p.net, p.rx_packets, p.rx_bytes, p.tx_packets, p.tx_bytes, p.rx_dropped, p.tx_dropped))
    for w in snap.workers:
        cycles = w.busy_cycles + w.idle_cycles
        print("  worker %d (lcore %d): %d polls, busy %.1f%%"
              % (w.id, w.lcore, w.polls, 100.0 * w.busy_cycles / cycles if cycles else 0.0))


def run(args):
    with connect(args) as c:
        info = c.call("Node.Info")
        print("riovd %s on %s: health %s, role %s, %d workers"
              % (info.version, info.hostname, info.health, info.role, info.workers))
        add(c, "Network.Add", "network %s" % args.net, network={"name": args.net})
        add(c, "Port.Add", "vhost port %s" % args.port,
            port={"name": args.port, "type": "PORT_TYPE_VHOST", "net": args.net,
                  "socket_path": args.socket or args.port + ".sock"})
        for n in c.call("Network.List").networks:
            print("network %-16s mtu %d, %d ports, mode %s" % (n.spec.name, n.spec.mtu, n.ports, n.mode))
        for p in c.call("Port.List", net=args.net).ports:
            print("port %-16s %s on %s: %s (%s)" % (p.spec.name, riov.riov_pb2.PortType.Name(p.spec.type),
                                                    p.spec.net, p.state, p.spec.socket_path))
        stream = c.stream("Metrics.Watch", interval_ms=args.interval, count=args.count,
                          timeout=args.timeout + args.interval / 1000.0)
        for n, answer in enumerate(stream, 1):
            show_metrics(n, answer.snapshot)


def main():
    ap = argparse.ArgumentParser(description="Add a network and a vhost port to riovd, list them and watch "
                                             "its metrics (an example of the riov Python client).")
    ap.add_argument("--connect", help="unix:PATH, PATH or tls://HOST:PORT (default: $RIOV_SOCKET, else %s)"
                    % riov.DEFAULT_SOCKET)
    ap.add_argument("--cert", help="TLS: client certificate (PEM)")
    ap.add_argument("--key", help="TLS: its key (PEM)")
    ap.add_argument("--ca", help="TLS: the CA that signed riovd's certificate")
    ap.add_argument("--net", default="blue", help="network to add (default blue)")
    ap.add_argument("--port", default="vm1", help="vhost-user port to add (default vm1)")
    ap.add_argument("--socket", help="its vhost-user socket, relative to riovd's socket_dir (default PORT.sock)")
    ap.add_argument("--count", type=int, default=3, help="metrics updates to print (default 3)")
    ap.add_argument("--interval", type=int, default=1000, help="between updates, ms (default 1000)")
    ap.add_argument("--timeout", type=float, default=riov.DEFAULT_TIMEOUT, help="seconds per call (default 10)")
    args = ap.parse_args()
    if args.count < 1 or args.interval < 1:
        ap.error("--count and --interval must be positive")
    try:
        run(args)
    except UsageError as e:
        print("riov-watch: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    except riov.RpcError as e:
        print("riov-watch: %s" % e, file=sys.stderr)
        return EXIT_RPC
    except riov.TransportError as e:
        print("riov-watch: %s" % e, file=sys.stderr)
        return EXIT_CONNECT
    return 0


if __name__ == "__main__":
    sys.exit(main())
