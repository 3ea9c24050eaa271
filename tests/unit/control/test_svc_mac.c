/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Networks' MAC tables in the control plane (control/svc_mac.c) on the dataplane double
 * (dp_double.h): static MACs behind remote VTEPs and on local ports (Network.AddMac/DeleteMac,
 * NetworkSpec.macs), the table's listing (Network.ListMacs: learned and static entries, pending
 * ones), what the state file and the configuration file keep of them, a deleted VTEP taking its
 * static MACs with it, a deleted port leaving its static MACs pending until it is back, the
 * aging timer and its sweeps; hostile values refused with a sentence, nothing kept, never a
 * crash.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "fabric_double.h"
#include "riov_test.h"
#include "svc_fixture.h"

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0x0a }, MAC_B[6] = { 0x02, 0, 0, 0, 0, 0x0b };
static const uint8_t MAC_C[6] = { 0x02, 0, 0, 0, 0, 0x0c }, GUEST[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };

static bool msg_is(const struct svc_call *t, const char *want)
{
	if (strcmp(t->msg, want) == 0)
		return true;
	fprintf(stderr, "  message '%s'\n  wanted  '%s'\n", t->msg, want);
	return false;
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int add_net(struct svc_fixture *f, struct svc_call *t, const Riov__V1__NetworkSpec *spec)
{
	Riov__V1__NetworkAddRequest req = RIOV__V1__NETWORK_ADD_REQUEST__INIT;

	req.network = (Riov__V1__NetworkSpec *)spec;
	return svc_call(f, t, "Network.Add", &req);
}

/* Network.Add of name with vni and the VTEPs given (NULL-terminated). */
static int add_net_end(struct svc_fixture *f, const char *name, uint32_t vni, const char *const *vteps)
{
	Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;
	struct svc_call t;

	spec.name = (char *)name;
	spec.vni = vni;
	spec.vteps = (char **)vteps;
	while (vteps != NULL && vteps[spec.n_vteps] != NULL)
		spec.n_vteps++;
	int rc = add_net(f, &t, &spec);
	if (rc != 0)
		fprintf(stderr, "  Network.Add %s: %s\n", name, t.msg);
	svc_call_end(&t);
	return rc;
}

static int mac_call(struct svc_fixture *f, struct svc_call *t, const char *method, const char *net,
		    const char *mac, const char *vtep, const char *port)
{
	Riov__V1__NetworkMacRequest req = RIOV__V1__NETWORK_MAC_REQUEST__INIT;

	req.net = (char *)net;
	req.mac = (char *)mac;
	req.vtep = (char *)vtep;
	req.port = (char *)port;
	return svc_call(f, t, method, &req);
}

static int mac_end(struct svc_fixture *f, const char *method, const char *net, const char *mac,
		   const char *vtep, const char *port)
{
	struct svc_call t;
	int rc = mac_call(f, &t, method, net, mac, vtep, port);
	if (rc != 0)
		fprintf(stderr, "  %s %s %s: %s\n", method, net, mac, t.msg);
	svc_call_end(&t);
	return rc;
}

static int add_port(struct svc_fixture *f, const char *name, Riov__V1__PortType type, const char *net)
{
	Riov__V1__PortAddRequest req = RIOV__V1__PORT_ADD_REQUEST__INIT;
	Riov__V1__PortSpec ps;
	struct svc_call t;

	riov__v1__port_spec__init(&ps);
	ps.name = (char *)name;
	ps.type = type;
	ps.net = (char *)net;
	if (type == RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST)
		ps.socket_path = "vm.sock";
	else
		ps.devargs = "net_null0";
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

/* Whether the double's table has mac in net on port, static or not as said (port NULL: not there). */
static bool in_table(struct svc_fixture *f, const char *net, const uint8_t mac[6], const char *port,
		     bool is_static)
{
	char have[RIOV_DP_NAME_MAX] = "";
	bool st = false, there = dp_double_mac(f->dp, net, mac, have, sizeof(have), &st);

	if (port == NULL ? !there : there && strcmp(have, port) == 0 && st == is_static)
		return true;
	fprintf(stderr, "  %02x:..:%02x in %s: %s%s%s, wanted %s%s\n", mac[0], mac[5], net,
		there ? (st ? "static on " : "learned on ") : "not there", have, "", port ? port : "not there",
		port ? (is_static ? " (static)" : " (learned)") : "");
	return false;
}

/* The static MACs the state file holds for network name ((size_t)-1: no such network). */
static size_t saved_macs(struct svc_fixture *f, const char *name)
{
	Riov__V1__ConfigShowRequest req = RIOV__V1__CONFIG_SHOW_REQUEST__INIT;
	struct svc_call t;
	size_t n = (size_t)-1;

	req.saved = true;
	if (svc_call(f, &t, "Config.Show", &req) == 0) {
		const Riov__V1__State *st = ((Riov__V1__ConfigShowResponse *)t.resp)->state;
		for (size_t i = 0; st != NULL && i < st->n_networks; i++)
			if (strcmp(st->networks[i]->name, name) == 0)
				n = st->networks[i]->n_macs;
	}
	svc_call_end(&t);
	return n;
}

/* Network.ListMacs of net; its answer in t until svc_call_end(). */
static const Riov__V1__NetworkListMacsResponse *list_macs(struct svc_fixture *f, struct svc_call *t,
							  const char *net)
{
	Riov__V1__NetworkListMacsRequest req = RIOV__V1__NETWORK_LIST_MACS_REQUEST__INIT;

	req.net = (char *)net;
	if (svc_call(f, t, "Network.ListMacs", &req) != 0)
		return NULL;
	return (const void *)t->resp;
}

static const char *const BLUE_VTEPS[] = { "10.0.0.2", "10.0.0.3", NULL };

/* ------------------------------------------------------------------ Network.ListMacs' pages */

/* Network.ListMacs of net, a page of size entries after token; its answer in t until svc_call_end(). */
static const Riov__V1__NetworkListMacsResponse *list_page(struct svc_fixture *f, struct svc_call *t,
							  const char *net, uint32_t size, const char *token)
{
	Riov__V1__NetworkListMacsRequest req = RIOV__V1__NETWORK_LIST_MACS_REQUEST__INIT;

	req.net = (char *)net;
	req.page_size = size;
	req.page_token = (char *)token;
	if (svc_call(f, t, "Network.ListMacs", &req) != 0)
		return NULL;
	return (const void *)t->resp;
}

/* What a listing saw, in its order. */
struct listing {
	struct { char mac[18], port[RIOV_DP_NAME_MAX]; bool pending; } *e;
	size_t n, cap;
	unsigned pages, last_total;
	bool broken;           /* a call failed, a page was too long, or an entry came twice or back */
};

static void listing_free(struct listing *l)
{
	free(l->e);
	*l = (struct listing){ 0 };
}

/* Whether entry x comes strictly after the last one listed (the order pages promise). */
static bool listing_add(struct listing *l, const Riov__V1__MacEntry *x)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		void *e = realloc(l->e, cap * sizeof(*l->e));
		if (e == NULL)
			return false;
		l->e = e;
		l->cap = cap;
	}
	if (l->n > 0) {
		int c = strcmp(l->e[l->n - 1].mac, x->mac);
		if (c > 0 || (c == 0 && strcmp(l->e[l->n - 1].port, x->port) >= 0)) {
			fprintf(stderr, "  %s %s after %s %s: out of order or twice\n", x->mac, x->port,
				l->e[l->n - 1].mac, l->e[l->n - 1].port);
			return false;
		}
	}
	snprintf(l->e[l->n].mac, sizeof(l->e[l->n].mac), "%s", x->mac);
	snprintf(l->e[l->n].port, sizeof(l->e[l->n].port), "%s", x->port);
	l->e[l->n++].pending = x->pending;
	return true;
}

