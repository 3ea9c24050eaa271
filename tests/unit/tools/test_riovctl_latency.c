/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for tools/riovctl_latency.c: the percentiles riovctl stats computes from a worker's
 * latency buckets (nearest rank, as the bucket's upper bound capped at the maximum), also against
 * the exact percentiles of values recorded by riovd's own histogram (dataplane/loop_hist.c), and
 * durations for people. Includes both .c files.
 */
#include "tools/riovctl_latency.c"
#include "dataplane/loop_hist.c"

#include <stdlib.h>

#include "riov_test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

RIOV_TEST(no_bursts_no_percentile)
{
	static const struct ctl_latency_bucket b[] = { { 80, 0 }, { 96, 0 } };

	CHECK_EQ(ctl_latency_percentile(NULL, 0, 0, 500), 0);
	CHECK_EQ(ctl_latency_percentile(b, N(b), 0, 990), 0);
	CHECK_EQ(ctl_latency_percentile(b, N(b), 0, 1000), 0);
}

/* 100 bursts: 50 at most 100 ns, 49 at most 200 ns, 1 at most 300 ns, the longest 250 ns */
RIOV_TEST(nearest_rank)
{
	static const struct ctl_latency_bucket b[] = { { 100, 50 }, { 200, 49 }, { 300, 1 } };

	CHECK_EQ(ctl_latency_percentile(b, N(b), 250, 1), 100);
	CHECK_EQ(ctl_latency_percentile(b, N(b), 250, 500), 100);    /* rank 50 */
	CHECK_EQ(ctl_latency_percentile(b, N(b), 250, 501), 200);    /* rank 51 */
	CHECK_EQ(ctl_latency_percentile(b, N(b), 250, 990), 200);    /* rank 99 */
	CHECK_EQ(ctl_latency_percentile(b, N(b), 250, 999), 250);    /* rank 100: capped at max */
	CHECK_EQ(ctl_latency_percentile(b, N(b), 250, 1000), 250);
	CHECK_EQ(ctl_latency_percentile(b, N(b), 250, 2000), 250);   /* past 100 %: the maximum */
	CHECK_EQ(ctl_latency_percentile(b, N(b), 250, 0), 0);
}

/* the bucket above every bound gives the maximum; a rank rounds up (1001 * 0.999 = 999.999) */
RIOV_TEST(overflow_bucket_and_rounding)
{
	const struct ctl_latency_bucket b[] = { { 1000, 999 }, { 2000, 1 }, { UINT64_MAX, 1 } };

	CHECK_EQ(ctl_latency_percentile(b, N(b), 5000000000ull, 998), 1000);  /* rank 999 */
	CHECK_EQ(ctl_latency_percentile(b, N(b), 5000000000ull, 999), 2000);  /* rank 1000 */
	CHECK(ctl_latency_percentile(b, N(b), 5000000000ull, 1000) == 5000000000ull);
}

/* counts whose product with 999 would overflow 64 bits */
RIOV_TEST(huge_counts)
{
	const struct ctl_latency_bucket b[] = { { 100, 999000000000000000ull }, { 200, 1000000000000000ull } };

	CHECK_EQ(ctl_latency_percentile(b, N(b), 150, 999), 100);   /* rank 999e15: the first bucket */
	CHECK_EQ(ctl_latency_percentile(b, N(b), 150, 1000), 150);
	const struct ctl_latency_bucket c[] = { { 100, 999000000000000000ull - 1 }, { 200, 1000000000000001ull } };
	CHECK_EQ(ctl_latency_percentile(c, N(c), 150, 999), 150);   /* one short of the rank */
}

/* The whole way: values recorded in riovd's histogram, its non-empty buckets as riovd sends them,
 * and the percentile riovctl computes is the exact nearest-rank value's bucket bound (or the
 * maximum): never below the exact value, at most a quarter above it. */
static int cmp_u64(const void *a, const void *b)
{
	const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

RIOV_TEST(against_exact_percentiles)
{
	enum { NV = 20000 };
	static uint64_t v[NV];
	static struct riov_loop_hist h;
	struct ctl_latency_bucket b[RIOV_LOOP_HIST_BUCKETS];
	size_t nb = 0;
	uint64_t x = 88172645463325252ull;

	for (unsigned i = 0; i < NV; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;      /* xorshift64 */
		/* mostly 0.3-3 us, a tail to 2 ms, a few over 2^30 ns */
		v[i] = i % 1000 == 7 ? (1ull << 30) + x % 1000000000u
		     : i % 50 == 3  ? 3000 + x % 2000000 : 300 + x % 2700;
		riov_loop_hist_add(&h, v[i]);
	}
	for (unsigned k = 0; k < RIOV_LOOP_HIST_BUCKETS; k++)
		if (h.count[k])
			b[nb++] = (struct ctl_latency_bucket){ riov_loop_hist_le_ns(k), h.count[k] };
	qsort(v, NV, sizeof(v[0]), cmp_u64);
	CHECK(h.max_ns == v[NV - 1]);
	static const unsigned pm[] = { 1, 100, 500, 900, 990, 995, 999, 1000 };
	for (size_t i = 0; i < N(pm); i++) {
		const uint64_t rank = ((uint64_t)NV * pm[i] + 999) / 1000;
		const uint64_t exact = v[rank - 1];
		const uint64_t le = riov_loop_hist_le_ns(riov_loop_hist_bucket(exact));
		const uint64_t got = ctl_latency_percentile(b, nb, h.max_ns, pm[i]);
		CHECK(got == (le < h.max_ns ? le : h.max_ns));
		CHECK(got >= exact);
		CHECK(got <= exact + exact / 4 + 1 || le == UINT64_MAX);
	}
}

RIOV_TEST(durations_for_people)
{
	char buf[32];

	CHECK(strcmp(ctl_latency_text(0, buf, sizeof(buf)), "0ns") == 0);
	CHECK(strcmp(ctl_latency_text(850, buf, sizeof(buf)), "850ns") == 0);
	CHECK(strcmp(ctl_latency_text(1000, buf, sizeof(buf)), "1.00us") == 0);
	CHECK(strcmp(ctl_latency_text(1536, buf, sizeof(buf)), "1.54us") == 0);
	CHECK(strcmp(ctl_latency_text(12345, buf, sizeof(buf)), "12.3us") == 0);
	CHECK(strcmp(ctl_latency_text(999600, buf, sizeof(buf)), "1.00ms") == 0);
	CHECK(strcmp(ctl_latency_text(3200000, buf, sizeof(buf)), "3.20ms") == 0);
	CHECK(strcmp(ctl_latency_text(1100000000, buf, sizeof(buf)), "1.10s") == 0);
	CHECK(strcmp(ctl_latency_text(123456789012ull, buf, sizeof(buf)), "123s") == 0);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(no_bursts_no_percentile),
	       RIOV_TEST_ENTRY(nearest_rank),
	       RIOV_TEST_ENTRY(overflow_bucket_and_rounding),
	       RIOV_TEST_ENTRY(huge_counts),
	       RIOV_TEST_ENTRY(against_exact_percentiles),
	       RIOV_TEST_ENTRY(durations_for_people))
