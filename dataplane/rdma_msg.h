/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The messages of riov's RDMA peer links (DESIGN.md "Fabric", issue 15): guest Ethernet frames
 * between two riov nodes over a reliable-connected queue pair, several frames per SEND, each with
 * its VXLAN VNI so that the receiver switches it as a frame decapsulated from that peer; receive
 * buffers granted by credits. This file is the wire format only: a builder that packs frames into
 * a caller's buffer, HELLO encoding, and a parser that sorts what arrived. Posting, polling and
 * connection state are the caller's.
 *
 * Wire format, version 1. Every field in network byte order (big-endian), at the offset given;
 * a message is one SEND, its length is the receive completion's byte count.
 *
 *   message header, 16 bytes          frame record, 8 bytes + the frame + 0-3 bytes of padding
 *    0  u16 magic 0x5256 ("RV")         0  u8  flags (0x01 OFFLOAD; no other bit may be set)
 *    2  u8  version (1)                 1  u24 VNI
 *    3  u8  type: 1 HELLO, 2 DATA,      4  u32 frame length (Ethernet header first, no FCS)
 *           3 CREDIT                    8  with OFFLOAD: the 12-byte offload block (struct
 *                                          riov_rdma_ol), and the frame 12 bytes later
 *                                       8  the frame's bytes
 *    4  u32 length of the whole         8+len  zeros up to the next multiple of 4
 *           message (header, records,
 *           the last record's padding)  HELLO body, 8 bytes (after the header)
 *    8  u16 credits                     16  IPv4 address of the sender's VTEP (as on the wire)
 *   10  u16 frame count                 20  u32 receive buffer size: the longest message the
 *   12  u32 reserved, 0                         sender accepts
 *
 * - DATA: the header, then `frame count` records (1 to RIOV_RDMA_FRAMES_MAX), back to back, that
 *   fill the message exactly. A record starts at a multiple of 4 from the message's start (the
 *   first at 16), so a frame's bytes start at a multiple of 4 too (record + 8, or + 20 with an
 *   offload block) and its record takes 8 + (len + 3) / 4 * 4 bytes (12 more with the block);
 *   the message length is a multiple of 4. A receive buffer
 *   aligned to 4 or more gives every frame that alignment: the receiver can point an mbuf at the
 *   frame where it lies (no memmove), and the sender can reserve a record and copy a frame's
 *   segments straight into it. Padding is written as zeros and ignored on receipt.
 * - CREDIT: the header alone (length 16, frame count 0).
 * - HELLO: the header and its body (length 24, frame count 0); each side sends one first. Its
 *   credits are the initial ones.
 * - credits, in every type: how many receive buffers the message's sender has posted for the
 *   other side since its last message said so (the first time: its initial buffers). Each
 *   message, of any type, uses one credit: a sender sends no more messages than it was granted
 *   (it keeps one back for a CREDIT message, so that two peers never wait on each other).
 *
 * Security model: the peer is another riov node, but a broken or hostile one must not be able to
 * make this node read outside a message or misframe a frame. riov_rdma_msg_parse() trusts no
 * field before checking it against the bytes received, and every later read stays inside them;
 * a length from the wire is compared in 32 bits before any arithmetic could wrap. Whatever breaks
 * the protocol (magic, version, type, a length or count that lies, a record that runs past the
 * end, so that what follows it cannot be framed) gets RIOV_RDMA_MSG_CLOSE: the caller closes the
 * connection. A record that is well framed but whose frame is not acceptable (shorter than an
 * Ethernet header, longer than RIOV_RDMA_FRAME_MAX, unknown flags) is one frame dropped with its
 * cause, and the frames after it are still delivered. Frames the iterator handed out before a
 * later record closed the connection were well formed in themselves and may be delivered (the
 * peer could as well have sent them in a message of their own). The VNI is the caller's to look
 * up (RIOV_RDMA_DROP_UNKNOWN_VNI); so are the connection's state (a DATA before the HELLO) and
 * credits (a peer that sends more messages than it was granted): causes for those are in the
 * table below so that one set of counters covers the link.
 *
 * Thread rules: no state of its own, nothing allocated, no DPDK: any thread may call any function
 * on buffers it owns; a builder or an iterator belongs to one thread at a time.
 */
#ifndef RIOV_DATAPLANE_RDMA_MSG_H
#define RIOV_DATAPLANE_RDMA_MSG_H

#include <stdbool.h>
#include <stdint.h>

