/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's Intel VT-d model, DMA translation (VT-d 3.4, 3.7-3.8): translate() for a worker's cursor,
 * with what its miss path needs in this one file so that it compiles as before: the context decode
 * under the seqlock, the context cache and IOTLB lookups and fills, and the second-stage walk (and
 * the nested first stage). Invalidation of these caches is vtd_inv.c.
 *
 * Security model: a guest controls iova, len and the access type, none of them trusted; entries
 * are checked for reserved and present bits before use and no pointer is followed that riov did
 * not allocate (see vtd.c). A fault returns -reason through the one reporter (vtd_fault.c).
 *
 * Thread rules: worker threads, any number at once; no lock, allocation or system call on a hit or
 * a walk. Cache entries are filled under their per-entry sequence counters (top of vtd.c).
 */
#include <string.h>

#include "iommu/vtd_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() do { } while (0)
#endif

#define likely(x) __builtin_expect(!!(x), 1)

/* ---------------------------------------------------------------------------------------------- */
/* caches: IOTLB and context cache (the worker's side) */

struct vtd_xlate {
	uint64_t base;   /* iova of the page */
	uint64_t hbase;  /* host address of the page */
	unsigned shift;  /* page size log2 */
	unsigned perm;
};

/* Lock-free lookup: a hit is an entry whose seq was even and unchanged around the loads. */
static bool iotlb_lookup_one(const struct riov_vtd *vtd, uint64_t tag, uint64_t key,
			     struct vtd_xlate *x)
{
	struct vtd_iotlb_ent *set = vtd_iotlb_set(vtd, tag, key);

	for (unsigned w = 0; w < VTD_IOTLB_WAYS; w++) {
		struct vtd_iotlb_ent *e = &set[w];
		uint32_t s = atomic_load_explicit(&e->seq, memory_order_acquire);
		if (VTD_LOAD(&e->tag) != tag || VTD_LOAD(&e->key) != key)
			continue;
		uint64_t hb = VTD_LOAD(&e->hbase);
		unsigned perm = VTD_LOAD(&e->perm);
		atomic_thread_fence(memory_order_acquire);
		if ((s & 1) || atomic_load_explicit(&e->seq, memory_order_relaxed) != s)
			return false;
		x->base = key & ~0xfffull;
		x->shift = (unsigned)(key & 0xfff);
		x->hbase = hb;
		x->perm = perm;
		return true;
	}
	return false;
}

static bool iotlb_lookup(const struct riov_vtd *vtd, uint64_t tag, unsigned sizes, uint64_t iova,
			 struct vtd_xlate *x)
{
	static const unsigned shifts[3] = { 12, 21, 30 };

	for (unsigned i = 0; i < 3; i++) {
		if (!(sizes & (1u << i)))
			continue;
		unsigned sh = shifts[i];
		uint64_t key = (iova & ~((1ull << sh) - 1)) | sh;
		if (iotlb_lookup_one(vtd, tag, key, x))
			return true;
	}
	return false;
}

/* Fill one entry if it can be taken without waiting; discard it again if an invalidation that
 * covers the requester (its generation *gp) started after this translation's walk began (g0), so
 * no stale entry outlives the invalidation. */
static void iotlb_fill(struct riov_vtd *vtd, uint64_t tag, const struct vtd_xlate *x, uint64_t g0,
		       const volatile uint64_t *gp, unsigned victim)
{
	uint64_t key = x->base | x->shift;
	struct vtd_iotlb_ent *set = vtd_iotlb_set(vtd, tag, key), *e = NULL;

	for (unsigned w = 0; w < VTD_IOTLB_WAYS; w++)
		if (VTD_LOAD(&set[w].tag) == 0) {
			e = &set[w];
			break;
		}
	if (e == NULL)
		e = &set[victim & (VTD_IOTLB_WAYS - 1)];
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);
	if ((s & 1) || !atomic_compare_exchange_strong(&e->seq, &s, s + 1))
		return; /* another worker is filling it: skip */
	atomic_thread_fence(memory_order_release);
	VTD_STORE(&e->key, key);
	VTD_STORE(&e->hbase, x->hbase);
	VTD_STORE(&e->perm, x->perm);
	VTD_STORE(&e->tag, tag);
	atomic_thread_fence(memory_order_seq_cst);
	if (__atomic_load_n(gp, __ATOMIC_RELAXED) != g0)
		VTD_STORE(&e->tag, 0);
	atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

