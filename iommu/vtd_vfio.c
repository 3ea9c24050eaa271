/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VT-d model's hardware backend (see vtd_vfio.h): domains to VFIO type1 DMA mappings, IRTE
 * routes to VFIO MSI-X eventfd triggers.
 *
 * Security model: what reaches the kernel is exactly what riov's own domain tables say (host
 * virtual addresses of guest memory that vmm/ mapped), never a guest-supplied value directly, and
 * the mirror only ever unmaps ranges it mapped itself. A failing ioctl stops the sync and leaves
 * the mirror describing what the container really holds, so a retry is safe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/vfio.h>

#include "common/log.h"
#include "iommu/vtd_internal.h"
#include "iommu/vtd_vfio.h"

RIOV_LOG_COMPONENT("vtd", RIOV_LOG_WARN);

struct riov_vtd_vfio {
	int container_fd;
	struct riov_vtd_vfio_ops ops;
	struct riov_vtd_range *r;   /* what the container holds, sorted by iova */
	size_t n;
	struct riov_vtd_vfio_stats st;
};

static int sys_ioctl(void *arg, int fd, unsigned long req, void *data)
{
	return ioctl(fd, req, data) < 0 ? -errno : 0;
}

static int do_ioctl(const struct riov_vtd_vfio_ops *ops, int fd, unsigned long req, void *data)
{
	if (ops != NULL && ops->ioctl != NULL)
		return ops->ioctl(ops->arg, fd, req, data);
	return sys_ioctl(NULL, fd, req, data);
}

struct collect {
	struct riov_vtd_range *r;
	size_t n, cap;
	bool nomem;
};

static void collect_cb(void *arg, uint64_t iova, uint64_t hpa, uint64_t len, unsigned perm)
{
	struct collect *c = arg;

	if (c->nomem)
		return;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 64;
		struct riov_vtd_range *nr = realloc(c->r, nc * sizeof(*nr));
		if (nr == NULL) {
			c->nomem = true;
			return;
		}
		c->r = nr;
		c->cap = nc;
	}
	c->r[c->n++] = (struct riov_vtd_range){ .iova = iova, .hva = hpa, .len = len, .perm = perm };
}

int riov_vtd_domain_ranges(const struct riov_vtd *vtd, uint16_t did, struct riov_vtd_range **out,
			   size_t *n)
{
	struct collect c = { 0 };
	int rc = riov_vtd_domain_walk(vtd, did, collect_cb, &c);

	if (rc == 0 && c.nomem)
		rc = -ENOMEM;
	if (rc < 0) {
		free(c.r);
		return rc;
	}
	*out = c.r;
	*n = c.n;
	return 0;
}

struct riov_vtd_vfio *riov_vtd_vfio_create(int container_fd, const struct riov_vtd_vfio_ops *ops)
{
	struct riov_vtd_vfio *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	m->container_fd = container_fd;
	if (ops != NULL)
		m->ops = *ops;
	return m;
}

static int vfio_unmap(struct riov_vtd_vfio *m, const struct riov_vtd_range *r)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .flags = 0, .iova = r->iova, .size = r->len,
	};
	int rc = do_ioctl(&m->ops, m->container_fd, VFIO_IOMMU_UNMAP_DMA, &u);

	m->st.unmap_calls++;
	if (rc == 0)
		m->st.mapped_bytes -= r->len;
	return rc;
}

static int vfio_map(struct riov_vtd_vfio *m, const struct riov_vtd_range *r)
{
	struct vfio_iommu_type1_dma_map d = {
		.argsz = sizeof(d),
		.flags = ((r->perm & RIOV_VTD_READ) ? VFIO_DMA_MAP_FLAG_READ : 0) |
			 ((r->perm & RIOV_VTD_WRITE) ? VFIO_DMA_MAP_FLAG_WRITE : 0),
		.vaddr = r->hva, .iova = r->iova, .size = r->len,
	};
	int rc = do_ioctl(&m->ops, m->container_fd, VFIO_IOMMU_MAP_DMA, &d);

	m->st.map_calls++;
	if (rc == 0)
		m->st.mapped_bytes += r->len;
	return rc;
}

static bool range_eq(const struct riov_vtd_range *a, const struct riov_vtd_range *b)
{
	return a->iova == b->iova && a->hva == b->hva && a->len == b->len && a->perm == b->perm;
}

