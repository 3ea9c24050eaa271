/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riovd's service library alone (control/svc_*.c), on test doubles of the dataplane and of its
 * DPDK glue (dp_double.h): handlers called directly with requests, their validation (the same
 * messages riovctl prints), the desired state kept only once it is on disk (a change whose state
 * write fails is undone, adds and deletes alike), the state replayed by a restart, and the
 * counters only vhost ports have reaching Port.Stats and the metrics endpoint.
 */
#include <errno.h>
#include <stddef.h>

#include <event2/buffer.h>

#include "riov_test.h"
#include "svc_fixture.h"

static const char *net_names(const struct riov_service *svc, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < svc->n_nets && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "", svc->nets[i]->name);
	return buf;
}

static int add_net(struct svc_fixture *f, const char *name)
{
	Riov__V1__NetworkAddRequest req = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;
	struct svc_call t;

	spec.name = (char *)name;
	req.network = &spec;
	int rc = svc_call(f, &t, "Network.Add", &req);
	svc_call_end(&t);
	return rc;
}

static void vhost_spec(Riov__V1__PortSpec *ps, const char *name, const char *net, const char *sock)
{
	riov__v1__port_spec__init(ps);
	ps->name = (char *)name;
	ps->net = (char *)net;
	ps->type = RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST;
	ps->socket_path = (char *)sock;
}

static int add_port(struct svc_fixture *f, const Riov__V1__PortSpec *ps, struct svc_call *t)
{
	Riov__V1__PortAddRequest req = RIOV__V1__PORT_ADD_REQUEST__INIT;

	req.port = (Riov__V1__PortSpec *)ps;
	return svc_call(f, t, "Port.Add", &req);
}

static int delete_call(struct svc_fixture *f, const char *method, const char *name, struct svc_call *t)
{
	/* Network, Port and Device deletes take a request with only a name */
	Riov__V1__NetworkDeleteRequest nd = RIOV__V1__NETWORK_DELETE_REQUEST__INIT;
	Riov__V1__PortDeleteRequest pd = RIOV__V1__PORT_DELETE_REQUEST__INIT;
	nd.name = pd.name = (char *)name;
	return svc_call(f, t, method, strncmp(method, "Port", 4) == 0 ? (void *)&pd : (void *)&nd);
}

/* The state file as Config.Show --saved reads it; NULL when there is none. Valid until end. */
static const Riov__V1__State *saved_state(struct svc_fixture *f, struct svc_call *t)
{
	Riov__V1__ConfigShowRequest req = RIOV__V1__CONFIG_SHOW_REQUEST__INIT;

	req.saved = true;
	if (svc_call(f, t, "Config.Show", &req) != 0)
		return NULL;
	return ((Riov__V1__ConfigShowResponse *)t->resp)->state;
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

RIOV_TEST(network_add_is_saved)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;
	char names[128];

	CHECK_EQ(fixture_open(&f), 0);
	uint64_t g0 = f.svc->generation;
	Riov__V1__NetworkAddRequest req = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;
	spec.name = "blue";
	req.network = &spec;
	CHECK_EQ(svc_call(&f, &t, "Network.Add", &req), 0);
	Riov__V1__NetworkAddResponse *r = (void *)t.resp;
	CHECK(r != NULL && r->network != NULL && strcmp(r->network->spec->name, "blue") == 0 &&
	      r->network->spec->mtu == 1500);
	svc_call_end(&t);
	CHECK_EQ(f.svc->generation, g0 + 1);
	CHECK(strcmp(net_names(f.svc, names, sizeof(names)), "blue") == 0);
	CHECK(dp_double_has_net(f.dp, "blue"));
	const Riov__V1__State *st = saved_state(&f, &t);
	CHECK(st != NULL && st->n_networks == 1 && strcmp(st->networks[0]->name, "blue") == 0 &&
	      st->generation == g0 + 1);
	svc_call_end(&t);
	fixture_close(&f);
}

RIOV_TEST(network_add_refusals)
{
	static const struct {
		const char *name;
		uint32_t mtu, vni;
		int rc;
		const char *msg;
	} cases[] = {
		{ "blue", 9001, 0, -EINVAL, "network blue: MTU 9001 is outside 68-9000 (leave it out for 1500)" },
		{ "blue", 67, 0, -EINVAL, "network blue: MTU 67 is outside 68-9000 (leave it out for 1500)" },
		{ "blue", 0, 16777216, -EINVAL, "network blue: VNI 16777216 is outside 1-16777215" },
		{ "a b", 0, 0, -EINVAL,
		  "bad network name 'a b': use 1-63 letters, digits, '-', '_' or '.'" },
		{ "red", 0, 0, -EEXIST, "network red already exists" },
	};
	struct svc_fixture f = { 0 };
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "red"), 0);
	uint64_t g = f.svc->generation;
	Riov__V1__NetworkAddRequest req = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	CHECK_EQ(svc_call(&f, &t, "Network.Add", &req), -EINVAL);
	CHECK(strcmp(t.msg, "Network.Add needs a network (name, optional mtu, vni and vteps)") == 0);
	svc_call_end(&t);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;
		spec.name = (char *)cases[i].name;
		spec.mtu = cases[i].mtu;
		spec.vni = cases[i].vni;
		req.network = &spec;
		CHECK_EQ(svc_call(&f, &t, "Network.Add", &req), cases[i].rc);
		if (strcmp(t.msg, cases[i].msg) != 0)
			fprintf(stderr, "  case %zu: got '%s'\n", i, t.msg);
		CHECK(strcmp(t.msg, cases[i].msg) == 0);
		svc_call_end(&t);
	}
	CHECK_EQ(riov_rpc_status_from_errno(-EOPNOTSUPP), RIOV__V1__STATUS__UNIMPLEMENTED);
	CHECK_EQ(f.svc->n_nets, 1);
	CHECK_EQ(dp_double_nets(f.dp), 1);
	CHECK_EQ(f.svc->generation, g); /* nothing refused was saved */
	fixture_close(&f);
}

RIOV_TEST(network_delete_with_ports_is_failed_precondition)
{
	struct svc_fixture f = { 0 };
	Riov__V1__PortSpec ps;
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "blue"), 0);
	vhost_spec(&ps, "vm1", "blue", "vm1.sock");
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	CHECK_EQ(delete_call(&f, "Network.Delete", "blue", &t), -EBUSY);
	CHECK_EQ(riov_rpc_status_from_errno(t.rc), RIOV__V1__STATUS__FAILED_PRECONDITION);
	CHECK(strcmp(t.msg, "network blue still has 1 port (vm1): delete them first") == 0);
	svc_call_end(&t);
	CHECK(dp_double_has_net(f.dp, "blue") && f.svc->n_nets == 1);
	CHECK_EQ(delete_call(&f, "Network.Delete", "nosuch", &t), -ENOENT);
	CHECK(strcmp(t.msg, "network nosuch does not exist") == 0);
	svc_call_end(&t);
	CHECK_EQ(delete_call(&f, "Network.Delete", "", &t), -ENOENT);
	CHECK(strcmp(t.msg, "network (no name given) does not exist") == 0);
	svc_call_end(&t);
	CHECK_EQ(delete_call(&f, "Port.Delete", "vm1", &t), 0);
	svc_call_end(&t);
	CHECK_EQ(delete_call(&f, "Network.Delete", "blue", &t), 0);
	svc_call_end(&t);
	CHECK_EQ(f.svc->n_nets, 0);
	CHECK_EQ(dp_double_nets(f.dp), 0);
	CHECK_EQ(dp_double_ports(f.dp), 0);
	fixture_close(&f);
}

