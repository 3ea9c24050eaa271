/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * BGP EVPN networks (NetworkSpec.evpn, issue 14, docs/evpn.md): riovd mirrors each EVPN network
 * into kernel shadow devices (control/evpn_kernel.h: a bridge and a vxlan device per VNI, a
 * carrier-less TAP per local port: vhost and eth, not VTEP ports) that FRR's zebra reads and
 * writes, and follows zebra:
 *
 *  - local MACs: a sweep every SWEEP_MS walks each EVPN network's MAC table and writes the local
 *    MACs (learned or static, on a vhost port: a guest's; on an eth port: a host's behind it) as
 *    FDB entries on their port's shadow TAP, and deletes those gone or moved. A MAC a guest or
 *    host starts to use is advertised within SWEEP_MS (plus zebra's and bgpd's own delays); one
 *    that ages out is withdrawn within SWEEP_MS of its aging.
 *  - remote MACs (zebra's type-2 routes): a static entry of the network's MAC table to the VTEP's
 *    port "<net>@<a.b.c.d>", not aged and not in the state file (zebra gives them again after a
 *    restart: the reconciliation's FDB read). Learning from the overlay is off in EVPN networks
 *    (riov_dp_net_set_evpn), and a guest's frame on a vhost port moves such an entry (the guest
 *    moved here: the next sweep advertises it and zebra withdraws the remote one).
 *  - flood lists (type-3): a remote VTEP's port exists while the VTEP is in the VNI's flood list
 *    or has remote MACs behind it. The port is made as a hand-typed VTEP's (svc_vtep_add: its next
 *    hop from the kernel, nh_watch) and is deleted when it has neither.
 *
 * The local VTEP address is the first uplink's. Network.Add refuses an EVPN network without an
 * uplink. When the uplinks change (Port.Add or Port.Delete of an uplink), every EVPN network's
 * vxlan device follows the first uplink's address: replaced with the new `local` (zebra withdraws
 * the old type-3 route and advertises the new one), or deleted when no uplink is left (zebra
 * withdraws the VNI: this node can originate nothing without a VTEP address; the bridge, the
 * shadow TAPs and their local MACs stay for when an uplink comes back). At start (state or
 * configuration file, where networks come before ports) riovd reconciles the kernel with every
 * EVPN network once the restore is done (riov_evpn_kernel_reconcile: stale devices of an earlier
 * run deleted, and a vxlan device too when there is no uplink), which reaches the same state. A
 * riovd without EVPN networks never opens the kernel context and touches no device.
 *
 * Security model: zebra's entries are input (parsed and checked by evpn_kernel.c); here a remote
 * MAC or flood entry only ever reaches the network of its VNI, as a static entry of its table or
 * a VTEP port, bounded by the table (-ENOSPC logged, rate-limited) and by RIOV_DP_MAX_PORTS.
 *
 * Thread rules: control thread only (the sweep timer and the kernel context's callbacks run on
 * the event loop; the callbacks also from inside riov_evpn_kernel_* calls, and make none).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "control/config.h"
#include "control/evpn_kernel.h"
#include "control/metrics_http.h"
#include "control/service_internal.h"

RIOV_LOG_COMPONENT("evpn", RIOV_LOG_INFO);

#define SWEEP_MS 500

struct evpn_vtep {
	uint32_t ip;
	bool flood;            /* in the VNI's flood list */
	unsigned macs;         /* remote MACs behind it */
};

struct evpn_remote {
	uint8_t mac[6];
	uint32_t vtep;
};

