/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's Intel VT-d model, DMA remapping: root/context tables (legacy mode), domains with
 * second-stage page tables, the IOTLB and context cache, invalidation, and translate().
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
 * invalidation first bumps the unit generation `gen`, then scrubs the caches; a fill re-checks `gen`
 * after taking the entry, so a walk that raced with an invalidation never leaves a stale entry
 * behind (the store-buffer pattern with sequentially consistent fences on both sides). The cursor's
 * last-hit cache is valid only while its recorded generation equals `gen`.
 *
 * Spec references: Intel VT-d Architecture Specification rev. 4.x: 3.4 (legacy-mode address
 * translation), 3.7/3.8 (second-stage translation and its permissions), 6.1-6.2 (caching, CM),
 * 6.5 (invalidation), 7.1 (fault reasons), 9.1/9.3 (root and context entries), 9.8 (paging entries).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "iommu/vtd_internal.h"

#define LOG_COMP "vtd"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() do { } while (0)
#endif

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

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

static inline unsigned pte_idx(uint64_t iova, unsigned level)
{
	return (unsigned)(iova >> VTD_LEVEL_SHIFT(level)) & (VTD_PT_ENTRIES - 1);
}

static inline bool pte_present(uint64_t e)
{
	return (e & VTD_SL_PTE_PERM) != 0;
}

/* Leaf: a PTE, or a PDE/PDPE with PS (VT-d 9.8). PS at levels 4/5 is reserved, not a leaf. */
static inline bool pte_leaf(uint64_t e, unsigned level)
{
	return level == 1 || (level <= 3 && (e & VTD_SL_PTE_PS));
}

static inline uint64_t *pte_table(uint64_t e)
{
	return (uint64_t *)(uintptr_t)(e & VTD_HAW_MASK);
}

static inline unsigned perm_of(uint64_t e)
{
	return (unsigned)(e & VTD_SL_PTE_PERM); /* R = bit 0 = RIOV_VTD_READ, W = bit 1 = RIOV_VTD_WRITE */
}

void riov_vtd_synchronize(struct riov_vtd *vtd)
{
	if (vtd->cfg.synchronize != NULL)
		vtd->cfg.synchronize(vtd->cfg.sync_arg);
}

