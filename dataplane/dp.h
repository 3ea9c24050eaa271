/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's dataplane, control-thread face: networks (one L2 switch each), ports (vhost guests, DPDK
 * ethdevs), poll-mode workers and their counters.
 *
 * Thread rules: every function here runs on the control thread. Workers (DPDK lcores) never block,
 * lock or allocate on the fast path; configuration reaches them by publish-and-wait (RCU QSBR):
 * build, swap a pointer or flag, rte_rcu_qsbr_synchronize(), then free.
 */
#ifndef RIOV_DATAPLANE_DP_H
#define RIOV_DATAPLANE_DP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dataplane/loop_hist.h"
#include "dataplane/virtq.h"

struct event_base;
struct riov_vtd;
struct riov_dp;

#define RIOV_DP_MAX_WORKERS 16
#define RIOV_DP_MAX_PORTS 1024
/* Source-ids of vhost ports' (virtual) devices in the node's VT-d unit: port n is
 * RIOV_DP_VHOST_SID_FIRST + n, on PCI buses 0xfc-0xff, the end of the bus range, which real
 * functions that do DMA rarely use (a real function there cannot be assigned through riov). */
#define RIOV_DP_VHOST_SID_FIRST 0xfc00u
#define RIOV_DP_VHOST_SID_LAST (RIOV_DP_VHOST_SID_FIRST + RIOV_DP_MAX_PORTS - 1)
_Static_assert(RIOV_DP_VHOST_SID_LAST == 0xffff, "vhost source-ids end the 16-bit range (service.c)");
#define RIOV_DP_MAX_NETS 256
#define RIOV_DP_NAME_MAX 64

struct riov_dp_params {
	unsigned n_workers;            /* worker lcores to use: the first n EAL worker lcores */
	unsigned nb_mbufs;             /* mbufs in the packet pool */
	struct event_base *base;       /* control-thread loop (vhost-user sockets) */
	unsigned idle_sleep_us;        /* a worker that found nothing for a while sleeps this long
				        * between polls (0: busy-poll); for hosts where riovd shares
				        * its CPUs (tests, small labs), not for production */
	const char *ring_record_dir;   /* where each vhost port's packed vrings record their position
				        * for the next riovd (one file per port, named after it; vmm/
				        * vhost.h riov_vhost_dev_params.ring_record); NULL: nowhere */
};

/** Create the dataplane after rte_eal_init(): mempool, RCU, VT-d unit. Workers start here too.
 *  Returns 0 or -errno. */
int riov_dp_create(const struct riov_dp_params *p, struct riov_dp **out);
/** Stop workers, delete every port and network, free everything. NULL allowed. */
void riov_dp_destroy(struct riov_dp *dp);
/** The node's VT-d unit (every vhost port's DMA domain lives there). */
struct riov_vtd *riov_dp_vtd(struct riov_dp *dp);

/* ---- networks ---- */
/** Returns 0, -EEXIST, -EINVAL (bad name), -ENOSPC. */
int riov_dp_net_add(struct riov_dp *dp, const char *name);
/** Returns 0, -ENOENT, -EBUSY (ports or remote VTEPs still attached). */
int riov_dp_net_del(struct riov_dp *dp, const char *name);
/** Give network name a VXLAN network identifier (1..RIOV_DP_VNI_MAX; 0 takes it away): frames
 *  decapsulated from an uplink with that VNI enter this network. Returns 0, -ENOENT, -EINVAL (out
 *  of range), -EEXIST (another network has it), -EBUSY (the network has remote VTEPs). */
int riov_dp_net_set_vni(struct riov_dp *dp, const char *name, uint32_t vni);
#define RIOV_DP_VNI_MAX 0xffffffu
/** Network name's MACs come from BGP EVPN (on) or not (off, the default): with it on, workers
 *  learn nothing from frames decapsulated from its remote VTEPs (the control plane installs
 *  zebra's remote MACs as static entries), and a guest's frame on a vhost port moves a static
 *  entry that is not on a vhost port (the guest moved here). Returns 0 or -ENOENT. */
int riov_dp_net_set_evpn(struct riov_dp *dp, const char *name, bool on);

