/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/dp_stats.c: a port's totals and its per-queue-pair counters are summed
 * from the per-worker slots, the handoff rings' drops and every life of each vring, with the
 * port's direction (rx = the guest's TX vring). The test fills the counters the way workers and
 * vh_vring_start() leave them, and a vhost port's device counters come from a double of vmm's
 * riov_vhost_dev_stats(); no EAL, no guest. Includes dp_stats.c to build on its own.
 */
#include "dataplane/dp_stats.c"

#include <stdlib.h>

#include "riov_test.h"

static struct dp_net net = { .name = "blue" };

/* Test double of vmm's riov_vhost_dev_stats(): the device counters it was given, for the one
 * device the test names (any other device, or none, is a bug of dp_stats.c). */
static struct riov_vhost_dev_stats vdev_double;
static const struct riov_vhost_dev *vdev_double_dev;
static unsigned vdev_double_calls;

void riov_vhost_dev_stats(const struct riov_vhost_dev *dev, struct riov_vhost_dev_stats *st)
{
	CHECK(dev != NULL && dev == vdev_double_dev);
	vdev_double_calls++;
	*st = vdev_double;
}

static void *zalloc_aligned(size_t size)
{
	size_t n = (size + RTE_CACHE_LINE_SIZE - 1) / RTE_CACHE_LINE_SIZE * RTE_CACHE_LINE_SIZE;
	void *p = aligned_alloc(RTE_CACHE_LINE_SIZE, n);
	if (p != NULL)
		memset(p, 0, n);
	return p;
}

/* A vhost port with n queue pairs on a dataplane of two workers. */
static struct dp_port *vhost_port(struct riov_dp **dp, uint16_t n)
{
	struct dp_port *p = zalloc_aligned(sizeof(*p));

	*dp = zalloc_aligned(sizeof(**dp));
	(*dp)->n_workers = 2;
	snprintf(p->name, sizeof(p->name), "vm1");
	p->type = RIOV_DP_PORT_VHOST;
	p->net = &net;
	p->queues = n;
	p->qp = zalloc_aligned(n * sizeof(*p->qp));
	return p;
}

static void port_free(struct riov_dp *dp, struct dp_port *p)
{
	free(p->qp);
	free(p);
	free(dp);
}

/* Counters of one vring life: packets, bytes = 64 * packets, one drop of each cause (cause + 1
 * times), interrupts. */
static void vring_fill(struct riov_virtq_stats *s, uint64_t packets, uint64_t interrupts)
{
	s->packets = packets;
	s->bytes = 64 * packets;
	for (unsigned d = 0; d < RIOV_VQ_DROP__MAX; d++)
		s->drops[d] = d + 1;
	s->notifications = interrupts;
	s->iotlb_waits = 1;
	s->log_writes = 2;
}

RIOV_TEST(queue_pair_directions_and_lives)
{
	struct dp_vq_pair *qp = zalloc_aligned(sizeof(*qp));
	struct riov_dp_queue_stats qs;

	vring_fill(&qp->txq.stats, 100, 1);    /* guest TX, live */
	vring_fill(&qp->past[1], 10, 2);       /* guest TX, an earlier life */
	vring_fill(&qp->rxq.stats, 7, 4);      /* guest RX, live */
	atomic_store(&qp->tx_running, true);
	dp_queue_stats(qp, 3, &qs);
	CHECK_EQ(qs.queue, 3);
	CHECK(qs.rx_running && !qs.tx_running);
	CHECK_EQ(qs.rx_packets, 110);          /* what the guest sent, every life */
	CHECK_EQ(qs.rx_bytes, 110 * 64);
	CHECK_EQ(qs.tx_packets, 7);
	CHECK_EQ(qs.tx_bytes, 7 * 64);
	CHECK_EQ(qs.notifications, 7);
	/* each vring cause lands on the port's cause of the same meaning, from all three lives */
	CHECK_EQ(qs.drops[RIOV_DP_DROP_NO_MBUF], 3 * (RIOV_VQ_DROP_NO_MBUF + 1));
	CHECK_EQ(qs.drops[RIOV_DP_DROP_NO_BUFFER], 3 * (RIOV_VQ_DROP_NO_BUFFER + 1));
	CHECK_EQ(qs.drops[RIOV_DP_DROP_BROKEN], 3 * (RIOV_VQ_DROP_BROKEN + 1));
	CHECK_EQ(qs.drops[RIOV_DP_DROP_DMA_FAULT], 3 * (RIOV_VQ_DROP_DMA_FAULT + 1));
	CHECK_EQ(qs.drops[RIOV_DP_DROP_BAD_DESC], 3 * (RIOV_VQ_DROP_BAD_DESC + 1));
	CHECK_EQ(qs.drops[RIOV_DP_DROP_TOO_BIG], 3 * (RIOV_VQ_DROP_TOO_BIG + 1));
	/* the switch's causes are not a queue's */
	CHECK_EQ(qs.drops[RIOV_DP_DROP_RING_FULL], 0);
	CHECK_EQ(qs.drops[RIOV_DP_DROP_NOT_READY], 0);
	CHECK_EQ(qs.drops[RIOV_DP_DROP_LOOP], 0);
	CHECK_EQ(qs.drops[RIOV_DP_DROP_HAIRPIN], 0);
	free(qp);
}

