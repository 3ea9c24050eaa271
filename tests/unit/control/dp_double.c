/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test double of dataplane/dp.h for the service library's unit tests (see dp_double.h). Networks
 * and ports are kept by name only; a vhost port n reports the ids the real dataplane gives it
 * (source-id 0xfc00 + n, domain 1 + n) but no domain is built and no guest ever connects. The
 * fabric's rules are the real one's (dataplane/fabric.c): a VNI per network, remote VTEPs as
 * ports "<net>@<a.b.c.d>" of networks with a VNI, next hops out of uplinks only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_double.h"
#include "iommu/vtd.h"

#define DOUBLE_NETS 16
#define DOUBLE_PORTS 32
#define DOUBLE_MACS 64

/* An entry of a network's MAC table: learned (dp_double_learn) or static (riov_dp_mac_add). */
struct double_mac {
	bool used;
	char net[RIOV_DP_NAME_MAX];
	uint8_t mac[6];
	char port[RIOV_DP_NAME_MAX];
	enum riov_dp_port_type type;
	bool is_static;
	unsigned age;
};

struct double_port {
	bool used;
	char name[RIOV_DP_NAME_MAX];
	char net[RIOV_DP_NAME_MAX];
	enum riov_dp_port_type type;
	uint16_t queues;
	uint16_t mtu;
	uint32_t ip;                   /* uplink: its VTEP address; VTEP: the remote address */
	/* VTEP: its next hop */
	bool resolved;
	char uplink[RIOV_DP_NAME_MAX];
	uint8_t mac[6];
};

struct riov_dp {
	struct riov_vtd *vtd;
	char nets[DOUBLE_NETS][RIOV_DP_NAME_MAX];
	uint32_t vni[DOUBLE_NETS];
	bool evpn[DOUBLE_NETS];
	unsigned n_nets;
	struct double_port ports[DOUBLE_PORTS];
	struct double_mac macs[DOUBLE_MACS];
	struct riov_dp_port_stats vtep_past[DOUBLE_NETS]; /* deleted VTEPs' counters, per network */
};

struct dp_double_knobs dp_double;

struct riov_dp *dp_double_create(void)
{
	struct riov_vtd_config vc = {
		.aw_bits = 48, .fault_log_size = 256, .irte_count = 65536, .caching_mode = true,
	};
	struct riov_dp *dp = calloc(1, sizeof(*dp));

	memset(&dp_double, 0, sizeof(dp_double));
	if (dp == NULL)
		return NULL;
	dp->vtd = riov_vtd_create(&vc);
	if (dp->vtd == NULL) {
		free(dp);
		return NULL;
	}
	return dp;
}

void dp_double_destroy(struct riov_dp *dp)
{
	if (dp == NULL)
		return;
	riov_vtd_destroy(dp->vtd);
	free(dp);
}

static int net_find(const struct riov_dp *dp, const char *name)
{
	for (unsigned i = 0; i < dp->n_nets; i++)
		if (strcmp(dp->nets[i], name) == 0)
			return (int)i;
	return -1;
}

