/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Port: vhost-user, eth and uplink ports in the desired state, and their counters. What
 * is an uplink's own (its name, VTEP address and gateway, the kernel side) is svc_fabric.c's.
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h), but their content is untrusted: the port type, network, queue
 * count, features and socket path are checked here, names by the dataplane. The same checks
 * apply to the configuration file's ports and to the state file's, replayed at start.
 * - A vhost socket path is confined to the configuration's socket_dir by
 *   riov_vhost_socket_confine() (vmm/vhost.h): relative paths resolve under it, absolute ones
 *   must lie inside it, no "..", no symbolic link on the way, no other file at the path; the
 *   dataplane gets a path through the checked directory's fd, so nothing renamed afterwards can
 *   move the socket elsewhere.
 * - An eth or uplink port's devargs must name a driver and keys of the configuration's eth_devargs_allow
 *   (never settable through the API), in a strict syntax without paths, before DPDK's probe sees
 *   them.
 * - An eth port with `assign` acts on the host (VFIO, sysfs) for the PCI function an admin
 *   names; vmm/pci.c parses it strictly, and its domain holds riovd's own packet memory only.
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
#include <unistd.h>

#include "common/log.h"
#include "control/config.h"
#include "control/service_internal.h"
#include "vmm/vhost.h"

RIOV_LOG_COMPONENT("riovd", RIOV_LOG_INFO);

int svc_port_index(const struct riov_service *svc, const char *name)
{
	for (unsigned i = 0; i < svc->n_ports; i++)
		if (strcmp(svc->ports[i]->name, name) == 0)
			return (int)i;
	return -1;
}

/* Virtio features a port may withhold from its guest (features_off; the configuration file's
 * port keys of the same names): single features by the names Port.List shows negotiated ones by
 * (riov_virtio_feature_name(), one table of names for both), and "offloads": every checksum and
 * segmentation offload, both ways; the last entry, and the only one an eth port takes: there it
 * turns off receive coalescing, dataplane/gro.h. */
static const uint64_t feature_bits[] = {
	1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF,  1ull << RIOV_VIRTIO_F_IN_ORDER,
	1ull << RIOV_VIRTIO_F_RING_EVENT_IDX, 1ull << RIOV_VIRTIO_F_RING_INDIRECT,
	1ull << RIOV_VIRTIO_F_RING_PACKED,    RIOV_VIRTIO_NET_OFFLOADS,
};
#define N_FEATURES (sizeof(feature_bits) / sizeof(feature_bits[0]))
_Static_assert(N_FEATURES == SVC_N_FEATURES, "SVC_N_FEATURES counts feature_bits");

/* The features_off name of feature_bits[k]. */
static const char *feature_name(size_t k)
{
	if (feature_bits[k] == RIOV_VIRTIO_NET_OFFLOADS)
		return "offloads";
	return riov_virtio_feature_name((unsigned)__builtin_ctzll(feature_bits[k]));
}

/* The path a vhost port serves, as people read it: relative paths live under the configuration's
 * socket_dir (riov_vhost_socket_confine() decides whether it may be served). */
