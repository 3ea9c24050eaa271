/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control/evpn_kernel.c (the test includes it, and the fuzz harness tests/fuzz/fuzz_evpn_nl.c).
 *
 * Without root: the netlink parser on messages built here with libmnl (each reason to ignore one),
 * what the context reports from them (moves, repeats, removals of nothing, a remote MAC equal to a
 * local one, a dump that misses entries, a vxlan device deleted under it), and the replay of the
 * fuzz corpus (argv[1]: datagrams captured from FRR 8.4's zebra).
 *
 * With root, in a network namespace of the test's own (unshare): the devices riovd makes, checked
 * with `ip -d -j link show` and `bridge -j fdb show` (through python3's json), zebra's writes
 * simulated the way zebra makes them (`bridge fdb add ... extern_learn` for a remote MAC,
 * `bridge fdb append 00:00:00:00:00:00 ... dst` for a flood entry) and reported from the kernel's
 * events on a libevent loop, entries that are not riov's ignored, the initial FDB read,
 * reconciliation against devices a "previous run" left, and the vxlan device following the VTEP
 * address (another one, none). Without root the kernel cases are skipped (exit 77 after the
 * others passed).
 *
 * Waiting: each step runs the loop until the callback reports what the step made, with a generous
 * deadline that only turns a report that never comes into a failure.
 */
#include "control/evpn_kernel.c"
#include "tests/fuzz/fuzz_evpn_nl.c"

#include <sched.h>

#include "riov_test.h"

#define WAIT_S 5

static const char *corpus_dir = "tests/fuzz/corpus/evpn_nl";

static uint32_t ip4(const char *s)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
}

static void mac_of(const char *s, uint8_t mac[6])
{
	unsigned m[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		abort();
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
}

/* ---- what the callbacks were told ---- */

struct told {
	bool is_mac, added;
	uint32_t vni, vtep;
	uint8_t mac[6];
};

static struct told told[256];
static unsigned n_told;

static void on_mac(void *arg, bool added, uint32_t vni, const uint8_t mac[6], uint32_t vtep)
{
	(void)arg;
	if (n_told == 256)
		abort();
	told[n_told] = (struct told){ .is_mac = true, .added = added, .vni = vni, .vtep = vtep };
	memcpy(told[n_told++].mac, mac, 6);
}

static void on_flood(void *arg, bool added, uint32_t vni, uint32_t vtep)
{
	(void)arg;
	if (n_told == 256)
		abort();
	told[n_told++] = (struct told){ .is_mac = false, .added = added, .vni = vni, .vtep = vtep };
}

static const struct riov_evpn_kernel_ops ops = { .remote_mac = on_mac, .flood = on_flood };

/* Whether the callbacks were told this (mac NULL: a flood VTEP). */
static bool was_told(bool added, uint32_t vni, const char *mac, const char *vtep)
{
	uint8_t m[6] = { 0 };
	if (mac != NULL)
		mac_of(mac, m);
	for (unsigned i = 0; i < n_told; i++)
		if (told[i].is_mac == (mac != NULL) && told[i].added == added && told[i].vni == vni &&
		    told[i].vtep == ip4(vtep) && (mac == NULL || memcmp(told[i].mac, m, 6) == 0))
			return true;
	return false;
}

/* ---- building netlink messages ---- */

static struct nlmsghdr *neigh(char *buf, uint16_t type, uint8_t family, int ifindex, uint8_t flags)
{
	memset(buf, 0, 512);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = family;
	nd->ndm_ifindex = ifindex;
	nd->ndm_flags = flags;
	nd->ndm_state = NUD_REACHABLE;
	return nlh;
}

static void put_mac(struct nlmsghdr *nlh, const char *mac)
{
	uint8_t m[6];
	mac_of(mac, m);
	mnl_attr_put(nlh, NDA_LLADDR, 6, m);
}

static void put_dst(struct nlmsghdr *nlh, const char *ip)
{
	mnl_attr_put_u32(nlh, NDA_DST, ip4(ip));
}

/* zebra's remote MAC (NTF_SELF | NTF_EXT_LEARNED, NDA_DST) on ifindex, as RTM_NEWNEIGH or DEL */
static struct nlmsghdr *zebra_mac(char *buf, bool add, int ifindex, const char *mac, const char *dst)
{
	struct nlmsghdr *nlh = neigh(buf, add ? RTM_NEWNEIGH : RTM_DELNEIGH, AF_BRIDGE, ifindex,
				     NTF_SELF | NTF_EXT_LEARNED);
	put_mac(nlh, mac);
	put_dst(nlh, dst);
	return nlh;
}

/* zebra's flood entry (NTF_SELF, the all-zero MAC, NDA_DST) */
static struct nlmsghdr *zebra_flood(char *buf, bool add, int ifindex, const char *dst)
{
	struct nlmsghdr *nlh = neigh(buf, add ? RTM_NEWNEIGH : RTM_DELNEIGH, AF_BRIDGE, ifindex, NTF_SELF);
	put_mac(nlh, "00:00:00:00:00:00");
	put_dst(nlh, dst);
	return nlh;
}

static bool vni_of_4(void *arg, uint32_t ifindex, uint32_t *vni)
{
	(void)arg;
	if (ifindex != 4)
		return false;
	*vni = 100;
	return true;
}

/* Parse nlh (len: its own length, or less) and return the verdict: 1, or -(1 + why). */
static int verdict(const struct nlmsghdr *nlh, size_t len, struct riov_evpn_fdb_event *ev)
{
	int r = riov_evpn_nl_parse(nlh, len, vni_of_4, NULL, ev);
	return r == 1 ? 1 : -(1 + (int)ev->why);
}

#define IGN(why) (-(1 + (int)(why)))

RIOV_TEST(parser_reports_zebra_entries)
{
	char buf[512];
	struct riov_evpn_fdb_event ev;

	struct nlmsghdr *nlh = zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), 1);
	CHECK_EQ(ev.kind, RIOV_EVPN_FDB_REMOTE_MAC);
	CHECK(ev.add);
	CHECK_EQ(ev.vni, 100);
	CHECK_EQ(ev.ifindex, 4);
	CHECK_EQ(ev.vtep, ip4("10.0.0.2"));
	CHECK_EQ(ev.mac[5], 1);
	/* any bytes after the message are not read: a datagram's next message */
	CHECK_EQ(verdict(nlh, sizeof(buf), &ev), 1);

	nlh = zebra_mac(buf, false, 4, "02:00:00:00:00:01", "10.0.0.2");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), 1);
	CHECK(!ev.add);

	nlh = zebra_flood(buf, true, 4, "10.0.0.3");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), 1);
	CHECK_EQ(ev.kind, RIOV_EVPN_FDB_FLOOD);
	CHECK_EQ(ev.vtep, ip4("10.0.0.3"));
	nlh = zebra_flood(buf, false, 4, "10.0.0.3");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), 1);
	CHECK(!ev.add);

	/* the bridge's side of zebra's remote MAC: NDA_MASTER, NTF_EXT_LEARNED, no destination */
	nlh = neigh(buf, RTM_NEWNEIGH, AF_BRIDGE, 4, NTF_EXT_LEARNED);
	put_mac(nlh, "02:00:00:00:00:01");
	mnl_attr_put_u32(nlh, NDA_MASTER, 3);
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), 1);
	CHECK_EQ(ev.kind, RIOV_EVPN_FDB_BRIDGE_REMOTE);
	CHECK_EQ(ev.vtep, 0);
	CHECK_EQ(ev.mac[5], 1);

	/* NDA_VNI / NDA_PORT equal to the device's are fine */
	nlh = zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2");
	mnl_attr_put_u32(nlh, NDA_VNI, 100);
	mnl_attr_put_u16(nlh, NDA_PORT, htons(4789));
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), 1);
}

