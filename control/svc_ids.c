/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VT-d identifiers riovd gives out over the API: domain ids for Domain.Create and assigned
 * functions, interrupt-remapping entries for Interrupt.Set and assigned functions' MSI-X vectors,
 * and the dataplane's ranges they stay out of (service_internal.h). Allocation scans the range for
 * the first identifier no user holds; these allocators are to move into iommu/.
 *
 * Security model: identifiers a client asks for are range-checked here before anything uses them
 * (svc_did_pick); the callers check the ones they take themselves.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "control/service_internal.h"

bool svc_did_dp_owned(uint32_t did)
{
	return (did >= 1 && did <= DP_DID_LAST) || did >= DP_S1_DID_FIRST;
}

/* A domain id an assignment holds or will hold (its desired id), whether assigned now or not. */
bool svc_did_assigned(const struct riov_service *svc, uint32_t did)
{
	for (unsigned i = 0; i < svc->n_asg; i++) {
		const struct svc_assign *x = svc->asg[i];
		struct riov_assign_info ai;
		if (x->spec != NULL && x->spec->domain_id == did)
			return true;
		if (x->a != NULL) {
			riov_assign_get_info(x->a, &ai);
			if (ai.did == did)
				return true;
		}
	}
	for (unsigned i = 0; i < svc->n_ports; i++)
		if (svc->ports[i]->assign && svc->ports[i]->domain_id == did)
			return true;
	return false;
}

int svc_did_alloc(const struct riov_service *svc, uint32_t *did)
{
	struct riov_vtd_domain_info x;

	for (uint32_t id = OWN_DID_FIRST; id <= OWN_DID_LAST; id++)
		if (svc_dom_index(svc, id) < 0 && !svc_did_assigned(svc, id) &&
		    riov_vtd_domain_info(svc->vtd, (uint16_t)id, &x) != 0) {
			*did = id;
			return 0;
		}
	return -ENOSPC;
}

int svc_did_pick(const struct riov_service *svc, uint32_t want, const char *name, uint16_t *did,
		 char *err, size_t errlen)
{
	struct riov_vtd_domain_info x;
	uint32_t id;

	if (want != 0) {
		if (want < OWN_DID_FIRST || want > OWN_DID_LAST) {
			snprintf(err, errlen, "%s: domain id %u is out of range: assigned functions take ids "
				 "%u-%u (0 allocates one)", name, want, OWN_DID_FIRST, OWN_DID_LAST);
			return -EINVAL;
		}
		if (svc_dom_index(svc, want) >= 0 ||
		    riov_vtd_domain_info(svc->vtd, (uint16_t)want, &x) == 0) {
			snprintf(err, errlen, "%s: domain %u exists already", name, want);
			return -EBUSY;
		}
		*did = (uint16_t)want;
		return 0;
	}
	if (svc_did_alloc(svc, &id) == 0) {
		*did = (uint16_t)id;
		return 0;
	}
	snprintf(err, errlen, "%s: no free domain id (%u-%u are all in use)", name, OWN_DID_FIRST,
		 OWN_DID_LAST);
	return -ENOSPC;
}

bool svc_irte_assigned(const struct riov_service *svc, uint32_t idx)
{
	for (unsigned i = 0; i < svc->n_asg; i++) {
		uint32_t irte;
		uint64_t raised;
		for (unsigned v = 0; svc->asg[i]->a != NULL &&
				     riov_assign_vector(svc->asg[i]->a, v, &irte, &raised) == 0; v++)
			if (irte == idx)
				return true;
	}
	return false;
}

bool svc_irte_used(const struct riov_service *svc, uint32_t idx)
{
	for (unsigned i = 0; i < svc->n_irqs; i++)
		if (svc->irqs[i]->irte_index == idx)
			return true;
	return svc_irte_assigned(svc, idx);
}

unsigned svc_irte_alloc(const struct riov_service *svc, uint32_t *out, unsigned n)
{
	unsigned k = 0;

	for (uint32_t idx = OWN_IRTE_FIRST; idx <= OWN_IRTE_LAST && k < n; idx++)
		if (!svc_irte_used(svc, idx))
			out[k++] = idx;
	return k;
}
