/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the VT-d model (iommu/): programming operations, raw tables and IRTEs,
 * translations and interrupts on a private unit, through riov_vtd_fuzz_one(). The unit test
 * tests/unit/iommu/test_vtd_fuzz_replay.c replays the corpus through the same function in ordinary
 * builds. Reaches the model's internals through iommu/vtd_internal.h (raw table access).
 *
 * Security model: the input is arbitrary bytes. They are read as a sequence of operations on a
 * private unit: programming calls with arbitrary arguments, raw writes of root, context and
 * interrupt-remapping entries with arbitrary contents, raw writes of second-stage entries (only
 * the bits hardware-walker safety does not rest on: a present non-leaf entry keeps its table
 * address, and a leaf superpage keeps PS; see vtd_internal.h), translations and interrupts.
 * The model must not crash, hang or leak, and every fault it returns must be one of the
 * specification's reasons; anything else aborts so the fuzzer reports it.
 *
 * Byte format (little-endian; missing bytes read as 0): a header byte (bits 1:0 AW 39/48/57,
 * bit 2 CM, bits 5:3 fault log size - 1, bit 6 IRTE count 64/16, bit 7 IOTLB 4/64 entries), four
 * cursor source-id selectors, then up to 4096 operations: an opcode byte (mod 16: 0 domain create,
 * 1 destroy, 2 map, 3 unmap, 4 context set, 5 nested, 6 clear, 7 invalidate, 8 raw PTE, 9 raw root,
 * 10 raw context, 11 raw IRTE, 12 irte_set, 13 irq_raise, 14 translate, 15 read faults/stats and
 * flush) followed by its operands as read by the fz_op*() functions below. corpus/vtd/gen_seeds.py
 * writes seeds in this format.
 *
 * Thread rules: one thread (the fuzzer's or the replay test's).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "iommu/vtd_internal.h"
#include "tests/fuzz/fuzz_entry.h"

struct fz {
	const uint8_t *p;
	size_t n, i;
};

/* One input's unit and what its operations share. */
struct fz_run {
	struct fz f;
	struct riov_vtd *vtd;
	struct riov_vtd_cursor cur[4];
	struct vtd_pid *pid;      /* two posted-interrupt descriptors irte_set may name */
	int efd;                  /* an eventfd irte_set may name */
	uint64_t budget;          /* small pages the input may still map */
};

static uint64_t fz_get(struct fz *f, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned k = 0; k < bytes; k++)
		v |= (uint64_t)(f->i < f->n ? f->p[f->i++] : 0) << (8 * k);
	return v;
}

static uint16_t fz_sid(struct fz *f)
{
	static const uint16_t sids[8] = { 0x0000, 0x0008, 0x0010, 0x0100, 0x0101, 0x0208, 0xff07, 0x0317 };
	return sids[fz_get(f, 1) & 7];
}

static uint16_t fz_did(struct fz *f)
{
	return (uint16_t)(fz_get(f, 1) % 7); /* 0 (invalid) .. 6 */
}

static uint64_t fz_addr(struct fz *f)
{
	unsigned sel = (unsigned)fz_get(f, 1);
	uint64_t x = fz_get(f, 2);
	switch (sel & 3) {
	case 0:
		return x << 12;
	case 1:
		return (x & 0x3ff) << 21;
	case 2:
		return (x & 0x3f) << 30;
	default:
		return fz_get(f, 8) >> (sel >> 2 & 15);
	}
}

static bool dma_reason_ok(int rc)
{
	switch (-rc) {
	case 0:
	case RIOV_VTD_FR_ROOT_NOT_PRESENT:
	case RIOV_VTD_FR_CTX_NOT_PRESENT:
	case RIOV_VTD_FR_CTX_INVALID:
	case RIOV_VTD_FR_ADDR_BEYOND_AW:
	case RIOV_VTD_FR_WRITE:
	case RIOV_VTD_FR_READ:
	case RIOV_VTD_FR_ROOT_ADDR:
	case RIOV_VTD_FR_ROOT_RSVD:
	case RIOV_VTD_FR_CTX_RSVD:
	case RIOV_VTD_FR_PTE_RSVD:
	case RIOV_VTD_IOTLB_MISS:     /* nested: empty first stage (not a fault, see vtd_dp.h) */
		return true;
	default:
		return false;
	}
}

