/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riovctl: command-line client of riovd's control API (riov.v1).
 *
 *   riovctl [--connect unix:PATH|tls://HOST:PORT] [--cert F --key F --ca F] [--json]
 *           [--timeout S] <object> <verb> [args]
 *
 * Tables for people by default, --json for scripts (every field of the answer, proto field
 * names, 64-bit numbers as JSON numbers). Exit 0 on success; 1 when the server refused the call
 * (its status and message on stderr); 2 for a usage error; 3 when riovd could not be reached.
 * The default socket is /run/riov/riovd.sock; RIOV_SOCKET overrides it, --connect overrides both.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "riovctl_print.h"
#include "rpc_client.h"

#ifndef RIOV_VERSION
#define RIOV_VERSION "unknown"
#endif

#define EXIT_RPC 1
#define EXIT_USAGE 2
#define EXIT_CONN 3
#define MAX_OPTS 16
#define MAX_POS 4

/* ------------------------------------------------------------------ memory */

/* Everything a request needs lives until exit in one list. */
struct blk { struct blk *next; max_align_t d[]; };
static struct blk *blocks;

static void *xalloc(size_t n)
{
	struct blk *b = calloc(1, sizeof(*b) + n);
	if (!b) {
		fprintf(stderr, "riovctl: out of memory\n");
		exit(EXIT_CONN);
	}
	b->next = blocks;
	blocks = b;
	return b->d;
}

static void free_all(void)
{
	while (blocks) {
		struct blk *b = blocks;
		blocks = b->next;
		free(b);
	}
}

#define NEW(type, init) ({ type *p_ = xalloc(sizeof(type)); init(p_); p_; })

/* ------------------------------------------------------------------ commands */

struct opt {
	const char *name;  /* without "--" */
	const char *arg;   /* metavariable, NULL for a flag */
	const char *help;
};

struct ctx;

struct cmd {
	const char *obj;
	const char *verb;
	struct riov_method_id method; /* by its generated name: see proto/frame.h */
	const char *synopsis;
	const char *summary;
	int min_pos, max_pos;
	const struct opt *opts;
	ProtobufCMessage *(*build)(struct ctx *x);
	const char *const *cols; /* table columns "path=HEADER" of the answer's list */
	/* prints the answer for people instead of the generic table or key-value lines */
	void (*print)(const struct ctx *x, const ProtobufCMessage *m);
	/* the part of the answer to print, people or --json (NULL: the command's error is printed,
	 * exit 1); NULL view: all of it */
	const ProtobufCMessage *(*view)(const struct ctx *x, const ProtobufCMessage *m);
	/* makes the call(s) and prints instead of one riov_client_call() (a list in pages);
	 * returns as riov_client_call() */
	int (*call)(struct ctx *x, struct riov_client *cl, const char *method, ProtobufCMessage *req,
		    char *err, size_t errlen);
};

struct ctx {
	const struct cmd *cmd;
	const char *val[MAX_OPTS];
	const char *pos[MAX_POS];
	int npos;
};

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "riovctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try --help)\n");
	free_all();
	exit(EXIT_USAGE);
}

static const char *opt_val(struct ctx *x, const char *name)
{
	for (int i = 0; x->cmd->opts && x->cmd->opts[i].name; i++)
		if (strcmp(x->cmd->opts[i].name, name) == 0)
			return x->val[i];
	return NULL;
}

static bool opt_flag(struct ctx *x, const char *name) { return opt_val(x, name) != NULL; }

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-')
		usage_error("%s needs a non-negative number", what);
	unsigned long long v = strtoull(s, &end, 0);
	uint64_t mul = 1;
	if (*end == 'K' || *end == 'k')
		mul = 1ull << 10, end++;
	else if (*end == 'M')
		mul = 1ull << 20, end++;
	else if (*end == 'G')
		mul = 1ull << 30, end++;
	if (errno || *end)
		usage_error("%s: '%s' is not a number", what, s);
	return (uint64_t)v * mul;
}

static uint32_t parse_u32(const char *s, const char *what)
{
	uint64_t v = parse_u64(s, what);
	if (v > UINT32_MAX)
		usage_error("%s: %s is too large", what, s);
	return (uint32_t)v;
}

static uint32_t opt_u32(struct ctx *x, const char *name)
{
	const char *v = opt_val(x, name);
	return v ? parse_u32(v, name) : 0;
}

static uint64_t opt_u64(struct ctx *x, const char *name)
{
	const char *v = opt_val(x, name);
	return v ? parse_u64(v, name) : 0;
}

static char *pos_or_empty(struct ctx *x, int i) { return (char *)(i < x->npos ? x->pos[i] : ""); }

static char *opt_str(struct ctx *x, const char *name)
{
	const char *v = opt_val(x, name);
	return (char *)(v ? v : "");
}

/* --- node */
static ProtobufCMessage *b_node_info(struct ctx *x)
{
	return &NEW(Riov__V1__NodeInfoRequest, riov__v1__node_info_request__init)->base;
}

/* --- network */
static const struct opt o_net_add[] = { { "mtu", "N", "MTU of the network (default 1500; 1450 for "
						"an overlay over a 1500-byte underlay)" },
					{ "vni", "N", "VXLAN network identifier (1-16777215): an "
						      "overlay across nodes (net vtep add)" },
					{ "evpn", NULL, "with --vni: remote VTEPs and MACs from BGP EVPN "
							"(FRR's zebra; needs an uplink)" },
					{ 0 } };
static ProtobufCMessage *b_net_add(struct ctx *x)
{
	Riov__V1__NetworkAddRequest *r = NEW(Riov__V1__NetworkAddRequest,
					     riov__v1__network_add_request__init);
	r->network = NEW(Riov__V1__NetworkSpec, riov__v1__network_spec__init);
	r->network->name = pos_or_empty(x, 0);
	r->network->mtu = opt_u32(x, "mtu");
	r->network->vni = opt_u32(x, "vni");
	r->network->evpn = opt_flag(x, "evpn");
	return &r->base;
}
static ProtobufCMessage *b_net_delete(struct ctx *x)
{
	Riov__V1__NetworkDeleteRequest *r = NEW(Riov__V1__NetworkDeleteRequest,
						riov__v1__network_delete_request__init);
	r->name = pos_or_empty(x, 0);
	return &r->base;
}
static ProtobufCMessage *b_net_list(struct ctx *x)
{
	return &NEW(Riov__V1__NetworkListRequest, riov__v1__network_list_request__init)->base;
}
static const char *const c_net_list[] = { "spec.name=NAME", "spec.mtu=MTU", "spec.vni=VNI",
					  "mode=MODE", "ports=PORTS", "#vteps=VTEPS", "macs=MACS", NULL };