/* A port spec changed by one case of port_add_refusals. */
struct port_case {
	const char *what;
	int type;                  /* RIOV__V1__PORT_TYPE__*, -1: vhost */
	const char *net, *sock, *mac, *devargs, *feature;
	uint32_t queues, mtu, domain_id;
	int rc;
	const char *msg;
};

static void port_case_spec(const struct port_case *c, Riov__V1__PortSpec *ps, char **feat)
{
	vhost_spec(ps, "vm1", c->net ? c->net : "blue", c->sock ? c->sock : "vm1.sock");
	if (c->type >= 0)
		ps->type = (Riov__V1__PortType)c->type;
	if (ps->type == RIOV__V1__PORT_TYPE__PORT_TYPE_ETH && c->sock == NULL)
		ps->socket_path = "";
	ps->mac = (char *)(c->mac ? c->mac : "");
	ps->devargs = (char *)(c->devargs ? c->devargs : "");
	ps->queues = c->queues;
	ps->mtu = c->mtu;
	ps->domain_id = c->domain_id;
	if (c->feature) {
		feat[0] = (char *)c->feature;
		ps->features_off = feat;
		ps->n_features_off = 1;
	}
}

RIOV_TEST(port_add_refusals)
{
	enum { VHOST = RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, ETH = RIOV__V1__PORT_TYPE__PORT_TYPE_ETH };
	static const struct port_case cases[] = {
		{ "no type", RIOV__V1__PORT_TYPE__PORT_TYPE_UNSPECIFIED, .rc = -EINVAL,
		  .msg = "port vm1: give a port type (vhost, eth or uplink)" },
		{ "vxlan", RIOV__V1__PORT_TYPE__PORT_TYPE_VXLAN, .rc = -EOPNOTSUPP,
		  .msg = "port vm1: port type vxlan is not implemented yet (use vhost, eth or uplink)" },
		{ "type 99", 99, .rc = -EINVAL,
		  .msg = "port vm1: unknown port type 99 (use vhost, eth or uplink)" },
		{ "no net", -1, .net = "", .rc = -EINVAL,
		  .msg = "port vm1: name the network it joins (--net NET)" },
		{ "queues", -1, .queues = 70000, .rc = -EINVAL, .msg = "port vm1: 70000 queues is too many" },
		{ "mac", -1, .mac = "02:00:00:00:00:01", .rc = -EOPNOTSUPP,
		  .msg = "port vm1: a fixed MAC is not supported yet (the guest chooses its MAC); leave "
			 "--mac out" },
		{ "mtu", -1, .mtu = 9001, .rc = -EINVAL,
		  .msg = "port vm1: MTU 9001 is outside 68-9000 (leave it out for the network's)" },
		{ "small mtu", -1, .mtu = 67, .rc = -EINVAL,
		  .msg = "port vm1: MTU 67 is outside 68-9000 (leave it out for the network's)" },
		{ "feature", -1, .feature = "bogus", .rc = -EINVAL,
		  .msg = "port vm1: unknown virtio feature 'bogus' (features_off takes mrg_rxbuf, "
			 "in_order, event_idx, indirect, packed, offloads)" },
		{ "eth feature", ETH, .devargs = "net_null0", .feature = "in_order", .rc = -EINVAL,
		  .msg = "port vm1: an eth or uplink port takes only 'offloads' in features_off (its "
			 "receive coalescing of TCP); 'in_order' is for vhost ports" },
		{ "no socket", -1, .sock = "", .rc = -EINVAL,
		  .msg = "vhost port vm1 needs a socket path (--socket PATH)" },
		{ "eth socket", ETH, .sock = "x.sock", .devargs = "net_null0", .rc = -EINVAL,
		  .msg = "eth port vm1 takes devargs, not a socket path" },
		{ "vhost domain", -1, .domain_id = 0x2000, .rc = -EINVAL,
		  .msg = "port vm1: domain_id is for eth ports with assign" },
		{ "missing net", -1, .net = "red", .rc = -ENOENT, .msg = "network red does not exist" },
	};
	struct svc_fixture f = { 0 };
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "blue"), 0);
	uint64_t g = f.svc->generation;
	Riov__V1__PortAddRequest req = RIOV__V1__PORT_ADD_REQUEST__INIT;
	CHECK_EQ(svc_call(&f, &t, "Port.Add", &req), -EINVAL);
	CHECK(strcmp(t.msg, "Port.Add needs a port (name, type, net, ...)") == 0);
	svc_call_end(&t);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Riov__V1__PortSpec ps;
		char *feat[1];
		port_case_spec(&cases[i], &ps, feat);
		CHECK_EQ(add_port(&f, &ps, &t), cases[i].rc);
		if (strcmp(t.msg, cases[i].msg) != 0)
			fprintf(stderr, "  case '%s': got '%s'\n", cases[i].what, t.msg);
		CHECK(strcmp(t.msg, cases[i].msg) == 0);
		svc_call_end(&t);
	}
	CHECK_EQ(f.svc->n_ports, 0);
	CHECK_EQ(dp_double_ports(f.dp), 0);
	CHECK_EQ(f.svc->generation, g);
	fixture_close(&f);
}

/* An eth port takes 'offloads' in features_off (no receive coalescing) and only that. */
RIOV_TEST(eth_port_offloads_off)
{
	struct svc_fixture f = { 0 };
	Riov__V1__PortSpec ps;
	struct svc_call t;
	char *feat[1] = { "offloads" };

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "blue"), 0);
	vhost_spec(&ps, "up0", "blue", "");
	ps.type = RIOV__V1__PORT_TYPE__PORT_TYPE_ETH;
	ps.devargs = "net_null0";
	ps.features_off = feat;
	ps.n_features_off = 1;
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	CHECK_EQ(dp_double.last_features_off, RIOV_VIRTIO_NET_OFFLOADS);
	vhost_spec(&ps, "up1", "blue", "");
	ps.type = RIOV__V1__PORT_TYPE__PORT_TYPE_ETH;
	ps.devargs = "net_null1";
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	CHECK_EQ(dp_double.last_features_off, 0);
	fixture_close(&f);
}

