/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RDMA peer links, the parts that need no device: credits, back-off, receive buffers handed out
 * as mbufs, frames packed into messages (see rdma_link_internal.h). No verbs here.
 *
 * Security model: a received message is the peer's; rdma_msg.c's parser checked its header and
 * walks its records; what is attached to mbufs is only what the walk gave as a frame, inside the
 * bytes received.
 */
#include "dataplane/rdma_link_internal.h"

#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_memory.h>

#include "common/log.h"
#include "dataplane/offload.h"
#include "dataplane/virtq.h"

RIOV_LOG_COMPONENT("rdma", RIOV_LOG_INFO);

uint32_t rl_backoff_next(uint32_t cur_ms)
{
	if (cur_ms < RIOV_RDMA_BACKOFF_MIN_MS)
		return RIOV_RDMA_BACKOFF_MIN_MS;
	if (cur_ms >= RIOV_RDMA_BACKOFF_MAX_MS / 2)
		return RIOV_RDMA_BACKOFF_MAX_MS;
	return cur_ms * 2;
}

void rl_credits_init(struct rl_credits *c, uint32_t window)
{
	memset(c, 0, sizeof(*c));
	c->threshold = window / 2 ? window / 2 : 1;
}

uint16_t rl_credits_take(struct rl_credits *c)
{
	uint32_t n = c->pending < RIOV_RDMA_CREDITS_MAX ? c->pending : RIOV_RDMA_CREDITS_MAX;

	c->pending -= n;
	c->granted += n;
	c->peer--;
	return (uint16_t)n;
}

int rl_credits_on_recv(struct rl_credits *c, uint16_t credits)
{
	/* the message itself used one of the buffers granted */
	if (++c->received > c->granted)
		return -EPROTO;
	c->peer += credits;
	return 0;
}

/* --- receive buffers ------------------------------------------------------------------------- */

/* The last mbuf of a buffer's frames was freed (any thread): the index goes on the ring, then the
 * buffer's reference on the pool is dropped (after: the ring is the pool's). */
static void rl_rxbuf_free_cb(void *addr, void *opaque)
{
	struct rl_rxbuf *b = opaque;
	struct rl_rxpool *p = b->pool;

	(void)addr;
	/* the ring holds every buffer: it cannot be full */
	rte_ring_mp_enqueue_elem(p->ring, &b->idx, sizeof(uint32_t));
	atomic_fetch_add_explicit(&p->returned, 1, memory_order_relaxed);
	rl_rxpool_put(p);
}

struct rl_rxpool *rl_rxpool_create(uint32_t nbufs, uint32_t buf_size, int socket_id)
{
	struct rl_rxpool *p = rte_zmalloc_socket("rdma_rxpool", sizeof(*p), RTE_CACHE_LINE_SIZE, socket_id);
	if (p == NULL)
		goto nomem;
	p->nbufs = nbufs;
	p->buf_size = buf_size;
	p->size = (size_t)nbufs * buf_size;
	/* page aligned: the region is registered with the device */
	p->mem = rte_malloc_socket("rdma_rxbufs", p->size, 4096, socket_id);
	p->bufs = rte_zmalloc_socket("rdma_rxbuf", sizeof(*p->bufs) * nbufs, RTE_CACHE_LINE_SIZE, socket_id);
	p->state = rte_zmalloc_socket("rdma_rxstate", nbufs, 0, socket_id);
	/* a ring of a power of two holds one less: room for every buffer */
	const uint32_t rcount = rte_align32pow2(nbufs + 1);
	ssize_t rsz = rte_ring_get_memsize_elem(sizeof(uint32_t), rcount);
	if (rsz < 0) {
		RIOV_LOG(RIOV_LOG_ERR, "receive buffers: no ring of %u", rcount);
		goto fail;
	}
	p->ring = rte_zmalloc_socket("rdma_rxring", (size_t)rsz, RTE_CACHE_LINE_SIZE, socket_id);
	if (p->mem == NULL || p->bufs == NULL || p->state == NULL || p->ring == NULL)
		goto nomem;
	/* the ring is the pool's own memory: no memzone, no name to make unique */
	if (rte_ring_init(p->ring, "rdma_rx", rcount, RING_F_SC_DEQ) != 0)
		goto fail;
	p->iova = rte_malloc_virt2iova(p->mem);
	for (uint32_t i = 0; i < nbufs; i++) {
		p->bufs[i].pool = p;
		p->bufs[i].idx = i;
		p->bufs[i].sh.free_cb = rl_rxbuf_free_cb;
		p->bufs[i].sh.fcb_opaque = &p->bufs[i];
		rte_mbuf_ext_refcnt_set(&p->bufs[i].sh, 0);
	}
	atomic_init(&p->refs, 1);
	return p;
nomem:
	RIOV_LOG(RIOV_LOG_ERR, "receive buffers: cannot allocate %u x %u bytes", nbufs, buf_size);
fail:
	if (p != NULL) {
		rte_free(p->mem);
		rte_free(p->bufs);
		rte_free(p->state);
		rte_free(p->ring);
		rte_free(p);
	}
	return NULL;
}

