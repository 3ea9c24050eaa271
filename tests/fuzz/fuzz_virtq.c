/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the virtqueue device code (dataplane/virtq*.c), split and packed rings:
 * the input becomes
 * guest ring memory served by riov_virtq_peek/peek_done/pkt_mbuf (guest TX, the worker's calls) and
 * riov_virtq_enqueue/enqueue_pkts (guest RX) through a real VT-d domain, in riov_virtq_fuzz_one().
 * The unit test tests/unit/dataplane/test_virtq.c runs the same function. Seeds:
 * tests/fuzz/corpus/virtq/ (gen.py).
 *
 * Security model: the input is arbitrary bytes, standing for a hostile guest's ring memory and
 * indices. The device code must not crash, hang, leak or touch memory outside the guest area.
 *
 * Layout: a guest memory area of FZ_PAGES pages at guest-physical FZ_GPA, mapped through a real
 * VT-d domain: the rings sit in the first pages (desc, avail, used), page FZ_RO_PAGE is read-only
 * and page FZ_HOLE_PAGE unmapped. Input bytes 0-7 pick the ring size (byte 0: 1 << (b % 9); its
 * bit 7 adds the offloads: TX headers become mbuf metadata as in the worker), the features (byte
 * 1: bit 0 MRG_RXBUF, 1 VERSION_1, 2 INDIRECT, 3 EVENT_IDX, 4 IN_ORDER, 5 in-order
 * batching, 6 dirty log, 7 the worker's direct path for both directions), the start indices (bytes
 * 2-5) and the RX packet sizes (bytes 6-7); the rest fills the memory from its start. Between
 * bursts the "guest" moves avail->idx by input-chosen amounts, so the device also sees stale,
 * repeated and far-ahead indices.
 * Byte 0 bit 6 selects a packed ring (virtio 1.2 2.8) instead: its size is 1 + (byte 0 & 63) below
 * 16, else 1 + (byte 0 & 63) * 37 % 256 (not a power of two), page 0 holds the descriptor ring,
 * page 1 the driver's and page 2 the device's event suppression area, bytes 2-3 the start index
 * with its wrap counter (bit 15; the index reduced modulo the size), used from the same place;
 * between bursts the "driver" flips the AVAIL/USED flags of an input-chosen slot.
 *
 * Thread rules: one thread. Sets up EAL (or reuses it), a mempool and a VT-d unit on first use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/offload.h"
#include "dataplane/virtq.h"
#include "dataplane/virtq_internal.h"
#include "iommu/vtd.h"
#include "tests/fuzz/fuzz_entry.h"
#include "vmm/vhost.h"
#include "tests/eal_rundir.h"

#define FZ_GPA 0x40000000ull
#define FZ_PAGES 16u
#define FZ_RO_PAGE 12u
#define FZ_HOLE_PAGE 14u
#define FZ_SID 0x0810
#define FZ_DID 7
#define FZ_HDR 8

static struct {
	bool ready;
	bool packed;          /* this input's rings are packed (psize slots) */
	uint16_t psize;
	bool failed;
	struct riov_vtd *vtd;
	uint8_t *mem;
	struct rte_mempool *mp;
	uint64_t msi_addr;
	uint32_t msi_data;
} fz;

/* The guest area mapped in domain FZ_DID for FZ_SID, and an interrupt entry for the queues. */
static int fz_setup_vtd(void)
{
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 8, .irte_count = 16 };
	fz.vtd = riov_vtd_create(&cfg);
	if (fz.vtd == NULL)
		return -1;
	if (posix_memalign((void **)&fz.mem, 4096, FZ_PAGES * 4096u) != 0)
		return -1;
	memset(fz.mem, 0, FZ_PAGES * 4096u);
	if (riov_vtd_domain_create(fz.vtd, FZ_DID, 4) < 0)
		return -1;
	for (unsigned p = 0; p < FZ_PAGES; p++) {
		if (p == FZ_HOLE_PAGE)
			continue;
		unsigned perm = p == FZ_RO_PAGE ? RIOV_VTD_READ : RIOV_VTD_READ | RIOV_VTD_WRITE;
		if (riov_vtd_map(fz.vtd, FZ_DID, FZ_GPA + 4096ull * p,
				 (uint64_t)(uintptr_t)(fz.mem + 4096u * p), 4096, perm) < 0)
			return -1;
	}
	if (riov_vtd_context_set(fz.vtd, FZ_SID, FZ_DID, RIOV_VTD_TT_MULTI_LEVEL, false) < 0)
		return -1;
	riov_vtd_inv_context_global(fz.vtd);
	riov_vtd_inv_iotlb_global(fz.vtd);
	struct riov_vtd_irte e = { .present = true, .vector = 0x40, .eventfd = -1 };
	if (riov_vtd_irte_set(fz.vtd, 3, &e) < 0)
		return -1;
	riov_vtd_msi_compose(3, false, 0, &fz.msi_addr, &fz.msi_data);
	return 0;
}

