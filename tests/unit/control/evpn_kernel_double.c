/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test double of control/evpn_kernel.h (see evpn_double.h): no netlink, no devices; what the
 * service asks is kept in small tables the test reads, and the callbacks come when the test
 * fires them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evpn_double.h"

struct riov_evpn_kernel {
	const struct riov_evpn_kernel_ops *ops;
	void *arg;
};

struct dvni {
	bool used;
	uint32_t vni, local;
	unsigned mtu;
};
struct dport {
	bool used;
	uint32_t id, vni;
	char port[65];
};
struct dmac {
	bool used;
	uint32_t id;
	uint8_t mac[6];
};
/* what the test fired (zebra's entries, as the real context has them reported) */
struct dremote {
	bool used, is_mac;
	uint32_t vni, vtep;
	uint8_t mac[6];
};

struct evpn_double_knobs evpn_double;
static struct dvni vnis[EVPN_DOUBLE_MAX];
static struct dport ports[EVPN_DOUBLE_MAX];
static struct dmac macs[EVPN_DOUBLE_MAX * 4];
static struct dremote remote[EVPN_DOUBLE_MAX * 4];
static struct riov_evpn_kernel *live;

void evpn_double_reset(void)
{
	memset(&evpn_double, 0, sizeof(evpn_double));
	memset(vnis, 0, sizeof(vnis));
	memset(ports, 0, sizeof(ports));
	memset(macs, 0, sizeof(macs));
	memset(remote, 0, sizeof(remote));
}

static struct dvni *vni_find(uint32_t vni)
{
	for (int i = 0; i < EVPN_DOUBLE_MAX; i++)
		if (vnis[i].used && vnis[i].vni == vni)
			return &vnis[i];
	return NULL;
}

static struct dport *port_find(uint32_t id)
{
	for (int i = 0; i < EVPN_DOUBLE_MAX; i++)
		if (ports[i].used && ports[i].id == id)
			return &ports[i];
	return NULL;
}

static struct dmac *mac_find(uint32_t id, const uint8_t mac[6])
{
	for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++)
		if (macs[i].used && macs[i].id == id && memcmp(macs[i].mac, mac, 6) == 0)
			return &macs[i];
	return NULL;
}

const char *riov_evpn_ignore_name(enum riov_evpn_ignore why)
{
	return why < RIOV_EVPN_IGN__MAX ? "reason" : "?";
}

int riov_evpn_kernel_create(struct event_base *base, const struct riov_evpn_kernel_ops *ops, void *arg,
			    struct riov_evpn_kernel **out)
{
	evpn_double.creates++;
	if (evpn_double.create_rc != 0)
		return evpn_double.create_rc;
	struct riov_evpn_kernel *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return -ENOMEM;
	k->ops = ops;
	k->arg = arg;
	live = k;
	*out = k;
	return 0;
}

void riov_evpn_kernel_destroy(struct riov_evpn_kernel *k)
{
	if (k == NULL)
		return;
	evpn_double.destroys++;
	if (live == k)
		live = NULL;
	free(k); /* the "devices" stay, as the real one's */
}

static int vni_put(uint32_t vni, uint32_t local, unsigned mtu)
{
	struct dvni *v = vni_find(vni);

	for (int i = 0; v == NULL && i < EVPN_DOUBLE_MAX; i++)
		if (!vnis[i].used)
			v = &vnis[i];
	if (v == NULL)
		return -ENOSPC;
	*v = (struct dvni){ .used = true, .vni = vni, .local = local, .mtu = mtu };
	return 0;
}

/* The VNI's vxlan device is replaced or deleted: what zebra had written there went with it,
 * and is reported removed (as the real context's vni_forget_remote). */
static void remote_forget(struct riov_evpn_kernel *k, uint32_t vni)
{
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		struct dremote r = remote[i];
		if (!r.used || r.vni != vni)
			continue;
		remote[i].used = false;
		if (r.is_mac)
			k->ops->remote_mac(k->arg, false, vni, r.mac, r.vtep);
		else
			k->ops->flood(k->arg, false, vni, r.vtep);
	}
}