void rl_rxpool_put(struct rl_rxpool *p)
{
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	rte_free(p->mem);
	rte_free(p->bufs);
	rte_free(p->state);
	rte_free(p->ring);
	rte_free(p);
}

int64_t rl_rxpool_returned(struct rl_rxpool *p)
{
	uint32_t idx;

	if (rte_ring_sc_dequeue_elem(p->ring, &idx, sizeof(idx)) != 0)
		return -1;
	/* the index came from this pool's callback; a bad one would be a bug, not the peer's doing */
	RTE_ASSERT(idx < p->nbufs);
	return idx;
}

void rl_rxmsg_start(struct rl_rxpool *p, struct rl_rxmsg *m, uint32_t idx, const struct riov_rdma_msg_info *info)
{
	m->active = true;
	m->buf = idx;
	m->pieces = 0;
	m->pieces_max = (uint32_t)info->nframes * RL_PIECES_PER_FRAME;
	riov_rdma_msg_iter_init(&m->it, rl_rxbuf_addr(p, idx), info);
	p->state[idx] = RL_BUF_OUT;
	/* Every reference the message may need is taken at once (the link's and one per piece, an
	 * upper bound) while no mbuf points at the buffer yet: one store, and one atomic add at the
	 * end for those not used. Consumers then free their mbufs in any order on any thread. */
	rte_mbuf_ext_refcnt_set(&p->bufs[idx].sh, (uint16_t)(1u + m->pieces_max));
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

/* A frame of the buffer as one mbuf, or a chain of two when it is longer than an mbuf can say. */
static struct rte_mbuf *rl_attach_frame(struct rl_rxpool *p, struct rl_rxmsg *m, struct rte_mempool *mp,
					const uint8_t *data, uint32_t len)
{
	struct rl_rxbuf *b = &p->bufs[m->buf];
	struct rte_mbuf *head = NULL, *last = NULL;
	uint32_t off = 0;

	while (off < len) {
		uint32_t n = len - off < RL_PIECE_MAX ? len - off : RL_PIECE_MAX;
		struct rte_mbuf *s = rte_pktmbuf_alloc(mp);
		if (s == NULL) {
			/* the pieces made so far drop their own references as they go back */
			rte_pktmbuf_free(head);
			return NULL;
		}
		uint8_t *at = (uint8_t *)(uintptr_t)data + off;
		rte_pktmbuf_attach_extbuf(s, at, p->iova + (rte_iova_t)(at - p->mem), (uint16_t)n, &b->sh);
		s->data_len = (uint16_t)n;
		m->pieces++;
		if (head == NULL) {
			head = s;
		} else {
			last->next = s;
			head->nb_segs++;
		}
		last = s;
		off += n;
	}
	head->pkt_len = len;
	return head;
}

/* What a peer node may send with a frame: everything riov carries (its own guests' offloads). */
#define RL_OL_ALL (RIOV_OL_CSUM | RIOV_OL_TSO4 | RIOV_OL_TSO6 | RIOV_OL_ECN)

/* A received offload block becomes mb's metadata through the same validation as a guest's
 * virtio-net header (riov_ol_from_vnet_hdr(): the frame must agree with it). */
static bool rl_frame_ol(struct rte_mbuf *mb, const struct riov_rdma_ol *ol)
{
	struct riov_virtio_net_hdr h = {
		.flags = ol->flags,
		.gso_type = ol->gso_type,
		.hdr_len = rte_cpu_to_le_16(ol->hdr_len),
		.gso_size = rte_cpu_to_le_16(ol->gso_size),
		.csum_start = rte_cpu_to_le_16(ol->csum_start),
		.csum_offset = rte_cpu_to_le_16(ol->csum_offset),
	};
	return riov_ol_from_vnet_hdr(mb, &h, RL_OL_ALL) == 0;
}

uint16_t rl_rxmsg_walk(struct rl_rxpool *p, struct rl_rxmsg *m, struct rte_mempool *mp, struct rte_mbuf **out,
		       uint32_t *vni, uint16_t max, struct rl_rxwalk *w)
{
	uint16_t n = 0;
	struct riov_rdma_frame f;

	while (m->active && n < max) {
		enum riov_rdma_msg_verdict v = riov_rdma_msg_next_frame(&m->it, &f);
		switch (v) {
		case RIOV_RDMA_MSG_OK: {
			struct rte_mbuf *mb = rl_attach_frame(p, m, mp, f.data, f.len);
			if (mb == NULL) {
				w->nombuf++;
				break;
			}
			if (f.has_ol && !rl_frame_ol(mb, &f.ol)) {
				/* the peer's metadata is checked like a guest's header */
				w->drops[RIOV_RDMA_DROP_BAD_OFFLOAD]++;
				rte_pktmbuf_free(mb);
				break;
			}
			out[n] = mb;
			vni[n] = f.vni;
			n++;
			w->frames++;
			w->bytes += f.len;
			break;
		}
		case RIOV_RDMA_MSG_DROP:
			w->drops[f.cause]++;
			break;
		case RIOV_RDMA_MSG_CLOSE:
			w->drops[f.cause]++;
			w->close = f.cause;
			m->active = false;
			break;
		case RIOV_RDMA_MSG_END:
		default:
			m->active = false;
			break;
		}
	}
	return n;
}

bool rl_rxmsg_finish(struct rl_rxpool *p, struct rl_rxmsg *m)
{
	struct rl_rxbuf *b = &p->bufs[m->buf];
	int16_t unused = (int16_t)(m->pieces_max - m->pieces + 1u);

	m->active = false;
	if (rte_mbuf_ext_refcnt_update(&b->sh, (int16_t)-unused) != 0)
		return false;   /* mbufs still out: the last free gives it back */
	/* nobody else points at it: the buffer's reference on the pool goes with it */
	p->state[m->buf] = RL_BUF_FREE;
	rl_rxpool_put(p);
	return true;
}

/* --- send side ------------------------------------------------------------------------------- */

int rl_pack_frame(struct riov_rdma_msg_builder *b, const struct rte_mbuf *m, uint32_t vni)
{
	const uint32_t len = m->pkt_len;
	uint32_t sum = 0;
	uint8_t *dst;

	/* the chain first: a record, once reserved, must be filled */
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next)
		sum += s->data_len;
	if (sum != len)
		return -EINVAL;
	struct riov_rdma_ol ol, *olp = NULL;
	if (m->ol_flags & RIOV_OL_MBUF_FLAGS) {
		/* a frame with offload metadata crosses whole with it, as a virtio-net header would
		 * carry it to a guest that takes everything (gso_size as the sender's: no MTU here) */
		struct riov_virtio_net_hdr h;
		riov_ol_to_vnet_hdr(m, RL_OL_ALL, UINT16_MAX, &h);
		ol = (struct riov_rdma_ol){ .flags = h.flags, .gso_type = h.gso_type,
					    .hdr_len = rte_le_to_cpu_16(h.hdr_len),
					    .gso_size = rte_le_to_cpu_16(h.gso_size),
					    .csum_start = rte_le_to_cpu_16(h.csum_start),
					    .csum_offset = rte_le_to_cpu_16(h.csum_offset) };
		olp = &ol;
	}
	int rc = riov_rdma_msg_reserve_ol(b, vni, len, olp, &dst);
	if (rc != 0)
		return rc;
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		memcpy(dst, rte_pktmbuf_mtod(s, const uint8_t *), s->data_len);
		dst += s->data_len;
	}
	return 0;
}