RIOV_TEST(parser_ignores_what_is_not_riovs)
{
	char buf[512];
	struct riov_evpn_fdb_event ev;
	struct nlmsghdr *nlh;

	/* another device, another family, another message type */
	nlh = zebra_mac(buf, true, 5, "02:00:00:00:00:01", "10.0.0.2");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_DEVICE));
	nlh = zebra_mac(buf, true, -4, "02:00:00:00:00:01", "10.0.0.2");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_DEVICE));
	nlh = neigh(buf, RTM_NEWNEIGH, AF_INET, 4, 0);
	put_mac(nlh, "02:00:00:00:00:01");
	put_dst(nlh, "10.0.0.2");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_FAMILY));
	nlh = zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2");
	nlh->nlmsg_type = RTM_NEWLINK;
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_NOT_NEIGH));
	/* a nexthop group, IPv6, no destination, no MAC */
	nlh = zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2");
	mnl_attr_put_u32(nlh, NDA_NH_ID, 10);
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_NEXTHOP));
	nlh = neigh(buf, RTM_NEWNEIGH, AF_BRIDGE, 4, NTF_SELF | NTF_EXT_LEARNED);
	put_mac(nlh, "02:00:00:00:00:01");
	struct in6_addr a6;
	inet_pton(AF_INET6, "2001:db8::2", &a6);
	mnl_attr_put(nlh, NDA_DST, 16, &a6);
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_IPV6));
	nlh = neigh(buf, RTM_NEWNEIGH, AF_BRIDGE, 4, NTF_SELF | NTF_EXT_LEARNED);
	put_mac(nlh, "02:00:00:00:00:01");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_NO_DST));
	/* the bridge's entry for the vxlan port's own address: not externally learned */
	nlh = neigh(buf, RTM_NEWNEIGH, AF_BRIDGE, 4, 0);
	put_mac(nlh, "02:00:00:00:00:01");
	mnl_attr_put_u32(nlh, NDA_MASTER, 3);
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_NO_DST));
	nlh = neigh(buf, RTM_NEWNEIGH, AF_BRIDGE, 4, NTF_SELF | NTF_EXT_LEARNED);
	put_dst(nlh, "10.0.0.2");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_NO_MAC));
	/* a local entry (no NTF_EXT_LEARNED), a group MAC, unusable destinations */
	nlh = neigh(buf, RTM_NEWNEIGH, AF_BRIDGE, 4, NTF_SELF);
	put_mac(nlh, "02:00:00:00:00:01");
	put_dst(nlh, "10.0.0.2");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_NOT_EXTERN));
	nlh = zebra_mac(buf, true, 4, "01:00:5e:00:00:01", "10.0.0.2");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_MULTICAST_MAC));
	static const char *const bad_dst[] = { "0.0.0.0", "127.0.0.1", "239.1.1.1", "255.255.255.255" };
	for (unsigned i = 0; i < 4; i++) {
		nlh = zebra_flood(buf, true, 4, bad_dst[i]);
		CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_BAD_DST));
	}
	/* another VNI or UDP port than the device's */
	nlh = zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2");
	mnl_attr_put_u32(nlh, NDA_VNI, 200);
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_OTHER_VNI));
	nlh = zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2");
	mnl_attr_put_u16(nlh, NDA_PORT, htons(8472));
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_OTHER_PORT));
	CHECK_EQ(ev.kind, RIOV_EVPN_FDB_NONE);
	CHECK(strcmp(riov_evpn_ignore_name(RIOV_EVPN_IGN_OTHER_PORT), "other_port") == 0);
	CHECK(strcmp(riov_evpn_ignore_name(RIOV_EVPN_IGN__MAX), "?") == 0);
}

RIOV_TEST(parser_never_trusts_lengths)
{
	char buf[512];
	struct riov_evpn_fdb_event ev;
	struct nlmsghdr *nlh = zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2");
	const uint32_t len = nlh->nlmsg_len;

	/* the message longer than what is there, or cut anywhere */
	for (uint32_t n = 0; n < len; n++)
		CHECK_EQ(verdict(nlh, n, &ev), IGN(RIOV_EVPN_IGN_MALFORMED));
	CHECK_EQ(riov_evpn_nl_parse(NULL, 100, vni_of_4, NULL, &ev), 0);
	/* a length that is not a multiple of 4 (libmnl's walk would read past it) */
	nlh->nlmsg_len = len - 1;
	CHECK_EQ(verdict(nlh, len, &ev), IGN(RIOV_EVPN_IGN_MALFORMED));
	/* a length of 2 GiB or more (libmnl 1.0.4's mnl_nlmsg_ok() compares it as an int: it
	 * passes there, and the attribute walk would run off the buffer) */
	nlh->nlmsg_len = 0x80000000u + len;
	CHECK_EQ(verdict(nlh, sizeof(buf), &ev), IGN(RIOV_EVPN_IGN_MALFORMED));
	nlh->nlmsg_len = 0xfffffffcu;
	CHECK_EQ(verdict(nlh, sizeof(buf), &ev), IGN(RIOV_EVPN_IGN_MALFORMED));
	/* shorter than its ndmsg */
	nlh->nlmsg_len = sizeof(*nlh) + 8;
	CHECK_EQ(verdict(nlh, len, &ev), IGN(RIOV_EVPN_IGN_MALFORMED));
	/* an attribute that runs past the message */
	nlh = zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2");
	struct nlattr *last = (struct nlattr *)((char *)nlh + nlh->nlmsg_len - MNL_ALIGN(sizeof(struct nlattr) + 4));
	CHECK_EQ(mnl_attr_get_type(last), NDA_DST);
	last->nla_len = 12;
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_MALFORMED));
	/* trailing bytes that are no attribute */
	nlh = zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2");
	nlh->nlmsg_len += 4;
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_MALFORMED));
	/* attributes of the wrong size */
	nlh = neigh(buf, RTM_NEWNEIGH, AF_BRIDGE, 4, NTF_SELF | NTF_EXT_LEARNED);
	mnl_attr_put(nlh, NDA_LLADDR, 5, "\x02\0\0\0\x01");
	put_dst(nlh, "10.0.0.2");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_MALFORMED));
	nlh = neigh(buf, RTM_NEWNEIGH, AF_BRIDGE, 4, NTF_SELF | NTF_EXT_LEARNED);
	put_mac(nlh, "02:00:00:00:00:01");
	mnl_attr_put(nlh, NDA_DST, 6, "\x0a\0\0\x02\0\0");
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_MALFORMED));
	nlh = zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2");
	mnl_attr_put_u16(nlh, NDA_VNI, 100);
	CHECK_EQ(verdict(nlh, nlh->nlmsg_len, &ev), IGN(RIOV_EVPN_IGN_MALFORMED));
}

/* ---- the context's reports, without the kernel ---- */

static struct riov_evpn_kernel *bare_context(void)
{
	struct riov_evpn_kernel *k = calloc(1, sizeof(*k));
	if (k == NULL)
		abort();
	k->ops = ops;
	struct evk_vni *v = vni_get(k, 100, ip4("10.0.0.1"), 1500);
	v->vx_ifindex = 4;
	v->br_ifindex = 3;
	struct evk_port *p = port_get(k, 100, 1, "blue", "p1");
	p->ifindex = 5;
	return k;
}

static void feed(struct riov_evpn_kernel *k, const struct nlmsghdr *nlh)
{
	handle_buf(k, nlh, nlh->nlmsg_len);
}

