/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EVPN's kernel side (see evpn_kernel.h, docs/evpn.md).
 *
 * Two netlink sockets. Requests: blocking with a receive timeout, each answer read until its ACK
 * or DONE (as kernel_net.c does; answers of an earlier request that timed out are skipped by
 * sequence number). Events: joined to the neighbour and link groups, non-blocking, on the
 * libevent loop; an overrun (ENOBUFS: events were lost) schedules a full FDB read that reports
 * the differences (mark and sweep over what was reported).
 *
 * State: the VNIs and ports riovd gave, their local MACs, and per VNI the remote MACs and flood
 * VTEPs the kernel holds, each with whether it was reported. Arrays searched linearly: sized for
 * hundreds of VNIs and ports and thousands of MACs; a hash when riov needs more.
 */
#include "control/evpn_kernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "common/log.h"

RIOV_LOG_COMPONENT("evpn", RIOV_LOG_INFO);

#define EVK_TIMEOUT_S 2
#define EVK_RX_BUF (64u * 1024)        /* a dump's datagrams are up to 32 KiB */
#define EVK_EV_RCVBUF (4 * 1024 * 1024) /* the event socket: FDB changes come in bursts */
#define EVK_READS_PER_WAKE 64           /* datagrams per loop wake-up: others get their turn */
#define EVK_RESYNC_RETRY_S 1

static const uint8_t zero_mac[6];

/* ------------------------------------------------------------------------------------------ */
/* The parser (pure)                                                                          */

static const char *const ignore_names[RIOV_EVPN_IGN__MAX] = {
	[RIOV_EVPN_IGN_MALFORMED] = "malformed",
	[RIOV_EVPN_IGN_NOT_NEIGH] = "not_neigh",
	[RIOV_EVPN_IGN_FAMILY] = "family",
	[RIOV_EVPN_IGN_DEVICE] = "device",
	[RIOV_EVPN_IGN_NEXTHOP] = "nexthop",
	[RIOV_EVPN_IGN_NO_MAC] = "no_mac",
	[RIOV_EVPN_IGN_NO_DST] = "no_dst",
	[RIOV_EVPN_IGN_IPV6] = "ipv6",
	[RIOV_EVPN_IGN_BAD_DST] = "bad_dst",
	[RIOV_EVPN_IGN_OTHER_VNI] = "other_vni",
	[RIOV_EVPN_IGN_OTHER_PORT] = "other_port",
	[RIOV_EVPN_IGN_MULTICAST_MAC] = "multicast_mac",
	[RIOV_EVPN_IGN_NOT_EXTERN] = "not_extern",
	[RIOV_EVPN_IGN_LOCAL_MAC] = "local_mac",
	[RIOV_EVPN_IGN_UNKNOWN_DEL] = "unknown_del",
};

const char *riov_evpn_ignore_name(enum riov_evpn_ignore why)
{
	if ((unsigned)why >= RIOV_EVPN_IGN__MAX || ignore_names[why] == NULL)
		return "?";
	return ignore_names[why];
}

/* Whether the message at nlh fits in the len bytes there, and its length is one libmnl's
 * attribute walk keeps within. Not mnl_nlmsg_ok(): libmnl 1.0.4 compares nlmsg_len as an int,
 * so a length of 2 GiB or more passes it (and mnl_nlmsg_next() then jumps outside the buffer);
 * and a length that is not a multiple of 4 lets the attribute walk, which ends at
 * MNL_ALIGN(nlmsg_len), read up to 3 bytes past the message. */
static bool nl_msg_fits(const struct nlmsghdr *nlh, size_t len)
{
	return len >= sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= len &&
	       nlh->nlmsg_len % MNL_ALIGNTO == 0;
}

/* What a neighbour message's attributes say (the last of a repeated attribute wins). */
struct np_attrs {
	bool bad;
	const uint8_t *mac;
	const uint8_t *dst;
	uint16_t dst_len;
	bool nh_id;
	bool master;
	bool has_vni, has_port;
	uint32_t vni;
	uint16_t port;                 /* network order */
};

static void np_attr(const struct nlattr *a, struct np_attrs *at)
{
	switch (mnl_attr_get_type(a)) {
	case NDA_LLADDR:
		if (mnl_attr_validate2(a, MNL_TYPE_BINARY, 6) < 0)
			at->bad = true;
		else
			at->mac = mnl_attr_get_payload(a);
		break;
	case NDA_DST: {
		uint16_t n = mnl_attr_get_payload_len(a);
		if (n != 4 && n != 16) {
			at->bad = true;
		} else {
			at->dst = mnl_attr_get_payload(a);
			at->dst_len = n;
		}
		break;
	}
	case NDA_NH_ID:
		at->nh_id = true;
		break;
	case NDA_MASTER:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			at->bad = true;
		else
			at->master = true;
		break;
	case NDA_VNI:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0) {
			at->bad = true;
		} else {
			at->has_vni = true;
			at->vni = mnl_attr_get_u32(a);
		}
		break;
	case NDA_PORT:
		if (mnl_attr_validate(a, MNL_TYPE_U16) < 0) {
			at->bad = true;
		} else {
			at->has_port = true;
			at->port = mnl_attr_get_u16(a);
		}
		break;
	}
}

/* A VTEP riov can send to: not 0.0.0.0, loopback, multicast (HER only) or broadcast. */
static bool np_dst_usable(const uint8_t d[4])
{
	return !(d[0] == 0 || d[0] == 127 || d[0] >= 224);
}

static int np_ignore(struct riov_evpn_fdb_event *ev, enum riov_evpn_ignore why)
{
	ev->kind = RIOV_EVPN_FDB_NONE;
	ev->why = why;
	return 0;
}

int riov_evpn_nl_parse(const void *buf, size_t len, riov_evpn_vni_of_fn vni_of, void *arg,
		       struct riov_evpn_fdb_event *ev)
{
	const struct nlmsghdr *nlh = buf;
	struct np_attrs at = { 0 };

	memset(ev, 0, sizeof(*ev));
	if (buf == NULL || !nl_msg_fits(nlh, len))
		return np_ignore(ev, RIOV_EVPN_IGN_MALFORMED);
	if (nlh->nlmsg_type != RTM_NEWNEIGH && nlh->nlmsg_type != RTM_DELNEIGH)
		return np_ignore(ev, RIOV_EVPN_IGN_NOT_NEIGH);
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ndmsg))
		return np_ignore(ev, RIOV_EVPN_IGN_MALFORMED);
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	if (nd->ndm_family != AF_BRIDGE)
		return np_ignore(ev, RIOV_EVPN_IGN_FAMILY);
	uint32_t vni = 0;
	if (nd->ndm_ifindex <= 0 || vni_of == NULL || !vni_of(arg, (uint32_t)nd->ndm_ifindex, &vni))
		return np_ignore(ev, RIOV_EVPN_IGN_DEVICE);

	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(*nd))
		np_attr(a, &at);
	/* the walk stops at the first attribute that does not fit: anything left is malformed */
	if ((const char *)a != (const char *)mnl_nlmsg_get_payload_tail(nlh) || at.bad)
		return np_ignore(ev, RIOV_EVPN_IGN_MALFORMED);

	if (at.nh_id)
		return np_ignore(ev, RIOV_EVPN_IGN_NEXTHOP);
	if (at.mac == NULL)
		return np_ignore(ev, RIOV_EVPN_IGN_NO_MAC);
	if (at.dst == NULL) {
		/* the bridge's side of zebra's remote MAC (zebra installs NTF_MASTER | NTF_SELF):
		 * the bridge forwards mac to the vxlan port; riov learns from it that a local MAC
		 * was taken over. The bridge's own entry for the port's address is permanent, not
		 * externally learned. */
		if (!at.master || !(nd->ndm_flags & NTF_EXT_LEARNED) || memcmp(at.mac, zero_mac, 6) == 0 ||
		    (at.mac[0] & 1))
			return np_ignore(ev, RIOV_EVPN_IGN_NO_DST);
		ev->kind = RIOV_EVPN_FDB_BRIDGE_REMOTE;
		ev->add = nlh->nlmsg_type == RTM_NEWNEIGH;
		ev->vni = vni;
		ev->ifindex = (uint32_t)nd->ndm_ifindex;
		memcpy(ev->mac, at.mac, 6);
		return 1;
	}
	if (at.dst_len == 16)
		return np_ignore(ev, RIOV_EVPN_IGN_IPV6);
	if (!np_dst_usable(at.dst))
		return np_ignore(ev, RIOV_EVPN_IGN_BAD_DST);
	/* the kernel puts NDA_VNI and NDA_PORT only when they differ from the device's */
	if (at.has_vni && at.vni != vni)
		return np_ignore(ev, RIOV_EVPN_IGN_OTHER_VNI);
	if (at.has_port && at.port != htons(RIOV_EVPN_VXLAN_PORT))
		return np_ignore(ev, RIOV_EVPN_IGN_OTHER_PORT);

	if (memcmp(at.mac, zero_mac, 6) == 0) {
		/* zebra's flood entries carry no NTF_EXT_LEARNED (FRR 8.4: NTF_SELF, NUD_NOARP |
		 * NUD_PERMANENT); riovd writes nothing on the vxlan device, so any is zebra's */
		ev->kind = RIOV_EVPN_FDB_FLOOD;
	} else if (at.mac[0] & 1) {
		return np_ignore(ev, RIOV_EVPN_IGN_MULTICAST_MAC);
	} else if (!(nd->ndm_flags & NTF_EXT_LEARNED)) {
		return np_ignore(ev, RIOV_EVPN_IGN_NOT_EXTERN);
	} else {
		ev->kind = RIOV_EVPN_FDB_REMOTE_MAC;
	}
	ev->add = nlh->nlmsg_type == RTM_NEWNEIGH;
	ev->vni = vni;
	ev->ifindex = (uint32_t)nd->ndm_ifindex;
	memcpy(ev->mac, at.mac, 6);
	memcpy(&ev->vtep, at.dst, 4);
	return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* The context's state                                                                        */

