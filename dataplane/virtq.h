/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's virtio virtqueue code, the device side, for one vring: split rings (virtio 1.2 section
 * 2.7) and packed rings (section 2.8, VIRTIO_F_RING_PACKED; dataplane/virtq_packed.c).
 *
 * Security model: the guest owns the ring memory and may change it at any time. Every index is
 * masked or checked before use, descriptors are copied out of guest memory before they are
 * examined, chains are bounded by the ring size (indirect: by the table length, no nesting), every
 * buffer address is translated through the device's VT-d domain (riov_vtd_translate) with the
 * mapped length honoured, and a queue that breaks a rule is marked broken and counted, never fatal.
 *
 * Thread rules: a struct riov_virtq is owned by one worker; no locks, no allocation besides mbufs.
 */
#ifndef RIOV_DATAPLANE_VIRTQ_H
#define RIOV_DATAPLANE_VIRTQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iommu/vtd_dp.h"

struct rte_mbuf;
struct rte_mempool;
struct riov_vhost_vring_info;
struct riov_vring_rec;

#define RIOV_VIRTQ_BURST 32

/* struct virtio_net_hdr_mrg_rxbuf / virtio 1.x header (5.1.6); legacy without MRG_RXBUF stops at
 * 10 bytes. Fields little-endian. */
struct riov_virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

/* Drop and error causes, counted per queue. */
enum riov_virtq_drop {
	RIOV_VQ_DROP_NO_MBUF = 0,     /* guest TX: mempool empty */
	RIOV_VQ_DROP_NO_BUFFER,       /* enqueue: guest posted no (or too few) RX buffers */
	RIOV_VQ_DROP_BROKEN,          /* queue marked broken */
	RIOV_VQ_DROP_DMA_FAULT,       /* a buffer address faulted in the VT-d model */
	RIOV_VQ_DROP_BAD_DESC,        /* malformed chain: loop, out of range, too short, bad indirect */
	RIOV_VQ_DROP_TOO_BIG,         /* packet longer than the mbuf chain limit */
	RIOV_VQ_DROP__MAX
};

struct riov_virtq_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t drops[RIOV_VQ_DROP__MAX];
	uint64_t notifications;       /* interrupts raised towards the guest */
	uint64_t broken;              /* times the queue was marked broken */
	uint64_t iotlb_waits;         /* times the queue waited for a vIOMMU translation (IOTLB miss) */
	uint64_t log_writes;          /* guest memory writes marked in the dirty log (live migration) */
};

#define RIOV_VIRTQ_HELD 64            /* RX packets kept while waiting for a translation or buffers */
#define RIOV_VIRTQ_HELD_SEGS 512      /* ... and mbuf segments among them (a 64 KB frame has ~33) */
#define RIOV_VIRTQ_HELD_MAX_US 2000   /* held for want of buffers longer than this: dropped */

/* The mbuf segments all RX vrings of a dataplane may hold together (cap), and how many they hold
 * (used): a guest that never gives buffers back pins no more than its share of the pool. */
struct riov_virtq_held_budget {
	_Atomic int32_t used;
	int32_t cap;
};
#define RIOV_VIRTQ_MISS_RESEND_US 20000     /* ask the front-end again after this long */
#define RIOV_VIRTQ_MISS_DEADLINE_US 1000000 /* then the address counts as a DMA fault */

#define RIOV_VIRTQ_PACKED_MAX_SIZE 32768  /* buffer ids tracked in flight */
#define RIOV_VIRTQ_PACKED_PEND 512        /* used descriptors committed and not yet published; also
					   * the most buffers one mergeable RX packet may take */

