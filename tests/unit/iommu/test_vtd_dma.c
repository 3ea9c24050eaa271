/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the VT-d model's DMA remapping: tables, walks, faults, caches, invalidation. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "iommu/vtd.h"
#include "iommu/vtd_internal.h"
#include "tests/riov_test.h"

#define KB 1024ull
#define MB (1024ull * KB)
#define GB (1024ull * MB)

static struct riov_vtd *mk(unsigned aw, bool cm, unsigned log)
{
	struct riov_vtd_config cfg = { .aw_bits = aw, .fault_log_size = log, .irte_count = 256,
				       .caching_mode = cm };
	struct riov_vtd *v = riov_vtd_create(&cfg);
	CHECK(v != NULL);
	return v;
}

/* translate; return 0 or -reason; out params optional */
static int xl(struct riov_vtd_cursor *c, uint64_t iova, uint64_t len, unsigned acc, uint64_t *h,
	      uint64_t *m)
{
	void *p = NULL;
	uint64_t mm = 0;
	int rc = riov_vtd_translate(c, iova, len, acc, &p, &mm);
	if (h)
		*h = (uint64_t)(uintptr_t)p;
	if (m)
		*m = mm;
	return rc;
}

RIOV_TEST(test_create_bad_config)
{
	struct riov_vtd_config cfg = { .aw_bits = 40, .fault_log_size = 4, .irte_count = 16 };
	CHECK(riov_vtd_create(&cfg) == NULL);
	CHECK_EQ(errno, EINVAL);
	cfg.aw_bits = 48;
	cfg.irte_count = 17;
	CHECK(riov_vtd_create(&cfg) == NULL);
	cfg.irte_count = 16;
	cfg.fault_log_size = 0;
	CHECK(riov_vtd_create(&cfg) == NULL);
	riov_vtd_destroy(NULL);
}

RIOV_TEST(test_domain_lifecycle)
{
	struct riov_vtd *v = mk(48, false, 16);
	CHECK_EQ(riov_vtd_domain_create(v, 0, 4), -EINVAL);
	CHECK_EQ(riov_vtd_domain_create(v, 1, 5), -EINVAL); /* 57-bit not supported by a 48-bit unit */
	CHECK_EQ(riov_vtd_domain_create(v, 1, 2), -EINVAL);
	CHECK_EQ(riov_vtd_domain_create(v, 1, 4), 0);
	CHECK_EQ(riov_vtd_domain_create(v, 1, 4), -EEXIST);
	CHECK_EQ(riov_vtd_domain_create(v, 2, 3), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x100, 1, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x101, 9, RIOV_VTD_TT_MULTI_LEVEL, false), -ENOENT);
	CHECK_EQ(riov_vtd_domain_destroy(v, 1), -EBUSY);
	struct riov_vtd_domain_info di;
	CHECK_EQ(riov_vtd_domain_info(v, 1, &di), 0);
	CHECK_EQ(di.attached, 1);
	CHECK_EQ(di.levels, 4);
	CHECK_EQ(riov_vtd_context_set(v, 0x100, 2, RIOV_VTD_TT_MULTI_LEVEL, false), 0); /* replace */
	CHECK_EQ(riov_vtd_domain_info(v, 1, &di), 0);
	CHECK_EQ(di.attached, 0);
	CHECK_EQ(riov_vtd_domain_destroy(v, 1), 0);
	CHECK_EQ(riov_vtd_domain_destroy(v, 1), -ENOENT);
	CHECK_EQ(riov_vtd_context_clear(v, 0x100), 0);
	CHECK_EQ(riov_vtd_context_clear(v, 0x100), -ENOENT);
	CHECK_EQ(riov_vtd_domain_destroy(v, 2), 0);
	riov_vtd_destroy(v);
}