struct evk_remote {
	uint8_t mac[6];
	uint32_t vtep;
	bool reported;
	bool seen;                     /* in the current dump */
};

struct evk_flood {
	uint32_t vtep;
	bool seen;
};

struct evk_vni {
	uint32_t vni, local;
	unsigned mtu;
	uint32_t br_ifindex, vx_ifindex;  /* 0: missing */
	struct evk_remote *rm;
	size_t n_rm, cap_rm;
	struct evk_flood *fl;
	size_t n_fl, cap_fl;
};

struct evk_port {
	uint32_t id, vni, ifindex;
	char net[RIOV_EVPN_NAME_MAX + 1], port[RIOV_EVPN_NAME_MAX + 1];
	uint8_t (*mac)[6];
	size_t n_mac, cap_mac;
};

struct riov_evpn_kernel {
	struct event_base *base;
	struct riov_evpn_kernel_ops ops;
	void *arg;
	struct mnl_socket *req, *evs;
	uint32_t req_portid, seq;
	struct event *ev_nl, *ev_resync;
	struct evk_vni **vni;          /* pointers: stable across growth */
	size_t n_vni, cap_vni;
	struct evk_port **port;
	size_t n_port, cap_port;
	bool dumping;                  /* marking what a dump shows */
	struct riov_evpn_kernel_stats st;
	char rbuf[EVK_RX_BUF] __attribute__((aligned(8)));   /* requests' answers */
	char ebuf[EVK_RX_BUF] __attribute__((aligned(8)));   /* events */
};

/* Room for one more element in a growing array (doubling): 0 or -ENOMEM. */
#define EVK_GROW(arr, cap, n)                                                                 \
	({                                                                                    \
		int rc_ = 0;                                                                  \
		if ((n) >= (cap)) {                                                           \
			size_t c_ = (cap) ? (cap) * 2 : 8;                                    \
			__typeof__(arr) q_ = realloc((arr), c_ * sizeof(*(arr)));             \
			if (q_ == NULL) {                                                     \
				rc_ = -ENOMEM;                                                \
			} else {                                                              \
				(arr) = q_;                                                   \
				(cap) = c_;                                                   \
			}                                                                     \
		}                                                                             \
		rc_;                                                                          \
	})

static struct evk_vni *vni_find(const struct riov_evpn_kernel *k, uint32_t vni)
{
	for (size_t i = 0; i < k->n_vni; i++)
		if (k->vni[i]->vni == vni)
			return k->vni[i];
	return NULL;
}

static struct evk_port *port_find(const struct riov_evpn_kernel *k, uint32_t id)
{
	for (size_t i = 0; i < k->n_port; i++)
		if (k->port[i]->id == id)
			return k->port[i];
	return NULL;
}

static ssize_t port_mac_idx(const struct evk_port *p, const uint8_t mac[6])
{
	for (size_t i = 0; i < p->n_mac; i++)
		if (memcmp(p->mac[i], mac, 6) == 0)
			return (ssize_t)i;
	return -1;
}

/* The port of vni that has mac as a local MAC, or NULL. */
static struct evk_port *local_owner(const struct riov_evpn_kernel *k, uint32_t vni, const uint8_t mac[6])
{
	for (size_t i = 0; i < k->n_port; i++)
		if (k->port[i]->vni == vni && port_mac_idx(k->port[i], mac) >= 0)
			return k->port[i];
	return NULL;
}

static struct evk_remote *remote_find(struct evk_vni *v, const uint8_t mac[6])
{
	for (size_t i = 0; i < v->n_rm; i++)
		if (memcmp(v->rm[i].mac, mac, 6) == 0)
			return &v->rm[i];
	return NULL;
}

static void vni_free(struct evk_vni *v)
{
	if (v == NULL)
		return;
	free(v->rm);
	free(v->fl);
	free(v);
}

static void port_free(struct evk_port *p)
{
	if (p == NULL)
		return;
	free(p->mac);
	free(p);
}

