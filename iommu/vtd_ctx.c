/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's Intel VT-d model, root and context tables in legacy mode (VT-d 9.1, 9.3): the programming
 * side (context_set, nested, clear, get) and raw access for tests and the fuzzer. The worker-side
 * decode of these tables is ctx_decode() in vtd_xlate.c.
 *
 * Security model: entries are written only here, by the control thread, from requests vmm/ has
 * validated; a context entry's table pointer is always the root of the domain it names. The raw
 * writers (vtd_raw_*) may store anything: the decoder checks every entry as untrusted.
 *
 * Thread rules: control thread only. Root and context entries (128 bits) are published under the
 * ctx_seq seqlock, which workers read around their decode. Before an entry is published, its
 * source-id joins the users of the domains it names (vtd_gen_link: their invalidations must reach
 * its cursors).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/vtd_internal.h"

static struct vtd_ctx_table *ctx_table_get(struct riov_vtd *vtd, uint8_t bus)
{
	struct vtd_ctx_table *ct = vtd->ctx_tables[bus];

	if (ct != NULL)
		return ct;
	/* the bus's cursors take their generations from here on (vtd_gen_word) */
	if (vtd_gen_bus_alloc(vtd, bus) < 0)
		return NULL;
	ct = aligned_alloc(VTD_PAGE_SIZE, (sizeof(*ct) + VTD_PAGE_SIZE - 1) & ~(VTD_PAGE_SIZE - 1));
	if (ct == NULL)
		return NULL;
	memset(ct, 0, sizeof(*ct));
	__atomic_store_n(&vtd->ctx_tables[bus], ct, __ATOMIC_RELEASE);
	vtd_seq_write_begin(&vtd->ctx_seq);
	VTD_STORE(&vtd->root[bus][1], 0);
	VTD_STORE(&vtd->root[bus][0], (uint64_t)(uintptr_t)ct | VTD_ROOT_LO_P);
	vtd_seq_write_end(&vtd->ctx_seq);
	return ct;
}

static void attach_adjust(struct riov_vtd *vtd, const struct vtd_ctx_ext *x, int delta)
{
	struct vtd_domain *d;

	if (x->att_kind == 0)
		return;
	if ((d = vtd_dom_ctl(vtd, x->att_did)) != NULL) {
		d->attached += delta;
		if (x->att_kind == 2)
			VTD_STORE(&d->nested_used, 1);
	}
	if (x->att_kind == 2 && (d = vtd_dom_ctl(vtd, x->att_s1)) != NULL) {
		d->attached += delta;
		VTD_STORE(&d->nested_used, 1);
	}
}

static int ctx_write(struct riov_vtd *vtd, uint16_t sid, uint64_t lo, uint64_t hi, uint16_t s1,
		     uint8_t kind, uint16_t att_did)
{
	struct vtd_ctx_table *ct = ctx_table_get(vtd, sid >> 8);
	struct vtd_ctx_ext *x;

	if (ct == NULL)
		return -ENOMEM;
	if (vtd_gen_link(vtd, sid, lo, hi, s1) < 0)
		return -ENOMEM;
	x = &ct->ext[sid & 0xff];
	attach_adjust(vtd, x, -1);
	vtd_seq_write_begin(&vtd->ctx_seq);
	VTD_STORE(&ct->ent[sid & 0xff][0], lo);
	VTD_STORE(&ct->ent[sid & 0xff][1], hi);
	VTD_STORE(&x->s1_did, s1);
	vtd_seq_write_end(&vtd->ctx_seq);
	x->att_kind = kind;
	x->att_did = att_did;
	x->att_s1 = s1;
	attach_adjust(vtd, x, +1);
	return 0;
}

int riov_vtd_context_set(struct riov_vtd *vtd, uint16_t sid, uint16_t did, enum riov_vtd_ttype tt,
			 bool fpd)
{
	struct vtd_domain *d = vtd_dom_ctl(vtd, did);
	uint64_t lo, hi;

	if (tt != RIOV_VTD_TT_MULTI_LEVEL && tt != RIOV_VTD_TT_PASS_THROUGH && tt != RIOV_VTD_TT_BLOCKED)
		return -EINVAL;
	if (did == 0)
		return -EINVAL;
	if (tt == RIOV_VTD_TT_MULTI_LEVEL && d == NULL)
		return -ENOENT;
	lo = VTD_CTX_LO_P | (fpd ? VTD_CTX_LO_FPD : 0) | ((uint64_t)tt << VTD_CTX_LO_TT_SHIFT);
	hi = ((uint64_t)did << VTD_CTX_HI_DID_SHIFT);
	if (tt == RIOV_VTD_TT_MULTI_LEVEL) {
		lo |= (uint64_t)(uintptr_t)d->root;
		hi |= d->levels - 2;
	} else {
		hi |= vtd->max_levels - 2; /* pass-through: the largest AGAW (VT-d 9.3, AW) */
	}
	return ctx_write(vtd, sid, lo, hi, 0, tt == RIOV_VTD_TT_MULTI_LEVEL ? 1 : 0, did);
}

