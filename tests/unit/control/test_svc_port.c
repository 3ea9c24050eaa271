/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port.Add's host-facing arguments (control/svc_port.c), on the dataplane double: a vhost port's
 * socket stays inside socket_dir (riov_vhost_socket_confine()) and an eth port's devargs name
 * only drivers and keys of eth_devargs_allow, whoever gives them (the API, the config file, the
 * state file replayed at start). Refusals are INVALID_ARGUMENT naming the path, driver or key and
 * the rule, and never reach the dataplane.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>

#include "riov_test.h"
#include "svc_fixture.h"

static int add_net(struct svc_fixture *f, const char *name)
{
	Riov__V1__NetworkAddRequest req = RIOV__V1__NETWORK_ADD_REQUEST__INIT;
	Riov__V1__NetworkSpec spec = RIOV__V1__NETWORK_SPEC__INIT;
	struct svc_call t;

	spec.name = (char *)name;
	req.network = &spec;
	int rc = svc_call(f, &t, "Network.Add", &req);
	svc_call_end(&t);
	return rc;
}

/* Port.Add of a vhost port vm1 on blue at sock; msg gets the answer's message. */
static int add_vhost(struct svc_fixture *f, const char *name, const char *sock, bool client,
		     char *msg, size_t msglen)
{
	Riov__V1__PortAddRequest req = RIOV__V1__PORT_ADD_REQUEST__INIT;
	Riov__V1__PortSpec ps;
	struct svc_call t;

	riov__v1__port_spec__init(&ps);
	ps.name = (char *)name;
	ps.net = "blue";
	ps.type = RIOV__V1__PORT_TYPE__PORT_TYPE_VHOST;
	ps.socket_path = (char *)sock;
	ps.client = client;
	req.port = &ps;
	int rc = svc_call(f, &t, "Port.Add", &req);
	snprintf(msg, msglen, "%s", t.msg);
	svc_call_end(&t);
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Empty socket_dir and remove the files the test put beside it, then the fixture's directory. */
static void close_all(struct svc_fixture *f)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/outside", f->dir);
	nftw(p, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	nftw(f->cfg.socket_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	fixture_close(f);
}

static int open_with_net(struct svc_fixture *f)
{
	char p[256];
	int rc = fixture_open(f);

	if (rc == 0)
		rc = add_net(f, "blue");
	snprintf(p, sizeof(p), "%s/outside", f->dir);
	mkdir(p, 0755);
	return rc;
}

/* Create socket_dir/rel (a directory, a symbolic link to target, or a regular file). */
static void make_in(struct svc_fixture *f, const char *rel, char kind, const char *target)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", f->cfg.socket_dir, rel);
	switch (kind) {
	case 'd': CHECK_EQ(mkdir(p, 0755), 0); break;
	case 'l': CHECK_EQ(symlink(target, p), 0); break;
	default:
		fd = open(p, O_CREAT | O_WRONLY | O_EXCL, 0644);
		CHECK(fd >= 0);
		CHECK_EQ(write(fd, "keep", 4), 4);
		close(fd);
	}
}

/* Each path is refused with INVALID_ARGUMENT, a message naming it and the rule, and the dataplane
 * is never asked. */
static void refused(struct svc_fixture *f, const char *sock, bool client, const char *rule)
{
	char msg[512], want[300];
	unsigned before = dp_double.port_add;

	snprintf(want, sizeof(want), "socket path '%.100s", sock);
	CHECK_EQ(add_vhost(f, "vm1", sock, client, msg, sizeof(msg)), -EINVAL);
	if (strstr(msg, want) == NULL || strstr(msg, rule) == NULL)
		fprintf(stderr, "  %s: unexpected message: %s\n", sock, msg);
	CHECK(strstr(msg, want) != NULL && strstr(msg, rule) != NULL);
	CHECK_EQ(dp_double.port_add, before);
	CHECK_EQ(f->svc->n_ports, 0);
}

RIOV_TEST(socket_paths_outside_socket_dir_refused)
{
	struct svc_fixture f = { 0 };
	char p[512], outside[256];

	CHECK_EQ(open_with_net(&f), 0);
	snprintf(outside, sizeof(outside), "%s/outside", f.dir);
	refused(&f, "../x", false, "'..' is not allowed");
	refused(&f, "../x", true, "'..' is not allowed");
	make_in(&f, "a", 'd', NULL);
	refused(&f, "a/../../b", false, "'..' is not allowed");
	refused(&f, "a/..", false, "'..' is not allowed");
	refused(&f, "/etc/x", false, "must be inside socket_dir");
	refused(&f, "/etc/x", true, "must be inside socket_dir");
	/* a prefix of the name is not inside: <socket_dir>x/y */
	snprintf(p, sizeof(p), "%sx/vm.sock", f.cfg.socket_dir);
	refused(&f, p, false, "must be inside socket_dir");
	snprintf(p, sizeof(p), "%s/../outside/vm.sock", f.cfg.socket_dir);
	refused(&f, p, false, "'..' is not allowed");
	refused(&f, "a/", false, "names a directory");
	refused(&f, "missing/vm.sock", false, "directory 'missing'");
	close_all(&f);
}

RIOV_TEST(socket_paths_through_links_refused)
{
	struct svc_fixture f = { 0 };
	char outside[256], target[300];

	CHECK_EQ(open_with_net(&f), 0);
	snprintf(outside, sizeof(outside), "%s/outside", f.dir);
	make_in(&f, "link", 'l', outside);          /* a directory link leading out */
	refused(&f, "link/vm.sock", false, "'link' is a symbolic link");
	refused(&f, "link/vm.sock", true, "'link' is a symbolic link");
	make_in(&f, "d", 'd', NULL);
	make_in(&f, "d/up", 'l', "..");             /* a link inside, even one leading back in */
	refused(&f, "d/up/vm.sock", false, "'up' is a symbolic link");
	snprintf(target, sizeof(target), "%s/victim", outside);
	make_in(&f, "vm.sock", 'l', target);        /* the socket's own name a link */
	refused(&f, "vm.sock", false, "'vm.sock' is a symbolic link");
	refused(&f, "vm.sock", true, "'vm.sock' is a symbolic link");
	struct stat st;
	CHECK(lstat(target, &st) != 0);             /* nothing was created through it */
	close_all(&f);
}

RIOV_TEST(socket_path_existing_file_and_length)
{
	struct svc_fixture f = { 0 };
	char p[512], name[400];
	struct stat st;

	CHECK_EQ(open_with_net(&f), 0);
	make_in(&f, "file.sock", 'f', NULL);
	refused(&f, "file.sock", false, "exists and is not a socket");
	snprintf(p, sizeof(p), "%s/file.sock", f.cfg.socket_dir);
	CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4); /* left alone */
	make_in(&f, "notdir", 'f', NULL);
	refused(&f, "notdir/vm.sock", false, "'notdir' is not a directory");
	memset(name, 'n', 300);
	name[300] = '\0';                           /* longer than NAME_MAX */
	refused(&f, name, false, "is longer than 255 bytes");
	name[120] = '\0';                           /* a file name, but not a Unix socket address */
	refused(&f, name, false, "too long for a Unix socket address");
	close_all(&f);
}

