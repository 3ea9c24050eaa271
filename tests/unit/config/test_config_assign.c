/* SPDX-License-Identifier: BSD-3-Clause */
/* Configuration of eth ports assigned through riov's VT-d model: assign and domain_id parse, and
 * are refused (naming the line) where they make no sense. */
#include <errno.h>
#include <string.h>

#include "control/config.h"
#include "tests/riov_test.h"

static int parse(const char *text, struct riov_config *c, char *err)
{
	int rc = riov_config_parse(text, "t.conf", c, err, 512);
	if (rc != 0)
		printf("  (error: %s)\n", err);
	return rc;
}

RIOV_TEST(assign_parses)
{
	struct riov_config c;
	char err[512];
	CHECK_EQ(parse("networks = ( { name = \"w\"; } );\n"
		       "ports = ( { name = \"nic\"; type = \"eth\"; net = \"w\"; devargs = \"0000:00:01.0\";\n"
		       "            assign = true; domain_id = 4100; },\n"
		       "          { name = \"up\"; type = \"eth\"; net = \"w\"; devargs = \"net_null0\"; } );\n",
		       &c, err), 0);
	CHECK_EQ(c.n_ports, 2);
	CHECK(c.ports[0].assign && c.ports[0].domain_id == 4100);
	CHECK(!c.ports[1].assign && c.ports[1].domain_id == 0);
	riov_config_free(&c);
}

RIOV_TEST(assign_refused_where_meaningless)
{
	struct riov_config c;
	char err[512];
	CHECK_EQ(parse("networks = ( { name = \"w\"; } );\n"
		       "ports = ( { name = \"v\"; type = \"vhost\"; net = \"w\"; socket = \"v.sock\";\n"
		       "            assign = true; } );\n", &c, err), -EINVAL);
	CHECK(strstr(err, "t.conf:2") != NULL && strstr(err, "eth ports") != NULL);
	riov_config_free(&c);
	CHECK_EQ(parse("networks = ( { name = \"w\"; } );\n"
		       "ports = ( { name = \"e\"; type = \"eth\"; net = \"w\"; devargs = \"0000:00:01.0\";\n"
		       "            domain_id = 7; } );\n", &c, err), -EINVAL);
	CHECK(strstr(err, "needs assign") != NULL);
	riov_config_free(&c);
	CHECK_EQ(parse("networks = ( { name = \"w\"; } );\n"
		       "ports = ( { name = \"e\"; type = \"eth\"; net = \"w\"; devargs = \"0000:00:01.0\";\n"
		       "            assign = \"yes\"; } );\n", &c, err), -EINVAL);
	CHECK(strstr(err, "true or false") != NULL);
	riov_config_free(&c);
	CHECK_EQ(parse("networks = ( { name = \"w\"; } );\n"
		       "ports = ( { name = \"e\"; type = \"eth\"; net = \"w\"; devargs = \"0000:00:01.0\";\n"
		       "            assign = true; domain_id = 70000; } );\n", &c, err), -EINVAL);
	CHECK(strstr(err, "between 0 and 65535") != NULL);
	riov_config_free(&c);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(assign_parses), RIOV_TEST_ENTRY(assign_refused_where_meaningless))
