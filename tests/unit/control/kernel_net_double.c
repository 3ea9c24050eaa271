/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test double of control/kernel_net.h (see fabric_double.h): requests are recorded and answered
 * with the test's knobs; the kernel is never asked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fabric_double.h"

struct kernel_double_knobs kernel_double;

int riov_kernel_addr_add(const char *ifname, uint32_t addr, unsigned prefix)
{
	kernel_double.addr_adds++;
	if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= 16 || prefix < 1 || prefix > 32)
		return -EINVAL;
	if (kernel_double.addr_add_rc != 0)
		return kernel_double.addr_add_rc;
	snprintf(kernel_double.addr_ifname, sizeof(kernel_double.addr_ifname), "%s", ifname);
	kernel_double.addr = addr;
	kernel_double.addr_prefix = prefix;
	return 0;
}

int riov_kernel_route_add(const char *ifname, uint32_t dst, unsigned prefix, uint32_t gw)
{
	kernel_double.route_adds++;
	if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= 16 || prefix > 32)
		return -EINVAL;
	if (kernel_double.route_add_rc != 0)
		return kernel_double.route_add_rc;
	snprintf(kernel_double.route_ifname, sizeof(kernel_double.route_ifname), "%s", ifname);
	kernel_double.route_dst = dst;
	kernel_double.route_prefix = prefix;
	kernel_double.route_gw = gw;
	return 0;
}

/* what the real next-hop watcher asks; the watcher's double never does */
int riov_kernel_nexthop(uint32_t dst, struct riov_kernel_nh *nh)
{
	memset(nh, 0, sizeof(*nh));
	return -ENETUNREACH;
}

int riov_kernel_neigh_resolve(uint32_t ifindex, uint32_t ip)
{
	return 0;
}

/* VF settings: applied to kernel_double.vf[] in order, the first VF index the "driver" does not
 * have refused with -EINVAL as the kernel would, like a real message stopping at its first error */
int riov_kernel_vf_set(const char *ifname, const struct riov_kernel_vf *vfs, unsigned n,
		       char *err, size_t errlen)
{
	err[0] = '\0';
	kernel_double.vf_sets++;
	if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= 16 || n == 0)
		return -EINVAL;
	snprintf(kernel_double.vf_ifname, sizeof(kernel_double.vf_ifname), "%s", ifname);
	if (kernel_double.vf_set_rc != 0) {
		snprintf(err, errlen, "%s", kernel_double.vf_set_msg);
		return kernel_double.vf_set_rc;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct riov_kernel_vf *v = &vfs[i];
		if (v->vf >= kernel_double.vf_count || v->vf >= 8) {
			snprintf(err, errlen, "no VF %u", v->vf);
			return -EINVAL;
		}
		struct riov_kernel_vf *k = &kernel_double.vf[v->vf];
		if (v->fields & RIOV_KVF_MAC)
			memcpy(k->mac, v->mac, 6);
		if (v->fields & RIOV_KVF_VLAN)
			k->vlan = v->vlan, k->qos = v->qos;
		if (v->fields & RIOV_KVF_SPOOFCHK)
			k->spoofchk = v->spoofchk;
		if (v->fields & RIOV_KVF_TRUST)
			k->trust = v->trust;
		if (v->fields & RIOV_KVF_LINK_STATE)
			k->link_state = v->link_state;
		if (v->fields & RIOV_KVF_RATE)
			k->max_tx_rate = v->max_tx_rate, k->min_tx_rate = v->min_tx_rate;
	}
	return 0;
}

int riov_kernel_vf_get(const char *ifname, struct riov_kernel_vf *out, unsigned max, unsigned *n,
		       char *err, size_t errlen)
{
	err[0] = '\0';
	*n = 0;
	if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= 16)
		return -EINVAL;
	for (unsigned i = 0; i < kernel_double.vf_count && i < 8 && i < max; i++) {
		out[i] = kernel_double.vf[i];
		out[i].vf = i;
		out[i].fields = RIOV_KVF_MAC | RIOV_KVF_VLAN | RIOV_KVF_SPOOFCHK | RIOV_KVF_TRUST |
				RIOV_KVF_LINK_STATE | RIOV_KVF_RATE;
		(*n)++;
	}
	return 0;
}
