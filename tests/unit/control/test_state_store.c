/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * State store: round trip, first start, corrupt and truncated files moved aside (never dropped
 * silently), temporary files of a crashed writer removed, and a writer killed with SIGKILL in the
 * middle of a stream of writes: the file always equals one complete acknowledged write (the
 * last acknowledged one, or the one in flight when the kill came after its rename).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "riov_test.h"
#include "control/state_store.c"

static char dir[64];

static void fresh_dir(void)
{
	char cmd[128];
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "  rm failed\n");
	}
	snprintf(dir, sizeof(dir), "/tmp/riov-state-test.XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

static int count_prefix(const char *prefix)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	if (d)
		closedir(d);
	return n;
}

RIOV_TEST(roundtrip_and_first_start)
{
	fresh_dir();
	struct riov_state_store *st;
	char err[512];
	void *buf;
	size_t len;
	CHECK_EQ(riov_state_store_open(dir, &st, err, sizeof(err)), 0);
	CHECK_EQ(riov_state_store_read(st, &buf, &len, err, sizeof(err)), -ENOENT);
	CHECK_EQ(riov_state_store_write(st, "hello", 5, err, sizeof(err)), 0);
	CHECK_EQ(riov_state_store_read(st, &buf, &len, err, sizeof(err)), 0);
	CHECK(len == 5 && memcmp(buf, "hello", 5) == 0);
	free(buf);
	CHECK_EQ(riov_state_store_write(st, "", 0, err, sizeof(err)), 0);
	CHECK_EQ(riov_state_store_read(st, &buf, &len, err, sizeof(err)), 0);
	CHECK(len == 0 && buf == NULL);
	CHECK_EQ(count_prefix("state.pb.tmp"), 0);
	riov_state_store_close(st);
}

static void corrupt_with(void (*damage)(const char *path), const char *expect)
{
	fresh_dir();
	struct riov_state_store *st;
	char err[512];
	void *buf;
	size_t len;
	CHECK_EQ(riov_state_store_open(dir, &st, err, sizeof(err)), 0);
	CHECK_EQ(riov_state_store_write(st, "0123456789abcdef", 16, err, sizeof(err)), 0);
	damage(riov_state_store_path(st));
	CHECK_EQ(riov_state_store_read(st, &buf, &len, err, sizeof(err)), -EBADMSG);
	CHECK(strstr(err, expect) != NULL);
	CHECK(strstr(err, "moved it to") != NULL);
	CHECK_EQ(count_prefix("state.pb.corrupt-"), 1);
	struct stat sb;
	CHECK(stat(riov_state_store_path(st), &sb) < 0 && errno == ENOENT);
	/* next start: no state, and the corrupt copy is still there */
	CHECK_EQ(riov_state_store_read(st, &buf, &len, err, sizeof(err)), -ENOENT);
	CHECK_EQ(count_prefix("state.pb.corrupt-"), 1);
	riov_state_store_close(st);
}

static void flip_byte(const char *path)
{
	int fd = open(path, O_RDWR);
	char c;
	if (pread(fd, &c, 1, 60) != 1)
		abort();
	c ^= 1;
	if (pwrite(fd, &c, 1, 60) != 1)
		abort();
	close(fd);
}

static void truncate_it(const char *path)
{
	if (truncate(path, 50) < 0)
		abort();
}

static void short_header(const char *path)
{
	if (truncate(path, 10) < 0)
		abort();
}

static void not_ours(const char *path)
{
	FILE *f = fopen(path, "w");
	fputs("networks: blue\nports: vm1-eth0\nsome text that is long enough to pass", f);
	fclose(f);
}

RIOV_TEST(corrupt_file_moved_aside)
{
	corrupt_with(flip_byte, "checksum mismatch");
}

RIOV_TEST(truncated_file_moved_aside)
{
	corrupt_with(truncate_it, "header announces 16 bytes, file holds 2");
	corrupt_with(short_header, "shorter than its header");
	corrupt_with(not_ours, "not a riov state file");
}

