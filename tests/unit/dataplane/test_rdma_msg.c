/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/rdma_msg.c, the RDMA peer link messages: the wire format byte by byte
 * (messages written here by hand, independently of the builder, and the builder's output read back
 * byte by byte), build -> parse round trips of 1 to N frames of 14 to 65535 bytes, alignment and
 * padding, a message exactly full, a frame count at its limit, CREDIT and HELLO messages, and
 * tables of malformed input, each with its drop cause and verdict (close the connection, or drop
 * one frame and go on): truncated at every byte of a header and of a record, every header field,
 * every frame cause. Every message the parser gets here lies in a heap block of its exact length,
 * so that ASan sees a read beyond it. The fuzz harness (tests/fuzz/fuzz_rdma_msg.c) is built in
 * and its corpus (argv[1]) is replayed.
 */
#include "dataplane/rdma_msg.c"
#include "tests/fuzz/fuzz_rdma_msg.c"

#include "riov_test.h"

static const char *corpus_dir = "tests/fuzz/corpus/rdma_msg";

#define VTEP_IP 0x0100000au   /* 10.0.0.1 in network order (little-endian host) */
#define DIM(a) (sizeof(a) / sizeof((a)[0]))

/* A copy of len bytes in a heap block of exactly that size: the parser's reads beyond it are
 * ASan's to see. */
static uint8_t *exact(const uint8_t *src, uint32_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	memcpy(p, src, len);
	return p;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* The test's own writer of the wire format (rdma_msg.h), independent of the builder. */
static void raw_hdr(uint8_t *m, unsigned type, uint32_t len, unsigned credits, unsigned nframes)
{
	put16(m, 0x5256);
	m[2] = 1;
	m[3] = (uint8_t)type;
	put32(m + 4, len);
	put16(m + 8, credits);
	put16(m + 10, nframes);
	put32(m + 12, 0);
}

/* A record at off: flags, VNI, length, then len bytes of pattern (seeded by vni) and zeros up to
 * a multiple of 4. Returns the offset after it. */
static uint32_t raw_rec(uint8_t *m, uint32_t off, unsigned flags, uint32_t vni, uint32_t len)
{
	m[off] = (uint8_t)flags;
	m[off + 1] = (uint8_t)(vni >> 16);
	m[off + 2] = (uint8_t)(vni >> 8);
	m[off + 3] = (uint8_t)vni;
	put32(m + off + 4, len);
	off += 8;
	for (uint32_t i = 0; i < len; i++)
		m[off + i] = (uint8_t)(i * 13 + vni);
	off += len;
	while (off % 4)
		m[off++] = 0;
	return off;
}

static bool pattern_ok(const uint8_t *d, uint32_t len, uint32_t vni)
{
	for (uint32_t i = 0; i < len; i++)
		if (d[i] != (uint8_t)(i * 13 + vni))
			return false;
	return true;
}

static uint8_t big[RIOV_RDMA_MSG_MAX + 16];
static uint8_t src[RIOV_RDMA_FRAME_MAX + 16];

RIOV_TEST(sizes_and_limits)
{
	CHECK_EQ(riov_rdma_record_len(14), 24);
	CHECK_EQ(riov_rdma_record_len(60), 68);
	CHECK_EQ(riov_rdma_record_len(61), 72);
	CHECK_EQ(riov_rdma_record_len(1514), 1524);
	CHECK_EQ(riov_rdma_record_len(RIOV_RDMA_FRAME_MAX), 8 + 65556);
	CHECK_EQ(RIOV_RDMA_FRAME_MAX, 65553);
	/* the default size takes the largest frame whole, with its offload block too (a 64 KiB TSO
	 * frame); 64 KiB would take frames of up to 65512 bytes, 65500 with a block */
	CHECK_EQ(riov_rdma_msg_frame_max(RIOV_RDMA_MSG_DEFAULT), RIOV_RDMA_FRAME_MAX);
	CHECK_EQ(riov_rdma_msg_ol_frame_max(RIOV_RDMA_MSG_DEFAULT), RIOV_RDMA_FRAME_MAX);
	CHECK(16 + riov_rdma_record_len_ol(RIOV_RDMA_FRAME_MAX) <= RIOV_RDMA_MSG_DEFAULT);
	CHECK_EQ(riov_rdma_msg_frame_max(65536), 65536 - 24);
	CHECK_EQ(riov_rdma_msg_ol_frame_max(65536), 65536 - 36);
	CHECK_EQ(riov_rdma_record_len_ol(14), 36);
	CHECK_EQ(riov_rdma_record_len_ol(61), 84);
	CHECK_EQ(riov_rdma_msg_ol_frame_max(16 + 20 + 14), 0);
	CHECK_EQ(riov_rdma_msg_ol_frame_max(16 + 20 + 16), 16);
	CHECK_EQ(riov_rdma_msg_frame_max(RIOV_RDMA_MSG_MIN), 2048 - 24);
	CHECK_EQ(riov_rdma_msg_frame_max(RIOV_RDMA_MSG_MAX), RIOV_RDMA_FRAME_MAX);
	CHECK_EQ(riov_rdma_msg_frame_max(0xffffffffu), RIOV_RDMA_FRAME_MAX);
	CHECK_EQ(riov_rdma_msg_frame_max(16 + 8 + 14), 0);   /* 14 bytes need a record of 24 */
	CHECK_EQ(riov_rdma_msg_frame_max(16 + 8 + 16), 16);
	CHECK_EQ(riov_rdma_msg_frame_max(16 + 8 + 19), 16);  /* rounded down to a multiple of 4 */
	CHECK_EQ(riov_rdma_msg_frame_max(0), 0);
	CHECK(!riov_rdma_msg_size_ok(RIOV_RDMA_MSG_MIN - 1));
	CHECK(riov_rdma_msg_size_ok(RIOV_RDMA_MSG_MIN));
	CHECK(riov_rdma_msg_size_ok(RIOV_RDMA_MSG_DEFAULT));
	CHECK(riov_rdma_msg_size_ok(RIOV_RDMA_MSG_MAX));
	CHECK(!riov_rdma_msg_size_ok(RIOV_RDMA_MSG_MAX + 1));
}

RIOV_TEST(builder_writes_the_wire_format)
{
	uint8_t buf[64], want[64];
	struct riov_rdma_msg_builder b;
	memset(buf, 0xee, sizeof(buf));
	for (unsigned i = 0; i < 15; i++)
		src[i] = (uint8_t)(0xa0 + i);
	CHECK_EQ(riov_rdma_msg_init(&b, buf, sizeof(buf)), 0);
	CHECK_EQ(riov_rdma_msg_add_frame(&b, 0x123456, src, 15), 0);
	CHECK_EQ(riov_rdma_msg_finish(&b, 0x0102), 40);
	static const uint8_t hdr[16] = { 0x52, 0x56, 1, 2, 0, 0, 0, 40, 0x01, 0x02, 0, 1, 0, 0, 0, 0 };
	static const uint8_t rec[8] = { 0, 0x12, 0x34, 0x56, 0, 0, 0, 15 };
	memcpy(want, hdr, 16);
	memcpy(want + 16, rec, 8);
	memcpy(want + 24, src, 15);
	want[39] = 0;   /* padding */
	CHECK(memcmp(buf, want, 40) == 0);
	CHECK_EQ(buf[40], 0xee);   /* nothing written past the message */

	/* CREDIT: the header alone */
	memset(buf, 0xee, sizeof(buf));
	CHECK_EQ(riov_rdma_msg_init(&b, buf, sizeof(buf)), 0);
	CHECK_EQ(riov_rdma_msg_finish(&b, 0xfffe), 16);
	static const uint8_t credit[16] = { 0x52, 0x56, 1, 3, 0, 0, 0, 16, 0xff, 0xfe, 0, 0, 0, 0, 0, 0 };
	CHECK(memcmp(buf, credit, 16) == 0);
	CHECK_EQ(buf[16], 0xee);

	/* HELLO: 10.0.0.1, 64 KiB buffers, 500 initial credits */
	memset(buf, 0xee, sizeof(buf));
	CHECK_EQ(riov_rdma_hello_encode(buf, sizeof(buf), VTEP_IP, 65536, 500), 24);
	static const uint8_t hello[24] = { 0x52, 0x56, 1, 1, 0, 0, 0, 24, 0x01, 0xf4, 0, 0, 0, 0, 0, 0,
					   10, 0, 0, 1, 0, 1, 0, 0 };
	CHECK(memcmp(buf, hello, 24) == 0);
	CHECK_EQ(buf[24], 0xee);
}

RIOV_TEST(parser_reads_the_wire_format)
{
	/* a message written by hand: three records, the middle one unpadded-length 61 */
	uint8_t m[256];
	uint32_t off = raw_rec(m, 16, 0, 1, 14);
	off = raw_rec(m, off, 0, 0xabcdef, 61);
	off = raw_rec(m, off, 0, RIOV_RDMA_VNI_MAX, 60);
	CHECK_EQ(off, 16 + 24 + 72 + 68);
	raw_hdr(m, 2, off, 7, 3);
	uint8_t *x = exact(m, off);
	struct riov_rdma_msg_info info;
	CHECK_EQ(riov_rdma_msg_parse(x, off, &info), RIOV_RDMA_MSG_OK);
	CHECK_EQ(info.type, RIOV_RDMA_MSG_DATA);
	CHECK_EQ(info.len, off);
	CHECK_EQ(info.credits, 7);
	CHECK_EQ(info.nframes, 3);
	struct riov_rdma_msg_iter it;
	struct riov_rdma_frame f;
	riov_rdma_msg_iter_init(&it, x, &info);
	static const uint32_t vni[3] = { 1, 0xabcdef, RIOV_RDMA_VNI_MAX }, len[3] = { 14, 61, 60 };
	static const uint32_t at[3] = { 24, 48, 120 };
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
		CHECK_EQ(f.vni, vni[i]);
		CHECK_EQ(f.len, len[i]);
		CHECK_EQ(f.data - x, at[i]);
		CHECK(pattern_ok(f.data, f.len, f.vni));
	}
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);
	free(x);

	/* padding is not looked at */
	m[16 + 24 + 8 + 61] = 0x5a;
	x = exact(m, off);
	CHECK_EQ(riov_rdma_msg_parse(x, off, &info), RIOV_RDMA_MSG_OK);
	riov_rdma_msg_iter_init(&it, x, &info);
	unsigned ok = 0;
	while (riov_rdma_msg_next_frame(&it, &f) == RIOV_RDMA_MSG_OK)
		ok++;
	CHECK_EQ(ok, 3);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);
	free(x);

	/* the parser needs no alignment */
	uint8_t *odd = malloc(off + 1);
	memcpy(odd + 1, m, off);
	CHECK_EQ(riov_rdma_msg_parse(odd + 1, off, &info), RIOV_RDMA_MSG_OK);
	riov_rdma_msg_iter_init(&it, odd + 1, &info);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
	CHECK_EQ(f.data - (odd + 1), 24);
	free(odd);
}