/* ---- ports ---- */
enum riov_dp_port_type {
	RIOV_DP_PORT_VHOST = 0,
	RIOV_DP_PORT_ETH = 1,
	/* The node's underlay NIC (DESIGN.md "Fabric"): in no network. What arrives on it is VXLAN
	 * for this node (decapsulated into the VNI's network) or the kernel's: it goes out of a TAP
	 * interface named like the port (the exception path), and what the kernel sends there goes
	 * out of the uplink. */
	RIOV_DP_PORT_UPLINK = 2,
	/* A remote VTEP of a network with a VNI ("<net>@<a.b.c.d>", made by riov_dp_vtep_add()):
	 * frames switched to it are encapsulated and sent out of the uplink that reaches it;
	 * frames decapsulated from it enter the network through it (split horizon: never back
	 * into the overlay). */
	RIOV_DP_PORT_VTEP = 3,
};

struct riov_dp_port_params {
	const char *name;
	const char *net;
	enum riov_dp_port_type type;
	uint16_t queues;               /* vhost: queue pairs; eth: rx queues (tx: one per worker) */
	/* vhost */
	const char *socket;
	bool client;
	uint64_t features_off;         /* virtio feature bits withheld from the guest */
	/* eth */
	const char *devargs;           /* e.g. "net_af_packet0,iface=veth0" or a PCI address */
	uint16_t mtu;                  /* L3 bytes the port carries, RIOV_DP_MTU_MIN..MAX; 0 = 1500 */
	/* uplink (also devargs, mtu, features_off "offloads"; net must be NULL or empty) */
	uint32_t address;              /* the node's VTEP address on it (IPv4, network order) */
};

/** Max length of an uplink's name: its exception TAP interface has the same name (IFNAMSIZ - 1). */
#define RIOV_DP_UPLINK_NAME_MAX 15

#define RIOV_DP_MTU_DEFAULT 1500
#define RIOV_DP_MTU_MIN 68             /* IPv4's minimum (RFC 791) */
#define RIOV_DP_MTU_MAX 9000

/** Returns 0 or -errno; *err (optional, 256 bytes) gets a sentence for people. VTEP ports are
 *  made by riov_dp_vtep_add() only. An uplink in use by VTEPs can be deleted: they are left
 *  unresolved (frames to them dropped as no_nexthop). */
int riov_dp_port_add(struct riov_dp *dp, const struct riov_dp_port_params *p, char *err, size_t errlen);
int riov_dp_port_del(struct riov_dp *dp, const char *name);

/* ---- the fabric: uplinks and remote VTEPs (dataplane/fabric.c) ---- */

struct riov_dp_uplink_info {
	char tap[RIOV_DP_UPLINK_NAME_MAX + 1]; /* the exception path's kernel interface */
	uint32_t address;              /* VTEP address (network order) */
	uint8_t mac[6];                /* the uplink's MAC (the TAP has the same) */
	uint16_t mtu;
};
/** Returns 0 or -ENOENT (no uplink of that name). */
int riov_dp_uplink_info(struct riov_dp *dp, const char *name, struct riov_dp_uplink_info *out);

/** A VTEP port's name for network net and remote ip (network order): "<net>@<a.b.c.d>". */
void riov_dp_vtep_name(const char *net, uint32_t ip, char *out, size_t len);
/** Add remote VTEP ip (IPv4, network order) to network net (which has a VNI): its port joins the
 *  network, so flooding replicates to it (head-end replication) and MACs behind it are learned
 *  from what it sends. Frames to it are dropped (no_nexthop) until riov_dp_vtep_set_nexthop().
 *  Returns 0, -ENOENT (no such network), -EINVAL (network without a VNI; ip 0, multicast,
 *  broadcast or loopback), -EEXIST, -ENOSPC; *err (optional) gets a sentence. */
int riov_dp_vtep_add(struct riov_dp *dp, const char *net, uint32_t ip, char *err, size_t errlen);
/** Returns 0 or -ENOENT. */
int riov_dp_vtep_del(struct riov_dp *dp, const char *net, uint32_t ip);
/** How frames reach remote VTEP ip, in every network that has it: out of uplink `uplink` to the
 *  next hop's MAC mac (from the kernel's route and neighbour tables). uplink NULL: unknown
 *  (frames to it are dropped as no_nexthop). Returns how many VTEP ports changed, or -ENOENT (no
 *  uplink of that name). */
int riov_dp_vtep_set_nexthop(struct riov_dp *dp, uint32_t ip, const char *uplink, const uint8_t mac[6]);

