/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/switch.c, the per-network MAC table (layout in dp_internal.h):
 * learning, lookup that ignores the static, local and age bits, aging (a learned entry goes at
 * the third sweep without a frame from its address; a frame resets its age; local and remote
 * alike), static entries (never moved by learning, never aged, never evicted by another static
 * entry: -ENOSPC), tombstones that keep probe chains intact and are reused, and workers learning
 * on threads while the control thread adds static entries and sweeps. Includes switch.c; no EAL.
 */
#include "dataplane/switch.c"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "riov_test.h"

static struct dp_net *net_new(void)
{
	struct dp_net *net = calloc(1, sizeof(*net));
	CHECK(net != NULL);
	if (net == NULL)
		exit(1);
	return net;
}

static void mac_of(uint64_t key, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(key >> (40 - 8 * i));
}

/* The n-th unicast, locally administered address whose home slot is home. */
static void mac_at(unsigned home, unsigned n, uint8_t mac[6])
{
	for (uint64_t k = 0x020000000000ull;; k++) {
		if (mac_slot(k) == home && n-- == 0) {
			mac_of(k, mac);
			return;
		}
	}
}

static uint64_t entry_of(struct dp_net *net, const uint8_t *mac)
{
	const uint64_t key = mac_key(mac);
	for (unsigned i = 0; i < DP_MAC_PROBE; i++) {
		uint64_t e = atomic_load(slot_at(net, mac_slot(key), i));
		if ((e >> 16) == key && (e & DP_MAC_PORT) != 0)
			return e;
	}
	return 0;
}

RIOV_TEST(learn_and_lookup)
{
	struct dp_net *net = net_new();
	const uint8_t a[6] = { 0x02, 0, 0, 0, 0, 0x0a }, b[6] = { 0x02, 0, 0, 0, 0, 0x0b };
	const uint8_t mc[6] = { 0x01, 0, 0x5e, 0, 0, 1 };

	CHECK_EQ(dp_mac_lookup(net, a), -1);
	CHECK_EQ(dp_mac_learn(net, a, 3, true), 1);
	CHECK_EQ(dp_mac_learn(net, a, 3, true), 0);
	CHECK_EQ(dp_mac_lookup(net, a), 3);
	CHECK_EQ(dp_mac_learn(net, b, 1023, false), 1);      /* the highest port id fits */
	CHECK_EQ(dp_mac_lookup(net, b), 1023);
	CHECK_EQ(dp_mac_learn(net, b, 7, false), 1);         /* moved */
	CHECK_EQ(dp_mac_lookup(net, b), 7);
	CHECK_EQ(dp_mac_learn(net, a, 7, false), -1);        /* a guest's address from the wire */
	CHECK_EQ(dp_mac_lookup(net, a), 3);
	CHECK_EQ(dp_mac_learn(net, mc, 7, false), 0);        /* never a multicast source */
	CHECK_EQ(dp_mac_lookup(net, mc), -1);
	dp_mac_purge_port(net, 3);
	CHECK_EQ(dp_mac_lookup(net, a), -1);
	CHECK_EQ(dp_mac_learn(net, a, 7, false), 1);         /* its tombstone comes back */
	CHECK_EQ(dp_mac_lookup(net, a), 7);
	free(net);
}

RIOV_TEST(lookup_ignores_flags)
{
	struct dp_net *net = net_new();
	const uint8_t a[6] = { 0x02, 1, 2, 3, 4, 5 };
	const uint64_t key = mac_key(a);
	_Atomic uint64_t *home = &net->macs[mac_slot(key)];

	atomic_store(home, (key << 16) | DP_MAC_STATIC | DP_MAC_LOCAL | DP_MAC_AGE | 42);
	CHECK_EQ(dp_mac_lookup(net, a), 41);
	atomic_store(home, (key << 16) | (2 * DP_MAC_AGE_ONE) | 1);
	CHECK_EQ(dp_mac_lookup(net, a), 0);
	atomic_store(home, (key << 16) | DP_MAC_AGE);         /* a tombstone whatever its bits */
	CHECK_EQ(dp_mac_lookup(net, a), -1);
	free(net);
}

