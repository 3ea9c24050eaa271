/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test doubles of the RDMA peer links (dataplane/rdma_link.h) and of the dataplane's side of them
 * (dp.h riov_dp_rdma_*), for the unit tests of svc_rdma.c: no device, no verbs, no workers. A
 * context and links are plain objects; their states and failures are what the test sets here,
 * and what the service did to them is recorded.
 */
#ifndef RIOV_TESTS_UNIT_CONTROL_RDMA_DOUBLE_H
#define RIOV_TESTS_UNIT_CONTROL_RDMA_DOUBLE_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/dp.h"
#include "dataplane/rdma_link.h"

#define RDMA_DOUBLE_LINKS 64

struct rdma_double_knobs {
	int ctx_create_rc;             /* != 0: riov_rdma_ctx_create() fails with it */
	int link_create_rc;            /* != 0: riov_rdma_link_create() fails with it */
	int attach_rc;                 /* != 0: riov_dp_rdma_attach() fails with it */
	bool ctx_removed;              /* riov_rdma_ctx_removed() of every context */
	enum riov_rdma_link_state state; /* every link's state */
	struct riov_rdma_link_stats stats; /* every link's counters */
	struct riov_dp_rdma_stats dp_stats; /* the dataplane's, for every link */
	/* calls seen */
	unsigned ctx_creates, ctx_destroys, link_creates, link_destroys, attaches, detaches, cm_polls;
	unsigned device_syncs;
	unsigned device_releases;      /* riov_rdma_devices_release() calls */
	unsigned ctx_live;             /* contexts made and not destroyed */
	uint32_t ctx_ip;               /* the last context's address */
	unsigned ctx_port, ctx_msg_size, ctx_recv_bufs, ctx_send_bufs;
	/* an error: a link destroyed while the dataplane still had it, or destroyed twice; the
	 * device contexts released while a context lived */
	unsigned misuse;
};
extern struct rdma_double_knobs rdma_double;

/** Reset the knobs (every live object must be gone). */
void rdma_double_reset(void);
/** Links alive now, and whether address ip (network order) has one given to the dataplane. */
unsigned rdma_double_links(void);
bool rdma_double_attached(uint32_t ip);

#endif
