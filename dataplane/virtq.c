/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split virtqueues, device side (virtio 1.2 section 2.7) for virtio-net (section 5.1).
 *
 * Security model: everything in the ring and in the buffers belongs to the guest, which may change
 * it at any moment, including while we read it. Therefore:
 *  - avail->idx is read once per burst (acquire) and the number of new entries it implies is checked
 *    against the ring size; more than size outstanding means the guest broke the ring: the queue is
 *    marked broken and stays so until re-initialised.
 *  - every head and every next index is checked against the table it indexes before use; every
 *    descriptor is copied out of guest memory (then a compiler barrier) before any field is examined,
 *    so a field is never fetched twice.
 *  - chains are walked by a loop bounded by the ring size (indirect: by the table's entry count,
 *    itself bounded by RIOV_VIRTQ_MAX_INDIRECT); nested indirect tables, INDIRECT together with NEXT,
 *    zero-length buffers, wrongly directed buffers and chains shorter than the virtio-net header are
 *    malformed. No recursion anywhere.
 *  - buffer addresses (and indirect tables) are guest addresses: they are translated through the
 *    device's VT-d domain with riov_vtd_translate() for the access being made, honouring the mapped
 *    length (a loop over partial mappings); a fault drops the packet and is recorded by the VT-d
 *    model's fault log.
 *  - the ring parts themselves are host pointers handed over by vmm (already translated, each within
 *    one mapping, checked for size there); only masked indices are used on them.
 * A malformed packet is dropped and counted, and its head is returned in the used ring with length 0
 * whenever the head is a valid index, so the guest gets its descriptors back.
 *
 * Thread rules: one worker owns a struct riov_virtq; no locks; only mbufs are allocated.
 * riov_virtq_fuzz_one() is for the fuzz harness only (initialises EAL on first use).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_atomic.h>
#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include "common/log.h"
#include "dataplane/virtq.h"
#include "dataplane/virtq_internal.h"
#include "iommu/vtd.h"
#include "vmm/vhost.h"

#define VQ_LOG "virtq"
#define VQ_PAGE_SHIFT 12

/* Internal results of chain handling (negative: the packet is not delivered). */
enum {
	VQ_E_BAD = -1,      /* malformed chain: BAD_DESC */
	VQ_E_FAULT = -2,    /* translation fault: DMA_FAULT */
	VQ_E_NOMBUF = -3,   /* mempool empty mid-packet: NO_MBUF */
	VQ_E_BIG = -4,      /* packet does not fit: TOO_BIG */
	VQ_E_NOSPACE = -5,  /* RX: not enough guest buffers: NO_BUFFER */
	VQ_E_MISS = -6,     /* vIOMMU first stage has no entry yet: wait for it (vq->wait) */
	VQ_E_SEGS = -7,     /* peek: more segments than a riov_virtq_pkt holds (use an mbuf) */
};

static inline struct riov_vring_avail *vq_avail(const struct riov_virtq *vq)
{
	return vq->avail;
}

static inline struct riov_vring_used *vq_used(const struct riov_virtq *vq)
{
	return vq->used;
}

static inline uint16_t *vq_used_event(const struct riov_virtq *vq)
{
	return &vq_avail(vq)->ring[vq->size];
}

static inline uint16_t *vq_avail_event(const struct riov_virtq *vq)
{
	return (uint16_t *)(void *)&vq_used(vq)->ring[vq->size];
}

static void vq_count_drop(struct riov_virtq *vq, int err)
{
	switch (err) {
	case VQ_E_BAD:
		vq->stats.drops[RIOV_VQ_DROP_BAD_DESC]++;
		break;
	case VQ_E_FAULT:
		vq->stats.drops[RIOV_VQ_DROP_DMA_FAULT]++;
		break;
	case VQ_E_NOMBUF:
		vq->stats.drops[RIOV_VQ_DROP_NO_MBUF]++;
		break;
	case VQ_E_BIG:
		vq->stats.drops[RIOV_VQ_DROP_TOO_BIG]++;
		break;
	default:
		vq->stats.drops[RIOV_VQ_DROP_NO_BUFFER]++;
		break;
	}
}

static void vq_mark_broken(struct riov_virtq *vq, const char *why, unsigned a, unsigned b)
{
	vq->broken = true;
	vq->stats.broken++;
	RIOV_LOG_RL(RIOV_LOG_WARN, VQ_LOG, "queue (sid %#x, %s) broken: %s (%u, %u)", vq->sid,
		    vq->is_tx ? "tx" : "rx", why, a, b);
}

/* ---- dirty log (vhost-user VHOST_F_LOG_ALL): one bit per 4 KiB guest page ---- */

static void vq_log_write(struct riov_virtq *vq, uint64_t gpa, uint64_t len)
{
	if (likely(vq->log_base == NULL) || len == 0)
		return;
	uint64_t first = gpa >> VQ_PAGE_SHIFT;
	uint64_t last = (gpa + len - 1) >> VQ_PAGE_SHIFT;
	if (last < first) /* wrapped: address space end */
		last = UINT64_MAX >> VQ_PAGE_SHIFT;
	for (uint64_t p = first; p <= last; p++) {
		uint64_t byte = p >> 3;
		if (byte >= vq->log_size)
			break; /* pages beyond the log are not tracked (vmm sized the log) */
		__atomic_fetch_or(&vq->log_base[byte], (uint8_t)(1u << (p & 7)), __ATOMIC_RELAXED);
	}
}

static inline void vq_log_used(struct riov_virtq *vq, uint64_t off, uint64_t len)
{
	if (unlikely(vq->log_base != NULL) && vq->log_used)
		vq_log_write(vq, vq->used_gpa + off, len);
}

/* ---- ring access ---- */

static inline uint16_t vq_read_avail_idx(const struct riov_virtq *vq)
{
	/* acquire: ring entries and descriptors published before idx are visible (2.7.13) */
	return rte_le_to_cpu_16(__atomic_load_n(&vq_avail(vq)->idx, __ATOMIC_ACQUIRE));
}

static inline uint16_t vq_read_avail_ring(const struct riov_virtq *vq, uint16_t idx)
{
	return rte_le_to_cpu_16(
		__atomic_load_n(&vq_avail(vq)->ring[idx & (vq->size - 1)], __ATOMIC_RELAXED));
}

