/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Device: PCI functions assigned through riov's VT-d model, SR-IOV VF counts and VF
 * settings (MAC, VLAN, spoof check, trust, link state, rate: through the PF's driver by
 * rtnetlink, control/kernel_net.h), and the kernel's DMAR faults of assigned functions relayed
 * into riov's fault log.
 *
 * A function is assigned through riov's VT-d model (vmm/assign.h) either for riovd's own eth port
 * (PortSpec.assign: DPDK's PMD drives it, its domain holds riovd's packet memory) or for a guest
 * (Device.Assign: riovd holds the VFIO device; its domain is empty until guest memory is mapped).
 * Domain ids come from the same range as Domain.Create's, IRTEs from Interrupt.Set's: the
 * service's allocators (svc_ids.c), marked while the assignment exists.
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h), but their content is untrusted. Device.* act on the host (driver
 * binding and sriov_numvfs in sysfs, VF settings by rtnetlink, VFIO) for the PCI addresses an
 * admin names; every VF setting is checked (index, unicast MAC, ranges) before the device is
 * touched: vmm/pci.c
 * parses them strictly, functions in the vhost ports' source-id range and functions assigned or
 * attached already are refused, and what an assigned function's domain maps is riovd's own memory,
 * never a host address from a client. DMAR lines of the kernel log are parsed by vmm/dmar_log.c and
 * only counted for functions riovd assigned; their logging is rate-limited.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "control/config.h"
#include "control/kernel_net.h"
#include "control/service_internal.h"

RIOV_LOG_COMPONENT("riovd", RIOV_LOG_INFO);

int svc_asg_index(const struct riov_service *svc, const char *name)
{
	for (unsigned i = 0; i < svc->n_asg; i++)
		if (strcmp(svc->asg[i]->name, name) == 0)
			return (int)i;
	return -1;
}

bool svc_asg_sid_used(const struct riov_service *svc, uint32_t sid, const char **who)
{
	for (unsigned i = 0; i < svc->n_asg; i++) {
		struct riov_assign_info ai;
		if (svc->asg[i]->a == NULL)
			continue;
		riov_assign_get_info(svc->asg[i]->a, &ai);
		if (ai.sid == sid) {
			if (who)
				*who = svc->asg[i]->name;
			return true;
		}
	}
	return false;
}

struct svc_assign *svc_asg_by_sid(const struct riov_service *svc, uint16_t sid)
{
	for (unsigned i = 0; i < svc->n_asg; i++) {
		struct riov_assign_info ai;
		if (svc->asg[i]->a == NULL)
			continue;
		riov_assign_get_info(svc->asg[i]->a, &ai);
		if (ai.sid == sid)
			return svc->asg[i];
	}
	return NULL;
}

/* The assignment a Domain request names by domain id, or NULL. */
struct svc_assign *svc_asg_by_did(const struct riov_service *svc, uint32_t did)
{
	for (unsigned i = 0; i < svc->n_asg; i++) {
		struct riov_assign_info ai;
		if (svc->asg[i]->a == NULL)
			continue;
		riov_assign_get_info(svc->asg[i]->a, &ai);
		if (ai.did == did)
			return svc->asg[i];
	}
	return NULL;
}

/* The assigned function a Domain request names (by device, which wins, or by domain id), or NULL;
 * *pi gets its domain and source-id. */
struct svc_assign *svc_asg_target(struct riov_service *svc, const char *device, uint32_t did,
				  struct riov_dp_port_info *pi)
{
	struct svc_assign *x = NULL;
	struct riov_assign_info ai;

	if (device[0]) {
		int k = svc_asg_index(svc, device);
		x = k >= 0 ? svc->asg[k] : NULL;
	} else if (did != 0 && did <= UINT16_MAX) {
		x = svc_asg_by_did(svc, did);
	}
	if (x == NULL || x->a == NULL)
		return NULL;
	riov_assign_get_info(x->a, &ai);
	memset(pi, 0, sizeof(*pi));
	pi->did = ai.did;
	pi->sid = ai.sid;
	return x;
}

/* DMAR fault lines of the kernel log: record those of assigned functions in riov's fault log. */
static void on_dmar(void *arg, const struct riov_dmar_fault *f)
{
	struct riov_service *svc = arg;
	struct svc_assign *x = svc_asg_by_sid(svc, f->sid);

	if (x == NULL)
		return; /* not a function riovd assigned */
	int reason = riov_assign_fault(x->a, f);
	RIOV_LOG_RL(RIOV_LOG_WARN, "%s: the IOMMU reported a DMA%s fault at 0x%" PRIx64 " (reason "
		    "0x%02x)%s", x->name, f->is_ir ? " interrupt" : f->is_write ? " write" : " read", f->addr,
		    f->reason, reason > 0 ? ": recorded in riov's fault log" : "");
}

static void kmsg_want(struct riov_service *svc)
{
	if (svc->kmsg != NULL || svc->kmsg_failed)
		return;
	int rc = riov_kmsg_open(svc->base, on_dmar, svc, &svc->kmsg);
	if (rc != 0) {
		svc->kmsg_failed = true; /* said once; assignments work, their faults go unrecorded */
		RIOV_LOG(RIOV_LOG_ERR, "cannot follow /dev/kmsg (%s): DMAR faults of assigned "
			 "functions will not reach riov's fault log", strerror(-rc));
	}
}

static void asg_add(struct riov_service *svc, struct svc_assign *x)
{
	svc->asg[svc->n_asg++] = x;
}

void svc_asg_free(struct riov_service *svc, struct svc_assign *x)
{
	for (unsigned i = 0; i < svc->n_asg; i++)
		if (svc->asg[i] == x) {
			remove_at((void **)svc->asg, &svc->n_asg, i);
			break;
		}
	svc_asg_ids_put(svc, x);
	riov_assign_destroy(x->a);
	free(x->mem);
	if (x->spec != NULL)
		riov__v1__device_spec__free_unpacked(x->spec, NULL);
	free(x);
}

