/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RDMA peer link messages: the builder, HELLO encoding and the parser (see rdma_msg.h for the
 * wire format, the security model and thread rules).
 */
#include "dataplane/rdma_msg.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "dataplane/offload.h"

/* The largest frame a guest may hand over whole is the largest one a link carries whole. */
_Static_assert(RIOV_RDMA_FRAME_MAX == RIOV_OL_MAX_FRAME, "RDMA frame limit is the offload one");
/* Frame counts and lengths fit their fields; a record's arithmetic cannot wrap in 32 bits. */
_Static_assert(RIOV_RDMA_FRAMES_MAX <= 0xffffu, "frame count is 16 bits");
_Static_assert(RIOV_RDMA_MSG_MAX < 0x80000000u, "lengths compared in 32 bits");
_Static_assert(RIOV_RDMA_HDR_LEN % RIOV_RDMA_ALIGN == 0 && RIOV_RDMA_FRAME_HDR_LEN % RIOV_RDMA_ALIGN == 0 &&
	       RIOV_RDMA_OL_LEN % RIOV_RDMA_ALIGN == 0,
	       "headers keep records and frames aligned");
/* The smallest buffer takes a standard 1514-byte frame. */
_Static_assert(RIOV_RDMA_HDR_LEN + RIOV_RDMA_FRAME_HDR_LEN + 1516u <= RIOV_RDMA_MSG_MIN, "MSG_MIN too small");

const char *const riov_rdma_drop_names[RIOV_RDMA_DROP__MAX] = {
#define DROP_NAME_(name_, text_, verdict_) [RIOV_RDMA_DROP_##name_] = text_,
	RIOV_RDMA_DROPS(DROP_NAME_)
#undef DROP_NAME_
};

const uint8_t riov_rdma_drop_verdict[RIOV_RDMA_DROP__MAX] = {
#define DROP_VERDICT_(name_, text_, verdict_) [RIOV_RDMA_DROP_##name_] = RIOV_RDMA_MSG_##verdict_,
	RIOV_RDMA_DROPS(DROP_VERDICT_)
#undef DROP_VERDICT_
};

/* Header offsets */
#define H_MAGIC 0u
#define H_VERSION 2u
#define H_TYPE 3u
#define H_LEN 4u
#define H_CREDITS 8u
#define H_NFRAMES 10u
#define H_RSVD 12u
/* HELLO body offsets */
#define HELLO_VTEP 16u
#define HELLO_BUF_SIZE 20u
/* Record offsets: flags and VNI share one big-endian word */
#define R_FLAGS_VNI 0u
#define R_LEN 4u
#define R_OL 8u          /* the offload block, with RIOV_RDMA_FRAME_F_OFFLOAD */

/* Per message type: the lengths it may have and whether it carries records. Sizes are checked
 * here, centrally, before anything reads a type's body. */
static const struct {
	uint32_t min_len, max_len;
	bool records;
} msg_rules[] = {
	[RIOV_RDMA_MSG_HELLO] = { RIOV_RDMA_HELLO_LEN, RIOV_RDMA_HELLO_LEN, false },
	[RIOV_RDMA_MSG_DATA] = { RIOV_RDMA_HDR_LEN + RIOV_RDMA_FRAME_HDR_LEN, RIOV_RDMA_MSG_MAX, true },
	[RIOV_RDMA_MSG_CREDIT] = { RIOV_RDMA_HDR_LEN, RIOV_RDMA_HDR_LEN, false },
};

/* Big-endian fields at any alignment: the message's first bytes need no particular alignment
 * for the parser (a caller may hand it a copy). */
static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A VTEP address a peer may announce: not 0.0.0.0/8, not multicast, class E or broadcast
 * (224.0.0.0/3). Loopback and private ranges are left to the caller's comparison with the
 * address it expected for this peer. */
static bool vtep_unicast(uint32_t ip_be)
{
	const uint8_t *a = (const uint8_t *)&ip_be;
	return a[0] != 0 && a[0] < 224;
}

static void write_hdr(uint8_t *p, enum riov_rdma_msg_type type, uint32_t len, uint16_t credits, uint16_t nframes)
{
	wr16(p + H_MAGIC, RIOV_RDMA_MAGIC);
	p[H_VERSION] = RIOV_RDMA_VERSION;
	p[H_TYPE] = (uint8_t)type;
	wr32(p + H_LEN, len);
	wr16(p + H_CREDITS, credits);
	wr16(p + H_NFRAMES, nframes);
	wr32(p + H_RSVD, 0);
}

