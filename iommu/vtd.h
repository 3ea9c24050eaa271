/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's Intel VT-d model: the programming face (control thread).
 *
 * One struct riov_vtd is one remapping unit: a root table with context entries per source-id
 * (bus/dev/fn), domains with second-stage page tables in the specification's 64-bit entry format,
 * an IOTLB tagged by domain id, a context cache, a bounded fault log, and an interrupt-remapping
 * table. The dataplane's face is iommu/vtd_dp.h.
 *
 * Thread rules: every function in this header is called from one thread at a time (the control
 * thread). riov_vtd_translate()/riov_vtd_irq_raise() (vtd_dp.h) may run concurrently in any number of
 * worker threads. Memory a worker may still read is freed only after cfg.synchronize() returned.
 * Spec references: Intel VT-d Architecture Specification rev. 4.x (sections cited in vtd.c).
 *
 * Addresses: for riov's paravirtual devices the "host physical address" that page tables produce is a
 * host virtual address in riovd (guest memory mapped from its memfd), so translate yields a pointer.
 */
#ifndef RIOV_IOMMU_VTD_H
#define RIOV_IOMMU_VTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "iommu/vtd_dp.h"

struct riov_vtd_config {
	unsigned aw_bits;          /* maximum guest address width supported: 39, 48 or 57 */
	unsigned fault_log_size;   /* entries in the fault log (>= 1) */
	unsigned irte_count;       /* entries in the interrupt-remapping table (power of two, <= 65536) */
	/* Caching mode (VT-d 6.1, CAP.CM). CM=0: only present translations are cached, so a new
	 * mapping is visible at once; unmap and changes need an invalidation. CM=1: the results of
	 * walks that found nothing (not-present, or no permission) are cached too, at the size of the
	 * empty region, so after riov_vtd_map() an address that faulted before keeps faulting until
	 * the caller invalidates it (page-selective is enough), as a guest driver for a CM=1 vIOMMU
	 * does (CM=1 is what a guest-visible vIOMMU advertises so its guest invalidates on map). */
	bool caching_mode;
	/* IOTLB entries (power of two, 4 .. 2^24; 0: 4096), 4-way set-associative, 32 bytes each */
	unsigned iotlb_entries;
	/* Page-table pages one domain may hold (0: RIOV_VTD_DOMAIN_TABLE_PAGES_DEFAULT); each
	 * domain's own limit can be changed later (riov_vtd_domain_set_table_limit). */
	uint32_t domain_table_pages;
	/* Wait until no worker is inside translate/raise started before the call (rte_rcu_qsbr_synchronize
	 * in riovd). NULL: single-threaded use (tests). */
	void (*synchronize)(void *arg);
	void *sync_arg;
};

/* Page-table memory per domain. Every caller (Domain.Map, guest memory tables, vhost IOTLB
 * updates, assigned functions) maps through riov_vtd_map(), so the bound lives here: a domain
 * holds at most its limit of 4 KiB table pages (the root included). The default is sized for the
 * largest honest guest: 1 TiB of guest memory mapped with 2 MiB pages takes 1024 page directories,
 * 2 PDPTs and the root (~1030 pages; with 1 GiB pages 3), and the same 16384 pages (64 MiB) still
 * hold 32 GiB mapped page by page with 4 KiB pages (a guest vIOMMU that maps 4 KiB at a time, or
 * memory whose host address cannot share 2 MiB alignment with its guest address). It equals
 * Domain.Map's own budget (control/svc_domain.c), so the API's estimate speaks first. */
#define RIOV_VTD_DOMAIN_TABLE_PAGES_DEFAULT 16384u

/** Create a remapping unit. Returns NULL with errno set (EINVAL for a bad config, ENOMEM). */
struct riov_vtd *riov_vtd_create(const struct riov_vtd_config *cfg);
/** Destroy a unit and every domain, table and entry it owns. NULL is allowed. */
void riov_vtd_destroy(struct riov_vtd *vtd);

/* ---- domains (second stage) ---- */

/** Create domain `did` (1..65535; 0 is reserved as in CM=1 hardware) with a `levels`-level table
 *  (3, 4 or 5: 39, 48 or 57-bit). Returns 0, -EEXIST, -EINVAL or -ENOMEM. */
int riov_vtd_domain_create(struct riov_vtd *vtd, uint16_t did, unsigned levels);
/** Destroy a domain; -EBUSY while a context entry still points at it, -ENOENT if absent. */
int riov_vtd_domain_destroy(struct riov_vtd *vtd, uint16_t did);

