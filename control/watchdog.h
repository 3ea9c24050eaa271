/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * systemd's service watchdog for riovd (issue 16, deploy/riovd.service's WatchdogSec=): riovd
 * sends WATCHDOG=1 only while its control loop runs (the pings come from a timer on that loop)
 * and every dataplane worker makes progress (its poll-loop counter moved within half the watchdog
 * interval). A worker stuck in a loop, a lock or a busy device stops the pings, and systemd kills
 * and restarts riovd (the state file restores it). Without WATCHDOG_USEC in the environment (no
 * WatchdogSec=, or riovd not run by systemd) nothing is started.
 *
 * Thread rules: control thread only; workers are only read (their loop counters).
 */
#ifndef RIOV_CONTROL_WATCHDOG_H
#define RIOV_CONTROL_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct riov_dp;

#define RIOV_WATCHDOG_MAX_WORKERS 128

/** The progress check, apart from timers and systemd (unit-tested): per worker the loop counter
 *  last seen and when it last moved. */
struct riov_watchdog_check {
	uint64_t stall_us;                  /* a worker whose counter stands still longer is stuck */
	unsigned n;                         /* workers seen so far */
	uint64_t loops[RIOV_WATCHDOG_MAX_WORKERS];
	uint64_t moved_us[RIOV_WATCHDOG_MAX_WORKERS];
};

/** Start a check: a worker is stuck after stall_us without progress. */
void riov_watchdog_check_init(struct riov_watchdog_check *c, uint64_t stall_us);

/** The workers' loop counters now (loops[0..n), n <= RIOV_WATCHDOG_MAX_WORKERS) at time now_us
 *  (monotonic): true when every worker moved within stall_us; false with *stuck the first worker
 *  that did not and *still_us how long it has stood still. A worker seen for the first time counts
 *  as having just moved. */
bool riov_watchdog_check_update(struct riov_watchdog_check *c, const uint64_t *loops, unsigned n,
				uint64_t now_us, unsigned *stuck, uint64_t *still_us);

struct riov_watchdog;

/** If systemd asks for a watchdog (sd_watchdog_enabled()), start pinging it from a timer on base
 *  every quarter of its interval, while dp's workers make progress (stuck: no progress for half
 *  the interval). *out is NULL when no watchdog is wanted. Returns 0 or -errno (logged). */
int riov_watchdog_start(struct event_base *base, struct riov_dp *dp, struct riov_watchdog **out);

/** Stop pinging and free (NULL is fine). */
void riov_watchdog_stop(struct riov_watchdog *wd);

#endif
