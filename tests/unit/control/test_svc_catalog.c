/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riovd's RPC catalog: every method of riov.proto (proto/frame.h, from protoc-c's descriptors)
 * has exactly one handler in the service library's tables (or is the RPC server's own Node.Info),
 * with the role declared beside it; and docs/api.md's method table says the same roles and types.
 * A method added to riov.proto without a handler fails the build (SVC_TABLE) or this test, never
 * riovd at run time.
 */
#include <errno.h>

#include "riov_test.h"
#include "svc_fixture.h"

static struct svc_fixture fx;

RIOV_TEST(every_method_has_one_handler)
{
	size_t n = 0;

	for (size_t t = 0; t < svc_n_tables; t++) {
		for (size_t i = 0; i < svc_tables[t]->n; i++) {
			const struct svc_method *e = &svc_tables[t]->methods[i];
			const struct riov_method *m = riov_method_get(e->id);
			CHECK(m != NULL);
			if (m == NULL)
				continue;
			CHECK(strcmp(e->id.service, svc_tables[t]->service) == 0);
			CHECK(e->handler != NULL);
			/* no other entry names the same method */
			for (size_t u = 0; u < svc_n_tables; u++)
				for (size_t k = 0; k < svc_tables[u]->n; k++)
					if ((u != t || k != i) &&
					    riov_method_get(svc_tables[u]->methods[k].id) == m) {
						fprintf(stderr, "  %s has two handlers\n", m->name);
						CHECK(0);
					}
			n++;
		}
	}
	CHECK_EQ(n + 1, riov_method_count()); /* and Node.Info, built into the server */
	for (size_t i = 0; i < riov_method_count(); i++) {
		const struct riov_method *m = riov_method_at(i);
		struct rpc_entry *e = fixture_entry(&fx, m->name);
		if (e == NULL)
			fprintf(stderr, "  %s has no handler\n", m->name);
		CHECK(e != NULL && e->handler != NULL && e->req == m->req && e->resp == m->resp &&
		      e->stream == m->stream);
	}
	CHECK_EQ(fx.rpc->n_entries, riov_method_count());
}

static int role_of(const char *method)
{
	const struct rpc_entry *e = fixture_entry(&fx, method);
	return e ? (int)e->role : -1;
}

RIOV_TEST(roles_beside_handlers)
{
	/* the first two moved here from tests/unit/proto: roles left the proto catalog */
	CHECK_EQ(role_of("Port.Add"), RIOV_ROLE_ADMIN);
	CHECK_EQ(role_of("Port.List"), RIOV_ROLE_READONLY);
	CHECK_EQ(role_of("Node.Info"), RIOV_ROLE_READONLY);
	CHECK_EQ(role_of("Config.Save"), RIOV_ROLE_ADMIN);
	CHECK_EQ(role_of("Domain.TranslateProbe"), RIOV_ROLE_ADMIN); /* records faults: issue 12 #9 */
}

/* One row of docs/api.md's method table: | `Svc.Method` | role | `Req` → `Resp` | riovctl | */
static bool parse_row(const char *line, char *method, size_t mlen, char *role, size_t rlen,
		      char *types, size_t tlen)
{
	const char *p = line, *q;

	if (strncmp(p, "| `", 3) != 0)
		return false;
	p += 3;
	if ((q = strchr(p, '`')) == NULL || (size_t)(q - p) >= mlen ||
	    memchr(p, '.', (size_t)(q - p)) == NULL)
		return false;
	snprintf(method, mlen, "%.*s", (int)(q - p), p);
	if (strncmp(q, "` | ", 4) != 0)
		return false;
	p = q + 4;
	if ((q = strstr(p, " | ")) == NULL || (size_t)(q - p) >= rlen)
		return false;
	snprintf(role, rlen, "%.*s", (int)(q - p), p);
	p = q + 3;
	if ((q = strstr(p, " | ")) == NULL || (size_t)(q - p) >= tlen)
		return false;
	snprintf(types, tlen, "%.*s", (int)(q - p), p);
	return true;
}

RIOV_TEST(api_doc_role_table_matches_catalog)
{
	static const char table_header[] = "| method | role | request → response | riovctl |\n";
	FILE *f = fopen(RIOV_API_DOC, "r");
	char line[1024];
	size_t rows = 0;
	bool seen[256] = { false }, in_table = false;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char method[80], role[32], types[512], want[160];
		/* the table under "## Methods": its header, a rule, then one row per method */
		if (strcmp(line, table_header) == 0) {
			in_table = true;
			continue;
		}
		if (in_table && line[0] != '|')
			break;
		if (!in_table || strncmp(line, "| ---", 5) == 0)
			continue;
		if (!parse_row(line, method, sizeof(method), role, sizeof(role), types, sizeof(types))) {
			fprintf(stderr, "  docs/api.md: not a method row: %s", line);
			CHECK(0);
			continue;
		}
		const struct riov_method *m = riov_method_find(method);
		const struct rpc_entry *e = fixture_entry(&fx, method);
		if (m == NULL || e == NULL) {
			fprintf(stderr, "  docs/api.md lists %s, which riovd does not serve\n", method);
			CHECK(0);
			continue;
		}
		size_t idx = (size_t)(m - riov_method_at(0));
		CHECK(idx < 256 && !seen[idx]);
		seen[idx] = true;
		if (strcmp(role, riov_role_name(e->role)) != 0)
			fprintf(stderr, "  docs/api.md: %s is %s, riovd says %s\n", method, role,
				riov_role_name(e->role));
		CHECK(strcmp(role, riov_role_name(e->role)) == 0);
		snprintf(want, sizeof(want), "`%s` → %s`%s`", m->req->short_name,
			 m->stream ? "stream of " : "", m->resp->short_name);
		if (strncmp(types, want, strlen(want)) != 0)
			fprintf(stderr, "  docs/api.md: %s has '%s', expected '%s'\n", method, types, want);
		CHECK(strncmp(types, want, strlen(want)) == 0);
		rows++;
	}
	fclose(f);
	CHECK_EQ(rows, riov_method_count());
	for (size_t i = 0; i < riov_method_count(); i++)
		if (!seen[i])
			fprintf(stderr, "  docs/api.md does not list %s\n", riov_method_at(i)->name);
}

RIOV_TEST(start_service)
{
	CHECK_EQ(fixture_open(&fx), 0);
}

RIOV_TEST(stop_service)
{
	fixture_close(&fx);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(start_service), RIOV_TEST_ENTRY(every_method_has_one_handler),
	       RIOV_TEST_ENTRY(roles_beside_handlers),
	       RIOV_TEST_ENTRY(api_doc_role_table_matches_catalog), RIOV_TEST_ENTRY(stop_service))
