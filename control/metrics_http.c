/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus text endpoint: a small HTTP/1.x responder (one request per connection, then close)
 * on an evconnlistener.
 *
 * Security model: anyone who can reach ADDR:PORT may read the metrics (they hold names of
 * networks and ports, and counters, nothing secret); nothing can be changed through it. Only
 * GET and HEAD of /metrics are answered; a request head is read up to MAX_HEAD bytes and never
 * a body. A peer can hold at most max_conns connections (more are answered 503 and closed at
 * accept, counted), and each connection has one deadline from accept (timeout_ms) for its whole
 * request and answer, which bytes from the peer do not extend: a slow client cannot pile up
 * file descriptors. libevent 2.1's evhttp has neither a connection cap nor a total deadline (its
 * timeouts restart on every byte), hence this responder. Bind it to a management address.
 *
 * Control thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "common/log.h"
#include "metrics_http.h"

RIOV_LOG_COMPONENT("metrics", RIOV_LOG_INFO);

#define MAX_HEAD 8192u            /* request line and headers */
#define DEFAULT_MAX_CONNS 16u
#define DEFAULT_TIMEOUT_MS 10000u

struct mconn {
	struct mconn *next;
	struct riov_metrics_http *m;
	struct bufferevent *bev;
	struct event *deadline;
	bool answered;             /* answer queued: close once it is sent */
};

struct riov_metrics_http {
	struct event_base *base;
	struct evconnlistener *lev;
	riov_metrics_collect_fn collect;
	void *arg;
	int port;
	unsigned max_conns, timeout_ms, n_conns;
	struct mconn *conns;
	uint64_t n_refused, n_timeouts, n_bad;
};

/* evutil_parse_sockaddr_port() refuses port 0, which tests use to get any free port. */
int riov_listen_addr_parse(const char *s, struct sockaddr *sa, int *len)
{
	int orig = *len;
	if (evutil_parse_sockaddr_port(s, sa, len) == 0)
		return 0;
	*len = orig;
	size_t n = strlen(s);
	char tmp[128];
	if (n < 2 || n >= sizeof(tmp) || strcmp(s + n - 2, ":0") != 0)
		return -1;
	memcpy(tmp, s, n - 1);
	tmp[n - 1] = '1';
	tmp[n] = 0;
	if (evutil_parse_sockaddr_port(tmp, sa, len) < 0)
		return -1;
	if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = 0;
	else
		((struct sockaddr_in *)sa)->sin_port = 0;
	return 0;
}

/* Append s escaped as a label value (without quotes). */
static void escape_label(struct evbuffer *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*s == '"')
			evbuffer_add(out, "\\\"", 2);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

static void escape_help(struct evbuffer *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

void riov_metrics_header(struct evbuffer *out, const char *name, const char *help,
			 const char *type)
{
	evbuffer_add_printf(out, "# HELP %s ", name);
	escape_help(out, help);
	evbuffer_add_printf(out, "\n# TYPE %s %s\n", name, type);
}

static void sample_head(struct evbuffer *out, const char *name, const char *const *labels,
			size_t nlabels)
{
	evbuffer_add(out, name, strlen(name));
	if (nlabels) {
		evbuffer_add(out, "{", 1);
		for (size_t i = 0; i < nlabels; i++) {
			evbuffer_add_printf(out, "%s%s=\"", i ? "," : "", labels[2 * i]);
			escape_label(out, labels[2 * i + 1]);
			evbuffer_add(out, "\"", 1);
		}
		evbuffer_add(out, "}", 1);
	}
}

void riov_metrics_sample_u64(struct evbuffer *out, const char *name, const char *const *labels,
			     size_t nlabels, uint64_t value)
{
	sample_head(out, name, labels, nlabels);
	evbuffer_add_printf(out, " %llu\n", (unsigned long long)value);
}

void riov_metrics_sample_double(struct evbuffer *out, const char *name,
				const char *const *labels, size_t nlabels, double value)
{
	sample_head(out, name, labels, nlabels);
	if (isnan(value))
		evbuffer_add_printf(out, " NaN\n");
	else if (isinf(value))
		evbuffer_add_printf(out, " %sInf\n", value > 0 ? "+" : "-");
	else
		evbuffer_add_printf(out, " %.17g\n", value);
}

static void mconn_free(struct mconn *c)
{
	struct riov_metrics_http *m = c->m;
	struct mconn **pp = &m->conns;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	m->n_conns--;
	event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

/* The responder's own counters, after the collector's. */
static void self_metrics(struct riov_metrics_http *m, struct evbuffer *out)
{
	riov_metrics_header(out, "riov_metrics_http_refused_total",
			    "Metrics connections refused at the connection limit.", "counter");
	riov_metrics_sample_u64(out, "riov_metrics_http_refused_total", NULL, 0, m->n_refused);
	riov_metrics_header(out, "riov_metrics_http_timeouts_total",
			    "Metrics connections closed at the request deadline.", "counter");
	riov_metrics_sample_u64(out, "riov_metrics_http_timeouts_total", NULL, 0, m->n_timeouts);
}

/* Queue an answer with Connection: close; the connection closes once it is sent. */
static void reply(struct mconn *c, int code, const char *reason, struct evbuffer *body,
		  bool head_only)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len = body ? evbuffer_get_length(body) : strlen(reason) + 1;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			    "Connection: close\r\n\r\n", code, reason,
			    body ? "text/plain; version=0.0.4; charset=utf-8"
				 : "text/plain; charset=utf-8", len);
	if (!head_only) {
		if (body)
			evbuffer_add_buffer(out, body);
		else
			evbuffer_add_printf(out, "%s\n", reason);
	}
	c->answered = true;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_enable(c->bev, EV_WRITE);
}

