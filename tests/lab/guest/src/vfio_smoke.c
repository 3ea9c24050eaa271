/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio_smoke — lab test program: drive one PCI function through VFIO type1 the way riovd will
 * (container, group, IOMMU type, DMA map/unmap, device fd, BAR mmap, reset, MSI/MSI-X eventfds).
 *
 * Security model: runs as root inside the throw-away lab VM against an emulated device; it trusts
 * nothing the device returns beyond what it checks (region sizes and offsets are validated before
 * mmap). It is a test tool, not part of riovd, and never runs on a real host.
 *
 * Usage: vfio_smoke <group-number> <pci-bdf>
 * Prints one line per step; the last line is a summary. Exit 0 when every step passed.
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

#define DMA_IOVA 0x10000000ULL
#define DMA_SIZE (2ULL << 20)

static int fail(const char *step)
{
	printf("FAIL %s: %s\n", step, strerror(errno));
	return 1;
}

/* Map BAR0 and read its first dword; returns 0 on success. */
static int check_bar0(int dev)
{
	struct vfio_region_info reg = { .argsz = sizeof(reg), .index = VFIO_PCI_BAR0_REGION_INDEX };
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &reg) < 0)
		return fail("GET_REGION_INFO(BAR0)");
	printf("ok BAR0 size 0x%" PRIx64 " flags 0x%x\n", (uint64_t)reg.size, reg.flags);
	if (!(reg.flags & VFIO_REGION_INFO_FLAG_MMAP) || reg.size == 0 || reg.size > (1ULL << 30)) {
		printf("FAIL BAR0 is not mmap-able (flags 0x%x size 0x%" PRIx64 ")\n", reg.flags,
		       (uint64_t)reg.size);
		return 1;
	}
	volatile uint32_t *bar = mmap(NULL, reg.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, reg.offset);
	if (bar == MAP_FAILED)
		return fail("mmap(BAR0)");
	/* Any value read without a fault proves the mapping (e1000e: CTRL at 0x0, STATUS at 0x8). */
	printf("ok BAR0 mmap: dword 0 0x%08x, dword 2 0x%08x\n", bar[0], bar[2]);
	munmap((void *)bar, reg.size);
	return 0;
}

