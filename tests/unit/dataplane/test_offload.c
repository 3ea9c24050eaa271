/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/offload.c: the header validation (every refusal with its code), the
 * software checksums and segmentation (TCP over IPv4 through DPDK's GSO, TCP over IPv6 through
 * riov's own code), the egress plan and the receiver's header. Frames are built here the way a
 * Linux guest sends them (with a garbage partial sum in the checksum field: riov must not need it).
 * Checksums are checked with the RFC 1071 sums of the fuzz harness (tests/fuzz/fuzz_offload.c,
 * built in: fo_ip4_ok(), fo_l4_ok(), fo_check_segments()), written from the RFC, not DPDK's and
 * not riov's; the harness's pools (no cache) serve the mbufs, and every test ends with both pools
 * full again. The corpus in tests/fuzz/corpus/offload (argv[1]) is replayed as a test too.
 */
#include "dataplane/offload.c"
#include "tests/fuzz/fuzz_offload.c"

#include <dirent.h>

#include "riov_test.h"
#include "tests/eal_rundir.h"

#define ALL_OL (RIOV_OL_CSUM | RIOV_OL_TSO4 | RIOV_OL_TSO6 | RIOV_OL_ECN)
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80
#define SEQ0 0xffffff00u        /* sequence numbers wrap inside a 64 KB frame */
#define ID0 0xfff0u             /* and so do IPv4 IDs */

static const char *corpus_dir = "tests/fuzz/corpus/offload";
static uint8_t frame_buf[RIOV_OL_MAX_FRAME + 64];

/* A frame as a guest builds it. */
struct tf {
	bool v6, vlan;
	uint8_t ip_opt, tcp_opt;    /* option bytes, multiples of 4 */
	uint8_t proto;              /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t tcp_flags;
	uint32_t payload;
	uint16_t gso_size;          /* 0: NEEDS_CSUM without GSO */
};

static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v & 0xffff);
}

/* L4 header at p: TCP (options NOP NOP timestamp, then NOPs) or UDP, checksum field garbage. */
static void tf_l4(const struct tf *t, uint8_t *p, uint32_t l4, uint32_t l4_bytes)
{
	wr16(p, 40000);
	wr16(p + 2, 5201);
	if (t->proto == IPPROTO_UDP) {
		wr16(p + 4, l4_bytes);
		wr16(p + 6, 0xdead);
		return;
	}
	wr32(p + 4, SEQ0);
	wr32(p + 8, 0x01020304);
	p[12] = (uint8_t)(l4 / 4 << 4);
	p[13] = t->tcp_flags;
	wr16(p + 14, 0xfaf0);
	wr16(p + 16, 0xdead);
	wr16(p + 18, 0);
	memset(p + 20, 1, t->tcp_opt);
	if (t->tcp_opt >= 12) {
		p[22] = 8;
		p[23] = 10;
		wr32(p + 24, 0x11223344);
		wr32(p + 28, 0x55667788);
	}
}

/* Build t into f (returns the frame's length) and the header a Linux guest sends with it. */
static uint32_t tf_build(const struct tf *t, uint8_t *f, struct riov_virtio_net_hdr *h)
{
	const uint32_t l2 = t->vlan ? 18 : 14, l3 = t->v6 ? 40 : 20u + t->ip_opt;
	const uint32_t l4 = t->proto == IPPROTO_UDP ? 8 : 20u + t->tcp_opt;
	const uint32_t len = l2 + l3 + l4 + t->payload;
	uint8_t *ip = f + l2;

	memset(f, 0, l2 + l3);
	memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01", 12);
	if (t->vlan) {
		wr16(f + 12, 0x8100);
		wr16(f + 14, 0x0064);
	}
	wr16(f + l2 - 2, t->v6 ? 0x86dd : 0x0800);
	if (t->v6) {
		memcpy(ip, "\x60\0\0\x01", 4);
		wr16(ip + 4, l4 + t->payload);
		ip[6] = t->proto;
		ip[7] = 64;
		ip[8] = ip[24] = 0xfd;
		ip[23] = 1;
		ip[39] = 2;
	} else {
		ip[0] = (uint8_t)(0x40 | l3 / 4);
		ip[1] = 0x02;
		wr16(ip + 2, l3 + l4 + t->payload);
		wr16(ip + 4, ID0);
		wr16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = t->proto;
		wr32(ip + 12, 0x0a000001);
		wr32(ip + 16, 0x0a000002);
		memset(ip + 20, 1, t->ip_opt);
		wr16(ip + 10, (uint16_t)~fo_fold(fo_sum(0, ip, l3)));
	}
	tf_l4(t, ip + l3, l4, l4 + t->payload);
	for (uint32_t i = 0; i < t->payload; i++)
		f[l2 + l3 + l4 + i] = (uint8_t)(i * 131 + 7);
	memset(h, 0, sizeof(*h));
	h->flags = RIOV_VNET_HDR_F_NEEDS_CSUM;
	h->csum_start = (uint16_t)(l2 + l3);
	h->csum_offset = t->proto == IPPROTO_UDP ? 6 : 16;
	if (t->gso_size) {
		h->gso_type = t->v6 ? RIOV_VNET_GSO_TCPV6 : RIOV_VNET_GSO_TCPV4;
		h->gso_size = t->gso_size;
		h->hdr_len = (uint16_t)(l2 + l3 + l4);
	}
	return len;
}

/* The frame as a chain: first mbufs of the sizes in split[] (0-terminated list of at most 7),
 * then whole 2 KB buffers. */
static struct rte_mbuf *tf_mbuf(const uint8_t *f, uint32_t len, const uint16_t *split)
{
	uint8_t sp[14] = { 0 };
	unsigned n = 0;
	for (; split != NULL && split[n] != 0 && n < 7; n++) {
		sp[2 * n] = (uint8_t)split[n];
		sp[2 * n + 1] = (uint8_t)(split[n] >> 8);
	}
	struct rte_mbuf *m = fo_chain(f, len, sp, n);
	CHECK(m != NULL);
	return m;
}

static void pools_full(void)
{
	CHECK_EQ(rte_mempool_avail_count(fo.direct), FO_DIRECT_N);
	CHECK_EQ(rte_mempool_avail_count(fo.indirect), FO_INDIRECT_N);
}

