/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VXLAN overlay's control plane (control/svc_fabric.c) on the doubles of the dataplane
 * (dp_double.h) and of the kernel beside riovd (fabric_double.h): networks' VNIs and remote VTEPs
 * (Network.Add, Network.AddVtep/DeleteVtep), uplink ports (their address and route on the TAP),
 * next hops from the watcher reaching the dataplane, what the state file and the configuration
 * file keep of all that, counters and metrics of VTEP ports and each VNI's totals, and hostile
 * values refused with a sentence, never a crash. No unit test here touches the host's addresses
 * or routes; the one kernel call made for real is if_indextoname() of the loopback interface
 * (read-only).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>

#include <event2/buffer.h>

#include "fabric_double.h"
#include "riov_test.h"
#include "svc_fixture.h"

static const uint8_t NH_MAC[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01 };

static uint32_t ip4(const char *s)
{
	struct in_addr a = { 0 };
	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Network.Add of name with vni and vteps (n of them). */
static int add_net(struct svc_fixture *f, struct svc_call *t, const char *name, uint32_t vni,
		   const char *const *vteps, size_t n)
{
	Riov__V1__NetworkAddRequest req = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;

	spec.name = (char *)name;
	spec.vni = vni;
	spec.vteps = (char **)vteps;
	spec.n_vteps = n;
	req.network = &spec;
	return svc_call(f, t, "Network.Add", &req);
}

static int add_net_end(struct svc_fixture *f, const char *name, uint32_t vni)
{
	struct svc_call t;
	int rc = add_net(f, &t, name, vni, NULL, 0);
	if (rc != 0)
		fprintf(stderr, "  Network.Add %s: %s\n", name, t.msg);
	svc_call_end(&t);
	return rc;
}

static int vtep_call(struct svc_fixture *f, struct svc_call *t, const char *method, const char *net,
		     const char *addr)
{
	Riov__V1__NetworkVtepRequest req = RIOV__V1__NETWORK_VTEP_REQUEST__INIT;

	req.net = (char *)net;
	req.address = (char *)addr;
	return svc_call(f, t, method, &req);
}

static int vtep_end(struct svc_fixture *f, const char *method, const char *net, const char *addr)
{
	struct svc_call t;
	int rc = vtep_call(f, &t, method, net, addr);
	if (rc != 0)
		fprintf(stderr, "  %s %s %s: %s\n", method, net, addr, t.msg);
	svc_call_end(&t);
	return rc;
}

static void uplink_spec(Riov__V1__PortSpec *ps, const char *name, const char *address,
			const char *gateway)
{
	riov__v1__port_spec__init(ps);
	ps->name = (char *)name;
	ps->type = RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK;
	ps->devargs = "net_af_packet0,iface=veth0";
	ps->address = (char *)address;
	ps->gateway = (char *)gateway;
}

static int add_port(struct svc_fixture *f, const Riov__V1__PortSpec *ps, struct svc_call *t)
{
	Riov__V1__PortAddRequest req = RIOV__V1__PORT_ADD_REQUEST__INIT;

	req.port = (Riov__V1__PortSpec *)ps;
	return svc_call(f, t, "Port.Add", &req);
}

static int add_uplink(struct svc_fixture *f, const char *name, const char *address, const char *gw)
{
	Riov__V1__PortSpec ps;
	struct svc_call t;

	uplink_spec(&ps, name, address, gw);
	int rc = add_port(f, &ps, &t);
	if (rc != 0)
		fprintf(stderr, "  Port.Add uplink %s: %s\n", name, t.msg);
	svc_call_end(&t);
	return rc;
}

static int delete_port(struct svc_fixture *f, struct svc_call *t, const char *name)
{
	Riov__V1__PortDeleteRequest req = RIOV__V1__PORT_DELETE_REQUEST__INIT;

	req.name = (char *)name;
	return svc_call(f, t, "Port.Delete", &req);
}

/* The remote VTEP ip of network net as Network.List shows it (NULL: none); valid until
 * svc_call_end(t). */
static const Riov__V1__VtepInfo *listed_vtep(struct svc_fixture *f, struct svc_call *t,
					     const char *net, const char *ip)
{
	Riov__V1__NetworkListRequest req = RIOV__V1__NETWORK_LIST_REQUEST__INIT;

	if (svc_call(f, t, "Network.List", &req) != 0)
		return NULL;
	const Riov__V1__NetworkListResponse *r = (const void *)t->resp;
	for (size_t i = 0; i < r->n_networks; i++) {
		if (strcmp(r->networks[i]->spec->name, net) != 0)
			continue;
		for (size_t k = 0; k < r->networks[i]->n_vteps; k++)
			if (strcmp(r->networks[i]->vteps[k]->address, ip) == 0)
				return r->networks[i]->vteps[k];
	}
	return NULL;
}

/* Whether Network.List shows VTEP ip of net, resolved as said (out of uplink, when resolved). */
static bool vtep_state(struct svc_fixture *f, const char *net, const char *ip, bool resolved,
		       const char *uplink)
{
	struct svc_call t;
	const Riov__V1__VtepInfo *v = listed_vtep(f, &t, net, ip);
	bool ok = v != NULL && v->resolved == resolved &&
		  (!resolved || (strcmp(v->uplink, uplink) == 0 &&
				 strcmp(v->next_hop_mac, "02:aa:bb:cc:dd:01") == 0));
	if (!ok)
		fprintf(stderr, "  VTEP %s of %s: %s, wanted %s\n", ip, net,
			v == NULL ? "not listed" : v->resolved ? "resolved" : "unresolved",
			resolved ? "resolved" : "unresolved");
	svc_call_end(&t);
	return ok;
}

/* The network spec the state file holds for name (NULL: none); valid until svc_call_end(t). */
static const Riov__V1__NetworkSpec *saved_net(struct svc_fixture *f, struct svc_call *t, const char *name)
{
	Riov__V1__ConfigShowRequest req = RIOV__V1__CONFIG_SHOW_REQUEST__INIT;

	req.saved = true;
	if (svc_call(f, t, "Config.Show", &req) != 0)
		return NULL;
	const Riov__V1__State *st = ((Riov__V1__ConfigShowResponse *)t->resp)->state;
	for (size_t i = 0; st != NULL && i < st->n_networks; i++)
		if (strcmp(st->networks[i]->name, name) == 0)
			return st->networks[i];
	return NULL;
}

static size_t saved_vteps(struct svc_fixture *f, const char *name)
{
	struct svc_call t;
	const Riov__V1__NetworkSpec *ns = saved_net(f, &t, name);
	size_t n = ns ? ns->n_vteps : (size_t)-1;
	svc_call_end(&t);
	return n;
}

static bool msg_is(const struct svc_call *t, const char *want)
{
	if (strcmp(t->msg, want) == 0)
		return true;
	fprintf(stderr, "  message '%s'\n  wanted  '%s'\n", t->msg, want);
	return false;
}

RIOV_TEST(network_vni_and_vteps)
{
	static const char *const two[] = { "10.0.0.2", "10.0.0.3" };
	struct svc_fixture f = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, &t, "blue", 100, two, 2), 0);
	const Riov__V1__NetworkAddResponse *r = (const void *)t.resp;
	CHECK(r != NULL && r->network->spec->vni == 100 && r->network->n_vteps == 2 &&
	      strcmp(r->network->vteps[0]->port, "blue@10.0.0.2") == 0 && !r->network->vteps[0]->resolved &&
	      r->network->ports == 0);
	svc_call_end(&t);
	CHECK_EQ(dp_double_vni(f.dp, "blue"), 100);
	CHECK(dp_double_has_port(f.dp, "blue@10.0.0.2") && dp_double_has_port(f.dp, "blue@10.0.0.3"));
	CHECK_EQ(nh_double_refs(ip4("10.0.0.2")), 1);
	CHECK_EQ(saved_vteps(&f, "blue"), 2);

	/* one network per VNI: refused before the dataplane is asked */
	unsigned adds = dp_double.net_add;
	CHECK_EQ(add_net(&f, &t, "red", 100, NULL, 0), -EEXIST);
	CHECK(msg_is(&t, "VNI 100 is network blue's"));
	svc_call_end(&t);
	CHECK_EQ(dp_double.net_add, adds);
	CHECK_EQ(add_net_end(&f, "top", RIOV_DP_VNI_MAX), 0);
	CHECK_EQ(add_net(&f, &t, "red", RIOV_DP_VNI_MAX + 1, NULL, 0), -EINVAL);
	CHECK(msg_is(&t, "network red: VNI 16777216 is outside 1-16777215"));
	svc_call_end(&t);
	CHECK_EQ(add_net(&f, &t, "red", 0, two, 1), -EINVAL);
	CHECK(msg_is(&t, "network red: remote VTEPs need a VNI (give the network a vni)"));
	svc_call_end(&t);
	static const char *const twice[] = { "10.0.0.9", "10.0.0.9" };
	CHECK_EQ(add_net(&f, &t, "red", 200, twice, 2), -EINVAL);
	CHECK(msg_is(&t, "network red: VTEP 10.0.0.9 is listed twice"));
	svc_call_end(&t);

	CHECK(!dp_double_has_net(f.dp, "red"));
	/* a VTEP that cannot be added undoes the whole network (its VNI free again) */
	static const char *const other[] = { "10.0.0.7", "10.0.0.8" };
	nh_double.add_rc = -ENOMEM;
	CHECK_EQ(add_net(&f, &t, "red", 200, other, 2), -ENOMEM);
	svc_call_end(&t);
	nh_double.add_rc = 0;
	CHECK(!dp_double_has_net(f.dp, "red") && !dp_double_has_port(f.dp, "red@10.0.0.7"));
	CHECK_EQ(f.svc->n_nets, 2);
	CHECK_EQ(add_net(&f, &t, "red", 200, other, 2), 0);
	svc_call_end(&t);
	CHECK_EQ(nh_double_refs(ip4("10.0.0.8")), 1);
	/* Network.Delete takes the network's VTEPs with it */
	unsigned del = dp_double.vtep_del;
	Riov__V1__NetworkDeleteRequest dr = RIOV__V1__NETWORK_DELETE_REQUEST__INIT;
	dr.name = "blue";
	CHECK_EQ(svc_call(&f, &t, "Network.Delete", &dr), 0);
	svc_call_end(&t);
	CHECK_EQ(dp_double.vtep_del, del + 2);
	CHECK(!dp_double_has_net(f.dp, "blue") && !dp_double_has_port(f.dp, "blue@10.0.0.2"));
	CHECK_EQ(nh_double_refs(ip4("10.0.0.2")), 0);
	CHECK_EQ(f.svc->n_nets, 2);
	fixture_close(&f);
}

