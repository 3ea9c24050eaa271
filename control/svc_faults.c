/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Faults: the VT-d fault log of the node's remapping unit (and the kernel's DMAR faults
 * of assigned functions, relayed into it by svc_device.c), and the fault reasons' names.
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h), but their content is untrusted: a device name only filters, the
 * number of records read per call is bounded (FAULTS_MAX) and the answer is built in the call's
 * memory.
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

#define FAULTS_MAX 4096u        /* records read from the fault log per call */

/* VT-d non-recoverable fault reasons (VT-d appendix A): label for Prometheus, text for people. */
const struct svc_fault_reason svc_fault_reasons[] = {
	{ RIOV_VTD_FR_ROOT_NOT_PRESENT, "root_not_present", "root entry not present" },
	{ RIOV_VTD_FR_CTX_NOT_PRESENT, "ctx_not_present", "context entry not present (no guest memory mapped for this device)" },
	{ RIOV_VTD_FR_CTX_INVALID, "ctx_invalid", "invalid context entry" },
	{ RIOV_VTD_FR_ADDR_BEYOND_AW, "addr_beyond_aw", "address beyond the domain's address width" },
	{ RIOV_VTD_FR_WRITE, "write", "write to a page that is not mapped writable" },
	{ RIOV_VTD_FR_READ, "read", "access to a page that is not mapped (or not readable)" },
	{ RIOV_VTD_FR_PTE_ADDR, "pte_addr", "page-table entry address invalid" },
	{ RIOV_VTD_FR_ROOT_ADDR, "root_addr", "root table address invalid" },
	{ RIOV_VTD_FR_CTX_ADDR, "ctx_addr", "context table address invalid" },
	{ RIOV_VTD_FR_ROOT_RSVD, "root_rsvd", "reserved bit set in a root entry" },
	{ RIOV_VTD_FR_CTX_RSVD, "ctx_rsvd", "reserved bit set in a context entry" },
	{ RIOV_VTD_FR_PTE_RSVD, "pte_rsvd", "reserved bit set in a page-table entry" },
	{ RIOV_VTD_FR_TT_BLOCKED, "tt_blocked", "translation type blocked" },
	{ RIOV_VTD_FR_IR_RSVD, "ir_rsvd", "interrupt request with reserved fields set" },
	{ RIOV_VTD_FR_IR_INDEX, "ir_index", "interrupt index beyond the remapping table" },
	{ RIOV_VTD_FR_IR_NOT_PRESENT, "ir_not_present", "interrupt-remapping entry not present" },
	{ RIOV_VTD_FR_IR_ROOT_ADDR, "ir_root_addr", "interrupt-remapping table address invalid" },
	{ RIOV_VTD_FR_IR_IRTE_RSVD, "ir_irte_rsvd", "reserved bit set in an interrupt-remapping entry" },
	{ RIOV_VTD_FR_IR_COMPAT, "ir_compat", "compatibility-format interrupt blocked" },
	{ RIOV_VTD_FR_IR_SID, "ir_sid", "interrupt source-id validation failed" },
};
const size_t svc_n_fault_reasons = sizeof(svc_fault_reasons) / sizeof(svc_fault_reasons[0]);

const char *svc_fault_text(unsigned code)
{
	for (size_t i = 0; i < svc_n_fault_reasons; i++)
		if (svc_fault_reasons[i].code == code)
			return svc_fault_reasons[i].text;
	return "unknown fault reason";
}

/* ------------------------------------------------------------------ RPC */

/* Name of the vhost port with source-id sid, or "". */
static const char *sid_owner(struct riov_service *svc, uint16_t sid)
{
	struct svc_assign *x = svc_asg_by_sid(svc, sid);
	if (x != NULL)
		return x->name;
	for (unsigned i = 0; i < svc->n_ports; i++) {
		struct riov_dp_port_info pi;
		if (riov_dp_port_info(svc->dp, svc->ports[i]->name, &pi) == 0 &&
		    pi.type == RIOV_DP_PORT_VHOST && pi.sid == sid)
			return svc->ports[i]->name;
	}
	size_t ai;
	int k = svc_dom_sid(svc, sid, &ai);
	return k >= 0 ? svc->doms[k]->devices[ai]->device : "";
}

