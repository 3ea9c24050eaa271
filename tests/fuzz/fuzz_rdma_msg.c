/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the RDMA peer link messages (dataplane/rdma_msg.c): the input is a message
 * as a peer's SEND delivers it; it goes through riov_rdma_msg_parse() and, when that accepts it,
 * through the frame iterator to its end. Checked here, independently of the code under test:
 * every frame handed out lies inside the message at a multiple of 4 from its start with a length
 * and VNI in range; DROP and CLOSE come with causes of their kind; the walk gives at most the
 * header's count of records and exactly that many when it ends well; END and CLOSE stay. Then the
 * round trip: the frames it gave are packed by the builder into a fresh message whose parse must
 * give the same frames (VNI, length, bytes) and the same credits, nothing dropped; a message that
 * was walked to its end without a drop must come back byte for byte (its padding aside); a HELLO
 * or CREDIT that was accepted must come back byte for byte. Any difference aborts. The unit test
 * tests/unit/dataplane/test_rdma_msg.c builds this file too and replays
 * tests/fuzz/corpus/rdma_msg/.
 *
 * Security model: the input is arbitrary bytes standing for what a hostile peer sent. The parser
 * gets its own copy in a heap block that ends where the message does: ASan sees any read beyond.
 *
 * Input: byte 0 is the mode: bit 0 "write the message's length into its header's length field"
 * (so that the fuzzer reaches the records without having to learn the field), bit 1 "parse the
 * message at an odd address"; the rest is the message.
 *
 * Thread rules: one thread; no EAL, no pools (the code under test is DPDK-free).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/rdma_msg.h"
#include "tests/fuzz/fuzz_entry.h"

/** Returns how many frames the iterator handed out (0 when the header was refused). The
 *  declaration belongs beside the others in fuzz_entry.h. */
int riov_rdma_msg_fuzz_one(const uint8_t *data, size_t size);

static struct {
	uint8_t out[RIOV_RDMA_MSG_MAX];
	struct riov_rdma_frame got[RIOV_RDMA_FRAMES_MAX];
	uint32_t rec_off[RIOV_RDMA_FRAMES_MAX];   /* each frame's record offset in the input */
} fr;

static void fr_fail(const char *what, long a, long b)
{
	fprintf(stderr, "fuzz_rdma_msg: %s (%ld, %ld)\n", what, a, b);
	abort();
}