static bool vni_of_ctx(void *arg, uint32_t ifindex, uint32_t *vni)
{
	const struct riov_evpn_kernel *k = arg;
	for (size_t i = 0; i < k->n_vni; i++) {
		if (k->vni[i]->vx_ifindex == ifindex) {
			*vni = k->vni[i]->vni;
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------------------------------ */
/* What the callbacks are told                                                                */

static void tell_mac(struct riov_evpn_kernel *k, bool added, uint32_t vni, const uint8_t mac[6], uint32_t vtep)
{
	if (added)
		k->st.remote_mac_adds++;
	else
		k->st.remote_mac_dels++;
	if (k->ops.remote_mac != NULL)
		k->ops.remote_mac(k->arg, added, vni, mac, vtep);
}

static void tell_flood(struct riov_evpn_kernel *k, bool added, uint32_t vni, uint32_t vtep)
{
	if (added)
		k->st.flood_adds++;
	else
		k->st.flood_dels++;
	if (k->ops.flood != NULL)
		k->ops.flood(k->arg, added, vni, vtep);
}

static void remote_event(struct riov_evpn_kernel *k, struct evk_vni *v, const struct riov_evpn_fdb_event *ev)
{
	struct evk_remote *r = remote_find(v, ev->mac);
	const bool local = local_owner(k, v->vni, ev->mac) != NULL;

	if (!ev->add) {
		if (r == NULL || r->vtep != ev->vtep) {
			k->st.ignored[RIOV_EVPN_IGN_UNKNOWN_DEL]++;
			return;
		}
		struct evk_remote gone = *r;
		*r = v->rm[--v->n_rm];
		if (gone.reported)
			tell_mac(k, false, v->vni, gone.mac, gone.vtep);
		return;
	}
	if (r == NULL) {
		if (EVK_GROW(v->rm, v->cap_rm, v->n_rm) != 0) {
			RIOV_LOG_RL(RIOV_LOG_ERR, "VNI %u: no memory for a remote MAC", v->vni);
			return;
		}
		r = &v->rm[v->n_rm++];
		memset(r, 0, sizeof(*r));
		memcpy(r->mac, ev->mac, 6);
	} else if (r->vtep == ev->vtep && r->reported == !local) {
		r->seen |= k->dumping;
		k->st.unchanged++;
		return;
	}
	/* reported exactly when the kernel has it and riovd has no local MAC of that address */
	const bool was = r->reported;
	const uint32_t old_vtep = r->vtep;
	r->vtep = ev->vtep;
	r->seen |= k->dumping;
	if (local) {
		r->reported = false;
		k->st.ignored[RIOV_EVPN_IGN_LOCAL_MAC]++;
		if (was)
			tell_mac(k, false, v->vni, r->mac, old_vtep);
		return;
	}
	r->reported = true;
	tell_mac(k, true, v->vni, r->mac, r->vtep);
}

static void flood_event(struct riov_evpn_kernel *k, struct evk_vni *v, const struct riov_evpn_fdb_event *ev)
{
	for (size_t i = 0; i < v->n_fl; i++) {
		if (v->fl[i].vtep != ev->vtep)
			continue;
		if (ev->add) {
			v->fl[i].seen |= k->dumping;
			k->st.unchanged++;
		} else {
			v->fl[i] = v->fl[--v->n_fl];
			tell_flood(k, false, v->vni, ev->vtep);
		}
		return;
	}
	if (!ev->add) {
		k->st.ignored[RIOV_EVPN_IGN_UNKNOWN_DEL]++;
		return;
	}
	if (EVK_GROW(v->fl, v->cap_fl, v->n_fl) != 0) {
		RIOV_LOG_RL(RIOV_LOG_ERR, "VNI %u: no memory for a flood VTEP", v->vni);
		return;
	}
	v->fl[v->n_fl++] = (struct evk_flood){ .vtep = ev->vtep, .seen = k->dumping };
	tell_flood(k, true, v->vni, ev->vtep);
}

/* The bridge's entry for a MAC moved to the vxlan port (zebra installed it as remote, NTF_MASTER):
 * if riovd had it as local, another VTEP won it (MAC mobility, the kernel moved riovd's static
 * entry off the shadow TAP): no longer local, and the remote entry is reported. */
static void bridge_remote_event(struct riov_evpn_kernel *k, struct evk_vni *v, const struct riov_evpn_fdb_event *ev)
{
	if (!ev->add)
		return;   /* the vxlan device's own entry says when the remote MAC goes */
	struct evk_port *p = local_owner(k, v->vni, ev->mac);
	if (p == NULL)
		return;
	ssize_t j = port_mac_idx(p, ev->mac);
	memmove(p->mac[j], p->mac[--p->n_mac], 6);
	k->st.local_taken++;
	RIOV_LOG_RL(RIOV_LOG_NOTICE, "VNI %u: %02x:%02x:%02x:%02x:%02x:%02x is behind another VTEP now (zebra): "
		    "no longer local on %s/%s", v->vni, ev->mac[0], ev->mac[1], ev->mac[2], ev->mac[3],
		    ev->mac[4], ev->mac[5], p->net, p->port);
	struct evk_remote *r = remote_find(v, ev->mac);
	if (r != NULL && !r->reported) {
		r->reported = true;
		tell_mac(k, true, v->vni, r->mac, r->vtep);
	}
}

/* Everything reported for v is gone (its vxlan device went). */
static void vni_forget_remote(struct riov_evpn_kernel *k, struct evk_vni *v, bool tell)
{
	while (v->n_rm > 0) {
		struct evk_remote r = v->rm[--v->n_rm];
		if (tell && r.reported)
			tell_mac(k, false, v->vni, r.mac, r.vtep);
	}
	while (v->n_fl > 0) {
		uint32_t vtep = v->fl[--v->n_fl].vtep;
		if (tell)
			tell_flood(k, false, v->vni, vtep);
	}
}

/* Someone else deleted a device of ours. (A device riovd deletes or replaces is out of its state
 * before the event comes; a port leaving a bridge is an RTM_DELLINK of family AF_BRIDGE, not a
 * deletion.) */
static void link_gone(struct riov_evpn_kernel *k, const struct nlmsghdr *nlh)
{
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
		return;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	if (ifi->ifi_index <= 0 || ifi->ifi_family != AF_UNSPEC)
		return;
	const uint32_t idx = (uint32_t)ifi->ifi_index;
	for (size_t i = 0; i < k->n_vni; i++) {
		struct evk_vni *v = k->vni[i];
		if (v->vx_ifindex == idx || v->br_ifindex == idx) {
			k->st.devices_lost++;
			RIOV_LOG(RIOV_LOG_WARN, "VNI %u: its %s device was deleted (not by riovd)", v->vni,
				 v->vx_ifindex == idx ? "vxlan" : "bridge");
			if (v->vx_ifindex == idx) {
				v->vx_ifindex = 0;
				vni_forget_remote(k, v, true);
			} else {
				v->br_ifindex = 0;
			}
		}
	}
	for (size_t i = 0; i < k->n_port; i++) {
		if (k->port[i]->ifindex == idx) {
			k->st.devices_lost++;
			RIOV_LOG(RIOV_LOG_WARN, "port %s/%s: its shadow TAP was deleted (not by riovd)",
				 k->port[i]->net, k->port[i]->port);
			k->port[i]->ifindex = 0;
		}
	}
}

/* One netlink message from the event socket or a dump; len: bytes available at nlh. */
static void handle_msg(struct riov_evpn_kernel *k, const struct nlmsghdr *nlh, size_t len)
{
	struct riov_evpn_fdb_event ev;

	k->st.messages++;
	if (riov_evpn_nl_parse(nlh, len, vni_of_ctx, k, &ev) == 0) {
		k->st.ignored[ev.why]++;
		if (ev.why == RIOV_EVPN_IGN_NOT_NEIGH && nlh->nlmsg_type == RTM_DELLINK)
			link_gone(k, nlh);
		return;
	}
	struct evk_vni *v = vni_find(k, ev.vni);
	if (v == NULL)
		return;
	if (ev.kind == RIOV_EVPN_FDB_FLOOD)
		flood_event(k, v, &ev);
	else if (ev.kind == RIOV_EVPN_FDB_BRIDGE_REMOTE)
		bridge_remote_event(k, v, &ev);
	else
		remote_event(k, v, &ev);
}

/* Every message of a datagram (a message that does not fit ends it: counted once). */
static void handle_buf(struct riov_evpn_kernel *k, const void *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)((const char *)buf + off);
		if (!nl_msg_fits(nlh, n - off)) {
			k->st.messages++;
			k->st.ignored[RIOV_EVPN_IGN_MALFORMED]++;
			return;
		}
		handle_msg(k, nlh, n - off);
		off += nlh->nlmsg_len;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Requests                                                                                   */

/* Send nlh and run cb over the answer until the kernel's ACK, error or DONE. Answers to an
 * earlier request (one that timed out) are skipped. Returns 0 or -errno. */
static int talk(struct riov_evpn_kernel *k, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	nlh->nlmsg_seq = ++k->seq;
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	if (cb == NULL)
		nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(k->req, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(k->req, k->rbuf, sizeof(k->rbuf));
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		const struct nlmsghdr *first = (const struct nlmsghdr *)k->rbuf;
		if (n >= (ssize_t)sizeof(*first) && first->nlmsg_seq != k->seq)
			continue;
		errno = 0;
		int rc = mnl_cb_run(k->rbuf, (size_t)n, k->seq, k->req_portid, cb, data);
		if (rc == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

/* talk(), counting the kernel's refusals. */
static int request(struct riov_evpn_kernel *k, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	int rc = talk(k, nlh, cb, data);
	if (rc != 0)
		k->st.kernel_errors++;
	return rc;
}

static struct nlmsghdr *link_msg(char *buf, uint16_t type, uint16_t flags, uint32_t ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	return nlh;
}

/* What riov needs to know of an interface. */
struct evk_link {
	uint32_t ifindex, master, mtu;
	unsigned flags;
	char name[IFNAMSIZ];
	char kind[16];
	char alias[256];
	uint32_t vx_id, vx_local;
	uint16_t vx_port;              /* network order */
	int vx_learning;               /* -1: not told */
	int br_vlan_filtering;
	int tun_type;                  /* IFF_TAP, IFF_TUN, -1 */
};

static void link_data(const struct nlattr *data, struct evk_link *l)
{
	const struct nlattr *a;
	mnl_attr_for_each_nested(a, data) {
		const uint16_t t = mnl_attr_get_type(a);
		if (strcmp(l->kind, "vxlan") == 0) {
			if (t == IFLA_VXLAN_ID && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				l->vx_id = mnl_attr_get_u32(a);
			else if (t == IFLA_VXLAN_LOCAL && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				l->vx_local = mnl_attr_get_u32(a);
			else if (t == IFLA_VXLAN_PORT && mnl_attr_validate(a, MNL_TYPE_U16) == 0)
				l->vx_port = mnl_attr_get_u16(a);
			else if (t == IFLA_VXLAN_LEARNING && mnl_attr_validate(a, MNL_TYPE_U8) == 0)
				l->vx_learning = mnl_attr_get_u8(a);
		} else if (strcmp(l->kind, "bridge") == 0) {
			if (t == IFLA_BR_VLAN_FILTERING && mnl_attr_validate(a, MNL_TYPE_U8) == 0)
				l->br_vlan_filtering = mnl_attr_get_u8(a);
		} else if (strcmp(l->kind, "tun") == 0) {
			if (t == IFLA_TUN_TYPE && mnl_attr_validate(a, MNL_TYPE_U8) == 0)
				l->tun_type = mnl_attr_get_u8(a);
		}
	}
}

static void link_info(const struct nlattr *info, struct evk_link *l)
{
	const struct nlattr *a, *data = NULL;
	mnl_attr_for_each_nested(a, info) {
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
			snprintf(l->kind, sizeof(l->kind), "%.*s", (int)mnl_attr_get_payload_len(a),
				 (const char *)mnl_attr_get_payload(a));
		else if (mnl_attr_get_type(a) == IFLA_INFO_DATA && mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
			data = a;
	}
	if (data != NULL)
		link_data(data, l);   /* after the kind, whatever their order */
}

/* Fill l from an RTM_NEWLINK message. Returns false if it is not one. */
static bool link_parse(const struct nlmsghdr *nlh, struct evk_link *l)
{
	memset(l, 0, sizeof(*l));
	l->vx_learning = -1;
	l->br_vlan_filtering = -1;
	l->tun_type = -1;
	if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
		return false;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	l->ifindex = (uint32_t)ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a));
			break;
		case IFLA_IFALIAS:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(l->alias, sizeof(l->alias), "%s", mnl_attr_get_str(a));
			break;
		case IFLA_MASTER:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				l->master = mnl_attr_get_u32(a);
			break;
		case IFLA_MTU:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				l->mtu = mnl_attr_get_u32(a);
			break;
		case IFLA_LINKINFO:
			if (mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
				link_info(a, l);
			break;
		}
	}
	return l->ifindex != 0;
}

static int link_get_cb(const struct nlmsghdr *nlh, void *data)
{
	link_parse(nlh, data);
	return MNL_CB_STOP;   /* one answer (an error comes as NLMSG_ERROR) */
}

/* The interface called name: 0 with *l, -ENODEV, or -errno. */
static int link_get(struct riov_evpn_kernel *k, const char *name, struct evk_link *l)
{
	char buf[1024];
	struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	memset(l, 0, sizeof(*l));
	int rc = talk(k, nlh, link_get_cb, l);
	if (rc == 0 && l->ifindex == 0)
		rc = -ENODEV;
	return rc;
}

static int link_del(struct riov_evpn_kernel *k, uint32_t ifindex)
{
	char buf[256];
	int rc = request(k, link_msg(buf, RTM_DELLINK, 0, ifindex), NULL, NULL);
	return rc == -ENODEV ? 0 : rc;
}

/* Attributes of one RTM_NEWLINK on an existing interface; 0 / NULL: leave as it is. */
struct evk_set {
	uint32_t mtu;
	uint32_t master;
	const char *alias;
	const char *name;
	int up;                        /* 1 up, 0 down, -1 leave */
};

static int link_set(struct riov_evpn_kernel *k, uint32_t ifindex, const struct evk_set *s)
{
	char buf[1024];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	if (s->up >= 0) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = s->up ? IFF_UP : 0;
	}
	if (s->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, s->mtu);
	if (s->master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, s->master);
	if (s->alias)
		mnl_attr_put_strz(nlh, IFLA_IFALIAS, s->alias);
	if (s->name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, s->name);
	return request(k, nlh, NULL, NULL);
}

/* No IPv6 addresses of their own (addrgenmode none): these devices carry no traffic. A kernel
 * without IPv6 has nothing to turn off. */
static int link_addrgen_none(struct riov_evpn_kernel *k, uint32_t ifindex)
{
	char buf[256];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
	struct nlattr *spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	struct nlattr *in6 = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, in6);
	mnl_attr_nest_end(nlh, spec);
	int rc = talk(k, nlh, NULL, NULL);
	if (rc == -EAFNOSUPPORT)
		return 0;
	if (rc != 0)
		k->st.kernel_errors++;
	return rc;
}

/* The bridge port options of ifindex (already a port): learning off; neigh_suppress on when
 * asked (a kernel without it ignores or refuses the attribute: then it is left off). */
static int brport_set(struct riov_evpn_kernel *k, uint32_t ifindex, bool neigh_suppress)
{
	char buf[256];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
	struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_SLAVE_KIND, "bridge");
	struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
	mnl_attr_put_u8(nlh, IFLA_BRPORT_LEARNING, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	int rc = request(k, nlh, NULL, NULL);
	if (rc != 0 || !neigh_suppress)
		return rc;
	nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_SLAVE_KIND, "bridge");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
	mnl_attr_put_u8(nlh, IFLA_BRPORT_NEIGH_SUPPRESS, 1);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	if (talk(k, nlh, NULL, NULL) != 0)
		RIOV_LOG(RIOV_LOG_INFO, "neigh_suppress not set (the kernel does not have it)");
	return 0;
}

static void name_of(char name[IFNAMSIZ], const char *prefix, uint32_t n)
{
	snprintf(name, IFNAMSIZ, "%s%u", prefix, n);
}

/* Whether name is prefix followed by 1-10 digits (a name riovd makes). */
static bool is_riov_name(const char *name, const char *prefix)
{
	const size_t n = strlen(prefix);
	if (strncmp(name, prefix, n) != 0 || name[n] == '\0' || strlen(name + n) > 10)
		return false;
	for (const char *c = name + n; *c; c++)
		if (*c < '0' || *c > '9')
			return false;
	return true;
}

/* A device riovd made: by its name, or a TAP by its alias (riovd gave it another id). */
static bool is_riov_link(const struct evk_link *l)
{
	return is_riov_name(l->name, RIOV_EVPN_BRIDGE_PREFIX) || is_riov_name(l->name, RIOV_EVPN_VXLAN_PREFIX) ||
	       is_riov_name(l->name, RIOV_EVPN_SHADOW_PREFIX) ||
	       (strncmp(l->alias, RIOV_EVPN_ALIAS_PREFIX, strlen(RIOV_EVPN_ALIAS_PREFIX)) == 0 &&
		strcmp(l->kind, "tun") == 0);
}

static int bridge_create(struct riov_evpn_kernel *k, const char *name, unsigned mtu)
{
	char buf[1024];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	/* VLAN-unaware is the default; asking for it explicitly fails (EOPNOTSUPP) on a kernel
	 * built without bridge VLAN filtering */
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, info);
	return request(k, nlh, NULL, NULL);
}

static int vxlan_create(struct riov_evpn_kernel *k, const char *name, const struct evk_vni *v)
{
	char buf[1024];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_MTU, v->mtu);
	struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
	struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, v->vni);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_LOCAL, v->local);
	mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(RIOV_EVPN_VXLAN_PORT));
	mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return request(k, nlh, NULL, NULL);
}

