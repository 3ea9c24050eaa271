/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packed vrings' positions kept for the next riovd.
 *
 * A split ring carries the device's position in guest memory (the used index), and a front-end
 * whose back-end went away takes its base from there (QEMU's virtio_queue_restore_last_avail_idx).
 * A packed ring has no such index: QEMU 7.2 to 10 restore nothing for it, and on reconnecting
 * send the base of the vring's last start again, so a riovd that was killed or restarted would
 * start at a slot the ring left long ago and wait there forever (the guest's network is gone).
 *
 * So the worker that serves a packed vring records, after each publish, the position it reached
 * and the used descriptor it wrote last (struct riov_vring_rec, vhost.h), in a small file that
 * outlives riovd (riov_vhost_dev_params.ring_record, under /run). When a vring starts from a base
 * the front-end sent and the record names another position, the record is taken only if the ring
 * in guest memory confirms it (vu_ring_rec_check):
 *  - the used descriptor the record names is still at the slot where its chain began, exactly as
 *    the device wrote it (flags AVAIL = USED = that lap's wrap counter, buffer id, length, and
 *    the head's address through the record's check word); or
 *  - the driver has made every slot available again since (the ring is full: the slots from the
 *    recorded position to the ring's end available in that lap, the ones before it in the next),
 *    which is how an idle guest's receive ring looks.
 * The driver refills slots in ring order from its own position, so the head of a one-slot chain
 * (Linux's virtio-net with mergeable RX buffers and indirect tables, DPDK's virtio) is the last
 * slot it reuses, and one of the two always holds on a ring that went on from the record. Only a
 * longer chain whose head was reused while its later slots were not confirms nothing; then the
 * front-end's base is taken, as without a record.
 * A ring the driver set up anew (a guest that reset its device while riovd was away, DPDK's
 * virtio-user, which resets its packed rings when it reconnects) shows neither, and its base is
 * kept. The record is cleared when the front-end is told the position (GET_VRING_BASE) or resets
 * the device.
 *
 * Security model: the ring is guest memory, read here with one copy per descriptor and trusted
 * for nothing but this choice of a start position; the dataplane checks every descriptor it then
 * reads as it always does. The record file lies in a directory only riovd writes; it is opened
 * without following a symbolic link, must be a regular file, and is re-initialised when its
 * header is not riov's.
 *
 * Thread rules: control thread; the workers store into the records (riov_vring_rec_put).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/vhost_internal.h"

RIOV_LOG_COMPONENT("vhost", RIOV_LOG_INFO);

#define REC_MAGIC "riovvrr1"

struct vu_ring_rec_file {
	char magic[8];
	uint32_t nrec;
	uint32_t reserved[13];
	struct riov_vring_rec rec[RIOV_VHOST_MAX_VRINGS];
};
_Static_assert(offsetof(struct vu_ring_rec_file, rec) == 64, "records start at 64");

/* ---- the ring's word on it ------------------------------------------------------------------ */

static inline void rr_read(const void *desc, uint32_t slot, struct riov_vring_packed_desc *d)
{
	const struct riov_vring_packed_desc *ring = desc;
	/* flags first, with acquire: the rest is at least as new */
	d->flags = __atomic_load_n(&ring[slot].flags, __ATOMIC_ACQUIRE);
	d->addr = __atomic_load_n(&ring[slot].addr, __ATOMIC_RELAXED);
	d->len = __atomic_load_n(&ring[slot].len, __ATOMIC_RELAXED);
	d->id = __atomic_load_n(&ring[slot].id, __ATOMIC_RELAXED);
}

static inline bool rr_flags_are(uint16_t flags, bool avail, bool used)
{
	return !!(flags & RIOV_VRING_PACKED_DESC_F_AVAIL) == avail &&
	       !!(flags & RIOV_VRING_PACKED_DESC_F_USED) == used;
}

bool vu_ring_rec_check(const void *desc, uint32_t num, uint64_t pos, uint64_t chk, uint16_t *at)
{
	const uint16_t p = (uint16_t)pos, ndesc = (uint16_t)(pos >> 16);
	const uint32_t idx = p & 0x7fffu;
	const bool wrap = p >> 15;
	struct riov_vring_packed_desc d;

	if (pos == 0 || desc == NULL || num == 0 || idx >= num || ndesc == 0 || ndesc > num)
		return false;
	/* the last used descriptor, at the slot its chain began, in the lap it was written in */
	const uint32_t head = idx >= ndesc ? idx - ndesc : idx + num - ndesc;
	const bool head_wrap = idx >= ndesc ? wrap : !wrap;
	rr_read(desc, head, &d);
	if (rr_flags_are(d.flags, head_wrap, head_wrap) && d.id == (uint16_t)(pos >> 32) &&
	    (d.len & 0xffffu) == (uint16_t)(pos >> 48) && (d.addr ^ riov_vring_rec_hash(pos)) == chk) {
		*at = p;
		return true;
	}
	/* or a full ring: from the position on, each slot available in its lap */
	for (uint32_t k = 0; k < num; k++) {
		const uint32_t slot = (idx + k) % num;
		const bool lap = slot >= idx ? wrap : !wrap;
		rr_read(desc, slot, &d);
		if (!rr_flags_are(d.flags, lap, !lap))
			return false;
	}
	*at = p;
	return true;
}

/* ---- the file ---------------------------------------------------------------------------------- */

void vu_ring_rec_open(struct riov_vhost_dev *dev)
{
	const char *path = dev->p.ring_record;
	struct stat st;

	dev->p.ring_record = NULL;   /* the caller's string: used here only */
	if (path == NULL || path[0] == '\0')
		return;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		RIOV_LOG_PORT(RIOV_LOG_WARN, dev->name,
			      "ring record %s: %s: packed vrings will not go on across a restart", path,
			      fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return;
	}
	const size_t len = sizeof(struct vu_ring_rec_file);
	bool fresh = (size_t)st.st_size != len;
	if (fresh && (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)len) != 0)) {
		RIOV_LOG_PORT(RIOV_LOG_WARN, dev->name, "ring record %s: %s", path, strerror(errno));
		close(fd);
		return;
	}
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		RIOV_LOG_PORT(RIOV_LOG_WARN, dev->name, "ring record %s: %s", path, strerror(errno));
		return;
	}
	struct vu_ring_rec_file *f = m;
	if (fresh || memcmp(f->magic, REC_MAGIC, 8) != 0 || f->nrec != RIOV_VHOST_MAX_VRINGS) {
		memset(f, 0, len);
		f->nrec = RIOV_VHOST_MAX_VRINGS;
		memcpy(f->magic, REC_MAGIC, 8);
	}
	dev->rec = f;
}