/* Superpages at every level, for 3-, 4- and 5-level tables; the spec's entry format. */
RIOV_TEST(test_map_sizes_levels)
{
	for (unsigned levels = 3; levels <= 5; levels++) {
		struct riov_vtd *v = mk(57, false, 16);
		uint16_t sid = 0x0208;
		CHECK_EQ(riov_vtd_domain_create(v, 7, levels), 0);
		CHECK_EQ(riov_vtd_context_set(v, sid, 7, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
		uint64_t top = 1ull << (12 + 9 * levels);
		/* 1 GiB page at 1 GiB, 2 MiB page at 4 GiB + 2 MiB, 4 KiB at 5 GiB + 4 KiB */
		CHECK_EQ(riov_vtd_map(v, 7, 1 * GB, 0x40000000ull, GB, 3), 0);
		CHECK_EQ(riov_vtd_map(v, 7, 4 * GB + 2 * MB, 0x7000200000ull, 2 * MB, 1), 0);
		CHECK_EQ(riov_vtd_map(v, 7, 5 * GB + 4 * KB, 0x123456000ull, 4 * KB, 2), 0);
		CHECK_EQ(riov_vtd_map(v, 7, top - 4 * KB, 0x5000ull, 4 * KB, 3), 0);
		CHECK_EQ(riov_vtd_map(v, 7, top, 0x5000ull, 4 * KB, 3), -EINVAL);
		/* entries are in the spec format */
		uint64_t *e = vtd_raw_pte(v, 7, 1 * GB, 3);
		CHECK(e != NULL && *e == (0x40000000ull | VTD_SL_PTE_R | VTD_SL_PTE_W | VTD_SL_PTE_PS));
		e = vtd_raw_pte(v, 7, 4 * GB + 2 * MB, 2);
		CHECK(e != NULL && *e == (0x7000200000ull | VTD_SL_PTE_R | VTD_SL_PTE_PS));
		e = vtd_raw_pte(v, 7, 5 * GB + 4 * KB, 1);
		CHECK(e != NULL && *e == (0x123456000ull | VTD_SL_PTE_W));

		struct riov_vtd_cursor c;
		riov_vtd_cursor_init(&c, v, sid);
		uint64_t h, m;
		CHECK_EQ(xl(&c, GB + 12345, 1 * GB, RIOV_VTD_READ | RIOV_VTD_WRITE, &h, &m), 0);
		CHECK_EQ(h, 0x40000000ull + 12345);
		CHECK_EQ(m, GB - 12345);
		CHECK_EQ(xl(&c, GB + 100, 64, RIOV_VTD_WRITE, &h, &m), 0); /* cursor hit */
		CHECK_EQ(h, 0x40000000ull + 100);
		CHECK_EQ(m, 64);
		CHECK(c.hits >= 1);
		CHECK_EQ(xl(&c, 4 * GB + 3 * MB, 4 * MB, RIOV_VTD_READ, &h, &m), 0);
		CHECK_EQ(h, 0x7000200000ull + MB);
		CHECK_EQ(m, MB); /* bounded by the end of the 2 MiB page */
		CHECK_EQ(xl(&c, 5 * GB + 4 * KB + 4000, 200, RIOV_VTD_WRITE, &h, &m), 0);
		CHECK_EQ(h, 0x123456000ull + 4000);
		CHECK_EQ(m, 96);
		CHECK_EQ(xl(&c, top - 1, 1, RIOV_VTD_READ, &h, &m), 0);
		CHECK_EQ(h, 0x5fffull);
		CHECK_EQ(xl(&c, top, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_ADDR_BEYOND_AW);
		/* a 1 GiB + 2 MiB + 4 KiB region maps with the largest pages alignment allows */
		CHECK_EQ(riov_vtd_map(v, 7, 8 * GB, 16 * GB, GB + 2 * MB + 4 * KB, 3), 0);
		CHECK(vtd_raw_pte(v, 7, 8 * GB, 3) != NULL && (*vtd_raw_pte(v, 7, 8 * GB, 3) & VTD_SL_PTE_PS));
		CHECK(vtd_raw_pte(v, 7, 9 * GB, 2) != NULL && (*vtd_raw_pte(v, 7, 9 * GB, 2) & VTD_SL_PTE_PS));
		CHECK(vtd_raw_pte(v, 7, 9 * GB + 2 * MB, 1) != NULL);
		struct riov_vtd_domain_info di;
		riov_vtd_domain_info(v, 7, &di);
		CHECK_EQ(di.mapped_bytes, 2 * GB + 4 * MB + 12 * KB);
		CHECK_EQ(riov_vtd_context_clear(v, sid), 0);
		CHECK_EQ(riov_vtd_domain_destroy(v, 7), 0);
		riov_vtd_destroy(v);
	}
}

RIOV_TEST(test_map_errors_and_unmap_split)
{
	struct riov_vtd *v = mk(48, false, 16);
	struct riov_vtd_cursor c;
	uint64_t h, m;
	CHECK_EQ(riov_vtd_map(v, 3, 0, 0, 4096, 3), -ENOENT);
	CHECK_EQ(riov_vtd_domain_create(v, 3, 4), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x10, 3, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	riov_vtd_cursor_init(&c, v, 0x10);
	CHECK_EQ(riov_vtd_map(v, 3, 1, 0, 4096, 3), -EINVAL);
	CHECK_EQ(riov_vtd_map(v, 3, 0, 0, 4096, 0), -EINVAL);
	CHECK_EQ(riov_vtd_map(v, 3, 0, 0, 4096, 4), -EINVAL);
	CHECK_EQ(riov_vtd_map(v, 3, 0, 0, 0, 3), -EINVAL);
	CHECK_EQ(riov_vtd_map(v, 3, GB, 2 * GB, GB, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 3, GB + 2 * MB, 0x1000, 4096, 3), -EEXIST);
	CHECK_EQ(riov_vtd_map(v, 3, GB - 4096, 0x1000, 8192, 3), -EEXIST);
	CHECK(vtd_raw_pte(v, 3, GB - 4096, 1) == NULL); /* nothing changed on -EEXIST */
	/* unmap 4 KiB in the middle of a 1 GiB page: split 1G -> 2M -> 4K */
	CHECK_EQ(riov_vtd_unmap(v, 3, GB + 3 * MB, 4096), 0);
	riov_vtd_inv_iotlb_page(v, 3, GB + 3 * MB, 0);
	CHECK_EQ(xl(&c, GB + 3 * MB, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_READ);
	CHECK_EQ(xl(&c, GB + 3 * MB + 4096, 1, RIOV_VTD_READ, &h, &m), 0);
	CHECK_EQ(h, 2 * GB + 3 * MB + 4096);
	CHECK_EQ(m, 1);
	CHECK_EQ(xl(&c, GB + 3 * MB - 1, 100, RIOV_VTD_READ, &h, &m), 0);
	CHECK_EQ(m, 1); /* bounded by the 4 KiB page next to the hole */
	CHECK_EQ(xl(&c, GB + 5 * MB, 10 * MB, RIOV_VTD_READ, &h, &m), 0);
	CHECK_EQ(h, 2 * GB + 5 * MB);
	CHECK_EQ(m, MB); /* a 2 MiB page of the split */
	CHECK_EQ(xl(&c, GB + 100 * MB, 1, RIOV_VTD_WRITE, &h, &m), 0);
	struct riov_vtd_domain_info di;
	riov_vtd_domain_info(v, 3, &di);
	CHECK_EQ(di.mapped_bytes, GB - 4096);
	/* unmap everything: tables are returned, holes are not an error */
	CHECK_EQ(riov_vtd_unmap(v, 3, 0, 4 * GB), 0);
	riov_vtd_domain_info(v, 3, &di);
	CHECK_EQ(di.mapped_bytes, 0);
	CHECK_EQ(di.table_pages, 1);
	riov_vtd_inv_iotlb_domain(v, 3);
	CHECK_EQ(xl(&c, GB + 100 * MB, 1, RIOV_VTD_WRITE, NULL, NULL), -RIOV_VTD_FR_WRITE);
	/* a superpage can replace a subtree that became empty */
	CHECK_EQ(riov_vtd_map(v, 3, 0, 0, 4096, 3), 0);
	CHECK_EQ(riov_vtd_unmap(v, 3, 0, 4096), 0);
	CHECK_EQ(riov_vtd_map(v, 3, 0, 0, GB, 3), 0);
	CHECK(vtd_raw_pte(v, 3, 0, 3) != NULL && (*vtd_raw_pte(v, 3, 0, 3) & VTD_SL_PTE_PS));
	riov_vtd_destroy(v);
}

/* Every combination of the page's permission and the request's access. */
RIOV_TEST(test_permissions)
{
	struct riov_vtd *v = mk(48, false, 64);
	struct riov_vtd_cursor c;
	CHECK_EQ(riov_vtd_domain_create(v, 1, 4), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x20, 1, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	riov_vtd_cursor_init(&c, v, 0x20);
	for (unsigned perm = 1; perm <= 3; perm++)
		CHECK_EQ(riov_vtd_map(v, 1, perm * 2 * MB, perm * 2 * MB, 2 * MB, perm), 0);
	for (unsigned perm = 0; perm <= 3; perm++) {
		for (unsigned acc = 1; acc <= 3; acc++) {
			int want = 0;
			if ((acc & RIOV_VTD_WRITE) && !(perm & RIOV_VTD_WRITE))
				want = -RIOV_VTD_FR_WRITE;
			else if ((acc & RIOV_VTD_READ) && !(perm & RIOV_VTD_READ))
				want = -RIOV_VTD_FR_READ;
			for (int rep = 0; rep < 3; rep++) /* walk, then IOTLB, then cursor */
				CHECK_EQ(xl(&c, perm * 2 * MB + 8, 8, acc, NULL, NULL), want);
		}
	}
	/* a non-leaf entry without W takes W away from everything below (3.7: permissions AND) */
	uint64_t *pde = vtd_raw_pte(v, 1, 0, 3);
	CHECK(pde != NULL);
	*pde &= ~VTD_SL_PTE_W;
	riov_vtd_inv_iotlb_global(v);
	CHECK_EQ(xl(&c, 3 * 2 * MB, 8, RIOV_VTD_WRITE, NULL, NULL), -RIOV_VTD_FR_WRITE);
	CHECK_EQ(xl(&c, 3 * 2 * MB, 8, RIOV_VTD_READ, NULL, NULL), 0);
	riov_vtd_destroy(v);
}

static size_t nfaults(struct riov_vtd *v, struct riov_vtd_fault *f, size_t n)
{
	return riov_vtd_faults_read(v, f, n, true);
}

/* Every DMA fault reason that applies, from tables written raw where needed. */
RIOV_TEST(test_fault_reasons)
{
	struct riov_vtd *v = mk(48, false, 64);
	struct riov_vtd_cursor c;
	struct riov_vtd_fault f[8];
	uint64_t lo, hi;

	riov_vtd_cursor_init(&c, v, 0x0310);
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_ROOT_NOT_PRESENT);
	CHECK_EQ(riov_vtd_domain_create(v, 5, 4), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x0311, 5, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_CTX_NOT_PRESENT);
	CHECK_EQ(riov_vtd_context_set(v, 0x0310, 5, RIOV_VTD_TT_BLOCKED, false), 0);
	riov_vtd_inv_context_device(v, 0x0310);
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_CTX_INVALID);
	CHECK_EQ(riov_vtd_context_set(v, 0x0310, 5, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	riov_vtd_inv_context_device(v, 0x0310);
	CHECK_EQ(riov_vtd_map(v, 5, 0, 0x100000, 8192, RIOV_VTD_READ), 0);
	CHECK_EQ(xl(&c, 1ull << 48, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_ADDR_BEYOND_AW);
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_WRITE, NULL, NULL), -RIOV_VTD_FR_WRITE);
	CHECK_EQ(xl(&c, 0x10000, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_READ);
	CHECK_EQ(nfaults(v, f, 8), 6);
	CHECK_EQ(f[0].reason, RIOV_VTD_FR_ROOT_NOT_PRESENT);
	CHECK_EQ(f[1].reason, RIOV_VTD_FR_CTX_NOT_PRESENT);
	CHECK_EQ(f[2].reason, RIOV_VTD_FR_CTX_INVALID);
	CHECK_EQ(f[3].reason, RIOV_VTD_FR_ADDR_BEYOND_AW);
	CHECK_EQ(f[4].reason, RIOV_VTD_FR_WRITE);
	CHECK_EQ(f[4].is_write, 1);
	CHECK_EQ(f[5].reason, RIOV_VTD_FR_READ);
	CHECK_EQ(f[5].addr, 0x10000);
	CHECK_EQ(f[5].sid, 0x0310);

	/* reserved bits in PTEs, written raw: X bit, PS at level 4, HAW bits, superpage low bits */
	uint64_t *pte = vtd_raw_pte(v, 5, 0, 1);
	uint64_t save = *pte;
	*pte = save | VTD_SL_PTE_X;
	riov_vtd_inv_iotlb_global(v);
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_PTE_RSVD);
	*pte = save | (1ull << 50);
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_PTE_RSVD);
	*pte = save;
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), 0);
	uint64_t *pml4e = vtd_raw_pte(v, 5, 0, 4);
	save = *pml4e;
	*pml4e |= VTD_SL_PTE_PS;
	riov_vtd_inv_iotlb_global(v);
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_PTE_RSVD);
	*pml4e = save;
	CHECK_EQ(riov_vtd_map(v, 5, 2 * MB, 0x200000, 2 * MB, 3), 0);
	uint64_t *pde = vtd_raw_pte(v, 5, 2 * MB, 2);
	*pde |= 1ull << 13; /* low address bits of a 2 MiB page are reserved */
	CHECK_EQ(xl(&c, 2 * MB, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_PTE_RSVD);
	*pde &= ~(1ull << 13);
	CHECK_EQ(riov_vtd_map(v, 5, GB, GB, GB, 3), 0);
	uint64_t *pdpe = vtd_raw_pte(v, 5, GB, 3);
	*pdpe |= 1ull << 21; /* low address bits of a 1 GiB page are reserved */
	CHECK_EQ(xl(&c, GB, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_PTE_RSVD);
	*pdpe &= ~(1ull << 21);
	riov_vtd_inv_iotlb_global(v);
	CHECK_EQ(xl(&c, GB, 1, RIOV_VTD_READ, NULL, NULL), 0);
	nfaults(v, f, 8);

	/* root and context entries written raw */
	vtd_raw_root_read(v, 3, &lo, &hi);
	vtd_raw_root_write(v, 3, lo, 1);
	riov_vtd_inv_context_global(v);
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_ROOT_RSVD);
	vtd_raw_root_write(v, 3, lo + 4096, 0);
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_ROOT_ADDR);
	vtd_raw_root_write(v, 3, lo, 0);
	CHECK_EQ(vtd_raw_ctx_read(v, 0x0310, &lo, &hi), 0);
	vtd_raw_ctx_write(v, 0x0310, lo | (1ull << 5), hi);
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_CTX_RSVD);
	vtd_raw_ctx_write(v, 0x0310, lo, hi | (1ull << 30));
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_CTX_RSVD);
	vtd_raw_ctx_write(v, 0x0310, lo | (1ull << VTD_CTX_LO_TT_SHIFT), hi); /* TT=01: no ECAP.DT */
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_CTX_INVALID);
	vtd_raw_ctx_write(v, 0x0310, lo, (hi & ~VTD_CTX_HI_AW) | 3); /* 5-level on a 48-bit unit */
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_CTX_INVALID);
	vtd_raw_ctx_write(v, 0x0310, lo, (hi & ~VTD_CTX_HI_AW) | 1); /* AW differs from the table */
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_CTX_INVALID);
	vtd_raw_ctx_write(v, 0x0310, lo + 4096, hi); /* SLPTPTR not the domain's root */
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_CTX_INVALID);
	vtd_raw_ctx_write(v, 0x0310, lo, hi);
	CHECK_EQ(xl(&c, 0, 1, RIOV_VTD_READ, NULL, NULL), 0);
	struct riov_vtd_fault_stats st;
	riov_vtd_fault_stats(v, &st);
	CHECK_EQ(st.by_reason[RIOV_VTD_FR_CTX_RSVD], 2);
	CHECK_EQ(st.by_reason[RIOV_VTD_FR_PTE_RSVD], 5);
	CHECK_EQ(st.by_reason[RIOV_VTD_FR_ROOT_RSVD], 1);
	CHECK_EQ(st.by_reason[RIOV_VTD_FR_ROOT_ADDR], 1);
	riov_vtd_destroy(v);
}

