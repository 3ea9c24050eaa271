/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rtnetlink requests to the kernel beside riovd (see kernel_net.h): addresses, routes and next
 * hops of uplinks' exception interfaces, and SR-IOV VF settings through the PF's driver.
 */
#include "control/kernel_net.h"

#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#define KN_TIMEOUT_S 2

struct kn_sock {
	struct mnl_socket *nl;
	unsigned portid;
	uint32_t seq;
};

static int kn_open(struct kn_sock *s)
{
	s->nl = mnl_socket_open(NETLINK_ROUTE);
	if (s->nl == NULL)
		return -errno;
	const struct timeval tv = { .tv_sec = KN_TIMEOUT_S };
	if (setsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = -errno;
		mnl_socket_close(s->nl);
		return e;
	}
	/* the kernel's own words on a refusal (extended ACK), without a copy of the request; an
	 * older kernel without them still answers with the error number */
	int one = 1;
	mnl_socket_setsockopt(s->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);
	return 0;
}

/* One request's answer: the caller's callback, and the kernel's error and extended ACK message. */
struct kn_answer {
	mnl_cb_t cb;
	void *data;
	int error;           /* the kernel's -errno (0: acknowledged or answered) */
	char *msg;           /* its NLMSGERR_ATTR_MSG, when it sent one and msg is not NULL */
	size_t msglen;
};

static int kn_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kn_answer *a = data;
	return a->cb != NULL ? a->cb(nlh, a->data) : MNL_CB_OK;
}

static int kn_extack_attr(const struct nlattr *at, void *data)
{
	struct kn_answer *a = data;
	if (mnl_attr_get_type(at) == NLMSGERR_ATTR_MSG && mnl_attr_validate(at, MNL_TYPE_NUL_STRING) == 0)
		snprintf(a->msg, a->msglen, "%s", mnl_attr_get_str(at));
	return MNL_CB_OK;
}

/* NLMSG_ERROR: an ACK (error 0) or a refusal, with the kernel's message in its TLVs
 * (NETLINK_EXT_ACK; the request is not copied back with NETLINK_CAP_ACK, NLM_F_CAPPED). */
static int kn_error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kn_answer *a = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	a->error = e->error > 0 ? -e->error : e->error;
	if (a->error != 0 && a->msg != NULL && (nlh->nlmsg_flags & NLM_F_ACK_TLVS) &&
	    (nlh->nlmsg_flags & NLM_F_CAPPED))
		mnl_attr_parse(nlh, sizeof(*e), kn_extack_attr, a);
	return MNL_CB_STOP;
}

static int kn_done_cb(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_STOP;
}

/* Send nlh and run cb over the answer until the kernel's ACK, error or DONE. Returns 0 or -errno
 * (the kernel's error, with its extended ACK message in msg when msg is not NULL and it sent one,
 * or the socket's). */
static int kn_talk_msg(struct kn_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, char *msg,
		       size_t msglen)
{
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = kn_error_cb,
						      [NLMSG_DONE] = kn_done_cb };
	struct kn_answer a = { cb, data, 0, msglen ? msg : NULL, msglen };
	/* a PF's RTM_NEWLINK with its VFs is larger than a page */
	char buf[32768];

	if (a.msg != NULL)
		a.msg[0] = '\0';
	nlh->nlmsg_seq = ++s->seq;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		errno = 0;
		int rc = mnl_cb_run2(buf, (size_t)n, s->seq, s->portid, kn_data_cb, &a, ctl,
				     NLMSG_MIN_TYPE);
		if (rc == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (rc == MNL_CB_STOP)
			return a.error;
	}
}

static int kn_talk(struct kn_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	return kn_talk_msg(s, nlh, cb, data, NULL, 0);
}

/* ---- route ---- */

struct kn_route {
	bool found;
	uint32_t oif, gw, src;
};

