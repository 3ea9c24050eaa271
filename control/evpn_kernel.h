/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EVPN's kernel side (DESIGN.md "Fabric", issue 14; docs/evpn.md). FRR's zebra learns local MACs
 * only from a kernel bridge's FDB and installs remote MACs and flood lists only into the kernel's
 * vxlan devices, so riovd mirrors each VNI into shadow devices that carry no traffic and follows
 * what zebra writes there:
 *
 *   rvbr<vni>  a VLAN-unaware bridge per VNI                         (at most 12 characters)
 *   rvx<vni>   its vxlan device: id <vni>, local <VTEP>, dstport 4789, nolearning, a port of
 *              rvbr<vni> with learning off and neigh_suppress on     (at most 11 characters);
 *              none while the node has no VTEP address (local 0: zebra has no such VNI then)
 *   rvs<id>    a carrier-less persistent TAP per local port (a guest's vhost port, an eth port),
 *              a port of rvbr<vni> with learning off, alias "riov:<network>/<port>"
 *                                                                    (at most 13 characters)
 *
 * all with IPv6 address generation off (addrgenmode none), the VNI's MTU, and up. A local MAC
 * (a guest's, or a host's behind an eth port) is a `static` FDB entry (master, the bridge) on its
 * port's shadow TAP: zebra advertises it (type-2); zebra ignores `permanent` entries. zebra's remote MACs (FDB entries with a
 * destination and NTF_EXT_LEARNED on rvx<vni>) and flood entries (the all-zero MAC with a
 * destination: head-end replication, type-3) come back through the callbacks. Every interface
 * named with these prefixes followed by digits, and every TAP whose alias starts with "riov:", is
 * riovd's: riov_evpn_kernel_reconcile() deletes those it does not want.
 *
 * What the callbacks are told is the kernel's remote state less riovd's own local MACs (FRR 8.4
 * findings, docs/evpn.md):
 *  - a remote MAC equal to a local MAC of the same VNI is not reported while the local one is
 *    there, and is reported when it goes;
 *  - a local MAC riovd adds while the vxlan device has a remote entry for it (a guest moved here):
 *    that entry is withdrawn and deleted (zebra leaves it behind and does not put it back);
 *  - zebra installing a remote MAC that riovd has as local (another VTEP won by MAC mobility: the
 *    kernel moves riovd's static entry off the shadow TAP onto the vxlan port): the local MAC is
 *    dropped (counted in local_taken) and the remote one reported. riovd's switch learning the
 *    MAC on a local port again and calling riov_evpn_kernel_mac_add() takes it back.
 *
 * Security model: the kernel is trusted, but what zebra (or anyone with CAP_NET_ADMIN in the
 * namespace) writes into the FDB is input: every netlink message goes through
 * riov_evpn_nl_parse(), which checks every length (libmnl's attribute validation), only reports
 * entries on riov's own vxlan devices, and counts what it ignores and why. Only the kernel's
 * messages (sender port id 0) are read.
 *
 * Thread rules: the control thread (the libevent loop the context is created with). Requests are
 * blocking netlink calls with a receive timeout. The callbacks run on that thread, from the loop
 * or from inside a riov_evpn_kernel_* call; they must not call riov_evpn_kernel_* functions.
 */
#ifndef RIOV_CONTROL_EVPN_KERNEL_H
#define RIOV_CONTROL_EVPN_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RIOV_EVPN_BRIDGE_PREFIX "rvbr"
#define RIOV_EVPN_VXLAN_PREFIX "rvx"
#define RIOV_EVPN_SHADOW_PREFIX "rvs"
#define RIOV_EVPN_ALIAS_PREFIX "riov:"
#define RIOV_EVPN_VXLAN_PORT 4789
#define RIOV_EVPN_VNI_MAX 16777215u
#define RIOV_EVPN_NAME_MAX 64u     /* longest network or port name in a shadow TAP's alias */

/** Why a netlink message changed nothing. The parser's reasons, then the context's. */
enum riov_evpn_ignore {
	RIOV_EVPN_IGN_MALFORMED,       /* a length or an attribute that does not add up */
	RIOV_EVPN_IGN_NOT_NEIGH,       /* another message type (links, errors, ...) */
	RIOV_EVPN_IGN_FAMILY,          /* not AF_BRIDGE (ARP/ND neighbours) */
	RIOV_EVPN_IGN_DEVICE,          /* not one of riov's vxlan devices */
	RIOV_EVPN_IGN_NEXTHOP,         /* NDA_NH_ID: a nexthop group, not supported */
	RIOV_EVPN_IGN_NO_MAC,          /* no NDA_LLADDR */
	RIOV_EVPN_IGN_NO_DST,          /* no NDA_DST and not zebra's bridge entry */
	RIOV_EVPN_IGN_IPV6,            /* an IPv6 VTEP: not supported yet */
	RIOV_EVPN_IGN_BAD_DST,         /* 0.0.0.0, loopback, multicast or broadcast */
	RIOV_EVPN_IGN_OTHER_VNI,       /* NDA_VNI other than the device's */
	RIOV_EVPN_IGN_OTHER_PORT,      /* NDA_PORT other than 4789 */
	RIOV_EVPN_IGN_MULTICAST_MAC,   /* a group MAC other than the all-zero flood entry */
	RIOV_EVPN_IGN_NOT_EXTERN,      /* a MAC without NTF_EXT_LEARNED: not zebra's */
	RIOV_EVPN_IGN_PARSER__MAX,
	/* the context's */
	RIOV_EVPN_IGN_LOCAL_MAC = RIOV_EVPN_IGN_PARSER__MAX, /* remote, but riovd's local MAC */
	RIOV_EVPN_IGN_UNKNOWN_DEL,     /* a removal of nothing known (or of another VTEP's entry) */
	RIOV_EVPN_IGN__MAX
};

/** The name of a reason ("malformed", "ipv6", ...); "?" for a value out of range. */
const char *riov_evpn_ignore_name(enum riov_evpn_ignore why);

enum riov_evpn_fdb_kind {
	RIOV_EVPN_FDB_NONE,            /* ignored: see why */
	RIOV_EVPN_FDB_REMOTE_MAC,      /* mac is behind vtep (the vxlan device's own entry) */
	RIOV_EVPN_FDB_FLOOD,           /* vtep is in the VNI's flood list (mac all zero) */
	RIOV_EVPN_FDB_BRIDGE_REMOTE,   /* the bridge sends mac to the vxlan port: the bridge's side
					* of zebra's remote MAC (NDA_MASTER, NTF_EXT_LEARNED, no VTEP) */
};

/** What one netlink message says, for riov. Addresses in network order. */
struct riov_evpn_fdb_event {
	enum riov_evpn_fdb_kind kind;
	bool add;                      /* RTM_NEWNEIGH (added or replaced), else RTM_DELNEIGH */
	uint32_t vni;
	uint32_t ifindex;              /* the vxlan device */
	uint8_t mac[6];
	uint32_t vtep;
	enum riov_evpn_ignore why;     /* kind NONE: why (a parser reason) */
};

/** Whether ifindex is one of riov's vxlan devices, and its VNI. */
typedef bool (*riov_evpn_vni_of_fn)(void *arg, uint32_t ifindex, uint32_t *vni);

/** Parse the netlink message at buf (len bytes available; the message's own length must fit in
 *  them, any bytes after it are not read). Returns 1 when it is a remote MAC, a flood entry or
 *  the bridge's side of a remote MAC, added or removed, on a vxlan device vni_of knows, *out
 *  filled; 0 when it is anything else, with out->kind NONE and out->why. Pure: no state, no
 *  system calls; reads nothing outside buf[0, len). */
int riov_evpn_nl_parse(const void *buf, size_t len, riov_evpn_vni_of_fn vni_of, void *arg,
		       struct riov_evpn_fdb_event *out);

/** Counters of the context (what the service can export). */
struct riov_evpn_kernel_stats {
	uint64_t messages;             /* netlink messages read: events and FDB dump answers */
	uint64_t remote_mac_adds;      /* callbacks made */
	uint64_t remote_mac_dels;
	uint64_t flood_adds;
	uint64_t flood_dels;
	uint64_t unchanged;            /* an entry again as it was reported (a refresh, a dump) */
	uint64_t ignored[RIOV_EVPN_IGN__MAX];
	uint64_t overruns;             /* the event socket overran (ENOBUFS): a resync follows */
	uint64_t resyncs;              /* FDB dumps */
	uint64_t kernel_errors;        /* requests the kernel refused */
	uint64_t devices_lost;         /* a device of riov's deleted by someone else */
	uint64_t local_taken;          /* a local MAC zebra installed as remote (MAC mobility) */
	uint64_t stale_deleted;        /* remote entries for a new local MAC deleted by riovd */
};

/** What the context tells riovd's service. vni, mac and vtep (network order) as in the FDB. */
struct riov_evpn_kernel_ops {
	/** added: mac is behind vtep now (new, or moved from another VTEP: replaces it); else it
	 *  is no longer behind vtep. */
	void (*remote_mac)(void *arg, bool added, uint32_t vni, const uint8_t mac[6], uint32_t vtep);
	/** vtep joined (added) or left the VNI's flood list. */
	void (*flood)(void *arg, bool added, uint32_t vni, uint32_t vtep);
};

struct event_base;
struct riov_evpn_kernel;

/** Open the netlink sockets (events: the neighbour and link groups, on base). No VNI is known
 *  yet, so nothing is reported until riov_evpn_kernel_vni_add() or _reconcile() (each reads the
 *  FDB whole: what zebra installed before is reported then). Returns 0 or -errno. */
int riov_evpn_kernel_create(struct event_base *base, const struct riov_evpn_kernel_ops *ops, void *arg,
			    struct riov_evpn_kernel **out);
/** Close everything; NULL allowed. The kernel devices stay (the next run reconciles them), so
 *  a restart of riovd withdraws nothing from BGP. No callback after this. */
void riov_evpn_kernel_destroy(struct riov_evpn_kernel *k);

/** Make (or keep, or fix, or replace) vni's bridge and vxlan device: VTEP address local
 *  (network order), MTU mtu (68-65535). Then read the FDB whole (zebra's entries for it are
 *  reported). Idempotent; a changed local or mtu is applied. A changed local replaces the vxlan
 *  device: zebra withdraws the old VTEP's type-3 route and advertises the new one, and what was
 *  reported for the VNI is reported removed first (zebra writes it again). local 0 (the node has
 *  no VTEP address): the bridge and its shadow TAPs (with their local MACs) are kept or made, the
 *  vxlan device is deleted, so zebra withdraws the VNI (its type-3 route and its local MACs'
 *  type-2 routes), and what was reported for the VNI is reported removed. Returns 0, -EINVAL, or
 *  -errno from the kernel (-EEXIST: another vxlan device has this VNI and port). */
int riov_evpn_kernel_vni_add(struct riov_evpn_kernel *k, uint32_t vni, uint32_t local, unsigned mtu);
/** Delete vni's devices and its ports' shadow TAPs (zebra withdraws their MACs); forget what
 *  was reported for it (no callbacks). Returns 0, -ENOENT (not known), or -errno. */
int riov_evpn_kernel_vni_del(struct riov_evpn_kernel *k, uint32_t vni);

/** Make (or keep, or fix) local port id's shadow TAP rvs<id> in vni's bridge, alias
 *  "riov:<net>/<port>" (each name 1-64 characters, no '/', no control characters). Another
 *  port of that id is moved. Returns 0, -EINVAL, -ENOENT (vni not known), or -errno. */
int riov_evpn_kernel_port_add(struct riov_evpn_kernel *k, uint32_t vni, uint32_t id, const char *net,
			      const char *port);
/** Delete port id's shadow TAP (its local MACs go with it). Returns 0, -ENOENT, or -errno. */
int riov_evpn_kernel_port_del(struct riov_evpn_kernel *k, uint32_t id);

/** mac (unicast, not zero) is local on port id: a static FDB entry on its shadow TAP, moved from
 *  another port of the same VNI (or from the vxlan port) if it was there. A remote entry for mac
 *  in that VNI is reported removed and deleted from the vxlan device. Returns 0, -EINVAL,
 *  -ENOENT (no such port), -ENODEV (its TAP is missing), or -errno. */
int riov_evpn_kernel_mac_add(struct riov_evpn_kernel *k, uint32_t id, const uint8_t mac[6]);
/** mac is no longer local on port id (aged out, gone). A remote entry for it is reported now.
 *  Returns 0, -ENOENT (not there), or -errno. */
int riov_evpn_kernel_mac_del(struct riov_evpn_kernel *k, uint32_t id, const uint8_t mac[6]);

/** A port of riovd's desired state. */
struct riov_evpn_port_spec {
	uint32_t id;
	const char *net, *port;
	const uint8_t (*macs)[6];      /* its local MACs */
	size_t n_macs;
};

/** A VNI of riovd's desired state. */
struct riov_evpn_vni_spec {
	uint32_t vni;
	uint32_t local;                /* VTEP address, network order; 0: none (no vxlan device) */
	unsigned mtu;
	const struct riov_evpn_port_spec *ports;
	size_t n_ports;
};

/** Make the kernel what riovd wants (at start, from its own state): delete every device of
 *  riov's (by name or alias) that is not wanted (a previous run's), rename a shadow TAP whose
 *  alias names a wanted port under another id (and the vxlan device of a VNI without a local
 *  address), make what is missing, fix each shadow TAP's FDB
 *  (stale local MACs removed, missing ones added), then read the FDB whole. The context's state
 *  becomes vnis (no callbacks for what it forgets). Returns 0 or the first error (everything
 *  else is still done): -EINVAL (a bad or repeated VNI or port id; nothing done), or -errno. */
int riov_evpn_kernel_reconcile(struct riov_evpn_kernel *k, const struct riov_evpn_vni_spec *vnis, size_t n);

/** Port id's local MACs (valid until the next call into the context). 0 or -ENOENT. */
int riov_evpn_kernel_port_macs(const struct riov_evpn_kernel *k, uint32_t id, const uint8_t (**macs)[6], size_t *n);

/** Read the FDB whole again and report the differences (the context does this itself after an
 *  overrun of its event socket). Returns 0 or -errno. */
int riov_evpn_kernel_resync(struct riov_evpn_kernel *k);

/** Copy the counters. */
void riov_evpn_kernel_get_stats(const struct riov_evpn_kernel *k, struct riov_evpn_kernel_stats *out);

#endif
