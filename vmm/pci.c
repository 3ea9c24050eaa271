/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PCI addresses and sysfs (see assign.h, assign_internal.h): the strict parser and canonical form
 * of PCI addresses, small sysfs readers and writers, binding a function to vfio-pci and giving it
 * back to its host driver, and finding its IOMMU group. sysfs is "/sys" unless a unit test points
 * asg_sysfs_root_set() at a test double of sysfs (a tree of plain files and links).
 *
 * Security model: PCI addresses come from RPC clients and the configuration file: riov_pci_parse
 * accepts only hex fields of bounded width with nothing before or after, and only the canonical
 * form riov_pci_format prints is ever put into a sysfs path. Writing sysfs (driver_override,
 * unbind, drivers_probe) needs root and is what the operator asked for; riov records the driver
 * it unbinds and gives the function back to it (driver_override cleared) when the assignment
 * fails after the unbind or is released. A function that shares its
 * IOMMU group is refused: the real IOMMU would give every device of the group the function's
 * mappings, while riov's model gives each source-id its own domain.
 *
 * Thread rules: control thread only.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/assign.h"
#include "vmm/assign_internal.h"

RIOV_LOG_COMPONENT("assign", RIOV_LOG_INFO);

/* ------------------------------------------------------------------ PCI addresses */