/* Build a message of the given frames with cap bytes, parse it from an exact copy and compare. */
static void round_trip(const uint32_t *sizes, unsigned n, uint32_t cap)
{
	struct riov_rdma_msg_builder b;
	uint32_t want = 16;
	memset(big, 0xee, cap);
	CHECK_EQ(riov_rdma_msg_init(&b, big, cap), 0);
	for (unsigned i = 0; i < n; i++) {
		const uint32_t vni = (i * 0x10101u + 5) & RIOV_RDMA_VNI_MAX;
		for (uint32_t k = 0; k < sizes[i]; k++)
			src[k] = (uint8_t)(k * 13 + vni);
		CHECK_EQ(riov_rdma_msg_add_frame(&b, vni, src, sizes[i]), 0);
		want += riov_rdma_record_len(sizes[i]);
	}
	const uint32_t len = riov_rdma_msg_finish(&b, (uint16_t)(n * 3));
	CHECK_EQ(len, want);
	uint8_t *x = exact(big, len);
	struct riov_rdma_msg_info info;
	CHECK_EQ(riov_rdma_msg_parse(x, len, &info), RIOV_RDMA_MSG_OK);
	CHECK_EQ(info.type, RIOV_RDMA_MSG_DATA);
	CHECK_EQ(info.nframes, n);
	CHECK_EQ(info.credits, n * 3);
	struct riov_rdma_msg_iter it;
	struct riov_rdma_frame f;
	riov_rdma_msg_iter_init(&it, x, &info);
	uint32_t at = 16;
	for (unsigned i = 0; i < n; i++) {
		CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
		CHECK_EQ(f.vni, (i * 0x10101u + 5) & RIOV_RDMA_VNI_MAX);
		CHECK_EQ(f.len, sizes[i]);
		CHECK_EQ(f.data - x, at + 8);
		CHECK_EQ((f.data - x) % 4, 0);
		if (f.data != NULL && !pattern_ok(f.data, f.len, f.vni)) {
			fprintf(stderr, "  frame %u of %u (%u bytes): data differs\n", i, n, sizes[i]);
			riov_test_failures++;
		}
		/* padding zeroed over the 0xee the buffer held */
		for (uint32_t p = at + 8 + sizes[i]; p < at + riov_rdma_record_len(sizes[i]); p++)
			CHECK_EQ(x[p], 0);
		at += riov_rdma_record_len(sizes[i]);
	}
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);
	free(x);
}

