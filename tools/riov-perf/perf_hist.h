/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A log-linear latency histogram in the manner of HdrHistogram: values below 2^S (S =
 * RIOV_PERF_HIST_SUB_BITS) have a bucket each, above that every power of two is cut into 2^S equal
 * buckets, so a value is known to within 1/2^S (0.8 %) of itself over the whole 64-bit range.
 * Values are nanoseconds in riov-perf; the histogram itself has no unit. DPDK-free.
 *
 * Thread rules: one writer, no locking; merge after the writer is done.
 */
#ifndef RIOV_TOOLS_PERF_HIST_H
#define RIOV_TOOLS_PERF_HIST_H

#include <stdint.h>

#define RIOV_PERF_HIST_SUB_BITS 7
#define RIOV_PERF_HIST_SUB (1u << RIOV_PERF_HIST_SUB_BITS)
#define RIOV_PERF_HIST_BUCKETS (RIOV_PERF_HIST_SUB + (64 - RIOV_PERF_HIST_SUB_BITS) * RIOV_PERF_HIST_SUB)

struct riov_perf_hist {
	uint64_t count;
	uint64_t min, max; /* exact; min is UINT64_MAX while count is 0 */
	double sum;
	uint64_t bucket[RIOV_PERF_HIST_BUCKETS];
};

/** Empty the histogram. */
void riov_perf_hist_reset(struct riov_perf_hist *h);

/** Bucket index of v (inline: riov-perf counts every received frame). */
static inline unsigned riov_perf_hist_index(uint64_t v)
{
	if (v < RIOV_PERF_HIST_SUB)
		return (unsigned)v;
	unsigned m = 63u - (unsigned)__builtin_clzll(v); /* m >= S */
	unsigned sub = (unsigned)(v >> (m - RIOV_PERF_HIST_SUB_BITS)) & (RIOV_PERF_HIST_SUB - 1);
	/* m == S gives index v itself: the linear and the logarithmic parts join without a gap */
	return RIOV_PERF_HIST_SUB + (m - RIOV_PERF_HIST_SUB_BITS) * RIOV_PERF_HIST_SUB + sub;
}

/** Count one value. */
static inline void riov_perf_hist_add(struct riov_perf_hist *h, uint64_t v)
{
	h->bucket[riov_perf_hist_index(v)]++;
	h->count++;
	h->sum += (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/** Add src's counts to dst. */
void riov_perf_hist_merge(struct riov_perf_hist *dst, const struct riov_perf_hist *src);

/** The value at percentile p (0 < p <= 100): the highest value of the bucket that holds the
 *  ceil(p/100 * count)-th smallest value, but not above the exact max (values below 2^S are exact).
 *  Returns 0 for an empty histogram. */
uint64_t riov_perf_hist_percentile(const struct riov_perf_hist *h, double p);

/** Mean, 0 for an empty histogram. */
double riov_perf_hist_mean(const struct riov_perf_hist *h);

/** The lowest and highest values of bucket i (for the tests). */
uint64_t riov_perf_hist_low(unsigned i);
uint64_t riov_perf_hist_high(unsigned i);

#endif
