/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riovd's control service (see service.h): desired state, state file, RPC handlers, Prometheus.
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h), but their content is still untrusted: names, paths, counts and
 * enum values are checked here or by the dataplane before use, strings are never trusted to be
 * short, and every refusal says what to change. The state file is read back through the state
 * store's integrity check (SHA-256) and then decoded by protobuf-c; its content is applied through
 * the same checks as an RPC request. Domain.TranslateProbe hands out riovd's own host addresses
 * (the model's "host physical" addresses) to readonly clients: bind TLS to a management network.
 * Device.* and eth ports with assign act on the host (driver binding and sriov_numvfs in sysfs,
 * VFIO) for the PCI addresses an admin names; vmm/assign.c parses them strictly, and what an
 * assigned function's domain maps is riovd's own memory, never a host address from a client
 * (Domain.Map on such a domain only puts back riovd's packet memory at its own IOVAs).
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <rte_memory.h>
#include <rte_vfio.h>

#include "common/log.h"
#include "control/config.h"
#include "control/metrics_http.h"
#include "control/rpc_server.h"
#include "control/service.h"
#include "control/state_store.h"
#include "dataplane/dp.h"
#include "iommu/vtd.h"
#include "iommu/vtd_vfio.h"
#include "proto/frame.h"
#include "vmm/assign.h"
#include "vmm/vhost.h"

#define COMP "riovd"
#define STATE_FORMAT 1u
#define FAULTS_MAX 4096u        /* records read from the fault log per call */
#define DOMAIN_MAPPINGS_MAX 32768u
#define WATCH_MIN_MS 100u
#define WATCH_MAX_MS 60000u
#define OWN_DOMAINS_MAX 1024u   /* domains made with Domain.Create */
#define OWN_IRQS_MAX 4096u      /* Interrupt.Set settings */
#define ASSIGN_MAX 256u         /* assigned PCI functions (Device.Assign and eth ports) */
#define SRIOV_MAX 64u           /* PFs whose VF count riovd sets */

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
};

static int own_device(const struct riov_service *svc, const char *name, size_t *ai);
static int asg_index(const struct riov_service *svc, const char *name);
static bool asg_did_used(const struct riov_service *svc, uint32_t did);
static bool asg_irte_used(const struct riov_service *svc, uint32_t idx);
static bool asg_sid_used(const struct riov_service *svc, uint32_t sid, const char **who);
static int port_assign_begin(struct riov_service *svc, const Riov__V1__PortSpec *ps, const char *pci,
			     struct svc_assign **out, char *err, size_t errlen);
static int asg_route_msix(struct riov_service *svc, struct svc_assign *x, char *err, size_t errlen);
static void asg_free(struct riov_service *svc, struct svc_assign *x);

/* ------------------------------------------------------------------ small helpers */

static void *msg_dup(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);
	if (buf == NULL)
		return NULL;
	protobuf_c_message_pack(m, buf);
	ProtobufCMessage *c = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
	free(buf);
	return c;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t uptime_s(const struct riov_service *svc)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)(ts.tv_sec - svc->started.tv_sec);
}

static int net_index(const struct riov_service *svc, const char *name)
{
	for (unsigned i = 0; i < svc->n_nets; i++)
		if (strcmp(svc->nets[i]->name, name) == 0)
			return (int)i;
	return -1;
}

static int port_index(const struct riov_service *svc, const char *name)
{
	for (unsigned i = 0; i < svc->n_ports; i++)
		if (strcmp(svc->ports[i]->name, name) == 0)
			return (int)i;
	return -1;
}

/* Virtio features a port may withhold from its guest, by the names the config file uses. */
static const struct {
	const char *name;
	unsigned bit;
} feature_names[] = {
	{ "mrg_rxbuf", RIOV_VIRTIO_NET_F_MRG_RXBUF },
	{ "in_order", RIOV_VIRTIO_F_IN_ORDER },
	{ "event_idx", RIOV_VIRTIO_F_RING_EVENT_IDX },
	{ "indirect", RIOV_VIRTIO_F_RING_INDIRECT },
};
#define N_FEATURES (sizeof(feature_names) / sizeof(feature_names[0]))

/* VT-d non-recoverable fault reasons (VT-d appendix A): label for Prometheus, text for people. */
static const struct {
	uint8_t code;
	const char *label;
	const char *text;
} fault_reasons[] = {
	{ RIOV_VTD_FR_ROOT_NOT_PRESENT, "root_not_present", "root entry not present" },
	{ RIOV_VTD_FR_CTX_NOT_PRESENT, "ctx_not_present", "context entry not present (no guest memory mapped for this device)" },
	{ RIOV_VTD_FR_CTX_INVALID, "ctx_invalid", "invalid context entry" },
	{ RIOV_VTD_FR_ADDR_BEYOND_AW, "addr_beyond_aw", "address beyond the domain's address width" },
	{ RIOV_VTD_FR_WRITE, "write", "write to a page that is not mapped writable" },
	{ RIOV_VTD_FR_READ, "read", "access to a page that is not mapped (or not readable)" },
	{ RIOV_VTD_FR_PTE_ADDR, "pte_addr", "page-table entry address invalid" },
	{ RIOV_VTD_FR_ROOT_ADDR, "root_addr", "root table address invalid" },
	{ RIOV_VTD_FR_CTX_ADDR, "ctx_addr", "context table address invalid" },
	{ RIOV_VTD_FR_ROOT_RSVD, "root_rsvd", "reserved bit set in a root entry" },
	{ RIOV_VTD_FR_CTX_RSVD, "ctx_rsvd", "reserved bit set in a context entry" },
	{ RIOV_VTD_FR_PTE_RSVD, "pte_rsvd", "reserved bit set in a page-table entry" },
	{ RIOV_VTD_FR_TT_BLOCKED, "tt_blocked", "translation type blocked" },
	{ RIOV_VTD_FR_IR_RSVD, "ir_rsvd", "interrupt request with reserved fields set" },
	{ RIOV_VTD_FR_IR_INDEX, "ir_index", "interrupt index beyond the remapping table" },
	{ RIOV_VTD_FR_IR_NOT_PRESENT, "ir_not_present", "interrupt-remapping entry not present" },
	{ RIOV_VTD_FR_IR_ROOT_ADDR, "ir_root_addr", "interrupt-remapping table address invalid" },
	{ RIOV_VTD_FR_IR_IRTE_RSVD, "ir_irte_rsvd", "reserved bit set in an interrupt-remapping entry" },
	{ RIOV_VTD_FR_IR_COMPAT, "ir_compat", "compatibility-format interrupt blocked" },
	{ RIOV_VTD_FR_IR_SID, "ir_sid", "interrupt source-id validation failed" },
};
#define N_REASONS (sizeof(fault_reasons) / sizeof(fault_reasons[0]))

static const char *fault_text(unsigned code)
{
	for (size_t i = 0; i < N_REASONS; i++)
		if (fault_reasons[i].code == code)
			return fault_reasons[i].text;
	return "unknown fault reason";
}

/* ------------------------------------------------------------------ state file */

static void build_state(struct riov_service *svc, Riov__V1__State *st, uint64_t generation)
{
	riov__v1__state__init(st);
	st->format = STATE_FORMAT;
	st->generation = generation;
	st->n_networks = svc->n_nets;
	st->networks = svc->nets;
	st->n_ports = svc->n_ports;
	st->ports = svc->ports;
	st->n_domains = svc->n_doms;
	st->domains = svc->doms;
	st->n_interrupts = svc->n_irqs;
	st->interrupts = svc->irqs;
	st->n_devices = 0;
	for (unsigned i = 0; i < svc->n_asg; i++)
		if (svc->asg[i]->spec != NULL)
			svc->dev_specs[st->n_devices++] = svc->asg[i]->spec;
	st->devices = svc->dev_specs;
	st->n_sriov = svc->n_sriov;
	st->sriov = svc->sriov;
}

/* Write the running desired state. Returns 0 or -errno with err filled. */
static int save_state(struct riov_service *svc, char *err, size_t errlen)
{
	Riov__V1__State st;
	char why[256] = "";
	int rc;

	build_state(svc, &st, svc->generation + 1);
	size_t len = riov__v1__state__get_packed_size(&st);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf == NULL) {
		snprintf(err, errlen, "the state file could not be written: out of memory");
		return -ENOMEM;
	}
	riov__v1__state__pack(&st, buf);
	rc = riov_state_store_write(svc->store, buf, len, why, sizeof(why));
	free(buf);
	if (rc != 0) {
		snprintf(svc->save_error, sizeof(svc->save_error), "%s", why);
		snprintf(err, errlen, "the state file could not be written: %s", why);
		riov_log(RIOV_LOG_ERR, COMP, "state not saved: %s", why);
		return rc;
	}
	svc->save_error[0] = '\0';
	svc->generation++;
	return 0;
}

/* ------------------------------------------------------------------ networks */

/* Check a network spec and add it to the dataplane and the desired state (not saved). */
static int net_add(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err, size_t errlen)
{
	const char *name = str_or_empty(in->name);
	int rc;

	if (net_index(svc, name) >= 0) {
		snprintf(err, errlen, "network %s already exists", name);
		return -EEXIST;
	}
	if (in->mtu != 0 && in->mtu != 1500) {
		snprintf(err, errlen, "network %s: MTU %u is not supported yet (only 1500); leave it out",
			 name, in->mtu);
		return -EINVAL;
	}
	if (in->vni != 0) {
		snprintf(err, errlen, "network %s: VXLAN overlays (vni) are not implemented yet; leave "
			 "the vni out", name);
		return -EOPNOTSUPP;
	}
	rc = riov_dp_net_add(svc->dp, name);
	if (rc == -EINVAL)
		snprintf(err, errlen, "bad network name '%.80s': use 1-%d letters, digits, '-', '_' or '.'",
			 name, RIOV_DP_NAME_MAX - 1);
	else if (rc == -EEXIST)
		snprintf(err, errlen, "network %s already exists", name);
	else if (rc == -ENOSPC)
		snprintf(err, errlen, "too many networks (at most %d)", RIOV_DP_MAX_NETS);
	else if (rc != 0)
		snprintf(err, errlen, "network %s: %s", name, strerror(-rc));
	if (rc != 0)
		return rc;
	Riov__V1__NetworkSpec *spec = msg_dup(&in->base);
	if (spec == NULL) {
		riov_dp_net_del(svc->dp, name);
		snprintf(err, errlen, "network %s: out of memory", name);
		return -ENOMEM;
	}
	spec->mtu = 1500;
	svc->nets[svc->n_nets++] = spec;
	return 0;
}

/* ------------------------------------------------------------------ ports */

/* The path a vhost port serves: relative paths live under the configuration's socket_dir. */
static int socket_path(const struct riov_config *cfg, const char *given, char *out, size_t len)
{
	int n;

	if (given[0] == '/')
		n = snprintf(out, len, "%s", given);
	else
		n = snprintf(out, len, "%s/%s", cfg->socket_dir, given);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Check a port spec, build the dataplane's parameters and add the port to the dataplane. */
static int port_apply(struct riov_service *svc, const Riov__V1__PortSpec *ps, char *err, size_t errlen)
{
	const char *name = str_or_empty(ps->name);
	char path[PATH_MAX];
	int rc;

	struct riov_dp_port_params pp = {
		.name = name,
		.net = str_or_empty(ps->net),
		.queues = (uint16_t)(ps->queues ? ps->queues : 1),
		.client = ps->client,
		.devargs = str_or_empty(ps->devargs),
	};
	switch (ps->type) {
	case RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST: pp.type = RIOV_DP_PORT_VHOST; break;
	case RIOV__V1__PORT_TYPE__PORT_TYPE_ETH: pp.type = RIOV_DP_PORT_ETH; break;
	case RIOV__V1__PORT_TYPE__PORT_TYPE_UNSPECIFIED:
		snprintf(err, errlen, "port %s: give a port type (vhost or eth)", name);
		return -EINVAL;
	case RIOV__V1__PORT_TYPE__PORT_TYPE_VXLAN:
	case RIOV__V1__PORT_TYPE__PORT_TYPE_RDMA:
	case RIOV__V1__PORT_TYPE__PORT_TYPE_VF:
		snprintf(err, errlen, "port %s: port type %s is not implemented yet (use vhost or eth)", name,
			 ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_VXLAN ? "vxlan" :
			 ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_RDMA ? "rdma" : "vf");
		return -EOPNOTSUPP;
	default:
		snprintf(err, errlen, "port %s: unknown port type %d (use vhost or eth)", name, (int)ps->type);
		return -EINVAL;
	}
	if (port_index(svc, name) >= 0) {
		snprintf(err, errlen, "port %s already exists", name);
		return -EEXIST;
	}
	if (own_device(svc, name, NULL) >= 0) {
		snprintf(err, errlen, "%s is the name of a device attached to domain %u: choose another "
			 "port name", name, svc->doms[own_device(svc, name, NULL)]->domain_id);
		return -EEXIST;
	}
	if (asg_index(svc, name) >= 0) {
		snprintf(err, errlen, "%s is the name of an assigned device (riovctl device list): choose "
			 "another port name", name);
		return -EEXIST;
	}
	if (pp.net[0] == '\0') {
		snprintf(err, errlen, "port %s: name the network it joins (--net NET)", name);
		return -EINVAL;
	}
	if (ps->queues > UINT16_MAX) {
		snprintf(err, errlen, "port %s: %u queues is too many", name, ps->queues);
		return -EINVAL;
	}
	if (ps->mac != NULL && ps->mac[0] != '\0') {
		snprintf(err, errlen, "port %s: a fixed MAC is not supported yet (the guest chooses its "
			 "MAC); leave --mac out", name);
		return -EOPNOTSUPP;
	}
	if (ps->mtu != 0 && ps->mtu != 1500) {
		snprintf(err, errlen, "port %s: MTU %u is not supported yet (only 1500); leave it out",
			 name, ps->mtu);
		return -EINVAL;
	}
	for (size_t i = 0; i < ps->n_features_off; i++) {
		size_t k;
		for (k = 0; k < N_FEATURES; k++)
			if (strcmp(str_or_empty(ps->features_off[i]), feature_names[k].name) == 0)
				break;
		if (k == N_FEATURES) {
			snprintf(err, errlen, "port %s: unknown virtio feature '%.64s' (features_off takes "
				 "mrg_rxbuf, in_order, event_idx, indirect)", name,
				 str_or_empty(ps->features_off[i]));
			return -EINVAL;
		}
		if (pp.type != RIOV_DP_PORT_VHOST) {
			snprintf(err, errlen, "port %s: features_off is for vhost ports", name);
			return -EINVAL;
		}
		pp.features_off |= 1ull << feature_names[k].bit;
	}
	if (pp.type == RIOV_DP_PORT_VHOST) {
		const char *given = str_or_empty(ps->socket_path);
		if (given[0] == '\0') {
			snprintf(err, errlen, "vhost port %s needs a socket path (--socket PATH)", name);
			return -EINVAL;
		}
		if (socket_path(svc->cfg, given, path, sizeof(path)) != 0) {
			snprintf(err, errlen, "vhost port %s: socket path too long", name);
			return -ENAMETOOLONG;
		}
		pp.socket = path;
	} else if (ps->socket_path != NULL && ps->socket_path[0] != '\0') {
		snprintf(err, errlen, "eth port %s takes devargs, not a socket path", name);
		return -EINVAL;
	}
	struct svc_assign *x = NULL;
	if (ps->assign || ps->domain_id != 0) {
		/* the function's DMA goes through a riov domain: set it up before DPDK probes it */
		char pci[32];
		size_t n = strcspn(pp.devargs, ",");
		if (pp.type != RIOV_DP_PORT_ETH || !ps->assign) {
			snprintf(err, errlen, "port %s: domain_id is for eth ports with assign", name);
			return -EINVAL;
		}
		if (n >= sizeof(pci)) {
			snprintf(err, errlen, "eth port %s: assign needs devargs that name a PCI function "
				 "(DDDD:BB:DD.F), not '%.60s'", name, pp.devargs);
			return -EINVAL;
		}
		memcpy(pci, pp.devargs, n);
		pci[n] = '\0';
		if ((rc = port_assign_begin(svc, ps, pci, &x, err, errlen)) != 0)
			return rc;
	}
	rc = riov_dp_port_add(svc->dp, &pp, err, errlen);
	if (rc != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "port %s: %s", name, strerror(-rc));
		/* errno values from DPDK and the socket layer, as the RPC status a person expects */
		if (rc == -EADDRINUSE)
			rc = -EBUSY;          /* the socket path is served by someone else */
		else if (rc == -EFAULT)
			rc = -EINVAL;         /* rte_dev_probe() refusing the devargs */
		if (x != NULL)
			asg_free(svc, x);
		return rc;
	}
	if (x != NULL && (rc = asg_route_msix(svc, x, err, errlen)) != 0) {
		riov_dp_port_del(svc->dp, name);
		asg_free(svc, x);
		return rc;
	}
	if (pp.type == RIOV_DP_PORT_VHOST)
		riov_log(RIOV_LOG_NOTICE, COMP, "port %s: vhost-user %s %s", name,
			 pp.client ? "client of" : "server at", path);
	else
		riov_log(RIOV_LOG_NOTICE, COMP, "port %s: eth %s%s", name, pp.devargs,
			 x ? " (assigned through riov's VT-d model)" : "");
	return 0;
}

/* Delete a port from the dataplane, then release its function's assignment (if any): the
 * device stops before its domain goes. */
static void port_remove(struct riov_service *svc, const char *name)
{
	int rc = riov_dp_port_del(svc->dp, name);
	int k = asg_index(svc, name);

	if (rc != 0)
		riov_log(RIOV_LOG_ERR, COMP, "port %s: the dataplane refused to delete it: %s", name,
			 strerror(-rc));
	if (k >= 0 && svc->asg[k]->spec == NULL)
		asg_free(svc, svc->asg[k]);
}

/* Add a port to the dataplane and the desired state (not saved). */
static int port_add(struct riov_service *svc, const Riov__V1__PortSpec *in, char *err, size_t errlen)
{
	int rc = port_apply(svc, in, err, errlen);
	if (rc != 0)
		return rc;
	Riov__V1__PortSpec *spec = msg_dup(&in->base);
	if (spec == NULL) {
		port_remove(svc, in->name);
		snprintf(err, errlen, "port %s: out of memory", in->name);
		return -ENOMEM;
	}
	if (spec->queues == 0)
		spec->queues = 1;
	int k = asg_index(svc, spec->name);
	if (k >= 0 && svc->asg[k]->a != NULL) {
		struct riov_assign_info ai;
		riov_assign_get_info(svc->asg[k]->a, &ai);
		spec->domain_id = ai.did; /* kept: the same domain after a restart */
	}
	svc->ports[svc->n_ports++] = spec;
	return 0;
}

static void remove_at(void **arr, unsigned *n, unsigned i)
{
	memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof(arr[0]));
	(*n)--;
}

static void insert_at(void **arr, unsigned *n, unsigned i, void *v)
{
	memmove(&arr[i + 1], &arr[i], (*n - i) * sizeof(arr[0]));
	arr[i] = v;
	(*n)++;
}

