/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control/nh_watch.c against the real kernel: in a network namespace of the test's own (unshare),
 * on a veth pair made with `ip`, the watcher is told of next hops that appear, change, move to a
 * gateway and disappear as the kernel's neighbour and routing tables change (set with `ip neigh`
 * and `ip route` the way the kernel's ARP and an operator would), from the kernel's own events on
 * a libevent loop. Needs root: without it the test exits 77, counted as a skip with its reason.
 *
 * Waiting: each step runs the loop until the callback reports what the step made, with a
 * generous deadline that only turns a watcher that never reports into a failure (not a timing
 * assertion: a report any time before it passes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "control/nh_watch.h"
#include "netns_util.h"
#include "riov_test.h"

#define WAIT_S 20 /* the deadline of one step; the backstop look is every 30 s, events come at once */


/* What the callback was last told, per address, and how often it was called. */
struct seen {
	uint32_t ip;
	int status;
	struct riov_kernel_nh nh;
	unsigned calls;
};

static struct seen seen[4];
static unsigned calls_total;

static struct seen *slot(uint32_t ip)
{
	for (unsigned i = 0; i < 4; i++)
		if (seen[i].ip == ip || seen[i].ip == 0) {
			seen[i].ip = ip;
			return &seen[i];
		}
	abort();
}

static void on_nh(void *arg, uint32_t ip, int status, const struct riov_kernel_nh *nh)
{
	(void)arg;
	struct seen *s = slot(ip);
	s->status = status;
	if (nh != NULL)
		s->nh = *nh;
	else
		memset(&s->nh, 0, sizeof(s->nh));
	s->calls++;
	calls_total++;
}

static struct event_base *base;
static struct riov_nh_watch *w;

/* Run the loop until ip's status is want (and, for 0, its MAC ends in last), or WAIT_S passed.
 * Returns 1 when it was. */
static int wait_for(uint32_t ip, int want, int last)
{
	const time_t end = time(NULL) + WAIT_S;
	const struct timeval slice = { .tv_usec = 100 * 1000 };

	for (;;) {
		const struct seen *s = slot(ip);
		if (s->calls > 0 && s->status == want && (want != 0 || last < 0 || s->nh.mac[5] == last))
			return 1;
		if (time(NULL) > end) {
			fprintf(stderr, "  no report of status %d (mac ..:%02x) within %d s: last %d after %u calls\n",
				want, last < 0 ? 0 : last, WAIT_S, s->status, s->calls);
			return 0;
		}
		event_base_loopexit(base, &slice);
		event_base_dispatch(base);
	}
}

/* Run the loop for a while; returns how many calls were made meanwhile. */
static unsigned idle(unsigned ms)
{
	const unsigned before = calls_total;
	const struct timeval t = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	event_base_loopexit(base, &t);
	event_base_dispatch(base);
	return calls_total - before;
}

RIOV_TEST(first_answer_comes_at_once)
{
	/* no neighbour entry yet: unresolved, told before add returns; the watcher asks the
	 * kernel to resolve it (an entry appears, incomplete: nobody answers on d1) */
	CHECK_EQ(riov_nh_watch_add(w, ip4("10.77.0.2")), 0);
	const struct seen *s = slot(ip4("10.77.0.2"));
	CHECK_EQ(s->calls, 1u);
	CHECK_EQ(s->status, -EHOSTUNREACH);
	CHECK_EQ(run("ip neigh show 10.77.0.2 dev d0 | grep -q 10.77.0.2"), 0);
	/* no route at all */
	CHECK_EQ(riov_nh_watch_add(w, ip4("192.0.2.1")), 0);
	CHECK_EQ(slot(ip4("192.0.2.1"))->status, -ENETUNREACH);
	CHECK_EQ(riov_nh_watch_add(w, 0), -EINVAL);
}

RIOV_TEST(a_neighbour_appears_and_changes)
{
	const unsigned d0 = if_nametoindex("d0");
	CHECK_EQ(run("ip neigh replace 10.77.0.2 lladdr 02:00:00:00:77:02 dev d0 nud reachable"), 0);
	CHECK(wait_for(ip4("10.77.0.2"), 0, 0x02));
	const struct seen *s = slot(ip4("10.77.0.2"));
	CHECK_EQ(s->nh.ifindex, d0);
	CHECK_EQ(s->nh.via, ip4("10.77.0.2"));
	/* the peer's MAC changes (a NIC replaced, a VM moved) */
	CHECK_EQ(run("ip neigh replace 10.77.0.2 lladdr 02:00:00:00:77:22 dev d0 nud reachable"), 0);
	CHECK(wait_for(ip4("10.77.0.2"), 0, 0x22));
	/* nothing changes: no call (events about other things wake the watcher, it tells only
	 * what changed) */
	const unsigned calls = s->calls;
	CHECK_EQ(run("ip neigh replace 10.77.0.9 lladdr 02:00:00:00:77:09 dev d0 nud reachable"), 0);
	idle(300);
	CHECK_EQ(s->calls, calls);
}

RIOV_TEST(routes_move_the_next_hop)
{
	/* a route appears for the unreachable address: through a gateway, resolved already */
	CHECK_EQ(run("ip neigh replace 10.77.0.254 lladdr 02:00:00:00:77:fe dev d0 nud reachable"), 0);
	CHECK_EQ(run("ip route replace 192.0.2.0/24 via 10.77.0.254 dev d0"), 0);
	CHECK(wait_for(ip4("192.0.2.1"), 0, 0xfe));
	CHECK_EQ(slot(ip4("192.0.2.1"))->nh.via, ip4("10.77.0.254"));
	/* the route moves to another gateway whose MAC the kernel does not have yet */
	CHECK_EQ(run("ip route replace 192.0.2.0/24 via 10.77.0.253 dev d0"), 0);
	CHECK(wait_for(ip4("192.0.2.1"), -EHOSTUNREACH, -1));
	/* ... until it does */
	CHECK_EQ(run("ip neigh replace 10.77.0.253 lladdr 02:00:00:00:77:fd dev d0 nud reachable"), 0);
	CHECK(wait_for(ip4("192.0.2.1"), 0, 0xfd));
	/* the route goes */
	CHECK_EQ(run("ip route del 192.0.2.0/24"), 0);
	CHECK(wait_for(ip4("192.0.2.1"), -ENETUNREACH, -1));
}

RIOV_TEST(unwatched_addresses_are_not_reported)
{
	struct seen *s = slot(ip4("10.77.0.2"));
	/* counted: two adds need two dels */
	CHECK_EQ(riov_nh_watch_add(w, ip4("10.77.0.2")), 0);
	riov_nh_watch_del(w, ip4("10.77.0.2"));
	CHECK_EQ(run("ip neigh replace 10.77.0.2 lladdr 02:00:00:00:77:32 dev d0 nud reachable"), 0);
	CHECK(wait_for(ip4("10.77.0.2"), 0, 0x32));
	riov_nh_watch_del(w, ip4("10.77.0.2"));
	riov_nh_watch_del(w, ip4("192.0.2.1"));
	riov_nh_watch_del(w, ip4("198.51.100.1")); /* never watched: no-op */
	const unsigned calls = s->calls;
	CHECK_EQ(run("ip neigh replace 10.77.0.2 lladdr 02:00:00:00:77:42 dev d0 nud reachable"), 0);
	riov_nh_watch_refresh(w);
	CHECK_EQ(idle(300), 0u);
	CHECK_EQ(s->calls, calls);
}

int main(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		printf("# SKIP needs root to make a network namespace (%s)\n",
		       geteuid() != 0 ? "not root" : strerror(errno));
		return 77;
	}
	if (run("ip link set lo up") != 0 || run("ip link add d0 type veth peer name d1") != 0 ||
	    run("ip link set d1 up") != 0 || run("ip addr add 10.77.0.1/24 dev d0") != 0 ||
	    run("ip link set d0 up") != 0) {
		fprintf(stderr, "cannot make a veth pair in the test's namespace\n");
		return 1;
	}
	base = event_base_new();
	if (base == NULL || riov_nh_watch_create(base, on_nh, NULL, &w) != 0) {
		fprintf(stderr, "cannot create the watcher\n");
		return 1;
	}
	static const struct riov_test_case cases[] = {
		RIOV_TEST_ENTRY(first_answer_comes_at_once),
		RIOV_TEST_ENTRY(a_neighbour_appears_and_changes),
		RIOV_TEST_ENTRY(routes_move_the_next_hop),
		RIOV_TEST_ENTRY(unwatched_addresses_are_not_reported),
	};
	int rc = riov_test_run(cases, sizeof(cases) / sizeof(cases[0]));
	riov_nh_watch_destroy(w);
	event_base_free(base);
	return rc;
}
