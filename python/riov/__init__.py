# SPDX-License-Identifier: BSD-3-Clause
"""Python client of riovd's control API (riov.v1, proto/riov.proto); see docs/api.md.

    import riov
    with riov.Client.unix() as c:                      # or riov.Client.tls(host, port, cert, key, ca)
        print(c.call("Node.Info").version)
        c.call("Network.Add", network={"name": "red"})
        for answer in c.stream("Metrics.Watch", interval_ms=500, count=3):
            print(answer.snapshot.uptime_s)

Messages are riov.riov_pb2's, generated from proto/riov.proto at build time.
"""
from .client import (DEFAULT_SOCKET, DEFAULT_TIMEOUT, MAX_FRAME, METHODS, Client, RpcError, TransportError, method,
                     request, status_name)
from . import riov_pb2  # loaded by .client, which explains what to do when it is missing

__all__ = ["Client", "RpcError", "TransportError", "DEFAULT_SOCKET", "DEFAULT_TIMEOUT", "MAX_FRAME", "METHODS",
           "method", "request", "status_name", "riov_pb2"]
