/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/loop_hist.{h,c}, a worker's latency histogram: the buckets tile the
 * nanoseconds without gaps, each value lands in the bucket whose bounds hold it, every power of
 * two from 64 ns to 2^30 ns is a bucket bound (the metrics endpoint's `le`), TSC cycles become ns
 * within a nanosecond, and recording keeps the count per bucket, the sum and the maximum. DPDK-free:
 * includes loop_hist.c.
 */
#include "dataplane/loop_hist.c"

#include "riov_test.h"

__extension__ typedef unsigned __int128 u128;

/* The lower bound of bucket b (exclusive): the upper bound of the one before, 0 for bucket 0. */
static uint64_t lo(unsigned b)
{
	return b == 0 ? 0 : riov_loop_hist_le_ns(b - 1);
}

RIOV_TEST(buckets_tile_the_range)
{
	CHECK_EQ(RIOV_LOOP_HIST_BUCKETS, 98);
	CHECK_EQ(riov_loop_hist_bucket(0), 0);
	CHECK_EQ(riov_loop_hist_bucket(1), 0);
	CHECK_EQ(riov_loop_hist_bucket(64), 0);
	CHECK_EQ(riov_loop_hist_bucket(65), 1);
	CHECK_EQ(riov_loop_hist_bucket(80), 1);
	CHECK_EQ(riov_loop_hist_bucket(81), 2);
	CHECK_EQ(riov_loop_hist_bucket(128), 4);
	CHECK_EQ(riov_loop_hist_bucket(129), 5);
	CHECK_EQ(riov_loop_hist_bucket(1ull << 30), RIOV_LOOP_HIST_OVER - 1);
	CHECK_EQ(riov_loop_hist_bucket((1ull << 30) + 1), RIOV_LOOP_HIST_OVER);
	CHECK_EQ(riov_loop_hist_bucket(UINT64_MAX), RIOV_LOOP_HIST_OVER);
	CHECK(riov_loop_hist_le_ns(RIOV_LOOP_HIST_OVER) == UINT64_MAX);
	CHECK(riov_loop_hist_le_ns(RIOV_LOOP_HIST_OVER - 1) == 1ull << 30);
	for (unsigned b = 0; b < RIOV_LOOP_HIST_OVER; b++) {
		const uint64_t le = riov_loop_hist_le_ns(b);
		CHECK(le > lo(b));
		CHECK_EQ(riov_loop_hist_bucket(le), b);          /* closed above */
		CHECK_EQ(riov_loop_hist_bucket(le + 1), b + 1);  /* the next one starts right after */
		CHECK_EQ(riov_loop_hist_bucket(lo(b) + 1), b);
		if (b > 0)
			CHECK(le - lo(b) <= lo(b) / 4);          /* at most a quarter of its bound wide */
	}
}

/* Values spread over 2^0 .. 2^40 each lie within their bucket's bounds. */
RIOV_TEST(every_value_in_its_bucket)
{
	for (uint64_t v = 0; v < (1ull << 40); v = v * 3 / 2 + 1) {
		const unsigned b = riov_loop_hist_bucket(v);
		CHECK(b < RIOV_LOOP_HIST_BUCKETS);
		CHECK(lo(b) < v || b == 0);
		CHECK(v <= riov_loop_hist_le_ns(b));
	}
}

/* The metrics endpoint exports the bounds that are powers of two: exact cumulative counts. */
RIOV_TEST(powers_of_two_are_bounds)
{
	unsigned found = 0;

	for (unsigned k = RIOV_LOOP_HIST_MIN_SHIFT; k <= RIOV_LOOP_HIST_MAX_SHIFT; k++)
		for (unsigned b = 0; b < RIOV_LOOP_HIST_OVER; b++)
			found += riov_loop_hist_le_ns(b) == 1ull << k;
	CHECK_EQ(found, RIOV_LOOP_HIST_MAX_SHIFT - RIOV_LOOP_HIST_MIN_SHIFT + 1);
}

/* ns from TSC cycles: exact at 1 GHz, within 1 ns (and 1 ppb) of the exact value elsewhere. */
RIOV_TEST(cycles_to_ns)
{
	static const uint64_t hz[] = { 1000000000ull, 2100000000ull, 2899999000ull, 3500000000ull,
				       100000000ull };

	CHECK(riov_loop_hist_mult(0) == 0);
	CHECK(riov_loop_hist_ns(12345, 0) == 0);
	CHECK(riov_loop_hist_mult(1000000000ull) == 1ull << 32);
	CHECK(riov_loop_hist_ns(1ull << 40, 1ull << 32) == 1ull << 40);
	CHECK(riov_loop_hist_ns(1000, riov_loop_hist_mult(2000000000ull)) == 500);
	for (size_t i = 0; i < sizeof(hz) / sizeof(hz[0]); i++) {
		const uint64_t mult = riov_loop_hist_mult(hz[i]);
		for (uint64_t c = 1; c < (1ull << 44); c = c * 5 / 3 + 1) {
			const uint64_t exact = (uint64_t)((u128)c * 1000000000u / hz[i]);   /* floor */
			const uint64_t got = riov_loop_hist_ns(c, mult);
			CHECK(got <= exact && got + 1 + exact / 1000000000u >= exact);
		}
	}
	/* a product past 2^96 saturates instead of wrapping */
	CHECK(riov_loop_hist_ns(UINT64_MAX, 1ull << 33) == UINT64_MAX);
}

RIOV_TEST(record_counts_sum_max)
{
	static struct riov_loop_hist h;
	static const uint64_t v[] = { 50, 100, 100, 5000, 1ull << 31, 64, 65 };
	uint64_t sum = 0;

	CHECK_EQ(riov_loop_hist_total(&h), 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		riov_loop_hist_add(&h, v[i]);
		sum += v[i];
	}
	CHECK_EQ(riov_loop_hist_total(&h), 7);
	CHECK(h.sum_ns == sum);
	CHECK(h.max_ns == 1ull << 31);
	CHECK_EQ(h.count[0], 2);                                   /* 50, 64 */
	CHECK_EQ(h.count[1], 1);                                   /* 65 */
	CHECK_EQ(h.count[riov_loop_hist_bucket(100)], 2);
	CHECK_EQ(h.count[riov_loop_hist_bucket(5000)], 1);
	CHECK_EQ(h.count[RIOV_LOOP_HIST_OVER], 1);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(buckets_tile_the_range),
	       RIOV_TEST_ENTRY(every_value_in_its_bucket),
	       RIOV_TEST_ENTRY(powers_of_two_are_bounds),
	       RIOV_TEST_ENTRY(cycles_to_ns),
	       RIOV_TEST_ENTRY(record_counts_sum_max))
