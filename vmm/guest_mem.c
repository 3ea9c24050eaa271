/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory regions of a vhost-user front-end: validation, mapping into riovd, and entry into
 * the device's second-stage VT-d domain.
 *
 * Security model: every field of a region description comes from the front-end, which is not
 * trusted (a compromised QEMU or a buggy virtio-user). Before anything is mapped: the size is
 * non-zero, gpa + size, uaddr + size and mmap_offset + size do not wrap, gpa and size are
 * page-aligned, regions overlap neither in guest-physical nor in front-end address space, the
 * table holds at most RIOV_VHOST_MAX_MEM_REGIONS entries, and the file is a regular file at least
 * mmap_offset + size long (so the mapping never extends past its end, which would SIGBUS a worker).
 * A front-end that shrinks its file after the check would make riovd fault on access: a memfd is
 * sealed against shrinking (F_SEAL_SHRINK added if the front-end did not) before its length is
 * checked; a file that cannot be sealed (hugetlbfs, tmpfs, a memfd made without MFD_ALLOW_SEALING)
 * is guarded by the SIGBUS handler of guest_fault.c, which turns a fault in it into zero memory
 * and a broken device instead of a dead riovd.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common/log.h"
#include "iommu/vtd.h"
#include "vmm/guest_mem_internal.h"

RIOV_LOG_COMPONENT("vhost", RIOV_LOG_INFO);

#define SUPERPAGE (2ull << 20)

static bool add_overflows(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int riov_guest_region_check(const struct riov_guest_region_desc *d)
{
	if (d->size == 0)
		return -EINVAL;
	if (add_overflows(d->gpa, d->size) || add_overflows(d->uaddr, d->size) ||
	    add_overflows(d->mmap_offset, d->size) || d->mmap_offset + d->size > (uint64_t)INT64_MAX)
		return -EINVAL;
	if ((d->gpa | d->size) & (RIOV_GUEST_PAGE - 1))
		return -EINVAL;
	return 0;
}

static bool regions_overlap(const struct riov_guest_region_desc *a, const struct riov_guest_region_desc *b)
{
	return ranges_overlap(a->gpa, a->size, b->gpa, b->size) ||
	       ranges_overlap(a->uaddr, a->size, b->uaddr, b->size);
}

int riov_guest_mem_validate(const struct riov_guest_mem *mem, const struct riov_guest_region_desc *nd,
			    unsigned n)
{
	if (n > RIOV_VHOST_MAX_MEM_REGIONS || mem->n + n > RIOV_VHOST_MAX_MEM_REGIONS)
		return -E2BIG;
	for (unsigned i = 0; i < n; i++) {
		int rc = riov_guest_region_check(&nd[i]);
		if (rc)
			return rc;
		if (riov_guest_mem_overlap(mem, &nd[i], 0) >= 0)
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (regions_overlap(&nd[i], &nd[j]))
				return -EINVAL;
	}
	return 0;
}

int riov_guest_mem_find_same(const struct riov_guest_mem *mem, const struct riov_guest_region_desc *d, int fd)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	for (unsigned i = 0; i < mem->n; i++) {
		const struct riov_guest_region *r = &mem->r[i];
		if (r->d.gpa == d->gpa && r->d.size == d->size && r->d.uaddr == d->uaddr &&
		    r->d.mmap_offset == d->mmap_offset && r->file_dev == (uint64_t)st.st_dev &&
		    r->file_ino == (uint64_t)st.st_ino)
			return (int)i;
	}
	return -1;
}

int riov_guest_mem_overlap(const struct riov_guest_mem *mem, const struct riov_guest_region_desc *d,
			   uint64_t skip)
{
	for (unsigned i = 0; i < mem->n; i++)
		if (!(skip & (1ull << i)) && regions_overlap(d, &mem->r[i].d))
			return (int)i;
	return -1;
}

int riov_guest_file_seal(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return errno == EINVAL ? 0 : -errno;   /* not a memfd: hugetlbfs, tmpfs, ... */
	if (seals & F_SEAL_SHRINK)
		return 1;                              /* QEMU's memory-backend-memfd */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0)
		return 1;
	/* F_SEAL_SEAL without F_SEAL_SHRINK: a memfd created without MFD_ALLOW_SEALING (DPDK's
	 * virtio-user memory, with and without hugepages) or sealed on purpose, or an fd not open
	 * for writing. Refusing it would refuse DPDK: the SIGBUS guard covers it instead. */
	return errno == EPERM ? 0 : -errno;
}

/* The file's block size is its page size (hugetlbfs reports the huge page size): mmap offsets
 * and lengths must be multiples of it. */
static uint64_t file_align(const struct stat *st)
{
	uint64_t b = (uint64_t)st->st_blksize;
	if (b < RIOV_GUEST_PAGE || b > (1ull << 30) || (b & (b - 1)))
		return RIOV_GUEST_PAGE;
	return b;
}

/* Map len bytes of fd at offset off so that (returned + delta) == gpa modulo 2 MiB: reserve an
 * inaccessible window one superpage larger, place the file mapping inside it with MAP_FIXED, and
 * give back the slack on both sides. Returns MAP_FAILED if that did not work. */