static bool ir_reason_ok(int rc)
{
	return rc == 0 || (-rc >= RIOV_VTD_FR_IR_RSVD && -rc <= RIOV_VTD_FR_IR_SID);
}

/* op 8: mutate a second-stage entry without breaking what the walkers rely on (file comment). */
static void fz_pte(struct riov_vtd *vtd, struct fz *f)
{
	uint16_t did = fz_did(f);
	uint64_t iova = fz_addr(f);
	unsigned level = 1 + (unsigned)(fz_get(f, 1) % 5);
	uint64_t x = fz_get(f, 8);
	uint64_t *e = vtd_raw_pte(vtd, did, iova, level);

	if (e == NULL)
		return;
	uint64_t v = *e;
	bool present = (v & VTD_SL_PTE_PERM) != 0;
	bool leaf = level == 1 || (level <= 3 && (v & VTD_SL_PTE_PS));
	if (present && !leaf) {
		/* keep the table address (bits HAW-1:12); may set PS (2/3: becomes a leaf onto the
		 * table's memory, which is never dereferenced as data; 4/5: reserved) */
		x &= ~VTD_HAW_MASK;
	} else if (leaf && level > 1) {
		x &= ~VTD_SL_PTE_PS;
	} else if (!present && level > 1) {
		/* may not become a present non-leaf pointing anywhere */
		x &= ~(VTD_SL_PTE_PERM | VTD_SL_PTE_PS);
	}
	__atomic_store_n(e, v ^ x, __ATOMIC_RELEASE);
}

/* op 2: map, with the work bounded per operation and per input */
static void fz_op_map(struct fz_run *r)
{
	struct fz *f = &r->f;
	uint16_t did = fz_did(f);
	uint64_t iova = fz_addr(f), hpa = fz_addr(f);
	uint64_t len = (fz_get(f, 1) + 1) << (12 + 9 * (fz_get(f, 1) % 3));
	/* bound the work per op: many small pages only for small lengths */
	if (((iova | hpa) & ((1ull << 30) - 1)) && len > (64ull << 20))
		len = 64ull << 20;
	if (len > (8ull << 30))
		len = 8ull << 30;
	/* and per input: at most 1 Mi small pages (8 MiB of tables) */
	uint64_t small = ((iova | hpa) & ((2ull << 20) - 1)) ? len >> 12 : len >> 21;
	unsigned perm = (unsigned)fz_get(f, 1) & 7;
	if (small > r->budget)
		return;
	r->budget -= small;
	riov_vtd_map(r->vtd, did, iova, hpa, len, perm);
}

/* op 7: one of the five invalidations */
static void fz_op_inv(struct riov_vtd *vtd, struct fz *f)
{
	unsigned x = (unsigned)fz_get(f, 1);
	switch (x % 5) {
	case 0: riov_vtd_inv_context_global(vtd); break;
	case 1: riov_vtd_inv_context_device(vtd, fz_sid(f)); break;
	case 2: riov_vtd_inv_iotlb_global(vtd); break;
	case 3: riov_vtd_inv_iotlb_domain(vtd, fz_did(f)); break;
	default: {
		uint16_t did = fz_did(f);
		uint64_t a = fz_addr(f);
		riov_vtd_inv_iotlb_page(vtd, did, a, (unsigned)fz_get(f, 1) % 24);
	}
	}
}