/* A persistent TAP: made through /dev/net/tun, then the descriptor closed, so it has no carrier
 * and no reader (the kernel drops whatever it would send there). */
static int tap_create(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int rc = 0;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Make sure v's bridge is there and right. Returns 0 (v->br_ifindex set) or -errno. */
static int bridge_ensure(struct riov_evpn_kernel *k, struct evk_vni *v)
{
	char name[IFNAMSIZ];
	struct evk_link l;

	name_of(name, RIOV_EVPN_BRIDGE_PREFIX, v->vni);
	int rc = link_get(k, name, &l);
	if (rc == 0 && (strcmp(l.kind, "bridge") != 0 || l.br_vlan_filtering == 1)) {
		RIOV_LOG(RIOV_LOG_NOTICE, "%s is a %s%s, not what riovd makes: replaced", name,
			 l.kind[0] ? l.kind : "device", l.br_vlan_filtering == 1 ? " with VLAN filtering" : "");
		rc = link_del(k, l.ifindex);
		if (rc == 0)
			rc = -ENODEV;
	}
	if (rc == -ENODEV) {
		rc = bridge_create(k, name, v->mtu);
		if (rc == 0)
			rc = link_get(k, name, &l);
	}
	if (rc == 0)
		rc = link_addrgen_none(k, l.ifindex);
	if (rc == 0)
		rc = link_set(k, l.ifindex, &(struct evk_set){ .mtu = v->mtu, .up = 1 });
	v->br_ifindex = rc == 0 ? l.ifindex : 0;
	if (rc != 0)
		RIOV_LOG(RIOV_LOG_ERR, "VNI %u: bridge %s: %s", v->vni, name, strerror(-rc));
	return rc;
}

/* v has no VTEP address: no vxlan device. Deleting it makes zebra withdraw the VNI (its type-3
 * route, and the type-2 routes of the local MACs on the bridge, which stays); the remote MACs and
 * flood entries went with it and are reported removed. Returns 0 (v->vx_ifindex 0) or -errno. */
static int vxlan_absent(struct riov_evpn_kernel *k, struct evk_vni *v, const char *name)
{
	struct evk_link l;

	int rc = link_get(k, name, &l);
	if (rc == 0)
		rc = link_del(k, l.ifindex);
	else if (rc == -ENODEV)
		rc = 0;
	if (rc != 0) {
		RIOV_LOG(RIOV_LOG_ERR, "VNI %u: vxlan device %s not deleted: %s", v->vni, name, strerror(-rc));
		return rc;
	}
	v->vx_ifindex = 0;   /* before its events come: they are not reported */
	vni_forget_remote(k, v, true);
	return 0;
}

/* Make sure v's vxlan device is there, right, and a port of its bridge (or, without a VTEP
 * address, not there). Returns 0 (v->vx_ifindex set) or -errno. */
static int vxlan_ensure(struct riov_evpn_kernel *k, struct evk_vni *v)
{
	char name[IFNAMSIZ];
	struct evk_link l;

	name_of(name, RIOV_EVPN_VXLAN_PREFIX, v->vni);
	if (v->local == 0)
		return vxlan_absent(k, v, name);
	int rc = link_get(k, name, &l);
	if (rc == 0 && (strcmp(l.kind, "vxlan") != 0 || l.vx_id != v->vni || l.vx_local != v->local ||
			l.vx_port != htons(RIOV_EVPN_VXLAN_PORT) || l.vx_learning != 0)) {
		RIOV_LOG(RIOV_LOG_NOTICE, "%s is not the vxlan device riovd wants for VNI %u: replaced", name, v->vni);
		rc = link_del(k, l.ifindex);
		if (rc == 0)
			rc = -ENODEV;
	}
	if (rc == -ENODEV) {
		rc = vxlan_create(k, name, v);
		if (rc == 0)
			rc = link_get(k, name, &l);
	}
	if (rc == 0)
		rc = link_addrgen_none(k, l.ifindex);
	if (rc == 0 && (l.master != v->br_ifindex || l.mtu != v->mtu))
		rc = link_set(k, l.ifindex, &(struct evk_set){ .mtu = v->mtu, .master = v->br_ifindex, .up = -1 });
	if (rc == 0)
		rc = brport_set(k, l.ifindex, true);
	if (rc == 0)
		rc = link_set(k, l.ifindex, &(struct evk_set){ .up = 1 });
	if (rc == 0 && v->vx_ifindex != 0 && v->vx_ifindex != l.ifindex)
		vni_forget_remote(k, v, true);   /* the old device's entries went with it */
	v->vx_ifindex = rc == 0 ? l.ifindex : 0;
	if (rc != 0)
		RIOV_LOG(RIOV_LOG_ERR, "VNI %u: vxlan device %s: %s", v->vni, name, strerror(-rc));
	return rc;
}

static void alias_of(char *buf, size_t n, const char *net, const char *port)
{
	snprintf(buf, n, "%s%s/%s", RIOV_EVPN_ALIAS_PREFIX, net, port);
}

/* Make sure p's shadow TAP is there, right, and a port of v's bridge. Returns 0 (p->ifindex
 * set) or -errno. */
static int shadow_ensure(struct riov_evpn_kernel *k, struct evk_port *p, const struct evk_vni *v)
{
	char name[IFNAMSIZ], alias[256];
	struct evk_link l;

	if (v->br_ifindex == 0) {
		p->ifindex = 0;
		return -ENODEV;
	}
	name_of(name, RIOV_EVPN_SHADOW_PREFIX, p->id);
	alias_of(alias, sizeof(alias), p->net, p->port);
	int rc = link_get(k, name, &l);
	if (rc == 0 && (strcmp(l.kind, "tun") != 0 || l.tun_type != IFF_TAP)) {
		RIOV_LOG(RIOV_LOG_NOTICE, "%s is not a TAP: replaced", name);
		rc = link_del(k, l.ifindex);
		if (rc == 0)
			rc = -ENODEV;
	}
	if (rc == -ENODEV) {
		rc = tap_create(name);
		if (rc != 0)
			k->st.kernel_errors++;
		if (rc == 0)
			rc = link_get(k, name, &l);
	}
	if (rc == 0)
		rc = link_addrgen_none(k, l.ifindex);
	if (rc == 0 && (l.master != v->br_ifindex || l.mtu != v->mtu || strcmp(l.alias, alias) != 0))
		rc = link_set(k, l.ifindex, &(struct evk_set){ .mtu = v->mtu, .master = v->br_ifindex,
							      .alias = alias, .up = -1 });
	if (rc == 0)
		rc = brport_set(k, l.ifindex, false);
	if (rc == 0)
		rc = link_set(k, l.ifindex, &(struct evk_set){ .up = 1 });
	p->ifindex = rc == 0 ? l.ifindex : 0;
	if (rc != 0)
		RIOV_LOG(RIOV_LOG_ERR, "port %s/%s: shadow TAP %s: %s", p->net, p->port, name, strerror(-rc));
	return rc;
}

/* A local MAC on a shadow TAP: a static entry of the bridge (zebra ignores permanent ones).
 * NLM_F_REPLACE moves it in one step from wherever the bridge had it (another shadow TAP, or
 * the vxlan port where zebra put it as remote), so zebra sees a move, not a withdrawal. */
static int fdb_local(struct riov_evpn_kernel *k, bool add, uint32_t ifindex, const uint8_t mac[6])
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = add ? RTM_NEWNEIGH : RTM_DELNEIGH;
	nlh->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_REPLACE : 0;
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = AF_BRIDGE;
	nd->ndm_ifindex = (int)ifindex;
	nd->ndm_state = NUD_NOARP;
	nd->ndm_flags = NTF_MASTER;
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	int rc = talk(k, nlh, NULL, NULL);
	if (!add && rc == -ENOENT)
		return 0;
	if (rc != 0)
		k->st.kernel_errors++;
	return rc;
}

