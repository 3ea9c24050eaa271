/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov RPC server: protobuf frames (proto/frame.h) over a Unix socket and TCP+TLS 1.3, on the
 * caller's libevent event_base. Control thread only: every function here and every handler runs
 * on the thread that runs the event_base.
 *
 * Roles: Unix socket clients are admin (the socket is mode 0660, group riov; its directory must
 * pass riov_rpc_dir_check(), and the socket is bound and given its mode through descriptors, so
 * no symbolic link is followed). A TLS client's role comes from its verified certificate:
 * tls_roles rules when configured, else the legacy rule (OU=admin is admin, anything else
 * read-only); see rpc_tls.c. Each method needs the role given
 * to riov_rpc_register() (riovd declares it beside each handler, control/svc_*.c; Node.Info, built
 * in, is readonly).
 *
 * Limits: each listener has its own connection limit (max_conns for the Unix socket,
 * tls_max_conns for TLS; more are closed at accept and counted), so TCP peers, authenticated or
 * not, never take the local admin's slots; a TLS handshake must finish within
 * tls_handshake_timeout_ms of accept, however much the peer sends; frames above max_frame are
 * refused from their header; a connection stops being read while more than max_inflight answer
 * bytes wait to be sent; a connection silent for idle_timeout_ms, or that leaves a frame
 * incomplete for frame_timeout_ms, is closed. A bad frame closes only its connection.
 */
#ifndef RIOV_CONTROL_RPC_SERVER_H
#define RIOV_CONTROL_RPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "proto/frame.h"

#define RIOV_RPC_DEFAULT_SOCKET "/run/riov/riovd.sock"
#define RIOV_RPC_DEFAULT_GROUP "riov"

struct riov_rpc_server;
struct riov_rpc_call;

struct riov_rpc_config {
	const char *unix_path;      /* Unix socket path; NULL = no Unix socket */
	const char *unix_group;     /* group owning the socket if it exists; NULL = "riov" */
	unsigned unix_mode;         /* 0 = 0660 */
	const char *tls_listen;     /* "ADDR:PORT" or "[ADDR]:PORT"; NULL = no TLS (port 0 = any) */
	const char *tls_cert;       /* server certificate chain (PEM) */
	const char *tls_key;        /* server private key (PEM) */
	const char *tls_ca;         /* CA(s) that sign client certificates (PEM) */
	const char *tls_crl;        /* CRL(s) of those CAs (PEM); NULL/"" = no revocation check */
	const char *tls_roles;      /* certificate identity -> role rules (see rpc_tls.c);
				     * NULL/"" = legacy rule: OU=admin is admin */
	int tls_verify_depth;       /* 0 = 4 */
	unsigned max_conns;         /* Unix socket connections at once; 0 = 64 */
	unsigned tls_max_conns;     /* TLS connections at once (handshaking or not); 0 = 64 */
	unsigned tls_handshake_timeout_ms; /* deadline from accept to a finished handshake, not
					    * extended by traffic; 0 = 10000 */
	size_t max_frame;           /* largest frame body; 0 = RIOV_FRAME_MAX_DEFAULT */
	size_t max_inflight;        /* answer bytes queued per connection before reading pauses;
				     * 0 = 4 MiB */
	unsigned idle_timeout_ms;   /* 0 = 30000 */
	unsigned frame_timeout_ms;  /* a started frame must be complete within this; 0 = 5000 */
	const char *version;        /* reported by Node.Info; NULL = the build's version */
};

/*
 * A unary handler. It reads req (already unpacked and of the registered type), may set *resp to
 * a response message of the method's response type (NULL = an all-default response), and
 * returns 0 (OK), a positive riov.v1.Status, or a negative errno (mapped to a status by
 * riov_rpc_status_from_errno()). On failure it should write a message a person can act on into
 * msg ("port vm1-eth0 already exists"); when it leaves msg empty, the server writes
 * "<method>: <strerror>".
 *
 * *resp and everything it points to must stay valid until the handler returns; the server packs
 * it right after and never frees it. Use riov_rpc_call_alloc()/riov_rpc_call_strdup() for memory
 * that should live exactly as long as the call.
 *
 * A stream handler has the same type; it is called once when the request arrives and then on
 * every tick (riov_rpc_call_set_interval()) until it returns non-zero, calls
 * riov_rpc_call_end_stream(), or the client goes away. Each OK call sends one frame.
 */
typedef int (*riov_rpc_handler)(struct riov_rpc_call *call, const ProtobufCMessage *req,
				ProtobufCMessage **resp, char *msg, size_t msglen);

/** Node.Info extras supplied by riovd: fill workers and health (health is copied). */
typedef void (*riov_rpc_node_info_fn)(void *arg, uint32_t *workers, char *health,
				      size_t healthlen);

/**
 * Create a server and start listening on the configured transports.
 * @param base the caller's event_base; NULL only for use without transports (requests handed to
 *             rpc_dispatch() directly: unit tests, tests/fuzz/fuzz_rpc_requests.c)
 * @param err  a message a person can act on when it fails
 * @return 0 with *out set, or a negative errno (-EADDRINUSE: another server owns the Unix socket;
 *         -EINVAL: bad configuration; -EPROTO: TLS set-up failed; others from the OS).
 */
int riov_rpc_server_new(struct event_base *base, const struct riov_rpc_config *cfg,
			struct riov_rpc_server **out, char *err, size_t errlen);