struct riov_virtq {
	/* ring, host addresses */
	void *desc;
	void *avail;
	void *used;
	uint16_t size;
	uint16_t last_avail_idx;
	uint16_t last_used_idx;
	uint16_t signalled_used;      /* EVENT_IDX bookkeeping */
	bool signalled_used_valid;
	bool is_tx;                   /* guest TX: device reads buffers (odd qid) */
	bool event_idx;
	bool mrg_rxbuf;
	bool indirect;
	bool in_order;
	bool broken;
	bool packed;                  /* packed ring (2.8): see pk below */
	uint16_t hdr_len;             /* 12 with VERSION_1 or MRG_RXBUF, else 10 */
	uint8_t ol_sends;             /* RIOV_OL_* the guest may send (CSUM, HOST_TSO4/6, HOST_ECN):
				       * guest TX reads its virtio-net headers only when non-zero */
	uint8_t ol_accepts;           /* RIOV_OL_* the guest takes (GUEST_CSUM, GUEST_TSO4/6, ECN) */
	uint16_t mtu;                 /* the port's (headers for whole TSO frames); 0 = 1500 */
	struct riov_vtd_cursor tc;    /* translation for descriptor buffers */
	struct riov_vtd *vtd;
	uint16_t sid;
	uint64_t msi_addr;
	uint32_t msi_data;
	bool have_irq;
	uint16_t pending_used;        /* used entries written since the last notify check */
	bool unpublished;             /* riov_virtq_enqueue_pkts() wrote used entries from
				       * unpublished_from on that riov_virtq_publish_rx() publishes */
	uint16_t unpublished_from;
	uint8_t *log_base;
	uint64_t log_size;
	struct riov_virtq_stats stats;
	/* additions beyond the first contract */
	bool inorder_batch;           /* IN_ORDER TX: one used entry per burst (off by default: DPDK's
				       * split-ring in-order driver frees one chain per used entry) */
	bool log_used;                /* dirty-log used ring writes at used_gpa (riov_virtq_set_used_log) */
	uint64_t used_gpa;            /* guest-physical address of the used ring */
	/* A vIOMMU guest's buffer not in the first stage yet (RIOV_VTD_IOTLB_MISS): the queue stops at
	 * that buffer (TX: the chain stays in the avail ring; RX: the packets are held), asks vmm to
	 * send the front-end an IOTLB miss, and tries again once the device's invalidation generation
	 * (*tc.genp, iommu/vtd_dp.h) moved: an IOTLB update of this device arrived; other devices'
	 * updates do not move it. After RIOV_VIRTQ_MISS_DEADLINE_US the address is a fault. */
	struct {
		bool active;
		bool give_up;             /* deadline passed: the next miss is a DMA fault */
		unsigned access;
		uint64_t iova;
		uint64_t gen;             /* the device's generation when the miss was seen */
		uint64_t since, sent;     /* TSC: first miss, last request */
	} wait;
	_Atomic uint64_t *miss_slot;  /* from riov_vhost_vring_info; NULL: no one to ask */
	int miss_efd;
	uint16_t n_held;
	uint16_t held_segs;           /* mbuf segments of held[] */
	uint64_t held_since;          /* TSC when held[] was last empty (0: it is) */
	uint64_t held_max_tsc;        /* RIOV_VIRTQ_HELD_MAX_US in TSC cycles */
	struct riov_virtq_held_budget *held_budget;  /* shared with the other vrings; NULL: none */
	struct rte_mbuf *held[RIOV_VIRTQ_HELD];
	/* Packed rings (vq->packed, virtio 1.2 2.8): desc is the descriptor ring, avail the driver's
	 * event suppression area, used the device's. last_avail_idx / last_used_idx hold avail and pub
	 * below as index | wrap counter << 15 (vhost-user's packed vring base). A used descriptor is
	 * committed to pend[] (the ring slot is the driver's descriptor until then) and written to the
	 * ring only when published, the first one's flags last. */
	struct {
		uint16_t avail;           /* next ring slot to read */
		uint16_t used;            /* slot of the next used descriptor to commit */
		uint16_t pub;             /* slot of the first committed, unpublished one */
		bool avail_wrap;          /* the driver's wrap counter the device expects at avail */
		bool used_wrap;           /* the device's wrap counter at used */
		bool pub_wrap;            /* ... at pub */
		uint16_t n_pend;
		uint32_t signalled;       /* published position at the last interrupt decision (DESC) */
		uint32_t moved;           /* ring slots published since then */
		struct riov_vring_rec *rec; /* where each publish is recorded for the next riovd
					     * (vmm/vhost.h); NULL: nowhere */
		uint64_t inflight[RIOV_VIRTQ_PACKED_MAX_SIZE / 64]; /* buffer ids the device holds */
		struct {
			uint16_t id;
			uint16_t ndesc;   /* ring slots the used descriptor skips */
			uint32_t len;
		} pend[RIOV_VIRTQ_PACKED_PEND];
	} pk;
};

