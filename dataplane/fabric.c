/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fabric's control side (DESIGN.md "Fabric", issue 13): uplinks with their exception TAP, the
 * VNIs of networks, and remote VTEPs as ports of their network, each with the outer headers that
 * reach it (made from the next hop the control plane reads from the kernel).
 *
 * What workers read is published and waited for like the rest of the dataplane (dp.h): the VNI
 * map, each network's VTEP list, each VTEP's next hop; old copies are freed after dp_sync().
 *
 * Security model: callers are the control plane (checked input); addresses are still refused when
 * they cannot be a remote VTEP (0, loopback, multicast, broadcast).
 *
 * Thread rules: control thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_ethdev.h>

#include "common/log.h"
#include "dataplane/dp_internal.h"

RIOV_LOG_COMPONENT("dataplane", RIOV_LOG_INFO);

/* ---- publications ---- */

static int vni_cmp(const void *a, const void *b)
{
	const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int publish_vni_map(struct riov_dp *dp)
{
	struct dp_vni_map *m = calloc(1, sizeof(*m) + RIOV_DP_MAX_NETS * sizeof(m->e[0]));

	if (m == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < RIOV_DP_MAX_NETS; i++) {
		if (dp->nets[i] != NULL && dp->nets[i]->vni != 0) {
			m->e[m->n].vni = dp->nets[i]->vni;
			m->e[m->n].net = (uint16_t)i;
			m->n++;
		}
	}
	qsort(m->e, m->n, sizeof(m->e[0]), vni_cmp); /* vni is the entry's first member */
	struct dp_vni_map *old = atomic_exchange(&dp->vni_map, m);
	dp_sync(dp);
	free(old);
	return 0;
}

static int publish_vteps(struct riov_dp *dp, struct dp_net *net)
{
	struct dp_vteps *v = calloc(1, sizeof(*v) + (net->nvteps + 1) * sizeof(v->v[0]));

	if (v == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p == NULL || p->net != net || p->type != RIOV_DP_PORT_VTEP || atomic_load(&p->deleting) ||
		    v->n == net->nvteps)
			continue;
		v->v[v->n].ip = p->remote_ip;
		v->v[v->n].port = p->id;
		v->n++;
	}
	struct dp_vteps *old = atomic_exchange(&net->vteps, v);
	dp_sync(dp);
	free(old);
	return 0;
}

/* ---- networks ---- */

int riov_dp_net_set_vni(struct riov_dp *dp, const char *name, uint32_t vni)
{
	struct dp_net *net = dp_net_find(dp, name);

	if (net == NULL)
		return -ENOENT;
	if (vni > RIOV_DP_VNI_MAX)
		return -EINVAL;
	if (vni == net->vni)
		return 0;
	if (net->nvteps != 0)
		return -EBUSY;
	for (unsigned i = 0; vni != 0 && i < RIOV_DP_MAX_NETS; i++)
		if (dp->nets[i] != NULL && dp->nets[i]->vni == vni)
			return -EEXIST;
	uint32_t was = net->vni;
	net->vni = vni;
	int rc = publish_vni_map(dp);
	if (rc != 0) {
		net->vni = was;
		return rc;
	}
	memset(&net->vtep_past, 0, sizeof(net->vtep_past)); /* the old VNI's */
	RIOV_LOG(RIOV_LOG_INFO, "network %s: VNI %u", name, vni);
	return 0;
}

int riov_dp_net_set_evpn(struct riov_dp *dp, const char *name, bool on)
{
	struct dp_net *net = dp_net_find(dp, name);

	if (net == NULL)
		return -ENOENT;
	/* a flag the workers read per burst: no publish-and-wait needed, a burst in flight learns
	 * with the old value */
	atomic_store_explicit(&net->evpn, on, memory_order_relaxed);
	return 0;
}

void dp_fabric_net_del(struct riov_dp *dp, struct dp_net *net)
{
	if (net->vni == 0)
		return;
	net->vni = 0;
	if (publish_vni_map(dp) != 0) {
		/* no memory for a smaller map: take the old one away entirely rather than leave a
		 * pointer to this network to the workers (its VNIs stop decapsulating until the next
		 * change) */
		struct dp_vni_map *old = atomic_exchange(&dp->vni_map, NULL);
		dp_sync(dp);
		free(old);
	}
}

/* ---- uplinks ---- */

