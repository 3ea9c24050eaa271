/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Blocking RPC client.
 *
 * Security model: the server is trusted only as far as TLS verifies it (its certificate must
 * chain to the given CA and name the host); over a Unix socket the file permissions decide.
 * Answers are still decoded defensively: the length is checked against max_frame before the body
 * is read, and the request id must match.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "rpc_client.h"

struct riov_client {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	unsigned timeout_ms;
	size_t max_frame;
	uint64_t next_id;
};

static void ssl_err(char *buf, size_t len, const char *what)
{
	unsigned long e = ERR_get_error();
	char s[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, s, sizeof(s));
	ERR_clear_error();
	snprintf(buf, len, "%s: %s", what, s);
}

static void set_timeouts(int fd, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int connect_unix(const char *path, unsigned ms, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeouts(fd, ms);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot connect to %s: %s%s", path, strerror(e),
			 e == ENOENT || e == ECONNREFUSED ? " (is riovd running? set --connect or "
							    "RIOV_SOCKET)"
			 : e == EACCES ? " (are you in group riov, or root?)" : "");
		close(fd);
		return -e;
	}
	return fd;
}

/* Non-blocking connect bounded by ms, then back to blocking. */
static int connect_tcp(const char *host, const char *port, unsigned ms, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *p;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	int fd = -1, e = ECONNREFUSED;
	for (p = ai; p; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    p->ai_protocol);
		if (fd < 0)
			continue;
		int one = 1; /* frames are small: do not wait for delayed ACKs (TLS handshake) */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, p->ai_addr, p->ai_addrlen) < 0 && errno != EINPROGRESS) {
			e = errno;
			close(fd);
			fd = -1;
			continue;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int n = poll(&pfd, 1, (int)ms);
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (n <= 0)
			soerr = ETIMEDOUT;
		else
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			e = soerr;
			close(fd);
			fd = -1;
			continue;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		set_timeouts(fd, ms);
		break;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(e));
		return -e;
	}
	return fd;
}

static int tls_setup(struct riov_client *c, const struct riov_client_opts *o, const char *host,
		     char *err, size_t errlen)
{
	if (!o->ca) {
		snprintf(err, errlen, "TLS needs --ca (the CA that signed riovd's certificate)");
		return -EINVAL;
	}
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx) {
		ssl_err(err, errlen, "cannot create TLS context");
		return -EPROTO;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION);
	if (SSL_CTX_load_verify_locations(c->ctx, o->ca, NULL) != 1) {
		ssl_err(err, errlen, "cannot load CA file");
		return -EPROTO;
	}
	if (o->cert && SSL_CTX_use_certificate_chain_file(c->ctx, o->cert) != 1) {
		ssl_err(err, errlen, "cannot load client certificate");
		return -EPROTO;
	}
	if (o->key && (SSL_CTX_use_PrivateKey_file(c->ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
		       SSL_CTX_check_private_key(c->ctx) != 1)) {
		ssl_err(err, errlen, "cannot load client key (or it does not match the certificate)");
		return -EPROTO;
	}
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl) {
		ssl_err(err, errlen, "cannot create TLS session");
		return -EPROTO;
	}
	unsigned char addr[16];
	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
	} else {
		SSL_set_tlsext_host_name(c->ssl, host);
		SSL_set1_host(c->ssl, host);
	}
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1) {
		long vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK)
			snprintf(err, errlen, "TLS handshake failed: server certificate: %s",
				 X509_verify_cert_error_string(vr));
		else
			ssl_err(err, errlen, "TLS handshake failed");
		return -EPROTO;
	}
	return 0;
}