static int port_find(const struct riov_dp *dp, const char *name)
{
	for (int i = 0; i < DOUBLE_PORTS; i++)
		if (dp->ports[i].used && strcmp(dp->ports[i].name, name) == 0)
			return i;
	return -1;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < RIOV_DP_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

unsigned dp_double_nets(const struct riov_dp *dp)
{
	return dp->n_nets;
}

unsigned dp_double_ports(const struct riov_dp *dp)
{
	unsigned n = 0;
	for (int i = 0; i < DOUBLE_PORTS; i++)
		n += dp->ports[i].used;
	return n;
}

bool dp_double_has_port(const struct riov_dp *dp, const char *name)
{
	return port_find(dp, name) >= 0;
}

bool dp_double_has_net(const struct riov_dp *dp, const char *name)
{
	return net_find(dp, name) >= 0;
}

struct riov_vtd *riov_dp_vtd(struct riov_dp *dp)
{
	return dp->vtd;
}

int riov_dp_net_add(struct riov_dp *dp, const char *name)
{
	dp_double.net_add++;
	if (!name_ok(name))
		return -EINVAL;
	if (net_find(dp, name) >= 0)
		return -EEXIST;
	if (dp->n_nets == DOUBLE_NETS)
		return -ENOSPC;
	snprintf(dp->nets[dp->n_nets++], RIOV_DP_NAME_MAX, "%s", name);
	return 0;
}

int riov_dp_net_del(struct riov_dp *dp, const char *name)
{
	int i = net_find(dp, name);

	dp_double.net_del++;
	if (i < 0)
		return -ENOENT;
	for (int k = 0; k < DOUBLE_PORTS; k++)
		if (dp->ports[k].used && strcmp(dp->ports[k].net, name) == 0)
			return -EBUSY; /* its ports and remote VTEPs */
	memmove(dp->nets[i], dp->nets[i + 1], (dp->n_nets - (unsigned)i - 1) * RIOV_DP_NAME_MAX);
	memmove(&dp->vni[i], &dp->vni[i + 1], (dp->n_nets - (unsigned)i - 1) * sizeof(dp->vni[0]));
	memmove(&dp->evpn[i], &dp->evpn[i + 1], (dp->n_nets - (unsigned)i - 1) * sizeof(dp->evpn[0]));
	dp->evpn[dp->n_nets - 1] = false;
	memmove(&dp->vtep_past[i], &dp->vtep_past[i + 1],
		(dp->n_nets - (unsigned)i - 1) * sizeof(dp->vtep_past[0]));
	memset(&dp->vtep_past[dp->n_nets - 1], 0, sizeof(dp->vtep_past[0]));
	dp->n_nets--;
	for (int k = 0; k < DOUBLE_MACS; k++)
		if (dp->macs[k].used && strcmp(dp->macs[k].net, name) == 0)
			dp->macs[k].used = false;
	return 0;
}

int riov_dp_net_set_evpn(struct riov_dp *dp, const char *name, bool on)
{
	int i = net_find(dp, name);

	if (i < 0)
		return -ENOENT;
	dp->evpn[i] = on;
	return 0;
}

bool dp_double_evpn(const struct riov_dp *dp, const char *net)
{
	int i = net_find(dp, net);
	return i >= 0 && dp->evpn[i];
}

int riov_dp_net_set_vni(struct riov_dp *dp, const char *name, uint32_t vni)
{
	int i = net_find(dp, name);

	dp_double.set_vni++;
	if (i < 0)
		return -ENOENT;
	if (vni > RIOV_DP_VNI_MAX)
		return -EINVAL;
	if (vni == dp->vni[i])
		return 0;
	for (int k = 0; k < DOUBLE_PORTS; k++)
		if (dp->ports[k].used && dp->ports[k].type == RIOV_DP_PORT_VTEP &&
		    strcmp(dp->ports[k].net, name) == 0)
			return -EBUSY;
	for (unsigned k = 0; vni != 0 && k < dp->n_nets; k++)
		if (dp->vni[k] == vni)
			return -EEXIST;
	dp->vni[i] = vni;
	memset(&dp->vtep_past[i], 0, sizeof(dp->vtep_past[i]));
	return 0;
}

uint32_t dp_double_vni(const struct riov_dp *dp, const char *net)
{
	int i = net_find(dp, net);
	return i < 0 ? 0 : dp->vni[i];
}

/* The socket path of a vhost port as a reader knows it: a path through /proc/self/fd (the
 * directory control/ checked, riov_vhost_socket_confine()) is recorded with the directory's
 * path. */
static void double_socket(const char *path)
{
	char link[64], dir[200];
	const char *name = strrchr(path, '/');
	ssize_t n = -1;

	if (strncmp(path, "/proc/self/fd/", 14) == 0 && name != NULL &&
	    (size_t)(name - path) < sizeof(link)) {
		snprintf(link, sizeof(link), "%.*s", (int)(name - path), path);
		n = readlink(link, dir, sizeof(dir) - 1);
	}
	if (n > 0) {
		dir[n] = '\0';
		snprintf(dp_double.last_socket, sizeof(dp_double.last_socket), "%s%s", dir, name);
	} else {
		snprintf(dp_double.last_socket, sizeof(dp_double.last_socket), "%s", path);
	}
}

int riov_dp_port_add(struct riov_dp *dp, const struct riov_dp_port_params *p, char *err,
		     size_t errlen)
{
	dp_double.port_add++;
	if (dp_double.port_add_rc != 0) {
		snprintf(err, errlen, "%s", dp_double.port_add_err);
		return dp_double.port_add_rc;
	}
	if (!name_ok(p->name)) {
		snprintf(err, errlen, "bad port name '%s': use 1-63 letters, digits, '-', '_' or '.'",
			 p->name);
		return -EINVAL;
	}
	if (port_find(dp, p->name) >= 0) {
		snprintf(err, errlen, "port %s already exists", p->name);
		return -EEXIST;
	}
	if (p->type == RIOV_DP_PORT_VTEP) {
		snprintf(err, errlen, "VTEP ports are made by riov_dp_vtep_add()");
		return -EINVAL;
	}
	if (p->type == RIOV_DP_PORT_UPLINK ? p->net != NULL && p->net[0] != '\0'
					   : net_find(dp, p->net) < 0) {
		snprintf(err, errlen, "network %s does not exist", p->net);
		return -ENOENT;
	}
	for (int i = 0; i < DOUBLE_PORTS; i++) {
		struct double_port *x = &dp->ports[i];
		if (x->used)
			continue;
		memset(x, 0, sizeof(*x));
		x->used = true;
		snprintf(x->name, sizeof(x->name), "%s", p->name);
		snprintf(x->net, sizeof(x->net), "%s", p->net ? p->net : "");
		x->type = p->type;
		x->queues = p->queues;
		x->mtu = p->mtu;
		if (p->type == RIOV_DP_PORT_UPLINK) {
			x->ip = p->address;
			dp_double.last_address = p->address;
		}
		if (p->type == RIOV_DP_PORT_VHOST)
			double_socket(p->socket);
		dp_double.last_features_off = p->features_off;
		dp_double.last_mtu = p->mtu;
		return 0;
	}
	snprintf(err, errlen, "too many ports (at most %d)", DOUBLE_PORTS);
	return -ENOSPC;
}

/* A port goes: its MAC entries with it, static ones too (as switch.c's dp_mac_purge_port). */
static void purge_port(struct riov_dp *dp, const char *name)
{
	for (int k = 0; k < DOUBLE_MACS; k++)
		if (dp->macs[k].used && strcmp(dp->macs[k].port, name) == 0)
			dp->macs[k].used = false;
}

int riov_dp_port_del(struct riov_dp *dp, const char *name)
{
	int i = port_find(dp, name);

	dp_double.port_del++;
	if (i < 0)
		return -ENOENT;
	purge_port(dp, name);
	if (dp->ports[i].type == RIOV_DP_PORT_UPLINK) {
		/* its VTEPs lose their next hop, as in the real dataplane */
		for (int k = 0; k < DOUBLE_PORTS; k++) {
			struct double_port *v = &dp->ports[k];
			if (v->used && v->type == RIOV_DP_PORT_VTEP && v->resolved &&
			    strcmp(v->uplink, name) == 0) {
				v->resolved = false;
				v->uplink[0] = '\0';
			}
		}
	}
	dp->ports[i].used = false;
	return 0;
}

int riov_dp_port_info(struct riov_dp *dp, const char *name, struct riov_dp_port_info *out)
{
	int i = port_find(dp, name);

	if (i < 0)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->id = (uint16_t)i;
	out->type = dp->ports[i].type;
	snprintf(out->net, sizeof(out->net), "%s", dp->ports[i].net);
	out->queues = dp->ports[i].queues;
	if (out->type == RIOV_DP_PORT_VHOST) {
		out->sid = (uint16_t)(RIOV_DP_VHOST_SID_FIRST + i);
		out->did = (uint16_t)(1 + i);
		out->features = dp_double.vhost_features;
		out->queue_pairs = dp_double.vhost_queue_pairs;
	}
	return 0;
}

int riov_dp_port_stats(struct riov_dp *dp, const char *name, struct riov_dp_port_stats *st)
{
	int i = port_find(dp, name);

	if (i < 0)
		return -ENOENT;
	if (dp->ports[i].type == RIOV_DP_PORT_VHOST)
		*st = dp_double.vhost_counters;
	else if (dp->ports[i].type == RIOV_DP_PORT_VTEP)
		*st = dp_double.vtep_counters;
	else
		memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", dp->ports[i].name);
	snprintf(st->net, sizeof(st->net), "%s", dp->ports[i].net);
	st->type = dp->ports[i].type;
	st->queues = dp->ports[i].queues;
	return 0;
}

void riov_dp_port_foreach(struct riov_dp *dp,
			  void (*fn)(void *arg, const struct riov_dp_port_stats *st), void *arg)
{
	struct riov_dp_port_stats st;

	for (int i = 0; i < DOUBLE_PORTS; i++)
		if (dp->ports[i].used && riov_dp_port_stats(dp, dp->ports[i].name, &st) == 0)
			fn(arg, &st);
}

int riov_dp_net_info(struct riov_dp *dp, const char *name, struct riov_dp_net_info *out)
{
	if (net_find(dp, name) < 0)
		return -ENOENT;
	out->ports = 0;
	for (int i = 0; i < DOUBLE_PORTS; i++)
		out->ports += dp->ports[i].used && dp->ports[i].type != RIOV_DP_PORT_VTEP &&
			      strcmp(dp->ports[i].net, name) == 0;
	out->macs = 0;
	return 0;
}

/* counters the double does not keep */
DEFINE_STUB(riov_dp_port_queue_stats, int,
	    (struct riov_dp *dp, const char *name, struct riov_dp_queue_stats *qs, unsigned n), 0)
DEFINE_STUB(riov_dp_n_workers, unsigned, (const struct riov_dp *dp), 1)
DEFINE_STUB(riov_dp_tsc_hz, uint64_t, (const struct riov_dp *dp), DP_DOUBLE_TSC_HZ)

/* one worker, with the counters of dp_double.worker_counters */
unsigned riov_dp_worker_stats(struct riov_dp *dp, struct riov_dp_worker_stats *out, unsigned n)
{
	(void)dp;
	if (n == 0)
		return 0;
	out[0] = dp_double.worker_counters;
	return 1;
}

/* ---- the fabric ---- */

int riov_dp_uplink_info(struct riov_dp *dp, const char *name, struct riov_dp_uplink_info *out)
{
	int i = port_find(dp, name);

	if (i < 0 || dp->ports[i].type != RIOV_DP_PORT_UPLINK)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	snprintf(out->tap, sizeof(out->tap), "%.15s", name);
	out->address = dp->ports[i].ip;
	out->mac[0] = 0x02;
	out->mac[5] = (uint8_t)i;
	out->mtu = dp->ports[i].mtu;
	return 0;
}

void riov_dp_vtep_name(const char *net, uint32_t ip, char *out, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, a, sizeof(a));
	snprintf(out, len, "%s@%s", net, a);
}