RIOV_TEST(context_reports_changes_once)
{
	struct riov_evpn_kernel *k = bare_context();
	char buf[512];

	n_told = 0;
	feed(k, zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2"));
	CHECK(was_told(true, 100, "02:00:00:00:00:01", "10.0.0.2"));
	/* the same again (zebra refreshes, the kernel notifies): nothing */
	feed(k, zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2"));
	CHECK_EQ(n_told, 1);
	CHECK_EQ(k->st.unchanged, 1);
	/* a move to another VTEP: added there (replaces) */
	feed(k, zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.9"));
	CHECK_EQ(n_told, 2);
	CHECK(was_told(true, 100, "02:00:00:00:00:01", "10.0.0.9"));
	/* the old VTEP's removal is no removal; the current one's is */
	feed(k, zebra_mac(buf, false, 4, "02:00:00:00:00:01", "10.0.0.2"));
	CHECK_EQ(n_told, 2);
	CHECK_EQ(k->st.ignored[RIOV_EVPN_IGN_UNKNOWN_DEL], 1);
	feed(k, zebra_mac(buf, false, 4, "02:00:00:00:00:01", "10.0.0.9"));
	CHECK(was_told(false, 100, "02:00:00:00:00:01", "10.0.0.9"));
	/* flood list */
	feed(k, zebra_flood(buf, true, 4, "10.0.0.3"));
	feed(k, zebra_flood(buf, true, 4, "10.0.0.3"));
	feed(k, zebra_flood(buf, true, 4, "10.0.0.4"));
	feed(k, zebra_flood(buf, false, 4, "10.0.0.5"));
	feed(k, zebra_flood(buf, false, 4, "10.0.0.3"));
	CHECK(was_told(true, 100, NULL, "10.0.0.3"));
	CHECK(was_told(true, 100, NULL, "10.0.0.4"));
	CHECK(was_told(false, 100, NULL, "10.0.0.3"));
	CHECK_EQ(n_told, 6);
	CHECK_EQ(k->st.ignored[RIOV_EVPN_IGN_UNKNOWN_DEL], 2);
	CHECK_EQ(k->st.flood_adds, 2);
	CHECK_EQ(k->st.flood_dels, 1);
	CHECK_EQ(k->st.remote_mac_adds, 2);
	CHECK_EQ(k->st.remote_mac_dels, 1);
	/* a datagram whose second message does not fit: the first counts, the walk stops there */
	static char dg[1024];
	struct nlmsghdr *m1 = zebra_mac(buf, true, 4, "02:00:00:00:00:0d", "10.0.0.2");
	const size_t l1 = m1->nlmsg_len;
	memcpy(dg, m1, l1);
	struct nlmsghdr *m2 = zebra_mac(buf, true, 4, "02:00:00:00:00:0e", "10.0.0.2");
	m2->nlmsg_len = 0x80000000u;
	memcpy(dg + l1, m2, 80);
	const uint64_t bad = k->st.ignored[RIOV_EVPN_IGN_MALFORMED];
	const unsigned told_before = n_told;
	handle_buf(k, dg, l1 + 80);
	CHECK(was_told(true, 100, "02:00:00:00:00:0d", "10.0.0.2"));
	CHECK(!was_told(true, 100, "02:00:00:00:00:0e", "10.0.0.2"));
	CHECK_EQ(k->st.ignored[RIOV_EVPN_IGN_MALFORMED], bad + 1);
	feed(k, zebra_mac(buf, false, 4, "02:00:00:00:00:0d", "10.0.0.2"));
	CHECK_EQ(n_told, told_before + 2);
	n_told = told_before;
	/* other devices and families change nothing */
	feed(k, zebra_mac(buf, true, 5, "02:00:00:00:00:07", "10.0.0.2"));
	struct nlmsghdr *nlh = zebra_mac(buf, true, 4, "02:00:00:00:00:07", "10.0.0.2");
	((struct ndmsg *)mnl_nlmsg_get_payload(nlh))->ndm_family = AF_INET;
	feed(k, nlh);
	CHECK_EQ(n_told, 6);
	CHECK_EQ(k->st.ignored[RIOV_EVPN_IGN_DEVICE], 1);
	CHECK_EQ(k->st.ignored[RIOV_EVPN_IGN_FAMILY], 1);
	riov_evpn_kernel_destroy(k);
}

RIOV_TEST(context_remote_equal_to_local)
{
	struct riov_evpn_kernel *k = bare_context();
	struct evk_port *p = port_find(k, 1);
	char buf[512];
	uint8_t y[6];

	mac_of("02:00:00:00:00:0b", y);
	n_told = 0;
	CHECK_EQ(local_added(k, p, y), 0);
	/* zebra's remote entry for riovd's own local MAC (FRR 8.4 leaves one behind when a MAC
	 * moves here): not reported while the local one is there */
	feed(k, zebra_mac(buf, true, 4, "02:00:00:00:00:0b", "10.0.0.2"));
	CHECK_EQ(n_told, 0);
	CHECK_EQ(k->st.ignored[RIOV_EVPN_IGN_LOCAL_MAC], 1);
	/* the local one goes: the remote one is reported */
	local_removed(k, p, 0);
	CHECK_EQ(n_told, 1);
	CHECK(was_told(true, 100, "02:00:00:00:00:0b", "10.0.0.2"));
	/* local again: withdrawn from the switch */
	CHECK_EQ(local_added(k, p, y), 0);
	CHECK_EQ(n_told, 2);
	CHECK(was_told(false, 100, "02:00:00:00:00:0b", "10.0.0.2"));
	/* zebra removes it meanwhile: nothing to tell (it was withdrawn), the local MAC stays */
	feed(k, zebra_mac(buf, false, 4, "02:00:00:00:00:0b", "10.0.0.2"));
	CHECK_EQ(n_told, 2);
	local_removed(k, p, 0);
	CHECK_EQ(n_told, 2);
	/* zebra installs a remote MAC riovd has as local (another VTEP won it): the bridge's side
	 * first (the kernel moves riovd's entry to the vxlan port), then the vxlan device's */
	CHECK_EQ(local_added(k, p, y), 0);
	char bbuf[512];
	struct nlmsghdr *nlh = neigh(bbuf, RTM_NEWNEIGH, AF_BRIDGE, 4, NTF_EXT_LEARNED);
	put_mac(nlh, "02:00:00:00:00:0b");
	mnl_attr_put_u32(nlh, NDA_MASTER, 3);
	feed(k, nlh);
	CHECK_EQ(p->n_mac, 0);
	CHECK_EQ(k->st.local_taken, 1);
	CHECK_EQ(n_told, 2);
	feed(k, zebra_mac(buf, true, 4, "02:00:00:00:00:0b", "10.0.0.7"));
	CHECK_EQ(n_told, 3);
	CHECK(was_told(true, 100, "02:00:00:00:00:0b", "10.0.0.7"));
	/* the other order: the vxlan entry (not reported: local), then the bridge's side */
	feed(k, zebra_mac(buf, false, 4, "02:00:00:00:00:0b", "10.0.0.7"));
	CHECK_EQ(local_added(k, p, y), 0);
	CHECK_EQ(n_told, 4);
	feed(k, zebra_mac(buf, true, 4, "02:00:00:00:00:0b", "10.0.0.8"));
	CHECK_EQ(n_told, 4);
	feed(k, nlh);
	CHECK_EQ(n_told, 5);
	CHECK(was_told(true, 100, "02:00:00:00:00:0b", "10.0.0.8"));
	CHECK_EQ(k->st.local_taken, 2);
	feed(k, zebra_mac(buf, false, 4, "02:00:00:00:00:0b", "10.0.0.8"));
	/* a move between ports of the VNI */
	struct evk_port *p2 = port_get(k, 100, 2, "blue", "p2");
	CHECK_EQ(local_added(k, p, y), 0);
	CHECK_EQ(local_added(k, p2, y), 0);
	CHECK_EQ(p->n_mac, 0);
	CHECK_EQ(p2->n_mac, 1);
	riov_evpn_kernel_destroy(k);
}

RIOV_TEST(context_dump_and_lost_device)
{
	struct riov_evpn_kernel *k = bare_context();
	char buf[512];

	n_told = 0;
	feed(k, zebra_mac(buf, true, 4, "02:00:00:00:00:01", "10.0.0.2"));
	feed(k, zebra_mac(buf, true, 4, "02:00:00:00:00:02", "10.0.0.2"));
	feed(k, zebra_flood(buf, true, 4, "10.0.0.2"));
	feed(k, zebra_flood(buf, true, 4, "10.0.0.3"));
	CHECK_EQ(n_told, 4);
	/* a dump (after lost events) shows one MAC and one flood VTEP: the others are gone */
	resync_mark(k);
	k->dumping = true;
	feed(k, zebra_mac(buf, true, 4, "02:00:00:00:00:02", "10.0.0.2"));
	feed(k, zebra_flood(buf, true, 4, "10.0.0.3"));
	feed(k, zebra_mac(buf, true, 4, "02:00:00:00:00:03", "10.0.0.4"));
	k->dumping = false;
	resync_sweep(k);
	CHECK(was_told(false, 100, "02:00:00:00:00:01", "10.0.0.2"));
	CHECK(was_told(false, 100, NULL, "10.0.0.2"));
	CHECK(was_told(true, 100, "02:00:00:00:00:03", "10.0.0.4"));
	CHECK_EQ(n_told, 7);
	/* the vxlan device leaving its bridge (RTM_DELLINK of family AF_BRIDGE) is no loss */
	char lb[256];
	struct nlmsghdr *nlh = link_msg(lb, RTM_DELLINK, 0, 4);
	((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_family = AF_BRIDGE;
	feed(k, nlh);
	CHECK_EQ(n_told, 7);
	CHECK_EQ(k->st.devices_lost, 0);
	/* the vxlan device deleted by someone else: what it held is withdrawn */
	nlh = link_msg(lb, RTM_DELLINK, 0, 4);
	feed(k, nlh);
	CHECK(was_told(false, 100, "02:00:00:00:00:02", "10.0.0.2"));
	CHECK(was_told(false, 100, "02:00:00:00:00:03", "10.0.0.4"));
	CHECK(was_told(false, 100, NULL, "10.0.0.3"));
	CHECK_EQ(n_told, 10);
	CHECK_EQ(k->st.devices_lost, 1);
	/* and its entries no longer count as riov's */
	feed(k, zebra_mac(buf, true, 4, "02:00:00:00:00:02", "10.0.0.2"));
	CHECK_EQ(n_told, 10);
	riov_evpn_kernel_destroy(k);
}

static void replay_one(const char *name, const uint8_t *data, size_t len, void *arg)
{
	int n = riov_evpn_nl_fuzz_one(data, len);
	*(int *)arg += n;
	if (strncmp(name, "zebra-", 6) == 0 && n != 1) {
		fprintf(stderr, "  %s: %d events, not 1\n", name, n);
		riov_test_failures++;
	}
}

RIOV_TEST(corpus_replay)
{
	static uint8_t buf[FE_MAX_INPUT];
	int events = 0;
	CHECK(riov_test_each_file(corpus_dir, buf, sizeof(buf), replay_one, &events) >= 6);
	CHECK(events >= 5);   /* zebra's four, and the remote MAC inside the three-message datagram */
}

/* ---- against the kernel, in the test's own network namespace ---- */

static int run(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "  '%s' failed (%d)\n", cmd, rc);
	return rc;
}

/* cmd's JSON output as d, and python expression expr true of it (d printed when not). */
static int json_true(const char *cmd, const char *expr)
{
	char sh[8192];
	snprintf(sh, sizeof(sh),
		 "%s | python3 -c 'import json, sys\n"
		 "d = json.load(sys.stdin)\n"
		 "ok = bool(%s)\n"
		 "ok or print(\"  not (\" + sys.argv[1] + \") of\", json.dumps(d), file=sys.stderr)\n"
		 "sys.exit(0 if ok else 1)' '%s'",
		 cmd, expr, expr);
	return system(sh) == 0;
}

/* `ip -d -j link show dev` as d (one interface): l its linkinfo, x its info_data, s its
 * info_slave_data */
static int link_true(const char *dev, const char *expr)
{
	char cmd[128], e[1024];
	snprintf(cmd, sizeof(cmd), "ip -d -j link show dev %s", dev);
	snprintf(e, sizeof(e),
		 "(lambda d: (lambda l: (lambda x, s: %s)(l.get(\"info_data\", {}), l.get(\"info_slave_data\", {})))"
		 "(d.get(\"linkinfo\", {})))(d[0])",
		 expr);
	return json_true(cmd, e);
}

static unsigned ifindex(const char *name)
{
	return if_nametoindex(name);
}

static struct event_base *base;
static struct riov_evpn_kernel *k;

/* Run the loop until the callbacks were told this, or WAIT_S passed. */
static int wait_told(bool added, uint32_t vni, const char *mac, const char *vtep)
{
	const time_t end = time(NULL) + WAIT_S;
	const struct timeval slice = { .tv_usec = 50 * 1000 };
	while (!was_told(added, vni, mac, vtep)) {
		if (time(NULL) > end) {
			fprintf(stderr, "  not told %s %s %s on VNI %u within %d s\n", added ? "added" : "removed",
				mac ? mac : "flood", vtep, vni, WAIT_S);
			return 0;
		}
		event_base_loopexit(base, &slice);
		event_base_dispatch(base);
	}
	return 1;
}

static void idle(unsigned ms)
{
	const struct timeval t = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	event_base_loopexit(base, &t);
	event_base_dispatch(base);
}

RIOV_TEST(vni_makes_bridge_and_vxlan)
{
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 100, ip4("10.0.0.1"), 1450), 0);
	CHECK(link_true("rvbr100", "l[\"info_kind\"] == \"bridge\" and x[\"vlan_filtering\"] == 0 and "
				   "d[\"mtu\"] == 1450 and \"UP\" in d[\"flags\"] and "
				   "d[\"inet6_addr_gen_mode\"] == \"none\""));
	CHECK(link_true("rvx100", "l[\"info_kind\"] == \"vxlan\" and x[\"id\"] == 100 and "
				  "x[\"local\"] == \"10.0.0.1\" and x[\"port\"] == 4789 and "
				  "x[\"learning\"] is False and d[\"master\"] == \"rvbr100\" and "
				  "s[\"learning\"] is False and s[\"neigh_suppress\"] is True and "
				  "d[\"mtu\"] == 1450 and \"UP\" in d[\"flags\"] and "
				  "d[\"inet6_addr_gen_mode\"] == \"none\""));
	/* idempotent: the same devices are kept */
	const unsigned br = ifindex("rvbr100"), vx = ifindex("rvx100");
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 100, ip4("10.0.0.1"), 1450), 0);
	CHECK_EQ(ifindex("rvbr100"), br);
	CHECK_EQ(ifindex("rvx100"), vx);
	/* a wrong one is replaced: another local address, learning on */
	CHECK_EQ(run("ip link del rvx100 && ip link add rvx100 type vxlan id 100 local 10.0.0.9 dstport 4789"), 0);
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 100, ip4("10.0.0.1"), 1450), 0);
	CHECK(link_true("rvx100", "x[\"local\"] == \"10.0.0.1\" and x[\"learning\"] is False and "
				  "d[\"master\"] == \"rvbr100\""));
	CHECK_EQ(ifindex("rvbr100"), br);
	/* a changed MTU is applied in place */
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 100, ip4("10.0.0.1"), 1500), 0);
	CHECK(link_true("rvx100", "d[\"mtu\"] == 1500"));
	CHECK(link_true("rvbr100", "d[\"mtu\"] == 1500"));
	/* refused */
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 0, ip4("10.0.0.1"), 1500), -EINVAL);
	CHECK_EQ(riov_evpn_kernel_vni_add(k, RIOV_EVPN_VNI_MAX + 1, ip4("10.0.0.1"), 1500), -EINVAL);
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 101, ip4("127.0.0.1"), 1500), -EINVAL);
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 101, ip4("224.0.0.1"), 1500), -EINVAL);
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 101, ip4("10.0.0.1"), 67), -EINVAL);
}

