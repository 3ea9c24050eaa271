/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Network's MAC tables: static MACs (NetworkSpec.macs, Network.AddMac/DeleteMac), what a
 * table holds (Network.ListMacs) and the aging of learned entries (a timer every mac_aging_s / 2
 * seconds that calls riov_dp_mac_age(): an entry goes between 1 and 1.5 times mac_aging_s after
 * the last frame from its address). Network.ListMacs answers a page of the table at a time (a
 * table of 32,768 entries does not fit one frame): see "Network.ListMacs" below.
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
 * ListMacs' page_size is capped (MAC_PAGE_MAX: the largest page fits a frame) and its page_token
 * parsed strictly (length, hexadecimal, version, network, a port name's bytes): a forged token
 * can only move where a page starts.
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

/* ------------------------------------------------------------------ Network.ListMacs
 *
 * A page at a time (AIP-158): the entries in (mac, port) order, at most page_size of them, after
 * the entry page_token names. The token is the last entry of the page before, so each call walks
 * the whole table (32,768 slots at most) and keeps only the page_size smallest entries after it
 * (a max-heap): no state between calls, memory for one page, and whatever is learned, aged or
 * deleted between two calls causes neither a duplicate nor a gap among the entries that stay.
 *
 * Token: lower-case hexadecimal of a version byte (1), the FNV-1a hash of the network's name (4
 * bytes, big-endian: a token of another network is refused), the last entry's MAC (6 bytes) and
 * port (its name's bytes, at most RIOV_DP_NAME_MAX - 1). Clients pass it back unchanged; any
 * other is INVALID_ARGUMENT. A forged well-formed one only moves where the page starts.
 */
#define MAC_TOKEN_VERSION 1u
#define MAC_TOKEN_FIXED (1 + 4 + 6)
#define MAC_TOKEN_MAX (2 * (MAC_TOKEN_FIXED + RIOV_DP_NAME_MAX - 1))

/* The longest MacEntry packed as an element of NetworkListMacsResponse.macs: its tag and a length
 * of 2 bytes (3), mac (tag, length, 17 characters: 19), port and vtep (a part of the port) at
 * most RIOV_DP_NAME_MAX - 1 characters each (65 each), five true bools (2 each): 162 bytes. The
 * largest page, with the token (151 bytes), total (6) and the frame's other fields (request id,
 * method, payload's tag and length, stream_end: under 50), fits the frame riovd's server uses. */
#define MAC_ENTRY_PACKED_MAX (3 + (2 + 17) + 2 * (2 + RIOV_DP_NAME_MAX - 1) + 5 * 2)
_Static_assert(MAC_PAGE_MAX * MAC_ENTRY_PACKED_MAX + 512 <= RIOV_FRAME_MAX_DEFAULT,
	       "a page of the longest MAC entries fits a frame");
_Static_assert(MAC_PAGE_DEFAULT <= MAC_PAGE_MAX, "the default page is a page");

/* An entry of the table (or a pending static MAC) on its way to a page. */
struct mac_row {
	uint8_t mac[6];
	bool is_static, local, remote, pending, evpn;
	char port[RIOV_DP_NAME_MAX];
};

/* A static MAC of the spec, parsed (sorted by address to be looked up per table entry). */
struct spec_mac {
	uint8_t mac[6];
	unsigned k;          /* its index in spec->macs */
};

/* One Network.ListMacs page being made. */
struct mac_page {
	const Riov__V1__NetworkSpec *spec;
	struct spec_mac *smacs;   /* the spec's static MACs that parse, sorted */
	size_t n_smacs;
	bool *found;              /* by spec index: the table has it (else it is pending) */
	bool after;               /* a token was given: only entries after cursor */
	struct mac_row cursor;
	struct mac_row *heap;     /* max-heap of the size smallest entries after cursor */
	size_t n, size;
	size_t total, later;      /* entries seen; of those, after cursor */
};

static int mac_row_cmp(const struct mac_row *a, const struct mac_row *b)
{
	int c = memcmp(a->mac, b->mac, 6);

	return c != 0 ? c : strcmp(a->port, b->port);
}

static int mac_row_qcmp(const void *x, const void *y)
{
	return mac_row_cmp(x, y);
}

static int spec_mac_cmp(const void *x, const void *y)
{
	return memcmp(((const struct spec_mac *)x)->mac, ((const struct spec_mac *)y)->mac, 6);
}

static void heap_swap(struct mac_row *h, size_t i, size_t j)
{
	struct mac_row t = h[i];
	h[i] = h[j];
	h[j] = t;
}

/* Row r (its port NUL-terminated) into page p when it belongs there. */
static void page_offer(struct mac_page *p, const struct mac_row *r)
{
	struct mac_row *h = p->heap;
	size_t i;

	p->total++;
	if (p->after && mac_row_cmp(r, &p->cursor) <= 0)
		return;
	p->later++;
	if (p->n < p->size) {
		h[i = p->n++] = *r;
		while (i > 0 && mac_row_cmp(&h[(i - 1) / 2], &h[i]) < 0) {
			heap_swap(h, i, (i - 1) / 2);
			i = (i - 1) / 2;
		}
		return;
	}
	if (mac_row_cmp(r, &h[0]) >= 0)
		return;
	h[0] = *r;
	for (i = 0;;) {
		size_t l = 2 * i + 1, big = i;
		if (l < p->n && mac_row_cmp(&h[l], &h[big]) > 0)
			big = l;
		if (l + 1 < p->n && mac_row_cmp(&h[l + 1], &h[big]) > 0)
			big = l + 1;
		if (big == i)
			break;
		heap_swap(h, i, big);
		i = big;
	}
}

static void mac_page_one(void *arg, const struct riov_dp_mac_info *mi)
{
	struct mac_page *p = arg;
	struct mac_row r = { .is_static = mi->is_static, .local = mi->local,
			     .remote = mi->type == RIOV_DP_PORT_VTEP };

	memcpy(r.mac, mi->mac, 6);
	snprintf(r.port, sizeof(r.port), "%s", mi->port);
	/* a remote static entry of an EVPN network is zebra's (hand-typed VTEPs are refused there) */
	r.evpn = p->spec->evpn && mi->is_static && r.remote;
	if (mi->is_static && p->n_smacs > 0) {
		struct spec_mac key;
		memcpy(key.mac, mi->mac, 6);
		const struct spec_mac *s = bsearch(&key, p->smacs, p->n_smacs, sizeof(key), spec_mac_cmp);
		if (s != NULL)
			p->found[s->k] = true;
	}
	page_offer(p, &r);
}

static uint32_t net_hash(const char *net)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *c = (const unsigned char *)net; *c; c++)
		h = (h ^ *c) * 16777619u;
	return h;
}

