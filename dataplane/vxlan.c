/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * VXLAN over IPv4: outer header templates, encapsulation, and the sorting of uplink frames (see
 * vxlan.h for the security model and thread rules).
 */
#include "dataplane/vxlan.h"

#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "dataplane/offload.h"

const char *const riov_vxlan_drop_names[RIOV_VXLAN_DROP__MAX] = {
	[RIOV_VXLAN_DROP_TRUNCATED] = "truncated",       [RIOV_VXLAN_DROP_IP_HEADER] = "ip_header",
	[RIOV_VXLAN_DROP_IP_OPTIONS] = "ip_options",     [RIOV_VXLAN_DROP_IP_LENGTH] = "ip_length",
	[RIOV_VXLAN_DROP_IP_CHECKSUM] = "ip_checksum",   [RIOV_VXLAN_DROP_FRAGMENT] = "fragment",
	[RIOV_VXLAN_DROP_UDP_LENGTH] = "udp_length",     [RIOV_VXLAN_DROP_FLAGS] = "vxlan_flags",
	[RIOV_VXLAN_DROP_RESERVED] = "vxlan_reserved",   [RIOV_VXLAN_DROP_NOT_LOCAL] = "not_local",
	[RIOV_VXLAN_DROP_UNKNOWN_VNI] = "unknown_vni",
};

/* Offsets in an untagged outer frame */
#define VX_ETH 14u
#define VX_IP VX_ETH
#define VX_UDP (VX_IP + 20u)
#define VX_HDR (VX_UDP + 8u)
#define VX_FLAG_I 0x08u

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Words as they lie in the frame (network order, unaligned) */
static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t ld32(const uint8_t *p)
{
	return riov_vx_ld32(p);
}


static inline enum riov_vxlan_verdict vx_drop(struct riov_vxlan_rx *rx, enum riov_vxlan_drop cause)
{
	rx->cause = cause;
	return RIOV_VXLAN_DROPPED;
}

enum riov_vxlan_verdict riov_vxlan_parse(const void *hdr, uint32_t hdr_len, uint32_t frame_len,
					 uint32_t local_ip, struct riov_vxlan_rx *rx)
{
	const uint8_t *b = hdr;
	/* what this function may read: the bytes it was given, within the frame */
	const uint32_t have = hdr_len < frame_len ? hdr_len : frame_len;

	if (riov_vxlan_parse_fast(b, have, frame_len, local_ip, rx))
		return RIOV_VXLAN_DECAP;
	memset(rx, 0, sizeof(*rx));
	if (have < VX_ETH)
		return vx_drop(rx, RIOV_VXLAN_DROP_TRUNCATED);
	if (rd16(b + 12) != RTE_ETHER_TYPE_IPV4)
		return RIOV_VXLAN_NOT_VXLAN;
	if (have < VX_IP + 20u)
		return vx_drop(rx, RIOV_VXLAN_DROP_TRUNCATED);
	const uint8_t *ip = b + VX_IP;
	if (ip[9] != IPPROTO_UDP)
		return RIOV_VXLAN_NOT_VXLAN; /* ICMP, TCP (BGP, ssh), ...: the kernel checks them */
	const unsigned ihl = ip[0] & 15u;
	if ((ip[0] >> 4) != 4 || ihl < 5)
		return vx_drop(rx, RIOV_VXLAN_DROP_IP_HEADER);
	const uint32_t udp_off = VX_IP + 4u * ihl;
	if (have < udp_off + 8u)
		return vx_drop(rx, RIOV_VXLAN_DROP_TRUNCATED);
	const uint8_t *udp = b + udp_off;
	if (rd16(udp + 2) != RIOV_VXLAN_UDP_PORT)
		return RIOV_VXLAN_NOT_VXLAN;

	/* from here on the frame claims to be VXLAN: every field is checked before it is used */
	if (ihl != 5)
		return vx_drop(rx, RIOV_VXLAN_DROP_IP_OPTIONS);
	if (riov_vx_sum20(ip) != 0xffff) /* the one's complement sum of a right header */
		return vx_drop(rx, RIOV_VXLAN_DROP_IP_CHECKSUM);
	if (rd16(ip + 6) & 0x3fffu)
		return vx_drop(rx, RIOV_VXLAN_DROP_FRAGMENT);
	const uint32_t tl = rd16(ip + 2);
	if (tl < 20u + 8u + 8u + RTE_ETHER_HDR_LEN || tl > frame_len - VX_ETH)
		return vx_drop(rx, RIOV_VXLAN_DROP_IP_LENGTH);
	if (have < VX_HDR + 8u + RTE_ETHER_HDR_LEN)
		return vx_drop(rx, RIOV_VXLAN_DROP_TRUNCATED); /* the caller gave too few bytes */
	uint32_t dst, src;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	if (dst != local_ip)
		return vx_drop(rx, RIOV_VXLAN_DROP_NOT_LOCAL);
	if (rd16(udp + 4) != tl - 20u)
		return vx_drop(rx, RIOV_VXLAN_DROP_UDP_LENGTH);
	const uint8_t *vx = b + VX_HDR;
	if (!(vx[0] & VX_FLAG_I))
		return vx_drop(rx, RIOV_VXLAN_DROP_FLAGS);
	if ((vx[0] & ~VX_FLAG_I) || vx[1] || vx[2] || vx[3] || vx[7])
		return vx_drop(rx, RIOV_VXLAN_DROP_RESERVED);

	rx->src_ip = src;
	rx->dst_ip = dst;
	rx->vni = (uint32_t)vx[4] << 16 | (uint32_t)vx[5] << 8 | vx[6];
	rx->src_port = rd16(udp);
	rx->inner_off = (uint16_t)(VX_HDR + 8u);
	rx->inner_len = tl - 20u - 8u - 8u;   /* Ethernet padding after the IPv4 packet is not inner */
	return RIOV_VXLAN_DECAP;
}