/* context cache */

struct vtd_ctx {
	uint64_t info;
	struct vtd_domain *dom, *dom1;
};

static bool cc_lookup(const struct riov_vtd *vtd, uint16_t sid, struct vtd_ctx *ctx)
{
	struct vtd_cc_ent *e = vtd_cc_slot(vtd, sid);
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_acquire);

	if (VTD_LOAD(&e->sid_valid) != (sid | 0x10000u))
		return false;
	ctx->info = VTD_LOAD(&e->info);
	ctx->dom = VTD_LOAD(&e->dom);
	ctx->dom1 = VTD_LOAD(&e->dom1);
	atomic_thread_fence(memory_order_acquire);
	return !(s & 1) && atomic_load_explicit(&e->seq, memory_order_relaxed) == s;
}

static void cc_fill(struct riov_vtd *vtd, uint16_t sid, const struct vtd_ctx *ctx, uint64_t g0,
		    const volatile uint64_t *gp)
{
	struct vtd_cc_ent *e = vtd_cc_slot(vtd, sid);
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);

	if ((s & 1) || !atomic_compare_exchange_strong(&e->seq, &s, s + 1))
		return;
	atomic_thread_fence(memory_order_release);
	VTD_STORE(&e->info, ctx->info);
	VTD_STORE(&e->dom, ctx->dom);
	VTD_STORE(&e->dom1, ctx->dom1);
	VTD_STORE(&e->sid_valid, sid | 0x10000u);
	atomic_thread_fence(memory_order_seq_cst);
	if (__atomic_load_n(gp, __ATOMIC_RELAXED) != g0)
		VTD_STORE(&e->sid_valid, 0);
	atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

/* ---------------------------------------------------------------------------------------------- */
/* context decode (VT-d 9.1, 9.3) */

/* Decode the context for sid from the architectural tables (under the seqlock). Returns 0 or
 * -reason; ctx->info has FPD as soon as a present context entry was found (7.1: FPD applies). */
