/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov-perf's frames (tools/riov-perf/perf_frame.c) and its exact receive accounting
 * (perf_stream.c): build/parse round trips at every size, truncated, mangled and foreign frames
 * refused; --dst-mac's list and each stream's destination MAC; loss, duplicates and reordering
 * counted exactly.
 */
#include <errno.h>

#include "riov_test.h"

#include "perf_frame.h"
#include "perf_stream.h"

static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x42 };

static void build(uint8_t *buf, size_t len, uint8_t stream, uint32_t flow, uint32_t seq)
{
	struct riov_perf_addr a;
	struct riov_perf_hdr h = { .trial = 7, .stream = stream, .seq = seq, .tsc = 0x0123456789abcdefull };
	riov_perf_flow_addr(&a, dst, stream, flow);
	CHECK_EQ(riov_perf_frame_build(buf, len, &a, &h), 0);
}

RIOV_TEST(round_trip_every_size)
{
	static uint8_t buf[2048];
	for (size_t len = RIOV_PERF_MIN_FRAME; len <= RIOV_PERF_SIZE_MAX - RIOV_PERF_FCS; len++) {
		struct riov_perf_hdr h;
		build(buf, len, 3, (uint32_t)len, (uint32_t)(0xfffffff0u + len));
		memset(&h, 0, sizeof(h));
		CHECK_EQ(riov_perf_frame_parse(buf, len, len, &h), 0);
		CHECK_EQ(h.trial, 7);
		CHECK_EQ(h.stream, 3);
		CHECK(h.seq == (uint32_t)(0xfffffff0u + len));
		CHECK(h.tsc == 0x0123456789abcdefull);
		/* only the head captured, the frame longer: still ours */
		CHECK_EQ(riov_perf_frame_parse(buf, RIOV_PERF_MIN_FRAME, len, &h), 0);
		/* padded by a link (a frame longer than its IP datagram) */
		CHECK_EQ(riov_perf_frame_parse(buf, len, len + 4, &h), 0);
	}
	CHECK_EQ(RIOV_PERF_MIN_FRAME, 58);
	CHECK(RIOV_PERF_MIN_FRAME <= RIOV_PERF_SIZE_MIN - RIOV_PERF_FCS);
}

