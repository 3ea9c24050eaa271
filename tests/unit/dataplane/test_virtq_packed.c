/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the packed virtqueues of dataplane/virtq_packed.c (virtio 1.2 2.8). The test
 * plays the driver (pdrv_*): it makes chains available with the flags of its wrap counter, head
 * last, and reads used descriptors back in ring order, skipping each buffer's chain length.
 * Rings and buffers live in ordinary memory mapped into a real riov_vtd domain; interrupts go
 * through a real IRTE to an eventfd. Includes the virtqueue .c files (static helpers, and to build
 * without the rest of dataplane/).
 */
#include "dataplane/virtq.c"
#include "dataplane/virtq_rx.c"
#include "dataplane/virtq_tx.c"
#include "dataplane/virtq_packed.c"
#include "dataplane/offload.c"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>

#include "riov_test.h"
#include "vmm/vhost_internal.h"   /* vu_ring_rec_check: the record as the next riovd reads it */
#include "tests/eal_rundir.h"

#define T_SID 0x0200
#define T_DID 5
#define PAGES 64u
#define RO_PAGE (PAGES - 2)
#define HOLE_PAGE (PAGES - 1)
#define BUF_FIRST_PAGE 4u
#define F(bit) (1ull << (bit))
#define F_PK F(RIOV_VIRTIO_F_RING_PACKED)
#define F_V1 F(RIOV_VIRTIO_F_VERSION_1)
#define F_MRG F(RIOV_VIRTIO_NET_F_MRG_RXBUF)
#define F_IND F(RIOV_VIRTIO_F_RING_INDIRECT)
#define F_EVT F(RIOV_VIRTIO_F_RING_EVENT_IDX)
#define F_INO F(RIOV_VIRTIO_F_IN_ORDER)
#define A_BIT RIOV_VRING_PACKED_DESC_F_AVAIL
#define U_BIT RIOV_VRING_PACKED_DESC_F_USED

static struct rte_mempool *mp;

/* The driver's side of one packed ring. */
struct pdrv {
	uint8_t *mem;
	uint64_t gpa;
	uint16_t size;
	struct riov_vring_packed_desc *desc;   /* page 0-1 */
	struct riov_vring_packed_event *drv;   /* page 2: the driver's event suppression */
	struct riov_vring_packed_event *dev;   /* page 3: the device's */
	uint16_t aidx;        /* next slot to make available */
	bool awrap;
	uint16_t uidx;        /* next slot to read a used descriptor at */
	bool uwrap;
	uint16_t next_id;
	uint16_t chain_len[1024]; /* ring slots of each buffer id */
	uint64_t next_buf;
	int efd;
	uint64_t msi_addr;
	uint32_t msi_data;
};

struct penv {
	struct riov_vtd *vtd;
	struct pdrv d;
	unsigned mp_avail;
};

struct pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;       /* NEXT is added between the descriptors of a chain */
};

static void *p_host(struct pdrv *d, uint64_t gpa)
{
	return d->mem + (gpa - d->gpa);
}

static uint64_t p_page(struct pdrv *d, unsigned page)
{
	return d->gpa + 4096ull * page;
}

static uint64_t p_buf(struct pdrv *d, uint32_t len)
{
	uint64_t a = d->next_buf;
	d->next_buf = (a + len + 63) & ~63ull;
	if (d->next_buf > p_page(d, RO_PAGE)) {
		fprintf(stderr, "test driver out of buffer memory\n");
		abort();
	}
	return a;
}

static void fill_frame(uint8_t *f, uint32_t len, unsigned seed)
{
	for (uint32_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

static void penv_init(struct penv *e)
{
	memset(e, 0, sizeof(*e));
	e->mp_avail = rte_mempool_avail_count(mp);
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 16 };
	e->vtd = riov_vtd_create(&cfg);
	CHECK(e->vtd != NULL);
	CHECK_EQ(riov_vtd_domain_create(e->vtd, T_DID, 4), 0);
	struct pdrv *d = &e->d;
	CHECK_EQ(posix_memalign((void **)&d->mem, 4096, PAGES * 4096u), 0);
	memset(d->mem, 0, PAGES * 4096u);
	d->gpa = 0x20000000ull;
	d->desc = (void *)d->mem;
	d->drv = (void *)(d->mem + 2 * 4096);
	d->dev = (void *)(d->mem + 3 * 4096);
	d->next_buf = p_page(d, BUF_FIRST_PAGE);
	for (unsigned p = 0; p < PAGES; p++) {
		if (p == HOLE_PAGE)
			continue;
		unsigned perm = p == RO_PAGE ? RIOV_VTD_READ : RIOV_VTD_READ | RIOV_VTD_WRITE;
		CHECK_EQ(riov_vtd_map(e->vtd, T_DID, p_page(d, p), (uint64_t)(uintptr_t)(d->mem + 4096u * p),
				      4096, perm),
			 0);
	}
	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(d->efd >= 0);
	struct riov_vtd_irte irte = { .present = true, .vector = 0x33, .svt = 1, .sq = 0, .sid = T_SID,
				      .eventfd = d->efd };
	CHECK_EQ(riov_vtd_irte_set(e->vtd, 4, &irte), 0);
	riov_vtd_msi_compose(4, false, 0, &d->msi_addr, &d->msi_data);
	CHECK_EQ(riov_vtd_context_set(e->vtd, T_SID, T_DID, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	riov_vtd_inv_context_global(e->vtd);
	riov_vtd_inv_iotlb_global(e->vtd);
}

static void penv_fini(struct penv *e)
{
	riov_vtd_destroy(e->vtd);
	free(e->d.mem);
	close(e->d.efd);
	CHECK_EQ(rte_mempool_avail_count(mp), e->mp_avail);
}

/* A packed vring at the driver's start (index 0, wrap counters 1). */
static int p_open(struct penv *e, struct riov_virtq *vq, uint16_t qid, uint16_t size, uint64_t features)
{
	struct pdrv *d = &e->d;
	d->size = size;
	d->aidx = d->uidx = 0;
	d->awrap = d->uwrap = true;
	d->next_id = 0;
	memset(d->desc, 0, 16u * size);
	struct riov_vhost_vring_info vi = {
		.qid = qid, .size = size, .desc = d->desc, .avail = d->drv, .used = d->dev,
		.last_avail_idx = 0x8000, .last_used_idx = 0x8000,
		.features = features | F_PK, .vtd = e->vtd, .sid = T_SID, .callfd = d->efd,
		.msi_addr = d->msi_addr, .msi_data = d->msi_data,
	};
	return riov_virtq_init(vq, &vi);
}

/* Make the chain descs[0..n) available with buffer id `id` in every descriptor; the head's flags
 * are written last (release). Returns the id. */
static uint16_t p_post_id(struct pdrv *d, const struct pdesc *descs, unsigned n, uint16_t id)
{
	uint16_t slot = d->aidx, head = d->aidx;
	bool wrap = d->awrap;
	uint16_t head_flags = 0;
	for (unsigned k = 0; k < n; k++) {
		uint16_t fl = descs[k].flags | (k + 1 < n ? RIOV_VRING_DESC_F_NEXT : 0);
		fl |= wrap ? A_BIT : U_BIT;
		d->desc[slot].addr = descs[k].addr;
		d->desc[slot].len = descs[k].len;
		d->desc[slot].id = id;
		if (k == 0)
			head_flags = fl;
		else
			d->desc[slot].flags = fl;
		if (++slot == d->size) {
			slot = 0;
			wrap = !wrap;
		}
	}
	__atomic_store_n(&d->desc[head].flags, head_flags, __ATOMIC_RELEASE);
	d->aidx = slot;
	d->awrap = wrap;
	if (id < 1024)
		d->chain_len[id] = (uint16_t)n;
	return id;
}

static uint16_t p_post(struct pdrv *d, const struct pdesc *descs, unsigned n)
{
	uint16_t id = d->next_id;
	d->next_id = (uint16_t)((d->next_id + 1) % d->size);
	return p_post_id(d, descs, n, id);
}

/* The next used descriptor, if any: its id and length; the read position skips the buffer's chain
 * (or `skip` slots when non-zero: an in-order batch). */
static bool p_used(struct pdrv *d, uint16_t *id, uint32_t *len, uint16_t skip)
{
	uint16_t fl = __atomic_load_n(&d->desc[d->uidx].flags, __ATOMIC_ACQUIRE);
	bool a = fl & A_BIT, u = fl & U_BIT;
	if (a != d->uwrap || u != d->uwrap)
		return false;
	*id = d->desc[d->uidx].id;
	*len = d->desc[d->uidx].len;
	uint32_t k = skip ? skip : (*id < 1024 ? d->chain_len[*id] : 1);
	uint32_t i = d->uidx + k;
	if (i >= d->size) {
		i -= d->size;
		d->uwrap = !d->uwrap;
	}
	d->uidx = (uint16_t)i;
	return true;
}

/* A TX packet: a zero virtio-net header of hdr bytes and the frame, cut into descriptors of the
 * lengths in split[] (the last takes the rest). Fills descs[], returns their count. */
static unsigned p_tx_descs(struct pdrv *d, uint16_t hdr, const uint8_t *frame, uint32_t len,
			   const uint32_t *split, unsigned nsplit, struct pdesc *descs)
{
	uint32_t total = hdr + len, off = 0;
	uint8_t *tmp = calloc(1, total);
	memcpy(tmp + hdr, frame, len);
	for (unsigned k = 0; k <= nsplit; k++) {
		uint32_t l = k < nsplit ? split[k] : total - off;
		uint64_t b = p_buf(d, l);
		memcpy(p_host(d, b), tmp + off, l);
		descs[k] = (struct pdesc){ .addr = b, .len = l, .flags = 0 };
		off += l;
	}
	free(tmp);
	return nsplit + 1;
}

static uint16_t p_tx_post(struct pdrv *d, const uint8_t *frame, uint32_t len, const uint32_t *split,
			  unsigned nsplit)
{
	struct pdesc descs[16];
	unsigned n = p_tx_descs(d, 12, frame, len, split, nsplit, descs);
	return p_post(d, descs, n);
}

/* An RX buffer chain of ndesc writable descriptors of `each` bytes. Returns its id. */
static uint16_t p_rx_post(struct pdrv *d, uint32_t each, unsigned ndesc)
{
	struct pdesc descs[16];
	for (unsigned k = 0; k < ndesc; k++) {
		uint64_t b = p_buf(d, each);
		memset(p_host(d, b), 0xee, each);
		descs[k] = (struct pdesc){ .addr = b, .len = each, .flags = RIOV_VRING_DESC_F_WRITE };
	}
	return p_post(d, descs, ndesc);
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

static uint64_t efd_count(int fd)
{
	uint64_t v = 0;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* Guest TX as the worker takes it: peek, copy the good packets into mbufs, peek_done. */
static uint16_t tx_take(struct riov_virtq *vq, struct rte_mbuf **pkts, uint16_t n)
{
	struct riov_virtq_pkt pk[RIOV_VIRTQ_BURST];
	uint16_t got = riov_virtq_peek(vq, mp, pk, n), out = 0;
	for (uint16_t i = 0; i < got; i++) {
		if (pk[i].bad)
			continue;
		struct rte_mbuf *m = riov_virtq_pkt_mbuf(mp, &pk[i]);
		if (m != NULL)
			pkts[out++] = m;
	}
	riov_virtq_peek_done(vq, pk, got);
	return out;
}

static void free_pkts(struct rte_mbuf **p, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		rte_pktmbuf_free(p[i]);
}

/* ---------------- init ---------------- */

RIOV_TEST(packed_init)
{
	struct penv e;
	struct riov_virtq vq;
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 1, 100, F_V1), 0);   /* not a power of two: fine when packed */
	CHECK(vq.packed && vq.is_tx);
	CHECK_EQ(vq.pk.avail, 0);
	CHECK(vq.pk.avail_wrap && vq.pk.used_wrap);
	CHECK_EQ(e.d.dev->flags, RIOV_VRING_PACKED_EVENT_FLAG_DISABLE);
	CHECK_EQ(p_open(&e, &vq, 1, 0, F_V1), -EINVAL);
	struct riov_vhost_vring_info vi = { .qid = 1, .size = 64, .desc = e.d.desc, .avail = e.d.drv,
					    .used = e.d.dev, .features = F_PK | F_V1, .vtd = e.vtd,
					    .last_avail_idx = 0x8000 | 64, .last_used_idx = 0x8000 };
	CHECK_EQ(riov_virtq_init(&vq, &vi), -EINVAL); /* base index beyond the ring */
	vi.last_avail_idx = 0x8000 | 5;
	vi.last_used_idx = 0x8000 | 2;
	CHECK_EQ(riov_virtq_init(&vq, &vi), 0);
	CHECK_EQ(vq.pk.avail, 5);
	CHECK_EQ(vq.pk.used, 2);
	CHECK_EQ(vq.last_avail_idx, 0x8005);
	vi.last_avail_idx = 5;        /* avail a lap behind used: more outstanding than the ring */
	CHECK_EQ(riov_virtq_init(&vq, &vi), -EINVAL);
	vi.last_avail_idx = 0x8000;
	vi.last_used_idx = 0x8000;
	vi.used = (uint8_t *)e.d.dev + 2;
	CHECK_EQ(riov_virtq_init(&vq, &vi), -EINVAL); /* misaligned event area */
	penv_fini(&e);
}

/* ---------------- guest TX ---------------- */

RIOV_TEST(packed_tx_one_and_chain)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	uint8_t f1[64], f2[1500], f3[60];
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 1, 64, F_V1), 0);
	fill_frame(f1, sizeof(f1), 1);
	fill_frame(f2, sizeof(f2), 2);
	fill_frame(f3, sizeof(f3), 3);
	uint16_t i1 = p_tx_post(d, f1, sizeof(f1), NULL, 0);
	uint32_t s2[] = { 12 };
	uint16_t i2 = p_tx_post(d, f2, sizeof(f2), s2, 1);
	uint32_t s3[] = { 5, 4, 20, 1 };
	uint16_t i3 = p_tx_post(d, f3, sizeof(f3), s3, 4);
	struct rte_mbuf *p[8];
	uint16_t n = tx_take(&vq, p, 8);
	CHECK_EQ(n, 3);
	if (n == 3) {
		CHECK(mbuf_equals(p[0], f1, sizeof(f1)));
		CHECK(mbuf_equals(p[1], f2, sizeof(f2)));
		CHECK(mbuf_equals(p[2], f3, sizeof(f3)));
	}
	free_pkts(p, n);
	uint16_t id;
	uint32_t len;
	CHECK(p_used(d, &id, &len, 0) && id == i1 && len == 0);
	CHECK_EQ(d->uidx, 1);
	CHECK(p_used(d, &id, &len, 0) && id == i2 && len == 0);
	CHECK_EQ(d->uidx, 3);
	CHECK(p_used(d, &id, &len, 0) && id == i3 && len == 0);
	CHECK_EQ(d->uidx, 8);
	CHECK(!p_used(d, &id, &len, 0));
	CHECK_EQ(vq.stats.packets, 3);
	CHECK_EQ(vq.stats.bytes, 64 + 1500 + 60);
	CHECK_EQ(vq.last_avail_idx, 0x8000 | 8);
	CHECK_EQ(vq.last_used_idx, 0x8000 | 8);
	CHECK_EQ(tx_take(&vq, p, 8), 0);
	penv_fini(&e);
}

