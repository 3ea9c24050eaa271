/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user vrings: when a vring starts (its rings translated through the device's VT-d domain,
 * its interrupt remapping entry installed, then handed to the owner through riov_vhost_ops), how
 * it stops and pauses, and the per-vring requests (SET_VRING_NUM/ADDR/BASE/KICK/CALL/ERR/ENABLE,
 * GET_VRING_BASE).
 *
 * Security model: ring addresses come from the untrusted front-end. They are translated through
 * the device's domain (guest-physical, or IOVAs with a vIOMMU), never used as host addresses, and
 * every ring must lie in one host-contiguous mapping, so the dataplane's ring pointers cannot
 * reach outside guest memory. Sizes are powers of two up to RIOV_VHOST_MAX_RING_SIZE; indices
 * were range-checked by the dispatcher (vhost_msg.c) as the full u32/u64 the wire carries.
 *
 * Stopping: vu_vring_stop() is the only caller of ops->vring_stop, which returns only once no
 * worker touches the vring; memory may be unmapped right after. It checks each stop against the
 * stops column of the message being handled (VU_MESSAGES), and vu_hold() each hold.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "iommu/vtd.h"
#include "vmm/vhost_internal.h"

RIOV_LOG_COMPONENT("vhost", RIOV_LOG_INFO);


/* ---- translation of the rings ------------------------------------------------------------------ */

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
	if (vu_iommu_on(dev)) {
		*iova = addr;
		return 0;
	}
	return riov_guest_mem_uva_to_gpa(&dev->mem, addr, len, iova);
}

static int ring_map(struct riov_vhost_dev *dev, uint64_t addr, uint64_t len, unsigned access, void **out)
{
	uint64_t iova, miss = 0;
	int rc = ring_iova(dev, addr, len, &iova);
	if (rc)
		return rc;
	rc = ring_host(dev, iova, len, access, out, &miss);
	if (rc == -ENOENT && vu_iommu_on(dev))
		vu_iotlb_miss(dev, miss, access);
	return rc;
}

/* ---- start, stop, pause ------------------------------------------------------------------------ */

/* A stop or hold the message being handled does not declare in VU_MESSAGES: counted, logged;
 * what was asked is still done (a handler stops a vring because memory is about to go). */
static void rule_break(struct riov_vhost_dev *dev, const char *what, int qid)
{
	dev->rule_breaks++;
	if (qid >= 0)
		RIOV_LOG_PORT(RIOV_LOG_ERR, dev->name,
			      "%s %s vring %d beyond its row in VU_MESSAGES (a bug)", dev->rule_msg,
			      what, qid);
	else
		RIOV_LOG_PORT(RIOV_LOG_ERR, dev->name,
			      "%s %s beyond its row in VU_MESSAGES (a bug)", dev->rule_msg, what);
}