static inline void vq_write_used(struct riov_virtq *vq, uint32_t id, uint32_t len)
{
	uint16_t slot = vq->last_used_idx & (vq->size - 1);
	struct riov_vring_used_elem *e = &vq_used(vq)->ring[slot];
	e->id = rte_cpu_to_le_32(id);
	e->len = rte_cpu_to_le_32(len);
	vq_log_used(vq, 4 + 8ull * slot, 8);
	vq->last_used_idx++;
}

/* Keep avail_event one behind what we consumed: the guest's kick condition
 * vring_need_event(avail_event, new, old) then never holds, because the guest's old avail index is
 * never behind last_avail_idx. Workers poll; kicks would only cost exits. */
static inline void vq_update_avail_event(struct riov_virtq *vq)
{
	if (!vq->event_idx)
		return;
	__atomic_store_n(vq_avail_event(vq), rte_cpu_to_le_16((uint16_t)(vq->last_avail_idx - 1)),
			 __ATOMIC_RELAXED);
	vq_log_used(vq, 4 + 8ull * vq->size, 2);
}

/* Make the used entries written since `old` visible: one release store of used->idx per burst. */
static void vq_publish_used(struct riov_virtq *vq, uint16_t old)
{
	uint16_t added = (uint16_t)(vq->last_used_idx - old);
	if (added) {
		__atomic_store_n(&vq_used(vq)->idx, rte_cpu_to_le_16(vq->last_used_idx),
				 __ATOMIC_RELEASE);
		vq_log_used(vq, 2, 2);
		uint32_t p = (uint32_t)vq->pending_used + added;
		vq->pending_used = p > UINT16_MAX ? UINT16_MAX : (uint16_t)p;
		/* If used moved past the index we last signalled at (wrap), that index no longer
		 * tells whether the guest has seen an interrupt for these entries. */
		if ((int16_t)(vq->last_used_idx - vq->signalled_used) < (int32_t)added)
			vq->signalled_used_valid = false;
	}
	vq_update_avail_event(vq);
}

/* ---- guest memory through the VT-d model ---- */

/* A translation of iova for access failed with rc. A vIOMMU guest's missing first-stage entry is
 * a wait (VQ_E_MISS, iova remembered for the request), unless its deadline already passed: then,
 * like any other failure, a DMA fault (recorded in the VT-d fault log). */
static __attribute__((noinline)) int vq_xlate_err(struct riov_virtq *vq, int rc, uint64_t iova,
						  unsigned access)
{
	if (rc != -RIOV_VTD_IOTLB_MISS)
		return VQ_E_FAULT;
	if (vq->wait.give_up) {
		vq->wait.give_up = false;
		vq->wait.since = 0;
		vq->tc.faults++;
		riov_vtd_fault_record(vq->vtd, vq->sid,
				      (access & RIOV_VTD_WRITE) ? RIOV_VTD_FR_WRITE : RIOV_VTD_FR_READ,
				      (access & RIOV_VTD_WRITE) != 0, iova);
		RIOV_LOG_RL(RIOV_LOG_WARN, VQ_LOG, "sid %#x: no IOTLB entry for 0x%llx within %u ms: "
			    "DMA fault", vq->sid, (unsigned long long)iova,
			    RIOV_VIRTQ_MISS_DEADLINE_US / 1000);
		return VQ_E_FAULT;
	}
	vq->wait.iova = iova;
	vq->wait.access = access;
	return VQ_E_MISS;
}

/* Ask vmm to send the front-end an IOTLB miss for vq->wait (best effort: a lost request is sent
 * again after RIOV_VIRTQ_MISS_RESEND_US). */
