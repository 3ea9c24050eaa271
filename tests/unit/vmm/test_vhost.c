/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user device server tests: a tiny front-end written here drives the real server over a real
 * Unix socket (memfds for guest memory, eventfds for kick/call), with a test ops table recording
 * vring_start/vring_stop. One test per bad input of the vhost-user CVE history; after each, the
 * connection must be closed, the server must accept a new front-end, and a good session must work,
 * without leaking a file descriptor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "iommu/vtd.h"
#include "iommu/vtd_dp.h"
#include "riov_test.h"
#include "tests/fuzz/fuzz_entry.h"
#include "vmm/vhost.h"
#include "vmm/guest_fault.h"
#include "vmm/vhost_internal.h"

#define SID 0x0108
#define DID 7
#define S1DID 8
#define IRTE_BASE 16
#define QP 2
#define GUEST_SIZE (4u << 20)

/* ---- fixture ------------------------------------------------------------------------------ */

struct rec {
	int starts, stops, links_up, links_down;
	int holds, stops_held;      /* hold(true) calls; stops while holding */
	bool holding;
	struct riov_vhost_vring_info last;
	uint16_t stop_qid;
	uint16_t stop_la, stop_lu;   /* what the "dataplane" reports on stop */
	int announces;
	uint8_t announced[6];        /* the MAC of the last announce() */
};

struct fx {
	struct event_base *base;
	struct riov_vtd *vtd;
	struct riov_vhost_dev *dev;
	char path[108];
	struct rec rec;
};

static void t_start(void *ctx, struct riov_vhost_dev *dev, const struct riov_vhost_vring_info *vi)
{
	struct rec *r = ctx;
	r->starts++;
	r->last = *vi;
}

static void t_stop(void *ctx, struct riov_vhost_dev *dev, uint16_t qid, uint16_t *la, uint16_t *lu)
{
	struct rec *r = ctx;
	r->stops++;
	r->stops_held += r->holding;
	r->stop_qid = qid;
	*la = r->stop_la;
	*lu = r->stop_lu;
}

static void t_link(void *ctx, struct riov_vhost_dev *dev, bool up)
{
	struct rec *r = ctx;
	if (up)
		r->links_up++;
	else
		r->links_down++;
}

static void t_hold(void *ctx, struct riov_vhost_dev *dev, bool on)
{
	struct rec *r = ctx;
	CHECK(r->holding != on);   /* on and off alternate */
	r->holding = on;
	r->holds += on;
}

static void t_announce(void *ctx, struct riov_vhost_dev *dev, const uint8_t mac[6])
{
	struct rec *r = ctx;
	r->announces++;
	memcpy(r->announced, mac, 6);
}

static const struct riov_vhost_ops t_ops = { t_start, t_stop, t_link, t_hold, t_announce };

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* mappings of memfds (guest memory, log, inflight) still in the address space */
static int count_memfd_maps(void)
{
	char line[512];
	int n = 0;
	FILE *m = fopen("/proc/self/maps", "r");
	while (fgets(line, sizeof(line), m))
		if (strstr(line, "/memfd:"))
			n++;
	fclose(m);
	return n;
}

static int fx_seq;

static void fx_path(struct fx *f)
{
	snprintf(f->path, sizeof(f->path), "/tmp/riov-vhost-ut-%d-%d.sock", (int)getpid(), fx_seq++);
}

/* the VT-d unit's synchronize callback for the next fx_init (NULL: single-threaded) */
static void (*fx_sync)(void *arg);
static void *fx_sync_arg;
/* the owner serves packed rings, and the features it withholds, for the next fx_init */
static bool fx_packed;
static uint64_t fx_features_off;
static const char *fx_ring_record;   /* the ring record file for the next fx_init, NULL none */

static int fx_init(struct fx *f, enum riov_vhost_mode mode)
{
	char keep[sizeof(f->path)];
	memcpy(keep, f->path, sizeof(keep));
	memset(f, 0, sizeof(*f));
	memcpy(f->path, keep, sizeof(keep));
	struct riov_vtd_config vc = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 256,
				      .synchronize = fx_sync, .sync_arg = fx_sync_arg };
	f->base = event_base_new();
	f->vtd = riov_vtd_create(&vc);
	if (!f->path[0])
		fx_path(f);
	struct riov_vhost_dev_params p = {
		.name = "ut0", .path = f->path, .mode = mode, .max_queue_pairs = QP, .base = f->base,
		.vtd = f->vtd, .sid = SID, .did = DID, .s1_did = S1DID, .irte_base = IRTE_BASE,
		.ops = &t_ops, .ops_ctx = &f->rec, .packed = fx_packed, .features_off = fx_features_off,
		.ring_record = fx_ring_record,
	};
	return riov_vhost_dev_create(&p, &f->dev);
}

static void fx_fini(struct fx *f)
{
	if (f->dev)
		CHECK_EQ(f->dev->rule_breaks, 0);   /* no handler stopped beyond its VU_MESSAGES row */
	riov_vhost_dev_destroy(f->dev);
	riov_vtd_destroy(f->vtd);
	event_base_free(f->base);
}

static struct riov_vhost_dev_stats fx_stats(struct fx *f)
{
	struct riov_vhost_dev_stats st;
	riov_vhost_dev_stats(f->dev, &st);
	return st;
}

/* Run the server's loop until fd is readable (or has hung up); bounded. */
static bool pump_until_readable(struct fx *f, int fd)
{
	for (int i = 0; i < 3000; i++) {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 1) > 0)
			return true;
	}
	return false;
}

static void pump(struct fx *f, int n)
{
	for (int i = 0; i < n; i++)
		event_base_loop(f->base, EVLOOP_NONBLOCK);
}

/* ---- tiny front-end ----------------------------------------------------------------------- */

static int fe_connect(struct fx *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, f->path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	uint64_t before = fx_stats(f).connects;
	for (int i = 0; i < 1000 && fx_stats(f).connects == before; i++) {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		usleep(100);
	}
	return fd;
}

static int fe_send_raw(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { (void *)buf, len };
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
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int fe_send(int fd, uint32_t req, uint32_t flags, const void *pl, uint32_t size, const int *fds,
		   unsigned nfds)
{
	uint8_t buf[VU_HDR_SIZE + 4096];
	uint32_t h[3] = { req, flags ? flags : VU_VERSION, size };
	memcpy(buf, h, sizeof(h));
	if (size)
		memcpy(buf + VU_HDR_SIZE, pl, size);
	return fe_send_raw(fd, buf, VU_HDR_SIZE + size, fds, nfds);
}

/* Read one reply. Returns its payload size, or -1 on EOF/error. *rfd gets a received fd or -1. */
static int fe_recv(struct fx *f, int fd, uint32_t req, void *pl, size_t cap, int *rfd)
{
	uint8_t buf[VU_HDR_SIZE + 4096];
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cb;
	if (rfd)
		*rfd = -1;
	if (!pump_until_readable(f, fd))
		return -1;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
			     .msg_controllen = sizeof(cb.b) };
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < (ssize_t)VU_HDR_SIZE)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_type == SCM_RIGHTS) {
			int x;
			memcpy(&x, CMSG_DATA(c), sizeof(int));
			if (rfd)
				*rfd = x;
			else
				close(x);
		}
	uint32_t h[3];
	memcpy(h, buf, sizeof(h));
	CHECK_EQ(h[0], req);
	CHECK_EQ(h[1], VU_VERSION | VU_FLAG_REPLY);
	CHECK_EQ(h[2], (uint32_t)(n - VU_HDR_SIZE));
	if (pl)
		memcpy(pl, buf + VU_HDR_SIZE, h[2] < cap ? h[2] : cap);
	return (int)h[2];
}

static uint64_t fe_get_u64(struct fx *f, int fd, uint32_t req)
{
	uint64_t v = ~0ull;
	CHECK_EQ(fe_send(fd, req, 0, NULL, 0, NULL, 0), 0);
	CHECK_EQ(fe_recv(f, fd, req, &v, sizeof(v), NULL), 8);
	return v;
}

/* Send with NEED_REPLY (REPLY_ACK negotiated) and return the ack value, or -1 if the server hung up. */
static int64_t fe_call(struct fx *f, int fd, uint32_t req, const void *pl, uint32_t size, const int *fds,
		       unsigned nfds)
{
	uint64_t v = ~0ull;
	if (fe_send(fd, req, VU_VERSION | VU_FLAG_NEED_REPLY, pl, size, fds, nfds))
		return -1;
	if (fe_recv(f, fd, req, &v, sizeof(v), NULL) != 8)
		return -1;
	return (int64_t)v;
}

static int64_t fe_call_u64(struct fx *f, int fd, uint32_t req, uint64_t v, const int *fds, unsigned nfds)
{
	return fe_call(f, fd, req, &v, sizeof(v), fds, nfds);
}

static int64_t fe_call_state(struct fx *f, int fd, uint32_t req, uint32_t index, uint32_t num)
{
	struct vu_vring_state s = { index, num };
	return fe_call(f, fd, req, &s, sizeof(s), NULL, 0);
}

/* Wait until the server closed the connection (EOF on our side). */
static bool fe_wait_closed(struct fx *f, int fd)
{
	for (int i = 0; i < 100; i++) {
		if (!pump_until_readable(f, fd))
			return false;
		uint8_t b[256];
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0)
			return true;
		if (n < 0 && errno != EAGAIN)
			return true;
	}
	return false;
}

/* ---- guest memory ------------------------------------------------------------------------- */

struct guest {
	int memfd;
	uint8_t *map;    /* the front-end's mapping: its address is the region's uaddr */
	uint64_t gpa;
};

static void guest_init(struct guest *g, uint64_t gpa)
{
	g->memfd = memfd_create("ut-guest", MFD_CLOEXEC);
	CHECK(ftruncate(g->memfd, GUEST_SIZE) == 0);
	g->map = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
	CHECK(g->map != MAP_FAILED);
	g->gpa = gpa;
	/* recognisable ring contents */
	memset(g->map + 0x10000, 0xd1, 0x1000);
	memset(g->map + 0x11000, 0xa1, 0x1000);
	memset(g->map + 0x12000, 0x0e, 0x1000);
}

static void guest_fini(struct guest *g)
{
	munmap(g->map, GUEST_SIZE);
	close(g->memfd);
}

static int64_t send_mem_table(struct fx *f, int fd, const struct guest *g)
{
	struct {
		struct vu_mem_table_hdr h;
		struct riov_guest_region_desc r;
	} mt = { { 1, 0 }, { g->gpa, GUEST_SIZE, (uint64_t)(uintptr_t)g->map, 0 } };
	return fe_call(f, fd, VU_SET_MEM_TABLE, &mt, sizeof(mt), &g->memfd, 1);
}

#define PROTO_WANT ((1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_MQ) | (1ull << VU_PF_LOG_SHMFD) | \
		    (1ull << VU_PF_CONFIG) | (1ull << VU_PF_INFLIGHT_SHMFD) |                     \
		    (1ull << VU_PF_CONFIGURE_MEM_SLOTS) | (1ull << VU_PF_STATUS) | (1ull << VU_PF_BACKEND_REQ))
#define FEAT_BASE ((1ull << RIOV_VIRTIO_F_VERSION_1) | (1ull << VU_F_PROTOCOL_FEATURES) | \
		   (1ull << RIOV_VIRTIO_F_RING_EVENT_IDX) | (1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF))

/* Negotiate features and protocol features (REPLY_ACK on). */
static void negotiate(struct fx *f, int fd, uint64_t features)
{
	CHECK_EQ(fe_send(fd, VU_SET_OWNER, 0, NULL, 0, NULL, 0), 0);
	uint64_t offered = fe_get_u64(f, fd, VU_GET_FEATURES);
	CHECK((offered & features) == features);
	CHECK(offered & (1ull << VU_VIRTIO_NET_F_CTRL_VQ));
	CHECK(offered & (1ull << RIOV_VIRTIO_NET_F_MQ));
	uint64_t pf = fe_get_u64(f, fd, VU_GET_PROTOCOL_FEATURES);
	CHECK((pf & PROTO_WANT) == PROTO_WANT);
	CHECK_EQ(fe_call_u64(f, fd, VU_SET_PROTOCOL_FEATURES, PROTO_WANT, NULL, 0), 0);
	CHECK_EQ(fe_get_u64(f, fd, VU_GET_QUEUE_NUM), QP);
	CHECK_EQ(fe_get_u64(f, fd, VU_GET_MAX_MEM_SLOTS), RIOV_VHOST_MAX_MEM_REGIONS);
	CHECK_EQ(fe_call_u64(f, fd, VU_SET_FEATURES, features, NULL, 0), 0);
}

/* Set up vring q (num 256, rings at 0x10000/0x11000/0x12000 + q * 0x4000 of guest memory). The
 * addresses are front-end virtual addresses, or IOVAs when iova_base is not ~0. */