/** Map [iova, iova+len) to [hpa, hpa+len) with perm (RIOV_VTD_READ|RIOV_VTD_WRITE) using 1 GiB and
 *  2 MiB pages where alignment allows (iova and hpa congruent modulo the page size, VT-d 3.7 and
 *  9.8: PS in a PDPE or PDE). Page-aligned arguments only; iova+len within the domain's address
 *  width, hpa+len below 2^48 (the model's host address width). Tables only: the caller
 *  invalidates (riov_vtd_inv_*) as hardware software would. The page tables the mapping needs
 *  are counted before anything is written (in O(levels), whatever len is). Returns 0, -EINVAL,
 *  -ENOENT, -EEXIST (a page already mapped), -ENOSPC (the domain's page-table limit would be
 *  exceeded; counted in riov_vtd_domain_info.table_refused), -ENOMEM; on every error nothing
 *  changed. */
int riov_vtd_map(struct riov_vtd *vtd, uint16_t did, uint64_t iova, uint64_t hpa, uint64_t len,
		 unsigned perm);
/** Unmap [iova, iova+len) (superpages split as needed). Tables only: the caller invalidates.
 *  Returns 0, -EINVAL, -ENOENT (no such domain), -ENOSPC (splitting a superpage that reaches
 *  past the range would exceed the domain's page-table limit) or -ENOMEM (the split table could
 *  not be allocated); after either, the part before that superpage is unmapped. Unmapping holes
 *  is not an error; a range aligned to 1 GiB at both ends never needs a split. */
int riov_vtd_unmap(struct riov_vtd *vtd, uint16_t did, uint64_t iova, uint64_t len);
/** Leaf entries riov_vtd_map(iova, hpa, len) would write: its 4 KiB, 2 MiB and 1 GiB pages as
 *  alignment allows (0 for len 0). The work of a map is proportional to it; a caller on a trust
 *  boundary can bound that before mapping. Any arguments (no checks); any thread. */
uint64_t riov_vtd_map_entries(uint64_t iova, uint64_t hpa, uint64_t len);
/** Set domain did's page-table limit to `pages` (>= 1, the root included). A limit below what
 *  the domain holds now unmaps nothing: maps fail until it is back below. Returns 0, -ENOENT or
 *  -EINVAL. */
int riov_vtd_domain_set_table_limit(struct riov_vtd *vtd, uint16_t did, uint64_t pages);

/* ---- context entries (legacy mode root/context tables) ---- */

enum riov_vtd_ttype {
	RIOV_VTD_TT_MULTI_LEVEL = 0, /* context TT=00b: untranslated requests walk the second stage */
	RIOV_VTD_TT_PASS_THROUGH = 2, /* TT=10b: iova used as hpa */
	RIOV_VTD_TT_BLOCKED = 3,      /* reserved TT value: every request faults (reason 0x03, invalid ctx) */
};

/** Point source-id `sid` at domain `did` with translation type `tt`. FPD=fpd. Replaces an existing
 *  entry. Caller invalidates the context cache. Returns 0, -ENOENT (no domain), -EINVAL, -ENOMEM
 *  (nothing changed). */
int riov_vtd_context_set(struct riov_vtd *vtd, uint16_t sid, uint16_t did, enum riov_vtd_ttype tt,
			 bool fpd);
/** Nested translation for a device whose guest runs its own vIOMMU: requests walk the first stage
 *  (domain s1_did, iova -> guest-physical, filled from the guest's IOTLB updates) then the second
 *  stage (domain s2_did, guest-physical -> host). Invalidating either domain reaches the device's
 *  cursors. Returns 0, -ENOENT, -EINVAL, -ENOMEM (nothing changed). */
int riov_vtd_context_set_nested(struct riov_vtd *vtd, uint16_t sid, uint16_t s1_did, uint16_t s2_did,
				bool fpd);
/** Clear the context entry (present=0). Returns 0 or -ENOENT. */
int riov_vtd_context_clear(struct riov_vtd *vtd, uint16_t sid);

struct riov_vtd_context_info {
	bool present;
	bool fpd;
	bool nested;
	enum riov_vtd_ttype tt;
	uint16_t did;        /* second-stage (or only) domain */
	uint16_t s1_did;     /* first-stage domain when nested */
};
/** Decode the context entry of sid as the tables hold it now (not the context cache).
 *  Returns 0 (out->present may be false). */
