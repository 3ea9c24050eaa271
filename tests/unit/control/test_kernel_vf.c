/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SR-IOV VF settings by rtnetlink (control/kernel_net.c, included for its static helpers): the
 * RTM_SETLINK riovd builds (IFLA_VFINFO_LIST of IFLA_VF_INFO), read back with libmnl, attribute by
 * attribute and through the parser of the kernel's RTM_NEWLINK answer; what the parser makes of a
 * driver that does not report a setting; the kernel's extended ACK message taken from an
 * NLMSG_ERROR. Then, as root in a network namespace of its own (else those cases are skipped), a
 * veth, whose driver has no VFs: the kernel refuses the settings, riovd says so, and the veth is
 * unchanged.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/kernel_net.c"
#include "netns_util.h"
#include "riov_test.h"

static const struct riov_kernel_vf vf0 = {
	.vf = 0, .fields = RIOV_KVF_MAC | RIOV_KVF_VLAN | RIOV_KVF_SPOOFCHK | RIOV_KVF_RATE,
	.mac = { 0x02, 0x00, 0x00, 0x19, 0x00, 0x01 }, .vlan = 4095, .qos = 7, .spoofchk = true,
	.max_tx_rate = 1000,
};
static const struct riov_kernel_vf vf1 = {
	.vf = 1, .fields = RIOV_KVF_TRUST | RIOV_KVF_LINK_STATE, .trust = true,
	.link_state = IFLA_VF_LINK_STATE_DISABLE,
};

/* the attributes of one IFLA_VF_INFO, counted by type */
static int count_attr(const struct nlattr *a, void *data)
{
	unsigned *seen = data;
	if (mnl_attr_get_type(a) <= IFLA_VF_MAX)
		seen[mnl_attr_get_type(a)]++;
	return MNL_CB_OK;
}

RIOV_TEST(setlink_message_reads_back)
{
	static char buf[KVF_BUF];
	const struct riov_kernel_vf in[2] = { vf0, vf1 };
	struct nlmsghdr *nlh = kvf_build_set(buf, sizeof(buf), 42, in, 2);

	CHECK(nlh != NULL);
	if (nlh == NULL)
		return;
	CHECK_EQ(nlh->nlmsg_type, RTM_SETLINK);
	CHECK((nlh->nlmsg_flags & (NLM_F_REQUEST | NLM_F_ACK)) == (NLM_F_REQUEST | NLM_F_ACK));
	const struct ifinfomsg *ii = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ(ii->ifi_index, 42);
	CHECK_EQ(ii->ifi_family, AF_UNSPEC);
	/* one IFLA_VFINFO_LIST, two IFLA_VF_INFO, only the attributes each entry sets */
	const struct nlattr *list = NULL, *info;
	mnl_attr_for_each(list, nlh, sizeof(*ii))
		if (mnl_attr_get_type(list) == IFLA_VFINFO_LIST)
			break;
	CHECK(list != NULL && mnl_attr_get_type(list) == IFLA_VFINFO_LIST);
	unsigned n = 0, seen[2][IFLA_VF_MAX + 1] = { { 0 } };
	mnl_attr_for_each_nested(info, list) {
		CHECK_EQ(mnl_attr_get_type(info), IFLA_VF_INFO);
		if (n < 2)
			mnl_attr_parse_nested(info, count_attr, seen[n]);
		n++;
	}
	CHECK_EQ(n, 2);
	CHECK(seen[0][IFLA_VF_MAC] == 1 && seen[0][IFLA_VF_VLAN] == 1 && seen[0][IFLA_VF_SPOOFCHK] == 1 &&
	      seen[0][IFLA_VF_RATE] == 1 && seen[0][IFLA_VF_TRUST] == 0 && seen[0][IFLA_VF_LINK_STATE] == 0);
	CHECK(seen[1][IFLA_VF_TRUST] == 1 && seen[1][IFLA_VF_LINK_STATE] == 1 && seen[1][IFLA_VF_MAC] == 0 &&
	      seen[1][IFLA_VF_VLAN] == 0 && seen[1][IFLA_VF_SPOOFCHK] == 0 && seen[1][IFLA_VF_RATE] == 0);
	/* the parser of the kernel's answer reads the same values back */
	struct riov_kernel_vf out[4];
	struct kvf_list l = { out, 4, 0, false };
	mnl_attr_parse(nlh, sizeof(*ii), kvf_link_attr, &l);
	CHECK_EQ(l.n, 2);
	CHECK_EQ(out[0].vf, 0);
	CHECK_EQ(out[0].fields, vf0.fields);
	CHECK(memcmp(out[0].mac, vf0.mac, 6) == 0);
	CHECK(out[0].vlan == 4095 && out[0].qos == 7 && out[0].spoofchk && out[0].max_tx_rate == 1000 &&
	      out[0].min_tx_rate == 0);
	/* VF 1's entry has no MAC: its index comes from its other attributes */
	CHECK_EQ(out[1].vf, 1);
	CHECK_EQ(out[1].fields, vf1.fields);
	CHECK(out[1].trust && out[1].link_state == IFLA_VF_LINK_STATE_DISABLE);
}

