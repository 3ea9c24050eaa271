/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Assigned PCI functions (see assign.h): the assignment itself, a DMA domain in riov's VT-d model
 * mirrored into the function's VFIO container, its MSI-X vectors routed through the model's
 * interrupt-remapping entries to eventfds, and the DMAR faults the kernel reports for it. PCI
 * addresses and sysfs are in pci.c, the VFIO files in vfio.c, SR-IOV in sriov.c, the kernel log
 * in dmar_log.c (assign_internal.h).
 *
 * Security model: see assign.h. In short: sysfs paths are built only from canonical, parsed PCI
 * addresses and fixed names; what reaches VFIO_IOMMU_MAP_DMA is what the caller mapped into the
 * domain from riovd's own memory; a fault is recorded only for the function's own source-id; a
 * VFIO group shared with other devices is refused (pci.c), since the real IOMMU would give all
 * of them the function's mappings while riov's model gives each source-id its own domain.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "iommu/vtd.h"
#include "iommu/vtd_dp.h"
#include "iommu/vtd_vfio.h"
#include "vmm/assign.h"
#include "vmm/assign_internal.h"

RIOV_LOG_COMPONENT("assign", RIOV_LOG_INFO);
#define MSIX_MAX 2048u

struct assign_vec {
	struct riov_assign *a;
	unsigned v;
	uint32_t irte;
	int efd;
	struct event *ev;
	uint64_t raised;
};

struct riov_assign {
	struct riov_pci_addr addr;
	char pci[16];
	char dev[PATH_MAX];       /* its sysfs directory */
	struct asg_binding bind;  /* what to undo of the host's driver binding */
	uint16_t sid;
	int group;
	struct riov_vtd *vtd;
	uint16_t did;
	bool domain_made, context_set;
	struct asg_vfio vfio;
	struct riov_vtd_vfio *mirror;
	struct event_base *base;
	struct assign_vec *vec;
	unsigned nvec;
	bool msix_on;
	uint64_t hw_faults, hw_unexplained;
};

/* ------------------------------------------------------------------ assignment */

