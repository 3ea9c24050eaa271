/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Differential test of the VT-d model's DMA remapping against a plain reference model (a list of
 * mapped ranges): random map / unmap / invalidate / translate operations, zero mismatches allowed.
 * Operation count: argv[1] or env RIOV_VTD_DIFF_OPS (default 2,000,000, 200,000 under ASan/TSan).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "iommu/vtd.h"
#include "tests/riov_test.h"

#define KB 1024ull
#define MB (1024ull * KB)
#define GB (1024ull * MB)
#define SPACE (64 * GB)
#define MAXR 4096

struct range {
	uint64_t iova, hpa, len;
	unsigned perm;
};

static struct range ref[MAXR];
static unsigned nref;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

static const struct range *ref_find(uint64_t iova)
{
	for (unsigned i = 0; i < nref; i++)
		if (iova >= ref[i].iova && iova - ref[i].iova < ref[i].len)
			return &ref[i];
	return NULL;
}

static bool ref_overlaps(uint64_t iova, uint64_t len)
{
	for (unsigned i = 0; i < nref; i++)
		if (ref[i].iova < iova + len && iova < ref[i].iova + ref[i].len)
			return true;
	return false;
}

static void ref_unmap(uint64_t iova, uint64_t len)
{
	uint64_t end = iova + len;
	for (unsigned i = 0; i < nref;) {
		struct range r = ref[i];
		uint64_t rend = r.iova + r.len;
		if (rend <= iova || r.iova >= end) {
			i++;
			continue;
		}
		/* remove r, add back the parts outside [iova, end) */
		ref[i] = ref[--nref];
		if (r.iova < iova)
			ref[nref++] = (struct range){ r.iova, r.hpa, iova - r.iova, r.perm };
		if (rend > end)
			ref[nref++] = (struct range){ end, r.hpa + (end - r.iova), rend - end, r.perm };
		/* the pieces re-added lie outside the range: do not revisit them, but the entry moved to
		 * slot i must be examined */
	}
}

static int expect_fault(unsigned perm, unsigned acc)
{
	if ((acc & RIOV_VTD_WRITE) && !(perm & RIOV_VTD_WRITE))
		return -RIOV_VTD_FR_WRITE;
	if ((acc & RIOV_VTD_READ) && !(perm & RIOV_VTD_READ))
		return -RIOV_VTD_FR_READ;
	return 0;
}

static unsigned long long mismatches;

#define MISMATCH(...)                                                                        \
	do {                                                                                 \
		if (mismatches++ < 10)                                                       \
			fprintf(stderr, "  mismatch: " __VA_ARGS__);                         \
	} while (0)

/* invalidate so that the change to [iova, iova+len) is visible, choosing a granularity at random */
static void invalidate(struct riov_vtd *v, uint16_t did, uint64_t iova, uint64_t len)
{
	unsigned k = (unsigned)rnd_below(10);
	if (k == 0) {
		riov_vtd_inv_iotlb_global(v);
		return;
	}
	if (k == 1) {
		riov_vtd_inv_iotlb_domain(v, did);
		return;
	}
	/* smallest aligned power-of-two block covering the range */
	for (unsigned am = 0; am <= 18; am++) {
		uint64_t sz = 4096ull << am, base = iova & ~(sz - 1);
		if (base + sz >= iova + len) {
			CHECK_EQ(riov_vtd_inv_iotlb_page(v, did, base, am), 0);
			return;
		}
	}
	riov_vtd_inv_iotlb_domain(v, did);
}

