/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SR-IOV in riovd's control plane (control/svc_device.c, issue 19): Device.SetVfs with per-VF
 * settings, Device.SetVf, Device.ListVfs reading the settings back from the kernel, the state file
 * and a restart (settings given again to VFs made anew), and bad input refused with a clear
 * message before anything changes. sysfs is a test double (plain files and links in a temporary
 * directory, vmm/assign_internal.h), the kernel's rtnetlink the kernel_net double
 * (fabric_double.h): no real PF or netdev is touched.
 */
#include <errno.h>

#include "fabric_double.h"
#include "riov_test.h"
#include "svc_fixture.h"
#include "unit/sysfs_double.h"

#define PF "0000:00:05.0"      /* igb-like PF: 7 VFs, netdev pf0 */
#define NOSRIOV "0000:00:06.0" /* a function without SR-IOV */
#define NONET "0000:00:07.0"   /* a PF whose driver has no netdev */

static void sysfs_double(void)
{
	sysfs_root_new("riov-sriov");
	static const char *const dirs[] = {
		"bus", "bus/pci", "bus/pci/devices", "bus/pci/drivers", "bus/pci/drivers/igb",
		"bus/pci/devices/" PF, "bus/pci/devices/" PF "/net", "bus/pci/devices/" PF "/net/pf0",
		"bus/pci/devices/" NOSRIOV, "bus/pci/devices/" NONET,
	};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		mk(dirs[i]);
	const char *pfs[] = { PF, NONET };
	for (int i = 0; i < 2; i++) {
		char rel[128];
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/sriov_totalvfs", pfs[i]);
		put(rel, "7\n");
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/sriov_numvfs", pfs[i]);
		put(rel, "0\n");
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/sriov_drivers_autoprobe", pfs[i]);
		put(rel, "1\n");
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver", pfs[i]);
		link_to("bus/pci/drivers/igb", rel);
	}
	/* the VFs' functions and the PF's virtfn links (sysfs makes them; the double has them) */
	for (int v = 0; v < 7; v++) {
		char vf[64], lnk[96];
		snprintf(vf, sizeof(vf), "bus/pci/devices/0000:00:10.%d", v);
		mk(vf);
		snprintf(lnk, sizeof(lnk), "bus/pci/devices/" PF "/virtfn%d", v);
		link_to(vf, lnk);
	}
	sysfs_root_use();
}

/* The PF's sriov_numvfs and sriov_drivers_autoprobe, as riovd left them. */
static void pf_files(const char *pf, char *numvfs, char *autoprobe)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/sriov_numvfs", pf);
	get(rel, numvfs, 16);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/sriov_drivers_autoprobe", pf);
	get(rel, autoprobe, 16);
}

static void setup(struct svc_fixture *f)
{
	memset(f, 0, sizeof(*f));
	fabric_double_reset();
	kernel_double.vf_count = 7;
	sysfs_double();
	if (fixture_open(f) != 0)
		abort();
}

static void teardown(struct svc_fixture *f)
{
	fixture_close(f);
	sysfs_double_free();
}

static Riov__V1__VfConfig vf0_cfg(void)
{
	Riov__V1__VfConfig c = RIOV__V1__VF_CONFIG__INIT;
	c.vf = 0;
	c.mac = "02:00:00:19:00:01";
	c.set_vlan = true;
	c.vlan = 100;
	c.qos = 3;
	c.spoofchk = RIOV__V1__VF_TOGGLE__VF_ON;
	return c;
}

static Riov__V1__VfConfig vf1_cfg(void)
{
	Riov__V1__VfConfig c = RIOV__V1__VF_CONFIG__INIT;
	c.vf = 1;
	c.trust = RIOV__V1__VF_TOGGLE__VF_ON;
	c.link_state = RIOV__V1__VF_LINK_STATE__VF_LINK_DISABLE;
	return c;
}