/* ------------------------------------------------------------------ domains and interrupts set over the API
 *
 * Besides the vhost ports' own domains (built by the dataplane from each guest's memory table),
 * the node's VT-d unit holds domains created with Domain.Create, their mappings (Domain.Map/
 * Unmap), the source-ids attached to them (Domain.Attach) and interrupt-remapping entries for
 * those devices (Interrupt.*). They are desired state: kept as DomainSpec/InterruptSetting in the
 * state file and replayed at start. The dataplane owns domain ids 1..RIOV_DP_MAX_PORTS and
 * 0x8000.., source-ids 0xfc00.. (buses 0xfc-0xff) and IRTEs 0..RIOV_DP_MAX_PORTS * RIOV_VHOST_MAX_VRINGS - 1;
 * the API never touches those. Targets of these mappings are only ever handed back (Show, probe):
 * no riov device reads or writes through them, and a vhost port's source-id can never be
 * pointed at them, so an admin cannot make riovd's dataplane touch arbitrary memory. */

#define OWN_DID_FIRST 0x1000u            /* allocated by Domain.Create with domain_id 0 */
#define OWN_DID_LAST 0x7fffu
#define DP_DID_LAST RIOV_DP_MAX_PORTS     /* dataplane: vhost port n has did 1 + n */
#define DP_S1_DID_FIRST 0x8000u           /* dataplane: first-stage domains of vhost ports */
#define DP_SID_FIRST RIOV_DP_VHOST_SID_FIRST /* dataplane: vhost port n has source-id 0xfc00 + n */
#define DP_SID_LAST RIOV_DP_VHOST_SID_LAST
#define OWN_IRTE_FIRST ((uint32_t)RIOV_DP_MAX_PORTS * RIOV_VHOST_MAX_VRINGS)
#define OWN_IRTE_LAST 65535u
#define OWN_MAPPINGS_MAX 4096u           /* Domain.Map entries kept per domain */
#define OWN_TABLES_MAX 16384u            /* page-table pages a domain may hold (64 MiB) */
#define MSIX_VECTORS 2048u

static bool dp_owned_did(uint32_t did)
{
	return (did >= 1 && did <= DP_DID_LAST) || did >= DP_S1_DID_FIRST;
}

static int own_index(const struct riov_service *svc, uint32_t did)
{
	for (unsigned i = 0; i < svc->n_doms; i++)
		if (svc->doms[i]->domain_id == did)
			return (int)i;
	return -1;
}

/* The domain a device (an attachment's name) is attached to, or -1; *ai its attachment. */
static int own_device(const struct riov_service *svc, const char *name, size_t *ai)
{
	for (unsigned i = 0; i < svc->n_doms; i++)
		for (size_t k = 0; k < svc->doms[i]->n_devices; k++)
			if (strcmp(svc->doms[i]->devices[k]->device, name) == 0) {
				if (ai)
					*ai = k;
				return (int)i;
			}
	return -1;
}

