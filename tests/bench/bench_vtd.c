/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark of the VT-d model's hot path and programming calls, one run of a few seconds, plain
 * "name: value unit" lines:
 *   translate on a cursor (last-hit) hit, on an IOTLB hit, on a miss with a full walk (4 KiB and
 *   2 MiB pages; working sets far larger than the IOTLB, random order), map and unmap rates,
 *   invalidation costs, and the same lookups through a sorted array of 2048 ranges searched with
 *   binary search (how DPDK's vhost IOTLB finds a translation), with the ratio.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "iommu/vtd.h"

#define KB 1024ull
#define MB (1024ull * KB)
#define GB (1024ull * MB)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rs = 88172645463325252ull;
static inline uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static volatile uint64_t sink;

static struct riov_vtd *unit(void)
{
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 64, .irte_count = 64 };
	struct riov_vtd *v = riov_vtd_create(&cfg);
	if (v == NULL) {
		perror("riov_vtd_create");
		exit(1);
	}
	return v;
}

static void must(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "%s failed: %d\n", what, rc);
		exit(1);
	}
}

/* translate every address in addrs[] `rounds` times; returns ns per translate */
static double run_xl(struct riov_vtd_cursor *c, const uint64_t *addrs, size_t n, unsigned rounds)
{
	uint64_t sum = 0, t0 = now_ns();
	for (unsigned r = 0; r < rounds; r++) {
		for (size_t i = 0; i < n; i++) {
			void *p;
			uint64_t m;
			if (riov_vtd_translate(c, addrs[i], 64, RIOV_VTD_READ, &p, &m) != 0) {
				fprintf(stderr, "unexpected fault at 0x%" PRIx64 "\n", addrs[i]);
				exit(1);
			}
			sum += (uint64_t)(uintptr_t)p + m;
		}
	}
	uint64_t t1 = now_ns();
	sink = sum;
	return (double)(t1 - t0) / ((double)n * rounds);
}

/* DPDK vhost-style lookup: sorted array of ranges, binary search */
struct brange {
	uint64_t iova, size, uaddr;
};

static const struct brange *bsearch_range(const struct brange *r, size_t n, uint64_t iova)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (iova < r[mid].iova)
			hi = mid;
		else if (iova - r[mid].iova >= r[mid].size)
			lo = mid + 1;
		else
			return &r[mid];
	}
	return NULL;
}

static double run_bsearch(const struct brange *r, size_t nr, const uint64_t *addrs, size_t n,
			  unsigned rounds)
{
	uint64_t sum = 0, t0 = now_ns();
	for (unsigned k = 0; k < rounds; k++) {
		for (size_t i = 0; i < n; i++) {
			const struct brange *b = bsearch_range(r, nr, addrs[i]);
			if (b == NULL) {
				fprintf(stderr, "bsearch miss\n");
				exit(1);
			}
			uint64_t m = b->iova + b->size - addrs[i];
			sum += b->uaddr + (addrs[i] - b->iova) + (m < 64 ? m : 64);
		}
	}
	uint64_t t1 = now_ns();
	sink = sum;
	return (double)(t1 - t0) / ((double)n * rounds);
}