/* A frame from an address resets its age (one store), the sweeps age it, the third sweep without
 * a frame removes it. */
RIOV_TEST(seen_resets_age)
{
	struct dp_net *net = net_new();
	const uint8_t a[6] = { 0x02, 0, 0, 0, 1, 0 };

	CHECK_EQ(dp_mac_learn(net, a, 5, true), 1);
	const uint64_t fresh = entry_of(net, a);
	CHECK_EQ(entry_age(fresh), 0);
	CHECK_EQ(dp_mac_age_net(net), 0);
	CHECK_EQ(entry_age(entry_of(net, a)), 1);
	CHECK_EQ(dp_mac_lookup(net, a), 5);                   /* age does not hide it */
	CHECK_EQ(dp_mac_learn(net, a, 5, true), 0);           /* seen: not a change of the table */
	CHECK_EQ(entry_of(net, a), fresh);                    /* age back to 0, nothing else */
	CHECK_EQ(dp_mac_age_net(net), 0);
	CHECK_EQ(dp_mac_age_net(net), 0);
	CHECK_EQ(entry_age(entry_of(net, a)), 2);
	CHECK_EQ(dp_mac_learn(net, a, 5, true), 0);
	CHECK_EQ(entry_age(entry_of(net, a)), 0);
	/* a frame from another port while old: moved and young */
	CHECK_EQ(dp_mac_age_net(net), 0);
	CHECK_EQ(dp_mac_learn(net, a, 6, true), 1);
	CHECK_EQ(entry_age(entry_of(net, a)), 0);
	CHECK_EQ(dp_mac_lookup(net, a), 6);
	free(net);
}

RIOV_TEST(aging_sweep)
{
	struct dp_net *net = net_new();
	const uint8_t local[6] = { 0x02, 0, 0, 0, 2, 1 }, remote[6] = { 0x02, 0, 0, 0, 2, 2 };
	const uint8_t busy[6] = { 0x02, 0, 0, 0, 2, 3 };

	CHECK_EQ(dp_mac_learn(net, local, 1, true), 1);
	CHECK_EQ(dp_mac_learn(net, remote, 2, false), 1);
	CHECK_EQ(dp_mac_learn(net, busy, 2, false), 1);
	for (unsigned sweep = 1; sweep <= DP_MAC_AGE_MAX; sweep++) {
		CHECK_EQ(dp_mac_age_net(net), 0);
		CHECK_EQ(dp_mac_learn(net, busy, 2, false), 0);
	}
	CHECK_EQ(dp_mac_lookup(net, local), 1);
	CHECK_EQ(dp_mac_lookup(net, remote), 2);
	CHECK_EQ(dp_mac_age_net(net), 2);                    /* the third sweep: both silent ones */
	CHECK_EQ(dp_mac_lookup(net, local), -1);
	CHECK_EQ(dp_mac_lookup(net, remote), -1);
	CHECK_EQ(dp_mac_lookup(net, busy), 2);
	CHECK_EQ(dp_mac_age_net(net), 0);
	/* gone: learned again as new */
	CHECK_EQ(dp_mac_learn(net, remote, 4, false), 1);
	CHECK_EQ(dp_mac_lookup(net, remote), 4);
	/* an aged-out guest address may come from the wire now (it moved) */
	CHECK_EQ(dp_mac_learn(net, local, 4, false), 1);
	free(net);
}

