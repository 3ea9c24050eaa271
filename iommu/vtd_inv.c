/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's Intel VT-d model, invalidation (VT-d 6.5): context-cache and IOTLB invalidation (global,
 * device, domain, page-selective), and the scrub a destroyed domain needs. Each one bumps the
 * unit's generation, scrubs the caches, and bumps it again, so that no translate() that starts
 * afterwards uses what was invalidated (the protocol is described at the top of vtd.c).
 *
 * Security model: called by the control thread with values vmm/ or the API validated; the caches
 * scrubbed here are riov's own memory. A guest's invalidation storm costs it time, not riov memory.
 *
 * Thread rules: control thread only; runs concurrently with translate() in the workers. Clearing
 * an entry a worker is filling waits for that fill (a few ns, sched_yield()).
 */
#include <errno.h>
#include <sched.h>

#include "iommu/vtd_internal.h"

/* Control thread: clear an entry (waits for a worker that is mid-fill; that takes a few ns).
 * Always inlined so each scrub gets its match function inlined (a scan is 4096 entries). */
static inline __attribute__((always_inline)) void
cache_clear_iotlb_if(struct riov_vtd *vtd, struct vtd_iotlb_ent *e,
		     bool (*match)(uint64_t tag, uint64_t key, const void *arg), const void *arg)
{
	for (;;) {
		uint32_t s = atomic_load_explicit(&e->seq, memory_order_acquire);
		if (s & 1) {
			sched_yield();
			continue;
		}
		uint64_t tag = VTD_LOAD(&e->tag), key = VTD_LOAD(&e->key);
		if (tag == 0 || !match(tag, key, arg))
			return;
		if (!atomic_compare_exchange_strong(&e->seq, &s, s + 1))
			continue;
		VTD_STORE(&e->tag, 0);
		atomic_store_explicit(&e->seq, s + 2, memory_order_release);
		return;
	}
}