static void run(unsigned long long ops, bool cm, unsigned levels, unsigned iotlb)
{
	struct riov_vtd_config cfg = { .aw_bits = 57, .fault_log_size = 8, .irte_count = 1,
				       .caching_mode = cm, .iotlb_entries = iotlb };
	struct riov_vtd *v = riov_vtd_create(&cfg);
	struct riov_vtd_cursor cur[2];
	struct riov_vtd_fault fl[8];
	uint64_t n_map = 0, n_unmap = 0, n_xl = 0, n_ok = 0;

	nref = 0;
	CHECK(v != NULL);
	CHECK_EQ(riov_vtd_domain_create(v, 42, levels), 0);
	CHECK_EQ(riov_vtd_context_set(v, 0x0100, 42, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	riov_vtd_cursor_init(&cur[0], v, 0x0100);
	riov_vtd_cursor_init(&cur[1], v, 0x0100);
	/* a locality-heavy translate stream: a "current" address most ops reuse, as a queue would */
	uint64_t hot = 0;
	for (unsigned long long op = 0; op < ops; op++) {
		unsigned k = (unsigned)rnd_below(1000);
		if (k < 60 && nref < MAXR - 4) {
			uint64_t iova, hpa, len;
			unsigned kind = (unsigned)rnd_below(100), perm = 1 + (unsigned)rnd_below(3);
			if (kind < 3) { /* 1 GiB-aligned, to build 1 GiB pages */
				iova = rnd_below(SPACE / GB) * GB;
				hpa = rnd_below(1024) * GB;
				len = GB * (1 + rnd_below(2));
			} else if (kind < 25) { /* 2 MiB-aligned */
				iova = rnd_below(SPACE / (2 * MB)) * 2 * MB;
				hpa = rnd_below(1ull << 20) * 2 * MB;
				len = 2 * MB * (1 + rnd_below(4)) + (rnd_below(2) ? 4096 * rnd_below(8) : 0);
			} else {
				iova = rnd_below(SPACE / 4096) * 4096;
				if (rnd_below(4) == 0)
					iova = (hot & ~4095ull) + 4096 * rnd_below(64);
				hpa = rnd_below(1ull << 30) * 4096;
				len = 4096 * (1 + rnd_below(32));
			}
			if (iova + len > SPACE)
				continue;
			int want = ref_overlaps(iova, len) ? -EEXIST : 0;
			int rc = riov_vtd_map(v, 42, iova, hpa, len, perm);
			if (rc != want)
				MISMATCH("map %" PRIx64 "+%" PRIx64 " rc %d want %d\n", iova, len, rc, want);
			if (rc == 0) {
				ref[nref++] = (struct range){ iova, hpa, len, perm };
				n_map++;
				invalidate(v, 42, iova, len);
			}
		} else if (k < 110 || nref >= MAXR - 4) {
			uint64_t iova, len;
			if (nref > 0 && rnd_below(2)) {
				const struct range *r = &ref[rnd_below(nref)];
				iova = r->iova + (rnd_below(r->len / 4096)) * 4096;
				len = 4096 * (1 + rnd_below(rnd_below(2) ? 16 : 1024));
			} else {
				iova = rnd_below(SPACE / 4096) * 4096;
				len = 4096 * (1 + rnd_below(1 << 18));
			}
			CHECK_EQ(riov_vtd_unmap(v, 42, iova, len), 0);
			ref_unmap(iova, len);
			n_unmap++;
			invalidate(v, 42, iova, len);
		} else if (k < 112) {
			riov_vtd_inv_iotlb_global(v);
		} else if (k < 113) {
			riov_vtd_inv_context_global(v);
		} else {
			uint64_t iova;
			unsigned r = (unsigned)rnd_below(100);
			if (r < 70)
				iova = hot + rnd_below(8192);
			else if (r < 90 && nref > 0) {
				const struct range *rr = &ref[rnd_below(nref)];
				iova = rr->iova + rnd_below(rr->len);
				hot = iova;
			} else {
				iova = rnd_below(SPACE);
				hot = iova;
			}
			if (rnd_below(1000) == 0)
				iova = SPACE * 2 + rnd_below(SPACE); /* within 57/48 bits, unmapped */
			uint64_t len = 1 + rnd_below(rnd_below(2) ? 64 : 3 * MB);
			unsigned acc = 1 + (unsigned)rnd_below(3);
			struct riov_vtd_cursor *c = &cur[rnd_below(2)];
			void *p = NULL;
			uint64_t m = 0;
			int rc = riov_vtd_translate(c, iova, len, acc, &p, &m);
			const struct range *rg = ref_find(iova);
			int want = rg == NULL ? ((acc & RIOV_VTD_WRITE) ? -RIOV_VTD_FR_WRITE : -RIOV_VTD_FR_READ)
					      : expect_fault(rg->perm, acc);
			if (levels == 3 && iova >= (1ull << 39))
				want = -RIOV_VTD_FR_ADDR_BEYOND_AW;
			n_xl++;
			if (rc != want) {
				MISMATCH("translate %" PRIx64 " acc %u rc %d want %d\n", iova, acc, rc, want);
				continue;
			}
			if (rc != 0)
				continue;
			n_ok++;
			uint64_t h = (uint64_t)(uintptr_t)p, hw = rg->hpa + (iova - rg->iova);
			uint64_t min_m = 4096 - (iova & 4095);
			if (min_m > len)
				min_m = len;
			if (h != hw || m < min_m || m > len || iova + m > rg->iova + rg->len)
				MISMATCH("translate %" PRIx64 " -> %" PRIx64 " (want %" PRIx64 ") len %" PRIx64
					 " mapped %" PRIx64 "\n", iova, h, hw, len, m);
		}
		if ((op & 0xffff) == 0)
			riov_vtd_faults_read(v, fl, 8, true);
	}
	/* the tables agree with the reference on what is mapped */
	struct riov_vtd_domain_info di;
	uint64_t total = 0;
	for (unsigned i = 0; i < nref; i++)
		total += ref[i].len;
	CHECK_EQ(riov_vtd_domain_info(v, 42, &di), 0);
	CHECK_EQ(di.mapped_bytes, total);
	printf("# levels %u cm %d iotlb %u: %llu ops: %" PRIu64 " maps, %" PRIu64 " unmaps, %" PRIu64
	       " translates (%" PRIu64 " ok), cursor hits %" PRIu64 ", %u ranges, %" PRIu64
	       " table pages, %llu mismatches\n",
	       levels, cm, iotlb ? iotlb : 4096, ops, n_map, n_unmap, n_xl, n_ok, cur[0].hits + cur[1].hits, nref,
	       di.table_pages, mismatches);
	CHECK_EQ(mismatches, 0);
	riov_vtd_destroy(v);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VTD_DIFF_DEFAULT_OPS 200000ull /* sanitizers: 10-30x slower */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define VTD_DIFF_DEFAULT_OPS 200000ull
#endif
#endif
#ifndef VTD_DIFF_DEFAULT_OPS
#define VTD_DIFF_DEFAULT_OPS 2000000ull
#endif

static unsigned long long g_ops = VTD_DIFF_DEFAULT_OPS;

RIOV_TEST(test_differential)
{
	unsigned long long per = g_ops / 5;
	run(per, false, 4, 0);
	run(per, true, 4, 0);
	run(per, false, 5, 0);
	run(per, false, 3, 0);
	run(per, true, 4, 8); /* a tiny IOTLB: constant eviction and set conflicts */
}

int main(int argc, char **argv)
{
	const char *env = getenv("RIOV_VTD_DIFF_OPS");
	if (argc > 1)
		g_ops = strtoull(argv[1], NULL, 0);
	else if (env != NULL)
		g_ops = strtoull(env, NULL, 0);
	static const struct riov_test_case cases[] = { RIOV_TEST_ENTRY(test_differential) };
	return riov_test_run(cases, 1);
}
