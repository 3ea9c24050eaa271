/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals of riov's VT-d model: bitfields of the architectural structures (named after the Intel
 * VT-d Architecture Specification, rev. 4.x, grouped per structure), the unit/domain layout and the
 * caches, and the helpers the model's files share (vtd.c, vtd_ctx.c, vtd_inv.c, vtd_xlate.c).
 * Nothing outside iommu/ includes this file but its unit tests and fuzz harness (tests/fuzz/).
 *
 * Security model: the structures described here are the remapping hardware's view of memory. In riov
 * they are written only by riov's control thread (from guest requests that vmm/ has validated), but
 * the walkers still treat every entry as untrusted: reserved bits are checked before any field is
 * used, and every pointer an entry holds (context-table pointer, second-stage table pointer,
 * posted-descriptor address) is compared with the allocation riov made for it before it is followed,
 * so a corrupted entry yields a fault, never a wild memory access.
 */
#ifndef RIOV_IOMMU_VTD_INTERNAL_H
#define RIOV_IOMMU_VTD_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "iommu/vtd.h"

#define VTD_BIT(n) (1ull << (n))
#define VTD_MASK(hi, lo) ((~0ull >> (63 - (hi))) & ~((1ull << (lo)) - 1))

/* Host address width of the model (CAP.MGAW/HAW, VT-d 10.4.2): host addresses are user-space
 * virtual addresses, below 2^48 on x86-64 with 4-level paging. Bits above are reserved. */
#define VTD_HAW 48
#define VTD_HAW_MASK VTD_MASK(VTD_HAW - 1, 12)

#define VTD_PAGE_SHIFT 12
#define VTD_PAGE_SIZE (1ull << VTD_PAGE_SHIFT)
#define VTD_LEVEL_STRIDE 9
#define VTD_PT_ENTRIES 512
/* Size covered by one entry of a table at level l (1 = PTE ... 5 = PML5E). */
#define VTD_LEVEL_SHIFT(l) (VTD_PAGE_SHIFT + VTD_LEVEL_STRIDE * ((l) - 1))
#define VTD_LEVEL_SIZE(l) (1ull << VTD_LEVEL_SHIFT(l))

/* ---- Root entry, legacy mode (VT-d 9.1): 128 bits, one per bus ---- */
#define VTD_ROOT_LO_P        VTD_BIT(0)
#define VTD_ROOT_LO_RSVD     VTD_MASK(11, 1)
#define VTD_ROOT_LO_CTP      VTD_MASK(63, 12)  /* context-table pointer; bits >= HAW reserved */
#define VTD_ROOT_HI_RSVD     (~0ull)            /* upper 64 bits reserved in legacy mode */

/* Scalable mode (VT-d 9.2 scalable-mode root entry with LCTP/UCTP, 9.4 scalable-mode context
 * entry, 9.5/9.6 PASID directory and table) is not modelled yet. Room left for it: the root
 * entry's upper half is checked as reserved (legacy) in one place (ctx_decode), the context cache
 * and the cursors hold a decoded context (domain pointers, stage flags) rather than raw entries,
 * and nested contexts already carry first- and second-stage domains, so a PASID-granular decode
 * would plug in under the same cache with a PASID added to the IOTLB tag. */

/* ---- Context entry, legacy mode (VT-d 9.3): 128 bits, one per device/function ---- */
#define VTD_CTX_LO_P         VTD_BIT(0)
#define VTD_CTX_LO_FPD       VTD_BIT(1)
#define VTD_CTX_LO_TT_SHIFT  2
#define VTD_CTX_LO_TT        VTD_MASK(3, 2)
#define VTD_CTX_LO_RSVD      VTD_MASK(11, 4)
#define VTD_CTX_LO_SLPTPTR   VTD_MASK(63, 12)   /* second-stage table pointer; bits >= HAW reserved */
#define VTD_CTX_HI_AW        VTD_MASK(2, 0)     /* 1: 39-bit 3-level, 2: 48-bit 4-level, 3: 57-bit 5-level */
#define VTD_CTX_HI_IGN       VTD_MASK(6, 3)     /* ignored by hardware, available to software */
#define VTD_CTX_HI_RSVD7     VTD_BIT(7)
#define VTD_CTX_HI_DID_SHIFT 8
#define VTD_CTX_HI_DID       VTD_MASK(23, 8)
#define VTD_CTX_HI_RSVD      (VTD_MASK(63, 24) | VTD_CTX_HI_RSVD7)
/* riov's use of the ignored bits: "this device is nested"; the first-stage domain id is held in
 * the context table's software extension (struct vtd_ctx_ext), as scalable-mode PASID entries would. */
