/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/virtq*.c. The test plays the guest driver: rings and buffers live in
 * ordinary memory (posix_memalign) mapped into a real riov_vtd domain (iova = a chosen GPA, hpa =
 * the host address); interrupts go through real IRTEs to real eventfds. Guest TX is taken the way
 * the worker takes it (tx_take(): peek, copy into mbufs, peek_done). Includes virtq.c, virtq_tx.c
 * and virtq_rx.c to reach their static helpers and to build independently of the rest of
 * dataplane/, and the virtq fuzz harness for its entry point.
 */
#include "dataplane/virtq.c"
#include "dataplane/virtq_rx.c"
#include "dataplane/virtq_tx.c"
#include "dataplane/virtq_packed.c"
#include "dataplane/offload.c"
#include "tests/fuzz/fuzz_virtq.c"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "riov_test.h"
#include "tests/eal_rundir.h"

#define T_SID 0x0100
#define T_DID 3
#define PAGES 160u
#define RO_PAGE (PAGES - 2)
#define HOLE_PAGE (PAGES - 1)
#define BUF_FIRST_PAGE 3u
#define F(bit) (1ull << (bit))
#define F_V1 F(RIOV_VIRTIO_F_VERSION_1)
#define F_MRG F(RIOV_VIRTIO_NET_F_MRG_RXBUF)
#define F_IND F(RIOV_VIRTIO_F_RING_INDIRECT)
#define F_EVT F(RIOV_VIRTIO_F_RING_EVENT_IDX)
#define F_INO F(RIOV_VIRTIO_F_IN_ORDER)

static struct rte_mempool *mp;

struct tguest {
	uint8_t *mem;
	uint64_t gpa;
	uint16_t size;
	struct riov_vring_desc *desc;
	struct riov_vring_avail *avail;
	struct riov_vring_used *used;
	uint16_t aidx;        /* driver's avail index */
	uint64_t next_buf;    /* bump allocator for buffers (gpa) */
	uint16_t next_desc;   /* descriptor allocator */
};

struct tenv {
	struct riov_vtd *vtd;
	struct tguest g[2];
	int efd[2];
	uint64_t msi_addr[2];
	uint32_t msi_data[2];
	unsigned mp_avail;    /* mempool level at start: every test must give all mbufs back */
};

static void *g_host(struct tguest *g, uint64_t gpa)
{
	return g->mem + (gpa - g->gpa);
}

static uint64_t g_page(struct tguest *g, unsigned page)
{
	return g->gpa + 4096ull * page;
}

static uint64_t g_buf(struct tguest *g, uint32_t len)
{
	uint64_t a = g->next_buf;
	g->next_buf = (a + len + 63) & ~63ull;
	if (g->next_buf > g_page(g, RO_PAGE)) {
		fprintf(stderr, "test guest out of buffer memory\n");
		abort();
	}
	return a;
}

static void g_desc(struct tguest *g, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		   uint16_t next)
{
	g->desc[i].addr = addr;
	g->desc[i].len = len;
	g->desc[i].flags = flags;
	g->desc[i].next = next;
}

static uint16_t g_new_desc(struct tguest *g)
{
	uint16_t d = g->next_desc;
	g->next_desc = (uint16_t)((g->next_desc + 1) & (g->size - 1));
	return d;
}

static void g_push(struct tguest *g, uint16_t head)
{
	g->avail->ring[g->aidx & (g->size - 1)] = head;
	g->aidx++;
	__atomic_store_n(&g->avail->idx, g->aidx, __ATOMIC_RELEASE);
}

static uint16_t g_used_idx(struct tguest *g)
{
	return __atomic_load_n(&g->used->idx, __ATOMIC_ACQUIRE);
}

static struct riov_vring_used_elem g_used(struct tguest *g, uint16_t i)
{
	return g->used->ring[i & (g->size - 1)];
}

static void fill_frame(uint8_t *f, uint32_t len, unsigned seed)
{
	for (uint32_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* Post a TX packet (zero virtio-net header of hdr_len + frame) as one chain whose descriptors
 * have the lengths in split[] (the last descriptor takes the rest). Returns the head. */
static uint16_t tx_post(struct tguest *g, uint16_t hdr_len, const uint8_t *frame, uint32_t len,
			const uint32_t *split, unsigned nsplit)
{
	uint32_t total = hdr_len + len, off = 0;
	uint8_t *tmp = calloc(1, total);
	memcpy(tmp + hdr_len, frame, len);
	uint16_t head = g_new_desc(g), cur = head;
	for (unsigned k = 0; k <= nsplit; k++) {
		uint32_t l = k < nsplit ? split[k] : total - off;
		uint64_t b = g_buf(g, l);
		memcpy(g_host(g, b), tmp + off, l);
		off += l;
		bool last = k == nsplit;
		uint16_t nx = last ? 0 : g_new_desc(g);
		g_desc(g, cur, b, l, last ? 0 : RIOV_VRING_DESC_F_NEXT, nx);
		cur = nx;
	}
	free(tmp);
	g_push(g, head);
	return head;
}

/* Post an RX buffer chain of ndesc write descriptors of `each` bytes. Returns the head. */
static uint16_t rx_post(struct tguest *g, uint32_t each, unsigned ndesc)
{
	uint16_t head = g_new_desc(g), cur = head;
	for (unsigned k = 0; k < ndesc; k++) {
		uint64_t b = g_buf(g, each);
		memset(g_host(g, b), 0xee, each);
		bool last = k + 1 == ndesc;
		uint16_t nx = last ? 0 : g_new_desc(g);
		g_desc(g, cur, b, each,
		       RIOV_VRING_DESC_F_WRITE | (last ? 0 : RIOV_VRING_DESC_F_NEXT), nx);
		cur = nx;
	}
	g_push(g, head);
	return head;
}

/* Gather up to max bytes from the chain at head (trusted: the test built it). */
static uint32_t g_gather(struct tguest *g, uint16_t head, uint8_t *out, uint32_t max)
{
	uint32_t n = 0;
	uint16_t i = head;
	for (unsigned guard = 0; guard < g->size; guard++) {
		struct riov_vring_desc *d = &g->desc[i];
		uint32_t c = RTE_MIN(d->len, max - n);
		memcpy(out + n, g_host(g, d->addr), c);
		n += c;
		if (!(d->flags & RIOV_VRING_DESC_F_NEXT) || n == max)
			break;
		i = d->next;
	}
	return n;
}

static bool mbuf_equals(const struct rte_mbuf *m, const uint8_t *f, uint32_t len)
{
	if (m->pkt_len != len)
		return false;
	uint32_t off = 0;
	for (; m; m = m->next) {
		if (memcmp(rte_pktmbuf_mtod(m, const uint8_t *), f + off, m->data_len) != 0)
			return false;
		off += m->data_len;
	}
	return off == len;
}

static uint64_t efd_count(int fd)
{
	uint64_t v = 0;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static struct rte_mbuf *mk_pkt(uint32_t len, unsigned seed)
{
	uint8_t *f = malloc(len ? len : 1);
	fill_frame(f, len, seed);
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp), *tail = m;
	if (m && vq_mbuf_append(mp, m, &tail, f, len) < 0) {
		rte_pktmbuf_free(m);
		m = NULL;
	}
	free(f);
	return m;
}

static void env_init(struct tenv *e)
{
	memset(e, 0, sizeof(*e));
	e->mp_avail = rte_mempool_avail_count(mp);
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 64 };
	e->vtd = riov_vtd_create(&cfg);
	CHECK(e->vtd != NULL);
	CHECK_EQ(riov_vtd_domain_create(e->vtd, T_DID, 4), 0);
	for (unsigned q = 0; q < 2; q++) {
		struct tguest *g = &e->g[q];
		CHECK_EQ(posix_memalign((void **)&g->mem, 4096, PAGES * 4096u), 0);
		memset(g->mem, 0, PAGES * 4096u);
		g->gpa = 0x10000000ull * (q + 1);
		g->desc = (void *)g->mem;
		g->avail = (void *)(g->mem + 4096);
		g->used = (void *)(g->mem + 2 * 4096);
		g->next_buf = g_page(g, BUF_FIRST_PAGE);
		for (unsigned p = 0; p < PAGES; p++) {
			if (p == HOLE_PAGE)
				continue;
			unsigned perm = p == RO_PAGE ? RIOV_VTD_READ : RIOV_VTD_READ | RIOV_VTD_WRITE;
			CHECK_EQ(riov_vtd_map(e->vtd, T_DID, g_page(g, p),
					      (uint64_t)(uintptr_t)(g->mem + 4096u * p), 4096, perm),
				 0);
		}
		e->efd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		CHECK(e->efd[q] >= 0);
		struct riov_vtd_irte irte = { .present = true, .vector = (uint8_t)(0x30 + q),
					      .svt = 1, .sq = 0, .sid = T_SID, .eventfd = e->efd[q] };
		CHECK_EQ(riov_vtd_irte_set(e->vtd, 10 + q, &irte), 0);
		riov_vtd_msi_compose(10 + q, false, 0, &e->msi_addr[q], &e->msi_data[q]);
	}
	CHECK_EQ(riov_vtd_context_set(e->vtd, T_SID, T_DID, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	riov_vtd_inv_context_global(e->vtd);
	riov_vtd_inv_iotlb_global(e->vtd);
}

static void env_fini(struct tenv *e)
{
	riov_vtd_destroy(e->vtd);
	for (unsigned q = 0; q < 2; q++) {
		free(e->g[q].mem);
		close(e->efd[q]);
	}
	CHECK_EQ(rte_mempool_avail_count(mp), e->mp_avail);
}

/* Initialise vq on guest q's ring. */
static int vq_open(struct tenv *e, struct riov_virtq *vq, unsigned q, uint16_t qid, uint16_t size,
		   uint64_t features)
{
	struct tguest *g = &e->g[q];
	g->size = size;
	struct riov_vhost_vring_info vi = {
		.qid = qid, .size = size, .desc = g->desc, .avail = g->avail, .used = g->used,
		.features = features, .vtd = e->vtd, .sid = T_SID, .callfd = e->efd[q],
		.msi_addr = e->msi_addr[q], .msi_data = e->msi_data[q],
	};
	return riov_virtq_init(vq, &vi);
}

static void free_pkts(struct rte_mbuf **p, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		rte_pktmbuf_free(p[i]);
}

/* Guest TX as dataplane/worker.c takes it for a destination that needs an mbuf: peek at up to n
 * chains, copy each good packet into an mbuf from pool (riov_virtq_pkt_mbuf), then give the chains
 * back (riov_virtq_peek_done). Returns the number of mbufs written to pkts; a packet the pool had
 * no mbuf for is not among them (the worker counts it as its port's NO_MBUF drop). */
static uint16_t tx_take(struct riov_virtq *vq, struct rte_mempool *pool, struct rte_mbuf **pkts,
			uint16_t n)
{
	struct riov_virtq_pkt pk[RIOV_VIRTQ_BURST];
	uint16_t got = riov_virtq_peek(vq, pool, pk, n), out = 0;

	for (uint16_t i = 0; i < got; i++) {
		if (pk[i].bad)
			continue;
		struct rte_mbuf *m = riov_virtq_pkt_mbuf(pool, &pk[i]);
		if (m != NULL)
			pkts[out++] = m;
	}
	riov_virtq_peek_done(vq, pk, got);
	return out;
}

/* ---------------- init ---------------- */

RIOV_TEST(init_checks)
{
	struct tenv e;
	struct riov_virtq vq;
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 100, F_V1), -EINVAL);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 0, F_V1), -EINVAL);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 256, F_V1), 0);
	CHECK(vq.is_tx);
	CHECK_EQ(vq.hdr_len, 12);
	CHECK_EQ(e.g[0].used->flags, RIOV_VRING_USED_F_NO_NOTIFY);
	CHECK_EQ(vq_open(&e, &vq, 0, 0, 256, 0), 0);
	CHECK(!vq.is_tx);
	CHECK_EQ(vq.hdr_len, 10);
	CHECK_EQ(vq_open(&e, &vq, 0, 0, 256, F_MRG), 0);
	CHECK_EQ(vq.hdr_len, 12);
	CHECK(vq.mrg_rxbuf);
	CHECK_EQ(vq_open(&e, &vq, 0, 0, 32768, F_V1 | F_IND | F_EVT | F_INO), 0);
	CHECK(vq.indirect && vq.event_idx && vq.in_order);
	struct riov_vhost_vring_info vi = { .size = 8, .desc = e.g[0].mem + 8, .avail = e.g[0].avail,
					    .used = e.g[0].used, .vtd = e.vtd };
	CHECK_EQ(riov_virtq_init(&vq, &vi), -EINVAL); /* misaligned descriptor table */
	vi.desc = e.g[0].desc;
	vi.vtd = NULL;
	CHECK_EQ(riov_virtq_init(&vq, &vi), -EINVAL);
	env_fini(&e);
}