#define RIOV_RDMA_MAGIC 0x5256u
#define RIOV_RDMA_VERSION 1u
#define RIOV_RDMA_HDR_LEN 16u               /* message header */
#define RIOV_RDMA_HELLO_LEN 24u             /* a whole HELLO: header and body */
#define RIOV_RDMA_FRAME_HDR_LEN 8u          /* frame record header */
#define RIOV_RDMA_ALIGN 4u                  /* records, and the frames in them, start at multiples */
#define RIOV_RDMA_FRAME_MIN 14u             /* an Ethernet header */
#define RIOV_RDMA_FRAME_MAX (18u + 65535u)  /* Ethernet and one 802.1Q tag, a 64 KiB IP packet
					     * (a TSO frame as a guest sends it: RIOV_OL_MAX_FRAME) */
#define RIOV_RDMA_FRAMES_MAX 1024u          /* frames in one DATA message */
#define RIOV_RDMA_CREDITS_MAX 0xffffu       /* in one message */
#define RIOV_RDMA_VNI_MAX 0xffffffu

/* Receive buffer (= largest message) sizes a node may configure and announce in its HELLO */
#define RIOV_RDMA_MSG_MIN 2048u
#define RIOV_RDMA_MSG_MAX (1024u * 1024u)
#define RIOV_RDMA_MSG_DEFAULT (68u * 1024u) /* a 64 KiB IP packet's frame, whole with its record */

/* Frame record flag bits. OFFLOAD: a 12-byte offload block lies between the record header and
 * the frame (the frame still starts at a multiple of 4); any other bit drops the frame. */
#define RIOV_RDMA_FRAME_F_OFFLOAD 0x01u
#define RIOV_RDMA_FRAME_F_KNOWN RIOV_RDMA_FRAME_F_OFFLOAD
#define RIOV_RDMA_OL_LEN 12u

/** A frame's offload metadata as it crosses a link (host order here): the fields of the virtio-net
 *  header the sending node's guest (or riov, for a frame it coalesced) gave it, so that a TSO
 *  frame of up to 64 KiB crosses whole and is segmented, if at all, at the receiving node's
 *  egress port. On the wire, after the record header: u8 flags (virtio's: NEEDS_CSUM 1), u8
 *  gso_type (virtio's: TCPV4 1, TCPV6 4, ECN bit 0x80), u16 hdr_len, u16 gso_size, u16
 *  csum_start, u16 csum_offset, u16 reserved (0; else the frame is dropped as frame_flags). The
 *  parser checks only the framing: the receiver validates the values against the frame as it
 *  does a guest's header (bad_offload). */