static void setup_vring(struct fx *f, int fd, const struct guest *g, uint32_t q, uint64_t iova_base,
			int *callfd, int *kickfd)
{
	uint64_t base = iova_base != ~0ull ? iova_base : (uint64_t)(uintptr_t)g->map;
	uint64_t o = 0x4000ull * q;
	struct vu_vring_addr a = { q, 0, base + 0x10000 + o, base + 0x12000 + o, base + 0x11000 + o, 0 };
	CHECK_EQ(fe_call_state(f, fd, VU_SET_VRING_NUM, q, 256), 0);
	CHECK_EQ(fe_call(f, fd, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	CHECK_EQ(fe_call_state(f, fd, VU_SET_VRING_BASE, q, 5), 0);
	*callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	*kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK_EQ(fe_call_u64(f, fd, VU_SET_VRING_CALL, q, callfd, 1), 0);
	CHECK_EQ(fe_call_u64(f, fd, VU_SET_VRING_KICK, q, kickfd, 1), 0);
}

static void check_rings(const struct riov_vhost_vring_info *vi, const struct guest *g)
{
	CHECK(vi->desc && vi->avail && vi->used);
	if (!vi->desc || !vi->avail || !vi->used)
		return;
	CHECK(memcmp(vi->desc, g->map + 0x10000, 4096) == 0);
	CHECK(memcmp(vi->avail, g->map + 0x11000, 4096) == 0);
	CHECK(memcmp(vi->used, g->map + 0x12000, 4096) == 0);
	/* the server maps the same file elsewhere: a write there shows up in the front-end's view */
	((volatile uint8_t *)vi->used)[7] = 0x5a;
	CHECK_EQ(g->map[0x12007], 0x5a);
	((volatile uint8_t *)vi->used)[7] = 0x0e;
}

/* The vring's interrupt goes through its IRTE to the call eventfd. */
static bool irq_reaches(struct fx *f, const struct riov_vhost_vring_info *vi, int callfd)
{
	uint64_t v;
	while (read(callfd, &v, sizeof(v)) == sizeof(v))
		;
	if (riov_vtd_irq_raise(f->vtd, SID, vi->msi_addr, vi->msi_data) != 0)
		return false;
	return read(callfd, &v, sizeof(v)) == sizeof(v) && v >= 1;
}

/* A complete good session on a fresh connection: negotiate, map memory, set up vring 0, start,
 * check the host pointers and the interrupt path, stop through GET_VRING_BASE, hang up. */
static void good_session(struct fx *f)
{
	struct guest g;
	int callfd, kickfd;
	int fd = fe_connect(f);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(fx_stats(f).connected);
	guest_init(&g, 0x100000000ull);
	negotiate(f, fd, FEAT_BASE);
	CHECK_EQ(send_mem_table(f, fd, &g), 0);
	CHECK_EQ(fx_stats(f).mem_regions, 1);
	int starts = f->rec.starts, stops = f->rec.stops;
	setup_vring(f, fd, &g, 0, ~0ull, &callfd, &kickfd);
	CHECK_EQ(f->rec.starts, starts);  /* PROTOCOL_FEATURES: not before SET_VRING_ENABLE */
	CHECK_EQ(fe_call_state(f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK_EQ(f->rec.starts, starts + 1);
	CHECK_EQ(f->rec.last.qid, 0);
	CHECK_EQ(f->rec.last.size, 256);
	CHECK_EQ(f->rec.last.last_avail_idx, 5);
	CHECK_EQ(f->rec.last.sid, SID);
	CHECK(f->rec.last.vtd == f->vtd);
	CHECK(f->rec.last.features == FEAT_BASE);
	check_rings(&f->rec.last, &g);
	CHECK(irq_reaches(f, &f->rec.last, callfd));

	f->rec.stop_la = 77;
	struct vu_vring_state s = { 0, 0 };
	CHECK_EQ(fe_send(fd, VU_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0), 0);
	CHECK_EQ(fe_recv(f, fd, VU_GET_VRING_BASE, &s, sizeof(s), NULL), 8);
	CHECK_EQ(s.index, 0);
	CHECK_EQ(s.num, 77);
	CHECK_EQ(f->rec.stops, stops + 1);
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	uint64_t d = fx_stats(f).disconnects;
	for (int i = 0; i < 1000 && fx_stats(f).disconnects == d; i++) {
		pump(f, 1);
		usleep(100);
	}
	CHECK(!fx_stats(f).connected);
}

/* ---- the bad-input harness ---------------------------------------------------------------- */

enum prelude { PRE_NONE, PRE_NEGOTIATED, PRE_MEM };

typedef void (*bad_fn)(struct fx *f, int fd, struct guest *g);

/* Fresh server; a front-end does the prelude and then the bad thing; the server must hang up and
 * count one bad message; then a new front-end gets a good session; no fd leaked overall. */
static void bad_case(enum prelude pre, bad_fn bad)
{
	int fds_before = count_fds();
	struct fx f = { 0 };
	struct guest g;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	int fd = fe_connect(&f);
	CHECK(fd >= 0);
	if (pre >= PRE_NEGOTIATED)
		negotiate(&f, fd, FEAT_BASE);
	if (pre >= PRE_MEM)
		CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	bad(&f, fd, &g);
	CHECK(fe_wait_closed(&f, fd));
	close(fd);
	struct riov_vhost_dev_stats st = fx_stats(&f);
	CHECK(!st.connected);
	CHECK_EQ(st.bad_messages, 1);
	CHECK_EQ(st.disconnects, 1);
	CHECK_EQ(st.mem_regions, 0);
	CHECK_EQ(f.rec.links_down, 1);
	guest_fini(&g);

	good_session(&f);
	CHECK_EQ(fx_stats(&f).bad_messages, 1);
	fx_fini(&f);
	CHECK_EQ(count_fds(), fds_before);
	CHECK_EQ(count_memfd_maps(), 0);
}

/* A well-formed memory request riovd will not carry out: answered with an error, counted, and
 * the session goes on with its memory as it was; then a good session, no fd or mapping leaked. */
typedef int64_t (*refuse_fn)(struct fx *f, int fd, struct guest *g);

static void refused_case(enum prelude pre, refuse_fn fn)
{
	int fds_before = count_fds();
	struct fx f = { 0 };
	struct guest g;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	int fd = fe_connect(&f);
	CHECK(fd >= 0);
	negotiate(&f, fd, FEAT_BASE);
	if (pre >= PRE_MEM)
		CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	uint32_t regions = fx_stats(&f).mem_regions;
	uint64_t refused = fx_stats(&f).refused;
	CHECK_EQ(fn(&f, fd, &g), 1);
	struct riov_vhost_dev_stats st = fx_stats(&f);
	CHECK(st.connected);
	CHECK_EQ(st.refused, refused + 1);
	CHECK_EQ(st.bad_messages, 0);
	CHECK_EQ(st.mem_regions, regions);
	/* the session goes on */
	CHECK_EQ(fe_get_u64(&f, fd, VU_GET_QUEUE_NUM), QP);
	close(fd);
	for (int i = 0; i < 1000 && fx_stats(&f).connected; i++) {
		pump(&f, 1);
		usleep(100);
	}
	CHECK_EQ(fx_stats(&f).mem_regions, 0);
	guest_fini(&g);
	good_session(&f);
	fx_fini(&f);
	CHECK_EQ(count_fds(), fds_before);
	CHECK_EQ(count_memfd_maps(), 0);
}

/* wrong fd counts */
static void b_too_many_fds(struct fx *f, int fd, struct guest *g)
{
	int e[2] = { eventfd(0, 0), eventfd(0, 0) };
	fe_send(fd, VU_SET_VRING_CALL, 0, &(uint64_t){ 0 }, 8, e, 2);
	close(e[0]);
	close(e[1]);
}
static void b_nine_fds(struct fx *f, int fd, struct guest *g)
{
	int e[9];
	struct {
		struct vu_mem_table_hdr h;
		struct riov_guest_region_desc r[8];
	} mt;
	memset(&mt, 0, sizeof(mt));
	mt.h.nregions = 8;
	for (int i = 0; i < 9; i++)
		e[i] = dup(g->memfd);
	for (int i = 0; i < 8; i++)
		mt.r[i] = (struct riov_guest_region_desc){ 0x10000ull * i, 0x10000, 0x10000ull * i, 0 };
	fe_send(fd, VU_SET_MEM_TABLE, 0, &mt, sizeof(mt), e, 9);
	for (int i = 0; i < 9; i++)
		close(e[i]);
}
static void b_too_few_fds_kick(struct fx *f, int fd, struct guest *g)
{
	fe_send(fd, VU_SET_VRING_KICK, 0, &(uint64_t){ 1 }, 8, NULL, 0);   /* no NOFD flag, no fd */
}
static void b_too_few_fds_mem(struct fx *f, int fd, struct guest *g)
{
	struct {
		struct vu_mem_table_hdr h;
		struct riov_guest_region_desc r[2];
	} mt = { { 2, 0 }, { { 0, 0x10000, 0x7f0000000000ull, 0 }, { 0x100000, 0x10000, 0x7f0000100000ull, 0 } } };
	fe_send(fd, VU_SET_MEM_TABLE, 0, &mt, sizeof(mt), &g->memfd, 1);
}
static void b_fd_on_fdless(struct fx *f, int fd, struct guest *g)
{
	struct vu_vring_state s = { 0, 256 };
	int e = eventfd(0, 0);
	fe_send(fd, VU_SET_VRING_NUM, 0, &s, sizeof(s), &e, 1);
	close(e);
}
static void b_fd_with_nofd_flag(struct fx *f, int fd, struct guest *g)
{
	int e = eventfd(0, 0);
	fe_send(fd, VU_SET_VRING_CALL, 0, &(uint64_t){ VU_VRING_NOFD }, 8, &e, 1);
	close(e);
}

/* vring index */
static void b_index_high_bits(struct fx *f, int fd, struct guest *g)
{
	struct vu_vring_state s = { 0x80000000u, 256 };
	fe_send(fd, VU_SET_VRING_NUM, 0, &s, sizeof(s), NULL, 0);
}
static void b_index_addr_high(struct fx *f, int fd, struct guest *g)
{
	struct vu_vring_addr a = { 0x00010000u, 0, 0x1000, 0x3000, 0x2000, 0 };
	fe_send(fd, VU_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
}
static void b_index_range(struct fx *f, int fd, struct guest *g)
{
	struct vu_vring_state s = { 2 * QP, 0 };
	fe_send(fd, VU_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);
}
static void b_index_kick_high(struct fx *f, int fd, struct guest *g)
{
	int e = eventfd(0, 0);
	fe_send(fd, VU_SET_VRING_KICK, 0, &(uint64_t){ 1ull << 40 }, 8, &e, 1);
	close(e);
}

/* SET_VRING_NUM */
static void b_num_zero(struct fx *f, int fd, struct guest *g)
{
	fe_call_state(f, fd, VU_SET_VRING_NUM, 0, 0);
}
static void b_num_not_pow2(struct fx *f, int fd, struct guest *g)
{
	fe_call_state(f, fd, VU_SET_VRING_NUM, 1, 255);
}
static void b_num_too_big(struct fx *f, int fd, struct guest *g)
{
	fe_call_state(f, fd, VU_SET_VRING_NUM, 0, 65536);
}

/* memory tables: refused, the session goes on */
static int64_t r_mem_zero_regions(struct fx *f, int fd, struct guest *g)
{
	struct vu_mem_table_hdr h = { 0, 0 };
	return fe_call(f, fd, VU_SET_MEM_TABLE, &h, sizeof(h), NULL, 0);
}
static int64_t r_mem_overlap(struct fx *f, int fd, struct guest *g)
{
	struct {
		struct vu_mem_table_hdr h;
		struct riov_guest_region_desc r[2];
	} mt = { { 2, 0 },
		 { { 0, 0x200000, (uint64_t)(uintptr_t)g->map, 0 },
		   { 0x100000, 0x200000, (uint64_t)(uintptr_t)g->map + 0x200000, 0x200000 } } };
	int e[2] = { g->memfd, g->memfd };
	return fe_call(f, fd, VU_SET_MEM_TABLE, &mt, sizeof(mt), e, 2);
}
static int64_t r_mem_overlap_uaddr(struct fx *f, int fd, struct guest *g)
{
	struct {
		struct vu_mem_table_hdr h;
		struct riov_guest_region_desc r[2];
	} mt = { { 2, 0 },
		 { { 0, 0x200000, (uint64_t)(uintptr_t)g->map, 0 },
		   { 0x200000, 0x200000, (uint64_t)(uintptr_t)g->map + 0x1000, 0x200000 } } };
	int e[2] = { g->memfd, g->memfd };
	return fe_call(f, fd, VU_SET_MEM_TABLE, &mt, sizeof(mt), e, 2);
}
static int64_t r_mem_offset_overflow(struct fx *f, int fd, struct guest *g)
{
	struct {
		struct vu_mem_table_hdr h;
		struct riov_guest_region_desc r;
	} mt = { { 1, 0 }, { 0, 0x200000, (uint64_t)(uintptr_t)g->map, UINT64_MAX - 0xfff } };
	return fe_call(f, fd, VU_SET_MEM_TABLE, &mt, sizeof(mt), &g->memfd, 1);
}
static int64_t r_mem_beyond_file(struct fx *f, int fd, struct guest *g)
{
	struct {
		struct vu_mem_table_hdr h;
		struct riov_guest_region_desc r;
	} mt = { { 1, 0 }, { 0, 2ull * GUEST_SIZE, (uint64_t)(uintptr_t)g->map, 0 } };
	return fe_call(f, fd, VU_SET_MEM_TABLE, &mt, sizeof(mt), &g->memfd, 1);
}
static void b_mem_too_many_table(struct fx *f, int fd, struct guest *g)
{
	uint8_t buf[8 + 9 * 32];
	memset(buf, 0, sizeof(buf));
	uint32_t n = 9;
	memcpy(buf, &n, 4);
	int e[8];
	for (int i = 0; i < 8; i++)
		e[i] = g->memfd;
	fe_send(fd, VU_SET_MEM_TABLE, 0, buf, sizeof(buf), e, 8);
}
static int64_t r_mem_too_many_add(struct fx *f, int fd, struct guest *g)
{
	/* the table holds one region (prelude); 63 more fit, the 64th added one does not */
	int64_t r = -1;
	for (int i = 1; i <= RIOV_VHOST_MAX_MEM_REGIONS; i++) {
		struct vu_mem_reg_single s = { 0, { 0x10000000ull * i, 0x10000, 0x10000000000ull + 0x100000ull * i,
						    0x10000ull * (i % 32) } };
		r = fe_call(f, fd, VU_ADD_MEM_REG, &s, sizeof(s), &g->memfd, 1);
		if (i < RIOV_VHOST_MAX_MEM_REGIONS) {
			CHECK_EQ(r, 0);
			CHECK_EQ(fx_stats(f).mem_regions, (uint32_t)i + 1);
		}
	}
	/* the count the harness compares with is taken before: undo the 63 (refcounts of one) */
	for (int i = 1; i < RIOV_VHOST_MAX_MEM_REGIONS; i++) {
		struct vu_mem_reg_single s = { 0, { 0x10000000ull * i, 0x10000, 0x10000000000ull + 0x100000ull * i,
						    0x10000ull * (i % 32) } };
		CHECK_EQ(fe_call(f, fd, VU_REM_MEM_REG, &s, sizeof(s), NULL, 0), 0);
	}
	return r;
}
/* ADD_MEM_REG of a region that overlaps an installed one, partly, in guest-physical space */
static int64_t r_mem_add_partial_overlap(struct fx *f, int fd, struct guest *g)
{
	struct vu_mem_reg_single s = { 0, { g->gpa + GUEST_SIZE / 2, GUEST_SIZE, 0x7f0000000000ull, 0 } };
	return fe_call(f, fd, VU_ADD_MEM_REG, &s, sizeof(s), &g->memfd, 1);
}
/* the same description as the installed region but another file: not the same region */
static int64_t r_mem_add_same_desc_other_file(struct fx *f, int fd, struct guest *g)
{
	struct guest other;
	guest_init(&other, g->gpa);
	struct vu_mem_reg_single s = { 0, { g->gpa, GUEST_SIZE, (uint64_t)(uintptr_t)g->map, 0 } };
	int64_t r = fe_call(f, fd, VU_ADD_MEM_REG, &s, sizeof(s), &other.memfd, 1);
	guest_fini(&other);
	return r;
}
static int64_t r_mem_rem_missing(struct fx *f, int fd, struct guest *g)
{
	struct vu_mem_reg_single s = { 0, { g->gpa + GUEST_SIZE, GUEST_SIZE, 0x7f0000000000ull, 0 } };
	return fe_call(f, fd, VU_REM_MEM_REG, &s, sizeof(s), NULL, 0);
}

/* payload sizes, header, request */
static void b_size_features(struct fx *f, int fd, struct guest *g)
{
	uint32_t v = 1;
	fe_send(fd, VU_SET_FEATURES, 0, &v, sizeof(v), NULL, 0);
}
static void b_size_addr(struct fx *f, int fd, struct guest *g)
{
	uint8_t b[32] = { 0 };
	fe_send(fd, VU_SET_VRING_ADDR, 0, b, sizeof(b), NULL, 0);
}
static void b_size_config(struct fx *f, int fd, struct guest *g)
{
	struct {
		struct vu_config_hdr h;
		uint8_t d[8];
	} c = { { 0, 200, 0 }, { 0 } };
	fe_send(fd, VU_GET_CONFIG, 0, &c, sizeof(c), NULL, 0);
}
static void b_size_huge(struct fx *f, int fd, struct guest *g)
{
	uint32_t h[3] = { VU_SET_FEATURES, VU_VERSION, 1u << 30 };
	fe_send_raw(fd, h, sizeof(h), NULL, 0);
}
static void b_truncated_header(struct fx *f, int fd, struct guest *g)
{
	uint32_t h[3] = { VU_GET_FEATURES, VU_VERSION, 0 };
	int e = eventfd(0, 0);
	fe_send_raw(fd, h, 6, &e, 1);   /* with an fd attached, which must not leak either */
	close(e);
	shutdown(fd, SHUT_WR);
}
static void b_unknown_request(struct fx *f, int fd, struct guest *g)
{
	fe_send(fd, 99, 0, NULL, 0, NULL, 0);
}
static void b_unknown_request_fd(struct fx *f, int fd, struct guest *g)
{
	fe_send(fd, 23 /* SET_VRING_ENDIAN: not offered */, 0, &(uint64_t){ 0 }, 8, &g->memfd, 1);
}
static void b_bad_version(struct fx *f, int fd, struct guest *g)
{
	fe_send(fd, VU_GET_FEATURES, 2, NULL, 0, NULL, 0);
}
static void b_before_features(struct fx *f, int fd, struct guest *g)
{
	struct {
		struct vu_mem_table_hdr h;
		struct riov_guest_region_desc r;
	} mt = { { 1, 0 }, { 0, GUEST_SIZE, (uint64_t)(uintptr_t)g->map, 0 } };
	fe_send(fd, VU_SET_MEM_TABLE, 0, &mt, sizeof(mt), &g->memfd, 1);
}
static void b_features_unoffered(struct fx *f, int fd, struct guest *g)
{
	fe_send(fd, VU_SET_FEATURES, 0, &(uint64_t){ 1ull << 63 }, 8, NULL, 0);
}
static void b_vring_addr_unaligned(struct fx *f, int fd, struct guest *g)
{
	struct vu_vring_addr a = { 0, 0, (uint64_t)(uintptr_t)g->map + 8, (uint64_t)(uintptr_t)g->map + 0x2000,
				   (uint64_t)(uintptr_t)g->map + 0x1000, 0 };
	fe_send(fd, VU_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
}
static void b_inflight_huge(struct fx *f, int fd, struct guest *g)
{
	struct vu_inflight in = { 0, 0, 1000, 1024 };
	fe_send(fd, VU_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0);
}

#define BAD_TEST(name, pre, fn)               \
	RIOV_TEST(name)                       \
	{                                     \
		bad_case(pre, fn);            \
	}

BAD_TEST(bad_too_many_fds, PRE_NEGOTIATED, b_too_many_fds)
BAD_TEST(bad_nine_fds_ctrunc, PRE_NEGOTIATED, b_nine_fds)
BAD_TEST(bad_too_few_fds_kick, PRE_NEGOTIATED, b_too_few_fds_kick)
BAD_TEST(bad_too_few_fds_mem_table, PRE_NEGOTIATED, b_too_few_fds_mem)
BAD_TEST(bad_fd_on_fdless_message, PRE_NEGOTIATED, b_fd_on_fdless)
BAD_TEST(bad_fd_with_nofd_flag, PRE_NEGOTIATED, b_fd_with_nofd_flag)
BAD_TEST(bad_vring_index_high_bits, PRE_NEGOTIATED, b_index_high_bits)
BAD_TEST(bad_vring_addr_index_high_bits, PRE_NEGOTIATED, b_index_addr_high)
BAD_TEST(bad_vring_index_out_of_range, PRE_NEGOTIATED, b_index_range)
BAD_TEST(bad_kick_u64_high_bits, PRE_NEGOTIATED, b_index_kick_high)
BAD_TEST(bad_vring_num_zero, PRE_NEGOTIATED, b_num_zero)
BAD_TEST(bad_vring_num_not_pow2, PRE_NEGOTIATED, b_num_not_pow2)
BAD_TEST(bad_vring_num_too_big, PRE_NEGOTIATED, b_num_too_big)
BAD_TEST(bad_mem_too_many_in_table, PRE_NEGOTIATED, b_mem_too_many_table)
BAD_TEST(bad_size_set_features, PRE_NONE, b_size_features)
BAD_TEST(bad_size_vring_addr, PRE_NEGOTIATED, b_size_addr)
BAD_TEST(bad_size_get_config, PRE_NEGOTIATED, b_size_config)
BAD_TEST(bad_size_too_large, PRE_NONE, b_size_huge)
BAD_TEST(bad_truncated_header, PRE_NONE, b_truncated_header)
BAD_TEST(bad_unknown_request, PRE_NONE, b_unknown_request)
BAD_TEST(bad_unknown_request_with_fd, PRE_NEGOTIATED, b_unknown_request_fd)
BAD_TEST(bad_version, PRE_NONE, b_bad_version)
BAD_TEST(bad_mem_before_features, PRE_NONE, b_before_features)
BAD_TEST(bad_features_not_offered, PRE_NONE, b_features_unoffered)
BAD_TEST(bad_vring_addr_unaligned, PRE_MEM, b_vring_addr_unaligned)
BAD_TEST(bad_inflight_too_many_queues, PRE_NEGOTIATED, b_inflight_huge)

#define REFUSED_TEST(name, pre, fn)           \
	RIOV_TEST(name)                       \
	{                                     \
		refused_case(pre, fn);        \
	}
REFUSED_TEST(refused_mem_zero_regions, PRE_NEGOTIATED, r_mem_zero_regions)
REFUSED_TEST(refused_mem_overlap_gpa, PRE_NEGOTIATED, r_mem_overlap)
REFUSED_TEST(refused_mem_overlap_uaddr, PRE_NEGOTIATED, r_mem_overlap_uaddr)
REFUSED_TEST(refused_mem_offset_overflow, PRE_NEGOTIATED, r_mem_offset_overflow)
REFUSED_TEST(refused_mem_beyond_file, PRE_NEGOTIATED, r_mem_beyond_file)
REFUSED_TEST(refused_mem_too_many_added, PRE_MEM, r_mem_too_many_add)
REFUSED_TEST(refused_mem_add_partial_overlap, PRE_MEM, r_mem_add_partial_overlap)
REFUSED_TEST(refused_mem_add_same_desc_other_file, PRE_MEM, r_mem_add_same_desc_other_file)
REFUSED_TEST(refused_mem_rem_missing, PRE_MEM, r_mem_rem_missing)

/* ---- good paths --------------------------------------------------------------------------- */

RIOV_TEST(server_good_session)
{
	int before = count_fds();
	struct fx f = { 0 };
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	good_session(&f);
	good_session(&f);
	struct riov_vhost_dev_stats st = fx_stats(&f);
	CHECK_EQ(st.connects, 2);
	CHECK_EQ(st.disconnects, 2);
	CHECK_EQ(st.bad_messages, 0);
	CHECK_EQ(f.rec.links_up, 2);
	CHECK_EQ(f.rec.links_down, 2);
	fx_fini(&f);
	CHECK_EQ(count_fds(), before);
	CHECK_EQ(count_memfd_maps(), 0);
}

/* ---- packed virtqueues (vmm's part: negotiation, ring layout, base) --------------------------- */

#define FEAT_PACKED (FEAT_BASE | (1ull << RIOV_VIRTIO_F_RING_PACKED))

/* Negotiate packed rings and map guest memory; rings of vring 0 at 0x10000 (descriptors),
 * 0x11000 (driver area), 0x12000 (device area) of guest memory. */
static int packed_session(struct fx *f, struct guest *g)
{
	fx_packed = true;
	CHECK_EQ(fx_init(f, RIOV_VHOST_SERVER), 0);
	fx_packed = false;
	guest_init(g, 0);
	int fd = fe_connect(f);
	CHECK(fd >= 0);
	negotiate(f, fd, FEAT_PACKED);
	CHECK_EQ(send_mem_table(f, fd, g), 0);
	return fd;
}

/* GET_INFLIGHT_FD on packed rings: the region has a packed ring's layout (32-byte header and
 * 32 bytes a descriptor per queue), not a split ring's half of that. */
RIOV_TEST(packed_inflight_region_sized_for_packed)
{
	struct fx f = { 0 };
	struct guest g;
	int fd = packed_session(&f, &g);
	struct vu_inflight in = { 0, 0, 2, 256 }, out;
	int rfd;
	CHECK_EQ(fe_send(fd, VU_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0), 0);
	CHECK_EQ(fe_recv(&f, fd, VU_GET_INFLIGHT_FD, &out, sizeof(out), &rfd), (int)sizeof(out));
	CHECK(rfd >= 0);
	CHECK(out.mmap_size >= 2ull * (32 + 32 * 256));
	struct stat st;
	CHECK_EQ(fstat(rfd, &st), 0);
	CHECK((uint64_t)st.st_size >= 2ull * (32 + 32 * 256));
	CHECK_EQ(fe_call(&f, fd, VU_SET_INFLIGHT_FD, &out, sizeof(out), &rfd, 1), 0);
	close(rfd);
	close(fd);
	guest_fini(&g);
	fx_fini(&f);
}

RIOV_TEST(packed_offered_only_when_the_owner_serves_it)
{
	struct fx f = { 0 };
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	int fd = fe_connect(&f);
	CHECK(fd >= 0);
	CHECK_EQ(fe_send(fd, VU_SET_OWNER, 0, NULL, 0, NULL, 0), 0);
	CHECK((fe_get_u64(&f, fd, VU_GET_FEATURES) & (1ull << RIOV_VIRTIO_F_RING_PACKED)) == 0);
	close(fd);
	fx_fini(&f);

	fx_packed = true;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	fx_packed = false;
	fd = fe_connect(&f);
	CHECK(fd >= 0);
	CHECK_EQ(fe_send(fd, VU_SET_OWNER, 0, NULL, 0, NULL, 0), 0);
	CHECK(fe_get_u64(&f, fd, VU_GET_FEATURES) & (1ull << RIOV_VIRTIO_F_RING_PACKED));
	CHECK(strcmp(riov_virtio_feature_name(RIOV_VIRTIO_F_RING_PACKED), "packed") == 0);
	close(fd);
	fx_fini(&f);
}

/* A port with "packed" in features_off (svc_port.c) is served by an owner that serves packed
 * rings: VIRTIO_F_RING_PACKED is not offered, the rest is, and a front-end that sets it anyway
 * is refused as for any feature not offered. */
RIOV_TEST(packed_withheld_by_features_off)
{
	struct fx f = { 0 };
	fx_packed = true;
	fx_features_off = 1ull << RIOV_VIRTIO_F_RING_PACKED;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	fx_packed = false;
	fx_features_off = 0;
	int fd = fe_connect(&f);
	CHECK(fd >= 0);
	CHECK_EQ(fe_send(fd, VU_SET_OWNER, 0, NULL, 0, NULL, 0), 0);
	uint64_t offered = fe_get_u64(&f, fd, VU_GET_FEATURES);
	CHECK((offered & (1ull << RIOV_VIRTIO_F_RING_PACKED)) == 0);
	CHECK((offered & FEAT_BASE) == FEAT_BASE);
	CHECK_EQ(fe_send(fd, VU_SET_FEATURES, 0, &(uint64_t){ FEAT_PACKED }, 8, NULL, 0), 0);
	CHECK(fe_wait_closed(&f, fd));
	close(fd);
	CHECK_EQ(fx_stats(&f).bad_messages, 1);
	good_session(&f);   /* split rings on the same port */
	fx_fini(&f);
}

/* QEMU's order and values: the base carries the avail side (index, wrap counter in bit 15) and
 * the used side in bits 16-31; the rings map as a packed ring's (a 4 KiB descriptor ring, two
 * 4-byte event areas); GET_VRING_BASE answers both sides with their wrap counters. */
RIOV_TEST(packed_rings_start_and_base_carries_wrap_counters)
{
	struct fx f = { 0 };
	struct guest g;
	int callfd, kickfd;
	int fd = packed_session(&f, &g);
	uint64_t b = (uint64_t)(uintptr_t)g.map;
	struct vu_vring_addr a = { 0, 0, b + 0x10000, b + 0x12000, b + 0x11000, 0 };
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_NUM, 0, 256), 0);
	CHECK_EQ(fe_call(&f, fd, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_BASE, 0, 0x80058005u), 0);
	callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK_EQ(fe_call_u64(&f, fd, VU_SET_VRING_CALL, 0, &callfd, 1), 0);
	CHECK_EQ(fe_call_u64(&f, fd, VU_SET_VRING_KICK, 0, &kickfd, 1), 0);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK_EQ(f.rec.starts, 1);
	CHECK(f.rec.last.features & (1ull << RIOV_VIRTIO_F_RING_PACKED));
	CHECK_EQ(f.rec.last.size, 256);
	CHECK_EQ(f.rec.last.last_avail_idx, 0x8005);
	CHECK_EQ(f.rec.last.last_used_idx, 0x8005);
	check_rings(&f.rec.last, &g);

	f.rec.stop_la = 0x0007;      /* the avail side wrapped (counter 0), the used side not yet */
	f.rec.stop_lu = 0x80fe;
	struct vu_vring_state s = { 0, 0 };
	CHECK_EQ(fe_send(fd, VU_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0), 0);
	CHECK_EQ(fe_recv(&f, fd, VU_GET_VRING_BASE, &s, sizeof(s), NULL), 8);
	CHECK_EQ(s.num, 0x80fe0007u);

	/* DPDK's virtio-user: the avail side alone, a new ring (index 0, wrap counter 1) */
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_BASE, 0, 0x8000), 0);
	CHECK_EQ(fe_call_u64(&f, fd, VU_SET_VRING_KICK, 0, &kickfd, 1), 0);
	CHECK_EQ(f.rec.starts, 2);
	CHECK_EQ(f.rec.last.last_avail_idx, 0x8000);
	CHECK_EQ(f.rec.last.last_used_idx, 0x8000);
	CHECK_EQ(fx_stats(&f).bad_messages, 0);
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	fx_fini(&f);
}

/* Dirty logging of a packed ring: the device writes used descriptors into the descriptor ring, so
 * the used-ring log address the front-end gives (its device area's) is replaced by the descriptor
 * ring's guest address. */
RIOV_TEST(packed_ring_logs_at_the_descriptor_ring)
{
	struct fx f = { 0 };
	struct guest g;
	int fd = packed_session(&f, &g);
	uint64_t b = (uint64_t)(uintptr_t)g.map;
	int lfd = memfd_create("ut-log", MFD_CLOEXEC);
	CHECK(ftruncate(lfd, 0x1000) == 0);
	struct vu_log l = { 0x1000, 0 };
	uint64_t r = ~0ull;
	CHECK_EQ(fe_send(fd, VU_SET_LOG_BASE, 0, &l, sizeof(l), &lfd, 1), 0);
	CHECK_EQ(fe_recv(&f, fd, VU_SET_LOG_BASE, &r, sizeof(r), NULL), 8);
	CHECK_EQ(r, 0);
	CHECK_EQ(fe_call_u64(&f, fd, VU_SET_FEATURES, FEAT_PACKED | (1ull << RIOV_VHOST_F_LOG_ALL), NULL, 0), 0);
	/* rings at gpa 0x10000 (descriptors), 0x11000, 0x12000; the front-end's log address 0x12000 */
	struct vu_vring_addr a = { 0, VU_VRING_F_LOG, b + 0x10000, b + 0x12000, b + 0x11000, 0x12000 };
	int callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_NUM, 0, 256), 0);
	CHECK_EQ(fe_call(&f, fd, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_BASE, 0, 0x8000), 0);
	CHECK_EQ(fe_call_u64(&f, fd, VU_SET_VRING_CALL, 0, &callfd, 1), 0);
	CHECK_EQ(fe_call_u64(&f, fd, VU_SET_VRING_KICK, 0, &kickfd, 1), 0);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK_EQ(f.rec.starts, 1);
	CHECK(f.rec.last.log_base != NULL);
	CHECK_EQ(f.rec.last.log_guest_addr, 0x10000);
	close(lfd);
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	fx_fini(&f);
}

