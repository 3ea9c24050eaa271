/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receive coalescing of TCP/IPv4 segments from eth ports (see gro.h).
 */
#include "dataplane/gro.h"

#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_gro.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

/* Segments handed to DPDK's GRO at once (its burst mode keeps that many on the stack). */
#define GRO_RUN 32u
#define GRO_L2 RTE_ETHER_HDR_LEN
#define GRO_L3 20u
#define GRO_PTYPE (RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP)

static inline uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* May m take part (see gro.h: sound headers, both checksums right, a pure ACK with payload, the
 * segments DPDK's GRO merges)? If so its packet type and header lengths are set for the library. */
static bool gro_candidate(struct rte_mbuf *m)
{
	if (m->nb_segs != 1 || m->data_len < GRO_L2 + GRO_L3 + sizeof(struct rte_tcp_hdr))
		return false;
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	if (f[12] != 0x08 || f[13] != 0x00)
		return false;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + GRO_L2);
	if (ip->version_ihl != 0x45 || ip->next_proto_id != IPPROTO_TCP ||
	    (rte_be_to_cpu_16(ip->fragment_offset) & 0x3fff) != 0)
		return false;
	const uint32_t tl = rte_be_to_cpu_16(ip->total_length);
	if (tl != (uint32_t)m->data_len - GRO_L2)
		return false; /* Ethernet padding, or a length that lies */
	const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)(f + GRO_L2 + GRO_L3);
	const uint32_t l4 = (uint32_t)(th->data_off >> 4) * 4u;
	if (l4 < sizeof(*th) || GRO_L3 + l4 >= tl || th->tcp_flags != RTE_TCP_ACK_FLAG)
		return false;
	if (rte_raw_cksum(ip, GRO_L3) != 0xffff)
		return false;
	uint32_t s = (uint32_t)rte_raw_cksum(th, tl - GRO_L3) + rte_ipv4_phdr_cksum(ip, 0);
	if (fold(s) != 0xffff)
		return false;
	m->packet_type = GRO_PTYPE;
	m->l2_len = GRO_L2;
	m->l3_len = GRO_L3;
	m->l4_len = (uint8_t)l4;
	return true;
}

/* A frame DPDK's GRO merged: new IPv4 header checksum, the pseudo-header sum in the TCP checksum
 * field (what a TSO sender leaves there), and a TSO frame's metadata (offload.h). */
static void gro_finish(struct rte_mbuf *m)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + GRO_L2);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(f + GRO_L2 + GRO_L3);

	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	th->cksum = rte_ipv4_phdr_cksum(ip, 0);
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM |
		       RTE_MBUF_F_TX_TCP_SEG;
	m->tso_segsz = (uint16_t)(m->data_len - GRO_L2 - GRO_L3 - m->l4_len);
}

/* Merge run[0..n) (candidates, in arrival order) into out; returns how many it wrote. */
static uint16_t gro_run(struct rte_mbuf **run, uint16_t n, struct rte_mbuf **out, struct riov_gro_stats *st)
{
	static const struct rte_gro_param param = {
		.gro_types = RTE_GRO_TCP_IPV4, .max_flow_num = GRO_RUN, .max_item_per_flow = GRO_RUN,
	};
	if (n > 1)
		n = rte_gro_reassemble_burst(run, n, &param);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = run[i];
		m->packet_type = 0;
		if (m->nb_segs > 1) {
			gro_finish(m);
			st->frames++;
			st->segments += m->nb_segs;
		}
		out[i] = m;
	}
	return n;
}

uint16_t riov_gro_burst(struct rte_mbuf **pkts, uint16_t n, struct riov_gro_stats *st)
{
	struct rte_mbuf *run[GRO_RUN];
	uint16_t nrun = 0, nout = 0;

	/* Runs of candidates between the other packets, so that no packet overtakes another of its
	 * flow (DPDK's GRO returns what it does not merge after what it merged). */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (gro_candidate(m)) {
			run[nrun++] = m;
			if (nrun == GRO_RUN) {
				nout = (uint16_t)(nout + gro_run(run, nrun, pkts + nout, st));
				nrun = 0;
			}
			continue;
		}
		nout = (uint16_t)(nout + gro_run(run, nrun, pkts + nout, st));
		nrun = 0;
		pkts[nout++] = m;
	}
	nout = (uint16_t)(nout + gro_run(run, nrun, pkts + nout, st));
	return nout;
}
