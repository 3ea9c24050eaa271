/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Allocators of the remapping unit's identifiers: domain ids (VT-d 9.3, 16 bits) and
 * interrupt-remapping table indexes (VT-d 9.10, 16 bits), and riovd's plan of who owns which of
 * them (iommu/vtd.h, "identifiers"), reserved here once.
 *
 * A space is one bitmap of its ids, a set bit being an id in use or reserved; the few reserved
 * ranges are also kept as a list with their owner's name, so that a refusal can say whose an id
 * is. Allocation looks for the lowest clear bit one 64-bit word at a time (O(n / 64)); take,
 * release and the used test are O(1) plus the reserved list (at most IDS_MAX_RESERVED entries).
 *
 * Security model: ids come from RPC clients and the state file. Every id is checked against the
 * space before it indexes the bitmap; nothing here trusts a caller's range.
 *
 * Thread rules: control thread only (no locking: one space is used by one thread).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "iommu/vtd.h"

#define IDS_MAX_RESERVED 8u
#define IDS_OWNER_LEN 32u

struct ids_reserved {
	uint32_t first, last;
	char owner[IDS_OWNER_LEN];
};

struct riov_vtd_ids {
	uint32_t n;               /* ids 0 .. n - 1 */
	uint32_t n_used;          /* taken or allocated, reserved ones not counted */
	unsigned n_res;
	struct ids_reserved res[IDS_MAX_RESERVED];
	uint64_t bits[];          /* set: in use or reserved; bits from n on are set too */
};

/* riovd's plan (vtd.h): the API's ranges lie between the vhost ports' ones. */
_Static_assert(RIOV_VTD_DID_PORT_LAST < RIOV_VTD_DID_API_FIRST &&
	       RIOV_VTD_DID_API_FIRST <= RIOV_VTD_DID_API_ALLOC &&
	       RIOV_VTD_DID_API_ALLOC <= RIOV_VTD_DID_API_LAST &&
	       RIOV_VTD_DID_API_LAST < RIOV_VTD_DID_PORT_S1_FIRST &&
	       RIOV_VTD_DID_PORT_S1_LAST < RIOV_VTD_IDS_SPACE, "domain id plan overlaps");
_Static_assert(RIOV_VTD_IRTE_PORT_LAST < RIOV_VTD_IRTE_API_FIRST &&
	       RIOV_VTD_IRTE_API_LAST < RIOV_VTD_IDS_SPACE, "IRTE plan overlaps");

static inline bool bit_test(const struct riov_vtd_ids *s, uint32_t id)
{
	return (s->bits[id / 64] >> (id % 64)) & 1;
}

static inline void bit_set(struct riov_vtd_ids *s, uint32_t id)
{
	s->bits[id / 64] |= UINT64_C(1) << (id % 64);
}

static inline void bit_clear(struct riov_vtd_ids *s, uint32_t id)
{
	s->bits[id / 64] &= ~(UINT64_C(1) << (id % 64));
}

/* The reservation holding id, or NULL. */
static const struct ids_reserved *reserved(const struct riov_vtd_ids *s, uint32_t id)
{
	for (unsigned i = 0; i < s->n_res; i++)
		if (id >= s->res[i].first && id <= s->res[i].last)
			return &s->res[i];
	return NULL;
}

int riov_vtd_ids_create(uint32_t n, struct riov_vtd_ids **out)
{
	size_t words = ((size_t)n + 63) / 64;
	struct riov_vtd_ids *s;

	*out = NULL;
	if (n == 0 || n > RIOV_VTD_IDS_SPACE)
		return -EINVAL;
	s = calloc(1, sizeof(*s) + words * sizeof(s->bits[0]));
	if (s == NULL)
		return -ENOMEM;
	s->n = n;
	if (n % 64)
		s->bits[words - 1] = ~UINT64_C(0) << (n % 64); /* past the end: never free */
	*out = s;
	return 0;
}

void riov_vtd_ids_destroy(struct riov_vtd_ids *s)
{
	free(s);
}