int riov_client_connect(const struct riov_client_opts *o, struct riov_client **out, char *err,
			size_t errlen)
{
	const char *target = o->connect;
	if (!target || !target[0])
		target = getenv("RIOV_SOCKET");
	if (!target || !target[0])
		target = RIOV_CLIENT_DEFAULT_SOCKET;
	struct riov_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	c->max_frame = o->max_frame ? o->max_frame : RIOV_FRAME_MAX_DEFAULT;
	c->next_id = 1;
	/* a server that goes away must not kill the client with SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	int rc;
	if (strncmp(target, "tls://", 6) == 0) {
		char host[256], port[16];
		const char *hp = target + 6, *colon;
		if (hp[0] == '[') {
			const char *rb = strchr(hp, ']');
			if (!rb || rb[1] != ':' || (size_t)(rb - hp - 1) >= sizeof(host))
				goto badaddr;
			snprintf(host, sizeof(host), "%.*s", (int)(rb - hp - 1), hp + 1);
			colon = rb + 1;
		} else {
			colon = strrchr(hp, ':');
			if (!colon || (size_t)(colon - hp) >= sizeof(host))
				goto badaddr;
			snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
		}
		snprintf(port, sizeof(port), "%s", colon + 1);
		if (!port[0] || !host[0])
			goto badaddr;
		rc = connect_tcp(host, port, c->timeout_ms, err, errlen);
		if (rc < 0)
			goto fail;
		c->fd = rc;
		rc = tls_setup(c, o, host, err, errlen);
		if (rc < 0)
			goto fail;
	} else {
		const char *path = strncmp(target, "unix:", 5) == 0 ? target + 5 : target;
		rc = connect_unix(path, c->timeout_ms, err, errlen);
		if (rc < 0)
			goto fail;
		c->fd = rc;
	}
	*out = c;
	return 0;
badaddr:
	snprintf(err, errlen, "bad address '%s' (want unix:PATH or tls://HOST:PORT)", target);
	rc = -EINVAL;
fail:
	riov_client_close(c);
	return rc;
}

void riov_client_close(struct riov_client *c)
{
	if (!c)
		return;
	if (c->ssl) {
		/* a polite close_notify; the server does not wait for ours to be answered */
		if (SSL_is_init_finished(c->ssl))
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static int io_all(struct riov_client *c, void *buf, size_t len, bool wr, char *err,
		  size_t errlen)
{
	char *p = buf;
	while (len) {
		ssize_t n;
		if (c->ssl) {
			ERR_clear_error();
			int r = wr ? SSL_write(c->ssl, p, (int)len) : SSL_read(c->ssl, p, (int)len);
			if (r <= 0) {
				int se = SSL_get_error(c->ssl, r);
				if (se == SSL_ERROR_ZERO_RETURN) {
					snprintf(err, errlen, "server closed the connection");
					return -ECONNRESET;
				}
				if (se == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
					snprintf(err, errlen, "timed out waiting for the server");
					return -ETIMEDOUT;
				}
				if (se == SSL_ERROR_SYSCALL) {
					snprintf(err, errlen, "server closed the connection%s%s",
						 errno ? ": " : "", errno ? strerror(errno) : "");
					return -ECONNRESET;
				}
				ssl_err(err, errlen, "TLS error (is the client certificate "
					"accepted by the server?)");
				return -EPROTO;
			}
			n = r;
		} else {
			n = wr ? send(c->fd, p, len, MSG_NOSIGNAL) : recv(c->fd, p, len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				snprintf(err, errlen, "timed out waiting for the server");
				return -ETIMEDOUT;
			}
			if (n < 0) {
				int e = errno;
				snprintf(err, errlen, "connection error: %s", strerror(e));
				return e == EPIPE ? -ECONNRESET : -e;
			}
			if (n == 0) {
				snprintf(err, errlen, "server closed the connection");
				return -ECONNRESET;
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one answer frame. Returns 0 with *f set (free with riov_frame_free()), -ECONNRESET when the
 * server closed the connection, -ETIMEDOUT, -EMSGSIZE, -EBADMSG, -EPROTO (TLS). */
static int recv_frame(struct riov_client *c, Riov__V1__Frame **f, char *err, size_t errlen)
{
	uint8_t hdr[RIOV_FRAME_HDR_LEN];
	size_t body;
	int rc = io_all(c, hdr, sizeof(hdr), false, err, errlen);
	if (rc < 0)
		return rc;
	rc = riov_frame_check_header(hdr, sizeof(hdr), c->max_frame, &body);
	if (rc < 0) {
		snprintf(err, errlen, "server sent a frame above %zu bytes", c->max_frame);
		return rc;
	}
	uint8_t *b = malloc(body);
	if (!b)
		return -ENOMEM;
	rc = io_all(c, b, body, false, err, errlen);
	if (rc == 0) {
		rc = riov_frame_decode(b, body, f);
		if (rc < 0)
			snprintf(err, errlen, "server sent an undecodable frame");
	}
	free(b);
	return rc;
}

static int send_request(struct riov_client *c, const char *method, const ProtobufCMessage *req,
			uint64_t *id, char *msg, size_t msglen)
{
	const struct riov_method *m = riov_method_find(method);
	if (!m || (req && req->descriptor != m->req)) {
		snprintf(msg, msglen, "client bug: %s is not a catalog method or wrong request type",
			 method);
		return -EINVAL;
	}
	Riov__V1__Frame f = RIOV__V1__FRAME__INIT;
	uint8_t *payload = NULL, *buf = NULL;
	size_t plen = 0, len = 0;
	int rc = 0;
	if (req && (rc = riov_msg_pack(req, c->max_frame, &payload, &plen)) < 0) {
		snprintf(msg, msglen, "request too large");
		return rc;
	}
	f.request_id = *id = c->next_id++;
	f.method = (char *)method;
	f.payload.data = payload;
	f.payload.len = plen;
	rc = riov_frame_encode(&f, c->max_frame, &buf, &len);
	free(payload);
	if (rc < 0) {
		snprintf(msg, msglen, "request too large");
		return rc;
	}
	rc = io_all(c, buf, len, true, msg, msglen);
	free(buf);
	return rc;
}

/* Read the answer for id; returns status or negative errno; *resp unpacked when OK. */
static int read_answer(struct riov_client *c, const char *method, uint64_t id,
		       ProtobufCMessage **resp, bool *end, char *msg, size_t msglen)
{
	const struct riov_method *m = riov_method_find(method);
	Riov__V1__Frame *f = NULL;
	int rc = recv_frame(c, &f, msg, msglen);
	if (rc < 0)
		return rc;
	if (f->request_id != id && f->request_id != 0) {
		snprintf(msg, msglen, "server answered request %llu, expected %llu",
			 (unsigned long long)f->request_id, (unsigned long long)id);
		riov_frame_free(f);
		return -EPROTO;
	}
	int status = f->status;
	*end = f->stream_end || status != 0;
	snprintf(msg, msglen, "%s", f->message);
	if (status == 0 && resp) {
		*resp = protobuf_c_message_unpack(m->resp, NULL, f->payload.len, f->payload.data);
		if (!*resp) {
			snprintf(msg, msglen, "server sent an answer that is not a %s", m->resp->name);
			status = -EBADMSG;
		}
	}
	riov_frame_free(f);
	return status;
}

int riov_client_call(struct riov_client *c, const char *method, const ProtobufCMessage *req,
		     ProtobufCMessage **resp, char *msg, size_t msglen)
{
	uint64_t id;
	bool end;
	ProtobufCMessage *tmp = NULL;
	if (resp)
		*resp = NULL;
	msg[0] = 0;
	int rc = send_request(c, method, req, &id, msg, msglen);
	if (rc < 0)
		return rc;
	rc = read_answer(c, method, id, &tmp, &end, msg, msglen);
	if (tmp) {
		if (resp)
			*resp = tmp;
		else
			protobuf_c_message_free_unpacked(tmp, NULL);
	}
	return rc;
}

int riov_client_stream(struct riov_client *c, const char *method, const ProtobufCMessage *req,
		       riov_client_stream_fn cb, void *arg, char *msg, size_t msglen)
{
	uint64_t id;
	bool end = false;
	msg[0] = 0;
	int rc = send_request(c, method, req, &id, msg, msglen);
	if (rc < 0)
		return rc;
	while (!end) {
		ProtobufCMessage *r = NULL;
		rc = read_answer(c, method, id, &r, &end, msg, msglen);
		if (rc != 0)
			return rc;
		int stop = r ? cb(r, arg) : 0;
		if (r)
			protobuf_c_message_free_unpacked(r, NULL);
		if (stop)
			return 0;
	}
	return 0;
}