/* A port's MTU is its own, or its network's, or 1500; what the network was given is kept. */
RIOV_TEST(mtu_network_and_port)
{
	Riov__V1__NetworkAddRequest req = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;
	struct svc_fixture f = { 0 };
	Riov__V1__PortSpec ps;
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	spec.name = "big";
	spec.mtu = 9000;
	req.network = &spec;
	CHECK_EQ(svc_call(&f, &t, "Network.Add", &req), 0);
	svc_call_end(&t);
	CHECK_EQ(add_net(&f, "small"), 0);
	CHECK_EQ(f.svc->nets[0]->mtu, 9000);
	CHECK_EQ(f.svc->nets[1]->mtu, 1500);
	vhost_spec(&ps, "vm1", "big", "vm1.sock");
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	CHECK_EQ(dp_double.last_mtu, 9000);
	vhost_spec(&ps, "vm2", "big", "vm2.sock");
	ps.mtu = 1500;
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	CHECK_EQ(dp_double.last_mtu, 1500);
	vhost_spec(&ps, "vm3", "small", "vm3.sock");
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	CHECK_EQ(dp_double.last_mtu, 1500);
	vhost_spec(&ps, "vm4", "small", "vm4.sock");
	ps.mtu = 9000;
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	CHECK_EQ(dp_double.last_mtu, 9000);
	fixture_close(&f);
}

RIOV_TEST(port_add_maps_dataplane_errors)
{
	struct svc_fixture f = { 0 };
	Riov__V1__PortSpec ps;
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "blue"), 0);
	vhost_spec(&ps, "vm1", "blue", "vm1.sock");
	/* a socket path someone else serves is FAILED_PRECONDITION, DPDK refusing devargs
	 * INVALID_ARGUMENT; the dataplane's message is kept, or one is made */
	dp_double.port_add_rc = -EADDRINUSE;
	snprintf(dp_double.port_add_err, sizeof(dp_double.port_add_err), "socket in use");
	CHECK_EQ(add_port(&f, &ps, &t), -EBUSY);
	CHECK(strcmp(t.msg, "socket in use") == 0);
	svc_call_end(&t);
	dp_double.port_add_rc = -EFAULT;
	dp_double.port_add_err[0] = '\0';
	CHECK_EQ(add_port(&f, &ps, &t), -EINVAL);
	CHECK(strcmp(t.msg, "port vm1: Bad address") == 0);
	svc_call_end(&t);
	dp_double.port_add_rc = 0;
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	CHECK_EQ(add_port(&f, &ps, &t), -EEXIST);
	CHECK(strcmp(t.msg, "port vm1 already exists") == 0);
	svc_call_end(&t);
	CHECK_EQ(f.svc->n_ports, 1);
	fixture_close(&f);
}

RIOV_TEST(port_socket_and_features)
{
	struct svc_fixture f = { 0 };
	Riov__V1__PortSpec ps;
	struct svc_call t;
	char *feat[] = { "mrg_rxbuf", "indirect" };

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "blue"), 0);
	vhost_spec(&ps, "vm1", "blue", "vm1.sock");
	ps.features_off = feat;
	ps.n_features_off = 2;
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	Riov__V1__PortAddResponse *r = (void *)t.resp;
	char sock[300];
	snprintf(sock, sizeof(sock), "%s/vm1.sock", f.cfg.socket_dir);
	CHECK(r && r->port && strcmp(r->port->spec->socket_path, sock) == 0);
	CHECK(r && r->port && strcmp(r->port->state, "waiting for guest") == 0 && r->port->domain_id == 1);
	svc_call_end(&t);
	/* the dataplane serves the resolved path; the state keeps the path as given */
	CHECK(strcmp(dp_double.last_socket, sock) == 0);
	CHECK_EQ(dp_double.last_features_off,
		 (1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF) | (1ull << RIOV_VIRTIO_F_RING_INDIRECT));
	const Riov__V1__State *st = saved_state(&f, &t);
	CHECK(st && st->n_ports == 1 && strcmp(st->ports[0]->socket_path, "vm1.sock") == 0 &&
	      st->ports[0]->queues == 1);
	svc_call_end(&t);
	Riov__V1__PortListRequest lr = RIOV__V1__PORT_LIST_REQUEST__INIT;
	lr.net = "red";
	CHECK_EQ(svc_call(&f, &t, "Port.List", &lr), -ENOENT);
	CHECK(strcmp(t.msg, "network red does not exist") == 0);
	svc_call_end(&t);
	lr.net = "blue";
	CHECK_EQ(svc_call(&f, &t, "Port.List", &lr), 0);
	CHECK_EQ(((Riov__V1__PortListResponse *)t.resp)->n_ports, 1);
	CHECK_EQ(((Riov__V1__PortListResponse *)t.resp)->ports[0]->n_feature_names, 0);  /* no guest */
	svc_call_end(&t);
	/* a guest negotiated: its features by name, lowest bit first, and its queue pairs */
	dp_double.vhost_features = (1ull << RIOV_VIRTIO_NET_F_CSUM) | (1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF) |
				   (1ull << RIOV_VIRTIO_F_RING_EVENT_IDX) | (1ull << RIOV_VIRTIO_F_VERSION_1) |
				   (1ull << RIOV_VIRTIO_F_IOMMU_PLATFORM) | (1ull << 34) |
				   (1ull << RIOV_VIRTIO_F_IN_ORDER) | (1ull << 63);
	dp_double.vhost_queue_pairs = 2;
	CHECK_EQ(svc_call(&f, &t, "Port.List", &lr), 0);
	const Riov__V1__PortInfo *pi = ((Riov__V1__PortListResponse *)t.resp)->ports[0];
	static const char *const want[] = { "csum", "mrg_rxbuf", "event_idx", "version_1", "iommu_platform",
					    "packed", "in_order", "bit_63" };
	CHECK_EQ(pi->n_feature_names, 8);
	for (size_t k = 0; k < 8 && k < pi->n_feature_names; k++)
		CHECK(strcmp(pi->feature_names[k], want[k]) == 0);
	CHECK_EQ(pi->queue_pairs, 2);
	CHECK_EQ(pi->features, dp_double.vhost_features);
	svc_call_end(&t);
	dp_double.vhost_features = 0;
	dp_double.vhost_queue_pairs = 0;
	fixture_close(&f);
}

/* "packed" withholds VIRTIO_F_RING_PACKED: through the API, in the state file and back at a
 * restart, and from the configuration file's packed = false. */
