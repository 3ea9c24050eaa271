/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fabric's fast path (DESIGN.md "Fabric", issue 13): an uplink's frames sorted into VXLAN for
 * this node (decapsulated into the VNI's network, through the port of the VTEP that sent it) and
 * the kernel's (out of the exception TAP), the kernel's frames out of the uplink, and frames for
 * remote VTEPs encapsulated with their next hop's template.
 *
 * Thread rules: worker lcores only (worker.c's). What the control thread publishes (VNI map,
 * VTEP lists, next hops) is read under RCU QSBR and not kept past the poll.
 *
 * Security model: the underlay is anyone's. riov_vxlan_parse() (vxlan.h) checks every outer header
 * before anything is trusted; a frame is decapsulated only for this uplink's address, a VNI a
 * network has, and a sender that network has as a remote VTEP; anything else VXLAN-like is
 * counted by cause and dropped; a frame with this uplink's own source MAC (af_packet shows a
 * socket what it sent) is dropped as looped rather than given to the kernel as its own again.
 */
#include <string.h>

#include <rte_ethdev.h>
#include <rte_ether.h>

#include "dataplane/offload.h"
#include "dataplane/rdma_link.h"
#include "dataplane/vxlan.h"
#include "dataplane/worker_internal.h"

_Static_assert(RIOV_DP_DROP_VX_UNKNOWN_VNI - RIOV_DP_DROP_VX_TRUNCATED ==
		       RIOV_VXLAN_DROP_UNKNOWN_VNI - RIOV_VXLAN_DROP_TRUNCATED,
	       "dp.h's vxlan_* causes follow enum riov_vxlan_drop");

/* The network of vni, or NULL. */
static struct dp_net *vni_net(struct riov_dp *dp, uint32_t vni)
{
	const struct dp_vni_map *m = atomic_load_explicit(&dp->vni_map, memory_order_acquire);
	unsigned lo = 0, hi = m != NULL ? m->n : 0;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (m->e[mid].vni == vni)
			return dp->nets[m->e[mid].net];
		if (m->e[mid].vni < vni)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The port of remote VTEP ip in net, or NULL. */
static struct dp_port *net_vtep(struct dp_ctx *c, struct dp_net *net, uint32_t ip)
{
	const struct dp_vteps *v = atomic_load_explicit(&net->vteps, memory_order_acquire);

