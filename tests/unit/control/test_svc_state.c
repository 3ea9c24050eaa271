/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What an acknowledged change is (control/svc_state.c, issue 12 finding 8): a state write that
 * fails at each of its steps, through a test double of the file-system calls of
 * control/state_store.c (which this file includes with STATE_FS_DOUBLE). Before the rename the
 * change is undone and the state file is byte-for-byte what it was; after the rename (the
 * directory's fsync fails) the change is kept, reported and counted. In every case what the
 * service holds in memory is what the state file holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h> /* renameat */
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- test double of the file system under the state store */

enum fs_step { FS_NONE, FS_CREATE, FS_WRITE, FS_FSYNC_FILE, FS_RENAME, FS_FSYNC_DIR, FS_STEPS };
static const char *const fs_step_name[] = { "none", "create", "write", "fsync file", "rename",
					    "fsync directory" };
static enum fs_step fs_fail; /* the step that fails (once armed, every time) */

static int fs_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (fs_fail == FS_CREATE) {
		errno = ENOSPC;
		return -1;
	}
	return openat(dirfd, path, flags, mode);
}

static ssize_t fs_write(int fd, const void *buf, size_t len)
{
	if (fs_fail == FS_WRITE) {
		errno = EIO;
		return -1;
	}
	return write(fd, buf, len);
}

static int fs_fsync(int fd)
{
	struct stat sb;
	bool dir = fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode);

	if ((dir && fs_fail == FS_FSYNC_DIR) || (!dir && fs_fail == FS_FSYNC_FILE)) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

static int fs_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	if (fs_fail == FS_RENAME) {
		errno = EIO;
		return -1;
	}
	return renameat(olddirfd, oldpath, newdirfd, newpath);
}

#define STATE_FS_DOUBLE
#include "control/state_store.c" /* riov_state_store_* with the double above */

#include "riov_test.h"
#include "svc_fixture.h"

static int net_call(struct svc_fixture *f, const char *method, const char *name)
{
	Riov__V1__NetworkAddRequest add = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	Riov__V1__NetworkDeleteRequest del = RIOV__V1__NETWORK_DELETE_REQUEST__INIT;
	Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;
	struct svc_call t;
	int rc;

	spec.name = (char *)name;
	add.network = &spec;
	del.name = (char *)name;
	rc = svc_call(f, &t, method, strcmp(method, "Network.Add") == 0 ? (void *)&add : (void *)&del);
	svc_call_end(&t);
	return rc;
}

static bool has_net(struct svc_fixture *f, const char *name)
{
	for (unsigned i = 0; i < f->svc->n_nets; i++)
		if (strcmp(f->svc->nets[i]->name, name) == 0)
			return true;
	return false;
}

/* The state file's bytes (malloc'd, *len), or NULL. */
static void *file_bytes(struct svc_fixture *f, size_t *len)
{
	char path[128];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", f->dir, RIOV_STATE_FILE);
	int fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	void *p = malloc((size_t)sb.st_size + 1);
	*len = p != NULL && read(fd, p, (size_t)sb.st_size) == sb.st_size ? (size_t)sb.st_size : 0;
	close(fd);
	return p;
}

/* What the service holds is what the state file holds (the payload it would write now, with the
 * generation it last wrote, equals the file's payload). */
static bool memory_is_disk(struct svc_fixture *f)
{
	Riov__V1__State st;
	void *disk = NULL;
	size_t dlen = 0;
	char err[256];

	svc_state_build(f->svc, &st, f->svc->generation);
	size_t mlen = riov__v1__state__get_packed_size(&st);
	uint8_t *mem = malloc(mlen + 1);
	riov__v1__state__pack(&st, mem);
	bool same = riov_state_store_read(f->svc->store, &disk, &dlen, err, sizeof(err)) == 0 &&
		    dlen == mlen && (mlen == 0 || memcmp(disk, mem, mlen) == 0);
	free(disk);
	free(mem);
	return same;
}

