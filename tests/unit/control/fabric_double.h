/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test doubles of the kernel beside riovd, for the service library's unit tests (as dp_double.h is
 * for the dataplane): kernel_net_double.c stands in for control/kernel_net.h (an uplink TAP's
 * address and route: recorded, never asked of the kernel), nh_watch_double.c for
 * control/nh_watch.h (the next hops of remote VTEPs: what the test says, called back the way the
 * real watcher does: once when an address is first watched, then only when its answer changes).
 * No unit test changes the host's addresses or routes.
 */
#ifndef RIOV_TESTS_UNIT_CONTROL_FABRIC_DOUBLE_H
#define RIOV_TESTS_UNIT_CONTROL_FABRIC_DOUBLE_H

#include <stdbool.h>
#include <stdint.h>

#include "control/kernel_net.h"
#include "control/nh_watch.h"

/* What the kernel_net double answers and what it was asked. */
struct kernel_double_knobs {
	int addr_add_rc;             /* != 0: riov_kernel_addr_add() fails with it */
	int route_add_rc;            /* != 0: riov_kernel_route_add() fails with it */
	unsigned addr_adds, route_adds;
	char addr_ifname[16];        /* the last address put on an interface ... */
	uint32_t addr;               /* ... (network order) */
	unsigned addr_prefix;
	char route_ifname[16];       /* the last route added ... */
	uint32_t route_dst, route_gw;
	unsigned route_prefix;
	/* SR-IOV VFs (riov_kernel_vf_set/get): one PF netdev's VFs as its driver would hold them */
	int vf_set_rc;               /* != 0: riov_kernel_vf_set() fails with it ... */
	char vf_set_msg[128];        /* ... and this extended ACK message */
	unsigned vf_sets;            /* riov_kernel_vf_set() calls (failed ones too) */
	char vf_ifname[16];          /* the interface of the last riov_kernel_vf_set() */
	unsigned vf_count;           /* VFs riov_kernel_vf_get() reports */
	struct riov_kernel_vf vf[8]; /* their settings: every field reported */
};
extern struct kernel_double_knobs kernel_double;

/* What the next-hop watcher double answers and what it was asked. */
struct nh_double_knobs {
	int create_rc;               /* != 0: riov_nh_watch_create() fails with it */
	int add_rc;                  /* != 0: riov_nh_watch_add() fails with it */
	unsigned creates, destroys, adds, dels, refreshes;
};
extern struct nh_double_knobs nh_double;

/** Reset both doubles' knobs and the next hops set with nh_double_answer(). */
void fabric_double_reset(void);
/** What the kernel says about ip from now on: status 0 with a next hop out of interface ifindex
 *  to mac (via: the next hop's address), or -errno. Addresses never set answer -ENETUNREACH. */
void nh_double_answer(uint32_t ip, int status, unsigned ifindex, uint32_t via, const uint8_t mac[6]);
/** A route or neighbour event: the watcher looks at every address it watches and calls back for
 *  those whose answer changed (as riov_nh_watch_refresh()). */
void nh_double_event(void);
/** How many adds of ip the live watcher holds (0: not watched, or no watcher). */
unsigned nh_double_refs(uint32_t ip);

#endif