/* Answer one complete request head ("METHOD TARGET HTTP/1.x" then headers, ignored). */
static void answer(struct mconn *c, struct evbuffer *in)
{
	struct riov_metrics_http *m = c->m;
	char *line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
	char method[16], target[256], version[16];
	if (!line || sscanf(line, "%15s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0) {
		free(line);
		m->n_bad++;
		reply(c, 400, "Bad Request", NULL, false);
		return;
	}
	free(line);
	bool head = strcmp(method, "HEAD") == 0;
	char *q = strchr(target, '?');
	if (q)
		*q = 0;
	if (strcmp(target, "/metrics") != 0) {
		reply(c, 404, "Not Found (riovd serves /metrics only)", NULL, head);
		return;
	}
	if (!head && strcmp(method, "GET") != 0) {
		reply(c, 405, "Method Not Allowed (use GET)", NULL, false);
		return;
	}
	struct evbuffer *body = evbuffer_new();
	if (!body) {
		reply(c, 500, "Internal Server Error", NULL, head);
		return;
	}
	m->collect(body, m->arg);
	self_metrics(m, body);
	reply(c, 200, "OK", body, head);
	evbuffer_free(body);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct mconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (c->answered)
		return;
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos >= 0) {
		answer(c, in);
		return;
	}
	if (evbuffer_get_length(in) >= MAX_HEAD) {
		c->m->n_bad++;
		reply(c, 431, "Request Header Fields Too Large", NULL, false);
	}
}

static void conn_write(struct bufferevent *bev, void *arg)
{
	struct mconn *c = arg;
	if (c->answered && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		mconn_free(c);
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	mconn_free(arg); /* EOF or error: the peer is gone */
}

static void conn_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct mconn *c = arg;
	c->m->n_timeouts++;
	RIOV_LOG_RL(RIOV_LOG_INFO, "closing a metrics connection: no complete request and answer "
		    "within %u ms", c->m->timeout_ms);
	mconn_free(c);
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct riov_metrics_http *m = arg;
	if (m->n_conns >= m->max_conns) {
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
					   "Connection: close\r\n\r\n";
		m->n_refused++;
		RIOV_LOG_RL(RIOV_LOG_WARN, "refusing a metrics connection: %u open (limit %u)",
			    m->n_conns, m->max_conns);
		if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* best effort: the close is the answer */
		}
		evutil_closesocket(fd);
		return;
	}
	struct mconn *c = calloc(1, sizeof(*c));
	if (c)
		c->bev = bufferevent_socket_new(m->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c && c->bev)
		c->deadline = evtimer_new(m->base, conn_deadline, c);
	if (!c || !c->bev || !c->deadline) {
		if (c && c->bev)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		free(c);
		return;
	}
	c->m = m;
	c->next = m->conns;
	m->conns = c;
	m->n_conns++;
	struct timeval tv = { m->timeout_ms / 1000, (m->timeout_ms % 1000) * 1000 };
	evtimer_add(c->deadline, &tv);
	bufferevent_setwatermark(c->bev, EV_READ, 0, MAX_HEAD);
	bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
	bufferevent_enable(c->bev, EV_READ);
}

int riov_metrics_http_start(struct event_base *base, const char *listen,
			    riov_metrics_collect_fn collect, void *arg,
			    struct riov_metrics_http **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);

	if (!listen || riov_listen_addr_parse(listen, (struct sockaddr *)&ss, &sslen) < 0) {
		snprintf(err, errlen, "bad metrics address '%s' (want ADDR:PORT or [ADDR]:PORT)",
			 listen ? listen : "");
		return -EINVAL;
	}
	struct riov_metrics_http *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->base = base;
	m->collect = collect;
	m->arg = arg;
	m->max_conns = DEFAULT_MAX_CONNS;
	m->timeout_ms = DEFAULT_TIMEOUT_MS;
	m->lev = evconnlistener_new_bind(base, on_accept, m,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						 LEV_OPT_CLOSE_ON_EXEC,
					 64, (struct sockaddr *)&ss, sslen);
	if (!m->lev) {
		int e = errno ? errno : EADDRINUSE;
		snprintf(err, errlen, "cannot listen for metrics on %s: %s", listen, strerror(e));
		free(m);
		return -e;
	}
	struct sockaddr_storage b;
	socklen_t blen = sizeof(b);
	if (getsockname(evconnlistener_get_fd(m->lev), (struct sockaddr *)&b, &blen) == 0)
		m->port = b.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&b)->sin6_port)
						  : ntohs(((struct sockaddr_in *)&b)->sin_port);
	RIOV_LOG(RIOV_LOG_INFO, "serving Prometheus metrics on http://%s/metrics (port %d)",
		 listen, m->port);
	*out = m;
	return 0;
}

void riov_metrics_http_set_limits(struct riov_metrics_http *m, unsigned max_conns,
				  unsigned timeout_ms)
{
	m->max_conns = max_conns ? max_conns : DEFAULT_MAX_CONNS;
	m->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
}

int riov_metrics_http_port(const struct riov_metrics_http *m) { return m->port; }

void riov_metrics_http_stop(struct riov_metrics_http *m)
{
	if (!m)
		return;
	while (m->conns)
		mconn_free(m->conns);
	evconnlistener_free(m->lev);
	free(m);
}
