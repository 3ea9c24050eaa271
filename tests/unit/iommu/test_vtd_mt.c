/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Concurrency test of the VT-d model: workers translate while the control thread maps, unmaps
 * (splitting superpages and freeing tables), invalidates and destroys/recreates contexts, with a
 * real quiescent-state synchronize (a tiny QSBR standing in for rte_rcu_qsbr). Every iova page p
 * only ever maps to hpa(p), so a successful translation with any other result means a torn entry,
 * a walk through a reused table or a stale cache entry that outlived its invalidation.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "iommu/vtd.h"
#include "tests/riov_test.h"

#define NW 2
#define PAGES (64u * 512u) /* 128 MiB of iova space */
#define HBASE 0x4000000000ull

static inline uint64_t hpa_of(uint64_t iova)
{
	return HBASE + iova;
}

struct qsbr {
	_Atomic uint64_t epoch;
	_Atomic uint64_t seen[NW];
};

static void qsbr_sync(void *arg)
{
	struct qsbr *q = arg;
	uint64_t e = atomic_fetch_add(&q->epoch, 1) + 1;
	for (int w = 0; w < NW; w++)
		while (atomic_load(&q->seen[w]) < e)
			sched_yield();
}

struct mt {
	struct riov_vtd *v;
	struct qsbr q;
	_Atomic int stop;
	_Atomic uint64_t bad, ok, faults;
	int id[NW];
};

struct warg {
	struct mt *m;
	int w;
};

static void *worker(void *p)
{
	struct warg *a = p;
	struct mt *m = a->m;
	struct riov_vtd_cursor c;
	uint64_t x = 0x1234567 + (uint64_t)a->w * 7919, ok = 0, faults = 0;

	riov_vtd_cursor_init(&c, m->v, 0x0100);
	while (!atomic_load_explicit(&m->stop, memory_order_relaxed)) {
		for (int i = 0; i < 64; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			uint64_t iova = (x % ((uint64_t)PAGES * 4096)) & ~7ull;
			void *h;
			uint64_t len = 8, mapped;
			int rc = riov_vtd_translate(&c, iova, len, RIOV_VTD_READ, &h, &mapped);
			if (rc == 0) {
				if ((uint64_t)(uintptr_t)h != hpa_of(iova) || mapped != 8)
					atomic_fetch_add(&m->bad, 1);
				ok++;
			} else if (rc != -RIOV_VTD_FR_READ && rc != -RIOV_VTD_FR_CTX_NOT_PRESENT) {
				atomic_fetch_add(&m->bad, 1);
			} else {
				faults++;
			}
		}
		/* quiescent point: no translation in progress */
		atomic_store(&m->q.seen[a->w], atomic_load(&m->q.epoch));
	}
	atomic_store(&m->q.seen[a->w], UINT64_MAX);
	atomic_fetch_add(&m->ok, ok);
	atomic_fetch_add(&m->faults, faults);
	return NULL;
}