static int own_sid(const struct riov_service *svc, uint32_t sid, size_t *ai)
{
	for (unsigned i = 0; i < svc->n_doms; i++)
		for (size_t k = 0; k < svc->doms[i]->n_devices; k++)
			if (svc->doms[i]->devices[k]->source_id == sid) {
				if (ai)
					*ai = k;
				return (int)i;
			}
	return -1;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= RIOV_DP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

/* Page-table pages a mapping may need at most (leaf tables of 4 KiB pages where iova and target
 * do not share 2 MiB alignment, directories where they do not share 1 GiB alignment). */
static uint64_t tables_needed(uint64_t iova, uint64_t target, uint64_t size)
{
	if (((iova ^ target) & ((1ull << 21) - 1)) != 0)
		return (size >> 21) + 8;
	if (((iova ^ target) & ((1ull << 30) - 1)) != 0)
		return (size >> 30) + 8;
	return (size >> 39) + 8;
}

/* Check mapping m against domain d and enter it into the unit and into d->mappings.
 * Returns 0 or -errno with err filled; on failure nothing changed. */
static int own_map(struct riov_service *svc, Riov__V1__DomainSpec *d, const Riov__V1__DomainMapping *m,
		   char *err, size_t errlen)
{
	const uint64_t page = 4096, aw_top = 1ull << d->address_width;
	unsigned perm = (m->read ? RIOV_VTD_READ : 0) | (m->write ? RIOV_VTD_WRITE : 0);
	struct riov_vtd_domain_info info;
	int rc;

	if (m->size == 0 || (m->iova | m->size | m->target) & (page - 1)) {
		snprintf(err, errlen, "domain %u: iova (0x%" PRIx64 ") and target (0x%" PRIx64 ") must be 4 KiB "
			 "aligned and the size (0x%" PRIx64 ") a non-zero multiple of 4 KiB", d->domain_id,
			 m->iova, m->target, m->size);
		return -EINVAL;
	}
	if (perm == 0) {
		snprintf(err, errlen, "domain %u: a mapping needs read and/or write permission", d->domain_id);
		return -EINVAL;
	}
	if (m->iova >= aw_top || m->size > aw_top - m->iova) {
		snprintf(err, errlen, "domain %u: [0x%" PRIx64 ", 0x%" PRIx64 ") is beyond its %u-bit address "
			 "width", d->domain_id, m->iova, m->iova + m->size, d->address_width);
		return -ERANGE;
	}
	if (m->target >= (1ull << 48) || m->size > (1ull << 48) - m->target) {
		snprintf(err, errlen, "domain %u: target [0x%" PRIx64 ", +0x%" PRIx64 ") is beyond the 48-bit "
			 "host address width", d->domain_id, m->target, m->size);
		return -ERANGE;
	}
	for (size_t i = 0; i < d->n_mappings; i++) {
		const Riov__V1__DomainMapping *o = d->mappings[i];
		if (m->iova < o->iova + o->size && o->iova < m->iova + m->size) {
			snprintf(err, errlen, "domain %u: [0x%" PRIx64 ", 0x%" PRIx64 ") overlaps the mapping "
				 "[0x%" PRIx64 ", 0x%" PRIx64 "): unmap it first", d->domain_id, m->iova,
				 m->iova + m->size, o->iova, o->iova + o->size);
			return -EEXIST;
		}
	}
	if (d->n_mappings >= OWN_MAPPINGS_MAX) {
		snprintf(err, errlen, "domain %u has %u mappings, the most riovd keeps per domain",
			 d->domain_id, OWN_MAPPINGS_MAX);
		return -ENOSPC;
	}
	if (riov_vtd_domain_info(svc->vtd, (uint16_t)d->domain_id, &info) != 0)
		info.table_pages = 0;
	if (info.table_pages + tables_needed(m->iova, m->target, m->size) > OWN_TABLES_MAX) {
		snprintf(err, errlen, "domain %u: mapping 0x%" PRIx64 " bytes at this alignment would need more "
			 "than %u page-table pages; align iova and target alike to 2 MiB or 1 GiB, or map less",
			 d->domain_id, m->size, OWN_TABLES_MAX);
		return -E2BIG;
	}
	Riov__V1__DomainMapping **v = realloc(d->mappings, (d->n_mappings + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	d->mappings = v;
	Riov__V1__DomainMapping *copy = malloc(sizeof(*copy));
	if (copy == NULL)
		return -ENOMEM;
	riov__v1__domain_mapping__init(copy);
	copy->iova = m->iova;
	copy->size = m->size;
	copy->target = m->target;
	copy->read = m->read;
	copy->write = m->write;
	rc = riov_vtd_map(svc->vtd, (uint16_t)d->domain_id, m->iova, m->target, m->size, perm);
	if (rc != 0) {
		free(copy);
		if (rc == -EEXIST)
			snprintf(err, errlen, "domain %u: part of [0x%" PRIx64 ", 0x%" PRIx64 ") is mapped already",
				 d->domain_id, m->iova, m->iova + m->size);
		else if (rc == -ENOMEM)
			snprintf(err, errlen, "domain %u: out of memory for page tables", d->domain_id);
		else
			snprintf(err, errlen, "domain %u: the remapping unit refused the mapping: %s",
				 d->domain_id, strerror(-rc));
		return rc;
	}
	/* CM=1 unit: a walk that found nothing may be cached; drop it (VT-d 6.1) */
	riov_vtd_inv_iotlb_domain(svc->vtd, (uint16_t)d->domain_id);
	d->mappings[d->n_mappings++] = copy;
	return 0;
}

/* Attach at to domain d: context entry of its source-id -> d. Returns 0 or -errno with err. */
static int own_attach(struct riov_service *svc, Riov__V1__DomainSpec *d, const Riov__V1__DomainAttachment *at,
		      char *err, size_t errlen)
{
	const char *name = str_or_empty(at->device);
	size_t ai;
	int k, rc;

	if (!valid_name(name)) {
		snprintf(err, errlen, "bad device name '%.80s': use 1-%d letters, digits, '-', '_' or '.'", name,
			 RIOV_DP_NAME_MAX - 1);
		return -EINVAL;
	}
	if (port_index(svc, name) >= 0) {
		snprintf(err, errlen, "port %s is attached to its own domain by riovd (built from its guest's "
			 "memory table); it cannot be attached to domain %u", name, d->domain_id);
		return -EBUSY;
	}
	if (at->source_id > UINT16_MAX) {
		snprintf(err, errlen, "source-id 0x%x is not a PCI requester id (bus << 8 | devfn, at most "
			 "0xffff)", at->source_id);
		return -EINVAL;
	}
	if (at->source_id >= DP_SID_FIRST && at->source_id <= DP_SID_LAST) {
		snprintf(err, errlen, "source-ids 0x%x-0x%x (buses 0xfc-0xff) belong to vhost ports' devices; give "
			 "another --source-id", DP_SID_FIRST, DP_SID_LAST);
		return -EBUSY;
	}
	if ((k = own_device(svc, name, &ai)) >= 0) {
		snprintf(err, errlen, "device %s is attached to domain %u already (source-id 0x%x)", name,
			 svc->doms[k]->domain_id, svc->doms[k]->devices[ai]->source_id);
		return k == own_index(svc, d->domain_id) ? -EEXIST : -EBUSY;
	}
	if ((k = own_sid(svc, at->source_id, &ai)) >= 0) {
		snprintf(err, errlen, "source-id 0x%x is device %s's, attached to domain %u", at->source_id,
			 svc->doms[k]->devices[ai]->device, svc->doms[k]->domain_id);
		return -EBUSY;
	}
	const char *who = NULL;
	if (asg_sid_used(svc, at->source_id, &who) || asg_index(svc, name) >= 0) {
		snprintf(err, errlen, "%s is an assigned PCI function (%s) with its own domain: riovd "
			 "manages its context entry", asg_index(svc, name) >= 0 ? name : "that source-id",
			 who ? who : name);
		return -EBUSY;
	}
	Riov__V1__DomainAttachment **v = realloc(d->devices, (d->n_devices + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	d->devices = v;
	Riov__V1__DomainAttachment *copy = malloc(sizeof(*copy));
	char *dn = strdup(name);
	if (copy == NULL || dn == NULL) {
		free(copy);
		free(dn);
		return -ENOMEM;
	}
	riov__v1__domain_attachment__init(copy);
	copy->device = dn;
	copy->source_id = at->source_id;
	rc = riov_vtd_context_set(svc->vtd, (uint16_t)at->source_id, (uint16_t)d->domain_id,
				  RIOV_VTD_TT_MULTI_LEVEL, false);
	if (rc != 0) {
		free(dn);
		free(copy);
		snprintf(err, errlen, "domain %u: the remapping unit refused the context entry: %s",
			 d->domain_id, strerror(-rc));
		return rc;
	}
	riov_vtd_inv_context_device(svc->vtd, (uint16_t)at->source_id);
	d->devices[d->n_devices++] = copy;
	return 0;
}

/* Remove domain index i from the unit and the desired state (contexts cleared first). */
static void own_remove(struct riov_service *svc, unsigned i)
{
	Riov__V1__DomainSpec *d = svc->doms[i];

	for (size_t k = 0; k < d->n_devices; k++) {
		riov_vtd_context_clear(svc->vtd, (uint16_t)d->devices[k]->source_id);
		riov_vtd_inv_context_device(svc->vtd, (uint16_t)d->devices[k]->source_id);
	}
	riov_vtd_inv_iotlb_domain(svc->vtd, (uint16_t)d->domain_id);
	riov_vtd_domain_destroy(svc->vtd, (uint16_t)d->domain_id);
	remove_at((void **)svc->doms, &svc->n_doms, i);
	riov__v1__domain_spec__free_unpacked(d, NULL);
}

/* Create a domain from a spec (its mappings and devices too) in the unit and the desired state
 * (not saved). domain_id 0 allocates one. Returns 0 with *did, or -errno with err; on failure
 * nothing changed. */
static int own_create(struct riov_service *svc, const Riov__V1__DomainSpec *in, uint32_t *did, char *err,
		      size_t errlen)
{
	const char *name = str_or_empty(in->name);
	uint32_t id = in->domain_id, aw = in->address_width ? in->address_width : 48;
	int rc;

	if (in->nested) {
		snprintf(err, errlen, "nested domains are built by riovd for vhost ports whose guest runs a "
			 "vIOMMU; Domain.Create makes second-stage domains only (leave --nested out)");
		return -EOPNOTSUPP;
	}
	if (aw != 39 && aw != 48) {
		snprintf(err, errlen, "address width %u is not supported by this node's remapping unit "
			 "(39 or 48 bits)", aw);
		return -EINVAL;
	}
	if (name[0] && !valid_name(name)) {
		snprintf(err, errlen, "bad domain name '%.80s': use 1-%d letters, digits, '-', '_' or '.'", name,
			 RIOV_DP_NAME_MAX - 1);
		return -EINVAL;
	}
	for (unsigned i = 0; name[0] && i < svc->n_doms; i++)
		if (strcmp(str_or_empty(svc->doms[i]->name), name) == 0) {
			snprintf(err, errlen, "domain %u is named %s already", svc->doms[i]->domain_id, name);
			return -EEXIST;
		}
	if (svc->n_doms >= OWN_DOMAINS_MAX) {
		snprintf(err, errlen, "too many domains (at most %u created over the API)", OWN_DOMAINS_MAX);
		return -ENOSPC;
	}
	if (id == 0) {
		for (id = OWN_DID_FIRST; id <= OWN_DID_LAST; id++) {
			struct riov_vtd_domain_info x;
			if (own_index(svc, id) < 0 && !asg_did_used(svc, id) &&
			    riov_vtd_domain_info(svc->vtd, (uint16_t)id, &x) != 0)
				break;
		}
	} else if (id > UINT16_MAX) {
		snprintf(err, errlen, "domain id %u is out of range (1-65535; 0 allocates one)", id);
		return -EINVAL;
	} else if (dp_owned_did(id)) {
		snprintf(err, errlen, "domain ids 1-%u and 0x%x-0xffff belong to vhost ports' DMA domains "
			 "(riovd builds them from each guest's memory table); use %u-%u, or 0 to have one "
			 "allocated", DP_DID_LAST, DP_S1_DID_FIRST, DP_DID_LAST + 1, DP_S1_DID_FIRST - 1);
		return -EBUSY;
	} else if (asg_did_used(svc, id)) {
		snprintf(err, errlen, "domain %u belongs to an assigned PCI function (riovctl device list)", id);
		return -EBUSY;
	}
	rc = riov_vtd_domain_create(svc->vtd, (uint16_t)id, (aw - 12) / 9);
	if (rc == -EEXIST) {
		snprintf(err, errlen, "domain %u already exists", id);
		return rc;
	}
	if (rc != 0) {
		snprintf(err, errlen, "domain %u: the remapping unit refused it: %s", id, strerror(-rc));
		return rc;
	}
	Riov__V1__DomainSpec *d = malloc(sizeof(*d));
	char *dn = strdup(name);
	if (d == NULL || dn == NULL) {
		free(d);
		free(dn);
		riov_vtd_domain_destroy(svc->vtd, (uint16_t)id);
		snprintf(err, errlen, "domain %u: out of memory", id);
		return -ENOMEM;
	}
	riov__v1__domain_spec__init(d);
	d->domain_id = id;
	d->name = dn;
	d->address_width = aw;
	svc->doms[svc->n_doms++] = d;
	for (size_t i = 0; i < in->n_mappings; i++)
		if ((rc = own_map(svc, d, in->mappings[i], err, errlen)) != 0)
			goto undo;
	for (size_t i = 0; i < in->n_devices; i++)
		if ((rc = own_attach(svc, d, in->devices[i], err, errlen)) != 0)
			goto undo;
	*did = id;
	return 0;
undo:
	own_remove(svc, svc->n_doms - 1);
	return rc;
}

/* ---- interrupts */

static int irq_index(const struct riov_service *svc, const char *device, uint32_t vector)
{
	for (unsigned i = 0; i < svc->n_irqs; i++)
		if (svc->irqs[i]->vector == vector && strcmp(svc->irqs[i]->device, device) == 0)
			return (int)i;
	return -1;
}

/* The source-id of an interrupt's device. Returns 0, -EBUSY (a vhost port) or -ENOENT, err set. */
static int irq_device(const struct riov_service *svc, const char *device, uint16_t *sid, char *err,
		      size_t errlen)
{
	size_t ai;
	int k;

	if (device[0] && port_index(svc, device) >= 0) {
		snprintf(err, errlen, "port %s's interrupt-remapping entries are programmed by riovd from its "
			 "guest's vrings; Interrupt.* manage devices attached with Domain.Attach", device);
		return -EBUSY;
	}
	if (device[0] && asg_index(svc, device) >= 0) {
		snprintf(err, errlen, "%s is an assigned PCI function: riovd routes all its MSI-X vectors "
			 "through its own interrupt-remapping entries (riovctl device list shows them)", device);
		return -EBUSY;
	}
	k = own_device(svc, device, &ai);
	if (k < 0) {
		snprintf(err, errlen, "device %s is not attached to any domain (riovctl domain attach %s --id N "
			 "--source-id BDF)", device[0] ? device : "(no name given)", device[0] ? device : "DEV");
		return -ENOENT;
	}
	*sid = (uint16_t)svc->doms[k]->devices[ai]->source_id;
	return 0;
}

/* Program setting s into the unit: a remapped-format IRTE with source validation on the device's
 * source-id, or no entry while masked. */
static int irq_program(struct riov_service *svc, const Riov__V1__InterruptSetting *s, uint16_t sid)
{
	if (s->masked)
		return riov_vtd_irte_clear(svc->vtd, s->irte_index);
	struct riov_vtd_irte e = {
		.present = true,
		.vector = (uint8_t)s->guest_vector,
		.dest_id = s->dest_id,
		.svt = 1,
		.sid = sid,
		.eventfd = -1,
		.coalesce_count = s->coalesce_frames,
		.coalesce_usecs = s->coalesce_usecs,
	};
	return riov_vtd_irte_set(svc->vtd, s->irte_index, &e);
}

/* Check and program setting in (replacing the device's setting for that vector) and keep it in
 * the desired state. *old gets the replaced setting (the caller frees or restores it) or NULL.
 * Returns 0 or -errno with err; on failure nothing changed. */
static int irq_set(struct riov_service *svc, const Riov__V1__InterruptSetting *in,
		   Riov__V1__InterruptSetting **old, char *err, size_t errlen)
{
	const char *device = str_or_empty(in->device);
	uint16_t sid;
	int rc, cur;

	*old = NULL;
	if ((rc = irq_device(svc, device, &sid, err, errlen)) != 0)
		return rc;
	if (in->vector >= MSIX_VECTORS) {
		snprintf(err, errlen, "vector %u is out of range (an MSI-X table has at most %u entries)",
			 in->vector, MSIX_VECTORS);
		return -EINVAL;
	}
	if (in->posted) {
		snprintf(err, errlen, "posted interrupts need a posted-interrupt descriptor of a guest riovd "
			 "runs; Interrupt.Set programs remapped-format entries only (leave --posted out)");
		return -EOPNOTSUPP;
	}
	if (in->guest_vector < 16 || in->guest_vector > 255) {
		snprintf(err, errlen, "guest vector %u is not usable: give --guest-vector 16-255", in->guest_vector);
		return -EINVAL;
	}
	cur = irq_index(svc, device, in->vector);
	uint32_t idx = in->irte_index;
	if (idx == 0 && cur >= 0) {
		idx = svc->irqs[cur]->irte_index;
	} else if (idx == 0) {
		for (idx = OWN_IRTE_FIRST; idx <= OWN_IRTE_LAST; idx++) {
			unsigned i;
			for (i = 0; i < svc->n_irqs && svc->irqs[i]->irte_index != idx; i++)
				;
			if (i == svc->n_irqs && !asg_irte_used(svc, idx))
				break;
		}
		if (idx > OWN_IRTE_LAST) {
			snprintf(err, errlen, "no free interrupt-remapping entry (%u-%u are all in use)",
				 OWN_IRTE_FIRST, OWN_IRTE_LAST);
			return -ENOSPC;
		}
	} else if (idx < OWN_IRTE_FIRST || idx > OWN_IRTE_LAST) {
		snprintf(err, errlen, "interrupt-remapping entries 0-%u belong to vhost ports' vrings; give "
			 "--irte %u-%u, or leave it out to have one allocated", OWN_IRTE_FIRST - 1,
			 OWN_IRTE_FIRST, OWN_IRTE_LAST);
		return -EBUSY;
	}
	for (unsigned i = 0; i < svc->n_irqs; i++)
		if ((int)i != cur && svc->irqs[i]->irte_index == idx) {
			snprintf(err, errlen, "interrupt-remapping entry %u is used by device %s vector %u", idx,
				 svc->irqs[i]->device, svc->irqs[i]->vector);
			return -EBUSY;
		}
	if (asg_irte_used(svc, idx)) {
		snprintf(err, errlen, "interrupt-remapping entry %u routes an assigned function's MSI-X "
			 "vector (riovctl device list)", idx);
		return -EBUSY;
	}
	if (cur < 0 && svc->n_irqs >= OWN_IRQS_MAX) {
		snprintf(err, errlen, "too many interrupt settings (at most %u)", OWN_IRQS_MAX);
		return -ENOSPC;
	}
	Riov__V1__InterruptSetting *s = msg_dup(&in->base);
	if (s == NULL)
		return -ENOMEM;
	s->irte_index = idx;
	s->raised = s->suppressed = 0;
	if ((rc = irq_program(svc, s, sid)) != 0) {
		snprintf(err, errlen, "the remapping unit refused entry %u: %s", idx, strerror(-rc));
		riov__v1__interrupt_setting__free_unpacked(s, NULL);
		return rc;
	}
	if (cur >= 0) {
		*old = svc->irqs[cur];
		if ((*old)->irte_index != idx)
			riov_vtd_irte_clear(svc->vtd, (*old)->irte_index);
		svc->irqs[cur] = s;
	} else {
		svc->irqs[svc->n_irqs++] = s;
	}
	return 0;
}

/* ------------------------------------------------------------------ assigned PCI functions
 *
 * A function is assigned through riov's VT-d model (vmm/assign.h) either for riovd's own eth port
 * (PortSpec.assign: DPDK's PMD drives it, its domain holds riovd's packet memory) or for a guest
 * (Device.Assign: riovd holds the VFIO device; its domain is empty until guest memory is mapped).
 * Domain ids come from the same range as Domain.Create's (0x1000-0x7fff), IRTEs from
 * Interrupt.Set's (32768-65535), each checked against the other users. */

static int asg_index(const struct riov_service *svc, const char *name)
{
	for (unsigned i = 0; i < svc->n_asg; i++)
		if (strcmp(svc->asg[i]->name, name) == 0)
			return (int)i;
	return -1;
}

/* A domain id an assignment holds or will hold (its desired id), whether assigned now or not. */
static bool asg_did_used(const struct riov_service *svc, uint32_t did)
{
	for (unsigned i = 0; i < svc->n_asg; i++) {
		const struct svc_assign *x = svc->asg[i];
		struct riov_assign_info ai;
		if (x->spec != NULL && x->spec->domain_id == did)
			return true;
		if (x->a != NULL) {
			riov_assign_get_info(x->a, &ai);
			if (ai.did == did)
				return true;
		}
	}
	for (unsigned i = 0; i < svc->n_ports; i++)
		if (svc->ports[i]->assign && svc->ports[i]->domain_id == did)
			return true;
	return false;
}

static bool asg_irte_used(const struct riov_service *svc, uint32_t idx)
{
	for (unsigned i = 0; i < svc->n_asg; i++) {
		uint32_t irte;
		uint64_t raised;
		for (unsigned v = 0; svc->asg[i]->a != NULL &&
				     riov_assign_vector(svc->asg[i]->a, v, &irte, &raised) == 0; v++)
			if (irte == idx)
				return true;
	}
	return false;
}

static bool asg_sid_used(const struct riov_service *svc, uint32_t sid, const char **who)
{
	for (unsigned i = 0; i < svc->n_asg; i++) {
		struct riov_assign_info ai;
		if (svc->asg[i]->a == NULL)
			continue;
		riov_assign_get_info(svc->asg[i]->a, &ai);
		if (ai.sid == sid) {
			if (who)
				*who = svc->asg[i]->name;
			return true;
		}
	}
	return false;
}

static struct svc_assign *asg_by_sid(const struct riov_service *svc, uint16_t sid)
{
	for (unsigned i = 0; i < svc->n_asg; i++) {
		struct riov_assign_info ai;
		if (svc->asg[i]->a == NULL)
			continue;
		riov_assign_get_info(svc->asg[i]->a, &ai);
		if (ai.sid == sid)
			return svc->asg[i];
	}
	return NULL;
}

/* The assignment a Domain request names by domain id, or NULL. */
static struct svc_assign *asg_by_did(const struct riov_service *svc, uint32_t did)
{
	for (unsigned i = 0; i < svc->n_asg; i++) {
		struct riov_assign_info ai;
		if (svc->asg[i]->a == NULL)
			continue;
		riov_assign_get_info(svc->asg[i]->a, &ai);
		if (ai.did == did)
			return svc->asg[i];
	}
	return NULL;
}

/* Pick domain id `want` (checked) or allocate one. Returns 0 or -errno with err. */
static int asg_did(const struct riov_service *svc, uint32_t want, const char *name, uint16_t *did,
		   char *err, size_t errlen)
{
	struct riov_vtd_domain_info x;

	if (want != 0) {
		if (want < OWN_DID_FIRST || want > OWN_DID_LAST) {
			snprintf(err, errlen, "%s: domain id %u is out of range: assigned functions take ids "
				 "%u-%u (0 allocates one)", name, want, OWN_DID_FIRST, OWN_DID_LAST);
			return -EINVAL;
		}
		if (own_index(svc, want) >= 0 || riov_vtd_domain_info(svc->vtd, (uint16_t)want, &x) == 0) {
			snprintf(err, errlen, "%s: domain %u exists already", name, want);
			return -EBUSY;
		}
		*did = (uint16_t)want;
		return 0;
	}
	for (uint32_t id = OWN_DID_FIRST; id <= OWN_DID_LAST; id++)
		if (own_index(svc, id) < 0 && !asg_did_used(svc, id) &&
		    riov_vtd_domain_info(svc->vtd, (uint16_t)id, &x) != 0) {
			*did = (uint16_t)id;
			return 0;
		}
	snprintf(err, errlen, "%s: no free domain id (%u-%u are all in use)", name, OWN_DID_FIRST,
		 OWN_DID_LAST);
	return -ENOSPC;
}

/* DMAR fault lines of the kernel log: record those of assigned functions in riov's fault log. */
static void on_dmar(void *arg, const struct riov_dmar_fault *f)
{
	struct riov_service *svc = arg;
	struct svc_assign *x = asg_by_sid(svc, f->sid);

	if (x == NULL)
		return; /* not a function riovd assigned */
	int reason = riov_assign_fault(x->a, f);
	RIOV_LOG_RL(RIOV_LOG_WARN, COMP, "%s: the IOMMU reported a DMA%s fault at 0x%" PRIx64 " (reason "
		    "0x%02x)%s", x->name, f->is_ir ? " interrupt" : f->is_write ? " write" : " read", f->addr,
		    f->reason, reason > 0 ? ": recorded in riov's fault log" : "");
}

static void kmsg_want(struct riov_service *svc)
{
	if (svc->kmsg != NULL || svc->kmsg_failed)
		return;
	int rc = riov_kmsg_open(svc->base, on_dmar, svc, &svc->kmsg);
	if (rc != 0) {
		svc->kmsg_failed = true; /* said once; assignments work, their faults go unrecorded */
		riov_log(RIOV_LOG_ERR, COMP, "cannot follow /dev/kmsg (%s): DMAR faults of assigned "
			 "functions will not reach riov's fault log", strerror(-rc));
	}
}

/* VFIO container and group of a function DPDK's PMD will drive: DPDK's container API, so the
 * PMD finds the group open (a group can be opened once) in a container riov set up. */
static int dpdk_container_open(void *arg)
{
	int fd = rte_vfio_container_create();
	return fd < 0 ? -EIO : fd;
}

static int dpdk_group_open(void *arg, int container_fd, int group)
{
	int fd = rte_vfio_container_group_bind(container_fd, group);
	return fd < 0 ? -EBUSY : fd;
}

static void dpdk_group_close(void *arg, int container_fd, int group, int group_fd)
{
	/* nothing: DPDK closes the group when the PMD releases the device, and
	 * rte_vfio_container_destroy() unbinds whatever is left */
}

static void dpdk_container_close(void *arg, int container_fd)
{
	rte_vfio_container_destroy(container_fd);
}

static const struct riov_assign_vfio_ops dpdk_vfio_ops = {
	.container_open = dpdk_container_open,
	.group_open = dpdk_group_open,
	.group_close = dpdk_group_close,
	.container_close = dpdk_container_close,
};

struct memseg_acc {
	struct riov_vtd_range *r;
	size_t n, cap;
	bool nomem;
};

static int memseg_one(const struct rte_memseg_list *msl, const struct rte_memseg *ms, size_t len,
		      void *arg)
{
	struct memseg_acc *m = arg;

	if (msl->external || ms->iova == RTE_BAD_IOVA || len == 0)
		return 0;
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 8;
		struct riov_vtd_range *nr = realloc(m->r, nc * sizeof(*nr));
		if (nr == NULL) {
			m->nomem = true;
			return 1;
		}
		m->r = nr;
		m->cap = nc;
	}
	m->r[m->n++] = (struct riov_vtd_range){ .iova = ms->iova, .hva = (uint64_t)(uintptr_t)ms->addr,
						.len = len, .perm = RIOV_VTD_READ | RIOV_VTD_WRITE };
	return 0;
}

static void asg_add(struct riov_service *svc, struct svc_assign *x)
{
	svc->asg[svc->n_asg++] = x;
}

/* Remove x from the list, release its function, free it. */
static void asg_free(struct riov_service *svc, struct svc_assign *x)
{
	for (unsigned i = 0; i < svc->n_asg; i++)
		if (svc->asg[i] == x) {
			remove_at((void **)svc->asg, &svc->n_asg, i);
			break;
		}
	riov_assign_destroy(x->a);
	free(x->mem);
	if (x->spec != NULL)
		riov__v1__device_spec__free_unpacked(x->spec, NULL);
	free(x);
}

/* Route every MSI-X vector of x's function through free IRTEs. */
static int asg_route_msix(struct riov_service *svc, struct svc_assign *x, char *err, size_t errlen)
{
	int n = riov_assign_msix_count(x->a);
	uint32_t *irte;
	unsigned k = 0;

	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read its MSI-X vectors: %s", x->name, strerror(-n));
		return n;
	}
	if (n == 0)
		return 0; /* no MSI-X: nothing to route */
	irte = calloc((size_t)n, sizeof(*irte));
	if (irte == NULL)
		return -ENOMEM;
	for (uint32_t idx = OWN_IRTE_FIRST; idx <= OWN_IRTE_LAST && k < (unsigned)n; idx++) {
		bool used = asg_irte_used(svc, idx);
		for (unsigned i = 0; i < svc->n_irqs && !used; i++)
			used = svc->irqs[i]->irte_index == idx;
		if (!used)
			irte[k++] = idx;
	}
	int rc = k < (unsigned)n ? -ENOSPC : riov_assign_route_msix(x->a, irte, k, err, errlen);
	if (k < (unsigned)n)
		snprintf(err, errlen, "%s: not enough free interrupt-remapping entries for its %d MSI-X "
			 "vectors", x->name, n);
	free(irte);
	return rc;
}

/* Assign the function pci of eth port ps before DPDK probes it: domain with riovd's packet
 * memory (IOVA as DPDK gives it, host address = riovd's virtual address), pushed to a VFIO
 * container DPDK will find. On success *out is in svc->asg. */
static int port_assign_begin(struct riov_service *svc, const Riov__V1__PortSpec *ps, const char *pci,
			     struct svc_assign **out, char *err, size_t errlen)
{
	const char *name = ps->name;
	struct memseg_acc m = { 0 };
	struct svc_assign *x;
	const char *who = NULL;
	uint16_t did;
	int rc;

	if (asg_index(svc, name) >= 0) {
		snprintf(err, errlen, "port %s: %s is the name of an assigned device: choose another port "
			 "name", name, name);
		return -EEXIST;
	}
	if (svc->n_asg >= ASSIGN_MAX) {
		snprintf(err, errlen, "too many assigned functions (at most %u)", ASSIGN_MAX);
		return -ENOSPC;
	}
	struct riov_pci_addr pa;
	if (riov_pci_parse(pci, &pa) != 0) {
		snprintf(err, errlen, "eth port %s: assign needs devargs that name a PCI function "
			 "(DDDD:BB:DD.F), not '%.40s'", name, pci);
		return -EINVAL;
	}
	uint16_t sid = riov_pci_sid(&pa);
	if (sid >= DP_SID_FIRST) {   /* up to DP_SID_LAST = 0xffff */
		snprintf(err, errlen, "eth port %s: %s's source-id 0x%04x is in 0x%x-0x%x, which riov's VT-d "
			 "unit gives to vhost ports' devices (buses 0xfc-0xff): it cannot be assigned through riov",
			 name, pci, sid, DP_SID_FIRST, DP_SID_LAST);
		return -EBUSY;
	}
	if (asg_sid_used(svc, sid, &who) || own_sid(svc, sid, NULL) >= 0) {
		snprintf(err, errlen, "eth port %s: %s is assigned already (%s)", name, pci,
			 who ? who : "attached to a domain made with Domain.Create");
		return -EBUSY;
	}
	if ((rc = asg_did(svc, ps->domain_id, name, &did, err, errlen)) != 0)
		return rc;
	rc = rte_memseg_contig_walk(memseg_one, &m);
	if (rc < 0 || m.nomem || m.n == 0) {
		free(m.r);
		snprintf(err, errlen, "eth port %s: cannot list riovd's packet memory", name);
		return -ENOMEM;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		free(m.r);
		return -ENOMEM;
	}
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->mem = m.r;
	x->n_mem = m.n;
	struct riov_assign_params ap = {
		.pci = pci, .vtd = svc->vtd, .did = did, .ops = &dpdk_vfio_ops,
		.open_device = false, .base = svc->base,
	};
	rc = riov_assign_create(&ap, &x->a, err, errlen);
	if (rc != 0) {
		free(x->mem);
		free(x);
		return rc;
	}
	asg_add(svc, x);
	uint64_t bytes = 0;
	for (size_t i = 0; i < m.n && rc == 0; i++) {
		rc = riov_assign_map(x->a, m.r[i].iova, m.r[i].hva, m.r[i].len, m.r[i].perm);
		bytes += m.r[i].len;
	}
	if (rc != 0) {
		snprintf(err, errlen, "eth port %s: mapping riovd's packet memory into domain %u: %s", name,
			 did, strerror(-rc));
		asg_free(svc, x);
		return rc;
	}
	kmsg_want(svc);
	riov_log(RIOV_LOG_NOTICE, COMP, "port %s: %s in riov domain %u (%zu range(s), %" PRIu64 " MiB of "
		 "packet memory pushed to its VFIO container)", name, pci, did, m.n, bytes >> 20);
	*out = x;
	return 0;
}

/* The PCI address of a device spec (pci, or pf + vf). */
static int dev_pci(const Riov__V1__DeviceSpec *d, char *pci, size_t len, char *err, size_t errlen)
{
	const char *given = str_or_empty(d->pci), *pf = str_or_empty(d->pf);
	struct riov_pci_addr a;

	if (given[0] && pf[0]) {
		snprintf(err, errlen, "device %s: give either pci or pf + vf, not both", d->name);
		return -EINVAL;
	}
	if (given[0]) {
		if (riov_pci_parse(given, &a) != 0) {
			snprintf(err, errlen, "device %s: '%.40s' is not a PCI address (DDDD:BB:DD.F)", d->name,
				 given);
			return -EINVAL;
		}
		riov_pci_format(&a, pci, len);
		return 0;
	}
	if (!pf[0]) {
		snprintf(err, errlen, "device %s: name the function (--pci DDDD:BB:DD.F, or --pf ADDR --vf N)",
			 d->name);
		return -EINVAL;
	}
	if (d->vf > 65535) {
		snprintf(err, errlen, "device %s: VF index %u is out of range", d->name, d->vf);
		return -EINVAL;
	}
	int rc = riov_sriov_vf(pf, d->vf, pci, len);
	if (rc == -EINVAL)
		snprintf(err, errlen, "device %s: '%.40s' is not a PCI address (DDDD:BB:DD.F)", d->name, pf);
	else if (rc != 0)
		snprintf(err, errlen, "device %s: %s has no VF %u (riovctl device vfs %s N)", d->name, pf,
			 d->vf, pf);
	return rc;
}

/* Assign a Device.Assign device (not saved): checks, VFIO with riov's domain, MSI-X routes.
 * On success the entry (owning a copy of the spec, with its domain id filled) is in svc->asg. */
static int dev_assign(struct riov_service *svc, const Riov__V1__DeviceSpec *in, char *err, size_t errlen)
{
	const char *name = str_or_empty(in->name), *who = NULL;
	char pci[32];
	struct riov_pci_addr pa;
	uint16_t did;
	int rc;

	if (!valid_name(name)) {
		snprintf(err, errlen, "bad device name '%.80s': use 1-%d letters, digits, '-', '_' or '.'", name,
			 RIOV_DP_NAME_MAX - 1);
		return -EINVAL;
	}
	if (asg_index(svc, name) >= 0 || port_index(svc, name) >= 0 || own_device(svc, name, NULL) >= 0) {
		snprintf(err, errlen, "%s is the name of a %s already", name,
			 asg_index(svc, name) >= 0 ? "device" : port_index(svc, name) >= 0 ? "port"
			 : "device attached to a domain");
		return -EEXIST;
	}
	if (svc->n_asg >= ASSIGN_MAX) {
		snprintf(err, errlen, "too many assigned functions (at most %u)", ASSIGN_MAX);
		return -ENOSPC;
	}
	if ((rc = dev_pci(in, pci, sizeof(pci), err, errlen)) != 0)
		return rc;
	riov_pci_parse(pci, &pa);
	uint16_t sid = riov_pci_sid(&pa);
	if (sid >= DP_SID_FIRST) {   /* up to DP_SID_LAST = 0xffff */
		snprintf(err, errlen, "device %s: %s's source-id 0x%04x is in 0x%x-0x%x, which riov's VT-d "
			 "unit gives to vhost ports' devices (buses 0xfc-0xff): it cannot be assigned through riov",
			 name, pci, sid, DP_SID_FIRST, DP_SID_LAST);
		return -EBUSY;
	}
	if (asg_sid_used(svc, sid, &who) || own_sid(svc, sid, NULL) >= 0) {
		snprintf(err, errlen, "device %s: %s is assigned already (%s)", name, pci,
			 who ? who : "attached to a domain made with Domain.Create");
		return -EBUSY;
	}
	if ((rc = asg_did(svc, in->domain_id, name, &did, err, errlen)) != 0)
		return rc;
	struct svc_assign *x = calloc(1, sizeof(*x));
	Riov__V1__DeviceSpec *spec = msg_dup(&in->base);
	if (x == NULL || spec == NULL) {
		free(x);
		if (spec)
			riov__v1__device_spec__free_unpacked(spec, NULL);
		snprintf(err, errlen, "device %s: out of memory", name);
		return -ENOMEM;
	}
	spec->domain_id = did;
	x->spec = spec;
	snprintf(x->name, sizeof(x->name), "%s", name);
	struct riov_assign_params ap = {
		.pci = pci, .vtd = svc->vtd, .did = did, .ops = NULL, .open_device = true,
		.base = svc->base,
	};
	rc = riov_assign_create(&ap, &x->a, err, errlen);
	if (rc != 0) {
		riov__v1__device_spec__free_unpacked(spec, NULL);
		free(x);
		return rc;
	}
	asg_add(svc, x);
	if ((rc = asg_route_msix(svc, x, err, errlen)) != 0) {
		asg_free(svc, x);
		return rc;
	}
	kmsg_want(svc);
	return 0;
}

/* ---- SR-IOV */

static int sriov_index(const struct riov_service *svc, const char *pf)
{
	struct riov_pci_addr a, b;

	if (riov_pci_parse(pf, &a) != 0)
		return -1;
	for (unsigned i = 0; i < svc->n_sriov; i++)
		if (riov_pci_parse(svc->sriov[i]->pf, &b) == 0 && memcmp(&a, &b, sizeof(a)) == 0)
			return (int)i;
	return -1;
}

/* Set pf's VF count (not saved). Refused while an assigned function is one of the VFs that
 * would go away. */
static int sriov_apply(struct riov_service *svc, const Riov__V1__SriovSpec *in, char *err, size_t errlen)
{
	struct riov_sriov_info si;
	const char *pf = str_or_empty(in->pf);
	int rc = riov_sriov_get(pf, &si, err, errlen);

	if (rc != 0)
		return rc;
	for (unsigned v = in->num_vfs; v < si.num_vfs; v++) {
		char vf[32];
		const char *who = NULL;
		struct riov_pci_addr a;
		if (riov_sriov_vf(pf, v, vf, sizeof(vf)) == 0 && riov_pci_parse(vf, &a) == 0 &&
		    (asg_sid_used(svc, riov_pci_sid(&a), &who))) {
			snprintf(err, errlen, "%s's VF %u (%s) is assigned (%s): release it first", pf, v, vf,
				 who);
			return -EBUSY;
		}
	}
	return riov_sriov_set(pf, in->num_vfs, err, errlen);
}

/* A config-file port as a PortSpec; names points at static strings, spec at cp's buffers. */
static void cfg_port_spec(const struct riov_cfg_port *cp, Riov__V1__PortSpec *ps, char **feat)
{
	riov__v1__port_spec__init(ps);
	ps->name = (char *)cp->name;
	ps->net = (char *)cp->net;
	ps->type = strcmp(cp->type, "eth") == 0 ? RIOV__V1__PORT_TYPE__PORT_TYPE_ETH
						 : RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST;
	ps->queues = cp->queues;
	ps->client = cp->client;
	if (ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST) {
		ps->socket_path = (char *)cp->socket;
		const bool on[N_FEATURES] = { cp->mrg_rxbuf, cp->in_order, cp->event_idx, cp->indirect };
		ps->features_off = feat;
		for (size_t k = 0; k < N_FEATURES; k++)
			if (!on[k])
				feat[ps->n_features_off++] = (char *)feature_names[k].name;
	} else {
		ps->devargs = (char *)cp->devargs;
		ps->assign = cp->assign;
		ps->domain_id = cp->domain_id;
	}
}

/* ------------------------------------------------------------------ restore */

static int restore_from_config(struct riov_service *svc, char *err, size_t errlen)
{
	const struct riov_config *c = svc->cfg;
	int rc;

	for (unsigned i = 0; i < c->n_nets; i++) {
		Riov__V1__NetworkSpec ns = RIOV__V1__NETWORK_SPEC__INIT;
		ns.name = (char *)c->nets[i];
		rc = net_add(svc, &ns, err, errlen);
		if (rc != 0)
			return rc;
	}
	for (unsigned i = 0; i < c->n_ports; i++) {
		Riov__V1__PortSpec ps;
		char *feat[N_FEATURES];
		cfg_port_spec(&c->ports[i], &ps, feat);
		rc = port_add(svc, &ps, err, errlen);
		if (rc != 0)
			return rc;
	}
	rc = save_state(svc, err, errlen);
	if (rc == 0)
		riov_log(RIOV_LOG_NOTICE, COMP, "no state file: applied the configuration file's %u "
			 "network(s) and %u port(s) and saved them to %s", svc->n_nets, svc->n_ports,
			 riov_state_store_path(svc->store));
	return rc;
}

static int restore_from_state(struct riov_service *svc, const Riov__V1__State *st, char *err,
			      size_t errlen)
{
	char why[256];

	if (st->format > STATE_FORMAT) {
		snprintf(err, errlen, "%s has state format %u, newer than this riovd understands (%u); "
			 "run a newer riovd or move the file away", riov_state_store_path(svc->store),
			 st->format, STATE_FORMAT);
		return -EPROTO;
	}
	for (size_t i = 0; i < st->n_networks; i++) {
		why[0] = '\0';
		if (net_add(svc, st->networks[i], why, sizeof(why)) != 0) {
			riov_log(RIOV_LOG_ERR, COMP, "state file: network not restored: %s", why);
			svc->restore_failed++;
		}
	}
	/* VF counts before ports and devices: an eth port or a device may be a VF */
	for (size_t i = 0; i < st->n_sriov; i++) {
		Riov__V1__SriovSpec *sp;
		why[0] = '\0';
		if (svc->n_sriov >= SRIOV_MAX || sriov_index(svc, str_or_empty(st->sriov[i]->pf)) >= 0 ||
		    sriov_apply(svc, st->sriov[i], why, sizeof(why)) != 0 ||
		    (sp = msg_dup(&st->sriov[i]->base)) == NULL) {
			riov_log(RIOV_LOG_ERR, COMP, "state file: VF count of %s not restored: %s",
				 str_or_empty(st->sriov[i]->pf), why[0] ? why : "duplicate or out of memory");
			svc->restore_failed++;
			continue;
		}
		svc->sriov[svc->n_sriov++] = sp;
	}
	for (size_t i = 0; i < st->n_ports; i++) {
		why[0] = '\0';
		if (port_add(svc, st->ports[i], why, sizeof(why)) != 0) {
			riov_log(RIOV_LOG_ERR, COMP, "state file: port not restored: %s", why);
			svc->restore_failed++;
		}
	}
	for (size_t i = 0; i < st->n_devices; i++) {
		why[0] = '\0';
		if (dev_assign(svc, st->devices[i], why, sizeof(why)) != 0) {
			riov_log(RIOV_LOG_ERR, COMP, "state file: device %s not restored: %s",
				 str_or_empty(st->devices[i]->name), why);
			svc->restore_failed++;
		}
	}
	for (size_t i = 0; i < st->n_domains; i++) {
		uint32_t did;
		why[0] = '\0';
		if (own_create(svc, st->domains[i], &did, why, sizeof(why)) != 0) {
			riov_log(RIOV_LOG_ERR, COMP, "state file: domain %u not restored: %s",
				 st->domains[i]->domain_id, why);
			svc->restore_failed++;
		}
	}
	for (size_t i = 0; i < st->n_interrupts; i++) {
		Riov__V1__InterruptSetting *old;
		why[0] = '\0';
		if (irq_set(svc, st->interrupts[i], &old, why, sizeof(why)) != 0) {
			riov_log(RIOV_LOG_ERR, COMP, "state file: interrupt setting not restored: %s", why);
			svc->restore_failed++;
		} else if (old) {
			riov__v1__interrupt_setting__free_unpacked(old, NULL);
		}
	}
	svc->generation = st->generation;
	riov_log(RIOV_LOG_NOTICE, COMP, "restored state from %s (generation %" PRIu64 "): %u network(s), "
		 "%u port(s), %u domain(s), %u interrupt setting(s), %u assigned function(s), %u SR-IOV "
		 "PF(s); the configuration file's networks and ports are not used",
		 riov_state_store_path(svc->store), st->generation, svc->n_nets, svc->n_ports, svc->n_doms,
		 svc->n_irqs, svc->n_asg, svc->n_sriov);
	if (svc->restore_failed)
		riov_log(RIOV_LOG_ERR, COMP, "%u object(s) of the state file could not be restored and are "
			 "left out (see above); the next change saves the state without them",
			 svc->restore_failed);
	return 0;
}

int riov_service_restore(struct riov_service *svc, char *err, size_t errlen)
{
	char why[512] = "";
	void *buf = NULL;
	size_t len = 0;
	int rc;

	rc = riov_state_store_read(svc->store, &buf, &len, why, sizeof(why));
	if (rc == -ENOENT)
		return restore_from_config(svc, err, errlen);
	if (rc == -EBADMSG) {
		riov_log(RIOV_LOG_ERR, COMP, "%s", why);
		riov_log(RIOV_LOG_ERR, COMP, "the state file was corrupt: starting from the configuration "
			 "file's networks and ports instead");
		return restore_from_config(svc, err, errlen);
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s", why);
		return rc;
	}
	Riov__V1__State *st = riov__v1__state__unpack(NULL, len, buf);
	free(buf);
	if (st == NULL) {
		char moved[PATH_MAX] = "";
		riov_state_store_quarantine(svc->store, moved, sizeof(moved));
		riov_log(RIOV_LOG_ERR, COMP, "%s does not hold a riov.v1.State: moved aside to %s; starting "
			 "from the configuration file's networks and ports instead",
			 riov_state_store_path(svc->store), moved);
		return restore_from_config(svc, err, errlen);
	}
	rc = restore_from_state(svc, st, err, errlen);
	riov__v1__state__free_unpacked(st, NULL);
	return rc;
}

/* ------------------------------------------------------------------ RPC: Node.Info */

static void node_info(void *arg, uint32_t *workers, char *health, size_t len)
{
	struct riov_service *svc = arg;

	*workers = riov_dp_n_workers(svc->dp);
	if (svc->save_error[0])
		snprintf(health, len, "state file not writable: %s", svc->save_error);
	else if (svc->restore_failed)
		snprintf(health, len, "degraded: %u object(s) of the state file could not be restored "
			 "(see riovd's log)", svc->restore_failed);
	else
		snprintf(health, len, "ok");
}

/* ------------------------------------------------------------------ RPC: Network */

#define CALL_NEW(call, type, init)                                                      \
	({                                                                              \
		type *p_ = riov_rpc_call_alloc(call, sizeof(type));                     \
		if (p_ != NULL)                                                         \
			init(p_);                                                       \
		p_;                                                                     \
	})

static Riov__V1__NetworkInfo *net_info(struct riov_rpc_call *call, struct riov_service *svc,
				       Riov__V1__NetworkSpec *spec)
{
	Riov__V1__NetworkInfo *ni = CALL_NEW(call, Riov__V1__NetworkInfo, riov__v1__network_info__init);
	struct riov_dp_net_info di = { 0 };

	if (ni == NULL)
		return NULL;
	riov_dp_net_info(svc->dp, spec->name, &di);
	ni->spec = spec;
	ni->ports = di.ports;
	ni->macs = di.macs;
	return ni;
}

static int h_net_add(struct riov_rpc_call *call, const ProtobufCMessage *reqm, ProtobufCMessage **resp,
		     char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__NetworkAddRequest *req = (const void *)reqm;
	char why[256];
	int rc;

	if (req->network == NULL) {
		snprintf(msg, msglen, "Network.Add needs a network (name, optional mtu and vni)");
		return -EINVAL;
	}
	rc = net_add(svc, req->network, msg, msglen);
	if (rc != 0)
		return rc;
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		riov_dp_net_del(svc->dp, req->network->name);
		riov__v1__network_spec__free_unpacked(svc->nets[--svc->n_nets], NULL);
		snprintf(msg, msglen, "network %s was not added: %s", req->network->name, why);
		return rc;
	}
	riov_log(RIOV_LOG_NOTICE, COMP, "network %s added by %s", req->network->name,
		 riov_rpc_call_peer(call));
	Riov__V1__NetworkAddResponse *r = CALL_NEW(call, Riov__V1__NetworkAddResponse,
						   riov__v1__network_add_response__init);
	if (r == NULL)
		return -ENOMEM;
	r->network = net_info(call, svc, svc->nets[svc->n_nets - 1]);
	*resp = &r->base;
	return 0;
}

static int h_net_delete(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__NetworkDeleteRequest *req = (const void *)reqm;
	const char *name = str_or_empty(req->name);
	char why[256], names[160] = "";
	unsigned users = 0;
	size_t off = 0;
	int i, rc;

	i = net_index(svc, name);
	if (i < 0) {
		snprintf(msg, msglen, "network %s does not exist", name[0] ? name : "(no name given)");
		return -ENOENT;
	}
	for (unsigned k = 0; k < svc->n_ports; k++) {
		if (strcmp(svc->ports[k]->net, name) != 0)
			continue;
		if (off < sizeof(names) - 1)
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s", users ? ", " : "",
						svc->ports[k]->name);
		users++;
	}
	if (users) {
		snprintf(msg, msglen, "network %s still has %u port%s (%s): delete them first", name, users,
			 users == 1 ? "" : "s", names);
		return -EBUSY;
	}
	/* state first: once it is saved the delete is acknowledged whatever happens next */
	Riov__V1__NetworkSpec *spec = svc->nets[i];
	remove_at((void **)svc->nets, &svc->n_nets, (unsigned)i);
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		insert_at((void **)svc->nets, &svc->n_nets, (unsigned)i, spec);
		snprintf(msg, msglen, "network %s was not deleted: %s", name, why);
		return rc;
	}
	rc = riov_dp_net_del(svc->dp, name);
	if (rc != 0)
		riov_log(RIOV_LOG_ERR, COMP, "network %s: removed from the state but the dataplane refused: %s",
			 name, strerror(-rc));
	riov_log(RIOV_LOG_NOTICE, COMP, "network %s deleted by %s", name, riov_rpc_call_peer(call));
	riov__v1__network_spec__free_unpacked(spec, NULL);
	return 0;
}