/* Delete the vxlan device's own entry mac -> vtep (a remote entry left behind for what is a local
 * MAC now: FRR 8.4's zebra does not delete it when a MAC moves here, nor put it back). */
static int fdb_remote_del(struct riov_evpn_kernel *k, uint32_t vx_ifindex, const uint8_t mac[6], uint32_t vtep)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELNEIGH;
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = AF_BRIDGE;
	nd->ndm_ifindex = (int)vx_ifindex;
	nd->ndm_flags = NTF_SELF;
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	mnl_attr_put_u32(nlh, NDA_DST, vtep);
	int rc = talk(k, nlh, NULL, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc != 0)
		k->st.kernel_errors++;
	else
		k->st.stale_deleted++;
	return rc;
}

/* v's remote entry r is for a MAC that is local: deleted (see fdb_remote_del); its removal
 * event then forgets it. */
static void drop_stale_remote(struct riov_evpn_kernel *k, struct evk_vni *v, const struct evk_remote *r)
{
	if (v->vx_ifindex == 0)
		return;
	int rc = fdb_remote_del(k, v->vx_ifindex, r->mac, r->vtep);
	if (rc != 0)
		RIOV_LOG_RL(RIOV_LOG_WARN, "VNI %u: a stale remote entry was not deleted: %s", v->vni, strerror(-rc));
}

/* ------------------------------------------------------------------------------------------ */
/* Reading the FDB whole                                                                      */

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	handle_msg(data, nlh, nlh->nlmsg_len);
	return MNL_CB_OK;
}

static int fdb_dump(struct riov_evpn_kernel *k, mnl_cb_t cb, void *data)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_DUMP;
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = AF_BRIDGE;
	return request(k, nlh, cb, data);
}

/* Before a dump: nothing seen yet. */
static void resync_mark(struct riov_evpn_kernel *k)
{
	for (size_t i = 0; i < k->n_vni; i++) {
		struct evk_vni *v = k->vni[i];
		for (size_t j = 0; j < v->n_rm; j++)
			v->rm[j].seen = false;
		for (size_t j = 0; j < v->n_fl; j++)
			v->fl[j].seen = false;
	}
}

/* After a dump: what it did not show is gone. */
static void resync_sweep(struct riov_evpn_kernel *k)
{
	for (size_t i = 0; i < k->n_vni; i++) {
		struct evk_vni *v = k->vni[i];
		for (size_t j = 0; j < v->n_rm;) {
			if (v->rm[j].seen) {
				j++;
				continue;
			}
			struct evk_remote r = v->rm[j];
			v->rm[j] = v->rm[--v->n_rm];
			if (r.reported)
				tell_mac(k, false, v->vni, r.mac, r.vtep);
		}
		for (size_t j = 0; j < v->n_fl;) {
			if (v->fl[j].seen) {
				j++;
				continue;
			}
			uint32_t vtep = v->fl[j].vtep;
			v->fl[j] = v->fl[--v->n_fl];
			tell_flood(k, false, v->vni, vtep);
		}
	}
}

int riov_evpn_kernel_resync(struct riov_evpn_kernel *k)
{
	resync_mark(k);
	k->st.resyncs++;
	k->dumping = true;
	int rc = fdb_dump(k, dump_cb, k);
	k->dumping = false;
	if (rc != 0) {
		RIOV_LOG(RIOV_LOG_WARN, "reading the FDB failed: %s", strerror(-rc));
		return rc;
	}
	resync_sweep(k);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Events                                                                                     */

static void on_resync(evutil_socket_t fd, short what, void *arg)
{
	struct riov_evpn_kernel *k = arg;
	if (riov_evpn_kernel_resync(k) != 0) {
		const struct timeval tv = { .tv_sec = EVK_RESYNC_RETRY_S };
		evtimer_add(k->ev_resync, &tv);
	}
}

static void on_netlink(evutil_socket_t fd, short what, void *arg)
{
	struct riov_evpn_kernel *k = arg;

	for (unsigned i = 0; i < EVK_READS_PER_WAKE; i++) {
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = k->ebuf, .iov_len = sizeof(k->ebuf) };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS) {
				/* events were lost: read the FDB whole once the socket is drained */
				k->st.overruns++;
				if (!evtimer_pending(k->ev_resync, NULL)) {
					const struct timeval now = { 0 };
					evtimer_add(k->ev_resync, &now);
				}
				continue;
			}
			if (errno == EINTR)
				continue;
			break;
		}
		/* only the kernel's messages, and only whole datagrams */
		if (mh.msg_namelen != sizeof(from) || from.nl_pid != 0 || (mh.msg_flags & MSG_TRUNC)) {
			k->st.ignored[RIOV_EVPN_IGN_MALFORMED]++;
			continue;
		}
		handle_buf(k, k->ebuf, (size_t)n);
	}
}

