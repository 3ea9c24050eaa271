/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split virtqueues, guest RX (virtio 1.2 2.7.13, virtio-net 5.1.6.3/5.1.6.4): copying packets
 * (mbufs, or packets peeked from another guest's TX ring) into the guest's RX buffers with a
 * virtio-net header, mergeable buffers when negotiated, and holding packets while the queue
 * waits for a vIOMMU translation.
 *
 * Security model: see virtq.c. RX buffers are guest memory, translated for WRITE before anything
 * is written there; the only guest bytes read back are the header's (vq_rx_hdr_same(): a guest
 * that changes them meanwhile only spoils its own packet).
 *
 * Thread rules: the worker that owns the queue; no locks; only mbufs are allocated (held packets).
 */
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include "common/log.h"
#include "dataplane/offload.h"
#include "dataplane/virtq.h"
#include "dataplane/virtq_internal.h"
#include "iommu/vtd_dp.h"


/* Fill the chain at `head` from the source. *written gets the bytes written to this chain; the host
 * addresses of the header's num_buffers bytes are recorded in nb[]. Returns 0 (chain full or packet
 * done) or VQ_E_BAD / VQ_E_FAULT / VQ_E_MISS. */
static int vq_rx_fill(struct riov_virtq *vq, uint16_t head, struct vq_rx_src *s, uint32_t *written,
		      uint8_t *nb[2])
{
	struct vq_chain ch;
	struct riov_vring_desc d;
	uint64_t addr = 0;       /* guest address of the untranslated rest of the descriptor */
	uint32_t left = 0;
	uint8_t *dst = NULL;     /* translated window: host address, guest address, bytes */
	uint64_t dst_gpa = 0;
	uint32_t dst_left = 0;

	*written = 0;
	vq_chain_start(vq, &ch, head);
	for (;;) {
		const uint8_t *p;
		uint32_t c = vq_rx_src_chunk(s, &p);
		if (c == 0)
			return 0;
		if (dst_left == 0) {
			if (left == 0) {
				int rc = vq_chain_next(vq, &ch, &d, true);
				if (rc <= 0)
					return rc;
				addr = d.addr;
				left = d.len;
			}
			/* translate only once there is something to write there */
			void *hva;
			uint64_t mapped;
			int trc = riov_vtd_translate_inline(&vq->tc, addr, left, RIOV_VTD_WRITE, &hva, &mapped);
			if (unlikely(trc < 0))
				return vq_xlate_err(vq, trc, addr, RIOV_VTD_WRITE);
			if (unlikely(mapped == 0 || mapped > left))
				return VQ_E_FAULT;
			dst = hva;
			dst_gpa = addr;
			dst_left = (uint32_t)mapped;
			addr += mapped;
			left -= (uint32_t)mapped;
		}
		c = RTE_MIN(c, dst_left);
		if (s->done != 0 || c != s->hdr_len || !vq_rx_hdr_same(dst, p, c))
			rte_memcpy(dst, p, c);
		vq_log_write(vq, dst_gpa, c);
		for (unsigned k = 0; k < 2; k++) {
			uint32_t off = RIOV_VIRTIO_NET_HDR_NUM_BUFFERS_OFF + k;
			if (s->hdr_len > off && s->done <= off && off < s->done + c)
				nb[k] = dst + (off - s->done);
		}
		vq_rx_src_advance(s, c);
		dst += c;
		dst_gpa += c;
		dst_left -= c;
		*written += c;
	}
}

/* The common delivery, without walking the chain: the next avail chain is one device-writable
 * descriptor (no NEXT or INDIRECT) that takes the header and the whole frame inside one page the
 * translation cursor holds. Writes it as vq_rx_one() would (num_buffers 1) and returns true; false
 * (nothing consumed, counted or recorded) leaves the packet to vq_rx_one(). */