/* Wire one eventfd to vector 0 of the first MSI-X (else MSI) index, then tear it down. */
static int check_irqs(int dev)
{
	static const unsigned idx[] = { VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX };
	for (unsigned i = 0; i < 2; i++) {
		struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = idx[i] };
		if (ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &irq) < 0)
			return fail("GET_IRQ_INFO");
		if (irq.count == 0 || !(irq.flags & VFIO_IRQ_INFO_EVENTFD))
			continue;
		const char *name = idx[i] == VFIO_PCI_MSIX_IRQ_INDEX ? "MSI-X" : "MSI";
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efd < 0)
			return fail("eventfd");
		char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
		struct vfio_irq_set *set = (struct vfio_irq_set *)buf;
		*set = (struct vfio_irq_set){
			.argsz = sizeof(buf),
			.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = idx[i], .start = 0, .count = 1,
		};
		memcpy(set->data, &efd, sizeof(int32_t));
		if (ioctl(dev, VFIO_DEVICE_SET_IRQS, set) < 0) {
			close(efd);
			return fail("SET_IRQS(eventfd)");
		}
		/* Fire it from software: the eventfd must count one. */
		*set = (struct vfio_irq_set){
			.argsz = sizeof(*set), .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = idx[i], .start = 0, .count = 1,
		};
		if (ioctl(dev, VFIO_DEVICE_SET_IRQS, set) < 0) {
			close(efd);
			return fail("SET_IRQS(trigger)");
		}
		uint64_t n = 0;
		if (read(efd, &n, sizeof(n)) != sizeof(n) || n != 1) {
			printf("FAIL %s vector 0: eventfd count %" PRIu64 " after a software trigger\n", name, n);
			close(efd);
			return 1;
		}
		set->flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
		set->count = 0;
		if (ioctl(dev, VFIO_DEVICE_SET_IRQS, set) < 0) {
			close(efd);
			return fail("SET_IRQS(disable)");
		}
		close(efd);
		printf("ok %s: %u vectors, vector 0 eventfd fired and disabled\n", name, irq.count);
		return 0;
	}
	printf("FAIL no MSI-X or MSI index with eventfd support\n");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s <group> <bdf>\n", argv[0]);
		return 2;
	}
	char path[64];
	int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (container < 0)
		return fail("open /dev/vfio/vfio");
	if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		printf("FAIL VFIO API version\n");
		return 1;
	}
	if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		printf("FAIL no VFIO_TYPE1v2_IOMMU\n");
		return 1;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%s", argv[1]);
	int group = open(path, O_RDWR | O_CLOEXEC);
	if (group < 0)
		return fail(path);
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &gs) < 0)
		return fail("GROUP_GET_STATUS");
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		printf("FAIL group %s not viable (another device of the group has a host driver)\n", argv[1]);
		return 1;
	}
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
		return fail("GROUP_SET_CONTAINER");
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
		return fail("SET_IOMMU(TYPE1v2)");
	printf("ok container + group %s, type1v2 IOMMU\n", argv[1]);

	struct vfio_iommu_type1_info ii = { .argsz = sizeof(ii) };
	if (ioctl(container, VFIO_IOMMU_GET_INFO, &ii) < 0)
		return fail("IOMMU_GET_INFO");
	printf("ok IOMMU page sizes 0x%" PRIx64 "\n", (uint64_t)ii.iova_pgsizes);

	void *mem = mmap(NULL, DMA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap(DMA buffer)");
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)mem, .iova = DMA_IOVA, .size = DMA_SIZE,
	};
	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map) < 0)
		return fail("MAP_DMA");
	/* The same IOVA twice must be refused (EEXIST): the mapping really exists. */
	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map) == 0 || errno != EEXIST) {
		printf("FAIL a second MAP_DMA of the same IOVA was not refused with EEXIST\n");
		return 1;
	}
	printf("ok MAP_DMA iova 0x%llx size 0x%llx (overlap refused)\n", DMA_IOVA, DMA_SIZE);

	int dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
	if (dev < 0)
		return fail("GROUP_GET_DEVICE_FD");
	struct vfio_device_info di = { .argsz = sizeof(di) };
	if (ioctl(dev, VFIO_DEVICE_GET_INFO, &di) < 0)
		return fail("DEVICE_GET_INFO");
	if (!(di.flags & VFIO_DEVICE_FLAGS_PCI)) {
		printf("FAIL %s is not a PCI device\n", argv[2]);
		return 1;
	}
	printf("ok device %s: %u regions, %u irq indexes, flags 0x%x\n", argv[2], di.num_regions,
	       di.num_irqs, di.flags);
	if (di.flags & VFIO_DEVICE_FLAGS_RESET) {
		if (ioctl(dev, VFIO_DEVICE_RESET) < 0)
			return fail("DEVICE_RESET");
		printf("ok DEVICE_RESET\n");
	} else {
		printf("ok no reset method offered (skipped)\n");
	}
	if (check_bar0(dev) || check_irqs(dev))
		return 1;

	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .iova = DMA_IOVA, .size = DMA_SIZE,
	};
	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
		return fail("UNMAP_DMA");
	if (unmap.size != DMA_SIZE) {
		printf("FAIL UNMAP_DMA unmapped 0x%llx bytes\n", (unsigned long long)unmap.size);
		return 1;
	}
	close(dev);
	close(group);
	close(container);
	printf("VFIO type1 on %s: MAP_DMA/UNMAP_DMA, reset, BAR0 mmap, SET_IRQS eventfd work\n", argv[2]);
	return 0;
}