static enum riov_rdma_msg_verdict msg_close(struct riov_rdma_msg_info *info, enum riov_rdma_drop cause)
{
	info->cause = cause;
	return RIOV_RDMA_MSG_CLOSE;
}

enum riov_rdma_msg_verdict riov_rdma_msg_parse(const void *buf, uint32_t len, struct riov_rdma_msg_info *info)
{
	const uint8_t *p = buf;

	memset(info, 0, sizeof(*info));
	if (len < RIOV_RDMA_HDR_LEN)
		return msg_close(info, RIOV_RDMA_DROP_TRUNCATED);
	if (rd16(p + H_MAGIC) != RIOV_RDMA_MAGIC)
		return msg_close(info, RIOV_RDMA_DROP_BAD_MAGIC);
	/* the version before the type: another version may have other types */
	if (p[H_VERSION] != RIOV_RDMA_VERSION)
		return msg_close(info, RIOV_RDMA_DROP_BAD_VERSION);
	const unsigned type = p[H_TYPE];
	if (type < RIOV_RDMA_MSG_HELLO || type > RIOV_RDMA_MSG_CREDIT)
		return msg_close(info, RIOV_RDMA_DROP_BAD_TYPE);
	/* The length field must be the byte count the completion gave: a peer that claims more makes
	 * the walk stop early, one that claims less hides bytes. Every later read is within len. */
	if (rd32(p + H_LEN) != len || len % RIOV_RDMA_ALIGN != 0 || len < msg_rules[type].min_len ||
	    len > msg_rules[type].max_len)
		return msg_close(info, RIOV_RDMA_DROP_BAD_LENGTH);
	if (rd32(p + H_RSVD) != 0)
		return msg_close(info, RIOV_RDMA_DROP_BAD_RESERVED);
	const uint16_t nframes = rd16(p + H_NFRAMES);
	if ((nframes != 0) != msg_rules[type].records)
		return msg_close(info, RIOV_RDMA_DROP_BAD_COUNT);
	if (nframes > RIOV_RDMA_FRAMES_MAX)
		return msg_close(info, RIOV_RDMA_DROP_TOO_MANY_FRAMES);
	if (type == RIOV_RDMA_MSG_HELLO) {
		/* the address stays as it lies on the wire: network order, like every address riov keeps */
		memcpy(&info->vtep_ip, p + HELLO_VTEP, sizeof(info->vtep_ip));
		info->buf_size = rd32(p + HELLO_BUF_SIZE);
		if (!riov_rdma_msg_size_ok(info->buf_size) || !vtep_unicast(info->vtep_ip)) {
			info->vtep_ip = info->buf_size = 0;
			return msg_close(info, RIOV_RDMA_DROP_BAD_HELLO);
		}
	}
	info->type = (enum riov_rdma_msg_type)type;
	info->len = len;
	info->credits = rd16(p + H_CREDITS);
	info->nframes = nframes;
	info->cause = RIOV_RDMA_DROP__MAX;
	return RIOV_RDMA_MSG_OK;
}

void riov_rdma_msg_iter_init(struct riov_rdma_msg_iter *it, const void *buf, const struct riov_rdma_msg_info *info)
{
	it->buf = buf;
	it->off = RIOV_RDMA_HDR_LEN;
	it->idx = 0;
	it->cause = RIOV_RDMA_DROP__MAX;
	if (info->type == RIOV_RDMA_MSG_DATA) {
		it->len = info->len;
		it->nframes = info->nframes;
	} else {
		/* no records: walking ends where the header does */
		it->len = RIOV_RDMA_HDR_LEN;
		it->nframes = 0;
	}
}

static enum riov_rdma_msg_verdict iter_close(struct riov_rdma_msg_iter *it, struct riov_rdma_frame *f,
					     enum riov_rdma_drop cause)
{
	it->cause = cause;
	f->cause = cause;
	return RIOV_RDMA_MSG_CLOSE;
}