#define VTD_CTX_HI_RIOV_NESTED VTD_BIT(3)

#define VTD_TT_MULTI_LEVEL   0u
#define VTD_TT_DEV_TLB       1u
#define VTD_TT_PASS_THROUGH  2u
#define VTD_TT_RESERVED      3u

/* ---- Second-stage paging entries (VT-d 9.8): 64 bits ---- */
#define VTD_SL_PTE_R         VTD_BIT(0)
#define VTD_SL_PTE_W         VTD_BIT(1)
#define VTD_SL_PTE_X         VTD_BIT(2)         /* reserved: ECAP.SLEE=0 in this model */
#define VTD_SL_PTE_EMT       VTD_MASK(5, 3)     /* ignored: ECAP.MTS=0 */
#define VTD_SL_PTE_IPAT      VTD_BIT(6)
#define VTD_SL_PTE_PS        VTD_BIT(7)         /* page size: leaf at PDPE (1 GiB) / PDE (2 MiB) */
#define VTD_SL_PTE_A         VTD_BIT(8)
#define VTD_SL_PTE_D         VTD_BIT(9)
#define VTD_SL_PTE_SNP       VTD_BIT(11)
#define VTD_SL_PTE_ADDR      VTD_MASK(51, 12)
#define VTD_SL_PTE_ADDR_RSVD VTD_MASK(51, VTD_HAW)
#define VTD_SL_PTE_TM        VTD_BIT(62)
#define VTD_SL_PTE_PERM      (VTD_SL_PTE_R | VTD_SL_PTE_W)
/* Reserved bits per entry kind (VT-d 9.8, with SLEE=0, SLLPS = 2 MiB + 1 GiB, HAW as above). */
#define VTD_SL_RSVD_COMMON   (VTD_SL_PTE_X | VTD_SL_PTE_ADDR_RSVD)
#define VTD_SL_RSVD_PML45E   (VTD_SL_RSVD_COMMON | VTD_SL_PTE_PS)  /* PS is reserved at levels 4, 5 */
#define VTD_SL_RSVD_2M       (VTD_SL_RSVD_COMMON | VTD_MASK(20, 12))
#define VTD_SL_RSVD_1G       (VTD_SL_RSVD_COMMON | VTD_MASK(29, 12))

/* ---- Interrupt-remapping table entry (VT-d 9.10 remapped, 9.11 posted): 128 bits ---- */
#define VTD_IRTE_P            VTD_BIT(0)
#define VTD_IRTE_FPD          VTD_BIT(1)
#define VTD_IRTE_DM           VTD_BIT(2)
#define VTD_IRTE_RH           VTD_BIT(3)
#define VTD_IRTE_TM           VTD_BIT(4)
#define VTD_IRTE_DLM_SHIFT    5
#define VTD_IRTE_DLM          VTD_MASK(7, 5)
#define VTD_IRTE_AVAIL        VTD_MASK(11, 8)
#define VTD_IRTE_RSVD_LO      (VTD_MASK(14, 12) | VTD_MASK(31, 24))
#define VTD_IRTE_IM           VTD_BIT(15)        /* 1: posted format */
#define VTD_IRTE_V_SHIFT      16
#define VTD_IRTE_V            VTD_MASK(23, 16)
#define VTD_IRTE_DST_SHIFT    32
#define VTD_IRTE_DST          VTD_MASK(63, 32)   /* x2APIC mode (EIM=1): all 32 bits */
/* posted format, low word */
#define VTD_IRTE_PI_RSVD_LO   (VTD_MASK(7, 2) | VTD_MASK(13, 12) | VTD_MASK(37, 24))
#define VTD_IRTE_PI_URG       VTD_BIT(14)
#define VTD_IRTE_PI_VV_SHIFT  16
#define VTD_IRTE_PI_VV        VTD_MASK(23, 16)
#define VTD_IRTE_PI_PDAL_SHIFT 38
#define VTD_IRTE_PI_PDAL      VTD_MASK(63, 38)   /* PDA bits 31:6 */
/* high word, both formats */
#define VTD_IRTE_HI_SID       VTD_MASK(15, 0)
#define VTD_IRTE_HI_SQ_SHIFT  16
#define VTD_IRTE_HI_SQ        VTD_MASK(17, 16)
#define VTD_IRTE_HI_SVT_SHIFT 18
#define VTD_IRTE_HI_SVT       VTD_MASK(19, 18)
#define VTD_IRTE_HI_RSVD      VTD_MASK(63, 20)
#define VTD_IRTE_PI_HI_RSVD   VTD_MASK(31, 20)
#define VTD_IRTE_PI_PDAH_SHIFT 32
#define VTD_IRTE_PI_PDAH      VTD_MASK(63, 32)   /* PDA bits 63:32 */