RIOV_TEST(socket_paths_inside_accepted)
{
	struct svc_fixture f = { 0 };
	char p[512], want[512], msg[512];

	CHECK_EQ(open_with_net(&f), 0);
	snprintf(p, sizeof(p), "%s/vm1.sock", f.cfg.socket_dir); /* absolute, inside */
	CHECK_EQ(add_vhost(&f, "vm1", p, false, msg, sizeof(msg)), 0);
	CHECK(strcmp(dp_double.last_socket, p) == 0);
	make_in(&f, "vms", 'd', NULL);
	CHECK_EQ(add_vhost(&f, "vm2", "vms//./vm2.sock", true, msg, sizeof(msg)), 0);
	snprintf(want, sizeof(want), "%s/vms/vm2.sock", f.cfg.socket_dir);
	CHECK(strcmp(dp_double.last_socket, want) == 0);
	/* the dataplane gets a path through the checked directory's fd, closed afterwards */
	CHECK_EQ(f.svc->n_ports, 2);
	close_all(&f);
}

/* The state file replayed at start goes through the same check: a port whose directory became a
 * link meanwhile is reported as not restored, the others are. */
RIOV_TEST(state_replay_confined)
{
	struct svc_fixture f = { 0 };
	char msg[512], p[512], outside[256];

	CHECK_EQ(open_with_net(&f), 0);
	make_in(&f, "sub", 'd', NULL);
	CHECK_EQ(add_vhost(&f, "vm1", "sub/vm1.sock", false, msg, sizeof(msg)), 0);
	CHECK_EQ(add_vhost(&f, "vm2", "vm2.sock", false, msg, sizeof(msg)), 0);
	fixture_stop(&f);
	snprintf(p, sizeof(p), "%s/sub", f.cfg.socket_dir);
	CHECK_EQ(rmdir(p), 0);
	snprintf(outside, sizeof(outside), "%s/outside", f.dir);
	make_in(&f, "sub", 'l', outside);
	CHECK_EQ(fixture_open(&f), 0);
	CHECK(f.svc->restore_failed >= 1);
	CHECK(dp_double_has_port(f.dp, "vm2") && !dp_double_has_port(f.dp, "vm1"));
	close_all(&f);
}