/* ---- RDMA peer links (dataplane/fabric_rdma.c, docs/rdma.md) ----
 * The control plane owns the links (dataplane/rdma_link.h); the dataplane sends frames for a
 * remote VTEP over its address's link while the link is up (else VXLAN), and hands what the link
 * receives to the VNI's network through that VTEP's port, as if decapsulated. */
struct riov_rdma_link;
struct riov_rdma_conf;

/** What a link needs of the dataplane: conf->rx_pool (the mbufs received frames are attached to:
 *  the pool of data room 0) and conf->socket_id. */
void riov_dp_rdma_conf(struct riov_dp *dp, struct riov_rdma_conf *conf);
/** Give link to the workers as the transport to remote VTEP address ip (network order), in every
 *  network that has or will have that VTEP; one worker (a hash of ip) owns it: it alone polls it
 *  and sends on it (frames other workers have for ip go by VXLAN). *worker (optional) gets it.
 *  Returns 0, -EEXIST (ip has a link), -ENOMEM. */
int riov_dp_rdma_attach(struct riov_dp *dp, uint32_t ip, struct riov_rdma_link *link, unsigned *worker);
/** Take ip's link away from the workers; when it returns none uses it any more (publish and
 *  wait): the caller may destroy it. Returns 0 or -ENOENT. */
int riov_dp_rdma_detach(struct riov_dp *dp, uint32_t ip);

/** The dataplane's counters of ip's link (those of the link itself: riov_rdma_link_stats()). */
struct riov_dp_rdma_stats {
	unsigned worker;               /* the owner */
	uint64_t tx_frames, tx_bytes;  /* handed to the link */
	uint64_t rx_frames, rx_bytes;  /* received from it */
	uint64_t fallback;             /* the link had no room (credits, buffers): sent by VXLAN */
	uint64_t unknown_vni;          /* received in a VNI no network has: dropped */
	uint64_t unknown_vtep;         /* received for a network that does not have ip as a VTEP */
};
/** Returns 0 or -ENOENT (ip has no link). */
int riov_dp_rdma_stats(struct riov_dp *dp, uint32_t ip, struct riov_dp_rdma_stats *out);

struct riov_dp_vtep_info {
	char port[RIOV_DP_NAME_MAX];   /* its port (counters: riov_dp_port_stats) */
	uint32_t vni;
	bool resolved;                 /* a next hop is set */
	char uplink[RIOV_DP_NAME_MAX]; /* resolved: out of which uplink ... */
	uint8_t mac[6];                /* ... to which next hop */
};
/** Call fn for each remote VTEP of network net (all networks: net NULL). */
void riov_dp_vtep_foreach(struct riov_dp *dp, const char *net,
			  void (*fn)(void *arg, const char *net, uint32_t ip, const struct riov_dp_vtep_info *vi),
			  void *arg);

enum riov_dp_drop {
	RIOV_DP_DROP_NO_MBUF = 0,
	RIOV_DP_DROP_NO_BUFFER,
	RIOV_DP_DROP_RING_FULL,
	RIOV_DP_DROP_BROKEN,
	RIOV_DP_DROP_DMA_FAULT,
	RIOV_DP_DROP_BAD_DESC,
	RIOV_DP_DROP_TOO_BIG,
	RIOV_DP_DROP_NOT_READY,        /* destination queue not running */
	RIOV_DP_DROP_LOOP,             /* a local guest's source address arrived from the wire */
	RIOV_DP_DROP_HAIRPIN,          /* destination is behind the ingress port */
	RIOV_DP_DROP_HOLD_FULL,        /* the guest's queues were paused (vmm replacing its memory
				        * table or switching dirty logging) and the hold queue was full */
	RIOV_DP_DROP_MTU,              /* larger than the egress port's MTU (never fragmented) */
	RIOV_DP_DROP_BAD_OFFLOAD,      /* a guest's virtio-net header does not match its frame, or
				        * asks for an offload it did not negotiate */
	/* the fabric */
	RIOV_DP_DROP_NO_NEXTHOP,       /* to a remote VTEP the kernel has no next hop for (yet) */
	RIOV_DP_DROP_UNKNOWN_VTEP,     /* VXLAN from a VTEP the VNI's network does not have */
	/* VXLAN from the uplink that failed riov_vxlan_parse() (dataplane/vxlan.h), by its cause,
	 * in the order of enum riov_vxlan_drop */
	RIOV_DP_DROP_VX_TRUNCATED,
	RIOV_DP_DROP_VX_IP_HEADER,
	RIOV_DP_DROP_VX_IP_OPTIONS,
	RIOV_DP_DROP_VX_IP_LENGTH,
	RIOV_DP_DROP_VX_IP_CHECKSUM,
	RIOV_DP_DROP_VX_FRAGMENT,
	RIOV_DP_DROP_VX_UDP_LENGTH,
	RIOV_DP_DROP_VX_FLAGS,
	RIOV_DP_DROP_VX_RESERVED,
	RIOV_DP_DROP_VX_NOT_LOCAL,
	RIOV_DP_DROP_VX_UNKNOWN_VNI,
	RIOV_DP_DROP__MAX
};
extern const char *const riov_dp_drop_names[RIOV_DP_DROP__MAX];

