/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov-perf's test frames: Ethernet / IPv4 / UDP with a 16-byte payload header right after the
 * UDP header (offset 42), DPDK-free so that the unit tests build it without EAL.
 *
 * Payload header (network byte order):
 *   0  u16 magic  RIOV_PERF_MAGIC
 *   2  u8  trial  low 8 bits of the trial number (frames of an earlier trial are "stale")
 *   3  u8  stream stream index (one per tx->rx port pair)
 *   4  u32 seq    sequence number within the stream and trial, from 0
 *   8  u64 tsc    sender's TSC when the frame was handed to the port
 * A 64-byte frame (60 bytes without FCS) has 18 bytes after the UDP header, so the header is 16.
 *
 * Security model: a received frame may be anything (another program's traffic, a truncated copy,
 * a switch's mangling). riov_perf_frame_parse() checks every length before it reads a field and
 * says "foreign" for whatever is not exactly one of ours; nothing of a frame is trusted before.
 */
#ifndef RIOV_TOOLS_PERF_FRAME_H
#define RIOV_TOOLS_PERF_FRAME_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RIOV_PERF_MAGIC 0x52f7u
#define RIOV_PERF_UDP_PORT 7417u
#define RIOV_PERF_HDR_OFF 42u  /* Ethernet 14 + IPv4 20 + UDP 8 */
#define RIOV_PERF_HDR_LEN 16u
#define RIOV_PERF_MIN_FRAME (RIOV_PERF_HDR_OFF + RIOV_PERF_HDR_LEN) /* bytes without FCS */
#define RIOV_PERF_FCS 4u
#define RIOV_PERF_SIZE_MIN 64u   /* frame sizes as on the wire, FCS included (RFC 2544) */
#define RIOV_PERF_SIZE_MAX 1518u
#define RIOV_PERF_TSC_OFF (RIOV_PERF_HDR_OFF + 8u)

/** What a sender puts in a frame, what the parser hands back. */
struct riov_perf_hdr {
	uint8_t trial;
	uint8_t stream;
	uint32_t seq;
	uint64_t tsc;
};

/** Addresses of one frame. */
struct riov_perf_addr {
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	uint32_t src_ip; /* host order */
	uint32_t dst_ip;
	uint16_t src_port;
};

/** The addresses of flow number flow (0..flows-1) of stream stream: source MAC 02:72:70:ss:ff:ff and
 *  source IP 10.ss.ff.ff vary with the flow, destination MAC dst_mac, destination IP 10.255.255.1. */
void riov_perf_flow_addr(struct riov_perf_addr *a, const uint8_t dst_mac[6], uint8_t stream,
			 uint32_t flow);

/** Write a frame of len bytes (FCS excluded: a 64-byte frame is 60) into buf. Returns 0, or -EINVAL
 *  when len is below RIOV_PERF_MIN_FRAME or above RIOV_PERF_SIZE_MAX - RIOV_PERF_FCS. The bytes after the
 *  payload header are zero. */
int riov_perf_frame_build(uint8_t *buf, size_t len, const struct riov_perf_addr *a,
			  const struct riov_perf_hdr *h);

/** Write the TSC of a built frame: riov-perf stamps a burst's frames right before handing them to
 *  the port (and again when the port refused them and they are offered anew). */
static inline void riov_perf_frame_set_tsc(uint8_t *buf, uint64_t tsc)
{
	uint64_t be = __builtin_bswap64(tsc);
	memcpy(buf + RIOV_PERF_TSC_OFF, &be, sizeof(be));
}

/*
 * A stream's frame template: the 58 head bytes of its frames in one trial, built once by
 * riov_perf_frame_build() (flow 0, sequence number 0, TSC 0), so that a frame is a copy of them with
 * the few fields that vary patched in: the flow (source MAC, IP and port), the lengths, the IPv4
 * header checksum (from the sum of the header words that do not vary), the sequence number. The
 * result is byte for byte what riov_perf_frame_build() writes, the TSC left 0
 * (riov_perf_frame_set_tsc() stamps it); test_perf_frame checks this at every size and many flows.
 */
struct riov_perf_tmpl {
	uint8_t head[RIOV_PERF_MIN_FRAME];
	uint32_t csum_base; /* sum of the IPv4 header's 16-bit words but total length, source IP's low
			     * word (the flow) and the checksum, not folded */
};

/** The template of stream's frames in trial trial, towards dst_mac. */
void riov_perf_tmpl_init(struct riov_perf_tmpl *t, const uint8_t dst_mac[6], uint8_t trial, uint8_t stream);

static inline void riov_perf_put16(uint8_t *p, uint16_t v)
{
	uint16_t be = __builtin_bswap16(v);
	memcpy(p, &be, sizeof(be));
}

/** Write a frame of len bytes (FCS excluded; RIOV_PERF_MIN_FRAME.. RIOV_PERF_SIZE_MAX - RIOV_PERF_FCS,
 *  which the caller guarantees) of flow flow (below 65536) with sequence number seq from template t
 *  into buf: what riov_perf_frame_build() writes with riov_perf_flow_addr()'s addresses, TSC 0. */
static inline void riov_perf_tmpl_write(const struct riov_perf_tmpl *t, uint8_t *buf, size_t len,
					uint32_t flow, uint32_t seq)
{
	uint8_t *ip = buf + 14, *udp = buf + 34;
	uint16_t ip_len = (uint16_t)(len - 14);
	uint32_t sum = t->csum_base + ip_len + (flow & 0xffff);
	uint32_t seq_be = __builtin_bswap32(seq);

	memcpy(buf, t->head, RIOV_PERF_MIN_FRAME);
	riov_perf_put16(buf + 10, (uint16_t)flow);       /* source MAC's last two bytes */
	riov_perf_put16(ip + 2, ip_len);
	riov_perf_put16(ip + 14, (uint16_t)flow);        /* source IP's low word */
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	riov_perf_put16(ip + 10, (uint16_t)~sum);
	riov_perf_put16(udp, (uint16_t)(1024 + (flow & 0x3fff)));
	riov_perf_put16(udp + 4, (uint16_t)(len - 34));
	memcpy(buf + RIOV_PERF_HDR_OFF + 4, &seq_be, sizeof(seq_be));
	memset(buf + RIOV_PERF_MIN_FRAME, 0, len - RIOV_PERF_MIN_FRAME);
}

/* big-endian fields at any alignment */
static inline uint16_t riov_perf_get16(const uint8_t *p)
{
	uint16_t be;
	memcpy(&be, p, sizeof(be));
	return __builtin_bswap16(be);
}

static inline uint32_t riov_perf_get32(const uint8_t *p)
{
	uint32_t be;
	memcpy(&be, p, sizeof(be));
	return __builtin_bswap32(be);
}

static inline uint64_t riov_perf_get64(const uint8_t *p)
{
	uint64_t be;
	memcpy(&be, p, sizeof(be));
	return __builtin_bswap64(be);
}

/** Parse a received frame: buf holds caplen bytes of its head, frame_len is its whole length.
 *  Returns 0 and fills *h when it is a riov-perf frame (Ethernet II, IPv4 without options, UDP to
 *  RIOV_PERF_UDP_PORT, lengths consistent with frame_len, magic), else -EINVAL (foreign or
 *  truncated). Reads nothing beyond caplen. Inline: riov-perf parses every frame it receives. */
static inline int riov_perf_frame_parse(const uint8_t *buf, size_t caplen, size_t frame_len,
					struct riov_perf_hdr *h)
{
	if (buf == NULL || caplen < RIOV_PERF_MIN_FRAME || frame_len < caplen)
		return -EINVAL;
	const uint8_t *ip = buf + 14, *udp = buf + 34, *ph = buf + RIOV_PERF_HDR_OFF;
	if (riov_perf_get16(buf + 12) != 0x0800 || ip[0] != 0x45 || ip[9] != 17)
		return -EINVAL;
	/* fragments are not ours (offset or MF set) */
	if ((riov_perf_get16(ip + 6) & 0x3fff) != 0)
		return -EINVAL;
	size_t ip_len = riov_perf_get16(ip + 2), udp_len = riov_perf_get16(udp + 4);
	/* the frame may carry padding after the IP datagram, never less than it announces */
	if (ip_len < 20 + 8 + RIOV_PERF_HDR_LEN || ip_len > frame_len - 14 || udp_len != ip_len - 20)
		return -EINVAL;
	if (riov_perf_get16(udp + 2) != RIOV_PERF_UDP_PORT || riov_perf_get16(ph) != RIOV_PERF_MAGIC)
		return -EINVAL;
	h->trial = ph[2];
	h->stream = ph[3];
	h->seq = riov_perf_get32(ph + 4);
	h->tsc = riov_perf_get64(ph + 8);
	return 0;
}

/** Parse "aa:bb:cc:dd:ee:ff" into mac. Returns 0 or -EINVAL. */
int riov_perf_parse_mac(const char *s, uint8_t mac[6]);

/** Parse a comma-separated list of MACs "MAC0,MAC1,..." into macs[0..max-1] (riov-perf's --dst-mac:
 *  one MAC for every stream, or one per stream). Returns the number of MACs (1 or more), -EINVAL for
 *  a bad or empty entry, or -E2BIG when there are more than max. */
int riov_perf_parse_mac_list(const char *s, uint8_t (*macs)[6], unsigned max);

#endif