RIOV_TEST(round_trip_1_to_n_frames)
{
	static const uint32_t sizes[] = { 14, 60, 1514, 9000, 65535, 15, 61, 62, 63, 1515, 65533 };
	uint32_t s[64];
	/* every prefix of the list, in the largest message */
	for (unsigned n = 1; n <= DIM(sizes); n++)
		round_trip(sizes, n, RIOV_RDMA_MSG_MAX);
	/* each size alone in the smallest message that takes it */
	for (unsigned i = 0; i < DIM(sizes); i++)
		round_trip(&sizes[i], 1, 16 + riov_rdma_record_len(sizes[i]));
	/* many small frames in a 64 KiB message */
	for (unsigned i = 0; i < DIM(s); i++)
		s[i] = 14 + i * 17;
	round_trip(s, DIM(s), 65536);
	/* 65535 bytes need more than a 64 KiB message (-EINVAL: no message of that size) */
	struct riov_rdma_msg_builder b;
	CHECK_EQ(riov_rdma_msg_init(&b, big, 65536), 0);
	CHECK_EQ(riov_rdma_msg_add_frame(&b, 1, src, 65535), -EINVAL);
	CHECK_EQ(riov_rdma_msg_add_frame(&b, 1, src, 65512), 0);
	CHECK_EQ(riov_rdma_msg_finish(&b, 0), 65536);
}

RIOV_TEST(alignment_and_padding)
{
	/* records at multiples of 4 whatever the frame lengths before them */
	uint32_t s[8];
	for (uint32_t base = 14; base < 22; base++) {
		for (unsigned i = 0; i < DIM(s); i++)
			s[i] = base + i;
		round_trip(s, DIM(s), 4096);
	}
	/* an odd cap is used down to a multiple of 4 */
	struct riov_rdma_msg_builder b;
	CHECK_EQ(riov_rdma_msg_init(&b, big, 16 + 24 + 3), 0);
	CHECK_EQ(b.cap, 40);
	CHECK_EQ(riov_rdma_msg_add_frame(&b, 1, src, 14), 0);
	CHECK_EQ(riov_rdma_msg_finish(&b, 0), 40);
}

RIOV_TEST(message_exactly_full)
{
	/* three frames whose records fill 16 + 68 + 1524 + 24 = 1632 bytes exactly */
	static const uint32_t sizes[] = { 60, 1514, 14 };
	struct riov_rdma_msg_builder b;
	uint8_t *d;
	CHECK_EQ(riov_rdma_msg_init(&b, big, 1632), 0);
	for (unsigned i = 0; i < DIM(sizes); i++)
		CHECK_EQ(riov_rdma_msg_add_frame(&b, 9, src, sizes[i]), 0);
	CHECK_EQ(riov_rdma_msg_reserve(&b, 9, 14, &d), -ENOSPC);
	CHECK_EQ(b.off, 1632);
	CHECK_EQ(b.nframes, 3);
	round_trip(sizes, DIM(sizes), 1632);
	round_trip(sizes, DIM(sizes), 1635);
	/* one byte short: the last does not fit, the builder is as it was */
	CHECK_EQ(riov_rdma_msg_init(&b, big, 1631), 0);
	CHECK_EQ(riov_rdma_msg_add_frame(&b, 9, src, 60), 0);
	CHECK_EQ(riov_rdma_msg_add_frame(&b, 9, src, 1514), 0);
	CHECK_EQ(riov_rdma_msg_add_frame(&b, 9, src, 14), -ENOSPC);
	CHECK_EQ(b.off, 1608);
	CHECK_EQ(riov_rdma_msg_finish(&b, 0), 1608);
}

RIOV_TEST(frame_count_limit)
{
	/* 1024 frames of 14 bytes (24,592 bytes): the 1025th does not go, though bytes are left */
	uint32_t *s = malloc(RIOV_RDMA_FRAMES_MAX * sizeof(*s));
	struct riov_rdma_msg_builder b;
	CHECK_EQ(riov_rdma_msg_init(&b, big, RIOV_RDMA_MSG_DEFAULT), 0);
	for (unsigned i = 0; i < RIOV_RDMA_FRAMES_MAX; i++) {
		CHECK_EQ(riov_rdma_msg_add_frame(&b, i, src, 14), 0);
		s[i] = 14;
	}
	CHECK_EQ(riov_rdma_msg_add_frame(&b, 0, src, 14), -ENOSPC);
	CHECK_EQ(riov_rdma_msg_finish(&b, 0), 16 + 24 * RIOV_RDMA_FRAMES_MAX);
	round_trip(s, RIOV_RDMA_FRAMES_MAX, RIOV_RDMA_MSG_DEFAULT);
	/* a count over the limit is refused before any record is read */
	uint32_t len = 16 + 24 * (RIOV_RDMA_FRAMES_MAX + 1);
	uint32_t off = 16;
	for (unsigned i = 0; i <= RIOV_RDMA_FRAMES_MAX; i++)
		off = raw_rec(big, off, 0, i, 14);
	raw_hdr(big, 2, len, 0, RIOV_RDMA_FRAMES_MAX + 1);
	uint8_t *x = exact(big, len);
	struct riov_rdma_msg_info info;
	CHECK_EQ(riov_rdma_msg_parse(x, len, &info), RIOV_RDMA_MSG_CLOSE);
	CHECK_EQ(info.cause, RIOV_RDMA_DROP_TOO_MANY_FRAMES);
	free(x);
	free(s);
}