RIOV_TEST(port_packed_withheld)
{
	struct svc_fixture f = { 0 };
	Riov__V1__PortSpec ps;
	struct svc_call t;
	char *feat[] = { "packed" };
	const unsigned long long packed = 1ull << RIOV_VIRTIO_F_RING_PACKED;

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "blue"), 0);
	vhost_spec(&ps, "vm1", "blue", "vm1.sock");
	ps.features_off = feat;
	ps.n_features_off = 1;
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	CHECK_EQ(dp_double.last_features_off, packed);
	const Riov__V1__State *st = saved_state(&f, &t);
	CHECK(st && st->n_ports == 1 && st->ports[0]->n_features_off == 1 &&
	      strcmp(st->ports[0]->features_off[0], "packed") == 0);
	svc_call_end(&t);
	dp_double.last_features_off = 0;
	fixture_stop(&f);
	CHECK_EQ(fixture_open(&f), 0);   /* the state file replayed */
	CHECK(dp_double_has_port(f.dp, "vm1") && f.svc->restore_failed == 0);
	CHECK_EQ(dp_double.last_features_off, packed);
	fixture_close(&f);

	/* a configuration file's port with packed = false: only "packed" withheld */
	struct riov_cfg_port cp = { .queues = 1, .mrg_rxbuf = true, .in_order = true,
				    .event_idx = true, .indirect = true, .packed = false,
				    .offloads = true };
	char *cfeat[SVC_N_FEATURES];
	snprintf(cp.name, sizeof(cp.name), "vm2");
	snprintf(cp.net, sizeof(cp.net), "blue");
	snprintf(cp.type, sizeof(cp.type), "vhost");
	snprintf(cp.socket, sizeof(cp.socket), "vm2.sock");
	svc_port_from_config(&cp, &ps, cfeat);
	CHECK(ps.n_features_off == 1 && strcmp(ps.features_off[0], "packed") == 0);
	cp.packed = true;
	svc_port_from_config(&cp, &ps, cfeat);
	CHECK_EQ(ps.n_features_off, 0);
}

/* The text after "<what>: the state file could not be written: " must be the store's. */
static bool save_failure(const char *msg, const char *what)
{
	char prefix[256];

	snprintf(prefix, sizeof(prefix), "%s: the state file could not be written: cannot rename ", what);
	return starts(msg, prefix) && strstr(msg, "Is a directory (state file unchanged)") != NULL;
}

RIOV_TEST(failed_save_undoes_adds)
{
	struct svc_fixture f = { 0 };
	Riov__V1__PortSpec ps;
	struct svc_call t;
	char health[256];
	uint32_t workers;

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "blue"), 0);
	uint64_t g = f.svc->generation;
	fixture_state_writable(&f, false);

	Riov__V1__NetworkAddRequest nr = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	Riov__V1__NetworkSpec ns = RIOV__V1__NETWORK_SPEC__INIT;
	ns.name = "red";
	nr.network = &ns;
	CHECK_EQ(svc_call(&f, &t, "Network.Add", &nr), -EISDIR);
	CHECK(save_failure(t.msg, "network red was not added"));
	svc_call_end(&t);
	CHECK(f.svc->n_nets == 1 && !dp_double_has_net(f.dp, "red"));
	svc_node_info(f.svc, &workers, health, sizeof(health));
	CHECK(starts(health, "state file not writable: cannot rename "));

	vhost_spec(&ps, "vm2", "blue", "vm2.sock");
	CHECK_EQ(add_port(&f, &ps, &t), -EISDIR);
	CHECK(save_failure(t.msg, "port vm2 was not added"));
	svc_call_end(&t);
	CHECK(f.svc->n_ports == 0 && !dp_double_has_port(f.dp, "vm2"));

	Riov__V1__DomainCreateRequest dr = RIOV__V1__DOMAIN_CREATE_REQUEST__INIT;
	Riov__V1__DomainSpec ds = RIOV__V1__DOMAIN_SPEC__INIT;
	struct riov_vtd_domain_info di;
	dr.domain = &ds;
	CHECK_EQ(svc_call(&f, &t, "Domain.Create", &dr), -EISDIR);
	CHECK(save_failure(t.msg, "domain 4096 was not created"));
	svc_call_end(&t);
	CHECK(f.svc->n_doms == 0 && riov_vtd_domain_info(f.svc->vtd, 0x1000, &di) != 0);
	CHECK_EQ(f.svc->generation, g);

	fixture_state_writable(&f, true);
	CHECK_EQ(svc_call(&f, &t, "Network.Add", &nr), 0);
	svc_call_end(&t);
	svc_node_info(f.svc, &workers, health, sizeof(health));
	CHECK(strcmp(health, "ok") == 0);
	CHECK_EQ(f.svc->generation, g + 1);
	fixture_close(&f);
}

RIOV_TEST(failed_save_undoes_deletes)
{
	struct svc_fixture f = { 0 };
	Riov__V1__PortSpec ps;
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "blue"), 0);
	CHECK_EQ(add_net(&f, "green"), 0);
	vhost_spec(&ps, "vm0", "blue", "vm0.sock");
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	vhost_spec(&ps, "vm1", "blue", "vm1.sock");
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	fixture_state_writable(&f, false);
	/* deletes write the state first: nothing changed when that fails */
	CHECK_EQ(delete_call(&f, "Port.Delete", "vm0", &t), -EISDIR);
	CHECK(save_failure(t.msg, "port vm0 was not deleted"));
	svc_call_end(&t);
	CHECK(f.svc->n_ports == 2 && strcmp(f.svc->ports[0]->name, "vm0") == 0);
	CHECK(dp_double_has_port(f.dp, "vm0"));
	CHECK_EQ(delete_call(&f, "Network.Delete", "blue", &t), -EBUSY); /* checked before the save */
	svc_call_end(&t);
	CHECK_EQ(delete_call(&f, "Network.Delete", "green", &t), -EISDIR);
	CHECK(save_failure(t.msg, "network green was not deleted"));
	svc_call_end(&t);
	CHECK(f.svc->n_nets == 2 && strcmp(f.svc->nets[1]->name, "green") == 0);
	CHECK(dp_double_has_net(f.dp, "green"));
	fixture_state_writable(&f, true);
	CHECK_EQ(delete_call(&f, "Port.Delete", "vm0", &t), 0);
	svc_call_end(&t);
	CHECK(f.svc->n_ports == 1 && !dp_double_has_port(f.dp, "vm0"));
	fixture_close(&f);
}

static int domain_call(struct svc_fixture *f, struct svc_call *t, const char *method, uint32_t did,
		       uint64_t iova, uint64_t size)
{
	Riov__V1__DomainMapRequest mr = RIOV__V1__DOMAIN_MAP_REQUEST__INIT;
	Riov__V1__DomainUnmapRequest ur = RIOV__V1__DOMAIN_UNMAP_REQUEST__INIT;
	Riov__V1__DomainMapping m = RIOV__V1__DOMAIN_MAPPING__INIT;

	m.iova = iova;
	m.size = size;
	m.target = 0x40000000 + iova;
	m.read = m.write = true;
	mr.domain_id = ur.domain_id = did;
	mr.mapping = &m;
	ur.iova = iova;
	ur.size = size;
	return svc_call(f, t, method, strcmp(method, "Domain.Map") == 0 ? (void *)&mr : (void *)&ur);
}

static uint64_t mapped_bytes(struct svc_fixture *f, uint16_t did)
{
	struct riov_vtd_domain_info di;
	return riov_vtd_domain_info(f->svc->vtd, did, &di) == 0 ? di.mapped_bytes : 0;
}

