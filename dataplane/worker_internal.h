/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What worker.c (guests, eth ports, the switch) and fabric_worker.c (uplinks, remote VTEPs) share
 * on the fast path. Worker lcores only: see worker.c's thread rules.
 */
#ifndef RIOV_DATAPLANE_WORKER_INTERNAL_H
#define RIOV_DATAPLANE_WORKER_INTERNAL_H

#include <rte_cycles.h>
#include <rte_ether.h>

#include "dataplane/dp_internal.h"

#define DP_OUT_SLOTS 8
#define DP_NOTIFY_MAX 16

/* Packets staged for one output port during a poll. */
struct dp_out {
	uint16_t port;
	uint16_t n;
	struct rte_mbuf *m[RIOV_VIRTQ_BURST];
};

/* One worker's state while it polls. */
struct dp_ctx {
	struct dp_worker *w;
	struct riov_dp *dp;
	unsigned n_out;
	struct dp_out out[DP_OUT_SLOTS];
	/* vrings with used entries published this loop: their notify checks share one barrier at the
	 * end of the loop (before the quiescent point: the pointers are not kept past it) */
	unsigned n_notify;
	struct riov_virtq *notify[DP_NOTIFY_MAX];
	/* the worker's latency histogram: TSC when the burst in hand was taken (0: none), and when
	 * this loop's first burst was (0: none yet; dp_worker_main() times busy loops with it) */
	uint64_t t_in;
	uint64_t t_first;
};

static inline struct dp_port *port_get(struct riov_dp *dp, uint16_t id)
{
	struct dp_port *p = atomic_load_explicit(&dp->ports[id], memory_order_acquire);
	if (p == NULL || atomic_load_explicit(&p->deleting, memory_order_relaxed))
		return NULL;
	return p;
}

/* Does a frame of len bytes starting at f fit port p's MTU? One 802.1Q tag may come on top of it
 * (callers checked that a frame longer than an Ethernet header has its first 14 bytes at f). */
static inline bool fits_mtu(const struct dp_port *p, const uint8_t *f, uint32_t len)
{
	if (likely(len <= p->max_frame))
		return true;
	return len <= p->max_frame + RTE_VLAN_HLEN && f[12] == 0x81 && f[13] == 0x00;
}

/* A burst's latency (riov_dp_worker_stats.latency): dp_burst_in() once its input gave frames (an
 * empty poll costs nothing), dp_burst_out() once its last frame was handed on. Between the two a
 * second dp_burst_in() keeps the first time: the frames of the RDMA links a worker polls together
 * are one burst. A TSC read each, and the record: no division, no floating point. */
static inline void dp_burst_in(struct dp_ctx *c)
{
	if (c->t_in == 0)
		c->t_in = rte_rdtsc();
}

static inline void dp_burst_out(struct dp_ctx *c)
{
	if (c->t_in == 0)
		return;
	const uint64_t now = rte_rdtsc();
	riov_loop_hist_add(&c->w->latency, riov_loop_hist_ns(now - c->t_in, c->w->ns_mult));
	if (c->t_first == 0)
		c->t_first = c->t_in;
	c->t_in = 0;
}

static inline void count_drop(struct dp_port *p, unsigned w, enum riov_dp_drop cause, uint64_t n)
{
	p->wstats[w].drops[cause] += n;
}

/* worker.c */

/** Switch a burst received on port `in` (in its network) and stage it for output. */
void dp_switch_burst(struct dp_ctx *c, struct dp_port *in, struct rte_mbuf **m, uint16_t n);
/** Send n frames out of eth device port p (its TX queue of this worker); counts, frees the rest. */
void dp_flush_eth(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf **m, uint16_t n);

/* fabric_worker.c */

/** Poll RX queue q of uplink up: VXLAN for this node into its networks, the rest to the kernel. */
uint16_t dp_poll_uplink(struct dp_ctx *c, struct dp_port *up, uint16_t q);
/** Poll uplink up's exception TAP: what the kernel sends goes out of the uplink. */
uint16_t dp_poll_tap(struct dp_ctx *c, struct dp_port *up);
/** Encapsulate n frames for remote VTEP p and send them out of its uplink (frees them). */
void dp_vtep_send(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf **m, uint16_t n);
/** Poll the RDMA links this worker owns (docs/rdma.md): received frames into their VNI's network
 *  through the sending peer's VTEP port, as decapsulated VXLAN. @return frames received. */
uint16_t dp_poll_rdma(struct dp_ctx *c);

/* How frames for a remote VTEP leave: over the peer's RDMA link, or VXLAN. */
enum dp_rdma_path { DP_RDMA_PATH_VXLAN = 0, DP_RDMA_PATH_RDMA };
/** The path for frames that worker w has for a VTEP whose peer has link rp (NULL: none) that is
 *  up or not: RDMA only on the owner's link while it is up (others' frames go by VXLAN: no
 *  hand-off between workers). Frames the link then has no room for fall back to VXLAN. */
enum dp_rdma_path dp_rdma_choose(const struct dp_rdma_peer *rp, unsigned w, bool up);
/* Whether a frame of len bytes, longer than VTEP port p's VXLAN MTU, goes whole over p's peer's
 * RDMA link from this worker (the link is up, this worker owns it, and a message holds it). A
 * frame that then falls back to VXLAN is dropped as over the MTU there. */
bool dp_vtep_rdma_fits(const struct dp_ctx *c, const struct dp_port *p, uint32_t len);
/** The offloads (RIOV_OL_* bits) VTEP port p takes whole for a frame of len bytes with offload
 *  metadata: all of them while this worker's RDMA link to the peer is up and a message holds the
 *  frame with its metadata (riov_rdma_link_ol_frame_max()), else none (VXLAN: the frame is
 *  checksummed or segmented before encapsulation). */
unsigned dp_vtep_rdma_accepts(const struct dp_ctx *c, const struct dp_port *p, uint32_t len);

/* worker.c */

/** Send m[0..n) out of port p as the switch does (MTU, offload plan, the port's kind). */
void dp_egress(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf **m, uint16_t n);

#endif
