/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the watchdog's progress check (control/watchdog_check.c): which worker stood
 * still longer than the stall time, with made-up loop counters and clocks. (The pings themselves
 * are checked by the system test watchdog_*, riovd under a NOTIFY_SOCKET the test reads.)
 */
#include "control/watchdog_check.c"

#include "riov_test.h"

#define MS 1000u

RIOV_TEST(every_worker_moving_is_progress)
{
	struct riov_watchdog_check c;
	uint64_t loops[3] = { 10, 20, 30 };
	unsigned stuck = 99;
	uint64_t still = 0;

	riov_watchdog_check_init(&c, 500 * MS);
	CHECK(riov_watchdog_check_update(&c, loops, 3, 0, &stuck, &still));   /* first sight: moved */
	for (uint64_t t = 250 * MS; t <= 10000 * MS; t += 250 * MS) {
		for (unsigned i = 0; i < 3; i++)
			loops[i] += 1 + i;
		CHECK(riov_watchdog_check_update(&c, loops, 3, t, &stuck, &still));
	}
	CHECK_EQ(stuck, 99);
}

RIOV_TEST(a_worker_standing_still_is_named_after_the_stall_time)
{
	struct riov_watchdog_check c;
	uint64_t loops[3] = { 10, 20, 30 };
	unsigned stuck = 99;
	uint64_t still = 0;

	riov_watchdog_check_init(&c, 500 * MS);
	CHECK(riov_watchdog_check_update(&c, loops, 3, 0, &stuck, &still));
	/* worker 1 stops at 100 ms; the others go on */
	loops[0]++, loops[1]++, loops[2]++;
	CHECK(riov_watchdog_check_update(&c, loops, 3, 100 * MS, &stuck, &still));
	loops[0]++, loops[2]++;
	CHECK(riov_watchdog_check_update(&c, loops, 3, 350 * MS, &stuck, &still));
	loops[0]++, loops[2]++;
	CHECK(riov_watchdog_check_update(&c, loops, 3, 600 * MS, &stuck, &still));  /* 500 ms: not over */
	loops[0]++, loops[2]++;
	CHECK(!riov_watchdog_check_update(&c, loops, 3, 601 * MS, &stuck, &still));
	CHECK_EQ(stuck, 1);
	CHECK_EQ(still, 501 * MS);
	/* it stays stuck while it stands still ... */
	CHECK(!riov_watchdog_check_update(&c, loops, 3, 900 * MS, &stuck, &still));
	CHECK_EQ(still, 800 * MS);
	/* ... and is fine again from its next loop on */
	loops[1]++;
	CHECK(riov_watchdog_check_update(&c, loops, 3, 1000 * MS, &stuck, &still));
}

RIOV_TEST(the_first_stuck_worker_is_named)
{
	struct riov_watchdog_check c;
	uint64_t loops[4] = { 1, 2, 3, 4 };
	unsigned stuck = 99;
	uint64_t still = 0;

	riov_watchdog_check_init(&c, 100 * MS);
	CHECK(riov_watchdog_check_update(&c, loops, 4, 0, &stuck, &still));
	loops[0]++, loops[1]++;   /* 2 and 3 stand still */
	CHECK(!riov_watchdog_check_update(&c, loops, 4, 200 * MS, &stuck, &still));
	CHECK_EQ(stuck, 2);
}

RIOV_TEST(a_counter_that_wraps_or_goes_back_is_movement)
{
	/* the check compares for inequality: a counter that wrapped (or a worker restarted with
	 * its counter at 0) moved */
	struct riov_watchdog_check c;
	uint64_t loops[1] = { UINT64_MAX };
	unsigned stuck = 99;
	uint64_t still = 0;

	riov_watchdog_check_init(&c, 100 * MS);
	CHECK(riov_watchdog_check_update(&c, loops, 1, 0, &stuck, &still));
	loops[0] = 0;
	CHECK(riov_watchdog_check_update(&c, loops, 1, 1000 * MS, &stuck, &still));
}

RIOV_TEST(workers_added_later_start_as_moved)
{
	struct riov_watchdog_check c;
	uint64_t loops[RIOV_WATCHDOG_MAX_WORKERS + 4] = { 5 };
	unsigned stuck = 99;
	uint64_t still = 0;

	riov_watchdog_check_init(&c, 100 * MS);
	CHECK(riov_watchdog_check_update(&c, loops, 1, 0, &stuck, &still));
	loops[0]++;
	CHECK(riov_watchdog_check_update(&c, loops, 2, 1000 * MS, &stuck, &still));   /* worker 1 new */
	CHECK(!riov_watchdog_check_update(&c, loops, 2, 1200 * MS, &stuck, &still));  /* both still */
	CHECK_EQ(stuck, 0);
	/* more workers than the check holds: the rest are not looked at, nothing overflows */
	riov_watchdog_check_init(&c, 100 * MS);
	CHECK(riov_watchdog_check_update(&c, loops, RIOV_WATCHDOG_MAX_WORKERS + 4, 0, &stuck, &still));
	CHECK_EQ(c.n, RIOV_WATCHDOG_MAX_WORKERS);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(every_worker_moving_is_progress),
	       RIOV_TEST_ENTRY(a_worker_standing_still_is_named_after_the_stall_time),
	       RIOV_TEST_ENTRY(the_first_stuck_worker_is_named),
	       RIOV_TEST_ENTRY(a_counter_that_wraps_or_goes_back_is_movement),
	       RIOV_TEST_ENTRY(workers_added_later_start_as_moved))
