/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Poll-mode workers: poll the queues in this worker's table, switch each packet within its
 * network, and send it out in bursts.
 *
 * Thread rules: worker lcores only. No blocking, locking or allocation (mbufs aside). The poll
 * table and every port's state are read under RCU QSBR: a worker reports quiescent once per loop,
 * between bursts, and holds no pointer across that point.
 *
 * Security model: packets from guests and peers are untrusted; only the Ethernet addresses are
 * read here (a runt frame is dropped), and they never select anything outside the ingress
 * port's network.
 */
#include <signal.h>
#include <string.h>

#include <time.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_pause.h>
#include <rte_prefetch.h>

#include "common/log.h"
#include "dataplane/dp_internal.h"
#include "dataplane/gro.h"
#include "dataplane/offload.h"
#include "dataplane/worker_internal.h"

RIOV_LOG_COMPONENT("worker", RIOV_LOG_WARN);

static void notify_flush(struct dp_ctx *c)
{
	riov_virtq_notify_many(c->notify, c->n_notify);
	c->n_notify = 0;
}

/* riov_virtq_notify(vq), at the end of this loop. */
static void notify_later(struct dp_ctx *c, struct riov_virtq *vq)
{
	for (unsigned i = 0; i < c->n_notify; i++)
		if (c->notify[i] == vq)
			return;
	if (c->n_notify == DP_NOTIFY_MAX)
		notify_flush(c);
	c->notify[c->n_notify++] = vq;
}

/* Deliver n packets to a guest RX vring this worker owns; frees them. */
static void vhost_deliver(struct dp_ctx *c, struct dp_port *p, struct dp_vq_pair *qp,
			  struct rte_mbuf **m, uint16_t n)
{
	/* packets, bytes and drops by cause are counted by the virtq itself */
	if (riov_virtq_enqueue(&qp->rxq, m, n))
		notify_later(c, &qp->rxq);
	rte_pktmbuf_free_bulk(m, n);
}

/* A flow's hash from the start of its frame: IPv4/IPv6 addresses, and the ports of TCP and UDP
 * when they are there; 0 for anything else (one queue). Only read for multiqueue guests. */
static uint32_t flow_hash(const uint8_t *f, uint32_t len)
{
	uint32_t key[9], n = 0;
	uint32_t l4 = 0, proto = 0;

	if (len < RTE_ETHER_HDR_LEN + 20)
		return 0;
	uint16_t et = (uint16_t)(f[12] << 8 | f[13]);
	if (et == RTE_ETHER_TYPE_IPV4 && (f[14] >> 4) == 4) {
		memcpy(key, f + 26, 8);            /* source and destination address */
		n = 2;
		proto = f[23];
		/* ports only in a first fragment (offset 0) */
		if ((f[20] & 0x1f) == 0 && f[21] == 0)
			l4 = RTE_ETHER_HDR_LEN + 4u * (f[14] & 0xf);
	} else if (et == RTE_ETHER_TYPE_IPV6 && len >= RTE_ETHER_HDR_LEN + 40) {
		memcpy(key, f + 22, 32);
		n = 8;
		proto = f[20];
		l4 = RTE_ETHER_HDR_LEN + 40;
	} else {
		return 0;
	}
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && l4 != 0 && len >= l4 + 4)
		memcpy(&key[n++], f + l4, 4);
	return rte_hash_crc(key, n * 4, proto);
}

/* The running guest RX queue pair of vhost port p that a frame goes to: one of the pairs the guest
 * enabled, chosen by the frame's flow so that a flow keeps its queue (and its order) while the
 * set of enabled pairs stays as it is. NULL when none runs. */
static struct dp_vq_pair *rx_pair_pick(struct dp_port *p, const uint8_t *frame, uint32_t len)
{
	struct dp_vq_pair *run[RIOV_VHOST_MAX_QUEUE_PAIRS];
	unsigned n = 0;

	for (uint16_t q = 0; q < p->queues; q++)
		if (atomic_load_explicit(&p->qp[q].rx_running, memory_order_acquire))
			run[n++] = &p->qp[q];
	if (n <= 1)
		return n ? run[0] : NULL;
	return run[flow_hash(frame, len) % n];
}

/* Deliver n packets to RX queue pair qp of vhost port p: on this worker if it owns the pair,
 * else through the pair's handoff ring to its owner. */
static void flush_vhost_pair(struct dp_ctx *c, struct dp_port *p, struct dp_vq_pair *qp,
			     struct rte_mbuf **m, uint16_t n)
{
	if (qp->owner == c->w->idx) {
		vhost_deliver(c, p, qp, m, n);
		return;
	}
	unsigned sent = rte_ring_mp_enqueue_burst(qp->ring, (void **)m, n, NULL);
	if (sent < n) {
		atomic_fetch_add_explicit(&p->ring_full, n - sent, memory_order_relaxed);
		rte_pktmbuf_free_bulk(m + sent, n - sent);
	}
}

