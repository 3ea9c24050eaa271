/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Config: write the state file now, show the running or the saved desired state.
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h); they carry no more than a flag. The saved state is read back
 * through the state store's integrity check (SHA-256) and decoded by protobuf-c into the call's
 * memory. Config.Show is read-only: a damaged state file is reported to the caller and left as
 * it is (riov_state_store_peek); riovd's running state is unaffected and the next save replaces
 * the file.
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

#include "control/service_internal.h"
#include "control/state_store.h"

static int h_config_save(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	Riov__V1__State st;
	int rc = svc_state_save(svc, msg, msglen);

	if (rc != 0)
		return rc;
	Riov__V1__ConfigSaveResponse *r = CALL_NEW(call, Riov__V1__ConfigSaveResponse,
						   riov__v1__config_save_response__init);
	if (r == NULL)
		return -ENOMEM;
	svc_state_build(svc, &st, svc->generation);
	r->path = (char *)riov_state_store_path(svc->store);
	r->bytes = riov__v1__state__get_packed_size(&st);
	r->generation = svc->generation;
	*resp = &r->base;
	return 0;
}

static int h_config_show(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__ConfigShowRequest *req = (const void *)reqm;
	Riov__V1__ConfigShowResponse *r = CALL_NEW(call, Riov__V1__ConfigShowResponse,
						   riov__v1__config_show_response__init);
	Riov__V1__State *st;

	if (r == NULL)
		return -ENOMEM;
	r->path = (char *)riov_state_store_path(svc->store);
	if (!req->saved) {
		st = riov_rpc_call_alloc(call, sizeof(*st));
		if (st == NULL)
			return -ENOMEM;
		svc_state_build(svc, st, svc->generation);
	} else {
		void *buf = NULL;
		size_t len = 0;
		/* read-only: a corrupt file is reported, never moved aside (riovd's start does that) */
		int rc = riov_state_store_peek(svc->store, &buf, &len, msg, msglen);
		if (rc == -ENOENT) {
			snprintf(msg, msglen, "there is no state file at %s yet", riov_state_store_path(svc->store));
			return rc;
		}
		if (rc == -EBADMSG) {
			size_t n = strlen(msg);
			snprintf(msg + n, msglen - n, "; riovd's running state is unaffected, the next "
				 "change or Config.Save replaces the file");
		}
		if (rc != 0)
			return rc;
		st = riov__v1__state__unpack(riov_rpc_call_allocator(call), len, buf);
		free(buf);
		if (st == NULL) {
			snprintf(msg, msglen, "%s does not hold a riov.v1.State", riov_state_store_path(svc->store));
			return -EBADMSG;
		}
	}
	r->state = st;
	*resp = &r->base;
	return 0;
}

static const struct svc_method config_methods[] = {
	SVC_METHOD(Config, save, ADMIN, h_config_save),
	SVC_METHOD(Config, show, READONLY, h_config_show),
};
SVC_TABLE(svc_config_table, Config, config_methods);
