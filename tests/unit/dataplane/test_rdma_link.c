/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the device-free part of the RDMA peer links (dataplane/rdma_link_core.c): the
 * connect back-off schedule, credit accounting (HELLO, the credit kept back for CREDIT, a peer
 * over its credits), receive buffers handed out as mbufs attached to the buffer (no copy; frames
 * freed in any order, before or after the link lets go, give the buffer back exactly once; the
 * pool outlives its owner while mbufs point into it; a frame longer than an mbuf is two), and
 * frames packed from mbuf chains into messages (multi-segment, exactly at the limit, one too long,
 * a chain that lies about its length). Runs with EAL on 4 KiB pages; no RDMA device.
 */
#include "dataplane/rdma_link_core.c"
#include "dataplane/rdma_msg.c"
#include "dataplane/offload.c"
#include "tests/fuzz/fuzz_eal.h"

#include "riov_test.h"

static struct rte_mempool *direct_pool, *attach_pool;
#define DIRECT_N 512u
#define ATTACH_N 256u

/* A frame of len bytes: byte i is (seed + i * 7) & 0xff. */
static void fill(uint8_t *p, uint32_t len, unsigned seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7u);
}

static bool same(const uint8_t *p, uint32_t len, unsigned seed)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)(seed + i * 7u))
			return false;
	return true;
}

/* A chain of mbufs of seg bytes each (the last shorter) holding frame (len, seed). */
static struct rte_mbuf *chain(uint32_t len, uint32_t seg, unsigned seed)
{
	static uint8_t tmp[70000];
	struct rte_mbuf *head = NULL, *last = NULL;

	fill(tmp, len, seed);
	for (uint32_t off = 0; off < len; off += seg) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(direct_pool);
		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		uint32_t n = len - off < seg ? len - off : seg;
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), tmp + off, n);
		if (head == NULL) {
			head = m;
		} else {
			rte_pktmbuf_chain(head, m);
		}
		last = m;
	}
	(void)last;
	return head;
}

static bool pools_full(void)
{
	return rte_mempool_avail_count(direct_pool) == DIRECT_N && rte_mempool_avail_count(attach_pool) == ATTACH_N;
}

RIOV_TEST(backoff_schedule)
{
	static const uint32_t want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000 };
	uint32_t b = 0;
	for (unsigned i = 0; i < RTE_DIM(want); i++) {
		b = rl_backoff_next(b);
		CHECK_EQ(b, want[i]);
	}
	CHECK_EQ(rl_backoff_next(2600), 5000);
	CHECK_EQ(rl_backoff_next(40), 100);
}

RIOV_TEST(credits_hello_and_window)
{
	struct rl_credits a, b;   /* the two sides of one connection, window 8 each */
	rl_credits_init(&a, 8);
	rl_credits_init(&b, 8);
	CHECK_EQ(a.threshold, 4);
	rl_credits_posted(&a, 8);
	rl_credits_posted(&b, 8);
	/* each sends its HELLO before it has the other's */
	uint16_t ha = rl_credits_take(&a), hb = rl_credits_take(&b);
	CHECK_EQ(ha, 8);
	CHECK_EQ(a.peer, -1);
	CHECK(!rl_credits_can_data(&a));
	CHECK_EQ(rl_credits_on_recv(&a, hb), 0);
	CHECK_EQ(rl_credits_on_recv(&b, ha), 0);
	CHECK_EQ(a.peer, 7);     /* 8 granted, one used by a's own HELLO */
	/* a sends DATA until it keeps only one back for CREDIT */
	unsigned sent = 0;
	while (rl_credits_can_data(&a)) {
		CHECK_EQ(rl_credits_take(&a), 0);
		CHECK_EQ(rl_credits_on_recv(&b, 0), 0);
		sent++;
	}
	CHECK_EQ(sent, 6);
	CHECK_EQ(a.peer, 1);
	/* b has taken 7 messages (HELLO + 6): the 8th is allowed, a 9th is over the window */
	struct rl_credits b2 = b;
	CHECK_EQ(rl_credits_on_recv(&b2, 0), 0);
	CHECK_EQ(rl_credits_on_recv(&b2, 0), -EPROTO);
	/* b reposts the buffers: a CREDIT is due at the threshold */
	rl_credits_posted(&b, 3);
	CHECK(!rl_credits_due(&b));
	rl_credits_posted(&b, 4);
	CHECK(rl_credits_due(&b));
	uint16_t g = rl_credits_take(&b);
	CHECK_EQ(g, 7);
	CHECK_EQ(rl_credits_on_recv(&a, g), 0);
	CHECK_EQ(a.peer, 8);
	CHECK(rl_credits_can_data(&a));
	/* credits in one message are 16 bits: the rest waits for the next */
	rl_credits_posted(&b, 70000);
	CHECK_EQ(rl_credits_take(&b), 0xffff);
	CHECK_EQ(b.pending, 70000 - 0xffff);
	/* with no credit at all not even a CREDIT goes */
	struct rl_credits z;
	rl_credits_init(&z, 1);
	z.pending = 5;
	CHECK(!rl_credits_due(&z));
	CHECK_EQ(z.threshold, 1);
}