static unsigned temp_files(struct svc_fixture *f)
{
	unsigned n = 0;
	DIR *d = opendir(f->dir);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL)
		n += strncmp(de->d_name, RIOV_STATE_FILE ".tmp", 12) == 0;
	if (d != NULL)
		closedir(d);
	return n;
}

/* A step before the rename fails: the change is undone, the state file is unchanged. */
RIOV_TEST(failure_before_rename_undoes)
{
	struct svc_fixture f = { 0 };
	char health[512], name[16];
	uint32_t workers;

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(net_call(&f, "Network.Add", "blue"), 0);
	for (enum fs_step s = FS_CREATE; s <= FS_RENAME; s++) {
		size_t l0 = 0, l1 = 0;
		void *b0 = file_bytes(&f, &l0);
		uint64_t g = f.svc->generation;

		snprintf(name, sizeof(name), "n%d", (int)s);
		fs_fail = s;
		int rc = net_call(&f, "Network.Add", name);
		CHECK(rc < 0);
		CHECK_EQ(net_call(&f, "Network.Delete", "blue"), rc); /* deletes alike */
		fs_fail = FS_NONE;
		if (rc >= 0)
			fprintf(stderr, "  step %s: change acknowledged\n", fs_step_name[s]);
		CHECK(!has_net(&f, name) && !dp_double_has_net(f.dp, name));
		CHECK(has_net(&f, "blue") && dp_double_has_net(f.dp, "blue"));
		CHECK_EQ(f.svc->generation, g);
		void *b1 = file_bytes(&f, &l1);
		CHECK(b0 != NULL && b1 != NULL && l0 == l1 && memcmp(b0, b1, l0) == 0);
		free(b0);
		free(b1);
		CHECK(memory_is_disk(&f));
		CHECK_EQ(temp_files(&f), 0);
		svc_node_info(f.svc, &workers, health, sizeof(health));
		CHECK(strncmp(health, "state file not writable: ", 25) == 0);
		CHECK_EQ(f.svc->save_not_synced, 0);
	}
	CHECK_EQ(net_call(&f, "Network.Add", "red"), 0);
	svc_node_info(f.svc, &workers, health, sizeof(health));
	CHECK(strcmp(health, "ok") == 0);
	fixture_close(&f);
}

/* The directory's fsync fails after the rename: the change is on disk, so it is kept (adds and
 * deletes alike), reported and counted; a restart sees what memory held. */
RIOV_TEST(failure_after_rename_keeps)
{
	struct svc_fixture f = { 0 };
	char health[512];
	uint32_t workers;

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(net_call(&f, "Network.Add", "blue"), 0);
	uint64_t g = f.svc->generation;
	fs_fail = FS_FSYNC_DIR;
	CHECK_EQ(net_call(&f, "Network.Add", "kept"), 0);
	CHECK_EQ(net_call(&f, "Network.Delete", "blue"), 0);
	fs_fail = FS_NONE;
	CHECK(has_net(&f, "kept") && dp_double_has_net(f.dp, "kept"));
	CHECK(!has_net(&f, "blue") && !dp_double_has_net(f.dp, "blue"));
	CHECK_EQ(f.svc->generation, g + 2);
	CHECK_EQ(f.svc->save_not_synced, 2);
	CHECK(memory_is_disk(&f));
	svc_node_info(f.svc, &workers, health, sizeof(health));
	CHECK(strstr(health, "fsync of directory") != NULL);

	fixture_stop(&f); /* the next start replays what was acknowledged */
	CHECK_EQ(fixture_open(&f), 0);
	CHECK(has_net(&f, "kept") && !has_net(&f, "blue"));
	CHECK_EQ(f.svc->generation, g + 2);
	CHECK(memory_is_disk(&f));
	/* a fully synced write clears the report */
	CHECK_EQ(net_call(&f, "Network.Add", "red"), 0);
	svc_node_info(f.svc, &workers, health, sizeof(health));
	CHECK(strcmp(health, "ok") == 0);
	fixture_close(&f);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(failure_before_rename_undoes),
	       RIOV_TEST_ENTRY(failure_after_rename_keeps))
