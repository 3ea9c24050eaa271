/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Assigned PCI functions (see assign.h): VFIO type1 with a DMA domain and MSI-X routes in riov's
 * VT-d model, DMAR faults from the kernel log, SR-IOV VFs through sysfs.
 *
 * Security model: see assign.h. In short: sysfs paths are built only from canonical, parsed PCI
 * addresses and fixed names; what reaches VFIO_IOMMU_MAP_DMA is what the caller mapped into the
 * domain from riovd's own memory; /dev/kmsg text is parsed with bounds and only kernel records
 * count; a VFIO group shared with other devices is refused, since the real IOMMU would give all
 * of them the function's mappings while riov's model gives each source-id its own domain.
 *
 * Thread rules: control thread only.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>

#include <event2/event.h>

#include "common/log.h"
#include "iommu/vtd.h"
#include "iommu/vtd_dp.h"
#include "iommu/vtd_vfio.h"
#include "vmm/assign.h"

#define COMP "assign"
#define SYS_PCI "/sys/bus/pci/devices/"
#define MSIX_MAX 2048u
#define KMSG_REC_MAX 8192

struct assign_vec {
	struct riov_assign *a;
	unsigned v;
	uint32_t irte;
	int efd;
	struct event *ev;
	uint64_t raised;
};

struct riov_assign {
	struct riov_pci_addr addr;
	char pci[16];
	uint16_t sid;
	int group;
	struct riov_vtd *vtd;
	uint16_t did;
	bool domain_made, context_set;
	struct riov_assign_vfio_ops ops;
	bool have_ops;
	int container_fd, group_fd, device_fd;
	struct riov_vtd_vfio *mirror;
	struct event_base *base;
	struct assign_vec *vec;
	unsigned nvec;
	bool msix_on;
	uint64_t hw_faults, hw_unexplained;
};

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

/* The last component of the symlink dir/name into out ("" when there is no such link). */
static void link_base(const char *dir, const char *name, char *out, size_t len)
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

/* Write s to a sysfs file. Returns 0 or -errno. */
static int sys_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

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

static int sys_read_uint(const char *path, unsigned *out)
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

/* Bind the function (sysfs directory dev) to vfio-pci: driver_override, unbind from its driver,
 * drivers_probe. */