/* ---------------- guest TX ---------------- */

RIOV_TEST(tx_basic)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	uint8_t f1[64], f2[1500], f3[60];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 256, F_V1), 0);
	fill_frame(f1, sizeof(f1), 1);
	fill_frame(f2, sizeof(f2), 2);
	fill_frame(f3, sizeof(f3), 3);
	uint16_t h1 = tx_post(g, 12, f1, sizeof(f1), NULL, 0);
	uint32_t s2[] = { 12 };           /* header alone, then the frame */
	uint16_t h2 = tx_post(g, 12, f2, sizeof(f2), s2, 1);
	uint32_t s3[] = { 5, 4, 20, 1 };  /* header spread over three descriptors */
	uint16_t h3 = tx_post(g, 12, f3, sizeof(f3), s3, 4);

	struct rte_mbuf *p[RIOV_VIRTQ_BURST];
	uint16_t n = tx_take(&vq, mp, p, RIOV_VIRTQ_BURST);
	CHECK_EQ(n, 3);
	if (n == 3) {
		CHECK(mbuf_equals(p[0], f1, sizeof(f1)));
		CHECK(mbuf_equals(p[1], f2, sizeof(f2)));
		CHECK(mbuf_equals(p[2], f3, sizeof(f3)));
		CHECK_EQ(p[1]->nb_segs, 1);
	}
	free_pkts(p, n);
	CHECK_EQ(g_used_idx(g), 3);
	CHECK_EQ(g_used(g, 0).id, h1);
	CHECK_EQ(g_used(g, 1).id, h2);
	CHECK_EQ(g_used(g, 2).id, h3);
	CHECK_EQ(g_used(g, 0).len, 0);
	CHECK_EQ(g_used(g, 2).len, 0);
	CHECK_EQ(vq.stats.packets, 3);
	CHECK_EQ(vq.stats.bytes, 64 + 1500 + 60);
	CHECK_EQ(vq.last_avail_idx, 3);
	/* nothing more */
	CHECK_EQ(tx_take(&vq, mp, p, RIOV_VIRTQ_BURST), 0);
	env_fini(&e);
}

RIOV_TEST(tx_legacy_header_and_burst_limit)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	uint8_t f[100];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 64, 0), 0); /* legacy: 10-byte header */
	for (unsigned i = 0; i < 40; i++) {
		fill_frame(f, sizeof(f), i);
		tx_post(g, 10, f, sizeof(f), NULL, 0);
	}
	struct rte_mbuf *p[RIOV_VIRTQ_BURST];
	uint16_t n = tx_take(&vq, mp, p, 64);
	CHECK_EQ(n, RIOV_VIRTQ_BURST);
	fill_frame(f, sizeof(f), 5);
	if (n > 5)
		CHECK(mbuf_equals(p[5], f, sizeof(f)));
	free_pkts(p, n);
	n = tx_take(&vq, mp, p, RIOV_VIRTQ_BURST);
	CHECK_EQ(n, 8);
	fill_frame(f, sizeof(f), 39);
	if (n == 8)
		CHECK(mbuf_equals(p[7], f, sizeof(f)));
	free_pkts(p, n);
	CHECK_EQ(g_used_idx(g), 40);
	env_fini(&e);
}

RIOV_TEST(tx_large_chained_mbufs)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	static uint8_t f[65536];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 256, F_V1 | F_MRG), 0);
	fill_frame(f, 9000, 9);
	uint32_t s[] = { 12, 3000, 3000 };
	tx_post(g, 12, f, 9000, s, 3);
	fill_frame(f, sizeof(f), 10);
	tx_post(g, 12, f, sizeof(f), NULL, 0); /* exactly the 64 KiB payload limit */
	struct rte_mbuf *p[4];
	uint16_t n = tx_take(&vq, mp, p, 4);
	CHECK_EQ(n, 2);
	if (n == 2) {
		fill_frame(f, 9000, 9);
		CHECK(mbuf_equals(p[0], f, 9000));
		CHECK(p[0]->nb_segs > 1);
		fill_frame(f, sizeof(f), 10);
		CHECK(mbuf_equals(p[1], f, sizeof(f)));
	}
	free_pkts(p, n);
	env_fini(&e);
}

RIOV_TEST(tx_too_big)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	static uint8_t f[65537];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 256, F_V1), 0);
	uint16_t h = tx_post(g, 12, f, sizeof(f), NULL, 0);
	struct rte_mbuf *p[4];
	CHECK_EQ(tx_take(&vq, mp, p, 4), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_TOO_BIG], 1);
	CHECK_EQ(g_used_idx(g), 1);
	CHECK_EQ(g_used(g, 0).id, h);
	env_fini(&e);
}

RIOV_TEST(tx_indirect)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	uint8_t f[300];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1 | F_IND), 0);
	fill_frame(f, sizeof(f), 77);
	/* table: [hdr 12][100][200] */
	uint64_t tbl = g_buf(g, 3 * 16);
	struct riov_vring_desc *t = g_host(g, tbl);
	uint64_t b0 = g_buf(g, 12), b1 = g_buf(g, 100), b2 = g_buf(g, 200);
	memset(g_host(g, b0), 0, 12);
	memcpy(g_host(g, b1), f, 100);
	memcpy(g_host(g, b2), f + 100, 200);
	t[0] = (struct riov_vring_desc){ b0, 12, RIOV_VRING_DESC_F_NEXT, 2 };
	t[2] = (struct riov_vring_desc){ b1, 100, RIOV_VRING_DESC_F_NEXT, 1 };
	t[1] = (struct riov_vring_desc){ b2, 200, 0, 0 };
	g_desc(g, 5, tbl, 3 * 16, RIOV_VRING_DESC_F_INDIRECT, 0);
	g_push(g, 5);
	struct rte_mbuf *p[4];
	uint16_t n = tx_take(&vq, mp, p, 4);
	CHECK_EQ(n, 1);
	if (n == 1)
		CHECK(mbuf_equals(p[0], f, sizeof(f)));
	free_pkts(p, n);
	CHECK_EQ(g_used(g, 0).id, 5);
	/* the same chain without the feature negotiated is malformed */
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1), 0);
	vq.last_avail_idx = 1;
	vq.last_used_idx = 1;
	g_push(g, 5);
	CHECK_EQ(tx_take(&vq, mp, p, 4), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_BAD_DESC], 1);
	env_fini(&e);
}

RIOV_TEST(tx_in_order)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	uint8_t f[80];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 64, F_V1 | F_INO), 0);
	CHECK(vq.in_order && !vq.inorder_batch);
	uint16_t h[4];
	uint32_t s[] = { 12 };
	for (unsigned i = 0; i < 4; i++) {
		fill_frame(f, sizeof(f), i);
		h[i] = tx_post(g, 12, f, sizeof(f), s, 1);
	}
	struct rte_mbuf *p[8];
	uint16_t n = tx_take(&vq, mp, p, 8);
	CHECK_EQ(n, 4);
	for (uint16_t i = 0; i < n; i++) {
		fill_frame(f, sizeof(f), i);
		CHECK(mbuf_equals(p[i], f, sizeof(f)));
	}
	free_pkts(p, n);
	/* default: one used entry per chain, in order */
	CHECK_EQ(g_used_idx(g), 4);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(g_used(g, i).id, h[i]);
	/* batching: one entry per burst with the last chain's id (virtio 1.2 2.7.10) */
	vq.inorder_batch = true;
	for (unsigned i = 0; i < 3; i++) {
		fill_frame(f, sizeof(f), i);
		h[i] = tx_post(g, 12, f, sizeof(f), s, 1);
	}
	n = tx_take(&vq, mp, p, 8);
	CHECK_EQ(n, 3);
	free_pkts(p, n);
	CHECK_EQ(g_used_idx(g), 5);
	CHECK_EQ(g_used(g, 4).id, h[2]);
	CHECK_EQ(g_used(g, 4).len, 0);
	env_fini(&e);
}

/* ---------------- guest RX ---------------- */

RIOV_TEST(rx_basic)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	uint8_t buf[2048], f[1500];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 0, 256, F_V1), 0);
	uint16_t h1 = rx_post(g, 2048, 1);
	uint16_t h2 = rx_post(g, 700, 3);  /* a chain of three buffers */
	struct rte_mbuf *p[2] = { mk_pkt(1500, 1), mk_pkt(60, 2) };
	CHECK_EQ(riov_virtq_enqueue(&vq, p, 2), 2);
	CHECK_EQ(g_used_idx(g), 2);
	CHECK_EQ(g_used(g, 0).id, h1);
	CHECK_EQ(g_used(g, 0).len, 12 + 1500);
	CHECK_EQ(g_used(g, 1).id, h2);
	CHECK_EQ(g_used(g, 1).len, 12 + 60);
	CHECK_EQ(g_gather(g, h1, buf, 12 + 1500), 12 + 1500);
	static const uint8_t hdr1[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	CHECK(memcmp(buf, hdr1, 12) == 0);
	fill_frame(f, 1500, 1);
	CHECK(memcmp(buf + 12, f, 1500) == 0);
	CHECK_EQ(g_gather(g, h2, buf, 12 + 60), 12 + 60);
	CHECK(memcmp(buf, hdr1, 12) == 0);
	fill_frame(f, 60, 2);
	CHECK(memcmp(buf + 12, f, 60) == 0);
	CHECK_EQ(vq.stats.packets, 2);
	CHECK_EQ(vq.stats.bytes, 1560);
	free_pkts(p, 2);

	/* large packet from a chained mbuf into a single big buffer */
	uint16_t h3 = rx_post(g, 12 + 9000, 1);
	struct rte_mbuf *big = mk_pkt(9000, 3);
	CHECK(big != NULL && big->nb_segs > 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, &big, 1), 1);
	CHECK_EQ(g_used(g, 2).id, h3);
	CHECK_EQ(g_used(g, 2).len, 9012);
	static uint8_t bb[9012], ff[9000];
	g_gather(g, h3, bb, sizeof(bb));
	fill_frame(ff, 9000, 3);
	CHECK(memcmp(bb + 12, ff, 9000) == 0);
	rte_pktmbuf_free(big);
	env_fini(&e);
}

RIOV_TEST(rx_legacy_header)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	uint8_t buf[200], f[100];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 0, 256, 0), 0);
	uint16_t h = rx_post(g, 200, 1);
	struct rte_mbuf *m = mk_pkt(100, 4);
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 1);
	CHECK_EQ(g_used(g, 0).len, 110);
	g_gather(g, h, buf, sizeof(buf));
	for (unsigned i = 0; i < 10; i++)
		CHECK_EQ(buf[i], 0);
	fill_frame(f, 100, 4);
	CHECK(memcmp(buf + 10, f, 100) == 0);
	CHECK_EQ(buf[110], 0xee); /* nothing beyond */
	rte_pktmbuf_free(m);
	env_fini(&e);
}

RIOV_TEST(rx_mergeable)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	uint8_t buf[512 * 3], f[1500];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 0, 256, F_V1 | F_MRG), 0);
	uint16_t h[5];
	for (unsigned i = 0; i < 5; i++)
		h[i] = rx_post(g, 512, 1);
	struct rte_mbuf *p[2] = { mk_pkt(1500, 5), mk_pkt(100, 6) };
	CHECK_EQ(riov_virtq_enqueue(&vq, p, 2), 2);
	CHECK_EQ(g_used_idx(g), 4);
	CHECK_EQ(g_used(g, 0).id, h[0]);
	CHECK_EQ(g_used(g, 0).len, 512);
	CHECK_EQ(g_used(g, 1).len, 512);
	CHECK_EQ(g_used(g, 2).id, h[2]);
	CHECK_EQ(g_used(g, 2).len, 1512 - 1024);
	CHECK_EQ(g_used(g, 3).id, h[3]);
	CHECK_EQ(g_used(g, 3).len, 112);
	for (unsigned i = 0; i < 3; i++)
		g_gather(g, h[i], buf + 512 * i, 512);
	struct riov_virtio_net_hdr *hd = (void *)buf;
	CHECK_EQ(hd->num_buffers, 3);
	CHECK_EQ(hd->flags, 0);
	CHECK_EQ(hd->gso_type, 0);
	CHECK_EQ(hd->csum_start, 0);
	fill_frame(f, 1500, 5);
	CHECK(memcmp(buf + 12, f, 1500) == 0);
	g_gather(g, h[3], buf, 112);
	CHECK_EQ(hd->num_buffers, 1);
	free_pkts(p, 2);

	/* not enough buffers for a packet: nothing is consumed, the rest is held (in order: the small
	 * one does not overtake); a vring that stops drops what it holds as NO_BUFFER */
	struct rte_mbuf *q[2] = { mk_pkt(1500, 7), mk_pkt(64, 8) };
	CHECK_EQ(riov_virtq_enqueue(&vq, q, 2), 0);
	CHECK_EQ(vq.n_held, 2);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_NO_BUFFER], 0);
	CHECK_EQ(g_used_idx(g), 4);
	CHECK_EQ(vq.last_avail_idx, 4);
	CHECK_EQ(vq.last_used_idx, 4);
	riov_virtq_release(&vq);
	CHECK_EQ(vq.n_held, 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_NO_BUFFER], 2);
	/* a small packet takes the leftover buffer */
	CHECK_EQ(riov_virtq_enqueue(&vq, q + 1, 1), 1);
	CHECK_EQ(g_used(g, 4).len, 76);
	/* the header straddling two descriptors of one chain, num_buffers patched across heads */
	uint16_t hh = rx_post(g, 6, 2);  /* 12 bytes in two 6-byte descriptors */
	rx_post(g, 2000, 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, q, 1), 1);
	CHECK_EQ(g_used_idx(g), 7);
	CHECK_EQ(g_used(g, 5).id, hh);
	CHECK_EQ(g_used(g, 5).len, 12);
	CHECK_EQ(g_used(g, 6).len, 1500);
	uint8_t b2[12];
	g_gather(g, hh, b2, 12);
	CHECK_EQ(b2[10], 2);
	CHECK_EQ(b2[11], 0);
	free_pkts(q, 2);
	env_fini(&e);
}

