/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split virtqueues, device side (virtio 1.2 section 2.7) for virtio-net (section 5.1): what guest
 * TX (virtq_tx.c) and guest RX (virtq_rx.c) share: drop accounting, the dirty log, publishing used
 * entries, reads of guest memory through the VT-d model and the wait for a vIOMMU translation,
 * descriptor-chain walking, interrupts, and set-up. Inline ring helpers are in virtq_internal.h.
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
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <rte_atomic.h>
#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cycles.h>

#include "common/log.h"
#include "dataplane/offload.h"
#include "dataplane/virtq.h"
#include "dataplane/virtq_internal.h"
#include "iommu/vtd.h"
#include "vmm/vhost.h"


static inline uint16_t *vq_used_event(const struct riov_virtq *vq)
{
	return &vq_avail(vq)->ring[vq->size];
}

static inline uint16_t *vq_avail_event(const struct riov_virtq *vq)
{
	return (uint16_t *)(void *)&vq_used(vq)->ring[vq->size];
}

void vq_count_drop(struct riov_virtq *vq, int err)
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

void vq_mark_broken(struct riov_virtq *vq, const char *why, unsigned a, unsigned b)
{
	vq->broken = true;
	vq->stats.broken++;
	RIOV_LOG_RL(RIOV_LOG_WARN, "queue (sid %#x, %s) broken: %s (%u, %u)", vq->sid,
		    vq->is_tx ? "tx" : "rx", why, a, b);
}

/* ---- dirty log (vhost-user VHOST_F_LOG_ALL): one bit per 4 KiB guest page ---- */

/* The pages of [gpa, gpa + len), len > 0 (vq_log_write() checked that there is a log). */
void vq_log_pages(struct riov_virtq *vq, uint64_t gpa, uint64_t len)
{
	uint64_t first = gpa >> VQ_PAGE_SHIFT;
	uint64_t last = (gpa + len - 1) >> VQ_PAGE_SHIFT;
	if (last < first) /* wrapped: address space end */
		last = UINT64_MAX >> VQ_PAGE_SHIFT;
	vq->stats.log_writes++;
	for (uint64_t p = first; p <= last; p++) {
		uint64_t byte = p >> 3;
		if (byte >= vq->log_size)
			break; /* pages beyond the log are not tracked (vmm sized the log) */
		__atomic_fetch_or(&vq->log_base[byte], (uint8_t)(1u << (p & 7)), __ATOMIC_RELAXED);
	}
}

