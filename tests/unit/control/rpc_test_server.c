/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_test_server: the real RPC layer (control/rpc_server.c, rpc_tls.c, state_store.c) without
 * riovd's dataplane, for tests. It is NOT riovd: it registers Node.Info (built in),
 * Network.Add/Delete/List over an in-memory list (a network with a vni lists canned overlay
 * totals), Network.ListMacs (two canned entries of any network, 2,500 more of a network whose
 * name starts with "many", in pages as riovd gives them), Config.Save (writes the real state store),
 * Config.Show, Metrics.Snapshot and the Metrics.Watch stream; every other method answers
 * UNIMPLEMENTED.
 *
 * Usage: rpc_test_server [--unix PATH] [--tls ADDR:PORT --cert F --key F --ca F]
 *        [--state-dir DIR] [--idle-ms N] [--frame-ms N] [--max-conns N] [--max-frame N]
 *        [--max-inflight N] [--tls-max-conns N] [--handshake-ms N] [--crl F] [--roles RULES]
 *        [--metrics ADDR:PORT] [--ready-fd FD]
 * Prints "ready <tls port> <metrics port>" to --ready-fd (or stdout) once listening; stops on
 * SIGTERM/SIGINT. --metrics serves the RPC server's own metrics (riov_rpc_server_metrics()).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "control/metrics_http.h"
#include "control/rpc_server.h"
#include "control/state_store.h"

#define MAX_NETS 64

struct app {
	struct riov_state_store *store;
	Riov__V1__NetworkSpec nets[MAX_NETS];
	Riov__V1__NetworkSpec *netp[MAX_NETS];
	char names[MAX_NETS][33];
	size_t n_nets;
	uint64_t generation;
	uint64_t ticks;
};

static int net_find(struct app *a, const char *name)
{
	for (size_t i = 0; i < a->n_nets; i++)
		if (strcmp(a->names[i], name) == 0)
			return (int)i;
	return -1;
}

static int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]))
			return 0;
	return 1;
}

static int net_add(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		   ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct app *a = riov_rpc_call_user(call);
	const Riov__V1__NetworkAddRequest *req = (const void *)reqm;
	if (!req->network || !name_ok(req->network->name)) {
		snprintf(msg, msglen, "network name must be 1-32 characters of [A-Za-z0-9_.-]");
		return -EINVAL;
	}
	if (net_find(a, req->network->name) >= 0) {
		snprintf(msg, msglen, "network %s already exists", req->network->name);
		return -EEXIST;
	}
	if (a->n_nets == MAX_NETS) {
		snprintf(msg, msglen, "too many networks (%d)", MAX_NETS);
		return -ENOSPC;
	}
	size_t i = a->n_nets++;
	snprintf(a->names[i], sizeof(a->names[i]), "%s", req->network->name);
	riov__v1__network_spec__init(&a->nets[i]);
	a->nets[i].name = a->names[i];
	a->nets[i].mtu = req->network->mtu ? req->network->mtu : 1500;
	a->nets[i].vni = req->network->vni;
	a->netp[i] = &a->nets[i];
	Riov__V1__NetworkAddResponse *r = riov_rpc_call_alloc(call, sizeof(*r));
	Riov__V1__NetworkInfo *info = riov_rpc_call_alloc(call, sizeof(*info));
	if (!r || !info)
		return -ENOMEM;
	riov__v1__network_add_response__init(r);
	riov__v1__network_info__init(info);
	info->spec = &a->nets[i];
	r->network = info;
	*resp = &r->base;
	return 0;
}

static int net_delete(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		      ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct app *a = riov_rpc_call_user(call);
	const Riov__V1__NetworkDeleteRequest *req = (const void *)reqm;
	int i = net_find(a, req->name);
	if (i < 0) {
		snprintf(msg, msglen, "network %s does not exist", req->name);
		return -ENOENT;
	}
	for (size_t j = (size_t)i; j + 1 < a->n_nets; j++) {
		memcpy(a->names[j], a->names[j + 1], sizeof(a->names[j]));
		a->nets[j] = a->nets[j + 1];
		a->nets[j].name = a->names[j];
	}
	a->n_nets--;
	return 0;
}

/* What riovd would count for an overlay network: tx 11 packets, rx 7, 3 drops (no_nexthop). */
static Riov__V1__VniCounters *canned_overlay(struct riov_rpc_call *call, uint32_t vni)
{
	Riov__V1__VniCounters *o = riov_rpc_call_alloc(call, sizeof(*o));
	Riov__V1__DropCounter *d = riov_rpc_call_alloc(call, sizeof(*d));
	Riov__V1__DropCounter **dv = riov_rpc_call_alloc(call, sizeof(*dv));

	if (!o || !d || !dv)
		return NULL;
	riov__v1__vni_counters__init(o);
	riov__v1__drop_counter__init(d);
	d->cause = "no_nexthop";
	d->packets = 3;
	dv[0] = d;
	o->vni = vni;
	o->tx_packets = 11;
	o->tx_bytes = 1100;
	o->rx_packets = 7;
	o->rx_bytes = 700;
	o->dropped = 3;
	o->drops = dv;
	o->n_drops = 1;
	return o;
}

