/* SPDX-License-Identifier: BSD-3-Clause */
/* The log-linear histogram of perf_hist.h. */
#include "perf_hist.h"

#include <math.h>
#include <string.h>

#define S RIOV_PERF_HIST_SUB_BITS

uint64_t riov_perf_hist_low(unsigned i)
{
	if (i < RIOV_PERF_HIST_SUB)
		return i;
	unsigned m = S + (i - RIOV_PERF_HIST_SUB) / RIOV_PERF_HIST_SUB;
	unsigned sub = (i - RIOV_PERF_HIST_SUB) % RIOV_PERF_HIST_SUB;
	return ((uint64_t)RIOV_PERF_HIST_SUB + sub) << (m - S);
}

uint64_t riov_perf_hist_high(unsigned i)
{
	if (i < RIOV_PERF_HIST_SUB)
		return i;
	unsigned m = S + (i - RIOV_PERF_HIST_SUB) / RIOV_PERF_HIST_SUB;
	return riov_perf_hist_low(i) + (((uint64_t)1 << (m - S)) - 1);
}

void riov_perf_hist_reset(struct riov_perf_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void riov_perf_hist_merge(struct riov_perf_hist *dst, const struct riov_perf_hist *src)
{
	if (src->count == 0)
		return;
	for (unsigned i = 0; i < RIOV_PERF_HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t riov_perf_hist_percentile(const struct riov_perf_hist *h, double p)
{
	if (h->count == 0)
		return 0;
	if (p > 100.0)
		p = 100.0;
	/* the tolerance keeps 99.9 % of 1000 at rank 999 whatever 99.9's binary rounding */
	uint64_t rank = (uint64_t)ceil(p * (double)h->count / 100.0 - 1e-6);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < RIOV_PERF_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			uint64_t v = riov_perf_hist_high(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

double riov_perf_hist_mean(const struct riov_perf_hist *h)
{
	return h->count ? h->sum / (double)h->count : 0.0;
}