struct evpn_local {
	uint8_t mac[6];
	uint32_t id;           /* its port's shadow TAP (the dataplane's port id) */
	bool seen;             /* in this sweep */
	uint64_t keep_until;   /* found on its TAP at start (CLOCK_MONOTONIC ms): kept until then
				* unless the switch has it elsewhere; 0 once the switch had it */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct evpn_net {
	char name[RIOV_DP_NAME_MAX];
	uint32_t vni;
	unsigned mtu;
	bool applied;          /* its kernel devices are made (else the kernel refused) */
	uint32_t vtep_ip;      /* applied: its vxlan device's VTEP address (0: none, no uplink) */
	struct evpn_vtep *vteps;
	unsigned n_vteps, cap_vteps;
	struct evpn_remote *remote;
	unsigned n_remote, cap_remote;
	struct evpn_local *local;
	unsigned n_local, cap_local;
};

struct svc_evpn {
	struct riov_evpn_kernel *k;
	struct event *sweep_ev;
	bool restoring;
	struct evpn_net *nets[RIOV_DP_MAX_NETS];
	unsigned n_nets;
	uint64_t sweeps, local_adds, local_dels, errors;
};

static void ip_text(uint32_t ip, char out[INET_ADDRSTRLEN])
{
	if (inet_ntop(AF_INET, &ip, out, INET_ADDRSTRLEN) == NULL)
		snprintf(out, INET_ADDRSTRLEN, "?");
}

/* Grow *arr (of *cap elements of size sz) to hold n + 1. 0 or -ENOMEM. */
static int grow(void **arr, unsigned *cap, unsigned n, size_t sz)
{
	if (n < *cap)
		return 0;
	unsigned c = *cap ? *cap * 2 : 16;
	void *p = realloc(*arr, (size_t)c * sz);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

static struct svc_evpn *evpn_of(struct riov_service *svc)
{
	if (svc->evpn == NULL)
		svc->evpn = calloc(1, sizeof(*svc->evpn));
	return svc->evpn;
}

static struct evpn_net *net_by_name(const struct riov_service *svc, const char *name)
{
	for (unsigned i = 0; svc->evpn != NULL && i < svc->evpn->n_nets; i++)
		if (strcmp(svc->evpn->nets[i]->name, name) == 0)
			return svc->evpn->nets[i];
	return NULL;
}

static struct evpn_net *net_by_vni(const struct riov_service *svc, uint32_t vni)
{
	for (unsigned i = 0; svc->evpn != NULL && i < svc->evpn->n_nets; i++)
		if (svc->evpn->nets[i]->vni == vni)
			return svc->evpn->nets[i];
	return NULL;
}

/* The first uplink's address (network order), or 0 when there is no uplink. */
static uint32_t uplink_address(const struct riov_service *svc, const char **name)
{
	return svc_uplink_address(svc, name);
}

/* ------------------------------------------------------------------ remote VTEPs and MACs */

static struct evpn_vtep *vtep_find(struct evpn_net *n, uint32_t ip)
{
	for (unsigned i = 0; i < n->n_vteps; i++)
		if (n->vteps[i].ip == ip)
			return &n->vteps[i];
	return NULL;
}

/* VTEP ip of n, its port made on first use. NULL when it cannot be made (logged). */
static struct evpn_vtep *vtep_get(struct riov_service *svc, struct evpn_net *n, uint32_t ip)
{
	struct evpn_vtep *v = vtep_find(n, ip);
	char err[256] = "";
	int rc;

	if (v != NULL)
		return v;
	if (grow((void **)&n->vteps, &n->cap_vteps, n->n_vteps, sizeof(*n->vteps)) != 0 ||
	    (rc = svc_vtep_add(svc, n->name, ip, err, sizeof(err))) != 0) {
		svc->evpn->errors++;
		RIOV_LOG_RL(RIOV_LOG_ERR, "network %s: EVPN VTEP not added: %s", n->name,
			    err[0] ? err : "out of memory");
		return NULL;
	}
	v = &n->vteps[n->n_vteps++];
	*v = (struct evpn_vtep){ .ip = ip };
	return v;
}

/* VTEP v of n is still used, or its port goes. */
static void vtep_put(struct riov_service *svc, struct evpn_net *n, struct evpn_vtep *v)
{
	if (v->flood || v->macs > 0)
		return;
	svc_vtep_del(svc, n->name, v->ip);
	*v = n->vteps[--n->n_vteps];
}

static int remote_find(const struct evpn_net *n, const uint8_t mac[6])
{
	for (unsigned i = 0; i < n->n_remote; i++)
		if (memcmp(n->remote[i].mac, mac, 6) == 0)
			return (int)i;
	return -1;
}

/* Where network net's table sends mac ("" when nowhere). */
struct mac_where {
	const uint8_t *mac;
	char port[RIOV_DP_NAME_MAX];
};

static void mac_where_one(void *arg, const struct riov_dp_mac_info *mi)
{
	struct mac_where *w = arg;

	if (memcmp(mi->mac, w->mac, 6) == 0)
		snprintf(w->port, sizeof(w->port), "%s", mi->port);
}

static void on_remote_mac(void *arg, bool added, uint32_t vni, const uint8_t mac[6], uint32_t vtep)
{
	struct riov_service *svc = arg;
	struct evpn_net *n = net_by_vni(svc, vni);
	char port[RIOV_DP_NAME_MAX], text[RIOV_CFG_MAC], a[INET_ADDRSTRLEN];
	int i, rc;

	if (n == NULL)
		return;
	i = remote_find(n, mac);
	riov_dp_vtep_name(n->name, vtep, port, sizeof(port));
	riov_mac_text(mac, text);
	ip_text(vtep, a);
	if (!added) {
		if (i < 0 || n->remote[i].vtep != vtep)
			return;
		/* only while the table still sends it there: a guest may have taken it meanwhile */
		struct mac_where w = { .mac = mac };
		riov_dp_mac_foreach(svc->dp, n->name, mac_where_one, &w);
		if (strcmp(w.port, port) == 0)
			riov_dp_mac_del(svc->dp, n->name, mac);
		n->remote[i] = n->remote[--n->n_remote];
		struct evpn_vtep *v = vtep_find(n, vtep);
		if (v != NULL) {
			v->macs--;
			vtep_put(svc, n, v);
		}
		RIOV_LOG(RIOV_LOG_DEBUG, "network %s: remote MAC %s behind %s withdrawn", n->name, text, a);
		return;
	}
	if (i >= 0 && n->remote[i].vtep == vtep) {
		riov_dp_mac_add(svc->dp, n->name, mac, port); /* again, as it was */
		return;
	}
	if (i < 0 && grow((void **)&n->remote, &n->cap_remote, n->n_remote, sizeof(*n->remote)) != 0)
		return;
	struct evpn_vtep *v = vtep_get(svc, n, vtep);
	if (v == NULL)
		return;
	v->macs++;
	if ((rc = riov_dp_mac_add(svc->dp, n->name, mac, port)) != 0) {
		svc->evpn->errors++;
		RIOV_LOG_RL(RIOV_LOG_ERR, "network %s: remote MAC %s behind %s not in the MAC table: %s",
			    n->name, text, a, rc == -ENOSPC ? "its slots hold static MACs" : strerror(-rc));
		v->macs--;
		vtep_put(svc, n, v);
		return;
	}
	if (i >= 0) { /* moved from another VTEP */
		struct evpn_vtep *old = vtep_find(n, n->remote[i].vtep);
		n->remote[i].vtep = vtep;
		if (old != NULL) {
			old->macs--;
			vtep_put(svc, n, old);
		}
	} else {
		memcpy(n->remote[n->n_remote].mac, mac, 6);
		n->remote[n->n_remote++].vtep = vtep;
	}
	RIOV_LOG(RIOV_LOG_DEBUG, "network %s: remote MAC %s behind %s", n->name, text, a);
}

static void on_flood(void *arg, bool added, uint32_t vni, uint32_t vtep)
{
	struct riov_service *svc = arg;
	struct evpn_net *n = net_by_vni(svc, vni);
	char a[INET_ADDRSTRLEN];

	if (n == NULL)
		return;
	ip_text(vtep, a);
	if (added) {
		struct evpn_vtep *v = vtep_get(svc, n, vtep);
		if (v != NULL && !v->flood) {
			v->flood = true;
			RIOV_LOG(RIOV_LOG_INFO, "network %s: VTEP %s joined the flood list (EVPN)", n->name, a);
		}
		return;
	}
	struct evpn_vtep *v = vtep_find(n, vtep);
	if (v == NULL || !v->flood)
		return;
	v->flood = false;
	RIOV_LOG(RIOV_LOG_INFO, "network %s: VTEP %s left the flood list (EVPN)%s", n->name, a,
		 v->macs ? "" : ": its port goes");
	vtep_put(svc, n, v);
}

static const struct riov_evpn_kernel_ops evpn_ops = {
	.remote_mac = on_remote_mac,
	.flood = on_flood,
};

/* ------------------------------------------------------------------ local MACs: the sweep */

/* The ports of an EVPN network whose MACs are this node's to advertise, each through a shadow
 * TAP: a guest's vhost port and an eth port (hosts behind it), not a remote VTEP's port. */
static bool dp_port_local(enum riov_dp_port_type t)
{
	return t == RIOV_DP_PORT_VHOST || t == RIOV_DP_PORT_ETH;
}

static bool spec_port_local(const Riov__V1__PortSpec *ps)
{
	return ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST ||
	       ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_ETH;
}

static int local_find(const struct evpn_net *n, const uint8_t mac[6])
{
	for (unsigned i = 0; i < n->n_local; i++)
		if (memcmp(n->local[i].mac, mac, 6) == 0)
			return (int)i;
	return -1;
}

struct sweep_ctx {
	struct riov_service *svc;
	struct evpn_net *n;
};

static void sweep_one(void *arg, const struct riov_dp_mac_info *mi)
{
	struct sweep_ctx *c = arg;
	struct evpn_net *n = c->n;
	struct riov_dp_port_info pi;
	char text[RIOV_CFG_MAC];
	int i, rc;

	if (!dp_port_local(mi->type) || riov_dp_port_info(c->svc->dp, mi->port, &pi) != 0)
		return;
	i = local_find(n, mi->mac);
	if (i >= 0 && n->local[i].id == pi.id) {
		n->local[i].seen = true;
		n->local[i].keep_until = 0;
		return;
	}
	if (i < 0 && grow((void **)&n->local, &n->cap_local, n->n_local, sizeof(*n->local)) != 0)
		return;
	/* new, or moved to another port (the kernel moves it in one step) */
	if ((rc = riov_evpn_kernel_mac_add(c->svc->evpn->k, pi.id, mi->mac)) != 0) {
		c->svc->evpn->errors++;
		riov_mac_text(mi->mac, text);
		RIOV_LOG_RL(RIOV_LOG_WARN, "network %s: MAC %s of port %s not advertised (its shadow TAP "
			    "rvs%u): %s", n->name, text, mi->port, pi.id, strerror(-rc));
		return;
	}
	c->svc->evpn->local_adds++;
	if (i < 0) {
		i = (int)n->n_local++;
		memcpy(n->local[i].mac, mi->mac, 6);
	}
	n->local[i].id = pi.id;
	n->local[i].seen = true;
	n->local[i].keep_until = 0;
}

void svc_evpn_sweep(struct riov_service *svc)
{
	struct svc_evpn *e = svc->evpn;

	if (e == NULL || e->k == NULL)
		return;
	e->sweeps++;
	for (unsigned k = 0; k < e->n_nets; k++) {
		struct evpn_net *n = e->nets[k];
		struct sweep_ctx c = { svc, n };
		if (!n->applied)
			continue;
		for (unsigned i = 0; i < n->n_local; i++)
			n->local[i].seen = false;
		if (riov_dp_mac_foreach(svc->dp, n->name, sweep_one, &c) != 0)
			continue;
		const uint64_t now = now_ms();
		for (unsigned i = 0; i < n->n_local;) {
			if (n->local[i].seen || now < n->local[i].keep_until) {
				i++;
				continue;
			}
			int rc = riov_evpn_kernel_mac_del(e->k, n->local[i].id, n->local[i].mac);
			if (rc != 0 && rc != -ENOENT)
				e->errors++;
			e->local_dels++;
			n->local[i] = n->local[--n->n_local];
		}
	}
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	svc_evpn_sweep(arg);
}

/* The kernel context, opened on first use with its sweep timer. 0 or -errno with err filled. */
static int kernel_open(struct riov_service *svc, char *err, size_t errlen)
{
	struct svc_evpn *e = svc->evpn;
	struct timeval tv = { .tv_sec = 0, .tv_usec = SWEEP_MS * 1000 };
	int rc;

	if (e->k != NULL)
		return 0;
	if ((rc = riov_evpn_kernel_create(svc->base, &evpn_ops, svc, &e->k)) != 0) {
		e->k = NULL;
		snprintf(err, errlen, "EVPN needs the kernel's netlink (rtnetlink: %s)", strerror(-rc));
		return rc;
	}
	if (svc->base == NULL)
		return 0; /* unit tests sweep with svc_evpn_sweep() */
	e->sweep_ev = event_new(svc->base, -1, EV_PERSIST, on_sweep, svc);
	if (e->sweep_ev == NULL || event_add(e->sweep_ev, &tv) != 0) {
		if (e->sweep_ev != NULL)
			event_free(e->sweep_ev);
		e->sweep_ev = NULL;
		RIOV_LOG(RIOV_LOG_ERR, "no EVPN sweep timer (out of memory): local MACs are not advertised");
	}
	return 0;
}

/* ------------------------------------------------------------------ networks and ports */

/* The shadow TAP of local port ps (vhost or eth, in EVPN network n, applied). Logged when it
 * fails: the port works, the MACs behind it are not advertised. */
static void shadow_add(struct riov_service *svc, struct evpn_net *n, const Riov__V1__PortSpec *ps)
{
	struct riov_dp_port_info pi;
	int rc;

	if (!spec_port_local(ps) || riov_dp_port_info(svc->dp, ps->name, &pi) != 0)
		return;
	if ((rc = riov_evpn_kernel_port_add(svc->evpn->k, n->vni, pi.id, n->name, ps->name)) != 0) {
		svc->evpn->errors++;
		RIOV_LOG(RIOV_LOG_ERR, "port %s: no shadow TAP rvs%u for EVPN network %s: %s; the MACs "
			 "behind it are not advertised", ps->name, pi.id, n->name, strerror(-rc));
	}
}

/* Network n's kernel devices with VTEP address local (0: none, no vxlan device) and its local
 * ports' shadow TAPs. 0 or -errno with err filled. */
static int net_apply(struct riov_service *svc, struct evpn_net *n, uint32_t local, char *err, size_t errlen)
{
	char a[INET_ADDRSTRLEN];
	int rc;

	if ((rc = kernel_open(svc, err, errlen)) != 0)
		return rc;
	n->applied = true; /* before: vni_add reports zebra's entries for it */
	n->vtep_ip = local;
	if ((rc = riov_evpn_kernel_vni_add(svc->evpn->k, n->vni, local, n->mtu)) != 0) {
		n->applied = false;
		snprintf(err, errlen, "network %s: the kernel's EVPN devices for VNI %u (rvbr%u, rvx%u) "
			 "were not made: %s%s", n->name, n->vni, n->vni, n->vni, strerror(-rc),
			 rc == -EPERM || rc == -EACCES ? " (riovd needs CAP_NET_ADMIN)" :
			 rc == -EEXIST ? " (another vxlan device has this VNI)" : "");
		return rc;
	}
	for (unsigned k = 0; k < svc->n_ports; k++)
		if (strcmp(str_or_empty(svc->ports[k]->net), n->name) == 0)
			shadow_add(svc, n, svc->ports[k]);
	ip_text(local, a);
	if (local != 0)
		RIOV_LOG(RIOV_LOG_NOTICE, "network %s: EVPN VNI %u, local VTEP %s (rvbr%u, rvx%u)", n->name,
			 n->vni, a, n->vni, n->vni);
	else
		RIOV_LOG(RIOV_LOG_WARN, "network %s: EVPN VNI %u has no local VTEP (no uplink): no vxlan "
			 "device rvx%u, so zebra withdraws the VNI; rvbr%u and the shadow TAPs stay until an "
			 "uplink is added", n->name, n->vni, n->vni, n->vni);
	return 0;
}

static void net_free(struct evpn_net *n)
{
	free(n->vteps);
	free(n->remote);
	free(n->local);
	free(n);
}

int svc_evpn_net_check(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err, size_t errlen)
{
	const char *name = str_or_empty(in->name);

	if (!in->evpn)
		return 0;
	if (in->vni == 0) {
		snprintf(err, errlen, "network %s: an EVPN network needs a VNI (--vni N)", name);
		return -EINVAL;
	}
	if (in->n_vteps != 0) {
		snprintf(err, errlen, "network %s is an EVPN network: its remote VTEPs come from BGP EVPN "
			 "(FRR's zebra), leave the vteps out", name);
		return -EINVAL;
	}
	if ((svc->evpn == NULL || !svc->evpn->restoring) && uplink_address(svc, NULL) == 0) {
		snprintf(err, errlen, "network %s: an EVPN network needs an uplink (its VTEP address is "
			 "the first uplink's): add one first (riovctl port add uplink NAME --devargs ARGS "
			 "--address A.B.C.D/LEN)", name);
		return -EINVAL;
	}
	return 0;
}

int svc_evpn_net_apply(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err, size_t errlen)
{
	const char *name = str_or_empty(in->name);
	struct svc_evpn *e;
	struct evpn_net *n;
	int rc;

	if (!in->evpn)
		return 0;
	if ((e = evpn_of(svc)) == NULL || e->n_nets == RIOV_DP_MAX_NETS ||
	    (n = calloc(1, sizeof(*n))) == NULL) {
		snprintf(err, errlen, "network %s: out of memory", name);
		return -ENOMEM;
	}
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->vni = in->vni;
	n->mtu = in->mtu ? in->mtu : RIOV_DP_MTU_DEFAULT;
	if ((rc = riov_dp_net_set_evpn(svc->dp, name, true)) != 0) {
		snprintf(err, errlen, "network %s: %s", name, strerror(-rc));
		net_free(n);
		return rc;
	}
	e->nets[e->n_nets++] = n;
	if (e->restoring)
		return 0; /* svc_evpn_restore_end() reconciles */
	/* an uplink: svc_evpn_net_check() */
	if ((rc = net_apply(svc, n, uplink_address(svc, NULL), err, errlen)) != 0) {
		e->n_nets--;
		riov_dp_net_set_evpn(svc->dp, name, false);
		net_free(n);
		return rc;
	}
	return 0;
}

void svc_evpn_net_remove(struct riov_service *svc, const char *name)
{
	struct svc_evpn *e = svc->evpn;
	unsigned i;

	for (i = 0; e != NULL && i < e->n_nets && strcmp(e->nets[i]->name, name) != 0; i++)
		;
	if (e == NULL || i == e->n_nets)
		return;
	struct evpn_net *n = e->nets[i];
	e->nets[i] = e->nets[--e->n_nets];
	if (n->applied && e->k != NULL) {
		int rc = riov_evpn_kernel_vni_del(e->k, n->vni);
		if (rc != 0 && rc != -ENOENT)
			RIOV_LOG(RIOV_LOG_ERR, "network %s: its EVPN devices (rvbr%u, rvx%u) were not deleted: "
				 "%s", name, n->vni, n->vni, strerror(-rc));
	}
	for (unsigned k = 0; k < n->n_vteps; k++)
		svc_vtep_del(svc, name, n->vteps[k].ip); /* the remote MACs go with the ports */
	riov_dp_net_set_evpn(svc->dp, name, false);
	net_free(n);
}

bool svc_evpn_is(const struct riov_service *svc, const char *net)
{
	return net_by_name(svc, net) != NULL;
}

bool svc_evpn_vtep(const struct riov_service *svc, const char *net, uint32_t ip, bool *flood, unsigned *macs)
{
	struct evpn_net *n = net_by_name(svc, net);
	struct evpn_vtep *v = n != NULL ? vtep_find(n, ip) : NULL;

	if (v == NULL)
		return false;
	*flood = v->flood;
	*macs = v->macs;
	return true;
}

/* The uplinks changed (one added, or one deleted and out of the desired state already): every
 * EVPN network's devices follow the first uplink's address, the VTEP address. A network whose
 * vxlan device has another `local` gets it replaced (zebra withdraws the old type-3 route and
 * advertises the new); with no uplink left it loses it (zebra withdraws the VNI: without a VTEP
 * address the node can originate nothing, and a device with the old address would have zebra
 * advertise a next hop nobody answers at); the remote VTEPs and MACs go with the old device and
 * come back from zebra. A network the kernel refused before is tried again. */
static void uplinks_changed(struct riov_service *svc)
{
	struct svc_evpn *e = svc->evpn;
	const uint32_t local = uplink_address(svc, NULL);
	char err[256];

	for (unsigned k = 0; e != NULL && k < e->n_nets; k++) {
		struct evpn_net *n = e->nets[k];
		if (n->applied && n->vtep_ip == local)
			continue;
		err[0] = '\0';
		if (net_apply(svc, n, local, err, sizeof(err)) != 0)
			RIOV_LOG(RIOV_LOG_ERR, "%s", err);
	}
}

void svc_evpn_port_added(struct riov_service *svc, const Riov__V1__PortSpec *ps)
{
	struct svc_evpn *e = svc->evpn;

	if (e == NULL || e->restoring)
		return;
	if (ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK) {
		uplinks_changed(svc);
		return;
	}
	struct evpn_net *n = net_by_name(svc, str_or_empty(ps->net));
	if (n != NULL && n->applied)
		shadow_add(svc, n, ps);
}

void svc_evpn_port_removed(struct riov_service *svc, const char *name)
{
	struct riov_dp_port_info pi;
	struct evpn_net *n;
	int rc;

	if (svc->evpn == NULL || svc->evpn->restoring || riov_dp_port_info(svc->dp, name, &pi) != 0)
		return;
	if (pi.type == RIOV_DP_PORT_UPLINK) {
		uplinks_changed(svc); /* its spec is out of the desired state already */
		return;
	}
	if (svc->evpn->k == NULL || !dp_port_local(pi.type) || (n = net_by_name(svc, pi.net)) == NULL ||
	    !n->applied)
		return;
	if ((rc = riov_evpn_kernel_port_del(svc->evpn->k, pi.id)) != 0 && rc != -ENOENT)
		RIOV_LOG(RIOV_LOG_ERR, "port %s: its shadow TAP rvs%u was not deleted: %s", name, pi.id,
			 strerror(-rc));
	/* its local MACs went with the TAP */
	for (unsigned i = 0; i < n->n_local;) {
		if (n->local[i].id == pi.id)
			n->local[i] = n->local[--n->n_local];
		else
			i++;
	}
}

/* ------------------------------------------------------------------ start and stop */

void svc_evpn_restore_begin(struct riov_service *svc)
{
	if (evpn_of(svc) != NULL)
		svc->evpn->restoring = true;
}

/* The desired state of the EVPN networks for the reconciliation. */
struct recon {
	struct riov_evpn_vni_spec *vnis;
	struct riov_evpn_port_spec *ports;
	uint8_t (*macs)[6];
};

void svc_evpn_restore_end(struct riov_service *svc)
{
	struct svc_evpn *e = svc->evpn;
	const char *up = NULL;
	char err[256] = "", a[INET_ADDRSTRLEN];
	struct recon r = { 0 };
	size_t nv = 0, np = 0, nm = 0;
	int rc;

	if (e == NULL)
		return;
	e->restoring = false;
	if (e->n_nets == 0)
		return; /* no EVPN network: riovd touches no kernel device */
	/* without an uplink: no vxlan devices (what an uplink's deletion leaves at run time) */
	const uint32_t local = uplink_address(svc, &up);
	if ((rc = kernel_open(svc, err, sizeof(err))) != 0) {
		RIOV_LOG(RIOV_LOG_ERR, "EVPN networks not in BGP: %s", err);
		return;
	}
	r.vnis = calloc(e->n_nets, sizeof(*r.vnis));
	r.ports = calloc(svc->n_ports + 1, sizeof(*r.ports));
	size_t cap_macs = 1;
	for (unsigned k = 0; k < svc->n_nets; k++)
		cap_macs += svc->nets[k]->n_macs;
	r.macs = calloc(cap_macs, sizeof(*r.macs));
	if (r.vnis == NULL || r.ports == NULL || r.macs == NULL) {
		RIOV_LOG(RIOV_LOG_ERR, "EVPN networks not reconciled: out of memory");
		goto out;
	}
	for (unsigned k = 0; k < e->n_nets; k++) {
		struct evpn_net *n = e->nets[k];
		int si = svc_net_index(svc, n->name);
		struct riov_evpn_vni_spec *v = &r.vnis[nv++];
		v->vni = n->vni;
		v->local = local;
		v->mtu = n->mtu;
		v->ports = &r.ports[np];
		for (unsigned p = 0; p < svc->n_ports; p++) {
			const Riov__V1__PortSpec *ps = svc->ports[p];
			struct riov_dp_port_info pi;
			if (!spec_port_local(ps) || strcmp(str_or_empty(ps->net), n->name) != 0 ||
			    riov_dp_port_info(svc->dp, ps->name, &pi) != 0)
				continue;
			struct riov_evpn_port_spec *x = &r.ports[np++];
			x->id = pi.id;
			x->net = n->name;
			x->port = ps->name;
			x->macs = (const uint8_t(*)[6]) & r.macs[nm];
			/* its static MACs: advertised again at once (learned ones when the guest or
			 * host next sends a frame) */
			for (size_t m = 0; si >= 0 && m < svc->nets[si]->n_macs; m++) {
				const Riov__V1__StaticMac *sm = svc->nets[si]->macs[m];
				if (strcmp(str_or_empty(sm->port), ps->name) == 0 &&
				    riov_mac_parse(sm->mac, r.macs[nm]) == 0) {
					nm++;
					x->n_macs++;
				}
			}
			v->n_ports++;
		}
		n->applied = true; /* before: the FDB read reports zebra's entries for it */
		n->vtep_ip = local;
	}
	rc = riov_evpn_kernel_reconcile(e->k, r.vnis, nv);
	/* the MACs the previous run had on the shadow TAPs stay advertised for an aging time, in
	 * which the switch learns them again from their guests (or they go) */
	const uint64_t keep = svc->cfg->mac_aging_s ? now_ms() + 1000ull * svc->cfg->mac_aging_s : UINT64_MAX;
	for (size_t v = 0; v < nv; v++) {
		struct evpn_net *n = net_by_vni(svc, r.vnis[v].vni);
		for (size_t p = 0; n != NULL && p < r.vnis[v].n_ports; p++) {
			const uint8_t(*macs)[6];
			size_t nm2;
			if (riov_evpn_kernel_port_macs(e->k, r.vnis[v].ports[p].id, &macs, &nm2) != 0)
				continue;
			for (size_t m = 0; m < nm2; m++) {
				if (local_find(n, macs[m]) >= 0 ||
				    grow((void **)&n->local, &n->cap_local, n->n_local, sizeof(*n->local)) != 0)
					continue;
				struct evpn_local *l = &n->local[n->n_local++];
				memcpy(l->mac, macs[m], 6);
				l->id = r.vnis[v].ports[p].id;
				l->seen = false;
				l->keep_until = keep;
			}
		}
	}
	ip_text(local, a);
	if (rc != 0)
		RIOV_LOG(RIOV_LOG_ERR, "EVPN reconciliation with the kernel: %s (what could be done was "
			 "done)", strerror(-rc));
	else if (local != 0)
		RIOV_LOG(RIOV_LOG_NOTICE, "EVPN: %zu network(s) and %zu shadow TAP(s) reconciled with the "
			 "kernel, local VTEP %s (uplink %s)", nv, np, a, up);
	else
		RIOV_LOG(RIOV_LOG_WARN, "EVPN: %zu network(s) and %zu shadow TAP(s) reconciled with the "
			 "kernel, but no uplink: no local VTEP, so no vxlan devices (zebra has none of these "
			 "VNIs) until an uplink is added", nv, np);
out:
	free(r.vnis);
	free(r.ports);
	free(r.macs);
}

void svc_evpn_stop(struct riov_service *svc)
{
	struct svc_evpn *e = svc->evpn;

	if (e == NULL)
		return;
	if (e->sweep_ev != NULL)
		event_free(e->sweep_ev);
	riov_evpn_kernel_destroy(e->k); /* the devices stay: a restart withdraws nothing */
	for (unsigned k = 0; k < e->n_nets; k++)
		net_free(e->nets[k]);
	free(e);
	svc->evpn = NULL;
}

/* ------------------------------------------------------------------ metrics */

void svc_evpn_metrics(struct evbuffer *out, struct riov_service *svc)
{
	struct svc_evpn *e = svc->evpn;
	struct riov_evpn_kernel_stats st;

	if (e == NULL || e->k == NULL)
		return;
	riov_evpn_kernel_get_stats(e->k, &st);
	riov_metrics_header(out, "riov_evpn_events_total", "What EVPN's kernel side (zebra's FDB) told "
			    "riovd, by kind.", "counter");
	const struct { const char *kind; uint64_t v; } ev[] = {
		{ "remote_mac_add", st.remote_mac_adds }, { "remote_mac_del", st.remote_mac_dels },
		{ "flood_add", st.flood_adds }, { "flood_del", st.flood_dels },
		{ "unchanged", st.unchanged }, { "overrun", st.overruns }, { "resync", st.resyncs },
		{ "kernel_error", st.kernel_errors }, { "device_lost", st.devices_lost },
		{ "local_taken", st.local_taken }, { "stale_deleted", st.stale_deleted },
	};
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		const char *labels[] = { "kind", ev[i].kind };
		riov_metrics_sample_u64(out, "riov_evpn_events_total", labels, 1, ev[i].v);
	}
	riov_metrics_header(out, "riov_evpn_ignored_total", "Netlink messages EVPN's kernel side "
			    "ignored, by reason.", "counter");
	for (unsigned r = 0; r < RIOV_EVPN_IGN__MAX; r++) {
		const char *labels[] = { "reason", riov_evpn_ignore_name(r) };
		riov_metrics_sample_u64(out, "riov_evpn_ignored_total", labels, 1, st.ignored[r]);
	}
	riov_metrics_header(out, "riov_evpn_local_macs_total", "Local MACs written to (add) or "
			    "deleted from (del) the shadow TAPs by the sweep.", "counter");
	const char *add[] = { "op", "add" }, *del[] = { "op", "del" };
	riov_metrics_sample_u64(out, "riov_evpn_local_macs_total", add, 1, e->local_adds);
	riov_metrics_sample_u64(out, "riov_evpn_local_macs_total", del, 1, e->local_dels);
	riov_metrics_header(out, "riov_evpn_errors_total", "EVPN changes riovd could not make (logged).",
			    "counter");
	riov_metrics_sample_u64(out, "riov_evpn_errors_total", NULL, 0, e->errors);
}
