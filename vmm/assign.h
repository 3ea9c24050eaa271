/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Assigned PCI functions (DESIGN.md "direct assignment" and "device sharing"): riovd takes a PCI
 * function through VFIO type1 and makes riov's VT-d model its IOMMU.
 *
 *  - DMA: the function gets a DMA-remapping domain in riov's VT-d unit, with a context entry for
 *    its requester id (source-id = the function's bus/device/function). The domain is the source
 *    of truth; every change is pushed to the function's VFIO container (riov_vtd_vfio_sync), so
 *    the real IOMMU maps exactly what the domain maps and faults everywhere else.
 *  - Interrupts: every MSI-X vector of the function is routed through an interrupt-remapping
 *    entry of riov's unit to an eventfd (riov_vtd_vfio_set_msix); riov reads the eventfds and
 *    counts what arrives per vector.
 *  - Faults: the kernel reports DMAR faults of the real IOMMU in its log (Linux 6.1 has no
 *    iommufd fault queue); riov_kmsg reads them from /dev/kmsg and riov_assign_fault() records
 *    those of an assigned function in the VT-d model's fault log, where Faults.Read finds them.
 *  - SR-IOV: VFs of a PF are created through sysfs (sriov_numvfs, with the PF driver's VF
 *    autoprobe off) and each VF is assigned like any function.
 *
 * Files: assign.c (the assignment, MSI-X routes, faults of an assigned function), pci.c (PCI
 * addresses, sysfs, binding to vfio-pci, IOMMU groups), vfio.c (the VFIO files), sriov.c (SR-IOV),
 * dmar_log.c (the kernel log's DMAR lines); what they share is in assign_internal.h.
 *
 * Who opens the VFIO container and group: riov itself (ops NULL: /dev/vfio/vfio and
 * /dev/vfio/<group>), or the caller through riov_assign_vfio_ops when a poll-mode driver that
 * manages its own VFIO files (DPDK) will drive the function: a group can be opened only once, so
 * riov and the driver must share the open file. riov then attaches the group to the container
 * and sets the IOMMU type itself, before the driver probes, so the driver finds the container
 * ready and never maps anything into it.
 *
 * Security model: PCI addresses come from RPC clients and the configuration file: they are parsed
 * strictly (riov_pci_parse) and only the canonical form is ever put into a sysfs path; writing
 * sysfs (driver_override, unbind, sriov_numvfs) needs root and is what the operator asked for;
 * a request is checked completely before the host's driver is unbound, and the driver riov
 * unbound is bound again when the assignment fails or is released.
 * The domain's host addresses are riovd's own memory chosen by the caller (the packet memory of
 * riovd's own eth port; for guests, their memory once vmm maps it): nothing a client sends is
 * handed to VFIO_IOMMU_MAP_DMA as a host address. /dev/kmsg records are untrusted text: only
 * records of the kernel facility are parsed (a user process can write /dev/kmsg, but its records
 * carry the user facility), every field is bounded, and a fault is recorded only for a source-id
 * riovd assigned.
 *
 * Thread rules: control thread only (the thread running the event_base given at creation).
 */
#ifndef RIOV_VMM_ASSIGN_H
#define RIOV_VMM_ASSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct riov_vtd;
struct riov_assign;

/* ---- PCI addresses ---- */

struct riov_pci_addr {
	uint16_t domain;  /* PCI segment */
	uint8_t bus;
	uint8_t dev;      /* 0..31 */
	uint8_t fn;       /* 0..7 */
};

/** Parse "DDDD:BB:DD.F" or "BB:DD.F" (hex; nothing before or after). Returns 0 or -EINVAL. */
int riov_pci_parse(const char *s, struct riov_pci_addr *out);
/** Canonical form "dddd:bb:dd.f" (12 characters and the NUL). */
void riov_pci_format(const struct riov_pci_addr *a, char *buf, size_t len);
/** The requester id (source-id) of a function: bus << 8 | device << 3 | function. */
static inline uint16_t riov_pci_sid(const struct riov_pci_addr *a)
{
	return (uint16_t)(a->bus << 8 | a->dev << 3 | a->fn);
}

/* ---- assignment ---- */

/** How the VFIO container and group files are opened and closed when a driver shares them. */
struct riov_assign_vfio_ops {
	int (*container_open)(void *arg);                            /* fd or -errno */
	int (*group_open)(void *arg, int container_fd, int group);   /* fd or -errno */
	void (*group_close)(void *arg, int container_fd, int group, int group_fd);
	void (*container_close)(void *arg, int container_fd);
	void *arg;
};

struct riov_assign_params {
	const char *pci;                        /* the function, e.g. "0000:00:01.0" */
	struct riov_vtd *vtd;                   /* the node's VT-d unit */
	uint16_t did;                           /* domain to create for it (must not exist) */
	const struct riov_assign_vfio_ops *ops; /* NULL: riov opens /dev/vfio itself */
	bool open_device;                       /* open the VFIO device now (riovd holds the
						 * function); false: a driver opens it, riov opens
						 * its own file when it routes the MSI-X vectors */
	struct event_base *base;                /* where the MSI-X eventfds are read */
};

/**
 * Assign a function: check the address, that the function exists, that its source-id and domain
 * p->did are free and that it is alone in its IOMMU group; only then bind it to vfio-pci if it is
 * not (driver_override, unbind, drivers_probe), attach the group to a type1v2 container, create
 * domain p->did (4 levels, 48 bits) in p->vtd with a context entry for the function's source-id,
 * and mirror the (empty) domain into the container. A failure after the unbind gives the
 * function back to the driver it had (driver_override cleared), as riov_assign_destroy() does.
 * @return 0 with *out, or -errno with a sentence in err: -EINVAL (bad address), -ENODEV (no such
 *         function), -EBUSY (group shared or opened elsewhere, domain or source-id in use),
 *         -ENOENT (no IOMMU group: IOMMU off), -ENOTSUP (no type1v2), -EIO (sysfs refused).
 */
int riov_assign_create(const struct riov_assign_params *p, struct riov_assign **out, char *err,
		       size_t errlen);

/** Map [iova, iova+len) to riovd's memory at hva in the domain, invalidate, push to the
 *  container. Page-aligned arguments. Returns 0 or -errno (riov_vtd_map's, or the ioctl's: the
 *  domain then holds the mapping and the container does not: riov_assign_sync() retries). */
int riov_assign_map(struct riov_assign *a, uint64_t iova, uint64_t hva, uint64_t len, unsigned perm);
/** Unmap [iova, iova+len) from the domain, invalidate, push. Returns 0 or -errno. */
int riov_assign_unmap(struct riov_assign *a, uint64_t iova, uint64_t len);
/** Push the domain to the container again. Returns 0 or the first failing ioctl's -errno. */
int riov_assign_sync(struct riov_assign *a);

/** MSI-X vectors the function has (VFIO_DEVICE_GET_IRQ_INFO; opens the device file if riov has
 *  none yet). Returns the count (0: no MSI-X) or -errno. */
int riov_assign_msix_count(struct riov_assign *a);
/**
 * Route vectors [0, n) through IRTEs irte[0..n) of the unit to eventfds riov reads: each entry is
 * set present, remapped format, source validation on the function's source-id, guest vector
 * 0x30 + i. If the function's MSI-X is enabled with fewer vectors (a driver enabled its own), it
 * is disabled first and enabled again with riov's routes. The IRTE indexes are the caller's to
 * choose (free ones). Returns 0 or -errno with err; on failure no entry stays set.
 */
int riov_assign_route_msix(struct riov_assign *a, const uint32_t *irte, unsigned n, char *err,
			   size_t errlen);

/** Undo everything: MSI-X routes off and IRTEs cleared, container unmapped, context entry and
 *  domain removed, files closed (through ops when given; a driver sharing them must have closed
 *  its device file), then, if riov bound the function to vfio-pci, driver_override cleared and
 *  the function given back to the host driver it had before. NULL is fine. */
void riov_assign_destroy(struct riov_assign *a);

struct riov_assign_info {
	char pci[16];           /* canonical address */
	uint16_t sid;           /* source-id */
	int group;              /* IOMMU group number */
	uint16_t did;           /* DMA domain */
	uint64_t mapped_bytes;  /* what the container holds */
	size_t ranges;          /* ... in this many VFIO mappings */
	unsigned nvec;          /* MSI-X vectors routed (0 before riov_assign_route_msix) */
	uint64_t hw_faults;     /* DMAR faults the kernel reported for the function */
	uint64_t hw_faults_unexplained; /* ... at addresses the domain maps (container out of sync) */
	bool device_open;       /* riov holds a VFIO device file */
};
void riov_assign_get_info(const struct riov_assign *a, struct riov_assign_info *out);
/** Vector v's IRTE index and the interrupts that arrived on its eventfd. Returns 0 or -ERANGE. */
int riov_assign_vector(const struct riov_assign *a, unsigned v, uint32_t *irte, uint64_t *raised);

/* ---- DMAR faults from the kernel log ---- */

struct riov_dmar_fault {
	uint16_t sid;       /* requester id the IOMMU reported */
	bool is_ir;         /* interrupt-remapping fault (addr is the interrupt index) */
	bool is_write;      /* DMA write (else read) */
	uint8_t reason;     /* VT-d fault reason */
	uint64_t addr;      /* faulting page (DMA) or interrupt index */
};

/**
 * Parse one /dev/kmsg record ("prio,seq,usec,flags;text", continuation lines ignored) holding a
 * Linux intel-iommu fault line, e.g. "DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault
 * addr 0x200000 [fault reason 0x06] PTE Read access is not set" or "DMAR: [INTR-REMAP] Request
 * device [00:01.0] fault index 0x5 [fault reason 0x25] ...". Only kernel-facility records count.
 * @return 0 with *out, or -EINVAL (not such a line).
 */
int riov_dmar_parse(const char *rec, size_t len, struct riov_dmar_fault *out);

/**
 * Record a DMAR fault the kernel reported for assigned function a: the faulting access is
 * replayed through the VT-d model with the function's source-id, so the model's fault log gets
 * the record (fault reason as the model sees it, FPD and collapsing applied) and its counters
 * count it. A fault at an address the domain maps means the container is out of sync: counted as
 * unexplained, logged, and a sync is attempted. Interrupt-remapping faults are counted only.
 * @return the model's fault reason (> 0), 0 when the model maps the address, -EINVAL when f is
 *         not a's.
 */
int riov_assign_fault(struct riov_assign *a, const struct riov_dmar_fault *f);

struct riov_kmsg;
/** Follow /dev/kmsg from now on (older records are skipped) and call cb for every DMAR fault
 *  line. Returns 0 or -errno (e.g. -EACCES without root). */
int riov_kmsg_open(struct event_base *base, void (*cb)(void *arg, const struct riov_dmar_fault *f),
		   void *arg, struct riov_kmsg **out);
/** Read every record available now (without waiting for the event loop). Returns how many DMAR
 *  faults were passed to the callback. */
unsigned riov_kmsg_poll(struct riov_kmsg *k);
void riov_kmsg_close(struct riov_kmsg *k);

/* ---- SR-IOV ---- */

struct riov_sriov_info {
	unsigned total_vfs;     /* sriov_totalvfs */
	unsigned num_vfs;       /* sriov_numvfs */
	char driver[32];        /* the PF's driver ("" for none) */
};
/** Read a PF's SR-IOV state. Returns 0, -EINVAL, -ENODEV, -ENOTSUP (not SR-IOV capable). */
int riov_sriov_get(const char *pf, struct riov_sriov_info *out, char *err, size_t errlen);
/** Set a PF's VF count through sysfs: VF autoprobe off (the PF driver's own VF driver must not
 *  take them), 0 first when changing from one non-zero count to another (the kernel refuses
 *  otherwise). Returns 0 or -errno with err (e.g. -EBUSY: a VF is still in use). */
int riov_sriov_set(const char *pf, unsigned num_vfs, char *err, size_t errlen);
/** PCI address of VF number vf of pf (its virtfn<vf> link) into out ("dddd:bb:dd.f").
 *  Returns 0, -EINVAL or -ENOENT (no such VF now). */
int riov_sriov_vf(const char *pf, unsigned vf, char *out, size_t len);
/** The network interface of PF pf (the one entry of its sysfs net/ directory) into out (len at
 *  least IFNAMSIZ). Returns 0, -EINVAL, -ENODEV (no such function, or no interface: its driver
 *  has no netdev) or -ENOTSUP (several), with err. */
int riov_sriov_netdev(const char *pf, char *out, size_t len, char *err, size_t errlen);

#endif