/** Initialise from the vring info vmm handed over (resets stats and the broken state). Sets
 *  used->flags = VRING_USED_F_NO_NOTIFY and, with EVENT_IDX, keeps avail_event behind the guest so
 *  it never kicks (workers poll). Interrupts are raised only if vi->msi_addr is non-zero.
 *  With VIRTIO_F_RING_PACKED (bit 34) in vi->features the ring is packed: vi->desc is the
 *  descriptor ring, vi->avail the driver's and vi->used the device's event suppression area (whose
 *  flags are set to DISABLE), vi->last_avail_idx / last_used_idx carry index | wrap << 15, and the
 *  size need not be a power of two.
 *  Returns 0, or -EINVAL (size not a power of two in 1..32768 (packed: 1..32768), NULL or
 *  misaligned ring parts, a packed base index beyond the ring, no VT-d unit). */
int riov_virtq_init(struct riov_virtq *vq, const struct riov_vhost_vring_info *vi);

/** Guest RX: copy up to n packets into guest buffers (with a virtio-net header; mergeable buffers
 *  when negotiated). Returns the number delivered, in order from pkts[0]; the caller frees all n
 *  mbufs and counts the rest as drops (already counted in stats.drops by cause). Packets are taken
 *  in order; a packet dropped for a bad/faulting chain or for not fitting a non-mergeable buffer
 *  (TOO_BIG, buffer kept) does not stop the burst, running out of buffers does: that packet and
 *  every later one are held (below) until the guest gives buffers back. Used lengths are the bytes
 *  written. The mbufs are not modified. */
uint16_t riov_virtq_enqueue(struct riov_virtq *vq, struct rte_mbuf **pkts, uint16_t n);
/*  (Held packets: while the queue waits for a vIOMMU translation, or when the guest's RX ring has
 *   no room left, packets from the one that did not fit on are held with a reference of their own
 *   (the caller still frees all n) and delivered first later, by riov_virtq_flush_held() (the
 *   worker calls it every poll) or the next enqueue. A guest that is slow to give buffers back is
 *   normal (its TCP would retransmit every frame dropped here); beyond RIOV_VIRTQ_HELD packets or
 *   RIOV_VIRTQ_HELD_SEGS mbuf segments, or beyond the shared held_budget, they are dropped as
 *   NO_BUFFER, as are packets held for want of buffers longer than RIOV_VIRTQ_HELD_MAX_US and the
 *   held packets of a vring that stops (riov_virtq_release). The return value counts the held packets delivered by
 *   this call too.) */

/* ---- guest TX, and guest to guest without an mbuf (the worker's direct path) ----
 * riov_virtq_peek() takes chains from a guest TX ring without copying the frame: the first
 * RIOV_VIRTQ_PEEK bytes are copied into the descriptor (the switch decides on that private copy, and
 * it is what gets delivered, so a guest rewriting its header meanwhile changes nothing), the rest is
 * described as host segments in the guest's (translated) memory. riov_virtq_enqueue_pkts() copies
 * such packets straight into another guest's RX buffers (one copy instead of two, no mbuf);
 * riov_virtq_pkt_mbuf() copies one into an mbuf for every other destination. The chains stay the
 * guest's until riov_virtq_peek_done() returns them in the used ring, which must come after every
 * copy from them and before the worker's next quiescent point. */
#define RIOV_VIRTQ_PEEK 64
#define RIOV_VIRTQ_PKT_SEGS 8

struct riov_virtq_pkt {
	uint32_t len;                 /* frame bytes (virtio-net header excluded) */
	uint16_t head;                /* chain to complete (packed: its buffer id) */
	bool bad;                     /* dropped (counted): complete only */
	uint8_t nseg;
	uint8_t peek_len;             /* min(len, RIOV_VIRTQ_PEEK) */
	bool has_ol;                  /* the header asks for an offload (flags or gso_type set): the
				       * frame goes through an mbuf with its metadata (vhdr) */
	struct riov_virtio_net_hdr vhdr; /* the guest's header (private copy) when has_ol */
	uint16_t ndesc;               /* packed ring: ring slots the chain took */
	uint8_t peek[RIOV_VIRTQ_PEEK];
	struct rte_mbuf *m;           /* non-NULL: the chain had more than RIOV_VIRTQ_PKT_SEGS
				       * segments and was copied into this mbuf (use it instead) */
	struct {
		const uint8_t *p;     /* host address inside guest memory (read-only use) */
		uint32_t len;
	} seg[RIOV_VIRTQ_PKT_SEGS];
};

