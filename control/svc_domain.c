/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Domain: DMA-remapping domains of the node's VT-d unit, shown and probed for every
 * device, created, mapped and attached over the API.
 *
 * Besides the vhost ports' own domains (built by the dataplane from each guest's memory table),
 * the node's VT-d unit holds domains created with Domain.Create, their mappings (Domain.Map/
 * Unmap), the source-ids attached to them (Domain.Attach) and interrupt-remapping entries for
 * those devices (Interrupt.*). They are desired state: kept as DomainSpec/InterruptSetting in the
 * state file and replayed at start. The identifiers the dataplane owns (service_internal.h) are
 * never touched. Targets of these mappings are only ever handed back (Show, probe): no riov
 * device reads or writes through them, and a vhost port's source-id can never be pointed at them,
 * so an admin cannot make riovd's dataplane touch arbitrary memory.
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h), but their content is untrusted: ids, addresses, sizes and
 * permissions are checked for range, alignment, overlap and the page-table budget before the
 * unit is changed. riovd's own virtual addresses (the "host physical" side of the vhost ports'
 * and assigned functions' domains: guest memory and packet memory as riovd maps them) are shown
 * to admin clients only: Domain.Show leaves their targets 0 for read-only clients, and
 * Domain.TranslateProbe is admin-only. A read-only call changes nothing, and a probe is a real
 * translation with the device's source-id (the VT-d model has no translation that does not
 * record its fault), so a read-only client could fill the fault log that real guest faults need:
 * hence admin-only rather than readonly. Domain.Map on an
 * assigned function's domain only puts back riovd's packet memory at its own IOVAs, never a host
 * address from a client.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "control/service_internal.h"

RIOV_LOG_COMPONENT("riovd", RIOV_LOG_INFO);

#define DOMAIN_MAPPINGS_MAX 32768u
#define OWN_MAPPINGS_MAX 4096u           /* Domain.Map entries kept per domain */
#define OWN_TABLES_MAX 16384u            /* page-table pages a domain may hold (64 MiB) */

int svc_dom_index(const struct riov_service *svc, uint32_t did)
{
	for (unsigned i = 0; i < svc->n_doms; i++)
		if (svc->doms[i]->domain_id == did)
			return (int)i;
	return -1;
}

int svc_dom_device(const struct riov_service *svc, const char *name, size_t *ai)
{
	for (unsigned i = 0; i < svc->n_doms; i++)
		for (size_t k = 0; k < svc->doms[i]->n_devices; k++)
			if (strcmp(svc->doms[i]->devices[k]->device, name) == 0) {
				if (ai)
					*ai = k;
				return (int)i;
			}
	return -1;
}

int svc_dom_sid(const struct riov_service *svc, uint32_t sid, size_t *ai)
{
	for (unsigned i = 0; i < svc->n_doms; i++)
		for (size_t k = 0; k < svc->doms[i]->n_devices; k++)
			if (svc->doms[i]->devices[k]->source_id == sid) {
				if (ai)
					*ai = k;
				return (int)i;
			}
	return -1;
}

/* Page-table pages a mapping may need at most (leaf tables of 4 KiB pages where iova and target
 * do not share 2 MiB alignment, directories where they do not share 1 GiB alignment). */
static uint64_t tables_needed(uint64_t iova, uint64_t target, uint64_t size)
{
	if (((iova ^ target) & ((1ull << 21) - 1)) != 0)
		return (size >> 21) + 8;
	if (((iova ^ target) & ((1ull << 30) - 1)) != 0)
		return (size >> 30) + 8;
	return (size >> 39) + 8;
}

/* Check mapping m against domain d and enter it into the unit and into d->mappings.
 * Returns 0 or -errno with err filled; on failure nothing changed. */