/* A DATA message of n frames (lens[i], seed i, VNI 100 + i) written into buf; info filled. */
static void make_msg(uint8_t *buf, uint32_t cap, const uint32_t *lens, unsigned n, struct riov_rdma_msg_info *info)
{
	static uint8_t tmp[70000];
	struct riov_rdma_msg_builder b;
	riov_rdma_msg_init(&b, buf, cap);
	for (unsigned i = 0; i < n; i++) {
		fill(tmp, lens[i], i);
		CHECK_EQ(riov_rdma_msg_add_frame(&b, 100 + i, tmp, lens[i]), 0);
	}
	uint32_t len = riov_rdma_msg_finish(&b, 3);
	CHECK_EQ(riov_rdma_msg_parse(buf, len, info), RIOV_RDMA_MSG_OK);
}

static unsigned ring_count(struct rl_rxpool *p, uint32_t *first)
{
	unsigned n = 0;
	int64_t idx;
	while ((idx = rl_rxpool_returned(p)) >= 0) {
		if (n == 0)
			*first = (uint32_t)idx;
		n++;
	}
	return n;
}

RIOV_TEST(rx_frames_attached_freed_in_any_order)
{
	static const unsigned orders[][3] = { { 0, 1, 2 }, { 2, 1, 0 }, { 1, 2, 0 }, { 2, 0, 1 } };
	const uint32_t lens[3] = { 60, 1514, 64 };
	struct rl_rxpool *p = rl_rxpool_create(4, 4096, SOCKET_ID_ANY);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	for (unsigned o = 0; o < RTE_DIM(orders); o++) {
		for (int before_finish = 0; before_finish < 2; before_finish++) {
			const uint32_t idx = 1 + o % 3;
			struct riov_rdma_msg_info info;
			struct rl_rxmsg m;
			struct rl_rxwalk w;
			struct rte_mbuf *out[4];
			uint32_t vni[4];
			memset(&w, 0, sizeof(w));
			w.close = RIOV_RDMA_DROP__MAX;
			make_msg(rl_rxbuf_addr(p, idx), 4096, lens, 3, &info);
			rl_rxmsg_start(p, &m, idx, &info);
			CHECK_EQ(p->state[idx], RL_BUF_OUT);
			/* two calls: the message is handed out across polls */
			uint16_t n = rl_rxmsg_walk(p, &m, attach_pool, out, vni, 2, &w);
			CHECK_EQ(n, 2);
			CHECK(m.active);
			n += rl_rxmsg_walk(p, &m, attach_pool, out + 2, vni + 2, 2, &w);
			CHECK_EQ(n, 3);
			CHECK(!m.active);
			CHECK_EQ(w.frames, 3);
			CHECK_EQ(w.close, RIOV_RDMA_DROP__MAX);
			for (unsigned i = 0; i < 3; i++) {
				CHECK_EQ(out[i]->pkt_len, lens[i]);
				CHECK_EQ(out[i]->nb_segs, 1);
				CHECK_EQ(vni[i], 100 + i);
				CHECK(RTE_MBUF_HAS_EXTBUF(out[i]));
				/* the frame where it lies in the buffer: no copy, 4-byte aligned */
				const uint8_t *d = rte_pktmbuf_mtod(out[i], const uint8_t *);
				CHECK(d > rl_rxbuf_addr(p, idx) && d < rl_rxbuf_addr(p, idx) + 4096);
				CHECK_EQ((uintptr_t)d % 4, 0);
				CHECK(same(d, lens[i], i));
			}
			const uint64_t ret0 = atomic_load(&p->returned);
			uint32_t first = UINT32_MAX;
			if (before_finish) {
				/* every frame freed while the link still walks: the link's finish gives it back */
				for (unsigned i = 0; i < 3; i++)
					rte_pktmbuf_free(out[orders[o][i]]);
				CHECK_EQ(ring_count(p, &first), 0);
				CHECK(rl_rxmsg_finish(p, &m));
				CHECK_EQ(ring_count(p, &first), 0);
				CHECK_EQ(atomic_load(&p->returned), ret0);
			} else {
				CHECK(!rl_rxmsg_finish(p, &m));
				for (unsigned i = 0; i < 3; i++) {
					CHECK_EQ(ring_count(p, &first), 0);  /* not before the last */
					rte_pktmbuf_free(out[orders[o][i]]);
				}
				CHECK_EQ(ring_count(p, &first), 1);       /* exactly once */
				CHECK_EQ(first, idx);
				CHECK_EQ(atomic_load(&p->returned), ret0 + 1);
			}
			CHECK_EQ(atomic_load(&p->refs), 1);
			CHECK(pools_full());
		}
	}
	rl_rxpool_put(p);
}

