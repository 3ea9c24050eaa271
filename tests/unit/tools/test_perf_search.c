/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov-perf's NDR/PDR search (tools/riov-perf/perf_search.c) against trial doubles: a system that
 * loses what is offered above a threshold rate, one that drops every Nth frame at any rate, one
 * that fails the first trial only (not monotonic), a trial that fails, and a generator that falls
 * behind either by itself or because the switch refuses frames (backpressure).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "riov_test.h"

#include "perf_search.h"

/* A double of a switch that forwards at most cap Mpps: a 1-second trial at rate sends rate*1e6
 * frames and gets min(rate, cap)*1e6 back */
struct cap_double {
	double cap;
	unsigned calls;
	double rates[64];
};

static int cap_trial(void *arg, double rate, struct riov_perf_trial_out *out)
{
	struct cap_double *d = arg;
	if (d->calls < 64)
		d->rates[d->calls] = rate;
	d->calls++;
	out->sent = (uint64_t)llround(rate * 1e6);
	out->received = rate <= d->cap ? out->sent : (uint64_t)(d->cap * 1e6);
	return 0;
}

/* A double of a switch that drops every nth frame */
struct nth_double {
	uint64_t n;
	unsigned calls;
};

static int nth_trial(void *arg, double rate, struct riov_perf_trial_out *out)
{
	struct nth_double *d = arg;
	d->calls++;
	out->sent = (uint64_t)llround(rate * 1e6);
	out->received = out->sent - out->sent / d->n;
	return 0;
}

/* A switch that forwards at most cap Mpps behind a generator that sends at most gen Mpps */
struct gen_double {
	double cap, gen;
	unsigned calls;
};

static int gen_trial(void *arg, double rate, struct riov_perf_trial_out *out)
{
	struct gen_double *d = arg;
	d->calls++;
	double sent = fmin(rate, d->gen);
	out->achieved = sent < rate ? sent : 0; /* 0: as offered */
	out->sent = (uint64_t)llround(sent * 1e6);
	out->received = sent <= d->cap ? out->sent : (uint64_t)(d->cap * 1e6);
	return 0;
}

static const struct riov_perf_search_cfg base = {
	.max_rate = 10, .min_rate = 0.01, .precision = 0.01, .pdr_loss = 0.5, .max_trials = 100,
};

RIOV_TEST(threshold_converges)
{
	static const double caps[] = { 3.3, 0.5, 7.77, 9.995, 0.02 };
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct cap_double d = { .cap = caps[i] };
		struct riov_perf_search_result r;
		CHECK_EQ(riov_perf_search(&base, cap_trial, &d, &r), 0);
		CHECK(r.converged);
		CHECK(r.ndr.found);
		/* NDR: the passing rate is at most cap and within precision of it */
		CHECK(r.ndr.rate <= caps[i] && r.ndr.rate >= caps[i] - base.precision);
		CHECK(r.ndr.upper > caps[i] && r.ndr.upper - r.ndr.rate <= base.precision);
		CHECK(r.ndr.received == r.ndr.sent);
		/* PDR: the highest rate with (rate - cap) / rate <= 0.5 %, i.e. cap / 0.995 */
		double pdr = fmin(caps[i] / 0.995, base.max_rate);
		CHECK(r.pdr.found);
		CHECK(r.pdr.rate <= pdr + 1e-6 && r.pdr.rate >= pdr - base.precision);
		CHECK(r.pdr.rate >= r.ndr.rate);
		CHECK(r.pdr.sent - r.pdr.received <= r.pdr.sent / 200);
		CHECK(r.trials == d.calls);
		CHECK(d.rates[0] == base.max_rate);
		/* binary: about log2(10 / 0.01) trials per bound */
		CHECK(r.trials <= 24);
	}
}