RIOV_TEST(rx_no_buffer_and_too_big)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 0, 256, F_V1), 0);
	vq.held_max_tsc = UINT64_MAX;
	struct rte_mbuf *p[3] = { mk_pkt(64, 1), mk_pkt(64, 2), mk_pkt(64, 3) };
	CHECK_EQ(riov_virtq_enqueue(&vq, p, 3), 0);   /* no buffer: held */
	CHECK_EQ(vq.n_held, 3);
	CHECK_EQ(riov_virtq_flush_held(&vq), 0);      /* none posted since: nothing tried */
	rx_post(g, 200, 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, p, 3), 1);   /* the first held one, then all held again */
	CHECK_EQ(vq.n_held, 5);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_NO_BUFFER], 0);
	riov_virtq_release(&vq);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_NO_BUFFER], 5);
	free_pkts(p, 3);
	/* without MRG_RXBUF a packet larger than the chain is dropped and the buffer kept */
	uint16_t h = rx_post(g, 200, 1);
	struct rte_mbuf *q[2] = { mk_pkt(1000, 4), mk_pkt(100, 5) };
	CHECK_EQ(riov_virtq_enqueue(&vq, q, 2), 1);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_TOO_BIG], 1);
	CHECK_EQ(g_used_idx(g), 2);
	CHECK_EQ(g_used(g, 1).id, h);
	CHECK_EQ(g_used(g, 1).len, 112);
	free_pkts(q, 2);
	env_fini(&e);
}

/* A guest slow to give RX buffers back: what does not fit waits in order, up to RIOV_VIRTQ_HELD
 * packets and RIOV_VIRTQ_HELD_SEGS mbuf segments, and goes as soon as buffers come (a drop here
 * would make the guest's TCP retransmit). */
RIOV_TEST(rx_ring_full_holds_in_order)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 0, 256, F_V1 | F_MRG), 0);
	vq.held_max_tsc = UINT64_MAX;   /* no deadline here: the test may be slow (sanitizers) */
	uint16_t h0 = rx_post(g, 2048, 1);
	struct rte_mbuf *p[RIOV_VIRTQ_HELD + 3];
	for (unsigned k = 0; k < RTE_DIM(p); k++)
		p[k] = mk_pkt(100 + k, 40 + k);
	/* one buffer: the first packet goes, the rest waits; beyond the bound they are dropped */
	CHECK_EQ(riov_virtq_enqueue(&vq, p, RIOV_VIRTQ_BURST), 1);
	CHECK_EQ(vq.n_held, RIOV_VIRTQ_BURST - 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, p + RIOV_VIRTQ_BURST, RTE_DIM(p) - RIOV_VIRTQ_BURST), 0);
	CHECK_EQ(vq.n_held, RIOV_VIRTQ_HELD);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_NO_BUFFER], RTE_DIM(p) - 1 - RIOV_VIRTQ_HELD);
	free_pkts(p, RTE_DIM(p));                  /* the caller frees all, as the worker does */
	CHECK_EQ(riov_virtq_flush_held(&vq), 0);   /* no buffer posted since */
	CHECK_EQ(g_used_idx(g), 1);
	CHECK_EQ(g_used(g, 0).id, h0);
	/* buffers for ten: the next ten held packets go, in order, the others keep waiting */
	uint16_t hb[10];
	for (unsigned k = 0; k < 10; k++)
		hb[k] = rx_post(g, 2048, 1);
	CHECK_EQ(riov_virtq_flush_held(&vq), 10);
	CHECK_EQ(vq.n_held, RIOV_VIRTQ_HELD - 10);
	CHECK_EQ(g_used_idx(g), 11);
	for (unsigned k = 0; k < 10; k++) {
		CHECK_EQ(g_used(g, (uint16_t)(1 + k)).id, hb[k]);
		CHECK_EQ(g_used(g, (uint16_t)(1 + k)).len, 12 + 100 + 1 + k);
	}
	CHECK_EQ(vq.stats.packets, 11);
	riov_virtq_release(&vq);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_NO_BUFFER], RTE_DIM(p) - 11);

	/* big frames: the segment bound holds fewer of them */
	struct rte_mbuf *big[RIOV_VIRTQ_HELD];
	unsigned nb = 0, segs = 0;
	while (nb < RTE_DIM(big)) {
		big[nb] = mk_pkt(60000, 80 + nb);
		CHECK(big[nb] != NULL);
		segs += big[nb]->nb_segs;
		nb++;
		if (segs > RIOV_VIRTQ_HELD_SEGS)
			break;
	}
	CHECK(segs > RIOV_VIRTQ_HELD_SEGS);   /* the last one would pass the bound */
	CHECK_EQ(riov_virtq_enqueue(&vq, big, (uint16_t)nb), 0);
	CHECK_EQ(vq.n_held, nb - 1);
	CHECK(vq.held_segs <= RIOV_VIRTQ_HELD_SEGS);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_NO_BUFFER], RTE_DIM(p) - 11 + 1);
	free_pkts(big, (uint16_t)nb);
	riov_virtq_release(&vq);
	CHECK_EQ(vq.held_segs, 0);
	env_fini(&e);
}

/* What waits for buffers is bounded in time (a guest that stopped taking packets pins no mbufs)
 * and, over all vrings, by a shared budget. */
RIOV_TEST(rx_held_deadline_and_budget)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	struct riov_virtq_held_budget b = { .cap = 5 };
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 0, 256, F_V1 | F_MRG), 0);
	vq.held_budget = &b;
	vq.held_max_tsc = UINT64_MAX;
	struct rte_mbuf *p[8];
	for (unsigned k = 0; k < 8; k++)
		p[k] = mk_pkt(100, 60 + k);
	CHECK_EQ(riov_virtq_enqueue(&vq, p, 8), 0);
	CHECK_EQ(vq.n_held, 5);                       /* the budget's 5 segments */
	CHECK_EQ(atomic_load(&b.used), 5);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_NO_BUFFER], 3);
	/* buffers for two: delivered, and their share of the budget back */
	rx_post(g, 2048, 1);
	rx_post(g, 2048, 1);
	CHECK_EQ(riov_virtq_flush_held(&vq), 2);
	CHECK_EQ(vq.n_held, 3);
	CHECK_EQ(atomic_load(&b.used), 3);
	/* past the deadline with no buffer posted since: dropped, counted, the budget back */
	vq.held_max_tsc = 0;
	CHECK_EQ(riov_virtq_flush_held(&vq), 0);
	CHECK_EQ(vq.n_held, 0);
	CHECK_EQ(atomic_load(&b.used), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_NO_BUFFER], 6);
	/* and a stopping vring gives its share back too */
	vq.held_max_tsc = UINT64_MAX;
	CHECK_EQ(riov_virtq_enqueue(&vq, p, 2), 0);
	CHECK_EQ(atomic_load(&b.used), 2);
	riov_virtq_release(&vq);
	CHECK_EQ(atomic_load(&b.used), 0);
	free_pkts(p, 8);
	env_fini(&e);
}

RIOV_TEST(rx_indirect_and_in_order)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	uint8_t buf[300], f[200];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 0, 8, F_V1 | F_IND | F_INO), 0);
	uint64_t tbl = g_buf(g, 32);
	uint64_t b0 = g_buf(g, 100), b1 = g_buf(g, 200);
	struct riov_vring_desc *t = g_host(g, tbl);
	t[0] = (struct riov_vring_desc){ b0, 100, RIOV_VRING_DESC_F_WRITE | RIOV_VRING_DESC_F_NEXT, 1 };
	t[1] = (struct riov_vring_desc){ b1, 200, RIOV_VRING_DESC_F_WRITE, 0 };
	g_desc(g, 0, tbl, 32, RIOV_VRING_DESC_F_INDIRECT, 0);
	g_push(g, 0);
	g->next_desc = 1;
	uint16_t h2 = rx_post(g, 300, 1);
	struct rte_mbuf *p[2] = { mk_pkt(200, 9), mk_pkt(50, 10) };
	CHECK_EQ(riov_virtq_enqueue(&vq, p, 2), 2);
	CHECK_EQ(g_used(g, 0).id, 0);
	CHECK_EQ(g_used(g, 0).len, 212);
	CHECK_EQ(g_used(g, 1).id, h2);
	CHECK_EQ(g_used(g, 1).len, 62);
	memcpy(buf, g_host(g, b0), 100);
	memcpy(buf + 100, g_host(g, b1), 200);
	fill_frame(f, 200, 9);
	CHECK(memcmp(buf + 12, f, 200) == 0);
	CHECK_EQ(buf[10], 1);
	free_pkts(p, 2);
	env_fini(&e);
}

RIOV_TEST(rx_dirty_log)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	static uint8_t logb[(0x10000000ull + PAGES * 4096ull) / 4096 / 8 + 1];
	env_init(&e);
	memset(logb, 0, sizeof(logb));
	CHECK_EQ(vq_open(&e, &vq, 0, 0, 256, F_V1), 0);
	vq.log_base = logb;
	vq.log_size = sizeof(logb);
	riov_virtq_set_used_log(&vq, g_page(g, 2));
	g->next_buf = g_page(g, 10) + 4000; /* buffer straddles pages 10 and 11 */
	rx_post(g, 1000, 1);
	struct rte_mbuf *m = mk_pkt(500, 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 1);
	rte_pktmbuf_free(m);
	unsigned set = 0;
	for (size_t i = 0; i < sizeof(logb); i++)
		set += __builtin_popcount(logb[i]);
	uint64_t p10 = g_page(g, 10) >> 12, p2 = g_page(g, 2) >> 12;
	CHECK(logb[p10 / 8] & (1u << (p10 % 8)));
	CHECK(logb[(p10 + 1) / 8] & (1u << ((p10 + 1) % 8)));
	CHECK(logb[p2 / 8] & (1u << (p2 % 8)));
	CHECK_EQ(set, 3);
	CHECK(vq.stats.log_writes >= 2);   /* the buffer and the used ring, counted for Port stats */
	/* pages beyond the log are not touched (bounded by log_size) */
	vq.log_size = 1;
	rx_post(g, 1000, 1);
	m = mk_pkt(500, 2);
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 1);
	rte_pktmbuf_free(m);
	env_fini(&e);
}

/* ---------------- notification ---------------- */

RIOV_TEST(notify_no_interrupt_flag)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	uint8_t f[64];
	struct rte_mbuf *p[4];
	env_init(&e);
	fill_frame(f, 64, 0);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 64, F_V1), 0);
	riov_virtq_notify(&vq); /* nothing used yet: no interrupt */
	CHECK_EQ(efd_count(e.efd[0]), 0);
	tx_post(g, 12, f, 64, NULL, 0);
	uint16_t n = tx_take(&vq, mp, p, 4);
	free_pkts(p, n);
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(e.efd[0]), 1);
	CHECK_EQ(vq.stats.notifications, 1);
	riov_virtq_notify(&vq); /* nothing new */
	CHECK_EQ(efd_count(e.efd[0]), 0);
	g->avail->flags = RIOV_VRING_AVAIL_F_NO_INTERRUPT;
	tx_post(g, 12, f, 64, NULL, 0);
	n = tx_take(&vq, mp, p, 4);
	free_pkts(p, n);
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(e.efd[0]), 0);
	CHECK_EQ(vq.stats.notifications, 1);
	g->avail->flags = 0;
	tx_post(g, 12, f, 64, NULL, 0);
	n = tx_take(&vq, mp, p, 4);
	free_pkts(p, n);
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(e.efd[0]), 1);
	CHECK_EQ(vq.stats.notifications, 2);
	env_fini(&e);
}