static void vq_ask(struct riov_virtq *vq)
{
	static const uint64_t one = 1;

	if (vq->miss_slot == NULL)
		return;
	atomic_store_explicit(vq->miss_slot, (vq->wait.iova & ~0xfffull) | (uint64_t)vq->wait.access << 1 | 1,
			      memory_order_release);
	if (write(vq->miss_efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the control thread is awake anyway */
	}
}

/* A burst stopped at a VQ_E_MISS: wait until the unit's generation moves past `gen` (the one read
 * before the burst translated anything, so an update racing with the miss is not missed). */
static __attribute__((noinline)) void vq_wait_begin(struct riov_virtq *vq, uint64_t gen)
{
	uint64_t now = rte_rdtsc();

	vq->stats.iotlb_waits++;
	if (vq->wait.since == 0)
		vq->wait.since = now;   /* kept while the same wait goes on, for the deadline */
	vq->wait.active = true;
	vq->wait.gen = gen;
	vq->wait.sent = now;
	vq_ask(vq);
}

/* After a burst that did not stop at a miss: a later miss starts a new deadline, and a deadline
 * that passed applied to this burst only. */
static inline void vq_burst_end(struct riov_virtq *vq)
{
	if (unlikely(vq->wait.since != 0 || vq->wait.give_up) && !vq->wait.active) {
		vq->wait.since = 0;
		vq->wait.give_up = false;
	}
}

/* Called before a burst while waiting: true to go on (the generation moved, or the deadline
 * passed and the next miss becomes a fault), false to keep waiting. */
static __attribute__((noinline)) bool vq_wait_poll(struct riov_virtq *vq)
{
	if (__atomic_load_n(vq->tc.genp, __ATOMIC_ACQUIRE) != vq->wait.gen) {
		vq->wait.active = false;
		return true;
	}
	uint64_t now = rte_rdtsc(), us = rte_get_tsc_hz() / 1000000;
	if (now - vq->wait.since > RIOV_VIRTQ_MISS_DEADLINE_US * us) {
		vq->wait.active = false;
		vq->wait.give_up = true;
		return true;
	}
	if (now - vq->wait.sent > RIOV_VIRTQ_MISS_RESEND_US * us) {
		vq->wait.sent = now;
		vq_ask(vq);
	}
	return false;
}

/* Copy len bytes from guest address iova (READ). Returns 0, VQ_E_FAULT or VQ_E_MISS. */
static int vq_guest_read(struct riov_virtq *vq, uint64_t iova, void *dst, uint32_t len)
{
	uint8_t *d = dst;
	while (len) {
		void *hva;
		uint64_t mapped;
		int rc = riov_vtd_translate(&vq->tc, iova, len, RIOV_VTD_READ, &hva, &mapped);
		if (rc < 0)
			return vq_xlate_err(vq, rc, iova, RIOV_VTD_READ);
		if (unlikely(mapped == 0 || mapped > len))
			return VQ_E_FAULT;
		memcpy(d, hva, mapped);
		d += mapped;
		iova += mapped;
		len -= (uint32_t)mapped;
	}
	return 0;
}

/* Decode the private copy `raw` of a descriptor the guest can still change: nothing of the guest's
 * is looked at again (the barrier keeps the compiler from reading the guest's bytes twice). */
static inline void vq_desc_decode(struct riov_vring_desc *d, const struct riov_vring_desc *raw)
{
	rte_compiler_barrier();
	d->addr = rte_le_to_cpu_64(raw->addr);
	d->len = rte_le_to_cpu_32(raw->len);
	d->flags = rte_le_to_cpu_16(raw->flags);
	d->next = rte_le_to_cpu_16(raw->next);
}

/* Copy descriptor `idx` (< vq->size) of the ring privately and decode it into *d. */
static inline void vq_ring_desc(const struct riov_virtq *vq, uint16_t idx, struct riov_vring_desc *d)
{
	struct riov_vring_desc raw;

	memcpy(&raw, (const struct riov_vring_desc *)vq->desc + idx, sizeof(raw));
	vq_desc_decode(d, &raw);
}

/* ---- descriptor chains ---- */

struct vq_chain {
	uint64_t ind_addr;  /* guest address of the indirect table (in_ind) */
	uint32_t idx;       /* next entry to read in the current table */
	uint32_t limit;     /* entries in the current table */
	uint32_t budget;    /* descriptors still allowed from the current table (loop bound) */
	bool in_ind;
	bool more;
};

static inline void vq_chain_start(const struct riov_virtq *vq, struct vq_chain *ch, uint16_t head)
{
	ch->ind_addr = 0;
	ch->idx = head;
	ch->limit = vq->size;
	ch->budget = vq->size;
	ch->in_ind = false;
	ch->more = true;
}

/* Fetch the next buffer descriptor of a chain into *d (a private copy). `write` is the direction
 * every buffer must have (RX: device-writable). Returns 1 with a descriptor, 0 at the end of the
 * chain, VQ_E_BAD for a malformed chain, VQ_E_FAULT if an indirect table does not translate
 * (VQ_E_MISS: not yet).
 * Iterative: entering an indirect table happens at most once per chain (no nesting). */
static int vq_chain_next(struct riov_virtq *vq, struct vq_chain *ch, struct riov_vring_desc *d,
			 bool write)
{
	struct riov_vring_desc raw;

	for (;;) {
		if (!ch->more)
			return 0;
		if (ch->budget == 0)
			return VQ_E_BAD; /* longer than the table: a loop (2.7.5.3.1) */
		ch->budget--;
		if (ch->in_ind) {
			int rc = vq_guest_read(vq, ch->ind_addr + 16ull * ch->idx, &raw, sizeof(raw));
			if (rc < 0)
				return rc;
			vq_desc_decode(d, &raw);
		} else {
			vq_ring_desc(vq, (uint16_t)ch->idx, d);
		}

		if (d->flags & RIOV_VRING_DESC_F_INDIRECT) {
			/* 2.7.5.3: only with the feature, never with NEXT, never inside a table */
			if (!vq->indirect || ch->in_ind || (d->flags & RIOV_VRING_DESC_F_NEXT))
				return VQ_E_BAD;
			if (d->len == 0 || d->len % 16 != 0 || d->len / 16 > RIOV_VIRTQ_MAX_INDIRECT)
				return VQ_E_BAD;
			if (d->addr > UINT64_MAX - d->len)
				return VQ_E_BAD;
			ch->in_ind = true;
			ch->ind_addr = d->addr;
			ch->idx = 0;
			ch->limit = d->len / 16;
			ch->budget = ch->limit;
			continue;
		}
		if (d->flags & RIOV_VRING_DESC_F_NEXT) {
			if (d->next >= ch->limit)
				return VQ_E_BAD;
			ch->idx = d->next;
		} else {
			ch->more = false;
		}
		if (d->len == 0 || d->addr > UINT64_MAX - d->len)
			return VQ_E_BAD;
		if (!!(d->flags & RIOV_VRING_DESC_F_WRITE) != write)
			return VQ_E_BAD;
		return 1;
	}
}

/* Prefetch for writing (PREFETCHW where the build enables it: dataplane/meson.build). */
static inline void vq_prefetch_w(const void *p)
{
	__builtin_prefetch(p, 1, 3);
}

/* Prefetch the first buffer of each chain whose translation the cursor already holds. Only a
 * hint: the descriptor is read again, checked and translated when the chain is processed. */
static inline void vq_prefetch_buffers(const struct riov_virtq *vq, const uint16_t *heads, uint16_t k,
				       bool write)
{
	const struct riov_vring_desc *desc = vq->desc;
	const uint16_t mask = (uint16_t)(vq->size - 1);

	for (uint16_t j = 0; j < k; j++) {
		uint64_t addr = __atomic_load_n(&desc[heads[j] & mask].addr, __ATOMIC_RELAXED);
		const struct riov_vtd_cursor_slot *sl = &vq->tc.slot[(addr >> 21) % RIOV_VTD_CURSOR_SLOTS];
		if (sl->mask == 0 || (addr & ~sl->mask) != sl->base)
			continue;
		const uint8_t *p = (const uint8_t *)(uintptr_t)(sl->hbase + (addr - sl->base));
		if (!write) {
			rte_prefetch0(p);
			continue;
		}
		/* RX: the virtio-net header is mostly left as it is (vq_rx_hdr_same()), so its line
		 * is only read and stays valid in the guest's cache; the frame's first line is
		 * written: ask for it in exclusive state, so the stores of the copy do not wait */
		rte_prefetch0(p);
		const uint64_t frame = addr + vq->hdr_len;
		if (((frame ^ addr) & ~63ull) != 0 && (frame & ~sl->mask) == sl->base)
			vq_prefetch_w(p + vq->hdr_len);
	}
}

/* ---- guest TX: dequeue ---- */

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

/* Add n frame bytes at src (guest memory, translated) to a peeked packet: the first
 * RIOV_VIRTQ_PEEK into its private copy, the rest as segments (adjacent ones merged). */
static inline int vq_pk_add(struct riov_virtq_pkt *pk, unsigned *peek, unsigned *nseg, const uint8_t *src,
			    uint32_t n)
{
	if (*peek < RIOV_VIRTQ_PEEK) {
		/* the private copy: the switch decides on it and delivers it (a variable-size memcpy
		 * became `rep movsq` here, slow to start) */
		uint32_t c = RTE_MIN(n, RIOV_VIRTQ_PEEK - *peek);
		if (likely(c == RIOV_VIRTQ_PEEK))
			rte_memcpy(pk->peek, src, RIOV_VIRTQ_PEEK);
		else
			rte_memcpy(pk->peek + *peek, src, c);
		*peek += c;
		src += c;
		n -= c;
	}
	if (n == 0)
		return 0;
	if (*nseg && pk->seg[*nseg - 1].p + pk->seg[*nseg - 1].len == src) {
		pk->seg[*nseg - 1].len += n;
		return 0;
	}
	if (*nseg == RIOV_VIRTQ_PKT_SEGS)
		return VQ_E_SEGS;
	pk->seg[*nseg].p = src;
	pk->seg[*nseg].len = n;
	(*nseg)++;
	return 0;
}

/* Walk the TX chain at `head` (virtio-net header skipped): copy the frame into mbuf m (pk NULL),
 * or describe it in place in *pk (m NULL; VQ_E_SEGS when it has more segments than pk holds).
 * Returns 0 or VQ_E_*. */
static int vq_tx_walk(struct riov_virtq *vq, uint16_t head, struct rte_mempool *mp, struct rte_mbuf *m,
		      struct riov_virtq_pkt *pk)
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
				/* offloads are not offered, so the header carries nothing we need */
				uint32_t s = RTE_MIN(hdr_left, n);
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
	if (likely(flen >= RIOV_VIRTQ_PEEK)) {
		rte_memcpy(pk->peek, frame, RIOV_VIRTQ_PEEK);
		pk->peek_len = RIOV_VIRTQ_PEEK;
		pk->nseg = flen > RIOV_VIRTQ_PEEK;
		pk->seg[0].p = frame + RIOV_VIRTQ_PEEK;
		pk->seg[0].len = flen - RIOV_VIRTQ_PEEK;
	} else {
		rte_memcpy(pk->peek, frame, flen);
		pk->peek_len = (uint8_t)flen;
		pk->nseg = 0;
	}
	pk->len = flen;
	return true;
}