/**
 * Open a directory riovd trusts (the RPC socket's, the state and vhost socket directories)
 * without following a symbolic link at its name, and check that nobody else can replace what
 * riovd puts there: owned by root or riovd's user, not writable by everyone unless sticky.
 * @param err a message naming the directory and the rule it breaks
 * @return an O_DIRECTORY descriptor (the caller closes it), or -ELOOP/-ENOTDIR (a link or not a
 *         directory), -EPERM (owner or mode), another negative errno from open().
 */
int riov_rpc_dir_check(const char *dir, char *err, size_t errlen);

/** Close every connection and listener, remove the Unix socket and free the server. */
void riov_rpc_server_free(struct riov_rpc_server *srv);

/**
 * Register a unary method. The name must be "Service.Method"; when it is in the catalog
 * (proto/frame.h) req_desc must be the catalog's request type. Registering a name twice
 * replaces the old handler.
 * @param role role needed (RIOV_ROLE_READONLY or RIOV_ROLE_ADMIN)
 * @return 0, -EINVAL (bad name or descriptor mismatch), -ENOMEM.
 */
int riov_rpc_register(struct riov_rpc_server *srv, const char *method, enum riov_role role,
		      riov_rpc_handler handler, const ProtobufCMessageDescriptor *req_desc);

/**
 * Register a server-streaming method (Metrics.Watch). Same rules as riov_rpc_register().
 * @param interval_ms default time between calls of the handler (it may change it per call)
 * @return 0, -EINVAL, -ENOMEM.
 */
int riov_rpc_register_stream(struct riov_rpc_server *srv, const char *method,
			     enum riov_role role, riov_rpc_handler handler,
			     const ProtobufCMessageDescriptor *req_desc, unsigned interval_ms);

/** Set the pointer handlers get from riov_rpc_call_user(). */
void riov_rpc_server_set_user(struct riov_rpc_server *srv, void *user);

/** Set the provider of Node.Info's workers and health (default: 0 workers, "ok"). */
void riov_rpc_server_set_node_info(struct riov_rpc_server *srv, riov_rpc_node_info_fn fn,
				   void *arg);

/** @return the TCP port the TLS listener is bound to (useful with port 0), or 0 without TLS. */
int riov_rpc_server_tls_port(const struct riov_rpc_server *srv);

/** @return the number of open connections. */
unsigned riov_rpc_server_conn_count(const struct riov_rpc_server *srv);

struct evbuffer;

/**
 * Append the RPC server's own Prometheus metrics (format of control/metrics_http.h) to out:
 * riov_rpc_connections, riov_rpc_connections_total, riov_rpc_connections_refused_total,
 * riov_rpc_closed_total{reason=...}, riov_rpc_requests_total{method,result},
 * riov_rpc_requests_unknown_total, riov_rpc_requests_denied_total.
 */
void riov_rpc_server_metrics(const struct riov_rpc_server *srv, struct evbuffer *out);

/** @return the server's user pointer. */
void *riov_rpc_call_user(const struct riov_rpc_call *call);
/** @return the role of the calling client. */
enum riov_role riov_rpc_call_role(const struct riov_rpc_call *call);
/** @return a description of the client for logs ("unix pid 123 uid 0", "tls CN=ops OU=admin"). */
const char *riov_rpc_call_peer(const struct riov_rpc_call *call);
/** @return the method name. */
const char *riov_rpc_call_method(const struct riov_rpc_call *call);
/** @return how many times a stream handler was called before this call (0 on the first). */
uint64_t riov_rpc_call_stream_seq(const struct riov_rpc_call *call);
/** Stream handlers: make this answer the last one. */
void riov_rpc_call_end_stream(struct riov_rpc_call *call);
/** Stream handlers: time until the next call (clamped to [10, 3600000] ms). */
void riov_rpc_call_set_interval(struct riov_rpc_call *call, unsigned ms);
/** Zeroed memory freed by the server after the answer is packed. @return NULL when out of memory. */
void *riov_rpc_call_alloc(struct riov_rpc_call *call, size_t size);
/** A copy of s freed after the answer is packed. @return NULL when out of memory. */
char *riov_rpc_call_strdup(struct riov_rpc_call *call, const char *s);

/**
 * A protobuf-c allocator drawing from the call's memory (riov_rpc_call_alloc()); its free is a
 * no-op. Use it to unpack messages that are part of the answer.
 * @return the allocator (valid until the handler returns).
 */
ProtobufCAllocator *riov_rpc_call_allocator(struct riov_rpc_call *call);

/**
 * Map an errno (negative or positive) to a riov.v1.Status:
 * EINVAL/ERANGE/ENAMETOOLONG/EBADMSG -> INVALID_ARGUMENT, ENOENT/ENODEV/ESRCH -> NOT_FOUND,
 * EEXIST -> ALREADY_EXISTS, EPERM/EACCES -> PERMISSION_DENIED, EBUSY/ENOTEMPTY/EALREADY/
 * EINPROGRESS/ENOTCONN -> FAILED_PRECONDITION, ENOMEM/ENOSPC/EMFILE/ENFILE/ENOBUFS/E2BIG/EMSGSIZE
 * -> RESOURCE_EXHAUSTED, EAGAIN/ECONNREFUSED/EHOSTUNREACH/ENETUNREACH/ECONNRESET ->
 * UNAVAILABLE, ETIMEDOUT -> DEADLINE_EXCEEDED, ENOSYS/EOPNOTSUPP -> UNIMPLEMENTED, else INTERNAL.
 * @return the status (0 for 0).
 */
int riov_rpc_status_from_errno(int err);

#endif
