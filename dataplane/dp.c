/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's control side: create workers, networks and ports, publish poll tables to the
 * workers (publish-and-wait), and sum counters.
 *
 * Thread rules: control thread only (see dp.h). Vhost ring hand-over: vmm calls vring_start/stop
 * on this thread; a queue's "running" flag is the publication, dp_sync() the wait.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "common/log.h"
#include "dataplane/dp_internal.h"
#include "dataplane/offload.h"
#include "iommu/vtd.h"
#include "vmm/vhost.h"

RIOV_LOG_COMPONENT("dataplane", RIOV_LOG_INFO);

/* Source-ids, domain ids and IRTE ranges of vhost ports: buses 0xfc-0xff, one function a port.
 * The ids come from the ranges iommu/vtd.h's plan reserves for the ports; they must fit. */
#define DP_SID(port) ((uint16_t)(RIOV_DP_VHOST_SID_FIRST + (port)))
#define DP_DID(port) ((uint16_t)(RIOV_VTD_DID_PORT_FIRST + (port)))
#define DP_S1_DID(port) ((uint16_t)(RIOV_VTD_DID_PORT_S1_FIRST + (port)))
#define DP_IRTE_BASE(port) (RIOV_VTD_IRTE_PORT_FIRST + (uint32_t)(port) * RIOV_VHOST_MAX_VRINGS)
_Static_assert(RIOV_VTD_DID_PORT_FIRST + RIOV_DP_MAX_PORTS - 1 <= RIOV_VTD_DID_PORT_LAST &&
	       RIOV_VTD_DID_PORT_S1_FIRST + RIOV_DP_MAX_PORTS - 1 <= RIOV_VTD_DID_PORT_S1_LAST &&
	       RIOV_VTD_IRTE_PORT_FIRST + RIOV_DP_MAX_PORTS * RIOV_VHOST_MAX_VRINGS - 1 <=
	       RIOV_VTD_IRTE_PORT_LAST, "vhost ports' ids outside the ranges iommu/vtd.h reserves");

void dp_sync(struct riov_dp *dp)
{
	if (dp->n_workers)
		rte_rcu_qsbr_synchronize(dp->qs, RTE_QSBR_THRID_INVALID);
}

static void vtd_sync(void *arg)
{
	dp_sync(arg);
}

struct riov_vtd *riov_dp_vtd(struct riov_dp *dp)
{
	return dp->vtd;
}

/* ---- poll tables ---- */

int dp_publish_poll_tables(struct riov_dp *dp)
{
	struct dp_poll_table *nt[RIOV_DP_MAX_WORKERS] = { 0 };
	unsigned cap = 0;

	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p != NULL)
			cap += p->queues + (p->type == RIOV_DP_PORT_UPLINK);
	}
	for (unsigned w = 0; w < dp->n_workers; w++) {
		nt[w] = calloc(1, sizeof(*nt[w]) + (cap + 1) * sizeof(struct dp_poll));
		if (nt[w] == NULL) {
			for (unsigned k = 0; k < w; k++)
				free(nt[k]);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p == NULL || atomic_load(&p->deleting))
			continue;
		for (uint16_t q = 0; q < p->queues; q++) {
			unsigned w = (p->id + q) % dp->n_workers;
			if (p->type == RIOV_DP_PORT_VHOST)
				w = p->qp[q].owner;
			struct dp_poll_table *t = nt[w];
			t->polls[t->n++] = (struct dp_poll){
				.kind = p->type == RIOV_DP_PORT_VHOST ? DP_POLL_VHOST :
					p->type == RIOV_DP_PORT_UPLINK ? DP_POLL_UPLINK : DP_POLL_ETH,
				.port = p->id,
				.queue = q,
			};
		}
		/* an uplink's exception TAP: one queue, what the kernel sends out of the uplink */
		if (p->type == RIOV_DP_PORT_UPLINK) {
			struct dp_poll_table *t = nt[(p->id + p->queues) % dp->n_workers];
			t->polls[t->n++] = (struct dp_poll){ .kind = DP_POLL_TAP, .port = p->id, .queue = 0 };
		}
	}
	struct dp_poll_table *old[RIOV_DP_MAX_WORKERS];
	for (unsigned w = 0; w < dp->n_workers; w++)
		old[w] = atomic_exchange(&dp->workers[w].table, nt[w]);
	dp_sync(dp);
	for (unsigned w = 0; w < dp->n_workers; w++)
		free(old[w]);
	return 0;
}

/* The network's flood lists: every port, and the ports that are not remote VTEPs (a frame from the
 * overlay floods only to those: split horizon). */
int dp_publish_flood(struct riov_dp *dp, struct dp_net *net)
{
	struct dp_flood *fl = calloc(1, sizeof(*fl) + (net->nports + 1) * sizeof(uint16_t));
	struct dp_flood *lo = calloc(1, sizeof(*lo) + (net->nports + 1) * sizeof(uint16_t));

	if (fl == NULL || lo == NULL) {
		free(fl);
		free(lo);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p == NULL || p->net != net || atomic_load(&p->deleting) || fl->n == net->nports)
			continue;
		fl->ports[fl->n++] = p->id;
		if (p->type != RIOV_DP_PORT_VTEP)
			lo->ports[lo->n++] = p->id;
	}
	struct dp_flood *old = atomic_exchange(&net->flood, fl);
	struct dp_flood *old_lo = atomic_exchange(&net->flood_local, lo);
	dp_sync(dp);
	free(old);
	free(old_lo);
	return 0;
}

/* ---- lifecycle ---- */

