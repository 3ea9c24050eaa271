/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's Intel VT-d model, interrupt remapping (VT-d 5.1, 5.2, 9.10-9.12): the interrupt-remapping
 * table in the specification's 128-bit layout, decoding of remappable MSIs, source-id validation,
 * remapped delivery to an eventfd (with optional count/time coalescing) and posted delivery into a
 * posted-interrupt descriptor.
 *
 * Security model: the MSI address/data and the source-id come from a guest-driven device model and
 * are untrusted: the handle is range-checked against the table before any access (fault 0x21), the
 * entry's reserved bits and source validation are checked before delivery. Table entries are
 * riov's memory, written by the control thread; the posted-descriptor address is used only if it is
 * the one irte_set() registered, so a corrupted entry can fault but never make riov write to an
 * arbitrary address. After irte_set()/irte_clear() return, no worker still uses the old eventfd.
 *
 * Concurrency: irq_raise() runs in any worker; the table is read under a seqlock (ir_seq), delivery
 * state is updated with atomics. Programming calls are control-thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "iommu/vtd_internal.h"

int vtd_ir_init(struct riov_vtd *vtd)
{
	unsigned n = vtd->cfg.irte_count;

	vtd->irt = aligned_alloc(4096, ((size_t)n * 16 + 4095) & ~(size_t)4095);
	vtd->irt_rt = calloc(n, sizeof(*vtd->irt_rt));
	if (vtd->irt == NULL || vtd->irt_rt == NULL)
		return -ENOMEM;
	memset(vtd->irt, 0, (size_t)n * 16);
	for (unsigned i = 0; i < n; i++)
		vtd->irt_rt[i].eventfd = -1;
	return 0;
}

void vtd_ir_fini(struct riov_vtd *vtd)
{
	free(vtd->irt);
	free(vtd->irt_rt);
	vtd->irt = NULL;
	vtd->irt_rt = NULL;
}

void vtd_raw_irte_write(struct riov_vtd *vtd, uint32_t index, uint64_t lo, uint64_t hi)
{
	index &= vtd->cfg.irte_count - 1;
	vtd_seq_write_begin(&vtd->ir_seq);
	VTD_STORE(&vtd->irt[index][0], lo);
	VTD_STORE(&vtd->irt[index][1], hi);
	vtd_seq_write_end(&vtd->ir_seq);
}

void vtd_raw_irte_read(struct riov_vtd *vtd, uint32_t index, uint64_t *lo, uint64_t *hi)
{
	index &= vtd->cfg.irte_count - 1;
	*lo = vtd->irt[index][0];
	*hi = vtd->irt[index][1];
}

/* Encode the 128-bit entry (9.10 remapped, 9.11 posted). Returns -EINVAL for a field out of range. */
static int irte_encode(const struct riov_vtd_irte *e, uint64_t *plo, uint64_t *phi)
{
	uint64_t lo = 0, hi = 0;

	if (e->svt > VTD_SVT_BUS || e->sq > 3 || e->delivery_mode > 7)
		return -EINVAL;
	if (e->present)
		lo |= VTD_IRTE_P;
	if (e->fpd)
		lo |= VTD_IRTE_FPD;
	hi = e->sid | ((uint64_t)e->sq << VTD_IRTE_HI_SQ_SHIFT) |
	     ((uint64_t)e->svt << VTD_IRTE_HI_SVT_SHIFT);
	if (e->posted) {
		if (e->pda == 0 || (e->pda & 63) != 0)
			return -EINVAL;
		lo |= VTD_IRTE_IM | ((uint64_t)e->vector << VTD_IRTE_PI_VV_SHIFT) |
		      (e->urgent ? VTD_IRTE_PI_URG : 0) |
		      (((e->pda >> 6) & 0x3ffffffull) << VTD_IRTE_PI_PDAL_SHIFT);
		hi |= (e->pda >> 32) << VTD_IRTE_PI_PDAH_SHIFT;
	} else {
		lo |= (e->dest_mode ? VTD_IRTE_DM : 0) | (e->redir_hint ? VTD_IRTE_RH : 0) |
		      (e->trigger_mode ? VTD_IRTE_TM : 0) |
		      ((uint64_t)e->delivery_mode << VTD_IRTE_DLM_SHIFT) |
		      ((uint64_t)e->vector << VTD_IRTE_V_SHIFT) |
		      ((uint64_t)e->dest_id << VTD_IRTE_DST_SHIFT);
	}
	*plo = lo;
	*phi = hi;
	return 0;
}