/* ---- packed vrings' positions for the next riovd (vhost_ringrec.c) ---- */

static void rr_set(struct riov_vring_packed_desc *ring, unsigned slot, uint64_t addr, uint32_t len,
		   uint16_t id, bool avail, bool used)
{
	ring[slot] = (struct riov_vring_packed_desc){
		addr, len, id,
		(uint16_t)((avail ? RIOV_VRING_PACKED_DESC_F_AVAIL : 0) | (used ? RIOV_VRING_PACKED_DESC_F_USED : 0))
	};
}

/* the record a worker writes, as (pos, chk) */
static void rr_record(uint16_t at, uint16_t ndesc, uint16_t id, uint32_t len, uint64_t addr, uint64_t *pos,
		      uint64_t *chk)
{
	struct riov_vring_rec r;
	riov_vring_rec_put(&r, at, ndesc, id, len, addr);
	*pos = atomic_load(&r.pos);
	*chk = atomic_load(&r.chk);
}

/* The ring confirms a record when the used descriptor it names is still at its chain's head slot
 * as the device wrote it, or when every slot since is available again (an idle guest's RX ring);
 * a ring set up anew (a guest that reset its device, DPDK's virtio-user reconnecting) confirms
 * no other position; torn or malformed records confirm nothing. */
RIOV_TEST(ring_record_confirmed_only_by_the_ring)
{
	struct riov_vring_packed_desc ring[8];
	uint64_t pos, chk;
	uint16_t at = 0;

	/* second lap (wrap 0), the device at slot 5: slots 0-4 used in this lap, 5-7 in the last */
	for (unsigned i = 0; i < 8; i++)
		rr_set(ring, i, 0x100000 + 0x1000 * i, 60, (uint16_t)i, i >= 5, i >= 5);
	rr_record(5, 1, 4, 60, 0x104000, &pos, &chk);
	CHECK(vu_ring_rec_check(ring, 8, pos, chk, &at));
	CHECK_EQ(at, 5);
	/* the record and the ring disagree: id, length, the head's address (a torn record) */
	uint64_t p2, c2;
	rr_record(5, 1, 3, 60, 0x104000, &p2, &c2);
	CHECK(!vu_ring_rec_check(ring, 8, p2, c2, &at));
	rr_record(5, 1, 4, 61, 0x104000, &p2, &c2);
	CHECK(!vu_ring_rec_check(ring, 8, p2, c2, &at));
	CHECK(!vu_ring_rec_check(ring, 8, pos, chk ^ 1, &at));
	/* a position the device has not reached: its head slot is not used in that lap */
	rr_record(7, 1, 6, 60, 0x106000, &p2, &c2);
	CHECK(!vu_ring_rec_check(ring, 8, p2, c2, &at));

	/* the driver refilled every slot: 5-7 available in lap 0, 0-4 in lap 1 (head overwritten) */
	for (unsigned i = 0; i < 8; i++)
		rr_set(ring, i, 0x200000 + 0x1000 * i, 1518, (uint16_t)i, i < 5, i >= 5);
	CHECK(vu_ring_rec_check(ring, 8, pos, chk, &at));
	CHECK_EQ(at, 5);
	/* ... but one slot not yet refilled, the head overwritten: nothing confirms */
	rr_set(ring, 3, 0x103000, 60, 3, false, false);
	CHECK(!vu_ring_rec_check(ring, 8, pos, chk, &at));

	/* a ring set up anew: the driver filled it from slot 0 in lap 1 */
	for (unsigned i = 0; i < 8; i++)
		rr_set(ring, i, 0x300000 + 0x1000 * i, 1518, (uint16_t)i, true, false);
	CHECK(!vu_ring_rec_check(ring, 8, pos, chk, &at));
	rr_record(0x8000 | 5, 1, 4, 1518, 0x304000, &p2, &c2);
	CHECK(!vu_ring_rec_check(ring, 8, p2, c2, &at));
	rr_record(0x8000, 1, 7, 1518, 0x307000, &p2, &c2);   /* only its own start position */
	CHECK(vu_ring_rec_check(ring, 8, p2, c2, &at));
	CHECK_EQ(at, 0x8000);
	/* ... or zeroed, nothing made available yet: a record of id 0, length 0 in lap 0 (a TX
	 * used descriptor) matches its flags, not its address */
	memset(ring, 0, sizeof(ring));
	rr_record(3, 1, 0, 0, 0x402000, &p2, &c2);
	CHECK(!vu_ring_rec_check(ring, 8, p2, c2, &at));

	/* a chain of 3 slots across the ring's end: head at slot 6 of lap 0, the device at 1/lap 1 */
	memset(ring, 0, sizeof(ring));
	rr_set(ring, 6, 0x500000, 3000, 2, false, false);
	rr_record(0x8000 | 1, 3, 2, 3000, 0x500000, &p2, &c2);
	CHECK(vu_ring_rec_check(ring, 8, p2, c2, &at));
	CHECK_EQ(at, 0x8001);

	/* malformed: none, index beyond the ring, no chain, a chain longer than the ring */
	CHECK(!vu_ring_rec_check(ring, 8, 0, 0, &at));
	rr_record(8, 1, 0, 0, 0, &p2, &c2);
	CHECK(!vu_ring_rec_check(ring, 8, p2, c2, &at));
	rr_record(2, 0, 0, 0, 0, &p2, &c2);
	CHECK(!vu_ring_rec_check(ring, 8, p2, c2, &at));
	rr_record(2, 9, 0, 0, 0, &p2, &c2);
	CHECK(!vu_ring_rec_check(ring, 8, p2, c2, &at));
	CHECK(!vu_ring_rec_check(NULL, 8, pos, chk, &at));
}