static int h_net_list(struct riov_rpc_call *call, const ProtobufCMessage *reqm, ProtobufCMessage **resp,
		      char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	Riov__V1__NetworkListResponse *r = CALL_NEW(call, Riov__V1__NetworkListResponse,
						    riov__v1__network_list_response__init);
	Riov__V1__NetworkInfo **v = riov_rpc_call_alloc(call, (svc->n_nets + 1) * sizeof(*v));

	if (r == NULL || v == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < svc->n_nets; i++)
		if ((v[i] = net_info(call, svc, svc->nets[i])) == NULL)
			return -ENOMEM;
	r->n_networks = svc->n_nets;
	r->networks = v;
	*resp = &r->base;
	return 0;
}

/* ------------------------------------------------------------------ RPC: Port */

static Riov__V1__PortInfo *port_info(struct riov_rpc_call *call, struct riov_service *svc,
				     const Riov__V1__PortSpec *spec)
{
	Riov__V1__PortInfo *pi = CALL_NEW(call, Riov__V1__PortInfo, riov__v1__port_info__init);
	Riov__V1__PortSpec *s = riov_rpc_call_alloc(call, sizeof(*s));
	struct riov_dp_port_info di;
	char path[PATH_MAX];

	if (pi == NULL || s == NULL)
		return NULL;
	*s = *spec; /* shallow: strings stay owned by the desired state during the call */
	if (s->type == RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST &&
	    socket_path(svc->cfg, str_or_empty(spec->socket_path), path, sizeof(path)) == 0) {
		char *resolved = riov_rpc_call_strdup(call, path);
		if (resolved != NULL)
			s->socket_path = resolved;
	}
	pi->spec = s;
	if (riov_dp_port_info(svc->dp, spec->name, &di) != 0) {
		pi->state = "missing from the dataplane";
		return pi;
	}
	pi->port_id = di.id;
	pi->domain_id = di.did;
	int ak = asg_index(svc, spec->name);
	if (ak >= 0 && svc->asg[ak]->a != NULL) {
		struct riov_assign_info ai;
		riov_assign_get_info(svc->asg[ak]->a, &ai);
		pi->domain_id = ai.did;
	}
	pi->features = di.features;
	if (di.type == RIOV_DP_PORT_VHOST)
		pi->state = di.broken ? "broken: a vring was marked broken (see riovd's log)"
			    : di.link_up ? "up"
			    : spec->client ? "connecting to the guest" : "waiting for guest";
	else
		pi->state = di.link_up ? "up" : "down";
	return pi;
}

