/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-network L2 table: MAC learning and lookup for the workers.
 *
 * Security model: source MACs come from guests and peers. A guest can fill the table (learning
 * replaces the slot it hashes to when its probe window is full, never a static entry) but cannot
 * reach another network's table, and nothing here allocates or loops beyond DP_MAC_PROBE.
 */
#include <string.h>

#include "dataplane/dp_internal.h"

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

int dp_mac_lookup(struct dp_net *net, const uint8_t *mac)
{
	uint64_t key = mac_key(mac);
	unsigned s = mac_slot(key);

	for (unsigned i = 0; i < DP_MAC_PROBE; i++) {
		uint64_t e = atomic_load_explicit(&net->macs[(s + i) & (DP_MAC_SLOTS - 1)],
						  memory_order_relaxed);
		if (e == 0)
			return -1;
		if ((e >> 16) == key && (e & DP_MAC_PORT) != 0)
			return (int)(e & DP_MAC_PORT) - 1;
	}
	return -1;
}

int dp_mac_learn(struct dp_net *net, const uint8_t *mac, uint16_t port, bool local)
{
	uint64_t key = mac_key(mac);
	uint64_t want = (key << 16) | (local ? DP_MAC_LOCAL : 0) | (uint64_t)((port + 1u) & DP_MAC_PORT);
	unsigned s = mac_slot(key);

	if (mac[0] & 1)
		return 0; /* a multicast source is bogus: never learn it */
	for (unsigned i = 0; i < DP_MAC_PROBE; i++) {
		_Atomic uint64_t *slot = &net->macs[(s + i) & (DP_MAC_SLOTS - 1)];
		uint64_t e = atomic_load_explicit(slot, memory_order_relaxed);
		if (e == want)
			return 0;
		if (e == 0) {
			if (atomic_compare_exchange_strong(slot, &e, want))
				return 1;
			if (e == want)
				return 0;
		}
		if ((e >> 16) == key) {
			/* A local guest's address arriving from the wire is our own frame looped back
			 * (an af_packet uplink sees what riovd sent) or a spoof: never move it. */
			if (!local && (e & DP_MAC_LOCAL) && (e & DP_MAC_PORT) != 0)
				return -1;
			if (e & DP_MAC_STATIC)
				return 0;
			atomic_store_explicit(slot, want, memory_order_relaxed); /* moved */
			return 1;
		}
	}
	/* probe window full: replace the home slot unless it is static */
	_Atomic uint64_t *home = &net->macs[s];
	uint64_t e = atomic_load_explicit(home, memory_order_relaxed);
	if (e & DP_MAC_STATIC)
		return 0;
	atomic_store_explicit(home, want, memory_order_relaxed);
	return 1;
}

void dp_mac_purge_port(struct dp_net *net, uint16_t port)
{
	/* Entries are removed by marking them port 0 ("tombstone" keeps probe chains intact). */
	for (unsigned i = 0; i < DP_MAC_SLOTS; i++) {
		uint64_t e = atomic_load_explicit(&net->macs[i], memory_order_relaxed);
		if (e != 0 && (e & DP_MAC_PORT) == ((port + 1u) & DP_MAC_PORT))
			atomic_compare_exchange_strong(&net->macs[i], &e, e & ~0xffffull);
	}
}
