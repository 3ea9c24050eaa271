/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals of riovd's service library (control/service.c and control/svc_*.c), shared by its
 * files and reached by the unit tests in tests/unit/control. Not for other folders.
 *
 * One file per riov.proto service (svc_network.c, svc_port.c, svc_domain.c, svc_interrupt.c,
 * svc_device.c, svc_faults.c, svc_metrics.c, svc_config.c, svc_log.c; Node.Info is built into the RPC
 * server, svc_node.c supplies its workers and health; svc_fabric.c holds the VXLAN overlay's part
 * of Network and Port: VNIs, remote VTEPs, uplinks; svc_mac.c Network's MAC tables: static MACs,
 * their listing, aging), each with a table of its methods: the
 * role each needs and its handler, checked against the schema at build time (SVC_TABLE). What
 * they share: the desired state (struct riov_service), the state file and the one way a change
 * is kept (svc_state.c: svc_save_or_undo()), the VT-d identifiers riovd gives out (svc_ids.c),
 * the Prometheus collector (svc_prometheus.c). DPDK's memory and VFIO container API come from
 * the dataplane (dataplane/dp.h, dp_platform.c; the unit tests replace it with doubles).
 *
 * Thread rules: control thread only.
 */
#ifndef RIOV_CONTROL_SERVICE_INTERNAL_H
#define RIOV_CONTROL_SERVICE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "control/rpc_server.h"
#include "control/service.h"
#include "dataplane/dp.h"
#include "iommu/vtd.h"
#include "iommu/vtd_vfio.h"
#include "proto/frame.h"
#include "vmm/assign.h"
#include "vmm/vhost.h"

struct event;
struct evbuffer;
struct riov_cfg_port;
struct riov_nh_watch;
struct svc_evpn;
struct svc_rdma;

#define STATE_FORMAT 1u
#define OWN_DOMAINS_MAX 1024u   /* domains made with Domain.Create */
#define OWN_IRQS_MAX 4096u      /* Interrupt.Set settings */
#define ASSIGN_MAX 256u         /* assigned PCI functions (Device.Assign and eth ports) */
#define SRIOV_MAX 64u           /* PFs whose VF count riovd sets */
#define MACS_MAX 1024u          /* static MACs of one network */
#define MAC_PAGE_DEFAULT 1000u  /* Network.ListMacs: entries a page when page_size is 0 ... */
#define MAC_PAGE_MAX 5000u      /* ... and at most (what a frame holds: svc_mac.c) */

/* ------------------------------------------------------------------ VT-d identifiers (svc_ids.c)
 *
 * Who owns which domain ids and IRTEs is iommu/vtd.h's plan (RIOV_VTD_DID_*, RIOV_VTD_IRTE_*);
 * the service holds the allocators (svc->dids, svc->irtes) with the vhost ports' ranges reserved
 * for the dataplane. An id is marked used exactly while its user exists: an API-created domain,
 * an assigned function (its domain and its MSI-X vectors' IRTEs), an Interrupt.Set setting. The
 * dataplane's source-ids (buses 0xfc-0xff) are not allocated, only refused: */
#define DP_SID_FIRST RIOV_DP_VHOST_SID_FIRST /* dataplane: vhost port n has source-id 0xfc00 + n */
#define DP_SID_LAST RIOV_DP_VHOST_SID_LAST

/* A PCI function assigned through riov's VT-d model: a Device.Assign device (spec owned here) or
 * the function of an eth port with `assign` (its PortSpec holds the settings). */
struct svc_assign {
	Riov__V1__DeviceSpec *spec;    /* device: desired state; NULL for a port's function */
	char name[RIOV_DP_NAME_MAX];   /* device or port name */
	struct riov_assign *a;         /* the assignment (never NULL in svc->asg) */
	/* port: riovd's packet memory the domain was built from (iova, hva, len): Domain.Map may put
	 * back only these */
	struct riov_vtd_range *mem;
	size_t n_mem;
};