static int kn_route_attr(const struct nlattr *a, void *data)
{
	struct kn_route *r = data;
	switch (mnl_attr_get_type(a)) {
	case RTA_OIF:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			r->oif = mnl_attr_get_u32(a);
		break;
	case RTA_GATEWAY:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			r->gw = mnl_attr_get_u32(a);
		break;
	case RTA_PREFSRC:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			r->src = mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static int kn_route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kn_route *r = data;
	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	r->found = true;
	mnl_attr_parse(nlh, sizeof(struct rtmsg), kn_route_attr, r);
	return MNL_CB_STOP;
}

/* ---- neighbour ---- */

struct kn_neigh {
	bool found;
	uint16_t state;
	uint8_t mac[6];
	bool has_mac;
};

static int kn_neigh_attr(const struct nlattr *a, void *data)
{
	struct kn_neigh *ng = data;
	if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6) {
		memcpy(ng->mac, mnl_attr_get_payload(a), 6);
		ng->has_mac = true;
	}
	return MNL_CB_OK;
}

static int kn_neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kn_neigh *ng = data;
	if (nlh->nlmsg_type != RTM_NEWNEIGH)
		return MNL_CB_OK;
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	ng->found = true;
	ng->state = nd->ndm_state;
	mnl_attr_parse(nlh, sizeof(*nd), kn_neigh_attr, ng);
	return MNL_CB_STOP;
}

int riov_kernel_nexthop(uint32_t dst, struct riov_kernel_nh *nh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct kn_sock s;
	struct kn_route r = { 0 };
	struct kn_neigh ng = { 0 };

	memset(nh, 0, sizeof(*nh));
	int rc = kn_open(&s);
	if (rc != 0)
		return rc;

	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	struct rtmsg *rm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rm));
	rm->rtm_family = AF_INET;
	rm->rtm_dst_len = 32;
	mnl_attr_put_u32(nlh, RTA_DST, dst);
	rc = kn_talk(&s, nlh, kn_route_cb, &r);
	if (rc == -ENETUNREACH || rc == -EHOSTUNREACH || (rc == 0 && (!r.found || r.oif == 0))) {
		rc = -ENETUNREACH;
		goto out;
	}
	if (rc != 0)
		goto out;
	nh->ifindex = r.oif;
	nh->via = r.gw ? r.gw : dst;
	nh->src = r.src;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = AF_INET;
	nd->ndm_ifindex = (int)r.oif;
	mnl_attr_put_u32(nlh, NDA_DST, nh->via);
	rc = kn_talk(&s, nlh, kn_neigh_cb, &ng);
	if (rc == -ENOENT || (rc == 0 && (!ng.found || !ng.has_mac ||
					  (ng.state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP))))) {
		rc = -EHOSTUNREACH;
		goto out;
	}
	if (rc == 0)
		memcpy(nh->mac, ng.mac, 6);
out:
	mnl_socket_close(s.nl);
	return rc;
}

/* The socket for a request about interface ifname: *idx its index. Returns 0, -EINVAL (no name,
 * or too long), -ENODEV (no such interface) or -errno. */
static int kn_open_for(const char *ifname, unsigned *idx, struct kn_sock *s)
{
	if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	*idx = if_nametoindex(ifname);
	if (*idx == 0)
		return -ENODEV;
	return kn_open(s);
}

int riov_kernel_addr_add(const char *ifname, uint32_t addr, unsigned prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct kn_sock s;

	unsigned idx;

	if (prefix < 1 || prefix > 32)
		return -EINVAL;
	int rc = kn_open_for(ifname, &idx, &s);
	if (rc != 0)
		return rc;

	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	struct ifaddrmsg *ia = mnl_nlmsg_put_extra_header(nlh, sizeof(*ia));
	ia->ifa_family = AF_INET;
	ia->ifa_prefixlen = (uint8_t)prefix;
	ia->ifa_index = idx;
	mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, addr);
	rc = kn_talk(&s, nlh, NULL, NULL);
	if (rc == 0) {
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_NEWLINK;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
		struct ifinfomsg *ii = mnl_nlmsg_put_extra_header(nlh, sizeof(*ii));
		ii->ifi_family = AF_UNSPEC;
		ii->ifi_index = (int)idx;
		ii->ifi_flags = IFF_UP;
		ii->ifi_change = IFF_UP;
		rc = kn_talk(&s, nlh, NULL, NULL);
	}
	mnl_socket_close(s.nl);
	return rc;
}