/* Start a TX burst: up to n (<= RIOV_VIRTQ_BURST) avail heads into heads[], their descriptors and
 * buffers prefetched; *gen is the unit's generation before anything is translated. Returns the
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

uint16_t riov_virtq_dequeue(struct riov_virtq *vq, struct rte_mempool *mp, struct rte_mbuf **pkts,
			    uint16_t n)
{
	struct rte_mbuf *mb[RIOV_VIRTQ_BURST];
	uint16_t heads[RIOV_VIRTQ_BURST];
	uint64_t gen;

	n = vq_tx_begin(vq, n, heads, &gen);
	if (n == 0)
		return 0;
	if (rte_pktmbuf_alloc_bulk(mp, mb, n) != 0) {
		uint16_t k = 0;
		while (k < n && (mb[k] = rte_pktmbuf_alloc(mp)) != NULL)
			k++;
		if (k == 0) {
			vq->stats.drops[RIOV_VQ_DROP_NO_MBUF]++;
			return 0;
		}
		n = k;
	}

	const uint16_t old_used = vq->last_used_idx;
	const bool batch = vq->in_order && vq->inorder_batch;
	bool have_last = false;
	uint16_t last_head = 0;
	uint16_t out = 0;

	for (uint16_t i = 0; i < n; i++) {
		uint16_t head = heads[i];
		vq->last_avail_idx++;
		if (unlikely(head >= vq->size)) {
			/* not a descriptor: nothing to give back */
			vq->stats.drops[RIOV_VQ_DROP_BAD_DESC]++;
			rte_pktmbuf_free(mb[i]);
			RIOV_LOG_RL(RIOV_LOG_WARN, VQ_LOG, "sid %#x tx: head %u out of range (size %u)",
				    vq->sid, head, vq->size);
			continue;
		}
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(mb[i + 1], void *));
		int rc = vq_tx_walk(vq, head, mp, mb[i], NULL);
		if (unlikely(rc == VQ_E_MISS)) {
			/* the chain stays in the avail ring until its translation arrives */
			vq->last_avail_idx--;
			for (uint16_t k = i; k < n; k++)
				rte_pktmbuf_free(mb[k]);
			vq_wait_begin(vq, gen);
			break;
		}
		if (likely(rc == 0)) {
			vq->stats.packets++;
			vq->stats.bytes += mb[i]->pkt_len;
			pkts[out++] = mb[i];
		} else {
			vq_count_drop(vq, rc);
			rte_pktmbuf_free(mb[i]);
			RIOV_LOG_RL(RIOV_LOG_WARN, VQ_LOG, "sid %#x tx: packet at head %u dropped (%d)",
				    vq->sid, head, rc);
		}
		/* TX buffers are only read: used length 0 (2.7.8) */
		if (batch) {
			have_last = true;
			last_head = head;
		} else {
			vq_write_used(vq, head, 0);
		}
	}
	if (batch && have_last) /* 2.7.10: in order, one entry for the batch, last buffer's id */
		vq_write_used(vq, last_head, 0);
	vq_publish_used(vq, old_used);
	vq_burst_end(vq);
	return out;
}

/* ---- guest RX: enqueue ---- */

struct vq_rx_src {
	const uint8_t *hdr;
	uint32_t hdr_len;
	uint32_t done;              /* header + payload bytes consumed */
	const struct rte_mbuf *seg; /* current payload segment (mbuf source) */
	uint32_t seg_off;           /* offset in the current segment or piece */
	const struct riov_virtq_pkt *pk; /* peeked source: piece 0 = peek, k = seg[k - 1] */
	unsigned piece;
};