RIOV_TEST(static_never_replaced_or_aged)
{
	struct dp_net *net = net_new();
	const uint8_t a[6] = { 0x02, 0, 0, 0, 3, 1 }, g[6] = { 0x02, 0, 0, 0, 3, 2 };
	const uint8_t mc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, zero[6] = { 0 };

	CHECK_EQ(dp_mac_learn(net, a, 9, false), 1);
	CHECK_EQ(dp_mac_set_static(net, a, 4, false), 0);    /* in place of the learned entry */
	CHECK_EQ(dp_mac_lookup(net, a), 4);
	CHECK_EQ(dp_mac_learn(net, a, 9, false), 0);
	CHECK_EQ(dp_mac_learn(net, a, 8, true), 0);
	CHECK_EQ(dp_mac_lookup(net, a), 4);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(dp_mac_age_net(net), 0);
	CHECK_EQ(dp_mac_lookup(net, a), 4);
	CHECK(entry_of(net, a) & DP_MAC_STATIC);
	CHECK_EQ(entry_age(entry_of(net, a)), 0);
	CHECK_EQ(dp_mac_set_static(net, a, 4, false), 0);    /* again: the same */
	CHECK_EQ(dp_mac_set_static(net, a, 5, false), 0);    /* another port: replaced */
	CHECK_EQ(dp_mac_lookup(net, a), 5);
	/* a static entry on a guest's port: the address from the wire is a loop */
	CHECK_EQ(dp_mac_set_static(net, g, 1, true), 0);
	CHECK_EQ(dp_mac_learn(net, g, 2, false), -1);
	CHECK_EQ(dp_mac_lookup(net, g), 1);
	CHECK_EQ(dp_mac_set_static(net, mc, 1, false), -EINVAL);
	CHECK_EQ(dp_mac_set_static(net, zero, 1, false), -EINVAL);
	CHECK_EQ(dp_mac_lookup(net, mc), -1);
	/* removed; removing twice finds nothing */
	CHECK_EQ(dp_mac_remove(net, a), 0);
	CHECK_EQ(dp_mac_lookup(net, a), -1);
	CHECK_EQ(dp_mac_remove(net, a), -ENOENT);
	CHECK_EQ(dp_mac_learn(net, a, 9, false), 1);         /* learned again */
	CHECK_EQ(dp_mac_remove(net, a), 0);                  /* learned entries go too */
	/* its port goes: so does it */
	dp_mac_purge_port(net, 1);
	CHECK_EQ(dp_mac_lookup(net, g), -1);
	free(net);
}

/* A probe window of static entries: a ninth static address is -ENOSPC and evicts nothing;
 * learning it changes nothing either. A static address takes the oldest learned entry's slot. */
RIOV_TEST(static_window_full)
{
	struct dp_net *net = net_new();
	uint8_t m[DP_MAC_PROBE + 2][6];
	const unsigned home = 100;

	for (unsigned i = 0; i < DP_MAC_PROBE + 2; i++)
		mac_at(home, i, m[i]);
	for (unsigned i = 0; i < DP_MAC_PROBE - 1; i++)
		CHECK_EQ(dp_mac_set_static(net, m[i], (uint16_t)i, false), 0);
	CHECK_EQ(dp_mac_learn(net, m[DP_MAC_PROBE - 1], 50, false), 1);   /* the last free slot */
	CHECK_EQ(dp_mac_lookup(net, m[DP_MAC_PROBE - 1]), 50);
	/* window full of statics and one learned entry: learning a ninth address cannot evict a
	 * static one (the home slot is static) */
	CHECK_EQ(dp_mac_learn(net, m[DP_MAC_PROBE], 51, false), 0);
	CHECK_EQ(dp_mac_lookup(net, m[DP_MAC_PROBE]), -1);
	/* a static ninth takes the learned entry's slot */
	CHECK_EQ(dp_mac_set_static(net, m[DP_MAC_PROBE], 60, false), 0);
	CHECK_EQ(dp_mac_lookup(net, m[DP_MAC_PROBE]), 60);
	CHECK_EQ(dp_mac_lookup(net, m[DP_MAC_PROBE - 1]), -1);
	/* and a tenth finds nothing but static entries */
	CHECK_EQ(dp_mac_set_static(net, m[DP_MAC_PROBE + 1], 61, false), -ENOSPC);
	CHECK_EQ(dp_mac_lookup(net, m[DP_MAC_PROBE + 1]), -1);
	for (unsigned i = 0; i < DP_MAC_PROBE - 1; i++)
		CHECK_EQ(dp_mac_lookup(net, m[i]), (int)i);
	/* a static address of the window replaced in place is no new slot */
	CHECK_EQ(dp_mac_set_static(net, m[3], 70, false), 0);
	CHECK_EQ(dp_mac_lookup(net, m[3]), 70);
	/* one removed: room again */
	CHECK_EQ(dp_mac_remove(net, m[0]), 0);
	CHECK_EQ(dp_mac_set_static(net, m[DP_MAC_PROBE + 1], 61, false), 0);
	CHECK_EQ(dp_mac_lookup(net, m[DP_MAC_PROBE + 1]), 61);
	free(net);
}

