/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test doubles of the layers below riovd's service library, for its unit tests (SPDK's
 * DEFINE_STUB idiom): dp_double.c stands in for dataplane/dp.h, dp_platform_double.c for its
 * DPDK memory and VFIO calls (dataplane/dp_platform.c). They are not the dataplane: a double keeps
 * just enough state (networks and ports by name, VNIs, remote VTEPs and their next hops, MAC
 * tables of a few entries that age like the real one, a real VT-d unit from iommu/) for the
 * service's own checks to run, and returns what the test sets here.
 * No DPDK, no workers, no sockets. fabric_double.h has the doubles of the kernel beside riovd.
 */
#ifndef RIOV_TESTS_UNIT_CONTROL_DP_DOUBLE_H
#define RIOV_TESTS_UNIT_CONTROL_DP_DOUBLE_H

#include <stdbool.h>

#include "dataplane/dp.h"

/* Define fn as a double that returns val (SPDK's DEFINE_STUB). */
#define DEFINE_STUB(fn, ret, args, val) \
	ret fn args                     \
	{                               \
		return val;             \
	}
#define DEFINE_STUB_V(fn, ret, args) \
	ret fn args                  \
	{                            \
	}

/* What the dataplane double answers and what it was asked. */
struct dp_double_knobs {
	int port_add_rc;           /* != 0: riov_dp_port_add() fails with it ... */
	char port_add_err[128];    /* ... and this message ("" leaves err empty) */
	bool memory_fails;         /* riov_dp_memory_ranges() finds no packet memory */
	/* the counters every vhost port reports (its name, net, type and queues are its own);
	 * eth ports report zeros */
	struct riov_dp_port_stats vhost_counters;
	struct riov_dp_port_stats vtep_counters;   /* the same for every remote VTEP's port */
	/* what riov_dp_port_info() reports for every vhost port: negotiated features, queue pairs */
	uint64_t vhost_features;
	uint16_t vhost_queue_pairs;
	/* what the double's one worker counted (riov_dp_worker_stats(); lcore as given); its TSC
	 * runs at DP_DOUBLE_TSC_HZ */
	struct riov_dp_worker_stats worker_counters;
	/* calls seen */
	unsigned net_add, net_del, port_add, port_del;
	unsigned set_vni, vtep_add, vtep_del, set_nexthop;
	int mac_add_rc;            /* != 0: riov_dp_mac_add() fails with it */
	unsigned mac_add, mac_del, mac_age;
	/* a big table without storing it: riov_dp_mac_foreach() of network bulk_net reports, after
	 * its own entries, bulk_macs (at most 65,536) entries more to port bulk_port (of type
	 * bulk_type, static or learned), the j-th of them dp_double_bulk_mac(j): a scrambled order,
	 * as a hash table's */
	unsigned bulk_macs;
	char bulk_net[RIOV_DP_NAME_MAX], bulk_port[RIOV_DP_NAME_MAX];
	enum riov_dp_port_type bulk_type;
	bool bulk_static;
	uint32_t last_address;     /* VTEP address of the last uplink added */
	char last_socket[256];     /* socket path of the last vhost port added */
	unsigned long long last_features_off;
	unsigned last_mtu;         /* MTU of the last port added */
};
extern struct dp_double_knobs dp_double;
#define DP_DOUBLE_TSC_HZ 2000000000ull

/** A dataplane double with a real VT-d unit (riov_dp_vtd()); knobs reset. NULL when out of
 *  memory. */
struct riov_dp *dp_double_create(void);
void dp_double_destroy(struct riov_dp *dp);
/** Networks and ports the double holds now. */
unsigned dp_double_nets(const struct riov_dp *dp);
unsigned dp_double_ports(const struct riov_dp *dp);
bool dp_double_has_port(const struct riov_dp *dp, const char *name);
bool dp_double_has_net(const struct riov_dp *dp, const char *name);
/** The VNI network net has in the double (0: none or no such network). */
uint32_t dp_double_vni(const struct riov_dp *dp, const char *net);
/** Whether network net is an EVPN network in the double (riov_dp_net_set_evpn). */
bool dp_double_evpn(const struct riov_dp *dp, const char *net);
/** A learned entry of mac in net to port (a port of net), as a worker makes it; a static entry
 *  stays. Returns 0, -ENOENT, -EINVAL or -ENOSPC. */
int dp_double_learn(struct riov_dp *dp, const char *net, const uint8_t mac[6], const char *port);
/** The address of the j-th bulk entry (j < 65,536): 06:00:00:00:hh:ll, hhll = j * 40503 mod 2^16
 *  (distinct for each j). */
void dp_double_bulk_mac(unsigned j, uint8_t mac[6]);
/** Whether net's table has mac; *port (len bytes) and *is_static (both optional) get its entry. */
bool dp_double_mac(const struct riov_dp *dp, const char *net, const uint8_t mac[6], char *port, size_t len,
		   bool *is_static);

#endif