/* ---- used ring ---- */

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
void vq_publish_used(struct riov_virtq *vq, uint16_t old)
{
	if (unlikely(vq->unpublished)) {
		/* riov_virtq_enqueue_pkts()'s entries, written before these */
		old = vq->unpublished_from;
		vq->unpublished = false;
	}
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

void riov_virtq_publish_rx(struct riov_virtq *vq)
{
	if (vq->unpublished) {
		if (unlikely(vq->packed))
			vqp_publish(vq);
		else
			vq_publish_used(vq, vq->unpublished_from);
	}
}

/* ---- guest memory through the VT-d model ---- */

/* A translation of iova for access failed with rc. A vIOMMU guest's missing first-stage entry is
 * a wait (VQ_E_MISS, iova remembered for the request), unless its deadline already passed: then,
 * like any other failure, a DMA fault (recorded in the VT-d fault log). */
__attribute__((noinline)) int vq_xlate_err(struct riov_virtq *vq, int rc, uint64_t iova,
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
		RIOV_LOG_RL(RIOV_LOG_WARN, "sid %#x: no IOTLB entry for 0x%llx within %u ms: "
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

/* A burst stopped at a VQ_E_MISS: wait until the device's generation moves past `gen` (the one read
 * before the burst translated anything, so an update racing with the miss is not missed). */
__attribute__((noinline)) void vq_wait_begin(struct riov_virtq *vq, uint64_t gen)
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

/* Called before a burst while waiting: true to go on (the generation moved, or the deadline
 * passed and the next miss becomes a fault), false to keep waiting. */
__attribute__((noinline)) bool vq_wait_poll(struct riov_virtq *vq)
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

/* Copy len bytes from guest address iova (READ). Returns 0, VQ_E_FAULT or VQ_E_MISS. Always
 * inlined: vq_chain_next() had it inlined before vq_guest_copy() became its second caller. */
static inline __attribute__((always_inline)) int vq_guest_read(struct riov_virtq *vq, uint64_t iova, void *dst, uint32_t len)
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

/* vq_guest_read() for the packed ring's file (virtq_packed.c: indirect tables), out of line so
 * that vq_chain_next() keeps its code as it was. */
int vq_guest_copy(struct riov_virtq *vq, uint64_t iova, void *dst, uint32_t len)
{
	return vq_guest_read(vq, iova, dst, len);
}

/* ---- descriptor chains ---- */

/* Fetch the next buffer descriptor of a chain into *d (a private copy). `write` is the direction
 * every buffer must have (RX: device-writable). Returns 1 with a descriptor, 0 at the end of the
 * chain, VQ_E_BAD for a malformed chain, VQ_E_FAULT if an indirect table does not translate
 * (VQ_E_MISS: not yet).
 * Iterative: entering an indirect table happens at most once per chain (no nesting). */
int vq_chain_next(struct riov_virtq *vq, struct vq_chain *ch, struct riov_vring_desc *d,
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
			if (!vq_indirect_table_ok(d->addr, d->len))
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

/* ---- interrupts ---- */

/* The notify decision for one queue, after the caller's full barrier. */
static void vq_notify_fenced(struct riov_virtq *vq)
{
	if (vq->pending_used == 0)
		return;
	vq->pending_used = 0;

	bool need;
	if (unlikely(vq->packed)) {
		need = vqp_need_interrupt(vq);
	} else if (vq->event_idx) {
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
		RIOV_LOG_RL(RIOV_LOG_WARN, "sid %#x: interrupt not delivered (fault %#x)",
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
	/* 2.8: a packed ring's size need not be a power of two */
	const bool packed = vi->features & (1ull << RIOV_VIRTIO_F_RING_PACKED);
	if (vi->size == 0 || vi->size > RIOV_VHOST_MAX_RING_SIZE ||
	    (!packed && (vi->size & (vi->size - 1))))
		return -EINVAL;
	if (vi->desc == NULL || vi->avail == NULL || vi->used == NULL)
		return -EINVAL;
	if (packed ? (uintptr_t)vi->desc % RIOV_VRING_PACKED_DESC_ALIGN ||
			     (uintptr_t)vi->avail % RIOV_VRING_PACKED_EVENT_ALIGN ||
			     (uintptr_t)vi->used % RIOV_VRING_PACKED_EVENT_ALIGN
		   : (uintptr_t)vi->desc % RIOV_VRING_DESC_ALIGN ||
			     (uintptr_t)vi->avail % RIOV_VRING_AVAIL_ALIGN ||
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
	vq->held_max_tsc = rte_get_tsc_hz() / 1000000 * RIOV_VIRTQ_HELD_MAX_US;
	vq->is_tx = vi->qid & 1;
	vq->event_idx = f & (1ull << RIOV_VIRTIO_F_RING_EVENT_IDX);
	vq->mrg_rxbuf = f & (1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF);
	vq->indirect = f & (1ull << RIOV_VIRTIO_F_RING_INDIRECT);
	vq->in_order = f & (1ull << RIOV_VIRTIO_F_IN_ORDER);
	vq->hdr_len = (vq->mrg_rxbuf || (f & (1ull << RIOV_VIRTIO_F_VERSION_1))) ? 12 : 10;
	vq->ol_sends = (uint8_t)(((f >> RIOV_VIRTIO_NET_F_CSUM) & 1) ? RIOV_OL_CSUM : 0) |
		       (uint8_t)(((f >> RIOV_VIRTIO_NET_F_HOST_TSO4) & 1) ? RIOV_OL_TSO4 : 0) |
		       (uint8_t)(((f >> RIOV_VIRTIO_NET_F_HOST_TSO6) & 1) ? RIOV_OL_TSO6 : 0) |
		       (uint8_t)(((f >> RIOV_VIRTIO_NET_F_HOST_ECN) & 1) ? RIOV_OL_ECN : 0);
	vq->ol_accepts = (uint8_t)(((f >> RIOV_VIRTIO_NET_F_GUEST_CSUM) & 1) ? RIOV_OL_CSUM : 0) |
			 (uint8_t)(((f >> RIOV_VIRTIO_NET_F_GUEST_TSO4) & 1) ? RIOV_OL_TSO4 : 0) |
			 (uint8_t)(((f >> RIOV_VIRTIO_NET_F_GUEST_TSO6) & 1) ? RIOV_OL_TSO6 : 0) |
			 (uint8_t)(((f >> RIOV_VIRTIO_NET_F_GUEST_ECN) & 1) ? RIOV_OL_ECN : 0);
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
	if (packed) {
		vq->packed = true;
		vq->pk.rec = vi->ring_rec;
		return vqp_init(vq);
	}

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