static int vtep_find(const struct riov_dp *dp, const char *net, uint32_t ip)
{
	for (int i = 0; i < DOUBLE_PORTS; i++)
		if (dp->ports[i].used && dp->ports[i].type == RIOV_DP_PORT_VTEP && dp->ports[i].ip == ip &&
		    strcmp(dp->ports[i].net, net) == 0)
			return i;
	return -1;
}

int riov_dp_vtep_add(struct riov_dp *dp, const char *net, uint32_t ip, char *err, size_t errlen)
{
	int n = net_find(dp, net);
	uint32_t a = ntohl(ip);

	dp_double.vtep_add++;
	if (n < 0) {
		snprintf(err, errlen, "network %s does not exist", net);
		return -ENOENT;
	}
	if (dp->vni[n] == 0) {
		snprintf(err, errlen, "network %s has no VNI: give it one to add remote VTEPs", net);
		return -EINVAL;
	}
	if (a == 0 || (a >> 24) == 127 || (a >> 28) >= 14) {
		snprintf(err, errlen, "network %s: a remote VTEP is a unicast IPv4 address", net);
		return -EINVAL;
	}
	if (vtep_find(dp, net, ip) >= 0)
		return -EEXIST;
	for (int i = 0; i < DOUBLE_PORTS; i++) {
		struct double_port *x = &dp->ports[i];
		if (x->used)
			continue;
		memset(x, 0, sizeof(*x));
		x->used = true;
		riov_dp_vtep_name(net, ip, x->name, sizeof(x->name));
		snprintf(x->net, sizeof(x->net), "%s", net);
		x->type = RIOV_DP_PORT_VTEP;
		x->queues = 1;
		x->ip = ip;
		return 0;
	}
	snprintf(err, errlen, "too many ports (at most %d)", DOUBLE_PORTS);
	return -ENOSPC;
}