/* No RX vring of vhost port p runs: while vmm pauses them (hold), the packets wait in the port's
 * hold queue; otherwise, or when that is full, they are dropped, each cause counted. */
static void hold_or_drop(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf **m, uint16_t n)
{
	enum riov_dp_drop cause = RIOV_DP_DROP_NOT_READY;
	unsigned kept = 0;

	if (atomic_load_explicit(&p->holding, memory_order_acquire)) {
		kept = rte_ring_mp_enqueue_burst(p->hold, (void **)m, n, NULL);
		cause = RIOV_DP_DROP_HOLD_FULL;
	}
	if (kept < n) {
		count_drop(p, c->w->idx, cause, n - kept);
		rte_pktmbuf_free_bulk(m + kept, n - kept);
	}
}

static void flush_vhost(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf **m, uint16_t n)
{
	struct dp_vq_pair *to[RIOV_VIRTQ_BURST];
	uint16_t done = 0;

	if (p->queues == 1)
		to[0] = rx_pair_pick(p, NULL, 0);
	for (uint16_t i = p->queues == 1; i < n; i++)
		to[i] = p->queues == 1 ? to[0] :
			rx_pair_pick(p, rte_pktmbuf_mtod(m[i], const uint8_t *), rte_pktmbuf_data_len(m[i]));
	/* runs of packets for the same pair go together (one pair: the whole burst) */
	for (uint16_t i = 1; i <= n; i++) {
		if (i < n && to[i] == to[done])
			continue;
		if (to[done] == NULL) {
			hold_or_drop(c, p, m + done, i - done);
		} else {
			flush_vhost_pair(c, p, to[done], m + done, i - done);
		}
		done = i;
	}
}

/* The device's own preparation of frames with TX offloads (pseudo-header sums and the like); a
 * frame it refuses is dropped and counted as bad_offload. Returns how many are left in m. */
static uint16_t eth_tx_prepare(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf **m, uint16_t n)
{
	uint16_t ok = rte_eth_tx_prepare(p->eth_id, (uint16_t)c->w->idx, m, n);

	while (unlikely(ok < n)) {
		RIOV_LOG_PORT_RL(RIOV_LOG_WARN, p->name,
				 "the device refused a frame's TX offloads: %s",
				 rte_strerror(rte_errno));
		count_drop(p, c->w->idx, RIOV_DP_DROP_BAD_OFFLOAD, 1);
		rte_pktmbuf_free(m[ok]);
		memmove(m + ok, m + ok + 1, (size_t)(n - ok - 1) * sizeof(m[0]));
		n--;
		ok = (uint16_t)(ok + rte_eth_tx_prepare(p->eth_id, (uint16_t)c->w->idx, m + ok, n - ok));
	}
	return n;
}