/* Every invalidation starts here: new generation first, then the scrub (see the file comment). */
static void gen_bump(struct riov_vtd *vtd)
{
	atomic_fetch_add_explicit(&vtd->gen, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
}

/* ... and ends here: a translation that began between the first bump and the end of the scrub
 * may have found an entry not yet scrubbed and kept it in its cursor under the new generation;
 * one more generation retires what it kept. */
static void inv_end(struct riov_vtd *vtd)
{
	gen_bump(vtd);
}

static inline __attribute__((always_inline)) void iotlb_scrub(struct riov_vtd *vtd,
			bool (*match)(uint64_t tag, uint64_t key, const void *arg), const void *arg)
{
	for (unsigned i = 0; i < vtd->iotlb_entries; i++)
		cache_clear_iotlb_if(vtd, &vtd->iotlb[i], match, arg);
}

/* context cache */

static void cc_clear_if(struct vtd_cc_ent *e, int sid, const struct vtd_domain *dom)
{
	for (;;) {
		uint32_t s = atomic_load_explicit(&e->seq, memory_order_acquire);
		if (s & 1) {
			sched_yield();
			continue;
		}
		uint32_t sv = VTD_LOAD(&e->sid_valid);
		if (sv == 0)
			return;
		if (sid >= 0 && sv != ((uint32_t)sid | 0x10000u))
			return;
		if (dom != NULL && VTD_LOAD(&e->dom) != dom && VTD_LOAD(&e->dom1) != dom)
			return;
		if (!atomic_compare_exchange_strong(&e->seq, &s, s + 1))
			continue;
		VTD_STORE(&e->sid_valid, 0);
		atomic_store_explicit(&e->seq, s + 2, memory_order_release);
		return;
	}
}

/* ---------------------------------------------------------------------------------------------- */
/* invalidation (VT-d 6.5) */

void riov_vtd_inv_context_global(struct riov_vtd *vtd)
{
	gen_bump(vtd);
	for (unsigned i = 0; i < VTD_CC_SIZE; i++)
		cc_clear_if(&vtd->cc[i], -1, NULL);
	inv_end(vtd);
}

void riov_vtd_inv_context_device(struct riov_vtd *vtd, uint16_t sid)
{
	gen_bump(vtd);
	cc_clear_if(vtd_cc_slot(vtd, sid), sid, NULL);
	inv_end(vtd);
}

static bool match_all(uint64_t tag, uint64_t key, const void *arg)
{
	return true;
}

static inline bool tag_uses_did(uint64_t tag, uint16_t did)
{
	return (uint16_t)tag == did || ((tag & VTD_TAG_NESTED) && (uint16_t)(tag >> 16) == did);
}

static bool match_did(uint64_t tag, uint64_t key, const void *arg)
{
	return tag_uses_did(tag, *(const uint16_t *)arg);
}

struct inv_page_arg {
	uint16_t did;
	uint64_t start, end;
};

static bool match_page(uint64_t tag, uint64_t key, const void *arg)
{
	const struct inv_page_arg *a = arg;
	uint64_t base = key & ~0xfffull, size = 1ull << (key & 0xfff);

	if ((tag & VTD_TAG_NESTED) && (uint16_t)(tag >> 16) == a->did)
		return true; /* keyed by iova, the range is guest-physical: drop them all (allowed, 6.5) */
	return (uint16_t)tag == a->did && base < a->end && base + size > a->start;
}

void riov_vtd_inv_iotlb_global(struct riov_vtd *vtd)
{
	gen_bump(vtd);
	iotlb_scrub(vtd, match_all, NULL);
	inv_end(vtd);
}

void riov_vtd_inv_iotlb_domain(struct riov_vtd *vtd, uint16_t did)
{
	gen_bump(vtd);
	iotlb_scrub(vtd, match_did, &did);
	inv_end(vtd);
}

int riov_vtd_inv_iotlb_page(struct riov_vtd *vtd, uint16_t did, uint64_t addr, unsigned am)
{
	struct inv_page_arg a;

	if (am > 18 || (addr & ((VTD_PAGE_SIZE << am) - 1)) != 0)
		return -EINVAL;
	a.did = did;
	a.start = addr;
	a.end = addr + (VTD_PAGE_SIZE << am);
	gen_bump(vtd);
	struct vtd_domain *d = vtd_dom_get(vtd, did);
	if (am <= 6 && d != NULL && !VTD_LOAD(&d->nested_used)) {
		/* Targeted: probe the sets that can hold an entry overlapping the range, for every
		 * page size and every tag form that names this domain without nesting. */
		static const unsigned shifts[3] = { 12, 21, 30 };
		for (unsigned i = 0; i < 3; i++) {
			uint64_t sz = 1ull << shifts[i];
			for (uint64_t p = a.start & ~(sz - 1); p < a.end; p += sz) {
				struct vtd_iotlb_ent *set = vtd_iotlb_set(vtd, VTD_TAG_VALID | did,
								      p | shifts[i]);
				for (unsigned w = 0; w < VTD_IOTLB_WAYS; w++)
					cache_clear_iotlb_if(vtd, &set[w], match_page, &a);
			}
		}
		inv_end(vtd);
		return 0;
	}
	iotlb_scrub(vtd, match_page, &a);
	inv_end(vtd);
	return 0;
}

static bool match_dom_any(uint64_t tag, uint64_t key, const void *arg)
{
	uint16_t did = *(const uint16_t *)arg;
	/* nested entries carry the first-stage did in the low half */
	return tag_uses_did(tag, did);
}

/* riov_vtd_domain_destroy(): once d is unlinked, nothing cached may keep pointing at its tables
 * or at d itself (context-cache entries naming it, IOTLB entries tagged with its did). */
void vtd_inv_domain_gone(struct riov_vtd *vtd, const struct vtd_domain *d)
{
	uint16_t did = d->did;

	gen_bump(vtd);
	for (unsigned i = 0; i < VTD_CC_SIZE; i++)
		cc_clear_if(&vtd->cc[i], -1, d);
	iotlb_scrub(vtd, match_dom_any, &did);
	inv_end(vtd);
}
