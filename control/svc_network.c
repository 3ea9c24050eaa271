/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Network: networks (one L2 switch each in the dataplane) in the desired state. A
 * network's VXLAN overlay (its vni and remote VTEPs, Network.AddVtep/DeleteVtep) is
 * svc_fabric.c's, its MAC table (static MACs, Network.AddMac/DeleteMac/ListMacs, aging)
 * svc_mac.c's.
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h), but their content is untrusted: a network name is checked by the
 * dataplane (riov_dp_net_add: letters, digits, '-', '_', '.', bounded length) before it is kept,
 * an MTU outside 68-9000 is refused, the vni and vteps are checked by svc_fabric.c, the static
 * MACs by svc_mac.c, and names are
 * printed with a bound (%.80s) where they may be long.
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

int svc_net_index(const struct riov_service *svc, const char *name)
{
	for (unsigned i = 0; i < svc->n_nets; i++)
		if (strcmp(svc->nets[i]->name, name) == 0)
			return (int)i;
	return -1;
}

int svc_net_add(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err, size_t errlen)
{
	const char *name = str_or_empty(in->name);
	int rc;

	if (svc_net_index(svc, name) >= 0) {
		snprintf(err, errlen, "network %s already exists", name);
		return -EEXIST;
	}
	if (in->mtu != 0 && (in->mtu < RIOV_DP_MTU_MIN || in->mtu > RIOV_DP_MTU_MAX)) {
		snprintf(err, errlen, "network %s: MTU %u is outside %d-%d (leave it out for %d)", name,
			 in->mtu, RIOV_DP_MTU_MIN, RIOV_DP_MTU_MAX, RIOV_DP_MTU_DEFAULT);
		return -EINVAL;
	}
	if ((rc = svc_net_fabric_check(svc, in, err, errlen)) != 0 ||
	    (rc = svc_evpn_net_check(svc, in, err, errlen)) != 0 ||
	    (rc = svc_net_macs_check(svc, in, err, errlen)) != 0)
		return rc;
	rc = riov_dp_net_add(svc->dp, name);
	if (rc == -EINVAL)
		snprintf(err, errlen, "bad network name '%.80s': use 1-%d letters, digits, '-', '_' or '.'",
			 name, RIOV_DP_NAME_MAX - 1);
	else if (rc == -EEXIST)
		snprintf(err, errlen, "network %s already exists", name);
	else if (rc == -ENOSPC)
		snprintf(err, errlen, "too many networks (at most %d)", RIOV_DP_MAX_NETS);
	else if (rc != 0)
		snprintf(err, errlen, "network %s: %s", name, strerror(-rc));
	if (rc != 0)
		return rc;
	if ((rc = svc_net_fabric_apply(svc, in, err, errlen)) != 0) {
		riov_dp_net_del(svc->dp, name);
		return rc;
	}
	if ((rc = svc_net_macs_apply(svc, in, err, errlen)) != 0 ||
	    (rc = svc_evpn_net_apply(svc, in, err, errlen)) != 0) {
		svc_net_fabric_remove(svc, in);
		riov_dp_net_del(svc->dp, name);
		return rc;
	}
	Riov__V1__NetworkSpec *spec = svc_msg_dup(&in->base);
	if (spec == NULL) {
		svc_net_fabric_remove(svc, in);
		riov_dp_net_del(svc->dp, name);
		snprintf(err, errlen, "network %s: out of memory", name);
		return -ENOMEM;
	}
	if (spec->mtu == 0)
		spec->mtu = RIOV_DP_MTU_DEFAULT;
	svc->nets[svc->n_nets++] = spec;
	return 0;
}

/* ------------------------------------------------------------------ RPC */

Riov__V1__NetworkInfo *svc_net_info(struct riov_rpc_call *call, struct riov_service *svc,
				    Riov__V1__NetworkSpec *spec)
{
	Riov__V1__NetworkInfo *ni = CALL_NEW(call, Riov__V1__NetworkInfo, riov__v1__network_info__init);
	struct riov_dp_net_info di = { 0 };

	if (ni == NULL)
		return NULL;
	riov_dp_net_info(svc->dp, spec->name, &di);
	ni->spec = spec;
	ni->mode = (char *)(spec->evpn ? "evpn" : spec->vni ? "static" : "local");
	ni->ports = di.ports;
	ni->macs = di.macs;
	if (svc_net_vtep_infos(call, svc, spec->name, ni) != 0)
		return NULL;
	return ni;
}

/* Undo of an add: the last network goes from the dataplane and the desired state. */
static void net_add_undo(struct riov_service *svc, void *arg)
{
	Riov__V1__NetworkSpec *spec = svc->nets[--svc->n_nets];

	svc_net_fabric_remove(svc, spec);
	riov_dp_net_del(svc->dp, spec->name);
	riov__v1__network_spec__free_unpacked(spec, NULL);
}

