/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel beside riovd (DESIGN.md "Fabric", issue 13): what riovd asks of the Linux network
 * stack over rtnetlink (libmnl): the address of an uplink's exception interface, and how the
 * kernel reaches a remote VTEP (route, next hop, the next hop's MAC from the neighbour table,
 * which the kernel's own ARP fills through the exception interface). riovd never resolves
 * addresses itself.
 *
 * Security model: the kernel is trusted; its answers are still parsed with bounds (libmnl's
 * attribute validation), and an answer that lacks what was asked is an error, not a guess.
 *
 * Thread rules: the control thread. Each call opens, uses and closes its own netlink socket
 * (blocking, with a receive timeout), so a call never sees another's replies.
 */
#ifndef RIOV_CONTROL_KERNEL_NET_H
#define RIOV_CONTROL_KERNEL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** How the kernel reaches an IPv4 destination. Addresses in network byte order. */
struct riov_kernel_nh {
	uint32_t ifindex;      /* the output interface */
	uint32_t via;          /* the next hop: the route's gateway, or the destination when on-link */
	uint32_t src;          /* the route's preferred source address (0 if the kernel gave none) */
	uint8_t mac[6];        /* the next hop's link-layer address */
};

/** Look up dst in the kernel's routing table and the next hop in its neighbour table. Returns 0
 *  with *nh filled; -ENETUNREACH (no route), -EHOSTUNREACH (the route is there but the next hop
 *  has no usable link-layer address yet: no neighbour entry, or one that is incomplete or failed;
 *  nh->ifindex and nh->via are filled), or another -errno (netlink failed). */
int riov_kernel_nexthop(uint32_t dst, struct riov_kernel_nh *nh);

/** Put addr/prefix (IPv4, network order; prefix 1-32) on interface ifname (replacing the same
 *  address if there) and bring the interface up. Returns 0, -ENODEV (no such interface), -EINVAL
 *  (bad prefix or name), or -errno from the kernel. */
int riov_kernel_addr_add(const char *ifname, uint32_t addr, unsigned prefix);

/** Add (or replace) the route dst/prefix via gateway gw (0: on-link) out of interface ifname
 *  (IPv4, network order; prefix 0-32, 0 = the default route). Returns 0, -ENODEV, -EINVAL, or
 *  -errno from the kernel (-ENETUNREACH: gw is not on a subnet of the interface). */
int riov_kernel_route_add(const char *ifname, uint32_t dst, unsigned prefix, uint32_t gw);

/** Ask the kernel to resolve ip's link-layer address on interface ifindex (its own ARP; an
 *  RTM_NEWNEIGH with NTF_USE, as `ip neigh ... use`), without waiting for the answer. Returns 0 or
 *  -errno. */
int riov_kernel_neigh_resolve(uint32_t ifindex, uint32_t ip);

/* ---- SR-IOV VFs through the PF's driver (rtnetlink, issue 19) ---- */

/** What riov_kernel_vf_set() sets of a VF, and what riov_kernel_vf_get() found reported. */
#define RIOV_KVF_MAC        (1u << 0)
#define RIOV_KVF_VLAN       (1u << 1)
#define RIOV_KVF_SPOOFCHK   (1u << 2)
#define RIOV_KVF_TRUST      (1u << 3)
#define RIOV_KVF_LINK_STATE (1u << 4)
#define RIOV_KVF_RATE       (1u << 5)

/** One VF's settings as IFLA_VF_INFO carries them. Values are checked by the caller (the kernel
 *  only passes them to the PF's driver); link_state is IFLA_VF_LINK_STATE_AUTO/ENABLE/DISABLE. */
struct riov_kernel_vf {
	uint32_t vf;           /* the VF's index */
	uint32_t fields;       /* RIOV_KVF_*: set (or reported) */
	uint8_t mac[6];
	uint16_t vlan;         /* 0-4095 */
	uint8_t qos;           /* 0-7 */
	bool spoofchk, trust;
	uint32_t link_state;
	uint32_t min_tx_rate, max_tx_rate; /* Mbit/s, 0: no limit */
};

/** The most VFs riov_kernel_vf_get() reports (a PCIe PF has at most 65535; riov's PFs far fewer). */
#define RIOV_KVF_MAX 256

/** Set the VFs' settings in one RTM_SETLINK on the PF's interface ifname (an IFLA_VF_INFO per
 *  entry of vfs, in IFLA_VFINFO_LIST). Returns 0, -EINVAL (bad name, n 0 or too many), -ENODEV
 *  (no such interface), or the kernel's -errno with err holding its extended ACK message when
 *  it sent one (the kernel applies a message's VF settings in order and stops at the first
 *  refused: earlier ones of the same message stay). */
int riov_kernel_vf_set(const char *ifname, const struct riov_kernel_vf *vfs, unsigned n,
		       char *err, size_t errlen);

/** The VF settings the PF's driver reports for interface ifname (RTM_GETLINK with IFLA_EXT_MASK
 *  RTEXT_FILTER_VF): up to max entries into out, *n how many (0 for an interface without VFs).
 *  Returns 0, -EINVAL, -ENODEV, or -errno with err. */
int riov_kernel_vf_get(const char *ifname, struct riov_kernel_vf *out, unsigned max, unsigned *n,
		       char *err, size_t errlen);

#endif