/* The configuration file's ports go through svc_port_add() too. */
RIOV_TEST(config_ports_confined)
{
	struct svc_fixture f = { 0 };
	struct riov_cfg_port cp = { 0 };
	Riov__V1__PortSpec ps;
	char *feat[SVC_N_FEATURES];
	char err[512] = "";

	CHECK_EQ(open_with_net(&f), 0);
	snprintf(cp.name, sizeof(cp.name), "vm1");
	snprintf(cp.net, sizeof(cp.net), "blue");
	snprintf(cp.type, sizeof(cp.type), "vhost");
	snprintf(cp.socket, sizeof(cp.socket), "../../etc/x");
	cp.queues = 1;
	svc_port_from_config(&cp, &ps, feat);
	CHECK_EQ(svc_port_add(f.svc, &ps, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "socket path '../../etc/x' refused: '..' is not allowed") != NULL);
	CHECK_EQ(f.svc->n_ports, 0);
	close_all(&f);
}

/* ---- eth devargs (eth_devargs_allow) ---- */

static int add_eth(struct svc_fixture *f, const char *name, const char *devargs, char *msg,
		   size_t msglen)
{
	Riov__V1__PortAddRequest req = RIOV__V1__PORT_ADD_REQUEST__INIT;
	Riov__V1__PortSpec ps;
	struct svc_call t;

	riov__v1__port_spec__init(&ps);
	ps.name = (char *)name;
	ps.net = "blue";
	ps.type = RIOV__V1__PORT_TYPE__PORT_TYPE_ETH;
	ps.devargs = (char *)devargs;
	req.port = &ps;
	int rc = svc_call(f, &t, "Port.Add", &req);
	snprintf(msg, msglen, "%s", t.msg);
	svc_call_end(&t);
	return rc;
}

/* devargs refused with INVALID_ARGUMENT, a message with rule, and the dataplane never asked. */
static void devargs_refused(struct svc_fixture *f, const char *devargs, const char *rule)
{
	char msg[512];
	unsigned before = dp_double.port_add;

	CHECK_EQ(add_eth(f, "up0", devargs, msg, sizeof(msg)), -EINVAL);
	if (strstr(msg, "devargs '") == NULL || strstr(msg, "' refused: ") == NULL ||
	    strstr(msg, rule) == NULL)
		fprintf(stderr, "  %s: unexpected message: %s\n", devargs, msg);
	CHECK(strstr(msg, "eth port up0: devargs '") != NULL && strstr(msg, rule) != NULL);
	CHECK_EQ(dp_double.port_add, before);
	CHECK_EQ(f->svc->n_ports, 0);
}