int riov_vtd_context_get(const struct riov_vtd *vtd, uint16_t sid, struct riov_vtd_context_info *out);

/* ---- invalidation (VT-d 6.5) ----
 * Each returns once no translate() that starts afterwards can use what was invalidated (the
 * caches, the cursors' last hits); translations already in flight may still complete with it.
 * Cursors lose what they cached only to invalidations that cover their source-id: global ones,
 * a device-selective context invalidation of it, and domain- or page-selective IOTLB
 * invalidations of a domain its context entry names (or named before its last context
 * invalidation); the cursors of devices in other domains keep hitting. */
void riov_vtd_inv_context_global(struct riov_vtd *vtd);
void riov_vtd_inv_context_device(struct riov_vtd *vtd, uint16_t sid);
void riov_vtd_inv_iotlb_global(struct riov_vtd *vtd);
void riov_vtd_inv_iotlb_domain(struct riov_vtd *vtd, uint16_t did);
/** Wait until every translate()/raise started before the call has finished and its caller has
 *  let go of the host pointer it got (cfg.synchronize: the workers' quiescent point in riovd; a
 *  no-op without one). After unmapping and invalidating, memory that was mapped there may be
 *  released once this returns. Control thread. */
void riov_vtd_synchronize(struct riov_vtd *vtd);
/** Page-selective: 2^am pages from addr (addr aligned to 2^am * 4 KiB, am <= 18). -EINVAL otherwise. */
int riov_vtd_inv_iotlb_page(struct riov_vtd *vtd, uint16_t did, uint64_t addr, unsigned am);

/* ---- faults (VT-d 7.1) ---- */

/* Fault reasons (VT-d appendix "Non-Recoverable Fault Reasons"); translate returns their negation. */
#define RIOV_VTD_FR_ROOT_NOT_PRESENT      0x01
#define RIOV_VTD_FR_CTX_NOT_PRESENT       0x02
#define RIOV_VTD_FR_CTX_INVALID           0x03
#define RIOV_VTD_FR_ADDR_BEYOND_AW        0x04
#define RIOV_VTD_FR_WRITE                 0x05
#define RIOV_VTD_FR_READ                  0x06
#define RIOV_VTD_FR_PTE_ADDR              0x07
#define RIOV_VTD_FR_ROOT_ADDR             0x08
#define RIOV_VTD_FR_CTX_ADDR              0x09
#define RIOV_VTD_FR_ROOT_RSVD             0x0a
#define RIOV_VTD_FR_CTX_RSVD              0x0b
#define RIOV_VTD_FR_PTE_RSVD              0x0c
#define RIOV_VTD_FR_TT_BLOCKED            0x0d
#define RIOV_VTD_FR_IR_RSVD               0x20
#define RIOV_VTD_FR_IR_INDEX              0x21
#define RIOV_VTD_FR_IR_NOT_PRESENT        0x22
#define RIOV_VTD_FR_IR_ROOT_ADDR          0x23
#define RIOV_VTD_FR_IR_IRTE_RSVD          0x24
#define RIOV_VTD_FR_IR_COMPAT             0x25
#define RIOV_VTD_FR_IR_SID                0x26

/* Not a fault: translate() of a nested context (a guest with its own vIOMMU) found nothing in the
 * first stage, which riov fills from the front-end's IOTLB updates as a device-IOTLB (ATS) would.
 * Nothing is recorded; the caller asks the front-end for the translation (vhost-user IOTLB miss)
 * and retries after the next invalidation generation. */
#define RIOV_VTD_IOTLB_MISS               0x100

struct riov_vtd_fault {
	uint16_t sid;
	uint8_t reason;
	uint8_t is_write;     /* DMA faults: the access type */
	uint8_t is_ir;        /* interrupt-remapping fault: addr holds the interrupt index */
	uint64_t addr;        /* faulting page address (DMA) or interrupt index */
	uint64_t count;       /* repeats collapsed into this record */
};

struct riov_vtd_fault_stats {
	uint64_t recorded;     /* records written to the log */
	uint64_t collapsed;    /* repeats from one source folded into an existing record */
	uint64_t suppressed;   /* not recorded because the entry had FPD set */
	uint64_t overflow;     /* dropped because the log was full (PFO) */
	uint64_t by_reason[0x27];
};