#define VTD_SVT_NONE 0u
#define VTD_SVT_SID  1u
#define VTD_SVT_BUS  2u

/* ---- Remappable-format MSI (VT-d 5.1.2.2) ---- */
#define VTD_MSI_ADDR_BASE_MASK  VTD_MASK(31, 20)
#define VTD_MSI_ADDR_BASE       0xfee00000ull
#define VTD_MSI_ADDR_IF         VTD_BIT(4)      /* interrupt format: 1 = remappable */
#define VTD_MSI_ADDR_SHV        VTD_BIT(3)
#define VTD_MSI_ADDR_HANDLE15   VTD_BIT(2)
#define VTD_MSI_ADDR_HANDLE_SHIFT 5
#define VTD_MSI_ADDR_HANDLE     VTD_MASK(19, 5)  /* handle[14:0] */
#define VTD_MSI_DATA_SUBHANDLE  0xffffu

/* ---- Posted-interrupt descriptor (VT-d 9.12): 64 bytes ---- */
#define VTD_PID_CTL_ON        VTD_BIT(0)
#define VTD_PID_CTL_SN        VTD_BIT(1)
#define VTD_PID_CTL_NV_SHIFT  16
#define VTD_PID_CTL_NV        VTD_MASK(23, 16)
#define VTD_PID_CTL_NDST_SHIFT 32
#define VTD_PID_CTL_NDST      VTD_MASK(63, 32)
struct vtd_pid {
	uint64_t pir[4];   /* posted-interrupt requests, one bit per vector */
	uint64_t ctl;      /* ON, SN, NV, NDST */
	uint64_t rsvd[3];
};

/* ---------------------------------------------------------------------------------------------- */
/* Model layout */

#define VTD_IOTLB_WAYS 4
#define VTD_IOTLB_DEFAULT_ENTRIES 4096u
#define VTD_CC_SIZE_LOG2 10
#define VTD_CC_SIZE (1u << VTD_CC_SIZE_LOG2)

/* IOTLB entry: fields are read without locks and validated by seq (odd while a writer owns it). */
struct vtd_iotlb_ent {
	_Atomic uint32_t seq;
	uint32_t perm;           /* RIOV_VTD_READ|WRITE; 0 = cached not-present (CM=1 only) */
	uint64_t tag;            /* VTD_TAG_VALID | did | s2 did << 16 | nested << 32 */
	uint64_t key;            /* iova page base | size shift */
	uint64_t hbase;          /* host address of the page base */
};
#define VTD_TAG_VALID VTD_BIT(40)
#define VTD_TAG_NESTED VTD_BIT(32)

/* Context-cache entry (decoded context entry). */
struct vtd_cc_ent {
	_Atomic uint32_t seq;
	uint32_t sid_valid;      /* sid | 1 << 16 when valid */
	uint64_t info;           /* tt | fpd << 2 | nested << 3 | did << 16 | s1 did << 32 */
	struct vtd_domain *dom;  /* second stage (or the only stage) */
	struct vtd_domain *dom1; /* first stage when nested */
};
#define VTD_CCI_TT(i) ((unsigned)((i) & 3))
#define VTD_CCI_FPD VTD_BIT(2)
#define VTD_CCI_NESTED VTD_BIT(3)
#define VTD_CCI_DID(i) ((uint16_t)((i) >> 16))
#define VTD_CCI_S1DID(i) ((uint16_t)((i) >> 32))

/* Software extension of a context table (not seen by "hardware" rules). */
#define VTD_LINKS 4
struct vtd_ctx_ext {
	uint16_t s1_did;       /* first-stage domain when VTD_CTX_HI_RIOV_NESTED */
	uint16_t att_did;      /* attachment bookkeeping: what context_set attached */
	uint16_t att_s1;
	uint8_t att_kind;      /* 0 none, 1 single, 2 nested */
	/* the domain ids whose users lists hold this source-id (vtd_inv.c): every did an entry
	 * written here named since the source-id's last context invalidation; lk_lost when there
	 * were more than VTD_LINKS (then every list is searched at the next one) */
	uint8_t nlk;
	uint16_t lk[VTD_LINKS];
	uint8_t lk_lost;
};

