/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split virtqueues, guest TX (virtio 1.2 2.7.13 from the device's side): riov_virtq_peek() takes
 * the guest's TX chains without copying the frame (the worker's path; a chain that has more
 * segments than a struct riov_virtq_pkt holds is copied into an mbuf), riov_virtq_pkt_mbuf()
 * copies a peeked packet into an mbuf, riov_virtq_peek_done() returns the chains in the used ring.
 *
 * Security model: see virtq.c. The first RIOV_VIRTQ_PEEK bytes are copied before the switch looks
 * at them; the rest is described as host segments inside translated guest memory, read only, and
 * the chains stay the guest's until riov_virtq_peek_done(). Chains are walked with
 * vq_chain_next() (bounded, no recursion); the header-only or too long chains are malformed.
 *
 * Thread rules: the worker that owns the queue; no locks; only mbufs are allocated.
 */
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include "common/log.h"
#include "dataplane/virtq.h"
#include "dataplane/virtq_internal.h"
#include "iommu/vtd_dp.h"


/* Append n bytes to the mbuf chain headed by `head` (tail in *tailp), adding segments from mp. */
static int vq_mbuf_append(struct rte_mempool *mp, struct rte_mbuf *head, struct rte_mbuf **tailp,
			  const uint8_t *src, uint32_t n)
{
	struct rte_mbuf *tail = *tailp;
	while (n) {
		uint16_t room = rte_pktmbuf_tailroom(tail);
		if (room == 0) {
			if (head->nb_segs == UINT16_MAX)
				return VQ_E_BIG;
			struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
			if (m == NULL)
				return VQ_E_NOMBUF;
			if (rte_pktmbuf_tailroom(m) == 0) {
				rte_pktmbuf_free(m);
				return VQ_E_NOMBUF;
			}
			tail->next = m;
			head->nb_segs++;
			tail = m;
			*tailp = m;
			continue;
		}
		uint32_t c = RTE_MIN((uint32_t)room, n);
		rte_memcpy(rte_pktmbuf_mtod_offset(tail, uint8_t *, tail->data_len), src, c);
		tail->data_len += c;
		head->pkt_len += c;
		src += c;
		n -= c;
	}
	return 0;
}

/* vq_mbuf_append() for the packed ring's file (virtq_packed.c), out of line so that the split
 * ring's callers here keep their code as it was. */
int vq_tx_mbuf_append(struct rte_mempool *mp, struct rte_mbuf *head, struct rte_mbuf **tailp,
		      const uint8_t *src, uint32_t n)
{
	return vq_mbuf_append(mp, head, tailp, src, n);
}

/* Walk the TX chain at `head`: copy the frame into mbuf m (pk NULL), or describe it in place in
 * *pk (m NULL; VQ_E_SEGS when it has more segments than pk holds). The virtio-net header is
 * skipped, or copied to hdr (vq->hdr_len bytes) when hdr is not NULL. Returns 0 or VQ_E_*. */
static int vq_tx_walk(struct riov_virtq *vq, uint16_t head, struct rte_mempool *mp, struct rte_mbuf *m,
		      struct riov_virtq_pkt *pk, uint8_t *hdr)
{
	struct vq_chain ch;
	struct riov_vring_desc d;
	struct rte_mbuf *tail = m;
	uint32_t hdr_left = vq->hdr_len;
	const uint32_t max = vq->hdr_len + RIOV_VIRTQ_MAX_PAYLOAD;
	uint32_t total = 0;
	unsigned peek = 0, nseg = 0;
	int rc;

