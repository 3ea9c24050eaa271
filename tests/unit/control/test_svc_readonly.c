/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A read-only call changes nothing (issue 12 finding 9): every method the catalog gives the
 * readonly role is called as a read-only client, with an empty request and with the requests
 * that used to have side effects, on a service that holds a vhost port with a (simulated)
 * connected guest's domain, a created domain, a fault record and a corrupt state file. After each
 * call the state directory (names and bytes) and the VT-d fault log (records and counters) are
 * byte-for-byte what they were. Also: riovd's own addresses are not in answers to read-only
 * clients (Domain.Show's targets), Domain.TranslateProbe is admin-only, and Config.Show --saved
 * reports a corrupt file instead of moving it aside.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iommu/vtd.h"
#include "riov_test.h"
#include "svc_fixture.h"

#define GUEST_HVA 0x7f1234560000ull /* "riovd's address" of the simulated guest's memory */

/* What a read-only call must leave as it was. */
struct snap {
	char names[1024];               /* the state directory's entries */
	uint8_t file[8192];             /* state.pb */
	size_t file_len;
	struct riov_vtd_fault faults[64];
	size_t n_faults;
	struct riov_vtd_fault_stats fstats;
};

static void snap_take(struct svc_fixture *f, struct snap *s)
{
	char path[128];
	struct dirent *de;
	DIR *d = opendir(f->dir);

	memset(s, 0, sizeof(*s));
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t n = strlen(s->names);
		snprintf(s->names + n, sizeof(s->names) - n, "%s/", de->d_name);
	}
	if (d != NULL)
		closedir(d);
	snprintf(path, sizeof(path), "%s/%s", f->dir, RIOV_STATE_FILE);
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, s->file, sizeof(s->file));
		s->file_len = n > 0 ? (size_t)n : 0;
		close(fd);
	}
	s->n_faults = riov_vtd_faults_read(f->svc->vtd, s->faults, 64, false);
	riov_vtd_fault_stats(f->svc->vtd, &s->fstats);
}

/* Directory entries in any order: compare them sorted is overkill here, readdir of an unchanged
 * directory gives the same order. */
