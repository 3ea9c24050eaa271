/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's vhost-user device server (virtio-net back-end): sockets, message I/O, table-driven
 * dispatch, and the per-request handlers.
 *
 * Security model: the front-end at the other end of the socket (QEMU, DPDK virtio-user, anything
 * that can connect) is not trusted. No field of a received message is assumed sensible: the header
 * is checked (version, request known, payload size bounded by VU_MAX_PAYLOAD before anything is
 * read into the buffer), then the dispatch table checks the payload size and the number of file
 * descriptors for that request, and whether it may come before SET_FEATURES, all before the handler
 * runs. Indices are compared as the full u32/u64 the wire carries, never narrowed first. At most
 * VU_MAX_FDS descriptors are accepted per message (MSG_CTRUNC or more is an error) and every
 * received descriptor is either taken over by the handler or closed by the dispatcher, on every
 * path. Guest memory descriptions are validated by guest_mem.c; ring addresses are translated
 * through the device's VT-d domain and every ring must lie in one host-contiguous mapping. A
 * message that breaks a rule is counted, logged rate-limited, and closes that connection only:
 * vrings are stopped through ops->vring_stop (which waits for workers), then memory is unmapped.
 * A well-formed memory request riovd will not carry out (a region that overlaps another, does not
 * fit the file or the 64 slots, or is not there to remove) is refused: answered with an error
 * (REPLY_ACK), counted and logged with both regions named, and the session goes on unchanged.
 * Reads are non-blocking and resumable, so a front-end that stalls mid-message cannot block the
 * control thread; replies are sent with MSG_DONTWAIT and a front-end that does not read them is
 * disconnected.
 *
 * Thread rules: control thread only (the caller's libevent base). No threads are created.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "iommu/vtd.h"
#include "vmm/vhost.h"
#include "vmm/vhost_internal.h"

#define COMP "vhost"
#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 2000u
#define LOG_MAX_SIZE (1ull << 30)        /* dirty log for up to 32 TiB of guest memory */
#define INFLIGHT_ALIGN 64u
#define MSGS_PER_WAKEUP 256

/* handler results besides 0 and -errno */
#define VU_REPLIED 1

struct vu_vring {
	uint32_t num;
	bool num_set;
	bool addr_set;
	bool kick_set;          /* a kick fd, or the no-fd flag, arrived */
	bool enabled;
	bool running;           /* ops->vring_start called, vring_stop not yet */
	bool irte_installed;
	uint32_t addr_flags;
	uint64_t desc, avail, used, log;
	uint16_t last_avail;
	uint16_t last_used;
	int kickfd, callfd, errfd;
	/* while running: the rings' host addresses (desc, avail, used), so that a region can tell
	 * whether a running ring lives in it (each ring lies within one mapping) */
	const uint8_t *ring_h[3];
};

struct vu_rx {
	union {
		uint8_t b[VU_HDR_SIZE];
		struct {
			uint32_t request;
			uint32_t flags;
			uint32_t size;
		} h;
	} hdr;
	size_t hdr_have;
	size_t pay_have;
	uint64_t payload[VU_MAX_PAYLOAD / 8];
	int fds[VU_MAX_FDS];
	unsigned nfds;
	bool fd_error;          /* more than VU_MAX_FDS, or MSG_CTRUNC */
};

struct vu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	const uint8_t *payload;
	int *fds;               /* a handler takes fds[i] over by setting it to -1 */
	unsigned nfds;
	/* reply prepared by a handler returning VU_REPLIED */
	uint8_t reply[VU_CONFIG_HDR_SIZE + VU_CONFIG_MAX];
	uint32_t reply_size;
	int reply_fd;           /* borrowed, not closed by the dispatcher */
};

struct riov_vhost_dev {
	struct riov_vhost_dev_params p;
	char name[64];
	char *path;
	uint64_t offered;
	uint64_t offered_proto;

	/* server */
	int listen_fd;
	struct event *listen_ev;
	bool unlink_path;
	/* client */
	struct event *timer_ev;
	unsigned backoff_ms;

	/* the one connection */
	int conn_fd;
	struct event *conn_ev;
	struct vu_rx rx;

	/* session state (reset on disconnect) */
	uint64_t features;
	bool features_set;
	uint64_t proto;
	bool owner;
	struct riov_guest_mem mem;
	bool s2_ready, s2_created, s1_ready, s1_created;
	int ctx_mode;           /* 0 none, 1 multi-level, 2 nested */
	struct vu_vring vr[RIOV_VHOST_MAX_VRINGS];
	int slave_fd;
	int log_fd;
	void *log_map;
	size_t log_map_len;
	uint8_t *log_base;
	uint64_t log_size;
	int inflight_fd;
	void *inflight_map;
	size_t inflight_len;
	uint16_t mtu;
	uint8_t status;

	/* IOTLB miss requests from the workers (riov_vhost_vring_info.miss_slot) */
	int miss_efd;
	struct event *miss_ev;
	_Atomic uint64_t miss_req[RIOV_VHOST_MAX_VRINGS];

	/* counters */
	uint64_t messages, bad_messages, refused, connects, disconnects;
};

static unsigned nvrings(const struct riov_vhost_dev *dev)
{
	return 2u * dev->p.max_queue_pairs;
}

static bool has_feature(const struct riov_vhost_dev *dev, unsigned bit)
{
	return dev->features & (1ull << bit);
}

static bool has_proto(const struct riov_vhost_dev *dev, unsigned bit)
{
	return dev->proto & (1ull << bit);
}

