/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Network's MAC tables: static MACs (NetworkSpec.macs, Network.AddMac/DeleteMac), what a
 * table holds (Network.ListMacs) and the aging of learned entries (a timer every mac_aging_s / 2
 * seconds that calls riov_dp_mac_age(): an entry goes between 1 and 1.5 times mac_aging_s after
 * the last frame from its address).
 *
 * A static MAC sends the frames to its address to one remote VTEP of its network or to one local
 * port of it (vhost or eth), whatever learning sees. One behind a VTEP goes with the VTEP
 * (Network.DeleteVtep takes it out of the spec, svc_fabric.c). One on a local port stays in the
 * spec when the port is deleted (the dataplane forgets the entry with the port: Network.ListMacs
 * shows it pending) and is put in again when a port of that name is added to the network; that
 * is also how the state file's come back at start, networks being restored before ports.
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h), from the configuration file and from the state file; their
 * content is untrusted: MACs are parsed strictly (riov_mac_parse) and must be unicast and not all
 * zeros, a VTEP must be one of the network's, a port a valid name (for AddMac a port of the
 * network), a network has at most MACS_MAX static MACs, each once, and strings are printed with a
 * bound. The dataplane never evicts a static entry for another: a full probe window is an error.
 *
 * Thread rules: control thread only (the aging timer runs on the event loop).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "control/config.h"
#include "control/service_internal.h"

RIOV_LOG_COMPONENT("riovd", RIOV_LOG_INFO);

static void ip_text(uint32_t ip, char out[INET_ADDRSTRLEN])
{
	if (inet_ntop(AF_INET, &ip, out, INET_ADDRSTRLEN) == NULL)
		snprintf(out, INET_ADDRSTRLEN, "?");
}

/* ------------------------------------------------------------------ aging */

static void on_mac_age(evutil_socket_t fd, short what, void *arg)
{
	svc_mac_age(arg);
}

void svc_mac_age(struct riov_service *svc)
{
	unsigned n = riov_dp_mac_age(svc->dp);

	svc->macs_aged += n;
	if (n)
		RIOV_LOG(RIOV_LOG_DEBUG, "%u learned MAC(s) aged out", n);
}

void svc_mac_aging_start(struct riov_service *svc)
{
	const unsigned aging = svc->cfg->mac_aging_s;
	/* every aging / 2: an entry goes at the third sweep without a frame (dataplane/dp.h) */
	struct timeval tv = { .tv_sec = aging / 2, .tv_usec = (aging % 2) * 500000 };

	if (svc->base == NULL)
		return; /* unit tests: they sweep with svc_mac_age() */
	if (aging == 0) {
		RIOV_LOG(RIOV_LOG_NOTICE, "mac_aging_s = 0: learned MACs never age out");
		return;
	}
	svc->mac_age_ev = event_new(svc->base, -1, EV_PERSIST, on_mac_age, svc);
	if (svc->mac_age_ev == NULL || event_add(svc->mac_age_ev, &tv) != 0) {
		RIOV_LOG(RIOV_LOG_WARN, "no aging timer (out of memory): learned MACs will not age out");
		svc_mac_aging_stop(svc);
	}
}

void svc_mac_aging_stop(struct riov_service *svc)
{
	if (svc->mac_age_ev != NULL)
		event_free(svc->mac_age_ev);
	svc->mac_age_ev = NULL;
}

/* ------------------------------------------------------------------ static MACs */

/* Index of mac among spec's static MACs, or -1 (entries that do not parse match nothing). */
static int spec_mac_index(const Riov__V1__NetworkSpec *spec, const uint8_t mac[6])
{
	for (size_t k = 0; k < spec->n_macs; k++) {
		uint8_t m[6];
		if (spec->macs[k] != NULL && riov_mac_parse(spec->macs[k]->mac, m) == 0 &&
		    memcmp(m, mac, 6) == 0)
			return (int)k;
	}
	return -1;
}

/* Static MAC sm of network net (in spec): its address into mac, its place checked: a VTEP of spec
 * or a port name. Returns 0 or -errno with err filled. */
