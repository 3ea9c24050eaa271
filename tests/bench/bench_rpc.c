/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_rpc: round trips of the RPC layer over a Unix socket (server in a thread of this process,
 * blocking client library in the main thread). Reports Node.Info calls per second on one
 * connection, and connect+call+close per second. Bounded to about 2 s per measurement.
 */
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
	struct riov_client *c;
	if (riov_client_connect(&o, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_rpc: %s\n", err);
		return 1;
	}
	long n = 0;
	double t0 = now();
	while (now() - t0 < 2.0 && n < 1000000)
		n += call(c) == 0;
	double dt = now() - t0;
	printf("rpc Node.Info, one connection: %ld calls in %.2f s = %.0f calls/s (%.1f us/call)\n", n,
	       dt, n / dt, dt / n * 1e6);
	riov_client_close(c);

	n = 0;
	t0 = now();
	while (now() - t0 < 2.0 && n < 100000) {
		if (riov_client_connect(&o, &c, err, sizeof(err)) < 0)
			break;
		n += call(c) == 0;
		riov_client_close(c);
	}
	dt = now() - t0;
	printf("rpc connect + Node.Info + close: %ld in %.2f s = %.0f/s\n", n, dt, n / dt);

	stop = 1;
	pthread_join(t, NULL);
	riov_rpc_server_free(srv);
	event_free(tick);
	event_base_free(base);
	return 0;
}