static int bind_vfio_pci(const char *pci, const char *dev, char *err, size_t errlen)
{
	char drv[64], path[PATH_MAX + 32];
	int rc;

	link_base(dev, "driver", drv, sizeof(drv));
	if (strcmp(drv, "vfio-pci") == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/driver_override", dev);
	if ((rc = sys_write(path, "vfio-pci")) != 0) {
		snprintf(err, errlen, "%s: cannot set driver_override: %s", pci, strerror(-rc));
		return -EIO;
	}
	if (drv[0] != '\0') {
		riov_log(RIOV_LOG_NOTICE, COMP, "%s: unbinding it from %s to give it to vfio-pci", pci, drv);
		snprintf(path, sizeof(path), "%s/driver/unbind", dev);
		if ((rc = sys_write(path, pci)) != 0) {
			snprintf(err, errlen, "%s: cannot unbind it from %s: %s", pci, drv, strerror(-rc));
			return -EIO;
		}
	}
	rc = sys_write("/sys/bus/pci/drivers_probe", pci);
	link_base(dev, "driver", drv, sizeof(drv));
	if (strcmp(drv, "vfio-pci") != 0) {
		snprintf(err, errlen, "%s: vfio-pci did not take it (now bound to %s%s%s); is the vfio-pci "
			 "module loaded?", pci, drv[0] ? drv : "no driver", rc ? ": " : "",
			 rc ? strerror(-rc) : "");
		return -EIO;
	}
	return 0;
}

/* The function's IOMMU group; -ENOENT without one, -EBUSY when other devices share it. */
static int iommu_group(const char *pci, const char *dev, int *group, char *err, size_t errlen)
{
	char g[32], path[PATH_MAX], *end;
	struct dirent *de;
	unsigned n = 0;

	link_base(dev, "iommu_group", g, sizeof(g));
	long v = strtol(g, &end, 10);
	if (g[0] == '\0' || *end != '\0' || v < 0 || v > INT_MAX) {
		snprintf(err, errlen, "%s has no IOMMU group: is the IOMMU on (intel_iommu=on)?", pci);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%ld/devices", v);
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

/* ------------------------------------------------------------------ VFIO files */

static int open_container(struct riov_assign *a, char *err, size_t errlen)
{
	int fd;

	if (a->have_ops) {
		fd = a->ops.container_open(a->ops.arg);
	} else {
		fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open a VFIO container (/dev/vfio/vfio): %s; is the vfio "
			 "module loaded?", a->pci, strerror(-fd));
		return fd;
	}
	a->container_fd = fd;
	if (ioctl(fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		snprintf(err, errlen, "%s: the kernel's VFIO has no type1v2 IOMMU (vfio_iommu_type1)", a->pci);
		return -ENOTSUP;
	}
	return 0;
}

static int open_group(struct riov_assign *a, char *err, size_t errlen)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int fd;

	if (a->have_ops) {
		fd = a->ops.group_open(a->ops.arg, a->container_fd, a->group);
	} else {
		snprintf(path, sizeof(path), "/dev/vfio/%d", a->group);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open its VFIO group /dev/vfio/%d: %s (open already: by "
			 "another assignment, another program, or a driver that probed it at start, e.g. "
			 "an EAL -a for it)", a->pci, a->group, strerror(-fd));
		return fd;
	}
	a->group_fd = fd;
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) < 0) {
		snprintf(err, errlen, "%s: VFIO_GROUP_GET_STATUS: %s", a->pci, strerror(errno));
		return -errno;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		snprintf(err, errlen, "%s: VFIO group %d is not viable (a device in it is bound to a host "
			 "driver)", a->pci, a->group);
		return -EBUSY;
	}
	if (st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET) {
		snprintf(err, errlen, "%s: VFIO group %d is attached to another container already", a->pci,
			 a->group);
		return -EBUSY;
	}
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &a->container_fd) < 0 ||
	    ioctl(a->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: attaching VFIO group %d to a type1v2 container: %s", a->pci,
			 a->group, strerror(e));
		return -e;
	}
	return 0;
}

static int open_device(struct riov_assign *a)
{
	if (a->device_fd >= 0)
		return 0;
	int fd = ioctl(a->group_fd, VFIO_GROUP_GET_DEVICE_FD, a->pci);
	if (fd < 0)
		return -errno;
	a->device_fd = fd;
	return 0;
}

/* ------------------------------------------------------------------ assignment */

