/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Start-up configuration (libconfig).
 *
 * Security model: see config.h. libconfig does the parsing; this file checks every setting's type,
 * range and length, refuses unknown settings (a typo must not be silently ignored), and names the
 * line of each error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config.h"
#include "dataplane/rdma_link.h"

const char riov_config_default_text[] =
	"# riovd's embedded defaults: one network, two vhost-user guests in server mode.\n"
	"riovd = {\n"
	"  workers = \"auto\";\n"
	"  memory_mb = 512;\n"
	"  mbufs = 16383;\n"
	"  socket_dir = \"/run/riov\";\n"
	"  state_dir = \"/var/lib/riov\";\n"
	"  rpc_socket = \"/run/riov/riovd.sock\";\n"
	"};\n"
	"networks = ( { name = \"default\"; } );\n"
	"ports = (\n"
	"  { name = \"vm1\"; type = \"vhost\"; net = \"default\"; socket = \"vm1.sock\"; },\n"
	"  { name = \"vm2\"; type = \"vhost\"; net = \"default\"; socket = \"vm2.sock\"; }\n"
	");\n";

static int fail(char *err, size_t errlen, const char *origin, const config_setting_t *s, const char *fmt,
		const char *what)
{
	char msg[256];
	snprintf(msg, sizeof(msg), fmt, what);
	snprintf(err, errlen, "%s:%d: %s", origin, s ? config_setting_source_line(s) : 0, msg);
	return -EINVAL;
}

static bool in_list(const char *name, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(name, *allowed) == 0)
			return true;
	return false;
}

/* Refuse settings this version does not know. */
static int check_keys(const config_setting_t *grp, const char *const *allowed, const char *origin, char *err,
		      size_t errlen)
{
	int n = config_setting_length(grp);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s);
		if (name && !in_list(name, allowed))
			return fail(err, errlen, origin, s, "unknown setting '%s'", name);
	}
	return 0;
}