/* worker-safe lookup */
static inline struct vtd_domain *dom_get(const struct riov_vtd *vtd, uint16_t did)
{
	struct vtd_domain **pg = __atomic_load_n(&vtd->domains[did >> 8], __ATOMIC_ACQUIRE);
	return pg != NULL ? __atomic_load_n(&pg[did & 0xff], __ATOMIC_ACQUIRE) : NULL;
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

/* control thread: plain lookup */
static inline struct vtd_domain *dom_ctl(const struct riov_vtd *vtd, uint16_t did)
{
	struct vtd_domain **pg = vtd->domains[did >> 8];
	return pg != NULL ? pg[did & 0xff] : NULL;
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
		if (l > 1 && pte_present(e) && !pte_leaf(e, l)) {
			tab[l - 1] = pte_table(e);
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
		if (pte_present(t[i]))
			return false;
	return true;
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
	vtd_fault_fini(vtd);
	vtd_ir_fini(vtd);
	free(vtd);
}

/* ---------------------------------------------------------------------------------------------- */
/* caches: IOTLB and context cache */

static inline struct vtd_iotlb_ent *iotlb_set(const struct riov_vtd *vtd, uint64_t tag, uint64_t key)
{
	uint64_t x = (key >> 12) * 0x9e3779b97f4a7c15ull ^ (tag + (key & 0xfff)) * 0xc2b2ae3d27d4eb4full;
	/* a one-set IOTLB would need a shift by 64: keep 1 bit and mask it away instead */
	unsigned sh = vtd->iotlb_hash_shift < 64 ? vtd->iotlb_hash_shift : 63;
	uint64_t set = (x >> sh) & (vtd->iotlb_entries / VTD_IOTLB_WAYS - 1);
	return &vtd->iotlb[set * VTD_IOTLB_WAYS];
}

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
	struct vtd_iotlb_ent *set = iotlb_set(vtd, tag, key);

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

/* Fill one entry if it can be taken without waiting; discard it again if an invalidation started
 * after this translation's walk began (g0), so no stale entry outlives the invalidation. */
static void iotlb_fill(struct riov_vtd *vtd, uint64_t tag, const struct vtd_xlate *x, uint64_t g0,
		       unsigned victim)
{
	uint64_t key = x->base | x->shift;
	struct vtd_iotlb_ent *set = iotlb_set(vtd, tag, key), *e = NULL;

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
	if (atomic_load_explicit(&vtd->gen, memory_order_relaxed) != g0)
		VTD_STORE(&e->tag, 0);
	atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

/* Control thread: clear an entry (waits for a worker that is mid-fill; that takes a few ns).
 * Always inlined so each scrub gets its match function inlined (a scan is 4096 entries). */
static inline __attribute__((always_inline)) void cache_clear_iotlb_if(struct riov_vtd *vtd, struct vtd_iotlb_ent *e,
				 bool (*match)(uint64_t tag, uint64_t key, const void *arg),
				 const void *arg)
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

struct vtd_ctx {
	uint64_t info;
	struct vtd_domain *dom, *dom1;
};

static inline struct vtd_cc_ent *cc_slot(const struct riov_vtd *vtd, uint16_t sid)
{
	return &vtd->cc[(sid ^ (sid >> VTD_CC_SIZE_LOG2)) & (VTD_CC_SIZE - 1)];
}

static bool cc_lookup(const struct riov_vtd *vtd, uint16_t sid, struct vtd_ctx *ctx)
{
	struct vtd_cc_ent *e = cc_slot(vtd, sid);
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_acquire);

	if (VTD_LOAD(&e->sid_valid) != (sid | 0x10000u))
		return false;
	ctx->info = VTD_LOAD(&e->info);
	ctx->dom = VTD_LOAD(&e->dom);
	ctx->dom1 = VTD_LOAD(&e->dom1);
	atomic_thread_fence(memory_order_acquire);
	return !(s & 1) && atomic_load_explicit(&e->seq, memory_order_relaxed) == s;
}

static void cc_fill(struct riov_vtd *vtd, uint16_t sid, const struct vtd_ctx *ctx, uint64_t g0)
{
	struct vtd_cc_ent *e = cc_slot(vtd, sid);
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);

	if ((s & 1) || !atomic_compare_exchange_strong(&e->seq, &s, s + 1))
		return;
	atomic_thread_fence(memory_order_release);
	VTD_STORE(&e->info, ctx->info);
	VTD_STORE(&e->dom, ctx->dom);
	VTD_STORE(&e->dom1, ctx->dom1);
	VTD_STORE(&e->sid_valid, sid | 0x10000u);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&vtd->gen, memory_order_relaxed) != g0)
		VTD_STORE(&e->sid_valid, 0);
	atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

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
	cc_clear_if(cc_slot(vtd, sid), sid, NULL);
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
	struct vtd_domain *d = dom_get(vtd, did);
	if (am <= 6 && d != NULL && !VTD_LOAD(&d->nested_used)) {
		/* Targeted: probe the sets that can hold an entry overlapping the range, for every
		 * page size and every tag form that names this domain without nesting. */
		static const unsigned shifts[3] = { 12, 21, 30 };
		for (unsigned i = 0; i < 3; i++) {
			uint64_t sz = 1ull << shifts[i];
			for (uint64_t p = a.start & ~(sz - 1); p < a.end; p += sz) {
				struct vtd_iotlb_ent *set = iotlb_set(vtd, VTD_TAG_VALID | did,
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
	d->root = dom_table_alloc(d);
	if (d->root == NULL) {
		domain_free(d);
		return -ENOMEM;
	}
	__atomic_store_n(slot, d, __ATOMIC_RELEASE);
	return 0;
}

static bool match_dom_any(uint64_t tag, uint64_t key, const void *arg)
{
	uint16_t did = *(const uint16_t *)arg;
	/* nested entries carry the first-stage did in the low half */
	return tag_uses_did(tag, did);
}

int riov_vtd_domain_destroy(struct riov_vtd *vtd, uint16_t did)
{
	struct vtd_domain *d = dom_ctl(vtd, did);

	if (d == NULL)
		return -ENOENT;
	if (d->attached > 0)
		return -EBUSY;
	__atomic_store_n(dom_slot(vtd, did, false), NULL, __ATOMIC_RELEASE);
	/* Nothing cached may keep pointing at the domain's tables or struct: scrub, then wait. */
	gen_bump(vtd);
	for (unsigned i = 0; i < VTD_CC_SIZE; i++)
		cc_clear_if(&vtd->cc[i], -1, d);
	iotlb_scrub(vtd, match_dom_any, &did);
	inv_end(vtd);
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
		uint64_t e = t[pte_idx(iova, l)];
		*level = l;
		if (!pte_present(e))
			return false;
		if (pte_leaf(e, l))
			return true;
		t = pte_table(e);
	}
}

static int dom_map_one(struct vtd_domain *d, uint64_t iova, uint64_t hpa, unsigned target,
		       unsigned perm)
{
	uint64_t *t = d->root;

	for (unsigned l = d->levels; l > target; l--) {
		uint64_t *p = &t[pte_idx(iova, l)];
		uint64_t e = *p;
		if (!pte_present(e)) {
			uint64_t *nt = dom_table_alloc(d);
			if (nt == NULL)
				return -ENOMEM;
			/* non-leaf entries grant everything; the leaf decides (permissions AND, 3.7) */
			VTD_STORE_REL(p, (uint64_t)(uintptr_t)nt | VTD_SL_PTE_R | VTD_SL_PTE_W);
			t = nt;
			continue;
		}
		if (pte_leaf(e, l))
			return -EEXIST;
		t = pte_table(e);
	}
	uint64_t *p = &t[pte_idx(iova, target)];
	uint64_t e = *p;
	if (pte_present(e)) {
		if (pte_leaf(e, target))
			return -EEXIST;
		dom_retire_subtree(d, pte_table(e), target - 1); /* empty (checked by the caller) */
	}
	VTD_STORE_REL(p, hpa | perm | (target > 1 ? VTD_SL_PTE_PS : 0));
	return 0;
}

static inline uint64_t dom_limit(const struct vtd_domain *d)
{
	return 1ull << VTD_LEVEL_SHIFT(d->levels + 1);
}

int riov_vtd_unmap(struct riov_vtd *vtd, uint16_t did, uint64_t iova, uint64_t len);

int riov_vtd_map(struct riov_vtd *vtd, uint16_t did, uint64_t iova, uint64_t hpa, uint64_t len,
		 unsigned perm)
{
	struct vtd_domain *d = dom_ctl(vtd, did);
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
		if (a > iova)
			riov_vtd_unmap(vtd, did, iova, a - iova);
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
	struct vtd_domain *d = dom_ctl(vtd, did);
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
			uint64_t *p = &tab[l][pte_idx(a, l)], e = *p, sz = VTD_LEVEL_SIZE(l);
			uint64_t base = a & ~(sz - 1);
			if (!pte_present(e)) {
				next = base + sz;
				break;
			}
			if (!pte_leaf(e, l)) {
				tab[l - 1] = pte_table(e);
				l--;
				continue;
			}
			if (base >= iova && base + sz <= end) {
				VTD_STORE_REL(p, 0);
				d->mapped_bytes -= d->mapped_bytes >= sz ? sz : d->mapped_bytes;
				next = base + sz;
				break;
			}
			/* split the superpage into the next level, same translation and bits */
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
			VTD_STORE_REL(&tab[k + 1][pte_idx(a, k + 1)], 0);
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

/* ---------------------------------------------------------------------------------------------- */
/* root and context tables (VT-d 9.1, 9.3) */

static struct vtd_ctx_table *ctx_table_get(struct riov_vtd *vtd, uint8_t bus)
{
	struct vtd_ctx_table *ct = vtd->ctx_tables[bus];

	if (ct != NULL)
		return ct;
	ct = aligned_alloc(VTD_PAGE_SIZE, (sizeof(*ct) + VTD_PAGE_SIZE - 1) & ~(VTD_PAGE_SIZE - 1));
	if (ct == NULL)
		return NULL;
	memset(ct, 0, sizeof(*ct));
	__atomic_store_n(&vtd->ctx_tables[bus], ct, __ATOMIC_RELEASE);
	vtd_seq_write_begin(&vtd->ctx_seq);
	VTD_STORE(&vtd->root[bus][1], 0);
	VTD_STORE(&vtd->root[bus][0], (uint64_t)(uintptr_t)ct | VTD_ROOT_LO_P);
	vtd_seq_write_end(&vtd->ctx_seq);
	return ct;
}

static void attach_adjust(struct riov_vtd *vtd, const struct vtd_ctx_ext *x, int delta)
{
	struct vtd_domain *d;

	if (x->att_kind == 0)
		return;
	if ((d = dom_ctl(vtd, x->att_did)) != NULL) {
		d->attached += delta;
		if (x->att_kind == 2)
			VTD_STORE(&d->nested_used, 1);
	}
	if (x->att_kind == 2 && (d = dom_ctl(vtd, x->att_s1)) != NULL) {
		d->attached += delta;
		VTD_STORE(&d->nested_used, 1);
	}
}

static int ctx_write(struct riov_vtd *vtd, uint16_t sid, uint64_t lo, uint64_t hi, uint16_t s1,
		     uint8_t kind, uint16_t att_did)
{
	struct vtd_ctx_table *ct = ctx_table_get(vtd, sid >> 8);
	struct vtd_ctx_ext *x;

	if (ct == NULL)
		return -ENOMEM;
	x = &ct->ext[sid & 0xff];
	attach_adjust(vtd, x, -1);
	vtd_seq_write_begin(&vtd->ctx_seq);
	VTD_STORE(&ct->ent[sid & 0xff][0], lo);
	VTD_STORE(&ct->ent[sid & 0xff][1], hi);
	VTD_STORE(&x->s1_did, s1);
	vtd_seq_write_end(&vtd->ctx_seq);
	x->att_kind = kind;
	x->att_did = att_did;
	x->att_s1 = s1;
	attach_adjust(vtd, x, +1);
	return 0;
}

int riov_vtd_context_set(struct riov_vtd *vtd, uint16_t sid, uint16_t did, enum riov_vtd_ttype tt,
			 bool fpd)
{
	struct vtd_domain *d = dom_ctl(vtd, did);
	uint64_t lo, hi;

	if (tt != RIOV_VTD_TT_MULTI_LEVEL && tt != RIOV_VTD_TT_PASS_THROUGH && tt != RIOV_VTD_TT_BLOCKED)
		return -EINVAL;
	if (did == 0)
		return -EINVAL;
	if (tt == RIOV_VTD_TT_MULTI_LEVEL && d == NULL)
		return -ENOENT;
	lo = VTD_CTX_LO_P | (fpd ? VTD_CTX_LO_FPD : 0) | ((uint64_t)tt << VTD_CTX_LO_TT_SHIFT);
	hi = ((uint64_t)did << VTD_CTX_HI_DID_SHIFT);
	if (tt == RIOV_VTD_TT_MULTI_LEVEL) {
		lo |= (uint64_t)(uintptr_t)d->root;
		hi |= d->levels - 2;
	} else {
		hi |= vtd->max_levels - 2; /* pass-through: the largest AGAW (VT-d 9.3, AW) */
	}
	return ctx_write(vtd, sid, lo, hi, 0, tt == RIOV_VTD_TT_MULTI_LEVEL ? 1 : 0, did);
}

int riov_vtd_context_set_nested(struct riov_vtd *vtd, uint16_t sid, uint16_t s1_did, uint16_t s2_did,
				bool fpd)
{
	struct vtd_domain *d1, *d2;
	uint64_t lo, hi;

	if (s1_did == 0 || s2_did == 0 || s1_did == s2_did)
		return -EINVAL;
	d1 = dom_ctl(vtd, s1_did);
	d2 = dom_ctl(vtd, s2_did);
	if (d1 == NULL || d2 == NULL)
		return -ENOENT;
	lo = VTD_CTX_LO_P | (fpd ? VTD_CTX_LO_FPD : 0) | (uint64_t)(uintptr_t)d2->root;
	hi = (d2->levels - 2) | ((uint64_t)s2_did << VTD_CTX_HI_DID_SHIFT) | VTD_CTX_HI_RIOV_NESTED;
	return ctx_write(vtd, sid, lo, hi, s1_did, 2, s2_did);
}

int riov_vtd_context_clear(struct riov_vtd *vtd, uint16_t sid)
{
	struct vtd_ctx_table *ct = vtd->ctx_tables[sid >> 8];

	if (ct == NULL || !(ct->ent[sid & 0xff][0] & VTD_CTX_LO_P))
		return -ENOENT;
	return ctx_write(vtd, sid, 0, 0, 0, 0, 0);
}

void vtd_raw_root_write(struct riov_vtd *vtd, uint8_t bus, uint64_t lo, uint64_t hi)
{
	vtd_seq_write_begin(&vtd->ctx_seq);
	VTD_STORE(&vtd->root[bus][0], lo);
	VTD_STORE(&vtd->root[bus][1], hi);
	vtd_seq_write_end(&vtd->ctx_seq);
}

void vtd_raw_root_read(struct riov_vtd *vtd, uint8_t bus, uint64_t *lo, uint64_t *hi)
{
	*lo = vtd->root[bus][0];
	*hi = vtd->root[bus][1];
}

int vtd_raw_ctx_write(struct riov_vtd *vtd, uint16_t sid, uint64_t lo, uint64_t hi)
{
	struct vtd_ctx_table *ct = ctx_table_get(vtd, sid >> 8);

	if (ct == NULL)
		return -ENOMEM;
	vtd_seq_write_begin(&vtd->ctx_seq);
	VTD_STORE(&ct->ent[sid & 0xff][0], lo);
	VTD_STORE(&ct->ent[sid & 0xff][1], hi);
	vtd_seq_write_end(&vtd->ctx_seq);
	return 0;
}

int vtd_raw_ctx_read(struct riov_vtd *vtd, uint16_t sid, uint64_t *lo, uint64_t *hi)
{
	struct vtd_ctx_table *ct = vtd->ctx_tables[sid >> 8];

	if (ct == NULL)
		return -ENOENT;
	*lo = ct->ent[sid & 0xff][0];
	*hi = ct->ent[sid & 0xff][1];
	return 0;
}

uint64_t *vtd_raw_pte(struct riov_vtd *vtd, uint16_t did, uint64_t iova, unsigned level)
{
	struct vtd_domain *d = dom_ctl(vtd, did);
	uint64_t *t;

	if (d == NULL || level < 1 || level > d->levels)
		return NULL;
	t = d->root;
	for (unsigned l = d->levels; l > level; l--) {
		uint64_t e = t[pte_idx(iova, l)];
		if (!pte_present(e) || pte_leaf(e, l))
			return NULL;
		t = pte_table(e);
	}
	return &t[pte_idx(iova, level)];
}

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
	struct vtd_domain *d = dom_get(vtd, did);
	if (d == NULL || d->levels != levels || (clo & VTD_HAW_MASK) != (uint64_t)(uintptr_t)d->root)
		return -RIOV_VTD_FR_CTX_INVALID;
	ctx->dom = d;
	if (chi & VTD_CTX_HI_RIOV_NESTED) {
		uint16_t s1 = VTD_LOAD(&ct->ext[devfn].s1_did);
		struct vtd_domain *d1 = s1 != did ? dom_get(vtd, s1) : NULL;
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
		uint64_t e = VTD_LOAD_ACQ(&t[pte_idx(iova, l)]);
		if (!pte_present(e)) {
			x->shift = VTD_LEVEL_SHIFT(l < 3 ? l : 3);
			x->perm = 0;
			x->base = iova & ~((1ull << x->shift) - 1);
			x->hbase = 0;
			return (access & RIOV_VTD_WRITE) ? -RIOV_VTD_FR_WRITE : -RIOV_VTD_FR_READ;
		}
		bool leaf = pte_leaf(e, l);
		uint64_t rsvd = l >= 4 ? VTD_SL_RSVD_PML45E :
				!leaf || l == 1 ? VTD_SL_RSVD_COMMON :
				l == 2 ? VTD_SL_RSVD_2M : VTD_SL_RSVD_1G;
		if (e & rsvd)
			return -RIOV_VTD_FR_PTE_RSVD;
		perm &= perm_of(e);
		if (leaf) {
			x->shift = VTD_LEVEL_SHIFT(l);
			x->base = iova & ~((1ull << x->shift) - 1);
			x->hbase = e & VTD_HAW_MASK;
			x->perm = perm;
			return 0;
		}
		t = pte_table(e);
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
	c->genp = (const volatile uint64_t *)&vtd->gen;
	c->gen = 0; /* the unit's generation starts at 1: empty */
	c->ctx_gen = 0;
}

/* The miss path. g0, the generation every fill is stamped with, is read here, before anything
 * is looked up: a fill is discarded if an invalidation starts after this point (see the top). */
static __attribute__((noinline)) int
translate_slow(struct riov_vtd_cursor *c, uint64_t iova, uint64_t len, unsigned access, void **hva,
	       uint64_t *mapped)
{
	struct riov_vtd *vtd = c->vtd;
	uint64_t g0 = atomic_load_explicit(&vtd->gen, memory_order_acquire);
	struct vtd_ctx ctx;
	struct vtd_xlate x;
	bool s1_absent = false;   /* nested: the first stage has nothing there (not a fault) */
	int rc;

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
			cc_fill(vtd, c->sid, &ctx, g0);
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
				iotlb_fill(vtd, tag, &x, g0, (unsigned)c->misses);
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
	struct riov_vtd_cursor_slot *sl = &c->slot[(iova >> 21) % RIOV_VTD_CURSOR_SLOTS];
	sl->gen = g0;
	sl->base = x.base;
	sl->mask = c->mask;
	sl->hbase = x.hbase;
	sl->perm = x.perm;
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
	uint64_t g = atomic_load_explicit(&c->vtd->gen, memory_order_acquire);

	if (likely(c->gen == g && (iova & ~c->mask) == c->base && (access & ~c->perm) == 0)) {
		uint64_t m = c->base + c->mask + 1 - iova;
		c->hits++;
		*mapped = m < len ? m : len;
		*hva = (void *)(uintptr_t)(c->hbase + (iova - c->base));
		return 0;
	}
	const struct riov_vtd_cursor_slot *sl = &c->slot[(iova >> 21) % RIOV_VTD_CURSOR_SLOTS];
	if (likely(sl->gen == g && (iova & ~sl->mask) == sl->base && (access & ~sl->perm) == 0)) {
		uint64_t m = sl->base + sl->mask + 1 - iova;
		c->hits++;
		*mapped = m < len ? m : len;
		*hva = (void *)(uintptr_t)(sl->hbase + (iova - sl->base));
		return 0;
	}
	return translate_slow(c, iova, len, access, hva, mapped);
}

/* ---------------------------------------------------------------------------------------------- */
/* inspection */

int riov_vtd_domain_info(const struct riov_vtd *vtd, uint16_t did, struct riov_vtd_domain_info *out)
{
	const struct vtd_domain *d = dom_ctl(vtd, did);

	if (d == NULL)
		return -ENOENT;
	out->did = did;
	out->levels = d->levels;
	out->mapped_bytes = d->mapped_bytes;
	out->table_pages = d->ntables - d->nfree;
	out->attached = d->attached;
	return 0;
}

int riov_vtd_domain_walk(const struct riov_vtd *vtd, uint16_t did,
			 void (*fn)(void *arg, uint64_t iova, uint64_t hpa, uint64_t len, unsigned perm),
			 void *arg)
{
	const struct vtd_domain *d = dom_ctl(vtd, did);
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
		if (!pte_present(e)) {
			idx[l]++;
			continue;
		}
		if (!pte_leaf(e, l)) {
			tab[l - 1] = pte_table(e);
			idx[l - 1] = 0;
			base[l - 1] = va;
			l--;
			continue;
		}
		uint64_t sz = VTD_LEVEL_SIZE(l), hpa = e & VTD_HAW_MASK & ~(sz - 1);
		unsigned perm = perm_of(e);
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

int riov_vtd_context_get(const struct riov_vtd *vtd, uint16_t sid, struct riov_vtd_context_info *out)
{
	const struct vtd_ctx_table *ct = vtd->ctx_tables[sid >> 8];
	uint64_t lo = 0, hi = 0;

	memset(out, 0, sizeof(*out));
	if (ct != NULL) {
		lo = ct->ent[sid & 0xff][0];
		hi = ct->ent[sid & 0xff][1];
	}
	out->present = (lo & VTD_CTX_LO_P) != 0;
	if (!out->present)
		return 0;
	out->fpd = (lo & VTD_CTX_LO_FPD) != 0;
	out->tt = (enum riov_vtd_ttype)((lo & VTD_CTX_LO_TT) >> VTD_CTX_LO_TT_SHIFT);
	out->did = (uint16_t)((hi & VTD_CTX_HI_DID) >> VTD_CTX_HI_DID_SHIFT);
	out->nested = (hi & VTD_CTX_HI_RIOV_NESTED) != 0;
	if (out->nested)
		out->s1_did = ct->ext[sid & 0xff].s1_did;
	return 0;
}
