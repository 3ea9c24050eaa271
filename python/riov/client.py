# SPDX-License-Identifier: BSD-3-Clause
"""A blocking client of riovd's control API (riov.v1) over its Unix socket or TCP + TLS 1.3.

Wire format (docs/api.md, proto/frame.h): every frame is a 4-byte big-endian length N, then N
bytes of a packed riov.v1.Frame whose payload is the packed request or response message. The
methods, their request and response types and whether they stream come from the descriptors
protoc generated from proto/riov.proto (riov_pb2), never from a list kept here.

Security model: riovd is trusted only as far as TLS verifies it (its certificate must chain to
the given CA and name the host); over a Unix socket the file permissions decide. Answers are still
read defensively: a frame's length is checked against max_frame before its body is read, and an
answer must carry the request's id (or 0, for riovd's connection-level errors).

One Client per thread: calls on one connection are answered in order.
"""
import difflib
import os
import socket
import ssl
import struct

try:
    from google.protobuf import message as _message
    from google.protobuf import message_factory, symbol_database
except ImportError as e:
    raise ImportError("riov needs the protobuf runtime (Debian: apt-get install python3-protobuf): %s" % e) from e
try:
    from . import riov_pb2
except ImportError as e:
    raise ImportError("riov_pb2 is generated from proto/riov.proto at build time: import riov from the build "
                      "directory (PYTHONPATH=build/python) or from its installed place, not from the source "
                      "tree: %s" % e) from e

DEFAULT_SOCKET = "/run/riov/riovd.sock"
MAX_FRAME = 1 << 20  # RIOV_FRAME_MAX_DEFAULT: riovd's default limit for a frame's body
DEFAULT_TIMEOUT = 10.0  # seconds, per connect, send and receive (riovctl's default)
_HDR = struct.Struct(">I")
_TLS_REFUSED = (" (riovd refuses a client without a certificate, and one whose certificate does not chain to its "
                "tls_ca or that its tls_roles do not admit: its log says why)")


class RpcError(Exception):
    """riovd answered a call with a status other than OK.

    Attributes: method ("Network.Add"), code (the riov.v1.Status number), status (its name,
    "ALREADY_EXISTS"; "UNKNOWN_STATUS_<n>" for a number this client does not know) and message
    (riovd's sentence saying what to do).
    """

    def __init__(self, method, code, message):
        self.method = method
        self.code = code
        self.status = status_name(code)
        self.message = message
        super().__init__("%s: %s: %s" % (method, self.status, message))


class TransportError(OSError):
    """riovd could not be reached or the connection failed: connect, TLS handshake or TLS error,
    timeout, connection closed, or a frame that breaks the wire format. The message says which."""


def status_name(code):
    """The riov.v1.Status name of code ("NOT_FOUND"); UNKNOWN_STATUS_<n> for a newer one."""
    try:
        return riov_pb2.Status.Name(code)
    except ValueError:
        return "UNKNOWN_STATUS_%d" % code


def _message_class(desc):
    get = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
    if get is not None:
        return get(desc)
    return symbol_database.Default().GetSymbol(desc.full_name)


def _catalog():
    """{"Service.Method": MethodDescriptor} for every service of riov.proto."""
    return {"%s.%s" % (svc.name, m.name): m
            for svc in riov_pb2.DESCRIPTOR.services_by_name.values() for m in svc.methods}


METHODS = _catalog()


def method(name):
    """The MethodDescriptor of "Service.Method" (its input_type, output_type, server_streaming).
    Raises ValueError naming the closest methods when riov.proto has no such method."""
    m = METHODS.get(name)
    if m is None:
        near = difflib.get_close_matches(name, METHODS, n=3)
        raise ValueError("riov.v1 has no method %r%s" % (
            name, " (did you mean %s?)" % ", ".join(near) if near else
            "; methods are \"Service.Method\", e.g. \"Node.Info\""))
    return m


def request(name, **fields):
    """A new request message for method name, with fields set (sub-messages may be dicts, enums
    names): request("Network.Add", network={"name": "red"})."""
    return _message_class(method(name).input_type)(**fields)


