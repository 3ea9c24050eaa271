/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vmm/assign: PCI address parsing, the kernel-log DMAR fault parser (hostile text: forged
 * facilities, truncated and overlong fields, NULs), and the refusals of riov_assign_create() and
 * the SR-IOV helpers that need no VFIO (bad or absent functions). Assignment itself needs VFIO
 * and an IOMMU: it is tested in the lab VM (tests/lab/guest/tests/70-riovd-assign.sh, 80-*).
 */
#include <errno.h>
#include <string.h>

#include "iommu/vtd.h"
#include "riov_test.h"
#include "vmm/assign.h"

RIOV_TEST(pci_parse_good)
{
	struct riov_pci_addr a;
	char s[32];

	CHECK_EQ(riov_pci_parse("0000:00:01.0", &a), 0);
	CHECK(a.domain == 0 && a.bus == 0 && a.dev == 1 && a.fn == 0);
	CHECK_EQ(riov_pci_sid(&a), 0x8);
	CHECK_EQ(riov_pci_parse("3b:1f.7", &a), 0);
	CHECK(a.domain == 0 && a.bus == 0x3b && a.dev == 0x1f && a.fn == 7);
	CHECK_EQ(riov_pci_sid(&a), 0x3bff);
	CHECK_EQ(riov_pci_parse("ffff:FF:1F.7", &a), 0);
	riov_pci_format(&a, s, sizeof(s));
	CHECK(strcmp(s, "ffff:ff:1f.7") == 0);
}

RIOV_TEST(pci_parse_bad)
{
	static const char *const bad[] = {
		"", ":", "0000:00:01", "00:01", "0000:00:20.0" /* dev > 31 */, "0000:00:01.8",
		"0000:100:01.0", "10000:00:01.0", "0000:00:01.0 ", " 0000:00:01.0", "0000:00:01.0,x",
		"0000:00:01.00", "0:0:0:0.0", "0000:00:01.-1", "0000:0g:01.0", "0000::01.0",
		"net_tap0,iface=x", "0000:00:01.0000000000000000000",
	};
	struct riov_pci_addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (riov_pci_parse(bad[i], &a) != -EINVAL) {
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
			CHECK(0);
		}
	CHECK_EQ(riov_pci_parse(NULL, &a), -EINVAL);
}

static int parse(const char *s, struct riov_dmar_fault *f)
{
	return riov_dmar_parse(s, strlen(s), f);
}

RIOV_TEST(dmar_parse_kernel_lines)
{
	struct riov_dmar_fault f;

	CHECK_EQ(parse("3,1234,28847723,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault "
		       "addr 0x10f192000 [fault reason 0x06] PTE Read access is not set\n", &f), 0);
	CHECK(f.sid == 0x8 && !f.is_write && !f.is_ir && f.addr == 0x10f192000 && f.reason == 6);
	CHECK_EQ(parse("3,9,1,c,caller=T12;DMAR: [DMA Write NO_PASID] Request device [3b:1f.7] fault "
		       "addr 0xfffff000 [fault reason 0x05] PTE Write access is not set", &f), 0);
	CHECK(f.sid == 0x3bff && f.is_write && f.addr == 0xfffff000 && f.reason == 5);
	CHECK_EQ(parse("3,10,1,-;DMAR: [DMA Read PASID 0x5] Request device [00:03.1] fault addr "
		       "0x2000 [fault reason 0x06] x", &f), 0);
	CHECK(f.sid == 0x19 && f.addr == 0x2000);
	CHECK_EQ(parse("3,11,1,-;DMAR: [INTR-REMAP] Request device [00:01.0] fault index 0x1f "
		       "[fault reason 0x22] Present field in the IRTE entry is clear", &f), 0);
	CHECK(f.is_ir && f.addr == 0x1f && f.reason == 0x22 && f.sid == 8);
	/* older kernels: PASID after the device, decimal-looking reason without 0x */
	CHECK_EQ(parse("3,12,1,-;DMAR: [DMA Read] Request device [00:01.0] PASID ffffffff fault addr "
		       "1000 [fault reason 06] x", &f), -EINVAL); /* PASID wider than 20 bits */
	CHECK_EQ(parse("3,12,1,-;DMAR: [DMA Read] Request device [00:01.0] PASID 1 fault addr "
		       "1000 [fault reason 06] x", &f), 0);
	CHECK(f.addr == 0x1000 && f.reason == 6);
}

