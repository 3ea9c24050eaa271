/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Next hops of remote VTEPs, kept current from the kernel (see nh_watch.h).
 *
 * One netlink socket joined to the route and neighbour groups wakes the watcher: any message
 * there (their content is not read) schedules a look at every watched address a moment later
 * (events come in bursts). A timer looks again too: every second while an address has no usable
 * next hop (asking the kernel to resolve it, with back-off up to 30 s), every 30 s otherwise, in
 * case an event was lost (the socket's buffer overran).
 */
#include "control/nh_watch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "common/log.h"

RIOV_LOG_COMPONENT("fabric", RIOV_LOG_INFO);

#define NH_SETTLE_MS 50           /* after an event, before looking (events come in bursts) */
#define NH_RETRY_MIN_S 1
#define NH_RETRY_MAX_S 30
#define NH_BACKSTOP_S 30

struct nh_entry {
	uint32_t ip;
	unsigned refs;
	bool known;                   /* the callback has been told something */
	int status;
	struct riov_kernel_nh nh;
	unsigned retry_s;             /* unresolved: seconds to the next resolve request */
	unsigned wait_s;              /* ... counting down */
};

struct riov_nh_watch {
	struct event_base *base;
	riov_nh_cb cb;
	void *arg;
	struct mnl_socket *nl;
	struct event *ev_nl;
	struct event *ev_settle;
	struct event *ev_tick;
	struct nh_entry *e;
	unsigned n, cap;
	unsigned tick_s;              /* seconds since the last backstop look */
};

static void look(struct riov_nh_watch *w, struct nh_entry *e, bool resolve)
{
	struct riov_kernel_nh nh;
	int rc = riov_kernel_nexthop(e->ip, &nh);

	if (rc == -EHOSTUNREACH && resolve && nh.ifindex != 0) {
		int r = riov_kernel_neigh_resolve(nh.ifindex, nh.via);
		if (r != 0)
			RIOV_LOG_RL(RIOV_LOG_WARN, "the kernel was not asked to resolve a next hop: %s", strerror(-r));
	}
	bool same = e->known && rc == e->status &&
		    (rc != 0 || (nh.ifindex == e->nh.ifindex && memcmp(nh.mac, e->nh.mac, 6) == 0));
	if (rc == 0) {
		e->retry_s = 0;
	} else if (resolve || e->retry_s == 0) {
		e->retry_s = e->retry_s ? (e->retry_s * 2 > NH_RETRY_MAX_S ? NH_RETRY_MAX_S : e->retry_s * 2)
					: NH_RETRY_MIN_S;
		e->wait_s = e->retry_s;
	}
	if (same)
		return;
	e->known = true;
	e->status = rc;
	e->nh = nh;
	uint32_t ip = e->ip;
	w->cb(w->arg, ip, rc, rc == 0 ? &nh : NULL);   /* may add or delete entries: e is stale now */
}

/* Look at the watched addresses (unresolved_only: the timer's round: those without a next hop
 * whose back-off is over, asking the kernel to resolve them). */
static void look_all(struct riov_nh_watch *w, bool unresolved_only)
{
	/* by address: the callback may add or delete entries */
	uint32_t *ips = w->n ? malloc(w->n * sizeof(*ips)) : NULL;
	unsigned n = 0;

	if (ips == NULL)
		return;
	for (unsigned i = 0; i < w->n; i++) {
		struct nh_entry *e = &w->e[i];
		if (unresolved_only && e->known && e->status == 0)
			continue;
		if (unresolved_only && e->wait_s > 1) {
			e->wait_s--;
			continue;
		}
		ips[n++] = e->ip;
	}
	for (unsigned k = 0; k < n; k++) {
		for (unsigned j = 0; j < w->n; j++) {
			if (w->e[j].ip == ips[k]) {
				look(w, &w->e[j], unresolved_only || w->e[j].status != 0);
				break;
			}
		}
	}
	free(ips);
}

static void on_settle(evutil_socket_t fd, short what, void *arg)
{
	look_all(arg, false);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct riov_nh_watch *w = arg;

	if (++w->tick_s >= NH_BACKSTOP_S) {
		w->tick_s = 0;
		look_all(w, false);
	} else {
		look_all(w, true);
	}
}

static void on_netlink(evutil_socket_t fd, short what, void *arg)
{
	struct riov_nh_watch *w = arg;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	bool any = false;

	/* drain: the content does not matter, only that something changed (or that the socket
	 * overran, ENOBUFS: then everything may have) */
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0 || (n < 0 && errno == ENOBUFS)) {
			any = true;
			continue;
		}
		break;
	}
	if (any && !evtimer_pending(w->ev_settle, NULL)) {
		const struct timeval tv = { .tv_usec = NH_SETTLE_MS * 1000 };
		evtimer_add(w->ev_settle, &tv);
	}
}