/* Addresses no remote VTEP can have, in Network.Add's vteps and in AddVtep alike. */
static const char *const bad_addresses[] = {
	"10.0.0", "10.0.0.256", "1.2.3.4.5", "010.0.0.1", " 10.0.0.1", "10.0.0.1 ", "10.0.0.1/24",
	"0x0a000001", "167772161", "0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "239.1.1.1",
	"240.0.0.1", "255.255.255.255", "::1", "10.0.0.-1", "%s%n%s", "10.0.0.1\n",
	("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
};

RIOV_TEST(vtep_refusals)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;
	char want[256];

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "blue", 100), 0);
	CHECK_EQ(add_net_end(&f, "plain", 0), 0);
	CHECK_EQ(add_uplink(&f, "up0", "10.0.0.1/24", NULL), 0);
	uint64_t g = f.svc->generation;

	CHECK_EQ(vtep_call(&f, &t, "Network.AddVtep", "nope", "10.0.0.2"), -ENOENT);
	CHECK(msg_is(&t, "network nope does not exist"));
	svc_call_end(&t);
	CHECK_EQ(vtep_call(&f, &t, "Network.AddVtep", NULL, NULL), -ENOENT);
	CHECK(msg_is(&t, "network (no network given) does not exist"));
	svc_call_end(&t);
	CHECK_EQ(vtep_call(&f, &t, "Network.AddVtep", "blue", NULL), -EINVAL);
	CHECK(msg_is(&t, "name the remote VTEP by its IPv4 address (a.b.c.d)"));
	svc_call_end(&t);
	CHECK_EQ(vtep_call(&f, &t, "Network.AddVtep", "plain", "10.0.0.2"), -EINVAL);
	CHECK(msg_is(&t, "network plain has no VNI: remote VTEPs are for overlay networks (a network "
			 "made with a vni, riovctl net add NAME --vni N)"));
	svc_call_end(&t);
	for (size_t i = 0; i < sizeof(bad_addresses) / sizeof(bad_addresses[0]); i++) {
		const char *const one[] = { bad_addresses[i] };
		snprintf(want, sizeof(want), "network blue: VTEP '%.40s' is not a unicast IPv4 address "
			 "(a.b.c.d)", bad_addresses[i]);
		CHECK_EQ(vtep_call(&f, &t, "Network.AddVtep", "blue", bad_addresses[i]), -EINVAL);
		CHECK(msg_is(&t, want));
		svc_call_end(&t);
		snprintf(want, sizeof(want), "network red: VTEP '%.40s' is not a unicast IPv4 address "
			 "(a.b.c.d)", bad_addresses[i]);
		CHECK_EQ(add_net(&f, &t, "red", 7, one, 1), -EINVAL);
		CHECK(msg_is(&t, want));
		svc_call_end(&t);
	}
	CHECK_EQ(vtep_call(&f, &t, "Network.AddVtep", "blue", "10.0.0.1"), -EINVAL);
	CHECK(msg_is(&t, "network blue: 10.0.0.1 is this node's own VTEP address (uplink up0), not a "
			 "remote one"));
	svc_call_end(&t);
	CHECK_EQ(f.svc->generation, g);
	CHECK_EQ(dp_double.vtep_add, 0);

	CHECK_EQ(vtep_end(&f, "Network.AddVtep", "blue", "10.0.0.2"), 0);
	CHECK_EQ(vtep_call(&f, &t, "Network.AddVtep", "blue", "10.0.0.2"), -EEXIST);
	CHECK(msg_is(&t, "network blue already has VTEP 10.0.0.2"));
	svc_call_end(&t);
	CHECK_EQ(vtep_call(&f, &t, "Network.DeleteVtep", "blue", "10.0.0.3"), -ENOENT);
	CHECK(msg_is(&t, "network blue has no VTEP 10.0.0.3"));
	svc_call_end(&t);
	CHECK_EQ(vtep_call(&f, &t, "Network.DeleteVtep", "blue", "10.0.0.x"), -EINVAL);
	CHECK(msg_is(&t, "network blue: VTEP '10.0.0.x' is not an IPv4 address (a.b.c.d)"));
	svc_call_end(&t);
	CHECK_EQ(vtep_call(&f, &t, "Network.DeleteVtep", "nope", "10.0.0.2"), -ENOENT);
	svc_call_end(&t);
	/* an uplink cannot take a remote VTEP's address */
	Riov__V1__PortSpec ps;
	uplink_spec(&ps, "up1", "10.0.0.2/24", NULL);
	CHECK_EQ(add_port(&f, &ps, &t), -EINVAL);
	CHECK(msg_is(&t, "uplink port up1: address 10.0.0.2/24 is a remote VTEP of network blue; delete "
			 "that VTEP first"));
	svc_call_end(&t);
	/* a VTEP's port is not deleted as a port */
	CHECK_EQ(delete_port(&f, &t, "blue@10.0.0.2"), -EINVAL);
	CHECK(msg_is(&t, "port blue@10.0.0.2 is a remote VTEP's: riovctl net vtep del blue 10.0.0.2"));
	svc_call_end(&t);
	/* too many VTEPs in one Network.Add */
	static char *many[RIOV_DP_MAX_PORTS + 1];
	for (size_t i = 0; i <= RIOV_DP_MAX_PORTS; i++)
		many[i] = "10.1.0.1";
	CHECK_EQ(add_net(&f, &t, "red", 7, (const char *const *)many, RIOV_DP_MAX_PORTS + 1), -E2BIG);
	CHECK(msg_is(&t, "network red: 1025 remote VTEPs is too many (at most 1024)"));
	svc_call_end(&t);
	fixture_close(&f);
}