RIOV_TEST(packed_tx_indirect)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	uint8_t f[300];
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 1, 16, F_V1 | F_IND), 0);
	fill_frame(f, sizeof(f), 7);
	struct pdesc parts[3];
	uint32_t s[] = { 12, 100 };
	p_tx_descs(d, 12, f, sizeof(f), s, 2, parts);
	uint64_t tbl = p_buf(d, 3 * 16);
	struct riov_vring_packed_desc *t = p_host(d, tbl);
	for (unsigned k = 0; k < 3; k++)
		t[k] = (struct riov_vring_packed_desc){ .addr = parts[k].addr, .len = parts[k].len };
	struct pdesc ind = { .addr = tbl, .len = 3 * 16, .flags = RIOV_VRING_DESC_F_INDIRECT };
	uint16_t i1 = p_post(d, &ind, 1);
	struct rte_mbuf *p[4];
	uint16_t n = tx_take(&vq, p, 4);
	CHECK_EQ(n, 1);
	if (n == 1)
		CHECK(mbuf_equals(p[0], f, sizeof(f)));
	free_pkts(p, n);
	uint16_t id;
	uint32_t len;
	CHECK(p_used(d, &id, &len, 0) && id == i1);
	CHECK_EQ(d->uidx, 1);
	/* without the feature: a malformed chain, returned */
	CHECK_EQ(p_open(&e, &vq, 1, 16, F_V1), 0);
	p_post(d, &ind, 1);
	CHECK_EQ(tx_take(&vq, p, 4), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_BAD_DESC], 1);
	CHECK(p_used(d, &id, &len, 0));
	penv_fini(&e);
}

/* Several laps round a small ring with chains of 1 to 3 descriptors that cross its end. */
RIOV_TEST(packed_tx_wrap_laps)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	uint8_t f[200];
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 1, 7, F_V1), 0);
	unsigned got = 0, used = 0;
	for (unsigned round = 0; round < 40; round++) {
		/* post what fits: at most 2 chains of up to 3 slots (7-slot ring) */
		uint16_t ids[2];
		unsigned k = 1 + round % 2;
		for (unsigned j = 0; j < k; j++) {
			fill_frame(f, sizeof(f), round * 2 + j);
			uint32_t s[] = { 12, 50 };
			ids[j] = p_tx_post(d, f, sizeof(f), s, (round + j) % 3);
		}
		struct rte_mbuf *p[4];
		uint16_t n = tx_take(&vq, p, 4);
		CHECK_EQ(n, k);
		for (unsigned j = 0; j < n; j++) {
			fill_frame(f, sizeof(f), round * 2 + j);
			CHECK(mbuf_equals(p[j], f, sizeof(f)));
		}
		got += n;
		free_pkts(p, n);
		uint16_t id;
		uint32_t len;
		for (unsigned j = 0; j < k; j++) {
			bool ok = p_used(d, &id, &len, 0);
			CHECK(ok && id == ids[j]);
			used += ok;
		}
		CHECK(!p_used(d, &id, &len, 0));
		CHECK_EQ(d->uidx, vq.pk.pub);
		CHECK_EQ(d->uwrap, vq.pk.pub_wrap);
	}
	CHECK_EQ(got, 60);
	CHECK_EQ(used, 60);
	CHECK(vq.stats.broken == 0);
	penv_fini(&e);
}

/* Each publish records the position reached and its last used descriptor (struct riov_vring_rec,
 * read by the next riovd: vmm/vhost_ringrec.c), and at every point of several laps, with chains
 * of 1 to 3 slots across the ring's end, the ring confirms the record; on the RX side too, with
 * mergeable buffers (several used descriptors in one publish). */
RIOV_TEST(packed_publish_records_position)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	struct riov_vring_rec rec = { 0 };
	uint8_t f[200];
	uint16_t at, id;
	uint32_t len;

	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 1, 7, F_V1), 0);
	vq.pk.rec = &rec;
	for (unsigned round = 0; round < 30; round++) {
		unsigned k = 1 + round % 2;
		for (unsigned j = 0; j < k; j++) {
			fill_frame(f, sizeof(f), round * 2 + j);
			uint32_t sp[] = { 12, 50 };
			p_tx_post(d, f, sizeof(f), sp, (round + j) % 3);
		}
		struct rte_mbuf *p[4];
		uint16_t n = tx_take(&vq, p, 4);
		CHECK_EQ(n, k);
		free_pkts(p, n);
		const uint64_t pos = atomic_load(&rec.pos);
		CHECK_EQ((uint16_t)pos, vq.last_used_idx);
		CHECK(vu_ring_rec_check(d->desc, 7, pos, atomic_load(&rec.chk), &at));
		CHECK_EQ(at, vq.last_used_idx);
		while (p_used(d, &id, &len, 0))
			;
	}
	CHECK(vq.stats.broken == 0);

	CHECK_EQ(p_open(&e, &vq, 0, 16, F_V1 | F_MRG), 0);
	memset(&rec, 0, sizeof(rec));
	vq.pk.rec = &rec;
	for (unsigned k = 0; k < 5; k++)
		p_rx_post(d, 64, 1);
	struct rte_mbuf *m = mk_pkt(200, 9);        /* 212 bytes: 4 buffers of 64 */
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 1);
	rte_pktmbuf_free(m);
	const uint64_t pos = atomic_load(&rec.pos);
	CHECK_EQ((uint16_t)pos, 0x8000 | 4);
	CHECK_EQ((uint16_t)(pos >> 16), 1);        /* one slot, the fourth buffer, 20 bytes */
	CHECK_EQ((uint16_t)(pos >> 48), 20);
	CHECK(vu_ring_rec_check(d->desc, 16, pos, atomic_load(&rec.chk), &at));
	CHECK_EQ(at, 0x8004);
	/* the driver takes the used descriptors and gives the buffers back, from slot 5 on: the
	 * head (slot 3) keeps the device's used descriptor until the driver's last slot, whose
	 * refill fills the ring; confirmed at every step */
	while (p_used(d, &id, &len, 0))
		;
	for (unsigned k = 0; k < 15; k++) {
		p_rx_post(d, 64, 1);
		CHECK(vu_ring_rec_check(d->desc, 16, pos, atomic_load(&rec.chk), &at));
		CHECK_EQ(at, 0x8004);
	}
	CHECK_EQ(d->aidx, 4);                      /* full: slots 4-15 in lap 1, 0-3 in lap 0 */
	/* one slot of the ring not as the driver left it: neither the head nor a full ring */
	__atomic_store_n(&d->desc[9].flags, 0, __ATOMIC_RELAXED);
	CHECK(!vu_ring_rec_check(d->desc, 16, pos, atomic_load(&rec.chk), &at));
	penv_fini(&e);
}