	for (unsigned i = 0; v != NULL && i < v->n; i++)
		if (v->v[i].ip == ip)
			return port_get(c->dp, v->v[i].port);
	return NULL;
}

/* The last sender looked up, for the frames of a burst that repeat it. */
struct dp_decap_cache {
	uint32_t vni, ip;
	struct dp_port *port;      /* NULL: not there */
	enum riov_dp_drop cause;   /* why not */
};

static struct dp_port *decap_port(struct dp_ctx *c, const struct riov_vxlan_rx *rx, struct dp_decap_cache *dc)
{
	if (dc->vni == rx->vni && dc->ip == rx->src_ip && dc->port != NULL)
		return dc->port;
	dc->vni = rx->vni;
	dc->ip = rx->src_ip;
	struct dp_net *net = vni_net(c->dp, rx->vni);
	if (net == NULL) {
		dc->cause = RIOV_DP_DROP_VX_UNKNOWN_VNI;
		dc->port = NULL;
		return NULL;
	}
	dc->port = net_vtep(c, net, rx->src_ip);
	dc->cause = RIOV_DP_DROP_UNKNOWN_VTEP;
	return dc->port;
}

/* The outer headers off: m becomes the inner frame (its outer trailer, if any, cut too). */
static bool decap(struct rte_mbuf *m, const struct riov_vxlan_rx *rx)
{
	if (rte_pktmbuf_adj(m, rx->inner_off) == NULL)
		return false;   /* a first segment shorter than the outer headers */
	uint32_t extra = rte_pktmbuf_pkt_len(m) - rx->inner_len;
	if (extra != 0 && (extra > UINT16_MAX || rte_pktmbuf_trim(m, (uint16_t)extra) != 0))
		return false;
	/* the device's receive metadata was about the outer frame */
	m->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
	m->packet_type = 0;
	return true;
}

/* n decapsulated frames (bytes in all) from remote VTEP port vp into its network's switch. */
static inline void vtep_rx(struct dp_ctx *c, struct dp_port *vp, struct rte_mbuf **m, uint16_t n, uint64_t bytes)
{
	struct dp_qstats *vs = &vp->wstats[c->w->idx];

	vs->rx_packets += n;
	vs->rx_bytes += bytes;
	dp_switch_burst(c, vp, m, n);
}

/* One burst from an uplink being sorted: the decapsulated frames of the current VTEP (a group,
 * handed to the switch when the sender changes) and the kernel's frames. */
struct uplink_burst {
	struct dp_decap_cache dc;
	struct dp_port *gport;
	uint64_t g_bytes;
	uint16_t ng, nk;
	struct rte_mbuf *grp[RIOV_VIRTQ_BURST], *kern[RIOV_VIRTQ_BURST];
};

/* k decapsulated frames (bytes in all) from VTEP port vp join the burst's group. */
static inline void group_add_run(struct dp_ctx *c, struct uplink_burst *b, struct dp_port *vp,
				 struct rte_mbuf *const *x, uint16_t k, uint64_t bytes)
{
	if (vp != b->gport) {
		if (b->ng)
			vtep_rx(c, b->gport, b->grp, b->ng, b->g_bytes);
		b->ng = 0;
		b->g_bytes = 0;
		b->gport = vp;
	}
	memcpy(b->grp + b->ng, x, k * sizeof(*x));
	b->ng = (uint16_t)(b->ng + k);
	b->g_bytes += bytes;
}

/* Decapsulated frame x (its headers off) from VTEP port vp joins the burst's group. */
static inline void group_add(struct dp_ctx *c, struct uplink_burst *b, struct dp_port *vp, struct rte_mbuf *x)
{
	group_add_run(c, b, vp, &x, 1, rte_pktmbuf_pkt_len(x));
}

/* Every frame the inline path did not take: read whole if need be, sorted field by field (the
 * kernel's, dropped with its cause, or decapsulated). Out of line: the loop stays small. */
static __rte_noinline void uplink_slow(struct dp_ctx *c, struct dp_port *up, struct uplink_burst *b,
				       struct rte_mbuf *x)
{
	uint8_t buf[RIOV_VXLAN_OUTER_LEN + RTE_ETHER_HDR_LEN];
	const uint32_t len = rte_pktmbuf_pkt_len(x);
	const uint32_t hl = RTE_MIN(len, (uint32_t)sizeof(buf));
	const uint8_t *h = rte_pktmbuf_read(x, 0, hl, buf);
	const unsigned w = c->w->idx;
	struct riov_vxlan_rx rx;
	enum riov_dp_drop cause;