/* ops 9, 10, 11: flip bits of a root, context or interrupt-remapping entry */
static void fz_op_raw(struct riov_vtd *vtd, struct fz *f, unsigned op)
{
	uint64_t lo = 0, hi = 0;

	if (op == 9) {
		uint8_t bus = (uint8_t)(fz_sid(f) >> 8);
		vtd_raw_root_read(vtd, bus, &lo, &hi);
		lo ^= fz_get(f, 8);
		hi ^= fz_get(f, 1) & 1 ? fz_get(f, 8) : 0;
		vtd_raw_root_write(vtd, bus, lo, hi);
	} else if (op == 10) {
		uint16_t sid = fz_sid(f);
		vtd_raw_ctx_read(vtd, sid, &lo, &hi);
		lo ^= fz_get(f, 8);
		hi ^= fz_get(f, 8);
		vtd_raw_ctx_write(vtd, sid, lo, hi);
	} else {
		uint32_t idx = (uint32_t)fz_get(f, 1);
		vtd_raw_irte_read(vtd, idx, &lo, &hi);
		vtd_raw_irte_write(vtd, idx, lo ^ fz_get(f, 8), hi ^ fz_get(f, 8));
	}
}

/* op 12: install an IRTE through the programming API */
static void fz_op_irte_set(struct fz_run *r)
{
	struct fz *f = &r->f;
	struct riov_vtd_irte e;
	uint64_t x = fz_get(f, 8);
	memset(&e, 0, sizeof(e));
	e.present = x & 1;
	e.fpd = (x >> 1) & 1;
	e.posted = (x >> 2) & 1;
	e.dest_mode = (x >> 3) & 1;
	e.redir_hint = (x >> 4) & 1;
	e.trigger_mode = (x >> 5) & 1;
	e.delivery_mode = (x >> 6) & 7;
	e.vector = (uint8_t)(x >> 9);
	e.dest_id = (uint32_t)(x >> 17);
	e.svt = (x >> 49) & 3;
	e.sq = (x >> 51) & 3;
	e.sid = fz_sid(f);
	e.urgent = (x >> 53) & 1;
	/* the programming API trusts pda to be riov's descriptor: give it one, or a value its
	 * validation rejects (0, unaligned) */
	e.pda = (x >> 54) & 1 ? (uint64_t)(uintptr_t)&r->pid[(x >> 55) & 1] : (x >> 56) & 63;
	e.eventfd = (x >> 62) & 1 ? r->efd : -1;
	e.coalesce_count = (uint32_t)((x >> 57) & 3);
	e.coalesce_usecs = (x >> 59) & 1 ? 100 : 0;
	riov_vtd_irte_set(r->vtd, (uint32_t)fz_get(f, 1), &e);
}

/* op 13: raise an interrupt (composed remappable MSI or raw address/data) */
static void fz_op_irq(struct riov_vtd *vtd, struct fz *f)
{
	uint16_t sid = fz_sid(f);
	uint64_t addr;
	uint32_t data;
	unsigned x = (unsigned)fz_get(f, 1);
	if (x & 1) {
		riov_vtd_msi_compose((uint32_t)fz_get(f, 2), (x >> 1) & 1, (uint16_t)fz_get(f, 1),
				     &addr, &data);
	} else {
		addr = 0xfee00000ull | fz_get(f, 3);
		if (x & 2)
			addr = fz_get(f, 8);
		data = (uint32_t)fz_get(f, 4);
	}
	int rc = riov_vtd_irq_raise(vtd, sid, addr, data);
	if (!ir_reason_ok(rc))
		abort();
}

/* op 14: translate on one of the cursors: a walk, then a cache hit */
static void fz_op_translate(struct fz_run *r)
{
	struct fz *f = &r->f;
	struct riov_vtd_cursor *c = &r->cur[fz_get(f, 1) & 3];
	uint64_t iova = fz_addr(f), len = 1 + fz_get(f, 3);
	unsigned acc = (unsigned)fz_get(f, 1) & 3;
	void *hva;
	uint64_t m = 0;
	for (unsigned k = 0; k < 2; k++) {
		int rc = riov_vtd_translate(c, iova, len, acc, &hva, &m);
		if (!dma_reason_ok(rc) || (rc == 0 && (m < 1 || m > len)))
			abort();
	}
}

/* op 15: read faults and statistics, flush coalesced interrupts */
static void fz_op_inspect(struct riov_vtd *vtd, struct fz *f)
{
	struct riov_vtd_fault fl[4];
	struct riov_vtd_fault_stats st;
	struct riov_vtd_domain_info di;
	riov_vtd_faults_read(vtd, fl, 4, fz_get(f, 1) & 1);
	riov_vtd_fault_stats(vtd, &st);
	riov_vtd_irq_flush(vtd);
	riov_vtd_domain_info(vtd, fz_did(f), &di);
}

