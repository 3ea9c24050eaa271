/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VFIO files of an assigned function (see assign.h, assign_internal.h): a type1v2 container,
 * the function's IOMMU group attached to it, the device file, and switching the device's MSI-X
 * off. Either riov opens /dev/vfio/vfio and /dev/vfio/<group> itself, or the caller's ops do, when
 * a poll-mode driver (DPDK) shares the files: a group can be opened only once.
 *
 * Security model: the group number comes from sysfs (asg_iommu_group), the device name is the
 * canonical PCI address; a group that is not viable or attached to another container is refused.
 * What the container maps is pushed by iommu/vtd_vfio.c from riov's VT-d domain, not here.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "vmm/assign.h"
#include "vmm/assign_internal.h"

void asg_vfio_init(struct asg_vfio *v, const struct riov_assign_vfio_ops *ops)
{
	memset(v, 0, sizeof(*v));
	v->container_fd = v->group_fd = v->device_fd = -1;
	if (ops != NULL) {
		v->ops = *ops;
		v->have_ops = true;
	}
}

static int open_container(struct asg_vfio *v, const char *pci, char *err, size_t errlen)
{
	int fd;

	if (v->have_ops) {
		fd = v->ops.container_open(v->ops.arg);
	} else {
		fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open a VFIO container (/dev/vfio/vfio): %s; is the vfio "
			 "module loaded?", pci, strerror(-fd));
		return fd;
	}
	v->container_fd = fd;
	if (ioctl(fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		snprintf(err, errlen, "%s: the kernel's VFIO has no type1v2 IOMMU (vfio_iommu_type1)", pci);
		return -ENOTSUP;
	}
	return 0;
}

static int open_group(struct asg_vfio *v, const char *pci, int group, char *err, size_t errlen)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int fd;

	if (v->have_ops) {
		fd = v->ops.group_open(v->ops.arg, v->container_fd, group);
	} else {
		snprintf(path, sizeof(path), "/dev/vfio/%d", group);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open its VFIO group /dev/vfio/%d: %s (open already: by "
			 "another assignment, another program, or a driver that probed it at start, e.g. "
			 "an EAL -a for it)", pci, group, strerror(-fd));
		return fd;
	}
	v->group_fd = fd;
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) < 0) {
		snprintf(err, errlen, "%s: VFIO_GROUP_GET_STATUS: %s", pci, strerror(errno));
		return -errno;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		snprintf(err, errlen, "%s: VFIO group %d is not viable (a device in it is bound to a host "
			 "driver)", pci, group);
		return -EBUSY;
	}
	if (st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET) {
		snprintf(err, errlen, "%s: VFIO group %d is attached to another container already", pci,
			 group);
		return -EBUSY;
	}
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &v->container_fd) < 0 ||
	    ioctl(v->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: attaching VFIO group %d to a type1v2 container: %s", pci,
			 group, strerror(e));
		return -e;
	}
	return 0;
}

int asg_vfio_open(struct asg_vfio *v, const char *pci, int group, char *err, size_t errlen)
{
	int rc = open_container(v, pci, err, errlen);

	if (rc != 0)
		return rc;
	return open_group(v, pci, group, err, errlen);
}

int asg_vfio_device_open(struct asg_vfio *v, const char *pci)
{
	if (v->device_fd >= 0)
		return 0;
	int fd = ioctl(v->group_fd, VFIO_GROUP_GET_DEVICE_FD, pci);
	if (fd < 0)
		return -errno;
	v->device_fd = fd;
	return 0;
}

int asg_vfio_msix_count(struct asg_vfio *v, const char *pci, uint32_t *count)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	int rc = asg_vfio_device_open(v, pci);

	if (rc != 0)
		return rc;
	if (ioctl(v->device_fd, VFIO_DEVICE_GET_IRQ_INFO, &ii) < 0)
		return -errno;
	*count = ii.count;
	return 0;
}

int asg_vfio_msix_disable(struct asg_vfio *v)
{
	struct vfio_irq_set s = {
		.argsz = sizeof(s),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_MSIX_IRQ_INDEX,
		.start = 0,
		.count = 0,
	};
	return ioctl(v->device_fd, VFIO_DEVICE_SET_IRQS, &s) < 0 ? -errno : 0;
}

void asg_vfio_device_close(struct asg_vfio *v)
{
	if (v->device_fd >= 0)
		close(v->device_fd);
	v->device_fd = -1;
}

void asg_vfio_close(struct asg_vfio *v, int group)
{
	if (v->group_fd >= 0) {
		if (v->have_ops) {
			v->ops.group_close(v->ops.arg, v->container_fd, group, v->group_fd);
		} else {
			(void)ioctl(v->group_fd, VFIO_GROUP_UNSET_CONTAINER);
			close(v->group_fd);
		}
	}
	if (v->container_fd >= 0) {
		if (v->have_ops)
			v->ops.container_close(v->ops.arg, v->container_fd);
		else
			close(v->container_fd);
	}
	v->group_fd = v->container_fd = -1;
}