RIOV_TEST(setlink_message_too_large_is_refused)
{
	char small[256];
	struct riov_kernel_vf many[8];

	for (unsigned i = 0; i < 8; i++) {
		many[i] = vf0;
		many[i].vf = i;
	}
	CHECK(kvf_build_set(small, sizeof(small), 1, many, 8) == NULL);
	CHECK(kvf_build_set(small, 16, 1, many, 1) == NULL);
	char err[64];
	CHECK_EQ(riov_kernel_vf_set("lo", many, 0, err, sizeof(err)), -EINVAL);
	CHECK_EQ(riov_kernel_vf_set("lo", many, RIOV_KVF_MAX + 1, err, sizeof(err)), -EINVAL);
}

RIOV_TEST(getlink_asks_for_vfs)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = kvf_build_get(buf, 7);
	const struct nlattr *a;
	uint32_t mask = 0;

	CHECK_EQ(nlh->nlmsg_type, RTM_GETLINK);
	CHECK_EQ(((const struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_index, 7);
	mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg))
		if (mnl_attr_get_type(a) == IFLA_EXT_MASK)
			mask = mnl_attr_get_u32(a);
	CHECK(mask & RTEXT_FILTER_VF);
}

/* An RTM_NEWLINK as a driver that does not report spoof check or trust sends it (their
 * setting (u32)-1), with a VF whose MAC attribute is short: neither is taken as a value. */
RIOV_TEST(newlink_parse_leaves_out_what_the_driver_does_not_say)
{
	static char buf[4096];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	struct ifinfomsg *ii = mnl_nlmsg_put_extra_header(nlh, sizeof(*ii));
	ii->ifi_index = 3;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "pf0");
	struct nlattr *list = mnl_attr_nest_start(nlh, IFLA_VFINFO_LIST);
	struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_VF_INFO);
	struct ifla_vf_mac m = { .vf = 0, .mac = { 0x02, 0, 0, 0, 0, 0x05 } };
	struct ifla_vf_spoofchk sc = { .vf = 0, .setting = (uint32_t)-1 };
	struct ifla_vf_trust tr = { .vf = 0, .setting = (uint32_t)-1 };
	struct ifla_vf_link_state ls = { .vf = 0, .link_state = IFLA_VF_LINK_STATE_ENABLE };
	mnl_attr_put(nlh, IFLA_VF_MAC, sizeof(m), &m);
	mnl_attr_put(nlh, IFLA_VF_SPOOFCHK, sizeof(sc), &sc);
	mnl_attr_put(nlh, IFLA_VF_TRUST, sizeof(tr), &tr);
	mnl_attr_put(nlh, IFLA_VF_LINK_STATE, sizeof(ls), &ls);
	mnl_attr_nest_end(nlh, info);
	info = mnl_attr_nest_start(nlh, IFLA_VF_INFO);
	mnl_attr_put(nlh, IFLA_VF_MAC, 4, &m); /* too short to be an ifla_vf_mac */
	mnl_attr_nest_end(nlh, info);
	mnl_attr_nest_end(nlh, list);

	struct riov_kernel_vf out[4];
	struct kvf_list l = { out, 4, 0, false };
	CHECK_EQ(kvf_parse_link(nlh, &l), MNL_CB_STOP);
	CHECK(l.answered);
	CHECK_EQ(l.n, 1);
	CHECK_EQ(out[0].fields, RIOV_KVF_MAC | RIOV_KVF_LINK_STATE);
	CHECK_EQ(out[0].link_state, IFLA_VF_LINK_STATE_ENABLE);
	CHECK_EQ(out[0].mac[5], 0x05);
	/* at most max entries */
	l = (struct kvf_list){ out, 0, 0, false };
	kvf_parse_link(nlh, &l);
	CHECK_EQ(l.n, 0);
}