struct riov_service {
	const struct riov_config *cfg;
	struct riov_dp *dp;
	struct riov_vtd *vtd;
	struct event_base *base;
	struct riov_state_store *store;
	struct riov_rpc_server *rpc;
	struct riov_metrics_http *metrics;
	/* desired state, owned copies (protobuf-c unpacked, freed with free_unpacked) */
	Riov__V1__NetworkSpec *nets[RIOV_DP_MAX_NETS];
	unsigned n_nets;
	Riov__V1__PortSpec *ports[RIOV_DP_MAX_PORTS]; /* creation order */
	unsigned n_ports;
	uint64_t generation;         /* of the last state written or restored */
	struct timespec started;     /* CLOCK_MONOTONIC */
	unsigned restore_failed;     /* state-file objects that could not be applied at start */
	char save_error[256];        /* last state write failure, "" after a good write */
	uint64_t save_not_synced;    /* writes kept whose directory fsync failed (svc_state.c) */
	/* domains made with Domain.Create (mappings, attached devices) and interrupt settings of
	 * those devices, owned copies freed with free_unpacked */
	Riov__V1__DomainSpec *doms[OWN_DOMAINS_MAX];
	unsigned n_doms;
	Riov__V1__InterruptSetting *irqs[OWN_IRQS_MAX];
	unsigned n_irqs;
	/* assigned functions (devices first-come order, ports' functions too) and SR-IOV settings */
	struct svc_assign *asg[ASSIGN_MAX];
	unsigned n_asg;
	Riov__V1__SriovSpec *sriov[SRIOV_MAX];
	unsigned n_sriov;
	struct riov_kmsg *kmsg;      /* DMAR faults from the kernel log, open once anything is assigned */
	bool kmsg_failed;
	Riov__V1__DeviceSpec *dev_specs[ASSIGN_MAX]; /* build_state's view of the devices' specs */
	/* VT-d identifiers in use (svc_ids.c): domain ids and interrupt-remapping entries */
	struct riov_vtd_ids *dids, *irtes;
	/* the fabric (svc_fabric.c): next hops of remote VTEPs from the kernel; NULL when it could
	 * not be created (no netlink): VTEPs then stay unresolved */
	struct riov_nh_watch *nh;
	/* the MAC tables (svc_mac.c): the aging timer (NULL: none, mac_aging_s = 0) and the learned
	 * entries it removed */
	struct event *mac_age_ev;
	uint64_t macs_aged;
	/* BGP EVPN networks (svc_evpn.c): NULL until one is added or a restore begins */
	struct svc_evpn *evpn;
	/* RDMA peer links (svc_rdma.c): NULL without rdma_device */
	struct svc_rdma *rdma;
};

/* ------------------------------------------------------------------ method tables */

/* One RPC method of a service: which one (by its generated C name, so a misspelt method fails
 * the build), the role a client needs to call it, and its handler. */
struct svc_method {
	struct riov_method_id id;
	enum riov_role role;
	riov_rpc_handler handler;
};