static inline bool vq_rx_simple(struct riov_virtq *vq, const struct vq_rx_src *src, uint32_t pkt_len,
				uint16_t *avail_left)
{
	struct riov_vring_desc d;
	void *hva;
	uint64_t mapped;

	if (*avail_left == 0)
		return false;
	const uint16_t head = vq_read_avail_ring(vq, vq->last_avail_idx);
	if (unlikely(head >= vq->size))
		return false;
	vq_ring_desc(vq, head, &d);
	const uint64_t total = (uint64_t)vq->hdr_len + pkt_len;
	if (d.flags != RIOV_VRING_DESC_F_WRITE || d.len < total)
		return false;
	if (!riov_vtd_cursor_hit(&vq->tc, d.addr, total, RIOV_VTD_WRITE, &hva, &mapped) || mapped != total)
		return false;
	uint8_t *dst = hva;
	/* 5.1.6.4: no offloads offered, so flags/gso are zero; num_buffers 1 (the 12-byte header of
	 * VERSION_1 or MRG_RXBUF has it; the legacy 10-byte one ends before it). Left unwritten when
	 * the buffer holds it already (vq_rx_hdr_same()). */
	const struct riov_virtio_net_hdr hdr = { .num_buffers = rte_cpu_to_le_16(1) };
	if (!vq_rx_hdr_same(dst, (const uint8_t *)&hdr, vq->hdr_len))
		memcpy(dst, &hdr, vq->hdr_len);
	uint32_t w = vq->hdr_len + vq_rx_src_copy(dst + vq->hdr_len, src, pkt_len);
	vq_log_write(vq, d.addr, w);
	vq_write_used(vq, head, w);
	vq->last_avail_idx++;
	(*avail_left)--;
	return true;
}

/* Deliver one packet. *avail_left counts avail entries still unread this burst. Returns 0, or
 * VQ_E_NOSPACE / VQ_E_BIG / VQ_E_MISS (nothing consumed), VQ_E_BAD / VQ_E_FAULT (the heads taken
 * are returned with length 0). */
static int vq_rx_one(struct riov_virtq *vq, struct vq_rx_src *src, uint32_t pkt_len,
		     uint16_t *avail_left)
{
	struct riov_virtio_net_hdr hdr;
	uint8_t *nb[2] = { NULL, NULL };
	/* Two separate 16-bit loads: merged into one 32-bit load over the two indices, which the
	 * previous packet just stored separately, the load could not be forwarded from the store
	 * buffer and stalled every packet (seen as the top hot spot of the RX path). */
	const uint16_t start_avail = __atomic_load_n(&vq->last_avail_idx, __ATOMIC_RELAXED);
	const uint16_t start_used = __atomic_load_n(&vq->last_used_idx, __ATOMIC_RELAXED);
	const uint16_t start_left = *avail_left;
	uint16_t nbufs = 0;
	struct vq_rx_src s = *src;
	int rc;

	/* 5.1.6.4: flags/gso from the frame's offload metadata (what the guest accepts), else zero;
	 * num_buffers is 1 unless merged */
	if (src->ohdr != NULL)
		hdr = *src->ohdr;
	else
		memset(&hdr, 0, sizeof(hdr));
	hdr.num_buffers = rte_cpu_to_le_16(1);
	s.hdr = (const uint8_t *)&hdr;
	s.hdr_len = vq->hdr_len;
	s.done = 0;
	const uint64_t total = (uint64_t)vq->hdr_len + pkt_len;

	for (;;) {
		if (*avail_left == 0) {
			rc = VQ_E_NOSPACE;
			goto rollback;
		}
		uint16_t head = vq_read_avail_ring(vq, vq->last_avail_idx);
		vq->last_avail_idx++;
		(*avail_left)--;
		nbufs++;
		if (unlikely(head >= vq->size)) {
			rc = VQ_E_BAD;
			goto drop;
		}
		uint32_t written;
		rc = vq_rx_fill(vq, head, &s, &written, nb);
		if (unlikely(rc == VQ_E_MISS))
			goto rollback;  /* nothing consumed: the buffers wait for their translation */
		if (rc < 0) {
			vq_write_used(vq, head, 0);
			goto drop;
		}
		if (nbufs == 1 && written < vq->hdr_len) {
			/* the header must fit in the first buffer (5.1.6.3.1) */
			vq_write_used(vq, head, 0);
			rc = VQ_E_BAD;
			goto drop;
		}
		if (s.done == total) {
			vq_write_used(vq, head, written);
			break;
		}
		if (!vq->mrg_rxbuf) {
			/* packet larger than the buffer: keep the buffer for a smaller packet (as Linux
			 * vhost-net does); what we wrote into it is still the device's to overwrite */
			rc = VQ_E_BIG;
			goto rollback;
		}
		vq_write_used(vq, head, written);
	}
	if (nbufs > 1 && vq->hdr_len >= sizeof(hdr)) {
		uint16_t v = rte_cpu_to_le_16(nbufs);
		const uint8_t *vb = (const uint8_t *)&v;
		/* both bytes were written above, inside translated WRITE mappings */
		if (nb[0] != NULL)
			*nb[0] = vb[0];
		if (nb[1] != NULL)
			*nb[1] = vb[1];
	}
	return 0;

rollback:
	vq->last_avail_idx = start_avail;
	vq->last_used_idx = start_used;
	*avail_left = start_left;
	return rc;

drop:
	/* hand back every buffer of this packet, empty */
	for (uint16_t u = start_used; u != vq->last_used_idx; u++)
		vq_used(vq)->ring[u & (vq->size - 1)].len = 0;
	return rc;
}