RIOV_TEST(domain_changes_undone_when_not_saved)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	Riov__V1__DomainCreateRequest dr = RIOV__V1__DOMAIN_CREATE_REQUEST__INIT;
	Riov__V1__DomainSpec ds = RIOV__V1__DOMAIN_SPEC__INIT;
	ds.domain_id = 0x2000;
	dr.domain = &ds;
	CHECK_EQ(svc_call(&f, &t, "Domain.Create", &dr), 0);
	CHECK_EQ(((Riov__V1__DomainCreateResponse *)t.resp)->domain_id, 0x2000);
	svc_call_end(&t);
	CHECK_EQ(domain_call(&f, &t, "Domain.Map", 0x2000, 0, 0x4000), 0);
	svc_call_end(&t);
	CHECK_EQ(mapped_bytes(&f, 0x2000), 0x4000);

	fixture_state_writable(&f, false);
	CHECK_EQ(domain_call(&f, &t, "Domain.Map", 0x2000, 0x10000, 0x1000), -EISDIR);
	CHECK(save_failure(t.msg, "domain 8192: not mapped"));
	svc_call_end(&t);
	CHECK(f.svc->doms[0]->n_mappings == 1 && mapped_bytes(&f, 0x2000) == 0x4000);
	CHECK_EQ(domain_call(&f, &t, "Domain.Unmap", 0x2000, 0x1000, 0x1000), -EISDIR);
	CHECK(save_failure(t.msg, "domain 8192: not unmapped"));
	svc_call_end(&t);
	CHECK(f.svc->doms[0]->n_mappings == 1 && f.svc->doms[0]->mappings[0]->size == 0x4000);
	Riov__V1__DomainAttachRequest ar = RIOV__V1__DOMAIN_ATTACH_REQUEST__INIT;
	Riov__V1__DomainAttachment at = RIOV__V1__DOMAIN_ATTACHMENT__INIT;
	struct riov_vtd_context_info ci;
	at.device = "dev0";
	at.source_id = 0x100;
	ar.domain_id = 0x2000;
	ar.attachment = &at;
	CHECK_EQ(svc_call(&f, &t, "Domain.Attach", &ar), -EISDIR);
	CHECK(save_failure(t.msg, "domain 8192: not attached"));
	svc_call_end(&t);
	CHECK(f.svc->doms[0]->n_devices == 0);
	CHECK(riov_vtd_context_get(f.svc->vtd, 0x100, &ci) != 0 || !ci.present);

	fixture_state_writable(&f, true);
	/* unmapping the middle page splits the mapping in two */
	CHECK_EQ(domain_call(&f, &t, "Domain.Unmap", 0x2000, 0x1000, 0x1000), 0);
	CHECK_EQ(((Riov__V1__DomainUnmapResponse *)t.resp)->unmapped, 0x1000);
	svc_call_end(&t);
	CHECK_EQ(f.svc->doms[0]->n_mappings, 2);
	CHECK_EQ(mapped_bytes(&f, 0x2000), 0x3000);
	/* ids the dataplane owns are refused */
	ds.domain_id = 5;
	CHECK_EQ(svc_call(&f, &t, "Domain.Create", &dr), -EBUSY);
	CHECK(starts(t.msg, "domain ids 1-1024 and 0x8000-0xffff belong to vhost ports' DMA domains"));
	svc_call_end(&t);
	fixture_close(&f);
}

/* Interrupt.Set of dev's vector with IRTE irte (0: allocated or kept). */
static int irq_set_at(struct svc_fixture *f, struct svc_call *t, const char *dev, uint32_t vector,
		      uint32_t irte)
{
	Riov__V1__InterruptSetRequest req = RIOV__V1__INTERRUPT_SET_REQUEST__INIT;
	Riov__V1__InterruptSetting s = RIOV__V1__INTERRUPT_SETTING__INIT;

	s.device = (char *)dev;
	s.vector = vector;
	s.guest_vector = 32;
	s.irte_index = irte;
	req.setting = &s;
	return svc_call(f, t, "Interrupt.Set", &req);
}

static int irq_set(struct svc_fixture *f, struct svc_call *t, const char *dev, uint32_t vector)
{
	return irq_set_at(f, t, dev, vector, 0);
}

RIOV_TEST(interrupt_changes_undone_when_not_saved)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	Riov__V1__DomainCreateRequest dr = RIOV__V1__DOMAIN_CREATE_REQUEST__INIT;
	Riov__V1__DomainSpec ds = RIOV__V1__DOMAIN_SPEC__INIT;
	Riov__V1__DomainAttachment at = RIOV__V1__DOMAIN_ATTACHMENT__INIT;
	Riov__V1__DomainAttachment *atv[] = { &at };
	at.device = "dev0";
	at.source_id = 0x100;
	ds.devices = atv;
	ds.n_devices = 1;
	dr.domain = &ds;
	CHECK_EQ(svc_call(&f, &t, "Domain.Create", &dr), 0);
	svc_call_end(&t);
	CHECK_EQ(irq_set(&f, &t, "dev0", 0), 0);
	Riov__V1__InterruptSetResponse *r = (void *)t.resp;
	CHECK(r && r->setting && r->setting->irte_index == RIOV_VTD_IRTE_API_FIRST);
	svc_call_end(&t);
	CHECK_EQ(irq_set(&f, &t, "nodev", 0), -ENOENT);
	svc_call_end(&t);

	fixture_state_writable(&f, false);
	CHECK_EQ(irq_set(&f, &t, "dev0", 1), -EISDIR);
	CHECK(save_failure(t.msg, "interrupt not set"));
	svc_call_end(&t);
	CHECK_EQ(f.svc->n_irqs, 1);
	Riov__V1__InterruptMaskRequest mr = RIOV__V1__INTERRUPT_MASK_REQUEST__INIT;
	mr.device = "dev0";
	mr.all_vectors = true;
	mr.masked = true;
	CHECK_EQ(svc_call(&f, &t, "Interrupt.Mask", &mr), -EISDIR);
	CHECK(save_failure(t.msg, "interrupts not changed"));
	svc_call_end(&t);
	CHECK(!f.svc->irqs[0]->masked);
	fixture_state_writable(&f, true);
	CHECK_EQ(svc_call(&f, &t, "Interrupt.Mask", &mr), 0);
	svc_call_end(&t);
	CHECK(f.svc->irqs[0]->masked);
	fixture_close(&f);
}

RIOV_TEST(restart_replays_the_state)
{
	struct svc_fixture f = { 0 };
	Riov__V1__PortSpec ps;
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "blue"), 0);
	vhost_spec(&ps, "vm1", "blue", "vm1.sock");
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	uint64_t g = f.svc->generation;
	fixture_stop(&f);
	CHECK_EQ(fixture_open(&f), 0); /* same state directory, a new dataplane */
	CHECK(f.svc->n_nets == 1 && f.svc->n_ports == 1 && f.svc->generation == g);
	CHECK(dp_double_has_net(f.dp, "blue") && dp_double_has_port(f.dp, "vm1"));
	char sock[300];
	snprintf(sock, sizeof(sock), "%s/vm1.sock", f.cfg.socket_dir);
	CHECK(strcmp(dp_double.last_socket, sock) == 0);
	CHECK_EQ(f.svc->restore_failed, 0);
	fixture_close(&f);
}