static int socket_path(const struct riov_config *cfg, const char *given, char *out, size_t len)
{
	int n;

	if (given[0] == '/')
		n = snprintf(out, len, "%s", given);
	else
		n = snprintf(out, len, "%s/%s", cfg->socket_dir, given);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The dataplane's port type of ps. Returns 0 or -errno with err filled. */
static int port_type(const Riov__V1__PortSpec *ps, const char *name, enum riov_dp_port_type *type,
		     char *err, size_t errlen)
{
	switch (ps->type) {
	case RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST: *type = RIOV_DP_PORT_VHOST; return 0;
	case RIOV__V1__PORT_TYPE__PORT_TYPE_ETH: *type = RIOV_DP_PORT_ETH; return 0;
	case RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK: *type = RIOV_DP_PORT_UPLINK; return 0;
	case RIOV__V1__PORT_TYPE__PORT_TYPE_UNSPECIFIED:
		snprintf(err, errlen, "port %s: give a port type (vhost, eth or uplink)", name);
		return -EINVAL;
	case RIOV__V1__PORT_TYPE__PORT_TYPE_VXLAN:
	case RIOV__V1__PORT_TYPE__PORT_TYPE_RDMA:
	case RIOV__V1__PORT_TYPE__PORT_TYPE_VF:
		snprintf(err, errlen, "port %s: port type %s is not implemented yet (use vhost, eth or "
			 "uplink)", name,
			 ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_VXLAN ? "vxlan" :
			 ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_RDMA ? "rdma" : "vf");
		return -EOPNOTSUPP;
	default:
		snprintf(err, errlen, "port %s: unknown port type %d (use vhost, eth or uplink)", name,
			 (int)ps->type);
		return -EINVAL;
	}
}

/* The dataplane's port type as people and riovctl name it. */
static const char *type_name(enum riov_dp_port_type t)
{
	switch (t) {
	case RIOV_DP_PORT_VHOST: return "vhost";
	case RIOV_DP_PORT_ETH: return "eth";
	case RIOV_DP_PORT_UPLINK: return "uplink";
	case RIOV_DP_PORT_VTEP: return "vtep";
	}
	return "?";
}

/* The features_off of ps as virtio feature bits. Returns 0 or -errno with err filled. */
static int port_features_off(const Riov__V1__PortSpec *ps, struct riov_dp_port_params *pp,
			     char *err, size_t errlen)
{
	for (size_t i = 0; i < ps->n_features_off; i++) {
		size_t k;
		for (k = 0; k < N_FEATURES; k++)
			if (strcmp(str_or_empty(ps->features_off[i]), feature_name(k)) == 0)
				break;
		if (k == N_FEATURES) {
			char names[128];
			size_t o = 0;
			for (size_t j = 0; j < N_FEATURES && o < sizeof(names); j++)
				o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", j ? ", " : "",
						      feature_name(j));
			snprintf(err, errlen, "port %s: unknown virtio feature '%.64s' (features_off takes "
				 "%s)", pp->name, str_or_empty(ps->features_off[i]), names);
			return -EINVAL;
		}
		if (pp->type != RIOV_DP_PORT_VHOST && feature_bits[k] != RIOV_VIRTIO_NET_OFFLOADS) {
			snprintf(err, errlen, "port %s: an eth or uplink port takes only 'offloads' in "
				 "features_off (its receive coalescing of TCP); '%s' is for vhost ports",
				 pp->name, feature_name(k));
			return -EINVAL;
		}
		pp->features_off |= feature_bits[k];
	}
	return 0;
}

/* ---- eth devargs --------------------------------------------------------------------------------
 * DPDK would create whatever a devargs string names (net_pcap0,tx_pcap=/etc/shadow writes a file
 * as root), so only drivers and keys of the configuration's eth_devargs_allow pass, in a syntax
 * parsed strictly here (the library has no DPDK; the subset below is one DPDK parses the same
 * way): NAME[,KEY=VALUE]... where NAME is a PCI address (DDDD:BB:DD.F or BB:DD.F: the "pci"
 * entry) or an allowed vdev driver followed by an optional instance number (net_af_packet0: DPDK
 * matches vdev drivers by name prefix, so nothing but digits may follow the driver's name); KEY
 * one of that entry's keys, at most once; VALUE 1-127 characters of [A-Za-z0-9._:@-]: no '/',
 * no quotes, brackets, spaces or separators, so no path and no nested list. */

#define DEVARGS_ALLOW_DEFAULT                                                                      \
	"net_af_packet:iface,qpairs,blocksz,framesz,framecnt,qdisc_bypass; "                       \
	"net_af_xdp:iface,start_queue,queue_count; net_tap:iface,mac; net_null:size,copy,no-rx; "  \
	"net_ring; pci"

/* The configured allow list, or the default one. */
static const char *devargs_policy(const struct riov_config *cfg)
{
	return cfg->eth_devargs_allow[0] ? cfg->eth_devargs_allow : DEVARGS_ALLOW_DEFAULT;
}

static bool span_is(const char *a, size_t n, const char *b)
{
	return strlen(b) == n && memcmp(a, b, n) == 0;
}

/* The entry of policy for driver (n bytes): *keys gets its key list ("" for none) and *klen its
 * length. Returns whether the driver is listed. */
static bool policy_entry(const char *policy, const char *driver, size_t n, const char **keys,
			 size_t *klen)
{
	for (const char *e = policy; *e;) {
		e += strspn(e, " \t");
		size_t len = strcspn(e, ";");
		size_t dl = strcspn(e, ":;");
		size_t end = dl;
		while (end > 0 && (e[end - 1] == ' ' || e[end - 1] == '\t'))
			end--;
		if (end == n && memcmp(e, driver, n) == 0) {
			*keys = dl < len ? e + dl + 1 : "";
			*klen = dl < len ? len - dl - 1 : 0;
			return true;
		}
		e += len + (e[len] == ';');
	}
	return false;
}