int riov_vxlan_tmpl_init(struct riov_vxlan_tmpl *t, const uint8_t src_mac[6], const uint8_t dst_mac[6],
			 uint32_t src_ip, uint32_t dst_ip, uint32_t vni)
{
	if (vni > RIOV_VXLAN_VNI_MAX)
		return -EINVAL;
	uint8_t *h = t->hdr;
	memset(h, 0, sizeof(t->hdr));
	memcpy(h, dst_mac, 6);
	memcpy(h + 6, src_mac, 6);
	h[12] = RTE_ETHER_TYPE_IPV4 >> 8;
	h[13] = RTE_ETHER_TYPE_IPV4 & 0xff;
	uint8_t *ip = h + VX_IP;
	ip[0] = 0x45;
	ip[6] = 0x40;                    /* DF, ID 0 (RFC 6864: an atomic datagram) */
	ip[8] = RIOV_VXLAN_TTL;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &src_ip, 4);
	memcpy(ip + 16, &dst_ip, 4);
	uint8_t *udp = h + VX_UDP;
	udp[2] = RIOV_VXLAN_UDP_PORT >> 8;
	udp[3] = RIOV_VXLAN_UDP_PORT & 0xff;
	uint8_t *vx = h + VX_HDR;
	vx[0] = VX_FLAG_I;
	vx[4] = (uint8_t)(vni >> 16);
	vx[5] = (uint8_t)(vni >> 8);
	vx[6] = (uint8_t)vni;
	t->ip_sum = rte_raw_cksum(ip, 20);
	return 0;
}

/* Write the outer headers for an inner frame of inner_len bytes at h. */
static void vx_fill(uint8_t *h, const struct riov_vxlan_tmpl *t, uint32_t inner_len, uint16_t src_port)
{
	memcpy(h, t->hdr, RIOV_VXLAN_OUTER_LEN);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(h + VX_IP);
	const uint16_t tl = rte_cpu_to_be_16((uint16_t)(inner_len + RIOV_VXLAN_OUTER_LEN - VX_ETH));
	ip->total_length = tl;
	/* the template's sum plus the total length, as rte_ipv4_cksum() would sum the whole header */
	uint32_t sum = (uint32_t)t->ip_sum + tl;
	sum = (sum & 0xffffu) + (sum >> 16);
	ip->hdr_checksum = (uint16_t)~sum;
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(h + VX_UDP);
	udp->src_port = rte_cpu_to_be_16(src_port);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(inner_len + 16u));
}

/* the longest inner frame an IPv4 total length can carry */
#define VX_MAX_INNER (65535u - (RIOV_VXLAN_OUTER_LEN - VX_ETH))