RIOV_TEST(rx_message_of_dropped_frames_and_nombuf)
{
	struct rl_rxpool *p = rl_rxpool_create(2, 4096, SOCKET_ID_ANY);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	const uint32_t lens[2] = { 100, 200 };
	struct riov_rdma_msg_info info;
	struct rl_rxmsg m;
	struct rl_rxwalk w;
	struct rte_mbuf *out[4];
	uint32_t vni[4];
	make_msg(rl_rxbuf_addr(p, 0), 4096, lens, 2, &info);
	/* unknown flag bits on both records: dropped with their cause, no mbuf */
	rl_rxbuf_addr(p, 0)[16] = 0x80;
	rl_rxbuf_addr(p, 0)[16 + 8 + 100] = 0x02;
	memset(&w, 0, sizeof(w));
	w.close = RIOV_RDMA_DROP__MAX;
	rl_rxmsg_start(p, &m, 0, &info);
	CHECK_EQ(rl_rxmsg_walk(p, &m, attach_pool, out, vni, 4, &w), 0);
	CHECK_EQ(w.drops[RIOV_RDMA_DROP_FRAME_FLAGS], 2);
	CHECK(rl_rxmsg_finish(p, &m));
	CHECK_EQ(p->state[0], RL_BUF_FREE);

	/* a record that overruns the message: the frames before it are delivered, then CLOSE */
	const uint32_t lens3[3] = { 64, 64, 64 };
	make_msg(rl_rxbuf_addr(p, 1), 4096, lens3, 3, &info);
	uint8_t *rec3 = rl_rxbuf_addr(p, 1) + 16 + 2 * (8 + 64);
	rec3[4] = 0x10;   /* frame length 0x10000040: past the end */
	memset(&w, 0, sizeof(w));
	w.close = RIOV_RDMA_DROP__MAX;
	rl_rxmsg_start(p, &m, 1, &info);
	CHECK_EQ(rl_rxmsg_walk(p, &m, attach_pool, out, vni, 4, &w), 2);
	CHECK_EQ(w.close, RIOV_RDMA_DROP_FRAME_OVERRUN);
	CHECK(!rl_rxmsg_finish(p, &m));
	rte_pktmbuf_free(out[1]);
	rte_pktmbuf_free(out[0]);
	uint32_t first = 0;
	CHECK_EQ(ring_count(p, &first), 1);
	CHECK_EQ(first, 1);

	/* the mbuf pool runs dry: frames counted as nombuf, the buffer still comes back once */
	struct rte_mbuf *hog[ATTACH_N];
	unsigned nh = 0;
	while (nh < ATTACH_N - 1 && (hog[nh] = rte_pktmbuf_alloc(attach_pool)) != NULL)
		nh++;
	make_msg(rl_rxbuf_addr(p, 0), 4096, lens3, 3, &info);
	memset(&w, 0, sizeof(w));
	w.close = RIOV_RDMA_DROP__MAX;
	rl_rxmsg_start(p, &m, 0, &info);
	CHECK_EQ(rl_rxmsg_walk(p, &m, attach_pool, out, vni, 4, &w), 1);
	CHECK_EQ(w.nombuf, 2);
	CHECK(!rl_rxmsg_finish(p, &m));
	rte_pktmbuf_free(out[0]);
	CHECK_EQ(ring_count(p, &first), 1);
	for (unsigned i = 0; i < nh; i++)
		rte_pktmbuf_free(hog[i]);
	CHECK(pools_full());
	rl_rxpool_put(p);
}

