/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's Intel VT-d model, DMA remapping: the unit (create/destroy), its domains with their
 * second-stage page tables (map/unmap), and inspection. The rest of DMA remapping is split by
 * seam: vtd_ctx.c (root and context tables), vtd_inv.c (invalidation: scrubbing the IOTLB and the
 * context cache) and vtd_xlate.c (translate(): context decode, the caches' lookups and fills, the
 * second-stage walk); interrupt remapping is vtd_ir.c, the fault log vtd_fault.c.
 *
 * Page-table memory: each domain holds at most table_limit table pages (vtd.h,
 * RIOV_VTD_DOMAIN_TABLE_PAGES_DEFAULT). A map counts the tables it needs before it writes
 * anything (map_tables_needed: arithmetic over the at most five runs of equal page size, O(levels)
 * whatever the length), so a request too large for the limit is refused with -ENOSPC having
 * changed nothing, and never costs more than the limit's worth of work; splitting a superpage on
 * unmap is held to the same limit.
 *
 * Security model: translate() is how every guest DMA address is turned into a host pointer, so a
 * guest controls iova, len and (through its driver) the access type; none of them is trusted. Page
 * tables and context entries are riov's own memory, written only by the control thread, but the
 * walker checks reserved bits and present bits exactly as the specification requires and never
 * follows a pointer it did not allocate (a root entry's CTP must be the bus's context table, a
 * context entry's SLPTPTR the root of the domain its DID names, with the domain's level count), so
 * even a corrupted entry faults instead of reading arbitrary memory. Faults are rate-limited in the
 * log and bounded in the fault log (vtd_fault.c).
 *
 * Concurrency (see vtd.h): programming calls come from one control thread; translate() runs in any
 * number of workers without locks. Entries are published with single 64-bit stores; context entries
 * (128 bits) are read under a seqlock. Tables a worker may still walk are reused or freed only after
 * cfg.synchronize(). Caches (IOTLB, context cache) are arrays of entries guarded by per-entry sequence
 * counters: a worker fills an entry only if it can take the counter with one CAS, and readers
 * validate the counter around their loads, so hits take no lock and write nothing shared. Every
 * invalidation first moves the generations of the source-ids it covers (vtd_inv.c: all of them
 * for a global one, the device's for a device-selective one, the domain's users for a domain- or
 * page-selective one), then scrubs the caches; a fill re-checks its requester's generation after
 * taking the entry, so a walk that raced with an invalidation never leaves a stale entry behind
 * (the store-buffer pattern with sequentially consistent fences on both sides). A cursor's cached
 * context and translations are valid only while their recorded generation equals its
 * source-id's: an invalidation of one domain leaves the cursors of devices in other domains
 * hitting.
 *
 * Spec references: Intel VT-d Architecture Specification rev. 4.x: 3.4 (legacy-mode address
 * translation), 3.7/3.8 (second-stage translation and its permissions), 6.1-6.2 (caching, CM),
 * 6.5 (invalidation), 7.1 (fault reasons), 9.1/9.3 (root and context entries), 9.8 (paging entries).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "iommu/vtd_internal.h"


/* ---------------------------------------------------------------------------------------------- */
/* small helpers */

static int ptrvec_push(uint64_t ***v, size_t *n, size_t *cap, uint64_t *p)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		uint64_t **nv = realloc(*v, nc * sizeof(**v));
		if (nv == NULL)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = p;
	return 0;
}

void riov_vtd_synchronize(struct riov_vtd *vtd)
{
	if (vtd->cfg.synchronize != NULL)
		vtd->cfg.synchronize(vtd->cfg.sync_arg);
}

/* control thread: the slot for did, allocating its page if asked (NULL: absent or no memory) */
static struct vtd_domain **dom_slot(struct riov_vtd *vtd, uint16_t did, bool alloc)
{
	struct vtd_domain **pg = vtd->domains[did >> 8];