/* A context table: 256 architectural entries (4 KiB, as hardware reads them) + riov's extension. */
struct vtd_ctx_table {
	uint64_t ent[256][2];
	struct vtd_ctx_ext ext[256];
};

struct vtd_domain {
	uint16_t did;
	unsigned levels;
	uint64_t *root;
	_Atomic uint32_t sizes;      /* page sizes that may be cached: bit 0 4K, 1 2M, 2 1G */
	uint64_t **tables;           /* every table page this domain allocated (freed at destroy) */
	size_t ntables, cap_tables;
	uint64_t **free;             /* unlinked tables, safe to reuse (after synchronize) */
	size_t nfree, cap_free;
	uint64_t **pending;          /* unlinked tables workers may still read */
	size_t npending, cap_pending;
	uint64_t mapped_bytes;
	uint64_t table_limit;        /* tables in use (ntables - nfree) may not exceed it */
	uint64_t table_refused;      /* maps and splits refused for table_limit */
	uint32_t attached;
	uint8_t nested_used;             /* ever used by a nested context (sticky) */
};

/* Invalidation generation of one source-id (VT-d has none; riov's cursors are its device-IOTLB):
 * the word a requester's cursor checks on every hit (riov_vtd_cursor.genp). Every invalidation
 * that covers what the requester may have cached moves it, before the caches are scrubbed and
 * once more after (vtd_inv.c). One cache line each, so that one device's invalidations do not
 * take the line from under its neighbours' hits. */
/* What one move of a source-id's generation covered: iova [start, end) of a page-selective
 * invalidation of a domain whose addresses are the source-id's own, or everything (end 0). gen is
 * the generation the move reached, 0 while the record is written (a seqlock). */
struct vtd_inv_rec {
	_Atomic uint64_t gen;
	_Atomic uint64_t start;
	_Atomic uint64_t end;
};
#define VTD_INV_LOG 16

struct vtd_sgen {
	_Alignas(64) _Atomic uint64_t gen;
	struct vtd_inv_rec log[VTD_INV_LOG];
};

/* The source-ids whose cursors may hold translations through a domain id: every source-id a
 * context entry naming it (as its domain, or as the first stage of a nested one) was written
 * for, kept until that source-id's next context invalidation (the cached context may still name
 * the domain until then). A domain's invalidations move these source-ids' generations only.
 * Control thread only. */
struct vtd_users {
	uint16_t *sid;
	uint32_t n, cap;
};

struct vtd_irte_rt {                /* per-IRTE runtime state riov keeps beside the table */
	int eventfd;
	uint32_t coalesce_count;
	uint32_t coalesce_usecs;
	struct vtd_pid *pid;        /* posted descriptor (what irte_set registered) */
	_Atomic uint32_t count;     /* interrupts since the last delivery (count coalescing) */
	_Atomic uint32_t pending;   /* a coalesced interrupt awaits delivery */
	_Atomic uint64_t last_ns;   /* last delivery (time coalescing) */
	_Atomic uint64_t delivered;
};

struct vtd_fault_log {
	atomic_flag lock;
	unsigned size, head, count;
	struct riov_vtd_fault *rec;
	struct riov_vtd_fault_stats st;
	bool pfo;
	struct riov_ratelimit rl;   /* log lines for new records (used under lock) */
};

struct riov_vtd {
	struct riov_vtd_config cfg;
	/* invalidation generations (vtd_inv.c): per source-id, a page of 256 per bus allocated with
	 * the bus's context table (workers read the pointers with __atomic loads) ... */
	struct vtd_sgen *sgen[256];
	/* ... the source-ids each domain id's invalidations move (pages of 256 by did) ... */
	struct vtd_users *users[256];
	/* ... and the unit's, moved by every invalidation: the word of a cursor whose bus had no
	 * context table yet when it was made (until its next miss finds the bus's page) */
	_Alignas(64) _Atomic uint64_t gen;
	_Alignas(64) _Atomic uint32_t ctx_seq;   /* seqlock over root/context table writes */
	_Atomic uint32_t ir_seq;                 /* seqlock over IRTE writes */
	uint64_t (*root)[2];                     /* root table: 256 x 128 bits */
	struct vtd_ctx_table *ctx_tables[256];
	struct vtd_domain **domains[256];        /* by did: 256 lazily allocated pages of 256 slots
						  * (read by workers with __atomic loads) */
	struct vtd_iotlb_ent *iotlb;             /* iotlb_entries, in sets of VTD_IOTLB_WAYS */
	unsigned iotlb_entries;
	unsigned iotlb_hash_shift;               /* 64 - log2(number of sets) */
	struct vtd_cc_ent *cc;                   /* VTD_CC_SIZE */
	uint64_t (*irt)[2];                      /* interrupt-remapping table */
	struct vtd_irte_rt *irt_rt;
	unsigned max_levels;
	struct vtd_fault_log flog;
	_Atomic uint64_t irq_delivered, irq_coalesced, irq_posted;
};