int riov_kernel_route_add(const char *ifname, uint32_t dst, unsigned prefix, uint32_t gw)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct kn_sock s;

	unsigned idx;

	if (prefix > 32)
		return -EINVAL;
	int rc = kn_open_for(ifname, &idx, &s);
	if (rc != 0)
		return rc;

	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	struct rtmsg *rm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rm));
	rm->rtm_family = AF_INET;
	rm->rtm_dst_len = (uint8_t)prefix;
	rm->rtm_table = RT_TABLE_MAIN;
	rm->rtm_protocol = RTPROT_STATIC;
	rm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rm->rtm_type = RTN_UNICAST;
	if (prefix)
		mnl_attr_put_u32(nlh, RTA_DST, dst);
	if (gw)
		mnl_attr_put_u32(nlh, RTA_GATEWAY, gw);
	mnl_attr_put_u32(nlh, RTA_OIF, idx);
	rc = kn_talk(&s, nlh, NULL, NULL);
	mnl_socket_close(s.nl);
	return rc;
}

int riov_kernel_neigh_resolve(uint32_t ifindex, uint32_t ip)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct kn_sock s;

	if (ifindex == 0 || ip == 0)
		return -EINVAL;
	int rc = kn_open(&s);
	if (rc != 0)
		return rc;
	/* NTF_USE: the kernel treats the entry as used by traffic and resolves it if it must (its own
	 * ARP, retries and timers); an existing entry is left as it is */
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = AF_INET;
	nd->ndm_ifindex = (int)ifindex;
	nd->ndm_state = NUD_NONE;
	nd->ndm_flags = NTF_USE;
	mnl_attr_put_u32(nlh, NDA_DST, ip);
	rc = kn_talk(&s, nlh, NULL, NULL);
	mnl_socket_close(s.nl);
	return rc;
}

/* ---- SR-IOV VFs ---- */

/* Room for a request with RIOV_KVF_MAX VFs: each IFLA_VF_INFO with every setting is under 160
 * bytes. */
#define KVF_BUF (RIOV_KVF_MAX * 160 + 512)

/* One VF's IFLA_VF_INFO into nlh. Returns false when buf (len bytes) is full. */
static bool kvf_put_info(struct nlmsghdr *nlh, size_t len, const struct riov_kernel_vf *v)
{
	struct nlattr *info = mnl_attr_nest_start_check(nlh, len, IFLA_VF_INFO);
	bool ok = info != NULL;

	if (ok && (v->fields & RIOV_KVF_MAC)) {
		struct ifla_vf_mac m = { .vf = v->vf };
		memcpy(m.mac, v->mac, sizeof(v->mac));
		ok = mnl_attr_put_check(nlh, len, IFLA_VF_MAC, sizeof(m), &m);
	}
	if (ok && (v->fields & RIOV_KVF_VLAN)) {
		struct ifla_vf_vlan m = { .vf = v->vf, .vlan = v->vlan, .qos = v->qos };
		ok = mnl_attr_put_check(nlh, len, IFLA_VF_VLAN, sizeof(m), &m);
	}
	if (ok && (v->fields & RIOV_KVF_SPOOFCHK)) {
		struct ifla_vf_spoofchk m = { .vf = v->vf, .setting = v->spoofchk };
		ok = mnl_attr_put_check(nlh, len, IFLA_VF_SPOOFCHK, sizeof(m), &m);
	}
	if (ok && (v->fields & RIOV_KVF_TRUST)) {
		struct ifla_vf_trust m = { .vf = v->vf, .setting = v->trust };
		ok = mnl_attr_put_check(nlh, len, IFLA_VF_TRUST, sizeof(m), &m);
	}
	if (ok && (v->fields & RIOV_KVF_LINK_STATE)) {
		struct ifla_vf_link_state m = { .vf = v->vf, .link_state = v->link_state };
		ok = mnl_attr_put_check(nlh, len, IFLA_VF_LINK_STATE, sizeof(m), &m);
	}
	if (ok && (v->fields & RIOV_KVF_RATE)) {
		struct ifla_vf_rate m = { .vf = v->vf, .min_tx_rate = v->min_tx_rate,
					  .max_tx_rate = v->max_tx_rate };
		ok = mnl_attr_put_check(nlh, len, IFLA_VF_RATE, sizeof(m), &m);
	}
	if (ok)
		mnl_attr_nest_end(nlh, info);
	return ok;
}