/** Copy up to n fault records, oldest first. If clear, remove what was copied. Returns the count. */
size_t riov_vtd_faults_read(struct riov_vtd *vtd, struct riov_vtd_fault *out, size_t n, bool clear);
void riov_vtd_fault_stats(const struct riov_vtd *vtd, struct riov_vtd_fault_stats *st);
/** True while the log overflowed (FSTS.PFO) and has not been emptied by a clearing read since. */
bool riov_vtd_fault_overflowed(const struct riov_vtd *vtd);
/** Record a DMA fault found outside translate() (a first-stage miss the front-end never answered,
 *  a fault the real IOMMU reported for an assigned device): same log, collapsing and counters.
 *  reason must be one of the DMA reasons above (0x01..0x0d). Any thread. Returns -reason. */
int riov_vtd_fault_record(struct riov_vtd *vtd, uint16_t sid, unsigned reason, bool is_write, uint64_t addr);

/* ---- interrupt remapping (VT-d 5.1) ---- */

struct riov_vtd_irte {
	bool present;
	bool fpd;
	bool posted;          /* IM=1: posted format */
	/* remapped format */
	bool dest_mode;       /* DM */
	bool redir_hint;      /* RH */
	bool trigger_mode;    /* TM */
	uint8_t delivery_mode;/* DLM */
	uint8_t vector;
	uint32_t dest_id;
	/* source validation */
	uint8_t svt;          /* 0 none, 1 requester id with sq mask, 2 bus range */
	uint8_t sq;
	uint16_t sid;
	/* posted format: host address of a 64-byte posted-interrupt descriptor */
	uint64_t pda;
	bool urgent;
	/* riov delivery target: eventfd written on delivery (-1: none). Coalescing, remapped format
	 * only (0: off): deliver every coalesce_count-th interrupt and at most one per coalesce_usecs;
	 * held-back interrupts are delivered by the next raise that passes or riov_vtd_irq_flush().
	 * Posted format: the eventfd stands for the notification event (NV to NDST). */
	int eventfd;
	uint32_t coalesce_count;
	uint32_t coalesce_usecs;
};

/** Install entry `index`. Returns 0, -EINVAL (index out of range or a bad field). */
int riov_vtd_irte_set(struct riov_vtd *vtd, uint32_t index, const struct riov_vtd_irte *e);
/** Clear entry `index` (present=0) and invalidate the interrupt entry cache for it. */
int riov_vtd_irte_clear(struct riov_vtd *vtd, uint32_t index);
/** Compose a remappable-format MSI address/data for handle (and sub-handle if shv). */
void riov_vtd_msi_compose(uint32_t handle, bool shv, uint16_t subhandle, uint64_t *addr, uint32_t *data);

struct riov_vtd_irq_stats {
	uint64_t delivered;   /* eventfd notifications sent (remapped and posted) */
	uint64_t coalesced;   /* remapped interrupts held back by coalescing */
	uint64_t posted;      /* interrupts posted into a descriptor's PIR */
};
/** Read the unit's interrupt counters (any thread). */
void riov_vtd_irq_stats(const struct riov_vtd *vtd, struct riov_vtd_irq_stats *st);

/* ---- identifiers (vtd_ids.c): who owns which, and their allocators ----
 * riovd's plan for its one unit, declared here and nowhere else. The dataplane gives vhost port n
 * domain id RIOV_VTD_DID_PORT_FIRST + n, first-stage domain id RIOV_VTD_DID_PORT_S1_FIRST + n and
 * RIOV_VHOST_MAX_VRINGS IRTEs from RIOV_VTD_IRTE_PORT_FIRST + n * RIOV_VHOST_MAX_VRINGS (it asserts
 * that its ports fit). The control API gives out the rest: domain ids for Domain.Create (any of
 * API_FIRST..API_LAST; id 0 allocates one from API_ALLOC..API_LAST) and assigned functions
 * (API_ALLOC..API_LAST), IRTEs for Interrupt.Set and assigned functions' MSI-X vectors. */
#define RIOV_VTD_DID_PORT_FIRST     1u
#define RIOV_VTD_DID_PORT_LAST      1024u
#define RIOV_VTD_DID_API_FIRST      (RIOV_VTD_DID_PORT_LAST + 1)
#define RIOV_VTD_DID_API_ALLOC      0x1000u
#define RIOV_VTD_DID_API_LAST       0x7fffu
#define RIOV_VTD_DID_PORT_S1_FIRST  0x8000u
#define RIOV_VTD_DID_PORT_S1_LAST   0xffffu
#define RIOV_VTD_IRTE_PORT_FIRST    0u
#define RIOV_VTD_IRTE_PORT_LAST     32767u
#define RIOV_VTD_IRTE_API_FIRST     (RIOV_VTD_IRTE_PORT_LAST + 1)
#define RIOV_VTD_IRTE_API_LAST      65535u
#define RIOV_VTD_OWNER_PORTS        "dataplane"   /* owner of the ports' reserved ranges */
#define RIOV_VTD_IDS_SPACE          65536u        /* 16-bit domain ids and IRTE indexes */