int riov_dp_vtep_del(struct riov_dp *dp, const char *net, uint32_t ip)
{
	int i = vtep_find(dp, net, ip);

	dp_double.vtep_del++;
	if (i < 0)
		return -ENOENT;
	purge_port(dp, dp->ports[i].name);
	/* its counters stay in its network's totals */
	struct riov_dp_port_stats *past = &dp->vtep_past[net_find(dp, net)];
	const struct riov_dp_port_stats *c = &dp_double.vtep_counters;
	past->rx_packets += c->rx_packets;
	past->rx_bytes += c->rx_bytes;
	past->tx_packets += c->tx_packets;
	past->tx_bytes += c->tx_bytes;
	for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++)
		past->drops[d] += c->drops[d];
	dp->ports[i].used = false;
	return 0;
}

int riov_dp_vtep_set_nexthop(struct riov_dp *dp, uint32_t ip, const char *uplink, const uint8_t mac[6])
{
	int changed = 0;

	dp_double.set_nexthop++;
	if (uplink != NULL) {
		int u = port_find(dp, uplink);
		if (u < 0 || dp->ports[u].type != RIOV_DP_PORT_UPLINK || mac == NULL)
			return -ENOENT;
	}
	for (int i = 0; i < DOUBLE_PORTS; i++) {
		struct double_port *x = &dp->ports[i];
		if (!x->used || x->type != RIOV_DP_PORT_VTEP || x->ip != ip)
			continue;
		if (uplink == NULL ? !x->resolved
				   : x->resolved && strcmp(x->uplink, uplink) == 0 &&
				     memcmp(x->mac, mac, 6) == 0)
			continue;
		x->resolved = uplink != NULL;
		snprintf(x->uplink, sizeof(x->uplink), "%s", uplink ? uplink : "");
		if (mac != NULL && uplink != NULL)
			memcpy(x->mac, mac, 6);
		changed++;
	}
	return changed;
}