int main(void)
{
	struct riov_vtd *v = unit();
	struct riov_vtd_cursor c;
	const size_t NA = 1 << 20;
	uint64_t *addrs = malloc(NA * sizeof(*addrs));
	if (addrs == NULL)
		return 1;

	/* ---- domain 1: 1 GiB in 4 KiB pages (256 Ki pages, 2 MiB of last-level tables) ---- */
	must(riov_vtd_domain_create(v, 1, 4), "domain_create");
	must(riov_vtd_context_set(v, 0x0100, 1, RIOV_VTD_TT_MULTI_LEVEL, false), "context_set");
	const uint64_t npages = 256 * 1024;
	uint64_t t0 = now_ns();
	for (uint64_t p = 0; p < npages; p++) /* hpa misaligned by 4 KiB: no superpages */
		must(riov_vtd_map(v, 1, p * 4096, 0x100000000ull + 4096 + p * 4096, 4096, 3), "map");
	uint64_t t1 = now_ns();
	printf("map 4KiB page: %.1f ns/op\n", (double)(t1 - t0) / (double)npages);
	printf("map rate 4KiB: %.2f Mpages/s\n", (double)npages * 1e3 / (double)(t1 - t0));
	riov_vtd_cursor_init(&c, v, 0x0100);

	/* cursor hit: the same page again and again */
	for (size_t i = 0; i < 4096; i++)
		addrs[i] = 0x5000 + (i * 64) % 4096;
	double ns_hit = run_xl(&c, addrs, 4096, 5000);
	printf("translate cursor hit: %.2f ns/op\n", ns_hit);

	/* IOTLB hit: 1024 pages in rotation, each access a different page than the last */
	for (size_t i = 0; i < 1024; i++)
		addrs[i] = (i * 97 % npages) * 4096 + 8;
	run_xl(&c, addrs, 1024, 2); /* warm */
	double ns_iotlb = run_xl(&c, addrs, 1024, 5000);
	printf("translate IOTLB hit: %.2f ns/op\n", ns_iotlb);

	/* miss with a full walk: random pages out of 256 Ki (IOTLB holds 4096) */
	for (size_t i = 0; i < NA; i++)
		addrs[i] = (rnd() % npages) * 4096 + (rnd() & 4095);
	double ns_miss4k = run_xl(&c, addrs, NA, 2);
	printf("translate miss full walk 4KiB (4-level, ~98%% IOTLB misses): %.2f ns/op\n", ns_miss4k);

	/* ---- domain 2: 512 GiB in 2 MiB pages (256 Ki pages) ---- */
	must(riov_vtd_domain_create(v, 2, 4), "domain_create");
	must(riov_vtd_context_set(v, 0x0200, 2, RIOV_VTD_TT_MULTI_LEVEL, false), "context_set");
	t0 = now_ns();
	for (uint64_t p = 0; p < npages; p++) /* hpa 2 MiB-aligned but not 1 GiB: 2 MiB pages */
		must(riov_vtd_map(v, 2, p * 2 * MB, 0x4000000000ull + 2 * MB + p * 2 * MB, 2 * MB, 3),
		     "map");
	t1 = now_ns();
	printf("map 2MiB page: %.1f ns/op\n", (double)(t1 - t0) / (double)npages);
	struct riov_vtd_cursor c2;
	riov_vtd_cursor_init(&c2, v, 0x0200);
	for (size_t i = 0; i < NA; i++)
		addrs[i] = (rnd() % npages) * 2 * MB + (rnd() & (2 * MB - 1));
	double ns_miss2m = run_xl(&c2, addrs, NA, 2);
	printf("translate miss full walk 2MiB (4-level, ~98%% IOTLB misses): %.2f ns/op\n", ns_miss2m);

	/* ---- invalidation costs ---- */
	const unsigned NI = 2000;
	t0 = now_ns();
	for (unsigned i = 0; i < NI; i++)
		riov_vtd_inv_iotlb_page(v, 1, (uint64_t)(i % 1024) * 4096, 0);
	t1 = now_ns();
	printf("invalidate iotlb page (am=0): %.1f ns/op\n", (double)(t1 - t0) / NI);
	t0 = now_ns();
	for (unsigned i = 0; i < NI; i++)
		riov_vtd_inv_iotlb_page(v, 1, 0, 9);
	t1 = now_ns();
	printf("invalidate iotlb page (am=9, full scan): %.1f ns/op\n", (double)(t1 - t0) / NI);
	t0 = now_ns();
	for (unsigned i = 0; i < NI; i++)
		riov_vtd_inv_iotlb_domain(v, 1);
	t1 = now_ns();
	printf("invalidate iotlb domain: %.1f ns/op\n", (double)(t1 - t0) / NI);
	t0 = now_ns();
	for (unsigned i = 0; i < NI; i++)
		riov_vtd_inv_iotlb_global(v);
	t1 = now_ns();
	printf("invalidate iotlb global: %.1f ns/op\n", (double)(t1 - t0) / NI);
	t0 = now_ns();
	for (unsigned i = 0; i < NI; i++)
		riov_vtd_inv_context_device(v, 0x0100);
	t1 = now_ns();
	printf("invalidate context device: %.1f ns/op\n", (double)(t1 - t0) / NI);

	/* ---- unmap rate ---- */
	t0 = now_ns();
	for (uint64_t p = 0; p < npages; p++)
		must(riov_vtd_unmap(v, 1, p * 4096, 4096), "unmap");
	t1 = now_ns();
	printf("unmap 4KiB page: %.1f ns/op\n", (double)(t1 - t0) / (double)npages);
	printf("unmap rate 4KiB: %.2f Mpages/s\n", (double)npages * 1e3 / (double)(t1 - t0));
	t0 = now_ns();
	must(riov_vtd_unmap(v, 2, 0, npages * 2 * MB), "unmap");
	t1 = now_ns();
	printf("unmap 2MiB page (one call for 512 GiB): %.1f ns/op\n", (double)(t1 - t0) / (double)npages);

	/* ---- versus a sorted array of 2048 ranges with binary search ---- */
	enum { NR = 2048 };
	struct brange *br = malloc(NR * sizeof(*br));
	must(riov_vtd_domain_create(v, 3, 4), "domain_create");
	must(riov_vtd_context_set(v, 0x0300, 3, RIOV_VTD_TT_MULTI_LEVEL, false), "context_set");
	for (unsigned i = 0; i < NR; i++) {
		/* 2048 ranges of 4 KiB spread out (a vIOMMU guest's streaming mappings) */
		br[i].iova = (uint64_t)i * 64 * KB;
		br[i].size = 4 * KB;
		br[i].uaddr = 0x7f0000000000ull + (uint64_t)i * 8 * KB;
		must(riov_vtd_map(v, 3, br[i].iova, br[i].uaddr, br[i].size, 3), "map");
	}
	struct riov_vtd_cursor c3;
	riov_vtd_cursor_init(&c3, v, 0x0300);
	const size_t NB = 1 << 16;
	for (size_t i = 0; i < NB; i++)
		addrs[i] = br[rnd() % NR].iova + (rnd() & 4095);
	run_xl(&c3, addrs, NB, 1); /* warm the IOTLB */
	double v_rand = run_xl(&c3, addrs, NB, 40);
	double b_rand = run_bsearch(br, NR, addrs, NB, 40);
	for (size_t i = 0; i < NB; i++)
		addrs[i] = br[777].iova + (i * 64) % 4096;
	double v_same = run_xl(&c3, addrs, NB, 100);
	double b_same = run_bsearch(br, NR, addrs, NB, 100);
	printf("lookup 2048 ranges random, vtd translate: %.2f ns/op\n", v_rand);
	printf("lookup 2048 ranges random, binary search: %.2f ns/op\n", b_rand);
	printf("ratio binary search / vtd (random): %.2f x\n", b_rand / v_rand);
	printf("lookup 2048 ranges same page, vtd translate: %.2f ns/op\n", v_same);
	printf("lookup 2048 ranges same page, binary search: %.2f ns/op\n", b_same);
	printf("ratio binary search / vtd (same page): %.2f x\n", b_same / v_same);

	/* ---- interrupts ---- */
	{
		int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		static struct riov_vtd_irte_pid_storage {
			uint64_t w[8];
		} pid __attribute__((aligned(64)));
		struct riov_vtd_irte e = { .present = true, .vector = 0x40, .eventfd = efd };
		uint64_t addr;
		uint32_t data;
		const unsigned NQ = 200000;
		must(riov_vtd_irte_set(v, 1, &e), "irte_set");
		e.coalesce_count = 64;
		must(riov_vtd_irte_set(v, 2, &e), "irte_set");
		e.coalesce_count = 0;
		e.posted = true;
		e.pda = (uint64_t)(uintptr_t)&pid;
		must(riov_vtd_irte_set(v, 3, &e), "irte_set");
		for (uint32_t h = 1; h <= 3; h++) {
			riov_vtd_msi_compose(h, false, 0, &addr, &data);
			t0 = now_ns();
			for (unsigned i = 0; i < NQ; i++)
				must(riov_vtd_irq_raise(v, 0x0100, addr, data), "irq_raise");
			t1 = now_ns();
			static const char *const what[] = { "", "remapped, eventfd write each",
							    "remapped, coalesce 64",
							    "posted (ON already set: no notify)" };
			printf("irq raise %s: %.1f ns/op\n", what[h], (double)(t1 - t0) / NQ);
			uint64_t drain;
			if (read(efd, &drain, sizeof(drain)) < 0)
				drain = 0;
		}
		close(efd);
	}

	free(br);
	free(addrs);
	riov_vtd_destroy(v);
	return 0;
}