static int get_str(const config_setting_t *grp, const char *key, char *dst, size_t len, bool required,
		   const char *origin, char *err, size_t errlen)
{
	const config_setting_t *s = config_setting_get_member(grp, key);
	if (s == NULL) {
		if (required)
			return fail(err, errlen, origin, grp, "missing setting '%s'", key);
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(err, errlen, origin, s, "'%s' must be a string", key);
	const char *v = config_setting_get_string(s);
	if (strlen(v) >= len)
		return fail(err, errlen, origin, s, "'%s' is too long", key);
	snprintf(dst, len, "%s", v);
	return 0;
}

static int get_uint(const config_setting_t *grp, const char *key, unsigned *dst, unsigned lo, unsigned hi,
		    const char *origin, char *err, size_t errlen)
{
	const config_setting_t *s = config_setting_get_member(grp, key);
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return fail(err, errlen, origin, s, "'%s' must be an integer", key);
	long long v = config_setting_get_int64(s);
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	if (v < (long long)lo || v > (long long)hi) {
		char m[128];
		snprintf(m, sizeof(m), "'%%s' must be between %u and %u", lo, hi);
		return fail(err, errlen, origin, s, m, key);
	}
	*dst = (unsigned)v;
	return 0;
}

static int get_bool(const config_setting_t *grp, const char *key, bool *dst, const char *origin, char *err,
		    size_t errlen)
{
	const config_setting_t *s = config_setting_get_member(grp, key);
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(err, errlen, origin, s, "'%s' must be true or false", key);
	*dst = config_setting_get_bool(s);
	return 0;
}

#define TRY(x)                                                                               \
	do {                                                                                 \
		int rc_ = (x);                                                               \
		if (rc_ != 0)                                                                \
			return rc_;                                                          \
	} while (0)

/* The RDMA peer links' settings (docs/rdma.md): a device name (rdma-core's, such as "rxe0" or
 * "mlx5_0"; absent or "": no RDMA), the rdma_cm port, the message size and the buffers per link. */
static int parse_rdma(const config_setting_t *d, const char *o, struct riov_config *c, char *err, size_t el)
{
	const config_setting_t *s;

	TRY(get_str(d, "rdma_device", c->rdma_device, sizeof(c->rdma_device), false, o, err, el));
	s = config_setting_get_member(d, "rdma_device");
	for (const char *p = c->rdma_device; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-' || *p == '.'))
			return fail(err, el, o, s, "'%s' must be an RDMA device's name (letters, digits, "
				    "'_', '-', '.'), such as \"rxe0\" or \"mlx5_0\"", "rdma_device");
#if !RIOV_HAVE_RDMA
	if (c->rdma_device[0] != '\0')
		return fail(err, el, o, s, "'%s' is set, but riovd was built without RDMA (rdma-core): "
			    "remove it or rebuild with -Drdma=enabled", "rdma_device");
#endif
	TRY(get_uint(d, "rdma_port", &c->rdma_port, 1, 65535, o, err, el));
	TRY(get_uint(d, "rdma_msg_size", &c->rdma_msg_size, RIOV_RDMA_MSG_MIN, RIOV_RDMA_MSG_MAX, o, err, el));
	TRY(get_uint(d, "rdma_recv_bufs", &c->rdma_recv_bufs, 4, RIOV_RDMA_BUFS_MAX, o, err, el));
	TRY(get_uint(d, "rdma_send_bufs", &c->rdma_send_bufs, 2, RIOV_RDMA_BUFS_MAX, o, err, el));
	return 0;
}

static int parse_daemon(const config_setting_t *d, const char *o, struct riov_config *c, char *err, size_t el)
{
	static const char *const keys[] = { "workers", "control_cpu", "mbufs", "memory_mb", "hugepages",
					    "eal_args", "socket_dir", "state_dir", "rpc_socket", "rpc_listen",
					    "tls_cert", "tls_key", "tls_ca", "metrics_listen",
					    "tls_crl", "tls_roles", "rpc_max_conns", "tls_max_conns",
					    "tls_handshake_timeout_ms", "metrics_max_conns",
					    "metrics_timeout_ms",
					    "stats_interval", "idle_sleep_us", "log_level", "eth_devargs_allow",
					    "mac_aging_s", "rdma_device", "rdma_port", "rdma_msg_size",
					    "rdma_recv_bufs", "rdma_send_bufs", NULL };
	unsigned cpu = 0;
	bool have_cpu = config_setting_get_member(d, "control_cpu") != NULL;

	if (!config_setting_is_group(d))
		return fail(err, el, o, d, "'%s' must be a group { ... }", "riovd");
	TRY(check_keys(d, keys, o, err, el));
	TRY(get_str(d, "workers", c->workers, sizeof(c->workers), false, o, err, el));
	TRY(get_uint(d, "control_cpu", &cpu, 0, 4095, o, err, el));
	if (have_cpu)
		c->control_cpu = (int)cpu;
	TRY(get_uint(d, "mbufs", &c->mbufs, 1023, 4u << 20, o, err, el));
	TRY(get_uint(d, "memory_mb", &c->memory_mb, 64, 1u << 20, o, err, el));
	TRY(get_bool(d, "hugepages", &c->hugepages, o, err, el));
	TRY(get_str(d, "eal_args", c->eal_args, sizeof(c->eal_args), false, o, err, el));
	TRY(get_str(d, "socket_dir", c->socket_dir, sizeof(c->socket_dir), false, o, err, el));
	TRY(get_str(d, "eth_devargs_allow", c->eth_devargs_allow, sizeof(c->eth_devargs_allow), false,
		    o, err, el));
	TRY(get_str(d, "state_dir", c->state_dir, sizeof(c->state_dir), false, o, err, el));
	TRY(get_str(d, "rpc_socket", c->rpc_socket, sizeof(c->rpc_socket), false, o, err, el));
	TRY(get_str(d, "rpc_listen", c->rpc_listen, sizeof(c->rpc_listen), false, o, err, el));
	TRY(get_str(d, "tls_cert", c->tls_cert, sizeof(c->tls_cert), false, o, err, el));
	TRY(get_str(d, "tls_key", c->tls_key, sizeof(c->tls_key), false, o, err, el));
	TRY(get_str(d, "tls_ca", c->tls_ca, sizeof(c->tls_ca), false, o, err, el));
	TRY(get_str(d, "tls_crl", c->tls_crl, sizeof(c->tls_crl), false, o, err, el));
	TRY(get_str(d, "tls_roles", c->tls_roles, sizeof(c->tls_roles), false, o, err, el));
	TRY(get_uint(d, "rpc_max_conns", &c->rpc_max_conns, 1, 4096, o, err, el));
	TRY(get_uint(d, "tls_max_conns", &c->tls_max_conns, 1, 4096, o, err, el));
	TRY(get_uint(d, "tls_handshake_timeout_ms", &c->tls_handshake_timeout_ms, 100, 600000, o, err,
		     el));
	TRY(get_uint(d, "metrics_max_conns", &c->metrics_max_conns, 1, 4096, o, err, el));
	TRY(get_uint(d, "metrics_timeout_ms", &c->metrics_timeout_ms, 100, 600000, o, err, el));
	TRY(get_str(d, "metrics_listen", c->metrics_listen, sizeof(c->metrics_listen), false, o, err, el));
	TRY(get_uint(d, "stats_interval", &c->stats_interval, 0, 86400, o, err, el));
	TRY(get_uint(d, "idle_sleep_us", &c->idle_sleep_us, 0, 100000, o, err, el));
	TRY(get_str(d, "log_level", c->log_level, sizeof(c->log_level), false, o, err, el));
	TRY(get_uint(d, "mac_aging_s", &c->mac_aging_s, 0, RIOV_CFG_MAC_AGING_MAX, o, err, el));
	if (c->mac_aging_s != 0 && c->mac_aging_s < RIOV_CFG_MAC_AGING_MIN)
		return fail(err, el, o, config_setting_get_member(d, "mac_aging_s"), "'%s' must be 0 "
			    "(learned MACs never age) or between 10 and 1000000 seconds", "mac_aging_s");
	return parse_rdma(d, o, c, err, el);
}

static bool name_ok(const char *n)
{
	if (n[0] == '\0')
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') ||
		      *n == '-' || *n == '_' || *n == '.'))
			return false;
	return true;
}

