/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RDMA peer links in riovd (DESIGN.md "Fabric", issue 15, docs/rdma.md): with `rdma_device` in the
 * configuration file, the node listens for RDMA peers on its VTEP address (the first uplink's) and
 * keeps one link (dataplane/rdma_link.h) to every remote VTEP address that any network has,
 * static or EVPN alike; the dataplane sends a VTEP's frames over its address's link while that is
 * up, else by VXLAN.
 *
 * What it does, each time the VTEPs or the uplinks change (svc_rdma_sync) and once a second:
 * - the context (listener, event channel) follows the first uplink's address: made when there is
 *   one, remade when it changes, gone with the last uplink (links first);
 * - the links follow the set of remote VTEP addresses (svc_rdma_peer_set): a new address gets a
 *   link, published to its worker (riov_dp_rdma_attach); an address no network has any more is
 *   withdrawn from the workers (riov_dp_rdma_detach: publish and wait) and then destroyed.
 * The event channel's fd is watched (EV_READ) and riov_rdma_cm_poll() also runs on a timer of the
 * delay it asks for. Every step is logged with its reason; link states are logged as they change.
 *
 * Thread rules: control thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "common/log.h"
#include "control/config.h"
#include "control/metrics_http.h"
#include "control/service_internal.h"
#include "dataplane/rdma_link.h"

RIOV_LOG_COMPONENT("rdma", RIOV_LOG_INFO);

#define SVC_RDMA_PEERS_MAX RIOV_DP_MAX_PORTS   /* at most one per VTEP port */
#define SVC_RDMA_RETRY_MS 1000u                /* without a context: try again; with one: sync */

struct svc_rdma_peer {
	uint32_t ip;
	struct riov_rdma_link *link;
	unsigned worker;
	enum riov_rdma_link_state logged;      /* the last state logged */
};

struct svc_rdma {
	struct riov_rdma_ctx *ctx;             /* NULL: none (no uplink, or it could not be made) */
	uint32_t local_ip;                     /* ctx's address (network order); 0: no ctx */
	uint32_t failed_ip;                    /* the address ctx creation last failed on (logged once) */
	bool removed;                          /* a device went away; no context made since */
	int failed_rc;
	struct event *fd_ev;                   /* the event channel readable */
	struct event *tick_ev;                 /* riov_rdma_cm_poll() when due; the sync once a second */
	unsigned since_sync_ms;
	unsigned n;
	struct svc_rdma_peer peers[SVC_RDMA_PEERS_MAX]; /* sorted by address */
};

static void ip_text(uint32_t ip, char out[INET_ADDRSTRLEN])
{
	inet_ntop(AF_INET, &ip, out, INET_ADDRSTRLEN);
}

const char *svc_rdma_state_name(enum riov_rdma_link_state s)
{
	switch (s) {
	case RIOV_RDMA_LINK_DOWN: return "down";
	case RIOV_RDMA_LINK_BACKOFF: return "backoff";
	case RIOV_RDMA_LINK_CONNECTING: return "connecting";
	case RIOV_RDMA_LINK_HELLO: return "hello";
	case RIOV_RDMA_LINK_UP: return "up";
	}
	return "?";
}

/* ------------------------------------------------------------------ the peer set */

struct peer_acc {
	uint32_t *out;
	unsigned n, max;
	uint32_t local;
	bool overflow;
};

static void peer_one(void *arg, const char *net, uint32_t ip, const struct riov_dp_vtep_info *vi)
{
	struct peer_acc *a = arg;

	(void)net;
	(void)vi;
	if (ip == a->local || ip == 0)
		return;
	/* sorted insert without repeats (a VTEP of several networks is one peer) */
	unsigned lo = 0, hi = a->n;
	const uint32_t k = ntohl(ip);
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		uint32_t m = ntohl(a->out[mid]);
		if (m == k)
			return;
		if (m < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (a->n == a->max) {   /* full: the lowest addresses stay (the same set every time) */
		a->overflow = true;
		if (lo == a->n || a->max == 0)
			return;
		a->n--;
	}
	memmove(&a->out[lo + 1], &a->out[lo], (a->n - lo) * sizeof(a->out[0]));
	a->out[lo] = ip;
	a->n++;
}

unsigned svc_rdma_peer_set(struct riov_dp *dp, uint32_t local, uint32_t *out, unsigned max)
{
	struct peer_acc a = { .out = out, .max = max, .local = local };

	riov_dp_vtep_foreach(dp, NULL, peer_one, &a);
	if (a.overflow)
		RIOV_LOG(RIOV_LOG_WARN, "more than %u remote VTEP addresses: the rest get no RDMA link", max);
	return a.n;
}

/* ------------------------------------------------------------------ links */

static void peer_drop(struct riov_service *svc, unsigned i, const char *why)
{
	struct svc_rdma *r = svc->rdma;
	struct svc_rdma_peer *p = &r->peers[i];
	char a[INET_ADDRSTRLEN];

	ip_text(p->ip, a);
	int rc = riov_dp_rdma_detach(svc->dp, p->ip);  /* no worker uses it after this */
	if (rc != 0)
		RIOV_LOG(RIOV_LOG_ERR, "RDMA link to %s: the dataplane did not have it (%s)", a, strerror(-rc));
	riov_rdma_link_destroy(p->link);
	RIOV_LOG(RIOV_LOG_INFO, "RDMA link to %s deleted: %s", a, why);
	memmove(&r->peers[i], &r->peers[i + 1], (r->n - i - 1) * sizeof(r->peers[0]));
	r->n--;
}

static int peer_add(struct riov_service *svc, unsigned at, uint32_t ip)
{
	struct svc_rdma *r = svc->rdma;
	struct riov_rdma_link *l = NULL;
	char a[INET_ADDRSTRLEN];
	unsigned worker = 0;

	ip_text(ip, a);
	int rc = riov_rdma_link_create(r->ctx, ip, &l);
	if (rc != 0) {
		RIOV_LOG(RIOV_LOG_ERR, "RDMA link to VTEP %s not made: %s; its frames go by VXLAN", a,
			 strerror(-rc));
		return rc;
	}
	/* at once to its worker: the link's connections are handed over through its polls */
	rc = riov_dp_rdma_attach(svc->dp, ip, l, &worker);
	if (rc != 0) {
		riov_rdma_link_destroy(l);
		RIOV_LOG(RIOV_LOG_ERR, "RDMA link to VTEP %s not given to a worker: %s; its frames go by "
			 "VXLAN", a, strerror(-rc));
		return rc;
	}
	memmove(&r->peers[at + 1], &r->peers[at], (r->n - at) * sizeof(r->peers[0]));
	r->peers[at] = (struct svc_rdma_peer){ .ip = ip, .link = l, .worker = worker,
					       .logged = riov_rdma_link_state(l) };
	r->n++;
	RIOV_LOG(RIOV_LOG_INFO, "RDMA link to VTEP %s (worker %u): this node %s", a, worker,
		 riov_rdma_link_is_connector(l) ? "connects (its address is the lower one)" :
						  "accepts (the peer's address is the lower one)");
	return 0;
}

static void ctx_down(struct riov_service *svc, const char *why)
{
	struct svc_rdma *r = svc->rdma;
	char a[INET_ADDRSTRLEN];

	while (r->n > 0)
		peer_drop(svc, r->n - 1, why);
	if (r->fd_ev != NULL) {
		event_free(r->fd_ev);
		r->fd_ev = NULL;
	}
	if (r->ctx != NULL) {
		ip_text(r->local_ip, a);
		riov_rdma_ctx_destroy(r->ctx);
		RIOV_LOG(RIOV_LOG_NOTICE, "RDMA on %s: listener on %s closed: %s", svc->cfg->rdma_device, a, why);
	}
	r->ctx = NULL;
	r->local_ip = 0;
}

static void poll_cm(struct riov_service *svc);

static void fd_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	poll_cm(arg);
}

/* Whether the configured device exists (rdma-core's sysfs class); only for a clear message: the
 * device really used is the one that has the VTEP address (rdma_cm binds to it). */
static bool device_present(const char *dev)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/infiniband/%s", dev);
	return stat(path, &st) == 0;
}