int riov_evpn_kernel_create(struct event_base *base, const struct riov_evpn_kernel_ops *ops, void *arg,
			    struct riov_evpn_kernel **out)
{
	struct riov_evpn_kernel *k = calloc(1, sizeof(*k));
	int rc = -EIO;

	if (k == NULL)
		return -ENOMEM;
	k->base = base;
	if (ops != NULL)
		k->ops = *ops;
	k->arg = arg;
	k->seq = (uint32_t)time(NULL);
	const struct timeval tv = { .tv_sec = EVK_TIMEOUT_S };
	k->req = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (k->req == NULL ||
	    setsockopt(mnl_socket_get_fd(k->req), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    mnl_socket_bind(k->req, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto fail;
	}
	k->req_portid = mnl_socket_get_portid(k->req);
	k->evs = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (k->evs == NULL || mnl_socket_bind(k->evs, RTMGRP_NEIGH | RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto fail;
	}
	const int rcvbuf = EVK_EV_RCVBUF;
	const int efd = mnl_socket_get_fd(k->evs);
	if (setsockopt(efd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(efd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	k->ev_nl = event_new(base, efd, EV_READ | EV_PERSIST, on_netlink, k);
	k->ev_resync = evtimer_new(base, on_resync, k);
	if (k->ev_nl == NULL || k->ev_resync == NULL || event_add(k->ev_nl, NULL) != 0) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = k;
	return 0;
fail:
	riov_evpn_kernel_destroy(k);
	return rc ? rc : -EIO;
}

void riov_evpn_kernel_destroy(struct riov_evpn_kernel *k)
{
	if (k == NULL)
		return;
	if (k->ev_nl != NULL)
		event_free(k->ev_nl);
	if (k->ev_resync != NULL)
		event_free(k->ev_resync);
	if (k->evs != NULL)
		mnl_socket_close(k->evs);
	if (k->req != NULL)
		mnl_socket_close(k->req);
	for (size_t i = 0; i < k->n_vni; i++)
		vni_free(k->vni[i]);
	for (size_t i = 0; i < k->n_port; i++)
		port_free(k->port[i]);
	free(k->vni);
	free(k->port);
	free(k);
}

void riov_evpn_kernel_get_stats(const struct riov_evpn_kernel *k, struct riov_evpn_kernel_stats *out)
{
	*out = k->st;
}

/* ------------------------------------------------------------------------------------------ */
/* VNIs, ports, local MACs                                                                    */

/* local 0: no VTEP address (no vxlan device) */
static bool vni_args_ok(uint32_t vni, uint32_t local, unsigned mtu)
{
	const uint8_t *l = (const uint8_t *)&local;
	return vni >= 1 && vni <= RIOV_EVPN_VNI_MAX && (local == 0 || np_dst_usable(l)) && mtu >= 68 &&
	       mtu <= 65535;
}

static bool name_ok(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > RIOV_EVPN_NAME_MAX)
		return false;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f || *c == '/')
			return false;
	return true;
}

static bool mac_ok(const uint8_t mac[6])
{
	return mac != NULL && !(mac[0] & 1) && memcmp(mac, zero_mac, 6) != 0;
}

/* The VNI's entry, made if new (not yet in the kernel). NULL: no memory. */
static struct evk_vni *vni_get(struct riov_evpn_kernel *k, uint32_t vni, uint32_t local, unsigned mtu)
{
	struct evk_vni *v = vni_find(k, vni);
	if (v == NULL) {
		if (EVK_GROW(k->vni, k->cap_vni, k->n_vni) != 0 || (v = calloc(1, sizeof(*v))) == NULL)
			return NULL;
		v->vni = vni;
		k->vni[k->n_vni++] = v;
	}
	v->local = local;
	v->mtu = mtu;
	return v;
}

static int vni_ensure(struct riov_evpn_kernel *k, struct evk_vni *v)
{
	int rc = bridge_ensure(k, v);
	if (rc == 0)
		rc = vxlan_ensure(k, v);
	return rc;
}

int riov_evpn_kernel_vni_add(struct riov_evpn_kernel *k, uint32_t vni, uint32_t local, unsigned mtu)
{
	if (!vni_args_ok(vni, local, mtu))
		return -EINVAL;
	struct evk_vni *v = vni_get(k, vni, local, mtu);
	if (v == NULL)
		return -ENOMEM;
	int rc = vni_ensure(k, v);
	/* the ports of a VNI whose bridge was replaced need enslaving again */
	for (size_t i = 0; rc == 0 && i < k->n_port; i++)
		if (k->port[i]->vni == vni)
			rc = shadow_ensure(k, k->port[i], v);
	int r2 = riov_evpn_kernel_resync(k);
	return rc ? rc : r2;
}

static void port_remove(struct riov_evpn_kernel *k, size_t i)
{
	port_free(k->port[i]);
	k->port[i] = k->port[--k->n_port];
}

int riov_evpn_kernel_vni_del(struct riov_evpn_kernel *k, uint32_t vni)
{
	struct evk_vni *v = vni_find(k, vni);
	int rc = 0;

	if (v == NULL)
		return -ENOENT;
	for (size_t i = 0; i < k->n_port;) {
		if (k->port[i]->vni != vni) {
			i++;
			continue;
		}
		int r = k->port[i]->ifindex ? link_del(k, k->port[i]->ifindex) : 0;
		rc = rc ? rc : r;
		port_remove(k, i);
	}
	int r = v->vx_ifindex ? link_del(k, v->vx_ifindex) : 0;
	rc = rc ? rc : r;
	r = v->br_ifindex ? link_del(k, v->br_ifindex) : 0;
	rc = rc ? rc : r;
	for (size_t i = 0; i < k->n_vni; i++) {
		if (k->vni[i] == v) {
			k->vni[i] = k->vni[--k->n_vni];
			break;
		}
	}
	vni_free(v);
	return rc;
}

static void local_removed(struct riov_evpn_kernel *k, struct evk_port *p, size_t j);

/* The port's entry, made or moved (to vni, with these names). NULL: no memory. */
static struct evk_port *port_get(struct riov_evpn_kernel *k, uint32_t vni, uint32_t id, const char *net,
				 const char *port)
{
	struct evk_port *p = port_find(k, id);
	if (p == NULL) {
		if (EVK_GROW(k->port, k->cap_port, k->n_port) != 0 || (p = calloc(1, sizeof(*p))) == NULL)
			return NULL;
		p->id = id;
		k->port[k->n_port++] = p;
	}
	if (p->vni != vni)
		p->n_mac = 0;   /* its MACs were another VNI's; the bridge change drops their entries */
	p->vni = vni;
	snprintf(p->net, sizeof(p->net), "%s", net);
	snprintf(p->port, sizeof(p->port), "%s", port);
	return p;
}

int riov_evpn_kernel_port_add(struct riov_evpn_kernel *k, uint32_t vni, uint32_t id, const char *net,
			      const char *port)
{
	if (!name_ok(net) || !name_ok(port))
		return -EINVAL;
	struct evk_vni *v = vni_find(k, vni);
	if (v == NULL)
		return -ENOENT;
	/* a port moving to another VNI: its MACs are no longer local in the old one */
	struct evk_port *old = port_find(k, id);
	while (old != NULL && old->vni != vni && old->n_mac > 0)
		local_removed(k, old, old->n_mac - 1);
	struct evk_port *p = port_get(k, vni, id, net, port);
	if (p == NULL)
		return -ENOMEM;
	return shadow_ensure(k, p, v);
}

/* After mac left port p's VNI's local MACs: a remote entry for it is reported now. */
static void local_gone(struct riov_evpn_kernel *k, uint32_t vni, const uint8_t mac[6])
{
	struct evk_vni *v = vni_find(k, vni);
	if (v == NULL || local_owner(k, vni, mac) != NULL)
		return;
	struct evk_remote *r = remote_find(v, mac);
	if (r != NULL && !r->reported) {
		r->reported = true;
		tell_mac(k, true, vni, r->mac, r->vtep);
	}
}

int riov_evpn_kernel_port_del(struct riov_evpn_kernel *k, uint32_t id)
{
	for (size_t i = 0; i < k->n_port; i++) {
		struct evk_port *p = k->port[i];
		if (p->id != id)
			continue;
		int rc = p->ifindex ? link_del(k, p->ifindex) : 0;
		const uint32_t vni = p->vni;
		uint8_t (*macs)[6] = p->mac;
		const size_t n = p->n_mac;
		p->mac = NULL;
		port_remove(k, i);
		for (size_t j = 0; j < n; j++)
			local_gone(k, vni, macs[j]);
		free(macs);
		return rc;
	}
	return -ENOENT;
}

/* mac is local on p now (the kernel has it already): off any other port of the VNI, and a remote
 * entry reported for it is withdrawn. Returns 0 or -ENOMEM. */
static int local_added(struct riov_evpn_kernel *k, struct evk_port *p, const uint8_t mac[6])
{
	struct evk_port *old = local_owner(k, p->vni, mac);
	if (old != NULL && old != p) {
		ssize_t j = port_mac_idx(old, mac);
		memmove(old->mac[j], old->mac[--old->n_mac], 6);
	}
	if (port_mac_idx(p, mac) < 0) {
		if (EVK_GROW(p->mac, p->cap_mac, p->n_mac) != 0)
			return -ENOMEM;
		memcpy(p->mac[p->n_mac++], mac, 6);
	}
	struct evk_vni *v = vni_find(k, p->vni);
	struct evk_remote *r = v ? remote_find(v, mac) : NULL;
	if (r != NULL && r->reported) {
		r->reported = false;
		tell_mac(k, false, v->vni, r->mac, r->vtep);
	}
	return 0;
}

/* p's j-th local MAC is gone: a remote entry for it is reported now. */
static void local_removed(struct riov_evpn_kernel *k, struct evk_port *p, size_t j)
{
	uint8_t mac[6];
	memcpy(mac, p->mac[j], 6);
	memmove(p->mac[j], p->mac[--p->n_mac], 6);
	local_gone(k, p->vni, mac);
}

int riov_evpn_kernel_mac_add(struct riov_evpn_kernel *k, uint32_t id, const uint8_t mac[6])
{
	if (!mac_ok(mac))
		return -EINVAL;
	struct evk_port *p = port_find(k, id);
	if (p == NULL)
		return -ENOENT;
	if (p->ifindex == 0)
		return -ENODEV;
	/* a move within the VNI: NLM_F_REPLACE moves the kernel's entry in the same step */
	int rc = fdb_local(k, true, p->ifindex, mac);
	if (rc == 0)
		rc = local_added(k, p, mac);
	struct evk_vni *v = vni_find(k, p->vni);
	const struct evk_remote *r = v ? remote_find(v, mac) : NULL;
	if (rc == 0 && r != NULL)
		drop_stale_remote(k, v, r);
	return rc;
}

int riov_evpn_kernel_mac_del(struct riov_evpn_kernel *k, uint32_t id, const uint8_t mac[6])
{
	struct evk_port *p = mac ? port_find(k, id) : NULL;
	ssize_t j = p ? port_mac_idx(p, mac) : -1;

	if (j < 0)
		return -ENOENT;
	int rc = p->ifindex ? fdb_local(k, false, p->ifindex, mac) : 0;
	local_removed(k, p, (size_t)j);
	return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Reconciliation                                                                             */

struct link_list {
	struct evk_link *l;
	size_t n, cap;
	int err;
};

static int link_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_list *ll = data;
	struct evk_link l;
	if (!link_parse(nlh, &l) || !is_riov_link(&l))
		return MNL_CB_OK;
	if (EVK_GROW(ll->l, ll->cap, ll->n) != 0) {
		ll->err = -ENOMEM;
		return MNL_CB_OK;
	}
	ll->l[ll->n++] = l;
	return MNL_CB_OK;
}

/* Every interface with a riov name or alias. */
static int link_dump(struct riov_evpn_kernel *k, struct link_list *ll)
{
	char buf[256];
	struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, NLM_F_DUMP, 0);
	ll->n = 0;
	ll->err = 0;
	int rc = request(k, nlh, link_dump_cb, ll);
	return rc ? rc : ll->err;
}

static bool spec_ok(const struct riov_evpn_vni_spec *vnis, size_t n)
{
	if (n > 0 && vnis == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct riov_evpn_vni_spec *s = &vnis[i];
		if (!vni_args_ok(s->vni, s->local, s->mtu) || (s->n_ports > 0 && s->ports == NULL))
			return false;
		for (size_t j = 0; j < i; j++)
			if (vnis[j].vni == s->vni)
				return false;
		for (size_t p = 0; p < s->n_ports; p++) {
			const struct riov_evpn_port_spec *ps = &s->ports[p];
			if (!name_ok(ps->net) || !name_ok(ps->port) || (ps->n_macs > 0 && ps->macs == NULL))
				return false;
			for (size_t m = 0; m < ps->n_macs; m++)
				if (!mac_ok(ps->macs[m]))
					return false;
			/* a port id once in the whole spec */
			for (size_t i2 = 0; i2 <= i; i2++)
				for (size_t p2 = 0; p2 < (i2 == i ? p : vnis[i2].n_ports); p2++)
					if (vnis[i2].ports[p2].id == ps->id)
						return false;
		}
	}
	return true;
}

static const struct riov_evpn_port_spec *spec_port(const struct riov_evpn_vni_spec *vnis, size_t n,
						   uint32_t id, uint32_t *vni)
{
	for (size_t i = 0; i < n; i++)
		for (size_t p = 0; p < vnis[i].n_ports; p++)
			if (vnis[i].ports[p].id == id) {
				*vni = vnis[i].vni;
				return &vnis[i].ports[p];
			}
	return NULL;
}

static bool wanted_name(const struct riov_evpn_vni_spec *vnis, size_t n, const char *name)
{
	char want[IFNAMSIZ];
	for (size_t i = 0; i < n; i++) {
		name_of(want, RIOV_EVPN_BRIDGE_PREFIX, vnis[i].vni);
		if (strcmp(want, name) == 0)
			return true;
		name_of(want, RIOV_EVPN_VXLAN_PREFIX, vnis[i].vni);
		if (vnis[i].local != 0 && strcmp(want, name) == 0)
			return true;   /* without a VTEP address, the VNI has none */
		for (size_t p = 0; p < vnis[i].n_ports; p++) {
			name_of(want, RIOV_EVPN_SHADOW_PREFIX, vnis[i].ports[p].id);
			if (strcmp(want, name) == 0)
				return true;
		}
	}
	return false;
}

/* A wanted port's TAP that is there under another name (its alias names the port: riovd gave
 * the port another id this time) is renamed, so that zebra sees no withdrawal: the TAP, its
 * ifindex and its FDB entries stay. Ids can shift or swap (a restart without the uplink, which
 * took an id before), so names are taken by each other: the TAPs to rename get a temporary name
 * first, then a device still holding a wanted name is deleted (riovd's by its name, and not the
 * TAP its port's alias names; the stale pass would delete it anyway), then the TAPs get their
 * names. A TAP left with its temporary name (a rename refused) is stale: deleted, and made again. */
static void rename_by_alias(struct riov_evpn_kernel *k, struct link_list *ll,
			    const struct riov_evpn_vni_spec *vnis, size_t n)
{
	struct move {
		struct evk_link *l;
		char name[IFNAMSIZ];
	} *mv = calloc(ll->n + 1, sizeof(*mv));
	char name[IFNAMSIZ], alias[256];
	size_t nm = 0;

	if (mv == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t p = 0; p < vnis[i].n_ports; p++) {
			const struct riov_evpn_port_spec *ps = &vnis[i].ports[p];
			name_of(name, RIOV_EVPN_SHADOW_PREFIX, ps->id);
			alias_of(alias, sizeof(alias), ps->net, ps->port);
			struct evk_link *have = NULL, *cand = NULL;
			for (size_t j = 0; j < ll->n; j++) {
				struct evk_link *l = &ll->l[j];
				if (strcmp(l->alias, alias) != 0 || strcmp(l->kind, "tun") != 0 || l->tun_type != IFF_TAP)
					continue;
				if (strcmp(l->name, name) == 0)
					have = l;
				else
					cand = cand != NULL ? cand : l;
			}
			bool taken = false;
			for (size_t m = 0; m < nm && !taken; m++)
				taken = mv[m].l == cand;
			if (have != NULL || cand == NULL || taken)
				continue;
			mv[nm].l = cand;
			snprintf(mv[nm].name, sizeof(mv[nm].name), "%s", name);
			nm++;
		}
	}
	/* 1. out of each other's way */
	for (size_t m = 0; m < nm; m++) {
		struct evk_link *l = mv[m].l;
		snprintf(name, sizeof(name), "rvtmp%u", l->ifindex);
		if (link_set(k, l->ifindex, &(struct evk_set){ .up = 0 }) != 0 ||
		    link_set(k, l->ifindex, &(struct evk_set){ .name = name, .up = -1 }) != 0) {
			mv[m].l = NULL;   /* left as it is */
			continue;
		}
		snprintf(l->name, sizeof(l->name), "%s", name);
	}
	/* 2. their names */
	for (size_t m = 0; m < nm; m++) {
		struct evk_link *l = mv[m].l;
		if (l == NULL)
			continue;
		for (size_t j = 0; j < ll->n; j++) {
			struct evk_link *o = &ll->l[j];
			if (o->ifindex == 0 || strcmp(o->name, mv[m].name) != 0)
				continue;
			RIOV_LOG(RIOV_LOG_INFO, "%s%s%s: in the way of %s's TAP, deleted", o->name, o->alias[0] ? " " : "",
				 o->alias, l->alias);
			if (link_del(k, o->ifindex) == 0)
				o->ifindex = 0;
		}
		snprintf(name, sizeof(name), "%s", l->name);
		if (link_set(k, l->ifindex, &(struct evk_set){ .name = mv[m].name, .up = -1 }) == 0) {
			RIOV_LOG(RIOV_LOG_INFO, "%s (%s) renamed %s", name, l->alias, mv[m].name);
			snprintf(l->name, sizeof(l->name), "%s", mv[m].name);
		}
	}
	free(mv);
}

/* Context state := the spec (what it forgets is not reported). */
static int state_from_spec(struct riov_evpn_kernel *k, const struct riov_evpn_vni_spec *vnis, size_t n)
{
	for (size_t i = 0; i < k->n_port;) {
		uint32_t vni;
		if (spec_port(vnis, n, k->port[i]->id, &vni) == NULL)
			port_remove(k, i);
		else
			i++;
	}
	for (size_t i = 0; i < k->n_vni;) {
		bool keep = false;
		for (size_t j = 0; j < n && !keep; j++)
			keep = vnis[j].vni == k->vni[i]->vni;
		if (keep) {
			i++;
			continue;
		}
		vni_free(k->vni[i]);
		k->vni[i] = k->vni[--k->n_vni];
	}
	for (size_t i = 0; i < n; i++) {
		if (vni_get(k, vnis[i].vni, vnis[i].local, vnis[i].mtu) == NULL)
			return -ENOMEM;
		for (size_t p = 0; p < vnis[i].n_ports; p++) {
			const struct riov_evpn_port_spec *ps = &vnis[i].ports[p];
			struct evk_port *pp = port_get(k, vnis[i].vni, ps->id, ps->net, ps->port);
			if (pp == NULL)
				return -ENOMEM;
			pp->n_mac = 0;
			for (size_t m = 0; m < ps->n_macs; m++) {
				if (port_mac_idx(pp, ps->macs[m]) >= 0)
					continue;
				if (EVK_GROW(pp->mac, pp->cap_mac, pp->n_mac) != 0)
					return -ENOMEM;
				memcpy(pp->mac[pp->n_mac++], ps->macs[m], 6);
			}
		}
	}
	return 0;
}

/* One bridge FDB entry on a shadow TAP that riovd could have written. */
struct local_entry {
	uint32_t ifindex;
	uint8_t mac[6];
};

struct local_list {
	const struct riov_evpn_kernel *k;
	struct local_entry *e;
	size_t n, cap;
	int err;
};

static int local_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct local_list *ll = data;
	const uint8_t *mac = NULL;
	bool master = false;

	if (nlh->nlmsg_type != RTM_NEWNEIGH || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ndmsg))
		return MNL_CB_OK;
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	/* the bridge's entries (not the TAP's own "self" list), not its own address (permanent) */
	if (nd->ndm_family != AF_BRIDGE || nd->ndm_ifindex <= 0 || (nd->ndm_flags & NTF_SELF) ||
	    (nd->ndm_state & NUD_PERMANENT))
		return MNL_CB_OK;
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(*nd)) {
		if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_validate2(a, MNL_TYPE_BINARY, 6) == 0)
			mac = mnl_attr_get_payload(a);
		else if (mnl_attr_get_type(a) == NDA_MASTER)
			master = true;
		else if (mnl_attr_get_type(a) == NDA_VLAN)
			return MNL_CB_OK;   /* riov's bridges are VLAN-unaware: not ours */
	}
	if (mac == NULL || !master)
		return MNL_CB_OK;
	bool ours = false;
	for (size_t i = 0; i < ll->k->n_port && !ours; i++)
		ours = ll->k->port[i]->ifindex == (uint32_t)nd->ndm_ifindex;
	if (!ours)
		return MNL_CB_OK;
	if (EVK_GROW(ll->e, ll->cap, ll->n) != 0) {
		ll->err = -ENOMEM;
		return MNL_CB_OK;
	}
	ll->e[ll->n].ifindex = (uint32_t)nd->ndm_ifindex;
	memcpy(ll->e[ll->n].mac, mac, 6);
	ll->n++;
	return MNL_CB_OK;
}