RIOV_TEST(port_makes_a_carrierless_shadow_tap)
{
	CHECK_EQ(riov_evpn_kernel_port_add(k, 100, 7, "blue", "p1"), 0);
	CHECK(link_true("rvs7", "l[\"info_kind\"] == \"tun\" and x[\"type\"] == \"tap\" and "
				"x[\"persist\"] is True and d[\"ifalias\"] == \"riov:blue/p1\" and "
				"d[\"master\"] == \"rvbr100\" and s[\"learning\"] is False and "
				"\"UP\" in d[\"flags\"] and \"NO-CARRIER\" in d[\"flags\"] and "
				"d[\"operstate\"] == \"DOWN\" and d[\"inet6_addr_gen_mode\"] == \"none\""));
	const unsigned tap = ifindex("rvs7");
	CHECK_EQ(riov_evpn_kernel_port_add(k, 100, 7, "blue", "p1"), 0);
	CHECK_EQ(ifindex("rvs7"), tap);
	CHECK_EQ(riov_evpn_kernel_port_add(k, 100, 8, "blue", "p2"), 0);
	CHECK_EQ(riov_evpn_kernel_port_add(k, 555, 9, "blue", "p3"), -ENOENT);
	CHECK_EQ(riov_evpn_kernel_port_add(k, 100, 9, "bl/ue", "p3"), -EINVAL);
	CHECK_EQ(riov_evpn_kernel_port_add(k, 100, 9, "blue", ""), -EINVAL);
}