/* A vhost port's vhost-user sessions, as its device (vmm) counts them: every connection since the
 * port was added. All 0 for eth ports. */
struct riov_dp_vhost_stats {
	uint64_t connects;            /* front-end connections taken (server) or made (client) */
	uint64_t disconnects;         /* sessions that ended, whoever ended them */
	uint64_t messages;            /* vhost-user messages handled */
	uint64_t bad_messages;        /* messages that ended the session (malformed, out of order) */
	uint64_t refused;             /* well-formed requests refused with the session kept (memory
				       * regions, IOTLB messages, SEND_RARP) */
	uint64_t memory_faults;       /* guest memory that faulted under riovd: each ended the session */
	uint64_t iotlb_refused;       /* IOTLB updates refused (too large, outside guest memory) */
	uint64_t iotlb_evictions;     /* first-stage IOTLB emptied or widened to stay in bounds */
	uint64_t iotlb_updates;       /* IOTLB updates taken (the guest's vIOMMU mapped something) */
	uint64_t iotlb_invalidations; /* IOTLB invalidations handled (it unmapped something) */
	uint64_t iotlb_miss_requests; /* IOTLB misses sent to the front-end (back-end channel) */
	uint64_t base_resyncs;        /* vrings started from the used ring's index, not the base the
				       * front-end sent (it had lost track) */
};

/* Offloads through a port (issue 22): frames with a partial checksum or TSO taken from it
 * (in), passed whole to it (out), and what riovd did in software for it (egress). */
struct riov_dp_offload_stats {
	uint64_t frames_in;            /* offload frames taken from the port (its guest's header) */
	uint64_t frames_out;           /* offload frames passed whole (the guest takes them) */
	uint64_t sw_checksums;         /* checksums filled in by riovd for the port */
	uint64_t sw_segmented;         /* TSO frames riovd cut into segments for the port ... */
	uint64_t sw_segments;          /* ... and the segments that made */
};

/* Counters as seen from the port's side: rx = received from the guest or wire, tx = sent to it. */
struct riov_dp_port_stats {
	char name[RIOV_DP_NAME_MAX];
	char net[RIOV_DP_NAME_MAX];
	enum riov_dp_port_type type;
	bool link_up;
	uint16_t queues;
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t drops[RIOV_DP_DROP__MAX];
	uint64_t notifications;
	uint64_t iotlb_hits, iotlb_misses, dma_faults;
	uint64_t iotlb_waits;         /* a vIOMMU guest's buffer had no translation yet: the queue
				       * waited for the front-end's IOTLB update */
	uint64_t dirty_log_writes;    /* writes to the guest's memory marked in its front-end's dirty
				       * log (while a live migration copies the guest) */
	uint64_t announces;           /* RARPs sent for the guest after its front-end announced it
				       * (SEND_RARP: a live migration landed on this port) */
	struct riov_dp_vhost_stats vhost;   /* vhost ports: the device's sessions */
	struct riov_dp_offload_stats ol;    /* every port */
};

/** Fill st for the port called name. Returns 0 or -ENOENT. */
int riov_dp_port_stats(struct riov_dp *dp, const char *name, struct riov_dp_port_stats *st);
/** Call fn for every port, in creation order. */
void riov_dp_port_foreach(struct riov_dp *dp, void (*fn)(void *arg, const struct riov_dp_port_stats *st),
			  void *arg);

#define RIOV_DP_MAX_QUEUE_PAIRS 16     /* = RIOV_VHOST_MAX_QUEUE_PAIRS */

/* One queue pair q of a vhost port, from the port's side like riov_dp_port_stats: rx = received
 * from the guest (its TX vring, 2q+1), tx = sent to the guest (its RX vring, 2q). Counts every
 * life of the vrings (a guest that reconnects adds to them). The port's totals of packets and
 * bytes are the sums over its queue pairs. */
