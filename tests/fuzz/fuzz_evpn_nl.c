/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the EVPN netlink parser (control/evpn_kernel.c, riov_evpn_nl_parse()): the
 * input is one datagram as riovd's event socket reads it. The parser gets the whole input first
 * (whatever its first bytes say), then every message of it, walked as the context walks a
 * datagram (by each message's length, while it fits), each with its own heap copy of exactly the
 * bytes left (ASan sees any read beyond). Checked here, independently of the code under test: an
 * event is for one of the harness's vxlan devices with its VNI, comes from an AF_BRIDGE
 * RTM_NEWNEIGH (add) or RTM_DELNEIGH (removal) whose length fits, has a flood entry exactly when
 * its MAC is all zero, a unicast MAC otherwise, a usable IPv4 VTEP (none for the bridge's side of
 * a remote MAC, which is externally learned), and that MAC and VTEP among the message's bytes; an ignored message says one of the parser's reasons; the same message
 * parses the same way twice; with no device known, nothing is an event; a message that does not
 * fit is none. The unit test tests/unit/control/test_evpn_kernel.c builds this file too and
 * replays tests/fuzz/corpus/evpn_nl/ (datagrams captured from FRR 8.4's zebra, docs/evpn.md, and
 * the regression inputs regress-*).
 *
 * Security model: the input stands for what zebra, or anyone with CAP_NET_ADMIN in riovd's
 * network namespace, makes the kernel send. The parser must not read outside what it is given,
 * crash, or call anything but a well-formed entry on riov's vxlan device an event.
 *
 * Input: the bytes of one datagram. riov's vxlan devices here: ifindex 4 (VNI 100, as in the
 * captured seeds) and ifindex 7 (VNI 16777215).
 *
 * Thread rules: one thread; no state between inputs.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "control/evpn_kernel.h"
#include "tests/fuzz/fuzz_entry.h"

#define FE_MAX_INPUT 65536u

int riov_evpn_nl_fuzz_one(const uint8_t *data, size_t size);

static void fe_fail(const char *what, long a, long b)
{
	fprintf(stderr, "fuzz_evpn_nl: %s (%ld, %ld)\n", what, a, b);
	abort();
}