void dp_flush_eth(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf **m, uint16_t n)
{
	struct dp_qstats *st = &p->wstats[c->w->idx];
	uint64_t bytes = 0;

	if (atomic_load_explicit(&p->ol_accepts, memory_order_relaxed) != 0)
		n = eth_tx_prepare(c, p, m, n);
	for (uint16_t i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(m[i]);
	uint16_t sent = rte_eth_tx_burst(p->eth_id, (uint16_t)c->w->idx, m, n);
	if (sent < n) {
		for (uint16_t i = sent; i < n; i++)
			bytes -= rte_pktmbuf_pkt_len(m[i]);
		st->drops[RIOV_DP_DROP_RING_FULL] += n - sent;
		rte_pktmbuf_free_bulk(m + sent, n - sent);
	}
	st->tx_packets += sent;
	st->tx_bytes += bytes;
}

static void send_port(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf **m, uint16_t n)
{
	if (n == 0)
		return;
	if (p->type == RIOV_DP_PORT_VHOST)
		flush_vhost(c, p, m, n);
	else if (p->type == RIOV_DP_PORT_VTEP)
		dp_vtep_send(c, p, m, n);
	else
		dp_flush_eth(c, p, m, n);
}

/* m as a frame of its own (a copy if it is shared), for a device that writes into it; NULL: no
 * mbuf for the copy (counted). */
static struct rte_mbuf *eth_private(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf *m)
{
	if (likely(RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1))
		return m;
	struct rte_mbuf *x = rte_pktmbuf_copy(m, c->dp->mp, 0, UINT32_MAX);
	rte_pktmbuf_free(m);
	if (x == NULL)
		count_drop(p, c->w->idx, RIOV_DP_DROP_NO_MBUF, 1);
	return x;
}

/* A frame's offload the receiver cannot take, done in software: its partial checksum filled in
 * (in a private copy when other ports share the frame). Returns the frame to send, or NULL
 * (dropped and counted). */
static struct rte_mbuf *egress_csum(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf *m)
{
	if (!RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1) {
		struct rte_mbuf *x = rte_pktmbuf_copy(m, c->dp->mp, 0, UINT32_MAX);
		rte_pktmbuf_free(m);
		if (x == NULL) {
			count_drop(p, c->w->idx, RIOV_DP_DROP_NO_MBUF, 1);
			return NULL;
		}
		m = x;
	}
	int rc = riov_ol_csum(m);
	if (unlikely(rc != 0)) {
		count_drop(p, c->w->idx, RIOV_DP_DROP_BAD_OFFLOAD, 1);
		RIOV_LOG_PORT_RL(RIOV_LOG_WARN, p->name, "checksum not filled in: %s",
				 riov_ol_strerror(rc));
		rte_pktmbuf_free(m);
		return NULL;
	}
	p->wstats[c->w->idx].ol.sw_checksums++;
	return m;
}

#define DP_MAX_SEGS 64   /* software segments of one frame (64 KB at MTU 1500: 47) */

/* A TSO frame for a receiver that does not take it whole: cut to p's MTU and sent (frees m). */
static void egress_segment(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf *m)
{
	struct rte_mbuf *seg[DP_MAX_SEGS];
	int n = riov_ol_segment(m, p->mtu, c->dp->mp, c->dp->mp_indirect, seg, DP_MAX_SEGS);

	rte_pktmbuf_free(m);
	if (unlikely(n < 0)) {
		count_drop(p, c->w->idx, n == -RIOV_OL_E_NO_MBUF ? RIOV_DP_DROP_NO_MBUF
								: RIOV_DP_DROP_BAD_OFFLOAD, 1);
		if (n != -RIOV_OL_E_NO_MBUF)
			RIOV_LOG_PORT_RL(RIOV_LOG_WARN, p->name, "frame not segmented: %s",
					 riov_ol_strerror(n));
		return;
	}
	p->wstats[c->w->idx].ol.sw_segmented++;
	p->wstats[c->w->idx].ol.sw_segments += (uint64_t)n;
	for (int off = 0; off < n; off += RIOV_VIRTQ_BURST)
		send_port(c, p, seg + off, (uint16_t)RTE_MIN(n - off, RIOV_VIRTQ_BURST));
}

/* Send m[0..n) out of port p: a frame over p's MTU is dropped and counted (mtu_exceeded, never
 * fragmented); a frame with offload metadata goes whole where the receiver takes it (a guest that
 * negotiated it: riov_ol_plan()), else its checksum is filled in or it is segmented here. */
static void egress(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf **m, uint16_t n)
{
	const unsigned port_accepts = atomic_load_explicit(&p->ol_accepts, memory_order_relaxed);
	uint16_t k = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *x = m[i];
		if (likely(!(x->ol_flags & RIOV_OL_MBUF_FLAGS))) {
			if (likely(rte_pktmbuf_pkt_len(x) <= p->max_frame) ||
			    (rte_pktmbuf_data_len(x) >= RTE_ETHER_HDR_LEN &&
			     fits_mtu(p, rte_pktmbuf_mtod(x, const uint8_t *), rte_pktmbuf_pkt_len(x))) ||
			    (p->type == RIOV_DP_PORT_VTEP && dp_vtep_rdma_fits(c, p, rte_pktmbuf_pkt_len(x)))) {
				m[k++] = x;
				continue;
			}
			count_drop(p, c->w->idx, RIOV_DP_DROP_MTU, 1);
			rte_pktmbuf_free(x);
			continue;
		}
		/* a VTEP takes a frame whole with its metadata over the peer's RDMA link */
		const unsigned accepts = p->type != RIOV_DP_PORT_VTEP ? port_accepts
			: dp_vtep_rdma_accepts(c, p, rte_pktmbuf_pkt_len(x));
		switch (riov_ol_plan(x, accepts, p->mtu)) {
		case RIOV_OL_PLAN_WHOLE:
			/* a device writes checksums into the frame: a frame other ports share gets copied
			 * (a guest's or an RDMA link's copy leaves it as it is) */
			if (p->type != RIOV_DP_PORT_VHOST && p->type != RIOV_DP_PORT_VTEP &&
			    (x = eth_private(c, p, x)) == NULL)
				break;
			p->wstats[c->w->idx].ol.frames_out++;
			m[k++] = x;
			break;
		case RIOV_OL_PLAN_CSUM:
			if ((x = egress_csum(c, p, x)) != NULL)
				m[k++] = x;
			break;
		case RIOV_OL_PLAN_SEGMENT:
			send_port(c, p, m, k);   /* in order: what came before goes first */
			k = 0;
			egress_segment(c, p, x);
			break;
		default:
			count_drop(p, c->w->idx, RIOV_DP_DROP_MTU, 1);
			rte_pktmbuf_free(x);
			break;
		}
	}
	send_port(c, p, m, k);
}