struct riov_dp_queue_stats {
	uint16_t queue;
	bool rx_running;               /* the guest's TX vring is set up and polled */
	bool tx_running;               /* the guest's RX vring is set up and takes packets */
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	/* The causes a vring counts itself (no_mbuf, no_buffer, broken_queue, dma_fault,
	 * bad_descriptor, too_big); the others (ring_full, not_ready, looped, hairpin, ...) are
	 * decided before a queue is chosen and counted per port only, so these are a part of the
	 * port's drops. */
	uint64_t drops[RIOV_DP_DROP__MAX];
	uint64_t notifications;        /* interrupts raised on either vring */
};

/** Fill qs[0..n) with the queue pairs of the vhost port called name (n = RIOV_DP_MAX_QUEUE_PAIRS
 *  is always enough). Returns the number of entries filled (the port's queue pairs, at most n; 0
 *  for an eth port: its counters are kept per worker, not per queue), or -ENOENT. */
int riov_dp_port_queue_stats(struct riov_dp *dp, const char *name, struct riov_dp_queue_stats *qs,
			     unsigned n);

/** Test-only fault (built with RIOV_FAULT_INJECTION, else it does nothing): worker idx stops
 *  polling and spins without counting its loops until the dataplane stops, as a worker stuck in
 *  a device or a loop would (the watchdog test). */
void riov_dp_fault_hang_worker(struct riov_dp *dp, unsigned idx);
/** Test-only fault (as above): the guest-to-guest burst of the direct path in which the frames
 *  delivered so far pass `frames` raises SIGKILL between returning the sender's chains and
 *  publishing the receiver's used entries, the one moment where the order of the two decides
 *  between a lost frame and a frame delivered twice after the restart. Call before the workers
 *  run traffic (one worker counts). */
void riov_dp_fault_kill_direct(struct riov_dp *dp, uint64_t frames);

/* A worker's own counters (docs/api.md, "Worker counters"), kept by the worker alone. */
struct riov_dp_worker_stats {
	unsigned lcore;
	uint64_t loops;                /* poll loops */
	uint64_t busy_loops;           /* loops that moved at least one frame */
	/* TSC cycles of the busy loops, and of the others (a loop that follows loops not timed
	 * counts busy from its first burst: worker.c, dp_worker_main()) */
	uint64_t busy_cycles, idle_cycles;
	/* frames taken from an input: a guest's TX vring (chains peeked, bad ones too), an eth
	 * port's or uplink's RX queue, an uplink's TAP, an RDMA link; each frame once, where it
	 * enters riovd (not again from another worker's handoff ring or a paused guest's hold
	 * queue). Cycles per packet = busy_cycles / packets */
	uint64_t packets;
	/* per burst: from taking it from its input (or handoff or hold ring) to handing its last
	 * frame on (a guest RX vring, another worker's handoff ring, rte_eth_tx_burst, an RDMA link) */
	struct riov_loop_hist latency;
};
/** Copy the counters of the first n workers (at most) to out. Returns how many. */
unsigned riov_dp_worker_stats(struct riov_dp *dp, struct riov_dp_worker_stats *out, unsigned n);
/** The TSC's rate (cycles per second) the workers' cycle counters count in. */
uint64_t riov_dp_tsc_hz(const struct riov_dp *dp);

/* ---- read-only queries (control thread) ---- */

/** What the dataplane knows about a port right now (desired settings such as the socket path are
 *  kept by the control plane). */
struct riov_dp_port_info {
	uint16_t id;                   /* port id (index in the dataplane) */
	enum riov_dp_port_type type;
	char net[RIOV_DP_NAME_MAX];
	uint16_t queues;
	bool link_up;                  /* vhost: a guest is connected; eth: the device started */
	bool broken;                   /* vhost: a vring was marked broken (guest misbehaved) */
	/* vhost only (0 for eth): the device's VT-d requester id and second-stage domain id in
	 * riov_dp_vtd(dp); the domain exists only while a guest has its memory mapped */
	uint16_t sid;
	uint16_t did;
	uint64_t features;             /* vhost: negotiated virtio features (0 before negotiation) */
	uint16_t queue_pairs;          /* vhost: queue pairs the guest has set up (a vring running) */
};
/** Fill out for the port called name. Returns 0 or -ENOENT. */
int riov_dp_port_info(struct riov_dp *dp, const char *name, struct riov_dp_port_info *out);

