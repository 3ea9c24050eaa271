/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/vxlan.c: the sorting of uplink frames (a table of malformed outer
 * headers, each with its drop cause; what is not VXLAN left to the kernel), the template and
 * encapsulation in place and as a clone (outer fields read back byte by byte, the IPv4 checksum
 * summed by the fuzz harness's own RFC 1071 code), the UDP source port. The fuzz harness
 * (tests/fuzz/fuzz_vxlan.c) is built in: its pools serve the mbufs (every test ends with them full
 * again) and its corpus (argv[1]) is replayed.
 */
#include "dataplane/vxlan.c"
#include "tests/fuzz/fuzz_vxlan.c"

#include "riov_test.h"

static const char *corpus_dir = "tests/fuzz/corpus/vxlan";

#define LOCAL_IP 0x0100000au   /* 10.0.0.1 in network order (little-endian host) */
#define REMOTE_IP 0x0200000au  /* 10.0.0.2 */
#define INNER 60u

static uint8_t fr[256];

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void ip_sum(uint8_t *ip)
{
	put16(ip + 10, 0);
	uint32_t s = 0;
	for (unsigned i = 0; i < 20; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	put16(ip + 10, ~s & 0xffff);
}

/* A right VXLAN frame from 10.0.0.2 to 10.0.0.1, VNI 100, with an INNER-byte inner frame. */
static uint32_t good_frame(void)
{
	memset(fr, 0, sizeof(fr));
	memcpy(fr, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00", 14);
	uint8_t *ip = fr + 14;
	ip[0] = 0x45;
	put16(ip + 2, 20 + 8 + 8 + INNER);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, "\x0a\0\0\x02\x0a\0\0\x01", 8);
	ip_sum(ip);
	uint8_t *udp = fr + 34;
	put16(udp, 50000);
	put16(udp + 2, 4789);
	put16(udp + 4, 8 + 8 + INNER);
	uint8_t *vx = fr + 42;
	vx[0] = 0x08;
	vx[6] = 100;
	for (unsigned i = 0; i < INNER; i++)
		fr[50 + i] = (uint8_t)(i * 7 + 1);
	return 50 + INNER;
}

RIOV_TEST(parse_good_frame)
{
	uint32_t len = good_frame();
	struct riov_vxlan_rx rx;
	CHECK_EQ(riov_vxlan_parse(fr, len, len, LOCAL_IP, &rx), RIOV_VXLAN_DECAP);
	CHECK_EQ(rx.vni, 100);
	CHECK_EQ(rx.src_ip, REMOTE_IP);
	CHECK_EQ(rx.dst_ip, LOCAL_IP);
	CHECK_EQ(rx.src_port, 50000);
	CHECK_EQ(rx.inner_off, 50);
	CHECK_EQ(rx.inner_len, INNER);
	/* Ethernet padding after the IPv4 packet is not part of the inner frame */
	CHECK_EQ(riov_vxlan_parse(fr, len + 4, len + 4, LOCAL_IP, &rx), RIOV_VXLAN_DECAP);
	CHECK_EQ(rx.inner_len, INNER);
	/* a VNI of 24 bits */
	fr[46] = 0xff, fr[47] = 0xff, fr[48] = 0xff;
	CHECK_EQ(riov_vxlan_parse(fr, len, len, LOCAL_IP, &rx), RIOV_VXLAN_DECAP);
	CHECK_EQ(rx.vni, 0xffffff);
	/* a non-zero UDP checksum is not verified (RFC 7348 5: MAY) */
	put16(fr + 40, 0x1234);
	CHECK_EQ(riov_vxlan_parse(fr, len, len, LOCAL_IP, &rx), RIOV_VXLAN_DECAP);
}

RIOV_TEST(parse_not_vxlan_is_the_kernels)
{
	struct riov_vxlan_rx rx;
	uint32_t len = good_frame();
	put16(fr + 12, 0x0806);   /* ARP */
	CHECK_EQ(riov_vxlan_parse(fr, len, len, LOCAL_IP, &rx), RIOV_VXLAN_NOT_VXLAN);
	good_frame();
	put16(fr + 12, 0x86dd);   /* IPv6 underlay: not yet */
	CHECK_EQ(riov_vxlan_parse(fr, len, len, LOCAL_IP, &rx), RIOV_VXLAN_NOT_VXLAN);
	good_frame();
	put16(fr + 12, 0x8100);   /* tagged */
	CHECK_EQ(riov_vxlan_parse(fr, len, len, LOCAL_IP, &rx), RIOV_VXLAN_NOT_VXLAN);
	good_frame();
	fr[23] = 6;               /* TCP: BGP, ssh */
	CHECK_EQ(riov_vxlan_parse(fr, len, len, LOCAL_IP, &rx), RIOV_VXLAN_NOT_VXLAN);
	good_frame();
	fr[23] = 1;               /* ICMP, even with a bad header: the kernel checks it */
	fr[14] = 0x65;
	CHECK_EQ(riov_vxlan_parse(fr, len, len, LOCAL_IP, &rx), RIOV_VXLAN_NOT_VXLAN);
	good_frame();
	put16(fr + 36, 53);       /* UDP to another port */
	CHECK_EQ(riov_vxlan_parse(fr, len, len, LOCAL_IP, &rx), RIOV_VXLAN_NOT_VXLAN);
}

struct bad_case {
	const char *what;
	void (*mutate)(uint32_t *len);
	enum riov_vxlan_drop cause;
};

static void m_runt(uint32_t *len) { *len = 13; }
static void m_cut_ip(uint32_t *len) { *len = 14 + 19; }
static void m_cut_udp(uint32_t *len) { *len = 34 + 7; }
static void m_cut_vxlan(uint32_t *len) { *len = 42 + 7; }
static void m_cut_inner(uint32_t *len) { *len = 50 + 13; }
static void m_version(uint32_t *len) { fr[14] = 0x65; ip_sum(fr + 14); (void)len; }
static void m_ihl(uint32_t *len) { fr[14] = 0x44; (void)len; }
static void m_options(uint32_t *len)
{
	/* a 4-byte option before the UDP header (which moves with it) */
	memmove(fr + 38, fr + 34, *len - 34);
	memset(fr + 34, 1, 4);   /* NOP options */
	fr[14] = 0x46;
	put16(fr + 16, 24 + 8 + 8 + INNER);
	ip_sum(fr + 14);
	*len += 4;
}
static void m_csum(uint32_t *len) { fr[24] ^= 1; (void)len; }
static void m_mf(uint32_t *len) { put16(fr + 20, 0x2000); ip_sum(fr + 14); (void)len; }
static void m_offset(uint32_t *len) { put16(fr + 20, 0x0010); ip_sum(fr + 14); (void)len; }
static void m_tl_long(uint32_t *len) { put16(fr + 16, 20 + 8 + 8 + INNER + 1); ip_sum(fr + 14); (void)len; }
static void m_tl_short(uint32_t *len) { put16(fr + 16, 20 + 8 + 8 + 13); ip_sum(fr + 14); (void)len; }
static void m_tl_zero(uint32_t *len) { put16(fr + 16, 0); ip_sum(fr + 14); (void)len; }
static void m_udp_long(uint32_t *len) { put16(fr + 38, 8 + 8 + INNER + 2); (void)len; }
static void m_udp_short(uint32_t *len) { put16(fr + 38, 8); (void)len; }
static void m_iflag(uint32_t *len) { fr[42] = 0; (void)len; }
static void m_flags(uint32_t *len) { fr[42] = 0x0c; (void)len; }
static void m_rsvd1(uint32_t *len) { fr[44] = 1; (void)len; }
static void m_rsvd2(uint32_t *len) { fr[49] = 0x80; (void)len; }
static void m_other_ip(uint32_t *len) { fr[33] = 9; ip_sum(fr + 14); (void)len; }
static void m_bcast(uint32_t *len) { memset(fr + 30, 0xff, 4); ip_sum(fr + 14); (void)len; }

static const struct bad_case bad_cases[] = {
	{ "runt frame", m_runt, RIOV_VXLAN_DROP_TRUNCATED },
	{ "cut in the IPv4 header", m_cut_ip, RIOV_VXLAN_DROP_TRUNCATED },
	{ "cut in the UDP header", m_cut_udp, RIOV_VXLAN_DROP_TRUNCATED },
	{ "cut in the VXLAN header", m_cut_vxlan, RIOV_VXLAN_DROP_IP_LENGTH },
	{ "cut in the inner Ethernet header", m_cut_inner, RIOV_VXLAN_DROP_IP_LENGTH },
	{ "IP version 6 in an IPv4 frame", m_version, RIOV_VXLAN_DROP_IP_HEADER },
	{ "IHL 4", m_ihl, RIOV_VXLAN_DROP_IP_HEADER },
	{ "IP options", m_options, RIOV_VXLAN_DROP_IP_OPTIONS },
	{ "IP checksum", m_csum, RIOV_VXLAN_DROP_IP_CHECKSUM },
	{ "more fragments", m_mf, RIOV_VXLAN_DROP_FRAGMENT },
	{ "fragment offset", m_offset, RIOV_VXLAN_DROP_FRAGMENT },
	{ "total length past the frame", m_tl_long, RIOV_VXLAN_DROP_IP_LENGTH },
	{ "total length without an inner Ethernet header", m_tl_short, RIOV_VXLAN_DROP_IP_LENGTH },
	{ "total length 0", m_tl_zero, RIOV_VXLAN_DROP_IP_LENGTH },
	{ "UDP length longer", m_udp_long, RIOV_VXLAN_DROP_UDP_LENGTH },
	{ "UDP length shorter", m_udp_short, RIOV_VXLAN_DROP_UDP_LENGTH },
	{ "I flag clear", m_iflag, RIOV_VXLAN_DROP_FLAGS },
	{ "another flag", m_flags, RIOV_VXLAN_DROP_RESERVED },
	{ "reserved before the VNI", m_rsvd1, RIOV_VXLAN_DROP_RESERVED },
	{ "reserved after the VNI", m_rsvd2, RIOV_VXLAN_DROP_RESERVED },
	{ "VXLAN to another IP", m_other_ip, RIOV_VXLAN_DROP_NOT_LOCAL },
	{ "VXLAN to the broadcast address", m_bcast, RIOV_VXLAN_DROP_NOT_LOCAL },
};

RIOV_TEST(parse_malformed_each_with_its_cause)
{
	for (size_t i = 0; i < RTE_DIM(bad_cases); i++) {
		uint32_t len = good_frame();
		bad_cases[i].mutate(&len);
		struct riov_vxlan_rx rx;
		enum riov_vxlan_verdict v = riov_vxlan_parse(fr, len, len, LOCAL_IP, &rx);
		if (v != RIOV_VXLAN_DROPPED || rx.cause != bad_cases[i].cause) {
			fprintf(stderr, "  %s: verdict %d cause %s, wanted dropped as %s\n", bad_cases[i].what, v,
				v == RIOV_VXLAN_DROPPED ? riov_vxlan_drop_names[rx.cause] : "-",
				riov_vxlan_drop_names[bad_cases[i].cause]);
			riov_test_failures++;
		}
	}
	/* every cause has a name (counters, metrics) */
	for (unsigned c = 0; c < RIOV_VXLAN_DROP__MAX; c++)
		CHECK(riov_vxlan_drop_names[c] != NULL);
}

RIOV_TEST(parse_reads_only_what_it_is_given)
{
	/* a caller that read fewer header bytes than the frame has: truncated, never a read beyond */
	uint32_t len = good_frame();
	for (uint32_t give = 0; give < 64; give++) {
		uint8_t *h = malloc(give ? give : 1);
		memcpy(h, fr, give);
		struct riov_vxlan_rx rx;
		enum riov_vxlan_verdict v = riov_vxlan_parse(h, give, len, LOCAL_IP, &rx);
		CHECK(v == RIOV_VXLAN_DROPPED && rx.cause == RIOV_VXLAN_DROP_TRUNCATED);
		free(h);
	}
}

RIOV_TEST(template_and_encap_in_place)
{
	static const uint8_t ma[6] = { 2, 0, 0, 0, 0, 0xa }, mb[6] = { 2, 0, 0, 0, 0, 0xb };
	struct riov_vxlan_tmpl t;
	CHECK_EQ(riov_vxlan_tmpl_init(&t, ma, mb, LOCAL_IP, REMOTE_IP, RIOV_VXLAN_VNI_MAX + 1), -EINVAL);
	CHECK_EQ(riov_vxlan_tmpl_init(&t, ma, mb, LOCAL_IP, REMOTE_IP, 0x123456), 0);
	uint32_t len = good_frame();
	struct rte_mbuf *m = fv_mbufs(fr + 50, INNER, false);
	CHECK(m != NULL);
	CHECK_EQ(riov_vxlan_encap(m, &t, 60000), 0);
	CHECK_EQ(m->pkt_len, len);
	const uint8_t *h = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK(memcmp(h, mb, 6) == 0 && memcmp(h + 6, ma, 6) == 0);
	CHECK_EQ(h[12] << 8 | h[13], 0x0800);
	CHECK_EQ(h[14], 0x45);
	CHECK_EQ(h[16] << 8 | h[17], 20 + 8 + 8 + INNER);
	CHECK_EQ(h[20] << 8 | h[21], 0x4000);   /* DF */
	CHECK_EQ(h[22], 64);
	CHECK_EQ(h[23], 17);
	CHECK(fv_ip4_sum_ok(h + 14));
	CHECK_EQ(h[34] << 8 | h[35], 60000);
	CHECK_EQ(h[36] << 8 | h[37], 4789);
	CHECK_EQ(h[38] << 8 | h[39], 8 + 8 + INNER);
	CHECK_EQ(h[40] << 8 | h[41], 0);        /* UDP checksum 0 */
	CHECK_EQ(h[42], 0x08);
	CHECK_EQ(h[46] << 16 | h[47] << 8 | h[48], 0x123456);
	CHECK(memcmp(h + 50, fr + 50, INNER) == 0);
	/* no headroom left for a second time */
	rte_pktmbuf_adj(m, 0);
	m->data_off = 10;
	CHECK_EQ(riov_vxlan_encap(m, &t, 60000), -ENOSPC);
	rte_pktmbuf_free(m);
	/* a frame with offload metadata must be made whole first; a shared one is not written */
	m = fv_mbufs(fr + 50, INNER, false);
	m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
	CHECK_EQ(riov_vxlan_encap(m, &t, 60000), -EINVAL);
	m->ol_flags = 0;
	rte_mbuf_refcnt_update(m, 1);
	CHECK_EQ(riov_vxlan_encap(m, &t, 60000), -EINVAL);
	rte_pktmbuf_free(m);
	rte_pktmbuf_free(m);
	CHECK_EQ(rte_mempool_avail_count(fv.direct), FV_DIRECT_N);
}

RIOV_TEST(encap_clone_leaves_the_frame)
{
	static const uint8_t ma[6] = { 2, 0, 0, 0, 0, 0xa }, mb[6] = { 2, 0, 0, 0, 0, 0xb };
	struct riov_vxlan_tmpl t;
	CHECK_EQ(riov_vxlan_tmpl_init(&t, ma, mb, LOCAL_IP, REMOTE_IP, 7), 0);
	good_frame();
	struct rte_mbuf *m = fv_mbufs(fr + 50, INNER, true);
	CHECK(m != NULL && m->nb_segs == 2);
	/* head-end replication: two remote VTEPs, one frame */
	struct rte_mbuf *a = riov_vxlan_encap_clone(m, &t, 50001, fv.direct, fv.indirect);
	struct rte_mbuf *b = riov_vxlan_encap_clone(m, &t, 50002, fv.direct, fv.indirect);
	CHECK(a != NULL && b != NULL);
	CHECK_EQ(m->pkt_len, INNER);
	CHECK_EQ(a->pkt_len, 50 + INNER);
	CHECK_EQ(a->nb_segs, 3);
	uint8_t flat[256];
	const uint8_t *p = rte_pktmbuf_read(a, 0, a->pkt_len, flat);
	struct riov_vxlan_rx rx;
	CHECK_EQ(riov_vxlan_parse(p, a->pkt_len, a->pkt_len, REMOTE_IP, &rx), RIOV_VXLAN_DECAP);
	CHECK_EQ(rx.vni, 7);
	CHECK_EQ(rx.src_port, 50001);
	CHECK(memcmp(p + 50, fr + 50, INNER) == 0);
	rte_pktmbuf_free(a);
	rte_pktmbuf_free(b);
	rte_pktmbuf_free(m);
	CHECK_EQ(rte_mempool_avail_count(fv.direct), FV_DIRECT_N);
	CHECK_EQ(rte_mempool_avail_count(fv.indirect), FV_INDIRECT_N);
}

RIOV_TEST(src_port_per_flow)
{
	/* an inner TCP/IPv4 frame: the port follows the flow's ports and stays in range */
	uint8_t f[54];
	memset(f, 0, sizeof(f));
	memcpy(f, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00", 14);
	f[14] = 0x45;
	f[23] = 6;
	memcpy(f + 26, "\x0a\x01\0\x01\x0a\x01\0\x02", 8);
	put16(f + 34, 1000);
	put16(f + 36, 80);
	struct rte_mbuf *m = fv_mbufs(f, sizeof(f), false);
	uint16_t p1 = riov_vxlan_src_port(m);
	CHECK(p1 >= RIOV_VXLAN_SPORT_MIN);
	CHECK_EQ(riov_vxlan_src_port(m), p1);
	unsigned differ = 0;
	for (unsigned sp = 1001; sp < 1011; sp++) {
		rte_pktmbuf_mtod(m, uint8_t *)[34] = (uint8_t)(sp >> 8);
		rte_pktmbuf_mtod(m, uint8_t *)[35] = (uint8_t)sp;
		uint16_t p = riov_vxlan_src_port(m);
		CHECK(p >= RIOV_VXLAN_SPORT_MIN);
		differ += p != p1;
	}
	CHECK(differ >= 8);   /* other flows mostly land elsewhere */
	rte_pktmbuf_free(m);
}

RIOV_TEST(encap_checksum_at_every_length)
{
	/* the outer checksum is the template's sum plus the total length: right for every length and
	 * for addresses whose sums carry (0xff.. octets) */
	static const uint8_t ma[6] = { 2, 0, 0, 0, 0, 0xa }, mb[6] = { 2, 0, 0, 0, 0, 0xb };
	static uint8_t inner[1600];
	const uint32_t ips[][2] = { { LOCAL_IP, REMOTE_IP }, { 0xffffffffu, 0xfffffffeu }, { 0x0000ff0au, 1 } };
	for (unsigned i = 0; i < sizeof(inner); i++)
		inner[i] = (uint8_t)(i * 7);
	for (unsigned a = 0; a < 3; a++) {
		struct riov_vxlan_tmpl t;
		CHECK_EQ(riov_vxlan_tmpl_init(&t, ma, mb, ips[a][0], ips[a][1], 0xfffff0u + a), 0);
		for (uint32_t len = 14; len <= sizeof(inner); len += 13) {
			struct rte_mbuf *m = fv_mbufs(inner, len, false);
			CHECK(m != NULL);
			CHECK_EQ(riov_vxlan_encap(m, &t, 50000), 0);
			const uint8_t *h = rte_pktmbuf_mtod(m, const uint8_t *);
			if (!fv_ip4_sum_ok(h + 14)) {
				fprintf(stderr, "  template %u, inner length %u: bad outer checksum\n", a, len);
				CHECK(0);
			}
			rte_pktmbuf_free(m);
		}
	}
}

RIOV_TEST(src_port_same_for_split_frames)
{
	/* a flow's frames hash alike whether the headers come in one segment or two, and however
	 * long the frame */
	uint8_t f[200];
	memset(f, 0, sizeof(f));
	memcpy(f, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00", 14);
	f[14] = 0x45;
	f[23] = 17;
	memcpy(f + 26, "\x0a\x01\0\x01\x0a\x01\0\x02", 8);
	put16(f + 34, 4000);
	put16(f + 36, 53);
	struct rte_mbuf *one = fv_mbufs(f, sizeof(f), false), *two = fv_mbufs(f, sizeof(f), true);
	struct rte_mbuf *shrt = fv_mbufs(f, 42, false);
	CHECK(one != NULL && two != NULL && shrt != NULL && two->nb_segs == 2);
	const uint16_t p = riov_vxlan_src_port(one);
	CHECK_EQ(riov_vxlan_src_port(two), p);
	CHECK_EQ(riov_vxlan_src_port(shrt), p);
	/* IPv6 too */
	memset(f + 12, 0, 60);
	memcpy(f + 12, "\x86\xdd\x60", 3);
	f[20] = 6;
	f[30] = 0x20;
	f[53] = 1;
	put16(f + 54, 4000);
	put16(f + 56, 80);
	rte_pktmbuf_free(one);
	rte_pktmbuf_free(two);
	rte_pktmbuf_free(shrt);
	one = fv_mbufs(f, sizeof(f), false);
	two = fv_mbufs(f, 60, true);   /* headers split, the ports in the second segment */
	shrt = fv_mbufs(f, 58, false);
	CHECK(one != NULL && two != NULL && shrt != NULL);
	const uint16_t q = riov_vxlan_src_port(one);
	CHECK(q >= RIOV_VXLAN_SPORT_MIN);
	CHECK_EQ(riov_vxlan_src_port(two), q);
	CHECK_EQ(riov_vxlan_src_port(shrt), q);
	rte_pktmbuf_free(one);
	rte_pktmbuf_free(two);
	rte_pktmbuf_free(shrt);
}

static void replay_one(const char *name, const uint8_t *data, size_t len, void *arg)
{
	int v = riov_vxlan_fuzz_one(data, len);
	CHECK(v >= 0);
	*(unsigned *)arg += v == RIOV_VXLAN_DECAP;
}

RIOV_TEST(corpus_replay)
{
	static uint8_t buf[FV_MAX_FRAME + 16];
	unsigned decap = 0;
	CHECK(riov_test_each_file(corpus_dir, buf, sizeof(buf), replay_one, &decap) >= 3);
	CHECK(decap >= 1);   /* the seeds reach decapsulation, not only the early refusals */
}

RIOV_TEST(same_match_only_where_parse_fast_agrees)
{
	/* riov_vxlan_same_match() stands in for riov_vxlan_parse_fast() on the frames that repeat a
	 * kept one: a change of any bit it looks at is a miss, and what it ignores (the UDP source
	 * port and checksum, the inner frame) changes nothing parse_fast() looks at */
	uint32_t len = good_frame();
	struct riov_vxlan_rx rx = { 0 }, rx2 = { 0 };
	struct riov_vxlan_same same = { .frame_len = 0 };
	CHECK(!riov_vxlan_same_match(&same, NULL, 0));   /* nothing kept: nothing read */
	CHECK(riov_vxlan_parse_fast(fr, 64, len, LOCAL_IP, &rx));
	riov_vxlan_same_set(&same, fr, len, &rx);
	CHECK(riov_vxlan_same_match(&same, fr, len));
	CHECK(same.inner_len == rx.inner_len);
	CHECK(!riov_vxlan_same_match(&same, fr, len + 1) && !riov_vxlan_same_match(&same, fr, len - 1));
	unsigned ignored = 0;
	for (unsigned i = 0; i < 64; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			uint8_t keep = fr[i];
			fr[i] ^= (uint8_t)(1u << bit);
			bool match = riov_vxlan_same_match(&same, fr, len);
			bool ign = (i >= 34 && i < 36) || (i >= 40 && i < 42) || i >= 50;
			if (match != ign) {
				fprintf(stderr, "  byte %u bit %u: match %d\n", i, bit, match);
				riov_test_failures++;
			}
			if (match) {
				ignored++;
				CHECK(riov_vxlan_parse_fast(fr, 64, len, LOCAL_IP, &rx2));
				CHECK(rx2.vni == rx.vni && rx2.src_ip == rx.src_ip && rx2.inner_len == rx.inner_len &&
				      rx2.inner_off == rx.inner_off);
			}
			fr[i] = keep;
		}
	}
	CHECK_EQ(ignored, (2u + 2u + 14u) * 8u);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		corpus_dir = argv[1];
	if (fv_setup() < 0) {
		fprintf(stderr, "EAL or mempool set-up failed\n");
		return 1;
	}
	fv.ready = true;
	static const struct riov_test_case cases[] = {
		RIOV_TEST_ENTRY(parse_good_frame),
		RIOV_TEST_ENTRY(parse_not_vxlan_is_the_kernels),
		RIOV_TEST_ENTRY(parse_malformed_each_with_its_cause),
		RIOV_TEST_ENTRY(parse_reads_only_what_it_is_given),
		RIOV_TEST_ENTRY(template_and_encap_in_place),
		RIOV_TEST_ENTRY(encap_clone_leaves_the_frame),
		RIOV_TEST_ENTRY(src_port_per_flow),
		RIOV_TEST_ENTRY(encap_checksum_at_every_length),
		RIOV_TEST_ENTRY(src_port_same_for_split_frames),
		RIOV_TEST_ENTRY(same_match_only_where_parse_fast_agrees),
		RIOV_TEST_ENTRY(corpus_replay),
	};
	return riov_test_run(cases, RTE_DIM(cases));
}