/* Whether key (n bytes) is in the comma-separated list keys (klen bytes). */
static bool key_listed(const char *keys, size_t klen, const char *key, size_t n)
{
	for (size_t i = 0; i < klen;) {
		i += strspn(keys + i, " \t");
		size_t len = strcspn(keys + i, ",;");
		if (len > klen - i)
			len = klen - i;
		size_t end = len;
		while (end > 0 && (keys[i + end - 1] == ' ' || keys[i + end - 1] == '\t'))
			end--;
		if (end == n && memcmp(keys + i, key, n) == 0)
			return true;
		i += len + 1;
	}
	return false;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Whether the n bytes at s are a PCI address: [DDDD:]BB:DD.F in hexadecimal. */
static bool pci_addr(const char *s, size_t n)
{
	static const char full[] = "xxxx:xx:xx.x";
	const char *pat = n == sizeof(full) - 1 ? full : n == sizeof(full) - 6 ? full + 5 : NULL;

	if (pat == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (pat[i] == 'x' ? !is_hex(s[i]) : s[i] != pat[i])
			return false;
	return true;
}

/* The driver a device name (n bytes) asks for: "pci" for a PCI address, else the name without
 * its instance number. Returns the driver's length, 0 when the name is not of either kind. */
static size_t devargs_driver(const char *name, size_t n, const char **drv)
{
	size_t k = n;

	if (pci_addr(name, n)) {
		*drv = "pci";
		return 3;
	}
	*drv = name;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_'))
			return 0;
	while (k > 0 && name[k - 1] >= '0' && name[k - 1] <= '9')
		k--;
	return k > 0 && name[0] >= 'a' && name[0] <= 'z' ? k : 0;
}

static bool value_ok(const char *v, size_t n)
{
	if (n == 0 || n > 127)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= '0' && v[i] <= '9') || strchr("._:@-", v[i]) != NULL))
			return false;
	return true;
}

/* Check one KEY=VALUE (n bytes) of driver's devargs against its allowed keys (klen bytes at
 * keys). Returns 0 or -EINVAL with why filled. */
static int devargs_kv(const char *kv, size_t n, const char *drv, size_t dl, const char *keys,
		      size_t klen, char *why, size_t whylen)
{
	size_t kl = strcspn(kv, "=,");

	if (kl > n || kl == n || kl == 0) {
		snprintf(why, whylen, "'%.*s' is not KEY=VALUE", (int)(n > 64 ? 64 : n), kv);
		return -EINVAL;
	}
	if (!key_listed(keys, klen, kv, kl)) {
		snprintf(why, whylen, "key '%.*s' of %.*s is not allowed (allowed: %.*s)",
			 (int)(kl > 64 ? 64 : kl), kv, (int)dl, drv, klen ? (int)klen : 6,
			 klen ? keys : "no key");
		return -EINVAL;
	}
	if (!value_ok(kv + kl + 1, n - kl - 1)) {
		snprintf(why, whylen, "the value of '%.*s' must be 1-127 characters of "
			 "[A-Za-z0-9._:@-] (no paths, quotes, brackets or spaces)", (int)kl, kv);
		return -EINVAL;
	}
	return 0;
}

/* Whether the key of the KEY=VALUE at kv is one of the checked KEY=VALUE items from first on. */
static bool key_seen(const char *first, const char *kv)
{
	size_t kl = strcspn(kv, "=");

	for (const char *p = first; p < kv; p += strcspn(p, ",") + 1)
		if (strcspn(p, "=") == kl && memcmp(p, kv, kl) == 0)
			return true;
	return false;
}

/* Whether devargs (an eth port's, from any source) is allowed by policy (eth_devargs_allow).
 * Returns 0 or -EINVAL with why filled (naming the driver or key refused). */
static int devargs_check(const char *policy, const char *devargs, char *why, size_t whylen)
{
	size_t n = strcspn(devargs, ","), dl, klen;
	const char *drv, *keys;

	if (n == 0 || strlen(devargs) > 255 || (dl = devargs_driver(devargs, n, &drv)) == 0) {
		snprintf(why, whylen, "'%.*s' is neither a PCI address nor a vdev name such as "
			 "net_af_packet0", (int)(n > 64 ? 64 : n), devargs);
		return -EINVAL;
	}
	if (!policy_entry(policy, drv, dl, &keys, &klen)) {
		if (span_is(drv, dl, "pci"))
			snprintf(why, whylen, "PCI addresses are not allowed by eth_devargs_allow "
				 "(%.300s)", policy);
		else
			snprintf(why, whylen, "driver '%.*s' is not allowed by eth_devargs_allow "
				 "(%.300s)", (int)dl, drv, policy);
		return -EINVAL;
	}
	for (const char *kv = devargs + n; *kv == ',';) {
		kv++;
		size_t len = strcspn(kv, ",");
		int rc = devargs_kv(kv, len, drv, dl, keys, klen, why, whylen);
		if (rc)
			return rc;
		if (key_seen(devargs + n + 1, kv)) {
			snprintf(why, whylen, "key '%.*s' is given twice", (int)strcspn(kv, "="), kv);
			return -EINVAL;
		}
		kv += len;
	}
	return 0;
}

