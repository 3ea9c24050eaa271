/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus text endpoint.
 *
 * Security model: anyone who can reach ADDR:PORT may read the metrics (they hold names of
 * networks and ports, and counters, nothing secret); nothing can be changed through it. Only
 * GET and HEAD of /metrics are answered; evhttp bounds header and body sizes (set below), and a
 * scrape's output is built by the collector from riovd's own data. Bind it to a management
 * address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/util.h>

#include "common/log.h"
#include "metrics_http.h"

RIOV_LOG_COMPONENT("metrics", RIOV_LOG_INFO);

struct riov_metrics_http {
	struct evhttp *http;
	riov_metrics_collect_fn collect;
	void *arg;
	int port;
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

static void handle(struct evhttp_request *req, void *arg)
{
	struct riov_metrics_http *m = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (!path || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "riovd serves /metrics only");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, HTTP_BADMETHOD, "use GET");
		return;
	}
	struct evbuffer *body = evbuffer_new();
	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	m->collect(body, m->arg);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

int riov_metrics_http_start(struct event_base *base, const char *listen,
			    riov_metrics_collect_fn collect, void *arg,
			    struct riov_metrics_http **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char host[INET6_ADDRSTRLEN + 2];
	if (!listen || riov_listen_addr_parse(listen, (struct sockaddr *)&ss, &sslen) < 0) {
		snprintf(err, errlen, "bad metrics address '%s' (want ADDR:PORT or [ADDR]:PORT)",
			 listen ? listen : "");
		return -EINVAL;
	}
	struct riov_metrics_http *m = calloc(1, sizeof(*m));
	if (!m || !(m->http = evhttp_new(base))) {
		free(m);
		return -ENOMEM;
	}
	m->collect = collect;
	m->arg = arg;
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(m->http, handle, m);
	int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		evutil_inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host,
				 sizeof(host));
	else
		evutil_inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
				 sizeof(host));
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(m->http, host,
									(ev_uint16_t)port);
	if (!bs) {
		int e = errno ? errno : EADDRINUSE;
		snprintf(err, errlen, "cannot listen for metrics on %s: %s", listen, strerror(e));
		evhttp_free(m->http);
		free(m);
		return -e;
	}
	struct sockaddr_storage b;
	socklen_t blen = sizeof(b);
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&b, &blen) == 0)
		m->port = b.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&b)->sin6_port)
						  : ntohs(((struct sockaddr_in *)&b)->sin_port);
	RIOV_LOG(RIOV_LOG_INFO, "serving Prometheus metrics on http://%s/metrics (port %d)",
		 listen, m->port);
	*out = m;
	return 0;
}

int riov_metrics_http_port(const struct riov_metrics_http *m) { return m->port; }

void riov_metrics_http_stop(struct riov_metrics_http *m)
{
	if (!m)
		return;
	evhttp_free(m->http);
	free(m);
}
