/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port and queue-pair counters: what the workers counted in their own slots (dp_port.wstats, one
 * per worker) and what each vring counted (riov_virtq.stats, written by the worker that owns it,
 * plus dp_vq_pair.past for the vring's earlier lives), summed on read; for a vhost port also its
 * vhost-user device's counters (riov_vhost_dev_stats, kept by vmm on the control thread).
 *
 * Thread rules: control thread only. Workers keep writing while this reads: the 64-bit loads see
 * a value a worker stored (a sum may be a burst behind), nothing here writes.
 */
#include <string.h>

#include "dataplane/dp_internal.h"

_Static_assert(RIOV_DP_MAX_QUEUE_PAIRS == RIOV_VHOST_MAX_QUEUE_PAIRS, "a vhost port's queue pairs fit");

/* The port's cause for each cause a vring counts. A new vring cause needs its line here. */
_Static_assert(RIOV_VQ_DROP__MAX == 6, "map every riov_virtq_drop to a riov_dp_drop");
static const enum riov_dp_drop vq_drop_cause[RIOV_VQ_DROP__MAX] = {
	[RIOV_VQ_DROP_NO_MBUF] = RIOV_DP_DROP_NO_MBUF,
	[RIOV_VQ_DROP_NO_BUFFER] = RIOV_DP_DROP_NO_BUFFER,
	[RIOV_VQ_DROP_BROKEN] = RIOV_DP_DROP_BROKEN,
	[RIOV_VQ_DROP_DMA_FAULT] = RIOV_DP_DROP_DMA_FAULT,
	[RIOV_VQ_DROP_BAD_DESC] = RIOV_DP_DROP_BAD_DESC,
	[RIOV_VQ_DROP_TOO_BIG] = RIOV_DP_DROP_TOO_BIG,
};

/* One vring of qp over all its lives; k = 0 the guest's RX vring (rxq), 1 its TX vring (txq). */
static struct riov_virtq_stats vring_stats(const struct dp_vq_pair *qp, int k)
{
	const struct riov_virtq_stats *live = k ? &qp->txq.stats : &qp->rxq.stats;
	struct riov_virtq_stats s = qp->past[k];

	s.packets += live->packets;
	s.bytes += live->bytes;
	for (unsigned d = 0; d < RIOV_VQ_DROP__MAX; d++)
		s.drops[d] += live->drops[d];
	s.notifications += live->notifications;
	s.broken += live->broken;
	s.iotlb_waits += live->iotlb_waits;
	s.log_writes += live->log_writes;
	return s;
}

void dp_queue_stats(const struct dp_vq_pair *qp, uint16_t q, struct riov_dp_queue_stats *qs)
{
	const struct riov_virtq_stats rx = vring_stats(qp, 0), tx = vring_stats(qp, 1);

	memset(qs, 0, sizeof(*qs));
	qs->queue = q;
	/* the port receives what the guest transmits: port rx is the guest's TX vring */
	qs->rx_running = atomic_load(&qp->tx_running);
	qs->tx_running = atomic_load(&qp->rx_running);
	qs->rx_packets = tx.packets;
	qs->rx_bytes = tx.bytes;
	qs->tx_packets = rx.packets;
	qs->tx_bytes = rx.bytes;
	for (unsigned d = 0; d < RIOV_VQ_DROP__MAX; d++)
		qs->drops[vq_drop_cause[d]] += rx.drops[d] + tx.drops[d];
	qs->notifications = rx.notifications + tx.notifications;
}

/* The vhost-user device's own counters (vmm counts them per device, over every session). */
static void vhost_dev_counters(const struct riov_vhost_dev *vdev, struct riov_dp_vhost_stats *vh)
{
	struct riov_vhost_dev_stats vs;

	riov_vhost_dev_stats(vdev, &vs);
	vh->connects = vs.connects;
	vh->disconnects = vs.disconnects;
	vh->messages = vs.messages;
	vh->bad_messages = vs.bad_messages;
	vh->refused = vs.refused;
	vh->memory_faults = vs.memory_faults;
	vh->iotlb_refused = vs.iotlb_refused;
	vh->iotlb_evictions = vs.iotlb_evictions;
	vh->iotlb_updates = vs.iotlb_updates;
	vh->iotlb_invalidations = vs.iotlb_invalidations;
	vh->iotlb_miss_requests = vs.iotlb_miss_requests;
	vh->base_resyncs = vs.base_resyncs;
}

/* Add queue pair qp's counters (its packets, bytes, drops, interrupts, translations) to st. */
static void add_queue_pair(const struct dp_vq_pair *qp, uint16_t q, struct riov_dp_port_stats *st)
{
	struct riov_dp_queue_stats qs;

	dp_queue_stats(qp, q, &qs);
	st->rx_packets += qs.rx_packets;
	st->rx_bytes += qs.rx_bytes;
	st->tx_packets += qs.tx_packets;
	st->tx_bytes += qs.tx_bytes;
	for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++)
		st->drops[d] += qs.drops[d];
	st->notifications += qs.notifications;
	for (int k = 0; k < 2; k++) {
		const struct riov_virtq *vq = k ? &qp->txq : &qp->rxq;
		st->iotlb_waits += qp->past[k].iotlb_waits + vq->stats.iotlb_waits;
		st->dirty_log_writes += qp->past[k].log_writes + vq->stats.log_writes;
		st->iotlb_hits += qp->past_hits[k] + vq->tc.hits;
		st->iotlb_misses += qp->past_misses[k] + vq->tc.misses;
		st->dma_faults += qp->past_faults[k] + vq->tc.faults;
	}
}

void dp_port_stats(const struct riov_dp *dp, const struct dp_port *p, struct riov_dp_port_stats *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", p->name);
	snprintf(st->net, sizeof(st->net), "%s", p->net ? p->net->name : "");
	st->type = p->type;
	st->queues = p->queues;
	st->link_up = atomic_load(&p->link_up);
	for (unsigned w = 0; w < dp->n_workers; w++) {
		const struct dp_qstats *q = &p->wstats[w];
		st->rx_packets += q->rx_packets;
		st->rx_bytes += q->rx_bytes;
		st->tx_packets += q->tx_packets;
		st->tx_bytes += q->tx_bytes;
		for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++)
			st->drops[d] += q->drops[d];
		st->announces += q->announces;
		st->ol.frames_in += q->ol.frames_in;
		st->ol.frames_out += q->ol.frames_out;
		st->ol.sw_checksums += q->ol.sw_checksums;
		st->ol.sw_segmented += q->ol.sw_segmented;
		st->ol.sw_segments += q->ol.sw_segments;
	}
	st->drops[RIOV_DP_DROP_RING_FULL] += atomic_load(&p->ring_full);
	if (p->type != RIOV_DP_PORT_VHOST)
		return;
	for (uint16_t q = 0; q < p->queues; q++)
		add_queue_pair(&p->qp[q], q, st);
	if (p->vdev != NULL)
		vhost_dev_counters(p->vdev, &st->vhost);
}
