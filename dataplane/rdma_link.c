/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RDMA peer links: rdma_cm connection management (control thread) and the verbs fast path (the
 * link's worker) around rdma_link_core.c. See rdma_link.h for the API and thread rules,
 * docs/rdma.md for the design.
 *
 * Security model: the peer is another riov node reached through the RDMA device, trusted no more
 * than the wire: every message goes through rdma_msg.c's parser; one that breaks the protocol, or
 * arrives beyond the credits this node granted, closes the connection (counted by cause).
 * Connection requests are accepted only from a configured peer whose address is lower than this
 * node's; anything else is rejected. Work request ids and completion lengths come from the local
 * device, not the peer, but are still checked before use.
 *
 * Hand-over: the control thread builds a connection (cm id, CQs, SRQ, QP, receive buffers posted,
 * HELLO sent) and publishes it in link->conn; the worker loads it at every call. Teardown marks it
 * dead, withdraws it (link->conn = NULL) and records its generation in link->retired; the worker
 * copies link->retired into link->acked at the end of every call, after which it will not touch
 * that connection again, and the control thread frees it. While a connection is published, the
 * link's buffers (send stack, receive buffer states, the return ring's consumer side) are the
 * worker's; while none is, the control thread's.
 */
#include "dataplane/rdma_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "common/log.h"
#include "dataplane/rdma_link_internal.h"

RIOV_LOG_COMPONENT("rdma", RIOV_LOG_INFO);

#define RL_CTL_SLOT 32u          /* HELLO and CREDIT messages that are not sent inline */
#define RL_SQ_EXTRA 8u           /* send queue entries beyond the send buffers (control messages) */
#define RL_WR_SEND (1ull << 63)  /* send work request ids: the send queue position */
#define RL_BUF_NONE UINT32_MAX
#define RL_WC_BATCH 16
#define RL_BUF_ALIGN 64u         /* buffer stride within a region */
/* An idle connection is probed: a zero-length RDMA WRITE (it takes no receive buffer, and the
 * peer's transport acknowledges it) when nothing was posted for this long, so that a peer that
 * vanished without a disconnect (killed, its device gone) is noticed by the retries running out
 * rather than only when traffic comes. With RL_ACK_TIMEOUT and 6 retries: within about 2 s. */
#define RL_KEEPALIVE_MS 500u
#define RL_ACK_TIMEOUT 16u       /* local ACK timeout, 4.096 us * 2^16 = 268 ms (rdma_cm's own is
				  * about 1 s on RoCE, 8 s with the retries) */

struct rl_conn {
	struct riov_rdma_link *link;
	struct rdma_cm_id *id;
	struct ibv_cq *scq, *rcq;
	struct ibv_srq *srq;
	uint64_t gen;
	_Atomic int dead;          /* control: withdrawn */
	_Atomic int failed;        /* worker or device: broken, control tears it down */
	char why[128];             /* written before failed is set */
	uint32_t inline_size, sq_depth, msg_cap;
	/* worker (the control thread before publishing) */
	struct rl_credits cr;
	bool hello_rx;
	uint64_t sq_posted, sq_done;
	uint32_t unsignaled;
	uint64_t last_post_tsc;    /* when the worker last posted a send (keepalive) */
	uint32_t *sq_buf;          /* per send queue slot: a send buffer to free on completion */
	struct ibv_wc rwc[RL_WC_BATCH];
	int rwc_n, rwc_i;
};

struct riov_rdma_ctx {
	struct riov_rdma_conf conf;
	uint32_t stride;           /* msg_size rounded up to RL_BUF_ALIGN */
	char addr[INET_ADDRSTRLEN];
	struct rdma_event_channel *ch;
	struct rdma_cm_id *listen;
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	struct riov_rdma_link *links;
	struct riov_rdma_ctx *next; /* every context of the process (device events) */
	bool removed;              /* the device went away (DEVICE_REMOVAL, DEVICE_FATAL) */
};

struct riov_rdma_link {
	struct riov_rdma_ctx *ctx;
	struct riov_rdma_link *next;
	uint32_t peer_ip;
	bool connector;
	char name[INET_ADDRSTRLEN];
	/* control thread */
	struct rl_conn *setup;     /* being connected or accepted */
	struct rl_conn *live;      /* published */
	struct rl_conn *retiring;  /* withdrawn, waiting for the worker */
	uint64_t gen;
	uint32_t backoff_ms;
	uint64_t next_try_ms;
	struct riov_rdma_link_stats cs;
	/* buffers */
	struct rl_rxpool *rx;
	struct ibv_mr *rx_mr;
	uint8_t *tx_mem;
	size_t tx_size;
	struct ibv_mr *tx_mr;
	uint32_t *tx_free;
	uint32_t tx_nfree;
	/* worker: the send queue, buffers filled and not yet posted, oldest first (the last one still
	 * takes frames); their messages' builders by buffer */
	uint32_t *tx_q;
	uint32_t tx_qh, tx_qn;
	struct riov_rdma_msg_builder *tx_b;
	/* hand-over */
	_Atomic(struct rl_conn *) conn __rte_cache_aligned;
	_Atomic uint64_t retired;
	_Atomic uint64_t acked;
	_Atomic int state;
	/* worker */
	struct rl_rxmsg rxm __rte_cache_aligned;
	struct riov_rdma_link_stats ws;
};

static struct riov_rdma_ctx *all_ctx;   /* control thread */
static bool cm_used;                    /* librdmacm initialised (a context was attempted) */
static bool cm_released;                /* riov_rdma_devices_release() ran: librdmacm is done */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void ip_text(uint32_t ip, char *buf)
{
	struct in_addr a = { .s_addr = ip };
	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static bool ip_unicast(uint32_t ip_be)
{
	const uint8_t *a = (const uint8_t *)&ip_be;
	return a[0] != 0 && a[0] < 224;
}

const char *riov_rdma_link_state_name(enum riov_rdma_link_state s)
{
	static const char *const names[] = {
		[RIOV_RDMA_LINK_DOWN] = "down", [RIOV_RDMA_LINK_BACKOFF] = "backoff",
		[RIOV_RDMA_LINK_CONNECTING] = "connecting", [RIOV_RDMA_LINK_HELLO] = "hello",
		[RIOV_RDMA_LINK_UP] = "up",
	};
	return (unsigned)s < RTE_DIM(names) ? names[s] : "?";
}

/* --- buffers --------------------------------------------------------------------------------- */

static uint8_t *tx_buf_addr(const struct riov_rdma_link *l, uint32_t idx)
{
	return l->tx_mem + (size_t)idx * l->ctx->stride;
}

static uint8_t *ctl_slot(const struct riov_rdma_link *l, const struct rl_conn *c)
{
	return l->tx_mem + (size_t)l->ctx->conf.send_bufs * l->ctx->stride +
	       (size_t)(c->sq_posted % c->sq_depth) * RL_CTL_SLOT;
}

/* Post receive buffer idx on c's SRQ. */
static int post_recv(struct riov_rdma_link *l, struct rl_conn *c, uint32_t idx)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)rl_rxbuf_addr(l->rx, idx),
		.length = l->ctx->conf.msg_size,
		.lkey = l->rx_mr->lkey,
	};
	struct ibv_recv_wr wr = { .wr_id = idx, .sg_list = &sge, .num_sge = 1 }, *bad;
	int rc = ibv_post_srq_recv(c->srq, &wr, &bad);
	if (rc != 0)
		return -rc;
	l->rx->state[idx] = RL_BUF_POSTED;
	rl_credits_posted(&c->cr, 1);
	return 0;
}

