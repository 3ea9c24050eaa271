/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The EAL runtime directory of a test, fuzz or bench program (/run/dpdk/<file-prefix>): with
 * --no-shconf it holds only the telemetry socket, which DPDK unlinks in an atexit handler and
 * leaves the directory, one more for every run of `make test`. Call riov_eal_rundir_remove_at_exit()
 * before rte_eal_init(): its handler, registered before EAL's, runs after it and removes the
 * directory (as riovd does, control/riovd.c).
 *
 * Thread rules: one thread, before rte_eal_init().
 */
#ifndef RIOV_TESTS_EAL_RUNDIR_H
#define RIOV_TESTS_EAL_RUNDIR_H

#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>

static void riov_eal_rundir_remove(void)
{
	const char *d = rte_eal_get_runtime_dir();
	if (d != NULL && d[0] != '\0')
		(void)rmdir(d);
}

static inline void riov_eal_rundir_remove_at_exit(void)
{
	static int registered;
	if (!registered++)
		atexit(riov_eal_rundir_remove);
}

#endif