RIOV_TEST(reserve_and_refusals)
{
	struct riov_rdma_msg_builder b;
	uint8_t *d;
	CHECK_EQ(riov_rdma_msg_init(&b, NULL, 4096), -EINVAL);
	CHECK_EQ(riov_rdma_msg_init(&b, big, 15), -EINVAL);
	CHECK_EQ(riov_rdma_msg_init(&b, big, 4096), 0);
	/* never valid: nothing changes */
	CHECK_EQ(riov_rdma_msg_reserve(&b, RIOV_RDMA_VNI_MAX + 1, 60, &d), -EINVAL);
	CHECK_EQ(riov_rdma_msg_reserve(&b, 1, 13, &d), -EINVAL);
	CHECK_EQ(riov_rdma_msg_reserve(&b, 1, 0, &d), -EINVAL);
	CHECK_EQ(riov_rdma_msg_reserve(&b, 1, 4096 - 23, &d), -EINVAL);
	CHECK_EQ(riov_rdma_msg_reserve(&b, 1, 0xffffffffu, &d), -EINVAL);
	CHECK_EQ(b.off, 16);
	CHECK_EQ(b.nframes, 0);
	/* a frame copied in two pieces (as from an mbuf chain) into its reserved area */
	for (unsigned i = 0; i < 100; i++)
		src[i] = (uint8_t)(i * 13 + 77);
	CHECK_EQ(riov_rdma_msg_reserve(&b, 77, 100, &d), 0);
	CHECK_EQ(d - big, 24);
	memcpy(d, src, 40);
	memcpy(d + 40, src + 40, 60);
	/* a frame filling the rest exactly */
	CHECK_EQ(riov_rdma_msg_reserve(&b, 1, 4096 - 16 - 108 - 8, &d), 0);
	CHECK_EQ(riov_rdma_msg_reserve(&b, 1, 14, &d), -ENOSPC);
	const uint32_t len = riov_rdma_msg_finish(&b, 1);
	CHECK_EQ(len, 4096);
	uint8_t *x = exact(big, len);
	struct riov_rdma_msg_info info;
	struct riov_rdma_msg_iter it;
	struct riov_rdma_frame f;
	CHECK_EQ(riov_rdma_msg_parse(x, len, &info), RIOV_RDMA_MSG_OK);
	riov_rdma_msg_iter_init(&it, x, &info);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
	CHECK(f.len == 100 && pattern_ok(f.data, 100, 77));
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
	CHECK_EQ(f.data + f.len, x + len);   /* the last frame ends at the block's end */
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);
	free(x);
}

RIOV_TEST(credit_only_message)
{
	uint8_t buf[16];
	struct riov_rdma_msg_builder b;
	CHECK_EQ(riov_rdma_msg_init(&b, buf, sizeof(buf)), 0);
	CHECK_EQ(riov_rdma_msg_reserve(&b, 1, 14, &(uint8_t *){ NULL }), -EINVAL);   /* no room, ever */
	CHECK_EQ(riov_rdma_msg_finish(&b, 12345), 16);
	uint8_t *x = exact(buf, 16);
	struct riov_rdma_msg_info info;
	CHECK_EQ(riov_rdma_msg_parse(x, 16, &info), RIOV_RDMA_MSG_OK);
	CHECK_EQ(info.type, RIOV_RDMA_MSG_CREDIT);
	CHECK_EQ(info.credits, 12345);
	CHECK_EQ(info.nframes, 0);
	CHECK_EQ(info.vtep_ip, 0);
	struct riov_rdma_msg_iter it;
	struct riov_rdma_frame f;
	riov_rdma_msg_iter_init(&it, x, &info);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);
	free(x);
}

RIOV_TEST(hello_round_trip)
{
	uint8_t buf[24];
	static const uint32_t sizes[] = { RIOV_RDMA_MSG_MIN, RIOV_RDMA_MSG_DEFAULT, RIOV_RDMA_MSG_MAX, 5000 };
	static const uint32_t ips[] = { VTEP_IP, 0x010000dfu /* 223.0.0.1 */, 0xfeffff01u /* 1.255.255.254 */ };
	for (unsigned i = 0; i < DIM(sizes); i++) {
		for (unsigned k = 0; k < DIM(ips); k++) {
			CHECK_EQ(riov_rdma_hello_encode(buf, sizeof(buf), ips[k], sizes[i], (uint16_t)(i * 1000 + k)),
				 24);
			uint8_t *x = exact(buf, 24);
			struct riov_rdma_msg_info info;
			CHECK_EQ(riov_rdma_msg_parse(x, 24, &info), RIOV_RDMA_MSG_OK);
			CHECK_EQ(info.type, RIOV_RDMA_MSG_HELLO);
			CHECK_EQ(info.vtep_ip, ips[k]);
			CHECK_EQ(info.buf_size, sizes[i]);
			CHECK_EQ(info.credits, i * 1000 + k);
			CHECK_EQ(info.nframes, 0);
			struct riov_rdma_msg_iter it;
			struct riov_rdma_frame f;
			riov_rdma_msg_iter_init(&it, x, &info);
			CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);
			free(x);
		}
	}
	/* what the peer's parser would refuse is not written */
	CHECK_EQ(riov_rdma_hello_encode(buf, 23, VTEP_IP, 65536, 1), 0);
	CHECK_EQ(riov_rdma_hello_encode(NULL, 24, VTEP_IP, 65536, 1), 0);
	CHECK_EQ(riov_rdma_hello_encode(buf, 24, VTEP_IP, RIOV_RDMA_MSG_MIN - 1, 1), 0);
	CHECK_EQ(riov_rdma_hello_encode(buf, 24, VTEP_IP, RIOV_RDMA_MSG_MAX + 1, 1), 0);
	CHECK_EQ(riov_rdma_hello_encode(buf, 24, 0, 65536, 1), 0);
	CHECK_EQ(riov_rdma_hello_encode(buf, 24, 0x010000e0u /* 224.0.0.1 */, 65536, 1), 0);
}

/* Malformed messages: a good one (HELLO, CREDIT or DATA of two frames) changed by one rule. */
struct bad_msg {
	const char *what;
	unsigned base;                 /* 1 HELLO, 2 DATA, 3 CREDIT */
	void (*mutate)(uint8_t *m, uint32_t *len);
	enum riov_rdma_drop cause;
};

static uint32_t good_msg(uint8_t *m, unsigned base)
{
	if (base == 1)
		return riov_rdma_hello_encode(m, 24, VTEP_IP, 65536, 100);
	if (base == 3) {
		raw_hdr(m, 3, 16, 100, 0);
		return 16;
	}
	uint32_t off = raw_rec(m, 16, 0, 100, 60);
	off = raw_rec(m, off, 0, 101, 61);
	raw_hdr(m, 2, off, 100, 2);
	return off;
}