RIOV_TEST(vtep_add_delete_saved_and_undone)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "blue", 100), 0);
	uint64_t g = f.svc->generation;
	CHECK_EQ(vtep_call(&f, &t, "Network.AddVtep", "blue", "10.0.0.2"), 0);
	const Riov__V1__NetworkVtepResponse *r = (const void *)t.resp;
	CHECK(r != NULL && r->network != NULL && r->network->n_vteps == 1 &&
	      strcmp(r->network->vteps[0]->address, "10.0.0.2") == 0 &&
	      strcmp(r->network->vteps[0]->port, "blue@10.0.0.2") == 0 && !r->network->vteps[0]->resolved &&
	      r->network->spec->n_vteps == 1);
	svc_call_end(&t);
	CHECK_EQ(f.svc->generation, g + 1);
	CHECK_EQ(saved_vteps(&f, "blue"), 1);
	CHECK_EQ(nh_double_refs(ip4("10.0.0.2")), 1);

	/* not on disk, not kept: the add is undone, the delete too */
	fixture_state_writable(&f, false);
	CHECK_EQ(vtep_call(&f, &t, "Network.AddVtep", "blue", "10.0.0.3"), -EISDIR);
	CHECK(starts(t.msg, "VTEP 10.0.0.3 was not added to network blue: the state file could not be "
			    "written"));
	svc_call_end(&t);
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.3"));
	CHECK_EQ(nh_double_refs(ip4("10.0.0.3")), 0);
	CHECK_EQ(f.svc->nets[0]->n_vteps, 1);
	CHECK_EQ(vtep_call(&f, &t, "Network.DeleteVtep", "blue", "10.0.0.2"), -EISDIR);
	CHECK(starts(t.msg, "VTEP 10.0.0.2 was not deleted from network blue: the state file could not "
			    "be written"));
	svc_call_end(&t);
	CHECK(dp_double_has_port(f.dp, "blue@10.0.0.2"));
	CHECK_EQ(f.svc->nets[0]->n_vteps, 1);
	CHECK_EQ(nh_double_refs(ip4("10.0.0.2")), 1);
	fixture_state_writable(&f, true);

	CHECK_EQ(vtep_call(&f, &t, "Network.DeleteVtep", "blue", "10.0.0.2"), 0);
	r = (const void *)t.resp;
	CHECK(r != NULL && r->network != NULL && r->network->n_vteps == 0 && r->network->spec->n_vteps == 0);
	svc_call_end(&t);
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.2"));
	CHECK_EQ(nh_double_refs(ip4("10.0.0.2")), 0);
	CHECK_EQ(saved_vteps(&f, "blue"), 0);
	fixture_close(&f);
}