static ProtobufCMessage *b_net_vtep(struct ctx *x)
{
	Riov__V1__NetworkVtepRequest *r = NEW(Riov__V1__NetworkVtepRequest,
					      riov__v1__network_vtep_request__init);
	r->net = pos_or_empty(x, 0);
	r->address = pos_or_empty(x, 1);
	return &r->base;
}
/* net vtep list [NET]: Network.List's answer, narrowed to NET when one is given. */
static const ProtobufCMessage *v_vtep_list(const struct ctx *x, const ProtobufCMessage *m)
{
	const Riov__V1__NetworkListResponse *r = (const void *)m;

	if (x->npos == 0)
		return m;
	for (size_t i = 0; i < r->n_networks; i++) {
		if (r->networks[i]->spec && strcmp(r->networks[i]->spec->name, x->pos[0]) == 0) {
			Riov__V1__NetworkListResponse *one = NEW(Riov__V1__NetworkListResponse,
								 riov__v1__network_list_response__init);
			one->networks = xalloc(sizeof(*one->networks));
			one->networks[0] = r->networks[i];
			one->n_networks = 1;
			return &one->base;
		}
	}
	fprintf(stderr, "riovctl: NOT_FOUND: network %s does not exist\n", x->pos[0]);
	return NULL;
}
static void p_vtep_list(const struct ctx *x, const ProtobufCMessage *m)
{
	ctl_print_vteps((const Riov__V1__NetworkListResponse *)m);
}
static const struct opt o_net_mac_add[] = {
	{ "vtep", "A.B.C.D", "frames to the MAC go to this remote VTEP of the network" },
	{ "port", "NAME", "... or to this local port of the network (vhost or eth)" },
	{ 0 }
};
static ProtobufCMessage *b_net_mac(struct ctx *x)
{
	Riov__V1__NetworkMacRequest *r = NEW(Riov__V1__NetworkMacRequest,
					     riov__v1__network_mac_request__init);
	r->net = pos_or_empty(x, 0);
	r->mac = pos_or_empty(x, 1);
	r->vtep = opt_str(x, "vtep");
	r->port = opt_str(x, "port");
	return &r->base;
}
static ProtobufCMessage *b_net_mac_add(struct ctx *x)
{
	if (!opt_val(x, "vtep") == !opt_val(x, "port"))
		usage_error("net mac add needs one of --vtep A.B.C.D and --port NAME");
	return b_net_mac(x);
}
static const struct opt o_net_mac_list[] = {
	{ "page-size", "N", "entries per call (riovd's default 1000, at most 5000); all pages are "
			    "fetched" },
	{ "limit", "N", "only the first N entries" },
	{ 0 }
};
static ProtobufCMessage *b_net_mac_list(struct ctx *x)
{
	Riov__V1__NetworkListMacsRequest *r = NEW(Riov__V1__NetworkListMacsRequest,
						  riov__v1__network_list_macs_request__init);
	r->net = pos_or_empty(x, 0);
	r->page_size = opt_u32(x, "page-size");
	if (opt_val(x, "limit") && opt_u64(x, "limit") == 0)
		usage_error("--limit needs a number of entries above 0");
	return &r->base;
}
static void *xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL) {
		fprintf(stderr, "riovctl: out of memory\n");
		exit(EXIT_CONN);
	}
	return p;
}
/* Whether MAC entry a comes before b in Network.ListMacs' order (address, then port). */
static bool mac_before(const Riov__V1__MacEntry *a, const Riov__V1__MacEntry *b)
{
	int c = strcmp(a->mac ? a->mac : "", b->mac ? b->mac : "");
	return c < 0 || (c == 0 && strcmp(a->port ? a->port : "", b->port ? b->port : "") < 0);
}
/* net mac list: Network.ListMacs page after page (riovd answers at most 5000 entries a call, as a
 * table of 32,768 does not fit a frame), printed as one table, or with --json one answer
 * {"macs": [...]}, as a single call printed them. A page that does not start after the one
 * before, or an empty one with a next page, is riovd's error (no endless loop). */
static int call_mac_list(struct ctx *x, struct riov_client *cl, const char *method,
			 ProtobufCMessage *req, char *err, size_t errlen)
{
	Riov__V1__NetworkListMacsRequest *r = (void *)req;
	const uint64_t limit = opt_val(x, "limit") ? opt_u64(x, "limit") : UINT64_MAX;
	ProtobufCMessage **pages = NULL;
	Riov__V1__MacEntry **all = NULL;
	size_t n_pages = 0, n = 0;
	uint32_t total = 0;
	bool more = false;
	int status;

	r->page_token = "";
	for (;;) {
		ProtobufCMessage *m = NULL;
		if ((status = riov_client_call(cl, method, req, &m, err, errlen)) != 0)
			break;
		pages = xrealloc(pages, (n_pages + 1) * sizeof(*pages));
		pages[n_pages++] = m;
		const Riov__V1__NetworkListMacsResponse *p = (const void *)m;
		const char *next = p->next_page_token ? p->next_page_token : "";
		if ((p->n_macs == 0 && next[0] != '\0') ||
		    (p->n_macs > 0 && n > 0 && !mac_before(all[n - 1], p->macs[0]))) {
			snprintf(err, errlen, "riovd's pages of network %s's MAC table do not advance "
				 "(page %zu)", r->net, n_pages);
			status = -EPROTO;
			break;
		}
		all = xrealloc(all, (n + p->n_macs + 1) * sizeof(*all));
		for (size_t k = 0; k < p->n_macs; k++)
			all[n++] = p->macs[k];
		total = p->total;
		more = next[0] != '\0';
		if (!more || n >= limit)
			break;
		r->page_token = (char *)next; /* lives with its page */
	}
	if (status == 0) {
		Riov__V1__NetworkListMacsResponse one = RIOV__V1__NETWORK_LIST_MACS_RESPONSE__INIT;
		more |= n > limit;
		one.macs = all;
		one.n_macs = n > limit ? (size_t)limit : n;
		if (ctl_json_out) {
			ctl_print_json_field(&one.base, "macs");
		} else {
			ctl_print_macs(&one);
			if (more)
				printf("(the first %zu entries of %" PRIu32 ": --limit)\n", one.n_macs,
				       total);
		}
	}
	for (size_t k = 0; k < n_pages; k++)
		protobuf_c_message_free_unpacked(pages[k], NULL);
	free(pages);
	free(all);
	return status;
}

/* --- port */
static const struct opt o_port_add[] = {
	{ "net", "NET", "network the port joins (required; none for an uplink)" },
	{ "socket", "PATH", "vhost: vhost-user socket path" },
	{ "client", NULL, "vhost: connect to the socket (QEMU is the server)" },
	{ "queues", "N", "queue pairs (default 1)" },
	{ "devargs", "ARGS", "eth, uplink: DPDK devargs, e.g. net_af_packet0,iface=veth0" },
	{ "features-off", "LIST", "vhost: comma-separated virtio features to withhold (mrg_rxbuf, "
				  "in_order, event_idx, indirect, packed, offloads)" },
	{ "offloads", "on|off", "vhost: checksum and segmentation offloads; eth, uplink: receive "
				"coalescing of TCP (default on; off = --features-off offloads)" },
	{ "mac", "MAC", "fixed MAC address" },
	{ "mtu", "N", "MTU (default: the network's)" },
	{ "assign", NULL, "eth on a PCI function: assign it through riov's VT-d model" },
	{ "domain", "N", "with --assign: its DMA domain id (default: allocate)" },
	{ "address", "A.B.C.D/LEN", "uplink: the node's VTEP address and the underlay's prefix "
				    "length (required)" },
	{ "gateway", "A.B.C.D", "uplink: the underlay's default gateway (riovd adds the default "
				"route out of the uplink's TAP)" },
	{ 0 }
};
static Riov__V1__PortType parse_port_type(const char *s)
{
	static const struct { const char *n; Riov__V1__PortType t; } types[] = {
		{ "vhost", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST },
		{ "eth", RIOV__V1__PORT_TYPE__PORT_TYPE_ETH },
		{ "vxlan", RIOV__V1__PORT_TYPE__PORT_TYPE_VXLAN },
		{ "rdma", RIOV__V1__PORT_TYPE__PORT_TYPE_RDMA },
		{ "vf", RIOV__V1__PORT_TYPE__PORT_TYPE_VF },
		{ "uplink", RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK },
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(s, types[i].n) == 0)
			return types[i].t;
	usage_error("unknown port type '%s' (vhost, eth, uplink, vxlan, rdma, vf)", s);
}
static ProtobufCMessage *b_port_add(struct ctx *x)
{
	Riov__V1__PortAddRequest *r = NEW(Riov__V1__PortAddRequest,
					  riov__v1__port_add_request__init);
	Riov__V1__PortSpec *p = r->port = NEW(Riov__V1__PortSpec, riov__v1__port_spec__init);
	p->type = parse_port_type(x->pos[0]);
	p->name = pos_or_empty(x, 1);
	p->net = opt_str(x, "net");
	if (!p->net[0] && p->type != RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK)
		usage_error("port add needs --net NET");
	p->socket_path = opt_str(x, "socket");
	p->client = opt_flag(x, "client");
	p->queues = opt_u32(x, "queues");
	p->devargs = opt_str(x, "devargs");
	p->mac = opt_str(x, "mac");
	p->mtu = opt_u32(x, "mtu");
	p->assign = opt_flag(x, "assign");
	p->domain_id = opt_u32(x, "domain");
	if (p->domain_id && !p->assign)
		usage_error("--domain needs --assign");
	if (p->type == RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST && !p->socket_path[0])
		usage_error("a vhost port needs --socket PATH");
	if (p->type == RIOV__V1__PORT_TYPE__PORT_TYPE_ETH && !p->devargs[0])
		usage_error("an eth port needs --devargs ARGS");
	p->address = opt_str(x, "address");
	p->gateway = opt_str(x, "gateway");
	if (p->type == RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK) {
		if (p->net[0])
			usage_error("an uplink is in no network: leave --net out");
		if (!p->devargs[0])
			usage_error("an uplink needs --devargs ARGS");
		if (!p->address[0])
			usage_error("an uplink needs --address A.B.C.D/LEN (its VTEP address)");
	} else if (p->address[0] || p->gateway[0]) {
		usage_error("--address and --gateway are for uplink ports");
	}
	const char *fo = opt_val(x, "features-off");
	const char *ol = opt_val(x, "offloads");
	if (ol && strcmp(ol, "on") != 0 && strcmp(ol, "off") != 0)
		usage_error("--offloads takes on or off, not '%s'", ol);
	const bool ol_off = ol && strcmp(ol, "off") == 0;
	size_t n = 1 + ol_off;
	for (const char *c = fo ? fo : ""; *c; c++)
		n += *c == ',';
	p->features_off = xalloc(n * sizeof(char *));
	if (fo) {
		char *copy = xalloc(strlen(fo) + 1), *save = NULL;
		strcpy(copy, fo);
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			p->features_off[p->n_features_off++] = t;
	}
	if (ol_off)
		p->features_off[p->n_features_off++] = "offloads";
	return &r->base;
}
static ProtobufCMessage *b_port_delete(struct ctx *x)
{
	Riov__V1__PortDeleteRequest *r = NEW(Riov__V1__PortDeleteRequest,
					     riov__v1__port_delete_request__init);
	r->name = pos_or_empty(x, 0);
	return &r->base;
}
static const struct opt o_port_list[] = { { "net", "NET", "only ports of this network" }, { 0 } };
static ProtobufCMessage *b_port_list(struct ctx *x)
{
	Riov__V1__PortListRequest *r = NEW(Riov__V1__PortListRequest,
					   riov__v1__port_list_request__init);
	r->net = opt_str(x, "net");
	return &r->base;
}
static const char *const c_port_list[] = { "spec.name=NAME", "spec.type=TYPE", "spec.net=NET",
					   "state=STATE", "spec.queues=QUEUES",
					   "spec.socket_path=SOCKET", "spec.devargs=DEVARGS",
					   "spec.address=ADDRESS", "domain_id=DOMAIN",
					   "queue_pairs=QUEUE_PAIRS", "feature_names=FEATURES", NULL };