static void m_magic(uint8_t *m, uint32_t *len) { m[1] ^= 1; (void)len; }
static void m_magic_swapped(uint8_t *m, uint32_t *len) { put16(m, 0x5652); (void)len; }
static void m_version0(uint8_t *m, uint32_t *len) { m[2] = 0; (void)len; }
static void m_version2(uint8_t *m, uint32_t *len) { m[2] = 2; (void)len; }
static void m_type0(uint8_t *m, uint32_t *len) { m[3] = 0; (void)len; }
static void m_type4(uint8_t *m, uint32_t *len) { m[3] = 4; (void)len; }
static void m_type255(uint8_t *m, uint32_t *len) { m[3] = 255; (void)len; }
static void m_len_more(uint8_t *m, uint32_t *len) { put32(m + 4, *len + 4); }
static void m_len_less(uint8_t *m, uint32_t *len) { put32(m + 4, *len - 4); }
static void m_len_huge(uint8_t *m, uint32_t *len) { put32(m + 4, 0xfffffffcu); (void)len; }
static void m_len_zero(uint8_t *m, uint32_t *len) { put32(m + 4, 0); (void)len; }
static void m_recv_more(uint8_t *m, uint32_t *len) { m[*len] = 0; m[*len + 1] = 0; m[*len + 2] = 0; m[*len + 3] = 0; *len += 4; }
static void m_unaligned(uint8_t *m, uint32_t *len) { m[*len] = 0; *len += 1; put32(m + 4, *len); }
static void m_over_max(uint8_t *m, uint32_t *len)
{
	/* one record of (RIOV_RDMA_MSG_MAX - 16 - 8 + 4) bytes: a well-formed message, too long */
	const uint32_t flen = RIOV_RDMA_MSG_MAX - 16 - 8 + 4;
	*len = raw_rec(m, 16, 0, 1, flen);
	raw_hdr(m, 2, *len, 0, 1);
}
static void m_rsvd_hi(uint8_t *m, uint32_t *len) { m[12] = 0x80; (void)len; }
static void m_rsvd_lo(uint8_t *m, uint32_t *len) { m[15] = 1; (void)len; }
static void m_count0(uint8_t *m, uint32_t *len) { put16(m + 10, 0); (void)len; }
static void m_count1(uint8_t *m, uint32_t *len) { put16(m + 10, 1); (void)len; }
static void m_count_max(uint8_t *m, uint32_t *len) { put16(m + 10, 0xffff); (void)len; }
static void m_data_hdr_only(uint8_t *m, uint32_t *len) { *len = 16; put32(m + 4, 16); put16(m + 10, 1); }
static void m_as_credit(uint8_t *m, uint32_t *len) { m[3] = 3; (void)len; }
static void m_as_hello(uint8_t *m, uint32_t *len) { m[3] = 1; (void)len; }
static void m_credit_body(uint8_t *m, uint32_t *len) { memset(m + 16, 0, 8); *len = 24; put32(m + 4, 24); }
static void m_hello_short(uint8_t *m, uint32_t *len) { *len = 20; put32(m + 4, 20); }
static void m_hello_long(uint8_t *m, uint32_t *len) { memset(m + 24, 0, 4); *len = 28; put32(m + 4, 28); }
static void m_hello_buf_small(uint8_t *m, uint32_t *len) { put32(m + 20, RIOV_RDMA_MSG_MIN - 1); (void)len; }
static void m_hello_buf_big(uint8_t *m, uint32_t *len) { put32(m + 20, RIOV_RDMA_MSG_MAX + 1); (void)len; }
static void m_hello_buf_zero(uint8_t *m, uint32_t *len) { put32(m + 20, 0); (void)len; }
static void m_hello_buf_huge(uint8_t *m, uint32_t *len) { put32(m + 20, 0xffffffffu); (void)len; }
static void m_hello_ip0(uint8_t *m, uint32_t *len) { put32(m + 16, 0); (void)len; }
static void m_hello_ip_this_net(uint8_t *m, uint32_t *len) { put32(m + 16, 0x00000001u); (void)len; }
static void m_hello_ip_mcast(uint8_t *m, uint32_t *len) { put32(m + 16, 0xe0000001u); (void)len; }
static void m_hello_ip_class_e(uint8_t *m, uint32_t *len) { put32(m + 16, 0xf0000001u); (void)len; }
static void m_hello_ip_bcast(uint8_t *m, uint32_t *len) { put32(m + 16, 0xffffffffu); (void)len; }

static const struct bad_msg bad_msgs[] = {
	{ "magic one bit off", 2, m_magic, RIOV_RDMA_DROP_BAD_MAGIC },
	{ "magic byte-swapped", 3, m_magic_swapped, RIOV_RDMA_DROP_BAD_MAGIC },
	{ "version 0", 2, m_version0, RIOV_RDMA_DROP_BAD_VERSION },
	{ "version 2", 1, m_version2, RIOV_RDMA_DROP_BAD_VERSION },
	{ "type 0", 3, m_type0, RIOV_RDMA_DROP_BAD_TYPE },
	{ "type 4", 2, m_type4, RIOV_RDMA_DROP_BAD_TYPE },
	{ "type 255", 1, m_type255, RIOV_RDMA_DROP_BAD_TYPE },
	{ "length field past the bytes received", 2, m_len_more, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "length field short of the bytes received", 2, m_len_less, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "length field near 2^32", 2, m_len_huge, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "length field 0", 3, m_len_zero, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "more bytes received than the length field", 3, m_recv_more, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "length not a multiple of 4", 2, m_unaligned, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "DATA over RIOV_RDMA_MSG_MAX", 2, m_over_max, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "DATA of a header alone", 2, m_data_hdr_only, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "DATA read as CREDIT (length)", 2, m_as_credit, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "CREDIT with a body", 3, m_credit_body, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "HELLO without its last 4 bytes", 1, m_hello_short, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "HELLO 4 bytes long", 1, m_hello_long, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "reserved high bit", 2, m_rsvd_hi, RIOV_RDMA_DROP_BAD_RESERVED },
	{ "reserved low bit", 3, m_rsvd_lo, RIOV_RDMA_DROP_BAD_RESERVED },
	{ "DATA with count 0", 2, m_count0, RIOV_RDMA_DROP_BAD_COUNT },
	{ "CREDIT with count 1", 3, m_count1, RIOV_RDMA_DROP_BAD_COUNT },
	{ "HELLO with count 1", 1, m_count1, RIOV_RDMA_DROP_BAD_COUNT },
	{ "DATA read as HELLO (length)", 2, m_as_hello, RIOV_RDMA_DROP_BAD_LENGTH },
	{ "DATA with count 65535", 2, m_count_max, RIOV_RDMA_DROP_TOO_MANY_FRAMES },
	{ "HELLO buffer under the minimum", 1, m_hello_buf_small, RIOV_RDMA_DROP_BAD_HELLO },
	{ "HELLO buffer over the maximum", 1, m_hello_buf_big, RIOV_RDMA_DROP_BAD_HELLO },
	{ "HELLO buffer 0", 1, m_hello_buf_zero, RIOV_RDMA_DROP_BAD_HELLO },
	{ "HELLO buffer 2^32-1", 1, m_hello_buf_huge, RIOV_RDMA_DROP_BAD_HELLO },
	{ "HELLO from 0.0.0.0", 1, m_hello_ip0, RIOV_RDMA_DROP_BAD_HELLO },
	{ "HELLO from 0.0.0.1", 1, m_hello_ip_this_net, RIOV_RDMA_DROP_BAD_HELLO },
	{ "HELLO from 224.0.0.1", 1, m_hello_ip_mcast, RIOV_RDMA_DROP_BAD_HELLO },
	{ "HELLO from 240.0.0.1", 1, m_hello_ip_class_e, RIOV_RDMA_DROP_BAD_HELLO },
	{ "HELLO from 255.255.255.255", 1, m_hello_ip_bcast, RIOV_RDMA_DROP_BAD_HELLO },
};

