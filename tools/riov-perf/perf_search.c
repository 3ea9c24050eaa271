/* SPDX-License-Identifier: BSD-3-Clause */
/* NDR / PDR binary search (perf_search.h). */
#include "perf_search.h"

#include <errno.h>
#include <string.h>

double riov_perf_loss_pct(const struct riov_perf_trial_out *t)
{
	if (t->sent == 0)
		return 100.0;
	uint64_t rx = t->received > t->sent ? t->sent : t->received;
	return (double)(t->sent - rx) * 100.0 / (double)t->sent;
}

/* Narrow b with a trial at rate, if rate lies inside b's open interval (lower bound b->rate, 0 when
 * nothing passed yet). */
static void narrow(struct riov_perf_bound *b, double rate, bool pass, const struct riov_perf_trial_out *t)
{
	if (rate <= b->rate || rate >= b->upper)
		return;
	if (pass) {
		b->found = true;
		b->rate = rate;
		b->sent = t->sent;
		b->received = t->received;
	} else {
		b->upper = rate;
	}
}

/* The next rate to try for b, or 0 when b is done */
static double next_rate(const struct riov_perf_bound *b, const struct riov_perf_search_cfg *cfg)
{
	if (b->upper - b->rate <= cfg->precision)
		return 0;
	double mid = (b->rate + b->upper) / 2;
	if (mid < cfg->min_rate) {
		/* one last look at min_rate itself, unless it has failed already */
		return b->upper > cfg->min_rate && b->rate < cfg->min_rate ? cfg->min_rate : 0;
	}
	return mid;
}

int riov_perf_search(const struct riov_perf_search_cfg *cfg, riov_perf_trial_fn trial, void *arg,
		     struct riov_perf_search_result *res)
{
	if (!(cfg->max_rate > 0) || !(cfg->min_rate > 0) || cfg->min_rate > cfg->max_rate ||
	    !(cfg->precision > 0) || !(cfg->pdr_loss >= 0) || cfg->max_trials == 0)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	/* above max_rate: the upper bound starts just beyond it so that max_rate itself is inside */
	res->ndr.upper = res->pdr.upper = cfg->max_rate * 2;
	double rate = cfg->max_rate;

	while (rate > 0) {
		if (res->trials == cfg->max_trials)
			return 0;
		struct riov_perf_trial_out t = { 0, 0 };
		int rc = trial(arg, rate, &t);
		if (rc < 0)
			return rc;
		res->trials++;
		double loss = riov_perf_loss_pct(&t);
		narrow(&res->ndr, rate, t.sent > 0 && t.received >= t.sent, &t);
		narrow(&res->pdr, rate, t.sent > 0 && loss <= cfg->pdr_loss, &t);
		if (rate == cfg->max_rate) {
			/* max_rate passing is the answer: nothing above it is tried */
			if (res->ndr.found)
				res->ndr.upper = cfg->max_rate;
			if (res->pdr.found)
				res->pdr.upper = cfg->max_rate;
		}
		rate = next_rate(&res->ndr, cfg);
		if (rate == 0)
			rate = next_rate(&res->pdr, cfg);
	}
	res->converged = true;
	return 0;
}