static ProtobufCMessage *b_port_stats(struct ctx *x)
{
	Riov__V1__PortStatsRequest *r = NEW(Riov__V1__PortStatsRequest,
					    riov__v1__port_stats_request__init);
	r->name = pos_or_empty(x, 0);
	return &r->base;
}
static const char *const c_port_stats[] = {
	"port=PORT", "net=NET", "rx_packets=RX_PKTS", "rx_bytes=RX_BYTES", "tx_packets=TX_PKTS",
	"tx_bytes=TX_BYTES", "rx_dropped=RX_DROP", "tx_dropped=TX_DROP", "dma_faults=DMA_FAULTS",
	NULL
};
static const char *const c_port_queues[] = {
	"queue=QUEUE", "rx_running=RX_RUNNING", "tx_running=TX_RUNNING", "rx_packets=RX_PKTS",
	"rx_bytes=RX_BYTES", "tx_packets=TX_PKTS", "tx_bytes=TX_BYTES", "interrupts=INTERRUPTS",
	NULL
};
/* port stats: one line per port; for a named port also its details (ctl_print_port_detail). */
static void p_port_stats(const struct ctx *x, const ProtobufCMessage *m)
{
	const Riov__V1__PortStatsResponse *r = (const void *)m;

	ctl_print_answer(m, x->cmd->cols);
	for (size_t i = 0; x->npos > 0 && i < r->n_ports; i++)
		ctl_print_port_detail(r->ports[i], c_port_queues);
}

/* --- domain */
static const struct opt o_dom_sel[] = { { "id", "N", "domain id instead of a device name" },
					{ 0 } };
static const struct opt o_dom_map[] = {
	{ "id", "N", "domain id instead of a device name" },
	{ "iova", "ADDR", "I/O virtual address (required)" },
	{ "size", "BYTES", "length (required; K, M, G suffixes)" },
	{ "target", "ADDR", "address the IOVA maps to (required)" },
	{ "read-only", NULL, "map without write permission" },
	{ 0 }
};
static const struct opt o_dom_unmap[] = { { "id", "N", "domain id instead of a device name" },
					  { "iova", "ADDR", "start (required)" },
					  { "size", "BYTES", "length (required)" },
					  { 0 } };
static const struct opt o_dom_probe[] = { { "id", "N", "domain id instead of a device name" },
					  { "iova", "ADDR", "address to translate (required)" },
					  { "length", "BYTES", "bytes wanted (default 1)" },
					  { "write", NULL, "probe for write access" },
					  { 0 } };
static const struct opt o_dom_create[] = { { "id", "N", "domain id (default: allocate)" },
					   { "name", "NAME", "a name for people" },
					   { "address-width", "BITS", "39, 48 or 57 (default 48)" },
					   { "nested", NULL, "nested (first + second stage)" },
					   { 0 } };
static const struct opt o_dom_attach[] = { { "id", "N", "domain id (required)" },
					   { "source-id", "BDF", "PCI requester id (bus<<8|devfn)" },
					   { 0 } };
static void need(struct ctx *x, const char *name)
{
	if (!opt_val(x, name))
		usage_error("%s %s needs --%s", x->cmd->obj, x->cmd->verb, name);
}
static void need_device_or_id(struct ctx *x)
{
	if (x->npos == 0 && !opt_val(x, "id"))
		usage_error("name the domain by DEVICE or --id N");
}
static ProtobufCMessage *b_dom_show(struct ctx *x)
{
	need_device_or_id(x);
	Riov__V1__DomainShowRequest *r = NEW(Riov__V1__DomainShowRequest,
					     riov__v1__domain_show_request__init);
	r->device = pos_or_empty(x, 0);
	r->domain_id = opt_u32(x, "id");
	return &r->base;
}
static ProtobufCMessage *b_dom_map(struct ctx *x)
{
	need_device_or_id(x);
	need(x, "iova");
	need(x, "size");
	need(x, "target");
	Riov__V1__DomainMapRequest *r = NEW(Riov__V1__DomainMapRequest,
					    riov__v1__domain_map_request__init);
	r->device = pos_or_empty(x, 0);
	r->domain_id = opt_u32(x, "id");
	r->mapping = NEW(Riov__V1__DomainMapping, riov__v1__domain_mapping__init);
	r->mapping->iova = opt_u64(x, "iova");
	r->mapping->size = opt_u64(x, "size");
	r->mapping->target = opt_u64(x, "target");
	r->mapping->read = true;
	r->mapping->write = !opt_flag(x, "read-only");
	return &r->base;
}
static ProtobufCMessage *b_dom_unmap(struct ctx *x)
{
	need_device_or_id(x);
	need(x, "iova");
	need(x, "size");
	Riov__V1__DomainUnmapRequest *r = NEW(Riov__V1__DomainUnmapRequest,
					      riov__v1__domain_unmap_request__init);
	r->device = pos_or_empty(x, 0);
	r->domain_id = opt_u32(x, "id");
	r->iova = opt_u64(x, "iova");
	r->size = opt_u64(x, "size");
	return &r->base;
}
static ProtobufCMessage *b_dom_probe(struct ctx *x)
{
	need_device_or_id(x);
	need(x, "iova");
	Riov__V1__DomainTranslateProbeRequest *r = NEW(
		Riov__V1__DomainTranslateProbeRequest, riov__v1__domain_translate_probe_request__init);
	r->device = pos_or_empty(x, 0);
	r->domain_id = opt_u32(x, "id");
	r->iova = opt_u64(x, "iova");
	r->length = opt_val(x, "length") ? opt_u64(x, "length") : 1;
	r->write = opt_flag(x, "write");
	return &r->base;
}
static ProtobufCMessage *b_dom_create(struct ctx *x)
{
	Riov__V1__DomainCreateRequest *r = NEW(Riov__V1__DomainCreateRequest,
					       riov__v1__domain_create_request__init);
	r->domain = NEW(Riov__V1__DomainSpec, riov__v1__domain_spec__init);
	r->domain->domain_id = opt_u32(x, "id");
	r->domain->name = opt_str(x, "name");
	r->domain->address_width = opt_u32(x, "address-width");
	r->domain->nested = opt_flag(x, "nested");
	return &r->base;
}
static ProtobufCMessage *b_dom_attach(struct ctx *x)
{
	need(x, "id");
	Riov__V1__DomainAttachRequest *r = NEW(Riov__V1__DomainAttachRequest,
					       riov__v1__domain_attach_request__init);
	r->domain_id = opt_u32(x, "id");
	r->attachment = NEW(Riov__V1__DomainAttachment, riov__v1__domain_attachment__init);
	r->attachment->device = pos_or_empty(x, 0);
	r->attachment->source_id = opt_u32(x, "source-id");
	return &r->base;
}