#define FR_CHECK(cond, a, b)                                                                  \
	do {                                                                                  \
		if (!(cond))                                                                  \
			fr_fail(#cond, (long)(a), (long)(b));                                 \
	} while (0)

static bool fr_frame_cause(enum riov_rdma_drop c)
{
	return c == RIOV_RDMA_DROP_FRAME_SHORT || c == RIOV_RDMA_DROP_FRAME_LONG || c == RIOV_RDMA_DROP_FRAME_FLAGS;
}

/* Walk the message; fill fr.got with the frames handed out. Returns their number, and in *drops
 * and *end what else the walk saw. */
static unsigned fr_walk(const uint8_t *msg, const struct riov_rdma_msg_info *info, unsigned *drops, bool *end)
{
	struct riov_rdma_msg_iter it;
	struct riov_rdma_frame f;
	enum riov_rdma_msg_verdict v;
	unsigned n = 0, steps = 0;

	*drops = 0;
	riov_rdma_msg_iter_init(&it, msg, info);
	for (;;) {
		const uint32_t off = it.off;
		v = riov_rdma_msg_next_frame(&it, &f);
		if (v == RIOV_RDMA_MSG_END || v == RIOV_RDMA_MSG_CLOSE)
			break;
		steps++;
		FR_CHECK(steps <= info->nframes, steps, info->nframes);
		FR_CHECK(f.vni <= RIOV_RDMA_VNI_MAX, f.vni, 0);
		if (v == RIOV_RDMA_MSG_DROP) {
			FR_CHECK(fr_frame_cause(f.cause) && f.data == NULL, f.cause, 0);
			++*drops;
			continue;
		}
		FR_CHECK(v == RIOV_RDMA_MSG_OK, v, 0);
		FR_CHECK(f.len >= RIOV_RDMA_FRAME_MIN && f.len <= RIOV_RDMA_FRAME_MAX, f.len, 0);
		FR_CHECK(f.data == msg + off + RIOV_RDMA_FRAME_HDR_LEN + (f.has_ol ? RIOV_RDMA_OL_LEN : 0u),
			 f.data - msg, off);
		FR_CHECK((f.data - msg) % RIOV_RDMA_ALIGN == 0, f.data - msg, 0);
		FR_CHECK((size_t)(f.data - msg) + f.len <= info->len, f.data - msg, f.len);
		fr.rec_off[n] = off;
		fr.got[n++] = f;
	}
	*end = v == RIOV_RDMA_MSG_END;
	if (*end)
		FR_CHECK(steps == info->nframes &&
			 (info->type != RIOV_RDMA_MSG_DATA || it.off == info->len), steps, info->nframes);
	else
		FR_CHECK(f.cause == RIOV_RDMA_DROP_FRAME_OVERRUN || f.cause == RIOV_RDMA_DROP_TRAILING, f.cause, 0);
	/* the end is the end */
	const enum riov_rdma_drop cause = f.cause;
	FR_CHECK(riov_rdma_msg_next_frame(&it, &f) == v && f.cause == cause, v, f.cause);
	return n;
}

/* The frames handed out, packed again: the parse of that gives them back. */
static void fr_round_trip(const uint8_t *msg, const struct riov_rdma_msg_info *info, unsigned n, unsigned drops,
			  bool end)
{
	struct riov_rdma_msg_builder b;
	FR_CHECK(riov_rdma_msg_init(&b, fr.out, sizeof(fr.out)) == 0, 0, 0);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *dst;
		int rc = riov_rdma_msg_reserve_ol(&b, fr.got[i].vni, fr.got[i].len,
						  fr.got[i].has_ol ? &fr.got[i].ol : NULL, &dst);
		FR_CHECK(rc == 0, rc, i);
		memcpy(dst, fr.got[i].data, fr.got[i].len);
	}
	const uint32_t len = riov_rdma_msg_finish(&b, info->credits);
	FR_CHECK(len <= info->len && len % RIOV_RDMA_ALIGN == 0, len, info->len);

	struct riov_rdma_msg_info again;
	enum riov_rdma_msg_verdict v = riov_rdma_msg_parse(fr.out, len, &again);
	FR_CHECK(v == RIOV_RDMA_MSG_OK, v, again.cause);
	FR_CHECK(again.type == (n ? RIOV_RDMA_MSG_DATA : RIOV_RDMA_MSG_CREDIT), again.type, n);
	FR_CHECK(again.credits == info->credits && again.nframes == n && again.len == len, again.credits, again.nframes);
	struct riov_rdma_msg_iter it;
	struct riov_rdma_frame f;
	riov_rdma_msg_iter_init(&it, fr.out, &again);
	for (unsigned i = 0; i < n; i++) {
		v = riov_rdma_msg_next_frame(&it, &f);
		FR_CHECK(v == RIOV_RDMA_MSG_OK, v, i);
		FR_CHECK(f.vni == fr.got[i].vni && f.len == fr.got[i].len, f.vni, f.len);
		FR_CHECK(f.has_ol == fr.got[i].has_ol &&
			 (!f.has_ol || memcmp(&f.ol, &fr.got[i].ol, sizeof(f.ol)) == 0), i, f.has_ol);
		FR_CHECK(memcmp(f.data, fr.got[i].data, f.len) == 0, i, f.len);
		/* padding zeroed */
		for (uint32_t p = f.len; p < riov_rdma_record_len(f.len) - RIOV_RDMA_FRAME_HDR_LEN; p++)
			FR_CHECK(f.data[p] == 0, i, p);
	}
	v = riov_rdma_msg_next_frame(&it, &f);
	FR_CHECK(v == RIOV_RDMA_MSG_END, v, f.cause);

	/* a message walked to its end without a drop is what the builder makes of its frames */
	if (end && drops == 0 && n > 0) {
		FR_CHECK(len == info->len, len, info->len);
		FR_CHECK(memcmp(fr.out, msg, RIOV_RDMA_HDR_LEN) == 0, 0, 0);
		for (unsigned i = 0; i < n; i++) {
			const uint32_t o = fr.rec_off[i];
			const uint32_t hl = RIOV_RDMA_FRAME_HDR_LEN + (fr.got[i].has_ol ? RIOV_RDMA_OL_LEN : 0u);
			FR_CHECK(memcmp(fr.out + o, msg + o, hl + fr.got[i].len) == 0, i, o);
		}
	}
}

