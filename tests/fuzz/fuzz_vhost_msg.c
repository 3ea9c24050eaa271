/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the vhost-user device server (vmm/vhost*.c): the input is a sequence of
 * vhost-user messages, with file descriptors the input asks for, sent through a socketpair into a
 * fresh device backed by a fresh VT-d unit, through riov_vhost_fuzz_one(). The unit test
 * tests/unit/vmm/test_vhost.c replays the corpus (corpus/vhost_msg: seeds and kept crashers)
 * through the same function in ordinary builds. Reaches the device without a socket through
 * vmm/vhost_internal.h.
 *
 * Security model: the input is arbitrary bytes, as a hostile front-end would send. The server must
 * not crash, hang or leak; every ring it hands to the "dataplane" must be mapped for its whole
 * length; hold(true) and hold(false) must alternate; and no handler may stop a vring or hold
 * beyond its row of VU_MESSAGES (dev->rule_breaks). Anything else aborts so the fuzzer reports it.
 *
 * Input format: records of [ctl u8][header 12 bytes][payload: header.size bytes, or what is left].
 * ctl == 0xff half-closes the stream instead (EOF mid-session). Otherwise ctl & 15 says which
 * descriptors go with the record:
 *   0..9    that many new ones, kinds chosen by ((ctl >> 4) + i) % 3: an eventfd, a 4 MiB memfd,
 *           a 64 KiB memfd;
 *   10..15  (ctl & 15) - 9 of this input's shared memfds, chosen by ((ctl >> 4) + i) % 2: a 4 MiB
 *           one or a 64 KiB one, the same file every time, so that an identical ADD_MEM_REG or
 *           SET_MEM_TABLE region arrives again (the region reference counts of guest_mem.c).
 * After every record the server reads what it got; when it closed the connection, the harness
 * connects again (same device: what survives a disconnect is exercised too).
 *
 * Thread rules: one thread (the fuzzer's or the unit test's).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "iommu/vtd.h"
#include "tests/fuzz/fuzz_entry.h"
#include "vmm/vhost_internal.h"

#define FZ_BIG (4u << 20)
#define FZ_SMALL (64u << 10)

struct fz_ctx {
	struct riov_vhost_vring_info vi[RIOV_VHOST_MAX_VRINGS];
	bool holding;
	int shared[2];            /* the input's shared memfds (4 MiB, 64 KiB), -1 until used */
};

static void fz_touch(const volatile uint8_t *p, size_t len)
{
	(void)p[0];
	(void)p[len - 1];
}

static void fz_vring_start(void *ctx, struct riov_vhost_dev *dev, const struct riov_vhost_vring_info *vi)
{
	struct fz_ctx *c = ctx;
	/* the dataplane will read and write these: every byte must be mapped (a packed ring: the
	 * descriptor ring and two 4-byte event suppression areas) */
	bool packed = vi->features & (1ull << RIOV_VIRTIO_F_RING_PACKED);
	fz_touch(vi->desc, 16u * vi->size);
	fz_touch(vi->avail, packed ? 4u : 4u + 2u * vi->size);
	fz_touch(vi->used, packed ? 4u : 4u + 8u * vi->size);
	if (vi->log_base)
		fz_touch(vi->log_base, vi->log_size);
	c->vi[vi->qid] = *vi;
}

static void fz_vring_stop(void *ctx, struct riov_vhost_dev *dev, uint16_t qid, uint16_t *la, uint16_t *lu)
{
	struct fz_ctx *c = ctx;
	*la = c->vi[qid].last_avail_idx;
	*lu = c->vi[qid].last_used_idx;
}

static void fz_hold(void *ctx, struct riov_vhost_dev *dev, bool on)
{
	struct fz_ctx *c = ctx;
	if (c->holding == on)
		abort();   /* hold(true) and hold(false) alternate */
	c->holding = on;
}

static int fz_memfd(size_t size)
{
	int fd = memfd_create("riov-fuzz", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A new descriptor of kind 0 (eventfd), 1 (4 MiB memfd) or 2 (64 KiB memfd); the caller closes it. */
static int fz_make_fd(unsigned kind)
{
	if (kind == 0)
		return eventfd(0, EFD_CLOEXEC);
	return fz_memfd(kind == 1 ? FZ_BIG : FZ_SMALL);
}

/* The input's shared memfd k (0: 4 MiB, 1: 64 KiB), made on first use; the harness keeps it. */
static int fz_shared_fd(struct fz_ctx *c, unsigned k)
{
	if (c->shared[k] < 0)
		c->shared[k] = fz_memfd(k == 0 ? FZ_BIG : FZ_SMALL);
	return c->shared[k];
}

static void fz_drain(int peer)
{
	for (;;) {
		uint8_t buf[8192];
		union {
			char b[CMSG_SPACE(sizeof(int) * 16)];
			struct cmsghdr align;
		} cb;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
				     .msg_controllen = sizeof(cb.b) };
		ssize_t n = recvmsg(peer, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < cnt; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
		}
	}
}

static int fz_connect(struct riov_vhost_dev *dev, int *peer)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (vu_conn_open(dev, sv[0]) < 0) {
		close(sv[1]);
		return -1;
	}
	*peer = sv[1];
	return 0;
}