/* ---- counters only vhost ports have: Port.Stats and the metrics endpoint ---- */

/* Each one: where the dataplane keeps it, its PortCounters field, its metric. */
#define VHOST_FIELD(dp_field, pc_field, metric)                                                  \
	{ offsetof(struct riov_dp_port_stats, dp_field), offsetof(Riov__V1__PortCounters, pc_field), \
	  #pc_field, metric }
static const struct {
	size_t dp_off, pc_off;
	const char *field, *metric;
} vhost_fields[] = {
	VHOST_FIELD(iotlb_waits, iotlb_waits, "riov_port_iotlb_waits_total"),
	VHOST_FIELD(dirty_log_writes, dirty_log_writes, "riov_port_dirty_log_writes_total"),
	VHOST_FIELD(announces, announces, "riov_port_announces_total"),
	VHOST_FIELD(vhost.connects, vhost_connects, "riov_port_vhost_connects_total"),
	VHOST_FIELD(vhost.disconnects, vhost_disconnects, "riov_port_vhost_disconnects_total"),
	VHOST_FIELD(vhost.messages, vhost_messages, "riov_port_vhost_messages_total"),
	VHOST_FIELD(vhost.bad_messages, vhost_bad_messages, "riov_port_vhost_bad_messages_total"),
	VHOST_FIELD(vhost.refused, vhost_refused, "riov_port_vhost_refused_total"),
	VHOST_FIELD(vhost.memory_faults, memory_faults, "riov_port_memory_faults_total"),
	VHOST_FIELD(vhost.iotlb_refused, iotlb_refused, "riov_port_iotlb_refused_total"),
	VHOST_FIELD(vhost.iotlb_evictions, iotlb_evictions, "riov_port_iotlb_evictions_total"),
	VHOST_FIELD(vhost.iotlb_updates, iotlb_updates, "riov_port_iotlb_updates_total"),
	VHOST_FIELD(vhost.iotlb_invalidations, iotlb_invalidations, "riov_port_iotlb_invalidations_total"),
	VHOST_FIELD(vhost.iotlb_miss_requests, iotlb_miss_requests, "riov_port_iotlb_miss_requests_total"),
	VHOST_FIELD(vhost.base_resyncs, vring_base_resyncs, "riov_port_vring_base_resyncs_total"),
};
#define N_VHOST_FIELDS (sizeof(vhost_fields) / sizeof(vhost_fields[0]))

static uint64_t u64_at(const void *base, size_t off)
{
	uint64_t v;
	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

/* Port.Stats of name ("" every port): the port called `port` in the answer, or NULL. Valid until
 * svc_call_end(t). */
static const Riov__V1__PortCounters *port_stats(struct svc_fixture *f, struct svc_call *t,
					       const char *name, const char *port)
{
	Riov__V1__PortStatsRequest req = RIOV__V1__PORT_STATS_REQUEST__INIT;
	const Riov__V1__PortStatsResponse *r;

	req.name = (char *)name;
	if (svc_call(f, t, "Port.Stats", &req) != 0)
		return NULL;
	r = (const void *)t->resp;
	for (size_t i = 0; i < r->n_ports; i++)
		if (strcmp(r->ports[i]->port, port) == 0)
			return r->ports[i];
	return NULL;
}

/* What the metrics endpoint would answer now, NUL-terminated (free()). */
static char *metrics_text(struct svc_fixture *f)
{
	struct evbuffer *b = evbuffer_new();
	char *text = NULL;

	if (b == NULL)
		return NULL;
	svc_prometheus_collect(b, f->svc);
	size_t n = evbuffer_get_length(b);
	if ((text = malloc(n + 1)) != NULL) {
		evbuffer_remove(b, text, n);
		text[n] = '\0';
	}
	evbuffer_free(b);
	return text;
}

RIOV_TEST(vhost_counters_reach_stats_and_metrics)
{
	struct svc_fixture f = { 0 };
	Riov__V1__PortSpec ps;
	struct svc_call t;
	char line[256];

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "blue"), 0);
	vhost_spec(&ps, "vm1", "blue", "vm1.sock");
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	riov__v1__port_spec__init(&ps);
	ps.name = "up0";
	ps.net = "blue";
	ps.type = RIOV__V1__PORT_TYPE__PORT_TYPE_ETH;
	ps.devargs = "net_null0";
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	/* every counter a value of its own, so that a field filled from another shows */
	for (size_t k = 0; k < N_VHOST_FIELDS; k++) {
		uint64_t v = 1000 + k;
		memcpy((char *)&dp_double.vhost_counters + vhost_fields[k].dp_off, &v, sizeof(v));
	}
	const Riov__V1__PortCounters *vm1 = port_stats(&f, &t, "vm1", "vm1");
	CHECK(vm1 != NULL);
	for (size_t k = 0; vm1 != NULL && k < N_VHOST_FIELDS; k++)
		if (u64_at(vm1, vhost_fields[k].pc_off) != 1000 + k) {
			fprintf(stderr, "  Port.Stats vm1: %s is %llu, not %zu\n", vhost_fields[k].field,
				(unsigned long long)u64_at(vm1, vhost_fields[k].pc_off), 1000 + k);
			CHECK(!"Port.Stats NAME carries the vhost counter");
		}
	svc_call_end(&t);
	struct svc_call t2;
	vm1 = port_stats(&f, &t, "", "vm1");
	const Riov__V1__PortCounters *up0 = port_stats(&f, &t2, "", "up0");
	CHECK(vm1 != NULL && up0 != NULL);
	for (size_t k = 0; vm1 != NULL && up0 != NULL && k < N_VHOST_FIELDS; k++) {
		CHECK_EQ(u64_at(vm1, vhost_fields[k].pc_off), 1000 + k);   /* every port's stats too */
		CHECK_EQ(u64_at(up0, vhost_fields[k].pc_off), 0);          /* eth: 0 */
	}
	svc_call_end(&t);
	svc_call_end(&t2);
	char *text = metrics_text(&f);
	CHECK(text != NULL);
	for (size_t k = 0; text != NULL && k < N_VHOST_FIELDS; k++) {
		const char *m = vhost_fields[k].metric;
		snprintf(line, sizeof(line), "# TYPE %s counter\n", m);
		CHECK(strstr(text, line) != NULL);
		snprintf(line, sizeof(line), "# HELP %s ", m);
		CHECK(strstr(text, line) != NULL);
		snprintf(line, sizeof(line), "\n%s{port=\"vm1\",net=\"blue\"} %zu\n", m, 1000 + k);
		if (strstr(text, line) == NULL) {
			fprintf(stderr, "  metrics: no line%s", line);
			CHECK(!"the metrics text has the vhost port's sample");
		}
		snprintf(line, sizeof(line), "\n%s{port=\"up0\"", m);
		CHECK(strstr(text, line) == NULL);   /* no sample for an eth port */
	}
	free(text);
	fixture_close(&f);
}