static int hex_field(const char **p, unsigned maxdigits, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	unsigned n = 0;

	while (isxdigit((unsigned char)**p) && n < maxdigits) {
		char c = (char)tolower((unsigned char)**p);
		v = v * 16 + (unsigned long)(c <= '9' ? c - '0' : c - 'a' + 10);
		(*p)++;
		n++;
	}
	if (n == 0 || isxdigit((unsigned char)**p) || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int riov_pci_parse(const char *s, struct riov_pci_addr *out)
{
	unsigned long f[4];
	const char *p = s;
	int n = 0;

	if (s == NULL || strlen(s) > 16)
		return -EINVAL;
	/* up to four fields: [domain:]bus:dev.fn */
	for (;;) {
		if (n == 4 || hex_field(&p, 4, 0xffff, &f[n]) != 0)
			return -EINVAL;
		n++;
		if (*p == ':') {
			p++;
			continue;
		}
		if (*p == '.' && (n == 2 || n == 3)) {
			p++;
			if (hex_field(&p, 1, 7, &f[n]) != 0 || *p != '\0')
				return -EINVAL;
			n++;
			break;
		}
		return -EINVAL;
	}
	if (n == 3) { /* bus:dev.fn */
		f[3] = f[2];
		f[2] = f[1];
		f[1] = f[0];
		f[0] = 0;
	}
	if (f[1] > 0xff || f[2] > 0x1f)
		return -EINVAL;
	out->domain = (uint16_t)f[0];
	out->bus = (uint8_t)f[1];
	out->dev = (uint8_t)f[2];
	out->fn = (uint8_t)f[3];
	return 0;
}

void riov_pci_format(const struct riov_pci_addr *a, char *buf, size_t len)
{
	snprintf(buf, len, "%04x:%02x:%02x.%x", a->domain, a->bus, a->dev, a->fn);
}

/* ------------------------------------------------------------------ sysfs */

void asg_link_base(const char *dir, const char *name, char *out, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	const char *b = strrchr(target, '/');
	b = b ? b + 1 : target;
	if (strlen(b) < len) /* a longer name is no name riov knows */
		memcpy(out, b, strlen(b) + 1);
}

int asg_sys_write(const char *path, const char *s)
{
	/* O_TRUNC: what sysfs ignores, and what a test double of sysfs (plain files) needs */
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Read a small sysfs file (trailing newline removed). Returns 0 or -errno. */
static int sys_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

int asg_sys_read_uint(const char *path, unsigned *out)
{
	char buf[32], *end;
	int rc = sys_read(path, buf, sizeof(buf));

	if (rc != 0)
		return rc;
	unsigned long v = strtoul(buf, &end, 0);
	if (end == buf || *end != '\0' || v > UINT32_MAX)
		return -EIO;
	*out = (unsigned)v;
	return 0;
}

/* Where sysfs is: "/sys", or the root of a test double of sysfs (asg_sysfs_root_set). */
static char sysfs_root[PATH_MAX] = "/sys";

void asg_sysfs_root_set(const char *root)
{
	snprintf(sysfs_root, sizeof(sysfs_root), "%s", root != NULL ? root : "/sys");
}

void asg_sys_path(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", sysfs_root, rel);
}

static bool bound_to(const char *dev, const char *want, char *drv, size_t len)
{
	asg_link_base(dev, "driver", drv, len);
	return strcmp(drv, want) == 0;
}

int asg_bind_vfio_pci(const char *pci, const char *dev, struct asg_binding *b, char *err,
		      size_t errlen)
{
	char drv[64], path[PATH_MAX + 32];
	int rc;

	memset(b, 0, sizeof(*b));
	if (bound_to(dev, "vfio-pci", drv, sizeof(drv)))
		return 0; /* riov changed nothing: nothing to restore */
	memcpy(b->prev_driver, drv, sizeof(b->prev_driver));
	snprintf(path, sizeof(path), "%s/driver_override", dev);
	if ((rc = asg_sys_write(path, "vfio-pci")) != 0) {
		snprintf(err, errlen, "%s: cannot set driver_override: %s", pci, strerror(-rc));
		return -EIO;
	}
	b->changed = true; /* from here on, a failure restores the host's binding */
	if (drv[0] != '\0') {
		RIOV_LOG(RIOV_LOG_NOTICE, "%s: unbinding it from %s to give it to vfio-pci", pci, drv);
		snprintf(path, sizeof(path), "%s/driver/unbind", dev);
		if ((rc = asg_sys_write(path, pci)) != 0) {
			snprintf(err, errlen, "%s: cannot unbind it from %s: %s", pci, drv, strerror(-rc));
			goto restore;
		}
	}
	asg_sys_path(path, sizeof(path), "bus/pci/drivers_probe");
	rc = asg_sys_write(path, pci);
	if (!bound_to(dev, "vfio-pci", drv, sizeof(drv))) {
		snprintf(err, errlen, "%s: vfio-pci did not take it (now bound to %s%s%s); is the vfio-pci "
			 "module loaded?", pci, drv[0] ? drv : "no driver", rc ? ": " : "",
			 rc ? strerror(-rc) : "");
		goto restore;
	}
	return 0;
restore:
	asg_bind_restore(pci, dev, b);
	return -EIO;
}

void asg_bind_restore(const char *pci, const char *dev, struct asg_binding *b)
{
	char drv[64], path[PATH_MAX + 32];
	int rc;

	if (!b->changed)
		return;
	b->changed = false;
	/* an empty line clears the override, so the host's driver may match the function again */
	snprintf(path, sizeof(path), "%s/driver_override", dev);
	if ((rc = asg_sys_write(path, "\n")) != 0)
		RIOV_LOG(RIOV_LOG_ERR, "%s: cannot clear driver_override: %s", pci, strerror(-rc));
	asg_link_base(dev, "driver", drv, sizeof(drv));
	if (drv[0] != '\0' && strcmp(drv, b->prev_driver) != 0) {
		snprintf(path, sizeof(path), "%s/driver/unbind", dev);
		if ((rc = asg_sys_write(path, pci)) != 0)
			RIOV_LOG(RIOV_LOG_ERR, "%s: cannot unbind it from %s: %s", pci, drv,
				 strerror(-rc));
	}
	if (b->prev_driver[0] == '\0' || strcmp(drv, b->prev_driver) == 0) {
		RIOV_LOG(RIOV_LOG_NOTICE, "%s: driver_override cleared (%s)", pci,
			 b->prev_driver[0] ? "still on its host driver"
					   : "it had no driver before");
		return;
	}
	/* prev_driver came from a sysfs link name, never from a client */
	char rel[128];
	snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/bind", b->prev_driver);
	asg_sys_path(path, sizeof(path), rel);
	if ((rc = asg_sys_write(path, pci)) != 0)
		RIOV_LOG(RIOV_LOG_ERR, "%s: cannot give it back to its host driver %s: %s", pci,
			 b->prev_driver, strerror(-rc));
	else
		RIOV_LOG(RIOV_LOG_NOTICE, "%s: given back to its host driver %s", pci,
			 b->prev_driver);
}

int asg_iommu_group(const char *pci, const char *dev, int *group, char *err, size_t errlen)
{
	char g[32], path[PATH_MAX], *end;
	struct dirent *de;
	unsigned n = 0;

	asg_link_base(dev, "iommu_group", g, sizeof(g));
	long v = strtol(g, &end, 10);
	if (g[0] == '\0' || *end != '\0' || v < 0 || v > INT_MAX) {
		snprintf(err, errlen, "%s has no IOMMU group: is the IOMMU on (intel_iommu=on)?", pci);
		return -ENOENT;
	}
	char rel[64];
	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%ld/devices", v);
	asg_sys_path(path, sizeof(path), rel);
	DIR *d = opendir(path);
	if (d == NULL) {
		snprintf(err, errlen, "%s: cannot list IOMMU group %ld: %s", pci, v, strerror(errno));
		return -ENOENT;
	}
	char other[32] = "";
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if (strcmp(de->d_name, pci) != 0 && strlen(de->d_name) < sizeof(other))
			memcpy(other, de->d_name, strlen(de->d_name) + 1);
	}
	closedir(d);
	if (n != 1) {
		snprintf(err, errlen, "%s shares IOMMU group %ld with %s%s: the IOMMU would give all of them "
			 "its mappings, riov gives each function its own domain (assign a function that is "
			 "alone in its group)", pci, v, other[0] ? other : "other devices",
			 n > 2 ? " and more" : "");
		return -EBUSY;
	}
	*group = (int)v;
	return 0;
}
