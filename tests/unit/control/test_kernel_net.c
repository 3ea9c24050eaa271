/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control/kernel_net.c against the real kernel: the test moves itself into a network namespace
 * of its own (unshare), makes a veth pair there with `ip`, and asks riovd's functions for
 * an address, routes and next hops; the neighbour entries are set with `ip neigh` the way the
 * kernel's ARP would set them. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN): without it the test
 * exits 77, counted as a skip with its reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/kernel_net.h"
#include "netns_util.h"
#include "riov_test.h"


RIOV_TEST(address_on_an_interface)
{
	CHECK_EQ(riov_kernel_addr_add("d0", ip4("10.77.0.1"), 24), 0);
	FILE *p = popen("ip -4 -o addr show dev d0; ip -o link show dev d0", "r");
	char out[1024] = "";
	size_t n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
	out[n] = '\0';
	if (p)
		pclose(p);
	CHECK(strstr(out, "inet 10.77.0.1/24") != NULL);
	CHECK(strstr(out, ",UP") != NULL || strstr(out, "<UP") != NULL);
	/* the same again: replaced, not an error */
	CHECK_EQ(riov_kernel_addr_add("d0", ip4("10.77.0.1"), 24), 0);
	CHECK_EQ(riov_kernel_addr_add("nosuch0", ip4("10.77.0.1"), 24), -ENODEV);
	CHECK_EQ(riov_kernel_addr_add("d0", ip4("10.77.0.1"), 0), -EINVAL);
	CHECK_EQ(riov_kernel_addr_add("d0", ip4("10.77.0.1"), 33), -EINVAL);
	CHECK_EQ(riov_kernel_addr_add("", ip4("10.77.0.1"), 24), -EINVAL);
}

RIOV_TEST(next_hops)
{
	struct riov_kernel_nh nh;
	const unsigned d0 = if_nametoindex("d0");
	static const uint8_t mac2[6] = { 0x02, 0, 0, 0, 0x77, 0x02 };

	CHECK(d0 != 0);
	CHECK_EQ(run("ip neigh replace 10.77.0.2 lladdr 02:00:00:00:77:02 dev d0 nud reachable"), 0);
	CHECK_EQ(run("ip route replace 10.99.0.0/16 via 10.77.0.2 dev d0"), 0);

	/* on-link: the destination is the next hop */
	CHECK_EQ(riov_kernel_nexthop(ip4("10.77.0.2"), &nh), 0);
	CHECK_EQ(nh.ifindex, d0);
	CHECK_EQ(nh.via, ip4("10.77.0.2"));
	CHECK_EQ(nh.src, ip4("10.77.0.1"));
	CHECK(memcmp(nh.mac, mac2, 6) == 0);
	/* through a gateway */
	CHECK_EQ(riov_kernel_nexthop(ip4("10.99.3.4"), &nh), 0);
	CHECK_EQ(nh.via, ip4("10.77.0.2"));
	CHECK(memcmp(nh.mac, mac2, 6) == 0);
	/* a route, but no neighbour entry yet (the kernel has not resolved it) */
	CHECK_EQ(riov_kernel_nexthop(ip4("10.77.0.3"), &nh), -EHOSTUNREACH);
	CHECK_EQ(nh.ifindex, d0);
	CHECK_EQ(nh.via, ip4("10.77.0.3"));
	/* a failed entry is no next hop either */
	CHECK_EQ(run("ip neigh replace 10.77.0.4 dev d0 nud failed"), 0);
	CHECK_EQ(riov_kernel_nexthop(ip4("10.77.0.4"), &nh), -EHOSTUNREACH);
	/* no route at all */
	CHECK_EQ(riov_kernel_nexthop(ip4("192.0.2.1"), &nh), -ENETUNREACH);
	/* the kernel's own changes are seen at once (no cache here) */
	CHECK_EQ(run("ip neigh replace 10.77.0.2 lladdr 02:00:00:00:77:22 dev d0 nud reachable"), 0);
	CHECK_EQ(riov_kernel_nexthop(ip4("10.99.3.4"), &nh), 0);
	CHECK_EQ(nh.mac[5], 0x22);
}

static int shows(const char *cmd, const char *want)
{
	return output_has(cmd, want, 1);
}

RIOV_TEST(routes)
{
	/* the default route of an uplink's --gateway */
	CHECK_EQ(riov_kernel_route_add("d0", 0, 0, ip4("10.77.0.254")), 0);
	CHECK(shows("ip -4 route show default", "default via 10.77.0.254 dev d0"));
	/* replaced, not an error */
	CHECK_EQ(riov_kernel_route_add("d0", 0, 0, ip4("10.77.0.253")), 0);
	CHECK(shows("ip -4 route show default", "default via 10.77.0.253 dev d0"));
	/* a prefix on-link */
	CHECK_EQ(riov_kernel_route_add("d0", ip4("10.88.0.0"), 16, 0), 0);
	CHECK(shows("ip -4 route show 10.88.0.0/16", "10.88.0.0/16 dev d0"));
	/* a gateway on no subnet of the interface */
	CHECK(riov_kernel_route_add("d0", 0, 0, ip4("192.0.2.9")) < 0);
	CHECK_EQ(riov_kernel_route_add("nosuch0", 0, 0, ip4("10.77.0.254")), -ENODEV);
	CHECK_EQ(riov_kernel_route_add("d0", 0, 33, 0), -EINVAL);
	CHECK_EQ(riov_kernel_route_add(NULL, 0, 0, 0), -EINVAL);
}

RIOV_TEST(resolve_asks_the_kernel)
{
	const unsigned d0 = if_nametoindex("d0");
	struct riov_kernel_nh nh;

	/* no entry before; after the request the kernel has one of its own (resolving: nobody on
	 * d1 answers, so it stays incomplete or fails, and is still no next hop) */
	CHECK(!output_has("ip neigh show 10.77.0.5 dev d0 2>&1", "10.77.0.5", 0));
	CHECK_EQ(riov_kernel_neigh_resolve(d0, ip4("10.77.0.5")), 0);
	CHECK(shows("ip neigh show 10.77.0.5 dev d0", "10.77.0.5"));
	CHECK_EQ(riov_kernel_nexthop(ip4("10.77.0.5"), &nh), -EHOSTUNREACH);
	/* asking again is no error */
	CHECK_EQ(riov_kernel_neigh_resolve(d0, ip4("10.77.0.5")), 0);
	CHECK_EQ(riov_kernel_neigh_resolve(0, ip4("10.77.0.5")), -EINVAL);
	CHECK_EQ(riov_kernel_neigh_resolve(d0, 0), -EINVAL);
}

int main(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		printf("# SKIP needs root to make a network namespace (%s)\n",
		       geteuid() != 0 ? "not root" : strerror(errno));
		return 77;
	}
	/* a veth pair (not every kernel has the dummy driver); d1 up too, so that d0 has a carrier */
	if (run("ip link set lo up") != 0 || run("ip link add d0 type veth peer name d1") != 0 ||
	    run("ip link set d1 up") != 0) {
		fprintf(stderr, "cannot make a veth pair in the test's namespace\n");
		return 1;
	}
	static const struct riov_test_case cases[] = {
		RIOV_TEST_ENTRY(address_on_an_interface),
		RIOV_TEST_ENTRY(next_hops),
		RIOV_TEST_ENTRY(routes),
		RIOV_TEST_ENTRY(resolve_asks_the_kernel),
	};
	return riov_test_run(cases, sizeof(cases) / sizeof(cases[0]));
}