RIOV_TEST(max_rate_passes)
{
	struct cap_double d = { .cap = 100 };
	struct riov_perf_search_result r;
	CHECK_EQ(riov_perf_search(&base, cap_trial, &d, &r), 0);
	CHECK_EQ(r.trials, 1);
	CHECK(r.converged && r.ndr.found && r.pdr.found);
	CHECK(r.ndr.rate == 10 && r.pdr.rate == 10);
}

/* The generator sends at most 4 Mpps and the switch takes 9: both bounds are the generator's 4,
 * flagged, found at once (nothing faster can be offered) */
RIOV_TEST(generator_limited_pass)
{
	struct gen_double d = { .cap = 9, .gen = 4 };
	struct riov_perf_search_result r;
	CHECK_EQ(riov_perf_search(&base, gen_trial, &d, &r), 0);
	CHECK(r.converged);
	CHECK_EQ(r.trials, 1);
	CHECK(r.ndr.found && r.ndr.limit == RIOV_PERF_LIMIT_GENERATOR && r.ndr.rate == 4 && r.ndr.upper == 4);
	CHECK(r.pdr.found && r.pdr.limit == RIOV_PERF_LIMIT_GENERATOR && r.pdr.rate == 4);
}

/* The generator sends at most 4 Mpps and the switch takes 3: the limited trial fails, and the search
 * below it finds the switch's 3, not flagged */
RIOV_TEST(generator_limited_fail)
{
	struct gen_double d = { .cap = 3, .gen = 4 };
	struct riov_perf_search_result r;
	CHECK_EQ(riov_perf_search(&base, gen_trial, &d, &r), 0);
	CHECK(r.converged && r.ndr.found && r.ndr.limit == RIOV_PERF_LIMIT_NONE);
	CHECK(r.ndr.rate <= 3 && r.ndr.rate >= 3 - base.precision);
	CHECK(r.ndr.upper <= 4);
	CHECK(r.pdr.found && r.pdr.limit == RIOV_PERF_LIMIT_NONE);
	CHECK(r.pdr.rate <= 3 / 0.995 + 1e-6 && r.pdr.rate >= 3 / 0.995 - base.precision);
	CHECK(r.trials == d.calls && r.trials <= 24);
}

/* Within the tolerance (1 %) a short trial is not generator limited: the search goes on as usual */
RIOV_TEST(generator_within_tolerance)
{
	struct gen_double d = { .cap = 100, .gen = 9.95 };
	struct riov_perf_search_result r;
	CHECK_EQ(riov_perf_search(&base, gen_trial, &d, &r), 0);
	CHECK(r.ndr.found && r.ndr.limit == RIOV_PERF_LIMIT_NONE && r.ndr.rate == 10);
}

/* A generator that could send gen Mpps, in front of a switch that takes at most cap Mpps off its
 * ring and pushes back above it (a full ring refuses frames, nothing is lost): the generator sends
 * min(rate, gen, cap); what it offered above cap is refused, share refused of what it sent (for a
 * ring that refuses each frame of a burst that does not fit: about (rate - cap) / cap) */
struct bp_double {
	double cap, gen;
	unsigned calls;
	double rates[64];
};

static int bp_trial(void *arg, double rate, struct riov_perf_trial_out *out)
{
	struct bp_double *d = arg;
	if (d->calls < 64)
		d->rates[d->calls] = rate;
	d->calls++;
	double sent = fmin(rate, fmin(d->gen, d->cap));
	out->achieved = sent < rate ? sent : 0;
	out->sent = out->received = (uint64_t)llround(sent * 1e6);
	double offered = fmin(rate, d->gen);
	out->refused = offered > d->cap ? (uint64_t)llround((offered - d->cap) * 1e6) : 0;
	return 0;
}

/* The rule: short by more than the tolerance, and refusals above RIOV_PERF_BP_SHARE of the frames
 * sent, is backpressure; short without (or with few) refusals is the generator */
