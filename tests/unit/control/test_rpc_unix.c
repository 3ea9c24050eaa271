/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RPC layer alone (not full riovd) over a real Unix socket: rpc_test_server (real
 * control/rpc_server.c) in a child process, driven by the real client library (tools/rpc_client.c)
 * and by raw sockets sending garbage, oversized and partial frames.
 *
 * No timed assertions: timeouts in the server are made small and the test only checks that the
 * connection is eventually closed (with a generous bound so a broken server cannot hang it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "riov_test.h"
#include "rpc_client.h"

struct srv {
	pid_t pid;
	char path[108];
};

static char tmpdir[64];

/* Start rpc_test_server on <tmpdir>/<name>.sock with extra args; wait for "ready". */
static int srv_start(struct srv *s, const char *name, const char *const *extra)
{
	const char *bin = getenv("RPC_TEST_SERVER");
	if (!bin) {
		fprintf(stderr, "  RPC_TEST_SERVER not set\n");
		return -1;
	}
	snprintf(s->path, sizeof(s->path), "%s/%s.sock", tmpdir, name);
	int p[2];
	if (pipe(p) < 0)
		return -1;
	char fdarg[16], sdir[128];
	snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
	snprintf(sdir, sizeof(sdir), "%s/%s-state", tmpdir, name);
	const char *argv[32] = { bin, "--unix", s->path, "--ready-fd", fdarg, "--state-dir", sdir };
	int n = 7;
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	s->pid = fork();
	if (s->pid == 0) {
		close(p[0]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	char buf[64] = "";
	ssize_t r = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	if (r <= 0 || strncmp(buf, "ready", 5) != 0) {
		int st;
		waitpid(s->pid, &st, 0);
		s->pid = 0;
		return -1;
	}
	return 0;
}

static int srv_stop(struct srv *s)
{
	int st = 0;
	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	waitpid(s->pid, &st, 0);
	s->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static struct riov_client *client(struct srv *s)
{
	char addr[128], err[256];
	struct riov_client *c = NULL;
	snprintf(addr, sizeof(addr), "unix:%s", s->path);
	struct riov_client_opts o = { .connect = addr, .timeout_ms = 10000 };
	if (riov_client_connect(&o, &c, err, sizeof(err)) < 0)
		fprintf(stderr, "  connect: %s\n", err);
	return c;
}

static int raw_connect(struct srv *s)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->path);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read until the server closes; returns 1 when closed, 0 on timeout (10 s). Bytes are counted. */
static int wait_closed(int fd, size_t *got)
{
	char buf[4096];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0) {
			if (got)
				*got += (size_t)n;
			continue;
		}
		if (n == 0 || errno == ECONNRESET)
			return 1;
		if (errno == EINTR)
			continue;
		return 0;
	}
}

static int node_info_ok(struct riov_client *c)
{
	char msg[256];
	Riov__V1__NodeInfoRequest req = RIOV__V1__NODE_INFO_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int st = riov_client_call(c, "Node.Info", &req.base, &resp, msg, sizeof(msg));
	if (st != 0)
		fprintf(stderr, "  Node.Info: %d %s\n", st, msg);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return st == 0;
}

static struct srv main_srv;

RIOV_TEST(node_info_rpc_layer_alone)
{
	struct riov_client *c = client(&main_srv);
	CHECK(c != NULL);
	if (!c)
		return;
	char msg[256];
	Riov__V1__NodeInfoRequest req = RIOV__V1__NODE_INFO_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	CHECK_EQ(riov_client_call(c, "Node.Info", &req.base, &resp, msg, sizeof(msg)), 0);
	Riov__V1__NodeInfoResponse *r = (void *)resp;
	CHECK(r && strcmp(r->version, RIOV_VERSION) == 0);
	CHECK(r && strcmp(r->role, "admin") == 0);
	CHECK(r && strcmp(r->health, "ok") == 0 && r->api_version == 1);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	riov_client_close(c);
}

static int raw_call(int fd, const char *method, uint64_t id, Riov__V1__Frame **ans)
{
	Riov__V1__Frame f = RIOV__V1__FRAME__INIT;
	f.method = (char *)method;
	f.request_id = id;
	uint8_t *buf;
	size_t len;
	if (riov_frame_encode(&f, 4096, &buf, &len) < 0)
		return -1;
	ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
	free(buf);
	if (w != (ssize_t)len)
		return -1;
	uint8_t hdr[4];
	size_t body;
	if (recv(fd, hdr, 4, MSG_WAITALL) != 4 || riov_frame_check_header(hdr, 4, 1 << 20, &body) != 1)
		return -1;
	uint8_t *b = malloc(body);
	int rc = -1;
	if (recv(fd, b, body, MSG_WAITALL) == (ssize_t)body)
		rc = riov_frame_decode(b, body, ans);
	free(b);
	return rc;
}

RIOV_TEST(unknown_and_unregistered_methods)
{
	int fd = raw_connect(&main_srv);
	CHECK(fd >= 0);
	Riov__V1__Frame *a = NULL;
	CHECK_EQ(raw_call(fd, "Foo.Bar", 7, &a), 0);
	CHECK(a && a->request_id == 7 && a->status == RIOV__V1__STATUS__UNIMPLEMENTED);
	CHECK(a && strstr(a->message, "unknown method 'Foo.Bar'"));
	riov_frame_free(a);
	a = NULL;
	CHECK_EQ(raw_call(fd, "Port.Add", 8, &a), 0);
	CHECK(a && a->request_id == 8 && a->status == RIOV__V1__STATUS__UNIMPLEMENTED);
	CHECK(a && strstr(a->message, "Port.Add is not implemented"));
	riov_frame_free(a);
	a = NULL;
	/* the connection is still good */
	CHECK_EQ(raw_call(fd, "Node.Info", 9, &a), 0);
	CHECK(a && a->status == 0 && a->request_id == 9);
	riov_frame_free(a);
	close(fd);
}

RIOV_TEST(bad_payload_is_invalid_argument)
{
	int fd = raw_connect(&main_srv);
	Riov__V1__Frame f = RIOV__V1__FRAME__INIT, *a = NULL;
	uint8_t junk[] = { 0x0a, 0x50, 0x01 }; /* field 1, length 80, 1 byte present */
	f.method = "Network.Add";
	f.request_id = 3;
	f.payload.data = junk;
	f.payload.len = sizeof(junk);
	uint8_t *buf, hdr[4];
	size_t len, body;
	CHECK_EQ(riov_frame_encode(&f, 4096, &buf, &len), 0);
	CHECK_EQ(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
	free(buf);
	CHECK_EQ(recv(fd, hdr, 4, MSG_WAITALL), 4);
	CHECK_EQ(riov_frame_check_header(hdr, 4, 1 << 20, &body), 1);
	uint8_t b[1024];
	CHECK_EQ(recv(fd, b, body, MSG_WAITALL), (ssize_t)body);
	CHECK_EQ(riov_frame_decode(b, body, &a), 0);
	CHECK(a && a->status == RIOV__V1__STATUS__INVALID_ARGUMENT);
	CHECK(a && strstr(a->message, "riov.v1.NetworkAddRequest"));
	riov_frame_free(a);
	close(fd);
}

RIOV_TEST(garbage_frame_closes_only_that_connection)
{
	struct riov_client *good = client(&main_srv);
	CHECK(good && node_info_ok(good));
	int bad = raw_connect(&main_srv);
	uint8_t g[] = { 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	CHECK_EQ(send(bad, g, sizeof(g), MSG_NOSIGNAL), (ssize_t)sizeof(g));
	size_t got = 0;
	CHECK_EQ(wait_closed(bad, &got), 1);
	CHECK_EQ(got, 0); /* closed without an answer */
	close(bad);
	CHECK(good && node_info_ok(good));
	struct riov_client *fresh = client(&main_srv);
	CHECK(fresh && node_info_ok(fresh));
	riov_client_close(fresh);
	riov_client_close(good);
}

RIOV_TEST(oversized_frame_refused_from_header)
{
	/* main_srv runs with --max-frame 4096: announce one byte more, send nothing else. */
	int fd = raw_connect(&main_srv);
	uint8_t hdr[4];
	riov_frame_put_header(hdr, 4097);
	CHECK_EQ(send(fd, hdr, 4, MSG_NOSIGNAL), 4);
	Riov__V1__Frame *a = NULL;
	uint8_t h[4], b[1024];
	size_t body = 0;
	CHECK_EQ(recv(fd, h, 4, MSG_WAITALL), 4);
	CHECK_EQ(riov_frame_check_header(h, 4, sizeof(b), &body), 1);
	CHECK_EQ(recv(fd, b, body, MSG_WAITALL), (ssize_t)body);
	CHECK_EQ(riov_frame_decode(b, body, &a), 0);
	CHECK(a && a->status == RIOV__V1__STATUS__RESOURCE_EXHAUSTED);
	CHECK(a && strstr(a->message, "4097") && strstr(a->message, "4096"));
	riov_frame_free(a);
	CHECK_EQ(wait_closed(fd, NULL), 1);
	close(fd);
	/* the client library refuses to send one at all */
	struct riov_client *c = client(&main_srv);
	CHECK(c && node_info_ok(c));
	riov_client_close(c);
}

RIOV_TEST(half_open_and_partial_frames_time_out)
{
	/* main_srv: --idle-ms 1000 --frame-ms 200 */
	int silent = raw_connect(&main_srv);
	int partial = raw_connect(&main_srv);
	uint8_t hdr[6];
	riov_frame_put_header(hdr, 100);
	hdr[4] = 0x12;
	hdr[5] = 0x09;
	CHECK_EQ(send(partial, hdr, sizeof(hdr), MSG_NOSIGNAL), 6);
	struct riov_client *c = client(&main_srv);
	CHECK(c && node_info_ok(c));
	CHECK_EQ(wait_closed(partial, NULL), 1);
	CHECK_EQ(wait_closed(silent, NULL), 1);
	close(partial);
	close(silent);
	riov_client_close(c);
}

RIOV_TEST(many_clients_at_once)
{
	enum { N = 100 };
	struct riov_client *cs[N];
	int ok = 0;
	for (int i = 0; i < N; i++)
		cs[i] = client(&main_srv);
	for (int i = 0; i < N; i++)
		ok += cs[i] && node_info_ok(cs[i]);
	CHECK_EQ(ok, N);
	for (int i = 0; i < N; i++)
		riov_client_close(cs[i]);
}

RIOV_TEST(pipelined_requests_answered_in_order)
{
	int fd = raw_connect(&main_srv);
	uint8_t all[4096];
	size_t off = 0;
	for (uint64_t id = 1; id <= 10; id++) {
		Riov__V1__Frame f = RIOV__V1__FRAME__INIT;
		f.method = "Node.Info";
		f.request_id = id;
		uint8_t *b;
		size_t l;
		CHECK_EQ(riov_frame_encode(&f, 4096, &b, &l), 0);
		memcpy(all + off, b, l);
		off += l;
		free(b);
	}
	CHECK_EQ(send(fd, all, off, MSG_NOSIGNAL), (ssize_t)off);
	for (uint64_t id = 1; id <= 10; id++) {
		uint8_t h[4], b[1024];
		size_t body = 0;
		Riov__V1__Frame *a = NULL;
		CHECK_EQ(recv(fd, h, 4, MSG_WAITALL), 4);
		CHECK_EQ(riov_frame_check_header(h, 4, sizeof(b), &body), 1);
		CHECK_EQ(recv(fd, b, body, MSG_WAITALL), (ssize_t)body);
		CHECK_EQ(riov_frame_decode(b, body, &a), 0);
		CHECK(a && a->request_id == id && a->status == 0);
		riov_frame_free(a);
	}
	close(fd);
}

static int count_cb(const ProtobufCMessage *resp, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int stop_cb(const ProtobufCMessage *resp, void *arg)
{
	return 1;
}

RIOV_TEST(metrics_watch_streams_until_count)
{
	struct riov_client *c = client(&main_srv);
	Riov__V1__MetricsWatchRequest req = RIOV__V1__METRICS_WATCH_REQUEST__INIT;
	req.interval_ms = 100;
	req.count = 3;
	int n = 0;
	char msg[256];
	CHECK_EQ(riov_client_stream(c, "Metrics.Watch", &req.base, count_cb, &n, msg, sizeof(msg)), 0);
	CHECK_EQ(n, 3);
	/* the same connection serves unary calls after the stream ended */
	CHECK(node_info_ok(c));
	riov_client_close(c);
	/* a client that leaves in the middle of an endless stream does not disturb the server */
	c = client(&main_srv);
	req.count = 0;
	CHECK_EQ(riov_client_stream(c, "Metrics.Watch", &req.base, stop_cb, NULL, msg, sizeof(msg)), 0);
	riov_client_close(c);
	c = client(&main_srv);
	CHECK(c && node_info_ok(c));
	riov_client_close(c);
}

RIOV_TEST(admin_method_writes_state_store)
{
	struct riov_client *c = client(&main_srv);
	char msg[256];
	Riov__V1__NetworkAddRequest add = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;
	spec.name = "blue";
	add.network = &spec;
	CHECK_EQ(riov_client_call(c, "Network.Add", &add.base, NULL, msg, sizeof(msg)), 0);
	CHECK_EQ(riov_client_call(c, "Network.Add", &add.base, NULL, msg, sizeof(msg)),
		 RIOV__V1__STATUS__ALREADY_EXISTS);
	CHECK(strstr(msg, "network blue already exists") != NULL);
	Riov__V1__ConfigSaveRequest save = RIOV__V1__CONFIG_SAVE_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	CHECK_EQ(riov_client_call(c, "Config.Save", &save.base, &resp, msg, sizeof(msg)), 0);
	Riov__V1__ConfigSaveResponse *sr = (void *)resp;
	CHECK(sr && sr->bytes > 0 && strstr(sr->path, "state.pb"));
	struct stat st;
	CHECK(sr && stat(sr->path, &st) == 0 && st.st_size > 0);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	Riov__V1__ConfigShowRequest show = RIOV__V1__CONFIG_SHOW_REQUEST__INIT;
	show.saved = 1;
	CHECK_EQ(riov_client_call(c, "Config.Show", &show.base, &resp, msg, sizeof(msg)), 0);
	Riov__V1__ConfigShowResponse *shr = (void *)resp;
	CHECK(shr && shr->state && shr->state->n_networks == 1 &&
	      strcmp(shr->state->networks[0]->name, "blue") == 0);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	riov_client_close(c);
}

RIOV_TEST(flood_while_legitimate_client_works)
{
	/* Rounds of half-open connections, garbage, oversized and partial frames; between each
	 * burst the legitimate client makes calls that must all succeed. */
	struct riov_client *good = client(&main_srv);
	int fds[200], nfd = 0, ok = 0, calls = 0;
	for (int round = 0; round < 8; round++) {
		for (int k = 0; k < 5 && nfd < 200; k++) {
			int h = raw_connect(&main_srv); /* half-open: says nothing */
			if (h >= 0)
				fds[nfd++] = h;
			int g = raw_connect(&main_srv);
			if (g >= 0) {
				uint8_t junk[64];
				for (size_t i = 0; i < sizeof(junk); i++)
					junk[i] = (uint8_t)(i * 37 + round);
				junk[0] = 0; junk[1] = 0; junk[2] = 0; junk[3] = 60;
				if (send(g, junk, sizeof(junk), MSG_NOSIGNAL) < 0) { /* closed early */ }
				close(g);
			}
			int o = raw_connect(&main_srv);
			if (o >= 0) {
				uint8_t hdr[4];
				riov_frame_put_header(hdr, 0x7fffffff);
				if (send(o, hdr, 4, MSG_NOSIGNAL) < 0) { /* closed early */ }
				close(o);
			}
		}
		for (int k = 0; k < 5; k++) {
			calls++;
			ok += node_info_ok(good);
		}
	}
	CHECK_EQ(ok, calls);
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	riov_client_close(good);
}

RIOV_TEST(client_that_never_reads_is_dropped)
{
	/* --max-inflight 4096 --idle-ms 500: pipeline requests without reading any answer. The
	 * server stops reading once 4 KiB of answers are queued, so its memory stays bounded, and
	 * the write timeout drops the client; another client is served all along. */
	struct srv s;
	const char *extra[] = { "--max-inflight", "4096", "--idle-ms", "500", NULL };
	CHECK_EQ(srv_start(&s, "noread", extra), 0);
	int fd = raw_connect(&s);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	Riov__V1__Frame f = RIOV__V1__FRAME__INIT;
	f.method = "Node.Info";
	f.request_id = 1;
	uint8_t *one;
	size_t len;
	CHECK_EQ(riov_frame_encode(&f, 4096, &one, &len), 0);
	uint8_t batch[8192];
	size_t n = sizeof(batch) / len;
	for (size_t i = 0; i < n; i++)
		memcpy(batch + i * len, one, len);
	free(one);
	size_t sent = 0;
	for (int i = 0; i < 100000; i++) {
		ssize_t w = send(fd, batch, n * len, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the server stopped reading: our send buffer is full */
		sent += (size_t)w;
	}
	CHECK(sent > 0);
	struct riov_client *c = client(&s);
	CHECK(c && node_info_ok(c));
	/* wait (bounded) for the hang-up without reading anything */
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	int r = poll(&p, 1, 20000);
	CHECK(r == 1 && (p.revents & (POLLHUP | POLLRDHUP)));
	riov_client_close(c); /* idle for longer than 500 ms by now: open a new one */
	c = client(&s);
	CHECK(c && node_info_ok(c));
	riov_client_close(c);
	close(fd);
	CHECK_EQ(srv_stop(&s), 0);
}

RIOV_TEST(connection_limit)
{
	struct srv s;
	const char *extra[] = { "--max-conns", "4", NULL };
	CHECK_EQ(srv_start(&s, "limit", extra), 0);
	struct riov_client *cs[4];
	for (int i = 0; i < 4; i++) {
		cs[i] = client(&s);
		CHECK(cs[i] && node_info_ok(cs[i]));
	}
	/* the fifth is told why and closed */
	int fd = raw_connect(&s);
	uint8_t h[4], b[512];
	size_t body = 0;
	Riov__V1__Frame *a = NULL;
	CHECK_EQ(recv(fd, h, 4, MSG_WAITALL), 4);
	CHECK_EQ(riov_frame_check_header(h, 4, sizeof(b), &body), 1);
	CHECK_EQ(recv(fd, b, body, MSG_WAITALL), (ssize_t)body);
	CHECK_EQ(riov_frame_decode(b, body, &a), 0);
	CHECK(a && a->status == RIOV__V1__STATUS__RESOURCE_EXHAUSTED &&
	      strstr(a->message, "too many connections"));
	riov_frame_free(a);
	CHECK_EQ(wait_closed(fd, NULL), 1);
	close(fd);
	/* once one leaves, a new client gets in (the server sees the close asynchronously:
	 * retry a bounded number of times) */
	riov_client_close(cs[0]);
	struct riov_client *late = NULL;
	for (int tries = 0; tries < 200 && !late; tries++) {
		late = client(&s);
		if (late && !node_info_ok(late)) {
			riov_client_close(late);
			late = NULL;
			usleep(10000);
		}
	}
	CHECK(late != NULL);
	riov_client_close(late);
	for (int i = 1; i < 4; i++)
		riov_client_close(cs[i]);
	CHECK_EQ(srv_stop(&s), 0);
}

RIOV_TEST(socket_mode_stale_and_live)
{
	struct stat st;
	CHECK(stat(main_srv.path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0660);
	/* a second server on a live socket is refused */
	struct srv s2;
	strcpy(s2.path, main_srv.path);
	CHECK(srv_start(&s2, "main", NULL) < 0);
	CHECK(stat(main_srv.path, &st) == 0); /* and did not remove it */
	struct riov_client *c = client(&main_srv);
	CHECK(c && node_info_ok(c));
	riov_client_close(c);
	/* a stale socket (nobody listening) is replaced */
	char stale[100];
	snprintf(stale, sizeof(stale), "%.60s/stale.sock", tmpdir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", stale);
	CHECK_EQ(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	struct srv s3;
	CHECK_EQ(srv_start(&s3, "stale", NULL), 0);
	c = client(&s3);
	CHECK(c && node_info_ok(c));
	riov_client_close(c);
	CHECK_EQ(srv_stop(&s3), 0);
	CHECK(stat(stale, &st) < 0); /* removed on exit */
	/* a path that is not a socket is left alone */
	char plain[128];
	snprintf(plain, sizeof(plain), "%s/plain.sock", tmpdir);
	fd = open(plain, O_CREAT | O_WRONLY, 0600);
	close(fd);
	CHECK(srv_start(&s3, "plain", NULL) < 0);
	CHECK(stat(plain, &st) == 0 && S_ISREG(st.st_mode));
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/riov-rpc-test.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(1);
	}
	signal(SIGPIPE, SIG_IGN);
	const char *extra[] = { "--max-frame", "4096", "--idle-ms", "1000", "--frame-ms", "200",
				"--max-conns", "256", NULL };
	if (srv_start(&main_srv, "main", extra) < 0) {
		fprintf(stderr, "cannot start rpc_test_server\n");
		exit(1);
	}
}

static void teardown(void)
{
	CHECK_EQ(srv_stop(&main_srv), 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", tmpdir);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(setup), RIOV_TEST_ENTRY(node_info_rpc_layer_alone),
	       RIOV_TEST_ENTRY(unknown_and_unregistered_methods),
	       RIOV_TEST_ENTRY(bad_payload_is_invalid_argument),
	       RIOV_TEST_ENTRY(garbage_frame_closes_only_that_connection),
	       RIOV_TEST_ENTRY(oversized_frame_refused_from_header),
	       RIOV_TEST_ENTRY(half_open_and_partial_frames_time_out),
	       RIOV_TEST_ENTRY(many_clients_at_once),
	       RIOV_TEST_ENTRY(pipelined_requests_answered_in_order),
	       RIOV_TEST_ENTRY(metrics_watch_streams_until_count),
	       RIOV_TEST_ENTRY(admin_method_writes_state_store),
	       RIOV_TEST_ENTRY(flood_while_legitimate_client_works),
	       RIOV_TEST_ENTRY(client_that_never_reads_is_dropped),
	       RIOV_TEST_ENTRY(connection_limit), RIOV_TEST_ENTRY(socket_mode_stale_and_live),
	       RIOV_TEST_ENTRY(teardown))