RIOV_TEST(header_malformed_each_with_its_cause)
{
	for (size_t i = 0; i < DIM(bad_msgs); i++) {
		uint32_t len = good_msg(big, bad_msgs[i].base);
		/* the unchanged message is good */
		uint8_t *x = exact(big, len);
		struct riov_rdma_msg_info info;
		CHECK_EQ(riov_rdma_msg_parse(x, len, &info), RIOV_RDMA_MSG_OK);
		free(x);
		bad_msgs[i].mutate(big, &len);
		x = exact(big, len);
		enum riov_rdma_msg_verdict v = riov_rdma_msg_parse(x, len, &info);
		free(x);
		if (v != RIOV_RDMA_MSG_CLOSE || info.cause != bad_msgs[i].cause) {
			fprintf(stderr, "  %s: verdict %d cause %s, wanted close as %s\n", bad_msgs[i].what, v,
				v == RIOV_RDMA_MSG_CLOSE ? riov_rdma_drop_names[info.cause] : "-",
				riov_rdma_drop_names[bad_msgs[i].cause]);
			riov_test_failures++;
		}
		/* a refused HELLO says nothing of the peer */
		CHECK(info.vtep_ip == 0 && info.buf_size == 0);
	}
}

RIOV_TEST(truncated_at_every_byte)
{
	/* A DATA message of two records (60 and 61 bytes: 16 + 68 + 72 = 156 bytes) received short:
	 * inside the header the message is truncated; after it, the length field (still 156) is not
	 * what arrived. */
	const uint32_t full = good_msg(big, 2);
	CHECK_EQ(full, 156);
	for (uint32_t cut = 0; cut < full; cut++) {
		uint8_t *x = exact(big, cut);
		struct riov_rdma_msg_info info;
		CHECK_EQ(riov_rdma_msg_parse(x, cut, &info), RIOV_RDMA_MSG_CLOSE);
		CHECK_EQ(info.cause, cut < 16 ? RIOV_RDMA_DROP_TRUNCATED : RIOV_RDMA_DROP_BAD_LENGTH);
		free(x);
	}
	/* The same, each cut with a length field that agrees (a sender that lies with consistent
	 * numbers): the header passes where the length may be a DATA's, and the walk finds the record
	 * that runs past the end, at every byte of its header, its frame and its padding. */
	for (uint32_t cut = 16; cut < full; cut++) {
		good_msg(big, 2);
		put32(big + 4, cut);
		uint8_t *x = exact(big, cut);
		struct riov_rdma_msg_info info;
		enum riov_rdma_msg_verdict v = riov_rdma_msg_parse(x, cut, &info);
		if (cut % 4 || cut < 24) {
			CHECK_EQ(v, RIOV_RDMA_MSG_CLOSE);
			CHECK_EQ(info.cause, RIOV_RDMA_DROP_BAD_LENGTH);
			free(x);
			continue;
		}
		CHECK_EQ(v, RIOV_RDMA_MSG_OK);
		struct riov_rdma_msg_iter it;
		struct riov_rdma_frame f;
		riov_rdma_msg_iter_init(&it, x, &info);
		if (cut >= 16 + 68) {
			CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
			CHECK(f.len == 60 && pattern_ok(f.data, 60, 100));
		}
		CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_CLOSE);
		CHECK_EQ(f.cause, RIOV_RDMA_DROP_FRAME_OVERRUN);
		CHECK(f.data == NULL);
		free(x);
	}
}

RIOV_TEST(frames_dropped_each_with_its_cause)
{
	/* bad frames between good ones: each dropped with its cause, the good ones all delivered */
	static const struct {
		const char *what;
		unsigned flags;
		uint32_t len;
		enum riov_rdma_msg_verdict v;
		enum riov_rdma_drop cause;
	} recs[] = {
		{ "good", 0, 60, RIOV_RDMA_MSG_OK, 0 },
		{ "flag bit 7", 0x80, 60, RIOV_RDMA_MSG_DROP, RIOV_RDMA_DROP_FRAME_FLAGS },
		{ "good, 14 bytes", 0, 14, RIOV_RDMA_MSG_OK, 0 },
		{ "length 0", 0, 0, RIOV_RDMA_MSG_DROP, RIOV_RDMA_DROP_FRAME_SHORT },
		{ "good", 0, 61, RIOV_RDMA_MSG_OK, 0 },
		{ "length 13", 0, 13, RIOV_RDMA_MSG_DROP, RIOV_RDMA_DROP_FRAME_SHORT },
		{ "length 1", 0, 1, RIOV_RDMA_MSG_DROP, RIOV_RDMA_DROP_FRAME_SHORT },
		{ "good, the largest", 0, RIOV_RDMA_FRAME_MAX, RIOV_RDMA_MSG_OK, 0 },
		{ "one byte over the largest", 0, RIOV_RDMA_FRAME_MAX + 1, RIOV_RDMA_MSG_DROP,
		  RIOV_RDMA_DROP_FRAME_LONG },
		{ "far over the largest", 0, 200000, RIOV_RDMA_MSG_DROP, RIOV_RDMA_DROP_FRAME_LONG },
		{ "flag bit 1 on a short frame (flags first)", 0x02, 5, RIOV_RDMA_MSG_DROP, RIOV_RDMA_DROP_FRAME_FLAGS },
		{ "good, last", 0, 1514, RIOV_RDMA_MSG_OK, 0 },
	};
	uint32_t off = 16;
	for (unsigned i = 0; i < DIM(recs); i++)
		off = raw_rec(big, off, recs[i].flags, 1000 + i, recs[i].len);
	raw_hdr(big, 2, off, 0, DIM(recs));
	uint8_t *x = exact(big, off);
	struct riov_rdma_msg_info info;
	CHECK_EQ(riov_rdma_msg_parse(x, off, &info), RIOV_RDMA_MSG_OK);
	struct riov_rdma_msg_iter it;
	struct riov_rdma_frame f;
	riov_rdma_msg_iter_init(&it, x, &info);
	for (unsigned i = 0; i < DIM(recs); i++) {
		enum riov_rdma_msg_verdict v = riov_rdma_msg_next_frame(&it, &f);
		if (v != recs[i].v || (v == RIOV_RDMA_MSG_DROP && f.cause != recs[i].cause)) {
			fprintf(stderr, "  %s: verdict %d cause %s\n", recs[i].what, v,
				f.cause < RIOV_RDMA_DROP__MAX ? riov_rdma_drop_names[f.cause] : "-");
			riov_test_failures++;
		}
		CHECK_EQ(f.vni, 1000 + i);
		CHECK_EQ(f.len, recs[i].len);
		if (v == RIOV_RDMA_MSG_OK)
			CHECK(pattern_ok(f.data, f.len, f.vni));
		else
			CHECK(f.data == NULL);
	}
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);
	free(x);
}

