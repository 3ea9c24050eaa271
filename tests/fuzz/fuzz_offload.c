/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the virtio-net offloads (dataplane/offload.c): a guest's virtio_net_hdr
 * and frame go through riov_ol_from_vnet_hdr() and then, as riov_ol_plan() decides for a
 * fuzz-chosen receiver, through riov_ol_to_vnet_hdr() (passed whole), riov_ol_csum() or
 * riov_ol_segment(); every output is checked with the independent checks below (RFC 1071
 * one's complement sums written here, not DPDK's and not riov's). The unit test
 * tests/unit/dataplane/test_offload.c builds this file too: it replays the corpus through
 * riov_offload_fuzz_one() and uses the checks on its own frames. Seeds: tests/fuzz/corpus/offload/.
 *
 * Security model: the input is arbitrary bytes standing for a hostile guest's header and frame.
 * The code under test must not crash, read outside the frame, leak an mbuf or let through a
 * frame with a wrong checksum or one larger than the receiver's MTU.
 *
 * Input: bytes 0-11 the virtio_net_hdr (little-endian fields, as in guest memory); byte 12 the
 * sender's negotiated RIOV_OL_* bits (low nibble) and the receiver's accepted ones (high nibble);
 * bytes 13-14 the receiver's MTU (little-endian, used as it is); byte 15: bits 0-2 the number of
 * 16-bit split sizes that follow, bit 3 "segment or checksum even if the plan says whole", bit 4
 * "room for 8 segments only"; then the split sizes (the data lengths of the chain's first mbufs,
 * each capped at a buffer, 0 allowed; the rest of the frame fills whole buffers); then the frame.
 *
 * Thread rules: one thread. Sets up EAL (or reuses it) and two mempools on first use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/offload.h"
#include "dataplane/virtq_internal.h"
#include "tests/fuzz/fuzz_eal.h"
#include "tests/fuzz/fuzz_entry.h"

#define FO_HDR 16u
#define FO_OUT 256u
#define FO_OUT_SMALL 8u
#define FO_DIRECT_N 4095u
#define FO_INDIRECT_N 8191u
#define FO_TX_OFFLOADS (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_L4_MASK)

/** The fuzz entry point (declared here; tests/unit/dataplane/test_offload.c builds this file).
 *  Returns -1 if EAL or the pools could not be set up, 0 when the header was refused, else
 *  1 + the riov_ol_plan() taken. Aborts on any check that fails. */
int riov_offload_fuzz_one(const uint8_t *data, size_t size);

static struct {
	bool ready, failed;
	struct rte_mempool *direct, *indirect;
} fo;

static int fo_setup(void)
{
	return riov_fuzz_eal_pools("fuzzol", FO_DIRECT_N, FO_INDIRECT_N, &fo.direct, &fo.indirect);
}

static void fo_fail(const char *what, long a, long b)
{
	fprintf(stderr, "fuzz_offload: %s (%ld, %ld)\n", what, a, b);
	abort();
}

#define FO_CHECK(cond, a, b)                                                                  \
	do {                                                                                  \
		if (!(cond))                                                                  \
			fo_fail(#cond, (long)(a), (long)(b));                                 \
	} while (0)

/* ---- independent checks: RFC 1071 by the book, on flat copies ---- */

static uint16_t fo_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] * 256u + p[1]);
}

static uint32_t fo_rd32(const uint8_t *p)
{
	return (uint32_t)fo_rd16(p) << 16 | fo_rd16(p + 2);
}

/* Add n bytes as big-endian 16-bit words (a last odd byte padded with a zero) to sum. */
static uint32_t fo_sum(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += fo_rd16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t fo_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Is the IPv4 header at ip (IHL from its first byte) summed to all ones? */
static bool fo_ip4_ok(const uint8_t *ip)
{
	return fo_fold(fo_sum(0, ip, (ip[0] & 0xfu) * 4u)) == 0xffff;
}

/* Is the TCP/UDP checksum of the IP packet at ip (l3 header bytes, ip_len bytes in all) valid,
 * pseudo-header included? A UDP checksum of 0 ("none") does not count as valid: riov sends one. */
static bool fo_l4_ok(const uint8_t *ip, bool v6, uint32_t l3, uint32_t ip_len)
{
	const uint32_t l4_len = ip_len - l3;
	const uint8_t proto = v6 ? ip[6] : ip[9];
	uint32_t sum = v6 ? fo_sum(0, ip + 8, 32) : fo_sum(0, ip + 12, 8);

	sum += proto + (l4_len >> 16) + (l4_len & 0xffff);
	sum = fo_sum(sum, ip + l3, l4_len);
	if (proto == 17 && fo_rd16(ip + l3 + 6) == 0)
		return false;
	return fo_fold(sum) == 0xffff;
}

/* Copy the bytes of a chain (at most max) into out; returns pkt_len (checked against the sum of
 * the segments' data lengths). */
static uint32_t fo_flatten(const struct rte_mbuf *m, uint8_t *out, uint32_t max)
{
	uint32_t n = 0;
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		FO_CHECK(n + s->data_len <= max, n, s->data_len);
		memcpy(out + n, rte_pktmbuf_mtod(s, const uint8_t *), s->data_len);
		n += s->data_len;
	}
	FO_CHECK(n == m->pkt_len, n, m->pkt_len);
	return n;
}

