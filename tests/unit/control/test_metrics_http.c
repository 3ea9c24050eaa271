/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus endpoint: label escaping, HELP/TYPE lines, a real HTTP GET /metrics against the
 * server on 127.0.0.1 (event loop in a thread, blocking client in the test), and its limits
 * against slow clients: the connection cap and the one deadline per connection that trickled
 * bytes do not extend (no timed assertion beyond "closed within a generous bound").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <time.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "riov_test.h"
#include "control/metrics_http.h"

static char *drain(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	evbuffer_remove(b, s, n);
	s[n] = 0;
	return s;
}

RIOV_TEST(escaping_and_format)
{
	struct evbuffer *b = evbuffer_new();
	riov_metrics_header(b, "riov_port_rx_packets_total", "Packets received\non a port \\ here.",
			    "counter");
	const char *labels[] = { "port", "vm1-eth0", "net", "bl\"ue\\x\ny" };
	riov_metrics_sample_u64(b, "riov_port_rx_packets_total", labels, 2, 42);
	riov_metrics_sample_u64(b, "riov_up", NULL, 0, 1);
	riov_metrics_sample_double(b, "riov_ratio", NULL, 0, 0.5);
	riov_metrics_sample_double(b, "riov_inf", NULL, 0, INFINITY);
	riov_metrics_sample_double(b, "riov_nan", NULL, 0, NAN);
	char *s = drain(b);
	const char *want =
		"# HELP riov_port_rx_packets_total Packets received\\non a port \\\\ here.\n"
		"# TYPE riov_port_rx_packets_total counter\n"
		"riov_port_rx_packets_total{port=\"vm1-eth0\",net=\"bl\\\"ue\\\\x\\ny\"} 42\n"
		"riov_up 1\n"
		"riov_ratio 0.5\n"
		"riov_inf +Inf\n"
		"riov_nan NaN\n";
	CHECK(strcmp(s, want) == 0);
	if (strcmp(s, want) != 0)
		fprintf(stderr, "got:\n%s", s);
	free(s);
	evbuffer_free(b);
}

static int scrapes;

static void collect(struct evbuffer *out, void *arg)
{
	scrapes++;
	riov_metrics_header(out, "riov_port_rx_packets_total", "Packets received on a port.",
			    "counter");
	const char *l[] = { "port", "vm1-eth0", "net", "blue" };
	riov_metrics_sample_u64(out, "riov_port_rx_packets_total", l, 2, 7);
}

static volatile int stop_loop;

static void check_stop(evutil_socket_t fd, short what, void *arg)
{
	if (stop_loop)
		event_base_loopbreak(arg);
}

static void *loop(void *arg)
{
	event_base_dispatch(arg);
	return NULL;
}

static char *http_get(int port, const char *path)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return NULL;
	}
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			 path);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return NULL;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	ssize_t r;
	while ((r = read(fd, buf + len, cap - len - 1)) > 0)
		len += (size_t)r;
	buf[len] = 0;
	close(fd);
	return buf;
}

RIOV_TEST(serves_metrics_over_http)
{
	struct event_base *base = event_base_new();
	struct riov_metrics_http *m;
	char err[256];
	CHECK_EQ(riov_metrics_http_start(base, "127.0.0.1:0", collect, NULL, &m, err, sizeof(err)), 0);
	int port = riov_metrics_http_port(m);
	CHECK(port > 0);
	pthread_t t;
	/* the loop thread polls a stop flag (the base is not set up for cross-thread wake-ups) */
	struct event *keep = event_new(base, -1, EV_PERSIST, check_stop, base);
	struct timeval tick = { 0, 20000 };
	event_add(keep, &tick);
	pthread_create(&t, NULL, loop, base);
	char *r = http_get(port, "/metrics");
	CHECK(r && strstr(r, "HTTP/1.1 200"));
	CHECK(r && strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
	CHECK(r && strstr(r, "\r\n\r\n# HELP riov_port_rx_packets_total Packets received on a port.\n"
			  "# TYPE riov_port_rx_packets_total counter\n"
			  "riov_port_rx_packets_total{port=\"vm1-eth0\",net=\"blue\"} 7\n"));
	free(r);
	r = http_get(port, "/other");
	CHECK(r && strstr(r, "HTTP/1.1 404"));
	free(r);
	stop_loop = 1;
	pthread_join(t, NULL);
	CHECK_EQ(scrapes, 1);
	/* a bad address is refused with a message */
	struct riov_metrics_http *bad;
	CHECK(riov_metrics_http_start(base, "nonsense", collect, NULL, &bad, err, sizeof(err)) < 0);
	CHECK(strstr(err, "nonsense") != NULL);
	riov_metrics_http_stop(m);
	event_free(keep);
	event_base_free(base);
}

static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True when the server closed fd (EOF or reset). */
static bool closed_by_server(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[256];
	if (poll(&p, 1, 0) <= 0)
		return false;
	ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

RIOV_TEST(slow_clients_are_capped_and_cut_at_the_deadline)
{
	struct event_base *base = event_base_new();
	struct riov_metrics_http *m;
	char err[256];
	CHECK_EQ(riov_metrics_http_start(base, "127.0.0.1:0", collect, NULL, &m, err, sizeof(err)), 0);
	riov_metrics_http_set_limits(m, 2, 1000);
	int port = riov_metrics_http_port(m);
	stop_loop = 0;
	struct event *keep = event_new(base, -1, EV_PERSIST, check_stop, base);
	struct timeval tick = { 0, 20000 };
	event_add(keep, &tick);
	pthread_t t;
	pthread_create(&t, NULL, loop, base);

	/* two slow clients take both slots, sending a request head a byte every 100 ms; the
	 * deadline (1 s) is not moved by the trickle: both are closed well within 8 s */
	int slow[2] = { tcp_connect(port), tcp_connect(port) };
	CHECK(slow[0] >= 0 && slow[1] >= 0);
	static const char head[] = "GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	bool closed[2] = { false, false }, third_refused = false;
	double end = now_s() + 8;
	for (size_t i = 0; now_s() < end && !(closed[0] && closed[1]); i++) {
		for (int k = 0; k < 2; k++) {
			if (closed[k])
				continue;
			if (send(slow[k], head + i % (sizeof(head) - 1), 1, MSG_NOSIGNAL) < 0 ||
			    closed_by_server(slow[k]))
				closed[k] = true;
		}
		if (i == 3) {
			/* while both slots are held, a third client is refused at once with 503 */
			int third = tcp_connect(port);
			char buf[256] = "";
			struct timeval tv = { 2, 0 };
			setsockopt(third, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			ssize_t r = third >= 0 ? read(third, buf, sizeof(buf) - 1) : -1;
			third_refused = r > 0 && strstr(buf, "HTTP/1.1 503");
			close(third);
		}
		usleep(100000);
	}
	CHECK(third_refused);
	CHECK(closed[0] && closed[1]);
	close(slow[0]);
	close(slow[1]);

	/* slots are free again, and the refusal and the timeouts are counted */
	char *s = http_get(port, "/metrics");
	CHECK(s && strstr(s, "HTTP/1.1 200"));
	CHECK(s && strstr(s, "riov_metrics_http_refused_total 1\n"));
	CHECK(s && strstr(s, "riov_metrics_http_timeouts_total 2\n"));
	free(s);
	stop_loop = 1;
	pthread_join(t, NULL);
	riov_metrics_http_stop(m);
	event_free(keep);
	event_base_free(base);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(escaping_and_format), RIOV_TEST_ENTRY(serves_metrics_over_http),
	       RIOV_TEST_ENTRY(slow_clients_are_capped_and_cut_at_the_deadline))
