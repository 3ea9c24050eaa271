/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for VXLAN (dataplane/vxlan.c): a frame from the uplink goes through
 * riov_vxlan_parse(), and the same bytes as an inner frame go through encapsulation (in place, or
 * as a clone behind a header mbuf) and back through the parser as the remote VTEP sees them.
 * Checked here, independently of the code under test: a frame to decapsulate has its inner frame
 * inside the outer one and a VNI of 24 bits; an encapsulated frame has a right outer IPv4 checksum
 * (RFC 1071, summed here), lengths that add up, a source port in 49152-65535, and decapsulates to
 * the input's bytes with the template's VNI; no mbuf is leaked. The unit test
 * tests/unit/dataplane/test_vxlan.c builds this file too and replays tests/fuzz/corpus/vxlan/.
 *
 * Security model: the input is arbitrary bytes standing for a frame anyone on the underlay sent.
 * The parser must not read outside what it is given, crash, or call a malformed frame VXLAN.
 *
 * Input: byte 0 is the mode: bit 0 "this VTEP is the frame's outer destination" (else 10.0.0.1),
 * bit 1 "give the parser only half of the headers", bit 2 "inner frame in two mbufs", bit 3
 * "encapsulate a clone", bits 4-7 and byte 1 the VNI's low 12 bits; the rest is the frame.
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

#include "dataplane/vxlan.h"
#include "tests/fuzz/fuzz_eal.h"
#include "tests/fuzz/fuzz_entry.h"

#define FV_PARSE_LEN 104u   /* what a caller reads for the parser: outer headers with IPv4 options */
#define FV_MAX_FRAME 9216u
#define FV_DIRECT_N 63u
#define FV_INDIRECT_N 15u

static struct {
	bool ready, failed;
	struct rte_mempool *direct, *indirect;
	uint8_t flat[FV_MAX_FRAME + RIOV_VXLAN_OUTER_LEN];
} fv;

static int fv_setup(void)
{
	return riov_fuzz_eal_pools("fuzzvx", FV_DIRECT_N, FV_INDIRECT_N, &fv.direct, &fv.indirect);
}

static void fv_fail(const char *what, long a, long b)
{
	fprintf(stderr, "fuzz_vxlan: %s (%ld, %ld)\n", what, a, b);
	abort();
}

#define FV_CHECK(cond, a, b)                                                                  \
	do {                                                                                  \
		if (!(cond))                                                                  \
			fv_fail(#cond, (long)(a), (long)(b));                                 \
	} while (0)

/* RFC 1071: the one's complement sum of a right IPv4 header is 0xffff. */
static bool fv_ip4_sum_ok(const uint8_t *ip)
{
	uint32_t s = 0;
	for (unsigned i = 0; i < 20; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static uint32_t fv_ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint32_t v;
	const uint8_t x[4] = { a, b, c, d };
	memcpy(&v, x, 4);
	return v;
}

/* The inner frame as mbufs (one, or two split in the middle); NULL if the pool ran dry. */
static struct rte_mbuf *fv_mbufs(const uint8_t *f, uint32_t len, bool split)
{
	struct rte_mbuf *head = NULL;
	uint32_t off = 0;
	while (off < len) {
		uint32_t room = RTE_MBUF_DEFAULT_DATAROOM;
		uint32_t n = len - off < room ? len - off : room;
		if (split && head == NULL && len > 1)
			n = len / 2 < room ? len / 2 : room;
		struct rte_mbuf *m = rte_pktmbuf_alloc(fv.direct);
		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), f + off, n);
		if (head == NULL)
			head = m;
		else if (rte_pktmbuf_chain(head, m) != 0) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(head);
			return NULL;
		}
		off += n;
	}
	return head;
}