/* A space of ids 0..n-1: each id free, in use (taken or allocated) or reserved for an owner.
 * Control thread only. */
struct riov_vtd_ids;

/** A space of n ids (1..RIOV_VTD_IDS_SPACE), all free. Returns 0 with *out, -EINVAL or -ENOMEM. */
int riov_vtd_ids_create(uint32_t n, struct riov_vtd_ids **out);
/** A domain-id space with the plan's reservations: did 0 (caching mode) and the vhost ports'
 *  ranges (RIOV_VTD_OWNER_PORTS). Returns 0 with *out, or -ENOMEM. */
int riov_vtd_ids_create_dids(struct riov_vtd_ids **out);
/** An IRTE space with the vhost ports' range reserved. Returns 0 with *out, or -ENOMEM. */
int riov_vtd_ids_create_irtes(struct riov_vtd_ids **out);
/** Free a space. NULL is allowed. */
void riov_vtd_ids_destroy(struct riov_vtd_ids *s);
/** Reserve first..last for owner (a name for messages, copied): those ids are never allocated,
 *  taken or released. Returns 0, -ERANGE (empty or beyond the space), -EBUSY (an id in it is used
 *  or reserved already) or -ENOSPC (a space holds at most 8 reservations). */
int riov_vtd_ids_reserve(struct riov_vtd_ids *s, uint32_t first, uint32_t last, const char *owner);
/** The owner id is reserved for, or NULL (free, in use, or beyond the space). */
const char *riov_vtd_ids_owner(const struct riov_vtd_ids *s, uint32_t id);
/** Mark the lowest free id of first..last used. Returns 0 with *id, -ERANGE (empty range or
 *  beyond the space) or -ENOSPC (none free). */
int riov_vtd_ids_alloc(struct riov_vtd_ids *s, uint32_t first, uint32_t last, uint32_t *id);
/** Mark id used. Returns 0, -ERANGE (beyond the space), -EINVAL (reserved) or -EBUSY (used). */
int riov_vtd_ids_take(struct riov_vtd_ids *s, uint32_t id);
/** Free a used id. Returns 0, -ERANGE, -EINVAL (reserved) or -ENOENT (not in use). */
int riov_vtd_ids_release(struct riov_vtd_ids *s, uint32_t id);
/** true when id is in use (reserved ids are not). */
bool riov_vtd_ids_used(const struct riov_vtd_ids *s, uint32_t id);
/** How many ids are in use (reserved ones not counted). */
uint32_t riov_vtd_ids_count(const struct riov_vtd_ids *s);

/* ---- inspection ---- */
struct riov_vtd_domain_info {
	uint16_t did;
	unsigned levels;
	uint64_t mapped_bytes;
	uint64_t table_pages;      /* page-table pages in use (the root, linked tables, and unlinked
				    * ones workers may still read) */
	uint64_t table_pages_max;  /* the domain's limit (riov_vtd_domain_set_table_limit) */
	uint64_t table_refused;    /* maps and superpage splits refused for the limit (-ENOSPC) */
	uint32_t attached;    /* context entries pointing at it */
};
/** Domain did's size, page-table use and limit. Returns 0 or -ENOENT. */
int riov_vtd_domain_info(const struct riov_vtd *vtd, uint16_t did, struct riov_vtd_domain_info *out);
/** Call fn for every mapped range of a domain (coalescing adjacent equal-permission pages). */
int riov_vtd_domain_walk(const struct riov_vtd *vtd, uint16_t did,
			 void (*fn)(void *arg, uint64_t iova, uint64_t hpa, uint64_t len, unsigned perm),
			 void *arg);
/** Print domain did to f: a header line (levels, mapped bytes, table pages, attachments) then one
 *  line per coalesced range "iova..end -> hpa perm". Returns 0 or -ENOENT. */
int riov_vtd_domain_dump(const struct riov_vtd *vtd, uint16_t did, FILE *f);

#endif
