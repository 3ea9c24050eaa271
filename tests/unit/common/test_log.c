/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of common/log.c: components, level settings, the environment, what is printed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/riov_test.h"

RIOV_LOG_COMPONENT("test", RIOV_LOG_INFO);

/* Components as other files declare them (two files sharing "vhost"). */
static struct riov_log_comp vhost_a = { .name = "vhost", .default_level = RIOV_LOG_INFO, .level = RIOV_LOG_INFO };
static struct riov_log_comp vhost_b = { .name = "vhost", .default_level = RIOV_LOG_INFO, .level = RIOV_LOG_INFO };
static struct riov_log_comp dp = { .name = "dp", .default_level = RIOV_LOG_WARN, .level = RIOV_LOG_WARN };
static struct riov_log_comp dp_switch = { .name = "dp-switch", .default_level = RIOV_LOG_WARN,
					  .level = RIOV_LOG_WARN };

static void setup(void)
{
	/* lines must reach the captured stderr even when the test runs under systemd */
	unsetenv("JOURNAL_STREAM");
	riov_log_comp_register(&vhost_a);
	riov_log_comp_register(&vhost_b);
	riov_log_comp_register(&vhost_b);   /* twice: harmless */
	riov_log_comp_register(&dp);
	riov_log_comp_register(&dp_switch);
	riov_log_set("info,dp*=warning", NULL, 0);
}

static int level_of(const char *name)
{
	struct riov_log_info li[16];
	size_t n = riov_log_levels(li, 16);

	for (size_t i = 0; i < n && i < 16; i++)
		if (strcmp(li[i].name, name) == 0)
			return li[i].level;
	return -1;
}

RIOV_TEST(levels_listed_sorted_once_per_name)
{
	struct riov_log_info li[16];
	size_t n;

	setup();
	n = riov_log_levels(li, 16);
	CHECK(n >= 5);   /* dp, dp-switch, log, test, vhost */
	for (size_t i = 1; i < n; i++)
		CHECK(strcmp(li[i - 1].name, li[i].name) < 0);
	CHECK_EQ(level_of("dp"), RIOV_LOG_WARN);
	CHECK_EQ(level_of("vhost"), RIOV_LOG_INFO);
	CHECK_EQ(riov_log_levels(li, 1), n);   /* the count, even when it does not fit */
}

RIOV_TEST(set_applies_left_to_right_and_to_every_file_of_a_name)
{
	char err[128] = "";

	setup();
	CHECK_EQ(riov_log_set("notice,vhost=debug", err, sizeof(err)), 0);
	CHECK_EQ(atomic_load(&vhost_a.level), RIOV_LOG_DEBUG);
	CHECK_EQ(atomic_load(&vhost_b.level), RIOV_LOG_DEBUG);
	CHECK_EQ(atomic_load(&dp.level), RIOV_LOG_NOTICE);
	CHECK_EQ(riov_log_set("dp*=7", err, sizeof(err)), 0);
	CHECK_EQ(atomic_load(&dp.level), RIOV_LOG_DEBUG);
	CHECK_EQ(atomic_load(&dp_switch.level), RIOV_LOG_DEBUG);
	CHECK_EQ(atomic_load(&vhost_a.level), RIOV_LOG_DEBUG);
	CHECK_EQ(riov_log_set("dp=err", err, sizeof(err)), 0);
	CHECK_EQ(atomic_load(&dp.level), RIOV_LOG_ERR);
	CHECK_EQ(atomic_load(&dp_switch.level), RIOV_LOG_DEBUG);   /* exact name: not a prefix */
}

RIOV_TEST(bad_setting_changes_nothing_and_says_why)
{
	static const char *const bad[] = { "loud", "vhost=", "=info", "nosuch=info", "vhost=8",
					   "info,vhost=debug,dp=2" };
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup();
		err[0] = '\0';
		CHECK_EQ(riov_log_set(bad[i], err, sizeof(err)), -EINVAL);
		CHECK(err[0] != '\0');
		CHECK_EQ(atomic_load(&vhost_a.level), RIOV_LOG_INFO);
		CHECK_EQ(atomic_load(&dp.level), RIOV_LOG_WARN);
	}
	setup();
	CHECK_EQ(riov_log_set("nosuch=info", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "nosuch") != NULL);
	char big[600];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ(riov_log_set(big, err, sizeof(err)), -EINVAL);
}