RIOV_TEST(test_churn_with_synchronize)
{
	static struct mt m;
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 1,
				       .synchronize = qsbr_sync, .sync_arg = &m.q };
	pthread_t t[NW];
	struct warg wa[NW];
	uint64_t x = 42;

	m.v = riov_vtd_create(&cfg);
	CHECK(m.v != NULL);
	CHECK_EQ(riov_vtd_domain_create(m.v, 1, 4), 0);
	CHECK_EQ(riov_vtd_context_set(m.v, 0x0100, 1, RIOV_VTD_TT_MULTI_LEVEL, true), 0);
	CHECK_EQ(riov_vtd_map(m.v, 1, 0, hpa_of(0), (uint64_t)PAGES * 4096, 1), 0);
	for (int w = 0; w < NW; w++) {
		wa[w] = (struct warg){ &m, w };
		pthread_create(&t[w], NULL, worker, &wa[w]);
	}
	for (int round = 0; round < 3000; round++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* unmap a random run (often splitting a 2 MiB page, sometimes emptying tables) */
		uint64_t p = x % PAGES, n = 1 + (x >> 20) % (round % 10 == 0 ? 2048 : 16);
		if (p + n > PAGES)
			n = PAGES - p;
		CHECK_EQ(riov_vtd_unmap(m.v, 1, p * 4096, n * 4096), 0);
		switch (round % 4) {
		case 0: riov_vtd_inv_iotlb_page(m.v, 1, 0, 18); break;
		case 1: riov_vtd_inv_iotlb_domain(m.v, 1); break;
		case 2: riov_vtd_inv_iotlb_global(m.v); break;
		default: {
			/* smallest aligned block covering [p, p+n) */
			unsigned am = 0;
			while (((p >> am) << am) + (1ull << am) < p + n)
				am++;
			CHECK_EQ(riov_vtd_inv_iotlb_page(m.v, 1, (p >> am) << am << 12, am), 0);
		}
		}
		/* map it back (2 MiB pages where the run allows: same hpa_of relation) */
		CHECK_EQ(riov_vtd_map(m.v, 1, p * 4096, hpa_of(p * 4096), n * 4096, 1), 0);
		if (round % 100 == 99) {
			/* context off and on again */
			CHECK_EQ(riov_vtd_context_clear(m.v, 0x0100), 0);
			riov_vtd_inv_context_device(m.v, 0x0100);
			CHECK_EQ(riov_vtd_context_set(m.v, 0x0100, 1, RIOV_VTD_TT_MULTI_LEVEL, true), 0);
			riov_vtd_inv_context_global(m.v);
		}
	}
	atomic_store(&m.stop, 1);
	for (int w = 0; w < NW; w++)
		pthread_join(t[w], NULL);
	printf("# %llu translations ok, %llu faults, %llu bad\n", (unsigned long long)m.ok,
	       (unsigned long long)m.faults, (unsigned long long)m.bad);
	CHECK_EQ(atomic_load(&m.bad), 0);
	CHECK(atomic_load(&m.ok) > 0);
	struct riov_vtd_domain_info di;
	CHECK_EQ(riov_vtd_domain_info(m.v, 1, &di), 0);
	CHECK_EQ(di.mapped_bytes, (uint64_t)PAGES * 4096);
	riov_vtd_destroy(m.v);
}

/* Page-selective invalidations keep a cursor's other entries (vtd_xlate.c's sweep), so this one
 * checks the other side: after an invalidation of page p returns, no cursor may give p's old
 * translation. The control thread moves a few hot pages (mixed into 2 MiB mappings) between
 * unmapped, mapped elsewhere and mapped back, each change bracketed by a sequence count; a worker
 * translating a hot page with the count even and unchanged across its translation must see
 * exactly the published state. Cold pages keep the cursor's slots and pages full. */
#define HOT 8
#define SPAGES (8u * 512u) /* 16 MiB, 2 MiB pages where nothing is hot */
#define HALT 0x8000000000ull

struct ps {
	struct riov_vtd *v;
	struct qsbr q;
	_Atomic uint64_t seq;
	_Atomic uint64_t exp[HOT];  /* hpa of the hot page, 0 = unmapped */
	_Atomic uint64_t checks, bad, stale;
	_Atomic int stop;
	uint64_t hot[HOT];          /* page numbers */
};