int riov_dp_create(const struct riov_dp_params *prm, struct riov_dp **out)
{
	struct riov_dp *dp;
	unsigned lcore;
	int rc;

	if (prm->n_workers == 0 || prm->n_workers > RIOV_DP_MAX_WORKERS)
		return -EINVAL;
	if (rte_lcore_count() < prm->n_workers + 1) {
		RIOV_LOG(RIOV_LOG_ERR, "%u workers need %u EAL lcores, have %u", prm->n_workers,
			 prm->n_workers + 1, rte_lcore_count());
		return -EINVAL;
	}
	dp = rte_zmalloc("riov_dp", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	if (dp == NULL)
		return -ENOMEM;
	dp->n_workers = prm->n_workers;
	dp->idle_sleep_us = prm->idle_sleep_us;
	if (prm->ring_record_dir != NULL &&
	    (size_t)snprintf(dp->ring_record_dir, sizeof(dp->ring_record_dir), "%s", prm->ring_record_dir) >=
		    sizeof(dp->ring_record_dir)) {
		RIOV_LOG(RIOV_LOG_WARN, "ring record directory %s: name too long, not used",
			 prm->ring_record_dir);
		dp->ring_record_dir[0] = '\0';
	}
	const unsigned nb_mbufs = prm->nb_mbufs ? prm->nb_mbufs : 16383;
	/* what guests slow to give RX buffers back may pin of the pool, together (virtq.h) */
	dp->held_budget.cap = (int32_t)nb_mbufs / 4;
	dp->base = prm->base;

	dp->mp = rte_pktmbuf_pool_create("riov_mbufs", nb_mbufs, 256, 0,
					 RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (dp->mp == NULL) {
		rc = -rte_errno;
		RIOV_LOG(RIOV_LOG_ERR, "mbuf pool: %s", rte_strerror(rte_errno));
		goto fail;
	}
	dp->mp_indirect = rte_pktmbuf_pool_create("riov_indirect", 8191, 256, 0, 0, (int)rte_socket_id());
	if (dp->mp_indirect == NULL) {
		rc = -rte_errno;
		RIOV_LOG(RIOV_LOG_ERR, "indirect mbuf pool: %s", rte_strerror(rte_errno));
		goto fail;
	}
	size_t qsz = rte_rcu_qsbr_get_memsize(dp->n_workers);
	dp->qs = rte_zmalloc("riov_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	if (dp->qs == NULL || rte_rcu_qsbr_init(dp->qs, dp->n_workers) != 0) {
		rc = -ENOMEM;
		goto fail;
	}
	struct riov_vtd_config vc = {
		.aw_bits = 48,
		.fault_log_size = 256,
		.irte_count = 65536,
		.caching_mode = true,
		.synchronize = vtd_sync,
		.sync_arg = dp,
	};
	dp->vtd = riov_vtd_create(&vc);
	if (dp->vtd == NULL) {
		rc = -errno;
		goto fail;
	}

	unsigned w = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (w == dp->n_workers)
			break;
		dp->workers[w].dp = dp;
		dp->workers[w].idx = w;
		dp->workers[w].lcore = lcore;
		dp->workers[w].ns_mult = riov_loop_hist_mult(rte_get_tsc_hz());
		w++;
	}
	for (w = 0; w < dp->n_workers; w++) {
		rc = rte_eal_remote_launch(dp_worker_main, &dp->workers[w], dp->workers[w].lcore);
		if (rc != 0) {
			RIOV_LOG(RIOV_LOG_ERR, "cannot launch worker on lcore %u", dp->workers[w].lcore);
			atomic_store(&dp->stop, true);
			rte_eal_mp_wait_lcore();
			goto fail;
		}
	}
	RIOV_LOG(RIOV_LOG_INFO, "%u worker(s) started", dp->n_workers);
	*out = dp;
	return 0;
fail:
	riov_vtd_destroy(dp->vtd);
	dp_rdma_free(dp);
	rte_free(dp->qs);
	rte_mempool_free(dp->mp_indirect);
	rte_mempool_free(dp->mp);
	rte_free(dp);
	return rc;
}

struct dp_port *dp_port_find(struct riov_dp *dp, const char *name)
{
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p != NULL && strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

struct dp_net *dp_net_find(struct riov_dp *dp, const char *name)
{
	for (unsigned i = 0; i < RIOV_DP_MAX_NETS; i++)
		if (dp->nets[i] != NULL && strcmp(dp->nets[i]->name, name) == 0)
			return dp->nets[i];
	return NULL;
}

void riov_dp_destroy(struct riov_dp *dp)
{
	if (dp == NULL)
		return;
	while (dp->n_port_order > 0) {
		struct dp_port *p = dp->ports[dp->port_order[dp->n_port_order - 1]];
		if (p == NULL || riov_dp_port_del(dp, p->name) != 0)
			dp->n_port_order--;
	}
	for (unsigned i = 0; i < RIOV_DP_MAX_NETS; i++)
		if (dp->nets[i] != NULL)
			riov_dp_net_del(dp, dp->nets[i]->name);
	atomic_store(&dp->stop, true);
	rte_eal_mp_wait_lcore();
	for (unsigned w = 0; w < dp->n_workers; w++)
		free(dp->workers[w].table);
	riov_vtd_destroy(dp->vtd);
	rte_free(dp->qs);
	rte_mempool_free(dp->mp_indirect);
	rte_mempool_free(dp->mp);
	rte_mempool_free(dp->mp_jumbo);
	rte_free(dp);
}

/* ---- networks ---- */

static bool name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n >= RIOV_DP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

int riov_dp_net_add(struct riov_dp *dp, const char *name)
{
	if (!name_ok(name))
		return -EINVAL;
	if (dp_net_find(dp, name) != NULL)
		return -EEXIST;
	for (unsigned i = 0; i < RIOV_DP_MAX_NETS; i++) {
		if (dp->nets[i] != NULL)
			continue;
		struct dp_net *net = rte_zmalloc("riov_net", sizeof(*net), RTE_CACHE_LINE_SIZE);
		if (net == NULL)
			return -ENOMEM;
		snprintf(net->name, sizeof(net->name), "%s", name);
		net->id = (uint16_t)i;
		dp->nets[i] = net;
		RIOV_LOG(RIOV_LOG_INFO, "network %s added", name);
		return 0;
	}
	return -ENOSPC;
}

int riov_dp_net_del(struct riov_dp *dp, const char *name)
{
	struct dp_net *net = dp_net_find(dp, name);

	if (net == NULL)
		return -ENOENT;
	if (net->nports != 0)
		return -EBUSY;
	dp_fabric_net_del(dp, net);
	dp->nets[net->id] = NULL;
	dp_sync(dp);
	free(atomic_load(&net->flood));
	free(atomic_load(&net->flood_local));
	free(atomic_load(&net->vteps));
	rte_free(net);
	return 0;
}

/* ---- vhost ports: vmm hands vrings over here ---- */

static void vh_vring_start(void *ctx, struct riov_vhost_dev *dev, const struct riov_vhost_vring_info *vi)
{
	struct dp_port *p = ctx;
	uint16_t q = vi->qid / 2;

	if (q >= p->queues) {
		RIOV_LOG_PORT(RIOV_LOG_WARN, p->name, "vring %u beyond %u queue pairs, not served",
			      vi->qid, p->queues);
		return;
	}
	struct dp_vq_pair *qp = &p->qp[q];
	bool tx = vi->qid & 1;
	_Atomic bool *running = tx ? &qp->tx_running : &qp->rx_running;
	struct riov_virtq *vq = tx ? &qp->txq : &qp->rxq;

	if (atomic_load(running)) {
		atomic_store(running, false);
		dp_sync(p->dp);
	}
	riov_virtq_release(vq);
	/* keep what the previous life of this vring counted (no worker touches it now) */
	struct riov_virtq_stats *past = &qp->past[tx];
	past->packets += vq->stats.packets;
	past->bytes += vq->stats.bytes;
	for (unsigned d = 0; d < RIOV_VQ_DROP__MAX; d++)
		past->drops[d] += vq->stats.drops[d];
	past->notifications += vq->stats.notifications;
	past->broken += vq->stats.broken;
	past->iotlb_waits += vq->stats.iotlb_waits;
	past->log_writes += vq->stats.log_writes;
	qp->past_hits[tx] += vq->tc.hits;
	qp->past_misses[tx] += vq->tc.misses;
	qp->past_faults[tx] += vq->tc.faults;
	memset(&vq->stats, 0, sizeof(vq->stats));
	vq->tc.hits = vq->tc.misses = vq->tc.faults = 0;
	if (riov_virtq_init(vq, vi) != 0) {
		RIOV_LOG_PORT(RIOV_LOG_WARN, p->name, "vring %u refused by the virtqueue code",
			      vi->qid);
		return;
	}
	vq->mtu = p->mtu;
	if (!tx) {
		vq->held_budget = &p->dp->held_budget;
		atomic_store(&p->ol_accepts, vq->ol_accepts);
	}
	/* live migration: the used ring's own writes are logged too (VHOST_VRING_F_LOG) */
	if (vi->log_base != NULL && vi->log_guest_addr != 0)
		riov_virtq_set_used_log(vq, vi->log_guest_addr);
	atomic_store_explicit(running, true, memory_order_release);
	RIOV_LOG_PORT(RIOV_LOG_INFO, p->name, "vring %u running (size %u, worker %u)", vi->qid,
		      vi->size, qp->owner);
}

static void vh_vring_stop(void *ctx, struct riov_vhost_dev *dev, uint16_t qid, uint16_t *last_avail,
			  uint16_t *last_used)
{
	struct dp_port *p = ctx;
	uint16_t q = qid / 2;

	*last_avail = 0;
	*last_used = 0;
	if (q >= p->queues)
		return;
	struct dp_vq_pair *qp = &p->qp[q];
	bool tx = qid & 1;
	_Atomic bool *running = tx ? &qp->tx_running : &qp->rx_running;
	struct riov_virtq *vq = tx ? &qp->txq : &qp->rxq;

	if (atomic_exchange(running, false))
		dp_sync(p->dp); /* no worker touches the vring past this point */
	riov_virtq_release(vq);
	*last_avail = vq->last_avail_idx;
	*last_used = vq->last_used_idx;
	/* a pause (hold): what other workers handed over stays for the restarted vring */
	if (!tx && qp->ring != NULL && !atomic_load(&p->holding)) {
		struct rte_mbuf *m;
		while (rte_ring_dequeue(qp->ring, (void **)&m) == 0)
			rte_pktmbuf_free(m);
	}
}

static void vh_hold(void *ctx, struct riov_vhost_dev *dev, bool on)
{
	struct dp_port *p = ctx;
	/* workers read it before giving up on a packet for a guest with no running RX vring; the
	 * vring_stop()s that follow wait for them, so no packet misses the flag */
	atomic_store(&p->holding, on);
}

static void vh_link_change(void *ctx, struct riov_vhost_dev *dev, bool up)
{
	struct dp_port *p = ctx;
	atomic_store(&p->link_up, up);
	RIOV_LOG_PORT(RIOV_LOG_INFO, p->name, "guest %s", up ? "connected" : "disconnected");
}

static void vh_announce(void *ctx, struct riov_vhost_dev *dev, const uint8_t mac[6])
{
	struct dp_port *p = ctx;
	uint64_t a = DP_ANNOUNCE;

	for (unsigned i = 0; i < 6; i++)
		a |= (uint64_t)mac[i] << (40 - 8 * i);
	/* the worker that polls queue pair 0 sends it (a later announcement replaces an unsent one) */
	atomic_store_explicit(&p->announce, a, memory_order_release);
}

static const struct riov_vhost_ops vh_ops = {
	.vring_start = vh_vring_start,
	.vring_stop = vh_vring_stop,
	.link_change = vh_link_change,
	.hold = vh_hold,
	.announce = vh_announce,
};

/* The ring record file of vhost port `name` (riov_dp_params.ring_record_dir), in buf; NULL when
 * there is no directory or the name cannot be a file's. */
static const char *dp_ring_record(const struct riov_dp *dp, const char *name, char *buf, size_t len)
{
	if (dp->ring_record_dir[0] == '\0' || name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL)
		return NULL;
	if ((size_t)snprintf(buf, len, "%s/%s", dp->ring_record_dir, name) >= len)
		return NULL;
	return buf;
}

static int vhost_port_init(struct riov_dp *dp, struct dp_port *p, const struct riov_dp_port_params *prm,
			   char *err, size_t errlen)
{
	if (prm->socket == NULL || prm->socket[0] == '\0') {
		snprintf(err, errlen, "vhost port %s needs a socket path", prm->name);
		return -EINVAL;
	}
	if (p->queues > RIOV_VHOST_MAX_QUEUE_PAIRS) {
		snprintf(err, errlen, "vhost port %s: at most %d queue pairs", prm->name,
			 RIOV_VHOST_MAX_QUEUE_PAIRS);
		return -EINVAL;
	}
	p->qp = rte_zmalloc("riov_qp", sizeof(*p->qp) * p->queues, RTE_CACHE_LINE_SIZE);
	if (p->qp == NULL)
		return -ENOMEM;
	char hn[RTE_RING_NAMESIZE];
	snprintf(hn, sizeof(hn), "rh%u", p->id);
	p->hold = rte_ring_create(hn, RIOV_DP_HOLD_SIZE, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (p->hold == NULL)
		return -ENOMEM;
	for (uint16_t q = 0; q < p->queues; q++) {
		p->qp[q].owner = (p->id + q) % dp->n_workers;
		if (dp->n_workers > 1) {
			char rn[RTE_RING_NAMESIZE];
			snprintf(rn, sizeof(rn), "rq%u_%u", p->id, q);
			p->qp[q].ring = rte_ring_create(rn, 1024, (int)rte_socket_id(), RING_F_SC_DEQ);
			if (p->qp[q].ring == NULL)
				return -ENOMEM;
		}
	}
	char rec[PATH_MAX];
	struct riov_vhost_dev_params vp = {
		.name = p->name,
		.ring_record = dp_ring_record(dp, p->name, rec, sizeof(rec)),
		.path = prm->socket,
		.mode = prm->client ? RIOV_VHOST_CLIENT : RIOV_VHOST_SERVER,
		.max_queue_pairs = p->queues,
		.features_off = prm->features_off,
		.mtu = p->mtu,
		.packed = true,     /* packed virtqueues: dataplane/virtq_packed.c */
		.base = dp->base,
		.vtd = dp->vtd,
		.sid = DP_SID(p->id),
		.did = DP_DID(p->id),
		.s1_did = DP_S1_DID(p->id),
		.irte_base = DP_IRTE_BASE(p->id),
		.ops = &vh_ops,
		.ops_ctx = p,
	};
	int rc = riov_vhost_dev_create(&vp, &p->vdev);
	if (rc != 0)
		snprintf(err, errlen, "vhost port %s: cannot serve socket %s: %s", prm->name, prm->socket,
			 strerror(-rc));
	return rc;
}

#define DP_JUMBO_MBUFS 4095
#define DP_JUMBO_ROOM (RTE_PKTMBUF_HEADROOM + RIOV_DP_MTU_MAX + RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN + \
		       RTE_ETHER_CRC_LEN)

/* The pool an eth device that cannot scatter receives jumbo frames into. Its mbufs travel like any
 * other (into guests' rings, out of other ports) and go back to it, so it lives as long as the
 * dataplane. Such devices are vdevs (af_packet, af_xdp), never functions assigned through riov's
 * VT-d model, whose domains hold only the memory there was when they were made. */
static struct rte_mempool *dp_jumbo_pool(struct riov_dp *dp)
{
	if (dp->mp_jumbo == NULL)
		dp->mp_jumbo = rte_pktmbuf_pool_create("riov_jumbo", DP_JUMBO_MBUFS, 256, 0, DP_JUMBO_ROOM,
						       (int)rte_socket_id());
	return dp->mp_jumbo;
}

/* Set conf and *pool up for frames of the port's MTU: the device's own MTU, scatter RX where a
 * frame is larger than riovd's mbufs and the device can scatter, else the jumbo pool; multi-segment
 * TX (frames from guests arrive in chains of mbufs) where it is needed. */
static int eth_mtu_setup(struct riov_dp *dp, struct dp_port *p, uint16_t mtu, const char *devname,
			 const struct rte_eth_dev_info *info, struct rte_eth_conf *conf, struct rte_mempool **pool,
			 char *err, size_t errlen)
{
	const uint32_t frame = (uint32_t)mtu + RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN + RTE_ETHER_CRC_LEN;
	const uint32_t room = rte_pktmbuf_data_room_size(dp->mp) - RTE_PKTMBUF_HEADROOM;

	*pool = dp->mp;
	const uint32_t overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
	const uint32_t max = RTE_MIN((uint32_t)info->max_mtu, info->max_rx_pktlen - overhead);
	if (mtu > max || mtu < info->min_mtu) {
		snprintf(err, errlen, "port %s: %s takes an MTU of %u-%u, not %u", p->name, devname,
			 info->min_mtu, max, mtu);
		return -EINVAL;
	}
	conf->rxmode.mtu = mtu;
	if (frame <= room)
		return 0;
	if (!(info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)) {
		snprintf(err, errlen, "port %s: %s cannot send frames in several buffers, which an MTU "
			 "of %u needs", p->name, devname, mtu);
		return -EINVAL;
	}
	conf->txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if (info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) {
		conf->rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
		return 0;
	}
	*pool = dp_jumbo_pool(dp);
	if (*pool == NULL) {
		snprintf(err, errlen, "port %s: no memory for the jumbo frame pool (%u buffers of %u "
			 "bytes): %s", p->name, DP_JUMBO_MBUFS, DP_JUMBO_ROOM, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	return 0;
}

/* The TX offloads of the device riov uses (issue 22): frames with a partial checksum (TCP and UDP
 * checksums both offered) or TSO (also multi-buffer frames) go to it whole, the device does the
 * work riov would do in software (egress() asks riov_ol_plan() with the port's ol_accepts; the
 * device's IPv4 header checksum offload is enabled where it has one, a device that segments
 * computes its segments' IPv4 checksums itself). TSO for TCP/IPv4 only: DPDK's capability flags
 * do not say whether a device segments TCP/IPv6, so IPv6 TSO frames are cut by riov. Not for
 * net_tap: both its offloads are DPDK's software in the PMD (nothing gained), and in DPDK 22.11 its
 * TSO refuses every segment whose frame, Ethernet header included, exceeds the MTU. */
static void eth_tx_offloads(_Atomic uint8_t *accepts, const struct rte_eth_dev_info *info,
			    struct rte_eth_conf *conf, bool allowed)
{
	const uint64_t capa = info->tx_offload_capa;
	const uint64_t csum = RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	const uint64_t tso = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	unsigned ol = 0;

	if (info->driver_name != NULL && strcmp(info->driver_name, "net_tap") == 0)
		allowed = false;
	if (allowed && (capa & csum) == csum) {
		ol |= RIOV_OL_CSUM;
		conf->txmode.offloads |= csum;
		if ((capa & tso) == tso) {
			ol |= RIOV_OL_TSO4;
			conf->txmode.offloads |= tso | (capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM);
		}
	}
	atomic_store(accepts, (uint8_t)ol);
}

int dp_eth_port_init(struct riov_dp *dp, struct dp_port *p, const struct riov_dp_port_params *prm,
		     char *err, size_t errlen)
{
	int rc;

	if (prm->devargs == NULL || prm->devargs[0] == '\0') {
		snprintf(err, errlen, "eth port %s needs devargs (a PCI address or a vdev such as "
			 "net_af_packet0,iface=eth0)", prm->name);
		return -EINVAL;
	}
	size_t n = strcspn(prm->devargs, ",");
	if (n == 0 || n >= sizeof(p->devname)) {
		snprintf(err, errlen, "eth port %s: bad devargs '%s'", prm->name, prm->devargs);
		return -EINVAL;
	}
	memcpy(p->devname, prm->devargs, n);
	p->devname[n] = '\0';
	uint16_t pid = RTE_MAX_ETHPORTS;
	bool probed = rte_eth_dev_get_port_by_name(p->devname, &pid) == 0;
	for (unsigned i = 0; probed && i < RIOV_DP_MAX_PORTS; i++) {
		struct dp_port *o = atomic_load(&dp->ports[i]);
		if (o != NULL && o != p && (o->type == RIOV_DP_PORT_ETH || o->type == RIOV_DP_PORT_UPLINK) &&
		    strcmp(o->devname, p->devname) == 0) {
			snprintf(err, errlen, "eth port %s: device %s is already port %s", prm->name,
				 p->devname, o->name);
			p->devname[0] = '\0';
			return -EBUSY;
		}
	}
	/* a device EAL probed at start (eal_args -a ADDR) is taken as it is; its devargs were EAL's */
	rc = probed ? 0 : rte_dev_probe(prm->devargs);
	if (rc != 0) {
		snprintf(err, errlen, "eth port %s: cannot probe '%s': %s", prm->name, prm->devargs,
			 strerror(-rc));
		p->devname[0] = '\0';
		return rc;
	}
	if (rte_eth_dev_get_port_by_name(p->devname, &pid) != 0) {
		snprintf(err, errlen, "eth port %s: '%s' is not an ethernet device", prm->name, p->devname);
		rte_eal_hotplug_remove("vdev", p->devname);
		p->devname[0] = '\0';
		return -ENODEV;
	}
	p->eth_id = pid;
	rc = dp_eth_dev_start(dp, p, pid, p->devname, p->queues, 0, &p->ol_accepts,
			      !(prm->features_off & RIOV_VIRTIO_NET_OFFLOADS), err, errlen);
	if (rc != 0) {
		p->devname[0] = '\0';
		return rc;
	}
	atomic_store(&p->link_up, true);
	return 0;
}

int dp_eth_dev_start(struct riov_dp *dp, struct dp_port *p, uint16_t pid, const char *devname, uint16_t rxq,
		     uint16_t mtu, _Atomic uint8_t *ol, bool offloads, char *err, size_t errlen)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	_Atomic uint8_t none;
	int rc;

	rc = rte_eth_dev_info_get(pid, &info);
	if (rc != 0)
		goto fail;
	if (rxq > info.max_rx_queues || dp->n_workers > info.max_tx_queues) {
		snprintf(err, errlen, "port %s: device %s has %u rx / %u tx queues, need %u / %u", p->name,
			 devname, info.max_rx_queues, info.max_tx_queues, rxq, dp->n_workers);
		rc = -EINVAL;
		goto fail;
	}
	struct rte_mempool *pool;
	if (mtu == 0)
		mtu = p->mtu;
	rc = eth_mtu_setup(dp, p, mtu, devname, &info, &conf, &pool, err, errlen);
	if (rc != 0)
		goto fail;
	eth_tx_offloads(ol != NULL ? ol : &none, &info, &conf, offloads && ol != NULL);
	rc = rte_eth_dev_configure(pid, rxq, (uint16_t)dp->n_workers, &conf);
	if (rc != 0) {
		snprintf(err, errlen, "port %s: cannot configure %s (MTU %u): %s", p->name, devname, mtu,
			 strerror(-rc));
		goto fail;
	}
	for (uint16_t q = 0; q < rxq && rc == 0; q++)
		rc = rte_eth_rx_queue_setup(pid, q, 1024, rte_eth_dev_socket_id(pid), NULL, pool);
	for (uint16_t q = 0; q < dp->n_workers && rc == 0; q++)
		rc = rte_eth_tx_queue_setup(pid, q, 1024, rte_eth_dev_socket_id(pid), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(pid);
	if (rc != 0) {
		snprintf(err, errlen, "port %s: cannot start %s: %s", p->name, devname, strerror(-rc));
		goto fail;
	}
	rte_eth_promiscuous_enable(pid);
	return 0;
fail:
	if (err[0] == '\0')
		snprintf(err, errlen, "port %s: %s: %s", p->name, devname, strerror(-rc));
	if (rte_eth_dev_info_get(pid, &info) == 0 && info.device != NULL)
		rte_dev_remove(info.device);
	else
		rte_eal_hotplug_remove("vdev", devname);
	return rc;
}

void dp_eth_dev_remove(uint16_t pid)
{
	struct rte_eth_dev_info info;
	struct rte_device *dev = NULL;

	if (rte_eth_dev_info_get(pid, &info) == 0)
		dev = info.device;
	rte_eth_dev_stop(pid);
	rte_eth_dev_close(pid);
	if (dev != NULL)
		rte_dev_remove(dev);
}

static void port_free(struct riov_dp *dp, struct dp_port *p)
{
	if (p->type == RIOV_DP_PORT_VHOST) {
		riov_vhost_dev_destroy(p->vdev);
		for (uint16_t q = 0; p->qp != NULL && q < p->queues; q++) {
			if (p->qp[q].ring != NULL) {
				struct rte_mbuf *m;
				while (rte_ring_dequeue(p->qp[q].ring, (void **)&m) == 0)
					rte_pktmbuf_free(m);
				rte_ring_free(p->qp[q].ring);
			}
		}
		rte_free(p->qp);
		if (p->hold != NULL) {
			struct rte_mbuf *m;
			while (rte_ring_dequeue(p->hold, (void **)&m) == 0)
				rte_pktmbuf_free(m);
			rte_ring_free(p->hold);
		}
	} else if (p->devname[0] != '\0') {
		dp_eth_dev_remove(p->eth_id);
	}
	dp_fabric_port_free(dp, p);
	rte_free(p);
}

static const char *type_name(enum riov_dp_port_type t)
{
	switch (t) {
	case RIOV_DP_PORT_VHOST: return "vhost";
	case RIOV_DP_PORT_ETH: return "eth";
	case RIOV_DP_PORT_UPLINK: return "uplink";
	case RIOV_DP_PORT_VTEP: return "vtep";
	}
	return "?";
}

/* Make port prm (checked by the caller) in net (NULL: an uplink) and show it to the workers. */
int dp_port_add(struct riov_dp *dp, const struct riov_dp_port_params *prm, struct dp_net *net, char *err,
		size_t errlen)
{
	struct dp_port *p;
	int rc;

	unsigned id;
	for (id = 0; id < RIOV_DP_MAX_PORTS; id++)
		if (dp->ports[id] == NULL)
			break;
	if (id == RIOV_DP_MAX_PORTS || dp->n_port_order == RIOV_DP_MAX_PORTS) {
		snprintf(err, errlen, "too many ports (at most %d)", RIOV_DP_MAX_PORTS);
		return -ENOSPC;
	}
	p = rte_zmalloc("riov_port", sizeof(*p), RTE_CACHE_LINE_SIZE);
	if (p == NULL)
		return -ENOMEM;
	snprintf(p->name, sizeof(p->name), "%s", prm->name);
	p->id = (uint16_t)id;
	p->type = prm->type;
	p->net = net;
	p->dp = dp;
	p->queues = prm->type == RIOV_DP_PORT_VTEP ? 0 : prm->queues ? prm->queues : 1;
	p->mtu = prm->mtu ? prm->mtu : RIOV_DP_MTU_DEFAULT;
	if (p->mtu < RIOV_DP_MTU_MIN || p->mtu > RIOV_DP_MTU_MAX) {
		snprintf(err, errlen, "port %s: MTU %u is outside %d-%d", prm->name, p->mtu, RIOV_DP_MTU_MIN,
			 RIOV_DP_MTU_MAX);
		rte_free(p);
		return -EINVAL;
	}
	p->max_frame = (uint32_t)p->mtu + RTE_ETHER_HDR_LEN;
	/* "offloads" off for an eth port: no receive coalescing either */
	p->gro = prm->type == RIOV_DP_PORT_ETH && !(prm->features_off & RIOV_VIRTIO_NET_OFFLOADS);

	/* The port is visible to workers only once fully set up (poll table + flood list below). */
	switch (prm->type) {
	case RIOV_DP_PORT_VHOST: rc = vhost_port_init(dp, p, prm, err, errlen); break;
	case RIOV_DP_PORT_ETH: rc = dp_eth_port_init(dp, p, prm, err, errlen); break;
	case RIOV_DP_PORT_UPLINK: rc = dp_uplink_init(dp, p, prm, err, errlen); break;
	case RIOV_DP_PORT_VTEP: p->remote_ip = prm->address; rc = 0; break;
	default: rc = -EINVAL; break;
	}
	if (rc != 0) {
		port_free(dp, p);
		return rc;
	}
	atomic_store_explicit(&dp->ports[id], p, memory_order_release);
	dp->port_order[dp->n_port_order++] = id;
	if (net != NULL) {
		net->nports++;
		net->nvteps += p->type == RIOV_DP_PORT_VTEP;
		rc = dp_publish_flood(dp, net);
	}
	if (rc == 0)
		rc = dp_publish_poll_tables(dp);
	if (rc != 0) {
		snprintf(err, errlen, "port %s: out of memory", prm->name);
		riov_dp_port_del(dp, prm->name);
		return rc;
	}
	RIOV_LOG(RIOV_LOG_INFO, "port %s (%s) added%s%s", p->name, type_name(p->type),
		 net ? " to network " : "", net ? net->name : "");
	return 0;
}

int riov_dp_port_add(struct riov_dp *dp, const struct riov_dp_port_params *prm, char *err, size_t errlen)
{
	char dummy[8];
	struct dp_net *net = NULL;

	if (err == NULL) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!name_ok(prm->name)) {
		snprintf(err, errlen, "bad port name '%s': use 1-63 letters, digits, '-', '_' or '.'",
			 prm->name ? prm->name : "");
		return -EINVAL;
	}
	if (dp_port_find(dp, prm->name) != NULL) {
		snprintf(err, errlen, "port %s already exists", prm->name);
		return -EEXIST;
	}
	if (prm->type == RIOV_DP_PORT_UPLINK) {
		if (prm->net != NULL && prm->net[0] != '\0') {
			snprintf(err, errlen, "uplink %s: an uplink is in no network (leave the network out)",
				 prm->name);
			return -EINVAL;
		}
		if (strlen(prm->name) > RIOV_DP_UPLINK_NAME_MAX) {
			snprintf(err, errlen, "uplink %s: name longer than %d characters (its kernel interface "
				 "has the same name)", prm->name, RIOV_DP_UPLINK_NAME_MAX);
			return -EINVAL;
		}
		return dp_port_add(dp, prm, NULL, err, errlen);
	}
	net = prm->net ? dp_net_find(dp, prm->net) : NULL;
	if (net == NULL) {
		snprintf(err, errlen, "network %s does not exist", prm->net ? prm->net : "(none)");
		return -ENOENT;
	}
	if (prm->type != RIOV_DP_PORT_VHOST && prm->type != RIOV_DP_PORT_ETH) {
		snprintf(err, errlen, "port %s: unknown type (VTEP ports are made by adding a remote VTEP)",
			 prm->name);
		return -EINVAL;
	}
	return dp_port_add(dp, prm, net, err, errlen);
}

int riov_dp_port_del(struct riov_dp *dp, const char *name)
{
	struct dp_port *p = dp_port_find(dp, name);

	if (p == NULL)
		return -ENOENT;
	/* 1. hide the port from workers (polling, flooding, lookups) and wait */
	atomic_store(&p->deleting, true);
	dp_fabric_port_del(dp, p);
	dp_publish_poll_tables(dp);
	if (p->net != NULL)
		dp_publish_flood(dp, p->net);
	/* 2. vhost: disconnect the guest (vring_stop waits for workers) and unmap its memory */
	/* 3. forget its MACs; no worker can learn them again now */
	if (p->net != NULL) {
		dp_mac_purge_port(p->net, p->id);
		p->net->nports--;
		p->net->nvteps -= p->type == RIOV_DP_PORT_VTEP;
	}
	atomic_store(&dp->ports[p->id], NULL);
	dp_sync(dp);
	if (p->type == RIOV_DP_PORT_VTEP)
		dp_fabric_vtep_gone(dp, p); /* its counters, final now, stay in its network's totals */
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		if (dp->port_order[i] == p->id) {
			memmove(&dp->port_order[i], &dp->port_order[i + 1],
				(dp->n_port_order - i - 1) * sizeof(dp->port_order[0]));
			dp->n_port_order--;
			break;
		}
	}
	RIOV_LOG(RIOV_LOG_INFO, "port %s deleted", p->name);
	char rec[PATH_MAX];
	const char *rec_path = p->type == RIOV_DP_PORT_VHOST ? dp_ring_record(dp, p->name, rec, sizeof(rec)) : NULL;
	port_free(dp, p);
	if (rec_path != NULL)
		(void)unlink(rec_path);   /* a port deleted: nothing of its rings goes on */
	return 0;
}

/* ---- counters ---- */

int riov_dp_port_stats(struct riov_dp *dp, const char *name, struct riov_dp_port_stats *st)
{
	struct dp_port *p = dp_port_find(dp, name);

	if (p == NULL)
		return -ENOENT;
	dp_port_stats(dp, p, st);
	return 0;
}

int riov_dp_port_queue_stats(struct riov_dp *dp, const char *name, struct riov_dp_queue_stats *qs,
			     unsigned n)
{
	struct dp_port *p = dp_port_find(dp, name);
	unsigned k;

	if (p == NULL)
		return -ENOENT;
	if (p->type != RIOV_DP_PORT_VHOST)
		return 0;
	for (k = 0; k < p->queues && k < n; k++)
		dp_queue_stats(&p->qp[k], (uint16_t)k, &qs[k]);
	return (int)k;
}

void riov_dp_port_foreach(struct riov_dp *dp, void (*fn)(void *arg, const struct riov_dp_port_stats *st),
			  void *arg)
{
	struct riov_dp_port_stats st;

	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p == NULL)
			continue;
		dp_port_stats(dp, p, &st);
		fn(arg, &st);
	}
}