/* Current chunk of a peeked packet; 0 when exhausted. */
static inline uint32_t vq_rx_src_pk_chunk(struct vq_rx_src *s, const uint8_t **p)
{
	const struct riov_virtq_pkt *pk = s->pk;
	for (;;) {
		const uint8_t *base;
		uint32_t len;
		if (s->piece == 0) {
			base = pk->peek;
			len = pk->peek_len;
		} else if (s->piece <= pk->nseg) {
			base = pk->seg[s->piece - 1].p;
			len = pk->seg[s->piece - 1].len;
		} else {
			return 0;
		}
		if (s->seg_off < len) {
			*p = base + s->seg_off;
			return len - s->seg_off;
		}
		s->piece++;
		s->seg_off = 0;
	}
}

/* Current source chunk; 0 when the packet is exhausted. */
static inline uint32_t vq_rx_src_chunk(struct vq_rx_src *s, const uint8_t **p)
{
	if (s->done < s->hdr_len) {
		*p = s->hdr + s->done;
		return s->hdr_len - s->done;
	}
	if (s->pk != NULL)
		return vq_rx_src_pk_chunk(s, p);
	while (s->seg != NULL && s->seg_off >= s->seg->data_len) {
		s->seg = s->seg->next;
		s->seg_off = 0;
	}
	if (s->seg == NULL)
		return 0;
	*p = rte_pktmbuf_mtod_offset(s->seg, const uint8_t *, s->seg_off);
	return s->seg->data_len - s->seg_off;
}

static inline void vq_rx_src_advance(struct vq_rx_src *s, uint32_t c)
{
	if (s->done >= s->hdr_len)
		s->seg_off += c;
	s->done += c;
}

/* Whether the guest's buffer already holds the virtio-net header riov is about to write there: a
 * buffer the guest posts again mostly does, from its last use (riov writes the same header to every
 * packet, and DPDK's virtio driver leaves equal fields unwritten when it sends a buffer on). Not
 * storing it keeps the line valid in the guest CPU's cache: a store takes the line away, and the
 * guest then waits for it from this CPU when it sends the buffer on and reads the header (in the
 * 64 B loop of docs/benchmarks.md, 150 samples per million packets of the guest's profile there,
 * 56 with this check). Reads guest memory the caller has translated for writing; a guest that
 * changes the bytes meanwhile only spoils its own packet. */
static inline bool vq_rx_hdr_same(const uint8_t *dst, const uint8_t *hdr, uint32_t len)
{
	uint64_t a, b;
	uint32_t c, d;
	uint16_t e, f;

	memcpy(&a, dst, 8);
	memcpy(&b, hdr, 8);
	if (len == 12) {
		memcpy(&c, dst + 8, 4);
		memcpy(&d, hdr + 8, 4);
		return a == b && c == d;
	}
	if (len == 10) {
		memcpy(&e, dst + 8, 2);
		memcpy(&f, hdr + 8, 2);
		return a == b && e == f;
	}
	return false;
}

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

/* Copy up to `left` frame bytes of src (a peeked packet or an mbuf chain, from its start) to dst;
 * returns the bytes copied (less than left only if the source is shorter). A loop of its own rather
 * than vq_rx_src_chunk()'s general walk: that one costs 35 more instructions per 64 B packet. */
static inline uint32_t vq_rx_src_copy(uint8_t *dst, const struct vq_rx_src *src, uint32_t left)
{
	uint32_t done = 0;

	if (src->pk != NULL) {
		const struct riov_virtq_pkt *pk = src->pk;
		uint32_t c = RTE_MIN((uint32_t)pk->peek_len, left);
		rte_memcpy(dst, pk->peek, c);
		done = c;
		for (unsigned k = 0; k < pk->nseg && done < left; k++) {
			c = RTE_MIN(pk->seg[k].len, left - done);
			rte_memcpy(dst + done, pk->seg[k].p, c);
			done += c;
		}
		return done;
	}
	for (const struct rte_mbuf *m = src->seg; m != NULL && done < left; m = m->next) {
		uint32_t c = RTE_MIN((uint32_t)m->data_len, left - done);
		rte_memcpy(dst + done, rte_pktmbuf_mtod(m, const uint8_t *), c);
		done += c;
	}
	return done;
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

	/* 5.1.6.4: no offloads offered, so flags/gso are zero; num_buffers is 1 unless merged */
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
 * they are dropped as NO_BUFFER. */
static void vq_hold(struct riov_virtq *vq, struct rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		if (vq->n_held == RIOV_VIRTQ_HELD) {
			vq->stats.drops[RIOV_VQ_DROP_NO_BUFFER] += n - i;
			return;
		}
		for (struct rte_mbuf *seg = pkts[i]; seg != NULL; seg = seg->next)
			rte_mbuf_refcnt_update(seg, 1);
		vq->held[vq->n_held++] = pkts[i];
	}
}

static void vq_hold_pkts(struct riov_virtq *vq, struct rte_mempool *mp, struct riov_virtq_pkt *const *pk,
			 uint16_t n);

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
		uint32_t len;
		if (pk == NULL) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			src.seg = pkts[i];
			len = pkts[i]->pkt_len;
		} else {
			if (i + 1 < n && pk[i + 1]->nseg)
				rte_prefetch0(pk[i + 1]->seg[0].p);
			/* (a packet the peek had to copy into an mbuf is delivered from it) */
			src.seg = pk[i]->m;
			src.pk = pk[i]->m ? NULL : pk[i];
			len = pk[i]->m ? pk[i]->m->pkt_len : pk[i]->len;
		}
		int rc = likely(vq_rx_simple(vq, &src, len, &avail)) ? 0 : vq_rx_one(vq, &src, len, &avail);
		if (likely(rc == 0)) {
			delivered++;
			vq->stats.packets++;
			vq->stats.bytes += len;
			continue;
		}
		if (rc == VQ_E_NOSPACE) {
			vq->stats.drops[RIOV_VQ_DROP_NO_BUFFER] += n - i;
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
			RIOV_LOG_RL(RIOV_LOG_WARN, VQ_LOG, "sid %#x rx: packet dropped (%d)", vq->sid,
				    rc);
	}
	vq_publish_used(vq, old_used);
	vq_burst_end(vq);
	return delivered;
}

