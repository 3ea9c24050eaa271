/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The watchdog's progress check (watchdog.h): which worker stood still too long. Apart from the
 * timer and systemd so that the unit tests run it with made-up counters and clocks.
 */
#include <string.h>

#include "control/watchdog.h"

void riov_watchdog_check_init(struct riov_watchdog_check *c, uint64_t stall_us)
{
	memset(c, 0, sizeof(*c));
	c->stall_us = stall_us;
}

bool riov_watchdog_check_update(struct riov_watchdog_check *c, const uint64_t *loops, unsigned n,
				uint64_t now_us, unsigned *stuck, uint64_t *still_us)
{
	bool ok = true;

	if (n > RIOV_WATCHDOG_MAX_WORKERS)
		n = RIOV_WATCHDOG_MAX_WORKERS;
	for (unsigned i = 0; i < n; i++) {
		if (i >= c->n || loops[i] != c->loops[i]) {
			c->loops[i] = loops[i];
			c->moved_us[i] = now_us;
			continue;
		}
		uint64_t still = now_us - c->moved_us[i];
		if (still > c->stall_us && ok) {
			ok = false;
			*stuck = i;
			*still_us = still;
		}
	}
	if (n > c->n)
		c->n = n;
	return ok;
}
