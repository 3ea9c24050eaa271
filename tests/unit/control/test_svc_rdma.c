/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RDMA peer links in riovd's control plane (control/svc_rdma.c, issue 15) on the doubles of the
 * dataplane (dp_double.h) and of the links (rdma_double.h): the peer set (every network's remote
 * VTEP addresses, each once, not this node's), the context following the first uplink's address,
 * one link per peer made and published, withdrawn from the dataplane before it is destroyed,
 * failures logged and retried, Network.List's transport and rdma_* fields, the metrics.
 */
#include <arpa/inet.h>
#include <errno.h>

#include <event2/buffer.h>

#include "rdma_double.h"
#include "riov_test.h"
#include "svc_fixture.h"

static uint32_t ip4(const char *s)
{
	struct in_addr a = { 0 };
	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static int add_net(struct svc_fixture *f, const char *name, uint32_t vni, const char *const *vteps, size_t n)
{
	Riov__V1__NetworkAddRequest req = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;
	struct svc_call t;

	spec.name = (char *)name;
	spec.vni = vni;
	spec.vteps = (char **)vteps;
	spec.n_vteps = n;
	req.network = &spec;
	int rc = svc_call(f, &t, "Network.Add", &req);
	if (rc != 0)
		fprintf(stderr, "  Network.Add %s: %s\n", name, t.msg);
	svc_call_end(&t);
	return rc;
}

static int vtep(struct svc_fixture *f, const char *method, const char *net, const char *addr)
{
	Riov__V1__NetworkVtepRequest req = RIOV__V1__NETWORK_VTEP_REQUEST__INIT;
	struct svc_call t;

	req.net = (char *)net;
	req.address = (char *)addr;
	int rc = svc_call(f, &t, method, &req);
	if (rc != 0)
		fprintf(stderr, "  %s %s %s: %s\n", method, net, addr, t.msg);
	svc_call_end(&t);
	return rc;
}

static int add_uplink(struct svc_fixture *f, const char *name, const char *address)
{
	Riov__V1__PortAddRequest req = RIOV__V1__PORT_ADD_REQUEST__INIT;
	Riov__V1__PortSpec ps;
	struct svc_call t;

	riov__v1__port_spec__init(&ps);
	ps.name = (char *)name;
	ps.type = RIOV__V1__PORT_TYPE__PORT_TYPE_UPLINK;
	ps.devargs = "net_af_packet0,iface=veth0";
	ps.address = (char *)address;
	req.port = &ps;
	int rc = svc_call(f, &t, "Port.Add", &req);
	if (rc != 0)
		fprintf(stderr, "  Port.Add uplink %s: %s\n", name, t.msg);
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

/* Network.List's entry of VTEP ip in net, copied (transport, rdma_state) into the arguments. */
static bool listed(struct svc_fixture *f, const char *net, const char *ip, char *transport, char *state,
		   Riov__V1__VtepInfo *copy)
{
	Riov__V1__NetworkListRequest req = RIOV__V1__NETWORK_LIST_REQUEST__INIT;
	struct svc_call t;
	bool found = false;

	if (svc_call(f, &t, "Network.List", &req) != 0)
		return false;
	const Riov__V1__NetworkListResponse *r = (const void *)t.resp;
	for (size_t i = 0; i < r->n_networks; i++) {
		if (strcmp(r->networks[i]->spec->name, net) != 0)
			continue;
		for (size_t k = 0; k < r->networks[i]->n_vteps; k++) {
			const Riov__V1__VtepInfo *v = r->networks[i]->vteps[k];
			if (strcmp(v->address, ip) != 0)
				continue;
			snprintf(transport, 16, "%s", v->transport);
			snprintf(state, 16, "%s", v->rdma_state);
			if (copy != NULL) {
				*copy = *v;
				copy->n_rdma_drops = 0;
				copy->rdma_drops = NULL;
				/* the drops' total is checked by cause below */
				for (size_t d = 0; d < v->n_rdma_drops; d++)
					if (strcmp(v->rdma_drops[d]->cause, "unknown_vni") == 0)
						copy->evpn_macs = (uint32_t)v->rdma_drops[d]->packets;
			}
			found = true;
		}
	}
	svc_call_end(&t);
	return found;
}

/* The doubles reset, and a service opened with rdma_device = device; fixture_open()'s result. */
static int open_rdma(struct svc_fixture *f, const char *device)
{
	rdma_double_reset();
	memset(f, 0, sizeof(*f));
	snprintf(f->cfg.rdma_device, sizeof(f->cfg.rdma_device), "%s", device);
	f->cfg.rdma_port = 7471;
	f->cfg.rdma_msg_size = 65536;
	f->cfg.rdma_recv_bufs = 64;
	f->cfg.rdma_send_bufs = 32;
	return fixture_open(f);
}

RIOV_TEST(peer_set_distinct_sorted)
{
	struct svc_fixture f;
	static const char *const blue[] = { "10.0.0.3", "10.0.0.2" };
	static const char *const red[] = { "10.0.0.10", "10.0.0.3", "9.0.0.1" };
	uint32_t out[8];

	CHECK_EQ(open_rdma(&f, ""), 0);
	CHECK_EQ(add_net(&f, "blue", 100, blue, 2), 0);
	CHECK_EQ(add_net(&f, "red", 200, red, 3), 0);
	CHECK_EQ(add_net(&f, "plain", 0, NULL, 0), 0);
	unsigned n = svc_rdma_peer_set(f.dp, 0, out, 8);
	CHECK_EQ(n, 4);
	CHECK(out[0] == ip4("9.0.0.1") && out[1] == ip4("10.0.0.2") && out[2] == ip4("10.0.0.3") &&
	      out[3] == ip4("10.0.0.10"));
	/* this node's address is no peer; a short array keeps the lowest */
	n = svc_rdma_peer_set(f.dp, ip4("10.0.0.2"), out, 8);
	CHECK_EQ(n, 3);
	CHECK(out[0] == ip4("9.0.0.1") && out[1] == ip4("10.0.0.3"));
	n = svc_rdma_peer_set(f.dp, 0, out, 2);
	CHECK_EQ(n, 2);
	CHECK(out[0] == ip4("9.0.0.1") && out[1] == ip4("10.0.0.2"));
	/* no rdma_device: no context, no links, whatever the uplinks */
	CHECK_EQ(add_uplink(&f, "up0", "10.0.0.1/24"), 0);
	CHECK_EQ(rdma_double.ctx_creates, 0);
	CHECK_EQ(rdma_double_links(), 0);
	char tr[16], st[16];
	CHECK(listed(&f, "blue", "10.0.0.2", tr, st, NULL));
	CHECK(strcmp(tr, "vxlan") == 0 && strcmp(st, "") == 0);
	fixture_close(&f);
}

RIOV_TEST(links_follow_vteps_and_uplink)
{
	struct svc_fixture f;
	static const char *const blue[] = { "10.0.0.2", "10.0.0.3" };
	static const char *const red[] = { "10.0.0.3" };
	char tr[16], st[16];

	CHECK_EQ(open_rdma(&f, "rxe0"), 0);
	CHECK_EQ(add_net(&f, "blue", 100, blue, 2), 0);
	CHECK_EQ(add_net(&f, "red", 200, red, 1), 0);
	/* no uplink, no VTEP address: nothing yet */
	CHECK_EQ(rdma_double.ctx_creates, 0);
	CHECK_EQ(rdma_double_links(), 0);
	CHECK_EQ(add_uplink(&f, "up0", "10.0.0.1/24"), 0);
	CHECK_EQ(rdma_double.ctx_creates, 1);
	CHECK_EQ(rdma_double.ctx_ip, ip4("10.0.0.1"));
	CHECK_EQ(rdma_double.ctx_port, 7471);
	CHECK_EQ(rdma_double.ctx_recv_bufs, 64);
	CHECK_EQ(rdma_double.ctx_send_bufs, 32);
	CHECK_EQ(rdma_double_links(), 2);   /* 10.0.0.3 is in two networks: one link */
	CHECK(rdma_double_attached(ip4("10.0.0.2")) && rdma_double_attached(ip4("10.0.0.3")));
	/* a second uplink changes nothing */
	CHECK_EQ(add_uplink(&f, "up1", "10.1.0.1/24"), 0);
	CHECK_EQ(rdma_double.ctx_creates, 1);
	CHECK_EQ(rdma_double.link_creates, 2);

	/* transport and state as the link has them */
	rdma_double.state = RIOV_RDMA_LINK_CONNECTING;
	CHECK(listed(&f, "blue", "10.0.0.2", tr, st, NULL));
	CHECK(strcmp(tr, "vxlan") == 0 && strcmp(st, "connecting") == 0);
	rdma_double.state = RIOV_RDMA_LINK_UP;
	rdma_double.stats.tx_msgs = 7;
	rdma_double.stats.rx_msgs = 3;
	rdma_double.stats.established = 2;
	rdma_double.stats.drops[0] = 1;
	rdma_double.dp_stats.tx_frames = 70;
	rdma_double.dp_stats.rx_frames = 30;
	rdma_double.dp_stats.fallback = 5;
	rdma_double.dp_stats.unknown_vni = 4;
	Riov__V1__VtepInfo v;
	CHECK(listed(&f, "red", "10.0.0.3", tr, st, &v));
	CHECK(strcmp(tr, "rdma") == 0 && strcmp(st, "up") == 0);
	CHECK_EQ(v.rdma_tx_frames, 70);
	CHECK_EQ(v.rdma_rx_frames, 30);
	CHECK_EQ(v.rdma_tx_msgs, 7);
	CHECK_EQ(v.rdma_rx_msgs, 3);
	CHECK_EQ(v.rdma_fallback, 5);
	CHECK_EQ(v.rdma_established, 2);
	CHECK_EQ(v.rdma_dropped, 5);        /* the link's cause 0 and unknown_vni */
	CHECK_EQ(v.evpn_macs, 4);           /* (unknown_vni by cause, see listed()) */

	/* metrics */
	struct evbuffer *eb = evbuffer_new();
	svc_rdma_metrics(eb, f.svc);
	evbuffer_add(eb, "", 1);
	const char *text = (const char *)evbuffer_pullup(eb, -1);
	CHECK(strstr(text, "riov_rdma_link_up{peer=\"10.0.0.2\"} 1") != NULL);
	CHECK(strstr(text, "riov_rdma_link_state{peer=\"10.0.0.3\",state=\"up\"} 1") != NULL);
	CHECK(strstr(text, "riov_rdma_frames_total{peer=\"10.0.0.3\",direction=\"tx\"} 70") != NULL);
	CHECK(strstr(text, "riov_rdma_fallback_total{peer=\"10.0.0.2\"} 5") != NULL);
	CHECK(strstr(text, "riov_rdma_drops_total{peer=\"10.0.0.2\",cause=\"unknown_vni\"} 4") != NULL);
	evbuffer_free(eb);

	/* a new address gets a link; one shared with another network keeps its link */
	CHECK_EQ(vtep(&f, "Network.AddVtep", "red", "10.0.0.4"), 0);
	CHECK_EQ(rdma_double_links(), 3);
	CHECK_EQ(vtep(&f, "Network.DeleteVtep", "blue", "10.0.0.3"), 0);
	CHECK_EQ(rdma_double_links(), 3);
	CHECK(rdma_double_attached(ip4("10.0.0.3")));
	CHECK_EQ(vtep(&f, "Network.DeleteVtep", "red", "10.0.0.3"), 0);
	CHECK_EQ(rdma_double_links(), 2);
	CHECK(!rdma_double_attached(ip4("10.0.0.3")));
	CHECK_EQ(rdma_double.misuse, 0);    /* withdrawn from the dataplane before destroyed */
	CHECK(listed(&f, "blue", "10.0.0.2", tr, st, NULL));

	/* the first uplink goes: the second's address is the VTEP address now */
	CHECK_EQ(delete_port(&f, "up0"), 0);
	CHECK_EQ(rdma_double.ctx_destroys, 1);
	CHECK_EQ(rdma_double.ctx_creates, 2);
	CHECK_EQ(rdma_double.ctx_ip, ip4("10.1.0.1"));
	CHECK_EQ(rdma_double_links(), 2);
	/* the last one goes: no links, no context, VXLAN only */
	CHECK_EQ(delete_port(&f, "up1"), 0);
	CHECK_EQ(rdma_double.ctx_destroys, 2);
	CHECK_EQ(rdma_double_links(), 0);
	CHECK(listed(&f, "blue", "10.0.0.2", tr, st, NULL));
	CHECK(strcmp(tr, "vxlan") == 0 && strcmp(st, "") == 0);
	CHECK_EQ(rdma_double.misuse, 0);

	/* a restart from the state file comes back to the same links */
	CHECK_EQ(add_uplink(&f, "up0", "10.0.0.1/24"), 0);
	CHECK_EQ(rdma_double_links(), 2);
	fixture_stop(&f);
	CHECK_EQ(rdma_double_links(), 0);
	/* riovd stops: librdmacm's device contexts closed once, after the context (misuse: before) */
	CHECK_EQ(rdma_double.device_releases, 1);
	CHECK_EQ(rdma_double.misuse, 0);
	unsigned made = rdma_double.link_creates;
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(rdma_double_links(), 2);
	CHECK_EQ(rdma_double.link_creates, made + 2);
	fixture_close(&f);
	CHECK_EQ(rdma_double_links(), 0);
	CHECK_EQ(rdma_double.misuse, 0);
}

RIOV_TEST(failures_logged_and_retried)
{
	struct svc_fixture f;
	static const char *const blue[] = { "10.0.0.2", "10.0.0.3" };
	char tr[16], st[16];

	CHECK_EQ(open_rdma(&f, "rxe0"), 0);
	CHECK_EQ(add_net(&f, "blue", 100, blue, 2), 0);
	rdma_double.ctx_create_rc = -ENODEV;   /* the address is on no RDMA device */
	CHECK_EQ(add_uplink(&f, "up0", "10.0.0.1/24"), 0);   /* riovd goes on: VXLAN */
	CHECK_EQ(rdma_double.ctx_creates, 1);
	CHECK_EQ(rdma_double_links(), 0);
	CHECK(listed(&f, "blue", "10.0.0.2", tr, st, NULL));
	CHECK(strcmp(tr, "vxlan") == 0 && strcmp(st, "") == 0);
	/* the next sync tries again */
	rdma_double.ctx_create_rc = 0;
	svc_rdma_sync(f.svc);
	CHECK_EQ(rdma_double.ctx_creates, 2);
	CHECK_EQ(rdma_double_links(), 2);
	/* a link that cannot be made, or given to a worker: that peer goes by VXLAN, the others not */
	rdma_double.link_create_rc = -ENOMEM;
	CHECK_EQ(vtep(&f, "Network.AddVtep", "blue", "10.0.0.4"), 0);
	CHECK_EQ(rdma_double_links(), 2);
	rdma_double.link_create_rc = 0;
	rdma_double.attach_rc = -ENOMEM;
	svc_rdma_sync(f.svc);
	CHECK_EQ(rdma_double_links(), 2);    /* made, not attached: destroyed again */
	CHECK_EQ(rdma_double.misuse, 0);
	rdma_double.attach_rc = 0;
	svc_rdma_sync(f.svc);
	CHECK_EQ(rdma_double_links(), 3);
	CHECK(rdma_double_attached(ip4("10.0.0.4")));
	fixture_close(&f);
	CHECK_EQ(rdma_double_links(), 0);
	CHECK_EQ(rdma_double.misuse, 0);
}

/* The device goes away (`rdma link delete`, a hot-unplugged NIC): the context and every link on it
 * are destroyed (the kernel waits for that), the peers go by VXLAN, and the links come back when a
 * device has the address again. */
RIOV_TEST(device_removed_and_back)
{
	struct svc_fixture f;
	static const char *const blue[] = { "10.0.0.2", "10.0.0.3" };
	char tr[16], st[16];

	CHECK_EQ(open_rdma(&f, "rxe0"), 0);
	CHECK_EQ(add_net(&f, "blue", 100, blue, 2), 0);
	CHECK_EQ(add_uplink(&f, "up0", "10.0.0.1/24"), 0);
	CHECK_EQ(rdma_double.ctx_creates, 1);
	CHECK_EQ(rdma_double_links(), 2);
	rdma_double.ctx_removed = true;
	rdma_double.ctx_create_rc = -ENODEV;   /* no device has the address now */
	svc_rdma_sync(f.svc);
	CHECK_EQ(rdma_double.ctx_destroys, 1);
	CHECK_EQ(rdma_double_links(), 0);
	CHECK_EQ(rdma_double.ctx_creates, 2);  /* tried again at once, and at every sync */
	CHECK_EQ(rdma_double.device_syncs, 1); /* librdmacm told to let the device go */
	CHECK(listed(&f, "blue", "10.0.0.2", tr, st, NULL));
	CHECK(strcmp(tr, "vxlan") == 0 && strcmp(st, "") == 0);
	rdma_double.ctx_removed = false;
	rdma_double.ctx_create_rc = 0;
	svc_rdma_sync(f.svc);
	CHECK_EQ(rdma_double.ctx_creates, 3);
	CHECK_EQ(rdma_double.device_syncs, 2);
	CHECK_EQ(rdma_double_links(), 2);
	svc_rdma_sync(f.svc);
	CHECK_EQ(rdma_double.device_syncs, 2); /* a context again: no more */
	CHECK(rdma_double_attached(ip4("10.0.0.3")));
	fixture_close(&f);
	CHECK_EQ(rdma_double_links(), 0);
	CHECK_EQ(rdma_double.misuse, 0);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(peer_set_distinct_sorted), RIOV_TEST_ENTRY(links_follow_vteps_and_uplink),
	       RIOV_TEST_ENTRY(failures_logged_and_retried), RIOV_TEST_ENTRY(device_removed_and_back))