/* Every page of net's table, size entries a page; between pages (after page k, from 1) the test
 * changes the table with between(f, k, arg) when given. */
static void list_all(struct svc_fixture *f, const char *net, uint32_t size, struct listing *l,
		     void (*between)(struct svc_fixture *f, unsigned k, void *arg), void *arg)
{
	char token[512] = "";
	const uint32_t want = size == 0 ? MAC_PAGE_DEFAULT : size > MAC_PAGE_MAX ? MAC_PAGE_MAX : size;

	do {
		struct svc_call t;
		const Riov__V1__NetworkListMacsResponse *r = list_page(f, &t, net, size, token);
		if (r == NULL || r->n_macs > want || strlen(r->next_page_token) >= sizeof(token) ||
		    (r->n_macs == 0 && r->next_page_token[0] != '\0')) {
			fprintf(stderr, "  page %u of %s: %s\n", l->pages + 1, net,
				r == NULL ? t.msg : "bad page");
			l->broken = true;
			svc_call_end(&t);
			return;
		}
		for (size_t k = 0; k < r->n_macs && !l->broken; k++)
			l->broken = !listing_add(l, r->macs[k]);
		/* a page that is not the last is full */
		if (r->next_page_token[0] != '\0' && r->n_macs != want) {
			fprintf(stderr, "  page %u: %zu entries and a next page\n", l->pages + 1, r->n_macs);
			l->broken = true;
		}
		snprintf(token, sizeof(token), "%s", r->next_page_token);
		l->last_total = r->total;
		l->pages++;
		svc_call_end(&t);
		if (between != NULL && token[0] != '\0')
			between(f, l->pages, arg);
	} while (token[0] != '\0' && !l->broken && l->pages < 100000);
}

static bool listed(const struct listing *l, const uint8_t mac[6], const char *port)
{
	char text[18];

	riov_mac_text(mac, text);
	for (size_t k = 0; k < l->n; k++)
		if (strcmp(l->e[k].mac, text) == 0 && strcmp(l->e[k].port, port) == 0)
			return true;
	return false;
}

/* blue_with_entries()'s learned entries, local and remote; two addresses learned between pages */
static const uint8_t L1[6] = { 0x52, 0x54, 0, 0, 0, 1 }, R1[6] = { 0x02, 0, 0, 0, 0x01, 0 };
static const uint8_t LOW[6] = { 0x02, 0, 0, 0, 0, 0x01 }, HIGH[6] = { 0xfe, 0, 0, 0, 0, 0x01 };

/* A network blue (VNI 100, VTEPs 10.0.0.2 and .3, port vm1) with a few entries of each kind:
 * static behind a VTEP, static on vm1, pending (on vm2, not there), learned local and remote. */
static int blue_with_entries(struct svc_fixture *f)
{
	if (add_net_end(f, "blue", 100, BLUE_VTEPS) != 0 ||
	    add_port(f, "vm1", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue") != 0 ||
	    add_port(f, "vm2", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue") != 0 ||
	    mac_end(f, "Network.AddMac", "blue", "02:00:00:00:00:0a", "10.0.0.2", NULL) != 0 ||
	    mac_end(f, "Network.AddMac", "blue", "02:00:00:00:00:0b", NULL, "vm1") != 0 ||
	    mac_end(f, "Network.AddMac", "blue", "02:00:00:00:00:0c", NULL, "vm2") != 0 ||
	    delete_port(f, "vm2") != 0 || /* 0c pending */
	    dp_double_learn(f->dp, "blue", L1, "vm1") != 0 ||
	    dp_double_learn(f->dp, "blue", R1, "blue@10.0.0.3") != 0)
		return -1;
	return 0;
}

/* 2,500 bulk entries and 5 of blue's own are listed in order, each once, whatever the page size;
 * page_size 0 is MAC_PAGE_DEFAULT, above MAC_PAGE_MAX it is MAC_PAGE_MAX. */
RIOV_TEST(list_macs_in_pages)
{
	static const uint32_t sizes[] = { 7, 100, 999, 2505, 2506, 0, MAC_PAGE_MAX, 1000000 };
	struct svc_fixture f = { 0 };
	struct listing ref = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(blue_with_entries(&f), 0);
	dp_double.bulk_macs = 2500;
	snprintf(dp_double.bulk_net, sizeof(dp_double.bulk_net), "blue");
	snprintf(dp_double.bulk_port, sizeof(dp_double.bulk_port), "vm1");
	dp_double.bulk_type = RIOV_DP_PORT_VHOST;

	/* one page of them all is the reference */
	const Riov__V1__NetworkListMacsResponse *r = list_page(&f, &t, "blue", MAC_PAGE_MAX, NULL);
	CHECK(r != NULL && r->n_macs == 2505 && r->total == 2505 && r->next_page_token[0] == '\0');
	for (size_t k = 0; r != NULL && k < r->n_macs; k++)
		CHECK(listing_add(&ref, r->macs[k]));
	svc_call_end(&t);
	CHECK_EQ(ref.n, 2505);
	for (unsigned j = 0; j < 2500; j++) {
		uint8_t m[6];
		dp_double_bulk_mac(j, m);
		if (!listed(&ref, m, "vm1")) {
			CHECK(listed(&ref, m, "vm1"));
			break;
		}
	}
	CHECK(listed(&ref, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x0c }, "vm2"));

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct listing l = { 0 };
		const uint32_t eff = sizes[i] == 0 ? MAC_PAGE_DEFAULT : sizes[i] > MAC_PAGE_MAX ? MAC_PAGE_MAX
												: sizes[i];
		list_all(&f, "blue", sizes[i], &l, NULL, NULL);
		CHECK(!l.broken);
		CHECK_EQ(l.n, ref.n);
		CHECK_EQ(l.pages, (ref.n + eff - 1) / eff);
		CHECK_EQ(l.last_total, 2505);
		bool same = l.n == ref.n;
		for (size_t k = 0; same && k < l.n; k++)
			same = strcmp(l.e[k].mac, ref.e[k].mac) == 0 &&
			       strcmp(l.e[k].port, ref.e[k].port) == 0 && l.e[k].pending == ref.e[k].pending;
		if (!same)
			fprintf(stderr, "  page size %u: not the reference listing\n", sizes[i]);
		CHECK(same);
		listing_free(&l);
	}

	/* a page an entry: blue's own */
	dp_double.bulk_macs = 0;
	struct listing one = { 0 };
	list_all(&f, "blue", 1, &one, NULL, NULL);
	CHECK(!one.broken && one.n == 5 && one.pages == 5 && one.last_total == 5);
	for (size_t k = 0; k < one.n && k < ref.n; k++)
		CHECK(strcmp(one.e[k].mac, ref.e[k < 4 ? k : ref.n - 1].mac) == 0);
	listing_free(&one);
	dp_double.bulk_macs = 2500;

	/* the first page of the default size, and a capped one */
	CHECK((r = list_page(&f, &t, "blue", 0, NULL)) != NULL && r->n_macs == MAC_PAGE_DEFAULT &&
	      r->next_page_token[0] != '\0' && r->total == 2505);
	svc_call_end(&t);
	dp_double.bulk_macs = 20000;
	CHECK((r = list_page(&f, &t, "blue", UINT32_MAX, NULL)) != NULL && r->n_macs == MAC_PAGE_MAX &&
	      r->next_page_token[0] != '\0' && r->total == 20005);
	svc_call_end(&t);
	/* an empty table: one empty page */
	CHECK_EQ(add_net_end(&f, "red", 0, NULL), 0);
	CHECK((r = list_page(&f, &t, "red", 0, NULL)) != NULL && r->n_macs == 0 && r->total == 0 &&
	      r->next_page_token[0] == '\0');
	svc_call_end(&t);
	listing_free(&ref);
	fixture_close(&f);
}