static int ctx_decode(const struct riov_vtd *vtd, uint16_t sid, struct vtd_ctx *ctx)
{
	uint8_t bus = sid >> 8, devfn = sid & 0xff;
	uint64_t rlo = VTD_LOAD(&vtd->root[bus][0]), rhi = VTD_LOAD(&vtd->root[bus][1]);
	const struct vtd_ctx_table *ct;

	ctx->info = 0;
	ctx->dom = ctx->dom1 = NULL;
	if (!(rlo & VTD_ROOT_LO_P))
		return -RIOV_VTD_FR_ROOT_NOT_PRESENT;
	if ((rlo & VTD_ROOT_LO_RSVD) || (rhi & VTD_ROOT_HI_RSVD) || (rlo & VTD_ROOT_LO_CTP & ~VTD_HAW_MASK))
		return -RIOV_VTD_FR_ROOT_RSVD;
	ct = __atomic_load_n(&vtd->ctx_tables[bus], __ATOMIC_ACQUIRE);
	if (ct == NULL || (rlo & VTD_HAW_MASK) != (uint64_t)(uintptr_t)ct)
		return -RIOV_VTD_FR_ROOT_ADDR; /* CTP is not a context table riov made */
	uint64_t clo = VTD_LOAD(&ct->ent[devfn][0]), chi = VTD_LOAD(&ct->ent[devfn][1]);
	if (!(clo & VTD_CTX_LO_P))
		return -RIOV_VTD_FR_CTX_NOT_PRESENT;
	if (clo & VTD_CTX_LO_FPD)
		ctx->info |= VTD_CCI_FPD;
	if ((clo & VTD_CTX_LO_RSVD) || (chi & VTD_CTX_HI_RSVD) ||
	    (clo & VTD_CTX_LO_SLPTPTR & ~VTD_HAW_MASK))
		return -RIOV_VTD_FR_CTX_RSVD;
	unsigned tt = (unsigned)((clo & VTD_CTX_LO_TT) >> VTD_CTX_LO_TT_SHIFT);
	unsigned aw = (unsigned)(chi & VTD_CTX_HI_AW), levels = aw + 2;
	uint16_t did = (uint16_t)((chi & VTD_CTX_HI_DID) >> VTD_CTX_HI_DID_SHIFT);
	/* TT=01b needs ECAP.DT and TT=11b is reserved; AW must be a supported AGAW (7.1, reason 3) */
	if (tt == VTD_TT_DEV_TLB || tt == VTD_TT_RESERVED || aw < 1 || levels > vtd->max_levels)
		return -RIOV_VTD_FR_CTX_INVALID;
	ctx->info |= tt | ((uint64_t)did << 16);
	if (tt == VTD_TT_PASS_THROUGH)
		return 0;
	struct vtd_domain *d = vtd_dom_get(vtd, did);
	if (d == NULL || d->levels != levels || (clo & VTD_HAW_MASK) != (uint64_t)(uintptr_t)d->root)
		return -RIOV_VTD_FR_CTX_INVALID;
	ctx->dom = d;
	if (chi & VTD_CTX_HI_RIOV_NESTED) {
		uint16_t s1 = VTD_LOAD(&ct->ext[devfn].s1_did);
		struct vtd_domain *d1 = s1 != did ? vtd_dom_get(vtd, s1) : NULL;
		if (d1 == NULL)
			return -RIOV_VTD_FR_CTX_INVALID;
		ctx->dom1 = d1;
		ctx->info |= VTD_CCI_NESTED | ((uint64_t)s1 << 32);
		/* nested IOTLB entries carry both dids: page-selective invalidation of either domain
		 * must scan from now on (set before any fill from this context, see inv_iotlb_page) */
		if (!VTD_LOAD(&d->nested_used))
			VTD_STORE(&d->nested_used, 1);
		if (!VTD_LOAD(&d1->nested_used))
			VTD_STORE(&d1->nested_used, 1);
	}
	return 0;
}

static int ctx_resolve(const struct riov_vtd *vtd, uint16_t sid, struct vtd_ctx *ctx)
{
	for (;;) {
		uint32_t s = atomic_load_explicit(&vtd->ctx_seq, memory_order_acquire);
		if (s & 1) {
			cpu_relax();
			continue;
		}
		int rc = ctx_decode(vtd, sid, ctx);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&vtd->ctx_seq, memory_order_relaxed) == s)
			return rc;
	}
}

/* ---------------------------------------------------------------------------------------------- */
/* the walk (VT-d 3.7, 9.8) */

/* Walk domain d for iova. Returns 0 with x filled (perm may lack what access needs), or -reason.
 * For a not-present entry x->shift is the size of the empty region (for CM=1 negative caching). */