/* Network.ListMacs: a guest's learned MAC and a static one behind VTEP 10.0.0.2, for any network;
 * a network "many..." has MANY_MACS learned ones more (02:00:00:01:hh:ll on vm1, after those two
 * in order). In pages as riovd makes them (page_size 0: 1000, at most 5000; next_page_token ""
 * on the last page); the token here is "i<index of the next entry>" (riovctl does not look). */
#define MANY_MACS 2500u
static int net_list_macs(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct app *a = riov_rpc_call_user(call);
	const Riov__V1__NetworkListMacsRequest *req = (const void *)reqm;
	Riov__V1__NetworkListMacsResponse *r = riov_rpc_call_alloc(call, sizeof(*r));
	char vtep_port[80], *end;
	unsigned long from = 0;

	if (net_find(a, req->net) < 0) {
		snprintf(msg, msglen, "network %s does not exist", req->net);
		return -ENOENT;
	}
	const size_t n = 2 + (strncmp(req->net, "many", 4) == 0 ? MANY_MACS : 0);
	const size_t size = req->page_size == 0 ? 1000 : req->page_size > 5000 ? 5000 : req->page_size;
	if (req->page_token[0] != '\0' &&
	    (req->page_token[0] != 'i' || (from = strtoul(req->page_token + 1, &end, 10)) == 0 ||
	     *end != '\0' || from >= n)) {
		snprintf(msg, msglen, "network %s: page_token '%.20s' is not one Network.ListMacs gave",
			 req->net, req->page_token);
		return -EINVAL;
	}
	const size_t count = n - from < size ? n - from : size;
	Riov__V1__MacEntry *e = riov_rpc_call_alloc(call, (count + 1) * sizeof(*e));
	Riov__V1__MacEntry **v = riov_rpc_call_alloc(call, (count + 1) * sizeof(*v));
	char (*text)[18] = riov_rpc_call_alloc(call, (count + 1) * sizeof(*text));
	if (!r || !e || !v || !text)
		return -ENOMEM;
	riov__v1__network_list_macs_response__init(r);
	snprintf(vtep_port, sizeof(vtep_port), "%.32s@10.0.0.2", req->net);
	for (size_t k = 0; k < count; k++) {
		const size_t i = from + k;
		riov__v1__mac_entry__init(&e[k]);
		v[k] = &e[k];
		if (i == 0) {
			e[k].mac = "02:00:00:00:00:01";
			e[k].port = "vm1";
			e[k].learned = true;
			e[k].local = true;
		} else if (i == 1) {
			e[k].mac = "02:00:00:00:00:0a";
			e[k].port = riov_rpc_call_strdup(call, vtep_port);
			e[k].remote = true;
			e[k].vtep = "10.0.0.2";
		} else {
			snprintf(text[k], sizeof(text[k]), "02:00:00:01:%02zx:%02zx", (i - 2) >> 8,
				 (i - 2) & 0xff);
			e[k].mac = text[k];
			e[k].port = "vm1";
			e[k].learned = true;
			e[k].local = true;
		}
	}
	r->macs = v;
	r->n_macs = count;
	r->total = (uint32_t)n;
	if (from + count < n) {
		r->next_page_token = riov_rpc_call_alloc(call, 24);
		if (r->next_page_token == NULL)
			return -ENOMEM;
		snprintf(r->next_page_token, 24, "i%zu", from + count);
	}
	*resp = &r->base;
	return 0;
}

static int net_list(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		    ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct app *a = riov_rpc_call_user(call);
	Riov__V1__NetworkListResponse *r = riov_rpc_call_alloc(call, sizeof(*r));
	Riov__V1__NetworkInfo *infos = riov_rpc_call_alloc(call, sizeof(*infos) * (a->n_nets + 1));
	Riov__V1__NetworkInfo **pp = riov_rpc_call_alloc(call, sizeof(*pp) * (a->n_nets + 1));
	if (!r || !infos || !pp)
		return -ENOMEM;
	riov__v1__network_list_response__init(r);
	for (size_t i = 0; i < a->n_nets; i++) {
		riov__v1__network_info__init(&infos[i]);
		a->nets[i].name = a->names[i];
		infos[i].spec = &a->nets[i];
		pp[i] = &infos[i];
		if (a->nets[i].vni != 0 && (infos[i].overlay = canned_overlay(call, a->nets[i].vni)) == NULL)
			return -ENOMEM;
	}
	r->n_networks = a->n_nets;
	r->networks = pp;
	*resp = &r->base;
	return 0;
}

