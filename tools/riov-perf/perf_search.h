/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NDR / PDR search (RFC 2544 section 26.1 throughput, by binary search; PDR as in FD.io CSIT): the
 * highest offered rate with no loss (NDR) and with at most pdr_loss percent loss (PDR). A pure
 * function of a trial callback, so that it is tested without DPDK and without time.
 *
 * One series of trials serves both: every trial narrows the NDR interval and the PDR interval it
 * falls into (a zero-loss trial passes both, a trial over the PDR threshold fails both). The first
 * trial is at max_rate; then the midpoint of the NDR interval until it is within precision, then
 * that of the PDR interval. A result that contradicts an earlier one (the system under test is not
 * monotonic) only narrows an interval it falls inside, so the intervals never cross.
 *
 * A trial counts at the rate the generator achieved, not the one asked for: a generator that cannot
 * send faster than A makes a passing trial the bound itself (found at A, upper A, generator_limited),
 * since no rate above A can be tried; a failing one lowers the upper bound to A.
 */
#ifndef RIOV_TOOLS_PERF_SEARCH_H
#define RIOV_TOOLS_PERF_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

/** What one trial measured: frames sent, distinct frames received (received <= sent), and the rate
 *  the generator achieved (Mpps per stream; 0: as offered). */
struct riov_perf_trial_out {
	uint64_t sent;
	uint64_t received;
	double achieved;
};

/** A trial whose achieved rate is more than this fraction below the offered one was generator
 *  limited: it counts at its achieved rate, and no rate above that can be tried. */
#define RIOV_PERF_GEN_TOLERANCE 0.01

/** Run one trial at rate (Mpps, per stream). Returns 0, or a negative errno that ends the search. */
typedef int (*riov_perf_trial_fn)(void *arg, double rate, struct riov_perf_trial_out *out);

struct riov_perf_search_cfg {
	double max_rate;    /* Mpps: the first trial and the highest result */
	double min_rate;    /* Mpps: no trial below it; a bound that would need one is "not found" */
	double precision;   /* Mpps: an interval this narrow is done */
	double pdr_loss;    /* percent, e.g. 0.5 */
	unsigned max_trials;
};

struct riov_perf_bound {
	bool found;         /* some trial passed */
	double rate;        /* highest passing rate (Mpps), 0 if none */
	double upper;       /* lowest failing rate, or max_rate when max_rate passed */
	uint64_t sent, received; /* the passing trial's */
	bool generator_limited; /* rate is what the generator achieved in a loss-free (NDR) or
				 * under-threshold (PDR) trial: the switch may go faster */
};

struct riov_perf_search_result {
	struct riov_perf_bound ndr, pdr;
	unsigned trials;
	bool converged;     /* false: max_trials ended it */
};

/** Loss of a trial in percent (100 when nothing was sent). */
double riov_perf_loss_pct(const struct riov_perf_trial_out *t);

/** Search NDR and PDR with trial(arg, rate, out). Returns 0 (result in *res, also when nothing
 *  passed), -EINVAL for a bad cfg, or the trial's negative errno. */
int riov_perf_search(const struct riov_perf_search_cfg *cfg, riov_perf_trial_fn trial, void *arg,
		     struct riov_perf_search_result *res);

#endif