int riov_assign_create(const struct riov_assign_params *p, struct riov_assign **out, char *err,
		       size_t errlen)
{
	char rel[64];
	struct riov_vtd_context_info ci;
	struct riov_vtd_domain_info di;
	struct riov_assign *a;
	int rc;

	err[0] = '\0';
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	asg_vfio_init(&a->vfio, p->ops);
	a->vtd = p->vtd;
	a->did = p->did;
	a->base = p->base;
	if (riov_pci_parse(p->pci, &a->addr) != 0) {
		snprintf(err, errlen, "'%.40s' is not a PCI address (DDDD:BB:DD.F)", p->pci ? p->pci : "");
		rc = -EINVAL;
		goto fail;
	}
	riov_pci_format(&a->addr, a->pci, sizeof(a->pci));
	a->sid = riov_pci_sid(&a->addr);
	if (a->addr.domain != 0) {
		/* riov's unit models one PCI segment: a source-id has no segment number */
		snprintf(err, errlen, "%s: only PCI segment 0000 is supported (riov's VT-d unit covers one "
			 "segment)", a->pci);
		rc = -EINVAL;
		goto fail;
	}
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", a->pci);
	asg_sys_path(a->dev, sizeof(a->dev), rel);
	if (access(a->dev, F_OK) != 0) {
		snprintf(err, errlen, "there is no PCI function %s", a->pci);
		rc = -ENODEV;
		goto fail;
	}
	if (riov_vtd_context_get(a->vtd, a->sid, &ci) == 0 && ci.present) {
		snprintf(err, errlen, "%s: source-id 0x%04x already has a context entry (domain %u) in riov's "
			 "VT-d unit", a->pci, a->sid, ci.did);
		rc = -EBUSY;
		goto fail;
	}
	if (riov_vtd_domain_info(a->vtd, a->did, &di) == 0) {
		snprintf(err, errlen, "%s: domain %u exists already", a->pci, a->did);
		rc = -EBUSY;
		goto fail;
	}
	/* every check that needs no VFIO comes before the host's driver is touched */
	if ((rc = asg_iommu_group(a->pci, a->dev, &a->group, err, errlen)) != 0)
		goto fail;
	if ((rc = asg_bind_vfio_pci(a->pci, a->dev, &a->bind, err, errlen)) != 0)
		goto fail;
	if ((rc = asg_vfio_open(&a->vfio, a->pci, a->group, err, errlen)) != 0)
		goto fail;
	if (p->open_device && (rc = asg_vfio_device_open(&a->vfio, a->pci)) != 0) {
		snprintf(err, errlen, "%s: VFIO_GROUP_GET_DEVICE_FD: %s", a->pci, strerror(-rc));
		goto fail;
	}
	rc = riov_vtd_domain_create(a->vtd, a->did, 4);
	if (rc != 0) {
		snprintf(err, errlen, "%s: domain %u: %s", a->pci, a->did,
			 rc == -EEXIST ? "exists already" : strerror(-rc));
		rc = rc == -EEXIST ? -EBUSY : rc;
		goto fail;
	}
	a->domain_made = true;
	rc = riov_vtd_context_set(a->vtd, a->sid, a->did, RIOV_VTD_TT_MULTI_LEVEL, false);
	if (rc != 0) {
		snprintf(err, errlen, "%s: context entry for source-id 0x%04x: %s", a->pci, a->sid,
			 strerror(-rc));
		goto fail;
	}
	a->context_set = true;
	riov_vtd_inv_context_device(a->vtd, a->sid);
	a->mirror = riov_vtd_vfio_create(a->vfio.container_fd, NULL);
	if (a->mirror == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	RIOV_LOG(RIOV_LOG_NOTICE, "%s: assigned through VFIO (group %d) with riov domain %u, "
		 "source-id 0x%04x", a->pci, a->group, a->did, a->sid);
	*out = a;
	return 0;
fail:
	riov_assign_destroy(a);
	return rc;
}

int riov_assign_sync(struct riov_assign *a)
{
	int rc = riov_vtd_vfio_sync(a->mirror, a->vtd, a->did);
	if (rc != 0)
		RIOV_LOG(RIOV_LOG_ERR, "%s: pushing domain %u to its VFIO container failed: %s",
			 a->pci, a->did, strerror(-rc));
	return rc;
}

int riov_assign_map(struct riov_assign *a, uint64_t iova, uint64_t hva, uint64_t len, unsigned perm)
{
	int rc = riov_vtd_map(a->vtd, a->did, iova, hva, len, perm);
	if (rc != 0)
		return rc;
	/* a walk that found nothing may be cached (caching mode): drop it, as for any map */
	riov_vtd_inv_iotlb_domain(a->vtd, a->did);
	return riov_assign_sync(a);
}

int riov_assign_unmap(struct riov_assign *a, uint64_t iova, uint64_t len)
{
	int rc = riov_vtd_unmap(a->vtd, a->did, iova, len);
	riov_vtd_inv_iotlb_domain(a->vtd, a->did);
	if (rc != 0)
		return rc;
	return riov_assign_sync(a);
}

/* ---- MSI-X */

int riov_assign_msix_count(struct riov_assign *a)
{
	uint32_t count;
	int rc = asg_vfio_msix_count(&a->vfio, a->pci, &count);

	if (rc != 0)
		return rc;
	return count > MSIX_MAX ? (int)MSIX_MAX : (int)count;
}

static void on_vector(evutil_socket_t fd, short what, void *arg)
{
	struct assign_vec *v = arg;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
		v->raised += n;
}

static void vectors_free(struct riov_assign *a)
{
	for (unsigned i = 0; i < a->nvec; i++) {
		struct assign_vec *v = &a->vec[i];
		if (v->ev != NULL)
			event_free(v->ev);
		riov_vtd_irte_clear(a->vtd, v->irte);
		if (v->efd >= 0)
			close(v->efd);
	}
	free(a->vec);
	a->vec = NULL;
	a->nvec = 0;
}

int riov_assign_route_msix(struct riov_assign *a, const uint32_t *irte, unsigned n, char *err,
			   size_t errlen)
{
	uint32_t *idx = NULL;
	int rc;

	if (a->nvec != 0 || n == 0 || n > MSIX_MAX) {
		snprintf(err, errlen, "%s: %s", a->pci, a->nvec ? "MSI-X is routed already" : "no vectors");
		return -EINVAL;
	}
	if ((rc = asg_vfio_device_open(&a->vfio, a->pci)) != 0) {
		snprintf(err, errlen, "%s: VFIO_GROUP_GET_DEVICE_FD: %s", a->pci, strerror(-rc));
		return rc;
	}
	a->vec = calloc(n, sizeof(*a->vec));
	idx = calloc(n, sizeof(*idx));
	if (a->vec == NULL || idx == NULL) {
		free(idx);
		free(a->vec);
		a->vec = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->nvec = n;
	for (unsigned i = 0; i < n; i++)
		a->vec[i] = (struct assign_vec){ .a = a, .v = i, .irte = irte[i], .efd = -1 };
	for (unsigned i = 0; i < n; i++) {
		struct assign_vec *v = &a->vec[i];
		v->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (v->efd < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: eventfd: %s", a->pci, strerror(-rc));
			goto fail;
		}
		struct riov_vtd_irte e = {
			.present = true,
			.vector = (uint8_t)(0x30 + i % 0xd0),
			.svt = 1,        /* requester id must be the function's */
			.sq = 0,
			.sid = a->sid,
			.eventfd = v->efd,
		};
		if ((rc = riov_vtd_irte_set(a->vtd, v->irte, &e)) != 0) {
			snprintf(err, errlen, "%s: interrupt-remapping entry %u: %s", a->pci, v->irte,
				 strerror(-rc));
			goto fail;
		}
		idx[i] = v->irte;
		if (a->base != NULL) {
			v->ev = event_new(a->base, v->efd, EV_READ | EV_PERSIST, on_vector, v);
			if (v->ev == NULL || event_add(v->ev, NULL) != 0) {
				rc = -ENOMEM;
				snprintf(err, errlen, "%s: cannot watch vector %u's eventfd", a->pci, i);
				goto fail;
			}
		}
	}
	rc = riov_vtd_vfio_set_msix(a->vtd, a->vfio.device_fd, NULL, idx, n);
	if (rc == -EINVAL) {
		/* MSI-X is on with fewer vectors (a driver enabled its own): VFIO cannot grow the
		 * vector block in place, so switch it off and on again with every vector routed */
		RIOV_LOG(RIOV_LOG_NOTICE, "%s: MSI-X was enabled by its driver; riov takes over "
			 "all %u vectors", a->pci, n);
		if (asg_vfio_msix_disable(&a->vfio) == 0)
			rc = riov_vtd_vfio_set_msix(a->vtd, a->vfio.device_fd, NULL, idx, n);
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: VFIO_DEVICE_SET_IRQS (MSI-X, %u vectors): %s", a->pci, n,
			 strerror(-rc));
		goto fail;
	}
	a->msix_on = true;
	free(idx);
	return 0;
fail:
	vectors_free(a);
	free(idx);
	return rc;
}

void riov_assign_destroy(struct riov_assign *a)
{
	if (a == NULL)
		return;
	if (a->msix_on)
		(void)asg_vfio_msix_disable(&a->vfio);
	vectors_free(a);
	asg_vfio_device_close(&a->vfio);
	/* the mirror unmaps what it mapped; a group a driver already closed left the container
	 * empty, and those unmaps fail harmlessly */
	riov_vtd_vfio_destroy(a->mirror);
	if (a->context_set) {
		riov_vtd_context_clear(a->vtd, a->sid);
		riov_vtd_inv_context_device(a->vtd, a->sid);
	}
	if (a->domain_made) {
		riov_vtd_inv_iotlb_domain(a->vtd, a->did);
		riov_vtd_domain_destroy(a->vtd, a->did);
	}
	asg_vfio_close(&a->vfio, a->group);
	if (a->domain_made)
		RIOV_LOG(RIOV_LOG_NOTICE, "%s: released (domain %u removed)", a->pci, a->did);
	/* with its VFIO files closed, vfio-pci lets the function go back to its host driver */
	asg_bind_restore(a->pci, a->dev, &a->bind);
	free(a);
}

void riov_assign_get_info(const struct riov_assign *a, struct riov_assign_info *out)
{
	struct riov_vtd_vfio_stats st = { 0 };

	memset(out, 0, sizeof(*out));
	snprintf(out->pci, sizeof(out->pci), "%s", a->pci);
	out->sid = a->sid;
	out->group = a->group;
	out->did = a->did;
	if (a->mirror != NULL) {
		riov_vtd_vfio_stats(a->mirror, &st);
		riov_vtd_vfio_ranges(a->mirror, &out->ranges);
	}
	out->mapped_bytes = st.mapped_bytes;
	out->nvec = a->nvec;
	out->hw_faults = a->hw_faults;
	out->hw_faults_unexplained = a->hw_unexplained;
	out->device_open = a->vfio.device_fd >= 0;
}

int riov_assign_vector(const struct riov_assign *a, unsigned v, uint32_t *irte, uint64_t *raised)
{
	if (v >= a->nvec)
		return -ERANGE;
	*irte = a->vec[v].irte;
	*raised = a->vec[v].raised;
	return 0;
}

/* ------------------------------------------------------------------ DMAR faults */

int riov_assign_fault(struct riov_assign *a, const struct riov_dmar_fault *f)
{
	struct riov_vtd_cursor c;
	void *hva;
	uint64_t mapped;
	int rc;

	if (f->sid != a->sid)
		return -EINVAL;
	a->hw_faults++;
	if (f->is_ir) {
		RIOV_LOG_RL(RIOV_LOG_WARN, "%s: the IOMMU blocked an interrupt (index 0x%" PRIx64
			    ", reason 0x%02x)", a->pci, f->addr, f->reason);
		return f->reason ? f->reason : RIOV_VTD_FR_IR_NOT_PRESENT;
	}
	/* The same access through riov's model: it walks domain a->did and, where the domain maps
	 * nothing, writes the fault record (FPD, collapsing and overflow as for riov's own DMA). */
	riov_vtd_cursor_init(&c, a->vtd, a->sid);
	rc = riov_vtd_translate(&c, f->addr & ~0xfffull, 1, f->is_write ? RIOV_VTD_WRITE : RIOV_VTD_READ,
				&hva, &mapped);
	if (rc < 0)
		return -rc;
	/* riov's domain maps it but the IOMMU did not: the container is behind the domain */
	a->hw_unexplained++;
	RIOV_LOG_RL(RIOV_LOG_ERR, "%s: DMAR fault at 0x%" PRIx64 " (reason 0x%02x) which domain %u "
		    "maps: its VFIO container is out of sync; pushing the domain again", a->pci, f->addr,
		    f->reason, a->did);
	(void)riov_assign_sync(a);
	return 0;
}
