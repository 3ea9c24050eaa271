/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the VT-d model's VFIO backend logic with a recording fake ioctl (no /dev/vfio). */
#include <errno.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <string.h>

#include "iommu/vtd.h"
#include "iommu/vtd_internal.h"
#include "iommu/vtd_vfio.h"
#include "tests/riov_test.h"

#define KB 1024ull
#define GB (1024ull * 1024 * KB)

struct call {
	unsigned long req;
	uint64_t iova, size, vaddr;
	uint32_t flags;
	int32_t fds[8];
	uint32_t index, start, count;
};

struct fake {
	struct call c[64];
	int n;
	int fail_map_at; /* fail the Nth MAP_DMA (1-based), 0: never */
	int maps;
};

static int fake_ioctl(void *arg, int fd, unsigned long req, void *data)
{
	struct fake *f = arg;
	struct call *c = &f->c[f->n < 64 ? f->n : 63];
	memset(c, 0, sizeof(*c));
	c->req = req;
	if (f->n < 64)
		f->n++;
	CHECK_EQ(fd, 77);
	if (req == VFIO_IOMMU_MAP_DMA) {
		struct vfio_iommu_type1_dma_map *d = data;
		CHECK_EQ(d->argsz, sizeof(*d));
		c->iova = d->iova;
		c->size = d->size;
		c->vaddr = d->vaddr;
		c->flags = d->flags;
		if (++f->maps == f->fail_map_at)
			return -ENOSPC;
	} else if (req == VFIO_IOMMU_UNMAP_DMA) {
		struct vfio_iommu_type1_dma_unmap *u = data;
		c->iova = u->iova;
		c->size = u->size;
	} else if (req == VFIO_DEVICE_SET_IRQS) {
		struct vfio_irq_set *s = data;
		c->flags = s->flags;
		c->index = s->index;
		c->start = s->start;
		c->count = s->count;
		CHECK_EQ(s->argsz, sizeof(*s) + s->count * sizeof(int32_t));
		memcpy(c->fds, s->data, (s->count < 8 ? s->count : 8) * sizeof(int32_t));
	}
	return 0;
}

