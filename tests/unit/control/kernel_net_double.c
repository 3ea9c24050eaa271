/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test double of control/kernel_net.h (see fabric_double.h): requests are recorded and answered
 * with the test's knobs; the kernel is never asked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fabric_double.h"

struct kernel_double_knobs kernel_double;

int riov_kernel_addr_add(const char *ifname, uint32_t addr, unsigned prefix)
{
	kernel_double.addr_adds++;
	if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= 16 || prefix < 1 || prefix > 32)
		return -EINVAL;
	if (kernel_double.addr_add_rc != 0)
		return kernel_double.addr_add_rc;
	snprintf(kernel_double.addr_ifname, sizeof(kernel_double.addr_ifname), "%s", ifname);
	kernel_double.addr = addr;
	kernel_double.addr_prefix = prefix;
	return 0;
}

int riov_kernel_route_add(const char *ifname, uint32_t dst, unsigned prefix, uint32_t gw)
{
	kernel_double.route_adds++;
	if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= 16 || prefix > 32)
		return -EINVAL;
	if (kernel_double.route_add_rc != 0)
		return kernel_double.route_add_rc;
	snprintf(kernel_double.route_ifname, sizeof(kernel_double.route_ifname), "%s", ifname);
	kernel_double.route_dst = dst;
	kernel_double.route_prefix = prefix;
	kernel_double.route_gw = gw;
	return 0;
}

/* what the real next-hop watcher asks; the watcher's double never does */
int riov_kernel_nexthop(uint32_t dst, struct riov_kernel_nh *nh)
{
	memset(nh, 0, sizeof(*nh));
	return -ENETUNREACH;
}

int riov_kernel_neigh_resolve(uint32_t ifindex, uint32_t ip)
{
	return 0;
}