/* Check a port spec and fill the dataplane's parameters (pp->name, net and devargs already set;
 * path receives a vhost port's socket path). Returns 0 or -errno with err filled. */
static int port_params(struct riov_service *svc, const Riov__V1__PortSpec *ps,
		       struct riov_dp_port_params *pp, char *path, size_t pathlen, char *err,
		       size_t errlen)
{
	const char *name = pp->name;
	int rc;

	if ((rc = port_type(ps, name, &pp->type, err, errlen)) != 0)
		return rc;
	if (svc_port_index(svc, name) >= 0) {
		snprintf(err, errlen, "port %s already exists", name);
		return -EEXIST;
	}
	if (svc_dom_device(svc, name, NULL) >= 0) {
		snprintf(err, errlen, "%s is the name of a device attached to domain %u: choose another "
			 "port name", name, svc->doms[svc_dom_device(svc, name, NULL)]->domain_id);
		return -EEXIST;
	}
	if (svc_asg_index(svc, name) >= 0) {
		snprintf(err, errlen, "%s is the name of an assigned device (riovctl device list): choose "
			 "another port name", name);
		return -EEXIST;
	}
	if (pp->type == RIOV_DP_PORT_UPLINK) {
		if ((rc = svc_uplink_params(svc, ps, pp, err, errlen)) != 0)
			return rc;
	} else if (str_or_empty(ps->address)[0] != '\0' || str_or_empty(ps->gateway)[0] != '\0') {
		snprintf(err, errlen, "port %s: address and gateway are for uplink ports", name);
		return -EINVAL;
	} else if (pp->net[0] == '\0') {
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
	if (ps->mtu != 0 && (ps->mtu < RIOV_DP_MTU_MIN || ps->mtu > RIOV_DP_MTU_MAX)) {
		snprintf(err, errlen, "port %s: MTU %u is outside %d-%d (leave it out for the network's)",
			 name, ps->mtu, RIOV_DP_MTU_MIN, RIOV_DP_MTU_MAX);
		return -EINVAL;
	}
	int ni = svc_net_index(svc, pp->net);
	pp->mtu = (uint16_t)(ps->mtu ? ps->mtu : ni >= 0 && svc->nets[ni]->mtu ? svc->nets[ni]->mtu
									     : RIOV_DP_MTU_DEFAULT);
	if ((rc = port_features_off(ps, pp, err, errlen)) != 0)
		return rc;
	if (pp->type == RIOV_DP_PORT_VHOST) {
		const char *given = str_or_empty(ps->socket_path);
		if (given[0] == '\0') {
			snprintf(err, errlen, "vhost port %s needs a socket path (--socket PATH)", name);
			return -EINVAL;
		}
		if (socket_path(svc->cfg, given, path, pathlen) != 0) {
			snprintf(err, errlen, "vhost port %s: socket path too long", name);
			return -ENAMETOOLONG;
		}
	} else if (ps->socket_path != NULL && ps->socket_path[0] != '\0') {
		snprintf(err, errlen, "%s port %s takes devargs, not a socket path", type_name(pp->type),
			 name);
		return -EINVAL;
	} else if (pp->devargs[0] != '\0') {
		char why[512];
		if (devargs_check(devargs_policy(svc->cfg), pp->devargs, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s port %s: devargs '%.100s' refused: %s", type_name(pp->type),
				 name, pp->devargs, why);
			return -EINVAL;
		}
	}
	return 0;
}

/* Confine a vhost port's socket path to socket_dir: pp->socket becomes a path through *dir_fd (the
 * socket's directory, open until the dataplane has the port). Returns 0 or -errno with err
 * filled (INVALID_ARGUMENT for a path that breaks a rule). */
static int port_socket(struct riov_service *svc, const Riov__V1__PortSpec *ps,
		       struct riov_dp_port_params *pp, char *fdpath, size_t fdpathlen, int *dir_fd,
		       char *err, size_t errlen)
{
	const char *given = str_or_empty(ps->socket_path);
	char why[256] = "";
	int rc;

	*dir_fd = -1;
	if (pp->type != RIOV_DP_PORT_VHOST)
		return 0;
	rc = riov_vhost_socket_confine(svc->cfg->socket_dir, given, dir_fd, fdpath, fdpathlen, why,
				       sizeof(why));
	if (rc == 0) {
		pp->socket = fdpath;
		return 0;
	}
	snprintf(err, errlen, "vhost port %s: socket path '%.200s' refused: %s", pp->name, given,
		 why);
	switch (rc) {
	case -EINVAL: case -ENAMETOOLONG: case -ELOOP: case -ENOTDIR: case -EEXIST: case -ENOENT:
		return -EINVAL;
	default:
		return rc;
	}
}

/* err names the path the dataplane was given (through /proc/self/fd): say the one people know. */
static void err_path(char *err, size_t errlen, const char *fdpath, const char *path)
{
	char *at = strstr(err, fdpath);
	char tail[512];

	if (fdpath[0] == '\0' || at == NULL)
		return;
	snprintf(tail, sizeof(tail), "%s", at + strlen(fdpath));
	*at = '\0';
	snprintf(at, errlen - (size_t)(at - err), "%s%s", path, tail);
}

/* An eth port with assign: its function's DMA goes through a riov domain, set up before DPDK
 * probes it (*x; NULL for other ports). Returns 0 or -errno with err filled. */
static int port_assign(struct riov_service *svc, const Riov__V1__PortSpec *ps,
		       const struct riov_dp_port_params *pp, struct svc_assign **x, char *err,
		       size_t errlen)
{
	char pci[32];
	size_t n = strcspn(pp->devargs, ",");

	*x = NULL;
	if (!ps->assign && ps->domain_id == 0)
		return 0;
	if (pp->type != RIOV_DP_PORT_ETH || !ps->assign) {
		snprintf(err, errlen, "port %s: domain_id is for eth ports with assign", pp->name);
		return -EINVAL;
	}
	if (n >= sizeof(pci)) {
		snprintf(err, errlen, "eth port %s: assign needs devargs that name a PCI function "
			 "(DDDD:BB:DD.F), not '%.60s'", pp->name, pp->devargs);
		return -EINVAL;
	}
	memcpy(pci, pp->devargs, n);
	pci[n] = '\0';
	return svc_port_assign_begin(svc, ps, pci, x, err, errlen);
}

/* Check a port spec, build the dataplane's parameters and add the port to the dataplane. */
static int port_apply(struct riov_service *svc, const Riov__V1__PortSpec *ps, char *err, size_t errlen)
{
	const char *name = str_or_empty(ps->name);
	struct svc_assign *x = NULL;
	char path[PATH_MAX], fdpath[PATH_MAX] = "";
	int rc, dir_fd;

	struct riov_dp_port_params pp = {
		.name = name,
		.net = str_or_empty(ps->net),
		.queues = (uint16_t)(ps->queues ? ps->queues : 1),
		.client = ps->client,
		.devargs = str_or_empty(ps->devargs),
	};
	if ((rc = port_params(svc, ps, &pp, path, sizeof(path), err, errlen)) != 0)
		return rc;
	if ((rc = port_socket(svc, ps, &pp, fdpath, sizeof(fdpath), &dir_fd, err, errlen)) != 0)
		return rc;
	if ((rc = port_assign(svc, ps, &pp, &x, err, errlen)) != 0)
		return rc; /* eth ports only: no dir_fd */
	rc = riov_dp_port_add(svc->dp, &pp, err, errlen);
	if (dir_fd >= 0)
		close(dir_fd); /* the device opened the directory for itself */
	if (rc != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "port %s: %s", name, strerror(-rc));
		err_path(err, errlen, fdpath, path);
		/* errno values from DPDK and the socket layer, as the RPC status a person expects */
		if (rc == -EADDRINUSE)
			rc = -EBUSY;          /* the socket path is served by someone else */
		else if (rc == -EFAULT)
			rc = -EINVAL;         /* rte_dev_probe() refusing the devargs */
		if (x != NULL)
			svc_asg_free(svc, x);
		return rc;
	}
	if (x != NULL && (rc = svc_asg_route_msix(svc, x, err, errlen)) != 0) {
		riov_dp_port_del(svc->dp, name);
		svc_asg_free(svc, x);
		return rc;
	}
	if (pp.type == RIOV_DP_PORT_UPLINK) {
		/* the kernel side: the TAP the dataplane made gets the address (and route) */
		if ((rc = svc_uplink_up(svc, ps, err, errlen)) != 0) {
			riov_dp_port_del(svc->dp, name);
			return rc;
		}
		RIOV_LOG(RIOV_LOG_NOTICE, "port %s: uplink %s, VTEP address %s", name, pp.devargs,
			 ps->address);
		return 0;
	}
	if (pp.type == RIOV_DP_PORT_VHOST)
		RIOV_LOG(RIOV_LOG_NOTICE, "port %s: vhost-user %s %s", name,
			 pp.client ? "client of" : "server at", path);
	else
		RIOV_LOG(RIOV_LOG_NOTICE, "port %s: eth %s%s", name, pp.devargs,
			 x ? " (assigned through riov's VT-d model)" : "");
	return 0;
}