/* The watcher's answers reach the dataplane: out of an uplink resolves, anything else does not;
 * a second network's VTEP of a watched address takes the next hop at once. */
RIOV_TEST(next_hops_from_the_kernel)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;
	unsigned lo = if_nametoindex("lo");

	fabric_double_reset();
	CHECK(lo != 0);
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "blue", 100), 0);
	CHECK_EQ(add_net_end(&f, "red", 200), 0);
	/* the kernel reaches 10.0.0.9 out of "lo", which is no uplink (yet) */
	nh_double_answer(ip4("10.0.0.9"), 0, lo, ip4("10.0.0.9"), NH_MAC);
	CHECK_EQ(vtep_end(&f, "Network.AddVtep", "blue", "10.0.0.9"), 0);
	CHECK(vtep_state(&f, "blue", "10.0.0.9", false, NULL));
	/* no route to 10.0.0.2 */
	CHECK_EQ(vtep_end(&f, "Network.AddVtep", "blue", "10.0.0.2"), 0);
	CHECK(vtep_state(&f, "blue", "10.0.0.2", false, NULL));

	/* an uplink whose TAP is "lo" (the one interface a unit test can count on); its address
	 * and route reach the kernel double, and the watcher looks again */
	unsigned refreshes = nh_double.refreshes;
	CHECK_EQ(add_uplink(&f, "lo", "10.0.0.1/24", "10.0.0.254"), 0);
	CHECK(strcmp(kernel_double.addr_ifname, "lo") == 0 && kernel_double.addr == ip4("10.0.0.1") &&
	      kernel_double.addr_prefix == 24);
	CHECK(strcmp(kernel_double.route_ifname, "lo") == 0 && kernel_double.route_dst == 0 &&
	      kernel_double.route_prefix == 0 && kernel_double.route_gw == ip4("10.0.0.254"));
	CHECK_EQ(dp_double.last_address, ip4("10.0.0.1"));
	CHECK(nh_double.refreshes > refreshes);
	/* the kernel now routes 10.0.0.2 out of the TAP */
	nh_double_answer(ip4("10.0.0.2"), 0, lo, ip4("10.0.0.254"), NH_MAC);
	nh_double_event();
	CHECK(vtep_state(&f, "blue", "10.0.0.2", true, "lo"));
	/* red's VTEP of the same address: resolved at once (the watcher only calls on changes) */
	CHECK_EQ(vtep_end(&f, "Network.AddVtep", "red", "10.0.0.2"), 0);
	CHECK_EQ(nh_double_refs(ip4("10.0.0.2")), 2);
	CHECK(vtep_state(&f, "red", "10.0.0.2", true, "lo"));
	/* the next hop's MAC is gone: both unresolved */
	nh_double_answer(ip4("10.0.0.2"), -EHOSTUNREACH, lo, ip4("10.0.0.254"), NULL);
	nh_double_event();
	CHECK(vtep_state(&f, "blue", "10.0.0.2", false, NULL));
	CHECK(vtep_state(&f, "red", "10.0.0.2", false, NULL));
	nh_double_answer(ip4("10.0.0.2"), 0, lo, ip4("10.0.0.254"), NH_MAC);
	nh_double_event();
	CHECK(vtep_state(&f, "red", "10.0.0.2", true, "lo"));
	/* the uplink goes: its VTEPs with it, and the watcher looks again */
	refreshes = nh_double.refreshes;
	CHECK_EQ(delete_port(&f, &t, "lo"), 0);
	svc_call_end(&t);
	CHECK(nh_double.refreshes > refreshes);
	CHECK(vtep_state(&f, "blue", "10.0.0.2", false, NULL));
	CHECK(vtep_state(&f, "red", "10.0.0.2", false, NULL));
	/* one network's VTEP goes: the other's is still watched */
	CHECK_EQ(vtep_end(&f, "Network.DeleteVtep", "red", "10.0.0.2"), 0);
	CHECK_EQ(nh_double_refs(ip4("10.0.0.2")), 1);
	fixture_close(&f);
}