/** Guest TX in place: describe up to n chains (n capped at RIOV_VIRTQ_BURST) in pk[] (virtio-net
 *  header skipped; offloads are not offered); returns how many entries were written (bad ones
 *  included, flagged). Malformed or faulting chains are counted by cause and flagged bad (returned
 *  to the guest with length 0 by riov_virtq_peek_done()). mp serves the few chains that need an
 *  mbuf. On a broken queue returns 0 and counts one RIOV_VQ_DROP_BROKEN per call. */
uint16_t riov_virtq_peek(struct riov_virtq *vq, struct rte_mempool *mp, struct riov_virtq_pkt *pk,
			 uint16_t n);
/** Return the chains of pk[0..n) to the guest (used ring, in order) and count the good ones. */
void riov_virtq_peek_done(struct riov_virtq *vq, const struct riov_virtq_pkt *pk, uint16_t n);
/** Guest RX from peeked packets of another vring (same rules as riov_virtq_enqueue(); packets to
 *  hold for a vIOMMU translation are copied into mbufs from mp first). Returns the number
 *  delivered. The used entries it writes stay invisible to the guest (used->idx unchanged) until
 *  riov_virtq_publish_rx(), which the caller calls after riov_virtq_peek_done() of the source
 *  vring: a riovd killed in between has returned the source's chains and delivered nothing of
 *  them, so its successor, which serves a vring from its used index, never sends a frame twice
 *  (at most once; the other order delivered the burst again). Any other publish of vq (an
 *  enqueue of mbufs) publishes them too. */
uint16_t riov_virtq_enqueue_pkts(struct riov_virtq *vq, struct rte_mempool *mp,
				 struct riov_virtq_pkt *const *pk, uint16_t n);
/** Make the used entries riov_virtq_enqueue_pkts() wrote visible (one release store of
 *  used->idx); nothing when there are none. Call riov_virtq_notify() after it. */
void riov_virtq_publish_rx(struct riov_virtq *vq);
/** A copy of pk in a new mbuf from mp (or pk->m itself, which the caller then owns: pk->m is
 *  cleared). NULL when the pool is empty. */
struct rte_mbuf *riov_virtq_pkt_mbuf(struct rte_mempool *mp, struct riov_virtq_pkt *pk);

/** Deliver held RX packets once the translation they waited for may have arrived. Returns how
 *  many were delivered (call riov_virtq_notify() if non-zero). Cheap when nothing is held. */
uint16_t riov_virtq_flush_held(struct riov_virtq *vq);

/** Drop what the queue holds (held RX packets, counted NO_BUFFER; the wait). Call once no worker
 *  touches the queue, before riov_virtq_init() re-initialises it and when the vring stops for good. */
void riov_virtq_release(struct riov_virtq *vq);

/** Raise the guest interrupt through the VT-d interrupt entry if used entries were published since
 *  the last call and the guest wants one (VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX).
 *  Called by the worker after peek/enqueue. Counts stats.notifications for each interrupt
 *  delivered; an interrupt-remapping fault is logged (and recorded by the VT-d model). */
void riov_virtq_notify(struct riov_virtq *vq);

/** riov_virtq_notify() for n queues with one full memory barrier between every queue's used->idx
 *  stores and the reads of the guests' suppression state (one barrier per worker loop instead of
 *  one per queue and burst). A queue may be listed more than once. */
void riov_virtq_notify_many(struct riov_virtq *const *vqs, unsigned n);

/** Dirty-log the used ring too (VHOST_F_LOG_ALL): used_gpa is the ring's guest-physical address
 *  (vhost-user log_guest_addr); for a packed ring, the descriptor ring's, where used descriptors
 *  are written. Only meaningful when vq->log_base is set. */
void riov_virtq_set_used_log(struct riov_virtq *vq, uint64_t used_gpa);

#endif
