/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's Intel VT-d model, invalidation (VT-d 6.5): context-cache and IOTLB invalidation (global,
 * device, domain, page-selective), the scrub a destroyed domain needs, and the invalidation
 * generations that tell the workers' cursors what an invalidation covered.
 *
 * Generations: a cursor (riov_vtd_cursor) caches its source-id's context and recent translations,
 * valid while its stamp equals one word, its source-id's generation (struct vtd_sgen; the unit's
 * word `gen` before the bus has a context table). An invalidation moves the words of the
 * source-ids it covers, scrubs the caches, and moves them again, so that no translate() that
 * starts afterwards uses what was invalidated (the protocol is described at the top of vtd.c):
 *   global (context or IOTLB)       every source-id's word
 *   context, device-selective       that source-id's word
 *   IOTLB, domain- or page-selective the words of the domain's users (struct vtd_users)
 * and every one moves the unit's word. A domain's users are the source-ids a context entry naming
 * it was written for (vtd_gen_link, before the entry is published); a source-id leaves a domain's
 * list only at its next context invalidation, once no cached context can name the domain any more
 * (vtd_gen_unlink). So one guest's IOTLB updates cost its own cursors their cached translations
 * and leave every other device's cursors hitting.
 *
 * Security model: called by the control thread with values vmm/ or the API validated; the caches
 * scrubbed here are riov's own memory. A guest's invalidation storm costs it time, not riov memory:
 * the users lists grow only with context entries (written by riovd, not guests), at most
 * VTD_LINKS per source-id between two context invalidations before the list search takes over.
 *
 * Thread rules: control thread only; runs concurrently with translate() in the workers. Clearing
 * an entry a worker is filling waits for that fill (a few ns, sched_yield()).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

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

/* ---------------------------------------------------------------------------------------------- */
/* generations */

/* The control thread is the only writer of the generation words: a plain increment, published
 * by the fence in gens_published(). */
