/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Atomic state file. See state_store.h for the format and guarantees.
 *
 * Security model: the state directory is riovd's own (mode 0750, root). The file is still read
 * as untrusted bytes: its length is bounded by RIOV_STATE_MAX and checked against the file size
 * before any allocation, and its SHA-256 is checked before the payload is returned, so a
 * truncated or damaged file is detected rather than half-applied.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "state_store.h"

RIOV_LOG_COMPONENT("state", RIOV_LOG_INFO);

/* The file-system calls of a write. tests/unit/control/test_svc_state.c includes this file with
 * STATE_FS_DOUBLE defined and test doubles of them, to make a write fail at each step. */
#ifndef STATE_FS_DOUBLE
#define fs_openat openat
#define fs_write write
#define fs_fsync fsync
#define fs_renameat renameat
#endif
#define MAGIC "RIOVST01"
#define HDR_LEN (8 + 8 + 32)

struct riov_state_store {
	char *dir;
	int dirfd;
	char path[4096];
	unsigned seq;
};

static int sha256(const void *buf, size_t len, unsigned char out[32])
{
	unsigned int n = 0;
	return EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -EIO;
}

static void remove_temps(struct riov_state_store *st)
{
	DIR *d = opendir(st->dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, RIOV_STATE_FILE ".tmp", strlen(RIOV_STATE_FILE ".tmp")) == 0) {
			RIOV_LOG(RIOV_LOG_NOTICE, "removing %s/%s left by an interrupted write",
				 st->dir, de->d_name);
			unlinkat(st->dirfd, de->d_name, 0);
		}
	}
	closedir(d);
}

int riov_state_store_open(const char *dir, struct riov_state_store **out, char *err,
			  size_t errlen)
{
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "cannot create state directory %s: %s", dir, strerror(e));
		return -e;
	}
	struct riov_state_store *st = calloc(1, sizeof(*st));
	if (!st || !(st->dir = strdup(dir))) {
		free(st);
		return -ENOMEM;
	}
	st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open state directory %s: %s", dir, strerror(e));
		free(st->dir);
		free(st);
		return -e;
	}
	snprintf(st->path, sizeof(st->path), "%s/%s", dir, RIOV_STATE_FILE);
	remove_temps(st);
	*out = st;
	return 0;
}

void riov_state_store_close(struct riov_state_store *st)
{
	if (!st)
		return;
	close(st->dirfd);
	free(st->dir);
	free(st);
}

const char *riov_state_store_path(const struct riov_state_store *st) { return st->path; }

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = fs_write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int riov_state_store_write(struct riov_state_store *st, const void *buf, size_t len, char *err,
			   size_t errlen)
{
	unsigned char hdr[HDR_LEN];
	char tmp[64];
	int rc;

	if (len > RIOV_STATE_MAX) {
		snprintf(err, errlen, "state of %zu bytes is above the %u-byte limit", len,
			 RIOV_STATE_MAX);
		return -EFBIG;
	}
	memcpy(hdr, MAGIC, 8);
	for (int i = 0; i < 8; i++)
		hdr[8 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	if (sha256(buf, len, hdr + 16) < 0) {
		snprintf(err, errlen, "cannot compute the state digest");
		return -EIO;
	}
	snprintf(tmp, sizeof(tmp), RIOV_STATE_FILE ".tmp.%d.%u", (int)getpid(), st->seq++);
	int fd = fs_openat(st->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s/%s: %s", st->dir, tmp, strerror(-rc));
		return rc;
	}
	rc = write_all(fd, hdr, sizeof(hdr));
	if (rc == 0)
		rc = write_all(fd, buf, len);
	if (rc == 0 && fs_fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "cannot write %s/%s: %s (state file unchanged)", st->dir, tmp,
			 strerror(-rc));
		unlinkat(st->dirfd, tmp, 0);
		return rc;
	}
	if (fs_renameat(st->dirfd, tmp, st->dirfd, RIOV_STATE_FILE) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot rename %s/%s to %s: %s (state file unchanged)",
			 st->dir, tmp, st->path, strerror(-rc));
		unlinkat(st->dirfd, tmp, 0);
		return rc;
	}
	/* The rename is durable only once the directory entry is. But from the rename on, state.pb
	 * is the new state for every reader and the next start: the write is done, and only its
	 * durability across a power loss is unconfirmed. Undoing it is not possible (the old file
	 * is gone), so the caller is told apart from a failure. */
	if (fs_fsync(st->dirfd) < 0) {
		rc = errno;
		snprintf(err, errlen, "state file %s replaced, but fsync of directory %s failed: %s "
			 "(the change may not survive a power loss)", st->path, st->dir, strerror(rc));
		return RIOV_STATE_STORE_NOT_SYNCED;
	}
	return 0;
}

