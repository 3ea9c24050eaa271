/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the VT-d model's page-table limit per domain and its large pages (issue 12,
 * finding 2): riov_vtd_map() counts the tables a mapping needs before writing anything and
 * refuses with -ENOSPC, all or nothing, whatever the length; superpage splits on unmap obey the
 * same limit; 2 MiB and 1 GiB pages translate, split and invalidate correctly.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "iommu/vtd.h"
#include "iommu/vtd_internal.h"
#include "tests/riov_test.h"

#define KB 1024ull
#define MB (1024ull * KB)
#define GB (1024ull * MB)
#define TB (1024ull * GB)

#define SID 0x0310
#define DID 9

static struct riov_vtd *mk(uint32_t table_pages)
{
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 64, .irte_count = 16,
				       .domain_table_pages = table_pages };
	struct riov_vtd *v = riov_vtd_create(&cfg);
	CHECK(v != NULL);
	return v;
}

/* a unit with one 4-level domain DID attached to SID */
static struct riov_vtd *mk_dom(uint32_t table_pages)
{
	struct riov_vtd *v = mk(table_pages);
	CHECK_EQ(riov_vtd_domain_create(v, DID, 4), 0);
	CHECK_EQ(riov_vtd_context_set(v, SID, DID, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	return v;
}

static struct riov_vtd_domain_info info(struct riov_vtd *v)
{
	struct riov_vtd_domain_info di = { 0 };
	CHECK_EQ(riov_vtd_domain_info(v, DID, &di), 0);
	return di;
}

/* A fingerprint of every mapping of the domain (iova, hpa, len, perm of each coalesced range). */
struct fp {
	uint64_t h, n;
};
static void fp_cb(void *arg, uint64_t iova, uint64_t hpa, uint64_t len, unsigned perm)
{
	struct fp *f = arg;
	f->h = (f->h ^ iova) * 0x100000001b3ull;
	f->h = (f->h ^ hpa) * 0x100000001b3ull;
	f->h = (f->h ^ len) * 0x100000001b3ull;
	f->h = (f->h ^ perm) * 0x100000001b3ull;
	f->n++;
}
static struct fp fingerprint(struct riov_vtd *v)
{
	struct fp f = { 0xcbf29ce484222325ull, 0 };
	CHECK_EQ(riov_vtd_domain_walk(v, DID, fp_cb, &f), 0);
	return f;
}

/* translate iova; 0 or -reason; host address and mapped length */
static int xl(struct riov_vtd *v, uint64_t iova, uint64_t len, unsigned acc, uint64_t *h,
	      uint64_t *m)
{
	struct riov_vtd_cursor c;
	void *p = NULL;
	uint64_t mm = 0;
	riov_vtd_cursor_init(&c, v, SID);
	int rc = riov_vtd_translate(&c, iova, len, acc, &p, &mm);
	if (h)
		*h = (uint64_t)(uintptr_t)p;
	if (m)
		*m = mm;
	return rc;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(uint64_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return n ? rnd_state % n : 0;
}

/* ---- the limit ------------------------------------------------------------------------------ */

RIOV_TEST(limit_default_config_and_setter)
{
	struct riov_vtd *v = mk_dom(0);
	struct riov_vtd_domain_info di = info(v);
	CHECK_EQ(di.table_pages_max, RIOV_VTD_DOMAIN_TABLE_PAGES_DEFAULT);
	CHECK_EQ(di.table_pages, 1);   /* the root */
	CHECK_EQ(di.table_refused, 0);
	/* the default is sized for 1 TiB of guest memory mapped with 2 MiB pages (see vtd.h) */
	CHECK(RIOV_VTD_DOMAIN_TABLE_PAGES_DEFAULT >= 1024 + 2 + 1 + 2);
	CHECK_EQ(riov_vtd_domain_set_table_limit(v, DID, 0), -EINVAL);
	CHECK_EQ(riov_vtd_domain_set_table_limit(v, DID + 1, 5), -ENOENT);
	CHECK_EQ(riov_vtd_domain_set_table_limit(v, DID, 5), 0);
	CHECK_EQ(info(v).table_pages_max, 5);
	riov_vtd_destroy(v);

	v = mk(7);
	CHECK_EQ(riov_vtd_domain_create(v, DID, 3), 0);
	CHECK_EQ(info(v).table_pages_max, 7);
	riov_vtd_destroy(v);
}

/* A map that would exceed the limit fails with -ENOSPC and changes nothing: not the tables, not
 * the mappings, not what translates; one that fits exactly is taken. */
RIOV_TEST(limit_all_or_nothing)
{
	struct riov_vtd *v = mk_dom(8);
	uint64_t h, m;

	/* 4 KiB at 1 GiB: root + PDPT + PD + PT = 4 pages */
	CHECK_EQ(riov_vtd_map(v, DID, GB, 0x10000000ull, 4 * KB, 3), 0);
	CHECK_EQ(info(v).table_pages, 4);
	struct fp before = fingerprint(v);
	/* 6 MiB at 4 KiB granularity from 2 GiB - 3 MiB: 4 PTs and the PD of [2 GiB, 3 GiB); the
	 * PDPT and the PD of [1 GiB, 2 GiB) exist. 5 > the 4 left. */
	CHECK_EQ(riov_vtd_map(v, DID, 2 * GB - 3 * MB, 0x20001000ull, 6 * MB, 3), -ENOSPC);
	struct riov_vtd_domain_info di = info(v);
	CHECK_EQ(di.table_pages, 4);
	CHECK_EQ(di.mapped_bytes, 4 * KB);
	CHECK_EQ(di.table_refused, 1);
	struct fp after = fingerprint(v);
	CHECK(before.h == after.h && before.n == after.n);
	CHECK(vtd_raw_pte(v, DID, 2 * GB - 2 * MB, 1) == NULL);
	CHECK(vtd_raw_pte(v, DID, 2 * GB, 2) == NULL);
	CHECK_EQ(xl(v, 2 * GB, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_READ);
	CHECK_EQ(xl(v, GB + 5, 1, RIOV_VTD_READ, &h, NULL), 0);
	CHECK_EQ(h, 0x10000005ull);
	/* exactly the 4 left: 4 MiB from 2 GiB - 1 MiB, 3 PTs and 1 PD */
	CHECK_EQ(riov_vtd_map(v, DID, 2 * GB - 1 * MB, 0x30001000ull, 4 * MB, 3), 0);
	CHECK_EQ(info(v).table_pages, 8);
	CHECK_EQ(xl(v, 2 * GB + 2 * MB + 7, 100, RIOV_VTD_READ, &h, &m), 0);
	CHECK_EQ(h, 0x30001000ull + 3 * MB + 7);
	CHECK_EQ(m, 100);
	/* full: a page in a fresh 2 MiB window needs a PT */
	CHECK_EQ(riov_vtd_map(v, DID, 3 * GB, 0, 4 * KB, 3), -ENOSPC);
	/* a page in an existing PT needs nothing */
	CHECK_EQ(riov_vtd_map(v, DID, GB + 8 * KB, 0x40000000ull, 4 * KB, 3), 0);
	CHECK_EQ(info(v).table_pages, 8);
	CHECK_EQ(info(v).table_refused, 2);
	/* lowering the limit below use unmaps nothing; unmapping frees room again */
	CHECK_EQ(riov_vtd_domain_set_table_limit(v, DID, 2), 0);
	CHECK_EQ(xl(v, GB + 8 * KB, 1, RIOV_VTD_WRITE, &h, NULL), 0);
	CHECK_EQ(h, 0x40000000ull);
	CHECK_EQ(riov_vtd_unmap(v, DID, 0, 4 * GB), 0);
	CHECK_EQ(info(v).table_pages, 1);
	CHECK_EQ(riov_vtd_map(v, DID, 0, 0, GB, 3), 0);   /* a 1 GiB page: the PDPT only */
	CHECK_EQ(info(v).table_pages, 2);
	riov_vtd_destroy(v);
}

/* 1 TiB at 4 KiB granularity (2^28 entries, 2^19 tables, 2 GiB) is refused at once with the
 * default limit, in any domain and from any caller, while 1 TiB that 1 GiB pages can map costs
 * three tables. This is also what Domain.Map's own budget (control/svc_domain.c, the same 16384
 * pages) refuses first: the unit's limit never lets a larger one through. */
RIOV_TEST(limit_giant_map_refused)
{
	struct riov_vtd *v = mk_dom(0);
	CHECK_EQ(riov_vtd_map_entries(4 * KB, 0, TB), 1ull << 28);
	CHECK_EQ(riov_vtd_map(v, DID, 4 * KB, 0, TB, 3), -ENOSPC);
	CHECK_EQ(riov_vtd_map(v, DID, TB, 4 * KB, TB, 3), -ENOSPC);     /* iova aligned, hpa not */
	CHECK_EQ(riov_vtd_map(v, DID, 0, 2 * MB + 4 * KB, 1ull << 40, 1), -ENOSPC);
	struct riov_vtd_domain_info di = info(v);
	CHECK_EQ(di.table_pages, 1);
	CHECK_EQ(di.mapped_bytes, 0);
	CHECK_EQ(di.table_refused, 3);
	/* 1 TiB congruent modulo 1 GiB: 1024 PDPT entries in 2 PDPTs */
	CHECK_EQ(riov_vtd_map_entries(TB, 3 * TB, TB), 1024);
	CHECK_EQ(riov_vtd_map(v, DID, TB, 3 * TB, TB, 3), 0);
	CHECK_EQ(info(v).table_pages, 3);
	uint64_t h, m;
	CHECK_EQ(xl(v, TB + 700 * GB + 12345, 4 * GB, RIOV_VTD_READ, &h, &m), 0);
	CHECK_EQ(h, 3 * TB + 700 * GB + 12345);
	CHECK_EQ(m, GB - 12345);
	/* 1 TiB congruent modulo 2 MiB only: 2^19 PDEs in 1024 PDs (+ 2 PDPTs), still allowed */
	CHECK_EQ(riov_vtd_map_entries(4 * TB, 8 * TB + 2 * MB, TB), 1ull << 19);
	CHECK_EQ(riov_vtd_map(v, DID, 4 * TB, 8 * TB + 2 * MB, TB, 3), 0);
	CHECK_EQ(info(v).table_pages, 3 + 1024 + 2);
	CHECK_EQ(xl(v, 4 * TB + 3 * MB + 1, 4 * MB, RIOV_VTD_WRITE, &h, &m), 0);
	CHECK_EQ(h, 8 * TB + 2 * MB + 3 * MB + 1);
	CHECK_EQ(m, MB - 1);
	riov_vtd_destroy(v);
}

/* Random maps (every alignment class) and unmaps: for each map, the limit is raised one page at a
 * time from what the domain holds; every refusal leaves the domain exactly as it was, and the
 * first limit that is accepted is the number of tables the map really allocated (the count is
 * exact, not just an upper bound, in a domain without empty tables). */
RIOV_TEST(limit_count_exact_random)
{
	struct riov_vtd *v = mk_dom(0);
	unsigned maps = 0, refusals = 0;

	for (unsigned step = 0; step < 400; step++) {
		uint64_t iova, hpa, len;
		unsigned kind = (unsigned)rnd(10);
		if (kind < 2) {
			iova = rnd(64) * GB;
			hpa = rnd(64) * GB + (rnd(2) ? 0 : 2 * MB);
			len = GB * (1 + rnd(2)) + 2 * MB * rnd(3) + 4 * KB * rnd(3);
		} else if (kind < 5) {
			iova = rnd(64 * 512) * 2 * MB - 4 * KB * rnd(3);
			hpa = rnd(1024) * 2 * MB + iova % (2 * MB);
			len = 2 * MB * (1 + rnd(8)) + 4 * KB * rnd(600);
		} else if (kind < 8) {
			iova = rnd(64 * GB / (4 * KB)) * 4 * KB;
			hpa = rnd(1ull << 24) * 4 * KB;
			len = 4 * KB * (1 + rnd(2000));
		} else {
			iova = rnd(64 * GB / (4 * KB)) * 4 * KB;
			len = 4 * KB * (1 + rnd(1 << 16));
			/* splits need room: the last map left the limit at what the domain holds */
			CHECK_EQ(riov_vtd_domain_set_table_limit(v, DID, 1u << 20), 0);
			CHECK_EQ(riov_vtd_unmap(v, DID, iova, len), 0);
			continue;
		}
		struct riov_vtd_domain_info d0 = info(v);
		struct fp f0 = fingerprint(v);
		int rc = -ENOSPC;
		uint64_t k;
		for (k = 0; k <= 4096 && rc == -ENOSPC; k++) {
			CHECK_EQ(riov_vtd_domain_set_table_limit(v, DID, d0.table_pages + k), 0);
			rc = riov_vtd_map(v, DID, iova, hpa, len, 3);
			if (rc == -ENOSPC) {
				struct riov_vtd_domain_info d1 = info(v);
				struct fp f1 = fingerprint(v);
				CHECK_EQ(d1.table_pages, d0.table_pages);
				CHECK_EQ(d1.mapped_bytes, d0.mapped_bytes);
				CHECK(f1.h == f0.h && f1.n == f0.n);
				refusals++;
			}
		}
		if (rc == -EEXIST)
			continue;
		CHECK_EQ(rc, 0);
		maps++;
		struct riov_vtd_domain_info d2 = info(v);
		CHECK_EQ(d2.table_pages, d0.table_pages + (k - 1));
		CHECK_EQ(d2.mapped_bytes, d0.mapped_bytes + len);
		uint64_t off = rnd(len / 8) * 8, h;
		CHECK_EQ(xl(v, iova + off, 8, RIOV_VTD_READ, &h, NULL), 0);
		CHECK_EQ(h, hpa + off);
		riov_vtd_inv_iotlb_global(v);
	}
	CHECK(maps > 100);
	CHECK(refusals > 100);
	CHECK_EQ(info(v).table_refused, refusals);
	riov_vtd_destroy(v);
}

/* Splitting a superpage on unmap needs a table: beyond the limit the unmap is refused, the page
 * stays whole; with room it splits (1 GiB -> 2 MiB -> 4 KiB: two tables). */
RIOV_TEST(limit_unmap_split)
{
	struct riov_vtd *v = mk_dom(0);
	uint64_t h, m;

	CHECK_EQ(riov_vtd_map(v, DID, GB, 5 * GB, GB, 3), 0);
	CHECK_EQ(info(v).table_pages, 2);
	CHECK_EQ(riov_vtd_domain_set_table_limit(v, DID, 2), 0);
	CHECK_EQ(riov_vtd_unmap(v, DID, GB + 3 * MB, 4 * KB), -ENOSPC);
	CHECK_EQ(info(v).table_pages, 2);
	CHECK_EQ(info(v).mapped_bytes, GB);
	CHECK_EQ(info(v).table_refused, 1);
	CHECK_EQ(xl(v, GB + 3 * MB, 1, RIOV_VTD_READ, &h, &m), 0);
	CHECK_EQ(h, 5 * GB + 3 * MB);
	/* a 1 GiB-aligned unmap never needs a split */
	CHECK_EQ(riov_vtd_map(v, DID, 4 * GB, 6 * GB, GB, 3), 0);
	CHECK_EQ(riov_vtd_unmap(v, DID, 4 * GB, GB), 0);
	CHECK_EQ(riov_vtd_domain_set_table_limit(v, DID, 3), 0);
	CHECK_EQ(riov_vtd_unmap(v, DID, GB + 3 * MB, 4 * KB), -ENOSPC);  /* 1 of the 2 it needs */
	CHECK_EQ(riov_vtd_domain_set_table_limit(v, DID, 4), 0);
	CHECK_EQ(riov_vtd_unmap(v, DID, GB + 3 * MB, 4 * KB), 0);
	CHECK_EQ(info(v).table_pages, 4);
	CHECK_EQ(info(v).mapped_bytes, GB - 4 * KB);
	riov_vtd_inv_iotlb_global(v);
	CHECK_EQ(xl(v, GB + 3 * MB, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_READ);
	CHECK_EQ(xl(v, GB + 3 * MB + 4 * KB, 1, RIOV_VTD_READ, &h, NULL), 0);
	CHECK_EQ(h, 5 * GB + 3 * MB + 4 * KB);
	riov_vtd_destroy(v);
}

/* ---- large pages ---------------------------------------------------------------------------- */

/* 2 MiB pages: the map path uses them where iova and hpa are congruent modulo 2 MiB; addresses
 * inside translate with the mapped length bounded by the page; the page count is the PD alone;
 * a partial unmap splits one page into 4 KiB entries and leaves the rest; invalidation of the
 * 2 MiB page (page-selective, am = 9) drops the cached translation. */
RIOV_TEST(superpage_2m_translate_split_invalidate)
{
	struct riov_vtd *v = mk_dom(0);
	const uint64_t io = 6 * GB + 4 * MB, hp = 0x7000000000ull + 2 * MB;
	uint64_t h, m;

	CHECK_EQ(riov_vtd_map_entries(io, hp, 6 * MB), 3);
	CHECK_EQ(riov_vtd_map(v, DID, io, hp, 6 * MB, 3), 0);
	CHECK_EQ(info(v).table_pages, 3);        /* root, PDPT, PD: no PT */
	for (unsigned i = 0; i < 3; i++) {
		uint64_t *e = vtd_raw_pte(v, DID, io + i * 2 * MB, 2);
		CHECK(e != NULL && (*e & VTD_SL_PTE_PS));
		CHECK(e != NULL && (*e & VTD_SL_PTE_ADDR) == hp + i * 2 * MB);
	}
	CHECK_EQ(xl(v, io + 2 * MB + 0x12345, 8 * MB, RIOV_VTD_READ, &h, &m), 0);
	CHECK_EQ(h, hp + 2 * MB + 0x12345);
	CHECK_EQ(m, 2 * MB - 0x12345);
	CHECK_EQ(xl(v, io + 6 * MB - 1, 1, RIOV_VTD_WRITE, &h, &m), 0);
	CHECK_EQ(h, hp + 6 * MB - 1);
	CHECK_EQ(xl(v, io + 6 * MB, 1, RIOV_VTD_WRITE, NULL, NULL), -RIOV_VTD_FR_WRITE);

	/* the IOTLB holds the 2 MiB page: a cursor that missed fills it, a fresh one hits it */
	struct riov_vtd_cursor c;
	void *p;
	riov_vtd_cursor_init(&c, v, SID);
	CHECK_EQ(riov_vtd_translate(&c, io + 2 * MB + 64, 1, RIOV_VTD_READ, &p, &m), 0);
	/* unmap 8 KiB inside the middle page: it splits into 510 4 KiB entries around the hole */
	CHECK_EQ(riov_vtd_unmap(v, DID, io + 2 * MB + 1 * MB, 8 * KB), 0);
	CHECK_EQ(info(v).table_pages, 4);
	CHECK_EQ(info(v).mapped_bytes, 6 * MB - 8 * KB);
	CHECK(!(*vtd_raw_pte(v, DID, io + 2 * MB, 2) & VTD_SL_PTE_PS));
	/* tables only: until invalidated, the cached 2 MiB translation still answers (VT-d 6.5) */
	CHECK_EQ(riov_vtd_translate(&c, io + 3 * MB, 1, RIOV_VTD_READ, &p, &m), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, DID, io + 2 * MB, 9), 0);
	CHECK_EQ(riov_vtd_translate(&c, io + 3 * MB, 1, RIOV_VTD_READ, &p, &m), -RIOV_VTD_FR_READ);
	CHECK_EQ(riov_vtd_translate(&c, io + 3 * MB + 8 * KB, 16, RIOV_VTD_READ, &p, &m), 0);
	CHECK_EQ((uint64_t)(uintptr_t)p, hp + 3 * MB + 8 * KB);
	CHECK_EQ(m, 16);
	CHECK_EQ(riov_vtd_translate(&c, io + 3 * MB - 4, 100, RIOV_VTD_READ, &p, &m), 0);
	CHECK_EQ(m, 4);   /* the 4 KiB page before the hole */
	/* the other pages are untouched */
	CHECK_EQ(xl(v, io + 0x100, 1, RIOV_VTD_READ, &h, NULL), 0);
	CHECK_EQ(h, hp + 0x100);
	CHECK(*vtd_raw_pte(v, DID, io, 2) & VTD_SL_PTE_PS);
	/* unmapping the rest of the split page drops its table again */
	CHECK_EQ(riov_vtd_unmap(v, DID, io + 2 * MB, 2 * MB), 0);
	CHECK_EQ(info(v).table_pages, 3);
	CHECK_EQ(info(v).mapped_bytes, 4 * MB);
	riov_vtd_destroy(v);
}

/* Nested (a vhost device with a vIOMMU): a 2 MiB first-stage page over 4 KiB second-stage pages
 * and the reverse translate at the smaller size, through the IOTLB fill. */
RIOV_TEST(superpage_2m_nested)
{
	struct riov_vtd *v = mk(0);
	uint64_t m;

	CHECK_EQ(riov_vtd_domain_create(v, 1, 4), 0);   /* second stage: gpa -> host */
	CHECK_EQ(riov_vtd_domain_create(v, 2, 4), 0);   /* first stage: iova -> gpa */
	CHECK_EQ(riov_vtd_context_set_nested(v, SID, 2, 1, false), 0);
	CHECK_EQ(riov_vtd_map(v, 1, 0, 0x10000000ull + 4 * KB, 64 * MB, 3), 0);   /* 4 KiB pages */
	CHECK_EQ(riov_vtd_map(v, 1, 64 * MB, 0x20000000ull, 64 * MB, 3), 0);     /* 2 MiB pages */
	CHECK_EQ(riov_vtd_map(v, 2, 2 * GB, 4 * MB, 2 * MB, 3), 0);              /* -> 4 KiB s2 */
	CHECK_EQ(riov_vtd_map(v, 2, 3 * GB + 4 * KB, 64 * MB + 4 * KB, 8 * KB, 1), 0);
	struct riov_vtd_cursor c;
	void *p;
	riov_vtd_cursor_init(&c, v, SID);
	for (unsigned pass = 0; pass < 2; pass++) {   /* walk, then IOTLB */
		CHECK_EQ(riov_vtd_translate(&c, 2 * GB + MB + 5, 64 * KB, RIOV_VTD_WRITE, &p, &m),
			 0);
		CHECK_EQ((uint64_t)(uintptr_t)p, 0x10000000ull + 4 * KB + 4 * MB + MB + 5);
		CHECK_EQ(m, 4 * KB - 5);
		CHECK_EQ(riov_vtd_translate(&c, 3 * GB + 4 * KB + 9, 1, RIOV_VTD_READ, &p, &m), 0);
		CHECK_EQ((uint64_t)(uintptr_t)p, 0x20000000ull + 4 * KB + 9);
		CHECK_EQ(riov_vtd_translate(&c, 3 * GB + 4 * KB, 1, RIOV_VTD_WRITE, &p, &m),
			 -RIOV_VTD_FR_WRITE);
		riov_vtd_cursor_init(&c, v, SID);
	}
	riov_vtd_destroy(v);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(limit_default_config_and_setter),
	       RIOV_TEST_ENTRY(limit_all_or_nothing), RIOV_TEST_ENTRY(limit_giant_map_refused),
	       RIOV_TEST_ENTRY(limit_count_exact_random), RIOV_TEST_ENTRY(limit_unmap_split),
	       RIOV_TEST_ENTRY(superpage_2m_translate_split_invalidate),
	       RIOV_TEST_ENTRY(superpage_2m_nested))