/* ---------------- checksums ---------------- */

/* NEEDS_CSUM without GSO: metadata, then the checksum filled in over multi-segment chains with
 * odd segment lengths, every other byte unchanged, checked by the independent sum. */
static void csum_case(const struct tf *t, const uint16_t *split, uint32_t pad)
{
	struct riov_virtio_net_hdr h;
	uint32_t len = tf_build(t, frame_buf, &h);
	memset(frame_buf + len, 0xee, pad);             /* Ethernet padding: not summed */
	len += pad;
	struct rte_mbuf *m = tf_mbuf(frame_buf, len, split);
	const uint32_t l2 = t->vlan ? 18 : 14, l3 = t->v6 ? 40 : 20u + t->ip_opt;

	CHECK_EQ(riov_ol_from_vnet_hdr(m, &h, RIOV_OL_CSUM), 0);
	CHECK_EQ(m->l2_len, l2);
	CHECK_EQ(m->l3_len, l3);
	CHECK_EQ(m->l4_len, t->proto == IPPROTO_UDP ? 8 : 20u + t->tcp_opt);
	CHECK_EQ(m->ol_flags & OL_TX_BITS,
		 (t->v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4) |
		 (t->proto == IPPROTO_UDP ? RTE_MBUF_F_TX_UDP_CKSUM : RTE_MBUF_F_TX_TCP_CKSUM));
	CHECK_EQ(riov_ol_plan(m, 0, 9000), RIOV_OL_PLAN_CSUM);
	CHECK_EQ(riov_ol_plan(m, RIOV_OL_CSUM, 9000), RIOV_OL_PLAN_WHOLE);
	CHECK(!fo_l4_ok(frame_buf + l2, t->v6, l3, len - l2 - pad));   /* garbage before */
	fo_check_csum(m, frame_buf, len);       /* aborts on a wrong sum or a changed byte */
	CHECK_EQ(m->ol_flags & OL_TX_BITS, 0);
	CHECK_EQ(riov_ol_csum(m), 0);           /* nothing left to do */
	rte_pktmbuf_free(m);
}

RIOV_TEST(csum_tcp_udp_v4_v6)
{
	static const uint16_t odd[] = { 91, 3, 1, 501, 1201, 0 };
	static const uint16_t even[] = { 100, 0 };
	for (unsigned k = 0; k < 16; k++) {
		struct tf t = { .v6 = k & 1, .vlan = k & 2, .tcp_opt = 12, .ip_opt = k & 8 ? 8 : 0,
				.proto = k & 4 ? IPPROTO_UDP : IPPROTO_TCP, .tcp_flags = TCP_ACK,
				.payload = 5000 + k };
		csum_case(&t, (k & 8) ? even : odd, 0);
		t.payload = 1 + k;
		csum_case(&t, NULL, 0);
	}
	pools_full();
}

RIOV_TEST(csum_padding_not_summed)
{
	struct tf u = { .proto = IPPROTO_UDP, .payload = 4 };  /* 46 bytes, padded to 60 */
	csum_case(&u, NULL, 14);
	struct tf t = { .v6 = true, .proto = IPPROTO_TCP, .payload = 0, .tcp_flags = TCP_ACK };
	csum_case(&t, NULL, 6);
	pools_full();
}

/* A UDP checksum that sums to 0 is sent as 0xffff (RFC 768); UDP over IPv6 with 0 payload. */
RIOV_TEST(csum_udp_zero_is_ffff)
{
	struct riov_virtio_net_hdr h;
	struct tf u = { .proto = IPPROTO_UDP, .payload = 2 };
	uint32_t len = tf_build(&u, frame_buf, &h);
	/* choose the two payload bytes so that the whole sum is 0xffff with a 0 field: the
	 * checksum then computes to 0 */
	frame_buf[len - 2] = frame_buf[len - 1] = 0;
	wr16(frame_buf + 40, 0);
	uint32_t sum = fo_sum(17 + 10, frame_buf + 26, 8);        /* pseudo-header */
	uint16_t need = (uint16_t)~fo_fold(fo_sum(sum, frame_buf + 34, 10));
	wr16(frame_buf + len - 2, need);
	struct rte_mbuf *m = tf_mbuf(frame_buf, len, NULL);
	CHECK_EQ(riov_ol_from_vnet_hdr(m, &h, RIOV_OL_CSUM), 0);
	CHECK_EQ(riov_ol_csum(m), 0);
	CHECK_EQ(fo_rd16(rte_pktmbuf_mtod_offset(m, uint8_t *, 40)), 0xffff);
	CHECK(fo_l4_ok(rte_pktmbuf_mtod_offset(m, uint8_t *, 14), false, 20, 30));
	rte_pktmbuf_free(m);
	pools_full();
}

RIOV_TEST(csum_refusals)
{
	struct riov_virtio_net_hdr h;
	struct tf t = { .proto = IPPROTO_TCP, .payload = 100, .gso_size = 40 };
	uint32_t len = tf_build(&t, frame_buf, &h);
	struct rte_mbuf *m = tf_mbuf(frame_buf, len, NULL);

	CHECK_EQ(riov_ol_from_vnet_hdr(m, &h, ALL_OL), 0);
	CHECK_EQ(riov_ol_csum(m), -RIOV_OL_E_IS_TSO);
	m->ol_flags &= ~(RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IP_CKSUM);
	struct rte_mbuf *c = rte_pktmbuf_clone(m, fo.indirect);
	CHECK(c != NULL);
	CHECK_EQ(riov_ol_csum(m), -RIOV_OL_E_SHARED);   /* the clone reads the same data */
	rte_pktmbuf_free(c);
	m->l3_len = 24;
	CHECK_EQ(riov_ol_csum(m), -RIOV_OL_E_META);
	m->l3_len = 20;
	m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_TX_L4_MASK) | RTE_MBUF_F_TX_UDP_CKSUM;
	CHECK_EQ(riov_ol_csum(m), -RIOV_OL_E_META);     /* the frame is TCP */
	m->ol_flags |= RTE_MBUF_F_TX_IPV6;
	CHECK_EQ(riov_ol_csum(m), -RIOV_OL_E_META);     /* both IP versions */
	CHECK(memcmp(rte_pktmbuf_mtod(m, uint8_t *), frame_buf, 54) == 0);
	rte_pktmbuf_free(m);
	pools_full();
}