RIOV_TEST(notify_event_idx)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	uint8_t f[64];
	struct rte_mbuf *p[8];
	env_init(&e);
	uint16_t *used_event = &g->avail->ring[64];
	uint16_t *avail_event = (uint16_t *)&g->used->ring[64];
	fill_frame(f, 64, 0);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 64, F_V1 | F_EVT), 0);
	CHECK_EQ(*avail_event, 0xffff); /* one behind: the guest never kicks */
	g->avail->flags = RIOV_VRING_AVAIL_F_NO_INTERRUPT; /* ignored with EVENT_IDX */
	*used_event = 0;
	tx_post(g, 12, f, 64, NULL, 0);
	uint16_t n = tx_take(&vq, mp, p, 8);
	free_pkts(p, n);
	CHECK_EQ(*avail_event, 0);
	/* the guest's kick test must say no for any new avail index */
	CHECK(!riov_vring_need_event(*avail_event, 2, 1));
	CHECK(!riov_vring_need_event(*avail_event, 65, 1));
	riov_virtq_notify(&vq); /* used 0 -> 1, used_event 0: interrupt */
	CHECK_EQ(efd_count(e.efd[0]), 1);
	*used_event = 4; /* the guest wants an interrupt once entry 4 is used (idx passes 5) */
	for (unsigned round = 0; round < 4; round++) {
		tx_post(g, 12, f, 64, NULL, 0);
		n = tx_take(&vq, mp, p, 8);
		free_pkts(p, n);
		riov_virtq_notify(&vq);
		/* used idx: 2, 3, 4, 5 */
		CHECK_EQ(efd_count(e.efd[0]), round == 3 ? 1 : 0);
	}
	CHECK_EQ(vq.stats.notifications, 2);
	/* a burst that jumps over used_event still interrupts */
	*used_event = 7;
	for (unsigned i = 0; i < 4; i++)
		tx_post(g, 12, f, 64, NULL, 0);
	n = tx_take(&vq, mp, p, 8);
	free_pkts(p, n);
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(e.efd[0]), 1);
	CHECK_EQ(*avail_event, (uint16_t)(vq.last_avail_idx - 1));
	env_fini(&e);
}

RIOV_TEST(two_queues)
{
	struct tenv e;
	struct riov_virtq rx, tx;
	uint8_t f[256], buf[300];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &rx, 0, 0, 128, F_V1 | F_MRG), 0);
	CHECK_EQ(vq_open(&e, &tx, 1, 1, 256, F_V1 | F_MRG), 0);
	/* guest TX on queue 1 is looped back into guest RX on queue 0 */
	for (unsigned i = 0; i < 10; i++) {
		fill_frame(f, 200 + i, i);
		tx_post(&e.g[1], 12, f, 200 + i, NULL, 0);
		rx_post(&e.g[0], 1024, 1);
	}
	struct rte_mbuf *p[RIOV_VIRTQ_BURST];
	uint16_t n = tx_take(&tx, mp, p, RIOV_VIRTQ_BURST);
	CHECK_EQ(n, 10);
	CHECK_EQ(riov_virtq_enqueue(&rx, p, n), 10);
	free_pkts(p, n);
	riov_virtq_notify(&tx);
	riov_virtq_notify(&rx);
	CHECK_EQ(efd_count(e.efd[0]), 1);
	CHECK_EQ(efd_count(e.efd[1]), 1);
	for (unsigned i = 0; i < 10; i++) {
		struct riov_vring_used_elem u = g_used(&e.g[0], i);
		CHECK_EQ(u.len, 12 + 200 + i);
		g_gather(&e.g[0], (uint16_t)u.id, buf, u.len);
		fill_frame(f, 200 + i, i);
		CHECK(memcmp(buf + 12, f, 200 + i) == 0);
		CHECK_EQ(buf[10], 1);
	}
	CHECK_EQ(g_used_idx(&e.g[1]), 10);
	env_fini(&e);
}

RIOV_TEST(index_wraparound)
{
	struct tenv e;
	struct riov_virtq tx, rx;
	uint8_t f[40], buf[64];
	struct rte_mbuf *p[4];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &tx, 0, 1, 2, F_V1 | F_EVT), 0);
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 1, F_V1 | F_MRG), 0);
	/* pre-built descriptors, re-posted 70000 times: the 16-bit indices wrap */
	uint64_t tb = g_buf(&e.g[0], 12 + sizeof(f));
	memset(g_host(&e.g[0], tb), 0, 12);
	uint64_t rb = g_buf(&e.g[1], 64);
	g_desc(&e.g[0], 0, tb, 12 + sizeof(f), 0, 0);
	g_desc(&e.g[1], 0, rb, 64, RIOV_VRING_DESC_F_WRITE, 0);
	unsigned bad = 0;
	for (unsigned i = 0; i < 70000; i++) {
		fill_frame(f, sizeof(f), i);
		memcpy((uint8_t *)g_host(&e.g[0], tb) + 12, f, sizeof(f));
		g_push(&e.g[0], 0);
		g_push(&e.g[1], 0);
		uint16_t n = tx_take(&tx, mp, p, 4);
		if (n != 1 || !mbuf_equals(p[0], f, sizeof(f)) || riov_virtq_enqueue(&rx, p, 1) != 1)
			bad++;
		free_pkts(p, n);
		memcpy(buf, g_host(&e.g[1], rb), sizeof(buf));
		if (memcmp(buf + 12, f, sizeof(f)) != 0 || g_used(&e.g[1], 0).len != 12 + sizeof(f))
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(g_used_idx(&e.g[0]), (uint16_t)70000);
	CHECK_EQ(g_used_idx(&e.g[1]), (uint16_t)70000);
	CHECK(!tx.broken && !rx.broken);
	CHECK_EQ(tx.stats.packets, 70000);
	env_fini(&e);
}

RIOV_TEST(notify_irte_fault)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	struct riov_vtd_fault fl[4];
	uint8_t f[64];
	struct rte_mbuf *p[4];
	env_init(&e);
	fill_frame(f, 64, 0);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 64, F_V1), 0);
	CHECK_EQ(riov_vtd_irte_clear(e.vtd, 10), 0);
	tx_post(g, 12, f, 64, NULL, 0);
	uint16_t n = tx_take(&vq, mp, p, 4);
	free_pkts(p, n);
	riov_virtq_notify(&vq);
	CHECK_EQ(vq.stats.notifications, 0);
	CHECK_EQ(efd_count(e.efd[0]), 0);
	size_t nf = riov_vtd_faults_read(e.vtd, fl, 4, true);
	CHECK_EQ(nf, 1);
	if (nf == 1) {
		CHECK_EQ(fl[0].is_ir, 1);
		CHECK_EQ(fl[0].reason, RIOV_VTD_FR_IR_NOT_PRESENT);
	}
	env_fini(&e);
}

struct scribbler {
	struct tguest *g[2];
	volatile int stop;
	unsigned long rounds;  /* atomic: scribbling rounds done */
};

/* A guest that rewrites descriptors, avail entries and indices, and buffers at random while the
 * device works: every value the device reads may change between two reads. */
static void *scribble(void *arg)
{
	struct scribbler *sc = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	while (!sc->stop) {
		for (unsigned k = 0; k < 64; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			struct tguest *g = sc->g[x & 1];
			unsigned i = (unsigned)(x >> 8) & 15;
			switch ((x >> 20) & 7) {
			case 0:
				g->desc[i].addr = g->gpa + ((x >> 24) & (PAGES * 4096ull - 1));
				break;
			case 1:
				g->desc[i].len = (uint32_t)(x >> 32) & 0x1ffff;
				break;
			case 2:
				g->desc[i].flags = (uint16_t)(x >> 40) & 7;
				g->desc[i].next = (uint16_t)(x >> 48) & 31;
				break;
			case 3:
				g->avail->ring[i] = (uint16_t)(x >> 33) & 31;
				break;
			case 4:
				__atomic_store_n(&g->avail->idx,
						 (uint16_t)(g->avail->idx + ((x >> 30) & 7)),
						 __ATOMIC_RELEASE);
				break;
			case 5:
				g->mem[BUF_FIRST_PAGE * 4096u + ((x >> 28) & 0xffff)] = (uint8_t)x;
				break;
			default:
				g->avail->ring[16] = (uint16_t)(x >> 12); /* used_event */
				break;
			case 6:
				__atomic_store_n(&g->avail->idx, (uint16_t)(g->avail->idx + 1),
						 __ATOMIC_RELEASE);
				break;
			}
		}
		__atomic_fetch_add(&sc->rounds, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

RIOV_TEST(hostile_guest_thread)
{
	struct tenv e;
	struct riov_virtq tx, rx;
	struct scribbler sc;
	pthread_t th;
	env_init(&e);
	CHECK_EQ(vq_open(&e, &tx, 0, 1, 16, F_V1 | F_IND | F_EVT), 0);
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 16, F_V1 | F_MRG | F_IND), 0);
	/* start from valid rings: 16 TX frames, 16 RX buffers, all available */
	for (uint16_t i = 0; i < 16; i++) {
		uint64_t tb = g_buf(&e.g[0], 12 + 100);
		memset(g_host(&e.g[0], tb), 0, 12 + 100);
		g_desc(&e.g[0], i, tb, 12 + 100, 0, 0);
		g_push(&e.g[0], i);
		g_desc(&e.g[1], i, g_buf(&e.g[1], 1024), 1024, RIOV_VRING_DESC_F_WRITE, 0);
		g_push(&e.g[1], i);
	}
	sc.g[0] = &e.g[0];
	sc.g[1] = &e.g[1];
	sc.stop = 0;
	sc.rounds = 0;
	/* EAL pinned this thread to one CPU; let the guest run on any, truly concurrently */
	pthread_attr_t attr;
	cpu_set_t all;
	CPU_ZERO(&all);
	for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; c++)
		CPU_SET(c, &all);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(all), &all);
	CHECK_EQ(pthread_create(&th, &attr, scribble, &sc), 0);
	pthread_attr_destroy(&attr);
	unsigned long moved = 0, moved_rx = 0, restarts = 0, bad = 0;
	/* progress-based, not timed: until the guest has scribbled a while (bounded) */
	for (unsigned it = 0;
	     it < 5000 || (__atomic_load_n(&sc.rounds, __ATOMIC_RELAXED) < 3000 && it < 5000000);
	     it++) {
		struct rte_mbuf *p[RIOV_VIRTQ_BURST];
		uint16_t n = tx_take(&tx, mp, p, RIOV_VIRTQ_BURST);
		riov_virtq_enqueue(&rx, p, n);
		moved += n;
		free_pkts(p, n);
		if (n == 0)
			sched_yield(); /* on a shared CPU, let the guest run */
		riov_virtq_notify(&tx);
		riov_virtq_notify(&rx);
		moved_rx += rx.stats.packets;
		rx.stats.packets = 0;
		/* a broken queue is restarted where the guest's rings are (as SET_VRING_BASE would) */
		if (tx.broken) {
			restarts++;
			bad += tx.stats.drops[RIOV_VQ_DROP_BAD_DESC];
			CHECK_EQ(vq_open(&e, &tx, 0, 1, 16, F_V1 | F_IND | F_EVT), 0);
			tx.last_avail_idx = __atomic_load_n(&e.g[0].avail->idx, __ATOMIC_ACQUIRE);
			tx.last_used_idx = e.g[0].used->idx;
		}
		if (rx.broken) {
			restarts++;
			CHECK_EQ(vq_open(&e, &rx, 1, 0, 16, F_V1 | F_MRG | F_IND), 0);
			rx.last_avail_idx = __atomic_load_n(&e.g[1].avail->idx, __ATOMIC_ACQUIRE);
			rx.last_used_idx = e.g[1].used->idx;
		}
	}
	bad += tx.stats.drops[RIOV_VQ_DROP_BAD_DESC];
	sc.stop = 1;
	pthread_join(th, NULL);
	printf("# hostile guest: %lu rounds, %lu packets out, %lu in, %lu bad tx chains, %lu restarts\n",
	       sc.rounds, moved, moved_rx, bad, restarts);
	env_fini(&e); /* every mbuf is back in the pool */
}

/* ---------------- bad ring input ---------------- */

/* Post `head` on a TX queue and expect the packet dropped with `cause`, the head returned with
 * len 0 when `returned`, and the queue still serving a following good packet. */
