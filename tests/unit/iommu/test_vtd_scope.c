/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Invalidation scoped to what changed (issue 18): a domain's or a device's invalidation moves only
 * the generations of the source-ids it covers, so other devices' cursors keep hitting, while the
 * covered cursors never translate with what was invalidated. Each granularity of VT-d 6.5 (global,
 * domain, page; device for the context cache), nested contexts, devices moved between domains,
 * the users lists' bookkeeping, and workers translating while another device is invalidated.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "iommu/vtd.h"
#include "iommu/vtd_internal.h"
#include "tests/riov_test.h"

#define KB 1024ull
#define MB (1024ull * KB)
#define GB (1024ull * MB)

#define SID_A 0xfc01
#define SID_B 0xfc02
#define DID_A 1
#define DID_B 2
#define HA 0x100000000ull   /* domain A maps iova p to HA + p, domain B to HB + p */
#define HB 0x200000000ull

static struct riov_vtd *mk(void)
{
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 64, .irte_count = 16 };
	struct riov_vtd *v = riov_vtd_create(&cfg);
	CHECK(v != NULL);
	return v;
}

static int xl(struct riov_vtd_cursor *c, uint64_t iova, uint64_t *h)
{
	void *p = NULL;
	uint64_t m = 0;
	int rc = riov_vtd_translate_inline(c, iova, 8, RIOV_VTD_READ, &p, &m);
	if (h)
		*h = (uint64_t)(uintptr_t)p;
	return rc;
}

static uint64_t gen_of(const struct riov_vtd_cursor *c)
{
	return __atomic_load_n(c->genp, __ATOMIC_ACQUIRE);
}

/* Two devices, each in its own domain, both cursors warm. */
struct two {
	struct riov_vtd *v;
	struct riov_vtd_cursor a, b;
};