unsigned riov_dp_worker_stats(struct riov_dp *dp, struct riov_dp_worker_stats *out, unsigned n)
{
	unsigned k;

	for (k = 0; k < dp->n_workers && k < n; k++) {
		const struct dp_worker *wk = &dp->workers[k];
		out[k].lcore = wk->lcore;
		out[k].loops = wk->loops;
		out[k].busy_loops = wk->busy_loops;
		out[k].busy_cycles = wk->busy_cycles;
		out[k].idle_cycles = wk->idle_cycles;
		out[k].packets = wk->packets;
		out[k].latency = wk->latency;
	}
	return k;
}

uint64_t riov_dp_tsc_hz(const struct riov_dp *dp)
{
	(void)dp;
	return rte_get_tsc_hz();
}

/* ---- read-only queries ---- */

int riov_dp_port_info(struct riov_dp *dp, const char *name, struct riov_dp_port_info *out)
{
	struct dp_port *p = dp_port_find(dp, name);

	if (p == NULL)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->id = p->id;
	out->type = p->type;
	snprintf(out->net, sizeof(out->net), "%s", p->net ? p->net->name : "");
	out->queues = p->queues;
	out->link_up = atomic_load(&p->link_up);
	if (p->type != RIOV_DP_PORT_VHOST)
		return 0;
	out->sid = DP_SID(p->id);
	out->did = DP_DID(p->id);
	struct riov_vhost_dev_stats vs;
	riov_vhost_dev_stats(p->vdev, &vs);
	out->features = vs.connected ? vs.features : 0;
	out->queue_pairs = vs.connected ? vs.queue_pairs : 0;
	for (uint16_t q = 0; q < p->queues; q++)
		out->broken |= p->qp[q].rxq.broken || p->qp[q].txq.broken;
	return 0;
}

