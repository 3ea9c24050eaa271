/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A minimal unit-test harness: RIOV_TEST(name) functions registered in a table, CHECK macros that
 * record failures without aborting, and a main that runs them and prints TAP-like lines plus a
 * summary. Tests may #include a module's .c to reach its static helpers.
 */
#ifndef RIOV_TESTS_RIOV_TEST_H
#define RIOV_TESTS_RIOV_TEST_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int riov_test_failures;

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
			riov_test_failures++;                                                \
		}                                                                            \
	} while (0)

#define CHECK_EQ(a, b)                                                                       \
	do {                                                                                 \
		long long a_ = (long long)(a), b_ = (long long)(b);                          \
		if (a_ != b_) {                                                              \
			fprintf(stderr, "  FAIL %s:%d: %s == %s (%lld != %lld)\n", __FILE__,  \
				__LINE__, #a, #b, a_, b_);                                   \
			riov_test_failures++;                                                \
		}                                                                            \
	} while (0)

struct riov_test_case {
	const char *name;
	void (*fn)(void);
};

#define RIOV_TEST(name) static void name(void)
#define RIOV_TEST_ENTRY(name) { #name, name }

/* Run every case; print "ok N name" / "not ok N name"; return the process exit code. */
static inline int riov_test_run(const struct riov_test_case *cases, size_t n)
{
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		int before = riov_test_failures;
		cases[i].fn();
		int bad = riov_test_failures != before;
		failed += bad;
		printf("%s %zu %s\n", bad ? "not ok" : "ok", i + 1, cases[i].name);
		fflush(stdout);
	}
	printf("# %zu cases, %zu failed\n", n, failed);
	return failed ? 1 : 0;
}

/* For every file of dir but dot files: its first cap bytes read into buf, then fn(name, buf, len,
 * arg). Returns how many files, or -1 when dir cannot be opened (corpus replays of the fuzz
 * harnesses' inputs). */
static inline int riov_test_each_file(const char *dir, uint8_t *buf, size_t cap,
				      void (*fn)(const char *name, const uint8_t *data, size_t len, void *arg),
				      void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		if (f == NULL) {
			riov_test_failures++;
			fprintf(stderr, "  FAIL cannot read %s\n", path);
			continue;
		}
		size_t len = fread(buf, 1, cap, f);
		fclose(f);
		fn(de->d_name, buf, len, arg);
		n++;
	}
	closedir(d);
	return n;
}

#define RIOV_TEST_MAIN(...)                                                                  \
	int main(void)                                                                       \
	{                                                                                    \
		static const struct riov_test_case cases_[] = { __VA_ARGS__ };              \
		return riov_test_run(cases_, sizeof(cases_) / sizeof(cases_[0]));            \
	}

#endif
