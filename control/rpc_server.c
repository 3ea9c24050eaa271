/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov RPC server: connections, frames, dispatch. Transports (unix, tls) sit behind
 * struct rpc_transport; TLS lives in rpc_tls.c.
 *
 * Security model: a connected peer is untrusted until its frame is decoded, and even an admin
 * peer's bytes are checked. Before anything is decoded the 4-byte length is compared with
 * max_frame; a frame that is too long, an envelope that does not decode, or a frame left
 * incomplete for frame_timeout_ms closes that connection only. The role check happens before the
 * payload is unpacked; the payload is unpacked with the registered descriptor (protobuf-c bounds
 * every field) and handlers get only a well-typed message. Per connection, input beyond one
 * frame is not read (read watermark), and reading stops while more than max_inflight answer
 * bytes are queued, so a client that never reads cannot make the server buffer without bound;
 * such a client is closed by the write timeout. Each listener counts its own connections against
 * its own limit (Unix: max_conns, TLS: tls_max_conns) and closes the ones beyond it at accept, so
 * anyone who can reach the TCP port cannot take the slots of the local admin on the Unix socket.
 * A TLS connection that has not finished its handshake tls_handshake_timeout_ms after accept is
 * closed, whatever it sends meanwhile (a timer armed once, not the read timeout that every byte
 * restarts). Anything a peer can trigger is logged rate-limited.
 *
 * Control thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "common/log.h"
#include "metrics_http.h"
#include "rpc_server.h"
#include "rpc_server_internal.h"

#ifndef RIOV_VERSION
#define RIOV_VERSION "unknown"
#endif

RIOV_LOG_COMPONENT("rpc", RIOV_LOG_INFO);

/* ------------------------------------------------------------------ helpers */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int riov_rpc_status_from_errno(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return RIOV__V1__STATUS__OK;
	case EINVAL: case ERANGE: case ENAMETOOLONG: case EBADMSG: case EDOM:
		return RIOV__V1__STATUS__INVALID_ARGUMENT;
	case ENOENT: case ENODEV: case ESRCH: case ENXIO:
		return RIOV__V1__STATUS__NOT_FOUND;
	case EEXIST:
		return RIOV__V1__STATUS__ALREADY_EXISTS;
	case EPERM: case EACCES:
		return RIOV__V1__STATUS__PERMISSION_DENIED;
	case EBUSY: case ENOTEMPTY: case EALREADY: case EINPROGRESS: case ENOTCONN:
		return RIOV__V1__STATUS__FAILED_PRECONDITION;
	case ENOMEM: case ENOSPC: case EMFILE: case ENFILE: case ENOBUFS: case E2BIG:
	case EMSGSIZE: case EDQUOT:
		return RIOV__V1__STATUS__RESOURCE_EXHAUSTED;
	case EAGAIN: case ECONNREFUSED: case EHOSTUNREACH: case ENETUNREACH: case ECONNRESET:
		return RIOV__V1__STATUS__UNAVAILABLE;
	case ETIMEDOUT:
		return RIOV__V1__STATUS__DEADLINE_EXCEEDED;
	case ENOSYS: case EOPNOTSUPP:
		return RIOV__V1__STATUS__UNIMPLEMENTED;
	default:
		return RIOV__V1__STATUS__INTERNAL;
	}
}

/* ------------------------------------------------------------------ method table */

static struct rpc_entry *find_entry(struct riov_rpc_server *srv, const char *name)
{
	for (size_t i = 0; i < srv->n_entries; i++)
		if (strcmp(srv->entries[i].name, name) == 0)
			return &srv->entries[i];
	return NULL;
}