	vq_chain_start(vq, &ch, head);
	while ((rc = vq_chain_next(vq, &ch, &d, false)) == 1) {
		if (d.len > max - total)
			return VQ_E_BIG;
		total += d.len;
		uint64_t addr = d.addr;
		uint32_t left = d.len;
		while (left) {
			void *hva;
			uint64_t mapped;
			int trc = riov_vtd_translate_inline(&vq->tc, addr, left, RIOV_VTD_READ, &hva, &mapped);
			if (unlikely(trc < 0))
				return vq_xlate_err(vq, trc, addr, RIOV_VTD_READ);
			if (unlikely(mapped == 0 || mapped > left))
				return VQ_E_FAULT;
			const uint8_t *src = hva;
			uint32_t n = (uint32_t)mapped;
			if (hdr_left) {
				/* the header matters only to a guest that may ask for offloads */
				uint32_t s = RTE_MIN(hdr_left, n);
				if (hdr != NULL)
					memcpy(hdr + (vq->hdr_len - hdr_left), src, s);
				hdr_left -= s;
				src += s;
				n -= s;
			}
			if (n) {
				rc = pk ? vq_pk_add(pk, &peek, &nseg, src, n) : vq_mbuf_append(mp, m, &tail, src, n);
				if (rc < 0)
					return rc;
			}
			addr += mapped;
			left -= (uint32_t)mapped;
		}
	}
	if (rc < 0)
		return rc;
	if (hdr_left || (pk ? peek == 0 : m->pkt_len == 0))
		return VQ_E_BAD; /* shorter than the header, or a header and no frame */
	if (pk) {
		pk->len = total - vq->hdr_len;
		pk->nseg = (uint8_t)nseg;
		pk->peek_len = (uint8_t)peek;
	}
	return 0;
}

/* The common TX chain, described without walking it: one descriptor (no NEXT, INDIRECT or WRITE)
 * holding the virtio-net header and the whole frame, inside one page the translation cursor holds.
 * Fills *pk as vq_tx_walk() would and returns true; false (nothing counted or recorded) leaves the
 * chain to vq_tx_walk(), which handles every other shape and reports every error. */
static inline bool vq_tx_simple(struct riov_virtq *vq, uint16_t head, struct riov_virtq_pkt *pk)
{
	struct riov_vring_desc d;
	void *hva;
	uint64_t mapped;

	vq_ring_desc(vq, head, &d);
	if (d.flags != 0 || d.len <= vq->hdr_len || d.len - vq->hdr_len > RIOV_VIRTQ_MAX_PAYLOAD)
		return false;
	if (!riov_vtd_cursor_hit(&vq->tc, d.addr, d.len, RIOV_VTD_READ, &hva, &mapped) || mapped != d.len)
		return false;
	const uint8_t *frame = (const uint8_t *)hva + vq->hdr_len;
	const uint32_t flen = d.len - vq->hdr_len;
	if (vq->ol_sends)
		memcpy(&pk->vhdr, hva, vq->hdr_len);
	vq_pkt_one(pk, frame, flen);
	return true;
}

/* Start a TX burst: up to n (<= RIOV_VIRTQ_BURST) avail heads into heads[], their descriptors and
 * buffers prefetched; *gen is the device's generation before anything is translated. Returns the
 * count; 0 when there is nothing, the queue is broken or it waits for a translation. */
static uint16_t vq_tx_begin(struct riov_virtq *vq, uint16_t n, uint16_t *heads, uint64_t *gen)
{
	if (unlikely(vq->broken)) {
		vq->stats.drops[RIOV_VQ_DROP_BROKEN]++;
		return 0;
	}
	if (unlikely(vq->wait.active) && !vq_wait_poll(vq))
		return 0;
	*gen = __atomic_load_n(vq->tc.genp, __ATOMIC_ACQUIRE);
	uint16_t avail_idx = vq_read_avail_idx(vq);
	uint16_t avail = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (unlikely(avail > vq->size)) {
		vq_mark_broken(vq, "avail index ahead by more than the ring size", avail, vq->size);
		return 0;
	}
	n = RTE_MIN(n, (uint16_t)RIOV_VIRTQ_BURST);
	n = RTE_MIN(n, avail);
	/* read the heads first so the descriptors can be prefetched */
	for (uint16_t i = 0; i < n; i++) {
		heads[i] = vq_read_avail_ring(vq, (uint16_t)(vq->last_avail_idx + i));
		rte_prefetch0((const struct riov_vring_desc *)vq->desc + (heads[i] & (vq->size - 1)));
	}
	vq_prefetch_buffers(vq, heads, n, false);
	return n;
}

