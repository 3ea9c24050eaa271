/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Node: Node.Info is built into the RPC server (control/rpc_server.c, which declares its
 * role beside its handler); riovd supplies the workers and the health it reports.
 *
 * Thread rules: control thread only.
 */
#include <stdio.h>

#include "control/service_internal.h"

void svc_node_info(void *arg, uint32_t *workers, char *health, size_t len)
{
	struct riov_service *svc = arg;

	*workers = riov_dp_n_workers(svc->dp);
	if (svc->save_error[0])
		snprintf(health, len, "state file not writable: %s", svc->save_error);
	else if (svc->restore_failed)
		snprintf(health, len, "degraded: %u object(s) of the state file could not be restored "
			 "(see riovd's log)", svc->restore_failed);
	else
		snprintf(health, len, "ok");
}