void dp_egress(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf **m, uint16_t n)
{
	egress(c, p, m, n);
}

static void flush_one(struct dp_ctx *c, struct dp_out *o)
{
	struct dp_port *p = port_get(c->dp, o->port);

	if (o->n == 0)
		return;
	if (p == NULL)
		rte_pktmbuf_free_bulk(o->m, o->n);
	else
		egress(c, p, o->m, o->n);
	o->n = 0;
}

static void flush_all(struct dp_ctx *c)
{
	for (unsigned i = 0; i < c->n_out; i++)
		flush_one(c, &c->out[i]);
	c->n_out = 0;
}

static void stage(struct dp_ctx *c, uint16_t port, struct rte_mbuf *m)
{
	struct dp_out *o = NULL;

	for (unsigned i = 0; i < c->n_out; i++) {
		if (c->out[i].port == port) {
			o = &c->out[i];
			break;
		}
	}
	if (o == NULL) {
		if (c->n_out == DP_OUT_SLOTS)
			flush_all(c);
		o = &c->out[c->n_out++];
		o->port = port;
		o->n = 0;
	}
	o->m[o->n++] = m;
	if (o->n == RIOV_VIRTQ_BURST)
		flush_one(c, o);
}

/* Is port id a remote VTEP? */
static bool to_overlay(struct dp_ctx *c, uint16_t id)
{
	const struct dp_port *p = port_get(c->dp, id);
	return p != NULL && p->type == RIOV_DP_PORT_VTEP;
}

/* An Ethernet header's address as a number. One 8-byte load, masked: both addresses lie in the
 * first 14 bytes, so 8 bytes from either stay inside the header (callers checked its length). A
 * 6-byte memcpy into a zeroed word was two stores and an 8-byte load the stores could not forward
 * to: a stall per address, 9 % of the worker's time at 64 bytes. */
static inline uint64_t mac48(const struct rte_ether_addr *a)
{
	uint64_t v;
	memcpy(&v, a->addr_bytes, sizeof(v));
	return rte_le_to_cpu_64(v) & 0xffffffffffffull;
}

/* The previous packet's learning and lookup, reused while its addresses repeat (packets of a
 * burst mostly share them) and the table did not change. */
struct dp_addr_cache {
	uint64_t src, dst;
	int learn, out;
};
#define DP_ADDR_CACHE_INIT { UINT64_MAX, UINT64_MAX, 0, -1 } /* no 48-bit address matches */
#define DP_SW_FLOOD (-1)
#define DP_SW_DROP_LOOP (-2)

/* Learn the source of frame eh (from port `in`, local: a vhost port; not when learn is false: a
 * frame from the overlay of an EVPN network) and look up its destination. Returns the output port, DP_SW_FLOOD (broadcast, multicast, unknown) or DP_SW_DROP_LOOP (the
 * source belongs to a local guest but came from elsewhere). */
static inline int dp_switch_addr(struct dp_net *net, uint16_t in, bool local, bool learn,
				 const struct rte_ether_hdr *eh, struct dp_addr_cache *ac)
{
	uint64_t src = mac48(&eh->src_addr), dst = mac48(&eh->dst_addr);

	if (src != ac->src) {
		ac->learn = learn ? dp_mac_learn(net, eh->src_addr.addr_bytes, in, local) : 0;
		ac->src = src;
		if (ac->learn > 0)
			ac->dst = UINT64_MAX; /* the table changed: look up again */
	}
	if (unlikely(ac->learn < 0))
		return DP_SW_DROP_LOOP;
	if (dst != ac->dst) {
		ac->out = (eh->dst_addr.addr_bytes[0] & 1) ? DP_SW_FLOOD : dp_mac_lookup(net, eh->dst_addr.addr_bytes);
		ac->dst = dst;
	}
	return ac->out;
}

/* Switch a burst received on port `in` (in its network) and stage it for output. A frame from the
 * overlay (in is a remote VTEP) never goes back into it: it floods to the local ports only, and
 * one for a MAC behind another VTEP is dropped (split horizon, counted as hairpin). */