/* Device.SetVfs pf n with cfgs; the message into msg (may be NULL). */
static int set_vfs(struct svc_fixture *f, const char *pf, unsigned n, Riov__V1__VfConfig *cfgs,
		   size_t n_cfgs, char *msg, size_t msglen)
{
	Riov__V1__DeviceSetVfsRequest req = RIOV__V1__DEVICE_SET_VFS_REQUEST__INIT;
	Riov__V1__SriovSpec spec = RIOV__V1__SRIOV_SPEC__INIT;
	Riov__V1__VfConfig *p[8];
	struct svc_call t;

	for (size_t i = 0; i < n_cfgs && i < 8; i++)
		p[i] = &cfgs[i];
	spec.pf = (char *)pf;
	spec.num_vfs = n;
	spec.vf_configs = p;
	spec.n_vf_configs = n_cfgs;
	req.sriov = &spec;
	int rc = svc_call(f, &t, "Device.SetVfs", &req);
	if (msg)
		snprintf(msg, msglen, "%s", t.msg);
	if (rc == 0) {
		const Riov__V1__DeviceSetVfsResponse *r = (const void *)t.resp;
		CHECK(r->sriov != NULL && r->sriov->spec != NULL && r->sriov->spec->num_vfs == n);
	}
	svc_call_end(&t);
	return rc;
}

static int set_vf(struct svc_fixture *f, const char *pf, Riov__V1__VfConfig c, char *msg,
		  size_t msglen)
{
	Riov__V1__DeviceSetVfRequest req = RIOV__V1__DEVICE_SET_VF_REQUEST__INIT;
	struct svc_call t;

	req.pf = (char *)pf;
	req.config = &c;
	int rc = svc_call(f, &t, "Device.SetVf", &req);
	if (msg)
		snprintf(msg, msglen, "%s", t.msg);
	svc_call_end(&t);
	return rc;
}

/* The PF's entry of Device.ListVfs: checks VF v as the kernel reports it. */
static void check_listed(struct svc_fixture *f, unsigned v, const char *mac, unsigned vlan,
			 const char *spoofchk, const char *trust, const char *link)
{
	Riov__V1__DeviceListVfsRequest req = RIOV__V1__DEVICE_LIST_VFS_REQUEST__INIT;
	struct svc_call t;

	CHECK_EQ(svc_call(f, &t, "Device.ListVfs", &req), 0);
	const Riov__V1__DeviceListVfsResponse *r = (const void *)t.resp;
	CHECK(r != NULL && r->n_pfs == 1);
	if (r != NULL && r->n_pfs == 1) {
		const Riov__V1__SriovInfo *si = r->pfs[0];
		CHECK(strcmp(si->netdev, "pf0") == 0);
		CHECK_EQ(si->n_vf_states, 7); /* what the "driver" reports: every VF it has */
		if (si->n_vf_states > v) {
			const Riov__V1__VfState *st = si->vf_states[v];
			CHECK_EQ(st->vf, v);
			CHECK(strcmp(st->mac, mac) == 0);
			CHECK_EQ(st->vlan, vlan);
			CHECK(strcmp(st->spoofchk, spoofchk) == 0);
			CHECK(strcmp(st->trust, trust) == 0);
			CHECK(strcmp(st->link_state, link) == 0);
		}
	}
	svc_call_end(&t);
}

