/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals of the host platform side of vmm/ (see assign.h), shared by its files and not for
 * other folders:
 *
 *   assign.c    the assignment: DMA domain, MSI-X routes, faults of an assigned function
 *   pci.c       PCI addresses and sysfs: parsing, binding to vfio-pci, the IOMMU group
 *   vfio.c      the VFIO container, group and device files of an assigned function
 *   sriov.c     SR-IOV VFs through sysfs
 *   dmar_log.c  DMAR fault lines of the kernel log (/dev/kmsg)
 *
 * Security model: see assign.h. Every sysfs path built here comes from a canonical, parsed PCI
 * address (riov_pci_parse, riov_pci_format) and fixed names.
 *
 * Thread rules: control thread only.
 */
#ifndef RIOV_VMM_ASSIGN_INTERNAL_H
#define RIOV_VMM_ASSIGN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/assign.h"

/* ---- sysfs (pci.c) ---- */

/** Point pci.c, assign.c and sriov.c at another sysfs root (NULL: "/sys"). For unit tests only, which
 *  build a test double of sysfs (plain files and links) in a temporary directory. */
void asg_sysfs_root_set(const char *root);
/** rel ("bus/pci/devices/...") under the sysfs root into out. */
void asg_sys_path(char *out, size_t len, const char *rel);

/* What riov changed of a function's driver binding, so that it can be undone. */
struct asg_binding {
	char prev_driver[64]; /* the host driver bound before ("" none) */
	bool changed;         /* driver_override set (and maybe unbound): restore on failure/release */
};

/** The last component of the symlink dir/name into out ("" when there is no such link or its
 *  name does not fit in len). */
void asg_link_base(const char *dir, const char *name, char *out, size_t len);
/** Write s to a sysfs file. Returns 0 or -errno. */
int asg_sys_write(const char *path, const char *s);
/** Read a sysfs file holding one unsigned number. Returns 0, -errno, or -EIO (not a number). */
int asg_sys_read_uint(const char *path, unsigned *out);
/** Bind function pci (canonical form; sysfs directory dev) to vfio-pci unless it is: set
 *  driver_override, unbind it from its driver, drivers_probe; *b records what to undo. Call it
 *  only once every check of the request passed. Returns 0, or -EIO with err and the host's
 *  binding restored (asg_bind_restore). */
int asg_bind_vfio_pci(const char *pci, const char *dev, struct asg_binding *b, char *err,
		      size_t errlen);
/** Undo asg_bind_vfio_pci (nothing if it changed nothing): clear driver_override, unbind from
 *  vfio-pci, bind the previous driver again. Failures are logged. Call it with no VFIO file of
 *  the function open (the kernel waits for them before vfio-pci lets the function go). */
void asg_bind_restore(const char *pci, const char *dev, struct asg_binding *b);
/** The function's IOMMU group into *group. Returns 0, -ENOENT (no group: IOMMU off) or -EBUSY
 *  (other devices share the group), with err. */
int asg_iommu_group(const char *pci, const char *dev, int *group, char *err, size_t errlen);

/* ---- VFIO files (vfio.c) ---- */

/* The VFIO files of one assigned function; -1: not open. */
struct asg_vfio {
	struct riov_assign_vfio_ops ops; /* valid when have_ops */
	bool have_ops;                   /* a driver shares the container and group (ops) */
	int container_fd, group_fd, device_fd;
};

/** Nothing open; ops NULL: riov opens /dev/vfio itself. */
void asg_vfio_init(struct asg_vfio *v, const struct riov_assign_vfio_ops *ops);
/**
 * Open a type1v2 container and IOMMU group `group` of function pci, check the group is viable
 * and in no container, attach it and set the IOMMU type.
 * @return 0, or -errno with err (-ENOTSUP: no type1v2; -EBUSY: group not viable or attached).
 *         What was opened stays in v for asg_vfio_close().
 */
int asg_vfio_open(struct asg_vfio *v, const char *pci, int group, char *err, size_t errlen);
/** Open the function's device file unless it is open. Returns 0 or -errno. */
int asg_vfio_device_open(struct asg_vfio *v, const char *pci);
/** MSI-X vectors of the device (VFIO_DEVICE_GET_IRQ_INFO; opens the device file). Returns 0 with
 *  *count, or -errno. */
int asg_vfio_msix_count(struct asg_vfio *v, const char *pci, uint32_t *count);
/** Switch the device's MSI-X off (every vector's trigger removed). Returns 0 or -errno. */
int asg_vfio_msix_disable(struct asg_vfio *v);
/** Close the device file if open. */
void asg_vfio_device_close(struct asg_vfio *v);
/** Detach and close the group, close the container (through ops when given). */
void asg_vfio_close(struct asg_vfio *v, int group);

#endif