enum riov_rdma_msg_verdict riov_rdma_msg_next_frame(struct riov_rdma_msg_iter *it, struct riov_rdma_frame *f)
{
	f->data = NULL;
	f->len = 0;
	f->vni = 0;
	f->cause = RIOV_RDMA_DROP__MAX;
	if (it->cause != RIOV_RDMA_DROP__MAX)
		return iter_close(it, f, it->cause);
	if (it->idx == it->nframes) {
		/* every counted record walked: they must fill the message exactly */
		if (it->off != it->len)
			return iter_close(it, f, RIOV_RDMA_DROP_TRAILING);
		return RIOV_RDMA_MSG_END;
	}
	/* off <= len always holds (it only grows by records checked to fit) */
	const uint32_t left = it->len - it->off;
	if (left < RIOV_RDMA_FRAME_HDR_LEN)
		return iter_close(it, f, RIOV_RDMA_DROP_FRAME_OVERRUN);
	const uint8_t *r = it->buf + it->off;
	const uint32_t flags_vni = rd32(r + R_FLAGS_VNI);
	const uint32_t flen = rd32(r + R_LEN);
	const uint32_t flags = flags_vni >> 24;
	/* the offload block, when the record says it has one, is part of the record's framing */
	const uint32_t hdr = RIOV_RDMA_FRAME_HDR_LEN + ((flags & RIOV_RDMA_FRAME_F_OFFLOAD) ? RIOV_RDMA_OL_LEN : 0u);
	/* Compare the peer's length with what is left before rounding it up: a length near 2^32
	 * would wrap. Once flen <= left - hdr (at most RIOV_RDMA_MSG_MAX), the record size cannot. */
	if (left < hdr || flen > left - hdr || riov_rdma_record_len(flen) + (hdr - RIOV_RDMA_FRAME_HDR_LEN) > left)
		return iter_close(it, f, RIOV_RDMA_DROP_FRAME_OVERRUN);
	/* the record is framed: whatever its frame is like, the next one starts after it */
	it->off += riov_rdma_record_len(flen) + (hdr - RIOV_RDMA_FRAME_HDR_LEN);
	it->idx++;
	f->len = flen;
	f->vni = flags_vni & RIOV_RDMA_VNI_MAX;
	f->has_ol = false;
	if (flags & ~RIOV_RDMA_FRAME_F_KNOWN)
		f->cause = RIOV_RDMA_DROP_FRAME_FLAGS;
	else if (flen < RIOV_RDMA_FRAME_MIN)
		f->cause = RIOV_RDMA_DROP_FRAME_SHORT;
	else if (flen > RIOV_RDMA_FRAME_MAX)
		f->cause = RIOV_RDMA_DROP_FRAME_LONG;
	else if ((flags & RIOV_RDMA_FRAME_F_OFFLOAD) && rd16(r + R_OL + 10) != 0)
		f->cause = RIOV_RDMA_DROP_FRAME_FLAGS;   /* the block's reserved bytes */
	else {
		if (flags & RIOV_RDMA_FRAME_F_OFFLOAD) {
			const uint8_t *o = r + R_OL;
			f->has_ol = true;
			f->ol.flags = o[0];
			f->ol.gso_type = o[1];
			f->ol.hdr_len = rd16(o + 2);
			f->ol.gso_size = rd16(o + 4);
			f->ol.csum_start = rd16(o + 6);
			f->ol.csum_offset = rd16(o + 8);
		}
		f->data = r + hdr;
		return RIOV_RDMA_MSG_OK;
	}
	return (enum riov_rdma_msg_verdict)riov_rdma_drop_verdict[f->cause];
}

/* The longest frame alone in a message of msg_size bytes behind a record header of hdr bytes. */
static uint32_t frame_max(uint32_t msg_size, uint32_t hdr)
{
	if (msg_size > RIOV_RDMA_MSG_MAX)
		msg_size = RIOV_RDMA_MSG_MAX;
	msg_size &= ~(RIOV_RDMA_ALIGN - 1u);
	if (msg_size < RIOV_RDMA_HDR_LEN + hdr + RIOV_RDMA_FRAME_MIN)
		return 0;
	/* what is left after the headers is a multiple of 4: a frame of that length needs no padding */
	const uint32_t room = msg_size - RIOV_RDMA_HDR_LEN - hdr;
	return room < RIOV_RDMA_FRAME_MAX ? room : RIOV_RDMA_FRAME_MAX;
}

uint32_t riov_rdma_msg_frame_max(uint32_t msg_size)
{
	return frame_max(msg_size, RIOV_RDMA_FRAME_HDR_LEN);
}

