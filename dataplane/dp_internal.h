/* SPDX-License-Identifier: BSD-3-Clause */
/* Dataplane internals shared by dp.c (control side), worker.c (fast path) and switch.c. */
#ifndef RIOV_DATAPLANE_DP_INTERNAL_H
#define RIOV_DATAPLANE_DP_INTERNAL_H

#include <stdatomic.h>

#include <rte_common.h>
#include <rte_dev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "dataplane/dp.h"
#include "dataplane/virtq.h"
#include "dataplane/vxlan.h"
#include "vmm/vhost.h"

/* ---- the switch (switch.c) ---- */

/* MAC table: open addressing over 64-bit words, probed from the slot the address hashes to over at
 * most DP_MAC_PROBE slots. A word is
 *   bits 63-16  the MAC address
 *   bit  15     DP_MAC_STATIC  set by the control plane (riov_dp_mac_add): learning never moves or
 *                              replaces it, aging never removes it
 *   bit  14     DP_MAC_LOCAL   its port is a vhost port (a guest's address: the same source arriving
 *                              from the wire is a loop or a spoof)
 *   bits 13-12  DP_MAC_AGE     learned entries: sweeps (dp_mac_age_net) since a frame last came
 *                              from the address; the worker that sees it again stores 0 (one store
 *                              per entry per sweep, not per frame); static entries keep 0
 *   bits 11-0   DP_MAC_PORT    port + 1 (1..RIOV_DP_MAX_PORTS); 0: a tombstone (an entry removed,
 *                              its address kept: probe chains stay intact, learning reuses the slot)
 * and 0 is an empty slot (probe chains end there).
 * Workers learn with atomic loads and compare-and-swap (an entry changes only from the value its
 * writer read); the control thread adds and removes static entries, ages learned ones and purges
 * a deleted port's entries (after the workers stopped seeing that port) with compare-and-swap too,
 * and reads the table with relaxed loads. */
/* 32768 slots (256 KiB a network): 10,000 remote MACs from EVPN (issue 14's scale) fill it to
 * 30 %, where a probe window of 8 is rarely full; at 8192 slots the 8,193rd address found none */
#define DP_MAC_SLOTS 32768
#define DP_MAC_PROBE 8
#define DP_MAC_STATIC 0x8000u
#define DP_MAC_LOCAL 0x4000u
#define DP_MAC_AGE 0x3000u
#define DP_MAC_AGE_ONE 0x1000u
#define DP_MAC_AGE_MAX 2u              /* a sweep that finds a learned entry at this age removes it */
#define DP_MAC_PORT 0x0fffu
#define DP_MAC_FLAGS 0xffffu           /* everything but the address */
_Static_assert(RIOV_DP_MAX_PORTS < DP_MAC_PORT, "a port id + 1 fits DP_MAC_PORT");
_Static_assert(((DP_MAC_AGE_MAX * DP_MAC_AGE_ONE) & ~DP_MAC_AGE) == 0, "DP_MAC_AGE holds the oldest age");

struct dp_flood {
	unsigned n;
	uint16_t ports[];
};

/* A network's remote VTEPs (fabric.c): what the uplink's decapsulation looks a sender up in. */
struct dp_vteps {
	unsigned n;
	struct {
		uint32_t ip;           /* network order */
		uint16_t port;         /* its VTEP port */
	} v[];
};

struct dp_net {
	char name[RIOV_DP_NAME_MAX];
	uint16_t id;
	unsigned nports;               /* every port in it, its VTEP ports too */
	unsigned nvteps;               /* of which VTEP ports */
	uint32_t vni;                  /* 0: none (no overlay) */
	/* BGP EVPN (riov_dp_net_set_evpn): no learning from the overlay (zebra gives the remote
	 * MACs), and a guest's frame on a vhost port moves a static entry that is not a guest's */
	_Atomic bool evpn;
	struct dp_flood *_Atomic flood;  /* published to workers; old copies freed after sync */
	struct dp_flood *_Atomic flood_local; /* the same without VTEP ports: what a frame from the
					 * overlay floods to (split horizon) */
	struct dp_vteps *_Atomic vteps;  /* published like flood */
	/* counters of its remote VTEPs' ports deleted since its VNI was set (riov_dp_vni_stats) */
	struct dp_vtep_past {
		uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
		uint64_t drops[RIOV_DP_DROP__MAX];
	} vtep_past;
	_Atomic uint64_t macs[DP_MAC_SLOTS];
};