	if (h == NULL || hl < RTE_ETHER_HDR_LEN) {
		cause = RIOV_DP_DROP_BAD_DESC;
		goto drop;
	}
	if (memcmp(h + RTE_ETHER_ADDR_LEN, up->mac, RTE_ETHER_ADDR_LEN) == 0) {
		cause = RIOV_DP_DROP_LOOP;
		goto drop;
	}
	switch (riov_vxlan_parse(h, hl, len, up->vtep_ip, &rx)) {
	case RIOV_VXLAN_NOT_VXLAN:
		b->kern[b->nk++] = x;
		return;
	case RIOV_VXLAN_DROPPED:
		cause = (enum riov_dp_drop)(RIOV_DP_DROP_VX_TRUNCATED + rx.cause);
		goto drop;
	case RIOV_VXLAN_DECAP:
		break;
	}
	struct dp_port *vp = decap_port(c, &rx, &b->dc);
	if (vp == NULL) {
		cause = b->dc.cause;
		goto drop;
	}
	if (!decap(x, &rx)) {
		cause = RIOV_DP_DROP_VX_TRUNCATED;
		goto drop;
	}
	group_add(c, b, vp, x);
	return;
drop:
	count_drop(up, w, cause, 1);
	rte_pktmbuf_free(x);
}

uint16_t dp_poll_uplink(struct dp_ctx *c, struct dp_port *up, uint16_t q)
{
	struct rte_mbuf *m[RIOV_VIRTQ_BURST];
	uint16_t n = rte_eth_rx_burst(up->eth_id, q, m, RIOV_VIRTQ_BURST);
	struct uplink_burst b;
	const unsigned w = c->w->idx;

	if (n == 0)
		return 0;
	dp_burst_in(c);
	b.dc.vni = UINT32_MAX;
	b.dc.ip = 0;
	b.dc.port = NULL;
	b.gport = NULL;
	b.g_bytes = 0;
	b.ng = 0;
	b.nk = 0;
	uint64_t rx_bytes = 0;   /* counted once per burst */
	struct riov_vxlan_same same = { .frame_len = 0 };   /* the inline path's last frame */
	struct dp_port *same_port = NULL;                      /* and its VTEP's port */
	for (uint16_t i = 0; i < n;) {
		struct rte_mbuf *x = m[i];
		const uint32_t len = rte_pktmbuf_pkt_len(x);
		const uint8_t *h = rte_pktmbuf_mtod(x, const uint8_t *);
		struct riov_vxlan_rx rx;

		/* a run of frames that repeat the last inline frame's outer headers (same length, one
		 * segment each): the same checks would pass with the same result, so the run is
		 * decapsulated as that frame was and joins its VTEP's group whole */
		if (likely(rte_pktmbuf_data_len(x) == len) && likely(riov_vxlan_same_match(&same, h, len))) {
			uint16_t j = (uint16_t)(i + 1);
			while (j < n && rte_pktmbuf_data_len(m[j]) == len && rte_pktmbuf_pkt_len(m[j]) == len &&
			       riov_vxlan_same_match(&same, rte_pktmbuf_mtod(m[j], const uint8_t *), len))
				j++;
			const uint16_t k = (uint16_t)(j - i), inner_dlen = (uint16_t)(len - RIOV_VXLAN_OUTER_LEN);
			for (uint16_t r = i; r < j; r++) {
				struct rte_mbuf *y = m[r];
				y->data_off = (uint16_t)(y->data_off + RIOV_VXLAN_OUTER_LEN);
				y->data_len = inner_dlen;
				y->pkt_len = same.inner_len;
				y->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
				y->packet_type = 0;
			}
			group_add_run(c, &b, same_port, m + i, k, (uint64_t)k * same.inner_len);
			rx_bytes += (uint64_t)k * len;
			i = j;
			continue;
		}
		rx_bytes += len;
		i++;
		/* the common frame: its headers in the first segment, well-formed VXLAN from the
		 * sender of the frame before, no Ethernet padding (else uplink_slow) */
		if (likely(rte_pktmbuf_data_len(x) >= RIOV_VXLAN_OUTER_LEN + RTE_ETHER_HDR_LEN) &&
		    likely(memcmp(h + RTE_ETHER_ADDR_LEN, up->mac, RTE_ETHER_ADDR_LEN) != 0) &&
		    likely(riov_vxlan_parse_fast(h, RIOV_VXLAN_OUTER_LEN + RTE_ETHER_HDR_LEN, len, up->vtep_ip, &rx)) &&
		    likely(rx.vni == b.dc.vni && rx.src_ip == b.dc.ip && b.dc.port != NULL) &&
		    likely(rx.inner_len + RIOV_VXLAN_OUTER_LEN == len)) {
			if (rte_pktmbuf_data_len(x) == len) {
				riov_vxlan_same_set(&same, h, len, &rx);
				same_port = b.dc.port;
			}
			x->data_off = (uint16_t)(x->data_off + RIOV_VXLAN_OUTER_LEN);
			x->data_len = (uint16_t)(x->data_len - RIOV_VXLAN_OUTER_LEN);
			x->pkt_len = rx.inner_len;
			x->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
			x->packet_type = 0;
			group_add(c, &b, b.dc.port, x);
			continue;
		}
		uplink_slow(c, up, &b, x);
	}
	struct dp_qstats *st = &up->wstats[w];
	st->rx_packets += n;
	st->rx_bytes += rx_bytes;
	if (b.ng)
		vtep_rx(c, b.gport, b.grp, b.ng, b.g_bytes);
	if (b.nk) {
		uint16_t sent = rte_eth_tx_burst(up->tap_id, (uint16_t)w, b.kern, b.nk);
		if (sent < b.nk) {
			count_drop(up, w, RIOV_DP_DROP_RING_FULL, b.nk - sent);
			rte_pktmbuf_free_bulk(b.kern + sent, b.nk - sent);
		}
	}
	return n;
}

uint16_t dp_poll_tap(struct dp_ctx *c, struct dp_port *up)
{
	struct rte_mbuf *m[RIOV_VIRTQ_BURST];
	uint16_t n = rte_eth_rx_burst(up->tap_id, 0, m, RIOV_VIRTQ_BURST);

	if (n) {
		dp_burst_in(c);
		dp_flush_eth(c, up, m, n);
	}
	return n;
}

/* ---- RDMA peer links (docs/rdma.md): the worker that owns a link sends on it and polls it ---- */

/* Frames m[0..n) for VTEP port p over its peer's link rp: as many as the link takes (sent, or
 * refused as no message can carry them: the link counts those), freed here. @return how many. */
static uint16_t rdma_send(struct dp_ctx *c, struct dp_port *p, struct dp_rdma_peer *rp, struct rte_mbuf **m,
			  uint16_t n)
{
	uint32_t vni[RIOV_VIRTQ_BURST];
	const uint32_t v = p->net->vni;
	uint16_t done = 0;

	for (unsigned i = 0; i < (unsigned)RTE_MIN(n, (uint16_t)RIOV_VIRTQ_BURST); i++)
		vni[i] = v;
	while (done < n) {
		const uint16_t b = (uint16_t)RTE_MIN(n - done, RIOV_VIRTQ_BURST);
		const uint16_t k = riov_rdma_link_tx(rp->link, m + done, vni, b);
		uint64_t bytes = 0;
		for (uint16_t i = 0; i < k; i++)
			bytes += rte_pktmbuf_pkt_len(m[done + i]);
		rte_pktmbuf_free_bulk(m + done, k);
		p->wstats[c->w->idx].tx_packets += k;
		p->wstats[c->w->idx].tx_bytes += bytes;
		rp->tx_frames += k;
		rp->tx_bytes += bytes;
		done = (uint16_t)(done + k);
		if (k < b)
			break;
	}
	return done;
}

enum dp_rdma_path dp_rdma_choose(const struct dp_rdma_peer *rp, unsigned w, bool up)
{
	if (rp == NULL)
		return DP_RDMA_PATH_VXLAN;        /* no link to this peer */
	if (rp->worker != w)
		return DP_RDMA_PATH_VXLAN;        /* another worker's link: no hand-off (docs/rdma.md) */
	return up ? DP_RDMA_PATH_RDMA : DP_RDMA_PATH_VXLAN;
}

bool dp_vtep_rdma_fits(const struct dp_ctx *c, const struct dp_port *p, uint32_t len)
{
	const struct dp_rdma_peer *rp = atomic_load_explicit(&p->rdma, memory_order_acquire);

	return rp != NULL && rp->worker == c->w->idx && len <= riov_rdma_link_frame_max(rp->link);
}

unsigned dp_vtep_rdma_accepts(const struct dp_ctx *c, const struct dp_port *p, uint32_t len)
{
	const struct dp_rdma_peer *rp = atomic_load_explicit(&p->rdma, memory_order_acquire);

	if (rp == NULL || rp->worker != c->w->idx || len > riov_rdma_link_ol_frame_max(rp->link))
		return 0;
	return RIOV_OL_CSUM | RIOV_OL_TSO4 | RIOV_OL_TSO6 | RIOV_OL_ECN;
}

uint16_t dp_poll_rdma(struct dp_ctx *c)
{
	const struct dp_rdma_set *s = atomic_load_explicit(&c->dp->rdma_set, memory_order_acquire);
	const unsigned w = c->w->idx;
	struct rte_mbuf *m[RIOV_VIRTQ_BURST];
	uint32_t vni[RIOV_VIRTQ_BURST];
	uint16_t got = 0;

	for (unsigned l = 0; s != NULL && l < s->n; l++) {
		struct dp_rdma_peer *rp = s->p[l];
		if (rp->worker != w)
			continue;
		/* every loop, frames or not: it is also the link's quiescent point (rdma_link.h) */
		const uint16_t n = riov_rdma_link_poll(rp->link, m, vni, RIOV_VIRTQ_BURST);
		got = (uint16_t)(got + n);
		if (n)
			dp_burst_in(c);
		/* a run of one VNI at a time into its network, through the sender's VTEP port: the path
		 * of decapsulated VXLAN (split horizon, learning, counters) */
		for (uint16_t i = 0; i < n;) {
			uint16_t j = (uint16_t)(i + 1);
			while (j < n && vni[j] == vni[i])
				j++;
			uint64_t bytes = 0, ol_in = 0;
			for (uint16_t r = i; r < j; r++) {
				bytes += rte_pktmbuf_pkt_len(m[r]);
				ol_in += (m[r]->ol_flags & RIOV_OL_MBUF_FLAGS) != 0;
			}
			rp->rx_frames += (uint64_t)(j - i);
			rp->rx_bytes += bytes;
			struct dp_net *net = vni_net(c->dp, vni[i]);
			struct dp_port *vp = net != NULL ? net_vtep(c, net, rp->ip) : NULL;
			if (vp == NULL) {
				if (net == NULL)
					rp->unknown_vni += (uint64_t)(j - i);
				else
					rp->unknown_vtep += (uint64_t)(j - i);
				rte_pktmbuf_free_bulk(m + i, (unsigned)(j - i));
			} else {
				vp->wstats[w].ol.frames_in += ol_in;   /* whole TSO frames from the peer */
				vtep_rx(c, vp, m + i, (uint16_t)(j - i), bytes);
			}
			i = j;
		}
	}
	return got;
}

void dp_vtep_send(struct dp_ctx *c, struct dp_port *p, struct rte_mbuf **m, uint16_t n)
{
	const unsigned w = c->w->idx;
	struct dp_rdma_peer *rp = atomic_load_explicit(&p->rdma, memory_order_acquire);

	/* the peer's RDMA link when this worker owns it and it is up. What it has no room for (every
	 * send buffer queued or in flight: the peer is slower than its senders) is dropped like a
	 * full transmit ring's: sent by VXLAN instead, it would overtake the frames queued before it. */
	if (unlikely(rp != NULL)) {
		const bool up = riov_rdma_link_state(rp->link) == RIOV_RDMA_LINK_UP;
		if (dp_rdma_choose(rp, w, up) == DP_RDMA_PATH_RDMA) {
			const uint16_t k = rdma_send(c, p, rp, m, n);
			if (unlikely(k < n)) {
				count_drop(p, w, RIOV_DP_DROP_RING_FULL, (uint16_t)(n - k));
				rte_pktmbuf_free_bulk(m + k, (unsigned)(n - k));
			}
			return;
		}
		if (rp->worker == w)
			rp->fallback += n;      /* the link is not up: by VXLAN meanwhile */
		/* frames egress() let through whole for the link, which went down since: the
		 * software path makes them fit VXLAN (it sees the link down now) */
		for (uint16_t i = 0; i < n; i++)
			if (unlikely(m[i]->ol_flags & RIOV_OL_MBUF_FLAGS)) {
				dp_egress(c, p, m, n);
				return;
			}
	}

	const struct dp_vtep_nh *nh = atomic_load_explicit(&p->nh, memory_order_acquire);
	struct dp_port *up = nh != NULL ? port_get(c->dp, nh->uplink) : NULL;
	uint16_t k = 0;

	if (unlikely(up == NULL)) {
		count_drop(p, w, RIOV_DP_DROP_NO_NEXTHOP, n);
		rte_pktmbuf_free_bulk(m, n);
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *x = m[i];
		if (unlikely(rte_pktmbuf_pkt_len(x) > p->max_frame) &&
		    (rte_pktmbuf_data_len(x) < RTE_ETHER_HDR_LEN ||
		     !fits_mtu(p, rte_pktmbuf_mtod(x, const uint8_t *), rte_pktmbuf_pkt_len(x)))) {
			/* let through for the RDMA link (dp_vtep_rdma_fits), which could not take it */
			count_drop(p, w, RIOV_DP_DROP_MTU, 1);
			rte_pktmbuf_free(x);
			continue;
		}
		const uint16_t sport = riov_vxlan_src_port(x);
		/* in place when the frame is this port's alone, else a header in front of a clone
		 * (a flooded frame other ports share) */
		if (RTE_MBUF_DIRECT(x) && rte_mbuf_refcnt_read(x) == 1 &&
		    rte_pktmbuf_headroom(x) >= RIOV_VXLAN_OUTER_LEN && riov_vxlan_encap(x, &nh->t, sport) == 0) {
			m[k++] = x;
			continue;
		}
		struct rte_mbuf *y = riov_vxlan_encap_clone(x, &nh->t, sport, c->dp->mp, c->dp->mp_indirect);
		rte_pktmbuf_free(x);
		if (y == NULL) {
			count_drop(p, w, RIOV_DP_DROP_NO_MBUF, 1);
			continue;
		}
		m[k++] = y;
	}
	uint64_t bytes = 0;
	for (uint16_t i = 0; i < k; i++)
		bytes += rte_pktmbuf_pkt_len(m[i]);
	uint16_t sent = rte_eth_tx_burst(up->eth_id, (uint16_t)w, m, k);
	for (uint16_t i = sent; i < k; i++)
		bytes -= rte_pktmbuf_pkt_len(m[i]);
	if (sent < k) {
		count_drop(p, w, RIOV_DP_DROP_RING_FULL, k - sent);
		rte_pktmbuf_free_bulk(m + sent, k - sent);
	}
	p->wstats[w].tx_packets += sent;
	p->wstats[w].tx_bytes += bytes;
	up->wstats[w].tx_packets += sent;
	up->wstats[w].tx_bytes += bytes;
}