/* A packed session on an existing guest (another riovd's device, the same front-end memory). */
static int rr_session(struct fx *f, struct guest *g)
{
	fx_packed = true;
	CHECK_EQ(fx_init(f, RIOV_VHOST_SERVER), 0);
	fx_packed = false;
	int fd = fe_connect(f);
	CHECK(fd >= 0);
	negotiate(f, fd, FEAT_PACKED);
	CHECK_EQ(send_mem_table(f, fd, g), 0);
	return fd;
}

/* Start vring 0 of a packed session from base; the rings at gpa 0x10000 (descriptors), 0x11000,
 * 0x12000 of g. */
static void rr_start(struct fx *f, int fd, struct guest *g, uint32_t base, int *callfd, int *kickfd)
{
	uint64_t b = (uint64_t)(uintptr_t)g->map;
	struct vu_vring_addr a = { 0, 0, b + 0x10000, b + 0x12000, b + 0x11000, 0 };
	CHECK_EQ(fe_call_state(f, fd, VU_SET_VRING_NUM, 0, 256), 0);
	CHECK_EQ(fe_call(f, fd, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	CHECK_EQ(fe_call_state(f, fd, VU_SET_VRING_BASE, 0, base), 0);
	CHECK_EQ(fe_call_u64(f, fd, VU_SET_VRING_CALL, 0, callfd, 1), 0);
	CHECK_EQ(fe_call_u64(f, fd, VU_SET_VRING_KICK, 0, kickfd, 1), 0);
	CHECK_EQ(fe_call_state(f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
}

/* QEMU after its back-end went away: riovd killed while the guest's packed vring stood at slot
 * 3, and QEMU sends the base of the vring's last start (slot 0) again. The next riovd starts
 * where its record says, because the ring confirms it; the front-end told the position
 * (GET_VRING_BASE) clears the record; a ring set up anew keeps the front-end's base. Without
 * the record (before vhost_ringrec.c) the vring started at slot 0, where the guest never makes
 * a buffer available again. */
RIOV_TEST(packed_ring_record_resumes_after_a_restart)
{
	char path[128];
	snprintf(path, sizeof(path), "/tmp/riov-vhost-ut-%d.rec", (int)getpid());
	unlink(path);
	struct fx f = { 0 };
	struct guest g;
	int callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fx_ring_record = path;
	int fd = packed_session(&f, &g);
	rr_start(&f, fd, &g, 0x80008000u, &callfd, &kickfd);
	CHECK_EQ(f.rec.starts, 1);
	struct riov_vring_rec *rec = f.rec.last.ring_rec;
	CHECK(rec != NULL);
	/* the worker's part: three used descriptors published in lap 1, the last one recorded */
	struct riov_vring_packed_desc *ring = (struct riov_vring_packed_desc *)(g.map + 0x10000);
	for (unsigned i = 0; i < 3; i++)
		rr_set(ring, i, 0x20000 + 0x800 * i, 90, (uint16_t)(10 + i), true, true);
	riov_vring_rec_put(rec, 0x8003, 1, 12, 90, 0x21000);
	/* riovd goes away (its workers stopped, nothing answered to the front-end) */
	close(fd);
	fx_fini(&f);

	struct fx f2 = { 0 };
	memcpy(f2.path, f.path, sizeof(f.path));
	fd = rr_session(&f2, &g);
	rr_start(&f2, fd, &g, 0x80008000u, &callfd, &kickfd);
	CHECK_EQ(f2.rec.starts, 1);
	CHECK_EQ(f2.rec.last.last_avail_idx, 0x8003);
	CHECK_EQ(f2.rec.last.last_used_idx, 0x8003);
	CHECK_EQ(fx_stats(&f2).base_resyncs, 1);
	rec = f2.rec.last.ring_rec;
	CHECK(rec != NULL && atomic_load(&rec->pos) != 0);

	/* the front-end asks for the position: it knows it now, the record goes */
	f2.rec.stop_la = f2.rec.stop_lu = 0x8003;
	struct vu_vring_state st = { 0, 0 };
	CHECK_EQ(fe_send(fd, VU_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0), 0);
	CHECK_EQ(fe_recv(&f2, fd, VU_GET_VRING_BASE, &st, sizeof(st), NULL), 8);
	CHECK_EQ(atomic_load(&rec->pos), 0);
	CHECK_EQ(fe_call_state(&f2, fd, VU_SET_VRING_BASE, 0, 0x8000), 0);
	CHECK_EQ(fe_call_u64(&f2, fd, VU_SET_VRING_KICK, 0, &kickfd, 1), 0);
	CHECK_EQ(f2.rec.starts, 2);
	CHECK_EQ(f2.rec.last.last_avail_idx, 0x8000);

	/* a record again, and a ring the driver set up anew (zeroed): the front-end's base stands */
	riov_vring_rec_put(rec, 0x8003, 1, 12, 90, 0x21000);
	memset(ring, 0, 16 * 256);
	close(fd);
	fx_fini(&f2);
	struct fx f3 = { 0 };
	memcpy(f3.path, f.path, sizeof(f.path));
	fd = rr_session(&f3, &g);
	rr_start(&f3, fd, &g, 0x80008000u, &callfd, &kickfd);
	CHECK_EQ(f3.rec.last.last_avail_idx, 0x8000);
	CHECK_EQ(fx_stats(&f3).base_resyncs, 0);
	close(fd);
	fx_fini(&f3);
	fx_ring_record = NULL;

	/* a device without a record file gives its workers none; a file that is not a record is
	 * made one */
	int w = open(path, O_WRONLY | O_TRUNC);
	CHECK(w >= 0 && write(w, "junk", 4) == 4);
	close(w);
	fx_ring_record = path;
	struct fx f4 = { 0 };
	fd = rr_session(&f4, &g);
	fx_ring_record = NULL;
	rr_start(&f4, fd, &g, 0x8000, &callfd, &kickfd);
	CHECK(f4.rec.last.ring_rec != NULL && atomic_load(&f4.rec.last.ring_rec->pos) == 0);
	close(fd);
	fx_fini(&f4);
	struct fx f5 = { 0 };
	fd = rr_session(&f5, &g);
	rr_start(&f5, fd, &g, 0x8000, &callfd, &kickfd);
	CHECK(f5.rec.last.ring_rec == NULL);
	close(fd);
	fx_fini(&f5);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	unlink(path);
}

/* A base beyond the ring, or a driver area only 2-byte aligned: refused, the front-end hung up. */
RIOV_TEST(packed_bad_base_and_area_alignment)
{
	for (int k = 0; k < 2; k++) {
		struct fx f = { 0 };
		struct guest g;
		int fd = packed_session(&f, &g);
		uint64_t b = (uint64_t)(uintptr_t)g.map;
		CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_NUM, 0, 256), 0);
		if (k == 0) {
			struct vu_vring_state s = { 0, 0x8000 | 256 };
			fe_send(fd, VU_SET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);
		} else {
			struct vu_vring_addr a = { 0, 0, b + 0x10000, b + 0x12000, b + 0x11002, 0 };
			fe_send(fd, VU_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
		}
		CHECK(fe_wait_closed(&f, fd));
		CHECK_EQ(fx_stats(&f).bad_messages, 1);
		CHECK_EQ(f.rec.starts, 0);
		close(fd);
		guest_fini(&g);
		fx_fini(&f);
	}
}

RIOV_TEST(server_refuses_second_frontend)
{
	struct fx f = { 0 };
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	int a = fe_connect(&f);
	int b = fe_connect(&f);
	CHECK(b >= 0);
	CHECK(fe_wait_closed(&f, b));
	close(b);
	/* the first one is unaffected */
	CHECK(fe_get_u64(&f, a, VU_GET_FEATURES) & (1ull << RIOV_VIRTIO_F_VERSION_1));
	CHECK_EQ(fx_stats(&f).connects, 1);
	CHECK(fx_stats(&f).connected);
	close(a);
	fx_fini(&f);
}

RIOV_TEST(server_path_busy_and_stale)
{
	struct fx f = { 0 }, g = { 0 };
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	memset(&g, 0, sizeof(g));
	strcpy(g.path, f.path);
	CHECK_EQ(fx_init(&g, RIOV_VHOST_SERVER), -EADDRINUSE);
	riov_vtd_destroy(g.vtd);
	event_base_free(g.base);
	fx_fini(&f);
	/* a stale socket file (nobody listening) is replaced */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	fx_path(&g);
	strcpy(sa.sun_path, g.path);
	CHECK(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(s);
	char p[108];
	strcpy(p, g.path);
	memset(&g, 0, sizeof(g));
	strcpy(g.path, p);
	CHECK_EQ(fx_init(&g, RIOV_VHOST_SERVER), 0);
	fx_fini(&g);
}

/* Repeated SET_MEM_TABLE under a running vring: a table that replaces the guest-physical range
 * stops the vring (it restarts with the indices reached once its rings translate again); the same
 * table again changes nothing. */
RIOV_TEST(repeated_mem_table_restarts_and_no_leak)
{
	struct fx f = { 0 };
	struct guest g;
	int callfd, kickfd;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0x40000000);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	setup_vring(&f, fd, &g, 1, ~0ull, &callfd, &kickfd);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 1, 1), 0);
	CHECK_EQ(f.rec.starts, 1);
	int before = count_fds();
	for (int i = 0; i < 20; i++) {
		struct guest g2;
		int s0 = f.rec.starts, t0 = f.rec.stops;
		guest_init(&g2, 0x40000000);
		memset(g2.map + 0x14000, 0x30 + i, 0x1000);
		f.rec.stop_la = (uint16_t)(100 + i);
		f.rec.stop_lu = (uint16_t)(90 + i);
		/* a new table (new front-end mapping): the running vring is stopped first; its old
		 * addresses are no longer in the table, so it stays pending until they are re-sent */
		int h0 = f.rec.holds;
		CHECK_EQ(send_mem_table(&f, fd, &g2), 0);
		CHECK_EQ(f.rec.stops, t0 + 1);
		CHECK_EQ(f.rec.starts, s0);
		/* the stop was a pause: packets for the guest were held meanwhile */
		CHECK_EQ(f.rec.holds, h0 + 1);
		CHECK_EQ(f.rec.stops_held, t0 + 1);
		CHECK(!f.rec.holding);
		uint64_t m2 = (uint64_t)(uintptr_t)g2.map;
		struct vu_vring_addr a = { 1, 0, m2 + 0x14000, m2 + 0x16000, m2 + 0x15000, 0 };
		CHECK_EQ(fe_call(&f, fd, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
		CHECK_EQ(f.rec.starts, s0 + 1);
		CHECK_EQ(f.rec.last.qid, 1);
		CHECK_EQ(f.rec.last.last_avail_idx, 100 + i);
		CHECK_EQ(f.rec.last.last_used_idx, 90 + i);
		CHECK(f.rec.last.desc && memcmp(f.rec.last.desc, g2.map + 0x14000, 4096) == 0);
		/* the same table again: the region is the same one, nothing stops */
		CHECK_EQ(send_mem_table(&f, fd, &g2), 0);
		CHECK_EQ(f.rec.stops, t0 + 1);
		CHECK_EQ(f.rec.starts, s0 + 1);
		CHECK_EQ(f.rec.holds, h0 + 1);
		CHECK(f.rec.last.desc && memcmp(f.rec.last.desc, g2.map + 0x14000, 4096) == 0);
		/* back to the first mapping for the next round (replaces the guest-physical range) */
		CHECK_EQ(send_mem_table(&f, fd, &g), 0);
		uint64_t m = (uint64_t)(uintptr_t)g.map;
		struct vu_vring_addr b = { 1, 0, m + 0x14000, m + 0x16000, m + 0x15000, 0 };
		CHECK_EQ(fe_call(&f, fd, VU_SET_VRING_ADDR, &b, sizeof(b), NULL, 0), 0);
		CHECK_EQ(f.rec.stops, t0 + 2);
		CHECK_EQ(f.rec.starts, s0 + 2);
		guest_fini(&g2);
	}
	CHECK_EQ(count_fds(), before);
	CHECK_EQ(count_memfd_maps(), 2);   /* ours and the server's of the current table */
	CHECK_EQ(fx_stats(&f).mem_regions, 1);
	CHECK_EQ(fx_stats(&f).bad_messages, 0);
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	fx_fini(&f);
}

/* QEMU's order: back-end request channel and call fds before SET_FEATURES, then memory, then per
 * vring num/base/addr/kick/call, then SET_VRING_ENABLE; stop with enable 0 + GET_VRING_BASE. */
RIOV_TEST(qemu_message_order)
{
	struct fx f = { 0 };
	struct guest g;
	int before = count_fds();
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	int fd = fe_connect(&f);
	CHECK_EQ(fe_send(fd, VU_SET_OWNER, 0, NULL, 0, NULL, 0), 0);
	CHECK(fe_get_u64(&f, fd, VU_GET_FEATURES) != 0);
	CHECK(fe_get_u64(&f, fd, VU_GET_PROTOCOL_FEATURES) != 0);
	CHECK_EQ(fe_call_u64(&f, fd, VU_SET_PROTOCOL_FEATURES, PROTO_WANT | (1ull << VU_PF_BACKEND_REQ), NULL, 0), 0);
	CHECK_EQ(fe_get_u64(&f, fd, VU_GET_QUEUE_NUM), QP);
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	CHECK_EQ(fe_call(&f, fd, VU_SET_BACKEND_REQ_FD, NULL, 0, &sp[1], 1), 0);
	close(sp[1]);
	int call[2], kick[2], err = eventfd(0, EFD_CLOEXEC);
	for (uint32_t q = 0; q < 2; q++) {
		call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		CHECK_EQ(fe_call_u64(&f, fd, VU_SET_VRING_CALL, q, &call[q], 1), 0);
		CHECK_EQ(fe_call_u64(&f, fd, VU_SET_VRING_ERR, q, &err, 1), 0);
	}
	CHECK_EQ(fe_call_u64(&f, fd, VU_SET_FEATURES, FEAT_BASE, NULL, 0), 0);
	CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	uint64_t m = (uint64_t)(uintptr_t)g.map;
	for (uint32_t q = 0; q < 2; q++) {
		uint64_t o = 0x4000ull * q;
		struct vu_vring_addr a = { q, 0, m + 0x10000 + o, m + 0x12000 + o, m + 0x11000 + o, 0 };
		CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_NUM, q, 1024), 0);
		CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_BASE, q, 0), 0);
		CHECK_EQ(fe_call(&f, fd, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
		CHECK_EQ(fe_call_u64(&f, fd, VU_SET_VRING_KICK, q, &kick[q], 1), 0);
		CHECK_EQ(fe_call_u64(&f, fd, VU_SET_VRING_CALL, q, &call[q], 1), 0);
	}
	CHECK_EQ(f.rec.starts, 0);
	for (uint32_t q = 0; q < 2; q++)
		CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, q, 1), 0);
	CHECK_EQ(f.rec.starts, 2);
	CHECK_EQ(fx_stats(&f).queue_pairs, 1);
	CHECK(irq_reaches(&f, &f.rec.last, call[1]));
	for (uint32_t q = 0; q < 2; q++)
		CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, q, 0), 0);
	CHECK_EQ(f.rec.stops, 2);
	for (uint32_t q = 0; q < 2; q++) {
		struct vu_vring_state s = { q, 0 };
		CHECK_EQ(fe_send(fd, VU_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0), 0);
		CHECK_EQ(fe_recv(&f, fd, VU_GET_VRING_BASE, &s, sizeof(s), NULL), 8);
		CHECK_EQ(s.index, q);
	}
	CHECK_EQ(f.rec.stops, 2);
	CHECK_EQ(fx_stats(&f).bad_messages, 0);
	close(fd);
	for (int i = 0; i < 1000 && fx_stats(&f).connected; i++) {
		pump(&f, 1);
		usleep(100);
	}
	for (int q = 0; q < 2; q++) {
		close(call[q]);
		close(kick[q]);
	}
	close(err);
	close(sp[0]);
	guest_fini(&g);
	fx_fini(&f);
	CHECK_EQ(count_fds(), before);
}