static void *ps_worker(void *p)
{
	struct ps *m = p;
	struct riov_vtd_cursor c;
	uint64_t x = 99;

	riov_vtd_cursor_init(&c, m->v, 0x0100);
	while (!atomic_load_explicit(&m->stop, memory_order_relaxed)) {
		for (int i = 0; i < 16; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			void *h;
			uint64_t mapped;
			if (i & 1) {
				/* a cold page: never changes (only its 2 MiB page may be split) */
				uint64_t pg = x % SPAGES;
				bool is_hot = false;
				for (int k = 0; k < HOT; k++)
					is_hot |= m->hot[k] == pg;
				if (is_hot)
					continue;
				int rc = riov_vtd_translate(&c, pg * 4096 + 8, 8, RIOV_VTD_READ, &h, &mapped);
				if (rc != 0 || (uint64_t)(uintptr_t)h != hpa_of(pg * 4096 + 8))
					atomic_fetch_add(&m->bad, 1);
				continue;
			}
			int k = (int)(x % HOT);
			uint64_t s1 = atomic_load_explicit(&m->seq, memory_order_acquire);
			if (s1 & 1)
				continue;
			uint64_t want = atomic_load_explicit(&m->exp[k], memory_order_relaxed);
			int rc = riov_vtd_translate(&c, m->hot[k] * 4096 + 16, 8, RIOV_VTD_READ, &h, &mapped);
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&m->seq, memory_order_relaxed) != s1)
				continue;
			atomic_fetch_add(&m->checks, 1);
			if (want == 0 ? rc != -RIOV_VTD_FR_READ : (rc != 0 || (uint64_t)(uintptr_t)h != want + 16))
				atomic_fetch_add(rc == 0 ? &m->stale : &m->bad, 1);
		}
		atomic_store(&m->q.seen[0], atomic_load(&m->q.epoch));
	}
	atomic_store(&m->q.seen[0], UINT64_MAX);
	return NULL;
}

static void ps_wait_checks(struct ps *m)
{
	uint64_t c0 = atomic_load(&m->checks);
	for (int i = 0; i < 200000 && atomic_load(&m->checks) < c0 + 4; i++)
		sched_yield();
}

RIOV_TEST(test_page_invalidation_seen)
{
	static struct ps m;
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 1,
				       .synchronize = qsbr_sync, .sync_arg = &m.q };
	pthread_t t;

	m.q.seen[1] = UINT64_MAX;   /* one worker */
	m.v = riov_vtd_create(&cfg);
	CHECK(m.v != NULL);
	CHECK_EQ(riov_vtd_domain_create(m.v, 1, 4), 0);
	CHECK_EQ(riov_vtd_context_set(m.v, 0x0100, 1, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(riov_vtd_map(m.v, 1, 0, hpa_of(0), (uint64_t)SPAGES * 4096, 1), 0);
	for (int k = 0; k < HOT; k++) {
		m.hot[k] = (uint64_t)k * 512 + 17 * (uint64_t)k + 3;   /* one in each 2 MiB page */
		atomic_init(&m.exp[k], hpa_of(m.hot[k] * 4096));
	}
	pthread_create(&t, NULL, ps_worker, &m);
	for (int round = 0; round < 3000; round++) {
		int k = round % HOT;
		uint64_t iova = m.hot[k] * 4096;
		uint64_t next = (round / HOT) % 2 ? hpa_of(iova) : HALT + (uint64_t)round * 4096;

		atomic_store_explicit(&m.seq, atomic_load(&m.seq) + 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		CHECK_EQ(riov_vtd_unmap(m.v, 1, iova, 4096), 0);
		CHECK_EQ(riov_vtd_inv_iotlb_page(m.v, 1, iova, 0), 0);
		atomic_store_explicit(&m.exp[k], 0, memory_order_relaxed);
		atomic_store_explicit(&m.seq, atomic_load(&m.seq) + 1, memory_order_release);
		ps_wait_checks(&m);

		atomic_store_explicit(&m.seq, atomic_load(&m.seq) + 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		CHECK_EQ(riov_vtd_map(m.v, 1, iova, next, 4096, 1), 0);
		CHECK_EQ(riov_vtd_inv_iotlb_page(m.v, 1, iova, 0), 0);
		atomic_store_explicit(&m.exp[k], next, memory_order_relaxed);
		atomic_store_explicit(&m.seq, atomic_load(&m.seq) + 1, memory_order_release);
		ps_wait_checks(&m);
	}
	atomic_store(&m.stop, 1);
	pthread_join(t, NULL);
	printf("# %llu checks of a hot page, %llu stale, %llu bad\n", (unsigned long long)m.checks,
	       (unsigned long long)m.stale, (unsigned long long)m.bad);
	CHECK_EQ(atomic_load(&m.stale), 0);
	CHECK_EQ(atomic_load(&m.bad), 0);
	CHECK(atomic_load(&m.checks) > 1000);
	riov_vtd_destroy(m.v);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(test_churn_with_synchronize), RIOV_TEST_ENTRY(test_page_invalidation_seen))
