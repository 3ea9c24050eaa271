/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-network L2 table (dp_internal.h has its layout): MAC learning and lookup for the
 * workers; static entries, aging, purging and walking for the control thread.
 *
 * Security model: source MACs come from guests and peers. A guest can fill the table (learning
 * takes a free slot of the address's probe window, else replaces the slot it hashes to, never a
 * static entry) but cannot reach another network's table, and nothing here allocates or loops
 * beyond DP_MAC_PROBE on the fast path. Static entries come from the control plane (checked
 * there); a static entry replaces learned ones, never another static one (-ENOSPC instead).
 *
 * Thread rules: dp_mac_lookup and dp_mac_learn run on workers, any number at once; everything
 * else on the control thread. Every write is a compare-and-swap from the value the writer read,
 * so a worker's learning never overwrites a static entry the control thread just wrote, and the
 * sweep never ages an entry a worker has just seen again.
 */
#include <errno.h>
#include <string.h>

#include "dataplane/dp_internal.h"

/* Tries of a control-thread change whose compare-and-swap keeps losing to the workers. */
#define DP_MAC_CTL_TRIES 64

static inline uint64_t mac_key(const uint8_t *m)
{
	return ((uint64_t)m[0] << 40) | ((uint64_t)m[1] << 32) | ((uint64_t)m[2] << 24) |
	       ((uint64_t)m[3] << 16) | ((uint64_t)m[4] << 8) | (uint64_t)m[5];
}

static inline unsigned mac_slot(uint64_t key)
{
	/* multiplicative hash of the 48-bit key */
	return (unsigned)((key * 0x9E3779B97F4A7C15ull) >> 40) & (DP_MAC_SLOTS - 1);
}

static inline _Atomic uint64_t *slot_at(struct dp_net *net, unsigned s, unsigned i)
{
	return &net->macs[(s + i) & (DP_MAC_SLOTS - 1)];
}

static inline unsigned entry_age(uint64_t e)
{
	return (unsigned)((e & DP_MAC_AGE) / DP_MAC_AGE_ONE);
}

int dp_mac_lookup(struct dp_net *net, const uint8_t *mac)
{
	uint64_t key = mac_key(mac);
	unsigned s = mac_slot(key);

	for (unsigned i = 0; i < DP_MAC_PROBE; i++) {
		uint64_t e = atomic_load_explicit(slot_at(net, s, i), memory_order_relaxed);
		if (e == 0)
			return -1;
		/* the static, local and age bits say nothing about where the address is */
		if ((e >> 16) == key && (e & DP_MAC_PORT) != 0)
			return (int)(e & DP_MAC_PORT) - 1;
	}
	return -1;
}

/* The rank of a live entry when an address has two: a static one wins over a learned one. */
static inline unsigned entry_rank(uint64_t e)
{
	return (e & DP_MAC_STATIC) ? 0 : 1;
}

/* Remove the live entry of key in slot, unless it is static and learned_only. */
static void remove_entry(_Atomic uint64_t *slot, uint64_t key, bool learned_only)
{
	for (unsigned t = 0; t < DP_MAC_CTL_TRIES; t++) {
		uint64_t e = atomic_load(slot);
		if ((e >> 16) != key || (e & DP_MAC_PORT) == 0 || (learned_only && (e & DP_MAC_STATIC)))
			return;
		if (atomic_compare_exchange_strong(slot, &e, e & ~(uint64_t)DP_MAC_FLAGS))
			return;
	}
}

/* This writer has just put an entry of key into slot mi of the window at s. Another writer may
 * have put one of the same address elsewhere in the window at the same time (workers learning
 * it, the control thread making it static; each chose the first free slot it saw): keep one, a
 * static entry over a learned one, else the first in the window. The loads are sequentially
 * consistent after the compare-and-swap, so of two writers that raced at least one sees the
 * other's entry. Rare: only a new address's first frame gets here, not the fast path. */
static void dedupe(struct dp_net *net, unsigned s, unsigned mi, uint64_t key)
{
	_Atomic uint64_t *mine = slot_at(net, s, mi);

	for (unsigned i = 0; i < DP_MAC_PROBE; i++) {
		if (i == mi)
			continue;
		_Atomic uint64_t *x = slot_at(net, s, i);
		uint64_t e = atomic_load(x), m = atomic_load(mine);
		if (e == 0)
			break;
		if ((e >> 16) != key || (e & DP_MAC_PORT) == 0)
			continue;
		if ((m >> 16) != key || (m & DP_MAC_PORT) == 0)
			return; /* ours is gone already */
		const bool ours_goes = entry_rank(m) != entry_rank(e) ? entry_rank(m) > entry_rank(e)
								      : mi > i;
		if (ours_goes) {
			remove_entry(mine, key, !(m & DP_MAC_STATIC));
			return;
		}
		remove_entry(x, key, !(e & DP_MAC_STATIC));
	}
}