static void fill_state(struct app *a, Riov__V1__State *st)
{
	riov__v1__state__init(st);
	st->format = 1;
	st->generation = a->generation;
	for (size_t i = 0; i < a->n_nets; i++) {
		a->nets[i].name = a->names[i];
		a->netp[i] = &a->nets[i];
	}
	st->n_networks = a->n_nets;
	st->networks = a->netp;
}

static int config_save(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		       ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct app *a = riov_rpc_call_user(call);
	if (!a->store) {
		snprintf(msg, msglen, "no state directory configured (--state-dir)");
		return RIOV__V1__STATUS__FAILED_PRECONDITION;
	}
	Riov__V1__State st;
	a->generation++;
	fill_state(a, &st);
	size_t len = riov__v1__state__get_packed_size(&st);
	uint8_t *buf = riov_rpc_call_alloc(call, len + 1);
	if (!buf)
		return -ENOMEM;
	riov__v1__state__pack(&st, buf);
	int rc = riov_state_store_write(a->store, buf, len, msg, msglen);
	if (rc < 0)
		return rc;
	Riov__V1__ConfigSaveResponse *r = riov_rpc_call_alloc(call, sizeof(*r));
	if (!r)
		return -ENOMEM;
	riov__v1__config_save_response__init(r);
	r->path = (char *)riov_state_store_path(a->store);
	r->bytes = len;
	r->generation = a->generation;
	*resp = &r->base;
	return 0;
}

static int config_show(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		       ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct app *a = riov_rpc_call_user(call);
	const Riov__V1__ConfigShowRequest *req = (const void *)reqm;
	Riov__V1__ConfigShowResponse *r = riov_rpc_call_alloc(call, sizeof(*r));
	Riov__V1__State *st = riov_rpc_call_alloc(call, sizeof(*st));
	if (!r || !st)
		return -ENOMEM;
	riov__v1__config_show_response__init(r);
	if (req->saved) {
		if (!a->store) {
			snprintf(msg, msglen, "no state directory configured (--state-dir)");
			return RIOV__V1__STATUS__FAILED_PRECONDITION;
		}
		void *buf = NULL;
		size_t len = 0;
		int rc = riov_state_store_read(a->store, &buf, &len, msg, msglen);
		if (rc < 0)
			return rc;
		/* decoded into call memory: freed by the server after the answer is packed */
		st = riov__v1__state__unpack(riov_rpc_call_allocator(call), len, buf);
		free(buf);
		if (!st) {
			snprintf(msg, msglen, "state file does not hold a riov.v1.State");
			return RIOV__V1__STATUS__INTERNAL;
		}
		r->path = (char *)riov_state_store_path(a->store);
	} else {
		fill_state(a, st);
	}
	r->state = st;
	*resp = &r->base;
	return 0;
}

static void fill_snapshot(struct riov_rpc_call *call, struct app *a, Riov__V1__MetricsSnapshot *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	riov__v1__metrics_snapshot__init(s);
	s->timestamp_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	s->faults = a->ticks++;
}

static int metrics_snapshot(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			    ProtobufCMessage **resp, char *msg, size_t msglen)
{
	Riov__V1__MetricsSnapshotResponse *r = riov_rpc_call_alloc(call, sizeof(*r));
	Riov__V1__MetricsSnapshot *s = riov_rpc_call_alloc(call, sizeof(*s));
	if (!r || !s)
		return -ENOMEM;
	riov__v1__metrics_snapshot_response__init(r);
	fill_snapshot(call, riov_rpc_call_user(call), s);
	r->snapshot = s;
	*resp = &r->base;
	return 0;
}

static int metrics_watch(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	const Riov__V1__MetricsWatchRequest *req = (const void *)reqm;
	Riov__V1__MetricsWatchResponse *r = riov_rpc_call_alloc(call, sizeof(*r));
	Riov__V1__MetricsSnapshot *s = riov_rpc_call_alloc(call, sizeof(*s));
	if (!r || !s)
		return -ENOMEM;
	unsigned iv = req->interval_ms ? req->interval_ms : 1000;
	riov_rpc_call_set_interval(call, iv < 100 ? 100 : iv);
	riov__v1__metrics_watch_response__init(r);
	fill_snapshot(call, riov_rpc_call_user(call), s);
	r->snapshot = s;
	if (req->count && riov_rpc_call_stream_seq(call) + 1 >= req->count)
		riov_rpc_call_end_stream(call);
	*resp = &r->base;
	return 0;
}

