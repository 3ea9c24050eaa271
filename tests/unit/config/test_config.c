/* SPDX-License-Identifier: BSD-3-Clause */
/* riovd's start-up configuration: good files parse, bad ones get an error that names the line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control/config.h"
#include "tests/riov_test.h"

static int parse(const char *text, struct riov_config *c, char *err)
{
	int rc = riov_config_parse(text, "t.conf", c, err, 512);
	if (rc != 0)
		printf("  (error: %s)\n", err);
	return rc;
}

RIOV_TEST(embedded_defaults)
{
	struct riov_config c;
	char err[512];
	CHECK_EQ(parse(riov_config_default_text, &c, err), 0);
	CHECK_EQ(c.n_nets, 1);
	CHECK_EQ(c.n_ports, 2);
	CHECK(strcmp(c.ports[0].name, "vm1") == 0);
	CHECK(strcmp(c.ports[1].type, "vhost") == 0);
	CHECK(c.ports[0].mrg_rxbuf && c.ports[0].in_order);
	CHECK(c.ports[0].packed && c.ports[1].packed);   /* packed virtqueues offered by default */
	CHECK(strcmp(c.rpc_socket, "/run/riov/riovd.sock") == 0);
	riov_config_free(&c);
}

RIOV_TEST(shipped_example_parses)
{
	struct riov_config c;
	char err[512];
	char path[4096];
	snprintf(path, sizeof(path), "%s/deploy/riovd.conf", RIOV_SOURCE_ROOT);
	CHECK_EQ(riov_config_load(path, &c, err, sizeof(err)), 0);
	CHECK_EQ(c.n_ports, 2);
	CHECK(strcmp(c.ports[0].name, "vm1-eth0") == 0);
	riov_config_free(&c);
}

RIOV_TEST(full_settings)
{
	struct riov_config c;
	char err[512];
	const char *t = "riovd = { workers = \"2-3\"; control_cpu = 1; memory_mb = 1024; mbufs = 4095;\n"
			"  stats_interval = 5; metrics_listen = \"127.0.0.1:9470\"; };\n"
			"networks = ( { name = \"a\"; }, { name = \"b\"; mtu = 9000; } );\n"
			"ports = ( { name = \"p1\"; type = \"eth\"; net = \"b\"; devargs = \"net_tap0\"; queues = 2; },\n"
			"  { name = \"p2\"; type = \"vhost\"; net = \"a\"; socket = \"/x.sock\"; client = true;\n"
			"    mrg_rxbuf = false; packed = false; mtu = 1280; } );\n";
	CHECK_EQ(parse(t, &c, err), 0);
	CHECK(strcmp(c.workers, "2-3") == 0);
	CHECK_EQ(c.control_cpu, 1);
	CHECK_EQ(c.memory_mb, 1024);
	CHECK_EQ(c.ports[0].queues, 2);
	CHECK(c.ports[1].client);
	CHECK(!c.ports[1].mrg_rxbuf);
	CHECK(c.ports[1].in_order);
	CHECK(!c.ports[1].packed);
	CHECK_EQ(c.net_mtu[0], 0);
	CHECK_EQ(c.net_mtu[1], 9000);
	CHECK_EQ(c.ports[0].mtu, 0);
	CHECK_EQ(c.ports[1].mtu, 1280);
	riov_config_free(&c);
}

struct bad_case {
	const char *text;
	const char *expect; /* substring of the error */
};

RIOV_TEST(bad_inputs_named_errors)
{
	static const struct bad_case cases[] = {
		{ "riovd = { workers = 1; };", "t.conf:1: 'workers' must be a string" },
		{ "riovd = { wrokers = \"1\"; };", "unknown setting 'wrokers'" },
		{ "riovd = { memory_mb = 1; };", "'memory_mb' must be between" },
		{ "riovd = { hugepages = 3; };", "must be true or false" },
		{ "networks = ({name=\"n\";});\nports = ( { name = \"p\"; type = \"vhost\"; net = \"n\"; "
		  "socket = \"s\"; packed = \"no\"; } );",
		  "t.conf:2: 'packed' must be true or false" },
		{ "bogus = 1;", "unknown setting 'bogus'" },
		{ "riovd = {", "t.conf:1:" },
		{ "networks = ( { name = \"a b\"; } );", "bad network name" },
		{ "networks = ( { name = \"a\"; }, { name = \"a\"; } );", "declared twice" },
		{ "networks = ( { } );", "missing setting 'name'" },
		{ "ports = ( { name = \"p\"; type = \"vhost\"; net = \"x\"; socket = \"s\"; } );",
		  "network 'x' is not declared" },
		{ "networks = ({name=\"n\";});\nports = ( { name = \"p\"; type = \"vhost\"; net = \"n\"; } );",
		  "t.conf:2: vhost port 'p' needs a socket" },
		{ "networks = ({name=\"n\";}); ports = ( { name = \"p\"; type = \"eth\"; net = \"n\"; } );",
		  "needs devargs" },
		{ "networks = ({name=\"n\";}); ports = ( { name = \"p\"; type = \"vf\"; net = \"n\"; } );",
		  "port type must be" },
		{ "networks = ({name=\"n\";}); ports = ( { name = \"p\"; type = \"eth\"; net = \"n\"; "
		  "devargs=\"x\"; queues = 0; } );",
		  "'queues' must be between 1 and 16" },
		{ "networks = ({name=\"n\";}); ports = ( { name = \"p\"; type = \"eth\"; net = \"n\"; devargs=\"x\";},"
		  "{ name = \"p\"; type = \"eth\"; net = \"n\"; devargs=\"y\";} );",
		  "port 'p' declared twice" },
		{ "networks = 5;", "must be a list" },
		{ "networks = ( { name = \"n\"; mtu = 9001; } );", "'mtu' must be between 68 and 9000" },
		{ "networks = ({name=\"n\";}); ports = ( { name = \"p\"; type = \"eth\"; net = \"n\"; "
		  "devargs=\"x\"; mtu = 67; } );",
		  "'mtu' must be between 68 and 9000" },
		{ "riovd = { socket_dir = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"; };",
		  "'socket_dir' is too long" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct riov_config c;
		char err[512] = "";
		int rc = riov_config_parse(cases[i].text, "t.conf", &c, err, sizeof(err));
		CHECK_EQ(rc, -EINVAL);
		if (strstr(err, cases[i].expect) == NULL) {
			fprintf(stderr, "  case %zu: error '%s' lacks '%s'\n", i, err, cases[i].expect);
			riov_test_failures++;
		}
		riov_config_free(&c);
	}
}

RIOV_TEST(missing_and_binary_files)
{
	struct riov_config c;
	char err[512];
	CHECK_EQ(riov_config_load("/nonexistent/riovd.conf", &c, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "cannot open config file /nonexistent/riovd.conf") != NULL);
	riov_config_free(&c);

	char path[] = "/tmp/riov-cfg-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "riovd = {};\0junk", 16), 16);
	close(fd);
	CHECK_EQ(riov_config_load(path, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "NUL byte") != NULL);
	riov_config_free(&c);
	unlink(path);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(embedded_defaults), RIOV_TEST_ENTRY(shipped_example_parses),
	       RIOV_TEST_ENTRY(full_settings), RIOV_TEST_ENTRY(bad_inputs_named_errors),
	       RIOV_TEST_ENTRY(missing_and_binary_files))