class Client:
    """A connection to riovd. Make one with Client.unix() or Client.tls(); close it with close()
    or a with block. A call that fails on the transport closes the connection, and so does a
    stream left before its end; the next call connects again (a call is never sent twice)."""

    def __init__(self, connect, timeout=DEFAULT_TIMEOUT, max_frame=MAX_FRAME, refused_hint=""):
        """connect() returns a connected socket; prefer Client.unix() and Client.tls().
        refused_hint is added to a transport error on a connection that has had no answer yet."""
        self._connect = connect
        self.timeout = timeout
        self.max_frame = max_frame
        self._refused_hint = refused_hint
        self._sock = None
        self._answered = False
        self._next_id = 1
        self._reconnect()

    @classmethod
    def unix(cls, path=None, timeout=DEFAULT_TIMEOUT, max_frame=MAX_FRAME):
        """Connect to riovd's Unix socket: path, else $RIOV_SOCKET, else /run/riov/riovd.sock.
        Clients of the Unix socket are admin; its file permissions decide who may connect."""
        path = path or os.environ.get("RIOV_SOCKET") or DEFAULT_SOCKET

        def connect():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect(path)
            except OSError as e:
                s.close()
                hint = ""
                if isinstance(e, (FileNotFoundError, ConnectionRefusedError)):
                    hint = " (is riovd running? pass its socket path or set RIOV_SOCKET)"
                elif isinstance(e, PermissionError):
                    hint = " (are you in group riov, or root?)"
                raise TransportError("cannot connect to %s: %s%s" % (path, e.strerror or e, hint)) from None
            return s
        return cls(connect, timeout, max_frame)

    @classmethod
    def tls(cls, host, port, cert, key, ca, timeout=DEFAULT_TIMEOUT, max_frame=MAX_FRAME):
        """Connect to riovd's TLS listener (riovd --rpc-listen, or rpc_listen in riovd.conf).

        cert and key: the client certificate and its key (PEM files); riovd's tls_roles (or the
        certificate's OU without them) decides its role, and refuses a client without one.
        ca: the CA file riovd's certificate must chain to; the certificate must also name host
        (a DNS name or an IP address). Only TLS 1.3 is offered.
        """
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the server and its name
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        try:
            ctx.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as e:
            raise TransportError("cannot load the CA file %s: %s" % (ca, e)) from None
        if cert:
            try:
                ctx.load_cert_chain(cert, key)
            except (OSError, ssl.SSLError) as e:
                raise TransportError("cannot load the client certificate %s and key %s (or they do not "
                                     "match): %s" % (cert, key, e)) from None

        def connect():
            try:
                raw = socket.create_connection((host, port), timeout=timeout)
            except OSError as e:
                raise TransportError("cannot connect to %s:%s: %s" % (host, port, e.strerror or e)) from None
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small frames: no delayed ACKs
            try:
                return ctx.wrap_socket(raw, server_hostname=host)
            except ssl.SSLCertVerificationError as e:
                raw.close()
                raise TransportError("TLS handshake with %s:%s failed: riovd's certificate: %s (is %s "
                                     "the CA that signed it, and does it name %s?)"
                                     % (host, port, e.verify_message, ca, host)) from None
            except (OSError, ssl.SSLError) as e:
                raw.close()
                raise TransportError("TLS handshake with %s:%s failed: %s%s" % (host, port, e, _TLS_REFUSED)) from None
        # TLS 1.3: riovd checks the client's certificate after the client's side of the handshake
        # is done, so its refusal mostly shows at the first call
        return cls(connect, timeout, max_frame, refused_hint=_TLS_REFUSED)

    def close(self):
        """Close the connection (a later call connects again)."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, name, req=None, *, timeout=None, **fields):
        """Call unary method name ("Port.Add") with req, a message of its request type, or a new
        one made from fields (see request()); return the response message.
        Raises RpcError when riovd refuses, TransportError when the call could not be made or
        answered, TypeError for a stream method or a request of the wrong type."""
        m = method(name)
        if m.server_streaming:
            raise TypeError("%s is a server stream: use Client.stream()" % name)
        rid = self._send(m, name, req, fields)
        resp, _ = self._answer(m, name, rid, timeout)
        return resp

    def stream(self, name, req=None, *, timeout=None, **fields):
        """Call server-streaming method name ("Metrics.Watch") and yield each answer until riovd
        ends the stream. timeout bounds the wait for each answer (default: the client's). Leaving
        the loop early closes the connection (the next call connects again). Raises as call()."""
        m = method(name)
        if not m.server_streaming:
            raise TypeError("%s is not a stream: use Client.call()" % name)
        rid = self._send(m, name, req, fields)
        ended = False
        try:
            while not ended:
                try:
                    resp, ended = self._answer(m, name, rid, timeout)
                except RpcError:
                    ended = True  # an error answer ends the stream
                    raise
                yield resp
        finally:
            if not ended:
                self.close()  # riovd keeps sending: this connection's answers are no longer in step

    # --- frames -------------------------------------------------------------------------------

    def _reconnect(self):
        self._sock = self._connect()
        self._answered = False

    def _send(self, m, name, req, fields):
        if req is None:
            req = _message_class(m.input_type)(**fields)
        elif fields:
            raise TypeError("give %s either a request message or its fields, not both" % name)
        elif not isinstance(req, _message.Message) or req.DESCRIPTOR.full_name != m.input_type.full_name:
            got = req.DESCRIPTOR.full_name if isinstance(req, _message.Message) else type(req).__name__
            raise TypeError("%s takes a %s, not a %s" % (name, m.input_type.full_name, got))
        rid = self._next_id
        self._next_id += 1
        body = riov_pb2.Frame(request_id=rid, method=name, payload=req.SerializeToString()).SerializeToString()
        if len(body) > self.max_frame:
            raise ValueError("the %s request is %d bytes, above the frame limit of %d bytes (max_frame)"
                             % (name, len(body), self.max_frame))
        if self._sock is None:
            self._reconnect()
        try:
            self._sock.sendall(_HDR.pack(len(body)) + body)
        except OSError as e:
            self._fail("cannot send %s to riovd" % name, e)
        return rid

    def _answer(self, m, name, rid, timeout):
        """Read the answer to request rid: (response, stream_end); raises RpcError on a status."""
        if timeout is not None:
            self._sock.settimeout(timeout)
        try:
            f = self._frame(name)
        finally:
            if timeout is not None and self._sock is not None:
                self._sock.settimeout(self.timeout)
        if f.request_id not in (rid, 0):
            self._fail("riovd answered request %d while %s (request %d) waited" % (f.request_id, name, rid))
        if f.status != riov_pb2.OK:
            if f.request_id == 0:
                self.close()  # a connection-level refusal (frame size, connections): riovd closes it
            raise RpcError(name, f.status, f.message)
        try:
            resp = _message_class(m.output_type).FromString(f.payload)
        except _message.DecodeError:
            self._fail("riovd answered %s with a payload that is not a %s" % (name, m.output_type.full_name))
        return resp, f.stream_end

    def _frame(self, name):
        (n,) = _HDR.unpack(self._read(4, name))
        self._answered = True  # riovd took the connection
        if n == 0:
            self._fail("riovd sent an empty frame")
        if n > self.max_frame:  # checked before the body is read: it is never buffered
            self._fail("riovd announced a frame of %d bytes, above this client's limit of %d bytes "
                       "(max_frame)" % (n, self.max_frame))
        try:
            return riov_pb2.Frame.FromString(self._read(n, name))
        except _message.DecodeError:
            self._fail("riovd sent a frame that is not a riov.v1.Frame")

    def _read(self, n, name):
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self._sock.recv(n - len(buf))
            except (TimeoutError, socket.timeout):
                self._fail("timed out after %g s waiting for riovd's answer to %s"
                           % (self._sock.gettimeout(), name))
            except ssl.SSLError as e:
                self._fail("TLS error waiting for the answer to %s" % name, e)
            except OSError as e:
                self._fail("connection error waiting for the answer to %s" % name, e)
            if not chunk:
                self._fail("riovd closed the connection before answering %s" % name)
            buf += chunk
        return bytes(buf)

    def _fail(self, what, err=None):
        """Close the connection and raise TransportError(what[: err])."""
        self.close()
        if err is not None:
            what += ": %s" % (err.strerror or err)
        raise TransportError(what + ("" if self._answered else self._refused_hint))
