/* SPDX-License-Identifier: BSD-3-Clause */
/* The configuration file's VXLAN overlay (issue 13): networks' vni, vteps and static macs, uplink
 * ports' address and gateway, the daemon's mac_aging_s parse; every bad value is refused naming
 * the line and the setting. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "control/config.h"
#include "tests/riov_test.h"

/* An uplink u with devargs x; the rest of its settings follow. */
#define UPLINK_U "ports = ( { name = \"u\"; type = \"uplink\"; devargs = \"x\"; "

static int parse(const char *text, struct riov_config *c, char *err)
{
	int rc = riov_config_parse(text, "t.conf", c, err, 512);
	if (rc != 0)
		printf("  (error: %s)\n", err);
	return rc;
}

RIOV_TEST(overlay_parses)
{
	struct riov_config c;
	char err[512];
	CHECK_EQ(parse("networks = ( { name = \"a\"; },\n"
		       "  { name = \"b\"; vni = 100; mtu = 1450; vteps = [ \"10.0.0.2\", \"10.0.0.3\" ]; },\n"
		       "  { name = \"c\"; vni = 16777215; vteps = ( \"10.0.0.2\" ); } );\n"
		       "ports = ( { name = \"up0\"; type = \"uplink\"; devargs = \"net_null0\";\n"
		       "  address = \"10.0.0.1/24\"; gateway = \"10.0.0.254\"; mtu = 1600; },\n"
		       "  { name = \"up1\"; type = \"uplink\"; devargs = \"net_null1\";\n"
		       "    address = \"10.1.0.1/16\"; },\n"
		       "  { name = \"vm1\"; type = \"vhost\"; net = \"b\"; socket = \"vm1.sock\"; } );\n",
		       &c, err), 0);
	CHECK_EQ(c.n_nets, 3);
	CHECK_EQ(c.net_vni[0], 0);
	CHECK_EQ(c.net_vni[1], 100);
	CHECK_EQ(c.net_vni[2], 16777215);
	CHECK_EQ(c.net_n_vteps[0], 0);
	CHECK_EQ(c.net_n_vteps[1], 2);
	CHECK_EQ(c.net_n_vteps[2], 1);
	CHECK_EQ(c.n_vteps, 3);
	CHECK(c.vteps != NULL && strcmp(c.vteps[c.net_vtep_first[1] + 1], "10.0.0.3") == 0 &&
	      strcmp(c.vteps[c.net_vtep_first[2]], "10.0.0.2") == 0);
	CHECK_EQ(c.n_ports, 3);
	CHECK(strcmp(c.ports[0].type, "uplink") == 0 && strcmp(c.ports[0].net, "") == 0 &&
	      strcmp(c.ports[0].address, "10.0.0.1/24") == 0 &&
	      strcmp(c.ports[0].gateway, "10.0.0.254") == 0 && c.ports[0].mtu == 1600);
	CHECK(strcmp(c.ports[1].gateway, "") == 0);
	riov_config_free(&c);
	CHECK(c.vteps == NULL && c.n_vteps == 0);
}