static void expect_tx_drop(struct tenv *e, struct riov_virtq *vq, uint16_t head, int cause,
			   bool returned)
{
	struct tguest *g = &e->g[0];
	struct rte_mbuf *p[4];
	uint64_t before = vq->stats.drops[cause];
	uint16_t used0 = g_used_idx(g);
	g_push(g, head);
	CHECK_EQ(tx_take(vq, mp, p, 4), 0);
	CHECK_EQ(vq->stats.drops[cause], before + 1);
	CHECK(!vq->broken);
	if (returned) {
		CHECK_EQ(g_used_idx(g), (uint16_t)(used0 + 1));
		CHECK_EQ(g_used(g, used0).id, head);
		CHECK_EQ(g_used(g, used0).len, 0);
	} else {
		CHECK_EQ(g_used_idx(g), used0);
	}
	uint8_t f[70];
	fill_frame(f, sizeof(f), 42);
	tx_post(g, 12, f, sizeof(f), NULL, 0);
	uint16_t n = tx_take(vq, mp, p, 4);
	CHECK_EQ(n, 1);
	if (n == 1)
		CHECK(mbuf_equals(p[0], f, sizeof(f)));
	free_pkts(p, n);
}

static uint16_t hdr_desc(struct tguest *g, uint16_t i, uint16_t flags, uint16_t next)
{
	uint64_t b = g_buf(g, 12);
	memset(g_host(g, b), 0, 12);
	g_desc(g, i, b, 12, flags, next);
	return i;
}

RIOV_TEST(bad_next_loop)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1), 0);
	g->next_desc = 8;
	hdr_desc(g, 0, RIOV_VRING_DESC_F_NEXT, 1);
	hdr_desc(g, 1, RIOV_VRING_DESC_F_NEXT, 2);
	hdr_desc(g, 2, RIOV_VRING_DESC_F_NEXT, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	hdr_desc(g, 3, RIOV_VRING_DESC_F_NEXT, 3); /* self loop */
	expect_tx_drop(&e, &vq, 3, RIOV_VQ_DROP_BAD_DESC, true);
	/* the same on an RX queue */
	struct riov_virtq rx;
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 16, F_V1 | F_MRG), 0);
	uint64_t b = g_buf(&e.g[1], 64);
	g_desc(&e.g[1], 0, b, 64, RIOV_VRING_DESC_F_WRITE | RIOV_VRING_DESC_F_NEXT, 1);
	g_desc(&e.g[1], 1, b, 64, RIOV_VRING_DESC_F_WRITE | RIOV_VRING_DESC_F_NEXT, 0);
	g_push(&e.g[1], 0);
	struct rte_mbuf *m = mk_pkt(5000, 1);
	CHECK_EQ(riov_virtq_enqueue(&rx, &m, 1), 0);
	CHECK_EQ(rx.stats.drops[RIOV_VQ_DROP_BAD_DESC], 1);
	CHECK_EQ(g_used_idx(&e.g[1]), 1);
	CHECK_EQ(g_used(&e.g[1], 0).len, 0);
	rte_pktmbuf_free(m);
	env_fini(&e);
}

RIOV_TEST(bad_indirect_loop)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1 | F_IND), 0);
	g->next_desc = 8;
	uint64_t tbl = g_buf(g, 80), b = g_buf(g, 12);
	struct riov_vring_desc *t = g_host(g, tbl);
	for (unsigned i = 0; i < 4; i++)
		t[i] = (struct riov_vring_desc){ b, 12, RIOV_VRING_DESC_F_NEXT, (uint16_t)((i + 1) % 4) };
	g_desc(g, 0, tbl, 64, RIOV_VRING_DESC_F_INDIRECT, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	/* next beyond the indirect table (a valid-looking entry lies right after it) */
	uint64_t ob = g_buf(g, 100);
	memset(g_host(g, ob), 0, 100);
	t[4] = (struct riov_vring_desc){ ob, 100, 0, 0 };
	t[3].next = 4;
	t[3].flags = RIOV_VRING_DESC_F_NEXT;
	t[0].next = 3;
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	env_fini(&e);
}

RIOV_TEST(bad_head_or_next_out_of_range)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1), 0);
	g->next_desc = 8;
	/* a valid-looking descriptor just past the table: must never be read */
	uint64_t ob = g_buf(g, 100);
	memset(g_host(g, ob), 0, 100);
	g_desc(g, 16, ob, 100, 0, 0);
	expect_tx_drop(&e, &vq, 16, RIOV_VQ_DROP_BAD_DESC, false);
	expect_tx_drop(&e, &vq, 0xffff, RIOV_VQ_DROP_BAD_DESC, false);
	hdr_desc(g, 0, RIOV_VRING_DESC_F_NEXT, 16);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	/* RX: an out-of-range head drops the packet, the ring stays usable */
	struct riov_virtq rx;
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 16, F_V1), 0);
	g_push(&e.g[1], 300);
	e.g[1].next_desc = 2;
	rx_post(&e.g[1], 200, 1);
	struct rte_mbuf *m[2] = { mk_pkt(64, 1), mk_pkt(64, 2) };
	CHECK_EQ(riov_virtq_enqueue(&rx, m, 2), 1);
	CHECK_EQ(rx.stats.drops[RIOV_VQ_DROP_BAD_DESC], 1);
	CHECK_EQ(g_used_idx(&e.g[1]), 1);
	CHECK_EQ(g_used(&e.g[1], 0).id, 2);
	free_pkts(m, 2);
	env_fini(&e);
}

RIOV_TEST(bad_indirect_tables)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1 | F_IND), 0);
	g->next_desc = 8;
	uint64_t tbl = g_buf(g, 64), tbl2 = g_buf(g, 16), b = g_buf(g, 80);
	memset(g_host(g, b), 0, 80);
	struct riov_vring_desc *t = g_host(g, tbl);
	t[0] = (struct riov_vring_desc){ b, 80, 0, 0 };
	/* a good one first */
	g_desc(g, 0, tbl, 16, RIOV_VRING_DESC_F_INDIRECT, 0);
	struct rte_mbuf *p[2];
	g_push(g, 0);
	uint16_t n = tx_take(&vq, mp, p, 2);
	CHECK_EQ(n, 1);
	free_pkts(p, n);
	/* too long: more than 32768 entries */
	g_desc(g, 0, tbl, 16u * 32769u, RIOV_VRING_DESC_F_INDIRECT, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	/* length not a multiple of 16, and zero */
	g_desc(g, 0, tbl, 24, RIOV_VRING_DESC_F_INDIRECT, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	g_desc(g, 0, tbl, 0, RIOV_VRING_DESC_F_INDIRECT, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	/* nested: an indirect descriptor inside the table */
	t[0] = (struct riov_vring_desc){ tbl2, 16, RIOV_VRING_DESC_F_INDIRECT, 0 };
	*(struct riov_vring_desc *)g_host(g, tbl2) = (struct riov_vring_desc){ b, 80, 0, 0 };
	g_desc(g, 0, tbl, 16, RIOV_VRING_DESC_F_INDIRECT, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	/* INDIRECT together with NEXT */
	t[0] = (struct riov_vring_desc){ b, 80, 0, 0 };
	hdr_desc(g, 1, 0, 0);
	g_desc(g, 0, tbl, 16, RIOV_VRING_DESC_F_INDIRECT | RIOV_VRING_DESC_F_NEXT, 1);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	/* a table that does not translate: DMA fault */
	g_desc(g, 0, g_page(g, HOLE_PAGE), 16, RIOV_VRING_DESC_F_INDIRECT, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_DMA_FAULT, true);
	/* a table that wraps the address space */
	g_desc(g, 0, UINT64_MAX - 15, 32, RIOV_VRING_DESC_F_INDIRECT, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	env_fini(&e);
}

RIOV_TEST(bad_zero_length)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1), 0);
	g->next_desc = 8;
	uint64_t b = g_buf(g, 100);
	memset(g_host(g, b), 0, 100);
	g_desc(g, 0, b, 100, RIOV_VRING_DESC_F_NEXT, 1);
	g_desc(g, 1, b, 0, 0, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	/* RX */
	struct riov_virtq rx;
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 16, F_V1), 0);
	g_desc(&e.g[1], 0, g_buf(&e.g[1], 64), 0, RIOV_VRING_DESC_F_WRITE, 0);
	g_push(&e.g[1], 0);
	struct rte_mbuf *m = mk_pkt(30, 1);
	CHECK_EQ(riov_virtq_enqueue(&rx, &m, 1), 0);
	CHECK_EQ(rx.stats.drops[RIOV_VQ_DROP_BAD_DESC], 1);
	CHECK_EQ(g_used(&e.g[1], 0).len, 0);
	rte_pktmbuf_free(m);
	env_fini(&e);
}

RIOV_TEST(bad_unmapped_buffers)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	struct riov_vtd_fault fl[16];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1), 0);
	g->next_desc = 8;
	/* a buffer running from a mapped page into the hole */
	uint64_t hole = g_page(g, HOLE_PAGE);
	g_desc(g, 0, hole - 100, 300, 0, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_DMA_FAULT, true);
	size_t nf = riov_vtd_faults_read(e.vtd, fl, 16, true);
	CHECK_EQ(nf, 1);
	if (nf >= 1) {
		CHECK_EQ(fl[0].sid, T_SID);
		CHECK_EQ(fl[0].addr, hole);
		CHECK_EQ(fl[0].is_write, 0);
		CHECK_EQ(fl[0].is_ir, 0);
		CHECK_EQ(fl[0].reason, RIOV_VTD_FR_READ);
	}
	/* outside the domain altogether */
	g_desc(g, 0, 0x7000000000ull, 64, 0, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_DMA_FAULT, true);
	CHECK_EQ(vq.tc.faults >= 2, 1);

	/* RX into a read-only page: write fault */
	struct riov_virtq rx;
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 16, F_V1), 0);
	uint64_t ro = g_page(&e.g[1], RO_PAGE);
	g_desc(&e.g[1], 0, ro, 200, RIOV_VRING_DESC_F_WRITE, 0);
	g_push(&e.g[1], 0);
	e.g[1].next_desc = 1;
	uint16_t h = rx_post(&e.g[1], 200, 1);
	struct rte_mbuf *m[2] = { mk_pkt(64, 1), mk_pkt(64, 2) };
	riov_vtd_faults_read(e.vtd, fl, 16, true);
	CHECK_EQ(riov_virtq_enqueue(&rx, m, 2), 1);
	CHECK_EQ(rx.stats.drops[RIOV_VQ_DROP_DMA_FAULT], 1);
	CHECK_EQ(g_used(&e.g[1], 0).id, 0);
	CHECK_EQ(g_used(&e.g[1], 0).len, 0);
	CHECK_EQ(g_used(&e.g[1], 1).id, h);
	CHECK_EQ(g_used(&e.g[1], 1).len, 76);
	nf = riov_vtd_faults_read(e.vtd, fl, 16, true);
	CHECK_EQ(nf, 1);
	if (nf >= 1) {
		CHECK_EQ(fl[0].addr, ro);
		CHECK_EQ(fl[0].is_write, 1);
		CHECK_EQ(fl[0].reason, RIOV_VTD_FR_WRITE);
	}
	free_pkts(m, 2);
	env_fini(&e);
}

RIOV_TEST(bad_direction)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1), 0);
	g->next_desc = 8;
	uint64_t b = g_buf(g, 100);
	memset(g_host(g, b), 0, 100);
	/* a device-writable buffer in a TX chain */
	g_desc(g, 0, b, 50, RIOV_VRING_DESC_F_NEXT, 1);
	g_desc(g, 1, b + 50, 50, RIOV_VRING_DESC_F_WRITE, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	/* a read-only buffer in an RX chain */
	struct riov_virtq rx;
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 16, F_V1), 0);
	uint64_t rb = g_buf(&e.g[1], 200);
	g_desc(&e.g[1], 0, rb, 100, RIOV_VRING_DESC_F_WRITE | RIOV_VRING_DESC_F_NEXT, 1);
	g_desc(&e.g[1], 1, rb + 100, 100, 0, 0);
	g_push(&e.g[1], 0);
	struct rte_mbuf *m = mk_pkt(150, 1);
	CHECK_EQ(riov_virtq_enqueue(&rx, &m, 1), 0);
	CHECK_EQ(rx.stats.drops[RIOV_VQ_DROP_BAD_DESC], 1);
	CHECK_EQ(g_used_idx(&e.g[1]), 1);
	CHECK_EQ(g_used(&e.g[1], 0).len, 0);
	rte_pktmbuf_free(m);
	env_fini(&e);
}

RIOV_TEST(bad_shorter_than_header)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1), 0);
	g->next_desc = 8;
	uint64_t b = g_buf(g, 12);
	memset(g_host(g, b), 0, 12);
	g_desc(g, 0, b, 8, 0, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	g_desc(g, 0, b, 6, RIOV_VRING_DESC_F_NEXT, 1);
	g_desc(g, 1, b, 5, 0, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	/* exactly a header and no frame */
	g_desc(g, 0, b, 12, 0, 0);
	expect_tx_drop(&e, &vq, 0, RIOV_VQ_DROP_BAD_DESC, true);
	/* RX, mergeable: the first buffer cannot hold the header */
	struct riov_virtq rx;
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 16, F_V1 | F_MRG), 0);
	e.g[1].next_desc = 0;
	uint16_t h0 = rx_post(&e.g[1], 8, 1);
	rx_post(&e.g[1], 512, 1);
	struct rte_mbuf *m = mk_pkt(100, 1);
	CHECK_EQ(riov_virtq_enqueue(&rx, &m, 1), 0);
	CHECK_EQ(rx.stats.drops[RIOV_VQ_DROP_BAD_DESC], 1);
	CHECK_EQ(g_used_idx(&e.g[1]), 1);
	CHECK_EQ(g_used(&e.g[1], 0).id, h0);
	CHECK_EQ(g_used(&e.g[1], 0).len, 0);
	/* the next buffer still works */
	CHECK_EQ(riov_virtq_enqueue(&rx, &m, 1), 1);
	CHECK_EQ(g_used(&e.g[1], 1).len, 112);
	rte_pktmbuf_free(m);
	env_fini(&e);
}