/* ------------------------------------------------------------------ IPv4 addresses */

int riov_ipv4_parse(const char *s, uint32_t *ip)
{
	struct in_addr a;

	/* inet_pton, not inet_aton: no "10.1" shorthands, hexadecimal or octal parts */
	if (s == NULL || strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

int riov_ipv4_cidr_parse(const char *s, uint32_t *ip, unsigned *prefix)
{
	char addr[16];
	const char *slash = s ? strchr(s, '/') : NULL;
	size_t n = slash ? (size_t)(slash - s) : 0;
	unsigned len = 0;

	if (slash == NULL || n == 0 || n >= sizeof(addr) || slash[1] == '\0' || strlen(slash + 1) > 2)
		return -EINVAL;
	for (const char *d = slash + 1; *d; d++) {
		if (*d < '0' || *d > '9')
			return -EINVAL;
		len = len * 10 + (unsigned)(*d - '0');
	}
	if (len < 1 || len > 32 || (slash[1] == '0'))
		return -EINVAL;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (riov_ipv4_parse(addr, ip) != 0)
		return -EINVAL;
	*prefix = len;
	return 0;
}

bool riov_ipv4_unicast(uint32_t ip)
{
	uint32_t h = ntohl(ip);

	return (h >> 24) != 0 && (h >> 24) != 127 && (h >> 28) < 0xe;
}

bool riov_ipv4_gateway_ok(uint32_t ip, unsigned prefix, uint32_t gw)
{
	uint32_t mask = prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
	uint32_t h = ntohl(ip), g = ntohl(gw);

	if (!riov_ipv4_unicast(gw) || gw == ip || prefix < 1 || prefix > 32 || (h & mask) != (g & mask))
		return false;
	/* a /31 (RFC 3021) has no network and broadcast address; a /32 has no gateway at all */
	return prefix > 30 ? prefix == 31 : (g & ~mask) != 0 && (g & ~mask) != ~mask;
}

/* ------------------------------------------------------------------ MAC addresses */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int riov_mac_parse(const char *s, uint8_t mac[6])
{
	uint8_t m[6];

	if (s == NULL || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, m, sizeof(m));
	return 0;
}

void riov_mac_text(const uint8_t mac[6], char out[RIOV_CFG_MAC])
{
	snprintf(out, RIOV_CFG_MAC, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

bool riov_mac_unicast(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return (mac[0] & 1) == 0 && memcmp(mac, zero, sizeof(zero)) != 0;
}

/* ------------------------------------------------------------------ networks */

/* A network's vteps list: IPv4 unicast addresses, each once, appended to c->vteps. */
static int parse_vteps(const config_setting_t *g, const char *net, unsigned ni, const char *o,
		       struct riov_config *c, char *err, size_t el)
{
	const config_setting_t *l = config_setting_get_member(g, "vteps");

	c->net_vtep_first[ni] = c->n_vteps;
	c->net_n_vteps[ni] = 0;
	if (l == NULL)
		return 0;
	if (!config_setting_is_array(l) && !config_setting_is_list(l))
		return fail(err, el, o, l, "'%s' must be a list of IPv4 addresses [\"10.0.0.2\", ...]",
			    "vteps");
	if (c->net_vni[ni] == 0)
		return fail(err, el, o, l, "network '%s' has vteps but no vni: give it a vni", net);
	int n = config_setting_length(l);
	if (c->vteps == NULL && n > 0 &&
	    (c->vteps = calloc(RIOV_CFG_MAX_VTEPS, sizeof(*c->vteps))) == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *v = config_setting_get_elem(l, (unsigned)i);
		const char *s = config_setting_type(v) == CONFIG_TYPE_STRING ? config_setting_get_string(v)
									      : NULL;
		uint32_t ip;
		if (s == NULL)
			return fail(err, el, o, v, "each of '%s' must be a string \"a.b.c.d\"", "vteps");
		if (riov_ipv4_parse(s, &ip) != 0 || !riov_ipv4_unicast(ip)) {
			char m[160];
			snprintf(m, sizeof(m), "VTEP '%.20s' of network '%s' is not a unicast IPv4 "
				 "address a.b.c.d", s, net);
			return fail(err, el, o, v, "%s", m);
		}
		for (unsigned k = c->net_vtep_first[ni]; k < c->n_vteps; k++) {
			uint32_t other;
			if (riov_ipv4_parse(c->vteps[k], &other) == 0 && other == ip)
				return fail(err, el, o, v, "VTEP %s is listed twice", s);
		}
		if (c->n_vteps == RIOV_CFG_MAX_VTEPS)
			return fail(err, el, o, v, "too many %s (at most 1024 over every network)", "vteps");
		snprintf(c->vteps[c->n_vteps++], RIOV_CFG_ADDR, "%s", s);
		c->net_n_vteps[ni]++;
	}
	return 0;
}

/* A network's macs list: "MAC@A.B.C.D" (one of its vteps) or "MAC@PORT" (a local port's name),
 * each address unicast and once, appended to c->macs. */
static int parse_macs(const config_setting_t *g, const char *net, unsigned ni, const char *o,
		      struct riov_config *c, char *err, size_t el)
{
	const config_setting_t *l = config_setting_get_member(g, "macs");
	char m[224];

	c->net_mac_first[ni] = c->n_macs;
	c->net_n_macs[ni] = 0;
	if (l == NULL)
		return 0;
	if (!config_setting_is_array(l) && !config_setting_is_list(l))
		return fail(err, el, o, l, "'%s' must be a list [\"02:00:00:00:00:01@10.0.0.2\", "
			    "\"02:00:00:00:00:02@vm1\", ...] (MAC@VTEP or MAC@PORT)", "macs");
	int n = config_setting_length(l);
	if (c->macs == NULL && n > 0 && (c->macs = calloc(RIOV_CFG_MAX_MACS, sizeof(*c->macs))) == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *v = config_setting_get_elem(l, (unsigned)i);
		const char *s = config_setting_type(v) == CONFIG_TYPE_STRING ? config_setting_get_string(v)
									      : NULL;
		uint8_t mac[6], other[6];
		uint32_t ip;
		if (s == NULL)
			return fail(err, el, o, v, "each of '%s' must be a string \"MAC@VTEP\" or "
				    "\"MAC@PORT\"", "macs");
		const char *at = strchr(s, '@');
		char text[RIOV_CFG_MAC] = "";
		if (at != NULL && (size_t)(at - s) < sizeof(text))
			snprintf(text, sizeof(text), "%.*s", (int)(at - s), s);
		if (at == NULL || riov_mac_parse(text, mac) != 0) {
			snprintf(m, sizeof(m), "static MAC '%.40s' of network '%s' is not MAC@VTEP or "
				 "MAC@PORT (MAC as 02:00:00:00:00:01)", s, net);
			return fail(err, el, o, v, "%s", m);
		}
		if (!riov_mac_unicast(mac)) {
			snprintf(m, sizeof(m), "static MAC %s of network '%s' is %s: only a unicast "
				 "address can be static", text, net, mac[0] & 1 ? "multicast" : "all zeros");
			return fail(err, el, o, v, "%s", m);
		}
		const char *target = at + 1;
		const bool vtep = riov_ipv4_parse(target, &ip) == 0;
		if (vtep) {
			bool known = false;
			const unsigned first = c->net_vtep_first[ni];
			for (unsigned k = first; k < first + c->net_n_vteps[ni]; k++) {
				uint32_t v4;
				known |= riov_ipv4_parse(c->vteps[k], &v4) == 0 && v4 == ip;
			}
			if (!known) {
				snprintf(m, sizeof(m), "static MAC %s of network '%s': VTEP %s is not one of "
					 "its vteps", text, net, target);
				return fail(err, el, o, v, "%s", m);
			}
		} else if (!name_ok(target) || strlen(target) >= RIOV_CFG_NAME) {
			snprintf(m, sizeof(m), "static MAC %s of network '%s': '%.40s' is neither an IPv4 "
				 "address (one of its vteps) nor a port name", text, net, target);
			return fail(err, el, o, v, "%s", m);
		}
		for (unsigned k = c->net_mac_first[ni]; k < c->n_macs; k++) {
			if (riov_mac_parse(c->macs[k].mac, other) == 0 && memcmp(other, mac, 6) == 0) {
				snprintf(m, sizeof(m), "static MAC %s of network '%s' is listed twice", text,
					 net);
				return fail(err, el, o, v, "%s", m);
			}
		}
		if (c->n_macs == RIOV_CFG_MAX_MACS)
			return fail(err, el, o, v, "too many static %s (at most 4096 over every network)",
				    "macs");
		struct riov_cfg_mac *x = &c->macs[c->n_macs++];
		snprintf(x->mac, sizeof(x->mac), "%s", text);
		snprintf(x->target, sizeof(x->target), "%s", target);
		x->vtep = vtep;
		c->net_n_macs[ni]++;
	}
	return 0;
}

static int parse_nets(const config_setting_t *l, const char *o, struct riov_config *c, char *err, size_t el)
{
	static const char *const keys[] = { "name", "mtu", "vni", "vteps", "macs", "evpn", NULL };

	if (!config_setting_is_list(l) && !config_setting_is_array(l))
		return fail(err, el, o, l, "'%s' must be a list ( { name = \"...\"; }, ... )", "networks");
	int n = config_setting_length(l);
	if (n > RIOV_CFG_MAX_NETS)
		return fail(err, el, o, l, "too many %s", "networks");
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		if (!config_setting_is_group(g))
			return fail(err, el, o, g, "each of '%s' must be a group { name = ...; }", "networks");
		TRY(check_keys(g, keys, o, err, el));
		char *name = c->nets[c->n_nets];
		TRY(get_str(g, "name", name, RIOV_CFG_NAME, true, o, err, el));
		if (!name_ok(name))
			return fail(err, el, o, g, "bad network name '%s'", name);
		c->net_mtu[c->n_nets] = 0;
		TRY(get_uint(g, "mtu", &c->net_mtu[c->n_nets], 68, 9000, o, err, el));
		c->net_vni[c->n_nets] = 0;
		TRY(get_uint(g, "vni", &c->net_vni[c->n_nets], 1, 16777215, o, err, el));
		for (unsigned k = 0; k < c->n_nets; k++) {
			if (strcmp(c->nets[k], name) == 0)
				return fail(err, el, o, g, "network '%s' declared twice", name);
			if (c->net_vni[k] != 0 && c->net_vni[k] == c->net_vni[c->n_nets]) {
				char m[96];
				snprintf(m, sizeof(m), "vni %u is network '%s''s already", c->net_vni[k],
					 c->nets[k]);
				return fail(err, el, o, config_setting_get_member(g, "vni"), "%s", m);
			}
		}
		c->net_evpn[c->n_nets] = false;
		TRY(get_bool(g, "evpn", &c->net_evpn[c->n_nets], o, err, el));
		if (c->net_evpn[c->n_nets] && c->net_vni[c->n_nets] == 0)
			return fail(err, el, o, config_setting_get_member(g, "evpn"), "network '%s': evpn needs "
				    "a vni (vni = N;)", name);
		if (c->net_evpn[c->n_nets] && config_setting_get_member(g, "vteps") != NULL)
			return fail(err, el, o, config_setting_get_member(g, "vteps"), "network '%s' is an EVPN "
				    "network: its remote VTEPs come from BGP EVPN (FRR), leave 'vteps' out", name);
		TRY(parse_vteps(g, name, c->n_nets, o, c, err, el));
		TRY(parse_macs(g, name, c->n_nets, o, c, err, el));
		c->n_nets++;
	}
	return 0;
}

/* An uplink port: in no network, with devargs, a name that can be its TAP's (IFNAMSIZ), and its
 * VTEP address (and optional gateway) as the API checks them. */
static int check_uplink(const config_setting_t *g, const struct riov_cfg_port *p, const char *o,
			char *err, size_t el)
{
	uint32_t ip, gw;
	unsigned prefix;

	if (p->net[0] != '\0')
		return fail(err, el, o, g, "uplink port '%s' is in no network: leave 'net' out", p->name);
	if (strlen(p->name) > 15 || strcmp(p->name, ".") == 0 || strcmp(p->name, "..") == 0)
		return fail(err, el, o, g, "uplink port '%s': the name is also its TAP interface's: at "
			    "most 15 characters, not '.' or '..'", p->name);
	if (p->devargs[0] == '\0')
		return fail(err, el, o, g, "uplink port '%s' needs devargs", p->name);
	if (p->assign || p->domain_id)
		return fail(err, el, o, g, "port '%s': assign and domain_id are for eth ports on a PCI "
			    "function", p->name);
	if (p->address[0] == '\0')
		return fail(err, el, o, g, "uplink port '%s' needs an address (its VTEP address, "
			    "\"a.b.c.d/len\")", p->name);
	if (riov_ipv4_cidr_parse(p->address, &ip, &prefix) != 0 || !riov_ipv4_unicast(ip))
		return fail(err, el, o, config_setting_get_member(g, "address"), "'address' must be a "
			    "unicast IPv4 address with a prefix length 1-32, \"a.b.c.d/len\", not '%s'",
			    p->address);
	if (p->gateway[0] != '\0' &&
	    (riov_ipv4_parse(p->gateway, &gw) != 0 || !riov_ipv4_gateway_ok(ip, prefix, gw)))
		return fail(err, el, o, config_setting_get_member(g, "gateway"), "'gateway' must be an "
			    "IPv4 address \"a.b.c.d\" of another host on the address's subnet, not '%s'",
			    p->gateway);
	return 0;
}

/* Port i's name is not one of the ports before it. */
static int check_port_unique(const config_setting_t *g, const struct riov_config *c, int i,
			     const char *o, char *err, size_t el)
{
	for (int k = 0; k < i; k++)
		if (strcmp(c->ports[k].name, c->ports[i].name) == 0)
			return fail(err, el, o, g, "port '%s' declared twice", c->ports[i].name);
	return 0;
}

static int parse_ports(const config_setting_t *l, const char *o, struct riov_config *c, char *err, size_t el)
{
	static const char *const keys[] = { "name",      "type",      "net",       "socket",
					    "devargs",   "client",    "queues",    "mrg_rxbuf",
					    "in_order",  "event_idx", "indirect",  "assign",
					    "domain_id", "mtu",       "offloads",  "address",
					    "gateway",   "packed",    NULL };

	if (!config_setting_is_list(l))
		return fail(err, el, o, l, "'%s' must be a list ( { ... }, ... )", "ports");
	int n = config_setting_length(l);
	if (n > RIOV_CFG_MAX_PORTS)
		return fail(err, el, o, l, "too many %s", "ports");
	c->ports = calloc((size_t)n + 1, sizeof(*c->ports));
	if (c->ports == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		struct riov_cfg_port *p = &c->ports[i];
		if (!config_setting_is_group(g))
			return fail(err, el, o, g, "each of '%s' must be a group { ... }", "ports");
		TRY(check_keys(g, keys, o, err, el));
		p->queues = 1;
		p->mrg_rxbuf = p->in_order = p->event_idx = p->indirect = p->packed = true;
		p->offloads = true;
		TRY(get_str(g, "name", p->name, sizeof(p->name), true, o, err, el));
		if (!name_ok(p->name))
			return fail(err, el, o, g, "bad port name '%s'", p->name);
		TRY(get_str(g, "type", p->type, sizeof(p->type), true, o, err, el));
		TRY(get_str(g, "net", p->net, sizeof(p->net), strcmp(p->type, "uplink") != 0, o, err, el));
		TRY(get_str(g, "socket", p->socket, sizeof(p->socket), false, o, err, el));
		TRY(get_str(g, "devargs", p->devargs, sizeof(p->devargs), false, o, err, el));
		TRY(get_bool(g, "client", &p->client, o, err, el));
		TRY(get_uint(g, "queues", &p->queues, 1, 16, o, err, el));
		TRY(get_bool(g, "mrg_rxbuf", &p->mrg_rxbuf, o, err, el));
		TRY(get_bool(g, "in_order", &p->in_order, o, err, el));
		TRY(get_bool(g, "event_idx", &p->event_idx, o, err, el));
		TRY(get_bool(g, "indirect", &p->indirect, o, err, el));
		TRY(get_bool(g, "packed", &p->packed, o, err, el));
		TRY(get_bool(g, "offloads", &p->offloads, o, err, el));
		TRY(get_bool(g, "assign", &p->assign, o, err, el));
		TRY(get_uint(g, "domain_id", &p->domain_id, 0, 65535, o, err, el));
		TRY(get_uint(g, "mtu", &p->mtu, 68, 9000, o, err, el));
		TRY(get_str(g, "address", p->address, sizeof(p->address), false, o, err, el));
		TRY(get_str(g, "gateway", p->gateway, sizeof(p->gateway), false, o, err, el));
		if (strcmp(p->type, "vhost") == 0) {
			if (p->socket[0] == '\0')
				return fail(err, el, o, g, "vhost port '%s' needs a socket", p->name);
		} else if (strcmp(p->type, "eth") == 0) {
			if (p->devargs[0] == '\0')
				return fail(err, el, o, g, "eth port '%s' needs devargs", p->name);
		} else if (strcmp(p->type, "uplink") == 0) {
			TRY(check_uplink(g, p, o, err, el));
			c->n_ports++;
			TRY(check_port_unique(g, c, i, o, err, el));
			continue;
		} else {
			return fail(err, el, o, g, "port type must be \"vhost\", \"eth\" or \"uplink\", "
				    "not '%s'", p->type);
		}
		if (p->address[0] || p->gateway[0])
			return fail(err, el, o, g, "port '%s': address and gateway are for uplink ports",
				    p->name);
		if ((p->assign || p->domain_id) && strcmp(p->type, "eth") != 0)
			return fail(err, el, o, g, "port '%s': assign and domain_id are for eth ports on a PCI "
				    "function", p->name);
		if (p->domain_id && !p->assign)
			return fail(err, el, o, g, "port '%s': domain_id needs assign = true", p->name);
		bool known = false;
		for (unsigned k = 0; k < c->n_nets; k++)
			known |= strcmp(c->nets[k], p->net) == 0;
		if (!known)
			return fail(err, el, o, g, "port's network '%s' is not declared in 'networks'", p->net);
		c->n_ports++;
		TRY(check_port_unique(g, c, i, o, err, el));
	}
	return 0;
}

static void set_defaults(struct riov_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->workers, sizeof(c->workers), "auto");
	c->control_cpu = -1;
	c->mbufs = 16383;
	c->memory_mb = 512;
	snprintf(c->socket_dir, sizeof(c->socket_dir), "/run/riov");
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/riov");
	snprintf(c->rpc_socket, sizeof(c->rpc_socket), "/run/riov/riovd.sock");
	c->mac_aging_s = 300; /* Linux bridge's ageing_time */
	c->rdma_port = RIOV_RDMA_PORT_DEFAULT;
	c->rdma_msg_size = RIOV_RDMA_MSG_DEFAULT;
	c->rdma_recv_bufs = RIOV_RDMA_RECV_BUFS_DEFAULT;
	c->rdma_send_bufs = RIOV_RDMA_SEND_BUFS_DEFAULT;
}

int riov_config_parse(const char *text, const char *origin, struct riov_config *cfg, char *err, size_t errlen)
{
	static const char *const top[] = { "riovd", "networks", "ports", NULL };
	config_t lc;
	int rc = 0;

	set_defaults(cfg);
	config_init(&lc);
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		snprintf(err, errlen, "%s:%d: %s", origin, config_error_line(&lc), config_error_text(&lc));
		config_destroy(&lc);
		return -EINVAL;
	}
	const config_setting_t *root = config_root_setting(&lc);
	const config_setting_t *s;
	rc = check_keys(root, top, origin, err, errlen);
	if (rc == 0 && (s = config_setting_get_member(root, "riovd")) != NULL)
		rc = parse_daemon(s, origin, cfg, err, errlen);
	if (rc == 0 && (s = config_setting_get_member(root, "networks")) != NULL)
		rc = parse_nets(s, origin, cfg, err, errlen);
	if (rc == 0 && (s = config_setting_get_member(root, "ports")) != NULL)
		rc = parse_ports(s, origin, cfg, err, errlen);
	config_destroy(&lc);
	return rc;
}

int riov_config_load(const char *path, struct riov_config *cfg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	set_defaults(cfg);
	if (f == NULL) {
		int e = errno;
		snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(e));
		return -e;
	}
	/* Bounded read: a configuration file is small; refuse anything over 4 MiB. */
	buf = malloc(4u << 20);
	if (buf != NULL)
		len = fread(buf, 1, (4u << 20) - 1, f);
	bool too_big = buf != NULL && len == (4u << 20) - 1 && fgetc(f) != EOF;
	fclose(f);
	if (buf == NULL)
		return -ENOMEM;
	if (too_big) {
		free(buf);
		snprintf(err, errlen, "config file %s is larger than 4 MiB", path);
		return -EFBIG;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		free(buf);
		snprintf(err, errlen, "config file %s contains a NUL byte", path);
		return -EINVAL;
	}
	int rc = riov_config_parse(buf, path, cfg, err, errlen);
	free(buf);
	return rc;
}

void riov_config_free(struct riov_config *cfg)
{
	free(cfg->ports);
	cfg->ports = NULL;
	cfg->n_ports = 0;
	free(cfg->vteps);
	cfg->vteps = NULL;
	cfg->n_vteps = 0;
	free(cfg->macs);
	cfg->macs = NULL;
	cfg->n_macs = 0;
}