int svc_asg_route_msix(struct riov_service *svc, struct svc_assign *x, char *err, size_t errlen)
{
	int n = riov_assign_msix_count(x->a);
	uint32_t *irte;

	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read its MSI-X vectors: %s", x->name, strerror(-n));
		return n;
	}
	if (n == 0)
		return 0; /* no MSI-X: nothing to route */
	irte = calloc((size_t)n, sizeof(*irte));
	if (irte == NULL)
		return -ENOMEM;
	int rc = svc_irte_alloc(svc, irte, (unsigned)n);
	if (rc != 0)
		snprintf(err, errlen, "%s: not enough free interrupt-remapping entries for its %d MSI-X "
			 "vectors", x->name, n);
	else if ((rc = riov_assign_route_msix(x->a, irte, (unsigned)n, err, errlen)) != 0)
		for (int v = 0; v < n; v++) /* not routed: the assignment holds none of them */
			riov_vtd_ids_release(svc->irtes, irte[v]);
	free(irte);
	return rc;
}

/* Assign the function pci of eth port ps before DPDK probes it: domain with riovd's packet
 * memory (IOVA as DPDK gives it, host address = riovd's virtual address), pushed to a VFIO
 * container DPDK will find. On success *out is in svc->asg. */
int svc_port_assign_begin(struct riov_service *svc, const Riov__V1__PortSpec *ps, const char *pci,
			  struct svc_assign **out, char *err, size_t errlen)
{
	const char *name = ps->name;
	struct riov_vtd_range *mem;
	size_t n_mem;
	struct svc_assign *x;
	const char *who = NULL;
	uint16_t did;
	int rc;

	if (svc_asg_index(svc, name) >= 0) {
		snprintf(err, errlen, "port %s: %s is the name of an assigned device: choose another port "
			 "name", name, name);
		return -EEXIST;
	}
	if (svc->n_asg >= ASSIGN_MAX) {
		snprintf(err, errlen, "too many assigned functions (at most %u)", ASSIGN_MAX);
		return -ENOSPC;
	}
	struct riov_pci_addr pa;
	if (riov_pci_parse(pci, &pa) != 0) {
		snprintf(err, errlen, "eth port %s: assign needs devargs that name a PCI function "
			 "(DDDD:BB:DD.F), not '%.40s'", name, pci);
		return -EINVAL;
	}
	uint16_t sid = riov_pci_sid(&pa);
	if (sid >= DP_SID_FIRST) {   /* up to DP_SID_LAST = 0xffff */
		snprintf(err, errlen, "eth port %s: %s's source-id 0x%04x is in 0x%x-0x%x, which riov's VT-d "
			 "unit gives to vhost ports' devices (buses 0xfc-0xff): it cannot be assigned through riov",
			 name, pci, sid, DP_SID_FIRST, DP_SID_LAST);
		return -EBUSY;
	}
	if (svc_asg_sid_used(svc, sid, &who) || svc_dom_sid(svc, sid, NULL) >= 0) {
		snprintf(err, errlen, "eth port %s: %s is assigned already (%s)", name, pci,
			 who ? who : "attached to a domain made with Domain.Create");
		return -EBUSY;
	}
	if ((rc = svc_did_pick(svc, ps->domain_id, name, &did, err, errlen)) != 0)
		return rc;
	if (riov_dp_memory_ranges(&mem, &n_mem) != 0) {
		riov_vtd_ids_release(svc->dids, did);
		snprintf(err, errlen, "eth port %s: cannot list riovd's packet memory", name);
		return -ENOMEM;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		riov_vtd_ids_release(svc->dids, did);
		free(mem);
		return -ENOMEM;
	}
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->mem = mem;
	x->n_mem = n_mem;
	struct riov_assign_params ap = {
		.pci = pci, .vtd = svc->vtd, .did = did, .ops = riov_dp_vfio_ops(),
		.open_device = false, .base = svc->base,
	};
	rc = riov_assign_create(&ap, &x->a, err, errlen);
	if (rc != 0) {
		riov_vtd_ids_release(svc->dids, did);
		free(x->mem);
		free(x);
		return rc;
	}
	asg_add(svc, x);
	uint64_t bytes = 0;
	for (size_t i = 0; i < n_mem && rc == 0; i++) {
		rc = riov_assign_map(x->a, mem[i].iova, mem[i].hva, mem[i].len, mem[i].perm);
		bytes += mem[i].len;
	}
	if (rc != 0) {
		snprintf(err, errlen, "eth port %s: mapping riovd's packet memory into domain %u: %s", name,
			 did, strerror(-rc));
		svc_asg_free(svc, x);
		return rc;
	}
	kmsg_want(svc);
	RIOV_LOG(RIOV_LOG_NOTICE, "port %s: %s in riov domain %u (%zu range(s), %" PRIu64 " MiB of "
		 "packet memory pushed to its VFIO container)", name, pci, did, n_mem, bytes >> 20);
	*out = x;
	return 0;
}

/* The PCI address of a device spec (pci, or pf + vf). */
static int dev_pci(const Riov__V1__DeviceSpec *d, char *pci, size_t len, char *err, size_t errlen)
{
	const char *given = str_or_empty(d->pci), *pf = str_or_empty(d->pf);
	struct riov_pci_addr a;

	if (given[0] && pf[0]) {
		snprintf(err, errlen, "device %s: give either pci or pf + vf, not both", d->name);
		return -EINVAL;
	}
	if (given[0]) {
		if (riov_pci_parse(given, &a) != 0) {
			snprintf(err, errlen, "device %s: '%.40s' is not a PCI address (DDDD:BB:DD.F)", d->name,
				 given);
			return -EINVAL;
		}
		riov_pci_format(&a, pci, len);
		return 0;
	}
	if (!pf[0]) {
		snprintf(err, errlen, "device %s: name the function (--pci DDDD:BB:DD.F, or --pf ADDR --vf N)",
			 d->name);
		return -EINVAL;
	}
	if (d->vf > 65535) {
		snprintf(err, errlen, "device %s: VF index %u is out of range", d->name, d->vf);
		return -EINVAL;
	}
	int rc = riov_sriov_vf(pf, d->vf, pci, len);
	if (rc == -EINVAL)
		snprintf(err, errlen, "device %s: '%.40s' is not a PCI address (DDDD:BB:DD.F)", d->name, pf);
	else if (rc != 0)
		snprintf(err, errlen, "device %s: %s has no VF %u (riovctl device vfs %s N)", d->name, pf,
			 d->vf, pf);
	return rc;
}