/* The headers a TSO or partial-checksum frame's metadata describes. */
struct fo_frame {
	const uint8_t *b;       /* the whole frame, flat */
	uint32_t len;
	uint32_t l2, l3, l4;
	bool v6;
	uint16_t segsz;         /* tso_segsz */
};

static uint32_t fo_ip_len(const uint8_t *ip, bool v6)
{
	return v6 ? 40u + fo_rd16(ip + 4) : fo_rd16(ip + 2);
}

/* Segment i of n (flat in s, len bytes) against the frame it was cut from: payload `off` onwards,
 * headers equal but for the fields segmentation changes, and those as RFC 793/3168 want them. */
static uint32_t fo_check_segment(const struct fo_frame *f, const uint8_t *s, uint32_t len,
				 unsigned i, unsigned n, uint32_t off, uint16_t mtu)
{
	const uint32_t hdr = f->l2 + f->l3 + f->l4, pay = len - hdr;
	const uint8_t *ip = s + f->l2, *fip = f->b + f->l2, *th = ip + f->l3, *fth = fip + f->l3;

	FO_CHECK(len > hdr && len - f->l2 <= mtu && pay <= f->segsz, len, mtu);
	FO_CHECK(memcmp(s, f->b, f->l2) == 0, i, 0);
	FO_CHECK(fo_ip_len(ip, f->v6) == len - f->l2, fo_ip_len(ip, f->v6), len);
	if (f->v6) {
		FO_CHECK(memcmp(ip, fip, 4) == 0 && memcmp(ip + 6, fip + 6, 34) == 0, i, 0);
	} else {
		FO_CHECK(fo_ip4_ok(ip), i, 0);
		FO_CHECK(fo_rd16(ip + 4) == (uint16_t)(fo_rd16(fip + 4) + i), fo_rd16(ip + 4), i);
		FO_CHECK(memcmp(ip, fip, 2) == 0 && memcmp(ip + 6, fip + 6, 4) == 0, i, 0);
		FO_CHECK(memcmp(ip + 12, fip + 12, f->l3 - 12) == 0, i, 0);
	}
	FO_CHECK(fo_rd32(th + 4) == fo_rd32(fth + 4) + off, fo_rd32(th + 4), off);
	uint8_t flags = fth[13];
	if (i + 1 < n)
		flags &= (uint8_t)~0x09;        /* PSH, FIN: last segment only */
	if (i > 0)
		flags &= (uint8_t)~0x80;        /* CWR: first segment only */
	FO_CHECK(th[13] == flags, th[13], flags);
	FO_CHECK(memcmp(th, fth, 4) == 0 && memcmp(th + 8, fth + 8, 5) == 0, i, 0);
	FO_CHECK(memcmp(th + 14, fth + 14, 2) == 0, i, 0);
	FO_CHECK(memcmp(th + 18, fth + 18, f->l4 - 18) == 0, i, 0);
	FO_CHECK(fo_l4_ok(ip, f->v6, f->l3, len - f->l2), i, len);
	FO_CHECK(memcmp(s + hdr, f->b + hdr + off, pay) == 0, i, off);
	return pay;
}

/* Every segment of a TSO frame: each valid, the payloads concatenated equal to the frame's, all
 * segments but the last of one size. Returns 0 (aborts on a failed check). */
static int fo_check_segments(const struct fo_frame *f, struct rte_mbuf *const *segs, unsigned n,
			     uint16_t mtu)
{
	static uint8_t s[RIOV_OL_MAX_FRAME];
	uint32_t off = 0, first = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct rte_mbuf *g = segs[i];
		FO_CHECK(g->tso_segsz == 0 && g->l2_len == f->l2 && g->l3_len == f->l3, i, 0);
		FO_CHECK((g->ol_flags & FO_TX_OFFLOADS) == 0, i, g->ol_flags);
		uint32_t len = fo_flatten(segs[i], s, sizeof(s));
		uint32_t pay = fo_check_segment(f, s, len, i, n, off, mtu);
		if (i == 0)
			first = pay;
		FO_CHECK(i + 1 == n || pay == first, pay, first);
		off += pay;
	}
	FO_CHECK(off == fo_ip_len(f->b + f->l2, f->v6) - f->l3 - f->l4, off, f->len);
	return 0;
}