static int sl_walk(const struct vtd_domain *d, uint64_t iova, unsigned access, struct vtd_xlate *x)
{
	const uint64_t *t = d->root;
	unsigned perm = VTD_SL_PTE_PERM, l = d->levels;

	if (iova >> VTD_LEVEL_SHIFT(l + 1))
		return -RIOV_VTD_FR_ADDR_BEYOND_AW;
	for (;; l--) {
		/* acquire: the entry may publish a table filled just before (a plain mov on x86) */
		uint64_t e = VTD_LOAD_ACQ(&t[vtd_pte_idx(iova, l)]);
		if (!vtd_pte_present(e)) {
			x->shift = VTD_LEVEL_SHIFT(l < 3 ? l : 3);
			x->perm = 0;
			x->base = iova & ~((1ull << x->shift) - 1);
			x->hbase = 0;
			return (access & RIOV_VTD_WRITE) ? -RIOV_VTD_FR_WRITE : -RIOV_VTD_FR_READ;
		}
		bool leaf = vtd_pte_leaf(e, l);
		uint64_t rsvd = l >= 4 ? VTD_SL_RSVD_PML45E :
				!leaf || l == 1 ? VTD_SL_RSVD_COMMON :
				l == 2 ? VTD_SL_RSVD_2M : VTD_SL_RSVD_1G;
		if (e & rsvd)
			return -RIOV_VTD_FR_PTE_RSVD;
		perm &= vtd_perm_of(e);
		if (leaf) {
			x->shift = VTD_LEVEL_SHIFT(l);
			x->base = iova & ~((1ull << x->shift) - 1);
			x->hbase = e & VTD_HAW_MASK;
			x->perm = perm;
			return 0;
		}
		t = vtd_pte_table(e);
	}
}