RIOV_TEST(trial_limit_rule)
{
	struct riov_perf_trial_out t = { .sent = 1000000, .received = 1000000, .achieved = 9.95 };
	CHECK_EQ(riov_perf_trial_limit(10, &t), RIOV_PERF_LIMIT_NONE);
	t.refused = 500000; /* refusals retried in time: not limited, whatever their number */
	CHECK_EQ(riov_perf_trial_limit(10, &t), RIOV_PERF_LIMIT_NONE);
	t.achieved = 0; /* as offered */
	CHECK_EQ(riov_perf_trial_limit(10, &t), RIOV_PERF_LIMIT_NONE);
	t.achieved = 5;
	t.refused = 0;
	CHECK_EQ(riov_perf_trial_limit(10, &t), RIOV_PERF_LIMIT_GENERATOR);
	t.refused = 10000; /* exactly 1 %: still the generator */
	CHECK_EQ(riov_perf_trial_limit(10, &t), RIOV_PERF_LIMIT_GENERATOR);
	t.refused = 10001;
	CHECK_EQ(riov_perf_trial_limit(10, &t), RIOV_PERF_LIMIT_BACKPRESSURE);
	/* nothing went out, the port refused everything */
	struct riov_perf_trial_out none = { .refused = 32 };
	CHECK_EQ(riov_perf_trial_limit(10, &none), RIOV_PERF_LIMIT_BACKPRESSURE);
	none.refused = 0;
	CHECK_EQ(riov_perf_trial_limit(10, &none), RIOV_PERF_LIMIT_NONE);
	CHECK(strcmp(riov_perf_limit_name(RIOV_PERF_LIMIT_NONE), "none") == 0);
	CHECK(strcmp(riov_perf_limit_name(RIOV_PERF_LIMIT_GENERATOR), "generator") == 0);
	CHECK(strcmp(riov_perf_limit_name(RIOV_PERF_LIMIT_BACKPRESSURE), "backpressure") == 0);
	/* offered loss: half the offered rate sent, 1 % of that lost: 50.5 % of the load not delivered */
	struct riov_perf_trial_out h = { .sent = 1000, .received = 990, .achieved = 5 };
	CHECK(fabs(riov_perf_offered_loss_pct(10, &h) - 50.5) < 1e-9);
	h.achieved = 0;
	CHECK(fabs(riov_perf_offered_loss_pct(10, &h) - 1.0) < 1e-9);
	CHECK(riov_perf_offered_loss_pct(10, &none) == 100.0);
}

/* The generator could send 9 Mpps, the switch takes 4 and pushes back above: the first trial (10)
 * is short with refusals, so it is backpressure and fails at 10, not a pass at 4 flagged as the
 * generator's; the search finds the switch's 4 below it, each bound marked as failing above by
 * backpressure */
RIOV_TEST(backpressure_is_the_switch)
{
	struct bp_double d = { .cap = 4, .gen = 9 };
	struct riov_perf_search_result r;
	CHECK_EQ(riov_perf_search(&base, bp_trial, &d, &r), 0);
	CHECK(r.converged);
	CHECK(r.trials > 1 && d.rates[0] == 10 && d.rates[1] == 5);
	printf("# ndr %.4f (upper %.4f), pdr %.4f (upper %.4f), %u trials\n", r.ndr.rate, r.ndr.upper,
	       r.pdr.rate, r.pdr.upper, r.trials);
	/* a trial within RIOV_PERF_GEN_TOLERANCE of its rate is not limited: up to 4 / 0.99 passes */
	CHECK(r.ndr.found && r.ndr.limit == RIOV_PERF_LIMIT_BACKPRESSURE);
	CHECK(r.ndr.rate <= 4 / (1 - RIOV_PERF_GEN_TOLERANCE) && r.ndr.rate >= 4 - base.precision);
	CHECK(r.ndr.upper > r.ndr.rate && r.ndr.upper - r.ndr.rate <= base.precision);
	CHECK(r.ndr.received == r.ndr.sent);
	/* PDR: what was not taken counts as lost, so at most 0.5 % above that */
	CHECK(r.pdr.found && r.pdr.limit == RIOV_PERF_LIMIT_BACKPRESSURE);
	CHECK(r.pdr.rate >= r.ndr.rate && r.pdr.rate <= 4 / (1 - RIOV_PERF_GEN_TOLERANCE) / 0.995 + 1e-6);
	CHECK(r.trials == d.calls && r.trials <= 24);
}