uint16_t riov_virtq_flush_held(struct riov_virtq *vq)
{
	struct rte_mbuf *h[RIOV_VIRTQ_HELD];
	uint16_t k = vq->n_held;

	if (likely(k == 0))
		return 0;
	if (vq->broken) {
		vq->stats.drops[RIOV_VQ_DROP_BROKEN] += k;
		riov_virtq_release(vq);
		return 0;
	}
	if (vq->wait.active && !vq_wait_poll(vq))
		return 0;
	memcpy(h, vq->held, k * sizeof(h[0]));
	vq->n_held = 0;
	uint16_t d = vq_rx_burst(vq, NULL, h, NULL, k); /* may hold some again (own new reference) */
	rte_pktmbuf_free_bulk(h, k);
	return d;
}

void riov_virtq_release(struct riov_virtq *vq)
{
	if (vq->n_held)
		rte_pktmbuf_free_bulk(vq->held, vq->n_held);
	vq->n_held = 0;
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
	return vq_rx_enqueue(vq, NULL, pkts, NULL, n);
}

/* ---- guest to guest without an mbuf (peek / enqueue_pkts / peek_done) ---- */

uint16_t riov_virtq_peek(struct riov_virtq *vq, struct rte_mempool *mp, struct riov_virtq_pkt *pk,
			 uint16_t n)
{
	uint16_t heads[RIOV_VIRTQ_BURST];
	uint64_t gen;

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
			RIOV_LOG_RL(RIOV_LOG_WARN, VQ_LOG, "sid %#x tx: head %u out of range (size %u)",
				    vq->sid, head, vq->size);
			continue;
		}
		p->head = head;
		p->bad = false;
		p->m = NULL;
		if (likely(vq_tx_simple(vq, head, p))) {
			out++;
			continue;
		}
		int rc = vq_tx_walk(vq, head, mp, NULL, p);
		if (unlikely(rc == VQ_E_SEGS)) {
			/* scattered wider than a descriptor holds: copy it into an mbuf now */
			struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
			rc = m ? vq_tx_walk(vq, head, mp, m, NULL) : VQ_E_NOMBUF;
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
		if (unlikely(rc < 0)) {
			vq_count_drop(vq, rc);
			p->bad = true;
			RIOV_LOG_RL(RIOV_LOG_WARN, VQ_LOG, "sid %#x tx: packet at head %u dropped (%d)",
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

/* Copy pk[0..n) into mbufs and hold them (their only reference is then the queue's). */
static void vq_hold_pkts(struct riov_virtq *vq, struct rte_mempool *mp, struct riov_virtq_pkt *const *pk,
			 uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = riov_virtq_pkt_mbuf(mp, pk[i]);
		if (m == NULL) {
			vq->stats.drops[RIOV_VQ_DROP_NO_MBUF]++;
			continue;
		}
		vq_hold(vq, &m, 1);
		rte_pktmbuf_free(m);
	}
}

uint16_t riov_virtq_enqueue_pkts(struct riov_virtq *vq, struct rte_mempool *mp,
				 struct riov_virtq_pkt *const *pk, uint16_t n)
{
	return vq_rx_enqueue(vq, mp, NULL, pk, n);
}

/* ---- interrupts ---- */

/* The notify decision for one queue, after the caller's full barrier. */
static void vq_notify_fenced(struct riov_virtq *vq)
{
	if (vq->pending_used == 0)
		return;
	vq->pending_used = 0;

	bool need;
	if (vq->event_idx) {
		uint16_t ev = rte_le_to_cpu_16(__atomic_load_n(vq_used_event(vq), __ATOMIC_RELAXED));
		uint16_t old = vq->signalled_used;
		bool valid = vq->signalled_used_valid;
		vq->signalled_used = vq->last_used_idx;
		vq->signalled_used_valid = true;
		need = !valid || riov_vring_need_event(ev, vq->last_used_idx, old);
	} else {
		uint16_t fl = rte_le_to_cpu_16(
			__atomic_load_n(&vq_avail(vq)->flags, __ATOMIC_RELAXED));
		need = !(fl & RIOV_VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (!need || !vq->have_irq)
		return;
	int rc = riov_vtd_irq_raise(vq->vtd, vq->sid, vq->msi_addr, vq->msi_data);
	if (rc == 0)
		vq->stats.notifications++;
	else
		RIOV_LOG_RL(RIOV_LOG_WARN, VQ_LOG, "sid %#x: interrupt not delivered (fault %#x)",
			    vq->sid, -rc);
}

void riov_virtq_notify_many(struct riov_virtq *const *vqs, unsigned n)
{
	unsigned i;

	for (i = 0; i < n && vqs[i]->pending_used == 0; i++)
		;
	if (i == n)
		return;
	/* 2.7.10 / 2.7.7: used->idx is written before the guest's suppression state is read
	 * (DPDK's fence: a locked add, cheaper than MFENCE) */
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (; i < n; i++)
		vq_notify_fenced(vqs[i]);
}

void riov_virtq_notify(struct riov_virtq *vq)
{
	riov_virtq_notify_many(&vq, 1);
}

/* ---- set-up ---- */

int riov_virtq_init(struct riov_virtq *vq, const struct riov_vhost_vring_info *vi)
{
	if (vq == NULL || vi == NULL || vi->vtd == NULL)
		return -EINVAL;
	if (vi->size == 0 || vi->size > RIOV_VHOST_MAX_RING_SIZE || (vi->size & (vi->size - 1)))
		return -EINVAL;
	if (vi->desc == NULL || vi->avail == NULL || vi->used == NULL)
		return -EINVAL;
	if ((uintptr_t)vi->desc % RIOV_VRING_DESC_ALIGN || (uintptr_t)vi->avail % RIOV_VRING_AVAIL_ALIGN ||
	    (uintptr_t)vi->used % RIOV_VRING_USED_ALIGN)
		return -EINVAL;

	const uint64_t f = vi->features;
	memset(vq, 0, sizeof(*vq));
	vq->desc = vi->desc;
	vq->avail = vi->avail;
	vq->used = vi->used;
	vq->size = vi->size;
	vq->last_avail_idx = vi->last_avail_idx;
	vq->last_used_idx = vi->last_used_idx;
	vq->signalled_used = vi->last_used_idx;
	vq->signalled_used_valid = false;
	vq->is_tx = vi->qid & 1;
	vq->event_idx = f & (1ull << RIOV_VIRTIO_F_RING_EVENT_IDX);
	vq->mrg_rxbuf = f & (1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF);
	vq->indirect = f & (1ull << RIOV_VIRTIO_F_RING_INDIRECT);
	vq->in_order = f & (1ull << RIOV_VIRTIO_F_IN_ORDER);
	vq->hdr_len = (vq->mrg_rxbuf || (f & (1ull << RIOV_VIRTIO_F_VERSION_1))) ? 12 : 10;
	vq->vtd = vi->vtd;
	vq->sid = vi->sid;
	riov_vtd_cursor_init(&vq->tc, vi->vtd, vi->sid);
	vq->msi_addr = vi->msi_addr;
	vq->msi_data = vi->msi_data;
	vq->have_irq = vi->msi_addr != 0;
	vq->log_base = vi->log_base;
	vq->log_size = vi->log_base ? vi->log_size : 0;
	vq->miss_slot = vi->miss_slot;
	vq->miss_efd = vi->miss_efd;

	/* Workers poll the avail ring: ask the guest not to kick (2.7.10). With EVENT_IDX the flag
	 * is ignored by the driver and avail_event does the job. */
	__atomic_store_n(&vq_used(vq)->flags, rte_cpu_to_le_16(RIOV_VRING_USED_F_NO_NOTIFY),
			 __ATOMIC_RELAXED);
	vq_update_avail_event(vq);
	return 0;
}

void riov_virtq_set_used_log(struct riov_virtq *vq, uint64_t used_gpa)
{
	vq->used_gpa = used_gpa;
	vq->log_used = true;
}

/* ---- fuzzing ----
 * A guest memory area of FZ_PAGES pages at guest-physical FZ_GPA, mapped through a real VT-d
 * domain: the rings sit in the first pages (desc, avail, used), page FZ_RO_PAGE is read-only and
 * page FZ_HOLE_PAGE unmapped. The input fills the memory and picks the ring size and features. */

#define FZ_GPA 0x40000000ull
#define FZ_PAGES 16u
#define FZ_RO_PAGE 12u
#define FZ_HOLE_PAGE 14u
#define FZ_SID 0x0810
#define FZ_DID 7

static struct {
	bool ready;
	bool failed;
	struct riov_vtd *vtd;
	uint8_t *mem;
	struct rte_mempool *mp;
	uint64_t msi_addr;
	uint32_t msi_data;
} fz;

static int fz_setup(void)
{
	/* no --in-memory: DPDK 22.11 refuses it with --no-huge (legacy memory) */
	static char a0[] = "fuzzvq", a1[] = "--no-huge", a2[] = "-m", a3[] = "64", a4[] = "--no-pci",
		    a5[] = "--no-shconf", a6[] = "--log-level=1";
	static char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=fuzzvq%d", (int)getpid());
	char *argv[] = { a0, a1, a2, a3, a4, a5, a6, prefix, NULL };

	if (rte_eal_init(8, argv) < 0 && rte_errno != EALREADY)
		return -1;
	fz.mp = rte_pktmbuf_pool_create("fuzzvq", 511, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (fz.mp == NULL)
		return -1;
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 8, .irte_count = 16 };
	fz.vtd = riov_vtd_create(&cfg);
	if (fz.vtd == NULL)
		return -1;
	if (posix_memalign((void **)&fz.mem, 4096, FZ_PAGES * 4096u) != 0)
		return -1;
	memset(fz.mem, 0, FZ_PAGES * 4096u);
	if (riov_vtd_domain_create(fz.vtd, FZ_DID, 4) < 0)
		return -1;
	for (unsigned p = 0; p < FZ_PAGES; p++) {
		if (p == FZ_HOLE_PAGE)
			continue;
		unsigned perm = p == FZ_RO_PAGE ? RIOV_VTD_READ : RIOV_VTD_READ | RIOV_VTD_WRITE;
		if (riov_vtd_map(fz.vtd, FZ_DID, FZ_GPA + 4096ull * p,
				 (uint64_t)(uintptr_t)(fz.mem + 4096u * p), 4096, perm) < 0)
			return -1;
	}
	if (riov_vtd_context_set(fz.vtd, FZ_SID, FZ_DID, RIOV_VTD_TT_MULTI_LEVEL, false) < 0)
		return -1;
	riov_vtd_inv_context_global(fz.vtd);
	riov_vtd_inv_iotlb_global(fz.vtd);
	struct riov_vtd_irte e = { .present = true, .vector = 0x40, .eventfd = -1 };
	if (riov_vtd_irte_set(fz.vtd, 3, &e) < 0)
		return -1;
	riov_vtd_msi_compose(3, false, 0, &fz.msi_addr, &fz.msi_data);
	return 0;
}

static void fz_vring(struct riov_vhost_vring_info *vi, uint16_t qid, uint16_t size, uint64_t feat,
		     uint16_t la, uint16_t lu)
{
	memset(vi, 0, sizeof(*vi));
	vi->qid = qid;
	vi->size = size;
	vi->desc = fz.mem;
	vi->avail = fz.mem + 4096;
	vi->used = fz.mem + 2 * 4096;
	vi->last_avail_idx = la;
	vi->last_used_idx = lu;
	vi->features = feat;
	vi->vtd = fz.vtd;
	vi->sid = FZ_SID;
	vi->callfd = -1;
	vi->msi_addr = fz.msi_addr;
	vi->msi_data = fz.msi_data;
}

int riov_virtq_fuzz_one(const uint8_t *data, size_t size)
{
	enum { HDR = 8 };
	if (!fz.ready) {
		if (fz.failed || fz_setup() < 0) {
			fz.failed = true;
			return -1;
		}
		fz.ready = true;
	}
	if (size < HDR)
		return 0;

	/* byte 0: ring size (1..256); byte 1: features; bytes 2-5: start indices; 6-7: packet sizes */
	uint16_t qsz = (uint16_t)(1u << (data[0] % 9));
	uint64_t feat = 0;
	if (data[1] & 1)
		feat |= 1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF;
	if (data[1] & 2)
		feat |= 1ull << RIOV_VIRTIO_F_VERSION_1;
	if (data[1] & 4)
		feat |= 1ull << RIOV_VIRTIO_F_RING_INDIRECT;
	if (data[1] & 8)
		feat |= 1ull << RIOV_VIRTIO_F_RING_EVENT_IDX;
	if (data[1] & 16)
		feat |= 1ull << RIOV_VIRTIO_F_IN_ORDER;
	uint16_t la = (uint16_t)(data[2] | data[3] << 8);
	uint16_t lu = (uint16_t)(data[4] | data[5] << 8);
	uint32_t plen[2] = { 1u + data[6] * 13u, 1u + data[7] * 37u };

	/* the rest is guest memory, from its start (descriptor table first) */
	memset(fz.mem, 0, FZ_PAGES * 4096u);
	size_t body = RTE_MIN(size - HDR, (size_t)FZ_PAGES * 4096u);
	memcpy(fz.mem, data + HDR, body);
	/* between bursts the "guest" moves avail->idx by input-chosen amounts, so the device also sees
	 * stale, repeated and far-ahead indices */
	struct riov_virtq tx, rx;
	struct riov_vhost_vring_info vi;
	fz_vring(&vi, 1, qsz, feat, la, lu);
	if (riov_virtq_init(&tx, &vi) < 0)
		return 0;
	tx.inorder_batch = data[1] & 32;
	/* dirty log covering the area's pages, except the last one (bounded by log_size) */
	static uint8_t logbuf[((FZ_GPA >> 12) + FZ_PAGES - 1) / 8];
	if (data[1] & 64) {
		tx.log_base = logbuf;
		tx.log_size = sizeof(logbuf);
		riov_virtq_set_used_log(&tx, FZ_GPA + 2 * 4096);
	}

	for (unsigned round = 0; round < 3; round++) {
		struct rte_mbuf *pkts[RIOV_VIRTQ_BURST];
		if (data[1] & 128) {
			/* the worker's direct path: peek, read in place, some into mbufs, complete */
			static struct riov_virtq_pkt pk[RIOV_VIRTQ_BURST];
			uint16_t got = riov_virtq_peek(&tx, fz.mp, pk, RIOV_VIRTQ_BURST);
			for (uint16_t i = 0; i < got; i++) {
				uint32_t sum = 0;
				if (pk[i].bad)
					continue;
				for (unsigned k = 0; pk[i].m == NULL && k < pk[i].nseg; k++)
					for (uint32_t b = 0; b < pk[i].seg[k].len; b++)
						sum += pk[i].seg[k].p[b];
				(void)sum;
				if ((i & 1) || pk[i].m != NULL)
					rte_pktmbuf_free(riov_virtq_pkt_mbuf(fz.mp, &pk[i]));
			}
			riov_virtq_peek_done(&tx, pk, got);
			riov_virtq_notify(&tx);
			struct riov_vring_avail *av = (struct riov_vring_avail *)(fz.mem + 4096);
			av->idx = (uint16_t)(av->idx + data[(round + 2) % HDR]);
			continue;
		}
		uint16_t got = riov_virtq_dequeue(&tx, fz.mp, pkts, RIOV_VIRTQ_BURST);
		for (uint16_t i = 0; i < got; i++) {
			/* touch every byte so ASan sees the whole chain */
			uint32_t sum = 0;
			for (const struct rte_mbuf *m = pkts[i]; m; m = m->next)
				for (uint16_t k = 0; k < m->data_len; k++)
					sum += rte_pktmbuf_mtod(m, const uint8_t *)[k];
			(void)sum;
			rte_pktmbuf_free(pkts[i]);
		}
		riov_virtq_notify(&tx);
		/* the guest moves its avail index */
		struct riov_vring_avail *av = (struct riov_vring_avail *)(fz.mem + 4096);
		av->idx = (uint16_t)(av->idx + data[(round + 2) % HDR]);
	}

	fz_vring(&vi, 0, qsz, feat, la, lu);
	if (riov_virtq_init(&rx, &vi) < 0)
		return 0;
	if (data[1] & 64) {
		rx.log_base = logbuf;
		rx.log_size = sizeof(logbuf);
		riov_virtq_set_used_log(&rx, FZ_GPA + 2 * 4096);
	}
	for (unsigned round = 0; round < 2; round++) {
		struct rte_mbuf *pkts[4];
		uint16_t np = 0;
		for (unsigned i = 0; i < 4; i++) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(fz.mp);
			if (m == NULL)
				break;
			uint32_t want = plen[i & 1];
			struct rte_mbuf *tail = m;
			uint8_t fill[256];
			memset(fill, (int)(0xa0 + i), sizeof(fill));
			while (want) {
				uint32_t c = RTE_MIN(want, (uint32_t)sizeof(fill));
				if (vq_mbuf_append(fz.mp, m, &tail, fill, c) < 0)
					break;
				want -= c;
			}
			pkts[np++] = m;
		}
		if (data[1] & 128) {
			/* peeked packets from another guest (a private buffer stands in for its memory) */
			static uint8_t other[4096];
			static struct riov_virtq_pkt pk[4];
			struct riov_virtq_pkt *pp[4];
			for (uint16_t i = 0; i < np; i++) {
				uint32_t len = pkts[i]->pkt_len;
				memset(&pk[i], 0, sizeof(pk[i]));
				pk[i].len = len;
				pk[i].peek_len = (uint8_t)RTE_MIN(len, (uint32_t)RIOV_VIRTQ_PEEK);
				memset(pk[i].peek, 0xb0 + i, pk[i].peek_len);
				uint32_t left = len - pk[i].peek_len;
				while (left && pk[i].nseg < RIOV_VIRTQ_PKT_SEGS) {
					uint32_t c = RTE_MIN(left, (uint32_t)sizeof(other));
					pk[i].seg[pk[i].nseg].p = other;
					pk[i].seg[pk[i].nseg].len = c;
					pk[i].nseg++;
					left -= c;
				}
				pk[i].len = len - left;
				pp[i] = &pk[i];
			}
			riov_virtq_enqueue_pkts(&rx, fz.mp, pp, np);
		} else {
			riov_virtq_enqueue(&rx, pkts, np);
		}
		riov_virtq_notify(&rx);
		for (uint16_t i = 0; i < np; i++)
			rte_pktmbuf_free(pkts[i]);
		struct riov_vring_avail *av = (struct riov_vring_avail *)(fz.mem + 4096);
		av->idx = (uint16_t)(av->idx + data[(round + 5) % HDR]);
	}

	struct riov_vtd_fault f[8];
	riov_vtd_faults_read(fz.vtd, f, 8, true);
	return 0;
}
