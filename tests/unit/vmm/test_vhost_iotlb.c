/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user IOTLB updates against the VT-d model's page-table limit (issue 12, finding 2): a
 * tiny front-end drives the real server over a real Unix socket with a vIOMMU guest
 * (VIRTIO_F_IOMMU_PLATFORM, REPLY_ACK). A giant update (1 TiB at 4 KiB granularity) is refused
 * at once with an error reply and a counter, the first stage's page tables stay under the limit,
 * and the device keeps working; honest updates (thousands of 4 KiB and 2 MiB pages) all succeed;
 * when they outgrow a small limit the first stage (a cache) is evicted instead of refused.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "iommu/vtd.h"
#include "iommu/vtd_dp.h"
#include "riov_test.h"
#include "vmm/vhost.h"
#include "vmm/vhost_internal.h"

#define SID 0x0109
#define DID 11
#define S1DID 12
#define IRTE_BASE 32
#define KB 1024ull
#define MB (1024ull * KB)
#define GB (1024ull * MB)
#define TB (1024ull * GB)

/* ---- fixture: a device, its unit, and a front-end ------------------------------------------- */

struct fx {
	struct event_base *base;
	struct riov_vtd *vtd;
	struct riov_vhost_dev *dev;
	char path[108];
	int fd;            /* the front-end's connection */
	int starts;
	struct riov_vhost_vring_info last;
	/* guest memory: one region at gpa 0, mapped by the front-end too (its address is uaddr) */
	int memfd;
	uint8_t *map;
	uint64_t size;
};

static void t_start(void *ctx, struct riov_vhost_dev *dev, const struct riov_vhost_vring_info *vi)
{
	struct fx *f = ctx;
	(void)dev;
	f->starts++;
	f->last = *vi;
}

static void t_stop(void *ctx, struct riov_vhost_dev *dev, uint16_t qid, uint16_t *la, uint16_t *lu)
{
	(void)ctx, (void)dev, (void)qid;
	*la = *lu = 0;
}

static const struct riov_vhost_ops t_ops = { .vring_start = t_start, .vring_stop = t_stop };