/* --- interrupt */
static const struct opt o_irq_set[] = {
	{ "dest", "APIC", "destination APIC id" },  { "guest-vector", "N", "vector in the guest" },
	{ "irte", "N", "IRTE index" },              { "posted", NULL, "posted interrupt" },
	{ "masked", NULL, "start masked" },         { "coalesce-usecs", "N", "coalescing time" },
	{ "coalesce-frames", "N", "coalescing frames" },
	{ 0 }
};
static ProtobufCMessage *b_irq_set(struct ctx *x)
{
	Riov__V1__InterruptSetRequest *r = NEW(Riov__V1__InterruptSetRequest,
					       riov__v1__interrupt_set_request__init);
	Riov__V1__InterruptSetting *s = r->setting = NEW(Riov__V1__InterruptSetting,
							 riov__v1__interrupt_setting__init);
	s->device = pos_or_empty(x, 0);
	s->vector = parse_u32(x->pos[1], "VECTOR");
	s->dest_id = opt_u32(x, "dest");
	s->guest_vector = opt_u32(x, "guest-vector");
	s->irte_index = opt_u32(x, "irte");
	s->posted = opt_flag(x, "posted");
	s->masked = opt_flag(x, "masked");
	s->coalesce_usecs = opt_u32(x, "coalesce-usecs");
	s->coalesce_frames = opt_u32(x, "coalesce-frames");
	return &r->base;
}
static const struct opt o_irq_mask[] = { { "all", NULL, "every vector of the device" },
					 { "unmask", NULL, "unmask instead of mask" },
					 { 0 } };
static ProtobufCMessage *b_irq_mask(struct ctx *x)
{
	Riov__V1__InterruptMaskRequest *r = NEW(Riov__V1__InterruptMaskRequest,
						riov__v1__interrupt_mask_request__init);
	r->device = pos_or_empty(x, 0);
	r->all_vectors = opt_flag(x, "all");
	if (!r->all_vectors && x->npos < 2)
		usage_error("give a VECTOR or --all");
	if (x->npos >= 2)
		r->vector = parse_u32(x->pos[1], "VECTOR");
	r->masked = !opt_flag(x, "unmask");
	return &r->base;
}
static const struct opt o_irq_coal[] = { { "all", NULL, "every vector of the device" },
					 { "usecs", "N", "hold interrupts up to N microseconds" },
					 { "frames", "N", "or until N frames completed" },
					 { 0 } };
static ProtobufCMessage *b_irq_coal(struct ctx *x)
{
	Riov__V1__InterruptCoalesceRequest *r = NEW(Riov__V1__InterruptCoalesceRequest,
						    riov__v1__interrupt_coalesce_request__init);
	r->device = pos_or_empty(x, 0);
	r->all_vectors = opt_flag(x, "all");
	if (!r->all_vectors && x->npos < 2)
		usage_error("give a VECTOR or --all");
	if (x->npos >= 2)
		r->vector = parse_u32(x->pos[1], "VECTOR");
	r->usecs = opt_u32(x, "usecs");
	r->frames = opt_u32(x, "frames");
	return &r->base;
}
static ProtobufCMessage *b_irq_list(struct ctx *x)
{
	Riov__V1__InterruptListRequest *r = NEW(Riov__V1__InterruptListRequest,
						riov__v1__interrupt_list_request__init);
	r->device = pos_or_empty(x, 0);
	return &r->base;
}
static const char *const c_irq_list[] = { "device=DEVICE", "vector=VEC", "masked=MASKED",
					  "irte_index=IRTE", "dest_id=DEST", "guest_vector=GVEC",
					  "posted=POSTED", "coalesce_usecs=USECS",
					  "raised=RAISED", "suppressed=SUPPRESSED", NULL };

/* --- faults */
static const struct opt o_faults_read[] = { { "max", "N", "at most N records" }, { 0 } };
static ProtobufCMessage *b_faults_read(struct ctx *x)
{
	Riov__V1__FaultsReadRequest *r = NEW(Riov__V1__FaultsReadRequest,
					     riov__v1__faults_read_request__init);
	r->device = pos_or_empty(x, 0);
	r->max = opt_u32(x, "max");
	return &r->base;
}
static const char *const c_faults[] = { "seq=SEQ", "device=DEVICE", "source_id=SID",
					"domain_id=DOMAIN", "address=ADDRESS", "reason=REASON",
					"reason_text=WHAT", "write=WRITE", "count=COUNT", NULL };
static ProtobufCMessage *b_faults_clear(struct ctx *x)
{
	Riov__V1__FaultsClearRequest *r = NEW(Riov__V1__FaultsClearRequest,
					      riov__v1__faults_clear_request__init);
	r->device = pos_or_empty(x, 0);
	return &r->base;
}

/* --- device (assigned PCI functions, SR-IOV) */
static const struct opt o_dev_assign[] = {
	{ "pci", "ADDR", "the function, DDDD:BB:DD.F" },
	{ "pf", "ADDR", "or an SR-IOV PF ..." },
	{ "vf", "N", "... and the index of its VF" },
	{ "domain", "N", "DMA domain id (default: allocate)" },
	{ 0 }
};
static ProtobufCMessage *b_dev_assign(struct ctx *x)
{
	Riov__V1__DeviceAssignRequest *r = NEW(Riov__V1__DeviceAssignRequest,
					       riov__v1__device_assign_request__init);
	Riov__V1__DeviceSpec *d = r->device = NEW(Riov__V1__DeviceSpec, riov__v1__device_spec__init);
	d->name = pos_or_empty(x, 0);
	d->pci = opt_str(x, "pci");
	d->pf = opt_str(x, "pf");
	d->vf = opt_u32(x, "vf");
	d->domain_id = opt_u32(x, "domain");
	if (!d->pci[0] && !d->pf[0])
		usage_error("device assign needs --pci ADDR or --pf ADDR --vf N");
	if (d->pci[0] && d->pf[0])
		usage_error("give --pci or --pf/--vf, not both");
	if (opt_val(x, "vf") && !d->pf[0])
		usage_error("--vf needs --pf");
	return &r->base;
}
static ProtobufCMessage *b_dev_release(struct ctx *x)
{
	Riov__V1__DeviceReleaseRequest *r = NEW(Riov__V1__DeviceReleaseRequest,
						riov__v1__device_release_request__init);
	r->name = pos_or_empty(x, 0);
	return &r->base;
}
static ProtobufCMessage *b_dev_list(struct ctx *x)
{
	Riov__V1__DeviceListRequest *r = NEW(Riov__V1__DeviceListRequest,
					     riov__v1__device_list_request__init);
	r->name = pos_or_empty(x, 0);
	return &r->base;
}
static const char *const c_dev_list[] = { "spec.name=NAME", "pci=PCI", "source_id=SID",
					  "iommu_group=GROUP", "driver=DRIVER", "domain_id=DOMAIN",
					  "mapped_bytes=MAPPED", "container_ranges=RANGES",
					  "msix_vectors=MSIX", "user=USER", "hw_faults=HW_FAULTS", NULL };