/* Frames with offload blocks between plain ones: the block's fields come back as written, the frame
 * after it intact and 4-byte aligned; a block whose reserved bytes are not zero drops its frame
 * only; a block that runs past the message closes it; the builder's limit is 12 bytes lower. */
RIOV_TEST(offload_blocks)
{
	static const struct riov_rdma_ol ol[3] = {
		{ .flags = 1, .gso_type = 1, .hdr_len = 66, .gso_size = 1448, .csum_start = 34, .csum_offset = 16 },
		{ .flags = 1, .gso_type = 0x84, .hdr_len = 0xfffe, .gso_size = 0xfffd, .csum_start = 0xfffc,
		  .csum_offset = 0xfffb },
		{ .flags = 0xff, .gso_type = 0xff, .hdr_len = 0, .gso_size = 0, .csum_start = 0, .csum_offset = 0 },
	};
	static const uint32_t len[4] = { 61, 14, 9000, 1514 };
	struct riov_rdma_msg_builder b;
	uint8_t *dst;

	memset(big, 0xee, sizeof(big));
	CHECK_EQ(riov_rdma_msg_init(&b, big, RIOV_RDMA_MSG_DEFAULT), 0);
	for (unsigned i = 0; i < 4; i++) {
		for (uint32_t k = 0; k < len[i]; k++)
			src[k] = (uint8_t)(k * 13 + 7 + i);
		CHECK_EQ(riov_rdma_msg_reserve_ol(&b, 7 + i, len[i], i < 3 ? &ol[i] : NULL, &dst), 0);
		CHECK_EQ((uintptr_t)(dst - big) % 4, 0);
		memcpy(dst, src, len[i]);
	}
	uint32_t want = 16 + riov_rdma_record_len_ol(61) + riov_rdma_record_len_ol(14) +
			riov_rdma_record_len_ol(9000) + riov_rdma_record_len(1514);
	CHECK_EQ(riov_rdma_msg_finish(&b, 0), want);
	uint8_t *x = exact(big, want);
	struct riov_rdma_msg_info info;
	struct riov_rdma_msg_iter it;
	struct riov_rdma_frame f;
	CHECK_EQ(riov_rdma_msg_parse(x, want, &info), RIOV_RDMA_MSG_OK);
	riov_rdma_msg_iter_init(&it, x, &info);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
		CHECK_EQ(f.vni, 7 + i);
		CHECK_EQ(f.len, len[i]);
		CHECK_EQ((uintptr_t)(f.data - x) % 4, 0);
		CHECK(pattern_ok(f.data, f.len, 7 + i));
		CHECK_EQ(f.has_ol, i < 3);
		if (i < 3)
			CHECK(memcmp(&f.ol, &ol[i], sizeof(ol[i])) == 0);
	}
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);

	/* the first record's block: reserved bytes not zero drop that frame, the others come */
	x[16 + 8 + 10] = 0x01;
	riov_rdma_msg_iter_init(&it, x, &info);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_DROP);
	CHECK_EQ(f.cause, RIOV_RDMA_DROP_FRAME_FLAGS);
	CHECK(f.data == NULL && f.vni == 7 && f.len == 61);
	for (unsigned i = 1; i < 4; i++)
		CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);
	free(x);

	/* a record whose block or frame runs past the message: 14 bytes after a block that ends the
	 * message, and a block cut short */
	for (uint32_t cut = 0; cut <= RIOV_RDMA_OL_LEN + 16; cut += 4) {
		uint32_t off = raw_rec(big, 16, 0, 1, 60);
		big[off] = RIOV_RDMA_FRAME_F_OFFLOAD;
		big[off + 1] = big[off + 2] = 0;
		big[off + 3] = 2;
		put32(big + off + 4, 14);
		memset(big + off + 8, 0, RIOV_RDMA_OL_LEN + 16);
		uint32_t mlen = off + 8 + cut;
		raw_hdr(big, 2, mlen, 0, 2);
		x = exact(big, mlen);
		CHECK_EQ(riov_rdma_msg_parse(x, mlen, &info), RIOV_RDMA_MSG_OK);
		riov_rdma_msg_iter_init(&it, x, &info);
		CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
		enum riov_rdma_msg_verdict v = riov_rdma_msg_next_frame(&it, &f);
		if (cut == RIOV_RDMA_OL_LEN + 16) {
			CHECK_EQ(v, RIOV_RDMA_MSG_OK);   /* block and 14 bytes (and 2 of padding) fit */
			CHECK(f.has_ol && f.len == 14);
		} else {
			CHECK_EQ(v, RIOV_RDMA_MSG_CLOSE);
			CHECK_EQ(f.cause, RIOV_RDMA_DROP_FRAME_OVERRUN);
		}
		free(x);
	}

	/* the builder: a frame that fits without a block but not with one */
	CHECK_EQ(riov_rdma_msg_init(&b, big, 65536), 0);
	CHECK_EQ(riov_rdma_msg_reserve_ol(&b, 1, 65536 - 24, &ol[0], &dst), -EINVAL);
	CHECK_EQ(riov_rdma_msg_reserve_ol(&b, 1, 65536 - 36, &ol[0], &dst), 0);
	CHECK_EQ(riov_rdma_msg_reserve_ol(&b, 1, 14, &ol[0], &dst), -ENOSPC);
	CHECK_EQ(riov_rdma_msg_finish(&b, 0), 65536);
}