/* Start the cache misses of a burst early and in parallel: the guest wrote the avail ring, the
 * descriptors and the buffers from its own CPU, and one packet at a time they would be taken
 * one after another. Only hints: nothing read here is trusted or kept (each index is masked;
 * vq_rx_one() reads and checks everything again). */
static void vq_rx_prefetch(const struct riov_virtq *vq, uint16_t k)
{
	const struct riov_vring_desc *desc = vq->desc;
	const uint16_t mask = (uint16_t)(vq->size - 1);
	uint16_t heads[RIOV_VIRTQ_BURST];

	if (k > RIOV_VIRTQ_BURST)
		k = RIOV_VIRTQ_BURST;
	for (uint16_t j = 0; j < k; j++) {
		heads[j] = vq_read_avail_ring(vq, (uint16_t)(vq->last_avail_idx + j)) & mask;
		rte_prefetch0(&desc[heads[j]]);
	}
	for (uint16_t j = 0; j < k; j += 8)
		vq_prefetch_w(&vq_used(vq)->ring[(uint16_t)(vq->last_used_idx + j) & mask]);
	vq_prefetch_buffers(vq, heads, k, true);
}

/* Keep pkts[0..n) for later (a reference of our own on every segment); beyond RIOV_VIRTQ_HELD
 * packets or RIOV_VIRTQ_HELD_SEGS segments they are dropped as NO_BUFFER. */
/* Take segs from the shared budget (none: always); false, and nothing taken, when it is spent. */
static bool vq_budget_take(struct riov_virtq_held_budget *b, uint16_t segs)
{
	if (b == NULL)
		return true;
	if (atomic_fetch_add_explicit(&b->used, segs, memory_order_relaxed) + segs <= b->cap)
		return true;
	atomic_fetch_sub_explicit(&b->used, segs, memory_order_relaxed);
	return false;
}

/* Empty held[] (its mbufs are the caller's now) and give its segments back to the budget. */
void vq_held_clear(struct riov_virtq *vq)
{
	if (vq->held_budget != NULL && vq->held_segs)
		atomic_fetch_sub_explicit(&vq->held_budget->used, vq->held_segs, memory_order_relaxed);
	vq->n_held = 0;
	vq->held_segs = 0;
	vq->held_since = 0;
}

void vq_hold(struct riov_virtq *vq, struct rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		const uint16_t segs = pkts[i]->nb_segs;
		if (vq->n_held == RIOV_VIRTQ_HELD || vq->held_segs + segs > RIOV_VIRTQ_HELD_SEGS ||
		    !vq_budget_take(vq->held_budget, segs)) {
			vq->stats.drops[RIOV_VQ_DROP_NO_BUFFER] += n - i;
			return;
		}
		for (struct rte_mbuf *seg = pkts[i]; seg != NULL; seg = seg->next)
			rte_mbuf_refcnt_update(seg, 1);
		if (vq->n_held == 0)
			vq->held_since = rte_rdtsc();
		vq->held[vq->n_held++] = pkts[i];
		vq->held_segs = (uint16_t)(vq->held_segs + segs);
	}
}

