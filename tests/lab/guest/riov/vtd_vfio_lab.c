/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vtd_vfio_lab — riov's own VT-d model and its VFIO backend (iommu/vtd_vfio.c) against the real
 * Linux VFIO type1 container and an assigned PCI function, inside the lab VM.
 *
 * Security model: runs as root inside the throw-away lab VM on an emulated device; it is a test
 * program built by tests/lab/build.sh from riov's iommu/ and common/ sources, never shipped.
 *
 * Steps: the model's domain with two mappings is pushed with riov_vtd_vfio_sync(); the container's
 * real contents are probed (MAP_DMA of one page where riov mapped must fail with EEXIST, and succeed
 * where it did not); a partial unmap in the model is synced and probed; an IRTE's eventfd is routed
 * to MSI-X vector 0 with riov_vtd_vfio_set_msix() and fired; destroying the mirror empties the
 * container. Usage: vtd_vfio_lab <group-number> <pci-bdf>. Exit 0 when every step passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iommu/vtd.h"
#include "lab_vfio.h"
#include "iommu/vtd_vfio.h"

#define MIB (1ULL << 20)
#define IOVA_A (16 * MIB)  /* 2 MiB read-write */
#define IOVA_B (64 * MIB)  /* 1 MiB read-only */

static int container = -1;
static void *probe_page;


/* 1: the container maps iova (a one-page MAP_DMA there fails with EEXIST); 0: it does not (the
 * probe mapping is removed again). */
static int container_maps(uint64_t iova)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ,
		.vaddr = (uintptr_t)probe_page, .iova = iova, .size = 4096,
	};
	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map) < 0) {
		if (errno == EEXIST)
			return 1;
		FAIL("probe MAP_DMA at 0x%" PRIx64 ": %s", iova, strerror(errno));
	}
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap), .iova = iova, .size = 4096 };
	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
		FAIL("probe UNMAP_DMA at 0x%" PRIx64 ": %s", iova, strerror(errno));
	return 0;
}

static void expect(uint64_t iova, int mapped, const char *when)
{
	int got = container_maps(iova);
	if (got != mapped)
		FAIL("%s: container %s 0x%" PRIx64 ", riov's domain says %s", when,
		     got ? "maps" : "does not map", iova, mapped ? "mapped" : "unmapped");
}