RIOV_TEST(dmar_parse_refuses)
{
	struct riov_dmar_fault f;
	static const char *const bad[] = {
		/* user facility (a process wrote it to /dev/kmsg): prio 12 = user.warning */
		"12,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] x",
		"14,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] x",
		/* no header, broken header */
		"DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] x",
		"3;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] x",
		"99999999999999999999,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] x",
		/* other DMAR lines */
		"3,1,1,-;DMAR: DRHD: handling fault status reg 2",
		"6,1,1,-;DMAR: IOMMU enabled",
		/* field trouble */
		"3,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:20.0] fault addr 0x1000 [fault reason 0x06] x",
		"3,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:01.8] fault addr 0x1000 [fault reason 0x06] x",
		"3,1,1,-;DMAR: [DMA Read NO_PASID] Request device [100:01.0] fault addr 0x1000 [fault reason 0x06] x",
		"3,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x11112222333344445 [fault reason 0x06] x",
		"3,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x106] x",
		"3,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr [fault reason 0x06] x",
		"3,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000",
		"3,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault index 0x1000 [fault reason 0x06] x",
		"3,1,1,-;DMAR: [INTR-REMAP] Request device [00:01.0] fault addr 0x1 [fault reason 0x22] x",
		"3,1,1,-;DMAR: [DMA Execute] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] x",
		/* the line is on a continuation line only */
		"3,1,1,-;hello\n DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] x",
		"", ";", ",;",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &f) != -EINVAL) {
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
			CHECK(0);
		}
	/* a NUL inside the record */
	static const char nul[] = "3,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0]\0 fault addr 0x1000 [fault reason 0x06] x";
	CHECK_EQ(riov_dmar_parse(nul, sizeof(nul) - 1, &f), -EINVAL);
	CHECK_EQ(riov_dmar_parse(NULL, 10, &f), -EINVAL);
	/* a record longer than the parser's window: the fault fields fall outside it */
	char big[9000];
	memset(big, 'A', sizeof(big));
	memcpy(big, "3,1,1,-;", 8);
	const char *tail = "DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] x";
	memcpy(big + sizeof(big) - strlen(tail) - 1, tail, strlen(tail));
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ(riov_dmar_parse(big, strlen(big), &f), -EINVAL);
}

RIOV_TEST(assign_refuses_without_touching_anything)
{
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 256 };
	struct riov_vtd *vtd = riov_vtd_create(&cfg);
	struct riov_vtd_domain_info di;
	struct riov_assign *a = NULL;
	char err[256];

	CHECK(vtd != NULL);
	struct riov_assign_params p = { .pci = "not-a-bdf", .vtd = vtd, .did = 0x1000 };
	CHECK_EQ(riov_assign_create(&p, &a, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a PCI address") != NULL);
	p.pci = "0001:00:01.0";
	CHECK_EQ(riov_assign_create(&p, &a, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "segment") != NULL);
	p.pci = "0000:ff:1f.7"; /* no such function on any machine this runs on */
	CHECK_EQ(riov_assign_create(&p, &a, err, sizeof(err)), -ENODEV);
	CHECK(strstr(err, "no PCI function 0000:ff:1f.7") != NULL);
	CHECK(a == NULL);
	/* nothing was left in the unit */
	CHECK(riov_vtd_domain_info(vtd, 0x1000, &di) != 0);
	riov_assign_destroy(NULL);
	riov_vtd_destroy(vtd);
}

RIOV_TEST(sriov_refuses)
{
	struct riov_sriov_info si;
	char err[256], out[32];

	CHECK_EQ(riov_sriov_get("zz", &si, err, sizeof(err)), -EINVAL);
	CHECK_EQ(riov_sriov_get("0000:ff:1f.7", &si, err, sizeof(err)), -ENODEV);
	CHECK(strstr(err, "0000:ff:1f.7") != NULL);
	CHECK_EQ(riov_sriov_set("0000:ff:1f.7", 2, err, sizeof(err)), -ENODEV);
	CHECK_EQ(riov_sriov_vf("0000:ff:1f.7", 0, out, sizeof(out)), -ENOENT);
	CHECK_EQ(riov_sriov_vf("bad", 0, out, sizeof(out)), -EINVAL);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(pci_parse_good), RIOV_TEST_ENTRY(pci_parse_bad),
	       RIOV_TEST_ENTRY(dmar_parse_kernel_lines), RIOV_TEST_ENTRY(dmar_parse_refuses),
	       RIOV_TEST_ENTRY(assign_refuses_without_touching_anything), RIOV_TEST_ENTRY(sriov_refuses))