/* relaxed accessors: plain loads/stores on x86, but defined behaviour for concurrent access */
#define VTD_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define VTD_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define VTD_LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define VTD_STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* ---- helpers shared by vtd.c, vtd_ctx.c, vtd_inv.c and vtd_xlate.c ---- */

static inline unsigned vtd_pte_idx(uint64_t iova, unsigned level)
{
	return (unsigned)(iova >> VTD_LEVEL_SHIFT(level)) & (VTD_PT_ENTRIES - 1);
}

static inline bool vtd_pte_present(uint64_t e)
{
	return (e & VTD_SL_PTE_PERM) != 0;
}

/* Leaf: a PTE, or a PDE/PDPE with PS (VT-d 9.8). PS at levels 4/5 is reserved, not a leaf. */
static inline bool vtd_pte_leaf(uint64_t e, unsigned level)
{
	return level == 1 || (level <= 3 && (e & VTD_SL_PTE_PS));
}

static inline uint64_t *vtd_pte_table(uint64_t e)
{
	return (uint64_t *)(uintptr_t)(e & VTD_HAW_MASK);
}

static inline unsigned vtd_perm_of(uint64_t e)
{
	return (unsigned)(e & VTD_SL_PTE_PERM); /* R = bit 0 = RIOV_VTD_READ, W = bit 1 = RIOV_VTD_WRITE */
}

/* worker-safe lookup */
static inline struct vtd_domain *vtd_dom_get(const struct riov_vtd *vtd, uint16_t did)
{
	struct vtd_domain **pg = __atomic_load_n(&vtd->domains[did >> 8], __ATOMIC_ACQUIRE);
	return pg != NULL ? __atomic_load_n(&pg[did & 0xff], __ATOMIC_ACQUIRE) : NULL;
}

/* control thread: plain lookup */
static inline struct vtd_domain *vtd_dom_ctl(const struct riov_vtd *vtd, uint16_t did)
{
	struct vtd_domain **pg = vtd->domains[did >> 8];
	return pg != NULL ? pg[did & 0xff] : NULL;
}

/* the IOTLB set for tag and key (its VTD_IOTLB_WAYS entries) */
static inline struct vtd_iotlb_ent *vtd_iotlb_set(const struct riov_vtd *vtd, uint64_t tag,
						   uint64_t key)
{
	uint64_t x = (key >> 12) * 0x9e3779b97f4a7c15ull ^ (tag + (key & 0xfff)) * 0xc2b2ae3d27d4eb4full;
	/* a one-set IOTLB would need a shift by 64: keep 1 bit and mask it away instead */
	unsigned sh = vtd->iotlb_hash_shift < 64 ? vtd->iotlb_hash_shift : 63;
	uint64_t set = (x >> sh) & (vtd->iotlb_entries / VTD_IOTLB_WAYS - 1);
	return &vtd->iotlb[set * VTD_IOTLB_WAYS];
}

/* the context-cache entry for sid */
static inline struct vtd_cc_ent *vtd_cc_slot(const struct riov_vtd *vtd, uint16_t sid)
{
	return &vtd->cc[(sid ^ (sid >> VTD_CC_SIZE_LOG2)) & (VTD_CC_SIZE - 1)];
}

/* vtd_inv.c: scrub every cache entry that refers to domain d (riov_vtd_domain_destroy, after d is
 * unlinked): context-cache entries naming it, IOTLB entries tagged with its did. Control thread. */
void vtd_inv_domain_gone(struct riov_vtd *vtd, const struct vtd_domain *d);
/* vtd_inv.c: allocate bus's page of source-id generations (ctx_table_get, before the bus's
 * context table is published). Returns 0 or -ENOMEM. Control thread. */
