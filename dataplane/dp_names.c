/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The names of the dataplane's drop causes (riovctl, metrics labels). No DPDK here: the control
 * plane's unit tests link this file beside their dataplane doubles.
 */
#include "dataplane/dp.h"

const char *const riov_dp_drop_names[RIOV_DP_DROP__MAX] = {
	[RIOV_DP_DROP_NO_MBUF] = "no_mbuf",     [RIOV_DP_DROP_NO_BUFFER] = "no_buffer",
	[RIOV_DP_DROP_RING_FULL] = "ring_full", [RIOV_DP_DROP_BROKEN] = "broken_queue",
	[RIOV_DP_DROP_DMA_FAULT] = "dma_fault", [RIOV_DP_DROP_BAD_DESC] = "bad_descriptor",
	[RIOV_DP_DROP_TOO_BIG] = "too_big",     [RIOV_DP_DROP_NOT_READY] = "not_ready",
	[RIOV_DP_DROP_LOOP] = "looped",         [RIOV_DP_DROP_HAIRPIN] = "hairpin",
	[RIOV_DP_DROP_HOLD_FULL] = "hold_full", [RIOV_DP_DROP_MTU] = "mtu_exceeded",
	[RIOV_DP_DROP_BAD_OFFLOAD] = "bad_offload",
	[RIOV_DP_DROP_NO_NEXTHOP] = "no_nexthop", [RIOV_DP_DROP_UNKNOWN_VTEP] = "unknown_vtep",
	[RIOV_DP_DROP_VX_TRUNCATED] = "vxlan_truncated", [RIOV_DP_DROP_VX_IP_HEADER] = "vxlan_ip_header",
	[RIOV_DP_DROP_VX_IP_OPTIONS] = "vxlan_ip_options", [RIOV_DP_DROP_VX_IP_LENGTH] = "vxlan_ip_length",
	[RIOV_DP_DROP_VX_IP_CHECKSUM] = "vxlan_ip_checksum", [RIOV_DP_DROP_VX_FRAGMENT] = "vxlan_fragment",
	[RIOV_DP_DROP_VX_UDP_LENGTH] = "vxlan_udp_length", [RIOV_DP_DROP_VX_FLAGS] = "vxlan_flags",
	[RIOV_DP_DROP_VX_RESERVED] = "vxlan_reserved", [RIOV_DP_DROP_VX_NOT_LOCAL] = "vxlan_not_local",
	[RIOV_DP_DROP_VX_UNKNOWN_VNI] = "vxlan_unknown_vni",
};
