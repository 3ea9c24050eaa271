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

enum riov_perf_limit riov_perf_trial_limit(double rate, const struct riov_perf_trial_out *t)
{
	bool limited = t->achieved > 0 ? t->achieved < rate * (1 - RIOV_PERF_GEN_TOLERANCE) :
					 t->sent == 0 && t->refused > 0;
	if (!limited)
		return RIOV_PERF_LIMIT_NONE;
	return (double)t->refused > (double)t->sent * RIOV_PERF_BP_SHARE ? RIOV_PERF_LIMIT_BACKPRESSURE :
									       RIOV_PERF_LIMIT_GENERATOR;
}

const char *riov_perf_limit_name(enum riov_perf_limit l)
{
	switch (l) {
	case RIOV_PERF_LIMIT_GENERATOR: return "generator";
	case RIOV_PERF_LIMIT_BACKPRESSURE: return "backpressure";
	default: return "none";
	}
}

double riov_perf_offered_loss_pct(double rate, const struct riov_perf_trial_out *t)
{
	if (t->sent == 0 || !(rate > 0))
		return 100.0;
	double delivered = (100.0 - riov_perf_loss_pct(t)) / 100.0;
	if (t->achieved > 0 && t->achieved < rate)
		delivered *= t->achieved / rate;
	return (1.0 - delivered) * 100.0;
}

/* Narrow b with a trial at rate, if rate lies inside b's open interval (lower bound b->rate, 0 when
 * nothing passed yet). A fail records why upper failed: lim is BACKPRESSURE or NONE. */
static void narrow(struct riov_perf_bound *b, double rate, bool pass, const struct riov_perf_trial_out *t,
		   enum riov_perf_limit lim)
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
		b->limit = lim;
	}
}

/* A generator-limited trial at rate (what it achieved): a pass is the bound itself, since nothing
 * faster can be offered; a fail is an upper bound like any other (narrow() records it). */
static void limit(struct riov_perf_bound *b, double rate, bool pass, const struct riov_perf_trial_out *t)
{
	if (!pass || rate <= b->rate)
		return;
	if (rate >= b->upper) {
		/* an earlier trial failed at or below this rate: the bound stays below it */
		return;
	}
	b->found = true;
	b->rate = rate;
	b->upper = rate;
	b->sent = t->sent;
	b->received = t->received;
	b->limit = RIOV_PERF_LIMIT_GENERATOR;
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
		struct riov_perf_trial_out t = { 0, 0, 0, 0 };
		int rc = trial(arg, rate, &t);
		if (rc < 0)
			return rc;
		res->trials++;
		double loss = riov_perf_loss_pct(&t);
		bool ndr_pass = t.sent > 0 && t.received >= t.sent;
		bool pdr_pass = t.sent > 0 && loss <= cfg->pdr_loss;
		double tried = rate;
		enum riov_perf_limit lim = riov_perf_trial_limit(rate, &t);
		if (lim == RIOV_PERF_LIMIT_GENERATOR) {
			/* the generator's ceiling: the trial counts at what it sent, nothing above is tried */
			tried = t.achieved;
			limit(&res->ndr, tried, ndr_pass, &t);
			limit(&res->pdr, tried, pdr_pass, &t);
			lim = RIOV_PERF_LIMIT_NONE; /* a fail at the achieved rate is a fail by loss */
		} else if (lim == RIOV_PERF_LIMIT_BACKPRESSURE) {
			/* the system under test refused part of the offered load: at the offered rate, what
			 * it did not take is lost (RFC 2544 section 26.1 counts frames offered) */
			ndr_pass = false;
			pdr_pass = t.sent > 0 && riov_perf_offered_loss_pct(rate, &t) <= cfg->pdr_loss;
		}
		narrow(&res->ndr, tried, ndr_pass, &t, lim);
		narrow(&res->pdr, tried, pdr_pass, &t, lim);
		if (rate == cfg->max_rate) {
			/* max_rate passing is the answer: nothing above it is tried */
			if (res->ndr.found && res->ndr.limit != RIOV_PERF_LIMIT_GENERATOR)
				res->ndr.upper = cfg->max_rate;
			if (res->pdr.found && res->pdr.limit != RIOV_PERF_LIMIT_GENERATOR)
				res->pdr.upper = cfg->max_rate;
		}
		rate = next_rate(&res->ndr, cfg);
		if (rate == 0)
			rate = next_rate(&res->pdr, cfg);
	}
	res->converged = true;
	return 0;
}