static int own_map(struct riov_service *svc, Riov__V1__DomainSpec *d, const Riov__V1__DomainMapping *m,
		   char *err, size_t errlen)
{
	const uint64_t page = 4096, aw_top = 1ull << d->address_width;
	unsigned perm = (m->read ? RIOV_VTD_READ : 0) | (m->write ? RIOV_VTD_WRITE : 0);
	struct riov_vtd_domain_info info;
	int rc;

	if (m->size == 0 || (m->iova | m->size | m->target) & (page - 1)) {
		snprintf(err, errlen, "domain %u: iova (0x%" PRIx64 ") and target (0x%" PRIx64 ") must be 4 KiB "
			 "aligned and the size (0x%" PRIx64 ") a non-zero multiple of 4 KiB", d->domain_id,
			 m->iova, m->target, m->size);
		return -EINVAL;
	}
	if (perm == 0) {
		snprintf(err, errlen, "domain %u: a mapping needs read and/or write permission", d->domain_id);
		return -EINVAL;
	}
	if (m->iova >= aw_top || m->size > aw_top - m->iova) {
		snprintf(err, errlen, "domain %u: [0x%" PRIx64 ", 0x%" PRIx64 ") is beyond its %u-bit address "
			 "width", d->domain_id, m->iova, m->iova + m->size, d->address_width);
		return -ERANGE;
	}
	if (m->target >= (1ull << 48) || m->size > (1ull << 48) - m->target) {
		snprintf(err, errlen, "domain %u: target [0x%" PRIx64 ", +0x%" PRIx64 ") is beyond the 48-bit "
			 "host address width", d->domain_id, m->target, m->size);
		return -ERANGE;
	}
	for (size_t i = 0; i < d->n_mappings; i++) {
		const Riov__V1__DomainMapping *o = d->mappings[i];
		if (m->iova < o->iova + o->size && o->iova < m->iova + m->size) {
			snprintf(err, errlen, "domain %u: [0x%" PRIx64 ", 0x%" PRIx64 ") overlaps the mapping "
				 "[0x%" PRIx64 ", 0x%" PRIx64 "): unmap it first", d->domain_id, m->iova,
				 m->iova + m->size, o->iova, o->iova + o->size);
			return -EEXIST;
		}
	}
	if (d->n_mappings >= OWN_MAPPINGS_MAX) {
		snprintf(err, errlen, "domain %u has %u mappings, the most riovd keeps per domain",
			 d->domain_id, OWN_MAPPINGS_MAX);
		return -ENOSPC;
	}
	if (riov_vtd_domain_info(svc->vtd, (uint16_t)d->domain_id, &info) != 0)
		info.table_pages = 0;
	if (info.table_pages + tables_needed(m->iova, m->target, m->size) > OWN_TABLES_MAX) {
		snprintf(err, errlen, "domain %u: mapping 0x%" PRIx64 " bytes at this alignment would need more "
			 "than %u page-table pages; align iova and target alike to 2 MiB or 1 GiB, or map less",
			 d->domain_id, m->size, OWN_TABLES_MAX);
		return -E2BIG;
	}
	Riov__V1__DomainMapping **v = realloc(d->mappings, (d->n_mappings + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	d->mappings = v;
	Riov__V1__DomainMapping *copy = malloc(sizeof(*copy));
	if (copy == NULL)
		return -ENOMEM;
	riov__v1__domain_mapping__init(copy);
	copy->iova = m->iova;
	copy->size = m->size;
	copy->target = m->target;
	copy->read = m->read;
	copy->write = m->write;
	rc = riov_vtd_map(svc->vtd, (uint16_t)d->domain_id, m->iova, m->target, m->size, perm);
	if (rc != 0) {
		free(copy);
		if (rc == -EEXIST)
			snprintf(err, errlen, "domain %u: part of [0x%" PRIx64 ", 0x%" PRIx64 ") is mapped already",
				 d->domain_id, m->iova, m->iova + m->size);
		else if (rc == -ENOMEM)
			snprintf(err, errlen, "domain %u: out of memory for page tables", d->domain_id);
		else if (rc == -ENOSPC)
			snprintf(err, errlen, "domain %u: mapping 0x%" PRIx64 " bytes at this "
				 "alignment would exceed the domain's page-table limit in the VT-d "
				 "model; align iova and target alike to 2 MiB or 1 GiB, or map less",
				 d->domain_id, m->size);
		else
			snprintf(err, errlen, "domain %u: the remapping unit refused the mapping: %s",
				 d->domain_id, strerror(-rc));
		return rc;
	}
	/* CM=1 unit: a walk that found nothing may be cached; drop it (VT-d 6.1) */
	riov_vtd_inv_iotlb_domain(svc->vtd, (uint16_t)d->domain_id);
	d->mappings[d->n_mappings++] = copy;
	return 0;
}

/* Attach at to domain d: context entry of its source-id -> d. Returns 0 or -errno with err. */
static int own_attach(struct riov_service *svc, Riov__V1__DomainSpec *d, const Riov__V1__DomainAttachment *at,
		      char *err, size_t errlen)
{
	const char *name = str_or_empty(at->device);
	size_t ai;
	int k, rc;

	if (!svc_valid_name(name)) {
		snprintf(err, errlen, "bad device name '%.80s': use 1-%d letters, digits, '-', '_' or '.'", name,
			 RIOV_DP_NAME_MAX - 1);
		return -EINVAL;
	}
	if (svc_port_index(svc, name) >= 0) {
		snprintf(err, errlen, "port %s is attached to its own domain by riovd (built from its guest's "
			 "memory table); it cannot be attached to domain %u", name, d->domain_id);
		return -EBUSY;
	}
	if (at->source_id > UINT16_MAX) {
		snprintf(err, errlen, "source-id 0x%x is not a PCI requester id (bus << 8 | devfn, at most "
			 "0xffff)", at->source_id);
		return -EINVAL;
	}
	if (at->source_id >= DP_SID_FIRST && at->source_id <= DP_SID_LAST) {
		snprintf(err, errlen, "source-ids 0x%x-0x%x (buses 0xfc-0xff) belong to vhost ports' devices; give "
			 "another --source-id", DP_SID_FIRST, DP_SID_LAST);
		return -EBUSY;
	}
	if ((k = svc_dom_device(svc, name, &ai)) >= 0) {
		snprintf(err, errlen, "device %s is attached to domain %u already (source-id 0x%x)", name,
			 svc->doms[k]->domain_id, svc->doms[k]->devices[ai]->source_id);
		return k == svc_dom_index(svc, d->domain_id) ? -EEXIST : -EBUSY;
	}
	if ((k = svc_dom_sid(svc, at->source_id, &ai)) >= 0) {
		snprintf(err, errlen, "source-id 0x%x is device %s's, attached to domain %u", at->source_id,
			 svc->doms[k]->devices[ai]->device, svc->doms[k]->domain_id);
		return -EBUSY;
	}
	const char *who = NULL;
	if (svc_asg_sid_used(svc, at->source_id, &who) || svc_asg_index(svc, name) >= 0) {
		snprintf(err, errlen, "%s is an assigned PCI function (%s) with its own domain: riovd "
			 "manages its context entry", svc_asg_index(svc, name) >= 0 ? name : "that source-id",
			 who ? who : name);
		return -EBUSY;
	}
	Riov__V1__DomainAttachment **v = realloc(d->devices, (d->n_devices + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	d->devices = v;
	Riov__V1__DomainAttachment *copy = malloc(sizeof(*copy));
	char *dn = strdup(name);
	if (copy == NULL || dn == NULL) {
		free(copy);
		free(dn);
		return -ENOMEM;
	}
	riov__v1__domain_attachment__init(copy);
	copy->device = dn;
	copy->source_id = at->source_id;
	rc = riov_vtd_context_set(svc->vtd, (uint16_t)at->source_id, (uint16_t)d->domain_id,
				  RIOV_VTD_TT_MULTI_LEVEL, false);
	if (rc != 0) {
		free(dn);
		free(copy);
		snprintf(err, errlen, "domain %u: the remapping unit refused the context entry: %s",
			 d->domain_id, strerror(-rc));
		return rc;
	}
	riov_vtd_inv_context_device(svc->vtd, (uint16_t)at->source_id);
	d->devices[d->n_devices++] = copy;
	return 0;
}

/* Remove domain index i from the unit and the desired state (contexts cleared first). */
static void own_remove(struct riov_service *svc, unsigned i)
{
	Riov__V1__DomainSpec *d = svc->doms[i];

	for (size_t k = 0; k < d->n_devices; k++) {
		riov_vtd_context_clear(svc->vtd, (uint16_t)d->devices[k]->source_id);
		riov_vtd_inv_context_device(svc->vtd, (uint16_t)d->devices[k]->source_id);
	}
	riov_vtd_inv_iotlb_domain(svc->vtd, (uint16_t)d->domain_id);
	riov_vtd_domain_destroy(svc->vtd, (uint16_t)d->domain_id);
	riov_vtd_ids_release(svc->dids, d->domain_id);
	remove_at((void **)svc->doms, &svc->n_doms, i);
	riov__v1__domain_spec__free_unpacked(d, NULL);
}

/* Mark Domain.Create's domain id *id used: a free one of the API's range when *id is 0, else *id
 * if it is free. Returns 0, or -errno with err filled (the same refusals riovctl has always
 * printed: the vhost ports' ids, an assigned function's, an existing domain's). */
static int dom_did_take(struct riov_service *svc, uint32_t *id, char *err, size_t errlen)
{
	int rc;

	if (*id == 0) {
		rc = riov_vtd_ids_alloc(svc->dids, RIOV_VTD_DID_API_ALLOC, RIOV_VTD_DID_API_LAST, id);
		if (rc != 0) {
			snprintf(err, errlen, "no free domain id (%u-%u are all in use)",
				 RIOV_VTD_DID_API_ALLOC, RIOV_VTD_DID_API_LAST);
			return -ENOSPC;
		}
		return 0;
	}
	if (*id > UINT16_MAX) {
		snprintf(err, errlen, "domain id %u is out of range (1-65535; 0 allocates one)", *id);
		return -EINVAL;
	}
	rc = riov_vtd_ids_take(svc->dids, *id);
	if (rc == -EINVAL) {
		snprintf(err, errlen, "domain ids %u-%u and 0x%x-0x%x belong to vhost ports' DMA domains "
			 "(riovd builds them from each guest's memory table); use %u-%u, or 0 to have one "
			 "allocated", RIOV_VTD_DID_PORT_FIRST, RIOV_VTD_DID_PORT_LAST,
			 RIOV_VTD_DID_PORT_S1_FIRST, RIOV_VTD_DID_PORT_S1_LAST, RIOV_VTD_DID_API_FIRST,
			 RIOV_VTD_DID_API_LAST);
		return -EBUSY;
	}
	if (rc == -EBUSY && svc_asg_by_did(svc, *id) != NULL) {
		snprintf(err, errlen, "domain %u belongs to an assigned PCI function (riovctl device "
			 "list)", *id);
		return -EBUSY;
	}
	if (rc == -EBUSY) {
		snprintf(err, errlen, "domain %u already exists", *id);
		return -EEXIST;
	}
	return rc;
}

/* Create a domain from a spec (its mappings and devices too) in the unit and the desired state
 * (not saved). domain_id 0 allocates one. Returns 0 with *did, or -errno with err; on failure
 * nothing changed. */
int svc_dom_create(struct riov_service *svc, const Riov__V1__DomainSpec *in, uint32_t *did, char *err,
		   size_t errlen)
{
	const char *name = str_or_empty(in->name);
	uint32_t id = in->domain_id, aw = in->address_width ? in->address_width : 48;
	int rc;

	if (in->nested) {
		snprintf(err, errlen, "nested domains are built by riovd for vhost ports whose guest runs a "
			 "vIOMMU; Domain.Create makes second-stage domains only (leave --nested out)");
		return -EOPNOTSUPP;
	}
	if (aw != 39 && aw != 48) {
		snprintf(err, errlen, "address width %u is not supported by this node's remapping unit "
			 "(39 or 48 bits)", aw);
		return -EINVAL;
	}
	if (name[0] && !svc_valid_name(name)) {
		snprintf(err, errlen, "bad domain name '%.80s': use 1-%d letters, digits, '-', '_' or '.'", name,
			 RIOV_DP_NAME_MAX - 1);
		return -EINVAL;
	}
	for (unsigned i = 0; name[0] && i < svc->n_doms; i++)
		if (strcmp(str_or_empty(svc->doms[i]->name), name) == 0) {
			snprintf(err, errlen, "domain %u is named %s already", svc->doms[i]->domain_id, name);
			return -EEXIST;
		}
	if (svc->n_doms >= OWN_DOMAINS_MAX) {
		snprintf(err, errlen, "too many domains (at most %u created over the API)", OWN_DOMAINS_MAX);
		return -ENOSPC;
	}
	if ((rc = dom_did_take(svc, &id, err, errlen)) != 0)
		return rc;
	rc = riov_vtd_domain_create(svc->vtd, (uint16_t)id, (aw - 12) / 9);
	if (rc != 0) {
		riov_vtd_ids_release(svc->dids, id);
		if (rc == -EEXIST)
			snprintf(err, errlen, "domain %u already exists", id);
		else
			snprintf(err, errlen, "domain %u: the remapping unit refused it: %s", id,
				 strerror(-rc));
		return rc;
	}
	Riov__V1__DomainSpec *d = malloc(sizeof(*d));
	char *dn = strdup(name);
	if (d == NULL || dn == NULL) {
		free(d);
		free(dn);
		riov_vtd_domain_destroy(svc->vtd, (uint16_t)id);
		riov_vtd_ids_release(svc->dids, id);
		snprintf(err, errlen, "domain %u: out of memory", id);
		return -ENOMEM;
	}
	riov__v1__domain_spec__init(d);
	d->domain_id = id;
	d->name = dn;
	d->address_width = aw;
	svc->doms[svc->n_doms++] = d;
	for (size_t i = 0; i < in->n_mappings; i++)
		if ((rc = own_map(svc, d, in->mappings[i], err, errlen)) != 0)
			goto undo;
	for (size_t i = 0; i < in->n_devices; i++)
		if ((rc = own_attach(svc, d, in->devices[i], err, errlen)) != 0)
			goto undo;
	*did = id;
	return 0;
undo:
	own_remove(svc, svc->n_doms - 1);
	return rc;
}

/* ------------------------------------------------------------------ RPC: Show, TranslateProbe */

/* The vhost port a Domain request names: by device (wins) or by domain id. */
static int domain_target(struct riov_service *svc, const char *device, uint32_t did,
			 struct riov_dp_port_info *pi, const char **pname, char *msg, size_t msglen)
{
	*pname = NULL;
	memset(pi, 0, sizeof(*pi));
	if (device[0]) {
		if (svc_port_index(svc, device) < 0 || riov_dp_port_info(svc->dp, device, pi) != 0) {
			snprintf(msg, msglen, "port %s does not exist", device);
			return -ENOENT;
		}
		if (pi->type != RIOV_DP_PORT_VHOST) {
			snprintf(msg, msglen, "port %s is an eth port without assign: its DMA goes through "
				 "DPDK's own VFIO container, not a riov domain", device);
			return -EINVAL;
		}
		*pname = svc->ports[svc_port_index(svc, device)]->name;
		return 0;
	}
	if (did == 0 || did > UINT16_MAX) {
		snprintf(msg, msglen, "name the domain by a vhost port or by a domain id 1-65535");
		return -EINVAL;
	}
	for (unsigned i = 0; i < svc->n_ports; i++) {
		struct riov_dp_port_info x;
		if (riov_dp_port_info(svc->dp, svc->ports[i]->name, &x) == 0 &&
		    x.type == RIOV_DP_PORT_VHOST && x.did == did) {
			*pi = x;
			*pname = svc->ports[i]->name;
			break;
		}
	}
	pi->did = (uint16_t)did;
	return 0;
}

struct walk_acc {
	struct riov_rpc_call *call;
	Riov__V1__DomainMapping **v;
	size_t n, cap;
	bool nomem;
	bool hide_target; /* riovd's own addresses, to a read-only client: left 0 */
};

static void walk_count(void *arg, uint64_t iova, uint64_t hpa, uint64_t len, unsigned perm)
{
	(*(size_t *)arg)++;
}

static void walk_fill(void *arg, uint64_t iova, uint64_t hpa, uint64_t len, unsigned perm)
{
	struct walk_acc *a = arg;

	if (a->n == a->cap || a->nomem)
		return;
	Riov__V1__DomainMapping *m = CALL_NEW(a->call, Riov__V1__DomainMapping,
					      riov__v1__domain_mapping__init);
	if (m == NULL) {
		a->nomem = true;
		return;
	}
	m->iova = iova;
	m->size = len;
	m->target = a->hide_target ? 0 : hpa;
	m->read = (perm & RIOV_VTD_READ) != 0;
	m->write = (perm & RIOV_VTD_WRITE) != 0;
	a->v[a->n++] = m;
}

static int h_domain_show(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainShowRequest *req = (const void *)reqm;
	struct riov_dp_port_info pi;
	struct riov_vtd_domain_info info;
	const char *pname, *device = str_or_empty(req->device);
	uint32_t did = req->domain_id;
	int rc, own = device[0] ? svc_dom_device(svc, device, NULL) : svc_dom_index(svc, did);

	if (own >= 0 && device[0]) {
		device = "";
		did = svc->doms[own]->domain_id;
	}
	struct svc_assign *ax = own >= 0 ? NULL : svc_asg_target(svc, device, did, &pi);
	if (ax != NULL) {
		pname = ax->name;
	} else {
		rc = domain_target(svc, device, did, &pi, &pname, msg, msglen);
		if (rc != 0)
			return rc;
	}
	if (riov_vtd_domain_info(svc->vtd, pi.did, &info) != 0) {
		if (pname)
			snprintf(msg, msglen, "port %s has no DMA domain yet: domain %u is built when its guest "
				 "connects and sends its memory table", pname, pi.did);
		else
			snprintf(msg, msglen, "domain %u does not exist", pi.did);
		return -ENOENT;
	}
	Riov__V1__DomainShowResponse *r = CALL_NEW(call, Riov__V1__DomainShowResponse,
						   riov__v1__domain_show_response__init);
	Riov__V1__DomainSpec *d = CALL_NEW(call, Riov__V1__DomainSpec, riov__v1__domain_spec__init);
	if (r == NULL || d == NULL)
		return -ENOMEM;
	d->domain_id = info.did;
	d->name = (char *)(pname ? pname : "");
	d->address_width = 12 + 9 * info.levels;
	size_t n = 0;
	riov_vtd_domain_walk(svc->vtd, pi.did, walk_count, &n);
	struct walk_acc a = { .call = call, .cap = n < DOMAIN_MAPPINGS_MAX ? n : DOMAIN_MAPPINGS_MAX,
			      .hide_target = own < 0 && riov_rpc_call_role(call) != RIOV_ROLE_ADMIN };
	a.v = riov_rpc_call_alloc(call, (a.cap + 1) * sizeof(*a.v));
	if (a.v == NULL)
		return -ENOMEM;
	riov_vtd_domain_walk(svc->vtd, pi.did, walk_fill, &a);
	if (a.nomem)
		return -ENOMEM;
	d->mappings = a.v;
	d->n_mappings = a.n;
	if (own >= 0) {
		/* shallow: the desired state outlives the call */
		d->name = (char *)str_or_empty(svc->doms[own]->name);
		d->devices = svc->doms[own]->devices;
		d->n_devices = svc->doms[own]->n_devices;
	}
	if (pname) {
		struct riov_vtd_context_info ci;
		if (riov_vtd_context_get(svc->vtd, pi.sid, &ci) == 0 && ci.present && ci.did == pi.did) {
			Riov__V1__DomainAttachment *at = CALL_NEW(call, Riov__V1__DomainAttachment,
								  riov__v1__domain_attachment__init);
			Riov__V1__DomainAttachment **atv = riov_rpc_call_alloc(call, sizeof(*atv));
			if (at == NULL || atv == NULL)
				return -ENOMEM;
			at->device = (char *)pname;
			at->source_id = pi.sid;
			atv[0] = at;
			d->devices = atv;
			d->n_devices = 1;
			d->nested = ci.nested;
		}
		struct riov_dp_port_stats st;
		if (ax != NULL) {
			struct riov_assign_info ai;
			riov_assign_get_info(ax->a, &ai);
			r->faults = ai.hw_faults; /* the real IOMMU's, as the kernel reported them */
		} else if (riov_dp_port_stats(svc->dp, pname, &st) == 0) {
			r->iotlb_hits = st.iotlb_hits;
			r->iotlb_misses = st.iotlb_misses;
			r->faults = st.dma_faults;
		}
	}
	r->domain = d;
	*resp = &r->base;
	return 0;
}

static int h_domain_probe(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainTranslateProbeRequest *req = (const void *)reqm;
	struct riov_dp_port_info pi;
	const char *pname, *device = str_or_empty(req->device);
	size_t ai = 0;
	int rc, own = device[0] ? svc_dom_device(svc, device, &ai) : svc_dom_index(svc, req->domain_id);

	if (own >= 0) {
		/* a domain made with Domain.Create: translate as its (named, else first) device */
		Riov__V1__DomainSpec *d = svc->doms[own];
		if (d->n_devices == 0) {
			snprintf(msg, msglen, "domain %u has no device attached: a probe translates as a device "
				 "(riovctl domain attach DEVICE --id %u --source-id BDF)", d->domain_id,
				 d->domain_id);
			return -EBUSY;
		}
		memset(&pi, 0, sizeof(pi));
		pi.did = (uint16_t)d->domain_id;
		pi.sid = (uint16_t)d->devices[ai]->source_id;
		pname = d->devices[ai]->device;
		goto probe;
	}
	struct svc_assign *ax = svc_asg_target(svc, device, req->domain_id, &pi);
	if (ax != NULL) {
		/* an assigned function: translate as it (the model; the real IOMMU is not asked) */
		pname = ax->name;
		goto probe;
	}
	rc = domain_target(svc, device, req->domain_id, &pi, &pname, msg, msglen);
	if (rc != 0)
		return rc;
	if (pname == NULL) {
		snprintf(msg, msglen, "no vhost port uses domain %u: a probe translates as a device, name "
			 "the port (riovctl domain probe PORT --iova ADDR)", pi.did);
		return -EINVAL;
	}
	struct riov_vtd_domain_info info;
	if (riov_vtd_domain_info(svc->vtd, pi.did, &info) != 0) {
		/* refused rather than probed: the walk would only record a "not present" fault */
		snprintf(msg, msglen, "port %s has no DMA domain yet: domain %u is built when its guest "
			 "connects and sends its memory table", pname, pi.did);
		return -ENOENT;
	}
probe:;
	Riov__V1__DomainTranslateProbeResponse *r = CALL_NEW(
		call, Riov__V1__DomainTranslateProbeResponse,
		riov__v1__domain_translate_probe_response__init);
	if (r == NULL)
		return -ENOMEM;
	/* A private cursor with the port's source-id: the same walk, IOTLB and fault reporting as
	 * the port's own DMA. The VT-d API has no non-recording translate, so a failing probe leaves
	 * a fault record with the port's source-id (documented in docs/api.md). */
	struct riov_vtd_cursor cur;
	void *hva = NULL;
	uint64_t mapped = 0;
	riov_vtd_cursor_init(&cur, svc->vtd, pi.sid);
	rc = riov_vtd_translate(&cur, req->iova, req->length ? req->length : 1,
				req->write ? RIOV_VTD_WRITE : RIOV_VTD_READ, &hva, &mapped);
	if (rc == 0) {
		r->ok = true;
		r->target = (uint64_t)(uintptr_t)hva;
		r->mapped_length = mapped;
	} else {
		r->fault_reason = (uint32_t)-rc;
		r->fault = (char *)svc_fault_text((unsigned)-rc);
	}
	*resp = &r->base;
	return 0;
}

/* ------------------------------------------------------------------ RPC: Domain.Create/Map/Unmap/Attach */

/* The API-created domain a Map/Unmap/Attach names. Returns its index, or -errno with msg. */
static int own_target(struct riov_service *svc, const char *device, uint32_t did, const char *method,
		      char *msg, size_t msglen)
{
	int k;

	if (device[0]) {
		if (svc_port_index(svc, device) >= 0) {
			snprintf(msg, msglen, "port %s's DMA domain is built by riovd from its guest's memory "
				 "table and cannot be changed with %s; create a domain (riovctl domain create) "
				 "for other devices", device, method);
			return -EBUSY;
		}
		if ((k = svc_dom_device(svc, device, NULL)) < 0) {
			snprintf(msg, msglen, "device %s does not exist (neither a port nor a device attached "
				 "with 'riovctl domain attach')", device);
			return -ENOENT;
		}
		return k;
	}
	if (did == 0 || did > UINT16_MAX) {
		snprintf(msg, msglen, "name the domain by a device or by a domain id 1-65535");
		return -EINVAL;
	}
	if (riov_vtd_ids_owner(svc->dids, did) != NULL) {
		snprintf(msg, msglen, "domain %u is a vhost port's DMA domain (ids %u-%u and 0x%x-0x%x), "
			 "built by riovd from its guest's memory table; %s works on domains made with "
			 "'riovctl domain create'", did, RIOV_VTD_DID_PORT_FIRST, RIOV_VTD_DID_PORT_LAST,
			 RIOV_VTD_DID_PORT_S1_FIRST, RIOV_VTD_DID_PORT_S1_LAST, method);
		return -EBUSY;
	}
	if ((k = svc_dom_index(svc, did)) < 0) {
		snprintf(msg, msglen, "domain %u does not exist (riovctl domain create --id %u)", did, did);
		return -ENOENT;
	}
	return k;
}

/* Undo of Domain.Create: the last domain goes. */
static void own_remove_last(struct riov_service *svc, void *arg)
{
	own_remove(svc, svc->n_doms - 1);
}

static int h_domain_create(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			   ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainCreateRequest *req = (const void *)reqm;
	uint32_t did = 0;
	int rc;

	if (req->domain == NULL) {
		snprintf(msg, msglen, "Domain.Create needs a domain (domain_id 0 allocates one)");
		return -EINVAL;
	}
	rc = svc_dom_create(svc, req->domain, &did, msg, msglen);
	if (rc != 0)
		return rc;
	rc = svc_save_or_undo(svc, own_remove_last, NULL, msg, msglen, "domain %u was not created", did);
	if (rc != 0)
		return rc;
	RIOV_LOG(RIOV_LOG_NOTICE, "domain %u created by %s", did, riov_rpc_call_peer(call));
	Riov__V1__DomainCreateResponse *r = CALL_NEW(call, Riov__V1__DomainCreateResponse,
						     riov__v1__domain_create_response__init);
	if (r == NULL)
		return -ENOMEM;
	r->domain_id = did;
	*resp = &r->base;
	return 0;
}

/* Domain.Map on an assigned function's domain. Not desired state: the domain is riovd's (the
 * port's packet memory, the guest's memory), rebuilt when the function is assigned again. */
static int asg_domain_map(struct riov_service *svc, struct svc_assign *x, const Riov__V1__DomainMapping *m,
			  struct riov_rpc_call *call, char *msg, size_t msglen)
{
	unsigned perm = (m->read ? RIOV_VTD_READ : 0) | (m->write ? RIOV_VTD_WRITE : 0);
	struct riov_assign_info ai;

	riov_assign_get_info(x->a, &ai);
	if (x->spec != NULL) {
		snprintf(msg, msglen, "device %s's domain %u holds its guest's memory, which riovd maps "
			 "itself; Domain.Map takes no host addresses for assigned functions", x->name, ai.did);
		return -EOPNOTSUPP;
	}
	if (m->size == 0 || ((m->iova | m->size | m->target) & 4095) || perm == 0) {
		snprintf(msg, msglen, "domain %u: iova, target and size must be 4 KiB aligned, the size "
			 "non-zero, and read and/or write given", ai.did);
		return -EINVAL;
	}
	bool ok = false;
	for (size_t i = 0; i < x->n_mem && !ok; i++) {
		const struct riov_vtd_range *r = &x->mem[i];
		ok = m->iova >= r->iova && m->size <= r->len && m->iova - r->iova <= r->len - m->size &&
		     m->target == r->hva + (m->iova - r->iova);
	}
	if (!ok) {
		snprintf(msg, msglen, "port %s's domain %u maps riovd's packet memory only, each page at the "
			 "IOVA riovd gave it (target = that page's address): [0x%" PRIx64 ", +0x%" PRIx64 ") -> "
			 "0x%" PRIx64 " is not such a range", x->name, ai.did, m->iova, m->size, m->target);
		return -EINVAL;
	}
	int rc = riov_assign_map(x->a, m->iova, m->target, m->size, perm);
	if (rc == -EEXIST) {
		snprintf(msg, msglen, "domain %u: part of [0x%" PRIx64 ", 0x%" PRIx64 ") is mapped already",
			 ai.did, m->iova, m->iova + m->size);
		return rc;
	}
	if (rc != 0) {
		snprintf(msg, msglen, "domain %u: %s", ai.did, strerror(-rc));
		return rc;
	}
	RIOV_LOG(RIOV_LOG_NOTICE, "%s: domain %u: 0x%" PRIx64 "+0x%" PRIx64 " mapped back by %s", x->name,
		 ai.did, m->iova, m->size, riov_rpc_call_peer(call));
	return 0;
}

static int asg_domain_unmap(struct riov_service *svc, struct svc_assign *x, uint64_t iova, uint64_t size,
			    struct riov_rpc_call *call, ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_vtd_domain_info before, after;
	struct riov_assign_info ai;

	riov_assign_get_info(x->a, &ai);
	if (size == 0 || ((iova | size) & 4095) || iova + size < iova) {
		snprintf(msg, msglen, "domain %u: iova 0x%" PRIx64 " and size 0x%" PRIx64 " must be 4 KiB "
			 "aligned and the size non-zero", ai.did, iova, size);
		return -EINVAL;
	}
	if (riov_vtd_domain_info(svc->vtd, ai.did, &before) != 0)
		return -ENOENT;
	/* clip to the domain's address width: unmapping holes is not an error */
	uint64_t top = 1ull << (12 + 9 * before.levels);
	if (iova >= top)
		size = 0;
	else if (size > top - iova)
		size = top - iova;
	int rc = size ? riov_assign_unmap(x->a, iova, size) : 0;
	if (rc != 0) {
		snprintf(msg, msglen, "domain %u: %s", ai.did, strerror(-rc));
		return rc;
	}
	riov_vtd_domain_info(svc->vtd, ai.did, &after);
	Riov__V1__DomainUnmapResponse *r = CALL_NEW(call, Riov__V1__DomainUnmapResponse,
						    riov__v1__domain_unmap_response__init);
	if (r == NULL)
		return -ENOMEM;
	r->unmapped = before.mapped_bytes - after.mapped_bytes;
	RIOV_LOG(RIOV_LOG_NOTICE, "%s: domain %u: 0x%" PRIx64 "+0x%" PRIx64 " unmapped by %s (%" PRIu64
		 " bytes; its VFIO container follows)", x->name, ai.did, iova, size, riov_rpc_call_peer(call),
		 r->unmapped);
	*resp = &r->base;
	return 0;
}

/* Undo of Domain.Map on domain arg: its last mapping goes. */
static void own_unmap_last(struct riov_service *svc, void *arg)
{
	Riov__V1__DomainSpec *d = arg;
	Riov__V1__DomainMapping *m = d->mappings[--d->n_mappings];

	riov_vtd_unmap(svc->vtd, (uint16_t)d->domain_id, m->iova, m->size);
	riov_vtd_inv_iotlb_domain(svc->vtd, (uint16_t)d->domain_id);
	free(m);
}

static int h_domain_map(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainMapRequest *req = (const void *)reqm;
	struct riov_dp_port_info api;
	int k, rc;

	struct svc_assign *ax = svc_asg_target(svc, str_or_empty(req->device), req->domain_id, &api);
	if (ax != NULL) {
		if (req->mapping == NULL) {
			snprintf(msg, msglen, "Domain.Map needs a mapping (iova, size, target, read/write)");
			return -EINVAL;
		}
		return asg_domain_map(svc, ax, req->mapping, call, msg, msglen);
	}

	k = own_target(svc, str_or_empty(req->device), req->domain_id, "Domain.Map", msg, msglen);
	if (k < 0)
		return k;
	if (req->mapping == NULL) {
		snprintf(msg, msglen, "Domain.Map needs a mapping (iova, size, target, read/write)");
		return -EINVAL;
	}
	Riov__V1__DomainSpec *d = svc->doms[k];
	rc = own_map(svc, d, req->mapping, msg, msglen);
	if (rc != 0)
		return rc;
	rc = svc_save_or_undo(svc, own_unmap_last, d, msg, msglen, "domain %u: not mapped", d->domain_id);
	if (rc != 0)
		return rc;
	RIOV_LOG(RIOV_LOG_NOTICE, "domain %u: 0x%" PRIx64 "+0x%" PRIx64 " mapped by %s", d->domain_id,
		 req->mapping->iova, req->mapping->size, riov_rpc_call_peer(call));
	return 0;
}

/* Domain.Unmap of an API-created domain: its new mapping list (nv, n entries; fresh[j] for the
 * pieces made here) beside the old one, kept if the state is saved. */
struct unmap_change {
	Riov__V1__DomainSpec *d;
	Riov__V1__DomainMapping **ov, **nv;
	size_t on, n;
	bool *fresh;
	uint64_t unmapped;   /* bytes of mappings in the range */
};

static void unmap_free_new(struct unmap_change *u)
{
	for (size_t j = 0; u->nv != NULL && u->fresh != NULL && j < u->n; j++)
		if (u->fresh[j])
			free(u->nv[j]);
	free(u->nv);
	free(u->fresh);
}

/* The new mapping list: every mapping of u->d minus [lo, hi), split where the range cuts it.
 * Returns 0 or -ENOMEM (nothing allocated then). */
static int unmap_split(struct unmap_change *u, uint64_t lo, uint64_t hi)
{
	Riov__V1__DomainSpec *d = u->d;
	size_t cap = d->n_mappings + 2;

	u->nv = calloc(cap, sizeof(*u->nv));
	u->fresh = calloc(cap, sizeof(*u->fresh));
	if (u->nv == NULL || u->fresh == NULL)
		goto nomem;
	for (size_t i = 0; i < d->n_mappings; i++) {
		Riov__V1__DomainMapping *m = d->mappings[i];
		uint64_t mlo = m->iova, mhi = m->iova + m->size;
		if (mhi <= lo || mlo >= hi) {
			u->nv[u->n++] = m;
			continue;
		}
		uint64_t clo = mlo > lo ? mlo : lo, chi = mhi < hi ? mhi : hi;
		u->unmapped += chi - clo;
		for (int part = 0; part < 2; part++) {
			uint64_t plo = part ? chi : mlo, phi = part ? mhi : clo;
			if (phi <= plo)
				continue;
			if (u->n == cap) /* only one mapping can be cut at each end */
				goto nomem;
			Riov__V1__DomainMapping *p = malloc(sizeof(*p));
			if (p == NULL)
				goto nomem;
			*p = *m;
			p->iova = plo;
			p->size = phi - plo;
			p->target = m->target + (plo - mlo);
			u->fresh[u->n] = true;
			u->nv[u->n++] = p;
		}
	}
	return 0;
nomem:
	unmap_free_new(u);
	return -ENOMEM;
}

/* Undo of Domain.Unmap: the old mapping list is back. */
static void unmap_undo(struct riov_service *svc, void *arg)
{
	struct unmap_change *u = arg;

	u->d->mappings = u->ov;
	u->d->n_mappings = u->on;
	unmap_free_new(u);
}

/* After the save: free the old mappings the new list does not keep. */
static void unmap_keep(struct unmap_change *u)
{
	for (size_t x = 0; x < u->on; x++) {
		bool kept = false;
		for (size_t j = 0; j < u->n && !kept; j++)
			kept = u->nv[j] == u->ov[x];
		if (!kept)
			free(u->ov[x]);
	}
	free(u->ov);
	free(u->fresh);
}

static int h_domain_unmap(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainUnmapRequest *req = (const void *)reqm;
	uint64_t lo = req->iova, hi = req->iova + req->size;
	struct riov_dp_port_info api;
	int k, rc;

	struct svc_assign *ax = svc_asg_target(svc, str_or_empty(req->device), req->domain_id, &api);
	if (ax != NULL)
		return asg_domain_unmap(svc, ax, req->iova, req->size, call, resp, msg, msglen);

	k = own_target(svc, str_or_empty(req->device), req->domain_id, "Domain.Unmap", msg, msglen);
	if (k < 0)
		return k;
	Riov__V1__DomainSpec *d = svc->doms[k];
	if (req->size == 0 || ((req->iova | req->size) & 4095) || hi < lo) {
		snprintf(msg, msglen, "domain %u: iova 0x%" PRIx64 " and size 0x%" PRIx64 " must be 4 KiB "
			 "aligned and the size non-zero", d->domain_id, req->iova, req->size);
		return -EINVAL;
	}
	struct unmap_change u = { .d = d, .ov = d->mappings, .on = d->n_mappings };
	if (unmap_split(&u, lo, hi) != 0)
		return -ENOMEM;
	if (u.unmapped == 0) {
		free(u.nv);
		free(u.fresh);
		return 0; /* unmapping holes is not an error (as in the VT-d model): unmapped = 0 */
	}
	/* state first, like a delete: once saved the unmap is acknowledged */
	d->mappings = u.nv;
	d->n_mappings = u.n;
	rc = svc_save_or_undo(svc, unmap_undo, &u, msg, msglen, "domain %u: not unmapped", d->domain_id);
	if (rc != 0)
		return rc;
	unmap_keep(&u);
	rc = riov_vtd_unmap(svc->vtd, (uint16_t)d->domain_id, lo, req->size);
	riov_vtd_inv_iotlb_domain(svc->vtd, (uint16_t)d->domain_id);
	if (rc != 0)
		RIOV_LOG(RIOV_LOG_ERR, "domain %u: unmap of 0x%" PRIx64 "+0x%" PRIx64 " saved but the unit "
			 "failed: %s", d->domain_id, lo, req->size, strerror(-rc));
	RIOV_LOG(RIOV_LOG_NOTICE, "domain %u: 0x%" PRIx64 "+0x%" PRIx64 " unmapped by %s", d->domain_id,
		 lo, req->size, riov_rpc_call_peer(call));
	Riov__V1__DomainUnmapResponse *r = CALL_NEW(call, Riov__V1__DomainUnmapResponse,
						    riov__v1__domain_unmap_response__init);
	if (r == NULL)
		return -ENOMEM;
	r->unmapped = u.unmapped;
	*resp = &r->base;
	return 0;
}

/* Undo of Domain.Attach on domain arg: its last device is detached. */
static void own_detach_last(struct riov_service *svc, void *arg)
{
	Riov__V1__DomainSpec *d = arg;
	Riov__V1__DomainAttachment *at = d->devices[--d->n_devices];

	riov_vtd_context_clear(svc->vtd, (uint16_t)at->source_id);
	riov_vtd_inv_context_device(svc->vtd, (uint16_t)at->source_id);
	riov__v1__domain_attachment__free_unpacked(at, NULL);
}

static int h_domain_attach(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			   ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainAttachRequest *req = (const void *)reqm;
	int k, rc;

	if (req->attachment == NULL) {
		snprintf(msg, msglen, "Domain.Attach needs an attachment (device name and source-id)");
		return -EINVAL;
	}
	k = own_target(svc, "", req->domain_id, "Domain.Attach", msg, msglen);
	if (k < 0)
		return k;
	Riov__V1__DomainSpec *d = svc->doms[k];
	rc = own_attach(svc, d, req->attachment, msg, msglen);
	if (rc != 0)
		return rc;
	rc = svc_save_or_undo(svc, own_detach_last, d, msg, msglen, "domain %u: not attached",
			      d->domain_id);
	if (rc != 0)
		return rc;
	RIOV_LOG(RIOV_LOG_NOTICE, "device %s (source-id 0x%x) attached to domain %u by %s",
		 req->attachment->device, req->attachment->source_id, d->domain_id, riov_rpc_call_peer(call));
	return 0;
}

static const struct svc_method domain_methods[] = {
	SVC_METHOD(Domain, show, READONLY, h_domain_show),
	SVC_METHOD(Domain, map, ADMIN, h_domain_map),
	SVC_METHOD(Domain, unmap, ADMIN, h_domain_unmap),
	SVC_METHOD(Domain, translate_probe, ADMIN, h_domain_probe), /* see the top: records faults */
	SVC_METHOD(Domain, create, ADMIN, h_domain_create),
	SVC_METHOD(Domain, attach, ADMIN, h_domain_attach),
};
SVC_TABLE(svc_domain_table, Domain, domain_methods);