RIOV_TEST(rx_long_frame_is_two_mbufs_and_pool_outlives_owner)
{
	const uint32_t big = RIOV_RDMA_FRAME_MAX;   /* 65553: over an mbuf's 16-bit length */
	const uint32_t bufsz = RTE_ALIGN_CEIL(big + 24 + 8, 64);
	struct rl_rxpool *p = rl_rxpool_create(1, bufsz, SOCKET_ID_ANY);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	struct riov_rdma_msg_info info;
	struct rl_rxmsg m;
	struct rl_rxwalk w;
	struct rte_mbuf *out[2];
	uint32_t vni[2];
	make_msg(rl_rxbuf_addr(p, 0), bufsz, &big, 1, &info);
	memset(&w, 0, sizeof(w));
	w.close = RIOV_RDMA_DROP__MAX;
	rl_rxmsg_start(p, &m, 0, &info);
	CHECK_EQ(rl_rxmsg_walk(p, &m, attach_pool, out, vni, 2, &w), 1);
	CHECK_EQ(out[0]->pkt_len, big);
	CHECK_EQ(out[0]->nb_segs, 2);
	CHECK_EQ(out[0]->data_len + out[0]->next->data_len, big);
	CHECK(rte_pktmbuf_mtod(out[0], uint8_t *) + out[0]->data_len == rte_pktmbuf_mtod(out[0]->next, uint8_t *));
	CHECK(same(rte_pktmbuf_mtod(out[0], uint8_t *), big, 0));
	CHECK(!rl_rxmsg_finish(p, &m));
	/* the link goes away while the frame is out: the memory stays until the frame is freed */
	rl_rxpool_put(p);
	CHECK(same(rte_pktmbuf_mtod(out[0], uint8_t *), big, 0));
	rte_pktmbuf_free(out[0]);   /* the last reference: the pool is freed (ASan sees a leak or a UAF) */
	CHECK(pools_full());
}

/* Parse a finished message and compare its frames with what was packed. */
static void check_msg(const uint8_t *buf, uint32_t len, const uint32_t *lens, const unsigned *seeds, unsigned n)
{
	struct riov_rdma_msg_info info;
	struct riov_rdma_msg_iter it;
	struct riov_rdma_frame f;
	CHECK_EQ(riov_rdma_msg_parse(buf, len, &info), RIOV_RDMA_MSG_OK);
	CHECK_EQ(info.nframes, n);
	riov_rdma_msg_iter_init(&it, buf, &info);
	for (unsigned i = 0; i < n; i++) {
		CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
		CHECK_EQ(f.len, lens[i]);
		CHECK_EQ(f.vni, 0x123456 - i);
		CHECK(f.data != NULL && same(f.data, lens[i], seeds[i]));
	}
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);
}