/* Without a next-hop watcher (no netlink) riovd runs: VTEPs are kept, unresolved. */
RIOV_TEST(no_watcher_vteps_unresolved)
{
	struct svc_fixture f = { 0 };

	fabric_double_reset();
	nh_double.create_rc = -EPERM;
	CHECK_EQ(fixture_open(&f), 0);
	CHECK(f.svc->nh == NULL);
	CHECK_EQ(add_net_end(&f, "blue", 100), 0);
	CHECK_EQ(vtep_end(&f, "Network.AddVtep", "blue", "10.0.0.2"), 0);
	CHECK(vtep_state(&f, "blue", "10.0.0.2", false, NULL));
	CHECK_EQ(add_uplink(&f, "up0", "10.0.0.1/24", NULL), 0);
	CHECK_EQ(vtep_end(&f, "Network.DeleteVtep", "blue", "10.0.0.2"), 0);
	CHECK_EQ(nh_double.adds, 0);
	fixture_close(&f);
	/* a watcher that cannot take the address: the VTEP is not added */
	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "blue", 100), 0);
	nh_double.add_rc = -ENOMEM;
	struct svc_call t;
	CHECK_EQ(vtep_call(&f, &t, "Network.AddVtep", "blue", "10.0.0.2"), -ENOMEM);
	CHECK(msg_is(&t, "network blue: VTEP 10.0.0.2 not added: its next hop cannot be watched: Cannot "
			 "allocate memory"));
	svc_call_end(&t);
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.2"));
	fixture_close(&f);
	fabric_double_reset();
}