/* The token of the entry after r in network net, into out (MAC_TOKEN_MAX + 1 bytes). */
static void mac_token_make(const char *net, const struct mac_row *r, char *out)
{
	uint8_t b[MAC_TOKEN_FIXED + RIOV_DP_NAME_MAX];
	const uint32_t h = net_hash(net);
	const size_t plen = strlen(r->port);

	b[0] = MAC_TOKEN_VERSION;
	b[1] = (uint8_t)(h >> 24);
	b[2] = (uint8_t)(h >> 16);
	b[3] = (uint8_t)(h >> 8);
	b[4] = (uint8_t)h;
	memcpy(b + 5, r->mac, 6);
	memcpy(b + MAC_TOKEN_FIXED, r->port, plen);
	for (size_t i = 0; i < MAC_TOKEN_FIXED + plen; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Page token tok of network net into cursor. Returns 0, or -EINVAL with msg filled. */
static int mac_token_parse(const char *net, const char *tok, struct mac_row *cursor, char *msg,
			   size_t msglen)
{
	uint8_t b[MAC_TOKEN_FIXED + RIOV_DP_NAME_MAX];
	const size_t len = strnlen(tok, MAC_TOKEN_MAX + 1);
	size_t n = len / 2;
	bool ok = len % 2 == 0 && len >= 2 * MAC_TOKEN_FIXED && len <= MAC_TOKEN_MAX;

	for (size_t i = 0; ok && i < n; i++) {
		int hi = hex_digit(tok[2 * i]), lo = hex_digit(tok[2 * i + 1]);
		if (!(ok = hi >= 0 && lo >= 0))
			break;
		b[i] = (uint8_t)((unsigned)hi << 4 | (unsigned)lo);
		/* a port name's bytes: printable, never NUL */
		ok = i < MAC_TOKEN_FIXED || (b[i] > ' ' && b[i] < 0x7f);
	}
	if (!ok || b[0] != MAC_TOKEN_VERSION) {
		snprintf(msg, msglen, "network %s: page_token '%.24s%s' is not one Network.ListMacs "
			 "gave: pass next_page_token back unchanged, or none for the first page", net,
			 tok, len > 24 ? "..." : "");
		return -EINVAL;
	}
	const uint32_t h = net_hash(net);
	if (((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4]) != h) {
		snprintf(msg, msglen, "network %s: page_token is another network's: list each network "
			 "with its own tokens, or start again without one", net);
		return -EINVAL;
	}
	memset(cursor, 0, sizeof(*cursor));
	memcpy(cursor->mac, b + 5, 6);
	memcpy(cursor->port, b + MAC_TOKEN_FIXED, n - MAC_TOKEN_FIXED);
	return 0;
}

/* The spec's static MACs that parse, sorted by address, into p (the call's memory). */
static int mac_page_spec(struct riov_rpc_call *call, struct mac_page *p)
{
	const Riov__V1__NetworkSpec *spec = p->spec;

	p->smacs = riov_rpc_call_alloc(call, (spec->n_macs + 1) * sizeof(*p->smacs));
	p->found = riov_rpc_call_alloc(call, spec->n_macs + 1);
	if (p->smacs == NULL || p->found == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < spec->n_macs; k++) {
		struct spec_mac *sm = &p->smacs[p->n_smacs];
		if (spec->macs[k] != NULL && riov_mac_parse(spec->macs[k]->mac, sm->mac) == 0) {
			sm->k = (unsigned)k;
			p->n_smacs++;
		}
	}
	qsort(p->smacs, p->n_smacs, sizeof(*p->smacs), spec_mac_cmp);
	return 0;
}

/* The static MACs of the spec the table does not have (their local port is not there) into p. */
static void mac_page_pending(struct mac_page *p, const char *net)
{
	for (size_t j = 0; j < p->n_smacs; j++) {
		const Riov__V1__StaticMac *sm = p->spec->macs[p->smacs[j].k];
		struct mac_row r = { .is_static = true, .pending = true };
		uint32_t ip;

		if (p->found[p->smacs[j].k])
			continue;
		memcpy(r.mac, p->smacs[j].mac, 6);
		r.remote = str_or_empty(sm->vtep)[0] != '\0';
		if (r.remote && riov_ipv4_parse(sm->vtep, &ip) == 0)
			riov_dp_vtep_name(net, ip, r.port, sizeof(r.port));
		else
			snprintf(r.port, sizeof(r.port), "%s", str_or_empty(sm->port));
		page_offer(p, &r);
	}
}

/* A MacEntry of the answer and the text it points to (the port's is its row's). */
struct mac_out {
	Riov__V1__MacEntry e;
	char text[RIOV_CFG_MAC];
};

int svc_h_net_list_macs(struct riov_rpc_call *call, const ProtobufCMessage *reqm, ProtobufCMessage **resp,
			char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__NetworkListMacsRequest *req = (const void *)reqm;
	const char *net = str_or_empty(req->net), *tok = str_or_empty(req->page_token);
	int i = svc_net_index(svc, net), rc;
	struct mac_page p = { 0 };

	if (i < 0) {
		snprintf(msg, msglen, "network %.80s does not exist", net[0] ? net : "(no network given)");
		return -ENOENT;
	}
	p.spec = svc->nets[i];
	p.size = req->page_size == 0 ? MAC_PAGE_DEFAULT : req->page_size > MAC_PAGE_MAX ? MAC_PAGE_MAX
										: req->page_size;
	if (tok[0] != '\0') {
		if ((rc = mac_token_parse(net, tok, &p.cursor, msg, msglen)) != 0)
			return rc;
		p.after = true;
	}
	Riov__V1__NetworkListMacsResponse *r = CALL_NEW(call, Riov__V1__NetworkListMacsResponse,
							riov__v1__network_list_macs_response__init);
	p.heap = riov_rpc_call_alloc(call, p.size * sizeof(*p.heap));
	if (r == NULL || p.heap == NULL || mac_page_spec(call, &p) != 0)
		return -ENOMEM;
	if (riov_dp_mac_foreach(svc->dp, net, mac_page_one, &p) != 0)
		return -ENOENT;
	mac_page_pending(&p, net);
	qsort(p.heap, p.n, sizeof(*p.heap), mac_row_qcmp);

	struct mac_out *out = riov_rpc_call_alloc(call, (p.n + 1) * sizeof(*out));
	r->macs = riov_rpc_call_alloc(call, (p.n + 1) * sizeof(*r->macs));
	if (out == NULL || r->macs == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < p.n; k++) {
		const struct mac_row *w = &p.heap[k];
		Riov__V1__MacEntry *x = &out[k].e;
		const char *at = strchr(w->port, '@');
		riov__v1__mac_entry__init(x);
		riov_mac_text(w->mac, out[k].text);
		x->mac = out[k].text;
		x->port = (char *)w->port;
		x->learned = !w->is_static;
		x->local = w->local;
		x->remote = w->remote;
		if (w->remote && at != NULL)
			x->vtep = (char *)at + 1;
		x->pending = w->pending;
		x->evpn = w->evpn;
		r->macs[k] = x;
	}
	r->n_macs = p.n;
	r->total = p.total > UINT32_MAX ? UINT32_MAX : (uint32_t)p.total;
	if (p.later > p.n) {
		if ((r->next_page_token = riov_rpc_call_alloc(call, MAC_TOKEN_MAX + 1)) == NULL)
			return -ENOMEM;
		mac_token_make(net, &p.heap[p.n - 1], r->next_page_token);
	}
	*resp = &r->base;
	return 0;
}
