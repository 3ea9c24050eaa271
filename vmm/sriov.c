/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SR-IOV through sysfs (see assign.h): a PF's VF count (sriov_totalvfs, sriov_numvfs), with the PF
 * driver's VF autoprobe off so that the VFs wait for riov to assign them, a VF's PCI address, and
 * the PF's network interface (whose driver takes the VFs' settings over rtnetlink).
 *
 * Security model: the PF's address comes from RPC clients and the configuration file: it is parsed
 * strictly and only its canonical form is put into sysfs paths; a VF's address is read from the
 * PF's virtfn<n> link and parsed the same way before it is returned. Writing sriov_numvfs needs
 * root and is what the operator asked for.
 *
 * Thread rules: control thread only.
 */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/assign.h"
#include "vmm/assign_internal.h"

RIOV_LOG_COMPONENT("assign", RIOV_LOG_INFO);

/* The PF's sysfs directory and canonical address. Returns 0, -EINVAL or -ENODEV with err. */
static int pf_dir(const char *pf, char *dir, size_t len, char *canon, size_t clen, char *err,
		  size_t errlen)
{
	struct riov_pci_addr a;

	if (riov_pci_parse(pf, &a) != 0) {
		snprintf(err, errlen, "'%.40s' is not a PCI address (DDDD:BB:DD.F)", pf ? pf : "");
		return -EINVAL;
	}
	riov_pci_format(&a, canon, clen);
	char rel[64];
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", canon);
	asg_sys_path(dir, len, rel);
	if (access(dir, F_OK) != 0) {
		snprintf(err, errlen, "there is no PCI function %s", canon);
		return -ENODEV;
	}
	return 0;
}

int riov_sriov_get(const char *pf, struct riov_sriov_info *out, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], canon[16];
	int rc = pf_dir(pf, dir, sizeof(dir), canon, sizeof(canon), err, errlen);

	if (rc != 0)
		return rc;
	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/sriov_totalvfs", dir);
	if (asg_sys_read_uint(path, &out->total_vfs) != 0) {
		snprintf(err, errlen, "%s is not an SR-IOV physical function (no sriov_totalvfs)", canon);
		return -ENOTSUP;
	}
	snprintf(path, sizeof(path), "%s/sriov_numvfs", dir);
	if ((rc = asg_sys_read_uint(path, &out->num_vfs)) != 0) {
		snprintf(err, errlen, "%s: cannot read sriov_numvfs: %s", canon, strerror(-rc));
		return rc;
	}
	asg_link_base(dir, "driver", out->driver, sizeof(out->driver));
	return 0;
}

int riov_sriov_set(const char *pf, unsigned num_vfs, char *err, size_t errlen)
{
	struct riov_sriov_info si;
	char dir[PATH_MAX], path[PATH_MAX + 32], canon[16], num[16];
	int rc = riov_sriov_get(pf, &si, err, errlen);

	if (rc != 0)
		return rc;
	pf_dir(pf, dir, sizeof(dir), canon, sizeof(canon), err, errlen);
	if (num_vfs > si.total_vfs) {
		snprintf(err, errlen, "%s supports at most %u VFs (sriov_totalvfs), not %u", canon,
			 si.total_vfs, num_vfs);
		return -EINVAL;
	}
	if (num_vfs == si.num_vfs)
		return 0;
	if (num_vfs != 0 && si.driver[0] == '\0') {
		snprintf(err, errlen, "%s has no driver: the PF's driver creates the VFs (bind it first)",
			 canon);
		return -ENODEV;
	}
	/* the VFs go to vfio-pci through riov, never to the PF driver's own VF driver */
	snprintf(path, sizeof(path), "%s/sriov_drivers_autoprobe", dir);
	if ((rc = asg_sys_write(path, "0")) != 0) {
		snprintf(err, errlen, "%s: cannot turn VF autoprobe off: %s", canon, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/sriov_numvfs", dir);
	if (si.num_vfs != 0 && num_vfs != 0 && (rc = asg_sys_write(path, "0")) != 0) {
		snprintf(err, errlen, "%s: cannot remove its %u VFs before creating %u: %s", canon,
			 si.num_vfs, num_vfs, strerror(-rc));
		return rc;
	}
	snprintf(num, sizeof(num), "%u", num_vfs);
	if ((rc = asg_sys_write(path, num)) != 0) {
		snprintf(err, errlen, "%s: writing sriov_numvfs=%u failed: %s%s", canon, num_vfs,
			 strerror(-rc), rc == -EBUSY ? " (a VF is in use)" : "");
		return rc;
	}
	RIOV_LOG(RIOV_LOG_NOTICE, "%s: %u VF(s) (sriov_numvfs, driver %s)", canon, num_vfs,
		 si.driver[0] ? si.driver : "none");
	return 0;
}

int riov_sriov_vf(const char *pf, unsigned vf, char *out, size_t len)
{
	char dir[PATH_MAX], canon[16], name[32], base[64], err[8];
	struct riov_pci_addr a;
	int rc = pf_dir(pf, dir, sizeof(dir), canon, sizeof(canon), err, sizeof(err));

	if (rc != 0)
		return rc == -ENODEV ? -ENOENT : rc;
	if (vf > 65535)
		return -EINVAL;
	snprintf(name, sizeof(name), "virtfn%u", vf);
	asg_link_base(dir, name, base, sizeof(base));
	if (base[0] == '\0' || riov_pci_parse(base, &a) != 0)
		return -ENOENT;
	riov_pci_format(&a, out, len);
	return 0;
}

int riov_sriov_netdev(const char *pf, char *out, size_t len, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX + 8], canon[16], name[IFNAMSIZ] = "";
	int rc = pf_dir(pf, dir, sizeof(dir), canon, sizeof(canon), err, errlen);
	struct dirent *de;
	unsigned n = 0;

	if (rc != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/net", dir);
	DIR *d = opendir(path);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name);
			if (de->d_name[0] == '.' || l == 0 || l >= sizeof(name))
				continue;
			if (n++ == 0)
				memcpy(name, de->d_name, l + 1);
		}
		closedir(d);
	}
	if (n == 0) {
		snprintf(err, errlen, "%s has no network interface (no PF driver with a netdev: the VFs' "
			 "MAC, VLAN and other settings go through it)", canon);
		return -ENODEV;
	}
	if (n > 1) {
		snprintf(err, errlen, "%s has %u network interfaces: riov sets VFs through a PF with one",
			 canon, n);
		return -ENOTSUP;
	}
	snprintf(out, len, "%s", name);
	return 0;
}