static int fz_setup(void)
{
	/* no --in-memory: DPDK 22.11 refuses it with --no-huge (legacy memory) */
	static char a0[] = "fuzzvq", a1[] = "--no-huge", a2[] = "-m", a3[] = "64", a4[] = "--no-pci",
		    a5[] = "--no-shconf", a6[] = "--log-level=1";
	static char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=fuzzvq%d", (int)getpid());
	char *argv[] = { a0, a1, a2, a3, a4, a5, a6, prefix, NULL };

	riov_eal_rundir_remove_at_exit();
	if (rte_eal_init(8, argv) < 0 && rte_errno != EALREADY)
		return -1;
	fz.mp = rte_pktmbuf_pool_create("fuzzvq", 511, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (fz.mp == NULL)
		return -1;
	return fz_setup_vtd();
}

static void fz_vring(struct riov_vhost_vring_info *vi, uint16_t qid, uint16_t size, uint64_t feat,
		     uint16_t la, uint16_t lu)
{
	memset(vi, 0, sizeof(*vi));
	vi->qid = qid;
	vi->size = size;
	vi->desc = fz.mem;
	vi->avail = fz.mem + 4096;
	vi->used = fz.mem + 2 * 4096;
	vi->last_avail_idx = la;
	vi->last_used_idx = lu;
	vi->features = feat;
	vi->vtd = fz.vtd;
	vi->sid = FZ_SID;
	vi->callfd = -1;
	vi->msi_addr = fz.msi_addr;
	vi->msi_data = fz.msi_data;
}

/* The guest moves its avail index by an input-chosen amount; a packed ring's driver flips the
 * AVAIL (bit 0 of by) and USED (bit 1) flags of slot by % size instead. */
static void fz_guest_post(uint8_t by)
{
	if (fz.packed) {
		struct riov_vring_packed_desc *d = (struct riov_vring_packed_desc *)fz.mem + by % fz.psize;
		uint16_t fl = (by & 1 ? RIOV_VRING_PACKED_DESC_F_AVAIL : 0) |
			      (by & 2 ? RIOV_VRING_PACKED_DESC_F_USED : 0);
		__atomic_store_n(&d->flags, (uint16_t)(d->flags ^ fl), __ATOMIC_RELEASE);
		return;
	}
	struct riov_vring_avail *av = (struct riov_vring_avail *)(fz.mem + 4096);
	av->idx = (uint16_t)(av->idx + by);
}

/* Dirty log covering the area's pages, except the last one (bounded by log_size). */
static uint8_t fz_logbuf[((FZ_GPA >> 12) + FZ_PAGES - 1) / 8];

static void fz_log_on(struct riov_virtq *vq)
{
	vq->log_base = fz_logbuf;
	vq->log_size = sizeof(fz_logbuf);
	/* a packed ring's used descriptors are written in the descriptor ring */
	riov_virtq_set_used_log(vq, fz.packed ? FZ_GPA : FZ_GPA + 2 * 4096);
}

/* Guest TX, as the worker takes it: peek, read the segments in place; with `direct` every other
 * packet (and those peek had to copy) into an mbuf as for another worker's guest, else every
 * packet into an mbuf as for the wire; then the chains go back in the used ring. */
static unsigned fz_tx_burst(struct riov_virtq *tx, bool direct)
{
	static struct riov_virtq_pkt pk[RIOV_VIRTQ_BURST];
	uint16_t got = riov_virtq_peek(tx, fz.mp, pk, RIOV_VIRTQ_BURST);
	unsigned good = 0;

	for (uint16_t i = 0; i < got; i++) {
		uint32_t sum = 0;
		if (pk[i].bad)
			continue;
		good++;
		for (unsigned k = 0; pk[i].m == NULL && k < pk[i].nseg; k++)
			for (uint32_t b = 0; b < pk[i].seg[k].len; b++)
				sum += pk[i].seg[k].p[b];
		(void)sum;
		if (direct && !(i & 1) && pk[i].m == NULL)
			continue;
		const bool has_ol = pk[i].has_ol;
		struct rte_mbuf *m = riov_virtq_pkt_mbuf(fz.mp, &pk[i]);
		if (m != NULL && has_ol)   /* the worker's offload_in(): refused or metadata */
			(void)riov_ol_from_vnet_hdr(m, &pk[i].vhdr, tx->ol_sends);
		/* touch every byte so ASan sees the whole copy */
		for (const struct rte_mbuf *s = m; s != NULL; s = s->next)
			for (uint16_t k = 0; k < s->data_len; k++)
				sum += rte_pktmbuf_mtod(s, const uint8_t *)[k];
		(void)sum;
		rte_pktmbuf_free(m);
	}
	riov_virtq_peek_done(tx, pk, got);
	riov_virtq_notify(tx);
	return good;
}

/* A packet of len bytes of `fill` in an mbuf chain from the pool (shorter if the pool ran dry). */
static struct rte_mbuf *fz_pkt(uint32_t len, uint8_t fill)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fz.mp), *tail = m;

	while (m != NULL && len) {
		if (rte_pktmbuf_tailroom(tail) == 0) {
			struct rte_mbuf *s = rte_pktmbuf_alloc(fz.mp);
			if (s == NULL || rte_pktmbuf_chain(m, s) < 0) {
				rte_pktmbuf_free(s);
				break;
			}
			tail = s;
		}
		uint16_t c = (uint16_t)RTE_MIN(len, (uint32_t)rte_pktmbuf_tailroom(tail));
		memset(rte_pktmbuf_mtod_offset(tail, uint8_t *, tail->data_len), fill, c);
		tail->data_len += c;
		m->pkt_len += c;
		len -= c;
	}
	return m;
}