void dp_switch_burst(struct dp_ctx *c, struct dp_port *in, struct rte_mbuf **m, uint16_t n)
{
	struct dp_net *net = in->net;
	struct dp_flood *fl = NULL;
	const bool local = in->type == RIOV_DP_PORT_VHOST;
	const bool overlay = in->type == RIOV_DP_PORT_VTEP;
	/* an EVPN network's remote MACs are zebra's (the control plane installs them): the overlay
	 * teaches the table nothing */
	const bool learn = !overlay || !atomic_load_explicit(&net->evpn, memory_order_relaxed);
	struct dp_addr_cache ac = DP_ADDR_CACHE_INIT;

	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(m[i + 1], void *));
		if (rte_pktmbuf_data_len(m[i]) < RTE_ETHER_HDR_LEN) {
			count_drop(in, c->w->idx, RIOV_DP_DROP_BAD_DESC, 1);
			rte_pktmbuf_free(m[i]);
			continue;
		}
		const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m[i], const struct rte_ether_hdr *);
		int out = dp_switch_addr(net, in->id, local, learn, eh, &ac);
		if (unlikely(out == DP_SW_DROP_LOOP)) {
			count_drop(in, c->w->idx, RIOV_DP_DROP_LOOP, 1);
			rte_pktmbuf_free(m[i]);
			continue;
		}
		if (out >= 0) {
			if (out == in->id || (unlikely(overlay) && to_overlay(c, (uint16_t)out))) {
				/* hairpin: the destination is behind the ingress port */
				count_drop(in, c->w->idx, RIOV_DP_DROP_HAIRPIN, 1);
				rte_pktmbuf_free(m[i]);
				continue;
			}
			stage(c, (uint16_t)out, m[i]);
			continue;
		}
		/* broadcast, multicast or unknown: flood within the network */
		if (fl == NULL)
			fl = atomic_load_explicit(overlay ? &net->flood_local : &net->flood, memory_order_acquire);
		unsigned targets = 0;
		for (unsigned k = 0; fl != NULL && k < fl->n; k++)
			targets += fl->ports[k] != in->id;
		if (targets == 0) {
			rte_pktmbuf_free(m[i]);
			continue;
		}
		if (targets > 1)
			rte_pktmbuf_refcnt_update(m[i], (int16_t)(targets - 1)); /* every segment */
		for (unsigned k = 0; k < fl->n; k++)
			if (fl->ports[k] != in->id)
				stage(c, fl->ports[k], m[i]);
	}
}

/* The guest RX queue pair of vhost port `id` a peeked frame goes to, if this worker owns it (where
 * flush_vhost() would deliver without a handoff), or NULL; *portp is then the port. *multi: the
 * port has several pairs (the answer then depends on the frame's flow, not only on the port). */
static struct dp_vq_pair *own_rx_pair(struct dp_ctx *c, uint16_t id, const struct riov_virtq_pkt *k,
				      bool *multi, struct dp_port **portp)
{
	struct dp_port *p = port_get(c->dp, id);

	*portp = p;
	*multi = false;
	if (p == NULL || p->type != RIOV_DP_PORT_VHOST)
		return NULL;
	*multi = p->queues > 1;
	struct dp_vq_pair *qp = rx_pair_pick(p, k->peek, k->peek_len);
	return qp != NULL && qp->owner == c->w->idx ? qp : NULL;
}

/* The virtio-net header of a guest's frame (copied into m) as m's offload metadata; a header
 * that does not match the frame or asks for what the guest did not negotiate drops the frame
 * (counted: bad_offload). Returns whether m goes on. */
static bool offload_in(struct dp_port *p, unsigned w, struct dp_vq_pair *qp,
		       const struct riov_virtq_pkt *k, struct rte_mbuf *m)
{
	int rc = riov_ol_from_vnet_hdr(m, &k->vhdr, qp->txq.ol_sends);

	if (likely(rc == 0)) {
		p->wstats[w].ol.frames_in += (m->ol_flags & RIOV_OL_MBUF_FLAGS) != 0;
		return true;
	}
	count_drop(p, w, RIOV_DP_DROP_BAD_OFFLOAD, 1);
	RIOV_LOG_PORT_RL(RIOV_LOG_WARN, p->name,
			 "frame dropped, its virtio-net header is refused: %s",
			 riov_ol_strerror(rc));
	rte_pktmbuf_free(m);
	return false;
}

#if RIOV_FAULT_INJECTION
/* The test-only kill: count this burst's direct deliveries down, SIGKILL when they pass. */
static __rte_noinline void fault_kill_direct(struct riov_dp *dp, uint64_t delivered)
{
	uint64_t left = atomic_load_explicit(&dp->fault_kill_direct, memory_order_relaxed);
	if (delivered >= left) {
		RIOV_LOG(RIOV_LOG_WARN, "test fault RIOV_FAULT_KILL_DIRECT_FRAMES: SIGKILL between the "
			 "sender's and the receiver's used index");
		raise(SIGKILL);
	}
	atomic_store_explicit(&dp->fault_kill_direct, left - delivered, memory_order_relaxed);
}
#endif

/* Guest TX, the direct path: peek at a burst of the guest's TX chains; a packet for a guest whose
 * RX vring this worker owns is copied from one guest's buffers into the other's (one copy, no
 * mbuf); every other packet (flood, wire, another worker's vring, a runt) is copied into an mbuf
 * and switched as usual. The TX chains go back to the guest after every copy from them and before
 * the receivers' used indexes move (riov_virtq_publish_rx): delivery is at most once across a kill. */