static bool iommu_on(const struct riov_vhost_dev *dev)
{
	return has_feature(dev, RIOV_VIRTIO_F_IOMMU_PLATFORM);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static int reply_u64(struct vu_msg *m, uint64_t v)
{
	memcpy(m->reply, &v, sizeof(v));
	m->reply_size = sizeof(v);
	return VU_REPLIED;
}

/* ------------------------------------------------------------------------------------------ */
/* VT-d domain and context                                                                    */

static int domain_ensure(struct riov_vhost_dev *dev, uint16_t did, bool *ready, bool *created)
{
	static const unsigned levels[] = { 4, 3, 5 };
	int rc = -EINVAL;

	if (*ready)
		return 0;
	for (unsigned i = 0; i < 3 && rc == -EINVAL; i++)
		rc = riov_vtd_domain_create(dev->p.vtd, did, levels[i]);
	if (rc == 0)
		*created = true;
	else if (rc != -EEXIST)
		return rc;
	*ready = true;
	return 0;
}

/* Make sure the second-stage domain (and the first-stage one with a vIOMMU) exist and the device's
 * context entry points at them in the mode the negotiated features ask for. */
static int domains_attach(struct riov_vhost_dev *dev)
{
	int rc = domain_ensure(dev, dev->p.did, &dev->s2_ready, &dev->s2_created);
	if (rc)
		return rc;
	int want = 1;
	if (iommu_on(dev)) {
		rc = domain_ensure(dev, dev->p.s1_did, &dev->s1_ready, &dev->s1_created);
		if (rc)
			return rc;
		want = 2;
	}
	if (dev->ctx_mode == want)
		return 0;
	if (want == 2)
		rc = riov_vtd_context_set_nested(dev->p.vtd, dev->p.sid, dev->p.s1_did, dev->p.did, false);
	else
		rc = riov_vtd_context_set(dev->p.vtd, dev->p.sid, dev->p.did, RIOV_VTD_TT_MULTI_LEVEL, false);
	if (rc)
		return rc;
	dev->ctx_mode = want;
	riov_vtd_inv_context_device(dev->p.vtd, dev->p.sid);
	riov_vtd_inv_iotlb_global(dev->p.vtd);
	return 0;
}

static void iotlb_flush(struct riov_vhost_dev *dev)
{
	riov_vtd_inv_iotlb_domain(dev->p.vtd, dev->p.did);
	if (dev->s1_ready)
		riov_vtd_inv_iotlb_domain(dev->p.vtd, dev->p.s1_did);
}

static void domains_detach(struct riov_vhost_dev *dev)
{
	if (dev->ctx_mode) {
		riov_vtd_context_clear(dev->p.vtd, dev->p.sid);
		riov_vtd_inv_context_device(dev->p.vtd, dev->p.sid);
		dev->ctx_mode = 0;
	}
	iotlb_flush(dev);
	if (dev->s1_created)
		riov_vtd_domain_destroy(dev->p.vtd, dev->p.s1_did);
	if (dev->s2_created)
		riov_vtd_domain_destroy(dev->p.vtd, dev->p.did);
	dev->s1_ready = dev->s1_created = false;
	dev->s2_ready = dev->s2_created = false;
	riov_vtd_inv_iotlb_global(dev->p.vtd);
}

/* ------------------------------------------------------------------------------------------ */
/* vrings                                                                                     */

/* Translate a ring of len bytes at iova for access; the whole ring must be host-contiguous. */
static int ring_host(struct riov_vhost_dev *dev, uint64_t iova, uint64_t len, unsigned access, void **out,
		     uint64_t *miss)
{
	struct riov_vtd_cursor c;
	uint8_t *start = NULL;
	uint64_t done = 0;

	if (len == 0 || iova > UINT64_MAX - len)
		return -EFAULT;
	riov_vtd_cursor_init(&c, dev->p.vtd, dev->p.sid);
	while (done < len) {
		void *h;
		uint64_t mapped = 0;
		int rc = riov_vtd_translate(&c, iova + done, len - done, access, &h, &mapped);
		if (rc) {
			*miss = iova + done;
			return -ENOENT;
		}
		if (mapped == 0 || mapped > len - done)
			return -EFAULT;
		if (done == 0)
			start = h;
		else if ((uint8_t *)h != start + done)
			return -EFAULT;
		done += mapped;
	}
	*out = start;
	return 0;
}

/* Ring address as given in SET_VRING_ADDR -> address in the device's DMA space (IOVA with a vIOMMU,
 * guest-physical otherwise). */
static int ring_iova(struct riov_vhost_dev *dev, uint64_t addr, uint64_t len, uint64_t *iova)
{
	if (iommu_on(dev)) {
		*iova = addr;
		return 0;
	}
	return riov_guest_mem_uva_to_gpa(&dev->mem, addr, len, iova);
}

/* Ask the front-end for the translation of iova (vhost-user back-end request IOTLB_MSG, type MISS)
 * on the back-end channel; it answers with an IOTLB update on the main channel. Best effort. */
static void iotlb_miss(struct riov_vhost_dev *dev, uint64_t iova, unsigned access)
{
	struct {
		uint32_t request, flags, size;
		struct vu_iotlb t;
	} __attribute__((packed)) m;

	if (dev->slave_fd < 0 || !has_proto(dev, VU_PF_SLAVE_REQ))
		return;
	memset(&m, 0, sizeof(m));
	m.request = VU_SLAVE_IOTLB_MSG;
	m.flags = VU_VERSION;
	m.size = sizeof(m.t);
	m.t.iova = iova;
	m.t.perm = (uint8_t)access;
	m.t.type = VU_IOTLB_MISS;
	if (send(dev->slave_fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: IOTLB miss request for 0x%llx not sent", dev->name,
			    (unsigned long long)iova);
}

/* Workers asked for translations (riov_vhost_vring_info.miss_slot): one miss request each. */
static void on_miss(evutil_socket_t fd, short what, void *arg)
{
	struct riov_vhost_dev *dev = arg;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: miss eventfd: %s", dev->name, strerror(errno));
	for (unsigned q = 0; q < nvrings(dev); q++) {
		uint64_t v = atomic_exchange_explicit(&dev->miss_req[q], 0, memory_order_acq_rel);
		if ((v & 1) && iommu_on(dev))
			iotlb_miss(dev, v & ~0xfffull, (unsigned)(v >> 1) & (RIOV_VTD_READ | RIOV_VTD_WRITE));
	}
}

static int ring_map(struct riov_vhost_dev *dev, uint64_t addr, uint64_t len, unsigned access, void **out)
{
	uint64_t iova, miss = 0;
	int rc = ring_iova(dev, addr, len, &iova);
	if (rc)
		return rc;
	rc = ring_host(dev, iova, len, access, out, &miss);
	if (rc == -ENOENT && iommu_on(dev))
		iotlb_miss(dev, miss, access);
	return rc;
}

static void vring_stop(struct riov_vhost_dev *dev, unsigned qid)
{
	struct vu_vring *vr = &dev->vr[qid];

	if (vr->running) {
		uint16_t la = vr->last_avail, lu = vr->last_used;
		dev->p.ops->vring_stop(dev->p.ops_ctx, dev, (uint16_t)qid, &la, &lu);
		vr->last_avail = la;
		vr->last_used = lu;
		vr->running = false;
	}
	/* vring_stop returned: no worker raises this vring's interrupt any more. */
	if (vr->irte_installed) {
		riov_vtd_irte_clear(dev->p.vtd, dev->p.irte_base + qid);
		vr->irte_installed = false;
	}
}

static void hold(struct riov_vhost_dev *dev, bool on)
{
	if (dev->p.ops->hold)
		dev->p.ops->hold(dev->p.ops_ctx, dev, on);
}

static uint32_t vrings_stop_all(struct riov_vhost_dev *dev)
{
	uint32_t mask = 0;
	for (unsigned q = 0; q < nvrings(dev); q++) {
		if (dev->vr[q].running)
			mask |= 1u << q;
		vring_stop(dev, q);
	}
	return mask;
}

static bool vring_ready(const struct riov_vhost_dev *dev, const struct vu_vring *vr)
{
	return dev->features_set && vr->num_set && vr->addr_set && vr->kick_set && vr->enabled &&
	       (dev->mem.n > 0 || iommu_on(dev));
}

/* Start vring qid if it is ready. A vring whose rings do not translate yet (no mapping, or with a
 * vIOMMU an IOTLB entry still to come) stays pending; it is retried after the next change. */
static void vring_try_start(struct riov_vhost_dev *dev, unsigned qid)
{
	struct vu_vring *vr = &dev->vr[qid];
	struct riov_vhost_vring_info vi;
	uint64_t ev = has_feature(dev, RIOV_VIRTIO_F_RING_EVENT_IDX) ? 2 : 0;
	int rc;

	if (vr->running || !vring_ready(dev, vr))
		return;
	memset(&vi, 0, sizeof(vi));
	rc = ring_map(dev, vr->desc, 16ull * vr->num, RIOV_VTD_READ, &vi.desc);
	if (!rc)
		rc = ring_map(dev, vr->avail, 4 + 2ull * vr->num + ev, RIOV_VTD_READ, &vi.avail);
	if (!rc)
		rc = ring_map(dev, vr->used, 4 + 8ull * vr->num + ev, RIOV_VTD_READ | RIOV_VTD_WRITE,
			      &vi.used);
	if (rc) {
		/* with a vIOMMU this is how every start begins: the IOTLB update is on its way */
		if (iommu_on(dev) && rc == -ENOENT)
			riov_log(RIOV_LOG_DEBUG, COMP, "%s: vring %u: waiting for the rings' IOTLB entries",
				 dev->name, qid);
		else
			RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: vring %u: ring addresses do not translate, "
				    "pending", dev->name, qid);
		return;
	}

	struct riov_vtd_irte e;
	memset(&e, 0, sizeof(e));
	e.present = true;
	e.svt = 1;                 /* verify the requester id (VT-d 9.10, SVT=01b, SQ=00b) */
	e.sq = 0;
	e.sid = dev->p.sid;
	e.eventfd = vr->callfd;
	rc = riov_vtd_irte_set(dev->p.vtd, dev->p.irte_base + qid, &e);
	if (rc) {
		riov_log(RIOV_LOG_ERR, COMP, "%s: vring %u: IRTE %u: %s", dev->name, qid,
			 dev->p.irte_base + qid, strerror(-rc));
		return;
	}
	vr->irte_installed = true;

	vi.qid = (uint16_t)qid;
	vi.size = (uint16_t)vr->num;
	vi.last_avail_idx = vr->last_avail;
	vi.last_used_idx = vr->last_used;
	vi.features = dev->features;
	vi.vtd = dev->p.vtd;
	vi.sid = dev->p.sid;
	vi.callfd = vr->callfd;
	atomic_store(&dev->miss_req[qid], 0);
	vi.miss_slot = &dev->miss_req[qid];
	vi.miss_efd = dev->miss_efd;
	riov_vtd_msi_compose(dev->p.irte_base + qid, false, 0, &vi.msi_addr, &vi.msi_data);
	if (has_feature(dev, RIOV_VHOST_F_LOG_ALL) && dev->log_base) {
		vi.log_base = dev->log_base;
		vi.log_size = dev->log_size;
		if (vr->addr_flags & VU_VRING_F_LOG)
			vi.log_guest_addr = vr->log;
	}
	vr->ring_h[0] = vi.desc;
	vr->ring_h[1] = vi.avail;
	vr->ring_h[2] = vi.used;
	vr->running = true;
	riov_log(RIOV_LOG_DEBUG, COMP, "%s: vring %u started (size %u, avail idx %u)", dev->name, qid,
		 vr->num, vr->last_avail);
	dev->p.ops->vring_start(dev->p.ops_ctx, dev, &vi);
}

static void vrings_try_start_all(struct riov_vhost_dev *dev)
{
	for (unsigned q = 0; q < nvrings(dev); q++)
		vring_try_start(dev, q);
}

static void vring_reset(struct vu_vring *vr)
{
	close_fd(&vr->kickfd);
	close_fd(&vr->callfd);
	close_fd(&vr->errfd);
	memset(vr, 0, sizeof(*vr));
	vr->kickfd = vr->callfd = vr->errfd = -1;
}

/* ------------------------------------------------------------------------------------------ */
/* memory, log, inflight                                                                      */

static void mem_release(struct riov_vhost_dev *dev)
{
	for (unsigned i = 0; i < dev->mem.n; i++)
		riov_guest_region_vtd_unmap(&dev->mem.r[i], dev->p.vtd, dev->p.did);
	if (dev->mem.n)
		iotlb_flush(dev);
	for (unsigned i = 0; i < dev->mem.n; i++)
		riov_guest_region_munmap(&dev->mem.r[i]);
	memset(&dev->mem, 0, sizeof(dev->mem));
}

static void log_release(struct riov_vhost_dev *dev)
{
	if (dev->log_map)
		munmap(dev->log_map, dev->log_map_len);
	dev->log_map = NULL;
	dev->log_map_len = 0;
	dev->log_base = NULL;
	dev->log_size = 0;
}

static void inflight_release(struct riov_vhost_dev *dev)
{
	if (dev->inflight_map)
		munmap(dev->inflight_map, dev->inflight_len);
	dev->inflight_map = NULL;
	dev->inflight_len = 0;
	close_fd(&dev->inflight_fd);
}

/* Map [off, off+size) of fd read-write shared, handling an offset that is not page-aligned.
 * The file must be a regular file that long. Returns the address of off, or NULL. */
static uint8_t *map_file_range(int fd, uint64_t off, uint64_t size, void **map, size_t *map_len)
{
	struct stat st;
	if (size == 0 || off > UINT64_MAX - size || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < 0 || off + size > (uint64_t)st.st_size)
		return NULL;
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t aoff = off & ~(pg - 1);
	uint64_t len = off - aoff + size;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)aoff);
	if (p == MAP_FAILED)
		return NULL;
	*map = p;
	*map_len = len;
	return (uint8_t *)p + (off - aoff);
}