RIOV_TEST(packed_tx_in_order_batch)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	uint8_t f[100];
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 1, 16, F_V1 | F_INO), 0);
	vq.inorder_batch = true;
	fill_frame(f, sizeof(f), 1);
	uint32_t s[] = { 12 };
	p_tx_post(d, f, sizeof(f), NULL, 0);
	p_tx_post(d, f, sizeof(f), s, 1);
	uint16_t last = p_tx_post(d, f, sizeof(f), NULL, 0);
	struct rte_mbuf *p[4];
	uint16_t n = tx_take(&vq, p, 4);
	CHECK_EQ(n, 3);
	free_pkts(p, n);
	uint16_t id;
	uint32_t len;
	/* one used descriptor, the last id, skipping the batch's 4 slots */
	CHECK(p_used(d, &id, &len, 4) && id == last);
	CHECK_EQ(d->uidx, 4);
	CHECK(!p_used(d, &id, &len, 0));
	CHECK_EQ(vq.pk.pub, 4);
	/* the ids went back: reusing them is fine */
	d->next_id = 0;
	p_tx_post(d, f, sizeof(f), NULL, 0);
	CHECK_EQ(tx_take(&vq, p, 4), 1);
	free_pkts(p, 1);
	CHECK_EQ(vq.stats.broken, 0);
	penv_fini(&e);
}

/* ---------------- guest RX ---------------- */

RIOV_TEST(packed_rx_single)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 0, 32, F_V1), 0);
	uint16_t b1 = p_rx_post(d, 2048, 1);
	uint64_t a1 = d->desc[0].addr;
	uint16_t b2 = p_rx_post(d, 40, 3);   /* a chain: 12 + 100 bytes over three descriptors */
	struct rte_mbuf *m[2] = { mk_pkt(100, 1), mk_pkt(100, 2) };
	CHECK_EQ(riov_virtq_enqueue(&vq, m, 2), 2);
	uint16_t id;
	uint32_t len;
	CHECK(p_used(d, &id, &len, 0) && id == b1 && len == 112);
	CHECK(p_used(d, &id, &len, 0) && id == b2 && len == 112);
	const struct riov_virtio_net_hdr *h = p_host(d, a1);
	CHECK_EQ(h->num_buffers, 1);
	uint8_t f[100];
	fill_frame(f, 100, 1);
	CHECK(memcmp((uint8_t *)p_host(d, a1) + 12, f, 100) == 0);
	/* no buffers left: held, then delivered once the driver posts one */
	struct rte_mbuf *m3 = mk_pkt(60, 3);
	CHECK_EQ(riov_virtq_enqueue(&vq, &m3, 1), 0);
	CHECK_EQ(vq.n_held, 1);
	CHECK_EQ(riov_virtq_flush_held(&vq), 0);
	p_rx_post(d, 2048, 1);
	CHECK_EQ(riov_virtq_flush_held(&vq), 1);
	CHECK(p_used(d, &id, &len, 0) && len == 72);
	free_pkts(m, 2);
	rte_pktmbuf_free(m3);
	CHECK_EQ(vq.stats.packets, 3);
	penv_fini(&e);
}

RIOV_TEST(packed_rx_mergeable)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 0, 16, F_V1 | F_MRG), 0);
	uint64_t addr[5];
	uint16_t ids[5];
	for (unsigned k = 0; k < 5; k++) {
		ids[k] = p_rx_post(d, 64, 1);
		addr[k] = d->desc[k].addr;
	}
	struct rte_mbuf *m = mk_pkt(200, 9);        /* 212 bytes: 4 buffers of 64 */
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 1);
	uint16_t id;
	uint32_t len;
	const uint32_t want[4] = { 64, 64, 64, 20 };
	for (unsigned k = 0; k < 4; k++)
		CHECK(p_used(d, &id, &len, 0) && id == ids[k] && len == want[k]);
	CHECK(!p_used(d, &id, &len, 0));
	const struct riov_virtio_net_hdr *h = p_host(d, addr[0]);
	CHECK_EQ(h->num_buffers, 4);
	uint8_t f[200], out[200];
	fill_frame(f, 200, 9);
	memcpy(out, (uint8_t *)p_host(d, addr[0]) + 12, 52);
	for (unsigned k = 1; k < 4; k++)
		memcpy(out + 52 + 64 * (k - 1), p_host(d, addr[k]), k < 3 ? 64 : 20);
	CHECK(memcmp(out, f, 200) == 0);
	/* a packet needing more buffers than posted waits (held), nothing consumed */
	rte_pktmbuf_free(m);
	m = mk_pkt(200, 10);
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 0);
	CHECK_EQ(vq.n_held, 1);
	CHECK_EQ(vq.pk.avail, 4);
	for (unsigned k = 0; k < 3; k++)
		p_rx_post(d, 64, 1);
	CHECK_EQ(riov_virtq_flush_held(&vq), 1);
	for (unsigned k = 0; k < 4; k++)
		CHECK(p_used(d, &id, &len, 0) && len == want[k]);
	rte_pktmbuf_free(m);
	penv_fini(&e);
}

/* riov_virtq_enqueue_pkts(): nothing visible to the driver until riov_virtq_publish_rx(), and
 * the ring slots are left as the driver wrote them meanwhile. */
RIOV_TEST(packed_rx_publish_order)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 0, 16, F_V1), 0);
	p_rx_post(d, 2048, 1);
	p_rx_post(d, 2048, 1);
	struct riov_vring_packed_desc before[2];
	memcpy(before, d->desc, sizeof(before));
	static struct riov_virtq_pkt pk[2];
	struct riov_virtq_pkt *pp[2] = { &pk[0], &pk[1] };
	for (unsigned i = 0; i < 2; i++) {
		memset(&pk[i], 0, sizeof(pk[i]));
		pk[i].len = 60;
		pk[i].peek_len = 60;
		memset(pk[i].peek, 0x40 + i, 60);
	}
	CHECK_EQ(riov_virtq_enqueue_pkts(&vq, mp, pp, 2), 2);
	uint16_t id;
	uint32_t len;
	CHECK(!p_used(d, &id, &len, 0));
	CHECK(memcmp(before, d->desc, sizeof(before)) == 0);
	CHECK_EQ(vq.last_used_idx, 0x8000);
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 0);
	riov_virtq_publish_rx(&vq);
	CHECK(p_used(d, &id, &len, 0) && len == 72);
	CHECK(p_used(d, &id, &len, 0) && len == 72);
	CHECK_EQ(vq.last_used_idx, 0x8002);
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 1);
	penv_fini(&e);
}

/* More segments than a riov_virtq_pkt holds: copied into an mbuf by the peek. */
RIOV_TEST(packed_tx_many_segments)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	uint8_t f[1000];
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 1, 32, F_V1), 0);
	fill_frame(f, sizeof(f), 4);
	uint32_t s[11];
	for (unsigned k = 0; k < 11; k++)
		s[k] = k == 0 ? 12 : 70;
	uint16_t id0 = p_tx_post(d, f, sizeof(f), s, 11);
	struct rte_mbuf *p[2];
	CHECK_EQ(tx_take(&vq, p, 2), 1);
	CHECK(mbuf_equals(p[0], f, sizeof(f)));
	rte_pktmbuf_free(p[0]);
	uint16_t id;
	uint32_t len;
	CHECK(p_used(d, &id, &len, 0) && id == id0);
	CHECK_EQ(d->uidx, 12);
	penv_fini(&e);
}

/* Without mergeable buffers a packet larger than the buffer is dropped and the buffer kept; a
 * first buffer shorter than the header is a malformed chain, returned empty. */
RIOV_TEST(packed_rx_too_big_and_short_header)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 0, 16, F_V1), 0);
	p_rx_post(d, 100, 1);
	struct rte_mbuf *m = mk_pkt(200, 1), *s = mk_pkt(50, 2);
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_TOO_BIG], 1);
	CHECK_EQ(vq.pk.avail, 0);
	CHECK_EQ(riov_virtq_enqueue(&vq, &s, 1), 1);    /* the kept buffer takes a smaller one */
	uint16_t id;
	uint32_t len;
	CHECK(p_used(d, &id, &len, 0) && len == 62);
	CHECK_EQ(p_open(&e, &vq, 0, 16, F_V1 | F_MRG), 0);
	uint16_t b = p_rx_post(d, 8, 1);
	p_rx_post(d, 2048, 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, &s, 1), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_BAD_DESC], 1);
	CHECK(p_used(d, &id, &len, 0) && id == b && len == 0);
	CHECK_EQ(riov_virtq_enqueue(&vq, &s, 1), 1);
	CHECK(p_used(d, &id, &len, 0) && len == 62);
	rte_pktmbuf_free(m);
	rte_pktmbuf_free(s);
	penv_fini(&e);
}

/* A ring larger than pend[]: mergeable packets of 19 buffers each. Mbufs: pend[] is published on
 * the way when full. Peeked packets: the packet that does not fit waits (held, copied into an
 * mbuf) until riov_virtq_publish_rx() made room, then goes with the next flush. */