int riov_vtd_ids_reserve(struct riov_vtd_ids *s, uint32_t first, uint32_t last, const char *owner)
{
	if (first > last || last >= s->n)
		return -ERANGE;
	if (s->n_res == IDS_MAX_RESERVED)
		return -ENOSPC;
	for (uint32_t id = first; id <= last; id++)
		if (bit_test(s, id))
			return -EBUSY;
	for (uint32_t id = first; id <= last; id++)
		bit_set(s, id);
	struct ids_reserved *r = &s->res[s->n_res++];
	r->first = first;
	r->last = last;
	snprintf(r->owner, sizeof(r->owner), "%s", owner ? owner : "");
	return 0;
}

const char *riov_vtd_ids_owner(const struct riov_vtd_ids *s, uint32_t id)
{
	const struct ids_reserved *r = id < s->n ? reserved(s, id) : NULL;

	return r ? r->owner : NULL;
}

int riov_vtd_ids_alloc(struct riov_vtd_ids *s, uint32_t first, uint32_t last, uint32_t *id)
{
	if (first > last || last >= s->n)
		return -ERANGE;
	for (uint32_t w = first / 64; w <= last / 64; w++) {
		uint64_t taken = s->bits[w];
		if (w == first / 64)
			taken |= ~(~UINT64_C(0) << (first % 64));   /* below first */
		if (w == last / 64 && last % 64 != 63)
			taken |= ~UINT64_C(0) << (last % 64 + 1);   /* above last */
		if (taken == ~UINT64_C(0))
			continue;
		*id = w * 64 + (uint32_t)__builtin_ctzll(~taken);
		bit_set(s, *id);
		s->n_used++;
		return 0;
	}
	return -ENOSPC;
}

int riov_vtd_ids_take(struct riov_vtd_ids *s, uint32_t id)
{
	if (id >= s->n)
		return -ERANGE;
	if (reserved(s, id) != NULL)
		return -EINVAL;
	if (bit_test(s, id))
		return -EBUSY;
	bit_set(s, id);
	s->n_used++;
	return 0;
}

int riov_vtd_ids_release(struct riov_vtd_ids *s, uint32_t id)
{
	if (id >= s->n)
		return -ERANGE;
	if (reserved(s, id) != NULL)
		return -EINVAL;
	if (!bit_test(s, id))
		return -ENOENT;
	bit_clear(s, id);
	s->n_used--;
	return 0;
}

bool riov_vtd_ids_used(const struct riov_vtd_ids *s, uint32_t id)
{
	return id < s->n && bit_test(s, id) && reserved(s, id) == NULL;
}

uint32_t riov_vtd_ids_count(const struct riov_vtd_ids *s)
{
	return s->n_used;
}

/* ---- riovd's plan */

struct plan_range {
	uint32_t first, last;
	const char *owner;
};

static int plan_create(const struct plan_range *r, size_t n, struct riov_vtd_ids **out)
{
	int rc = riov_vtd_ids_create(RIOV_VTD_IDS_SPACE, out);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = riov_vtd_ids_reserve(*out, r[i].first, r[i].last, r[i].owner);
	if (rc != 0) {
		riov_vtd_ids_destroy(*out);
		*out = NULL;
	}
	return rc;
}

int riov_vtd_ids_create_dids(struct riov_vtd_ids **out)
{
	static const struct plan_range ports[] = {
		{ 0, 0, "caching mode" },   /* CAP.CM=1 reserves domain id 0 (vtd.h) */
		{ RIOV_VTD_DID_PORT_FIRST, RIOV_VTD_DID_PORT_LAST, RIOV_VTD_OWNER_PORTS },
		{ RIOV_VTD_DID_PORT_S1_FIRST, RIOV_VTD_DID_PORT_S1_LAST, RIOV_VTD_OWNER_PORTS },
	};

	return plan_create(ports, sizeof(ports) / sizeof(ports[0]), out);
}

int riov_vtd_ids_create_irtes(struct riov_vtd_ids **out)
{
	static const struct plan_range ports[] = {
		{ RIOV_VTD_IRTE_PORT_FIRST, RIOV_VTD_IRTE_PORT_LAST, RIOV_VTD_OWNER_PORTS },
	};

	return plan_create(ports, sizeof(ports) / sizeof(ports[0]), out);
}