/* Release everything the front-end set up. keep_proto: RESET_OWNER/RESET_DEVICE keep the
 * negotiated protocol features and the back-end request channel. */
static void session_release(struct riov_vhost_dev *dev, bool keep_proto)
{
	vrings_stop_all(dev);
	for (unsigned q = 0; q < RIOV_VHOST_MAX_VRINGS; q++)
		vring_reset(&dev->vr[q]);
	mem_release(dev);
	domains_detach(dev);
	log_release(dev);
	inflight_release(dev);
	close_fd(&dev->log_fd);
	dev->features = 0;
	dev->features_set = false;
	dev->owner = false;
	dev->status = 0;
	dev->mtu = 0;
	if (!keep_proto) {
		dev->proto = 0;
		close_fd(&dev->slave_fd);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* handlers                                                                                   */

static int h_get_features(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	return reply_u64(m, dev->offered);
}

static int h_set_features(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint64_t f = rd64(m->payload);
	uint64_t log_bit = 1ull << RIOV_VHOST_F_LOG_ALL;
	bool running = false;

	if (f & ~dev->offered)
		return -ENOTSUP;
	for (unsigned q = 0; q < nvrings(dev); q++)
		running |= dev->vr[q].running;
	/* Only dirty logging may change under running vrings (migration start/stop). */
	if (running && dev->features_set && ((f ^ dev->features) & ~log_bit))
		return -EBUSY;
	uint64_t old = dev->features;
	uint32_t mask = 0;
	bool paused = (old ^ f) & log_bit;
	if (paused) {
		hold(dev, true);
		mask = vrings_stop_all(dev);
	}
	dev->features = f;
	dev->features_set = true;
	int rc = dev->ctx_mode ? domains_attach(dev) : 0;
	for (unsigned q = 0; !rc && q < nvrings(dev); q++)
		if (mask & (1u << q))
			vring_try_start(dev, q);
	if (paused)
		hold(dev, false);
	return rc;
}

static int h_set_owner(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	dev->owner = true;
	return 0;
}

static int h_reset(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	session_release(dev, true);
	return 0;
}

static int h_get_proto(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	return reply_u64(m, dev->offered_proto);
}

static int h_set_proto(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint64_t f = rd64(m->payload);
	if (f & ~dev->offered_proto)
		return -ENOTSUP;
	dev->proto = f;
	return 0;
}

static int h_get_queue_num(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	return reply_u64(m, dev->p.max_queue_pairs);
}

static int h_get_max_mem_slots(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	return reply_u64(m, RIOV_VHOST_MAX_MEM_REGIONS);
}

/* Does one of vr's rings (while it runs) live in region r? */
static bool vring_in_region(const struct vu_vring *vr, const struct riov_guest_region *r)
{
	for (unsigned k = 0; vr->running && k < 3; k++)
		if (vr->ring_h[k] >= r->host && (uint64_t)(vr->ring_h[k] - r->host) < r->d.size)
			return true;
	return false;
}

/* Stop the running vrings whose rings live in one of the regions of set (bit i = region i). */
static void vrings_stop_in(struct riov_vhost_dev *dev, uint64_t set)
{
	for (unsigned q = 0; q < nvrings(dev); q++) {
		for (unsigned i = 0; i < dev->mem.n; i++) {
			if (!(set & (1ull << i)) || !vring_in_region(&dev->vr[q], &dev->mem.r[i]))
				continue;
			riov_log(RIOV_LOG_NOTICE, COMP, "%s: vring %u stops: its rings are in the region at "
				 "gpa 0x%llx being removed", dev->name, q, (unsigned long long)dev->mem.r[i].d.gpa);
			vring_stop(dev, q);
			break;
		}
	}
}

/* Remove the regions of set (bit i = region i) from the device: out of the VT-d domain first, then,
 * once no worker can still hold a host pointer translated before (riov_vtd_synchronize: the workers
 * passed a quiescent point), out of riovd's address space. Nothing else stops: only a vring whose
 * own rings are in a removed region. */
static void regions_drop(struct riov_vhost_dev *dev, uint64_t set)
{
	if (!set)
		return;
	vrings_stop_in(dev, set);
	for (unsigned i = 0; i < dev->mem.n; i++)
		if (set & (1ull << i))
			riov_guest_region_vtd_unmap(&dev->mem.r[i], dev->p.vtd, dev->p.did);
	iotlb_flush(dev);
	riov_vtd_synchronize(dev->p.vtd);
	for (unsigned i = dev->mem.n; i-- > 0;) {
		if (!(set & (1ull << i)))
			continue;
		riov_log(RIOV_LOG_DEBUG, COMP, "%s: region gpa 0x%llx size 0x%llx removed", dev->name,
			 (unsigned long long)dev->mem.r[i].d.gpa, (unsigned long long)dev->mem.r[i].d.size);
		riov_guest_region_munmap(&dev->mem.r[i]);
		riov_guest_mem_remove(&dev->mem, i);
	}
}

/* Enter an mmapped region into the second-stage domain and the table (one reference). Adding
 * changes no existing translation, so nothing stops: workers see the new pages after the flush
 * (which also drops negative entries a caching-mode unit may hold). On failure the region is
 * unmapped and not in the table. */
static int region_install(struct riov_vhost_dev *dev, struct riov_guest_region *nr)
{
	int rc = domains_attach(dev);
	if (!rc)
		rc = riov_guest_region_vtd_map(nr, dev->p.vtd, dev->p.did);
	if (rc) {
		riov_log(RIOV_LOG_ERR, COMP, "%s: region gpa 0x%llx size 0x%llx: VT-d map: %s", dev->name,
			 (unsigned long long)nr->d.gpa, (unsigned long long)nr->d.size, strerror(-rc));
		riov_guest_region_munmap(nr);
		return rc;
	}
	riov_guest_mem_add(&dev->mem, nr);
	iotlb_flush(dev);
	return 0;
}

static int regions_mmap(struct riov_guest_region *nr, const struct riov_guest_region_desc *d, unsigned n,
			const int *fds)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = riov_guest_region_mmap(&nr[i], &d[i], fds[i]);
		if (rc) {
			while (i--)
				riov_guest_region_munmap(&nr[i]);
			return rc;
		}
	}
	return 0;
}

static void log_region_refused(const struct riov_vhost_dev *dev, const char *what,
			       const struct riov_guest_region_desc *d, const char *why)
{
	RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: %s gpa 0x%llx size 0x%llx uaddr 0x%llx offset 0x%llx refused: %s",
		    dev->name, what, (unsigned long long)d->gpa, (unsigned long long)d->size,
		    (unsigned long long)d->uaddr, (unsigned long long)d->mmap_offset, why);
}

/* A whole new table (SET_MEM_TABLE): regions identical to installed ones stay as they are; the
 * others are removed and the new ones added, so a table that only grows or shrinks (memory
 * hot-plug without CONFIGURE_MEM_SLOTS) stops nothing. Only a new region that takes an address
 * range of a different old one pauses the vrings, so that no worker finds the range empty between
 * the two. A table refused before anything changed (invalid, overlapping itself, a file too
 * short) leaves the old one as it was. */
