/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for receive coalescing (dataplane/gro.c): a burst of frames from an uplink goes
 * through riov_gro_burst(). Checked here, independently of the code under test: every input
 * mbuf comes out exactly once (merged or not); a packet that was not merged is byte for byte what
 * came in and carries no offload metadata; a merged frame has a right IPv4 header checksum (summed
 * here, RFC 1071), an IPv4 length that is the frame's, TSO metadata, and riov's own segmentation
 * cuts it into frames whose IPv4 and TCP checksums are right and whose payloads, put together,
 * are the merged frame's; no mbuf is leaked.
 *
 * Security model: the input is arbitrary bytes standing for frames anyone on the underlay sent.
 *
 * Input: byte 0 is the mode: bit 0 "complete the IPv4 and TCP checksums of every frame that
 * looks like TCP/IPv4" (else random bytes would almost never reach a merge), bits 1-7 unused;
 * then records of [length: 2 bytes, little-endian, taken modulo 2048][that many bytes, or what is
 * left], at most 32.
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

#include "dataplane/gro.h"
#include "dataplane/offload.h"
#include "tests/fuzz/fuzz_eal.h"
#include "tests/fuzz/fuzz_entry.h"

#define FG_BURST 32u
#define FG_MAX_LEN 2000u
#define FG_DIRECT_N 511u
#define FG_INDIRECT_N 511u

static struct {
	bool ready, failed;
	struct rte_mempool *direct, *indirect;
	uint8_t in[FG_BURST][FG_MAX_LEN];
	uint16_t in_len[FG_BURST];
	uint8_t flat[65536 + 64], seg[2048];
} fg;

static int fg_setup(void)
{
	return riov_fuzz_eal_pools("fuzzgro", FG_DIRECT_N, FG_INDIRECT_N, &fg.direct, &fg.indirect);
}

static void fg_fail(const char *what, long a, long b)
{
	fprintf(stderr, "fuzz_gro: %s (%ld, %ld)\n", what, a, b);
	abort();
}

