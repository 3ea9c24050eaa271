/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user and the device's VT-d domains: the second-stage domain over guest memory and, with
 * VIRTIO_F_IOMMU_PLATFORM (a guest with a vIOMMU), the first-stage domain the front-end fills
 * with IOTLB_MSG updates and invalidations, the device's context entry nesting the two; the
 * back-end channel (BACKEND_REQ_FD) on which riovd asks the front-end for a translation it lacks
 * (an IOTLB miss).
 *
 * Misses: when a vring's rings do not translate yet (vu_vring_try_start), or a worker finds no
 * first-stage entry for a buffer (riov_vhost_vring_info.miss_slot and miss_efd), one IOTLB_MSG of
 * type MISS goes to the front-end on the back-end channel, if it set one up and negotiated
 * BACKEND_REQ; otherwise nothing is sent. Sending is best effort (MSG_DONTWAIT, a failure is
 * logged rate-limited): the update that answers a miss arrives on the main channel, a pending
 * vring is retried then, and a worker asks again after RIOV_VIRTQ_MISS_RESEND_US and turns the
 * miss into a DMA fault after RIOV_VIRTQ_MISS_DEADLINE_US (dataplane/virtq.h).
 *
 * Security model: IOTLB updates come from the untrusted front-end. An update maps an IOVA only to
 * guest-physical memory the front-end's own address range resolves to in the memory table
 * (riov_guest_mem_uva_to_gpa), and only into the first stage: the second stage, which riovd
 * fills from the memory table alone, still bounds every access to guest memory, so whatever the
 * guest maps or invalidates, riovd's own memory stays out of reach. Ranges are checked for size,
 * alignment and overflow; permissions are R, W or RW.
 * The work and memory one front-end can cost the control thread are bounded too: an update may
 * write at most VU_IOTLB_UPDATE_ENTRIES_MAX page-table entries (riov_vtd_map_entries: a 1 TiB
 * range the guest memory covers, mapped at 4 KiB granularity, would be 2^28), and the first-stage
 * domain holds at most its page-table limit (iommu/vtd.h; enforced inside riov_vtd_map). The
 * first stage is the device's IOTLB, a cache the front-end refills on misses, so when honest
 * updates outgrow the limit it is emptied (evicted) rather than the update refused, and an
 * invalidation that would have to split a superpage beyond the limit drops the surrounding
 * 1 GiB instead: dropping more than asked is always allowed to a device TLB. An update that is
 * refused (IOTLB_MSG is refusable in VU_MESSAGES) is answered with an error when REPLY_ACK was
 * negotiated, logged rate-limited with its reason, and counted (iotlb_refused); the session and
 * the device's other mappings go on.
 *
 * Invalidation is scoped to the device (iommu/vtd_inv.c): its domains have no other users, so
 * an update or invalidation moves only this device's generation, which wakes its waiting vrings
 * and leaves every other device's translation cursors hitting. An IOTLB message changes only the
 * first stage: it is invalidated page-selectively over the range (domain-selectively when the
 * range is larger than 1 GiB, unaligned beyond that, or was widened or evicted), never the
 * second stage nor the unit.
 *
 * Counters (riov_vhost_dev_stats): updates taken, invalidations handled, miss requests sent, and
 * the refusals and evictions above.
 *
 * Thread rules: control thread only; the workers' miss requests arrive through atomics and an
 * eventfd (vu_miss_open).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "iommu/vtd.h"
#include "vmm/vhost_internal.h"

RIOV_LOG_COMPONENT("vhost", RIOV_LOG_INFO);


/* ---- domains and context ----------------------------------------------------------------------- */

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