RIOV_TEST(test_ranges_and_sync)
{
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 4, .irte_count = 16 };
	struct riov_vtd *v = riov_vtd_create(&cfg);
	struct fake f = { 0 };
	struct riov_vtd_vfio_ops ops = { fake_ioctl, &f };
	struct riov_vtd_range *r;
	size_t n;

	CHECK_EQ(riov_vtd_domain_create(v, 1, 4), 0);
	CHECK_EQ(riov_vtd_map(v, 1, 0, 0x7f0000000000ull, 8 * KB, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 1, 8 * KB, 0x7f0000002000ull, 4 * KB, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 1, GB, 0x7f0040000000ull, GB, 1), 0);
	CHECK_EQ(riov_vtd_map(v, 1, 2 * GB, 0x7f0080000000ull + 4 * KB, 4 * KB, 1), 0);
	CHECK_EQ(riov_vtd_domain_ranges(v, 1, &r, &n), 0);
	CHECK_EQ(n, 3); /* the two first maps coalesce; the last is not contiguous in hva */
	CHECK_EQ(r[0].len, 12 * KB);
	CHECK_EQ(r[1].iova, GB);
	CHECK_EQ(r[1].perm, 1);
	free(r);
	CHECK_EQ(riov_vtd_domain_ranges(v, 9, &r, &n), -ENOENT);

	struct riov_vtd_vfio *m = riov_vtd_vfio_create(77, &ops);
	CHECK(m != NULL);
	CHECK_EQ(riov_vtd_vfio_sync(m, v, 1), 0);
	CHECK_EQ(f.n, 3);
	CHECK_EQ(f.c[0].req, VFIO_IOMMU_MAP_DMA);
	CHECK_EQ(f.c[0].iova, 0);
	CHECK_EQ(f.c[0].size, 12 * KB);
	CHECK_EQ(f.c[0].vaddr, 0x7f0000000000ull);
	CHECK_EQ(f.c[0].flags, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	CHECK_EQ(f.c[1].flags, VFIO_DMA_MAP_FLAG_READ);
	/* nothing changed: no ioctl */
	f.n = 0;
	CHECK_EQ(riov_vtd_vfio_sync(m, v, 1), 0);
	CHECK_EQ(f.n, 0);
	/* a hole in the first range: type1 cannot split, so unmap it whole and map the two parts */
	CHECK_EQ(riov_vtd_unmap(v, 1, 4 * KB, 4 * KB), 0);
	CHECK_EQ(riov_vtd_vfio_sync(m, v, 1), 0);
	CHECK_EQ(f.n, 3);
	CHECK_EQ(f.c[0].req, VFIO_IOMMU_UNMAP_DMA);
	CHECK_EQ(f.c[0].iova, 0);
	CHECK_EQ(f.c[0].size, 12 * KB);
	CHECK_EQ(f.c[1].req, VFIO_IOMMU_MAP_DMA);
	CHECK_EQ(f.c[1].size, 4 * KB);
	CHECK_EQ(f.c[2].iova, 8 * KB);
	CHECK_EQ(f.c[2].vaddr, 0x7f0000002000ull);
	const struct riov_vtd_range *mr = riov_vtd_vfio_ranges(m, &n);
	CHECK_EQ(n, 4);
	CHECK_EQ(mr[0].iova, 0);
	CHECK_EQ(mr[1].iova, 8 * KB);
	CHECK_EQ(mr[3].iova, 2 * GB);
	/* a failing MAP_DMA stops the sync; the mirror says what the container holds; retry works */
	f.n = 0;
	f.maps = 0;
	f.fail_map_at = 1;
	CHECK_EQ(riov_vtd_map(v, 1, 4 * GB, 0x100000, 4 * KB, 3), 0);
	CHECK_EQ(riov_vtd_map(v, 1, 5 * GB, 0x200000, 4 * KB, 3), 0);
	CHECK_EQ(riov_vtd_vfio_sync(m, v, 1), -ENOSPC);
	riov_vtd_vfio_ranges(m, &n);
	CHECK_EQ(n, 4);
	f.fail_map_at = 0;
	CHECK_EQ(riov_vtd_vfio_sync(m, v, 1), 0);
	riov_vtd_vfio_ranges(m, &n);
	CHECK_EQ(n, 6);
	struct riov_vtd_vfio_stats st;
	riov_vtd_vfio_stats(m, &st);
	CHECK_EQ(st.mapped_bytes, 4 * KB + 4 * KB + GB + 3 * 4 * KB);
	f.n = 0;
	riov_vtd_vfio_destroy(m);
	CHECK_EQ(f.n, 6);
	CHECK_EQ(f.c[5].req, VFIO_IOMMU_UNMAP_DMA);
	riov_vtd_destroy(v);
}

RIOV_TEST(test_set_msix)
{
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 4, .irte_count = 16 };
	struct riov_vtd *v = riov_vtd_create(&cfg);
	struct fake f = { 0 };
	struct riov_vtd_vfio_ops ops = { fake_ioctl, &f };
	static struct vtd_pid pid __attribute__((aligned(64)));
	struct riov_vtd_irte e = { .present = true, .vector = 0x40, .eventfd = 42 };
	CHECK_EQ(riov_vtd_irte_set(v, 3, &e), 0);
	e.eventfd = 43;
	CHECK_EQ(riov_vtd_irte_set(v, 5, &e), 0);
	e.posted = true;
	e.pda = (uint64_t)(uintptr_t)&pid;
	CHECK_EQ(riov_vtd_irte_set(v, 4, &e), 0);
	uint32_t idx[5] = { 3, 4, 999, 5, 6 };
	CHECK_EQ(riov_vtd_vfio_set_msix(v, 77, &ops, idx, 5), 0);
	CHECK_EQ(f.n, 1);
	CHECK_EQ(f.c[0].req, VFIO_DEVICE_SET_IRQS);
	CHECK_EQ(f.c[0].flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
	CHECK_EQ(f.c[0].index, VFIO_PCI_MSIX_IRQ_INDEX);
	CHECK_EQ(f.c[0].count, 5);
	CHECK_EQ(f.c[0].fds[0], 42);
	CHECK_EQ(f.c[0].fds[1], -1); /* posted */
	CHECK_EQ(f.c[0].fds[2], -1); /* beyond the table */
	CHECK_EQ(f.c[0].fds[3], 43);
	CHECK_EQ(f.c[0].fds[4], -1); /* not present */
	CHECK_EQ(riov_vtd_vfio_set_msix(v, 77, &ops, idx, 0), -EINVAL);
	riov_vtd_destroy(v);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(test_ranges_and_sync), RIOV_TEST_ENTRY(test_set_msix))