static int h_net_add(struct riov_rpc_call *call, const ProtobufCMessage *reqm, ProtobufCMessage **resp,
		     char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__NetworkAddRequest *req = (const void *)reqm;
	int rc;

	if (req->network == NULL) {
		snprintf(msg, msglen, "Network.Add needs a network (name, optional mtu, vni and vteps)");
		return -EINVAL;
	}
	rc = svc_net_add(svc, req->network, msg, msglen);
	if (rc != 0)
		return rc;
	rc = svc_save_or_undo(svc, net_add_undo, NULL, msg, msglen, "network %s was not added",
			      req->network->name);
	if (rc != 0)
		return rc;
	RIOV_LOG(RIOV_LOG_NOTICE, "network %s added by %s", req->network->name,
		 riov_rpc_call_peer(call));
	Riov__V1__NetworkAddResponse *r = CALL_NEW(call, Riov__V1__NetworkAddResponse,
						   riov__v1__network_add_response__init);
	if (r == NULL)
		return -ENOMEM;
	r->network = svc_net_info(call, svc, svc->nets[svc->n_nets - 1]);
	*resp = &r->base;
	return 0;
}

static int h_net_delete(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__NetworkDeleteRequest *req = (const void *)reqm;
	const char *name = str_or_empty(req->name);
	char names[160] = "";
	unsigned users = 0;
	size_t off = 0;
	int i, rc;

	i = svc_net_index(svc, name);
	if (i < 0) {
		snprintf(msg, msglen, "network %s does not exist", name[0] ? name : "(no name given)");
		return -ENOENT;
	}
	for (unsigned k = 0; k < svc->n_ports; k++) {
		if (strcmp(svc->ports[k]->net, name) != 0)
			continue;
		if (off < sizeof(names) - 1)
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s", users ? ", " : "",
						svc->ports[k]->name);
		users++;
	}
	if (users) {
		snprintf(msg, msglen, "network %s still has %u port%s (%s): delete them first", name, users,
			 users == 1 ? "" : "s", names);
		return -EBUSY;
	}
	/* state first: once it is saved the delete is acknowledged whatever happens next */
	Riov__V1__NetworkSpec *spec = svc->nets[i];
	struct svc_slot slot = { (void **)svc->nets, &svc->n_nets, (unsigned)i, spec };
	remove_at(slot.arr, slot.n, slot.i);
	rc = svc_save_or_undo(svc, svc_slot_restore, &slot, msg, msglen, "network %s was not deleted",
			      name);
	if (rc != 0)
		return rc;
	/* its remote VTEPs are part of its spec: they go with it */
	svc_net_fabric_remove(svc, spec);
	rc = riov_dp_net_del(svc->dp, name);
	if (rc != 0)
		RIOV_LOG(RIOV_LOG_ERR, "network %s: removed from the state but the dataplane refused: %s",
			 name, strerror(-rc));
	RIOV_LOG(RIOV_LOG_NOTICE, "network %s deleted by %s", name, riov_rpc_call_peer(call));
	riov__v1__network_spec__free_unpacked(spec, NULL);
	return 0;
}

static int h_net_list(struct riov_rpc_call *call, const ProtobufCMessage *reqm, ProtobufCMessage **resp,
		      char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	Riov__V1__NetworkListResponse *r = CALL_NEW(call, Riov__V1__NetworkListResponse,
						    riov__v1__network_list_response__init);
	Riov__V1__NetworkInfo **v = riov_rpc_call_alloc(call, (svc->n_nets + 1) * sizeof(*v));

	if (r == NULL || v == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < svc->n_nets; i++)
		if ((v[i] = svc_net_info(call, svc, svc->nets[i])) == NULL)
			return -ENOMEM;
	r->n_networks = svc->n_nets;
	r->networks = v;
	*resp = &r->base;
	return 0;
}

static const struct svc_method network_methods[] = {
	SVC_METHOD(Network, add, ADMIN, h_net_add),
	SVC_METHOD(Network, delete, ADMIN, h_net_delete),
	SVC_METHOD(Network, list, READONLY, h_net_list),
	SVC_METHOD(Network, add_vtep, ADMIN, svc_h_net_add_vtep),      /* svc_fabric.c */
	SVC_METHOD(Network, delete_vtep, ADMIN, svc_h_net_delete_vtep),
	SVC_METHOD(Network, add_mac, ADMIN, svc_h_net_add_mac),        /* svc_mac.c */
	SVC_METHOD(Network, delete_mac, ADMIN, svc_h_net_delete_mac),
	SVC_METHOD(Network, list_macs, READONLY, svc_h_net_list_macs),
};
SVC_TABLE(svc_network_table, Network, network_methods);
