/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of common/log.c: components, level settings, the environment, what is printed. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
}

RIOV_TEST(level_names)
{
	CHECK(strcmp(riov_log_level_name(RIOV_LOG_WARN), "warning") == 0);
	CHECK(riov_log_level_name(2) == NULL && riov_log_level_name(8) == NULL);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(levels_listed_sorted_once_per_name),
	       RIOV_TEST_ENTRY(set_applies_left_to_right_and_to_every_file_of_a_name),
	       RIOV_TEST_ENTRY(bad_setting_changes_nothing_and_says_why),
	       RIOV_TEST_ENTRY(environment_applies_when_a_component_registers),
	       RIOV_TEST_ENTRY(only_enabled_lines_are_printed_with_level_and_component),
	       RIOV_TEST_ENTRY(level_names))