RIOV_TEST(header_fields)
{
	uint8_t buf[60];
	build(buf, sizeof(buf), 1, 0x1234, 5);
	CHECK(memcmp(buf, dst, 6) == 0);
	CHECK(buf[6] == 0x02 && buf[9] == 1 && buf[10] == 0x12 && buf[11] == 0x34);
	CHECK(buf[12] == 0x08 && buf[13] == 0x00);
	CHECK(buf[16] == 0 && buf[17] == 46); /* IP total length 60 - 14 */
	CHECK(buf[26] == 10 && buf[27] == 1 && buf[28] == 0x12 && buf[29] == 0x34);
	/* the IPv4 header checksum verifies: one's complement sum of the header is 0xffff */
	uint32_t sum = 0;
	for (int i = 14; i < 34; i += 2)
		sum += (uint32_t)(buf[i] << 8 | buf[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	CHECK_EQ(sum, 0xffff);
	CHECK(buf[38] == 0 && buf[39] == 26); /* UDP length 60 - 34 */
	riov_perf_frame_set_tsc(buf, 42);
	struct riov_perf_hdr h = { 0 };
	CHECK_EQ(riov_perf_frame_parse(buf, sizeof(buf), sizeof(buf), &h), 0);
	CHECK(h.tsc == 42);
	/* flows differ in source MAC and IP; the same flow of another stream differs too */
	struct riov_perf_addr a, b;
	riov_perf_flow_addr(&a, dst, 0, 1);
	riov_perf_flow_addr(&b, dst, 0, 2);
	CHECK(memcmp(a.src_mac, b.src_mac, 6) != 0 && a.src_ip != b.src_ip);
	riov_perf_flow_addr(&b, dst, 1, 1);
	CHECK(memcmp(a.src_mac, b.src_mac, 6) != 0 && a.src_ip != b.src_ip);
}

RIOV_TEST(build_refuses_bad_sizes)
{
	uint8_t buf[2048];
	struct riov_perf_addr a;
	struct riov_perf_hdr h = { 0 };
	riov_perf_flow_addr(&a, dst, 0, 0);
	CHECK_EQ(riov_perf_frame_build(buf, RIOV_PERF_MIN_FRAME - 1, &a, &h), -EINVAL);
	CHECK_EQ(riov_perf_frame_build(buf, RIOV_PERF_SIZE_MAX - RIOV_PERF_FCS + 1, &a, &h), -EINVAL);
}

RIOV_TEST(truncated_refused)
{
	uint8_t buf[128];
	struct riov_perf_hdr h;
	build(buf, 100, 0, 0, 1);
	for (size_t len = 0; len < RIOV_PERF_MIN_FRAME; len++)
		CHECK_EQ(riov_perf_frame_parse(buf, len, len, &h), -EINVAL);
	/* head long enough, but the frame shorter than its IP header says */
	CHECK_EQ(riov_perf_frame_parse(buf, 60, 60, &h), -EINVAL);
	CHECK_EQ(riov_perf_frame_parse(buf, 99, 99, &h), -EINVAL);
	CHECK_EQ(riov_perf_frame_parse(buf, 100, 100, &h), 0);
	/* caplen beyond frame_len is a caller's error */
	CHECK_EQ(riov_perf_frame_parse(buf, 100, 99, &h), -EINVAL);
	CHECK_EQ(riov_perf_frame_parse(NULL, 100, 100, &h), -EINVAL);
}

/* Every single-byte change of the headers that matters makes it foreign */
RIOV_TEST(foreign_refused)
{
	static const int fields[] = { 12, 13, 14, 23, 16, 17, 20, 36, 37, 38, 39, 42, 43 };
	uint8_t good[64], buf[64];
	struct riov_perf_hdr h;
	build(good, 60, 0, 0, 1);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		memcpy(buf, good, sizeof(good));
		buf[fields[i]] ^= 0x21;
		CHECK_EQ(riov_perf_frame_parse(buf, 60, 60, &h), -EINVAL);
	}
	/* a VLAN tag in front, an IPv4 header with options, an ARP frame, all zeros */
	memcpy(buf, good, sizeof(good));
	buf[12] = 0x81;
	buf[13] = 0x00;
	CHECK_EQ(riov_perf_frame_parse(buf, 60, 60, &h), -EINVAL);
	memcpy(buf, good, sizeof(good));
	buf[14] = 0x46;
	CHECK_EQ(riov_perf_frame_parse(buf, 60, 60, &h), -EINVAL);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(riov_perf_frame_parse(buf, 60, 60, &h), -EINVAL);
	buf[12] = 0x08;
	buf[13] = 0x06;
	CHECK_EQ(riov_perf_frame_parse(buf, 60, 60, &h), -EINVAL);
	/* header fields a receiver may not mind: TTL, checksum, stream, seq */
	memcpy(buf, good, sizeof(good));
	buf[22] = 1;
	buf[24] ^= 0xff;
	CHECK_EQ(riov_perf_frame_parse(buf, 60, 60, &h), 0);
}

RIOV_TEST(parse_mac)
{
	uint8_t m[6];
	CHECK_EQ(riov_perf_parse_mac("02:aB:00:ff:10:09", m), 0);
	CHECK(m[0] == 2 && m[1] == 0xab && m[3] == 0xff && m[5] == 9);
	CHECK_EQ(riov_perf_parse_mac("02:ab:00:ff:10", m), -EINVAL);
	CHECK_EQ(riov_perf_parse_mac("02:ab:00:ff:10:09:00", m), -EINVAL);
	CHECK_EQ(riov_perf_parse_mac("02:ab:00:ff:10:0g", m), -EINVAL);
	CHECK_EQ(riov_perf_parse_mac("zz:ab:00:ff:10:09", m), -EINVAL);
	CHECK_EQ(riov_perf_parse_mac("", m), -EINVAL);
}

/* --dst-mac's list: one MAC, or one per stream */
RIOV_TEST(parse_mac_list)
{
	uint8_t m[4][6];
	memset(m, 0, sizeof(m));
	CHECK_EQ(riov_perf_parse_mac_list("02:00:00:00:00:01", m, 4), 1);
	CHECK(m[0][0] == 2 && m[0][5] == 1 && m[1][5] == 0);
	CHECK_EQ(riov_perf_parse_mac_list("02:00:00:00:00:0a,02:00:00:00:00:0b,ff:ff:ff:ff:ff:ff", m, 4), 3);
	CHECK(m[0][5] == 0x0a && m[1][5] == 0x0b && m[2][0] == 0xff && m[2][5] == 0xff);
	CHECK_EQ(riov_perf_parse_mac_list("02:00:00:00:00:01,02:00:00:00:00:02,02:00:00:00:00:03,"
					  "02:00:00:00:00:04", m, 4), 4);
	CHECK(m[3][5] == 4);
	/* more than max, an empty entry, a bad one */
	CHECK_EQ(riov_perf_parse_mac_list("02:00:00:00:00:01,02:00:00:00:00:02,02:00:00:00:00:03,"
					  "02:00:00:00:00:04,02:00:00:00:00:05", m, 4), -E2BIG);
	CHECK_EQ(riov_perf_parse_mac_list("02:00:00:00:00:01,", m, 4), -EINVAL);
	CHECK_EQ(riov_perf_parse_mac_list(",02:00:00:00:00:01", m, 4), -EINVAL);
	CHECK_EQ(riov_perf_parse_mac_list("02:00:00:00:00:01,,02:00:00:00:00:02", m, 4), -EINVAL);
	CHECK_EQ(riov_perf_parse_mac_list("02:00:00:00:00:01,02:00:00:00:00", m, 4), -EINVAL);
	CHECK_EQ(riov_perf_parse_mac_list("02:00:00:00:00:01;02:00:00:00:00:02", m, 4), -EINVAL);
	CHECK_EQ(riov_perf_parse_mac_list("02:00:00:00:00:01:02:00:00:00:00:02:03:04", m, 4), -EINVAL);
	CHECK_EQ(riov_perf_parse_mac_list("", m, 4), -EINVAL);
	CHECK_EQ(riov_perf_parse_mac_list(NULL, m, 4), -EINVAL);
}

/* Each stream's frames carry its own destination MAC, whatever the flow; parse does not mind it */
RIOV_TEST(per_stream_dst_mac)
{
	static const uint8_t macs[2][6] = { { 0x02, 0, 0, 0, 0, 0x0a }, { 0x02, 0, 0, 0, 0, 0x0b } };
	for (uint8_t s = 0; s < 2; s++)
		for (uint32_t flow = 0; flow < 300; flow += 7) {
			uint8_t buf[60];
			struct riov_perf_addr a;
			struct riov_perf_hdr h = { .trial = 1, .stream = s, .seq = flow, .tsc = 1 };
			riov_perf_flow_addr(&a, macs[s], s, flow);
			CHECK_EQ(riov_perf_frame_build(buf, sizeof(buf), &a, &h), 0);
			CHECK(memcmp(buf, macs[s], 6) == 0);
			CHECK(buf[6] == 0x02 && buf[9] == s); /* source MAC 02:72:70:ss:ff:ff */
			CHECK_EQ(riov_perf_frame_parse(buf, sizeof(buf), sizeof(buf), &h), 0);
			CHECK_EQ(h.stream, s);
		}
}

RIOV_TEST(stream_exact_counts)
{
	struct riov_perf_stream_rx s;
	CHECK_EQ(riov_perf_stream_init(&s, 1000), 0);
	/* 0..999 minus every 7th, 10..19 twice, 500..509 backwards */
	for (uint64_t i = 0; i < 1000; i++) {
		if (i >= 500 && i < 510)
			continue;
		if (i % 7 != 0)
			CHECK(riov_perf_stream_rx(&s, i, 100) == RIOV_PERF_RX_NEW);
		if (i == 600)
			for (uint64_t j = 509; j >= 500; j--)
				if (j % 7 != 0)
					CHECK(riov_perf_stream_rx(&s, j, 100) == RIOV_PERF_RX_REORDERED);
	}
	for (uint64_t i = 10; i < 20; i++)
		if (i % 7 != 0)
			CHECK(riov_perf_stream_rx(&s, i, 100) == RIOV_PERF_RX_DUPLICATE);
	CHECK(riov_perf_stream_rx(&s, 1000, 100) == RIOV_PERF_RX_OUT_OF_RANGE);
	CHECK(riov_perf_stream_rx(&s, UINT64_MAX, 100) == RIOV_PERF_RX_OUT_OF_RANGE);
	CHECK_EQ(s.received, 1000 - 143);            /* 0, 7, ..., 994 missing */
	CHECK_EQ(riov_perf_stream_lost(&s, 1000), 143);
	CHECK_EQ(s.duplicates, 9);                    /* 10..19 but 14 */
	CHECK_EQ(s.reordered, 9);                     /* 500..509 but 504, all after 600 */
	CHECK_EQ(s.out_of_range, 2);
	CHECK_EQ(s.lat.count, s.received);
	CHECK_EQ(riov_perf_stream_lost(&s, 10), 0);
	riov_perf_stream_reset(&s);
	CHECK_EQ(s.received, 0);
	CHECK(riov_perf_stream_rx(&s, 10, 1) == RIOV_PERF_RX_NEW);
	riov_perf_stream_fini(&s);
}

/* riov-perf builds its frames from a per-stream template: byte for byte riov_perf_frame_build()'s,
 * at every size, for flows across the 16-bit range (the checksum's carries included), streams and
 * trials; the buffer's old contents (a recycled mbuf) do not show through */
RIOV_TEST(template_equals_build)
{
	static uint8_t want[2048], got[2048];
	static const uint32_t flows[] = { 0, 1, 2, 255, 256, 0x3fff, 0x4000, 0x7fff, 0xbeef, 0xfffe, 0xffff };
	static const uint8_t macs[2][6] = { { 0x02, 0, 0, 0, 0, 0x42 }, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	unsigned checked = 0;

	for (unsigned m = 0; m < 2; m++)
		for (unsigned stream = 0; stream < 64; stream += 21)
			for (unsigned trial = 0; trial < 256; trial += 85) {
				struct riov_perf_tmpl t;
				riov_perf_tmpl_init(&t, macs[m], (uint8_t)trial, (uint8_t)stream);
				for (size_t len = RIOV_PERF_MIN_FRAME; len <= RIOV_PERF_SIZE_MAX - RIOV_PERF_FCS; len++)
					for (unsigned f = 0; f < sizeof(flows) / sizeof(flows[0]); f++) {
						uint32_t seq = (uint32_t)(len * 2654435761u + f);
						struct riov_perf_addr a;
						struct riov_perf_hdr h = { .trial = (uint8_t)trial, .stream = (uint8_t)stream,
									   .seq = seq, .tsc = 0 };
						riov_perf_flow_addr(&a, macs[m], (uint8_t)stream, flows[f]);
						CHECK_EQ(riov_perf_frame_build(want, len, &a, &h), 0);
						memset(got, 0xa5, sizeof(got));
						riov_perf_tmpl_write(&t, got, len, flows[f], seq);
						CHECK(memcmp(want, got, len) == 0);
						CHECK(got[len] == 0xa5);
						checked++;
					}
			}
	CHECK(checked > 100000);
	/* the stamp is the builder's TSC field */
	struct riov_perf_hdr h = { 0 };
	riov_perf_frame_set_tsc(got, 0x0123456789abcdefull);
	CHECK_EQ(riov_perf_frame_parse(got, RIOV_PERF_SIZE_MAX - RIOV_PERF_FCS, RIOV_PERF_SIZE_MAX - RIOV_PERF_FCS,
				       &h), 0);
	CHECK(h.tsc == 0x0123456789abcdefull);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(round_trip_every_size), RIOV_TEST_ENTRY(header_fields),
	       RIOV_TEST_ENTRY(template_equals_build),
	       RIOV_TEST_ENTRY(build_refuses_bad_sizes), RIOV_TEST_ENTRY(truncated_refused),
	       RIOV_TEST_ENTRY(foreign_refused), RIOV_TEST_ENTRY(parse_mac),
	       RIOV_TEST_ENTRY(parse_mac_list), RIOV_TEST_ENTRY(per_stream_dst_mac),
	       RIOV_TEST_ENTRY(stream_exact_counts))
