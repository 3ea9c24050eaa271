/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The read side of a worker's latency histogram (loop_hist.h): its clock and its bucket bounds.
 *
 * Thread rules: any thread; nothing here writes a histogram.
 */
#include "dataplane/loop_hist.h"

_Static_assert(RIOV_LOOP_HIST_SUB == 4, "riov_loop_hist_bucket() takes 2 bits below the top one");
_Static_assert(RIOV_LOOP_HIST_MIN_SHIFT >= 2 && RIOV_LOOP_HIST_MAX_SHIFT < 62, "bounds fit 64 bits");

uint64_t riov_loop_hist_mult(uint64_t tsc_hz)
{
	if (tsc_hz == 0)
		return 0;
	/* 10^9 * 2^32 < 2^62: no overflow; a TSC below 1 Hz cannot be */
	return (1000000000ull << 32) / tsc_hz;
}

uint64_t riov_loop_hist_le_ns(unsigned b)
{
	if (b == 0)
		return 1ull << RIOV_LOOP_HIST_MIN_SHIFT;
	if (b >= RIOV_LOOP_HIST_OVER)
		return UINT64_MAX;
	const unsigned e = RIOV_LOOP_HIST_MIN_SHIFT + (b - 1) / RIOV_LOOP_HIST_SUB;
	const unsigned s = (b - 1) % RIOV_LOOP_HIST_SUB;
	return (uint64_t)(5 + s) << (e - 2);
}

uint64_t riov_loop_hist_total(const struct riov_loop_hist *h)
{
	uint64_t n = 0;

	for (unsigned b = 0; b < RIOV_LOOP_HIST_BUCKETS; b++)
		n += h->count[b];
	return n;
}