RIOV_TEST(packed_rx_pend_full)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	static uint8_t other[1200];
	penv_init(&e);
	for (unsigned mode = 0; mode < 2; mode++) {
		d->desc = (void *)(d->mem + 40 * 4096);  /* 600 slots: pages 40-42 */
		d->next_buf = p_page(d, BUF_FIRST_PAGE);
		CHECK_EQ(p_open(&e, &vq, 0, 600, F_V1 | F_MRG), 0);
		for (unsigned k = 0; k < 600; k++)
			p_rx_post(d, 64, 1);
		const unsigned npk = 30;       /* 1212 bytes: 19 buffers each, 570 in all */
		uint16_t got = 0;
		if (mode == 0) {
			struct rte_mbuf *m[30];
			for (unsigned i = 0; i < npk; i++)
				m[i] = mk_pkt(1200, i);
			got = riov_virtq_enqueue(&vq, m, (uint16_t)npk);
			CHECK_EQ(got, npk);
			free_pkts(m, (uint16_t)npk);
		} else {
			static struct riov_virtq_pkt pk[30];
			struct riov_virtq_pkt *pp[30];
			for (unsigned i = 0; i < npk; i++) {
				memset(&pk[i], 0, sizeof(pk[i]));
				pk[i].len = 1200;
				pk[i].peek_len = RIOV_VIRTQ_PEEK;
				memset(pk[i].peek, (int)i, RIOV_VIRTQ_PEEK);
				pk[i].nseg = 1;
				pk[i].seg[0].p = other;
				pk[i].seg[0].len = 1200 - RIOV_VIRTQ_PEEK;
				pp[i] = &pk[i];
			}
			got = riov_virtq_enqueue_pkts(&vq, mp, pp, (uint16_t)npk);
			CHECK_EQ(got, 26);            /* 26 * 19 = 494; the 27th would pass 512 */
			CHECK_EQ(vq.n_held, 4);
			uint16_t id;
			uint32_t len;
			CHECK(!p_used(d, &id, &len, 0));
			riov_virtq_publish_rx(&vq);
			CHECK_EQ(riov_virtq_flush_held(&vq), 4);
			got += 4;
		}
		uint16_t id;
		uint32_t len;
		unsigned seen = 0, bad = 0;
		while (p_used(d, &id, &len, 0)) {
			if (id != seen || len != (seen % 19 == 18 ? 1212 - 18 * 64 : 64))
				bad++;
			seen++;
		}
		CHECK_EQ(seen, 570);
		CHECK_EQ(bad, 0);
		CHECK_EQ(vq.stats.packets, npk);
		CHECK_EQ(vq.stats.broken, 0);
	}
	penv_fini(&e);
}

/* ---------------- vIOMMU: waiting for the front-end's IOTLB ---------------- */

#define S1_DID 6

/* Nested translation: the first stage (S1_DID, the guest's vIOMMU) empty at first. */
static void nested_on(struct penv *e)
{
	CHECK_EQ(riov_vtd_domain_create(e->vtd, S1_DID, 4), 0);
	CHECK_EQ(riov_vtd_context_set_nested(e->vtd, T_SID, S1_DID, T_DID, false), 0);
	riov_vtd_inv_context_global(e->vtd);
	riov_vtd_inv_iotlb_global(e->vtd);
}

static void s1_map_pages(struct penv *e, unsigned first, unsigned last)
{
	for (unsigned p = first; p <= last; p++)
		CHECK_EQ(riov_vtd_map(e->vtd, S1_DID, p_page(&e->d, p), p_page(&e->d, p), 4096,
				      RIOV_VTD_READ | RIOV_VTD_WRITE), 0);
	riov_vtd_inv_iotlb_domain(e->vtd, S1_DID);
}

/* A miss leaves the chain available (TX) or holds the packets (RX) with nothing consumed, asks
 * the front-end once, and goes on when the device's IOTLB update arrives. */
RIOV_TEST(packed_viommu_waits)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	_Atomic uint64_t slot = 0;
	uint8_t f[100];
	penv_init(&e);
	nested_on(&e);
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK_EQ(p_open(&e, &vq, 1, 16, F_V1), 0);
	vq.miss_slot = &slot;
	vq.miss_efd = efd;
	fill_frame(f, sizeof(f), 7);
	uint64_t buf = d->next_buf;
	uint16_t i1 = p_tx_post(d, f, sizeof(f), NULL, 0);
	struct rte_mbuf *p[4];
	CHECK_EQ(tx_take(&vq, p, 4), 0);
	CHECK_EQ(vq.pk.avail, 0);
	CHECK_EQ(vq.stats.iotlb_waits, 1);
	CHECK_EQ(atomic_load(&slot), (buf & ~0xfffull) | RIOV_VTD_READ << 1 | 1);
	CHECK_EQ(efd_count(efd), 1);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_DMA_FAULT], 0);
	CHECK_EQ(tx_take(&vq, p, 4), 0);           /* no update yet: still waiting */
	CHECK_EQ(vq.stats.iotlb_waits, 1);
	s1_map_pages(&e, BUF_FIRST_PAGE, BUF_FIRST_PAGE + 1);
	uint16_t n = tx_take(&vq, p, 4);
	CHECK_EQ(n, 1);
	if (n == 1)
		CHECK(mbuf_equals(p[0], f, sizeof(f)));
	free_pkts(p, n);
	uint16_t id;
	uint32_t len;
	CHECK(p_used(d, &id, &len, 0) && id == i1);
	/* past the deadline the miss is a DMA fault: the chain comes back with length 0 */
	d->next_buf = p_page(d, PAGES - 8);
	i1 = p_tx_post(d, f, sizeof(f), NULL, 0);
	CHECK_EQ(tx_take(&vq, p, 4), 0);
	CHECK(vq.wait.active);
	vq.wait.since -= (RIOV_VIRTQ_MISS_DEADLINE_US + 1000) * (rte_get_tsc_hz() / 1000000);
	CHECK_EQ(tx_take(&vq, p, 4), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_DMA_FAULT], 1);
	CHECK(p_used(d, &id, &len, 0) && id == i1 && len == 0);
	struct riov_vtd_fault rec[2];
	CHECK_EQ(riov_vtd_faults_read(e.vtd, rec, 2, true), 1);
	riov_virtq_release(&vq);

	/* RX: the packets are held, in order, until the translation arrives */
	CHECK_EQ(p_open(&e, &vq, 0, 16, F_V1 | F_MRG), 0);
	vq.miss_slot = &slot;
	vq.miss_efd = efd;
	d->next_buf = p_page(d, BUF_FIRST_PAGE + 8);
	uint64_t rb = d->next_buf;
	p_rx_post(d, 2048, 1);
	p_rx_post(d, 2048, 1);
	struct rte_mbuf *m[2] = { mk_pkt(100, 1), mk_pkt(200, 2) };
	CHECK_EQ(riov_virtq_enqueue(&vq, m, 2), 0);
	CHECK_EQ(vq.n_held, 2);
	CHECK_EQ(vq.pk.avail, 0);
	CHECK(vq.wait.active);
	CHECK_EQ(atomic_load(&slot), (rb & ~0xfffull) | RIOV_VTD_WRITE << 1 | 1);
	CHECK(!p_used(d, &id, &len, 0));
	CHECK_EQ(riov_virtq_flush_held(&vq), 0);
	s1_map_pages(&e, BUF_FIRST_PAGE + 8, BUF_FIRST_PAGE + 9);
	CHECK_EQ(riov_virtq_flush_held(&vq), 2);
	CHECK(p_used(d, &id, &len, 0) && len == 112);
	CHECK(p_used(d, &id, &len, 0) && len == 212);
	free_pkts(m, 2);
	riov_virtq_release(&vq);
	close(efd);
	penv_fini(&e);
}

/* ---------------- interrupts ---------------- */

static void tx_one(struct pdrv *d, struct riov_virtq *vq)
{
	uint8_t f[64];
	struct rte_mbuf *p[2];
	fill_frame(f, sizeof(f), 0);
	p_tx_post(d, f, sizeof(f), NULL, 0);
	uint16_t n = tx_take(vq, p, 2);
	free_pkts(p, n);
	uint16_t id;
	uint32_t len;
	(void)p_used(d, &id, &len, 0);
}

RIOV_TEST(packed_notify_rules)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 1, 8, F_V1), 0);
	riov_virtq_notify(&vq);           /* nothing used yet */
	CHECK_EQ(efd_count(d->efd), 0);
	d->drv->flags = RIOV_VRING_PACKED_EVENT_FLAG_ENABLE;
	tx_one(d, &vq);
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 1);
	riov_virtq_notify(&vq);           /* nothing new */
	CHECK_EQ(efd_count(d->efd), 0);
	d->drv->flags = RIOV_VRING_PACKED_EVENT_FLAG_DISABLE;
	tx_one(d, &vq);
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 0);
	/* DESC without EVENT_IDX: taken as ENABLE */
	d->drv->flags = RIOV_VRING_PACKED_EVENT_FLAG_DESC;
	d->drv->off_wrap = 0x8000 | 7;
	tx_one(d, &vq);
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 1);
	CHECK_EQ(vq.stats.notifications, 2);

	/* DESC with EVENT_IDX */
	CHECK_EQ(p_open(&e, &vq, 1, 8, F_V1 | F_EVT), 0);
	d->drv->flags = RIOV_VRING_PACKED_EVENT_FLAG_DESC;
	d->drv->off_wrap = 0x8000 | 0;
	tx_one(d, &vq);                   /* used at slot 0: the first decision always interrupts */
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 1);
	d->drv->off_wrap = 0x8000 | 3;    /* wants the used descriptor at slot 3 */
	tx_one(d, &vq);                   /* slot 1 */
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 0);
	tx_one(d, &vq);                   /* slot 2 */
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 0);
	tx_one(d, &vq);                   /* slot 3 */
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 1);
	d->drv->off_wrap = 0 | 1;         /* slot 1 of the next lap (wrap 0) */
	for (unsigned k = 4; k < 8; k++) {
		tx_one(d, &vq);           /* slots 4..7 */
		riov_virtq_notify(&vq);
		CHECK_EQ(efd_count(d->efd), 0);
	}
	tx_one(d, &vq);                   /* slot 0, wrap 0 */
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 0);
	tx_one(d, &vq);                   /* slot 1, wrap 0 */
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 1);
	/* several used at once crossing the event position */
	d->drv->off_wrap = 0 | 3;
	uint8_t f[64];
	fill_frame(f, sizeof(f), 0);
	for (unsigned k = 0; k < 3; k++)
		p_tx_post(d, f, sizeof(f), NULL, 0);
	struct rte_mbuf *p[4];
	uint16_t n = tx_take(&vq, p, 4);  /* slots 2, 3, 4 */
	free_pkts(p, n);
	riov_virtq_notify(&vq);
	CHECK_EQ(efd_count(d->efd), 1);
	penv_fini(&e);
}

/* ---------------- a misbehaving driver ---------------- */

