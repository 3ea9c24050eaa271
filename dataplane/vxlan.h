/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * VXLAN (RFC 7348) over IPv4 for the fabric (DESIGN.md "Fabric"): the outer headers riov puts in
 * front of a frame for a remote VTEP (a per-peer template: outer Ethernet, IPv4 with DF, UDP to
 * 4789 with checksum 0, the VXLAN header with the I flag and the VNI), and the checks a frame from
 * the uplink passes before riov decapsulates it.
 *
 * Security model: frames from the uplink come from anyone on the underlay. riov_vxlan_parse()
 * reads only the bytes it is given, trusts no length field before checking it against the frame,
 * and sorts every frame into one of three: VXLAN for this VTEP to decapsulate (its inner frame
 * lies wholly inside the outer one), not VXLAN at all (ARP, ICMP, BGP, ssh: the kernel's, through
 * the exception path), or VXLAN (UDP to port 4789, or a frame that claims to be IPv4 and cannot
 * be read as such) that is malformed or not for this VTEP: dropped, with a cause to count. The
 * VNI is the caller's to look up (an unknown one is RIOV_VXLAN_DROP_UNKNOWN_VNI). A non-zero
 * outer UDP checksum is not verified (RFC 7348 section 5: a decapsulating end point MAY verify it;
 * the underlay's own link layer checks every frame).
 *
 * Thread rules: no state of its own; a template is read-only once made (workers share it), any
 * thread may call any function on mbufs it owns; no locks, no blocking, nothing allocated except
 * by riov_vxlan_encap_clone() from the pools it is given.
 */
#ifndef RIOV_DATAPLANE_VXLAN_H
#define RIOV_DATAPLANE_VXLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>

struct rte_mbuf;
struct rte_mempool;

#define RIOV_VXLAN_UDP_PORT 4789
#define RIOV_VXLAN_OUTER_LEN 50u          /* Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 */
#define RIOV_VXLAN_VNI_MAX 0xffffffu
#define RIOV_VXLAN_SPORT_MIN 49152u       /* UDP source ports: 49152-65535 (RFC 7348 5) */
#define RIOV_VXLAN_TTL 64

/** Why a VXLAN frame from the uplink was dropped (riov_vxlan_drop_names[] for counters). */
enum riov_vxlan_drop {
	RIOV_VXLAN_DROP_TRUNCATED = 0, /* ends inside the outer headers or the inner Ethernet header */
	RIOV_VXLAN_DROP_IP_HEADER,     /* IPv4 EtherType but version not 4, or IHL below 5 */
	RIOV_VXLAN_DROP_IP_OPTIONS,    /* IHL above 5: VTEPs send no options */
	RIOV_VXLAN_DROP_IP_LENGTH,     /* total length shorter than its headers or longer than the frame */
	RIOV_VXLAN_DROP_IP_CHECKSUM,   /* outer IPv4 header checksum wrong */
	RIOV_VXLAN_DROP_FRAGMENT,      /* a fragment (MF or an offset): VTEPs never fragment */
	RIOV_VXLAN_DROP_UDP_LENGTH,    /* UDP length not the IPv4 payload's */
	RIOV_VXLAN_DROP_FLAGS,         /* the VXLAN I flag clear */
	RIOV_VXLAN_DROP_RESERVED,      /* other VXLAN flag or reserved bits set */
	RIOV_VXLAN_DROP_NOT_LOCAL,     /* to another IPv4 address than this VTEP's */
	RIOV_VXLAN_DROP_UNKNOWN_VNI,   /* a VNI no network of this node has (the caller's lookup) */
	RIOV_VXLAN_DROP__MAX
};

extern const char *const riov_vxlan_drop_names[RIOV_VXLAN_DROP__MAX];

enum riov_vxlan_verdict {
	RIOV_VXLAN_DECAP = 0,    /* VXLAN for this VTEP: rx describes it */
	RIOV_VXLAN_NOT_VXLAN,    /* not IPv4 UDP to 4789 (nor malformed IPv4): the kernel's */
	RIOV_VXLAN_DROPPED,      /* rx->cause says why */
};

/** What riov_vxlan_parse() found in a VXLAN frame. Addresses in network byte order. */
struct riov_vxlan_rx {
	uint32_t src_ip, dst_ip;       /* outer IPv4 addresses: src is the remote VTEP */
	uint32_t vni;
	uint16_t src_port;             /* outer UDP source port (host order) */
	uint16_t inner_off;            /* the inner Ethernet header's offset in the frame */
	uint32_t inner_len;            /* the inner frame's length (any outer trailer not counted) */
	enum riov_vxlan_drop cause;    /* with RIOV_VXLAN_DROPPED */
};

/** Sort one frame from the uplink. hdr holds the frame's first hdr_len bytes (at least the
 *  outer headers and the inner Ethernet header, RIOV_VXLAN_OUTER_LEN + 14, when the frame is that
 *  long; fewer only when the frame is shorter), frame_len is the whole frame's length. local_ip is
 *  this node's VTEP address (network order). Untagged outer frames only: a VLAN-tagged one is not
 *  VXLAN here (the kernel's). */
enum riov_vxlan_verdict riov_vxlan_parse(const void *hdr, uint32_t hdr_len, uint32_t frame_len,
					 uint32_t local_ip, struct riov_vxlan_rx *rx);

/* Words as they lie in a frame (network order, unaligned), for the inline fast path below. */
static inline uint32_t riov_vx_ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint16_t riov_vx_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The one's complement sum of a 20-byte IPv4 header: five 32-bit words folded (the same sum as
 * rte_raw_cksum's over ten 16-bit words, in fewer steps). */
static inline uint16_t riov_vx_sum20(const uint8_t *ip)
{
	uint64_t s = (uint64_t)riov_vx_ld32(ip) + riov_vx_ld32(ip + 4) + riov_vx_ld32(ip + 8) +
		     riov_vx_ld32(ip + 12) + riov_vx_ld32(ip + 16);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

/** The common frame of riov_vxlan_parse(), inline for the uplink's loop: untagged IPv4 without
 *  options, unfragmented UDP to local_ip's port 4789, the I flag alone, a right checksum and
 *  lengths, compared a few words at a time. true: a frame to decapsulate, rx filled exactly as
 *  riov_vxlan_parse() fills it; false: ask riov_vxlan_parse(), which checks field by field and
 *  names the cause (or says it is the kernel's). Same arguments as riov_vxlan_parse(). */
static inline bool riov_vxlan_parse_fast(const uint8_t *b, uint32_t have, uint32_t frame_len, uint32_t local_ip,
					 struct riov_vxlan_rx *rx)
{
	/* offsets: IPv4 at 14, UDP at 34, VXLAN at 42, the inner frame at 50 (at least 14 bytes) */
	if (unlikely(have < 64u) ||
	    (riov_vx_ld32(b + 12) & RTE_BE32(0xffffff00u)) != RTE_BE32(0x08004500u) ||
	    (riov_vx_ld32(b + 20) & RTE_BE32(0x3fff00ffu)) != RTE_BE32(17u) ||
	    riov_vx_ld32(b + 30) != local_ip || riov_vx_rd16(b + 36) != RIOV_VXLAN_UDP_PORT ||
	    riov_vx_ld32(b + 42) != RTE_BE32(0x08000000u) || b[49] != 0 || riov_vx_sum20(b + 14) != 0xffff)
		return false;
	const uint32_t tl = riov_vx_rd16(b + 16);
	if (tl < 20u + 8u + 8u + 14u || tl > frame_len - 14u || riov_vx_rd16(b + 38) != tl - 20u)
		return false;
	rx->src_ip = riov_vx_ld32(b + 26);
	rx->dst_ip = local_ip;
	rx->vni = (uint32_t)b[46] << 16 | (uint32_t)b[47] << 8 | b[48];
	rx->src_port = riov_vx_rd16(b + 34);
	rx->inner_off = 50;
	rx->inner_len = tl - 20u - 8u - 8u;
	rx->cause = (enum riov_vxlan_drop)0;
	return true;
}

/** The outer headers of a frame riov_vxlan_parse_fast() accepted, kept by the uplink's loop to
 *  recognise the frames after it that repeat them (a bulk transfer: one VTEP, one VNI, one size):
 *  bytes 0-49 of the outer frame less the UDP source port (the sender's flow hash) and the UDP
 *  checksum (not verified, see above), and the frame's length. A frame of the same length whose
 *  bytes 0-49 equal these in every other bit passes every check riov_vxlan_parse_fast() makes, with
 *  the same result: seven word compares instead of its field-by-field checks and checksum. */
struct riov_vxlan_same {
	uint64_t w[6];          /* bytes 0-47, masked as riov_vxlan_same_match() masks a frame */
	uint16_t w48;           /* bytes 48-49: the VNI's last byte and the reserved byte */
	uint32_t frame_len;     /* 0: nothing kept */
	uint32_t inner_len;
};

static inline uint64_t riov_vx_ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* The bits of bytes 32-39 and 40-47 that take part (the UDP source port at 34-35 and checksum at
 * 40-41 do not), as words loaded from the frame in the CPU's byte order. */
static inline uint64_t riov_vx_same_mask(unsigned word)
{
	static const uint8_t m[2][8] = { { 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff },
					 { 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	return riov_vx_ld64(m[word - 4]);
}

/** Keep frame b's outer headers (b: at least 64 bytes, accepted by riov_vxlan_parse_fast() with rx,
 *  frame_len bytes in all, contiguous). */
static inline void riov_vxlan_same_set(struct riov_vxlan_same *s, const uint8_t *b, uint32_t frame_len,
				       const struct riov_vxlan_rx *rx)
{
	for (unsigned i = 0; i < 6; i++)
		s->w[i] = riov_vx_ld64(b + 8 * i) & (i >= 4 ? riov_vx_same_mask(i) : ~(uint64_t)0);
	memcpy(&s->w48, b + 48, sizeof(s->w48));
	s->frame_len = frame_len;
	s->inner_len = rx->inner_len;
}

/** Frame b (frame_len bytes, contiguous) repeats the kept headers: decapsulate it as that frame
 *  was (its inner frame s->inner_len bytes at offset RIOV_VXLAN_OUTER_LEN, from the same VTEP and
 *  VNI). Reads 50 bytes of b only when its length is the kept frame's (at least 64). */
static inline bool riov_vxlan_same_match(const struct riov_vxlan_same *s, const uint8_t *b, uint32_t frame_len)
{
	if (frame_len != s->frame_len || s->frame_len == 0)
		return false;
	uint16_t e;
	memcpy(&e, b + 48, sizeof(e));
	uint64_t d = (riov_vx_ld64(b) ^ s->w[0]) | (riov_vx_ld64(b + 8) ^ s->w[1]) |
		     (riov_vx_ld64(b + 16) ^ s->w[2]) | (riov_vx_ld64(b + 24) ^ s->w[3]) |
		     ((riov_vx_ld64(b + 32) & riov_vx_same_mask(4)) ^ s->w[4]) |
		     ((riov_vx_ld64(b + 40) & riov_vx_same_mask(5)) ^ s->w[5]) | (uint16_t)(e ^ s->w48);
	return d == 0;
}

/** The outer headers toward one remote VTEP, made once and shared read-only. */
struct riov_vxlan_tmpl {
	uint8_t hdr[RIOV_VXLAN_OUTER_LEN];
	uint16_t ip_sum;               /* the outer IPv4 header's one's complement sum (as rte_raw_cksum
					* gives it) with total length and checksum 0: a frame's checksum
					* adds its total length alone */
};

/** Make the template: outer Ethernet src_mac -> dst_mac (the next hop's), IPv4 src_ip -> dst_ip
 *  (network order; DF, TTL 64, ID 0), UDP to 4789 with checksum 0, VXLAN with the I flag and vni
 *  (<= RIOV_VXLAN_VNI_MAX). Returns 0 or -EINVAL. */
int riov_vxlan_tmpl_init(struct riov_vxlan_tmpl *t, const uint8_t src_mac[6], const uint8_t dst_mac[6],
			 uint32_t src_ip, uint32_t dst_ip, uint32_t vni);

/** The outer UDP source port for a frame (49152-65535): a hash of its inner flow (Ethernet
 *  addresses and type; IPv4 or IPv6 addresses and protocol; TCP/UDP ports of an unfragmented
 *  packet), so that the underlay's ECMP spreads flows and keeps each in order. */
uint16_t riov_vxlan_src_port(const struct rte_mbuf *m);

/** Encapsulate m in place: prepend the template's headers (m must be direct, writable, with
 *  RIOV_VXLAN_OUTER_LEN bytes of headroom) and fill in lengths, IPv4 checksum and src_port.
 *  Returns 0; -ENOSPC without headroom, -EINVAL for an indirect or shared mbuf or an inner frame
 *  too long for IPv4 (nothing changed then). */
int riov_vxlan_encap(struct rte_mbuf *m, const struct riov_vxlan_tmpl *t, uint16_t src_port);

/** Encapsulate a copy of m without copying its data (head-end replication, a frame in shared
 *  mbufs): a header mbuf from hdr_pool chained to a clone of m from clone_pool (indirect mbufs).
 *  m is unchanged and still the caller's. Returns the new frame, or NULL (pool empty, or the frame
 *  too long). */
struct rte_mbuf *riov_vxlan_encap_clone(struct rte_mbuf *m, const struct riov_vxlan_tmpl *t, uint16_t src_port,
					struct rte_mempool *hdr_pool, struct rte_mempool *clone_pool);

#endif