static int h_port_add(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		      ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__PortAddRequest *req = (const void *)reqm;
	char why[256];
	int rc;

	if (req->port == NULL) {
		snprintf(msg, msglen, "Port.Add needs a port (name, type, net, ...)");
		return -EINVAL;
	}
	rc = port_add(svc, req->port, msg, msglen);
	if (rc != 0)
		return rc;
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		port_remove(svc, req->port->name);
		riov__v1__port_spec__free_unpacked(svc->ports[--svc->n_ports], NULL);
		snprintf(msg, msglen, "port %s was not added: %s", req->port->name, why);
		return rc;
	}
	riov_log(RIOV_LOG_NOTICE, COMP, "port %s added by %s", req->port->name, riov_rpc_call_peer(call));
	Riov__V1__PortAddResponse *r = CALL_NEW(call, Riov__V1__PortAddResponse,
						riov__v1__port_add_response__init);
	if (r == NULL)
		return -ENOMEM;
	r->port = port_info(call, svc, svc->ports[svc->n_ports - 1]);
	*resp = &r->base;
	return 0;
}

static int h_port_delete(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__PortDeleteRequest *req = (const void *)reqm;
	const char *name = str_or_empty(req->name);
	char why[256];
	int i, rc;

	i = port_index(svc, name);
	if (i < 0) {
		snprintf(msg, msglen, "port %s does not exist", name[0] ? name : "(no name given)");
		return -ENOENT;
	}
	Riov__V1__PortSpec *spec = svc->ports[i];
	remove_at((void **)svc->ports, &svc->n_ports, (unsigned)i);
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		insert_at((void **)svc->ports, &svc->n_ports, (unsigned)i, spec);
		snprintf(msg, msglen, "port %s was not deleted: %s", name, why);
		return rc;
	}
	port_remove(svc, name);
	riov_log(RIOV_LOG_NOTICE, COMP, "port %s deleted by %s", name, riov_rpc_call_peer(call));
	riov__v1__port_spec__free_unpacked(spec, NULL);
	return 0;
}

static int h_port_list(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		       ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__PortListRequest *req = (const void *)reqm;
	const char *net = str_or_empty(req->net);
	Riov__V1__PortListResponse *r = CALL_NEW(call, Riov__V1__PortListResponse,
						 riov__v1__port_list_response__init);
	Riov__V1__PortInfo **v = riov_rpc_call_alloc(call, (svc->n_ports + 1) * sizeof(*v));

	if (r == NULL || v == NULL)
		return -ENOMEM;
	if (net[0] && net_index(svc, net) < 0) {
		snprintf(msg, msglen, "network %s does not exist", net);
		return -ENOENT;
	}
	for (unsigned i = 0; i < svc->n_ports; i++) {
		if (net[0] && strcmp(svc->ports[i]->net, net) != 0)
			continue;
		if ((v[r->n_ports++] = port_info(call, svc, svc->ports[i])) == NULL)
			return -ENOMEM;
	}
	r->ports = v;
	*resp = &r->base;
	return 0;
}

/* The non-zero counts of drops[RIOV_DP_DROP__MAX] as DropCounter messages in the call's memory
 * (*n = 0 when there are none). Returns 0 or -ENOMEM. */
static int fill_drops(struct riov_rpc_call *call, const uint64_t *drops, Riov__V1__DropCounter ***out,
		      size_t *n)
{
	size_t k = 0;

	*out = NULL;
	*n = 0;
	for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++)
		k += drops[d] != 0;
	if (k == 0)
		return 0;
	Riov__V1__DropCounter **v = riov_rpc_call_alloc(call, k * sizeof(*v));
	Riov__V1__DropCounter *dc = riov_rpc_call_alloc(call, k * sizeof(*dc));
	if (v == NULL || dc == NULL)
		return -ENOMEM;
	for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++) {
		if (drops[d] == 0)
			continue;
		riov__v1__drop_counter__init(&dc[*n]);
		dc[*n].cause = (char *)riov_dp_drop_names[d];
		dc[*n].packets = drops[d];
		v[*n] = &dc[*n];
		(*n)++;
	}
	*out = v;
	return 0;
}

/* A vhost port's queue pairs as QueueCounters messages (none for an eth port). 0 or -errno. */
static int fill_queues(struct riov_rpc_call *call, struct riov_dp *dp, Riov__V1__PortCounters *pc)
{
	struct riov_dp_queue_stats qs[RIOV_DP_MAX_QUEUE_PAIRS];
	int n = riov_dp_port_queue_stats(dp, pc->port, qs, RIOV_DP_MAX_QUEUE_PAIRS);

	if (n <= 0)
		return n;
	pc->queues = riov_rpc_call_alloc(call, (size_t)n * sizeof(*pc->queues));
	if (pc->queues == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		Riov__V1__QueueCounters *q = CALL_NEW(call, Riov__V1__QueueCounters,
						      riov__v1__queue_counters__init);
		if (q == NULL)
			return -ENOMEM;
		q->queue = qs[i].queue;
		q->rx_running = qs[i].rx_running;
		q->tx_running = qs[i].tx_running;
		q->rx_packets = qs[i].rx_packets;
		q->rx_bytes = qs[i].rx_bytes;
		q->tx_packets = qs[i].tx_packets;
		q->tx_bytes = qs[i].tx_bytes;
		q->interrupts = qs[i].notifications;
		if (fill_drops(call, qs[i].drops, &q->drops, &q->n_drops) != 0)
			return -ENOMEM;
		pc->queues[pc->n_queues++] = q;
	}
	return 0;
}

/* Counters for people and scripts. The dataplane counts drops by cause (`drops`, every non-zero
 * cause); the RPC also groups them: rx_dropped = taking packets from the port (no_mbuf, looped,
 * hairpin), tx_dropped = delivering to it (no_buffer, ring_full, not_ready), rx_errors = the
 * port's own rings or DMA misbehaved (bad_descriptor, too_big, broken_queue, dma_fault). */
static void fill_counters(Riov__V1__PortCounters *pc, const struct riov_dp_port_stats *st)
{
	const uint64_t *d = st->drops;

	pc->port = (char *)st->name;
	pc->net = (char *)st->net;
	pc->rx_packets = st->rx_packets;
	pc->rx_bytes = st->rx_bytes;
	pc->tx_packets = st->tx_packets;
	pc->tx_bytes = st->tx_bytes;
	pc->rx_dropped = d[RIOV_DP_DROP_NO_MBUF] + d[RIOV_DP_DROP_LOOP] + d[RIOV_DP_DROP_HAIRPIN];
	pc->tx_dropped = d[RIOV_DP_DROP_NO_BUFFER] + d[RIOV_DP_DROP_RING_FULL] + d[RIOV_DP_DROP_NOT_READY];
	pc->rx_errors = d[RIOV_DP_DROP_BAD_DESC] + d[RIOV_DP_DROP_TOO_BIG] + d[RIOV_DP_DROP_BROKEN] +
			d[RIOV_DP_DROP_DMA_FAULT];
	pc->dma_faults = st->dma_faults;
	pc->interrupts = st->notifications;
	pc->iotlb_hits = st->iotlb_hits;
	pc->iotlb_misses = st->iotlb_misses;
}

struct counters_acc {
	struct riov_rpc_call *call;
	struct riov_dp *dp;
	const char *only;            /* one port: its queue pairs too */
	Riov__V1__PortCounters **v;
	size_t n, cap;
	bool nomem;
};

static void counters_one(void *arg, const struct riov_dp_port_stats *st)
{
	struct counters_acc *a = arg;

	if ((a->only && strcmp(a->only, st->name) != 0) || a->n == a->cap || a->nomem)
		return;
	Riov__V1__PortCounters *pc = CALL_NEW(a->call, Riov__V1__PortCounters,
					      riov__v1__port_counters__init);
	struct riov_dp_port_stats *copy = riov_rpc_call_alloc(a->call, sizeof(*copy));
	if (pc == NULL || copy == NULL) {
		a->nomem = true;
		return;
	}
	*copy = *st; /* st is the caller's stack: the answer needs the names until it is packed */
	fill_counters(pc, copy);
	if (fill_drops(a->call, copy->drops, &pc->drops, &pc->n_drops) != 0 ||
	    (a->only && fill_queues(a->call, a->dp, pc) < 0)) {
		a->nomem = true;
		return;
	}
	a->v[a->n++] = pc;
}

static int collect_counters(struct riov_rpc_call *call, struct riov_service *svc, const char *only,
			    Riov__V1__PortCounters ***out, size_t *n)
{
	struct counters_acc a = { .call = call, .dp = svc->dp, .only = only, .cap = svc->n_ports };

	a.v = riov_rpc_call_alloc(call, (a.cap + 1) * sizeof(*a.v));
	if (a.v == NULL)
		return -ENOMEM;
	riov_dp_port_foreach(svc->dp, counters_one, &a);
	if (a.nomem)
		return -ENOMEM;
	*out = a.v;
	*n = a.n;
	return 0;
}

static int h_port_stats(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__PortStatsRequest *req = (const void *)reqm;
	const char *name = str_or_empty(req->name);
	Riov__V1__PortStatsResponse *r = CALL_NEW(call, Riov__V1__PortStatsResponse,
						  riov__v1__port_stats_response__init);

	if (r == NULL)
		return -ENOMEM;
	if (name[0] && port_index(svc, name) < 0) {
		snprintf(msg, msglen, "port %s does not exist", name);
		return -ENOENT;
	}
	int rc = collect_counters(call, svc, name[0] ? name : NULL, &r->ports, &r->n_ports);
	if (rc != 0)
		return rc;
	*resp = &r->base;
	return 0;
}

/* ------------------------------------------------------------------ RPC: Domain */

/* The assigned function a Domain request names (by device, which wins, or by domain id), or NULL;
 * *pi gets its domain and source-id. */
static struct svc_assign *asg_target(struct riov_service *svc, const char *device, uint32_t did,
				     struct riov_dp_port_info *pi)
{
	struct svc_assign *x = NULL;
	struct riov_assign_info ai;

	if (device[0]) {
		int k = asg_index(svc, device);
		x = k >= 0 ? svc->asg[k] : NULL;
	} else if (did != 0 && did <= UINT16_MAX) {
		x = asg_by_did(svc, did);
	}
	if (x == NULL || x->a == NULL)
		return NULL;
	riov_assign_get_info(x->a, &ai);
	memset(pi, 0, sizeof(*pi));
	pi->did = ai.did;
	pi->sid = ai.sid;
	return x;
}

/* The vhost port a Domain request names: by device (wins) or by domain id. */
static int domain_target(struct riov_service *svc, const char *device, uint32_t did,
			 struct riov_dp_port_info *pi, const char **pname, char *msg, size_t msglen)
{
	*pname = NULL;
	memset(pi, 0, sizeof(*pi));
	if (device[0]) {
		if (port_index(svc, device) < 0 || riov_dp_port_info(svc->dp, device, pi) != 0) {
			snprintf(msg, msglen, "port %s does not exist", device);
			return -ENOENT;
		}
		if (pi->type != RIOV_DP_PORT_VHOST) {
			snprintf(msg, msglen, "port %s is an eth port without assign: its DMA goes through "
				 "DPDK's own VFIO container, not a riov domain", device);
			return -EINVAL;
		}
		*pname = svc->ports[port_index(svc, device)]->name;
		return 0;
	}
	if (did == 0 || did > UINT16_MAX) {
		snprintf(msg, msglen, "name the domain by a vhost port or by a domain id 1-65535");
		return -EINVAL;
	}
	for (unsigned i = 0; i < svc->n_ports; i++) {
		struct riov_dp_port_info x;
		if (riov_dp_port_info(svc->dp, svc->ports[i]->name, &x) == 0 &&
		    x.type == RIOV_DP_PORT_VHOST && x.did == did) {
			*pi = x;
			*pname = svc->ports[i]->name;
			break;
		}
	}
	pi->did = (uint16_t)did;
	return 0;
}

struct walk_acc {
	struct riov_rpc_call *call;
	Riov__V1__DomainMapping **v;
	size_t n, cap;
	bool nomem;
};

static void walk_count(void *arg, uint64_t iova, uint64_t hpa, uint64_t len, unsigned perm)
{
	(*(size_t *)arg)++;
}

static void walk_fill(void *arg, uint64_t iova, uint64_t hpa, uint64_t len, unsigned perm)
{
	struct walk_acc *a = arg;

	if (a->n == a->cap || a->nomem)
		return;
	Riov__V1__DomainMapping *m = CALL_NEW(a->call, Riov__V1__DomainMapping,
					      riov__v1__domain_mapping__init);
	if (m == NULL) {
		a->nomem = true;
		return;
	}
	m->iova = iova;
	m->size = len;
	m->target = hpa;
	m->read = (perm & RIOV_VTD_READ) != 0;
	m->write = (perm & RIOV_VTD_WRITE) != 0;
	a->v[a->n++] = m;
}

static int h_domain_show(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainShowRequest *req = (const void *)reqm;
	struct riov_dp_port_info pi;
	struct riov_vtd_domain_info info;
	const char *pname, *device = str_or_empty(req->device);
	uint32_t did = req->domain_id;
	int rc, own = device[0] ? own_device(svc, device, NULL) : own_index(svc, did);

	if (own >= 0 && device[0]) {
		device = "";
		did = svc->doms[own]->domain_id;
	}
	struct svc_assign *ax = own >= 0 ? NULL : asg_target(svc, device, did, &pi);
	if (ax != NULL) {
		pname = ax->name;
	} else {
		rc = domain_target(svc, device, did, &pi, &pname, msg, msglen);
		if (rc != 0)
			return rc;
	}
	if (riov_vtd_domain_info(svc->vtd, pi.did, &info) != 0) {
		if (pname)
			snprintf(msg, msglen, "port %s has no DMA domain yet: domain %u is built when its guest "
				 "connects and sends its memory table", pname, pi.did);
		else
			snprintf(msg, msglen, "domain %u does not exist", pi.did);
		return -ENOENT;
	}
	Riov__V1__DomainShowResponse *r = CALL_NEW(call, Riov__V1__DomainShowResponse,
						   riov__v1__domain_show_response__init);
	Riov__V1__DomainSpec *d = CALL_NEW(call, Riov__V1__DomainSpec, riov__v1__domain_spec__init);
	if (r == NULL || d == NULL)
		return -ENOMEM;
	d->domain_id = info.did;
	d->name = (char *)(pname ? pname : "");
	d->address_width = 12 + 9 * info.levels;
	size_t n = 0;
	riov_vtd_domain_walk(svc->vtd, pi.did, walk_count, &n);
	struct walk_acc a = { .call = call, .cap = n < DOMAIN_MAPPINGS_MAX ? n : DOMAIN_MAPPINGS_MAX };
	a.v = riov_rpc_call_alloc(call, (a.cap + 1) * sizeof(*a.v));
	if (a.v == NULL)
		return -ENOMEM;
	riov_vtd_domain_walk(svc->vtd, pi.did, walk_fill, &a);
	if (a.nomem)
		return -ENOMEM;
	d->mappings = a.v;
	d->n_mappings = a.n;
	if (own >= 0) {
		/* shallow: the desired state outlives the call */
		d->name = (char *)str_or_empty(svc->doms[own]->name);
		d->devices = svc->doms[own]->devices;
		d->n_devices = svc->doms[own]->n_devices;
	}
	if (pname) {
		struct riov_vtd_context_info ci;
		if (riov_vtd_context_get(svc->vtd, pi.sid, &ci) == 0 && ci.present && ci.did == pi.did) {
			Riov__V1__DomainAttachment *at = CALL_NEW(call, Riov__V1__DomainAttachment,
								  riov__v1__domain_attachment__init);
			Riov__V1__DomainAttachment **atv = riov_rpc_call_alloc(call, sizeof(*atv));
			if (at == NULL || atv == NULL)
				return -ENOMEM;
			at->device = (char *)pname;
			at->source_id = pi.sid;
			atv[0] = at;
			d->devices = atv;
			d->n_devices = 1;
			d->nested = ci.nested;
		}
		struct riov_dp_port_stats st;
		if (ax != NULL) {
			struct riov_assign_info ai;
			riov_assign_get_info(ax->a, &ai);
			r->faults = ai.hw_faults; /* the real IOMMU's, as the kernel reported them */
		} else if (riov_dp_port_stats(svc->dp, pname, &st) == 0) {
			r->iotlb_hits = st.iotlb_hits;
			r->iotlb_misses = st.iotlb_misses;
			r->faults = st.dma_faults;
		}
	}
	r->domain = d;
	*resp = &r->base;
	return 0;
}

static int h_domain_probe(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainTranslateProbeRequest *req = (const void *)reqm;
	struct riov_dp_port_info pi;
	const char *pname, *device = str_or_empty(req->device);
	size_t ai = 0;
	int rc, own = device[0] ? own_device(svc, device, &ai) : own_index(svc, req->domain_id);

	if (own >= 0) {
		/* a domain made with Domain.Create: translate as its (named, else first) device */
		Riov__V1__DomainSpec *d = svc->doms[own];
		if (d->n_devices == 0) {
			snprintf(msg, msglen, "domain %u has no device attached: a probe translates as a device "
				 "(riovctl domain attach DEVICE --id %u --source-id BDF)", d->domain_id,
				 d->domain_id);
			return -EBUSY;
		}
		memset(&pi, 0, sizeof(pi));
		pi.did = (uint16_t)d->domain_id;
		pi.sid = (uint16_t)d->devices[ai]->source_id;
		pname = d->devices[ai]->device;
		goto probe;
	}
	struct svc_assign *ax = asg_target(svc, device, req->domain_id, &pi);
	if (ax != NULL) {
		/* an assigned function: translate as it (the model; the real IOMMU is not asked) */
		pname = ax->name;
		goto probe;
	}
	rc = domain_target(svc, device, req->domain_id, &pi, &pname, msg, msglen);
	if (rc != 0)
		return rc;
	if (pname == NULL) {
		snprintf(msg, msglen, "no vhost port uses domain %u: a probe translates as a device, name "
			 "the port (riovctl domain probe PORT --iova ADDR)", pi.did);
		return -EINVAL;
	}
	struct riov_vtd_domain_info info;
	if (riov_vtd_domain_info(svc->vtd, pi.did, &info) != 0) {
		/* refused rather than probed: the walk would only record a "not present" fault */
		snprintf(msg, msglen, "port %s has no DMA domain yet: domain %u is built when its guest "
			 "connects and sends its memory table", pname, pi.did);
		return -ENOENT;
	}
probe:;
	Riov__V1__DomainTranslateProbeResponse *r = CALL_NEW(
		call, Riov__V1__DomainTranslateProbeResponse,
		riov__v1__domain_translate_probe_response__init);
	if (r == NULL)
		return -ENOMEM;
	/* A private cursor with the port's source-id: the same walk, IOTLB and fault reporting as
	 * the port's own DMA. The VT-d API has no non-recording translate, so a failing probe leaves
	 * a fault record with the port's source-id (documented in docs/api.md). */
	struct riov_vtd_cursor cur;
	void *hva = NULL;
	uint64_t mapped = 0;
	riov_vtd_cursor_init(&cur, svc->vtd, pi.sid);
	rc = riov_vtd_translate(&cur, req->iova, req->length ? req->length : 1,
				req->write ? RIOV_VTD_WRITE : RIOV_VTD_READ, &hva, &mapped);
	if (rc == 0) {
		r->ok = true;
		r->target = (uint64_t)(uintptr_t)hva;
		r->mapped_length = mapped;
	} else {
		r->fault_reason = (uint32_t)-rc;
		r->fault = (char *)fault_text((unsigned)-rc);
	}
	*resp = &r->base;
	return 0;
}

