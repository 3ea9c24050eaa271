/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/gro.c: TCP/IPv4 segments as the network delivers them become TSO
 * frames with the metadata of a guest's TSO frame; riov's own segmentation (offload.c) cuts such a
 * frame back into exactly the segments that went in (byte for byte); a frame goes whole to a guest
 * with a GSO header; no packet overtakes another of its flow; a segment with a wrong checksum or
 * unsound headers passes through untouched and is never merged. Checksums are summed here (RFC
 * 1071), not with DPDK's or riov's helpers.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "dataplane/gro.h"
#include "dataplane/offload.h"
#include "dataplane/virtq.h"
#include "riov_test.h"
#include "tests/fuzz/fuzz_gro.c"
#include "tests/eal_rundir.h"

static const char *corpus_dir = "tests/fuzz/corpus/gro";

#define MSS 1448u
#define HDRS 54u
#define DIRECT_N 255u
#define INDIRECT_N 255u

static struct rte_mempool *direct, *indirect;

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* pseudo-header sum of an IPv4 TCP packet (not inverted) */
static uint16_t pseudo(const uint8_t *ip)
{
	uint32_t tl = (uint32_t)(ip[2] << 8 | ip[3]);
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	put16(ph + 10, tl - 20);
	return fg_sum(ph, 12, 0);
}

/* Segment k of flow f: ACK only, sequence and IP ID following on, payload bytes from both. */
static size_t seg(uint8_t *b, unsigned f, unsigned k, uint32_t payload)
{
	memset(b, 0, HDRS);
	memcpy(b, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00", 14);
	uint8_t *ip = b + 14, *th = b + 34;
	ip[0] = 0x45;
	put16(ip + 2, 40 + payload);
	put16(ip + 4, 100 + k);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, "\x0a\x01\0\x01\x0a\x01\0\x02", 8);
	ip[15] = (uint8_t)(1 + f);
	put16(ip + 10, ~fg_sum(ip, 20, 0) & 0xffff);
	put16(th, 40000 + f);
	put16(th + 2, 5201);
	put32(th + 4, 1000000 + k * MSS);
	put32(th + 8, 77);
	th[12] = 5 << 4;
	th[13] = 0x10;
	put16(th + 14, 512);
	for (uint32_t i = 0; i < payload; i++)
		b[HDRS + i] = (uint8_t)(f * 31 + k * 7 + i);
	put16(th + 16, ~fg_sum(th, 20 + payload, pseudo(ip)) & 0xffff);
	return HDRS + payload;
}

static struct rte_mbuf *mk(const uint8_t *b, size_t n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(direct);
	if (m != NULL)
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), b, n);
	return m;
}

static uint8_t orig[16][HDRS + MSS];
static size_t orig_len[16];

/* pkts[0..n) = segments 0..n-1 of flow 0, copies kept in orig[] */
static void flow(struct rte_mbuf **pkts, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		orig_len[k] = seg(orig[k], 0, k, MSS);
		pkts[k] = mk(orig[k], orig_len[k]);
	}
}

static void check_pools(void)
{
	CHECK_EQ(rte_mempool_avail_count(direct), DIRECT_N);
	CHECK_EQ(rte_mempool_avail_count(indirect), INDIRECT_N);
}