void vu_vring_stop(struct riov_vhost_dev *dev, unsigned qid)
{
	struct vu_vring *vr = &dev->vr[qid];

	if (vr->running) {
		uint16_t la = vr->last_avail, lu = vr->last_used;
		if (!(dev->may_stop & (1u << qid)))
			rule_break(dev, "stopped", (int)qid);
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

void vu_hold(struct riov_vhost_dev *dev, bool on)
{
	if (on && dev->rule_msg && !(dev->rule & VU_STOP_HOLD))
		rule_break(dev, "held the vrings", -1);
	dev->holding = on;
	if (dev->p.ops->hold)
		dev->p.ops->hold(dev->p.ops_ctx, dev, on);
}

uint32_t vu_vrings_stop_all(struct riov_vhost_dev *dev)
{
	uint32_t mask = 0;
	for (unsigned q = 0; q < vu_nvrings(dev); q++) {
		if (dev->vr[q].running)
			mask |= 1u << q;
		vu_vring_stop(dev, q);
	}
	return mask;
}

static bool vring_ready(const struct riov_vhost_dev *dev, const struct vu_vring *vr)
{
	return dev->features_set && vr->num_set && vr->addr_set && vr->kick_set && vr->enabled &&
	       (dev->mem.n > 0 || vu_iommu_on(dev));
}

/* Install vring qid's interrupt remapping entry (its call eventfd). Returns 0 or -errno. */
static int vring_irte(struct riov_vhost_dev *dev, unsigned qid)
{
	struct vu_vring *vr = &dev->vr[qid];
	struct riov_vtd_irte e;

	memset(&e, 0, sizeof(e));
	e.present = true;
	e.svt = 1;                 /* verify the requester id (VT-d 9.10, SVT=01b, SQ=00b) */
	e.sq = 0;
	e.sid = dev->p.sid;
	e.eventfd = vr->callfd;
	int rc = riov_vtd_irte_set(dev->p.vtd, dev->p.irte_base + qid, &e);
	if (rc) {
		RIOV_LOG_PORT(RIOV_LOG_ERR, dev->name, "vring %u: IRTE %u: %s", qid,
			      dev->p.irte_base + qid, strerror(-rc));
		return rc;
	}
	vr->irte_installed = true;
	return 0;
}

/* What the owner needs to serve vring qid, whose rings translated to vi->desc/avail/used. */
static void vring_info(struct riov_vhost_dev *dev, unsigned qid, struct riov_vhost_vring_info *vi)
{
	struct vu_vring *vr = &dev->vr[qid];

	vi->qid = (uint16_t)qid;
	vi->size = (uint16_t)vr->num;
	vi->last_avail_idx = vr->last_avail;
	vi->last_used_idx = vr->last_used;
	vi->features = dev->features;
	vi->vtd = dev->p.vtd;
	vi->sid = dev->p.sid;
	vi->callfd = vr->callfd;
	vi->ring_rec = vu_packed(dev) ? vu_ring_rec(dev, qid) : NULL;
	atomic_store(&dev->miss_req[qid], 0);
	vi->miss_slot = &dev->miss_req[qid];
	vi->miss_efd = dev->miss_efd;
	riov_vtd_msi_compose(dev->p.irte_base + qid, false, 0, &vi->msi_addr, &vi->msi_data);
	if (vu_has_feature(dev, RIOV_VHOST_F_LOG_ALL) && dev->log_base) {
		vi->log_base = dev->log_base;
		vi->log_size = dev->log_size;
		if (vr->addr_flags & VU_VRING_F_LOG) {
			/* a packed ring's used descriptors are written into its descriptor ring: log
			 * at the ring's guest address (the front-end's log address is the device
			 * area's), as the used ring's is given for a split ring */
			uint64_t ga;
			if (!vu_packed(dev))
				vi->log_guest_addr = vr->log;
			else if (ring_iova(dev, vr->desc, 16ull * vr->num, &ga) == 0)
				vi->log_guest_addr = ga;
		}
	}
}

/* The used ring's index (in guest memory) is where this device's completions stand. A front-end
 * that lost track of it sends another base: DPDK's virtio-user reconnecting to a riovd that was
 * restarted sends 0 while its avail index runs on, so the queue would be broken at once (avail
 * ahead of the base by more than the ring). Then, if the used index is a base the ring can be
 * served from, start there, as QEMU itself does after its back-end went away and as DPDK's own
 * back-end does: what riovd completed is in the used ring, what it took and had not completed
 * when it went away is served again (such a front-end keeps no in-flight record). A base the
 * ring can be served from is the front-end's to give (QEMU's, a migration's) and is kept.
 * A packed ring keeps no index in guest memory: riovd's own record of it does (vhost_ringrec.c). */
static void vring_resync(struct riov_vhost_dev *dev, unsigned qid, const struct riov_vhost_vring_info *vi)
{
	struct vu_vring *vr = &dev->vr[qid];

	if (!vr->base_from_fe)
		return;   /* a restart after a pause: the dataplane's own indices */
	vr->base_from_fe = false;
	if (vu_packed(dev)) {
		vu_ring_rec_resume(dev, qid, vi->desc);
		return;
	}
	/* both rings start with flags, then idx */
	uint16_t avail_idx = __atomic_load_n((const uint16_t *)vi->avail + 1, __ATOMIC_ACQUIRE);
	uint16_t at = __atomic_load_n((const uint16_t *)vi->used + 1, __ATOMIC_ACQUIRE);
	/* completions the base would take again: a base behind the used index is never right (the
	 * used index counts what the device completed, and it completes only what it took) */
	uint16_t behind = (uint16_t)(at - vr->last_avail);
	if ((uint16_t)(avail_idx - at) > vr->num)
		return;
	if ((uint16_t)(avail_idx - vr->last_avail) <= vr->num && (behind == 0 || behind > vr->num))
		return;
	RIOV_LOG_PORT_RL(RIOV_LOG_NOTICE, dev->name,
			 "vring %u: base %u/%u from the front-end, the used ring is at %u: "
			 "serving from %u", qid, vr->last_avail, vr->last_used, at, at);
	vr->last_avail = vr->last_used = at;
	dev->base_resyncs++;
}

/* A vring whose rings do not translate yet (no mapping, or with a vIOMMU an IOTLB entry still to
 * come: ring_map asked the front-end for it) stays pending; it is retried after the next change. */
void vu_vring_try_start(struct riov_vhost_dev *dev, unsigned qid)
{
	struct vu_vring *vr = &dev->vr[qid];
	struct riov_vhost_vring_info vi;
	uint64_t ev = vu_has_feature(dev, RIOV_VIRTIO_F_RING_EVENT_IDX) ? 2 : 0;
	int rc;

	if (vr->running || !vring_ready(dev, vr))
		return;
	memset(&vi, 0, sizeof(vi));
	if (vu_packed(dev)) {
		/* features may have come after the addresses and the base: checked here again */
		if ((vr->avail & 3) || (vr->used & 3) || (vr->last_avail & 0x7fff) >= vr->num ||
		    (vr->last_used & 0x7fff) >= vr->num) {
			RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name,
					 "vring %u: packed ring with event areas not 4-byte aligned or a "
					 "base (%#x) beyond its %u entries: not started", qid,
					 vr->last_avail, vr->num);
			return;
		}
		/* 2.8: the descriptor ring (the device writes used descriptors into it), the driver
		 * event suppression area (read), the device's (written) */
		rc = ring_map(dev, vr->desc, 16ull * vr->num, RIOV_VTD_READ | RIOV_VTD_WRITE, &vi.desc);
		if (!rc)
			rc = ring_map(dev, vr->avail, 4, RIOV_VTD_READ, &vi.avail);
		if (!rc)
			rc = ring_map(dev, vr->used, 4, RIOV_VTD_READ | RIOV_VTD_WRITE, &vi.used);
	} else {
		rc = ring_map(dev, vr->desc, 16ull * vr->num, RIOV_VTD_READ, &vi.desc);
		if (!rc)
			rc = ring_map(dev, vr->avail, 4 + 2ull * vr->num + ev, RIOV_VTD_READ, &vi.avail);
		if (!rc)
			rc = ring_map(dev, vr->used, 4 + 8ull * vr->num + ev,
				      RIOV_VTD_READ | RIOV_VTD_WRITE, &vi.used);
	}
	if (rc) {
		/* with a vIOMMU this is how every start begins: the IOTLB update is on its way */
		if (vu_iommu_on(dev) && rc == -ENOENT)
			RIOV_LOG_PORT(RIOV_LOG_DEBUG, dev->name,
				      "vring %u: waiting for the rings' IOTLB entries", qid);
		else
			RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name,
					 "vring %u: ring addresses do not translate, pending", qid);
		return;
	}
	if (vring_irte(dev, qid))
		return;
	vring_resync(dev, qid, &vi);
	vring_info(dev, qid, &vi);
	vr->ring_h[0] = vi.desc;
	vr->ring_h[1] = vi.avail;
	vr->ring_h[2] = vi.used;
	vr->running = true;
	RIOV_LOG_PORT(RIOV_LOG_DEBUG, dev->name, "vring %u started (size %u, avail idx %u)", qid,
		      vr->num, vr->last_avail);
	dev->p.ops->vring_start(dev->p.ops_ctx, dev, &vi);
}

