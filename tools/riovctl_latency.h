/* SPDX-License-Identifier: BSD-3-Clause */
/* riovctl's arithmetic on a worker's latency histogram as riovd sends it (riov.proto
 * WorkerCounters.latency_buckets): percentiles and durations for people. No protobuf, no I/O, so
 * that unit tests reach it alone (tests/unit/tools). */
#ifndef RIOV_TOOLS_RIOVCTL_LATENCY_H
#define RIOV_TOOLS_RIOVCTL_LATENCY_H

#include <stddef.h>
#include <stdint.h>

/* A bucket: count bursts above the bound of the bucket before and at most le_ns (UINT64_MAX: no
 * bound). Buckets come with le_ns rising. */
struct ctl_latency_bucket {
	uint64_t le_ns;
	uint64_t count;
};

/**
 * The nearest-rank percentile per_mille / 10 (500: p50, 990: p99, 999: p99.9, 1000: the maximum) of
 * the bursts in b[0..n): the upper bound of the bucket that holds the burst of rank
 * ceil(total * per_mille / 1000), or max_ns when that is lower (the bucket of the longest burst,
 * and the one without a bound). So it is never below the exact percentile and at most its bucket's
 * width above it.
 * @return ns, or 0 when there are no bursts (or per_mille is 0).
 */
uint64_t ctl_latency_percentile(const struct ctl_latency_bucket *b, size_t n, uint64_t max_ns,
				unsigned per_mille);

/** ns for people, three significant digits at most: "850ns", "1.50us", "12.3us", "3.20ms", "1.10s". */
const char *ctl_latency_text(uint64_t ns, char *buf, size_t len);

#endif