static void ctx_up(struct riov_service *svc, uint32_t local, const char *uplink)
{
	struct svc_rdma *r = svc->rdma;
	const struct riov_config *c = svc->cfg;
	struct riov_rdma_conf conf = {
		.local_ip = local,
		.port = (uint16_t)c->rdma_port,
		.msg_size = c->rdma_msg_size,
		.recv_bufs = (uint16_t)c->rdma_recv_bufs,
		.send_bufs = (uint16_t)c->rdma_send_bufs,
	};
	char a[INET_ADDRSTRLEN];

	ip_text(local, a);
	riov_dp_rdma_conf(svc->dp, &conf);
	int rc = riov_rdma_ctx_create(&conf, &r->ctx);
	if (rc != 0) {
		r->ctx = NULL;
		if (r->failed_ip != local || r->failed_rc != rc)
			RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: no listener on VTEP address %s (uplink %s): %s%s; "
				 "remote VTEPs are reached by VXLAN only; retrying every %u ms",
				 c->rdma_device, a, uplink, strerror(-rc),
				 rc == -ENODEV ? (device_present(c->rdma_device) ?
							  " (no RDMA device has that address: put it on the "
							  "device's network interface)" :
							  " (the device does not exist: rdma link show)") : "",
				 SVC_RDMA_RETRY_MS);
		r->failed_ip = local;
		r->failed_rc = rc;
		return;
	}
	r->failed_ip = 0;
	r->failed_rc = 0;
	r->local_ip = local;
	int fd = riov_rdma_ctx_fd(r->ctx);
	if (svc->base != NULL && fd >= 0) {
		r->fd_ev = event_new(svc->base, fd, EV_READ | EV_PERSIST, fd_cb, svc);
		if (r->fd_ev == NULL || event_add(r->fd_ev, NULL) != 0)
			RIOV_LOG(RIOV_LOG_WARN, "RDMA: cannot watch the event channel: polled every %u ms only",
				 RIOV_RDMA_CM_TICK_MS);
	}
	RIOV_LOG(RIOV_LOG_NOTICE, "RDMA on %s: listening on %s port %u (VTEP address of uplink %s); "
		 "messages of %u bytes, %u receive and %u send buffers per link", c->rdma_device, a,
		 c->rdma_port, uplink, c->rdma_msg_size, c->rdma_recv_bufs, c->rdma_send_bufs);
}