/* index of the range starting at iova in sorted r[0..n), or n */
static size_t find_start(const struct riov_vtd_range *r, size_t n, uint64_t iova)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r[mid].iova < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && r[lo].iova == iova ? lo : n;
}

static int cmp_iova(const void *a, const void *b)
{
	const struct riov_vtd_range *x = a, *y = b;
	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

int riov_vtd_vfio_sync(struct riov_vtd_vfio *m, struct riov_vtd *vtd, uint16_t did)
{
	struct riov_vtd_range *nr = NULL, *keep;
	size_t nn = 0, nk = 0;
	bool *have;
	int rc;

	rc = riov_vtd_domain_ranges(vtd, did, &nr, &nn);
	if (rc < 0)
		return rc;
	have = calloc(nn + 1, sizeof(*have));
	keep = malloc((m->n + nn + 1) * sizeof(*keep));
	if (have == NULL || keep == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* 1. unmap what the container holds that the domain no longer has exactly */
	for (size_t i = 0; i < m->n; i++) {
		size_t j = find_start(nr, nn, m->r[i].iova);
		if (j < nn && range_eq(&nr[j], &m->r[i])) {
			have[j] = true;
			keep[nk++] = m->r[i];
			continue;
		}
		if (rc == 0) {
			int e = vfio_unmap(m, &m->r[i]);
			if (e == 0)
				continue;
			rc = e;
			RIOV_LOG_RL(RIOV_LOG_ERR, "VFIO_IOMMU_UNMAP_DMA 0x%llx+0x%llx: %s",
				    (unsigned long long)m->r[i].iova, (unsigned long long)m->r[i].len,
				    strerror(-e));
		}
		keep[nk++] = m->r[i]; /* still in the container */
	}
	/* 2. map what is new (only once nothing stale overlaps it) */
	for (size_t j = 0; j < nn && rc == 0; j++) {
		if (have[j])
			continue;
		int e = vfio_map(m, &nr[j]);
		if (e < 0) {
			rc = e;
			RIOV_LOG_RL(RIOV_LOG_ERR, "VFIO_IOMMU_MAP_DMA 0x%llx+0x%llx: %s",
				    (unsigned long long)nr[j].iova, (unsigned long long)nr[j].len,
				    strerror(-e));
			break;
		}
		keep[nk++] = nr[j];
	}
	qsort(keep, nk, sizeof(*keep), cmp_iova);
	free(m->r);
	m->r = keep;
	m->n = nk;
	keep = NULL;
out:
	free(keep);
	free(have);
	free(nr);
	return rc;
}

const struct riov_vtd_range *riov_vtd_vfio_ranges(const struct riov_vtd_vfio *m, size_t *n)
{
	*n = m->n;
	return m->r;
}

void riov_vtd_vfio_stats(const struct riov_vtd_vfio *m, struct riov_vtd_vfio_stats *st)
{
	*st = m->st;
}

void riov_vtd_vfio_destroy(struct riov_vtd_vfio *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		(void)vfio_unmap(m, &m->r[i]);
	free(m->r);
	free(m);
}

int riov_vtd_vfio_set_msix(struct riov_vtd *vtd, int device_fd, const struct riov_vtd_vfio_ops *ops,
			   const uint32_t *irte_index, unsigned nvec)
{
	struct vfio_irq_set *s;
	size_t sz;
	int rc;

	if (nvec == 0 || nvec > 2048 || irte_index == NULL)
		return -EINVAL;
	sz = sizeof(*s) + (size_t)nvec * sizeof(int32_t);
	s = calloc(1, sz);
	if (s == NULL)
		return -ENOMEM;
	s->argsz = (uint32_t)sz;
	s->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	s->index = VFIO_PCI_MSIX_IRQ_INDEX;
	s->start = 0;
	s->count = nvec;
	int32_t *fds = (int32_t *)(void *)s->data;
	for (unsigned i = 0; i < nvec; i++) {
		uint32_t idx = irte_index[i];
		fds[i] = -1;
		if (idx >= vtd->cfg.irte_count)
			continue;
		uint64_t lo = vtd->irt[idx][0];
		if ((lo & VTD_IRTE_P) && !(lo & VTD_IRTE_IM))
			fds[i] = vtd->irt_rt[idx].eventfd;
	}
	rc = do_ioctl(ops, device_fd, VFIO_DEVICE_SET_IRQS, s);
	free(s);
	return rc;
}