/* Between two pages the table changes (learning, aging, EVPN): an entry that stays is listed once,
 * one that comes after the page already listed is listed, none twice, the order kept. */
struct churn {
	unsigned sizes[8];     /* bulk entries after page k (1..8): the first n of dp_double_bulk_mac() */
	unsigned least;        /* the fewest there were at any time */
	bool learned_ok;
};

static void churn_between(struct svc_fixture *f, unsigned k, void *arg)
{
	struct churn *c = arg;

	dp_double.bulk_macs = c->sizes[(k - 1) % 8];
	if (dp_double.bulk_macs < c->least)
		c->least = dp_double.bulk_macs;
	/* learning and aging among blue's own: one before the page made (not listed), one after it */
	if (k == 1) {
		c->learned_ok = dp_double_learn(f->dp, "blue", LOW, "vm1") == 0 &&
				dp_double_learn(f->dp, "blue", HIGH, "vm1") == 0 &&
				riov_dp_mac_del(f->dp, "blue", L1) == 0;
	}
}

RIOV_TEST(list_macs_table_changes_between_pages)
{
	struct svc_fixture f = { 0 };
	struct churn c = { .sizes = { 2000, 3500, 1500, 3000, 3000, 2500, 4000, 1800 } };

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(blue_with_entries(&f), 0);
	dp_double.bulk_macs = c.least = 3000;
	snprintf(dp_double.bulk_net, sizeof(dp_double.bulk_net), "blue");
	snprintf(dp_double.bulk_port, sizeof(dp_double.bulk_port), "blue@10.0.0.3");
	dp_double.bulk_type = RIOV_DP_PORT_VTEP;
	dp_double.bulk_static = true;

	for (uint32_t size = 250; size <= 1000; size += 750) {
		struct listing l = { 0 };
		dp_double.bulk_macs = c.least = 3000;
		list_all(&f, "blue", size, &l, churn_between, &c);
		CHECK(!l.broken);
		CHECK(c.learned_ok);
		CHECK(l.pages > 2);
		/* the bulk entries there all along: each listed (once: the listing checked the order) */
		unsigned missing = 0;
		for (unsigned j = 0; j < c.least; j++) {
			uint8_t m[6];
			dp_double_bulk_mac(j, m);
			missing += !listed(&l, m, "blue@10.0.0.3");
		}
		CHECK_EQ(missing, 0);
		/* blue's own: the static ones and the pending one stayed; fe:.. came after the first
		 * page, 02:..:01 before it (not listed, no error); 52:54:.. went before its page */
		CHECK(listed(&l, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x0a }, "blue@10.0.0.2"));
		CHECK(listed(&l, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x0b }, "vm1"));
		CHECK(listed(&l, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x0c }, "vm2"));
		CHECK(listed(&l, HIGH, "vm1"));
		CHECK(!listed(&l, L1, "vm1"));
		listing_free(&l);
		/* back as it was for the next round */
		riov_dp_mac_del(f.dp, "blue", LOW);
		riov_dp_mac_del(f.dp, "blue", HIGH);
		CHECK_EQ(dp_double_learn(f.dp, "blue", L1, "vm1"), 0);
	}

	/* the entry a token names is gone: the next page starts after where it was */
	struct svc_call t;
	dp_double.bulk_macs = 0;
	const Riov__V1__NetworkListMacsResponse *r = list_page(&f, &t, "blue", 2, NULL);
	CHECK(r != NULL && r->n_macs == 2 && strcmp(r->macs[1]->mac, "02:00:00:00:00:0b") == 0);
	char token[512];
	snprintf(token, sizeof(token), "%s", r != NULL ? r->next_page_token : "");
	svc_call_end(&t);
	CHECK_EQ(mac_end(&f, "Network.DeleteMac", "blue", "02:00:00:00:00:0b", NULL, NULL), 0);
	r = list_page(&f, &t, "blue", 2, token);
	CHECK(r != NULL && r->n_macs == 2 && strcmp(r->macs[0]->mac, "02:00:00:00:00:0c") == 0 &&
	      r->macs[0]->pending && strcmp(r->macs[1]->mac, "02:00:00:00:01:00") == 0 && r->total == 4);
	svc_call_end(&t);
	fixture_close(&f);
}

/* A page_token Network.ListMacs did not make, or made for another network: INVALID_ARGUMENT with
 * a sentence, never a crash. */
