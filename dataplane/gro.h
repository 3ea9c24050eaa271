/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receive coalescing (issue 22): the TCP/IPv4 segments of one burst from an eth port (an uplink:
 * the network delivers MTU-sized segments) become TSO frames of up to 64 KB, with the metadata a
 * guest's TSO frame gets (dataplane/offload.h), so that a guest that accepts GUEST_TSO4 receives
 * one frame where it would have received dozens; to any other receiver riov's egress cuts them
 * again (riov_ol_plan). DPDK's GRO library merges (rte_gro_reassemble_burst: pure-ACK segments
 * of a flow, in sequence, with consecutive IPv4 IDs); this file decides which segments may take
 * part and makes the merged frames right.
 *
 * Security model: the segments come from the network. DPDK's GRO neither verifies checksums nor
 * fixes them, and a merged frame reaches a guest with NEEDS_CSUM (which the guest trusts), so a
 * segment takes part only when its headers are sound (IPv4 without options or fragments, total
 * length equal to the frame's, TCP header inside it, no Ethernet padding) and both its IPv4 and
 * its TCP checksum are right (verified here in software, from the bytes); everything else passes
 * through untouched, as it came. A merged frame gets a new IPv4 header checksum and the pseudo-
 * header sum in its TCP checksum field.
 *
 * Thread rules: no state of its own; a worker calls it on the burst it just received (mbufs it
 * owns); no locks, no blocking, no allocation (DPDK's burst mode keeps its tables on the stack).
 */
#ifndef RIOV_DATAPLANE_GRO_H
#define RIOV_DATAPLANE_GRO_H

#include <stdint.h>

struct rte_mbuf;

struct riov_gro_stats {
	uint32_t frames;     /* TSO frames made */
	uint32_t segments;   /* segments that went into them */
};

/** Coalesce pkts[0..n) (single-segment mbufs as a PMD delivers them; others pass through) in
 *  place. Returns the new number of packets: merged frames (in the order of their flows' first
 *  segment) and every packet that took no part. Adds to *st. */
uint16_t riov_gro_burst(struct rte_mbuf **pkts, uint16_t n, struct riov_gro_stats *st);

#endif