static void two_setup(struct two *t)
{
	t->v = mk();
	CHECK_EQ(riov_vtd_domain_create(t->v, DID_A, 4), 0);
	CHECK_EQ(riov_vtd_domain_create(t->v, DID_B, 4), 0);
	CHECK_EQ(riov_vtd_context_set(t->v, SID_A, DID_A, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(riov_vtd_context_set(t->v, SID_B, DID_B, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	/* A: 4 KiB pages; B: one 2 MiB page (one cursor slot answers all of it) */
	for (uint64_t p = 0; p < 16; p++)
		CHECK_EQ(riov_vtd_map(t->v, DID_A, p * 4096, HA + p * 4096, 4096, 3), 0);
	CHECK_EQ(riov_vtd_map(t->v, DID_B, 0, HB, 2 * MB, 3), 0);
	riov_vtd_cursor_init(&t->a, t->v, SID_A);
	riov_vtd_cursor_init(&t->b, t->v, SID_B);
	uint64_t h;
	CHECK_EQ(xl(&t->a, 0x10, &h), 0);
	CHECK_EQ(h, HA + 0x10);
	CHECK_EQ(xl(&t->b, 0x10, &h), 0);
	CHECK_EQ(h, HB + 0x10);
}

/* B's cursor answers from its cache: a hit, no miss, the right address. */
static void b_hits(struct two *t)
{
	uint64_t h0 = t->b.hits, m0 = t->b.misses, h;
	CHECK_EQ(xl(&t->b, 0x18, &h), 0);
	CHECK_EQ(h, HB + 0x18);
	CHECK_EQ(t->b.hits, h0 + 1);
	CHECK_EQ(t->b.misses, m0);
}

/* A's cursor misses once (its cache was invalidated), then translates to `want`. */
static void a_misses(struct two *t, int want_rc, uint64_t want)
{
	uint64_t m0 = t->a.misses, h = 0;
	CHECK_EQ(xl(&t->a, 0x18, &h), want_rc);
	CHECK_EQ(t->a.misses, m0 + 1);
	if (want_rc == 0)
		CHECK_EQ(h, want);
}

RIOV_TEST(test_domain_selective_spares_other_domains)
{
	struct two t;
	two_setup(&t);
	uint64_t ga = gen_of(&t.a), gb = gen_of(&t.b);
	CHECK(t.a.genp != t.b.genp);
	/* A's page 0 moves (remapped without a hole) */
	CHECK_EQ(riov_vtd_unmap(t.v, DID_A, 0, 4096), 0);
	CHECK_EQ(riov_vtd_map(t.v, DID_A, 0, HA + 0x100000, 4096, 3), 0);
	riov_vtd_inv_iotlb_domain(t.v, DID_A);
	CHECK(gen_of(&t.a) != ga);
	CHECK_EQ(gen_of(&t.b), gb);
	b_hits(&t);
	a_misses(&t, 0, HA + 0x100000 + 0x18);
	/* and A's cursor hits again on its new translation */
	uint64_t h0 = t.a.hits, h;
	CHECK_EQ(xl(&t.a, 0x20, &h), 0);
	CHECK_EQ(h, HA + 0x100000 + 0x20);
	CHECK_EQ(t.a.hits, h0 + 1);
	riov_vtd_destroy(t.v);
}

RIOV_TEST(test_page_selective_spares_other_domains)
{
	struct two t;
	two_setup(&t);
	uint64_t gb = gen_of(&t.b);
	CHECK_EQ(riov_vtd_unmap(t.v, DID_A, 0, 4096), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(t.v, DID_A, 0, 0), 0);
	CHECK_EQ(gen_of(&t.b), gb);
	b_hits(&t);
	/* the mapping removed in A is not translated through A's cursor any more */
	a_misses(&t, -RIOV_VTD_FR_READ, 0);
	CHECK_EQ(xl(&t.a, 0x18, NULL), -RIOV_VTD_FR_READ);
	uint64_t h;
	CHECK_EQ(xl(&t.a, 4096 + 8, &h), 0);   /* its other pages still are */
	CHECK_EQ(h, HA + 4096 + 8);
	riov_vtd_destroy(t.v);
}

RIOV_TEST(test_global_reaches_every_device)
{
	struct two t;
	two_setup(&t);
	uint64_t ga = gen_of(&t.a), gb = gen_of(&t.b);
	riov_vtd_inv_iotlb_global(t.v);
	CHECK(gen_of(&t.a) != ga);
	CHECK(gen_of(&t.b) != gb);
	uint64_t m0 = t.b.misses, h;
	CHECK_EQ(xl(&t.b, 0x18, &h), 0);
	CHECK_EQ(t.b.misses, m0 + 1);
	CHECK_EQ(h, HB + 0x18);
	a_misses(&t, 0, HA + 0x18);
	/* a global context invalidation too */
	ga = gen_of(&t.a);
	gb = gen_of(&t.b);
	riov_vtd_inv_context_global(t.v);
	CHECK(gen_of(&t.a) != ga && gen_of(&t.b) != gb);
	riov_vtd_destroy(t.v);
}

RIOV_TEST(test_device_selective_context)
{
	struct two t;
	two_setup(&t);
	uint64_t gb = gen_of(&t.b);
	/* A moves to B's domain: invisible until A's context invalidation, which spares B */
	CHECK_EQ(riov_vtd_context_set(t.v, SID_A, DID_B, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	uint64_t h;
	CHECK_EQ(xl(&t.a, 0x18, &h), 0);
	CHECK_EQ(h, HA + 0x18);
	riov_vtd_inv_context_device(t.v, SID_A);
	CHECK_EQ(gen_of(&t.b), gb);
	b_hits(&t);
	a_misses(&t, 0, HB + 0x18);
	/* from now on A is one of B's domain's users, and no longer of its old one */
	gb = gen_of(&t.b);
	uint64_t ga = gen_of(&t.a);
	riov_vtd_inv_iotlb_domain(t.v, DID_A);
	CHECK_EQ(gen_of(&t.a), ga);
	CHECK_EQ(gen_of(&t.b), gb);
	riov_vtd_inv_iotlb_domain(t.v, DID_B);
	CHECK(gen_of(&t.a) != ga && gen_of(&t.b) != gb);
	riov_vtd_destroy(t.v);
}

/* Moved without a context invalidation, a device's cursor may still use its old domain (the
 * context cache may hold it, as on hardware): that domain's invalidations must still reach it. */
RIOV_TEST(test_moved_device_keeps_old_domain_users)
{
	struct two t;
	two_setup(&t);
	CHECK_EQ(riov_vtd_context_set(t.v, SID_A, DID_B, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	uint64_t h;
	CHECK_EQ(xl(&t.a, 0x18, &h), 0);
	CHECK_EQ(h, HA + 0x18);             /* cached: still domain A */
	CHECK_EQ(riov_vtd_unmap(t.v, DID_A, 0, 4096), 0);
	uint64_t ga = gen_of(&t.a);
	riov_vtd_inv_iotlb_domain(t.v, DID_A);
	CHECK(gen_of(&t.a) != ga);
	/* the context cache still names A: A's (current) tables, the page is gone */
	CHECK_EQ(xl(&t.a, 0x18, NULL), -RIOV_VTD_FR_READ);
	/* more moves than a source-id remembers (VTD_LINKS) before its context invalidation: every
	 * domain it was pointed at still reaches it */
	const uint16_t last = 10 + 2 * VTD_LINKS - 1;
	for (uint16_t d = 10; d <= last; d++) {
		CHECK_EQ(riov_vtd_domain_create(t.v, d, 4), 0);
		CHECK_EQ(riov_vtd_context_set(t.v, SID_A, d, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	}
	for (uint16_t d = 1; d <= last; d++) {
		if (d == 3)
			d = 10;
		ga = gen_of(&t.a);
		riov_vtd_inv_iotlb_domain(t.v, d);
		CHECK(gen_of(&t.a) != ga);
	}
	riov_vtd_inv_context_device(t.v, SID_A);
	/* now only the domain it names */
	ga = gen_of(&t.a);
	for (uint16_t d = 1; d < last; d++)
		riov_vtd_inv_iotlb_domain(t.v, d);
	CHECK_EQ(gen_of(&t.a), ga);
	riov_vtd_inv_iotlb_domain(t.v, last);
	CHECK(gen_of(&t.a) != ga);
	CHECK_EQ(xl(&t.a, 0x18, NULL), -RIOV_VTD_FR_READ);   /* that domain maps nothing */
	/* the same with raw entries (the fuzzer's way in) */
	uint64_t lo, hi;
	CHECK_EQ(vtd_raw_ctx_read(t.v, SID_A, &lo, &hi), 0);
	hi = (hi & ~VTD_CTX_HI_DID) | ((uint64_t)0x777 << VTD_CTX_HI_DID_SHIFT);
	CHECK_EQ(vtd_raw_ctx_write(t.v, SID_A, lo, hi), 0);
	ga = gen_of(&t.a);
	riov_vtd_inv_iotlb_domain(t.v, 0x777);
	CHECK(gen_of(&t.a) != ga);
	riov_vtd_destroy(t.v);
}

/* A nested device (a vIOMMU guest): its first stage's invalidations (its IOTLB updates) spare a
 * plain neighbour; its second stage's reach it too. */
RIOV_TEST(test_nested_scope)
{
	struct riov_vtd *v = mk();
	struct riov_vtd_cursor a, b;
	uint64_t h;
	CHECK_EQ(riov_vtd_domain_create(v, 0x8001, 4), 0);  /* A's first stage */
	CHECK_EQ(riov_vtd_domain_create(v, DID_A, 4), 0);   /* A's memory */
	CHECK_EQ(riov_vtd_domain_create(v, DID_B, 4), 0);
	CHECK_EQ(riov_vtd_context_set_nested(v, SID_A, 0x8001, DID_A, false), 0);
	CHECK_EQ(riov_vtd_context_set(v, SID_B, DID_B, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(riov_vtd_map(v, DID_A, 0, HA, 2 * MB, 3), 0);
	CHECK_EQ(riov_vtd_map(v, DID_B, 0, HB, 2 * MB, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 0x8001, GB, 0x1000, 4096, 3), 0);
	riov_vtd_cursor_init(&a, v, SID_A);
	riov_vtd_cursor_init(&b, v, SID_B);
	CHECK_EQ(xl(&a, GB + 8, &h), 0);
	CHECK_EQ(h, HA + 0x1008);
	CHECK_EQ(xl(&b, 8, &h), 0);
	/* the guest maps another page, then unmaps the first (vhost-user IOTLB update, invalidate) */
	uint64_t ga = gen_of(&a), gb = gen_of(&b), bh = b.hits, bm = b.misses;
	CHECK_EQ(riov_vtd_map(v, 0x8001, GB + 4096, 0x3000, 4096, 3), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 0x8001, GB + 4096, 0), 0);
	CHECK(gen_of(&a) != ga);   /* a waiting vring of A wakes up */
	CHECK_EQ(xl(&a, GB + 4096 + 8, &h), 0);
	CHECK_EQ(h, HA + 0x3008);
	CHECK_EQ(riov_vtd_unmap(v, 0x8001, GB, 4096), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 0x8001, GB, 0), 0);
	CHECK_EQ(xl(&a, GB + 8, NULL), -RIOV_VTD_IOTLB_MISS);
	riov_vtd_inv_iotlb_domain(v, 0x8001);
	CHECK_EQ(gen_of(&b), gb);
	CHECK_EQ(xl(&b, 16, &h), 0);
	CHECK_EQ(h, HB + 16);
	CHECK_EQ(b.hits, bh + 1);
	CHECK_EQ(b.misses, bm);
	/* A's memory changes (the second stage): A's cursor forgets, B's does not */
	CHECK_EQ(xl(&a, GB + 4096 + 8, &h), 0);
	CHECK_EQ(riov_vtd_unmap(v, DID_A, 0, 2 * MB), 0);
	CHECK_EQ(riov_vtd_map(v, DID_A, 0, HA + 2 * MB, 2 * MB, 3), 0);
	ga = gen_of(&a);
	riov_vtd_inv_iotlb_domain(v, DID_A);
	CHECK(gen_of(&a) != ga);
	CHECK_EQ(gen_of(&b), gb);
	CHECK_EQ(xl(&a, GB + 4096 + 8, &h), 0);
	CHECK_EQ(h, HA + 2 * MB + 0x3008);
	riov_vtd_destroy(v);
}

/* Destroying a domain reaches the cursors of every device that was pointed at it, even without
 * the caller's context invalidation (their copy of the context holds the domain). */
RIOV_TEST(test_destroy_reaches_users)
{
	struct two t;
	two_setup(&t);
	CHECK_EQ(riov_vtd_context_clear(t.v, SID_A), 0);
	uint64_t ga = gen_of(&t.a), gb = gen_of(&t.b);
	CHECK_EQ(riov_vtd_domain_destroy(t.v, DID_A), 0);
	CHECK(gen_of(&t.a) != ga);
	CHECK_EQ(gen_of(&t.b), gb);
	CHECK_EQ(xl(&t.a, 0x18, NULL), -RIOV_VTD_FR_CTX_NOT_PRESENT);
	b_hits(&t);
	riov_vtd_destroy(t.v);
}

/* A cursor made before its bus has a context table watches the unit's generation, then moves to
 * its own once the bus has one. */
RIOV_TEST(test_cursor_before_context_table)
{
	struct riov_vtd *v = mk();
	struct riov_vtd_cursor c, b;
	uint64_t h;
	riov_vtd_cursor_init(&c, v, 0x0310);
	CHECK(c.genp == (const volatile uint64_t *)&v->gen);
	CHECK_EQ(xl(&c, 0, NULL), -RIOV_VTD_FR_ROOT_NOT_PRESENT);
	CHECK_EQ(riov_vtd_domain_create(v, 5, 4), 0);
	CHECK_EQ(riov_vtd_domain_create(v, 6, 4), 0);
	CHECK_EQ(riov_vtd_map(v, 5, 0, HA, 4096, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 6, 0, HB, 4096, 3), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x0310, 5, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x0311, 6, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(xl(&c, 8, &h), 0);
	CHECK_EQ(h, HA + 8);
	CHECK(c.genp != (const volatile uint64_t *)&v->gen);
	riov_vtd_cursor_init(&b, v, 0x0311);
	CHECK_EQ(xl(&b, 8, &h), 0);
	uint64_t gc = gen_of(&c);
	riov_vtd_inv_iotlb_domain(v, 6);
	CHECK_EQ(gen_of(&c), gc);
	CHECK_EQ(riov_vtd_unmap(v, 5, 0, 4096), 0);
	riov_vtd_inv_iotlb_domain(v, 5);
	CHECK_EQ(xl(&c, 8, NULL), -RIOV_VTD_FR_READ);
	riov_vtd_destroy(v);
}

/* Workers translate for A and B while the control thread flips A's pages between two host
 * addresses and invalidates A's domain (domain- or page-selective): A never translates with a
 * mapping whose invalidation completed before the translation started, and B, whose mapping never
 * changes, keeps hitting (misses only at its first translations). */
struct mt {
	struct riov_vtd *v;
	_Atomic int stop;
	_Atomic uint64_t phase;  /* odd: changing; 0 mod 4: A's pages at HA, 2 mod 4: 1 MiB above */
	_Atomic int bad;
	_Atomic uint64_t n, b_misses;
};

static void *mt_worker(void *p)
{
	struct mt *m = p;
	struct riov_vtd_cursor a, b;
	riov_vtd_cursor_init(&a, m->v, SID_A);
	riov_vtd_cursor_init(&b, m->v, SID_B);
	while (!atomic_load(&m->stop)) {
		uint64_t ph = atomic_load(&m->phase);
		for (uint64_t pg = 0; pg < 16; pg++) {
			uint64_t h = 0;
			int rc = xl(&a, pg * 4096 + 8, &h);
			if (atomic_load(&m->phase) != ph)
				ph = 1; /* changed meanwhile: either answer */
			uint64_t h0 = HA + pg * 4096 + 8, h1 = HA + 0x100000 + pg * 4096 + 8;
			if (rc != 0 || (h != h0 && h != h1))
				atomic_store(&m->bad, 1);
			if ((ph & 3) == 0 && h != h0)
				atomic_store(&m->bad, 2);
			if ((ph & 3) == 2 && h != h1)
				atomic_store(&m->bad, 3);
			rc = xl(&b, pg * 4096 + 8, &h);
			if (rc != 0 || h != HB + pg * 4096 + 8)
				atomic_store(&m->bad, 4);
			atomic_fetch_add(&m->n, 1);
		}
	}
	atomic_fetch_add(&m->b_misses, b.misses);
	return NULL;
}

RIOV_TEST(test_concurrent_neighbour)
{
	struct two t;
	struct mt m = { 0 };
	pthread_t th[2];
	two_setup(&t);
	m.v = t.v;
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, mt_worker, &m);
	for (int round = 0; round < 400; round++) {
		atomic_fetch_add(&m.phase, 1);
		for (uint64_t pg = 0; pg < 16; pg++) {
			uint64_t *e = vtd_raw_pte(t.v, DID_A, pg * 4096, 1);
			uint64_t to = HA + ((round & 1) ? 0 : 0x100000) + pg * 4096;
			__atomic_store_n(e, to | VTD_SL_PTE_R | VTD_SL_PTE_W, __ATOMIC_RELEASE);
		}
		if (round % 2)
			riov_vtd_inv_iotlb_domain(t.v, DID_A);
		else
			CHECK_EQ(riov_vtd_inv_iotlb_page(t.v, DID_A, 0, 4), 0);
		atomic_fetch_add(&m.phase, 1);
		uint64_t n0 = atomic_load(&m.n);
		while (atomic_load(&m.n) < n0 + 100)
			sched_yield();
	}
	atomic_store(&m.stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(atomic_load(&m.bad), 0);
	/* each worker's B cursor missed only filling its slot (one 2 MiB region) */
	CHECK(atomic_load(&m.b_misses) <= 2);
	riov_vtd_destroy(t.v);
}

/* A vIOMMU guest's buffers in 4 KiB first-stage pages: the cursor keeps 256 of them (its page
 * cache), so a ring's worth of buffer pages hits from the second pass on; each entry answers only
 * its page, with its permissions, and only for the generation it was filled in. */
RIOV_TEST(test_cursor_page_cache)
{
	struct riov_vtd *v = mk();
	struct riov_vtd_cursor a;
	uint64_t h;
	void *p;
	uint64_t m;
	const uint64_t io = GB + 0x1000;   /* 4 KiB off a 2 MiB boundary: 4 KiB first-stage pages */
	CHECK_EQ(riov_vtd_domain_create(v, 0x8001, 4), 0);
	CHECK_EQ(riov_vtd_domain_create(v, DID_A, 4), 0);
	CHECK_EQ(riov_vtd_context_set_nested(v, SID_A, 0x8001, DID_A, false), 0);
	CHECK_EQ(riov_vtd_map(v, DID_A, 0, HA, 4 * MB, 3), 0);
	/* 200 pages read-write onto gpa 0x1000.., page 200 read-only, page 456 (same cache index as
	 * page 200) read-write */
	CHECK_EQ(riov_vtd_map(v, 0x8001, io, 0x1000, 200 * 4096, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 0x8001, io + 200 * 4096, 0x200000, 4096, RIOV_VTD_READ), 0);
	CHECK_EQ(riov_vtd_map(v, 0x8001, io + 456 * 4096, 0x300000, 4096, 3), 0);
	riov_vtd_cursor_init(&a, v, SID_A);
	for (unsigned pass = 0; pass < 2; pass++) {
		uint64_t m0 = a.misses;
		for (uint64_t i = 0; i < 200; i++) {
			CHECK_EQ(xl(&a, io + i * 4096 + 0x10 + i, &h), 0);
			CHECK_EQ(h, HA + 0x1000 + i * 4096 + 0x10 + i);
		}
		CHECK_EQ(a.misses - m0, pass == 0 ? 200u : 0u);
	}
	/* the mapped length ends at the page */
	CHECK_EQ(riov_vtd_translate_inline(&a, io + 0xff0, 64, RIOV_VTD_READ, &p, &m), 0);
	CHECK_EQ(m, 0x10);
	/* a read-only page: a read fills its entry, a write still faults */
	CHECK_EQ(xl(&a, io + 200 * 4096, &h), 0);
	CHECK_EQ(h, HA + 0x200000);
	uint64_t m0 = a.misses;
	CHECK_EQ(riov_vtd_translate_inline(&a, io + 200 * 4096 + 8, 8, RIOV_VTD_WRITE, &p, &m),
		 -RIOV_VTD_FR_WRITE);
	CHECK_EQ(a.misses, m0 + 1);
	/* two pages of one cache index take turns: each answer is its own page's */
	for (unsigned k = 0; k < 4; k++) {
		CHECK_EQ(xl(&a, io + 200 * 4096 + 0x20, &h), 0);
		CHECK_EQ(h, HA + 0x200020);
		CHECK_EQ(xl(&a, io + 456 * 4096 + 0x20, &h), 0);
		CHECK_EQ(h, HA + 0x300020);
	}
	/* the guest unmaps page 7 (IOTLB invalidation of it): the cached page is not used again */
	CHECK_EQ(xl(&a, io + 7 * 4096, &h), 0);
	CHECK_EQ(riov_vtd_unmap(v, 0x8001, io + 7 * 4096, 4096), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 0x8001, io + 7 * 4096, 0), 0);
	CHECK_EQ(xl(&a, io + 7 * 4096 + 8, NULL), -RIOV_VTD_IOTLB_MISS);
	CHECK_EQ(xl(&a, io + 8 * 4096 + 8, &h), 0);
	CHECK_EQ(h, HA + 0x1000 + 8 * 4096 + 8);
	/* remapped elsewhere: the new address */
	CHECK_EQ(riov_vtd_map(v, 0x8001, io + 7 * 4096, 0x380000, 4096, 3), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 0x8001, io + 7 * 4096, 0), 0);
	CHECK_EQ(xl(&a, io + 7 * 4096 + 8, &h), 0);
	CHECK_EQ(h, HA + 0x380008);
	riov_vtd_destroy(v);
}

RIOV_TEST(test_page_selective_keeps_other_entries)
{
	struct riov_vtd *v = mk();
	struct riov_vtd_cursor a, b;
	uint64_t h;
	const uint64_t io = GB + 0x1000;
	CHECK_EQ(riov_vtd_domain_create(v, 0x8001, 4), 0);
	CHECK_EQ(riov_vtd_domain_create(v, DID_A, 4), 0);
	CHECK_EQ(riov_vtd_domain_create(v, DID_B, 4), 0);
	CHECK_EQ(riov_vtd_context_set_nested(v, SID_A, 0x8001, DID_A, false), 0);
	CHECK_EQ(riov_vtd_context_set(v, SID_B, DID_B, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(riov_vtd_map(v, DID_A, 0, HA, 4 * MB, 3), 0);
	CHECK_EQ(riov_vtd_map(v, DID_B, 0, HB, 4 * MB, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 0x8001, io, 0x1000, 64 * 4096, 3), 0);
	riov_vtd_cursor_init(&a, v, SID_A);
	riov_vtd_cursor_init(&b, v, SID_B);
	for (uint64_t i = 0; i < 64; i++)
		CHECK_EQ(xl(&a, io + i * 4096, NULL), 0);
	CHECK_EQ(xl(&b, 0x10, NULL), 0);
	CHECK_EQ(xl(&b, 2 * MB + 0x10, NULL), 0);
	CHECK_EQ(riov_vtd_map(v, 0x8001, io + 100 * 4096, 0x100000, 4096, 3), 0);
	uint64_t g = gen_of(&a);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 0x8001, io + 100 * 4096, 0), 0);
	CHECK(gen_of(&a) != g);
	uint64_t m0 = a.misses;
	for (uint64_t i = 0; i < 64; i++) {
		CHECK_EQ(xl(&a, io + i * 4096 + 8, &h), 0);
		CHECK_EQ(h, HA + 0x1000 + i * 4096 + 8);
	}
	CHECK_EQ(a.misses, m0);
	CHECK_EQ(xl(&a, io + 100 * 4096, &h), 0);
	CHECK_EQ(h, HA + 0x100000);
	CHECK_EQ(riov_vtd_unmap(v, 0x8001, io + 7 * 4096, 4096), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 0x8001, io + 7 * 4096, 0), 0);
	CHECK_EQ(riov_vtd_unmap(v, 0x8001, io + 8 * 4096, 4096), 0);
	CHECK_EQ(riov_vtd_map(v, 0x8001, io + 8 * 4096, 0x200000, 4096, 3), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 0x8001, io + 8 * 4096, 0), 0);
	m0 = a.misses;
	CHECK_EQ(xl(&a, io + 7 * 4096 + 8, NULL), -RIOV_VTD_IOTLB_MISS);
	CHECK_EQ(xl(&a, io + 8 * 4096 + 8, &h), 0);
	CHECK_EQ(h, HA + 0x200008);
	CHECK_EQ(a.misses, m0 + 2);
	CHECK_EQ(xl(&a, io + 9 * 4096 + 8, &h), 0);
	CHECK_EQ(h, HA + 0x1000 + 9 * 4096 + 8);
	CHECK_EQ(a.misses, m0 + 2);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 0x8001, io - 0x1000 + 16 * 4096, 4), 0);
	m0 = a.misses;
	CHECK_EQ(xl(&a, io + 40 * 4096, NULL), 0);
	CHECK_EQ(a.misses, m0);
	CHECK_EQ(xl(&a, io + 20 * 4096, NULL), 0);
	CHECK_EQ(a.misses, m0 + 1);
	for (unsigned k = 0; k < VTD_INV_LOG; k++)
		CHECK_EQ(riov_vtd_inv_iotlb_page(v, 0x8001, io + 100 * 4096, 0), 0);
	m0 = a.misses;
	CHECK_EQ(xl(&a, io + 41 * 4096, NULL), 0);
	CHECK_EQ(a.misses, m0 + 1);
	CHECK_EQ(xl(&a, io + 42 * 4096, NULL), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, DID_A, 3 * MB, 0), 0);
	m0 = a.misses;
	CHECK_EQ(xl(&a, io + 42 * 4096, NULL), 0);
	CHECK_EQ(a.misses, m0 + 1);
	CHECK_EQ(xl(&a, io + 43 * 4096, NULL), 0);
	riov_vtd_inv_iotlb_domain(v, 0x8001);
	m0 = a.misses;
	CHECK_EQ(xl(&a, io + 43 * 4096, NULL), 0);
	CHECK_EQ(a.misses, m0 + 1);
	CHECK_EQ(xl(&b, 0x10, NULL), 0);
	CHECK_EQ(xl(&b, 2 * MB + 0x10, NULL), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, DID_B, 3 * MB, 0), 0);
	m0 = b.misses;
	CHECK_EQ(xl(&b, 0x18, &h), 0);
	CHECK_EQ(h, HB + 0x18);
	CHECK_EQ(b.misses, m0);
	CHECK_EQ(xl(&b, 2 * MB + 0x18, &h), 0);
	CHECK_EQ(h, HB + 2 * MB + 0x18);
	CHECK_EQ(b.misses, m0 + 1);
	riov_vtd_destroy(v);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(test_domain_selective_spares_other_domains),
	       RIOV_TEST_ENTRY(test_page_selective_spares_other_domains),
	       RIOV_TEST_ENTRY(test_global_reaches_every_device),
	       RIOV_TEST_ENTRY(test_device_selective_context),
	       RIOV_TEST_ENTRY(test_moved_device_keeps_old_domain_users),
	       RIOV_TEST_ENTRY(test_nested_scope), RIOV_TEST_ENTRY(test_destroy_reaches_users),
	       RIOV_TEST_ENTRY(test_cursor_before_context_table),
	       RIOV_TEST_ENTRY(test_concurrent_neighbour), RIOV_TEST_ENTRY(test_cursor_page_cache),
	       RIOV_TEST_ENTRY(test_page_selective_keeps_other_entries))