void riov_dp_vtep_foreach(struct riov_dp *dp, const char *net,
			  void (*fn)(void *arg, const char *net, uint32_t ip,
				     const struct riov_dp_vtep_info *vi),
			  void *arg)
{
	for (int i = 0; i < DOUBLE_PORTS; i++) {
		const struct double_port *x = &dp->ports[i];
		if (!x->used || x->type != RIOV_DP_PORT_VTEP || (net != NULL && strcmp(x->net, net) != 0))
			continue;
		struct riov_dp_vtep_info vi = { .vni = dp->vni[net_find(dp, x->net)],
						.resolved = x->resolved };
		snprintf(vi.port, sizeof(vi.port), "%s", x->name);
		if (x->resolved) {
			snprintf(vi.uplink, sizeof(vi.uplink), "%s", x->uplink);
			memcpy(vi.mac, x->mac, 6);
		}
		fn(arg, x->net, x->ip, &vi);
	}
}

/* ---- the MAC tables ---- */

static int mac_find(const struct riov_dp *dp, const char *net, const uint8_t mac[6])
{
	for (int k = 0; k < DOUBLE_MACS; k++)
		if (dp->macs[k].used && strcmp(dp->macs[k].net, net) == 0 &&
		    memcmp(dp->macs[k].mac, mac, 6) == 0)
			return k;
	return -1;
}

/* Put an entry of mac in net to port (which must be in net): in place of one it has, or new. */
static int mac_put(struct riov_dp *dp, const char *net, const uint8_t mac[6], const char *port,
		   bool is_static)
{
	static const uint8_t zero[6];
	int p = port_find(dp, port), k = mac_find(dp, net, mac);

	if (net_find(dp, net) < 0 || p < 0 || strcmp(dp->ports[p].net, net) != 0)
		return -ENOENT;
	if ((mac[0] & 1) || memcmp(mac, zero, 6) == 0)
		return -EINVAL;
	/* learning never moves a static entry, but in an EVPN network a guest's frame moves one that
	 * is not a guest's (as dataplane/switch.c) */
	if (k >= 0 && dp->macs[k].is_static && !is_static &&
	    !(dp->evpn[net_find(dp, net)] && dp->ports[p].type == RIOV_DP_PORT_VHOST &&
	      dp->macs[k].type != RIOV_DP_PORT_VHOST))
		return 0;
	for (int i = 0; k < 0 && i < DOUBLE_MACS; i++)
		if (!dp->macs[i].used)
			k = i;
	if (k < 0)
		return -ENOSPC;
	struct double_mac *x = &dp->macs[k];
	memset(x, 0, sizeof(*x));
	x->used = true;
	snprintf(x->net, sizeof(x->net), "%s", net);
	memcpy(x->mac, mac, 6);
	snprintf(x->port, sizeof(x->port), "%s", port);
	x->type = dp->ports[p].type;
	x->is_static = is_static;
	return 0;
}