RIOV_TEST(test_fpd_collapse_overflow)
{
	struct riov_vtd *v = mk(48, false, 4);
	struct riov_vtd_cursor c, c2;
	struct riov_vtd_fault f[8];
	struct riov_vtd_fault_stats st;

	CHECK_EQ(riov_vtd_domain_create(v, 1, 4), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x30, 1, RIOV_VTD_TT_MULTI_LEVEL, true), 0); /* FPD */
	CHECK_EQ(riov_vtd_context_set(v, 0x31, 1, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	riov_vtd_cursor_init(&c, v, 0x30);
	riov_vtd_cursor_init(&c2, v, 0x31);
	/* FPD: translate still fails with the reason, nothing is recorded */
	CHECK_EQ(xl(&c, 0x5000, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_READ);
	CHECK_EQ(nfaults(v, f, 8), 0);
	riov_vtd_fault_stats(v, &st);
	CHECK_EQ(st.suppressed, 1);
	CHECK_EQ(c.faults, 1);
	/* repeats from one source collapse while the record is in the log */
	for (int i = 0; i < 5; i++)
		CHECK_EQ(xl(&c2, 0x5000 + (uint64_t)i, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_READ);
	CHECK_EQ(riov_vtd_faults_read(v, f, 8, false), 1);
	CHECK_EQ(f[0].count, 5);
	/* a different page, a different reason: new records; then the log fills up */
	CHECK_EQ(xl(&c2, 0x6000, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_READ);
	CHECK_EQ(xl(&c2, 0x6000, 1, RIOV_VTD_WRITE, NULL, NULL), -RIOV_VTD_FR_WRITE);
	CHECK_EQ(xl(&c2, 0x7000, 1, RIOV_VTD_WRITE, NULL, NULL), -RIOV_VTD_FR_WRITE);
	CHECK(!riov_vtd_fault_overflowed(v));
	CHECK_EQ(xl(&c2, 0x8000, 1, RIOV_VTD_WRITE, NULL, NULL), -RIOV_VTD_FR_WRITE);
	CHECK(riov_vtd_fault_overflowed(v));
	/* still collapsing into records in the log while full */
	CHECK_EQ(xl(&c2, 0x7000, 1, RIOV_VTD_WRITE, NULL, NULL), -RIOV_VTD_FR_WRITE);
	riov_vtd_fault_stats(v, &st);
	CHECK_EQ(st.recorded, 4);
	CHECK_EQ(st.collapsed, 5);
	CHECK_EQ(st.overflow, 1);
	CHECK_EQ(st.by_reason[RIOV_VTD_FR_READ], 7);
	CHECK_EQ(riov_vtd_faults_read(v, f, 2, true), 2);
	CHECK_EQ(f[0].addr, 0x5000);
	CHECK_EQ(f[1].addr, 0x6000);
	CHECK_EQ(riov_vtd_faults_read(v, f, 8, true), 2);
	CHECK_EQ(f[1].addr, 0x7000);
	CHECK_EQ(f[1].count, 2);
	CHECK(!riov_vtd_fault_overflowed(v));
	/* once read and cleared, the same fault makes a new record */
	CHECK_EQ(xl(&c2, 0x5000, 1, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_READ);
	CHECK_EQ(riov_vtd_faults_read(v, f, 8, true), 1);
	CHECK_EQ(f[0].count, 1);
	riov_vtd_destroy(v);
}

/* Stale translations survive until the matching invalidation, as on hardware; each granularity. */
RIOV_TEST(test_invalidation_granularity)
{
	struct riov_vtd *v = mk(48, false, 64);
	struct riov_vtd_cursor c1, c2;
	uint64_t h;

	CHECK_EQ(riov_vtd_domain_create(v, 1, 4), 0);
	CHECK_EQ(riov_vtd_domain_create(v, 2, 4), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x40, 1, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x41, 2, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	riov_vtd_cursor_init(&c1, v, 0x40);
	riov_vtd_cursor_init(&c2, v, 0x41);
	for (uint64_t p = 0; p < 16; p++) {
		CHECK_EQ(riov_vtd_map(v, 1, p * 4096, 0x100000 + p * 4096, 4096, 3), 0);
		CHECK_EQ(riov_vtd_map(v, 2, p * 4096, 0x200000 + p * 4096, 4096, 3), 0);
	}
	for (uint64_t p = 0; p < 16; p++) {
		CHECK_EQ(xl(&c1, p * 4096, 1, 1, NULL, NULL), 0);
		CHECK_EQ(xl(&c2, p * 4096, 1, 1, NULL, NULL), 0);
	}
	/* remap everything elsewhere without invalidating: the IOTLB keeps the old translations */
	CHECK_EQ(riov_vtd_unmap(v, 1, 0, 16 * 4096), 0);
	CHECK_EQ(riov_vtd_unmap(v, 2, 0, 16 * 4096), 0);
	CHECK_EQ(riov_vtd_map(v, 1, 0, 0x900000, 16 * 4096, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 2, 0, 0xa00000, 16 * 4096, 3), 0);
	for (uint64_t p = 0; p < 16; p++) {
		CHECK_EQ(xl(&c1, p * 4096, 1, 1, &h, NULL), 0);
		CHECK_EQ(h, 0x100000 + p * 4096);
	}
	/* page-selective with a mask: pages 4..7 of domain 1 (am = 2) */
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 1, 4 * 4096, 2), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 1, 5 * 4096, 2), -EINVAL);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 1, 0, 19), -EINVAL);
	for (uint64_t p = 0; p < 16; p++) {
		CHECK_EQ(xl(&c1, p * 4096, 1, 1, &h, NULL), 0);
		CHECK_EQ(h, (p >= 4 && p < 8 ? 0x900000 : 0x100000) + p * 4096);
		CHECK_EQ(xl(&c2, p * 4096, 1, 1, &h, NULL), 0);
		CHECK_EQ(h, 0x200000 + p * 4096);
	}
	/* domain-selective: domain 1 only */
	riov_vtd_inv_iotlb_domain(v, 1);
	for (uint64_t p = 0; p < 16; p++) {
		CHECK_EQ(xl(&c1, p * 4096, 1, 1, &h, NULL), 0);
		CHECK_EQ(h, 0x900000 + p * 4096);
		CHECK_EQ(xl(&c2, p * 4096, 1, 1, &h, NULL), 0);
		CHECK_EQ(h, 0x200000 + p * 4096);
	}
	/* global */
	riov_vtd_inv_iotlb_global(v);
	for (uint64_t p = 0; p < 16; p++) {
		CHECK_EQ(xl(&c2, p * 4096, 1, 1, &h, NULL), 0);
		CHECK_EQ(h, 0xa00000 + p * 4096);
	}
	/* context cache: moving sid 0x40 to domain 2 is invisible until a context invalidation */
	CHECK_EQ(riov_vtd_context_set(v, 0x40, 2, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(xl(&c1, 0, 1, 1, &h, NULL), 0);
	CHECK_EQ(h, 0x900000);
	riov_vtd_inv_context_global(v); /* also drops the cursor's last hit */
	CHECK_EQ(xl(&c1, 0, 1, 1, &h, NULL), 0);
	CHECK_EQ(h, 0xa00000);
	CHECK_EQ(riov_vtd_context_clear(v, 0x40), 0);
	CHECK_EQ(xl(&c1, 0, 1, 1, &h, NULL), 0); /* cached context */
	riov_vtd_inv_context_device(v, 0x41); /* another device: no effect on 0x40's entry */
	CHECK_EQ(xl(&c1, 0, 1, 1, &h, NULL), 0);
	riov_vtd_inv_context_device(v, 0x40);
	CHECK_EQ(xl(&c1, 0, 1, 1, NULL, NULL), -RIOV_VTD_FR_CTX_NOT_PRESENT);
	riov_vtd_destroy(v);
}

/* A page-selective invalidation covers superpages overlapping the range. */
RIOV_TEST(test_invalidation_superpage)
{
	struct riov_vtd *v = mk(48, false, 64);
	struct riov_vtd_cursor c;
	uint64_t h;
	CHECK_EQ(riov_vtd_domain_create(v, 1, 4), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x40, 1, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	riov_vtd_cursor_init(&c, v, 0x40);
	CHECK_EQ(riov_vtd_map(v, 1, GB, 4 * GB, GB, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 1, 2 * MB, 8 * GB, 2 * MB, 3), 0);
	CHECK_EQ(xl(&c, GB + 5 * MB, 1, 1, &h, NULL), 0);
	CHECK_EQ(xl(&c, 3 * MB, 1, 1, &h, NULL), 0);
	CHECK_EQ(riov_vtd_unmap(v, 1, GB, GB), 0);
	CHECK_EQ(riov_vtd_unmap(v, 1, 2 * MB, 2 * MB), 0);
	CHECK_EQ(xl(&c, GB + 5 * MB, 1, 1, &h, NULL), 0); /* stale */
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 1, GB + 8 * MB, 0), 0);
	CHECK_EQ(xl(&c, GB + 5 * MB, 1, 1, NULL, NULL), -RIOV_VTD_FR_READ);
	CHECK_EQ(xl(&c, 3 * MB, 1, 1, &h, NULL), 0); /* stale */
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 1, 0, 10), 0); /* 4 MiB from 0 */
	CHECK_EQ(xl(&c, 3 * MB, 1, 1, NULL, NULL), -RIOV_VTD_FR_READ);
	riov_vtd_destroy(v);
}

