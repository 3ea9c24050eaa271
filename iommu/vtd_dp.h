/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VT-d model's hardware face: what the dataplane calls per DMA and per interrupt.
 * Worker threads, any number at once; no locks and no allocation on an IOTLB hit.
 */
#ifndef RIOV_IOMMU_VTD_DP_H
#define RIOV_IOMMU_VTD_DP_H

#include <stdbool.h>
#include <stdint.h>

#define RIOV_VTD_READ  1u
#define RIOV_VTD_WRITE 2u

struct riov_vtd;
struct vtd_domain;

/* Per-queue translation cursor: owned by exactly one worker; holds the requester's source-id, a
 * last-hit cache (one translated page or superpage) and counters the control thread may read.
 * What it caches is valid while stamped with the current value of its source-id's invalidation
 * generation (*genp), which only invalidations covering this source-id move: a global one, a
 * device-selective context invalidation of it, a domain- or page-selective IOTLB invalidation of
 * a domain its context entry names (or named before its last context invalidation). A
 * page-selective invalidation of the source-id's own addresses also records its range: the first
 * miss after the generation moved restamps the entries no recorded range covers (vtd_xlate.c,
 * cursor_sweep). */
struct riov_vtd_cursor {
	struct riov_vtd *vtd;
	uint16_t sid;
	/* last hit: valid while gen equals *genp */
	uint64_t gen;
	uint64_t base;        /* iova of the cached page */
	uint64_t mask;        /* page size - 1 (0 = empty) */
	uint64_t hbase;       /* host address of the cached page */
	unsigned perm;
	/* counters (worker writes, control reads) */
	uint64_t hits;
	uint64_t misses;
	uint64_t faults;
	/* the requester's decoded context entry, valid while ctx_gen equals *genp (saves the
	 * context-cache lookup on a last-hit miss); internal to iommu/ */
	uint64_t ctx_gen;
	uint64_t ctx_info;
	struct vtd_domain *ctx_dom, *ctx_dom1;
	/* recent hits by 2 MiB region (a guest's buffers spread over many pages; one entry alone
	 * missed most of the time): slot (iova >> 21) % RIOV_VTD_CURSOR_SLOTS, each valid while its
	 * gen equals *genp */
	struct riov_vtd_cursor_slot {
		uint64_t gen;
		uint64_t base;
		uint64_t mask;
		uint64_t hbase;
		unsigned perm;
	} slot[64];
	/* the source-id's invalidation generation (for the inline hit; a caller that waits for an
	 * invalidation of this device, e.g. after -RIOV_VTD_IOTLB_MISS, waits for it to move). Until
	 * the source-id's bus has a context table, the unit's, which every invalidation moves. */
	const volatile uint64_t *genp;
	uint64_t swept;       /* the generation every entry stamped with was last checked against */
	/* recent hits on 4 KiB pages, by page (a vIOMMU guest's first stage maps its buffers in
	 * 4 KiB pages, a 2 MiB region's slot above then held one of them at a time and missed every
	 * other buffer): page[(iova >> 12) % RIOV_VTD_CURSOR_PAGES], 1 MiB of them, each valid while
	 * its gen equals *genp. Only 4 KiB results go here, bigger pages to slot[]. */
	struct riov_vtd_cursor_page {
		uint64_t gen;
		uint64_t base;        /* iova of the page | its RIOV_VTD_READ/WRITE permissions */
		uint64_t hbase;       /* host address of the page */
	} page[256];
};
#define RIOV_VTD_CURSOR_SLOTS 64
#define RIOV_VTD_CURSOR_PAGES 256

/** Initialise a cursor for requests from source-id sid. Any thread. */
void riov_vtd_cursor_init(struct riov_vtd_cursor *c, struct riov_vtd *vtd, uint16_t sid);

/** Translate [iova, iova+len) for access (RIOV_VTD_READ and/or RIOV_VTD_WRITE; 0 checks only that
 *  something is mapped), len >= 1. Returns 0 with *hva = host address of iova and *mapped = bytes
 *  contiguous from iova within one page (1..len): callers loop over partial mappings. Returns
 *  -reason (RIOV_VTD_FR_*) on a fault, also when FPD kept it out of the fault log; recorded
 *  subject to FPD and collapsing. A nested context's empty first stage is no fault: it returns
 *  -RIOV_VTD_IOTLB_MISS and records nothing (ask the front-end, retry after an invalidation). Worker thread; no lock, allocation or system call (a fault
 *  takes the fault log's spinlock and may print a rate-limited line).
 *  Cost: a last-hit in a few ns, an IOTLB hit in ~10-20 ns, a walk in tens of ns. */
int riov_vtd_translate(struct riov_vtd_cursor *c, uint64_t iova, uint64_t len, unsigned access,
		       void **hva, uint64_t *mapped);

/** The cursor's hit path alone: true with *hva and *mapped as riov_vtd_translate() would give
 *  them when [iova, iova+len) starts in a page a cursor slot holds for `access`; false (nothing
 *  counted, nothing recorded) when the full translation is needed. */
static inline bool riov_vtd_cursor_hit(struct riov_vtd_cursor *c, uint64_t iova, uint64_t len,
				       unsigned access, void **hva, uint64_t *mapped)
{
	const struct riov_vtd_cursor_slot *sl = &c->slot[(iova >> 21) % RIOV_VTD_CURSOR_SLOTS];
	uint64_t g = __atomic_load_n(c->genp, __ATOMIC_ACQUIRE);

	if (__builtin_expect(sl->gen == g && (iova & ~sl->mask) == sl->base && (access & ~sl->perm) == 0,
			     1)) {
		uint64_t m = sl->base + sl->mask + 1 - iova;
		c->hits++;
		*mapped = m < len ? m : len;
		*hva = (void *)(uintptr_t)(sl->hbase + (iova - sl->base));
		return true;
	}
	const struct riov_vtd_cursor_page *pg = &c->page[(iova >> 12) % RIOV_VTD_CURSOR_PAGES];
	if (pg->gen == g && ((pg->base ^ iova) & ~0xfffull) == 0 && (access & ~pg->base & 3) == 0) {
		uint64_t m = 0x1000 - (iova & 0xfff);
		c->hits++;
		*mapped = m < len ? m : len;
		*hva = (void *)(uintptr_t)(pg->hbase + (iova & 0xfff));
		return true;
	}
	return false;
}

/** riov_vtd_translate() with the cursor's hit path inlined into the caller (the dataplane's
 *  per-buffer call): same arguments, same results. */
static inline int riov_vtd_translate_inline(struct riov_vtd_cursor *c, uint64_t iova, uint64_t len,
					    unsigned access, void **hva, uint64_t *mapped)
{
	if (riov_vtd_cursor_hit(c, iova, len, access, hva, mapped))
		return 0;
	return riov_vtd_translate(c, iova, len, access, hva, mapped);
}

/** Deliver an interrupt from source-id sid with remappable MSI address/data (VT-d 5.1.2): look up
 *  the IRTE, validate the source, then write the entry's eventfd (remapped format, subject to
 *  coalescing) or post it (posted format). Returns 0 or -reason (0x20..0x26). */
int riov_vtd_irq_raise(struct riov_vtd *vtd, uint16_t sid, uint64_t msi_addr, uint32_t msi_data);

/** Deliver every remapped interrupt that coalescing held back (call from a timer or a worker's idle
 *  loop, any thread). Returns how many eventfds were written. */
unsigned riov_vtd_irq_flush(struct riov_vtd *vtd);

#endif