void vu_ring_rec_close(struct riov_vhost_dev *dev)
{
	if (dev->rec != NULL)
		munmap(dev->rec, sizeof(*dev->rec));
	dev->rec = NULL;
}

struct riov_vring_rec *vu_ring_rec(struct riov_vhost_dev *dev, unsigned qid)
{
	return dev->rec != NULL && qid < RIOV_VHOST_MAX_VRINGS ? &dev->rec->rec[qid] : NULL;
}

void vu_ring_rec_forget(struct riov_vhost_dev *dev, unsigned qid)
{
	struct riov_vring_rec *r = vu_ring_rec(dev, qid);
	if (r != NULL) {
		atomic_store_explicit(&r->pos, 0, memory_order_relaxed);
		atomic_store_explicit(&r->chk, 0, memory_order_relaxed);
	}
}

void vu_ring_rec_resume(struct riov_vhost_dev *dev, unsigned qid, const void *desc)
{
	struct riov_vring_rec *r = vu_ring_rec(dev, qid);
	struct vu_vring *vr = &dev->vr[qid];
	uint16_t at;

	if (r == NULL)
		return;
	const uint64_t pos = atomic_load_explicit(&r->pos, memory_order_acquire);
	const uint64_t chk = atomic_load_explicit(&r->chk, memory_order_relaxed);
	if (pos == 0 || (uint16_t)pos == vr->last_avail)
		return;
	if (!vu_ring_rec_check(desc, vr->num, pos, chk, &at)) {
		RIOV_LOG_PORT(RIOV_LOG_INFO, dev->name,
			      "vring %u: riovd's record says %#x, the ring does not confirm it: serving "
			      "from the front-end's base %#x", qid, (unsigned)(uint16_t)pos, vr->last_avail);
		return;
	}
	RIOV_LOG_PORT(RIOV_LOG_NOTICE, dev->name,
		      "vring %u: packed base %#x from the front-end, the ring went on to %#x (riovd's "
		      "record, confirmed by the ring): serving from there", qid, vr->last_avail, at);
	vr->last_avail = vr->last_used = at;
	dev->base_resyncs++;
}