/* ---------------- segmentation ---------------- */

struct seg_result {
	int n;
	uint32_t first_pay, last_pay;
	uint8_t flags[3];   /* TCP flags of the first, a middle and the last segment */
	uint32_t max_l3;
};

/* Validate t's frame (chain as split), segment it for mtu with out[] of nb_out, check every
 * segment with the independent checks, free everything. */
static struct seg_result seg_run(const struct tf *t, uint16_t mtu, const uint16_t *split,
				 uint16_t nb_out)
{
	static struct rte_mbuf *out[FO_OUT];
	struct riov_virtio_net_hdr h;
	struct seg_result r = { 0 };
	const uint32_t len = tf_build(t, frame_buf, &h);
	struct rte_mbuf *m = tf_mbuf(frame_buf, len, split);

	CHECK_EQ(riov_ol_from_vnet_hdr(m, &h, ALL_OL), 0);
	CHECK(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG);
	CHECK_EQ(m->tso_segsz, t->gso_size);
	CHECK_EQ(riov_ol_plan(m, RIOV_OL_CSUM, mtu), RIOV_OL_PLAN_SEGMENT);
	const struct fo_frame f = { .b = frame_buf, .len = len, .l2 = m->l2_len, .l3 = m->l3_len,
				    .l4 = m->l4_len, .v6 = t->v6, .segsz = m->tso_segsz };
	r.n = riov_ol_segment(m, mtu, fo.direct, fo.indirect, out, nb_out);
	CHECK_EQ(r.n, riov_ol_nb_segs(m, mtu));
	CHECK(memcmp(rte_pktmbuf_mtod(m, uint8_t *), frame_buf, f.l2 + f.l3 + f.l4) == 0);
	if (r.n > 0) {
		fo_check_segments(&f, out, (unsigned)r.n, mtu);     /* aborts on a failed check */
		for (int i = 0; i < r.n; i++) {
			const uint8_t *th = rte_pktmbuf_mtod_offset(out[i], uint8_t *, f.l2 + f.l3);
			const uint32_t pay = out[i]->pkt_len - f.l2 - f.l3 - f.l4;
			r.first_pay = i == 0 ? pay : r.first_pay;
			r.last_pay = pay;
			r.flags[i == 0 ? 0 : i + 1 == r.n ? 2 : 1] = th[13];
			r.max_l3 = RTE_MAX(r.max_l3, out[i]->pkt_len - f.l2);
			rte_pktmbuf_free(out[i]);
		}
	}
	rte_pktmbuf_free(m);
	pools_full();
	return r;
}

RIOV_TEST(segment_ipv4)
{
	struct tf t = { .proto = IPPROTO_TCP, .payload = 10000, .gso_size = 1460,
			.tcp_flags = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR };
	struct seg_result r = seg_run(&t, 1500, NULL, FO_OUT);
	CHECK_EQ(r.n, 7);
	CHECK_EQ(r.first_pay, 1460);
	CHECK_EQ(r.last_pay, 10000 - 6 * 1460);         /* the last one short */
	CHECK_EQ(r.flags[0], TCP_ACK | TCP_CWR);
	CHECK_EQ(r.flags[1], TCP_ACK);
	CHECK_EQ(r.flags[2], TCP_ACK | TCP_PSH | TCP_FIN);
	CHECK_EQ(r.max_l3, 1500);
}

RIOV_TEST(segment_ipv4_options_vlan)
{
	struct tf t = { .vlan = true, .ip_opt = 8, .tcp_opt = 12, .proto = IPPROTO_TCP,
			.payload = 7001, .gso_size = 1448, .tcp_flags = TCP_ACK | TCP_PSH };
	struct seg_result r = seg_run(&t, 1500, NULL, FO_OUT);
	/* MTU 1500 leaves 1500 - 28 - 32 = 1440 < gso_size: the MTU decides */
	CHECK_EQ(r.n, 5);
	CHECK_EQ(r.first_pay, 1440);
	CHECK_EQ(r.last_pay, 7001 - 4 * 1440);
	CHECK_EQ(r.flags[0], TCP_ACK);
	CHECK_EQ(r.flags[2], TCP_ACK | TCP_PSH);
	CHECK_EQ(r.max_l3, 1500);
}

RIOV_TEST(segment_ipv6)
{
	struct tf t = { .v6 = true, .proto = IPPROTO_TCP, .payload = 10000, .gso_size = 1440,
			.tcp_flags = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR };
	struct seg_result r = seg_run(&t, 1500, NULL, FO_OUT);
	CHECK_EQ(r.n, 7);
	CHECK_EQ(r.first_pay, 1440);
	CHECK_EQ(r.last_pay, 10000 - 6 * 1440);
	CHECK_EQ(r.flags[0], TCP_ACK | TCP_CWR);
	CHECK_EQ(r.flags[1], TCP_ACK);
	CHECK_EQ(r.flags[2], TCP_ACK | TCP_PSH | TCP_FIN);
	t.tcp_opt = 12;
	t.vlan = true;
	t.gso_size = 1428;
	r = seg_run(&t, 1500, NULL, FO_OUT);
	CHECK_EQ(r.n, 8);
	CHECK_EQ(r.first_pay, 1428);
	CHECK_EQ(r.last_pay, 10000 - 7 * 1428);
	CHECK_EQ(r.max_l3, 1500);
}

