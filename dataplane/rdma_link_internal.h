/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The parts of an RDMA peer link that need no device (rdma_link_core.c): credit accounting, the
 * connect back-off, the receive buffer pool (registered memory carved into buffers, the return
 * ring, per-buffer external-buffer shared info), a received DATA message turned into mbufs, and
 * frames packed from mbuf chains into a message. rdma_link.c adds verbs and rdma_cm around them;
 * the unit test (tests/unit/dataplane/test_rdma_link.c) includes rdma_link_core.c.
 *
 * Thread rules: a pool's ring is filled by any thread (rl_rxbuf_free_cb()) and drained by one
 * (the worker that owns the link's current connection, or the control thread while there is
 * none); everything else belongs to one thread at a time.
 */
#ifndef RIOV_DATAPLANE_RDMA_LINK_INTERNAL_H
#define RIOV_DATAPLANE_RDMA_LINK_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/rdma_link.h"
#include "dataplane/rdma_msg.h"

/* --- back-off ------------------------------------------------------------------------------- */

/** The wait before the next connect after one that failed, cur_ms being the last wait (0: none
 *  yet): RIOV_RDMA_BACKOFF_MIN_MS, doubling up to RIOV_RDMA_BACKOFF_MAX_MS. */
uint32_t rl_backoff_next(uint32_t cur_ms);

/* --- credits ---------------------------------------------------------------------------------
 * Each message, of any type, uses one of the peer's receive buffers. peer: messages this side may
 * still send; it goes to -1 when the HELLO is sent (before the peer's HELLO granted anything) and
 * the peer's HELLO adds its initial credits. DATA needs 2 (one is kept for a CREDIT message);
 * CREDIT needs 1. pending: buffers posted for the peer and not yet announced; granted/received:
 * the peer may never have sent more messages than were granted to it. */
struct rl_credits {
	int32_t peer;
	uint32_t pending;
	uint32_t threshold;        /* send a CREDIT when this many are pending and nothing else goes */
	uint64_t granted;
	uint64_t received;
};

void rl_credits_init(struct rl_credits *c, uint32_t window);
static inline bool rl_credits_can_data(const struct rl_credits *c)
{
	return c->peer >= 2;
}
static inline bool rl_credits_due(const struct rl_credits *c)
{
	return c->pending >= c->threshold && c->peer >= 1;
}
/** A message is sent (HELLO included): one credit used; returns the credits to announce in it
 *  (the pending ones, at most RIOV_RDMA_CREDITS_MAX). */
uint16_t rl_credits_take(struct rl_credits *c);
/** A message arrived carrying credits. Returns 0, or -EPROTO when the peer has sent more
 *  messages than it was granted. */
int rl_credits_on_recv(struct rl_credits *c, uint16_t credits);
static inline void rl_credits_posted(struct rl_credits *c, uint32_t n)
{
	c->pending += n;
}

/* --- receive buffers ------------------------------------------------------------------------- */

enum { RL_BUF_FREE = 0, RL_BUF_POSTED, RL_BUF_OUT };

struct rl_rxpool;

/** One receive buffer's external-buffer shared info: refcnt is the mbufs attached to its frames
 *  plus one while the link walks the message. */
struct rl_rxbuf {
	struct rte_mbuf_ext_shared_info sh;
	struct rl_rxpool *pool;
	uint32_t idx;
};

/** Receive buffers of a link: nbufs of buf_size bytes in one block (rte_malloc), a ring (MP/SC)
 *  where the last free of a buffer's mbufs puts its index, and a reference count: the owner's
 *  one plus one per buffer whose frames are out, so that the memory outlives the link while
 *  mbufs point into it. */
struct rl_rxpool {
	uint8_t *mem;
	rte_iova_t iova;
	size_t size;
	uint32_t nbufs, buf_size;
	struct rte_ring *ring;
	struct rl_rxbuf *bufs;
	uint8_t *state;            /* RL_BUF_*; the owner's (worker or control) */
	_Atomic uint32_t refs;
	_Atomic uint64_t returned; /* buffers the free callback gave back */
};

/** NULL on failure (logged). buf_size a multiple of 64. */
struct rl_rxpool *rl_rxpool_create(uint32_t nbufs, uint32_t buf_size, int socket_id);
/** Drop one reference (the owner's at destroy); the last frees the pool. */
void rl_rxpool_put(struct rl_rxpool *p);
static inline uint8_t *rl_rxbuf_addr(const struct rl_rxpool *p, uint32_t idx)
{
	return p->mem + (size_t)idx * p->buf_size;
}
/** Take the next index from the return ring; -1 when it is empty. Single consumer. */
int64_t rl_rxpool_returned(struct rl_rxpool *p);

/** A DATA message being handed out as mbufs (it may take several poll calls). */
struct rl_rxmsg {
	bool active;
	uint32_t buf;
	uint32_t pieces_max;       /* references taken for it at the start */
	uint32_t pieces;           /* mbufs attached */
	struct riov_rdma_msg_iter it;
};

/* A frame is attached as pieces of at most this many bytes (mbuf lengths are 16 bits). */
#define RL_PIECE_MAX 0xffffu
#define RL_PIECES_PER_FRAME 2u
_Static_assert(RIOV_RDMA_FRAME_MAX <= RL_PIECE_MAX * RL_PIECES_PER_FRAME, "two pieces per frame");
_Static_assert(1u + RL_PIECES_PER_FRAME * RIOV_RDMA_FRAMES_MAX <= 0x7fffu, "ext refcnt is 16 bits");

/** Start handing out the frames of the DATA message info in buffer idx: the buffer becomes
 *  RL_BUF_OUT and holds the link's reference and one per possible piece. */
void rl_rxmsg_start(struct rl_rxpool *p, struct rl_rxmsg *m, uint32_t idx, const struct riov_rdma_msg_info *info);

/** Per-walk results. */
struct rl_rxwalk {
	uint64_t frames, bytes, nombuf;
	uint64_t drops[RIOV_RDMA_DROP__MAX];
	enum riov_rdma_drop close;  /* RIOV_RDMA_DROP__MAX, or why the message broke the protocol */
};

/** Next frames of m as mbufs from mp into out[] (max), their VNIs in vni[]. Returns how many;
 *  m->active turns false when the message is done (END or CLOSE, w->close). */
uint16_t rl_rxmsg_walk(struct rl_rxpool *p, struct rl_rxmsg *m, struct rte_mempool *mp, struct rte_mbuf **out,
		       uint32_t *vni, uint16_t max, struct rl_rxwalk *w);

/** Stop handing out m (done or abandoned): the references of pieces not made and the link's own
 *  are dropped. Returns true when that was the last (the buffer is the caller's again: post it),
 *  false when mbufs still hold it (it comes back through the ring). */
bool rl_rxmsg_finish(struct rl_rxpool *p, struct rl_rxmsg *m);

/** The link takes a buffer back that holds no frame (HELLO, CREDIT, a message of dropped frames):
 *  nothing to count. */
static inline void rl_rxbuf_reclaim(struct rl_rxpool *p, uint32_t idx)
{
	p->state[idx] = RL_BUF_FREE;
}

/* --- send side ------------------------------------------------------------------------------- */

/** Append frame m (its whole chain) in VNI vni to the message b. Returns 0; -ENOSPC when b has no
 *  room left for it; -EINVAL when no message of b's size can take it (too long or short, VNI over
 *  24 bits) or its chain does not add up to its pkt_len. */
int rl_pack_frame(struct riov_rdma_msg_builder *b, const struct rte_mbuf *m, uint32_t vni);

#endif
