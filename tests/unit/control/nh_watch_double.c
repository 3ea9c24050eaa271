/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test double of control/nh_watch.h (see fabric_double.h): the next hops are what the test sets
 * with nh_double_answer(); the callback comes as the real watcher's does (the first answer inside
 * riov_nh_watch_add() for an address not watched yet, later ones only on a change).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fabric_double.h"

#define NH_DOUBLE_MAX 64

struct nh_double_answer {
	uint32_t ip;
	int status;
	struct riov_kernel_nh nh;
};

struct nh_double_entry {
	uint32_t ip;
	unsigned refs;
	int told;                    /* status last given to the callback */
	struct riov_kernel_nh told_nh;
};

struct riov_nh_watch {
	riov_nh_cb cb;
	void *arg;
	struct nh_double_entry e[NH_DOUBLE_MAX];
	unsigned n;
};

struct nh_double_knobs nh_double;
static struct nh_double_answer answers[NH_DOUBLE_MAX];
static unsigned n_answers;
static struct riov_nh_watch *live;

void fabric_double_reset(void)
{
	memset(&nh_double, 0, sizeof(nh_double));
	memset(&kernel_double, 0, sizeof(kernel_double));
	n_answers = 0;
}

void nh_double_answer(uint32_t ip, int status, unsigned ifindex, uint32_t via, const uint8_t mac[6])
{
	unsigned i;

	for (i = 0; i < n_answers && answers[i].ip != ip; i++)
		;
	if (i == NH_DOUBLE_MAX)
		abort(); /* a test asks for more than the double holds */
	if (i == n_answers)
		n_answers++;
	memset(&answers[i], 0, sizeof(answers[i]));
	answers[i].ip = ip;
	answers[i].status = status;
	answers[i].nh.ifindex = ifindex;
	answers[i].nh.via = via;
	if (mac != NULL)
		memcpy(answers[i].nh.mac, mac, 6);
}

static const struct nh_double_answer *answer_of(uint32_t ip)
{
	static struct nh_double_answer none = { .status = -ENETUNREACH };

	for (unsigned i = 0; i < n_answers; i++)
		if (answers[i].ip == ip)
			return &answers[i];
	return &none;
}

/* Tell the callback about entry k when its answer changed (always: first). */
static void look(struct riov_nh_watch *w, unsigned k, bool first)
{
	struct nh_double_entry *e = &w->e[k];
	const struct nh_double_answer *a = answer_of(e->ip);

	if (!first && a->status == e->told &&
	    (a->status != 0 || memcmp(&a->nh, &e->told_nh, sizeof(a->nh)) == 0))
		return;
	e->told = a->status;
	e->told_nh = a->nh;
	w->cb(w->arg, e->ip, a->status, a->status == 0 ? &a->nh : NULL);
}

int riov_nh_watch_create(struct event_base *base, riov_nh_cb cb, void *arg, struct riov_nh_watch **out)
{
	nh_double.creates++;
	if (nh_double.create_rc != 0)
		return nh_double.create_rc;
	struct riov_nh_watch *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->cb = cb;
	w->arg = arg;
	live = w;
	*out = w;
	return 0;
}

void riov_nh_watch_destroy(struct riov_nh_watch *w)
{
	if (w == NULL)
		return;
	nh_double.destroys++;
	if (live == w)
		live = NULL;
	free(w);
}

int riov_nh_watch_add(struct riov_nh_watch *w, uint32_t ip)
{
	nh_double.adds++;
	if (ip == 0)
		return -EINVAL;
	if (nh_double.add_rc != 0)
		return nh_double.add_rc;
	for (unsigned k = 0; k < w->n; k++) {
		if (w->e[k].ip == ip) {
			w->e[k].refs++;
			return 0;
		}
	}
	if (w->n == NH_DOUBLE_MAX)
		return -ENOMEM;
	w->e[w->n] = (struct nh_double_entry){ .ip = ip, .refs = 1 };
	look(w, w->n++, true);
	return 0;
}

void riov_nh_watch_del(struct riov_nh_watch *w, uint32_t ip)
{
	nh_double.dels++;
	for (unsigned k = 0; k < w->n; k++) {
		if (w->e[k].ip != ip)
			continue;
		if (--w->e[k].refs == 0)
			w->e[k] = w->e[--w->n];
		return;
	}
}

void riov_nh_watch_refresh(struct riov_nh_watch *w)
{
	nh_double.refreshes++;
	for (unsigned k = 0; w != NULL && k < w->n; k++)
		look(w, k, false);
}

void nh_double_event(void)
{
	for (unsigned k = 0; live != NULL && k < live->n; k++)
		look(live, k, false);
}

unsigned nh_double_refs(uint32_t ip)
{
	for (unsigned k = 0; live != NULL && k < live->n; k++)
		if (live->e[k].ip == ip)
			return live->e[k].refs;
	return 0;
}