static int h_set_mem_table(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_mem_table_hdr th;
	struct riov_guest_region_desc d[VU_MEM_BASELINE_REGIONS];
	struct riov_guest_region nr[VU_MEM_BASELINE_REGIONS];
	static const struct riov_guest_mem empty;
	uint64_t keep = 0;
	unsigned nn = 0;

	memcpy(&th, m->payload, sizeof(th));
	if (th.nregions == 0) {
		RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: SET_MEM_TABLE without regions refused", dev->name);
		return -EINVAL;
	}
	memcpy(d, m->payload + sizeof(th), th.nregions * sizeof(d[0]));
	int rc = riov_guest_mem_validate(&empty, d, th.nregions);
	if (rc) {
		log_region_refused(dev, "SET_MEM_TABLE", &d[0], "regions invalid or overlapping");
		return rc;
	}
	struct riov_guest_region_desc add[VU_MEM_BASELINE_REGIONS];
	int add_fd[VU_MEM_BASELINE_REGIONS];
	for (unsigned i = 0; i < th.nregions; i++) {
		int same = riov_guest_mem_find_same(&dev->mem, &d[i], m->fds[i]);
		if (same >= 0) {
			keep |= 1ull << same;
			continue;
		}
		add[nn] = d[i];
		add_fd[nn++] = m->fds[i];
	}
	rc = regions_mmap(nr, add, nn, add_fd);
	if (rc) {
		log_region_refused(dev, "SET_MEM_TABLE", &add[0], strerror(-rc));
		return rc;
	}
	uint64_t drop = (dev->mem.n == 64 ? ~0ull : (1ull << dev->mem.n) - 1) & ~keep;
	bool replace = false;
	for (unsigned k = 0; k < nn && !replace; k++)
		replace = riov_guest_mem_overlap(&dev->mem, &nr[k].d, ~drop) >= 0;
	if (replace) {
		hold(dev, true);
		vrings_stop_all(dev);
	}
	regions_drop(dev, drop);
	for (unsigned i = 0; i < dev->mem.n; i++)
		dev->mem.r[i].refs = 1;   /* the table as given: one reference each */
	rc = 0;
	for (unsigned k = 0; k < nn; k++) {
		if (rc)
			riov_guest_region_munmap(&nr[k]);
		else
			rc = region_install(dev, &nr[k]);
	}
	/* restart what ran (with the indices vring_stop reported), and start what became ready */
	vrings_try_start_all(dev);
	if (replace)
		hold(dev, false);
	return rc;
}

/* One region more (CONFIGURE_MEM_SLOTS). QEMU 7.2 sends every region once per queue pair (each
 * pair is a vhost device of its own on this socket): an identical region takes a reference. */
static int h_add_mem_reg(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_mem_reg_single s;
	struct riov_guest_region nr;
	char why[160];

	memcpy(&s, m->payload, sizeof(s));
	int rc = riov_guest_region_check(&s.r);
	if (rc) {
		log_region_refused(dev, "ADD_MEM_REG", &s.r, "size, alignment or range invalid");
		return rc;
	}
	int i = riov_guest_mem_find_same(&dev->mem, &s.r, m->fds[0]);
	if (i >= 0) {
		dev->mem.r[i].refs++;
		riov_log(RIOV_LOG_DEBUG, COMP, "%s: region gpa 0x%llx added again (%u references)", dev->name,
			 (unsigned long long)s.r.gpa, dev->mem.r[i].refs);
		return 0;
	}
	if (dev->mem.n >= RIOV_VHOST_MAX_MEM_REGIONS) {
		log_region_refused(dev, "ADD_MEM_REG", &s.r, "all 64 memory slots in use");
		return -E2BIG;
	}
	i = riov_guest_mem_overlap(&dev->mem, &s.r, 0);
	if (i >= 0) {
		const struct riov_guest_region_desc *o = &dev->mem.r[i].d;
		snprintf(why, sizeof(why), "overlaps the region gpa 0x%llx size 0x%llx uaddr 0x%llx offset 0x%llx",
			 (unsigned long long)o->gpa, (unsigned long long)o->size,
			 (unsigned long long)o->uaddr, (unsigned long long)o->mmap_offset);
		log_region_refused(dev, "ADD_MEM_REG", &s.r, why);
		return -EEXIST;
	}
	rc = regions_mmap(&nr, &s.r, 1, m->fds);
	if (rc) {
		log_region_refused(dev, "ADD_MEM_REG", &s.r, strerror(-rc));
		return rc;
	}
	rc = region_install(dev, &nr);
	if (rc)
		return rc;
	vrings_try_start_all(dev);
	return 0;
}

/* One reference less; the region goes at the last (QEMU 7.2: once per queue pair). */
static int h_rem_mem_reg(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_mem_reg_single s;

	memcpy(&s, m->payload, sizeof(s));
	int i = riov_guest_mem_find(&dev->mem, &s.r);
	if (i < 0) {
		log_region_refused(dev, "REM_MEM_REG", &s.r, "no such region");
		return -ENOENT;
	}
	if (--dev->mem.r[i].refs > 0)
		return 0;
	regions_drop(dev, 1ull << i);
	return 0;
}

static int h_set_vring_num(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_vring_state s;
	memcpy(&s, m->payload, sizeof(s));
	struct vu_vring *vr = &dev->vr[s.index];
	if (s.num == 0 || s.num > RIOV_VHOST_MAX_RING_SIZE || (s.num & (s.num - 1)))
		return -EINVAL;
	if (vr->running)
		return -EBUSY;
	vr->num = s.num;
	vr->num_set = true;
	vring_try_start(dev, s.index);
	return 0;
}

static int h_set_vring_addr(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_vring_addr a;
	memcpy(&a, m->payload, sizeof(a));
	/* virtio 1.2 2.7: descriptor table 16, available ring 2, used ring 4 byte aligned */
	if ((a.desc & 15) || (a.avail & 1) || (a.used & 3) || (a.flags & ~VU_VRING_F_LOG))
		return -EINVAL;
	struct vu_vring *vr = &dev->vr[a.index];
	/* QEMU re-sends the addresses of a running vring to switch logging: stop, update, restart. */
	bool paused = vr->running;
	if (paused)
		hold(dev, true);
	vring_stop(dev, a.index);
	vr->desc = a.desc;
	vr->avail = a.avail;
	vr->used = a.used;
	vr->log = a.log;
	vr->addr_flags = a.flags;
	vr->addr_set = true;
	vring_try_start(dev, a.index);
	if (paused)
		hold(dev, false);
	return 0;
}

static int h_set_vring_base(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_vring_state s;
	memcpy(&s, m->payload, sizeof(s));
	struct vu_vring *vr = &dev->vr[s.index];
	if (s.num > 0xffff)
		return -EINVAL;
	if (vr->running)
		return -EBUSY;
	vr->last_avail = vr->last_used = (uint16_t)s.num;
	vring_try_start(dev, s.index);
	return 0;
}

static int h_get_vring_base(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_vring_state s;
	memcpy(&s, m->payload, sizeof(s));
	struct vu_vring *vr = &dev->vr[s.index];
	vring_stop(dev, s.index);
	/* The ring is stopped until the next SET_VRING_KICK (vhost-user spec "Starting and stopping rings"). */
	close_fd(&vr->kickfd);
	vr->kick_set = false;
	if (!has_feature(dev, VU_F_PROTOCOL_FEATURES))
		vr->enabled = false;
	s.num = vr->last_avail;
	memcpy(m->reply, &s, sizeof(s));
	m->reply_size = sizeof(s);
	return VU_REPLIED;
}

static int take_fd(struct vu_msg *m)
{
	if (m->nfds == 0)
		return -1;
	int fd = m->fds[0];
	m->fds[0] = -1;
	return fd;
}

static int h_set_vring_kick(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	unsigned q = (unsigned)(rd64(m->payload) & VU_VRING_IDX_MASK);
	struct vu_vring *vr = &dev->vr[q];
	close_fd(&vr->kickfd);
	vr->kickfd = take_fd(m);
	vr->kick_set = true;
	/* Without VHOST_USER_F_PROTOCOL_FEATURES a ring is enabled when it is kicked. */
	if (!has_feature(dev, VU_F_PROTOCOL_FEATURES))
		vr->enabled = true;
	vring_try_start(dev, q);
	return 0;
}

static int h_set_vring_call(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	unsigned q = (unsigned)(rd64(m->payload) & VU_VRING_IDX_MASK);
	struct vu_vring *vr = &dev->vr[q];
	int nfd = take_fd(m);

	if (vr->irte_installed) {
		/* Point the IRTE at the new eventfd first; close the old one only after that. */
		struct riov_vtd_irte e;
		memset(&e, 0, sizeof(e));
		e.present = true;
		e.svt = 1;
		e.sid = dev->p.sid;
		e.eventfd = nfd;
		int rc = riov_vtd_irte_set(dev->p.vtd, dev->p.irte_base + q, &e);
		if (rc) {
			close_fd(&nfd);
			return rc;
		}
	}
	close_fd(&vr->callfd);
	vr->callfd = nfd;
	return 0;
}

static int h_set_vring_err(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	unsigned q = (unsigned)(rd64(m->payload) & VU_VRING_IDX_MASK);
	close_fd(&dev->vr[q].errfd);
	dev->vr[q].errfd = take_fd(m);
	return 0;
}

static int h_set_vring_enable(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_vring_state s;
	memcpy(&s, m->payload, sizeof(s));
	if (s.num > 1)
		return -EINVAL;
	dev->vr[s.index].enabled = s.num;
	if (s.num)
		vring_try_start(dev, s.index);
	else
		vring_stop(dev, s.index);
	return 0;
}

static int h_set_log_base(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_log l;
	void *map;
	size_t map_len;

	if (!has_proto(dev, VU_PF_LOG_SHMFD))
		return -ENOTSUP;
	memcpy(&l, m->payload, sizeof(l));
	if (l.mmap_size == 0 || l.mmap_size > LOG_MAX_SIZE)
		return -EINVAL;
	uint8_t *base = map_file_range(m->fds[0], l.mmap_offset, l.mmap_size, &map, &map_len);
	if (!base)
		return -EINVAL;
	/* running vrings get the new log only if they log at all */
	bool paused = has_feature(dev, RIOV_VHOST_F_LOG_ALL);
	if (paused)
		hold(dev, true);
	uint32_t mask = paused ? vrings_stop_all(dev) : 0;
	log_release(dev);
	dev->log_map = map;
	dev->log_map_len = map_len;
	dev->log_base = base;
	dev->log_size = l.mmap_size;
	for (unsigned q = 0; q < nvrings(dev); q++)
		if (mask & (1u << q))
			vring_try_start(dev, q);
	if (paused)
		hold(dev, false);
	/* the mapping holds the file; the fd is closed by the dispatcher. The front-end waits for a
	 * reply once the log is in place. */
	return reply_u64(m, 0);
}