/* Expect one TX chain dropped with cause `cause` and returned with length 0. */
static void expect_tx_bad(struct pdrv *d, struct riov_virtq *vq, unsigned cause, uint16_t want_id)
{
	uint64_t before = vq->stats.drops[cause];
	struct rte_mbuf *p[2];
	CHECK_EQ(tx_take(vq, p, 2), 0);
	CHECK_EQ(vq->stats.drops[cause], before + 1);
	uint16_t id;
	uint32_t len;
	CHECK(p_used(d, &id, &len, 0) && id == want_id && len == 0);
	CHECK(!vq->broken);
}

RIOV_TEST(packed_bad_not_available)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	uint8_t f[64];
	penv_init(&e);
	fill_frame(f, sizeof(f), 0);
	CHECK_EQ(p_open(&e, &vq, 1, 4, F_V1), 0);
	/* wrap counter confusion: AVAIL set but USED equal to it: not available */
	p_tx_post(d, f, sizeof(f), NULL, 0);
	d->desc[0].flags |= U_BIT;
	struct rte_mbuf *p[4];
	CHECK_EQ(tx_take(&vq, p, 4), 0);
	CHECK_EQ(vq.pk.avail, 0);
	/* AVAIL clear, USED set: the other lap's available pattern */
	d->desc[0].flags = U_BIT;
	CHECK_EQ(tx_take(&vq, p, 4), 0);
	d->desc[0].flags = A_BIT;
	CHECK_EQ(tx_take(&vq, p, 4), 1);
	free_pkts(p, 1);
	/* one lap on, the used descriptors the device wrote (AVAIL = USED = 1) are not available
	 * for wrap counter 0 */
	for (unsigned k = 0; k < 3; k++)
		p_tx_post(d, f, sizeof(f), NULL, 0);
	CHECK_EQ(tx_take(&vq, p, 4), 3);
	free_pkts(p, 3);
	CHECK(!vq.pk.avail_wrap);
	CHECK_EQ(d->desc[0].flags & (A_BIT | U_BIT), A_BIT | U_BIT);
	CHECK_EQ(tx_take(&vq, p, 4), 0);
	CHECK_EQ(vq.stats.broken, 0);
	uint64_t drops = 0;
	for (unsigned c = 0; c < RIOV_VQ_DROP__MAX; c++)
		drops += vq.stats.drops[c];
	CHECK_EQ(drops, 0);
	penv_fini(&e);
}

RIOV_TEST(packed_bad_ids)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	uint8_t f[64];
	struct pdesc ds[2];
	struct rte_mbuf *p[4];
	penv_init(&e);
	fill_frame(f, sizeof(f), 0);
	/* id out of range */
	CHECK_EQ(p_open(&e, &vq, 1, 8, F_V1), 0);
	p_tx_descs(d, 12, f, sizeof(f), NULL, 0, ds);
	p_post_id(d, ds, 1, 8);
	CHECK_EQ(tx_take(&vq, p, 4), 0);
	CHECK(vq.broken);
	CHECK_EQ(vq.stats.broken, 1);
	CHECK_EQ(tx_take(&vq, p, 4), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_BROKEN], 1);
	/* id reused while in flight (within one burst) */
	CHECK_EQ(p_open(&e, &vq, 1, 8, F_V1), 0);
	p_post_id(d, ds, 1, 3);
	p_post_id(d, ds, 1, 3);
	uint16_t n = tx_take(&vq, p, 4);
	CHECK_EQ(n, 1);            /* the first is served and returned */
	free_pkts(p, n);
	CHECK(vq.broken);
	uint16_t id;
	uint32_t len;
	CHECK(p_used(d, &id, &len, 0) && id == 3);
	/* RX: id reused while the first is held in flight across a mergeable packet */
	CHECK_EQ(p_open(&e, &vq, 0, 8, F_V1 | F_MRG), 0);
	struct pdesc rb = { .addr = p_buf(d, 64), .len = 64, .flags = RIOV_VRING_DESC_F_WRITE };
	p_post_id(d, &rb, 1, 2);
	p_post_id(d, &rb, 1, 2);
	struct rte_mbuf *m = mk_pkt(100, 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 0);
	CHECK(vq.broken);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_BROKEN], 1);
	CHECK(!p_used(d, &id, &len, 0));
	rte_pktmbuf_free(m);
	penv_fini(&e);
}

RIOV_TEST(packed_bad_chains)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	uint8_t f[64];
	struct pdesc ds[4];
	penv_init(&e);
	fill_frame(f, sizeof(f), 0);
	CHECK_EQ(p_open(&e, &vq, 1, 16, F_V1 | F_IND), 0);

	/* indirect inside indirect */
	uint64_t tbl = p_buf(d, 32);
	struct riov_vring_packed_desc *t = p_host(d, tbl);
	t[0] = (struct riov_vring_packed_desc){ .addr = tbl, .len = 32, .flags = RIOV_VRING_DESC_F_INDIRECT };
	struct pdesc ind = { .addr = tbl, .len = 32, .flags = RIOV_VRING_DESC_F_INDIRECT };
	uint16_t id = p_post(d, &ind, 1);
	expect_tx_bad(d, &vq, RIOV_VQ_DROP_BAD_DESC, id);

	/* indirect with NEXT: the whole chain comes back */
	p_tx_descs(d, 12, f, sizeof(f), NULL, 0, ds);
	struct pdesc two[2] = { ind, ds[0] };
	t[0] = (struct riov_vring_packed_desc){ .addr = ds[0].addr, .len = ds[0].len };
	id = p_post(d, two, 2);
	expect_tx_bad(d, &vq, RIOV_VQ_DROP_BAD_DESC, id);
	CHECK_EQ(vq.pk.avail, 3);

	/* zero-length descriptor in a chain; zero-length indirect table */
	uint32_t s[] = { 12, 20 };
	unsigned nd = p_tx_descs(d, 12, f, sizeof(f), s, 2, ds);
	ds[1].len = 0;
	id = p_post(d, ds, nd);
	expect_tx_bad(d, &vq, RIOV_VQ_DROP_BAD_DESC, id);
	ind.len = 0;
	id = p_post(d, &ind, 1);
	expect_tx_bad(d, &vq, RIOV_VQ_DROP_BAD_DESC, id);

	/* TX descriptor with WRITE */
	nd = p_tx_descs(d, 12, f, sizeof(f), NULL, 0, ds);
	ds[0].flags = RIOV_VRING_DESC_F_WRITE;
	id = p_post(d, ds, nd);
	expect_tx_bad(d, &vq, RIOV_VQ_DROP_BAD_DESC, id);

	/* unmapped address: a VT-d fault */
	struct pdesc hole = { .addr = p_page(d, HOLE_PAGE) - 20, .len = 100 };
	id = p_post(d, &hole, 1);
	expect_tx_bad(d, &vq, RIOV_VQ_DROP_DMA_FAULT, id);
	struct riov_vtd_fault fl[4];
	CHECK_EQ(riov_vtd_faults_read(e.vtd, fl, 4, true), 1);

	/* a header and no frame */
	struct pdesc hdr_only = { .addr = p_buf(d, 12), .len = 12 };
	id = p_post(d, &hdr_only, 1);
	expect_tx_bad(d, &vq, RIOV_VQ_DROP_BAD_DESC, id);
	CHECK_EQ(vq.stats.broken, 0);

	/* a chain longer than the ring: every slot has NEXT */
	CHECK_EQ(p_open(&e, &vq, 1, 4, F_V1), 0);
	for (unsigned k = 0; k < 4; k++)
		ds[k] = (struct pdesc){ .addr = p_buf(d, 64), .len = 64 };
	p_post(d, ds, 4);
	d->desc[3].flags |= RIOV_VRING_DESC_F_NEXT;
	struct rte_mbuf *p[4];
	CHECK_EQ(tx_take(&vq, p, 4), 0);
	CHECK(vq.broken);

	/* RX descriptor without WRITE: dropped, returned with length 0 */
	CHECK_EQ(p_open(&e, &vq, 0, 8, F_V1), 0);
	struct pdesc ro = { .addr = p_buf(d, 2048), .len = 2048 };
	id = p_post(d, &ro, 1);
	struct rte_mbuf *m = mk_pkt(100, 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_BAD_DESC], 1);
	uint16_t uid;
	uint32_t len;
	CHECK(p_used(d, &uid, &len, 0) && uid == id && len == 0);
	/* RX into a read-only page: a write fault, returned */
	struct pdesc rop = { .addr = p_page(d, RO_PAGE), .len = 2048, .flags = RIOV_VRING_DESC_F_WRITE };
	id = p_post(d, &rop, 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_DMA_FAULT], 1);
	CHECK(p_used(d, &uid, &len, 0) && uid == id && len == 0);
	CHECK(!vq.broken);
	rte_pktmbuf_free(m);
	riov_vtd_faults_read(e.vtd, fl, 4, true);
	penv_fini(&e);
}

/* The driver overwrites slots the device has not given back (more outstanding than the ring). */
RIOV_TEST(packed_bad_overrun)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	uint8_t f[64];
	penv_init(&e);
	fill_frame(f, sizeof(f), 0);
	CHECK_EQ(p_open(&e, &vq, 1, 4, F_V1), 0);
	struct riov_virtq_pkt pk[8];
	uint32_t s[] = { 12 };
	for (unsigned k = 0; k < 2; k++)
		p_tx_post(d, f, sizeof(f), s, 1);  /* ids 0 and 1, two slots each */
	CHECK_EQ(riov_virtq_peek(&vq, mp, pk, 8), 2);
	/* before the device returns them, slot 0 is made available again with an id not in flight */
	struct pdesc ds[1];
	p_tx_descs(d, 12, f, sizeof(f), NULL, 0, ds);
	p_post_id(d, ds, 1, 2);
	CHECK_EQ(riov_virtq_peek(&vq, mp, pk + 4, 4), 0);
	CHECK(vq.broken);
	CHECK_EQ(vq.stats.broken, 1);
	riov_virtq_peek_done(&vq, pk, 2);
	penv_fini(&e);
}

/* Dirty logging: the RX buffer and the used descriptor the device writes. */
RIOV_TEST(packed_dirty_log)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	static uint8_t log[(0x20000000ull >> 12) / 8 + PAGES];
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 0, 16, F_V1), 0);
	memset(log, 0, sizeof(log));
	vq.log_base = log;
	vq.log_size = sizeof(log);
	riov_virtq_set_used_log(&vq, d->gpa);
	p_rx_post(d, 2048, 1);
	uint64_t buf = d->desc[0].addr;
	struct rte_mbuf *m = mk_pkt(100, 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 1);
	uint64_t pg = buf >> 12, rpg = d->gpa >> 12;
	CHECK(log[pg >> 3] & (1u << (pg & 7)));
	CHECK(log[rpg >> 3] & (1u << (rpg & 7)));
	CHECK(vq.stats.log_writes >= 2);
	rte_pktmbuf_free(m);
	penv_fini(&e);
}