struct riov_rdma_ol {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/** Message types, as on the wire (0 is none: a zeroed buffer is not a message). */
enum riov_rdma_msg_type {
	RIOV_RDMA_MSG_HELLO = 1,
	RIOV_RDMA_MSG_DATA = 2,
	RIOV_RDMA_MSG_CREDIT = 3,
};

/** What the parser (or its caller) says of a message or of one frame record. */
enum riov_rdma_msg_verdict {
	RIOV_RDMA_MSG_OK = 0,   /* parse: a valid header; next_frame: a frame to deliver */
	RIOV_RDMA_MSG_DROP,     /* next_frame: this record's frame is dropped (cause); go on */
	RIOV_RDMA_MSG_CLOSE,    /* the peer broke the protocol (cause): close the connection */
	RIOV_RDMA_MSG_END,      /* next_frame: every frame of the message has been handed out */
};

/* Drop causes: name, counter name, the verdict the cause brings. One table, so that the verdict of
 * a cause is stated once: the parser returns riov_rdma_drop_verdict[cause]. */
#define RIOV_RDMA_DROPS(X)                                                                    \
	/* the message (riov_rdma_msg_parse()) */                                             \
	X(TRUNCATED, "truncated", CLOSE)             /* shorter than a message header */      \
	X(BAD_MAGIC, "bad_magic", CLOSE)                                                       \
	X(BAD_VERSION, "bad_version", CLOSE)                                                   \
	X(BAD_TYPE, "bad_type", CLOSE)                                                         \
	X(BAD_LENGTH, "bad_length", CLOSE)           /* not the bytes received, over          \
						      * RIOV_RDMA_MSG_MAX, not a multiple of 4,   \
						      * or not its type's */                      \
	X(BAD_RESERVED, "bad_reserved", CLOSE)       /* reserved header bytes not 0 */        \
	X(BAD_COUNT, "bad_count", CLOSE)             /* frame count 0 in DATA, else not 0 */  \
	X(TOO_MANY_FRAMES, "too_many_frames", CLOSE) /* over RIOV_RDMA_FRAMES_MAX */           \
	X(BAD_HELLO, "bad_hello", CLOSE)             /* buffer size out of range, VTEP        \
						      * address not unicast */                    \
	/* the records (riov_rdma_msg_next_frame()) */                                        \
	X(FRAME_OVERRUN, "frame_overrun", CLOSE)     /* a record (header, frame or padding)   \
						      * past the message's end */                 \
	X(TRAILING, "trailing", CLOSE)               /* bytes after the last counted record */ \
	X(FRAME_SHORT, "frame_short", DROP)          /* under RIOV_RDMA_FRAME_MIN, 0 included */ \
	X(FRAME_LONG, "frame_long", DROP)            /* over RIOV_RDMA_FRAME_MAX */            \
	X(FRAME_FLAGS, "frame_flags", DROP)          /* unknown flag bits */                   \
	/* the caller's */                                                                     \
	X(UNKNOWN_VNI, "unknown_vni", DROP)          /* no network of this node has the VNI */ \
	X(BAD_OFFLOAD, "bad_offload", DROP)          /* offload block refused for its frame   \
						      * (riov_ol_from_vnet_hdr()) */              \
	X(UNEXPECTED, "unexpected", CLOSE)           /* not now: DATA or CREDIT before HELLO, \
						      * a second HELLO */                         \
	X(CREDITS, "credits", CLOSE)                 /* more messages than credits granted */

enum riov_rdma_drop {
#define RIOV_RDMA_DROP_ENUM_(name_, text_, verdict_) RIOV_RDMA_DROP_##name_,
	RIOV_RDMA_DROPS(RIOV_RDMA_DROP_ENUM_)
#undef RIOV_RDMA_DROP_ENUM_
	RIOV_RDMA_DROP__MAX
};

/** Counter names of the causes ("bad_magic", ...), and the verdict each one brings
 *  (RIOV_RDMA_MSG_DROP or RIOV_RDMA_MSG_CLOSE). */
extern const char *const riov_rdma_drop_names[RIOV_RDMA_DROP__MAX];
extern const uint8_t riov_rdma_drop_verdict[RIOV_RDMA_DROP__MAX];

/** A message's header as riov_rdma_msg_parse() found it. */
struct riov_rdma_msg_info {
	enum riov_rdma_msg_type type;
	uint32_t len;              /* the message's length: the bytes received */
	uint16_t credits;          /* receive buffers the peer posted for this node */
	uint16_t nframes;          /* DATA: records (1 to RIOV_RDMA_FRAMES_MAX); else 0 */
	uint32_t vtep_ip;          /* HELLO: the peer's VTEP address (network order); else 0 */
	uint32_t buf_size;         /* HELLO: the longest message the peer accepts; else 0 */
	enum riov_rdma_drop cause; /* with RIOV_RDMA_MSG_CLOSE */
};

/** Check the header of the len bytes received at buf (len is the completion's byte count; buf
 *  needs no alignment) and, for a HELLO, its body. Returns RIOV_RDMA_MSG_OK with info filled in,
 *  or RIOV_RDMA_MSG_CLOSE with info->cause. Reads nothing past buf + len; the frames of a DATA
 *  message are not looked at here (riov_rdma_msg_iter_init()). */
enum riov_rdma_msg_verdict riov_rdma_msg_parse(const void *buf, uint32_t len, struct riov_rdma_msg_info *info);

/** Walks the frame records of one parsed message. */
struct riov_rdma_msg_iter {
	const uint8_t *buf;
	uint32_t len, off;         /* message length; offset of the next record */
	uint16_t nframes, idx;     /* records counted in the header; records walked */
	enum riov_rdma_drop cause; /* RIOV_RDMA_DROP__MAX, or why the walk closed (it stays closed) */
};

/** One frame record. */
struct riov_rdma_frame {
	const uint8_t *data;       /* OK: the frame's bytes, inside the message at a multiple of 4
				    * from its start; NULL otherwise */
	uint32_t len;              /* the record's frame length (as the peer wrote it with DROP) */
	uint32_t vni;              /* <= RIOV_RDMA_VNI_MAX; the record's also with DROP */
	enum riov_rdma_drop cause; /* with DROP and CLOSE */
	bool has_ol;               /* OK: the record carried an offload block, in ol */
	struct riov_rdma_ol ol;
};

/** Start walking the message at buf that riov_rdma_msg_parse() accepted as info (same buf; the
 *  walk trusts info's length and count). A HELLO or CREDIT has no records: the first step is
 *  RIOV_RDMA_MSG_END. */
void riov_rdma_msg_iter_init(struct riov_rdma_msg_iter *it, const void *buf, const struct riov_rdma_msg_info *info);

/** The next record: RIOV_RDMA_MSG_OK (a frame in f: deliver it), RIOV_RDMA_MSG_DROP (f->cause,
 *  f->vni and f->len say which frame was skipped and why; call again), RIOV_RDMA_MSG_END (the
 *  records filled the message exactly), or RIOV_RDMA_MSG_CLOSE (f->cause; the rest cannot be
 *  framed). END and CLOSE are returned again by every later call. A message gives at most
 *  nframes OK or DROP steps. */
enum riov_rdma_msg_verdict riov_rdma_msg_next_frame(struct riov_rdma_msg_iter *it, struct riov_rdma_frame *f);

/** Packs frames into a DATA message in a caller's buffer. */
struct riov_rdma_msg_builder {
	uint8_t *buf;
	uint32_t cap;              /* usable bytes: a multiple of 4, at most RIOV_RDMA_MSG_MAX */
	uint32_t off;              /* bytes so far, header included */
	uint16_t nframes;
};

/** Record size of a frame of len bytes (record header, frame, padding). */
static inline uint32_t riov_rdma_record_len(uint32_t len)
{
	return RIOV_RDMA_FRAME_HDR_LEN + ((len + RIOV_RDMA_ALIGN - 1u) & ~(RIOV_RDMA_ALIGN - 1u));
}

/** Record size of a frame of len bytes with an offload block. */
static inline uint32_t riov_rdma_record_len_ol(uint32_t len)
{
	return riov_rdma_record_len(len) + RIOV_RDMA_OL_LEN;
}

/** The longest frame that fits in a message of msg_size bytes (alone in it): at most
 *  RIOV_RDMA_FRAME_MAX; 0 when msg_size has no room for any frame. A sender with a longer frame
 *  segments it or sends it another way (VXLAN). */
uint32_t riov_rdma_msg_frame_max(uint32_t msg_size);

/** The same for a frame with an offload block (RIOV_RDMA_OL_LEN bytes less). */
uint32_t riov_rdma_msg_ol_frame_max(uint32_t msg_size);

/** Whether size is a receive buffer size a node may announce (RIOV_RDMA_MSG_MIN to _MAX). */
static inline bool riov_rdma_msg_size_ok(uint32_t size)
{
	return size >= RIOV_RDMA_MSG_MIN && size <= RIOV_RDMA_MSG_MAX;
}

/** Start a message in buf, of at most cap bytes: the smaller of the sender's buffer and the
 *  peer's announced buffer size (cap is rounded down to a multiple of 4 and to
 *  RIOV_RDMA_MSG_MAX). Returns 0, or -EINVAL (buf NULL, cap below a header). */
int riov_rdma_msg_init(struct riov_rdma_msg_builder *b, void *buf, uint32_t cap);

/** Append a record for a frame of len bytes in VNI vni and give its data area in *data (at a
 *  multiple of 4 from the message's start; the caller writes exactly len bytes there, e.g. from
 *  an mbuf chain). The padding after it is already zeroed. Returns 0; -ENOSPC when the message
 *  has no room left for it (neither bytes nor a record: send this message and start another);
 *  -EINVAL when no message of this builder's size can take it (vni over 24 bits, len under
 *  RIOV_RDMA_FRAME_MIN or over riov_rdma_msg_frame_max(cap)). Nothing changes on an error. */
int riov_rdma_msg_reserve(struct riov_rdma_msg_builder *b, uint32_t vni, uint32_t len, uint8_t **data);

/** riov_rdma_msg_reserve() for a frame with offload metadata ol (NULL: none, the same as
 *  riov_rdma_msg_reserve()); the limit is riov_rdma_msg_ol_frame_max(cap). */
int riov_rdma_msg_reserve_ol(struct riov_rdma_msg_builder *b, uint32_t vni, uint32_t len,
			     const struct riov_rdma_ol *ol, uint8_t **data);

/** riov_rdma_msg_reserve() and a copy of the len bytes at data. Same returns. */
int riov_rdma_msg_add_frame(struct riov_rdma_msg_builder *b, uint32_t vni, const void *data, uint32_t len);

/** Write the header: a DATA message of the frames added, or a CREDIT message when there are none
 *  (a DATA message carries at least one frame), with credits, the receive buffers posted for the
 *  peer since the last message said so. Credits are given here, not at init, because they are
 *  counted until the moment of sending. Returns the message's length, to send. The builder may be
 *  started again with riov_rdma_msg_init(). */
uint32_t riov_rdma_msg_finish(struct riov_rdma_msg_builder *b, uint16_t credits);

/** Write a HELLO into buf (cap bytes): this node's VTEP address vtep_ip (network order), its
 *  receive buffer size buf_size and its initial credits. Returns RIOV_RDMA_HELLO_LEN, or 0 when
 *  cap is too small, buf_size is not riov_rdma_msg_size_ok() or vtep_ip is not unicast (the
 *  peer's parser would refuse it). */
uint32_t riov_rdma_hello_encode(void *buf, uint32_t cap, uint32_t vtep_ip, uint32_t buf_size, uint16_t credits);

#endif