int riov_assign_create(const struct riov_assign_params *p, struct riov_assign **out, char *err,
		       size_t errlen)
{
	char dev[PATH_MAX];
	struct riov_vtd_context_info ci;
	struct riov_assign *a;
	int rc;

	err[0] = '\0';
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->container_fd = a->group_fd = a->device_fd = -1;
	a->vtd = p->vtd;
	a->did = p->did;
	a->base = p->base;
	if (p->ops != NULL) {
		a->ops = *p->ops;
		a->have_ops = true;
	}
	if (riov_pci_parse(p->pci, &a->addr) != 0) {
		snprintf(err, errlen, "'%.40s' is not a PCI address (DDDD:BB:DD.F)", p->pci ? p->pci : "");
		rc = -EINVAL;
		goto fail;
	}
	riov_pci_format(&a->addr, a->pci, sizeof(a->pci));
	a->sid = riov_pci_sid(&a->addr);
	if (a->addr.domain != 0) {
		/* riov's unit models one PCI segment: a source-id has no segment number */
		snprintf(err, errlen, "%s: only PCI segment 0000 is supported (riov's VT-d unit covers one "
			 "segment)", a->pci);
		rc = -EINVAL;
		goto fail;
	}
	snprintf(dev, sizeof(dev), SYS_PCI "%s", a->pci);
	if (access(dev, F_OK) != 0) {
		snprintf(err, errlen, "there is no PCI function %s", a->pci);
		rc = -ENODEV;
		goto fail;
	}
	if (riov_vtd_context_get(a->vtd, a->sid, &ci) == 0 && ci.present) {
		snprintf(err, errlen, "%s: source-id 0x%04x already has a context entry (domain %u) in riov's "
			 "VT-d unit", a->pci, a->sid, ci.did);
		rc = -EBUSY;
		goto fail;
	}
	if ((rc = bind_vfio_pci(a->pci, dev, err, errlen)) != 0)
		goto fail;
	if ((rc = iommu_group(a->pci, dev, &a->group, err, errlen)) != 0)
		goto fail;
	if ((rc = open_container(a, err, errlen)) != 0)
		goto fail;
	if ((rc = open_group(a, err, errlen)) != 0)
		goto fail;
	if (p->open_device && (rc = open_device(a)) != 0) {
		snprintf(err, errlen, "%s: VFIO_GROUP_GET_DEVICE_FD: %s", a->pci, strerror(-rc));
		goto fail;
	}
	rc = riov_vtd_domain_create(a->vtd, a->did, 4);
	if (rc != 0) {
		snprintf(err, errlen, "%s: domain %u: %s", a->pci, a->did,
			 rc == -EEXIST ? "exists already" : strerror(-rc));
		rc = rc == -EEXIST ? -EBUSY : rc;
		goto fail;
	}
	a->domain_made = true;
	rc = riov_vtd_context_set(a->vtd, a->sid, a->did, RIOV_VTD_TT_MULTI_LEVEL, false);
	if (rc != 0) {
		snprintf(err, errlen, "%s: context entry for source-id 0x%04x: %s", a->pci, a->sid,
			 strerror(-rc));
		goto fail;
	}
	a->context_set = true;
	riov_vtd_inv_context_device(a->vtd, a->sid);
	a->mirror = riov_vtd_vfio_create(a->container_fd, NULL);
	if (a->mirror == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	riov_log(RIOV_LOG_NOTICE, COMP, "%s: assigned through VFIO (group %d) with riov domain %u, "
		 "source-id 0x%04x", a->pci, a->group, a->did, a->sid);
	*out = a;
	return 0;
fail:
	riov_assign_destroy(a);
	return rc;
}

int riov_assign_sync(struct riov_assign *a)
{
	int rc = riov_vtd_vfio_sync(a->mirror, a->vtd, a->did);
	if (rc != 0)
		riov_log(RIOV_LOG_ERR, COMP, "%s: pushing domain %u to its VFIO container failed: %s",
			 a->pci, a->did, strerror(-rc));
	return rc;
}

int riov_assign_map(struct riov_assign *a, uint64_t iova, uint64_t hva, uint64_t len, unsigned perm)
{
	int rc = riov_vtd_map(a->vtd, a->did, iova, hva, len, perm);
	if (rc != 0)
		return rc;
	/* a walk that found nothing may be cached (caching mode): drop it, as for any map */
	riov_vtd_inv_iotlb_domain(a->vtd, a->did);
	return riov_assign_sync(a);
}

int riov_assign_unmap(struct riov_assign *a, uint64_t iova, uint64_t len)
{
	int rc = riov_vtd_unmap(a->vtd, a->did, iova, len);
	riov_vtd_inv_iotlb_domain(a->vtd, a->did);
	if (rc != 0)
		return rc;
	return riov_assign_sync(a);
}

/* ---- MSI-X */

int riov_assign_msix_count(struct riov_assign *a)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	int rc = open_device(a);

	if (rc != 0)
		return rc;
	if (ioctl(a->device_fd, VFIO_DEVICE_GET_IRQ_INFO, &ii) < 0)
		return -errno;
	return ii.count > MSIX_MAX ? (int)MSIX_MAX : (int)ii.count;
}

static void on_vector(evutil_socket_t fd, short what, void *arg)
{
	struct assign_vec *v = arg;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
		v->raised += n;
}

