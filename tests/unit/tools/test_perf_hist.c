/* SPDX-License-Identifier: BSD-3-Clause */
/* riov-perf's log-linear histogram (tools/riov-perf/perf_hist.c): buckets, percentiles, merge. */
#include "riov_test.h"

#include "perf_hist.h"

static struct riov_perf_hist h, h2;

RIOV_TEST(empty_is_zero)
{
	riov_perf_hist_reset(&h);
	CHECK_EQ(riov_perf_hist_percentile(&h, 50), 0);
	CHECK_EQ(riov_perf_hist_percentile(&h, 100), 0);
	CHECK(riov_perf_hist_mean(&h) == 0.0);
}

/* Buckets join without gaps or overlaps, each value lies in its bucket, widths within 1/128 */
RIOV_TEST(buckets_tile_the_range)
{
	for (unsigned i = 0; i + 1 < RIOV_PERF_HIST_BUCKETS; i++) {
		CHECK(riov_perf_hist_high(i) + 1 == riov_perf_hist_low(i + 1));
		CHECK_EQ(riov_perf_hist_index(riov_perf_hist_low(i)), i);
		CHECK_EQ(riov_perf_hist_index(riov_perf_hist_high(i)), i);
	}
	CHECK_EQ(riov_perf_hist_index(UINT64_MAX), RIOV_PERF_HIST_BUCKETS - 1);
	CHECK(riov_perf_hist_high(RIOV_PERF_HIST_BUCKETS - 1) == UINT64_MAX);
	for (uint64_t v = 1; v < (1ull << 62); v = v * 3 + 7) {
		unsigned i = riov_perf_hist_index(v);
		uint64_t w = riov_perf_hist_high(i) - riov_perf_hist_low(i) + 1;
		CHECK(riov_perf_hist_low(i) <= v && v <= riov_perf_hist_high(i));
		CHECK(w == 1 || w * 128 <= riov_perf_hist_low(i));
	}
}

/* 1..100: small values are exact, so percentiles are the nearest-rank ones */
RIOV_TEST(exact_small_values)
{
	riov_perf_hist_reset(&h);
	for (uint64_t v = 100; v >= 1; v--)
		riov_perf_hist_add(&h, v);
	CHECK_EQ(h.count, 100);
	CHECK_EQ(h.min, 1);
	CHECK_EQ(h.max, 100);
	CHECK_EQ(riov_perf_hist_percentile(&h, 50), 50);
	CHECK_EQ(riov_perf_hist_percentile(&h, 99), 99);
	CHECK_EQ(riov_perf_hist_percentile(&h, 99.9), 100);
	CHECK_EQ(riov_perf_hist_percentile(&h, 100), 100);
	CHECK_EQ(riov_perf_hist_percentile(&h, 0.001), 1);
	CHECK(riov_perf_hist_mean(&h) == 50.5);
}

/* 1000 values: 990 of 1000 ns, 9 of 50 us, 1 of 2 ms. p50 and p99 in the 1000 bucket, p99.9 in the
 * 50 us one (within 1/128), max exact */
RIOV_TEST(known_distribution)
{
	riov_perf_hist_reset(&h);
	for (int i = 0; i < 990; i++)
		riov_perf_hist_add(&h, 1000);
	for (int i = 0; i < 9; i++)
		riov_perf_hist_add(&h, 50000);
	riov_perf_hist_add(&h, 2000000);
	uint64_t p50 = riov_perf_hist_percentile(&h, 50), p99 = riov_perf_hist_percentile(&h, 99);
	uint64_t p999 = riov_perf_hist_percentile(&h, 99.9), p9999 = riov_perf_hist_percentile(&h, 99.99);
	CHECK(p50 >= 1000 && p50 < 1000 + 1000 / 128 + 1);
	CHECK(p99 == p50);
	CHECK(p999 >= 50000 && p999 <= 50000 + 50000 / 128);
	CHECK_EQ(p9999, 2000000); /* the last bucket's value is clamped to the exact max */
	CHECK_EQ(riov_perf_hist_percentile(&h, 100), 2000000);
}

/* 1..1,000,000 uniform: every percentile within 1/128 above the exact one */
RIOV_TEST(uniform_relative_error)
{
	static const double ps[] = { 1, 10, 50, 90, 99, 99.9, 99.99 };
	riov_perf_hist_reset(&h);
	for (uint64_t v = 1; v <= 1000000; v++)
		riov_perf_hist_add(&h, v);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		uint64_t exact = (uint64_t)(ps[i] * 10000 + 0.5), got = riov_perf_hist_percentile(&h, ps[i]);
		CHECK(got >= exact);
		CHECK((double)got <= (double)exact * (1 + 1.0 / 128));
	}
}

RIOV_TEST(merge_adds_counts)
{
	riov_perf_hist_reset(&h);
	riov_perf_hist_reset(&h2);
	for (uint64_t v = 1; v <= 50; v++)
		riov_perf_hist_add(&h, v);
	for (uint64_t v = 51; v <= 100; v++)
		riov_perf_hist_add(&h2, v);
	riov_perf_hist_merge(&h, &h2);
	CHECK_EQ(h.count, 100);
	CHECK_EQ(h.min, 1);
	CHECK_EQ(h.max, 100);
	CHECK_EQ(riov_perf_hist_percentile(&h, 75), 75);
	riov_perf_hist_reset(&h2);
	riov_perf_hist_merge(&h, &h2); /* an empty one changes nothing, min included */
	CHECK_EQ(h.min, 1);
	CHECK_EQ(h.count, 100);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(empty_is_zero), RIOV_TEST_ENTRY(buckets_tile_the_range),
	       RIOV_TEST_ENTRY(exact_small_values), RIOV_TEST_ENTRY(known_distribution),
	       RIOV_TEST_ENTRY(uniform_relative_error), RIOV_TEST_ENTRY(merge_adds_counts))
