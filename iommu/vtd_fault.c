/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VT-d model's fault reporting (VT-d 7.1 "fault logging", 7.2 primary fault recording): the one
 * reporter every walker returns through. It applies FPD, collapses repeats from one source while
 * their record is still in the log, counts overflow (PFO) when the log is full, and keeps counters.
 *
 * Security model: a guest can cause faults at any rate (bad descriptor addresses, bad MSIs). The log
 * is bounded (cfg.fault_log_size records), repeats of the same source/reason/page cost one record,
 * and the text log is rate-limited. The spinlock is taken on the fault path only, never on a hit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "iommu/vtd_internal.h"

RIOV_LOG_COMPONENT("vtd", RIOV_LOG_WARN);

static void flog_lock(struct vtd_fault_log *f)
{
	while (atomic_flag_test_and_set_explicit(&f->lock, memory_order_acquire))
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#else
		;
#endif
}

static void flog_unlock(struct vtd_fault_log *f)
{
	atomic_flag_clear_explicit(&f->lock, memory_order_release);
}

int vtd_fault_init(struct riov_vtd *vtd)
{
	struct vtd_fault_log *f = &vtd->flog;

	atomic_flag_clear(&f->lock);
	f->size = vtd->cfg.fault_log_size;
	f->rec = calloc(f->size, sizeof(*f->rec));
	return f->rec == NULL ? -ENOMEM : 0;
}

void vtd_fault_fini(struct riov_vtd *vtd)
{
	free(vtd->flog.rec);
	vtd->flog.rec = NULL;
}

int riov_vtd_fault_record(struct riov_vtd *vtd, uint16_t sid, unsigned reason, bool is_write, uint64_t addr)
{
	if (reason == 0 || reason > RIOV_VTD_FR_TT_BLOCKED)
		reason = RIOV_VTD_FR_CTX_INVALID;
	return vtd_fault_report(vtd, sid, reason, is_write, false, addr & ~0xfffull, false);
}

int vtd_fault_report(struct riov_vtd *vtd, uint16_t sid, unsigned reason, bool is_write, bool is_ir,
		     uint64_t addr, bool fpd)
{
	struct vtd_fault_log *f = &vtd->flog;
	bool print = false;

	if (reason == 0 || reason >= sizeof(f->st.by_reason) / sizeof(f->st.by_reason[0]))
		reason = RIOV_VTD_FR_CTX_INVALID; /* cannot happen: walkers return spec reasons only */
	flog_lock(f);
	f->st.by_reason[reason]++;
	if (fpd) {
		/* Fault Processing Disable (9.3 context FPD, 9.10 IRTE FPD): not recorded */
		f->st.suppressed++;
		goto out;
	}
	for (unsigned i = 0; i < f->count; i++) {
		struct riov_vtd_fault *r = &f->rec[(f->head + i) % f->size];
		if (r->sid == sid && r->reason == reason && r->addr == addr && r->is_ir == is_ir) {
			r->count++;
			f->st.collapsed++;
			goto out;
		}
	}
	if (f->count == f->size) {
		f->pfo = true; /* primary fault overflow (10.4.9 FSTS.PFO) */
		f->st.overflow++;
		goto out;
	}
	struct riov_vtd_fault *r = &f->rec[(f->head + f->count) % f->size];
	r->sid = sid;
	r->reason = (uint8_t)reason;
	r->is_write = is_write;
	r->is_ir = is_ir;
	r->addr = addr;
	r->count = 1;
	f->count++;
	f->st.recorded++;
	/* rate limit decided under the lock (the limiter is not thread-safe), printed outside it */
	print = riov_ratelimit_ok(&f->rl, 10, 5);
out:
	flog_unlock(f);
	if (print)
		RIOV_LOG(RIOV_LOG_WARN, "%s fault: sid %02x:%02x.%u reason 0x%02x %s 0x%llx",
			 is_ir ? "interrupt-remapping" : "DMA", sid >> 8, (sid >> 3) & 0x1f, sid & 7,
			 reason, is_ir ? "index" : (is_write ? "write" : "read"),
			 (unsigned long long)addr);
	return -(int)reason;
}

size_t riov_vtd_faults_read(struct riov_vtd *vtd, struct riov_vtd_fault *out, size_t n, bool clear)
{
	struct vtd_fault_log *f = &vtd->flog;
	size_t k;

	flog_lock(f);
	k = n < f->count ? n : f->count;
	for (size_t i = 0; i < k; i++)
		out[i] = f->rec[(f->head + i) % f->size];
	if (clear) {
		f->head = (unsigned)((f->head + k) % f->size);
		f->count -= (unsigned)k;
		if (f->count == 0)
			f->pfo = false;
	}
	flog_unlock(f);
	return k;
}

void riov_vtd_fault_stats(const struct riov_vtd *vtd, struct riov_vtd_fault_stats *st)
{
	struct vtd_fault_log *f = (struct vtd_fault_log *)&vtd->flog;

	flog_lock(f);
	*st = f->st;
	flog_unlock(f);
}

bool riov_vtd_fault_overflowed(const struct riov_vtd *vtd)
{
	return __atomic_load_n(&vtd->flog.pfo, __ATOMIC_RELAXED);
}