/* Peeked packets from another guest for the RX side (a private buffer stands in for its memory). */
static uint16_t fz_rx_pkts(struct riov_virtq *rx, struct rte_mbuf **pkts, uint16_t np)
{
	static uint8_t other[4096];
	static struct riov_virtq_pkt pk[4];
	struct riov_virtq_pkt *pp[4];

	for (uint16_t i = 0; i < np; i++) {
		uint32_t len = pkts[i]->pkt_len;
		memset(&pk[i], 0, sizeof(pk[i]));
		pk[i].len = len;
		pk[i].peek_len = (uint8_t)RTE_MIN(len, (uint32_t)RIOV_VIRTQ_PEEK);
		memset(pk[i].peek, 0xb0 + i, pk[i].peek_len);
		uint32_t left = len - pk[i].peek_len;
		while (left && pk[i].nseg < RIOV_VIRTQ_PKT_SEGS) {
			uint32_t c = RTE_MIN(left, (uint32_t)sizeof(other));
			pk[i].seg[pk[i].nseg].p = other;
			pk[i].seg[pk[i].nseg].len = c;
			pk[i].nseg++;
			left -= c;
		}
		pk[i].len = len - left;
		pp[i] = &pk[i];
	}
	uint16_t d = riov_virtq_enqueue_pkts(rx, fz.mp, pp, np);
	riov_virtq_publish_rx(rx);
	return d;
}

/* Guest RX: two rounds of up to four packets (sizes from the header), as mbufs or peeked.
 * Returns how many the guest received. */
