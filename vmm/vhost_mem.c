/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user guest memory: the memory table (SET_MEM_TABLE, and ADD_MEM_REG/REM_MEM_REG with
 * CONFIGURE_MEM_SLOTS), each region mapped into riovd and into the device's second-stage VT-d
 * domain; the dirty log (SET_LOG_BASE, SET_LOG_FD); the inflight region (GET/SET_INFLIGHT_FD).
 *
 * Security model: every memory description comes from the untrusted front-end. Region
 * descriptions are validated by guest_mem.c (sizes, alignment, overflow, overlap, the file's
 * length) before anything is mapped; a log or inflight range must lie within its regular file.
 * A well-formed memory request riovd will not carry out (a region that overlaps another, does not
 * fit the file or the 64 slots, or is not there to remove) is refused: answered with an error
 * (REPLY_ACK), counted and logged with both regions named, and the session goes on unchanged.
 * Memory leaves the domain first and riovd's address space only once no worker can still hold a
 * pointer into it (vring_stop for vrings whose rings lived there, riov_vtd_synchronize for the
 * buffers of the others). A request that arrives twice releases the old state first.
 * A front-end may shrink a file it shared: memfds are sealed against that (guest_mem.c), the
 * others are guarded by the SIGBUS handler (guest_fault.c); a fault in one marks the device
 * broken here: counted (memory_faults), logged, the session dropped (vrings stopped, memory
 * unmapped) and riovd and the other devices go on. The front-end may connect again.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "iommu/vtd.h"
#include "vmm/vhost_internal.h"

RIOV_LOG_COMPONENT("vhost", RIOV_LOG_INFO);

#define LOG_MAX_SIZE (1ull << 30)        /* dirty log for up to 32 TiB of guest memory */
#define INFLIGHT_ALIGN 64u

/* ---- memory that faulted (guest_fault.c) ------------------------------------------------------- */

/* Name what faulted, for the log: a region, the dirty log or the inflight area. */
static void fault_what(const struct riov_vhost_dev *dev, char *buf, size_t len)
{
	snprintf(buf, len, "memory");
	for (unsigned i = 0; i < dev->mem.n; i++)
		if (riov_guest_fault_hit(dev->mem.r[i].fault_h))
			snprintf(buf, len, "memory region gpa 0x%llx size 0x%llx",
				 (unsigned long long)dev->mem.r[i].d.gpa,
				 (unsigned long long)dev->mem.r[i].d.size);
	if (dev->log_map && riov_guest_fault_hit(dev->log_fault_h))
		snprintf(buf, len, "dirty log");
	if (dev->inflight_map && riov_guest_fault_hit(dev->inflight_fault_h))
		snprintf(buf, len, "inflight area");
}

/* The guard replaced a mapping of this device's front-end memory with zero memory (its file
 * shrank): the device is broken. Count it, say which, and drop the session the way a disconnect
 * does (vrings stop, waiting for the workers; memory is unmapped and leaves the guard's table);
 * riovd and the other devices go on, and the front-end may connect again with a new table. */
static void on_fault(evutil_socket_t fd, short ev, void *arg)
{
	struct riov_vhost_dev *dev = arg;
	uint64_t n = 0;
	char what[96];

	if (read(fd, &n, sizeof(n)) != sizeof(n) || n == 0)
		return;
	fault_what(dev, what, sizeof(what));
	dev->memory_faults += n;
	RIOV_LOG_PORT_RL(RIOV_LOG_ERR, dev->name,
			 "guest %s faulted (the front-end shrank its file under "
			 "riovd): device broken, session dropped; reads of it returned zeros",
			 what);
	if (dev->conn_fd >= 0)
		vu_conn_close(dev);
	else
		vu_session_release(dev, false);
}

/* The eventfd the guard writes for this device, watched on the control loop; made when the first
 * guarded mapping arrives. Returns it, or -1 (the mapping is then not guarded). */
static int fault_watch(struct riov_vhost_dev *dev)
{
	if (dev->fault_ev)
		return dev->fault_efd;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return -1;
	dev->fault_ev = event_new(dev->p.base, efd, EV_READ | EV_PERSIST, on_fault, dev);
	if (!dev->fault_ev || event_add(dev->fault_ev, NULL) != 0) {
		if (dev->fault_ev)
			event_free(dev->fault_ev);
		dev->fault_ev = NULL;
		close(efd);
		return -1;
	}
	dev->fault_efd = efd;
	return efd;
}