static inline void word_bump(_Atomic uint64_t *w)
{
	atomic_store_explicit(w, atomic_load_explicit(w, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static inline void sgen_bump(struct vtd_sgen *sg, uint64_t start, uint64_t end)
{
	uint64_t g = atomic_load_explicit(&sg->gen, memory_order_relaxed) + 1;
	struct vtd_inv_rec *r = &sg->log[g % VTD_INV_LOG];

	atomic_store_explicit(&r->gen, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&r->start, start, memory_order_relaxed);
	atomic_store_explicit(&r->end, end, memory_order_relaxed);
	atomic_store_explicit(&r->gen, g, memory_order_release);
	atomic_store_explicit(&sg->gen, g, memory_order_release);
}

/* After the words moved and before the caches are read (the store-buffer pattern of vtd.c). */
static inline void gens_published(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}

static void bump_sid(struct riov_vtd *vtd, uint16_t sid)
{
	struct vtd_sgen *pg = vtd->sgen[sid >> 8];

	word_bump(&vtd->gen);
	if (pg != NULL)
		sgen_bump(&pg[sid & 0xff], 0, 0);
	gens_published();
}

static void bump_all(struct riov_vtd *vtd)
{
	word_bump(&vtd->gen);
	for (unsigned b = 0; b < 256; b++) {
		struct vtd_sgen *pg = vtd->sgen[b];
		if (pg == NULL)
			continue;
		for (unsigned i = 0; i < 256; i++)
			sgen_bump(&pg[i], 0, 0);
	}
	gens_published();
}

static struct vtd_users *users_of(const struct riov_vtd *vtd, uint16_t did)
{
	struct vtd_users *pg = vtd->users[did >> 8];
	return pg != NULL ? &pg[did & 0xff] : NULL;
}

static bool did_is_sids_iova(const struct riov_vtd *vtd, uint16_t did, uint16_t sid)
{
	const struct vtd_ctx_table *ct = vtd->ctx_tables[sid >> 8];
	if (ct == NULL)
		return false;
	uint64_t lo = ct->ent[sid & 0xff][0], hi = ct->ent[sid & 0xff][1];
	uint16_t d = (uint16_t)((hi & VTD_CTX_HI_DID) >> VTD_CTX_HI_DID_SHIFT);
	if (!(lo & VTD_CTX_LO_P))
		return false;
	if (hi & VTD_CTX_HI_RIOV_NESTED)
		return ct->ext[sid & 0xff].s1_did == did && d != did;
	return d == did;
}

static void bump_did_range(struct riov_vtd *vtd, uint16_t did, uint64_t start, uint64_t end)
{
	const struct vtd_users *u = users_of(vtd, did);

	word_bump(&vtd->gen);
	for (uint32_t i = 0; u != NULL && i < u->n; i++) {
		uint16_t sid = u->sid[i];
		struct vtd_sgen *pg = vtd->sgen[sid >> 8];
		if (pg == NULL)
			continue;
		bool own = end != 0 && did_is_sids_iova(vtd, did, sid);
		sgen_bump(&pg[sid & 0xff], own ? start : 0, own ? end : 0);
	}
	gens_published();
}

static void bump_did(struct riov_vtd *vtd, uint16_t did)
{
	bump_did_range(vtd, did, 0, 0);
}

int vtd_gen_bus_alloc(struct riov_vtd *vtd, uint8_t bus)
{
	struct vtd_sgen *pg;

	if (vtd->sgen[bus] != NULL)
		return 0;
	pg = aligned_alloc(64, 256 * sizeof(*pg));
	if (pg == NULL)
		return -ENOMEM;
	memset(pg, 0, 256 * sizeof(*pg));
	for (unsigned i = 0; i < 256; i++)
		atomic_init(&pg[i].gen, 1);   /* cursors start at 0: empty */
	__atomic_store_n(&vtd->sgen[bus], pg, __ATOMIC_RELEASE);
	return 0;
}

/* The domain ids translate() may use for the context entry (lo, hi) with first-stage did s1
 * (ctx_decode): its DID if present, and s1 if nested. Returns how many (0..2) are in out. */
static unsigned entry_dids(uint64_t lo, uint64_t hi, uint16_t s1, uint16_t out[2])
{
	unsigned n = 0;

	if (!(lo & VTD_CTX_LO_P))
		return 0;
	out[n++] = (uint16_t)((hi & VTD_CTX_HI_DID) >> VTD_CTX_HI_DID_SHIFT);
	if ((hi & VTD_CTX_HI_RIOV_NESTED) && s1 != out[0])
		out[n++] = s1;
	return n;
}

static bool in_list(const uint16_t *v, unsigned n, uint16_t x)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static int users_add(struct riov_vtd *vtd, uint16_t did, uint16_t sid)
{
	struct vtd_users *pg = vtd->users[did >> 8], *u;

	if (pg == NULL) {
		pg = calloc(256, sizeof(*pg));
		if (pg == NULL)
			return -ENOMEM;
		vtd->users[did >> 8] = pg;
	}
	u = &pg[did & 0xff];
	for (uint32_t i = 0; i < u->n; i++)
		if (u->sid[i] == sid)
			return 0;
	if (u->n == u->cap) {
		uint32_t nc = u->cap ? 2 * u->cap : 4;
		uint16_t *ns = realloc(u->sid, nc * sizeof(*ns));
		if (ns == NULL)
			return -ENOMEM;
		u->sid = ns;
		u->cap = nc;
	}
	u->sid[u->n++] = sid;
	return 0;
}

static void users_del(struct riov_vtd *vtd, uint16_t did, uint16_t sid)
{
	struct vtd_users *u = users_of(vtd, did);

	for (uint32_t i = 0; u != NULL && i < u->n; i++)
		if (u->sid[i] == sid) {
			u->sid[i] = u->sid[--u->n];
			return;
		}
}

int vtd_gen_link(struct riov_vtd *vtd, uint16_t sid, uint64_t lo, uint64_t hi, uint16_t s1)
{
	struct vtd_ctx_table *ct = vtd->ctx_tables[sid >> 8];
	struct vtd_ctx_ext *x = &ct->ext[sid & 0xff];
	uint16_t d[2];
	unsigned n = entry_dids(lo, hi, s1, d);

	for (unsigned i = 0; i < n; i++) {
		if (!x->lk_lost && in_list(x->lk, x->nlk, d[i]))
			continue;
		int rc = users_add(vtd, d[i], sid);
		if (rc < 0)
			return rc;
		if (x->nlk < VTD_LINKS && !in_list(x->lk, x->nlk, d[i]))
			x->lk[x->nlk++] = d[i];
		else if (!in_list(x->lk, x->nlk, d[i]))
			x->lk_lost = 1;
	}
	return 0;
}

/* After a context invalidation covering sid: its cursors and the context cache have forgotten
 * every earlier entry, so sid stays only in the lists of the domain ids its entry names now. */
static void vtd_gen_unlink(struct riov_vtd *vtd, uint16_t sid)
{
	struct vtd_ctx_table *ct = vtd->ctx_tables[sid >> 8];
	struct vtd_ctx_ext *x;
	uint16_t cur[2];
	unsigned n;

	if (ct == NULL)
		return;
	x = &ct->ext[sid & 0xff];
	if (x->nlk == 0 && !x->lk_lost)
		return;
	n = entry_dids(ct->ent[sid & 0xff][0], ct->ent[sid & 0xff][1], x->s1_did, cur);
	if (x->lk_lost) {
		for (unsigned p = 0; p < 256; p++)
			for (unsigned i = 0; vtd->users[p] != NULL && i < 256; i++)
				if (!in_list(cur, n, (uint16_t)(p << 8 | i)))
					users_del(vtd, (uint16_t)(p << 8 | i), sid);
	} else {
		for (unsigned i = 0; i < x->nlk; i++)
			if (!in_list(cur, n, x->lk[i]))
				users_del(vtd, x->lk[i], sid);
	}
	/* what it names now was linked when it was written */
	for (unsigned i = 0; i < n; i++)
		x->lk[i] = cur[i];
	x->nlk = (uint8_t)n;
	x->lk_lost = 0;
}

void vtd_gen_fini(struct riov_vtd *vtd)
{
	for (unsigned p = 0; p < 256; p++) {
		if (vtd->users[p] != NULL)
			for (unsigned i = 0; i < 256; i++)
				free(vtd->users[p][i].sid);
		free(vtd->users[p]);
		free(vtd->sgen[p]);
		vtd->users[p] = NULL;
		vtd->sgen[p] = NULL;
	}
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

/* Each invalidation: move the generations it covers, scrub, move them again. The second move
 * retires what a translation that began between the first one and the end of the scrub may have
 * found not yet scrubbed and kept in its cursor under the new generation. */

void riov_vtd_inv_context_global(struct riov_vtd *vtd)
{
	bump_all(vtd);
	for (unsigned i = 0; i < VTD_CC_SIZE; i++)
		cc_clear_if(&vtd->cc[i], -1, NULL);
	bump_all(vtd);
	for (unsigned b = 0; b < 256; b++)
		for (unsigned i = 0; vtd->ctx_tables[b] != NULL && i < 256; i++)
			vtd_gen_unlink(vtd, (uint16_t)(b << 8 | i));
}

void riov_vtd_inv_context_device(struct riov_vtd *vtd, uint16_t sid)
{
	bump_sid(vtd, sid);
	cc_clear_if(vtd_cc_slot(vtd, sid), sid, NULL);
	bump_sid(vtd, sid);
	vtd_gen_unlink(vtd, sid);
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
	bump_all(vtd);
	iotlb_scrub(vtd, match_all, NULL);
	bump_all(vtd);
}

void riov_vtd_inv_iotlb_domain(struct riov_vtd *vtd, uint16_t did)
{
	bump_did(vtd, did);
	iotlb_scrub(vtd, match_did, &did);
	bump_did(vtd, did);
}

int riov_vtd_inv_iotlb_page(struct riov_vtd *vtd, uint16_t did, uint64_t addr, unsigned am)
{
	struct inv_page_arg a;

	if (am > 18 || (addr & ((VTD_PAGE_SIZE << am) - 1)) != 0)
		return -EINVAL;
	a.did = did;
	a.start = addr;
	a.end = addr + (VTD_PAGE_SIZE << am);
	bump_did_range(vtd, did, a.start, a.end);
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
		bump_did_range(vtd, did, a.start, a.end);
		return 0;
	}
	iotlb_scrub(vtd, match_page, &a);
	bump_did_range(vtd, did, a.start, a.end);
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

	/* cursors holding d (its users) must not reach it through their copy of the context */
	bump_did(vtd, did);
	for (unsigned i = 0; i < VTD_CC_SIZE; i++)
		cc_clear_if(&vtd->cc[i], -1, d);
	iotlb_scrub(vtd, match_dom_any, &did);
	bump_did(vtd, did);
}
