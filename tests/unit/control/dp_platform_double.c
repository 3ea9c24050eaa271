/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test double of dataplane/dp_platform.c (see dp_double.h): no DPDK. The VFIO container calls fail
 * (no device is ever assigned in unit tests), and "riovd's packet memory" is one made-up 2 MiB
 * range unless dp_double.memory_fails says there is none.
 */
#include <errno.h>
#include <stdlib.h>

#include "dp_double.h"
#include "iommu/vtd_vfio.h"
#include "vmm/assign.h"

DEFINE_STUB(double_container_open, static int, (void *arg), -ENODEV)
DEFINE_STUB(double_group_open, static int, (void *arg, int container_fd, int group), -ENODEV)
DEFINE_STUB_V(double_group_close, static void, (void *arg, int container_fd, int group, int group_fd))
DEFINE_STUB_V(double_container_close, static void, (void *arg, int container_fd))

static const struct riov_assign_vfio_ops double_vfio_ops = {
	.container_open = double_container_open,
	.group_open = double_group_open,
	.group_close = double_group_close,
	.container_close = double_container_close,
};

const struct riov_assign_vfio_ops *riov_dp_vfio_ops(void)
{
	return &double_vfio_ops;
}

int riov_dp_memory_ranges(struct riov_vtd_range **out, size_t *n)
{
	static char mem[2u << 20];

	*out = NULL;
	*n = 0;
	if (dp_double.memory_fails)
		return -ENOMEM;
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return -ENOMEM;
	**out = (struct riov_vtd_range){ .iova = 1u << 30, .hva = (uint64_t)(uintptr_t)mem,
					 .len = sizeof(mem), .perm = RIOV_VTD_READ | RIOV_VTD_WRITE };
	*n = 1;
	return 0;
}