/* CM=1: not-present results may be cached; software must invalidate after map. */
RIOV_TEST(test_caching_mode)
{
	for (int cm = 0; cm <= 1; cm++) {
		struct riov_vtd *v = mk(48, cm, 64);
		struct riov_vtd_cursor c;
		CHECK_EQ(riov_vtd_domain_create(v, 1, 4), 0);
		CHECK_EQ(riov_vtd_context_set(v, 0x40, 1, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
		riov_vtd_cursor_init(&c, v, 0x40);
		CHECK_EQ(xl(&c, 0x3000, 1, 1, NULL, NULL), -RIOV_VTD_FR_READ);
		CHECK_EQ(riov_vtd_map(v, 1, 0x3000, 0x3000, 4096, 3), 0);
		/* CM=0: not-present is never cached, the new mapping is seen at once */
		CHECK_EQ(xl(&c, 0x3000, 1, 1, NULL, NULL), cm ? -RIOV_VTD_FR_READ : 0);
		CHECK_EQ(riov_vtd_inv_iotlb_page(v, 1, 0x3000, 0), 0);
		CHECK_EQ(xl(&c, 0x3000, 1, 1, NULL, NULL), 0);
		riov_vtd_destroy(v);
	}
}

RIOV_TEST(test_pass_through)
{
	struct riov_vtd *v = mk(39, false, 64);
	struct riov_vtd_cursor c;
	uint64_t h, m;
	CHECK_EQ(riov_vtd_context_set(v, 0x50, 9, RIOV_VTD_TT_PASS_THROUGH, false), 0);
	riov_vtd_cursor_init(&c, v, 0x50);
	CHECK_EQ(xl(&c, 0x12345678, 100, 3, &h, &m), 0);
	CHECK_EQ(h, 0x12345678);
	CHECK_EQ(m, 100);
	CHECK_EQ(xl(&c, 1ull << 39, 1, 3, NULL, NULL), -RIOV_VTD_FR_ADDR_BEYOND_AW);
	riov_vtd_destroy(v);
}

/* Nested: iova -> (first stage) gpa -> (second stage) host; the page is the smaller of both. */
RIOV_TEST(test_nested)
{
	struct riov_vtd *v = mk(48, false, 64);
	struct riov_vtd_cursor c;
	uint64_t h, m;
	CHECK_EQ(riov_vtd_domain_create(v, 10, 4), 0); /* guest vIOMMU domain (iova -> gpa) */
	CHECK_EQ(riov_vtd_domain_create(v, 20, 4), 0); /* guest memory (gpa -> hva) */
	CHECK_EQ(riov_vtd_context_set_nested(v, 0x60, 10, 99, false), -ENOENT);
	CHECK_EQ(riov_vtd_context_set_nested(v, 0x60, 10, 10, false), -EINVAL);
	CHECK_EQ(riov_vtd_context_set_nested(v, 0x60, 10, 20, false), 0);
	struct riov_vtd_domain_info di;
	riov_vtd_domain_info(v, 10, &di);
	CHECK_EQ(di.attached, 1);
	CHECK_EQ(riov_vtd_domain_destroy(v, 20), -EBUSY);
	riov_vtd_cursor_init(&c, v, 0x60);
	/* guest memory: gpa [0, 1 GiB) at hva 0x7f0000000000 with 1 GiB page; 4 KiB at 1 GiB */
	CHECK_EQ(riov_vtd_map(v, 20, 0, 0x7f0000000000ull, GB, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 20, GB, 0x7f8000000000ull, 4096, RIOV_VTD_READ), 0);
	/* guest IOMMU: iova 2 MiB page at 0x40000000 -> gpa 0x600000; 4 KiB at 0x1000 -> gpa 1 GiB */
	CHECK_EQ(riov_vtd_map(v, 10, 0x40000000, 0x600000, 2 * MB, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 10, 0x1000, GB, 4096, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 10, 0x2000, 2 * GB, 4096, 3), 0); /* gpa not backed */
	CHECK_EQ(xl(&c, 0x40000000 + 0x1234, 4 * MB, 3, &h, &m), 0);
	CHECK_EQ(h, 0x7f0000000000ull + 0x600000 + 0x1234);
	CHECK_EQ(m, 2 * MB - 0x1234); /* min(2 MiB, 1 GiB) page */
	CHECK_EQ(xl(&c, 0x1010, 8192, 1, &h, &m), 0);
	CHECK_EQ(h, 0x7f8000000000ull + 0x10);
	CHECK_EQ(m, 4096 - 0x10);
	CHECK_EQ(xl(&c, 0x1010, 8, RIOV_VTD_WRITE, NULL, NULL), -RIOV_VTD_FR_WRITE); /* s2 is RO */
	CHECK_EQ(xl(&c, 0x2000, 8, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_FR_READ); /* s2: a fault */
	/* nothing in the first stage: not a fault but a miss to ask the front-end about */
	struct riov_vtd_fault_stats fs0, fs1;
	riov_vtd_fault_stats(v, &fs0);
	CHECK_EQ(xl(&c, 0x3000, 8, RIOV_VTD_READ, NULL, NULL), -RIOV_VTD_IOTLB_MISS);
	CHECK_EQ(xl(&c, 0x3000, 8, RIOV_VTD_WRITE, NULL, NULL), -RIOV_VTD_IOTLB_MISS);
	riov_vtd_fault_stats(v, &fs1);
	CHECK_EQ(fs1.recorded + fs1.collapsed + fs1.suppressed, fs0.recorded + fs0.collapsed + fs0.suppressed);
	/* guest unmaps + invalidates its domain (page-selective on the first stage) */
	CHECK_EQ(riov_vtd_unmap(v, 10, 0x40000000, 2 * MB), 0);
	CHECK_EQ(xl(&c, 0x40000000, 8, 1, NULL, NULL), 0);
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 10, 0x40000000, 9), 0);
	CHECK_EQ(xl(&c, 0x40000000, 8, 1, NULL, NULL), -RIOV_VTD_IOTLB_MISS);
	/* host changes guest memory: invalidating the second-stage domain drops nested entries */
	CHECK_EQ(xl(&c, 0x1010, 8, 1, &h, NULL), 0);
	CHECK_EQ(riov_vtd_unmap(v, 20, GB, 4096), 0);
	CHECK_EQ(riov_vtd_map(v, 20, GB, 0x7f9000000000ull, 4096, 3), 0);
	CHECK_EQ(xl(&c, 0x1010, 8, 1, &h, NULL), 0);
	CHECK_EQ(h, 0x7f8000000010ull); /* stale until invalidated */
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 20, GB, 0), 0);
	CHECK_EQ(xl(&c, 0x1010, 8, 3, &h, NULL), 0);
	CHECK_EQ(h, 0x7f9000000010ull);
	CHECK_EQ(riov_vtd_unmap(v, 20, 0, GB), 0);
	riov_vtd_inv_iotlb_domain(v, 20);
	/* a small page-selective invalidation of the first stage finds nested entries too */
	CHECK_EQ(xl(&c, 0x1010, 8, 1, &h, NULL), 0);
	CHECK_EQ(riov_vtd_unmap(v, 10, 0x1000, 4096), 0);
	CHECK_EQ(xl(&c, 0x1010, 8, 1, &h, NULL), 0); /* stale */
	CHECK_EQ(riov_vtd_inv_iotlb_page(v, 10, 0x1000, 0), 0);
	CHECK_EQ(xl(&c, 0x1010, 8, 1, NULL, NULL), -RIOV_VTD_IOTLB_MISS);
	/* s1 address beyond its AW, gpa beyond the second stage's AW */
	CHECK_EQ(xl(&c, 1ull << 48, 8, 1, NULL, NULL), -RIOV_VTD_FR_ADDR_BEYOND_AW);
	riov_vtd_destroy(v);
}

