/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Build and parse riov-perf's frames (perf_frame.h). Security model: see the header; the parser
 * never reads past caplen and trusts no length field of the frame.
 */
#include "perf_frame.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* big-endian fields at any alignment */
static void put16(uint8_t *p, uint16_t v)
{
	riov_perf_put16(p, v);
}

static void put32(uint8_t *p, uint32_t v)
{
	uint32_t be = __builtin_bswap32(v);
	memcpy(p, &be, sizeof(be));
}

static void put64(uint8_t *p, uint64_t v)
{
	uint64_t be = __builtin_bswap64(v);
	memcpy(p, &be, sizeof(be));
}

/* RFC 1071 over the 20-byte IPv4 header (its checksum field zero) */
static uint16_t ip_csum(const uint8_t *ip)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += riov_perf_get16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void riov_perf_flow_addr(struct riov_perf_addr *a, const uint8_t dst_mac[6], uint8_t stream,
			 uint32_t flow)
{
	memcpy(a->dst_mac, dst_mac, 6);
	a->src_mac[0] = 0x02; /* locally administered, unicast */
	a->src_mac[1] = 0x72;
	a->src_mac[2] = 0x70;
	a->src_mac[3] = stream;
	a->src_mac[4] = (flow >> 8) & 0xff;
	a->src_mac[5] = flow & 0xff;
	a->src_ip = 10u << 24 | (uint32_t)stream << 16 | (flow & 0xffff);
	a->dst_ip = 10u << 24 | 255u << 16 | 255u << 8 | 1u;
	a->src_port = (uint16_t)(1024 + (flow & 0x3fff));
}

int riov_perf_frame_build(uint8_t *buf, size_t len, const struct riov_perf_addr *a,
			  const struct riov_perf_hdr *h)
{
	if (len < RIOV_PERF_MIN_FRAME || len > RIOV_PERF_SIZE_MAX - RIOV_PERF_FCS)
		return -EINVAL;
	uint8_t *ip = buf + 14, *udp = buf + 34, *ph = buf + RIOV_PERF_HDR_OFF;

	memcpy(buf, a->dst_mac, 6);
	memcpy(buf + 6, a->src_mac, 6);
	put16(buf + 12, 0x0800);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(len - 14));
	put16(ip + 4, 0);      /* identification */
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 17;
	put16(ip + 10, 0);
	put32(ip + 12, a->src_ip);
	put32(ip + 16, a->dst_ip);
	put16(ip + 10, ip_csum(ip));
	put16(udp, a->src_port);
	put16(udp + 2, RIOV_PERF_UDP_PORT);
	put16(udp + 4, (uint16_t)(len - 34));
	put16(udp + 6, 0); /* no UDP checksum (RFC 768: allowed over IPv4) */
	put16(ph, RIOV_PERF_MAGIC);
	ph[2] = h->trial;
	ph[3] = h->stream;
	put32(ph + 4, h->seq);
	put64(ph + 8, h->tsc);
	memset(buf + RIOV_PERF_MIN_FRAME, 0, len - RIOV_PERF_MIN_FRAME);
	return 0;
}

void riov_perf_tmpl_init(struct riov_perf_tmpl *t, const uint8_t dst_mac[6], uint8_t trial, uint8_t stream)
{
	struct riov_perf_addr a;
	struct riov_perf_hdr h = { .trial = trial, .stream = stream, .seq = 0, .tsc = 0 };
	const uint8_t *ip = t->head + 14;

	riov_perf_flow_addr(&a, dst_mac, stream, 0);
	riov_perf_frame_build(t->head, RIOV_PERF_MIN_FRAME, &a, &h);
	t->csum_base = 0;
	for (int i = 0; i < 20; i += 2)
		if (i != 2 && i != 10 && i != 14) /* total length, checksum, source IP's low word */
			t->csum_base += riov_perf_get16(ip + i);
}

int riov_perf_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (s == NULL || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
				&tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

int riov_perf_parse_mac_list(const char *s, uint8_t (*macs)[6], unsigned max)
{
	unsigned n = 0;

	if (s == NULL)
		return -EINVAL;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char one[24];

		if (len == 0 || len >= sizeof(one))
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		memcpy(one, s, len);
		one[len] = '\0';
		if (riov_perf_parse_mac(one, macs[n]) < 0)
			return -EINVAL;
		n++;
		if (comma == NULL)
			return (int)n;
		s = comma + 1;
	}
}