/* VNI -> network for the uplinks' decapsulation, sorted by VNI (fabric.c publishes it). */
struct dp_vni_map {
	unsigned n;
	struct {
		uint32_t vni;
		uint16_t net;
	} e[];
};

/* How frames reach a remote VTEP: the uplink and the outer headers (made for its next hop). */
struct dp_vtep_nh {
	uint16_t uplink;
	struct riov_vxlan_tmpl t;
};

/** Port id for dst in net, or -1 (unknown). Worker. */
int dp_mac_lookup(struct dp_net *net, const uint8_t *mac);
/** Learn src -> port (local: a vhost port); an entry it already has is marked seen (its age back
 *  to 0). Returns 1 if the table changed (an entry added or moved), 0 if not, -1 if the frame
 *  must be dropped: the source belongs to a local guest but came from the wire (a looped-back
 *  frame or a spoof). Worker. */
int dp_mac_learn(struct dp_net *net, const uint8_t *mac, uint16_t port, bool local);
/** Remove every entry of port, static ones too. Control thread, after the workers stopped
 *  polling the port. */
void dp_mac_purge_port(struct dp_net *net, uint16_t port);
/** Make mac a static entry to port (local: a vhost port), in place of any entry of that address;
 *  where the address has none, in the first free slot of its probe window, else in place of the
 *  oldest learned entry there (never of a static one). Returns 0, -EINVAL (a multicast or
 *  all-zero address) or -ENOSPC (every slot of its window holds a static entry). Control thread. */
int dp_mac_set_static(struct dp_net *net, const uint8_t *mac, uint16_t port, bool local);
/** Remove the entry of mac, static or learned. Returns 0 or -ENOENT. Control thread. */
int dp_mac_remove(struct dp_net *net, const uint8_t *mac);
/** One aging sweep: every learned entry ages by one; those already DP_MAC_AGE_MAX old are
 *  removed. Returns how many were removed. Control thread. */
unsigned dp_mac_age_net(struct dp_net *net);
/** Call fn with each entry of net's table (a relaxed snapshot: workers go on learning). Control
 *  thread. */
void dp_mac_walk(struct dp_net *net, void (*fn)(void *arg, const uint8_t mac[6], uint64_t e), void *arg);

/* ---- ports ---- */

struct dp_qstats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t drops[RIOV_DP_DROP__MAX];
	uint64_t announces;            /* RARPs sent for the guest (send_announce) */
	struct riov_dp_offload_stats ol;
} __rte_cache_aligned;

struct dp_vq_pair {
	struct riov_virtq rxq __rte_cache_aligned;   /* guest RX: we enqueue (even vring) */
	struct riov_virtq txq __rte_cache_aligned;   /* guest TX: we dequeue (odd vring) */
	_Atomic bool rx_running;
	_Atomic bool tx_running;
	unsigned owner;                /* the worker that owns both vrings */
	/* counters of earlier lives of the vrings (a guest reconnects: the virtq starts at zero) */
	struct riov_virtq_stats past[2];   /* [0] rxq, [1] txq */
	uint64_t past_hits[2], past_misses[2], past_faults[2];
	struct rte_ring *ring;         /* other workers hand packets for rxq to the owner (MP/SC) */
};

struct dp_port {
	char name[RIOV_DP_NAME_MAX];
	uint16_t id;
	enum riov_dp_port_type type;
	struct dp_net *net;
	struct riov_dp *dp;
	uint16_t queues;
	uint16_t mtu;                  /* L3 bytes */
	uint32_t max_frame;            /* mtu + Ethernet header: longest untagged frame sent here */
	_Atomic uint8_t ol_accepts;    /* vhost: RIOV_OL_* offloads the guest takes whole (from its
				        * RX vrings' features); eth: the device's TX offloads riov uses */
	bool gro;                      /* eth: coalesce TCP segments it receives (dataplane/gro.h) */
	_Atomic bool deleting;
	_Atomic bool link_up;
	/* vhost */
	struct riov_vhost_dev *vdev;
	struct dp_vq_pair *qp;         /* [queues] */
	_Atomic bool holding;          /* vmm pauses the vrings (riov_vhost_ops.hold) */
	struct rte_ring *hold;         /* packets for the guest while it holds (MP, SC: the owner of
				        * queue pair 0 hands them on once the pause is over) */
	_Atomic uint64_t announce;     /* DP_ANNOUNCE | MAC: the front-end announced the guest's
				        * address (riov_vhost_ops.announce); the owner of queue pair 0
				        * sends a RARP from it through the switch */
	/* eth, uplink */
	uint16_t eth_id;
	char devname[RTE_DEV_NAME_MAX_LEN];
	/* uplink: the exception path's TAP device, and the node's VTEP address and MAC on it */
	uint16_t tap_id;
	char tapdev[RTE_DEV_NAME_MAX_LEN];
	uint32_t vtep_ip;              /* network order */
	uint8_t mac[6];
	/* VTEP */
	uint32_t remote_ip;            /* network order */
	struct dp_vtep_nh *_Atomic nh; /* NULL: no next hop (frames dropped as no_nexthop) */
	struct dp_rdma_peer *_Atomic rdma; /* the peer's RDMA link (fabric_rdma.c), NULL: none */
	/* counters: one slot per worker (each worker writes only its own) */
	struct dp_qstats wstats[RIOV_DP_MAX_WORKERS];
	_Atomic uint64_t ring_full;    /* handoff ring full, any worker */
};