	if (pg == NULL && alloc) {
		pg = calloc(256, sizeof(*pg));
		if (pg != NULL)
			__atomic_store_n(&vtd->domains[did >> 8], pg, __ATOMIC_RELEASE);
	}
	return pg != NULL ? &pg[did & 0xff] : NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* domain tables (control thread) */

static uint64_t *dom_table_alloc(struct vtd_domain *d)
{
	uint64_t *t;

	if (d->nfree > 0) {
		t = d->free[--d->nfree];
		memset(t, 0, VTD_PAGE_SIZE);
		return t;
	}
	t = aligned_alloc(VTD_PAGE_SIZE, VTD_PAGE_SIZE);
	if (t == NULL)
		return NULL;
	memset(t, 0, VTD_PAGE_SIZE);
	if (ptrvec_push(&d->tables, &d->ntables, &d->cap_tables, t) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

/* An unlinked table: workers may still be walking it until the next synchronize. If the pending
 * list cannot grow the table simply stays allocated until the domain is destroyed. */
static void dom_table_retire(struct vtd_domain *d, uint64_t *t)
{
	(void)ptrvec_push(&d->pending, &d->npending, &d->cap_pending, t);
}

static void dom_flush_pending(struct riov_vtd *vtd, struct vtd_domain *d)
{
	if (d->npending == 0)
		return;
	riov_vtd_synchronize(vtd);
	for (size_t i = 0; i < d->npending; i++)
		if (ptrvec_push(&d->free, &d->nfree, &d->cap_free, d->pending[i]) < 0)
			break; /* stays in d->tables: freed at destroy */
	d->npending = 0;
}

/* Retire a whole (empty) subtree below table t of level `level`; iterative, depth <= 5. */
static void dom_retire_subtree(struct vtd_domain *d, uint64_t *t, unsigned level)
{
	uint64_t *tab[6];
	unsigned idx[6];
	unsigned l = level;

	tab[l] = t;
	idx[l] = 0;
	for (;;) {
		if (idx[l] == VTD_PT_ENTRIES) {
			dom_table_retire(d, tab[l]);
			if (l == level)
				break;
			l++;
			idx[l]++;
			continue;
		}
		uint64_t e = tab[l][idx[l]];
		if (l > 1 && vtd_pte_present(e) && !vtd_pte_leaf(e, l)) {
			tab[l - 1] = vtd_pte_table(e);
			idx[l - 1] = 0;
			l--;
			continue;
		}
		idx[l]++;
	}
}

static bool table_empty(const uint64_t *t)
{
	for (unsigned i = 0; i < VTD_PT_ENTRIES; i++)
		if (vtd_pte_present(t[i]))
			return false;
	return true;
}

/* page-table pages in use: linked, and unlinked but not yet reusable (pending) */
static inline uint64_t dom_tables_used(const struct vtd_domain *d)
{
	return d->ntables - d->nfree;
}

static void domain_free(struct vtd_domain *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->ntables; i++)
		free(d->tables[i]);
	free(d->tables);
	free(d->free);
	free(d->pending);
	free(d);
}

/* ---------------------------------------------------------------------------------------------- */
/* create / destroy */

struct riov_vtd *riov_vtd_create(const struct riov_vtd_config *cfg)
{
	struct riov_vtd *vtd;

	if (cfg == NULL || (cfg->aw_bits != 39 && cfg->aw_bits != 48 && cfg->aw_bits != 57) ||
	    cfg->fault_log_size < 1 || cfg->fault_log_size > 65536 || cfg->irte_count < 1 ||
	    cfg->irte_count > 65536 || (cfg->irte_count & (cfg->irte_count - 1)) != 0 ||
	    (cfg->iotlb_entries != 0 &&
	     (cfg->iotlb_entries < VTD_IOTLB_WAYS || cfg->iotlb_entries > (1u << 24) ||
	      (cfg->iotlb_entries & (cfg->iotlb_entries - 1)) != 0))) {
		errno = EINVAL;
		return NULL;
	}
	vtd = aligned_alloc(64, (sizeof(*vtd) + 63) & ~(size_t)63);
	if (vtd == NULL)
		goto nomem;
	memset(vtd, 0, sizeof(*vtd));
	vtd->cfg = *cfg;
	vtd->max_levels = (cfg->aw_bits - 12) / 9;
	if (vtd->cfg.domain_table_pages == 0)
		vtd->cfg.domain_table_pages = RIOV_VTD_DOMAIN_TABLE_PAGES_DEFAULT;
	atomic_init(&vtd->gen, 1);
	vtd->root = aligned_alloc(VTD_PAGE_SIZE, VTD_PAGE_SIZE);
	vtd->iotlb_entries = cfg->iotlb_entries ? cfg->iotlb_entries : VTD_IOTLB_DEFAULT_ENTRIES;
	vtd->iotlb_hash_shift = 64 - (unsigned)__builtin_ctz(vtd->iotlb_entries / VTD_IOTLB_WAYS);
	vtd->iotlb = aligned_alloc(64, sizeof(*vtd->iotlb) * vtd->iotlb_entries);
	vtd->cc = aligned_alloc(64, sizeof(*vtd->cc) * VTD_CC_SIZE);
	if (vtd->root == NULL || vtd->iotlb == NULL || vtd->cc == NULL)
		goto fail;
	memset(vtd->root, 0, VTD_PAGE_SIZE);
	memset(vtd->iotlb, 0, sizeof(*vtd->iotlb) * vtd->iotlb_entries);
	memset(vtd->cc, 0, sizeof(*vtd->cc) * VTD_CC_SIZE);
	if (vtd_fault_init(vtd) < 0)
		goto fail;
	if (vtd_ir_init(vtd) < 0)
		goto fail;
	return vtd;
fail:
	riov_vtd_destroy(vtd);
nomem:
	errno = ENOMEM;
	return NULL;
}

void riov_vtd_destroy(struct riov_vtd *vtd)
{
	if (vtd == NULL)
		return;
	for (unsigned p = 0; p < 256; p++) {
		if (vtd->domains[p] == NULL)
			continue;
		for (unsigned i = 0; i < 256; i++)
			domain_free(vtd->domains[p][i]);
		free(vtd->domains[p]);
	}
	for (unsigned b = 0; b < 256; b++)
		free(vtd->ctx_tables[b]);
	free(vtd->root);
	free(vtd->iotlb);
	free(vtd->cc);
	vtd_gen_fini(vtd);
	vtd_fault_fini(vtd);
	vtd_ir_fini(vtd);
	free(vtd);
}

/* ---------------------------------------------------------------------------------------------- */
/* domains */

int riov_vtd_domain_create(struct riov_vtd *vtd, uint16_t did, unsigned levels)
{
	struct vtd_domain *d;

	if (did == 0 || levels < 3 || levels > vtd->max_levels)
		return -EINVAL;
	struct vtd_domain **slot = dom_slot(vtd, did, true);
	if (slot == NULL)
		return -ENOMEM;
	if (*slot != NULL)
		return -EEXIST;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->did = did;
	d->levels = levels;
	d->table_limit = vtd->cfg.domain_table_pages;
	d->root = dom_table_alloc(d);
	if (d->root == NULL) {
		domain_free(d);
		return -ENOMEM;
	}
	__atomic_store_n(slot, d, __ATOMIC_RELEASE);
	return 0;
}

int riov_vtd_domain_destroy(struct riov_vtd *vtd, uint16_t did)
{
	struct vtd_domain *d = vtd_dom_ctl(vtd, did);

	if (d == NULL)
		return -ENOENT;
	if (d->attached > 0)
		return -EBUSY;
	__atomic_store_n(dom_slot(vtd, did, false), NULL, __ATOMIC_RELEASE);
	/* Nothing cached may keep pointing at the domain's tables or struct: scrub, then wait. */
	vtd_inv_domain_gone(vtd, d);
	riov_vtd_synchronize(vtd);
	domain_free(d);
	return 0;
}

/* Where is iova? Returns true with the leaf's level if mapped, else false with the level of the
 * not-present entry (the whole VTD_LEVEL_SIZE(level) region around iova is empty). */
static bool dom_probe(const struct vtd_domain *d, uint64_t iova, unsigned *level)
{
	const uint64_t *t = d->root;

	for (unsigned l = d->levels;; l--) {
		uint64_t e = t[vtd_pte_idx(iova, l)];
		*level = l;
		if (!vtd_pte_present(e))
			return false;
		if (vtd_pte_leaf(e, l))
			return true;
		t = vtd_pte_table(e);
	}
}

static int dom_map_one(struct vtd_domain *d, uint64_t iova, uint64_t hpa, unsigned target,
		       unsigned perm)
{
	uint64_t *t = d->root;

	for (unsigned l = d->levels; l > target; l--) {
		uint64_t *p = &t[vtd_pte_idx(iova, l)];
		uint64_t e = *p;
		if (!vtd_pte_present(e)) {
			/* counted beforehand (map_tables_needed); this only keeps the limit if that
			 * count were ever short */
			if (dom_tables_used(d) >= d->table_limit)
				return -ENOSPC;
			uint64_t *nt = dom_table_alloc(d);
			if (nt == NULL)
				return -ENOMEM;
			/* non-leaf entries grant everything; the leaf decides (permissions AND, 3.7) */
			VTD_STORE_REL(p, (uint64_t)(uintptr_t)nt | VTD_SL_PTE_R | VTD_SL_PTE_W);
			t = nt;
			continue;
		}
		if (vtd_pte_leaf(e, l))
			return -EEXIST;
		t = vtd_pte_table(e);
	}
	uint64_t *p = &t[vtd_pte_idx(iova, target)];
	uint64_t e = *p;
	if (vtd_pte_present(e)) {
		if (vtd_pte_leaf(e, target))
			return -EEXIST;
		/* empty (checked by the caller) */
		dom_retire_subtree(d, vtd_pte_table(e), target - 1);
	}
	VTD_STORE_REL(p, hpa | perm | (target > 1 ? VTD_SL_PTE_PS : 0));
	return 0;
}

static inline uint64_t dom_limit(const struct vtd_domain *d)
{
	return 1ull << VTD_LEVEL_SHIFT(d->levels + 1);
}

/* The pages riov_vtd_map() writes for [iova, end) -> hpa: it takes the largest page that the
 * address and the remaining length allow, so the range falls into runs: 4 KiB pages, then (only
 * if iova and hpa are congruent modulo 2 MiB) 2 MiB pages over [a2, e2), inside which (if they
 * are congruent modulo 1 GiB too) 1 GiB pages over [a3, e3), then 4 KiB pages again. Empty runs
 * have a == e. */
struct map_plan {
	uint64_t a2, e2, a3, e3;
};

static void map_plan(uint64_t iova, uint64_t hpa, uint64_t end, struct map_plan *p)
{
	const uint64_t m2 = VTD_LEVEL_SIZE(2) - 1, m3 = VTD_LEVEL_SIZE(3) - 1;

	p->a2 = p->e2 = p->a3 = p->e3 = end;
	if (((iova ^ hpa) & m2) != 0 || iova > UINT64_MAX - m2)
		return;
	uint64_t a2 = (iova + m2) & ~m2, e2 = end & ~m2;
	if (a2 >= e2)
		return;
	p->a2 = a2;
	p->e2 = e2;
	if (((iova ^ hpa) & m3) != 0 || a2 > UINT64_MAX - m3)
		return;
	uint64_t a3 = (a2 + m3) & ~m3, e3 = e2 & ~m3;
	if (a3 < e3) {
		p->a3 = a3;
		p->e3 = e3;
	}
}

uint64_t riov_vtd_map_entries(uint64_t iova, uint64_t hpa, uint64_t len)
{
	struct map_plan p;

	if (len == 0 || iova > UINT64_MAX - len)
		return len == 0 ? 0 : UINT64_MAX;
	map_plan(iova, hpa, iova + len, &p);
	uint64_t big = p.e2 - p.a2, huge = p.e3 - p.a3;
	return ((len - big) >> VTD_LEVEL_SHIFT(1)) + ((big - huge) >> VTD_LEVEL_SHIFT(2)) +
	       (huge >> VTD_LEVEL_SHIFT(3));
}

/* Does the table of level `level` (entries of VTD_LEVEL_SIZE(level)) that covers addr exist? */
static bool dom_has_table(const struct vtd_domain *d, uint64_t addr, unsigned level)
{
	const uint64_t *t = d->root;

	for (unsigned l = d->levels; l > level; l--) {
		uint64_t e = t[vtd_pte_idx(addr, l)];
		if (!vtd_pte_present(e) || vtd_pte_leaf(e, l))
			return false;
		t = vtd_pte_table(e);
	}
	return true;
}

/* New tables of level `level` that pages in [s, e) need: one per VTD_LEVEL_SIZE(level + 1)
 * window, less the windows whose table exists. Only the first and the last window can reach
 * outside the (empty) range being mapped, so only theirs are looked up; a table wholly inside the
 * range can exist only empty (a leftover) and is counted as new: an overestimate, never short. */
static uint64_t run_tables(const struct vtd_domain *d, uint64_t s, uint64_t e, unsigned level)
{
	unsigned sh = VTD_LEVEL_SHIFT(level + 1);

	if (s >= e)
		return 0;
	uint64_t n = ((e - 1) >> sh) - (s >> sh) + 1;
	n -= dom_has_table(d, s, level);
	if (n > 0 && ((e - 1) >> sh) != (s >> sh))
		n -= dom_has_table(d, e - 1, level);
	return n;
}

/* Table pages riov_vtd_map() of [iova, end) -> hpa will allocate at most, the range being empty:
 * a table of level L is needed wherever a page of level <= L lies (L below the root). */
static uint64_t map_tables_needed(const struct vtd_domain *d, uint64_t iova, uint64_t hpa,
				  uint64_t end)
{
	struct map_plan p;
	uint64_t n = 0;

	map_plan(iova, hpa, end, &p);
	for (unsigned l = 1; l < d->levels; l++) {
		if (l == 1)        /* 4 KiB pages: around the 2 MiB-or-larger run */
			n += run_tables(d, iova, p.a2, l) + run_tables(d, p.e2, end, l);
		else if (l == 2)   /* 4 KiB and 2 MiB pages: around the 1 GiB run */
			n += run_tables(d, iova, p.a3, l) + run_tables(d, p.e3, end, l);
		else
			n += run_tables(d, iova, end, l);
	}
	return n;
}

int riov_vtd_unmap(struct riov_vtd *vtd, uint16_t did, uint64_t iova, uint64_t len);

int riov_vtd_map(struct riov_vtd *vtd, uint16_t did, uint64_t iova, uint64_t hpa, uint64_t len,
		 unsigned perm)
{
	struct vtd_domain *d = vtd_dom_ctl(vtd, did);
	uint64_t end = iova + len, a;
	int rc = 0;

	if (d == NULL)
		return -ENOENT;
	if (len == 0 || ((iova | hpa | len) & (VTD_PAGE_SIZE - 1)) || perm == 0 ||
	    (perm & ~(RIOV_VTD_READ | RIOV_VTD_WRITE)) || end < iova || end > dom_limit(d) ||
	    hpa + len < hpa || hpa + len > (1ull << VTD_HAW))
		return -EINVAL;
	/* nothing may be mapped in the range: nothing changes on -EEXIST */
	for (a = iova; a < end;) {
		unsigned l;
		if (dom_probe(d, a, &l))
			return -EEXIST;
		a = (a | (VTD_LEVEL_SIZE(l) - 1)) + 1;
		if (a == 0)
			break;
	}
	/* the page-table limit: counted before anything is written (nothing changes on -ENOSPC) */
	uint64_t need = map_tables_needed(d, iova, hpa, end), used = dom_tables_used(d);
	if (used > d->table_limit || need > d->table_limit - used) {
		d->table_refused++;
		return -ENOSPC;
	}
	unsigned sizes = 0;
	for (a = iova; a < end;) {
		uint64_t h = hpa + (a - iova), rem = end - a;
		unsigned target = 1;
		for (unsigned l = 3; l >= 2; l--) {
			uint64_t sz = VTD_LEVEL_SIZE(l);
			if (((a | h) & (sz - 1)) == 0 && rem >= sz) {
				target = l;
				break;
			}
		}
		rc = dom_map_one(d, a, h, target, perm);
		if (rc < 0)
			break;
		sizes |= 1u << (target - 1);
		a += VTD_LEVEL_SIZE(target);
	}
	if (rc < 0) {
		/* what this call mapped is whole pages inside [iova, a): no split, nothing lost */
		uint64_t mapped = d->mapped_bytes;   /* not counted yet: the undo must not uncount it */
		if (rc == -ENOSPC)
			d->table_refused++;
		if (a > iova)
			riov_vtd_unmap(vtd, did, iova, a - iova);
		d->mapped_bytes = mapped;
		dom_flush_pending(vtd, d);
		return rc;
	}
	d->mapped_bytes += len;
	atomic_fetch_or_explicit(&d->sizes, sizes, memory_order_relaxed);
	dom_flush_pending(vtd, d);
	return 0;
}

int riov_vtd_unmap(struct riov_vtd *vtd, uint16_t did, uint64_t iova, uint64_t len)
{
	struct vtd_domain *d = vtd_dom_ctl(vtd, did);
	uint64_t end = iova + len, a;
	int rc = 0;

	if (d == NULL)
		return -ENOENT;
	if (len == 0 || ((iova | len) & (VTD_PAGE_SIZE - 1)) || end < iova)
		return -EINVAL;
	if (end > dom_limit(d))
		end = dom_limit(d);
	for (a = iova; a < end;) {
		uint64_t *tab[6], next;
		unsigned l = d->levels;
		tab[l] = d->root;
		for (;;) {
			uint64_t *p = &tab[l][vtd_pte_idx(a, l)], e = *p, sz = VTD_LEVEL_SIZE(l);
			uint64_t base = a & ~(sz - 1);
			if (!vtd_pte_present(e)) {
				next = base + sz;
				break;
			}
			if (!vtd_pte_leaf(e, l)) {
				tab[l - 1] = vtd_pte_table(e);
				l--;
				continue;
			}
			if (base >= iova && base + sz <= end) {
				VTD_STORE_REL(p, 0);
				d->mapped_bytes -= d->mapped_bytes >= sz ? sz : d->mapped_bytes;
				next = base + sz;
				break;
			}
			/* split the superpage into the next level, same translation and bits; the
			 * new table counts against the domain's limit like any other */
			if (dom_tables_used(d) >= d->table_limit) {
				d->table_refused++;
				rc = -ENOSPC;
				goto out;
			}
			uint64_t *nt = dom_table_alloc(d);
			if (nt == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			uint64_t csz = VTD_LEVEL_SIZE(l - 1);
			uint64_t flags = e & ~(VTD_SL_PTE_ADDR | VTD_SL_PTE_PS);
			uint64_t addr = e & VTD_HAW_MASK & ~(sz - 1);
			for (unsigned i = 0; i < VTD_PT_ENTRIES; i++)
				nt[i] = (addr + i * csz) | flags | (l - 1 > 1 ? VTD_SL_PTE_PS : 0);
			atomic_fetch_or_explicit(&d->sizes, 1u << (l - 2), memory_order_relaxed);
			VTD_STORE_REL(p, (uint64_t)(uintptr_t)nt | VTD_SL_PTE_R | VTD_SL_PTE_W);
			tab[l - 1] = nt;
			l--;
		}
		/* drop tables left empty once the walk leaves them (never the root) */
		for (unsigned k = l; k < d->levels; k++) {
			uint64_t cover = VTD_LEVEL_SIZE(k + 1);
			if (next < end && (next & ~(cover - 1)) == (a & ~(cover - 1)))
				break;
			if (!table_empty(tab[k]))
				break;
			VTD_STORE_REL(&tab[k + 1][vtd_pte_idx(a, k + 1)], 0);
			dom_table_retire(d, tab[k]);
		}
		a = next;
		if (a == 0)
			break;
	}
out:
	dom_flush_pending(vtd, d);
	return rc;
}

uint64_t *vtd_raw_pte(struct riov_vtd *vtd, uint16_t did, uint64_t iova, unsigned level)
{
	struct vtd_domain *d = vtd_dom_ctl(vtd, did);
	uint64_t *t;

	if (d == NULL || level < 1 || level > d->levels)
		return NULL;
	t = d->root;
	for (unsigned l = d->levels; l > level; l--) {
		uint64_t e = t[vtd_pte_idx(iova, l)];
		if (!vtd_pte_present(e) || vtd_pte_leaf(e, l))
			return NULL;
		t = vtd_pte_table(e);
	}
	return &t[vtd_pte_idx(iova, level)];
}

/* ---------------------------------------------------------------------------------------------- */
/* inspection */

int riov_vtd_domain_info(const struct riov_vtd *vtd, uint16_t did, struct riov_vtd_domain_info *out)
{
	const struct vtd_domain *d = vtd_dom_ctl(vtd, did);

	if (d == NULL)
		return -ENOENT;
	out->did = did;
	out->levels = d->levels;
	out->mapped_bytes = d->mapped_bytes;
	out->table_pages = dom_tables_used(d);
	out->table_pages_max = d->table_limit;
	out->table_refused = d->table_refused;
	out->attached = d->attached;
	return 0;
}

int riov_vtd_domain_set_table_limit(struct riov_vtd *vtd, uint16_t did, uint64_t pages)
{
	struct vtd_domain *d = vtd_dom_ctl(vtd, did);

	if (d == NULL)
		return -ENOENT;
	if (pages == 0)
		return -EINVAL;
	d->table_limit = pages;
	return 0;
}

int riov_vtd_domain_walk(const struct riov_vtd *vtd, uint16_t did,
			 void (*fn)(void *arg, uint64_t iova, uint64_t hpa, uint64_t len, unsigned perm),
			 void *arg)
{
	const struct vtd_domain *d = vtd_dom_ctl(vtd, did);
	const uint64_t *tab[6];
	unsigned idx[6], l;
	uint64_t base[6];
	uint64_t r_iova = 0, r_hpa = 0, r_len = 0;
	unsigned r_perm = 0;

	if (d == NULL)
		return -ENOENT;
	l = d->levels;
	tab[l] = d->root;
	idx[l] = 0;
	base[l] = 0;
	for (;;) {
		if (idx[l] == VTD_PT_ENTRIES) {
			if (l == d->levels)
				break;
			l++;
			idx[l]++;
			continue;
		}
		uint64_t e = tab[l][idx[l]];
		uint64_t va = base[l] + (uint64_t)idx[l] * VTD_LEVEL_SIZE(l);
		if (!vtd_pte_present(e)) {
			idx[l]++;
			continue;
		}
		if (!vtd_pte_leaf(e, l)) {
			tab[l - 1] = vtd_pte_table(e);
			idx[l - 1] = 0;
			base[l - 1] = va;
			l--;
			continue;
		}
		uint64_t sz = VTD_LEVEL_SIZE(l), hpa = e & VTD_HAW_MASK & ~(sz - 1);
		unsigned perm = vtd_perm_of(e);
		if (r_len != 0 && r_iova + r_len == va && r_hpa + r_len == hpa && r_perm == perm) {
			r_len += sz;
		} else {
			if (r_len != 0)
				fn(arg, r_iova, r_hpa, r_len, r_perm);
			r_iova = va;
			r_hpa = hpa;
			r_len = sz;
			r_perm = perm;
		}
		idx[l]++;
	}
	if (r_len != 0)
		fn(arg, r_iova, r_hpa, r_len, r_perm);
	return 0;
}

struct dump_arg {
	FILE *f;
};

static void dump_cb(void *arg, uint64_t iova, uint64_t hpa, uint64_t len, unsigned perm)
{
	struct dump_arg *a = arg;

	fprintf(a->f, "  0x%012llx..0x%012llx -> 0x%012llx %c%c\n", (unsigned long long)iova,
		(unsigned long long)(iova + len - 1), (unsigned long long)hpa,
		(perm & RIOV_VTD_READ) ? 'r' : '-', (perm & RIOV_VTD_WRITE) ? 'w' : '-');
}

int riov_vtd_domain_dump(const struct riov_vtd *vtd, uint16_t did, FILE *f)
{
	struct riov_vtd_domain_info di;
	struct dump_arg a = { f };

	if (riov_vtd_domain_info(vtd, did, &di) < 0)
		return -ENOENT;
	fprintf(f, "domain %u: %u-level (%u-bit), %llu bytes mapped, %llu table pages, %u attached\n",
		did, di.levels, 12 + 9 * di.levels, (unsigned long long)di.mapped_bytes,
		(unsigned long long)di.table_pages, di.attached);
	return riov_vtd_domain_walk(vtd, did, dump_cb, &a);
}