static int add_entry(struct riov_rpc_server *srv, const char *method, enum riov_role role,
		     riov_rpc_handler h, const ProtobufCMessageDescriptor *req, bool stream,
		     unsigned interval_ms)
{
	if (!method || !h || !req || strlen(method) >= RIOV_METHOD_NAME_MAX || !strchr(method, '.'))
		return -EINVAL;
	const struct riov_method *cat = riov_method_find(method);
	const ProtobufCMessageDescriptor *resp = NULL;
	if (cat) {
		if (cat->req != req || cat->stream != stream)
			return -EINVAL;
		resp = cat->resp;
	}
	struct rpc_entry *e = find_entry(srv, method);
	if (!e) {
		if (srv->n_entries == srv->cap_entries) {
			size_t cap = srv->cap_entries ? srv->cap_entries * 2 : 32;
			struct rpc_entry *n = realloc(srv->entries, cap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			srv->entries = n;
			srv->cap_entries = cap;
		}
		e = &srv->entries[srv->n_entries++];
		memset(e, 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s", method);
	}
	e->role = role;
	e->handler = h;
	e->req = req;
	e->resp = resp;
	e->stream = stream;
	e->interval_ms = interval_ms ? interval_ms : 1000;
	return 0;
}

int riov_rpc_register(struct riov_rpc_server *srv, const char *method, enum riov_role role,
		      riov_rpc_handler handler, const ProtobufCMessageDescriptor *req_desc)
{
	return add_entry(srv, method, role, handler, req_desc, false, 0);
}

int riov_rpc_register_stream(struct riov_rpc_server *srv, const char *method,
			     enum riov_role role, riov_rpc_handler handler,
			     const ProtobufCMessageDescriptor *req_desc, unsigned interval_ms)
{
	return add_entry(srv, method, role, handler, req_desc, true, interval_ms);
}

void riov_rpc_server_set_user(struct riov_rpc_server *srv, void *user) { srv->user = user; }

void riov_rpc_server_set_node_info(struct riov_rpc_server *srv, riov_rpc_node_info_fn fn,
				   void *arg)
{
	srv->node_info_fn = fn;
	srv->node_info_arg = arg;
}

unsigned riov_rpc_server_conn_count(const struct riov_rpc_server *srv) { return srv->n_conns; }

/* ------------------------------------------------------------------ calls */

struct call_block {
	struct call_block *next;
	max_align_t data[];
};

void *riov_rpc_call_user(const struct riov_rpc_call *call) { return call->srv->user; }
enum riov_role riov_rpc_call_role(const struct riov_rpc_call *call) { return call->role; }
const char *riov_rpc_call_peer(const struct riov_rpc_call *call) { return call->peer; }
const char *riov_rpc_call_method(const struct riov_rpc_call *call) { return call->entry->name; }
uint64_t riov_rpc_call_stream_seq(const struct riov_rpc_call *call) { return call->seq; }
void riov_rpc_call_end_stream(struct riov_rpc_call *call) { call->end = true; }

void riov_rpc_call_set_interval(struct riov_rpc_call *call, unsigned ms)
{
	if (ms < 10)
		ms = 10;
	if (ms > 3600000)
		ms = 3600000;
	call->interval_ms = ms;
}

void *riov_rpc_call_alloc(struct riov_rpc_call *call, size_t size)
{
	struct call_block *b = calloc(1, sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = call->blocks;
	call->blocks = b;
	return b->data;
}

char *riov_rpc_call_strdup(struct riov_rpc_call *call, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = riov_rpc_call_alloc(call, n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static void *allocator_alloc(void *data, size_t size)
{
	return riov_rpc_call_alloc(data, size);
}

static void allocator_free(void *data, void *p)
{
	/* released with the call */
}

ProtobufCAllocator *riov_rpc_call_allocator(struct riov_rpc_call *call)
{
	call->allocator.alloc = allocator_alloc;
	call->allocator.free = allocator_free;
	call->allocator.allocator_data = call;
	return &call->allocator;
}

void rpc_call_release(struct riov_rpc_call *call)
{
	while (call->blocks) {
		struct call_block *b = call->blocks;
		call->blocks = b->next;
		free(b);
	}
}

/* Append an answer frame to out. A response too large for a frame becomes an error answer. */
static void put_answer(struct riov_rpc_server *srv, struct evbuffer *out, uint64_t id,
		       const char *method, int status, const char *msg,
		       const ProtobufCMessage *resp, bool end)
{
	Riov__V1__Frame f = RIOV__V1__FRAME__INIT;
	uint8_t *payload = NULL, *buf = NULL;
	size_t plen = 0, len = 0;
	char big[200];

	f.request_id = id;
	f.method = (char *)method;
	f.status = status;
	f.message = (char *)(msg ? msg : "");
	f.stream_end = end;
	if (status == RIOV__V1__STATUS__OK && resp) {
		int rc = riov_msg_pack(resp, srv->cfg.max_frame, &payload, &plen);
		if (rc < 0) {
			snprintf(big, sizeof(big),
				 "the answer to %s is larger than the frame limit of %zu bytes; "
				 "narrow the request or raise the server's max frame size",
				 method, srv->cfg.max_frame);
			f.status = rc == -ENOMEM ? RIOV__V1__STATUS__INTERNAL
						 : RIOV__V1__STATUS__RESOURCE_EXHAUSTED;
			f.message = big;
			f.stream_end = true;
		} else {
			f.payload.data = payload;
			f.payload.len = plen;
		}
	}
	int rc = riov_frame_encode(&f, srv->cfg.max_frame, &buf, &len);
	if (rc == -EMSGSIZE) {
		/* payload fit but the envelope did not: send the error without it */
		snprintf(big, sizeof(big), "the answer to %s does not fit in a %zu-byte frame",
			 method, srv->cfg.max_frame);
		f.payload.data = NULL;
		f.payload.len = 0;
		f.status = RIOV__V1__STATUS__RESOURCE_EXHAUSTED;
		f.message = big;
		f.stream_end = true;
		rc = riov_frame_encode(&f, SIZE_MAX, &buf, &len);
	}
	if (rc == 0) {
		evbuffer_add(out, buf, len);
		free(buf);
	}
	free(payload);
}

static void status_message(const struct rpc_entry *e, int rc, int *status, char *msg,
			   size_t msglen)
{
	if (rc < 0) {
		*status = riov_rpc_status_from_errno(rc);
		if (!msg[0])
			snprintf(msg, msglen, "%s: %s", e->name, strerror(-rc));
	} else {
		*status = rc;
		if (rc != RIOV__V1__STATUS__OK && !msg[0])
			snprintf(msg, msglen, "%s failed with %s", e->name, riov_status_name(rc));
	}
}

/*
 * Run the handler once and append its answer. Returns true when the call is finished (unary,
 * error, or stream end).
 */
static bool run_handler(struct riov_rpc_server *srv, struct riov_rpc_call *call,
			const ProtobufCMessage *req, struct evbuffer *out)
{
	const struct rpc_entry *e = call->entry;
	ProtobufCMessage *resp = NULL;
	char msg[512] = "";
	int status;

	call->end = false;
	int rc = e->handler(call, req, &resp, msg, sizeof(msg));
	status_message(e, rc, &status, msg, sizeof(msg));
	if (status == RIOV__V1__STATUS__OK && resp && e->resp && resp->descriptor != e->resp) {
		RIOV_LOG(RIOV_LOG_ERR, "handler of %s answered with %s instead of %s",
			 e->name, resp->descriptor->name, e->resp->name);
		status = RIOV__V1__STATUS__INTERNAL;
		snprintf(msg, sizeof(msg), "internal error: %s built a wrong answer type", e->name);
	}
	bool done = !e->stream || status != RIOV__V1__STATUS__OK || call->end;
	struct rpc_entry *me = (struct rpc_entry *)e;
	me->calls++;
	me->failed += status != RIOV__V1__STATUS__OK;
	put_answer(srv, out, call->request_id, e->name, status, msg, resp, done);
	rpc_call_release(call);
	call->seq++;
	return done;
}

/* ------------------------------------------------------------------ streams */

static void stream_free(struct rpc_stream *s)
{
	struct rpc_conn *c = s->conn;
	struct rpc_stream **pp = &c->streams;
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	if (s->timer)
		event_free(s->timer);
	if (s->req)
		protobuf_c_message_free_unpacked(s->req, NULL);
	rpc_call_release(&s->call);
	free(s);
	if (!c->streams && c->bev)
		conn_restore_timeouts(c);
}

static void stream_schedule(struct rpc_stream *s)
{
	struct timeval tv = { s->call.interval_ms / 1000, (s->call.interval_ms % 1000) * 1000 };
	evtimer_add(s->timer, &tv);
}

static void stream_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_stream *s = arg;
	struct rpc_conn *c = s->conn;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	/* A client that does not read its stream does not get more of it: skip ticks while the
	 * queue is above the limit; the write timeout closes it if it never drains. */
	if (evbuffer_get_length(out) > c->srv->cfg.max_inflight) {
		stream_schedule(s);
		return;
	}
	if (run_handler(c->srv, &s->call, s->req, out))
		stream_free(s);
	else
		stream_schedule(s);
}

/* ------------------------------------------------------------------ dispatch */

int rpc_dispatch(struct riov_rpc_server *srv, struct rpc_conn *c, enum riov_role role,
		 const char *peer, Riov__V1__Frame *req, struct evbuffer *out)
{
	char msg[512];
	const char *name = req->method;
	struct rpc_entry *e = find_entry(srv, name);

	if (!e) {
		srv->n_unknown++;
		if (riov_method_find(name))
			snprintf(msg, sizeof(msg),
				 "%s is not implemented by this server (riovd %s)", name,
				 srv->cfg.version);
		else
			snprintf(msg, sizeof(msg),
				 "unknown method '%s': this server speaks riov.v1 (see docs/api.md)",
				 name[0] ? name : "(empty)");
		put_answer(srv, out, req->request_id, name, RIOV__V1__STATUS__UNIMPLEMENTED, msg,
			   NULL, true);
		return 0;
	}
	if (role < e->role) {
		srv->n_denied++;
		snprintf(msg, sizeof(msg),
			 "%s needs the %s role; this client (%s) is %s. Use a certificate riovd's "
			 "tls_roles makes admin (OU=admin without tls_roles) or the Unix socket",
			 name, riov_role_name(e->role), peer, riov_role_name(role));
		RIOV_LOG_RL(RIOV_LOG_NOTICE, "denied %s to %s", name, peer);
		put_answer(srv, out, req->request_id, name, RIOV__V1__STATUS__PERMISSION_DENIED, msg,
			   NULL, true);
		return 0;
	}
	ProtobufCMessage *m = protobuf_c_message_unpack(e->req, NULL, req->payload.len,
							req->payload.data);
	if (!m) {
		snprintf(msg, sizeof(msg), "the request payload of %s is not a valid %s (%zu bytes)",
			 name, e->req->name, req->payload.len);
		put_answer(srv, out, req->request_id, name, RIOV__V1__STATUS__INVALID_ARGUMENT, msg,
			   NULL, true);
		return 0;
	}

	if (!e->stream || !c) {
		struct riov_rpc_call call = { .srv = srv, .entry = e, .role = role, .peer = peer,
					      .request_id = req->request_id };
		if (e->stream)
			call.end = true; /* no connection (tests, fuzzing): one answer */
		run_handler(srv, &call, m, out);
		protobuf_c_message_free_unpacked(m, NULL);
		return 0;
	}

	unsigned n = 0;
	for (struct rpc_stream *s = c->streams; s; s = s->next)
		n++;
	if (n >= RIOV_RPC_MAX_STREAMS) {
		snprintf(msg, sizeof(msg), "too many streams on this connection (%u); "
			 "close one or open another connection", RIOV_RPC_MAX_STREAMS);
		put_answer(srv, out, req->request_id, name, RIOV__V1__STATUS__RESOURCE_EXHAUSTED,
			   msg, NULL, true);
		protobuf_c_message_free_unpacked(m, NULL);
		return 0;
	}
	struct rpc_stream *s = calloc(1, sizeof(*s));
	if (s)
		s->timer = evtimer_new(srv->base, stream_tick, s);
	if (!s || !s->timer) {
		free(s);
		protobuf_c_message_free_unpacked(m, NULL);
		put_answer(srv, out, req->request_id, name, RIOV__V1__STATUS__RESOURCE_EXHAUSTED,
			   "out of memory starting the stream", NULL, true);
		return 0;
	}
	s->conn = c;
	s->req = m;
	s->call = (struct riov_rpc_call){ .srv = srv, .entry = e, .role = role, .peer = c->peer,
					  .request_id = req->request_id,
					  .interval_ms = e->interval_ms };
	s->next = c->streams;
	c->streams = s;
	/* A streaming client sends nothing more: only the write timeout applies now. */
	conn_restore_timeouts(c);
	if (run_handler(srv, &s->call, m, out))
		stream_free(s);
	else
		stream_schedule(s);
	return 0;
}

/* ------------------------------------------------------------------ connections */

void conn_restore_timeouts(struct rpc_conn *c)
{
	unsigned ms = c->srv->cfg.idle_timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	bufferevent_set_timeouts(c->bev, c->streams ? NULL : &tv, &tv);
}

static void conn_free(struct rpc_conn *c)
{
	struct riov_rpc_server *srv = c->srv;
	while (c->streams)
		stream_free(c->streams);
	if (c->frame_timer)
		event_free(c->frame_timer);
	if (c->bev)
		bufferevent_free(c->bev);
	c->bev = NULL;
	struct rpc_conn **pp = &srv->conns;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	srv->n_conns--;
	if (c->l)
		c->l->n_conns--;
	free(c);
}

static void conn_close(struct rpc_conn *c, const char *why)
{
	if (why)
		RIOV_LOG_RL(RIOV_LOG_INFO, "closing connection from %s: %s", c->peer, why);
	conn_free(c);
}

/* Stop reading, send what is queued (e.g. an error answer), then close. */
static void conn_close_after_flush(struct rpc_conn *c, const char *why)
{
	if (why)
		RIOV_LOG_RL(RIOV_LOG_INFO, "closing connection from %s: %s", c->peer, why);
	c->closing = true;
	while (c->streams)
		stream_free(c->streams);
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_free(c);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

static void frame_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_conn *c = arg;
	if (!c->ready) {
		/* armed at accept: the handshake deadline */
		c->srv->n_handshake_timeouts++;
		conn_close(c, "TLS handshake did not finish within the handshake timeout");
		return;
	}
	c->srv->n_frame_timeouts++;
	conn_close(c, "a frame stayed incomplete longer than the frame timeout");
}

static void process_input(struct rpc_conn *c)
{
	struct riov_rpc_server *srv = c->srv;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (!c->closing) {
		size_t avail = evbuffer_get_length(in);
		if (avail == 0) {
			evtimer_del(c->frame_timer);
			c->frame_started = false;
			return;
		}
		if (evbuffer_get_length(out) > srv->cfg.max_inflight) {
			/* resumed by write_cb once the client has read its answers */
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		uint8_t hdr[RIOV_FRAME_HDR_LEN];
		size_t body = 0;
		ev_ssize_t n = evbuffer_copyout(in, hdr, sizeof(hdr));
		int rc = riov_frame_check_header(hdr, (size_t)n, srv->cfg.max_frame, &body);
		if (rc < 0) {
			char msg[200];
			uint32_t announced = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
					     (uint32_t)hdr[2] << 8 | hdr[3];
			srv->n_oversize++;
			if (rc == -EMSGSIZE)
				snprintf(msg, sizeof(msg),
					 "frame of %u bytes is above this server's limit of %zu "
					 "bytes; connection closed", announced, srv->cfg.max_frame);
			else
				snprintf(msg, sizeof(msg), "empty frame; connection closed");
			put_answer(srv, out, 0, "",
				   rc == -EMSGSIZE ? RIOV__V1__STATUS__RESOURCE_EXHAUSTED
						   : RIOV__V1__STATUS__INVALID_ARGUMENT,
				   msg, NULL, true);
			conn_close_after_flush(c, msg);
			return;
		}
		if (rc == 0 || avail < RIOV_FRAME_HDR_LEN + body) {
			if (!c->frame_started) {
				unsigned ms = srv->cfg.frame_timeout_ms;
				struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
				evtimer_add(c->frame_timer, &tv);
				c->frame_started = true;
			}
			return;
		}
		evtimer_del(c->frame_timer);
		c->frame_started = false;
		unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)(RIOV_FRAME_HDR_LEN + body));
		Riov__V1__Frame *f = NULL;
		rc = p ? riov_frame_decode(p + RIOV_FRAME_HDR_LEN, body, &f) : -ENOMEM;
		evbuffer_drain(in, RIOV_FRAME_HDR_LEN + body);
		if (rc < 0) {
			srv->n_undecodable++;
			conn_close(c, "undecodable frame");
			return;
		}
		c->frames++;
		rpc_dispatch(srv, c, c->role, c->peer, f, out);
		riov_frame_free(f);
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct rpc_conn *c = arg;
	if (c->ready)
		process_input(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct rpc_conn *c = arg;
	if (c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(c);
		return;
	}
	/* Called when the output drained to the low watermark: resume reading. */
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		process_input(c);
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct rpc_conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		/* TLS handshake done (unix connections are ready at accept) */
		char err[200] = "";
		evtimer_del(c->frame_timer);
		if (c->tp->handshake_done && c->tp->handshake_done(c, err, sizeof(err)) < 0) {
			conn_close(c, err);
			return;
		}
		c->ready = true;
		RIOV_LOG_RL(RIOV_LOG_DEBUG, "connection from %s, role %s", c->peer,
			    riov_role_name(c->role));
		process_input(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		c->srv->n_idle_timeouts++;
		conn_close(c, !c->ready ? "TLS handshake did not finish in time"
			      : (what & BEV_EVENT_READING) ? "idle timeout"
							   : "client stopped reading (write timeout)");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		char err[200];
		c->tp->describe_error(c, err, sizeof(err));
		conn_close(c, err);
		return;
	}
	if (what & BEV_EVENT_EOF)
		conn_close(c, NULL);
}

/* Called by a transport's accept path with a wrapped bufferevent. */
void rpc_conn_accepted(struct rpc_listener *l, evutil_socket_t fd, struct bufferevent *bev,
		       const char *peer, bool ready, enum riov_role role)
{
	struct riov_rpc_server *srv = l->srv;
	struct rpc_conn *c = calloc(1, sizeof(*c));
	if (!c || !(c->frame_timer = evtimer_new(srv->base, frame_timeout_cb, c))) {
		free(c);
		bufferevent_free(bev);
		return;
	}
	c->srv = srv;
	c->tp = l->tp;
	c->l = l;
	c->bev = bev;
	c->role = role;
	c->ready = ready;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->next = srv->conns;
	srv->conns = c;
	srv->n_conns++;
	l->n_conns++;
	srv->n_accepted++;
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
	/* Read at most one whole frame ahead; answers queue up to max_inflight, then reading
	 * pauses and resumes when the output drained to half of it. */
	bufferevent_setwatermark(bev, EV_READ, 0, srv->cfg.max_frame + RIOV_FRAME_HDR_LEN);
	bufferevent_setwatermark(bev, EV_WRITE, srv->cfg.max_inflight / 2, 0);
	conn_restore_timeouts(c);
	if (!ready) {
		/* One deadline from accept for the handshake: bytes from the peer do not move it. */
		unsigned ms = srv->cfg.tls_handshake_timeout_ms;
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		evtimer_add(c->frame_timer, &tv);
	}
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (ready)
		RIOV_LOG_RL(RIOV_LOG_DEBUG, "connection from %s, role %s", c->peer,
			    riov_role_name(role));
}

/* Refuse a connection above the listener's own limit. Returns true if it was refused (fd
 * closed). */
bool rpc_conn_over_limit(struct rpc_listener *l, evutil_socket_t fd, bool plain)
{
	struct riov_rpc_server *srv = l->srv;
	if (l->n_conns < l->max_conns)
		return false;
	srv->n_refused++;
	RIOV_LOG_RL(RIOV_LOG_WARN, "refusing a %s connection: %u %s connections open (its limit)",
		    l->tp->name, l->n_conns, l->tp->name);
	if (plain) {
		/* Tell a plain-text client why, best effort and without blocking. */
		struct evbuffer *b = evbuffer_new();
		if (b) {
			char msg[160];
			snprintf(msg, sizeof(msg), "too many connections on the %s socket (limit "
				 "%u); close idle clients or try again later", l->tp->name,
				 l->max_conns);
			put_answer(srv, b, 0, "", RIOV__V1__STATUS__RESOURCE_EXHAUSTED, msg, NULL, true);
			size_t len = evbuffer_get_length(b);
			unsigned char *p = evbuffer_pullup(b, (ev_ssize_t)len);
			if (p && send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				/* nothing more to do: the close below is the answer */
			}
			evbuffer_free(b);
		}
	}
	evutil_closesocket(fd);
	return true;
}

/* ------------------------------------------------------------------ unix transport */

static void unix_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
			int salen, void *arg)
{
	struct rpc_listener *l = arg;
	if (rpc_conn_over_limit(l, fd, true))
		return;
	char peer[96] = "unix";
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
		snprintf(peer, sizeof(peer), "unix pid %d uid %u", (int)cred.pid, (unsigned)cred.uid);
	struct bufferevent *bev = bufferevent_socket_new(l->srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		evutil_closesocket(fd);
		return;
	}
	rpc_conn_accepted(l, fd, bev, peer, true, RIOV_ROLE_ADMIN);
}

static void unix_describe_error(struct rpc_conn *c, char *buf, size_t len)
{
	int e = EVUTIL_SOCKET_ERROR();
	snprintf(buf, len, "socket error: %s", e ? evutil_socket_error_to_string(e) : "reset");
}

int riov_rpc_dir_check(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP || e == ENOTDIR) {
			struct stat st;
			bool link = lstat(dir, &st) == 0 && S_ISLNK(st.st_mode);
			snprintf(err, errlen, "%s is %s; riovd does not follow links to directories it "
				 "trusts: configure the real directory", dir,
				 link ? "a symbolic link" : "not a directory");
			return link ? -ELOOP : -ENOTDIR;
		}
		snprintf(err, errlen, "cannot open directory %s: %s", dir, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "cannot stat directory %s: %s", dir, strerror(e));
		return -e;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "directory %s is owned by uid %u, not by root or riovd's user "
			 "(uid %u): someone else could replace what riovd puts there; chown it or "
			 "choose another directory", dir, (unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen, "directory %s is writable by everyone (mode %04o, no sticky "
			 "bit): anyone could replace what riovd puts there; chmod o-w it or choose "
			 "another directory", dir, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Address of name inside the directory open as dirfd, through /proc/self/fd so that nothing on
 * the way can be swapped after the directory was checked; the plain path when that is too long
 * for a socket address (the directory is checked, so only its ancestors could then move). */
static void unix_addr(const struct riov_rpc_server *srv, struct sockaddr_un *sun)
{
	*sun = (struct sockaddr_un){ .sun_family = AF_UNIX };
	int n = snprintf(sun->sun_path, sizeof(sun->sun_path), "/proc/self/fd/%d/%s",
			 srv->unix_dirfd, srv->unix_name);
	if (n < 0 || (size_t)n >= sizeof(sun->sun_path))
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", srv->cfg.unix_path);
}

/* Remove a stale socket; refuse when someone listens there or it is not a socket (a symbolic
 * link included: nothing is followed). */
static int unix_clear_path(struct riov_rpc_server *srv, char *err, size_t errlen)
{
	const char *path = srv->cfg.unix_path;
	struct stat st;
	if (fstatat(srv->unix_dirfd, srv->unix_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket%s; remove it or choose another "
			 "socket path", path, S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
		return -EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un sun;
	unix_addr(srv, &sun);
	int rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	int e = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "another server is listening on %s (is riovd already "
			 "running?)", path);
		return -EADDRINUSE;
	}
	if (e != ECONNREFUSED) {
		snprintf(err, errlen, "cannot probe existing socket %s: %s", path, strerror(e));
		return -e;
	}
	RIOV_LOG(RIOV_LOG_NOTICE, "removing stale socket %s", path);
	if (unlinkat(srv->unix_dirfd, srv->unix_name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Split unix_path, create its directory if missing (one level), check and open it. */
static int unix_open_dir(struct riov_rpc_server *srv, char *err, size_t errlen)
{
	const char *path = srv->cfg.unix_path;
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strlen(name) >= sizeof(srv->unix_name) || strlen(path) >= sizeof(dir)) {
		snprintf(err, errlen, "socket path '%s' does not name a socket file", path);
		return -EINVAL;
	}
	snprintf(srv->unix_name, sizeof(srv->unix_name), "%s", name);
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	/* the run directory may not exist yet (no tmpfiles.d): create one level */
	if (mkdir(dir, 0755) == 0)
		RIOV_LOG(RIOV_LOG_NOTICE, "created %s", dir);
	int fd = riov_rpc_dir_check(dir, err, errlen);
	if (fd < 0)
		return fd;
	srv->unix_dirfd = fd;
	return 0;
}

/* Give the bound socket its group and mode through an O_PATH descriptor of the node itself
 * (never a path that could have become a symbolic link), and remember its inode. */
static int unix_set_owner(struct riov_rpc_server *srv, char *err, size_t errlen)
{
	const char *path = srv->cfg.unix_path;
	int pfd = openat(srv->unix_dirfd, srv->unix_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (pfd < 0 || fstat(pfd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		int e = pfd < 0 ? errno : EEXIST;
		snprintf(err, errlen, "%s changed under riovd after bind (no longer our socket)",
			 path);
		if (pfd >= 0)
			close(pfd);
		return -e;
	}
	struct group gr, *grp = NULL;
	char gbuf[1024];
	if (getgrnam_r(srv->cfg.unix_group, &gr, gbuf, sizeof(gbuf), &grp) == 0 && grp &&
	    fchownat(pfd, "", (uid_t)-1, grp->gr_gid, AT_EMPTY_PATH) < 0)
		RIOV_LOG(RIOV_LOG_WARN, "cannot give %s to group %s: %s", path, srv->cfg.unix_group,
			 strerror(errno));
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	if (chmod(self, srv->cfg.unix_mode) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot chmod %s: %s", path, strerror(e));
		close(pfd);
		return -e;
	}
	srv->unix_dev = st.st_dev;
	srv->unix_ino = st.st_ino;
	close(pfd);
	return 0;
}

static int unix_listen(struct riov_rpc_server *srv, struct rpc_listener *l, char *err,
		       size_t errlen)
{
	const char *path = srv->cfg.unix_path;
	struct sockaddr_un sun;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path %s is longer than %zu bytes", path,
			 sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	int rc = unix_open_dir(srv, err, errlen);
	if (rc == 0)
		rc = unix_clear_path(srv, err, errlen);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errlen, "cannot use socket path %s: %s", path, strerror(-rc));
		return rc;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Linux creates the node with the socket's own mode less the umask: start no wider than
	 * the configured mode; group and final mode follow, before listen(), so nobody can
	 * connect before they apply. */
	if (fchmod(fd, srv->cfg.unix_mode) < 0)
		RIOV_LOG(RIOV_LOG_DEBUG, "fchmod on the socket: %s", strerror(errno));
	unix_addr(srv, &sun);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	srv->unix_bound = true; /* from here unix_close() removes it (same inode only) */
	rc = unix_set_owner(srv, err, errlen);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	l->lev = evconnlistener_new(srv->base, unix_accept, l, LEV_OPT_CLOSE_ON_FREE, 128, fd);
	if (!l->lev) {
		rc = errno ? -errno : -ENOMEM;
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	RIOV_LOG(RIOV_LOG_INFO, "listening on unix:%s", path);
	return 0;
}

static void unix_close(struct riov_rpc_server *srv)
{
	struct stat st;
	/* Remove the socket only if it is still ours (not replaced by another server). */
	if (srv->unix_bound && srv->unix_ino &&
	    fstatat(srv->unix_dirfd, srv->unix_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == srv->unix_dev && st.st_ino == srv->unix_ino)
		unlinkat(srv->unix_dirfd, srv->unix_name, 0);
	srv->unix_bound = false;
	if (srv->unix_dirfd >= 0)
		close(srv->unix_dirfd);
	srv->unix_dirfd = -1;
}

const struct rpc_transport rpc_transport_unix = {
	.name = "unix",
	.listen = unix_listen,
	.handshake_done = NULL,
	.describe_error = unix_describe_error,
	.close = unix_close,
};

/* ------------------------------------------------------------------ metrics */

void riov_rpc_server_metrics(const struct riov_rpc_server *srv, struct evbuffer *out)
{
	riov_metrics_header(out, "riov_rpc_connections", "Open RPC connections.", "gauge");
	riov_metrics_sample_u64(out, "riov_rpc_connections", NULL, 0, srv->n_conns);
	riov_metrics_header(out, "riov_rpc_connections_total", "RPC connections accepted.",
			    "counter");
	riov_metrics_sample_u64(out, "riov_rpc_connections_total", NULL, 0, srv->n_accepted);
	riov_metrics_header(out, "riov_rpc_connections_refused_total",
			    "RPC connections refused at the connection limit.", "counter");
	riov_metrics_sample_u64(out, "riov_rpc_connections_refused_total", NULL, 0,
				srv->n_refused);
	riov_metrics_header(out, "riov_rpc_closed_total",
			    "RPC connections closed by the server, by reason.", "counter");
	static const char *const reasons[] = { "oversize", "undecodable", "frame_timeout",
					       "idle_timeout", "handshake_timeout" };
	const uint64_t vals[] = { srv->n_oversize, srv->n_undecodable, srv->n_frame_timeouts,
				  srv->n_idle_timeouts, srv->n_handshake_timeouts };
	for (size_t i = 0; i < 5; i++) {
		const char *l[] = { "reason", reasons[i] };
		riov_metrics_sample_u64(out, "riov_rpc_closed_total", l, 1, vals[i]);
	}
	riov_metrics_header(out, "riov_rpc_requests_total", "RPC answers sent, by method and result.",
			    "counter");
	for (size_t i = 0; i < srv->n_entries; i++) {
		const struct rpc_entry *e = &srv->entries[i];
		const char *ok[] = { "method", e->name, "result", "ok" };
		const char *err[] = { "method", e->name, "result", "error" };
		riov_metrics_sample_u64(out, "riov_rpc_requests_total", ok, 2, e->calls - e->failed);
		riov_metrics_sample_u64(out, "riov_rpc_requests_total", err, 2, e->failed);
	}
	riov_metrics_header(out, "riov_rpc_requests_unknown_total",
			    "Requests for methods this server does not provide.", "counter");
	riov_metrics_sample_u64(out, "riov_rpc_requests_unknown_total", NULL, 0, srv->n_unknown);
	riov_metrics_header(out, "riov_rpc_requests_denied_total",
			    "Requests refused for the client's role.", "counter");
	riov_metrics_sample_u64(out, "riov_rpc_requests_denied_total", NULL, 0, srv->n_denied);
}

/* ------------------------------------------------------------------ Node.Info */

/* Node.Info is built into the server (readonly: it reads state); riovd supplies its workers and
 * health (riov_rpc_server_set_node_info()). */
static const struct riov_method_id node_info_id = RIOV_METHOD_ID(Node, info);
_Static_assert(RIOV_SERVICE_N_METHODS(Node) == 1,
	       "Node.Info is riov.v1.Node's only method: a new one needs a handler");

static int node_info(struct riov_rpc_call *call, const ProtobufCMessage *req,
		     ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_rpc_server *srv = call->srv;
	Riov__V1__NodeInfoResponse *r = riov_rpc_call_alloc(call, sizeof(*r));
	char *health = riov_rpc_call_alloc(call, 128);
	char *host = riov_rpc_call_alloc(call, 256);
	if (!r || !health || !host)
		return -ENOMEM;
	riov__v1__node_info_response__init(r);
	uint32_t workers = 0;
	snprintf(health, 128, "ok");
	if (srv->node_info_fn)
		srv->node_info_fn(srv->node_info_arg, &workers, health, 128);
	if (gethostname(host, 255) < 0)
		host[0] = 0;
	r->version = (char *)srv->cfg.version;
	r->uptime_s = (mono_ns() - srv->start_ns) / 1000000000ull;
	r->workers = workers;
	r->health = health;
	r->hostname = host;
	r->role = (char *)riov_role_name(call->role);
	r->api_version = 1;
	*resp = &r->base;
	return 0;
}

/* ------------------------------------------------------------------ server */

static int start_transport(struct riov_rpc_server *srv, const struct rpc_transport *tp,
			   unsigned max_conns, char *err, size_t errlen)
{
	struct rpc_listener *l = &srv->listeners[srv->n_listeners];
	l->srv = srv;
	l->tp = tp;
	l->max_conns = max_conns;
	int rc = tp->listen(srv, l, err, errlen);
	if (rc < 0) {
		if (tp->close)
			tp->close(srv); /* what listen() set up before it failed */
		return rc;
	}
	srv->n_listeners++;
	return 0;
}

int riov_rpc_server_new(struct event_base *base, const struct riov_rpc_config *cfg,
			struct riov_rpc_server **out, char *err, size_t errlen)
{
	struct riov_rpc_server *srv = calloc(1, sizeof(*srv));
	int rc;
	if (errlen)
		err[0] = 0;
	if (!srv)
		return -ENOMEM;
	srv->base = base;
	srv->cfg = *cfg;
	srv->unix_dirfd = -1;
	if (!srv->cfg.unix_group)
		srv->cfg.unix_group = RIOV_RPC_DEFAULT_GROUP;
	if (!srv->cfg.unix_mode)
		srv->cfg.unix_mode = 0660;
	if (!srv->cfg.tls_verify_depth)
		srv->cfg.tls_verify_depth = 4;
	if (!srv->cfg.max_conns)
		srv->cfg.max_conns = 64;
	if (!srv->cfg.tls_max_conns)
		srv->cfg.tls_max_conns = 64;
	if (!srv->cfg.tls_handshake_timeout_ms)
		srv->cfg.tls_handshake_timeout_ms = 10000;
	if (!srv->cfg.max_frame)
		srv->cfg.max_frame = RIOV_FRAME_MAX_DEFAULT;
	if (!srv->cfg.max_inflight)
		srv->cfg.max_inflight = 4u << 20;
	if (!srv->cfg.idle_timeout_ms)
		srv->cfg.idle_timeout_ms = 30000;
	if (!srv->cfg.frame_timeout_ms)
		srv->cfg.frame_timeout_ms = 5000;
	if (!srv->cfg.version)
		srv->cfg.version = RIOV_VERSION;
	srv->start_ns = mono_ns();
	if (srv->cfg.max_frame > RIOV_FRAME_MAX_LIMIT || srv->cfg.max_frame < 64) {
		snprintf(err, errlen, "max frame size %zu is outside [64, %u]", srv->cfg.max_frame,
			 RIOV_FRAME_MAX_LIMIT);
		free(srv);
		return -EINVAL;
	}
	if (!base && (cfg->unix_path || cfg->tls_listen)) {
		snprintf(err, errlen, "transports need an event_base");
		free(srv);
		return -EINVAL;
	}
	const struct riov_method *ni = riov_method_get(node_info_id);
	rc = ni ? riov_rpc_register(srv, ni->name, RIOV_ROLE_READONLY, node_info, ni->req) : -EINVAL;
	if (rc < 0)
		goto fail;
	if (srv->cfg.unix_path) {
		rc = start_transport(srv, &rpc_transport_unix, srv->cfg.max_conns, err, errlen);
		if (rc < 0)
			goto fail;
	}
	if (srv->cfg.tls_listen) {
		rc = start_transport(srv, &rpc_transport_tls, srv->cfg.tls_max_conns, err,
				     errlen);
		if (rc < 0)
			goto fail;
	}
	*out = srv;
	return 0;
fail:
	if (!err[0])
		snprintf(err, errlen, "RPC server set-up failed: %s", strerror(-rc));
	riov_rpc_server_free(srv);
	return rc;
}

void riov_rpc_server_free(struct riov_rpc_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_free(srv->conns);
	for (unsigned i = 0; i < srv->n_listeners; i++) {
		struct rpc_listener *l = &srv->listeners[i];
		if (l->lev)
			evconnlistener_free(l->lev);
		if (l->tp->close)
			l->tp->close(srv);
	}
	free(srv->entries);
	free(srv);
}