/* Assign a Device.Assign device (not saved): checks, VFIO with riov's domain, MSI-X routes.
 * On success the entry (owning a copy of the spec, with its domain id filled) is in svc->asg. */
int svc_dev_assign(struct riov_service *svc, const Riov__V1__DeviceSpec *in, char *err, size_t errlen)
{
	const char *name = str_or_empty(in->name), *who = NULL;
	char pci[32];
	struct riov_pci_addr pa;
	uint16_t did;
	int rc;

	if (!svc_valid_name(name)) {
		snprintf(err, errlen, "bad device name '%.80s': use 1-%d letters, digits, '-', '_' or '.'", name,
			 RIOV_DP_NAME_MAX - 1);
		return -EINVAL;
	}
	if (svc_asg_index(svc, name) >= 0 || svc_port_index(svc, name) >= 0 || svc_dom_device(svc, name, NULL) >= 0) {
		snprintf(err, errlen, "%s is the name of a %s already", name,
			 svc_asg_index(svc, name) >= 0 ? "device" : svc_port_index(svc, name) >= 0 ? "port"
			 : "device attached to a domain");
		return -EEXIST;
	}
	if (svc->n_asg >= ASSIGN_MAX) {
		snprintf(err, errlen, "too many assigned functions (at most %u)", ASSIGN_MAX);
		return -ENOSPC;
	}
	if ((rc = dev_pci(in, pci, sizeof(pci), err, errlen)) != 0)
		return rc;
	riov_pci_parse(pci, &pa);
	uint16_t sid = riov_pci_sid(&pa);
	if (sid >= DP_SID_FIRST) {   /* up to DP_SID_LAST = 0xffff */
		snprintf(err, errlen, "device %s: %s's source-id 0x%04x is in 0x%x-0x%x, which riov's VT-d "
			 "unit gives to vhost ports' devices (buses 0xfc-0xff): it cannot be assigned through riov",
			 name, pci, sid, DP_SID_FIRST, DP_SID_LAST);
		return -EBUSY;
	}
	if (svc_asg_sid_used(svc, sid, &who) || svc_dom_sid(svc, sid, NULL) >= 0) {
		snprintf(err, errlen, "device %s: %s is assigned already (%s)", name, pci,
			 who ? who : "attached to a domain made with Domain.Create");
		return -EBUSY;
	}
	if ((rc = svc_did_pick(svc, in->domain_id, name, &did, err, errlen)) != 0)
		return rc;
	struct svc_assign *x = calloc(1, sizeof(*x));
	Riov__V1__DeviceSpec *spec = svc_msg_dup(&in->base);
	if (x == NULL || spec == NULL) {
		free(x);
		if (spec)
			riov__v1__device_spec__free_unpacked(spec, NULL);
		riov_vtd_ids_release(svc->dids, did);
		snprintf(err, errlen, "device %s: out of memory", name);
		return -ENOMEM;
	}
	spec->domain_id = did;
	x->spec = spec;
	snprintf(x->name, sizeof(x->name), "%s", name);
	struct riov_assign_params ap = {
		.pci = pci, .vtd = svc->vtd, .did = did, .ops = NULL, .open_device = true,
		.base = svc->base,
	};
	rc = riov_assign_create(&ap, &x->a, err, errlen);
	if (rc != 0) {
		riov_vtd_ids_release(svc->dids, did);
		riov__v1__device_spec__free_unpacked(spec, NULL);
		free(x);
		return rc;
	}
	asg_add(svc, x);
	if ((rc = svc_asg_route_msix(svc, x, err, errlen)) != 0) {
		svc_asg_free(svc, x);
		return rc;
	}
	kmsg_want(svc);
	return 0;
}

/* ---- SR-IOV */

int svc_sriov_index(const struct riov_service *svc, const char *pf)
{
	struct riov_pci_addr a, b;

	if (riov_pci_parse(pf, &a) != 0)
		return -1;
	for (unsigned i = 0; i < svc->n_sriov; i++)
		/* field by field: the struct has a padding byte that riov_pci_parse() leaves as it was */
		if (riov_pci_parse(svc->sriov[i]->pf, &b) == 0 && a.domain == b.domain &&
		    a.bus == b.bus && a.dev == b.dev && a.fn == b.fn)
			return (int)i;
	return -1;
}

/* A VF's rate limit riovd accepts (Mbit/s): 400 Gbit/s, above any PF riov meets; the PF's driver
 * refuses more than its link's speed. */
#define VF_RATE_MAX 400000u

/* Check VF setting c of a PF with num_vfs VFs and turn it into a netlink VF entry *kv (only the
 * fields c sets). Returns 0 or -EINVAL with err. */
static int vf_config_check(const char *pf, const Riov__V1__VfConfig *c, unsigned num_vfs,
			   struct riov_kernel_vf *kv, char *err, size_t errlen)
{
	const char *mac = str_or_empty(c->mac);