static int h_faults_read(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__FaultsReadRequest *req = (const void *)reqm;
	const char *device = str_or_empty(req->device);
	struct riov_dp_port_info pi = { 0 };
	struct riov_vtd_fault_stats fs;
	size_t ai;
	int own = device[0] ? svc_dom_device(svc, device, &ai) : -1;
	struct riov_dp_port_info api;

	/* faults the kernel logged for assigned functions and riovd has not read yet */
	if (svc->kmsg != NULL)
		riov_kmsg_poll(svc->kmsg);
	if (own >= 0) {
		pi.type = RIOV_DP_PORT_VHOST; /* filter by the attached device's source-id below */
		pi.sid = (uint16_t)svc->doms[own]->devices[ai]->source_id;
	} else if (device[0] && svc_asg_target(svc, device, 0, &api) != NULL) {
		pi.type = RIOV_DP_PORT_VHOST; /* filter by the assigned function's source-id */
		pi.sid = api.sid;
	} else if (device[0]) {
		if (svc_port_index(svc, device) < 0 || riov_dp_port_info(svc->dp, device, &pi) != 0) {
			snprintf(msg, msglen, "port %s does not exist", device);
			return -ENOENT;
		}
	}
	struct riov_vtd_fault *rec = malloc(FAULTS_MAX * sizeof(*rec));
	if (rec == NULL)
		return -ENOMEM;
	size_t n = riov_vtd_faults_read(svc->vtd, rec, FAULTS_MAX, false);
	Riov__V1__FaultsReadResponse *r = CALL_NEW(call, Riov__V1__FaultsReadResponse,
						   riov__v1__faults_read_response__init);
	Riov__V1__Fault **v = riov_rpc_call_alloc(call, (n + 1) * sizeof(*v));
	if (r == NULL || v == NULL) {
		free(rec);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (device[0] && (pi.type != RIOV_DP_PORT_VHOST || rec[i].sid != pi.sid))
			continue;
		if (req->max && r->n_faults == req->max)
			break;
		Riov__V1__Fault *f = CALL_NEW(call, Riov__V1__Fault, riov__v1__fault__init);
		if (f == NULL) {
			free(rec);
			return -ENOMEM;
		}
		struct riov_vtd_context_info ci;
		f->seq = i + 1; /* position in the log, oldest first */
		f->device = (char *)sid_owner(svc, rec[i].sid);
		f->source_id = rec[i].sid;
		if (!rec[i].is_ir && riov_vtd_context_get(svc->vtd, rec[i].sid, &ci) == 0 && ci.present)
			f->domain_id = ci.did;
		f->address = rec[i].addr;
		f->reason = rec[i].reason;
		f->reason_text = (char *)svc_fault_text(rec[i].reason);
		f->write = rec[i].is_write;
		f->interrupt = rec[i].is_ir;
		f->count = (uint32_t)(rec[i].count > UINT32_MAX ? UINT32_MAX : rec[i].count);
		v[r->n_faults++] = f;
	}
	free(rec);
	riov_vtd_fault_stats(svc->vtd, &fs);
	r->faults = v;
	r->overflow = riov_vtd_fault_overflowed(svc->vtd);
	r->dropped = fs.overflow;
	*resp = &r->base;
	return 0;
}

static int h_faults_clear(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__FaultsClearRequest *req = (const void *)reqm;
	struct riov_vtd_fault rec[64];
	size_t k, total = 0;

	if (req->device != NULL && req->device[0] != '\0') {
		snprintf(msg, msglen, "the VT-d fault log is cleared as a whole, like the hardware's fault "
			 "recording registers: run 'riovctl faults clear' without a device");
		return -EOPNOTSUPP;
	}
	while ((k = riov_vtd_faults_read(svc->vtd, rec, 64, true)) > 0)
		total += k;
	Riov__V1__FaultsClearResponse *r = CALL_NEW(call, Riov__V1__FaultsClearResponse,
						    riov__v1__faults_clear_response__init);
	if (r == NULL)
		return -ENOMEM;
	r->cleared = (uint32_t)total;
	RIOV_LOG(RIOV_LOG_NOTICE, "%zu fault record(s) cleared by %s", total, riov_rpc_call_peer(call));
	*resp = &r->base;
	return 0;
}

static const struct svc_method faults_methods[] = {
	SVC_METHOD(Faults, read, READONLY, h_faults_read),
	SVC_METHOD(Faults, clear, ADMIN, h_faults_clear),
};
SVC_TABLE(svc_faults_table, Faults, faults_methods);