int dp_uplink_init(struct riov_dp *dp, struct dp_port *p, const struct riov_dp_port_params *prm, char *err,
		   size_t errlen)
{
	const uint32_t a = ntohl(prm->address);
	struct rte_ether_addr mac;
	char args[128];
	int rc;

	if (a == 0 || (a >> 24) == 127 || (a >> 28) >= 14) {
		snprintf(err, errlen, "uplink %s needs a unicast IPv4 address (its VTEP address)", p->name);
		return -EINVAL;
	}
	if (if_nametoindex(p->name) != 0) {
		snprintf(err, errlen, "uplink %s: a kernel interface called %s exists already (the uplink's "
			 "exception interface takes its name): choose another name", p->name, p->name);
		return -EEXIST;
	}
	rc = dp_eth_port_init(dp, p, prm, err, errlen);
	if (rc != 0)
		return rc;
	rc = rte_eth_macaddr_get(p->eth_id, &mac);
	if (rc != 0) {
		snprintf(err, errlen, "uplink %s: no MAC address from %s: %s", p->name, p->devname, strerror(-rc));
		return rc;
	}
	memcpy(p->mac, mac.addr_bytes, sizeof(p->mac));
	p->vtep_ip = prm->address;

	/* the exception path: a TAP with the uplink's name and MAC, so the kernel's ARP answers and
	 * its frames carry the address the underlay knows this node by */
	/* (the name is at most RIOV_DP_UPLINK_NAME_MAX characters: riov_dp_port_add checked it) */
	snprintf(p->tapdev, sizeof(p->tapdev), "net_tap_%.15s", p->name);
	snprintf(args, sizeof(args), "%s,iface=%.15s,mac=" RTE_ETHER_ADDR_PRT_FMT, p->tapdev, p->name,
		 RTE_ETHER_ADDR_BYTES(&mac));
	rc = rte_dev_probe(args);
	uint16_t tid = RTE_MAX_ETHPORTS;
	if (rc == 0 && rte_eth_dev_get_port_by_name(p->tapdev, &tid) != 0)
		rc = -ENODEV;
	if (rc != 0) {
		snprintf(err, errlen, "uplink %s: cannot make its exception interface (%s): %s", p->name, args,
			 strerror(-rc));
		rte_eal_hotplug_remove("vdev", p->tapdev);
		p->tapdev[0] = '\0';
		return rc;
	}
	p->tap_id = tid;
	/* the kernel's side carries the uplink's MTU where the TAP driver can (DPDK 22.11's net_tap
	 * stops at 1504): ARP, BGP and ssh need no more; VXLAN never goes through it */
	struct rte_eth_dev_info ti;
	uint16_t tap_mtu = p->mtu;
	if (rte_eth_dev_info_get(tid, &ti) == 0 && ti.max_rx_pktlen > RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN) {
		const uint32_t tmax = RTE_MIN((uint32_t)ti.max_mtu,
					      ti.max_rx_pktlen - RTE_ETHER_HDR_LEN - RTE_ETHER_CRC_LEN);
		if (tap_mtu > tmax) {
			tap_mtu = (uint16_t)tmax;
			RIOV_LOG(RIOV_LOG_NOTICE, "uplink %s: MTU %u; its exception interface %s takes %u at most "
				 "(the kernel's own traffic over it)", p->name, p->mtu, p->name, tap_mtu);
		}
	}
	rc = dp_eth_dev_start(dp, p, tid, p->tapdev, 1, tap_mtu, NULL, false, err, errlen);
	if (rc != 0) {
		p->tapdev[0] = '\0'; /* dp_eth_dev_start removed it */
		return rc;
	}
	atomic_store(&p->link_up, true);
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &prm->address, ip, sizeof(ip));
	RIOV_LOG(RIOV_LOG_INFO, "uplink %s on %s: VTEP %s, MAC " RTE_ETHER_ADDR_PRT_FMT ", exception interface %s",
		 p->name, p->devname, ip, RTE_ETHER_ADDR_BYTES(&mac), p->name);
	return 0;
}

int riov_dp_uplink_info(struct riov_dp *dp, const char *name, struct riov_dp_uplink_info *out)
{
	struct dp_port *p = dp_port_find(dp, name);

	if (p == NULL || p->type != RIOV_DP_PORT_UPLINK)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	snprintf(out->tap, sizeof(out->tap), "%.15s", p->name);
	out->address = p->vtep_ip;
	memcpy(out->mac, p->mac, sizeof(out->mac));
	out->mtu = p->mtu;
	return 0;
}

/* ---- remote VTEPs ---- */

void riov_dp_vtep_name(const char *net, uint32_t ip, char *out, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, a, sizeof(a));
	snprintf(out, len, "%s@%s", net, a);
}