int riov_vtd_context_set_nested(struct riov_vtd *vtd, uint16_t sid, uint16_t s1_did, uint16_t s2_did,
				bool fpd)
{
	struct vtd_domain *d1, *d2;
	uint64_t lo, hi;

	if (s1_did == 0 || s2_did == 0 || s1_did == s2_did)
		return -EINVAL;
	d1 = vtd_dom_ctl(vtd, s1_did);
	d2 = vtd_dom_ctl(vtd, s2_did);
	if (d1 == NULL || d2 == NULL)
		return -ENOENT;
	lo = VTD_CTX_LO_P | (fpd ? VTD_CTX_LO_FPD : 0) | (uint64_t)(uintptr_t)d2->root;
	hi = (d2->levels - 2) | ((uint64_t)s2_did << VTD_CTX_HI_DID_SHIFT) | VTD_CTX_HI_RIOV_NESTED;
	return ctx_write(vtd, sid, lo, hi, s1_did, 2, s2_did);
}

int riov_vtd_context_clear(struct riov_vtd *vtd, uint16_t sid)
{
	struct vtd_ctx_table *ct = vtd->ctx_tables[sid >> 8];

	if (ct == NULL || !(ct->ent[sid & 0xff][0] & VTD_CTX_LO_P))
		return -ENOENT;
	return ctx_write(vtd, sid, 0, 0, 0, 0, 0);
}

void vtd_raw_root_write(struct riov_vtd *vtd, uint8_t bus, uint64_t lo, uint64_t hi)
{
	vtd_seq_write_begin(&vtd->ctx_seq);
	VTD_STORE(&vtd->root[bus][0], lo);
	VTD_STORE(&vtd->root[bus][1], hi);
	vtd_seq_write_end(&vtd->ctx_seq);
}

void vtd_raw_root_read(struct riov_vtd *vtd, uint8_t bus, uint64_t *lo, uint64_t *hi)
{
	*lo = vtd->root[bus][0];
	*hi = vtd->root[bus][1];
}

int vtd_raw_ctx_write(struct riov_vtd *vtd, uint16_t sid, uint64_t lo, uint64_t hi)
{
	struct vtd_ctx_table *ct = ctx_table_get(vtd, sid >> 8);

	if (ct == NULL)
		return -ENOMEM;
	if (vtd_gen_link(vtd, sid, lo, hi, ct->ext[sid & 0xff].s1_did) < 0)
		return -ENOMEM;
	vtd_seq_write_begin(&vtd->ctx_seq);
	VTD_STORE(&ct->ent[sid & 0xff][0], lo);
	VTD_STORE(&ct->ent[sid & 0xff][1], hi);
	vtd_seq_write_end(&vtd->ctx_seq);
	return 0;
}

int vtd_raw_ctx_read(struct riov_vtd *vtd, uint16_t sid, uint64_t *lo, uint64_t *hi)
{
	struct vtd_ctx_table *ct = vtd->ctx_tables[sid >> 8];

	if (ct == NULL)
		return -ENOENT;
	*lo = ct->ent[sid & 0xff][0];
	*hi = ct->ent[sid & 0xff][1];
	return 0;
}

int riov_vtd_context_get(const struct riov_vtd *vtd, uint16_t sid, struct riov_vtd_context_info *out)
{
	const struct vtd_ctx_table *ct = vtd->ctx_tables[sid >> 8];
	uint64_t lo = 0, hi = 0;

	memset(out, 0, sizeof(*out));
	if (ct != NULL) {
		lo = ct->ent[sid & 0xff][0];
		hi = ct->ent[sid & 0xff][1];
	}
	out->present = (lo & VTD_CTX_LO_P) != 0;
	if (!out->present)
		return 0;
	out->fpd = (lo & VTD_CTX_LO_FPD) != 0;
	out->tt = (enum riov_vtd_ttype)((lo & VTD_CTX_LO_TT) >> VTD_CTX_LO_TT_SHIFT);
	out->did = (uint16_t)((hi & VTD_CTX_HI_DID) >> VTD_CTX_HI_DID_SHIFT);
	out->nested = (hi & VTD_CTX_HI_RIOV_NESTED) != 0;
	if (out->nested)
		out->s1_did = ct->ext[sid & 0xff].s1_did;
	return 0;
}