RIOV_TEST(port_totals_are_the_queue_sums)
{
	struct riov_dp *dp;
	struct dp_port *p = vhost_port(&dp, 2);
	struct riov_dp_port_stats st;
	struct riov_dp_queue_stats qs[2];

	vring_fill(&p->qp[0].txq.stats, 100, 1);
	vring_fill(&p->qp[0].rxq.stats, 50, 1);
	vring_fill(&p->qp[1].txq.stats, 30, 1);
	vring_fill(&p->qp[1].past[0], 20, 1);
	p->qp[1].txq.tc.hits = 5;
	p->qp[1].past_misses[1] = 2;
	p->wstats[0].drops[RIOV_DP_DROP_NOT_READY] = 4;
	p->wstats[1].drops[RIOV_DP_DROP_LOOP] = 3;
	atomic_store(&p->ring_full, 6);
	dp_port_stats(dp, p, &st);
	dp_queue_stats(&p->qp[0], 0, &qs[0]);
	dp_queue_stats(&p->qp[1], 1, &qs[1]);
	CHECK(strcmp(st.name, "vm1") == 0 && strcmp(st.net, "blue") == 0 && st.queues == 2);
	CHECK_EQ(st.rx_packets, 130);
	CHECK_EQ(st.rx_packets, qs[0].rx_packets + qs[1].rx_packets);
	CHECK_EQ(st.rx_bytes, qs[0].rx_bytes + qs[1].rx_bytes);
	CHECK_EQ(st.tx_packets, 70);
	CHECK_EQ(st.tx_packets, qs[0].tx_packets + qs[1].tx_packets);
	CHECK_EQ(st.tx_bytes, qs[0].tx_bytes + qs[1].tx_bytes);
	CHECK_EQ(st.notifications, qs[0].notifications + qs[1].notifications);
	for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++) {
		uint64_t port_only = p->wstats[0].drops[d] + p->wstats[1].drops[d] +
				     (d == RIOV_DP_DROP_RING_FULL ? 6 : 0);
		CHECK_EQ(st.drops[d], qs[0].drops[d] + qs[1].drops[d] + port_only);
	}
	CHECK_EQ(st.iotlb_waits, 4);
	CHECK_EQ(st.dirty_log_writes, 8);   /* four vrings' lives, two each */
	p->wstats[1].announces = 3;
	dp_port_stats(dp, p, &st);
	CHECK_EQ(st.announces, 3);
	CHECK_EQ(st.iotlb_hits, 5);
	CHECK_EQ(st.iotlb_misses, 2);
	port_free(dp, p);
}

RIOV_TEST(vhost_port_has_its_device_counters)
{
	struct riov_dp *dp;
	struct dp_port *p = vhost_port(&dp, 1);
	struct riov_dp_port_stats st;
	static char device;   /* stands for the port's struct riov_vhost_dev */

	vdev_double = (struct riov_vhost_dev_stats){
		.connected = true, .messages = 101, .bad_messages = 2, .refused = 3, .connects = 4,
		.disconnects = 5, .iotlb_refused = 6, .iotlb_evictions = 7, .memory_faults = 8,
		.base_resyncs = 9, .iotlb_updates = 10, .iotlb_invalidations = 11,
		.iotlb_miss_requests = 12,
	};
	p->vdev = (struct riov_vhost_dev *)&device;
	vdev_double_dev = p->vdev;
	vdev_double_calls = 0;
	dp_port_stats(dp, p, &st);
	CHECK_EQ(vdev_double_calls, 1);
	CHECK_EQ(st.vhost.messages, 101);
	CHECK_EQ(st.vhost.bad_messages, 2);
	CHECK_EQ(st.vhost.refused, 3);
	CHECK_EQ(st.vhost.connects, 4);
	CHECK_EQ(st.vhost.disconnects, 5);
	CHECK_EQ(st.vhost.iotlb_refused, 6);
	CHECK_EQ(st.vhost.iotlb_evictions, 7);
	CHECK_EQ(st.vhost.memory_faults, 8);
	CHECK_EQ(st.vhost.base_resyncs, 9);
	CHECK_EQ(st.vhost.iotlb_updates, 10);
	CHECK_EQ(st.vhost.iotlb_invalidations, 11);
	CHECK_EQ(st.vhost.iotlb_miss_requests, 12);
	port_free(dp, p);
}

RIOV_TEST(eth_port_counts_per_worker)
{
	struct riov_dp *dp;
	struct dp_port *p = vhost_port(&dp, 1);
	struct riov_dp_port_stats st;

	p->type = RIOV_DP_PORT_ETH;
	vring_fill(&p->qp[0].txq.stats, 100, 1);   /* not a vhost port: its qp is not looked at */
	p->wstats[0].rx_packets = 5;
	p->wstats[1].rx_packets = 6;
	p->wstats[1].tx_bytes = 600;
	p->wstats[0].drops[RIOV_DP_DROP_RING_FULL] = 1;
	atomic_store(&p->ring_full, 2);
	dp_port_stats(dp, p, &st);
	CHECK_EQ(st.rx_packets, 11);
	CHECK_EQ(st.tx_bytes, 600);
	CHECK_EQ(st.drops[RIOV_DP_DROP_RING_FULL], 3);
	CHECK_EQ(st.drops[RIOV_DP_DROP_NO_MBUF], 0);
	CHECK_EQ(st.notifications, 0);
	const struct riov_dp_vhost_stats none = { 0 };
	CHECK(memcmp(&st.vhost, &none, sizeof(none)) == 0);   /* no vhost-user device */
	port_free(dp, p);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(queue_pair_directions_and_lives),
	       RIOV_TEST_ENTRY(port_totals_are_the_queue_sums),
	       RIOV_TEST_ENTRY(vhost_port_has_its_device_counters),
	       RIOV_TEST_ENTRY(eth_port_counts_per_worker))