/* ---- the run ---- */

/* The frame as an mbuf chain: first segments of the given sizes (capped at a buffer), the rest
 * in whole buffers. NULL if the pool ran dry (not expected: the pool is sized for the inputs). */
static struct rte_mbuf *fo_chain(const uint8_t *f, uint32_t len, const uint8_t *split,
				 unsigned nsplit)
{
	struct rte_mbuf *head = NULL, *tail = NULL;
	uint32_t off = 0;

	for (unsigned k = 0; off < len || head == NULL; k++) {
		struct rte_mbuf *s = rte_pktmbuf_alloc(fo.direct);
		if (s == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		uint32_t room = rte_pktmbuf_tailroom(s);
		uint32_t n = k < nsplit ? (uint32_t)(split[2 * k] | split[2 * k + 1] << 8) : room;
		n = RTE_MIN(RTE_MIN(n, room), len - off);
		memcpy(rte_pktmbuf_mtod(s, uint8_t *), f + off, n);
		s->data_len = (uint16_t)n;
		off += n;
		if (head == NULL) {
			head = tail = s;
		} else {
			tail->next = s;
			tail = s;
			head->nb_segs++;
		}
		head->pkt_len = off;
	}
	return head;
}

/* A frame passed whole: the receiver's header must be one riov itself would accept from a guest
 * that negotiated what the receiver accepts, describe the same headers, and keep to the MTU. */
static void fo_check_whole(struct rte_mbuf *m, const uint8_t *frame, unsigned acc, uint16_t mtu)
{
	struct riov_virtio_net_hdr h;
	const uint64_t flags = m->ol_flags, txo = m->tx_offload;
	const uint32_t l2 = m->l2_len, l3 = m->l3_len, l4 = m->l4_len;
	const bool meta = flags & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6);

	riov_ol_to_vnet_hdr(m, acc, mtu, &h);
	FO_CHECK(h.num_buffers == 0, h.num_buffers, 0);
	FO_CHECK(!(h.gso_type & RIOV_VNET_GSO_ECN) || (acc & RIOV_OL_ECN), h.gso_type, acc);
	FO_CHECK(h.flags == 0 || (acc & RIOV_OL_CSUM), h.flags, acc);
	int rc = riov_ol_from_vnet_hdr(m, &h, acc);
	FO_CHECK(rc == 0, rc, h.gso_type);
	if (h.gso_type != RIOV_VNET_GSO_NONE) {
		FO_CHECK(h.gso_size + l3 + l4 <= mtu, h.gso_size, mtu);
	} else {
		/* without metadata the L2 header is looked at here: one 802.1Q tag or none */
		uint32_t eth = meta ? l2 : 14;
		if (!meta && m->pkt_len >= 14 && fo_rd16(frame + 12) == 0x8100)
			eth = 18;
		FO_CHECK(m->pkt_len <= eth + mtu, m->pkt_len, mtu);
	}
	if (h.flags & RIOV_VNET_HDR_F_NEEDS_CSUM)
		FO_CHECK(m->l2_len == l2 && m->l3_len == l3 && m->l4_len == l4, m->l2_len, l2);
	m->ol_flags = flags;
	m->tx_offload = txo;
}

static void fo_check_csum(struct rte_mbuf *m, const uint8_t *frame, uint32_t len)
{
	static uint8_t s[RIOV_OL_MAX_FRAME];
	const uint32_t l2 = m->l2_len, l3 = m->l3_len;
	const bool v6 = m->ol_flags & RTE_MBUF_F_TX_IPV6;
	const uint32_t field = l2 + l3 + ((m->ol_flags & RTE_MBUF_F_TX_L4_MASK) ==
					  RTE_MBUF_F_TX_UDP_CKSUM ? 6 : 16);

	int rc = riov_ol_csum(m);
	FO_CHECK(rc == 0, rc, 0);
	FO_CHECK((m->ol_flags & RTE_MBUF_F_TX_L4_MASK) == 0, m->ol_flags, 0);
	FO_CHECK(fo_flatten(m, s, sizeof(s)) == len, m->pkt_len, len);
	FO_CHECK(memcmp(s, frame, field) == 0 && memcmp(s + field + 2, frame + field + 2,
							len - field - 2) == 0, field, len);
	FO_CHECK(fo_l4_ok(s + l2, v6, l3, fo_ip_len(s + l2, v6)), l2, l3);
}