int riov_vxlan_encap(struct rte_mbuf *m, const struct riov_vxlan_tmpl *t, uint16_t src_port)
{
	if (!RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1 || m->pkt_len > VX_MAX_INNER ||
	    (m->ol_flags & RIOV_OL_MBUF_FLAGS))
		return -EINVAL; /* offload metadata: made whole (riov_ol_plan) before encapsulation */
	if (rte_pktmbuf_headroom(m) < RIOV_VXLAN_OUTER_LEN)
		return -ENOSPC;
	uint32_t inner_len = m->pkt_len;
	uint8_t *h = (uint8_t *)rte_pktmbuf_prepend(m, RIOV_VXLAN_OUTER_LEN);
	vx_fill(h, t, inner_len, src_port);
	return 0;
}

struct rte_mbuf *riov_vxlan_encap_clone(struct rte_mbuf *m, const struct riov_vxlan_tmpl *t, uint16_t src_port,
					struct rte_mempool *hdr_pool, struct rte_mempool *clone_pool)
{
	if (m->pkt_len > VX_MAX_INNER || (m->ol_flags & RIOV_OL_MBUF_FLAGS))
		return NULL;
	struct rte_mbuf *h = rte_pktmbuf_alloc(hdr_pool);
	if (h == NULL)
		return NULL;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(h, RIOV_VXLAN_OUTER_LEN);
	struct rte_mbuf *c = p != NULL ? rte_pktmbuf_clone(m, clone_pool) : NULL;
	if (c == NULL || rte_pktmbuf_chain(h, c) != 0) {
		rte_pktmbuf_free(c);
		rte_pktmbuf_free(h);
		return NULL;
	}
	vx_fill(p, t, m->pkt_len, src_port);
	return h;
}


/* The bytes of the headers src_port hashes: Ethernet, IPv6 (the longer), the L4 ports. */
#define VX_KEY_BYTES (RTE_ETHER_HDR_LEN + 40u + 4u)

uint16_t riov_vxlan_src_port(const struct rte_mbuf *m)
{
	/* Words loaded straight from the frame into the CRC (no key built on the stack: stores of
	 * small fields read back as words stall on store forwarding). Headers not in the first
	 * segment, or a frame shorter than them, are read into buf, zero-padded. */
	uint8_t buf[VX_KEY_BYTES];
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t have = rte_pktmbuf_data_len(m);

	if (unlikely(have < VX_KEY_BYTES)) {
		have = RTE_MIN(rte_pktmbuf_pkt_len(m), VX_KEY_BYTES);
		memset(buf, 0, sizeof(buf));
		p = rte_pktmbuf_read(m, 0, have, buf);
		if (p != buf && p != NULL) {
			memcpy(buf, p, have);   /* all in the first segment, but short: pad it */
		}
		p = buf;
	}
	/* Ethernet: destination and source addresses and type (bytes 0-13, two overlapping words) */
	uint32_t h = rte_hash_crc_8byte(ld64(p), 0x7a5f1d3bu);
	h = rte_hash_crc_8byte(ld64(p + 6), h);
	const uint16_t type = rd16(p + 12);
	const uint8_t *ip = p + RTE_ETHER_HDR_LEN;
	uint32_t l4 = 0;
	uint8_t proto = 0;

	if (type == RTE_ETHER_TYPE_IPV4 && (ip[0] >> 4) == 4 && (ip[0] & 15u) >= 5) {
		h = rte_hash_crc_8byte(ld64(ip + 12), h);   /* source and destination addresses */
		proto = ip[9];
		if ((rd16(ip + 6) & 0x3fffu) == 0)
			l4 = RTE_ETHER_HDR_LEN + 4u * (ip[0] & 15u);
	} else if (type == RTE_ETHER_TYPE_IPV6) {
		for (unsigned k = 8; k < 40; k += 8)
			h = rte_hash_crc_8byte(ld64(ip + k), h);
		proto = ip[6];
		l4 = RTE_ETHER_HDR_LEN + 40u;
	}
	if (l4 != 0 && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
		uint8_t pb[4];
		const uint8_t *ports = NULL;
		if (l4 + 4u <= have)
			ports = p + l4;
		else if (l4 + 4u <= rte_pktmbuf_pkt_len(m))
			ports = rte_pktmbuf_read(m, l4, 4, pb);   /* IPv4 options: past the key bytes */
		if (ports != NULL)
			h = rte_hash_crc_4byte(ld32(ports) ^ proto, h);
		else
			h = rte_hash_crc_4byte(proto, h);
	} else {
		h = rte_hash_crc_4byte(proto, h);
	}
	return (uint16_t)(RIOV_VXLAN_SPORT_MIN + ((h ^ (h >> 16)) & 0x3fffu));
}