#define FE_CHECK(cond, a, b)                                                                  \
	do {                                                                                  \
		if (!(cond))                                                                  \
			fe_fail(#cond, (long)(a), (long)(b));                                 \
	} while (0)

static bool fe_vni_of(void *arg, uint32_t ifindex, uint32_t *vni)
{
	(void)arg;
	if (ifindex == 4) {
		*vni = 100;
		return true;
	}
	if (ifindex == 7) {
		*vni = RIOV_EVPN_VNI_MAX;
		return true;
	}
	return false;
}

static bool fe_none(void *arg, uint32_t ifindex, uint32_t *vni)
{
	(void)arg;
	(void)ifindex;
	(void)vni;
	return false;
}

static bool fe_has(const uint8_t *m, size_t n, const void *what, size_t wn)
{
	return memmem(m, n, what, wn) != NULL;
}

/* Parse msg (len bytes, its own allocation) and check the result; returns 1 for an event. */
static int fe_one(const uint8_t *msg, size_t len)
{
	static const uint8_t zero[6];
	struct riov_evpn_fdb_event ev, again;

	int r = riov_evpn_nl_parse(msg, len, fe_vni_of, NULL, &ev);
	FE_CHECK(r == 0 || r == 1, r, 0);
	int r2 = riov_evpn_nl_parse(msg, len, fe_vni_of, NULL, &again);
	FE_CHECK(r2 == r && memcmp(&ev, &again, sizeof(ev)) == 0, r2, r);
	FE_CHECK(riov_evpn_nl_parse(msg, len, fe_none, NULL, &again) == 0, len, 0);
	FE_CHECK(riov_evpn_nl_parse(msg, len, NULL, NULL, &again) == 0, len, 0);
	if (r == 0) {
		FE_CHECK(ev.kind == RIOV_EVPN_FDB_NONE, ev.kind, 0);
		FE_CHECK((unsigned)ev.why < RIOV_EVPN_IGN_PARSER__MAX, ev.why, 0);
		FE_CHECK(strcmp(riov_evpn_ignore_name(ev.why), "?") != 0, ev.why, 0);
		return 0;
	}
	/* an event: the header says so, within len */
	struct nlmsghdr h;
	struct ndmsg nd;
	FE_CHECK(len >= sizeof(h) + sizeof(nd), len, 0);
	memcpy(&h, msg, sizeof(h));
	memcpy(&nd, msg + sizeof(h), sizeof(nd));
	FE_CHECK(h.nlmsg_len <= len && h.nlmsg_len >= sizeof(h) + sizeof(nd), h.nlmsg_len, len);
	FE_CHECK(ev.add == (h.nlmsg_type == RTM_NEWNEIGH), ev.add, h.nlmsg_type);
	FE_CHECK(h.nlmsg_type == RTM_NEWNEIGH || h.nlmsg_type == RTM_DELNEIGH, h.nlmsg_type, 0);
	FE_CHECK(nd.ndm_family == AF_BRIDGE, nd.ndm_family, 0);
	FE_CHECK((uint32_t)nd.ndm_ifindex == ev.ifindex, nd.ndm_ifindex, ev.ifindex);
	FE_CHECK((ev.ifindex == 4 && ev.vni == 100) || (ev.ifindex == 7 && ev.vni == RIOV_EVPN_VNI_MAX),
		 ev.ifindex, ev.vni);
	const bool zero_mac = memcmp(ev.mac, zero, 6) == 0;
	if (ev.kind == RIOV_EVPN_FDB_BRIDGE_REMOTE) {
		/* the bridge's side of a remote MAC: a unicast MAC, externally learned, no VTEP */
		FE_CHECK(ev.vtep == 0 && !zero_mac && !(ev.mac[0] & 1), ev.vtep, ev.mac[0]);
		FE_CHECK(nd.ndm_flags & NTF_EXT_LEARNED, nd.ndm_flags, 0);
		FE_CHECK(fe_has(msg + sizeof(h) + sizeof(nd), h.nlmsg_len - sizeof(h) - sizeof(nd), ev.mac, 6), 0, 0);
		return 1;
	}
	FE_CHECK((ev.kind == RIOV_EVPN_FDB_FLOOD) == zero_mac, ev.kind, zero_mac);
	FE_CHECK(ev.kind == RIOV_EVPN_FDB_FLOOD || ev.kind == RIOV_EVPN_FDB_REMOTE_MAC, ev.kind, 0);
	if (ev.kind == RIOV_EVPN_FDB_REMOTE_MAC)
		FE_CHECK(!(ev.mac[0] & 1) && (nd.ndm_flags & NTF_EXT_LEARNED), ev.mac[0], nd.ndm_flags);
	const uint8_t *ip = (const uint8_t *)&ev.vtep;
	FE_CHECK(ip[0] != 0 && ip[0] != 127 && ip[0] < 224, ip[0], ip[3]);
	FE_CHECK(fe_has(msg + sizeof(h) + sizeof(nd), h.nlmsg_len - sizeof(h) - sizeof(nd), ev.mac, 6), 0, 0);
	FE_CHECK(fe_has(msg + sizeof(h) + sizeof(nd), h.nlmsg_len - sizeof(h) - sizeof(nd), &ev.vtep, 4), 0, 0);
	return 1;
}

/* Returns how many events the input held. */
int riov_evpn_nl_fuzz_one(const uint8_t *data, size_t size)
{
	int events = 0;

	if (size > FE_MAX_INPUT)
		return 0;
	/* the whole input, whatever it starts with (also what mnl_nlmsg_ok would refuse) */
	uint8_t *copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	(void)fe_one(copy, size);
	free(copy);

	/* the datagram walked message by message, as the context walks it (not with libmnl's
	 * mnl_nlmsg_ok/next: they take a length of 2 GiB or more for a negative int, fits, and
	 * jump outside the buffer; this harness found that) */
	size_t off = 0;
	while (size - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		memcpy(&h, data + off, sizeof(h));
		const size_t n = size - off;
		uint8_t *m = malloc(n);
		if (m == NULL)
			break;
		memcpy(m, data + off, n);
		const int ev = fe_one(m, n);
		free(m);
		events += ev;
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > n || h.nlmsg_len % 4 != 0) {
			FE_CHECK(ev == 0, ev, h.nlmsg_len);   /* what does not fit is no event */
			break;
		}
		off += h.nlmsg_len;
	}
	return events;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	riov_evpn_nl_fuzz_one(data, size);
	return 0;
}
