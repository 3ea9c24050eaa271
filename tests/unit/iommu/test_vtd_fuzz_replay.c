/* SPDX-License-Identifier: BSD-3-Clause */
/* Replays the fuzz corpus of the VT-d model (seeds and kept crashers, tests/fuzz/corpus/vtd)
 * through riov_vtd_fuzz_one() (tests/fuzz/fuzz_vtd.c, built in) in ordinary builds, so a fixed
 * crash stays fixed without clang. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_entry.h"

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/vtd";
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	if (d == NULL) {
		perror(dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		if (f == NULL)
			continue;
		static uint8_t buf[1 << 20];
		size_t len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		riov_vtd_fuzz_one(buf, len);
		printf("ok %u %s\n", ++n, de->d_name);
	}
	closedir(d);
	printf("# %u inputs replayed\n", n);
	return n > 0 ? 0 : 1;
}
