/* SPDX-License-Identifier: BSD-3-Clause */
/* The fabric worker's choice of path for frames to a remote VTEP (dataplane/fabric_worker.c,
 * docs/rdma.md "Workers"): the peer's RDMA link only on its owner worker while it is up, VXLAN
 * otherwise (no link, another worker's link, a link not up). */
#include "dataplane/worker_internal.h"
#include "tests/riov_test.h"

RIOV_TEST(path_choice)
{
	struct dp_rdma_peer rp = { .ip = 0x0200000a, .worker = 1 };

	CHECK_EQ(dp_rdma_choose(NULL, 0, true), DP_RDMA_PATH_VXLAN);
	CHECK_EQ(dp_rdma_choose(NULL, 0, false), DP_RDMA_PATH_VXLAN);
	CHECK_EQ(dp_rdma_choose(&rp, 1, true), DP_RDMA_PATH_RDMA);
	CHECK_EQ(dp_rdma_choose(&rp, 1, false), DP_RDMA_PATH_VXLAN);  /* down, backoff, connecting */
	CHECK_EQ(dp_rdma_choose(&rp, 0, true), DP_RDMA_PATH_VXLAN);   /* not the owner: no hand-off */
	CHECK_EQ(dp_rdma_choose(&rp, 2, true), DP_RDMA_PATH_VXLAN);
	rp.worker = 0;
	CHECK_EQ(dp_rdma_choose(&rp, 0, true), DP_RDMA_PATH_RDMA);    /* one worker: always the owner */
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(path_choice))