static int h_set_log_fd(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	close_fd(&dev->log_fd);
	dev->log_fd = take_fd(m);
	return 0;
}

static void net_config(const struct riov_vhost_dev *dev, uint8_t cfg[VU_CONFIG_MAX])
{
	/* struct virtio_net_config (virtio 1.2 5.1.4), little-endian */
	uint16_t status = 1; /* VIRTIO_NET_S_LINK_UP */
	uint16_t mqp = dev->p.max_queue_pairs;
	uint16_t mtu = dev->mtu ? dev->mtu : 1500;
	uint32_t speed = UINT32_MAX; /* unknown */
	memset(cfg, 0, VU_CONFIG_MAX);
	memcpy(cfg + 6, &status, 2);
	memcpy(cfg + 8, &mqp, 2);
	memcpy(cfg + 10, &mtu, 2);
	memcpy(cfg + 12, &speed, 4);
	cfg[16] = 0xff; /* duplex unknown */
}

static int h_get_config(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_config_hdr ch;
	uint8_t cfg[VU_CONFIG_MAX];
	memcpy(&ch, m->payload, sizeof(ch));
	net_config(dev, cfg);
	memcpy(m->reply, &ch, sizeof(ch));
	memcpy(m->reply + sizeof(ch), cfg + ch.offset, ch.size);
	m->reply_size = (uint32_t)sizeof(ch) + ch.size;
	return VU_REPLIED;
}

static int h_set_config(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	/* virtio-net's config space is read-only for the driver in riov: accept, change nothing. */
	return 0;
}

static uint64_t inflight_size(uint16_t nq, uint16_t qs)
{
	/* split-ring inflight region per queue: 16-byte header + 16 bytes per descriptor */
	uint64_t per = (16ull + 16ull * qs + INFLIGHT_ALIGN - 1) & ~(uint64_t)(INFLIGHT_ALIGN - 1);
	return per * nq;
}

static int inflight_check(const struct riov_vhost_dev *dev, const struct vu_inflight *in)
{
	if (in->num_queues == 0 || in->num_queues > nvrings(dev) || in->queue_size == 0 ||
	    in->queue_size > RIOV_VHOST_MAX_RING_SIZE)
		return -EINVAL;
	return 0;
}

static int h_get_inflight_fd(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_inflight in;
	memset(&in, 0, sizeof(in));
	memcpy(&in, m->payload, m->size < sizeof(in) ? m->size : sizeof(in));
	int rc = inflight_check(dev, &in);
	if (rc)
		return rc;
	uint64_t size = inflight_size(in.num_queues, in.queue_size);

	/* A repeated request releases the previous region first. */
	inflight_release(dev);
	int fd = memfd_create("riov-inflight", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		close(fd);
		return rc;
	}
	dev->inflight_fd = fd;
	dev->inflight_map = p;
	dev->inflight_len = size;
	in.mmap_size = size;
	in.mmap_offset = 0;
	memcpy(m->reply, &in, sizeof(in));
	m->reply_size = sizeof(in);
	m->reply_fd = fd;
	return VU_REPLIED;
}

static int h_set_inflight_fd(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_inflight in;
	void *map;
	size_t map_len;

	memset(&in, 0, sizeof(in));
	memcpy(&in, m->payload, m->size < sizeof(in) ? m->size : sizeof(in));
	int rc = inflight_check(dev, &in);
	if (rc)
		return rc;
	if (in.mmap_size == 0 || in.mmap_size > inflight_size(in.num_queues, in.queue_size) * 2 + 4096)
		return -EINVAL;
	uint8_t *base = map_file_range(m->fds[0], in.mmap_offset, in.mmap_size, &map, &map_len);
	if (!base)
		return -EINVAL;
	inflight_release(dev);
	dev->inflight_map = map;
	dev->inflight_len = map_len;
	dev->inflight_fd = take_fd(m);
	return 0;
}

static bool range_hits(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return b >= a ? b - a < alen : a - b < blen;   /* no sums: addresses may be near 2^64 */
}

/* Does [iova, iova+size) meet one of the vring's rings (addresses as IOVAs)? */
static bool vring_touches(const struct vu_vring *vr, uint64_t iova, uint64_t size)
{
	if (!vr->addr_set || !vr->num_set)
		return false;
	return range_hits(vr->desc, 16ull * vr->num, iova, size) ||
	       range_hits(vr->avail, 6 + 2ull * vr->num, iova, size) ||
	       range_hits(vr->used, 6 + 8ull * vr->num, iova, size);
}

static int h_iotlb(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_iotlb t;
	memset(&t, 0, sizeof(t));
	memcpy(&t, m->payload, m->size < sizeof(t) ? m->size : sizeof(t));

	if (!iommu_on(dev))
		return -ENOTSUP;
	int rc = domains_attach(dev);
	if (rc)
		return rc;
	if (t.size == 0 || t.iova > UINT64_MAX - t.size)
		return -EINVAL;
	if (t.type == VU_IOTLB_UPDATE) {
		uint64_t gpa;
		if (t.perm < 1 || t.perm > 3 || ((t.iova | t.size) & (RIOV_GUEST_PAGE - 1)))
			return -EINVAL;
		rc = riov_guest_mem_uva_to_gpa(&dev->mem, t.uaddr, t.size, &gpa);
		if (rc || (gpa & (RIOV_GUEST_PAGE - 1)))
			return -EINVAL;
		/* first stage: iova -> guest-physical; the second stage then takes it to riovd */
		rc = riov_vtd_map(dev->p.vtd, dev->p.s1_did, t.iova, gpa, t.size, t.perm);
		if (rc == -EEXIST) {
			riov_vtd_unmap(dev->p.vtd, dev->p.s1_did, t.iova, t.size);
			rc = riov_vtd_map(dev->p.vtd, dev->p.s1_did, t.iova, gpa, t.size, t.perm);
		}
		iotlb_flush(dev);
		if (rc)
			return rc;
		/* retry only the pending vrings this update concerns: a failed probe is a recorded
		 * DMA fault, and the fault log is for real ones */
		for (unsigned q = 0; q < nvrings(dev); q++)
			if (!dev->vr[q].running && vring_touches(&dev->vr[q], t.iova, t.size))
				vring_try_start(dev, q);
		return 0;
	}
	if (t.type == VU_IOTLB_INVALIDATE) {
		uint64_t a = t.iova & ~(RIOV_GUEST_PAGE - 1);
		uint64_t end = t.iova + t.size;
		end = end > UINT64_MAX - (RIOV_GUEST_PAGE - 1) ? (UINT64_MAX & ~(RIOV_GUEST_PAGE - 1))
								: (end + RIOV_GUEST_PAGE - 1) & ~(RIOV_GUEST_PAGE - 1);
		/* Running rings keep their host pointers: they stay inside guest memory, which the
		 * second stage still maps, so riovd stays safe whatever the guest invalidates. */
		riov_vtd_unmap(dev->p.vtd, dev->p.s1_did, a, end - a);
		iotlb_flush(dev);
		return 0;
	}
	return -EINVAL;   /* MISS and ACCESS_FAIL travel the other way */
}

static int h_send_rarp(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	return 0;   /* the switch learns the MAC from the guest's own traffic */
}

static int h_net_set_mtu(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint64_t mtu = rd64(m->payload);
	if (mtu < 68 || mtu > 65535)
		return -EINVAL;
	dev->mtu = (uint16_t)mtu;
	return 0;
}

static int h_set_status(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint64_t st = rd64(m->payload);
	if (st > 0xff)
		return -EINVAL;
	dev->status = (uint8_t)st;
	return 0;
}

static int h_get_status(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	return reply_u64(m, dev->status);
}

static int h_set_slave_req_fd(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	/* The back-end channel: IOTLB miss requests to the front-end (iotlb_miss). */
	close_fd(&dev->slave_fd);
	dev->slave_fd = take_fd(m);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* content-dependent checks, run centrally before the handler                                 */

static int c_vring_state(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	/* the full u32 index, before anything narrows it (CVE-2020-10723 class) */
	return rd32(m->payload) < nvrings(dev) ? 0 : -ERANGE;
}

static int c_vring_fd(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint64_t v = rd64(m->payload);
	if (v & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD))
		return -EINVAL;
	if ((v & VU_VRING_IDX_MASK) >= nvrings(dev))
		return -ERANGE;
	unsigned want = (v & VU_VRING_NOFD) ? 0 : 1;
	return m->nfds == want ? 0 : -EBADF;
}

static int c_mem_table(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint32_t n = rd32(m->payload);
	if (n > VU_MEM_BASELINE_REGIONS)
		return -E2BIG;
	if (m->size < sizeof(struct vu_mem_table_hdr) + n * sizeof(struct riov_guest_region_desc))
		return -EMSGSIZE;
	return n == m->nfds ? 0 : -EBADF;
}