/* The RTM_SETLINK that sets vfs[0..n) on interface ifindex, built in buf (len bytes). Returns the
 * message, or NULL when it does not fit. */
static struct nlmsghdr *kvf_build_set(void *buf, size_t len, unsigned ifindex,
				      const struct riov_kernel_vf *vfs, unsigned n)
{
	if (len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct ifinfomsg)) + 64)
		return NULL;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_SETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	struct ifinfomsg *ii = mnl_nlmsg_put_extra_header(nlh, sizeof(*ii));
	ii->ifi_family = AF_UNSPEC;
	ii->ifi_index = (int)ifindex;
	struct nlattr *list = mnl_attr_nest_start_check(nlh, len, IFLA_VFINFO_LIST);
	if (list == NULL)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		if (!kvf_put_info(nlh, len, &vfs[i]))
			return NULL;
	mnl_attr_nest_end(nlh, list);
	return nlh;
}

/* The RTM_GETLINK of interface ifindex with its VFs (and without their counters). */
static struct nlmsghdr *kvf_build_get(void *buf, unsigned ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	struct ifinfomsg *ii = mnl_nlmsg_put_extra_header(nlh, sizeof(*ii));
	ii->ifi_family = AF_UNSPEC;
	ii->ifi_index = (int)ifindex;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS);
	return nlh;
}

/* A VF attribute's payload into m (len bytes) when it holds that much; every VF attribute's
 * struct starts with the VF's index, which goes to v->vf. Returns false for a short one. */
static bool kvf_take(const struct nlattr *a, void *m, size_t len, struct riov_kernel_vf *v)
{
	if (mnl_attr_get_payload_len(a) < len)
		return false;
	memcpy(m, mnl_attr_get_payload(a), len);
	memcpy(&v->vf, m, sizeof(v->vf));
	return true;
}

/* One IFLA_VF_INFO into *v (fields: what it reported; a driver that does not report spoof check
 * or trust sends (u32)-1 for it). Returns false when it names no VF (no attribute riov reads, or
 * each too short). */
static bool kvf_parse_info(const struct nlattr *info, struct riov_kernel_vf *v)
{
	const struct nlattr *a;
	bool named = false;

	memset(v, 0, sizeof(*v));
	mnl_attr_for_each_nested(a, info) {
		union {
			struct ifla_vf_mac mac;
			struct ifla_vf_vlan vlan;
			struct ifla_vf_spoofchk spoofchk;
			struct ifla_vf_trust trust;
			struct ifla_vf_link_state link;
			struct ifla_vf_rate rate;
		} m;
		switch (mnl_attr_get_type(a)) {
		case IFLA_VF_MAC:
			if (!kvf_take(a, &m, sizeof(m.mac), v))
				continue;
			memcpy(v->mac, m.mac.mac, sizeof(v->mac));
			v->fields |= RIOV_KVF_MAC;
			break;
		case IFLA_VF_VLAN:
			if (!kvf_take(a, &m, sizeof(m.vlan), v))
				continue;
			v->vlan = (uint16_t)m.vlan.vlan;
			v->qos = (uint8_t)m.vlan.qos;
			v->fields |= RIOV_KVF_VLAN;
			break;
		case IFLA_VF_SPOOFCHK:
			if (!kvf_take(a, &m, sizeof(m.spoofchk), v))
				continue;
			v->spoofchk = m.spoofchk.setting == 1;
			v->fields |= m.spoofchk.setting <= 1 ? RIOV_KVF_SPOOFCHK : 0;
			break;
		case IFLA_VF_TRUST:
			if (!kvf_take(a, &m, sizeof(m.trust), v))
				continue;
			v->trust = m.trust.setting == 1;
			v->fields |= m.trust.setting <= 1 ? RIOV_KVF_TRUST : 0;
			break;
		case IFLA_VF_LINK_STATE:
			if (!kvf_take(a, &m, sizeof(m.link), v))
				continue;
			v->link_state = m.link.link_state;
			v->fields |= RIOV_KVF_LINK_STATE;
			break;
		case IFLA_VF_RATE:
			if (!kvf_take(a, &m, sizeof(m.rate), v))
				continue;
			v->min_tx_rate = m.rate.min_tx_rate;
			v->max_tx_rate = m.rate.max_tx_rate;
			v->fields |= RIOV_KVF_RATE;
			break;
		default:
			continue;
		}
		named = true;
	}
	return named;
}