/* The shadow TAPs' FDB entries := the ports' local MACs. */
static int local_fdb_fix(struct riov_evpn_kernel *k)
{
	struct local_list ll = { .k = k };
	int rc = fdb_dump(k, local_dump_cb, &ll);
	if (rc == 0)
		rc = ll.err;
	/* an entry on a wanted port's TAP that is not one of its static MACs was a learned MAC of
	 * the previous run: kept (adopted as local), so that a restart withdraws nothing; the
	 * service ages it (riov_evpn_kernel_port_macs) */
	for (size_t i = 0; rc == 0 && i < ll.n; i++) {
		for (size_t j = 0; j < k->n_port; j++) {
			struct evk_port *p = k->port[j];
			if (p->ifindex != ll.e[i].ifindex || port_mac_idx(p, ll.e[i].mac) >= 0)
				continue;
			if (EVK_GROW(p->mac, p->cap_mac, p->n_mac) != 0) {
				rc = -ENOMEM;
				break;
			}
			memcpy(p->mac[p->n_mac++], ll.e[i].mac, 6);
		}
	}
	free(ll.e);
	for (size_t j = 0; j < k->n_port; j++) {
		const struct evk_port *p = k->port[j];
		for (size_t m = 0; p->ifindex != 0 && m < p->n_mac; m++) {
			int r = fdb_local(k, true, p->ifindex, p->mac[m]);
			rc = rc ? rc : r;
		}
	}
	return rc;
}