int riov_evpn_kernel_vni_add(struct riov_evpn_kernel *k, uint32_t vni, uint32_t local, unsigned mtu)
{
	evpn_double.vni_adds++;
	if (evpn_double.vni_add_rc != 0)
		return evpn_double.vni_add_rc;
	if (vni == 0 || vni > RIOV_EVPN_VNI_MAX)
		return -EINVAL;
	const struct dvni *v = vni_find(vni);
	if (v != NULL && v->local != local)
		remote_forget(k, vni);
	return vni_put(vni, local, mtu);
}

int riov_evpn_kernel_vni_del(struct riov_evpn_kernel *k, uint32_t vni)
{
	struct dvni *v = vni_find(vni);

	evpn_double.vni_dels++;
	if (v == NULL)
		return -ENOENT;
	v->used = false;
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if (remote[i].vni == vni)
			remote[i].used = false; /* forgotten without callbacks */
	for (int i = 0; i < EVPN_DOUBLE_MAX; i++) {
		if (ports[i].used && ports[i].vni == vni) {
			ports[i].used = false;
			for (size_t m = 0; m < sizeof(macs) / sizeof(macs[0]); m++)
				if (macs[m].id == ports[i].id)
					macs[m].used = false;
		}
	}
	return 0;
}

static int port_put(uint32_t vni, uint32_t id, const char *port)
{
	struct dport *p = port_find(id);

	if (vni_find(vni) == NULL)
		return -ENOENT;
	for (int i = 0; p == NULL && i < EVPN_DOUBLE_MAX; i++)
		if (!ports[i].used)
			p = &ports[i];
	if (p == NULL)
		return -ENOSPC;
	*p = (struct dport){ .used = true, .id = id, .vni = vni };
	snprintf(p->port, sizeof(p->port), "%s", port);
	return 0;
}

int riov_evpn_kernel_port_add(struct riov_evpn_kernel *k, uint32_t vni, uint32_t id, const char *net,
			      const char *port)
{
	evpn_double.port_adds++;
	if (net == NULL || port == NULL || net[0] == '\0' || port[0] == '\0')
		return -EINVAL;
	return port_put(vni, id, port);
}

int riov_evpn_kernel_port_del(struct riov_evpn_kernel *k, uint32_t id)
{
	struct dport *p = port_find(id);

	evpn_double.port_dels++;
	if (p == NULL)
		return -ENOENT;
	p->used = false;
	for (size_t m = 0; m < sizeof(macs) / sizeof(macs[0]); m++)
		if (macs[m].id == id)
			macs[m].used = false;
	return 0;
}

int riov_evpn_kernel_mac_add(struct riov_evpn_kernel *k, uint32_t id, const uint8_t mac[6])
{
	struct dport *p = port_find(id);

	evpn_double.mac_adds++;
	if (p == NULL)
		return -ENOENT;
	/* moved from another port of the VNI */
	for (size_t m = 0; m < sizeof(macs) / sizeof(macs[0]); m++) {
		struct dport *o;
		if (macs[m].used && memcmp(macs[m].mac, mac, 6) == 0 && (o = port_find(macs[m].id)) != NULL &&
		    o->vni == p->vni)
			macs[m].used = false;
	}
	for (size_t m = 0; m < sizeof(macs) / sizeof(macs[0]); m++) {
		if (!macs[m].used) {
			macs[m] = (struct dmac){ .used = true, .id = id };
			memcpy(macs[m].mac, mac, 6);
			return 0;
		}
	}
	return -ENOSPC;
}

int riov_evpn_kernel_mac_del(struct riov_evpn_kernel *k, uint32_t id, const uint8_t mac[6])
{
	struct dmac *m = mac_find(id, mac);

	evpn_double.mac_dels++;
	if (m == NULL)
		return -ENOENT;
	m->used = false;
	return 0;
}