/* Give back what the queue holds, each counted as a NO_BUFFER drop. */
void vq_held_drop(struct riov_virtq *vq)
{
	if (vq->n_held) {
		vq->stats.drops[RIOV_VQ_DROP_NO_BUFFER] += vq->n_held;
		rte_pktmbuf_free_bulk(vq->held, vq->n_held);
	}
	vq_held_clear(vq);
}

/* Copy pk[0..n) into mbufs and hold them (their only reference is then the queue's); no copy once
 * the queue holds all it may. */
void vq_hold_pkts(struct riov_virtq *vq, struct rte_mempool *mp, struct riov_virtq_pkt *const *pk,
			 uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		if (vq->n_held == RIOV_VIRTQ_HELD || vq->held_segs >= RIOV_VIRTQ_HELD_SEGS ||
		    (vq->held_budget != NULL &&
		     atomic_load_explicit(&vq->held_budget->used, memory_order_relaxed) >= vq->held_budget->cap)) {
			vq->stats.drops[RIOV_VQ_DROP_NO_BUFFER] += n - i;
			return;
		}
		struct rte_mbuf *m = riov_virtq_pkt_mbuf(mp, pk[i]);
		if (m == NULL) {
			vq->stats.drops[RIOV_VQ_DROP_NO_MBUF]++;
			continue;
		}
		vq_hold(vq, &m, 1);
		rte_pktmbuf_free(m);
	}
}

/* Deliver n packets in order: mbufs pkts[] (pk NULL), or peeked packets pk[] (pkts NULL; mp for
 * the ones to hold). A VQ_E_MISS holds the rest and starts the wait. */
static uint16_t vq_rx_burst(struct riov_virtq *vq, struct rte_mempool *mp, struct rte_mbuf **pkts,
			    struct riov_virtq_pkt *const *pk, uint16_t n)
{
	const uint64_t gen = __atomic_load_n(vq->tc.genp, __ATOMIC_ACQUIRE);
	uint16_t avail_idx = vq_read_avail_idx(vq);
	uint16_t avail = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (unlikely(avail > vq->size)) {
		vq_mark_broken(vq, "avail index ahead by more than the ring size", avail, vq->size);
		vq->stats.drops[RIOV_VQ_DROP_BROKEN] += n;
		return 0;
	}

	const uint16_t old_used = vq->last_used_idx;
	uint16_t delivered = 0;
	uint16_t i;

	vq_rx_prefetch(vq, RTE_MIN(n, avail));
	for (i = 0; i < n; i++) {
		struct vq_rx_src src = { 0 };
		struct riov_virtio_net_hdr oh;
		uint32_t len;
		if (pk == NULL) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			src.seg = pkts[i];
			len = pkts[i]->pkt_len;
			if (unlikely(pkts[i]->ol_flags & RIOV_OL_MBUF_FLAGS)) {
				/* the worker sends such a frame only to a guest that accepts it whole */
				riov_ol_to_vnet_hdr(pkts[i], vq->ol_accepts, vq->mtu ? vq->mtu : 1500, &oh);
				src.ohdr = &oh;
			}
		} else {
			if (i + 1 < n && pk[i + 1]->nseg)
				rte_prefetch0(pk[i + 1]->seg[0].p);
			/* (a packet the peek had to copy into an mbuf is delivered from it) */
			src.seg = pk[i]->m;
			src.pk = pk[i]->m ? NULL : pk[i];
			len = pk[i]->m ? pk[i]->m->pkt_len : pk[i]->len;
		}
		int rc = likely(src.ohdr == NULL && vq_rx_simple(vq, &src, len, &avail)) ? 0
									     : vq_rx_one(vq, &src, len, &avail);
		if (likely(rc == 0)) {
			delivered++;
			vq->stats.packets++;
			vq->stats.bytes += len;
			continue;
		}
		if (rc == VQ_E_NOSPACE) {
			/* the guest has not given buffers back yet: hold the rest for the next poll */
			if (pk == NULL)
				vq_hold(vq, pkts + i, (uint16_t)(n - i));
			else
				vq_hold_pkts(vq, mp, pk + i, (uint16_t)(n - i));
			break;
		}
		if (rc == VQ_E_MISS) {
			if (pk == NULL)
				vq_hold(vq, pkts + i, (uint16_t)(n - i));
			else
				vq_hold_pkts(vq, mp, pk + i, (uint16_t)(n - i));
			vq_wait_begin(vq, gen);
			break;
		}
		vq_count_drop(vq, rc);
		if (rc != VQ_E_BIG)
			RIOV_LOG_RL(RIOV_LOG_WARN, "sid %#x rx: packet dropped (%d)", vq->sid,
				    rc);
	}
	if (pk == NULL) {
		vq_publish_used(vq, old_used);
	} else if (!vq->unpublished && vq->last_used_idx != old_used) {
		/* peeked packets: published by riov_virtq_publish_rx(), after the source's chains */
		vq->unpublished = true;
		vq->unpublished_from = old_used;
	}
	vq_burst_end(vq);
	return delivered;
}