int riov_evpn_kernel_reconcile(struct riov_evpn_kernel *k, const struct riov_evpn_vni_spec *vnis, size_t n)
{
	struct link_list ll = { 0 };
	int rc, r;

	if (!spec_ok(vnis, n))
		return -EINVAL;
	/* 1. what a previous run left: renamed when the alias says which port it is, deleted
	 *    when not wanted (shadow TAPs, then vxlan devices, then bridges) */
	rc = link_dump(k, &ll);
	if (rc == 0) {
		rename_by_alias(k, &ll, vnis, n);
		static const char *const order[] = { RIOV_EVPN_SHADOW_PREFIX, RIOV_EVPN_VXLAN_PREFIX, NULL };
		for (unsigned pass = 0; pass < 3; pass++) {
			for (size_t j = 0; j < ll.n; j++) {
				const struct evk_link *l = &ll.l[j];
				if (l->ifindex == 0 || wanted_name(vnis, n, l->name))
					continue;
				bool now = order[pass] == NULL || is_riov_name(l->name, order[pass]) ||
					   (pass == 0 && strcmp(l->kind, "tun") == 0);
				if (!now)
					continue;
				RIOV_LOG(RIOV_LOG_INFO, "%s%s%s: stale (not in riovd's state), deleted", l->name,
					 l->alias[0] ? " " : "", l->alias);
				r = link_del(k, l->ifindex);
				rc = rc ? rc : r;
				ll.l[j].ifindex = 0;
			}
		}
	}
	free(ll.l);
	/* 2. the context's state becomes the spec, and the kernel what it says */
	r = state_from_spec(k, vnis, n);
	if (r != 0)
		return r;
	for (size_t i = 0; i < k->n_vni; i++) {
		r = vni_ensure(k, k->vni[i]);
		rc = rc ? rc : r;
	}
	for (size_t i = 0; i < k->n_port; i++) {
		const struct evk_vni *v = vni_find(k, k->port[i]->vni);
		r = v ? shadow_ensure(k, k->port[i], v) : -ENOENT;
		rc = rc ? rc : r;
	}
	/* 3. local MACs, then what zebra holds (less what riovd has as local now) */
	r = local_fdb_fix(k);
	rc = rc ? rc : r;
	r = riov_evpn_kernel_resync(k);
	rc = rc ? rc : r;
	for (size_t i = 0; i < k->n_vni; i++)
		for (size_t j = 0; j < k->vni[i]->n_rm; j++)
			if (local_owner(k, k->vni[i]->vni, k->vni[i]->rm[j].mac) != NULL)
				drop_stale_remote(k, k->vni[i], &k->vni[i]->rm[j]);
	return rc;
}

int riov_evpn_kernel_port_macs(const struct riov_evpn_kernel *k, uint32_t id, const uint8_t (**macs)[6], size_t *n)
{
	for (size_t i = 0; i < k->n_port; i++) {
		if (k->port[i]->id == id) {
			*macs = (const uint8_t(*)[6])k->port[i]->mac;
			*n = k->port[i]->n_mac;
			return 0;
		}
	}
	return -ENOENT;
}