RIOV_TEST(overlay_refusals_named)
{
	static const struct {
		const char *text;
		const char *expect; /* substring of the error */
	} cases[] = {
		{ "networks = ( { name = \"a\"; vni = 0; } );",
		  "t.conf:1: 'vni' must be between 1 and 16777215" },
		{ "networks = ( { name = \"a\"; vni = 16777216; } );",
		  "'vni' must be between 1 and 16777215" },
		{ "networks = ( { name = \"a\"; vni = \"7\"; } );", "'vni' must be an integer" },
		{ "networks = ( { name = \"a\"; vni = 5; },\n { name = \"b\";\n vni = 5; } );",
		  "t.conf:3: vni 5 is network 'a''s already" },
		{ "networks = ( { name = \"a\"; vteps = [ \"10.0.0.2\" ]; } );",
		  "network 'a' has vteps but no vni: give it a vni" },
		{ "networks = ( { name = \"a\"; vni = 5; vteps = \"10.0.0.2\"; } );",
		  "'vteps' must be a list of IPv4 addresses" },
		{ "networks = ( { name = \"a\"; vni = 5; vteps = [ 10 ]; } );",
		  "each of 'vteps' must be a string" },
		{ "networks = ( { name = \"a\"; vni = 5; vteps = ( \"10.0.0.2\", 3 ); } );",
		  "each of 'vteps' must be a string" },
		{ "networks = ( { name = \"a\"; vni = 5; vteps = [ \"10.0.0\" ]; } );",
		  "VTEP '10.0.0' of network 'a' is not a unicast IPv4 address" },
		{ "networks = ( { name = \"a\"; vni = 5; vteps = [ \"224.0.0.1\" ]; } );",
		  "VTEP '224.0.0.1' of network 'a' is not a unicast" },
		{ "networks = ( { name = \"a\"; vni = 5; vteps = [ \"%s%n%s%n\" ]; } );",
		  "VTEP '%s%n%s%n' of network 'a' is not a unicast" },
		{ "networks = ( { name = \"a\"; vni = 5; vteps = [ \"10.0.0.2\", \"10.0.0.2\" ]; } );",
		  "VTEP 10.0.0.2 is listed twice" },
		{ "networks = ( { name = \"a\"; vni = 5; vtep = [ \"10.0.0.2\" ]; } );",
		  "unknown setting 'vtep'" },
		{ UPLINK_U "net = \"a\"; address = \"10.0.0.1/24\"; } );",
		  "uplink port 'u' is in no network: leave 'net' out" },
		{ "ports = ( { name = \"uplink-is-16char\"; type = \"uplink\"; devargs = \"x\";\n"
		  "  address = \"10.0.0.1/24\"; } );",
		  "the name is also its TAP interface's: at most 15 characters" },
		{ "ports = ( { name = \"..\"; type = \"uplink\"; devargs = \"x\";\n"
		  "  address = \"10.0.0.1/24\"; } );",
		  "not '.' or '..'" },
		{ "ports = ( { name = \"u\"; type = \"uplink\"; address = \"10.0.0.1/24\"; } );",
		  "uplink port 'u' needs devargs" },
		{ UPLINK_U "} );",
		  "uplink port 'u' needs an address" },
		{ UPLINK_U "\n address = \"10.0.0.1\"; } );",
		  "t.conf:2: 'address' must be a unicast IPv4 address with a prefix length 1-32" },
		{ UPLINK_U "address = \"10.0.0.1/33\"; } );",
		  "'address' must be" },
		{ UPLINK_U "address = \"127.0.0.1/8\"; } );",
		  "'address' must be" },
		{ UPLINK_U "address = 10; } );",
		  "'address' must be a string" },
		{ UPLINK_U "address = \"10.0.0.1/24\";\n"
		  " gateway = \"10.0.1.1\"; } );",
		  "t.conf:2: 'gateway' must be an IPv4 address \"a.b.c.d\" of another host on the address's "
		  "subnet" },
		{ UPLINK_U "address = \"10.0.0.1/24\"; "
		  "gateway = \"10.0.0.255\"; } );", "'gateway' must be" },
		{ UPLINK_U "address = \"10.0.0.1/24\"; "
		  "gateway = \"10.0.0.1\"; } );", "'gateway' must be" },
		{ UPLINK_U "address = \"10.0.0.1/24\"; "
		  "assign = true; } );", "assign and domain_id are for eth ports" },
		{ UPLINK_U "address = \"10.0.0.1/24\"; "
		  "mtu = 9001; } );", "'mtu' must be between 68 and 9000" },
		{ UPLINK_U "address = \"10.0.0.1/24\"; },"
		  "{ name = \"u\"; type = \"uplink\"; devargs = \"y\"; address = \"10.0.0.2/24\"; } );",
		  "port 'u' declared twice" },
		{ "networks = ({name=\"n\";}); ports = ( { name = \"p\"; type = \"eth\"; net = \"n\"; "
		  "devargs = \"x\"; address = \"10.0.0.1/24\"; } );",
		  "port 'p': address and gateway are for uplink ports" },
		{ "networks = ({name=\"n\";});\n"
		  "ports = ( { name = \"p\"; type = \"vhost\"; socket = \"s\"; } );",
		  "missing setting 'net'" },
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

RIOV_TEST(too_many_vteps)
{
	static char text[1100 * 14 + 256];
	struct riov_config c;
	char err[512] = "";
	size_t off = (size_t)snprintf(text, sizeof(text), "networks = ( { name = \"a\"; vni = 5; vteps = [ ");

	for (unsigned i = 0; i < 1025; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s\"10.%u.%u.1\"", i ? ", " : "",
					i / 256, i % 256);
	snprintf(text + off, sizeof(text) - off, " ]; } );");
	CHECK_EQ(riov_config_parse(text, "t.conf", &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "too many vteps (at most 1024 over every network)") != NULL);
	riov_config_free(&c);
}

RIOV_TEST(ipv4_helpers)
{
	uint32_t ip, gw;
	unsigned prefix;

	CHECK_EQ(riov_ipv4_parse("192.0.2.1", &ip), 0);
	CHECK(ip == htonl(0xc0000201));
	CHECK_EQ(riov_ipv4_parse("192.0.2.01", &ip), -EINVAL);
	CHECK_EQ(riov_ipv4_parse("192.0.2", &ip), -EINVAL);
	CHECK_EQ(riov_ipv4_parse(NULL, &ip), -EINVAL);
	CHECK_EQ(riov_ipv4_cidr_parse("192.0.2.1/32", &ip, &prefix), 0);
	CHECK_EQ(prefix, 32);
	CHECK_EQ(riov_ipv4_cidr_parse("192.0.2.1/1", &ip, &prefix), 0);
	CHECK_EQ(riov_ipv4_cidr_parse("192.0.2.1/", &ip, &prefix), -EINVAL);
	CHECK_EQ(riov_ipv4_cidr_parse("192.0.2.1/100", &ip, &prefix), -EINVAL);
	CHECK_EQ(riov_ipv4_cidr_parse("192.0.2.1/+8", &ip, &prefix), -EINVAL);
	CHECK_EQ(riov_ipv4_cidr_parse(NULL, &ip, &prefix), -EINVAL);
	CHECK(riov_ipv4_unicast(htonl(0x0a000001)) && riov_ipv4_unicast(htonl(0xdfffffff)));
	CHECK(!riov_ipv4_unicast(0) && !riov_ipv4_unicast(htonl(0x7f000001)) &&
	      !riov_ipv4_unicast(htonl(0xe0000001)) && !riov_ipv4_unicast(htonl(0xffffffff)) &&
	      !riov_ipv4_unicast(htonl(0x00ffffff)));
	riov_ipv4_parse("10.0.0.1", &ip);
	riov_ipv4_parse("10.0.0.254", &gw);
	CHECK(riov_ipv4_gateway_ok(ip, 24, gw));
	CHECK(!riov_ipv4_gateway_ok(ip, 25, gw));
	CHECK(!riov_ipv4_gateway_ok(ip, 32, gw));
	CHECK(!riov_ipv4_gateway_ok(ip, 0, gw));
	CHECK(!riov_ipv4_gateway_ok(ip, 24, ip));
}

/* Static MACs: "MAC@VTEP" (one of the network's vteps) or "MAC@PORT". */
RIOV_TEST(static_macs_parse)
{
	struct riov_config c;
	char err[512];
	CHECK_EQ(parse("networks = ( { name = \"a\"; },\n"
		       "  { name = \"b\"; vni = 100; vteps = [ \"10.0.0.2\" ];\n"
		       "    macs = [ \"02:00:00:00:00:0A@10.0.0.2\", \"52:54:00:12:34:56@vm1\" ]; },\n"
		       "  { name = \"c\"; macs = ( \"02:00:00:00:00:0a@10.0.0.2.x\" ); } );\n",
		       &c, err), 0);
	CHECK_EQ(c.n_macs, 3);
	CHECK_EQ(c.net_n_macs[0], 0);
	CHECK_EQ(c.net_n_macs[1], 2);
	CHECK_EQ(c.net_n_macs[2], 1);
	CHECK(c.macs != NULL);
	if (c.macs != NULL) {
		const struct riov_cfg_mac *m = &c.macs[c.net_mac_first[1]];
		CHECK(strcmp(m[0].mac, "02:00:00:00:00:0A") == 0 && strcmp(m[0].target, "10.0.0.2") == 0 && m[0].vtep);
		CHECK(strcmp(m[1].mac, "52:54:00:12:34:56") == 0 && strcmp(m[1].target, "vm1") == 0 && !m[1].vtep);
		/* a port may be called anything a port may be called */
		m = &c.macs[c.net_mac_first[2]];
		CHECK(strcmp(m[0].target, "10.0.0.2.x") == 0 && !m[0].vtep);
	}
	riov_config_free(&c);
	CHECK(c.macs == NULL && c.n_macs == 0);
	CHECK_EQ(c.mac_aging_s, 300); /* the default */
}

RIOV_TEST(static_macs_refusals_named)
{
	static const struct {
		const char *text;
		const char *expect; /* substring of the error */
	} cases[] = {
		{ "networks = ( { name = \"a\"; macs = \"02:00:00:00:00:01@vm1\"; } );",
		  "'macs' must be a list [\"02:00:00:00:00:01@10.0.0.2\"" },
		{ "networks = ( { name = \"a\"; macs = [ 2 ]; } );",
		  "each of 'macs' must be a string \"MAC@VTEP\" or \"MAC@PORT\"" },
		{ "networks = ( { name = \"a\";\n macs = [ \"02:00:00:00:00:01\" ]; } );",
		  "t.conf:2: static MAC '02:00:00:00:00:01' of network 'a' is not MAC@VTEP or MAC@PORT" },
		{ "networks = ( { name = \"a\"; macs = [ \"02:00:00:00:01@vm1\" ]; } );",
		  "static MAC '02:00:00:00:01@vm1' of network 'a' is not MAC@VTEP or MAC@PORT" },
		{ "networks = ( { name = \"a\"; macs = [ \"02-00-00-00-00-01@vm1\" ]; } );",
		  "is not MAC@VTEP or MAC@PORT" },
		{ "networks = ( { name = \"a\"; macs = [ \"02:00:00:00:00:0x@vm1\" ]; } );",
		  "is not MAC@VTEP or MAC@PORT" },
		{ "networks = ( { name = \"a\"; macs = [ \"%s%n%s%n%s%n%s%n@vm1\" ]; } );",
		  "static MAC '%s%n%s%n%s%n%s%n@vm1' of network 'a' is not" },
		{ "networks = ( { name = \"a\"; macs = [ \"01:00:5e:00:00:01@vm1\" ]; } );",
		  "static MAC 01:00:5e:00:00:01 of network 'a' is multicast: only a unicast address can be "
		  "static" },
		{ "networks = ( { name = \"a\"; macs = [ \"ff:ff:ff:ff:ff:ff@vm1\" ]; } );",
		  "is multicast" },
		{ "networks = ( { name = \"a\"; macs = [ \"00:00:00:00:00:00@vm1\" ]; } );",
		  "static MAC 00:00:00:00:00:00 of network 'a' is all zeros" },
		{ "networks = ( { name = \"a\"; vni = 5; vteps = [ \"10.0.0.2\" ];\n"
		  "  macs = [ \"02:00:00:00:00:01@10.0.0.3\" ]; } );",
		  "t.conf:2: static MAC 02:00:00:00:00:01 of network 'a': VTEP 10.0.0.3 is not one of its vteps" },
		{ "networks = ( { name = \"a\"; macs = [ \"02:00:00:00:00:01@10.0.0.3\" ]; } );",
		  "VTEP 10.0.0.3 is not one of its vteps" },
		{ "networks = ( { name = \"a\"; macs = [ \"02:00:00:00:00:01@\" ]; } );",
		  "static MAC 02:00:00:00:00:01 of network 'a': '' is neither an IPv4 address (one of its "
		  "vteps) nor a port name" },
		{ "networks = ( { name = \"a\"; macs = [ \"02:00:00:00:00:01@vm 1\" ]; } );",
		  "'vm 1' is neither an IPv4 address" },
		{ "networks = ( { name = \"a\"; macs = [ \"02:00:00:00:00:01@a@b\" ]; } );",
		  "'a@b' is neither an IPv4 address" },
		{ "networks = ( { name = \"a\"; macs = [ \"02:00:00:00:00:01@../x\" ]; } );",
		  "is neither an IPv4 address" },
		{ "networks = ( { name = \"a\"; macs = [ \"02:00:00:00:00:01@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" ]; } );",
		  "is neither an IPv4 address" },
		{ "networks = ( { name = \"a\"; macs = [ \"02:00:00:00:00:0a@vm1\", \"02:00:00:00:00:0A@vm2\" ]; } );",
		  "static MAC 02:00:00:00:00:0A of network 'a' is listed twice" },
		{ "networks = ( { name = \"a\"; mac = [ \"02:00:00:00:00:0a@vm1\" ]; } );",
		  "unknown setting 'mac'" },
		{ "riovd = { mac_aging_s = 9; };", "'mac_aging_s' must be 0 (learned MACs never age) or between "
		  "10 and 1000000 seconds" },
		{ "riovd = { mac_aging_s = 1000001; };", "'mac_aging_s' must be between 0 and 1000000" },
		{ "riovd = { mac_aging_s = -1; };", "'mac_aging_s' must be between 0 and 1000000" },
		{ "riovd = { mac_aging_s = \"300\"; };", "'mac_aging_s' must be an integer" },
		{ "riovd = { mac_aging = 300; };", "unknown setting 'mac_aging'" },
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

RIOV_TEST(mac_aging_setting)
{
	struct riov_config c;
	char err[512];

	CHECK_EQ(parse("riovd = { mac_aging_s = 0; };", &c, err), 0);
	CHECK_EQ(c.mac_aging_s, 0);
	riov_config_free(&c);
	CHECK_EQ(parse("riovd = { mac_aging_s = 10; };", &c, err), 0);
	CHECK_EQ(c.mac_aging_s, 10);
	riov_config_free(&c);
	CHECK_EQ(parse("riovd = { mac_aging_s = 1000000; };", &c, err), 0);
	CHECK_EQ(c.mac_aging_s, 1000000);
	riov_config_free(&c);
	CHECK_EQ(parse(riov_config_default_text, &c, err), 0);
	CHECK_EQ(c.mac_aging_s, 300);
	riov_config_free(&c);
}

RIOV_TEST(too_many_static_macs)
{
	static char text[4200 * 32 + 256];
	struct riov_config c;
	char err[512] = "";
	size_t off = (size_t)snprintf(text, sizeof(text), "networks = ( { name = \"a\"; macs = [ ");

	for (unsigned i = 0; i < 4097; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s\"02:00:00:00:%02x:%02x@vm1\"",
					i ? ", " : "", i >> 8, i & 0xff);
	snprintf(text + off, sizeof(text) - off, " ]; } );");
	CHECK_EQ(riov_config_parse(text, "t.conf", &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "too many static macs (at most 4096 over every network)") != NULL);
	riov_config_free(&c);
}

RIOV_TEST(mac_helpers)
{
	uint8_t m[6];
	char text[RIOV_CFG_MAC];

	CHECK_EQ(riov_mac_parse("02:aB:cd:EF:00:09", m), 0);
	riov_mac_text(m, text);
	CHECK(strcmp(text, "02:ab:cd:ef:00:09") == 0);
	CHECK(riov_mac_unicast(m));
	CHECK_EQ(riov_mac_parse(NULL, m), -EINVAL);
	CHECK_EQ(riov_mac_parse("02:ab:cd:ef:00:9", m), -EINVAL);
	CHECK_EQ(riov_mac_parse("02:ab:cd:ef:00:09:", m), -EINVAL);
	CHECK_EQ(riov_mac_parse("02:ab:cd:ef:00-09", m), -EINVAL);
	CHECK_EQ(riov_mac_parse("+2:ab:cd:ef:00:09", m), -EINVAL);
	riov_mac_text(m, text);
	CHECK(strcmp(text, "02:ab:cd:ef:00:09") == 0); /* a failed parse leaves mac alone */
	CHECK_EQ(riov_mac_parse("03:00:00:00:00:00", m), 0);
	CHECK(!riov_mac_unicast(m));
	CHECK_EQ(riov_mac_parse("00:00:00:00:00:00", m), 0);
	CHECK(!riov_mac_unicast(m));
	CHECK_EQ(riov_mac_parse("00:00:00:00:00:01", m), 0);
	CHECK(riov_mac_unicast(m));
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(overlay_parses), RIOV_TEST_ENTRY(overlay_refusals_named),
	       RIOV_TEST_ENTRY(too_many_vteps), RIOV_TEST_ENTRY(ipv4_helpers),
	       RIOV_TEST_ENTRY(static_macs_parse), RIOV_TEST_ENTRY(static_macs_refusals_named),
	       RIOV_TEST_ENTRY(mac_aging_setting), RIOV_TEST_ENTRY(too_many_static_macs),
	       RIOV_TEST_ENTRY(mac_helpers))