/* ---- a worker's own counters: Metrics.Snapshot and the metrics endpoint ---- */

/* The sample of `prefix` (a metric name with its labels, "name{...}") in text, or -1. */
static double sample_of(const char *text, const char *prefix)
{
	char key[256];
	snprintf(key, sizeof(key), "\n%s ", prefix);
	const char *p = strstr(text, key);
	return p != NULL ? strtod(p + strlen(key), NULL) : -1.0;
}

RIOV_TEST(worker_counters_reach_snapshot_and_metrics)
{
	static const uint64_t lat[] = { 50, 100, 100, 100, 1000, 1000, 3000, 1ull << 31 };
	struct riov_dp_worker_stats *w = &dp_double.worker_counters;
	struct svc_fixture f = { 0 };
	struct svc_call t;
	uint64_t sum = 0;

	CHECK_EQ(fixture_open(&f), 0);
	w->lcore = 3;
	w->loops = 1000;
	w->busy_loops = 400;
	w->busy_cycles = 2000000;
	w->idle_cycles = 3000000;
	w->packets = 8000;
	for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		riov_loop_hist_add(&w->latency, lat[i]);
		sum += lat[i];
	}
	Riov__V1__MetricsSnapshotRequest req = RIOV__V1__METRICS_SNAPSHOT_REQUEST__INIT;
	CHECK_EQ(svc_call(&f, &t, "Metrics.Snapshot", &req), 0);
	/* through the wire format, as riovctl gets it */
	const Riov__V1__MetricsSnapshotResponse *r0 = (const void *)t.resp;
	uint8_t *buf = malloc(riov__v1__metrics_snapshot_response__get_packed_size(r0));
	CHECK(buf != NULL);
	size_t len = riov__v1__metrics_snapshot_response__pack(r0, buf);
	Riov__V1__MetricsSnapshotResponse *r = riov__v1__metrics_snapshot_response__unpack(NULL, len, buf);
	svc_call_end(&t);
	CHECK(r != NULL && r->snapshot != NULL && r->snapshot->n_workers == 1);
	if (r != NULL && r->snapshot != NULL && r->snapshot->n_workers == 1) {
		const Riov__V1__WorkerCounters *wc = r->snapshot->workers[0];
		CHECK(r->snapshot->tsc_hz == DP_DOUBLE_TSC_HZ);
		CHECK_EQ(wc->id, 0);
		CHECK_EQ(wc->lcore, 3);
		CHECK_EQ(wc->polls, 1000);
		CHECK_EQ(wc->busy_polls, 400);
		CHECK_EQ(wc->busy_cycles, 2000000);
		CHECK_EQ(wc->idle_cycles, 3000000);
		CHECK_EQ(wc->packets, 8000);
		CHECK_EQ(wc->bursts, 8);
		CHECK(wc->latency_sum_ns == sum);
		CHECK(wc->latency_max_ns == 1ull << 31);
		/* the buckets that counted, rising: <= 64, <= 112 (100), <= 1024, <= 3072, above all */
		static const uint64_t le[] = { 64, 112, 1024, 3072, UINT64_MAX };
		static const uint64_t n[] = { 1, 3, 2, 1, 1 };
		CHECK_EQ(wc->n_latency_buckets, 5);
		for (size_t k = 0; k < wc->n_latency_buckets && k < 5; k++) {
			CHECK(wc->latency_buckets[k]->le_ns == le[k]);
			CHECK_EQ(wc->latency_buckets[k]->count, n[k]);
		}
	}
	riov__v1__metrics_snapshot_response__free_unpacked(r, NULL);
	free(buf);

	char *text = metrics_text(&f);
	CHECK(text != NULL);
	if (text != NULL) {
		CHECK(sample_of(text, "riov_worker_busy_cycles_total{worker=\"0\"}") == 2000000);
		CHECK(sample_of(text, "riov_worker_idle_cycles_total{worker=\"0\"}") == 3000000);
		CHECK(sample_of(text, "riov_worker_packets_total{worker=\"0\"}") == 8000);
		CHECK(strstr(text, "\n# TYPE riov_worker_loop_latency_seconds histogram\n") != NULL);
		/* cumulative, at the powers of two: 64 ns, 128 ns (100), 1.024 us, 4.096 us, ... */
		CHECK(sample_of(text, "riov_worker_loop_latency_seconds_bucket{worker=\"0\",le=\"6.4e-08\"}") == 1);
		CHECK(sample_of(text, "riov_worker_loop_latency_seconds_bucket{worker=\"0\",le=\"1.28e-07\"}") == 4);
		CHECK(sample_of(text, "riov_worker_loop_latency_seconds_bucket{worker=\"0\",le=\"5.12e-07\"}") == 4);
		CHECK(sample_of(text, "riov_worker_loop_latency_seconds_bucket{worker=\"0\",le=\"1.024e-06\"}") == 6);
		CHECK(sample_of(text, "riov_worker_loop_latency_seconds_bucket{worker=\"0\",le=\"4.096e-06\"}") == 7);
		CHECK(sample_of(text, "riov_worker_loop_latency_seconds_bucket{worker=\"0\",le=\"1.073741824\"}") == 7);
		CHECK(sample_of(text, "riov_worker_loop_latency_seconds_bucket{worker=\"0\",le=\"+Inf\"}") == 8);
		CHECK(sample_of(text, "riov_worker_loop_latency_seconds_count{worker=\"0\"}") == 8);
		const double s = sample_of(text, "riov_worker_loop_latency_seconds_sum{worker=\"0\"}");
		CHECK(s > (double)sum * 1e-9 * 0.999999 && s < (double)sum * 1e-9 * 1.000001);
		/* 25 powers of two and +Inf, never falling */
		unsigned lines = 0;
		double last = 0;
		for (const char *p = text; (p = strstr(p, "\nriov_worker_loop_latency_seconds_bucket{")) != NULL; p++) {
			const char *v = strchr(strchr(p, '}'), ' ');
			CHECK(strtod(v, NULL) >= last);
			last = strtod(v, NULL);
			lines++;
		}
		CHECK_EQ(lines, 26);
	}
	free(text);
	fixture_close(&f);
}

RIOV_TEST(eth_assign_without_packet_memory)
{
	struct svc_fixture f = { 0 };
	Riov__V1__PortSpec ps;
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, "blue"), 0);
	riov__v1__port_spec__init(&ps);
	ps.name = "up0";
	ps.net = "blue";
	ps.type = RIOV__V1__PORT_TYPE__PORT_TYPE_ETH;
	ps.devargs = "0000:00:1f.7";
	ps.assign = true;
	dp_double.memory_fails = true;
	CHECK_EQ(add_port(&f, &ps, &t), -ENOMEM);
	CHECK(strcmp(t.msg, "eth port up0: cannot list riovd's packet memory") == 0);
	svc_call_end(&t);
	ps.devargs = "0000:fc:00.0";
	CHECK_EQ(add_port(&f, &ps, &t), -EBUSY);
	CHECK(starts(t.msg, "eth port up0: 0000:fc:00.0's source-id 0xfc00 is in 0xfc00-0xffff"));
	svc_call_end(&t);
	CHECK(f.svc->n_ports == 0 && f.svc->n_asg == 0 && dp_double.port_add == 0);
	CHECK_EQ(riov_vtd_ids_count(f.svc->dids), 0); /* the failed assignment's domain id is free */
	fixture_close(&f);
}

