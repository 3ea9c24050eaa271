/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RDMA peer links in the fabric, control side (DESIGN.md "Fabric", issue 15, docs/rdma.md): the
 * links the control plane made (dataplane/rdma_link.h) published to the workers, one owner each,
 * and to every VTEP port of the link's address.
 *
 * Publication follows the dataplane's rule (DESIGN.md "Threads and state"): a new polling list is
 * built, swapped in and waited for (dp_sync) before the old one is freed; a link is withdrawn from
 * the VTEP ports and the list, and waited for, before riov_dp_rdma_detach() returns, so that the
 * caller may destroy it.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <stdlib.h>

#include <rte_malloc.h>

#include "common/log.h"
#include "dataplane/dp_internal.h"
#include "dataplane/rdma_link.h"

RIOV_LOG_COMPONENT("dataplane", RIOV_LOG_INFO);

void riov_dp_rdma_conf(struct riov_dp *dp, struct riov_rdma_conf *conf)
{
	conf->rx_pool = dp->mp_indirect;
	conf->socket_id = SOCKET_ID_ANY;
}

static struct dp_rdma_peer *peer_find(struct riov_dp *dp, uint32_t ip)
{
	const struct dp_rdma_set *s = atomic_load(&dp->rdma_set);

	for (unsigned i = 0; s != NULL && i < s->n; i++)
		if (s->p[i]->ip == ip)
			return s->p[i];
	return NULL;
}

/* The set with `add` in it (NULL: none) and `drop` out (NULL: none), published and waited for. */
static int publish_set(struct riov_dp *dp, struct dp_rdma_peer *add, const struct dp_rdma_peer *drop)
{
	const struct dp_rdma_set *cur = atomic_load(&dp->rdma_set);
	const unsigned n = cur != NULL ? cur->n : 0;
	struct dp_rdma_set *s = calloc(1, sizeof(*s) + (n + 1) * sizeof(s->p[0]));

	if (s == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		if (cur->p[i] != drop)
			s->p[s->n++] = cur->p[i];
	if (add != NULL)
		s->p[s->n++] = add;
	struct dp_rdma_set *old = atomic_exchange(&dp->rdma_set, s);
	dp_sync(dp);
	free(old);
	return 0;
}

/* Every VTEP port of address ip gets rp (NULL: none). The caller syncs. */
static void ports_set(struct riov_dp *dp, uint32_t ip, struct dp_rdma_peer *rp)
{
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p != NULL && p->type == RIOV_DP_PORT_VTEP && p->remote_ip == ip)
			atomic_store_explicit(&p->rdma, rp, memory_order_release);
	}
}

/* The worker that owns ip's link: a hash of the address, so that links spread over the workers
 * and a peer keeps its worker across reconnects. */
static unsigned owner_of(const struct riov_dp *dp, uint32_t ip)
{
	uint32_t h = ip * 0x9e3779b1u;

	return dp->n_workers > 1 ? (h >> 16) % dp->n_workers : 0;
}

int riov_dp_rdma_attach(struct riov_dp *dp, uint32_t ip, struct riov_rdma_link *link, unsigned *worker)
{
	if (link == NULL)
		return -EINVAL;
	if (peer_find(dp, ip) != NULL)
		return -EEXIST;
	struct dp_rdma_peer *rp = rte_zmalloc("riov_rdma_peer", sizeof(*rp), RTE_CACHE_LINE_SIZE);
	if (rp == NULL)
		return -ENOMEM;
	rp->ip = ip;
	rp->link = link;
	rp->worker = owner_of(dp, ip);
	int rc = publish_set(dp, rp, NULL);   /* polled first: then the ports may send on it */
	if (rc != 0) {
		rte_free(rp);
		return rc;
	}
	ports_set(dp, ip, rp);
	if (worker != NULL)
		*worker = rp->worker;
	return 0;
}

int riov_dp_rdma_detach(struct riov_dp *dp, uint32_t ip)
{
	struct dp_rdma_peer *rp = peer_find(dp, ip);

	if (rp == NULL)
		return -ENOENT;
	ports_set(dp, ip, NULL);
	if (publish_set(dp, NULL, rp) != 0) {
		/* no memory for a smaller list: take the whole list away (the other links are not
		 * polled until the next change; their connections wait, nothing breaks) */
		struct dp_rdma_set *old = atomic_exchange(&dp->rdma_set, NULL);
		dp_sync(dp);
		if (old != NULL) {
			/* ... but put the others back at once if a list can be made */
			struct dp_rdma_set *s = calloc(1, sizeof(*s) + old->n * sizeof(s->p[0]));
			for (unsigned i = 0; s != NULL && i < old->n; i++)
				if (old->p[i] != rp)
					s->p[s->n++] = old->p[i];
			atomic_store(&dp->rdma_set, s);
			free(old);
		}
		RIOV_LOG(RIOV_LOG_WARN, "RDMA links: out of memory while withdrawing one");
	}
	rte_free(rp);
	return 0;
}

int riov_dp_rdma_stats(struct riov_dp *dp, uint32_t ip, struct riov_dp_rdma_stats *out)
{
	const struct dp_rdma_peer *rp = peer_find(dp, ip);

	if (rp == NULL)
		return -ENOENT;
	out->worker = rp->worker;
	out->tx_frames = rp->tx_frames;
	out->tx_bytes = rp->tx_bytes;
	out->rx_frames = rp->rx_frames;
	out->rx_bytes = rp->rx_bytes;
	out->fallback = rp->fallback;
	out->unknown_vni = rp->unknown_vni;
	out->unknown_vtep = rp->unknown_vtep;
	return 0;
}

void dp_rdma_vtep_added(struct riov_dp *dp, struct dp_port *p)
{
	atomic_store_explicit(&p->rdma, peer_find(dp, p->remote_ip), memory_order_release);
}

void dp_rdma_free(struct riov_dp *dp)
{
	struct dp_rdma_set *s = atomic_exchange(&dp->rdma_set, NULL);

	for (unsigned i = 0; s != NULL && i < s->n; i++)
		rte_free(s->p[i]);
	free(s);
}