static ProtobufCMessage *b_dev_vfs(struct ctx *x)
{
	Riov__V1__DeviceSetVfsRequest *r = NEW(Riov__V1__DeviceSetVfsRequest,
					       riov__v1__device_set_vfs_request__init);
	r->sriov = NEW(Riov__V1__SriovSpec, riov__v1__sriov_spec__init);
	r->sriov->pf = pos_or_empty(x, 0);
	r->sriov->num_vfs = parse_u32(x->pos[1], "N");
	return &r->base;
}
static const struct opt o_dev_vf[] = {
	{ "mac", "MAC", "the VF's MAC address (unicast, not zero)" },
	{ "vlan", "V[:QOS]", "port VLAN 0-4095 (0: none) and 802.1p priority 0-7" },
	{ "spoofchk", "on|off", "drop frames the VF sends from another source MAC" },
	{ "trust", "on|off", "trusted VF (may change its MAC, promiscuous mode)" },
	{ "link", "auto|enable|disable", "the VF's link: follow the PF's, always up, always down" },
	{ "rate", "MBPS", "maximum transmit rate in Mbit/s (0: no limit)" },
	{ 0 }
};
static Riov__V1__VfToggle opt_toggle(struct ctx *x, const char *name)
{
	const char *v = opt_val(x, name);
	if (v == NULL)
		return RIOV__V1__VF_TOGGLE__VF_KEEP;
	if (strcmp(v, "on") == 0)
		return RIOV__V1__VF_TOGGLE__VF_ON;
	if (strcmp(v, "off") == 0)
		return RIOV__V1__VF_TOGGLE__VF_OFF;
	usage_error("--%s takes on or off, not '%s'", name, v);
}
static ProtobufCMessage *b_dev_vf(struct ctx *x)
{
	static const char *const links[] = { "auto", "enable", "disable" };
	Riov__V1__DeviceSetVfRequest *r = NEW(Riov__V1__DeviceSetVfRequest,
					      riov__v1__device_set_vf_request__init);
	Riov__V1__VfConfig *c = r->config = NEW(Riov__V1__VfConfig, riov__v1__vf_config__init);
	const char *vlan = opt_val(x, "vlan"), *link = opt_val(x, "link");

	r->pf = pos_or_empty(x, 0);
	c->vf = parse_u32(x->pos[1], "VF");
	c->mac = opt_str(x, "mac");
	if (vlan != NULL) {
		char *v = xalloc(strlen(vlan) + 1), *colon;
		strcpy(v, vlan);
		if ((colon = strchr(v, ':')) != NULL) {
			*colon = '\0';
			c->qos = parse_u32(colon + 1, "--vlan's QOS");
		}
		c->vlan = parse_u32(v, "--vlan");
		c->set_vlan = true;
	}
	c->spoofchk = opt_toggle(x, "spoofchk");
	c->trust = opt_toggle(x, "trust");
	if (link != NULL) {
		for (int i = 0; i < 3 && c->link_state == RIOV__V1__VF_LINK_STATE__VF_LINK_KEEP; i++)
			if (strcmp(link, links[i]) == 0)
				c->link_state = RIOV__V1__VF_LINK_STATE__VF_LINK_AUTO + i;
		if (c->link_state == RIOV__V1__VF_LINK_STATE__VF_LINK_KEEP)
			usage_error("--link takes auto, enable or disable, not '%s'", link);
	}
	if (opt_val(x, "rate")) {
		c->set_rate = true;
		c->max_tx_rate = opt_u32(x, "rate");
	}
	if (!c->mac[0] && !vlan && !link && !c->set_rate && c->spoofchk == 0 && c->trust == 0)
		usage_error("device vf needs a setting: --mac, --vlan, --spoofchk, --trust, --link or "
			    "--rate");
	return &r->base;
}
static ProtobufCMessage *b_dev_pfs(struct ctx *x)
{
	return &NEW(Riov__V1__DeviceListVfsRequest, riov__v1__device_list_vfs_request__init)->base;
}
static const char *const c_dev_pfs[] = { "spec.pf=PF", "spec.num_vfs=VFS", "total_vfs=TOTAL",
					 "driver=DRIVER", "netdev=NETDEV", "vfs=VF_ADDRESSES", NULL };
static const char *const c_dev_vf_states[] = { "vf=VF", "mac=MAC", "vlan=VLAN", "qos=QOS",
					       "spoofchk=SPOOFCHK", "trust=TRUST",
					       "link_state=LINK", "max_tx_rate=MAX_TX_MBPS", NULL };
/* One PF (Device.SetVfs's and SetVf's answer, each of ListVfs'): its line, then its VFs as the
 * kernel reports them. */
static void p_sriov(const Riov__V1__SriovInfo *si)
{
	ctl_print_table((const ProtobufCMessage *const *)&si, 1, &riov__v1__sriov_info__descriptor,
			c_dev_pfs, 0);
	if (si->n_vf_states)
		ctl_print_table((const ProtobufCMessage *const *)si->vf_states, si->n_vf_states,
				&riov__v1__vf_state__descriptor, c_dev_vf_states, 2);
	else if (si->vf_error && si->vf_error[0])
		printf("  VF settings: %s\n", si->vf_error);
}
static void p_dev_pfs(const struct ctx *x, const ProtobufCMessage *m)
{
	const Riov__V1__DeviceListVfsResponse *r = (const void *)m;
	if (r->n_pfs == 0)
		printf("(no pfs)\n");
	for (size_t i = 0; i < r->n_pfs; i++)
		p_sriov(r->pfs[i]);
}
static void p_dev_vfs(const struct ctx *x, const ProtobufCMessage *m)
{
	const Riov__V1__DeviceSetVfsResponse *r = (const void *)m;
	if (r->sriov)
		p_sriov(r->sriov);
}
static void p_dev_vf(const struct ctx *x, const ProtobufCMessage *m)
{
	const Riov__V1__DeviceSetVfResponse *r = (const void *)m;
	if (r->sriov)
		p_sriov(r->sriov);
}

/* --- metrics / stats */
static const struct opt o_stats[] = { { "watch", NULL, "print a snapshot every interval" },
				      { "interval", "MS", "watch interval (default 1000)" },
				      { "count", "N", "stop after N snapshots" },
				      { 0 } };
static ProtobufCMessage *b_metrics_snapshot(struct ctx *x)
{
	return &NEW(Riov__V1__MetricsSnapshotRequest, riov__v1__metrics_snapshot_request__init)->base;
}
static ProtobufCMessage *b_metrics_watch(struct ctx *x)
{
	Riov__V1__MetricsWatchRequest *r = NEW(Riov__V1__MetricsWatchRequest,
					       riov__v1__metrics_watch_request__init);
	r->interval_ms = opt_u32(x, "interval");
	r->count = opt_u32(x, "count");
	return &r->base;
}

/* --- config */
static const struct opt o_config_show[] = { { "saved", NULL, "what the state file holds" },
					    { 0 } };
static ProtobufCMessage *b_config_save(struct ctx *x)
{
	return &NEW(Riov__V1__ConfigSaveRequest, riov__v1__config_save_request__init)->base;
}
static ProtobufCMessage *b_config_show(struct ctx *x)
{
	Riov__V1__ConfigShowRequest *r = NEW(Riov__V1__ConfigShowRequest,
					     riov__v1__config_show_request__init);
	r->saved = opt_flag(x, "saved");
	return &r->base;
}

/* --- log */
static ProtobufCMessage *b_log_levels(struct ctx *x)
{
	return &NEW(Riov__V1__LogLevelsRequest, riov__v1__log_levels_request__init)->base;
}
static ProtobufCMessage *b_log_set(struct ctx *x)
{
	Riov__V1__LogSetRequest *r = NEW(Riov__V1__LogSetRequest, riov__v1__log_set_request__init);
	r->levels = pos_or_empty(x, 0);
	return &r->base;
}
static const char *const c_log[] = { "name=COMPONENT", "level=LEVEL", "default_level=DEFAULT",
				     NULL };

/* Each command names its method by the C name protoc-c generates for it (RIOV_METHOD_ID): the
 * wire name comes from riov.proto's descriptors, and a method that is not in riov.proto does not
 * build. */
