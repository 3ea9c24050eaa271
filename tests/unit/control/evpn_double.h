/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test double of control/evpn_kernel.h (as fabric_double.h is for kernel_net and nh_watch): the
 * service's calls are recorded (VNIs with their VTEP address and MTU, shadow TAPs, local MACs,
 * the last reconciliation's desired state), never made in the kernel, and the test fires zebra's
 * callbacks (remote MACs, flood entries) with evpn_double_remote_mac() and evpn_double_flood().
 */
#ifndef RIOV_TESTS_UNIT_CONTROL_EVPN_DOUBLE_H
#define RIOV_TESTS_UNIT_CONTROL_EVPN_DOUBLE_H

#include <stdbool.h>
#include <stdint.h>

#include "control/evpn_kernel.h"

#define EVPN_DOUBLE_MAX 64

struct evpn_double_knobs {
	int create_rc;               /* != 0: riov_evpn_kernel_create() fails with it */
	int vni_add_rc;              /* != 0: riov_evpn_kernel_vni_add() fails with it */
	unsigned creates, destroys, vni_adds, vni_dels, port_adds, port_dels, mac_adds, mac_dels;
	unsigned reconciles;
	/* the last reconciliation's desired state */
	unsigned rec_n_vnis;
	uint32_t rec_vni[EVPN_DOUBLE_MAX], rec_local[EVPN_DOUBLE_MAX];
	unsigned rec_mtu[EVPN_DOUBLE_MAX], rec_ports[EVPN_DOUBLE_MAX], rec_macs[EVPN_DOUBLE_MAX];
	char rec_port_name[EVPN_DOUBLE_MAX][65];  /* of every port, in order */
	unsigned rec_n_port_names;
};
extern struct evpn_double_knobs evpn_double;

/** Reset the knobs and everything the double holds (calls before the service is created). */
void evpn_double_reset(void);
/** Whether the double has VNI vni (made with vni_add or reconcile); *local and *mtu (optional)
 *  get its VTEP address (0: no vxlan device) and MTU. */
bool evpn_double_vni(uint32_t vni, uint32_t *local, unsigned *mtu);
/** Whether shadow TAP id exists; *vni (optional) gets its VNI and port (optional, 65 bytes) its
 *  port name. */
bool evpn_double_port(uint32_t id, uint32_t *vni, char *port);
/** Whether local MAC mac is on shadow TAP id. */
bool evpn_double_mac(uint32_t id, const uint8_t mac[6]);
/** zebra's entries, as the real context reports them (on the live context; none: nothing). The
 *  double keeps them (of a VNI with a vxlan device) and, like the real context, reports them
 *  removed when vni_add changes the VNI's VTEP address (the vxlan device replaced or deleted). */
void evpn_double_remote_mac(bool added, uint32_t vni, const uint8_t mac[6], uint32_t vtep);
void evpn_double_flood(bool added, uint32_t vni, uint32_t vtep);

#endif