/* The entry e of slot i of the window at s has src's address: mark it seen, move it to want's
 * port or bring it back. */
static int learn_over(struct dp_net *net, unsigned s, unsigned i, uint64_t e, uint64_t want, bool local)
{
	_Atomic uint64_t *slot = slot_at(net, s, i);

	/* A local guest's address arriving from the wire is our own frame looped back (an af_packet
	 * uplink sees what riovd sent) or a spoof: never move it. */
	if (!local && (e & DP_MAC_LOCAL) && (e & DP_MAC_PORT) != 0)
		return -1;
	/* A static entry stays, but in an EVPN network one that is not a guest's (a remote MAC
	 * zebra gave) yields to a guest sending from here: the guest moved here (a migration), the
	 * control plane tells zebra (MAC mobility, RFC 7432 15) and zebra withdraws the remote one. */
	if ((e & DP_MAC_STATIC) &&
	    !(local && !(e & DP_MAC_LOCAL) && atomic_load_explicit(&net->evpn, memory_order_relaxed)))
		return 0;
	const bool seen = (e & ~(uint64_t)DP_MAC_AGE) == want; /* the same port: only its age changes */
	const bool back = (e & DP_MAC_PORT) == 0;               /* its tombstone */
	if (!atomic_compare_exchange_strong(slot, &e, want))
		return 0; /* another writer was first (a worker, the sweep, a static add): the next
			   * frame from the address looks again */
	if (back)
		dedupe(net, s, i, want >> 16);
	return seen ? 0 : 1;
}

int dp_mac_learn(struct dp_net *net, const uint8_t *mac, uint16_t port, bool local)
{
	const uint64_t key = mac_key(mac);
	const uint64_t want = (key << 16) | (local ? DP_MAC_LOCAL : 0) |
			      (uint64_t)((port + 1u) & DP_MAC_PORT);
	const unsigned s = mac_slot(key);
	unsigned free_i = DP_MAC_PROBE;
	uint64_t free_e = 0;

	if (mac[0] & 1)
		return 0; /* a multicast source is bogus: never learn it */
	for (unsigned i = 0; i < DP_MAC_PROBE; i++) {
		uint64_t e = atomic_load_explicit(slot_at(net, s, i), memory_order_relaxed);
		if (e == want)
			return 0; /* known here and seen since the last sweep: the common case */
		if (e == 0) {
			if (free_i == DP_MAC_PROBE) {
				free_i = i;
				free_e = 0;
			}
			break; /* the chain ends here: the address is not further on */
		}
		if ((e >> 16) == key)
			return learn_over(net, s, i, e, want, local);
		if ((e & DP_MAC_PORT) == 0 && free_i == DP_MAC_PROBE) {
			free_i = i; /* another address's tombstone */
			free_e = e;
		}
	}
	if (free_i == DP_MAC_PROBE) {
		/* probe window full: replace the home slot unless it is static */
		free_i = 0;
		free_e = atomic_load_explicit(&net->macs[s], memory_order_relaxed);
		if (free_e & DP_MAC_STATIC)
			return 0;
	}
	/* a new address: the first free slot of its window, or its home slot */
	if (!atomic_compare_exchange_strong(slot_at(net, s, free_i), &free_e, want))
		return 0; /* taken meanwhile (by this address from another worker, or another one) */
	dedupe(net, s, free_i, key);
	return 1;
}

void dp_mac_purge_port(struct dp_net *net, uint16_t port)
{
	/* Entries are removed by marking them port 0 ("tombstone" keeps probe chains intact). */
	for (unsigned i = 0; i < DP_MAC_SLOTS; i++) {
		uint64_t e = atomic_load_explicit(&net->macs[i], memory_order_relaxed);
		if (e != 0 && (e & DP_MAC_PORT) == ((port + 1u) & DP_MAC_PORT))
			atomic_compare_exchange_strong(&net->macs[i], &e, e & ~(uint64_t)DP_MAC_FLAGS);
	}
}