RIOV_TEST(local_macs_are_static_entries)
{
	uint8_t m[6];
	mac_of("02:00:00:00:00:aa", m);
	CHECK_EQ(riov_evpn_kernel_mac_add(k, 7, m), 0);
	CHECK(json_true("bridge -j fdb show dev rvs7",
			"[e for e in d if e[\"mac\"] == \"02:00:00:00:00:aa\" and e.get(\"master\") == \"rvbr100\" "
			"and e.get(\"state\") == \"static\"]"));
	/* moved to another port of the VNI: one entry, on the new port */
	CHECK_EQ(riov_evpn_kernel_mac_add(k, 8, m), 0);
	CHECK(json_true("bridge -j fdb show br rvbr100",
			"[e[\"ifname\"] for e in d if e[\"mac\"] == \"02:00:00:00:00:aa\"] == [\"rvs8\"]"));
	CHECK_EQ(riov_evpn_kernel_mac_del(k, 8, m), 0);
	CHECK(json_true("bridge -j fdb show br rvbr100",
			"not [e for e in d if e[\"mac\"] == \"02:00:00:00:00:aa\"]"));
	CHECK_EQ(riov_evpn_kernel_mac_del(k, 8, m), -ENOENT);
	CHECK_EQ(riov_evpn_kernel_mac_add(k, 7, m), 0);
	mac_of("01:00:5e:00:00:01", m);
	CHECK_EQ(riov_evpn_kernel_mac_add(k, 7, m), -EINVAL);
	mac_of("02:00:00:00:00:ab", m);
	CHECK_EQ(riov_evpn_kernel_mac_add(k, 99, m), -ENOENT);
}

RIOV_TEST(zebra_writes_are_reported)
{
	n_told = 0;
	/* how zebra installs a remote MAC and a flood entry (type-2, type-3) */
	CHECK_EQ(run("bridge fdb add 02:00:00:00:00:01 dev rvx100 dst 10.0.0.2 extern_learn"), 0);
	CHECK(wait_told(true, 100, "02:00:00:00:00:01", "10.0.0.2"));
	CHECK_EQ(run("bridge fdb append 00:00:00:00:00:00 dev rvx100 dst 10.0.0.3"), 0);
	CHECK(wait_told(true, 100, NULL, "10.0.0.3"));
	CHECK_EQ(run("bridge fdb append 00:00:00:00:00:00 dev rvx100 dst 10.0.0.4"), 0);
	CHECK(wait_told(true, 100, NULL, "10.0.0.4"));
	/* a move to another VTEP (zebra replaces) */
	CHECK_EQ(run("bridge fdb replace 02:00:00:00:00:01 dev rvx100 dst 10.0.0.5 extern_learn"), 0);
	CHECK(wait_told(true, 100, "02:00:00:00:00:01", "10.0.0.5"));
	/* and their removal */
	CHECK_EQ(run("bridge fdb del 02:00:00:00:00:01 dev rvx100 dst 10.0.0.5"), 0);
	CHECK(wait_told(false, 100, "02:00:00:00:00:01", "10.0.0.5"));
	CHECK_EQ(run("bridge fdb del 00:00:00:00:00:00 dev rvx100 dst 10.0.0.3"), 0);
	CHECK(wait_told(false, 100, NULL, "10.0.0.3"));
	CHECK(!was_told(false, 100, NULL, "10.0.0.4"));
}

RIOV_TEST(what_is_not_riovs_is_ignored)
{
	struct riov_evpn_kernel_stats before, after;
	riov_evpn_kernel_get_stats(k, &before);
	n_told = 0;
	/* an entry on another vxlan device, an ARP entry, a vxlan entry without extern_learn (not
	 * zebra's), an IPv6 VTEP */
	CHECK_EQ(run("ip link add vxo type vxlan id 300 local 10.0.0.1 dstport 4789 nolearning && "
		     "ip link set vxo up && "
		     "bridge fdb add 02:00:00:00:00:31 dev vxo dst 10.0.0.2 extern_learn"), 0);
	CHECK_EQ(run("ip neigh replace 10.77.0.2 lladdr 02:00:00:00:77:02 dev d0 nud reachable"), 0);
	CHECK_EQ(run("bridge fdb add 02:00:00:00:00:32 dev rvx100 dst 10.0.0.2"), 0);
	/* the kernel may refuse an IPv6 destination on an IPv4 vxlan device: then nothing is sent */
	(void)system("bridge fdb add 02:00:00:00:00:33 dev rvx100 dst 2001:db8::2 extern_learn 2>/dev/null");
	/* a nexthop group (the kernel needs fdb nexthops: ignored where it has none) */
	(void)system("ip nexthop add id 21 via 10.0.0.6 fdb 2>/dev/null && "
		     "ip nexthop add id 20 group 21 fdb 2>/dev/null && "
		     "bridge fdb add 02:00:00:00:00:34 dev rvx100 nhid 20 self extern_learn 2>/dev/null");
	/* a marker the context does report: everything before it has been read */
	CHECK_EQ(run("bridge fdb add 02:00:00:00:00:3f dev rvx100 dst 10.0.0.2 extern_learn"), 0);
	CHECK(wait_told(true, 100, "02:00:00:00:00:3f", "10.0.0.2"));
	CHECK_EQ(n_told, 1);
	riov_evpn_kernel_get_stats(k, &after);
	CHECK(after.ignored[RIOV_EVPN_IGN_DEVICE] > before.ignored[RIOV_EVPN_IGN_DEVICE]);
	CHECK(after.ignored[RIOV_EVPN_IGN_FAMILY] > before.ignored[RIOV_EVPN_IGN_FAMILY]);
	CHECK(after.ignored[RIOV_EVPN_IGN_NOT_EXTERN] > before.ignored[RIOV_EVPN_IGN_NOT_EXTERN]);
	printf("# ignored: device %llu, family %llu, not_extern %llu, ipv6 %llu, nexthop %llu, no_dst %llu\n",
	       (unsigned long long)(after.ignored[RIOV_EVPN_IGN_DEVICE] - before.ignored[RIOV_EVPN_IGN_DEVICE]),
	       (unsigned long long)(after.ignored[RIOV_EVPN_IGN_FAMILY] - before.ignored[RIOV_EVPN_IGN_FAMILY]),
	       (unsigned long long)(after.ignored[RIOV_EVPN_IGN_NOT_EXTERN] - before.ignored[RIOV_EVPN_IGN_NOT_EXTERN]),
	       (unsigned long long)(after.ignored[RIOV_EVPN_IGN_IPV6] - before.ignored[RIOV_EVPN_IGN_IPV6]),
	       (unsigned long long)(after.ignored[RIOV_EVPN_IGN_NEXTHOP] - before.ignored[RIOV_EVPN_IGN_NEXTHOP]),
	       (unsigned long long)(after.ignored[RIOV_EVPN_IGN_NO_DST] - before.ignored[RIOV_EVPN_IGN_NO_DST]));
	(void)system("bridge fdb del 02:00:00:00:00:32 dev rvx100 dst 10.0.0.2; ip link del vxo");
}