int vu_domains_attach(struct riov_vhost_dev *dev)
{
	int rc = domain_ensure(dev, dev->p.did, &dev->s2_ready, &dev->s2_created);
	if (rc)
		return rc;
	int want = 1;
	if (vu_iommu_on(dev)) {
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
	/* the device's context changed (VT-d 6.5.3: then the IOTLB of the domains it used): this
	 * device's caches only */
	riov_vtd_inv_context_device(dev->p.vtd, dev->p.sid);
	vu_iotlb_flush(dev);
	return 0;
}

void vu_iotlb_flush(struct riov_vhost_dev *dev)
{
	riov_vtd_inv_iotlb_domain(dev->p.vtd, dev->p.did);
	if (dev->s1_ready)
		riov_vtd_inv_iotlb_domain(dev->p.vtd, dev->p.s1_did);
}

/* An IOTLB message changed the first stage over [iova, iova+size) (or more: s1_wide): invalidate
 * it, page-selectively when one aligned block of at most 1 GiB covers the range. */
static void s1_flush(struct riov_vhost_dev *dev, uint64_t iova, uint64_t size)
{
	if (!dev->s1_wide) {
		for (unsigned am = 0; am <= 18; am++) {
			uint64_t blk = RIOV_GUEST_PAGE << am, base = iova & ~(blk - 1);
			if (size <= blk && iova - base <= blk - size &&
			    riov_vtd_inv_iotlb_page(dev->p.vtd, dev->p.s1_did, base, am) == 0)
				return;
		}
	}
	dev->s1_wide = false;
	riov_vtd_inv_iotlb_domain(dev->p.vtd, dev->p.s1_did);
}

void vu_domains_detach(struct riov_vhost_dev *dev)
{
	if (dev->ctx_mode) {
		riov_vtd_context_clear(dev->p.vtd, dev->p.sid);
		riov_vtd_inv_context_device(dev->p.vtd, dev->p.sid);
		dev->ctx_mode = 0;
	}
	vu_iotlb_flush(dev);
	/* destroying a domain scrubs every cache entry that refers to it (and reaches the cursors
	 * that used it): nothing of this device is left for a unit-wide invalidation */
	if (dev->s1_created)
		riov_vtd_domain_destroy(dev->p.vtd, dev->p.s1_did);
	if (dev->s2_created)
		riov_vtd_domain_destroy(dev->p.vtd, dev->p.did);
	dev->s1_ready = dev->s1_created = false;
	dev->s2_ready = dev->s2_created = false;
	dev->s1_wide = false;
}

/* ---- misses: the back-end channel -------------------------------------------------------------- */

void vu_iotlb_miss(struct riov_vhost_dev *dev, uint64_t iova, unsigned access)
{
	struct {
		uint32_t request, flags, size;
		struct vu_iotlb t;
	} __attribute__((packed)) m;

	if (dev->backend_fd < 0 || !vu_has_proto(dev, VU_PF_BACKEND_REQ))
		return;
	memset(&m, 0, sizeof(m));
	m.request = VU_BACKEND_IOTLB_MSG;
	m.flags = VU_VERSION;
	m.size = sizeof(m.t);
	m.t.iova = iova;
	m.t.perm = (uint8_t)access;
	m.t.type = VU_IOTLB_MISS;
	if (send(dev->backend_fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name, "IOTLB miss request for 0x%llx not sent",
				 (unsigned long long)iova);
	else
		dev->iotlb_miss_requests++;
}

/* Workers asked for translations (riov_vhost_vring_info.miss_slot): one miss request each. */
static void on_miss(evutil_socket_t fd, short what, void *arg)
{
	struct riov_vhost_dev *dev = arg;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name, "miss eventfd: %s", strerror(errno));
	for (unsigned q = 0; q < vu_nvrings(dev); q++) {
		uint64_t v = atomic_exchange_explicit(&dev->miss_req[q], 0, memory_order_acq_rel);
		if ((v & 1) && vu_iommu_on(dev))
			vu_iotlb_miss(dev, v & ~0xfffull, (unsigned)(v >> 1) & (RIOV_VTD_READ | RIOV_VTD_WRITE));
	}
}

int vu_miss_open(struct riov_vhost_dev *dev)
{
	dev->miss_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dev->miss_efd < 0)
		return -ENOMEM;
	dev->miss_ev = event_new(dev->p.base, dev->miss_efd, EV_READ | EV_PERSIST, on_miss, dev);
	if (!dev->miss_ev || event_add(dev->miss_ev, NULL) != 0)
		return -ENOMEM;
	return 0;
}

void vu_miss_close(struct riov_vhost_dev *dev)
{
	if (dev->miss_ev)
		event_free(dev->miss_ev);
	dev->miss_ev = NULL;
	vu_close_fd(&dev->miss_efd);
}

int vu_h_set_backend_req_fd(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	/* The back-end channel: IOTLB miss requests to the front-end (vu_iotlb_miss). */
	vu_close_fd(&dev->backend_fd);
	dev->backend_fd = vu_take_fd(m);
	return 0;
}

/* ---- IOTLB_MSG --------------------------------------------------------------------------------- */