/* Among learned entries a static address evicts the oldest one. */
RIOV_TEST(static_evicts_oldest_learned)
{
	struct dp_net *net = net_new();
	uint8_t m[DP_MAC_PROBE + 1][6];
	const unsigned home = 8190; /* the window wraps around the end of the table */

	for (unsigned i = 0; i <= DP_MAC_PROBE; i++)
		mac_at(home, i, m[i]);
	for (unsigned i = 0; i < DP_MAC_PROBE; i++)
		CHECK_EQ(dp_mac_learn(net, m[i], (uint16_t)(10 + i), false), 1);
	dp_mac_age_net(net);
	dp_mac_age_net(net);
	for (unsigned i = 0; i < DP_MAC_PROBE; i++)
		if (i != 5)
			dp_mac_learn(net, m[i], (uint16_t)(10 + i), false); /* all seen but m[5] */
	CHECK_EQ(dp_mac_set_static(net, m[DP_MAC_PROBE], 99, false), 0);
	CHECK_EQ(dp_mac_lookup(net, m[DP_MAC_PROBE]), 99);
	CHECK_EQ(dp_mac_lookup(net, m[5]), -1);
	for (unsigned i = 0; i < DP_MAC_PROBE; i++)
		if (i != 5)
			CHECK_EQ(dp_mac_lookup(net, m[i]), (int)(10 + i));
	free(net);
}

/* Removed entries are tombstones: the addresses after them in the window are still found, and a
 * new address takes the first tombstone; an address is never in its window twice. */
RIOV_TEST(tombstones_keep_chains)
{
	struct dp_net *net = net_new();
	uint8_t m[DP_MAC_PROBE + 1][6];
	const unsigned home = 4000;

	for (unsigned i = 0; i <= DP_MAC_PROBE; i++)
		mac_at(home, i, m[i]);
	for (unsigned i = 0; i < DP_MAC_PROBE; i++)
		CHECK_EQ(dp_mac_learn(net, m[i], (uint16_t)i, false), 1);
	CHECK_EQ(dp_mac_remove(net, m[2]), 0);
	CHECK_EQ(dp_mac_remove(net, m[4]), 0);
	for (unsigned i = 0; i < DP_MAC_PROBE; i++)
		CHECK_EQ(dp_mac_lookup(net, m[i]), i == 2 || i == 4 ? -1 : (int)i);
	CHECK_EQ(dp_mac_learn(net, m[DP_MAC_PROBE], 77, false), 1);
	CHECK_EQ(atomic_load(&net->macs[home + 2]) >> 16, mac_key(m[DP_MAC_PROBE]));
	/* m[7] learned again (it is there): no second entry in m[4]'s tombstone */
	CHECK_EQ(dp_mac_learn(net, m[7], 7, false), 0);
	CHECK_EQ(atomic_load(&net->macs[home + 4]) & DP_MAC_PORT, 0);
	/* m[4] comes back into its own tombstone */
	CHECK_EQ(dp_mac_learn(net, m[4], 44, false), 1);
	CHECK_EQ(atomic_load(&net->macs[home + 4]) & DP_MAC_PORT, 45);
	free(net);
}

/* Two writers that raced to put one address into two slots of its window (each saw the other's
 * slot still free): the one that sees the other's entry afterwards keeps one, the static entry
 * over the learned one, else the first in the window. */