RIOV_TEST(tx_pack_chains)
{
	static uint8_t buf[RIOV_RDMA_MSG_MIN];
	struct riov_rdma_msg_builder b;
	const uint32_t cap = RIOV_RDMA_MSG_MIN;   /* 2048: one 2024-byte frame at most */
	const uint32_t max = riov_rdma_msg_frame_max(cap);
	CHECK_EQ(max, 2024);

	/* one segment, three segments (20 + 30 + 14), seven of 300 */
	struct rte_mbuf *a = chain(64, 2000, 1), *c3 = chain(64, 20, 2), *c7 = chain(1514, 300, 3);
	CHECK(a != NULL && c3 != NULL && c7 != NULL);
	if (a == NULL || c3 == NULL || c7 == NULL)
		return;
	CHECK_EQ(c3->nb_segs, 4);
	CHECK_EQ(c7->nb_segs, 6);
	riov_rdma_msg_init(&b, buf, cap);
	CHECK_EQ(rl_pack_frame(&b, a, 0x123456), 0);
	CHECK_EQ(rl_pack_frame(&b, c3, 0x123455), 0);
	CHECK_EQ(rl_pack_frame(&b, c7, 0x123454), 0);
	const uint32_t lens[3] = { 64, 64, 1514 };
	const unsigned seeds[3] = { 1, 2, 3 };
	check_msg(buf, riov_rdma_msg_finish(&b, 0), lens, seeds, 3);
	rte_pktmbuf_free(a);
	rte_pktmbuf_free(c3);
	rte_pktmbuf_free(c7);

	/* exactly the limit, in segments; then no room for even the smallest frame */
	struct rte_mbuf *full = chain(max, 1000, 4), *small = chain(64, 64, 5);
	riov_rdma_msg_init(&b, buf, cap);
	CHECK_EQ(rl_pack_frame(&b, full, 0x123456), 0);
	CHECK_EQ(b.off, cap);
	CHECK_EQ(rl_pack_frame(&b, small, 0x123455), -ENOSPC);
	const uint32_t lf = max;
	const unsigned sf = 4;
	check_msg(buf, riov_rdma_msg_finish(&b, 0), &lf, &sf, 1);
	rte_pktmbuf_free(full);

	/* one byte over: no message of this size takes it; nothing changes */
	struct rte_mbuf *over = chain(max + 1, 1000, 6);
	riov_rdma_msg_init(&b, buf, cap);
	CHECK_EQ(rl_pack_frame(&b, over, 0x123456), -EINVAL);
	CHECK_EQ(b.off, RIOV_RDMA_HDR_LEN);
	CHECK_EQ(b.nframes, 0);
	/* a chain whose segments do not add up to its pkt_len */
	small->pkt_len = 65;
	CHECK_EQ(rl_pack_frame(&b, small, 0x123456), -EINVAL);
	small->pkt_len = 64;
	/* shorter than an Ethernet header, and a VNI over 24 bits */
	struct rte_mbuf *runt = chain(10, 10, 7);
	CHECK_EQ(rl_pack_frame(&b, runt, 1), -EINVAL);
	CHECK_EQ(rl_pack_frame(&b, small, 0x1000000), -EINVAL);
	CHECK_EQ(b.nframes, 0);
	CHECK_EQ(rl_pack_frame(&b, small, 0x123456), 0);
	rte_pktmbuf_free(over);
	rte_pktmbuf_free(small);
	rte_pktmbuf_free(runt);
	CHECK(pools_full());
}

/* A TCP/IPv4 frame of len bytes (Ethernet, IPv4 without options, TCP without options, payload of
 * the fill pattern) in one mbuf from the direct pool: the kind of frame a guest hands over for
 * TSO (IP length of the whole, checksums left for the device). */
static struct rte_mbuf *tcp4_frame(uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(direct_pool);
	if (m == NULL || rte_pktmbuf_tailroom(m) < len)
		return NULL;
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, len);
	if (d == NULL || len < 54) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(d, 0, 54);
	memcpy(d, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
	d[14] = 0x45;
	d[16] = (uint8_t)((len - 14) >> 8);
	d[17] = (uint8_t)(len - 14);
	d[22] = 64;
	d[23] = 6;
	memcpy(d + 26, "\x0a\0\0\x01\x0a\0\0\x02", 8);
	d[46] = 5 << 4;   /* data offset */
	d[47] = 0x18;     /* ACK PSH */
	fill(d + 54, len - 54, 9);
	return m;
}

/* Offload metadata crosses the link: a TSO frame packed with its metadata comes out of the
 * receive walk as an mbuf with the same metadata (validated again: a block that disagrees with
 * the frame drops it as bad_offload), a frame without metadata comes out without. */