static const struct cmd cmds[] = {
	{ "node", "info", RIOV_METHOD_ID(Node, info), "", "version, uptime, workers, health", 0, 0,
	  NULL, b_node_info, NULL },
	{ "net", "add", RIOV_METHOD_ID(Network, add), "NAME [--mtu N] [--vni N [--evpn]]", "create a network",
	  1, 1, o_net_add, b_net_add, NULL },
	{ "net", "delete", RIOV_METHOD_ID(Network, delete), "NAME",
	  "delete a network without ports (its remote VTEPs go with it)", 1, 1, NULL, b_net_delete,
	  NULL },
	{ "net", "list", RIOV_METHOD_ID(Network, list), "", "list networks", 0, 0, NULL, b_net_list,
	  c_net_list },
	{ "net", "vtep add", RIOV_METHOD_ID(Network, add_vtep), "NET A.B.C.D",
	  "add a remote VTEP (another node's uplink address) to an overlay network", 2, 2, NULL,
	  b_net_vtep, NULL },
	{ "net", "vtep del", RIOV_METHOD_ID(Network, delete_vtep), "NET A.B.C.D",
	  "remove a remote VTEP from a network", 2, 2, NULL, b_net_vtep, NULL },
	{ "net", "vtep list", RIOV_METHOD_ID(Network, list), "[NET]",
	  "remote VTEPs: next hop and counters, and each VNI's totals (every network's, or NET's)", 0,
	  1, NULL, b_net_list, NULL, p_vtep_list, v_vtep_list },
	{ "net", "mac add", RIOV_METHOD_ID(Network, add_mac), "NET MAC --vtep A.B.C.D | --port NAME",
	  "make a MAC static: frames to it go to that remote VTEP or local port", 2, 2, o_net_mac_add,
	  b_net_mac_add, NULL },
	{ "net", "mac del", RIOV_METHOD_ID(Network, delete_mac), "NET MAC", "delete a static MAC", 2,
	  2, NULL, b_net_mac, NULL },
	{ "net", "mac list", RIOV_METHOD_ID(Network, list_macs), "NET [--page-size N] [--limit N]",
	  "the network's MAC table: learned and static entries", 1, 1, o_net_mac_list,
	  b_net_mac_list, NULL, NULL, NULL, call_mac_list },
	{ "port", "add", RIOV_METHOD_ID(Port, add),
	  "vhost|eth|uplink NAME [--net NET] [--socket PATH] [--client] [--queues N] [--devargs ARGS] "
	  "[--features-off LIST] [--offloads on|off] [--mac MAC] [--mtu N] [--assign [--domain N]] "
	  "[--address A.B.C.D/LEN [--gateway A.B.C.D]]",
	  "add a port to a network, or an uplink", 2, 2, o_port_add, b_port_add, NULL },
	{ "port", "delete", RIOV_METHOD_ID(Port, delete), "NAME", "remove a port", 1, 1, NULL,
	  b_port_delete, NULL },
	{ "port", "list", RIOV_METHOD_ID(Port, list), "[--net NET]", "list ports", 0, 0, o_port_list,
	  b_port_list, c_port_list },
	{ "port", "stats", RIOV_METHOD_ID(Port, stats), "[NAME]",
	  "port counters (with NAME, also a remote VTEP's NET@A.B.C.D: drops by cause, vhost session, "
	  "queue pairs too)", 0, 1, NULL,
	  b_port_stats, c_port_stats, p_port_stats },
	{ "domain", "show", RIOV_METHOD_ID(Domain, show), "DEVICE | --id N", "a DMA-remapping domain",
	  0, 1, o_dom_sel, b_dom_show, NULL },
	{ "domain", "map", RIOV_METHOD_ID(Domain, map),
	  "DEVICE|--id N --iova ADDR --size BYTES --target ADDR [--read-only]", "add a mapping", 0,
	  1, o_dom_map, b_dom_map, NULL },
	{ "domain", "unmap", RIOV_METHOD_ID(Domain, unmap), "DEVICE|--id N --iova ADDR --size BYTES",
	  "remove mappings", 0, 1, o_dom_unmap, b_dom_unmap, NULL },
	{ "domain", "probe", RIOV_METHOD_ID(Domain, translate_probe),
	  "DEVICE|--id N --iova ADDR [--length BYTES] [--write]", "translate an address", 0, 1,
	  o_dom_probe, b_dom_probe, NULL },
	{ "domain", "create", RIOV_METHOD_ID(Domain, create),
	  "[--id N] [--name NAME] [--address-width BITS] [--nested]", "create a domain", 0, 0,
	  o_dom_create, b_dom_create, NULL },
	{ "domain", "attach", RIOV_METHOD_ID(Domain, attach), "DEVICE --id N [--source-id BDF]",
	  "attach a device to a domain", 1, 1, o_dom_attach, b_dom_attach, NULL },
	{ "interrupt", "set", RIOV_METHOD_ID(Interrupt, set),
	  "DEVICE VECTOR [--dest APIC] [--guest-vector N] "
	  "[--irte N] [--posted] [--masked] [--coalesce-usecs N] [--coalesce-frames N]",
	  "program an interrupt remapping entry", 2, 2, o_irq_set, b_irq_set, NULL },
	{ "interrupt", "mask", RIOV_METHOD_ID(Interrupt, mask), "DEVICE VECTOR|--all [--unmask]",
	  "mask or unmask", 1, 2, o_irq_mask, b_irq_mask, NULL },
	{ "interrupt", "coalesce", RIOV_METHOD_ID(Interrupt, coalesce),
	  "DEVICE VECTOR|--all --usecs N [--frames N]", "set coalescing", 1, 2, o_irq_coal,
	  b_irq_coal, NULL },
	{ "interrupt", "list", RIOV_METHOD_ID(Interrupt, list), "[DEVICE]", "list interrupts", 0, 1,
	  NULL, b_irq_list, c_irq_list },
	{ "device", "assign", RIOV_METHOD_ID(Device, assign),
	  "NAME --pci ADDR | --pf ADDR --vf N [--domain N]",
	  "assign a PCI function (or a VF) through riov's VT-d model", 1, 1, o_dev_assign,
	  b_dev_assign, NULL },
	{ "device", "release", RIOV_METHOD_ID(Device, release), "NAME",
	  "release an assigned function", 1, 1, NULL, b_dev_release, NULL },
	{ "device", "list", RIOV_METHOD_ID(Device, list), "[NAME]",
	  "assigned functions (--json: MSI-X vectors, IRTEs, interrupts)", 0, 1, NULL, b_dev_list,
	  c_dev_list },
	{ "device", "vfs", RIOV_METHOD_ID(Device, set_vfs), "PF N",
	  "create N SR-IOV VFs on PF (0 removes them; VF settings of the VFs that remain are kept)",
	  2, 2, NULL, b_dev_vfs, NULL, p_dev_vfs },
	{ "device", "vf", RIOV_METHOD_ID(Device, set_vf),
	  "PF VF [--mac MAC] [--vlan V[:QOS]] [--spoofchk on|off] [--trust on|off] "
	  "[--link auto|enable|disable] [--rate MBPS]",
	  "set a VF's MAC, VLAN, spoof check, trust, link state or rate (through the PF's driver)",
	  2, 2, o_dev_vf, b_dev_vf, NULL, p_dev_vf },
	{ "device", "pfs", RIOV_METHOD_ID(Device, list_vfs), "",
	  "PFs whose VFs riovd created, their VFs and the VFs' settings as the kernel reports them",
	  0, 0, NULL, b_dev_pfs, c_dev_pfs, p_dev_pfs },
	{ "faults", "read", RIOV_METHOD_ID(Faults, read), "[DEVICE] [--max N]",
	  "recorded DMA and interrupt faults (default verb)", 0, 1, o_faults_read, b_faults_read,
	  c_faults },
	{ "faults", "clear", RIOV_METHOD_ID(Faults, clear), "[DEVICE]", "clear recorded faults", 0, 1,
	  NULL, b_faults_clear, NULL },
	{ "stats", "", RIOV_METHOD_ID(Metrics, snapshot), "[--watch [--interval MS] [--count N]]",
	  "counters of every port and worker", 0, 0, o_stats, b_metrics_snapshot, NULL },
	{ "metrics", "snapshot", RIOV_METHOD_ID(Metrics, snapshot), "",
	  "one snapshot of every counter", 0, 0, NULL, b_metrics_snapshot, NULL },
	{ "metrics", "watch", RIOV_METHOD_ID(Metrics, watch), "[--interval MS] [--count N]",
	  "a snapshot every interval until interrupted", 0, 0, o_stats, b_metrics_watch, NULL },
	{ "config", "save", RIOV_METHOD_ID(Config, save), "", "write the state file now", 0, 0, NULL,
	  b_config_save, NULL },
	{ "config", "show", RIOV_METHOD_ID(Config, show), "[--saved]",
	  "running (or saved) desired state", 0, 0, o_config_show, b_config_show, NULL },
	{ "log", "levels", RIOV_METHOD_ID(Log, levels), "",
	  "log level of each component of riovd (default verb)", 0, 0, NULL, b_log_levels, c_log },
	{ "log", "set", RIOV_METHOD_ID(Log, set), "LEVEL|NAME=LEVEL[,...]",
	  "set log levels until riovd stops, e.g. notice,vhost=debug", 1, 1, NULL, b_log_set, c_log },
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct { const char *alias, *obj; } obj_alias[] = {
	{ "network", "net" }, { "irq", "interrupt" }, { "fault", "faults" },
	{ "metric", "metrics" }, { "dev", "device" },
};
static const struct { const char *obj, *verb; } default_verb[] = {
	{ "faults", "read" }, { "stats", "" }, { "node", "info" }, { "device", "list" },
	{ "log", "levels" },
};

/* ------------------------------------------------------------------ help */

static void print_opts(const struct opt *o)
{
	for (int i = 0; o && o[i].name; i++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", o[i].name, o[i].arg ? " " : "",
			 o[i].arg ? o[i].arg : "");
		printf("  %-26s %s\n", left, o[i].help);
	}
}