/* Send one record's bytes (header and payload) with the descriptors ctl asks for. */
static void fz_send(struct fz_ctx *c, int peer, uint8_t ctl, const uint8_t *bytes, size_t len)
{
	unsigned low = ctl & 15;
	unsigned nfds = low < 10 ? low : low - 9;
	int fds[10];
	bool own[10];
	unsigned got = 0;
	union {
		char b[CMSG_SPACE(sizeof(int) * 10)];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { (void *)bytes, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	for (unsigned i = 0; i < nfds; i++) {
		bool fresh = low < 10;
		int fd = fresh ? fz_make_fd(((ctl >> 4) + i) % 3) : fz_shared_fd(c, ((ctl >> 4) + i) % 2);
		if (fd < 0)
			continue;
		own[got] = fresh;
		fds[got++] = fd;
	}
	if (got && len) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * got);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * got);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * got);
	}
	if (len)
		sendmsg(peer, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	for (unsigned i = 0; i < got; i++)
		if (own[i])
			close(fds[i]);
}

/* Run the records of data through dev's connection (peer is the front-end's end). */
static void fz_run(struct fz_ctx *c, struct riov_vhost_dev *dev, int *peer, const uint8_t *data,
		   size_t size)
{
	size_t off = 0;
	while (off < size) {
		uint8_t ctl = data[off++];
		if (ctl == 0xff) {
			shutdown(*peer, SHUT_WR);
		} else {
			size_t hl = size - off < VU_HDR_SIZE ? size - off : VU_HDR_SIZE;
			size_t pl = 0;
			if (hl == VU_HDR_SIZE) {
				uint32_t want = vu_rd32(data + off + 8);
				pl = size - off - hl < want ? size - off - hl : want;
			}
			fz_send(c, *peer, ctl, data + off, hl + pl);
			off += hl + pl;
		}
		vu_conn_process(dev);
		fz_drain(*peer);
		if (dev->conn_fd < 0) {
			close(*peer);
			*peer = -1;
			if (fz_connect(dev, peer) < 0)
				return;
		}
	}
}

int riov_vhost_fuzz_one(const uint8_t *data, size_t size)
{
	static const struct riov_vhost_ops ops = { fz_vring_start, fz_vring_stop, NULL, fz_hold };
	struct fz_ctx ctx;
	/* a small IOTLB: every session end invalidates it whole, and scanning riovd's 4,096 entries
	 * (with every comparison instrumented) was most of the harness's time; the vtd harness is the
	 * one that exercises the IOTLB's capacity */
	struct riov_vtd_config vc = { .aw_bits = 48, .fault_log_size = 8, .irte_count = 64, .iotlb_entries = 16 };
	int peer = -1;

	memset(&ctx, 0, sizeof(ctx));
	ctx.shared[0] = ctx.shared[1] = -1;
	struct riov_vtd *vtd = riov_vtd_create(&vc);
	struct event_base *base = event_base_new();
	struct riov_vhost_dev_params p = {
		.name = "fuzz", .path = "fuzz", .mode = RIOV_VHOST_SERVER, .max_queue_pairs = 4,
		.base = base, .vtd = vtd, .sid = 0x10, .did = 1, .s1_did = 2, .irte_base = 8,
		.ops = &ops, .ops_ctx = &ctx, .packed = true,   /* a front-end may choose packed rings */
	};
	struct riov_vhost_dev *dev = vtd && base ? vu_dev_alloc(&p) : NULL;
	if (dev && fz_connect(dev, &peer) == 0)
		fz_run(&ctx, dev, &peer, data, size);
	if (dev && (dev->rule_breaks || ctx.holding))
		abort();   /* a handler stopped or held beyond its row of VU_MESSAGES */
	riov_vhost_dev_destroy(dev);
	if (peer >= 0)
		close(peer);
	for (unsigned k = 0; k < 2; k++)
		if (ctx.shared[k] >= 0)
			close(ctx.shared[k]);
	if (base)
		event_base_free(base);
	riov_vtd_destroy(vtd);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	riov_log_set_level(RIOV_LOG_ERR);   /* guest-triggered warnings would drown the output */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return riov_vhost_fuzz_one(data, size);
}