/* Close the eventfd once nothing of the front-end's memory is mapped (nothing can write it). */
static void fault_unwatch(struct riov_vhost_dev *dev)
{
	if (!dev->fault_ev || dev->mem.n || dev->log_map || dev->inflight_map)
		return;
	event_free(dev->fault_ev);
	dev->fault_ev = NULL;
	close(dev->fault_efd);
	dev->fault_efd = -1;
}

void vu_mem_release(struct riov_vhost_dev *dev)
{
	for (unsigned i = 0; i < dev->mem.n; i++)
		riov_guest_region_vtd_unmap(&dev->mem.r[i], dev->p.vtd, dev->p.did);
	if (dev->mem.n)
		vu_iotlb_flush(dev);
	for (unsigned i = 0; i < dev->mem.n; i++)
		riov_guest_region_munmap(&dev->mem.r[i]);
	memset(&dev->mem, 0, sizeof(dev->mem));
	fault_unwatch(dev);
}

void vu_log_release(struct riov_vhost_dev *dev)
{
	if (dev->log_map) {
		riov_guest_fault_unregister(dev->log_fault_h);
		munmap(dev->log_map, dev->log_map_len);
	}
	dev->log_fault_h = 0;
	dev->log_map = NULL;
	dev->log_map_len = 0;
	dev->log_base = NULL;
	dev->log_size = 0;
	fault_unwatch(dev);
}

void vu_inflight_release(struct riov_vhost_dev *dev)
{
	if (dev->inflight_map) {
		riov_guest_fault_unregister(dev->inflight_fault_h);
		munmap(dev->inflight_map, dev->inflight_len);
	}
	dev->inflight_fault_h = 0;
	dev->inflight_map = NULL;
	dev->inflight_len = 0;
	vu_close_fd(&dev->inflight_fd);
	fault_unwatch(dev);
}

/* Enter a mapping of a file that could not be sealed (log, inflight) into the SIGBUS guard's
 * table, once it is the device's (so that releasing the one it replaces cannot close the eventfd
 * under it). Returns the handle, 0 if none. */
static int map_guard(struct riov_vhost_dev *dev, void *map, size_t len, bool sealed)
{
	int efd = sealed ? -1 : fault_watch(dev);
	return efd >= 0 ? riov_guest_fault_register(map, len, efd) : 0;
}

/* Map [off, off+size) of fd read-write shared, handling an offset that is not page-aligned.
 * The file must be a regular file that long; a memfd is sealed against shrinking first (*sealed:
 * whether it is, for map_guard). Returns the address of off, or NULL. */
static uint8_t *map_file_range(int fd, uint64_t off, uint64_t size, void **map, size_t *map_len,
			       bool *sealed)
{
	struct stat st;
	int rc = riov_guest_file_seal(fd);
	if (rc < 0 || size == 0 || off > UINT64_MAX - size || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size < 0 || off + size > (uint64_t)st.st_size)
		return NULL;
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t aoff = off & ~(pg - 1);
	uint64_t len = off - aoff + size;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)aoff);
	if (p == MAP_FAILED)
		return NULL;
	*map = p;
	*map_len = len;
	*sealed = rc == 1;
	return (uint8_t *)p + (off - aoff);
}

/* ---- regions ----------------------------------------------------------------------------------- */

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
	for (unsigned q = 0; q < vu_nvrings(dev); q++) {
		for (unsigned i = 0; i < dev->mem.n; i++) {
			if (!(set & (1ull << i)) || !vring_in_region(&dev->vr[q], &dev->mem.r[i]))
				continue;
			RIOV_LOG_PORT(RIOV_LOG_NOTICE, dev->name,
				      "vring %u stops: its rings are in the region at gpa "
				      "0x%llx being removed", q,
				      (unsigned long long)dev->mem.r[i].d.gpa);
			vu_vring_stop(dev, q);
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
	vu_iotlb_flush(dev);
	riov_vtd_synchronize(dev->p.vtd);
	for (unsigned i = dev->mem.n; i-- > 0;) {
		if (!(set & (1ull << i)))
			continue;
		RIOV_LOG_PORT(RIOV_LOG_DEBUG, dev->name, "region gpa 0x%llx size 0x%llx removed",
			      (unsigned long long)dev->mem.r[i].d.gpa,
			      (unsigned long long)dev->mem.r[i].d.size);
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
	int rc = vu_domains_attach(dev);
	if (!rc)
		rc = riov_guest_region_vtd_map(nr, dev->p.vtd, dev->p.did);
	if (rc) {
		RIOV_LOG_PORT(RIOV_LOG_ERR, dev->name,
			      "region gpa 0x%llx size 0x%llx: VT-d map: %s",
			      (unsigned long long)nr->d.gpa, (unsigned long long)nr->d.size,
			      strerror(-rc));
		riov_guest_region_munmap(nr);
		return rc;
	}
	riov_guest_mem_add(&dev->mem, nr);
	vu_iotlb_flush(dev);
	return 0;
}

static int regions_mmap(struct riov_vhost_dev *dev, struct riov_guest_region *nr,
			const struct riov_guest_region_desc *d, unsigned n, const int *fds)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = riov_guest_region_mmap(&nr[i], &d[i], fds[i]);
		if (rc) {
			while (i--)
				riov_guest_region_munmap(&nr[i]);
			return rc;
		}
		if (!nr[i].sealed) {
			int efd = fault_watch(dev);
			if (efd >= 0)
				riov_guest_region_guard(&nr[i], efd);
		}
	}
	return 0;
}

