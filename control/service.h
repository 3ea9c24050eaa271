/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riovd's control service: the desired state (networks with their VXLAN VNIs, remote VTEPs and
 * static MACs, ports, VT-d domains created through the API and interrupt settings, as riov.v1
 * specs), its
 * persistence in the state file, the RPC handlers that change and show it, and the Prometheus
 * collector. riovd.c starts it; the dataplane (dataplane/dp.h) and the VT-d unit do the work.
 * A library (control/service.c and one file per riov.proto service, control/svc_*.c; see
 * control/service_internal.h) without DPDK: what it needs of DPDK comes through dataplane/dp.h.
 *
 * Desired state and precedence: the state file (<state_dir>/state.pb), when present, is the
 * desired state and wins; the configuration file's networks and ports are applied only when there
 * is no state file (first start), and are then saved. The configuration file's daemon settings
 * (socket_dir, workers, ...) always apply, so a relative vhost socket path in the state is
 * resolved under the socket_dir of the current configuration. A corrupt state file is moved
 * aside by the state store and riovd starts from the configuration file (logged as an error).
 *
 * Every acknowledged change (Network.Add/Delete/AddVtep/DeleteVtep/AddMac/DeleteMac,
 * Port.Add/Delete, Domain.Create/Map/Unmap/Attach, Interrupt.Set/Mask/Coalesce, Device.Assign/Release/SetVfs) is on
 * stable storage before its answer is sent: adds change the dataplane first and then write the state (undoing the add when
 * the write fails); deletes write the state first and then change the dataplane. Every handler
 * does this through one helper, svc_save_or_undo(). After a crash the state file holds the last
 * acknowledged change, or the one being made when it came.
 *
 * Thread rules: control thread only (the thread running the event_base).
 */
#ifndef RIOV_CONTROL_SERVICE_H
#define RIOV_CONTROL_SERVICE_H

#include <stddef.h>

struct event_base;
struct riov_config;
struct riov_dp;
struct riov_service;

struct riov_service_params {
	const struct riov_config *cfg;  /* daemon settings and the config file's networks/ports;
					 * must outlive the service */
	struct riov_dp *dp;
	struct event_base *base;
};

/**
 * Create the service and open the state store in cfg->state_dir.
 * @return 0 with *out set, or a negative errno with err filled.
 */
int riov_service_create(const struct riov_service_params *p, struct riov_service **out, char *err,
			size_t errlen);

/**
 * Restore the desired state: the state file if there is one (objects that cannot be applied any
 * more are logged, left out and reported by Node.Info's health), otherwise the configuration
 * file's networks and ports, which are then saved as the first state.
 * @return 0; or a negative errno with err filled: a configuration object could not be applied
 *         (first start), the first state could not be written, the state file could not be read
 *         (I/O error) or is of a newer format.
 */
int riov_service_restore(struct riov_service *svc, char *err, size_t errlen);

/**
 * Start the RPC server (Unix socket cfg->rpc_socket; TLS on cfg->rpc_listen when set) and the
 * Prometheus endpoint (cfg->metrics_listen when set). When it returns 0 the Unix socket accepts
 * connections; calls are served once the event loop runs.
 * @return 0, or a negative errno with err filled (e.g. -EADDRINUSE: another riovd owns the
 *         socket).
 */
int riov_service_listen(struct riov_service *svc, char *err, size_t errlen);

/** Number of networks and ports in the running desired state. */
void riov_service_counts(const struct riov_service *svc, unsigned *nets, unsigned *ports);

/** Stop listening, close the state store and free the service (the dataplane is left as is).
 *  NULL is fine. */
void riov_service_destroy(struct riov_service *svc);

#endif