/* ---------------- one-descriptor fast paths (vqp_tx_simple, vqp_rx_simple) ---------------- */

/* Fill the queue's translation cursor for the page of gpa: the one-descriptor paths take only what
 * the cursor holds (a cold cursor sends every buffer the general way, which fills it). */
static void p_warm(struct riov_virtq *vq, uint64_t gpa, unsigned access)
{
	void *hva;
	uint64_t mapped;
	CHECK_EQ(riov_vtd_translate(&vq->tc, gpa, 1, access, &hva, &mapped), 0);
	CHECK(riov_vtd_cursor_hit(&vq->tc, gpa, 1, access, &hva, &mapped));
}

/* Whether the TX fast path would take the chain at the avail position (it consumes nothing). */
static bool p_tx_fast(struct riov_virtq *vq)
{
	struct vqp_chain ch;
	static struct riov_virtq_pkt pk;
	return vqp_avail(vq) && vqp_tx_simple(vq, &ch, &pk, NULL);
}

/* What the RX fast path makes of a packet of len bytes at the avail position (1: left to
 * vqp_rx_one()), tried on a copy of the queue (it writes only the guest buffer the real call
 * writes the same way, or nothing). */
static int p_rx_fast(const struct riov_virtq *vq, uint32_t len)
{
	static struct riov_virtq copy;
	static uint8_t frame[2048];
	struct riov_virtq_pkt pk = { .len = len, .peek_len = (uint8_t)RTE_MIN(len, (uint32_t)RIOV_VIRTQ_PEEK) };
	if (len > RIOV_VIRTQ_PEEK) {
		pk.nseg = 1;
		pk.seg[0].p = frame + RIOV_VIRTQ_PEEK;
		pk.seg[0].len = len - RIOV_VIRTQ_PEEK;
	}
	struct vq_rx_src src = { .pk = &pk };
	copy = *vq;
	copy.log_base = NULL;
	return vqp_rx_simple(&copy, &src, len);
}

/* The frame of a peeked packet, gathered. */
static uint32_t pk_collect(const struct riov_virtq_pkt *pk, uint8_t *out)
{
	uint32_t off = pk->peek_len;
	memcpy(out, pk->peek, pk->peek_len);
	for (unsigned j = 0; j < pk->nseg; j++) {
		memcpy(out + off, pk->seg[j].p, pk->seg[j].len);
		off += pk->seg[j].len;
	}
	return off;
}

/* One-descriptor TX chains (header and frame in one buffer) take the fast path once the cursor
 * holds their page: short, long and 64-byte frames, across the ring's end, with the header read
 * for offloads; a two-descriptor chain goes the general way in the same burst. */
RIOV_TEST(packed_fast_tx_one)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	static const uint32_t lens[] = { 64, 1500, 20, 65, 300 };
	static uint8_t f[5][1500], out[1600];
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 1, 4, F_V1), 0);
	vq.ol_sends = RIOV_OL_CSUM;
	p_warm(&vq, d->next_buf, RIOV_VTD_READ);
	CHECK(!p_tx_fast(&vq));                      /* nothing available */
	uint16_t ids[5];
	for (unsigned k = 0; k < 3; k++) {
		fill_frame(f[k], lens[k], 20 + k);
		ids[k] = p_tx_post(d, f[k], lens[k], NULL, 0);
	}
	/* the first asks for a checksum offload */
	struct riov_virtio_net_hdr *h = p_host(d, d->desc[0].addr);
	h->flags = 1;
	h->csum_start = 14;
	h->csum_offset = 16;
	CHECK(p_tx_fast(&vq));
	struct riov_virtq_pkt pk[8];
	CHECK_EQ(riov_virtq_peek(&vq, mp, pk, 8), 3);
	for (unsigned k = 0; k < 3; k++) {
		CHECK(!pk[k].bad && pk[k].m == NULL && pk[k].head == ids[k] && pk[k].ndesc == 1);
		CHECK_EQ(pk[k].len, lens[k]);
		CHECK_EQ(pk[k].nseg, lens[k] > RIOV_VIRTQ_PEEK);
		CHECK_EQ(pk_collect(&pk[k], out), lens[k]);
		CHECK(memcmp(out, f[k], lens[k]) == 0);
	}
	CHECK(pk[0].has_ol && pk[0].vhdr.flags == 1 && pk[0].vhdr.csum_offset == 16);
	CHECK(!pk[1].has_ol && !pk[2].has_ol);
	CHECK_EQ(vq.pk.avail, 3);
	riov_virtq_peek_done(&vq, pk, 3);
	uint16_t id;
	uint32_t len;
	for (unsigned k = 0; k < 3; k++)
		CHECK(p_used(d, &id, &len, 0) && id == ids[k] && len == 0);
	/* across the ring's end: a one-descriptor chain in the last slot, then a two-descriptor one */
	fill_frame(f[3], lens[3], 23);
	fill_frame(f[4], lens[4], 24);
	ids[3] = p_tx_post(d, f[3], lens[3], NULL, 0);
	uint32_t s[] = { 12 };
	ids[4] = p_tx_post(d, f[4], lens[4], s, 1);
	CHECK(p_tx_fast(&vq));
	struct rte_mbuf *m[4];
	CHECK_EQ(tx_take(&vq, m, 4), 2);
	CHECK(mbuf_equals(m[0], f[3], lens[3]));
	CHECK(mbuf_equals(m[1], f[4], lens[4]));
	free_pkts(m, 2);
	CHECK(p_used(d, &id, &len, 0) && id == ids[3]);
	CHECK(p_used(d, &id, &len, 0) && id == ids[4]);
	CHECK_EQ(vq.pk.avail, 2);
	CHECK(!vq.pk.avail_wrap);
	CHECK_EQ(vq.last_avail_idx, 2);
	CHECK_EQ(vq.stats.packets, 5);
	CHECK_EQ(vq.stats.broken, 0);
	penv_fini(&e);
}

/* One-descriptor RX buffers take the fast path (mbufs, peeked packets, the legacy header), the
 * used descriptor and the buffer dirty-logged as on the general path. */
RIOV_TEST(packed_fast_rx_one)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	static uint8_t log[(0x20000000ull >> 12) / 8 + PAGES];
	static uint8_t f[1500];
	penv_init(&e);
	for (unsigned legacy = 0; legacy < 2; legacy++) {
		const uint16_t hl = legacy ? 10 : 12;
		d->next_buf = p_page(d, BUF_FIRST_PAGE + 10 * legacy);
		CHECK_EQ(p_open(&e, &vq, 0, 8, legacy ? 0 : F_V1), 0);
		CHECK_EQ(vq.hdr_len, hl);
		memset(log, 0, sizeof(log));
		vq.log_base = log;
		vq.log_size = sizeof(log);
		riov_virtq_set_used_log(&vq, d->gpa);
		p_warm(&vq, d->next_buf, RIOV_VTD_WRITE);
		uint16_t ids[3];
		uint64_t bufs[3];
		for (unsigned k = 0; k < 3; k++) {
			bufs[k] = d->next_buf;
			ids[k] = p_rx_post(d, 1600, 1);
		}
		CHECK_EQ(p_rx_fast(&vq, 64), 0);
		static const uint32_t lens[] = { 64, 1500, 20 };
		struct rte_mbuf *m[3];
		for (unsigned k = 0; k < 3; k++)
			m[k] = mk_pkt(lens[k], 30 + k);
		CHECK_EQ(riov_virtq_enqueue(&vq, m, 3), 3);
		free_pkts(m, 3);
		for (unsigned k = 0; k < 3; k++) {
			uint16_t id;
			uint32_t len;
			CHECK(p_used(d, &id, &len, 0) && id == ids[k] && len == hl + lens[k]);
			const uint8_t *b = p_host(d, bufs[k]);
			struct riov_virtio_net_hdr hdr;
			memcpy(&hdr, b, sizeof(hdr));
			CHECK(hdr.flags == 0 && hdr.gso_type == 0 && hdr.csum_start == 0);
			if (!legacy)
				CHECK_EQ(hdr.num_buffers, 1);
			fill_frame(f, lens[k], 30 + k);
			CHECK(memcmp(b + hl, f, lens[k]) == 0);
			CHECK_EQ(b[hl + lens[k]], 0xee);
			uint64_t pg = bufs[k] >> 12;
			CHECK(log[pg >> 3] & (1u << (pg & 7)));
		}
		uint64_t rpg = d->gpa >> 12;
		CHECK(log[rpg >> 3] & (1u << (rpg & 7)));
		CHECK_EQ(vq.stats.packets, 3);
		CHECK_EQ(vq.stats.broken, 0);
	}
	penv_fini(&e);
}

/* The direct path: packets peeked from one guest's packed TX ring go into another guest's packed
 * RX ring, both one descriptor a buffer, without an mbuf. */
RIOV_TEST(packed_fast_direct)
{
	struct penv ea, eb;
	struct riov_virtq tx, rx;
	struct pdrv *a = &ea.d, *b = &eb.d;
	static const uint32_t lens[] = { 60, 64, 1514, 200 };
	static uint8_t f[4][1514];
	penv_init(&ea);
	penv_init(&eb);
	CHECK_EQ(p_open(&ea, &tx, 1, 256, F_V1), 0);
	CHECK_EQ(p_open(&eb, &rx, 0, 256, F_V1 | F_MRG), 0);
	p_warm(&tx, a->next_buf, RIOV_VTD_READ);
	p_warm(&rx, b->next_buf, RIOV_VTD_WRITE);
	uint64_t bufs[4];
	for (unsigned k = 0; k < 4; k++) {
		fill_frame(f[k], lens[k], 40 + k);
		p_tx_post(a, f[k], lens[k], NULL, 0);
		bufs[k] = b->next_buf;
		p_rx_post(b, 2048, 1);
	}
	CHECK(p_tx_fast(&tx));
	CHECK_EQ(p_rx_fast(&rx, 60), 0);
	struct riov_virtq_pkt pk[RIOV_VIRTQ_BURST], *ptr[4];
	CHECK_EQ(riov_virtq_peek(&tx, mp, pk, RIOV_VIRTQ_BURST), 4);
	for (unsigned k = 0; k < 4; k++)
		ptr[k] = &pk[k];
	CHECK_EQ(riov_virtq_enqueue_pkts(&rx, mp, ptr, 4), 4);
	riov_virtq_peek_done(&tx, pk, 4);
	uint16_t id;
	uint32_t len;
	CHECK(!p_used(b, &id, &len, 0));            /* published after the source's chains */
	riov_virtq_publish_rx(&rx);
	for (unsigned k = 0; k < 4; k++) {
		CHECK(p_used(a, &id, &len, 0) && id == k && len == 0);
		CHECK(p_used(b, &id, &len, 0) && id == k && len == 12 + lens[k]);
		const uint8_t *buf = p_host(b, bufs[k]);
		CHECK_EQ(buf[10] | buf[11] << 8, 1);   /* num_buffers */
		CHECK(memcmp(buf + 12, f[k], lens[k]) == 0);
	}
	CHECK_EQ(rx.stats.packets, 4);
	CHECK_EQ(tx.stats.packets, 4);
	penv_fini(&ea);
	penv_fini(&eb);
}

