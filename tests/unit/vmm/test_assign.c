/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vmm/assign: PCI address parsing, the kernel-log DMAR fault parser (hostile text: forged
 * facilities, truncated and overlong fields, NULs), and the refusals of riov_assign_create() and
 * the SR-IOV helpers that need no VFIO (bad or absent functions), and, on a test double of
 * sysfs, that the host's driver is unbound only after every check and bound again when the
 * assignment fails (issue 12 finding 7). Assignment itself needs VFIO
 * and an IOMMU: it is tested in the lab VM (tests/lab/guest/tests/70-riovd-assign.sh, 80-*).
 */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iommu/vtd.h"
#include "riov_test.h"
#include "vmm/assign.h"
#include "vmm/assign_internal.h"
#include "unit/sysfs_double.h"

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

/* ---- a test double of sysfs: plain files and links in a temporary directory (no real PCI
 * function, IOMMU or VFIO exists where unit tests run). Writes land in the files; links do not
 * move, so "vfio-pci took it" never happens here. */

#define FN "0000:00:01.0"

/* FN on host driver e1000e in IOMMU group 7, alone in it unless `shared`. */
static void sysfs_double(bool shared)
{
	sysfs_root_new("riov-sysfs");
	static const char *const dirs[] = {
		"bus", "bus/pci", "bus/pci/devices", ("bus/pci/devices/" FN), "bus/pci/drivers",
		"bus/pci/drivers/e1000e", "bus/pci/drivers/vfio-pci", "kernel", "kernel/iommu_groups",
		"kernel/iommu_groups/7", "kernel/iommu_groups/7/devices",
	};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		mk(dirs[i]);
	static const char *const files[] = {
		("bus/pci/devices/" FN "/driver_override"), "bus/pci/drivers/e1000e/bind",
		"bus/pci/drivers/e1000e/unbind", "bus/pci/drivers/vfio-pci/bind",
		"bus/pci/drivers/vfio-pci/unbind", "bus/pci/drivers_probe",
		("kernel/iommu_groups/7/devices/" FN),
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		put(files[i], "");
	if (shared)
		put("kernel/iommu_groups/7/devices/0000:00:01.1", "");
	link_to("bus/pci/drivers/e1000e", "bus/pci/devices/" FN "/driver");
	link_to("kernel/iommu_groups/7", "bus/pci/devices/" FN "/iommu_group");
	sysfs_root_use();
}

static bool host_driver_untouched(void)
{
	char buf[64], drv[64];

	get("bus/pci/drivers/e1000e/unbind", buf, sizeof(buf));
	if (buf[0] != '\0')
		return false;
	get("bus/pci/devices/" FN "/driver_override", buf, sizeof(buf));
	if (buf[0] != '\0')
		return false;
	asg_link_base(sys_root, "bus/pci/devices/" FN "/driver", drv, sizeof(drv));
	return strcmp(drv, "e1000e") == 0;
}

/* issue 12 finding 7: a request that fails a check leaves the host's driver bound */
RIOV_TEST(assign_checks_before_unbinding)
{
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 256 };
	struct riov_vtd *vtd = riov_vtd_create(&cfg);
	struct riov_assign *a = NULL;
	char err[256];

	CHECK(vtd != NULL);
	struct riov_assign_params p = { .pci = FN, .vtd = vtd, .did = 0x1000 };
	sysfs_double(true); /* the group is shared */
	CHECK_EQ(riov_assign_create(&p, &a, err, sizeof(err)), -EBUSY);
	CHECK(strstr(err, "shares IOMMU group 7 with 0000:00:01.1") != NULL);
	CHECK(host_driver_untouched());
	sysfs_double_free();

	sysfs_double(false); /* the domain exists already */
	CHECK_EQ(riov_vtd_domain_create(vtd, 0x1000, 4), 0);
	CHECK_EQ(riov_assign_create(&p, &a, err, sizeof(err)), -EBUSY);
	CHECK(strstr(err, "domain 4096 exists already") != NULL);
	CHECK(host_driver_untouched());
	CHECK_EQ(riov_vtd_domain_destroy(vtd, 0x1000), 0);

	/* the source-id is in use */
	CHECK_EQ(riov_vtd_domain_create(vtd, 0x2000, 4), 0);
	CHECK_EQ(riov_vtd_context_set(vtd, 0x8, 0x2000, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(riov_assign_create(&p, &a, err, sizeof(err)), -EBUSY);
	CHECK(host_driver_untouched());
	sysfs_double_free();
	CHECK(a == NULL);
	riov_vtd_destroy(vtd);
}

/* issue 12 finding 7: a failure after the unbind restores the host's binding */
RIOV_TEST(assign_failure_after_unbind_restores)
{
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 256 };
	struct riov_vtd *vtd = riov_vtd_create(&cfg);
	struct riov_assign *a = NULL;
	char err[256], buf[64];

	CHECK(vtd != NULL);
	sysfs_double(false);
	struct riov_assign_params p = { .pci = FN, .vtd = vtd, .did = 0x1000 };
	/* every check passes; vfio-pci "does not take it" in the double */
	CHECK_EQ(riov_assign_create(&p, &a, err, sizeof(err)), -EIO);
	CHECK(strstr(err, "vfio-pci did not take it") != NULL);
	get("bus/pci/drivers/e1000e/unbind", buf, sizeof(buf));
	CHECK(strcmp(buf, FN) == 0);       /* it was unbound ... */
	get("bus/pci/drivers_probe", buf, sizeof(buf));
	CHECK(strcmp(buf, FN) == 0);
	get("bus/pci/devices/" FN "/driver_override", buf, sizeof(buf));
	CHECK(strcmp(buf, "\n") == 0);     /* ... and its override cleared */
	sysfs_double_free();
	riov_vtd_destroy(vtd);
}

/* issue 12 finding 7: giving the function back to the driver it had */
RIOV_TEST(bind_restore_rebinds_host_driver)
{
	struct asg_binding b = { .prev_driver = "e1000e", .changed = true };
	char dev[128], buf[64];

	sysfs_double(false);
	link_to("bus/pci/drivers/vfio-pci", "bus/pci/devices/" FN "/driver"); /* riov's now */
	put("bus/pci/devices/" FN "/driver_override", "vfio-pci");
	asg_sys_path(dev, sizeof(dev), "bus/pci/devices/" FN);
	asg_bind_restore(FN, dev, &b);
	CHECK(!b.changed);
	get("bus/pci/devices/" FN "/driver_override", buf, sizeof(buf));
	CHECK(strcmp(buf, "\n") == 0);
	get("bus/pci/drivers/vfio-pci/unbind", buf, sizeof(buf));
	CHECK(strcmp(buf, FN) == 0);
	get("bus/pci/drivers/e1000e/bind", buf, sizeof(buf));
	CHECK(strcmp(buf, FN) == 0);
	/* a second call changes nothing */
	put("bus/pci/drivers/e1000e/bind", "");
	asg_bind_restore(FN, dev, &b);
	get("bus/pci/drivers/e1000e/bind", buf, sizeof(buf));
	CHECK(buf[0] == '\0');
	/* a function riov found on vfio-pci is left there */
	struct asg_binding none;
	CHECK_EQ(asg_bind_vfio_pci(FN, dev, &none, buf, sizeof(buf)), 0);
	CHECK(!none.changed);
	sysfs_double_free();
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(pci_parse_good), RIOV_TEST_ENTRY(pci_parse_bad),
	       RIOV_TEST_ENTRY(dmar_parse_kernel_lines), RIOV_TEST_ENTRY(dmar_parse_refuses),
	       RIOV_TEST_ENTRY(assign_refuses_without_touching_anything), RIOV_TEST_ENTRY(sriov_refuses),
	       RIOV_TEST_ENTRY(assign_checks_before_unbinding),
	       RIOV_TEST_ENTRY(assign_failure_after_unbind_restores),
	       RIOV_TEST_ENTRY(bind_restore_rebinds_host_driver))