RIOV_TEST(remote_equal_to_local_is_not_reported)
{
	uint8_t m[6];
	mac_of("02:00:00:00:00:aa", m);   /* local on rvs7 */
	n_told = 0;
	CHECK_EQ(run("bridge fdb add 02:00:00:00:00:aa dev rvx100 dst 10.0.0.2 extern_learn"), 0);
	CHECK_EQ(run("bridge fdb add 02:00:00:00:00:3e dev rvx100 dst 10.0.0.2 extern_learn"), 0);
	CHECK(wait_told(true, 100, "02:00:00:00:00:3e", "10.0.0.2"));
	CHECK(!was_told(true, 100, "02:00:00:00:00:aa", "10.0.0.2"));
	/* the local MAC goes: the remote one is riovd's to follow now */
	CHECK_EQ(riov_evpn_kernel_mac_del(k, 7, m), 0);
	CHECK(was_told(true, 100, "02:00:00:00:00:aa", "10.0.0.2"));
	/* local again (the guest came back): withdrawn from the switch at once, and the remote
	 * entry deleted (FRR 8.4's zebra leaves it behind when a MAC moves here) */
	struct riov_evpn_kernel_stats st;
	riov_evpn_kernel_get_stats(k, &st);
	const uint64_t stale = st.stale_deleted;
	CHECK_EQ(riov_evpn_kernel_mac_add(k, 7, m), 0);
	CHECK(was_told(false, 100, "02:00:00:00:00:aa", "10.0.0.2"));
	CHECK(json_true("bridge -j fdb show br rvbr100",
			"[e for e in d if e[\"mac\"] == \"02:00:00:00:00:aa\" and e[\"ifname\"] == \"rvs7\" and "
			"e.get(\"state\") == \"static\"]"));
	CHECK(json_true("bridge -j fdb show dev rvx100", "not [e for e in d if e[\"mac\"] == \"02:00:00:00:00:aa\"]"));
	riov_evpn_kernel_get_stats(k, &st);
	CHECK_EQ(st.stale_deleted, stale + 1);
	idle(200);

	/* zebra installs it as remote the way zebra does (master and self: another VTEP won it by
	 * MAC mobility): the kernel moves riovd's entry to the vxlan port; no longer local, the
	 * remote MAC is reported */
	n_told = 0;
	const uint64_t taken = st.local_taken;
	CHECK_EQ(run("bridge fdb add 02:00:00:00:00:aa dev rvx100 dst 10.0.0.5 master self extern_learn"), 0);
	CHECK(wait_told(true, 100, "02:00:00:00:00:aa", "10.0.0.5"));
	riov_evpn_kernel_get_stats(k, &st);
	CHECK_EQ(st.local_taken, taken + 1);
	CHECK_EQ(riov_evpn_kernel_mac_del(k, 7, m), -ENOENT);
	CHECK(json_true("bridge -j fdb show br rvbr100",
			"[e[\"ifname\"] for e in d if e[\"mac\"] == \"02:00:00:00:00:aa\" and e.get(\"master\")] == [\"rvx100\"]"));
	/* the switch learns it on the guest's port again: taken back */
	CHECK_EQ(riov_evpn_kernel_mac_add(k, 7, m), 0);
	CHECK(was_told(false, 100, "02:00:00:00:00:aa", "10.0.0.5"));
	CHECK(json_true("bridge -j fdb show br rvbr100",
			"[e[\"ifname\"] for e in d if e[\"mac\"] == \"02:00:00:00:00:aa\" and e.get(\"master\")] == [\"rvs7\"]"));
	CHECK(json_true("bridge -j fdb show dev rvx100", "not [e for e in d if e[\"mac\"] == \"02:00:00:00:00:aa\"]"));
	idle(200);
	CHECK_EQ(n_told, 2);
}

RIOV_TEST(initial_read_reports_what_was_there)
{
	/* riovd stops; zebra goes on writing */
	riov_evpn_kernel_destroy(k);
	k = NULL;
	CHECK_EQ(run("bridge fdb add 02:00:00:00:00:0c dev rvx100 dst 10.0.0.4 extern_learn"), 0);
	CHECK_EQ(run("bridge fdb append 00:00:00:00:00:00 dev rvx100 dst 10.0.0.6"), 0);
	n_told = 0;
	CHECK_EQ(riov_evpn_kernel_create(base, &ops, NULL, &k), 0);
	if (k == NULL)
		return;
	static const uint8_t aa[1][6] = { { 0x02, 0, 0, 0, 0, 0xaa } };
	const struct riov_evpn_port_spec ports[] = {
		{ .id = 7, .net = "blue", .port = "p1", .macs = aa, .n_macs = 1 },
		{ .id = 8, .net = "blue", .port = "p2" },
	};
	const struct riov_evpn_vni_spec spec = { .vni = 100, .local = ip4("10.0.0.1"), .mtu = 1500,
						 .ports = ports, .n_ports = 2 };
	const unsigned vx = ifindex("rvx100");
	CHECK_EQ(riov_evpn_kernel_reconcile(k, &spec, 1), 0);
	CHECK_EQ(ifindex("rvx100"), vx);
	/* reported from the read, before any event */
	CHECK(was_told(true, 100, "02:00:00:00:00:0c", "10.0.0.4"));
	CHECK(was_told(true, 100, "02:00:00:00:00:3e", "10.0.0.2"));
	CHECK(was_told(true, 100, NULL, "10.0.0.6"));
	CHECK(was_told(true, 100, NULL, "10.0.0.4"));
	/* not riovd's local one */
	CHECK(!was_told(true, 100, "02:00:00:00:00:aa", "10.0.0.2"));
	const unsigned before = n_told;
	idle(300);   /* the events of those writes, read now, change nothing */
	CHECK_EQ(n_told, before);
	/* a lost event: the entry is gone when the FDB is read again */
	CHECK_EQ(run("bridge fdb del 02:00:00:00:00:0c dev rvx100 dst 10.0.0.4"), 0);
	CHECK_EQ(riov_evpn_kernel_resync(k), 0);
	CHECK(was_told(false, 100, "02:00:00:00:00:0c", "10.0.0.4"));
}