static void pump_once(struct fx *f)
{
	event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static bool pump_until_readable(struct fx *f)
{
	for (int i = 0; i < 3000; i++) {
		pump_once(f);
		struct pollfd p = { f->fd, POLLIN, 0 };
		if (poll(&p, 1, 1) > 0)
			return true;
	}
	return false;
}

static int fe_send(struct fx *f, uint32_t req, uint32_t flags, const void *pl, uint32_t size,
		   const int *fds, unsigned nfds)
{
	uint8_t buf[VU_HDR_SIZE + 512];
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cb;
	uint32_t h[3] = { req, flags ? flags : VU_VERSION, size };
	memcpy(buf, h, sizeof(h));
	if (size)
		memcpy(buf + VU_HDR_SIZE, pl, size);
	struct iovec iov = { buf, VU_HDR_SIZE + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(f->fd, &mh, MSG_NOSIGNAL) == (ssize_t)iov.iov_len ? 0 : -1;
}

/* One reply's payload (up to 8 bytes as a u64). Returns its size, or -1 (hung up, nothing). */
static int fe_recv(struct fx *f, uint32_t req, uint64_t *v)
{
	uint8_t buf[VU_HDR_SIZE + 512];
	if (!pump_until_readable(f))
		return -1;
	ssize_t n = recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < (ssize_t)VU_HDR_SIZE)
		return -1;
	uint32_t h[3];
	memcpy(h, buf, sizeof(h));
	CHECK_EQ(h[0], req);
	CHECK_EQ(h[2], (uint32_t)(n - VU_HDR_SIZE));
	*v = ~0ull;
	if (h[2] >= 8)
		memcpy(v, buf + VU_HDR_SIZE, 8);
	return (int)h[2];
}

static uint64_t fe_get_u64(struct fx *f, uint32_t req)
{
	uint64_t v = ~0ull;
	CHECK_EQ(fe_send(f, req, 0, NULL, 0, NULL, 0), 0);
	CHECK_EQ(fe_recv(f, req, &v), 8);
	return v;
}

/* With NEED_REPLY: the ack (0 done, 1 refused), or -1 if the server hung up. */
static int64_t fe_call(struct fx *f, uint32_t req, const void *pl, uint32_t size, const int *fds,
		       unsigned nfds)
{
	uint64_t v;
	if (fe_send(f, req, VU_VERSION | VU_FLAG_NEED_REPLY, pl, size, fds, nfds))
		return -1;
	return fe_recv(f, req, &v) == 8 ? (int64_t)v : -1;
}

static int64_t fe_call_u64(struct fx *f, uint32_t req, uint64_t v, const int *fds, unsigned nfds)
{
	return fe_call(f, req, &v, sizeof(v), fds, nfds);
}

static int64_t fe_call_state(struct fx *f, uint32_t req, uint32_t index, uint32_t num)
{
	struct vu_vring_state s = { index, num };
	return fe_call(f, req, &s, sizeof(s), NULL, 0);
}

/* An IOTLB update of [iova, iova+size) -> guest memory at offset goff (front-end address). */
static int64_t update(struct fx *f, uint64_t iova, uint64_t size, uint64_t goff, uint8_t perm)
{
	struct vu_iotlb t = { iova, size, (uint64_t)(uintptr_t)f->map + goff, perm,
			      VU_IOTLB_UPDATE };
	return fe_call(f, VU_IOTLB_MSG, &t, sizeof(t), NULL, 0);
}

static int64_t invalidate(struct fx *f, uint64_t iova, uint64_t size)
{
	struct vu_iotlb t = { iova, size, 0, 0, VU_IOTLB_INVALIDATE };
	return fe_call(f, VU_IOTLB_MSG, &t, sizeof(t), NULL, 0);
}

/* Server with a unit whose domains hold at most table_pages (0: the default); a front-end that
 * negotiated a vIOMMU, REPLY_ACK and the protocol features extra_pf and sent a memory table of
 * guest_size bytes at gpa 0. */
static bool fx_packed;   /* the next fx_open_pf offers and negotiates packed rings */

static void fx_open_pf(struct fx *f, uint32_t table_pages, uint64_t guest_size, uint64_t extra_pf)
{
	static int seq;
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "/tmp/riov-iotlb-ut-%d-%d.sock", (int)getpid(), seq++);
	struct riov_vtd_config vc = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 256,
				      .domain_table_pages = table_pages };
	f->base = event_base_new();
	f->vtd = riov_vtd_create(&vc);
	struct riov_vhost_dev_params p = {
		.name = "iotlb0", .path = f->path, .mode = RIOV_VHOST_SERVER, .max_queue_pairs = 1,
		.base = f->base, .vtd = f->vtd, .sid = SID, .did = DID, .s1_did = S1DID,
		.irte_base = IRTE_BASE, .ops = &t_ops, .ops_ctx = f, .packed = fx_packed,
	};
	CHECK_EQ(riov_vhost_dev_create(&p, &f->dev), 0);

	/* guest memory: a sparse memfd, so a 1 TiB guest costs only what is touched */
	f->size = guest_size;
	f->memfd = memfd_create("ut-iotlb-guest", MFD_CLOEXEC);
	CHECK(ftruncate(f->memfd, (off_t)guest_size) == 0);
	f->map = mmap(NULL, guest_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		      f->memfd, 0);
	CHECK(f->map != MAP_FAILED);

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, f->path);
	f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(connect(f->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	struct riov_vhost_dev_stats st;
	for (int i = 0; i < 1000; i++) {
		pump_once(f);
		riov_vhost_dev_stats(f->dev, &st);
		if (st.connected)
			break;
		usleep(100);
	}
	uint64_t features = (1ull << RIOV_VIRTIO_F_VERSION_1) | (1ull << VU_F_PROTOCOL_FEATURES) |
			    (1ull << RIOV_VIRTIO_F_IOMMU_PLATFORM) | (fx_packed ? 1ull << 34 : 0);
	CHECK_EQ(fe_send(f, VU_SET_OWNER, 0, NULL, 0, NULL, 0), 0);
	CHECK((fe_get_u64(f, VU_GET_FEATURES) & features) == features);
	uint64_t pf = (1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_CONFIGURE_MEM_SLOTS) | extra_pf;
	CHECK((fe_get_u64(f, VU_GET_PROTOCOL_FEATURES) & pf) == pf);
	CHECK_EQ(fe_call_u64(f, VU_SET_PROTOCOL_FEATURES, pf, NULL, 0), 0);
	CHECK_EQ(fe_call_u64(f, VU_SET_FEATURES, features, NULL, 0), 0);
	struct {
		struct vu_mem_table_hdr h;
		struct riov_guest_region_desc r;
	} mt = { { 1, 0 }, { 0, guest_size, (uint64_t)(uintptr_t)f->map, 0 } };
	CHECK_EQ(fe_call(f, VU_SET_MEM_TABLE, &mt, sizeof(mt), &f->memfd, 1), 0);
}

static void fx_open(struct fx *f, uint32_t table_pages, uint64_t guest_size)
{
	fx_open_pf(f, table_pages, guest_size, 0);
}

static void fx_close(struct fx *f)
{
	close(f->fd);
	riov_vhost_dev_destroy(f->dev);
	riov_vtd_destroy(f->vtd);
	event_base_free(f->base);
	munmap(f->map, f->size);
	close(f->memfd);
	unlink(f->path);
}

static struct riov_vhost_dev_stats stats(struct fx *f)
{
	struct riov_vhost_dev_stats st;
	riov_vhost_dev_stats(f->dev, &st);
	return st;
}

static struct riov_vtd_domain_info s1_info(struct fx *f)
{
	struct riov_vtd_domain_info di = { 0 };
	CHECK_EQ(riov_vtd_domain_info(f->vtd, S1DID, &di), 0);
	return di;
}

/* What DMA to iova reaches, checked end to end: the byte the front-end wrote at guest offset
 * goff is what the device reads through its translation. Returns the translate result. */
static int dma_reads(struct fx *f, uint64_t iova, uint64_t goff)
{
	struct riov_vtd_cursor c;
	void *h;
	uint64_t m;
	riov_vtd_cursor_init(&c, f->vtd, SID);
	int rc = riov_vtd_translate(&c, iova, 1, RIOV_VTD_READ, &h, &m);
	if (rc == 0) {
		uint8_t v = (uint8_t)(0x5a ^ goff ^ (goff >> 12) ^ (goff >> 30));
		f->map[goff] = v;
		CHECK_EQ(*(volatile uint8_t *)h, v);
	}
	return rc;
}

/* Vring 0's rings at IOVAs ring_iova + 0x10000 (desc), + 0x11000 (avail), + 0x12000 (used). */
static void setup_vring(struct fx *f, uint64_t ring_iova, int *callfd, int *kickfd)
{
	struct vu_vring_addr a = { 0, 0, ring_iova + 0x10000, ring_iova + 0x12000,
				   ring_iova + 0x11000, 0 };
	CHECK_EQ(fe_call_state(f, VU_SET_VRING_NUM, 0, 256), 0);
	CHECK_EQ(fe_call(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	CHECK_EQ(fe_call_state(f, VU_SET_VRING_BASE, 0, 0), 0);
	*callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	*kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK_EQ(fe_call_u64(f, VU_SET_VRING_CALL, 0, callfd, 1), 0);
	CHECK_EQ(fe_call_u64(f, VU_SET_VRING_KICK, 0, kickfd, 1), 0);
	CHECK_EQ(fe_call_state(f, VU_SET_VRING_ENABLE, 0, 1), 0);
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* A guest with 1 TiB of memory (sparse) asks for all of it at 4 KiB granularity: iova and guest
 * address not congruent modulo 2 MiB, so 2^28 page-table entries, 2^19 table pages (2 GiB).
 * Refused at once: error reply, counted, logged; the first stage holds nothing more than before
 * and stays under its limit; the session and the device go on (its rings start on an honest
 * update, DMA translates), and an honest 1 TiB update that 1 GiB pages can map is taken. */
RIOV_TEST(giant_update_refused_device_keeps_working)
{
	struct fx f;
	int callfd, kickfd;
	fx_open(&f, 0, TB + 4 * MB);
	const uint64_t ring_iova = 3 * GB;
	setup_vring(&f, ring_iova, &callfd, &kickfd);
	CHECK_EQ(f.starts, 0);   /* the rings do not translate yet */

	/* 1 TiB at 4 KiB alignment: iova 4 KiB, guest address 0 */
	CHECK_EQ(update(&f, 4 * KB, TB, 0, 3), 1);
	/* 2^40 bytes at 4 KiB alignment the other way: iova 1 GiB-aligned, guest address not */
	CHECK_EQ(update(&f, TB, TB, 4 * KB, 3), 1);
	/* the same with a read-only mapping just below the top of guest memory */
	CHECK_EQ(update(&f, 2 * TB + 2 * MB, TB, 4 * MB - 4 * KB, 1), 1);
	struct riov_vhost_dev_stats st = stats(&f);
	CHECK(st.connected);
	CHECK_EQ(st.iotlb_refused, 3);
	CHECK_EQ(st.refused, 3);
	CHECK_EQ(st.bad_messages, 0);
	struct riov_vtd_domain_info di = s1_info(&f);
	CHECK_EQ(di.mapped_bytes, 0);
	CHECK(di.table_pages <= 1);   /* the root: nothing was built and torn down */
	CHECK(di.table_pages <= di.table_pages_max);
	CHECK_EQ(dma_reads(&f, 4 * KB + 5 * GB, 5 * GB - 4 * KB), -RIOV_VTD_IOTLB_MISS);

	/* the device keeps working: the rings' update starts the vring */
	CHECK_EQ(update(&f, ring_iova + 0x10000, 0x10000, 0x10000, 3), 0);
	CHECK_EQ(f.starts, 1);
	CHECK(f.last.desc == (void *)((uint8_t *)f.last.avail - 0x1000));
	CHECK_EQ(dma_reads(&f, ring_iova + 0x10000 + 8, 0x10000 + 8), 0);

	/* an honest 1 TiB update: iova and guest address 1 GiB-aligned, 1024 entries, 3 tables */
	CHECK_EQ(update(&f, 4 * TB, TB, 0, 3), 0);
	di = s1_info(&f);
	CHECK(di.table_pages <= 8);
	CHECK_EQ(di.mapped_bytes, TB + 0x10000);
	CHECK_EQ(dma_reads(&f, 4 * TB + 700 * GB + 12345, 700 * GB + 12345), 0);
	CHECK_EQ(dma_reads(&f, 5 * TB - 1, TB - 1), 0);
	CHECK_EQ(stats(&f).iotlb_refused, 3);
	CHECK_EQ(stats(&f).iotlb_evictions, 0);
	/* and the giant one is still refused with all that in place */
	CHECK_EQ(update(&f, 8 * TB + 4 * KB, TB, 0, 3), 1);
	CHECK_EQ(stats(&f).iotlb_refused, 4);
	CHECK_EQ(s1_info(&f).mapped_bytes, TB + 0x10000);
	close(callfd);
	close(kickfd);
	fx_close(&f);
}

/* the IOVA of the i-th 4 KiB page of the honest guest below */
static uint64_t small_iova(unsigned i)
{
	return 0x100000000ull + (uint64_t)i * 3 * 4 * KB + (uint64_t)(i / 700) * GB;
}

/* What an honest QEMU vIOMMU guest sends: one IOMMU page per update, thousands of them, 4 KiB
 * and 2 MiB, scattered over its IOVA space. Every one is taken (none evicted at the default
 * limit) and translates to the right guest memory. */
RIOV_TEST(honest_updates_thousands)
{
	struct fx f;
	fx_open(&f, 0, 256 * MB);
	unsigned n4k = 3000, n2m = 500;

	for (unsigned i = 0; i < n4k; i++) {
		uint64_t iova = small_iova(i);
		uint64_t goff = ((uint64_t)i * 7919 % (256 * MB / (4 * KB))) * 4 * KB;
		CHECK_EQ(update(&f, iova, 4 * KB, goff, 3), 0);
	}
	for (unsigned i = 0; i < n2m; i++) {
		uint64_t iova = 0x10000000000ull + (uint64_t)i * 2 * 2 * MB;
		uint64_t goff = (uint64_t)(i % 128) * 2 * MB;
		CHECK_EQ(update(&f, iova, 2 * MB, goff, i % 2 ? 3 : 1), 0);
	}
	struct riov_vhost_dev_stats st = stats(&f);
	CHECK(st.connected);
	CHECK_EQ(st.iotlb_refused, 0);
	CHECK_EQ(st.iotlb_evictions, 0);
	struct riov_vtd_domain_info di = s1_info(&f);
	CHECK_EQ(di.mapped_bytes, n4k * 4 * KB + n2m * 2 * MB);
	CHECK(di.table_pages < 64);
	for (unsigned i = 0; i < n4k; i += 97) {
		uint64_t iova = small_iova(i);
		uint64_t goff = ((uint64_t)i * 7919 % (256 * MB / (4 * KB))) * 4 * KB;
		CHECK_EQ(dma_reads(&f, iova + 123, goff + 123), 0);
	}
	for (unsigned i = 0; i < n2m; i += 37) {
		uint64_t iova = 0x10000000000ull + (uint64_t)i * 2 * 2 * MB;
		CHECK_EQ(dma_reads(&f, iova + MB + 7, (uint64_t)(i % 128) * 2 * MB + MB + 7), 0);
	}
	/* a re-sent update replaces what was there */
	CHECK_EQ(update(&f, 0x100000000ull, 4 * KB, 8 * KB, 3), 0);
	CHECK_EQ(dma_reads(&f, 0x100000000ull + 9, 8 * KB + 9), 0);
	fx_close(&f);
}

/* With a small limit (16 pages), updates in ever new 1 GiB windows (a PT and a PD each) outgrow
 * it: the first stage is evicted and the update taken, never refused; the table pages never
 * pass the limit; the newest translation works and an evicted one is a miss (the front-end
 * resends it), not a fault. An update too large for even an empty first stage is refused.
 * An invalidation that would split a superpage beyond the limit drops the 1 GiB around it. */
RIOV_TEST(limit_evicts_first_stage_honest_guest_goes_on)
{
	struct fx f;
	fx_open(&f, 16, 64 * MB);

	for (unsigned i = 0; i < 40; i++) {
		uint64_t iova = (uint64_t)(i + 1) * GB + 4 * KB, goff = (uint64_t)i * 4 * KB;
		CHECK_EQ(update(&f, iova, 4 * KB, goff, 3), 0);
		struct riov_vtd_domain_info di = s1_info(&f);
		CHECK(di.table_pages <= 16);
		CHECK_EQ(di.table_pages_max, 16);
		CHECK_EQ(dma_reads(&f, iova + 1, goff + 1), 0);
	}
	struct riov_vhost_dev_stats st = stats(&f);
	CHECK(st.iotlb_evictions >= 4);
	CHECK_EQ(st.iotlb_refused, 0);
	CHECK_EQ(dma_reads(&f, 1 * GB + 4 * KB, 0), -RIOV_VTD_IOTLB_MISS);   /* evicted */

	/* 32 MiB at 4 KiB granularity needs 16 PTs, more than an empty first stage may hold */
	CHECK_EQ(update(&f, 100 * GB + 4 * KB, 32 * MB, 0, 3), 1);
	CHECK_EQ(stats(&f).iotlb_refused, 1);
	CHECK(s1_info(&f).table_pages <= 16);
	CHECK(stats(&f).connected);

	/* a 2 MiB page, then the limit lowered to what the first stage holds: invalidating 4 KiB in
	 * its middle cannot split it, so the whole 1 GiB around it goes */
	CHECK_EQ(update(&f, 600 * GB + 2 * MB, 2 * MB, 2 * MB, 3), 0);
	CHECK_EQ(riov_vtd_domain_set_table_limit(f.vtd, S1DID, s1_info(&f).table_pages), 0);
	uint64_t ev = stats(&f).iotlb_evictions;
	CHECK_EQ(dma_reads(&f, 600 * GB + 3 * MB, 3 * MB), 0);
	CHECK_EQ(invalidate(&f, 600 * GB + 2 * MB + 64 * KB, 4 * KB), 0);
	CHECK_EQ(stats(&f).iotlb_evictions, ev + 1);
	CHECK_EQ(dma_reads(&f, 600 * GB + 3 * MB, 3 * MB), -RIOV_VTD_IOTLB_MISS);
	CHECK(stats(&f).connected);
	CHECK_EQ(stats(&f).bad_messages, 0);
	fx_close(&f);
}

/* The bound lives in the VT-d model, so guest memory (the second stage) gets it too: a region of
 * 20 TiB (sparse) would need 20480 page directories even with 2 MiB pages, more than a domain may
 * hold. ADD_MEM_REG is refused before a single entry is written; the memory already there, and
 * the first stage over it, go on. */
RIOV_TEST(giant_memory_region_refused_by_the_same_limit)
{
	struct fx f;
	fx_open(&f, 0, 64 * MB);
	const uint64_t big = 20 * TB;
	int bfd = memfd_create("ut-iotlb-giant", MFD_CLOEXEC);
	CHECK(ftruncate(bfd, (off_t)big) == 0);
	struct vu_mem_reg_single r = { 0, { TB, big, 0x100000000000ull, 0 } };
	uint64_t refused = stats(&f).refused;
	CHECK_EQ(fe_call(&f, VU_ADD_MEM_REG, &r, sizeof(r), &bfd, 1), 1);
	close(bfd);
	struct riov_vhost_dev_stats st = stats(&f);
	CHECK(st.connected);
	CHECK_EQ(st.refused, refused + 1);
	CHECK_EQ(st.mem_regions, 1);
	CHECK_EQ(st.mem_bytes, 64 * MB);
	struct riov_vtd_domain_info di = { 0 };
	CHECK_EQ(riov_vtd_domain_info(f.vtd, DID, &di), 0);
	CHECK(di.table_pages <= 4);
	CHECK_EQ(di.mapped_bytes, 64 * MB);
	CHECK_EQ(di.table_refused, 1);
	CHECK_EQ(update(&f, 7 * GB, 2 * MB, 4 * MB, 3), 0);
	CHECK_EQ(dma_reads(&f, 7 * GB + 99, 4 * MB + 99), 0);
	fx_close(&f);
}

static uint64_t gen_of(const struct riov_vtd_cursor *c)
{
	return __atomic_load_n(c->genp, __ATOMIC_ACQUIRE);
}

static int xl(struct riov_vtd_cursor *c, uint64_t iova, uint64_t *h)
{
	void *p = NULL;
	uint64_t m;
	int rc = riov_vtd_translate(c, iova, 8, RIOV_VTD_READ, &p, &m);
	if (h)
		*h = (uint64_t)(uintptr_t)p;
	return rc;
}

/* Issue 18: a vIOMMU guest's IOTLB messages invalidate its own device only. An update moves the
 * device's generation (what a vring waiting for the translation watches) and leaves a neighbour
 * device's cursor hitting; so do an invalidation and one too large for a page-selective
 * invalidation. Updates, invalidations and the miss requests sent on the back-end channel are
 * counted. Every virtio feature riovd offers has a name for Port.List. */
RIOV_TEST(iotlb_messages_scoped_and_counted)
{
	struct fx f;
	int sv[2], callfd, kickfd;
	fx_open_pf(&f, 0, 64 * MB, 1ull << VU_PF_BACKEND_REQ);
	uint64_t offered = fe_get_u64(&f, VU_GET_FEATURES);
	for (unsigned b = 0; b < 64; b++)
		if (offered & (1ull << b) && riov_virtio_feature_name(b) == NULL) {
			fprintf(stderr, "  offered feature bit %u has no name\n", b);
			CHECK(!"every feature riovd offers has a name");
		}
	CHECK(strcmp(riov_virtio_feature_name(RIOV_VIRTIO_F_IOMMU_PLATFORM), "iommu_platform") == 0);
	CHECK(strcmp(riov_virtio_feature_name(34), "packed") == 0);
	CHECK(riov_virtio_feature_name(64) == NULL);

	/* the back-end channel */
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(fe_call_u64(&f, VU_SET_BACKEND_REQ_FD, 0, &sv[1], 1), 0);
	close(sv[1]);

	/* a neighbour: another device in its own domain on the same unit, its cursor warm */
	const uint16_t nsid = 0x0110, ndid = 0x50;
	CHECK_EQ(riov_vtd_domain_create(f.vtd, ndid, 4), 0);
	CHECK_EQ(riov_vtd_map(f.vtd, ndid, 0, 0x40000000, 2 * MB, 3), 0);
	CHECK_EQ(riov_vtd_context_set(f.vtd, nsid, ndid, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	riov_vtd_inv_context_device(f.vtd, nsid);
	struct riov_vtd_cursor nb, dc;
	uint64_t h;
	riov_vtd_cursor_init(&nb, f.vtd, nsid);
	CHECK_EQ(xl(&nb, 8, &h), 0);
	CHECK_EQ(h, 0x40000008);

	/* the device's rings are not mapped yet: a miss request goes to the front-end */
	const uint64_t ring_iova = 3 * GB;
	setup_vring(&f, ring_iova, &callfd, &kickfd);
	CHECK_EQ(f.starts, 0);
	CHECK(stats(&f).iotlb_miss_requests >= 1);
	struct {
		uint32_t request, flags, size;
		struct vu_iotlb t;
	} __attribute__((packed)) miss;
	CHECK_EQ(recv(sv[0], &miss, sizeof(miss), MSG_DONTWAIT), (ssize_t)sizeof(miss));
	CHECK_EQ(miss.request, VU_BACKEND_IOTLB_MSG);
	CHECK_EQ(miss.t.type, VU_IOTLB_MISS);
	CHECK(miss.t.iova >= ring_iova + 0x10000 && miss.t.iova < ring_iova + 0x13000);

	/* an update: the device's generation moves, the neighbour's does not */
	riov_vtd_cursor_init(&dc, f.vtd, SID);
	CHECK_EQ(xl(&dc, 5 * GB + 8, NULL), -RIOV_VTD_IOTLB_MISS);
	uint64_t gd = gen_of(&dc), gn = gen_of(&nb), nh = nb.hits, nm = nb.misses;
	CHECK_EQ(update(&f, 5 * GB, 4 * KB, 8 * KB, 3), 0);
	CHECK(gen_of(&dc) != gd);
	CHECK_EQ(gen_of(&nb), gn);
	CHECK_EQ(dma_reads(&f, 5 * GB + 9, 8 * KB + 9), 0);   /* riovd's mapping of that byte */
	CHECK_EQ(xl(&dc, 5 * GB + 9, NULL), 0);
	/* the rings' update starts the vring; the neighbour has not missed once */
	CHECK_EQ(update(&f, ring_iova + 0x10000, 0x10000, 0x10000, 3), 0);
	CHECK_EQ(f.starts, 1);
	CHECK_EQ(xl(&nb, 16, &h), 0);
	CHECK_EQ(h, 0x40000010);
	CHECK_EQ(nb.hits, nh + 1);
	CHECK_EQ(nb.misses, nm);

	/* an invalidation: the page is gone for the device, the neighbour still hits */
	gd = gen_of(&dc);
	CHECK_EQ(invalidate(&f, 5 * GB, 4 * KB), 0);
	CHECK(gen_of(&dc) != gd);
	CHECK_EQ(xl(&dc, 5 * GB + 9, NULL), -RIOV_VTD_IOTLB_MISS);
	/* one of 3 GiB, unaligned (domain-selective on the first stage): still only the device */
	CHECK_EQ(update(&f, 7 * GB + 4 * KB, 4 * KB, 12 * KB, 3), 0);
	CHECK_EQ(xl(&dc, 7 * GB + 4 * KB, NULL), 0);
	CHECK_EQ(invalidate(&f, 6 * GB + 4 * KB, 3 * GB), 0);
	CHECK_EQ(xl(&dc, 7 * GB + 4 * KB, NULL), -RIOV_VTD_IOTLB_MISS);
	/* a refused update is not counted as taken */
	CHECK_EQ(update(&f, 9 * GB, 4 * KB, 128 * MB, 3), 1);   /* beyond guest memory */
	CHECK_EQ(gen_of(&nb), gn);
	CHECK_EQ(xl(&nb, 24, NULL), 0);
	CHECK_EQ(nb.misses, nm);

	struct riov_vhost_dev_stats st = stats(&f);
	CHECK_EQ(st.iotlb_updates, 3);
	CHECK_EQ(st.iotlb_invalidations, 2);
	CHECK_EQ(st.iotlb_refused, 1);
	CHECK(st.connected);
	close(sv[0]);
	close(callfd);
	close(kickfd);
	fx_close(&f);
}

/* A packed ring waiting for its IOTLB entries is retried on an update that meets one of its
 * areas: the descriptor ring and two 4-byte event suppression areas, not a split ring's avail
 * and used rings of 6 + 2 and 8 bytes a slot (a retry probes, and a failed probe is one more
 * miss request to the front-end). */
RIOV_TEST(packed_pending_ring_retried_for_its_own_areas)
{
	struct fx f;
	int sv[2], callfd, kickfd;
	fx_packed = true;
	fx_open_pf(&f, 0, 64 * MB, 1ull << VU_PF_BACKEND_REQ);
	fx_packed = false;
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(fe_call_u64(&f, VU_SET_BACKEND_REQ_FD, 0, &sv[1], 1), 0);
	close(sv[1]);

	/* 4096 slots: descriptors 64 KiB at R + 0x10000, driver area at R + 0x20000, device area
	 * at R + 0x30000 */
	const uint64_t r = 3 * GB;
	struct vu_vring_addr a = { 0, 0, r + 0x10000, r + 0x30000, r + 0x20000, 0 };
	CHECK_EQ(fe_call_state(&f, VU_SET_VRING_NUM, 0, 4096), 0);
	CHECK_EQ(fe_call(&f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	CHECK_EQ(fe_call_state(&f, VU_SET_VRING_BASE, 0, 1u << 15), 0);   /* wrap counter 1 */
	callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK_EQ(fe_call_u64(&f, VU_SET_VRING_CALL, 0, &callfd, 1), 0);
	CHECK_EQ(fe_call_u64(&f, VU_SET_VRING_KICK, 0, &kickfd, 1), 0);
	CHECK_EQ(fe_call_state(&f, VU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK_EQ(f.starts, 0);
	uint64_t m0 = stats(&f).iotlb_miss_requests;
	CHECK(m0 >= 1);
	/* the descriptors: retried, now the driver area misses */
	CHECK_EQ(update(&f, r + 0x10000, 0x10000, 0x100000, 3), 0);
	uint64_t m1 = stats(&f).iotlb_miss_requests;
	CHECK(m1 > m0);
	/* the page after the driver area: a split ring's avail ring of 4096 slots would reach it,
	 * a packed ring's 4 bytes do not: no retry, no miss request */
	CHECK_EQ(update(&f, r + 0x21000, 0x1000, 0x200000, 3), 0);
	CHECK_EQ(stats(&f).iotlb_miss_requests, m1);
	CHECK_EQ(f.starts, 0);
	/* the two areas: started */
	CHECK_EQ(update(&f, r + 0x20000, 0x1000, 0x210000, 3), 0);
	CHECK(stats(&f).iotlb_miss_requests > m1);
	CHECK_EQ(f.starts, 0);
	CHECK_EQ(update(&f, r + 0x30000, 0x1000, 0x220000, 3), 0);
	CHECK_EQ(f.starts, 1);
	close(sv[0]);
	close(callfd);
	close(kickfd);
	fx_close(&f);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(giant_update_refused_device_keeps_working),
	       RIOV_TEST_ENTRY(honest_updates_thousands),
	       RIOV_TEST_ENTRY(limit_evicts_first_stage_honest_guest_goes_on),
	       RIOV_TEST_ENTRY(giant_memory_region_refused_by_the_same_limit),
	       RIOV_TEST_ENTRY(iotlb_messages_scoped_and_counted),
	       RIOV_TEST_ENTRY(packed_pending_ring_retried_for_its_own_areas))