RIOV_TEST(list_macs_bad_tokens)
{
	static const char *const bad[] = {
		"x", "0", "zz", "01", "not a token at all",
		"0", /* replaced below by a valid one less its last digit */
		"0", /* ... a valid one with a digit more */
		"0", /* ... with version 2 */
		"0", /* ... in upper case */
		"0", /* ... its port a NUL */
		"0", /* ... its port a space */
		"0", /* ... its port too long */
		"0", /* ... a non-hex digit inside */
		"0", /* ... its MAC and no port byte but half of one */
	};
	char made[16][400];
	struct svc_fixture f = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(blue_with_entries(&f), 0);
	CHECK_EQ(add_net_end(&f, "red", 0, NULL), 0);
	CHECK_EQ(add_port(&f, "vm9", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "red"), 0);
	CHECK_EQ(dp_double_learn(f.dp, "red", MAC_A, "vm9"), 0);
	CHECK_EQ(dp_double_learn(f.dp, "red", MAC_B, "vm9"), 0);

	const Riov__V1__NetworkListMacsResponse *r = list_page(&f, &t, "blue", 1, NULL);
	CHECK(r != NULL && r->n_macs == 1 && r->next_page_token[0] != '\0');
	char good[400];
	snprintf(good, sizeof(good), "%s", r != NULL ? r->next_page_token : "");
	svc_call_end(&t);
	const size_t n = strlen(good);
	CHECK(n > 22 && n < sizeof(made[0]) - 200);
	const char *tok[sizeof(bad) / sizeof(bad[0])];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(made[i], sizeof(made[i]), "%s", good);
		tok[i] = made[i];
	}
	tok[0] = bad[0], tok[1] = bad[1], tok[2] = bad[2], tok[3] = bad[3], tok[4] = bad[4];
	made[5][n - 1] = '\0';
	strcat(made[6], "0");
	made[7][1] = '2';
	for (char *c = made[8]; *c; c++)
		*c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
	snprintf(made[9] + 22, sizeof(made[9]) - 22, "00");
	snprintf(made[10] + 22, sizeof(made[10]) - 22, "20");
	snprintf(made[11] + 22, sizeof(made[11]) - 22, "%s", "");
	for (int k = 0; k < 64; k++)
		strcat(made[11], "61");
	made[12][n / 2 * 2 - 3] = 'g';
	snprintf(made[13] + 22, sizeof(made[13]) - 22, "6");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (list_page(&f, &t, "blue", 1, tok[i]) != NULL || t.rc != -EINVAL ||
		    !starts(t.msg, "network blue: page_token '") ||
		    strstr(t.msg, "is not one Network.ListMacs gave: pass next_page_token back unchanged, "
				  "or none for the first page") == NULL) {
			fprintf(stderr, "  token %zu '%s': rc %d, '%s'\n", i, tok[i], t.rc, t.msg);
			riov_test_failures++;
		}
		svc_call_end(&t);
	}
	CHECK(riov_rpc_status_from_errno(-EINVAL) == RIOV__V1__STATUS__INVALID_ARGUMENT);
	/* a good one still is, and another network's is refused */
	CHECK((r = list_page(&f, &t, "blue", 1, good)) != NULL && r->n_macs == 1);
	svc_call_end(&t);
	CHECK(list_page(&f, &t, "red", 1, good) == NULL && t.rc == -EINVAL);
	CHECK(msg_is(&t, "network red: page_token is another network's: list each network with its own "
			 "tokens, or start again without one"));
	svc_call_end(&t);
	/* an unknown network is NOT_FOUND before its token is looked at */
	CHECK(list_page(&f, &t, "nope", 1, "garbage") == NULL && t.rc == -ENOENT);
	svc_call_end(&t);
	fixture_close(&f);
}

/* A frame of the RPC server (rpc_dispatch, as for a connection) with Network.ListMacs of net: its
 * status, its body's length in *frame_len, the answer in *out (free_unpacked) when OK. */
static int wire_list(struct svc_fixture *f, const char *net, uint32_t size, const char *token,
		     size_t *frame_len, Riov__V1__NetworkListMacsResponse **out)
{
	Riov__V1__NetworkListMacsRequest req = RIOV__V1__NETWORK_LIST_MACS_REQUEST__INIT;
	Riov__V1__Frame fr = RIOV__V1__FRAME__INIT;
	uint8_t buf[1024];
	int status = -1;

	*out = NULL;
	req.net = (char *)net;
	req.page_size = size;
	req.page_token = (char *)token;
	if (riov__v1__network_list_macs_request__get_packed_size(&req) > sizeof(buf))
		return -1;
	fr.request_id = 7;
	fr.method = "Network.ListMacs";
	fr.payload.data = buf;
	fr.payload.len = riov__v1__network_list_macs_request__pack(&req, buf);
	struct evbuffer *ev = evbuffer_new();
	if (ev == NULL)
		return -1;
	rpc_dispatch(f->rpc, NULL, RIOV_ROLE_READONLY, "unit test", &fr, ev);
	size_t len = evbuffer_get_length(ev);
	const uint8_t *p = evbuffer_pullup(ev, -1);
	if (len >= 4 && p != NULL) {
		*frame_len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		Riov__V1__Frame *a = *frame_len == len - 4 ? riov__v1__frame__unpack(NULL, len - 4, p + 4)
							    : NULL;
		if (a != NULL) {
			status = a->status;
			if (status != RIOV__V1__STATUS__OK)
				fprintf(stderr, "  ListMacs %s: %s\n", net, a->message);
			else
				*out = riov__v1__network_list_macs_response__unpack(NULL, a->payload.len,
										     a->payload.data);
			riov__v1__frame__free_unpacked(a, NULL);
		}
	}
	evbuffer_free(ev);
	return status;
}

/* The table of a network full of EVPN MACs behind VTEPs of the longest names a port has: listed
 * whole through the RPC server, a frame a page (one answer was RESOURCE_EXHAUSTED past about
 * 15,000 entries); the largest page fits the server's largest frame. */
RIOV_TEST(list_macs_big_table_over_rpc)
{
	struct svc_fixture f = { 0 };
	Riov__V1__NetworkListMacsResponse *r;
	char token[512] = "";
	size_t len = 0, seen = 0, biggest = 0;
	unsigned pages = 0;
	bool ordered = true;
	char last[18] = "";

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(blue_with_entries(&f), 0);
	dp_double.bulk_macs = 30000;
	snprintf(dp_double.bulk_net, sizeof(dp_double.bulk_net), "blue");
	/* a VTEP's port "<net>@<address>" as long as a name is (RIOV_DP_NAME_MAX - 1) */
	memset(dp_double.bulk_port, 'b', RIOV_DP_NAME_MAX - 1);
	memcpy(dp_double.bulk_port + RIOV_DP_NAME_MAX - 1 - 16, "@255.255.255.255", 16);
	dp_double.bulk_type = RIOV_DP_PORT_VTEP;
	dp_double.bulk_static = true;
	CHECK_EQ(strlen(dp_double.bulk_port), RIOV_DP_NAME_MAX - 1);

	do {
		int status = wire_list(&f, "blue", 0, token, &len, &r);
		CHECK_EQ(status, RIOV__V1__STATUS__OK);
		if (status != RIOV__V1__STATUS__OK || r == NULL)
			break;
		CHECK(len <= RIOV_FRAME_MAX_DEFAULT);
		for (size_t k = 0; k < r->n_macs; k++) {
			ordered &= strcmp(last, r->macs[k]->mac) < 0;
			snprintf(last, sizeof(last), "%s", r->macs[k]->mac);
		}
		seen += r->n_macs;
		snprintf(token, sizeof(token), "%s", r->next_page_token);
		riov__v1__network_list_macs_response__free_unpacked(r, NULL);
		pages++;
	} while (token[0] != '\0' && pages < 1000);
	CHECK(ordered); /* one entry per address here */
	CHECK_EQ(seen, 30005);
	CHECK_EQ(pages, (30005 + MAC_PAGE_DEFAULT - 1) / MAC_PAGE_DEFAULT);

	/* the largest page, every entry as long as this table has them */
	CHECK_EQ(wire_list(&f, "blue", MAC_PAGE_MAX, "", &len, &r), RIOV__V1__STATUS__OK);
	CHECK(r != NULL && r->n_macs == MAC_PAGE_MAX && !r->macs[MAC_PAGE_MAX - 1]->learned &&
	      strcmp(r->macs[MAC_PAGE_MAX - 1]->vtep, "255.255.255.255") == 0);
	biggest = len;
	if (r != NULL)
		riov__v1__network_list_macs_response__free_unpacked(r, NULL);
	CHECK(biggest <= RIOV_FRAME_MAX_DEFAULT);
	fprintf(stderr, "  the largest page: %zu bytes of %u\n", biggest, RIOV_FRAME_MAX_DEFAULT);
	fixture_close(&f);
}