static struct dp_port *vtep_find(struct riov_dp *dp, struct dp_net *net, uint32_t ip)
{
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p != NULL && p->type == RIOV_DP_PORT_VTEP && p->net == net && p->remote_ip == ip)
			return p;
	}
	return NULL;
}

int riov_dp_vtep_add(struct riov_dp *dp, const char *netname, uint32_t ip, char *err, size_t errlen)
{
	char dummy[8], name[RIOV_DP_NAME_MAX];
	struct dp_net *net = dp_net_find(dp, netname);
	const uint32_t a = ntohl(ip);
	int rc;

	if (err == NULL) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (net == NULL) {
		snprintf(err, errlen, "network %s does not exist", netname);
		return -ENOENT;
	}
	if (net->vni == 0) {
		snprintf(err, errlen, "network %s has no VNI: give it one to add remote VTEPs", netname);
		return -EINVAL;
	}
	if (a == 0 || (a >> 24) == 127 || (a >> 28) >= 14) {
		snprintf(err, errlen, "network %s: a remote VTEP is a unicast IPv4 address", netname);
		return -EINVAL;
	}
	if (vtep_find(dp, net, ip) != NULL) {
		riov_dp_vtep_name(netname, ip, name, sizeof(name));
		snprintf(err, errlen, "network %s has VTEP %s already", netname, strchr(name, '@') + 1);
		return -EEXIST;
	}
	riov_dp_vtep_name(netname, ip, name, sizeof(name));
	struct riov_dp_port_params prm = {
		.name = name,
		.net = netname,
		.type = RIOV_DP_PORT_VTEP,
		.address = ip,
	};
	rc = dp_port_add(dp, &prm, net, err, errlen);
	if (rc == 0) {
		struct dp_port *p = vtep_find(dp, net, ip);
		if (p != NULL)
			dp_rdma_vtep_added(dp, p); /* the peer's RDMA link, if it has one */
		rc = publish_vteps(dp, net);
	}
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errlen, "network %s: VTEP not added: %s", netname, strerror(-rc));
	return rc;
}

int riov_dp_vtep_del(struct riov_dp *dp, const char *netname, uint32_t ip)
{
	struct dp_net *net = dp_net_find(dp, netname);
	struct dp_port *p = net != NULL ? vtep_find(dp, net, ip) : NULL;

	if (p == NULL)
		return -ENOENT;
	return riov_dp_port_del(dp, p->name);
}

/* Replace VTEP port p's next hop with nh (NULL: none); the old one is freed by the caller after a
 * dp_sync(). */
static struct dp_vtep_nh *vtep_swap(struct dp_port *p, struct dp_vtep_nh *nh)
{
	return atomic_exchange_explicit(&p->nh, nh, memory_order_acq_rel);
}

int riov_dp_vtep_set_nexthop(struct riov_dp *dp, uint32_t ip, const char *uplink, const uint8_t mac[6])
{
	struct dp_port *up = NULL;
	struct dp_vtep_nh *old[RIOV_DP_MAX_PORTS];
	unsigned n_old = 0;
	int changed = 0;

	if (uplink != NULL) {
		up = dp_port_find(dp, uplink);
		if (up == NULL || up->type != RIOV_DP_PORT_UPLINK || mac == NULL)
			return -ENOENT;
	}
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p == NULL || p->type != RIOV_DP_PORT_VTEP || p->remote_ip != ip)
			continue;
		struct dp_vtep_nh *cur = atomic_load(&p->nh), *nh = NULL;
		if (up != NULL) {
			nh = calloc(1, sizeof(*nh));
			if (nh == NULL)
				continue; /* keeps what it had; the next event tries again */
			nh->uplink = up->id;
			riov_vxlan_tmpl_init(&nh->t, up->mac, mac, up->vtep_ip, ip, p->net->vni);
			if (cur != NULL && cur->uplink == nh->uplink && memcmp(&cur->t, &nh->t, sizeof(nh->t)) == 0) {
				free(nh);
				continue;
			}
			/* the inner frames' MTU: what the uplink carries less the outer headers */
			uint32_t mtu = up->mtu > RIOV_DP_MTU_MIN + RIOV_VXLAN_OUTER_LEN ?
					       up->mtu - RIOV_VXLAN_OUTER_LEN : RIOV_DP_MTU_MIN;
			p->mtu = (uint16_t)mtu;
			p->max_frame = mtu + RTE_ETHER_HDR_LEN;
		} else if (cur == NULL) {
			continue;
		}
		old[n_old++] = vtep_swap(p, nh);
		atomic_store(&p->link_up, nh != NULL);
		changed++;
	}
	if (n_old) {
		dp_sync(dp);
		for (unsigned i = 0; i < n_old; i++)
			free(old[i]);
	}
	return changed;
}

