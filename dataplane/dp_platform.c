/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the control plane needs of DPDK's memory and VFIO (see dp.h), so that control/ calls no
 * rte_* function: DPDK's VFIO container API, for PCI functions of eth ports with `assign` that
 * DPDK's PMD drives (riov sets the container up, the PMD finds the group open in it), and the
 * packet memory, DPDK's memory segments, that riovd maps into such a function's domain.
 * tests/unit/control/dp_platform_double.c stands in for this file in the control unit tests.
 *
 * Thread rules: control thread only, after rte_eal_init().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <rte_memory.h>
#include <rte_vfio.h>

#include "dataplane/dp.h"
#include "iommu/vtd_vfio.h"
#include "vmm/assign.h"

/* ---- VFIO container and group through DPDK: a group can be opened only once, so the PMD must
 * find it open, in a container riov set up */

static int dpdk_container_open(void *arg)
{
	int fd = rte_vfio_container_create();
	return fd < 0 ? -EIO : fd;
}

static int dpdk_group_open(void *arg, int container_fd, int group)
{
	int fd = rte_vfio_container_group_bind(container_fd, group);
	return fd < 0 ? -EBUSY : fd;
}

static void dpdk_group_close(void *arg, int container_fd, int group, int group_fd)
{
	/* nothing: DPDK closes the group when the PMD releases the device, and
	 * rte_vfio_container_destroy() unbinds whatever is left */
}

static void dpdk_container_close(void *arg, int container_fd)
{
	rte_vfio_container_destroy(container_fd);
}

static const struct riov_assign_vfio_ops dpdk_vfio_ops = {
	.container_open = dpdk_container_open,
	.group_open = dpdk_group_open,
	.group_close = dpdk_group_close,
	.container_close = dpdk_container_close,
};

const struct riov_assign_vfio_ops *riov_dp_vfio_ops(void)
{
	return &dpdk_vfio_ops;
}

/* ---- packet memory */

struct memseg_acc {
	struct riov_vtd_range *r;
	size_t n, cap;
	bool nomem;
};

static int memseg_one(const struct rte_memseg_list *msl, const struct rte_memseg *ms, size_t len,
		      void *arg)
{
	struct memseg_acc *m = arg;

	if (msl->external || ms->iova == RTE_BAD_IOVA || len == 0)
		return 0;
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 8;
		struct riov_vtd_range *nr = realloc(m->r, nc * sizeof(*nr));
		if (nr == NULL) {
			m->nomem = true;
			return 1;
		}
		m->r = nr;
		m->cap = nc;
	}
	m->r[m->n++] = (struct riov_vtd_range){ .iova = ms->iova, .hva = (uint64_t)(uintptr_t)ms->addr,
						.len = len, .perm = RIOV_VTD_READ | RIOV_VTD_WRITE };
	return 0;
}

int riov_dp_memory_ranges(struct riov_vtd_range **out, size_t *n)
{
	struct memseg_acc m = { 0 };
	int rc = rte_memseg_contig_walk(memseg_one, &m);

	if (rc < 0 || m.nomem || m.n == 0) {
		free(m.r);
		*out = NULL;
		*n = 0;
		return -ENOMEM;
	}
	*out = m.r;
	*n = m.n;
	return 0;
}