/* ADD_MEM_REG / REM_MEM_REG: an added region stops nothing; rings in a removed region stop and
 * wait until memory is there again. */
RIOV_TEST(add_rem_mem_reg)
{
	struct fx f = { 0 };
	struct guest g, g2;
	int callfd, kickfd;
	int before = count_fds();
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	guest_init(&g2, 0x100000000ull);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	struct vu_mem_reg_single r1 = { 0, { g.gpa, GUEST_SIZE, (uint64_t)(uintptr_t)g.map, 0 } };
	struct vu_mem_reg_single r2 = { 0, { g2.gpa, GUEST_SIZE, (uint64_t)(uintptr_t)g2.map, 0 } };
	CHECK_EQ(fe_call(&f, fd, VU_ADD_MEM_REG, &r1, sizeof(r1), &g.memfd, 1), 0);
	setup_vring(&f, fd, &g, 0, ~0ull, &callfd, &kickfd);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK_EQ(f.rec.starts, 1);
	f.rec.stop_la = 33;
	/* adding a region changes no translation: the running vring is left alone */
	CHECK_EQ(fe_call(&f, fd, VU_ADD_MEM_REG, &r2, sizeof(r2), &g2.memfd, 1), 0);
	CHECK_EQ(fx_stats(&f).mem_regions, 2);
	CHECK_EQ(fx_stats(&f).mem_bytes, 2ull * GUEST_SIZE);
	CHECK_EQ(f.rec.stops, 0);
	CHECK_EQ(f.rec.starts, 1);
	/* overlapping adds and removing an unknown one are refused: tested in refused_* */
	CHECK_EQ(fe_call(&f, fd, VU_REM_MEM_REG, &r1, sizeof(r1), NULL, 0), 0);
	CHECK_EQ(fx_stats(&f).mem_regions, 1);
	CHECK_EQ(f.rec.stops, 1);    /* its rings were in the removed region */
	CHECK_EQ(f.rec.starts, 1);   /* and are gone: pending */
	CHECK_EQ(fe_call(&f, fd, VU_ADD_MEM_REG, &r1, sizeof(r1), &g.memfd, 1), 0);
	CHECK_EQ(f.rec.starts, 2);
	CHECK_EQ(f.rec.last.last_avail_idx, 33);
	check_rings(&f.rec.last, &g);
	/* a REM_MEM_REG with one (ignored) fd, as old front-ends send it */
	CHECK_EQ(fe_call(&f, fd, VU_REM_MEM_REG, &r2, sizeof(r2), &g2.memfd, 1), 0);
	CHECK_EQ(fx_stats(&f).mem_regions, 1);
	CHECK_EQ(fx_stats(&f).bad_messages, 0);
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	guest_fini(&g2);
	fx_fini(&f);
	CHECK_EQ(count_fds(), before);
	CHECK_EQ(count_memfd_maps(), 0);
}

/* Host address of gpa through the device's domain, or NULL (what a worker's translation sees). */
static void *dev_translate(struct fx *f, uint64_t gpa, uint64_t len)
{
	struct riov_vtd_cursor c;
	void *h = NULL;
	uint64_t mapped = 0;
	riov_vtd_cursor_init(&c, f->vtd, SID);
	if (riov_vtd_translate(&c, gpa, len, RIOV_VTD_READ | RIOV_VTD_WRITE, &h, &mapped) != 0 || mapped < len)
		return NULL;
	return h;
}

/* QEMU 7.2 with queues=2: each queue pair is a vhost device of its own on the one socket and sends
 * ADD_MEM_REG / REM_MEM_REG for every region, so each region comes twice: the second is a reference,
 * not an overlap; it goes with the last REM_MEM_REG. The running vring never stops. */
RIOV_TEST(mem_reg_added_once_per_queue_pair)
{
	struct fx f = { 0 };
	struct guest g, g2;
	int callfd, kickfd;
	int before = count_fds();
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	guest_init(&g2, 0x100000000ull);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	struct vu_mem_reg_single r1 = { 0, { g.gpa, GUEST_SIZE, (uint64_t)(uintptr_t)g.map, 0 } };
	struct vu_mem_reg_single r2 = { 0, { g2.gpa, GUEST_SIZE, (uint64_t)(uintptr_t)g2.map, 0 } };
	/* queue pair 0 */
	CHECK_EQ(fe_call(&f, fd, VU_ADD_MEM_REG, &r1, sizeof(r1), &g.memfd, 1), 0);
	setup_vring(&f, fd, &g, 0, ~0ull, &callfd, &kickfd);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK_EQ(f.rec.starts, 1);
	/* queue pair 1 sends the same region, through its own dup of the fd */
	int dupfd = dup(g.memfd);
	CHECK_EQ(fe_call(&f, fd, VU_ADD_MEM_REG, &r1, sizeof(r1), &dupfd, 1), 0);
	close(dupfd);
	CHECK_EQ(fx_stats(&f).mem_regions, 1);
	CHECK_EQ(fx_stats(&f).mem_bytes, (uint64_t)GUEST_SIZE);
	/* a DIMM hot-plugged: both queue pairs add it */
	CHECK_EQ(fe_call(&f, fd, VU_ADD_MEM_REG, &r2, sizeof(r2), &g2.memfd, 1), 0);
	CHECK_EQ(fe_call(&f, fd, VU_ADD_MEM_REG, &r2, sizeof(r2), &g2.memfd, 1), 0);
	CHECK_EQ(fx_stats(&f).mem_regions, 2);
	uint8_t *h2 = dev_translate(&f, g2.gpa + 0x3000, 64);
	CHECK(h2 != NULL);
	if (h2) {
		h2[5] = 0x77;
		CHECK_EQ(g2.map[0x3005], 0x77);
	}
	/* and unplugged: the first REM_MEM_REG keeps it, the second removes it */
	CHECK_EQ(fe_call(&f, fd, VU_REM_MEM_REG, &r2, sizeof(r2), NULL, 0), 0);
	CHECK_EQ(fx_stats(&f).mem_regions, 2);
	CHECK(dev_translate(&f, g2.gpa + 0x3000, 64) != NULL);
	CHECK_EQ(fe_call(&f, fd, VU_REM_MEM_REG, &r2, sizeof(r2), NULL, 0), 0);
	CHECK_EQ(fx_stats(&f).mem_regions, 1);
	CHECK(dev_translate(&f, g2.gpa + 0x3000, 64) == NULL);
	/* one more is not there any more: refused, the session stays */
	CHECK_EQ(fe_call(&f, fd, VU_REM_MEM_REG, &r2, sizeof(r2), NULL, 0), 1);
	CHECK_EQ(f.rec.stops, 0);
	CHECK_EQ(f.rec.starts, 1);
	CHECK_EQ(fx_stats(&f).refused, 1);
	CHECK_EQ(fx_stats(&f).bad_messages, 0);
	CHECK_EQ(count_memfd_maps(), 3);   /* ours (2) and the server's of g */
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	guest_fini(&g2);
	fx_fini(&f);
	CHECK_EQ(count_fds(), before);
	CHECK_EQ(count_memfd_maps(), 0);
}

/* SET_MEM_TABLE that only grows or shrinks (hot-plug without CONFIGURE_MEM_SLOTS): no vring stops. */
RIOV_TEST(mem_table_grows_and_shrinks_without_stopping)
{
	struct fx f = { 0 };
	struct guest g, g2;
	int callfd, kickfd;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	guest_init(&g2, 0x100000000ull);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	setup_vring(&f, fd, &g, 0, ~0ull, &callfd, &kickfd);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
	struct {
		struct vu_mem_table_hdr h;
		struct riov_guest_region_desc r[2];
	} mt = { { 2, 0 },
		 { { g.gpa, GUEST_SIZE, (uint64_t)(uintptr_t)g.map, 0 },
		   { g2.gpa, GUEST_SIZE, (uint64_t)(uintptr_t)g2.map, 0 } } };
	int e[2] = { g.memfd, g2.memfd };
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(fe_call(&f, fd, VU_SET_MEM_TABLE, &mt, sizeof(mt), e, 2), 0);
		CHECK_EQ(fx_stats(&f).mem_regions, 2);
		CHECK(dev_translate(&f, g2.gpa, 4096) != NULL);
		CHECK_EQ(send_mem_table(&f, fd, &g), 0);
		CHECK_EQ(fx_stats(&f).mem_regions, 1);
		CHECK(dev_translate(&f, g2.gpa, 4096) == NULL);
	}
	CHECK_EQ(f.rec.starts, 1);
	CHECK_EQ(f.rec.stops, 0);
	CHECK_EQ(count_memfd_maps(), 3);
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	guest_fini(&g2);
	fx_fini(&f);
	CHECK_EQ(count_memfd_maps(), 0);
}

/* A worker thread translates into a hot-plugged region and writes through the pointer while the
 * control thread adds and removes that region again and again: the removal unmaps riovd's
 * mapping only after the worker passed a quiescent point (the unit's synchronize, here an epoch
 * the worker bumps once per loop). A region unmapped too early is a SIGSEGV (or an ASan report). */
struct mt_worker {
	struct fx *f;
	uint64_t gpa;
	_Atomic uint64_t epoch;
	_Atomic bool running;   /* no worker yet: nothing to wait for */
	_Atomic bool stop;
	uint64_t hits;
};

static void mt_sync(void *arg)
{
	struct mt_worker *w = arg;
	uint64_t e = atomic_load(&w->epoch);
	/* two bumps: the loop that was running at the call has ended */
	while (atomic_load(&w->running) && atomic_load(&w->epoch) < e + 2 && !atomic_load(&w->stop))
		sched_yield();
}

static void *mt_worker_main(void *arg)
{
	struct mt_worker *w = arg;
	struct riov_vtd_cursor c;
	riov_vtd_cursor_init(&c, w->f->vtd, SID);
	while (!atomic_load(&w->stop)) {
		void *h = NULL;
		uint64_t mapped = 0;
		if (riov_vtd_translate(&c, w->gpa, 4096, RIOV_VTD_WRITE, &h, &mapped) == 0 && mapped == 4096) {
			for (int k = 0; k < 64; k++)
				memset(h, k, 4096);
			w->hits++;
		}
		atomic_fetch_add(&w->epoch, 1);
	}
	return NULL;
}

RIOV_TEST(mem_reg_remove_waits_for_translating_worker)
{
	struct fx f = { 0 };
	struct guest g, g2;
	struct mt_worker w = { .f = &f, .gpa = 0x100000000ull };
	fx_sync = mt_sync;
	fx_sync_arg = &w;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	fx_sync = NULL;
	fx_sync_arg = NULL;
	guest_init(&g, 0);
	guest_init(&g2, w.gpa);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	pthread_t t;
	atomic_store(&w.running, true);
	CHECK(pthread_create(&t, NULL, mt_worker_main, &w) == 0);
	struct vu_mem_reg_single r2 = { 0, { g2.gpa, GUEST_SIZE, (uint64_t)(uintptr_t)g2.map, 0 } };
	for (int i = 0; i < 300; i++) {
		CHECK_EQ(fe_call(&f, fd, VU_ADD_MEM_REG, &r2, sizeof(r2), &g2.memfd, 1), 0);
		for (uint64_t e = atomic_load(&w.epoch); atomic_load(&w.epoch) < e + 2;)
			sched_yield();
		CHECK_EQ(fe_call(&f, fd, VU_REM_MEM_REG, &r2, sizeof(r2), NULL, 0), 0);
	}
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	atomic_store(&w.running, false);
	CHECK(w.hits > 0);
	CHECK_EQ(fx_stats(&f).mem_regions, 1);
	CHECK_EQ(fx_stats(&f).bad_messages, 0);
	close(fd);
	guest_fini(&g);
	guest_fini(&g2);
	fx_fini(&f);
}

RIOV_TEST(repeated_get_inflight_fd_no_leak)
{
	struct fx f = { 0 };
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	int before = -1;
	for (int i = 0; i < 20; i++) {
		struct vu_inflight in = { 0, 0, 2 * QP, 256 }, out;
		int rfd;
		CHECK_EQ(fe_send(fd, VU_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0), 0);
		CHECK_EQ(fe_recv(&f, fd, VU_GET_INFLIGHT_FD, &out, sizeof(out), &rfd), (int)sizeof(out));
		CHECK(rfd >= 0);
		CHECK(out.mmap_size >= 4ull * (16 + 16 * 256));
		CHECK_EQ(out.num_queues, 2 * QP);
		/* hand it back as SET_INFLIGHT_FD (a restarted back-end would get it this way) */
		CHECK_EQ(fe_call(&f, fd, VU_SET_INFLIGHT_FD, &out, sizeof(out), &rfd, 1), 0);
		close(rfd);
		if (i == 0)
			before = count_fds();
	}
	CHECK_EQ(count_fds(), before);
	CHECK_EQ(count_memfd_maps(), 1);   /* the server's current inflight region */
	close(fd);
	fx_fini(&f);
	CHECK_EQ(count_memfd_maps(), 0);
}