/* A sender with MTU 9000 to a receiver with 1500: the segments are cut to the receiver's MTU. */
RIOV_TEST(segment_mtu_below_segsz)
{
	struct tf t = { .proto = IPPROTO_TCP, .payload = 20000, .gso_size = 8960,
			.tcp_flags = TCP_ACK };
	struct seg_result r = seg_run(&t, 1500, NULL, FO_OUT);
	CHECK_EQ(r.n, 14);
	CHECK_EQ(r.first_pay, 1460);
	CHECK_EQ(r.last_pay, 20000 - 13 * 1460);
	t.v6 = true;
	t.tcp_opt = 12;
	r = seg_run(&t, 1280, NULL, FO_OUT);
	CHECK_EQ(r.first_pay, 1280 - 72);
	CHECK_EQ(r.n, (20000 + 1207) / 1208);
	CHECK_EQ(r.max_l3, 1280);
	/* an odd MTU: odd payload pieces, whose checksums start at odd offsets of the chain */
	r = seg_run(&t, 1499, (const uint16_t[]){ 101, 1, 2, 3, 0 }, FO_OUT);
	CHECK_EQ(r.first_pay, 1499 - 72);
}

/* 64 KB frames (IP length 65535) in 2 KB mbufs, and in odd pieces. */
RIOV_TEST(segment_64k_multiseg)
{
	for (unsigned k = 0; k < 4; k++) {
		const bool v6 = k & 1;
		const uint32_t hdrs = (v6 ? 40 : 20) + 32;
		/* IPv4: IP length 65535; IPv6: the largest frame riov takes (RIOV_OL_MAX_FRAME) */
		struct tf t = { .v6 = v6, .tcp_opt = 12, .proto = IPPROTO_TCP,
				.payload = v6 ? RIOV_OL_MAX_FRAME - 14 - hdrs : 65535 - hdrs,
				.gso_size = 1448, .tcp_flags = TCP_ACK | TCP_PSH };
		const uint16_t mtu = k & 2 ? 9000 : 1500;
		const uint32_t unit = RTE_MIN(1448u, mtu - hdrs);
		static const uint16_t odd[] = { 999, 7, 0 };
		struct seg_result r = seg_run(&t, mtu, k & 2 ? odd : NULL, FO_OUT);
		CHECK_EQ(r.n, (t.payload + unit - 1) / unit);
		CHECK_EQ(r.first_pay, unit);
		CHECK_EQ(r.last_pay, t.payload - (r.n - 1) * unit);
		CHECK(r.max_l3 <= mtu);
	}
	/* gso_size near 64 KB behind a 64 KB MTU: a segment's frame (L2 included) must still fit
	 * the 16 bits of rte_gso's segment size, so the first one takes 65535 - 54 bytes */
	struct tf big = { .proto = IPPROTO_TCP, .payload = 65535 - 40, .gso_size = 65490,
			  .tcp_flags = TCP_ACK };
	struct seg_result r = seg_run(&big, 65535, NULL, FO_OUT);
	CHECK_EQ(r.n, 2);
	CHECK_EQ(r.first_pay, 65535 - 54);
	CHECK_EQ(r.last_pay, 65495 - (65535 - 54));
}

/* A frame whose metadata asks for one segment only (e.g. from a coalescer): riov's own splitter
 * for IPv4 too (rte_gso_segment() returns 0 for it); and a guest's GSO frame whose payload fits in
 * one gso_size is only a partial checksum (as Linux takes it). */
RIOV_TEST(segment_one_segment)
{
	static struct rte_mbuf *out[4];
	struct riov_virtio_net_hdr h;
	for (unsigned v6 = 0; v6 < 2; v6++) {
		struct tf t = { .v6 = v6, .proto = IPPROTO_TCP, .payload = 1000, .gso_size = 500,
				.tcp_flags = TCP_ACK | TCP_FIN | TCP_CWR };
		uint32_t len = tf_build(&t, frame_buf, &h);
		struct rte_mbuf *m = tf_mbuf(frame_buf, len, NULL);
		CHECK_EQ(riov_ol_from_vnet_hdr(m, &h, ALL_OL), 0);
		m->tso_segsz = 1000;
		CHECK_EQ(riov_ol_nb_segs(m, 1500), 1);
		CHECK_EQ(riov_ol_segment(m, 1500, fo.direct, fo.indirect, out, 4), 1);
		const struct fo_frame f = { .b = frame_buf, .len = len, .l2 = 14,
					    .l3 = v6 ? 40 : 20, .l4 = 20, .v6 = v6, .segsz = 1000 };
		fo_check_segments(&f, out, 1, 1500);
		CHECK_EQ(rte_pktmbuf_mtod_offset(out[0], uint8_t *, 14 + f.l3)[13],
			 TCP_ACK | TCP_FIN | TCP_CWR);
		rte_pktmbuf_free(out[0]);
		rte_pktmbuf_free(m);
		h.gso_size = 1000;
		m = tf_mbuf(frame_buf, len, NULL);
		CHECK_EQ(riov_ol_from_vnet_hdr(m, &h, ALL_OL), 0);
		CHECK_EQ(m->ol_flags & OL_TX_BITS, (v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4) |
						   RTE_MBUF_F_TX_TCP_CKSUM);
		CHECK_EQ(m->tso_segsz, 0);
		rte_pktmbuf_free(m);
	}
	pools_full();
}