static inline int perm_fault(unsigned perm, unsigned access)
{
	if ((access & RIOV_VTD_WRITE) && !(perm & RIOV_VTD_WRITE))
		return -RIOV_VTD_FR_WRITE;
	if (!(perm & RIOV_VTD_READ) && (access & RIOV_VTD_READ || perm == 0))
		return -RIOV_VTD_FR_READ;
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* translate */

void riov_vtd_cursor_init(struct riov_vtd_cursor *c, struct riov_vtd *vtd, uint16_t sid)
{
	memset(c, 0, sizeof(*c));
	c->vtd = vtd;
	c->sid = sid;
	c->genp = vtd_gen_word(vtd, sid);
	c->gen = 0; /* generations start at 1: empty */
	c->ctx_gen = 0;
}

/* A cursor made before its bus had a context table watches the unit's generation; once the
 * bus has its page of source-id generations, it moves to its own word, empty (every stamp it
 * holds is of the unit's word). */
static void cursor_rebind(struct riov_vtd_cursor *c)
{
	const volatile uint64_t *w = vtd_gen_word(c->vtd, c->sid);

	if (w == c->genp)
		return;
	c->genp = w;
	c->gen = 0;
	c->ctx_gen = 0;
	c->swept = 0;
	for (unsigned i = 0; i < RIOV_VTD_CURSOR_SLOTS; i++)
		c->slot[i].gen = 0;
	for (unsigned i = 0; i < RIOV_VTD_CURSOR_PAGES; i++)
		c->page[i].gen = 0;
}

static inline bool in_ranges(uint64_t r[][2], int n, uint64_t first, uint64_t last)
{
	for (int i = 0; i < n; i++)
		if (r[i][0] <= last && first < r[i][1])
			return true;
	return false;
}

/* The generation moved from c->swept to g: every entry stamped c->swept that none of the moves'
 * ranges covers is good at g too (the moves were page-selective invalidations of other pages). */
static __attribute__((noinline)) void cursor_sweep(struct riov_vtd_cursor *c, const struct vtd_sgen *sg,
						   uint64_t g)
{
	uint64_t r[VTD_INV_LOG][2];
	uint64_t s = c->swept;
	int n = vtd_gens_ranges(sg, s, g, r);

	c->swept = g;
	if (n < 0)
		return;
	if (c->ctx_gen == s)
		c->ctx_gen = g;
	if (c->gen == s && c->mask != 0 && !in_ranges(r, n, c->base, c->base + c->mask))
		c->gen = g;
	for (unsigned i = 0; i < RIOV_VTD_CURSOR_SLOTS; i++) {
		struct riov_vtd_cursor_slot *sl = &c->slot[i];
		if (sl->gen == s && sl->mask != 0 && !in_ranges(r, n, sl->base, sl->base + sl->mask))
			sl->gen = g;
	}
	for (unsigned i = 0; i < RIOV_VTD_CURSOR_PAGES; i++) {
		struct riov_vtd_cursor_page *pg = &c->page[i];
		uint64_t b = pg->base & ~0xfffull;
		if (pg->gen == s && !in_ranges(r, n, b, b + 0xfff))
			pg->gen = g;
	}
}

/* The miss path. g0, the generation every fill is stamped with, is read here, before anything
 * is looked up: a fill is discarded if an invalidation covering this source-id starts after this
 * point (see the top). */
static __attribute__((noinline)) int
translate_slow(struct riov_vtd_cursor *c, uint64_t iova, uint64_t len, unsigned access, void **hva,
	       uint64_t *mapped)
{
	struct riov_vtd *vtd = c->vtd;
	if (__builtin_expect(c->genp == (const volatile uint64_t *)&vtd->gen, 0))
		cursor_rebind(c);
	const volatile uint64_t *gp = c->genp;
	uint64_t g0 = __atomic_load_n(gp, __ATOMIC_ACQUIRE);
	struct vtd_ctx ctx;
	struct vtd_xlate x;
	bool s1_absent = false;   /* nested: the first stage has nothing there (not a fault) */
	int rc;

	if (c->swept != g0 && gp != (const volatile uint64_t *)&vtd->gen) {
		cursor_sweep(c, (const struct vtd_sgen *)(const void *)gp, g0);
		if (riov_vtd_cursor_hit(c, iova, len, access, hva, mapped))
			return 0;
	}
	c->misses++;
	if (c->ctx_gen == g0) {
		/* the cursor's copy of its context: valid for this generation */
		ctx.info = c->ctx_info;
		ctx.dom = c->ctx_dom;
		ctx.dom1 = c->ctx_dom1;
	} else {
		if (!cc_lookup(vtd, c->sid, &ctx)) {
			rc = ctx_resolve(vtd, c->sid, &ctx);
			if (rc < 0)
				goto fault;
			cc_fill(vtd, c->sid, &ctx, g0, gp);
		}
		c->ctx_gen = g0;
		c->ctx_info = ctx.info;
		c->ctx_dom = ctx.dom;
		c->ctx_dom1 = ctx.dom1;
	}
	if (VTD_CCI_TT(ctx.info) == VTD_TT_PASS_THROUGH) {
		if (iova >> vtd->cfg.aw_bits) {
			rc = -RIOV_VTD_FR_ADDR_BEYOND_AW;
			goto fault;
		}
		x.shift = 30; /* identity, cached as 1 GiB pseudo-pages */
		x.base = iova & ~((1ull << 30) - 1);
		x.hbase = x.base;
		x.perm = RIOV_VTD_READ | RIOV_VTD_WRITE;
	} else {
		uint64_t tag = VTD_TAG_VALID | VTD_CCI_DID(ctx.info);
		unsigned sizes = atomic_load_explicit(&ctx.dom->sizes, memory_order_relaxed);
		if (ctx.info & VTD_CCI_NESTED) {
			tag = VTD_TAG_VALID | VTD_TAG_NESTED | VTD_CCI_S1DID(ctx.info) |
			      ((uint64_t)VTD_CCI_DID(ctx.info) << 16);
			sizes |= atomic_load_explicit(&ctx.dom1->sizes, memory_order_relaxed);
		}
		if (!iotlb_lookup(vtd, tag, sizes, iova, &x)) {
			if (ctx.info & VTD_CCI_NESTED) {
				struct vtd_xlate x2;
				rc = sl_walk(ctx.dom1, iova, access, &x);
				s1_absent = rc == -RIOV_VTD_FR_READ || rc == -RIOV_VTD_FR_WRITE;
				if (rc == 0 && x.perm != 0) {
					uint64_t gpa = x.hbase + (iova - x.base);
					rc = sl_walk(ctx.dom, gpa, access, &x2);
					if (rc == 0) {
						unsigned sh = x.shift < x2.shift ? x.shift : x2.shift;
						uint64_t hva_at = x2.hbase + (gpa - x2.base);
						uint64_t b = iova & ~((1ull << sh) - 1);
						x.hbase = hva_at - (iova - b);
						x.base = b;
						x.shift = sh;
						x.perm &= x2.perm;
					} else if (rc != -RIOV_VTD_FR_PTE_RSVD &&
						   rc != -RIOV_VTD_FR_ADDR_BEYOND_AW) {
						/* not present in the second stage: page of the smaller size */
						unsigned sh = x.shift < x2.shift ? x.shift : x2.shift;
						x.shift = sh;
						x.base = iova & ~((1ull << sh) - 1);
						x.perm = 0;
					}
				}
			} else {
				rc = sl_walk(ctx.dom, iova, access, &x);
			}
			if (rc == -RIOV_VTD_FR_PTE_RSVD || rc == -RIOV_VTD_FR_ADDR_BEYOND_AW)
				goto fault;
			if (x.perm != 0 || (vtd->cfg.caching_mode && !(ctx.info & VTD_CCI_NESTED))) {
				/* CM=1 (6.1): not-present results may be cached too (not nested ones: a
				 * cached miss would not tell which stage was empty) */
				if (x.perm == 0 && !(sizes & (1u << ((x.shift - 12) / 9))))
					atomic_fetch_or_explicit(&ctx.dom->sizes, 1u << ((x.shift - 12) / 9),
								 memory_order_relaxed);
				iotlb_fill(vtd, tag, &x, g0, gp, (unsigned)c->misses);
			}
		}
	}
	rc = perm_fault(x.perm, access);
	if (rc < 0)
		goto fault;
	c->gen = g0;
	c->base = x.base;
	c->mask = (1ull << x.shift) - 1;
	c->hbase = x.hbase;
	c->perm = x.perm;
	if (x.shift == 12) {
		struct riov_vtd_cursor_page *pg = &c->page[(iova >> 12) % RIOV_VTD_CURSOR_PAGES];
		pg->gen = g0;
		pg->base = x.base | (x.perm & (RIOV_VTD_READ | RIOV_VTD_WRITE));
		pg->hbase = x.hbase;
	} else {
		struct riov_vtd_cursor_slot *sl = &c->slot[(iova >> 21) % RIOV_VTD_CURSOR_SLOTS];
		sl->gen = g0;
		sl->base = x.base;
		sl->mask = c->mask;
		sl->hbase = x.hbase;
		sl->perm = x.perm;
	}
	uint64_t m = x.base + (1ull << x.shift) - iova;
	*mapped = m < len ? m : len;
	*hva = (void *)(uintptr_t)(x.hbase + (iova - x.base));
	return 0;
fault:
	if (s1_absent)
		return -RIOV_VTD_IOTLB_MISS;  /* the caller asks the front-end; nothing to record */
	c->faults++;
	return vtd_fault_report(vtd, c->sid, (unsigned)-rc, (access & RIOV_VTD_WRITE) != 0, false,
				iova & ~(VTD_PAGE_SIZE - 1), (ctx.info & VTD_CCI_FPD) != 0);
}

int riov_vtd_translate(struct riov_vtd_cursor *c, uint64_t iova, uint64_t len, unsigned access,
		       void **hva, uint64_t *mapped)
{
	uint64_t g = __atomic_load_n(c->genp, __ATOMIC_ACQUIRE);

	if (likely(c->gen == g && (iova & ~c->mask) == c->base && (access & ~c->perm) == 0)) {
		uint64_t m = c->base + c->mask + 1 - iova;
		c->hits++;
		*mapped = m < len ? m : len;
		*hva = (void *)(uintptr_t)(c->hbase + (iova - c->base));
		return 0;
	}
	if (riov_vtd_cursor_hit(c, iova, len, access, hva, mapped))
		return 0;
	return translate_slow(c, iova, len, access, hva, mapped);
}
