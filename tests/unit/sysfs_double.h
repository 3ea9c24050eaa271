/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A test double of sysfs for the unit tests of vmm/'s host-platform code and the services above it
 * (test_assign.c, test_svc_sriov.c): plain files and links in a temporary directory that
 * asg_sysfs_root_set() (vmm/assign_internal.h) points vmm/ at. Writes land in the files; links do
 * not move, so nothing a driver would do happens by itself. Paths are relative to the root.
 */
#ifndef RIOV_TESTS_UNIT_SYSFS_DOUBLE_H
#define RIOV_TESTS_UNIT_SYSFS_DOUBLE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/assign_internal.h"

static char sys_root[64];

/* A new empty root under /tmp named after prefix (aborts when none can be made). */
static inline void sysfs_root_new(const char *prefix)
{
	snprintf(sys_root, sizeof(sys_root), "/tmp/%s-XXXXXX", prefix);
	if (mkdtemp(sys_root) == NULL)
		abort();
}

/* Point vmm/ at the root. */
static inline void sysfs_root_use(void)
{
	asg_sysfs_root_set(sys_root);
}

static inline void put(const char *rel, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", sys_root, rel);
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static inline void get(const char *rel, char *out, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", sys_root, rel);
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		size_t n = fread(out, 1, len - 1, f);
		out[n] = '\0';
		fclose(f);
	}
}

static inline void mk(const char *rel)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", sys_root, rel);
	mkdir(path, 0700);
}

static inline void link_to(const char *rel_target, const char *rel_link)
{
	char t[256], l[256];
	snprintf(t, sizeof(t), "%s/%s", sys_root, rel_target);
	snprintf(l, sizeof(l), "%s/%s", sys_root, rel_link);
	unlink(l);
	if (symlink(t, l) != 0)
		perror("symlink");
}

static inline int sysfs_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* vmm/ back on /sys, and the root removed. */
static inline void sysfs_double_free(void)
{
	asg_sysfs_root_set(NULL);
	nftw(sys_root, sysfs_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