struct riov_dp_net_info {
	unsigned ports;                /* ports attached */
	unsigned macs;                 /* MAC table entries (learned and static) */
};
/** Fill out for the network called name (ports: local ports, not its remote VTEPs). Returns 0 or -ENOENT. */
int riov_dp_net_info(struct riov_dp *dp, const char *name, struct riov_dp_net_info *out);

/* ---- a network's MAC table (switch.c: learned entries age, static ones stay) ---- */

/* Aging of learned entries, local and remote: the control plane calls riov_dp_mac_age() every
 * aging time / 2 (its mac_aging_s, 300 s by default as Linux bridge's ageing_time), and an entry
 * goes at the third sweep after a frame last came from its address: between 1 and 1.5 times the
 * aging time after it. */

struct riov_dp_mac_info {
	uint8_t mac[6];
	char port[RIOV_DP_NAME_MAX];   /* where frames to it go ("?" for a port going away) */
	enum riov_dp_port_type type;   /* that port's */
	bool is_static;                /* riov_dp_mac_add(): never moved by learning, never aged */
	bool local;                    /* on a vhost port (a guest's address) */
	unsigned age;                  /* learned: aging sweeps since a frame last came from it */
};
/** Make mac (unicast, not all zeros) a static entry of network net to its port called port (a
 *  vhost or eth port, or a remote VTEP's "<net>@<a.b.c.d>"), in place of whatever entry the
 *  address had. Learning never moves it, aging never removes it; deleting the port removes it.
 *  Returns 0, -ENOENT (no such network, or no such port in it), -EINVAL (a multicast or all-zero
 *  address) or -ENOSPC (the slots the address may take hold static entries already: no static
 *  entry is ever evicted). */
int riov_dp_mac_add(struct riov_dp *dp, const char *net, const uint8_t mac[6], const char *port);
/** Remove network net's entry of mac, static or learned. Returns 0 or -ENOENT. */
int riov_dp_mac_del(struct riov_dp *dp, const char *net, const uint8_t mac[6]);
/** Call fn for each entry of network net's table, in table order; workers go on learning
 *  meanwhile (each entry is read once, atomically). Returns 0 or -ENOENT. */
int riov_dp_mac_foreach(struct riov_dp *dp, const char *net,
			void (*fn)(void *arg, const struct riov_dp_mac_info *mi), void *arg);
/** One aging sweep over every network (see above). Returns how many learned entries it removed. */
unsigned riov_dp_mac_age(struct riov_dp *dp);

/* A network's overlay totals: the sums of its remote VTEPs' port counters (riov_dp_port_stats),
 * those deleted since its VNI was set included, so they never go backwards. tx: encapsulated and
 * sent (bytes of the outer frames, as the VTEP ports count them), rx: decapsulated into the
 * network (bytes of the inner frames). VXLAN the uplink drops before a network is known
 * (vxlan_unknown_vni, the other vxlan_* causes, unknown_vtep) stays the uplink's. */
struct riov_dp_vni_stats {
	uint32_t vni;
	unsigned vteps;                /* remote VTEPs now */
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t drops[RIOV_DP_DROP__MAX];
};
/** Fill out for network name (zeros without a VNI). Returns 0 or -ENOENT. */
int riov_dp_vni_stats(struct riov_dp *dp, const char *name, struct riov_dp_vni_stats *out);

/** Number of worker lcores. */
unsigned riov_dp_n_workers(const struct riov_dp *dp);

/** Print a table of port and worker counters (operators, tests). */
void riov_dp_dump(struct riov_dp *dp, FILE *f);

/* ---- what the control plane needs of DPDK's memory and VFIO (dp_platform.c) ---- */

struct riov_assign_vfio_ops;
struct riov_vtd_range;

/** VFIO container and group calls through DPDK's container API, for riov_assign_params.ops when
 *  DPDK's PMD will drive the function (the PMD then finds the group open, in a container riov set
 *  up). Returns a static table. */
const struct riov_assign_vfio_ops *riov_dp_vfio_ops(void);

/**
 * The packet memory (DPDK's memory segments that have an IOVA, external ones left out) as
 * read/write ranges: iova as DPDK gives it, hva = this process's address.
 * @return 0 with *out (malloc'd, free()) and *n >= 1, or -ENOMEM (none, or out of memory).
 */
int riov_dp_memory_ranges(struct riov_vtd_range **out, size_t *n);

#endif