/* A one-descriptor RX buffer too small for the packet leaves it to the general path: without
 * mergeable buffers the packet is dropped (TOO_BIG) and the buffer kept, for which the next
 * smaller packet takes the fast path; with them the packet is merged over two buffers. */
RIOV_TEST(packed_fast_rx_small)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	static uint8_t f[200];
	penv_init(&e);
	CHECK_EQ(p_open(&e, &vq, 0, 8, F_V1), 0);
	p_warm(&vq, d->next_buf, RIOV_VTD_WRITE);
	uint64_t b0 = d->next_buf;
	uint16_t i0 = p_rx_post(d, 12 + 100, 1);
	CHECK_EQ(p_rx_fast(&vq, 101), 1);
	CHECK_EQ(p_rx_fast(&vq, 100), 0);          /* exactly header + frame: fits */
	struct rte_mbuf *big = mk_pkt(101, 1), *small = mk_pkt(100, 2);
	CHECK_EQ(riov_virtq_enqueue(&vq, &big, 1), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_TOO_BIG], 1);
	CHECK_EQ(vq.pk.avail, 0);
	CHECK_EQ(riov_virtq_enqueue(&vq, &small, 1), 1);
	uint16_t id;
	uint32_t len;
	CHECK(p_used(d, &id, &len, 0) && id == i0 && len == 112);
	fill_frame(f, 100, 2);
	CHECK(memcmp((uint8_t *)p_host(d, b0) + 12, f, 100) == 0);

	CHECK_EQ(p_open(&e, &vq, 0, 8, F_V1 | F_MRG), 0);
	p_warm(&vq, d->next_buf, RIOV_VTD_WRITE);
	uint64_t b1 = d->next_buf;
	uint16_t i1 = p_rx_post(d, 12 + 63, 1);
	uint64_t b2 = d->next_buf;
	uint16_t i2 = p_rx_post(d, 1024, 1);
	CHECK_EQ(p_rx_fast(&vq, 64), 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, &big, 1), 1);
	CHECK(p_used(d, &id, &len, 0) && id == i1 && len == 12 + 63);
	CHECK(p_used(d, &id, &len, 0) && id == i2 && len == 101 - 63);
	struct riov_virtio_net_hdr hdr;
	memcpy(&hdr, p_host(d, b1), sizeof(hdr));
	CHECK_EQ(hdr.num_buffers, 2);
	fill_frame(f, 101, 1);
	CHECK(memcmp((uint8_t *)p_host(d, b1) + 12, f, 63) == 0);
	CHECK(memcmp(p_host(d, b2), f + 63, 101 - 63) == 0);
	CHECK_EQ(vq.stats.packets, 1);
	rte_pktmbuf_free(big);
	rte_pktmbuf_free(small);
	penv_fini(&e);
}

/* A one-descriptor buffer across two mappings whose host pages are apart: the cursor holds the
 * first, the fast path does not take it (it would read or write past that mapping's host page),
 * and the general path gathers or scatters it over both. */
RIOV_TEST(packed_fast_two_mappings)
{
	struct penv e;
	struct riov_virtq tx, rx;
	struct pdrv *d = &e.d;
	uint8_t *host = NULL;
	static uint8_t f[300], out[400];
	penv_init(&e);
	/* gpa pages X and X + 1 (past the test's memory) on host pages 2 and 0 of their own */
	CHECK_EQ(posix_memalign((void **)&host, 4096, 3 * 4096), 0);
	memset(host, 0, 3 * 4096);
	const uint64_t x = p_page(d, PAGES + 16);
	CHECK_EQ(riov_vtd_map(e.vtd, T_DID, x, (uint64_t)(uintptr_t)(host + 2 * 4096), 4096,
			      RIOV_VTD_READ | RIOV_VTD_WRITE), 0);
	CHECK_EQ(riov_vtd_map(e.vtd, T_DID, x + 4096, (uint64_t)(uintptr_t)host, 4096,
			      RIOV_VTD_READ | RIOV_VTD_WRITE), 0);
	riov_vtd_inv_iotlb_global(e.vtd);
	const uint64_t buf = x + 4096 - 100;      /* 100 bytes in page X, the rest in X + 1 */

	/* TX: header and 88 frame bytes before the boundary, 212 after */
	CHECK_EQ(p_open(&e, &tx, 1, 8, F_V1), 0);
	p_warm(&tx, x, RIOV_VTD_READ);
	fill_frame(f, sizeof(f), 50);
	memset(host + 3 * 4096 - 100, 0, 12);
	memcpy(host + 3 * 4096 - 88, f, 88);
	memcpy(host, f + 88, sizeof(f) - 88);
	struct pdesc one = { .addr = buf, .len = 12 + sizeof(f) };
	uint16_t id = p_post(d, &one, 1);
	CHECK(!p_tx_fast(&tx));
	struct riov_virtq_pkt pk[4];
	CHECK_EQ(riov_virtq_peek(&tx, mp, pk, 4), 1);
	CHECK(!pk[0].bad && pk[0].len == sizeof(f) && pk[0].nseg == 2);
	CHECK_EQ(pk_collect(&pk[0], out), sizeof(f));
	CHECK(memcmp(out, f, sizeof(f)) == 0);
	riov_virtq_peek_done(&tx, pk, 1);
	uint16_t uid;
	uint32_t len;
	CHECK(p_used(d, &uid, &len, 0) && uid == id);

	/* RX: a 300-byte buffer at the same place, a 200-byte frame */
	memset(d->desc, 0, 16u * 8);
	CHECK_EQ(p_open(&e, &rx, 0, 8, F_V1), 0);
	p_warm(&rx, x, RIOV_VTD_WRITE);
	memset(host, 0xee, 3 * 4096);
	struct pdesc w = { .addr = buf, .len = 300, .flags = RIOV_VRING_DESC_F_WRITE };
	id = p_post(d, &w, 1);
	CHECK_EQ(p_rx_fast(&rx, 200), 1);
	struct rte_mbuf *m = mk_pkt(200, 51);
	CHECK_EQ(riov_virtq_enqueue(&rx, &m, 1), 1);
	rte_pktmbuf_free(m);
	CHECK(p_used(d, &uid, &len, 0) && uid == id && len == 212);
	fill_frame(f, 200, 51);
	CHECK(memcmp(host + 3 * 4096 - 88, f, 88) == 0);
	CHECK(memcmp(host, f + 88, 200 - 88) == 0);
	CHECK_EQ(host[200 - 88], 0xee);
	CHECK_EQ(host[4096], 0xee);               /* nothing past the first mapping's host page */
	CHECK_EQ(tx.stats.broken + rx.stats.broken, 0);
	penv_fini(&e);
	free(host);
}

/* A one-descriptor chain of the fast path's shape whose id is out of range (TX, RX) or in flight
 * (TX) breaks the ring as on the general path; nothing is written to such an RX buffer. */
RIOV_TEST(packed_fast_bad_ids)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	uint8_t f[64];
	struct pdesc ds[1];
	struct riov_virtq_pkt pk[4];
	penv_init(&e);
	fill_frame(f, sizeof(f), 0);
	/* TX, id out of range */
	CHECK_EQ(p_open(&e, &vq, 1, 8, F_V1), 0);
	p_warm(&vq, d->next_buf, RIOV_VTD_READ);
	p_tx_descs(d, 12, f, sizeof(f), NULL, 0, ds);
	p_post_id(d, ds, 1, 8);
	CHECK(p_tx_fast(&vq));
	CHECK_EQ(riov_virtq_peek(&vq, mp, pk, 4), 0);
	CHECK(vq.broken);
	CHECK_EQ(vq.stats.broken, 1);
	CHECK_EQ(vq.pk.avail, 0);
	/* TX, id in flight: the second of two chains with id 3 in one burst, and in the next burst */
	for (unsigned later = 0; later < 2; later++) {
		CHECK_EQ(p_open(&e, &vq, 1, 8, F_V1), 0);
		p_warm(&vq, ds[0].addr, RIOV_VTD_READ);
		p_post_id(d, ds, 1, 3);
		if (later)
			CHECK_EQ(riov_virtq_peek(&vq, mp, pk, 4), 1);
		p_post_id(d, ds, 1, 3);
		CHECK(p_tx_fast(&vq));
		CHECK_EQ(riov_virtq_peek(&vq, mp, pk + later, 4), 1 - later);
		CHECK(vq.broken);
		CHECK_EQ(vq.stats.broken, 1);
		CHECK_EQ(vq.pk.avail, 1);
		riov_virtq_peek_done(&vq, pk, 1);
		uint16_t id;
		uint32_t len;
		CHECK(p_used(d, &id, &len, 0) && id == 3);
		CHECK(!p_used(d, &id, &len, 0));
	}
	/* RX, id out of range. (An RX id is in flight only between the buffers of one mergeable
	 * packet, and the fast path takes only a packet's first buffer: packed_bad_ids.) */
	CHECK_EQ(p_open(&e, &vq, 0, 8, F_V1), 0);
	p_warm(&vq, d->next_buf, RIOV_VTD_WRITE);
	struct pdesc rb = { .addr = p_buf(d, 256), .len = 256, .flags = RIOV_VRING_DESC_F_WRITE };
	memset(p_host(d, rb.addr), 0xee, 256);
	p_post_id(d, &rb, 1, 9);
	struct rte_mbuf *m[3] = { mk_pkt(100, 1), mk_pkt(100, 2), mk_pkt(100, 3) };
	CHECK_EQ(p_rx_fast(&vq, 100), VQ_E_BAD);
	CHECK_EQ(riov_virtq_enqueue(&vq, m, 3), 0);
	free_pkts(m, 3);
	CHECK(vq.broken);
	CHECK_EQ(vq.stats.broken, 1);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_BROKEN], 3);
	CHECK_EQ(vq.n_held, 0);
	CHECK_EQ(((uint8_t *)p_host(d, rb.addr))[0], 0xee);   /* nothing written */
	CHECK_EQ(((uint8_t *)p_host(d, rb.addr))[12], 0xee);
	uint16_t id;
	uint32_t len;
	CHECK(!p_used(d, &id, &len, 0));
	penv_fini(&e);
}