/* The most page-table entries one IOTLB update may write. An honest front-end sends one IOMMU
 * page per update (QEMU: the guest's page, 4 KiB, 2 MiB or 1 GiB): one entry, or 512 when a
 * 2 MiB page cannot be mapped whole. 2^19 leaves room for front-ends that send larger ranges
 * (1 TiB in 2 MiB pages, the largest honest guest the domain limit is sized for; 2 GiB in
 * 4 KiB pages) and bounds every message to a few milliseconds of the control thread. */
#define VU_IOTLB_UPDATE_ENTRIES_MAX (1ull << 19)
#define VU_GIB (1ull << 30)

static bool range_hits(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return b >= a ? b - a < alen : a - b < blen;   /* no sums: addresses may be near 2^64 */
}

/* Does [iova, iova+size) meet one of the vring's areas (addresses as IOVAs)? A split ring's
 * avail and used rings, or a packed ring's two 4-byte event suppression areas. */
static bool vring_touches(const struct riov_vhost_dev *dev, const struct vu_vring *vr, uint64_t iova,
			  uint64_t size)
{
	if (!vr->addr_set || !vr->num_set)
		return false;
	bool packed = vu_packed(dev);
	return range_hits(vr->desc, 16ull * vr->num, iova, size) ||
	       range_hits(vr->avail, packed ? 4 : 6 + 2ull * vr->num, iova, size) ||
	       range_hits(vr->used, packed ? 4 : 6 + 8ull * vr->num, iova, size);
}

/* Unmap [a, a+len) from the first stage. If a superpage reaching past either end cannot be split
 * (the page-table limit, or no memory), drop the 1 GiB-aligned span around the range instead: no
 * split is needed then, and a device TLB may always drop more than it was asked to. */
static void s1_unmap(struct riov_vhost_dev *dev, uint64_t a, uint64_t len)
{
	int rc = riov_vtd_unmap(dev->p.vtd, dev->p.s1_did, a, len);

	if (rc != -ENOSPC && rc != -ENOMEM)
		return;
	uint64_t end = a + len, lo = a & ~(VU_GIB - 1);
	uint64_t hi = end > UINT64_MAX - (VU_GIB - 1) ? (UINT64_MAX & ~(VU_GIB - 1))
						      : (end + VU_GIB - 1) & ~(VU_GIB - 1);
	riov_vtd_unmap(dev->p.vtd, dev->p.s1_did, lo, hi - lo);
	dev->s1_wide = true;   /* the flush must cover [lo, hi) */
	dev->iotlb_evictions++;
	RIOV_LOG_PORT_RL(RIOV_LOG_INFO, dev->name, "IOTLB invalidation of 0x%llx+0x%llx widened to "
			 "0x%llx+0x%llx: a superpage could not be split (%s)",
			 (unsigned long long)a, (unsigned long long)len, (unsigned long long)lo,
			 (unsigned long long)(hi - lo), strerror(-rc));
}

/* The first stage reached its page-table limit: empty it (the front-end refills it on misses).
 * Returns 0, or -ENOSPC when there was nothing to evict (the update alone is too large). */
static int s1_evict(struct riov_vhost_dev *dev)
{
	struct riov_vtd_domain_info di;

	if (riov_vtd_domain_info(dev->p.vtd, dev->p.s1_did, &di) != 0 || di.mapped_bytes == 0)
		return -ENOSPC;
	/* the whole domain: 1 GiB-aligned, so no superpage is split */
	riov_vtd_unmap(dev->p.vtd, dev->p.s1_did, 0, 1ull << (12 + 9 * di.levels));
	riov_vtd_inv_iotlb_domain(dev->p.vtd, dev->p.s1_did);
	dev->iotlb_evictions++;
	RIOV_LOG_PORT_RL(RIOV_LOG_INFO, dev->name,
			 "IOTLB (first stage) at its limit of %llu page-table pages: "
			 "evicted %llu mapped bytes; the front-end refills them on misses",
			 (unsigned long long)di.table_pages_max,
			 (unsigned long long)di.mapped_bytes);
	return 0;
}

/* Map iova -> gpa into the first stage, replacing what the range held. */
static int s1_map(struct riov_vhost_dev *dev, uint64_t iova, uint64_t gpa, uint64_t size,
		  unsigned perm)
{
	int rc = riov_vtd_map(dev->p.vtd, dev->p.s1_did, iova, gpa, size, perm);

	if (rc == -EEXIST) {
		s1_unmap(dev, iova, size);
		rc = riov_vtd_map(dev->p.vtd, dev->p.s1_did, iova, gpa, size, perm);
	}
	if (rc == -ENOSPC && s1_evict(dev) == 0)
		rc = riov_vtd_map(dev->p.vtd, dev->p.s1_did, iova, gpa, size, perm);
	return rc;
}