static bool snap_same(const struct snap *a, const struct snap *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* Call e's handler with req as a client of role. */
static int call_as(struct svc_fixture *f, struct svc_call *t, struct rpc_entry *e,
		   enum riov_role role, const void *req)
{
	memset(t, 0, sizeof(*t));
	t->c = (struct riov_rpc_call){ .srv = f->rpc, .entry = e, .role = role, .peer = "unit test" };
	t->rc = e->handler(&t->c, req, &t->resp, t->msg, sizeof(t->msg));
	return t->rc;
}

static void world(struct svc_fixture *f)
{
	Riov__V1__NetworkAddRequest nr = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	Riov__V1__NetworkSpec ns = RIOV__V1__NETWORK_SPEC__INIT;
	Riov__V1__PortAddRequest pr = RIOV__V1__PORT_ADD_REQUEST__INIT;
	Riov__V1__PortSpec ps = RIOV__V1__PORT_SPEC__INIT;
	Riov__V1__DomainCreateRequest dr = RIOV__V1__DOMAIN_CREATE_REQUEST__INIT;
	Riov__V1__DomainSpec ds = RIOV__V1__DOMAIN_SPEC__INIT;
	Riov__V1__DomainMapping dm = RIOV__V1__DOMAIN_MAPPING__INIT, *dmv[1] = { &dm };
	Riov__V1__DomainAttachment da = RIOV__V1__DOMAIN_ATTACHMENT__INIT, *dav[1] = { &da };
	struct svc_call t;

	ns.name = "blue";
	nr.network = &ns;
	CHECK_EQ(svc_call(f, &t, "Network.Add", &nr), 0);
	svc_call_end(&t);
	ps.name = "vm1";
	ps.net = "blue";
	ps.type = RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST;
	ps.socket_path = "vm1.sock";
	pr.port = &ps;
	CHECK_EQ(svc_call(f, &t, "Port.Add", &pr), 0);
	svc_call_end(&t);
	dm.iova = 0x100000;
	dm.size = 0x1000;
	dm.target = 0x200000;
	dm.read = true;
	da.device = "dev1";
	da.source_id = 0x0100;
	ds.domain_id = 0x1000;
	ds.n_mappings = 1;
	ds.mappings = dmv;
	ds.n_devices = 1;
	ds.devices = dav;
	dr.domain = &ds;
	CHECK_EQ(svc_call(f, &t, "Domain.Create", &dr), 0);
	svc_call_end(&t);
	/* vm1's guest "connected": domain 1, source-id 0xfc00 (dp_double's port 0), as vmm builds it */
	struct riov_vtd *vtd = f->svc->vtd;
	CHECK_EQ(riov_vtd_domain_create(vtd, 1, 4), 0);
	CHECK_EQ(riov_vtd_map(vtd, 1, 0, GUEST_HVA, 0x200000, RIOV_VTD_READ | RIOV_VTD_WRITE), 0);
	CHECK_EQ(riov_vtd_context_set(vtd, 0xfc00, 1, RIOV_VTD_TT_MULTI_LEVEL, false), 0);
	CHECK_EQ(riov_vtd_fault_record(vtd, 0xfc00, 6, false, 0x400000), -6); /* returns -reason */
	/* a damaged state file (the payload's last byte): only a start may move it aside */
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", f->dir, RIOV_STATE_FILE);
	int fd = open(path, O_RDWR);
	struct stat sb;
	uint8_t b;
	CHECK(fd >= 0 && fstat(fd, &sb) == 0);
	CHECK(pread(fd, &b, 1, sb.st_size - 1) == 1);
	b ^= 0xff;
	CHECK(pwrite(fd, &b, 1, sb.st_size - 1) == 1);
	close(fd);
}

/* A request of e's type: empty, or the one given (the same type). */
static void *empty_request(struct rpc_entry *e)
{
	ProtobufCMessage *m = calloc(1, e->req->sizeof_message);
	if (m != NULL)
		e->req->message_init(m);
	return m;
}

RIOV_TEST(readonly_methods_change_nothing)
{
	struct svc_fixture f = { 0 };
	struct snap before, after;
	struct svc_call t;
	unsigned n_readonly = 0;

	CHECK_EQ(fixture_open(&f), 0);
	world(&f);
	snap_take(&f, &before);
	CHECK(before.n_faults == 1 && before.file_len > 0);

	/* requests that reach the side effects of issue 12 #9 (by method name) */
	Riov__V1__ConfigShowRequest cs = RIOV__V1__CONFIG_SHOW_REQUEST__INIT;
	cs.saved = true;
	Riov__V1__DomainShowRequest dsh = RIOV__V1__DOMAIN_SHOW_REQUEST__INIT;
	dsh.device = "vm1";
	Riov__V1__DomainShowRequest dsh2 = RIOV__V1__DOMAIN_SHOW_REQUEST__INIT;
	dsh2.domain_id = 0x1000;
	Riov__V1__PortStatsRequest pst = RIOV__V1__PORT_STATS_REQUEST__INIT;
	pst.name = "vm1";
	/* a probe of a hole (only reached if the probe were readonly) */
	Riov__V1__DomainTranslateProbeRequest pr = RIOV__V1__DOMAIN_TRANSLATE_PROBE_REQUEST__INIT;
	pr.device = "vm1";
	pr.iova = 0x600000;
	const struct {
		const char *method;
		const void *req;
	} extra[] = {
		{ "Config.Show", &cs }, { "Domain.Show", &dsh }, { "Domain.Show", &dsh2 },
		{ "Port.Stats", &pst }, { "Domain.TranslateProbe", &pr },
	};

	for (size_t i = 0; i < f.rpc->n_entries; i++) {
		struct rpc_entry *e = &f.rpc->entries[i];
		if (e->role != RIOV_ROLE_READONLY || e->req == NULL)
			continue;
		n_readonly++;
		void *req = empty_request(e);
		CHECK(req != NULL);
		call_as(&f, &t, e, RIOV_ROLE_READONLY, req);
		svc_call_end(&t);
		free(req);
		snap_take(&f, &after);
		if (!snap_same(&before, &after)) {
			fprintf(stderr, "  %s (empty request) changed the state directory or fault log\n",
				e->name);
			CHECK(0);
		}
		for (size_t k = 0; k < sizeof(extra) / sizeof(extra[0]); k++) {
			if (strcmp(extra[k].method, e->name) != 0)
				continue;
			call_as(&f, &t, e, RIOV_ROLE_READONLY, extra[k].req);
			svc_call_end(&t);
			snap_take(&f, &after);
			if (!snap_same(&before, &after)) {
				fprintf(stderr, "  %s changed the state directory or fault log\n", e->name);
				CHECK(0);
			}
		}
	}
	CHECK(n_readonly >= 10);
	fixture_close(&f);
}

RIOV_TEST(config_show_saved_reports_corruption)
{
	struct svc_fixture f = { 0 };
	Riov__V1__ConfigShowRequest cs = RIOV__V1__CONFIG_SHOW_REQUEST__INIT;
	struct snap before, after;
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	world(&f);
	snap_take(&f, &before);
	cs.saved = true;
	CHECK_EQ(call_as(&f, &t, fixture_entry(&f, "Config.Show"), RIOV_ROLE_READONLY, &cs), -EBADMSG);
	CHECK(strstr(t.msg, "is corrupt (checksum mismatch); left in place") != NULL);
	CHECK(strstr(t.msg, "running state is unaffected") != NULL);
	svc_call_end(&t);
	snap_take(&f, &after);
	CHECK(snap_same(&before, &after));
	/* the running state is still shown, and the next save replaces the file */
	cs.saved = false;
	CHECK_EQ(call_as(&f, &t, fixture_entry(&f, "Config.Show"), RIOV_ROLE_READONLY, &cs), 0);
	svc_call_end(&t);
	CHECK_EQ(svc_call(&f, &t, "Config.Save", &(Riov__V1__ConfigSaveRequest)RIOV__V1__CONFIG_SAVE_REQUEST__INIT), 0);
	svc_call_end(&t);
	cs.saved = true;
	CHECK_EQ(call_as(&f, &t, fixture_entry(&f, "Config.Show"), RIOV_ROLE_READONLY, &cs), 0);
	svc_call_end(&t);
	fixture_close(&f);
}

RIOV_TEST(riovd_addresses_only_to_admin)
{
	struct svc_fixture f = { 0 };
	Riov__V1__DomainShowRequest req = RIOV__V1__DOMAIN_SHOW_REQUEST__INIT;
	struct svc_call t;

	CHECK_EQ(fixture_open(&f), 0);
	world(&f);
	struct rpc_entry *show = fixture_entry(&f, "Domain.Show");
	req.device = "vm1";
	CHECK_EQ(call_as(&f, &t, show, RIOV_ROLE_READONLY, &req), 0);
	Riov__V1__DomainShowResponse *r = (void *)t.resp;
	CHECK(r && r->domain && r->domain->n_mappings == 1);
	CHECK(r && r->domain && r->domain->n_mappings == 1 && r->domain->mappings[0]->target == 0 &&
	      r->domain->mappings[0]->size == 0x200000);
	svc_call_end(&t);
	CHECK_EQ(call_as(&f, &t, show, RIOV_ROLE_ADMIN, &req), 0);
	r = (void *)t.resp;
	CHECK(r && r->domain && r->domain->n_mappings == 1 && r->domain->mappings[0]->target == GUEST_HVA);
	svc_call_end(&t);
	/* a created domain's targets are the admin's own numbers (in the state too): shown */
	req.device = "";
	req.domain_id = 0x1000;
	CHECK_EQ(call_as(&f, &t, show, RIOV_ROLE_READONLY, &req), 0);
	r = (void *)t.resp;
	CHECK(r && r->domain && r->domain->n_mappings == 1 && r->domain->mappings[0]->target == 0x200000);
	svc_call_end(&t);
	/* a probe translates for real (its fault would be recorded, its answer is riovd's address) */
	CHECK_EQ(fixture_entry(&f, "Domain.TranslateProbe")->role, RIOV_ROLE_ADMIN);
	fixture_close(&f);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(readonly_methods_change_nothing),
	       RIOV_TEST_ENTRY(config_show_saved_reports_corruption),
	       RIOV_TEST_ENTRY(riovd_addresses_only_to_admin))