RIOV_TEST(static_mac_behind_vtep)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "blue", 100, BLUE_VTEPS), 0);
	uint64_t g = f.svc->generation;

	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0A", "10.0.0.2", NULL), 0);
	const Riov__V1__NetworkMacResponse *r = (const void *)t.resp;
	CHECK(r != NULL && r->network != NULL && r->network->spec->n_macs == 1 &&
	      strcmp(r->network->spec->macs[0]->mac, "02:00:00:00:00:0a") == 0 &&
	      strcmp(r->network->spec->macs[0]->vtep, "10.0.0.2") == 0 &&
	      strcmp(r->network->spec->macs[0]->port, "") == 0);
	svc_call_end(&t);
	CHECK(in_table(&f, "blue", MAC_A, "blue@10.0.0.2", true));
	CHECK_EQ(f.svc->generation, g + 1);
	CHECK_EQ(saved_macs(&f, "blue"), 1);

	/* the same again: nothing to do, nothing written */
	unsigned adds = dp_double.mac_add;
	CHECK_EQ(mac_end(&f, "Network.AddMac", "blue", "02:00:00:00:00:0a", "10.0.0.2", NULL), 0);
	CHECK_EQ(f.svc->generation, g + 1);
	CHECK_EQ(dp_double.mac_add, adds);
	/* somewhere else: delete it first */
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0a", "10.0.0.3", NULL), -EEXIST);
	CHECK(msg_is(&t, "network blue has static MAC 02:00:00:00:00:0a on VTEP 10.0.0.2 already: delete "
			 "it first (riovctl net mac del blue 02:00:00:00:00:0a)"));
	svc_call_end(&t);
	CHECK(in_table(&f, "blue", MAC_A, "blue@10.0.0.2", true));

	/* learning does not move it (the double keeps the rule); the listing shows both kinds */
	CHECK_EQ(add_port(&f, "vm1", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue"), 0);
	CHECK_EQ(dp_double_learn(f.dp, "blue", MAC_A, "vm1"), 0);
	CHECK(in_table(&f, "blue", MAC_A, "blue@10.0.0.2", true));
	CHECK_EQ(dp_double_learn(f.dp, "blue", GUEST, "vm1"), 0);
	CHECK_EQ(dp_double_learn(f.dp, "blue", MAC_B, "blue@10.0.0.3"), 0);
	const Riov__V1__NetworkListMacsResponse *l = list_macs(&f, &t, "blue");
	CHECK(l != NULL && l->n_macs == 3);
	if (l != NULL && l->n_macs == 3) {
		/* sorted by address */
		CHECK(strcmp(l->macs[0]->mac, "02:00:00:00:00:0a") == 0 && !l->macs[0]->learned &&
		      l->macs[0]->remote && !l->macs[0]->local && strcmp(l->macs[0]->vtep, "10.0.0.2") == 0 &&
		      strcmp(l->macs[0]->port, "blue@10.0.0.2") == 0 && !l->macs[0]->pending);
		CHECK(strcmp(l->macs[1]->mac, "02:00:00:00:00:0b") == 0 && l->macs[1]->learned &&
		      l->macs[1]->remote && strcmp(l->macs[1]->vtep, "10.0.0.3") == 0);
		CHECK(strcmp(l->macs[2]->mac, "52:54:00:12:34:56") == 0 && l->macs[2]->learned &&
		      l->macs[2]->local && !l->macs[2]->remote && strcmp(l->macs[2]->port, "vm1") == 0 &&
		      strcmp(l->macs[2]->vtep, "") == 0);
	}
	svc_call_end(&t);

	/* deleted: from the state and the table; again: not there */
	CHECK_EQ(mac_call(&f, &t, "Network.DeleteMac", "blue", "02:00:00:00:00:0a", NULL, NULL), 0);
	r = (const void *)t.resp;
	CHECK(r != NULL && r->network != NULL && r->network->spec->n_macs == 0);
	svc_call_end(&t);
	CHECK(in_table(&f, "blue", MAC_A, NULL, false));
	CHECK_EQ(saved_macs(&f, "blue"), 0);
	CHECK_EQ(mac_call(&f, &t, "Network.DeleteMac", "blue", "02:00:00:00:00:0a", NULL, NULL), -ENOENT);
	CHECK(msg_is(&t, "network blue has no static MAC 02:00:00:00:00:0a (learned ones age out by "
			 "themselves)"));
	svc_call_end(&t);
	/* a learned entry is not a static MAC to delete */
	CHECK_EQ(mac_call(&f, &t, "Network.DeleteMac", "blue", "02:00:00:00:00:0b", NULL, NULL), -ENOENT);
	svc_call_end(&t);
	CHECK(in_table(&f, "blue", MAC_B, "blue@10.0.0.3", false));
	fixture_close(&f);
}

/* MACs and places no static MAC can have: refused with a sentence, nothing kept or written. */
RIOV_TEST(static_mac_refusals)
{
	static const char *const bad_macs[] = {
		"", "02:00:00:00:00", "02:00:00:00:00:0a:0b", "02-00-00-00-00-0a", "0200.0000.000a",
		"02:00:00:00:00:0g", "2:0:0:0:0:a", " 02:00:00:00:00:0a", "02:00:00:00:00:0a ",
		"02:00:00:00:00:0a\n", "02::00:00:00:00:0a", "%s%n%s%n%s%n", "0x0200000000000a",
		"02:00:00:00:00:-1",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct svc_fixture f = { 0 };
	struct svc_call t;
	char want[256];

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "blue", 100, BLUE_VTEPS), 0);
	CHECK_EQ(add_net_end(&f, "red", 0, NULL), 0);
	CHECK_EQ(add_port(&f, "vm1", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue"), 0);
	CHECK_EQ(add_port(&f, "vm9", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "red"), 0);
	const uint64_t g = f.svc->generation;
	const size_t n_nets = f.svc->n_nets;

	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "nope", "02:00:00:00:00:0a", "10.0.0.2", NULL), -ENOENT);
	CHECK(msg_is(&t, "network nope does not exist"));
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", NULL, NULL, NULL, NULL), -ENOENT);
	CHECK(msg_is(&t, "network (no network given) does not exist"));
	svc_call_end(&t);
	for (size_t i = 0; i < sizeof(bad_macs) / sizeof(bad_macs[0]); i++) {
		snprintf(want, sizeof(want), "network blue: '%.40s' is not a MAC address (02:00:00:00:00:01)",
			 bad_macs[i]);
		CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", bad_macs[i], "10.0.0.2", NULL), -EINVAL);
		CHECK(msg_is(&t, want));
		svc_call_end(&t);
		CHECK_EQ(mac_call(&f, &t, "Network.DeleteMac", "blue", bad_macs[i], NULL, NULL), -EINVAL);
		CHECK(msg_is(&t, want));
		svc_call_end(&t);
	}
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", NULL, "10.0.0.2", NULL), -EINVAL);
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "01:00:5e:00:00:01", "10.0.0.2", NULL), -EINVAL);
	CHECK(msg_is(&t, "network blue: 01:00:5e:00:00:01 is a multicast address: only a unicast address "
			 "can be a static MAC"));
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "FF:FF:FF:FF:FF:FF", NULL, "vm1"), -EINVAL);
	CHECK(msg_is(&t, "network blue: FF:FF:FF:FF:FF:FF is a multicast address: only a unicast address "
			 "can be a static MAC"));
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "00:00:00:00:00:00", "10.0.0.2", NULL), -EINVAL);
	CHECK(msg_is(&t, "network blue: 00:00:00:00:00:00 is all zeros: only a unicast address can be a "
			 "static MAC"));
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0a", NULL, NULL), -EINVAL);
	CHECK(msg_is(&t, "network blue: static MAC 02:00:00:00:00:0a goes behind a remote VTEP or on a local "
			 "port: give one of them (--vtep A.B.C.D or --port NAME)"));
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0a", "10.0.0.2", "vm1"), -EINVAL);
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0a", "10.0.0.9", NULL), -ENOENT);
	CHECK(msg_is(&t, "network blue has no VTEP 10.0.0.9: add it first (riovctl net vtep add blue "
			 "10.0.0.9)"));
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "red", "02:00:00:00:00:0a", "10.0.0.2", NULL), -ENOENT);
	CHECK(msg_is(&t, "network red has no VTEP 10.0.0.2: add it first (riovctl net vtep add red "
			 "10.0.0.2)"));
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0a", "10.0.0.02", NULL), -EINVAL);
	CHECK(msg_is(&t, "network blue: static MAC 02:00:00:00:00:0a: VTEP '10.0.0.02' is not an IPv4 "
			 "address (a.b.c.d)"));
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0a", NULL, "vm2"), -ENOENT);
	CHECK(msg_is(&t, "network blue has no port vm2"));
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0a", NULL, "vm9"), -ENOENT);
	CHECK(msg_is(&t, "network blue has no port vm9")); /* red's */
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0a", NULL, "blue@10.0.0.2"),
		 -EINVAL);
	CHECK(msg_is(&t, "network blue: static MAC 02:00:00:00:00:0a: 'blue@10.0.0.2' is not the name of a "
			 "local port (a remote VTEP is given by its address)"));
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0a", NULL, "../../x"), -EINVAL);
	svc_call_end(&t);
	/* the dataplane has no room: the 8 slots of its window are static */
	dp_double.mac_add_rc = -ENOSPC;
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0a", "10.0.0.2", NULL), -ENOSPC);
	CHECK(msg_is(&t, "network blue: no room for static MAC 02:00:00:00:00:0a: the slots of the MAC "
			 "table it can take hold static MACs already (delete one of those, or use another "
			 "address)"));
	svc_call_end(&t);
	dp_double.mac_add_rc = 0;
	/* nothing was kept */
	CHECK_EQ(f.svc->generation, g);
	CHECK_EQ(f.svc->n_nets, n_nets);
	CHECK_EQ(f.svc->nets[svc_net_index(f.svc, "blue")]->n_macs, 0);
	CHECK(in_table(&f, "blue", MAC_A, NULL, false));
	CHECK_EQ(mac_call(&f, &t, "Network.DeleteMac", "nope", "02:00:00:00:00:0a", NULL, NULL), -ENOENT);
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.DeleteMac", "blue", NULL, NULL, NULL), -EINVAL);
	svc_call_end(&t);
	const Riov__V1__NetworkListMacsResponse *l = list_macs(&f, &t, "nope");
	CHECK(l == NULL && t.rc == -ENOENT);
	CHECK(msg_is(&t, "network nope does not exist"));
	svc_call_end(&t);
	l = list_macs(&f, &t, NULL);
	CHECK(l == NULL && t.rc == -ENOENT);
	svc_call_end(&t);
	fixture_close(&f);
}