static void help_main(void)
{
	/* Laid out for help2man too (deploy/man): "Usage:", "Options:", "Examples:" with "$ " */
	printf("Usage: riovctl [OPTIONS] <object> <verb> [args]\n\n"
	       "Talks to riovd over its control API (riov.v1).\n"
	       "Exit status: 0 success, 1 riovd refused the call, 2 usage error, 3 riovd not "
	       "reachable.\n\n"
	       "objects:\n");
	const char *last = "";
	for (size_t i = 0; i < N_CMDS; i++) {
		if (strcmp(cmds[i].obj, last) == 0)
			continue;
		last = cmds[i].obj;
		printf("  %-10s", last);
		for (size_t j = i; j < N_CMDS && strcmp(cmds[j].obj, last) == 0; j++) {
			/* two-word verbs as one: "vtep add|del|list" */
			const char *v = cmds[j].verb, *sp = strchr(v, ' ');
			const char *prev = j > i ? cmds[j - 1].verb : "";
			if (sp != NULL && strncmp(prev, v, (size_t)(sp - v + 1)) == 0)
				printf("|%s", sp + 1);
			else
				printf(" %s", v[0] ? v : "[--watch]");
		}
		printf("\n");
	}
	printf("\nOptions:\n"
	       "  --connect ADDR             unix:PATH (default /run/riov/riovd.sock, or\n"
	       "                             $RIOV_SOCKET) or tls://HOST:PORT\n"
	       "  --cert F --key F           TLS client certificate and key (role: riovd's tls_roles)\n"
	       "  --ca F                     CA that signed riovd's certificate\n"
	       "  --json                     machine-readable output\n"
	       "  --timeout S                seconds to wait for riovd (default 10)\n"
	       "  --help                     this text; '<object> --help', '<object> <verb> --help'\n"
	       "  --version                  print riovctl's version and exit\n\n"
	       "Examples:\n"
	       "  $ riovctl net add blue\n"
	       "  $ riovctl port add vhost vm1-eth0 --net blue --socket /run/riov/vm1.sock --client\n"
	       "  $ riovctl port add eth up0 --net blue --devargs net_af_packet0,iface=veth0\n"
	       "  $ riovctl port add uplink ul0 --devargs net_af_packet1,iface=eth1 --address 10.0.0.1/24\n"
	       "  $ riovctl net add red --vni 100 --mtu 1450; riovctl net vtep add red 10.0.0.2\n"
	       "  $ riovctl net mac add red 02:00:00:00:00:0a --vtep 10.0.0.2; riovctl net mac list red\n"
	       "  $ riovctl port list; riovctl port stats vm1-eth0; riovctl domain show vm1-eth0\n"
	       "  $ riovctl faults; riovctl stats --watch; riovctl node info\n");
}

static void help_obj(const char *obj)
{
	printf("usage: riovctl %s <verb> [args]\n\nverbs:\n", obj);
	for (size_t i = 0; i < N_CMDS; i++)
		if (strcmp(cmds[i].obj, obj) == 0)
			printf("  %-10s %s\n  %-10s   riovctl %s%s%s %s\n",
			       cmds[i].verb[0] ? cmds[i].verb : "(none)", cmds[i].summary, "", obj,
			       cmds[i].verb[0] ? " " : "", cmds[i].verb, cmds[i].synopsis);
	printf("\n'riovctl %s <verb> --help' for details.\n", obj);
}

/* The catalog entry of c's method (proto/frame.h: built from riov.proto's descriptors). */
static const struct riov_method *cmd_method(const struct cmd *c)
{
	const struct riov_method *m = riov_method_get(c->method);

	if (m == NULL) {
		fprintf(stderr, "riovctl: internal error: '%s %s' names no method of riov.v1\n", c->obj,
			c->verb);
		exit(EXIT_USAGE);
	}
	return m;
}

static void help_cmd(const struct cmd *c)
{
	printf("usage: riovctl %s%s%s %s\n\n%s (method %s)\n", c->obj, c->verb[0] ? " " : "",
	       c->verb, c->synopsis, c->summary, cmd_method(c)->name);
	if (c->opts) {
		printf("\noptions:\n");
		print_opts(c->opts);
	}
}

/* ------------------------------------------------------------------ main */

/* Whether verb starts two-word verbs of obj ("net vtep add"). */
static bool verb_family(const char *obj, const char *verb)
{
	size_t n = strlen(verb);

	for (size_t k = 0; k < N_CMDS; k++)
		if (strcmp(cmds[k].obj, obj) == 0 && strncmp(cmds[k].verb, verb, n) == 0 &&
		    cmds[k].verb[n] == ' ')
			return true;
	return false;
}

/* The command "obj verb sub" ("delete" may be "del"); *i moves past both words. A missing or
 * unknown sub is a usage error naming the verbs there are. */
static const struct cmd *two_word_cmd(const char *obj, const char *verb, const char *sub, int *i)
{
	char want[64], have[256] = "";
	size_t off = 0, n = strlen(verb);

	if (sub != NULL && strcmp(sub, "delete") == 0)
		sub = "del";
	snprintf(want, sizeof(want), "%s %s", verb, sub ? sub : "");
	for (size_t k = 0; k < N_CMDS; k++) {
		if (strcmp(cmds[k].obj, obj) != 0 || strncmp(cmds[k].verb, verb, n) != 0 ||
		    cmds[k].verb[n] != ' ')
			continue;
		if (sub != NULL && strcmp(cmds[k].verb, want) == 0) {
			*i += 2;
			return &cmds[k];
		}
		if (off < sizeof(have))
			off += (size_t)snprintf(have + off, sizeof(have) - off, "%s%s", off ? ", " : "",
						cmds[k].verb + n + 1);
	}
	if (sub == NULL || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		if (sub != NULL) {
			help_obj(obj);
			free_all();
			exit(0);
		}
		usage_error("%s %s needs one of: %s", obj, verb, have);
	}
	usage_error("'%s %s' has no verb '%s' (%s)", obj, verb, sub, have);
}