int dp_mac_set_static(struct dp_net *net, const uint8_t *mac, uint16_t port, bool local)
{
	const uint64_t key = mac_key(mac);
	const uint64_t want = (key << 16) | DP_MAC_STATIC | (local ? DP_MAC_LOCAL : 0) |
			      (uint64_t)((port + 1u) & DP_MAC_PORT);
	const unsigned s = mac_slot(key);

	if ((mac[0] & 1) || key == 0)
		return -EINVAL;
	for (unsigned t = 0; t < DP_MAC_CTL_TRIES; t++) {
		unsigned mine = DP_MAC_PROBE, free_i = DP_MAC_PROBE, oldest = DP_MAC_PROBE;
		uint64_t mine_e = 0, free_e = 0, oldest_e = 0;

		for (unsigned i = 0; i < DP_MAC_PROBE; i++) {
			uint64_t e = atomic_load_explicit(slot_at(net, s, i), memory_order_relaxed);
			if (e == 0) {
				if (free_i == DP_MAC_PROBE) {
					free_i = i;
					free_e = 0;
				}
				break;
			}
			if ((e >> 16) == key) { /* the address's own entry (or tombstone) */
				mine = i;
				mine_e = e;
				break;
			}
			if ((e & DP_MAC_PORT) == 0) {
				if (free_i == DP_MAC_PROBE) {
					free_i = i;
					free_e = e;
				}
			} else if (!(e & DP_MAC_STATIC) &&
				   (oldest == DP_MAC_PROBE || entry_age(e) > entry_age(oldest_e))) {
				oldest = i;
				oldest_e = e;
			}
		}
		if (mine == DP_MAC_PROBE) {
			mine = free_i != DP_MAC_PROBE ? free_i : oldest;
			mine_e = free_i != DP_MAC_PROBE ? free_e : oldest_e;
		}
		if (mine == DP_MAC_PROBE)
			return -ENOSPC; /* every slot it may take holds a static entry */
		if (mine_e == want)
			return 0;
		if (atomic_compare_exchange_strong(slot_at(net, s, mine), &mine_e, want)) {
			dedupe(net, s, mine, key);
			return 0;
		}
	}
	return -EAGAIN;
}

int dp_mac_remove(struct dp_net *net, const uint8_t *mac)
{
	const uint64_t key = mac_key(mac);
	const unsigned s = mac_slot(key);

	for (unsigned t = 0; t < DP_MAC_CTL_TRIES; t++) {
		_Atomic uint64_t *slot = NULL;
		uint64_t e = 0;
		for (unsigned i = 0; i < DP_MAC_PROBE; i++) {
			_Atomic uint64_t *x = slot_at(net, s, i);
			e = atomic_load_explicit(x, memory_order_relaxed);
			if (e == 0)
				break;
			if ((e >> 16) == key && (e & DP_MAC_PORT) != 0) {
				slot = x;
				break;
			}
		}
		if (slot == NULL)
			return -ENOENT;
		if (atomic_compare_exchange_strong(slot, &e, e & ~(uint64_t)DP_MAC_FLAGS))
			return 0;
	}
	return -EAGAIN;
}

unsigned dp_mac_age_net(struct dp_net *net)
{
	unsigned removed = 0;

	for (unsigned i = 0; i < DP_MAC_SLOTS; i++) {
		uint64_t e = atomic_load_explicit(&net->macs[i], memory_order_relaxed);
		if ((e & DP_MAC_PORT) == 0 || (e & DP_MAC_STATIC))
			continue;
		const bool old = entry_age(e) >= DP_MAC_AGE_MAX;
		const uint64_t next = old ? e & ~(uint64_t)DP_MAC_FLAGS : e + DP_MAC_AGE_ONE;
		/* a worker that saw the address meanwhile wins: the entry stays, young */
		if (atomic_compare_exchange_strong(&net->macs[i], &e, next) && old)
			removed++;
	}
	return removed;
}

void dp_mac_walk(struct dp_net *net, void (*fn)(void *arg, const uint8_t mac[6], uint64_t e), void *arg)
{
	for (unsigned i = 0; i < DP_MAC_SLOTS; i++) {
		uint64_t e = atomic_load_explicit(&net->macs[i], memory_order_relaxed);
		if ((e & DP_MAC_PORT) == 0)
			continue;
		const uint8_t mac[6] = { (uint8_t)(e >> 56), (uint8_t)(e >> 48), (uint8_t)(e >> 40),
					 (uint8_t)(e >> 32), (uint8_t)(e >> 24), (uint8_t)(e >> 16) };
		fn(arg, mac, e);
	}
}