/* Delete a port from the dataplane, then release its function's assignment (if any): the
 * device stops before its domain goes. */
static void port_remove(struct riov_service *svc, const char *name)
{
	struct riov_dp_uplink_info ui;
	bool uplink = riov_dp_uplink_info(svc->dp, name, &ui) == 0;
	svc_evpn_port_removed(svc, name); /* its shadow TAP */
	int rc = riov_dp_port_del(svc->dp, name);
	int k = svc_asg_index(svc, name);

	if (rc != 0)
		RIOV_LOG(RIOV_LOG_ERR, "port %s: the dataplane refused to delete it: %s", name,
			 strerror(-rc));
	if (k >= 0 && svc->asg[k]->spec == NULL)
		svc_asg_free(svc, svc->asg[k]);
	if (uplink) { /* its TAP went with it, and the routes out of it */
		if (rc == 0 && svc_vtep_count(svc) > 0)
			RIOV_LOG(RIOV_LOG_NOTICE, "uplink %s deleted: remote VTEPs reached through it are "
				 "unresolved until the kernel routes them out of another uplink", name);
		svc_uplink_changed(svc);
	}
}

int svc_port_add(struct riov_service *svc, const Riov__V1__PortSpec *in, char *err, size_t errlen)
{
	int rc = port_apply(svc, in, err, errlen);
	if (rc != 0)
		return rc;
	Riov__V1__PortSpec *spec = svc_msg_dup(&in->base);
	if (spec == NULL) {
		port_remove(svc, in->name);
		snprintf(err, errlen, "port %s: out of memory", in->name);
		return -ENOMEM;
	}
	if (spec->queues == 0)
		spec->queues = 1;
	if (spec->type == RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK)
		svc_uplink_changed(svc); /* VTEPs may be reached through it now */
	int k = svc_asg_index(svc, spec->name);
	if (k >= 0 && svc->asg[k]->a != NULL) {
		struct riov_assign_info ai;
		riov_assign_get_info(svc->asg[k]->a, &ai);
		spec->domain_id = ai.did; /* kept: the same domain after a restart */
	}
	svc->ports[svc->n_ports++] = spec;
	if (spec->type == RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK)
		svc_rdma_sync(svc); /* the first uplink's address is the RDMA listener's */
	svc_port_macs_added(svc, spec); /* static MACs of its network on it */
	svc_evpn_port_added(svc, spec);  /* an EVPN network's shadow TAP, or an uplink EVPN waits for */
	return 0;
}