/* ------------------------------------------------------------------ RPC: Domain.Create/Map/Unmap/Attach */

/* The API-created domain a Map/Unmap/Attach names. Returns its index, or -errno with msg. */
static int own_target(struct riov_service *svc, const char *device, uint32_t did, const char *method,
		      char *msg, size_t msglen)
{
	int k;

	if (device[0]) {
		if (port_index(svc, device) >= 0) {
			snprintf(msg, msglen, "port %s's DMA domain is built by riovd from its guest's memory "
				 "table and cannot be changed with %s; create a domain (riovctl domain create) "
				 "for other devices", device, method);
			return -EBUSY;
		}
		if ((k = own_device(svc, device, NULL)) < 0) {
			snprintf(msg, msglen, "device %s does not exist (neither a port nor a device attached "
				 "with 'riovctl domain attach')", device);
			return -ENOENT;
		}
		return k;
	}
	if (did == 0 || did > UINT16_MAX) {
		snprintf(msg, msglen, "name the domain by a device or by a domain id 1-65535");
		return -EINVAL;
	}
	if (dp_owned_did(did)) {
		snprintf(msg, msglen, "domain %u is a vhost port's DMA domain (ids 1-%u and 0x%x-0xffff), built "
			 "by riovd from its guest's memory table; %s works on domains made with 'riovctl "
			 "domain create'", did, DP_DID_LAST, DP_S1_DID_FIRST, method);
		return -EBUSY;
	}
	if ((k = own_index(svc, did)) < 0) {
		snprintf(msg, msglen, "domain %u does not exist (riovctl domain create --id %u)", did, did);
		return -ENOENT;
	}
	return k;
}

static int h_domain_create(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			   ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainCreateRequest *req = (const void *)reqm;
	char why[256];
	uint32_t did = 0;
	int rc;

	if (req->domain == NULL) {
		snprintf(msg, msglen, "Domain.Create needs a domain (domain_id 0 allocates one)");
		return -EINVAL;
	}
	rc = own_create(svc, req->domain, &did, msg, msglen);
	if (rc != 0)
		return rc;
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		own_remove(svc, svc->n_doms - 1);
		snprintf(msg, msglen, "domain %u was not created: %s", did, why);
		return rc;
	}
	riov_log(RIOV_LOG_NOTICE, COMP, "domain %u created by %s", did, riov_rpc_call_peer(call));
	Riov__V1__DomainCreateResponse *r = CALL_NEW(call, Riov__V1__DomainCreateResponse,
						     riov__v1__domain_create_response__init);
	if (r == NULL)
		return -ENOMEM;
	r->domain_id = did;
	*resp = &r->base;
	return 0;
}

/* Domain.Map on an assigned function's domain. Not desired state: the domain is riovd's (the
 * port's packet memory, the guest's memory), rebuilt when the function is assigned again. */
static int asg_domain_map(struct riov_service *svc, struct svc_assign *x, const Riov__V1__DomainMapping *m,
			  struct riov_rpc_call *call, char *msg, size_t msglen)
{
	unsigned perm = (m->read ? RIOV_VTD_READ : 0) | (m->write ? RIOV_VTD_WRITE : 0);
	struct riov_assign_info ai;

	riov_assign_get_info(x->a, &ai);
	if (x->spec != NULL) {
		snprintf(msg, msglen, "device %s's domain %u holds its guest's memory, which riovd maps "
			 "itself; Domain.Map takes no host addresses for assigned functions", x->name, ai.did);
		return -EOPNOTSUPP;
	}
	if (m->size == 0 || ((m->iova | m->size | m->target) & 4095) || perm == 0) {
		snprintf(msg, msglen, "domain %u: iova, target and size must be 4 KiB aligned, the size "
			 "non-zero, and read and/or write given", ai.did);
		return -EINVAL;
	}
	bool ok = false;
	for (size_t i = 0; i < x->n_mem && !ok; i++) {
		const struct riov_vtd_range *r = &x->mem[i];
		ok = m->iova >= r->iova && m->size <= r->len && m->iova - r->iova <= r->len - m->size &&
		     m->target == r->hva + (m->iova - r->iova);
	}
	if (!ok) {
		snprintf(msg, msglen, "port %s's domain %u maps riovd's packet memory only, each page at the "
			 "IOVA riovd gave it (target = that page's address): [0x%" PRIx64 ", +0x%" PRIx64 ") -> "
			 "0x%" PRIx64 " is not such a range", x->name, ai.did, m->iova, m->size, m->target);
		return -EINVAL;
	}
	int rc = riov_assign_map(x->a, m->iova, m->target, m->size, perm);
	if (rc == -EEXIST) {
		snprintf(msg, msglen, "domain %u: part of [0x%" PRIx64 ", 0x%" PRIx64 ") is mapped already",
			 ai.did, m->iova, m->iova + m->size);
		return rc;
	}
	if (rc != 0) {
		snprintf(msg, msglen, "domain %u: %s", ai.did, strerror(-rc));
		return rc;
	}
	riov_log(RIOV_LOG_NOTICE, COMP, "%s: domain %u: 0x%" PRIx64 "+0x%" PRIx64 " mapped back by %s", x->name,
		 ai.did, m->iova, m->size, riov_rpc_call_peer(call));
	return 0;
}

static int asg_domain_unmap(struct riov_service *svc, struct svc_assign *x, uint64_t iova, uint64_t size,
			    struct riov_rpc_call *call, ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_vtd_domain_info before, after;
	struct riov_assign_info ai;

	riov_assign_get_info(x->a, &ai);
	if (size == 0 || ((iova | size) & 4095) || iova + size < iova) {
		snprintf(msg, msglen, "domain %u: iova 0x%" PRIx64 " and size 0x%" PRIx64 " must be 4 KiB "
			 "aligned and the size non-zero", ai.did, iova, size);
		return -EINVAL;
	}
	if (riov_vtd_domain_info(svc->vtd, ai.did, &before) != 0)
		return -ENOENT;
	/* clip to the domain's address width: unmapping holes is not an error */
	uint64_t top = 1ull << (12 + 9 * before.levels);
	if (iova >= top)
		size = 0;
	else if (size > top - iova)
		size = top - iova;
	int rc = size ? riov_assign_unmap(x->a, iova, size) : 0;
	if (rc != 0) {
		snprintf(msg, msglen, "domain %u: %s", ai.did, strerror(-rc));
		return rc;
	}
	riov_vtd_domain_info(svc->vtd, ai.did, &after);
	Riov__V1__DomainUnmapResponse *r = CALL_NEW(call, Riov__V1__DomainUnmapResponse,
						    riov__v1__domain_unmap_response__init);
	if (r == NULL)
		return -ENOMEM;
	r->unmapped = before.mapped_bytes - after.mapped_bytes;
	riov_log(RIOV_LOG_NOTICE, COMP, "%s: domain %u: 0x%" PRIx64 "+0x%" PRIx64 " unmapped by %s (%" PRIu64
		 " bytes; its VFIO container follows)", x->name, ai.did, iova, size, riov_rpc_call_peer(call),
		 r->unmapped);
	*resp = &r->base;
	return 0;
}

static int h_domain_map(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainMapRequest *req = (const void *)reqm;
	struct riov_dp_port_info api;
	char why[256];
	int k, rc;

	struct svc_assign *ax = asg_target(svc, str_or_empty(req->device), req->domain_id, &api);
	if (ax != NULL) {
		if (req->mapping == NULL) {
			snprintf(msg, msglen, "Domain.Map needs a mapping (iova, size, target, read/write)");
			return -EINVAL;
		}
		return asg_domain_map(svc, ax, req->mapping, call, msg, msglen);
	}

	k = own_target(svc, str_or_empty(req->device), req->domain_id, "Domain.Map", msg, msglen);
	if (k < 0)
		return k;
	if (req->mapping == NULL) {
		snprintf(msg, msglen, "Domain.Map needs a mapping (iova, size, target, read/write)");
		return -EINVAL;
	}
	Riov__V1__DomainSpec *d = svc->doms[k];
	rc = own_map(svc, d, req->mapping, msg, msglen);
	if (rc != 0)
		return rc;
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		Riov__V1__DomainMapping *m = d->mappings[--d->n_mappings];
		riov_vtd_unmap(svc->vtd, (uint16_t)d->domain_id, m->iova, m->size);
		riov_vtd_inv_iotlb_domain(svc->vtd, (uint16_t)d->domain_id);
		free(m);
		snprintf(msg, msglen, "domain %u: not mapped: %s", d->domain_id, why);
		return rc;
	}
	riov_log(RIOV_LOG_NOTICE, COMP, "domain %u: 0x%" PRIx64 "+0x%" PRIx64 " mapped by %s", d->domain_id,
		 req->mapping->iova, req->mapping->size, riov_rpc_call_peer(call));
	return 0;
}

static int h_domain_unmap(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainUnmapRequest *req = (const void *)reqm;
	uint64_t lo = req->iova, hi = req->iova + req->size, unmapped = 0;
	struct riov_dp_port_info api;
	char why[256];
	int k, rc;

	struct svc_assign *ax = asg_target(svc, str_or_empty(req->device), req->domain_id, &api);
	if (ax != NULL)
		return asg_domain_unmap(svc, ax, req->iova, req->size, call, resp, msg, msglen);

	k = own_target(svc, str_or_empty(req->device), req->domain_id, "Domain.Unmap", msg, msglen);
	if (k < 0)
		return k;
	Riov__V1__DomainSpec *d = svc->doms[k];
	if (req->size == 0 || ((req->iova | req->size) & 4095) || hi < lo) {
		snprintf(msg, msglen, "domain %u: iova 0x%" PRIx64 " and size 0x%" PRIx64 " must be 4 KiB "
			 "aligned and the size non-zero", d->domain_id, req->iova, req->size);
		return -EINVAL;
	}
	/* the new mapping list: every mapping minus [lo, hi), split where the range cuts it */
	size_t cap = d->n_mappings + 2, n = 0;
	Riov__V1__DomainMapping **nv = calloc(cap, sizeof(*nv));
	bool *fresh = calloc(cap, sizeof(*fresh));
	if (nv == NULL || fresh == NULL)
		goto nomem;
	for (size_t i = 0; i < d->n_mappings; i++) {
		Riov__V1__DomainMapping *m = d->mappings[i];
		uint64_t mlo = m->iova, mhi = m->iova + m->size;
		if (mhi <= lo || mlo >= hi) {
			nv[n++] = m;
			continue;
		}
		uint64_t clo = mlo > lo ? mlo : lo, chi = mhi < hi ? mhi : hi;
		unmapped += chi - clo;
		for (int part = 0; part < 2; part++) {
			uint64_t plo = part ? chi : mlo, phi = part ? mhi : clo;
			if (phi <= plo)
				continue;
			if (n == cap) /* only one mapping can be cut at each end */
				goto nomem;
			Riov__V1__DomainMapping *p = malloc(sizeof(*p));
			if (p == NULL)
				goto nomem;
			*p = *m;
			p->iova = plo;
			p->size = phi - plo;
			p->target = m->target + (plo - mlo);
			fresh[n] = true;
			nv[n++] = p;
		}
	}
	if (unmapped == 0) {
		free(nv);
		free(fresh);
		return 0; /* unmapping holes is not an error (as in the VT-d model): unmapped = 0 */
	}
	/* state first, like a delete: once saved the unmap is acknowledged */
	Riov__V1__DomainMapping **ov = d->mappings;
	size_t on = d->n_mappings;
	d->mappings = nv;
	d->n_mappings = n;
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		d->mappings = ov;
		d->n_mappings = on;
		for (size_t j = 0; j < n; j++)
			if (fresh[j])
				free(nv[j]);
		free(nv);
		free(fresh);
		snprintf(msg, msglen, "domain %u: not unmapped: %s", d->domain_id, why);
		return rc;
	}
	for (size_t x = 0; x < on; x++) {
		bool kept = false;
		for (size_t j = 0; j < n && !kept; j++)
			kept = nv[j] == ov[x];
		if (!kept)
			free(ov[x]);
	}
	free(ov);
	free(fresh);
	rc = riov_vtd_unmap(svc->vtd, (uint16_t)d->domain_id, lo, req->size);
	riov_vtd_inv_iotlb_domain(svc->vtd, (uint16_t)d->domain_id);
	if (rc != 0)
		riov_log(RIOV_LOG_ERR, COMP, "domain %u: unmap of 0x%" PRIx64 "+0x%" PRIx64 " saved but the unit "
			 "failed: %s", d->domain_id, lo, req->size, strerror(-rc));
	riov_log(RIOV_LOG_NOTICE, COMP, "domain %u: 0x%" PRIx64 "+0x%" PRIx64 " unmapped by %s", d->domain_id,
		 lo, req->size, riov_rpc_call_peer(call));
	Riov__V1__DomainUnmapResponse *r = CALL_NEW(call, Riov__V1__DomainUnmapResponse,
						    riov__v1__domain_unmap_response__init);
	if (r == NULL)
		return -ENOMEM;
	r->unmapped = unmapped;
	*resp = &r->base;
	return 0;
nomem:
	for (size_t j = 0; nv != NULL && fresh != NULL && j < n; j++)
		if (fresh[j])
			free(nv[j]);
	free(nv);
	free(fresh);
	return -ENOMEM;
}

static int h_domain_attach(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			   ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DomainAttachRequest *req = (const void *)reqm;
	char why[256];
	int k, rc;

	if (req->attachment == NULL) {
		snprintf(msg, msglen, "Domain.Attach needs an attachment (device name and source-id)");
		return -EINVAL;
	}
	k = own_target(svc, "", req->domain_id, "Domain.Attach", msg, msglen);
	if (k < 0)
		return k;
	Riov__V1__DomainSpec *d = svc->doms[k];
	rc = own_attach(svc, d, req->attachment, msg, msglen);
	if (rc != 0)
		return rc;
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		Riov__V1__DomainAttachment *at = d->devices[--d->n_devices];
		riov_vtd_context_clear(svc->vtd, (uint16_t)at->source_id);
		riov_vtd_inv_context_device(svc->vtd, (uint16_t)at->source_id);
		riov__v1__domain_attachment__free_unpacked(at, NULL);
		snprintf(msg, msglen, "domain %u: not attached: %s", d->domain_id, why);
		return rc;
	}
	riov_log(RIOV_LOG_NOTICE, COMP, "device %s (source-id 0x%x) attached to domain %u by %s",
		 req->attachment->device, req->attachment->source_id, d->domain_id, riov_rpc_call_peer(call));
	return 0;
}

/* ------------------------------------------------------------------ RPC: Interrupt */

static int h_irq_set(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		     ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__InterruptSetRequest *req = (const void *)reqm;
	Riov__V1__InterruptSetting *old;
	char why[256];
	int rc;

	if (req->setting == NULL) {
		snprintf(msg, msglen, "Interrupt.Set needs a setting (device, vector, guest vector, ...)");
		return -EINVAL;
	}
	rc = irq_set(svc, req->setting, &old, msg, msglen);
	if (rc != 0)
		return rc;
	int i = irq_index(svc, req->setting->device, req->setting->vector);
	Riov__V1__InterruptSetting *s = svc->irqs[i];
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		uint16_t sid = 0;
		irq_device(svc, s->device, &sid, why, 0);
		riov_vtd_irte_clear(svc->vtd, s->irte_index);
		if (old) {
			svc->irqs[i] = old;
			irq_program(svc, old, sid);
		} else {
			remove_at((void **)svc->irqs, &svc->n_irqs, (unsigned)i);
		}
		riov__v1__interrupt_setting__free_unpacked(s, NULL);
		snprintf(msg, msglen, "interrupt not set: %s", why);
		return rc;
	}
	if (old)
		riov__v1__interrupt_setting__free_unpacked(old, NULL);
	riov_log(RIOV_LOG_NOTICE, COMP, "device %s vector %u: IRTE %u set by %s", s->device, s->vector,
		 s->irte_index, riov_rpc_call_peer(call));
	Riov__V1__InterruptSetResponse *r = CALL_NEW(call, Riov__V1__InterruptSetResponse,
						     riov__v1__interrupt_set_response__init);
	Riov__V1__InterruptSetting *copy = riov_rpc_call_alloc(call, sizeof(*copy));
	if (r == NULL || copy == NULL)
		return -ENOMEM;
	*copy = *s;
	r->setting = copy;
	*resp = &r->base;
	return 0;
}

/* Apply fn to the device's settings (one vector, or all), program them and save; undone when the
 * state cannot be written. */
static int irq_change(struct riov_service *svc, const char *device, uint32_t vector, bool all,
		      void (*fn)(Riov__V1__InterruptSetting *s, const void *arg), const void *arg,
		      char *msg, size_t msglen)
{
	Riov__V1__InterruptSetting saved[64];
	unsigned idx[64], n = 0;
	uint16_t sid;
	char why[256];
	int rc;

	if ((rc = irq_device(svc, device, &sid, msg, msglen)) != 0)
		return rc;
	for (unsigned i = 0; i < svc->n_irqs; i++) {
		if (strcmp(svc->irqs[i]->device, device) != 0 || (!all && svc->irqs[i]->vector != vector))
			continue;
		if (n == 64) {
			snprintf(msg, msglen, "device %s has more than 64 interrupt settings: change them one "
				 "vector at a time", device);
			return -E2BIG;
		}
		idx[n] = i;
		saved[n++] = *svc->irqs[i];
	}
	if (n == 0) {
		if (all)
			snprintf(msg, msglen, "device %s has no interrupt settings (riovctl interrupt set %s "
				 "VECTOR --guest-vector N)", device, device);
		else
			snprintf(msg, msglen, "device %s has no setting for vector %u (riovctl interrupt set %s "
				 "%u --guest-vector N)", device, vector, device, vector);
		return -ENOENT;
	}
	for (unsigned j = 0; j < n; j++) {
		fn(svc->irqs[idx[j]], arg);
		irq_program(svc, svc->irqs[idx[j]], sid);
	}
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		for (unsigned j = 0; j < n; j++) {
			*svc->irqs[idx[j]] = saved[j];
			irq_program(svc, svc->irqs[idx[j]], sid);
		}
		snprintf(msg, msglen, "interrupts not changed: %s", why);
		return rc;
	}
	return 0;
}

static void set_masked(Riov__V1__InterruptSetting *s, const void *arg)
{
	s->masked = *(const bool *)arg;
}

static void set_coalesce(Riov__V1__InterruptSetting *s, const void *arg)
{
	const uint32_t *v = arg;
	s->coalesce_usecs = v[0];
	s->coalesce_frames = v[1];
}

static int h_irq_mask(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		      ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__InterruptMaskRequest *req = (const void *)reqm;
	bool m = req->masked;
	int rc = irq_change(svc, str_or_empty(req->device), req->vector, req->all_vectors, set_masked, &m,
			    msg, msglen);
	if (rc == 0)
		riov_log(RIOV_LOG_NOTICE, COMP, "device %s: interrupts %s by %s", req->device,
			 m ? "masked" : "unmasked", riov_rpc_call_peer(call));
	return rc;
}

