/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EAL and mbuf pools for the harnesses that need DPDK mbufs (fuzz_offload.c, fuzz_vxlan.c,
 * fuzz_gro.c) and the unit tests that build them in.
 *
 * Thread rules: one thread, once per process (EAL may already be up: a unit test's).
 */
#ifndef RIOV_TESTS_FUZZ_EAL_H
#define RIOV_TESTS_FUZZ_EAL_H

#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "tests/eal_rundir.h"

/** EAL on 64 MB of 4 KiB pages (--no-huge and legacy memory: DPDK 22.11 has no --in-memory for
 *  it), file prefix name + pid, and two pools without per-lcore caches, so that their counts show
 *  every mbuf given back: n_direct mbufs with RTE_MBUF_DEFAULT_BUF_SIZE buffers ("NAME_d") and
 *  n_indirect without a data room ("NAME_i"). Returns 0, or -1 (nothing usable). */
static inline int riov_fuzz_eal_pools(const char *name, unsigned n_direct, unsigned n_indirect,
				      struct rte_mempool **direct, struct rte_mempool **indirect)
{
	static char prefix[64];
	char pool[RTE_MEMPOOL_NAMESIZE];

	snprintf(prefix, sizeof(prefix), "--file-prefix=%s%d", name, (int)getpid());
	char *argv[] = { (char *)name, "--no-huge", "-m", "64", "--no-pci", "--no-shconf", "--log-level=1",
			 prefix, NULL };
	riov_eal_rundir_remove_at_exit();
	if (rte_eal_init(8, argv) < 0 && rte_errno != EALREADY)
		return -1;
	snprintf(pool, sizeof(pool), "%s_d", name);
	*direct = rte_pktmbuf_pool_create(pool, n_direct, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	snprintf(pool, sizeof(pool), "%s_i", name);
	*indirect = rte_pktmbuf_pool_create(pool, n_indirect, 0, 0, 0, SOCKET_ID_ANY);
	return *direct != NULL && *indirect != NULL ? 0 : -1;
}

#endif