/* What riov_kernel_vf_get() collects from the RTM_NEWLINK answer. */
struct kvf_list {
	struct riov_kernel_vf *out;
	unsigned max, n;
	bool answered;
};

static int kvf_link_attr(const struct nlattr *a, void *data)
{
	struct kvf_list *l = data;
	const struct nlattr *info;

	if (mnl_attr_get_type(a) != IFLA_VFINFO_LIST)
		return MNL_CB_OK;
	mnl_attr_for_each_nested(info, a) {
		if (mnl_attr_get_type(info) != IFLA_VF_INFO || l->n >= l->max)
			continue;
		if (kvf_parse_info(info, &l->out[l->n]))
			l->n++;
	}
	return MNL_CB_OK;
}

/* An RTM_NEWLINK: its VFs into l. */
static int kvf_parse_link(const struct nlmsghdr *nlh, void *data)
{
	struct kvf_list *l = data;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
		return MNL_CB_OK;
	l->answered = true;
	mnl_attr_parse(nlh, sizeof(struct ifinfomsg), kvf_link_attr, l);
	return MNL_CB_STOP;
}

int riov_kernel_vf_set(const char *ifname, const struct riov_kernel_vf *vfs, unsigned n,
		       char *err, size_t errlen)
{
	struct kn_sock s;
	unsigned idx;
	char ext[256];

	err[0] = '\0';
	if (n == 0 || n > RIOV_KVF_MAX)
		return -EINVAL;
	int rc = kn_open_for(ifname, &idx, &s);
	if (rc != 0)
		return rc;
	char *buf = malloc(KVF_BUF);
	struct nlmsghdr *nlh = buf ? kvf_build_set(buf, KVF_BUF, idx, vfs, n) : NULL;
	if (nlh == NULL) {
		rc = buf ? -EINVAL : -ENOMEM;
		goto out;
	}
	rc = kn_talk_msg(&s, nlh, NULL, NULL, ext, sizeof(ext));
	if (rc != 0)
		snprintf(err, errlen, "%s%s%s", strerror(-rc), ext[0] ? ": " : "", ext);
out:
	free(buf);
	mnl_socket_close(s.nl);
	return rc;
}

int riov_kernel_vf_get(const char *ifname, struct riov_kernel_vf *out, unsigned max, unsigned *n,
		       char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE], ext[256];
	struct kn_sock s;
	struct kvf_list l = { out, max, 0, false };
	unsigned idx;

	err[0] = '\0';
	*n = 0;
	int rc = kn_open_for(ifname, &idx, &s);
	if (rc != 0)
		return rc;
	rc = kn_talk_msg(&s, kvf_build_get(buf, idx), kvf_parse_link, &l, ext, sizeof(ext));
	mnl_socket_close(s.nl);
	if (rc == 0 && !l.answered)
		rc = -EIO;
	if (rc != 0) {
		snprintf(err, errlen, "%s%s%s", strerror(-rc), ext[0] ? ": " : "", ext);
		return rc;
	}
	*n = l.n;
	return 0;
}
