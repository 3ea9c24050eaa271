/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receive-side accounting of one stream in one trial, exact: a bitmap with a bit per sequence number
 * the sender may use, so loss (sent minus distinct received) and duplicates (a bit already set) are
 * counted exactly however late or out of order a frame comes. A frame with a sequence number below
 * the highest seen so far (and not a duplicate) counts as reordered. DPDK-free.
 *
 * Thread rules: one thread (riov-perf's lcore); no locking.
 */
#ifndef RIOV_TOOLS_PERF_STREAM_H
#define RIOV_TOOLS_PERF_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "perf_hist.h"

struct riov_perf_stream_rx {
	uint64_t *seen;       /* capacity bits */
	uint64_t capacity;    /* sequence numbers 0 .. capacity-1 */
	uint64_t received;    /* distinct sequence numbers */
	uint64_t duplicates;
	uint64_t reordered;
	uint64_t out_of_range; /* sequence number at or above capacity: never sent */
	uint64_t next;        /* highest sequence number seen + 1 */
	struct riov_perf_hist lat; /* nanoseconds */
};

enum riov_perf_rx_verdict {
	RIOV_PERF_RX_NEW,
	RIOV_PERF_RX_REORDERED, /* new, but below the highest seen */
	RIOV_PERF_RX_DUPLICATE,
	RIOV_PERF_RX_OUT_OF_RANGE,
};

/** Allocate s for capacity sequence numbers (and reset it). Returns 0 or -ENOMEM. */
int riov_perf_stream_init(struct riov_perf_stream_rx *s, uint64_t capacity);

/** Forget every frame seen (a new trial with the same capacity). */
void riov_perf_stream_reset(struct riov_perf_stream_rx *s);

/** Free s's memory. */
void riov_perf_stream_fini(struct riov_perf_stream_rx *s);

/** Count a received frame with sequence number seq and latency lat_ns (counted in the histogram for
 *  new frames only, reordered included). Returns what it was. Inline: riov-perf's every frame. */
static inline enum riov_perf_rx_verdict riov_perf_stream_rx(struct riov_perf_stream_rx *s, uint64_t seq,
							    uint64_t lat_ns)
{
	if (seq >= s->capacity) {
		s->out_of_range++;
		return RIOV_PERF_RX_OUT_OF_RANGE;
	}
	uint64_t bit = 1ull << (seq % 64);
	uint64_t *w = &s->seen[seq / 64];
	if (*w & bit) {
		s->duplicates++;
		return RIOV_PERF_RX_DUPLICATE;
	}
	*w |= bit;
	s->received++;
	riov_perf_hist_add(&s->lat, lat_ns);
	if (seq < s->next) {
		s->reordered++;
		return RIOV_PERF_RX_REORDERED;
	}
	s->next = seq + 1;
	return RIOV_PERF_RX_NEW;
}

/** Frames lost of sent: sent minus the distinct frames received (0 if more arrived, which a correct
 *  peer cannot do: those are duplicates or out of range). */
uint64_t riov_perf_stream_lost(const struct riov_perf_stream_rx *s, uint64_t sent);

#endif
