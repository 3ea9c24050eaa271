/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riovd's control service (see service.h): its life cycle (create, listen, destroy), the list of
 * the services it serves and their registration with the RPC server, and helpers the services
 * share. Each riov.proto service is a file of its own (svc_*.c, see service_internal.h).
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h), but their content is still untrusted: names, paths, counts and
 * enum values are checked by the services or the dataplane before use, strings are never trusted
 * to be short, and every refusal says what to change. Each svc_*.c says what it checks. The role
 * each method needs is declared once, in its service's table beside its handler.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "control/config.h"
#include "control/metrics_http.h"
#include "control/service_internal.h"
#include "control/state_store.h"

RIOV_LOG_COMPONENT("riovd", RIOV_LOG_INFO);

/* ------------------------------------------------------------------ small helpers */

void *svc_msg_dup(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);
	if (buf == NULL)
		return NULL;
	protobuf_c_message_pack(m, buf);
	ProtobufCMessage *c = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
	free(buf);
	return c;
}

bool svc_valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= RIOV_DP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

/* ------------------------------------------------------------------ services */

const struct svc_table *const svc_tables[] = {
	&svc_network_table,   &svc_port_table,   &svc_domain_table,
	&svc_interrupt_table, &svc_device_table, &svc_faults_table,
	&svc_metrics_table,   &svc_config_table,    &svc_log_table,
};
const size_t svc_n_tables = sizeof(svc_tables) / sizeof(svc_tables[0]);

int svc_register_all(struct riov_rpc_server *rpc, char *err, size_t errlen)
{
	for (size_t t = 0; t < svc_n_tables; t++) {
		for (size_t i = 0; i < svc_tables[t]->n; i++) {
			const struct svc_method *e = &svc_tables[t]->methods[i];
			const struct riov_method *m = riov_method_get(e->id);
			int rc;

			if (m == NULL) {
				snprintf(err, errlen, "method %u of service %s is not in the catalog",
					 e->id.index, e->id.service);
				return -EINVAL;
			}
			if (m->stream)
				rc = riov_rpc_register_stream(rpc, m->name, e->role, e->handler, m->req,
							      1000);
			else
				rc = riov_rpc_register(rpc, m->name, e->role, e->handler, m->req);
			if (rc != 0) {
				snprintf(err, errlen, "cannot register %s: %s", m->name, strerror(-rc));
				return rc;
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ lifecycle */

int riov_service_create(const struct riov_service_params *p, struct riov_service **out, char *err,
			size_t errlen)
{
	struct riov_service *svc = calloc(1, sizeof(*svc));
	int rc;

	if (svc == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	svc->cfg = p->cfg;
	svc->dp = p->dp;
	svc->vtd = riov_dp_vtd(p->dp);
	svc->base = p->base;
	clock_gettime(CLOCK_MONOTONIC, &svc->started);
	if ((rc = svc_ids_create(svc)) != 0) {
		snprintf(err, errlen, "out of memory");
		free(svc);
		return rc;
	}
	rc = riov_state_store_open(p->cfg->state_dir, &svc->store, err, errlen);
	if (rc != 0) {
		svc_ids_destroy(svc);
		free(svc);
		return rc;
	}
	svc_fabric_start(svc); /* before the restore: it adds remote VTEPs */
	svc_mac_aging_start(svc);
	svc_rdma_start(svc);
	*out = svc;
	return 0;
}

int riov_service_listen(struct riov_service *svc, char *err, size_t errlen)
{
	const struct riov_config *c = svc->cfg;
	struct riov_rpc_config rc_cfg = {
		.unix_path = c->rpc_socket[0] ? c->rpc_socket : NULL,
		.tls_listen = c->rpc_listen[0] ? c->rpc_listen : NULL,
		.tls_cert = c->tls_cert,
		.tls_key = c->tls_key,
		.tls_ca = c->tls_ca,
		.tls_crl = c->tls_crl,
		.tls_roles = c->tls_roles,
		.max_conns = c->rpc_max_conns,
		.tls_max_conns = c->tls_max_conns,
		.tls_handshake_timeout_ms = c->tls_handshake_timeout_ms,
	};
	int rc;

	rc = riov_rpc_server_new(svc->base, &rc_cfg, &svc->rpc, err, errlen);
	if (rc != 0)
		return rc;
	riov_rpc_server_set_user(svc->rpc, svc);
	riov_rpc_server_set_node_info(svc->rpc, svc_node_info, svc);
	rc = svc_register_all(svc->rpc, err, errlen);
	if (rc != 0)
		return rc;
	if (rc_cfg.unix_path)
		RIOV_LOG(RIOV_LOG_NOTICE, "control API on unix:%s", rc_cfg.unix_path);
	if (rc_cfg.tls_listen)
		RIOV_LOG(RIOV_LOG_NOTICE, "control API on tls://%s (port %d)", rc_cfg.tls_listen,
			 riov_rpc_server_tls_port(svc->rpc));
	if (c->metrics_listen[0]) {
		rc = riov_metrics_http_start(svc->base, c->metrics_listen, svc_prometheus_collect, svc,
					     &svc->metrics, err, errlen);
		if (rc != 0)
			return rc;
		riov_metrics_http_set_limits(svc->metrics, c->metrics_max_conns,
					     c->metrics_timeout_ms);
		RIOV_LOG(RIOV_LOG_NOTICE, "Prometheus metrics on http://%s/metrics (port %d)",
			 c->metrics_listen, riov_metrics_http_port(svc->metrics));
	}
	return 0;
}

void riov_service_counts(const struct riov_service *svc, unsigned *nets, unsigned *ports)
{
	*nets = svc->n_nets;
	*ports = svc->n_ports;
}

void riov_service_destroy(struct riov_service *svc)
{
	if (svc == NULL)
		return;
	riov_metrics_http_stop(svc->metrics);
	if (svc->rpc)
		riov_rpc_server_free(svc->rpc);
	svc_rdma_stop(svc); /* links withdrawn from the workers before they are destroyed */
	svc_evpn_stop(svc);
	svc_fabric_stop(svc);
	svc_mac_aging_stop(svc);
	/* assigned functions: a port's device stops (the port goes) before its domain does */
	while (svc->n_asg > 0) {
		struct svc_assign *x = svc->asg[svc->n_asg - 1];
		if (x->spec == NULL)
			riov_dp_port_del(svc->dp, x->name);
		svc_asg_free(svc, x);
	}
	for (unsigned i = 0; i < svc->n_sriov; i++)
		riov__v1__sriov_spec__free_unpacked(svc->sriov[i], NULL); /* the VFs stay */
	riov_kmsg_close(svc->kmsg);
	riov_state_store_close(svc->store);
	for (unsigned i = 0; i < svc->n_ports; i++)
		riov__v1__port_spec__free_unpacked(svc->ports[i], NULL);
	for (unsigned i = 0; i < svc->n_nets; i++)
		riov__v1__network_spec__free_unpacked(svc->nets[i], NULL);
	for (unsigned i = 0; i < svc->n_doms; i++)
		riov__v1__domain_spec__free_unpacked(svc->doms[i], NULL);
	for (unsigned i = 0; i < svc->n_irqs; i++)
		riov__v1__interrupt_setting__free_unpacked(svc->irqs[i], NULL);
	svc_ids_destroy(svc);
	free(svc);
}