/* At most MACS_MAX static MACs a network, each once; Network.Add checks its spec's like AddMac. */
RIOV_TEST(static_mac_limits_and_network_add)
{
	static Riov__V1__StaticMac sm[MACS_MAX + 1];
	static Riov__V1__StaticMac *smp[MACS_MAX + 1];
	static char text[MACS_MAX + 1][18];
	Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;
	struct svc_fixture f = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	for (unsigned i = 0; i <= MACS_MAX; i++) {
		riov__v1__static_mac__init(&sm[i]);
		snprintf(text[i], sizeof(text[i]), "02:00:00:00:%02x:%02x", i >> 8, i & 0xff);
		sm[i].mac = text[i];
		sm[i].port = "vm1"; /* not there yet: pending, no table slot */
		smp[i] = &sm[i];
	}
	static const char *const one_vtep[] = { "10.0.0.2", NULL };
	spec.name = "blue";
	spec.vni = 100;
	spec.vteps = (char **)one_vtep;
	spec.n_vteps = 1;
	spec.macs = smp;
	spec.n_macs = MACS_MAX + 1;
	CHECK_EQ(add_net(&f, &t, &spec), -E2BIG);
	CHECK(msg_is(&t, "network blue: 1025 static MACs is too many (at most 1024)"));
	svc_call_end(&t);
	CHECK(!dp_double_has_net(f.dp, "blue"));
	spec.n_macs = MACS_MAX;
	CHECK_EQ(add_net(&f, &t, &spec), 0);
	svc_call_end(&t);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:ff:ff", "10.0.0.2", NULL), -ENOSPC);
	CHECK(msg_is(&t, "network blue has 1024 static MACs, the most it can have"));
	svc_call_end(&t);
	/* one of them again is no new one */
	CHECK_EQ(mac_end(&f, "Network.AddMac", "blue", "02:00:00:00:00:07", NULL, "vm1"), -ENOENT);
	CHECK_EQ(saved_macs(&f, "blue"), MACS_MAX);
	fixture_close(&f);

	/* Network.Add's own static MACs: checked like AddMac's, all or nothing */
	CHECK_EQ(fixture_open(&f), 0);
	spec = (Riov__V1__NetworkSpec)RIOV__V1__NETWORK_SPEC__INIT;
	spec.name = "blue";
	spec.vni = 100;
	spec.vteps = (char **)one_vtep;
	spec.n_vteps = 1;
	spec.macs = smp;
	riov__v1__static_mac__init(&sm[0]);
	sm[0].mac = "02:00:00:00:00:0a";
	sm[0].vtep = "10.0.0.2";
	riov__v1__static_mac__init(&sm[1]);
	sm[1].mac = "02:00:00:00:00:0A";
	sm[1].port = "vm1";
	spec.n_macs = 2;
	CHECK_EQ(add_net(&f, &t, &spec), -EINVAL);
	CHECK(msg_is(&t, "network blue: static MAC 02:00:00:00:00:0A is listed twice"));
	svc_call_end(&t);
	sm[1].mac = "02:00:00:00:00:0b";
	sm[1].port = NULL;
	sm[1].vtep = "10.0.0.3";
	CHECK_EQ(add_net(&f, &t, &spec), -ENOENT);
	CHECK(msg_is(&t, "network blue has no VTEP 10.0.0.3: add it first (riovctl net vtep add blue "
			 "10.0.0.3)"));
	svc_call_end(&t);
	sm[1].vtep = NULL;
	sm[1].mac = "33:33:00:00:00:01";
	sm[1].port = "vm1";
	CHECK_EQ(add_net(&f, &t, &spec), -EINVAL);
	CHECK(starts(t.msg, "network blue: 33:33:00:00:00:01 is a multicast address"));
	svc_call_end(&t);
	sm[1].mac = "02:00:00:00:00:0b";
	sm[1].port = "";
	CHECK_EQ(add_net(&f, &t, &spec), -EINVAL);
	svc_call_end(&t);
	sm[1].port = "vm1";
	/* the dataplane refuses: the whole network goes, its VNI and VTEP with it */
	dp_double.mac_add_rc = -ENOSPC;
	CHECK_EQ(add_net(&f, &t, &spec), -ENOSPC);
	svc_call_end(&t);
	dp_double.mac_add_rc = 0;
	CHECK(!dp_double_has_net(f.dp, "blue") && !dp_double_has_port(f.dp, "blue@10.0.0.2"));
	CHECK_EQ(f.svc->n_nets, 0);
	CHECK_EQ(add_net(&f, &t, &spec), 0);
	const Riov__V1__NetworkAddResponse *r = (const void *)t.resp;
	CHECK(r != NULL && r->network->spec->n_macs == 2);
	svc_call_end(&t);
	CHECK(in_table(&f, "blue", MAC_A, "blue@10.0.0.2", true));
	CHECK(in_table(&f, "blue", MAC_B, NULL, false)); /* vm1 is not there: pending */
	const Riov__V1__NetworkListMacsResponse *l = list_macs(&f, &t, "blue");
	CHECK(l != NULL && l->n_macs == 2 && !l->macs[0]->pending && l->macs[1]->pending &&
	      strcmp(l->macs[1]->port, "vm1") == 0 && !l->macs[1]->learned && !l->macs[1]->remote);
	svc_call_end(&t);
	CHECK_EQ(add_port(&f, "vm1", RIOV__V1__PORT_TYPE__PORT_TYPE_ETH, "blue"), 0);
	CHECK(in_table(&f, "blue", MAC_B, "vm1", true));
	fixture_close(&f);
}