int riov_dp_net_info(struct riov_dp *dp, const char *name, struct riov_dp_net_info *out)
{
	struct dp_net *net = dp_net_find(dp, name);

	if (net == NULL)
		return -ENOENT;
	out->ports = net->nports - net->nvteps;
	out->macs = 0; /* purged entries are tombstones with port 0 */
	for (unsigned i = 0; i < DP_MAC_SLOTS; i++)
		out->macs += (atomic_load_explicit(&net->macs[i], memory_order_relaxed) & DP_MAC_PORT) != 0;
	return 0;
}

/* ---- the MAC table's control side (switch.c does the table) ---- */

int riov_dp_mac_add(struct riov_dp *dp, const char *name, const uint8_t mac[6], const char *port)
{
	struct dp_net *net = dp_net_find(dp, name);
	struct dp_port *p = net != NULL ? dp_port_find(dp, port) : NULL;
	int rc;

	if (p == NULL || p->net != net || atomic_load(&p->deleting))
		return -ENOENT;
	rc = dp_mac_set_static(net, mac, p->id, p->type == RIOV_DP_PORT_VHOST);
	if (rc == 0)
		RIOV_LOG(RIOV_LOG_INFO, "network %s: static MAC " RTE_ETHER_ADDR_PRT_FMT " on port %s", name,
			 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], port);
	return rc;
}