/* NLMSG_ERROR with the kernel's message (NLM_F_ACK_TLVS, capped): the errno and the words. */
RIOV_TEST(extended_ack_message_is_taken)
{
	static char buf[1024];
	char msg[128];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_ACK_TLVS | NLM_F_CAPPED;
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -EOPNOTSUPP;
	e->msg.nlmsg_len = sizeof(struct nlmsghdr);
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "VF 3 does not exist");
	struct kn_answer a = { NULL, NULL, 0, msg, sizeof(msg) };
	msg[0] = '\0';
	CHECK_EQ(kn_error_cb(nlh, &a), MNL_CB_STOP);
	CHECK_EQ(a.error, -EOPNOTSUPP);
	CHECK(strcmp(msg, "VF 3 does not exist") == 0);
	/* an ACK: no error, no words */
	e->error = 0;
	nlh->nlmsg_flags = 0;
	msg[0] = '\0';
	a.error = -1;
	CHECK_EQ(kn_error_cb(nlh, &a), MNL_CB_STOP);
	CHECK_EQ(a.error, 0);
	CHECK_EQ(msg[0], '\0');
	/* a truncated error message */
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
	CHECK_EQ(kn_error_cb(nlh, &a), MNL_CB_ERROR);
}

static bool in_netns;

/* A veth has no VFs: the kernel refuses VF settings, riovd reports it, and the veth's own MAC and
 * state are what they were. */
RIOV_TEST(veth_refuses_vf_settings_and_keeps_its_own)
{
	if (!in_netns) {
		printf("  (skipped: needs root for a network namespace)\n");
		return;
	}
	char err[320], before[2048] = "", after[2048] = "";
	FILE *p = popen("ip -d link show dev v0", "r");
	size_t n = p ? fread(before, 1, sizeof(before) - 1, p) : 0;
	before[n] = '\0';
	if (p)
		pclose(p);

	const struct riov_kernel_vf in[2] = { vf0, vf1 };
	int rc = riov_kernel_vf_set("v0", in, 2, err, sizeof(err));
	CHECK(rc < 0);
	printf("  veth v0: %d, '%s'\n", rc, err);
	CHECK(err[0] != '\0');
	CHECK(strstr(err, strerror(-rc)) != NULL);

	p = popen("ip -d link show dev v0", "r");
	n = p ? fread(after, 1, sizeof(after) - 1, p) : 0;
	after[n] = '\0';
	if (p)
		pclose(p);
	CHECK(strcmp(before, after) == 0);
	CHECK(strstr(after, "02:00:00:19:00:01") == NULL);

	struct riov_kernel_vf out[4];
	unsigned nv = 99;
	CHECK_EQ(riov_kernel_vf_get("v0", out, 4, &nv, err, sizeof(err)), 0);
	CHECK_EQ(nv, 0);
	CHECK_EQ(riov_kernel_vf_get("nosuch0", out, 4, &nv, err, sizeof(err)), -ENODEV);
	CHECK_EQ(riov_kernel_vf_set("nosuch0", in, 1, err, sizeof(err)), -ENODEV);
}

int main(void)
{
	if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0 && run("ip link set lo up") == 0 &&
	    run("ip link add v0 address 02:00:00:19:ff:00 type veth peer name v1") == 0)
		in_netns = true;
	static const struct riov_test_case cases[] = {
		RIOV_TEST_ENTRY(setlink_message_reads_back),
		RIOV_TEST_ENTRY(setlink_message_too_large_is_refused),
		RIOV_TEST_ENTRY(getlink_asks_for_vfs),
		RIOV_TEST_ENTRY(newlink_parse_leaves_out_what_the_driver_does_not_say),
		RIOV_TEST_ENTRY(extended_ack_message_is_taken),
		RIOV_TEST_ENTRY(veth_refuses_vf_settings_and_keeps_its_own),
	};
	return riov_test_run(cases, sizeof(cases) / sizeof(cases[0]));
}