	memset(kv, 0, sizeof(*kv));
	if (c->vf >= num_vfs) {
		snprintf(err, errlen, "%s has %u VF(s): there is no VF %u (VFs are numbered from 0)", pf,
			 num_vfs, c->vf);
		return -EINVAL;
	}
	kv->vf = c->vf;
	if (mac[0]) {
		if (riov_mac_parse(mac, kv->mac) != 0) {
			snprintf(err, errlen, "%s VF %u: '%.40s' is not a MAC address (xx:xx:xx:xx:xx:xx)",
				 pf, c->vf, mac);
			return -EINVAL;
		}
		static const uint8_t zero[6];
		if ((kv->mac[0] & 1) || memcmp(kv->mac, zero, 6) == 0) {
			snprintf(err, errlen, "%s VF %u: %s is a %s address: a VF's MAC must be unicast and "
				 "not zero", pf, c->vf, mac, kv->mac[0] & 1 ? "multicast" : "zero");
			return -EINVAL;
		}
		kv->fields |= RIOV_KVF_MAC;
	}
	if (c->set_vlan) {
		if (c->vlan > 4095 || c->qos > 7) {
			snprintf(err, errlen, "%s VF %u: %s %u is out of range (VLAN 0-4095, QoS 0-7)", pf,
				 c->vf, c->vlan > 4095 ? "VLAN" : "QoS", c->vlan > 4095 ? c->vlan : c->qos);
			return -EINVAL;
		}
		kv->vlan = (uint16_t)c->vlan;
		kv->qos = (uint8_t)c->qos;
		kv->fields |= RIOV_KVF_VLAN;
	} else if (c->vlan || c->qos) {
		snprintf(err, errlen, "%s VF %u: a VLAN or QoS needs set_vlan", pf, c->vf);
		return -EINVAL;
	}
	const Riov__V1__VfToggle tg[2] = { c->spoofchk, c->trust };
	for (int i = 0; i < 2; i++) {
		if (tg[i] == RIOV__V1__VF_TOGGLE__VF_KEEP)
			continue;
		if (tg[i] != RIOV__V1__VF_TOGGLE__VF_ON && tg[i] != RIOV__V1__VF_TOGGLE__VF_OFF) {
			snprintf(err, errlen, "%s VF %u: %s %d is not VF_ON or VF_OFF", pf, c->vf,
				 i ? "trust" : "spoofchk", (int)tg[i]);
			return -EINVAL;
		}
		if (i == 0)
			kv->spoofchk = tg[i] == RIOV__V1__VF_TOGGLE__VF_ON;
		else
			kv->trust = tg[i] == RIOV__V1__VF_TOGGLE__VF_ON;
		kv->fields |= i ? RIOV_KVF_TRUST : RIOV_KVF_SPOOFCHK;
	}
	switch (c->link_state) {
	case RIOV__V1__VF_LINK_STATE__VF_LINK_KEEP:
		break;
	case RIOV__V1__VF_LINK_STATE__VF_LINK_AUTO:
	case RIOV__V1__VF_LINK_STATE__VF_LINK_ENABLE:
	case RIOV__V1__VF_LINK_STATE__VF_LINK_DISABLE:
		/* IFLA_VF_LINK_STATE_AUTO, _ENABLE, _DISABLE are 0, 1, 2 */
		kv->link_state = (uint32_t)c->link_state - RIOV__V1__VF_LINK_STATE__VF_LINK_AUTO;
		kv->fields |= RIOV_KVF_LINK_STATE;
		break;
	default:
		snprintf(err, errlen, "%s VF %u: link state %d is not auto, enable or disable", pf, c->vf,
			 (int)c->link_state);
		return -EINVAL;
	}
	if (c->set_rate) {
		if (c->max_tx_rate > VF_RATE_MAX) {
			snprintf(err, errlen, "%s VF %u: a rate of %u Mbit/s is too large (at most %u)", pf,
				 c->vf, c->max_tx_rate, VF_RATE_MAX);
			return -EINVAL;
		}
		kv->max_tx_rate = c->max_tx_rate;
		kv->fields |= RIOV_KVF_RATE;
	} else if (c->max_tx_rate) {
		snprintf(err, errlen, "%s VF %u: a rate needs set_rate", pf, c->vf);
		return -EINVAL;
	}
	return 0;
}

/* Check every VF setting of spec (for num_vfs VFs, one setting per VF) into kv (room for
 * RIOV_KVF_MAX); *n how many set something. Returns 0 or -EINVAL with err. */