RIOV_TEST(offload_metadata_crosses)
{
	struct rl_rxpool *p = rl_rxpool_create(2, RIOV_RDMA_MSG_DEFAULT, SOCKET_ID_ANY);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	/* a big frame needs a bigger mbuf than the test pools give: 1,800 bytes suffice here */
	struct rte_mbuf *tso = tcp4_frame(1800), *plain = tcp4_frame(200);
	CHECK(tso != NULL && plain != NULL);
	if (tso == NULL || plain == NULL)
		return;
	const struct riov_virtio_net_hdr vh = {
		.flags = RIOV_VNET_HDR_F_NEEDS_CSUM, .gso_type = RIOV_VNET_GSO_TCPV4,
		.hdr_len = rte_cpu_to_le_16(54), .gso_size = rte_cpu_to_le_16(500),
		.csum_start = rte_cpu_to_le_16(34), .csum_offset = rte_cpu_to_le_16(16),
	};
	CHECK_EQ(riov_ol_from_vnet_hdr(tso, &vh, RL_OL_ALL), 0);
	CHECK(tso->ol_flags & RTE_MBUF_F_TX_TCP_SEG);

	for (unsigned round = 0; round < 2; round++) {
		struct riov_rdma_msg_builder b;
		struct riov_rdma_msg_info info;
		struct rl_rxmsg m;
		struct rl_rxwalk w;
		struct rte_mbuf *out[4];
		uint32_t vni[4];
		riov_rdma_msg_init(&b, rl_rxbuf_addr(p, round), RIOV_RDMA_MSG_DEFAULT);
		CHECK_EQ(rl_pack_frame(&b, tso, 42), 0);
		CHECK_EQ(rl_pack_frame(&b, plain, 43), 0);
		uint32_t len = riov_rdma_msg_finish(&b, 1);
		CHECK_EQ(len, 16 + riov_rdma_record_len_ol(1800) + riov_rdma_record_len(200));
		if (round == 1)   /* the block says TCPV6 for an IPv4 frame */
			rl_rxbuf_addr(p, round)[16 + 8 + 1] = RIOV_VNET_GSO_TCPV6;
		CHECK_EQ(riov_rdma_msg_parse(rl_rxbuf_addr(p, round), len, &info), RIOV_RDMA_MSG_OK);
		memset(&w, 0, sizeof(w));
		w.close = RIOV_RDMA_DROP__MAX;
		rl_rxmsg_start(p, &m, round, &info);
		uint16_t n = rl_rxmsg_walk(p, &m, attach_pool, out, vni, 4, &w);
		CHECK(rl_rxmsg_finish(p, &m) == false || n == 0);
		if (round == 0) {
			CHECK_EQ(n, 2);
			CHECK_EQ(w.drops[RIOV_RDMA_DROP_BAD_OFFLOAD], 0);
			CHECK_EQ(vni[0], 42);
			CHECK_EQ(out[0]->pkt_len, 1800);
			CHECK_EQ(out[0]->ol_flags & RIOV_OL_MBUF_FLAGS, tso->ol_flags & RIOV_OL_MBUF_FLAGS);
			CHECK_EQ(out[0]->tso_segsz, 500);
			CHECK(out[0]->l2_len == 14 && out[0]->l3_len == 20 && out[0]->l4_len == 20);
			CHECK_EQ(out[1]->ol_flags & RIOV_OL_MBUF_FLAGS, 0);
			CHECK_EQ(vni[1], 43);
			/* the receiving node cuts it where it must: 1746 payload bytes in 500s */
			struct rte_mbuf *seg[8];
			int ns = riov_ol_segment(out[0], 1500, direct_pool, attach_pool, seg, 8);
			CHECK_EQ(ns, 4);
			for (int k = 0; k < ns; k++) {
				CHECK_EQ(seg[k]->pkt_len, 54u + (k < 3 ? 500u : 246u));
				rte_pktmbuf_free(seg[k]);
			}
		} else {
			CHECK_EQ(n, 1);   /* the plain frame only */
			CHECK_EQ(w.drops[RIOV_RDMA_DROP_BAD_OFFLOAD], 1);
			CHECK_EQ(vni[0], 43);
		}
		rte_pktmbuf_free_bulk(out, n);
		uint32_t first;
		CHECK_EQ(ring_count(p, &first), 1);
	}
	rte_pktmbuf_free(tso);
	rte_pktmbuf_free(plain);
	CHECK(pools_full());
	rl_rxpool_put(p);
}

int main(void)
{
	static const struct riov_test_case cases[] = {
		RIOV_TEST_ENTRY(backoff_schedule),
		RIOV_TEST_ENTRY(credits_hello_and_window),
		RIOV_TEST_ENTRY(rx_frames_attached_freed_in_any_order),
		RIOV_TEST_ENTRY(rx_message_of_dropped_frames_and_nombuf),
		RIOV_TEST_ENTRY(offload_metadata_crosses),
		RIOV_TEST_ENTRY(rx_long_frame_is_two_mbufs_and_pool_outlives_owner),
		RIOV_TEST_ENTRY(tx_pack_chains),
	};

	riov_log_set_level(RIOV_LOG_WARN);
	/* the direct pool's mbufs carry frames; the attach pool's have no data room of their own */
	if (riov_fuzz_eal_pools("trdmal", DIRECT_N, ATTACH_N, &direct_pool, &attach_pool) != 0) {
		fprintf(stderr, "EAL or mbuf pools unavailable\n");
		return 1;
	}
	int rc = riov_test_run(cases, RTE_DIM(cases));
	rte_mempool_free(direct_pool);
	rte_mempool_free(attach_pool);
	rte_eal_cleanup();
	return rc;
}