static void collect(struct evbuffer *out, void *arg)
{
	riov_rpc_server_metrics(arg, out);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "unix", required_argument, 0, 'u' },      { "tls", required_argument, 0, 't' },
		{ "cert", required_argument, 0, 'c' },      { "key", required_argument, 0, 'k' },
		{ "ca", required_argument, 0, 'a' },        { "state-dir", required_argument, 0, 's' },
		{ "idle-ms", required_argument, 0, 'i' },   { "frame-ms", required_argument, 0, 'f' },
		{ "max-conns", required_argument, 0, 'm' }, { "max-frame", required_argument, 0, 'x' },
		{ "max-inflight", required_argument, 0, 'I' },
		{ "tls-max-conns", required_argument, 0, 'T' },
		{ "handshake-ms", required_argument, 0, 'H' },
		{ "crl", required_argument, 0, 'C' },       { "roles", required_argument, 0, 'R' },
		{ "ready-fd", required_argument, 0, 'r' },  { "metrics", required_argument, 0, 'M' },
		{ 0, 0, 0, 0 },
	};
	struct riov_rpc_config cfg = { 0 };
	const char *state_dir = NULL, *metrics = NULL;
	int ready_fd = 1, opt;
	static struct app app;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'u': cfg.unix_path = optarg; break;
		case 't': cfg.tls_listen = optarg; break;
		case 'c': cfg.tls_cert = optarg; break;
		case 'k': cfg.tls_key = optarg; break;
		case 'a': cfg.tls_ca = optarg; break;
		case 's': state_dir = optarg; break;
		case 'i': cfg.idle_timeout_ms = (unsigned)atoi(optarg); break;
		case 'f': cfg.frame_timeout_ms = (unsigned)atoi(optarg); break;
		case 'm': cfg.max_conns = (unsigned)atoi(optarg); break;
		case 'x': cfg.max_frame = (size_t)atol(optarg); break;
		case 'I': cfg.max_inflight = (size_t)atol(optarg); break;
		case 'T': cfg.tls_max_conns = (unsigned)atoi(optarg); break;
		case 'H': cfg.tls_handshake_timeout_ms = (unsigned)atoi(optarg); break;
		case 'C': cfg.tls_crl = optarg; break;
		case 'R': cfg.tls_roles = optarg; break;
		case 'r': ready_fd = atoi(optarg); break;
		case 'M': metrics = optarg; break;
		default:
			fprintf(stderr, "usage: see the comment at the top of rpc_test_server.c\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	char err[512];
	if (state_dir && riov_state_store_open(state_dir, &app.store, err, sizeof(err)) < 0) {
		fprintf(stderr, "rpc_test_server: %s\n", err);
		return 1;
	}
	struct event_base *base = event_base_new();
	struct riov_rpc_server *srv;
	int rc = riov_rpc_server_new(base, &cfg, &srv, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "rpc_test_server: %s\n", err);
		event_base_free(base);
		riov_state_store_close(app.store);
		return 1;
	}
	riov_rpc_server_set_user(srv, &app);
	riov_rpc_register(srv, "Network.Add", RIOV_ROLE_ADMIN, net_add,
			  &riov__v1__network_add_request__descriptor);
	riov_rpc_register(srv, "Network.Delete", RIOV_ROLE_ADMIN, net_delete,
			  &riov__v1__network_delete_request__descriptor);
	riov_rpc_register(srv, "Network.List", RIOV_ROLE_READONLY, net_list,
			  &riov__v1__network_list_request__descriptor);
	riov_rpc_register(srv, "Network.ListMacs", RIOV_ROLE_READONLY, net_list_macs,
			  &riov__v1__network_list_macs_request__descriptor);
	riov_rpc_register(srv, "Config.Save", RIOV_ROLE_ADMIN, config_save,
			  &riov__v1__config_save_request__descriptor);
	riov_rpc_register(srv, "Config.Show", RIOV_ROLE_READONLY, config_show,
			  &riov__v1__config_show_request__descriptor);
	riov_rpc_register(srv, "Metrics.Snapshot", RIOV_ROLE_READONLY, metrics_snapshot,
			  &riov__v1__metrics_snapshot_request__descriptor);
	riov_rpc_register_stream(srv, "Metrics.Watch", RIOV_ROLE_READONLY, metrics_watch,
				 &riov__v1__metrics_watch_request__descriptor, 1000);
	struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	struct riov_metrics_http *mh = NULL;
	if (metrics && riov_metrics_http_start(base, metrics, collect, srv, &mh, err, sizeof(err)) < 0) {
		fprintf(stderr, "rpc_test_server: %s\n", err);
		return 1;
	}
	dprintf(ready_fd, "ready %d %d\n", riov_rpc_server_tls_port(srv),
		mh ? riov_metrics_http_port(mh) : 0);
	if (ready_fd != 1)
		close(ready_fd);
	event_base_dispatch(base);
	riov_metrics_http_stop(mh);
	riov_rpc_server_free(srv);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	riov_state_store_close(app.store);
	return 0;
}