RIOV_TEST(set_vfs_with_settings_applied_and_read_back)
{
	struct svc_fixture f;
	char msg[512], num[16], ap[16];
	Riov__V1__VfConfig cfgs[2] = { vf0_cfg(), vf1_cfg() };

	setup(&f);
	CHECK_EQ(set_vfs(&f, PF, 2, cfgs, 2, msg, sizeof(msg)), 0);
	pf_files(PF, num, ap);
	CHECK(strcmp(num, "2") == 0);
	CHECK(strcmp(ap, "0") == 0);
	CHECK_EQ(kernel_double.vf_sets, 1); /* one RTM_SETLINK for both VFs */
	CHECK(strcmp(kernel_double.vf_ifname, "pf0") == 0);
	check_listed(&f, 0, "02:00:00:19:00:01", 100, "on", "off", "auto");
	check_listed(&f, 1, "00:00:00:00:00:00", 0, "off", "on", "disable");
	CHECK_EQ(kernel_double.vf[0].qos, 3);

	/* Device.SetVf: VF 0's rate merged with what it had */
	Riov__V1__VfConfig c = RIOV__V1__VF_CONFIG__INIT;
	c.vf = 0;
	c.set_rate = true;
	c.max_tx_rate = 500;
	CHECK_EQ(set_vf(&f, PF, c, msg, sizeof(msg)), 0);
	CHECK_EQ(kernel_double.vf_sets, 2);
	CHECK_EQ(kernel_double.vf[0].max_tx_rate, 500);
	const Riov__V1__SriovSpec *kept = f.svc->sriov[0];
	CHECK_EQ(kept->n_vf_configs, 2);
	CHECK(strcmp(kept->vf_configs[0]->mac, "02:00:00:19:00:01") == 0 &&
	      kept->vf_configs[0]->set_rate && kept->vf_configs[0]->max_tx_rate == 500 &&
	      kept->vf_configs[0]->vlan == 100 &&
	      kept->vf_configs[0]->spoofchk == RIOV__V1__VF_TOGGLE__VF_ON);
	/* a VF that had nothing kept gets an entry of its own */
	c = (Riov__V1__VfConfig)RIOV__V1__VF_CONFIG__INIT;
	c.vf = 1;
	c.mac = "02:00:00:19:00:02";
	CHECK_EQ(set_vf(&f, PF, c, msg, sizeof(msg)), 0);
	CHECK_EQ(f.svc->sriov[0]->n_vf_configs, 2);
	CHECK(strcmp(f.svc->sriov[0]->vf_configs[1]->mac, "02:00:00:19:00:02") == 0 &&
	      f.svc->sriov[0]->vf_configs[1]->trust == RIOV__V1__VF_TOGGLE__VF_ON);
	check_listed(&f, 1, "02:00:00:19:00:02", 0, "off", "on", "disable");
	teardown(&f);
}

/* Each bad request: refused with its message, sriov_numvfs, autoprobe, the "kernel" and the state
 * as they were. */
static void refused(struct svc_fixture *f, int rc, int want, const char *msg, const char *words)
{
	char num[16], ap[16];

	CHECK_EQ(rc, want);
	if (strstr(msg, words) == NULL)
		fprintf(stderr, "  message '%s' lacks '%s'\n", msg, words);
	CHECK(strstr(msg, words) != NULL);
	pf_files(PF, num, ap);
	CHECK(strcmp(num, "2") == 0);
	CHECK(strcmp(ap, "0") == 0);
	CHECK_EQ(kernel_double.vf_sets, 1);
	CHECK(strcmp(f->svc->sriov[0]->vf_configs[0]->mac, "02:00:00:19:00:01") == 0);
	CHECK_EQ(f->svc->sriov[0]->num_vfs, 2);
}