static void log_region_refused(const struct riov_vhost_dev *dev, const char *what,
			       const struct riov_guest_region_desc *d, const char *why)
{
	RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name,
			 "%s gpa 0x%llx size 0x%llx uaddr 0x%llx offset 0x%llx refused: %s", what,
			 (unsigned long long)d->gpa, (unsigned long long)d->size,
			 (unsigned long long)d->uaddr, (unsigned long long)d->mmap_offset, why);
}

/* ---- requests ---------------------------------------------------------------------------------- */

/* A whole new table (SET_MEM_TABLE): regions identical to installed ones stay as they are; the
 * others are removed and the new ones added, so a table that only grows or shrinks (memory
 * hot-plug without CONFIGURE_MEM_SLOTS) stops nothing. Only a new region that takes an address
 * range of a different old one pauses the vrings, so that no worker finds the range empty between
 * the two. A table refused before anything changed (invalid, overlapping itself, a file too
 * short) leaves the old one as it was. */
int vu_h_set_mem_table(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	VU_STOPS(SET_MEM_TABLE, PAUSE_ANY);
	struct vu_mem_table_hdr th;
	struct riov_guest_region_desc d[VU_MEM_BASELINE_REGIONS];
	struct riov_guest_region nr[VU_MEM_BASELINE_REGIONS];
	static const struct riov_guest_mem empty;
	uint64_t keep = 0;
	unsigned nn = 0;

	memcpy(&th, m->payload, sizeof(th));
	if (th.nregions == 0) {
		RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name, "SET_MEM_TABLE without regions refused");
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
	rc = regions_mmap(dev, nr, add, nn, add_fd);
	if (rc) {
		log_region_refused(dev, "SET_MEM_TABLE", &add[0], strerror(-rc));
		return rc;
	}
	uint64_t drop = (dev->mem.n == 64 ? ~0ull : (1ull << dev->mem.n) - 1) & ~keep;
	bool replace = false;
	for (unsigned k = 0; k < nn && !replace; k++)
		replace = riov_guest_mem_overlap(&dev->mem, &nr[k].d, ~drop) >= 0;
	if (replace) {
		vu_hold(dev, true);
		vu_vrings_stop_all(dev);
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
	vu_vrings_try_start_all(dev);
	if (replace)
		vu_hold(dev, false);
	return rc;
}

/* One region more (CONFIGURE_MEM_SLOTS). QEMU 7.2 sends every region once per queue pair (each
 * pair is a vhost device of its own on this socket): an identical region takes a reference. */
int vu_h_add_mem_reg(struct riov_vhost_dev *dev, struct vu_msg *m)
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
		RIOV_LOG_PORT(RIOV_LOG_DEBUG, dev->name,
			      "region gpa 0x%llx added again (%u references)",
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
	rc = regions_mmap(dev, &nr, &s.r, 1, m->fds);
	if (rc) {
		log_region_refused(dev, "ADD_MEM_REG", &s.r, strerror(-rc));
		return rc;
	}
	rc = region_install(dev, &nr);
	if (rc)
		return rc;
	vu_vrings_try_start_all(dev);
	return 0;
}

/* One reference less; the region goes at the last (QEMU 7.2: once per queue pair). */
int vu_h_rem_mem_reg(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	VU_STOPS(REM_MEM_REG, ANY);
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

int vu_h_get_max_mem_slots(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	return vu_reply_u64(m, RIOV_VHOST_MAX_MEM_REGIONS);
}

int vu_h_set_log_base(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	VU_STOPS(SET_LOG_BASE, PAUSE_ANY);
	struct vu_log l;
	void *map;
	size_t map_len;
	bool sealed;

	if (!vu_has_proto(dev, VU_PF_LOG_SHMFD))
		return -ENOTSUP;
	memcpy(&l, m->payload, sizeof(l));
	if (l.mmap_size == 0 || l.mmap_size > LOG_MAX_SIZE)
		return -EINVAL;
	uint8_t *base = map_file_range(m->fds[0], l.mmap_offset, l.mmap_size, &map, &map_len,
				       &sealed);
	if (!base)
		return -EINVAL;
	/* running vrings get the new log only if they log at all */
	bool paused = vu_has_feature(dev, RIOV_VHOST_F_LOG_ALL);
	if (paused)
		vu_hold(dev, true);
	uint32_t mask = paused ? vu_vrings_stop_all(dev) : 0;
	vu_log_release(dev);
	dev->log_map = map;
	dev->log_fault_h = map_guard(dev, map, map_len, sealed);
	dev->log_map_len = map_len;
	dev->log_base = base;
	dev->log_size = l.mmap_size;
	for (unsigned q = 0; q < vu_nvrings(dev); q++)
		if (mask & (1u << q))
			vu_vring_try_start(dev, q);
	if (paused)
		vu_hold(dev, false);
	/* the mapping holds the file; the fd is closed by the dispatcher. The front-end waits for a
	 * reply once the log is in place. */
	return vu_reply_u64(m, 0);
}

int vu_h_set_log_fd(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	vu_close_fd(&dev->log_fd);
	dev->log_fd = vu_take_fd(m);
	return 0;
}

/* ---- inflight ---------------------------------------------------------------------------------- */

/* The inflight region of nq queues of qs entries (vhost-user "Inflight I/O tracking"): per queue
 * a split ring's 16-byte header and 16 bytes a descriptor, or a packed ring's 32-byte header
 * (its wrap counters and free list heads) and 32 bytes a descriptor (id, flags, length, address
 * of each), each queue's part 64-byte aligned. */
static uint64_t inflight_size(uint16_t nq, uint16_t qs, bool packed)
{
	const uint64_t unit = packed ? 32 : 16;
	uint64_t per = (unit + unit * qs + INFLIGHT_ALIGN - 1) & ~(uint64_t)(INFLIGHT_ALIGN - 1);
	return per * nq;
}

static int inflight_check(const struct riov_vhost_dev *dev, const struct vu_inflight *in)
{
	if (in->num_queues == 0 || in->num_queues > vu_nvrings(dev) || in->queue_size == 0 ||
	    in->queue_size > RIOV_VHOST_MAX_RING_SIZE)
		return -EINVAL;
	return 0;
}

int vu_h_get_inflight_fd(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_inflight in;
	memset(&in, 0, sizeof(in));
	memcpy(&in, m->payload, m->size < sizeof(in) ? m->size : sizeof(in));
	int rc = inflight_check(dev, &in);
	if (rc)
		return rc;
	uint64_t size = inflight_size(in.num_queues, in.queue_size, vu_packed(dev));

	/* A repeated request releases the previous region first. */
	vu_inflight_release(dev);
	int fd = memfd_create("riov-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* the front-end gets this fd: sealed, it can neither shrink nor grow it under riovd */
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
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
	dev->inflight_fault_h = 0;
	dev->inflight_len = size;
	in.mmap_size = size;
	in.mmap_offset = 0;
	memcpy(m->reply, &in, sizeof(in));
	m->reply_size = sizeof(in);
	m->reply_fd = fd;
	return VU_REPLIED;
}

int vu_h_set_inflight_fd(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_inflight in;
	void *map;
	size_t map_len;
	bool sealed;

	memset(&in, 0, sizeof(in));
	memcpy(&in, m->payload, m->size < sizeof(in) ? m->size : sizeof(in));
	int rc = inflight_check(dev, &in);
	if (rc)
		return rc;
	if (in.mmap_size == 0 || in.mmap_size > inflight_size(in.num_queues, in.queue_size, vu_packed(dev)) * 2 + 4096)
		return -EINVAL;
	uint8_t *base = map_file_range(m->fds[0], in.mmap_offset, in.mmap_size, &map, &map_len,
				       &sealed);
	if (!base)
		return -EINVAL;
	vu_inflight_release(dev);
	dev->inflight_map = map;
	dev->inflight_fault_h = map_guard(dev, map, map_len, sealed);
	dev->inflight_len = map_len;
	dev->inflight_fd = vu_take_fd(m);
	return 0;
}