int riov_evpn_kernel_reconcile(struct riov_evpn_kernel *k, const struct riov_evpn_vni_spec *v, size_t n)
{
	evpn_double.reconciles++;
	evpn_double.rec_n_vnis = (unsigned)n;
	evpn_double.rec_n_port_names = 0;
	memset(vnis, 0, sizeof(vnis));
	memset(ports, 0, sizeof(ports));
	memset(macs, 0, sizeof(macs));
	memset(remote, 0, sizeof(remote));
	for (size_t i = 0; i < n && i < EVPN_DOUBLE_MAX; i++) {
		evpn_double.rec_vni[i] = v[i].vni;
		evpn_double.rec_local[i] = v[i].local;
		evpn_double.rec_mtu[i] = v[i].mtu;
		evpn_double.rec_ports[i] = (unsigned)v[i].n_ports;
		evpn_double.rec_macs[i] = 0;
		vni_put(v[i].vni, v[i].local, v[i].mtu);
		for (size_t p = 0; p < v[i].n_ports; p++) {
			const struct riov_evpn_port_spec *ps = &v[i].ports[p];
			if (evpn_double.rec_n_port_names < EVPN_DOUBLE_MAX)
				snprintf(evpn_double.rec_port_name[evpn_double.rec_n_port_names++], 65, "%s",
					 ps->port);
			port_put(v[i].vni, ps->id, ps->port);
			for (size_t m = 0; m < ps->n_macs; m++) {
				riov_evpn_kernel_mac_add(k, ps->id, ps->macs[m]);
				evpn_double.mac_adds--; /* the reconciliation's, not a mac_add call */
				evpn_double.rec_macs[i]++;
			}
		}
	}
	return 0;
}

int riov_evpn_kernel_resync(struct riov_evpn_kernel *k)
{
	return 0;
}

void riov_evpn_kernel_get_stats(const struct riov_evpn_kernel *k, struct riov_evpn_kernel_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->ignored[RIOV_EVPN_IGN_IPV6] = 3;
}

bool evpn_double_vni(uint32_t vni, uint32_t *local, unsigned *mtu)
{
	struct dvni *v = vni_find(vni);

	if (v == NULL)
		return false;
	if (local != NULL)
		*local = v->local;
	if (mtu != NULL)
		*mtu = v->mtu;
	return true;
}

bool evpn_double_port(uint32_t id, uint32_t *vni, char *port)
{
	struct dport *p = port_find(id);

	if (p == NULL)
		return false;
	if (vni != NULL)
		*vni = p->vni;
	if (port != NULL)
		snprintf(port, 65, "%s", p->port);
	return true;
}

bool evpn_double_mac(uint32_t id, const uint8_t mac[6])
{
	return mac_find(id, mac) != NULL;
}

/* Keep what the test fired for a known VNI with a vxlan device (as the real context does). */
static void remote_note(bool added, bool is_mac, uint32_t vni, const uint8_t *mac, uint32_t vtep)
{
	const struct dvni *v = vni_find(vni);
	struct dremote *free_r = NULL;

	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		struct dremote *r = &remote[i];
		if (!r->used) {
			free_r = free_r ? free_r : r;
			continue;
		}
		if (r->vni == vni && r->is_mac == is_mac &&
		    (is_mac ? memcmp(r->mac, mac, 6) == 0 : r->vtep == vtep)) {
			if (added)
				r->vtep = vtep; /* a MAC moved to another VTEP */
			else if (r->vtep == vtep)
				r->used = false;
			return;
		}
	}
	if (added && free_r != NULL && v != NULL && v->local != 0) {
		*free_r = (struct dremote){ .used = true, .is_mac = is_mac, .vni = vni, .vtep = vtep };
		if (is_mac)
			memcpy(free_r->mac, mac, 6);
	}
}

void evpn_double_remote_mac(bool added, uint32_t vni, const uint8_t mac[6], uint32_t vtep)
{
	if (live == NULL)
		return;
	remote_note(added, true, vni, mac, vtep);
	live->ops->remote_mac(live->arg, added, vni, mac, vtep);
}

void evpn_double_flood(bool added, uint32_t vni, uint32_t vtep)
{
	if (live == NULL)
		return;
	remote_note(added, false, vni, NULL, vtep);
	live->ops->flood(live->arg, added, vni, vtep);
}

int riov_evpn_kernel_port_macs(const struct riov_evpn_kernel *k, uint32_t id, const uint8_t (**out)[6], size_t *n)
{
	static uint8_t list[sizeof(macs) / sizeof(macs[0])][6];
	size_t c = 0;

	(void)k;
	if (port_find(id) == NULL)
		return -ENOENT;
	for (size_t m = 0; m < sizeof(macs) / sizeof(macs[0]); m++)
		if (macs[m].used && macs[m].id == id)
			memcpy(list[c++], macs[m].mac, 6);
	*out = (const uint8_t(*)[6])list;
	*n = c;
	return 0;
}
