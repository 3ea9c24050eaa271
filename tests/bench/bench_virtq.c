/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_virtq: nanoseconds per packet for guest TX into mbufs ("dequeue": riov_virtq_peek +
 * riov_virtq_pkt_mbuf + riov_virtq_peek_done, as the worker takes a packet for the wire or another
 * worker) and riov_virtq_enqueue (guest RX) at 64 and 1518 bytes, through a real VT-d domain (each
 * guest's memory one 2 MiB page: translation cursor hits), one core; then
 * guest to guest (a TX ring into an RX ring) through an mbuf (TX into mbufs + enqueue) and directly
 * (peek + enqueue_pkts + peek_done, the worker's path for a guest RX vring it owns).
 * The program plays guests that re-post the same buffers. Runs about 4-6 seconds in total.
 * Usage: bench_virtq [packets-per-case [case [bytes]]]   (default 5,000,000; case: dequeue,
 * enqueue, via-mbuf or direct; default all, at 64 and 1518 bytes: run one case under callgrind
 * to count its instructions per packet)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/virtq.h"
#include "iommu/vtd.h"
#include "vmm/vhost.h"

#define RING 256u
#define BUF 2048u
#define GPA 0x100000000ull
#define SID 0x0200
#define DID 9

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint8_t *mem;       /* desc | avail | used | RING buffers of BUF bytes */
static size_t mem_len;
static struct vdesc *desc;
static uint16_t *avail;    /* flags, idx, ring[] */
static uint16_t *used;     /* flags, idx, then elements */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t buf_gpa(unsigned i)
{
	return GPA + 3 * 4096 + (uint64_t)i * BUF;
}

/* Guest: make `k` more entries available (descriptor i -> buffer i, set up once). */
static void post(uint16_t k)
{
	uint16_t idx = avail[1];
	for (uint16_t j = 0; j < k; j++) {
		avail[2 + ((idx + j) & (RING - 1))] = (uint16_t)((idx + j) & (RING - 1));
	}
	__atomic_store_n(&avail[1], (uint16_t)(idx + k), __ATOMIC_RELEASE);
}

/* Guest TX into mbufs, the worker's calls (dataplane/worker.c vhost_tx): the number of mbufs. */
static uint16_t tx_mbufs(struct riov_virtq *vq, struct rte_mempool *mp, struct rte_mbuf **pkts)
{
	struct riov_virtq_pkt pk[RIOV_VIRTQ_BURST];
	uint16_t n = riov_virtq_peek(vq, mp, pk, RIOV_VIRTQ_BURST), out = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pk[i].bad ? NULL : riov_virtq_pkt_mbuf(mp, &pk[i]);
		if (m != NULL)
			pkts[out++] = m;
	}
	riov_virtq_peek_done(vq, pk, n);
	return out;
}

static void run(struct riov_vtd *vtd, struct rte_mempool *mp, bool tx, uint32_t len, uint64_t total)
{
	struct riov_vhost_vring_info vi = {
		.qid = tx ? 1 : 0, .size = RING, .desc = desc, .avail = avail, .used = used,
		.features = (1ull << RIOV_VIRTIO_F_VERSION_1) | (1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF),
		.vtd = vtd, .sid = SID, .callfd = -1,
	};
	struct riov_virtq vq;
	memset(mem, 0, 3 * 4096);
	for (unsigned i = 0; i < RING; i++) {
		desc[i].addr = buf_gpa(i);
		desc[i].len = tx ? 12 + len : BUF;
		desc[i].flags = tx ? 0 : 2; /* WRITE */
		if (tx)
			memset(mem + 3 * 4096 + (size_t)i * BUF, 0, 12);
	}
	if (riov_virtq_init(&vq, &vi) < 0) {
		fprintf(stderr, "init failed\n");
		exit(1);
	}
	struct rte_mbuf *pkts[RIOV_VIRTQ_BURST];
	if (!tx) {
		for (unsigned i = 0; i < RIOV_VIRTQ_BURST; i++) {
			pkts[i] = rte_pktmbuf_alloc(mp);
			memset(rte_pktmbuf_append(pkts[i], (uint16_t)len), 0x5a, len);
		}
	}
	post(RING);
	uint64_t done = 0, t0 = now_ns();
	while (done < total) {
		uint16_t n;
		if (tx) {
			n = tx_mbufs(&vq, mp, pkts);
			rte_pktmbuf_free_bulk(pkts, n);
		} else {
			n = riov_virtq_enqueue(&vq, pkts, RIOV_VIRTQ_BURST);
		}
		riov_virtq_notify(&vq);
		if (n == 0) {
			fprintf(stderr, "stalled\n");
			exit(1);
		}
		done += n;
		post(n); /* the guest recycles what was used */
	}
	uint64_t dt = now_ns() - t0;
	if (!tx)
		rte_pktmbuf_free_bulk(pkts, RIOV_VIRTQ_BURST);
	printf("%-8s %5u bytes: %7.1f ns/packet (%.2f Mpps, %llu packets, hits %llu misses %llu)\n",
	       tx ? "dequeue" : "enqueue", len, (double)dt / done, done * 1e3 / dt,
	       (unsigned long long)done, (unsigned long long)vq.tc.hits,
	       (unsigned long long)vq.tc.misses);
}

/* A second guest's RX ring (guest to guest runs): its own memory, same domain. */
#define GPA2 0x200000000ull
static uint8_t *mem2;
static struct vdesc *desc2;
static uint16_t *avail2;
static uint16_t *used2;

static void post2(uint16_t k)
{
	uint16_t idx = avail2[1];
	for (uint16_t j = 0; j < k; j++)
		avail2[2 + ((idx + j) & (RING - 1))] = (uint16_t)((idx + j) & (RING - 1));
	__atomic_store_n(&avail2[1], (uint16_t)(idx + k), __ATOMIC_RELEASE);
}

static void run_g2g(struct riov_vtd *vtd, struct rte_mempool *mp, bool direct, uint32_t len, uint64_t total)
{
	const uint64_t f = (1ull << RIOV_VIRTIO_F_VERSION_1) | (1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF);
	struct riov_vhost_vring_info vt = { .qid = 1, .size = RING, .desc = desc, .avail = avail,
					    .used = used, .features = f, .vtd = vtd, .sid = SID, .callfd = -1 };
	struct riov_vhost_vring_info vr = { .qid = 0, .size = RING, .desc = desc2, .avail = avail2,
					    .used = used2, .features = f, .vtd = vtd, .sid = SID, .callfd = -1 };
	struct riov_virtq tx, rx;
	memset(mem, 0, 3 * 4096);
	memset(mem2, 0, 3 * 4096);
	for (unsigned i = 0; i < RING; i++) {
		desc[i].addr = buf_gpa(i);
		desc[i].len = 12 + len;
		desc[i].flags = 0;
		memset(mem + 3 * 4096 + (size_t)i * BUF, 0, 12);
		desc2[i].addr = GPA2 + 3 * 4096 + (uint64_t)i * BUF;
		desc2[i].len = BUF;
		desc2[i].flags = 2; /* WRITE */
	}
	if (riov_virtq_init(&tx, &vt) < 0 || riov_virtq_init(&rx, &vr) < 0) {
		fprintf(stderr, "init failed\n");
		exit(1);
	}
	post(RING);
	post2(RING);
	struct rte_mbuf *pkts[RIOV_VIRTQ_BURST];
	struct riov_virtq_pkt pk[RIOV_VIRTQ_BURST];
	struct riov_virtq_pkt *pp[RIOV_VIRTQ_BURST];
	for (unsigned i = 0; i < RIOV_VIRTQ_BURST; i++)
		pp[i] = &pk[i];
	uint64_t done = 0, t0 = now_ns();
	while (done < total) {
		uint16_t n, d;
		if (direct) {
			n = riov_virtq_peek(&tx, mp, pk, RIOV_VIRTQ_BURST);
			d = riov_virtq_enqueue_pkts(&rx, mp, pp, n);
			riov_virtq_peek_done(&tx, pk, n);
			riov_virtq_publish_rx(&rx);
		} else {
			n = tx_mbufs(&tx, mp, pkts);
			d = riov_virtq_enqueue(&rx, pkts, n);
			rte_pktmbuf_free_bulk(pkts, n);
		}
		riov_virtq_notify(&tx);
		riov_virtq_notify(&rx);
		if (n == 0 || d != n) {
			fprintf(stderr, "stalled\n");
			exit(1);
		}
		done += n;
		post(n);
		post2(n);
	}
	uint64_t dt = now_ns() - t0;
	printf("%-8s %5u bytes: %7.1f ns/packet (%.2f Mpps, guest to guest%s)\n", direct ? "direct" : "via-mbuf",
	       len, (double)dt / done, done * 1e3 / dt, direct ? ", no mbuf" : "");
}

int main(int argc, char **argv)
{
	uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 0) : 5000000;
	const char *only = argc > 2 ? argv[2] : NULL;
#define WANT(name) (only == NULL || strcmp(only, name) == 0)
	const uint32_t one_size = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 0;
	if (one_size != 0 && (one_size < 14 || one_size > 2000)) {
		fprintf(stderr, "bytes: 14..2000\n");
		return 1;
	}
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=bench_virtq_%d", (int)getpid());
	char *eal[] = { "bench_virtq", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
			"--log-level=1", prefix, NULL };
	if (rte_eal_init(8, eal) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	struct rte_mempool *mp =
		rte_pktmbuf_pool_create("bvq", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 16 };
	struct riov_vtd *vtd = riov_vtd_create(&cfg);
	/* one 2 MiB page per guest, as riov maps a vhost-user guest's regions (the translation
	 * cursor then hits for every buffer, as in riovd's loop) */
	mem_len = 2u << 20;
	_Static_assert(3 * 4096 + (size_t)RING * BUF <= (2u << 20), "rings and buffers fit one page");
	if (mp == NULL || vtd == NULL || posix_memalign((void **)&mem, 2u << 20, mem_len) != 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	desc = (struct vdesc *)mem;
	avail = (uint16_t *)(mem + 4096);
	used = (uint16_t *)(mem + 2 * 4096);
	if (riov_vtd_domain_create(vtd, DID, 4) < 0 ||
	    riov_vtd_map(vtd, DID, GPA, (uint64_t)(uintptr_t)mem, mem_len,
			 RIOV_VTD_READ | RIOV_VTD_WRITE) < 0 ||
	    riov_vtd_context_set(vtd, SID, DID, RIOV_VTD_TT_MULTI_LEVEL, false) < 0) {
		fprintf(stderr, "vtd setup failed\n");
		return 1;
	}
	if (posix_memalign((void **)&mem2, 2u << 20, mem_len) != 0 ||
	    riov_vtd_map(vtd, DID, GPA2, (uint64_t)(uintptr_t)mem2, mem_len,
			 RIOV_VTD_READ | RIOV_VTD_WRITE) < 0) {
		fprintf(stderr, "second guest setup failed\n");
		return 1;
	}
	desc2 = (struct vdesc *)mem2;
	avail2 = (uint16_t *)(mem2 + 4096);
	used2 = (uint16_t *)(mem2 + 2 * 4096);
	riov_vtd_inv_context_global(vtd);
	riov_vtd_inv_iotlb_global(vtd);
	const uint32_t sizes[] = { one_size ? one_size : 64, 1518 };
	const unsigned nsizes = one_size ? 1 : 2;
	for (unsigned s = 0; s < nsizes; s++) {
		if (WANT("dequeue"))
			run(vtd, mp, true, sizes[s], total);
		if (WANT("enqueue"))
			run(vtd, mp, false, sizes[s], total);
	}
	for (unsigned s = 0; s < nsizes; s++) {
		if (WANT("via-mbuf"))
			run_g2g(vtd, mp, false, sizes[s], total);
		if (WANT("direct"))
			run_g2g(vtd, mp, true, sizes[s], total);
	}
	riov_vtd_destroy(vtd);
	free(mem2);
	free(mem);
	rte_mempool_free(mp);
	rte_eal_cleanup();
	return 0;
}