/* An accepted HELLO or CREDIT encodes back to the same bytes. */
static void fr_control(const uint8_t *msg, const struct riov_rdma_msg_info *info)
{
	uint32_t len;
	if (info->type == RIOV_RDMA_MSG_HELLO) {
		FR_CHECK(info->len == RIOV_RDMA_HELLO_LEN && riov_rdma_msg_size_ok(info->buf_size), info->len,
			 info->buf_size);
		len = riov_rdma_hello_encode(fr.out, sizeof(fr.out), info->vtep_ip, info->buf_size, info->credits);
	} else {
		struct riov_rdma_msg_builder b;
		FR_CHECK(riov_rdma_msg_init(&b, fr.out, sizeof(fr.out)) == 0, 0, 0);
		len = riov_rdma_msg_finish(&b, info->credits);
	}
	FR_CHECK(len == info->len && memcmp(fr.out, msg, len) == 0, len, info->len);
}

int riov_rdma_msg_fuzz_one(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > RIOV_RDMA_MSG_MAX + 64u)
		return 0;
	const uint8_t mode = data[0];
	const uint32_t len = (uint32_t)(size - 1);
	const uint32_t shift = mode & 2 ? 1 : 0;
	/* the message ends where its heap block does */
	uint8_t *block = malloc(len + shift ? len + shift : 1);
	uint8_t *msg = block + shift;
	memcpy(msg, data + 1, len);
	if ((mode & 1) && len >= 8) {
		msg[4] = (uint8_t)(len >> 24);
		msg[5] = (uint8_t)(len >> 16);
		msg[6] = (uint8_t)(len >> 8);
		msg[7] = (uint8_t)len;
	}

	struct riov_rdma_msg_info info;
	unsigned n = 0;
	enum riov_rdma_msg_verdict v = riov_rdma_msg_parse(msg, len, &info);
	if (v == RIOV_RDMA_MSG_CLOSE) {
		FR_CHECK(info.cause < RIOV_RDMA_DROP__MAX && riov_rdma_drop_verdict[info.cause] == RIOV_RDMA_MSG_CLOSE,
			 info.cause, 0);
		FR_CHECK(info.cause <= RIOV_RDMA_DROP_BAD_HELLO, info.cause, 0);   /* a header's cause */
	} else {
		FR_CHECK(v == RIOV_RDMA_MSG_OK && info.len == len, v, info.len);
		FR_CHECK(info.nframes <= RIOV_RDMA_FRAMES_MAX, info.nframes, 0);
		if (info.type == RIOV_RDMA_MSG_DATA) {
			unsigned drops;
			bool end;
			n = fr_walk(msg, &info, &drops, &end);
			fr_round_trip(msg, &info, n, drops, end);
		} else {
			FR_CHECK(info.type == RIOV_RDMA_MSG_HELLO || info.type == RIOV_RDMA_MSG_CREDIT, info.type, 0);
			FR_CHECK(info.nframes == 0, info.nframes, 0);
			unsigned drops;
			bool end;
			FR_CHECK(fr_walk(msg, &info, &drops, &end) == 0 && end, 0, 0);
			fr_control(msg, &info);
		}
	}
	free(block);
	return (int)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	riov_rdma_msg_fuzz_one(data, size);
	return 0;
}
