/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * e1000e_dma_lab — a real device DMA through the VT-d domain riov programmed: the assigned e1000e
 * (QEMU's 82574 model) reads a TX descriptor and a frame from IOVAs that only riov's domain maps
 * (pushed with riov_vtd_vfio_sync) and writes the descriptor's status back. Then riov unmaps the
 * ring, and the next descriptor fetch must fault in the (emulated) VT-d: the caller checks dmesg
 * for the fault address this program prints as "expect-fault 0x...". The descriptor's write-back
 * interrupt (MSI-X vector 0, routed by riov_vtd_vfio_set_msix() to an IRTE's eventfd) must arrive
 * through the guest's interrupt remapping.
 *
 * Security model: runs as root inside the throw-away lab VM on an emulated device; a test program
 * built by tests/lab/build.sh from riov's iommu/ and common/ sources, never shipped.
 *
 * Usage: e1000e_dma_lab <group-number> <pci-bdf>. Exit 0 when the DMA worked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iommu/vtd.h"
#include "lab_vfio.h"
#include "iommu/vtd_vfio.h"

/* 82574 registers (Intel 82574 datasheet, 10.2) */
#define E_CTRL   0x0000
#define E_STATUS 0x0008
#define E_IMS    0x00d0
#define E_IMC    0x00d8
#define E_IVAR   0x00e4
#define E_TCTL   0x0400
#define E_TDBAL  0x3800
#define E_TDBAH  0x3804
#define E_TDLEN  0x3808
#define E_TDH    0x3810
#define E_TDT    0x3818
#define E_CTRL_SLU   (1u << 6)
#define E_TCTL_EN    (1u << 1)
#define E_TCTL_PSP   (1u << 3)
#define E_ICR_TXQ0   (1u << 22)  /* MSI-X mode: TX queue 0 write-back cause */
#define E_IVAR_TXQ0(vec) ((0x8u | (vec)) << 8)  /* valid bit + vector, bits 8..11 */
#define E_TXD_EOP    0x01
#define E_TXD_IFCS   0x02
#define E_TXD_RS     0x08
#define E_TXD_STAT_DD 0x01

struct txd { /* legacy transmit descriptor */
	uint64_t addr;
	uint16_t len;
	uint8_t cso, cmd, status, css;
	uint16_t special;
};

#define RING_IOVA 0x200000ULL
#define BUF_IOVA  0x300000ULL
#define NDESC 8


static volatile uint32_t *bar;
static uint32_t rd(unsigned off) { return bar[off / 4]; }
static void wr(unsigned off, uint32_t v) { bar[off / 4] = v; }

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s <group> <bdf>\n", argv[0]);
		return 2;
	}
	int container, group;
	int dev = lab_vfio_open(argv[1], argv[2], &container, &group);
	if (ioctl(dev, VFIO_DEVICE_RESET) < 0)
		FAIL("DEVICE_RESET: %s", strerror(errno));

	/* Bus mastering on, through the config-space region. */
	struct vfio_region_info cfgr = { .argsz = sizeof(cfgr), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	struct vfio_region_info bar0 = { .argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX };
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfgr) < 0 ||
	    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar0) < 0)
		FAIL("GET_REGION_INFO: %s", strerror(errno));
	uint16_t cmd;
	if (pread(dev, &cmd, 2, cfgr.offset + PCI_COMMAND) != 2)
		FAIL("read PCI_COMMAND: %s", strerror(errno));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(dev, &cmd, 2, cfgr.offset + PCI_COMMAND) != 2)
		FAIL("write PCI_COMMAND: %s", strerror(errno));
	if (bar0.size < 0x4000)
		FAIL("BAR0 too small (0x%llx)", (unsigned long long)bar0.size);
	bar = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, bar0.offset);
	if (bar == MAP_FAILED)
		FAIL("mmap BAR0: %s", strerror(errno));

	/* Ring and frame in process memory, reachable by the device only through riov's domain. */
	struct txd *ring = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint8_t *frame = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ring == MAP_FAILED || frame == MAP_FAILED)
		FAIL("mmap: %s", strerror(errno));
	memset(ring, 0, 4096);
	memset(frame, 0, 4096);
	memset(frame, 0xff, 6);                                   /* broadcast */
	memcpy(frame + 6, "\x52\x54\x00\x12\x34\x01", 6);
	frame[12] = 0x88; frame[13] = 0xb5;                        /* local experimental ethertype */
	memcpy(frame + 14, "riov lab dma", 12);

	struct riov_vtd_config vc = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 64 };
	struct riov_vtd *vtd = riov_vtd_create(&vc);
	int rc;
	if (vtd == NULL)
		FAIL("riov_vtd_create: %s", strerror(errno));
	if ((rc = riov_vtd_domain_create(vtd, 1, 4)) != 0 ||
	    (rc = riov_vtd_map(vtd, 1, RING_IOVA, (uintptr_t)ring, 4096, RIOV_VTD_READ | RIOV_VTD_WRITE)) != 0 ||
	    (rc = riov_vtd_map(vtd, 1, BUF_IOVA, (uintptr_t)frame, 4096, RIOV_VTD_READ)) != 0)
		FAIL("riov domain: %s", strerror(-rc));
	struct riov_vtd_vfio *m = riov_vtd_vfio_create(container, NULL);
	if (m == NULL || (rc = riov_vtd_vfio_sync(m, vtd, 1)) != 0)
		FAIL("riov_vtd_vfio_sync: %s", m == NULL ? strerror(errno) : strerror(-rc));
	printf("ok riov domain 1 pushed: ring at IOVA 0x%llx, frame at IOVA 0x%llx\n", RING_IOVA, BUF_IOVA);

	/* MSI-X vector 0 -> IRTE 3 -> eventfd (VFIO enables MSI-X on the device here). */
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct riov_vtd_irte irte = { .present = true, .vector = 0x41, .eventfd = efd };
	uint32_t irte_idx = 3;
	if (efd < 0 || (rc = riov_vtd_irte_set(vtd, irte_idx, &irte)) != 0 ||
	    (rc = riov_vtd_vfio_set_msix(vtd, dev, NULL, &irte_idx, 1)) != 0)
		FAIL("MSI-X vector 0 -> IRTE %u: %s", irte_idx, efd < 0 ? strerror(errno) : strerror(-rc));

	wr(E_IMC, 0xffffffff);
	wr(E_IVAR, E_IVAR_TXQ0(0));
	wr(E_IMS, E_ICR_TXQ0);
	wr(E_CTRL, rd(E_CTRL) | E_CTRL_SLU);
	wr(E_TDBAL, (uint32_t)RING_IOVA);
	wr(E_TDBAH, (uint32_t)(RING_IOVA >> 32));
	wr(E_TDLEN, NDESC * sizeof(struct txd));
	wr(E_TDH, 0);
	wr(E_TDT, 0);
	wr(E_TCTL, E_TCTL_EN | E_TCTL_PSP);

	ring[0] = (struct txd){ .addr = BUF_IOVA, .len = 60, .cmd = E_TXD_EOP | E_TXD_IFCS | E_TXD_RS };
	__sync_synchronize();
	wr(E_TDT, 1);
	int i;
	for (i = 0; i < 1000 && !(((volatile struct txd *)ring)[0].status & E_TXD_STAT_DD); i++)
		usleep(1000);
	if (!(((volatile struct txd *)ring)[0].status & E_TXD_STAT_DD))
		FAIL("no DD write-back after 1 s (TDH %u, STATUS 0x%08x)", rd(E_TDH), rd(E_STATUS));
	printf("ok device read descriptor + frame and wrote DD back through riov's domain (TDH %u)\n",
	       rd(E_TDH));
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t cnt = 0;
	if (poll(&pfd, 1, 1000) != 1 || read(efd, &cnt, sizeof(cnt)) != sizeof(cnt) || cnt == 0)
		FAIL("no MSI-X interrupt on IRTE %u's eventfd within 1 s of the write-back", irte_idx);
	printf("ok device-raised MSI-X vector 0 reached IRTE %u's eventfd (%" PRIu64 ")\n", irte_idx, cnt);

	/* Now unmap the ring in riov's model and sync: the next descriptor fetch must fault. */
	if ((rc = riov_vtd_unmap(vtd, 1, RING_IOVA, 4096)) != 0 || (rc = riov_vtd_vfio_sync(m, vtd, 1)) != 0)
		FAIL("unmap + sync: %s", strerror(-rc));
	ring[1] = (struct txd){ .addr = BUF_IOVA, .len = 60, .cmd = E_TXD_EOP | E_TXD_IFCS | E_TXD_RS };
	__sync_synchronize();
	wr(E_TDT, 2);
	usleep(100000);
	if (((volatile struct txd *)ring)[1].status & E_TXD_STAT_DD)
		FAIL("DD written into a ring riov had unmapped");
	printf("ok no write-back into the unmapped ring\n");
	/* QEMU's VT-d reports the faulting page, not the byte address (descriptor 1 is at +16). */
	printf("expect-fault 0x%llx\n", RING_IOVA);

	wr(E_TCTL, 0);
	wr(E_IMC, 0xffffffff);
	struct vfio_irq_set off = {
		.argsz = sizeof(off), .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_MSIX_IRQ_INDEX, .start = 0, .count = 0,
	};
	if (ioctl(dev, VFIO_DEVICE_SET_IRQS, &off) < 0)
		FAIL("SET_IRQS(disable): %s", strerror(errno));
	close(efd);
	riov_vtd_vfio_destroy(m);
	riov_vtd_destroy(vtd);
	close(dev);
	close(group);
	close(container);
	printf("e1000e DMA + MSI-X on %s through riov's domain and IRTE work; unmapped ring stops it\n", argv[2]);
	return 0;
}