RIOV_TEST(call_fd_replaced_on_running_vring)
{
	struct fx f = { 0 };
	struct guest g;
	int callfd, kickfd;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	setup_vring(&f, fd, &g, 0, ~0ull, &callfd, &kickfd);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK(irq_reaches(&f, &f.rec.last, callfd));
	int call2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK_EQ(fe_call_u64(&f, fd, VU_SET_VRING_CALL, 0, &call2, 1), 0);
	CHECK(irq_reaches(&f, &f.rec.last, call2));
	uint64_t v;
	CHECK(read(callfd, &v, sizeof(v)) < 0);   /* the old one no longer gets it */
	CHECK_EQ(f.rec.starts, 1);
	/* disable stops it */
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 0, 0), 0);
	CHECK_EQ(f.rec.stops, 1);
	CHECK(riov_vtd_irq_raise(f.vtd, SID, f.rec.last.msi_addr, f.rec.last.msi_data) != 0);
	close(fd);
	close(callfd);
	close(call2);
	close(kickfd);
	guest_fini(&g);
	fx_fini(&f);
}

/* Without PROTOCOL_FEATURES a vring is enabled by its kick. */
RIOV_TEST(legacy_enable_on_kick)
{
	struct fx f = { 0 };
	struct guest g;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	int fd = fe_connect(&f);
	uint64_t feat = (1ull << RIOV_VIRTIO_F_VERSION_1);
	CHECK_EQ(fe_send(fd, VU_SET_FEATURES, 0, &feat, 8, NULL, 0), 0);
	struct {
		struct vu_mem_table_hdr h;
		struct riov_guest_region_desc r;
	} mt = { { 1, 0 }, { 0, GUEST_SIZE, (uint64_t)(uintptr_t)g.map, 0 } };
	CHECK_EQ(fe_send(fd, VU_SET_MEM_TABLE, 0, &mt, sizeof(mt), &g.memfd, 1), 0);
	struct vu_vring_state s = { 0, 256 };
	CHECK_EQ(fe_send(fd, VU_SET_VRING_NUM, 0, &s, sizeof(s), NULL, 0), 0);
	uint64_t m = (uint64_t)(uintptr_t)g.map;
	struct vu_vring_addr a = { 0, 0, m + 0x10000, m + 0x12000, m + 0x11000, 0 };
	CHECK_EQ(fe_send(fd, VU_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0), 0);
	uint64_t k = VU_VRING_NOFD;   /* polling front-end: no kick fd */
	CHECK_EQ(fe_send(fd, VU_SET_VRING_KICK, 0, &k, 8, NULL, 0), 0);
	/* a GET makes the exchange synchronous */
	CHECK(fe_get_u64(&f, fd, VU_GET_FEATURES) != 0);
	CHECK_EQ(f.rec.starts, 1);
	CHECK_EQ(f.rec.last.callfd, -1);
	check_rings(&f.rec.last, &g);
	close(fd);
	for (int i = 0; i < 1000 && fx_stats(&f).connected; i++) {
		pump(&f, 1);
		usleep(100);
	}
	CHECK_EQ(f.rec.stops, 1);
	CHECK_EQ(fx_stats(&f).bad_messages, 0);
	guest_fini(&g);
	fx_fini(&f);
}

/* With VIRTIO_F_IOMMU_PLATFORM the ring addresses are IOVAs, mapped by IOTLB updates into the
 * first-stage domain; the device context is nested. */
RIOV_TEST(iommu_platform_rings_are_iovas)
{
	struct fx f = { 0 };
	struct guest g;
	int callfd, kickfd;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0x80000000ull);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE | (1ull << RIOV_VIRTIO_F_IOMMU_PLATFORM));
	CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) == 0);
	CHECK_EQ(fe_call(&f, fd, VU_SET_BACKEND_REQ_FD, NULL, 0, &sp[1], 1), 0);
	close(sp[1]);
	const uint64_t iova = 0xfee00000ull;   /* guest-chosen IOVA for the 64 KiB holding the rings */
	setup_vring(&f, fd, &g, 0, iova - 0x10000, &callfd, &kickfd);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK_EQ(f.rec.starts, 0);   /* nothing in the IOTLB yet: pending */
	/* the back-end asked for the descriptor table's translation on the back-end channel */
	struct {
		uint32_t req, flags, size;
		struct vu_iotlb t;
	} __attribute__((packed)) miss;
	memset(&miss, 0, sizeof(miss));
	CHECK_EQ(recv(sp[0], &miss, sizeof(miss), MSG_DONTWAIT), (ssize_t)sizeof(miss));
	CHECK_EQ(miss.req, VU_BACKEND_IOTLB_MSG);
	CHECK_EQ(miss.size, sizeof(struct vu_iotlb));
	CHECK_EQ(miss.t.type, VU_IOTLB_MISS);
	CHECK_EQ(miss.t.iova, iova);
	CHECK_EQ(miss.t.perm, RIOV_VTD_READ);
	close(sp[0]);
	struct vu_iotlb t = { iova, 0x10000, (uint64_t)(uintptr_t)g.map + 0x10000, 3, VU_IOTLB_UPDATE };
	CHECK_EQ(fe_call(&f, fd, VU_IOTLB_MSG, &t, sizeof(t), NULL, 0), 0);
	CHECK_EQ(f.rec.starts, 1);
	check_rings(&f.rec.last, &g);
	/* and a descriptor IOVA translates through the same cursor the dataplane would use */
	struct riov_vtd_cursor c;
	void *h;
	uint64_t mapped;
	riov_vtd_cursor_init(&c, f.vtd, SID);
	CHECK_EQ(riov_vtd_translate(&c, iova + 0x100, 16, RIOV_VTD_READ, &h, &mapped), 0);
	CHECK(h == (uint8_t *)f.rec.last.desc + 0x100);
	t.type = VU_IOTLB_INVALIDATE;
	CHECK_EQ(fe_call(&f, fd, VU_IOTLB_MSG, &t, sizeof(t), NULL, 0), 0);
	riov_vtd_cursor_init(&c, f.vtd, SID);
	CHECK(riov_vtd_translate(&c, iova + 0x100, 16, RIOV_VTD_READ, &h, &mapped) != 0);
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	fx_fini(&f);
}

/* Guest memory lands in the VT-d domain with superpages when the GPA allows it. */
RIOV_TEST(guest_memory_superpage_congruent)
{
	struct fx f = { 0 };
	struct guest g;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0x200000000ull);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	struct riov_vtd_cursor c;
	void *h;
	uint64_t mapped;
	riov_vtd_cursor_init(&c, f.vtd, SID);
	CHECK_EQ(riov_vtd_translate(&c, 0x200000000ull, 0x200000, RIOV_VTD_READ, &h, &mapped), 0);
	CHECK_EQ(((uintptr_t)h) & 0x1fffff, 0);
	CHECK_EQ(mapped, 0x200000);   /* one 2 MiB page */
	struct riov_vtd_domain_info di;
	CHECK_EQ(riov_vtd_domain_info(f.vtd, DID, &di), 0);
	CHECK_EQ(di.mapped_bytes, GUEST_SIZE);
	close(fd);
	for (int i = 0; i < 1000 && fx_stats(&f).connected; i++) {
		pump(&f, 1);
		usleep(100);
	}
	/* disconnect removed the domain */
	CHECK(riov_vtd_domain_info(f.vtd, DID, &di) != 0);
	guest_fini(&g);
	fx_fini(&f);
}

RIOV_TEST(log_base_and_config)
{
	struct fx f = { 0 };
	struct guest g;
	int callfd, kickfd;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	setup_vring(&f, fd, &g, 0, ~0ull, &callfd, &kickfd);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK(f.rec.last.log_base == NULL);
	int lfd = memfd_create("ut-log", MFD_CLOEXEC);
	CHECK(ftruncate(lfd, 0x3000) == 0);
	struct vu_log l = { 0x2000, 0x800 };
	uint64_t r = ~0ull;
	CHECK_EQ(fe_send(fd, VU_SET_LOG_BASE, 0, &l, sizeof(l), &lfd, 1), 0);
	CHECK_EQ(fe_recv(&f, fd, VU_SET_LOG_BASE, &r, sizeof(r), NULL), 8);
	CHECK_EQ(r, 0);
	CHECK_EQ(fe_call_u64(&f, fd, VU_SET_FEATURES, FEAT_BASE | (1ull << RIOV_VHOST_F_LOG_ALL), NULL, 0), 0);
	CHECK_EQ(f.rec.starts, 2);   /* restarted with the log */
	CHECK_EQ(f.rec.holds, 1);    /* a pause: packets for the guest were held, not dropped */
	CHECK_EQ(f.rec.stops_held, f.rec.stops);
	CHECK(!f.rec.holding);
	CHECK(f.rec.last.log_base != NULL);
	CHECK_EQ(f.rec.last.log_size, 0x2000);
	if (f.rec.last.log_base) {
		f.rec.last.log_base[0] = 0x42;
		uint8_t b;
		CHECK(pread(lfd, &b, 1, 0x800) == 1 && b == 0x42);
	}
	close(lfd);
	/* config space */
	struct {
		struct vu_config_hdr h;
		uint8_t d[12];
	} c = { { 0, 12, 0 }, { 0 } }, out;
	CHECK_EQ(fe_send(fd, VU_GET_CONFIG, 0, &c, sizeof(c), NULL, 0), 0);
	CHECK_EQ(fe_recv(&f, fd, VU_GET_CONFIG, &out, sizeof(out), NULL), (int)sizeof(out));
	uint16_t mqp;
	memcpy(&mqp, out.d + 8, 2);
	CHECK_EQ(mqp, QP);
	CHECK_EQ(fe_call_u64(&f, fd, VU_SET_STATUS, 0xf, NULL, 0), 0);
	CHECK_EQ(fe_get_u64(&f, fd, VU_GET_STATUS), 0xf);
	/* NET_SET_MTU: up to the port's MTU (1500 here); above it refused, the session goes on, and
	 * the config space says what was agreed */
	CHECK(fe_call_u64(&f, fd, VU_NET_SET_MTU, 9000, NULL, 0) != 0);
	CHECK(fe_call_u64(&f, fd, VU_NET_SET_MTU, 67, NULL, 0) != 0);
	CHECK_EQ(fe_call_u64(&f, fd, VU_NET_SET_MTU, 1400, NULL, 0), 0);
	CHECK_EQ(fe_send(fd, VU_GET_CONFIG, 0, &c, sizeof(c), NULL, 0), 0);
	CHECK_EQ(fe_recv(&f, fd, VU_GET_CONFIG, &out, sizeof(out), NULL), (int)sizeof(out));
	uint16_t mtu;
	memcpy(&mtu, out.d + 10, 2);
	CHECK_EQ(mtu, 1400);
	/* SEND_RARP (after a migration): the MAC in memory order goes to the dataplane; a multicast or
	 * zero address is refused and the session goes on */
	CHECK_EQ(fe_call_u64(&f, fd, VU_SEND_RARP, 0x0000112233445566ull, NULL, 0), 0);
	CHECK_EQ(f.rec.announces, 1);
	CHECK(memcmp(f.rec.announced, (uint8_t[]){ 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 6) == 0);
	CHECK(fe_call_u64(&f, fd, VU_SEND_RARP, 0x0000112233445501ull, NULL, 0) != 0);
	CHECK(fe_call_u64(&f, fd, VU_SEND_RARP, 0, NULL, 0) != 0);
	CHECK_EQ(f.rec.announces, 1);
	CHECK(fx_stats(&f).connected);
	/* RESET_DEVICE stops everything but keeps the connection */
	CHECK_EQ(fe_call(&f, fd, VU_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	CHECK_EQ(f.rec.stops, 2);
	CHECK_EQ(fx_stats(&f).mem_regions, 0);
	CHECK(fx_stats(&f).connected);
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	fx_fini(&f);
}

/* One session whose vring 0 has avail index `avail` and used index `used` in guest memory and
 * gets base 5 from the front-end (setup_vring): the indices the vring starts from, and the
 * base_resyncs riov_vhost_dev_stats() reports. */
static void start_with_ring_indices(uint16_t avail, uint16_t used, uint16_t *la, uint16_t *lu,
				    uint64_t *resyncs)
{
	struct fx f = { 0 };
	struct guest g;
	int callfd, kickfd;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	memcpy(g.map + 0x11000 + 2, &avail, 2);
	memcpy(g.map + 0x12000 + 2, &used, 2);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	setup_vring(&f, fd, &g, 0, ~0ull, &callfd, &kickfd);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK_EQ(f.rec.starts, 1);
	*la = f.rec.last.last_avail_idx;
	*lu = f.rec.last.last_used_idx;
	*resyncs = fx_stats(&f).base_resyncs;
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	fx_fini(&f);
}

RIOV_TEST(base_from_used_ring_when_frontend_lost_track)
{
	uint16_t la, lu;
	uint64_t n;
	/* DPDK's virtio-user reconnecting to a restarted riovd: base 5 (it sends 0) but the guest
	 * posted up to 300 and riovd had completed 290: serve from 290, not a broken queue */
	start_with_ring_indices(300, 290, &la, &lu, &n);
	CHECK_EQ(la, 290);
	CHECK_EQ(lu, 290);
	CHECK_EQ(n, 1);
	/* a base behind the used index would serve completed entries again (a restarted riovd under
	 * a reconnecting virtio-user guest's TX ring: the guest sent 14, riovd had taken and
	 * completed all of them, base 5 from the front-end): served from the used index; this was
	 * kept before, and the guest's 9 frames went out twice */
	start_with_ring_indices(14, 14, &la, &lu, &n);
	CHECK_EQ(la, 14);
	CHECK_EQ(lu, 14);
	CHECK_EQ(n, 1);
	start_with_ring_indices(100, 90, &la, &lu, &n);
	CHECK_EQ(la, 90);
	CHECK_EQ(n, 1);
	/* a base at or ahead of the used index, the ring servable from it, is the front-end's (QEMU
	 * after a migration or a reconnect sends the used index or what it had taken): kept */
	start_with_ring_indices(10, 3, &la, &lu, &n);
	CHECK_EQ(la, 5);
	CHECK_EQ(lu, 5);
	CHECK_EQ(n, 0);
	start_with_ring_indices(10, 5, &la, &lu, &n);
	CHECK_EQ(la, 5);
	CHECK_EQ(n, 0);
	/* neither can: kept, and the virtqueue code marks the queue broken as before */
	start_with_ring_indices(3000, 2000, &la, &lu, &n);
	CHECK_EQ(la, 5);
	CHECK_EQ(n, 0);
}

RIOV_TEST(destroy_while_running)
{
	int before = count_fds();
	struct fx f = { 0 };
	struct guest g;
	int callfd, kickfd;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	setup_vring(&f, fd, &g, 3, ~0ull, &callfd, &kickfd);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 3, 1), 0);
	CHECK_EQ(f.rec.starts, 1);
	fx_fini(&f);
	CHECK_EQ(f.rec.stops, 1);
	CHECK_EQ(f.rec.stop_qid, 3);
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	CHECK_EQ(count_fds(), before);
	CHECK_EQ(count_memfd_maps(), 0);
}

/* ---- client mode -------------------------------------------------------------------------- */

static int listener_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	unlink(path);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(l, 4) == 0);
	return l;
}

/* Drive the device's loop until our listener accepts it (reconnect back-off is 100 ms .. 2 s). */
static int accept_device(struct fx *f, int l)
{
	for (int i = 0; i < 1000; i++) {
		struct event *dummy = NULL;
		(void)dummy;
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			return c;
		struct pollfd p = { l, POLLIN, 0 };
		poll(&p, 1, 5);
	}
	return -1;
}

RIOV_TEST(client_mode_reconnects)
{
	int before = count_fds();
	struct fx f = { 0 };
	memset(&f, 0, sizeof(f));
	fx_path(&f);
	char path[108];
	strcpy(path, f.path);
	/* the device starts before the front-end listens: it keeps trying */
	CHECK_EQ(fx_init(&f, RIOV_VHOST_CLIENT), 0);
	strcpy(f.path, path);
	CHECK(!fx_stats(&f).connected);
	int l = listener_open(path);
	int c = accept_device(&f, l);
	CHECK(c >= 0);
	CHECK(fx_stats(&f).connected);
	CHECK(fe_get_u64(&f, c, VU_GET_FEATURES) & (1ull << VU_F_PROTOCOL_FEATURES));
	/* the front-end goes away: listener and connection close */
	close(c);
	close(l);
	unlink(path);
	for (int i = 0; i < 1000 && fx_stats(&f).connected; i++) {
		pump(&f, 1);
		usleep(100);
	}
	CHECK(!fx_stats(&f).connected);
	CHECK_EQ(fx_stats(&f).disconnects, 1);
	/* a few failed attempts while nobody listens */
	for (int i = 0; i < 30; i++) {
		event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(10000);
	}
	l = listener_open(path);
	c = accept_device(&f, l);
	CHECK(c >= 0);
	CHECK_EQ(fx_stats(&f).connects, 2);
	/* and a good exchange on the new connection */
	negotiate(&f, c, FEAT_BASE);
	close(c);
	close(l);
	unlink(path);
	fx_fini(&f);
	CHECK_EQ(count_fds(), before);
}