RIOV_TEST(environment_applies_when_a_component_registers)
{
	static struct riov_log_comp late = { .name = "late", .default_level = RIOV_LOG_WARN,
					     .level = RIOV_LOG_WARN };
	static struct riov_log_comp other = { .name = "other", .default_level = RIOV_LOG_WARN,
					      .level = RIOV_LOG_WARN };

	setenv("RIOV_LOG_LEVEL", "notice,late=debug,bogus", 1);
	riov_log_comp_register(&late);
	riov_log_comp_register(&other);
	unsetenv("RIOV_LOG_LEVEL");
	CHECK_EQ(atomic_load(&late.level), RIOV_LOG_DEBUG);
	CHECK_EQ(atomic_load(&other.level), RIOV_LOG_NOTICE);
}

/* Run fn with stderr going to a file; return what it printed (static buffer). */
static const char *captured(void (*fn)(void))
{
	static char out[2048];
	char path[] = "/tmp/riov-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	unlink(path);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return out;
}

static void print_some(void)
{
	RIOV_LOG(RIOV_LOG_INFO, "shown %d", 1);
	RIOV_LOG(RIOV_LOG_DEBUG, "hidden %d", 2);
	riov_log_comp(&dp, RIOV_LOG_INFO, "dp hidden");
	riov_log_comp(&dp, RIOV_LOG_WARN, "dp shown");
	RIOV_LOG_RL(RIOV_LOG_NOTICE, "rate-limited %d", 3);
	RIOV_LOG_RL(RIOV_LOG_DEBUG, "rate-limited hidden %d", 4);
	RIOV_LOG_PORT(RIOV_LOG_WARN, "vm1", "vring %u stops", 2u);
	RIOV_LOG(RIOV_LOG_WARN, "%s: vring %u stops", "vm2", 2u);
	RIOV_LOG_PORT_RL(RIOV_LOG_INFO, "vm3", "port %s", "rate-limited");
	RIOV_LOG_PORT(RIOV_LOG_DEBUG, "vm4", "port hidden");
}

RIOV_TEST(only_enabled_lines_are_printed_with_level_and_component)
{
	const char *out;

	setup();
	out = captured(print_some);
	CHECK(strstr(out, "<6>info test: shown 1\n") != NULL);
	CHECK(strstr(out, "<4>warning dp: dp shown\n") != NULL);
	CHECK(strstr(out, "<5>notice test: rate-limited 3\n") != NULL);
	CHECK(strstr(out, "hidden") == NULL);
	/* RIOV_LOG_PORT prints what RIOV_LOG(lvl, "%s: " fmt, port, ...) prints */
	CHECK(strstr(out, "<4>warning test: vm1: vring 2 stops\n") != NULL);
	CHECK(strstr(out, "<4>warning test: vm2: vring 2 stops\n") != NULL);
	CHECK(strstr(out, "<6>info test: vm3: port rate-limited\n") != NULL);
	CHECK(!riov_log_to_journal());
}

static int iov_is(const struct iovec *iov, const char *want)
{
	return iov->iov_len == strlen(want) && memcmp(iov->iov_base, want, iov->iov_len) == 0;
}

RIOV_TEST(journal_fields_of_a_port_line)
{
	struct riov_log_fields f;
	size_t n = riov_log_journal_fields(&f, RIOV_LOG_WARN, "riovd", "vhost", "vm1",
					   "vring 2 stops\nsecond line");

	CHECK_EQ(n, 5);
	/* one field each, newlines kept inside the value, no trailing newline or NUL */
	CHECK(iov_is(&f.iov[0], "MESSAGE=vhost: vm1: vring 2 stops\nsecond line"));
	CHECK(iov_is(&f.iov[1], "PRIORITY=4"));
	CHECK(iov_is(&f.iov[2], "SYSLOG_IDENTIFIER=riovd"));
	CHECK(iov_is(&f.iov[3], "RIOV_COMPONENT=vhost"));
	CHECK(iov_is(&f.iov[4], "RIOV_PORT=vm1"));
}