int riov_nh_watch_create(struct event_base *base, riov_nh_cb cb, void *arg, struct riov_nh_watch **out)
{
	struct riov_nh_watch *w = calloc(1, sizeof(*w));
	int rc;

	if (w == NULL)
		return -ENOMEM;
	w->base = base;
	w->cb = cb;
	w->arg = arg;
	w->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (w->nl == NULL || mnl_socket_bind(w->nl, RTMGRP_IPV4_ROUTE | RTMGRP_NEIGH | RTMGRP_LINK,
					     MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto fail;
	}
	w->ev_nl = event_new(base, mnl_socket_get_fd(w->nl), EV_READ | EV_PERSIST, on_netlink, w);
	w->ev_settle = evtimer_new(base, on_settle, w);
	w->ev_tick = event_new(base, -1, EV_PERSIST, on_tick, w);
	const struct timeval second = { .tv_sec = 1 };
	if (w->ev_nl == NULL || w->ev_settle == NULL || w->ev_tick == NULL || event_add(w->ev_nl, NULL) != 0 ||
	    event_add(w->ev_tick, &second) != 0) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = w;
	return 0;
fail:
	riov_nh_watch_destroy(w);
	return rc ? rc : -EIO;
}

void riov_nh_watch_destroy(struct riov_nh_watch *w)
{
	if (w == NULL)
		return;
	if (w->ev_nl != NULL)
		event_free(w->ev_nl);
	if (w->ev_settle != NULL)
		event_free(w->ev_settle);
	if (w->ev_tick != NULL)
		event_free(w->ev_tick);
	if (w->nl != NULL)
		mnl_socket_close(w->nl);
	free(w->e);
	free(w);
}

int riov_nh_watch_add(struct riov_nh_watch *w, uint32_t ip)
{
	if (ip == 0)
		return -EINVAL;
	for (unsigned i = 0; i < w->n; i++) {
		if (w->e[i].ip == ip) {
			w->e[i].refs++;
			return 0;
		}
	}
	if (w->n == w->cap) {
		unsigned cap = w->cap ? w->cap * 2 : 16;
		struct nh_entry *e = realloc(w->e, cap * sizeof(*e));
		if (e == NULL)
			return -ENOMEM;
		w->e = e;
		w->cap = cap;
	}
	struct nh_entry *e = &w->e[w->n++];
	memset(e, 0, sizeof(*e));
	e->ip = ip;
	e->refs = 1;
	look(w, e, true);
	return 0;
}

void riov_nh_watch_del(struct riov_nh_watch *w, uint32_t ip)
{
	for (unsigned i = 0; i < w->n; i++) {
		if (w->e[i].ip != ip)
			continue;
		if (--w->e[i].refs == 0)
			w->e[i] = w->e[--w->n];
		return;
	}
}

void riov_nh_watch_refresh(struct riov_nh_watch *w)
{
	if (w != NULL)
		look_all(w, false);
}