static int h_irq_coalesce(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__InterruptCoalesceRequest *req = (const void *)reqm;
	uint32_t v[2] = { req->usecs, req->frames };

	return irq_change(svc, str_or_empty(req->device), req->vector, req->all_vectors, set_coalesce, v,
			  msg, msglen);
}

static int h_irq_list(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		      ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__InterruptListRequest *req = (const void *)reqm;
	const char *device = str_or_empty(req->device);
	uint16_t sid;
	int rc;

	if (device[0] && (rc = irq_device(svc, device, &sid, msg, msglen)) != 0)
		return rc;
	Riov__V1__InterruptListResponse *r = CALL_NEW(call, Riov__V1__InterruptListResponse,
						      riov__v1__interrupt_list_response__init);
	Riov__V1__InterruptSetting **v = riov_rpc_call_alloc(call, (svc->n_irqs + 1) * sizeof(*v));
	if (r == NULL || v == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < svc->n_irqs; i++)
		if (!device[0] || strcmp(svc->irqs[i]->device, device) == 0)
			v[r->n_interrupts++] = svc->irqs[i];
	r->interrupts = v;
	*resp = &r->base;
	return 0;
}

/* ------------------------------------------------------------------ RPC: Device */

static Riov__V1__DeviceInfo *dev_info(struct riov_rpc_call *call, struct riov_service *svc,
				      const struct svc_assign *x)
{
	Riov__V1__DeviceInfo *di = CALL_NEW(call, Riov__V1__DeviceInfo, riov__v1__device_info__init);
	Riov__V1__DeviceSpec *spec = CALL_NEW(call, Riov__V1__DeviceSpec, riov__v1__device_spec__init);
	struct riov_assign_info ai;
	char dev[64], drv[160] = "", path[128];

	if (di == NULL || spec == NULL)
		return NULL;
	riov_assign_get_info(x->a, &ai);
	if (x->spec != NULL) {
		*spec = *x->spec; /* shallow: the desired state outlives the call */
	} else {
		spec->name = (char *)x->name;
		spec->pci = riov_rpc_call_strdup(call, ai.pci);
		spec->domain_id = ai.did;
	}
	di->spec = spec;
	di->pci = riov_rpc_call_strdup(call, ai.pci);
	di->source_id = ai.sid;
	di->iommu_group = (uint32_t)ai.group;
	snprintf(dev, sizeof(dev), "/sys/bus/pci/devices/%s/driver", ai.pci);
	ssize_t n = readlink(dev, path, sizeof(path) - 1);
	if (n > 0) {
		path[n] = '\0';
		snprintf(drv, sizeof(drv), "%s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	}
	di->driver = riov_rpc_call_strdup(call, drv);
	di->domain_id = ai.did;
	di->mapped_bytes = ai.mapped_bytes;
	di->container_ranges = (uint32_t)ai.ranges;
	di->hw_faults = ai.hw_faults;
	if (x->spec == NULL) {
		char u[RIOV_DP_NAME_MAX + 8];
		snprintf(u, sizeof(u), "port %s", x->name);
		di->user = riov_rpc_call_strdup(call, u);
	} else {
		di->user = "guest";
	}
	di->state = "assigned";
	di->msix_vectors = ai.nvec;
	if (ai.nvec) {
		di->vectors = riov_rpc_call_alloc(call, ai.nvec * sizeof(*di->vectors));
		if (di->vectors == NULL)
			return NULL;
		for (unsigned v = 0; v < ai.nvec; v++) {
			Riov__V1__DeviceVector *dv = CALL_NEW(call, Riov__V1__DeviceVector,
							      riov__v1__device_vector__init);
			uint32_t irte;
			uint64_t raised;
			if (dv == NULL || riov_assign_vector(x->a, v, &irte, &raised) != 0)
				return NULL;
			dv->vector = v;
			dv->irte_index = irte;
			dv->raised = raised;
			di->vectors[di->n_vectors++] = dv;
		}
	}
	return di;
}

static int h_dev_assign(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DeviceAssignRequest *req = (const void *)reqm;
	char why[256];
	int rc;

	if (req->device == NULL) {
		snprintf(msg, msglen, "Device.Assign needs a device (name, and pci or pf + vf)");
		return -EINVAL;
	}
	rc = dev_assign(svc, req->device, msg, msglen);
	if (rc != 0)
		return rc;
	struct svc_assign *x = svc->asg[svc->n_asg - 1];
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		asg_free(svc, x);
		snprintf(msg, msglen, "device %s was not assigned: %s", req->device->name, why);
		return rc;
	}
	riov_log(RIOV_LOG_NOTICE, COMP, "device %s assigned by %s", x->name, riov_rpc_call_peer(call));
	Riov__V1__DeviceAssignResponse *r = CALL_NEW(call, Riov__V1__DeviceAssignResponse,
						     riov__v1__device_assign_response__init);
	if (r == NULL || (r->device = dev_info(call, svc, x)) == NULL)
		return -ENOMEM;
	*resp = &r->base;
	return 0;
}

static int h_dev_release(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DeviceReleaseRequest *req = (const void *)reqm;
	const char *name = str_or_empty(req->name);
	char why[256];
	int k = asg_index(svc, name), rc;

	if (k < 0) {
		snprintf(msg, msglen, "device %s is not assigned", name[0] ? name : "(no name given)");
		return -ENOENT;
	}
	struct svc_assign *x = svc->asg[k];
	if (x->spec == NULL) {
		snprintf(msg, msglen, "%s is the function of eth port %s: delete the port to release it",
			 name, name);
		return -EBUSY;
	}
	/* state first, like a delete */
	remove_at((void **)svc->asg, &svc->n_asg, (unsigned)k);
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		insert_at((void **)svc->asg, &svc->n_asg, (unsigned)k, x);
		snprintf(msg, msglen, "device %s was not released: %s", name, why);
		return rc;
	}
	riov_log(RIOV_LOG_NOTICE, COMP, "device %s released by %s", name, riov_rpc_call_peer(call));
	svc->asg[svc->n_asg++] = x; /* asg_free takes it out of the list again */
	asg_free(svc, x);
	return 0;
}

static int h_dev_list(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		      ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DeviceListRequest *req = (const void *)reqm;
	const char *name = str_or_empty(req->name);
	Riov__V1__DeviceListResponse *r = CALL_NEW(call, Riov__V1__DeviceListResponse,
						   riov__v1__device_list_response__init);
	Riov__V1__DeviceInfo **v = riov_rpc_call_alloc(call, (svc->n_asg + 1) * sizeof(*v));

	if (r == NULL || v == NULL)
		return -ENOMEM;
	if (name[0] && asg_index(svc, name) < 0) {
		snprintf(msg, msglen, "device %s is not assigned", name);
		return -ENOENT;
	}
	for (unsigned i = 0; i < svc->n_asg; i++) {
		if (svc->asg[i]->a == NULL || (name[0] && strcmp(svc->asg[i]->name, name) != 0))
			continue;
		if ((v[r->n_devices++] = dev_info(call, svc, svc->asg[i])) == NULL)
			return -ENOMEM;
	}
	r->devices = v;
	*resp = &r->base;
	return 0;
}

static Riov__V1__SriovInfo *sriov_info(struct riov_rpc_call *call, const Riov__V1__SriovSpec *spec)
{
	Riov__V1__SriovInfo *si = CALL_NEW(call, Riov__V1__SriovInfo, riov__v1__sriov_info__init);
	struct riov_sriov_info x;
	char err[128];

	if (si == NULL)
		return NULL;
	si->spec = (Riov__V1__SriovSpec *)spec;
	if (riov_sriov_get(spec->pf, &x, err, sizeof(err)) != 0)
		return si;
	si->total_vfs = x.total_vfs;
	si->driver = riov_rpc_call_strdup(call, x.driver);
	si->vfs = riov_rpc_call_alloc(call, (x.num_vfs + 1) * sizeof(*si->vfs));
	if (si->vfs == NULL)
		return NULL;
	for (unsigned v = 0; v < x.num_vfs; v++) {
		char vf[32];
		if (riov_sriov_vf(spec->pf, v, vf, sizeof(vf)) != 0)
			break;
		si->vfs[si->n_vfs++] = riov_rpc_call_strdup(call, vf);
	}
	return si;
}

static int h_dev_set_vfs(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DeviceSetVfsRequest *req = (const void *)reqm;
	struct riov_sriov_info before;
	char why[256];
	int rc;

	if (req->sriov == NULL) {
		snprintf(msg, msglen, "Device.SetVfs needs the PF and a VF count");
		return -EINVAL;
	}
	const char *pf = str_or_empty(req->sriov->pf);
	int k = sriov_index(svc, pf);
	if (k < 0 && req->sriov->num_vfs != 0 && svc->n_sriov >= SRIOV_MAX) {
		snprintf(msg, msglen, "too many SR-IOV PFs (at most %u)", SRIOV_MAX);
		return -ENOSPC;
	}
	if ((rc = riov_sriov_get(pf, &before, msg, msglen)) != 0)
		return rc;
	/* the state keeps the canonical address */
	struct riov_pci_addr a;
	char canon[16];
	riov_pci_parse(pf, &a); /* riov_sriov_get() parsed it */
	riov_pci_format(&a, canon, sizeof(canon));
	Riov__V1__SriovSpec *spec = malloc(sizeof(*spec));
	char *pfc = strdup(canon);
	if (spec == NULL || pfc == NULL) {
		free(spec);
		free(pfc);
		return -ENOMEM;
	}
	riov__v1__sriov_spec__init(spec);
	spec->pf = pfc;
	spec->num_vfs = req->sriov->num_vfs;
	if ((rc = sriov_apply(svc, spec, msg, msglen)) != 0) {
		riov__v1__sriov_spec__free_unpacked(spec, NULL);
		return rc;
	}
	Riov__V1__SriovSpec *old = k >= 0 ? svc->sriov[k] : NULL;
	if (k >= 0)
		remove_at((void **)svc->sriov, &svc->n_sriov, (unsigned)k);
	if (spec->num_vfs != 0)
		svc->sriov[svc->n_sriov++] = spec;
	rc = save_state(svc, why, sizeof(why));
	if (rc != 0) {
		char e2[128];
		if (spec->num_vfs != 0)
			svc->n_sriov--;
		if (old != NULL)
			svc->sriov[svc->n_sriov++] = old;
		riov_sriov_set(canon, before.num_vfs, e2, sizeof(e2));
		riov__v1__sriov_spec__free_unpacked(spec, NULL);
		snprintf(msg, msglen, "VF count of %s not changed: %s", canon, why);
		return rc;
	}
	if (old != NULL)
		riov__v1__sriov_spec__free_unpacked(old, NULL);
	riov_log(RIOV_LOG_NOTICE, COMP, "%s: %u VF(s) set by %s", canon, spec->num_vfs, riov_rpc_call_peer(call));
	Riov__V1__DeviceSetVfsResponse *r = CALL_NEW(call, Riov__V1__DeviceSetVfsResponse,
						     riov__v1__device_set_vfs_response__init);
	Riov__V1__SriovSpec *shown = CALL_NEW(call, Riov__V1__SriovSpec, riov__v1__sriov_spec__init);
	if (r == NULL || shown == NULL)
		return -ENOMEM;
	shown->pf = riov_rpc_call_strdup(call, canon);
	shown->num_vfs = req->sriov->num_vfs;
	if (spec->num_vfs == 0)
		riov__v1__sriov_spec__free_unpacked(spec, NULL); /* 0 VFs: nothing kept */
	if (shown->pf == NULL || (r->sriov = sriov_info(call, shown)) == NULL)
		return -ENOMEM;
	*resp = &r->base;
	return 0;
}

static int h_dev_list_vfs(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	Riov__V1__DeviceListVfsResponse *r = CALL_NEW(call, Riov__V1__DeviceListVfsResponse,
						      riov__v1__device_list_vfs_response__init);
	Riov__V1__SriovInfo **v = riov_rpc_call_alloc(call, (svc->n_sriov + 1) * sizeof(*v));

	if (r == NULL || v == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < svc->n_sriov; i++)
		if ((v[r->n_pfs++] = sriov_info(call, svc->sriov[i])) == NULL)
			return -ENOMEM;
	r->pfs = v;
	*resp = &r->base;
	return 0;
}

/* ------------------------------------------------------------------ RPC: Faults */

/* Name of the vhost port with source-id sid, or "". */
static const char *sid_owner(struct riov_service *svc, uint16_t sid)
{
	struct svc_assign *x = asg_by_sid(svc, sid);
	if (x != NULL)
		return x->name;
	for (unsigned i = 0; i < svc->n_ports; i++) {
		struct riov_dp_port_info pi;
		if (riov_dp_port_info(svc->dp, svc->ports[i]->name, &pi) == 0 &&
		    pi.type == RIOV_DP_PORT_VHOST && pi.sid == sid)
			return svc->ports[i]->name;
	}
	size_t ai;
	int k = own_sid(svc, sid, &ai);
	return k >= 0 ? svc->doms[k]->devices[ai]->device : "";
}

static int h_faults_read(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__FaultsReadRequest *req = (const void *)reqm;
	const char *device = str_or_empty(req->device);
	struct riov_dp_port_info pi = { 0 };
	struct riov_vtd_fault_stats fs;
	size_t ai;
	int own = device[0] ? own_device(svc, device, &ai) : -1;
	struct riov_dp_port_info api;

	/* faults the kernel logged for assigned functions and riovd has not read yet */
	if (svc->kmsg != NULL)
		riov_kmsg_poll(svc->kmsg);
	if (own >= 0) {
		pi.type = RIOV_DP_PORT_VHOST; /* filter by the attached device's source-id below */
		pi.sid = (uint16_t)svc->doms[own]->devices[ai]->source_id;
	} else if (device[0] && asg_target(svc, device, 0, &api) != NULL) {
		pi.type = RIOV_DP_PORT_VHOST; /* filter by the assigned function's source-id */
		pi.sid = api.sid;
	} else if (device[0]) {
		if (port_index(svc, device) < 0 || riov_dp_port_info(svc->dp, device, &pi) != 0) {
			snprintf(msg, msglen, "port %s does not exist", device);
			return -ENOENT;
		}
	}
	struct riov_vtd_fault *rec = malloc(FAULTS_MAX * sizeof(*rec));
	if (rec == NULL)
		return -ENOMEM;
	size_t n = riov_vtd_faults_read(svc->vtd, rec, FAULTS_MAX, false);
	Riov__V1__FaultsReadResponse *r = CALL_NEW(call, Riov__V1__FaultsReadResponse,
						   riov__v1__faults_read_response__init);
	Riov__V1__Fault **v = riov_rpc_call_alloc(call, (n + 1) * sizeof(*v));
	if (r == NULL || v == NULL) {
		free(rec);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (device[0] && (pi.type != RIOV_DP_PORT_VHOST || rec[i].sid != pi.sid))
			continue;
		if (req->max && r->n_faults == req->max)
			break;
		Riov__V1__Fault *f = CALL_NEW(call, Riov__V1__Fault, riov__v1__fault__init);
		if (f == NULL) {
			free(rec);
			return -ENOMEM;
		}
		struct riov_vtd_context_info ci;
		f->seq = i + 1; /* position in the log, oldest first */
		f->device = (char *)sid_owner(svc, rec[i].sid);
		f->source_id = rec[i].sid;
		if (!rec[i].is_ir && riov_vtd_context_get(svc->vtd, rec[i].sid, &ci) == 0 && ci.present)
			f->domain_id = ci.did;
		f->address = rec[i].addr;
		f->reason = rec[i].reason;
		f->reason_text = (char *)fault_text(rec[i].reason);
		f->write = rec[i].is_write;
		f->interrupt = rec[i].is_ir;
		f->count = (uint32_t)(rec[i].count > UINT32_MAX ? UINT32_MAX : rec[i].count);
		v[r->n_faults++] = f;
	}
	free(rec);
	riov_vtd_fault_stats(svc->vtd, &fs);
	r->faults = v;
	r->overflow = riov_vtd_fault_overflowed(svc->vtd);
	r->dropped = fs.overflow;
	*resp = &r->base;
	return 0;
}

static int h_faults_clear(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__FaultsClearRequest *req = (const void *)reqm;
	struct riov_vtd_fault rec[64];
	size_t k, total = 0;

	if (req->device != NULL && req->device[0] != '\0') {
		snprintf(msg, msglen, "the VT-d fault log is cleared as a whole, like the hardware's fault "
			 "recording registers: run 'riovctl faults clear' without a device");
		return -EOPNOTSUPP;
	}
	while ((k = riov_vtd_faults_read(svc->vtd, rec, 64, true)) > 0)
		total += k;
	Riov__V1__FaultsClearResponse *r = CALL_NEW(call, Riov__V1__FaultsClearResponse,
						    riov__v1__faults_clear_response__init);
	if (r == NULL)
		return -ENOMEM;
	r->cleared = (uint32_t)total;
	riov_log(RIOV_LOG_NOTICE, COMP, "%zu fault record(s) cleared by %s", total, riov_rpc_call_peer(call));
	*resp = &r->base;
	return 0;
}

/* ------------------------------------------------------------------ RPC: Metrics */

static uint64_t faults_total(const struct riov_vtd_fault_stats *fs)
{
	uint64_t t = 0;
	for (size_t i = 0; i < sizeof(fs->by_reason) / sizeof(fs->by_reason[0]); i++)
		t += fs->by_reason[i];
	return t;
}

static int fill_snapshot(struct riov_rpc_call *call, struct riov_service *svc, Riov__V1__MetricsSnapshot **out)
{
	Riov__V1__MetricsSnapshot *s = CALL_NEW(call, Riov__V1__MetricsSnapshot,
						riov__v1__metrics_snapshot__init);
	struct riov_dp_worker_stats ws[RIOV_DP_MAX_WORKERS];
	struct riov_vtd_fault_stats fs;

	if (s == NULL)
		return -ENOMEM;
	if (svc->kmsg != NULL)
		riov_kmsg_poll(svc->kmsg); /* faults the kernel logged for assigned functions */
	s->timestamp_ns = now_ns();
	s->uptime_s = uptime_s(svc);
	int rc = collect_counters(call, svc, NULL, &s->ports, &s->n_ports);
	if (rc != 0)
		return rc;
	unsigned nw = riov_dp_worker_stats(svc->dp, ws, RIOV_DP_MAX_WORKERS);
	s->workers = riov_rpc_call_alloc(call, (nw + 1) * sizeof(*s->workers));
	if (s->workers == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < nw; i++) {
		Riov__V1__WorkerCounters *w = CALL_NEW(call, Riov__V1__WorkerCounters,
						       riov__v1__worker_counters__init);
		if (w == NULL)
			return -ENOMEM;
		w->id = i;
		w->lcore = ws[i].lcore;
		w->polls = ws[i].loops;
		w->busy_cycles = ws[i].busy_cycles;
		w->idle_cycles = ws[i].idle_cycles;
		s->workers[s->n_workers++] = w;
	}
	riov_vtd_fault_stats(svc->vtd, &fs);
	s->faults = faults_total(&fs);
	*out = s;
	return 0;
}

