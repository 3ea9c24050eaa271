/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark of the VT-d model's hot path and programming calls, one run of a few seconds, plain
 * "name: value unit" lines:
 *   translate on a cursor (last-hit) hit, on an IOTLB hit, on a miss with a full walk (4 KiB and
 *   2 MiB pages; working sets far larger than the IOTLB, random order), map and unmap rates,
 *   invalidation costs, and the same lookups through a sorted array of 2048 ranges searched with
 *   binary search (how DPDK's vhost IOTLB finds a translation), with the ratio;
 *   and a neighbour under a vIOMMU guest's IOTLB traffic (bench_neighbour): a worker thread
 *   translating for two devices, one a vIOMMU guest whose first stage the main thread changes at
 *   a steady rate (a map and an unmap of a 4 KiB page, each followed by a page-selective
 *   invalidation, as vhost-user IOTLB updates and invalidations do), the other a plain guest;
 *   the plain guest's translation rate with the vIOMMU guest idle and busy, and the ratio.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
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


/* ---- a neighbour under a vIOMMU guest's IOTLB traffic ----
 * Device A (sid NB_SID_A) is a vIOMMU guest: nested, first stage NB_S1 (iova -> gpa, 4 KiB
 * pages), second stage NB_S2 (its memory, 2 MiB pages). Device B (NB_SID_B, the next source-id as
 * riovd gives its vhost ports) is a plain guest: domain NB_DB, 2 MiB pages. One worker thread
 * translates NB_BATCH addresses of B, then NB_BATCH of A, and so on, timing each batch: a
 * device's rate is its translations per second of the worker's time spent on it. Meanwhile the
 * main thread either spins (A idle) or, at NB_RATE pairs per second, maps a 4 KiB page of A's
 * first stage and invalidates it page-selectively, then unmaps and invalidates it again (a
 * vhost-user IOTLB update and invalidation), cycling over 1024 pages A does not use. */
#define NB_SID_A 0xfc01
#define NB_SID_B 0xfc02
#define NB_S1 0x8001
#define NB_S2 0x0002
#define NB_DB 0x0003
#define NB_BATCH 1024
#define NB_N 512
#define NB_RATE 50000.0      /* map+unmap pairs per second (100 000 invalidations/s) */
#define NB_PHASE_NS 100000000ull   /* 100 ms */
#define NB_PHASES 20                /* of each state: 4 s in all */

struct nb {
	struct riov_vtd *v;
	uint64_t a[NB_N], b[NB_N];
	_Atomic int run;            /* 1: measure, 0: stop */
	_Atomic int quit;
	_Atomic uint64_t go;        /* phase number to measure */
	_Atomic uint64_t done;      /* last phase measured */
	uint64_t na, nsa, nb, nsb;  /* translations and ns, per device, of the last phase */
	uint64_t misses_b;
};

static void *nb_worker(void *arg)
{
	struct nb *s = arg;
	struct riov_vtd_cursor ca, cb;
	uint64_t phase = 0, sum = 0;

	riov_vtd_cursor_init(&ca, s->v, NB_SID_A);
	riov_vtd_cursor_init(&cb, s->v, NB_SID_B);
	while (!atomic_load(&s->quit)) {
		if (atomic_load(&s->go) == phase)
			continue;
		phase = atomic_load(&s->go);
		uint64_t na = 0, nsa = 0, nb = 0, nsb = 0, m0 = cb.misses;
		unsigned ia = 0, ib = 0;
		while (atomic_load_explicit(&s->run, memory_order_relaxed)) {
			uint64_t t0 = now_ns();
			for (unsigned k = 0; k < NB_BATCH; k++, ib = (ib + 1) % NB_N) {
				void *p;
				uint64_t m;
				if (riov_vtd_translate_inline(&cb, s->b[ib], 64, RIOV_VTD_READ, &p, &m) != 0) {
					fprintf(stderr, "neighbour: unexpected fault at 0x%" PRIx64 "\n", s->b[ib]);
					exit(1);
				}
				sum += (uint64_t)(uintptr_t)p;
			}
			uint64_t t1 = now_ns();
			for (unsigned k = 0; k < NB_BATCH; k++, ia = (ia + 1) % NB_N) {
				void *p;
				uint64_t m;
				if (riov_vtd_translate_inline(&ca, s->a[ia], 64, RIOV_VTD_READ, &p, &m) != 0) {
					fprintf(stderr, "vIOMMU guest: unexpected fault at 0x%" PRIx64 "\n", s->a[ia]);
					exit(1);
				}
				sum += (uint64_t)(uintptr_t)p;
			}
			uint64_t t2 = now_ns();
			nb += NB_BATCH;
			nsb += t1 - t0;
			na += NB_BATCH;
			nsa += t2 - t1;
		}
		s->na = na;
		s->nsa = nsa;
		s->nb = nb;
		s->nsb = nsb;
		s->misses_b = cb.misses - m0;
		atomic_store(&s->done, phase);
	}
	sink = sum;
	return NULL;
}

/* One phase of NB_PHASE_NS: A idle (busy = false) or A's first stage changing at NB_RATE (k
 * counts the pairs over every phase). Returns the pairs done. */
static uint64_t nb_phase(struct nb *s, uint64_t phase, bool busy, uint64_t *k)
{
	const uint64_t churn = 0x200000000ull;   /* A's streaming mappings: 1024 pages from here */
	const uint64_t period = (uint64_t)(1e9 / NB_RATE);
	uint64_t pairs = 0;

	atomic_store(&s->run, 1);
	atomic_store(&s->go, phase);
	uint64_t t0 = now_ns(), next = t0, t;
	while ((t = now_ns()) - t0 < NB_PHASE_NS) {
		if (!busy || t < next)
			continue;
		uint64_t iova = churn + (*k % 1024) * 4096, gpa = 0x1000 + (*k % 4096) * 4096;
		must(riov_vtd_map(s->v, NB_S1, iova, gpa, 4096, 3), "churn map");
		must(riov_vtd_inv_iotlb_page(s->v, NB_S1, iova, 0), "churn invalidate");
		must(riov_vtd_unmap(s->v, NB_S1, iova, 4096), "churn unmap");
		must(riov_vtd_inv_iotlb_page(s->v, NB_S1, iova, 0), "churn invalidate");
		pairs++;
		(*k)++;
		next += period;
	}
	atomic_store(&s->run, 0);
	while (atomic_load(&s->done) != phase)
		;
	return pairs;
}

static void bench_neighbour(void)
{
	static struct nb s;
	pthread_t th;
	/* per state (0 idle, 1 updating): translations and worker ns for A and B, B's misses */
	uint64_t na[2] = { 0 }, nsa[2] = { 0 }, nb[2] = { 0 }, nsb[2] = { 0 }, mb[2] = { 0 };
	uint64_t pairs = 0, k = 0;

	s.v = unit();
	must(riov_vtd_domain_create(s.v, NB_S1, 4), "domain_create");
	must(riov_vtd_domain_create(s.v, NB_S2, 4), "domain_create");
	must(riov_vtd_domain_create(s.v, NB_DB, 4), "domain_create");
	/* guest memories: 64 MiB each, 2 MiB pages (host addresses are never dereferenced) */
	must(riov_vtd_map(s.v, NB_S2, 0, 0x7d0000000000ull, 64 * MB, 3), "map");
	must(riov_vtd_map(s.v, NB_DB, 0, 0x7e0000000000ull, 64 * MB, 3), "map");
	must(riov_vtd_context_set_nested(s.v, NB_SID_A, NB_S1, NB_S2, false), "context_set_nested");
	must(riov_vtd_context_set(s.v, NB_SID_B, NB_DB, RIOV_VTD_TT_MULTI_LEVEL, false), "context_set");
	/* A's buffers: 16 MiB of iova in 4 KiB pages (the guest addresses are 4 KiB off a 2 MiB
	 * boundary) onto its memory; B's: 16 MiB of its memory */
	must(riov_vtd_map(s.v, NB_S1, 0x100000000ull, 0x1000, 16 * MB, 3), "map");
	for (unsigned i = 0; i < NB_N; i++) {
		s.a[i] = 0x100000000ull + ((rnd() % (16 * MB)) & ~63ull);
		s.b[i] = (rnd() % (16 * MB)) & ~63ull;
	}
	pthread_create(&th, NULL, nb_worker, &s);
	/* short phases, alternating, so that drifts of the machine fall on both states alike */
	for (unsigned r = 0; r < 2 * NB_PHASES; r++) {
		unsigned busy = r & 1;
		pairs += nb_phase(&s, r + 1, busy, &k);
		if (r < 2)
			continue;   /* warm-up */
		na[busy] += s.na;
		nsa[busy] += s.nsa;
		nb[busy] += s.nb;
		nsb[busy] += s.nsb;
		mb[busy] += s.misses_b;
	}
	atomic_store(&s.quit, 1);
	pthread_join(th, NULL);
	double b0 = (double)nb[0] * 1e3 / (double)nsb[0], b1 = (double)nb[1] * 1e3 / (double)nsb[1];
	double a0 = (double)na[0] * 1e3 / (double)nsa[0], a1 = (double)na[1] * 1e3 / (double)nsa[1];
	printf("neighbour: vIOMMU guest's IOTLB map+unmap pairs: %.0f /s (2 page-selective "
	       "invalidations each)\n", (double)pairs * 1e9 / (NB_PHASES * (double)NB_PHASE_NS));
	printf("neighbour: plain guest translate, vIOMMU guest idle: %.1f M/s\n", b0);
	printf("neighbour: plain guest translate, vIOMMU guest updating: %.1f M/s\n", b1);
	printf("neighbour: ratio updating / idle: %.3f x (issue 18: >= 0.95)\n", b1 / b0);
	printf("neighbour: plain guest cursor misses per million translations: idle %.1f, "
	       "updating %.1f\n", (double)mb[0] * 1e6 / (double)nb[0], (double)mb[1] * 1e6 / (double)nb[1]);
	printf("neighbour: vIOMMU guest translate, idle: %.1f M/s, updating: %.1f M/s\n", a0, a1);
	riov_vtd_destroy(s.v);
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
	bench_neighbour();
	return 0;
}