uint16_t riov_virtq_flush_held(struct riov_virtq *vq)
{
	struct rte_mbuf *h[RIOV_VIRTQ_HELD];
	uint16_t k = vq->n_held;

	if (likely(k == 0))
		return 0;
	if (unlikely(vq->packed))
		return vqp_flush_held(vq);
	if (vq->broken) {
		vq->stats.drops[RIOV_VQ_DROP_BROKEN] += k;
		riov_virtq_release(vq);
		return 0;
	}
	if (vq->wait.active) {
		if (!vq_wait_poll(vq))
			return 0;
	} else if (vq_read_avail_idx(vq) == vq->last_avail_idx) {
		/* held for want of buffers, and the guest has posted none since: past the deadline
		 * they go, so that a guest that stopped taking packets pins no mbufs */
		if (rte_rdtsc() - vq->held_since > vq->held_max_tsc)
			vq_held_drop(vq);
		return 0;
	}
	memcpy(h, vq->held, k * sizeof(h[0]));
	vq_held_clear(vq);
	uint16_t d = vq_rx_burst(vq, NULL, h, NULL, k); /* may hold some again (own new reference) */
	rte_pktmbuf_free_bulk(h, k);
	return d;
}

void riov_virtq_release(struct riov_virtq *vq)
{
	vq_held_drop(vq);
	memset(&vq->wait, 0, sizeof(vq->wait));
}

/* riov_virtq_enqueue() and riov_virtq_enqueue_pkts(): pkts[] or pk[] as for vq_rx_burst(). */
static uint16_t vq_rx_enqueue(struct riov_virtq *vq, struct rte_mempool *mp, struct rte_mbuf **pkts,
			      struct riov_virtq_pkt *const *pk, uint16_t n)
{
	uint16_t done = 0;

	if (unlikely(vq->broken)) {
		vq->stats.drops[RIOV_VQ_DROP_BROKEN] += n;
		return 0;
	}
	if (n == 0)
		return 0;
	if (unlikely(vq->n_held != 0 || vq->wait.active)) {
		/* waiting for a translation: packets go behind the held ones, in order */
		done = riov_virtq_flush_held(vq);
		if (vq->n_held != 0 || vq->wait.active) {
			if (pk == NULL)
				vq_hold(vq, pkts, n);
			else
				vq_hold_pkts(vq, mp, pk, n);
			return done;
		}
	}
	return (uint16_t)(done + vq_rx_burst(vq, mp, pkts, pk, n));
}

uint16_t riov_virtq_enqueue(struct riov_virtq *vq, struct rte_mbuf **pkts, uint16_t n)
{
	if (unlikely(vq->packed))
		return vqp_enqueue(vq, NULL, pkts, NULL, n);
	return vq_rx_enqueue(vq, NULL, pkts, NULL, n);
}

uint16_t riov_virtq_enqueue_pkts(struct riov_virtq *vq, struct rte_mempool *mp,
				 struct riov_virtq_pkt *const *pk, uint16_t n)
{
	if (unlikely(vq->packed))
		return vqp_enqueue(vq, mp, NULL, pk, n);
	return vq_rx_enqueue(vq, mp, NULL, pk, n);
}
