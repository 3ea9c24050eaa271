/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * BGP EVPN networks (control/svc_evpn.c) on the doubles of the dataplane (dp_double.h), of the
 * next-hop watcher (fabric_double.h) and of EVPN's kernel side (evpn_double.h): Network.Add
 * --evpn makes the VNI's devices with the uplink's address, refusals, shadow TAPs of local ports
 * (vhost and eth), the sweep of local MACs, zebra's remote MACs and flood entries into the
 * dataplane (VTEP ports made and removed), the VTEP address following the uplinks (deleted,
 * added again, another address), and the reconciliation at a restart. No kernel device is
 * touched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>

#include <event2/buffer.h>

#include "evpn_double.h"
#include "fabric_double.h"
#include "riov_test.h"
#include "svc_fixture.h"

static const uint8_t MAC1[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t MAC2[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t MAC3[6] = { 0x02, 0, 0, 0, 0, 0x03 };
static const uint8_t RMAC[6] = { 0x02, 0, 0, 0, 0, 0xaa };

static uint32_t ip4(const char *s)
{
	struct in_addr a = { 0 };
	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static int add_net(struct svc_fixture *f, struct svc_call *t, const char *name, uint32_t vni, bool evpn,
		   const char *const *vteps, size_t n)
{
	Riov__V1__NetworkAddRequest req = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;

	spec.name = (char *)name;
	spec.vni = vni;
	spec.evpn = evpn;
	spec.mtu = 1450;
	spec.vteps = (char **)vteps;
	spec.n_vteps = n;
	req.network = &spec;
	return svc_call(f, t, "Network.Add", &req);
}

static int add_net_end(struct svc_fixture *f, const char *name, uint32_t vni, bool evpn)
{
	struct svc_call t;
	int rc = add_net(f, &t, name, vni, evpn, NULL, 0);
	if (rc != 0)
		fprintf(stderr, "  Network.Add %s: %s\n", name, t.msg);
	svc_call_end(&t);
	return rc;
}

static int add_port(struct svc_fixture *f, const char *name, Riov__V1__PortType type, const char *net,
		    const char *address)
{
	Riov__V1__PortAddRequest req = RIOV__V1__PORT_ADD_REQUEST__INIT;
	Riov__V1__PortSpec ps;
	struct svc_call t;
	char sock[64];

	riov__v1__port_spec__init(&ps);
	ps.name = (char *)name;
	ps.type = type;
	ps.net = (char *)net;
	snprintf(sock, sizeof(sock), "%s.sock", name);
	if (type == RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST)
		ps.socket_path = sock;
	else
		ps.devargs = "net_null0";
	ps.address = (char *)address;
	req.port = &ps;
	int rc = svc_call(f, &t, "Port.Add", &req);
	if (rc != 0)
		fprintf(stderr, "  Port.Add %s: %s\n", name, t.msg);
	svc_call_end(&t);
	return rc;
}

static int delete_port(struct svc_fixture *f, const char *name)
{
	Riov__V1__PortDeleteRequest req = RIOV__V1__PORT_DELETE_REQUEST__INIT;
	struct svc_call t;

	req.name = (char *)name;
	int rc = svc_call(f, &t, "Port.Delete", &req);
	svc_call_end(&t);
	return rc;
}

static uint32_t port_id(struct svc_fixture *f, const char *name)
{
	struct riov_dp_port_info pi;
	return riov_dp_port_info(f->dp, name, &pi) == 0 ? pi.id : 9999;
}

/* An uplink, a network blue (VNI 100, EVPN) and its vhost port vm1. */
static void setup(struct svc_fixture *f)
{
	fabric_double_reset();
	evpn_double_reset();
	CHECK_EQ(fixture_open(f), 0);
	CHECK_EQ(add_port(f, "up0", RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK, NULL, "10.0.0.1/24"), 0);
	CHECK_EQ(add_net_end(f, "blue", 100, true), 0);
	CHECK_EQ(add_port(f, "vm1", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue", NULL), 0);
}

RIOV_TEST(evpn_network_makes_the_vni_with_the_uplink_address)
{
	struct svc_fixture f = { 0 };
	uint32_t local = 0, vni = 0;
	unsigned mtu = 0;
	char port[65];

	setup(&f);
	CHECK_EQ(evpn_double.creates, 1u);
	CHECK(evpn_double_vni(100, &local, &mtu));
	CHECK_EQ(local, ip4("10.0.0.1"));
	CHECK_EQ(mtu, 1450u);
	CHECK(dp_double_evpn(f.dp, "blue"));
	/* the vhost port's shadow TAP, by its dataplane id */
	CHECK(evpn_double_port(port_id(&f, "vm1"), &vni, port));
	CHECK_EQ(vni, 100u);
	CHECK(strcmp(port, "vm1") == 0);
	/* a network that is not EVPN asks nothing of the kernel */
	unsigned adds = evpn_double.vni_adds;
	CHECK_EQ(add_net_end(&f, "plain", 200, false), 0);
	CHECK_EQ(evpn_double.vni_adds, adds);
	CHECK(!dp_double_evpn(f.dp, "plain"));
	/* Network.List shows the mode */
	Riov__V1__NetworkListRequest lr = RIOV__V1__NETWORK_LIST_REQUEST__INIT;
	struct svc_call t;
	CHECK_EQ(svc_call(&f, &t, "Network.List", &lr), 0);
	const Riov__V1__NetworkListResponse *r = (const void *)t.resp;
	CHECK(r != NULL && r->n_networks == 2);
	if (r != NULL && r->n_networks == 2) {
		CHECK(strcmp(r->networks[0]->mode, "evpn") == 0);
		CHECK(strcmp(r->networks[1]->mode, "static") == 0);
	}
	svc_call_end(&t);
	/* the port goes: its shadow TAP with it */
	uint32_t id = port_id(&f, "vm1");
	CHECK_EQ(delete_port(&f, "vm1"), 0);
	CHECK(!evpn_double_port(id, NULL, NULL));
	/* the network goes: its devices with it */
	Riov__V1__NetworkDeleteRequest dr = RIOV__V1__NETWORK_DELETE_REQUEST__INIT;
	dr.name = "blue";
	CHECK_EQ(svc_call(&f, &t, "Network.Delete", &dr), 0);
	svc_call_end(&t);
	CHECK(!evpn_double_vni(100, NULL, NULL));
	fixture_close(&f);
}

RIOV_TEST(evpn_refusals)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;
	const char *vteps[] = { "10.0.0.2" };

	fabric_double_reset();
	evpn_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	/* no uplink yet */
	CHECK_EQ(add_net(&f, &t, "blue", 100, true, NULL, 0), -EINVAL);
	CHECK(strstr(t.msg, "network blue: an EVPN network needs an uplink (its VTEP address is the "
		      "first uplink's)") == t.msg);
	svc_call_end(&t);
	CHECK_EQ(add_port(&f, "up0", RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK, NULL, "10.0.0.1/24"), 0);
	CHECK_EQ(add_net(&f, &t, "blue", 0, true, NULL, 0), -EINVAL);
	CHECK(strcmp(t.msg, "network blue: an EVPN network needs a VNI (--vni N)") == 0);
	svc_call_end(&t);
	CHECK_EQ(add_net(&f, &t, "blue", 100, true, vteps, 1), -EINVAL);
	CHECK(strcmp(t.msg, "network blue is an EVPN network: its remote VTEPs come from BGP EVPN "
		      "(FRR's zebra), leave the vteps out") == 0);
	svc_call_end(&t);
	/* the kernel refuses: nothing is left */
	evpn_double.vni_add_rc = -EPERM;
	CHECK_EQ(add_net(&f, &t, "blue", 100, true, NULL, 0), -EPERM);
	CHECK(strstr(t.msg, "(riovd needs CAP_NET_ADMIN)") != NULL);
	svc_call_end(&t);
	CHECK(!dp_double_has_net(f.dp, "blue"));
	evpn_double.vni_add_rc = 0;
	CHECK_EQ(add_net_end(&f, "blue", 100, true), 0);
	/* no hand-typed VTEPs */
	Riov__V1__NetworkVtepRequest vr = RIOV__V1__NETWORK_VTEP_REQUEST__INIT;
	vr.net = "blue";
	vr.address = "10.0.0.2";
	CHECK_EQ(svc_call(&f, &t, "Network.AddVtep", &vr), -EINVAL);
	CHECK(strcmp(t.msg, "network blue is an EVPN network: its remote VTEPs come from BGP EVPN "
		      "(FRR's zebra), not by hand") == 0);
	svc_call_end(&t);
	CHECK_EQ(svc_call(&f, &t, "Network.DeleteVtep", &vr), -EINVAL);
	svc_call_end(&t);
	/* no netlink: refused with the reason */
	fixture_close(&f);
	evpn_double_reset();
	evpn_double.create_rc = -EPROTONOSUPPORT;
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_port(&f, "up0", RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK, NULL, "10.0.0.1/24"), 0);
	CHECK_EQ(add_net(&f, &t, "blue", 100, true, NULL, 0), -EPROTONOSUPPORT);
	CHECK(strstr(t.msg, "EVPN needs the kernel's netlink") == t.msg);
	svc_call_end(&t);
	fixture_close(&f);
}

RIOV_TEST(local_macs_swept_into_the_shadow_taps)
{
	struct svc_fixture f = { 0 };

	setup(&f);
	CHECK_EQ(add_port(&f, "vm2", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue", NULL), 0);
	CHECK_EQ(add_port(&f, "eth1", RIOV__V1__PORT_TYPE__PORT_TYPE_ETH, "blue", NULL), 0);
	uint32_t id1 = port_id(&f, "vm1"), id2 = port_id(&f, "vm2");
	CHECK_EQ(dp_double_learn(f.dp, "blue", MAC1, "vm1"), 0);
	CHECK(!evpn_double_mac(id1, MAC1));
	svc_evpn_sweep(f.svc);
	CHECK(evpn_double_mac(id1, MAC1));
	CHECK_EQ(evpn_double.mac_adds, 1u);
	/* a sweep without change asks nothing */
	svc_evpn_sweep(f.svc);
	CHECK_EQ(evpn_double.mac_adds, 1u);
	CHECK_EQ(evpn_double.mac_dels, 0u);
	/* the guest moves to vm2 */
	CHECK_EQ(riov_dp_mac_del(f.dp, "blue", MAC1), 0);
	CHECK_EQ(dp_double_learn(f.dp, "blue", MAC1, "vm2"), 0);
	svc_evpn_sweep(f.svc);
	CHECK(evpn_double_mac(id2, MAC1));
	CHECK(!evpn_double_mac(id1, MAC1));
	/* it ages out: withdrawn */
	CHECK_EQ(riov_dp_mac_del(f.dp, "blue", MAC1), 0);
	svc_evpn_sweep(f.svc);
	CHECK(!evpn_double_mac(id2, MAC1));
	CHECK_EQ(evpn_double.mac_dels, 1u);
	fixture_close(&f);
}

/* Whether blue's table sends mac to port (and the entry is static). */
static bool table_has(struct svc_fixture *f, const uint8_t mac[6], const char *port)
{
	char p[RIOV_DP_NAME_MAX];
	bool st = false;
	return dp_double_mac(f->dp, "blue", mac, p, sizeof(p), &st) && strcmp(p, port) == 0 && st;
}

RIOV_TEST(eth_port_macs_advertised_like_guests)
{
	struct svc_fixture f = { 0 };

	setup(&f);
	CHECK_EQ(add_net_end(&f, "plain", 200, false), 0);
	CHECK_EQ(add_port(&f, "eth1", RIOV__V1__PORT_TYPE__PORT_TYPE_ETH, "blue", NULL), 0);
	CHECK_EQ(add_port(&f, "eth2", RIOV__V1__PORT_TYPE__PORT_TYPE_ETH, "plain", NULL), 0);
	const uint32_t e1 = port_id(&f, "eth1"), id1 = port_id(&f, "vm1");
	uint32_t vni = 0;
	char port[65] = "";
	/* every local port of an EVPN network has a shadow TAP: vhost and eth; not the uplink, not
	 * a port of another network, not a remote VTEP's port */
	CHECK(evpn_double_port(e1, &vni, port));
	CHECK(vni == 100 && strcmp(port, "eth1") == 0);
	CHECK(evpn_double_port(id1, NULL, NULL));
	CHECK(!evpn_double_port(port_id(&f, "up0"), NULL, NULL));
	CHECK(!evpn_double_port(port_id(&f, "eth2"), NULL, NULL));
	evpn_double_flood(true, 100, ip4("10.0.0.2"));
	CHECK(dp_double_has_port(f.dp, "blue@10.0.0.2"));
	CHECK(!evpn_double_port(port_id(&f, "blue@10.0.0.2"), NULL, NULL));
	CHECK_EQ(evpn_double.port_adds, 2u);
	/* a host behind the eth port, learned there: advertised at the next sweep */
	CHECK_EQ(dp_double_learn(f.dp, "blue", MAC2, "eth1"), 0);
	svc_evpn_sweep(f.svc);
	CHECK(evpn_double_mac(e1, MAC2));
	/* one behind the other network's eth port: not EVPN's */
	CHECK_EQ(dp_double_learn(f.dp, "plain", MAC3, "eth2"), 0);
	svc_evpn_sweep(f.svc);
	CHECK_EQ(evpn_double.mac_adds, 1u);
	/* it moves to a guest's port and back: moved on the shadow TAPs */
	CHECK_EQ(riov_dp_mac_del(f.dp, "blue", MAC2), 0);
	CHECK_EQ(dp_double_learn(f.dp, "blue", MAC2, "vm1"), 0);
	svc_evpn_sweep(f.svc);
	CHECK(evpn_double_mac(id1, MAC2) && !evpn_double_mac(e1, MAC2));
	CHECK_EQ(riov_dp_mac_del(f.dp, "blue", MAC2), 0);
	CHECK_EQ(dp_double_learn(f.dp, "blue", MAC2, "eth1"), 0);
	svc_evpn_sweep(f.svc);
	CHECK(evpn_double_mac(e1, MAC2) && !evpn_double_mac(id1, MAC2));
	CHECK_EQ(evpn_double.mac_dels, 0u); /* moves, not withdrawals */
	/* it ages out: withdrawn */
	CHECK_EQ(riov_dp_mac_del(f.dp, "blue", MAC2), 0);
	svc_evpn_sweep(f.svc);
	CHECK(!evpn_double_mac(e1, MAC2));
	CHECK_EQ(evpn_double.mac_dels, 1u);
	/* a static MAC on the eth port: advertised, and again at once after a restart */
	Riov__V1__NetworkMacRequest req = RIOV__V1__NETWORK_MAC_REQUEST__INIT;
	struct svc_call t;
	req.net = "blue";
	req.mac = "02:00:00:00:00:03";
	req.port = "eth1";
	CHECK_EQ(svc_call(&f, &t, "Network.AddMac", &req), 0);
	svc_call_end(&t);
	svc_evpn_sweep(f.svc);
	CHECK(evpn_double_mac(e1, MAC3));
	fixture_stop(&f);
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(evpn_double.rec_ports[0], 2u);
	CHECK_EQ(evpn_double.rec_macs[0], 1u);
	CHECK(evpn_double_port(port_id(&f, "eth1"), NULL, NULL));
	CHECK(evpn_double_mac(port_id(&f, "eth1"), MAC3));
	/* the eth port goes: its shadow TAP (and the MACs on it) with it */
	const uint32_t e1b = port_id(&f, "eth1");
	CHECK_EQ(delete_port(&f, "eth1"), 0);
	CHECK(!evpn_double_port(e1b, NULL, NULL));
	CHECK(!evpn_double_mac(e1b, MAC3));
	fixture_close(&f);
}

RIOV_TEST(vtep_address_follows_the_uplinks)
{
	struct svc_fixture f = { 0 };
	uint32_t local = 0;
	const uint32_t b = ip4("10.0.0.2");

	setup(&f);
	const uint32_t id1 = port_id(&f, "vm1");
	evpn_double_flood(true, 100, b);
	evpn_double_remote_mac(true, 100, RMAC, b);
	CHECK(table_has(&f, RMAC, "blue@10.0.0.2"));
	CHECK_EQ(dp_double_learn(f.dp, "blue", MAC1, "vm1"), 0);
	svc_evpn_sweep(f.svc);
	CHECK(evpn_double_mac(id1, MAC1));
	/* the uplink goes: no VTEP address, no vxlan device (zebra withdraws the VNI); the remote
	 * VTEPs and MACs went with it; the bridge, the shadow TAPs and their MACs stay */
	CHECK_EQ(delete_port(&f, "up0"), 0);
	CHECK(evpn_double_vni(100, &local, NULL));
	CHECK_EQ(local, 0u);
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.2"));
	CHECK(!dp_double_mac(f.dp, "blue", RMAC, NULL, 0, NULL));
	CHECK_EQ(nh_double_refs(b), 0u);
	CHECK(evpn_double_port(id1, NULL, NULL));
	CHECK(evpn_double_mac(id1, MAC1));
	CHECK_EQ(evpn_double.vni_dels, 0u);
	CHECK(dp_double_evpn(f.dp, "blue"));
	/* local ports come and go meanwhile */
	CHECK_EQ(add_port(&f, "vm2", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue", NULL), 0);
	CHECK(evpn_double_port(port_id(&f, "vm2"), NULL, NULL));
	/* it comes back with the same address: the vxlan device with it, zebra's entries again */
	CHECK_EQ(add_port(&f, "up0", RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK, NULL, "10.0.0.1/24"), 0);
	CHECK(evpn_double_vni(100, &local, NULL));
	CHECK_EQ(local, ip4("10.0.0.1"));
	evpn_double_flood(true, 100, b);
	CHECK(dp_double_has_port(f.dp, "blue@10.0.0.2"));
	/* deleted and added again with another address: the vxlan device's local follows */
	CHECK_EQ(delete_port(&f, "up0"), 0);
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.2"));
	CHECK_EQ(add_port(&f, "up0", RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK, NULL, "10.0.0.4/24"), 0);
	CHECK(evpn_double_vni(100, &local, NULL));
	CHECK_EQ(local, ip4("10.0.0.4"));
	/* a second uplink changes nothing; the first one going makes the second's address the
	 * VTEP address: zebra's entries of the old device are reported removed */
	evpn_double_flood(true, 100, b);
	unsigned adds = evpn_double.vni_adds;
	CHECK_EQ(add_port(&f, "up1", RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK, NULL, "10.0.1.5/24"), 0);
	CHECK_EQ(evpn_double.vni_adds, adds);
	CHECK_EQ(delete_port(&f, "up0"), 0);
	CHECK(evpn_double_vni(100, &local, NULL));
	CHECK_EQ(local, ip4("10.0.1.5"));
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.2"));
	/* a restart reaches the same state: with the uplink's address, or without an uplink none */
	fixture_stop(&f);
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(evpn_double.rec_n_vnis, 1u);
	CHECK_EQ(evpn_double.rec_local[0], ip4("10.0.1.5"));
	CHECK_EQ(delete_port(&f, "up1"), 0);
	CHECK(evpn_double_vni(100, &local, NULL));
	CHECK_EQ(local, 0u);
	fixture_stop(&f);
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(evpn_double.rec_n_vnis, 1u);
	CHECK_EQ(evpn_double.rec_vni[0], 100u);
	CHECK_EQ(evpn_double.rec_local[0], 0u);
	CHECK_EQ(evpn_double.rec_ports[0], 2u); /* vm1 and vm2 keep their shadow TAPs */
	CHECK(evpn_double_port(port_id(&f, "vm1"), NULL, NULL));
	/* and the uplink's return after it makes the vxlan device */
	CHECK_EQ(add_port(&f, "up0", RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK, NULL, "10.0.0.1/24"), 0);
	CHECK(evpn_double_vni(100, &local, NULL));
	CHECK_EQ(local, ip4("10.0.0.1"));
	fixture_close(&f);
}

RIOV_TEST(remote_macs_and_flood_lists_from_zebra)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;
	const uint32_t b = ip4("10.0.0.2"), c = ip4("10.0.0.3");

	setup(&f);
	unsigned watched = nh_double.adds;
	/* a remote MAC: the VTEP's port made, its next hop watched as a hand-typed VTEP's */
	evpn_double_remote_mac(true, 100, RMAC, b);
	CHECK(dp_double_has_port(f.dp, "blue@10.0.0.2"));
	CHECK_EQ(nh_double.adds, watched + 1);
	CHECK_EQ(nh_double_refs(b), 1u);
	CHECK(table_has(&f, RMAC, "blue@10.0.0.2"));
	/* of another VNI: nothing */
	evpn_double_remote_mac(true, 999, RMAC, c);
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.3"));
	/* the flood entry of the same VTEP: the same port */
	evpn_double_flood(true, 100, b);
	CHECK_EQ(nh_double_refs(b), 1u);
	/* listed with origin evpn; the MAC with evpn */
	Riov__V1__NetworkListRequest lr = RIOV__V1__NETWORK_LIST_REQUEST__INIT;
	CHECK_EQ(svc_call(&f, &t, "Network.List", &lr), 0);
	const Riov__V1__NetworkListResponse *r = (const void *)t.resp;
	CHECK(r != NULL && r->n_networks == 1 && r->networks[0]->n_vteps == 1);
	if (r != NULL && r->n_networks == 1 && r->networks[0]->n_vteps == 1) {
		const Riov__V1__VtepInfo *v = r->networks[0]->vteps[0];
		CHECK(strcmp(v->origin, "evpn") == 0 && v->flood && v->evpn_macs == 1);
		CHECK(r->networks[0]->spec->n_vteps == 0); /* not in the desired state */
	}
	svc_call_end(&t);
	Riov__V1__NetworkListMacsRequest mr = RIOV__V1__NETWORK_LIST_MACS_REQUEST__INIT;
	mr.net = "blue";
	CHECK_EQ(svc_call(&f, &t, "Network.ListMacs", &mr), 0);
	const Riov__V1__NetworkListMacsResponse *m = (const void *)t.resp;
	CHECK(m != NULL && m->n_macs == 1 && m->macs[0]->evpn && m->macs[0]->remote &&
	      strcmp(m->macs[0]->vtep, "10.0.0.2") == 0);
	svc_call_end(&t);
	/* the MAC moves to another VTEP (no flood entry there) */
	evpn_double_remote_mac(true, 100, RMAC, c);
	CHECK(table_has(&f, RMAC, "blue@10.0.0.3"));
	CHECK(dp_double_has_port(f.dp, "blue@10.0.0.2")); /* still in the flood list */
	/* 10.0.0.3 loses its last MAC: its port goes */
	evpn_double_remote_mac(false, 100, RMAC, c);
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.3"));
	CHECK(!dp_double_mac(f.dp, "blue", RMAC, NULL, 0, NULL));
	CHECK_EQ(nh_double_refs(c), 0u);
	/* 10.0.0.2 leaves the flood list: no MACs either, its port goes */
	evpn_double_flood(false, 100, b);
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.2"));
	CHECK_EQ(nh_double_refs(b), 0u);
	/* nothing of this is in the state file: a restart has no VTEP */
	evpn_double_flood(true, 100, b);
	evpn_double_remote_mac(true, 100, RMAC, b);
	CHECK(svc_state_save(f.svc, t.msg, sizeof(t.msg)) == 0);
	fixture_stop(&f);
	CHECK_EQ(fixture_open(&f), 0);
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.2"));
	CHECK(!dp_double_mac(f.dp, "blue", RMAC, NULL, 0, NULL));
	/* zebra gives them again (the reconciliation's FDB read) */
	evpn_double_remote_mac(true, 100, RMAC, b);
	CHECK(table_has(&f, RMAC, "blue@10.0.0.2"));
	/* the network goes: its EVPN VTEP port with it (else the dataplane refuses) */
	CHECK_EQ(delete_port(&f, "vm1"), 0);
	Riov__V1__NetworkDeleteRequest dr = RIOV__V1__NETWORK_DELETE_REQUEST__INIT;
	dr.name = "blue";
	CHECK_EQ(svc_call(&f, &t, "Network.Delete", &dr), 0);
	svc_call_end(&t);
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.2"));
	CHECK(!dp_double_has_net(f.dp, "blue"));
	fixture_close(&f);
}

RIOV_TEST(a_guest_takes_a_remote_mac_back)
{
	struct svc_fixture f = { 0 };
	const uint32_t b = ip4("10.0.0.2");

	setup(&f);
	uint32_t id1 = port_id(&f, "vm1");
	evpn_double_remote_mac(true, 100, MAC1, b);
	CHECK(table_has(&f, MAC1, "blue@10.0.0.2"));
	/* the guest sends from vm1 (it migrated here): the entry moves */
	CHECK_EQ(dp_double_learn(f.dp, "blue", MAC1, "vm1"), 0);
	svc_evpn_sweep(f.svc);
	CHECK(evpn_double_mac(id1, MAC1));
	/* zebra withdraws the remote one (the kernel context reports it): the guest's entry stays */
	evpn_double_remote_mac(false, 100, MAC1, b);
	char p[RIOV_DP_NAME_MAX];
	CHECK(dp_double_mac(f.dp, "blue", MAC1, p, sizeof(p), NULL) && strcmp(p, "vm1") == 0);
	CHECK(!dp_double_has_port(f.dp, "blue@10.0.0.2"));
	fixture_close(&f);
}

RIOV_TEST(restart_reconciles_with_the_desired_state)
{
	struct svc_fixture f = { 0 };
	Riov__V1__NetworkMacRequest req = RIOV__V1__NETWORK_MAC_REQUEST__INIT;
	struct svc_call t;

	setup(&f);
	CHECK_EQ(add_port(&f, "vm2", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue", NULL), 0);
	CHECK_EQ(add_net_end(&f, "plain", 200, false), 0);
	req.net = "blue";
	req.mac = "02:00:00:00:00:02";
	req.port = "vm2";
	CHECK_EQ(svc_call(&f, &t, "Network.AddMac", &req), 0);
	svc_call_end(&t);
	fixture_stop(&f);
	CHECK_EQ(evpn_double.destroys, 1u);
	unsigned vni_adds = evpn_double.vni_adds;
	/* the state file has blue before up0: EVPN waits for the end of the restore */
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(evpn_double.vni_adds, vni_adds); /* no vni_add: one reconciliation */
	CHECK_EQ(evpn_double.reconciles, 1u);
	CHECK_EQ(evpn_double.rec_n_vnis, 1u);
	CHECK_EQ(evpn_double.rec_vni[0], 100u);
	CHECK_EQ(evpn_double.rec_local[0], ip4("10.0.0.1"));
	CHECK_EQ(evpn_double.rec_mtu[0], 1450u);
	CHECK_EQ(evpn_double.rec_ports[0], 2u);
	CHECK_EQ(evpn_double.rec_macs[0], 1u);  /* vm2's static MAC */
	CHECK(strcmp(evpn_double.rec_port_name[0], "vm1") == 0 &&
	      strcmp(evpn_double.rec_port_name[1], "vm2") == 0);
	CHECK(evpn_double_mac(port_id(&f, "vm2"), MAC2));
	CHECK(dp_double_evpn(f.dp, "blue"));
	/* the sweep has the static MAC in the table: it is there already */
	svc_evpn_sweep(f.svc);
	CHECK(evpn_double_mac(port_id(&f, "vm2"), MAC2));
	/* metrics */
	struct evbuffer *b = evbuffer_new();
	svc_prometheus_collect(b, f.svc);
	size_t n = evbuffer_get_length(b);
	char *text = calloc(1, n + 1);
	evbuffer_remove(b, text, n);
	CHECK(strstr(text, "# TYPE riov_evpn_ignored_total counter\n") != NULL);
	CHECK(strstr(text, "\nriov_evpn_local_macs_total{op=\"add\"}") != NULL);
	free(text);
	evbuffer_free(b);
	fixture_close(&f);
	/* a node without EVPN networks never opens the kernel context */
	evpn_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "plain", 200, false), 0);
	fixture_stop(&f);
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(evpn_double.creates, 0u);
	CHECK_EQ(evpn_double.reconciles, 0u);
	fixture_close(&f);
}

RIOV_TEST(config_file_evpn_waits_for_its_uplink)
{
	struct svc_fixture f = { 0 };

	fabric_double_reset();
	evpn_double_reset();
	/* the configuration file's networks come before its ports (the uplink) */
	snprintf(f.cfg.nets[0], sizeof(f.cfg.nets[0]), "blue");
	f.cfg.net_vni[0] = 100;
	f.cfg.net_evpn[0] = true;
	f.cfg.n_nets = 1;
	f.cfg.ports = calloc(1, sizeof(*f.cfg.ports));
	snprintf(f.cfg.ports[0].name, sizeof(f.cfg.ports[0].name), "up0");
	snprintf(f.cfg.ports[0].type, sizeof(f.cfg.ports[0].type), "uplink");
	snprintf(f.cfg.ports[0].devargs, sizeof(f.cfg.ports[0].devargs), "net_null0");
	snprintf(f.cfg.ports[0].address, sizeof(f.cfg.ports[0].address), "10.0.0.1/24");
	f.cfg.n_ports = 1;
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(evpn_double.reconciles, 1u);
	CHECK(evpn_double_vni(100, NULL, NULL));
	CHECK(f.svc->nets[0]->evpn); /* kept in the state file */
	fixture_close(&f);
	free(f.cfg.ports);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(evpn_network_makes_the_vni_with_the_uplink_address),
	       RIOV_TEST_ENTRY(evpn_refusals), RIOV_TEST_ENTRY(local_macs_swept_into_the_shadow_taps),
	       RIOV_TEST_ENTRY(eth_port_macs_advertised_like_guests),
	       RIOV_TEST_ENTRY(vtep_address_follows_the_uplinks),
	       RIOV_TEST_ENTRY(remote_macs_and_flood_lists_from_zebra),
	       RIOV_TEST_ENTRY(a_guest_takes_a_remote_mac_back),
	       RIOV_TEST_ENTRY(restart_reconciles_with_the_desired_state),
	       RIOV_TEST_ENTRY(config_file_evpn_waits_for_its_uplink))
