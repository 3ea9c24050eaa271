/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VT-d identifiers riovd gives out over the API: the service's allocators (iommu/vtd_ids.c,
 * riovd's plan of who owns which id in iommu/vtd.h) and what assigned functions take from them,
 * domain ids and their MSI-X vectors' interrupt-remapping entries. Domain.Create and
 * Interrupt.Set take theirs in svc_domain.c and svc_interrupt.c, where their messages are.
 *
 * Security model: identifiers a client asks for are range-checked here before anything uses them
 * (svc_did_pick); the allocator checks every id against its space again.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "control/service_internal.h"

int svc_ids_create(struct riov_service *svc)
{
	int rc = riov_vtd_ids_create_dids(&svc->dids);

	if (rc == 0)
		rc = riov_vtd_ids_create_irtes(&svc->irtes);
	if (rc != 0)
		svc_ids_destroy(svc);
	return rc;
}

void svc_ids_destroy(struct riov_service *svc)
{
	riov_vtd_ids_destroy(svc->dids);
	riov_vtd_ids_destroy(svc->irtes);
	svc->dids = svc->irtes = NULL;
}

int svc_did_pick(struct riov_service *svc, uint32_t want, const char *name, uint16_t *did,
		 char *err, size_t errlen)
{
	uint32_t id;

	if (want != 0) {
		if (want < RIOV_VTD_DID_API_ALLOC || want > RIOV_VTD_DID_API_LAST) {
			snprintf(err, errlen, "%s: domain id %u is out of range: assigned functions take ids "
				 "%u-%u (0 allocates one)", name, want, RIOV_VTD_DID_API_ALLOC,
				 RIOV_VTD_DID_API_LAST);
			return -EINVAL;
		}
		if (riov_vtd_ids_take(svc->dids, want) != 0) {
			snprintf(err, errlen, "%s: domain %u exists already", name, want);
			return -EBUSY;
		}
		*did = (uint16_t)want;
		return 0;
	}
	if (riov_vtd_ids_alloc(svc->dids, RIOV_VTD_DID_API_ALLOC, RIOV_VTD_DID_API_LAST, &id) == 0) {
		*did = (uint16_t)id;
		return 0;
	}
	snprintf(err, errlen, "%s: no free domain id (%u-%u are all in use)", name,
		 RIOV_VTD_DID_API_ALLOC, RIOV_VTD_DID_API_LAST);
	return -ENOSPC;
}

int svc_irte_alloc(struct riov_service *svc, uint32_t *out, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		if (riov_vtd_ids_alloc(svc->irtes, RIOV_VTD_IRTE_API_FIRST, RIOV_VTD_IRTE_API_LAST,
				       &out[k]) != 0) {
			while (k-- > 0)
				riov_vtd_ids_release(svc->irtes, out[k]);
			return -ENOSPC;
		}
	return 0;
}

void svc_asg_ids_put(struct riov_service *svc, const struct svc_assign *x)
{
	struct riov_assign_info ai;
	uint32_t irte;
	uint64_t raised;

	for (unsigned v = 0; riov_assign_vector(x->a, v, &irte, &raised) == 0; v++)
		riov_vtd_ids_release(svc->irtes, irte);
	riov_assign_get_info(x->a, &ai);
	riov_vtd_ids_release(svc->dids, ai.did);
}