static uint16_t vhost_tx(struct dp_ctx *c, struct dp_port *p, struct dp_vq_pair *qp)
{
	struct riov_virtq_pkt pk[RIOV_VIRTQ_BURST];
	struct riov_virtq_pkt *grp[DP_OUT_SLOTS][RIOV_VIRTQ_BURST];
	struct dp_vq_pair *gqp[DP_OUT_SLOTS];
	uint16_t gn[DP_OUT_SLOTS];
	unsigned ng = 0;
	struct rte_mbuf *rest[RIOV_VIRTQ_BURST];
	uint16_t nr = 0;
	const unsigned w = c->w->idx;

	uint16_t n = riov_virtq_peek(&qp->txq, c->dp->mp, pk, RIOV_VIRTQ_BURST);
	if (n == 0)
		return 0;
	dp_burst_in(c);   /* out: dp_worker_main(), once what this burst staged is flushed */
	struct dp_addr_cache ac = DP_ADDR_CACHE_INIT;
	struct dp_port *last_port = NULL;          /* last_out's port, when last_g >= 0 */
	int last_out = DP_SW_FLOOD, last_g = -1;   /* last_g: group of last_out, -1 none, -2 mbuf */
	bool last_multi = false;                   /* last_out has several queue pairs: no reuse */

	for (uint16_t i = 0; i < n; i++) {
		struct riov_virtq_pkt *k = &pk[i];
		if (k->bad)
			continue;
		if (k->m != NULL || k->len < RTE_ETHER_HDR_LEN || unlikely(k->has_ol))
			goto to_mbuf;
		const struct rte_ether_hdr *eh = (const struct rte_ether_hdr *)(const void *)k->peek;
		int out = dp_switch_addr(p->net, p->id, true, true, eh, &ac);
		if (unlikely(out == DP_SW_DROP_LOOP)) {
			count_drop(p, w, RIOV_DP_DROP_LOOP, 1);
			continue;
		}
		if (out < 0 || out == p->id)
			goto to_mbuf;   /* flood, or the switch's drop rules */
		if (out != last_out || last_multi) {
			last_out = out;
			last_g = -1;
		}
		if (last_g == -1) {
			struct dp_vq_pair *dq = own_rx_pair(c, (uint16_t)out, k, &last_multi, &last_port);
			last_g = -2;
			for (unsigned g = 0; dq != NULL && g < ng; g++)
				if (gqp[g] == dq)
					last_g = (int)g;
			if (dq != NULL && last_g == -2 && ng < DP_OUT_SLOTS) {
				gqp[ng] = dq;
				gn[ng] = 0;
				last_g = (int)ng++;
			}
		}
		if (last_g >= 0) {
			if (unlikely(!fits_mtu(last_port, k->peek, k->len)))
				count_drop(last_port, w, RIOV_DP_DROP_MTU, 1);
			else
				grp[last_g][gn[last_g]++] = k;
			continue;
		}
to_mbuf:;
		struct rte_mbuf *m = riov_virtq_pkt_mbuf(c->dp->mp, k);
		if (m == NULL)
			count_drop(p, w, RIOV_DP_DROP_NO_MBUF, 1);
		else if (unlikely(k->has_ol) && !offload_in(p, w, qp, k, m))
			continue;
		else
			rest[nr++] = m;
	}
	uint32_t got = 0;   /* groups that delivered something */
	unsigned delivered = 0;
	RTE_BUILD_BUG_ON(DP_OUT_SLOTS > 32);
	for (unsigned g = 0; g < ng; g++) {
		uint16_t d = riov_virtq_enqueue_pkts(&gqp[g]->rxq, c->dp->mp, grp[g], gn[g]);
		if (d) {
			got |= 1u << g;
			delivered += d;
		}
	}
	/* the sender's chains complete before the receivers see the copies: a riovd killed in
	 * between loses these frames rather than sending them again after its restart */
	riov_virtq_peek_done(&qp->txq, pk, n);
#if RIOV_FAULT_INJECTION
	if (unlikely(delivered != 0 &&
		     atomic_load_explicit(&c->dp->fault_kill_direct, memory_order_relaxed) != 0))
		fault_kill_direct(c->dp, delivered);
#else
	(void)delivered;
#endif
	for (unsigned g = 0; g < ng; g++) {
		riov_virtq_publish_rx(&gqp[g]->rxq);
		if (got & (1u << g))
			notify_later(c, &gqp[g]->rxq);
	}
	notify_later(c, &qp->txq);
	if (nr)
		dp_switch_burst(c, p, rest, nr);
	return n;
}