/* Encapsulate f and decapsulate it again as the remote VTEP (10.0.0.2) would. */
static void fv_round_trip(const uint8_t *f, uint32_t len, uint8_t mode, uint32_t vni)
{
	static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 0xa }, mac_b[6] = { 2, 0, 0, 0, 0, 0xb };
	const uint32_t ip_a = fv_ip(10, 0, 0, 1), ip_b = fv_ip(10, 0, 0, 2);
	struct riov_vxlan_tmpl t;
	FV_CHECK(riov_vxlan_tmpl_init(&t, mac_a, mac_b, ip_a, ip_b, vni) == 0, vni, 0);
	struct rte_mbuf *m = fv_mbufs(f, len, mode & 4);
	if (m == NULL)
		return;
	uint16_t sport = riov_vxlan_src_port(m);
	FV_CHECK(sport >= RIOV_VXLAN_SPORT_MIN, sport, 0);
	FV_CHECK(riov_vxlan_src_port(m) == sport, sport, 0);   /* one flow, one port */
	struct rte_mbuf *out = m;
	if (mode & 8) {
		out = riov_vxlan_encap_clone(m, &t, sport, fv.direct, fv.indirect);
		if (out == NULL) {
			rte_pktmbuf_free(m);
			return;
		}
	} else {
		int rc = riov_vxlan_encap(m, &t, sport);
		FV_CHECK(rc == 0, rc, 0);
	}
	FV_CHECK(out->pkt_len == len + RIOV_VXLAN_OUTER_LEN, out->pkt_len, len);
	const uint8_t *flat = rte_pktmbuf_read(out, 0, out->pkt_len, fv.flat);
	FV_CHECK(flat != NULL, out->pkt_len, 0);
	FV_CHECK(fv_ip4_sum_ok(flat + 14), flat[24], flat[25]);
	FV_CHECK((flat[16] << 8 | flat[17]) == (int)(len + 36), flat[16], flat[17]);
	FV_CHECK((flat[38] << 8 | flat[39]) == (int)(len + 16), flat[38], flat[39]);
	FV_CHECK((flat[34] << 8 | flat[35]) == sport, flat[34], sport);
	struct riov_vxlan_rx rx;
	enum riov_vxlan_verdict v = riov_vxlan_parse(flat, FV_PARSE_LEN, out->pkt_len, ip_b, &rx);
	FV_CHECK(v == RIOV_VXLAN_DECAP, v, rx.cause);
	FV_CHECK(rx.vni == vni && rx.src_ip == ip_a && rx.dst_ip == ip_b, rx.vni, vni);
	FV_CHECK(rx.inner_len == len && rx.inner_off == RIOV_VXLAN_OUTER_LEN, rx.inner_len, len);
	FV_CHECK(memcmp(flat + rx.inner_off, f, len) == 0, len, 0);
	/* not for the other end */
	v = riov_vxlan_parse(flat, FV_PARSE_LEN, out->pkt_len, ip_a, &rx);
	FV_CHECK(v == RIOV_VXLAN_DROPPED && rx.cause == RIOV_VXLAN_DROP_NOT_LOCAL, v, rx.cause);
	if (out != m)
		rte_pktmbuf_free(out);
	rte_pktmbuf_free(m);
}

/* Returns what the parser said of the frame (riov_vxlan_verdict), or -1 if set-up failed. */
int riov_vxlan_fuzz_one(const uint8_t *data, size_t size)
{
	if (!fv.ready && !fv.failed) {
		fv.ready = true;
		fv.failed = fv_setup() < 0;
	}
	if (fv.failed)
		return -1;
	if (size < 2 || size - 2 > FV_MAX_FRAME)
		return 0;
	const uint8_t mode = data[0];
	const uint32_t vni = (uint32_t)(mode >> 4) << 8 | data[1];
	const uint8_t *f = data + 2;
	const uint32_t len = (uint32_t)(size - 2);

	uint32_t local = fv_ip(10, 0, 0, 1);
	if ((mode & 1) && len >= 34)
		memcpy(&local, f + 30, 4);
	uint32_t give = len < FV_PARSE_LEN ? len : FV_PARSE_LEN;
	if (mode & 2)
		give /= 2;
	/* the parser gets its own copy of exactly what it may read: ASan sees any read beyond */
	uint8_t *hdr = malloc(give ? give : 1);
	memcpy(hdr, f, give);
	struct riov_vxlan_rx rx;
	enum riov_vxlan_verdict v = riov_vxlan_parse(hdr, give, len, local, &rx);
	free(hdr);
	FV_CHECK(v == RIOV_VXLAN_DECAP || v == RIOV_VXLAN_NOT_VXLAN || v == RIOV_VXLAN_DROPPED, v, 0);
	if (v == RIOV_VXLAN_DECAP) {
		FV_CHECK(rx.inner_len >= 14 && rx.inner_off + rx.inner_len <= len, rx.inner_off, rx.inner_len);
		FV_CHECK(rx.vni <= RIOV_VXLAN_VNI_MAX && rx.dst_ip == local, rx.vni, 0);
		FV_CHECK(rx.inner_off <= give, rx.inner_off, give);
	} else if (v == RIOV_VXLAN_DROPPED) {
		FV_CHECK(rx.cause < RIOV_VXLAN_DROP__MAX && rx.cause != RIOV_VXLAN_DROP_UNKNOWN_VNI, rx.cause, 0);
	}

	if (len >= 14 && len <= FV_MAX_FRAME)
		fv_round_trip(f, len, mode, vni);
	FV_CHECK(rte_mempool_avail_count(fv.direct) == FV_DIRECT_N, rte_mempool_avail_count(fv.direct), 0);
	FV_CHECK(rte_mempool_avail_count(fv.indirect) == FV_INDIRECT_N, rte_mempool_avail_count(fv.indirect), 0);
	return (int)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	riov_vxlan_fuzz_one(data, size);
	return 0;
}
