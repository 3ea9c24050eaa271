/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Offloads of virtio-net (virtio 1.2 5.1.6): the virtio_net_hdr a guest sends with a frame becomes
 * the frame's mbuf metadata (ol_flags, l2_len/l3_len/l4_len, tso_segsz) once validated; the
 * metadata becomes the header a receiving guest gets; what a receiver cannot take is done in
 * software (the L4 checksum a sender left partial, TCP segmentation to the receiver's MTU).
 *
 * Security model: the header and the frame come from a guest. riov_ol_from_vnet_hdr() checks the
 * header against what the guest negotiated and against the frame itself (the way Linux's
 * virtio_net_hdr_to_skb() does, and stricter where virtio 1.2 5.1.6.2 says MUST): every refusal
 * has its own RIOV_OL_E_* code, no read goes outside the frame, and the L2/L3/L4 headers of an
 * accepted frame lie in its first mbuf segment. The other functions take mbufs whose metadata
 * riov set, and check it again where a mistake would make them read or write outside the frame.
 * Checksums made here are computed from scratch (pseudo-header from the IP header), never
 * finished from a value the guest left in the checksum field.
 *
 * Thread rules: no state of its own; any thread may call any function on mbufs it owns (the
 * worker, per packet; no locks, no blocking). riov_ol_segment() allocates from the pools it is
 * given (mempool caches: call it from an EAL thread, like every other mbuf allocation of riov).
 */
#ifndef RIOV_DATAPLANE_OFFLOAD_H
#define RIOV_DATAPLANE_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;
struct riov_virtio_net_hdr;   /* dataplane/virtq.h: the header as it is in guest memory */

/* The mbuf TX offload bits that make a frame need riov_ol_plan() on its way out (use where
 * rte_mbuf.h is included). */
#define RIOV_OL_MBUF_FLAGS (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_L4_MASK)

/* virtio 1.2 5.1.6 header values */
#define RIOV_VNET_HDR_F_NEEDS_CSUM 1
#define RIOV_VNET_HDR_F_DATA_VALID 2
#define RIOV_VNET_GSO_NONE 0
#define RIOV_VNET_GSO_TCPV4 1
#define RIOV_VNET_GSO_UDP 3
#define RIOV_VNET_GSO_TCPV6 4
#define RIOV_VNET_GSO_ECN 0x80
/* csum_offset of the checksum field from the L4 header's start */
#define RIOV_VNET_CSUM_OFF_TCP 16
#define RIOV_VNET_CSUM_OFF_UDP 6

/* Offload capabilities, one bit set used for both directions: what a sending guest negotiated
 * (VIRTIO_NET_F_CSUM, HOST_TSO4, HOST_TSO6, HOST_ECN) and what a receiving guest accepts now
 * (GUEST_CSUM, GUEST_TSO4, GUEST_TSO6, GUEST_ECN, as negotiated and as set at run time through
 * VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET). */
#define RIOV_OL_CSUM 1u
#define RIOV_OL_TSO4 2u
#define RIOV_OL_TSO6 4u
#define RIOV_OL_ECN 8u

#define RIOV_OL_MAX_L2 18u                 /* Ethernet and one 802.1Q tag */
#define RIOV_OL_MAX_IP 65535u              /* IPv4 total length, IPv6 40 + payload length */
#define RIOV_OL_MAX_FRAME (RIOV_OL_MAX_L2 + RIOV_OL_MAX_IP) /* largest frame taken with a header */
#define RIOV_OL_MAX_HDRS (RIOV_OL_MAX_L2 + 60u + 60u)        /* L2 + IPv4 + TCP with options */

/* Why a header or a frame was refused (riov_ol_strerror() gives the phrase). Functions return the
 * negative value: -RIOV_OL_E_FLAGS etc. These are not errno values. */
#define RIOV_OL_ERRORS(X)                                                                     \
	/* riov_ol_from_vnet_hdr(): the header against what was negotiated */                 \
	X(FLAGS, "unknown flag bits")                                                          \
	X(CSUM_NOT_NEGOTIATED, "NEEDS_CSUM without VIRTIO_NET_F_CSUM")                         \
	X(GSO_TYPE, "unknown gso_type (or the ECN bit alone)")                                 \
	X(GSO_UDP, "gso_type UDP: riov offers no UFO")                                         \
	X(ECN_NOT_NEGOTIATED, "gso_type ECN bit without HOST_ECN")                             \
	X(TSO_NOT_NEGOTIATED, "GSO frame without HOST_TSO4/HOST_TSO6")                         \
	X(GSO_NO_CSUM, "GSO frame without NEEDS_CSUM")                                         \
	X(GSO_SIZE, "gso_size 0 or larger than an IP packet allows")                           \
	/* the header against the frame */                                                     \
	X(TOO_BIG, "frame over 64 KB")                                                         \
	X(HDR_LEN, "hdr_len beyond the frame")                                                 \
	X(CSUM_RANGE, "csum_start/csum_offset beyond the frame")                               \
	X(TRUNCATED, "headers beyond the end of the frame")                                    \
	X(HDR_SPLIT, "headers past the first buffer")                                          \
	X(NOT_IP, "not IPv4 or IPv6")                                                          \
	X(IP_HDR, "bad IP header (version, IHL < 5)")                                          \
	X(IP_LEN, "IP length disagrees with the frame")                                        \
	X(FRAGMENT, "IPv4 fragment")                                                           \
	X(IPV6_EXT, "IPv6 extension headers")                                                  \
	X(NOT_TCP_UDP, "NEEDS_CSUM on neither TCP nor UDP")                                    \
	X(GSO_FAMILY, "gso_type TCPV4 on IPv6 or TCPV6 on IPv4")                               \
	X(GSO_NOT_TCP, "GSO frame not TCP")                                                    \
	X(GSO_EMPTY, "GSO frame without payload")                                              \
	X(TCP_HDR, "TCP data offset < 5 or past the IP payload")                               \
	X(UDP_LEN, "UDP length disagrees with the IP length")                                  \
	X(CSUM_FIELD, "csum_start/csum_offset not the TCP/UDP checksum field")                 \
	/* riov_ol_csum() / riov_ol_segment() */                                               \
	X(META, "offload metadata disagrees with the frame")                                   \
	X(NOT_TSO, "not a TSO frame")                                                          \
	X(IS_TSO, "TSO frame: segment it")                                                     \
	X(SHARED, "frame data shared (indirect or referenced)")                                \
	X(MTU, "MTU too small for the headers")                                                \
	X(POOL, "mempool missing or its buffers too small for the headers")                    \
	X(TOO_MANY, "more segments than room for them")                                        \
	X(NO_MBUF, "mempool empty")                                                            \
	X(GSO_LIB, "DPDK GSO failed")

enum riov_ol_error {
	RIOV_OL_OK = 0,
#define RIOV_OL_ERROR_ENUM_(name_, text_) RIOV_OL_E_##name_,
	RIOV_OL_ERRORS(RIOV_OL_ERROR_ENUM_)
#undef RIOV_OL_ERROR_ENUM_
	RIOV_OL_E__MAX
};

/** The reason for code (RIOV_OL_E_* or its negative) as a short phrase for a rate-limited log;
 *  "ok" for 0, "unknown offload error" for anything else. Never NULL. */
const char *riov_ol_strerror(int code);

/** Validate the header h that a guest sent with the frame in m (a multi-segment chain allowed;
 *  fields little-endian, as in guest memory; each read once) against what it negotiated
 *  (RIOV_OL_* bits) and against the frame, and turn it into metadata: for NEEDS_CSUM,
 *  RTE_MBUF_F_TX_IPV4/IPV6 and RTE_MBUF_F_TX_TCP_CKSUM/UDP_CKSUM with l2_len (14, or 18 with
 *  one 802.1Q tag), l3_len and l4_len; for GSO also RTE_MBUF_F_TX_TCP_SEG (and
 *  RTE_MBUF_F_TX_IP_CKSUM for IPv4: each segment needs a new IP checksum) and tso_segsz =
 *  gso_size. A header with flags 0 (or DATA_VALID alone, which a driver must not send and which
 *  is ignored) and GSO_NONE leaves m without TX offload bits and does not look at the frame.
 *  Returns 0, or a negative RIOV_OL_E_* code (the caller drops the frame and counts bad_offload);
 *  on any return m's TX offload bits are cleared first, so a refused frame carries none. The
 *  frame is read, never written. On success the L2/L3/L4 headers lie in m's first segment, the
 *  IP length equals the frame's L3 length for GSO (short frames may carry Ethernet padding
 *  otherwise), and no IPv6 extension header precedes TCP/UDP. */
int riov_ol_from_vnet_hdr(struct rte_mbuf *m, const struct riov_virtio_net_hdr *h,
			  unsigned negotiated);

/* What an egress has to do with a frame (riov_ol_plan()). */
enum riov_ol_plan {
	RIOV_OL_PLAN_WHOLE,        /* send m as it is (to a guest: with riov_ol_to_vnet_hdr()) */
	RIOV_OL_PLAN_CSUM,         /* riov_ol_csum() first: the receiver takes no partial sum */
	RIOV_OL_PLAN_SEGMENT,      /* riov_ol_segment() to the receiver's MTU, send the segments */
	RIOV_OL_PLAN_MTU_EXCEEDED, /* drop and count mtu_exceeded: never fragmented */
};

/** What to do with m (metadata from riov_ol_from_vnet_hdr(), or none) for a receiver that accepts
 *  `accepts` (RIOV_OL_* bits) with an MTU of mtu L3 bytes. A TSO frame goes whole when the
 *  receiver accepts TSO for its IP version and CSUM (and ECN if its TCP header has CWR): its
 *  segments are then cut to the receiver's MTU by the receiver (riov_ol_to_vnet_hdr() lowers
 *  gso_size to fit); otherwise it is segmented, or dropped if not even one payload byte fits the
 *  MTU beside the headers. Any other frame whose L3 bytes exceed mtu is MTU_EXCEEDED; one with a
 *  partial checksum goes whole only to a receiver that accepts CSUM. Reads at most the first
 *  segment's headers. */
enum riov_ol_plan riov_ol_plan(const struct rte_mbuf *m, unsigned accepts, uint16_t mtu);

/** riov_ol_plan() == RIOV_OL_PLAN_WHOLE: can m go whole to such a receiver? */
bool riov_ol_fits(const struct rte_mbuf *m, unsigned accepts, uint16_t mtu);

/** The virtio_net_hdr for a receiver that accepts `accepts` with MTU mtu, for a frame that
 *  riov_ol_fits() it (or that riov_ol_csum()/riov_ol_segment() made): fields little-endian,
 *  num_buffers 0 (the caller's). A TSO frame gets GSO_TCPV4/TCPV6 with gso_size = tso_segsz,
 *  lowered to mtu - l3_len - l4_len if larger, hdr_len = l2+l3+l4 and the GSO_ECN bit when its
 *  TCP header has CWR (riov carries ECN in the TCP header, not in the metadata); a TSO or partial
 *  checksum frame gets NEEDS_CSUM with csum_start = l2+l3 and csum_offset 16 (TCP) or 6 (UDP);
 *  a frame whose RX flags say the L4 checksum was verified good gets DATA_VALID. Nothing the
 *  receiver does not accept is set (virtio 1.2 5.1.6.4.1: without GUEST_CSUM flags stay 0). */
void riov_ol_to_vnet_hdr(const struct rte_mbuf *m, unsigned accepts, uint16_t mtu,
			 struct riov_virtio_net_hdr *h);

/** Fill in, in software, the TCP/UDP checksum a sender left to the device (metadata of a
 *  NEEDS_CSUM frame without GSO), over the L4 bytes the IP length covers (Ethernet padding is
 *  not summed), and clear the TX offload bits. Works on multi-segment mbufs; the first segment
 *  must be writable (direct, reference count 1). Returns 0 (also when m has no partial checksum:
 *  nothing done), -RIOV_OL_E_IS_TSO for a TSO frame, -RIOV_OL_E_META when the metadata does not
 *  describe the frame, -RIOV_OL_E_SHARED; on an error m is unchanged. */
int riov_ol_csum(struct rte_mbuf *m);

/** How many segments riov_ol_segment(m, mtu, ...) makes: > 0, or the negative code it would
 *  return before allocating (NOT_TSO, META, MTU). */
int riov_ol_nb_segs(const struct rte_mbuf *m, uint16_t mtu);

/** Software segmentation of a TSO frame (metadata from riov_ol_from_vnet_hdr()) into frames of at
 *  most mtu L3 bytes and at most tso_segsz payload bytes each: IPv4 header checksums and TCP
 *  checksums computed, IPv4 IDs incrementing from the frame's, TCP sequence numbers advancing,
 *  PSH and FIN only on the last segment, CWR only on the first. out[] receives the segments; each
 *  is a header copy in a `direct` mbuf followed by `indirect` mbufs attached to m's data (zero
 *  copy): m is not consumed and not changed (the caller frees it when it likes; its buffers go
 *  back to their pool once m and every segment are freed), and must not be written while
 *  segments live. Segments carry l2/l3/l4 lengths and m's ol_flags without its TX offload bits.
 *  direct needs buffers of RTE_PKTMBUF_HEADROOM + RIOV_OL_MAX_HDRS bytes or more; indirect may
 *  have a data room of 0 (rte_pktmbuf_pool_create(..., 0, ...)); a call takes riov_ol_nb_segs()
 *  direct mbufs and at most that many plus m->nb_segs indirect ones.
 *  Returns the number of segments (>= 1; a frame that already fits gives one), or -NOT_TSO,
 *  -META, -MTU, -POOL, -TOO_MANY (more than nb_out; nothing allocated), -NO_MBUF, -GSO_LIB, with
 *  nothing left allocated on failure. */
int riov_ol_segment(struct rte_mbuf *m, uint16_t mtu, struct rte_mempool *direct,
		    struct rte_mempool *indirect, struct rte_mbuf **out, uint16_t nb_out);

#endif