/* A change that cannot be written is not kept: an add is undone, a delete too. */
RIOV_TEST(static_mac_saved_or_undone)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "blue", 100, BLUE_VTEPS), 0);
	CHECK_EQ(mac_end(&f, "Network.AddMac", "blue", "02:00:00:00:00:0a", "10.0.0.2", NULL), 0);
	fixture_state_writable(&f, false);
	CHECK_EQ(mac_call(&f, &t, "Network.AddMac", "blue", "02:00:00:00:00:0b", "10.0.0.3", NULL), -EISDIR);
	CHECK(starts(t.msg, "static MAC 02:00:00:00:00:0b was not added to network blue: the state file "
			    "could not be written"));
	svc_call_end(&t);
	CHECK(in_table(&f, "blue", MAC_B, NULL, false));
	CHECK_EQ(mac_call(&f, &t, "Network.DeleteMac", "blue", "02:00:00:00:00:0a", NULL, NULL), -EISDIR);
	CHECK(starts(t.msg, "static MAC 02:00:00:00:00:0a was not deleted from network blue: the state "
			    "file could not be written"));
	svc_call_end(&t);
	CHECK(in_table(&f, "blue", MAC_A, "blue@10.0.0.2", true));
	CHECK_EQ(f.svc->nets[0]->n_macs, 1);
	fixture_state_writable(&f, true);
	CHECK_EQ(saved_macs(&f, "blue"), 1);
	fixture_close(&f);
}

/* A VTEP's static MACs go with it; a local port's stay in the spec while it is gone (pending) and
 * come back with it; a restart restores both. */