#define SVC_METHOD(Svc, member, role_, handler_)                                              \
	{ .id = RIOV_METHOD_ID(Svc, member), .role = RIOV_ROLE_##role_, .handler = (handler_) }

/* A service's methods. */
struct svc_table {
	const char *service;               /* short name in riov.proto ("Port") */
	const struct svc_method *methods;
	size_t n;
};

/* Define table `name` of service Svc from array arr: a service of riov.proto with a method that
 * has no entry here (or an entry too many) fails the build. */
#define SVC_TABLE(name, Svc, arr)                                                             \
	_Static_assert(sizeof(arr) / sizeof((arr)[0]) == RIOV_SERVICE_N_METHODS(Svc),           \
		       "every method of riov.v1." #Svc " needs one entry in " #arr);           \
	const struct svc_table name = { #Svc, arr, sizeof(arr) / sizeof((arr)[0]) }

extern const struct svc_table svc_network_table, svc_port_table, svc_domain_table,
	svc_interrupt_table, svc_device_table, svc_faults_table, svc_metrics_table,
	svc_config_table, svc_log_table;

/* Every service table riovd serves (service.c); Node.Info is the RPC server's own. */
extern const struct svc_table *const svc_tables[];
extern const size_t svc_n_tables;

/**
 * Register every method of svc_tables with rpc (streams with riov_rpc_register_stream()).
 * @return 0, or a negative errno with err filled.
 */
int svc_register_all(struct riov_rpc_server *rpc, char *err, size_t errlen);

/* ------------------------------------------------------------------ small helpers (service.c) */

/* A zeroed message of type `type` in the call's memory, initialized with init; NULL when out of
 * memory. */
#define CALL_NEW(call, type, init)                                                      \
	({                                                                              \
		type *p_ = riov_rpc_call_alloc(call, sizeof(type));                     \
		if (p_ != NULL)                                                         \
			init(p_);                                                       \
		p_;                                                                     \
	})

static inline const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

static inline void remove_at(void **arr, unsigned *n, unsigned i)
{
	memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof(arr[0]));
	(*n)--;
}

static inline void insert_at(void **arr, unsigned *n, unsigned i, void *v)
{
	memmove(&arr[i + 1], &arr[i], (*n - i) * sizeof(arr[0]));
	arr[i] = v;
	(*n)++;
}

/** A deep copy of m (malloc'd, free with protobuf_c_message_free_unpacked()), or NULL. */
void *svc_msg_dup(const ProtobufCMessage *m);
/** true when s is 1 to RIOV_DP_NAME_MAX - 1 letters, digits, '-', '_' or '.'. */
bool svc_valid_name(const char *s);

/* ------------------------------------------------------------------ state (svc_state.c) */

/** The running desired state as a State (pointing into svc; valid until it changes). */
void svc_state_build(struct riov_service *svc, Riov__V1__State *st, uint64_t generation);
/** Write the running desired state. @return 0 or -errno with err filled. */
int svc_state_save(struct riov_service *svc, char *err, size_t errlen);

typedef void (*svc_undo_fn)(struct riov_service *svc, void *arg);

/**
 * Keep a change of the desired state only once it is on stable storage: write the state file;
 * when that fails, undo the change (undo(svc, arg)) and put "<what>: <why it failed>" into msg,
 * what being what_fmt formatted. Every handler that changes the desired state ends its change
 * with this, adds (change first) and deletes (state first) alike.
 * @return 0, or the state store's negative errno (the change is undone).
 */
int svc_save_or_undo(struct riov_service *svc, svc_undo_fn undo, void *arg, char *msg,
		     size_t msglen, const char *what_fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* An element taken out of one of the desired state's lists, for svc_slot_restore(). */
struct svc_slot {
	void **arr;
	unsigned *n;
	unsigned i;
	void *v;
};

/** svc_undo_fn of a delete that saves first: put slot->v back at slot->i. */
void svc_slot_restore(struct riov_service *svc, void *slot);

/* ------------------------------------------------------------------ per service */

/* svc_network.c */
/** Index of network name in the desired state, or -1. */
int svc_net_index(const struct riov_service *svc, const char *name);
/** Check a network spec and add it to the dataplane and the desired state (not saved). */
int svc_net_add(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err,
		size_t errlen);

/** Network spec's answer (ports, MACs, remote VTEPs) in the call's memory, or NULL. */
Riov__V1__NetworkInfo *svc_net_info(struct riov_rpc_call *call, struct riov_service *svc,
				    Riov__V1__NetworkSpec *spec);

/* svc_fabric.c: the VXLAN overlay (DESIGN.md "Fabric", issue 13): uplink ports, networks' VNIs
 * and remote VTEPs, their next hops from the kernel (control/nh_watch.h) */
/** Open the next-hop watcher on svc->base (riov_service_create). Never fails: without one (no
 *  netlink) riovd runs, its VTEPs unresolved, and says so in its log. */
void svc_fabric_start(struct riov_service *svc);
/** Close it (riov_service_destroy). */
void svc_fabric_stop(struct riov_service *svc);
/** Check a network spec's vni and vteps (range, syntax, repeats, a VNI another network has).
 *  @return 0 or -errno with err filled. */
int svc_net_fabric_check(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err,
			 size_t errlen);
/** A network just added to the dataplane: give it in's vni and add in's vteps (checked). On
 *  failure what it did is undone (the caller deletes the network). @return 0 or -errno with err
 *  filled. */
int svc_net_fabric_apply(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err,
			 size_t errlen);
/** Take a network's remote VTEPs (spec's) out of the dataplane and the watcher, before the
 *  network itself goes. */
void svc_net_fabric_remove(struct riov_service *svc, const Riov__V1__NetworkSpec *spec);
/** ni->vteps: the remote VTEPs of network net as the dataplane has them, and (a network with a
 *  VNI) ni->overlay, their totals. 0 or -ENOMEM. */
int svc_net_vtep_infos(struct riov_rpc_call *call, struct riov_service *svc, const char *net,
		       Riov__V1__NetworkInfo *ni);
/** Index of VTEP ip (network order) in spec's vteps, or -1. */
int svc_spec_vtep_index(const Riov__V1__NetworkSpec *spec, uint32_t ip);
/** The fabric's metrics (riov_vtep_resolved, riov_vni_*) for the Prometheus collector. */
void svc_fabric_metrics(struct evbuffer *out, struct riov_service *svc);
/** Remote VTEPs in the desired state (each is a dataplane port). */
unsigned svc_vtep_count(const struct riov_service *svc);
/** Whether name is a remote VTEP's port ("<net>@<a.b.c.d>"). */
bool svc_is_vtep_port(struct riov_service *svc, const char *name);
/** Check an uplink port's spec (name, no network, address, gateway) and set pp->address.
 *  @return 0 or -errno with err filled. */
int svc_uplink_params(struct riov_service *svc, const Riov__V1__PortSpec *ps,
		      struct riov_dp_port_params *pp, char *err, size_t errlen);
/** An uplink just added to the dataplane: its address (and default route) on its TAP. On
 *  failure the caller deletes the port. @return 0 or -errno with err filled. */
int svc_uplink_up(struct riov_service *svc, const Riov__V1__PortSpec *ps, char *err,
		  size_t errlen);
/** An uplink came or went: look at every remote VTEP's next hop again. */
void svc_uplink_changed(struct riov_service *svc);
/** Network.AddVtep and Network.DeleteVtep (riov_rpc_handler). */
int svc_h_net_add_vtep(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		       ProtobufCMessage **resp, char *msg, size_t msglen);
int svc_h_net_delete_vtep(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen);

/** Remote VTEP ip of network net into the dataplane, its next hop watched (as Network.AddVtep,
 *  without the spec). @return 0 or -errno with err filled (nothing left behind). */
int svc_vtep_add(struct riov_service *svc, const char *net, uint32_t ip, char *err, size_t errlen);
/** Remote VTEP ip of network net out of the dataplane and the watcher (failures logged). */
void svc_vtep_del(struct riov_service *svc, const char *net, uint32_t ip);

/* svc_evpn.c: BGP EVPN networks (NetworkSpec.evpn, docs/evpn.md): their kernel shadow devices
 * (control/evpn_kernel.h; riovd links it, the unit tests a double), local MACs swept into them,
 * zebra's remote MACs and flood lists into the dataplane */
/** Check an EVPN network spec (a vni, no vteps, an uplink unless restoring). 0 or -errno with
 *  err filled. */
int svc_evpn_net_check(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err,
		       size_t errlen);
/** A network just added with its VNI: when EVPN, learning from the overlay off, its kernel
 *  devices made (at start: after the restore). On failure nothing is left. 0 or -errno with err
 *  filled. */
int svc_evpn_net_apply(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err,
		       size_t errlen);
/** Network name goes: its kernel devices, EVPN VTEP ports and remote MACs go (nothing if it is
 *  not an EVPN network). Before the dataplane deletes it. */
void svc_evpn_net_remove(struct riov_service *svc, const char *name);
/** Whether network net is an EVPN network. */
bool svc_evpn_is(const struct riov_service *svc, const char *net);
/** Whether ip is an EVPN VTEP of network net, and its state. */
bool svc_evpn_vtep(const struct riov_service *svc, const char *net, uint32_t ip, bool *flood,
		   unsigned *macs);
/** A port just added (in the desired state): a vhost or eth port of an EVPN network gets its
 *  shadow TAP; an uplink (re)makes the EVPN networks' vxlan devices with the first uplink's
 *  address. Failures logged. */
void svc_evpn_port_added(struct riov_service *svc, const Riov__V1__PortSpec *ps);
/** Port name is about to leave the dataplane: its shadow TAP goes; the last uplink: the vxlan
 *  devices go (zebra withdraws the VNIs) until an uplink is added again. */
void svc_evpn_port_removed(struct riov_service *svc, const char *name);
/** One sweep of the EVPN networks' MAC tables into the shadow TAPs (the timer's work). */
void svc_evpn_sweep(struct riov_service *svc);
/** riov_service_restore's start and end: the kernel is reconciled once, at the end. */
void svc_evpn_restore_begin(struct riov_service *svc);
void svc_evpn_restore_end(struct riov_service *svc);
/** Close the kernel context (the devices stay) and free everything (riov_service_destroy). */
void svc_evpn_stop(struct riov_service *svc);
/** riov_evpn_* metrics for the Prometheus collector (none without an EVPN network). */
void svc_evpn_metrics(struct evbuffer *out, struct riov_service *svc);

/** The first uplink's address (network order): the node's VTEP address; 0 without an uplink.
 *  *name (optional) gets the uplink's name. */
uint32_t svc_uplink_address(const struct riov_service *svc, const char **name);

/* svc_rdma.c: RDMA peer links (docs/rdma.md, issue 15): with cfg->rdma_device, a listener on
 * the VTEP address and one link per remote VTEP address of any network */
/** Start (riov_service_create): nothing without rdma_device. Never fails: problems are logged
 *  and frames go by VXLAN. */
void svc_rdma_start(struct riov_service *svc);
/** Links and context gone (riov_service_destroy). */
void svc_rdma_stop(struct riov_service *svc);
/** The VTEPs or the uplinks changed: the context follows the first uplink's address, the links
 *  the set of remote VTEP addresses (svc_rdma_peer_set). Also once a second on a timer. */
void svc_rdma_sync(struct riov_service *svc);
/** The distinct remote VTEP addresses of every network (static and EVPN alike) but local, in
 *  ascending order, at most max into out. @return how many. */
unsigned svc_rdma_peer_set(struct riov_dp *dp, uint32_t local, uint32_t *out, unsigned max);
/** x's transport, rdma_state and rdma_* counters from ip's link ("vxlan", "" without one).
 *  @return 0 or -ENOMEM. */
int svc_rdma_vtep_info(struct riov_rpc_call *call, struct riov_service *svc, uint32_t ip,
		       Riov__V1__VtepInfo *x);
/** riov_rdma_* metrics for the Prometheus collector (none without links). */
void svc_rdma_metrics(struct evbuffer *out, struct riov_service *svc);

/* svc_mac.c: the MAC tables: static MACs (NetworkSpec.macs), their listing, aging */
/** Start the aging timer on svc->base, every cfg->mac_aging_s / 2 s (none without a base or with
 *  mac_aging_s 0). Never fails: without a timer riovd runs and says so in its log. */
void svc_mac_aging_start(struct riov_service *svc);
/** Stop it (riov_service_destroy). */
void svc_mac_aging_stop(struct riov_service *svc);
/** One aging sweep of every network's table (the timer's work). */
void svc_mac_age(struct riov_service *svc);
/** Check a network spec's static MACs (syntax, unicast, a VTEP of the spec or a port name, each
 *  once, at most MACS_MAX). @return 0 or -errno with err filled. */
int svc_net_macs_check(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err,
		       size_t errlen);
/** A network just added with its VTEPs: its static MACs (checked) into the dataplane, but those
 *  on a local port that is not there (pending). On failure the caller deletes the network.
 *  @return 0 or -errno with err filled. */
int svc_net_macs_apply(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err,
		       size_t errlen);
/** A port just added: its network's static MACs on it into the dataplane (failures logged). */
void svc_port_macs_added(struct riov_service *svc, const Riov__V1__PortSpec *ps);
/** Network.AddMac, Network.DeleteMac and Network.ListMacs (riov_rpc_handler). */
int svc_h_net_add_mac(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		      ProtobufCMessage **resp, char *msg, size_t msglen);
int svc_h_net_delete_mac(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen);
int svc_h_net_list_macs(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			ProtobufCMessage **resp, char *msg, size_t msglen);

/* svc_port.c */
#define SVC_N_FEATURES 6u  /* virtio features a port may withhold (features_off) */
/** Index of port name in the desired state, or -1. */
int svc_port_index(const struct riov_service *svc, const char *name);
/** Add a port to the dataplane and the desired state (not saved). */
int svc_port_add(struct riov_service *svc, const Riov__V1__PortSpec *in, char *err,
		 size_t errlen);
/** A config-file port as a PortSpec; strings point at cp's and static ones, feat holds
 *  SVC_N_FEATURES. */
void svc_port_from_config(const struct riov_cfg_port *cp, Riov__V1__PortSpec *ps, char **feat);
/** Counters of every port (or of port only, with its queue pairs) in the call's memory. */
int svc_port_counters(struct riov_rpc_call *call, struct riov_service *svc, const char *only,
		      Riov__V1__PortCounters ***out, size_t *n);

/* svc_domain.c */
/** Index of the API-created domain did, or -1. */
int svc_dom_index(const struct riov_service *svc, uint32_t did);
/** The API-created domain a device (an attachment's name) is attached to, or -1; *ai its
 *  attachment. */
int svc_dom_device(const struct riov_service *svc, const char *name, size_t *ai);
/** The API-created domain source-id sid is attached to, or -1; *ai its attachment. */
int svc_dom_sid(const struct riov_service *svc, uint32_t sid, size_t *ai);
/** Create a domain from a spec (mappings and devices too; not saved). 0 with *did, or -errno. */
int svc_dom_create(struct riov_service *svc, const Riov__V1__DomainSpec *in, uint32_t *did,
		   char *err, size_t errlen);

/* svc_interrupt.c */
/** Check and program an interrupt setting (replacing the device's for that vector; not saved).
 *  *old gets the replaced setting (the caller frees or restores it) or NULL. */
int svc_irq_set(struct riov_service *svc, const Riov__V1__InterruptSetting *in,
		Riov__V1__InterruptSetting **old, char *err, size_t errlen);

/* svc_device.c: assigned PCI functions, SR-IOV, the kernel's DMAR faults */
/** Index of the assigned function (device or eth port) called name, or -1. */
int svc_asg_index(const struct riov_service *svc, const char *name);
/** true when an assigned function has source-id sid; *who (optional) gets its name. */
bool svc_asg_sid_used(const struct riov_service *svc, uint32_t sid, const char **who);
/** The assigned function with source-id sid, or NULL. */
struct svc_assign *svc_asg_by_sid(const struct riov_service *svc, uint16_t sid);
/** The assigned function in domain did, or NULL. */
struct svc_assign *svc_asg_by_did(const struct riov_service *svc, uint32_t did);
/** The assigned function a Domain request names (by device, which wins, or by domain id), or
 *  NULL; *pi gets its domain and source-id. */
struct svc_assign *svc_asg_target(struct riov_service *svc, const char *device, uint32_t did,
				  struct riov_dp_port_info *pi);
/** Remove x from the list, release its function and its ids (svc_asg_ids_put), free it. */
void svc_asg_free(struct riov_service *svc, struct svc_assign *x);
/** Route every MSI-X vector of x's function through free IRTEs. */
int svc_asg_route_msix(struct riov_service *svc, struct svc_assign *x, char *err,
		       size_t errlen);
/** Assign eth port ps's function pci before DPDK probes it; on success *out is in svc->asg. */
int svc_port_assign_begin(struct riov_service *svc, const Riov__V1__PortSpec *ps,
			  const char *pci, struct svc_assign **out, char *err, size_t errlen);
/** Assign a Device.Assign device (not saved). */
int svc_dev_assign(struct riov_service *svc, const Riov__V1__DeviceSpec *in, char *err,
		   size_t errlen);
/** Index of PF pf (any spelling of its address) among the SR-IOV settings, or -1. */
int svc_sriov_index(const struct riov_service *svc, const char *pf);
/** Set a PF's VF count (not saved). */
int svc_sriov_apply(struct riov_service *svc, const Riov__V1__SriovSpec *in, char *err,
		    size_t errlen);

/* svc_faults.c */
struct svc_fault_reason {
	uint8_t code;
	const char *label;   /* for Prometheus */
	const char *text;    /* for people */
};
/* VT-d non-recoverable fault reasons (VT-d appendix A) */
extern const struct svc_fault_reason svc_fault_reasons[];
extern const size_t svc_n_fault_reasons;
/** The text of a VT-d fault reason ("unknown fault reason" for others). */
const char *svc_fault_text(unsigned code);

/* svc_node.c */
/** Node.Info's workers and health (riov_rpc_node_info_fn). */
void svc_node_info(void *arg, uint32_t *workers, char *health, size_t len);

/* svc_prometheus.c */
/** The Prometheus collector (riov_metrics_collect_fn). */
void svc_prometheus_collect(struct evbuffer *out, void *arg);

/* svc_ids.c */
/** Create the service's identifier allocators (riovd's plan reserved). @return 0 or -ENOMEM. */
int svc_ids_create(struct riov_service *svc);
/** Free them (NULL members allowed). */
void svc_ids_destroy(struct riov_service *svc);
/** Domain id `want` for assigned function `name` (checked), or a free one when want is 0, marked
 *  used: the caller releases it (riov_vtd_ids_release) if the assignment is not made, svc_asg_free
 *  once it is. @return 0 with *did, or -errno with err filled. */
int svc_did_pick(struct riov_service *svc, uint32_t want, const char *name, uint16_t *did,
		 char *err, size_t errlen);
/** n free IRTEs of the API's range, lowest first, marked used (all or none).
 *  @return 0, or -ENOSPC with none taken. */
int svc_irte_alloc(struct riov_service *svc, uint32_t *out, unsigned n);
/** Release what assigned function x holds: its domain id and its vectors' IRTEs. */
void svc_asg_ids_put(struct riov_service *svc, const struct svc_assign *x);

#endif