/* The same switch behind a generator of 3 Mpps: the generator is short first, without refusals,
 * and its 3 is the bound, flagged generator, after one trial */
RIOV_TEST(generator_before_backpressure)
{
	struct bp_double d = { .cap = 4, .gen = 3 };
	struct riov_perf_search_result r;
	CHECK_EQ(riov_perf_search(&base, bp_trial, &d, &r), 0);
	CHECK_EQ(r.trials, 1);
	CHECK(r.ndr.found && r.ndr.limit == RIOV_PERF_LIMIT_GENERATOR && r.ndr.rate == 3);
	CHECK(r.pdr.found && r.pdr.limit == RIOV_PERF_LIMIT_GENERATOR && r.pdr.rate == 3);
}

/* A PDR threshold above the share not taken: a backpressure trial passes PDR at its offered rate
 * (what was not delivered is within it), never NDR */
RIOV_TEST(backpressure_within_pdr)
{
	struct bp_double d = { .cap = 9.8, .gen = 100 };
	struct riov_perf_search_result r;
	struct riov_perf_search_cfg c = base;
	c.pdr_loss = 5;
	CHECK_EQ(riov_perf_search(&c, bp_trial, &d, &r), 0);
	CHECK(r.pdr.found && r.pdr.rate == 10 && r.pdr.limit == RIOV_PERF_LIMIT_NONE);
	printf("# ndr %.4f (upper %.4f, %s)\n", r.ndr.rate, r.ndr.upper, riov_perf_limit_name(r.ndr.limit));
	CHECK(r.ndr.found && r.ndr.rate <= 9.8 / (1 - RIOV_PERF_GEN_TOLERANCE) &&
	      r.ndr.limit == RIOV_PERF_LIMIT_BACKPRESSURE);
}

/* Every 1000th frame lost: 0.1 % at every rate, so no NDR and PDR at max rate with exactly that loss */
RIOV_TEST(drop_every_1000)
{
	struct nth_double d = { .n = 1000 };
	struct riov_perf_search_result r;
	CHECK_EQ(riov_perf_search(&base, nth_trial, &d, &r), 0);
	CHECK(r.converged);
	CHECK(!r.ndr.found);
	CHECK(r.ndr.rate == 0);
	CHECK(r.pdr.found);
	CHECK(r.pdr.rate == 10);
	CHECK_EQ(r.pdr.sent - r.pdr.received, 10000);
	CHECK(d.calls <= 16); /* down to min_rate, then no further */
}

/* Every 100th: 1 % > 0.5 %, nothing passes, the search stops at min_rate */
RIOV_TEST(drop_every_100)
{
	struct nth_double d = { .n = 100 };
	struct riov_perf_search_result r;
	CHECK_EQ(riov_perf_search(&base, nth_trial, &d, &r), 0);
	CHECK(r.converged);
	CHECK(!r.ndr.found && !r.pdr.found);
	CHECK(r.pdr.upper <= base.min_rate);
}

/* Every 250th: 0.4 %, PDR passes at 0.5 % and fails at 0.3 % */
RIOV_TEST(pdr_threshold_is_inclusive_of_loss)
{
	struct nth_double d = { .n = 250 };
	struct riov_perf_search_result r;
	struct riov_perf_search_cfg c = base;
	CHECK_EQ(riov_perf_search(&c, nth_trial, &d, &r), 0);
	CHECK(r.pdr.found && r.pdr.rate == 10 && !r.ndr.found);
	c.pdr_loss = 0.3;
	CHECK_EQ(riov_perf_search(&c, nth_trial, &d, &r), 0);
	CHECK(!r.pdr.found);
}

