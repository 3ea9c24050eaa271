/* SPDX-License-Identifier: BSD-3-Clause */
/* The configuration file's RDMA peer link settings (issue 15, docs/rdma.md): rdma_device,
 * rdma_port, rdma_msg_size, rdma_recv_bufs, rdma_send_bufs in `riovd`; defaults from rdma_link.h;
 * every bad value refused naming the setting and its line; a device set in a build without
 * rdma-core refused at start. */
#include <errno.h>
#include <string.h>

#include "control/config.h"
#include "dataplane/rdma_link.h"
#include "tests/riov_test.h"

static int parse(const char *text, struct riov_config *c, char *err)
{
	int rc = riov_config_parse(text, "t.conf", c, err, 512);
	if (rc != 0)
		printf("  (error: %s)\n", err);
	return rc;
}

RIOV_TEST(rdma_defaults)
{
	struct riov_config c;
	char err[512];

	CHECK_EQ(parse("riovd = { workers = \"1\"; };\n", &c, err), 0);
	CHECK(c.rdma_device[0] == '\0');
	CHECK_EQ(c.rdma_port, RIOV_RDMA_PORT_DEFAULT);
	CHECK_EQ(c.rdma_msg_size, RIOV_RDMA_MSG_DEFAULT);
	CHECK_EQ(c.rdma_recv_bufs, RIOV_RDMA_RECV_BUFS_DEFAULT);
	CHECK_EQ(c.rdma_send_bufs, RIOV_RDMA_SEND_BUFS_DEFAULT);
	riov_config_free(&c);
	/* an empty device is no RDMA, in any build */
	CHECK_EQ(parse("riovd = { rdma_device = \"\"; rdma_port = 9000; };\n", &c, err), 0);
	CHECK(c.rdma_device[0] == '\0');
	CHECK_EQ(c.rdma_port, 9000);
	riov_config_free(&c);
}

RIOV_TEST(rdma_device_set)
{
	struct riov_config c;
	char err[512];
	int rc = parse("riovd = {\n  rdma_device = \"rxe0\";\n  rdma_port = 7000; rdma_msg_size = 8192;\n"
		       "  rdma_recv_bufs = 32; rdma_send_bufs = 16; };\n", &c, err);
#if RIOV_HAVE_RDMA
	CHECK_EQ(rc, 0);
	CHECK(strcmp(c.rdma_device, "rxe0") == 0);
	CHECK_EQ(c.rdma_port, 7000);
	CHECK_EQ(c.rdma_msg_size, 8192);
	CHECK_EQ(c.rdma_recv_bufs, 32);
	CHECK_EQ(c.rdma_send_bufs, 16);
#else
	CHECK_EQ(rc, -EINVAL);
	CHECK(strstr(err, "t.conf:2:") != NULL);
	CHECK(strstr(err, "riovd was built without RDMA (rdma-core)") != NULL);
	CHECK(strstr(err, "rdma_device") != NULL);
#endif
	riov_config_free(&c);
}

RIOV_TEST(rdma_refusals_named)
{
	static const struct {
		const char *text;
		const char *expect; /* substrings of the error */
	} cases[] = {
		{ "riovd = {\n rdma_port = 0; };", "t.conf:2: 'rdma_port' must be between 1 and 65535" },
		{ "riovd = {\n rdma_port = 65536; };", "t.conf:2: 'rdma_port' must be between 1 and 65535" },
		{ "riovd = {\n rdma_port = \"7471\"; };", "t.conf:2: 'rdma_port' must be an integer" },
		{ "riovd = {\n rdma_port = -1; };", "'rdma_port' must be between" },
		{ "riovd = {\n rdma_msg_size = 2047; };", "t.conf:2: 'rdma_msg_size' must be between 2048 and 1048576" },
		{ "riovd = {\n rdma_msg_size = 1048577; };", "'rdma_msg_size' must be between 2048 and 1048576" },
		{ "riovd = {\n rdma_msg_size = 10000000000L; };", "'rdma_msg_size' must be between" },
		{ "riovd = {\n rdma_recv_bufs = 3; };", "t.conf:2: 'rdma_recv_bufs' must be between 4 and 4096" },
		{ "riovd = {\n rdma_recv_bufs = 4097; };", "'rdma_recv_bufs' must be between 4 and 4096" },
		{ "riovd = {\n rdma_send_bufs = 1; };", "t.conf:2: 'rdma_send_bufs' must be between 2 and 4096" },
		{ "riovd = {\n rdma_send_bufs = 5000; };", "'rdma_send_bufs' must be between 2 and 4096" },
		{ "riovd = {\n rdma_device = 5; };", "t.conf:2: 'rdma_device' must be a string" },
		{ "riovd = {\n rdma_device = \"rxe0 x\"; };", "t.conf:2: 'rdma_device' must be an RDMA device's name" },
		{ "riovd = {\n rdma_device = \"../x\"; };", "'rdma_device' must be an RDMA device's name" },
		{ "riovd = {\n rdma_device = \"0123456789012345678901234567890123456789012345678901234567890123\"; };",
		  "t.conf:2: 'rdma_device' is too long" },
		{ "riovd = {\n rdma_devise = \"rxe0\"; };", "t.conf:2: unknown setting 'rdma_devise'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct riov_config c;
		char err[512] = "";
		int rc = riov_config_parse(cases[i].text, "t.conf", &c, err, sizeof(err));
		if (rc != -EINVAL || strstr(err, cases[i].expect) == NULL)
			printf("  case %zu: rc %d, error \"%s\", expected \"%s\"\n", i, rc, err, cases[i].expect);
		CHECK_EQ(rc, -EINVAL);
		CHECK(strstr(err, cases[i].expect) != NULL);
		riov_config_free(&c);
	}
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(rdma_defaults), RIOV_TEST_ENTRY(rdma_device_set),
	       RIOV_TEST_ENTRY(rdma_refusals_named))