static int msix_disable(struct riov_assign *a)
{
	struct vfio_irq_set s = {
		.argsz = sizeof(s),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_MSIX_IRQ_INDEX,
		.start = 0,
		.count = 0,
	};
	return ioctl(a->device_fd, VFIO_DEVICE_SET_IRQS, &s) < 0 ? -errno : 0;
}

static void vectors_free(struct riov_assign *a)
{
	for (unsigned i = 0; i < a->nvec; i++) {
		struct assign_vec *v = &a->vec[i];
		if (v->ev != NULL)
			event_free(v->ev);
		riov_vtd_irte_clear(a->vtd, v->irte);
		if (v->efd >= 0)
			close(v->efd);
	}
	free(a->vec);
	a->vec = NULL;
	a->nvec = 0;
}

int riov_assign_route_msix(struct riov_assign *a, const uint32_t *irte, unsigned n, char *err,
			   size_t errlen)
{
	uint32_t *idx = NULL;
	int rc;

	if (a->nvec != 0 || n == 0 || n > MSIX_MAX) {
		snprintf(err, errlen, "%s: %s", a->pci, a->nvec ? "MSI-X is routed already" : "no vectors");
		return -EINVAL;
	}
	if ((rc = open_device(a)) != 0) {
		snprintf(err, errlen, "%s: VFIO_GROUP_GET_DEVICE_FD: %s", a->pci, strerror(-rc));
		return rc;
	}
	a->vec = calloc(n, sizeof(*a->vec));
	idx = calloc(n, sizeof(*idx));
	if (a->vec == NULL || idx == NULL) {
		free(idx);
		free(a->vec);
		a->vec = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->nvec = n;
	for (unsigned i = 0; i < n; i++)
		a->vec[i] = (struct assign_vec){ .a = a, .v = i, .irte = irte[i], .efd = -1 };
	for (unsigned i = 0; i < n; i++) {
		struct assign_vec *v = &a->vec[i];
		v->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (v->efd < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: eventfd: %s", a->pci, strerror(-rc));
			goto fail;
		}
		struct riov_vtd_irte e = {
			.present = true,
			.vector = (uint8_t)(0x30 + i % 0xd0),
			.svt = 1,        /* requester id must be the function's */
			.sq = 0,
			.sid = a->sid,
			.eventfd = v->efd,
		};
		if ((rc = riov_vtd_irte_set(a->vtd, v->irte, &e)) != 0) {
			snprintf(err, errlen, "%s: interrupt-remapping entry %u: %s", a->pci, v->irte,
				 strerror(-rc));
			goto fail;
		}
		idx[i] = v->irte;
		if (a->base != NULL) {
			v->ev = event_new(a->base, v->efd, EV_READ | EV_PERSIST, on_vector, v);
			if (v->ev == NULL || event_add(v->ev, NULL) != 0) {
				rc = -ENOMEM;
				snprintf(err, errlen, "%s: cannot watch vector %u's eventfd", a->pci, i);
				goto fail;
			}
		}
	}
	rc = riov_vtd_vfio_set_msix(a->vtd, a->device_fd, NULL, idx, n);
	if (rc == -EINVAL) {
		/* MSI-X is on with fewer vectors (a driver enabled its own): VFIO cannot grow the
		 * vector block in place, so switch it off and on again with every vector routed */
		riov_log(RIOV_LOG_NOTICE, COMP, "%s: MSI-X was enabled by its driver; riov takes over "
			 "all %u vectors", a->pci, n);
		if (msix_disable(a) == 0)
			rc = riov_vtd_vfio_set_msix(a->vtd, a->device_fd, NULL, idx, n);
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: VFIO_DEVICE_SET_IRQS (MSI-X, %u vectors): %s", a->pci, n,
			 strerror(-rc));
		goto fail;
	}
	a->msix_on = true;
	free(idx);
	return 0;
fail:
	vectors_free(a);
	free(idx);
	return rc;
}