RIOV_TEST(uplink_refusals)
{
	static const struct {
		const char *what, *name, *net, *devargs, *address, *gateway, *feature;
		int rc;
		const char *msg;
	} cases[] = {
		{ "long name", "uplink-is-16char", .rc = -EINVAL,
		  .msg = "uplink port 'uplink-is-16char': its name is also its TAP interface's (a kernel "
			 "interface): at most 15 characters, not '.' or '..'" },
		{ "dot", ".", .rc = -EINVAL,
		  .msg = "uplink port '.': its name is also its TAP interface's (a kernel interface): at "
			 "most 15 characters, not '.' or '..'" },
		{ "net", .net = "blue", .rc = -EINVAL,
		  .msg = "uplink port up0 is in no network (it carries the VXLAN of every overlay "
			 "network): leave the network out" },
		{ "no devargs", .devargs = "", .rc = -EINVAL,
		  .msg = "uplink port up0 needs devargs (--devargs ARGS, as an eth port's)" },
		{ "devargs", .devargs = "net_pcap0,tx_pcap=/etc/shadow", .rc = -EINVAL,
		  .msg = "uplink port up0: devargs 'net_pcap0,tx_pcap=/etc/shadow' refused: driver "
			 "'net_pcap' is not allowed by eth_devargs_allow (net_af_packet:iface,qpairs,"
			 "blocksz,framesz,framecnt,qdisc_bypass; net_af_xdp:iface,start_queue,queue_count; "
			 "net_tap:iface,mac; net_null:size,copy,no-rx; net_ring; pci)" },
		{ "no address", .address = "", .rc = -EINVAL,
		  .msg = "uplink port up0 needs its VTEP address (--address a.b.c.d/len)" },
		{ "no prefix", .address = "10.0.0.1", .rc = -EINVAL,
		  .msg = "uplink port up0: address '10.0.0.1' is not a unicast IPv4 address with a prefix "
			 "length 1-32 (a.b.c.d/len)" },
		{ "/33", .address = "10.0.0.1/33", .rc = -EINVAL, .msg = NULL },
		{ "/0", .address = "10.0.0.1/0", .rc = -EINVAL, .msg = NULL },
		{ "/024", .address = "10.0.0.1/024", .rc = -EINVAL, .msg = NULL },
		{ "/-1", .address = "10.0.0.1/-1", .rc = -EINVAL, .msg = NULL },
		{ "//24", .address = "10.0.0.1//24", .rc = -EINVAL, .msg = NULL },
		{ "/24x", .address = "10.0.0.1/24x", .rc = -EINVAL, .msg = NULL },
		{ "/24 only", .address = "/24", .rc = -EINVAL, .msg = NULL },
		{ "octet", .address = "10.0.0.256/24", .rc = -EINVAL, .msg = NULL },
		{ "multicast", .address = "224.0.0.1/4", .rc = -EINVAL, .msg = NULL },
		{ "loopback", .address = "127.0.0.1/8", .rc = -EINVAL, .msg = NULL },
		{ "format", .address = "%s%s%n/24", .rc = -EINVAL, .msg = NULL },
		{ "gateway elsewhere", .gateway = "10.0.1.1", .rc = -EINVAL,
		  .msg = "uplink port up0: gateway '10.0.1.1' is not the IPv4 address (a.b.c.d) of another "
			 "host on 10.0.0.1/24's subnet" },
		{ "gateway self", .gateway = "10.0.0.1", .rc = -EINVAL, .msg = NULL },
		{ "gateway network", .gateway = "10.0.0.0", .rc = -EINVAL, .msg = NULL },
		{ "gateway broadcast", .gateway = "10.0.0.255", .rc = -EINVAL, .msg = NULL },
		{ "gateway text", .gateway = "router", .rc = -EINVAL, .msg = NULL },
		{ "gateway cidr", .gateway = "10.0.0.254/24", .rc = -EINVAL, .msg = NULL },
		{ "feature", .feature = "in_order", .rc = -EINVAL,
		  .msg = "port up0: an eth or uplink port takes only 'offloads' in features_off (its "
			 "receive coalescing of TCP); 'in_order' is for vhost ports" },
	};
	struct svc_fixture f = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "blue", 0), 0);
	uint64_t g = f.svc->generation;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Riov__V1__PortSpec ps;
		char *feat[1];
		uplink_spec(&ps, cases[i].name ? cases[i].name : "up0",
			    cases[i].address ? cases[i].address : "10.0.0.1/24", cases[i].gateway);
		ps.net = (char *)cases[i].net;
		if (cases[i].devargs)
			ps.devargs = (char *)cases[i].devargs;
		if (cases[i].feature) {
			feat[0] = (char *)cases[i].feature;
			ps.features_off = feat;
			ps.n_features_off = 1;
		}
		CHECK_EQ(add_port(&f, &ps, &t), cases[i].rc);
		if (cases[i].msg != NULL && strcmp(t.msg, cases[i].msg) != 0) {
			fprintf(stderr, "  case '%s': got '%s'\n", cases[i].what, t.msg);
			CHECK(!"the refusal's message");
		}
		if (cases[i].msg == NULL && !starts(t.msg, "uplink port up0: ")) {
			fprintf(stderr, "  case '%s': got '%s'\n", cases[i].what, t.msg);
			CHECK(!"a refusal that names the uplink");
		}
		svc_call_end(&t);
	}
	/* address and gateway belong to uplinks */
	Riov__V1__PortSpec ps;
	uplink_spec(&ps, "eth0", "10.0.0.1/24", NULL);
	ps.type = RIOV__V1__PORT_TYPE__PORT_TYPE_ETH;
	ps.net = "blue";
	CHECK_EQ(add_port(&f, &ps, &t), -EINVAL);
	CHECK(msg_is(&t, "port eth0: address and gateway are for uplink ports"));
	svc_call_end(&t);
	CHECK_EQ(dp_double_ports(f.dp), 0);
	CHECK_EQ(dp_double.port_add, 0);
	CHECK_EQ(kernel_double.addr_adds, 0);
	CHECK_EQ(f.svc->generation, g);

	/* the kernel refuses the address, then the route: the port is not kept */
	kernel_double.addr_add_rc = -EPERM;
	uplink_spec(&ps, "up0", "10.0.0.1/24", "10.0.0.254");
	CHECK_EQ(add_port(&f, &ps, &t), -EIO);
	CHECK(msg_is(&t, "uplink port up0: its address 10.0.0.1/24 could not be put on its TAP "
			 "interface up0: Operation not permitted (riovd needs CAP_NET_ADMIN)"));
	svc_call_end(&t);
	CHECK(!dp_double_has_port(f.dp, "up0"));
	kernel_double.addr_add_rc = 0;
	kernel_double.route_add_rc = -ENETUNREACH;
	CHECK_EQ(add_port(&f, &ps, &t), -EINVAL);
	CHECK(msg_is(&t, "uplink port up0: the default route via 10.0.0.254 out of its TAP interface "
			 "could not be added: Network is unreachable"));
	svc_call_end(&t);
	CHECK(!dp_double_has_port(f.dp, "up0"));
	CHECK_EQ(f.svc->n_ports, 0);
	kernel_double.route_add_rc = 0;
	CHECK_EQ(f.svc->generation, g);

	/* a good one; then no second uplink of the same address */
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	const Riov__V1__PortAddResponse *r = (const void *)t.resp;
	CHECK(r != NULL && r->port->spec->type == RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK &&
	      strcmp(r->port->spec->address, "10.0.0.1/24") == 0 &&
	      strcmp(r->port->spec->gateway, "10.0.0.254") == 0 && strcmp(r->port->spec->net, "") == 0 &&
	      strcmp(r->port->state, "down") == 0);
	svc_call_end(&t);
	uplink_spec(&ps, "up1", "10.0.0.1/16", NULL);
	CHECK_EQ(add_port(&f, &ps, &t), -EEXIST);
	CHECK(msg_is(&t, "uplink port up1: address 10.0.0.1/16 is uplink up0's already"));
	svc_call_end(&t);
	/* a /31 has a gateway (RFC 3021), a /32 none */
	uplink_spec(&ps, "up2", "10.9.0.0/31", "10.9.0.1");
	CHECK_EQ(add_port(&f, &ps, &t), 0);
	svc_call_end(&t);
	uplink_spec(&ps, "up3", "10.8.0.1/32", "10.8.0.2");
	CHECK_EQ(add_port(&f, &ps, &t), -EINVAL);
	svc_call_end(&t);
	/* an uplink is in no network: deleting a network does not see it */
	Riov__V1__NetworkDeleteRequest dr = RIOV__V1__NETWORK_DELETE_REQUEST__INIT;
	dr.name = "blue";
	CHECK_EQ(svc_call(&f, &t, "Network.Delete", &dr), 0);
	svc_call_end(&t);
	fixture_close(&f);
}

/* The state file keeps VNIs, VTEPs and uplinks' address and gateway; a restart replays them. */
RIOV_TEST(state_round_trip)
{
	static const char *const one[] = { "10.0.0.2" };
	struct svc_fixture f = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net(&f, &t, "blue", 100, one, 1), 0);
	svc_call_end(&t);
	CHECK_EQ(add_net_end(&f, "red", 200), 0);
	CHECK_EQ(vtep_end(&f, "Network.AddVtep", "red", "10.0.0.3"), 0);
	CHECK_EQ(vtep_end(&f, "Network.AddVtep", "red", "10.0.0.2"), 0);
	CHECK_EQ(add_uplink(&f, "up0", "10.0.0.1/24", "10.0.0.254"), 0);
	fixture_stop(&f);

	kernel_double.addr = 0;
	kernel_double.route_gw = 0;
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(f.svc->restore_failed, 0);
	CHECK_EQ(dp_double_vni(f.dp, "blue"), 100);
	CHECK_EQ(dp_double_vni(f.dp, "red"), 200);
	CHECK(dp_double_has_port(f.dp, "blue@10.0.0.2") && dp_double_has_port(f.dp, "red@10.0.0.3") &&
	      dp_double_has_port(f.dp, "red@10.0.0.2") && dp_double_has_port(f.dp, "up0"));
	CHECK_EQ(nh_double_refs(ip4("10.0.0.2")), 2);
	CHECK_EQ(nh_double_refs(ip4("10.0.0.3")), 1);
	CHECK(kernel_double.addr == ip4("10.0.0.1") && kernel_double.route_gw == ip4("10.0.0.254"));
	int k = svc_port_index(f.svc, "up0");
	CHECK(k >= 0 && strcmp(f.svc->ports[k]->address, "10.0.0.1/24") == 0 &&
	      strcmp(f.svc->ports[k]->gateway, "10.0.0.254") == 0);
	int n = svc_net_index(f.svc, "red");
	CHECK(n >= 0 && f.svc->nets[n]->n_vteps == 2 && strcmp(f.svc->nets[n]->vteps[0], "10.0.0.3") == 0 &&
	      strcmp(f.svc->nets[n]->vteps[1], "10.0.0.2") == 0);
	fixture_close(&f);
}