/* A RARP from the guest's announced address, broadcast into its network the way QEMU announces a
 * guest that cannot announce itself (ethertype 0x8035, RFC 903 reverse request, padded to 60
 * bytes): the switch learns the address on this port, the other ports (and the fabric behind an
 * uplink) learn it from the flood. No mbuf: the next poll tries again. */
static void send_announce(struct dp_ctx *c, struct dp_port *p)
{
	uint64_t a = atomic_exchange_explicit(&p->announce, 0, memory_order_acquire);
	struct rte_mbuf *m = rte_pktmbuf_alloc(c->dp->mp);
	uint8_t mac[RTE_ETHER_ADDR_LEN];

	if (m == NULL) {
		atomic_compare_exchange_strong(&p->announce, &(uint64_t){ 0 }, a);
		return;
	}
	for (unsigned i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		mac[i] = (uint8_t)(a >> (40 - 8 * i));
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN);
	if (f == NULL) {   /* no room in a fresh mbuf: cannot happen with riovd's pool */
		rte_pktmbuf_free(m);
		return;
	}
	memset(f, 0, RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN);
	memset(f, 0xff, RTE_ETHER_ADDR_LEN);                     /* to everyone */
	memcpy(f + 6, mac, RTE_ETHER_ADDR_LEN);                  /* from the guest */
	static const uint8_t rarp[] = { 0x80, 0x35,              /* RARP */
					0x00, 0x01, 0x08, 0x00,  /* Ethernet, IPv4 */
					0x06, 0x04, 0x00, 0x03 };/* 6, 4, reverse request */
	memcpy(f + 12, rarp, sizeof(rarp));
	memcpy(f + 22, mac, RTE_ETHER_ADDR_LEN);                 /* sender: the guest */
	memcpy(f + 32, mac, RTE_ETHER_ADDR_LEN);                 /* target: the guest */
	p->wstats[c->w->idx].announces++;
	dp_switch_burst(c, p, &m, 1);
}

static uint16_t poll_vhost(struct dp_ctx *c, struct dp_port *p, uint16_t q)
{
	struct dp_vq_pair *qp = &p->qp[q];
	struct rte_mbuf *m[RIOV_VIRTQ_BURST];

	/* RX packets held for a vIOMMU translation (riov_virtq_enqueue) */
	if (unlikely(qp->rxq.n_held) && qp->owner == c->w->idx &&
	    atomic_load_explicit(&qp->rx_running, memory_order_acquire) &&
	    riov_virtq_flush_held(&qp->rxq))
		notify_later(c, &qp->rxq);
	/* packets held while vmm paused the guest's vrings: on their way again once it is over */
	if (unlikely(q == 0 && rte_ring_count(p->hold) != 0) &&
	    !atomic_load_explicit(&p->holding, memory_order_acquire)) {
		unsigned k = rte_ring_sc_dequeue_burst(p->hold, (void **)m, RIOV_VIRTQ_BURST, NULL);
		if (k) {
			dp_burst_in(c);
			flush_vhost(c, p, m, (uint16_t)k);
			dp_burst_out(c);
		}
	}
	if (unlikely(q == 0 && atomic_load_explicit(&p->announce, memory_order_relaxed) != 0))
		send_announce(c, p);
	/* packets other workers handed to this worker for the guest's RX vring */
	if (qp->ring != NULL && atomic_load_explicit(&qp->rx_running, memory_order_acquire)) {
		unsigned k = rte_ring_sc_dequeue_burst(qp->ring, (void **)m, RIOV_VIRTQ_BURST, NULL);
		if (k) {
			dp_burst_in(c);
			vhost_deliver(c, p, qp, m, (uint16_t)k);
			dp_burst_out(c);
		}
	}
	if (!atomic_load_explicit(&qp->tx_running, memory_order_acquire))
		return 0;
	return vhost_tx(c, p, qp);
}

