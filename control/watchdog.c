/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * systemd's service watchdog (watchdog.h). The pings are sent from a timer on the control loop,
 * so a stuck control loop stops them by itself; a stuck worker is seen by its poll-loop counter
 * (riov_dp_worker_stats(): a worker that naps between idle polls still counts its loops), read
 * every quarter of the interval. While a worker stands still the pings stop: systemd's own
 * deadline (WatchdogSec=) decides when riovd is killed, and riovd says why in the log and in the
 * unit's status (STATUS=) before that.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "control/watchdog.h"
#include "dataplane/dp.h"

RIOV_LOG_COMPONENT("riovd", RIOV_LOG_INFO);

_Static_assert(RIOV_DP_MAX_WORKERS <= RIOV_WATCHDOG_MAX_WORKERS, "the check covers every worker");

struct riov_watchdog {
	struct riov_dp *dp;
	struct event *tick;
	struct riov_watchdog_check check;
	bool stalled;            /* the pings stopped (said once in the log) */
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct riov_watchdog *wd = arg;
	struct riov_dp_worker_stats ws[RIOV_DP_MAX_WORKERS];
	uint64_t loops[RIOV_DP_MAX_WORKERS];
	unsigned n = riov_dp_worker_stats(wd->dp, ws, RIOV_DP_MAX_WORKERS), stuck = 0;
	uint64_t still = 0;

	(void)fd;
	(void)what;
	for (unsigned i = 0; i < n; i++)
		loops[i] = ws[i].loops;
	if (riov_watchdog_check_update(&wd->check, loops, n, now_us(), &stuck, &still)) {
		if (wd->stalled) {
			RIOV_LOG(RIOV_LOG_NOTICE, "watchdog: every worker makes progress again: pings resume");
			sd_notify(0, "STATUS=running");
			wd->stalled = false;
		}
		sd_notify(0, "WATCHDOG=1");
		return;
	}
	if (!wd->stalled) {
		RIOV_LOG(RIOV_LOG_ERR,
			 "watchdog: worker %u (lcore %u) has made no progress for %" PRIu64
			 " ms: the pings to systemd stop, which restarts riovd at its WatchdogSec",
			 stuck, ws[stuck].lcore, still / 1000u);
		sd_notifyf(0, "STATUS=worker %u (lcore %u) stuck for %" PRIu64 " ms: watchdog pings stopped", stuck,
			   ws[stuck].lcore, still / 1000u);
		wd->stalled = true;
	}
}

int riov_watchdog_start(struct event_base *base, struct riov_dp *dp, struct riov_watchdog **out)
{
	uint64_t usec = 0;
	int rc = sd_watchdog_enabled(0, &usec);

	*out = NULL;
	if (rc < 0) {
		RIOV_LOG(RIOV_LOG_ERR, "watchdog: systemd's WATCHDOG_USEC/WATCHDOG_PID are not usable: %s",
			 strerror(-rc));
		return rc;
	}
	if (rc == 0)
		return 0;
	struct riov_watchdog *wd = calloc(1, sizeof(*wd));
	if (wd == NULL)
		return -ENOMEM;
	wd->dp = dp;
	/* ping 4 times an interval (systemd: at least twice); a worker is stuck after half of it,
	 * so that the pings stop early enough for systemd's deadline to be the one that acts */
	riov_watchdog_check_init(&wd->check, usec / 2);
	uint64_t period = usec / 4 ? usec / 4 : 1;
	struct timeval tv = { .tv_sec = (time_t)(period / 1000000u), .tv_usec = (suseconds_t)(period % 1000000u) };
	wd->tick = event_new(base, -1, EV_PERSIST, on_tick, wd);
	if (wd->tick == NULL || event_add(wd->tick, &tv) != 0) {
		riov_watchdog_stop(wd);
		return -ENOMEM;
	}
	RIOV_LOG(RIOV_LOG_INFO, "watchdog: systemd's interval %" PRIu64 " ms: pings every %" PRIu64
		 " ms while every worker makes progress", usec / 1000u, period / 1000u);
	sd_notify(0, "WATCHDOG=1");
	*out = wd;
	return 0;
}

void riov_watchdog_stop(struct riov_watchdog *wd)
{
	if (wd == NULL)
		return;
	if (wd->tick != NULL)
		event_free(wd->tick);
	free(wd);
}