/* The configuration file's VNIs, VTEPs and uplinks are applied at the first start. */
RIOV_TEST(config_file_overlay)
{
	struct svc_fixture f = { 0 };
	char err[512] = "";

	fabric_double_reset();
	CHECK_EQ(riov_config_parse("networks = ( { name = \"blue\"; vni = 100; mtu = 1450;\n"
				   "  vteps = [ \"10.0.0.2\", \"10.0.0.3\" ]; }, { name = \"red\"; } );\n"
				   "ports = ( { name = \"up0\"; type = \"uplink\"; devargs = \"net_null0\";\n"
				   "  address = \"10.0.0.1/24\"; gateway = \"10.0.0.254\";\n"
				   "  offloads = false; } );\n",
				   "t.conf", &f.cfg, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(dp_double_vni(f.dp, "blue"), 100);
	CHECK(dp_double_has_port(f.dp, "blue@10.0.0.3") && dp_double_has_port(f.dp, "up0"));
	CHECK(kernel_double.addr == ip4("10.0.0.1") && kernel_double.route_gw == ip4("10.0.0.254"));
	CHECK_EQ(dp_double.last_features_off, RIOV_VIRTIO_NET_OFFLOADS);
	CHECK_EQ(saved_vteps(&f, "blue"), 2);
	fixture_close(&f);
	riov_config_free(&f.cfg);
}

/* VTEP ports' counters: Port.Stats takes their name, groups the fabric's drop causes, and the
 * metrics name them; Network.List's VtepInfo has them too. */
RIOV_TEST(vtep_counters_and_metrics)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "blue", 100), 0);
	CHECK_EQ(vtep_end(&f, "Network.AddVtep", "blue", "10.0.0.2"), 0);
	CHECK_EQ(add_uplink(&f, "up0", "10.0.0.1/24", NULL), 0);
	struct riov_dp_port_stats *c = &dp_double.vtep_counters;
	c->tx_packets = 11;
	c->tx_bytes = 1100;
	c->rx_packets = 7;
	c->rx_bytes = 700;
	c->drops[RIOV_DP_DROP_NO_NEXTHOP] = 3;
	c->drops[RIOV_DP_DROP_UNKNOWN_VTEP] = 5;
	for (unsigned d = RIOV_DP_DROP_VX_TRUNCATED; d <= RIOV_DP_DROP_VX_UNKNOWN_VNI; d++)
		c->drops[d] = 1;
	const unsigned vx = RIOV_DP_DROP_VX_UNKNOWN_VNI - RIOV_DP_DROP_VX_TRUNCATED + 1;

	Riov__V1__PortStatsRequest sr = RIOV__V1__PORT_STATS_REQUEST__INIT;
	sr.name = "blue@10.0.0.2";
	CHECK_EQ(svc_call(&f, &t, "Port.Stats", &sr), 0);
	const Riov__V1__PortStatsResponse *s = (const void *)t.resp;
	CHECK(s != NULL && s->n_ports == 1);
	if (s != NULL && s->n_ports == 1) {
		const Riov__V1__PortCounters *pc = s->ports[0];
		CHECK(strcmp(pc->port, "blue@10.0.0.2") == 0 && strcmp(pc->net, "blue") == 0);
		CHECK_EQ(pc->tx_dropped, 3);
		CHECK_EQ(pc->rx_dropped, 5 + vx);
		CHECK_EQ(pc->rx_errors, 0);
		CHECK_EQ(pc->n_drops, 2 + vx);
	}
	svc_call_end(&t);
	sr.name = "";
	CHECK_EQ(svc_call(&f, &t, "Port.Stats", &sr), 0);
	s = (const void *)t.resp;
	CHECK(s != NULL && s->n_ports == 2); /* the uplink and the VTEP's port */
	svc_call_end(&t);
	sr.name = "blue@10.0.0.9";
	CHECK_EQ(svc_call(&f, &t, "Port.Stats", &sr), -ENOENT);
	svc_call_end(&t);

	const Riov__V1__VtepInfo *v = listed_vtep(&f, &t, "blue", "10.0.0.2");
	CHECK(v != NULL && v->tx_packets == 11 && v->tx_bytes == 1100 && v->rx_packets == 7 &&
	      v->rx_bytes == 700 && v->dropped == 8 + vx);
	svc_call_end(&t);

	struct evbuffer *b = evbuffer_new();
	svc_prometheus_collect(b, f.svc);
	size_t n = evbuffer_get_length(b);
	char *text = malloc(n + 1);
	CHECK(text != NULL);
	if (text != NULL) {
		evbuffer_remove(b, text, n);
		text[n] = '\0';
		CHECK(strstr(text, "\nriov_port_drops_total{port=\"blue@10.0.0.2\",net=\"blue\",cause="
				   "\"no_nexthop\"} 3\n") != NULL);
		CHECK(strstr(text, "\nriov_port_drops_total{port=\"blue@10.0.0.2\",net=\"blue\",cause="
				   "\"vxlan_unknown_vni\"} 1\n") != NULL);
		CHECK(strstr(text, "\nriov_port_rx_packets_total{port=\"up0\",net=\"\"} 0\n") != NULL);
		CHECK(strstr(text, "# TYPE riov_vtep_resolved gauge\n") != NULL);
		CHECK(strstr(text, "\nriov_vtep_resolved{net=\"blue\",vtep=\"10.0.0.2\"} 0\n") != NULL);
	}
	free(text);
	evbuffer_free(b);
	fixture_close(&f);
}