static int mac_check(const char *net, const Riov__V1__NetworkSpec *spec, const Riov__V1__StaticMac *sm,
		     uint8_t mac[6], char *err, size_t errlen)
{
	const char *text = sm != NULL ? str_or_empty(sm->mac) : "";
	const char *vtep = sm != NULL ? str_or_empty(sm->vtep) : "";
	const char *port = sm != NULL ? str_or_empty(sm->port) : "";
	uint32_t ip;

	if (riov_mac_parse(text, mac) != 0) {
		snprintf(err, errlen, "network %s: '%.40s' is not a MAC address (02:00:00:00:00:01)", net,
			 text);
		return -EINVAL;
	}
	if (!riov_mac_unicast(mac)) {
		snprintf(err, errlen, "network %s: %s is %s: only a unicast address can be a static MAC",
			 net, text, mac[0] & 1 ? "a multicast address" : "all zeros");
		return -EINVAL;
	}
	if ((vtep[0] != '\0') == (port[0] != '\0')) {
		snprintf(err, errlen, "network %s: static MAC %s goes behind a remote VTEP or on a local "
			 "port: give one of them (--vtep A.B.C.D or --port NAME)", net, text);
		return -EINVAL;
	}
	if (vtep[0] != '\0') {
		if (riov_ipv4_parse(vtep, &ip) != 0) {
			snprintf(err, errlen, "network %s: static MAC %s: VTEP '%.40s' is not an IPv4 "
				 "address (a.b.c.d)", net, text, vtep);
			return -EINVAL;
		}
		if (svc_spec_vtep_index(spec, ip) < 0) {
			char a[INET_ADDRSTRLEN];
			ip_text(ip, a);
			snprintf(err, errlen, "network %s has no VTEP %s: add it first (riovctl net vtep add "
				 "%s %s)", net, a, net, a);
			return -ENOENT;
		}
	} else if (!svc_valid_name(port)) {
		snprintf(err, errlen, "network %s: static MAC %s: '%.80s' is not the name of a local port "
			 "(a remote VTEP is given by its address)", net, text, port);
		return -EINVAL;
	}
	return 0;
}

