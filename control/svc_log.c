/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Log: the log levels of riovd's components (common/log.h), read and set at run time.
 * A change lasts until riovd stops; the start-up setting is riovd's log_level (or --log-level).
 *
 * Security model: the setting comes from an admin RPC client and is parsed by riov_log_set(),
 * which bounds its length and applies nothing unless every item is valid.
 *
 * Thread rules: control thread only (levels are atomics the workers read).
 */
#include <errno.h>
#include <stdio.h>

#include "common/log.h"
#include "control/service_internal.h"

RIOV_LOG_COMPONENT("riovd", RIOV_LOG_INFO);

#define LOG_COMPS_MAX 64u

/* Every component's level, in the call's memory. */
static int levels_list(struct riov_rpc_call *call, Riov__V1__LogComponent ***out, size_t *n_out)
{
	struct riov_log_info li[LOG_COMPS_MAX];
	size_t n = riov_log_levels(li, LOG_COMPS_MAX);
	Riov__V1__LogComponent **v;

	if (n > LOG_COMPS_MAX)
		n = LOG_COMPS_MAX;
	v = riov_rpc_call_alloc(call, (n ? n : 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		Riov__V1__LogComponent *c = CALL_NEW(call, Riov__V1__LogComponent,
						     riov__v1__log_component__init);
		if (c == NULL)
			return -ENOMEM;
		c->name = riov_rpc_call_strdup(call, li[i].name);
		c->level = (char *)riov_log_level_name(li[i].level);
		c->default_level = (char *)riov_log_level_name(li[i].default_level);
		if (c->name == NULL)
			return -ENOMEM;
		v[i] = c;
	}
	*out = v;
	*n_out = n;
	return 0;
}

static int h_log_levels(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			ProtobufCMessage **resp, char *msg, size_t msglen)
{
	Riov__V1__LogLevelsResponse *r = CALL_NEW(call, Riov__V1__LogLevelsResponse,
						  riov__v1__log_levels_response__init);
	int rc;

	if (r == NULL)
		return -ENOMEM;
	rc = levels_list(call, &r->components, &r->n_components);
	if (rc != 0)
		return rc;
	*resp = &r->base;
	return 0;
}

static int h_log_set(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		     ProtobufCMessage **resp, char *msg, size_t msglen)
{
	const Riov__V1__LogSetRequest *req = (const void *)reqm;
	Riov__V1__LogSetResponse *r;
	int rc;

	if (req->levels == NULL || req->levels[0] == '\0') {
		snprintf(msg, msglen, "no levels given (e.g. \"info\" or \"notice,vhost=debug\")");
		return -EINVAL;
	}
	rc = riov_log_set(req->levels, msg, msglen);
	if (rc != 0)
		return rc;
	RIOV_LOG(RIOV_LOG_NOTICE, "log levels \"%s\" set by %s", req->levels, riov_rpc_call_peer(call));
	r = CALL_NEW(call, Riov__V1__LogSetResponse, riov__v1__log_set_response__init);
	if (r == NULL)
		return -ENOMEM;
	rc = levels_list(call, &r->components, &r->n_components);
	if (rc != 0)
		return rc;
	*resp = &r->base;
	return 0;
}

static const struct svc_method log_methods[] = {
	SVC_METHOD(Log, levels, READONLY, h_log_levels),
	SVC_METHOD(Log, set, ADMIN, h_log_set),
};
SVC_TABLE(svc_log_table, Log, log_methods);
