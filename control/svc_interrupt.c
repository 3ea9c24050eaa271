/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Interrupt: interrupt-remapping entries of devices attached with Domain.Attach.
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h), but their content is untrusted: the device must be attached to
 * an API-created domain (never a vhost port or an assigned function, whose entries riovd
 * programs), vectors, guest vectors and IRTE indexes are range-checked, and an IRTE another
 * device or the dataplane uses is refused. Entries are programmed with source validation on the
 * device's source-id.
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

#define MSIX_VECTORS 2048u

static int irq_index(const struct riov_service *svc, const char *device, uint32_t vector)
{
	for (unsigned i = 0; i < svc->n_irqs; i++)
		if (svc->irqs[i]->vector == vector && strcmp(svc->irqs[i]->device, device) == 0)
			return (int)i;
	return -1;
}

/* The source-id of an interrupt's device. Returns 0, -EBUSY (a vhost port) or -ENOENT, err set. */
static int irq_device(const struct riov_service *svc, const char *device, uint16_t *sid, char *err,
		      size_t errlen)
{
	size_t ai;
	int k;

	if (device[0] && svc_port_index(svc, device) >= 0) {
		snprintf(err, errlen, "port %s's interrupt-remapping entries are programmed by riovd from its "
			 "guest's vrings; Interrupt.* manage devices attached with Domain.Attach", device);
		return -EBUSY;
	}
	if (device[0] && svc_asg_index(svc, device) >= 0) {
		snprintf(err, errlen, "%s is an assigned PCI function: riovd routes all its MSI-X vectors "
			 "through its own interrupt-remapping entries (riovctl device list shows them)", device);
		return -EBUSY;
	}
	k = svc_dom_device(svc, device, &ai);
	if (k < 0) {
		snprintf(err, errlen, "device %s is not attached to any domain (riovctl domain attach %s --id N "
			 "--source-id BDF)", device[0] ? device : "(no name given)", device[0] ? device : "DEV");
		return -ENOENT;
	}
	*sid = (uint16_t)svc->doms[k]->devices[ai]->source_id;
	return 0;
}

/* Program setting s into the unit: a remapped-format IRTE with source validation on the device's
 * source-id, or no entry while masked. */
static int irq_program(struct riov_service *svc, const Riov__V1__InterruptSetting *s, uint16_t sid)
{
	if (s->masked)
		return riov_vtd_irte_clear(svc->vtd, s->irte_index);
	struct riov_vtd_irte e = {
		.present = true,
		.vector = (uint8_t)s->guest_vector,
		.dest_id = s->dest_id,
		.svt = 1,
		.sid = sid,
		.eventfd = -1,
		.coalesce_count = s->coalesce_frames,
		.coalesce_usecs = s->coalesce_usecs,
	};
	return riov_vtd_irte_set(svc->vtd, s->irte_index, &e);
}

/* The IRTE a setting gets, marked used: `want`, or when want is 0 the one the setting holds
 * (held, 0 for a new setting) or a free one. Returns the index, or -errno with err filled. */
static int irq_irte_take(struct riov_service *svc, uint32_t want, uint32_t held, char *err,
			 size_t errlen)
{
	uint32_t idx = want ? want : held;

	if (idx == 0) {
		if (svc_irte_alloc(svc, &idx, 1) != 0) {
			snprintf(err, errlen, "no free interrupt-remapping entry (%u-%u are all in use)",
				 RIOV_VTD_IRTE_API_FIRST, RIOV_VTD_IRTE_API_LAST);
			return -ENOSPC;
		}
		return (int)idx;
	}
	if (idx < RIOV_VTD_IRTE_API_FIRST || idx > RIOV_VTD_IRTE_API_LAST) {
		snprintf(err, errlen, "interrupt-remapping entries %u-%u belong to vhost ports' vrings; "
			 "give --irte %u-%u, or leave it out to have one allocated",
			 RIOV_VTD_IRTE_PORT_FIRST, RIOV_VTD_IRTE_PORT_LAST, RIOV_VTD_IRTE_API_FIRST,
			 RIOV_VTD_IRTE_API_LAST);
		return -EBUSY;
	}
	if (idx == held || riov_vtd_ids_take(svc->irtes, idx) == 0)
		return (int)idx;
	/* in use: say by whom */
	for (unsigned i = 0; i < svc->n_irqs; i++)
		if (svc->irqs[i]->irte_index == idx) {
			snprintf(err, errlen, "interrupt-remapping entry %u is used by device %s vector %u",
				 idx, svc->irqs[i]->device, svc->irqs[i]->vector);
			return -EBUSY;
		}
	snprintf(err, errlen, "interrupt-remapping entry %u routes an assigned function's MSI-X "
		 "vector (riovctl device list)", idx);
	return -EBUSY;
}

