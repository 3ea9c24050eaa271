/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net offloads (virtio 1.2 5.1.6): validation of a sending guest's virtio_net_hdr into mbuf
 * metadata, the header for a receiving guest, and what a receiver cannot take done in software
 * (L4 checksums, TCP segmentation). See offload.h for the contract of each function.
 *
 * Security model: a sending guest controls its header and its frame. riov_ol_from_vnet_hdr()
 * reads each header field once (into a local copy), checks it against what the guest negotiated,
 * then parses the frame's own headers with every read bounded by the first segment and the frame
 * length, and accepts only what describes the frame exactly (Linux's virtio_net_hdr_to_skb() is
 * the model; virtio 1.2 5.1.6.2's MUSTs are enforced where Linux is lenient: GSO needs
 * NEEDS_CSUM). The other functions re-check the metadata against the frame (ol_meta()) before
 * they read or write through it, so a mistake of a caller is a refusal, not a stray access.
 * Checksums are computed from scratch, pseudo-header included: a wrong partial sum left by a guest
 * in the checksum field cannot survive into a frame riov sends.
 *
 * Thread rules: no state; any thread, on mbufs it owns. Allocation only in riov_ol_segment(), from
 * the pools the caller gives.
 */
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_gso.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "dataplane/offload.h"
/* for struct riov_virtio_net_hdr, the header's layout in guest memory, only */
#include "dataplane/virtq.h"

/* The TX offload bits this module sets and clears; any others (VLAN insertion...) are left. */
#define OL_TX_BITS                                                                            \
	(RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IPV4 |                  \
	 RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_IP_CKSUM)

/* The bits that say whose buffer an mbuf holds: never copied from one mbuf to another. */
#define OL_BUF_BITS (RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT)

#define OL_ETH_LEN 14u
#define OL_VLAN_LEN 4u
#define OL_IPV4_MIN 20u
#define OL_IPV6_LEN 40u
#define OL_TCP_MIN 20u
#define OL_UDP_LEN 8u
#define OL_TCP_FLAGS_OFF 13u    /* byte of the TCP flags in the TCP header */
#define OL_TCP_DOFF_OFF 12u     /* data offset, high nibble */

/* A frame's headers as parsed or as the metadata describes them (offsets from the frame's start:
 * the L3 header at l2, the L4 header at l2 + l3). */
struct ol_pkt {
	uint16_t l2, l3, l4;    /* header lengths */
	/* L3 bytes by the IP header: IPv4 total length, IPv6 40 + payload length */
	uint32_t ip_len;
	uint8_t proto;          /* IPPROTO_TCP or IPPROTO_UDP */
	bool v6;
};

static inline uint16_t ol_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline bool ol_gso(const struct riov_virtio_net_hdr *v)
{
	return v->gso_type != RIOV_VNET_GSO_NONE;
}

/* ---------------------------------------------------------------------------------------------- */
/* Validation of a sending guest's header */

/* The header against what the guest negotiated (virtio 1.2 5.1.6.2.1: the driver MUST NOT use
 * offloads it did not negotiate, and MUST set NEEDS_CSUM with a gso_type other than NONE). */
static int ol_check_negotiated(const struct riov_virtio_net_hdr *v, unsigned negotiated)
{
	const uint8_t base = v->gso_type & (uint8_t)~RIOV_VNET_GSO_ECN;

	if ((v->flags & RIOV_VNET_HDR_F_NEEDS_CSUM) && !(negotiated & RIOV_OL_CSUM))
		return -RIOV_OL_E_CSUM_NOT_NEGOTIATED;
	if (!ol_gso(v))
		return 0;
	if (base == RIOV_VNET_GSO_UDP)
		return -RIOV_OL_E_GSO_UDP;
	if (base != RIOV_VNET_GSO_TCPV4 && base != RIOV_VNET_GSO_TCPV6)
		return -RIOV_OL_E_GSO_TYPE;     /* unknown, or the ECN bit on GSO_NONE */
	if ((v->gso_type & RIOV_VNET_GSO_ECN) && !(negotiated & RIOV_OL_ECN))
		return -RIOV_OL_E_ECN_NOT_NEGOTIATED;
	if (!(negotiated & (base == RIOV_VNET_GSO_TCPV4 ? RIOV_OL_TSO4 : RIOV_OL_TSO6)))
		return -RIOV_OL_E_TSO_NOT_NEGOTIATED;
	if (!(v->flags & RIOV_VNET_HDR_F_NEEDS_CSUM))
		return -RIOV_OL_E_GSO_NO_CSUM;
	if (v->gso_size == 0)
		return -RIOV_OL_E_GSO_SIZE;
	return 0;
}