static int h_metrics_snapshot(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			      ProtobufCMessage **resp, char *msg, size_t msglen)
{
	Riov__V1__MetricsSnapshotResponse *r = CALL_NEW(call, Riov__V1__MetricsSnapshotResponse,
							riov__v1__metrics_snapshot_response__init);
	if (r == NULL)
		return -ENOMEM;
	int rc = fill_snapshot(call, riov_rpc_call_user(call), &r->snapshot);
	if (rc != 0)
		return rc;
	*resp = &r->base;
	return 0;
}

static int h_metrics_watch(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			   ProtobufCMessage **resp, char *msg, size_t msglen)
{
	const Riov__V1__MetricsWatchRequest *req = (const void *)reqm;
	unsigned iv = req->interval_ms ? req->interval_ms : 1000;

	iv = iv < WATCH_MIN_MS ? WATCH_MIN_MS : iv > WATCH_MAX_MS ? WATCH_MAX_MS : iv;
	riov_rpc_call_set_interval(call, iv);
	Riov__V1__MetricsWatchResponse *r = CALL_NEW(call, Riov__V1__MetricsWatchResponse,
						     riov__v1__metrics_watch_response__init);
	if (r == NULL)
		return -ENOMEM;
	int rc = fill_snapshot(call, riov_rpc_call_user(call), &r->snapshot);
	if (rc != 0)
		return rc;
	if (req->count && riov_rpc_call_stream_seq(call) + 1 >= req->count)
		riov_rpc_call_end_stream(call);
	*resp = &r->base;
	return 0;
}

/* ------------------------------------------------------------------ RPC: Config */

static int h_config_save(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	Riov__V1__State st;
	int rc = save_state(svc, msg, msglen);

	if (rc != 0)
		return rc;
	Riov__V1__ConfigSaveResponse *r = CALL_NEW(call, Riov__V1__ConfigSaveResponse,
						   riov__v1__config_save_response__init);
	if (r == NULL)
		return -ENOMEM;
	build_state(svc, &st, svc->generation);
	r->path = (char *)riov_state_store_path(svc->store);
	r->bytes = riov__v1__state__get_packed_size(&st);
	r->generation = svc->generation;
	*resp = &r->base;
	return 0;
}

static int h_config_show(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__ConfigShowRequest *req = (const void *)reqm;
	Riov__V1__ConfigShowResponse *r = CALL_NEW(call, Riov__V1__ConfigShowResponse,
						   riov__v1__config_show_response__init);
	Riov__V1__State *st;

	if (r == NULL)
		return -ENOMEM;
	r->path = (char *)riov_state_store_path(svc->store);
	if (!req->saved) {
		st = riov_rpc_call_alloc(call, sizeof(*st));
		if (st == NULL)
			return -ENOMEM;
		build_state(svc, st, svc->generation);
	} else {
		void *buf = NULL;
		size_t len = 0;
		int rc = riov_state_store_read(svc->store, &buf, &len, msg, msglen);
		if (rc == -ENOENT) {
			snprintf(msg, msglen, "there is no state file at %s yet", riov_state_store_path(svc->store));
			return rc;
		}
		if (rc != 0)
			return rc;
		st = riov__v1__state__unpack(riov_rpc_call_allocator(call), len, buf);
		free(buf);
		if (st == NULL) {
			snprintf(msg, msglen, "%s does not hold a riov.v1.State", riov_state_store_path(svc->store));
			return -EBADMSG;
		}
	}
	r->state = st;
	*resp = &r->base;
	return 0;
}

/* ------------------------------------------------------------------ RPC: not implemented */

static int h_unimplemented(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			   ProtobufCMessage **resp, char *msg, size_t msglen)
{
	const char *m = riov_rpc_call_method(call);
	const char *why = "it is part of riov.v1 but not provided by this riovd yet";

	snprintf(msg, msglen, "%s is not implemented yet: %s", m, why);
	return RIOV__V1__STATUS__UNIMPLEMENTED;
}

static const struct {
	const char *method;
	riov_rpc_handler fn;
	bool stream;
} handlers[] = {
	{ "Network.Add", h_net_add, false },
	{ "Network.Delete", h_net_delete, false },
	{ "Network.List", h_net_list, false },
	{ "Port.Add", h_port_add, false },
	{ "Port.Delete", h_port_delete, false },
	{ "Port.List", h_port_list, false },
	{ "Port.Stats", h_port_stats, false },
	{ "Domain.Show", h_domain_show, false },
	{ "Domain.TranslateProbe", h_domain_probe, false },
	{ "Domain.Create", h_domain_create, false },
	{ "Domain.Map", h_domain_map, false },
	{ "Domain.Unmap", h_domain_unmap, false },
	{ "Domain.Attach", h_domain_attach, false },
	{ "Interrupt.Set", h_irq_set, false },
	{ "Interrupt.Mask", h_irq_mask, false },
	{ "Interrupt.Coalesce", h_irq_coalesce, false },
	{ "Interrupt.List", h_irq_list, false },
	{ "Device.Assign", h_dev_assign, false },
	{ "Device.Release", h_dev_release, false },
	{ "Device.List", h_dev_list, false },
	{ "Device.SetVfs", h_dev_set_vfs, false },
	{ "Device.ListVfs", h_dev_list_vfs, false },
	{ "Faults.Read", h_faults_read, false },
	{ "Faults.Clear", h_faults_clear, false },
	{ "Metrics.Snapshot", h_metrics_snapshot, false },
	{ "Metrics.Watch", h_metrics_watch, true },
	{ "Config.Save", h_config_save, false },
	{ "Config.Show", h_config_show, false },
};
#define N_HANDLERS (sizeof(handlers) / sizeof(handlers[0]))

static int register_all(struct riov_service *svc, char *err, size_t errlen)
{
	for (size_t i = 0; i < riov_method_count(); i++) {
		const struct riov_method *m = riov_method_at(i);
		riov_rpc_handler fn = h_unimplemented;
		bool stream = m->stream;
		int rc;

		if (strcmp(m->name, "Node.Info") == 0)
			continue; /* built into the server */
		for (size_t k = 0; k < N_HANDLERS; k++)
			if (strcmp(handlers[k].method, m->name) == 0)
				fn = handlers[k].fn, stream = handlers[k].stream;
		if (stream)
			rc = riov_rpc_register_stream(svc->rpc, m->name, m->role, fn, m->req, 1000);
		else
			rc = riov_rpc_register(svc->rpc, m->name, m->role, fn, m->req);
		if (rc != 0) {
			snprintf(err, errlen, "cannot register %s: %s", m->name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ Prometheus */

struct port_array {
	struct riov_dp_port_stats *v;
	size_t n, cap;
};

static void port_array_add(void *arg, const struct riov_dp_port_stats *st)
{
	struct port_array *a = arg;
	if (a->n < a->cap)
		a->v[a->n++] = *st;
}

static void port_metric(struct evbuffer *out, const struct port_array *pa, const char *name,
			const char *help, size_t field_off)
{
	riov_metrics_header(out, name, help, "counter");
	for (size_t i = 0; i < pa->n; i++) {
		const char *labels[] = { "port", pa->v[i].name, "net", pa->v[i].net };
		uint64_t v;
		memcpy(&v, (const char *)&pa->v[i] + field_off, sizeof(v));
		riov_metrics_sample_u64(out, name, labels, 2, v);
	}
}

/* One queue pair of a vhost port in a scrape. */
struct queue_row {
	const struct riov_dp_port_stats *port;
	struct riov_dp_queue_stats q;
};

/* The queue pairs of pa's vhost ports (eth ports have none); *n rows, NULL when out of memory. */
static struct queue_row *queue_rows(struct riov_dp *dp, const struct port_array *pa, size_t *n)
{
	struct riov_dp_queue_stats qs[RIOV_DP_MAX_QUEUE_PAIRS];
	size_t cap = 0;

	*n = 0;
	for (size_t i = 0; i < pa->n; i++)
		cap += pa->v[i].type == RIOV_DP_PORT_VHOST ? pa->v[i].queues : 0;
	struct queue_row *v = calloc(cap + 1, sizeof(*v));
	for (size_t i = 0; v != NULL && i < pa->n; i++) {
		if (pa->v[i].type != RIOV_DP_PORT_VHOST)
			continue;
		int k = riov_dp_port_queue_stats(dp, pa->v[i].name, qs, RIOV_DP_MAX_QUEUE_PAIRS);
		for (int j = 0; j < k && *n < cap; j++)
			v[(*n)++] = (struct queue_row){ .port = &pa->v[i], .q = qs[j] };
	}
	return v;
}

typedef uint64_t (*queue_value_fn)(const struct riov_dp_queue_stats *q, bool tx);

/* One per-queue metric, a sample per queue pair and direction (rx: from the guest, tx: to it). */
static void queue_metric(struct evbuffer *out, const struct queue_row *v, size_t n, const char *name,
			 const char *help, const char *type, queue_value_fn get)
{
	char q[8];

	riov_metrics_header(out, name, help, type);
	for (size_t i = 0; i < n; i++) {
		snprintf(q, sizeof(q), "%u", v[i].q.queue);
		for (int tx = 0; tx < 2; tx++) {
			const char *labels[] = { "port", v[i].port->name, "net", v[i].port->net, "queue", q,
						 "direction", tx ? "tx" : "rx" };
			riov_metrics_sample_u64(out, name, labels, 4, get(&v[i].q, tx));
		}
	}
}

static uint64_t q_packets(const struct riov_dp_queue_stats *q, bool tx)
{
	return tx ? q->tx_packets : q->rx_packets;
}

static uint64_t q_bytes(const struct riov_dp_queue_stats *q, bool tx)
{
	return tx ? q->tx_bytes : q->rx_bytes;
}

static uint64_t q_running(const struct riov_dp_queue_stats *q, bool tx)
{
	return tx ? q->tx_running : q->rx_running;
}

static void queue_metrics(struct evbuffer *out, struct riov_dp *dp, const struct port_array *pa)
{
	size_t n;
	struct queue_row *v = queue_rows(dp, pa, &n);

	queue_metric(out, v, n, "riov_port_queue_packets_total",
		     "Packets of a vhost port's queue pair: rx from the guest (its TX vring), tx to it.",
		     "counter", q_packets);
	queue_metric(out, v, n, "riov_port_queue_bytes_total", "Bytes of a vhost port's queue pair.",
		     "counter", q_bytes);
	queue_metric(out, v, n, "riov_port_queue_running",
		     "1 while the vring of a queue pair and direction is set up and served.", "gauge",
		     q_running);
	free(v);
}

static void collect(struct evbuffer *out, void *arg)
{
	struct riov_service *svc = arg;
	struct port_array pa = { .cap = svc->n_ports };
	struct riov_vtd_fault_stats fs;
	struct riov_vtd_irq_stats is;
	struct riov_dp_worker_stats ws[RIOV_DP_MAX_WORKERS];
	char label[16];

	pa.v = calloc(pa.cap + 1, sizeof(*pa.v));
	if (pa.v != NULL)
		riov_dp_port_foreach(svc->dp, port_array_add, &pa);
	port_metric(out, &pa, "riov_port_rx_packets_total", "Packets received from a port (guest TX or wire).",
		    offsetof(struct riov_dp_port_stats, rx_packets));
	port_metric(out, &pa, "riov_port_tx_packets_total", "Packets sent to a port (guest RX or wire).",
		    offsetof(struct riov_dp_port_stats, tx_packets));
	port_metric(out, &pa, "riov_port_rx_bytes_total", "Bytes received from a port.",
		    offsetof(struct riov_dp_port_stats, rx_bytes));
	port_metric(out, &pa, "riov_port_tx_bytes_total", "Bytes sent to a port.",
		    offsetof(struct riov_dp_port_stats, tx_bytes));
	riov_metrics_header(out, "riov_port_drops_total", "Packets dropped, by port and cause.", "counter");
	for (size_t i = 0; i < pa.n; i++)
		for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++) {
			const char *labels[] = { "port", pa.v[i].name, "net", pa.v[i].net, "cause",
						 riov_dp_drop_names[d] };
			riov_metrics_sample_u64(out, "riov_port_drops_total", labels, 3, pa.v[i].drops[d]);
		}
	queue_metrics(out, svc->dp, &pa);
	port_metric(out, &pa, "riov_iotlb_hits_total",
		    "Guest address translations answered by a port's IOTLB cursors (last hit or IOTLB).",
		    offsetof(struct riov_dp_port_stats, iotlb_hits));
	port_metric(out, &pa, "riov_iotlb_misses_total", "Guest address translations that walked the page tables.",
		    offsetof(struct riov_dp_port_stats, iotlb_misses));
	port_metric(out, &pa, "riov_port_dma_faults_total", "DMA translations of a port that faulted.",
		    offsetof(struct riov_dp_port_stats, dma_faults));
	port_metric(out, &pa, "riov_interrupts_total", "Interrupts raised towards a port's guest.",
		    offsetof(struct riov_dp_port_stats, notifications));
	free(pa.v);

	riov_vtd_fault_stats(svc->vtd, &fs);
	riov_metrics_header(out, "riov_iommu_faults_total", "VT-d faults of the node's remapping unit, by "
			    "fault reason (recorded, collapsed or suppressed).", "counter");
	for (size_t i = 0; i < N_REASONS; i++) {
		const char *labels[] = { "reason", fault_reasons[i].label };
		riov_metrics_sample_u64(out, "riov_iommu_faults_total", labels, 1,
					fs.by_reason[fault_reasons[i].code]);
	}
	riov_metrics_header(out, "riov_iommu_fault_log_overflow_total",
			    "Faults not recorded because the fault log was full.", "counter");
	riov_metrics_sample_u64(out, "riov_iommu_fault_log_overflow_total", NULL, 0, fs.overflow);
	riov_vtd_irq_stats(svc->vtd, &is);
	riov_metrics_header(out, "riov_iommu_interrupts_delivered_total",
			    "Interrupts delivered through the interrupt-remapping table.", "counter");
	riov_metrics_sample_u64(out, "riov_iommu_interrupts_delivered_total", NULL, 0, is.delivered);

	unsigned nw = riov_dp_worker_stats(svc->dp, ws, RIOV_DP_MAX_WORKERS);
	riov_metrics_header(out, "riov_worker_busy_ratio",
			    "Share of a worker's cycles spent in loops that found work, since start.", "gauge");
	for (unsigned w = 0; w < nw; w++) {
		uint64_t all = ws[w].busy_cycles + ws[w].idle_cycles;
		const char *labels[] = { "worker", label };
		snprintf(label, sizeof(label), "%u", w);
		riov_metrics_sample_double(out, "riov_worker_busy_ratio", labels, 1,
					   all ? (double)ws[w].busy_cycles / (double)all : 0.0);
	}
	riov_metrics_header(out, "riov_worker_loops_total", "Poll loops a worker ran.", "counter");
	for (unsigned w = 0; w < nw; w++) {
		const char *labels[] = { "worker", label };
		snprintf(label, sizeof(label), "%u", w);
		riov_metrics_sample_u64(out, "riov_worker_loops_total", labels, 1, ws[w].loops);
	}
	riov_metrics_header(out, "riov_state_generation", "Generation of the last state file written.",
			    "gauge");
	riov_metrics_sample_u64(out, "riov_state_generation", NULL, 0, svc->generation);
	if (svc->rpc)
		riov_rpc_server_metrics(svc->rpc, out);
}

/* ------------------------------------------------------------------ lifecycle */

int riov_service_create(const struct riov_service_params *p, struct riov_service **out, char *err,
			size_t errlen)
{
	struct riov_service *svc = calloc(1, sizeof(*svc));
	int rc;

	if (svc == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	svc->cfg = p->cfg;
	svc->dp = p->dp;
	svc->vtd = riov_dp_vtd(p->dp);
	svc->base = p->base;
	clock_gettime(CLOCK_MONOTONIC, &svc->started);
	rc = riov_state_store_open(p->cfg->state_dir, &svc->store, err, errlen);
	if (rc != 0) {
		free(svc);
		return rc;
	}
	*out = svc;
	return 0;
}

int riov_service_listen(struct riov_service *svc, char *err, size_t errlen)
{
	const struct riov_config *c = svc->cfg;
	struct riov_rpc_config rc_cfg = {
		.unix_path = c->rpc_socket[0] ? c->rpc_socket : NULL,
		.tls_listen = c->rpc_listen[0] ? c->rpc_listen : NULL,
		.tls_cert = c->tls_cert,
		.tls_key = c->tls_key,
		.tls_ca = c->tls_ca,
	};
	int rc;

	rc = riov_rpc_server_new(svc->base, &rc_cfg, &svc->rpc, err, errlen);
	if (rc != 0)
		return rc;
	riov_rpc_server_set_user(svc->rpc, svc);
	riov_rpc_server_set_node_info(svc->rpc, node_info, svc);
	rc = register_all(svc, err, errlen);
	if (rc != 0)
		return rc;
	if (rc_cfg.unix_path)
		riov_log(RIOV_LOG_NOTICE, COMP, "control API on unix:%s", rc_cfg.unix_path);
	if (rc_cfg.tls_listen)
		riov_log(RIOV_LOG_NOTICE, COMP, "control API on tls://%s (port %d)", rc_cfg.tls_listen,
			 riov_rpc_server_tls_port(svc->rpc));
	if (c->metrics_listen[0]) {
		rc = riov_metrics_http_start(svc->base, c->metrics_listen, collect, svc, &svc->metrics, err,
					     errlen);
		if (rc != 0)
			return rc;
		riov_log(RIOV_LOG_NOTICE, COMP, "Prometheus metrics on http://%s/metrics (port %d)",
			 c->metrics_listen, riov_metrics_http_port(svc->metrics));
	}
	return 0;
}

void riov_service_counts(const struct riov_service *svc, unsigned *nets, unsigned *ports)
{
	*nets = svc->n_nets;
	*ports = svc->n_ports;
}

void riov_service_destroy(struct riov_service *svc)
{
	if (svc == NULL)
		return;
	riov_metrics_http_stop(svc->metrics);
	if (svc->rpc)
		riov_rpc_server_free(svc->rpc);
	/* assigned functions: a port's device stops (the port goes) before its domain does */
	while (svc->n_asg > 0) {
		struct svc_assign *x = svc->asg[svc->n_asg - 1];
		if (x->spec == NULL)
			riov_dp_port_del(svc->dp, x->name);
		asg_free(svc, x);
	}
	for (unsigned i = 0; i < svc->n_sriov; i++)
		riov__v1__sriov_spec__free_unpacked(svc->sriov[i], NULL); /* the VFs stay */
	riov_kmsg_close(svc->kmsg);
	riov_state_store_close(svc->store);
	for (unsigned i = 0; i < svc->n_ports; i++)
		riov__v1__port_spec__free_unpacked(svc->ports[i], NULL);
	for (unsigned i = 0; i < svc->n_nets; i++)
		riov__v1__network_spec__free_unpacked(svc->nets[i], NULL);
	for (unsigned i = 0; i < svc->n_doms; i++)
		riov__v1__domain_spec__free_unpacked(svc->doms[i], NULL);
	for (unsigned i = 0; i < svc->n_irqs; i++)
		riov__v1__interrupt_setting__free_unpacked(svc->irqs[i], NULL);
	free(svc);
}