static void show(const struct riov_vtd_vfio *m, const char *when)
{
	size_t n;
	const struct riov_vtd_range *r = riov_vtd_vfio_ranges(m, &n);
	struct riov_vtd_vfio_stats st;
	riov_vtd_vfio_stats(m, &st);
	printf("ok %s: %zu range(s), %" PRIu64 " map / %" PRIu64 " unmap calls\n", when, n,
	       st.map_calls, st.unmap_calls);
	for (size_t i = 0; i < n; i++)
		printf("   iova 0x%" PRIx64 " len 0x%" PRIx64 " perm %u\n", r[i].iova, r[i].len, r[i].perm);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s <group> <bdf>\n", argv[0]);
		return 2;
	}
	int group;
	int dev = lab_vfio_open(argv[1], argv[2], &container, &group);

	uint8_t *mem = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	probe_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || probe_page == MAP_FAILED)
		FAIL("mmap: %s", strerror(errno));
	memset(mem, 0x5a, 4 * MIB); /* fault the pages in; VFIO pins them anyway */

	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 64 };
	struct riov_vtd *vtd = riov_vtd_create(&cfg);
	if (vtd == NULL)
		FAIL("riov_vtd_create: %s", strerror(errno));
	int rc;
	if ((rc = riov_vtd_domain_create(vtd, 1, 4)) != 0 ||
	    (rc = riov_vtd_map(vtd, 1, IOVA_A, (uintptr_t)mem, 2 * MIB, RIOV_VTD_READ | RIOV_VTD_WRITE)) != 0 ||
	    (rc = riov_vtd_map(vtd, 1, IOVA_B, (uintptr_t)mem + 2 * MIB, MIB, RIOV_VTD_READ)) != 0)
		FAIL("building riov domain 1: %s", strerror(-rc));

	struct riov_vtd_vfio *m = riov_vtd_vfio_create(container, NULL);
	if (m == NULL)
		FAIL("riov_vtd_vfio_create: %s", strerror(errno));
	if ((rc = riov_vtd_vfio_sync(m, vtd, 1)) != 0)
		FAIL("riov_vtd_vfio_sync: %s", strerror(-rc));
	show(m, "first sync");
	expect(IOVA_A, 1, "first sync");
	expect(IOVA_A + 2 * MIB - 4096, 1, "first sync");
	expect(IOVA_A + 2 * MIB, 0, "first sync");
	expect(IOVA_B + MIB - 4096, 1, "first sync");
	expect(IOVA_B - 4096, 0, "first sync");

	/* Unmap the first half of A in the model: sync must leave exactly the second half. */
	if ((rc = riov_vtd_unmap(vtd, 1, IOVA_A, MIB)) != 0)
		FAIL("riov_vtd_unmap: %s", strerror(-rc));
	riov_vtd_inv_iotlb_domain(vtd, 1);
	if ((rc = riov_vtd_vfio_sync(m, vtd, 1)) != 0)
		FAIL("riov_vtd_vfio_sync after unmap: %s", strerror(-rc));
	show(m, "sync after a partial unmap");
	expect(IOVA_A, 0, "after partial unmap");
	expect(IOVA_A + MIB - 4096, 0, "after partial unmap");
	expect(IOVA_A + MIB, 1, "after partial unmap");
	expect(IOVA_B, 1, "after partial unmap");

	/* A second sync with nothing changed must issue no ioctl. */
	struct riov_vtd_vfio_stats s1, s2;
	riov_vtd_vfio_stats(m, &s1);
	if ((rc = riov_vtd_vfio_sync(m, vtd, 1)) != 0)
		FAIL("idle riov_vtd_vfio_sync: %s", strerror(-rc));
	riov_vtd_vfio_stats(m, &s2);
	if (s2.map_calls != s1.map_calls || s2.unmap_calls != s1.unmap_calls)
		FAIL("an idle sync issued %" PRIu64 " map / %" PRIu64 " unmap calls",
		     s2.map_calls - s1.map_calls, s2.unmap_calls - s1.unmap_calls);
	printf("ok idle sync issued no ioctl\n");

	/* MSI-X vector 0 -> IRTE 5 -> eventfd. */
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct riov_vtd_irte e = { .present = true, .vector = 0x40, .eventfd = efd };
	uint32_t idx = 5;
	if (efd < 0 || (rc = riov_vtd_irte_set(vtd, idx, &e)) != 0)
		FAIL("riov_vtd_irte_set: %s", efd < 0 ? strerror(errno) : strerror(-rc));
	if ((rc = riov_vtd_vfio_set_msix(vtd, dev, NULL, &idx, 1)) != 0)
		FAIL("riov_vtd_vfio_set_msix: %s", strerror(-rc));
	struct vfio_irq_set trig = {
		.argsz = sizeof(trig), .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_MSIX_IRQ_INDEX, .start = 0, .count = 1,
	};
	if (ioctl(dev, VFIO_DEVICE_SET_IRQS, &trig) < 0)
		FAIL("SET_IRQS(trigger): %s", strerror(errno));
	uint64_t cnt = 0;
	if (read(efd, &cnt, sizeof(cnt)) != sizeof(cnt) || cnt != 1)
		FAIL("IRTE %u eventfd count %" PRIu64 " after MSI-X vector 0 fired", idx, cnt);
	printf("ok MSI-X vector 0 routed to IRTE %u's eventfd\n", idx);
	trig.count = 0;
	if (ioctl(dev, VFIO_DEVICE_SET_IRQS, &trig) < 0)
		FAIL("SET_IRQS(disable): %s", strerror(errno));

	riov_vtd_vfio_destroy(m);
	expect(IOVA_A + MIB, 0, "after destroy");
	expect(IOVA_B, 0, "after destroy");
	printf("ok destroying the mirror emptied the container\n");
	riov_vtd_destroy(vtd);
	close(efd);
	close(dev);
	close(group);
	close(container);
	printf("riov vtd_vfio on %s: sync (map, partial unmap, idle), MSI-X routing, teardown match the kernel\n",
	       argv[2]);
	return 0;
}