void riov_assign_destroy(struct riov_assign *a)
{
	if (a == NULL)
		return;
	if (a->msix_on)
		(void)msix_disable(a);
	vectors_free(a);
	if (a->device_fd >= 0)
		close(a->device_fd);
	/* the mirror unmaps what it mapped; a group a driver already closed left the container
	 * empty, and those unmaps fail harmlessly */
	riov_vtd_vfio_destroy(a->mirror);
	if (a->context_set) {
		riov_vtd_context_clear(a->vtd, a->sid);
		riov_vtd_inv_context_device(a->vtd, a->sid);
	}
	if (a->domain_made) {
		riov_vtd_inv_iotlb_domain(a->vtd, a->did);
		riov_vtd_domain_destroy(a->vtd, a->did);
	}
	if (a->group_fd >= 0) {
		if (a->have_ops) {
			a->ops.group_close(a->ops.arg, a->container_fd, a->group, a->group_fd);
		} else {
			(void)ioctl(a->group_fd, VFIO_GROUP_UNSET_CONTAINER);
			close(a->group_fd);
		}
	}
	if (a->container_fd >= 0) {
		if (a->have_ops)
			a->ops.container_close(a->ops.arg, a->container_fd);
		else
			close(a->container_fd);
	}
	if (a->domain_made)
		riov_log(RIOV_LOG_NOTICE, COMP, "%s: released (domain %u removed; the function stays on "
			 "vfio-pci)", a->pci, a->did);
	free(a);
}

void riov_assign_get_info(const struct riov_assign *a, struct riov_assign_info *out)
{
	struct riov_vtd_vfio_stats st = { 0 };

	memset(out, 0, sizeof(*out));
	snprintf(out->pci, sizeof(out->pci), "%s", a->pci);
	out->sid = a->sid;
	out->group = a->group;
	out->did = a->did;
	if (a->mirror != NULL) {
		riov_vtd_vfio_stats(a->mirror, &st);
		riov_vtd_vfio_ranges(a->mirror, &out->ranges);
	}
	out->mapped_bytes = st.mapped_bytes;
	out->nvec = a->nvec;
	out->hw_faults = a->hw_faults;
	out->hw_faults_unexplained = a->hw_unexplained;
	out->device_open = a->device_fd >= 0;
}

int riov_assign_vector(const struct riov_assign *a, unsigned v, uint32_t *irte, uint64_t *raised)
{
	if (v >= a->nvec)
		return -ERANGE;
	*irte = a->vec[v].irte;
	*raised = a->vec[v].raised;
	return 0;
}

/* ------------------------------------------------------------------ DMAR faults */

