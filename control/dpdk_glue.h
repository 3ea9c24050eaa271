/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What riovd's service library needs of DPDK (control/dpdk_glue.c, the only file of the library
 * that includes DPDK headers; tests/unit/control/dpdk_glue_double.c replaces it in unit tests).
 * Internal to control/; to move to dataplane/, which owns DPDK.
 *
 * Thread rules: control thread only.
 */
#ifndef RIOV_CONTROL_DPDK_GLUE_H
#define RIOV_CONTROL_DPDK_GLUE_H

#include <stddef.h>

#include "iommu/vtd_vfio.h"
#include "vmm/assign.h"

/* VFIO container and group calls through DPDK's container API, for a function DPDK's PMD will
 * drive (the PMD finds the group open, in a container riov set up). */
extern const struct riov_assign_vfio_ops svc_dpdk_vfio_ops;

/**
 * riovd's packet memory (DPDK's memory segments with an IOVA) as read/write ranges: iova as DPDK
 * gives it, hva = riovd's virtual address.
 * @return 0 with *out (malloc'd, free()) and *n >= 1, or -ENOMEM (none, or out of memory).
 */
int svc_dpdk_memory(struct riov_vtd_range **out, size_t *n);

#endif