static int update_refused(struct riov_vhost_dev *dev, const struct vu_iotlb *t, int rc,
			  const char *why)
{
	dev->iotlb_refused++;
	RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name,
			 "IOTLB update iova 0x%llx size 0x%llx uaddr 0x%llx perm %u refused: %s",
			 (unsigned long long)t->iova, (unsigned long long)t->size,
			 (unsigned long long)t->uaddr, t->perm, why);
	return rc;
}

static int iotlb_update(struct riov_vhost_dev *dev, const struct vu_iotlb *t)
{
	uint64_t gpa;
	char why[160];

	if (t->perm < 1 || t->perm > 3 || ((t->iova | t->size) & (RIOV_GUEST_PAGE - 1)))
		return update_refused(dev, t, -EINVAL, "permission not R, W or RW, or iova/size "
				      "not 4 KiB-aligned");
	int rc = riov_guest_mem_uva_to_gpa(&dev->mem, t->uaddr, t->size, &gpa);
	if (rc || (gpa & (RIOV_GUEST_PAGE - 1)))
		return update_refused(dev, t, -EINVAL, "the range is not inside one guest memory "
				      "region at a 4 KiB-aligned guest address");
	uint64_t entries = riov_vtd_map_entries(t->iova, gpa, t->size);
	if (entries > VU_IOTLB_UPDATE_ENTRIES_MAX) {
		bool small = ((t->iova ^ gpa) & ((2ull << 20) - 1)) != 0;
		snprintf(why, sizeof(why), "it would write %llu page-table entries, more than %llu "
			 "per update%s", (unsigned long long)entries, VU_IOTLB_UPDATE_ENTRIES_MAX,
			 small ? " (iova and guest address not congruent modulo 2 MiB)" : "");
		return update_refused(dev, t, -E2BIG, why);
	}
	/* first stage: iova -> guest-physical; the second stage then takes it to riovd. The
	 * invalidation also wakes this device's vrings waiting for the translation. */
	rc = s1_map(dev, t->iova, gpa, t->size, t->perm);
	s1_flush(dev, t->iova, t->size);
	if (rc) {
		snprintf(why, sizeof(why), "%s", rc == -ENOSPC ? "more page tables than the first "
			 "stage may hold, even empty" : strerror(-rc));
		return update_refused(dev, t, rc, why);
	}
	dev->iotlb_updates++;
	/* retry only the pending vrings this update concerns: a failed probe is a recorded DMA
	 * fault, and the fault log is for real ones */
	for (unsigned q = 0; q < vu_nvrings(dev); q++)
		if (!dev->vr[q].running && vring_touches(dev, &dev->vr[q], t->iova, t->size))
			vu_vring_try_start(dev, q);
	return 0;
}

static void iotlb_invalidate(struct riov_vhost_dev *dev, const struct vu_iotlb *t)
{
	uint64_t a = t->iova & ~(RIOV_GUEST_PAGE - 1);
	uint64_t end = t->iova + t->size;
	end = end > UINT64_MAX - (RIOV_GUEST_PAGE - 1) ? (UINT64_MAX & ~(RIOV_GUEST_PAGE - 1))
							: (end + RIOV_GUEST_PAGE - 1) & ~(RIOV_GUEST_PAGE - 1);
	/* Running rings keep their host pointers: they stay inside guest memory, which the second
	 * stage still maps, so riovd stays safe whatever the guest invalidates. */
	s1_unmap(dev, a, end - a);
	s1_flush(dev, a, end - a);
	dev->iotlb_invalidations++;
}

int vu_h_iotlb_msg(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_iotlb t;
	memset(&t, 0, sizeof(t));
	memcpy(&t, m->payload, m->size < sizeof(t) ? m->size : sizeof(t));

	if (!vu_iommu_on(dev))
		return -ENOTSUP;
	int rc = vu_domains_attach(dev);
	if (rc)
		return rc;
	if (t.size == 0 || t.iova > UINT64_MAX - t.size)
		return -EINVAL;
	if (t.type == VU_IOTLB_UPDATE)
		return iotlb_update(dev, &t);
	if (t.type == VU_IOTLB_INVALIDATE) {
		iotlb_invalidate(dev, &t);
		return 0;
	}
	return -EINVAL;   /* MISS and ACCESS_FAIL travel the other way */
}