RIOV_TEST(bad_input_refused_nothing_changed)
{
	struct svc_fixture f;
	char msg[512], num[16], ap[16];
	Riov__V1__VfConfig cfgs[2] = { vf0_cfg(), vf1_cfg() };
	Riov__V1__VfConfig c;

	setup(&f);
	CHECK_EQ(set_vfs(&f, PF, 2, cfgs, 2, msg, sizeof(msg)), 0);
	CHECK_EQ(kernel_double.vf_sets, 1);

	/* a VF index at or above the PF's VF count */
	c = vf1_cfg();
	c.vf = 2;
	refused(&f, set_vf(&f, PF, c, msg, sizeof(msg)), -EINVAL, msg, "has 2 VF(s): there is no VF 2");
	cfgs[1].vf = 5;
	refused(&f, set_vfs(&f, PF, 2, cfgs, 2, msg, sizeof(msg)), -EINVAL, msg, "there is no VF 5");
	cfgs[1] = vf1_cfg();
	/* the same VF twice */
	cfgs[1].vf = 0;
	refused(&f, set_vfs(&f, PF, 3, cfgs, 2, msg, sizeof(msg)), -EINVAL, msg, "VF 0 has two settings");
	cfgs[1] = vf1_cfg();
	/* MACs: multicast, zero, not one */
	c = vf0_cfg();
	c.mac = "03:00:00:00:00:01";
	refused(&f, set_vf(&f, PF, c, msg, sizeof(msg)), -EINVAL, msg, "is a multicast address");
	c.mac = "00:00:00:00:00:00";
	refused(&f, set_vf(&f, PF, c, msg, sizeof(msg)), -EINVAL, msg, "is a zero address");
	c.mac = "02:00:00:00:00";
	refused(&f, set_vf(&f, PF, c, msg, sizeof(msg)), -EINVAL, msg, "is not a MAC address");
	cfgs[0].mac = "ff:ff:ff:ff:ff:ff";
	refused(&f, set_vfs(&f, PF, 4, cfgs, 2, msg, sizeof(msg)), -EINVAL, msg, "multicast");
	cfgs[0] = vf0_cfg();
	/* VLAN and QoS ranges */
	c = vf0_cfg();
	c.vlan = 4096;
	refused(&f, set_vf(&f, PF, c, msg, sizeof(msg)), -EINVAL, msg, "VLAN 4096 is out of range");
	c.vlan = 10;
	c.qos = 8;
	refused(&f, set_vf(&f, PF, c, msg, sizeof(msg)), -EINVAL, msg, "QoS 8 is out of range");
	c = (Riov__V1__VfConfig)RIOV__V1__VF_CONFIG__INIT;
	c.vlan = 10;
	refused(&f, set_vf(&f, PF, c, msg, sizeof(msg)), -EINVAL, msg, "needs set_vlan");
	/* rate, enums, nothing to set */
	c = (Riov__V1__VfConfig)RIOV__V1__VF_CONFIG__INIT;
	c.set_rate = true;
	c.max_tx_rate = 400001;
	refused(&f, set_vf(&f, PF, c, msg, sizeof(msg)), -EINVAL, msg, "400001 Mbit/s is too large");
	c = (Riov__V1__VfConfig)RIOV__V1__VF_CONFIG__INIT;
	c.trust = 7;
	refused(&f, set_vf(&f, PF, c, msg, sizeof(msg)), -EINVAL, msg, "trust 7 is not VF_ON or VF_OFF");
	c = (Riov__V1__VfConfig)RIOV__V1__VF_CONFIG__INIT;
	c.link_state = 9;
	refused(&f, set_vf(&f, PF, c, msg, sizeof(msg)), -EINVAL, msg, "link state 9");
	c = (Riov__V1__VfConfig)RIOV__V1__VF_CONFIG__INIT;
	refused(&f, set_vf(&f, PF, c, msg, sizeof(msg)), -EINVAL, msg, "no setting given");
	/* more VFs than the PF has */
	refused(&f, set_vfs(&f, PF, 8, cfgs, 2, msg, sizeof(msg)), -EINVAL, msg, "at most 7 VFs");
	/* a PF riovd made no VFs on, a function without SR-IOV, a PF without a netdev */
	refused(&f, set_vf(&f, NONET, vf0_cfg(), msg, sizeof(msg)), -ENOENT, msg,
		"riovd made no VFs on " NONET);
	refused(&f, set_vfs(&f, NOSRIOV, 2, cfgs, 2, msg, sizeof(msg)), -ENOTSUP, msg,
		"is not an SR-IOV physical function");
	refused(&f, set_vfs(&f, NONET, 2, cfgs, 2, msg, sizeof(msg)), -ENODEV, msg,
		"has no network interface");
	pf_files(NONET, num, ap);
	CHECK(strcmp(num, "0\n") == 0 && strcmp(ap, "1\n") == 0); /* untouched */
	refused(&f, set_vf(&f, "0000:00:0x.0", vf0_cfg(), msg, sizeof(msg)), -EINVAL, msg,
		"is not a PCI address");
	teardown(&f);
}

