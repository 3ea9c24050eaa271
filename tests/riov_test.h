/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A minimal unit-test harness: RIOV_TEST(name) functions registered in a table, CHECK macros that
 * record failures without aborting, and a main that runs them and prints TAP-like lines plus a
 * summary. Tests may #include a module's .c to reach its static helpers.
 */
#ifndef RIOV_TESTS_RIOV_TEST_H
#define RIOV_TESTS_RIOV_TEST_H

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

#define RIOV_TEST_MAIN(...)                                                                  \
	int main(void)                                                                       \
	{                                                                                    \
		static const struct riov_test_case cases_[] = { __VA_ARGS__ };              \
		return riov_test_run(cases_, sizeof(cases_) / sizeof(cases_[0]));            \
	}

#endif