void vu_vrings_try_start_all(struct riov_vhost_dev *dev)
{
	for (unsigned q = 0; q < vu_nvrings(dev); q++)
		vu_vring_try_start(dev, q);
}

void vu_vring_reset(struct vu_vring *vr)
{
	vu_close_fd(&vr->kickfd);
	vu_close_fd(&vr->callfd);
	vu_close_fd(&vr->errfd);
	memset(vr, 0, sizeof(*vr));
	vr->kickfd = vr->callfd = vr->errfd = -1;
}

/* ---- requests ---------------------------------------------------------------------------------- */

int vu_h_set_vring_num(struct riov_vhost_dev *dev, struct vu_msg *m)
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
	vu_vring_try_start(dev, s.index);
	return 0;
}

int vu_h_set_vring_addr(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	VU_STOPS(SET_VRING_ADDR, PAUSE_NAMED);
	struct vu_vring_addr a;
	memcpy(&a, m->payload, sizeof(a));
	/* virtio 1.2 2.7: descriptor table 16, available ring 2, used ring 4 byte aligned; 2.8
	 * (packed): descriptor ring 16, both event suppression areas 4 */
	if ((a.desc & 15) || (a.avail & 1) || (a.used & 3) || (a.flags & ~VU_VRING_F_LOG))
		return -EINVAL;
	if (vu_packed(dev) && (a.avail & 3))
		return -EINVAL;
	struct vu_vring *vr = &dev->vr[a.index];
	/* QEMU re-sends the addresses of a running vring to switch logging: stop, update, restart. */
	bool paused = vr->running;
	if (paused)
		vu_hold(dev, true);
	vu_vring_stop(dev, a.index);
	vr->desc = a.desc;
	vr->avail = a.avail;
	vr->used = a.used;
	vr->log = a.log;
	vr->addr_flags = a.flags;
	vr->addr_set = true;
	vu_vring_try_start(dev, a.index);
	if (paused)
		vu_hold(dev, false);
	return 0;
}