void svc_port_from_config(const struct riov_cfg_port *cp, Riov__V1__PortSpec *ps, char **feat)
{
	riov__v1__port_spec__init(ps);
	ps->name = (char *)cp->name;
	ps->net = (char *)cp->net;
	if (strcmp(cp->type, "eth") == 0)
		ps->type = RIOV__V1__PORT_TYPE__PORT_TYPE_ETH;
	else if (strcmp(cp->type, "uplink") == 0)
		ps->type = RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK;
	else
		ps->type = RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST;
	ps->queues = cp->queues;
	ps->client = cp->client;
	ps->mtu = cp->mtu;
	if (ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST) {
		ps->socket_path = (char *)cp->socket;
		const bool on[N_FEATURES] = { cp->mrg_rxbuf, cp->in_order, cp->event_idx, cp->indirect,
					      cp->packed, cp->offloads };
		ps->features_off = feat;
		for (size_t k = 0; k < N_FEATURES; k++)
			if (!on[k])
				feat[ps->n_features_off++] = (char *)feature_name(k);
	} else {
		ps->devargs = (char *)cp->devargs;
		ps->assign = cp->assign;
		ps->domain_id = cp->domain_id;
		ps->address = (char *)cp->address;
		ps->gateway = (char *)cp->gateway;
		if (!cp->offloads) {   /* no receive coalescing */
			ps->features_off = feat;
			feat[ps->n_features_off++] = (char *)feature_name(N_FEATURES - 1);
		}
	}
}