static void parse_cmd_args(struct ctx *x, int argc, char **argv)
{
	const struct cmd *c = x->cmd;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			help_cmd(c);
			free_all();
			exit(0);
		}
		if (strcmp(a, "--json") == 0) {
			ctl_json_out = true;
			continue;
		}
		if (strncmp(a, "--", 2) == 0) {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			int k;
			for (k = 0; c->opts && c->opts[k].name; k++)
				if (strlen(c->opts[k].name) == n && strncmp(c->opts[k].name, name, n) == 0)
					break;
			if (!c->opts || !c->opts[k].name)
				usage_error("%s %s has no option %s", c->obj, c->verb, a);
			if (c->opts[k].arg) {
				if (eq)
					x->val[k] = eq + 1;
				else if (i + 1 < argc)
					x->val[k] = argv[++i];
				else
					usage_error("%s needs a value (%s)", a, c->opts[k].arg);
			} else {
				if (eq)
					usage_error("%s takes no value", c->opts[k].name);
				x->val[k] = "1";
			}
			continue;
		}
		if (x->npos >= MAX_POS || x->npos >= c->max_pos)
			usage_error("too many arguments for %s %s: '%s'", c->obj, c->verb, a);
		x->pos[x->npos++] = a;
	}
	if (x->npos < c->min_pos)
		usage_error("%s %s needs: %s", c->obj, c->verb, c->synopsis);
}

static int watch_cb(const ProtobufCMessage *resp, void *arg)
{
	const struct cmd *c = arg;
	const Riov__V1__MetricsWatchResponse *r = (const void *)resp;
	if (!ctl_json_out && r->snapshot) {
		time_t t = (time_t)(r->snapshot->timestamp_ns / 1000000000ull);
		struct tm tm;
		char ts[32];
		localtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
		printf("--- %s\n", ts);
		if (r->snapshot->n_ports) {
			ctl_print_table((const ProtobufCMessage *const *)r->snapshot->ports,
					r->snapshot->n_ports, &riov__v1__port_counters__descriptor,
					c_port_stats, 0);
			ctl_print_workers(r->snapshot);
		} else {
			ctl_print_kv(&r->snapshot->base, 0);
		}
	} else {
		ctl_print_answer(resp, c->cols);
	}
	fflush(stdout);
	return 0;
}

/* The options before the object (--json, --connect, --timeout ...). Returns the index of the
 * object in argv, or -1 when --help or --version was answered. */
static int parse_global_opts(int argc, char **argv, struct riov_client_opts *o, double *timeout)
{
	double timeout_s = *timeout;
	int i;
	for (i = 1; i < argc && strncmp(argv[i], "-", 1) == 0; i++) {
		const char *a = argv[i];
		const char **dst = NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			help_main();
			return -1;
		} else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			printf("riovctl %s\n", RIOV_VERSION);
			return -1;
		} else if (strcmp(a, "--json") == 0) {
			ctl_json_out = true;
			continue;
		} else if (strcmp(a, "--connect") == 0) {
			dst = &o->connect;
		} else if (strcmp(a, "--cert") == 0) {
			dst = &o->cert;
		} else if (strcmp(a, "--key") == 0) {
			dst = &o->key;
		} else if (strcmp(a, "--ca") == 0) {
			dst = &o->ca;
		} else if (strcmp(a, "--timeout") == 0) {
			if (i + 1 >= argc)
				usage_error("--timeout needs seconds");
			char *end;
			timeout_s = strtod(argv[++i], &end);
			if (*end || timeout_s <= 0 || timeout_s > 86400)
				usage_error("--timeout: '%s' is not a number of seconds", argv[i]);
			continue;
		} else {
			usage_error("unknown option %s", a);
		}
		if (i + 1 >= argc)
			usage_error("%s needs a value", a);
		*dst = argv[++i];
	}
	*timeout = timeout_s;
	return i;
}

int main(int argc, char **argv)
{
	struct riov_client_opts o = { 0 };
	double timeout_s = 10;
	int i = parse_global_opts(argc, argv, &o, &timeout_s);

	if (i < 0)
		return 0;
	if (i >= argc) {
		help_main();
		return EXIT_USAGE;
	}
	const char *obj = argv[i++];
	for (size_t k = 0; k < sizeof(obj_alias) / sizeof(obj_alias[0]); k++)
		if (strcmp(obj, obj_alias[k].alias) == 0)
			obj = obj_alias[k].obj;
	bool known = false;
	for (size_t k = 0; k < N_CMDS; k++)
		known |= strcmp(cmds[k].obj, obj) == 0;
	if (!known)
		usage_error("unknown object '%s'", obj);
	const char *verb = NULL;
	if (i < argc && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
		help_obj(obj);
		return 0;
	}
	const struct cmd *cmd = NULL;
	if (i < argc) {
		verb = argv[i];
		if (strcmp(verb, "translate-probe") == 0)
			verb = "probe";
		for (size_t k = 0; k < N_CMDS && !cmd; k++)
			if (strcmp(cmds[k].obj, obj) == 0 && strcmp(cmds[k].verb, verb) == 0)
				cmd = &cmds[k];
		if (cmd)
			i++;
		else if (verb_family(obj, verb))
			cmd = two_word_cmd(obj, verb, i + 1 < argc ? argv[i + 1] : NULL, &i);
	}
	if (!cmd) {
		for (size_t k = 0; k < sizeof(default_verb) / sizeof(default_verb[0]); k++)
			if (strcmp(default_verb[k].obj, obj) == 0)
				for (size_t j = 0; j < N_CMDS && !cmd; j++)
					if (strcmp(cmds[j].obj, obj) == 0 &&
					    strcmp(cmds[j].verb, default_verb[k].verb) == 0)
						cmd = &cmds[j];
		if (!cmd) {
			if (verb)
				usage_error("'%s' has no verb '%s'", obj, verb);
			help_obj(obj);
			return EXIT_USAGE;
		}
	}
	struct ctx x = { .cmd = cmd };
	parse_cmd_args(&x, argc - i, argv + i);
	static const struct riov_method_id watch = RIOV_METHOD_ID(Metrics, watch);
	const struct riov_method *m = cmd_method(cmd);
	ProtobufCMessage *req;
	if (strcmp(cmd->obj, "stats") == 0 && opt_flag(&x, "watch")) {
		m = riov_method_get(watch); /* stats --watch is Metrics.Watch */
		req = b_metrics_watch(&x);
	} else {
		req = cmd->build(&x);
	}
	const char *method = m->name;
	bool stream = m->stream;

	o.timeout_ms = (unsigned)(timeout_s * 1000);
	if (stream) {
		/* answers arrive every interval: wait at least two of them */
		unsigned iv = opt_u32(&x, "interval");
		iv = iv ? iv : 1000;
		if (o.timeout_ms < 2 * iv + 1000)
			o.timeout_ms = 2 * iv + 1000;
	}
	char err[512];
	struct riov_client *cl;
	int rc = riov_client_connect(&o, &cl, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "riovctl: %s\n", err);
		free_all();
		return EXIT_CONN;
	}
	int status;
	bool not_shown = false;
	if (stream) {
		status = riov_client_stream(cl, method, req, watch_cb, (void *)cmd, err, sizeof(err));
	} else if (cmd->call) {
		status = cmd->call(&x, cl, method, req, err, sizeof(err));
	} else {
		ProtobufCMessage *resp = NULL;
		status = riov_client_call(cl, method, req, &resp, err, sizeof(err));
		const ProtobufCMessage *shown = resp;
		if (status == 0 && resp && cmd->view && (shown = cmd->view(&x, resp)) == NULL)
			not_shown = true;
		else if (status == 0 && resp && cmd->print && !ctl_json_out)
			cmd->print(&x, shown);
		else if (status == 0 && resp)
			ctl_print_answer(shown, cmd->cols);
		if (resp)
			protobuf_c_message_free_unpacked(resp, NULL);
	}
	riov_client_close(cl);
	free_all();
	if (status < 0) {
		fprintf(stderr, "riovctl: %s: %s\n", method, err);
		return EXIT_CONN;
	}
	if (status > 0) {
		fprintf(stderr, "riovctl: %s: %s\n", riov_status_name(status), err);
		return EXIT_RPC;
	}
	return not_shown ? EXIT_RPC : 0;
}