/* The overlay network's totals over its VTEPs' ports (NetworkInfo.overlay, riov_vni_*): sums, a
 * deleted VTEP's counts kept, none for a network without a VNI. */
RIOV_TEST(vni_totals)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "blue", 100), 0);
	CHECK_EQ(add_net_end(&f, "plain", 0), 0);
	CHECK_EQ(vtep_end(&f, "Network.AddVtep", "blue", "10.0.0.2"), 0);
	CHECK_EQ(vtep_end(&f, "Network.AddVtep", "blue", "10.0.0.3"), 0);
	struct riov_dp_port_stats *c = &dp_double.vtep_counters; /* each VTEP port's */
	c->tx_packets = 11;
	c->tx_bytes = 1100;
	c->rx_packets = 7;
	c->rx_bytes = 700;
	c->drops[RIOV_DP_DROP_NO_NEXTHOP] = 3;
	c->drops[RIOV_DP_DROP_MTU] = 1;

	Riov__V1__NetworkListRequest lr = RIOV__V1__NETWORK_LIST_REQUEST__INIT;
	CHECK_EQ(svc_call(&f, &t, "Network.List", &lr), 0);
	const Riov__V1__NetworkListResponse *r = (const void *)t.resp;
	CHECK(r != NULL && r->n_networks == 2);
	if (r != NULL && r->n_networks == 2) {
		const Riov__V1__VniCounters *o = r->networks[0]->overlay;
		CHECK(o != NULL && o->vni == 100 && o->tx_packets == 22 && o->tx_bytes == 2200 &&
		      o->rx_packets == 14 && o->rx_bytes == 1400 && o->dropped == 8 && o->n_drops == 2);
		if (o != NULL && o->n_drops == 2)
			CHECK(strcmp(o->drops[0]->cause, "mtu_exceeded") == 0 && o->drops[0]->packets == 2 &&
			      strcmp(o->drops[1]->cause, "no_nexthop") == 0 && o->drops[1]->packets == 6);
		CHECK(r->networks[1]->overlay == NULL);
	}
	svc_call_end(&t);

	/* a VTEP goes: its counts stay in the totals */
	CHECK_EQ(vtep_end(&f, "Network.DeleteVtep", "blue", "10.0.0.3"), 0);
	CHECK_EQ(vtep_call(&f, &t, "Network.DeleteVtep", "blue", "10.0.0.2"), 0);
	const Riov__V1__NetworkVtepResponse *vr = (const void *)t.resp;
	CHECK(vr != NULL && vr->network->n_vteps == 0 && vr->network->overlay != NULL &&
	      vr->network->overlay->tx_packets == 22 && vr->network->overlay->dropped == 8);
	svc_call_end(&t);
	CHECK_EQ(vtep_end(&f, "Network.AddVtep", "blue", "10.0.0.2"), 0);

	struct evbuffer *b = evbuffer_new();
	svc_prometheus_collect(b, f.svc);
	size_t n = evbuffer_get_length(b);
	char *text = malloc(n + 1);
	CHECK(text != NULL);
	if (text != NULL) {
		evbuffer_remove(b, text, n);
		text[n] = '\0';
		CHECK(strstr(text, "# TYPE riov_vni_packets_total counter\n") != NULL);
		CHECK(strstr(text, "\nriov_vni_packets_total{net=\"blue\",vni=\"100\",direction=\"tx\"} 33\n") != NULL);
		CHECK(strstr(text, "\nriov_vni_packets_total{net=\"blue\",vni=\"100\",direction=\"rx\"} 21\n") != NULL);
		CHECK(strstr(text, "\nriov_vni_bytes_total{net=\"blue\",vni=\"100\",direction=\"tx\"} 3300\n") != NULL);
		CHECK(strstr(text, "\nriov_vni_bytes_total{net=\"blue\",vni=\"100\",direction=\"rx\"} 2100\n") != NULL);
		CHECK(strstr(text, "\nriov_vni_drops_total{net=\"blue\",vni=\"100\",cause=\"no_nexthop\"} 9\n") != NULL);
		CHECK(strstr(text, "\nriov_vni_drops_total{net=\"blue\",vni=\"100\",cause=\"vxlan_unknown_vni\"} 0\n") != NULL);
		CHECK(strstr(text, "net=\"plain\",vni") == NULL);
	}
	free(text);
	evbuffer_free(b);
	fixture_close(&f);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(network_vni_and_vteps), RIOV_TEST_ENTRY(vtep_refusals),
	       RIOV_TEST_ENTRY(vtep_add_delete_saved_and_undone),
	       RIOV_TEST_ENTRY(next_hops_from_the_kernel), RIOV_TEST_ENTRY(no_watcher_vteps_unresolved),
	       RIOV_TEST_ENTRY(uplink_refusals), RIOV_TEST_ENTRY(state_round_trip),
	       RIOV_TEST_ENTRY(config_file_overlay), RIOV_TEST_ENTRY(vtep_counters_and_metrics),
	       RIOV_TEST_ENTRY(vni_totals))
