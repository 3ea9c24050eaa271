/* SPDX-License-Identifier: BSD-3-Clause */
/* Percentiles of a worker's latency histogram, and durations for people (riovctl_latency.h). */
#include <stdio.h>

#include "riovctl_latency.h"

uint64_t ctl_latency_percentile(const struct ctl_latency_bucket *b, size_t n, uint64_t max_ns,
				unsigned per_mille)
{
	uint64_t total = 0, seen = 0;

	for (size_t i = 0; i < n; i++)
		total += b[i].count;
	if (total == 0 || per_mille == 0)
		return 0;
	if (per_mille > 1000)
		per_mille = 1000;
	/* rank = ceil(total * per_mille / 1000), without the product's overflow */
	const uint64_t rank = total / 1000 * per_mille + ((total % 1000) * per_mille + 999) / 1000;
	for (size_t i = 0; i < n; i++) {
		seen += b[i].count;
		if (seen >= rank)
			return b[i].le_ns < max_ns ? b[i].le_ns : max_ns;
	}
	return max_ns;   /* not reached: seen ends at total >= rank */
}

const char *ctl_latency_text(uint64_t ns, char *buf, size_t len)
{
	static const struct {
		double div;
		const char *unit;
	} units[] = { { 1e3, "us" }, { 1e6, "ms" }, { 1e9, "s" } };

	if (ns < 1000) {
		snprintf(buf, len, "%uns", (unsigned)ns);
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		const double v = (double)ns / units[i].div;
		/* the next unit once this one would round to 1000 */
		if (v >= 999.5 && i + 1 < sizeof(units) / sizeof(units[0]))
			continue;
		snprintf(buf, len, "%.*f%s", v < 9.995 ? 2 : v < 99.95 ? 1 : 0, v, units[i].unit);
		break;
	}
	return buf;
}