RIOV_TEST(kernel_refusal_reported_with_its_message)
{
	struct svc_fixture f;
	char msg[512], num[16], ap[16];
	Riov__V1__VfConfig cfgs[2] = { vf0_cfg(), vf1_cfg() };

	setup(&f);
	CHECK_EQ(set_vfs(&f, PF, 2, cfgs, 2, msg, sizeof(msg)), 0);
	kernel_double.vf_set_rc = -EOPNOTSUPP;
	snprintf(kernel_double.vf_set_msg, sizeof(kernel_double.vf_set_msg), "Operation not supported: "
		 "VF trust is not supported by this driver");
	Riov__V1__VfConfig c = vf1_cfg();
	CHECK_EQ(set_vf(&f, PF, c, msg, sizeof(msg)), -EOPNOTSUPP);
	CHECK_EQ(kernel_double.vf_sets, 3); /* the request, then what the kernel reported before */
	CHECK(strstr(msg, "the kernel refused the VF settings") != NULL);
	CHECK(strstr(msg, "VF trust is not supported by this driver") != NULL);
	CHECK(strstr(msg, "pf0") != NULL);
	CHECK_EQ(riov_rpc_status_from_errno(-EOPNOTSUPP), RIOV__V1__STATUS__UNIMPLEMENTED);
	CHECK_EQ(f.svc->sriov[0]->n_vf_configs, 2); /* the state as it was */
	CHECK_EQ(f.svc->sriov[0]->vf_configs[1]->mac[0], '\0');
	/* a new VF count whose settings the kernel refuses: the count is set back */
	CHECK_EQ(set_vfs(&f, PF, 4, cfgs, 2, msg, sizeof(msg)), -EOPNOTSUPP);
	pf_files(PF, num, ap);
	CHECK(strcmp(num, "2") == 0);
	CHECK_EQ(f.svc->sriov[0]->num_vfs, 2);
	teardown(&f);
}

RIOV_TEST(restart_applies_them_again)
{
	struct svc_fixture f;
	char msg[512], num[16], ap[16];
	Riov__V1__VfConfig cfgs[2] = { vf0_cfg(), vf1_cfg() };

	setup(&f);
	CHECK_EQ(set_vfs(&f, PF, 2, cfgs, 2, msg, sizeof(msg)), 0);
	fixture_stop(&f);
	/* the VFs went away meanwhile (echo 0 > sriov_numvfs): the driver forgot their settings */
	put("bus/pci/devices/" PF "/sriov_numvfs", "0\n");
	memset(kernel_double.vf, 0, sizeof(kernel_double.vf));
	kernel_double.vf_sets = 0;
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(f.svc->restore_failed, 0);
	pf_files(PF, num, ap);
	CHECK(strcmp(num, "2") == 0);
	CHECK_EQ(kernel_double.vf_sets, 1);
	check_listed(&f, 0, "02:00:00:19:00:01", 100, "on", "off", "auto");
	check_listed(&f, 1, "00:00:00:00:00:00", 0, "off", "on", "disable");
	/* a new VF count without settings keeps those of the VFs that remain, and gives them again */
	kernel_double.vf_sets = 0;
	memset(kernel_double.vf, 0, sizeof(kernel_double.vf));
	CHECK_EQ(set_vfs(&f, PF, 1, NULL, 0, msg, sizeof(msg)), 0);
	CHECK_EQ(f.svc->sriov[0]->n_vf_configs, 1);
	CHECK_EQ(kernel_double.vf_sets, 1);
	CHECK_EQ(kernel_double.vf[0].vlan, 100);
	/* a state entry without VF settings (as riovd wrote before them) restores as before */
	CHECK_EQ(set_vfs(&f, PF, 0, NULL, 0, msg, sizeof(msg)), 0);
	CHECK_EQ(f.svc->n_sriov, 0);
	CHECK_EQ(set_vfs(&f, PF, 3, NULL, 0, msg, sizeof(msg)), 0);
	CHECK_EQ(f.svc->sriov[0]->n_vf_configs, 0);
	fixture_stop(&f);
	kernel_double.vf_sets = 0;
	CHECK_EQ(fixture_open(&f), 0);
	CHECK_EQ(f.svc->restore_failed, 0);
	CHECK_EQ(f.svc->n_sriov, 1);
	CHECK_EQ(f.svc->sriov[0]->num_vfs, 3);
	CHECK_EQ(kernel_double.vf_sets, 0); /* nothing to give the driver */
	teardown(&f);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(set_vfs_with_settings_applied_and_read_back),
	       RIOV_TEST_ENTRY(bad_input_refused_nothing_changed),
	       RIOV_TEST_ENTRY(kernel_refusal_reported_with_its_message),
	       RIOV_TEST_ENTRY(restart_applies_them_again))