RIOV_TEST(reconcile_removes_a_previous_runs_devices)
{
	if (k == NULL)
		return;
	/* a previous run's VNI 999, a shadow TAP of a port riovd no longer has, one of a port it
	 * has under another id, a stale local MAC; and devices that are not riov's */
	CHECK_EQ(run("ip link add rvbr999 type bridge && "
		     "ip link add rvx999 type vxlan id 999 local 10.0.0.1 dstport 4789 && "
		     "ip link set rvx999 master rvbr999 && "
		     "ip tuntap add mode tap name rvs77 && ip link set rvs77 alias riov:old/p && "
		     "ip tuntap add mode tap name rvs55 && ip link set rvs55 alias riov:blue/p3 && "
		     "ip link set rvs55 master rvbr100 && "
		     "ip tuntap add mode tap name oldtap && ip link set oldtap alias riov:gone/p && "
		     "ip link add rvxfoo type bridge && ip link add rvx12a type bridge && "
		     "ip link add keep0 type bridge && ip link set keep0 alias riov:not/a-tap && "
		     "bridge fdb add 02:00:00:00:00:bb dev rvs7 master static"), 0);
	const unsigned p3 = ifindex("rvs55");
	static const uint8_t aa[1][6] = { { 0x02, 0, 0, 0, 0, 0xaa } };
	static const uint8_t cc[1][6] = { { 0x02, 0, 0, 0, 0, 0xcc } };
	const struct riov_evpn_port_spec ports[] = {
		{ .id = 7, .net = "blue", .port = "p1", .macs = aa, .n_macs = 1 },
		{ .id = 9, .net = "blue", .port = "p3", .macs = cc, .n_macs = 1 },
	};
	const struct riov_evpn_vni_spec spec[] = {
		{ .vni = 100, .local = ip4("10.0.0.1"), .mtu = 1500, .ports = ports, .n_ports = 2 },
		{ .vni = 200, .local = ip4("10.0.0.1"), .mtu = 9000 },
	};
	const unsigned vx = ifindex("rvx100"), br = ifindex("rvbr100");
	CHECK_EQ(riov_evpn_kernel_reconcile(k, spec, 2), 0);
	/* stale: gone */
	CHECK_EQ(ifindex("rvbr999"), 0);
	CHECK_EQ(ifindex("rvx999"), 0);
	CHECK_EQ(ifindex("rvs77"), 0);
	CHECK_EQ(ifindex("oldtap"), 0);
	CHECK_EQ(ifindex("rvs8"), 0);   /* port 8 is not wanted any more */
	/* not riov's: kept */
	CHECK(ifindex("rvxfoo") != 0);
	CHECK(ifindex("rvx12a") != 0);
	CHECK(ifindex("keep0") != 0);
	/* wanted: kept, made, renamed */
	CHECK_EQ(ifindex("rvx100"), vx);
	CHECK_EQ(ifindex("rvbr100"), br);
	CHECK(ifindex("rvx200") != 0 && ifindex("rvbr200") != 0);
	CHECK(link_true("rvx200", "x[\"id\"] == 200 and d[\"mtu\"] == 9000 and d[\"master\"] == \"rvbr200\""));
	CHECK_EQ(ifindex("rvs55"), 0);
	CHECK_EQ(ifindex("rvs9"), p3);
	CHECK(link_true("rvs9", "d[\"ifalias\"] == \"riov:blue/p3\" and d[\"master\"] == \"rvbr100\" and "
				"s[\"learning\"] is False and \"UP\" in d[\"flags\"]"));
	/* local MACs: the wanted ones there; one a previous run learned on a wanted port's TAP kept
	 * (adopted as the port's: a restart withdraws nothing; the service ages it), reported by
	 * riov_evpn_kernel_port_macs() */
	CHECK(json_true("bridge -j fdb show br rvbr100",
			"sorted((e[\"ifname\"], e[\"mac\"]) for e in d if e.get(\"state\") == \"static\") == "
			"[(\"rvs7\", \"02:00:00:00:00:aa\"), (\"rvs7\", \"02:00:00:00:00:bb\"), "
			"(\"rvs9\", \"02:00:00:00:00:cc\")]"));
	const uint8_t(*pm)[6];
	size_t npm = 0;
	CHECK_EQ(riov_evpn_kernel_port_macs(k, 7, &pm, &npm), 0);
	bool adopted = false;
	for (size_t i = 0; i < npm; i++)
		adopted |= pm[i][5] == 0xbb;
	CHECK(adopted);
	CHECK_EQ(riov_evpn_kernel_port_macs(k, 4242, &pm, &npm), -ENOENT);
	/* a bad spec changes nothing */
	const struct riov_evpn_vni_spec twice[] = { spec[0], spec[0] };
	CHECK_EQ(riov_evpn_kernel_reconcile(k, twice, 2), -EINVAL);
	CHECK(ifindex("rvx200") != 0);
	(void)system("ip link del rvxfoo; ip link del rvx12a; ip link del keep0");
}

RIOV_TEST(vni_and_port_del)
{
	if (k == NULL)
		return;
	CHECK_EQ(riov_evpn_kernel_port_del(k, 9), 0);
	CHECK_EQ(ifindex("rvs9"), 0);
	CHECK_EQ(riov_evpn_kernel_port_del(k, 9), -ENOENT);
	CHECK_EQ(riov_evpn_kernel_vni_del(k, 100), 0);
	CHECK_EQ(ifindex("rvx100"), 0);
	CHECK_EQ(ifindex("rvbr100"), 0);
	CHECK_EQ(ifindex("rvs7"), 0);
	CHECK_EQ(riov_evpn_kernel_vni_del(k, 100), -ENOENT);
	CHECK_EQ(riov_evpn_kernel_vni_del(k, 200), 0);
	struct riov_evpn_kernel_stats st;
	riov_evpn_kernel_get_stats(k, &st);
	CHECK_EQ(st.devices_lost, 0);
	printf("# stats: %llu messages, %llu resyncs, %llu kernel errors, %llu overruns\n",
	       (unsigned long long)st.messages, (unsigned long long)st.resyncs,
	       (unsigned long long)st.kernel_errors, (unsigned long long)st.overruns);
}

/* Whether rvx300 is there with VTEP address local, a port of rvbr300. */
static int vx300_local(const char *local)
{
	char e[256];
	snprintf(e, sizeof(e), "x[\"local\"] == \"%s\" and d[\"master\"] == \"rvbr300\" and \"UP\" in d[\"flags\"]",
		 local);
	return link_true("rvx300", e);
}