static void fo_check_segment_run(struct rte_mbuf *m, const uint8_t *frame, uint32_t len,
				 uint16_t mtu, uint16_t nb_out)
{
	static struct rte_mbuf *out[FO_OUT];
	const struct fo_frame f = { .b = frame, .len = len, .l2 = m->l2_len, .l3 = m->l3_len,
				    .l4 = m->l4_len, .v6 = m->ol_flags & RTE_MBUF_F_TX_IPV6,
				    .segsz = m->tso_segsz };
	const uint64_t flags = m->ol_flags;
	const int want = riov_ol_nb_segs(m, mtu);

	int n = riov_ol_segment(m, mtu, fo.direct, fo.indirect, out, nb_out);
	FO_CHECK(m->ol_flags == flags, m->ol_flags, flags);
	if (n < 0) {
		/* refused before allocating: the MTU leaves no room, or out[] is too short */
		FO_CHECK(n == want || (n == -RIOV_OL_E_TOO_MANY && want > nb_out), n, want);
		FO_CHECK(want < 0 || want > nb_out, want, nb_out);
		return;
	}
	FO_CHECK(n == want && n >= 1, n, want);
	fo_check_segments(&f, out, (unsigned)n, mtu);
	for (int i = 0; i < n; i++)
		rte_pktmbuf_free(out[i]);
	FO_CHECK(rte_mbuf_refcnt_read(m) == 1, rte_mbuf_refcnt_read(m), 0);
}

int riov_offload_fuzz_one(const uint8_t *data, size_t size)
{
	if (!fo.ready) {
		fo.ready = true;
		fo.failed = fo_setup() < 0;
	}
	if (fo.failed)
		return -1;
	if (size < FO_HDR)
		return 0;
	const unsigned nsplit = data[15] & 7u, neg = data[12] & 15u, acc = data[12] >> 4;
	const bool force = data[15] & 8u;
	const uint16_t mtu = (uint16_t)(data[13] | data[14] << 8);
	const uint16_t nb_out = (data[15] & 16u) ? FO_OUT_SMALL : FO_OUT;
	if (size < FO_HDR + 2u * nsplit || size - FO_HDR - 2u * nsplit > RIOV_OL_MAX_FRAME + 64u)
		return 0;
	const uint8_t *frame = data + FO_HDR + 2u * nsplit;
	const uint32_t len = (uint32_t)(size - FO_HDR - 2u * nsplit);
	struct riov_virtio_net_hdr h;
	memcpy(&h, data, sizeof(h));

	struct rte_mbuf *m = fo_chain(frame, len, data + FO_HDR, nsplit);
	FO_CHECK(m != NULL, len, 0);
	int rc = riov_ol_from_vnet_hdr(m, &h, neg);
	FO_CHECK(rc <= 0 && rc > -RIOV_OL_E__MAX && riov_ol_strerror(rc) != NULL, rc, 0);
	if (rc < 0) {
		FO_CHECK((m->ol_flags & FO_TX_OFFLOADS) == 0, rc, 0);
		rte_pktmbuf_free(m);
		return 0;
	}
	const enum riov_ol_plan plan = riov_ol_plan(m, acc, mtu);
	const bool tso = m->ol_flags & RTE_MBUF_F_TX_TCP_SEG;
	const bool partial = (m->ol_flags & RTE_MBUF_F_TX_L4_MASK) != 0;
	if (plan == RIOV_OL_PLAN_SEGMENT || (force && tso))
		fo_check_segment_run(m, frame, len, mtu, nb_out);
	else if (plan == RIOV_OL_PLAN_CSUM || (force && partial))
		fo_check_csum(m, frame, len);
	else if (plan == RIOV_OL_PLAN_WHOLE)
		fo_check_whole(m, frame, acc, mtu);
	else
		FO_CHECK(tso ? mtu <= (uint32_t)m->l3_len + m->l4_len : m->pkt_len - 14u > mtu,
			 m->pkt_len, mtu);
	rte_pktmbuf_free(m);
	const unsigned direct = rte_mempool_avail_count(fo.direct);
	const unsigned indirect = rte_mempool_avail_count(fo.indirect);
	FO_CHECK(direct == FO_DIRECT_N && indirect == FO_INDIRECT_N, direct, indirect);
	return 1 + (int)plan;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	riov_offload_fuzz_one(data, size);
	return 0;
}