RIOV_TEST(journal_fields_without_a_port)
{
	struct riov_log_fields f;
	size_t n = riov_log_journal_fields(&f, RIOV_LOG_DEBUG, "riovd", "control", NULL, "started");

	CHECK_EQ(n, 4);
	CHECK(iov_is(&f.iov[0], "MESSAGE=control: started"));
	CHECK(iov_is(&f.iov[1], "PRIORITY=7"));
	CHECK(iov_is(&f.iov[3], "RIOV_COMPONENT=control"));
}

RIOV_TEST(journal_fields_are_bounded)
{
	static char text[4 * RIOV_LOG_LINE_MAX], port[4 * RIOV_LOG_PORT_MAX];
	struct riov_log_fields f;
	size_t n;

	memset(text, 'x', sizeof(text) - 1);
	memset(port, 'p', sizeof(port) - 1);
	n = riov_log_journal_fields(&f, RIOV_LOG_ERR, "riovd", "dp", port, text);
	CHECK_EQ(n, 5);
	CHECK_EQ(f.iov[0].iov_len, sizeof(f.message) - 1);
	CHECK(memcmp(f.iov[0].iov_base, "MESSAGE=dp: ppp", 15) == 0);
	CHECK_EQ(f.iov[4].iov_len, sizeof(f.port) - 1);
	CHECK_EQ(f.iov[4].iov_len, strlen("RIOV_PORT=") + RIOV_LOG_PORT_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK((char *)f.iov[i].iov_base + f.iov[i].iov_len < (char *)&f + sizeof(f));
}

RIOV_TEST(guest_pid_per_port)
{
	char name[32];

	CHECK_EQ(riov_log_port_guest_pid("vm1"), 0);
	riov_log_port_guest("vm1", 4242);
	riov_log_port_guest("vm2", 17);
	CHECK_EQ(riov_log_port_guest_pid("vm1"), 4242);
	CHECK_EQ(riov_log_port_guest_pid("vm2"), 17);
	CHECK_EQ(riov_log_port_guest_pid("vm"), 0);
	CHECK_EQ(riov_log_port_guest_pid(NULL), 0);
	riov_log_port_guest("vm1", 5000);   /* a new front-end on the same port */
	CHECK_EQ(riov_log_port_guest_pid("vm1"), 5000);
	riov_log_port_guest("vm1", 0);      /* disconnected */
	CHECK_EQ(riov_log_port_guest_pid("vm1"), 0);
	CHECK_EQ(riov_log_port_guest_pid("vm2"), 17);
	/* names too long for the table and negative pids are refused */
	static char longname[2 * RIOV_LOG_PORT_MAX];
	memset(longname, 'q', sizeof(longname) - 1);
	riov_log_port_guest(longname, 1);
	CHECK_EQ(riov_log_port_guest_pid(longname), 0);
	riov_log_port_guest("vm3", -1);
	CHECK_EQ(riov_log_port_guest_pid("vm3"), 0);
	/* a full table records nothing new and forgets nothing */
	for (int i = 0; i < RIOV_LOG_GUESTS_MAX + 10; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		riov_log_port_guest(name, 100 + i);
	}
	CHECK_EQ(riov_log_port_guest_pid("vm2"), 17);
	CHECK_EQ(riov_log_port_guest_pid("p0"), 100);
	snprintf(name, sizeof(name), "p%d", RIOV_LOG_GUESTS_MAX + 5);
	CHECK_EQ(riov_log_port_guest_pid(name), 0);
	/* freed slots are used again */
	riov_log_port_guest("p0", 0);
	riov_log_port_guest(name, 9);
	CHECK_EQ(riov_log_port_guest_pid(name), 9);
	for (int i = 0; i < RIOV_LOG_GUESTS_MAX + 10; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		riov_log_port_guest(name, 0);
	}
	riov_log_port_guest("vm2", 0);
	CHECK_EQ(riov_log_port_guest_pid("vm2"), 0);
}

/* In a child (whose logger has not decided yet, as this test runs first): stderr is a pipe,
 * JOURNAL_STREAM is env (NULL: unset); the child's exit status is riov_log_to_journal(). */
static int sink_in_child(const char *env)
{
	int p[2], status = -1;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct stat st;
		char s[64];

		dup2(p[1], STDERR_FILENO);
		fstat(STDERR_FILENO, &st);
		snprintf(s, sizeof(s), "%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
		if (env == NULL)
			unsetenv("JOURNAL_STREAM");
		else
			setenv("JOURNAL_STREAM", strcmp(env, "pipe") == 0 ? s : env, 1);
		riov_log_init();
		riov_log_init();   /* again: changes nothing */
		_exit(riov_log_to_journal());
	}
	close(p[0]);
	close(p[1]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

RIOV_TEST(sink_from_the_environment)
{
	CHECK_EQ(sink_in_child(NULL), 0);      /* unset: stderr */
	CHECK_EQ(sink_in_child("pipe"), 1);    /* stderr's own dev:ino: the journal */
	CHECK_EQ(sink_in_child("garbage"), 0); /* stderr */
	CHECK_EQ(sink_in_child("1:1"), 0);     /* another stream: stderr */
}

RIOV_TEST(journal_stream_detection)
{
	char s[64];
	struct stat st;
	int p[2];

	CHECK_EQ(pipe(p), 0);
	CHECK_EQ(fstat(p[1], &st), 0);
	CHECK_EQ(riov_log_is_journal_stream(p[1], NULL), 0);   /* JOURNAL_STREAM unset */
	snprintf(s, sizeof(s), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	CHECK_EQ(riov_log_is_journal_stream(p[1], s), 1);
	CHECK_EQ(riov_log_is_journal_stream(p[0], s), 1);       /* the same pipe */
	/* as riovd reads it: from the environment */
	setenv("JOURNAL_STREAM", s, 1);
	CHECK_EQ(riov_log_is_journal_stream(p[1], getenv("JOURNAL_STREAM")), 1);
	unsetenv("JOURNAL_STREAM");
	CHECK_EQ(riov_log_is_journal_stream(p[1], getenv("JOURNAL_STREAM")), 0);
	/* another inode, garbage */
	snprintf(s, sizeof(s), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	CHECK_EQ(riov_log_is_journal_stream(p[1], s), 0);
	static const char *const garbage[] = { "", "garbage", ":", "1:", ":1", "1:2:3", "-1:2",
					       "1:2x", " 1:2", "99999999999999999999999:1" };
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		CHECK_EQ(riov_log_is_journal_stream(p[1], garbage[i]), 0);
	snprintf(s, sizeof(s), "%llu:%llu garbage", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	CHECK_EQ(riov_log_is_journal_stream(p[1], s), 0);
	CHECK_EQ(riov_log_is_journal_stream(-1, "1:2"), 0);
	close(p[0]);
	close(p[1]);
}

RIOV_TEST(level_names)
{
	CHECK(strcmp(riov_log_level_name(RIOV_LOG_WARN), "warning") == 0);
	CHECK(riov_log_level_name(2) == NULL && riov_log_level_name(8) == NULL);
}

/* sink_from_the_environment first: its children must inherit a logger that has not decided. */
RIOV_TEST_MAIN(RIOV_TEST_ENTRY(sink_from_the_environment),
	       RIOV_TEST_ENTRY(levels_listed_sorted_once_per_name),
	       RIOV_TEST_ENTRY(set_applies_left_to_right_and_to_every_file_of_a_name),
	       RIOV_TEST_ENTRY(bad_setting_changes_nothing_and_says_why),
	       RIOV_TEST_ENTRY(environment_applies_when_a_component_registers),
	       RIOV_TEST_ENTRY(only_enabled_lines_are_printed_with_level_and_component),
	       RIOV_TEST_ENTRY(journal_fields_of_a_port_line),
	       RIOV_TEST_ENTRY(journal_fields_without_a_port),
	       RIOV_TEST_ENTRY(journal_fields_are_bounded),
	       RIOV_TEST_ENTRY(guest_pid_per_port),
	       RIOV_TEST_ENTRY(journal_stream_detection),
	       RIOV_TEST_ENTRY(level_names))