int riov_vtd_irte_set(struct riov_vtd *vtd, uint32_t index, const struct riov_vtd_irte *e)
{
	uint64_t lo, hi;
	struct vtd_irte_rt *rt;
	bool was_present;

	if (index >= vtd->cfg.irte_count || e == NULL)
		return -EINVAL;
	if (irte_encode(e, &lo, &hi) < 0)
		return -EINVAL;
	rt = &vtd->irt_rt[index];
	was_present = (vtd->irt[index][0] & VTD_IRTE_P) != 0;
	vtd_seq_write_begin(&vtd->ir_seq);
	VTD_STORE(&vtd->irt[index][0], lo);
	VTD_STORE(&vtd->irt[index][1], hi);
	VTD_STORE(&rt->eventfd, e->eventfd);
	VTD_STORE(&rt->coalesce_count, e->coalesce_count);
	VTD_STORE(&rt->coalesce_usecs, e->coalesce_usecs);
	VTD_STORE(&rt->pid, e->posted ? (struct vtd_pid *)(uintptr_t)e->pda : NULL);
	vtd_seq_write_end(&vtd->ir_seq);
	atomic_store(&rt->count, 0);
	atomic_store(&rt->pending, 0);
	/* a worker may still be delivering through the old entry's eventfd */
	if (was_present)
		riov_vtd_synchronize(vtd);
	return 0;
}

int riov_vtd_irte_clear(struct riov_vtd *vtd, uint32_t index)
{
	struct vtd_irte_rt *rt;

	if (index >= vtd->cfg.irte_count)
		return -EINVAL;
	rt = &vtd->irt_rt[index];
	vtd_seq_write_begin(&vtd->ir_seq);
	VTD_STORE(&vtd->irt[index][0], 0);
	VTD_STORE(&vtd->irt[index][1], 0);
	VTD_STORE(&rt->eventfd, -1);
	VTD_STORE(&rt->pid, NULL);
	vtd_seq_write_end(&vtd->ir_seq);
	atomic_store(&rt->pending, 0);
	/* This model keeps no interrupt-entry cache beyond the table itself (the IEC of 6.5.2.7 is
	 * the seqlock-read entry), so "invalidate" means: wait until no worker uses the old entry. */
	riov_vtd_synchronize(vtd);
	return 0;
}

void riov_vtd_msi_compose(uint32_t handle, bool shv, uint16_t subhandle, uint64_t *addr, uint32_t *data)
{
	*addr = VTD_MSI_ADDR_BASE | ((uint64_t)(handle & 0x7fff) << VTD_MSI_ADDR_HANDLE_SHIFT) |
		VTD_MSI_ADDR_IF | (shv ? VTD_MSI_ADDR_SHV : 0) |
		((handle & 0x8000) ? VTD_MSI_ADDR_HANDLE15 : 0);
	*data = shv ? subhandle : 0;
}

static void eventfd_signal(int fd)
{
	uint64_t one = 1;

	if (fd >= 0) {
		ssize_t r = write(fd, &one, sizeof(one));
		(void)r; /* EAGAIN: the counter is saturated, the reader is signalled anyway */
	}
}

/* Remapped delivery with optional coalescing. Coalesced interrupts are remembered (pending) and
 * delivered by the next raise that passes, or by riov_vtd_irq_flush(). */
static void deliver_remapped(struct riov_vtd *vtd, struct vtd_irte_rt *rt, int fd, uint32_t ccount,
			     uint32_t cusecs)
{
	if (ccount > 1) {
		uint32_t n = atomic_fetch_add_explicit(&rt->count, 1, memory_order_relaxed) + 1;
		if (n < ccount) {
			atomic_store_explicit(&rt->pending, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&vtd->irq_coalesced, 1, memory_order_relaxed);
			return;
		}
		atomic_store_explicit(&rt->count, 0, memory_order_relaxed);
	}
	if (cusecs != 0) {
		uint64_t now = vtd_now_ns();
		uint64_t last = atomic_load_explicit(&rt->last_ns, memory_order_relaxed);
		if (now - last < (uint64_t)cusecs * 1000 ||
		    !atomic_compare_exchange_strong(&rt->last_ns, &last, now)) {
			atomic_store_explicit(&rt->pending, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&vtd->irq_coalesced, 1, memory_order_relaxed);
			return;
		}
	}
	if (atomic_load_explicit(&rt->pending, memory_order_relaxed))
		atomic_store_explicit(&rt->pending, 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&rt->delivered, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&vtd->irq_delivered, 1, memory_order_relaxed);
	eventfd_signal(fd);
}