RIOV_TEST(racing_writers_keep_one)
{
	struct dp_net *net = net_new();
	uint8_t k[6], other[6];
	const unsigned home = 300;

	mac_at(home, 0, k);
	mac_at(home, 1, other);
	const uint64_t key = mac_key(k);
	const uint64_t learned = (key << 16) | 5, stat = (key << 16) | DP_MAC_STATIC | 100;
	static const struct {
		unsigned mine, theirs;  /* window slots: the writer's entry, the other writer's */
		bool mine_static, theirs_static;
		unsigned kept;          /* the slot that keeps the address */
	} cases[] = {
		{ 1, 3, false, true, 3 },  /* a worker's entry before the control thread's static one */
		{ 3, 1, false, true, 1 },
		{ 3, 1, true, false, 3 },  /* the control thread's static entry after a worker's */
		{ 1, 3, true, false, 1 },
		{ 4, 2, false, false, 2 }, /* two workers: the first slot stays */
		{ 2, 4, false, false, 2 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		memset(net->macs, 0, sizeof(net->macs));
		for (unsigned i = 0; i < 6; i++) /* another address around them */
			atomic_store(&net->macs[home + i], (mac_key(other) << 16) | 9);
		atomic_store(&net->macs[home + cases[c].mine], cases[c].mine_static ? stat : learned);
		atomic_store(&net->macs[home + cases[c].theirs], cases[c].theirs_static ? stat : learned);
		dedupe(net, home, cases[c].mine, key);
		for (unsigned i = 0; i < 6; i++) {
			uint64_t e = atomic_load(&net->macs[home + i]);
			bool live_k = (e >> 16) == key && (e & DP_MAC_PORT) != 0;
			if (live_k != (i == cases[c].kept)) {
				fprintf(stderr, "  case %zu: slot %u %s\n", c, i, live_k ? "has it" : "lost it");
				riov_test_failures++;
			}
		}
		CHECK_EQ(dp_mac_lookup(net, k), cases[c].mine_static || cases[c].theirs_static ? 99 : 4);
	}
	free(net);
}

struct walked {
	unsigned n, statics, locals;
	uint8_t last[6];
};

static void walk_count(void *arg, const uint8_t mac[6], uint64_t e)
{
	struct walked *w = arg;
	w->n++;
	w->statics += (e & DP_MAC_STATIC) != 0;
	w->locals += (e & DP_MAC_LOCAL) != 0;
	memcpy(w->last, mac, 6);
}

RIOV_TEST(walk_live_entries)
{
	struct dp_net *net = net_new();
	const uint8_t a[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee }, b[6] = { 0x02, 0, 0, 0, 4, 2 };
	const uint8_t c[6] = { 0x02, 0, 0, 0, 4, 3 };
	struct walked w = { 0 };

	dp_mac_learn(net, a, 1, true);
	dp_mac_learn(net, b, 2, false);
	dp_mac_set_static(net, c, 3, false);
	dp_mac_remove(net, b);
	dp_mac_walk(net, walk_count, &w);
	CHECK_EQ(w.n, 2);
	CHECK_EQ(w.statics, 1);
	CHECK_EQ(w.locals, 1);
	memset(&w, 0, sizeof(w));
	dp_mac_remove(net, c);
	dp_mac_walk(net, walk_count, &w);
	CHECK(w.n == 1 && memcmp(w.last, a, 6) == 0);
	free(net);
}

/* Workers on threads learn a few addresses from several ports (new addresses, moves, re-learning,
 * races with the sweep) while the control thread makes and removes static entries and sweeps:
 * learning never replaces a static entry, lookups never see a port nobody wrote, and when the
 * workers stop no address is in the table twice (two writers that raced to put the same address
 * into two slots kept one: the static one, or the first). */
#define MT_MACS 64
#define MT_KEPT 16            /* addresses made static once and kept */
#define MT_ROUNDS 200000

struct mt_arg {
	struct dp_net *net;
	unsigned seed;
	unsigned bad;
};

static uint8_t mt_mac[MT_MACS][6];
static _Atomic bool mt_stop;

static void *mt_worker(void *p)
{
	struct mt_arg *a = p;

	for (unsigned r = 0; !atomic_load(&mt_stop) && r < 50 * MT_ROUNDS; r++) {
		unsigned k = (unsigned)rand_r(&a->seed) % MT_MACS;
		uint16_t port = (uint16_t)(1 + rand_r(&a->seed) % 6); /* learned on ports 1-6 */
		dp_mac_learn(a->net, mt_mac[k], port, false);
		int out = dp_mac_lookup(a->net, mt_mac[(unsigned)rand_r(&a->seed) % MT_MACS]);
		if (out != -1 && (out < 1 || out > 6) && out != 99)
			a->bad++;
	}
	return NULL;
}

/* Whether mac's lookup answers want within a while (a worker that raced the static add removes
 * its own learned entry right after). */
static bool mt_settles(struct dp_net *net, const uint8_t *mac, int want)
{
	for (unsigned i = 0; i < 100000; i++) {
		if (dp_mac_lookup(net, mac) == want)
			return true;
		if (i % 64 == 63)
			sched_yield();
	}
	return false;
}

RIOV_TEST(workers_and_control_thread)
{
	struct dp_net *net = net_new();
	struct mt_arg args[2] = { { net, 1, 0 }, { net, 2, 0 } };
	bool kept[MT_KEPT] = { false };
	pthread_t t[2];
	unsigned bad = 0;

	for (unsigned i = 0; i < MT_MACS; i++)
		mac_at(200 + i / 16, i % 16, mt_mac[i]); /* crowded windows: 16 addresses for 8 slots */
	atomic_store(&mt_stop, false);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, mt_worker, &args[i]), 0);
	for (unsigned r = 0; r < MT_ROUNDS; r++) {
		unsigned k = r % MT_MACS;
		int rc = dp_mac_set_static(net, mt_mac[k], 99, false);
		if (rc == 0 && !mt_settles(net, mt_mac[k], 99))
			bad++; /* learning replaced or shadows a static entry */
		if (rc != 0 && rc != -ENOSPC && rc != -EAGAIN)
			bad++;
		if (k < MT_KEPT)
			kept[k] |= rc == 0;
		else if (rc == 0 && dp_mac_remove(net, mt_mac[k]) != 0)
			bad++;
		if (r % 7 == 0)
			dp_mac_age_net(net);
	}
	atomic_store(&mt_stop, true);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		bad += args[i].bad;
	}
	CHECK_EQ(bad, 0);
	unsigned n_kept = 0;
	for (unsigned k = 0; k < MT_KEPT; k++) {
		n_kept += kept[k];
		if (kept[k])
			CHECK_EQ(dp_mac_lookup(net, mt_mac[k]), 99);
	}
	CHECK(n_kept >= 8); /* at least the windows' worth of statics went in */
	/* every entry left is well-formed, static only where kept, and no address is there twice */
	for (unsigned i = 0; i < DP_MAC_SLOTS; i++) {
		uint64_t e = atomic_load(&net->macs[i]);
		if ((e & DP_MAC_PORT) == 0)
			continue;
		if (e & DP_MAC_STATIC) {
			CHECK_EQ(e & DP_MAC_PORT, 100);
			CHECK_EQ(entry_age(e), 0);
		} else {
			CHECK((e & DP_MAC_PORT) >= 2 && (e & DP_MAC_PORT) <= 7 && entry_age(e) <= DP_MAC_AGE_MAX);
		}
		for (unsigned j = i + 1; j < DP_MAC_SLOTS; j++) {
			uint64_t f = atomic_load(&net->macs[j]);
			if ((f & DP_MAC_PORT) != 0 && (f >> 16) == (e >> 16)) {
				fprintf(stderr, "  address %012llx in slots %u and %u\n",
					(unsigned long long)(e >> 16), i, j);
				riov_test_failures++;
			}
		}
	}
	free(net);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(learn_and_lookup), RIOV_TEST_ENTRY(lookup_ignores_flags),
	       RIOV_TEST_ENTRY(seen_resets_age), RIOV_TEST_ENTRY(aging_sweep),
	       RIOV_TEST_ENTRY(static_never_replaced_or_aged), RIOV_TEST_ENTRY(static_window_full),
	       RIOV_TEST_ENTRY(static_evicts_oldest_learned), RIOV_TEST_ENTRY(tombstones_keep_chains),
	       RIOV_TEST_ENTRY(racing_writers_keep_one),
	       RIOV_TEST_ENTRY(walk_live_entries), RIOV_TEST_ENTRY(workers_and_control_thread))
