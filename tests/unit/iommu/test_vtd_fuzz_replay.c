/* SPDX-License-Identifier: BSD-3-Clause */
/* Replays the fuzz corpus of the VT-d model (seeds and kept crashers, tests/fuzz/corpus/vtd)
 * through riov_vtd_fuzz_one() (tests/fuzz/fuzz_vtd.c, built in) in ordinary builds, so a fixed
 * crash stays fixed without clang. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "riov_test.h"
#include "tests/fuzz/fuzz_entry.h"

static void replay_one(const char *name, const uint8_t *data, size_t len, void *arg)
{
	unsigned *n = arg;
	riov_vtd_fuzz_one(data, len);
	printf("ok %u %s\n", ++*n, name);
}

int main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/vtd";
	unsigned n = 0;

	if (riov_test_each_file(dir, buf, sizeof(buf), replay_one, &n) < 0) {
		perror(dir);
		return 1;
	}
	printf("# %u inputs replayed\n", n);
	return n > 0 && riov_test_failures == 0 ? 0 : 1;
}