/* Domain destroy scrubs every cache that points at it (no use after free, even without the
 * caller's context invalidation). */
RIOV_TEST(test_destroy_scrubs_caches)
{
	struct riov_vtd *v = mk(48, false, 64);
	struct riov_vtd_cursor c;
	CHECK_EQ(riov_vtd_domain_create(v, 1, 4), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x40, 1, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(riov_vtd_map(v, 1, 0, 0x1000, 4096, 3), 0);
	riov_vtd_cursor_init(&c, v, 0x40);
	CHECK_EQ(xl(&c, 0, 1, 1, NULL, NULL), 0);
	CHECK_EQ(riov_vtd_context_clear(v, 0x40), 0);
	CHECK_EQ(riov_vtd_domain_destroy(v, 1), 0);
	CHECK_EQ(xl(&c, 0, 1, 1, NULL, NULL), -RIOV_VTD_FR_CTX_NOT_PRESENT);
	riov_vtd_destroy(v);
}

struct walk_acc {
	int n;
	uint64_t iova[8], hpa[8], len[8];
	unsigned perm[8];
};

static void walk_cb(void *arg, uint64_t iova, uint64_t hpa, uint64_t len, unsigned perm)
{
	struct walk_acc *a = arg;
	if (a->n < 8) {
		a->iova[a->n] = iova;
		a->hpa[a->n] = hpa;
		a->len[a->n] = len;
		a->perm[a->n] = perm;
	}
	a->n++;
}

RIOV_TEST(test_domain_walk)
{
	struct riov_vtd *v = mk(48, false, 64);
	struct walk_acc a = { 0 };
	CHECK_EQ(riov_vtd_domain_create(v, 1, 4), 0);
	CHECK_EQ(riov_vtd_map(v, 1, 0, GB, GB + 2 * MB + 8192, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 1, 4 * GB, 0x5000, 4096, 1), 0);
	CHECK_EQ(riov_vtd_map(v, 1, 4 * GB + 4096, 0x6000, 4096, 3), 0);
	CHECK_EQ(riov_vtd_domain_walk(v, 1, walk_cb, &a), 0);
	CHECK_EQ(a.n, 3);
	CHECK_EQ(a.iova[0], 0);
	CHECK_EQ(a.hpa[0], GB);
	CHECK_EQ(a.len[0], GB + 2 * MB + 8192);
	CHECK_EQ(a.iova[1], 4 * GB);
	CHECK_EQ(a.perm[1], 1);
	CHECK_EQ(a.perm[2], 3);
	CHECK_EQ(riov_vtd_domain_walk(v, 2, walk_cb, &a), -ENOENT);
	riov_vtd_destroy(v);
}

/* Several workers translating while the control thread remaps and invalidates: every translation
 * returns one of the two mappings that existed (no torn entries), and after each invalidation
 * returned, a translate that starts later sees the new one. */
struct mt_arg {
	struct riov_vtd *v;
	_Atomic int stop;
	_Atomic uint64_t phase;   /* even: mapping A valid, published after the invalidation */
	_Atomic int bad;
	_Atomic uint64_t n;
};

static void *mt_worker(void *p)
{
	struct mt_arg *a = p;
	struct riov_vtd_cursor c;
	riov_vtd_cursor_init(&c, a->v, 0x70);
	while (!atomic_load(&a->stop)) {
		uint64_t ph = atomic_load(&a->phase);
		for (uint64_t pg = 0; pg < 64; pg++) {
			uint64_t h = 0, m = 0;
			int rc = xl(&c, pg * 4096 + 8, 8, 1, &h, &m);
			if (atomic_load(&a->phase) != ph)
				ph = 1; /* the tables may have changed meanwhile: check only tearing */
			uint64_t ha = 0x10000000 + pg * 4096 + 8, hb = 0x20000000 + pg * 4096 + 8;
			if (rc != 0 || (h != ha && h != hb) || m != 8)
				atomic_store(&a->bad, 1);
			/* phase is published after the invalidation that made it current */
			if ((ph & 3) == 0 && h != ha)
				atomic_store(&a->bad, 2);
			if ((ph & 3) == 2 && h != hb)
				atomic_store(&a->bad, 3);
			atomic_fetch_add(&a->n, 1);
		}
	}
	return NULL;
}

RIOV_TEST(test_concurrent_invalidation)
{
	struct mt_arg a = { .v = mk(48, false, 64) };
	pthread_t t[2];
	CHECK_EQ(riov_vtd_domain_create(a.v, 1, 4), 0);
	CHECK_EQ(riov_vtd_context_set(a.v, 0x70, 1, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(riov_vtd_map(a.v, 1, 0, 0x10000000, 64 * 4096, 1), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, mt_worker, &a);
	for (int round = 0; round < 400; round++) {
		/* phase odd while changing; A and B both valid translations for the tables */
		atomic_fetch_add(&a.phase, 1);
		uint64_t pg = 0;
		for (pg = 0; pg < 64; pg++) {
			/* tables change page by page (4 KiB pages, no holes: remap in place) */
			uint64_t *e = vtd_raw_pte(a.v, 1, pg * 4096, 1);
			uint64_t to = (round & 1) ? 0x10000000 : 0x20000000;
			__atomic_store_n(e, (to + pg * 4096) | VTD_SL_PTE_R, __ATOMIC_RELEASE);
		}
		if (round % 3 == 0)
			riov_vtd_inv_iotlb_global(a.v);
		else if (round % 3 == 1)
			riov_vtd_inv_iotlb_domain(a.v, 1);
		else
			riov_vtd_inv_iotlb_page(a.v, 1, 0, 6);
		atomic_fetch_add(&a.phase, 1);
		uint64_t n0 = atomic_load(&a.n);
		while (atomic_load(&a.n) < n0 + 200)
			sched_yield();
	}
	atomic_store(&a.stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(atomic_load(&a.bad), 0);
	riov_vtd_destroy(a.v);
}


RIOV_TEST(test_dump_and_context_get)
{
	struct riov_vtd *v = mk(48, false, 64);
	struct riov_vtd_context_info ci;
	char buf[1024] = { 0 };
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	CHECK_EQ(riov_vtd_domain_create(v, 4, 4), 0);
	CHECK_EQ(riov_vtd_domain_create(v, 5, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 4, 2 * MB, 0x40000000, 4 * MB, 1), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x0901, 4, RIOV_VTD_TT_MULTI_LEVEL, true), 0);
	CHECK_EQ(riov_vtd_context_set_nested(v, 0x0902, 5, 4, false), 0);
	CHECK_EQ(riov_vtd_domain_dump(v, 4, f), 0);
	CHECK_EQ(riov_vtd_domain_dump(v, 6, f), -ENOENT);
	fclose(f);
	CHECK(strstr(buf, "domain 4: 4-level (48-bit), 4194304 bytes mapped") != NULL);
	CHECK(strstr(buf, "2 attached") != NULL);
	CHECK(strstr(buf, "0x000000200000..0x0000005fffff -> 0x000040000000 r-") != NULL);
	CHECK_EQ(riov_vtd_context_get(v, 0x0901, &ci), 0);
	CHECK(ci.present && ci.fpd && !ci.nested);
	CHECK_EQ(ci.did, 4);
	CHECK_EQ(ci.tt, RIOV_VTD_TT_MULTI_LEVEL);
	CHECK_EQ(riov_vtd_context_get(v, 0x0902, &ci), 0);
	CHECK(ci.present && ci.nested);
	CHECK_EQ(ci.did, 4);
	CHECK_EQ(ci.s1_did, 5);
	CHECK_EQ(riov_vtd_context_get(v, 0x0903, &ci), 0);
	CHECK(!ci.present);
	CHECK_EQ(riov_vtd_context_get(v, 0x7703, &ci), 0);
	CHECK(!ci.present);
	riov_vtd_destroy(v);
}

/* The fault path from several threads: every fault is accounted exactly once. */
struct fault_arg {
	struct riov_vtd *v;
	uint16_t sid;
};

static void *fault_worker(void *p)
{
	struct fault_arg *a = p;
	struct riov_vtd_cursor c;
	riov_vtd_cursor_init(&c, a->v, a->sid);
	for (uint64_t i = 0; i < 20000; i++)
		xl(&c, (i % 300) * 4096, 1, RIOV_VTD_READ, NULL, NULL);
	return NULL;
}

RIOV_TEST(test_concurrent_faults)
{
	struct riov_vtd *v = mk(48, false, 128);
	struct fault_arg a[3] = { { v, 0x10 }, { v, 0x11 }, { v, 0x12 } };
	pthread_t t[3];
	struct riov_vtd_fault_stats st;
	CHECK_EQ(riov_vtd_domain_create(v, 1, 4), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(riov_vtd_context_set(v, a[i].sid, 1, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, fault_worker, &a[i]);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	riov_vtd_fault_stats(v, &st);
	CHECK_EQ(st.recorded, 128);
	CHECK_EQ(st.recorded + st.collapsed + st.overflow, 60000);
	CHECK_EQ(st.by_reason[RIOV_VTD_FR_READ], 60000);
	CHECK(riov_vtd_fault_overflowed(v));
	riov_vtd_destroy(v);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(test_create_bad_config), RIOV_TEST_ENTRY(test_domain_lifecycle),
	       RIOV_TEST_ENTRY(test_map_sizes_levels), RIOV_TEST_ENTRY(test_map_errors_and_unmap_split),
	       RIOV_TEST_ENTRY(test_permissions), RIOV_TEST_ENTRY(test_fault_reasons),
	       RIOV_TEST_ENTRY(test_fpd_collapse_overflow),
	       RIOV_TEST_ENTRY(test_invalidation_granularity),
	       RIOV_TEST_ENTRY(test_invalidation_superpage), RIOV_TEST_ENTRY(test_caching_mode),
	       RIOV_TEST_ENTRY(test_pass_through), RIOV_TEST_ENTRY(test_nested),
	       RIOV_TEST_ENTRY(test_destroy_scrubs_caches), RIOV_TEST_ENTRY(test_domain_walk),
	       RIOV_TEST_ENTRY(test_concurrent_invalidation), RIOV_TEST_ENTRY(test_dump_and_context_get),
	       RIOV_TEST_ENTRY(test_concurrent_faults))
