/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split virtqueue layout (virtio 1.2 section 2.7) and virtio-net header (section 5.1.6), and what
 * the device side's files share (dataplane/virtq.c, virtq_tx.c, virtq_rx.c, virtq_packed.c): chain results, ring
 * access, descriptor decoding and chain walking, prefetch hints. Private to those files, their
 * unit test and the fuzz harness (tests/fuzz/fuzz_virtq.c). All fields are little-endian in guest
 * memory.
 *
 * Security model: these structures live in guest memory. Nothing here is trusted: the device side
 * reads each field once (indices with atomic loads, descriptors copied out) and checks it before
 * use; the prefetch hints read guest values only to start cache misses, never to decide.
 *
 * Thread rules: the helpers are for the worker that owns the queue.
 */
#ifndef RIOV_DATAPLANE_VIRTQ_INTERNAL_H
#define RIOV_DATAPLANE_VIRTQ_INTERNAL_H

#include <stdint.h>

#include "vmm/vhost.h"   /* the virtio feature bits (RIOV_VIRTIO_F_RING_PACKED ...): one definition */

/* virtio 1.2 2.7.5 */
#define RIOV_VRING_DESC_F_NEXT     1u
#define RIOV_VRING_DESC_F_WRITE    2u
#define RIOV_VRING_DESC_F_INDIRECT 4u
/* 2.7.10 / 2.7.7 */
#define RIOV_VRING_USED_F_NO_NOTIFY     1u
#define RIOV_VRING_AVAIL_F_NO_INTERRUPT 1u

/* Alignment the spec requires of each part (2.7, table "Virtqueue Part Alignment"). */
#define RIOV_VRING_DESC_ALIGN  16u
#define RIOV_VRING_AVAIL_ALIGN 2u
#define RIOV_VRING_USED_ALIGN  4u

/* Bounds the device applies to guest input. */
#define RIOV_VIRTQ_MAX_INDIRECT 32768u        /* entries in one indirect table */
#define RIOV_VIRTQ_MAX_PAYLOAD  65536u        /* TX payload after the virtio-net header */

struct riov_vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct riov_vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];      /* [size], then uint16_t used_event (EVENT_IDX) */
};

struct riov_vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct riov_vring_used {
	uint16_t flags;
	uint16_t idx;
	struct riov_vring_used_elem ring[]; /* [size], then uint16_t avail_event (EVENT_IDX) */
};

/* Packed virtqueues (virtio 1.2 2.8, VIRTIO_F_RING_PACKED): one descriptor ring the driver makes
 * descriptors available in and the device writes used descriptors back to, in place (struct
 * riov_vring_packed_desc and its wrap flags, vmm/vhost.h: vmm reads the ring too); two event
 * suppression areas. NEXT, WRITE and INDIRECT as in the split ring. */

/* 2.8.10: the driver's (vi->avail) and the device's (vi->used) event suppression areas */
struct riov_vring_packed_event {
	uint16_t off_wrap;    /* desc_event_off (bits 0-14), desc_event_wrap (bit 15) */
	uint16_t flags;       /* RIOV_VRING_PACKED_EVENT_FLAG_* */
};

#define RIOV_VRING_PACKED_EVENT_FLAG_ENABLE  0u
#define RIOV_VRING_PACKED_EVENT_FLAG_DISABLE 1u
#define RIOV_VRING_PACKED_EVENT_FLAG_DESC    2u   /* only with VIRTIO_F_RING_EVENT_IDX */
#define RIOV_VRING_PACKED_EVENT_FLAGS_MASK   3u

#define RIOV_VRING_PACKED_DESC_ALIGN  16u
#define RIOV_VRING_PACKED_EVENT_ALIGN 4u

/* vhost-user's packed ring base (SET/GET_VRING_BASE): index in bits 0-14, wrap counter in 15. */
#define RIOV_VRING_PACKED_IDX_MASK  0x7fffu
#define RIOV_VRING_PACKED_WRAP_BIT  15

#define RIOV_VIRTIO_NET_HDR_NUM_BUFFERS_OFF 10u

/* Bytes of each ring part for a queue of `size` entries (with the EVENT_IDX trailer). */
static inline uint64_t riov_vring_desc_bytes(uint32_t size)
{
	return 16ull * size;
}
static inline uint64_t riov_vring_avail_bytes(uint32_t size)
{
	return 4ull + 2ull * size + 2ull;
}
static inline uint64_t riov_vring_used_bytes(uint32_t size)
{
	return 4ull + 8ull * size + 2ull;
}

/* virtio 1.2 2.7.10.1: interrupt needed if event_idx lies in [old, new). */
static inline int riov_vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

/* ---------------------------------------------------------------------------------------------- */
/* What virtq.c, virtq_tx.c and virtq_rx.c share (the device side; DPDK from here on). Inline here
 * what the per-packet paths of more than one file use, so that the split into files added no
 * call per packet. */