/* ------------------------------------------------------------------ RPC */

/* PortInfo.feature_names: the negotiated virtio features by name, lowest bit first (a bit
 * without one as "bit_N"). Returns 0 or -ENOMEM. */
static int fill_feature_names(struct riov_rpc_call *call, Riov__V1__PortInfo *pi, uint64_t features)
{
	size_t n = (size_t)__builtin_popcountll(features);

	if (n == 0)
		return 0;
	pi->feature_names = riov_rpc_call_alloc(call, n * sizeof(char *));
	if (pi->feature_names == NULL)
		return -ENOMEM;
	for (unsigned b = 0; b < 64; b++) {
		if (!(features & (1ull << b)))
			continue;
		const char *name = riov_virtio_feature_name(b);
		char other[16];
		if (name == NULL) {
			snprintf(other, sizeof(other), "bit_%u", b);
			name = other;
		}
		char *s = riov_rpc_call_strdup(call, name);
		if (s == NULL)
			return -ENOMEM;
		pi->feature_names[pi->n_feature_names++] = s;
	}
	return 0;
}
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
	int ak = svc_asg_index(svc, spec->name);
	if (ak >= 0 && svc->asg[ak]->a != NULL) {
		struct riov_assign_info ai;
		riov_assign_get_info(svc->asg[ak]->a, &ai);
		pi->domain_id = ai.did;
	}
	pi->features = di.features;
	pi->queue_pairs = di.queue_pairs;
	if (fill_feature_names(call, pi, di.features) != 0)
		return NULL;
	if (di.type == RIOV_DP_PORT_VHOST)
		pi->state = di.broken ? "broken: a vring was marked broken (see riovd's log)"
			    : di.link_up ? "up"
			    : spec->client ? "connecting to the guest" : "waiting for guest";
	else
		pi->state = di.link_up ? "up" : "down";
	return pi;
}

/* Undo of an add: the last port goes from the dataplane and the desired state. */
static void port_add_undo(struct riov_service *svc, void *arg)
{
	Riov__V1__PortSpec *spec = svc->ports[--svc->n_ports];

	port_remove(svc, spec->name);
	riov__v1__port_spec__free_unpacked(spec, NULL);
}

static int h_port_add(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		      ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__PortAddRequest *req = (const void *)reqm;
	int rc;

	if (req->port == NULL) {
		snprintf(msg, msglen, "Port.Add needs a port (name, type, net, ...)");
		return -EINVAL;
	}
	rc = svc_port_add(svc, req->port, msg, msglen);
	if (rc != 0)
		return rc;
	rc = svc_save_or_undo(svc, port_add_undo, NULL, msg, msglen, "port %s was not added",
			      req->port->name);
	if (rc != 0)
		return rc;
	RIOV_LOG(RIOV_LOG_NOTICE, "port %s added by %s", req->port->name, riov_rpc_call_peer(call));
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
	int i, rc;

	i = svc_port_index(svc, name);
	if (i < 0 && svc_is_vtep_port(svc, name)) {
		snprintf(msg, msglen, "port %s is a remote VTEP's: riovctl net vtep del %.*s %s", name,
			 (int)strcspn(name, "@"), name, strchr(name, '@') + 1);
		return -EINVAL;
	}
	if (i < 0) {
		snprintf(msg, msglen, "port %s does not exist", name[0] ? name : "(no name given)");
		return -ENOENT;
	}
	/* state first: once it is saved the delete is acknowledged whatever happens next */
	Riov__V1__PortSpec *spec = svc->ports[i];
	struct svc_slot slot = { (void **)svc->ports, &svc->n_ports, (unsigned)i, spec };
	remove_at(slot.arr, slot.n, slot.i);
	rc = svc_save_or_undo(svc, svc_slot_restore, &slot, msg, msglen, "port %s was not deleted",
			      name);
	if (rc != 0)
		return rc;
	port_remove(svc, name);
	RIOV_LOG(RIOV_LOG_NOTICE, "port %s deleted by %s", name, riov_rpc_call_peer(call));
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
	if (net[0] && svc_net_index(svc, net) < 0) {
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
 * hairpin, bad_offload; an uplink's VXLAN that is not for this node's networks or is malformed:
 * unknown_vtep and every vxlan_* cause), tx_dropped = delivering to it (no_buffer, ring_full,
 * not_ready, hold_full, mtu_exceeded; no_nexthop: a remote VTEP the kernel has no next hop for),
 * rx_errors = the port's own rings or DMA misbehaved (bad_descriptor, too_big, broken_queue,
 * dma_fault). A vhost port's sessions (vhost_*, memory_faults, iotlb_refused, ...)
 * are its vhost-user device's counters; the dataplane leaves them 0 for eth ports. */