/* Domain.Create with domain_id (0: allocate); returns the handler's result, *did the id made. */
static int dom_create(struct svc_fixture *f, uint32_t want, const char *dev, uint32_t *did,
		      char *msg, size_t msglen)
{
	Riov__V1__DomainCreateRequest dr = RIOV__V1__DOMAIN_CREATE_REQUEST__INIT;
	Riov__V1__DomainSpec ds = RIOV__V1__DOMAIN_SPEC__INIT;
	Riov__V1__DomainAttachment at = RIOV__V1__DOMAIN_ATTACHMENT__INIT;
	Riov__V1__DomainAttachment *atv[] = { &at };
	struct svc_call t;

	ds.domain_id = want;
	if (dev != NULL) {
		at.device = (char *)dev;
		at.source_id = 0x100;
		ds.devices = atv;
		ds.n_devices = 1;
	}
	dr.domain = &ds;
	int rc = svc_call(f, &t, "Domain.Create", &dr);
	*did = rc == 0 ? ((Riov__V1__DomainCreateResponse *)t.resp)->domain_id : 0;
	snprintf(msg, msglen, "%s", t.msg);
	svc_call_end(&t);
	return rc;
}

/* The service's allocators mark an id exactly while its user exists: a create or a setting whose
 * save fails gives its id back, a replaced setting its old IRTE, and a restart marks again what
 * the state file holds. */
RIOV_TEST(ids_marked_while_their_users_exist)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;
	char msg[512];
	uint32_t did;

	CHECK_EQ(fixture_open(&f), 0);
	fixture_state_writable(&f, false);
	CHECK_EQ(dom_create(&f, 0, NULL, &did, msg, sizeof(msg)), -EISDIR);
	CHECK_EQ(riov_vtd_ids_count(f.svc->dids), 0);
	fixture_state_writable(&f, true);
	CHECK_EQ(dom_create(&f, 0, NULL, &did, msg, sizeof(msg)), 0);
	CHECK_EQ(did, RIOV_VTD_DID_API_ALLOC); /* the undone create's id, allocated again */
	CHECK(riov_vtd_ids_used(f.svc->dids, did));
	CHECK_EQ(dom_create(&f, did, NULL, &did, msg, sizeof(msg)), -EEXIST);
	CHECK(strcmp(msg, "domain 4096 already exists") == 0);
	CHECK_EQ(dom_create(&f, 2000, NULL, &did, msg, sizeof(msg)), 0);
	CHECK_EQ(dom_create(&f, 0, "dev0", &did, msg, sizeof(msg)), 0);
	CHECK_EQ(did, RIOV_VTD_DID_API_ALLOC + 1);
	CHECK_EQ(riov_vtd_ids_count(f.svc->dids), 3);

	CHECK_EQ(irq_set(&f, &t, "dev0", 0), 0);
	svc_call_end(&t);
	CHECK(riov_vtd_ids_used(f.svc->irtes, RIOV_VTD_IRTE_API_FIRST));
	CHECK_EQ(irq_set_at(&f, &t, "dev0", 0, 40000), 0); /* replaced: the old IRTE is free */
	svc_call_end(&t);
	CHECK(!riov_vtd_ids_used(f.svc->irtes, RIOV_VTD_IRTE_API_FIRST));
	CHECK(riov_vtd_ids_used(f.svc->irtes, 40000));
	fixture_state_writable(&f, false);
	CHECK_EQ(irq_set_at(&f, &t, "dev0", 0, 40001), -EISDIR);
	svc_call_end(&t);
	CHECK_EQ(irq_set(&f, &t, "dev0", 1), -EISDIR);
	svc_call_end(&t);
	CHECK(riov_vtd_ids_used(f.svc->irtes, 40000) && !riov_vtd_ids_used(f.svc->irtes, 40001));
	CHECK_EQ(riov_vtd_ids_count(f.svc->irtes), 1);
	fixture_state_writable(&f, true);
	CHECK_EQ(irq_set_at(&f, &t, "dev0", 1, 40000), -EBUSY);
	CHECK(strcmp(t.msg, "interrupt-remapping entry 40000 is used by device dev0 vector 0") == 0);
	svc_call_end(&t);
	CHECK_EQ(irq_set_at(&f, &t, "dev0", 1, 5), -EBUSY);
	CHECK(starts(t.msg, "interrupt-remapping entries 0-32767 belong to vhost ports' vrings"));
	svc_call_end(&t);

	fixture_stop(&f);
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(f.svc->restore_failed, 0);
	CHECK_EQ(riov_vtd_ids_count(f.svc->dids), 3);
	CHECK(riov_vtd_ids_used(f.svc->dids, 2000) && riov_vtd_ids_used(f.svc->dids, 0x1001));
	CHECK_EQ(riov_vtd_ids_count(f.svc->irtes), 1);
	CHECK(riov_vtd_ids_used(f.svc->irtes, 40000));
	CHECK_EQ(irq_set(&f, &t, "dev0", 1), 0);
	CHECK_EQ(((Riov__V1__InterruptSetResponse *)t.resp)->setting->irte_index,
		 RIOV_VTD_IRTE_API_FIRST);
	svc_call_end(&t);
	fixture_close(&f);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(network_add_is_saved), RIOV_TEST_ENTRY(network_add_refusals),
	       RIOV_TEST_ENTRY(network_delete_with_ports_is_failed_precondition),
	       RIOV_TEST_ENTRY(port_add_refusals), RIOV_TEST_ENTRY(port_add_maps_dataplane_errors),
	       RIOV_TEST_ENTRY(eth_port_offloads_off), RIOV_TEST_ENTRY(mtu_network_and_port),
	       RIOV_TEST_ENTRY(port_socket_and_features), RIOV_TEST_ENTRY(port_packed_withheld),
	       RIOV_TEST_ENTRY(failed_save_undoes_adds),
	       RIOV_TEST_ENTRY(failed_save_undoes_deletes),
	       RIOV_TEST_ENTRY(domain_changes_undone_when_not_saved),
	       RIOV_TEST_ENTRY(interrupt_changes_undone_when_not_saved),
	       RIOV_TEST_ENTRY(restart_replays_the_state),
	       RIOV_TEST_ENTRY(vhost_counters_reach_stats_and_metrics),
	       RIOV_TEST_ENTRY(worker_counters_reach_snapshot_and_metrics),
	       RIOV_TEST_ENTRY(eth_assign_without_packet_memory),
	       RIOV_TEST_ENTRY(ids_marked_while_their_users_exist))