/* Skip the literal lit at *p. */
static bool take(const char **p, const char *lit)
{
	size_t n = strlen(lit);
	if (strncmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

/* A hex number at *p, with or without "0x", at most maxdigits digits and max. */
static bool take_hex(const char **p, unsigned maxdigits, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	unsigned n = 0;

	take(p, "0x");
	while (isxdigit((unsigned char)**p)) {
		if (++n > maxdigits)
			return false;
		char c = (char)tolower((unsigned char)**p);
		v = v * 16 + (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
		(*p)++;
	}
	if (n == 0 || v > max)
		return false;
	*out = v;
	return true;
}

int riov_dmar_parse(const char *rec, size_t len, struct riov_dmar_fault *out)
{
	char text[512];
	const char *semi, *p;
	uint64_t prio = 0, bus, dev, fn, addr, reason;
	size_t n;

	if (rec == NULL || len == 0)
		return -EINVAL;
	/* header "prio,seq,usec,flags[,...];" then the message up to the first newline */
	n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
	memcpy(text, rec, n);
	text[n] = '\0';
	if (strlen(text) != n)
		return -EINVAL; /* NUL inside the record */
	semi = strchr(text, ';');
	if (semi == NULL)
		return -EINVAL;
	p = text;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p) && prio < 1024)
		prio = prio * 10 + (uint64_t)(*p++ - '0');
	if (*p != ',' || (prio >> 3) != 0)
		return -EINVAL; /* not the kernel facility (user records have facility >= 1) */
	p = semi + 1;
	char *nl = strchr(p, '\n');
	if (nl != NULL)
		*nl = '\0';
	p = strstr(p, "DMAR: [");
	if (p == NULL)
		return -EINVAL;
	p += strlen("DMAR: [");
	memset(out, 0, sizeof(*out));
	if (take(&p, "INTR-REMAP"))
		out->is_ir = true;
	else if (take(&p, "DMA Read"))
		out->is_write = false;
	else if (take(&p, "DMA Write"))
		out->is_write = true;
	else
		return -EINVAL;
	/* "NO_PASID]", "PASID 0x5]" or "]" */
	p = strstr(p, "] Request device [");
	if (p == NULL)
		return -EINVAL;
	p += strlen("] Request device [");
	if (!take_hex(&p, 2, 0xff, &bus) || !take(&p, ":") || !take_hex(&p, 2, 0x1f, &dev) ||
	    !take(&p, ".") || !take_hex(&p, 1, 7, &fn) || !take(&p, "]"))
		return -EINVAL;
	if (take(&p, " PASID ")) { /* older kernels: "... [bb:dd.f] PASID x fault addr ..." */
		uint64_t pasid;
		if (!take_hex(&p, 5, 0xfffff, &pasid))
			return -EINVAL;
	}
	if (!take(&p, out->is_ir ? " fault index " : " fault addr ") ||
	    !take_hex(&p, 16, UINT64_MAX, &addr) || !take(&p, " [fault reason ") ||
	    !take_hex(&p, 2, 0xff, &reason) || !take(&p, "]"))
		return -EINVAL;
	out->sid = (uint16_t)(bus << 8 | dev << 3 | fn);
	out->addr = addr;
	out->reason = (uint8_t)reason;
	return 0;
}

int riov_assign_fault(struct riov_assign *a, const struct riov_dmar_fault *f)
{
	struct riov_vtd_cursor c;
	void *hva;
	uint64_t mapped;
	int rc;

	if (f->sid != a->sid)
		return -EINVAL;
	a->hw_faults++;
	if (f->is_ir) {
		RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: the IOMMU blocked an interrupt (index 0x%" PRIx64
			    ", reason 0x%02x)", a->pci, f->addr, f->reason);
		return f->reason ? f->reason : RIOV_VTD_FR_IR_NOT_PRESENT;
	}
	/* The same access through riov's model: it walks domain a->did and, where the domain maps
	 * nothing, writes the fault record (FPD, collapsing and overflow as for riov's own DMA). */
	riov_vtd_cursor_init(&c, a->vtd, a->sid);
	rc = riov_vtd_translate(&c, f->addr & ~0xfffull, 1, f->is_write ? RIOV_VTD_WRITE : RIOV_VTD_READ,
				&hva, &mapped);
	if (rc < 0)
		return -rc;
	/* riov's domain maps it but the IOMMU did not: the container is behind the domain */
	a->hw_unexplained++;
	RIOV_LOG_RL(RIOV_LOG_ERR, COMP, "%s: DMAR fault at 0x%" PRIx64 " (reason 0x%02x) which domain %u "
		    "maps: its VFIO container is out of sync; pushing the domain again", a->pci, f->addr,
		    f->reason, a->did);
	(void)riov_assign_sync(a);
	return 0;
}

/* ---- /dev/kmsg */

struct riov_kmsg {
	int fd;
	struct event *ev;
	void (*cb)(void *arg, const struct riov_dmar_fault *f);
	void *arg;
	char *buf;
};

unsigned riov_kmsg_poll(struct riov_kmsg *k)
{
	unsigned found = 0;

	/* one read(2) returns one record; bounded so a log storm cannot hold the control thread */
	for (unsigned i = 0; i < 4096; i++) {
		ssize_t n = read(k->fd, k->buf, KMSG_REC_MAX);
		if (n < 0) {
			if (errno == EINTR || errno == EPIPE) /* EPIPE: records were overwritten */
				continue;
			break;
		}
		if (n == 0)
			break;
		struct riov_dmar_fault f;
		if (riov_dmar_parse(k->buf, (size_t)n, &f) == 0) {
			found++;
			k->cb(k->arg, &f);
		}
	}
	return found;
}

static void on_kmsg(evutil_socket_t fd, short what, void *arg)
{
	riov_kmsg_poll(arg);
}

int riov_kmsg_open(struct event_base *base, void (*cb)(void *arg, const struct riov_dmar_fault *f),
		   void *arg, struct riov_kmsg **out)
{
	struct riov_kmsg *k = calloc(1, sizeof(*k));
	int rc;

	if (k == NULL)
		return -ENOMEM;
	k->cb = cb;
	k->arg = arg;
	k->buf = malloc(KMSG_REC_MAX);
	k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->buf == NULL || k->fd < 0) {
		rc = k->buf == NULL ? -ENOMEM : -errno;
		goto fail;
	}
	/* only what happens from now on: older faults are not ours to attribute */
	if (lseek(k->fd, 0, SEEK_END) < 0) {
		rc = -errno;
		goto fail;
	}
	k->ev = event_new(base, k->fd, EV_READ | EV_PERSIST, on_kmsg, k);
	if (k->ev == NULL || event_add(k->ev, NULL) != 0) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = k;
	return 0;
fail:
	riov_kmsg_close(k);
	return rc;
}