static void fill_counters(Riov__V1__PortCounters *pc, const struct riov_dp_port_stats *st)
{
	const uint64_t *d = st->drops;

	pc->port = (char *)st->name;
	pc->net = (char *)st->net;
	pc->rx_packets = st->rx_packets;
	pc->rx_bytes = st->rx_bytes;
	pc->tx_packets = st->tx_packets;
	pc->tx_bytes = st->tx_bytes;
	pc->rx_dropped = d[RIOV_DP_DROP_NO_MBUF] + d[RIOV_DP_DROP_LOOP] + d[RIOV_DP_DROP_HAIRPIN] +
			 d[RIOV_DP_DROP_BAD_OFFLOAD] + d[RIOV_DP_DROP_UNKNOWN_VTEP];
	for (unsigned c = RIOV_DP_DROP_VX_TRUNCATED; c <= RIOV_DP_DROP_VX_UNKNOWN_VNI; c++)
		pc->rx_dropped += d[c];
	pc->tx_dropped = d[RIOV_DP_DROP_NO_BUFFER] + d[RIOV_DP_DROP_RING_FULL] + d[RIOV_DP_DROP_NOT_READY] +
			 d[RIOV_DP_DROP_HOLD_FULL] + d[RIOV_DP_DROP_MTU] + d[RIOV_DP_DROP_NO_NEXTHOP];
	pc->rx_errors = d[RIOV_DP_DROP_BAD_DESC] + d[RIOV_DP_DROP_TOO_BIG] + d[RIOV_DP_DROP_BROKEN] +
			d[RIOV_DP_DROP_DMA_FAULT];
	pc->dma_faults = st->dma_faults;
	pc->interrupts = st->notifications;
	pc->iotlb_hits = st->iotlb_hits;
	pc->iotlb_misses = st->iotlb_misses;
	pc->iotlb_waits = st->iotlb_waits;
	pc->dirty_log_writes = st->dirty_log_writes;
	pc->announces = st->announces;
	pc->offload_frames_in = st->ol.frames_in;
	pc->offload_frames_out = st->ol.frames_out;
	pc->sw_checksums = st->ol.sw_checksums;
	pc->sw_segmented = st->ol.sw_segmented;
	pc->sw_segments = st->ol.sw_segments;
	pc->vhost_connects = st->vhost.connects;
	pc->vhost_disconnects = st->vhost.disconnects;
	pc->vhost_messages = st->vhost.messages;
	pc->vhost_bad_messages = st->vhost.bad_messages;
	pc->vhost_refused = st->vhost.refused;
	pc->memory_faults = st->vhost.memory_faults;
	pc->iotlb_refused = st->vhost.iotlb_refused;
	pc->iotlb_evictions = st->vhost.iotlb_evictions;
	pc->iotlb_updates = st->vhost.iotlb_updates;
	pc->iotlb_invalidations = st->vhost.iotlb_invalidations;
	pc->iotlb_miss_requests = st->vhost.iotlb_miss_requests;
	pc->vring_base_resyncs = st->vhost.base_resyncs;
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

int svc_port_counters(struct riov_rpc_call *call, struct riov_service *svc, const char *only,
			    Riov__V1__PortCounters ***out, size_t *n)
{
	/* the dataplane's ports: the desired state's and a port per remote VTEP */
	struct counters_acc a = { .call = call, .dp = svc->dp, .only = only,
				  .cap = svc->n_ports + svc_vtep_count(svc) };

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
	if (name[0] && svc_port_index(svc, name) < 0 && !svc_is_vtep_port(svc, name)) {
		snprintf(msg, msglen, "port %s does not exist", name);
		return -ENOENT;
	}
	int rc = svc_port_counters(call, svc, name[0] ? name : NULL, &r->ports, &r->n_ports);
	if (rc != 0)
		return rc;
	*resp = &r->base;
	return 0;
}

static const struct svc_method port_methods[] = {
	SVC_METHOD(Port, add, ADMIN, h_port_add),
	SVC_METHOD(Port, delete, ADMIN, h_port_delete),
	SVC_METHOD(Port, list, READONLY, h_port_list),
	SVC_METHOD(Port, stats, READONLY, h_port_stats),
};
SVC_TABLE(svc_port_table, Port, port_methods);
