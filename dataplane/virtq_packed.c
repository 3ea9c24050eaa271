/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packed virtqueues, device side (virtio 1.2 section 2.8) for virtio-net (section 5.1): guest TX
 * (peek / peek_done), guest RX (enqueue of mbufs or of peeked packets, publish, held packets,
 * mergeable buffers) and the interrupt decision. The public riov_virtq_* functions branch here once
 * on vq->packed; what the split ring's files share (drops, dirty log, the wait for a vIOMMU
 * translation, the copy helpers, held packets) is used as it is.
 *
 * The ring: the driver makes a chain available by writing its descriptors at consecutive slots
 * (wrapping at the ring's end) and the head's flags last, with AVAIL = its wrap counter and USED =
 * the inverse (2.8.1). The device reads chains in ring order; for each it writes one used
 * descriptor (buffer id, length, AVAIL = USED = the device's wrap counter) at the slot where the
 * chain started and skips the chain's length (2.8.7); with IN_ORDER one used descriptor may stand
 * for a batch (the last buffer's id, the batch's length; 2.8.19 "In-order use of descriptors").
 *
 * Security model: the driver owns the ring and may change it at any moment. Therefore:
 *  - a slot is available only if its flags, read with acquire ordering, say so for the wrap counter
 *    the device expects; every descriptor is then copied out (and a compiler barrier) before any
 *    field is examined, and only the copy is used.
 *  - a chain is bounded by the ring size (indirect: by the table's entry count, itself bounded by
 *    RIOV_VIRTQ_MAX_INDIRECT); a table inside a table, INDIRECT with NEXT or inside a longer chain,
 *    zero lengths, wrongly directed buffers and chains shorter than the virtio-net header are
 *    malformed: the chain is returned with length 0 and counted (BAD_DESC), as in the split ring.
 *  - a chain that cannot be returned breaks the ring (vq_mark_broken, counted): no end within the
 *    ring size, a buffer id out of [0, size) or already in flight (pk.inflight), or more ring
 *    slots outstanding than the ring has (the driver wrote over slots the device has not given
 *    back).
 *  - buffer addresses and indirect tables are translated through the device's VT-d domain for the
 *    access made (the translation cursor vq->tc), honouring the mapped length; a miss of a vIOMMU
 *    guest waits as in the split ring (VQ_E_MISS, vq->wait) with nothing consumed.
 *  - the device's writes to the ring are used descriptors only, at slots of chains it consumed, and
 *    only once the chain is delivered or dropped (pk.pend): a chain rolled back (no room, a miss)
 *    is left as the driver wrote it. Every write to guest memory is dirty-logged.
 * No recursion; the only allocations are mbufs.
 *
 * Thread rules: one worker owns a struct riov_virtq; no locks.
 */
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "common/log.h"
#include "dataplane/offload.h"
#include "dataplane/virtq.h"
#include "dataplane/virtq_internal.h"
#include "iommu/vtd_dp.h"

/* ---- ring positions ---- */

static inline uint16_t vqp_enc(uint16_t idx, bool wrap)
{
	return (uint16_t)(idx | (uint16_t)wrap << RIOV_VRING_PACKED_WRAP_BIT);
}

/* Move a position k (<= size) slots on; the wrap counter flips at the ring's end. */
static inline void vqp_step(const struct riov_virtq *vq, uint16_t *idx, bool *wrap, uint32_t k)
{
	uint32_t i = (uint32_t)*idx + k;
	if (i >= vq->size) {
		i -= vq->size;
		*wrap = !*wrap;
	}
	*idx = (uint16_t)i;
}

/* A position as a count modulo 2 * size (one step on adds one, the wrap counter included). */
static inline uint32_t vqp_lin(const struct riov_virtq *vq, uint16_t idx, bool wrap)
{
	return idx + (wrap ? 0u : vq->size);
}

/* Slots from position a to position b (both as vqp_lin()), modulo 2 * size. */
static inline uint32_t vqp_dist(const struct riov_virtq *vq, uint32_t a, uint32_t b)
{
	const uint32_t two = 2u * vq->size;
	return (b + two - a) % two;
}

/* Ring slots the device has taken and not committed a used descriptor for. */
static inline uint32_t vqp_owed(const struct riov_virtq *vq)
{
	return vqp_dist(vq, vqp_lin(vq, vq->pk.used, vq->pk.used_wrap),
			vqp_lin(vq, vq->pk.avail, vq->pk.avail_wrap));
}

static inline struct riov_vring_packed_desc *vqp_ring(const struct riov_virtq *vq)
{
	return vq->desc;
}

/* 2.8.1: whether the driver made the slot at the avail position available (acquire: the chain's
 * descriptors, which the driver wrote before the head's flags, are visible after it). */
static inline bool vqp_avail(const struct riov_virtq *vq)
{
	const uint16_t f = rte_le_to_cpu_16(
		__atomic_load_n(&vqp_ring(vq)[vq->pk.avail].flags, __ATOMIC_ACQUIRE));
	const bool a = f & RIOV_VRING_PACKED_DESC_F_AVAIL, u = f & RIOV_VRING_PACKED_DESC_F_USED;
	return a == vq->pk.avail_wrap && u != vq->pk.avail_wrap;
}

static inline void vqp_decode(struct riov_vring_packed_desc *d, const struct riov_vring_packed_desc *raw)
{
	rte_compiler_barrier();
	d->addr = rte_le_to_cpu_64(raw->addr);
	d->len = rte_le_to_cpu_32(raw->len);
	d->id = rte_le_to_cpu_16(raw->id);
	d->flags = rte_le_to_cpu_16(raw->flags);
}

/* Copy ring slot `slot` (< size) privately and decode it into *d. */
static inline void vqp_ring_desc(const struct riov_virtq *vq, uint16_t slot,
				 struct riov_vring_packed_desc *d)
{
	struct riov_vring_packed_desc raw;

	memcpy(&raw, &vqp_ring(vq)[slot], sizeof(raw));
	vqp_decode(d, &raw);
}

/* Start the cache misses of a burst early and in parallel (vq_tx_begin() and vq_rx_prefetch() of
 * the split ring): the buffers of up to k slots from the avail position on that look available,
 * each as the first buffer of a chain. The descriptors themselves are consecutive and read in
 * order. Only hints: nothing read here is trusted or kept (vqp_avail() and the copy of each
 * descriptor decide). */
static inline void vqp_prefetch(const struct riov_virtq *vq, uint16_t k, bool write)
{
	const struct riov_vring_packed_desc *ring = vqp_ring(vq);
	uint16_t slot = vq->pk.avail;
	bool wrap = vq->pk.avail_wrap;

	for (uint16_t j = 0; j < k; j++) {
		const uint16_t f = rte_le_to_cpu_16(__atomic_load_n(&ring[slot].flags, __ATOMIC_RELAXED));
		if (!!(f & RIOV_VRING_PACKED_DESC_F_AVAIL) != wrap || !!(f & RIOV_VRING_PACKED_DESC_F_USED) == wrap)
			break;
		vq_prefetch_buffer(vq, rte_le_to_cpu_64(__atomic_load_n(&ring[slot].addr, __ATOMIC_RELAXED)),
				    write);
		if (++slot == vq->size) {
			slot = 0;
			wrap = !wrap;
		}
	}
}

/* ---- buffer ids in flight ---- */

static inline void vqp_id_put(struct riov_virtq *vq, uint16_t id)
{
	vq->pk.inflight[id >> 6] &= ~(1ull << (id & 63));
}

/* ---- chains ---- */

struct vqp_chain {
	uint64_t ind_addr;  /* guest address of the indirect table (in_ind) */
	uint32_t ind_idx;   /* next entry of the table */
	uint32_t ind_limit; /* entries in the table */
	uint16_t slot;      /* next ring slot to read */
	uint16_t ndesc;     /* ring descriptors read */
	uint16_t id;        /* buffer id, once `end` */
	bool end;           /* the chain's last ring descriptor was read */
	bool in_ind;
};

static inline void vqp_chain_start(const struct riov_virtq *vq, struct vqp_chain *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->slot = vq->pk.avail;
}

/* *ch as a walk of the one-descriptor chain at the avail position (buffer id `id`) leaves it: the
 * one-descriptor paths take it with vqp_take() as the walks' chains are taken. */
static inline void vqp_chain_one(const struct riov_virtq *vq, struct vqp_chain *ch, uint16_t id)
{
	ch->ind_addr = 0;
	ch->ind_idx = 0;
	ch->ind_limit = 0;
	ch->slot = (uint16_t)(vq->pk.avail + 1 == vq->size ? 0 : vq->pk.avail + 1);
	ch->ndesc = 1;
	ch->id = id;
	ch->end = true;
	ch->in_ind = false;
}

/* Flags that make a descriptor more than one plain buffer (a chain goes on, or a table). */
#define VQP_F_CHAIN (RIOV_VRING_DESC_F_NEXT | RIOV_VRING_DESC_F_INDIRECT)

/* Fetch the next buffer descriptor of the chain at the avail position into *d (a private copy)
 * with direction `write`. Returns 1 with a descriptor, 0 at the end of the chain, VQ_E_BAD for a
 * malformed chain, VQ_E_FAULT if an indirect table does not translate (VQ_E_MISS: not yet).
 * The buffer id is the chain's last ring descriptor's (2.8.6); the NEXT flags of the ring decide
 * the chain's length, an indirect table's entries are all used in order (NEXT there means
 * nothing). */
static int vqp_chain_next(struct riov_virtq *vq, struct vqp_chain *ch, struct riov_vring_packed_desc *d,
			  bool write)
{
	struct riov_vring_packed_desc raw;

	for (;;) {
		if (ch->in_ind) {
			if (ch->ind_idx == ch->ind_limit)
				return 0;
			int rc = vq_guest_copy(vq, ch->ind_addr + 16ull * ch->ind_idx, &raw, sizeof(raw));
			if (rc < 0)
				return rc;
			ch->ind_idx++;
			vqp_decode(d, &raw);
			/* 2.8.13: no table inside a table */
			if (d->flags & RIOV_VRING_DESC_F_INDIRECT)
				return VQ_E_BAD;
		} else {
			if (ch->end)
				return 0;
			if (ch->ndesc == vq->size)
				return VQ_E_BAD; /* longer than the ring */
			vqp_ring_desc(vq, ch->slot, d);
			ch->ndesc++;
			ch->slot = (uint16_t)(ch->slot + 1 == vq->size ? 0 : ch->slot + 1);
			if (!(d->flags & RIOV_VRING_DESC_F_NEXT)) {
				ch->end = true;
				ch->id = d->id;
			}
			if (d->flags & RIOV_VRING_DESC_F_INDIRECT) {
				/* 2.8.13: only with the feature, alone (never with NEXT, never after
				 * direct descriptors of the same chain), a whole number of entries */
				if (!vq->indirect || (d->flags & RIOV_VRING_DESC_F_NEXT) || ch->ndesc != 1)
					return VQ_E_BAD;
				if (!vq_indirect_table_ok(d->addr, d->len))
					return VQ_E_BAD;
				ch->in_ind = true;
				ch->ind_addr = d->addr;
				ch->ind_idx = 0;
				ch->ind_limit = d->len / 16;
				continue;
			}
		}
		if (d->len == 0 || d->addr > UINT64_MAX - d->len)
			return VQ_E_BAD;
		if (!!(d->flags & RIOV_VRING_DESC_F_WRITE) != write)
			return VQ_E_BAD;
		return 1;
	}
}

/* After a walk that stopped early (an error, or the packet ended first): read on to the chain's
 * last ring descriptor, for its id and its length in slots. False: none within the ring size. */
static bool vqp_chain_finish(const struct riov_virtq *vq, struct vqp_chain *ch)
{
	struct riov_vring_packed_desc d;

	while (!ch->end) {
		if (ch->ndesc == vq->size)
			return false;
		vqp_ring_desc(vq, ch->slot, &d);
		ch->ndesc++;
		ch->slot = (uint16_t)(ch->slot + 1 == vq->size ? 0 : ch->slot + 1);
		if (!(d.flags & RIOV_VRING_DESC_F_NEXT)) {
			ch->end = true;
			ch->id = d.id;
		}
	}
	return true;
}

/* Take the walked chain off the ring (the avail position moves past it, its id is in flight).
 * A chain that could not be given back breaks the ring: false, the queue marked broken. */
static bool vqp_take(struct riov_virtq *vq, const struct vqp_chain *ch)
{
	if (unlikely(!ch->end)) {
		vq_mark_broken(vq, "packed chain longer than the ring", ch->ndesc, vq->size);
		return false;
	}
	if (unlikely(ch->id >= vq->size)) {
		vq_mark_broken(vq, "buffer id out of range", ch->id, vq->size);
		return false;
	}
	const uint64_t bit = 1ull << (ch->id & 63);
	if (unlikely(vq->pk.inflight[ch->id >> 6] & bit)) {
		vq_mark_broken(vq, "buffer id reused while in flight", ch->id, vq->size);
		return false;
	}
	if (unlikely(vqp_owed(vq) + ch->ndesc > vq->size)) {
		/* the driver made slots available that the device has not given back */
		vq_mark_broken(vq, "more ring slots outstanding than the ring has",
			       vqp_owed(vq) + ch->ndesc, vq->size);
		return false;
	}
	vq->pk.inflight[ch->id >> 6] |= bit;
	vqp_step(vq, &vq->pk.avail, &vq->pk.avail_wrap, ch->ndesc);
	vq->last_avail_idx = vqp_enc(vq->pk.avail, vq->pk.avail_wrap);
	return true;
}

/* Commit the k used descriptors staged at pend[n_pend..n_pend + k): their ids leave the in-flight
 * set, the used position moves past their chains. Written to the ring by vqp_publish(). */
static inline void vqp_commit(struct riov_virtq *vq, uint16_t k)
{
	for (uint16_t j = 0; j < k; j++) {
		const uint16_t i = (uint16_t)(vq->pk.n_pend + j);
		vqp_id_put(vq, vq->pk.pend[i].id);
		vqp_step(vq, &vq->pk.used, &vq->pk.used_wrap, vq->pk.pend[i].ndesc);
	}
	vq->pk.n_pend = (uint16_t)(vq->pk.n_pend + k);
}

static inline void vqp_stage(struct riov_virtq *vq, uint16_t j, uint16_t id, uint16_t ndesc, uint32_t len)
{
	vq->pk.pend[vq->pk.n_pend + j].id = id;
	vq->pk.pend[vq->pk.n_pend + j].ndesc = ndesc;
	vq->pk.pend[vq->pk.n_pend + j].len = len;
}

/* ---- used descriptors ---- */

/* Write the committed used descriptors to the ring and make them visible: each at the slot where
 * its chain started, with id, length and AVAIL = USED = the device's wrap counter there; the first
 * one's flags last, with release ordering (the driver reads used descriptors in ring order from
 * there, 2.8.7/2.8.21.3, so none of them is seen before all are written). */
void vqp_publish(struct riov_virtq *vq)
{
	const uint16_t n = vq->pk.n_pend;
	struct riov_vring_packed_desc *ring = vqp_ring(vq);
	const uint16_t first = vq->pk.pub;
	uint16_t slot = first, first_flags = 0;
	bool wrap = vq->pk.pub_wrap;
	uint32_t moved = 0;

	vq->unpublished = false;
	if (n == 0)
		return;
	uint16_t head = first;
	for (uint16_t i = 0; i < n; i++) {
		struct riov_vring_packed_desc *d = &ring[slot];
		head = slot;
		const uint16_t fl = wrap ? (RIOV_VRING_PACKED_DESC_F_AVAIL | RIOV_VRING_PACKED_DESC_F_USED) : 0;
		__atomic_store_n(&d->id, rte_cpu_to_le_16(vq->pk.pend[i].id), __ATOMIC_RELAXED);
		__atomic_store_n(&d->len, rte_cpu_to_le_32(vq->pk.pend[i].len), __ATOMIC_RELAXED);
		if (i == 0)
			first_flags = fl;
		else
			__atomic_store_n(&d->flags, rte_cpu_to_le_16(fl), __ATOMIC_RELAXED);
		vq_log_used(vq, 16ull * slot + 8, 8);
		moved += vq->pk.pend[i].ndesc;
		vqp_step(vq, &slot, &wrap, vq->pk.pend[i].ndesc);
	}
	/* the last chain's head still holds the driver's address: read while the slot is the
	 * device's (the driver may reuse it once the flags below are stored) */
	const uint64_t head_addr = vq->pk.rec != NULL ? __atomic_load_n(&ring[head].addr, __ATOMIC_RELAXED) : 0;
	__atomic_store_n(&ring[first].flags, rte_cpu_to_le_16(first_flags), __ATOMIC_RELEASE);
	if (vq->pk.rec != NULL) {
		const uint16_t l = (uint16_t)(n - 1);
		riov_vring_rec_put(vq->pk.rec, vqp_enc(slot, wrap), vq->pk.pend[l].ndesc, vq->pk.pend[l].id,
				   vq->pk.pend[l].len, head_addr);
	}
	vq->pk.pub = slot;
	vq->pk.pub_wrap = wrap;
	vq->pk.n_pend = 0;
	vq->last_used_idx = vqp_enc(slot, wrap);
	uint32_t p = (uint32_t)vq->pending_used + n;
	vq->pending_used = p > UINT16_MAX ? UINT16_MAX : (uint16_t)p;
	vq->pk.moved = vq->pk.moved > UINT32_MAX - moved ? UINT32_MAX : vq->pk.moved + moved;
}

/* ---- interrupts ---- */

/* 2.8.10 from the device's side, after the caller's full barrier (the used descriptors' flags were
 * stored before the driver's event suppression is read). */
bool vqp_need_interrupt(struct riov_virtq *vq)
{
	const struct riov_vring_packed_event *drv = vq->avail;
	const uint32_t now = vqp_lin(vq, vq->pk.pub, vq->pk.pub_wrap);
	const uint32_t old = vq->pk.signalled, moved = vq->pk.moved;
	const bool valid = vq->signalled_used_valid;

	vq->pk.signalled = now;
	vq->pk.moved = 0;
	vq->signalled_used_valid = true;
	const uint16_t fl = rte_le_to_cpu_16(__atomic_load_n(&drv->flags, __ATOMIC_RELAXED)) &
			    RIOV_VRING_PACKED_EVENT_FLAGS_MASK;
	if (fl == RIOV_VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	/* ENABLE; the reserved value 3 and DESC without EVENT_IDX are taken as ENABLE (an interrupt
	 * too many costs the guest little, one too few stalls it) */
	if (fl != RIOV_VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx)
		return true;
	if (!valid || moved >= 2u * vq->size)
		return true;  /* the last position is unknown, or the ring went round since */
	const uint16_t ow = rte_le_to_cpu_16(__atomic_load_n(&drv->off_wrap, __ATOMIC_RELAXED));
	const uint16_t off = ow & RIOV_VRING_PACKED_IDX_MASK;
	if (off >= vq->size)
		return true;
	/* DESC: an interrupt once the used descriptor at desc_event_off with desc_event_wrap was
	 * written, i.e. that position lies among the slots published since the last decision */
	const uint32_t ev = vqp_lin(vq, off, ow >> RIOV_VRING_PACKED_WRAP_BIT);
	return vqp_dist(vq, old, ev) < vqp_dist(vq, old, now);
}

/* ---- set-up ---- */

int vqp_init(struct riov_virtq *vq)
{
	const uint16_t la = vq->last_avail_idx, lu = vq->last_used_idx;

	if ((la & RIOV_VRING_PACKED_IDX_MASK) >= vq->size || (lu & RIOV_VRING_PACKED_IDX_MASK) >= vq->size)
		return -EINVAL;
	vq->pk.avail = la & RIOV_VRING_PACKED_IDX_MASK;
	vq->pk.avail_wrap = la >> RIOV_VRING_PACKED_WRAP_BIT;
	vq->pk.used = lu & RIOV_VRING_PACKED_IDX_MASK;
	vq->pk.used_wrap = lu >> RIOV_VRING_PACKED_WRAP_BIT;
	vq->pk.pub = vq->pk.used;
	vq->pk.pub_wrap = vq->pk.used_wrap;
	if (vqp_owed(vq) > vq->size)
		return -EINVAL;
	vq->pk.signalled = vqp_lin(vq, vq->pk.pub, vq->pk.pub_wrap);
	/* Workers poll the ring: ask the driver not to notify (2.8.10) */
	struct riov_vring_packed_event *dev = vq->used;
	__atomic_store_n(&dev->off_wrap, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&dev->flags, rte_cpu_to_le_16(RIOV_VRING_PACKED_EVENT_FLAG_DISABLE),
			 __ATOMIC_RELAXED);
	return 0;
}

/* ---- guest TX ---- */

/* vq_tx_walk() of virtq_tx.c for the chain at the avail position: copy the frame into mbuf m (pk
 * NULL), or describe it in place in *pk (m NULL; VQ_E_SEGS when it has more segments than pk
 * holds). The virtio-net header is skipped, or copied to hdr when not NULL. Returns 0 or VQ_E_*;
 * *ch tells how far the chain was read. */
static int vqp_tx_walk(struct riov_virtq *vq, struct vqp_chain *ch, struct rte_mempool *mp,
		       struct rte_mbuf *m, struct riov_virtq_pkt *pk, uint8_t *hdr)
{
	struct riov_vring_packed_desc d;
	struct rte_mbuf *tail = m;
	uint32_t hdr_left = vq->hdr_len;
	const uint32_t max = vq->hdr_len + RIOV_VIRTQ_MAX_PAYLOAD;
	uint32_t total = 0;
	unsigned peek = 0, nseg = 0;
	int rc;

	vqp_chain_start(vq, ch);
	while ((rc = vqp_chain_next(vq, ch, &d, false)) == 1) {
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
				uint32_t s = RTE_MIN(hdr_left, n);
				if (hdr != NULL)
					memcpy(hdr + (vq->hdr_len - hdr_left), src, s);
				hdr_left -= s;
				src += s;
				n -= s;
			}
			if (n) {
				rc = pk ? vq_pk_add(pk, &peek, &nseg, src, n)
					: vq_tx_mbuf_append(mp, m, &tail, src, n);
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

/* vq_tx_simple() of virtq_tx.c for the chain at the avail position (available: the caller read its
 * flags with acquire ordering): one descriptor (no NEXT, INDIRECT or WRITE) holding the virtio-net
 * header and the whole frame inside one mapping the translation cursor holds. Fills *pk as
 * vqp_tx_walk() would (the header to hdr when not NULL) and *ch as its walk would leave it, and
 * returns true; the caller takes the chain with vqp_take(), which checks the id. False (nothing
 * consumed, counted or recorded) leaves the chain to vqp_tx_walk(), which handles every other
 * shape and reports every error. */
static inline bool vqp_tx_simple(struct riov_virtq *vq, struct vqp_chain *ch, struct riov_virtq_pkt *pk,
				 uint8_t *hdr)
{
	struct riov_vring_packed_desc d;
	void *hva;
	uint64_t mapped;

	vqp_ring_desc(vq, vq->pk.avail, &d);
	if ((d.flags & (VQP_F_CHAIN | RIOV_VRING_DESC_F_WRITE)) != 0 || d.len <= vq->hdr_len ||
	    d.len - vq->hdr_len > RIOV_VIRTQ_MAX_PAYLOAD)
		return false;
	if (!riov_vtd_cursor_hit(&vq->tc, d.addr, d.len, RIOV_VTD_READ, &hva, &mapped) || mapped != d.len)
		return false;
	const uint8_t *frame = (const uint8_t *)hva + vq->hdr_len;
	const uint32_t flen = d.len - vq->hdr_len;
	if (hdr != NULL)
		memcpy(hdr, hva, vq->hdr_len);
	vq_pkt_one(pk, frame, flen);
	vqp_chain_one(vq, ch, d.id);
	return true;
}

uint16_t vqp_peek(struct riov_virtq *vq, struct rte_mempool *mp, struct riov_virtq_pkt *pk, uint16_t n)
{
	if (unlikely(vq->broken)) {
		vq->stats.drops[RIOV_VQ_DROP_BROKEN]++;
		return 0;
	}
	if (unlikely(vq->wait.active) && !vq_wait_poll(vq))
		return 0;
	const uint64_t gen = __atomic_load_n(vq->tc.genp, __ATOMIC_ACQUIRE);
	n = RTE_MIN(n, (uint16_t)RIOV_VIRTQ_BURST);
	vqp_prefetch(vq, n, false);

	uint16_t out = 0;
	while (out < n && vqp_avail(vq)) {
		struct riov_virtq_pkt *p = &pk[out];
		struct vqp_chain ch;
		p->bad = false;
		p->m = NULL;
		p->has_ol = false;
		uint8_t *hdr = vq->ol_sends ? (uint8_t *)&p->vhdr : NULL;
		int rc = 0;
		if (unlikely(!vqp_tx_simple(vq, &ch, p, hdr))) {
			rc = vqp_tx_walk(vq, &ch, mp, NULL, p, hdr);
			if (unlikely(rc == VQ_E_SEGS)) {
				/* scattered wider than a descriptor holds: copy it into an mbuf now */
				struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
				rc = m ? vqp_tx_walk(vq, &ch, mp, m, NULL, hdr) : VQ_E_NOMBUF;
				if (rc == 0) {
					p->m = m;
					p->len = m->pkt_len;
				} else {
					rte_pktmbuf_free(m);
				}
			}
			if (unlikely(rc == VQ_E_MISS)) {
				vq_wait_begin(vq, gen); /* the chain stays available until its translation */
				break;
			}
			if (unlikely(rc < 0))
				(void)vqp_chain_finish(vq, &ch);
		}
		if (unlikely(!vqp_take(vq, &ch))) {
			rte_pktmbuf_free(p->m);
			p->m = NULL;
			break;
		}
		p->head = ch.id;
		p->ndesc = ch.ndesc;
		if (likely(rc == 0)) {
			p->has_ol = hdr != NULL && (p->vhdr.flags | p->vhdr.gso_type);
		} else {
			vq_count_drop(vq, rc);
			p->bad = true;
			RIOV_LOG_RL(RIOV_LOG_WARN, "sid %#x tx: packed chain of id %u dropped (%d)",
				    vq->sid, ch.id, rc);
		}
		out++;
	}
	return out;
}

void vqp_peek_done(struct riov_virtq *vq, const struct riov_virtq_pkt *pk, uint16_t n)
{
	const bool batch = vq->in_order && vq->inorder_batch;
	uint32_t skip = 0;

	if (n == 0)
		return;
	for (uint16_t i = 0; i < n; i++) {
		if (likely(!pk[i].bad)) {
			vq->stats.packets++;
			vq->stats.bytes += pk[i].len;
		}
		/* TX buffers are only read: used length 0 */
		if (unlikely(vq->pk.n_pend == RIOV_VIRTQ_PACKED_PEND))
			vqp_publish(vq);  /* not from peek (<= RIOV_VIRTQ_BURST), but n is the caller's */
		if (!batch) {
			vqp_stage(vq, 0, pk[i].head, pk[i].ndesc, 0);
			vqp_commit(vq, 1);
		} else {
			vqp_id_put(vq, pk[i].head);
			skip += pk[i].ndesc;
		}
	}
	if (batch) {
		/* 2.8.19 in order: one used descriptor with the batch's last id skips the batch
		 * (at most size slots: vqp_take() keeps what is owed within the ring) */
		vqp_stage(vq, 0, pk[n - 1].head, (uint16_t)skip, 0);
		vqp_commit(vq, 1);
	}
	vqp_publish(vq);
	vq_burst_end(vq);
}

/* ---- guest RX ---- */

/* vq_rx_fill() of virtq_rx.c for the chain at the avail position: fill it from the source.
 * *written gets the bytes written; the host addresses of the header's num_buffers bytes go to nb[].
 * Returns 0 (chain full or packet done; *ch tells how far the chain was read) or VQ_E_BAD /
 * VQ_E_FAULT / VQ_E_MISS. */
static int vqp_rx_fill(struct riov_virtq *vq, struct vqp_chain *ch, struct vq_rx_src *s,
		       uint32_t *written, uint8_t *nb[2])
{
	struct riov_vring_packed_desc d;
	uint64_t addr = 0;
	uint32_t left = 0;
	uint8_t *dst = NULL;
	uint64_t dst_gpa = 0;
	uint32_t dst_left = 0;

	*written = 0;
	vqp_chain_start(vq, ch);
	for (;;) {
		const uint8_t *p;
		uint32_t c = vq_rx_src_chunk(s, &p);
		if (c == 0)
			return 0;
		if (dst_left == 0) {
			if (left == 0) {
				int rc = vqp_chain_next(vq, ch, &d, true);
				if (rc <= 0)
					return rc;
				addr = d.addr;
				left = d.len;
			}
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

/* Deliver one packet: one chain, or with mergeable buffers several (one used descriptor each,
 * 5.1.6.3.2). The chains' used descriptors are staged after the committed ones and committed when
 * the packet is delivered (0) or dropped (VQ_E_BAD / VQ_E_FAULT: every chain taken goes back with
 * length 0); VQ_E_NOSPACE / VQ_E_BIG / VQ_E_MISS consume nothing. may_publish: a full pend[] is
 * published on the way (mbufs), else the packet waits for room (VQ_E_NOSPACE). */
static int vqp_rx_one(struct riov_virtq *vq, const struct vq_rx_src *src, uint32_t pkt_len,
		      bool may_publish)
{
	struct riov_virtio_net_hdr hdr;
	uint8_t *nb[2] = { NULL, NULL };
	const uint16_t start_avail = vq->pk.avail;
	const bool start_wrap = vq->pk.avail_wrap;
	uint16_t nbufs = 0;
	struct vq_rx_src s = *src;
	int rc;

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
		if (nbufs == RIOV_VIRTQ_PACKED_PEND) {
			rc = VQ_E_BIG;  /* more buffers than one packet may take */
			goto rollback;
		}
		if (vq->pk.n_pend + nbufs == RIOV_VIRTQ_PACKED_PEND) {
			if (!may_publish) {
				rc = VQ_E_NOSPACE;
				goto rollback;
			}
			/* publish the packets before this one; this one's staged entries move down */
			const uint16_t from = vq->pk.n_pend;
			vqp_publish(vq);
			memmove(&vq->pk.pend[0], &vq->pk.pend[from], nbufs * sizeof(vq->pk.pend[0]));
		}
		if (!vqp_avail(vq)) {
			rc = VQ_E_NOSPACE;
			goto rollback;
		}
		struct vqp_chain ch;
		uint32_t written;
		rc = vqp_rx_fill(vq, &ch, &s, &written, nb);
		if (unlikely(rc == VQ_E_MISS))
			goto rollback;  /* nothing consumed: the buffers wait for their translation */
		if (!ch.end)
			(void)vqp_chain_finish(vq, &ch);
		if (unlikely(!vqp_take(vq, &ch))) {
			rc = VQ_E_BAD;  /* the queue is broken */
			goto rollback;
		}
		vqp_stage(vq, nbufs, ch.id, ch.ndesc, written);
		nbufs++;
		if (rc < 0)
			goto drop;
		if (nbufs == 1 && written < vq->hdr_len) {
			/* the header must fit in the first buffer (5.1.6.3.1) */
			rc = VQ_E_BAD;
			goto drop;
		}
		if (s.done == total)
			break;
		if (!vq->mrg_rxbuf) {
			/* larger than the buffer: keep the buffer for a smaller packet */
			rc = VQ_E_BIG;
			goto rollback;
		}
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
	vqp_commit(vq, nbufs);
	return 0;

rollback:
	for (uint16_t j = 0; j < nbufs; j++)
		vqp_id_put(vq, vq->pk.pend[vq->pk.n_pend + j].id);
	vq->pk.avail = start_avail;
	vq->pk.avail_wrap = start_wrap;
	vq->last_avail_idx = vqp_enc(start_avail, start_wrap);
	return rc;

drop:
	/* hand back every buffer of this packet, empty */
	for (uint16_t j = 0; j < nbufs; j++)
		vq->pk.pend[vq->pk.n_pend + j].len = 0;
	vqp_commit(vq, nbufs);
	return rc;
}

/* vq_rx_simple() of virtq_rx.c for the chain at the avail position: one device-writable descriptor
 * (no NEXT or INDIRECT) that takes the header and the whole frame inside one mapping the
 * translation cursor holds, with room in pend[]. Takes it (vqp_take(): id in range and not in
 * flight), writes the packet as vqp_rx_one() would (num_buffers 1) and commits its used descriptor:
 * 0. VQ_E_BAD: the chain could not be taken, the queue is broken (nothing written). 1: not that
 * shape (nothing consumed, counted or recorded): vqp_rx_one() delivers the packet, merges it over
 * several buffers, drops it or waits. */
static inline int vqp_rx_simple(struct riov_virtq *vq, const struct vq_rx_src *src, uint32_t pkt_len)
{
	struct riov_vring_packed_desc d;
	struct vqp_chain ch;
	void *hva;
	uint64_t mapped;

	if (unlikely(vq->pk.n_pend == RIOV_VIRTQ_PACKED_PEND) || !vqp_avail(vq))
		return 1;
	vqp_ring_desc(vq, vq->pk.avail, &d);
	const uint64_t total = (uint64_t)vq->hdr_len + pkt_len;
	/* (a descriptor that wraps the address space is malformed: vqp_chain_next()'s to report) */
	if ((d.flags & (VQP_F_CHAIN | RIOV_VRING_DESC_F_WRITE)) != RIOV_VRING_DESC_F_WRITE || d.len < total ||
	    d.addr > UINT64_MAX - d.len)
		return 1;
	if (!riov_vtd_cursor_hit(&vq->tc, d.addr, total, RIOV_VTD_WRITE, &hva, &mapped) || mapped != total)
		return 1;
	vqp_chain_one(vq, &ch, d.id);
	if (unlikely(!vqp_take(vq, &ch)))
		return VQ_E_BAD;
	uint8_t *dst = hva;
	/* 5.1.6.4: no offload metadata (the caller's check), so flags/gso are zero; num_buffers 1
	 * (the legacy 10-byte header ends before it). Left unwritten when the buffer holds it already
	 * (vq_rx_hdr_same()). */
	const struct riov_virtio_net_hdr hdr = { .num_buffers = rte_cpu_to_le_16(1) };
	if (!vq_rx_hdr_same(dst, (const uint8_t *)&hdr, vq->hdr_len))
		memcpy(dst, &hdr, vq->hdr_len);
	const uint32_t w = vq->hdr_len + vq_rx_src_copy(dst + vq->hdr_len, src, pkt_len);
	vq_log_write(vq, d.addr, w);
	vqp_stage(vq, 0, ch.id, 1, w);
	vqp_commit(vq, 1);
	return 0;
}

/* vq_rx_burst() of virtq_rx.c: deliver n packets in order, mbufs pkts[] (pk NULL) or peeked
 * packets pk[] (pkts NULL; mp for the ones to hold). */
static uint16_t vqp_rx_burst(struct riov_virtq *vq, struct rte_mempool *mp, struct rte_mbuf **pkts,
			     struct riov_virtq_pkt *const *pk, uint16_t n)
{
	const uint64_t gen = __atomic_load_n(vq->tc.genp, __ATOMIC_ACQUIRE);
	uint16_t delivered = 0;

	vqp_prefetch(vq, RTE_MIN(n, (uint16_t)RIOV_VIRTQ_BURST), true);
	for (uint16_t i = 0; i < n; i++) {
		struct vq_rx_src src = { 0 };
		struct riov_virtio_net_hdr oh;
		uint32_t len;
		if (pk == NULL) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			src.seg = pkts[i];
			len = pkts[i]->pkt_len;
			if (unlikely(pkts[i]->ol_flags & RIOV_OL_MBUF_FLAGS)) {
				riov_ol_to_vnet_hdr(pkts[i], vq->ol_accepts, vq->mtu ? vq->mtu : 1500, &oh);
				src.ohdr = &oh;
			}
		} else {
			if (i + 1 < n && pk[i + 1]->nseg)
				rte_prefetch0(pk[i + 1]->seg[0].p);
			src.seg = pk[i]->m;
			src.pk = pk[i]->m ? NULL : pk[i];
			len = pk[i]->m ? pk[i]->m->pkt_len : pk[i]->len;
		}
		int rc = likely(src.ohdr == NULL) ? vqp_rx_simple(vq, &src, len) : 1;
		if (rc == 1)
			rc = vqp_rx_one(vq, &src, len, pk == NULL);
		if (likely(rc == 0)) {
			delivered++;
			vq->stats.packets++;
			vq->stats.bytes += len;
			continue;
		}
		if (rc == VQ_E_NOSPACE || rc == VQ_E_MISS) {
			/* no buffers yet, or waiting for a translation: hold the rest, in order */
			if (pk == NULL)
				vq_hold(vq, pkts + i, (uint16_t)(n - i));
			else
				vq_hold_pkts(vq, mp, pk + i, (uint16_t)(n - i));
			if (rc == VQ_E_MISS)
				vq_wait_begin(vq, gen);
			break;
		}
		if (unlikely(vq->broken)) {
			vq->stats.drops[RIOV_VQ_DROP_BROKEN] += n - i;
			break;
		}
		vq_count_drop(vq, rc);
		if (rc != VQ_E_BIG)
			RIOV_LOG_RL(RIOV_LOG_WARN, "sid %#x rx: packet dropped (%d)", vq->sid, rc);
	}
	if (pk == NULL)
		vqp_publish(vq);
	else if (vq->pk.n_pend != 0)
		vq->unpublished = true; /* riov_virtq_publish_rx(), after the source's chains */
	vq_burst_end(vq);
	return delivered;
}

uint16_t vqp_flush_held(struct riov_virtq *vq)
{
	struct rte_mbuf *h[RIOV_VIRTQ_HELD];
	uint16_t k = vq->n_held;

	if (k == 0)
		return 0;
	if (vq->broken) {
		vq->stats.drops[RIOV_VQ_DROP_BROKEN] += k;
		riov_virtq_release(vq);
		return 0;
	}
	if (vq->wait.active) {
		if (!vq_wait_poll(vq))
			return 0;
	} else if (!vqp_avail(vq)) {
		/* held for want of buffers and the driver has made none available since */
		if (rte_rdtsc() - vq->held_since > vq->held_max_tsc)
			vq_held_drop(vq);
		return 0;
	}
	memcpy(h, vq->held, k * sizeof(h[0]));
	vq_held_clear(vq);
	uint16_t d = vqp_rx_burst(vq, NULL, h, NULL, k);
	rte_pktmbuf_free_bulk(h, k);
	return d;
}

uint16_t vqp_enqueue(struct riov_virtq *vq, struct rte_mempool *mp, struct rte_mbuf **pkts,
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
		done = vqp_flush_held(vq);
		if (vq->n_held != 0 || vq->wait.active) {
			if (pk == NULL)
				vq_hold(vq, pkts, n);
			else
				vq_hold_pkts(vq, mp, pk, n);
			return done;
		}
	}
	return (uint16_t)(done + vqp_rx_burst(vq, mp, pkts, pk, n));
}