RIOV_TEST(crash_leftovers_removed_at_open)
{
	fresh_dir();
	char p[128];
	snprintf(p, sizeof(p), "%s/state.pb.tmp.999.0", dir);
	FILE *f = fopen(p, "w");
	fputs("half", f);
	fclose(f);
	struct riov_state_store *st;
	char err[256];
	CHECK_EQ(riov_state_store_open(dir, &st, err, sizeof(err)), 0);
	CHECK_EQ(count_prefix("state.pb.tmp"), 0);
	riov_state_store_close(st);
}

/* Payload of write number i: the number, then a pattern whose length depends on i, so a torn
 * or mixed file would not pass the digest, and a decoder can tell which write it is. */
static size_t make_payload(uint32_t i, uint8_t *buf)
{
	size_t len = 8 + (i * 7919u) % 60000u;
	memcpy(buf, &i, 4);
	memcpy(buf + 4, &i, 4);
	for (size_t k = 8; k < len; k++)
		buf[k] = (uint8_t)(i * 31 + k);
	return len;
}

static void writer(const char *d, int ackfd)
{
	struct riov_state_store *st;
	char err[256];
	static uint8_t buf[70000];
	if (riov_state_store_open(d, &st, err, sizeof(err)) < 0)
		_exit(2);
	for (uint32_t i = 1;; i++) {
		size_t len = make_payload(i, buf);
		if (riov_state_store_write(st, buf, len, err, sizeof(err)) < 0)
			_exit(3);
		/* acknowledged: tell the parent */
		if (write(ackfd, &i, 4) != 4)
			_exit(4);
	}
}

RIOV_TEST(kill9_during_writes_leaves_a_complete_write)
{
	static uint8_t expect[70000];
	int torn = 0;
	for (int round = 0; round < 20; round++) {
		fresh_dir();
		int p[2];
		CHECK_EQ(pipe(p), 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			writer(dir, p[1]);
		}
		close(p[1]);
		/* let the writer get a varying number of writes acknowledged, then kill it */
		uint32_t acked = 0, want = 1 + (uint32_t)round % 4;
		while (acked < want && read(p[0], &acked, 4) == 4)
			;
		/* a varying delay so the kill lands at varying points of a write */
		usleep((useconds_t)((round * 977) % 2000));
		kill(pid, SIGKILL);
		int wst;
		waitpid(pid, &wst, 0);
		/* drain acknowledgements that were in the pipe */
		uint32_t v;
		while (read(p[0], &v, 4) == 4)
			acked = v;
		close(p[0]);
		CHECK(WIFSIGNALED(wst));

		struct riov_state_store *st;
		char err[256];
		void *buf;
		size_t len;
		torn += count_prefix("state.pb.tmp") > 0;
		CHECK_EQ(riov_state_store_open(dir, &st, err, sizeof(err)), 0);
		CHECK_EQ(count_prefix("state.pb.tmp"), 0);
		int rc = riov_state_store_read(st, &buf, &len, err, sizeof(err));
		CHECK_EQ(rc, 0);
		if (rc == 0) {
			uint32_t got;
			memcpy(&got, buf, 4);
			/* the last acknowledged write, or the next one if the kill came after its
			 * rename but before the acknowledgement */
			CHECK(got == acked || got == acked + 1);
			size_t elen = make_payload(got, expect);
			CHECK(len == elen && memcmp(buf, expect, len) == 0);
			free(buf);
		}
		CHECK_EQ(count_prefix("state.pb.corrupt-"), 0);
		riov_state_store_close(st);
	}
	/* information only: how often the kill landed inside a write (temporary file left) */
	printf("# kill -9 landed inside a write in %d of 20 rounds\n", torn);
}

RIOV_TEST(cleanup)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_EQ(system(cmd), 0);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(roundtrip_and_first_start), RIOV_TEST_ENTRY(corrupt_file_moved_aside),
	       RIOV_TEST_ENTRY(truncated_file_moved_aside),
	       RIOV_TEST_ENTRY(crash_leftovers_removed_at_open),
	       RIOV_TEST_ENTRY(kill9_during_writes_leaves_a_complete_write), RIOV_TEST_ENTRY(cleanup))