int svc_irq_set(struct riov_service *svc, const Riov__V1__InterruptSetting *in,
		Riov__V1__InterruptSetting **old, char *err, size_t errlen)
{
	const char *device = str_or_empty(in->device);
	uint16_t sid;
	int rc, cur;

	*old = NULL;
	if ((rc = irq_device(svc, device, &sid, err, errlen)) != 0)
		return rc;
	if (in->vector >= MSIX_VECTORS) {
		snprintf(err, errlen, "vector %u is out of range (an MSI-X table has at most %u entries)",
			 in->vector, MSIX_VECTORS);
		return -EINVAL;
	}
	if (in->posted) {
		snprintf(err, errlen, "posted interrupts need a posted-interrupt descriptor of a guest riovd "
			 "runs; Interrupt.Set programs remapped-format entries only (leave --posted out)");
		return -EOPNOTSUPP;
	}
	if (in->guest_vector < 16 || in->guest_vector > 255) {
		snprintf(err, errlen, "guest vector %u is not usable: give --guest-vector 16-255", in->guest_vector);
		return -EINVAL;
	}
	cur = irq_index(svc, device, in->vector);
	uint32_t held = cur >= 0 ? svc->irqs[cur]->irte_index : 0;
	if ((rc = irq_irte_take(svc, in->irte_index, held, err, errlen)) < 0)
		return rc;
	uint32_t idx = (uint32_t)rc;
	bool fresh = cur < 0 || idx != held; /* idx marked by this call: released on failure */
	Riov__V1__InterruptSetting *s = NULL;
	if (cur < 0 && svc->n_irqs >= OWN_IRQS_MAX) {
		snprintf(err, errlen, "too many interrupt settings (at most %u)", OWN_IRQS_MAX);
		rc = -ENOSPC;
		goto fail;
	}
	if ((s = svc_msg_dup(&in->base)) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	s->irte_index = idx;
	s->raised = s->suppressed = 0;
	if ((rc = irq_program(svc, s, sid)) != 0) {
		snprintf(err, errlen, "the remapping unit refused entry %u: %s", idx, strerror(-rc));
		riov__v1__interrupt_setting__free_unpacked(s, NULL);
		goto fail;
	}
	if (cur >= 0) {
		*old = svc->irqs[cur];
		if (fresh) {
			riov_vtd_irte_clear(svc->vtd, held);
			riov_vtd_ids_release(svc->irtes, held);
		}
		svc->irqs[cur] = s;
	} else {
		svc->irqs[svc->n_irqs++] = s;
	}
	return 0;
fail:
	if (fresh)
		riov_vtd_ids_release(svc->irtes, idx);
	return rc;
}

/* ------------------------------------------------------------------ RPC */

/* Interrupt.Set's change: setting i (s) replaced old (NULL: it was added). */
struct irq_set_change {
	unsigned i;
	Riov__V1__InterruptSetting *s, *old;
};

/* Undo of Interrupt.Set: the old setting is back (and programmed), or the new one goes. */
static void irq_set_undo(struct riov_service *svc, void *arg)
{
	struct irq_set_change *c = arg;
	uint16_t sid = 0;
	char why[1];

	irq_device(svc, c->s->device, &sid, why, 0);
	riov_vtd_irte_clear(svc->vtd, c->s->irte_index);
	if (c->old == NULL || c->old->irte_index != c->s->irte_index)
		riov_vtd_ids_release(svc->irtes, c->s->irte_index);
	if (c->old) {
		if (c->old->irte_index != c->s->irte_index)
			riov_vtd_ids_take(svc->irtes, c->old->irte_index); /* freed by the set */
		svc->irqs[c->i] = c->old;
		irq_program(svc, c->old, sid);
	} else {
		remove_at((void **)svc->irqs, &svc->n_irqs, c->i);
	}
	riov__v1__interrupt_setting__free_unpacked(c->s, NULL);
}

static int h_irq_set(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		     ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__InterruptSetRequest *req = (const void *)reqm;
	Riov__V1__InterruptSetting *old;
	int rc;

	if (req->setting == NULL) {
		snprintf(msg, msglen, "Interrupt.Set needs a setting (device, vector, guest vector, ...)");
		return -EINVAL;
	}
	rc = svc_irq_set(svc, req->setting, &old, msg, msglen);
	if (rc != 0)
		return rc;
	int i = irq_index(svc, req->setting->device, req->setting->vector);
	Riov__V1__InterruptSetting *s = svc->irqs[i];
	struct irq_set_change c = { (unsigned)i, s, old };
	rc = svc_save_or_undo(svc, irq_set_undo, &c, msg, msglen, "interrupt not set");
	if (rc != 0)
		return rc;
	if (old)
		riov__v1__interrupt_setting__free_unpacked(old, NULL);
	RIOV_LOG(RIOV_LOG_NOTICE, "device %s vector %u: IRTE %u set by %s", s->device, s->vector,
		 s->irte_index, riov_rpc_call_peer(call));
	Riov__V1__InterruptSetResponse *r = CALL_NEW(call, Riov__V1__InterruptSetResponse,
						     riov__v1__interrupt_set_response__init);
	Riov__V1__InterruptSetting *copy = riov_rpc_call_alloc(call, sizeof(*copy));
	if (r == NULL || copy == NULL)
		return -ENOMEM;
	*copy = *s;
	r->setting = copy;
	*resp = &r->base;
	return 0;
}

/* irq_change's settings before the change: idx[j] was saved[j]. */
struct irq_change_undo {
	Riov__V1__InterruptSetting saved[64];
	unsigned idx[64], n;
	uint16_t sid;
};

/* Undo of Interrupt.Mask/Coalesce: the saved settings are back and programmed. */
static void irq_change_undo(struct riov_service *svc, void *arg)
{
	struct irq_change_undo *u = arg;

	for (unsigned j = 0; j < u->n; j++) {
		*svc->irqs[u->idx[j]] = u->saved[j];
		irq_program(svc, svc->irqs[u->idx[j]], u->sid);
	}
}

/* Apply fn to the device's settings (one vector, or all), program them and save; undone when the
 * state cannot be written. */
static int irq_change(struct riov_service *svc, const char *device, uint32_t vector, bool all,
		      void (*fn)(Riov__V1__InterruptSetting *s, const void *arg), const void *arg,
		      char *msg, size_t msglen)
{
	struct irq_change_undo u = { .n = 0 };
	int rc;

	if ((rc = irq_device(svc, device, &u.sid, msg, msglen)) != 0)
		return rc;
	for (unsigned i = 0; i < svc->n_irqs; i++) {
		if (strcmp(svc->irqs[i]->device, device) != 0 || (!all && svc->irqs[i]->vector != vector))
			continue;
		if (u.n == 64) {
			snprintf(msg, msglen, "device %s has more than 64 interrupt settings: change them one "
				 "vector at a time", device);
			return -E2BIG;
		}
		u.idx[u.n] = i;
		u.saved[u.n++] = *svc->irqs[i];
	}
	if (u.n == 0) {
		if (all)
			snprintf(msg, msglen, "device %s has no interrupt settings (riovctl interrupt set %s "
				 "VECTOR --guest-vector N)", device, device);
		else
			snprintf(msg, msglen, "device %s has no setting for vector %u (riovctl interrupt set %s "
				 "%u --guest-vector N)", device, vector, device, vector);
		return -ENOENT;
	}
	for (unsigned j = 0; j < u.n; j++) {
		fn(svc->irqs[u.idx[j]], arg);
		irq_program(svc, svc->irqs[u.idx[j]], u.sid);
	}
	return svc_save_or_undo(svc, irq_change_undo, &u, msg, msglen, "interrupts not changed");
}

static void set_masked(Riov__V1__InterruptSetting *s, const void *arg)
{
	s->masked = *(const bool *)arg;
}

static void set_coalesce(Riov__V1__InterruptSetting *s, const void *arg)
{
	const uint32_t *v = arg;
	s->coalesce_usecs = v[0];
	s->coalesce_frames = v[1];
}

static int h_irq_mask(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		      ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__InterruptMaskRequest *req = (const void *)reqm;
	bool m = req->masked;
	int rc = irq_change(svc, str_or_empty(req->device), req->vector, req->all_vectors, set_masked, &m,
			    msg, msglen);
	if (rc == 0)
		RIOV_LOG(RIOV_LOG_NOTICE, "device %s: interrupts %s by %s", req->device,
			 m ? "masked" : "unmasked", riov_rpc_call_peer(call));
	return rc;
}

static int h_irq_coalesce(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__InterruptCoalesceRequest *req = (const void *)reqm;
	uint32_t v[2] = { req->usecs, req->frames };

	return irq_change(svc, str_or_empty(req->device), req->vector, req->all_vectors, set_coalesce, v,
			  msg, msglen);
}

static int h_irq_list(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		      ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__InterruptListRequest *req = (const void *)reqm;
	const char *device = str_or_empty(req->device);
	uint16_t sid;
	int rc;

	if (device[0] && (rc = irq_device(svc, device, &sid, msg, msglen)) != 0)
		return rc;
	Riov__V1__InterruptListResponse *r = CALL_NEW(call, Riov__V1__InterruptListResponse,
						      riov__v1__interrupt_list_response__init);
	Riov__V1__InterruptSetting **v = riov_rpc_call_alloc(call, (svc->n_irqs + 1) * sizeof(*v));
	if (r == NULL || v == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < svc->n_irqs; i++)
		if (!device[0] || strcmp(svc->irqs[i]->device, device) == 0)
			v[r->n_interrupts++] = svc->irqs[i];
	r->interrupts = v;
	*resp = &r->base;
	return 0;
}

static const struct svc_method interrupt_methods[] = {
	SVC_METHOD(Interrupt, set, ADMIN, h_irq_set),
	SVC_METHOD(Interrupt, mask, ADMIN, h_irq_mask),
	SVC_METHOD(Interrupt, coalesce, ADMIN, h_irq_coalesce),
	SVC_METHOD(Interrupt, list, READONLY, h_irq_list),
};
SVC_TABLE(svc_interrupt_table, Interrupt, interrupt_methods);