/* The header's offsets against the frame's length. hdr_len is only a hint (5.1.6.2.2: the device
 * SHOULD NOT rely on it; Linux treats it so): refused only when beyond the data. */
static int ol_check_ranges(const struct riov_virtio_net_hdr *v, uint32_t pkt_len)
{
	if (v->hdr_len > pkt_len)
		return -RIOV_OL_E_HDR_LEN;
	if ((v->flags & RIOV_VNET_HDR_F_NEEDS_CSUM) &&
	    (uint32_t)v->csum_start + v->csum_offset + 2u > pkt_len)
		return -RIOV_OL_E_CSUM_RANGE;
	return 0;
}

/* Headers up to offset `end` must be in the frame and in its first segment. */
static inline int ol_need(const struct rte_mbuf *m, uint32_t end)
{
	if (unlikely(end > m->pkt_len))
		return -RIOV_OL_E_TRUNCATED;
	if (unlikely(end > m->data_len))
		return -RIOV_OL_E_HDR_SPLIT;
	return 0;
}

/* Ethernet, one optional 802.1Q tag, then IPv4 or IPv6. */
static int ol_parse_l2(const struct rte_mbuf *m, const uint8_t *d, struct ol_pkt *p)
{
	int rc = ol_need(m, OL_ETH_LEN);
	if (rc < 0)
		return rc;
	uint16_t type = ol_be16(d + 12);
	p->l2 = OL_ETH_LEN;
	if (type == RTE_ETHER_TYPE_VLAN) {
		rc = ol_need(m, OL_ETH_LEN + OL_VLAN_LEN);
		if (rc < 0)
			return rc;
		type = ol_be16(d + 16);
		p->l2 = OL_ETH_LEN + OL_VLAN_LEN;
	}
	if (type == RTE_ETHER_TYPE_IPV4)
		p->v6 = false;
	else if (type == RTE_ETHER_TYPE_IPV6)
		p->v6 = true;
	else
		return -RIOV_OL_E_NOT_IP;
	return 0;
}

/* The IP length against the frame's L3 bytes: equal for GSO (the segments are cut from the whole
 * frame), not more otherwise (a short frame may carry Ethernet padding after the IP packet). */
static int ol_check_ip_len(const struct rte_mbuf *m, const struct ol_pkt *p, bool gso)
{
	const uint32_t l3_bytes = m->pkt_len - p->l2;

	if (p->ip_len < p->l3 || p->ip_len > l3_bytes || (gso && p->ip_len != l3_bytes))
		return -RIOV_OL_E_IP_LEN;
	return 0;
}

