/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rtnetlink requests to the kernel beside riovd (see kernel_net.h).
 */
#include "control/kernel_net.h"

#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
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
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);
	return 0;
}

/* Send nlh and run cb over the answer until the kernel's ACK, error or DONE. Returns 0 or -errno
 * (the kernel's error, or the socket's). */
static int kn_talk(struct kn_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	nlh->nlmsg_seq = ++s->seq;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		int rc = mnl_cb_run(buf, (size_t)n, s->seq, s->portid, cb, data);
		if (rc == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (rc == MNL_CB_STOP)
			return 0;
	}
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