RIOV_TEST(bad_avail_index_broken)
{
	struct tenv e;
	struct riov_virtq vq, rx;
	struct tguest *g = &e.g[0];
	struct rte_mbuf *p[4];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1), 0);
	/* exactly size outstanding is fine (all bad heads here) */
	g->avail->idx = 16;
	for (unsigned i = 0; i < 16; i++)
		g->avail->ring[i] = 0xffff;
	uint16_t n = tx_take(&vq, mp, p, 4);
	CHECK_EQ(n, 0);
	CHECK(!vq.broken);
	/* 4 consumed, 12 outstanding; jump ahead by size + 1 */
	g->avail->idx = (uint16_t)(vq.last_avail_idx + 17);
	CHECK_EQ(tx_take(&vq, mp, p, 4), 0);
	CHECK(vq.broken);
	CHECK_EQ(vq.stats.broken, 1);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_BROKEN], 0);
	/* stays broken even if the index comes back */
	g->avail->idx = vq.last_avail_idx;
	CHECK_EQ(tx_take(&vq, mp, p, 4), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_BROKEN], 1);
	CHECK_EQ(vq.stats.broken, 1);
	/* RX: an index behind what we consumed (wraps to > size) */
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 16, F_V1), 0);
	rx_post(&e.g[1], 200, 1);
	struct rte_mbuf *m[3] = { mk_pkt(64, 1), mk_pkt(64, 2), mk_pkt(64, 3) };
	CHECK_EQ(riov_virtq_enqueue(&rx, m, 1), 1);
	e.g[1].avail->idx = 0;  /* went back by one: 0xffff outstanding */
	CHECK_EQ(riov_virtq_enqueue(&rx, m, 3), 0);
	CHECK(rx.broken);
	CHECK_EQ(rx.stats.broken, 1);
	CHECK_EQ(rx.stats.drops[RIOV_VQ_DROP_BROKEN], 3);
	CHECK_EQ(riov_virtq_enqueue(&rx, m, 2), 0);
	CHECK_EQ(rx.stats.drops[RIOV_VQ_DROP_BROKEN], 5);
	free_pkts(m, 3);
	/* re-initialising (vring restart) clears it */
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1), 0);
	CHECK(!vq.broken);
	env_fini(&e);
}

RIOV_TEST(no_mbuf)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	static uint8_t f[1000];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 16, F_V1), 0);
	struct rte_mempool *tiny =
		rte_pktmbuf_pool_create("tvq_tiny", 3, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	CHECK(tiny != NULL);
	fill_frame(f, 64, 1);
	for (unsigned i = 0; i < 5; i++)
		tx_post(g, 12, f, 64, NULL, 0);
	/* peeking needs no mbuf: all five chains go back to the guest; three copies get one, the
	 * pool is empty for the other two (the worker counts those at its port) */
	struct rte_mbuf *p[8];
	uint16_t n = tx_take(&vq, tiny, p, 8);
	CHECK_EQ(n, 3);
	CHECK_EQ(tx_take(&vq, tiny, p + 3, 8), 0);
	CHECK_EQ(vq.last_avail_idx, 5);
	CHECK_EQ(g_used_idx(g), 5);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_NO_MBUF], 0);
	/* a chain in more pieces than a riov_virtq_pkt holds is copied into an mbuf by the peek
	 * itself: with the pool empty it is dropped as NO_MBUF and returned with length 0 */
	uint32_t s[RIOV_VIRTQ_PKT_SEGS + 2];
	for (unsigned k = 0; k < RIOV_VIRTQ_PKT_SEGS + 2; k++)
		s[k] = k == 0 ? 12 + RIOV_VIRTQ_PEEK : 50;
	fill_frame(f, sizeof(f), 2);
	uint16_t h = tx_post(g, 12, f, sizeof(f), s, RIOV_VIRTQ_PKT_SEGS + 2);
	CHECK_EQ(tx_take(&vq, tiny, p + 3, 8), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_NO_MBUF], 1);
	CHECK_EQ(g_used_idx(g), 6);
	CHECK_EQ(g_used(g, 5).id, h);
	CHECK_EQ(g_used(g, 5).len, 0);
	CHECK(!vq.broken);
	free_pkts(p, n);
	/* with mbufs back, the same shape goes through */
	tx_post(g, 12, f, sizeof(f), s, RIOV_VIRTQ_PKT_SEGS + 2);
	n = tx_take(&vq, tiny, p, 8);
	CHECK_EQ(n, 1);
	if (n == 1)
		CHECK(mbuf_equals(p[0], f, sizeof(f)));
	free_pkts(p, n);
	rte_mempool_free(tiny);
	env_fini(&e);
}

RIOV_TEST(fuzz_entry_smoke)
{
	/* the fuzz entry point runs against its own unit and pool; its result counts the packets
	 * that moved, so this checks that an input reaches the rings */
	uint8_t in[8 + 4096 * 3];
	struct riov_vring_desc d = { .addr = FZ_GPA + 3 * 4096, .len = 112 };
	memset(in, 0, sizeof(in));
	in[0] = 4;     /* 16 entries */
	in[1] = 0x03;  /* MRG_RXBUF, VERSION_1: a 12-byte header */
	in[6] = 10;
	in[7] = 3;
	CHECK_EQ(riov_virtq_fuzz_one(in, sizeof(in)), 0);   /* nothing posted: nothing moves */
	memcpy(in + 8, &d, sizeof(d));                      /* descriptor 0: 112 bytes to send */
	in[8 + 4096 + 2] = 1;                               /* avail->idx = 1, ring[0] = 0 */
	CHECK_EQ(riov_virtq_fuzz_one(in, sizeof(in)), 1);   /* TX took it; RX found no writable buffer */
	in[1] |= 0x80;                                      /* the worker's direct path */
	CHECK_EQ(riov_virtq_fuzz_one(in, sizeof(in)), 1);
	CHECK_EQ(riov_virtq_fuzz_one(in, 3), 0);
	/* a packed ring of 4 slots (byte 0 bit 6), start index 0 with wrap counter 1 */
	struct riov_vring_packed_desc pd = { .addr = FZ_GPA + 3 * 4096, .len = 112, .id = 0,
					     .flags = RIOV_VRING_PACKED_DESC_F_AVAIL };
	memset(in, 0, sizeof(in));
	in[0] = 0x40 | 3;
	in[1] = 0x03;
	in[3] = 0x80;
	CHECK_EQ(riov_virtq_fuzz_one(in, sizeof(in)), 0);   /* nothing available */
	memcpy(in + 8, &pd, sizeof(pd));
	CHECK_EQ(riov_virtq_fuzz_one(in, sizeof(in)), 1);   /* TX took it; RX: the slot is used now */
}

/* ---------------- vIOMMU: waiting for the front-end's IOTLB ---------------- */

#define S1_DID 4

/* First stage for guest q: iova = gpa for pages [first, last] (the second stage maps gpa). */
static void s1_map_pages(struct tenv *e, unsigned q, unsigned first, unsigned last)
{
	for (unsigned p = first; p <= last; p++)
		CHECK_EQ(riov_vtd_map(e->vtd, S1_DID, g_page(&e->g[q], p), g_page(&e->g[q], p), 4096,
				      RIOV_VTD_READ | RIOV_VTD_WRITE), 0);
	riov_vtd_inv_iotlb_domain(e->vtd, S1_DID);   /* what vmm does on an IOTLB update */
}

static void nested_on(struct tenv *e)
{
	CHECK_EQ(riov_vtd_domain_create(e->vtd, S1_DID, 4), 0);
	CHECK_EQ(riov_vtd_context_set_nested(e->vtd, T_SID, S1_DID, T_DID, false), 0);
	riov_vtd_inv_context_global(e->vtd);
	riov_vtd_inv_iotlb_global(e->vtd);
}

RIOV_TEST(viommu_tx_waits_for_iotlb)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[0];
	_Atomic uint64_t slot = 0;
	uint8_t f[100];
	struct riov_vtd_fault_stats fs;
	env_init(&e);
	nested_on(&e);
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK_EQ(vq_open(&e, &vq, 0, 1, 256, F_V1), 0);
	vq.miss_slot = &slot;
	vq.miss_efd = efd;
	fill_frame(f, sizeof(f), 7);
	uint64_t buf = g->next_buf;
	uint16_t h = tx_post(g, 12, f, sizeof(f), NULL, 0);

	struct rte_mbuf *p[RIOV_VIRTQ_BURST];
	CHECK_EQ(tx_take(&vq, mp, p, RIOV_VIRTQ_BURST), 0);
	CHECK_EQ(vq.last_avail_idx, 0);            /* the chain stays in the avail ring */
	CHECK_EQ(g_used_idx(g), 0);
	CHECK_EQ(vq.stats.iotlb_waits, 1);
	CHECK_EQ(atomic_load(&slot), (buf & ~0xfffull) | RIOV_VTD_READ << 1 | 1);
	CHECK_EQ(efd_count(efd), 1);
	riov_vtd_fault_stats(e.vtd, &fs);
	CHECK_EQ(fs.recorded, 0);                  /* a miss is not a fault */
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_DMA_FAULT], 0);
	/* no update yet: the queue keeps waiting, without asking again */
	CHECK_EQ(tx_take(&vq, mp, p, RIOV_VIRTQ_BURST), 0);
	CHECK_EQ(vq.stats.iotlb_waits, 1);
	CHECK_EQ(efd_count(efd), 0);
	/* another device's IOTLB traffic (its own domain, issue 18) does not wake it: no retry */
	uint64_t misses = vq.tc.misses;
	CHECK_EQ(riov_vtd_domain_create(e.vtd, 9, 4), 0);
	CHECK_EQ(riov_vtd_context_set(e.vtd, 0x0200, 9, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	riov_vtd_inv_context_device(e.vtd, 0x0200);
	riov_vtd_inv_iotlb_domain(e.vtd, 9);
	CHECK_EQ(riov_vtd_inv_iotlb_page(e.vtd, 9, 0, 0), 0);
	CHECK_EQ(tx_take(&vq, mp, p, RIOV_VIRTQ_BURST), 0);
	CHECK_EQ(vq.tc.misses, misses);
	CHECK_EQ(vq.stats.iotlb_waits, 1);
	CHECK_EQ(efd_count(efd), 0);

	s1_map_pages(&e, 0, BUF_FIRST_PAGE, BUF_FIRST_PAGE + 1);
	uint16_t n = tx_take(&vq, mp, p, RIOV_VIRTQ_BURST);
	CHECK_EQ(n, 1);
	if (n == 1)
		CHECK(mbuf_equals(p[0], f, sizeof(f)));
	free_pkts(p, n);
	CHECK_EQ(g_used_idx(g), 1);
	CHECK_EQ(g_used(g, 0).id, h);

	/* a translation that never comes: after the deadline the buffer is a DMA fault, the chain
	 * goes back to the guest with length 0 and the fault log has it */
	uint64_t far = g_page(g, PAGES - 8);
	g->next_buf = far;
	h = tx_post(g, 12, f, sizeof(f), NULL, 0);
	CHECK_EQ(tx_take(&vq, mp, p, RIOV_VIRTQ_BURST), 0);
	CHECK(vq.wait.active);
	vq.wait.since -= (RIOV_VIRTQ_MISS_DEADLINE_US + 1000) * (rte_get_tsc_hz() / 1000000);
	CHECK_EQ(tx_take(&vq, mp, p, RIOV_VIRTQ_BURST), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_DMA_FAULT], 1);
	CHECK_EQ(g_used_idx(g), 2);
	CHECK_EQ(g_used(g, 1).id, h);
	CHECK_EQ(g_used(g, 1).len, 0);
	riov_vtd_fault_stats(e.vtd, &fs);
	CHECK_EQ(fs.recorded, 1);
	struct riov_vtd_fault rec;
	CHECK_EQ(riov_vtd_faults_read(e.vtd, &rec, 1, true), 1);
	CHECK_EQ(rec.sid, T_SID);
	CHECK_EQ(rec.reason, RIOV_VTD_FR_READ);
	CHECK_EQ(rec.addr, far);
	CHECK(!vq.wait.active);
	/* a late answer: the deadline passed but the update came before the retry; the retry goes
	 * through and the deadline does not carry over to a later miss */
	g->next_buf = g_page(g, PAGES - 7);
	tx_post(g, 12, f, sizeof(f), NULL, 0);
	CHECK_EQ(tx_take(&vq, mp, p, RIOV_VIRTQ_BURST), 0);
	vq.wait.since -= (RIOV_VIRTQ_MISS_DEADLINE_US + 1000) * (rte_get_tsc_hz() / 1000000);
	CHECK_EQ(riov_vtd_map(e.vtd, S1_DID, g_page(g, PAGES - 7), g_page(g, PAGES - 7), 4096,
			      RIOV_VTD_READ), 0);   /* no invalidation: nothing negative was cached */
	n = tx_take(&vq, mp, p, RIOV_VIRTQ_BURST);
	CHECK_EQ(n, 1);
	free_pkts(p, n);
	CHECK(!vq.wait.active && !vq.wait.give_up && vq.wait.since == 0);
	riov_virtq_release(&vq);
	close(efd);
	env_fini(&e);
}