/* --- worker ---------------------------------------------------------------------------------- */

static void conn_fail(struct rl_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_fail(struct rl_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (atomic_load(&c->failed))
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	atomic_store(&c->failed, 1);
	RIOV_LOG_RL(RIOV_LOG_WARN, "link to %s: %s", c->link->name, c->why);
}

/* Send len bytes at addr (in the send region). buf is the send buffer to free once the device is
 * done with it (RL_BUF_NONE: a control slot). Worker, or control before publishing. */
static int post_send(struct riov_rdma_link *l, struct rl_conn *c, void *addr, uint32_t len, uint32_t buf)
{
	const uint64_t pos = c->sq_posted;
	const bool inl = len <= c->inline_size;
	/* Ask for a completion every signal_every sends, when this send fills the queue (the
	 * completions of unsignaled ones come only with a later signaled one), and when it takes the
	 * last send buffer (no later send may come to bring it back). */
	const bool sig = c->unsignaled + 1 >= l->ctx->conf.signal_every || pos + 1 - c->sq_done >= c->sq_depth ||
			 (buf != RL_BUF_NONE && l->tx_nfree == 0);
	struct ibv_sge sge = { .addr = (uintptr_t)addr, .length = len, .lkey = l->tx_mr->lkey };
	struct ibv_send_wr wr = {
		.wr_id = RL_WR_SEND | pos,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = IBV_WR_SEND,
		.send_flags = (inl ? IBV_SEND_INLINE : 0u) | (sig ? IBV_SEND_SIGNALED : 0u),
	}, *bad;

	c->sq_buf[pos % c->sq_depth] = inl ? RL_BUF_NONE : buf;
	int rc = ibv_post_send(c->id->qp, &wr, &bad);
	if (rc != 0) {
		c->sq_buf[pos % c->sq_depth] = RL_BUF_NONE;
		if (buf != RL_BUF_NONE)
			l->tx_free[l->tx_nfree++] = buf;
		l->ws.post_errors++;
		conn_fail(c, "ibv_post_send: %s", strerror(rc));
		return -rc;
	}
	/* inline data was copied when posting: the buffer is free again */
	if (inl && buf != RL_BUF_NONE)
		l->tx_free[l->tx_nfree++] = buf;
	c->sq_posted++;
	c->unsignaled = sig ? 0 : c->unsignaled + 1;
	c->last_post_tsc = rte_get_tsc_cycles();
	l->ws.tx_msgs++;
	l->ws.tx_inline += inl;
	l->ws.tx_signaled += sig;
	return 0;
}

static void count_wc_error(struct riov_rdma_link *l, const struct ibv_wc *wc)
{
	if (wc->status == IBV_WC_WR_FLUSH_ERR)
		return;  /* the QP went to error before: that one was counted */
	l->ws.wc_errors++;
	if (wc->status == IBV_WC_RNR_RETRY_EXC_ERR)
		l->ws.rnr_errors++;
}

/* Send completions: the send buffers of every send up to a signaled one are free. */
static int reap_send(struct riov_rdma_link *l, struct rl_conn *c)
{
	struct ibv_wc wc[RL_WC_BATCH];
	int n = ibv_poll_cq(c->scq, RL_WC_BATCH, wc);

	if (n < 0) {
		conn_fail(c, "ibv_poll_cq (send): %d", n);
		return -EIO;
	}
	for (int i = 0; i < n; i++) {
		if (wc[i].status != IBV_WC_SUCCESS) {
			count_wc_error(l, &wc[i]);
			conn_fail(c, "send completion: %s", ibv_wc_status_str(wc[i].status));
			return -EIO;
		}
		const uint64_t seq = wc[i].wr_id & ~RL_WR_SEND;
		if (!(wc[i].wr_id & RL_WR_SEND) || seq < c->sq_done || seq >= c->sq_posted) {
			conn_fail(c, "send completion for an unknown work request %#llx", (unsigned long long)wc[i].wr_id);
			return -EIO;
		}
		for (; c->sq_done <= seq; c->sq_done++) {
			uint32_t *b = &c->sq_buf[c->sq_done % c->sq_depth];
			if (*b != RL_BUF_NONE)
				l->tx_free[l->tx_nfree++] = *b;
			*b = RL_BUF_NONE;
		}
	}
	return 0;
}

static bool sq_room(const struct rl_conn *c)
{
	return c->sq_posted - c->sq_done < c->sq_depth;
}

static void send_credit(struct riov_rdma_link *l, struct rl_conn *c)
{
	struct riov_rdma_msg_builder b;
	uint8_t *slot = ctl_slot(l, c);

	riov_rdma_msg_init(&b, slot, RL_CTL_SLOT);
	uint32_t len = riov_rdma_msg_finish(&b, rl_credits_take(&c->cr));
	if (post_send(l, c, slot, len, RL_BUF_NONE) == 0)
		l->ws.tx_credit_msgs++;
}

/* The keepalive probe: a signaled zero-length RDMA WRITE (no address or key is needed for zero
 * bytes, and the peer's QP allows remote writes, as rdma_cm sets it up). Its completion frees no
 * buffer; if the peer is gone, it completes with a retry error and the connection is torn down. */
static void send_keepalive(struct riov_rdma_link *l, struct rl_conn *c)
{
	const uint64_t pos = c->sq_posted;
	struct ibv_send_wr wr = {
		.wr_id = RL_WR_SEND | pos,
		.opcode = IBV_WR_RDMA_WRITE,
		.send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	c->sq_buf[pos % c->sq_depth] = RL_BUF_NONE;
	int rc = ibv_post_send(c->id->qp, &wr, &bad);
	if (rc != 0) {
		l->ws.post_errors++;
		conn_fail(c, "ibv_post_send (keepalive): %s", strerror(rc));
		return;
	}
	c->sq_posted++;
	c->unsignaled = 0;
	c->last_post_tsc = rte_get_tsc_cycles();
	l->ws.tx_keepalives++;
}

/* A connection the worker will not use (none, withdrawn or failed): a message half handed out is
 * abandoned (its frames already out stay valid). */
static void worker_quiesce(struct riov_rdma_link *l)
{
	if (l->rxm.active)
		rl_rxmsg_finish(l->rx, &l->rxm);
	/* frames queued and never sent are lost with the connection (the buffers come back with
	 * the next one: conn_resources) */
	for (; l->tx_qn > 0; l->tx_qn--, l->tx_qh = (l->tx_qh + 1) % l->ctx->conf.send_bufs)
		l->ws.tx_discarded += l->tx_b[l->tx_q[l->tx_qh]].nframes;
}

/* The worker's quiescent point. A connection withdrawn during this call (retired moved) is let go
 * here too: a message half handed out is abandoned before the ack, since after it the control
 * thread owns the link's buffers. (retired is stored after conn is cleared: seeing the new
 * generation, the load of conn sees the withdrawal.) */
static void worker_ack(struct riov_rdma_link *l)
{
	const uint64_t r = atomic_load(&l->retired);

	if (r != atomic_load(&l->acked)) {
		struct rl_conn *c = atomic_load(&l->conn);
		if (c == NULL || atomic_load(&c->dead) || atomic_load(&c->failed))
			worker_quiesce(l);
	}
	atomic_store(&l->acked, r);
}

static struct rl_conn *worker_conn(struct riov_rdma_link *l)
{
	struct rl_conn *c = atomic_load(&l->conn);

	if (c == NULL || atomic_load(&c->dead) || atomic_load(&c->failed)) {
		worker_quiesce(l);
		return NULL;
	}
	return c;
}

static void repost(struct riov_rdma_link *l, struct rl_conn *c, uint32_t idx)
{
	int rc = post_recv(l, c, idx);
	if (rc != 0) {
		l->rx->state[idx] = RL_BUF_FREE;
		l->ws.post_errors++;
		conn_fail(c, "ibv_post_srq_recv: %s", strerror(-rc));
	}
}

/* Frames of the DATA message being handed out. */
static uint16_t walk(struct riov_rdma_link *l, struct rl_conn *c, struct rte_mbuf **out, uint32_t *vni, uint16_t max)
{
	struct rl_rxwalk w;

	memset(&w, 0, sizeof(w));
	w.close = RIOV_RDMA_DROP__MAX;
	uint16_t n = rl_rxmsg_walk(l->rx, &l->rxm, l->ctx->conf.rx_pool, out, vni, max, &w);
	l->ws.rx_frames += w.frames;
	l->ws.rx_bytes += w.bytes;
	l->ws.rx_nombuf += w.nombuf;
	for (unsigned i = 0; i < RIOV_RDMA_DROP__MAX; i++)
		l->ws.drops[i] += w.drops[i];
	if (!l->rxm.active) {
		if (rl_rxmsg_finish(l->rx, &l->rxm) && w.close == RIOV_RDMA_DROP__MAX)
			repost(l, c, l->rxm.buf);
		if (w.close != RIOV_RDMA_DROP__MAX)
			conn_fail(c, "protocol error from the peer: %s", riov_rdma_drop_names[w.close]);
	}
	return n;
}

static void proto_close(struct riov_rdma_link *l, struct rl_conn *c, uint32_t idx, enum riov_rdma_drop cause)
{
	l->ws.drops[cause]++;
	rl_rxbuf_reclaim(l->rx, idx);
	conn_fail(c, "protocol error from the peer: %s", riov_rdma_drop_names[cause]);
}

/* One receive completion. */
static uint16_t recv_one(struct riov_rdma_link *l, struct rl_conn *c, const struct ibv_wc *wc, struct rte_mbuf **out,
			 uint32_t *vni, uint16_t max)
{
	struct riov_rdma_msg_info info;
	const uint32_t idx = (uint32_t)wc->wr_id;

	if (wc->status != IBV_WC_SUCCESS) {
		count_wc_error(l, wc);
		conn_fail(c, "receive completion: %s", ibv_wc_status_str(wc->status));
		return 0;
	}
	if (wc->wr_id >= l->rx->nbufs || l->rx->state[idx] != RL_BUF_POSTED) {
		conn_fail(c, "receive completion for an unknown buffer %#llx", (unsigned long long)wc->wr_id);
		return 0;
	}
	l->ws.rx_msgs++;
	if (riov_rdma_msg_parse(rl_rxbuf_addr(l->rx, idx), wc->byte_len, &info) != RIOV_RDMA_MSG_OK) {
		proto_close(l, c, idx, info.cause);
		return 0;
	}
	if (rl_credits_on_recv(&c->cr, info.credits) != 0) {
		proto_close(l, c, idx, RIOV_RDMA_DROP_CREDITS);
		return 0;
	}
	switch (info.type) {
	case RIOV_RDMA_MSG_HELLO:
		if (c->hello_rx) {
			proto_close(l, c, idx, RIOV_RDMA_DROP_UNEXPECTED);
			return 0;
		}
		if (info.vtep_ip != l->peer_ip) {
			proto_close(l, c, idx, RIOV_RDMA_DROP_BAD_HELLO);
			return 0;
		}
		c->hello_rx = true;
		/* the peer's buffers limit our messages */
		c->msg_cap = RTE_MIN(l->ctx->conf.msg_size, info.buf_size);
		l->ws.msg_cap = c->msg_cap;
		int expect = RIOV_RDMA_LINK_HELLO;
		atomic_compare_exchange_strong(&l->state, &expect, RIOV_RDMA_LINK_UP);
		repost(l, c, idx);
		return 0;
	case RIOV_RDMA_MSG_CREDIT:
		if (!c->hello_rx) {
			proto_close(l, c, idx, RIOV_RDMA_DROP_UNEXPECTED);
			return 0;
		}
		l->ws.rx_credit_msgs++;
		repost(l, c, idx);
		return 0;
	case RIOV_RDMA_MSG_DATA:
	default:
		if (!c->hello_rx) {
			proto_close(l, c, idx, RIOV_RDMA_DROP_UNEXPECTED);
			return 0;
		}
		rl_rxmsg_start(l->rx, &l->rxm, idx, &info);
		return walk(l, c, out, vni, max);
	}
}

/* Post the queued messages, oldest first, while credits and the send queue allow: under load the
 * queue's messages fill up while they wait, so a credit carries as many frames as a message holds. */
static void tx_flush(struct riov_rdma_link *l, struct rl_conn *c)
{
	const uint32_t nb = l->ctx->conf.send_bufs;

	while (l->tx_qn > 0) {
		const uint32_t buf = l->tx_q[l->tx_qh];
		struct riov_rdma_msg_builder *b = &l->tx_b[buf];
		if (b->nframes == 0) {          /* opened for a frame the link refused */
			l->tx_free[l->tx_nfree++] = buf;
		} else {
			if (!rl_credits_can_data(&c->cr)) {
				l->ws.tx_no_credit++;
				return;
			}
			if (!sq_room(c))
				return;
			uint32_t len = riov_rdma_msg_finish(b, rl_credits_take(&c->cr));
			if (post_send(l, c, b->buf, len, buf) != 0)
				return;         /* the connection failed: the queue goes with it */
		}
		l->tx_qh = (l->tx_qh + 1) % nb;
		l->tx_qn--;
	}
}

uint16_t riov_rdma_link_poll(struct riov_rdma_link *l, struct rte_mbuf **out, uint32_t *vni_out, uint16_t max)
{
	struct rl_conn *c = worker_conn(l);
	uint16_t n = 0;
	int64_t idx;

	if (c == NULL)
		goto ack;
	if (reap_send(l, c) != 0)
		goto ack;
	/* buffers whose frames were all freed */
	while ((idx = rl_rxpool_returned(l->rx)) >= 0 && !atomic_load(&c->failed))
		repost(l, c, (uint32_t)idx);
	if (l->rxm.active)
		n += walk(l, c, out, vni_out, max);
	while (n < max && !l->rxm.active && !atomic_load(&c->failed)) {
		if (c->rwc_i == c->rwc_n) {
			int k = ibv_poll_cq(c->rcq, RL_WC_BATCH, c->rwc);
			if (k < 0) {
				conn_fail(c, "ibv_poll_cq (receive): %d", k);
				break;
			}
			c->rwc_n = k;
			c->rwc_i = 0;
			if (k == 0)
				break;
		}
		const struct ibv_wc *wc = &c->rwc[c->rwc_i++];
		n += recv_one(l, c, wc, out + n, vni_out + n, max - n);
	}
	if (!atomic_load(&c->failed) && l->tx_qn > 0)
		tx_flush(l, c);             /* credits that came in */
	if (atomic_load(&c->failed))
		worker_quiesce(l);
	else if (c->hello_rx && rl_credits_due(&c->cr) && sq_room(c))
		send_credit(l, c);
	else if (c->hello_rx && sq_room(c) &&
		 rte_get_tsc_cycles() - c->last_post_tsc > rte_get_tsc_hz() / 1000u * RL_KEEPALIVE_MS)
		send_keepalive(l, c);
ack:
	worker_ack(l);
	return n;
}

uint16_t riov_rdma_link_tx(struct riov_rdma_link *l, struct rte_mbuf **m, const uint32_t *vni, uint16_t n)
{
	struct rl_conn *c = worker_conn(l);
	const uint32_t nb = l->ctx->conf.send_bufs;
	uint16_t i = 0;

	if (c == NULL || !c->hello_rx)
		goto ack;
	if (reap_send(l, c) != 0)
		goto ack;
	while (i < n) {
		/* the newest queued message, else (none, or full) a new one: an empty message refuses
		 * only a frame no message takes (-EINVAL), never for want of room */
		int rc = -ENOSPC;
		if (l->tx_qn > 0)
			rc = rl_pack_frame(&l->tx_b[l->tx_q[(l->tx_qh + l->tx_qn - 1) % nb]], m[i], vni[i]);
		if (rc == -ENOSPC) {
			if (l->tx_nfree == 0) {
				l->ws.tx_no_buf++;    /* every send buffer is queued or in flight */
				break;
			}
			const uint32_t buf = l->tx_free[--l->tx_nfree];
			riov_rdma_msg_init(&l->tx_b[buf], tx_buf_addr(l, buf), c->msg_cap);
			l->tx_q[(l->tx_qh + l->tx_qn) % nb] = buf;
			l->tx_qn++;
			rc = rl_pack_frame(&l->tx_b[buf], m[i], vni[i]);
		}
		if (rc == 0) {
			l->ws.tx_frames++;
			l->ws.tx_bytes += m[i]->pkt_len;
		} else {
			l->ws.tx_refused++;       /* no message takes it: taken, and counted */
		}
		i++;
	}
	tx_flush(l, c);
ack:
	worker_ack(l);
	return i;
}

uint32_t riov_rdma_link_frame_max(const struct riov_rdma_link *l)
{
	if (atomic_load(&l->state) != RIOV_RDMA_LINK_UP)
		return 0;
	return riov_rdma_msg_frame_max(l->ws.msg_cap);
}

uint32_t riov_rdma_link_ol_frame_max(const struct riov_rdma_link *l)
{
	if (atomic_load(&l->state) != RIOV_RDMA_LINK_UP)
		return 0;
	return riov_rdma_msg_ol_frame_max(l->ws.msg_cap);
}

/* --- control thread: connections ------------------------------------------------------------ */

static void conn_destroy(struct rl_conn *c)
{
	if (c == NULL)
		return;
	if (c->id != NULL && c->id->qp != NULL)
		rdma_destroy_qp(c->id);
	if (c->srq != NULL && ibv_destroy_srq(c->srq) != 0)
		RIOV_LOG(RIOV_LOG_WARN, "link to %s: ibv_destroy_srq: %s", c->link->name, strerror(errno));
	if (c->scq != NULL && ibv_destroy_cq(c->scq) != 0)
		RIOV_LOG(RIOV_LOG_WARN, "link to %s: ibv_destroy_cq: %s", c->link->name, strerror(errno));
	if (c->rcq != NULL && ibv_destroy_cq(c->rcq) != 0)
		RIOV_LOG(RIOV_LOG_WARN, "link to %s: ibv_destroy_cq: %s", c->link->name, strerror(errno));
	if (c->id != NULL && rdma_destroy_id(c->id) != 0)
		RIOV_LOG(RIOV_LOG_WARN, "link to %s: rdma_destroy_id: %s", c->link->name, strerror(errno));
	free(c->sq_buf);
	free(c);
}

static struct rl_conn *conn_alloc(struct riov_rdma_link *l)
{
	struct rl_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->link = l;
	c->sq_depth = l->ctx->conf.send_bufs + RL_SQ_EXTRA;
	c->sq_buf = malloc(sizeof(*c->sq_buf) * c->sq_depth);
	if (c->sq_buf == NULL) {
		free(c);
		return NULL;
	}
	for (uint32_t i = 0; i < c->sq_depth; i++)
		c->sq_buf[i] = RL_BUF_NONE;
	return c;
}

static void set_state(struct riov_rdma_link *l, enum riov_rdma_link_state s)
{
	atomic_store(&l->state, (int)s);
}

/* A connection that was not published failed: free it; a connector tries again after back-off. */
static void setup_failed(struct riov_rdma_link *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void setup_failed(struct riov_rdma_link *l, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	conn_destroy(l->setup);
	l->setup = NULL;
	if (l->connector) {
		l->cs.connect_errors++;
		l->backoff_ms = rl_backoff_next(l->backoff_ms);
		l->next_try_ms = now_ms() + l->backoff_ms;
		set_state(l, RIOV_RDMA_LINK_BACKOFF);
		RIOV_LOG_RL(RIOV_LOG_INFO, "link to %s: %s; next attempt in %u ms", l->name, why, l->backoff_ms);
	} else {
		set_state(l, RIOV_RDMA_LINK_DOWN);
		RIOV_LOG_RL(RIOV_LOG_INFO, "link to %s: %s", l->name, why);
	}
}

/* Withdraw the published connection; it is freed once the worker has let go (tick()). */
static void retire(struct riov_rdma_link *l, const char *why)
{
	struct rl_conn *c = l->live;

	if (c == NULL)
		return;
	l->live = NULL;
	atomic_store(&c->dead, 1);
	atomic_store(&l->conn, NULL);
	l->retiring = c;
	atomic_store(&l->retired, c->gen);
	/* moves the QP to error and tells the peer; an error here only means it is gone already */
	if (rdma_disconnect(c->id) != 0 && errno != EINVAL)
		RIOV_LOG(RIOV_LOG_DEBUG, "link to %s: rdma_disconnect: %s", l->name, strerror(errno));
	l->cs.teardowns++;
	if (l->connector) {
		l->backoff_ms = rl_backoff_next(l->backoff_ms);
		l->next_try_ms = now_ms() + l->backoff_ms;
		set_state(l, RIOV_RDMA_LINK_BACKOFF);
		RIOV_LOG(RIOV_LOG_NOTICE, "link to %s down (%s); reconnecting in %u ms", l->name, why, l->backoff_ms);
	} else {
		set_state(l, RIOV_RDMA_LINK_DOWN);
		RIOV_LOG(RIOV_LOG_NOTICE, "link to %s down (%s); waiting for the peer", l->name, why);
	}
}

/* CQs, SRQ and QP on c->id (its device is the context's), the link's buffers reset and every
 * receive buffer that is not out posted. The worker uses no connection of this link now. */
static int conn_resources(struct riov_rdma_link *l, struct rl_conn *c)
{
	struct riov_rdma_ctx *ctx = l->ctx;
	const struct riov_rdma_conf *cf = &ctx->conf;
	int rc;

	if (c->id->verbs != ctx->verbs) {
		RIOV_LOG(RIOV_LOG_ERR, "link to %s: the peer is reached through device %s, not %s (the VTEP's)", l->name,
			 c->id->verbs ? ibv_get_device_name(c->id->verbs->device) : "?",
			 ibv_get_device_name(ctx->verbs->device));
		return -ENODEV;
	}
	c->scq = ibv_create_cq(ctx->verbs, (int)c->sq_depth, NULL, NULL, 0);
	c->rcq = ibv_create_cq(ctx->verbs, cf->recv_bufs, NULL, NULL, 0);
	if (c->scq == NULL || c->rcq == NULL) {
		rc = errno ? -errno : -ENOMEM;
		RIOV_LOG(RIOV_LOG_ERR, "link to %s: ibv_create_cq: %s", l->name, strerror(-rc));
		return rc;
	}
	struct ibv_srq_init_attr sa = { .attr = { .max_wr = cf->recv_bufs, .max_sge = 1 } };
	c->srq = ibv_create_srq(ctx->pd, &sa);
	if (c->srq == NULL) {
		rc = errno ? -errno : -ENOMEM;
		RIOV_LOG(RIOV_LOG_ERR, "link to %s: ibv_create_srq (%u buffers): %s", l->name, cf->recv_bufs, strerror(-rc));
		return rc;
	}
	/* The inline size asked for may be more than the device takes (rxe: about 400 bytes, some
	 * devices none): ask for less until the QP is made, then read back what it has. */
	for (uint32_t inl = cf->inline_size;; inl /= 2) {
		struct ibv_qp_init_attr qa = {
			.send_cq = c->scq,
			.recv_cq = c->rcq,
			.srq = c->srq,
			.cap = { .max_send_wr = c->sq_depth, .max_send_sge = 1, .max_inline_data = inl },
			.qp_type = IBV_QPT_RC,
			.sq_sig_all = 0,
		};
		if (rdma_create_qp(c->id, ctx->pd, &qa) == 0)
			break;
		rc = -errno;
		if (inl == 0) {
			RIOV_LOG(RIOV_LOG_ERR, "link to %s: rdma_create_qp (send queue %u): %s", l->name, c->sq_depth,
				 strerror(-rc));
			return rc;
		}
	}
	struct ibv_qp_attr qattr;
	struct ibv_qp_init_attr qinit;
	if (ibv_query_qp(c->id->qp, &qattr, IBV_QP_CAP, &qinit) == 0)
		c->inline_size = qinit.cap.max_inline_data;
	else
		c->inline_size = 0;  /* unknown: never inline */
	c->inline_size = RTE_MIN(c->inline_size, (uint32_t)cf->inline_size);
	c->msg_cap = cf->msg_size;
	rl_credits_init(&c->cr, cf->recv_bufs);

	/* the worker holds nothing of this link: the send buffers are all free, and every receive
	 * buffer that is not out (free, back on the ring, posted on a dead connection) is posted */
	l->tx_nfree = 0;
	for (uint32_t i = cf->send_bufs; i-- > 0;)
		l->tx_free[l->tx_nfree++] = i;
	l->tx_qh = l->tx_qn = 0;
	int64_t idx;
	while ((idx = rl_rxpool_returned(l->rx)) >= 0)
		l->rx->state[idx] = RL_BUF_FREE;
	uint32_t posted = 0;
	for (uint32_t i = 0; i < l->rx->nbufs; i++) {
		if (l->rx->state[i] == RL_BUF_OUT)
			continue;
		l->rx->state[i] = RL_BUF_FREE;
		rc = post_recv(l, c, i);
		if (rc != 0) {
			RIOV_LOG(RIOV_LOG_ERR, "link to %s: ibv_post_srq_recv: %s", l->name, strerror(-rc));
			return rc;
		}
		posted++;
	}
	RIOV_LOG(RIOV_LOG_DEBUG, "link to %s: QP %u, inline %u, %u receive buffers posted", l->name, c->id->qp->qp_num,
		 c->inline_size, posted);
	return 0;
}

static void conn_param(struct rdma_conn_param *p)
{
	memset(p, 0, sizeof(*p));
	p->responder_resources = 0;   /* SENDs only: no RDMA reads */
	p->initiator_depth = 0;
	p->retry_count = 6;           /* 7 would be "retry forever" on rxe: a dead peer never noticed */
	p->rnr_retry_count = 7;       /* a fallback: credits keep receive buffers ahead */
}

/* ESTABLISHED: HELLO, then the worker gets the connection. */
static void conn_publish(struct riov_rdma_link *l, struct rl_conn *c)
{
	const struct riov_rdma_conf *cf = &l->ctx->conf;
	uint8_t *slot = ctl_slot(l, c);
	uint32_t len = riov_rdma_hello_encode(slot, RL_CTL_SLOT, cf->local_ip, cf->msg_size, rl_credits_take(&c->cr));

	if (len == 0 || post_send(l, c, slot, len, RL_BUF_NONE) != 0) {
		setup_failed(l, "cannot send HELLO: %s", len == 0 ? "bad HELLO" : c->why);
		return;
	}
	l->setup = NULL;
	l->live = c;
	c->gen = ++l->gen;
	l->backoff_ms = 0;
	l->cs.established++;
	l->ws.inline_size = c->inline_size;
	l->ws.msg_cap = c->msg_cap;
	set_state(l, RIOV_RDMA_LINK_HELLO);
	atomic_store(&l->conn, c);
	RIOV_LOG(RIOV_LOG_NOTICE, "link to %s connected (%s, QP %u, inline %u bytes)", l->name,
		 l->connector ? "connector" : "acceptor", c->id->qp->qp_num, c->inline_size);
}

/* The QP's local ACK timeout (RL_ACK_TIMEOUT); rdma_cm applies it when it moves the QP to RTS. */
static void set_ack_timeout(struct riov_rdma_link *l, struct rdma_cm_id *id)
{
	uint8_t t = RL_ACK_TIMEOUT;

	if (rdma_set_option(id, RDMA_OPTION_ID, RDMA_OPTION_ID_ACK_TIMEOUT, &t, sizeof(t)) != 0)
		RIOV_LOG(RIOV_LOG_DEBUG, "link to %s: ACK timeout not set (rdma_cm's default): %s", l->name,
			 strerror(errno));
}

static void start_connect(struct riov_rdma_link *l)
{
	struct riov_rdma_ctx *ctx = l->ctx;
	struct rl_conn *c = conn_alloc(l);
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = ctx->conf.local_ip };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = l->peer_ip,
				   .sin_port = htons(ctx->conf.port) };

	l->cs.connects++;
	set_state(l, RIOV_RDMA_LINK_CONNECTING);
	l->setup = c;
	if (c == NULL) {
		setup_failed(l, "out of memory");
		return;
	}
	if (rdma_create_id(ctx->ch, &c->id, c, RDMA_PS_TCP) != 0) {
		c->id = NULL;
		setup_failed(l, "rdma_create_id: %s", strerror(errno));
		return;
	}
	set_ack_timeout(l, c->id);
	if (rdma_resolve_addr(c->id, (struct sockaddr *)&src, (struct sockaddr *)&dst, RIOV_RDMA_CM_TIMEOUT_MS) != 0)
		setup_failed(l, "rdma_resolve_addr: %s", strerror(errno));
}

static struct riov_rdma_link *find_link(struct riov_rdma_ctx *ctx, uint32_t peer_ip)
{
	for (struct riov_rdma_link *l = ctx->links; l != NULL; l = l->next)
		if (l->peer_ip == peer_ip)
			return l;
	return NULL;
}

static void reject(struct rdma_cm_id *id, const char *peer, const char *why)
{
	RIOV_LOG_RL(RIOV_LOG_INFO, "connection request from %s refused: %s", peer, why);
	if (rdma_reject(id, NULL, 0) != 0)
		RIOV_LOG(RIOV_LOG_DEBUG, "rdma_reject: %s", strerror(errno));
	rdma_destroy_id(id);
}

static void on_connect_request(struct riov_rdma_ctx *ctx, struct rdma_cm_id *id)
{
	struct sockaddr *sa = rdma_get_peer_addr(id);
	char peer[INET_ADDRSTRLEN] = "?";
	struct riov_rdma_link *l = NULL;
	struct rdma_conn_param p;

	if (sa != NULL && sa->sa_family == AF_INET) {
		uint32_t ip = ((struct sockaddr_in *)sa)->sin_addr.s_addr;
		ip_text(ip, peer);
		l = find_link(ctx, ip);
	}
	if (l == NULL) {
		reject(id, peer, "not a peer of this node");
		return;
	}
	if (l->connector) {
		l->cs.rejects++;
		reject(id, peer, "this node has the lower address: it connects");
		return;
	}
	if (l->live != NULL) {
		/* the peer started again: the old connection is dead whether we noticed or not */
		retire(l, "the peer connected again");
	}
	if (l->retiring != NULL) {
		l->cs.rejects++;
		reject(id, peer, "the previous connection is still being torn down; the peer retries");
		return;
	}
	if (l->setup != NULL)
		setup_failed(l, "a newer connection request replaces it");
	struct rl_conn *c = conn_alloc(l);
	if (c == NULL) {
		l->cs.rejects++;
		reject(id, peer, "out of memory");
		return;
	}
	c->id = id;
	id->context = c;
	l->setup = c;
	set_state(l, RIOV_RDMA_LINK_CONNECTING);
	int rc = conn_resources(l, c);
	if (rc != 0) {
		l->cs.rejects++;
		rdma_reject(id, NULL, 0);
		setup_failed(l, "cannot set up the connection: %s", strerror(-rc));
		return;
	}
	conn_param(&p);
	set_ack_timeout(l, id);
	if (rdma_accept(id, &p) != 0) {
		setup_failed(l, "rdma_accept: %s", strerror(errno));
		return;
	}
	l->cs.accepts++;
}

static const char *cm_event_str(enum rdma_cm_event_type t)
{
	return rdma_event_str(t);
}

static void on_event(struct riov_rdma_ctx *ctx, enum rdma_cm_event_type type, int status, struct rdma_cm_id *id)
{
	if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {
		on_connect_request(ctx, id);
		return;
	}
	if (id == ctx->listen) {
		RIOV_LOG(type == RDMA_CM_EVENT_DEVICE_REMOVAL ? RIOV_LOG_ERR : RIOV_LOG_INFO, "listener on %s: %s",
			 ctx->addr, cm_event_str(type));
		if (type == RDMA_CM_EVENT_DEVICE_REMOVAL)
			ctx->removed = true;
		return;
	}
	struct rl_conn *c = id->context;
	if (c == NULL)
		return;
	struct riov_rdma_link *l = c->link;
	const bool setup = c == l->setup, live = c == l->live;
	if (!setup && !live)
		return;  /* a connection being torn down */

	switch (type) {
	case RDMA_CM_EVENT_ADDR_RESOLVED:
		if (setup && rdma_resolve_route(id, RIOV_RDMA_CM_TIMEOUT_MS) != 0)
			setup_failed(l, "rdma_resolve_route: %s", strerror(errno));
		break;
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		if (setup) {
			int rc = conn_resources(l, c);
			if (rc != 0) {
				setup_failed(l, "cannot set up the connection: %s", strerror(-rc));
				break;
			}
			struct rdma_conn_param p;
			conn_param(&p);
			if (rdma_connect(id, &p) != 0)
				setup_failed(l, "rdma_connect: %s", strerror(errno));
		}
		break;
	case RDMA_CM_EVENT_ESTABLISHED:
		if (setup)
			conn_publish(l, c);
		break;
	case RDMA_CM_EVENT_REJECTED:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
	case RDMA_CM_EVENT_CONNECT_ERROR:
		if (setup)
			setup_failed(l, "%s (status %d)", cm_event_str(type), status);
		else
			retire(l, cm_event_str(type));
		break;
	case RDMA_CM_EVENT_DISCONNECTED:
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		if (live) {
			l->cs.disconnects += type == RDMA_CM_EVENT_DISCONNECTED;
			retire(l, type == RDMA_CM_EVENT_DISCONNECTED ? "the peer disconnected" : "device removed");
		} else {
			setup_failed(l, "%s", cm_event_str(type));
		}
		break;
	default:
		RIOV_LOG(RIOV_LOG_DEBUG, "link to %s: %s", l->name, cm_event_str(type));
		break;
	}
}

/* Device events: a QP in error is failed like a completion error would fail it. */
static void device_events(struct riov_rdma_ctx *ctx)
{
	struct ibv_async_event ae;

	while (ibv_get_async_event(ctx->verbs, &ae) == 0) {
		switch (ae.event_type) {
		case IBV_EVENT_QP_FATAL:
		case IBV_EVENT_QP_REQ_ERR:
		case IBV_EVENT_QP_ACCESS_ERR:
			/* the QP is not destroyed before this event is acknowledged: find its connection
			 * among every context of the process (they may share the device) */
			for (struct riov_rdma_ctx *x = all_ctx; x != NULL; x = x->next)
				for (struct riov_rdma_link *l = x->links; l != NULL; l = l->next)
					if (l->live != NULL && l->live->id->qp == ae.element.qp) {
						l->cs.qp_fatal++;
						conn_fail(l->live, "%s", ibv_event_type_str(ae.event_type));
					}
			break;
		case IBV_EVENT_DEVICE_FATAL:
			RIOV_LOG(RIOV_LOG_ERR, "device %s: %s", ibv_get_device_name(ctx->verbs->device),
				 ibv_event_type_str(ae.event_type));
			ctx->removed = true;
			break;
		default:
			RIOV_LOG(RIOV_LOG_INFO, "device %s: %s", ibv_get_device_name(ctx->verbs->device),
				 ibv_event_type_str(ae.event_type));
			break;
		}
		ibv_ack_async_event(&ae);
	}
}

static int tick(struct riov_rdma_link *l, uint64_t now)
{
	if (l->live != NULL && atomic_load(&l->live->failed))
		retire(l, l->live->why);
	if (l->retiring != NULL && atomic_load(&l->acked) >= l->retiring->gen) {
		conn_destroy(l->retiring);
		l->retiring = NULL;
	}
	if (!l->connector || l->setup != NULL || l->live != NULL || l->retiring != NULL)
		return RIOV_RDMA_CM_TICK_MS;
	if (now >= l->next_try_ms) {
		start_connect(l);
		return RIOV_RDMA_CM_TICK_MS;
	}
	return (int)RTE_MIN(l->next_try_ms - now, (uint64_t)RIOV_RDMA_CM_TICK_MS);
}

bool riov_rdma_ctx_removed(const struct riov_rdma_ctx *ctx)
{
	return ctx->removed;
}

void riov_rdma_devices_sync(void)
{
	int n = 0;
	struct ibv_context **list = rdma_get_devices(&n);

	if (list != NULL)
		rdma_free_devices(list);
}

void riov_rdma_devices_release(void)
{
	int n = 0;

	if (!cm_used || cm_released)
		return;
	if (all_ctx != NULL) {
		/* a context's ids, QPs and PD are on these: closing them under it is not allowed */
		RIOV_LOG(RIOV_LOG_ERR, "RDMA: a context is still open (%s): device contexts left to librdmacm",
			 all_ctx->addr);
		return;
	}
	cm_released = true;
	/* rdma_get_devices() hands out librdmacm's own contexts (one per device, opened on the
	 * first use of each); with every id destroyed none carries a PD or a QP any more. They are
	 * closed here, not given back (rdma_free_devices() would keep them open): librdmacm is not
	 * called again in this process, and it has nothing that closes them at exit. */
	struct ibv_context **list = rdma_get_devices(&n);
	if (list == NULL)
		return;
	for (int i = 0; i < n; i++) {
		char name[IBV_SYSFS_NAME_MAX];
		snprintf(name, sizeof(name), "%s", ibv_get_device_name(list[i]->device));
		const int rc = ibv_close_device(list[i]);
		if (rc != 0)
			RIOV_LOG(RIOV_LOG_WARN, "RDMA device %s: ibv_close_device: %s", name, strerror(rc > 0 ? rc : errno));
		else
			RIOV_LOG(RIOV_LOG_INFO, "RDMA device %s: librdmacm's context closed (riovd stops)", name);
	}
	free(list);
}

int riov_rdma_cm_poll(struct riov_rdma_ctx *ctx)
{
	struct rdma_cm_event *ev;
	int wait = RIOV_RDMA_CM_TICK_MS;

	/* every event is acknowledged before it is acted upon: destroying an id waits for that */
	while (rdma_get_cm_event(ctx->ch, &ev) == 0) {
		enum rdma_cm_event_type type = ev->event;
		int status = ev->status;
		struct rdma_cm_id *id = ev->id;
		rdma_ack_cm_event(ev);
		on_event(ctx, type, status, id);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		RIOV_LOG_RL(RIOV_LOG_ERR, "rdma_get_cm_event: %s", strerror(errno));
	device_events(ctx);
	const uint64_t now = now_ms();
	for (struct riov_rdma_link *l = ctx->links; l != NULL; l = l->next)
		wait = RTE_MIN(wait, tick(l, now));
	return wait;
}

/* --- control thread: contexts and links ----------------------------------------------------- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int riov_rdma_ctx_create(const struct riov_rdma_conf *conf, struct riov_rdma_ctx **out)
{
	struct riov_rdma_ctx *ctx;
	int rc;

	*out = NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return -ENOMEM;
	ctx->conf = *conf;
	struct riov_rdma_conf *cf = &ctx->conf;
	cf->port = cf->port ? cf->port : RIOV_RDMA_PORT_DEFAULT;
	cf->msg_size = cf->msg_size ? cf->msg_size : RIOV_RDMA_MSG_DEFAULT;
	cf->recv_bufs = cf->recv_bufs ? cf->recv_bufs : RIOV_RDMA_RECV_BUFS_DEFAULT;
	cf->send_bufs = cf->send_bufs ? cf->send_bufs : RIOV_RDMA_SEND_BUFS_DEFAULT;
	cf->inline_size = cf->inline_size ? cf->inline_size : RIOV_RDMA_INLINE_DEFAULT;
	cf->signal_every = cf->signal_every ? cf->signal_every : RIOV_RDMA_SIGNAL_EVERY_DEFAULT;
	ip_text(cf->local_ip, ctx->addr);
	if (!ip_unicast(cf->local_ip) || !riov_rdma_msg_size_ok(cf->msg_size) || cf->rx_pool == NULL ||
	    cf->recv_bufs > RIOV_RDMA_BUFS_MAX || cf->send_bufs > RIOV_RDMA_BUFS_MAX || cf->send_bufs < 2 ||
	    cf->signal_every > (cf->send_bufs + RL_SQ_EXTRA) / 2) {
		RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: bad configuration (address, msg_size %u, buffers %u/%u, signal_every %u, "
			 "mbuf pool)", ctx->addr, cf->msg_size, cf->recv_bufs, cf->send_bufs, cf->signal_every);
		free(ctx);
		return -EINVAL;
	}
	ctx->stride = RTE_ALIGN_CEIL(cf->msg_size, RL_BUF_ALIGN);
	if (cm_released) {
		RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: riovd is stopping (the device contexts are closed)", ctx->addr);
		free(ctx);
		return -ESHUTDOWN;
	}

	cm_used = true;
	ctx->ch = rdma_create_event_channel();
	if (ctx->ch == NULL) {
		rc = -errno;
		RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: rdma_create_event_channel: %s (is rdma_ucm loaded, /dev/infiniband/rdma_cm "
			 "present?)", ctx->addr, strerror(errno));
		goto fail;
	}
	rc = set_nonblock(ctx->ch->fd);
	if (rc != 0) {
		RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: event channel O_NONBLOCK: %s", ctx->addr, strerror(-rc));
		goto fail;
	}
	if (rdma_create_id(ctx->ch, &ctx->listen, NULL, RDMA_PS_TCP) != 0) {
		rc = -errno;
		ctx->listen = NULL;
		RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: rdma_create_id: %s", ctx->addr, strerror(errno));
		goto fail;
	}
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = cf->local_ip, .sin_port = htons(cf->port) };
	if (rdma_bind_addr(ctx->listen, (struct sockaddr *)&sin) != 0) {
		rc = -errno;
		RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: rdma_bind_addr port %u: %s", ctx->addr, cf->port, strerror(errno));
		goto fail;
	}
	ctx->verbs = ctx->listen->verbs;
	if (ctx->verbs == NULL) {
		rc = -ENODEV;
		RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: no RDMA device has this address (an RoCE/rxe device on its netdev?)",
			 ctx->addr);
		goto fail;
	}
	ctx->pd = ibv_alloc_pd(ctx->verbs);
	if (ctx->pd == NULL) {
		rc = errno ? -errno : -ENOMEM;
		RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: ibv_alloc_pd on %s: %s", ctx->addr, ibv_get_device_name(ctx->verbs->device),
			 strerror(-rc));
		goto fail;
	}
	if (rdma_listen(ctx->listen, 16) != 0) {
		rc = -errno;
		RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: rdma_listen port %u: %s", ctx->addr, cf->port, strerror(errno));
		goto fail;
	}
	/* device events are read when cm_poll runs, never waited for */
	rc = set_nonblock(ctx->verbs->async_fd);
	if (rc != 0) {
		RIOV_LOG(RIOV_LOG_ERR, "RDMA on %s: async event fd O_NONBLOCK: %s", ctx->addr, strerror(-rc));
		goto fail;
	}
	ctx->next = all_ctx;
	all_ctx = ctx;
	RIOV_LOG(RIOV_LOG_INFO, "RDMA on %s: device %s, listening on port %u, messages of %u bytes", ctx->addr,
		 ibv_get_device_name(ctx->verbs->device), cf->port, cf->msg_size);
	*out = ctx;
	return 0;
fail:
	if (ctx->pd != NULL)
		ibv_dealloc_pd(ctx->pd);
	if (ctx->listen != NULL)
		rdma_destroy_id(ctx->listen);
	if (ctx->ch != NULL)
		rdma_destroy_event_channel(ctx->ch);
	free(ctx);
	return rc;
}

int riov_rdma_ctx_fd(const struct riov_rdma_ctx *ctx)
{
	return ctx->ch->fd;
}

static void link_free_buffers(struct riov_rdma_link *l)
{
	if (l->rx_mr != NULL && ibv_dereg_mr(l->rx_mr) != 0)
		RIOV_LOG(RIOV_LOG_WARN, "link to %s: ibv_dereg_mr: %s", l->name, strerror(errno));
	if (l->tx_mr != NULL && ibv_dereg_mr(l->tx_mr) != 0)
		RIOV_LOG(RIOV_LOG_WARN, "link to %s: ibv_dereg_mr: %s", l->name, strerror(errno));
	/* mbufs still out keep the receive memory (the pool's references) */
	if (l->rx != NULL)
		rl_rxpool_put(l->rx);
	rte_free(l->tx_mem);
	free(l->tx_free);
	free(l->tx_q);
	free(l->tx_b);
}

int riov_rdma_link_create(struct riov_rdma_ctx *ctx, uint32_t peer_ip, struct riov_rdma_link **out)
{
	const struct riov_rdma_conf *cf = &ctx->conf;
	struct riov_rdma_link *l;
	int rc;

	*out = NULL;
	if (!ip_unicast(peer_ip) || peer_ip == cf->local_ip)
		return -EINVAL;
	if (find_link(ctx, peer_ip) != NULL)
		return -EEXIST;
	l = rte_zmalloc("rdma_link", sizeof(*l), RTE_CACHE_LINE_SIZE);
	if (l == NULL)
		return -ENOMEM;
	l->ctx = ctx;
	l->peer_ip = peer_ip;
	ip_text(peer_ip, l->name);
	/* the lower address connects (compared as numbers, host order) */
	l->connector = ntohl(cf->local_ip) < ntohl(peer_ip);
	rc = -ENOMEM;
	l->rx = rl_rxpool_create(cf->recv_bufs, ctx->stride, cf->socket_id);
	l->tx_size = (size_t)cf->send_bufs * ctx->stride + (size_t)(cf->send_bufs + RL_SQ_EXTRA) * RL_CTL_SLOT;
	l->tx_mem = rte_zmalloc_socket("rdma_txbufs", l->tx_size, 4096, cf->socket_id);
	l->tx_free = malloc(sizeof(*l->tx_free) * cf->send_bufs);
	l->tx_q = malloc(sizeof(*l->tx_q) * cf->send_bufs);
	l->tx_b = calloc(cf->send_bufs, sizeof(*l->tx_b));
	if (l->rx == NULL || l->tx_mem == NULL || l->tx_free == NULL || l->tx_q == NULL || l->tx_b == NULL) {
		RIOV_LOG(RIOV_LOG_ERR, "link to %s: cannot allocate its buffers", l->name);
		goto fail;
	}
	l->rx_mr = ibv_reg_mr(ctx->pd, l->rx->mem, l->rx->size, IBV_ACCESS_LOCAL_WRITE);
	if (l->rx_mr == NULL) {
		rc = errno ? -errno : -ENOMEM;
		RIOV_LOG(RIOV_LOG_ERR, "link to %s: ibv_reg_mr of %zu receive bytes: %s", l->name, l->rx->size, strerror(-rc));
		goto fail;
	}
	l->tx_mr = ibv_reg_mr(ctx->pd, l->tx_mem, l->tx_size, 0);
	if (l->tx_mr == NULL) {
		rc = errno ? -errno : -ENOMEM;
		RIOV_LOG(RIOV_LOG_ERR, "link to %s: ibv_reg_mr of %zu send bytes: %s", l->name, l->tx_size, strerror(-rc));
		goto fail;
	}
	set_state(l, l->connector ? RIOV_RDMA_LINK_BACKOFF : RIOV_RDMA_LINK_DOWN);
	l->next_try_ms = 0;  /* connect at the next cm_poll */
	l->next = ctx->links;
	ctx->links = l;
	RIOV_LOG(RIOV_LOG_INFO, "link to %s added (%s)", l->name, l->connector ? "connects" : "accepts");
	*out = l;
	return 0;
fail:
	link_free_buffers(l);
	rte_free(l);
	return rc;
}

void riov_rdma_link_destroy(struct riov_rdma_link *l)
{
	if (l == NULL)
		return;
	for (struct riov_rdma_link **pp = &l->ctx->links; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	/* the worker is done with the link: nothing to wait for */
	if (l->live != NULL) {
		rdma_disconnect(l->live->id);
		conn_destroy(l->live);
	}
	conn_destroy(l->setup);
	conn_destroy(l->retiring);
	worker_quiesce(l);
	link_free_buffers(l);
	RIOV_LOG(RIOV_LOG_INFO, "link to %s removed", l->name);
	rte_free(l);
}

void riov_rdma_link_reset(struct riov_rdma_link *l, const char *why)
{
	if (l->live != NULL)
		retire(l, why);
	else if (l->setup != NULL)
		setup_failed(l, "%s", why);
}

void riov_rdma_ctx_destroy(struct riov_rdma_ctx *ctx)
{
	if (ctx == NULL)
		return;
	while (ctx->links != NULL)
		riov_rdma_link_destroy(ctx->links);
	for (struct riov_rdma_ctx **pp = &all_ctx; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ctx) {
			*pp = ctx->next;
			break;
		}
	rdma_destroy_id(ctx->listen);
	if (ibv_dealloc_pd(ctx->pd) != 0)
		RIOV_LOG(RIOV_LOG_WARN, "RDMA on %s: ibv_dealloc_pd: %s", ctx->addr, strerror(errno));
	rdma_destroy_event_channel(ctx->ch);
	RIOV_LOG(RIOV_LOG_INFO, "RDMA on %s stopped", ctx->addr);
	free(ctx);
}

enum riov_rdma_link_state riov_rdma_link_state(const struct riov_rdma_link *l)
{
	return (enum riov_rdma_link_state)atomic_load(&l->state);
}

int riov_rdma_link_is_connector(const struct riov_rdma_link *l)
{
	return l->connector;
}

void riov_rdma_link_stats(const struct riov_rdma_link *l, struct riov_rdma_link_stats *out)
{
	*out = l->ws;
	out->connects = l->cs.connects;
	out->accepts = l->cs.accepts;
	out->rejects = l->cs.rejects;
	out->connect_errors = l->cs.connect_errors;
	out->established = l->cs.established;
	out->disconnects = l->cs.disconnects;
	out->teardowns = l->cs.teardowns;
	out->qp_fatal = l->cs.qp_fatal;
	if (riov_rdma_link_state(l) < RIOV_RDMA_LINK_HELLO)
		out->inline_size = out->msg_cap = 0;
}
