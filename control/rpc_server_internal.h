/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals of the RPC server shared by rpc_server.c and the TLS transport (rpc_tls.c), and
 * reached by unit tests. Not for other folders. Control thread only.
 */
#ifndef RIOV_CONTROL_RPC_SERVER_INTERNAL_H
#define RIOV_CONTROL_RPC_SERVER_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "rpc_server.h"

#define RIOV_RPC_MAX_STREAMS 4u  /* concurrent streams per connection */

struct rpc_listener;
struct rpc_conn;

/* One transport (unix, tls): how to listen, how to finish a connection, how to close. */
struct rpc_transport {
	const char *name;
	/* Start listening; set l->lev. Returns 0 or a negative errno with err filled. */
	int (*listen)(struct riov_rpc_server *srv, struct rpc_listener *l, char *err,
		      size_t errlen);
	/* After BEV_EVENT_CONNECTED: set c->role and c->peer; <0 refuses the peer. NULL when a
	 * connection is ready at accept. */
	int (*handshake_done)(struct rpc_conn *c, char *err, size_t errlen);
	/* Describe the error behind BEV_EVENT_ERROR for the log. */
	void (*describe_error)(struct rpc_conn *c, char *buf, size_t len);
	/* Release what listen() set up besides l->lev (socket path, SSL_CTX). */
	void (*close)(struct riov_rpc_server *srv);
};

extern const struct rpc_transport rpc_transport_unix;
extern const struct rpc_transport rpc_transport_tls;

struct rpc_listener {
	struct riov_rpc_server *srv;
	const struct rpc_transport *tp;
	struct evconnlistener *lev;
	unsigned n_conns;   /* open connections accepted here */
	unsigned max_conns; /* this listener's own limit */
};

struct rpc_entry {
	char name[RIOV_METHOD_NAME_MAX];
	enum riov_role role;
	riov_rpc_handler handler;
	const ProtobufCMessageDescriptor *req;
	const ProtobufCMessageDescriptor *resp; /* NULL for methods outside the catalog */
	bool stream;
	unsigned interval_ms;
	uint64_t calls, failed;  /* answers sent, answers with status != OK */
};

struct riov_rpc_call {
	struct riov_rpc_server *srv;
	const struct rpc_entry *entry;
	enum riov_role role;
	const char *peer;
	uint64_t request_id;
	struct call_block *blocks;
	uint64_t seq;
	bool end;
	unsigned interval_ms;
	ProtobufCAllocator allocator;
};

struct rpc_stream {
	struct rpc_stream *next;
	struct rpc_conn *conn;
	ProtobufCMessage *req;
	struct event *timer;
	struct riov_rpc_call call;
};

struct rpc_conn {
	struct rpc_conn *next;
	struct riov_rpc_server *srv;
	const struct rpc_transport *tp;
	struct rpc_listener *l;  /* NULL for connections made without a listener */
	struct bufferevent *bev;
	enum riov_role role;
	bool ready;          /* handshake done; frames are processed */
	bool closing;        /* flushing a last answer, then closed */
	bool frame_started;  /* frame_timer armed for a partial frame */
	struct event *frame_timer; /* before ready: the handshake deadline */
	struct rpc_stream *streams;
	uint64_t frames;
	char peer[256];
};

struct riov_rpc_server {
	struct event_base *base;
	struct riov_rpc_config cfg;
	uint64_t start_ns;
	struct rpc_entry *entries;
	size_t n_entries, cap_entries;
	struct rpc_listener listeners[2];
	unsigned n_listeners;
	struct rpc_conn *conns;
	unsigned n_conns;
	void *user;
	riov_rpc_node_info_fn node_info_fn;
	void *node_info_arg;
	/* counters for riov_rpc_server_metrics() */
	uint64_t n_accepted, n_refused, n_oversize, n_undecodable, n_frame_timeouts,
		n_idle_timeouts, n_unknown, n_denied, n_handshake_timeouts;
	/* unix transport */
	bool unix_bound;
	dev_t unix_dev;
	ino_t unix_ino;
	int unix_dirfd;       /* the socket's directory (checked, opened without following links) */
	char unix_name[108];  /* the socket's name in it */
	/* tls transport */
	void *ssl_ctx;
	int tls_port;
};

int rpc_dispatch(struct riov_rpc_server *srv, struct rpc_conn *c, enum riov_role role,
		 const char *peer, Riov__V1__Frame *req, struct evbuffer *out);
void rpc_conn_accepted(struct rpc_listener *l, evutil_socket_t fd, struct bufferevent *bev,
		       const char *peer, bool ready, enum riov_role role);
bool rpc_conn_over_limit(struct rpc_listener *l, evutil_socket_t fd, bool plain);
void conn_restore_timeouts(struct rpc_conn *c);
/* Free the memory a call's handler took with riov_rpc_call_alloc() (after its answer is packed,
 * or, in unit tests that call handlers directly, after the answer was looked at). */
void rpc_call_release(struct riov_rpc_call *call);

#endif