RIOV_TEST(static_mac_follows_its_vtep_and_port)
{
	struct svc_fixture f = { 0 };
	struct svc_call t;

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(add_net_end(&f, "blue", 100, BLUE_VTEPS), 0);
	CHECK_EQ(add_port(&f, "vm1", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue"), 0);
	CHECK_EQ(mac_end(&f, "Network.AddMac", "blue", "02:00:00:00:00:0a", "10.0.0.2", NULL), 0);
	CHECK_EQ(mac_end(&f, "Network.AddMac", "blue", "02:00:00:00:00:0b", "10.0.0.2", NULL), 0);
	CHECK_EQ(mac_end(&f, "Network.AddMac", "blue", "02:00:00:00:00:0c", "10.0.0.3", NULL), 0);
	CHECK_EQ(mac_end(&f, "Network.AddMac", "blue", "52:54:00:12:34:56", NULL, "vm1"), 0);
	CHECK(in_table(&f, "blue", GUEST, "vm1", true));

	/* a restart: the state file brings every one back, the port's once the port is back */
	fixture_stop(&f);
	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(f.svc->restore_failed, 0);
	CHECK(in_table(&f, "blue", MAC_A, "blue@10.0.0.2", true));
	CHECK(in_table(&f, "blue", MAC_C, "blue@10.0.0.3", true));
	CHECK(in_table(&f, "blue", GUEST, "vm1", true));

	/* the VTEP goes with its two */
	Riov__V1__NetworkVtepRequest vr = RIOV__V1__NETWORK_VTEP_REQUEST__INIT;
	vr.net = "blue";
	vr.address = "10.0.0.2";
	CHECK_EQ(svc_call(&f, &t, "Network.DeleteVtep", &vr), 0);
	const Riov__V1__NetworkVtepResponse *vt = (const void *)t.resp;
	CHECK(vt != NULL && vt->network->spec->n_macs == 2 && vt->network->spec->n_vteps == 1);
	svc_call_end(&t);
	CHECK(in_table(&f, "blue", MAC_A, NULL, false));
	CHECK(in_table(&f, "blue", MAC_B, NULL, false));
	CHECK(in_table(&f, "blue", MAC_C, "blue@10.0.0.3", true));
	CHECK_EQ(saved_macs(&f, "blue"), 2);
	/* the VTEP back: no static MAC comes with it */
	vr.address = "10.0.0.2";
	CHECK_EQ(svc_call(&f, &t, "Network.AddVtep", &vr), 0);
	svc_call_end(&t);
	CHECK(in_table(&f, "blue", MAC_A, NULL, false));

	/* the port goes: its static MAC stays, pending */
	CHECK_EQ(delete_port(&f, "vm1"), 0);
	CHECK(in_table(&f, "blue", GUEST, NULL, false));
	CHECK_EQ(saved_macs(&f, "blue"), 2);
	const Riov__V1__NetworkListMacsResponse *l = list_macs(&f, &t, "blue");
	CHECK(l != NULL && l->n_macs == 2 && strcmp(l->macs[1]->mac, "52:54:00:12:34:56") == 0 &&
	      l->macs[1]->pending && !l->macs[1]->learned);
	svc_call_end(&t);
	/* it can be deleted while pending */
	CHECK_EQ(mac_end(&f, "Network.DeleteMac", "blue", "52:54:00:12:34:56", NULL, NULL), 0);
	CHECK_EQ(mac_end(&f, "Network.AddMac", "blue", "52:54:00:12:34:56", NULL, "vm1"), -ENOENT);
	/* a port of that name in another network does not take it */
	CHECK_EQ(add_port(&f, "vm1", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue"), 0);
	CHECK_EQ(mac_end(&f, "Network.AddMac", "blue", "52:54:00:12:34:56", NULL, "vm1"), 0);
	CHECK_EQ(delete_port(&f, "vm1"), 0);
	CHECK_EQ(add_net_end(&f, "red", 0, NULL), 0);
	CHECK_EQ(add_port(&f, "vm1", RIOV__V1__PORT_TYPE__PORT_TYPE_ETH, "red"), 0);
	CHECK(in_table(&f, "blue", GUEST, NULL, false));
	CHECK(in_table(&f, "red", GUEST, NULL, false));
	CHECK_EQ(delete_port(&f, "vm1"), 0);
	/* back in blue: back in the table */
	CHECK_EQ(add_port(&f, "vm1", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue"), 0);
	CHECK(in_table(&f, "blue", GUEST, "vm1", true));
	/* Network.Delete takes them all */
	CHECK_EQ(delete_port(&f, "vm1"), 0);
	Riov__V1__NetworkDeleteRequest dr = RIOV__V1__NETWORK_DELETE_REQUEST__INIT;
	dr.name = "blue";
	CHECK_EQ(svc_call(&f, &t, "Network.Delete", &dr), 0);
	svc_call_end(&t);
	CHECK_EQ(saved_macs(&f, "blue"), (size_t)-1);
	CHECK(!dp_double_mac(f.dp, "blue", MAC_C, NULL, 0, NULL));
	fixture_close(&f);
}

/* The configuration file's static MACs are applied at the first start. */
RIOV_TEST(config_file_macs)
{
	struct svc_fixture f = { 0 };
	char err[512] = "";

	fabric_double_reset();
	CHECK_EQ(riov_config_parse("networks = ( { name = \"blue\"; vni = 100; vteps = [ \"10.0.0.2\" ];\n"
				   "  macs = [ \"02:00:00:00:00:0A@10.0.0.2\", \"52:54:00:12:34:56@vm1\" ]; } );\n"
				   "ports = ( { name = \"vm1\"; type = \"vhost\"; net = \"blue\"; socket = \"vm.sock\"; } );\n",
				   "t.conf", &f.cfg, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ(fixture_open(&f), 0);
	CHECK(in_table(&f, "blue", MAC_A, "blue@10.0.0.2", true));
	CHECK(in_table(&f, "blue", GUEST, "vm1", true));
	CHECK_EQ(saved_macs(&f, "blue"), 2);
	const Riov__V1__NetworkSpec *ns = f.svc->nets[0];
	CHECK(ns->n_macs == 2 && strcmp(ns->macs[0]->vtep, "10.0.0.2") == 0 && strcmp(ns->macs[0]->port, "") == 0 &&
	      strcmp(ns->macs[1]->port, "vm1") == 0 && strcmp(ns->macs[1]->vtep, "") == 0);
	fixture_close(&f);
	riov_config_free(&f.cfg);
}

static char *metrics_text(struct riov_service *svc)
{
	struct evbuffer *b = evbuffer_new();
	svc_prometheus_collect(b, svc);
	size_t n = evbuffer_get_length(b);
	char *text = malloc(n + 1);
	if (text != NULL) {
		evbuffer_remove(b, text, n);
		text[n] = '\0';
	}
	evbuffer_free(b);
	return text;
}

/* Learned entries age out at the third sweep without a frame (the double ages like the dataplane),
 * static ones never; riovd's timer runs every mac_aging_s / 2 seconds; 0 turns aging off. */
RIOV_TEST(aging_sweeps)
{
	struct svc_fixture f = { 0 };

	fabric_double_reset();
	CHECK_EQ(fixture_open(&f), 0);
	CHECK(f.svc->mac_age_ev == NULL); /* no event loop: no timer */
	CHECK_EQ(add_net_end(&f, "blue", 100, BLUE_VTEPS), 0);
	CHECK_EQ(add_port(&f, "vm1", RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST, "blue"), 0);
	CHECK_EQ(mac_end(&f, "Network.AddMac", "blue", "02:00:00:00:00:0a", "10.0.0.2", NULL), 0);
	CHECK_EQ(dp_double_learn(f.dp, "blue", GUEST, "vm1"), 0);
	CHECK_EQ(dp_double_learn(f.dp, "blue", MAC_B, "blue@10.0.0.3"), 0);
	svc_mac_age(f.svc);
	svc_mac_age(f.svc);
	CHECK(in_table(&f, "blue", GUEST, "vm1", false));
	svc_mac_age(f.svc);
	CHECK(in_table(&f, "blue", GUEST, NULL, false));
	CHECK(in_table(&f, "blue", MAC_B, NULL, false));
	CHECK(in_table(&f, "blue", MAC_A, "blue@10.0.0.2", true));
	CHECK_EQ(dp_double.mac_age, 3);
	CHECK_EQ(f.svc->macs_aged, 2);
	char *text = metrics_text(f.svc);
	CHECK(text != NULL && strstr(text, "# TYPE riov_macs_aged_total counter\nriov_macs_aged_total 2\n") != NULL);
	free(text);
	fixture_close(&f);

	/* with an event loop: a timer every mac_aging_s / 2 */
	f = (struct svc_fixture){ 0 };
	f.base = event_base_new();
	CHECK(f.base != NULL);
	f.cfg.mac_aging_s = 301;
	CHECK_EQ(fixture_open(&f), 0);
	CHECK(f.svc->mac_age_ev != NULL);
	struct timeval due, now;
	CHECK(event_pending(f.svc->mac_age_ev, EV_TIMEOUT, &due));
	evutil_gettimeofday(&now, NULL);
	long ms = (long)(due.tv_sec - now.tv_sec) * 1000 + (due.tv_usec - now.tv_usec) / 1000;
	if (!(ms > 150500 - 2000 && ms <= 150600)) {
		fprintf(stderr, "  the first sweep is %ld ms away, wanted 150500\n", ms);
		riov_test_failures++;
	}
	fixture_close(&f);
	CHECK(f.svc == NULL);
	f.cfg.mac_aging_s = 0; /* off */
	CHECK_EQ(fixture_open(&f), 0);
	CHECK(f.svc->mac_age_ev == NULL);
	fixture_close(&f);
	event_base_free(f.base);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(static_mac_behind_vtep), RIOV_TEST_ENTRY(static_mac_refusals),
	       RIOV_TEST_ENTRY(static_mac_limits_and_network_add), RIOV_TEST_ENTRY(static_mac_saved_or_undone),
	       RIOV_TEST_ENTRY(static_mac_follows_its_vtep_and_port), RIOV_TEST_ENTRY(config_file_macs),
	       RIOV_TEST_ENTRY(aging_sweeps), RIOV_TEST_ENTRY(list_macs_in_pages),
	       RIOV_TEST_ENTRY(list_macs_table_changes_between_pages), RIOV_TEST_ENTRY(list_macs_bad_tokens),
	       RIOV_TEST_ENTRY(list_macs_big_table_over_rpc))