static void devargs_allowed(struct svc_fixture *f, const char *devargs)
{
	char msg[512];
	Riov__V1__PortDeleteRequest pd = RIOV__V1__PORT_DELETE_REQUEST__INIT;
	struct svc_call t;

	if (add_eth(f, "up0", devargs, msg, sizeof(msg)) != 0)
		fprintf(stderr, "  %s: refused: %s\n", devargs, msg);
	CHECK_EQ(f->svc->n_ports, 1);
	pd.name = "up0";
	CHECK_EQ(svc_call(f, &t, "Port.Delete", &pd), 0);
	svc_call_end(&t);
}

RIOV_TEST(devargs_default_allow_list)
{
	struct svc_fixture f = { 0 };

	CHECK_EQ(open_with_net(&f), 0);
	/* drivers that take paths (files written or read, sockets bound) as root */
	devargs_refused(&f, "net_pcap0,tx_pcap=/etc/shadow", "driver 'net_pcap' is not allowed");
	devargs_refused(&f, "eth_pcap0,rx_pcap=/etc/shadow", "driver 'eth_pcap' is not allowed");
	devargs_refused(&f, "net_vhost0,iface=/etc/x", "driver 'net_vhost' is not allowed");
	devargs_refused(&f, "virtio_user0,path=/dev/vhost-net",
			"driver 'virtio_user' is not allowed");
	devargs_refused(&f, "net_nosuchdriver0", "driver 'net_nosuchdriver' is not allowed");
	/* DPDK matches vdev drivers by prefix: only an instance number may follow the name */
	devargs_refused(&f, "net_nullx0", "driver 'net_nullx' is not allowed");
	devargs_refused(&f, "net_null_pcap0", "driver 'net_null_pcap' is not allowed");
	/* keys outside the driver's list, paths in values of allowed keys */
	devargs_refused(&f, "net_af_packet0,iface=eth0,tx_pcap=/etc/shadow",
			"key 'tx_pcap' of net_af_packet is not allowed");
	devargs_refused(&f, "net_af_xdp0,iface=eth0,xdp_prog=/tmp/p.o",
			"key 'xdp_prog' of net_af_xdp is not allowed");
	devargs_refused(&f, "net_tap0,remote=eth0", "key 'remote' of net_tap is not allowed");
	devargs_refused(&f, "net_af_packet0,iface=/etc/shadow", "the value of 'iface' must be");
	devargs_refused(&f, "net_af_packet0,iface=../x", "the value of 'iface' must be");
	devargs_refused(&f, "net_af_packet0,iface=[a,b]", "the value of 'iface' must be");
	devargs_refused(&f, "net_af_packet0,iface=\"eth0\"", "the value of 'iface' must be");
	devargs_refused(&f, "net_af_packet0,iface=a b", "the value of 'iface' must be");
	devargs_refused(&f, "net_af_packet0,iface=", "the value of 'iface' must be");
	devargs_refused(&f, "net_af_packet0,iface", "is not KEY=VALUE");
	devargs_refused(&f, "net_af_packet0,", "is not KEY=VALUE");
	devargs_refused(&f, "net_af_packet0,,iface=eth0", "is not KEY=VALUE");
	devargs_refused(&f, "net_af_packet0,iface=eth0,iface=eth1", "key 'iface' is given twice");
	devargs_refused(&f, "net_ring0,nodeaction=r:0:CREATE", "key 'nodeaction' of net_ring");
	/* bus prefixes, the layered syntax, and names that are neither kind */
	devargs_refused(&f, "vdev:net_pcap0", "neither a PCI address nor a vdev name");
	devargs_refused(&f, "pci:0000:03:00.0", "neither a PCI address nor a vdev name");
	devargs_refused(&f, "bus=vdev/class=eth", "neither a PCI address nor a vdev name");
	devargs_refused(&f, "0000:3:00.0", "neither a PCI address nor a vdev name");
	devargs_refused(&f, "Net_null0", "neither a PCI address nor a vdev name");
	devargs_refused(&f, "0000:03:00.0,txq_inline=/x", "key 'txq_inline' of pci is not allowed");
	/* what the default allows */
	devargs_allowed(&f, "net_af_packet0,iface=veth0,qpairs=2,qdisc_bypass=1");
	devargs_allowed(&f, "net_af_xdp1,iface=eth0,start_queue=0,queue_count=1");
	devargs_allowed(&f, "net_tap0,iface=riov-tap0,mac=02:00:00:00:00:01");
	devargs_allowed(&f, "net_null0,no-rx=1");
	devargs_allowed(&f, "net_null");
	devargs_allowed(&f, "net_ring0");
	devargs_allowed(&f, "0000:03:00.0");
	devargs_allowed(&f, "03:00.0");
	close_all(&f);
}