#define FG_CHECK(cond, a, b)                                                                  \
	do {                                                                                  \
		if (!(cond))                                                                  \
			fg_fail(#cond, (long)(a), (long)(b));                                 \
	} while (0)

static uint16_t fg_sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* the TCP pseudo-header sum of an IPv4 header with IHL 5, for l4 bytes */
static uint16_t fg_pseudo(const uint8_t *ip, uint32_t l4)
{
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = (uint8_t)(l4 >> 8);
	ph[11] = (uint8_t)l4;
	return fg_sum(ph, 12, 0);
}

/* Complete both checksums of a frame that looks like TCP/IPv4 (the lengths stay as given). */
static void fg_fix(uint8_t *f, uint32_t len)
{
	if (len < 54 || f[12] != 8 || f[13] != 0 || f[14] != 0x45 || f[23] != 6)
		return;
	uint32_t tl = (uint32_t)(f[16] << 8 | f[17]);
	if (tl < 40 || tl > len - 14)
		return;
	f[24] = f[25] = 0;
	uint16_t s = (uint16_t)~fg_sum(f + 14, 20, 0);
	f[24] = (uint8_t)(s >> 8);
	f[25] = (uint8_t)s;
	f[50] = f[51] = 0;
	s = (uint16_t)~fg_sum(f + 34, tl - 20, fg_pseudo(f + 14, tl - 20));
	f[50] = (uint8_t)(s >> 8);
	f[51] = (uint8_t)s;
}

/* A merged frame: sound, and riov's segmentation gives it back as right segments. */
static void fg_check_merged(struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_read(m, 0, m->pkt_len, fg.flat);
	FG_CHECK(f != NULL && m->pkt_len >= 54, m->pkt_len, 0);
	FG_CHECK(fg_sum(f + 14, 20, 0) == 0xffff, f[24], f[25]);
	FG_CHECK((uint32_t)(f[16] << 8 | f[17]) == m->pkt_len - 14, f[16] << 8 | f[17], m->pkt_len);
	FG_CHECK((m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) && m->tso_segsz > 0, m->ol_flags, m->tso_segsz);
	const uint32_t hdrs = 34u + m->l4_len;
	struct rte_mbuf *out[64];
	int n = riov_ol_segment(m, 1500, fg.direct, fg.indirect, out, 64);
	FG_CHECK(n > 0, n, 0);
	uint32_t at = hdrs;
	for (int k = 0; k < n; k++) {
		FG_CHECK(out[k]->pkt_len <= 1514 && out[k]->pkt_len > hdrs, out[k]->pkt_len, hdrs);
		const uint8_t *s = rte_pktmbuf_read(out[k], 0, out[k]->pkt_len, fg.seg);
		uint32_t tl = (uint32_t)(s[16] << 8 | s[17]);
		FG_CHECK(tl == out[k]->pkt_len - 14, tl, out[k]->pkt_len);
		FG_CHECK(fg_sum(s + 14, 20, 0) == 0xffff, k, 0);
		FG_CHECK(fg_sum(s + 34, tl - 20, fg_pseudo(s + 14, tl - 20)) == 0xffff, k, tl);
		uint32_t pl = out[k]->pkt_len - hdrs;
		FG_CHECK(memcmp(s + hdrs, f + at, pl) == 0, k, at);
		at += pl;
		rte_pktmbuf_free(out[k]);
	}
	FG_CHECK(at == m->pkt_len, at, m->pkt_len);
}

int riov_gro_fuzz_one(const uint8_t *data, size_t size)
{
	if (!fg.ready && !fg.failed) {
		fg.ready = true;
		fg.failed = fg_setup() < 0;
	}
	if (fg.failed)
		return -1;
	if (size < 1)
		return 0;
	const bool fix = data[0] & 1;
	struct rte_mbuf *pkts[FG_BURST], *orig[FG_BURST];
	uint16_t n = 0;
	size_t off = 1;
	while (off + 2 <= size && n < FG_BURST) {
		uint32_t want = (uint32_t)(data[off] | data[off + 1] << 8) % 2048u;
		off += 2;
		uint32_t len = (uint32_t)(size - off) < want ? (uint32_t)(size - off) : want;
		if (len > FG_MAX_LEN)
			len = FG_MAX_LEN;
		memcpy(fg.in[n], data + off, len);
		off += len;
		if (fix)
			fg_fix(fg.in[n], len);
		struct rte_mbuf *m = rte_pktmbuf_alloc(fg.direct);
		FG_CHECK(m != NULL, n, 0);
		if (len)
			memcpy(rte_pktmbuf_append(m, (uint16_t)len), fg.in[n], len);
		fg.in_len[n] = (uint16_t)len;
		orig[n] = pkts[n] = m;
		n++;
	}
	struct riov_gro_stats st = { 0 };
	uint16_t k = riov_gro_burst(pkts, n, &st);
	FG_CHECK(k <= n, k, n);
	unsigned segs = 0, merged = 0;
	for (uint16_t i = 0; i < k; i++) {
		struct rte_mbuf *m = pkts[i];
		segs += m->nb_segs;
		if (m->nb_segs > 1) {
			merged++;
			fg_check_merged(m);
			continue;
		}
		uint16_t j = 0;
		while (j < n && orig[j] != m)
			j++;
		FG_CHECK(j < n, i, 0);   /* an mbuf that went in */
		FG_CHECK(!(m->ol_flags & RIOV_OL_MBUF_FLAGS), m->ol_flags, 0);
		FG_CHECK(m->pkt_len == fg.in_len[j] &&
			 memcmp(rte_pktmbuf_mtod(m, uint8_t *), fg.in[j], fg.in_len[j]) == 0, j, m->pkt_len);
	}
	FG_CHECK(segs == n, segs, n);   /* every input came out once */
	FG_CHECK(st.frames == merged, st.frames, merged);
	for (uint16_t i = 0; i < k; i++)
		rte_pktmbuf_free(pkts[i]);
	FG_CHECK(rte_mempool_avail_count(fg.direct) == FG_DIRECT_N, rte_mempool_avail_count(fg.direct), 0);
	FG_CHECK(rte_mempool_avail_count(fg.indirect) == FG_INDIRECT_N, rte_mempool_avail_count(fg.indirect), 0);
	return (int)merged;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	riov_gro_fuzz_one(data, size);
	return 0;
}