/* One operation: its operands follow the opcode in the input. */
static void fz_op(struct fz_run *r, unsigned op)
{
	struct riov_vtd *vtd = r->vtd;
	struct fz *f = &r->f;

	switch (op) {
	case 0:
		riov_vtd_domain_create(vtd, fz_did(f), 3 + (unsigned)(fz_get(f, 1) % 3));
		break;
	case 1:
		riov_vtd_domain_destroy(vtd, fz_did(f));
		break;
	case 2:
		fz_op_map(r);
		break;
	case 3: {
		uint16_t did = fz_did(f);
		uint64_t iova = fz_addr(f);
		uint64_t len = (fz_get(f, 2) + 1) << (12 + 9 * (fz_get(f, 1) % 3));
		riov_vtd_unmap(vtd, did, iova, len);
		break;
	}
	case 4: {
		uint16_t sid = fz_sid(f), did = fz_did(f);
		unsigned x = (unsigned)fz_get(f, 1);
		riov_vtd_context_set(vtd, sid, did, (enum riov_vtd_ttype)(x & 3), (x >> 2) & 1);
		break;
	}
	case 5: {
		uint16_t sid = fz_sid(f), s1 = fz_did(f), s2 = fz_did(f);
		riov_vtd_context_set_nested(vtd, sid, s1, s2, fz_get(f, 1) & 1);
		break;
	}
	case 6:
		riov_vtd_context_clear(vtd, fz_sid(f));
		break;
	case 7:
		fz_op_inv(vtd, f);
		break;
	case 8:
		fz_pte(vtd, f);
		break;
	case 9:
	case 10:
	case 11:
		fz_op_raw(vtd, f, op);
		break;
	case 12:
		fz_op_irte_set(r);
		break;
	case 13:
		fz_op_irq(vtd, f);
		break;
	case 14:
		fz_op_translate(r);
		break;
	default:
		fz_op_inspect(vtd, f);
		break;
	}
}

/* The header byte: the unit's configuration. NULL if it cannot be created. */
static struct riov_vtd *fz_unit(struct fz *f)
{
	struct riov_vtd_config cfg;
	unsigned hdr = (unsigned)fz_get(f, 1);

	memset(&cfg, 0, sizeof(cfg));
	cfg.aw_bits = (hdr & 3) == 0 ? 39 : (hdr & 3) == 1 ? 48 : 57;
	cfg.caching_mode = (hdr >> 2) & 1;
	cfg.fault_log_size = 1 + ((hdr >> 3) & 7);
	cfg.irte_count = (hdr >> 6) & 1 ? 64 : 16;
	cfg.iotlb_entries = (hdr >> 7) & 1 ? 4 : 64; /* small: evictions and set conflicts */
	return riov_vtd_create(&cfg);
}

int riov_vtd_fuzz_one(const uint8_t *data, size_t size)
{
	static int efd = -2;
	struct fz_run r = { .f = { data, size, 0 }, .budget = 1u << 20 };

	if (efd == -2)
		efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r.efd = efd;
	r.vtd = fz_unit(&r.f);
	if (r.vtd == NULL)
		return 0;
	r.pid = aligned_alloc(64, 2 * sizeof(*r.pid));
	if (r.pid == NULL) {
		riov_vtd_destroy(r.vtd);
		return 0;
	}
	memset(r.pid, 0, 2 * sizeof(*r.pid));
	for (unsigned i = 0; i < 4; i++)
		riov_vtd_cursor_init(&r.cur[i], r.vtd, fz_sid(&r.f));

	for (unsigned steps = 0; r.f.i < r.f.n && steps < 4096; steps++)
		fz_op(&r, (unsigned)fz_get(&r.f, 1) % 16);
	riov_vtd_destroy(r.vtd);
	free(r.pid);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return riov_vtd_fuzz_one(data, size);
}
