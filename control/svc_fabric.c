/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VXLAN overlay's part of riov.v1.Network and riov.v1.Port (DESIGN.md "Fabric", issue 13): a
 * network's VNI and its remote VTEPs (Network.Add's vni and vteps, Network.AddVtep/DeleteVtep),
 * uplink ports (Port.Add of type uplink: the address, and the default route, the kernel side of an
 * uplink gets on its TAP interface), and the next hops of remote VTEPs, kept current from the
 * kernel's route and neighbour tables (control/nh_watch.h) and handed to the dataplane
 * (riov_dp_vtep_set_nexthop). riovd never resolves addresses itself: the kernel routes and ARPs
 * through the uplinks' TAPs, and a VTEP the kernel reaches out of another interface stays
 * unresolved (its frames are dropped as no_nexthop).
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h), from the configuration file and from the state file; their content
 * is untrusted: addresses are parsed strictly (riov_ipv4_parse: inet_pton, no shorthands) and must
 * be unicast, a VNI must be in range, a network's VTEP list is bounded and without repeats, an
 * uplink's name must be one the kernel takes for its TAP, and strings are printed with a bound.
 * The kernel's answers (next hops, interface names) are trusted (control/kernel_net.h).
 *
 * Thread rules: control thread only (the watcher calls back on the event loop, or from inside
 * riov_nh_watch_add()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "control/config.h"
#include "control/kernel_net.h"
#include "control/metrics_http.h"
#include "control/nh_watch.h"
#include "control/service_internal.h"

RIOV_LOG_COMPONENT("fabric", RIOV_LOG_INFO);

/* A network's remote VTEPs, at most: each is a port of the dataplane. */
#define VTEPS_MAX RIOV_DP_MAX_PORTS

static void ip_text(uint32_t ip, char out[INET_ADDRSTRLEN])
{
	if (inet_ntop(AF_INET, &ip, out, INET_ADDRSTRLEN) == NULL)
		snprintf(out, INET_ADDRSTRLEN, "?");
}

static void mac_text(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

/* ------------------------------------------------------------------ next hops */

/* Why a VTEP is not reached out of an uplink, for the log. */
static const char *unresolved_why(int status, const char *ifname, char *buf, size_t len)
{
	if (status == -ENETUNREACH)
		return "the kernel has no route to it";
	if (status == -EHOSTUNREACH)
		return "its next hop has no MAC address yet (the kernel is asking with ARP)";
	if (status != 0) {
		snprintf(buf, len, "no next hop: %s", strerror(-status));
		return buf;
	}
	if (ifname[0] != '\0')
		snprintf(buf, len, "the kernel reaches it out of %s, which is not an uplink", ifname);
	else
		snprintf(buf, len, "the kernel reaches it out of an interface that is gone");
	return buf;
}

/* The next-hop watcher's callback: what the kernel says about remote VTEP ip now, given to every
 * network's VTEP of that address. Logged when a VTEP port's next hop changes, not on every look
 * (the dataplane counts the ports it changed). */
/* A VTEP resolved out of an uplink carrying mtu bytes: networks with that VTEP whose MTU is larger
 * than what fits inside get a warning (their guests are told their network's MTU; larger frames
 * to the VTEP are dropped as mtu_exceeded, never fragmented). */
struct vtep_mtu_check {
	struct riov_service *svc;
	uint32_t ip;
	uint32_t inner;
	const char *uplink;
};

static void vtep_mtu_one(void *arg, const char *net, uint32_t ip, const struct riov_dp_vtep_info *vi)
{
	const struct vtep_mtu_check *c = arg;
	char a[INET_ADDRSTRLEN];
	(void)vi;

	if (ip != c->ip)
		return;
	int i = svc_net_index(c->svc, net);
	if (i < 0)
		return;
	uint32_t mtu = c->svc->nets[i]->mtu ? c->svc->nets[i]->mtu : RIOV_DP_MTU_DEFAULT;
	if (mtu <= c->inner)
		return;
	ip_text(ip, a);
	RIOV_LOG(RIOV_LOG_WARN, "network %s: MTU %u, but uplink %s carries %u bytes inside VXLAN to VTEP %s "
		 "(its MTU less 50): guests' frames above %u to it are dropped (mtu_exceeded); lower the "
		 "network's MTU or raise the uplink's", net, mtu, c->uplink, c->inner, a, c->inner);
}

static void vtep_mtu_warn(struct riov_service *svc, uint32_t ip, const char *uplink, uint16_t uplink_mtu)
{
	struct vtep_mtu_check c = { .svc = svc, .ip = ip, .uplink = uplink,
				    .inner = uplink_mtu > 50 ? uplink_mtu - 50u : 0 };
	riov_dp_vtep_foreach(svc->dp, NULL, vtep_mtu_one, &c);
}

static void fabric_nh_cb(void *arg, uint32_t ip, int status, const struct riov_kernel_nh *nh)
{
	struct riov_service *svc = arg;
	struct riov_dp_uplink_info ui;
	char ifname[IF_NAMESIZE] = "", a[INET_ADDRSTRLEN], via[INET_ADDRSTRLEN], mac[18], why[128];
	const char *uplink = NULL;
	int rc;

	if (status == 0 && nh != NULL && if_indextoname(nh->ifindex, ifname) != NULL &&
	    riov_dp_uplink_info(svc->dp, ifname, &ui) == 0)
		uplink = ifname; /* an uplink's TAP is named like the uplink */
	rc = riov_dp_vtep_set_nexthop(svc->dp, ip, uplink, uplink != NULL ? nh->mac : NULL);
	ip_text(ip, a);
	if (rc < 0) {
		RIOV_LOG_RL(RIOV_LOG_WARN, "VTEP %s: next hop out of %s not set: %s", a,
			    uplink != NULL ? uplink : "-", strerror(-rc));
		return;
	}
	if (rc == 0)
		return;
	if (uplink != NULL) {
		ip_text(nh->via, via);
		mac_text(nh->mac, mac);
		RIOV_LOG(RIOV_LOG_NOTICE, "VTEP %s resolved: out of uplink %s to next hop %s (%s)", a,
			 uplink, via, mac);
		vtep_mtu_warn(svc, ip, uplink, ui.mtu);
	} else {
		RIOV_LOG(RIOV_LOG_NOTICE, "VTEP %s unresolved: %s; frames to it are dropped (no_nexthop)",
			 a, unresolved_why(status, ifname, why, sizeof(why)));
	}
}

void svc_fabric_start(struct riov_service *svc)
{
	int rc = riov_nh_watch_create(svc->base, fabric_nh_cb, svc, &svc->nh);

	if (rc != 0) {
		svc->nh = NULL;
		RIOV_LOG(RIOV_LOG_WARN, "no next-hop watcher (rtnetlink: %s): remote VTEPs of overlay "
			 "networks will stay unresolved, their frames dropped (no_nexthop)", strerror(-rc));
	}
}

void svc_fabric_stop(struct riov_service *svc)
{
	riov_nh_watch_destroy(svc->nh);
	svc->nh = NULL;
}

void svc_uplink_changed(struct riov_service *svc)
{
	if (svc->nh != NULL)
		riov_nh_watch_refresh(svc->nh);
	svc_rdma_sync(svc); /* the RDMA listener follows the first uplink's address */
}

uint32_t svc_uplink_address(const struct riov_service *svc, const char **name)
{
	for (unsigned k = 0; k < svc->n_ports; k++) {
		const Riov__V1__PortSpec *ps = svc->ports[k];
		uint32_t ip;
		unsigned prefix;
		if (ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK &&
		    riov_ipv4_cidr_parse(str_or_empty(ps->address), &ip, &prefix) == 0) {
			if (name != NULL)
				*name = ps->name;
			return ip;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ remote VTEPs */

struct vtep_match {
	uint32_t ip;
	bool found;
	struct riov_dp_vtep_info vi;
};

static void vtep_match_one(void *arg, const char *net, uint32_t ip, const struct riov_dp_vtep_info *vi)
{
	struct vtep_match *m = arg;

	if (ip == m->ip && vi->resolved && !m->found) {
		m->found = true;
		m->vi = *vi;
	}
}

/* A VTEP port just added for ip: when another network has a VTEP of the same address, the watcher
 * already watches it and calls back only on changes, so the new port takes the next hop the
 * others have (riov_dp_vtep_set_nexthop sets every port of the address). */
static void vtep_copy_nexthop(struct riov_service *svc, uint32_t ip)
{
	struct vtep_match m = { .ip = ip };

	struct riov_dp_uplink_info ui;

	riov_dp_vtep_foreach(svc->dp, NULL, vtep_match_one, &m);
	if (m.found && riov_dp_vtep_set_nexthop(svc->dp, ip, m.vi.uplink, m.vi.mac) > 0 &&
	    riov_dp_uplink_info(svc->dp, m.vi.uplink, &ui) == 0)
		vtep_mtu_warn(svc, ip, m.vi.uplink, ui.mtu);
}

/* ip, given as text, as a remote VTEP of network net: a unicast IPv4 address that is not this
 * node's own (an uplink's). Returns 0 or -EINVAL with err filled. */
static int vtep_parse(struct riov_service *svc, const char *net, const char *text, uint32_t *ip,
		      char *err, size_t errlen)
{
	if (riov_ipv4_parse(text, ip) != 0 || !riov_ipv4_unicast(*ip)) {
		snprintf(err, errlen, "network %s: VTEP '%.40s' is not a unicast IPv4 address (a.b.c.d)",
			 net, text);
		return -EINVAL;
	}
	for (unsigned k = 0; k < svc->n_ports; k++) {
		const Riov__V1__PortSpec *ps = svc->ports[k];
		uint32_t own;
		unsigned prefix;
		if (ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK &&
		    riov_ipv4_cidr_parse(ps->address, &own, &prefix) == 0 && own == *ip) {
			snprintf(err, errlen, "network %s: %s is this node's own VTEP address (uplink %s), "
				 "not a remote one", net, text, ps->name);
			return -EINVAL;
		}
	}
	return 0;
}

/* Index of VTEP ip in spec's list, or -1 (entries that do not parse match nothing). */
int svc_spec_vtep_index(const Riov__V1__NetworkSpec *spec, uint32_t ip)
{
	for (size_t k = 0; k < spec->n_vteps; k++) {
		uint32_t v;
		if (riov_ipv4_parse(spec->vteps[k], &v) == 0 && v == ip)
			return (int)k;
	}
	return -1;
}

/* Remote VTEP ip of network net into the dataplane, its next hop watched. Returns 0 or -errno
 * with err filled (nothing left behind). */
int svc_vtep_add(struct riov_service *svc, const char *net, uint32_t ip, char *err, size_t errlen)
{
	char why[256] = "", a[INET_ADDRSTRLEN];
	int rc;

	ip_text(ip, a);
	rc = riov_dp_vtep_add(svc->dp, net, ip, why, sizeof(why));
	if (rc == -EEXIST)
		snprintf(err, errlen, "network %s already has VTEP %s", net, a);
	else if (rc == -ENOSPC)
		snprintf(err, errlen, "network %s: VTEP %s not added: %s", net, a,
			 why[0] ? why : "too many ports");
	else if (rc != 0)
		snprintf(err, errlen, "network %s: VTEP %s not added: %s", net, a,
			 why[0] ? why : strerror(-rc));
	if (rc != 0)
		return rc;
	vtep_copy_nexthop(svc, ip);
	if (svc->nh != NULL && (rc = riov_nh_watch_add(svc->nh, ip)) != 0) {
		riov_dp_vtep_del(svc->dp, net, ip);
		snprintf(err, errlen, "network %s: VTEP %s not added: its next hop cannot be watched: %s",
			 net, a, strerror(-rc));
		return rc;
	}
	svc_rdma_sync(svc); /* a new peer address gets its RDMA link */
	return 0;
}

void svc_vtep_del(struct riov_service *svc, const char *net, uint32_t ip)
{
	char a[INET_ADDRSTRLEN];
	int rc = riov_dp_vtep_del(svc->dp, net, ip);

	if (rc != 0) {
		ip_text(ip, a);
		RIOV_LOG(RIOV_LOG_ERR, "network %s: the dataplane refused to delete VTEP %s: %s", net, a,
			 strerror(-rc));
	}
	if (svc->nh != NULL)
		riov_nh_watch_del(svc->nh, ip);
	svc_rdma_sync(svc); /* an address no network has any more loses its RDMA link */
}

int svc_net_fabric_check(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err,
			 size_t errlen)
{
	const char *name = str_or_empty(in->name);
	uint32_t ip[VTEPS_MAX];

	if (in->vni > RIOV_DP_VNI_MAX) {
		snprintf(err, errlen, "network %s: VNI %u is outside 1-%u", name, in->vni, RIOV_DP_VNI_MAX);
		return -EINVAL;
	}
	if (in->vni == 0 && in->n_vteps != 0) {
		snprintf(err, errlen, "network %s: remote VTEPs need a VNI (give the network a vni)", name);
		return -EINVAL;
	}
	for (unsigned k = 0; in->vni != 0 && k < svc->n_nets; k++) {
		if (svc->nets[k]->vni == in->vni) {
			snprintf(err, errlen, "VNI %u is network %s's", in->vni, svc->nets[k]->name);
			return -EEXIST;
		}
	}
	if (in->n_vteps > VTEPS_MAX) {
		snprintf(err, errlen, "network %s: %zu remote VTEPs is too many (at most %u)", name,
			 in->n_vteps, VTEPS_MAX);
		return -E2BIG;
	}
	for (size_t k = 0; k < in->n_vteps; k++) {
		int rc = vtep_parse(svc, name, str_or_empty(in->vteps[k]), &ip[k], err, errlen);
		if (rc != 0)
			return rc;
		for (size_t j = 0; j < k; j++) {
			if (ip[j] == ip[k]) {
				snprintf(err, errlen, "network %s: VTEP %s is listed twice", name,
					 in->vteps[k]);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int svc_net_fabric_apply(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err,
			 size_t errlen)
{
	const char *name = str_or_empty(in->name);
	uint32_t ip;
	size_t k;
	int rc;

	if (in->vni == 0)
		return 0;
	rc = riov_dp_net_set_vni(svc->dp, name, in->vni);
	if (rc == -EEXIST)
		snprintf(err, errlen, "VNI %u is another network's", in->vni);
	else if (rc == -EINVAL)
		snprintf(err, errlen, "network %s: VNI %u is outside 1-%u", name, in->vni, RIOV_DP_VNI_MAX);
	else if (rc != 0)
		snprintf(err, errlen, "network %s: VNI %u not set: %s", name, in->vni, strerror(-rc));
	if (rc != 0)
		return rc;
	for (k = 0; k < in->n_vteps; k++) {
		/* checked by svc_net_fabric_check() */
		if ((rc = riov_ipv4_parse(in->vteps[k], &ip)) != 0 ||
		    (rc = svc_vtep_add(svc, name, ip, err, errlen)) != 0)
			break;
	}
	if (rc == 0)
		return 0;
	while (k-- > 0)
		if (riov_ipv4_parse(in->vteps[k], &ip) == 0)
			svc_vtep_del(svc, name, ip);
	riov_dp_net_set_vni(svc->dp, name, 0);
	return rc;
}

void svc_net_fabric_remove(struct riov_service *svc, const Riov__V1__NetworkSpec *spec)
{
	svc_evpn_net_remove(svc, spec->name); /* its EVPN VTEPs too */
	for (size_t k = 0; k < spec->n_vteps; k++) {
		uint32_t ip;
		if (riov_ipv4_parse(spec->vteps[k], &ip) == 0)
			svc_vtep_del(svc, spec->name, ip);
	}
}

unsigned svc_vtep_count(const struct riov_service *svc)
{
	size_t n = 0;

	for (unsigned i = 0; i < svc->n_nets; i++)
		n += svc->nets[i]->n_vteps;
	return n > RIOV_DP_MAX_PORTS ? RIOV_DP_MAX_PORTS : (unsigned)n;
}

bool svc_is_vtep_port(struct riov_service *svc, const char *name)
{
	struct riov_dp_port_info di;

	return strchr(name, '@') != NULL && riov_dp_port_info(svc->dp, name, &di) == 0 &&
	       di.type == RIOV_DP_PORT_VTEP;
}

/* ------------------------------------------------------------------ VTEPs in answers */

struct vtep_acc {
	struct riov_rpc_call *call;
	struct riov_service *svc;
	struct riov_dp *dp;
	Riov__V1__VtepInfo **v;
	size_t n, cap;
	bool nomem;
};

static void vtep_count_one(void *arg, const char *net, uint32_t ip, const struct riov_dp_vtep_info *vi)
{
	(*(size_t *)arg)++;
}

static void vtep_info_one(void *arg, const char *net, uint32_t ip, const struct riov_dp_vtep_info *vi)
{
	struct vtep_acc *a = arg;
	struct riov_dp_port_stats st;
	char addr[INET_ADDRSTRLEN], mac[18];

	if (a->n == a->cap || a->nomem)
		return;
	Riov__V1__VtepInfo *x = CALL_NEW(a->call, Riov__V1__VtepInfo, riov__v1__vtep_info__init);
	if (x == NULL) {
		a->nomem = true;
		return;
	}
	ip_text(ip, addr);
	x->address = riov_rpc_call_strdup(a->call, addr);
	x->port = riov_rpc_call_strdup(a->call, vi->port);
	x->resolved = vi->resolved;
	unsigned evpn_macs = 0;
	bool flood = false;
	x->origin = (char *)(svc_evpn_vtep(a->svc, net, ip, &flood, &evpn_macs) ? "evpn" : "static");
	x->flood = flood;
	x->evpn_macs = evpn_macs;
	if (vi->resolved) {
		mac_text(vi->mac, mac);
		x->uplink = riov_rpc_call_strdup(a->call, vi->uplink);
		x->next_hop_mac = riov_rpc_call_strdup(a->call, mac);
	}
	if (x->address == NULL || x->port == NULL ||
	    (vi->resolved && (x->uplink == NULL || x->next_hop_mac == NULL))) {
		a->nomem = true;
		return;
	}
	if (svc_rdma_vtep_info(a->call, a->svc, ip, x) != 0) {
		a->nomem = true;
		return;
	}
	if (riov_dp_port_stats(a->dp, vi->port, &st) == 0) {
		x->tx_packets = st.tx_packets;
		x->tx_bytes = st.tx_bytes;
		x->rx_packets = st.rx_packets;
		x->rx_bytes = st.rx_bytes;
		for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++)
			x->dropped += st.drops[d];
	}
	a->v[a->n++] = x;
}

/* drops by cause as DropCounters in the call's memory (causes that counted nothing left out);
 * *total gets their sum. 0 or -ENOMEM. */
static int drop_counters(struct riov_rpc_call *call, const uint64_t drops[RIOV_DP_DROP__MAX],
			 Riov__V1__DropCounter ***out, size_t *n, uint64_t *total)
{
	Riov__V1__DropCounter **v = riov_rpc_call_alloc(call, RIOV_DP_DROP__MAX * sizeof(*v));

	*n = 0;
	*total = 0;
	if (v == NULL)
		return -ENOMEM;
	for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++) {
		*total += drops[d];
		if (drops[d] == 0)
			continue;
		Riov__V1__DropCounter *x = CALL_NEW(call, Riov__V1__DropCounter,
						    riov__v1__drop_counter__init);
		if (x == NULL)
			return -ENOMEM;
		x->cause = (char *)riov_dp_drop_names[d];
		x->packets = drops[d];
		v[(*n)++] = x;
	}
	*out = v;
	return 0;
}

/* ni->overlay: network net's totals over its remote VTEPs (it has a VNI). 0 or -ENOMEM. */
static int vni_counters(struct riov_rpc_call *call, struct riov_service *svc, const char *net,
			Riov__V1__NetworkInfo *ni)
{
	struct riov_dp_vni_stats vs;
	Riov__V1__VniCounters *o;

	if (riov_dp_vni_stats(svc->dp, net, &vs) != 0 || vs.vni == 0)
		return 0;
	if ((o = CALL_NEW(call, Riov__V1__VniCounters, riov__v1__vni_counters__init)) == NULL)
		return -ENOMEM;
	o->vni = vs.vni;
	o->tx_packets = vs.tx_packets;
	o->tx_bytes = vs.tx_bytes;
	o->rx_packets = vs.rx_packets;
	o->rx_bytes = vs.rx_bytes;
	if (drop_counters(call, vs.drops, &o->drops, &o->n_drops, &o->dropped) != 0)
		return -ENOMEM;
	ni->overlay = o;
	return 0;
}

int svc_net_vtep_infos(struct riov_rpc_call *call, struct riov_service *svc, const char *net,
		       Riov__V1__NetworkInfo *ni)
{
	struct vtep_acc a = { .call = call, .svc = svc, .dp = svc->dp };

	if (vni_counters(call, svc, net, ni) != 0)
		return -ENOMEM;
	riov_dp_vtep_foreach(svc->dp, net, vtep_count_one, &a.cap);
	if (a.cap == 0)
		return 0;
	a.v = riov_rpc_call_alloc(call, a.cap * sizeof(*a.v));
	if (a.v == NULL)
		return -ENOMEM;
	riov_dp_vtep_foreach(svc->dp, net, vtep_info_one, &a);
	if (a.nomem)
		return -ENOMEM;
	ni->vteps = a.v;
	ni->n_vteps = a.n;
	return 0;
}

static void vtep_metric_one(void *arg, const char *net, uint32_t ip, const struct riov_dp_vtep_info *vi)
{
	char addr[INET_ADDRSTRLEN];
	const char *labels[] = { "net", net, "vtep", addr };

	ip_text(ip, addr);
	riov_metrics_sample_u64(arg, "riov_vtep_resolved", labels, 2, vi->resolved);
}

/* The overlay totals of every network with a VNI (riov_dp_vni_stats), for the metrics. */
struct vni_row {
	const char *net;
	char vni[12];
	struct riov_dp_vni_stats st;
};

static void vni_metric(struct evbuffer *out, const struct vni_row *v, unsigned n, const char *name,
		       const char *help, bool bytes)
{
	riov_metrics_header(out, name, help, "counter");
	for (unsigned i = 0; i < n; i++) {
		for (int tx = 0; tx < 2; tx++) {
			const char *labels[] = { "net", v[i].net, "vni", v[i].vni, "direction",
						 tx ? "tx" : "rx" };
			riov_metrics_sample_u64(out, name, labels, 3,
						bytes ? (tx ? v[i].st.tx_bytes : v[i].st.rx_bytes)
						      : (tx ? v[i].st.tx_packets : v[i].st.rx_packets));
		}
	}
}

static void vni_metrics(struct evbuffer *out, struct riov_service *svc)
{
	struct vni_row *v = calloc(svc->n_nets + 1, sizeof(*v));
	unsigned n = 0;

	for (unsigned i = 0; v != NULL && i < svc->n_nets; i++) {
		if (svc->nets[i]->vni == 0 || riov_dp_vni_stats(svc->dp, svc->nets[i]->name, &v[n].st) != 0 ||
		    v[n].st.vni == 0)
			continue;
		v[n].net = svc->nets[i]->name;
		snprintf(v[n].vni, sizeof(v[n].vni), "%u", v[n].st.vni);
		n++;
	}
	vni_metric(out, v, n, "riov_vni_packets_total", "Packets of a network's overlay, summed over "
		   "its remote VTEPs' ports: direction tx encapsulated and sent, rx decapsulated into the "
		   "network.", false);
	vni_metric(out, v, n, "riov_vni_bytes_total", "Bytes of a network's overlay: tx the outer "
		   "frames sent, rx the inner frames decapsulated.", true);
	riov_metrics_header(out, "riov_vni_drops_total", "Packets of a network's overlay dropped on its "
			    "remote VTEPs' ports, by cause.", "counter");
	for (unsigned i = 0; i < n; i++)
		for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++) {
			const char *labels[] = { "net", v[i].net, "vni", v[i].vni, "cause",
						 riov_dp_drop_names[d] };
			riov_metrics_sample_u64(out, "riov_vni_drops_total", labels, 3, v[i].st.drops[d]);
		}
	free(v);
}

void svc_fabric_metrics(struct evbuffer *out, struct riov_service *svc)
{
	riov_metrics_header(out, "riov_vtep_resolved", "1 while the kernel reaches a network's remote "
			    "VTEP out of an uplink (its frames are encapsulated), 0 while they are "
			    "dropped (no_nexthop).", "gauge");
	riov_dp_vtep_foreach(svc->dp, NULL, vtep_metric_one, out);
	vni_metrics(out, svc);
}

/* ------------------------------------------------------------------ uplinks */

int svc_uplink_params(struct riov_service *svc, const Riov__V1__PortSpec *ps,
		      struct riov_dp_port_params *pp, char *err, size_t errlen)
{
	const char *name = pp->name, *addr = str_or_empty(ps->address), *gw = str_or_empty(ps->gateway);
	uint32_t ip, gip;
	unsigned prefix;

	if (strlen(name) > RIOV_DP_UPLINK_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		snprintf(err, errlen, "uplink port '%.80s': its name is also its TAP interface's (a kernel "
			 "interface): at most %d characters, not '.' or '..'", name, RIOV_DP_UPLINK_NAME_MAX);
		return -EINVAL;
	}
	if (pp->net[0] != '\0') {
		snprintf(err, errlen, "uplink port %s is in no network (it carries the VXLAN of every "
			 "overlay network): leave the network out", name);
		return -EINVAL;
	}
	if (pp->devargs[0] == '\0') {
		snprintf(err, errlen, "uplink port %s needs devargs (--devargs ARGS, as an eth port's)",
			 name);
		return -EINVAL;
	}
	if (addr[0] == '\0') {
		snprintf(err, errlen, "uplink port %s needs its VTEP address (--address a.b.c.d/len)", name);
		return -EINVAL;
	}
	if (riov_ipv4_cidr_parse(addr, &ip, &prefix) != 0 || !riov_ipv4_unicast(ip)) {
		snprintf(err, errlen, "uplink port %s: address '%.40s' is not a unicast IPv4 address with a "
			 "prefix length 1-32 (a.b.c.d/len)", name, addr);
		return -EINVAL;
	}
	if (gw[0] != '\0' && (riov_ipv4_parse(gw, &gip) != 0 || !riov_ipv4_gateway_ok(ip, prefix, gip))) {
		snprintf(err, errlen, "uplink port %s: gateway '%.40s' is not the IPv4 address (a.b.c.d) of "
			 "another host on %s's subnet", name, gw, addr);
		return -EINVAL;
	}
	for (unsigned k = 0; k < svc->n_ports; k++) {
		const Riov__V1__PortSpec *o = svc->ports[k];
		uint32_t oip;
		unsigned op;
		if (o->type == RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK &&
		    riov_ipv4_cidr_parse(o->address, &oip, &op) == 0 && oip == ip) {
			snprintf(err, errlen, "uplink port %s: address %.40s is uplink %s's already", name,
				 addr, o->name);
			return -EEXIST;
		}
	}
	for (unsigned k = 0; k < svc->n_nets; k++) {
		if (svc_spec_vtep_index(svc->nets[k], ip) >= 0) {
			snprintf(err, errlen, "uplink port %s: address %.40s is a remote VTEP of network %s; "
				 "delete that VTEP first", name, addr, svc->nets[k]->name);
			return -EINVAL;
		}
	}
	pp->address = ip;
	return 0;
}

/* A kernel error as the status a client should see: a refused address or route is the request's
 * fault only when the kernel says it is malformed; anything else (no CAP_NET_ADMIN, the TAP gone)
 * is riovd's. */
static int kernel_status(int rc)
{
	if (rc == -EINVAL || rc == -ENETUNREACH)
		return -EINVAL;
	if (rc == -ENOMEM || rc == -ENOBUFS || rc == -ETIMEDOUT)
		return rc;
	return -EIO;
}

int svc_uplink_up(struct riov_service *svc, const Riov__V1__PortSpec *ps, char *err, size_t errlen)
{
	const char *name = ps->name, *gw = str_or_empty(ps->gateway);
	uint32_t ip, gip = 0;
	unsigned prefix;
	int rc;

	if (riov_ipv4_cidr_parse(ps->address, &ip, &prefix) != 0 ||
	    (gw[0] != '\0' && riov_ipv4_parse(gw, &gip) != 0)) {
		snprintf(err, errlen, "uplink port %s: bad address or gateway", name); /* checked before */
		return -EINVAL;
	}
	rc = riov_kernel_addr_add(name, ip, prefix);
	if (rc != 0) {
		snprintf(err, errlen, "uplink port %s: its address %s could not be put on its TAP interface "
			 "%s: %s%s", name, ps->address, name, strerror(-rc),
			 rc == -EPERM || rc == -EACCES ? " (riovd needs CAP_NET_ADMIN)" : "");
		return kernel_status(rc);
	}
	if (gip != 0 && (rc = riov_kernel_route_add(name, 0, 0, gip)) != 0) {
		snprintf(err, errlen, "uplink port %s: the default route via %s out of its TAP interface "
			 "could not be added: %s%s", name, gw, strerror(-rc),
			 rc == -EPERM || rc == -EACCES ? " (riovd needs CAP_NET_ADMIN)" : "");
		return kernel_status(rc);
	}
	RIOV_LOG(RIOV_LOG_INFO, "uplink %s: VTEP address %s on its TAP interface %s%s%s", name,
		 ps->address, name, gip ? ", default route via " : "", gip ? gw : "");
	return 0;
}

/* ------------------------------------------------------------------ RPC */

/* A copy of spec (malloc'd, freed with free_unpacked) whose VTEP list lacks entry skip (-1: none),
 * and the static MACs behind it (*dropped: how many), and ends with add (NULL: nothing added). */
static Riov__V1__NetworkSpec *spec_vteps(const Riov__V1__NetworkSpec *spec, const char *add, int skip,
					 size_t *dropped)
{
	Riov__V1__NetworkSpec tmp = *spec; /* shallow: packed and unpacked again below */
	char **v = calloc(spec->n_vteps + 1, sizeof(*v));
	Riov__V1__StaticMac **m = calloc(spec->n_macs + 1, sizeof(*m));
	uint32_t gone = 0;
	size_t n = 0, nm = 0;

	*dropped = 0;
	if (v == NULL || m == NULL) {
		free(v);
		free(m);
		return NULL;
	}
	for (size_t k = 0; k < spec->n_vteps; k++)
		if ((int)k != skip)
			v[n++] = spec->vteps[k];
	if (add != NULL)
		v[n++] = (char *)add;
	if (skip >= 0 && riov_ipv4_parse(spec->vteps[skip], &gone) != 0)
		gone = 0;
	for (size_t k = 0; k < spec->n_macs; k++) {
		uint32_t ip;
		if (gone != 0 && riov_ipv4_parse(spec->macs[k]->vtep, &ip) == 0 && ip == gone)
			(*dropped)++;
		else
			m[nm++] = spec->macs[k];
	}
	tmp.vteps = v;
	tmp.n_vteps = n;
	tmp.macs = m;
	tmp.n_macs = nm;
	Riov__V1__NetworkSpec *copy = svc_msg_dup(&tmp.base);
	free(v);
	free(m);
	return copy;
}

/* An AddVtep or DeleteVtep being kept: network i's spec replaced by spec (old kept for undo). */
struct vtep_change {
	unsigned i;
	Riov__V1__NetworkSpec *old, *spec;
	uint32_t ip;
	bool added;
};

/* Undo of a change whose state was not written: the old spec back, an added VTEP out again. */
static void vtep_change_undo(struct riov_service *svc, void *arg)
{
	struct vtep_change *c = arg;

	if (c->added)
		svc_vtep_del(svc, c->old->name, c->ip);
	svc->nets[c->i] = c->old;
	riov__v1__network_spec__free_unpacked(c->spec, NULL);
}

/* The network a VTEP request names, with its answer's checks. Returns its index, or -errno with
 * msg filled. */
static int vtep_request_net(struct riov_service *svc, const Riov__V1__NetworkVtepRequest *req,
			    char *msg, size_t msglen)
{
	const char *net = str_or_empty(req->net);
	int i = svc_net_index(svc, net);

	if (i < 0) {
		snprintf(msg, msglen, "network %.80s does not exist", net[0] ? net : "(no network given)");
		return -ENOENT;
	}
	if (str_or_empty(req->address)[0] == '\0') {
		snprintf(msg, msglen, "name the remote VTEP by its IPv4 address (a.b.c.d)");
		return -EINVAL;
	}
	return i;
}

static int vtep_answer(struct riov_rpc_call *call, struct riov_service *svc, unsigned i,
		       ProtobufCMessage **resp)
{
	Riov__V1__NetworkVtepResponse *r = CALL_NEW(call, Riov__V1__NetworkVtepResponse,
						    riov__v1__network_vtep_response__init);

	if (r == NULL || (r->network = svc_net_info(call, svc, svc->nets[i])) == NULL)
		return -ENOMEM;
	*resp = &r->base;
	return 0;
}

int svc_h_net_add_vtep(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		       ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__NetworkVtepRequest *req = (const void *)reqm;
	char a[INET_ADDRSTRLEN];
	uint32_t ip;
	int i, rc;

	if ((i = vtep_request_net(svc, req, msg, msglen)) < 0)
		return i;
	Riov__V1__NetworkSpec *old = svc->nets[i];
	if (old->evpn) {
		snprintf(msg, msglen, "network %s is an EVPN network: its remote VTEPs come from BGP EVPN "
			 "(FRR's zebra), not by hand", old->name);
		return -EINVAL;
	}
	if (old->vni == 0) {
		snprintf(msg, msglen, "network %s has no VNI: remote VTEPs are for overlay networks (a "
			 "network made with a vni, riovctl net add NAME --vni N)", old->name);
		return -EINVAL;
	}
	if ((rc = vtep_parse(svc, old->name, req->address, &ip, msg, msglen)) != 0)
		return rc;
	ip_text(ip, a);
	if (svc_spec_vtep_index(old, ip) >= 0) {
		snprintf(msg, msglen, "network %s already has VTEP %s", old->name, a);
		return -EEXIST;
	}
	if (old->n_vteps >= VTEPS_MAX) {
		snprintf(msg, msglen, "network %s has %u remote VTEPs, the most it can have", old->name,
			 VTEPS_MAX);
		return -ENOSPC;
	}
	struct vtep_change c = { .i = (unsigned)i, .old = old, .ip = ip, .added = true };
	size_t dropped;
	if ((c.spec = spec_vteps(old, a, -1, &dropped)) == NULL) {
		snprintf(msg, msglen, "network %s: out of memory", old->name);
		return -ENOMEM;
	}
	if ((rc = svc_vtep_add(svc, old->name, ip, msg, msglen)) != 0) {
		riov__v1__network_spec__free_unpacked(c.spec, NULL);
		return rc;
	}
	svc->nets[i] = c.spec;
	rc = svc_save_or_undo(svc, vtep_change_undo, &c, msg, msglen,
			      "VTEP %s was not added to network %s", a, old->name);
	if (rc != 0)
		return rc;
	struct vtep_match m = { .ip = ip };
	riov_dp_vtep_foreach(svc->dp, c.spec->name, vtep_match_one, &m);
	RIOV_LOG(RIOV_LOG_NOTICE, "network %s: VTEP %s added by %s (%s%s)", c.spec->name, a,
		 riov_rpc_call_peer(call), m.found ? "resolved out of uplink " : "not resolved yet",
		 m.found ? m.vi.uplink : "");
	riov__v1__network_spec__free_unpacked(old, NULL);
	return vtep_answer(call, svc, (unsigned)i, resp);
}

int svc_h_net_delete_vtep(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__NetworkVtepRequest *req = (const void *)reqm;
	char a[INET_ADDRSTRLEN];
	uint32_t ip;
	int i, k, rc;

	if ((i = vtep_request_net(svc, req, msg, msglen)) < 0)
		return i;
	Riov__V1__NetworkSpec *old = svc->nets[i];
	if (old->evpn) {
		snprintf(msg, msglen, "network %s is an EVPN network: its remote VTEPs are zebra's (they "
			 "go when BGP withdraws them), not deleted by hand", old->name);
		return -EINVAL;
	}
	if (riov_ipv4_parse(req->address, &ip) != 0) {
		snprintf(msg, msglen, "network %s: VTEP '%.40s' is not an IPv4 address (a.b.c.d)", old->name,
			 req->address);
		return -EINVAL;
	}
	ip_text(ip, a);
	if ((k = svc_spec_vtep_index(old, ip)) < 0) {
		snprintf(msg, msglen, "network %s has no VTEP %s", old->name, a);
		return -ENOENT;
	}
	/* state first: once it is saved the delete is acknowledged whatever happens next; the static
	 * MACs behind the VTEP go with it (the dataplane forgets them with its port) */
	struct vtep_change c = { .i = (unsigned)i, .old = old, .ip = ip, .added = false };
	size_t dropped;
	if ((c.spec = spec_vteps(old, NULL, k, &dropped)) == NULL) {
		snprintf(msg, msglen, "network %s: out of memory", old->name);
		return -ENOMEM;
	}
	svc->nets[i] = c.spec;
	rc = svc_save_or_undo(svc, vtep_change_undo, &c, msg, msglen,
			      "VTEP %s was not deleted from network %s", a, old->name);
	if (rc != 0)
		return rc;
	svc_vtep_del(svc, c.spec->name, ip);
	if (dropped)
		RIOV_LOG(RIOV_LOG_NOTICE, "network %s: VTEP %s deleted by %s, with the %zu static MAC(s) "
			 "behind it", c.spec->name, a, riov_rpc_call_peer(call), dropped);
	else
		RIOV_LOG(RIOV_LOG_NOTICE, "network %s: VTEP %s deleted by %s", c.spec->name, a,
			 riov_rpc_call_peer(call));
	riov__v1__network_spec__free_unpacked(old, NULL);
	return vtep_answer(call, svc, (unsigned)i, resp);
}