int svc_net_macs_check(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err,
		       size_t errlen)
{
	const char *name = str_or_empty(in->name);
	uint8_t mac[MACS_MAX][6];

	if (in->n_macs > MACS_MAX) {
		snprintf(err, errlen, "network %s: %zu static MACs is too many (at most %u)", name,
			 in->n_macs, MACS_MAX);
		return -E2BIG;
	}
	for (size_t k = 0; k < in->n_macs; k++) {
		int rc = mac_check(name, in, in->macs[k], mac[k], err, errlen);
		if (rc != 0)
			return rc;
		for (size_t j = 0; j < k; j++) {
			if (memcmp(mac[j], mac[k], 6) == 0) {
				snprintf(err, errlen, "network %s: static MAC %s is listed twice", name,
					 in->macs[k]->mac);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* The dataplane port static MAC sm of network net goes to, into port; false when it is on a local
 * port that is not in the network now (pending). */
static bool mac_port(struct riov_service *svc, const char *net, const Riov__V1__StaticMac *sm, char *port,
		     size_t len)
{
	uint32_t ip;

	if (str_or_empty(sm->vtep)[0] != '\0') {
		if (riov_ipv4_parse(sm->vtep, &ip) != 0)
			return false;
		riov_dp_vtep_name(net, ip, port, len);
		return true;
	}
	int k = svc_port_index(svc, str_or_empty(sm->port));
	if (k < 0 || strcmp(str_or_empty(svc->ports[k]->net), net) != 0)
		return false;
	snprintf(port, len, "%s", sm->port);
	return true;
}

/* Static MAC sm (checked) of network net into the dataplane, unless its port is not there (then
 * nothing: it is pending). Returns 0 or -errno with err filled. */
static int mac_install(struct riov_service *svc, const char *net, const Riov__V1__StaticMac *sm, char *err,
		       size_t errlen)
{
	char port[RIOV_DP_NAME_MAX], text[RIOV_CFG_MAC];
	uint8_t mac[6];
	int rc;

	if (riov_mac_parse(sm->mac, mac) != 0) {
		snprintf(err, errlen, "network %s: '%.40s' is not a MAC address", net, str_or_empty(sm->mac));
		return -EINVAL;
	}
	if (!mac_port(svc, net, sm, port, sizeof(port)))
		return 0;
	riov_mac_text(mac, text);
	rc = riov_dp_mac_add(svc->dp, net, mac, port);
	if (rc == -ENOSPC)
		snprintf(err, errlen, "network %s: no room for static MAC %s: the slots of the MAC table it "
			 "can take hold static MACs already (delete one of those, or use another address)",
			 net, text);
	else if (rc != 0)
		snprintf(err, errlen, "network %s: static MAC %s on %s not set: %s", net, text, port,
			 strerror(-rc));
	return rc;
}

int svc_net_macs_apply(struct riov_service *svc, const Riov__V1__NetworkSpec *in, char *err,
		       size_t errlen)
{
	for (size_t k = 0; k < in->n_macs; k++) {
		int rc = mac_install(svc, in->name, in->macs[k], err, errlen);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void svc_port_macs_added(struct riov_service *svc, const Riov__V1__PortSpec *ps)
{
	int i = svc_net_index(svc, str_or_empty(ps->net));
	char why[256];

	for (size_t k = 0; i >= 0 && k < svc->nets[i]->n_macs; k++) {
		const Riov__V1__StaticMac *sm = svc->nets[i]->macs[k];
		if (strcmp(str_or_empty(sm->port), ps->name) != 0)
			continue;
		why[0] = '\0';
		if (mac_install(svc, svc->nets[i]->name, sm, why, sizeof(why)) != 0)
			RIOV_LOG(RIOV_LOG_ERR, "port %s: its static MAC is not in the MAC table: %s",
				 ps->name, why);
	}
}

/* ------------------------------------------------------------------ RPC */

/* A copy of spec (malloc'd, freed with free_unpacked) whose static MACs lack entry skip (-1: none)
 * and end with add (NULL: nothing added). */
static Riov__V1__NetworkSpec *spec_macs(const Riov__V1__NetworkSpec *spec, Riov__V1__StaticMac *add, int skip)
{
	Riov__V1__NetworkSpec tmp = *spec; /* shallow: packed and unpacked again below */
	Riov__V1__StaticMac **v = calloc(spec->n_macs + 1, sizeof(*v));
	size_t n = 0;

	if (v == NULL)
		return NULL;
	for (size_t k = 0; k < spec->n_macs; k++)
		if ((int)k != skip)
			v[n++] = spec->macs[k];
	if (add != NULL)
		v[n++] = add;
	tmp.macs = v;
	tmp.n_macs = n;
	Riov__V1__NetworkSpec *copy = svc_msg_dup(&tmp.base);
	free(v);
	return copy;
}

/* An AddMac or DeleteMac being kept: network i's spec replaced by spec (old kept for undo). */
struct mac_change {
	unsigned i;
	Riov__V1__NetworkSpec *old, *spec;
	uint8_t mac[6];
	bool installed;      /* AddMac: the dataplane has it (undo takes it out again) */
};

static void mac_change_undo(struct riov_service *svc, void *arg)
{
	struct mac_change *c = arg;

	if (c->installed)
		riov_dp_mac_del(svc->dp, c->old->name, c->mac);
	svc->nets[c->i] = c->old;
	riov__v1__network_spec__free_unpacked(c->spec, NULL);
}

/* The network a MAC request names, its address parsed into mac. Returns the network's index, or
 * -errno with msg filled. */
static int mac_request_net(struct riov_service *svc, const Riov__V1__NetworkMacRequest *req, uint8_t mac[6],
			   char *msg, size_t msglen)
{
	const char *net = str_or_empty(req->net), *text = str_or_empty(req->mac);
	int i = svc_net_index(svc, net);

	if (i < 0) {
		snprintf(msg, msglen, "network %.80s does not exist", net[0] ? net : "(no network given)");
		return -ENOENT;
	}
	if (riov_mac_parse(text, mac) != 0) {
		snprintf(msg, msglen, "network %s: '%.40s' is not a MAC address (02:00:00:00:00:01)", net,
			 text);
		return -EINVAL;
	}
	return i;
}

static int mac_answer(struct riov_rpc_call *call, struct riov_service *svc, unsigned i,
		      ProtobufCMessage **resp)
{
	Riov__V1__NetworkMacResponse *r = CALL_NEW(call, Riov__V1__NetworkMacResponse,
						   riov__v1__network_mac_response__init);

	if (r == NULL || (r->network = svc_net_info(call, svc, svc->nets[i])) == NULL)
		return -ENOMEM;
	*resp = &r->base;
	return 0;
}

/* Whether static MACs a and b go to the same place. */
static bool mac_same_place(const Riov__V1__StaticMac *a, const Riov__V1__StaticMac *b)
{
	uint32_t x, y;

	if (str_or_empty(a->vtep)[0] != '\0' || str_or_empty(b->vtep)[0] != '\0')
		return riov_ipv4_parse(a->vtep, &x) == 0 && riov_ipv4_parse(b->vtep, &y) == 0 && x == y;
	return strcmp(str_or_empty(a->port), str_or_empty(b->port)) == 0;
}

static const char *mac_place(const Riov__V1__StaticMac *sm, char *buf, size_t len)
{
	if (str_or_empty(sm->vtep)[0] != '\0')
		snprintf(buf, len, "VTEP %s", sm->vtep);
	else
		snprintf(buf, len, "port %s", str_or_empty(sm->port));
	return buf;
}

int svc_h_net_add_mac(struct riov_rpc_call *call, const ProtobufCMessage *reqm, ProtobufCMessage **resp,
		      char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__NetworkMacRequest *req = (const void *)reqm;
	Riov__V1__StaticMac sm = RIOV__V1__STATIC_MAC__INIT;
	char text[RIOV_CFG_MAC], a[INET_ADDRSTRLEN], place[96], had[96];
	uint8_t mac[6];
	uint32_t ip;
	int i, k, rc;

	if ((i = mac_request_net(svc, req, mac, msg, msglen)) < 0)
		return i;
	Riov__V1__NetworkSpec *old = svc->nets[i];
	sm.mac = (char *)str_or_empty(req->mac);
	sm.vtep = (char *)str_or_empty(req->vtep);
	sm.port = (char *)str_or_empty(req->port);
	if ((rc = mac_check(old->name, old, &sm, mac, msg, msglen)) != 0)
		return rc;
	/* kept as the answers print them */
	riov_mac_text(mac, text);
	sm.mac = text;
	if (sm.vtep[0] != '\0' && riov_ipv4_parse(sm.vtep, &ip) == 0) {
		ip_text(ip, a);
		sm.vtep = a;
	} else if ((k = svc_port_index(svc, sm.port)) < 0 ||
		   strcmp(str_or_empty(svc->ports[k]->net), old->name) != 0) {
		snprintf(msg, msglen, "network %s has no port %.80s", old->name, sm.port);
		return -ENOENT;
	}
	mac_place(&sm, place, sizeof(place));
	if ((k = spec_mac_index(old, mac)) >= 0) {
		if (mac_same_place(old->macs[k], &sm))
			return mac_answer(call, svc, (unsigned)i, resp); /* as asked already */
		snprintf(msg, msglen, "network %s has static MAC %s on %s already: delete it first "
			 "(riovctl net mac del %s %s)", old->name, text,
			 mac_place(old->macs[k], had, sizeof(had)), old->name, text);
		return -EEXIST;
	}
	if (old->n_macs >= MACS_MAX) {
		snprintf(msg, msglen, "network %s has %u static MACs, the most it can have", old->name,
			 MACS_MAX);
		return -ENOSPC;
	}
	struct mac_change c = { .i = (unsigned)i, .old = old, .installed = true };
	memcpy(c.mac, mac, 6);
	if ((c.spec = spec_macs(old, &sm, -1)) == NULL) {
		snprintf(msg, msglen, "network %s: out of memory", old->name);
		return -ENOMEM;
	}
	if ((rc = mac_install(svc, old->name, &sm, msg, msglen)) != 0) {
		riov__v1__network_spec__free_unpacked(c.spec, NULL);
		return rc;
	}
	svc->nets[i] = c.spec;
	rc = svc_save_or_undo(svc, mac_change_undo, &c, msg, msglen,
			      "static MAC %s was not added to network %s", text, old->name);
	if (rc != 0)
		return rc;
	RIOV_LOG(RIOV_LOG_NOTICE, "network %s: static MAC %s on %s added by %s", c.spec->name, text, place,
		 riov_rpc_call_peer(call));
	riov__v1__network_spec__free_unpacked(old, NULL);
	return mac_answer(call, svc, (unsigned)i, resp);
}

int svc_h_net_delete_mac(struct riov_rpc_call *call, const ProtobufCMessage *reqm, ProtobufCMessage **resp,
			 char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__NetworkMacRequest *req = (const void *)reqm;
	char text[RIOV_CFG_MAC];
	uint8_t mac[6];
	int i, k, rc;

	if ((i = mac_request_net(svc, req, mac, msg, msglen)) < 0)
		return i;
	Riov__V1__NetworkSpec *old = svc->nets[i];
	riov_mac_text(mac, text);
	if ((k = spec_mac_index(old, mac)) < 0) {
		snprintf(msg, msglen, "network %s has no static MAC %s (learned ones age out by themselves)",
			 old->name, text);
		return -ENOENT;
	}
	/* state first: once it is saved the delete is acknowledged whatever happens next */
	struct mac_change c = { .i = (unsigned)i, .old = old };
	if ((c.spec = spec_macs(old, NULL, k)) == NULL) {
		snprintf(msg, msglen, "network %s: out of memory", old->name);
		return -ENOMEM;
	}
	svc->nets[i] = c.spec;
	rc = svc_save_or_undo(svc, mac_change_undo, &c, msg, msglen,
			      "static MAC %s was not deleted from network %s", text, old->name);
	if (rc != 0)
		return rc;
	char port[RIOV_DP_NAME_MAX];
	if (mac_port(svc, c.spec->name, old->macs[k], port, sizeof(port)) &&
	    (rc = riov_dp_mac_del(svc->dp, c.spec->name, mac)) != 0)
		RIOV_LOG(RIOV_LOG_ERR, "network %s: static MAC %s deleted from the state but not from "
			 "the MAC table: %s", c.spec->name, text, strerror(-rc));
	RIOV_LOG(RIOV_LOG_NOTICE, "network %s: static MAC %s deleted by %s", c.spec->name, text,
		 riov_rpc_call_peer(call));
	riov__v1__network_spec__free_unpacked(old, NULL);
	return mac_answer(call, svc, (unsigned)i, resp);
}

/* Network.ListMacs' answer being built. */
struct mac_acc {
	struct riov_rpc_call *call;
	Riov__V1__MacEntry **v;
	size_t n, cap;
	bool nomem;
	/* static MACs of the spec the table has (the others are pending) */
	const Riov__V1__NetworkSpec *spec;
	bool *found;
};

static void mac_count_one(void *arg, const struct riov_dp_mac_info *mi)
{
	(*(size_t *)arg)++;
}

static Riov__V1__MacEntry *mac_entry(struct mac_acc *a, const uint8_t mac[6], const char *port, bool remote)
{
	char text[RIOV_CFG_MAC];
	Riov__V1__MacEntry *x;

	if (a->n == a->cap || a->nomem)
		return NULL;
	if ((x = CALL_NEW(a->call, Riov__V1__MacEntry, riov__v1__mac_entry__init)) == NULL) {
		a->nomem = true;
		return NULL;
	}
	riov_mac_text(mac, text);
	const char *at = strchr(port, '@');
	x->mac = riov_rpc_call_strdup(a->call, text);
	x->port = riov_rpc_call_strdup(a->call, port);
	x->remote = remote;
	if (remote && at != NULL)
		x->vtep = riov_rpc_call_strdup(a->call, at + 1);
	if (x->mac == NULL || x->port == NULL || (remote && at != NULL && x->vtep == NULL)) {
		a->nomem = true;
		return NULL;
	}
	a->v[a->n++] = x;
	return x;
}

static void mac_entry_one(void *arg, const struct riov_dp_mac_info *mi)
{
	struct mac_acc *a = arg;
	Riov__V1__MacEntry *x = mac_entry(a, mi->mac, mi->port, mi->type == RIOV_DP_PORT_VTEP);
	int k;

	if (x == NULL)
		return;
	x->learned = !mi->is_static;
	x->local = mi->local;
	/* a remote static entry of an EVPN network is zebra's (hand-typed VTEPs are refused there) */
	x->evpn = a->spec->evpn && mi->is_static && mi->type == RIOV_DP_PORT_VTEP;
	if (mi->is_static && (k = spec_mac_index(a->spec, mi->mac)) >= 0)
		a->found[k] = true;
}

static int mac_entry_cmp(const void *x, const void *y)
{
	const Riov__V1__MacEntry *a = *(Riov__V1__MacEntry *const *)x, *b = *(Riov__V1__MacEntry *const *)y;
	int c = strcmp(a->mac, b->mac);

	return c != 0 ? c : strcmp(a->port, b->port);
}

int svc_h_net_list_macs(struct riov_rpc_call *call, const ProtobufCMessage *reqm, ProtobufCMessage **resp,
			char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__NetworkListMacsRequest *req = (const void *)reqm;
	const char *net = str_or_empty(req->net);
	int i = svc_net_index(svc, net);
	struct mac_acc a = { .call = call };
	char port[RIOV_DP_NAME_MAX];

	if (i < 0) {
		snprintf(msg, msglen, "network %.80s does not exist", net[0] ? net : "(no network given)");
		return -ENOENT;
	}
	a.spec = svc->nets[i];
	Riov__V1__NetworkListMacsResponse *r = CALL_NEW(call, Riov__V1__NetworkListMacsResponse,
							riov__v1__network_list_macs_response__init);
	if (r == NULL || riov_dp_mac_foreach(svc->dp, net, mac_count_one, &a.cap) != 0)
		return r == NULL ? -ENOMEM : -ENOENT;
	a.cap += a.spec->n_macs;
	a.v = riov_rpc_call_alloc(call, (a.cap + 1) * sizeof(*a.v));
	a.found = riov_rpc_call_alloc(call, a.spec->n_macs + 1);
	if (a.v == NULL || a.found == NULL)
		return -ENOMEM;
	memset(a.found, 0, a.spec->n_macs + 1);
	riov_dp_mac_foreach(svc->dp, net, mac_entry_one, &a);
	/* static MACs of the spec the table does not have: their local port is not there */
	for (size_t k = 0; k < a.spec->n_macs && !a.nomem; k++) {
		const Riov__V1__StaticMac *sm = a.spec->macs[k];
		uint8_t mac[6];
		if (a.found[k] || riov_mac_parse(sm->mac, mac) != 0)
			continue;
		const bool remote = str_or_empty(sm->vtep)[0] != '\0';
		uint32_t ip;
		if (remote && riov_ipv4_parse(sm->vtep, &ip) == 0)
			riov_dp_vtep_name(net, ip, port, sizeof(port));
		else
			snprintf(port, sizeof(port), "%s", str_or_empty(sm->port));
		Riov__V1__MacEntry *x = mac_entry(&a, mac, port, remote);
		if (x != NULL)
			x->pending = true;
	}
	if (a.nomem)
		return -ENOMEM;
	qsort(a.v, a.n, sizeof(*a.v), mac_entry_cmp);
	r->macs = a.v;
	r->n_macs = a.n;
	*resp = &r->base;
	return 0;
}