static int c_config(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_config_hdr ch;
	memcpy(&ch, m->payload, sizeof(ch));
	if (ch.size > VU_CONFIG_MAX || ch.offset > VU_CONFIG_MAX - ch.size)
		return -EINVAL;
	return m->size == VU_CONFIG_HDR_SIZE + ch.size ? 0 : -EMSGSIZE;
}

/* ------------------------------------------------------------------------------------------ */
/* dispatch table                                                                             */

struct vu_handler {
	const char *name;
	int (*fn)(struct riov_vhost_dev *dev, struct vu_msg *m);
	uint16_t size_min, size_max;   /* payload bytes; exact when equal */
	uint8_t fds_min, fds_max;
	bool before_features;          /* may arrive before SET_FEATURES */
	int (*check)(struct riov_vhost_dev *dev, struct vu_msg *m);
	/* the handler's refusal (a well-formed request riovd will not carry out) is answered
	 * (REPLY_ACK) and counted; the session stays. Otherwise a failed handler ends it. */
	bool refusable;
};

#define U64 8, 8
#define NONE_OR_U64 0, 8
#define STATE sizeof(struct vu_vring_state), sizeof(struct vu_vring_state)
#define MEMREG sizeof(struct vu_mem_reg_single), sizeof(struct vu_mem_reg_single)