/* The context's device went away: every id, QP and registration on it goes, so that the kernel
 * can finish removing it; a device with the address is looked for again at each sync. */
static bool ctx_gone(struct riov_service *svc)
{
	struct svc_rdma *r = svc->rdma;

	if (r->ctx == NULL || !riov_rdma_ctx_removed(r->ctx))
		return false;
	ctx_down(svc, "the RDMA device was removed");
	r->removed = true;
	return true;
}

void svc_rdma_sync(struct riov_service *svc)
{
	struct svc_rdma *r = svc->rdma;
	const char *uplink = NULL;

	if (r == NULL)
		return;
	ctx_gone(svc);
	const uint32_t local = svc_uplink_address(svc, &uplink);
	if (r->ctx != NULL && local != r->local_ip)
		ctx_down(svc, local == 0 ? "the last uplink was deleted" : "the first uplink's address changed");
	if (local == 0) {
		r->failed_ip = 0;
		return;
	}
	if (r->ctx == NULL && r->removed)
		riov_rdma_devices_sync();   /* so that the kernel can finish the removal */
	if (r->ctx == NULL)
		ctx_up(svc, local, uplink);
	if (r->ctx == NULL)
		return;
	r->removed = false;

	uint32_t *want = malloc(SVC_RDMA_PEERS_MAX * sizeof(*want));
	if (want == NULL) {
		RIOV_LOG(RIOV_LOG_WARN, "RDMA: out of memory; links not updated");
		return;
	}
	const unsigned nw = svc_rdma_peer_set(svc->dp, local, want, SVC_RDMA_PEERS_MAX);
	/* both lists sorted: one merge */
	unsigned i = 0, j = 0;
	while (i < r->n || j < nw) {
		const uint32_t have = i < r->n ? ntohl(r->peers[i].ip) : UINT32_MAX;
		const uint32_t need = j < nw ? ntohl(want[j]) : UINT32_MAX;
		if (i < r->n && (j == nw || have < need)) {
			peer_drop(svc, i, "no network has it as a remote VTEP any more");
		} else if (j < nw && (i == r->n || need < have)) {
			if (peer_add(svc, i, want[j]) == 0)
				i++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	free(want);
}

/* The states the links went through since the last look, logged. */
static void log_states(struct svc_rdma *r)
{
	for (unsigned i = 0; i < r->n; i++) {
		struct svc_rdma_peer *p = &r->peers[i];
		const enum riov_rdma_link_state s = riov_rdma_link_state(p->link);
		if (s == p->logged)
			continue;
		char a[INET_ADDRSTRLEN];
		ip_text(p->ip, a);
		if (s == RIOV_RDMA_LINK_UP)
			RIOV_LOG(RIOV_LOG_NOTICE, "RDMA link to %s up: its frames go over RDMA", a);
		else if (p->logged == RIOV_RDMA_LINK_UP)
			RIOV_LOG(RIOV_LOG_WARN, "RDMA link to %s %s (was up): its frames go by VXLAN", a,
				 svc_rdma_state_name(s));
		else
			RIOV_LOG(RIOV_LOG_DEBUG, "RDMA link to %s: %s", a, svc_rdma_state_name(s));
		p->logged = s;
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct riov_service *svc = arg;
	struct svc_rdma *r = svc->rdma;

	(void)fd;
	(void)what;
	r->since_sync_ms += r->ctx != NULL ? RIOV_RDMA_CM_TICK_MS : SVC_RDMA_RETRY_MS;
	if (r->ctx == NULL || r->since_sync_ms >= SVC_RDMA_RETRY_MS) {
		r->since_sync_ms = 0;
		svc_rdma_sync(svc);
	}
	poll_cm(svc);
}

static void poll_cm(struct riov_service *svc)
{
	struct svc_rdma *r = svc->rdma;
	int ms = SVC_RDMA_RETRY_MS;

	if (r->ctx != NULL) {
		ms = riov_rdma_cm_poll(r->ctx);
		log_states(r);
		if (ctx_gone(svc))
			ms = SVC_RDMA_RETRY_MS;
		if (ms < 1)
			ms = 1;
		if (ms > (int)RIOV_RDMA_CM_TICK_MS)
			ms = RIOV_RDMA_CM_TICK_MS;
	}
	if (r->tick_ev != NULL) {
		struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
		event_add(r->tick_ev, &tv);   /* re-arms: the nearer of the two deadlines is not needed */
	}
}

void svc_rdma_start(struct riov_service *svc)
{
	const struct riov_config *c = svc->cfg;

	if (c == NULL || c->rdma_device[0] == '\0')
		return;
	svc->rdma = calloc(1, sizeof(*svc->rdma));
	if (svc->rdma == NULL) {
		RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: out of memory; remote VTEPs are reached by VXLAN only",
			 c->rdma_device);
		return;
	}
	if (!device_present(c->rdma_device))
		RIOV_LOG(RIOV_LOG_WARN, "RDMA device %s does not exist (yet): no /sys/class/infiniband/%s; "
			 "riovd tries again every %u ms", c->rdma_device, c->rdma_device, SVC_RDMA_RETRY_MS);
	if (svc->base != NULL) {
		svc->rdma->tick_ev = evtimer_new(svc->base, tick_cb, svc);
		if (svc->rdma->tick_ev == NULL)
			RIOV_LOG(RIOV_LOG_ERR, "RDMA: no timer: links are not polled");
	}
	RIOV_LOG(RIOV_LOG_INFO, "RDMA on %s: links to the remote VTEPs once an uplink gives this node "
		 "its VTEP address", c->rdma_device);
	svc_rdma_sync(svc);
	poll_cm(svc);
}

void svc_rdma_stop(struct riov_service *svc)
{
	struct svc_rdma *r = svc->rdma;

	if (r == NULL)
		return;
	ctx_down(svc, "riovd stops");
	/* before the uplinks go (riov_service_destroy runs before riov_dp_destroy): an rxe device on
	 * an uplink's TAP would otherwise make the TAP's close wait for librdmacm's context of it,
	 * which only closes when the process is gone (rdma_link.h) */
	riov_rdma_devices_release();
	if (r->tick_ev != NULL)
		event_free(r->tick_ev);
	free(r);
	svc->rdma = NULL;
}

/* ------------------------------------------------------------------ API and metrics */

static struct svc_rdma_peer *peer_find(const struct riov_service *svc, uint32_t ip)
{
	struct svc_rdma *r = svc->rdma;

	for (unsigned i = 0; r != NULL && i < r->n; i++)
		if (r->peers[i].ip == ip)
			return &r->peers[i];
	return NULL;
}

/* The link's drops by cause, with the dataplane's for received frames: names and counts. */
struct rdma_drops {
	unsigned n;
	const char *cause[RIOV_RDMA_DROP__MAX + 4];
	uint64_t packets[RIOV_RDMA_DROP__MAX + 4];
	uint64_t total;
};

static void drops_add(struct rdma_drops *d, const char *cause, uint64_t v)
{
	if (v == 0)
		return;
	d->cause[d->n] = cause;
	d->packets[d->n] = v;
	d->n++;
	d->total += v;
}

static void drops_of(const struct riov_rdma_link_stats *ls, const struct riov_dp_rdma_stats *ds,
		     struct rdma_drops *d, bool zeros)
{
	memset(d, 0, sizeof(*d));
	for (unsigned k = 0; k < RIOV_RDMA_DROP__MAX; k++) {
		if (zeros && ls->drops[k] == 0) {
			d->cause[d->n] = riov_rdma_drop_names[k];
			d->packets[d->n++] = 0;
		} else {
			drops_add(d, riov_rdma_drop_names[k], ls->drops[k]);
		}
	}
	const struct { const char *name; uint64_t v; } more[] = {
		{ "tx_refused", ls->tx_refused },
		{ "rx_nombuf", ls->rx_nombuf },
		{ "unknown_vni", ds->unknown_vni },
		{ "unknown_vtep", ds->unknown_vtep },
	};
	for (unsigned k = 0; k < sizeof(more) / sizeof(more[0]); k++) {
		if (zeros && more[k].v == 0) {
			d->cause[d->n] = more[k].name;
			d->packets[d->n++] = 0;
		} else {
			drops_add(d, more[k].name, more[k].v);
		}
	}
}

int svc_rdma_vtep_info(struct riov_rpc_call *call, struct riov_service *svc, uint32_t ip,
		       Riov__V1__VtepInfo *x)
{
	const struct svc_rdma_peer *p = peer_find(svc, ip);
	struct riov_rdma_link_stats ls;
	struct riov_dp_rdma_stats ds = { .worker = 0 };
	struct rdma_drops d;

	x->transport = (char *)"vxlan";
	x->rdma_state = (char *)"";
	if (p == NULL)
		return 0;
	const enum riov_rdma_link_state s = riov_rdma_link_state(p->link);
	x->rdma_state = (char *)svc_rdma_state_name(s);
	if (s == RIOV_RDMA_LINK_UP)
		x->transport = (char *)"rdma";
	riov_rdma_link_stats(p->link, &ls);
	riov_dp_rdma_stats(svc->dp, ip, &ds);
	x->rdma_worker = p->worker;
	x->rdma_tx_frames = ds.tx_frames;
	x->rdma_tx_bytes = ds.tx_bytes;
	x->rdma_tx_msgs = ls.tx_msgs;
	x->rdma_rx_frames = ds.rx_frames;
	x->rdma_rx_bytes = ds.rx_bytes;
	x->rdma_rx_msgs = ls.rx_msgs;
	x->rdma_fallback = ds.fallback;
	x->rdma_established = ls.established;
	drops_of(&ls, &ds, &d, false);
	x->rdma_dropped = d.total;
	if (d.n == 0)
		return 0;
	x->rdma_drops = riov_rpc_call_alloc(call, d.n * sizeof(*x->rdma_drops));
	if (x->rdma_drops == NULL)
		return -ENOMEM;
	for (unsigned k = 0; k < d.n; k++) {
		Riov__V1__DropCounter *dc = CALL_NEW(call, Riov__V1__DropCounter, riov__v1__drop_counter__init);
		if (dc == NULL)
			return -ENOMEM;
		dc->cause = (char *)d.cause[k];
		dc->packets = d.packets[k];
		x->rdma_drops[x->n_rdma_drops++] = dc;
	}
	return 0;
}

void svc_rdma_metrics(struct evbuffer *out, struct riov_service *svc)
{
	struct svc_rdma *r = svc->rdma;
	struct riov_rdma_link_stats *ls;
	struct riov_dp_rdma_stats *ds;
	char (*addr)[INET_ADDRSTRLEN];

	if (r == NULL || r->n == 0)
		return;
	ls = calloc(r->n, sizeof(*ls));
	ds = calloc(r->n, sizeof(*ds));
	addr = calloc(r->n, sizeof(*addr));
	if (ls == NULL || ds == NULL || addr == NULL)
		goto out;
	for (unsigned i = 0; i < r->n; i++) {
		riov_rdma_link_stats(r->peers[i].link, &ls[i]);
		riov_dp_rdma_stats(svc->dp, r->peers[i].ip, &ds[i]);
		ip_text(r->peers[i].ip, addr[i]);
	}
	riov_metrics_header(out, "riov_rdma_link_up", "1 while the RDMA link to a remote VTEP address "
			    "is up (its frames go over RDMA), 0 while they go by VXLAN.", "gauge");
	for (unsigned i = 0; i < r->n; i++) {
		const char *labels[] = { "peer", addr[i] };
		riov_metrics_sample_u64(out, "riov_rdma_link_up", labels, 1,
					riov_rdma_link_state(r->peers[i].link) == RIOV_RDMA_LINK_UP);
	}
	riov_metrics_header(out, "riov_rdma_link_state", "The RDMA link's state: 1 for the one it is "
			    "in (down, backoff, connecting, hello, up).", "gauge");
	for (unsigned i = 0; i < r->n; i++) {
		const enum riov_rdma_link_state s = riov_rdma_link_state(r->peers[i].link);
		for (int k = RIOV_RDMA_LINK_DOWN; k <= RIOV_RDMA_LINK_UP; k++) {
			const char *labels[] = { "peer", addr[i], "state",
						 svc_rdma_state_name((enum riov_rdma_link_state)k) };
			riov_metrics_sample_u64(out, "riov_rdma_link_state", labels, 2, (int)s == k);
		}
	}
	const struct {
		const char *name, *help;
	} ctr[] = {
		{ "riov_rdma_frames_total", "Frames over an RDMA link, by direction." },
		{ "riov_rdma_bytes_total", "Bytes of the frames over an RDMA link, by direction." },
		{ "riov_rdma_messages_total", "RDMA messages (SENDs) of a link, by direction." },
	};
	for (unsigned c = 0; c < 3; c++) {
		riov_metrics_header(out, ctr[c].name, ctr[c].help, "counter");
		for (unsigned i = 0; i < r->n; i++)
			for (int tx = 0; tx < 2; tx++) {
				const char *labels[] = { "peer", addr[i], "direction", tx ? "tx" : "rx" };
				uint64_t v = c == 0 ? (tx ? ds[i].tx_frames : ds[i].rx_frames) :
					     c == 1 ? (tx ? ds[i].tx_bytes : ds[i].rx_bytes) :
						      (tx ? ls[i].tx_msgs : ls[i].rx_msgs);
				riov_metrics_sample_u64(out, ctr[c].name, labels, 2, v);
			}
	}
	riov_metrics_header(out, "riov_rdma_fallback_total", "Frames for an RDMA peer sent by VXLAN "
			    "while its link was not up.", "counter");
	for (unsigned i = 0; i < r->n; i++) {
		const char *labels[] = { "peer", addr[i] };
		riov_metrics_sample_u64(out, "riov_rdma_fallback_total", labels, 1, ds[i].fallback);
	}
	riov_metrics_header(out, "riov_rdma_established_total", "Connections of an RDMA link made.",
			    "counter");
	for (unsigned i = 0; i < r->n; i++) {
		const char *labels[] = { "peer", addr[i] };
		riov_metrics_sample_u64(out, "riov_rdma_established_total", labels, 1, ls[i].established);
	}
	riov_metrics_header(out, "riov_rdma_drops_total", "Frames or messages of an RDMA link dropped, "
			    "by cause (docs/rdma.md).", "counter");
	for (unsigned i = 0; i < r->n; i++) {
		struct rdma_drops d;
		drops_of(&ls[i], &ds[i], &d, true);
		for (unsigned k = 0; k < d.n; k++) {
			const char *labels[] = { "peer", addr[i], "cause", d.cause[k] };
			riov_metrics_sample_u64(out, "riov_rdma_drops_total", labels, 2, d.packets[k]);
		}
	}
out:
	free(ls);
	free(ds);
	free(addr);
}
