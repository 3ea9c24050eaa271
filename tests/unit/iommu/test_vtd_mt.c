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

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(test_churn_with_synchronize))