int riov_dp_mac_del(struct riov_dp *dp, const char *name, const uint8_t mac[6])
{
	struct dp_net *net = dp_net_find(dp, name);

	return net != NULL ? dp_mac_remove(net, mac) : -ENOENT;
}

struct mac_walk {
	struct riov_dp *dp;
	void (*fn)(void *arg, const struct riov_dp_mac_info *mi);
	void *arg;
};

static void mac_walk_one(void *arg, const uint8_t mac[6], uint64_t e)
{
	const struct mac_walk *w = arg;
	const unsigned id = (unsigned)(e & DP_MAC_PORT) - 1;
	const struct dp_port *p = id < RIOV_DP_MAX_PORTS ? atomic_load(&w->dp->ports[id]) : NULL;
	struct riov_dp_mac_info mi = {
		.is_static = (e & DP_MAC_STATIC) != 0,
		.local = (e & DP_MAC_LOCAL) != 0,
		.age = (unsigned)((e & DP_MAC_AGE) / DP_MAC_AGE_ONE),
	};

	memcpy(mi.mac, mac, sizeof(mi.mac));
	snprintf(mi.port, sizeof(mi.port), "%s", p != NULL ? p->name : "?");
	mi.type = p != NULL ? p->type : RIOV_DP_PORT_ETH;
	w->fn(w->arg, &mi);
}