RIOV_TEST(create_rejects_bad_params)
{
	struct fx f = { 0 };
	memset(&f, 0, sizeof(f));
	struct riov_vtd_config vc = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 256 };
	f.base = event_base_new();
	f.vtd = riov_vtd_create(&vc);
	struct riov_vhost_dev_params p = {
		.name = "x", .path = "/tmp/riov-vhost-ut-bad.sock", .max_queue_pairs = 0, .base = f.base,
		.vtd = f.vtd, .did = 1, .s1_did = 2, .ops = &t_ops,
	};
	struct riov_vhost_dev *d = NULL;
	CHECK_EQ(riov_vhost_dev_create(&p, &d), -EINVAL);
	p.max_queue_pairs = RIOV_VHOST_MAX_QUEUE_PAIRS + 1;
	CHECK_EQ(riov_vhost_dev_create(&p, &d), -EINVAL);
	p.max_queue_pairs = 1;
	p.path = "/tmp/riov-vhost-ut-this-path-is-far-too-long-for-a-unix-socket-address-"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock";
	CHECK_EQ(riov_vhost_dev_create(&p, &d), -ENAMETOOLONG);
	CHECK(d == NULL);
	riov_vhost_dev_destroy(NULL);
	riov_vtd_destroy(f.vtd);
	event_base_free(f.base);
}

/* ---- the table: VU_MESSAGES ------------------------------------------------------------------ */

RIOV_TEST(table_from_the_list)
{
	unsigned rows = 0;
	for (uint32_t r = 0; r < VU_REQUEST_MAX; r++) {
		const struct vu_handler *h = &vu_handlers[r];
		if (!h->fn)
			continue;
		rows++;
		CHECK(h->name != NULL && strcmp(vu_request_name(r), h->name) == 0);
		CHECK(h->size_min <= h->size_max && h->size_max <= VU_MAX_PAYLOAD);
		CHECK(h->fds_min <= h->fds_max && h->fds_max <= VU_MAX_FDS);
		/* a row naming the vring it stops has a payload that starts with a checked index */
		if (h->stops & VU_STOP_NAMED)
			CHECK(h->size_min >= sizeof(uint32_t) && h->check != NULL);
	}
	CHECK_EQ(rows, 32);
	CHECK(strcmp(vu_request_name(VU_SET_BACKEND_REQ_FD), "SET_BACKEND_REQ_FD") == 0);
	CHECK(strcmp(vu_request_name(VU_GET_STATUS), "GET_STATUS") == 0);
	CHECK(strcmp(vu_request_name(23), "unknown") == 0);
	CHECK(strcmp(vu_request_name(VU_REQUEST_MAX), "unknown") == 0);
	CHECK(strcmp(vu_request_name(0xffffffffu), "unknown") == 0);
	CHECK_EQ(vu_handlers[VU_SET_MEM_TABLE].fds_max, VU_MEM_BASELINE_REGIONS);
	CHECK_EQ(vu_handlers[VU_GET_VRING_BASE].stops, VU_STOP_NAMED);
	CHECK_EQ(vu_handlers[VU_SET_FEATURES].stops, VU_STOP_ANY | VU_STOP_HOLD);
}

/* One request as stops_column_holds sends it to a device whose vrings 0 and 1 run. */
struct canon {
	uint8_t pl[128];
	uint32_t size;
	int fd;                 /* sent with it, or -1; closed by the test afterwards */
	int fd2;                /* kept by the test (the other end of a socketpair), or -1 */
	bool viommu;            /* needs a vIOMMU session (VIRTIO_F_IOMMU_PLATFORM) */
	uint64_t gpa2;          /* where the second guest memory goes */
};

static void canon_put(struct canon *c, const void *pl, uint32_t size)
{
	memcpy(c->pl, pl, size);
	c->size = size;
}

static int memfd_of(uint64_t size)
{
	int fd = memfd_create("ut-canon", MFD_CLOEXEC);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	return fd;
}

static void canon_init(uint32_t r, struct canon *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = c->fd2 = -1;
	c->viommu = r == VU_IOTLB_MSG;
	/* SET_MEM_TABLE: the same range as the table's, another file (a replacement) */
	c->gpa2 = r == VU_SET_MEM_TABLE ? 0 : 0x100000000ull;
}

/* Fill c's payload and fds for request r, with g (gpa 0, the table) and g2 (c->gpa2). Returns false
 * for a request the test does not know: a new row of VU_MESSAGES needs a case here. */
static bool canon_fill(uint32_t r, struct canon *c, const struct guest *g, const struct guest *g2)
{
	uint64_t m = (uint64_t)(uintptr_t)g->map;
	struct vu_vring_state st = { 0, 0 };
	struct vu_mem_reg_single reg = { 0, { g->gpa, GUEST_SIZE, m, 0 } };
	struct {
		struct vu_config_hdr h;
		uint8_t d[8];
	} cfg = { { 0, 8, 0 }, { 0 } };
	int sp[2];

	switch (r) {
	case VU_GET_FEATURES: case VU_SET_OWNER: case VU_RESET_OWNER: case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_QUEUE_NUM: case VU_RESET_DEVICE: case VU_GET_MAX_MEM_SLOTS: case VU_GET_STATUS:
		break;             /* no payload */
	case VU_SET_FEATURES:      /* dirty logging on: a pause */
		canon_put(c, &(uint64_t){ FEAT_BASE | (1ull << RIOV_VHOST_F_LOG_ALL) }, 8);
		break;
	case VU_SET_PROTOCOL_FEATURES:
		canon_put(c, &(uint64_t){ PROTO_WANT }, 8);
		break;
	case VU_SET_MEM_TABLE: {
		struct {
			struct vu_mem_table_hdr h;
			struct riov_guest_region_desc r;
		} mt = { { 1, 0 }, { g2->gpa, GUEST_SIZE, (uint64_t)(uintptr_t)g2->map, 0 } };
		canon_put(c, &mt, sizeof(mt));
		c->fd = dup(g2->memfd);
		break;
	}
	case VU_SET_LOG_BASE:
		canon_put(c, &(struct vu_log){ 0x2000, 0 }, sizeof(struct vu_log));
		c->fd = memfd_of(0x2000);
		break;
	case VU_SET_VRING_NUM:     /* vring 2 does not run: a running one refuses a new size */
	case VU_SET_VRING_BASE:
		st = (struct vu_vring_state){ 2, r == VU_SET_VRING_NUM ? 256 : 0 };
		canon_put(c, &st, sizeof(st));
		break;
	case VU_SET_VRING_ADDR: {  /* vring 0's addresses again (QEMU switching used-ring logging) */
		struct vu_vring_addr a = { 0, 0, m + 0x10000, m + 0x12000, m + 0x11000, 0 };
		canon_put(c, &a, sizeof(a));
		break;
	}
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:  /* vring 0: stop it */
		canon_put(c, &st, sizeof(st));
		break;
	case VU_SEND_RARP:
		canon_put(c, &(uint64_t){ 0x0000112233445566ull }, 8);
		break;
	case VU_NET_SET_MTU:
		canon_put(c, &(uint64_t){ 1500 }, 8);
		break;
	case VU_SET_STATUS:
		canon_put(c, &(uint64_t){ 0xf }, 8);
		break;
	case VU_GET_CONFIG:
	case VU_SET_CONFIG:
		canon_put(c, &cfg, sizeof(cfg));
		break;
	case VU_GET_INFLIGHT_FD:
		canon_put(c, &(struct vu_inflight){ 0, 0, 2, 256 }, sizeof(struct vu_inflight));
		break;
	case VU_SET_INFLIGHT_FD:
		canon_put(c, &(struct vu_inflight){ 8192, 0, 2, 256 }, sizeof(struct vu_inflight));
		c->fd = memfd_of(8192);
		break;
	case VU_ADD_MEM_REG:       /* a DIMM more: changes no translation */
		reg.r = (struct riov_guest_region_desc){ g2->gpa, GUEST_SIZE, (uint64_t)(uintptr_t)g2->map, 0 };
		canon_put(c, &reg, sizeof(reg));
		c->fd = dup(g2->memfd);
		break;
	case VU_REM_MEM_REG:       /* the region the rings live in */
		canon_put(c, &reg, sizeof(reg));
		break;
	case VU_SET_LOG_FD:
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:     /* vring 0, a new eventfd */
		if (r != VU_SET_LOG_FD)
			canon_put(c, &(uint64_t){ 0 }, 8);
		c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		break;
	case VU_SET_BACKEND_REQ_FD:
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) == 0);
		c->fd = sp[1];
		c->fd2 = sp[0];
		break;
	case VU_IOTLB_MSG: {       /* another page of guest memory under another IOVA */
		struct vu_iotlb t = { 0x40000000ull, 0x1000, m + 0x100000, 3, VU_IOTLB_UPDATE };
		canon_put(c, &t, sizeof(t));
		break;
	}
	default:
		return false;
	}
	return true;
}

#define CANON_IOVA 0xfee00000ull   /* where a vIOMMU session's rings are (64 KiB) */

/* Negotiate, map g, set up vrings 0 and 1 and start them; with a vIOMMU their rings are IOVAs
 * that one IOTLB update maps. */
static void running_session(struct fx *f, int fd, const struct guest *g, bool viommu, int callfd[2],
			    int kickfd[2])
{
	negotiate(f, fd, FEAT_BASE | (viommu ? 1ull << RIOV_VIRTIO_F_IOMMU_PLATFORM : 0));
	CHECK_EQ(send_mem_table(f, fd, g), 0);
	for (uint32_t q = 0; q < 2; q++) {
		setup_vring(f, fd, g, q, viommu ? CANON_IOVA - 0x10000 : ~0ull, &callfd[q], &kickfd[q]);
		CHECK_EQ(fe_call_state(f, fd, VU_SET_VRING_ENABLE, q, 1), 0);
	}
	if (viommu) {
		struct vu_iotlb t = { CANON_IOVA, 0x10000, (uint64_t)(uintptr_t)g->map + 0x10000, 3,
				      VU_IOTLB_UPDATE };
		CHECK_EQ(fe_call(f, fd, VU_IOTLB_MSG, &t, sizeof(t), NULL, 0), 0);
	}
	CHECK_EQ(f->rec.starts, 2);
}

/* Request r to running vrings: what stopped and held is what its row's stops column says. */
static void stops_case(uint32_t r)
{
	const struct vu_handler *h = &vu_handlers[r];
	struct fx f = { 0 };
	struct guest g, g2;
	struct canon c;
	int callfd[2], kickfd[2], rfd = -1;
	uint8_t reply[512];

	int failures = riov_test_failures;

	canon_init(r, &c);
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	guest_init(&g2, c.gpa2);
	int fd = fe_connect(&f);
	running_session(&f, fd, &g, c.viommu, callfd, kickfd);
	if (r == VU_SET_LOG_BASE)   /* a new log pauses only vrings that log */
		CHECK_EQ(fe_call_u64(&f, fd, VU_SET_FEATURES, FEAT_BASE | (1ull << RIOV_VHOST_F_LOG_ALL), NULL,
				     0), 0);
	if (!canon_fill(r, &c, &g, &g2)) {
		fprintf(stderr, "  no canonical %s (%u) in canon_fill: add one\n", h->name, r);
		CHECK(!"every row of VU_MESSAGES has a case");
	}
	int stops = f.rec.stops, holds = f.rec.holds, held = f.rec.stops_held;

	CHECK_EQ(fe_send(fd, r, VU_VERSION | VU_FLAG_NEED_REPLY, c.pl, c.size, &c.fd, c.fd >= 0), 0);
	CHECK(fe_recv(&f, fd, r, reply, sizeof(reply), &rfd) >= 0);
	struct riov_vhost_dev_stats st = fx_stats(&f);
	CHECK(st.connected);
	CHECK_EQ(st.bad_messages, 0);
	CHECK_EQ(st.refused, 0);
	CHECK_EQ(f.dev->rule_breaks, 0);
	CHECK(!f.rec.holding);
	if (h->stops & VU_STOP_ANY)
		CHECK(f.rec.stops > stops);
	else if (h->stops & VU_STOP_NAMED)
		CHECK(f.rec.stops == stops + 1 && f.rec.stop_qid == 0);
	else
		CHECK_EQ(f.rec.stops, stops);
	CHECK_EQ(f.rec.holds, holds + !!(h->stops & VU_STOP_HOLD));
	if (h->stops & VU_STOP_HOLD)
		CHECK_EQ(f.rec.stops_held - held, f.rec.stops - stops);
	if (riov_test_failures != failures)
		fprintf(stderr, "  (the failures above: %s)\n", h->name);
	int extra[3] = { rfd, c.fd, c.fd2 };
	for (int i = 0; i < 3; i++)
		if (extra[i] >= 0)
			close(extra[i]);
	close(fd);
	for (int q = 0; q < 2; q++) {
		close(callfd[q]);
		close(kickfd[q]);
	}
	guest_fini(&g);
	guest_fini(&g2);
	fx_fini(&f);
}

/* VU_MESSAGES' stops column, checked against the handlers: every request the device serves goes
 * to a device whose vrings 0 and 1 run, in a form it accepts; a row that says NONE stops and
 * holds nothing, NAMED stops the vring it names (0), ANY stops at least one, PAUSE_* also holds
 * once around its stops. */
RIOV_TEST(stops_column_holds)
{
	int before = count_fds();
	for (uint32_t r = 0; r < VU_REQUEST_MAX; r++)
		if (vu_handlers[r].fn)
			stops_case(r);
	CHECK_EQ(count_fds(), before);
	CHECK_EQ(count_memfd_maps(), 0);
}

/* A stop or hold beyond the row is counted (and the stop still happens). */
RIOV_TEST(stop_beyond_its_row_is_counted)
{
	struct fx f = { 0 };
	struct guest g;
	int callfd[2], kickfd[2];
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init(&g, 0);
	int fd = fe_connect(&f);
	running_session(&f, fd, &g, false, callfd, kickfd);
	struct riov_vhost_dev *d = f.dev;
	d->rule_msg = "SET_VRING_NUM";   /* as if its handler were running */
	d->rule = vu_handlers[VU_SET_VRING_NUM].stops;
	d->may_stop = 0;
	vu_vring_stop(d, 0);
	CHECK_EQ(d->rule_breaks, 1);
	CHECK_EQ(f.rec.stops, 1);
	vu_hold(d, true);
	CHECK_EQ(d->rule_breaks, 2);
	vu_hold(d, false);
	d->may_stop = 1u << 1;           /* a NAMED row naming vring 1 */
	vu_vring_stop(d, 1);
	CHECK_EQ(d->rule_breaks, 2);
	CHECK_EQ(f.rec.stops, 2);
	d->rule_msg = NULL;
	d->rule = VU_STOP_ANY;
	d->may_stop = ~0u;
	d->rule_breaks = 0;
	close(fd);
	for (int q = 0; q < 2; q++) {
		close(callfd[q]);
		close(kickfd[q]);
	}
	guest_fini(&g);
	fx_fini(&f);
}

/* ---- guest memory that shrinks under riovd (seals, the SIGBUS guard) ----------------------- */

/* A guest whose memory file is fd (GUEST_SIZE long), mapped by the "front-end". */
static void guest_init_fd(struct guest *g, int fd, uint64_t gpa)
{
	g->memfd = fd;
	CHECK(ftruncate(fd, GUEST_SIZE) == 0);
	g->map = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(g->map != MAP_FAILED);
	g->gpa = gpa;
	memset(g->map + 0x10000, 0xd1, 0x1000);
	memset(g->map + 0x11000, 0xa1, 0x1000);
	memset(g->map + 0x12000, 0x0e, 0x1000);
}

/* mappings of guest memory files of any kind (memfd, /dev/shm) still in the address space */
static int count_guest_maps(void)
{
	char line[512];
	int n = 0;
	FILE *m = fopen("/proc/self/maps", "r");
	while (fgets(line, sizeof(line), m))
		if (strstr(line, "/memfd:ut-") || strstr(line, "/dev/shm/"))
			n++;
	fclose(m);
	return n;
}