int riov_state_store_quarantine(struct riov_state_store *st, char *moved_to, size_t len)
{
	char name[128];
	time_t now = time(NULL);
	snprintf(name, sizeof(name), RIOV_STATE_FILE ".corrupt-%lld", (long long)now);
	/* keep every corrupt copy: add a suffix if that second is taken */
	for (int i = 1; faccessat(st->dirfd, name, F_OK, 0) == 0 && i < 1000; i++)
		snprintf(name, sizeof(name), RIOV_STATE_FILE ".corrupt-%lld.%d", (long long)now, i);
	if (renameat(st->dirfd, RIOV_STATE_FILE, st->dirfd, name) < 0)
		return -errno;
	fsync(st->dirfd);
	snprintf(moved_to, len, "%s/%s", st->dir, name);
	return 0;
}

static int corrupt(struct riov_state_store *st, bool repair, const char *why, char *err,
		   size_t errlen)
{
	char moved[4200];

	if (!repair) {
		snprintf(err, errlen, "state file %s is corrupt (%s); left in place", st->path, why);
		return -EBADMSG;
	}
	int rc = riov_state_store_quarantine(st, moved, sizeof(moved));
	if (rc < 0)
		snprintf(err, errlen, "state file %s is corrupt (%s) and could not be moved aside: "
			 "%s", st->path, why, strerror(-rc));
	else
		snprintf(err, errlen, "state file %s is corrupt (%s); moved it to %s and starting "
			 "without saved state", st->path, why, moved);
	RIOV_LOG(RIOV_LOG_ERR, "%s", err);
	return -EBADMSG;
}

static int read_state(struct riov_state_store *st, bool repair, void **buf, size_t *len,
		      char *err, size_t errlen)
{
	unsigned char hdr[HDR_LEN], dig[32];
	int fd = openat(st->dirfd, RIOV_STATE_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e != ENOENT)
			snprintf(err, errlen, "cannot open %s: %s", st->path, strerror(e));
		else
			snprintf(err, errlen, "no state file at %s", st->path);
		return -e;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "cannot stat %s: %s", st->path, strerror(e));
		return -e;
	}
	ssize_t n = pread(fd, hdr, sizeof(hdr), 0);
	if (n < 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "cannot read %s: %s", st->path, strerror(e));
		return -e;
	}
	if ((size_t)n < sizeof(hdr)) {
		close(fd);
		return corrupt(st, repair, "shorter than its header", err, errlen);
	}
	if (memcmp(hdr, MAGIC, 8) != 0) {
		close(fd);
		return corrupt(st, repair, "not a riov state file", err, errlen);
	}
	uint64_t plen = 0;
	for (int i = 0; i < 8; i++)
		plen = plen << 8 | hdr[8 + i];
	if (plen > RIOV_STATE_MAX || (uint64_t)sb.st_size != HDR_LEN + plen) {
		close(fd);
		char why[128];
		snprintf(why, sizeof(why), "header announces %llu bytes, file holds %lld",
			 (unsigned long long)plen, (long long)sb.st_size - HDR_LEN);
		return corrupt(st, repair, why, err, errlen);
	}
	void *p = malloc(plen ? plen : 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < plen) {
		n = pread(fd, (char *)p + got, plen - got, HDR_LEN + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != plen) {
		free(p);
		return corrupt(st, repair, "truncated while reading", err, errlen);
	}
	if (sha256(p, plen, dig) < 0 || memcmp(dig, hdr + 16, 32) != 0) {
		free(p);
		return corrupt(st, repair, "checksum mismatch", err, errlen);
	}
	if (plen == 0) {
		free(p);
		p = NULL;
	}
	*buf = p;
	*len = plen;
	return 0;
}

int riov_state_store_read(struct riov_state_store *st, void **buf, size_t *len, char *err,
			  size_t errlen)
{
	return read_state(st, true, buf, len, err, errlen);
}

int riov_state_store_peek(struct riov_state_store *st, void **buf, size_t *len, char *err,
			  size_t errlen)
{
	return read_state(st, false, buf, len, err, errlen);
}