RIOV_TEST(viommu_rx_holds_packets)
{
	struct tenv e;
	struct riov_virtq vq;
	struct tguest *g = &e.g[1];
	_Atomic uint64_t slot = 0;
	env_init(&e);
	nested_on(&e);
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK_EQ(vq_open(&e, &vq, 1, 0, 256, F_V1 | F_MRG), 0);
	vq.miss_slot = &slot;
	vq.miss_efd = efd;
	uint64_t buf = g->next_buf;
	uint16_t heads[4];
	for (unsigned k = 0; k < 4; k++)
		heads[k] = rx_post(g, 2048, 1);

	struct rte_mbuf *p[3];
	for (unsigned k = 0; k < 3; k++)
		p[k] = mk_pkt(200 + 100 * k, 30 + k);
	/* chain the last packet: every segment must be held, not only the first */
	uint8_t extra[300];
	fill_frame(extra, sizeof(extra), 99);
	struct rte_mbuf *seg = rte_pktmbuf_alloc(mp);
	CHECK(seg != NULL);
	memcpy(rte_pktmbuf_append(seg, sizeof(extra)), extra, sizeof(extra));
	CHECK_EQ(rte_pktmbuf_chain(p[2], seg), 0);

	CHECK_EQ(riov_virtq_enqueue(&vq, p, 3), 0);
	CHECK_EQ(vq.n_held, 3);
	CHECK_EQ(vq.stats.iotlb_waits, 1);
	CHECK_EQ(atomic_load(&slot), (buf & ~0xfffull) | RIOV_VTD_WRITE << 1 | 1);
	CHECK_EQ(efd_count(efd), 1);
	CHECK_EQ(g_used_idx(g), 0);
	uint32_t lens[3];
	for (unsigned k = 0; k < 3; k++)
		lens[k] = p[k]->pkt_len;
	free_pkts(p, 3);                           /* the caller frees all n, as the worker does */
	CHECK_EQ(riov_virtq_flush_held(&vq), 0);   /* still waiting */

	/* a packet arriving meanwhile queues behind the held ones */
	struct rte_mbuf *q1 = mk_pkt(64, 50);
	CHECK_EQ(riov_virtq_enqueue(&vq, &q1, 1), 0);
	rte_pktmbuf_free(q1);
	CHECK_EQ(vq.n_held, 4);

	s1_map_pages(&e, 1, BUF_FIRST_PAGE, BUF_FIRST_PAGE + 4);
	CHECK_EQ(riov_virtq_flush_held(&vq), 4);
	CHECK_EQ(vq.n_held, 0);
	CHECK_EQ(g_used_idx(g), 4);
	for (unsigned k = 0; k < 3; k++) {
		CHECK_EQ(g_used(g, (uint16_t)k).id, heads[k]);
		CHECK_EQ(g_used(g, (uint16_t)k).len, 12 + lens[k]);
	}
	CHECK_EQ(g_used(g, 3).len, 12 + 64);
	CHECK_EQ(vq.stats.packets, 4);

	/* held packets of a vring that stops are freed (env_fini checks the mempool) */
	g->next_buf = g_page(g, PAGES - 8);
	rx_post(g, 2048, 1);
	struct rte_mbuf *q2[2] = { mk_pkt(64, 60), mk_pkt(64, 61) };
	CHECK_EQ(riov_virtq_enqueue(&vq, q2, 2), 0);
	CHECK_EQ(vq.n_held, 2);
	free_pkts(q2, 2);
	riov_virtq_release(&vq);
	CHECK_EQ(vq.n_held, 0);
	close(efd);
	env_fini(&e);
}

/* ---------------- guest to guest without an mbuf ---------------- */

/* Gather the used buffers [first, first + k) of guest g into out (after each buffer's header). */
static uint32_t rx_collect(struct tguest *g, uint16_t first, unsigned k, uint32_t hdr, uint8_t *out,
			   uint32_t max)
{
	uint32_t n = 0;
	for (unsigned j = 0; j < k; j++) {
		struct riov_vring_used_elem u = g_used(g, (uint16_t)(first + j));
		uint8_t tmp[4096];
		uint32_t got = g_gather(g, (uint16_t)u.id, tmp, RTE_MIN(u.len, (uint32_t)sizeof(tmp)));
		uint32_t skip = j == 0 ? hdr : 0;
		if (got > skip && n + (got - skip) <= max) {
			memcpy(out + n, tmp + skip, got - skip);
			n += got - skip;
		}
	}
	return n;
}

RIOV_TEST(direct_peek_enqueue_done)
{
	struct tenv e;
	struct riov_virtq tx, rx;
	struct tguest *a = &e.g[0], *b = &e.g[1];
	static uint8_t f1[64], f2[1500], f3[3000], out[4096];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &tx, 0, 1, 256, F_V1 | F_INO), 0);
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 256, F_V1 | F_MRG), 0);
	fill_frame(f1, sizeof(f1), 1);
	fill_frame(f2, sizeof(f2), 2);
	fill_frame(f3, sizeof(f3), 3);
	uint16_t h[4];
	h[0] = tx_post(a, 12, f1, sizeof(f1), NULL, 0);
	uint32_t s2[] = { 12 };
	h[1] = tx_post(a, 12, f2, sizeof(f2), s2, 1);
	uint32_t s3[30];
	for (unsigned k = 0; k < 30; k++)
		s3[k] = 100;        /* 31 scattered pieces: more segments than a descriptor holds */
	h[2] = tx_post(a, 12, f3, sizeof(f3), s3, 30);
	h[3] = tx_post(a, 12, f1, 0, NULL, 0);   /* a header and no frame: malformed */
	for (unsigned k = 0; k < 4; k++)
		rx_post(b, 2048, 1);

	struct riov_virtq_pkt pk[RIOV_VIRTQ_BURST];
	uint16_t n = riov_virtq_peek(&tx, mp, pk, RIOV_VIRTQ_BURST);
	CHECK_EQ(n, 4);
	CHECK(!pk[0].bad && pk[0].m == NULL && pk[0].len == 64 && pk[0].peek_len == 64 && pk[0].nseg == 0);
	CHECK(!pk[1].bad && pk[1].m == NULL && pk[1].len == 1500 && pk[1].peek_len == 64 && pk[1].nseg == 1);
	CHECK(!pk[2].bad && pk[2].m != NULL && pk[2].len == 3000);
	CHECK(pk[3].bad);
	CHECK_EQ(tx.stats.drops[RIOV_VQ_DROP_BAD_DESC], 1);
	CHECK_EQ(g_used_idx(a), 0);                 /* the chains are still the device's */

	/* the guest rewrites its frame after the switch looked at it: what is delivered is what the
	 * switch saw (the private copy of the first bytes) */
	uint8_t *frame2 = g_host(a, a->desc[a->desc[h[1]].next].addr);
	memset(frame2, 0xff, 6);

	struct riov_virtq_pkt *ptr[3] = { &pk[0], &pk[1], &pk[2] };
	CHECK_EQ(riov_virtq_enqueue_pkts(&rx, mp, ptr, 3), 3);
	/* written, not yet visible: the sender's chains go back first (at most once across a kill) */
	CHECK_EQ(g_used_idx(b), 0);
	CHECK(rx.unpublished);
	riov_virtq_publish_rx(&rx);
	CHECK(!rx.unpublished);
	CHECK_EQ(g_used_idx(b), 4);                 /* 64 B, 1500 B, 3000 B over two buffers */
	riov_virtq_publish_rx(&rx);                 /* nothing more to publish */
	CHECK_EQ(g_used_idx(b), 4);
	CHECK_EQ(rx_collect(b, 0, 1, 12, out, sizeof(out)), 64);
	CHECK(memcmp(out, f1, 64) == 0);
	CHECK_EQ(rx_collect(b, 1, 1, 12, out, sizeof(out)), 1500);
	CHECK(memcmp(out, f2, 1500) == 0);
	CHECK_EQ(rx_collect(b, 2, 2, 12, out, sizeof(out)), 3000);
	CHECK(memcmp(out, f3, 3000) == 0);
	CHECK_EQ(rx.stats.packets, 3);
	CHECK_EQ(rx.stats.bytes, 64 + 1500 + 3000);

	/* the same packet into an mbuf (for the wire, a flood, another worker) */
	struct rte_mbuf *m = riov_virtq_pkt_mbuf(mp, &pk[1]);
	CHECK(m != NULL && mbuf_equals(m, f2, sizeof(f2)));
	rte_pktmbuf_free(m);
	m = riov_virtq_pkt_mbuf(mp, &pk[2]);        /* the fallback mbuf itself, handed over */
	CHECK(m != NULL && pk[2].m == NULL && mbuf_equals(m, f3, sizeof(f3)));
	rte_pktmbuf_free(m);

	riov_virtq_peek_done(&tx, pk, n);
	CHECK_EQ(g_used_idx(a), 4);                 /* in order, bad one included */
	for (unsigned k = 0; k < 4; k++) {
		CHECK_EQ(g_used(a, (uint16_t)k).id, h[k]);
		CHECK_EQ(g_used(a, (uint16_t)k).len, 0);
	}
	CHECK_EQ(tx.stats.packets, 3);
	CHECK_EQ(tx.stats.bytes, 64 + 1500 + 3000);

	/* no RX buffers left: the packet is copied into an mbuf and held, the sender's chain goes back */
	h[0] = tx_post(a, 12, f1, sizeof(f1), NULL, 0);
	n = riov_virtq_peek(&tx, mp, pk, RIOV_VIRTQ_BURST);
	CHECK_EQ(n, 1);
	ptr[0] = &pk[0];
	CHECK_EQ(riov_virtq_enqueue_pkts(&rx, mp, ptr, 1), 0);
	CHECK_EQ(rx.n_held, 1);
	CHECK_EQ(rx.stats.drops[RIOV_VQ_DROP_NO_BUFFER], 0);
	riov_virtq_peek_done(&tx, pk, n);
	CHECK_EQ(g_used_idx(a), 5);
	riov_virtq_release(&rx);
	CHECK_EQ(rx.stats.drops[RIOV_VQ_DROP_NO_BUFFER], 1);
	env_fini(&e);
}

/* One-descriptor chains (the virtio driver's usual TX and RX shape) around the limits: frames
 * shorter than, equal to and longer than the peek; buffers that cross a page (the copy splits at
 * the page); an RX buffer exactly header + frame and one byte short (merged into two buffers); the
 * legacy 10-byte header on RX. */