static const struct vu_handler handlers[VU_REQUEST_MAX] = {
	[VU_GET_FEATURES] = { "GET_FEATURES", h_get_features, NONE_OR_U64, 0, 0, true, NULL },
	[VU_SET_FEATURES] = { "SET_FEATURES", h_set_features, U64, 0, 0, true, NULL },
	[VU_SET_OWNER] = { "SET_OWNER", h_set_owner, NONE_OR_U64, 0, 0, true, NULL },
	[VU_RESET_OWNER] = { "RESET_OWNER", h_reset, NONE_OR_U64, 0, 0, true, NULL },
	[VU_SET_MEM_TABLE] = { "SET_MEM_TABLE", h_set_mem_table, sizeof(struct vu_mem_table_hdr),
			       sizeof(struct vu_mem_table_hdr) +
				       VU_MEM_BASELINE_REGIONS * sizeof(struct riov_guest_region_desc),
			       0, VU_MEM_BASELINE_REGIONS, false, c_mem_table, true },
	[VU_SET_LOG_BASE] = { "SET_LOG_BASE", h_set_log_base, sizeof(struct vu_log), sizeof(struct vu_log),
			      1, 1, false, NULL },
	[VU_SET_LOG_FD] = { "SET_LOG_FD", h_set_log_fd, NONE_OR_U64, 1, 1, false, NULL },
	[VU_SET_VRING_NUM] = { "SET_VRING_NUM", h_set_vring_num, STATE, 0, 0, false, c_vring_state },
	[VU_SET_VRING_ADDR] = { "SET_VRING_ADDR", h_set_vring_addr, sizeof(struct vu_vring_addr),
				sizeof(struct vu_vring_addr), 0, 0, false, c_vring_state },
	[VU_SET_VRING_BASE] = { "SET_VRING_BASE", h_set_vring_base, STATE, 0, 0, false, c_vring_state },
	[VU_GET_VRING_BASE] = { "GET_VRING_BASE", h_get_vring_base, STATE, 0, 0, true, c_vring_state },
	[VU_SET_VRING_KICK] = { "SET_VRING_KICK", h_set_vring_kick, U64, 0, 1, false, c_vring_fd },
	[VU_SET_VRING_CALL] = { "SET_VRING_CALL", h_set_vring_call, U64, 0, 1, true, c_vring_fd },
	[VU_SET_VRING_ERR] = { "SET_VRING_ERR", h_set_vring_err, U64, 0, 1, true, c_vring_fd },
	[VU_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES", h_get_proto, NONE_OR_U64, 0, 0, true, NULL },
	[VU_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES", h_set_proto, U64, 0, 0, true, NULL },
	[VU_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", h_get_queue_num, NONE_OR_U64, 0, 0, true, NULL },
	[VU_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", h_set_vring_enable, STATE, 0, 0, true, c_vring_state },
	[VU_SEND_RARP] = { "SEND_RARP", h_send_rarp, U64, 0, 0, true, NULL },
	[VU_NET_SET_MTU] = { "NET_SET_MTU", h_net_set_mtu, U64, 0, 0, true, NULL },
	[VU_SET_SLAVE_REQ_FD] = { "SET_SLAVE_REQ_FD", h_set_slave_req_fd, NONE_OR_U64, 1, 1, true, NULL },
	[VU_IOTLB_MSG] = { "IOTLB_MSG", h_iotlb, VU_IOTLB_MIN_SIZE, sizeof(struct vu_iotlb), 0, 0, false, NULL },
	[VU_GET_CONFIG] = { "GET_CONFIG", h_get_config, VU_CONFIG_HDR_SIZE, VU_CONFIG_HDR_SIZE + VU_CONFIG_MAX,
			    0, 0, true, c_config },
	[VU_SET_CONFIG] = { "SET_CONFIG", h_set_config, VU_CONFIG_HDR_SIZE, VU_CONFIG_HDR_SIZE + VU_CONFIG_MAX,
			    0, 0, true, c_config },
	[VU_GET_INFLIGHT_FD] = { "GET_INFLIGHT_FD", h_get_inflight_fd, VU_INFLIGHT_MIN_SIZE,
				 sizeof(struct vu_inflight), 0, 0, true, NULL },
	[VU_SET_INFLIGHT_FD] = { "SET_INFLIGHT_FD", h_set_inflight_fd, VU_INFLIGHT_MIN_SIZE,
				 sizeof(struct vu_inflight), 1, 1, true, NULL },
	[VU_RESET_DEVICE] = { "RESET_DEVICE", h_reset, NONE_OR_U64, 0, 0, true, NULL },
	[VU_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", h_get_max_mem_slots, NONE_OR_U64, 0, 0, true, NULL },
	[VU_ADD_MEM_REG] = { "ADD_MEM_REG", h_add_mem_reg, MEMREG, 1, 1, false, NULL, true },
	/* the spec allows one (ignored) fd for compatibility with old front-ends */
	[VU_REM_MEM_REG] = { "REM_MEM_REG", h_rem_mem_reg, MEMREG, 0, 1, false, NULL, true },
	[VU_SET_STATUS] = { "SET_STATUS", h_set_status, U64, 0, 0, true, NULL },
	[VU_GET_STATUS] = { "GET_STATUS", h_get_status, NONE_OR_U64, 0, 0, true, NULL },
};

static const char *req_name(uint32_t req)
{
	return req < VU_REQUEST_MAX && handlers[req].fn ? handlers[req].name : "unknown";
}

/* ------------------------------------------------------------------------------------------ */
/* message I/O                                                                                */

static int vu_send(struct riov_vhost_dev *dev, uint32_t request, const void *payload, uint32_t size, int fd)
{
	struct {
		uint32_t request, flags, size;
	} h = { request, VU_VERSION | VU_FLAG_REPLY, size };
	struct iovec iov[2] = { { &h, VU_HDR_SIZE }, { (void *)payload, size } };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };

	if (dev->conn_fd < 0)
		return -ENOTCONN;
	if (fd >= 0) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.buf;
		mh.msg_controllen = sizeof(cb.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n;
	do {
		n = sendmsg(dev->conn_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(VU_HDR_SIZE + size))
		return -EIO;
	return 0;
}

static void msg_close_fds(struct vu_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		close_fd(&m->fds[i]);
}

static int vu_dispatch(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	const struct vu_handler *h = m->request < VU_REQUEST_MAX ? &handlers[m->request] : NULL;
	bool need_ack;
	const char *why = NULL;
	int rc = 0;

	dev->messages++;
	m->reply_fd = -1;
	m->reply_size = 0;
	if ((m->flags & VU_VERSION_MASK) != VU_VERSION)
		why = "bad version";
	else if (!h || !h->fn)
		why = "unknown request";
	else if (m->size < h->size_min || m->size > h->size_max)
		why = "payload size";
	else if (m->nfds < h->fds_min || m->nfds > h->fds_max)
		why = "fd count";
	else if (!h->before_features && !dev->features_set)
		why = "before SET_FEATURES";
	else if (h->check && (rc = h->check(dev, m)) != 0)
		why = rc == -EBADF ? "fd count" : rc == -ERANGE ? "vring index" : "payload";
	if (why) {
		RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: malformed %s (%u) size %u fds %u: %s", dev->name,
			    req_name(m->request), m->request, m->size, m->nfds, why);
		msg_close_fds(m);
		return -EBADMSG;
	}

	riov_log(RIOV_LOG_DEBUG, COMP, "%s: %s size %u fds %u", dev->name, h->name, m->size, m->nfds);
	rc = h->fn(dev, m);
	msg_close_fds(m);
	/* after the handler: SET_PROTOCOL_FEATURES that turns REPLY_ACK on is acknowledged */
	need_ack = (m->flags & VU_FLAG_NEED_REPLY) && has_proto(dev, VU_PF_REPLY_ACK);
	if (rc < 0) {
		RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: %s failed: %s%s", dev->name, h->name, strerror(-rc),
			    h->refusable ? " (refused; the session goes on)" : "");
		if (need_ack) {
			uint64_t err = 1;
			vu_send(dev, m->request, &err, sizeof(err), -1);
		}
		if (h->refusable) {
			dev->refused++;
			return 0;
		}
		return rc;
	}
	if (rc == VU_REPLIED)
		return vu_send(dev, m->request, m->reply, m->reply_size, m->reply_fd);
	if (need_ack) {
		uint64_t ok = 0;
		return vu_send(dev, m->request, &ok, sizeof(ok), -1);
	}
	return 0;
}

static void rx_reset(struct vu_rx *rx)
{
	for (unsigned i = 0; i < rx->nfds; i++)
		close_fd(&rx->fds[i]);
	rx->nfds = 0;
	rx->fd_error = false;
	rx->hdr_have = 0;
	rx->pay_have = 0;
}

/* One recvmsg: returns bytes (>0), 0 at EOF, -EAGAIN, or -errno. Descriptors are appended to the
 * current message; beyond VU_MAX_FDS they are closed and the message is marked bad. */
static ssize_t rx_recv(struct riov_vhost_dev *dev, void *buf, size_t len)
{
	struct vu_rx *rx = &dev->rx;
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
			     .msg_controllen = sizeof(cb.buf) };
	ssize_t n;

	do {
		n = recvmsg(dev->conn_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (rx->nfds < VU_MAX_FDS) {
				rx->fds[rx->nfds++] = fd;
			} else {
				close(fd);
				rx->fd_error = true;
			}
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		rx->fd_error = true;   /* the kernel dropped descriptors that did not fit */
	return n;
}

static void conn_close(struct riov_vhost_dev *dev);

/* Read what is available; dispatch every complete message. Returns 0, or -1 after closing. */
static int conn_process(struct riov_vhost_dev *dev)
{
	struct vu_rx *rx = &dev->rx;

	for (int msgs = 0; msgs < MSGS_PER_WAKEUP;) {
		ssize_t n;
		if (rx->hdr_have < VU_HDR_SIZE) {
			n = rx_recv(dev, rx->hdr.b + rx->hdr_have, VU_HDR_SIZE - rx->hdr_have);
			if (n > 0) {
				rx->hdr_have += (size_t)n;
				if (rx->hdr_have == VU_HDR_SIZE && rx->hdr.h.size > VU_MAX_PAYLOAD) {
					RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: %s payload of %u bytes too large",
						    dev->name, req_name(rx->hdr.h.request), rx->hdr.h.size);
					goto bad;
				}
			}
		} else {
			n = rx_recv(dev, (uint8_t *)rx->payload + rx->pay_have, rx->hdr.h.size - rx->pay_have);
			if (n > 0)
				rx->pay_have += (size_t)n;
		}
		if (n == -EAGAIN)
			return 0;
		if (n == 0) {
			if (rx->hdr_have) {
				RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: front-end closed mid-message (%zu header bytes)",
					    dev->name, rx->hdr_have);
				dev->bad_messages++;
			} else {
				riov_log(RIOV_LOG_INFO, COMP, "%s: front-end disconnected", dev->name);
			}
			conn_close(dev);
			return -1;
		}
		if (n < 0) {
			RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: recvmsg: %s", dev->name, strerror((int)-n));
			conn_close(dev);
			return -1;
		}
		if (rx->fd_error) {
			RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: too many file descriptors", dev->name);
			goto bad;
		}
		if (rx->hdr_have < VU_HDR_SIZE || rx->pay_have < rx->hdr.h.size)
			continue;

		struct vu_msg m;
		m.request = rx->hdr.h.request;
		m.flags = rx->hdr.h.flags;
		m.size = rx->hdr.h.size;
		m.payload = (const uint8_t *)rx->payload;
		m.fds = rx->fds;
		m.nfds = rx->nfds;
		int rc = vu_dispatch(dev, &m);
		rx->nfds = 0;   /* every fd was taken over or closed by the dispatcher */
		rx_reset(rx);
		msgs++;
		if (rc < 0) {
			dev->bad_messages++;
			conn_close(dev);
			return -1;
		}
	}
	return 0;
bad:
	dev->messages++;
	dev->bad_messages++;
	conn_close(dev);
	return -1;
}

static void on_conn_read(evutil_socket_t fd, short what, void *arg)
{
	conn_process(arg);
}

static void schedule_reconnect(struct riov_vhost_dev *dev)
{
	struct timeval tv = { dev->backoff_ms / 1000, (dev->backoff_ms % 1000) * 1000 };
	evtimer_add(dev->timer_ev, &tv);
	dev->backoff_ms = dev->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : dev->backoff_ms * 2;
}

static int conn_open(struct riov_vhost_dev *dev, int fd)
{
	dev->conn_ev = event_new(dev->p.base, fd, EV_READ | EV_PERSIST, on_conn_read, dev);
	if (!dev->conn_ev || event_add(dev->conn_ev, NULL) < 0) {
		if (dev->conn_ev)
			event_free(dev->conn_ev);
		dev->conn_ev = NULL;
		close(fd);
		return -ENOMEM;
	}
	dev->conn_fd = fd;
	memset(&dev->rx, 0, sizeof(dev->rx));
	dev->connects++;
	dev->backoff_ms = BACKOFF_MIN_MS;
	riov_log(RIOV_LOG_INFO, COMP, "%s: front-end connected", dev->name);
	if (dev->p.ops->link_change)
		dev->p.ops->link_change(dev->p.ops_ctx, dev, true);
	return 0;
}

/* Drop the connection and everything the front-end set up; client mode reconnects. */
static void conn_close(struct riov_vhost_dev *dev)
{
	if (dev->conn_fd < 0)
		return;
	session_release(dev, false);
	rx_reset(&dev->rx);
	if (dev->conn_ev)
		event_free(dev->conn_ev);
	dev->conn_ev = NULL;
	close(dev->conn_fd);
	dev->conn_fd = -1;
	dev->disconnects++;
	if (dev->p.ops->link_change)
		dev->p.ops->link_change(dev->p.ops_ctx, dev, false);
	if (dev->p.mode == RIOV_VHOST_CLIENT && dev->timer_ev) {
		dev->backoff_ms = BACKOFF_MIN_MS;
		schedule_reconnect(dev);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* sockets                                                                                    */

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct riov_vhost_dev *dev = arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (dev->conn_fd >= 0) {
			/* one front-end at a time: say why in the log and hang up on the newcomer */
			RIOV_LOG_RL(RIOV_LOG_NOTICE, COMP, "%s: refusing a second front-end connection",
				    dev->name);
			close(fd);
			continue;
		}
		conn_open(dev, fd);
	}
}

static int server_listen(struct riov_vhost_dev *dev)
{
	struct sockaddr_un sa;
	int rc = fill_addr(&sa, dev->path);
	if (rc)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		if (rc == -EADDRINUSE) {
			/* A stale socket from a previous riovd is replaced; a live one is not. */
			int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			struct stat st;
			if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
			    errno == ECONNREFUSED && lstat(dev->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
			    unlink(dev->path) == 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
				rc = 0;
			if (probe >= 0)
				close(probe);
		}
		if (rc) {
			close(fd);
			return rc;
		}
	}
	dev->unlink_path = true;
	if (listen(fd, 8) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	dev->listen_fd = fd;
	dev->listen_ev = event_new(dev->p.base, fd, EV_READ | EV_PERSIST, on_accept, dev);
	if (!dev->listen_ev || event_add(dev->listen_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static void client_try_connect(struct riov_vhost_dev *dev)
{
	struct sockaddr_un sa;
	if (dev->conn_fd >= 0 || fill_addr(&sa, dev->path))
		return;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		if (conn_open(dev, fd) == 0)
			return;
	} else if (fd >= 0) {
		close(fd);
	}
	schedule_reconnect(dev);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	client_try_connect(arg);
}

/* ------------------------------------------------------------------------------------------ */
/* public API                                                                                 */

static uint64_t offered_features(const struct riov_vhost_dev_params *p)
{
	static const unsigned bits[] = {
		RIOV_VIRTIO_F_VERSION_1, RIOV_VIRTIO_NET_F_MRG_RXBUF, VU_VIRTIO_NET_F_CTRL_VQ,
		RIOV_VIRTIO_NET_F_MQ, RIOV_VIRTIO_F_RING_INDIRECT, RIOV_VIRTIO_F_RING_EVENT_IDX,
		RIOV_VIRTIO_F_IN_ORDER, RIOV_VIRTIO_F_IOMMU_PLATFORM, VU_VIRTIO_F_ANY_LAYOUT,
		VU_VIRTIO_F_NOTIFY_ON_EMPTY, RIOV_VHOST_F_LOG_ALL, VU_F_PROTOCOL_FEATURES,
	};
	uint64_t f = 0;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		f |= 1ull << bits[i];
	return f & ~p->features_off;
}

static uint64_t offered_protocol(void)
{
	static const unsigned bits[] = {
		VU_PF_MQ, VU_PF_LOG_SHMFD, VU_PF_RARP, VU_PF_REPLY_ACK, VU_PF_MTU, VU_PF_SLAVE_REQ,
		VU_PF_CONFIG, VU_PF_INFLIGHT_SHMFD, VU_PF_RESET_DEVICE, VU_PF_CONFIGURE_MEM_SLOTS,
		VU_PF_STATUS,
	};
	uint64_t f = 0;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		f |= 1ull << bits[i];
	return f;
}

/* Allocate and initialise a device without any socket (also used by the fuzz entry point). */
static struct riov_vhost_dev *dev_alloc(const struct riov_vhost_dev_params *p)
{
	struct riov_vhost_dev *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->p = *p;
	snprintf(dev->name, sizeof(dev->name), "%s", p->name ? p->name : "vhost");
	dev->p.name = dev->name;
	dev->path = strdup(p->path ? p->path : "");
	if (!dev->path) {
		free(dev);
		return NULL;
	}
	dev->p.path = dev->path;
	dev->offered = offered_features(p);
	dev->offered_proto = offered_protocol();
	dev->listen_fd = dev->conn_fd = -1;
	dev->slave_fd = dev->log_fd = dev->inflight_fd = dev->miss_efd = -1;
	dev->backoff_ms = BACKOFF_MIN_MS;
	for (unsigned q = 0; q < RIOV_VHOST_MAX_VRINGS; q++)
		dev->vr[q].kickfd = dev->vr[q].callfd = dev->vr[q].errfd = -1;
	return dev;
}

static bool params_ok(const struct riov_vhost_dev_params *p)
{
	return p && p->path && p->path[0] && p->base && p->vtd && p->ops && p->ops->vring_start &&
	       p->ops->vring_stop && p->max_queue_pairs >= 1 &&
	       p->max_queue_pairs <= RIOV_VHOST_MAX_QUEUE_PAIRS &&
	       (p->mode == RIOV_VHOST_SERVER || p->mode == RIOV_VHOST_CLIENT) && p->did != 0 &&
	       p->s1_did != 0 && p->s1_did != p->did &&
	       p->irte_base <= UINT32_MAX - RIOV_VHOST_MAX_VRINGS;
}

int riov_vhost_dev_create(const struct riov_vhost_dev_params *p, struct riov_vhost_dev **out)
{
	if (!out || !params_ok(p))
		return -EINVAL;
	struct riov_vhost_dev *dev = dev_alloc(p);
	if (!dev)
		return -ENOMEM;
	int rc = 0;
	dev->miss_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dev->miss_efd < 0 ||
	    !(dev->miss_ev = event_new(p->base, dev->miss_efd, EV_READ | EV_PERSIST, on_miss, dev)) ||
	    event_add(dev->miss_ev, NULL) != 0)
		rc = -ENOMEM;
	else if (p->mode == RIOV_VHOST_SERVER) {
		rc = server_listen(dev);
	} else {
		dev->timer_ev = evtimer_new(p->base, on_timer, dev);
		if (!dev->timer_ev)
			rc = -ENOMEM;
		else
			client_try_connect(dev);
	}
	if (rc) {
		riov_vhost_dev_destroy(dev);
		return rc;
	}
	riov_log(RIOV_LOG_INFO, COMP, "%s: vhost-user %s on %s", dev->name,
		 p->mode == RIOV_VHOST_SERVER ? "server" : "client", dev->path);
	*out = dev;
	return 0;
}

void riov_vhost_dev_destroy(struct riov_vhost_dev *dev)
{
	if (!dev)
		return;
	if (dev->timer_ev) {
		event_free(dev->timer_ev);
		dev->timer_ev = NULL;   /* conn_close must not schedule a reconnect */
	}
	conn_close(dev);
	session_release(dev, false);
	if (dev->listen_ev)
		event_free(dev->listen_ev);
	if (dev->listen_fd >= 0)
		close(dev->listen_fd);
	if (dev->miss_ev)
		event_free(dev->miss_ev);
	if (dev->miss_efd >= 0)
		close(dev->miss_efd);
	if (dev->unlink_path)
		unlink(dev->path);
	free(dev->path);
	free(dev);
}

void riov_vhost_dev_stats(const struct riov_vhost_dev *dev, struct riov_vhost_dev_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->connected = dev->conn_fd >= 0;
	st->features = dev->features;
	st->protocol_features = dev->proto;
	st->mem_regions = dev->mem.n;
	st->mem_bytes = dev->mem.bytes;
	st->queue_pairs = 0;
	for (unsigned q = 0; q < nvrings(dev); q++)
		if (dev->vr[q].running)
			st->queue_pairs = (uint16_t)(q / 2 + 1);
	st->messages = dev->messages;
	st->bad_messages = dev->bad_messages;
	st->refused = dev->refused;
	st->connects = dev->connects;
	st->disconnects = dev->disconnects;
}

const char *riov_vhost_dev_name(const struct riov_vhost_dev *dev)
{
	return dev->name;
}


/* ------------------------------------------------------------------------------------------ */
/* fuzz entry point                                                                           */

struct fz_ctx {
	struct riov_vhost_vring_info vi[RIOV_VHOST_MAX_VRINGS];
};

static void fz_touch(const volatile uint8_t *p, size_t len)
{
	(void)p[0];
	(void)p[len - 1];
}

static void fz_vring_start(void *ctx, struct riov_vhost_dev *dev, const struct riov_vhost_vring_info *vi)
{
	struct fz_ctx *c = ctx;
	/* the dataplane will read and write these: every byte must be mapped */
	fz_touch(vi->desc, 16u * vi->size);
	fz_touch(vi->avail, 4u + 2u * vi->size);
	fz_touch(vi->used, 4u + 8u * vi->size);
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

static int fz_make_fd(unsigned kind)
{
	if (kind == 0)
		return eventfd(0, EFD_CLOEXEC);
	int fd = memfd_create("riov-fuzz", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, kind == 1 ? (4 << 20) : (64 << 10)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
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
	if (conn_open(dev, sv[0]) < 0) {
		close(sv[1]);
		return -1;
	}
	*peer = sv[1];
	return 0;
}

/* Input: records of [ctl u8][header 12 bytes][payload, header.size bytes or what is left].
 * ctl & 15 (mod 10) descriptors go with the record, kinds chosen by ctl >> 4 (eventfd, 4 MiB memfd,
 * 64 KiB memfd); ctl == 0xff half-closes the stream instead (EOF mid-session). */
int riov_vhost_fuzz_one(const uint8_t *data, size_t size)
{
	static const struct riov_vhost_ops ops = { fz_vring_start, fz_vring_stop, NULL };
	struct fz_ctx ctx;
	struct riov_vtd_config vc = { .aw_bits = 48, .fault_log_size = 8, .irte_count = 64 };
	int peer = -1;

	memset(&ctx, 0, sizeof(ctx));
	struct riov_vtd *vtd = riov_vtd_create(&vc);
	struct event_base *base = event_base_new();
	struct riov_vhost_dev_params p = {
		.name = "fuzz", .path = "fuzz", .mode = RIOV_VHOST_SERVER, .max_queue_pairs = 4,
		.base = base, .vtd = vtd, .sid = 0x10, .did = 1, .s1_did = 2, .irte_base = 8,
		.ops = &ops, .ops_ctx = &ctx,
	};
	struct riov_vhost_dev *dev = vtd && base ? dev_alloc(&p) : NULL;
	if (!dev || fz_connect(dev, &peer) < 0)
		goto out;

	size_t off = 0;
	while (off < size) {
		uint8_t ctl = data[off++];
		if (ctl == 0xff) {
			shutdown(peer, SHUT_WR);
		} else {
			size_t hl = size - off < VU_HDR_SIZE ? size - off : VU_HDR_SIZE;
			size_t pl = 0;
			if (hl == VU_HDR_SIZE) {
				uint32_t want = rd32(data + off + 8);
				pl = size - off - hl < want ? size - off - hl : want;
			}
			unsigned nfds = (ctl & 15) % 10;
			int fds[10];
			union {
				char b[CMSG_SPACE(sizeof(int) * 10)];
				struct cmsghdr align;
			} cb;
			struct iovec iov = { (void *)(data + off), hl + pl };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
			unsigned got = 0;
			for (unsigned i = 0; i < nfds; i++) {
				int fd = fz_make_fd(((ctl >> 4) + i) % 3);
				if (fd >= 0)
					fds[got++] = fd;
			}
			if (got && hl + pl) {
				memset(&cb, 0, sizeof(cb));
				mh.msg_control = cb.b;
				mh.msg_controllen = CMSG_SPACE(sizeof(int) * got);
				struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
				c->cmsg_level = SOL_SOCKET;
				c->cmsg_type = SCM_RIGHTS;
				c->cmsg_len = CMSG_LEN(sizeof(int) * got);
				memcpy(CMSG_DATA(c), fds, sizeof(int) * got);
			}
			if (hl + pl)
				sendmsg(peer, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
			for (unsigned i = 0; i < got; i++)
				close(fds[i]);
			off += hl + pl;
		}
		conn_process(dev);
		fz_drain(peer);
		if (dev->conn_fd < 0) {
			close(peer);
			peer = -1;
			if (fz_connect(dev, &peer) < 0)
				break;
		}
	}
out:
	riov_vhost_dev_destroy(dev);
	if (peer >= 0)
		close(peer);
	if (base)
		event_base_free(base);
	riov_vtd_destroy(vtd);
	return 0;
}
