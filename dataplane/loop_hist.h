/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker's latency histogram of its own forwarding (issue 17): for each burst a worker takes from
 * an input, the time from taking it to handing its last frame on (docs/api.md, "Worker counters"),
 * in log-linear buckets of nanoseconds:
 *
 *   bucket 0                      ns <= 64 (2^RIOV_LOOP_HIST_MIN_SHIFT)
 *   buckets 1 .. 4*(30-6)         4 per power of two from 2^6 to 2^30 ns: bucket 1 + 4*(e-6) + s
 *                                 holds (4+s)*2^(e-2) < ns <= (5+s)*2^(e-2), s = 0..3: every bucket
 *                                 at most a quarter of its lower bound wide
 *   bucket RIOV_LOOP_HIST_OVER    ns > 2^30 (1.07 s)
 *
 * Buckets are closed above, so their upper bounds (riov_loop_hist_le_ns()) are Prometheus's `le`,
 * and every bound of a power of two is one of them (the metrics endpoint exports those).
 *
 * Thread rules: one writer, the worker that owns the histogram (riov_loop_hist_add(): a handful
 * of integer instructions, no division, no floating point); the control thread reads it without
 * a lock, as the other worker counters (64-bit loads: a copy may be a burst behind, and its sum,
 * maximum and buckets may disagree by that burst). DPDK-free, so that unit tests and the control
 * plane use it without EAL; dataplane/dp.h includes it (riov_dp_worker_stats()).
 */
#ifndef RIOV_DATAPLANE_LOOP_HIST_H
#define RIOV_DATAPLANE_LOOP_HIST_H

#include <stdint.h>

#define RIOV_LOOP_HIST_MIN_SHIFT 6     /* bucket 0: up to 64 ns */
#define RIOV_LOOP_HIST_MAX_SHIFT 30    /* the last bounded bucket ends at 2^30 ns */
#define RIOV_LOOP_HIST_SUB 4           /* buckets per power of two */
#define RIOV_LOOP_HIST_OVER (1 + RIOV_LOOP_HIST_SUB * (RIOV_LOOP_HIST_MAX_SHIFT - RIOV_LOOP_HIST_MIN_SHIFT))
#define RIOV_LOOP_HIST_BUCKETS (RIOV_LOOP_HIST_OVER + 1)

struct riov_loop_hist {
	uint64_t count[RIOV_LOOP_HIST_BUCKETS];  /* bursts per bucket (not cumulative) */
	uint64_t sum_ns;                         /* of every burst recorded */
	uint64_t max_ns;                         /* the longest */
};

/** The bucket of a latency of ns nanoseconds. */
static inline unsigned riov_loop_hist_bucket(uint64_t ns)
{
	if (ns <= (1ull << RIOV_LOOP_HIST_MIN_SHIFT))
		return 0;
	/* buckets are closed above: place ns - 1 in the half-open layout [4+s, 5+s) * 2^(e-2) */
	const uint64_t x = ns - 1;
	const unsigned e = 63u - (unsigned)__builtin_clzll(x);   /* x >= 64: e >= 6 */
	if (e >= RIOV_LOOP_HIST_MAX_SHIFT)
		return RIOV_LOOP_HIST_OVER;
	return 1u + RIOV_LOOP_HIST_SUB * (e - RIOV_LOOP_HIST_MIN_SHIFT) + (unsigned)((x >> (e - 2)) & 3u);
}

/** ns of `cycles` TSC cycles, mult from riov_loop_hist_mult(): a multiplication and a shift. */
static inline uint64_t riov_loop_hist_ns(uint64_t cycles, uint64_t mult)
{
	__extension__ typedef unsigned __int128 u128;
	const u128 p = (u128)cycles * mult;
	return (p >> 96) != 0 ? UINT64_MAX : (uint64_t)(p >> 32);
}

/** Record one burst of ns nanoseconds. Its worker only. */
static inline void riov_loop_hist_add(struct riov_loop_hist *h, uint64_t ns)
{
	h->count[riov_loop_hist_bucket(ns)]++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

/** The multiplier of riov_loop_hist_ns() for a TSC of tsc_hz: ns = cycles * mult / 2^32.
 *  @return it, or 0 for tsc_hz 0 (every latency then 0 ns). */
uint64_t riov_loop_hist_mult(uint64_t tsc_hz);
/** The upper bound of bucket b (inclusive) in ns; UINT64_MAX for RIOV_LOOP_HIST_OVER and above. */
uint64_t riov_loop_hist_le_ns(unsigned b);
/** Bursts recorded: the sum of h's buckets. */
uint64_t riov_loop_hist_total(const struct riov_loop_hist *h);

#endif