int vtd_gen_bus_alloc(struct riov_vtd *vtd, uint8_t bus);
/* vtd_inv.c: before the context entry (lo, hi) with first-stage did s1 is published for sid, put
 * sid in the users lists of the domain ids it names. Returns 0 or -ENOMEM (then nothing may be
 * written). Control thread. */
int vtd_gen_link(struct riov_vtd *vtd, uint16_t sid, uint64_t lo, uint64_t hi, uint16_t s1);
/* vtd_inv.c: free the generations and users lists (riov_vtd_destroy). */
void vtd_gen_fini(struct riov_vtd *vtd);
/* The generation word of sid's cursors: its source-id generation once its bus has a context
 * table, the unit's before. Any thread. */
static inline const volatile uint64_t *vtd_gen_word(struct riov_vtd *vtd, uint16_t sid)
{
	struct vtd_sgen *pg = __atomic_load_n(&vtd->sgen[sid >> 8], __ATOMIC_ACQUIRE);
	return (const volatile uint64_t *)(pg != NULL ? &pg[sid & 0xff].gen : &vtd->gen);
}

/* The ranges the moves of sg's generation after `from` up to `to` covered, into r[] (start, end
 * pairs; at most VTD_INV_LOG). Returns how many, or -1 when it cannot tell (from 0, more moves
 * than the log keeps, a record overwritten or being written) or one of them covered everything. */
static inline int vtd_gens_ranges(const struct vtd_sgen *sg, uint64_t from, uint64_t to, uint64_t r[][2])
{
	int n = 0;
	if (from == 0 || to - from > VTD_INV_LOG)
		return -1;
	for (uint64_t k = from + 1; k <= to; k++) {
		const struct vtd_inv_rec *x = &sg->log[k % VTD_INV_LOG];
		if (atomic_load_explicit(&x->gen, memory_order_acquire) != k)
			return -1;
		uint64_t s = atomic_load_explicit(&x->start, memory_order_relaxed);
		uint64_t e = atomic_load_explicit(&x->end, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&x->gen, memory_order_relaxed) != k || e == 0)
			return -1;
		r[n][0] = s;
		r[n][1] = e;
		n++;
	}
	return n;
}

/* vtd_fault.c: the one fault reporter (applies FPD, collapsing, overflow). Returns -reason. */
int vtd_fault_report(struct riov_vtd *vtd, uint16_t sid, unsigned reason, bool is_write, bool is_ir,
		     uint64_t addr, bool fpd);
int vtd_fault_init(struct riov_vtd *vtd);
void vtd_fault_fini(struct riov_vtd *vtd);

/* vtd_ir.c */
int vtd_ir_init(struct riov_vtd *vtd);
void vtd_ir_fini(struct riov_vtd *vtd);

/* Raw access for tests and the fuzzer (control thread). Writes keep pointer fields within what
 * riov allocated only if the caller does so; walkers still validate. */
void vtd_raw_root_write(struct riov_vtd *vtd, uint8_t bus, uint64_t lo, uint64_t hi);
void vtd_raw_root_read(struct riov_vtd *vtd, uint8_t bus, uint64_t *lo, uint64_t *hi);
int vtd_raw_ctx_write(struct riov_vtd *vtd, uint16_t sid, uint64_t lo, uint64_t hi);
int vtd_raw_ctx_read(struct riov_vtd *vtd, uint16_t sid, uint64_t *lo, uint64_t *hi);
/** Pointer to the entry at `level` on the walk of iova in domain did (NULL if that table is absent). */
uint64_t *vtd_raw_pte(struct riov_vtd *vtd, uint16_t did, uint64_t iova, unsigned level);
void vtd_raw_irte_write(struct riov_vtd *vtd, uint32_t index, uint64_t lo, uint64_t hi);
void vtd_raw_irte_read(struct riov_vtd *vtd, uint32_t index, uint64_t *lo, uint64_t *hi);

/* seqlock helpers for control-thread writers */
static inline void vtd_seq_write_begin(_Atomic uint32_t *s)
{
	atomic_fetch_add_explicit(s, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}
static inline void vtd_seq_write_end(_Atomic uint32_t *s)
{
	atomic_fetch_add_explicit(s, 1, memory_order_release);
}

static inline uint64_t vtd_now_ns(void);

#include <time.h>
static inline uint64_t vtd_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