RIOV_TEST(trial_limit)
{
	struct cap_double d = { .cap = 3.3 };
	struct riov_perf_search_result r;
	struct riov_perf_search_cfg c = base;
	c.max_trials = 3;
	CHECK_EQ(riov_perf_search(&c, cap_trial, &d, &r), 0);
	CHECK_EQ(r.trials, 3);
	CHECK_EQ(d.calls, 3);
	CHECK(!r.converged);
	CHECK(r.ndr.found && r.ndr.rate <= 3.3); /* 10 fails, 5 fails, 2.5 passes */
	CHECK(r.ndr.rate == 2.5);
}

/* Not monotonic: a pass above an earlier fail narrows nothing it lies outside of */
static int flaky_trial(void *arg, double rate, struct riov_perf_trial_out *out)
{
	unsigned *calls = arg;
	out->sent = 1000000;
	out->received = (*calls)++ == 1 || rate > 6 ? 990000 : 1000000;
	return 0;
}

RIOV_TEST(non_monotonic_stays_consistent)
{
	unsigned calls = 0;
	struct riov_perf_search_result r;
	CHECK_EQ(riov_perf_search(&base, flaky_trial, &calls, &r), 0);
	CHECK(r.converged);
	/* trial 2 at 5 Mpps lost 1 % by chance: both upper bounds are 5 from then on, although rates up
	 * to 6 would pass; no later trial goes above 5 */
	CHECK(r.ndr.found && r.ndr.rate < 5 && r.ndr.rate >= 5 - base.precision && r.ndr.upper == 5);
	CHECK(r.pdr.found && r.pdr.rate < 5 && r.pdr.upper == 5);
	CHECK(r.ndr.rate <= r.ndr.upper && r.pdr.rate <= r.pdr.upper);
}

static int failing_trial(void *arg, double rate, struct riov_perf_trial_out *out)
{
	return -EIO;
}

RIOV_TEST(errors)
{
	struct riov_perf_search_result r;
	struct riov_perf_search_cfg c = base;
	CHECK_EQ(riov_perf_search(&c, failing_trial, NULL, &r), -EIO);
	c.precision = 0;
	CHECK_EQ(riov_perf_search(&c, failing_trial, NULL, &r), -EINVAL);
	c = base;
	c.min_rate = 20;
	CHECK_EQ(riov_perf_search(&c, failing_trial, NULL, &r), -EINVAL);
	c = base;
	c.max_trials = 0;
	CHECK_EQ(riov_perf_search(&c, failing_trial, NULL, &r), -EINVAL);
	c = base;
	c.max_rate = NAN;
	CHECK_EQ(riov_perf_search(&c, failing_trial, NULL, &r), -EINVAL);
	struct riov_perf_trial_out none = { 0, 0 }, more = { 10, 12 };
	CHECK(riov_perf_loss_pct(&none) == 100.0);
	CHECK(riov_perf_loss_pct(&more) == 0.0);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(threshold_converges), RIOV_TEST_ENTRY(max_rate_passes),
	       RIOV_TEST_ENTRY(drop_every_1000), RIOV_TEST_ENTRY(drop_every_100),
	       RIOV_TEST_ENTRY(pdr_threshold_is_inclusive_of_loss), RIOV_TEST_ENTRY(trial_limit),
	       RIOV_TEST_ENTRY(non_monotonic_stays_consistent), RIOV_TEST_ENTRY(errors),
	       RIOV_TEST_ENTRY(generator_limited_pass), RIOV_TEST_ENTRY(generator_limited_fail),
	       RIOV_TEST_ENTRY(generator_within_tolerance), RIOV_TEST_ENTRY(trial_limit_rule),
	       RIOV_TEST_ENTRY(backpressure_is_the_switch), RIOV_TEST_ENTRY(generator_before_backpressure),
	       RIOV_TEST_ENTRY(backpressure_within_pdr))
