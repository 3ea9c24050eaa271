/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_virtq: nanoseconds per packet for guest TX into mbufs ("dequeue": riov_virtq_peek +
 * riov_virtq_pkt_mbuf + riov_virtq_peek_done, as the worker takes a packet for the wire or another
 * worker) and riov_virtq_enqueue (guest RX) at 64 and 1518 bytes, through a real VT-d domain (each
 * guest's memory one 2 MiB page: translation cursor hits), one core; then
 * guest to guest (a TX ring into an RX ring) through an mbuf (TX into mbufs + enqueue) and directly
 * (peek + enqueue_pkts + peek_done, the worker's path for a guest RX vring it owns).
 * The program plays guests that re-post the same buffers.
 * Each case runs three ways (BENCH_VIRTQ_MODES, default "plain,viommu-2m,viommu-4k"): plain (the
 * descriptors carry guest-physical addresses, one second-stage domain), and as a vIOMMU guest
 * (issue 18): the descriptors carry IOVAs, the device's context is nested, a first stage maps
 * them onto the same guest memory in 2 MiB pages (a DPDK guest's hugepages through its vfio) or in
 * 4 KiB pages (a Linux guest's DMA API), and the ratio vIOMMU / plain is printed per case.
 * "-churn" modes run the same while another thread (on CPU 0) changes the vIOMMU guest's first
 * stage at BENCH_VIRTQ_CHURN pairs per second (default 50,000): maps a 4 KiB page the guest does
 * not use and invalidates it page-selectively, then unmaps and invalidates it again (a vhost-user
 * IOTLB update and invalidation): viommu-4k-churn is that guest's own rate, plain-churn a
 * neighbour's (another device, same second-stage memory) meanwhile; plain-churn-far a plain
 * guest's while the same churn changes a VT-d unit no guest uses (the churn thread's cost to this
 * CPU by itself, which the other two are also compared with). Runs about a minute
 * (BENCH_VIRTQ_ROUNDS rounds, default 3, medians printed at the end).
 * Usage: bench_virtq [packets-per-case [case [bytes]]]   (default 5,000,000; case: dequeue,
 * enqueue, via-mbuf or direct; default all, at 64 and 1518 bytes: run one case under callgrind
 * to count its instructions per packet)
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
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
#include "tests/eal_rundir.h"

#define RING 256u
#define BUF 2048u
#define GPA 0x100000000ull
#define SID 0x0200
#define DID 9
/* the vIOMMU guest: its own source-id, nested: first stage DID_S1 (iova -> gpa), second DID */
#define SID_V 0x0201
#define DID_S1 10
#define IOVA_2M 0x40000000ull      /* 2 MiB aligned: first-stage 2 MiB pages */
#define IOVA_4K 0x60001000ull      /* 4 KiB off a 2 MiB boundary: 4 KiB pages */
#define IOVA_G2 0x10000000ull      /* the second guest's buffers, this far above the first's */
#define IOVA_CH 0x20000000ull      /* the churn's pages (an anchor page keeps their table) */

/* the mode's requester and the addresses its guests' descriptors carry (base of guest memory) */
static uint16_t sid = SID;
static uint64_t base1, base2;

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

/* The vIOMMU guest's first stage changing under the traffic (the control thread's part) */
static struct {
	struct riov_vtd *_Atomic vtd; /* the unit whose first stage changes: the guests' or far */
	struct riov_vtd *near, *far;
	double rate;                /* map+unmap pairs per second */
	_Atomic int on, quit;
	_Atomic uint64_t pairs;
} churn;

static void *churn_main(void *arg)
{
	cpu_set_t cs;
	CPU_ZERO(&cs);
	CPU_SET(0, &cs);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs);
	uint64_t k = 0, next = 0;
	while (!atomic_load(&churn.quit)) {
		if (!atomic_load(&churn.on)) {
			usleep(1000);
			next = 0;
			continue;
		}
		uint64_t t = now_ns();
		if (next == 0)
			next = t;
		if (t < next)
			continue;
		next += (uint64_t)(1e9 / churn.rate);
		uint64_t io = IOVA_CH + 4096 * (1 + k % 500);
		struct riov_vtd *u = atomic_load(&churn.vtd);
		k++;
		if (riov_vtd_map(u, DID_S1, io, GPA + 4096 * (k % 400), 4096, RIOV_VTD_READ | RIOV_VTD_WRITE) == 0) {
			riov_vtd_inv_iotlb_page(u, DID_S1, io, 0);
			riov_vtd_unmap(u, DID_S1, io, 4096);
			riov_vtd_inv_iotlb_page(u, DID_S1, io, 0);
			atomic_fetch_add(&churn.pairs, 1);
		}
	}
	return arg;
}

static double median(const double *v, unsigned n)
{
	double t[16];
	for (unsigned i = 0; i < n; i++) {
		unsigned j = i;
		for (; j > 0 && t[j - 1] > v[i]; j--)
			t[j] = t[j - 1];
		t[j] = v[i];
	}
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static uint64_t buf_gpa(unsigned i)
{
	return base1 + 3 * 4096 + (uint64_t)i * BUF;
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

static double run(struct riov_vtd *vtd, struct rte_mempool *mp, bool tx, uint32_t len, uint64_t total,
		  const char *mode)
{
	struct riov_vhost_vring_info vi = {
		.qid = tx ? 1 : 0, .size = RING, .desc = desc, .avail = avail, .used = used,
		.features = (1ull << RIOV_VIRTIO_F_VERSION_1) | (1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF),
		.vtd = vtd, .sid = sid, .callfd = -1,
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
	printf("%-8s %5u bytes: %7.1f ns/packet (%.2f Mpps, %llu packets, hits %llu misses %llu)%s\n",
	       tx ? "dequeue" : "enqueue", len, (double)dt / done, done * 1e3 / dt,
	       (unsigned long long)done, (unsigned long long)vq.tc.hits,
	       (unsigned long long)vq.tc.misses, mode);
	return (double)dt / done;
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

static double run_g2g(struct riov_vtd *vtd, struct rte_mempool *mp, bool direct, uint32_t len,
		      uint64_t total, const char *mode)
{
	const uint64_t f = (1ull << RIOV_VIRTIO_F_VERSION_1) | (1ull << RIOV_VIRTIO_NET_F_MRG_RXBUF);
	struct riov_vhost_vring_info vt = { .qid = 1, .size = RING, .desc = desc, .avail = avail,
					    .used = used, .features = f, .vtd = vtd, .sid = sid, .callfd = -1 };
	struct riov_vhost_vring_info vr = { .qid = 0, .size = RING, .desc = desc2, .avail = avail2,
					    .used = used2, .features = f, .vtd = vtd, .sid = sid, .callfd = -1 };
	struct riov_virtq tx, rx;
	memset(mem, 0, 3 * 4096);
	memset(mem2, 0, 3 * 4096);
	for (unsigned i = 0; i < RING; i++) {
		desc[i].addr = buf_gpa(i);
		desc[i].len = 12 + len;
		desc[i].flags = 0;
		memset(mem + 3 * 4096 + (size_t)i * BUF, 0, 12);
		desc2[i].addr = base2 + 3 * 4096 + (uint64_t)i * BUF;
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
	printf("%-8s %5u bytes: %7.1f ns/packet (%.2f Mpps, guest to guest%s, hits %llu misses %llu)%s\n",
	       direct ? "direct" : "via-mbuf", len, (double)dt / done, done * 1e3 / dt,
	       direct ? ", no mbuf" : "", (unsigned long long)(tx.tc.hits + rx.tc.hits),
	       (unsigned long long)(tx.tc.misses + rx.tc.misses), mode);
	return (double)dt / done;
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
	riov_eal_rundir_remove_at_exit();
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
	/* the vIOMMU guest: the same memories behind a first stage, in 2 MiB and in 4 KiB pages */
	if (riov_vtd_domain_create(vtd, DID_S1, 4) < 0 ||
	    riov_vtd_map(vtd, DID_S1, IOVA_2M, GPA, mem_len, RIOV_VTD_READ | RIOV_VTD_WRITE) < 0 ||
	    riov_vtd_map(vtd, DID_S1, IOVA_2M + IOVA_G2, GPA2, mem_len, RIOV_VTD_READ | RIOV_VTD_WRITE) < 0 ||
	    riov_vtd_map(vtd, DID_S1, IOVA_4K, GPA, mem_len, RIOV_VTD_READ | RIOV_VTD_WRITE) < 0 ||
	    riov_vtd_map(vtd, DID_S1, IOVA_4K + IOVA_G2, GPA2, mem_len, RIOV_VTD_READ | RIOV_VTD_WRITE) < 0 ||
	    riov_vtd_context_set_nested(vtd, SID_V, DID_S1, DID, false) < 0) {
		fprintf(stderr, "vIOMMU guest setup failed\n");
		return 1;
	}
	/* the churn's anchor: its leaf table stays while pages come and go beside it */
	if (riov_vtd_map(vtd, DID_S1, IOVA_CH, GPA, 4096, RIOV_VTD_READ) < 0) {
		fprintf(stderr, "churn anchor failed\n");
		return 1;
	}
	riov_vtd_inv_context_global(vtd);
	riov_vtd_inv_iotlb_global(vtd);
	/* the same churn on a unit no guest uses: what the churn thread costs the worker's CPU by
	 * itself (this 2-vCPU machine's vCPUs share a core's caches and more), without riov's model */
	struct riov_vtd *far = riov_vtd_create(&cfg);
	if (far == NULL || riov_vtd_domain_create(far, DID_S1, 4) < 0 ||
	    riov_vtd_map(far, DID_S1, IOVA_CH, GPA, 4096, RIOV_VTD_READ) < 0) {
		fprintf(stderr, "far unit setup failed\n");
		return 1;
	}
	const char *cr = getenv("BENCH_VIRTQ_CHURN");
	churn.near = vtd;
	churn.far = far;
	atomic_store(&churn.vtd, vtd);
	churn.rate = cr != NULL ? strtod(cr, NULL) : 50000;
	if (!(churn.rate > 0 && churn.rate <= 1e7))
		churn.rate = 50000;
	pthread_t churn_th;
	if (pthread_create(&churn_th, NULL, churn_main, NULL) != 0) {
		fprintf(stderr, "churn thread failed\n");
		return 1;
	}
	enum { M_PLAIN, M_V2M, M_V4K, M_V4K_CHURN, M_PLAIN_CHURN, M_PLAIN_CHURN_FAR, NMODES };
	static const struct {
		const char *name, *label;
		uint16_t sid;
		uint64_t b1, b2;
		bool churn, far;
	} modes[NMODES] = {
		[M_PLAIN] = { "plain", "", SID, GPA, GPA2, false, false },
		[M_V2M] = { "viommu-2m", " [vIOMMU, 2 MiB first-stage pages]", SID_V, IOVA_2M, IOVA_2M + IOVA_G2,
			    false, false },
		[M_V4K] = { "viommu-4k", " [vIOMMU, 4 KiB first-stage pages]", SID_V, IOVA_4K, IOVA_4K + IOVA_G2,
			    false, false },
		[M_V4K_CHURN] = { "viommu-4k-churn", " [vIOMMU, 4 KiB pages, its first stage changing]", SID_V,
				  IOVA_4K, IOVA_4K + IOVA_G2, true, false },
		[M_PLAIN_CHURN] = { "plain-churn", " [plain, the vIOMMU guest's first stage changing]", SID, GPA,
				    GPA2, true, false },
		[M_PLAIN_CHURN_FAR] = { "plain-churn-far", " [plain, another unit's first stage changing]", SID,
					GPA, GPA2, true, true },
	};
	enum { MAX_ROUNDS = 15 };
	const char *want_modes = getenv("BENCH_VIRTQ_MODES");
	if (want_modes == NULL)
		want_modes = "plain,viommu-2m,viommu-4k,viommu-4k-churn,plain-churn,plain-churn-far";
	const uint32_t sizes[] = { one_size ? one_size : 64, 1518 };
	const unsigned nsizes = one_size ? 1 : 2;
	static const char *const cases[] = { "dequeue", "enqueue", "via-mbuf", "direct" };
	const char *rs = getenv("BENCH_VIRTQ_ROUNDS");
	unsigned rounds = rs != NULL ? (unsigned)strtoul(rs, NULL, 0) : 3;
	if (rounds < 1 || rounds > MAX_ROUNDS)
		rounds = 3;
	bool on[NMODES];
	unsigned non = 0;
	for (unsigned md = 0; md < NMODES; md++) {
		char key[32], list[256];
		snprintf(key, sizeof(key), ",%s,", modes[md].name);
		snprintf(list, sizeof(list), ",%s,", want_modes);
		on[md] = strstr(list, key) != NULL;
		non += on[md];
	}
	/* rounds, and within each case and size the modes one after the other in an order that
	 * turns every round, so that the machine's drifts fall on every mode alike */
	static double ns[NMODES][4][2][MAX_ROUNDS];
	for (unsigned r = 0; r < rounds; r++)
		for (unsigned k = 0; k < 4; k++)
			for (unsigned s = 0; s < nsizes; s++) {
				if (!WANT(cases[k]))
					continue;
				for (unsigned j = 0; j < NMODES; j++) {
					unsigned md = (j + r) % NMODES;
					if (!on[md])
						continue;
					sid = modes[md].sid;
					base1 = modes[md].b1;
					base2 = modes[md].b2;
					uint64_t p0 = atomic_load(&churn.pairs), t0 = now_ns();
					atomic_store(&churn.vtd, modes[md].far ? churn.far : churn.near);
					atomic_store(&churn.on, modes[md].churn);
					ns[md][k][s][r] = k < 2 ? run(vtd, mp, k == 0, sizes[s], total, modes[md].label)
							       : run_g2g(vtd, mp, k == 3, sizes[s], total,
									 modes[md].label);
					atomic_store(&churn.on, 0);
					if (modes[md].churn)
						printf("  (first-stage map+unmap pairs meanwhile: %.0f /s)\n",
						       (double)(atomic_load(&churn.pairs) - p0) * 1e9 /
							       (double)(now_ns() - t0));
				}
			}
	/* medians of the rounds; packets per second with a vIOMMU against without (issue 18: >= 0.9) */
	printf("median of %u rounds, ns/packet:\n", rounds);
	for (unsigned k = 0; k < 4; k++)
		for (unsigned s = 0; s < nsizes; s++) {
			if (!WANT(cases[k]))
				continue;
			double med[NMODES];
			for (unsigned md = 0; md < NMODES; md++)
				med[md] = on[md] ? median(ns[md][k][s], rounds) : 0;
			printf("%-8s %5u bytes:", cases[k], sizes[s]);
			for (unsigned md = 0; md < NMODES; md++)
				if (on[md])
					printf(" %s %.1f", modes[md].name, med[md]);
			for (unsigned md = 1; md < NMODES; md++)
				if (on[0] && on[md])
					printf("; %s/plain %.2f x the packet rate", modes[md].name, med[0] / med[md]);
			/* against a plain guest under the same CPU interference (the churn on the far
			 * unit): what riov's model costs the vIOMMU guest and its neighbour by itself */
			const unsigned vc = M_V4K_CHURN, pc = M_PLAIN_CHURN, pf = M_PLAIN_CHURN_FAR;
			if (on[pf] && on[vc])
				printf("; %s/%s %.2f", modes[vc].name, modes[pf].name, med[pf] / med[vc]);
			if (on[pf] && on[pc])
				printf("; %s/%s %.2f", modes[pc].name, modes[pf].name, med[pf] / med[pc]);
			printf("\n");
		}
	(void)non;
	atomic_store(&churn.quit, 1);
	pthread_join(churn_th, NULL);
	riov_vtd_destroy(vtd);
	riov_vtd_destroy(far);
	free(mem2);
	free(mem);
	rte_mempool_free(mp);
	rte_eal_cleanup();
	return 0;
}