uint16_t riov_virtq_peek(struct riov_virtq *vq, struct rte_mempool *mp, struct riov_virtq_pkt *pk,
			 uint16_t n)
{
	uint16_t heads[RIOV_VIRTQ_BURST];
	uint64_t gen;

	if (unlikely(vq->packed))
		return vqp_peek(vq, mp, pk, n);
	n = vq_tx_begin(vq, n, heads, &gen);
	if (n == 0)
		return 0;
	uint16_t out = 0;
	for (uint16_t i = 0; i < n; i++) {
		uint16_t head = heads[i];
		struct riov_virtq_pkt *p = &pk[out];
		vq->last_avail_idx++;
		if (unlikely(head >= vq->size)) {
			vq->stats.drops[RIOV_VQ_DROP_BAD_DESC]++;
			RIOV_LOG_RL(RIOV_LOG_WARN, "sid %#x tx: head %u out of range (size %u)",
				    vq->sid, head, vq->size);
			continue;
		}
		p->head = head;
		p->bad = false;
		p->m = NULL;
		p->has_ol = false;
		if (likely(vq_tx_simple(vq, head, p))) {
			p->has_ol = vq->ol_sends && (p->vhdr.flags | p->vhdr.gso_type);
			out++;
			continue;
		}
		uint8_t *hdr = vq->ol_sends ? (uint8_t *)&p->vhdr : NULL;
		int rc = vq_tx_walk(vq, head, mp, NULL, p, hdr);
		if (unlikely(rc == VQ_E_SEGS)) {
			/* scattered wider than a descriptor holds: copy it into an mbuf now */
			struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
			rc = m ? vq_tx_walk(vq, head, mp, m, NULL, hdr) : VQ_E_NOMBUF;
			if (rc == 0) {
				p->m = m;
				p->len = m->pkt_len;
			} else {
				rte_pktmbuf_free(m);
			}
		}
		if (unlikely(rc == VQ_E_MISS)) {
			vq->last_avail_idx--;   /* stays in the avail ring until its translation arrives */
			vq_wait_begin(vq, gen);
			break;
		}
		if (likely(rc == 0))
			p->has_ol = hdr != NULL && (p->vhdr.flags | p->vhdr.gso_type);
		if (unlikely(rc < 0)) {
			vq_count_drop(vq, rc);
			p->bad = true;
			RIOV_LOG_RL(RIOV_LOG_WARN, "sid %#x tx: packet at head %u dropped (%d)",
				    vq->sid, head, rc);
		}
		out++;
	}
	return out;
}

void riov_virtq_peek_done(struct riov_virtq *vq, const struct riov_virtq_pkt *pk, uint16_t n)
{
	const uint16_t old_used = vq->last_used_idx;
	const bool batch = vq->in_order && vq->inorder_batch;

	if (unlikely(vq->packed)) {
		vqp_peek_done(vq, pk, n);
		return;
	}
	if (n == 0)
		return;
	for (uint16_t i = 0; i < n; i++) {
		if (likely(!pk[i].bad)) {
			vq->stats.packets++;
			vq->stats.bytes += pk[i].len;
		}
		/* TX buffers are only read: used length 0 (2.7.8); in order, one entry per batch */
		if (!batch)
			vq_write_used(vq, pk[i].head, 0);
	}
	if (batch)
		vq_write_used(vq, pk[n - 1].head, 0);
	vq_publish_used(vq, old_used);
	vq_burst_end(vq);
}

struct rte_mbuf *riov_virtq_pkt_mbuf(struct rte_mempool *mp, struct riov_virtq_pkt *pk)
{
	struct rte_mbuf *m = pk->m, *tail;

	if (m != NULL) {
		pk->m = NULL;
		return m;
	}
	m = rte_pktmbuf_alloc(mp);
	if (m == NULL)
		return NULL;
	tail = m;
	int rc = vq_mbuf_append(mp, m, &tail, pk->peek, pk->peek_len);
	for (unsigned k = 0; rc == 0 && k < pk->nseg; k++)
		rc = vq_mbuf_append(mp, m, &tail, pk->seg[k].p, pk->seg[k].len);
	if (rc != 0) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	return m;
}