RIOV_TEST(records_that_cannot_be_framed_close)
{
	struct riov_rdma_msg_info info;
	struct riov_rdma_msg_iter it;
	struct riov_rdma_frame f;
	/* count 1, two records: bytes after the last counted one */
	uint32_t off = raw_rec(big, 16, 0, 1, 60);
	off = raw_rec(big, off, 0, 2, 60);
	raw_hdr(big, 2, off, 0, 1);
	uint8_t *x = exact(big, off);
	CHECK_EQ(riov_rdma_msg_parse(x, off, &info), RIOV_RDMA_MSG_OK);
	riov_rdma_msg_iter_init(&it, x, &info);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_CLOSE);
	CHECK_EQ(f.cause, RIOV_RDMA_DROP_TRAILING);
	/* it stays closed */
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_CLOSE);
	CHECK_EQ(f.cause, RIOV_RDMA_DROP_TRAILING);
	free(x);

	/* count 3, two records: the third record header would lie past the end */
	raw_hdr(big, 2, off, 0, 3);
	x = exact(big, off);
	CHECK_EQ(riov_rdma_msg_parse(x, off, &info), RIOV_RDMA_MSG_OK);
	riov_rdma_msg_iter_init(&it, x, &info);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_CLOSE);
	CHECK_EQ(f.cause, RIOV_RDMA_DROP_FRAME_OVERRUN);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_CLOSE);
	free(x);

	/* frame lengths that run past the end, some that would wrap a 32-bit sum */
	static const uint32_t lens[] = { 65, 68, 0x7fffffffu, 0xfffffff8u, 0xfffffffcu, 0xfffffffdu, 0xffffffffu };
	for (unsigned i = 0; i < DIM(lens); i++) {
		off = raw_rec(big, 16, 0, 1, 60);   /* a 68-byte record holds at most 60 */
		put32(big + 16 + 4, lens[i]);
		raw_hdr(big, 2, off, 0, 1);
		x = exact(big, off);
		CHECK_EQ(riov_rdma_msg_parse(x, off, &info), RIOV_RDMA_MSG_OK);
		riov_rdma_msg_iter_init(&it, x, &info);
		CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_CLOSE);
		CHECK_EQ(f.cause, RIOV_RDMA_DROP_FRAME_OVERRUN);
		free(x);
	}
	/* 57..60 bytes fill the same record */
	for (uint32_t l = 57; l <= 60; l++) {
		off = raw_rec(big, 16, 0, 1, 60);
		put32(big + 16 + 4, l);
		raw_hdr(big, 2, off, 0, 1);
		x = exact(big, off);
		CHECK_EQ(riov_rdma_msg_parse(x, off, &info), RIOV_RDMA_MSG_OK);
		riov_rdma_msg_iter_init(&it, x, &info);
		CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_OK);
		CHECK_EQ(f.len, l);
		CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_END);
		free(x);
	}

	/* The walk checks a record's padding against the end as well, even for a length that the
	 * parser would not have let through (not a multiple of 4): it trusts no more than it must. */
	off = raw_rec(big, 16, 0, 1, 1);
	memset(&info, 0, sizeof(info));
	info.type = RIOV_RDMA_MSG_DATA;
	info.len = 16 + 8 + 3;
	info.nframes = 1;
	x = exact(big, info.len);
	riov_rdma_msg_iter_init(&it, x, &info);
	CHECK_EQ(riov_rdma_msg_next_frame(&it, &f), RIOV_RDMA_MSG_CLOSE);
	CHECK_EQ(f.cause, RIOV_RDMA_DROP_FRAME_OVERRUN);
	free(x);
}

RIOV_TEST(drop_table)
{
	/* every cause has a name (counters, metrics), names are unique, each cause has a verdict */
	for (unsigned c = 0; c < RIOV_RDMA_DROP__MAX; c++) {
		CHECK(riov_rdma_drop_names[c] != NULL);
		CHECK(riov_rdma_drop_verdict[c] == RIOV_RDMA_MSG_DROP || riov_rdma_drop_verdict[c] == RIOV_RDMA_MSG_CLOSE);
		for (unsigned d = 0; d < c; d++)
			CHECK(strcmp(riov_rdma_drop_names[c], riov_rdma_drop_names[d]) != 0);
	}
	CHECK_EQ(riov_rdma_drop_verdict[RIOV_RDMA_DROP_FRAME_SHORT], RIOV_RDMA_MSG_DROP);
	CHECK_EQ(riov_rdma_drop_verdict[RIOV_RDMA_DROP_FRAME_OVERRUN], RIOV_RDMA_MSG_CLOSE);
	CHECK_EQ(riov_rdma_drop_verdict[RIOV_RDMA_DROP_UNKNOWN_VNI], RIOV_RDMA_MSG_DROP);
	CHECK(strcmp(riov_rdma_drop_names[RIOV_RDMA_DROP_FRAME_FLAGS], "frame_flags") == 0);
}

static void replay_one(const char *name, const uint8_t *data, size_t len, void *arg)
{
	int n = riov_rdma_msg_fuzz_one(data, len);
	CHECK(n >= 0);
	*(unsigned *)arg += n > 0;
}

RIOV_TEST(corpus_replay)
{
	static uint8_t buf[RIOV_RDMA_MSG_MAX + 64];
	unsigned framed = 0;
	CHECK(riov_test_each_file(corpus_dir, buf, sizeof(buf), replay_one, &framed) >= 3);
	CHECK(framed >= 1);   /* the seeds reach the frames, not only the header checks */
}

int main(int argc, char **argv)
{
	if (argc > 1)
		corpus_dir = argv[1];
	static const struct riov_test_case cases[] = {
		RIOV_TEST_ENTRY(sizes_and_limits),
		RIOV_TEST_ENTRY(builder_writes_the_wire_format),
		RIOV_TEST_ENTRY(parser_reads_the_wire_format),
		RIOV_TEST_ENTRY(round_trip_1_to_n_frames),
		RIOV_TEST_ENTRY(alignment_and_padding),
		RIOV_TEST_ENTRY(message_exactly_full),
		RIOV_TEST_ENTRY(frame_count_limit),
		RIOV_TEST_ENTRY(reserve_and_refusals),
		RIOV_TEST_ENTRY(credit_only_message),
		RIOV_TEST_ENTRY(hello_round_trip),
		RIOV_TEST_ENTRY(header_malformed_each_with_its_cause),
		RIOV_TEST_ENTRY(truncated_at_every_byte),
		RIOV_TEST_ENTRY(frames_dropped_each_with_its_cause),
		RIOV_TEST_ENTRY(offload_blocks),
		RIOV_TEST_ENTRY(records_that_cannot_be_framed_close),
		RIOV_TEST_ENTRY(drop_table),
		RIOV_TEST_ENTRY(corpus_replay),
	};
	return riov_test_run(cases, DIM(cases));
}