/* Posted delivery (5.2.3, 9.12): PIR bit, then ON unless suppressed (SN and not urgent); only the
 * raise that sets ON sends the notification (here: the eventfd stands in for NV to NDST). */
static void deliver_posted(struct riov_vtd *vtd, struct vtd_pid *pid, uint8_t vv, bool urg, int fd)
{
	__atomic_fetch_or(&pid->pir[vv >> 6], 1ull << (vv & 63), __ATOMIC_SEQ_CST);
	atomic_fetch_add_explicit(&vtd->irq_posted, 1, memory_order_relaxed);
	uint64_t ctl = __atomic_load_n(&pid->ctl, __ATOMIC_ACQUIRE);
	for (;;) {
		if (ctl & VTD_PID_CTL_ON)
			return;
		if ((ctl & VTD_PID_CTL_SN) && !urg)
			return;
		if (__atomic_compare_exchange_n(&pid->ctl, &ctl, ctl | VTD_PID_CTL_ON, false,
						__ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
			break;
	}
	atomic_fetch_add_explicit(&vtd->irq_delivered, 1, memory_order_relaxed);
	eventfd_signal(fd);
}

struct irte_snap {
	uint64_t lo, hi;
	int fd;
	uint32_t ccount, cusecs;
	struct vtd_pid *pid;
};

static void irte_read(struct riov_vtd *vtd, uint32_t index, struct irte_snap *s)
{
	struct vtd_irte_rt *rt = &vtd->irt_rt[index];

	for (;;) {
		uint32_t q = atomic_load_explicit(&vtd->ir_seq, memory_order_acquire);
		if (q & 1)
			continue;
		s->lo = VTD_LOAD(&vtd->irt[index][0]);
		s->hi = VTD_LOAD(&vtd->irt[index][1]);
		s->fd = VTD_LOAD(&rt->eventfd);
		s->ccount = VTD_LOAD(&rt->coalesce_count);
		s->cusecs = VTD_LOAD(&rt->coalesce_usecs);
		s->pid = VTD_LOAD(&rt->pid);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&vtd->ir_seq, memory_order_relaxed) == q)
			return;
	}
}

/* Source-id validation (9.10 SVT/SQ/SID). */
static bool sid_ok(uint64_t hi, uint16_t sid)
{
	unsigned svt = (unsigned)((hi & VTD_IRTE_HI_SVT) >> VTD_IRTE_HI_SVT_SHIFT);
	unsigned sq = (unsigned)((hi & VTD_IRTE_HI_SQ) >> VTD_IRTE_HI_SQ_SHIFT);
	uint16_t esid = (uint16_t)(hi & VTD_IRTE_HI_SID);

	switch (svt) {
	case VTD_SVT_NONE:
		return true;
	case VTD_SVT_SID: {
		/* SQ: 00 all 16 bits; 01 ignore bit 2; 10 ignore bits 2:1; 11 ignore bits 2:0 */
		static const uint16_t masks[4] = { 0xffff, 0xfffb, 0xfff9, 0xfff8 };
		return ((sid ^ esid) & masks[sq]) == 0;
	}
	case VTD_SVT_BUS: {
		unsigned bus = sid >> 8, start = esid >> 8, end = esid & 0xff;
		return bus >= start && bus <= end;
	}
	default:
		return false;
	}
}

