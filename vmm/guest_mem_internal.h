/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory regions of one vhost-user front-end (vmm internal, control thread only).
 *
 * A region is a file (memfd, hugetlbfs file) the front-end sent with SET_MEM_TABLE or ADD_MEM_REG.
 * It is described three ways: guest-physical [gpa, gpa+size), front-end virtual [uaddr, uaddr+size)
 * and file [mmap_offset, mmap_offset+size). riovd maps it MAP_SHARED and enters [gpa, gpa+size) ->
 * host address into the device's second-stage VT-d domain.
 */
#ifndef RIOV_VMM_GUEST_MEM_INTERNAL_H
#define RIOV_VMM_GUEST_MEM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/vhost.h"

struct riov_vtd;

/* One region as the front-end describes it (wire layout of VhostUserMemoryRegion). */
struct riov_guest_region_desc {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
};

struct riov_guest_region {
	struct riov_guest_region_desc d;
	uint64_t file_dev;  /* the backing file's identity (fstat st_dev, st_ino): with d, what makes */
	uint64_t file_ino;  /* two ADD_MEM_REG messages the same region */
	unsigned refs;      /* ADD_MEM_REG of the same region (QEMU: once per queue pair), >= 1 */
	void *map_addr;   /* what mmap returned (for munmap) */
	size_t map_len;
	uint8_t *host;    /* host address of d.gpa */
	bool vtd_mapped;  /* entered into the second-stage domain */
	bool sealed;      /* the file cannot shrink (F_SEAL_SHRINK, ours or the front-end's) */
	int fault_h;      /* handle in the SIGBUS guard's table (guest_fault.c), 0 if none */
};

struct riov_guest_mem {
	struct riov_guest_region r[RIOV_VHOST_MAX_MEM_REGIONS];   /* dense: r[0..n) */
	unsigned n;
	uint64_t bytes;
};

#define RIOV_GUEST_PAGE 4096ull

_Static_assert(RIOV_VHOST_MAX_MEM_REGIONS <= 64, "sets of regions are 64-bit masks (vhost.c)");

/** Check one region description on its own: size > 0, no overflow of gpa/uaddr/mmap_offset + size,
 *  page-aligned gpa and size. Returns 0 or -EINVAL. */
int riov_guest_region_check(const struct riov_guest_region_desc *d);

/** Check regions new[0..n) on their own and against the regions already in mem: size > 0, no
 *  overflow of gpa/uaddr/mmap_offset + size, page-aligned gpa and size, no overlap in GPA or in
 *  front-end address space, total count <= RIOV_VHOST_MAX_MEM_REGIONS. Returns 0 or -EINVAL
 *  (-E2BIG for too many regions). */
int riov_guest_mem_validate(const struct riov_guest_mem *mem, const struct riov_guest_region_desc *nd,
			    unsigned n);

/** Index of the region in mem identical to d (gpa, size, uaddr, mmap_offset) and backed by the
 *  same file as fd (device and inode), or -1. */
int riov_guest_mem_find_same(const struct riov_guest_mem *mem, const struct riov_guest_region_desc *d, int fd);

/** Index of the first region in mem, outside the set skip (bit i = region i), that overlaps d in
 *  guest-physical or front-end address space, or -1. */
int riov_guest_mem_overlap(const struct riov_guest_mem *mem, const struct riov_guest_region_desc *d,
			   uint64_t skip);

/** mmap region d from fd (which the caller still owns and closes). A memfd is sealed against
 *  shrinking first (riov_guest_file_seal). The file must be a regular file at least
 *  mmap_offset + size long. The host address of gpa is chosen congruent to gpa modulo
 *  2 MiB when possible (superpages in the VT-d model). Returns 0 or -errno. */
int riov_guest_region_mmap(struct riov_guest_region *r, const struct riov_guest_region_desc *d, int fd);

/** Enter r's mapping into the SIGBUS guard's table (guest_fault.c; a fault writes efd), unless its
 *  file is sealed against shrinking (then no fault can happen). Control thread. */
void riov_guest_region_guard(struct riov_guest_region *r, int efd);

/** Undo riov_guest_region_mmap (leaves the SIGBUS table first). */
void riov_guest_region_munmap(struct riov_guest_region *r);

/** Map region r into domain did (read+write). Tables only, caller invalidates. Returns 0 or -errno. */
int riov_guest_region_vtd_map(struct riov_guest_region *r, struct riov_vtd *vtd, uint16_t did);
/** Remove region r from domain did. Tables only, caller invalidates. */
void riov_guest_region_vtd_unmap(struct riov_guest_region *r, struct riov_vtd *vtd, uint16_t did);

/** Append an mmapped region to the table (validated before) with one reference. */
void riov_guest_mem_add(struct riov_guest_mem *mem, const struct riov_guest_region *r);
/** Find a region by its description (gpa, size, uaddr); returns its index or -1. */
int riov_guest_mem_find(const struct riov_guest_mem *mem, const struct riov_guest_region_desc *d);
/** Remove entry i (already unmapped) keeping the table dense. */
void riov_guest_mem_remove(struct riov_guest_mem *mem, unsigned i);

/** Convert front-end virtual [uaddr, uaddr+len) to a guest-physical address. The range must lie
 *  within one region. Returns 0 or -EFAULT. */
int riov_guest_mem_uva_to_gpa(const struct riov_guest_mem *mem, uint64_t uaddr, uint64_t len,
			      uint64_t *gpa);

/** Make fd unable to shrink if it is a memfd: keep F_SEAL_SHRINK if set, else add it. Returns 1 if
 *  the file is now sealed against shrinking, 0 if it cannot be (not a memfd, or a memfd created
 *  without MFD_ALLOW_SEALING: only the SIGBUS guard of guest_fault.c protects its mapping),
 *  -errno on another error. */
int riov_guest_file_seal(int fd);

/* ---- guest_fault.c: the SIGBUS guard's table (riov_guest_fault_install: guest_fault.h) ------- */

#define RIOV_GUEST_FAULT_SLOTS 17408   /* 64 regions, a log and an inflight area for 256 devices */

/** Enter riovd's mapping [addr, addr+len) of front-end memory into the guard's table: a SIGBUS
 *  inside it replaces the mapping with zero memory and writes 1 to efd (an eventfd the owner
 *  watches). Control thread. Returns a handle > 0, or -ENOSPC (logged; the mapping is then not
 *  guarded). */
int riov_guest_fault_register(void *addr, size_t len, int efd);
/** Remove handle h (<= 0 ignored) before unmapping its mapping, once no thread can access it. */
void riov_guest_fault_unregister(int h);
/** Has the mapping of handle h faulted (been replaced by zero memory)? */
bool riov_guest_fault_hit(int h);

#endif