#include <stdbool.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>

#include "common/log.h"
#include "dataplane/virtq.h"

/* The virtqueue files log as one component, declared here once so that a unit test that includes
 * all three of them has one. */
RIOV_LOG_COMPONENT("virtq", RIOV_LOG_WARN);

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

/* ---- drops, dirty log, used ring (virtq.c) ---- */

/** Count a packet dropped with chain result err (VQ_E_*) under its cause. */
void vq_count_drop(struct riov_virtq *vq, int err);
/** Mark the queue broken (until re-initialised), count it and log why (rate-limited). */
void vq_mark_broken(struct riov_virtq *vq, const char *why, unsigned a, unsigned b);
/** Set the dirty-log bits of the guest pages of [gpa, gpa + len), len > 0, vq->log_base set. */
void vq_log_pages(struct riov_virtq *vq, uint64_t gpa, uint64_t len);
/** Publish the used entries written since used index `old` (one release store of used->idx). */
void vq_publish_used(struct riov_virtq *vq, uint16_t old);

/* Dirty log (vhost-user VHOST_F_LOG_ALL): one bit per 4 KiB guest page. */
static inline void vq_log_write(struct riov_virtq *vq, uint64_t gpa, uint64_t len)
{
	if (likely(vq->log_base == NULL) || len == 0)
		return;
	vq_log_pages(vq, gpa, len);
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

/* ---- guest memory and the wait for a vIOMMU translation (virtq.c) ---- */

/** A translation of iova for access failed with rc: VQ_E_MISS (wait for the front-end's IOTLB
 *  update; iova remembered) or VQ_E_FAULT (recorded in the VT-d fault log once the wait's deadline
 *  passed). */
int vq_xlate_err(struct riov_virtq *vq, int rc, uint64_t iova, unsigned access);
/** A burst stopped at a VQ_E_MISS: wait until the device's generation moves past gen. */
void vq_wait_begin(struct riov_virtq *vq, uint64_t gen);
/** Before a burst while waiting: true to go on, false to keep waiting (asks again when due). */
bool vq_wait_poll(struct riov_virtq *vq);

/* After a burst that did not stop at a miss: a later miss starts a new deadline, and a deadline
 * that passed applied to this burst only. */
static inline void vq_burst_end(struct riov_virtq *vq)
{
	if (unlikely(vq->wait.since != 0 || vq->wait.give_up) && !vq->wait.active) {
		vq->wait.since = 0;
		vq->wait.give_up = false;
	}
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

/** Fetch the next buffer descriptor of a chain into *d (a private copy) with direction `write`.
 *  Returns 1 with a descriptor, 0 at the end, VQ_E_BAD, VQ_E_FAULT or VQ_E_MISS (virtq.c). */
int vq_chain_next(struct riov_virtq *vq, struct vq_chain *ch, struct riov_vring_desc *d,
		  bool write);

/* An indirect descriptor's table, by its address and length, as both ring kinds take it (virtio
 * 1.2 2.7.5.3, 2.8.13): a whole number of 16-byte entries, at least one, at most
 * RIOV_VIRTQ_MAX_INDIRECT, not wrapping the address space. */
static inline bool vq_indirect_table_ok(uint64_t addr, uint32_t len)
{
	return len != 0 && len % 16 == 0 && len / 16 <= RIOV_VIRTQ_MAX_INDIRECT && addr <= UINT64_MAX - len;
}

/* Prefetch for writing (PREFETCHW where the build enables it: dataplane/meson.build). */
static inline void vq_prefetch_w(const void *p)
{
	__builtin_prefetch(p, 1, 3);
}

/* Prefetch the buffer at guest address addr if the cursor's 2 MiB slot already holds its
 * translation (both ring kinds). Only a hint: the descriptor is read again, checked and translated
 * when the chain is processed. */
static inline void vq_prefetch_buffer(const struct riov_virtq *vq, uint64_t addr, bool write)
{
	const struct riov_vtd_cursor_slot *sl = &vq->tc.slot[(addr >> 21) % RIOV_VTD_CURSOR_SLOTS];
	if (sl->mask == 0 || (addr & ~sl->mask) != sl->base)
		return;
	const uint8_t *p = (const uint8_t *)(uintptr_t)(sl->hbase + (addr - sl->base));
	rte_prefetch0(p);
	if (!write)
		return;
	/* RX: the virtio-net header is mostly left as it is (vq_rx_hdr_same()), so its line is only
	 * read and stays valid in the guest's cache; the frame's first line is written: ask for it
	 * in exclusive state, so the stores of the copy do not wait */
	const uint64_t frame = addr + vq->hdr_len;
	if (((frame ^ addr) & ~63ull) != 0 && (frame & ~sl->mask) == sl->base)
		vq_prefetch_w(p + vq->hdr_len);
}

/* The split ring's: the first buffer of each chain heads[0..k). */
static inline void vq_prefetch_buffers(const struct riov_virtq *vq, const uint16_t *heads, uint16_t k,
				       bool write)
{
	const struct riov_vring_desc *desc = vq->desc;
	const uint16_t mask = (uint16_t)(vq->size - 1);

	for (uint16_t j = 0; j < k; j++)
		vq_prefetch_buffer(vq, __atomic_load_n(&desc[heads[j] & mask].addr, __ATOMIC_RELAXED), write);
}

/* ---- guest TX and RX copies (virtq_tx.c, virtq_rx.c; the packed ring's file uses them too) ---- */

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

/** vq_mbuf_append() of virtq_tx.c: append n bytes to the mbuf chain headed by head (tail in
 *  *tailp), adding segments from mp. Returns 0, VQ_E_NOMBUF or VQ_E_BIG. */
int vq_tx_mbuf_append(struct rte_mempool *mp, struct rte_mbuf *head, struct rte_mbuf **tailp,
		      const uint8_t *src, uint32_t n);
/** vq_guest_read() of virtq.c: copy len bytes from guest address iova (READ). Returns 0,
 *  VQ_E_FAULT or VQ_E_MISS. */
int vq_guest_copy(struct riov_virtq *vq, uint64_t iova, void *dst, uint32_t len);

/* The source of an RX copy: a virtio-net header, then an mbuf chain or a peeked packet. */
struct vq_rx_src {
	const uint8_t *hdr;
	uint32_t hdr_len;
	uint32_t done;              /* header + payload bytes consumed */
	const struct rte_mbuf *seg; /* current payload segment (mbuf source) */
	uint32_t seg_off;           /* offset in the current segment or piece */
	const struct riov_virtq_pkt *pk; /* peeked source: piece 0 = peek, k = seg[k - 1] */
	unsigned piece;
	const struct riov_virtio_net_hdr *ohdr; /* offload fields for the header (mbuf with TX
						 * offload metadata), or NULL: all zero */
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

/* A peeked packet of flen bytes at frame, contiguous in one mapping (the one-descriptor TX paths
 * of both ring kinds): its first RIOV_VIRTQ_PEEK bytes copied, the rest left where it is. */
static inline void vq_pkt_one(struct riov_virtq_pkt *pk, const uint8_t *frame, uint32_t flen)
{
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
}

/* Copy up to `left` frame bytes of src (a peeked packet or an mbuf chain, from its start) to dst;
 * returns the bytes copied (less than left only if the source is shorter). A loop of its own rather
 * than vq_rx_src_chunk()'s general walk: that one costs 35 more instructions per 64 B packet. For
 * the one-descriptor RX paths of both ring kinds (vq_rx_simple(), vqp_rx_simple()). */
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

/* Held RX packets (virtq_rx.c). */
/** Keep pkts[0..n) for later (a reference of the queue's own on every segment); beyond the limits
 *  they are dropped as NO_BUFFER. */
void vq_hold(struct riov_virtq *vq, struct rte_mbuf **pkts, uint16_t n);
/** Copy pk[0..n) into mbufs from mp and hold them. */
void vq_hold_pkts(struct riov_virtq *vq, struct rte_mempool *mp, struct riov_virtq_pkt *const *pk,
		  uint16_t n);
/** Empty held[] (its mbufs are the caller's now) and give its segments back to the budget. */
void vq_held_clear(struct riov_virtq *vq);
/** Give back what the queue holds, each counted as a NO_BUFFER drop. */
void vq_held_drop(struct riov_virtq *vq);

/* ---- packed rings (virtq_packed.c): what the public entry points branch to on vq->packed ---- */

/** The packed part of riov_virtq_init(): the cursors from vq->last_avail_idx/last_used_idx and the
 *  device's event suppression. Returns 0 or -EINVAL. */
int vqp_init(struct riov_virtq *vq);
uint16_t vqp_peek(struct riov_virtq *vq, struct rte_mempool *mp, struct riov_virtq_pkt *pk, uint16_t n);
void vqp_peek_done(struct riov_virtq *vq, const struct riov_virtq_pkt *pk, uint16_t n);
/** riov_virtq_enqueue() (pk NULL) and riov_virtq_enqueue_pkts() (pkts NULL). */
uint16_t vqp_enqueue(struct riov_virtq *vq, struct rte_mempool *mp, struct rte_mbuf **pkts,
		     struct riov_virtq_pkt *const *pk, uint16_t n);
/** Write out and publish the used descriptors committed so far. */
void vqp_publish(struct riov_virtq *vq);
uint16_t vqp_flush_held(struct riov_virtq *vq);
/** After the caller's full barrier: whether the driver's event suppression asks for an interrupt
 *  for what was published since the last call (2.8.10). */
bool vqp_need_interrupt(struct riov_virtq *vq);

#endif