/* A one-descriptor buffer in the wrong direction (TX with WRITE, RX without) is not the fast
 * path's: the general path drops it as malformed and returns it with length 0, the ring intact. */
RIOV_TEST(packed_fast_wrong_direction)
{
	struct penv e;
	struct riov_virtq vq;
	struct pdrv *d = &e.d;
	uint8_t f[64];
	struct pdesc ds[1];
	penv_init(&e);
	fill_frame(f, sizeof(f), 0);
	CHECK_EQ(p_open(&e, &vq, 1, 8, F_V1), 0);
	p_warm(&vq, d->next_buf, RIOV_VTD_READ | RIOV_VTD_WRITE);
	p_tx_descs(d, 12, f, sizeof(f), NULL, 0, ds);
	ds[0].flags = RIOV_VRING_DESC_F_WRITE;
	uint16_t id = p_post(d, ds, 1);
	CHECK(!p_tx_fast(&vq));
	expect_tx_bad(d, &vq, RIOV_VQ_DROP_BAD_DESC, id);
	ds[0].flags = 0;                            /* the same buffer, rightly directed: fast */
	id = p_post(d, ds, 1);
	CHECK(p_tx_fast(&vq));
	struct rte_mbuf *p[2];
	CHECK_EQ(tx_take(&vq, p, 2), 1);
	CHECK(mbuf_equals(p[0], f, sizeof(f)));
	free_pkts(p, 1);

	CHECK_EQ(p_open(&e, &vq, 0, 8, F_V1), 0);
	p_warm(&vq, d->next_buf, RIOV_VTD_READ | RIOV_VTD_WRITE);
	struct pdesc ro = { .addr = p_buf(d, 2048), .len = 2048 };
	id = p_post(d, &ro, 1);
	CHECK_EQ(p_rx_fast(&vq, 100), 1);
	struct rte_mbuf *m = mk_pkt(100, 1);
	CHECK_EQ(riov_virtq_enqueue(&vq, &m, 1), 0);
	CHECK_EQ(vq.stats.drops[RIOV_VQ_DROP_BAD_DESC], 1);
	uint16_t uid;
	uint32_t len;
	CHECK(p_used(d, &uid, &len, 0) && uid == id && len == 0);
	CHECK(!vq.broken);
	rte_pktmbuf_free(m);
	penv_fini(&e);
}

/* ---------------- a driver that scribbles concurrently ---------------- */

struct scribbler {
	uint8_t *mem;
	uint64_t gpa;
	volatile int stop;
	unsigned long rounds;
};

/* Random stores into both descriptor rings (fields, flags with the wrap bits), the driver's event
 * area and the buffers, from another thread while the device serves the rings. */
static void *scribble(void *arg)
{
	struct scribbler *sc = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	while (!sc->stop) {
		for (unsigned k = 0; k < 64; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			struct riov_vring_packed_desc *ring = (void *)(sc->mem + 2048 * (x & 1));
			struct riov_vring_packed_desc *d = &ring[(x >> 8) & 15];
			struct riov_vring_packed_event *drv = (void *)(sc->mem + 2 * 4096);
			switch ((x >> 20) & 7) {
			case 0:
				d->addr = sc->gpa + ((x >> 24) & (PAGES * 4096ull - 1));
				break;
			case 1:
				d->len = (uint32_t)(x >> 32) & 0x1ffff;
				break;
			case 2:
				d->id = (uint16_t)(x >> 40) & 31;
				break;
			case 3:
			case 4:
				__atomic_store_n(&d->flags, (uint16_t)(x >> 33) & (A_BIT | U_BIT | 7),
						 __ATOMIC_RELEASE);
				break;
			case 5:
				sc->mem[BUF_FIRST_PAGE * 4096u + ((x >> 28) & 0xffff)] = (uint8_t)x;
				break;
			default:
				drv->off_wrap = (uint16_t)(x >> 12);
				drv->flags = (uint16_t)(x >> 44) & 3;
				break;
			}
		}
		__atomic_fetch_add(&sc->rounds, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int p_open_at(struct penv *e, struct riov_virtq *vq, uint16_t qid, void *desc, uint16_t base,
		     uint64_t features)
{
	struct riov_vhost_vring_info vi = {
		.qid = qid, .size = 16, .desc = desc, .avail = e->d.drv, .used = e->d.dev,
		.last_avail_idx = base, .last_used_idx = base, .features = features | F_PK,
		.vtd = e->vtd, .sid = T_SID, .callfd = e->d.efd,
		.msi_addr = e->d.msi_addr, .msi_data = e->d.msi_data,
	};
	return riov_virtq_init(vq, &vi);
}

RIOV_TEST(packed_hostile_driver_thread)
{
	struct penv e;
	struct riov_virtq tx, rx;
	struct scribbler sc = { 0 };
	pthread_t th;
	penv_init(&e);
	struct riov_vring_packed_desc *tring = (void *)e.d.mem, *rring = (void *)(e.d.mem + 2048);
	const uint64_t feat = F_V1 | F_MRG | F_IND | F_EVT;
	CHECK_EQ(p_open_at(&e, &tx, 1, tring, 0x8000, feat), 0);
	CHECK_EQ(p_open_at(&e, &rx, 0, rring, 0x8000, feat), 0);
	for (uint16_t i = 0; i < 16; i++) {
		uint64_t tb = p_buf(&e.d, 12 + 100);
		tring[i] = (struct riov_vring_packed_desc){ .addr = tb, .len = 112, .id = i, .flags = A_BIT };
		rring[i] = (struct riov_vring_packed_desc){ .addr = p_buf(&e.d, 1024), .len = 1024, .id = i,
							    .flags = A_BIT | RIOV_VRING_DESC_F_WRITE };
	}
	sc.mem = e.d.mem;
	sc.gpa = e.d.gpa;
	pthread_attr_t attr;
	cpu_set_t all;
	CPU_ZERO(&all);
	for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; c++)
		CPU_SET(c, &all);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(all), &all);
	CHECK_EQ(pthread_create(&th, &attr, scribble, &sc), 0);
	pthread_attr_destroy(&attr);
	unsigned long moved = 0, restarts = 0;
	for (unsigned it = 0;
	     it < 5000 || (__atomic_load_n(&sc.rounds, __ATOMIC_RELAXED) < 3000 && it < 5000000);
	     it++) {
		struct rte_mbuf *p[RIOV_VIRTQ_BURST];
		uint16_t n = tx_take(&tx, p, RIOV_VIRTQ_BURST);
		riov_virtq_enqueue(&rx, p, n);
		moved += n;
		free_pkts(p, n);
		if (n == 0)
			sched_yield();
		riov_virtq_flush_held(&rx);
		riov_virtq_notify(&tx);
		riov_virtq_notify(&rx);
		/* a broken queue is restarted where the device had got to */
		if (tx.broken) {
			restarts++;
			CHECK_EQ(p_open_at(&e, &tx, 1, tring, tx.last_avail_idx, feat), 0);
		}
		if (rx.broken) {
			restarts++;
			uint16_t base = rx.last_avail_idx;
			riov_virtq_release(&rx);
			CHECK_EQ(p_open_at(&e, &rx, 0, rring, base, feat), 0);
		}
	}
	sc.stop = 1;
	pthread_join(th, NULL);
	riov_virtq_release(&rx);
	printf("# hostile packed driver: %lu rounds, %lu packets out, %lu restarts\n", sc.rounds, moved,
	       restarts);
	riov_vtd_faults_read(e.vtd, (struct riov_vtd_fault[16]){ 0 }, 16, true);
	penv_fini(&e);
}

int main(void)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=test_virtq_packed_%d", (int)getpid());
	char *argv[] = { "test_virtq_packed", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
			 "--log-level=1", prefix, NULL };
	riov_eal_rundir_remove_at_exit();
	if (rte_eal_init(8, argv) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	mp = rte_pktmbuf_pool_create("tvqp", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (mp == NULL) {
		fprintf(stderr, "mempool create failed\n");
		return 1;
	}
	static const struct riov_test_case cases[] = {
		RIOV_TEST_ENTRY(packed_init),
		RIOV_TEST_ENTRY(packed_tx_one_and_chain),
		RIOV_TEST_ENTRY(packed_tx_indirect),
		RIOV_TEST_ENTRY(packed_tx_wrap_laps),
		RIOV_TEST_ENTRY(packed_publish_records_position),
		RIOV_TEST_ENTRY(packed_tx_in_order_batch),
		RIOV_TEST_ENTRY(packed_rx_single),
		RIOV_TEST_ENTRY(packed_rx_mergeable),
		RIOV_TEST_ENTRY(packed_rx_publish_order),
		RIOV_TEST_ENTRY(packed_tx_many_segments),
		RIOV_TEST_ENTRY(packed_rx_too_big_and_short_header),
		RIOV_TEST_ENTRY(packed_rx_pend_full),
		RIOV_TEST_ENTRY(packed_viommu_waits),
		RIOV_TEST_ENTRY(packed_notify_rules),
		RIOV_TEST_ENTRY(packed_bad_not_available),
		RIOV_TEST_ENTRY(packed_bad_ids),
		RIOV_TEST_ENTRY(packed_bad_chains),
		RIOV_TEST_ENTRY(packed_bad_overrun),
		RIOV_TEST_ENTRY(packed_dirty_log),
		RIOV_TEST_ENTRY(packed_fast_tx_one),
		RIOV_TEST_ENTRY(packed_fast_rx_one),
		RIOV_TEST_ENTRY(packed_fast_direct),
		RIOV_TEST_ENTRY(packed_fast_rx_small),
		RIOV_TEST_ENTRY(packed_fast_two_mappings),
		RIOV_TEST_ENTRY(packed_fast_bad_ids),
		RIOV_TEST_ENTRY(packed_fast_wrong_direction),
		RIOV_TEST_ENTRY(packed_hostile_driver_thread),
	};
	int rc = riov_test_run(cases, sizeof(cases) / sizeof(cases[0]));
	rte_mempool_free(mp);
	rte_eal_cleanup();
	return rc;
}