#define RIOV_DP_HOLD_SIZE 1024      /* packets held for one paused guest */
#define DP_ANNOUNCE (1ull << 63)    /* dp_port.announce: a RARP is due */

/* ---- workers (worker.c) ---- */

enum dp_poll_kind { DP_POLL_VHOST = 0, DP_POLL_ETH = 1, DP_POLL_UPLINK = 2, DP_POLL_TAP = 3 };

struct dp_poll {
	enum dp_poll_kind kind;
	uint16_t port;
	uint16_t queue;
};

struct dp_poll_table {
	unsigned n;
	struct dp_poll polls[];
};

struct dp_worker {
	struct riov_dp *dp;
	unsigned idx;
	unsigned lcore;
	uint64_t ns_mult;              /* TSC cycles to ns (riov_loop_hist_mult()), set before launch */
	struct dp_poll_table *_Atomic table;
	/* the worker's own counters (riov_dp_worker_stats says what each counts): written by the
	 * worker alone, read by the control thread without a lock */
	uint64_t busy_cycles;
	uint64_t idle_cycles;
	uint64_t loops;
	uint64_t busy_loops;
	uint64_t packets;
	struct riov_loop_hist latency;
} __rte_cache_aligned;

struct riov_dp {
	struct rte_mempool *mp;
	struct rte_mempool *mp_indirect; /* data room 0: software segmentation's payload references */
	struct rte_mempool *mp_jumbo;  /* one mbuf per jumbo frame, for eth devices that cannot
				        * scatter a frame over mbufs (af_packet, af_xdp); made by the
				        * first such port (dp_jumbo_pool()), freed with the dataplane */
	struct rte_rcu_qsbr *qs;
	struct riov_vtd *vtd;
	struct event_base *base;
	unsigned n_workers;
	unsigned idle_sleep_us;        /* riov_dp_params.idle_sleep_us */
	char ring_record_dir[256];     /* riov_dp_params.ring_record_dir; "" none */
	struct riov_virtq_held_budget held_budget;   /* RX vrings' held mbufs, together */
	_Atomic bool stop;
	_Atomic unsigned fault_hang;   /* test-only (RIOV_FAULT_INJECTION): worker idx + 1 spins, 0 none */
	_Atomic uint64_t fault_kill_direct; /* test-only: direct frames to go until SIGKILL, 0 off */
	struct dp_worker workers[RIOV_DP_MAX_WORKERS];
	struct dp_port *_Atomic ports[RIOV_DP_MAX_PORTS];
	struct dp_net *nets[RIOV_DP_MAX_NETS];
	struct dp_vni_map *_Atomic vni_map;  /* fabric.c */
	struct dp_rdma_set *_Atomic rdma_set; /* fabric_rdma.c: the RDMA links workers poll */
	unsigned port_order[RIOV_DP_MAX_PORTS]; /* creation order, for listings */
	unsigned n_port_order;
};

int dp_worker_main(void *arg);
/** Wait until every worker passed a quiescent point. Control thread. */
void dp_sync(struct riov_dp *dp);

/* ---- dp.c's helpers for fabric.c (control thread) ---- */

