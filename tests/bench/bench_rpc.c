/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_rpc: round trips of the RPC layer over a Unix socket (server in a thread of this process,
 * blocking client library in the main thread). Reports Node.Info calls per second on one
 * connection, and connect+call+close per second. Then the same over TCP + TLS 1.3 on 127.0.0.1
 * (the real rpc_server TLS listener, client certificates made at run time with the openssl
 * command in a temporary directory; skipped when the openssl command is missing). Bounded to
 * about 2 s per measurement.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "control/rpc_server.h"
#include "rpc_client.h"

static volatile int stop;

static void check_stop(evutil_socket_t fd, short what, void *arg)
{
	if (stop)
		event_base_loopbreak(arg);
}

static void *loop(void *arg)
{
	event_base_dispatch(arg);
	return NULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int call(struct riov_client *c)
{
	Riov__V1__NodeInfoRequest req = RIOV__V1__NODE_INFO_REQUEST__INIT;
	char msg[256];
	return riov_client_call(c, "Node.Info", &req.base, NULL, msg, sizeof(msg));
}

/* Calls per second on one connection, then connects (+ handshake) + call + close per second. */
static void measure(const struct riov_client_opts *o, const char *what)
{
	struct riov_client *c;
	char err[256];

	if (riov_client_connect(o, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_rpc: %s: %s\n", what, err);
		return;
	}
	long n = 0;
	double t0 = now();
	while (now() - t0 < 2.0 && n < 1000000)
		n += call(c) == 0;
	double dt = now() - t0;
	printf("rpc Node.Info%s, one connection: %ld calls in %.2f s = %.0f calls/s (%.1f us/call)\n",
	       what, n, dt, n / dt, dt / n * 1e6);
	riov_client_close(c);

	n = 0;
	t0 = now();
	while (now() - t0 < 2.0 && n < 100000) {
		if (riov_client_connect(o, &c, err, sizeof(err)) < 0)
			break;
		n += call(c) == 0;
		riov_client_close(c);
	}
	dt = now() - t0;
	printf("rpc connect + Node.Info + close%s: %ld in %.2f s = %.0f/s\n", what, n, dt, n / dt);
}

/* A CA, a server certificate for 127.0.0.1 and an admin client certificate in dir (the way
 * tests/system/rpc/test_tls.sh makes them). Returns 0, or -1 when openssl failed. */
static int make_certs(const char *dir)
{
	char cmd[4096];
	const char *key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && exec >openssl.log 2>&1 && "
		 "openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj '/CN=riov bench CA' && "
		 "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' >server.ext && "
		 "printf 'extendedKeyUsage=clientAuth\\n' >client.ext && "
		 "openssl req -new %s -keyout server.key -out server.csr -subj /CN=localhost && "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
		 "-extfile server.ext -out server.pem && "
		 "openssl req -new %s -keyout admin.key -out admin.csr -subj /CN=bench/OU=admin && "
		 "openssl x509 -req -in admin.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
		 "-extfile client.ext -out admin.pem",
		 dir, key, key, key);
	return system(cmd) == 0 ? 0 : -1;
}

static void bench_tls(void)
{
	char dir[] = "/tmp/riov-bench-tls.XXXXXX";
	char f[6][PATH_MAX], addr[64], err[256], cmd[PATH_MAX + 16];
	const char *names[6] = { "ca.pem", "server.pem", "server.key", "admin.pem", "admin.key", "" };

	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		printf("rpc over TLS 1.3: skipped (the openssl command is not installed)\n");
		return;
	}
	if (mkdtemp(dir) == NULL) {
		perror("bench_rpc: mkdtemp");
		return;
	}
	for (int i = 0; i < 5; i++)
		snprintf(f[i], sizeof(f[i]), "%s/%s", dir, names[i]);
	if (make_certs(dir) != 0) {
		fprintf(stderr, "bench_rpc: making certificates with openssl failed (see %s/openssl.log)\n", dir);
		return;
	}
	struct event_base *base = event_base_new();
	struct riov_rpc_config cfg = { .tls_listen = "127.0.0.1:0", .tls_cert = f[1], .tls_key = f[2],
				       .tls_ca = f[0], .max_conns = 1024 };
	struct riov_rpc_server *srv;
	if (riov_rpc_server_new(base, &cfg, &srv, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_rpc: TLS server: %s\n", err);
		event_base_free(base);
		return;
	}
	struct event *tick = event_new(base, -1, EV_PERSIST, check_stop, base);
	struct timeval tv = { 0, 20000 };
	event_add(tick, &tv);
	stop = 0;
	pthread_t t;
	pthread_create(&t, NULL, loop, base);

	snprintf(addr, sizeof(addr), "tls://127.0.0.1:%d", riov_rpc_server_tls_port(srv));
	struct riov_client_opts o = { .connect = addr, .ca = f[0], .cert = f[3], .key = f[4] };
	measure(&o, " over TLS 1.3");

	stop = 1;
	pthread_join(t, NULL);
	riov_rpc_server_free(srv);
	event_free(tick);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_rpc: could not remove %s\n", dir);
}

int main(void)
{
	char path[64], addr[80], err[256];
	snprintf(path, sizeof(path), "/tmp/riov-bench-rpc.%d.sock", (int)getpid());
	snprintf(addr, sizeof(addr), "unix:%s", path);
	struct event_base *base = event_base_new();
	struct riov_rpc_config cfg = { .unix_path = path, .max_conns = 1024 };
	struct riov_rpc_server *srv;
	if (riov_rpc_server_new(base, &cfg, &srv, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_rpc: %s\n", err);
		return 1;
	}
	struct event *tick = event_new(base, -1, EV_PERSIST, check_stop, base);
	struct timeval tv = { 0, 20000 };
	event_add(tick, &tv);
	pthread_t t;
	pthread_create(&t, NULL, loop, base);

	struct riov_client_opts o = { .connect = addr };
	measure(&o, "");

	stop = 1;
	pthread_join(t, NULL);
	riov_rpc_server_free(srv);
	event_free(tick);
	event_base_free(base);

	bench_tls();
	return 0;
}