RIOV_TEST(mem_memfd_sealed_against_shrink)
{
	int fds_before = count_fds();
	struct fx f = { 0 };
	struct guest g, q, d;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	/* a memfd that can be sealed but is not: riovd seals it, then checks its length */
	guest_init_fd(&g, memfd_create("ut-sealable", MFD_CLOEXEC | MFD_ALLOW_SEALING), 0);
	CHECK_EQ(fcntl(g.memfd, F_GET_SEALS) & F_SEAL_SHRINK, 0);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	CHECK(fcntl(g.memfd, F_GET_SEALS) & F_SEAL_SHRINK);
	CHECK(ftruncate(g.memfd, 0) < 0 && errno == EPERM);
	CHECK(ftruncate(g.memfd, 2 * GUEST_SIZE) == 0);   /* growing stays allowed */
	/* QEMU's memory-backend-memfd: F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL, taken as it is */
	guest_init_fd(&q, memfd_create("ut-qemu", MFD_CLOEXEC | MFD_ALLOW_SEALING), 0x100000000ull);
	CHECK_EQ(fcntl(q.memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL), 0);
	struct vu_mem_reg_single rq = { 0, { q.gpa, GUEST_SIZE, (uint64_t)(uintptr_t)q.map, 0 } };
	CHECK_EQ(fe_call(&f, fd, VU_ADD_MEM_REG, &rq, sizeof(rq), &q.memfd, 1), 0);
	/* DPDK's virtio-user: memfd_create without MFD_ALLOW_SEALING (F_SEAL_SEAL from birth): it
	 * cannot be sealed, so it is taken unsealed and guarded by the SIGBUS handler */
	guest_init_fd(&d, memfd_create("ut-dpdk", MFD_CLOEXEC), 0x200000000ull);
	CHECK_EQ(fcntl(d.memfd, F_GET_SEALS), F_SEAL_SEAL);
	struct vu_mem_reg_single rd = { 0, { d.gpa, GUEST_SIZE, (uint64_t)(uintptr_t)d.map, 0 } };
	CHECK_EQ(fe_call(&f, fd, VU_ADD_MEM_REG, &rd, sizeof(rd), &d.memfd, 1), 0);
	CHECK_EQ(fx_stats(&f).mem_regions, 3);
	CHECK(f.dev->mem.r[0].sealed && f.dev->mem.r[1].sealed && !f.dev->mem.r[2].sealed);
	CHECK(f.dev->mem.r[0].fault_h == 0 && f.dev->mem.r[1].fault_h == 0);
	/* a memfd already shorter than its region is refused as before, the session kept */
	struct guest s;
	guest_init_fd(&s, memfd_create("ut-short", MFD_CLOEXEC | MFD_ALLOW_SEALING), 3ull << 32);
	CHECK(ftruncate(s.memfd, GUEST_SIZE / 2) == 0);
	struct vu_mem_reg_single rs = { 0, { s.gpa, GUEST_SIZE, (uint64_t)(uintptr_t)s.map, 0 } };
	uint64_t refused = fx_stats(&f).refused;
	CHECK(fe_call(&f, fd, VU_ADD_MEM_REG, &rs, sizeof(rs), &s.memfd, 1) != 0);
	CHECK_EQ(fx_stats(&f).refused, refused + 1);
	CHECK(fx_stats(&f).connected);
	CHECK_EQ(fx_stats(&f).mem_regions, 3);
	close(fd);
	for (int i = 0; i < 1000 && fx_stats(&f).connected; i++) {
		pump(&f, 1);
		usleep(100);
	}
	CHECK_EQ(fx_stats(&f).mem_regions, 0);
	guest_fini(&g);
	guest_fini(&q);
	guest_fini(&d);
	guest_fini(&s);
	fx_fini(&f);
	CHECK_EQ(count_fds(), fds_before);
	CHECK_EQ(count_guest_maps(), 0);
}

struct reader {
	struct riov_vtd *vtd;
	uint64_t gpa;
	int bytes_nonzero;
	int rc;
};

/* A "worker": translate the guest's rings through the VT-d domain and read them. */
static void *reader_run(void *arg)
{
	struct reader *r = arg;
	struct riov_vtd_cursor c;
	void *h;
	uint64_t mapped;
	riov_vtd_cursor_init(&c, r->vtd, SID);
	r->bytes_nonzero = 0;
	r->rc = riov_vtd_translate(&c, r->gpa + 0x10000, 0x3000, RIOV_VTD_READ, &h, &mapped);
	if (r->rc == 0)
		for (unsigned i = 0; i < 0x3000; i++)
			r->bytes_nonzero += ((volatile uint8_t *)h)[i] != 0;
	return NULL;
}

/* A guest file that cannot be sealed shrinks under riovd while a vring runs: the next read (a
 * worker's, on another thread, and then the control thread's) survives, sees zeros, the device is
 * broken and counted, its session dropped, and nothing leaks. Without the guard the process dies
 * of SIGBUS. */
static void shrink_case(int memfd, bool add_reg, int fds_before)
{
	uint64_t total_before = riov_guest_fault_total();
	struct fx f = { 0 };
	struct guest g;
	int callfd, kickfd;
	CHECK_EQ(fx_init(&f, RIOV_VHOST_SERVER), 0);
	guest_init_fd(&g, memfd, 0);
	int fd = fe_connect(&f);
	negotiate(&f, fd, FEAT_BASE);
	if (add_reg) {
		struct vu_mem_reg_single r = { 0, { g.gpa, GUEST_SIZE, (uintptr_t)g.map, 0 } };
		CHECK_EQ(fe_call(&f, fd, VU_ADD_MEM_REG, &r, sizeof(r), &g.memfd, 1), 0);
	} else {
		CHECK_EQ(send_mem_table(&f, fd, &g), 0);
	}
	CHECK(!f.dev->mem.r[0].sealed);
	CHECK(f.dev->mem.r[0].fault_h > 0);
	setup_vring(&f, fd, &g, 0, ~0ull, &callfd, &kickfd);
	CHECK_EQ(fe_call_state(&f, fd, VU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK_EQ(f.rec.starts, 1);
	struct reader rd = { f.vtd, g.gpa, 0, -1 };
	reader_run(&rd);
	CHECK_EQ(rd.rc, 0);
	CHECK_EQ(rd.bytes_nonzero, 0x3000);   /* the rings as the guest wrote them */

	/* the front-end shrinks its file (without touching its own mapping afterwards) */
	CHECK(ftruncate(g.memfd, 0) == 0);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, reader_run, &rd), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(rd.rc, 0);
	CHECK_EQ(rd.bytes_nonzero, 0);        /* survived, and reads zeros */
	CHECK_EQ(riov_guest_fault_total(), total_before + 1);
	/* the control thread reads the same memory: zeros, no second fault */
	CHECK_EQ(f.rec.last.desc != NULL, 1);
	CHECK_EQ(((volatile uint8_t *)f.rec.last.desc)[0], 0);
	CHECK_EQ(riov_guest_fault_total(), total_before + 1);

	/* the control loop breaks the device: counted, vrings stopped, memory unmapped, hung up */
	CHECK(fe_wait_closed(&f, fd));
	struct riov_vhost_dev_stats st = fx_stats(&f);
	CHECK_EQ(st.memory_faults, 1);
	CHECK(!st.connected);
	CHECK_EQ(st.mem_regions, 0);
	CHECK_EQ(f.rec.stops, 1);
	CHECK(f.dev->fault_ev == NULL);
	close(fd);
	close(callfd);
	close(kickfd);
	guest_fini(&g);
	/* the front-end may come back with a new table */
	good_session(&f);
	CHECK_EQ(fx_stats(&f).memory_faults, 1);
	fx_fini(&f);
	CHECK_EQ(count_fds(), fds_before);
	CHECK_EQ(count_guest_maps(), 0);
}

RIOV_TEST(mem_unsealable_memfd_shrinks_under_riovd)
{
	CHECK_EQ(riov_guest_fault_install(), 0);
	int fds_before = count_fds();
	shrink_case(memfd_create("ut-unsealable", MFD_CLOEXEC), false, fds_before);
}

RIOV_TEST(mem_tmpfs_file_shrinks_under_riovd)
{
	CHECK_EQ(riov_guest_fault_install(), 0);
	int fds_before = count_fds();
	int fd = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	/* a tmpfs file takes no seals (EINVAL, or F_SEAL_SEAL on kernels that answer for shmem) */
	int seals = fcntl(fd, F_GET_SEALS);
	CHECK((seals < 0 && errno == EINVAL) || seals == F_SEAL_SEAL);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0);
	shrink_case(fd, true, fds_before);
}

/* A SIGBUS outside guest memory is riovd's own bug: it still kills the process. */
/* Built with AddressSanitizer (gcc defines __SANITIZE_ADDRESS__, clang answers __has_feature). */
#if defined(__SANITIZE_ADDRESS__)
#define UT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UT_ASAN 1
#endif
#endif
#ifndef UT_ASAN
#define UT_ASAN 0
#endif

RIOV_TEST(sigbus_outside_guest_memory_still_kills)
{
	CHECK_EQ(riov_guest_fault_install(), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = memfd_create("ut-notguest", MFD_CLOEXEC);
		if (ftruncate(fd, 4096) != 0)
			_exit(2);
		volatile uint8_t *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (ftruncate(fd, 0) != 0)
			_exit(2);
		uint8_t v = p[0];
		_exit(v == 0 ? 0 : 1);
	}
	int status = 0;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status));
#if UT_ASAN
	/* under ASan the handler before riov's is ASan's: it reports the SIGBUS and aborts */
	CHECK(WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGABRT);
#else
	CHECK_EQ(WTERMSIG(status), SIGBUS);
#endif
}

RIOV_TEST(fuzz_entry_smoke)
{
	int before = count_fds();
	uint8_t buf[256];
	/* GET_FEATURES, then garbage */
	memset(buf, 0, sizeof(buf));
	uint32_t h[3] = { VU_GET_FEATURES, VU_VERSION, 0 };
	memcpy(buf + 1, h, sizeof(h));
	for (size_t i = 13; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37);
	riov_vhost_fuzz_one(buf, sizeof(buf));
	riov_vhost_fuzz_one(buf, 7);
	CHECK_EQ(count_fds(), before);

	/* every seed and kept crasher of tests/fuzz/corpus/vhost_msg, without leaking */
	const char *dir = getenv("RIOV_VHOST_CORPUS");
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;
	int files = 0;
	while (d && (e = readdir(d)) != NULL) {
		char path[4096];
		static uint8_t data[1 << 16];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *fp = fopen(path, "rb");
		if (!fp)
			continue;
		size_t n = fread(data, 1, sizeof(data), fp);
		fclose(fp);
		riov_vhost_fuzz_one(data, n);
		files++;
	}
	if (d)
		closedir(d);
	CHECK(!dir || files > 0);
	CHECK_EQ(count_fds(), before);
	CHECK_EQ(count_memfd_maps(), 0);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(server_good_session), RIOV_TEST_ENTRY(server_refuses_second_frontend),
	       RIOV_TEST_ENTRY(packed_offered_only_when_the_owner_serves_it),
	       RIOV_TEST_ENTRY(packed_inflight_region_sized_for_packed),
	       RIOV_TEST_ENTRY(packed_withheld_by_features_off),
	       RIOV_TEST_ENTRY(packed_rings_start_and_base_carries_wrap_counters),
	       RIOV_TEST_ENTRY(packed_bad_base_and_area_alignment),
	       RIOV_TEST_ENTRY(packed_ring_logs_at_the_descriptor_ring),
	       RIOV_TEST_ENTRY(ring_record_confirmed_only_by_the_ring),
	       RIOV_TEST_ENTRY(packed_ring_record_resumes_after_a_restart),
	       RIOV_TEST_ENTRY(server_path_busy_and_stale),
	       RIOV_TEST_ENTRY(repeated_mem_table_restarts_and_no_leak),
	       RIOV_TEST_ENTRY(repeated_get_inflight_fd_no_leak), RIOV_TEST_ENTRY(add_rem_mem_reg),
	       RIOV_TEST_ENTRY(qemu_message_order),
	       RIOV_TEST_ENTRY(call_fd_replaced_on_running_vring), RIOV_TEST_ENTRY(legacy_enable_on_kick),
	       RIOV_TEST_ENTRY(iommu_platform_rings_are_iovas),
	       RIOV_TEST_ENTRY(guest_memory_superpage_congruent), RIOV_TEST_ENTRY(log_base_and_config),
	       RIOV_TEST_ENTRY(base_from_used_ring_when_frontend_lost_track),
	       RIOV_TEST_ENTRY(destroy_while_running), RIOV_TEST_ENTRY(client_mode_reconnects),
	       RIOV_TEST_ENTRY(create_rejects_bad_params),
	       RIOV_TEST_ENTRY(bad_too_many_fds), RIOV_TEST_ENTRY(bad_nine_fds_ctrunc),
	       RIOV_TEST_ENTRY(bad_too_few_fds_kick), RIOV_TEST_ENTRY(bad_too_few_fds_mem_table),
	       RIOV_TEST_ENTRY(bad_fd_on_fdless_message), RIOV_TEST_ENTRY(bad_fd_with_nofd_flag),
	       RIOV_TEST_ENTRY(bad_vring_index_high_bits), RIOV_TEST_ENTRY(bad_vring_addr_index_high_bits),
	       RIOV_TEST_ENTRY(bad_vring_index_out_of_range), RIOV_TEST_ENTRY(bad_kick_u64_high_bits),
	       RIOV_TEST_ENTRY(bad_vring_num_zero), RIOV_TEST_ENTRY(bad_vring_num_not_pow2),
	       RIOV_TEST_ENTRY(bad_vring_num_too_big), 
	       RIOV_TEST_ENTRY(bad_mem_too_many_in_table),
	       RIOV_TEST_ENTRY(bad_size_set_features), RIOV_TEST_ENTRY(bad_size_vring_addr),
	       RIOV_TEST_ENTRY(bad_size_get_config), RIOV_TEST_ENTRY(bad_size_too_large),
	       RIOV_TEST_ENTRY(bad_truncated_header), RIOV_TEST_ENTRY(bad_unknown_request),
	       RIOV_TEST_ENTRY(bad_unknown_request_with_fd), RIOV_TEST_ENTRY(bad_version),
	       RIOV_TEST_ENTRY(bad_mem_before_features), RIOV_TEST_ENTRY(bad_features_not_offered),
	       RIOV_TEST_ENTRY(bad_vring_addr_unaligned), RIOV_TEST_ENTRY(bad_inflight_too_many_queues),
	       RIOV_TEST_ENTRY(refused_mem_zero_regions), RIOV_TEST_ENTRY(refused_mem_overlap_gpa),
	       RIOV_TEST_ENTRY(refused_mem_overlap_uaddr), RIOV_TEST_ENTRY(refused_mem_offset_overflow),
	       RIOV_TEST_ENTRY(refused_mem_beyond_file), RIOV_TEST_ENTRY(refused_mem_too_many_added),
	       RIOV_TEST_ENTRY(refused_mem_add_partial_overlap),
	       RIOV_TEST_ENTRY(refused_mem_add_same_desc_other_file), RIOV_TEST_ENTRY(refused_mem_rem_missing),
	       RIOV_TEST_ENTRY(mem_reg_added_once_per_queue_pair),
	       RIOV_TEST_ENTRY(mem_table_grows_and_shrinks_without_stopping),
	       RIOV_TEST_ENTRY(mem_reg_remove_waits_for_translating_worker),
	       RIOV_TEST_ENTRY(table_from_the_list), RIOV_TEST_ENTRY(stops_column_holds),
	       RIOV_TEST_ENTRY(stop_beyond_its_row_is_counted),
	       RIOV_TEST_ENTRY(mem_memfd_sealed_against_shrink),
	       RIOV_TEST_ENTRY(mem_unsealable_memfd_shrinks_under_riovd),
	       RIOV_TEST_ENTRY(mem_tmpfs_file_shrinks_under_riovd),
	       RIOV_TEST_ENTRY(sigbus_outside_guest_memory_still_kills),
	       RIOV_TEST_ENTRY(fuzz_entry_smoke))