static int ol_parse_ipv4(const struct rte_mbuf *m, const uint8_t *d, bool gso, struct ol_pkt *p)
{
	const uint8_t *ip = d + p->l2;
	int rc = ol_need(m, p->l2 + OL_IPV4_MIN);
	if (rc < 0)
		return rc;
	if ((ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5)
		return -RIOV_OL_E_IP_HDR;
	p->l3 = (uint16_t)((ip[0] & 0xf) * 4u);
	rc = ol_need(m, p->l2 + p->l3);
	if (rc < 0)
		return rc;
	p->ip_len = ol_be16(ip + 2);
	rc = ol_check_ip_len(m, p, gso);
	if (rc < 0)
		return rc;
	if (ol_be16(ip + 6) & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
		return -RIOV_OL_E_FRAGMENT;
	p->proto = ip[9];
	return 0;
}

/* IPv6 extension headers (IANA "IPv6 Extension Header Types"). riov's checksum and segmentation
 * code takes TCP/UDP right after the fixed header only (DPDK's pseudo-header helper assumes it
 * too), so a frame with any of these is refused rather than summed wrongly. */
static bool ol_ipv6_ext(uint8_t nh)
{
	switch (nh) {
	case 0: case 43: case 44: case 50: case 51: case 60: case 135: case 139: case 140:
	case 253: case 254:
		return true;
	default:
		return false;
	}
}

static int ol_parse_ipv6(const struct rte_mbuf *m, const uint8_t *d, bool gso, struct ol_pkt *p)
{
	const uint8_t *ip = d + p->l2;
	int rc = ol_need(m, p->l2 + OL_IPV6_LEN);
	if (rc < 0)
		return rc;
	if ((ip[0] >> 4) != 6)
		return -RIOV_OL_E_IP_HDR;
	p->l3 = OL_IPV6_LEN;
	p->ip_len = OL_IPV6_LEN + ol_be16(ip + 4);  /* a jumbogram's 0 disagrees with any frame */
	rc = ol_check_ip_len(m, p, gso);
	if (rc < 0)
		return rc;
	p->proto = ip[6];
	if (ol_ipv6_ext(p->proto))
		return -RIOV_OL_E_IPV6_EXT;
	return 0;
}

/* The TCP or UDP header, inside the IP payload and the first segment. */
static int ol_parse_l4(const struct rte_mbuf *m, const uint8_t *d, struct ol_pkt *p)
{
	const uint32_t off = (uint32_t)p->l2 + p->l3;
	const uint32_t room = p->ip_len - p->l3;    /* L4 bytes by the IP header */
	int rc;

	if (p->proto == IPPROTO_TCP) {
		if (room < OL_TCP_MIN)
			return -RIOV_OL_E_TCP_HDR;
		rc = ol_need(m, off + OL_TCP_MIN);
		if (rc < 0)
			return rc;
		uint32_t len = (d[off + OL_TCP_DOFF_OFF] >> 4) * 4u;
		if (len < OL_TCP_MIN || len > room)
			return -RIOV_OL_E_TCP_HDR;
		p->l4 = (uint16_t)len;
		return ol_need(m, off + len);
	}
	if (p->proto == IPPROTO_UDP) {
		if (room < OL_UDP_LEN)
			return -RIOV_OL_E_UDP_LEN;
		rc = ol_need(m, off + OL_UDP_LEN);
		if (rc < 0)
			return rc;
		if (ol_be16(d + off + 4) != room)
			return -RIOV_OL_E_UDP_LEN;
		p->l4 = OL_UDP_LEN;
		return 0;
	}
	return -RIOV_OL_E_NOT_TCP_UDP;
}

/* The frame's headers, as the header's gso_type requires them. */
static int ol_parse(const struct rte_mbuf *m, const struct riov_virtio_net_hdr *v, struct ol_pkt *p)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t base = v->gso_type & (uint8_t)~RIOV_VNET_GSO_ECN;
	const bool gso = ol_gso(v);

	int rc = ol_parse_l2(m, d, p);
	if (rc < 0)
		return rc;
	if (gso && p->v6 != (base == RIOV_VNET_GSO_TCPV6))
		return -RIOV_OL_E_GSO_FAMILY;
	rc = p->v6 ? ol_parse_ipv6(m, d, gso, p) : ol_parse_ipv4(m, d, gso, p);
	if (rc < 0)
		return rc;
	if (gso && p->proto != IPPROTO_TCP)
		return -RIOV_OL_E_GSO_NOT_TCP;
	return ol_parse_l4(m, d, p);
}

/* The header's GSO size and checksum position against the parsed frame. */
static int ol_check_fields(const struct riov_virtio_net_hdr *v, const struct ol_pkt *p)
{
	const uint16_t want_off = p->proto == IPPROTO_TCP ? RIOV_VNET_CSUM_OFF_TCP :
							    RIOV_VNET_CSUM_OFF_UDP;

	if (ol_gso(v)) {
		if (p->ip_len == (uint32_t)p->l3 + p->l4)
			return -RIOV_OL_E_GSO_EMPTY;
		/* one segment must still be an IP packet */
		if ((uint32_t)p->l3 + p->l4 + v->gso_size > RIOV_OL_MAX_IP)
			return -RIOV_OL_E_GSO_SIZE;
	}
	if (v->csum_start != p->l2 + p->l3 || v->csum_offset != want_off)
		return -RIOV_OL_E_CSUM_FIELD;
	return 0;
}

int riov_ol_from_vnet_hdr(struct rte_mbuf *m, const struct riov_virtio_net_hdr *h,
			  unsigned negotiated)
{
	/* the guest's header read once, into a copy in CPU byte order */
	const struct riov_virtio_net_hdr v = {
		.flags = h->flags,
		.gso_type = h->gso_type,
		.hdr_len = rte_le_to_cpu_16(h->hdr_len),
		.gso_size = rte_le_to_cpu_16(h->gso_size),
		.csum_start = rte_le_to_cpu_16(h->csum_start),
		.csum_offset = rte_le_to_cpu_16(h->csum_offset),
	};
	struct ol_pkt p;
	int rc;

	m->ol_flags &= ~OL_TX_BITS;
	m->tso_segsz = 0;
	/* 5.1.6.2: a driver MUST NOT set DATA_VALID; it says nothing riov would trust: ignored */
	if (unlikely(v.flags & ~(RIOV_VNET_HDR_F_NEEDS_CSUM | RIOV_VNET_HDR_F_DATA_VALID)))
		return -RIOV_OL_E_FLAGS;
	if (unlikely(m->pkt_len > RIOV_OL_MAX_FRAME))
		return -RIOV_OL_E_TOO_BIG;
	if (likely(!(v.flags & RIOV_VNET_HDR_F_NEEDS_CSUM) && !ol_gso(&v)))
		return 0;
	rc = ol_check_negotiated(&v, negotiated);
	if (rc == 0)
		rc = ol_check_ranges(&v, m->pkt_len);
	if (rc == 0)
		rc = ol_parse(m, &v, &p);
	if (rc == 0)
		rc = ol_check_fields(&v, &p);
	if (rc < 0)
		return rc;

	uint64_t f = p.v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4;
	f |= p.proto == IPPROTO_TCP ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM;
	/* Linux: a GSO frame whose payload fits in one gso_size is no GSO frame, only a partial
	 * checksum (virtio_net_hdr_to_skb(): "Too small packets are not really GSO ones") */
	if (ol_gso(&v) && p.ip_len - p.l3 - p.l4 > v.gso_size) {
		f |= RTE_MBUF_F_TX_TCP_SEG | (p.v6 ? 0 : RTE_MBUF_F_TX_IP_CKSUM);
		m->tso_segsz = v.gso_size;
	}
	m->l2_len = p.l2;
	m->l3_len = p.l3;
	m->l4_len = p.l4;
	m->ol_flags |= f;
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Metadata riov set, checked again before it is used to read or write */

/* The headers m's metadata describes, against the frame: in the first segment, of the IP version
 * the flags say, IHL and TCP data offset equal to l3_len and l4_len, the IP length within the
 * frame (equal to its L3 bytes for TSO), the protocol the L4 flags say. */
static int ol_meta(const struct rte_mbuf *m, struct ol_pkt *p)
{
	const uint64_t f = m->ol_flags, l4f = f & RTE_MBUF_F_TX_L4_MASK;
	const bool tso = f & RTE_MBUF_F_TX_TCP_SEG;
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);

	p->l2 = m->l2_len;
	p->l3 = m->l3_len;
	p->l4 = m->l4_len;
	p->v6 = f & RTE_MBUF_F_TX_IPV6;
	if (!(f & RTE_MBUF_F_TX_IPV4) == !p->v6 || p->l2 < OL_ETH_LEN ||
	    (uint32_t)p->l2 + p->l3 + p->l4 > m->data_len)
		return -RIOV_OL_E_META;
	const uint8_t *ip = d + p->l2;
	if (p->v6) {
		if (p->l3 != OL_IPV6_LEN || (ip[0] >> 4) != 6)
			return -RIOV_OL_E_META;
		p->ip_len = OL_IPV6_LEN + ol_be16(ip + 4);
		p->proto = ip[6];
	} else {
		if (p->l3 < OL_IPV4_MIN || (ip[0] >> 4) != 4 || (ip[0] & 0xf) * 4u != p->l3)
			return -RIOV_OL_E_META;
		p->ip_len = ol_be16(ip + 2);
		p->proto = ip[9];
	}
	const uint32_t l3_bytes = m->pkt_len - p->l2;
	if (p->ip_len < (uint32_t)p->l3 + p->l4 || p->ip_len > l3_bytes ||
	    (tso && p->ip_len != l3_bytes))
		return -RIOV_OL_E_META;
	if (tso || l4f == RTE_MBUF_F_TX_TCP_CKSUM) {
		const uint8_t *th = ip + p->l3;
		if (p->proto != IPPROTO_TCP || p->l4 < OL_TCP_MIN ||
		    (th[OL_TCP_DOFF_OFF] >> 4) * 4u != p->l4)
			return -RIOV_OL_E_META;
	} else if (l4f == RTE_MBUF_F_TX_UDP_CKSUM) {
		if (p->proto != IPPROTO_UDP || p->l4 != OL_UDP_LEN)
			return -RIOV_OL_E_META;
	} else {
		return -RIOV_OL_E_META;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Checksums */

/* One's complement sum (not folded to 16 bits) of len bytes of m from offset off, the bytes
 * validated to be there. Own code because DPDK 22.11's rte_raw_cksum_mbuf() is wrong for chains
 * with an odd-length segment before the end: it byte-swaps the next segment's 32-bit partial sum
 * truncated to 16 bits, dropping its carries. Here each piece is reduced to 16 bits
 * (rte_raw_cksum) before the swap that a piece starting at an odd position needs. */
static uint32_t ol_sum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	uint32_t sum = 0, done = 0;

	for (; m != NULL && done < len; m = m->next) {
		if (off >= m->data_len) {
			off -= m->data_len;
			continue;
		}
		uint32_t n = RTE_MIN((uint32_t)m->data_len - off, len - done);
		uint16_t s = rte_raw_cksum(rte_pktmbuf_mtod_offset(m, const uint8_t *, off), n);
		sum += (done & 1) ? rte_bswap16(s) : s;
		done += n;
		off = 0;
	}
	return sum;
}

/* The TCP/UDP checksum of the L4 bytes p describes, its field taken as 0, pseudo-header from the
 * IP header (rte_ipv4/6_phdr_cksum: the L4 length is the IP length's). */
static uint16_t ol_l4_cksum(const struct rte_mbuf *m, const struct ol_pkt *p)
{
	const void *ip = rte_pktmbuf_mtod_offset(m, const void *, p->l2);
	uint32_t sum = p->v6 ? rte_ipv6_phdr_cksum(ip, 0) : rte_ipv4_phdr_cksum(ip, 0);

	sum += ol_sum_mbuf(m, (uint32_t)p->l2 + p->l3, p->ip_len - p->l3);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	if (c == 0 && p->proto == IPPROTO_UDP)
		c = 0xffff;     /* RFC 768: 0 means "no checksum" */
	return c;
}

/* Write the L4 checksum of the frame p describes (the header in m's first segment). The sum is
 * taken in memory order, so it is stored as it is. */
static void ol_fill_l4(struct rte_mbuf *m, const struct ol_pkt *p)
{
	const unsigned off = p->proto == IPPROTO_TCP ? RIOV_VNET_CSUM_OFF_TCP :
						       RIOV_VNET_CSUM_OFF_UDP;
	uint8_t *field = rte_pktmbuf_mtod_offset(m, uint8_t *, p->l2 + p->l3 + off);
	memset(field, 0, 2);
	const uint16_t c = ol_l4_cksum(m, p);
	memcpy(field, &c, 2);
}

int riov_ol_csum(struct rte_mbuf *m)
{
	const uint64_t l4f = m->ol_flags & RTE_MBUF_F_TX_L4_MASK;
	struct ol_pkt p;

	if (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG)
		return -RIOV_OL_E_IS_TSO;
	if (l4f != RTE_MBUF_F_TX_TCP_CKSUM && l4f != RTE_MBUF_F_TX_UDP_CKSUM)
		return 0;
	int rc = ol_meta(m, &p);
	if (rc < 0)
		return rc;
	if (!RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1)
		return -RIOV_OL_E_SHARED;
	ol_fill_l4(m, &p);
	m->ol_flags &= ~OL_TX_BITS;
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Egress decisions and the receiver's header */

static uint8_t ol_tcp_flags(const struct rte_mbuf *m)
{
	const uint32_t off = (uint32_t)m->l2_len + m->l3_len + OL_TCP_FLAGS_OFF;
	return off < m->data_len ? rte_pktmbuf_mtod(m, const uint8_t *)[off] : 0;
}

/* L2 bytes of a frame without metadata: Ethernet, or Ethernet and one 802.1Q tag. */
static uint32_t ol_l2_len(const struct rte_mbuf *m)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	if (m->data_len >= OL_ETH_LEN && ol_be16(d + 12) == RTE_ETHER_TYPE_VLAN)
		return OL_ETH_LEN + OL_VLAN_LEN;
	return OL_ETH_LEN;
}

enum riov_ol_plan riov_ol_plan(const struct rte_mbuf *m, unsigned accepts, uint16_t mtu)
{
	const uint64_t f = m->ol_flags, l4f = f & RTE_MBUF_F_TX_L4_MASK;

	if (f & RTE_MBUF_F_TX_TCP_SEG) {
		const unsigned need =
			RIOV_OL_CSUM | (f & RTE_MBUF_F_TX_IPV6 ? RIOV_OL_TSO6 : RIOV_OL_TSO4);
		if (mtu <= (uint32_t)m->l3_len + m->l4_len)
			return RIOV_OL_PLAN_MTU_EXCEEDED;
		/* 5.1.6.4.1: no TSO frame with CWR set to a driver without GUEST_ECN */
		if ((accepts & need) == need &&
		    (!(ol_tcp_flags(m) & RTE_TCP_CWR_FLAG) || (accepts & RIOV_OL_ECN)))
			return RIOV_OL_PLAN_WHOLE;
		return RIOV_OL_PLAN_SEGMENT;
	}
	const bool meta = f & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6);
	const uint32_t l2 = meta ? m->l2_len : ol_l2_len(m);
	if (m->pkt_len > l2 + mtu)
		return RIOV_OL_PLAN_MTU_EXCEEDED;
	if ((l4f == RTE_MBUF_F_TX_TCP_CKSUM || l4f == RTE_MBUF_F_TX_UDP_CKSUM) &&
	    !(accepts & RIOV_OL_CSUM))
		return RIOV_OL_PLAN_CSUM;
	return RIOV_OL_PLAN_WHOLE;
}

bool riov_ol_fits(const struct rte_mbuf *m, unsigned accepts, uint16_t mtu)
{
	return riov_ol_plan(m, accepts, mtu) == RIOV_OL_PLAN_WHOLE;
}

void riov_ol_to_vnet_hdr(const struct rte_mbuf *m, unsigned accepts, uint16_t mtu,
			 struct riov_virtio_net_hdr *h)
{
	const uint64_t f = m->ol_flags, l4f = f & RTE_MBUF_F_TX_L4_MASK;
	const bool tso = f & RTE_MBUF_F_TX_TCP_SEG, v6 = f & RTE_MBUF_F_TX_IPV6;
	const uint32_t hdrs = (uint32_t)m->l3_len + m->l4_len;

	memset(h, 0, sizeof(*h));
	/* 5.1.6.4.1: without GUEST_CSUM, flags 0 and no GSO (GUEST_TSO* depend on GUEST_CSUM) */
	if (!(accepts & RIOV_OL_CSUM))
		return;
	if (tso || l4f == RTE_MBUF_F_TX_TCP_CKSUM || l4f == RTE_MBUF_F_TX_UDP_CKSUM) {
		h->flags = RIOV_VNET_HDR_F_NEEDS_CSUM;
		h->csum_start = rte_cpu_to_le_16(m->l2_len + m->l3_len);
		h->csum_offset = rte_cpu_to_le_16(!tso && l4f == RTE_MBUF_F_TX_UDP_CKSUM ?
						  RIOV_VNET_CSUM_OFF_UDP : RIOV_VNET_CSUM_OFF_TCP);
	} else if ((f & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
		h->flags = RIOV_VNET_HDR_F_DATA_VALID;
	}
	if (!tso || !(accepts & (v6 ? RIOV_OL_TSO6 : RIOV_OL_TSO4)))
		return;
	uint8_t type = v6 ? RIOV_VNET_GSO_TCPV6 : RIOV_VNET_GSO_TCPV4;
	if ((ol_tcp_flags(m) & RTE_TCP_CWR_FLAG) && (accepts & RIOV_OL_ECN))
		type |= RIOV_VNET_GSO_ECN;
	h->gso_type = type;
	/* the receiver cuts at gso_size if it forwards the frame: no larger than its MTU allows */
	uint32_t size = m->tso_segsz;
	if (mtu > hdrs && size > mtu - hdrs)
		size = mtu - hdrs;
	h->gso_size = rte_cpu_to_le_16((uint16_t)size);
	h->hdr_len = rte_cpu_to_le_16((uint16_t)(m->l2_len + hdrs));
}

/* ---------------------------------------------------------------------------------------------- */
/* Segmentation */

/* Payload bytes per segment and the number of segments for mtu. */
static int ol_seg_geometry(const struct rte_mbuf *m, uint16_t mtu, struct ol_pkt *p,
			   uint32_t *unit, uint32_t *nseg)
{
	if (!(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG))
		return -RIOV_OL_E_NOT_TSO;
	int rc = ol_meta(m, p);
	if (rc < 0)
		return rc;
	const uint32_t hdrs = (uint32_t)p->l3 + p->l4, hdr = p->l2 + hdrs;
	const uint32_t payload = p->ip_len - hdrs;
	if (mtu <= hdrs)
		return -RIOV_OL_E_MTU;
	uint32_t u = RTE_MIN((uint32_t)m->tso_segsz, mtu - hdrs);
	u = RTE_MIN(u, UINT16_MAX - hdr);       /* rte_gso_ctx.gso_size is 16 bits */
	if (u == 0 || payload == 0)
		return -RIOV_OL_E_META;
	*unit = u;
	*nseg = (payload + u - 1) / u;
	return 0;
}

int riov_ol_nb_segs(const struct rte_mbuf *m, uint16_t mtu)
{
	struct ol_pkt p;
	uint32_t unit, nseg;
	int rc = ol_seg_geometry(m, mtu, &p, &unit, &nseg);
	return rc < 0 ? rc : (int)nseg;
}

/* Append `want` payload bytes from (*inp, *posp) onwards to segment s as indirect mbufs attached
 * to m's segments (zero copy); advance the position. */
static int ol_attach(struct rte_mbuf *s, struct rte_mbuf **inp, uint32_t *posp, uint32_t want,
		     struct rte_mempool *indirect)
{
	struct rte_mbuf *in = *inp, *tail = rte_pktmbuf_lastseg(s);
	uint32_t pos = *posp;

	while (want > 0) {
		while (in != NULL && pos == in->data_len) {
			in = in->next;
			pos = 0;
		}
		if (in == NULL)
			return -RIOV_OL_E_META; /* not reached: ol_meta() bounds the IP length */
		const uint32_t n = RTE_MIN(want, (uint32_t)in->data_len - pos);
		struct rte_mbuf *a = rte_pktmbuf_alloc(indirect);
		if (a == NULL)
			return -RIOV_OL_E_NO_MBUF;
		rte_pktmbuf_attach(a, in);
		a->data_off = (uint16_t)(a->data_off + pos);
		a->data_len = (uint16_t)n;
		a->pkt_len = n;
		tail->next = a;
		tail = a;
		s->nb_segs++;
		s->pkt_len += n;
		pos += n;
		want -= n;
	}
	*inp = in;
	*posp = pos;
	return 0;
}

/* riov's own splitter: TCP/IPv6, which DPDK 22.11's GSO library does not segment (rte_gso has
 * TCP/IPv4, UDP/IPv4 and their VXLAN/GRE tunnels only), and a TSO frame that already fits in one
 * segment (rte_gso_segment() returns 0 for it). Each segment: the headers copied into a direct
 * mbuf, then the payload attached, IP length, IPv4 ID, sequence number and PSH/FIN set. */
static int ol_split(struct rte_mbuf *m, const struct ol_pkt *p, uint32_t unit, uint32_t nseg,
		    struct rte_mempool *direct, struct rte_mempool *indirect, struct rte_mbuf **out)
{
	const uint32_t hdr = (uint32_t)p->l2 + p->l3 + p->l4;
	const uint8_t *src = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint32_t seq0 = rte_be_to_cpu_32(
		((const struct rte_tcp_hdr *)(src + p->l2 + p->l3))->sent_seq);
	const uint16_t id0 = p->v6 ? 0 : ol_be16(src + p->l2 + 4);
	uint32_t left = p->ip_len - p->l3 - p->l4, pos = hdr, i;
	struct rte_mbuf *in = m;
	int rc;

	for (i = 0; i < nseg; i++) {
		struct rte_mbuf *s = rte_pktmbuf_alloc(direct);
		rc = -RIOV_OL_E_NO_MBUF;
		if (s == NULL)
			goto fail;
		out[i] = s;
		uint8_t *d = rte_pktmbuf_mtod(s, uint8_t *);
		memcpy(d, src, hdr);
		s->data_len = (uint16_t)hdr;
		s->pkt_len = hdr;
		s->port = m->port;
		s->packet_type = m->packet_type;
		s->tx_offload = m->tx_offload;
		const uint32_t want = RTE_MIN(unit, left);
		rc = ol_attach(s, &in, &pos, want, indirect);
		if (rc < 0) {
			i++;
			goto fail;
		}
		left -= want;
		struct rte_ipv4_hdr *ip4 = (struct rte_ipv4_hdr *)(d + p->l2);
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(d + p->l2);
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(d + p->l2 + p->l3);
		if (p->v6) {
			ip6->payload_len = rte_cpu_to_be_16((uint16_t)(s->pkt_len - p->l2 - p->l3));
		} else {
			ip4->total_length = rte_cpu_to_be_16((uint16_t)(s->pkt_len - p->l2));
			ip4->packet_id = rte_cpu_to_be_16((uint16_t)(id0 + i));
		}
		th->sent_seq = rte_cpu_to_be_32(seq0 + i * unit);
		if (i + 1 < nseg)
			th->tcp_flags &= (uint8_t)~(RTE_TCP_PSH_FLAG | RTE_TCP_FIN_FLAG);
	}
	return 0;
fail:
	while (i > 0)
		rte_pktmbuf_free(out[--i]);
	return rc;
}

/* TCP/IPv4 through DPDK's GSO library: it cuts the payload (IP length, incrementing IPv4 IDs,
 * sequence numbers, PSH/FIN on the last segment only) but computes no checksum. */
static int ol_gso4(struct rte_mbuf *m, const struct ol_pkt *p, uint32_t unit, uint32_t nseg,
		   struct rte_mempool *direct, struct rte_mempool *indirect, struct rte_mbuf **out)
{
	const struct rte_gso_ctx ctx = {
		.direct_pool = direct,
		.indirect_pool = indirect,
		.flag = 0,      /* IDs incrementing */
		.gso_types = RTE_ETH_TX_OFFLOAD_TCP_TSO,
		.gso_size = (uint16_t)(p->l2 + p->l3 + p->l4 + unit),  /* a segment's frame bytes */
	};
	const uint64_t flags = m->ol_flags;
	int n = rte_gso_segment(m, &ctx, out, (uint16_t)nseg);

	m->ol_flags = flags;    /* rte_gso_segment() took TCP_SEG off the input */
	if (n == -ENOMEM)
		return -RIOV_OL_E_NO_MBUF;
	if (n != (int)nseg) {
		for (int i = 0; i < n; i++)
			rte_pktmbuf_free(out[i]);
		return -RIOV_OL_E_GSO_LIB;
	}
	return n;
}

/* What neither splitter does: CWR on the first segment only (RFC 3168 6.1.2, as Linux's
 * tcp_gso_segment()), IPv4 header and TCP checksums, plain metadata. */
static void ol_seg_finish(struct rte_mbuf *s, bool first, const struct ol_pkt *p, uint64_t flags)
{
	uint8_t *d = rte_pktmbuf_mtod(s, uint8_t *);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(d + p->l2 + p->l3);
	struct ol_pkt sp = *p;

	if (!first)
		th->tcp_flags &= (uint8_t)~RTE_TCP_CWR_FLAG;
	if (!p->v6) {
		struct rte_ipv4_hdr *ip4 = (struct rte_ipv4_hdr *)(d + p->l2);
		ip4->hdr_checksum = 0;
		ip4->hdr_checksum = rte_ipv4_cksum(ip4);
	}
	sp.ip_len = s->pkt_len - p->l2;
	ol_fill_l4(s, &sp);
	/* the input's flags but its TX offloads and how its buffer is held: s is the header copy in
	 * a `direct` mbuf, which owns its buffer. An input attached to an external buffer (an RDMA
	 * link's receive buffer) would otherwise make s look like one, and its free would look for a
	 * shinfo it has none of; DPDK 22.11's GSO copies the input's flags into its header mbufs
	 * too, so the bits are cleared, not kept. */
	s->ol_flags = flags & ~(OL_TX_BITS | OL_BUF_BITS);
	s->l2_len = p->l2;
	s->l3_len = p->l3;
	s->l4_len = p->l4;
	s->tso_segsz = 0;
}

int riov_ol_segment(struct rte_mbuf *m, uint16_t mtu, struct rte_mempool *direct,
		    struct rte_mempool *indirect, struct rte_mbuf **out, uint16_t nb_out)
{
	struct ol_pkt p;
	uint32_t unit, nseg;
	int rc = ol_seg_geometry(m, mtu, &p, &unit, &nseg);

	if (rc < 0)
		return rc;
	if (direct == NULL || indirect == NULL ||
	    rte_pktmbuf_data_room_size(direct) < RTE_PKTMBUF_HEADROOM + p.l2 + p.l3 + p.l4)
		return -RIOV_OL_E_POOL;
	if (nseg > nb_out)
		return -RIOV_OL_E_TOO_MANY;
	if (!p.v6 && nseg > 1)
		rc = ol_gso4(m, &p, unit, nseg, direct, indirect, out);
	else
		rc = ol_split(m, &p, unit, nseg, direct, indirect, out);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < nseg; i++)
		ol_seg_finish(out[i], i == 0, &p, m->ol_flags);
	return (int)nseg;
}

/* ---------------------------------------------------------------------------------------------- */

static const char *const ol_error_text[RIOV_OL_E__MAX] = {
	[RIOV_OL_OK] = "ok",
#define OL_ERROR_TEXT_(name_, text_) [RIOV_OL_E_##name_] = text_,
	RIOV_OL_ERRORS(OL_ERROR_TEXT_)
#undef OL_ERROR_TEXT_
};

const char *riov_ol_strerror(int code)
{
	if (code <= -RIOV_OL_E__MAX || code >= RIOV_OL_E__MAX)
		return "unknown offload error";
	return ol_error_text[code < 0 ? -code : code];
}