void riov_dp_vtep_foreach(struct riov_dp *dp, const char *netname,
			  void (*fn)(void *arg, const char *net, uint32_t ip, const struct riov_dp_vtep_info *vi),
			  void *arg)
{
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p == NULL || p->type != RIOV_DP_PORT_VTEP || atomic_load(&p->deleting) ||
		    (netname != NULL && strcmp(p->net->name, netname) != 0))
			continue;
		struct riov_dp_vtep_info vi = { .vni = p->net->vni };
		snprintf(vi.port, sizeof(vi.port), "%s", p->name);
		const struct dp_vtep_nh *nh = atomic_load(&p->nh);
		if (nh != NULL) {
			const struct dp_port *up = dp->ports[nh->uplink];
			vi.resolved = true;
			snprintf(vi.uplink, sizeof(vi.uplink), "%s", up != NULL ? up->name : "?");
			memcpy(vi.mac, nh->t.hdr, sizeof(vi.mac)); /* the outer destination */
		}
		fn(arg, p->net->name, p->remote_ip, &vi);
	}
}

/* ---- a network's overlay totals ---- */

static void vni_add(struct riov_dp_vni_stats *out, const struct riov_dp_port_stats *st)
{
	out->rx_packets += st->rx_packets;
	out->rx_bytes += st->rx_bytes;
	out->tx_packets += st->tx_packets;
	out->tx_bytes += st->tx_bytes;
	for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++)
		out->drops[d] += st->drops[d];
}

int riov_dp_vni_stats(struct riov_dp *dp, const char *name, struct riov_dp_vni_stats *out)
{
	struct dp_net *net = dp_net_find(dp, name);
	const struct dp_vtep_past *past;
	struct riov_dp_port_stats st;

	if (net == NULL)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	if (net->vni == 0)
		return 0;
	out->vni = net->vni;
	past = &net->vtep_past;
	out->rx_packets = past->rx_packets;
	out->rx_bytes = past->rx_bytes;
	out->tx_packets = past->tx_packets;
	out->tx_bytes = past->tx_bytes;
	memcpy(out->drops, past->drops, sizeof(out->drops));
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		const struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p == NULL || p->net != net || p->type != RIOV_DP_PORT_VTEP)
			continue;
		dp_port_stats(dp, p, &st);
		vni_add(out, &st);
		out->vteps += !atomic_load(&p->deleting);
	}
	return 0;
}

void dp_fabric_vtep_gone(struct riov_dp *dp, const struct dp_port *p)
{
	struct dp_vtep_past *past = &p->net->vtep_past;
	struct riov_dp_port_stats st;

	dp_port_stats(dp, p, &st);
	past->rx_packets += st.rx_packets;
	past->rx_bytes += st.rx_bytes;
	past->tx_packets += st.tx_packets;
	past->tx_bytes += st.tx_bytes;
	for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++)
		past->drops[d] += st.drops[d];
}

/* ---- ports going ---- */

void dp_fabric_port_del(struct riov_dp *dp, struct dp_port *p)
{
	if (p->type == RIOV_DP_PORT_VTEP) {
		publish_vteps(dp, p->net); /* it is deleting: left out (no memory: the port lookup
					    * in the workers still finds it gone) */
		return;
	}
	if (p->type != RIOV_DP_PORT_UPLINK)
		return;
	struct dp_vtep_nh *old[RIOV_DP_MAX_PORTS];
	unsigned n_old = 0;
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *v = dp->ports[dp->port_order[i]];
		struct dp_vtep_nh *nh = v != NULL && v->type == RIOV_DP_PORT_VTEP ? atomic_load(&v->nh) : NULL;
		if (nh != NULL && nh->uplink == p->id) {
			old[n_old++] = vtep_swap(v, NULL);
			atomic_store(&v->link_up, false);
		}
	}
	dp_sync(dp);
	for (unsigned i = 0; i < n_old; i++)
		free(old[i]);
	if (n_old)
		RIOV_LOG(RIOV_LOG_WARN, "uplink %s deleted: %u remote VTEP(s) have no next hop now", p->name, n_old);
}

void dp_fabric_port_free(struct riov_dp *dp, struct dp_port *p)
{
	(void)dp;
	if (p->type == RIOV_DP_PORT_UPLINK && p->tapdev[0] != '\0')
		dp_eth_dev_remove(p->tap_id);
	if (p->type == RIOV_DP_PORT_VTEP)
		free(atomic_load(&p->nh));
}
