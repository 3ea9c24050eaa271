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
 * A trial more than RIOV_PERF_GEN_TOLERANCE short of its offered rate is limited, by one of two
 * causes (riov_perf_trial_limit):
 *  - generator: the port took (nearly) every frame offered to it, but riov-perf's own core could
 *    not build and send them on schedule. The trial counts at the rate the generator achieved, not
 *    the one asked for: a generator that cannot send faster than A makes a passing trial the bound
 *    itself (found at A, upper A, limit generator), since no rate above A can be tried; a failing
 *    one lowers the upper bound to A.
 *  - backpressure: the port refused frames (a virtio-user TX ring the switch did not empty in
 *    time), more than RIOV_PERF_BP_SHARE of the frames sent. The system under test did not take the
 *    offered load, which RFC 2544 counts against it (a frame the device does not accept is not
 *    forwarded): the trial counts at its offered rate, with the share of the offered load that was
 *    not delivered as its loss (riov_perf_offered_loss_pct), so it always fails NDR; the bound it
 *    lowers is marked backpressure, and the search goes on below it.
 */
#ifndef RIOV_TOOLS_PERF_SEARCH_H
#define RIOV_TOOLS_PERF_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

/** What one trial measured: frames sent, distinct frames received (received <= sent), the rate
 *  the generator achieved (Mpps per stream; 0: as offered), and the distinct frames the port
 *  refused at least once (offered again later, or never sent). */
struct riov_perf_trial_out {
	uint64_t sent;
	uint64_t received;
	double achieved;
	uint64_t refused;
};

/** A trial whose achieved rate is more than this fraction below the offered one was limited: by the
 *  generator or by backpressure (riov_perf_trial_limit). */
#define RIOV_PERF_GEN_TOLERANCE 0.01

/** A limited trial whose port refused more frames than this fraction of the frames it sent was
 *  limited by backpressure, else by the generator. */
#define RIOV_PERF_BP_SHARE 0.01

/** What held a trial, or a bound, below the rate it was offered at */
enum riov_perf_limit {
	RIOV_PERF_LIMIT_NONE,         /* nothing: achieved within RIOV_PERF_GEN_TOLERANCE */
	RIOV_PERF_LIMIT_GENERATOR,    /* riov-perf's own core: the port took what it was offered */
	RIOV_PERF_LIMIT_BACKPRESSURE, /* the system under test: the port refused frames */
};

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
	/* GENERATOR: rate is what the generator achieved in a loss-free (NDR) or under-threshold (PDR)
	 * trial, the switch may go faster; BACKPRESSURE: the trial at upper failed because the port
	 * refused the offered load (the switch is the limit, by pushing back rather than by losing
	 * frames); NONE: upper failed by loss, or is max_rate */
	enum riov_perf_limit limit;
};

struct riov_perf_search_result {
	struct riov_perf_bound ndr, pdr;
	unsigned trials;
	bool converged;     /* false: max_trials ended it */
};

/** Loss of a trial in percent (100 when nothing was sent). */
double riov_perf_loss_pct(const struct riov_perf_trial_out *t);

/** What limited a trial offered at rate (Mpps per stream): NONE when it achieved its rate within
 *  RIOV_PERF_GEN_TOLERANCE (achieved 0: as offered, unless nothing was sent and the port refused
 *  frames); else BACKPRESSURE when the port refused more than RIOV_PERF_BP_SHARE of the frames sent,
 *  else GENERATOR. */
enum riov_perf_limit riov_perf_trial_limit(double rate, const struct riov_perf_trial_out *t);

/** "none", "generator" or "backpressure" (the JSON's "limit") */
const char *riov_perf_limit_name(enum riov_perf_limit l);

/** Share of the load offered at rate that was not delivered, in percent: 100 × (1 − received / sent
 *  × achieved / rate), the loss of a backpressure-limited trial (100 when nothing was sent). */
double riov_perf_offered_loss_pct(double rate, const struct riov_perf_trial_out *t);

/** Search NDR and PDR with trial(arg, rate, out). Returns 0 (result in *res, also when nothing
 *  passed), -EINVAL for a bad cfg, or the trial's negative errno. */
int riov_perf_search(const struct riov_perf_search_cfg *cfg, riov_perf_trial_fn trial, void *arg,
		     struct riov_perf_search_result *res);

#endif