int riov_dp_mac_add(struct riov_dp *dp, const char *net, const uint8_t mac[6], const char *port)
{
	dp_double.mac_add++;
	if (dp_double.mac_add_rc != 0)
		return dp_double.mac_add_rc;
	return mac_put(dp, net, mac, port, true);
}

int riov_dp_mac_del(struct riov_dp *dp, const char *net, const uint8_t mac[6])
{
	int k = mac_find(dp, net, mac);

	dp_double.mac_del++;
	if (k < 0)
		return -ENOENT;
	dp->macs[k].used = false;
	return 0;
}

int riov_dp_mac_foreach(struct riov_dp *dp, const char *net,
			void (*fn)(void *arg, const struct riov_dp_mac_info *mi), void *arg)
{
	if (net_find(dp, net) < 0)
		return -ENOENT;
	for (int k = 0; k < DOUBLE_MACS; k++) {
		const struct double_mac *x = &dp->macs[k];
		if (!x->used || strcmp(x->net, net) != 0)
			continue;
		struct riov_dp_mac_info mi = { .type = x->type, .is_static = x->is_static,
					       .local = x->type == RIOV_DP_PORT_VHOST, .age = x->age };
		memcpy(mi.mac, x->mac, 6);
		snprintf(mi.port, sizeof(mi.port), "%s", x->port);
		fn(arg, &mi);
	}
	const unsigned bulk = strcmp(dp_double.bulk_net, net) == 0 ? dp_double.bulk_macs : 0;
	for (unsigned j = 0; j < bulk && j < 65536; j++) {
		struct riov_dp_mac_info mi = { .type = dp_double.bulk_type,
					       .is_static = dp_double.bulk_static,
					       .local = dp_double.bulk_type == RIOV_DP_PORT_VHOST };
		dp_double_bulk_mac(j, mi.mac);
		snprintf(mi.port, sizeof(mi.port), "%s", dp_double.bulk_port);
		fn(arg, &mi);
	}
	return 0;
}

void dp_double_bulk_mac(unsigned j, uint8_t mac[6])
{
	const unsigned h = (j * 40503u) & 0xffff; /* odd: a bijection of the 16-bit numbers */

	memset(mac, 0, 6);
	mac[0] = 0x06;
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

unsigned riov_dp_mac_age(struct riov_dp *dp)
{
	unsigned removed = 0;

	dp_double.mac_age++;
	for (int k = 0; k < DOUBLE_MACS; k++) {
		struct double_mac *x = &dp->macs[k];
		if (!x->used || x->is_static)
			continue;
		if (x->age >= 2) {
			x->used = false;
			removed++;
		} else {
			x->age++;
		}
	}
	return removed;
}

int dp_double_learn(struct riov_dp *dp, const char *net, const uint8_t mac[6], const char *port)
{
	return mac_put(dp, net, mac, port, false);
}

bool dp_double_mac(const struct riov_dp *dp, const char *net, const uint8_t mac[6], char *port, size_t len,
		   bool *is_static)
{
	int k = mac_find(dp, net, mac);

	if (k < 0)
		return false;
	if (port != NULL)
		snprintf(port, len, "%s", dp->macs[k].port);
	if (is_static != NULL)
		*is_static = dp->macs[k].is_static;
	return true;
}

int riov_dp_vni_stats(struct riov_dp *dp, const char *name, struct riov_dp_vni_stats *out)
{
	int n = net_find(dp, name);

	if (n < 0)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	if (dp->vni[n] == 0)
		return 0;
	out->vni = dp->vni[n];
	const struct riov_dp_port_stats *past = &dp->vtep_past[n], *c = &dp_double.vtep_counters;
	out->rx_packets = past->rx_packets;
	out->rx_bytes = past->rx_bytes;
	out->tx_packets = past->tx_packets;
	out->tx_bytes = past->tx_bytes;
	memcpy(out->drops, past->drops, sizeof(out->drops));
	for (int i = 0; i < DOUBLE_PORTS; i++) {
		if (!dp->ports[i].used || dp->ports[i].type != RIOV_DP_PORT_VTEP ||
		    strcmp(dp->ports[i].net, name) != 0)
			continue;
		out->vteps++;
		out->rx_packets += c->rx_packets;
		out->rx_bytes += c->rx_bytes;
		out->tx_packets += c->tx_packets;
		out->tx_bytes += c->tx_bytes;
		for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++)
			out->drops[d] += c->drops[d];
	}
	return 0;
}
