/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VT-d model's hardware backend: push a domain's mappings and the interrupt routes of its
 * IRTEs to a real IOMMU through a VFIO type1 container and a VFIO device (assigned devices).
 *
 * The model stays the source of truth: riov_vtd_vfio_sync() walks the domain, coalesces it into
 * ranges (adjacent pages with contiguous host addresses and equal permissions) and brings the
 * container in line with VFIO_IOMMU_UNMAP_DMA / VFIO_IOMMU_MAP_DMA, touching only ranges that
 * changed. Type1 cannot split a mapping, so a range that changed is unmapped whole and its
 * remaining parts mapped again (the device may see a short fault window on those pages; the
 * model's own tables never do).
 *
 * Thread rules: control thread only. All ioctls go through ops->ioctl so the logic is testable
 * without /dev/vfio (NULL ops: the real ioctl(2)).
 */
#ifndef RIOV_IOMMU_VTD_VFIO_H
#define RIOV_IOMMU_VTD_VFIO_H

#include <stddef.h>
#include <stdint.h>

#include "iommu/vtd.h"

struct riov_vtd_vfio_ops {
	/* issue one ioctl; return 0 or -errno */
	int (*ioctl)(void *arg, int fd, unsigned long request, void *data);
	void *arg;
};

/** One coalesced mapping as pushed to the container. */
struct riov_vtd_range {
	uint64_t iova, hva, len;
	unsigned perm;
};

struct riov_vtd_vfio;

/** Mirror of one domain in one VFIO container (container_fd: a type1 container with the
 *  device's group attached and VFIO_SET_IOMMU done). ops may be NULL. Returns NULL (ENOMEM). */
struct riov_vtd_vfio *riov_vtd_vfio_create(int container_fd, const struct riov_vtd_vfio_ops *ops);
/** Unmap everything this mirror mapped, then free it. NULL is allowed. */
void riov_vtd_vfio_destroy(struct riov_vtd_vfio *m);

/** Bring the container in line with domain did. Returns 0, -ENOENT (no domain), -ENOMEM, or the
 *  first failing ioctl's -errno (the mirror then reflects what the container holds). */
int riov_vtd_vfio_sync(struct riov_vtd_vfio *m, struct riov_vtd *vtd, uint16_t did);

/** What the container holds according to the mirror (sorted by iova); valid until the next call. */
const struct riov_vtd_range *riov_vtd_vfio_ranges(const struct riov_vtd_vfio *m, size_t *n);

struct riov_vtd_vfio_stats {
	uint64_t map_calls, unmap_calls, mapped_bytes;
};
void riov_vtd_vfio_stats(const struct riov_vtd_vfio *m, struct riov_vtd_vfio_stats *st);

/** Coalesce domain did into ranges (what sync pushes). *out is malloc'd (free it). Returns 0,
 *  -ENOENT or -ENOMEM. */
int riov_vtd_domain_ranges(const struct riov_vtd *vtd, uint16_t did, struct riov_vtd_range **out,
			   size_t *n);

/** Route MSI-X vectors [0, nvec) of a VFIO device to the eventfds of IRTEs irte_index[i]
 *  (VFIO_DEVICE_SET_IRQS, DATA_EVENTFD | ACTION_TRIGGER). A vector whose IRTE is not present or
 *  is in posted format (delivered through the descriptor, not an eventfd) gets -1 (disabled).
 *  Returns 0, -EINVAL or the ioctl's -errno. */
int riov_vtd_vfio_set_msix(struct riov_vtd *vtd, int device_fd, const struct riov_vtd_vfio_ops *ops,
			   const uint32_t *irte_index, unsigned nvec);

#endif
