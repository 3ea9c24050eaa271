/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the unit tests that run against the real kernel in a network namespace of their own share
 * (test_kernel_net.c, test_nh_watch.c): addresses from text, shell commands run and reported, and
 * a command's output searched.
 */
#ifndef RIOV_TEST_NETNS_UTIL_H
#define RIOV_TEST_NETNS_UTIL_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An IPv4 address in network order (aborts on bad text: the tests' own constants). */
static inline uint32_t ip4(const char *s)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
}

/* system(cmd), saying so when it fails. */
static inline int run(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "  '%s' failed (%d)\n", cmd, rc);
	return rc;
}

/* Whether cmd's output (its first 2 KiB) contains want; with say, the output when it does not. */
static inline int output_has(const char *cmd, const char *want, int say)
{
	FILE *p = popen(cmd, "r");
	char out[2048] = "";
	size_t n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
	out[n] = '\0';
	if (p)
		pclose(p);
	if (strstr(out, want) == NULL) {
		if (say)
			fprintf(stderr, "  '%s' printed no '%s':\n%s", cmd, want, out);
		return 0;
	}
	return 1;
}

#endif