int riov_vtd_irq_raise(struct riov_vtd *vtd, uint16_t sid, uint64_t msi_addr, uint32_t msi_data)
{
	struct irte_snap s;
	uint32_t index;

	/* 5.1.2.2: an interrupt request is a DWORD write to 0xFEEx_xxxx */
	if ((msi_addr >> 32) != 0 || (msi_addr & VTD_MSI_ADDR_BASE_MASK) != VTD_MSI_ADDR_BASE)
		return vtd_fault_report(vtd, sid, RIOV_VTD_FR_IR_RSVD, true, true, 0, false);
	if (!(msi_addr & VTD_MSI_ADDR_IF))
		/* compatibility format while remapping is on and CFI blocked (5.1.2.1) */
		return vtd_fault_report(vtd, sid, RIOV_VTD_FR_IR_COMPAT, true, true, 0, false);
	index = (uint32_t)((msi_addr & VTD_MSI_ADDR_HANDLE) >> VTD_MSI_ADDR_HANDLE_SHIFT) |
		((msi_addr & VTD_MSI_ADDR_HANDLE15) ? 0x8000u : 0);
	/* data[31:16] are reserved in a remappable request; data[15:0] is the sub-handle with SHV
	 * and ignored without it (5.1.2.2) */
	if (msi_data & 0xffff0000u)
		return vtd_fault_report(vtd, sid, RIOV_VTD_FR_IR_RSVD, true, true, index, false);
	if (msi_addr & VTD_MSI_ADDR_SHV)
		index += msi_data & VTD_MSI_DATA_SUBHANDLE;
	if (index >= vtd->cfg.irte_count)
		return vtd_fault_report(vtd, sid, RIOV_VTD_FR_IR_INDEX, true, true, index, false);
	irte_read(vtd, index, &s);
	if (!(s.lo & VTD_IRTE_P))
		return vtd_fault_report(vtd, sid, RIOV_VTD_FR_IR_NOT_PRESENT, true, true, index, false);
	bool fpd = (s.lo & VTD_IRTE_FPD) != 0, posted = (s.lo & VTD_IRTE_IM) != 0;
	bool rsvd = (s.hi & VTD_IRTE_HI_SVT) == VTD_IRTE_HI_SVT;
	if (posted) {
		uint64_t pda = (((s.lo & VTD_IRTE_PI_PDAL) >> VTD_IRTE_PI_PDAL_SHIFT) << 6) |
			       (((s.hi & VTD_IRTE_PI_PDAH) >> VTD_IRTE_PI_PDAH_SHIFT) << 32);
		rsvd |= (s.lo & VTD_IRTE_PI_RSVD_LO) || (s.hi & VTD_IRTE_PI_HI_RSVD) ||
			s.pid == NULL || pda != (uint64_t)(uintptr_t)s.pid;
	} else {
		rsvd |= (s.lo & VTD_IRTE_RSVD_LO) || (s.hi & VTD_IRTE_HI_RSVD);
	}
	if (rsvd)
		return vtd_fault_report(vtd, sid, RIOV_VTD_FR_IR_IRTE_RSVD, true, true, index, fpd);
	if (!sid_ok(s.hi, sid))
		return vtd_fault_report(vtd, sid, RIOV_VTD_FR_IR_SID, true, true, index, fpd);
	if (posted)
		deliver_posted(vtd, s.pid, (uint8_t)((s.lo & VTD_IRTE_PI_VV) >> VTD_IRTE_PI_VV_SHIFT),
			       (s.lo & VTD_IRTE_PI_URG) != 0, s.fd);
	else
		deliver_remapped(vtd, &vtd->irt_rt[index], s.fd, s.ccount, s.cusecs);
	return 0;
}

unsigned riov_vtd_irq_flush(struct riov_vtd *vtd)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < vtd->cfg.irte_count; i++) {
		struct vtd_irte_rt *rt = &vtd->irt_rt[i];
		if (!atomic_load_explicit(&rt->pending, memory_order_relaxed))
			continue;
		if (!atomic_exchange_explicit(&rt->pending, 0, memory_order_acq_rel))
			continue;
		struct irte_snap s;
		irte_read(vtd, i, &s);
		if (!(s.lo & VTD_IRTE_P) || (s.lo & VTD_IRTE_IM))
			continue;
		atomic_store_explicit(&rt->count, 0, memory_order_relaxed);
		atomic_store_explicit(&rt->last_ns, vtd_now_ns(), memory_order_relaxed);
		atomic_fetch_add_explicit(&rt->delivered, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&vtd->irq_delivered, 1, memory_order_relaxed);
		eventfd_signal(s.fd);
		n++;
	}
	return n;
}

void riov_vtd_irq_stats(const struct riov_vtd *vtd, struct riov_vtd_irq_stats *st)
{
	st->delivered = atomic_load_explicit(&vtd->irq_delivered, memory_order_relaxed);
	st->coalesced = atomic_load_explicit(&vtd->irq_coalesced, memory_order_relaxed);
	st->posted = atomic_load_explicit(&vtd->irq_posted, memory_order_relaxed);
}