struct dp_port *dp_port_find(struct riov_dp *dp, const char *name);
struct dp_net *dp_net_find(struct riov_dp *dp, const char *name);
/** Publish the poll tables / net's flood lists again (after a port came or went). */
int dp_publish_poll_tables(struct riov_dp *dp);
int dp_publish_flood(struct riov_dp *dp, struct dp_net *net);
/** Make a port of a checked prm in net (NULL: an uplink); VTEP ports: prm->address is the remote
 *  VTEP. Returns 0 or -errno with err filled. */
int dp_port_add(struct riov_dp *dp, const struct riov_dp_port_params *prm, struct dp_net *net, char *err,
		size_t errlen);
/** Probe prm->devargs and start the device as port p (eth ports and uplinks). Returns 0 or -errno
 *  with err filled. */
int dp_eth_port_init(struct riov_dp *dp, struct dp_port *p, const struct riov_dp_port_params *prm,
		     char *err, size_t errlen);
/** Configure and start ethdev pid (probed as devname) for port p: rxq RX queues, a TX queue per
 *  worker, MTU mtu (0: p->mtu); with ol (may be NULL: none), the device's TX offloads riov uses,
 *  unless offloads is false. Returns 0 or -errno with err filled. */
int dp_eth_dev_start(struct riov_dp *dp, struct dp_port *p, uint16_t pid, const char *devname, uint16_t rxq,
		     uint16_t mtu, _Atomic uint8_t *ol, bool offloads, char *err, size_t errlen);
/** Stop, close and remove ethdev pid. */
void dp_eth_dev_remove(uint16_t pid);

/* ---- the fabric (fabric.c: control side; fabric_worker.c: workers) ---- */

/** Port add for RIOV_DP_PORT_UPLINK: probe and start the uplink's device and its TAP. */
int dp_uplink_init(struct riov_dp *dp, struct dp_port *p, const struct riov_dp_port_params *prm, char *err,
		   size_t errlen);
/** A port is going (workers no longer see it once synced): uplink: VTEPs that used it lose their
 *  next hop; VTEP: out of its network's VTEP list. */
void dp_fabric_port_del(struct riov_dp *dp, struct dp_port *p);
/** VTEP port p is gone from the workers (synced): its counters into its network's vtep_past. */
void dp_fabric_vtep_gone(struct riov_dp *dp, const struct dp_port *p);
/** Free what port_free does not know of (uplink: its TAP; VTEP: its next hop). */
void dp_fabric_port_free(struct riov_dp *dp, struct dp_port *p);
/** Before a network goes: its VNI out of the map. */
void dp_fabric_net_del(struct riov_dp *dp, struct dp_net *net);

/* ---- RDMA peer links (fabric_rdma.c: control side; fabric_worker.c: workers; docs/rdma.md) ----
 *
 * One per remote VTEP address with a link (shared by every network that has the VTEP). Only
 * worker `worker` sends on and polls the link, so the counters have one writer; the control
 * thread reads them without a lock. Published in dp->rdma_set (the workers' polling list) and
 * in the rdma pointer of every VTEP port with that address; withdrawn from both and synced before
 * the control thread may destroy the link. */
struct dp_rdma_peer {
	uint32_t ip;                   /* network order */
	unsigned worker;               /* the owner */
	struct riov_rdma_link *link;
	/* the owner's counters */
	uint64_t tx_frames, tx_bytes;  /* taken by the link (sent, or refused: the link counts those) */
	uint64_t rx_frames, rx_bytes;  /* received, before the VNI and VTEP lookup */
	uint64_t fallback;             /* frames sent by VXLAN while the link was not up */
	uint64_t unknown_vni, unknown_vtep; /* received frames dropped (the overlay's causes) */
} __rte_cache_aligned;

struct dp_rdma_set {
	unsigned n;
	struct dp_rdma_peer *p[];
};

/** A VTEP port was added: its rdma pointer from the peer of its address, if any. */
void dp_rdma_vtep_added(struct riov_dp *dp, struct dp_port *p);
/** Free what is left (riov_dp_destroy, workers stopped). */
void dp_rdma_free(struct riov_dp *dp);

/* ---- counters (dp_stats.c): the control thread sums what workers and vrings counted ---- */

/** Queue pair q of a vhost port: both vrings, every life (qp->past and the live virtq). */
void dp_queue_stats(const struct dp_vq_pair *qp, uint16_t q, struct riov_dp_queue_stats *qs);
/** Port p's totals: its per-worker slots, the handoff rings' drops and (vhost) every queue pair
 *  and its device's session counters. */
void dp_port_stats(const struct riov_dp *dp, const struct dp_port *p, struct riov_dp_port_stats *st);

#endif