RIOV_TEST(one_flow_one_frame_and_back)
{
	struct rte_mbuf *p[8];
	struct riov_gro_stats st = { 0 };
	flow(p, 8);
	CHECK_EQ(riov_gro_burst(p, 8, &st), 1);
	CHECK_EQ(st.frames, 1);
	CHECK_EQ(st.segments, 8);
	struct rte_mbuf *m = p[0];
	CHECK_EQ(m->pkt_len, HDRS + 8 * MSS);
	CHECK((m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) && (m->ol_flags & RTE_MBUF_F_TX_IPV4) &&
	      (m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM) && (m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM));
	CHECK_EQ(m->tso_segsz, MSS);
	CHECK_EQ(m->l2_len, 14);
	CHECK_EQ(m->l3_len, 20);
	CHECK_EQ(m->l4_len, 20);
	const uint8_t *h = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_EQ(h[16] << 8 | h[17], 40 + 8 * MSS);             /* IPv4 total length */
	CHECK_EQ(fg_sum(h + 14, 20, 0), 0xffff);                 /* its header checksum */
	CHECK_EQ(h[50] << 8 | h[51], pseudo(h + 14));           /* TCP: the pseudo-header sum */
	CHECK(memcmp(h + 14 + 4, orig[0] + 14 + 4, 2) == 0);    /* the first segment's IP ID */

	/* to a guest that takes TSO: whole, with a GSO header */
	struct riov_virtio_net_hdr vh;
	CHECK_EQ(riov_ol_plan(m, RIOV_OL_CSUM | RIOV_OL_TSO4, 1500), RIOV_OL_PLAN_WHOLE);
	riov_ol_to_vnet_hdr(m, RIOV_OL_CSUM | RIOV_OL_TSO4, 1500, &vh);
	CHECK_EQ(vh.gso_type, RIOV_VNET_GSO_TCPV4);
	CHECK_EQ(vh.gso_size, MSS);
	CHECK_EQ(vh.flags, RIOV_VNET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(vh.csum_start, 34);
	CHECK_EQ(vh.csum_offset, 16);
	CHECK_EQ(vh.hdr_len, HDRS);

	/* to anyone else: riov cuts it into the very segments that came in */
	CHECK_EQ(riov_ol_plan(m, 0, 1500), RIOV_OL_PLAN_SEGMENT);
	struct rte_mbuf *out[16];
	int n = riov_ol_segment(m, 1500, direct, indirect, out, 16);
	CHECK_EQ(n, 8);
	for (int k = 0; k < n; k++) {
		uint8_t flat[HDRS + MSS];
		CHECK_EQ(out[k]->pkt_len, orig_len[k]);
		const uint8_t *q = rte_pktmbuf_read(out[k], 0, out[k]->pkt_len, flat);
		CHECK(q != NULL && memcmp(q, orig[k], orig_len[k]) == 0);
		rte_pktmbuf_free(out[k]);
	}
	rte_pktmbuf_free(m);
	check_pools();
}

RIOV_TEST(nothing_overtakes_its_flow)
{
	struct rte_mbuf *p[6];
	struct riov_gro_stats st = { 0 };
	uint8_t arp[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9, 0x08, 0x06 };
	flow(p, 5);
	struct rte_mbuf *a = mk(arp, sizeof(arp));
	struct rte_mbuf *q[6] = { p[0], p[1], a, p[2], p[3], p[4] };
	CHECK_EQ(riov_gro_burst(q, 6, &st), 3);
	CHECK(q[0] == p[0] && q[0]->nb_segs == 2);
	CHECK(q[1] == a && a->ol_flags == 0);
	CHECK(q[2] == p[2] && q[2]->nb_segs == 3);
	CHECK_EQ(st.frames, 2);
	CHECK_EQ(st.segments, 5);
	for (unsigned i = 0; i < 3; i++)
		rte_pktmbuf_free(q[i]);
	check_pools();
}

RIOV_TEST(two_flows_two_frames)
{
	struct rte_mbuf *p[8];
	uint8_t b[HDRS + MSS];
	struct riov_gro_stats st = { 0 };
	for (unsigned k = 0; k < 8; k++)
		p[k] = mk(b, seg(b, k & 1, k / 2, MSS));
	CHECK_EQ(riov_gro_burst(p, 8, &st), 2);
	CHECK_EQ(p[0]->nb_segs, 4);
	CHECK_EQ(p[1]->nb_segs, 4);
	CHECK_EQ(rte_pktmbuf_mtod(p[0], uint8_t *)[35], 0x40);   /* flow 0 first, as it came */
	rte_pktmbuf_free(p[0]);
	rte_pktmbuf_free(p[1]);
	check_pools();
}

/* Segments that must pass through untouched: each spoils segment 2 of 5. */
static void spoil_tcp_sum(uint8_t *b, size_t *n) { b[50] ^= 0x40; (void)n; }
static void spoil_ip_sum(uint8_t *b, size_t *n) { b[24] ^= 1; (void)n; }
static void spoil_psh(uint8_t *b, size_t *n)
{
	b[47] = 0x18;
	put16(b + 50, 0);
	put16(b + 50, ~fg_sum(b + 34, *n - 34, pseudo(b + 14)) & 0xffff);
}
static void spoil_padding(uint8_t *b, size_t *n) { b[*n] = 0; *n += 1; }
static void spoil_length(uint8_t *b, size_t *n)
{
	put16(b + 16, (unsigned)(*n - 14 + 8));   /* claims more than the frame has */
	put16(b + 24, 0);
	put16(b + 24, ~fg_sum(b + 14, 20, 0) & 0xffff);
}
static void spoil_fragment(uint8_t *b, size_t *n)
{
	put16(b + 20, 0x2000);
	put16(b + 24, 0);
	put16(b + 24, ~fg_sum(b + 14, 20, 0) & 0xffff);
	(void)n;
}
static void spoil_ihl(uint8_t *b, size_t *n) { b[14] = 0x44; (void)n; }

RIOV_TEST(unsound_segments_pass_untouched)
{
	static void (*const spoil[])(uint8_t *, size_t *) = { spoil_tcp_sum, spoil_ip_sum, spoil_psh,
		spoil_padding, spoil_length, spoil_fragment, spoil_ihl };
	for (size_t s = 0; s < RTE_DIM(spoil); s++) {
		struct rte_mbuf *p[5];
		uint8_t bad[HDRS + MSS + 8];
		size_t bn = seg(bad, 0, 2, MSS);
		spoil[s](bad, &bn);
		for (unsigned k = 0; k < 5; k++) {
			uint8_t b[HDRS + MSS];
			p[k] = k == 2 ? mk(bad, bn) : mk(b, seg(b, 0, k, MSS));
		}
		struct rte_mbuf *spoiled = p[2];
		struct riov_gro_stats st = { 0 };
		uint16_t n = riov_gro_burst(p, 5, &st);
		CHECK_EQ(n, 3);   /* [0-1], 2 as it came, [3-4] */
		if (n == 3) {
			CHECK(p[1] == spoiled);
			CHECK_EQ(spoiled->nb_segs, 1);
			CHECK_EQ(spoiled->pkt_len, bn);
			CHECK_EQ(spoiled->ol_flags & RIOV_OL_MBUF_FLAGS, 0);
			CHECK(memcmp(rte_pktmbuf_mtod(spoiled, uint8_t *), bad, bn) == 0);
			CHECK_EQ(p[0]->nb_segs, 2);
			CHECK_EQ(p[2]->nb_segs, 2);
		}
		if (riov_test_failures)
			fprintf(stderr, "  (spoil %zu)\n", s);
		for (unsigned i = 0; i < n; i++)
			rte_pktmbuf_free(p[i]);
	}
	check_pools();
}

RIOV_TEST(single_segments_stay_plain)
{
	struct rte_mbuf *p[1];
	struct riov_gro_stats st = { 0 };
	flow(p, 1);
	CHECK_EQ(riov_gro_burst(p, 1, &st), 1);
	CHECK_EQ(p[0]->ol_flags & RIOV_OL_MBUF_FLAGS, 0);
	CHECK(memcmp(rte_pktmbuf_mtod(p[0], uint8_t *), orig[0], orig_len[0]) == 0);
	CHECK_EQ(st.frames, 0);
	rte_pktmbuf_free(p[0]);
	check_pools();
}

/* The fuzz harness's corpus (seeds and kept crashers), through its checks. */
static void replay_one(const char *name, const uint8_t *data, size_t len, void *arg)
{
	int r = riov_gro_fuzz_one(data, len);
	CHECK(r >= 0);
	*(unsigned *)arg += r > 0;
}

RIOV_TEST(corpus_replay)
{
	static uint8_t buf[70000];
	unsigned merged = 0;
	CHECK(riov_test_each_file(corpus_dir, buf, sizeof(buf), replay_one, &merged) >= 2);
	CHECK(merged >= 1);   /* the seeds reach a merge */
}

int main(int argc, char **argv)
{
	if (argc > 1)
		corpus_dir = argv[1];
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=tgro%d", (int)getpid());
	char *eal[] = { "test_gro", "--no-huge", "-m", "64", "--no-pci", "--no-shconf", "--log-level=1",
			 prefix, NULL };
	riov_eal_rundir_remove_at_exit();
	if (rte_eal_init(8, eal) < 0 && rte_errno != EALREADY) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	direct = rte_pktmbuf_pool_create("tgro_d", DIRECT_N, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	indirect = rte_pktmbuf_pool_create("tgro_i", INDIRECT_N, 0, 0, 0, SOCKET_ID_ANY);
	if (direct == NULL || indirect == NULL) {
		fprintf(stderr, "mempools failed\n");
		return 1;
	}
	static const struct riov_test_case cases[] = {
		RIOV_TEST_ENTRY(one_flow_one_frame_and_back),
		RIOV_TEST_ENTRY(nothing_overtakes_its_flow),
		RIOV_TEST_ENTRY(two_flows_two_frames),
		RIOV_TEST_ENTRY(unsound_segments_pass_untouched),
		RIOV_TEST_ENTRY(single_segments_stay_plain),
		RIOV_TEST_ENTRY(corpus_replay),
	};
	return riov_test_run(cases, RTE_DIM(cases));
}