RIOV_TEST(vxlan_device_follows_the_vtep_address)
{
	if (k == NULL)
		return;
	uint8_t m[6];
	mac_of("02:00:00:00:31:01", m);
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 300, ip4("10.0.0.1"), 1450), 0);
	CHECK_EQ(riov_evpn_kernel_port_add(k, 300, 31, "red", "q1"), 0);
	CHECK_EQ(riov_evpn_kernel_mac_add(k, 31, m), 0);
	n_told = 0;
	CHECK_EQ(run("bridge fdb add 02:00:00:00:31:02 dev rvx300 dst 10.0.0.2 extern_learn && "
		     "bridge fdb append 00:00:00:00:00:00 dev rvx300 dst 10.0.0.3"), 0);
	CHECK(wait_told(true, 300, "02:00:00:00:31:02", "10.0.0.2"));
	CHECK(wait_told(true, 300, NULL, "10.0.0.3"));
	const unsigned br = ifindex("rvbr300"), tap = ifindex("rvs31");

	/* no VTEP address (the uplink went): no vxlan device, so zebra withdraws the VNI; what it
	 * had written is reported removed at once; the bridge, the shadow TAP and its MAC stay */
	n_told = 0;
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 300, 0, 1450), 0);
	CHECK_EQ(ifindex("rvx300"), 0);
	CHECK(was_told(false, 300, "02:00:00:00:31:02", "10.0.0.2"));
	CHECK(was_told(false, 300, NULL, "10.0.0.3"));
	CHECK_EQ(ifindex("rvbr300"), br);
	CHECK_EQ(ifindex("rvs31"), tap);
	CHECK(json_true("bridge -j fdb show br rvbr300",
			"[e for e in d if e[\"mac\"] == \"02:00:00:00:31:01\" and e[\"ifname\"] == \"rvs31\" and "
			"e.get(\"state\") == \"static\"]"));
	idle(200);   /* the deleted device's events: not reported again */
	CHECK_EQ(n_told, 2);
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 300, 0, 1450), 0);   /* idempotent */
	CHECK_EQ(ifindex("rvx300"), 0);
	/* ports and MACs meanwhile */
	CHECK_EQ(riov_evpn_kernel_port_add(k, 300, 32, "red", "q2"), 0);
	CHECK_EQ(riov_evpn_kernel_mac_del(k, 31, m), 0);
	CHECK_EQ(riov_evpn_kernel_mac_add(k, 32, m), 0);

	/* an address again: the vxlan device with it */
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 300, ip4("10.0.0.4"), 1450), 0);
	CHECK(vx300_local("10.0.0.4"));
	n_told = 0;
	CHECK_EQ(run("bridge fdb append 00:00:00:00:00:00 dev rvx300 dst 10.0.0.3"), 0);
	CHECK(wait_told(true, 300, NULL, "10.0.0.3"));
	/* another address: the device replaced, its entries reported removed */
	CHECK_EQ(riov_evpn_kernel_vni_add(k, 300, ip4("10.0.0.5"), 1450), 0);
	CHECK(vx300_local("10.0.0.5"));
	CHECK(was_told(false, 300, NULL, "10.0.0.3"));
	CHECK_EQ(ifindex("rvbr300"), br);

	/* a restart without an uplink: the previous run's vxlan device (with its old address) goes,
	 * the rest stays; with one, the device has its address. The ports' ids shifted down by one
	 * (the uplink had an id before): their TAPs are renamed by their aliases, not made again */
	const unsigned tap32 = ifindex("rvs32");
	riov_evpn_kernel_destroy(k);
	k = NULL;
	CHECK_EQ(riov_evpn_kernel_create(base, &ops, NULL, &k), 0);
	if (k == NULL)
		return;
	const struct riov_evpn_port_spec ports[] = {
		{ .id = 30, .net = "red", .port = "q1" },
		{ .id = 31, .net = "red", .port = "q2" },
	};
	struct riov_evpn_vni_spec spec = { .vni = 300, .local = 0, .mtu = 1450, .ports = ports, .n_ports = 2 };
	CHECK_EQ(riov_evpn_kernel_reconcile(k, &spec, 1), 0);
	CHECK_EQ(ifindex("rvx300"), 0);
	CHECK_EQ(ifindex("rvbr300"), br);
	CHECK_EQ(ifindex("rvs30"), tap);
	CHECK_EQ(ifindex("rvs31"), tap32);
	CHECK_EQ(ifindex("rvs32"), 0);
	CHECK(link_true("rvs31", "d[\"ifalias\"] == \"riov:red/q2\" and d[\"master\"] == \"rvbr300\" and "
				 "\"UP\" in d[\"flags\"]"));
	CHECK(json_true("bridge -j fdb show br rvbr300",
			"[e[\"ifname\"] for e in d if e[\"mac\"] == \"02:00:00:00:31:01\" and "
			"e.get(\"state\") == \"static\"] == [\"rvs31\"]"));
	/* and back up, swapped: q2 takes id 30, q1 id 31 */
	const struct riov_evpn_port_spec swapped[] = {
		{ .id = 31, .net = "red", .port = "q1" },
		{ .id = 30, .net = "red", .port = "q2" },
	};
	spec.ports = swapped;
	CHECK_EQ(riov_evpn_kernel_reconcile(k, &spec, 1), 0);
	CHECK_EQ(ifindex("rvs31"), tap);
	CHECK_EQ(ifindex("rvs30"), tap32);
	CHECK(json_true("ip -j link show",
			"not [l for l in d if l[\"ifname\"].startswith(\"rvtmp\")]"));
	CHECK(json_true("bridge -j fdb show br rvbr300",
			"[e[\"ifname\"] for e in d if e[\"mac\"] == \"02:00:00:00:31:01\" and "
			"e.get(\"state\") == \"static\"] == [\"rvs30\"]"));
	spec.local = ip4("10.0.0.6");
	CHECK_EQ(riov_evpn_kernel_reconcile(k, &spec, 1), 0);
	CHECK(vx300_local("10.0.0.6"));
	CHECK_EQ(ifindex("rvbr300"), br);
	CHECK_EQ(riov_evpn_kernel_vni_del(k, 300), 0);
	CHECK_EQ(ifindex("rvbr300"), 0);
	CHECK_EQ(ifindex("rvs30"), 0);
	CHECK_EQ(ifindex("rvs31"), 0);
	struct riov_evpn_kernel_stats st;
	riov_evpn_kernel_get_stats(k, &st);
	CHECK_EQ(st.devices_lost, 0);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		corpus_dir = argv[1];
	static const struct riov_test_case pure[] = {
		RIOV_TEST_ENTRY(parser_reports_zebra_entries),
		RIOV_TEST_ENTRY(parser_ignores_what_is_not_riovs),
		RIOV_TEST_ENTRY(parser_never_trusts_lengths),
		RIOV_TEST_ENTRY(context_reports_changes_once),
		RIOV_TEST_ENTRY(context_remote_equal_to_local),
		RIOV_TEST_ENTRY(context_dump_and_lost_device),
		RIOV_TEST_ENTRY(corpus_replay),
	};
	int rc = riov_test_run(pure, sizeof(pure) / sizeof(pure[0]));
	if (rc != 0)
		return rc;
	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		printf("# SKIP the kernel cases need root to make a network namespace (%s)\n",
		       geteuid() != 0 ? "not root" : strerror(errno));
		return 77;
	}
	if (run("ip link set lo up") != 0 || run("ip link add d0 type veth peer name d1") != 0 ||
	    run("ip addr add 10.77.0.1/24 dev d0 && ip link set d1 up && ip link set d0 up") != 0) {
		fprintf(stderr, "cannot make a veth pair in the test's namespace\n");
		return 1;
	}
	base = event_base_new();
	if (base == NULL || riov_evpn_kernel_create(base, &ops, NULL, &k) != 0) {
		fprintf(stderr, "no event base or EVPN context\n");
		return 1;
	}
	static const struct riov_test_case kernel[] = {
		RIOV_TEST_ENTRY(vni_makes_bridge_and_vxlan),
		RIOV_TEST_ENTRY(port_makes_a_carrierless_shadow_tap),
		RIOV_TEST_ENTRY(local_macs_are_static_entries),
		RIOV_TEST_ENTRY(zebra_writes_are_reported),
		RIOV_TEST_ENTRY(what_is_not_riovs_is_ignored),
		RIOV_TEST_ENTRY(remote_equal_to_local_is_not_reported),
		RIOV_TEST_ENTRY(initial_read_reports_what_was_there),
		RIOV_TEST_ENTRY(reconcile_removes_a_previous_runs_devices),
		RIOV_TEST_ENTRY(vni_and_port_del),
		RIOV_TEST_ENTRY(vxlan_device_follows_the_vtep_address),
	};
	rc = riov_test_run(kernel, sizeof(kernel) / sizeof(kernel[0]));
	riov_evpn_kernel_destroy(k);
	event_base_free(base);
	return rc;
}