int riov_dp_mac_foreach(struct riov_dp *dp, const char *name,
			void (*fn)(void *arg, const struct riov_dp_mac_info *mi), void *arg)
{
	struct dp_net *net = dp_net_find(dp, name);
	struct mac_walk w = { dp, fn, arg };

	if (net == NULL)
		return -ENOENT;
	dp_mac_walk(net, mac_walk_one, &w);
	return 0;
}

unsigned riov_dp_mac_age(struct riov_dp *dp)
{
	unsigned removed = 0;

	for (unsigned i = 0; i < RIOV_DP_MAX_NETS; i++)
		if (dp->nets[i] != NULL)
			removed += dp_mac_age_net(dp->nets[i]);
	return removed;
}

unsigned riov_dp_n_workers(const struct riov_dp *dp)
{
	return dp->n_workers;
}

static void dump_port(void *arg, const struct riov_dp_port_stats *st)
{
	FILE *f = arg;
	uint64_t drops = 0;

	for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++)
		drops += st->drops[d];
	fprintf(f, "port %-16s net %-10s %-5s %-4s rx_packets %" PRIu64 " rx_bytes %" PRIu64
		   " tx_packets %" PRIu64 " tx_bytes %" PRIu64 " drops %" PRIu64,
		st->name, st->net, type_name(st->type),
		st->link_up ? "up" : "down", st->rx_packets, st->rx_bytes, st->tx_packets, st->tx_bytes,
		drops);
	for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++)
		if (st->drops[d])
			fprintf(f, " drop_%s %" PRIu64, riov_dp_drop_names[d], st->drops[d]);
	fprintf(f, " notifications %" PRIu64 " iotlb_hits %" PRIu64 " iotlb_misses %" PRIu64
		   " iotlb_waits %" PRIu64 " dma_faults %" PRIu64 " dirty_log_writes %" PRIu64
		   " announces %" PRIu64,
		st->notifications, st->iotlb_hits, st->iotlb_misses, st->iotlb_waits, st->dma_faults,
		st->dirty_log_writes, st->announces);
	const struct riov_dp_offload_stats *o = &st->ol;
	if (o->frames_in | o->frames_out | o->sw_checksums | o->sw_segmented)
		fprintf(f, " offload_frames_in %" PRIu64 " offload_frames_out %" PRIu64 " sw_checksums %"
			   PRIu64 " sw_segmented %" PRIu64 " sw_segments %" PRIu64, o->frames_in,
			o->frames_out, o->sw_checksums, o->sw_segmented, o->sw_segments);
	if (st->type == RIOV_DP_PORT_VHOST)
		fprintf(f, " vhost_connects %" PRIu64 " vhost_messages %" PRIu64 " vhost_refused %" PRIu64
			   " memory_faults %" PRIu64 " iotlb_refused %" PRIu64 " vring_base_resyncs %" PRIu64
			   " iotlb_updates %" PRIu64 " iotlb_invalidations %" PRIu64
			   " iotlb_miss_requests %" PRIu64,
			st->vhost.connects, st->vhost.messages, st->vhost.refused, st->vhost.memory_faults,
			st->vhost.iotlb_refused, st->vhost.base_resyncs, st->vhost.iotlb_updates,
			st->vhost.iotlb_invalidations, st->vhost.iotlb_miss_requests);
	fputc('\n', f);
}