/* The configuration file's eth_devargs_allow replaces the default list; the state file replayed
 * at start goes through it too. The API has no call that changes it. */
RIOV_TEST(devargs_configured_allow_list)
{
	struct svc_fixture f = { 0 };
	struct riov_config c = { 0 };
	char err[512] = "";

	CHECK_EQ(riov_config_parse("riovd = { eth_devargs_allow = \"net_pcap:rx_iface, tx_iface; "
				   "net_null\"; };", "test.conf", &c, err, sizeof(err)), 0);
	CHECK(strcmp(c.eth_devargs_allow, "net_pcap:rx_iface, tx_iface; net_null") == 0);
	riov_config_free(&c);
	CHECK_EQ(open_with_net(&f), 0);
	devargs_allowed(&f, "net_null0,no-rx=1");   /* the default allows it ... */
	snprintf(f.cfg.eth_devargs_allow, sizeof(f.cfg.eth_devargs_allow), "%s",
		 "net_pcap:rx_iface, tx_iface; net_null");
	devargs_refused(&f, "net_null0,no-rx=1", "key 'no-rx' of net_null is not allowed");
	devargs_refused(&f, "net_af_packet0,iface=eth0", "driver 'net_af_packet' is not allowed");
	devargs_refused(&f, "0000:03:00.0", "PCI addresses are not allowed");
	devargs_refused(&f, "net_pcap0,tx_pcap=/etc/shadow", "key 'tx_pcap' of net_pcap");
	devargs_allowed(&f, "net_pcap0,rx_iface=eth0,tx_iface=eth0");
	char msg[512];
	CHECK_EQ(add_eth(&f, "up1", "net_null0", msg, sizeof(msg)), 0);
	fixture_stop(&f);
	/* a restart under a stricter list: the port is reported, not restored */
	snprintf(f.cfg.eth_devargs_allow, sizeof(f.cfg.eth_devargs_allow), "pci");
	CHECK_EQ(fixture_open(&f), 0);
	CHECK(f.svc->restore_failed >= 1 && !dp_double_has_port(f.dp, "up1"));
	close_all(&f);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(socket_paths_outside_socket_dir_refused),
	       RIOV_TEST_ENTRY(socket_paths_through_links_refused),
	       RIOV_TEST_ENTRY(socket_path_existing_file_and_length),
	       RIOV_TEST_ENTRY(socket_paths_inside_accepted),
	       RIOV_TEST_ENTRY(state_replay_confined),
	       RIOV_TEST_ENTRY(config_ports_confined), RIOV_TEST_ENTRY(devargs_default_allow_list),
	       RIOV_TEST_ENTRY(devargs_configured_allow_list))
