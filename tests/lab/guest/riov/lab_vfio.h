/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by the lab's riov programs (run inside the lab VM): failure reporting and opening a
 * VFIO device through a type1v2 container. */
#ifndef RIOV_LAB_VFIO_H
#define RIOV_LAB_VFIO_H

#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define FAIL(...) do { printf("FAIL " __VA_ARGS__); printf("\n"); exit(1); } while (0)

/* Open group `group` (its number, as in /dev/vfio/<group>), attach it to a new type1v2
 * container and return the fd of device `bdf`; the container's and the group's fds are returned
 * in *container and *grp. Exits through FAIL. */
static inline int lab_vfio_open(const char *group, const char *bdf, int *container, int *grp_out)
{
	char path[64];
	*container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	snprintf(path, sizeof(path), "/dev/vfio/%s", group);
	int grp = open(path, O_RDWR | O_CLOEXEC);
	*grp_out = grp;
	if (*container < 0 || grp < 0)
		FAIL("open /dev/vfio: %s", strerror(errno));
	if (ioctl(grp, VFIO_GROUP_SET_CONTAINER, container) < 0 ||
	    ioctl(*container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
		FAIL("attach group %s to a type1v2 container: %s", group, strerror(errno));
	int dev = ioctl(grp, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev < 0)
		FAIL("GROUP_GET_DEVICE_FD %s: %s", bdf, strerror(errno));
	return dev;
}

#endif