void riov_kmsg_close(struct riov_kmsg *k)
{
	if (k == NULL)
		return;
	if (k->ev != NULL)
		event_free(k->ev);
	if (k->fd >= 0)
		close(k->fd);
	free(k->buf);
	free(k);
}

/* ------------------------------------------------------------------ SR-IOV */

static int pf_dir(const char *pf, char *dir, size_t len, char *canon, size_t clen, char *err,
		  size_t errlen)
{
	struct riov_pci_addr a;

	if (riov_pci_parse(pf, &a) != 0) {
		snprintf(err, errlen, "'%.40s' is not a PCI address (DDDD:BB:DD.F)", pf ? pf : "");
		return -EINVAL;
	}
	riov_pci_format(&a, canon, clen);
	snprintf(dir, len, SYS_PCI "%s", canon);
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
	if (sys_read_uint(path, &out->total_vfs) != 0) {
		snprintf(err, errlen, "%s is not an SR-IOV physical function (no sriov_totalvfs)", canon);
		return -ENOTSUP;
	}
	snprintf(path, sizeof(path), "%s/sriov_numvfs", dir);
	if ((rc = sys_read_uint(path, &out->num_vfs)) != 0) {
		snprintf(err, errlen, "%s: cannot read sriov_numvfs: %s", canon, strerror(-rc));
		return rc;
	}
	link_base(dir, "driver", out->driver, sizeof(out->driver));
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
	if ((rc = sys_write(path, "0")) != 0) {
		snprintf(err, errlen, "%s: cannot turn VF autoprobe off: %s", canon, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/sriov_numvfs", dir);
	if (si.num_vfs != 0 && num_vfs != 0 && (rc = sys_write(path, "0")) != 0) {
		snprintf(err, errlen, "%s: cannot remove its %u VFs before creating %u: %s", canon,
			 si.num_vfs, num_vfs, strerror(-rc));
		return rc;
	}
	snprintf(num, sizeof(num), "%u", num_vfs);
	if ((rc = sys_write(path, num)) != 0) {
		snprintf(err, errlen, "%s: writing sriov_numvfs=%u failed: %s%s", canon, num_vfs,
			 strerror(-rc), rc == -EBUSY ? " (a VF is in use)" : "");
		return rc;
	}
	riov_log(RIOV_LOG_NOTICE, COMP, "%s: %u VF(s) (sriov_numvfs, driver %s)", canon, num_vfs,
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
	link_base(dir, name, base, sizeof(base));
	if (base[0] == '\0' || riov_pci_parse(base, &a) != 0)
		return -ENOENT;
	riov_pci_format(&a, out, len);
	return 0;
}