uint32_t riov_rdma_msg_ol_frame_max(uint32_t msg_size)
{
	return frame_max(msg_size, RIOV_RDMA_FRAME_HDR_LEN + RIOV_RDMA_OL_LEN);
}

int riov_rdma_msg_init(struct riov_rdma_msg_builder *b, void *buf, uint32_t cap)
{
	if (buf == NULL || cap < RIOV_RDMA_HDR_LEN)
		return -EINVAL;
	if (cap > RIOV_RDMA_MSG_MAX)
		cap = RIOV_RDMA_MSG_MAX;
	b->buf = buf;
	b->cap = cap & ~(RIOV_RDMA_ALIGN - 1u);
	b->off = RIOV_RDMA_HDR_LEN;
	b->nframes = 0;
	return 0;
}

int riov_rdma_msg_reserve_ol(struct riov_rdma_msg_builder *b, uint32_t vni, uint32_t len,
			     const struct riov_rdma_ol *ol, uint8_t **data)
{
	const uint32_t hdr = RIOV_RDMA_FRAME_HDR_LEN + (ol != NULL ? RIOV_RDMA_OL_LEN : 0u);
	const uint32_t max = ol != NULL ? riov_rdma_msg_ol_frame_max(b->cap) : riov_rdma_msg_frame_max(b->cap);
	if (vni > RIOV_RDMA_VNI_MAX || len < RIOV_RDMA_FRAME_MIN || len > max)
		return -EINVAL;
	const uint32_t rec = riov_rdma_record_len(len) + (hdr - RIOV_RDMA_FRAME_HDR_LEN);
	if (b->nframes == RIOV_RDMA_FRAMES_MAX || rec > b->cap - b->off)
		return -ENOSPC;
	uint8_t *r = b->buf + b->off;
	wr32(r + R_FLAGS_VNI, vni | (ol != NULL ? RIOV_RDMA_FRAME_F_OFFLOAD << 24 : 0u));
	wr32(r + R_LEN, len);
	if (ol != NULL) {
		uint8_t *o = r + R_OL;
		o[0] = ol->flags;
		o[1] = ol->gso_type;
		wr16(o + 2, ol->hdr_len);
		wr16(o + 4, ol->gso_size);
		wr16(o + 6, ol->csum_start);
		wr16(o + 8, ol->csum_offset);
		wr16(o + 10, 0);
	}
	/* Zero the padding now: the buffer is reused, and its old bytes may be another network's
	 * frames. The caller's copy does not reach it. */
	memset(r + hdr + len, 0, rec - hdr - len);
	b->off += rec;
	b->nframes++;
	*data = r + hdr;
	return 0;
}

int riov_rdma_msg_reserve(struct riov_rdma_msg_builder *b, uint32_t vni, uint32_t len, uint8_t **data)
{
	return riov_rdma_msg_reserve_ol(b, vni, len, NULL, data);
}

int riov_rdma_msg_add_frame(struct riov_rdma_msg_builder *b, uint32_t vni, const void *data, uint32_t len)
{
	uint8_t *dst;
	int rc = riov_rdma_msg_reserve(b, vni, len, &dst);
	if (rc == 0)
		memcpy(dst, data, len);
	return rc;
}

uint32_t riov_rdma_msg_finish(struct riov_rdma_msg_builder *b, uint16_t credits)
{
	write_hdr(b->buf, b->nframes ? RIOV_RDMA_MSG_DATA : RIOV_RDMA_MSG_CREDIT, b->off, credits, b->nframes);
	return b->off;
}

uint32_t riov_rdma_hello_encode(void *buf, uint32_t cap, uint32_t vtep_ip, uint32_t buf_size, uint16_t credits)
{
	uint8_t *p = buf;

	if (p == NULL || cap < RIOV_RDMA_HELLO_LEN || !riov_rdma_msg_size_ok(buf_size) || !vtep_unicast(vtep_ip))
		return 0;
	write_hdr(p, RIOV_RDMA_MSG_HELLO, RIOV_RDMA_HELLO_LEN, credits, 0);
	memcpy(p + HELLO_VTEP, &vtep_ip, sizeof(vtep_ip));
	wr32(p + HELLO_BUF_SIZE, buf_size);
	return RIOV_RDMA_HELLO_LEN;
}