/* Ring state of a vhost port's vrings: what the guest published and how far riovd got. Read-only
 * look at guest memory from the control thread (the indices are 16-bit atomic-size loads). */
static void dump_vrings(struct riov_dp *dp, FILE *f)
{
	for (unsigned i = 0; i < dp->n_port_order; i++) {
		struct dp_port *p = dp->ports[dp->port_order[i]];
		if (p == NULL || p->type != RIOV_DP_PORT_VHOST)
			continue;
		for (uint16_t q = 0; q < p->queues; q++) {
			const struct riov_virtq *vqs[2] = { &p->qp[q].rxq, &p->qp[q].txq };
			const bool run[2] = { atomic_load(&p->qp[q].rx_running), atomic_load(&p->qp[q].tx_running) };
			for (int k = 0; k < 2; k++) {
				const struct riov_virtq *vq = vqs[k];
				if (!run[k])
					continue;
				const volatile uint16_t *avail = vq->avail, *used = vq->used;
				uint64_t vdrops = 0;
				for (unsigned d = 0; d < RIOV_VQ_DROP__MAX; d++)
					vdrops += vq->stats.drops[d];
				fprintf(f, "vring %s %u packets %" PRIu64 " bytes %" PRIu64 " drops %" PRIu64
					   " avail_idx %u last_avail %u used_idx %u last_used %u%s\n",
					p->name, 2 * q + k, vq->stats.packets, vq->stats.bytes, vdrops, avail[1],
					vq->last_avail_idx, used[1], vq->last_used_idx, vq->broken ? " broken" : "");
			}
		}
		struct riov_vtd_domain_info di;
		if (riov_vtd_domain_info(dp->vtd, DP_DID(p->id), &di) == 0)
			fprintf(f, "domain %s did %u levels %u mapped_bytes %" PRIu64 " table_pages %" PRIu64 "\n",
				p->name, di.did, di.levels, di.mapped_bytes, di.table_pages);
	}
}

void riov_dp_dump(struct riov_dp *dp, FILE *f)
{
	riov_dp_port_foreach(dp, dump_port, f);
	dump_vrings(dp, f);
	for (unsigned w = 0; w < dp->n_workers; w++) {
		const struct dp_worker *wk = &dp->workers[w];
		uint64_t all = wk->busy_cycles + wk->idle_cycles;
		fprintf(f, "worker %u lcore %u busy_ratio %.3f loops %" PRIu64 " packets %" PRIu64
			   " cycles_per_packet %.1f bursts %" PRIu64 " latency_max_ns %" PRIu64 "\n",
			w, wk->lcore, all ? (double)wk->busy_cycles / (double)all : 0.0, wk->loops,
			wk->packets, wk->packets ? (double)wk->busy_cycles / (double)wk->packets : 0.0,
			riov_loop_hist_total(&wk->latency), wk->latency.max_ns);
	}
	fflush(f);
}