/* Refusals leave nothing allocated and m unchanged: too many segments, MTU, pools. */
static void segment_errors_for(bool v6)
{
	static struct rte_mbuf *out[64];
	struct riov_virtio_net_hdr h;
	struct tf t = { .v6 = v6, .proto = IPPROTO_TCP, .payload = 20000, .gso_size = 1000,
			.tcp_flags = TCP_ACK };
	uint32_t len = tf_build(&t, frame_buf, &h);
	struct rte_mbuf *m = tf_mbuf(frame_buf, len, NULL);
	const uint32_t hdrs = v6 ? 60 : 40;

	CHECK_EQ(riov_ol_from_vnet_hdr(m, &h, ALL_OL), 0);
	const uint64_t flags = m->ol_flags;
	CHECK_EQ(riov_ol_segment(m, 1500, fo.direct, fo.indirect, out, 19), -RIOV_OL_E_TOO_MANY);
	CHECK_EQ(riov_ol_segment(m, (uint16_t)hdrs, fo.direct, fo.indirect, out, 64),
		 -RIOV_OL_E_MTU);
	CHECK_EQ(riov_ol_plan(m, 0, (uint16_t)hdrs), RIOV_OL_PLAN_MTU_EXCEEDED);
	CHECK_EQ(riov_ol_segment(m, 1500, NULL, fo.indirect, out, 64), -RIOV_OL_E_POOL);
	const uint16_t room = RTE_PKTMBUF_HEADROOM + 50;   /* less than the headers */
	struct rte_mempool *small = rte_pktmbuf_pool_create("tol_small", 63, 0, 0, room,
							    SOCKET_ID_ANY);
	struct rte_mempool *few = rte_pktmbuf_pool_create("tol_few", 3, 0, 0,
							  RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	struct rte_mempool *few_i = rte_pktmbuf_pool_create("tol_few_i", 5, 0, 0, 0, SOCKET_ID_ANY);
	CHECK(small != NULL && few != NULL && few_i != NULL);
	CHECK_EQ(riov_ol_segment(m, 1500, small, fo.indirect, out, 64), -RIOV_OL_E_POOL);
	CHECK_EQ(riov_ol_segment(m, 1500, few, fo.indirect, out, 64), -RIOV_OL_E_NO_MBUF);
	CHECK_EQ(riov_ol_segment(m, 1500, fo.direct, few_i, out, 64), -RIOV_OL_E_NO_MBUF);
	CHECK_EQ(rte_mempool_avail_count(few), 3);
	CHECK_EQ(rte_mempool_avail_count(few_i), 5);
	CHECK_EQ(m->ol_flags, flags);
	CHECK_EQ(rte_mbuf_refcnt_read(m), 1);
	rte_mempool_free(small);
	rte_mempool_free(few);
	rte_mempool_free(few_i);
	m->ol_flags &= ~RTE_MBUF_F_TX_TCP_SEG;
	CHECK_EQ(riov_ol_segment(m, 1500, fo.direct, fo.indirect, out, 64), -RIOV_OL_E_NOT_TSO);
	m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
	m->l4_len = 24;
	CHECK_EQ(riov_ol_nb_segs(m, 1500), -RIOV_OL_E_META);
	CHECK(memcmp(rte_pktmbuf_mtod(m, uint8_t *), frame_buf, m->data_len) == 0);
	rte_pktmbuf_free(m);
	pools_full();
}

RIOV_TEST(segment_errors)
{
	segment_errors_for(false);
	segment_errors_for(true);
}

/* ---------------- header validation: the table of bad headers ---------------- */

enum { B_T4, B_T4V, B_T6, B_U4, B_T4C, B_T4E, B__N };

static const struct tf bases[B__N] = {
	[B_T4] = { .proto = IPPROTO_TCP, .payload = 3000, .gso_size = 1000, .tcp_flags = TCP_ACK },
	[B_T4V] = { .vlan = true, .proto = IPPROTO_TCP, .payload = 3000, .gso_size = 1000 },
	[B_T6] = { .v6 = true, .proto = IPPROTO_TCP, .payload = 3000, .gso_size = 1000 },
	[B_U4] = { .proto = IPPROTO_UDP, .payload = 100 },
	[B_T4C] = { .proto = IPPROTO_TCP, .payload = 10 },
	[B_T4E] = { .proto = IPPROTO_TCP, .payload = 0, .gso_size = 1000 },
};

#define REL(x) (-100000 + (x))
#define E(name_) (-RIOV_OL_E_##name_)

enum { S_FLAGS = 1, S_GSO = 2, S_HDRLEN = 4, S_GSOSZ = 8, S_CSTART = 16, S_COFF = 32 };

struct bad_case {
	const char *what;
	uint8_t base;
	unsigned set;           /* S_*: header fields replaced */
	uint8_t flags, gso_type;
	int hdr_len, gso_size, csum_start, csum_offset;    /* REL(x): the frame's length + x */
	unsigned neg_off;       /* RIOV_OL_* bits the guest did not negotiate */
	uint16_t at, at2;       /* frame bytes replaced (0: none) */
	uint8_t val, val2;
	int grow;               /* bytes added to (negative: cut from) the frame's end */
	uint16_t first_seg;     /* the first mbuf's data length (0: a whole buffer) */
	int want;
};

/* T4: IPv4 at 14, TCP at 34 (flags 47, data offset 46); T6: TCP at 54; U4: UDP at 34. */
static const struct bad_case bad_cases[] = {
	{ "flag 4", B_T4, S_FLAGS, .flags = 1 | 4, .want = E(FLAGS) },
	{ "flag 0x80", B_U4, S_FLAGS, .flags = 0x81, .want = E(FLAGS) },
	{ "NEEDS_CSUM, no CSUM", B_U4, .neg_off = RIOV_OL_CSUM, .want = E(CSUM_NOT_NEGOTIATED) },
	{ "gso_type 2", B_T4, S_GSO, .gso_type = 2, .want = E(GSO_TYPE) },
	{ "gso_type 5", B_T4, S_GSO, .gso_type = 5, .want = E(GSO_TYPE) },
	{ "ECN bit alone", B_U4, S_GSO, .gso_type = 0x80, .want = E(GSO_TYPE) },
	{ "gso_type UDP", B_U4, S_GSO | S_GSOSZ, .gso_type = 3, .gso_size = 40,
	  .want = E(GSO_UDP) },
	{ "ECN, no HOST_ECN", B_T4, S_GSO, .gso_type = 0x81, .neg_off = RIOV_OL_ECN,
	  .want = E(ECN_NOT_NEGOTIATED) },
	{ "TSO4, no HOST_TSO4", B_T4, .neg_off = RIOV_OL_TSO4, .want = E(TSO_NOT_NEGOTIATED) },
	{ "TSO6, no HOST_TSO6", B_T6, .neg_off = RIOV_OL_TSO6, .want = E(TSO_NOT_NEGOTIATED) },
	{ "GSO without NEEDS_CSUM", B_T4, S_FLAGS, .flags = 0, .want = E(GSO_NO_CSUM) },
	{ "gso_size 0", B_T4, S_GSOSZ, .gso_size = 0, .want = E(GSO_SIZE) },
	{ "gso_size past IP", B_T4, S_GSOSZ, .gso_size = 65500, .want = E(GSO_SIZE) },
	{ "frame over 64 KB", B_T4, .grow = 65554 - 3054, .want = E(TOO_BIG) },
	{ "hdr_len beyond", B_T4, S_HDRLEN, .hdr_len = REL(1), .want = E(HDR_LEN) },
	{ "csum_start beyond", B_U4, S_CSTART, .csum_start = REL(1), .want = E(CSUM_RANGE) },
	{ "csum_offset beyond", B_T4, S_COFF, .csum_offset = 0xffff, .want = E(CSUM_RANGE) },
	{ "frame ends in IP", B_U4, S_CSTART | S_COFF, .csum_start = 0, .csum_offset = 0,
	  .grow = -122, .want = E(TRUNCATED) },
	{ "TCP past 1st buffer", B_T4, .first_seg = 40, .want = E(HDR_SPLIT) },
	{ "IP past 1st buffer", B_T4, .first_seg = 30, .want = E(HDR_SPLIT) },
	{ "TCP options past", B_T6, .first_seg = 74, .at = 66, .val = 0x60,
	  .want = E(HDR_SPLIT) },
	{ "ARP", B_U4, .at = 13, .val = 0x06, .want = E(NOT_IP) },
	{ "802.1ad", B_T4V, .at = 12, .val = 0x88, .at2 = 13, .val2 = 0xa8, .want = E(NOT_IP) },
	{ "two 802.1Q tags", B_T4V, .at = 16, .val = 0x81, .at2 = 17, .val2 = 0x00,
	  .want = E(NOT_IP) },
	{ "IHL 4", B_T4, .at = 14, .val = 0x44, .want = E(IP_HDR) },
	{ "IPv4 version 5", B_U4, .at = 14, .val = 0x55, .want = E(IP_HDR) },
	{ "IPv6 version 4", B_T6, .at = 14, .val = 0x45, .want = E(IP_HDR) },
	{ "GSO IP length +1", B_T4, .at = 17, .val = (3054 - 14 + 1) & 0xff, .want = E(IP_LEN) },
	{ "GSO IP length -1", B_T4, .at = 17, .val = (3054 - 14 - 1) & 0xff, .want = E(IP_LEN) },
	{ "GSO IPv6 length -1", B_T6, .at = 19, .val = (3000 + 20 - 1) & 0xff,
	  .want = E(IP_LEN) },
	{ "GSO trailing bytes", B_T4, .grow = 4, .want = E(IP_LEN) },
	{ "IP length > frame", B_U4, .at = 17, .val = 129, .want = E(IP_LEN) },
	{ "IP length < IHL", B_U4, .at = 16, .val = 0, .at2 = 17, .val2 = 19, .want = E(IP_LEN) },
	{ "MF", B_T4, .at = 20, .val = 0x60, .want = E(FRAGMENT) },
	{ "fragment offset", B_U4, .at = 21, .val = 1, .want = E(FRAGMENT) },
	{ "IPv6 hop-by-hop", B_T6, .at = 20, .val = 0, .want = E(IPV6_EXT) },
	{ "IPv6 fragment header", B_T6, .at = 20, .val = 44, .want = E(IPV6_EXT) },
	{ "ICMP", B_U4, .at = 23, .val = 1, .want = E(NOT_TCP_UDP) },
	{ "TCPV4 on IPv6", B_T6, S_GSO, .gso_type = 1, .want = E(GSO_FAMILY) },
	{ "TCPV6 on IPv4", B_T4, S_GSO, .gso_type = 4, .want = E(GSO_FAMILY) },
	{ "GSO on UDP", B_T4, .at = 23, .val = 17, .want = E(GSO_NOT_TCP) },
	{ "GSO, no payload", B_T4E, .want = E(GSO_EMPTY) },
	{ "TCP doff 4", B_T4, .at = 46, .val = 0x40, .want = E(TCP_HDR) },
	{ "TCP doff past IP", B_T4C, .at = 46, .val = 0xf0, .want = E(TCP_HDR) },
	{ "UDP length +1", B_U4, .at = 39, .val = 109, .want = E(UDP_LEN) },
	{ "csum_offset 6 on TCP", B_T4, S_COFF, .csum_offset = 6, .want = E(CSUM_FIELD) },
	{ "csum_offset 16 on UDP", B_U4, S_COFF, .csum_offset = 16, .want = E(CSUM_FIELD) },
	{ "csum_start at IP", B_T4, S_CSTART, .csum_start = 14, .want = E(CSUM_FIELD) },
	{ "csum_start, VLAN", B_T4V, S_CSTART, .csum_start = 34, .want = E(CSUM_FIELD) },
	/* accepted */
	{ "hdr_len 0 (a hint)", B_T4, S_HDRLEN, .hdr_len = 0, .want = 0 },
	{ "hdr_len = frame", B_T6, S_HDRLEN, .hdr_len = REL(0), .want = 0 },
	{ "UDP, padded", B_U4, .grow = 6, .want = 0 },
	{ "VLAN", B_T4V, .want = 0 },
	{ "ECN negotiated", B_T6, S_GSO, .gso_type = 0x84, .want = 0 },
	{ "DATA_VALID ignored", B_U4, S_FLAGS, .flags = 3, .want = 0 },
};

static int bad_field(int v, uint32_t len)
{
	return v < -50000 ? (int)len + v + 100000 : v;
}

RIOV_TEST(bad_headers)
{
	struct riov_virtio_net_hdr h;
	bool seen[RIOV_OL_E__MAX] = { false };

	for (size_t k = 0; k < sizeof(bad_cases) / sizeof(bad_cases[0]); k++) {
		const struct bad_case *c = &bad_cases[k];
		uint32_t len = tf_build(&bases[c->base], frame_buf, &h);
		if (c->grow > 0)
			memset(frame_buf + len, 0, (size_t)c->grow);
		len = (uint32_t)((int)len + c->grow);
		if (c->at)
			frame_buf[c->at] = c->val;
		if (c->at2)
			frame_buf[c->at2] = c->val2;
		h.flags = c->set & S_FLAGS ? c->flags : h.flags;
		h.gso_type = c->set & S_GSO ? c->gso_type : h.gso_type;
		h.hdr_len = c->set & S_HDRLEN ? (uint16_t)bad_field(c->hdr_len, len) : h.hdr_len;
		h.gso_size = c->set & S_GSOSZ ? (uint16_t)c->gso_size : h.gso_size;
		if (c->set & S_CSTART)
			h.csum_start = (uint16_t)bad_field(c->csum_start, len);
		h.csum_offset = c->set & S_COFF ? (uint16_t)c->csum_offset : h.csum_offset;
		const uint16_t split[] = { c->first_seg, 0 };
		struct rte_mbuf *m = tf_mbuf(frame_buf, len, split);
		m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_CKSUM;   /* stale bits */
		int rc = riov_ol_from_vnet_hdr(m, &h, ALL_OL & ~c->neg_off);
		if (rc != c->want)
			fprintf(stderr, "  case \"%s\": %d (%s), want %d (%s)\n", c->what, rc,
				riov_ol_strerror(rc), c->want, riov_ol_strerror(c->want));
		CHECK_EQ(rc, c->want);
		if (rc < 0)
			CHECK_EQ(m->ol_flags & OL_TX_BITS, 0);
		seen[-c->want] = true;
		rte_pktmbuf_free(m);
	}
	/* every refusal of a guest's header is in the table */
	for (int e = RIOV_OL_E_FLAGS; e <= RIOV_OL_E_CSUM_FIELD; e++)
		if (!seen[e])
			fprintf(stderr, "  no case for %s\n", riov_ol_strerror(e));
	for (int e = RIOV_OL_E_FLAGS; e <= RIOV_OL_E_CSUM_FIELD; e++)
		CHECK(seen[e]);
	pools_full();
}

RIOV_TEST(plain_frames)
{
	struct riov_virtio_net_hdr h = { 0 };
	struct tf t = { .proto = IPPROTO_TCP, .payload = 1460 };
	struct riov_virtio_net_hdr ignored;
	uint32_t len = tf_build(&t, frame_buf, &ignored);
	struct rte_mbuf *m = tf_mbuf(frame_buf, len, NULL);

	m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4;
	m->tso_segsz = 99;
	CHECK_EQ(riov_ol_from_vnet_hdr(m, &h, 0), 0);
	CHECK_EQ(m->ol_flags & OL_TX_BITS, 0);
	CHECK_EQ(m->tso_segsz, 0);
	CHECK_EQ(riov_ol_plan(m, 0, 1500), RIOV_OL_PLAN_WHOLE);
	CHECK_EQ(riov_ol_plan(m, ALL_OL, 1499), RIOV_OL_PLAN_MTU_EXCEEDED);
	CHECK_EQ(riov_ol_csum(m), 0);
	CHECK_EQ(riov_ol_segment(m, 1500, fo.direct, fo.indirect, NULL, 0), -RIOV_OL_E_NOT_TSO);
	riov_ol_to_vnet_hdr(m, ALL_OL, 1500, &h);
	CHECK(h.flags == 0 && h.gso_type == 0 && h.csum_start == 0 && h.hdr_len == 0);
	rte_pktmbuf_free(m);
	pools_full();
}

/* ---------------- the receiver's side ---------------- */

/* Header for a receiver, then that header validated as a sender's of the same offloads: the same
 * metadata back (the tso_segsz the header carried). */
static struct riov_virtio_net_hdr roundtrip(struct rte_mbuf *m, unsigned acc, uint16_t mtu)
{
	struct riov_virtio_net_hdr h;
	const uint64_t flags = m->ol_flags;
	const uint16_t l2 = m->l2_len, l3 = m->l3_len, l4 = m->l4_len;

	CHECK(riov_ol_fits(m, acc, mtu));
	riov_ol_to_vnet_hdr(m, acc, mtu, &h);
	CHECK_EQ(riov_ol_from_vnet_hdr(m, &h, acc), 0);
	CHECK_EQ(m->ol_flags, flags);
	CHECK(m->l2_len == l2 && m->l3_len == l3 && m->l4_len == l4);
	CHECK_EQ(m->tso_segsz, h.gso_size);
	return h;
}

static struct rte_mbuf *tso_mbuf(const struct tf *t)
{
	struct riov_virtio_net_hdr h;
	uint32_t len = tf_build(t, frame_buf, &h);
	struct rte_mbuf *m = tf_mbuf(frame_buf, len, NULL);
	CHECK_EQ(riov_ol_from_vnet_hdr(m, &h, ALL_OL), 0);
	return m;
}

RIOV_TEST(fits_and_to_vnet_hdr)
{
	struct tf t = { .proto = IPPROTO_TCP, .payload = 3000, .gso_size = 1448, .tcp_opt = 12,
			.tcp_flags = TCP_ACK };
	struct rte_mbuf *m = tso_mbuf(&t);
	const unsigned tso4 = RIOV_OL_CSUM | RIOV_OL_TSO4;

	struct riov_virtio_net_hdr h = roundtrip(m, tso4, 1500);
	CHECK(h.flags == RIOV_VNET_HDR_F_NEEDS_CSUM && h.gso_type == RIOV_VNET_GSO_TCPV4);
	CHECK(h.gso_size == 1448 && h.hdr_len == 66 && h.csum_start == 34 && h.csum_offset == 16);
	CHECK_EQ(riov_ol_plan(m, RIOV_OL_CSUM, 1500), RIOV_OL_PLAN_SEGMENT);
	CHECK_EQ(riov_ol_plan(m, RIOV_OL_CSUM | RIOV_OL_TSO6, 1500), RIOV_OL_PLAN_SEGMENT);
	CHECK_EQ(riov_ol_plan(m, RIOV_OL_TSO4, 1500), RIOV_OL_PLAN_SEGMENT);   /* no GUEST_CSUM */
	CHECK_EQ(riov_ol_plan(m, tso4, 52), RIOV_OL_PLAN_MTU_EXCEEDED);
	/* a smaller MTU behind a TSO receiver: whole, gso_size lowered to the MTU */
	h = roundtrip(m, tso4, 576);
	CHECK_EQ(h.gso_size, 576 - 52);
	riov_ol_to_vnet_hdr(m, RIOV_OL_TSO4, 1500, &h);     /* flags 0 without GUEST_CSUM */
	CHECK(h.flags == 0 && h.gso_type == 0);
	rte_pktmbuf_free(m);

	/* CWR: whole only with GUEST_ECN, and then with the ECN bit */
	t.tcp_flags |= TCP_CWR;
	t.v6 = true;
	m = tso_mbuf(&t);
	CHECK_EQ(riov_ol_plan(m, RIOV_OL_CSUM | RIOV_OL_TSO6, 1500), RIOV_OL_PLAN_SEGMENT);
	h = roundtrip(m, RIOV_OL_CSUM | RIOV_OL_TSO6 | RIOV_OL_ECN, 1500);
	CHECK_EQ(h.gso_type, RIOV_VNET_GSO_TCPV6 | RIOV_VNET_GSO_ECN);
	CHECK(h.csum_start == 54 && h.hdr_len == 86);
	rte_pktmbuf_free(m);

	/* a partial UDP checksum, on a VLAN */
	struct tf u = { .vlan = true, .proto = IPPROTO_UDP, .payload = 1000 };
	m = tso_mbuf(&u);
	h = roundtrip(m, RIOV_OL_CSUM, 1500);
	CHECK(h.flags == RIOV_VNET_HDR_F_NEEDS_CSUM && h.gso_type == 0 && h.hdr_len == 0);
	CHECK(h.csum_start == 38 && h.csum_offset == 6);
	CHECK_EQ(riov_ol_plan(m, RIOV_OL_TSO4 | RIOV_OL_TSO6, 1500), RIOV_OL_PLAN_CSUM);
	CHECK_EQ(riov_ol_plan(m, RIOV_OL_CSUM, 1027), RIOV_OL_PLAN_MTU_EXCEEDED);   /* L3: 1028 */
	CHECK_EQ(riov_ol_plan(m, RIOV_OL_CSUM, 1028), RIOV_OL_PLAN_WHOLE);
	rte_pktmbuf_free(m);

	/* a frame whose L4 checksum a NIC verified: DATA_VALID, only to a GUEST_CSUM receiver */
	struct tf p = { .proto = IPPROTO_TCP, .payload = 100 };
	uint32_t len = tf_build(&p, frame_buf, &h);
	m = tf_mbuf(frame_buf, len, NULL);
	m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	riov_ol_to_vnet_hdr(m, RIOV_OL_CSUM, 1500, &h);
	CHECK_EQ(h.flags, RIOV_VNET_HDR_F_DATA_VALID);
	riov_ol_to_vnet_hdr(m, 0, 1500, &h);
	CHECK_EQ(h.flags, 0);
	rte_pktmbuf_free(m);
	pools_full();
}

RIOV_TEST(strerror_every_code)
{
	for (int e = 0; e < RIOV_OL_E__MAX; e++) {
		const char *s = riov_ol_strerror(-e);
		CHECK(s != NULL && s[0] != '\0' && strcmp(s, "unknown offload error") != 0);
		CHECK(s == riov_ol_strerror(e));
		for (int o = 0; o < e; o++)
			CHECK(strcmp(s, riov_ol_strerror(o)) != 0);
	}
	CHECK(strcmp(riov_ol_strerror(RIOV_OL_E__MAX), "unknown offload error") == 0);
	CHECK(strcmp(riov_ol_strerror(-1000000), "unknown offload error") == 0);
}

/* ---------------- the fuzz corpus ---------------- */

/* Replay every input kept in the corpus (seeds and crashers); a seed named after a plan must
 * reach it (tso4, tso6: segmented; csum_udp: checksummed; plain, whole_*: whole). */
static void replay_one(const char *name, const uint8_t *data, size_t len, void *arg)
{
	int rc = riov_offload_fuzz_one(data, len);
	CHECK(rc >= 0);
	if (strncmp(name, "tso", 3) == 0)
		CHECK_EQ(rc, 1 + RIOV_OL_PLAN_SEGMENT);
	if (strncmp(name, "csum", 4) == 0)
		CHECK_EQ(rc, 1 + RIOV_OL_PLAN_CSUM);
	if (strncmp(name, "plain", 5) == 0 || strncmp(name, "whole", 5) == 0)
		CHECK_EQ(rc, 1 + RIOV_OL_PLAN_WHOLE);
}

RIOV_TEST(fuzz_corpus_replay)
{
	static uint8_t buf[RIOV_OL_MAX_FRAME + 256];
	CHECK(riov_test_each_file(corpus_dir, buf, sizeof(buf), replay_one, NULL) >= 4);
	pools_full();
}

int main(int argc, char **argv)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=test_offload_%d", (int)getpid());
	char *eal[] = { "test_offload", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
			"--log-level=1", prefix, NULL };
	if (argc > 1)
		corpus_dir = argv[1];
	riov_eal_rundir_remove_at_exit();
	if (rte_eal_init(8, eal) < 0 || riov_offload_fuzz_one(NULL, 0) < 0) {
		fprintf(stderr, "EAL or mempools failed\n");
		return 1;
	}
	static const struct riov_test_case cases[] = {
		RIOV_TEST_ENTRY(csum_tcp_udp_v4_v6),
		RIOV_TEST_ENTRY(csum_padding_not_summed),
		RIOV_TEST_ENTRY(csum_udp_zero_is_ffff),
		RIOV_TEST_ENTRY(csum_refusals),
		RIOV_TEST_ENTRY(segment_ipv4),
		RIOV_TEST_ENTRY(segment_ipv4_options_vlan),
		RIOV_TEST_ENTRY(segment_ipv6),
		RIOV_TEST_ENTRY(segment_mtu_below_segsz),
		RIOV_TEST_ENTRY(segment_64k_multiseg),
		RIOV_TEST_ENTRY(segment_one_segment),
		RIOV_TEST_ENTRY(segment_errors),
		RIOV_TEST_ENTRY(bad_headers),
		RIOV_TEST_ENTRY(plain_frames),
		RIOV_TEST_ENTRY(fits_and_to_vnet_hdr),
		RIOV_TEST_ENTRY(strerror_every_code),
		RIOV_TEST_ENTRY(fuzz_corpus_replay),
	};
	int rc = riov_test_run(cases, sizeof(cases) / sizeof(cases[0]));
	rte_mempool_free(fo.direct);
	rte_mempool_free(fo.indirect);
	rte_eal_cleanup();
	return rc;
}