static unsigned fz_rx(struct riov_virtq *rx, const uint8_t *data)
{
	const uint32_t plen[2] = { 1u + data[6] * 13u, 1u + data[7] * 37u };
	unsigned got = 0;

	for (unsigned round = 0; round < 2; round++) {
		struct rte_mbuf *pkts[4];
		uint16_t np = 0;
		for (unsigned i = 0; i < 4; i++) {
			struct rte_mbuf *m = fz_pkt(plen[i & 1], (uint8_t)(0xa0 + i));
			if (m == NULL)
				break;
			pkts[np++] = m;
		}
		if (data[1] & 128)
			got += fz_rx_pkts(rx, pkts, np);
		else
			got += riov_virtq_enqueue(rx, pkts, np);
		riov_virtq_notify(rx);
		for (uint16_t i = 0; i < np; i++)
			rte_pktmbuf_free(pkts[i]);
		fz_guest_post(data[(round + 5) % FZ_HDR]);
		got += riov_virtq_flush_held(rx);   /* what waited for buffers the guest just posted */
	}
	return got;
}

int riov_virtq_fuzz_one(const uint8_t *data, size_t size)
{
	if (!fz.ready) {
		if (fz.failed || fz_setup() < 0) {
			fz.failed = true;
			return -1;
		}
		fz.ready = true;
	}
	if (size < FZ_HDR)
		return 0;

	uint16_t qsz = (uint16_t)(1u << (data[0] % 9));
	uint64_t feat = 0;
	if (data[1] & 1)
		feat |= 1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF;
	if (data[1] & 2)
		feat |= 1ull << RIOV_VIRTIO_F_VERSION_1;
	if (data[1] & 4)
		feat |= 1ull << RIOV_VIRTIO_F_RING_INDIRECT;
	if (data[1] & 8)
		feat |= 1ull << RIOV_VIRTIO_F_RING_EVENT_IDX;
	if (data[1] & 16)
		feat |= 1ull << RIOV_VIRTIO_F_IN_ORDER;
	if (data[0] & 128)
		feat |= RIOV_VIRTIO_NET_OFFLOADS;
	uint16_t la = (uint16_t)(data[2] | data[3] << 8);
	uint16_t lu = (uint16_t)(data[4] | data[5] << 8);
	fz.packed = data[0] & 64;
	if (fz.packed) {
		const unsigned v = data[0] & 63;
		qsz = (uint16_t)(v < 16 ? v + 1 : 1 + v * 37 % 256);
		fz.psize = qsz;
		feat |= 1ull << RIOV_VIRTIO_F_RING_PACKED;
		la = (uint16_t)((la & RIOV_VRING_PACKED_IDX_MASK) % qsz | (la & 0x8000));
		lu = la;
	}

	/* the rest is guest memory, from its start (descriptor table first) */
	memset(fz.mem, 0, FZ_PAGES * 4096u);
	memcpy(fz.mem, data + FZ_HDR, RTE_MIN(size - FZ_HDR, (size_t)FZ_PAGES * 4096u));
	struct riov_virtq tx, rx;
	struct riov_vhost_vring_info vi;
	fz_vring(&vi, 1, qsz, feat, la, lu);
	if (riov_virtq_init(&tx, &vi) < 0)
		return 0;
	tx.inorder_batch = data[1] & 32;
	if (data[1] & 64)
		fz_log_on(&tx);
	unsigned moved = 0;
	for (unsigned round = 0; round < 3; round++) {
		moved += fz_tx_burst(&tx, data[1] & 128);
		fz_guest_post(data[(round + 2) % FZ_HDR]);
	}

	fz_vring(&vi, 0, qsz, feat, la, lu);
	if (riov_virtq_init(&rx, &vi) == 0) {
		if (data[1] & 64)
			fz_log_on(&rx);
		moved += fz_rx(&rx, data);
		riov_virtq_release(&rx);   /* held packets back to the pool */
	}

	struct riov_vtd_fault f[8];
	riov_vtd_faults_read(fz.vtd, f, 8, true);
	return (int)moved;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	riov_virtq_fuzz_one(data, size);
	return 0;
}
