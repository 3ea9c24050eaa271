/* SPDX-License-Identifier: BSD-3-Clause */
/* Exact per-stream receive accounting (perf_stream.h). */
#include "perf_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int riov_perf_stream_init(struct riov_perf_stream_rx *s, uint64_t capacity)
{
	memset(s, 0, sizeof(*s));
	s->seen = calloc(capacity / 64 + 1, sizeof(uint64_t));
	if (s->seen == NULL)
		return -ENOMEM;
	s->capacity = capacity;
	riov_perf_hist_reset(&s->lat);
	return 0;
}

void riov_perf_stream_reset(struct riov_perf_stream_rx *s)
{
	memset(s->seen, 0, (s->capacity / 64 + 1) * sizeof(uint64_t));
	s->received = s->duplicates = s->reordered = s->out_of_range = s->next = 0;
	riov_perf_hist_reset(&s->lat);
}

void riov_perf_stream_fini(struct riov_perf_stream_rx *s)
{
	free(s->seen);
	s->seen = NULL;
	s->capacity = 0;
}

uint64_t riov_perf_stream_lost(const struct riov_perf_stream_rx *s, uint64_t sent)
{
	return s->received >= sent ? 0 : sent - s->received;
}