RIOV_TEST(direct_one_descriptor_shapes)
{
	struct tenv e;
	struct riov_virtq tx, rx;
	struct tguest *a = &e.g[0], *b = &e.g[1];
	static const uint32_t len[] = { 20, 64, 65, 200, 1500, 300, 64 };
	static uint8_t f[7][1500], out[4096];
	env_init(&e);
	CHECK_EQ(vq_open(&e, &tx, 0, 1, 256, F_V1), 0);
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 256, 0), 0);        /* legacy: 10-byte header */
	CHECK_EQ(rx.hdr_len, 10);
	for (unsigned k = 0; k < 7; k++) {
		fill_frame(f[k], len[k], 10 + k);
		if (k == 5) /* header + frame across a page boundary */
			a->next_buf = g_page(a, BUF_FIRST_PAGE + 8) - 100;
		tx_post(a, 12, f[k], len[k], NULL, 0);
		if (k == 5) /* an RX buffer across a page boundary */
			b->next_buf = g_page(b, BUF_FIRST_PAGE + 8) - 50;
		rx_post(b, 2048, 1);
	}
	struct riov_virtq_pkt pk[RIOV_VIRTQ_BURST], *ptr[RIOV_VIRTQ_BURST];
	uint16_t n = riov_virtq_peek(&tx, mp, pk, RIOV_VIRTQ_BURST);
	CHECK_EQ(n, 7);
	for (unsigned k = 0; k < 7; k++) {
		ptr[k] = &pk[k];
		CHECK(!pk[k].bad && pk[k].m == NULL && pk[k].len == len[k]);
		CHECK_EQ(pk[k].peek_len, RTE_MIN(len[k], (uint32_t)RIOV_VIRTQ_PEEK));
		CHECK(memcmp(pk[k].peek, f[k], pk[k].peek_len) == 0);
		uint32_t off = pk[k].peek_len;
		for (unsigned j = 0; j < pk[k].nseg; j++) {
			CHECK(memcmp(pk[k].seg[j].p, f[k] + off, pk[k].seg[j].len) == 0);
			off += pk[k].seg[j].len;
		}
		CHECK_EQ(off, len[k]);
	}
	CHECK_EQ(pk[5].nseg, 1);  /* pages adjacent in host memory too: one segment */
	CHECK_EQ(riov_virtq_enqueue_pkts(&rx, mp, ptr, 7), 7);
	riov_virtq_peek_done(&tx, pk, n);
	CHECK_EQ(g_used_idx(b), 0);
	riov_virtq_publish_rx(&rx);
	CHECK_EQ(g_used_idx(a), 7);
	CHECK_EQ(g_used_idx(b), 7);
	for (unsigned k = 0; k < 7; k++) {
		struct riov_vring_used_elem u = g_used(b, (uint16_t)k);
		CHECK_EQ(u.len, 10 + len[k]);
		uint8_t *h = g_host(b, b->desc[u.id].addr);
		static const uint8_t zero[10];
		CHECK(memcmp(h, zero, 10) == 0);
		CHECK_EQ(rx_collect(b, (uint16_t)k, 1, 10, out, sizeof(out)), len[k]);
		CHECK(memcmp(out, f[k], len[k]) == 0);
	}
	CHECK_EQ(rx.stats.packets, 7);
	CHECK_EQ(tx.stats.packets, 7);

	/* mergeable RX, version 1 header: a buffer of exactly header + frame takes the packet alone
	 * (num_buffers 1); one a byte short makes it two buffers (num_buffers 2). All in one page,
	 * after a first packet there, so the translation cursor holds it. */
	struct riov_virtq rx2;
	b->aidx = 0;
	b->next_desc = 0;
	b->next_buf = g_page(b, BUF_FIRST_PAGE + 20);
	memset(b->used, 0, 4 + 8 * 256);
	CHECK_EQ(vq_open(&e, &rx2, 1, 0, 256, F_V1 | F_MRG), 0);
	rx_post(b, 1024, 1);
	rx_post(b, 12 + 64, 1);
	rx_post(b, 12 + 63, 1);
	rx_post(b, 1024, 1);
	for (unsigned k = 0; k < 3; k++)
		tx_post(a, 12, f[1], 64, NULL, 0);
	n = riov_virtq_peek(&tx, mp, pk, RIOV_VIRTQ_BURST);
	CHECK_EQ(n, 3);
	for (unsigned k = 0; k < 3; k++)
		ptr[k] = &pk[k];
	CHECK_EQ(riov_virtq_enqueue_pkts(&rx2, mp, ptr, 3), 3);
	riov_virtq_peek_done(&tx, pk, n);
	riov_virtq_publish_rx(&rx2);
	CHECK_EQ(g_used_idx(b), 4);
	struct riov_virtio_net_hdr hdr;
	for (unsigned k = 0; k < 2; k++) {
		CHECK_EQ(g_used(b, (uint16_t)k).len, 12 + 64);
		memcpy(&hdr, g_host(b, b->desc[g_used(b, (uint16_t)k).id].addr), sizeof(hdr));
		CHECK_EQ(hdr.num_buffers, 1);
		CHECK_EQ(rx_collect(b, (uint16_t)k, 1, 12, out, sizeof(out)), 64);
		CHECK(memcmp(out, f[1], 64) == 0);
	}
	CHECK_EQ(g_used(b, 2).len, 12 + 63);
	CHECK_EQ(g_used(b, 3).len, 1);
	memcpy(&hdr, g_host(b, b->desc[g_used(b, 2).id].addr), sizeof(hdr));
	CHECK_EQ(hdr.num_buffers, 2);
	CHECK_EQ(rx_collect(b, 2, 2, 12, out, sizeof(out)), 64);
	CHECK(memcmp(out, f[1], 64) == 0);
	env_fini(&e);
}

/* Post an RX buffer of one write descriptor [gpa, gpa + cap) to g. */
static void rx_post_at(struct tguest *g, uint64_t gpa, uint32_t cap)
{
	uint16_t d = g_new_desc(g);
	g_desc(g, d, gpa, cap, RIOV_VRING_DESC_F_WRITE, 0);
	g_push(g, d);
}

/* Send one frame from guest a's TX vring to the RX vring of the other guest, without an mbuf. */
static void move_frame(struct riov_virtq *tx, struct riov_virtq *rx, struct tguest *a,
		       const uint8_t *frame, uint32_t len)
{
	struct riov_virtq_pkt pk[RIOV_VIRTQ_BURST], *ptr = &pk[0];
	tx_post(a, 12, frame, len, NULL, 0);
	CHECK_EQ(riov_virtq_peek(tx, mp, pk, RIOV_VIRTQ_BURST), 1);
	CHECK_EQ(riov_virtq_enqueue_pkts(rx, mp, &ptr, 1), 1);
	riov_virtq_peek_done(tx, pk, 1);
	riov_virtq_publish_rx(rx);
}

/* An RX buffer whose bytes already hold the header riov writes (num_buffers 1, the rest zero) keeps
 * it unwritten, so that the line stays in the guest CPU's cache: the header's host page is made
 * read-only after the first delivery, so a store to it would crash the test. On the general path
 * (header the last 12 bytes of a 4 KiB page, frame in the next) and on the one-descriptor path
 * (both inside one 2 MiB page of the domain, whose first 4 KiB of host memory are protected). A
 * buffer holding other bytes gets the header written; a packet merged over two buffers gets its
 * num_buffers written even when the rest of the header was already right. */
RIOV_TEST(rx_header_left_when_same)
{
	struct tenv e;
	struct riov_virtq tx, rx;
	struct tguest *a = &e.g[0], *b = &e.g[1];
	static uint8_t f[3][200], out[4096];
	struct riov_virtio_net_hdr hdr;
	const unsigned hp = BUF_FIRST_PAGE + 30; /* the header's page */
	env_init(&e);
	CHECK_EQ(vq_open(&e, &tx, 0, 1, 256, F_V1), 0);
	CHECK_EQ(vq_open(&e, &rx, 1, 0, 256, F_V1 | F_MRG), 0);
	for (unsigned k = 0; k < 3; k++)
		fill_frame(f[k], sizeof(f[k]), 40 + k);
	uint8_t *big = NULL;
	const uint64_t big_gpa = b->gpa + (2u << 20);
	CHECK_EQ(posix_memalign((void **)&big, 2u << 20, 2u << 20), 0);
	memset(big, 0, 2u << 20);
	CHECK_EQ(riov_vtd_map(e.vtd, T_DID, big_gpa, (uint64_t)(uintptr_t)big, 2u << 20,
			      RIOV_VTD_READ | RIOV_VTD_WRITE), 0);

	const struct { uint64_t buf; uint8_t *host, *protect; } where[2] = {
		/* general path */
		{ g_page(b, hp + 1) - 12, b->mem + 4096u * (hp + 1) - 12, b->mem + 4096u * hp },
		/* one-descriptor path */
		{ big_gpa + 4096 - 12, big + 4096 - 12, big },
	};
	uint16_t used = 0;
	for (unsigned w = 0; w < 2; w++) {
		for (unsigned round = 0; round < 3; round++) {
			if (round == 1)
				CHECK_EQ(mprotect(where[w].protect, 4096, PROT_READ), 0);
			rx_post_at(b, where[w].buf, 12 + 200);
			move_frame(&tx, &rx, a, f[round], 200);
			CHECK_EQ(g_used(b, used).len, 12 + 200);
			memcpy(&hdr, where[w].host, sizeof(hdr));
			CHECK_EQ(hdr.num_buffers, 1);
			CHECK_EQ(hdr.flags | hdr.gso_type | hdr.hdr_len | hdr.gso_size | hdr.csum_start |
				 hdr.csum_offset, 0);
			CHECK(memcmp(where[w].host + 12, f[round], 200) == 0);
			used++;
		}
		CHECK_EQ(mprotect(where[w].protect, 4096, PROT_READ | PROT_WRITE), 0);
	}

	/* other bytes there: written */
	const uint64_t buf = where[0].buf;
	memset(g_host(b, buf), 0x5a, 12);
	rx_post_at(b, buf, 12 + 200);
	move_frame(&tx, &rx, a, f[0], 200);
	memcpy(&hdr, g_host(b, buf), sizeof(hdr));
	CHECK_EQ(hdr.num_buffers, 1);
	CHECK_EQ(hdr.flags | hdr.gso_type | hdr.hdr_len | hdr.gso_size | hdr.csum_start |
		 hdr.csum_offset, 0);

	/* merged over two buffers: the header there is already right but for num_buffers */
	rx_post_at(b, buf, 12 + 100);
	rx_post(b, 1024, 1);
	move_frame(&tx, &rx, a, f[1], 200);
	CHECK_EQ(g_used_idx(b), 9);
	memcpy(&hdr, g_host(b, buf), sizeof(hdr));
	CHECK_EQ(hdr.num_buffers, 2);
	CHECK_EQ(rx_collect(b, 7, 2, 12, out, sizeof(out)), 200);
	CHECK(memcmp(out, f[1], 200) == 0);
	env_fini(&e);
	free(big);
}

int main(void)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=test_virtq_%d", (int)getpid());
	/* --in-memory is not accepted with --no-huge by DPDK 22.11 (legacy memory); --no-shconf
	 * keeps the run free of shared config files */
	char *argv[] = { "test_virtq", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
			 "--log-level=1", prefix, NULL };
	riov_eal_rundir_remove_at_exit();
	if (rte_eal_init(8, argv) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	mp = rte_pktmbuf_pool_create("tvq", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (mp == NULL) {
		fprintf(stderr, "mempool create failed\n");
		return 1;
	}
	static const struct riov_test_case cases[] = {
		RIOV_TEST_ENTRY(init_checks),
		RIOV_TEST_ENTRY(tx_basic),
		RIOV_TEST_ENTRY(tx_legacy_header_and_burst_limit),
		RIOV_TEST_ENTRY(tx_large_chained_mbufs),
		RIOV_TEST_ENTRY(tx_too_big),
		RIOV_TEST_ENTRY(tx_indirect),
		RIOV_TEST_ENTRY(tx_in_order),
		RIOV_TEST_ENTRY(rx_basic),
		RIOV_TEST_ENTRY(rx_legacy_header),
		RIOV_TEST_ENTRY(rx_mergeable),
		RIOV_TEST_ENTRY(rx_no_buffer_and_too_big),
		RIOV_TEST_ENTRY(rx_ring_full_holds_in_order),
		RIOV_TEST_ENTRY(rx_held_deadline_and_budget),
		RIOV_TEST_ENTRY(rx_indirect_and_in_order),
		RIOV_TEST_ENTRY(rx_dirty_log),
		RIOV_TEST_ENTRY(notify_no_interrupt_flag),
		RIOV_TEST_ENTRY(notify_event_idx),
		RIOV_TEST_ENTRY(two_queues),
		RIOV_TEST_ENTRY(index_wraparound),
		RIOV_TEST_ENTRY(notify_irte_fault),
		RIOV_TEST_ENTRY(hostile_guest_thread),
		RIOV_TEST_ENTRY(bad_next_loop),
		RIOV_TEST_ENTRY(bad_indirect_loop),
		RIOV_TEST_ENTRY(bad_head_or_next_out_of_range),
		RIOV_TEST_ENTRY(bad_indirect_tables),
		RIOV_TEST_ENTRY(bad_zero_length),
		RIOV_TEST_ENTRY(bad_unmapped_buffers),
		RIOV_TEST_ENTRY(bad_direction),
		RIOV_TEST_ENTRY(bad_shorter_than_header),
		RIOV_TEST_ENTRY(bad_avail_index_broken),
		RIOV_TEST_ENTRY(no_mbuf),
		RIOV_TEST_ENTRY(fuzz_entry_smoke),
		RIOV_TEST_ENTRY(viommu_tx_waits_for_iotlb),
		RIOV_TEST_ENTRY(viommu_rx_holds_packets),
		RIOV_TEST_ENTRY(direct_peek_enqueue_done),
		RIOV_TEST_ENTRY(direct_one_descriptor_shapes),
		RIOV_TEST_ENTRY(rx_header_left_when_same),
	};
	int rc = riov_test_run(cases, sizeof(cases) / sizeof(cases[0]));
	rte_mempool_free(mp);
	rte_eal_cleanup();
	return rc;
}