static void *mmap_congruent(int fd, uint64_t off, uint64_t len, uint64_t want_mod)
{
	uint8_t *res = mmap(NULL, len + SUPERPAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			    -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	uint64_t skew = (want_mod - (uint64_t)(uintptr_t)res) & (SUPERPAGE - 1);
	uint8_t *start = res + skew;
	void *p = mmap(start, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, (off_t)off);
	if (p == MAP_FAILED) {
		munmap(res, len + SUPERPAGE);
		return MAP_FAILED;
	}
	if (skew)
		munmap(res, skew);
	if (SUPERPAGE - skew)
		munmap(start + len, SUPERPAGE - skew);
	return p;
}

int riov_guest_region_mmap(struct riov_guest_region *r, const struct riov_guest_region_desc *d, int fd)
{
	struct stat st;

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return -EBADF;
	/* seal first: a length checked before the seal could shrink right after the check */
	int sealed = riov_guest_file_seal(fd);
	if (sealed < 0)
		return sealed;
	if (fstat(fd, &st) < 0)
		return -EBADF;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || d->mmap_offset + d->size > (uint64_t)st.st_size)
		return -EINVAL;

	uint64_t align = file_align(&st);
	uint64_t off = d->mmap_offset & ~(align - 1);
	uint64_t delta = d->mmap_offset - off;
	uint64_t len = (delta + d->size + align - 1) & ~(align - 1);
	void *p = MAP_FAILED;

	if (align < SUPERPAGE) {
		uint64_t want = (d->gpa - delta) & (SUPERPAGE - 1);
		if ((want & (align - 1)) == 0)
			p = mmap_congruent(fd, off, len, want);
	}
	if (p == MAP_FAILED)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	r->d = *d;
	r->file_dev = (uint64_t)st.st_dev;
	r->file_ino = (uint64_t)st.st_ino;
	r->map_addr = p;
	r->map_len = len;
	r->host = (uint8_t *)p + delta;
	r->sealed = sealed == 1;
	return 0;
}

void riov_guest_region_guard(struct riov_guest_region *r, int efd)
{
	if (r->map_addr && r->fault_h <= 0 && !r->sealed)
		r->fault_h = riov_guest_fault_register(r->map_addr, r->map_len, efd);
}

void riov_guest_region_munmap(struct riov_guest_region *r)
{
	/* out of the SIGBUS table before the address range can be given to anything else */
	riov_guest_fault_unregister(r->fault_h);
	r->fault_h = 0;
	if (r->map_addr)
		munmap(r->map_addr, r->map_len);
	r->map_addr = NULL;
	r->map_len = 0;
	r->host = NULL;
}

int riov_guest_region_vtd_map(struct riov_guest_region *r, struct riov_vtd *vtd, uint16_t did)
{
	uint64_t hpa = (uint64_t)(uintptr_t)r->host;

	/* The page tables translate whole pages: a file offset that is not page-aligned would put
	 * the guest page at a host address that is not either. */
	if (hpa & (RIOV_GUEST_PAGE - 1))
		return -EINVAL;
	int rc = riov_vtd_map(vtd, did, r->d.gpa, hpa, r->d.size, RIOV_VTD_READ | RIOV_VTD_WRITE);
	if (rc == 0)
		r->vtd_mapped = true;
	return rc;
}

void riov_guest_region_vtd_unmap(struct riov_guest_region *r, struct riov_vtd *vtd, uint16_t did)
{
	if (!r->vtd_mapped)
		return;
	int rc = riov_vtd_unmap(vtd, did, r->d.gpa, r->d.size);
	if (rc)
		RIOV_LOG(RIOV_LOG_ERR, "unmap gpa 0x%llx size 0x%llx from domain %u: %s",
			 (unsigned long long)r->d.gpa, (unsigned long long)r->d.size, did, strerror(-rc));
	r->vtd_mapped = false;
}

void riov_guest_mem_add(struct riov_guest_mem *mem, const struct riov_guest_region *r)
{
	mem->r[mem->n] = *r;
	mem->r[mem->n++].refs = 1;
	mem->bytes += r->d.size;
}

int riov_guest_mem_find(const struct riov_guest_mem *mem, const struct riov_guest_region_desc *d)
{
	for (unsigned i = 0; i < mem->n; i++)
		if (mem->r[i].d.gpa == d->gpa && mem->r[i].d.size == d->size &&
		    mem->r[i].d.uaddr == d->uaddr)
			return (int)i;
	return -1;
}

void riov_guest_mem_remove(struct riov_guest_mem *mem, unsigned i)
{
	if (i >= mem->n)
		return;
	mem->bytes -= mem->r[i].d.size;
	memmove(&mem->r[i], &mem->r[i + 1], (mem->n - i - 1) * sizeof(mem->r[0]));
	mem->n--;
	memset(&mem->r[mem->n], 0, sizeof(mem->r[0]));
}

int riov_guest_mem_uva_to_gpa(const struct riov_guest_mem *mem, uint64_t uaddr, uint64_t len,
			      uint64_t *gpa)
{
	if (len == 0)
		len = 1;
	for (unsigned i = 0; i < mem->n; i++) {
		const struct riov_guest_region_desc *d = &mem->r[i].d;
		if (uaddr < d->uaddr || uaddr - d->uaddr >= d->size)
			continue;
		if (len > d->size - (uaddr - d->uaddr))
			return -EFAULT;
		*gpa = d->gpa + (uaddr - d->uaddr);
		return 0;
	}
	return -EFAULT;
}