int vu_h_set_vring_base(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_vring_state s;
	memcpy(&s, m->payload, sizeof(s));
	struct vu_vring *vr = &dev->vr[s.index];
	uint16_t base = (uint16_t)s.num;
	if (vu_packed(dev)) {
		/* bits 0-14 the next descriptor, bit 15 its wrap counter (DPDK's virtio-user sends
		 * only these); QEMU adds the used side in bits 16-31. A net ring stops with nothing
		 * in flight (riov returns every chain it takes before a stop reports its indices),
		 * so the device's used side starts where its avail side does. */
		if (vr->num_set && (base & 0x7fff) >= vr->num)
			return -EINVAL;
		if ((s.num >> 16) != 0 && (s.num >> 16) != base)
			RIOV_LOG_PORT_RL(RIOV_LOG_NOTICE, dev->name,
					 "vring %u: packed base: used side %#x differs from the avail "
					 "side %#x: serving both from the avail side", s.index,
					 s.num >> 16, base);
	} else if (s.num > 0xffff) {
		return -EINVAL;
	}
	if (vr->running)
		return -EBUSY;
	vr->last_avail = vr->last_used = base;
	vr->base_from_fe = true;
	vu_vring_try_start(dev, s.index);
	return 0;
}

int vu_h_get_vring_base(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	VU_STOPS(GET_VRING_BASE, NAMED);
	struct vu_vring_state s;
	memcpy(&s, m->payload, sizeof(s));
	struct vu_vring *vr = &dev->vr[s.index];
	vu_vring_stop(dev, s.index);
	/* The ring is stopped until the next SET_VRING_KICK (vhost-user spec "Starting and stopping rings"). */
	vu_close_fd(&vr->kickfd);
	vr->kick_set = false;
	if (!vu_has_feature(dev, VU_F_PROTOCOL_FEATURES))
		vr->enabled = false;
	vu_ring_rec_forget(dev, s.index);   /* the front-end knows the position now */
	s.num = vr->last_avail;
	if (vu_packed(dev))   /* and the used side with its wrap counter, as QEMU reads it */
		s.num |= (uint32_t)vr->last_used << 16;
	memcpy(m->reply, &s, sizeof(s));
	m->reply_size = sizeof(s);
	return VU_REPLIED;
}

int vu_h_set_vring_kick(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	unsigned q = (unsigned)(vu_rd64(m->payload) & VU_VRING_IDX_MASK);
	struct vu_vring *vr = &dev->vr[q];
	vu_close_fd(&vr->kickfd);
	vr->kickfd = vu_take_fd(m);
	vr->kick_set = true;
	/* Without VHOST_USER_F_PROTOCOL_FEATURES a ring is enabled when it is kicked. */
	if (!vu_has_feature(dev, VU_F_PROTOCOL_FEATURES))
		vr->enabled = true;
	vu_vring_try_start(dev, q);
	return 0;
}

int vu_h_set_vring_call(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	unsigned q = (unsigned)(vu_rd64(m->payload) & VU_VRING_IDX_MASK);
	struct vu_vring *vr = &dev->vr[q];
	int nfd = vu_take_fd(m);

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
			vu_close_fd(&nfd);
			return rc;
		}
	}
	vu_close_fd(&vr->callfd);
	vr->callfd = nfd;
	return 0;
}

int vu_h_set_vring_err(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	unsigned q = (unsigned)(vu_rd64(m->payload) & VU_VRING_IDX_MASK);
	vu_close_fd(&dev->vr[q].errfd);
	dev->vr[q].errfd = vu_take_fd(m);
	return 0;
}

int vu_h_set_vring_enable(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	VU_STOPS(SET_VRING_ENABLE, NAMED);
	struct vu_vring_state s;
	memcpy(&s, m->payload, sizeof(s));
	if (s.num > 1)
		return -EINVAL;
	dev->vr[s.index].enabled = s.num;
	if (s.num)
		vu_vring_try_start(dev, s.index);
	else
		vu_vring_stop(dev, s.index);
	return 0;
}