static uint16_t poll_eth(struct dp_ctx *c, struct dp_port *p, uint16_t q)
{
	struct rte_mbuf *m[RIOV_VIRTQ_BURST];
	uint16_t n = rte_eth_rx_burst(p->eth_id, q, m, RIOV_VIRTQ_BURST);

	if (n == 0)
		return 0;
	dp_burst_in(c);
	struct dp_qstats *st = &p->wstats[c->w->idx];
	uint64_t bytes = 0;
	for (uint16_t i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(m[i]);
	st->rx_packets += n;
	st->rx_bytes += bytes;
	uint16_t k = n;
	if (p->gro && n > 1) {
		/* TCP segments from the network into TSO frames (counted as offload frames taken) */
		struct riov_gro_stats gs = { 0 };
		k = riov_gro_burst(m, n, &gs);
		st->ol.frames_in += gs.frames;
	}
	dp_switch_burst(c, p, m, k);
	return n;
}

#define DP_IDLE_LOOPS 1024

void riov_dp_fault_hang_worker(struct riov_dp *dp, unsigned idx)
{
#if RIOV_FAULT_INJECTION
	atomic_store_explicit(&dp->fault_hang, idx + 1, memory_order_relaxed);
#else
	(void)dp;
	(void)idx;
#endif
}

void riov_dp_fault_kill_direct(struct riov_dp *dp, uint64_t frames)
{
#if RIOV_FAULT_INJECTION
	atomic_store_explicit(&dp->fault_kill_direct, frames, memory_order_relaxed);
#else
	(void)dp;
	(void)frames;
#endif
}


#if RIOV_FAULT_INJECTION
/* The test-only hang: no polls, no loops counted, no quiescent state; only a stop ends it. */
static __rte_noinline void fault_hang(struct riov_dp *dp)
{
	while (!atomic_load_explicit(&dp->stop, memory_order_relaxed))
		rte_pause();
}
#endif

int dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct riov_dp *dp = w->dp;
	struct dp_ctx c = { .w = w, .dp = dp };

	rte_rcu_qsbr_thread_register(dp->qs, w->idx);
	rte_rcu_qsbr_thread_online(dp->qs, w->idx);
	/* Busy and idle cycles: a loop that moved frames (took a burst from any input, a handoff
	 * or hold ring too: c.t_first is set) reads the TSC at its end and is busy since the
	 * previous read when that ended the loop before (`timed`); after loops not timed it is busy
	 * only since its first burst, the rest idle (loops that find nothing read the TSC once in 64
	 * only, a TSC read costing ~20 ns in a VM, as much as an idle poll; and a nap is idle). So
	 * the cycles of a busy loop before its first burst are idle when it follows idle loops. */
	uint64_t t_prev = rte_rdtsc();
	bool timed = true;
	unsigned empty = 0;
	const struct timespec nap = { .tv_nsec = (long)dp->idle_sleep_us * 1000 };
	while (!atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
		unsigned got = 0;
		struct dp_poll_table *t = atomic_load_explicit(&w->table, memory_order_acquire);

		/* got: frames taken from inputs (riov_dp_worker_stats.packets); each burst's latency
		 * ends once what it staged is flushed (dp_burst_out) */
		for (unsigned i = 0; t != NULL && i < t->n; i++) {
			struct dp_port *p = port_get(dp, t->polls[i].port);
			if (p == NULL)
				continue;
			switch (t->polls[i].kind) {
			case DP_POLL_VHOST: got += poll_vhost(&c, p, t->polls[i].queue); break;
			case DP_POLL_ETH: got += poll_eth(&c, p, t->polls[i].queue); break;
			case DP_POLL_UPLINK: got += dp_poll_uplink(&c, p, t->polls[i].queue); break;
			case DP_POLL_TAP: got += dp_poll_tap(&c, p); break;
			}
			flush_all(&c);
			dp_burst_out(&c);
		}
		if (atomic_load_explicit(&dp->rdma_set, memory_order_relaxed) != NULL) {
			got += dp_poll_rdma(&c);
			flush_all(&c);
			dp_burst_out(&c);
		}
		notify_flush(&c);
#if RIOV_FAULT_INJECTION
		if (unlikely(atomic_load_explicit(&dp->fault_hang, memory_order_relaxed) == w->idx + 1))
			fault_hang(dp);
#endif
		w->loops++;
		w->packets += got;
		const bool busy = c.t_first != 0;
		if (busy) {
			const uint64_t now = rte_rdtsc();
			const uint64_t start = timed ? t_prev : c.t_first;
			w->idle_cycles += start - t_prev;
			w->busy_cycles += now - start;
			w->busy_loops++;
			t_prev = now;
			timed = true;
			c.t_first = 0;
		} else if ((w->loops & 63) == 0) {
			const uint64_t now = rte_rdtsc();
			w->idle_cycles += now - t_prev;
			t_prev = now;
			timed = true;
		} else {
			timed = false;
		}
		rte_rcu_qsbr_quiescent(dp->qs, w->idx);
		/* idle_sleep_us: after DP_IDLE_LOOPS loops in a row that moved nothing, nap between
		 * polls (offline for RCU meanwhile, so that publish-and-wait does not wait for the nap) */
		empty = busy ? 0 : empty + 1;
		if (unlikely(nap.tv_nsec != 0 && empty >= DP_IDLE_LOOPS)) {
			rte_rcu_qsbr_thread_offline(dp->qs, w->idx);
			nanosleep(&nap, NULL);
			rte_rcu_qsbr_thread_online(dp->qs, w->idx);
			timed = false;
		}
	}
	rte_rcu_qsbr_thread_offline(dp->qs, w->idx);
	rte_rcu_qsbr_thread_unregister(dp->qs, w->idx);
	return 0;
}