static int vf_configs_check(const char *pf, const Riov__V1__SriovSpec *spec,
			    struct riov_kernel_vf *kv, unsigned *n, char *err, size_t errlen)
{
	*n = 0;
	if (spec->n_vf_configs > RIOV_KVF_MAX) {
		snprintf(err, errlen, "%s: %zu VF settings are more than riovd sets (%u)", pf,
			 spec->n_vf_configs, RIOV_KVF_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < spec->n_vf_configs; i++) {
		int rc = vf_config_check(pf, spec->vf_configs[i], spec->num_vfs, &kv[*n], err, errlen);
		if (rc != 0)
			return rc;
		for (unsigned j = 0; j < *n; j++)
			if (kv[j].vf == kv[*n].vf) {
				snprintf(err, errlen, "%s: VF %u has two settings: give one per VF", pf,
					 kv[j].vf);
				return -EINVAL;
			}
		if (kv[*n].fields != 0)
			(*n)++;
	}
	return 0;
}

/* Give n VF settings kv to pf's driver through its netdev. Returns 0 or -errno with err (the
 * kernel's message when it sent one). */
static int vf_kernel_set(const char *pf, const char *netdev, const struct riov_kernel_vf *kv,
			 unsigned n, char *err, size_t errlen)
{
	char why[320];
	int rc = riov_kernel_vf_set(netdev, kv, n, why, sizeof(why));

	if (rc != 0)
		snprintf(err, errlen, "%s (%s): the kernel refused the VF settings: %s%s", pf, netdev,
			 why[0] ? why : strerror(-rc), rc == -EOPNOTSUPP ?
			 " (the PF's driver does not support this VF setting)" : "");
	return rc;
}

/* Set pf's VF count and its VFs' settings (not saved). Refused while an assigned function is one
 * of the VFs that would go away; every VF setting is checked, and the PF's netdev found, before
 * anything changes. When the kernel refuses the settings, a changed VF count is set back. */
int svc_sriov_apply(struct riov_service *svc, const Riov__V1__SriovSpec *in, char *err, size_t errlen)
{
	struct riov_sriov_info si;
	const char *pf = str_or_empty(in->pf);
	struct riov_kernel_vf *kv = NULL;
	char netdev[IFNAMSIZ] = "";
	unsigned n_kv = 0;
	int rc = riov_sriov_get(pf, &si, err, errlen);

	if (rc != 0)
		return rc;
	if (in->num_vfs > si.total_vfs) {
		snprintf(err, errlen, "%s supports at most %u VFs (sriov_totalvfs), not %u", pf,
			 si.total_vfs, in->num_vfs);
		return -EINVAL;
	}
	for (unsigned v = in->num_vfs; v < si.num_vfs; v++) {
		char vf[32];
		const char *who = NULL;
		struct riov_pci_addr a;
		if (riov_sriov_vf(pf, v, vf, sizeof(vf)) == 0 && riov_pci_parse(vf, &a) == 0 &&
		    (svc_asg_sid_used(svc, riov_pci_sid(&a), &who))) {
			snprintf(err, errlen, "%s's VF %u (%s) is assigned (%s): release it first", pf, v, vf,
				 who);
			return -EBUSY;
		}
	}
	if (in->n_vf_configs != 0) {
		if ((kv = calloc(RIOV_KVF_MAX, sizeof(*kv))) == NULL)
			return -ENOMEM;
		if ((rc = vf_configs_check(pf, in, kv, &n_kv, err, errlen)) != 0 ||
		    (n_kv != 0 && (rc = riov_sriov_netdev(pf, netdev, sizeof(netdev), err, errlen)) != 0))
			goto out;
	}
	if ((rc = riov_sriov_set(pf, in->num_vfs, err, errlen)) != 0 || n_kv == 0)
		goto out;
	if ((rc = vf_kernel_set(pf, netdev, kv, n_kv, err, errlen)) != 0 && si.num_vfs != in->num_vfs) {
		char e2[128];
		riov_sriov_set(pf, si.num_vfs, e2, sizeof(e2));
	}
out:
	free(kv);
	return rc;
}

/* ------------------------------------------------------------------ RPC */

static Riov__V1__DeviceInfo *dev_info(struct riov_rpc_call *call, struct riov_service *svc,
				      const struct svc_assign *x)
{
	Riov__V1__DeviceInfo *di = CALL_NEW(call, Riov__V1__DeviceInfo, riov__v1__device_info__init);
	Riov__V1__DeviceSpec *spec = CALL_NEW(call, Riov__V1__DeviceSpec, riov__v1__device_spec__init);
	struct riov_assign_info ai;
	char dev[64], drv[160] = "", path[128];

	if (di == NULL || spec == NULL)
		return NULL;
	riov_assign_get_info(x->a, &ai);
	if (x->spec != NULL) {
		*spec = *x->spec; /* shallow: the desired state outlives the call */
	} else {
		spec->name = (char *)x->name;
		spec->pci = riov_rpc_call_strdup(call, ai.pci);
		spec->domain_id = ai.did;
	}
	di->spec = spec;
	di->pci = riov_rpc_call_strdup(call, ai.pci);
	di->source_id = ai.sid;
	di->iommu_group = (uint32_t)ai.group;
	snprintf(dev, sizeof(dev), "/sys/bus/pci/devices/%s/driver", ai.pci);
	ssize_t n = readlink(dev, path, sizeof(path) - 1);
	if (n > 0) {
		path[n] = '\0';
		snprintf(drv, sizeof(drv), "%s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	}
	di->driver = riov_rpc_call_strdup(call, drv);
	di->domain_id = ai.did;
	di->mapped_bytes = ai.mapped_bytes;
	di->container_ranges = (uint32_t)ai.ranges;
	di->hw_faults = ai.hw_faults;
	if (x->spec == NULL) {
		char u[RIOV_DP_NAME_MAX + 8];
		snprintf(u, sizeof(u), "port %s", x->name);
		di->user = riov_rpc_call_strdup(call, u);
	} else {
		di->user = "guest";
	}
	di->state = "assigned";
	di->msix_vectors = ai.nvec;
	if (ai.nvec) {
		di->vectors = riov_rpc_call_alloc(call, ai.nvec * sizeof(*di->vectors));
		if (di->vectors == NULL)
			return NULL;
		for (unsigned v = 0; v < ai.nvec; v++) {
			Riov__V1__DeviceVector *dv = CALL_NEW(call, Riov__V1__DeviceVector,
							      riov__v1__device_vector__init);
			uint32_t irte;
			uint64_t raised;
			if (dv == NULL || riov_assign_vector(x->a, v, &irte, &raised) != 0)
				return NULL;
			dv->vector = v;
			dv->irte_index = irte;
			dv->raised = raised;
			di->vectors[di->n_vectors++] = dv;
		}
	}
	return di;
}

/* Undo of Device.Assign: the assignment arg goes. */
static void dev_assign_undo(struct riov_service *svc, void *arg)
{
	svc_asg_free(svc, arg);
}

static int h_dev_assign(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DeviceAssignRequest *req = (const void *)reqm;
	int rc;

	if (req->device == NULL) {
		snprintf(msg, msglen, "Device.Assign needs a device (name, and pci or pf + vf)");
		return -EINVAL;
	}
	rc = svc_dev_assign(svc, req->device, msg, msglen);
	if (rc != 0)
		return rc;
	struct svc_assign *x = svc->asg[svc->n_asg - 1];
	rc = svc_save_or_undo(svc, dev_assign_undo, x, msg, msglen, "device %s was not assigned",
			      req->device->name);
	if (rc != 0)
		return rc;
	RIOV_LOG(RIOV_LOG_NOTICE, "device %s assigned by %s", x->name, riov_rpc_call_peer(call));
	Riov__V1__DeviceAssignResponse *r = CALL_NEW(call, Riov__V1__DeviceAssignResponse,
						     riov__v1__device_assign_response__init);
	if (r == NULL || (r->device = dev_info(call, svc, x)) == NULL)
		return -ENOMEM;
	*resp = &r->base;
	return 0;
}

static int h_dev_release(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DeviceReleaseRequest *req = (const void *)reqm;
	const char *name = str_or_empty(req->name);
	int k = svc_asg_index(svc, name), rc;

	if (k < 0) {
		snprintf(msg, msglen, "device %s is not assigned", name[0] ? name : "(no name given)");
		return -ENOENT;
	}
	struct svc_assign *x = svc->asg[k];
	if (x->spec == NULL) {
		snprintf(msg, msglen, "%s is the function of eth port %s: delete the port to release it",
			 name, name);
		return -EBUSY;
	}
	/* state first, like a delete */
	struct svc_slot slot = { (void **)svc->asg, &svc->n_asg, (unsigned)k, x };
	remove_at(slot.arr, slot.n, slot.i);
	rc = svc_save_or_undo(svc, svc_slot_restore, &slot, msg, msglen, "device %s was not released",
			      name);
	if (rc != 0)
		return rc;
	RIOV_LOG(RIOV_LOG_NOTICE, "device %s released by %s", name, riov_rpc_call_peer(call));
	svc->asg[svc->n_asg++] = x; /* svc_asg_free takes it out of the list again */
	svc_asg_free(svc, x);
	return 0;
}

static int h_dev_list(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
		      ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DeviceListRequest *req = (const void *)reqm;
	const char *name = str_or_empty(req->name);
	Riov__V1__DeviceListResponse *r = CALL_NEW(call, Riov__V1__DeviceListResponse,
						   riov__v1__device_list_response__init);
	Riov__V1__DeviceInfo **v = riov_rpc_call_alloc(call, (svc->n_asg + 1) * sizeof(*v));

	if (r == NULL || v == NULL)
		return -ENOMEM;
	if (name[0] && svc_asg_index(svc, name) < 0) {
		snprintf(msg, msglen, "device %s is not assigned", name);
		return -ENOENT;
	}
	for (unsigned i = 0; i < svc->n_asg; i++) {
		if (svc->asg[i]->a == NULL || (name[0] && strcmp(svc->asg[i]->name, name) != 0))
			continue;
		if ((v[r->n_devices++] = dev_info(call, svc, svc->asg[i])) == NULL)
			return -ENOMEM;
	}
	r->devices = v;
	*resp = &r->base;
	return 0;
}

static const char *vf_toggle_name(const struct riov_kernel_vf *v, uint32_t field, bool on)
{
	return (v->fields & field) == 0 ? "" : on ? "on" : "off";
}

/* The PF's netdev and its VFs' settings as the kernel reports them into si (vf_error says why
 * not). Returns 0 or -ENOMEM. */
static int vf_states(struct riov_rpc_call *call, Riov__V1__SriovInfo *si, const char *pf)
{
	static const char *const link[] = { "auto", "enable", "disable" };
	char netdev[IFNAMSIZ], err[400];
	struct riov_kernel_vf *kv = calloc(RIOV_KVF_MAX, sizeof(*kv));
	unsigned n = 0;
	int rc = -ENOMEM;

	if (kv == NULL)
		return -ENOMEM;
	if (riov_sriov_netdev(pf, netdev, sizeof(netdev), err, sizeof(err)) == 0) {
		si->netdev = riov_rpc_call_strdup(call, netdev);
		char kerr[256];
		if (riov_kernel_vf_get(netdev, kv, RIOV_KVF_MAX, &n, kerr, sizeof(kerr)) != 0) {
			snprintf(err, sizeof(err), "%s: cannot read its VFs' settings: %s", netdev, kerr);
			n = 0;
		} else if (n == 0) {
			snprintf(err, sizeof(err), "%s: the kernel reports no VF settings (its driver "
				 "gives none)", netdev);
		}
	}
	if (n == 0) {
		si->vf_error = riov_rpc_call_strdup(call, err);
		rc = si->vf_error ? 0 : -ENOMEM;
		goto out;
	}
	si->vf_states = riov_rpc_call_alloc(call, n * sizeof(*si->vf_states));
	if (si->vf_states == NULL)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		const struct riov_kernel_vf *v = &kv[i];
		Riov__V1__VfState *st = CALL_NEW(call, Riov__V1__VfState, riov__v1__vf_state__init);
		char mac[18];
		if (st == NULL)
			goto out;
		st->vf = v->vf;
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", v->mac[0], v->mac[1],
			 v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
		st->mac = (v->fields & RIOV_KVF_MAC) ? riov_rpc_call_strdup(call, mac) : "";
		st->vlan = v->vlan;
		st->qos = v->qos;
		st->spoofchk = (char *)vf_toggle_name(v, RIOV_KVF_SPOOFCHK, v->spoofchk);
		st->trust = (char *)vf_toggle_name(v, RIOV_KVF_TRUST, v->trust);
		st->link_state = (char *)((v->fields & RIOV_KVF_LINK_STATE) && v->link_state < 3
					  ? link[v->link_state] : "");
		st->max_tx_rate = v->max_tx_rate;
		st->min_tx_rate = v->min_tx_rate;
		if (st->mac == NULL)
			goto out;
		si->vf_states[si->n_vf_states++] = st;
	}
	rc = 0;
out:
	free(kv);
	return rc;
}

static Riov__V1__SriovInfo *sriov_info(struct riov_rpc_call *call, const Riov__V1__SriovSpec *spec)
{
	Riov__V1__SriovInfo *si = CALL_NEW(call, Riov__V1__SriovInfo, riov__v1__sriov_info__init);
	struct riov_sriov_info x;
	char err[128];

	if (si == NULL)
		return NULL;
	si->spec = (Riov__V1__SriovSpec *)spec;
	if (riov_sriov_get(spec->pf, &x, err, sizeof(err)) != 0)
		return si;
	si->total_vfs = x.total_vfs;
	si->driver = riov_rpc_call_strdup(call, x.driver);
	si->vfs = riov_rpc_call_alloc(call, (x.num_vfs + 1) * sizeof(*si->vfs));
	if (si->vfs == NULL)
		return NULL;
	for (unsigned v = 0; v < x.num_vfs; v++) {
		char vf[32];
		if (riov_sriov_vf(spec->pf, v, vf, sizeof(vf)) != 0)
			break;
		si->vfs[si->n_vfs++] = riov_rpc_call_strdup(call, vf);
	}
	if (x.num_vfs == 0)
		return si;
	return vf_states(call, si, spec->pf) != 0 ? NULL : si;
}

/* Device.SetVfs's change: spec (kept unless it sets 0 VFs) replaced old (or NULL); the PF had
 * before VFs. */
struct set_vfs_change {
	Riov__V1__SriovSpec *spec, *old;
	const char *canon;
	unsigned before;
};

/* Undo of Device.SetVfs: the old setting is back in the list and the PF has its VFs again. */
static void set_vfs_undo(struct riov_service *svc, void *arg)
{
	struct set_vfs_change *c = arg;
	char e2[128];

	if (c->spec->num_vfs != 0)
		svc->n_sriov--;
	if (c->old != NULL)
		svc->sriov[svc->n_sriov++] = c->old;
	riov_sriov_set(c->canon, c->before, e2, sizeof(e2));
	riov__v1__sriov_spec__free_unpacked(c->spec, NULL);
}

static int h_dev_set_vfs(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			 ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DeviceSetVfsRequest *req = (const void *)reqm;
	struct riov_sriov_info before;
	int rc;

	if (req->sriov == NULL) {
		snprintf(msg, msglen, "Device.SetVfs needs the PF and a VF count");
		return -EINVAL;
	}
	const char *pf = str_or_empty(req->sriov->pf);
	int k = svc_sriov_index(svc, pf);
	if (k < 0 && req->sriov->num_vfs != 0 && svc->n_sriov >= SRIOV_MAX) {
		snprintf(msg, msglen, "too many SR-IOV PFs (at most %u)", SRIOV_MAX);
		return -ENOSPC;
	}
	if ((rc = riov_sriov_get(pf, &before, msg, msglen)) != 0)
		return rc;
	/* the state keeps the canonical address */
	struct riov_pci_addr a;
	char canon[16];
	riov_pci_parse(pf, &a); /* riov_sriov_get() parsed it */
	riov_pci_format(&a, canon, sizeof(canon));
	/* VF settings: the request's; without any, those kept for VFs that remain (a new VF count
	 * makes new VFs: riovd gives them their settings again) */
	Riov__V1__SriovSpec tmp = RIOV__V1__SRIOV_SPEC__INIT;
	Riov__V1__SriovSpec *old_spec = k >= 0 ? svc->sriov[k] : NULL;
	Riov__V1__VfConfig *kept[RIOV_KVF_MAX];
	tmp.pf = canon;
	tmp.num_vfs = req->sriov->num_vfs;
	if (req->sriov->n_vf_configs != 0) {
		tmp.n_vf_configs = req->sriov->n_vf_configs;
		tmp.vf_configs = req->sriov->vf_configs;
	} else if (old_spec != NULL) {
		tmp.vf_configs = kept;
		for (size_t i = 0; i < old_spec->n_vf_configs && tmp.n_vf_configs < RIOV_KVF_MAX; i++)
			if (old_spec->vf_configs[i]->vf < tmp.num_vfs)
				kept[tmp.n_vf_configs++] = old_spec->vf_configs[i];
	}
	Riov__V1__SriovSpec *spec = svc_msg_dup(&tmp.base);
	if (spec == NULL)
		return -ENOMEM;
	if ((rc = svc_sriov_apply(svc, spec, msg, msglen)) != 0) {
		riov__v1__sriov_spec__free_unpacked(spec, NULL);
		return rc;
	}
	Riov__V1__SriovSpec *old = k >= 0 ? svc->sriov[k] : NULL;
	if (k >= 0)
		remove_at((void **)svc->sriov, &svc->n_sriov, (unsigned)k);
	if (spec->num_vfs != 0)
		svc->sriov[svc->n_sriov++] = spec;
	struct set_vfs_change c = { spec, old, canon, before.num_vfs };
	rc = svc_save_or_undo(svc, set_vfs_undo, &c, msg, msglen, "VF count of %s not changed", canon);
	if (rc != 0)
		return rc;
	if (old != NULL)
		riov__v1__sriov_spec__free_unpacked(old, NULL);
	RIOV_LOG(RIOV_LOG_NOTICE, "%s: %u VF(s) set by %s", canon, spec->num_vfs, riov_rpc_call_peer(call));
	Riov__V1__DeviceSetVfsResponse *r = CALL_NEW(call, Riov__V1__DeviceSetVfsResponse,
						     riov__v1__device_set_vfs_response__init);
	Riov__V1__SriovSpec *shown = CALL_NEW(call, Riov__V1__SriovSpec, riov__v1__sriov_spec__init);
	if (r == NULL || shown == NULL)
		return -ENOMEM;
	shown->pf = riov_rpc_call_strdup(call, canon);
	shown->num_vfs = req->sriov->num_vfs;
	if (spec->num_vfs != 0) { /* kept in svc->sriov: outlives the call */
		shown->n_vf_configs = spec->n_vf_configs;
		shown->vf_configs = spec->vf_configs;
	}
	if (spec->num_vfs == 0)
		riov__v1__sriov_spec__free_unpacked(spec, NULL); /* 0 VFs: nothing kept */
	if (shown->pf == NULL || (r->sriov = sriov_info(call, shown)) == NULL)
		return -ENOMEM;
	*resp = &r->base;
	return 0;
}

/* VF setting c (of the request) over old (NULL: none kept) into out: c's fields that are not at
 * their zero value replace old's. Strings point into c or old. */
static void vf_config_merge(const Riov__V1__VfConfig *old, const Riov__V1__VfConfig *c,
			    Riov__V1__VfConfig *out)
{
	riov__v1__vf_config__init(out);
	if (old != NULL)
		*out = *old;
	out->vf = c->vf;
	if (str_or_empty(c->mac)[0])
		out->mac = c->mac;
	if (c->set_vlan) {
		out->set_vlan = true;
		out->vlan = c->vlan;
		out->qos = c->qos;
	}
	if (c->spoofchk != RIOV__V1__VF_TOGGLE__VF_KEEP)
		out->spoofchk = c->spoofchk;
	if (c->trust != RIOV__V1__VF_TOGGLE__VF_KEEP)
		out->trust = c->trust;
	if (c->link_state != RIOV__V1__VF_LINK_STATE__VF_LINK_KEEP)
		out->link_state = c->link_state;
	if (c->set_rate) {
		out->set_rate = true;
		out->max_tx_rate = c->max_tx_rate;
	}
}

/* Device.SetVf's change: spec replaced old at svc->sriov[k]; undo gives the VF back what the
 * kernel reported before (the fields the request set). */
struct set_vf_change {
	Riov__V1__SriovSpec *spec, *old;
	unsigned k;
	const char *pf, *netdev;
	struct riov_kernel_vf before;
};

static void set_vf_undo(struct riov_service *svc, void *arg)
{
	struct set_vf_change *c = arg;
	char e2[320];

	svc->sriov[c->k] = c->old;
	riov__v1__sriov_spec__free_unpacked(c->spec, NULL);
	if (c->before.fields != 0 && riov_kernel_vf_set(c->netdev, &c->before, 1, e2, sizeof(e2)) != 0)
		RIOV_LOG(RIOV_LOG_ERR, "%s VF %u: its settings before could not be given back: %s",
			 c->pf, c->before.vf, e2);
}

static int h_dev_set_vf(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	const Riov__V1__DeviceSetVfRequest *req = (const void *)reqm;
	const char *pf = str_or_empty(req->pf);
	struct riov_kernel_vf kv, *now = NULL;
	char netdev[IFNAMSIZ], why[320];
	unsigned n_now = 0;
	int k = svc_sriov_index(svc, pf), rc;

	if (req->config == NULL) {
		snprintf(msg, msglen, "Device.SetVf needs the PF and the VF's settings");
		return -EINVAL;
	}
	if (k < 0) {
		struct riov_sriov_info si;
		if ((rc = riov_sriov_get(pf, &si, msg, msglen)) != 0)
			return rc;
		snprintf(msg, msglen, "riovd made no VFs on %s: riovctl device vfs %s N first", pf, pf);
		return -ENOENT;
	}
	Riov__V1__SriovSpec *old = svc->sriov[k];
	const char *canon = old->pf;
	if ((rc = vf_config_check(canon, req->config, old->num_vfs, &kv, msg, msglen)) != 0)
		return rc;
	if (kv.fields == 0) {
		snprintf(msg, msglen, "%s VF %u: no setting given (mac, vlan, spoofchk, trust, link_state "
			 "or rate)", canon, req->config->vf);
		return -EINVAL;
	}
	if ((rc = riov_sriov_netdev(canon, netdev, sizeof(netdev), msg, msglen)) != 0)
		return rc;
	/* what the kernel says now, to give it back if the state cannot be saved */
	struct set_vf_change c = { .pf = canon, .netdev = netdev, .k = (unsigned)k, .old = old };
	if ((now = calloc(RIOV_KVF_MAX, sizeof(*now))) == NULL)
		return -ENOMEM;
	if (riov_kernel_vf_get(netdev, now, RIOV_KVF_MAX, &n_now, why, sizeof(why)) == 0)
		for (unsigned i = 0; i < n_now; i++)
			if (now[i].vf == kv.vf) {
				c.before = now[i];
				c.before.fields &= kv.fields;
			}
	free(now);
	/* the new spec: old's, with this VF's setting merged in */
	Riov__V1__VfConfig merged, *cfgs[RIOV_KVF_MAX + 1];
	Riov__V1__SriovSpec tmp = *old;
	size_t n = 0;
	bool placed = false;
	for (size_t i = 0; i < old->n_vf_configs && n < RIOV_KVF_MAX; i++) {
		if (old->vf_configs[i]->vf == req->config->vf) {
			vf_config_merge(old->vf_configs[i], req->config, &merged);
			cfgs[n++] = &merged;
			placed = true;
		} else {
			cfgs[n++] = old->vf_configs[i];
		}
	}
	if (!placed) {
		vf_config_merge(NULL, req->config, &merged);
		cfgs[n++] = &merged;
	}
	tmp.vf_configs = cfgs;
	tmp.n_vf_configs = n;
	if ((c.spec = svc_msg_dup(&tmp.base)) == NULL)
		return -ENOMEM;
	if ((rc = vf_kernel_set(canon, netdev, &kv, 1, msg, msglen)) != 0) {
		/* the kernel applies a VF's settings in its own order and stops at the first it
		 * refuses: those before it are given back what it reported before */
		char e2[320];
		if (c.before.fields != 0)
			riov_kernel_vf_set(netdev, &c.before, 1, e2, sizeof(e2));
		riov__v1__sriov_spec__free_unpacked(c.spec, NULL);
		return rc;
	}
	svc->sriov[k] = c.spec;
	rc = svc_save_or_undo(svc, set_vf_undo, &c, msg, msglen, "VF %u of %s not changed",
			      req->config->vf, canon);
	if (rc != 0)
		return rc;
	riov__v1__sriov_spec__free_unpacked(old, NULL);
	canon = svc->sriov[k]->pf; /* old's is gone */
	RIOV_LOG(RIOV_LOG_NOTICE, "%s VF %u: settings set by %s", canon, req->config->vf,
		 riov_rpc_call_peer(call));
	Riov__V1__DeviceSetVfResponse *r = CALL_NEW(call, Riov__V1__DeviceSetVfResponse,
						    riov__v1__device_set_vf_response__init);
	if (r == NULL || (r->sriov = sriov_info(call, svc->sriov[k])) == NULL)
		return -ENOMEM;
	*resp = &r->base;
	return 0;
}

static int h_dev_list_vfs(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			  ProtobufCMessage **resp, char *msg, size_t msglen)
{
	struct riov_service *svc = riov_rpc_call_user(call);
	Riov__V1__DeviceListVfsResponse *r = CALL_NEW(call, Riov__V1__DeviceListVfsResponse,
						      riov__v1__device_list_vfs_response__init);
	Riov__V1__SriovInfo **v = riov_rpc_call_alloc(call, (svc->n_sriov + 1) * sizeof(*v));

	if (r == NULL || v == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < svc->n_sriov; i++)
		if ((v[r->n_pfs++] = sriov_info(call, svc->sriov[i])) == NULL)
			return -ENOMEM;
	r->pfs = v;
	*resp = &r->base;
	return 0;
}

static const struct svc_method device_methods[] = {
	SVC_METHOD(Device, assign, ADMIN, h_dev_assign),
	SVC_METHOD(Device, release, ADMIN, h_dev_release),
	SVC_METHOD(Device, list, READONLY, h_dev_list),
	SVC_METHOD(Device, set_vfs, ADMIN, h_dev_set_vfs),
	SVC_METHOD(Device, list_vfs, READONLY, h_dev_list_vfs),
	SVC_METHOD(Device, set_vf, ADMIN, h_dev_set_vf),
};
SVC_TABLE(svc_device_table, Device, device_methods);
